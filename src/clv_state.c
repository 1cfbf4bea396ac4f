/*-------------------------------------------------------------------------
 *
 * clv_state.c
 *	  clm.clv_state: the transition state of the CLV model fits
 *	  (clm.bgnbd_fit, clm.mbgnbd_fit, clm.pareto_nbd_fit, clm.bgbb_fit,
 *	  clm.gamma_gamma_fit).
 *
 * The state collapses customers with identical (frequency, recency, T)
 * (or (frequency, monetary)) into one pattern with a total weight, so the
 * fit's cost grows with the number of distinct patterns, not customers.
 *
 * It is a real varlena type (in/out/send/recv) so that partial aggregation
 * works in parallel workers and in Citus.  Inside an aggregate a state of
 * up to CLV_SMALL_MAX patterns stays a flat value in the aggregate context,
 * updated in place (see "Small states": GROUP BY over many segments must
 * not create one memory context per group).  A larger state is a
 * read/write expanded object in a child of the aggregate context with
 * an open-addressing hash of its patterns: the transition function updates
 * it in place (nodeAgg neither copies nor flattens it between rows), and
 * it is flattened only when it leaves the node (parallel workers, output).
 * Gamma-Gamma states append instead of hashing (continuous monetary values
 * rarely repeat) and are compacted by a radix sort (clv_sort_patterns).
 *
 * Flat layout: ClvFlat header followed by npat ClvPattern entries.
 *
 * IDENTIFICATION
 *	  src/clv_state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "clm.h"
#include "clv.h"

#define CLV_STATE_VERSION 1

/*
 * Most input rows a state may count: the text form parses the count as a
 * double, exact up to 2^53, and accepts at most this.
 */
#define CLV_MAX_ROWS INT64CONST(9000000000000000)

typedef struct ClvFlat
{
	int32		vl_len_;
	int32		version;
	int32		kind;
	int32		npat;
	int64		rows;
	double		penalizer;
	ClvPattern	pat[FLEXIBLE_ARRAY_MEMBER];
} ClvFlat;

#define CLV_FLAT_SIZE(n) (offsetof(ClvFlat, pat) + (Size) (n) * sizeof(ClvPattern))

typedef struct ClvExpanded
{
	ExpandedObjectHeader hdr;
	ClvKind		kind;
	double		penalizer;
	int64		rows;
	int32		npat;
	int32		cap;
	ClvPattern *pat;
	int32	   *slots;			/* pattern index + 1, 0 = empty; NULL: append */
	int32		nslots;			/* power of two */
	int32		ncanon;			/* pat[0..ncanon) is sorted without duplicates */
} ClvExpanded;

/*
 * Gamma-Gamma states hold continuous monetary values that almost never
 * repeat, so a hash probe per row is a cache miss that collapses nothing:
 * they append rows instead and are compacted (sorted, duplicates merged)
 * when they are read, flattened, or, above this many patterns, full.
 */
#define CLV_APPEND_COMPACT_ABOVE (1 << 20)

static Size ClvGetFlatSize(ExpandedObjectHeader *eohptr);
static void ClvFlattenInto(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods ClvMethods = {
	ClvGetFlatSize,
	ClvFlattenInto
};

static const char *const KindNames[CLV_NKINDS + 1] = {
	"?", "bgnbd", "mbgnbd", "pareto_nbd", "bgbb", "gamma_gamma"
};

PG_FUNCTION_INFO_V1(clm_clv_state_in);
PG_FUNCTION_INFO_V1(clm_clv_state_out);
PG_FUNCTION_INFO_V1(clm_clv_state_recv);
PG_FUNCTION_INFO_V1(clm_clv_state_send);
PG_FUNCTION_INFO_V1(clm_bgnbd_accum);
PG_FUNCTION_INFO_V1(clm_mbgnbd_accum);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_accum);
PG_FUNCTION_INFO_V1(clm_bgbb_accum);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_accum);
PG_FUNCTION_INFO_V1(clm_clv_combine);
PG_FUNCTION_INFO_V1(clm_bgnbd_final);
PG_FUNCTION_INFO_V1(clm_mbgnbd_final);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_final);
PG_FUNCTION_INFO_V1(clm_bgbb_final);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_final);

/*
 * Name of a model kind (as in the aggregate names, without _fit).
 */
const char *
clv_kind_name(ClvKind kind)
{
	if (kind < 1 || kind > CLV_NKINDS)
		return "?";
	return KindNames[kind];
}

/*
 * Hash of a pattern's key (the bit patterns of the three doubles; -0.0 is
 * normalised by the callers, which only store non-negative values).
 */
