/*-------------------------------------------------------------------------
 *
 * clv_pattern.c
 *	  Sorting of CLV customer patterns in their canonical (x, tx, T)
 *	  order: the fits sum their terms in this order, and the states of
 *	  clm.clv_state keep their append-mode patterns compacted in it.
 *
 * IDENTIFICATION
 *	  src/clv_pattern.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "clv.h"

/*
 * True when the patterns are in (x, tx, T) order.
 */
bool
clv_patterns_sorted(const ClvPattern *pat, int32 n)
{
	int32		i;

	for (i = 1; i < n; i++)
		if (clv_pattern_cmp(&pat[i - 1], &pat[i]) > 0)
			return false;
	return true;
}

/* the bits of a non-negative double, which order like the values */
static inline uint64
DoubleBits(double v)
{
	uint64		b;

	memcpy(&b, &v, 8);
	return b;
}

/* number of significant bits of v (0 for 0) */
static inline int
BitLength(uint64 v)
{
	return v == 0 ? 0 : 64 - __builtin_clzll(v);
}

typedef struct SortItem
{
	uint64		key;
	int32		idx;
} SortItem;

#define RADIX_BITS 8
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_PASSES 5
#define KEY_BITS (RADIX_PASSES * RADIX_BITS)	/* 40: more rarely pays */

/*
 * One coordinate's part of the sort key: (bits - min) >> tz needs len
 * bits, where tz is the number of trailing zero bits common to all values
 * (integers and other short mantissas take few bits).
 */
typedef struct KeyPart
{
	uint64		min;
	int			tz;
	int			len;
} KeyPart;

static void
KeyPartInit(KeyPart *kp, uint64 min, uint64 max, uint64 orbits)
{
	kp->min = min;
	kp->tz = orbits == 0 ? 0 : __builtin_ctzll(orbits);
	kp->len = BitLength((max - min) >> kp->tz);
}

typedef struct TxItem
{
	uint64		k;				/* bits of tx minus the smallest */
	double		w;
} TxItem;

/*
 * Radix sort of n items by their key < 2^bits, into a (b is scratch of the
 * same size).  NAME##Digits is an LSD radix sort on the key bits
 * [lo, hi): digits of 8 bits, or of 11 for large n (fewer passes pay for
 * the larger histograms); a digit that is the same in every key is
 * skipped.  NAME sorts long keys by their top 22 bits first and then each
 * run of equal top bits (insertion sort for short runs, the low bits'
 * radix sort for long ones): continuous values rarely share 22 leading
 * bits of their range, so this takes 2 passes instead of up to 6.  Up to
 * 256 items are sorted by comparisons (insertion sort up to 32).
 * Defined for plain keys and for keys carrying a weight.
 */
#define RADIX_TOP_BITS 22
#define DEFINE_RADIX_SORT(NAME, TYPE, KEY) \
static void \
NAME##Insertion(TYPE *a, int32 n) \
{ \
	int32		i; \
 \
	for (i = 1; i < n; i++) \
	{ \
		TYPE		t = a[i]; \
		int32		j = i; \
 \
		while (j > 0 && KEY(a[j - 1]) > KEY(t)) \
		{ \
			a[j] = a[j - 1]; \
			j--; \
		} \
		a[j] = t; \
	} \
} \
 \
static int \
NAME##Cmp(const void *p, const void *q) \
{ \
	uint64		x = KEY(*(const TYPE *) p), \
				y = KEY(*(const TYPE *) q); \
 \
	return x < y ? -1 : (x > y); \
} \
 \
static void \
NAME##Digits(TYPE *a, TYPE *b, int32 n, int lo, int hi) \
{ \
	int			db = n > 4096 ? 11 : 8, \
				npass = (hi - lo + db - 1) / db, \
				pass; \
	Size		nd = (Size) 1 << db, \
				mask = nd - 1; \
	Size	   *hist; \
	TYPE	   *src = a, \
			   *dst = b; \
	int32		i; \
 \
	if (npass <= 0) \
		return; \
	hist = palloc0(npass * nd * sizeof(Size)); \
	for (i = 0; i < n; i++) \
		for (pass = 0; pass < npass; pass++) \
			hist[pass * nd + ((KEY(a[i]) >> (lo + db * pass)) & mask)]++; \
	for (pass = 0; pass < npass; pass++) \
	{ \
		Size	   *h = &hist[pass * nd]; \
		Size		sum = 0, \
					d; \
		int			sh = lo + db * pass; \
		TYPE	   *t; \
 \
		if (h[(KEY(src[0]) >> sh) & mask] == (Size) n) \
			continue; \
		for (d = 0; d < nd; d++) \
		{ \
			Size		cnt = h[d]; \
 \
			h[d] = sum; \
			sum += cnt; \
		} \
		for (i = 0; i < n; i++) \
			dst[h[(KEY(src[i]) >> sh) & mask]++] = src[i]; \
		t = src; \
		src = dst; \
		dst = t; \
	} \
	if (src != a) \
		memcpy(a, src, n * sizeof(TYPE)); \
	pfree(hist); \
} \
 \