static inline uint32
PatternHash(double x, double tx, double T)
{
	uint64		k[3];
	uint64		h = UINT64CONST(0x9E3779B97F4A7C15);
	int			i;

	memcpy(&k[0], &x, 8);
	memcpy(&k[1], &tx, 8);
	memcpy(&k[2], &T, 8);
	for (i = 0; i < 3; i++)
	{
		h ^= k[i] + UINT64CONST(0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
		h *= UINT64CONST(0xff51afd7ed558ccd);
		h ^= h >> 33;
	}
	return (uint32) h;
}

/*
 * Order patterns by (x, tx, T).
 */
static int
PatternCmp(const void *a, const void *b)
{
	const ClvPattern *p = a,
			   *q = b;

	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	if (p->tx != q->tx)
		return p->tx < q->tx ? -1 : 1;
	if (p->T != q->T)
		return p->T < q->T ? -1 : 1;
	return 0;
}

/*
 * True when the patterns are in (x, tx, T) order.
 */
bool
clv_patterns_sorted(const ClvPattern *pat, int32 n)
{
	int32		i;

	for (i = 1; i < n; i++)
		if (PatternCmp(&pat[i - 1], &pat[i]) > 0)
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
			qsort(pat, n, sizeof(ClvPattern), PatternCmp);
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
					qsort(&pat[start], i - start, sizeof(ClvPattern), PatternCmp);
				start = i;
			}
	}
	pfree(tmp);
	pfree(hist);
	pfree(a);
	pfree(b);
}

/*
 * Add weight w to a pattern's total weight *acc, which must stay finite:
 * an infinite total could not be fitted, nor read back from its text form.
 */
static inline void
AddWeight(double *acc, double w)
{
	*acc += w;
	if (unlikely(isinf(*acc)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("total weight of a customer pattern is out of range"),
				 errhint("Scale the weights down (only their ratios matter to the fitted parameters).")));
}

/*
 * Sort an append-mode state's patterns and merge the duplicates.
 */
static void
ClvCompact(ClvExpanded *e)
{
	MemoryContext old;
	int32		i,
				k;

	if (e->ncanon == e->npat)
		return;
	old = MemoryContextSwitchTo(e->hdr.eoh_context);
	clv_sort_patterns(e->pat, e->npat);
	MemoryContextSwitchTo(old);
	/* up to the first duplicate nothing moves */
	for (i = 1; i < e->npat; i++)
		if (e->pat[i].x == e->pat[i - 1].x && e->pat[i].tx == e->pat[i - 1].tx &&
			e->pat[i].T == e->pat[i - 1].T)
			break;
	for (k = i - 1; i < e->npat; i++)
	{
		if (e->pat[i].x == e->pat[k].x && e->pat[i].tx == e->pat[k].tx &&
			e->pat[i].T == e->pat[k].T)
			AddWeight(&e->pat[k].w, e->pat[i].w);
		else
			e->pat[++k] = e->pat[i];
	}
	e->npat = e->npat > 0 ? k + 1 : 0;
	e->ncanon = e->npat;
}

/*
 * A new empty expanded state in a child context of parent.
 */
static ClvExpanded *
ClvNew(MemoryContext parent, ClvKind kind, double penalizer, int32 cap)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "clm clv_state",
											  ALLOCSET_SMALL_SIZES);
	ClvExpanded *e = MemoryContextAllocZero(cxt, sizeof(ClvExpanded));

	EOH_init_header(&e->hdr, &ClvMethods, cxt);
	e->kind = kind;
	e->penalizer = penalizer;
	if (cap < 16)
		cap = 16;
	e->cap = cap;
	e->pat = MemoryContextAlloc(cxt, cap * sizeof(ClvPattern));
	if (kind == CLV_GG)
		return e;				/* append mode, no hash */
	e->nslots = 32;
	while (e->nslots < 2 * cap)
		e->nslots *= 2;
	e->slots = MemoryContextAllocZero(cxt, e->nslots * sizeof(int32));
	return e;
}

/*
 * Double the hash table and rebuild it.
 */
static void
ClvRehash(ClvExpanded *e)
{
	int32		ns = e->nslots * 2;
	int32	   *slots;
	int32		i;

	if ((Size) ns * sizeof(int32) > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct customer patterns in a model fit")));
	slots = MemoryContextAllocZero(e->hdr.eoh_context, ns * sizeof(int32));
	for (i = 0; i < e->npat; i++)
	{
		uint32		h = PatternHash(e->pat[i].x, e->pat[i].tx, e->pat[i].T) & (ns - 1);

		while (slots[h] != 0)
			h = (h + 1) & (ns - 1);
		slots[h] = i + 1;
	}
	pfree(e->slots);
	e->slots = slots;
	e->nslots = ns;
}

/*
 * Double the pattern array of an expanded state.
 */
static void
ClvGrow(ClvExpanded *e)
{
	int32		ncap = e->cap * 2;

	if ((Size) ncap * sizeof(ClvPattern) > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct customer patterns in a model fit")));
	e->pat = repalloc(e->pat, ncap * sizeof(ClvPattern));
	e->cap = ncap;
}

/*
 * Add weight w to pattern (x, tx, T), creating it if new.
 */
static void
ClvAdd(ClvExpanded *e, double x, double tx, double T, double w)
{
	uint32		h;
	int32		idx;
	ClvPattern *p;

	if (e->slots == NULL)
	{
		/* append mode */
		if (e->npat >= e->cap)
		{
			if (e->npat >= CLV_APPEND_COMPACT_ABOVE)
				ClvCompact(e);
			if (e->npat > e->cap / 2)
				ClvGrow(e);
		}
		p = &e->pat[e->npat++];
		p->x = x;
		p->tx = tx;
		p->T = T;
		p->w = w;
		return;
	}
	h = PatternHash(x, tx, T) & (e->nslots - 1);
	while ((idx = e->slots[h]) != 0)
	{
		p = &e->pat[idx - 1];
		if (p->x == x && p->tx == tx && p->T == T)
		{
			AddWeight(&p->w, w);
			return;
		}
		h = (h + 1) & (e->nslots - 1);
	}
	if (e->npat >= e->cap)
		ClvGrow(e);
	p = &e->pat[e->npat];
	p->x = x;
	p->tx = tx;
	p->T = T;
	p->w = w;
	e->slots[h] = ++e->npat;
	if (e->npat * 2 > e->nslots)
		ClvRehash(e);
}

/*
 * Expanded-object method: size of the flat form.
 */
static Size
ClvGetFlatSize(ExpandedObjectHeader *eohptr)
{
	ClvExpanded *e = (ClvExpanded *) eohptr;

	if (e->slots == NULL)
		ClvCompact(e);			/* same value, canonical form */
	return CLV_FLAT_SIZE(e->npat);
}

/*
 * Expanded-object method: write the flat form (header + patterns).
 */
static void
ClvFlattenInto(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ClvExpanded *e = (ClvExpanded *) eohptr;
	ClvFlat    *f = (ClvFlat *) result;

	Assert(allocated_size == CLV_FLAT_SIZE(e->npat));
	memset(f, 0, offsetof(ClvFlat, pat));
	SET_VARSIZE(f, allocated_size);
	f->version = CLV_STATE_VERSION;
	f->kind = e->kind;
	f->npat = e->npat;
	f->rows = e->rows;
	f->penalizer = e->penalizer;
	memcpy(f->pat, e->pat, e->npat * sizeof(ClvPattern));
}

/*
 * Check a flat state read from outside (corrupt values raise errors).
 */
static void
CheckFlat(const ClvFlat *f, Size len)
{
	if (len < offsetof(ClvFlat, pat) || f->version != CLV_STATE_VERSION ||
		f->kind < 1 || f->kind > CLV_NKINDS || f->npat < 0 ||
		len != CLV_FLAT_SIZE(f->npat) || f->rows < 0 ||
		!isfinite(f->penalizer) || f->penalizer < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid clm.clv_state value")));
}

/*
 * Read any state datum into data (expanded: pointers into the object;
 * flat: pointers into the detoasted copy).
 */
void
clv_state_data(Datum d, ClvData *out)
{
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ClvExpanded *e = (ClvExpanded *) DatumGetEOHP(d);

		if (e->hdr.eoh_methods != &ClvMethods)
			elog(ERROR, "clm: unexpected expanded object");
		if (e->slots == NULL)
			ClvCompact(e);		/* same value, canonical form */
		out->kind = e->kind;
		out->penalizer = e->penalizer;
		out->rows = e->rows;
		out->npat = e->npat;
		out->pat = e->pat;
		out->sorted = (e->slots == NULL);
	}
	else
	{
		ClvFlat    *f = (ClvFlat *) PG_DETOAST_DATUM(d);

		CheckFlat(f, VARSIZE(f));
		out->kind = (ClvKind) f->kind;
		out->penalizer = f->penalizer;
		out->rows = f->rows;
		out->npat = f->npat;
		out->pat = f->pat;
		out->sorted = false;
	}
}

/*
 * A new expanded state holding a copy of data's patterns.
 */
static ClvExpanded *
ClvFromData(MemoryContext parent, const ClvData *data)
{
	ClvExpanded *e = ClvNew(parent, data->kind, data->penalizer, data->npat);
	int32		i;

	e->rows = data->rows;
	for (i = 0; i < data->npat; i++)
		ClvAdd(e, data->pat[i].x, data->pat[i].tx, data->pat[i].T, data->pat[i].w);
	return e;
}

/*
 * The R/W expanded state of an aggregate's argument 0, if it is ours.
 */
static ClvExpanded *
ClvOwnRW(Datum d)
{
	ClvExpanded *e;

	if (!VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
		return NULL;
	e = (ClvExpanded *) DatumGetEOHP(d);
	if (e->hdr.eoh_methods != &ClvMethods)
		return NULL;
	return e;
}

/* ---------------------------------------------------------------------
 * Small states
 * ---------------------------------------------------------------------
 *
 * An expanded object needs a memory context of its own, and PostgreSQL's
 * hash aggregation sums up the memory of every context under the
 * aggregate context each time it creates a group (hash_agg_check_limits):
 * with one context per group, fitting one model per segment over many
 * segments took time quadratic in the number of segments.  So a state
 * starts as a plain flat value (the type's own format, exactly sized),
 * allocated by nodeAgg in the aggregate context: a row of a known pattern
 * adds its weight in place, a new pattern makes a copy one pattern longer
 * in the per-call context (which nodeAgg copies into the aggregate context,
 * freeing the old value).  Past CLV_SMALL_MAX patterns the state becomes an
 * expanded object.  Small Gamma-Gamma states are kept sorted without
 * duplicates (the form a compacted append-mode state has), the others in
 * order of first appearance (the order of the hashed state), so a small
 * and an expanded state of the same rows have the same flat form.
 */
#define CLV_SMALL_MAX 64

/*
 * A new empty small state.
 */
static ClvFlat *
ClvSmallNew(ClvKind kind, double penalizer)
{
	ClvFlat    *f = palloc0(CLV_FLAT_SIZE(0));

	SET_VARSIZE(f, CLV_FLAT_SIZE(0));
	f->version = CLV_STATE_VERSION;
	f->kind = kind;
	f->penalizer = penalizer;
	return f;
}

/*
 * The small flat state of an aggregate's argument, or NULL if it is an
 * expanded object or not a plain (untoasted, 4-byte header) value of at
 * most CLV_SMALL_MAX patterns, which must go the expanded way.
 */
static ClvFlat *
ClvSmallArg(FunctionCallInfo fcinfo, int argno)
{
	Pointer		ptr = DatumGetPointer(PG_GETARG_DATUM(argno));
	ClvFlat    *f;

	if (VARATT_IS_EXTENDED(ptr))
		return NULL;
	f = (ClvFlat *) ptr;
	CheckFlat(f, VARSIZE(f));
	if (f->npat > CLV_SMALL_MAX)
		return NULL;
	return f;
}

/*
 * Add weight w to pattern (x, tx, T) of the small state *fp: in place when
 * the pattern is there, else into a copy one pattern longer, allocated in
 * the current memory context, that replaces *fp.  Returns false, changing
 * nothing, when the pattern is new and the state is full.
 */
static bool
ClvSmallAdd(ClvFlat **fp, double x, double tx, double T, double w)
{
	ClvFlat    *f = *fp;
	ClvFlat    *nf;
	ClvPattern	key;
	int32		pos;

	key.x = x;
	key.tx = tx;
	key.T = T;
	key.w = w;
	if (f->kind == CLV_GG)
	{
		int32		lo = 0,
					hi = f->npat;

		while (lo < hi)
		{
			int32		mid = lo + (hi - lo) / 2;

			if (PatternCmp(&f->pat[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = lo;
		if (pos < f->npat && PatternCmp(&f->pat[pos], &key) == 0)
		{
			AddWeight(&f->pat[pos].w, w);
			return true;
		}
	}
	else
	{
		for (pos = 0; pos < f->npat; pos++)
			if (f->pat[pos].x == x && f->pat[pos].tx == tx && f->pat[pos].T == T)
			{
				AddWeight(&f->pat[pos].w, w);
				return true;
			}
	}
	if (f->npat >= CLV_SMALL_MAX)
		return false;
	nf = palloc(CLV_FLAT_SIZE(f->npat + 1));
	memcpy(nf, f, CLV_FLAT_SIZE(pos));
	nf->pat[pos] = key;
	memcpy(&nf->pat[pos + 1], &f->pat[pos], (f->npat - pos) * sizeof(ClvPattern));
	nf->npat = f->npat + 1;
	SET_VARSIZE(nf, CLV_FLAT_SIZE(nf->npat));
	*fp = nf;
	return true;
}

/*
 * A new expanded state holding a copy of small state f.
 */
static ClvExpanded *
ClvFromSmall(MemoryContext parent, ClvFlat *f)
{
	ClvData		d;

	clv_state_data(PointerGetDatum(f), &d);
	return ClvFromData(parent, &d);
}

/*
 * Reject the mixing of different models or penalizers in one state.
 */
static void
CheckCompatible(ClvKind k1, double p1, ClvKind k2, double p2)
{
	if (k1 != k2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a %s fit state with a %s fit state",
						clv_kind_name(k1), clv_kind_name(k2))));
	if (p1 != p2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("penalizer must be the same for all rows of a fit"),
				 errdetail("Got %g and %g.", p1, p2)));
}

/*
 * Error unless v is finite and not negative.
 */
static inline void
CheckNonNegative(double v, const char *what)
{
	clm_check_finite(v, what);
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what),
				 errdetail("Got %g.", v)));
}

/*
 * Error unless v is a whole number.
 */
static inline void
CheckInteger(double v, const char *what)
{
	if (v != floor(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a whole number", what),
				 errdetail("Got %g.", v)));
}

/*
 * Validate one customer's summary for a model (also used by scoring).
 */
void
clv_check_summary(ClvKind kind, double x, double tx, double T)
{
	if (kind == CLV_GG)
	{
		clm_check_finite(x, "frequency");
		clm_check_finite(tx, "monetary");
		CheckInteger(x, "frequency");
		if (x <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("frequency must be positive for the Gamma-Gamma model"),
					 errdetail("Got %g.", x),
					 errhint("Fit the spend model on repeat customers only (WHERE frequency > 0).")));
		if (!(tx > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("monetary must be positive for the Gamma-Gamma model"),
					 errdetail("Got %g.", tx),
					 errhint("Filter out customers without positive mean repeat spend (WHERE monetary > 0).")));
		return;
	}
	CheckNonNegative(x, "frequency");
	CheckNonNegative(tx, "recency");
	CheckNonNegative(T, kind == CLV_BGBB ? "n_periods" : "t");
	CheckInteger(x, "frequency");
	if (tx > T)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must not exceed %s", kind == CLV_BGBB ? "n_periods" : "t"),
				 errdetail("Got recency %g and %s %g.", tx,
						   kind == CLV_BGBB ? "n_periods" : "t", T)));
	if (x == 0 && tx != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must be 0 when frequency is 0"),
				 errdetail("Got recency %g.", tx)));
	if (kind == CLV_BGBB)
	{
		CheckInteger(tx, "recency");
		CheckInteger(T, "n_periods");
		if (T > CLV_BGBB_MAX_PERIODS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("n_periods must not exceed %d for the BG/BB model",
							CLV_BGBB_MAX_PERIODS),
					 errdetail("Got %g.", T)));
		if (x > tx)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("frequency must not exceed recency in the BG/BB model"),
					 errdetail("Got frequency %g and recency %g (recency is the period of the last transaction).", x, tx)));
	}
	else if (x > 0 && tx == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must be positive when frequency is positive"),
				 errdetail("Got frequency %g.", x)));
}