static void \
NAME(TYPE *a, TYPE *b, int32 n, int bits) \
{ \
	int			lo = bits - RADIX_TOP_BITS; \
	int32		start, \
				i; \
 \
	if (n <= 32) \
	{ \
		NAME##Insertion(a, n); \
		return; \
	} \
	if (n <= 256) \
	{ \
		/* a comparison sort beats the digit histograms at this size */ \
		qsort(a, n, sizeof(TYPE), NAME##Cmp); \
		return; \
	} \
	if (lo <= 8 || n <= 1024) \
	{ \
		NAME##Digits(a, b, n, 0, bits); \
		return; \
	} \
	NAME##Digits(a, b, n, lo, bits); \
	for (start = 0, i = 1; i <= n; i++) \
		if (i == n || (KEY(a[i]) >> lo) != (KEY(a[start]) >> lo)) \
		{ \
			if (i - start > 32) \
				NAME##Digits(&a[start], b, i - start, 0, lo); \
			else if (i - start > 1) \
				NAME##Insertion(&a[start], i - start); \
			start = i; \
		} \
}

#define ITEM_KEY(it) ((it).k)
#define PLAIN_KEY(k) (k)
DEFINE_RADIX_SORT(RadixTxItems, TxItem, ITEM_KEY)
DEFINE_RADIX_SORT(RadixKeys, uint64, PLAIN_KEY)

/*
 * clv_sort_patterns when all T are equal (Gamma-Gamma) and x takes few
 * bits of key: a counting sort by x, then per x a radix sort of the exact
 * bits of tx (carrying the weights unless they are all equal), written
 * back in place.  No ties.
 */
static void
SortByXThenTx(ClvPattern *pat, int32 n, const KeyPart *kx, uint64 txmin)
{
	int32		nb = 1 << kx->len,
				i,
				b;
	int32	   *start = palloc0((nb + 1) * sizeof(int32));
	int32	   *pos = palloc(nb * sizeof(int32));
	double	   *xs = palloc(nb * sizeof(double));
	double		T = pat[0].T,
				w0 = pat[0].w;
	bool		same_w = true;
	TxItem	   *a = NULL,
			   *scratch = NULL;
	uint64	   *ka = NULL,
			   *kscratch = NULL;

	for (i = 0; i < n; i++)
	{
		start[((DoubleBits(pat[i].x) - kx->min) >> kx->tz) + 1]++;
		same_w &= (pat[i].w == w0);
	}
	for (b = 0; b < nb; b++)
		start[b + 1] += start[b];
	memcpy(pos, start, nb * sizeof(int32));
	if (same_w)
	{
		ka = palloc(n * sizeof(uint64));
		kscratch = palloc(n * sizeof(uint64));
	}
	else
	{
		a = palloc(n * sizeof(TxItem));
		scratch = palloc(n * sizeof(TxItem));
	}
	for (i = 0; i < n; i++)
	{
		int32		bk = (int32) ((DoubleBits(pat[i].x) - kx->min) >> kx->tz);
		int32		j = pos[bk]++;
		uint64		k = DoubleBits(pat[i].tx) - txmin;

		if (same_w)
			ka[j] = k;
		else
		{
			a[j].k = k;
			a[j].w = pat[i].w;
		}
		xs[bk] = pat[i].x;
	}
	for (b = 0; b < nb; b++)
	{
		int32		s0 = start[b],
					cnt = start[b + 1] - s0;
		uint64		kmax = 0;

		if (cnt == 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		for (i = s0; i < s0 + cnt; i++)
			kmax = Max(kmax, same_w ? ka[i] : a[i].k);
		if (same_w)
			RadixKeys(&ka[s0], kscratch, cnt, BitLength(kmax));
		else
			RadixTxItems(&a[s0], scratch, cnt, BitLength(kmax));
		for (i = s0; i < s0 + cnt; i++)
		{
			uint64		bits = (same_w ? ka[i] : a[i].k) + txmin;

			pat[i].x = xs[b];
			memcpy(&pat[i].tx, &bits, 8);
			pat[i].T = T;
			pat[i].w = same_w ? w0 : a[i].w;
		}
	}
	pfree(start);
	pfree(pos);
	pfree(xs);
	if (same_w)
	{
		pfree(ka);
		pfree(kscratch);
	}
	else
	{
		pfree(a);
		pfree(scratch);
	}
}

/*
 * Sort patterns in (x, tx, T) order (the canonical order of the fits: a
 * fit sums its terms in this order, so results do not depend on the order
 * of the input rows).
 *
 * When all T are equal and x takes at most 16 bits of key (Gamma-Gamma):
 * SortByXThenTx, exact.  Otherwise an LSD radix sort (8-bit digits,
 * digits equal in all keys skipped) of KEY_BITS-bit keys that are a
 * monotone image of (x, tx, T): the non-negative doubles' bits relative to
 * their minimum, without the trailing zero bits all of them share,
 * concatenated while they fit (x, then tx, then T).  When a coordinate
 * does not fit, the key keeps its leading bits only and runs of equal keys
 * are finished with a comparison sort.  Patterns with a negative or
 * non-finite value (never stored by the aggregates) are sorted by qsort.
 */
void
clv_sort_patterns(ClvPattern *pat, int32 n)
{
	uint64		mn[3] = {PG_UINT64_MAX, PG_UINT64_MAX, PG_UINT64_MAX},
				mx[3] = {0, 0, 0},
				orb[3] = {0, 0, 0},
				k0[3];
	KeyPart		kp[3];
	int			shift[3],
				used = 0,
				c,
				pass;
	bool		exact = true;
	SortItem   *a,
			   *b;
	ClvPattern *tmp;
	Size	   *hist;
	int32		i;

	if (n < 2 || clv_patterns_sorted(pat, n))
		return;
	k0[0] = DoubleBits(pat[0].x);
	k0[1] = DoubleBits(pat[0].tx);
	k0[2] = DoubleBits(pat[0].T);
	for (i = 0; i < n; i++)
	{
		uint64		k[3];

		k[0] = DoubleBits(pat[i].x);
		k[1] = DoubleBits(pat[i].tx);
		k[2] = DoubleBits(pat[i].T);
		for (c = 0; c < 3; c++)
		{
			mn[c] = Min(mn[c], k[c]);
			mx[c] = Max(mx[c], k[c]);
			/* (bits - min) share the trailing zeros of (bits ^ first) */
			orb[c] |= k[c] ^ k0[c];
		}
	}
	/* sign bit or exponent all ones: not a finite non-negative double */
	for (c = 0; c < 3; c++)
		if (mx[c] >= UINT64CONST(0x7FF0000000000000))
		{
			qsort(pat, n, sizeof(ClvPattern), clv_pattern_cmp);
			return;
		}
	/* place the parts: shift[c] >= 0 left shift, or -1 = not in the key */
	for (c = 0; c < 3; c++)
	{
		KeyPartInit(&kp[c], mn[c], mx[c], orb[c]);
		shift[c] = -1;
	}
	if (kp[2].len == 0 && kp[0].len <= 16)
	{
		SortByXThenTx(pat, n, &kp[0], mn[1]);
		return;
	}
	for (c = 0; c < 3 && exact; c++)
	{
		if (used + kp[c].len <= KEY_BITS)
			used += kp[c].len;
		else
		{
			/* keep the leading bits that fit; the rest is left to ties */
			kp[c].tz += kp[c].len - (KEY_BITS - used);
			kp[c].len = KEY_BITS - used;
			used = KEY_BITS;
			exact = false;
		}
		shift[c] = KEY_BITS - used;
	}

	a = palloc(n * sizeof(SortItem));
	b = palloc(n * sizeof(SortItem));
	hist = palloc0(RADIX_PASSES * RADIX_SIZE * sizeof(Size));
	for (i = 0; i < n; i++)
	{
		uint64		key = 0;
		double		v[3];

		v[0] = pat[i].x;
		v[1] = pat[i].tx;
		v[2] = pat[i].T;
		for (c = 0; c < 3; c++)
			if (shift[c] >= 0 && kp[c].len > 0)
			{
				uint64		part = (DoubleBits(v[c]) - kp[c].min) >> kp[c].tz;

				key |= part << shift[c];
			}
		a[i].key = key;
		a[i].idx = i;
		for (pass = 0; pass < RADIX_PASSES; pass++)
			hist[pass * RADIX_SIZE + ((key >> (pass * RADIX_BITS)) & (RADIX_SIZE - 1))]++;
	}
	for (pass = 0; pass < RADIX_PASSES; pass++)
	{
		Size	   *h = &hist[pass * RADIX_SIZE];
		Size		sum = 0;
		int			d;
		SortItem   *t;

		/* a digit that is the same in every key does not reorder anything */
		if (h[(a[0].key >> (pass * RADIX_BITS)) & (RADIX_SIZE - 1)] == (Size) n)
			continue;
		for (d = 0; d < RADIX_SIZE; d++)
		{
			Size		cnt = h[d];

			h[d] = sum;
			sum += cnt;
		}
		for (i = 0; i < n; i++)
			b[h[(a[i].key >> (pass * RADIX_BITS)) & (RADIX_SIZE - 1)]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	tmp = palloc(n * sizeof(ClvPattern));
	for (i = 0; i < n; i++)
		tmp[i] = pat[a[i].idx];
	memcpy(pat, tmp, n * sizeof(ClvPattern));
	if (!exact)
	{
		int32		start = 0;

		/* finish runs of equal keys with the full comparison */
		for (i = 1; i <= n; i++)
			if (i == n || a[i].key != a[start].key)
			{
				if (i - start > 1)
					qsort(&pat[start], i - start, sizeof(ClvPattern), clv_pattern_cmp);
				start = i;
			}
	}
	pfree(tmp);
	pfree(hist);
	pfree(a);
	pfree(b);
}