/*
 * Shared transition: (state, x, tx, T [, weight [, penalizer]]) or for
 * Gamma-Gamma (state, x, m [, weight [, penalizer]]).  Rows with a NULL
 * value are skipped; weight 0 rows count nothing.
 */
static Datum
ClvAccum(FunctionCallInfo fcinfo, ClvKind kind)
{
	MemoryContext aggcxt;
	ClvExpanded *e = NULL;
	ClvFlat    *f = NULL;
	int			nkey = (kind == CLV_GG) ? 2 : 3;
	int			nargs = PG_NARGS();
	double		x,
				tx,
				T = 0,
				w = 1.0,
				pen = 0.0;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm %s_fit transition called in non-aggregate context",
			 clv_kind_name(kind));

	if (nargs > nkey + 2)
	{
		if (PG_ARGISNULL(nkey + 2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("penalizer must not be NULL")));
		pen = PG_GETARG_FLOAT8(nkey + 2);
		clm_check_finite(pen, "penalizer");
		if (pen < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("penalizer must not be negative"),
					 errdetail("Got %g.", pen)));
	}

	if (!PG_ARGISNULL(0) && (f = ClvSmallArg(fcinfo, 0)) == NULL)
	{
		e = ClvOwnRW(PG_GETARG_DATUM(0));
		if (e == NULL)
		{
			ClvData		d;

			clv_state_data(PG_GETARG_DATUM(0), &d);
			e = ClvFromData(aggcxt, &d);
		}
	}

	for (i = 1; i <= nkey && i < nargs; i++)
		if (PG_ARGISNULL(i))
			goto skip;
	if (nargs > nkey + 1 && PG_ARGISNULL(nkey + 1))
		goto skip;

	x = PG_GETARG_FLOAT8(1);
	tx = PG_GETARG_FLOAT8(2);
	if (kind != CLV_GG)
		T = PG_GETARG_FLOAT8(3);
	if (nargs > nkey + 1)
	{
		w = PG_GETARG_FLOAT8(nkey + 1);
		CheckNonNegative(w, "weight");
	}
	clv_check_summary(kind, x, tx, T);
	x += 0.0;					/* + 0.0: no -0.0 keys */
	tx += 0.0;
	T += 0.0;

	if (e == NULL)
	{
		/* a small state (see "Small states"), in place while it fits */
		if (f == NULL)
			f = ClvSmallNew(kind, pen);
		else if (f->kind != (int32) kind || f->penalizer != pen)
			CheckCompatible((ClvKind) f->kind, f->penalizer, kind, pen);
		if (w <= 0 || ClvSmallAdd(&f, x, tx, T, w))
		{
			f->rows++;
			PG_RETURN_POINTER(f);
		}
		e = ClvFromSmall(aggcxt, f);
	}
	else if (e->kind != kind || e->penalizer != pen)
		CheckCompatible(e->kind, e->penalizer, kind, pen);
	e->rows++;
	if (w > 0)
	{
		if (e->slots == NULL && e->npat < e->cap)
		{
			/* the append mode's common case, inline */
			ClvPattern *p = &e->pat[e->npat++];

			p->x = x;
			p->tx = tx;
			p->T = T;
			p->w = w;
		}
		else
			ClvAdd(e, x, tx, T, w);
	}
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));

skip:
	if (f != NULL)
		PG_RETURN_POINTER(f);
	if (e == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * Transition function of clm.bgnbd_fit.
 */
Datum
clm_bgnbd_accum(PG_FUNCTION_ARGS)
{
	return ClvAccum(fcinfo, CLV_BGNBD);
}

/*
 * Transition function of clm.mbgnbd_fit.
 */
Datum
clm_mbgnbd_accum(PG_FUNCTION_ARGS)
{
	return ClvAccum(fcinfo, CLV_MBGNBD);
}

/*
 * Transition function of clm.pareto_nbd_fit.
 */
Datum
clm_pareto_nbd_accum(PG_FUNCTION_ARGS)
{
	return ClvAccum(fcinfo, CLV_PARETO);
}

/*
 * Transition function of clm.bgbb_fit.
 */
Datum
clm_bgbb_accum(PG_FUNCTION_ARGS)
{
	return ClvAccum(fcinfo, CLV_BGBB);
}

/*
 * Transition function of clm.gamma_gamma_fit.
 */
Datum
clm_gamma_gamma_accum(PG_FUNCTION_ARGS)
{
	return ClvAccum(fcinfo, CLV_GG);
}

/*
 * The row count of two states combined (a user's rollup aggregate over
 * stored states, with clm.clv_combine as its transition, can add up
 * anything the type's input accepts); at most CLV_MAX_ROWS, as on input.
 */
static int64
AddRows(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r) || r > CLV_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("row count of a model fit state out of range"),
				 errdetail("The states hold more than " INT64_FORMAT " rows together.", CLV_MAX_ROWS)));
	return r;
}

/*
 * Combine function: merges state 1 into state 0 in place.  State 0 is a
 * small state while the patterns fit (a new small state when it is NULL:
 * state 1 is not ours to modify), else an expanded object (state 0 is
 * copied into a fresh one first when it is not ours to modify).
 */
Datum
clm_clv_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvExpanded *e;
	ClvFlat    *f = NULL;
	ClvData		b;
	int32		i = 0;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm_clv_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	clv_state_data(PG_GETARG_DATUM(1), &b);
	if (PG_ARGISNULL(0))
	{
		if (b.npat > CLV_SMALL_MAX)
			PG_RETURN_DATUM(EOHPGetRWDatum(&ClvFromData(aggcxt, &b)->hdr));
		f = ClvSmallNew(b.kind, b.penalizer);
	}
	else if ((f = ClvSmallArg(fcinfo, 0)) != NULL)
		CheckCompatible((ClvKind) f->kind, f->penalizer, b.kind, b.penalizer);
	if (f != NULL)
	{
		/* into a small state while the patterns fit */
		for (; i < b.npat; i++)
			if (!ClvSmallAdd(&f, b.pat[i].x, b.pat[i].tx, b.pat[i].T, b.pat[i].w))
				break;
		if (i == b.npat)
		{
			f->rows = AddRows(f->rows, b.rows);
			PG_RETURN_POINTER(f);
		}
		e = ClvFromSmall(aggcxt, f);
	}
	else
	{
		e = ClvOwnRW(PG_GETARG_DATUM(0));
		if (e == NULL)
		{
			ClvData		a;

			clv_state_data(PG_GETARG_DATUM(0), &a);
			e = ClvFromData(aggcxt, &a);
		}
		CheckCompatible(e->kind, e->penalizer, b.kind, b.penalizer);
	}
	/* patterns b.pat[0..i) are in e already */
	for (; i < b.npat; i++)
		ClvAdd(e, b.pat[i].x, b.pat[i].tx, b.pat[i].T, b.pat[i].w);
	e->rows = AddRows(e->rows, b.rows);
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * Final function of every fit aggregate: NULL for no input, else the
 * fitted model composite.  Also callable on a stored state value (e.g. a
 * rollup of states), which must then be of the same model.
 */
static Datum
ClvFinal(FunctionCallInfo fcinfo, ClvKind kind)
{
	ClvData		d;
	ClvPattern *copy;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	clv_state_data(PG_GETARG_DATUM(0), &d);
	if (d.kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit a %s model to a %s fit state",
						clv_kind_name(kind), clv_kind_name(d.kind))));
	if (d.npat == 0)
		PG_RETURN_NULL();
	/* the fit sorts the patterns: work on a copy, the state stays as is */
	if (!d.sorted && !(d.sorted = clv_patterns_sorted(d.pat, d.npat)))
	{
		copy = palloc(d.npat * sizeof(ClvPattern));
		memcpy(copy, d.pat, d.npat * sizeof(ClvPattern));
		d.pat = copy;
	}
	return clv_fit(fcinfo, &d);
}

/*
 * Final function of clm.bgnbd_fit.
 */
Datum
clm_bgnbd_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_BGNBD);
}

/*
 * Final function of clm.mbgnbd_fit.
 */
Datum
clm_mbgnbd_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_MBGNBD);
}

/*
 * Final function of clm.pareto_nbd_fit.
 */
Datum
clm_pareto_nbd_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_PARETO);
}

/*
 * Final function of clm.bgbb_fit.
 */
Datum
clm_bgbb_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_BGBB);
}

/*
 * Final function of clm.gamma_gamma_fit.
 */
Datum
clm_gamma_gamma_final(PG_FUNCTION_ARGS)
{
	return ClvFinal(fcinfo, CLV_GG);
}

/*
 * Append a double in its shortest exact decimal form.
 */
static void
AppendNum(StringInfo buf, double v)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, tmp);
	appendStringInfoString(buf, tmp);
}

/*
 * Text output: kind;penalizer;rows;x,tx,T,w;x,tx,T,w;...
 * (doubles in their shortest exact form, so the text round-trips exactly).
 */
Datum
clm_clv_state_out(PG_FUNCTION_ARGS)
{
	ClvData		d;
	StringInfoData buf;
	int32		i;

	clv_state_data(PG_GETARG_DATUM(0), &d);
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s;", clv_kind_name(d.kind));
	AppendNum(&buf, d.penalizer);
	appendStringInfo(&buf, ";" INT64_FORMAT, d.rows);
	for (i = 0; i < d.npat; i++)
	{
		appendStringInfoChar(&buf, ';');
		AppendNum(&buf, d.pat[i].x);
		appendStringInfoChar(&buf, ',');
		AppendNum(&buf, d.pat[i].tx);
		appendStringInfoChar(&buf, ',');
		AppendNum(&buf, d.pat[i].T);
		appendStringInfoChar(&buf, ',');
		AppendNum(&buf, d.pat[i].w);
	}
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Check a pattern of a state read from outside (text or binary input): a
 * customer summary the model's aggregate accepts (clv_check_summary; the
 * Gamma-Gamma patterns' third value is 0) with a finite weight >= 0.
 * Anything else could make a fit or clm.clv_loglik_gradient compute
 * garbage (e.g. a BG/BB recency above n_periods).  Returns false for a
 * weight of 0: such a pattern counts nothing and is dropped, as the
 * aggregates never store one.
 */
static bool
CheckInputPattern(ClvKind kind, const ClvPattern *p)
{
	clv_check_summary(kind, p->x, p->tx, p->T);
	if (kind == CLV_GG && p->T != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid clm.clv_state value"),
				 errdetail("A gamma_gamma pattern has a nonzero third value %g.", p->T)));
	CheckNonNegative(p->w, "weight");
	return p->w > 0;
}

/*
 * Raise the input-syntax error of clm.clv_state.
 */
static void
BadText(const char *str, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type clm.clv_state: \"%.40s\"", str),
			 errdetail("%s", why)));
}

/*
 * Parse one double followed by the expected separator (or end).
 */
static double
ParseNum(const char *str, char **p, char sep)
{
	double		v;
	char	   *end;

	errno = 0;
	v = strtod(*p, &end);
	/* ERANGE with a denormal result is not an error (as in float8in) */
	if (end == *p || (errno != 0 && (errno != ERANGE || v == 0)) || !isfinite(v))
		BadText(str, "A number is missing or out of range.");
	if (sep != '\0' && *end != sep)
		BadText(str, "Unexpected character after a number.");
	*p = end;
	return v;
}

/*
 * Text input of clm.clv_state (validated; duplicate patterns are merged).
 */
Datum
clm_clv_state_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	char	   *p = str,
			   *semi;
	ClvExpanded *e;
	ClvKind		kind = 0;
	double		pen,
				rows;
	int			k;
	ClvFlat    *flat;
	Size		sz;

	semi = strchr(p, ';');
	if (semi == NULL)
		BadText(str, "Expected kind;penalizer;rows;patterns.");
	for (k = 1; k <= CLV_NKINDS; k++)
		if ((size_t) (semi - p) == strlen(KindNames[k]) &&
			strncmp(p, KindNames[k], semi - p) == 0)
			kind = (ClvKind) k;
	if (kind == 0)
		BadText(str, "Unknown model kind.");
	p = semi + 1;
	pen = ParseNum(str, &p, ';');
	p++;
	rows = ParseNum(str, &p, '\0');
	if (pen < 0 || rows < 0 || rows != floor(rows) || rows > (double) CLV_MAX_ROWS)
		BadText(str, "Penalizer and row count must be non-negative.");
	e = ClvNew(CurrentMemoryContext, kind, pen, 16);
	e->rows = (int64) rows;
	while (*p == ';')
	{
		double		v[4];
		ClvPattern	pat;

		p++;
		for (k = 0; k < 4; k++)
		{
			v[k] = ParseNum(str, &p, k < 3 ? ',' : '\0');
			if (k < 3)
				p++;
		}
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
			BadText(str, "Pattern values must not be negative.");
		pat.x = v[0] + 0.0;
		pat.tx = v[1] + 0.0;
		pat.T = v[2] + 0.0;
		pat.w = v[3];
		if (CheckInputPattern(kind, &pat))
			ClvAdd(e, pat.x, pat.tx, pat.T, pat.w);
	}
	if (*p != '\0')
		BadText(str, "Unexpected trailing characters.");
	sz = ClvGetFlatSize(&e->hdr);
	flat = palloc(sz);
	ClvFlattenInto(&e->hdr, flat, sz);
	MemoryContextDelete(e->hdr.eoh_context);
	PG_RETURN_POINTER(flat);
}

/*
 * Binary output of clm.clv_state.
 */
Datum
clm_clv_state_send(PG_FUNCTION_ARGS)
{
	ClvData		d;
	StringInfoData buf;
	int32		i;

	clv_state_data(PG_GETARG_DATUM(0), &d);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, CLV_STATE_VERSION);
	pq_sendbyte(&buf, (int) d.kind);
	pq_sendfloat8(&buf, d.penalizer);
	pq_sendint64(&buf, d.rows);
	pq_sendint32(&buf, d.npat);
	for (i = 0; i < d.npat; i++)
	{
		pq_sendfloat8(&buf, d.pat[i].x);
		pq_sendfloat8(&buf, d.pat[i].tx);
		pq_sendfloat8(&buf, d.pat[i].T);
		pq_sendfloat8(&buf, d.pat[i].w);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Binary input of clm.clv_state (validated).
 */
Datum
clm_clv_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	ClvFlat    *f;
	int			version,
				kind;
	int32		n,
				i,
				k;

	version = pq_getmsgbyte(buf);
	kind = pq_getmsgbyte(buf);
	if (version != CLV_STATE_VERSION || kind < 1 || kind > CLV_NKINDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary clm.clv_state value")));
	f = palloc0(offsetof(ClvFlat, pat));
	f->version = version;
	f->kind = kind;
	f->penalizer = pq_getmsgfloat8(buf);
	f->rows = pq_getmsgint64(buf);
	/* as the text form: a value out of range there could not be restored */
	if (f->rows > CLV_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary clm.clv_state value"),
				 errdetail("Row count " INT64_FORMAT " exceeds " INT64_FORMAT ".", f->rows, CLV_MAX_ROWS)));
	n = pq_getmsgint(buf, 4);
	if (n < 0 || (int64) n * 32 != buf->len - buf->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary clm.clv_state value"),
				 errdetail("Pattern count %d does not match the length.", n)));
	f = repalloc(f, CLV_FLAT_SIZE(n));
	SET_VARSIZE(f, CLV_FLAT_SIZE(n));
	for (i = 0, k = 0; i < n; i++)
	{
		ClvPattern *p = &f->pat[k];

		p->x = pq_getmsgfloat8(buf);
		p->tx = pq_getmsgfloat8(buf);
		p->T = pq_getmsgfloat8(buf);
		p->w = pq_getmsgfloat8(buf);
		if (!(p->x >= 0) || !(p->tx >= 0) || !(p->T >= 0) || !(p->w >= 0) ||
			!isfinite(p->x) || !isfinite(p->tx) || !isfinite(p->T) || !isfinite(p->w))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary clm.clv_state value"),
					 errdetail("Pattern values must be finite and non-negative.")));
		p->x += 0.0;			/* no -0.0 keys */
		p->tx += 0.0;
		p->T += 0.0;
		if (CheckInputPattern((ClvKind) kind, p))
			k++;
	}
	/* weight-0 patterns dropped: the value is shorter than allocated */
	SET_VARSIZE(f, CLV_FLAT_SIZE(k));
	f->npat = k;
	CheckFlat(f, VARSIZE(f));
	PG_RETURN_POINTER(f);
}
