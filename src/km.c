/*-------------------------------------------------------------------------
 *
 * km.c
 *	  Kaplan-Meier survival: the clm.km_agg aggregate (varlena state type
 *	  clm.km), clm.survival, clm.median_survival and clm.logrank.
 *
 * The flat state (the type's storage, binary and text form) is a list of
 * (time, events, censored, entries) records, sorted by time with distinct
 * times; subjects without a left-truncation time are counted in
 * entries_inf (at risk from the start).  While aggregating, a state with
 * more than a few hundred times is a read/write expanded object in the
 * aggregate context (see "The expanded state" below): a hash table of the
 * times while there are few of them, else radix-sorted batches of keys
 * merged into sorted records.  Combining two states merges them, so the
 * aggregate runs in parallel workers and on Citus.
 *
 * Conventions (those of R's survival package): a subject with entry time e
 * and duration t is at risk at times u with e < u <= t; at one time,
 * events come before censorings (censored subjects are at risk at their
 * censoring time).  Greenwood's variance, log-log confidence intervals.
 *
 * IDENTIFICATION
 *	  src/km.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "common/int.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "clm.h"
#include "varstate.h"

#define KM_MAGIC 0x434c4d4b		/* "CLMK" */
#define KM_VERSION 1
#define KM_INITIAL_RECS 64
#define KM_TRUNCATED 0x01		/* some subject has an entry time */
#define KM_Z95 1.959963984540054

typedef struct KmRec
{
	double		time;
	int64		events;
	int64		censored;
	int64		entries;		/* subjects entering (left truncation) */
} KmRec;

typedef struct KmState
{
	int32		vl_len_;
	int32		magic;
	int32		flags;
	int32		pad;
	int64		nsorted;		/* recs[0 .. nsorted) sorted, distinct times */
	int64		n;				/* records used */
	int64		entries_inf;	/* subjects at risk from the start */
	KmRec		recs[FLEXIBLE_ARRAY_MEMBER];
} KmState;

#define KM_HDRSZ offsetof(KmState, recs)
#define KmCapacity(s) ((int64) ((VARSIZE(s) - KM_HDRSZ) / sizeof(KmRec)))
#define KM_MAX_RECS ((int64) ((MaxAllocSize - KM_HDRSZ) / sizeof(KmRec)))

PG_FUNCTION_INFO_V1(clm_km_in);
PG_FUNCTION_INFO_V1(clm_km_out);
PG_FUNCTION_INFO_V1(clm_km_send);
PG_FUNCTION_INFO_V1(clm_km_recv);
PG_FUNCTION_INFO_V1(clm_km_accum);
PG_FUNCTION_INFO_V1(clm_km_combine);
PG_FUNCTION_INFO_V1(clm_km_final);
PG_FUNCTION_INFO_V1(clm_survival);
PG_FUNCTION_INFO_V1(clm_median_survival);
PG_FUNCTION_INFO_V1(clm_logrank);

/*
 * Allocate an empty state for "cap" records in the current context.
 */
static KmState *
KmAlloc(int64 cap)
{
	KmState    *s;

	if (cap > KM_MAX_RECS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct times in one clm.km value"),
				 errhint("Round the durations (e.g. to whole days) or aggregate per segment.")));
	/* zeroed: the spare capacity travels with partial states, never uninitialised */
	s = palloc0(KM_HDRSZ + cap * sizeof(KmRec));
	SET_VARSIZE(s, KM_HDRSZ + cap * sizeof(KmRec));
	s->magic = KM_MAGIC;
	s->flags = 0;
	s->pad = 0;
	s->nsorted = 0;
	s->n = 0;
	s->entries_inf = 0;
	return s;
}

/*
 * Validate the header of a detoasted clm.km value.
 */
static KmState *
KmCheck(KmState *s)
{
	if (VARSIZE(s) < KM_HDRSZ || s->magic != KM_MAGIC || s->n < 0 ||
		s->n > KmCapacity(s) || s->nsorted < 0 || s->nsorted > s->n)
		clm_state_corrupt("clm.km", "The header does not match the value's length.");
	return s;
}

#define PG_GETARG_KM(n) KmCheck((KmState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

/* km_sort_recs(KmRec *, size_t): inlined sort by time */
#define ST_SORT km_sort_recs
#define ST_ELEMENT_TYPE KmRec
#define ST_COMPARE(a, b) (((a)->time > (b)->time) - ((a)->time < (b)->time))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Sort the unsorted tail, fold its equal times, then merge it with the
 * sorted head (through a scratch array), adding up equal times.
 */
static void
KmCompact(KmState *s)
{
	int64		i,
				j,
				k,
				m = s->n - s->nsorted;
	KmRec	   *tail;
	KmRec	   *out;
	KmRec	   *merged;

	if (m == 0)
		return;
	km_sort_recs(s->recs + s->nsorted, m);
	k = s->nsorted;
	for (i = s->nsorted; i < s->n; i++)
	{
		if (k > s->nsorted && s->recs[k - 1].time == s->recs[i].time)
		{
			s->recs[k - 1].events += s->recs[i].events;
			s->recs[k - 1].censored += s->recs[i].censored;
			s->recs[k - 1].entries += s->recs[i].entries;
		}
		else
			s->recs[k++] = s->recs[i];
	}
	m = k - s->nsorted;
	if (s->nsorted == 0)
	{
		s->n = s->nsorted = m;
		return;
	}
	tail = s->recs + s->nsorted;
	merged = palloc_extended((s->nsorted + m) * sizeof(KmRec), MCXT_ALLOC_HUGE);
	out = merged;
	i = 0;
	j = 0;
	while (i < s->nsorted || j < m)
	{
		if (j >= m || (i < s->nsorted && s->recs[i].time < tail[j].time))
			*out++ = s->recs[i++];
		else if (i >= s->nsorted || tail[j].time < s->recs[i].time)
			*out++ = tail[j++];
		else
		{
			*out = s->recs[i++];
			out->events += tail[j].events;
			out->censored += tail[j].censored;
			out->entries += tail[j].entries;
			out++;
			j++;
		}
	}
	s->n = s->nsorted = out - merged;
	memcpy(s->recs, merged, s->n * sizeof(KmRec));
	pfree(merged);
}

/*
 * A compacted copy of s with no spare room.
 */
static KmState *
KmCompactCopy(const KmState *s)
{
	KmState    *t = KmAlloc(Max(s->n, 1));

	memcpy(t->recs, s->recs, s->n * sizeof(KmRec));
	t->n = s->n;
	t->nsorted = s->nsorted;
	t->flags = s->flags;
	t->entries_inf = s->entries_inf;
	KmCompact(t);
	SET_VARSIZE(t, KM_HDRSZ + t->n * sizeof(KmRec));
	return t;
}

/*
 * s itself when compacted (as every final state is), else a compacted copy:
 * the readers never modify a state.
 */
static KmState *
KmCompacted(const KmState *s)
{
	return (s->nsorted == s->n) ? (KmState *) s : KmCompactCopy(s);
}

/*
 * Check the counts of a (read or combined) state: nonnegative, finite
 * times, and never more subjects leaving than entered.
 */
static void
KmCheckCounts(const KmState *s)
{
	int64		i,
				in = s->entries_inf,
				out = 0;

	for (i = 0; i < s->n; i++)
	{
		const KmRec *r = &s->recs[i];

		if (isnan(r->time) || isinf(r->time) || r->time < 0 ||
			r->events < 0 || r->censored < 0 || r->entries < 0)
			clm_state_corrupt("clm.km", "A record has a negative count or an invalid time.");
		/* no more than 2^63 - 1 subjects: the at-risk counts fit an int64 */
		if (pg_add_s64_overflow(in, r->entries, &in) ||
			pg_add_s64_overflow(out, r->events, &out) ||
			pg_add_s64_overflow(out, r->censored, &out))
			clm_state_corrupt("clm.km", "The counts add up to more than 2^63 - 1 subjects.");
	}
	if (s->entries_inf < 0 || in != out)
		clm_state_corrupt("clm.km", "The entries do not match the events and censorings.");
}

/*
 * Binary form of a state: version, flags, entries_inf, then the compacted
 * records (time, events, censored, entries).
 */
static void
KmWrite(StringInfo buf, const KmState *s)
{
	KmState    *c = KmCompactCopy(s);
	int64		i;

	pq_sendbyte(buf, KM_VERSION);
	pq_sendbyte(buf, c->flags);
	pq_sendint64(buf, c->entries_inf);
	pq_sendint64(buf, c->n);
	for (i = 0; i < c->n; i++)
	{
		pq_sendfloat8(buf, c->recs[i].time);
		pq_sendint64(buf, c->recs[i].events);
		pq_sendint64(buf, c->recs[i].censored);
		pq_sendint64(buf, c->recs[i].entries);
	}
	pfree(c);
}

/*
 * Parse and check the binary form (increasing times, consistent counts).
 */
static KmState *
KmRead(StringInfo buf)
{
	KmState    *s;
	int64		n,
				i,
				entries_inf;
	int			flags;

	if (buf->len - buf->cursor < 18 || pq_getmsgbyte(buf) != KM_VERSION)
		clm_state_corrupt("clm.km", "Unknown format version or truncated value.");
	flags = pq_getmsgbyte(buf);
	if (flags & ~KM_TRUNCATED)
		clm_state_corrupt("clm.km", "Unknown flags.");
	entries_inf = pq_getmsgint64(buf);
	n = pq_getmsgint64(buf);
	if (n < 0 || n > KM_MAX_RECS || n * 32 != (int64) (buf->len - buf->cursor))
		clm_state_corrupt("clm.km", "The record count does not match the value's length.");
	s = KmAlloc(Max(n, 1));
	s->flags = flags;
	s->entries_inf = entries_inf;
	for (i = 0; i < n; i++)
	{
		KmRec	   *r = &s->recs[i];

		r->time = pq_getmsgfloat8(buf);
		r->events = pq_getmsgint64(buf);
		r->censored = pq_getmsgint64(buf);
		r->entries = pq_getmsgint64(buf);
		if (i > 0 && !(r->time > s->recs[i - 1].time))
			clm_state_corrupt("clm.km", "The times are not increasing.");
	}
	s->n = s->nsorted = n;
	pq_getmsgend(buf);
	KmCheckCounts(s);
	return s;
}

/* ---------------------------------------------------------------------
 * The expanded state used while aggregating
 * ---------------------------------------------------------------------
 *
 * recs holds distinct times.  While there are at most KM_HASH_MAX of them
 * (hashed mode) they are in arrival order and an open-addressing hash table
 * of the times' bit patterns finds a row's record in one or two probes.
 * Past that bound (pending mode) recs is kept sorted and each new row only
 * appends its time to a pending array of 8-byte keys: the bit pattern of
 * the (nonnegative) time, with bit 63 set for a censoring; entry times go
 * to a second array.  When an array fills up, both are radix-sorted and
 * merged into recs (equal keys counted into one record).  The pending
 * array holds up to 4 keys per record (the records' own size), so the
 * merges cost O(1) per row.  The flat form is always the compacted one
 * (sorted, distinct times): every state that leaves the aggregate (to a
 * parallel leader, a final function or a table) has that form.
 */
#define KM_HASH_MAX 65536		/* hashed mode up to this many times */
#define KM_PEND_MIN 65536		/* pending array: at least this many keys */
#define KM_EXP_INITIAL 16		/* first capacity (GROUP BY may make many states) */
#define KM_CENSORED_BIT (UINT64CONST(1) << 63)

typedef struct KmExp
{
	ExpandedObjectHeader hdr;
	int32		flags;
	bool		hashed;			/* hashed mode (else pending mode) */
	bool		folded;			/* recs sorted and nothing pending */
	int64		entries_inf;
	KmRec	   *recs;
	int64		n;
	int64		cap;
	uint32	   *slots;			/* hashed mode: record index + 1, 0 = empty */
	uint32		mask;			/* slot count - 1 */
	uint64	   *pend;			/* pending mode: event/censoring keys */
	int64		npend;
	int64		pendcap;
	uint64	   *scratch;		/* radix sort buffer, pendcap keys (or NULL) */
	uint64	   *pent;			/* pending mode: entry-time keys */
	int64		npent;
	int64		pentcap;
} KmExp;

static Size KmExpFlatSize(ExpandedObjectHeader *eohptr);
static void KmExpFlatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods KmMethods = {
	KmExpFlatSize,
	KmExpFlatten
};

/*
 * Allocate "bytes" (possibly more than 1 GB) in the state's context.
 */
static inline void *
KmExpAlloc(KmExp *e, Size bytes)
{
	return MemoryContextAllocExtended(e->hdr.eoh_context, bytes, MCXT_ALLOC_HUGE);
}

/*
 * A new, empty expanded state in a child context of "parent".
 */
static KmExp *
KmExpCreate(MemoryContext parent)
{
	/* small blocks: GROUP BY may hold many states; big arrays get their own */
	MemoryContext cxt = AllocSetContextCreate(parent, "clm.km state",
											  ALLOCSET_SMALL_SIZES);
	KmExp	   *e = MemoryContextAllocZero(cxt, sizeof(KmExp));

	EOH_init_header(&e->hdr, &KmMethods, cxt);
	e->hashed = true;
	e->folded = true;
	e->cap = KM_EXP_INITIAL;
	e->recs = KmExpAlloc(e, e->cap * sizeof(KmRec));
	e->mask = 2 * KM_EXP_INITIAL - 1;
	e->slots = MemoryContextAllocZero(cxt, (e->mask + 1) * sizeof(uint32));
	return e;
}

/*
 * Grow recs to hold at least "need" records.
 */
static void
KmExpReserve(KmExp *e, int64 need)
{
	int64		cap = e->cap;

	if (need <= cap)
		return;
	if (need > KM_MAX_RECS)
		KmAlloc(KM_MAX_RECS + 1);	/* reports the limit */
	while (cap < need)
		cap *= 2;
	cap = Min(cap, KM_MAX_RECS);
	e->recs = repalloc_huge(e->recs, cap * sizeof(KmRec));
	e->cap = cap;
}

/*
 * The hash of a time's bit pattern (murmur3's 64-bit finalizer: whole
 * numbers have all their low bits zero, so every bit must be mixed).
 */
static inline uint32
KmHash(uint64 key)
{
	key ^= key >> 33;
	key *= UINT64CONST(0xff51afd7ed558ccd);
	key ^= key >> 33;
	key *= UINT64CONST(0xc4ceb9fe1a85ec53);
	key ^= key >> 33;
	return (uint32) key;
}

/*
 * Rebuild the hash table of recs[0 .. n) with at least 2 slots per record.
 */
static void
KmExpRehash(KmExp *e)
{
	uint32		size = e->mask + 1;
	int64		i;

	while (size < 2 * e->n)
		size *= 2;
	if (size != e->mask + 1)
	{
		pfree(e->slots);
		e->slots = MemoryContextAlloc(e->hdr.eoh_context, size * sizeof(uint32));
		e->mask = size - 1;
	}
	memset(e->slots, 0, size * sizeof(uint32));
	for (i = 0; i < e->n; i++)
	{
		uint64		key;
		uint32		h;

		memcpy(&key, &e->recs[i].time, sizeof(key));
		h = KmHash(key) & e->mask;
		while (e->slots[h] != 0)
			h = (h + 1) & e->mask;
		e->slots[h] = (uint32) (i + 1);
	}
}

/*
 * Hashed mode: the record of time t, added (zero counts) if new; NULL when
 * t is new and the state already holds KM_HASH_MAX times.
 */
static inline KmRec *
KmExpLookup(KmExp *e, double t)
{
	uint64		key;
	uint32		h;
	KmRec	   *r;

	memcpy(&key, &t, sizeof(key));
	h = KmHash(key) & e->mask;
	for (;;)
	{
		uint32		slot = e->slots[h];

		if (slot == 0)
			break;
		r = &e->recs[slot - 1];
		if (r->time == t)
			return r;
		h = (h + 1) & e->mask;
	}
	if (e->n >= KM_HASH_MAX)
		return NULL;
	if (e->n >= e->cap)
		KmExpReserve(e, e->n + 1);
	r = &e->recs[e->n++];
	r->time = t;
	r->events = r->censored = r->entries = 0;
	e->folded = false;
	if (2 * e->n > (int64) e->mask + 1)
		KmExpRehash(e);
	else
		e->slots[h] = (uint32) e->n;
	return r;
}

/*
 * Leave hashed mode: sort recs and drop the hash table.
 */
static void
KmExpToPending(KmExp *e)
{
	km_sort_recs(e->recs, e->n);
	pfree(e->slots);
	e->slots = NULL;
	e->mask = 0;
	e->hashed = false;
	e->pendcap = Max(KM_PEND_MIN, 4 * e->n);
	e->pend = KmExpAlloc(e, e->pendcap * sizeof(uint64));
	e->npend = 0;
}

/*
 * Sort n keys by their low 63 bits (LSD radix sort, 11-bit digits, digits
 * shared by all keys skipped); tmp has room for n keys.  Returns the
 * array holding the sorted keys (keys or tmp).
 */
static uint64 *
KmRadixSort(uint64 *keys, uint64 *tmp, int64 n)
{
	static const int shifts[6] = {0, 11, 22, 33, 44, 55};
	int64	   *count;
	int64		i;
	int			d;

	count = palloc0(6 * 2048 * sizeof(int64));
	for (i = 0; i < n; i++)
	{
		uint64		k = keys[i] & ~KM_CENSORED_BIT;

		for (d = 0; d < 6; d++)
			count[d * 2048 + ((k >> shifts[d]) & 2047)]++;
	}
	for (d = 0; d < 6; d++)
	{
		int64	   *c = &count[d * 2048];
		int64		sum = 0;
		int			b;
		bool		trivial = false;

		for (b = 0; b < 2048; b++)
		{
			int64		x = c[b];

			if (x == n)
				trivial = true;
			c[b] = sum;
			sum += x;
		}
		if (trivial)
			continue;
		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < n; i++)
		{
			uint64		k = keys[i];

			tmp[c[((k & ~KM_CENSORED_BIT) >> shifts[d]) & 2047]++] = k;
		}
		{
			uint64	   *swap = keys;

			keys = tmp;
			tmp = swap;
		}
	}
	pfree(count);
	return keys;
}

/*
 * Merge the sorted distinct records run[0 .. m) into the sorted recs,
 * adding up equal times (backwards, in place, after making room).
 */
static void
KmExpMergeRun(KmExp *e, const KmRec *run, int64 m)
{
	int64		i = e->n - 1,
				j = m - 1,
				o,
				dup = 0,
				a,
				b;

	if (m == 0)
		return;
	/* count the common times first: the merged length is exact */
	for (a = 0, b = 0; a < e->n && b < m;)
	{
		if (e->recs[a].time < run[b].time)
			a++;
		else if (run[b].time < e->recs[a].time)
			b++;
		else
		{
			dup++;
			a++;
			b++;
		}
	}
	KmExpReserve(e, e->n + m - dup);
	o = e->n + m - dup - 1;
	while (j >= 0)
	{
		if (i >= 0 && e->recs[i].time > run[j].time)
			e->recs[o--] = e->recs[i--];
		else if (i >= 0 && e->recs[i].time == run[j].time)
		{
			KmRec	   *r = &e->recs[o--];

			*r = e->recs[i--];
			r->events += run[j].events;
			r->censored += run[j].censored;
			r->entries += run[j].entries;
			j--;
		}
		else
			e->recs[o--] = run[j--];
	}
	e->n += m - dup;
}

/* the time of a key, as the bit pattern of the time (censoring bit cleared) */
#define KM_KEY(k) ((k) & ~KM_CENSORED_BIT)

/* the bit pattern of a (nonnegative) time: orders like the time */
static inline uint64
KmTimeKey(double t)
{
	uint64		key;

	memcpy(&key, &t, sizeof(key));
	return key;
}

/*
 * Pending mode: radix-sort the pending keys, then merge them into recs
 * (counting equal keys into records, adding to a record of the same time):
 * a forward pass counts the new times, then a backward pass merges in place.
 */
static void
KmExpFoldPending(KmExp *e)
{
	uint64	   *ev,
			   *en;
	int64		nev = e->npend,
				nen = e->npent,
				p,
				q,
				a,
				i,
				o,
				fresh = 0;

	if (nev + nen == 0)
		return;
	if (e->scratch == NULL)
		e->scratch = KmExpAlloc(e, e->pendcap * sizeof(uint64));
	ev = KmRadixSort(e->pend, e->scratch, nev);
	if (ev == e->scratch)
	{
		/* same capacity: swap the buffers */
		e->scratch = e->pend;
		e->pend = ev;
	}
	en = e->pent;
	if (nen > 0)
	{
		Assert(nen <= e->pendcap);
		if (KmRadixSort(e->pent, e->scratch, nen) == e->scratch)
			memcpy(e->pent, e->scratch, nen * sizeof(uint64));
	}

	/* forward: count the distinct pending times that recs lacks */
	for (p = 0, q = 0, a = 0; p < nev || q < nen;)
	{
		uint64		k;

		if (q >= nen || (p < nev && KM_KEY(ev[p]) <= en[q]))
			k = KM_KEY(ev[p]);
		else
			k = en[q];
		while (p < nev && KM_KEY(ev[p]) == k)
			p++;
		while (q < nen && en[q] == k)
			q++;
		while (a < e->n && KmTimeKey(e->recs[a].time) < k)
			a++;
		if (a >= e->n || KmTimeKey(e->recs[a].time) != k)
			fresh++;
	}
	KmExpReserve(e, e->n + fresh);

	/* backward: place records from the end */
	i = e->n - 1;
	o = e->n + fresh - 1;
	p = nev - 1;
	q = nen - 1;
	while (p >= 0 || q >= 0)
	{
		uint64		k;
		KmRec		r;

		CHECK_FOR_INTERRUPTS();
		if (q < 0 || (p >= 0 && KM_KEY(ev[p]) >= en[q]))
			k = KM_KEY(ev[p]);
		else
			k = en[q];
		while (i >= 0 && KmTimeKey(e->recs[i].time) > k)
			e->recs[o--] = e->recs[i--];
		if (i >= 0 && KmTimeKey(e->recs[i].time) == k)
			r = e->recs[i--];
		else
		{
			memcpy(&r.time, &k, sizeof(k));
			r.events = r.censored = r.entries = 0;
		}
		for (; p >= 0 && KM_KEY(ev[p]) == k; p--)
		{
			if (ev[p] & KM_CENSORED_BIT)
				r.censored++;
			else
				r.events++;
		}
		for (; q >= 0 && en[q] == k; q--)
			r.entries++;
		e->recs[o--] = r;
	}
	Assert(o == i);
	e->n += fresh;
	e->npend = e->npent = 0;
	/* the next batch: 4 keys per record (the same memory), so merges stay rare */
	if (e->pendcap < 4 * e->n)
	{
		pfree(e->pend);
		pfree(e->scratch);
		e->scratch = NULL;
		e->pendcap = Min(4 * e->n, (int64) (MaxAllocHugeSize / sizeof(uint64)));
		e->pend = KmExpAlloc(e, e->pendcap * sizeof(uint64));
	}
}

/*
 * Pending mode: queue one key (events/censorings, or entries).
 */
static inline void
KmExpPush(KmExp *e, uint64 key, bool entry)
{
	if (entry)
	{
		if (e->npent >= e->pentcap)
		{
			if (e->pent == NULL)
			{
				e->pentcap = KM_PEND_MIN;
				e->pent = KmExpAlloc(e, e->pentcap * sizeof(uint64));
			}
			else if (e->pentcap < e->pendcap)
			{
				e->pentcap = e->pendcap;
				e->pent = repalloc_huge(e->pent, e->pentcap * sizeof(uint64));
			}
			else
				KmExpFoldPending(e);
		}
		e->pent[e->npent++] = key;
	}
	else
	{
		if (e->npend >= e->pendcap)
			KmExpFoldPending(e);
		e->pend[e->npend++] = key;
	}
	e->folded = false;
}

/*
 * Bring the state to its compacted form (recs sorted, nothing pending).
 * The value is unchanged, so a final function may do this to a read-only
 * state; in hashed mode the hash table is rebuilt for the new order.
 */
static void
KmExpFold(KmExp *e)
{
	if (e->folded)
		return;
	if (e->hashed)
	{
		km_sort_recs(e->recs, e->n);
		KmExpRehash(e);
	}
	else
		KmExpFoldPending(e);
	e->folded = true;
}

/*
 * Add counts for time t (a row, or a record of another state).
 */
static inline void
KmExpAdd(KmExp *e, double t, int64 events, int64 censored, int64 entries)
{
	if (e->hashed)
	{
		KmRec	   *r = KmExpLookup(e, t);

		if (r != NULL)
		{
			r->events += events;
			r->censored += censored;
			r->entries += entries;
			return;
		}
		KmExpToPending(e);
	}
	{
		uint64		key;

		memcpy(&key, &t, sizeof(key));
		while (events-- > 0)
			KmExpPush(e, key, false);
		while (censored-- > 0)
			KmExpPush(e, key | KM_CENSORED_BIT, false);
		while (entries-- > 0)
			KmExpPush(e, key, true);
	}
}

/*
 * Merge a flat state's records into e.
 */
static void
KmExpAddFlat(KmExp *e, const KmState *s)
{
	KmState    *c = KmCompacted(s);
	int64		i;

	e->entries_inf += c->entries_inf;
	e->flags |= c->flags;
	if (e->hashed && e->n + c->n <= KM_HASH_MAX)
	{
		for (i = 0; i < c->n; i++)
			KmExpAdd(e, c->recs[i].time, c->recs[i].events,
					 c->recs[i].censored, c->recs[i].entries);
	}
	else
	{
		if (e->hashed)
			KmExpToPending(e);
		KmExpFoldPending(e);
		KmExpMergeRun(e, c->recs, c->n);
	}
	if (c != s)
		pfree(c);
}

/*
 * Size of the flat (compacted) form; compacts the state first.
 */
static Size
KmExpFlatSize(ExpandedObjectHeader *eohptr)
{
	KmExp	   *e = (KmExp *) eohptr;

	KmExpFold(e);
	return KM_HDRSZ + e->n * sizeof(KmRec);
}

/*
 * Write the flat form (KmExpFlatSize has compacted the state).
 */
static void
KmExpFlatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	KmExp	   *e = (KmExp *) eohptr;
	KmState    *s = (KmState *) result;

	Assert(e->folded && allocated_size == KM_HDRSZ + e->n * sizeof(KmRec));
	memset(s, 0, KM_HDRSZ);
	SET_VARSIZE(s, allocated_size);
	s->magic = KM_MAGIC;
	s->flags = e->flags;
	s->nsorted = s->n = e->n;
	s->entries_inf = e->entries_inf;
	memcpy(s->recs, e->recs, e->n * sizeof(KmRec));
}

/*
 * The expanded state of an aggregate's state argument: the argument itself
 * when it is one of ours in aggcontext, else a new one holding its value.
 */
static KmExp *
KmExpArg(FunctionCallInfo fcinfo, int argno, MemoryContext aggcontext)
{
	Datum		d = PG_GETARG_DATUM(argno);
	KmExp	   *e;

	if (VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods == &KmMethods &&
			eoh->eoh_context->parent == aggcontext)
			return (KmExp *) eoh;
	}
	e = KmExpCreate(aggcontext);
	KmExpAddFlat(e, PG_GETARG_KM(argno));
	return e;
}

/*
 * Text input of clm.km: \x + hex of the binary form, checked.
 */
Datum
clm_km_in(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	clm_state_hex_in(PG_GETARG_CSTRING(0), &buf, "clm.km");
	PG_RETURN_POINTER(KmCompactCopy(KmRead(&buf)));
}

/*
 * Text output of clm.km (used by Citus to ship partial states).
 */
Datum
clm_km_out(PG_FUNCTION_ARGS)
{
	KmState    *s = PG_GETARG_KM(0);
	StringInfoData buf;

	initStringInfo(&buf);
	KmWrite(&buf, s);
	PG_RETURN_CSTRING(clm_state_hex_out(&buf));
}

/*
 * Binary output of clm.km.
 */
Datum
clm_km_send(PG_FUNCTION_ARGS)
{
	KmState    *s = PG_GETARG_KM(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	KmWrite(&buf, s);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Binary input of clm.km, checked.
 */
Datum
clm_km_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(KmCompactCopy(KmRead((StringInfo) PG_GETARG_POINTER(0))));
}

/* ---------------------------------------------------------------------
 * Small states
 * ---------------------------------------------------------------------
 *
 * An expanded object needs a memory context of its own, and hash
 * aggregation sums up the memory of every context under the aggregate
 * context each time it adds a group: with one context per group, GROUP BY
 * over many groups would take quadratic time.  So a state starts flat
 * (sorted, distinct times, updated in place, records inserted in order)
 * and becomes an expanded object only past KM_SMALL_MAX distinct times.
 */
#define KM_SMALL_INITIAL 4
#define KM_SMALL_MAX 256

/*
 * Add counts for time t to the small flat state *sp (sorted, distinct);
 * a full state is replaced by a larger copy in the current context.
 * Returns false, changing nothing, when t is new and the state already
 * holds KM_SMALL_MAX times.
 */
static bool
KmSmallAdd(KmState **sp, double t, int64 events, int64 censored, int64 entries)
{
	KmState    *s = *sp;
	int64		lo = 0,
				hi = s->n;
	KmRec	   *r;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (s->recs[mid].time < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= s->n || s->recs[lo].time != t)
	{
		if (s->n >= KM_SMALL_MAX)
			return false;
		if (s->n >= KmCapacity(s))
		{
			KmState    *ns = KmAlloc(Min(2 * KmCapacity(s), KM_SMALL_MAX));

			memcpy(ns->recs, s->recs, s->n * sizeof(KmRec));
			ns->n = ns->nsorted = s->n;
			ns->flags = s->flags;
			ns->entries_inf = s->entries_inf;
			*sp = s = ns;
		}
		memmove(&s->recs[lo + 1], &s->recs[lo], (s->n - lo) * sizeof(KmRec));
		r = &s->recs[lo];
		r->time = t;
		r->events = r->censored = r->entries = 0;
		s->n++;
		s->nsorted++;
	}
	r = &s->recs[lo];
	r->events += events;
	r->censored += censored;
	r->entries += entries;
	return true;
}

/*
 * Transition function: (state, duration, churned [, entered]).  Rows with a
 * NULL duration or churned are skipped; a NULL entered means no left
 * truncation for that subject.  The state is updated in place: a small
 * flat state (see "Small states"), then a read/write expanded object in the
 * aggregate context.
 */
Datum
clm_km_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	KmExp	   *e;
	double		duration,
				entered = 0;
	bool		churned,
				has_entry;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "clm_km_accum called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	duration = PG_GETARG_FLOAT8(1);
	churned = PG_GETARG_BOOL(2);
	has_entry = PG_NARGS() > 3 && !PG_ARGISNULL(3);
	clm_check_finite(duration, "duration");
	if (duration < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("duration must not be negative"),
				 errdetail("Got %g.", duration)));
	if (has_entry)
	{
		entered = PG_GETARG_FLOAT8(3);
		clm_check_finite(entered, "entered");
		if (entered < 0 || entered >= duration)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("entered must be at least 0 and less than duration"),
					 errdetail("Got entered %g, duration %g.", entered, duration),
					 errhint("A subject is at risk at times t with entered < t <= duration.")));
		entered += 0.0;			/* -0 becomes 0: times are keyed by bits */
	}
	duration += 0.0;

	if (PG_ARGISNULL(0) ||
		!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(0))))
	{
		KmState    *s = PG_ARGISNULL(0) ? KmAlloc(KM_SMALL_INITIAL) : PG_GETARG_KM(0);
		bool		dur_done = false;

		if (s->nsorted == s->n &&
			(dur_done = KmSmallAdd(&s, duration, churned ? 1 : 0, churned ? 0 : 1, 0)) &&
			(!has_entry || KmSmallAdd(&s, entered, 0, 0, 1)))
		{
			if (has_entry)
				s->flags |= KM_TRUNCATED;
			else
				s->entries_inf++;
			PG_RETURN_POINTER(s);
		}
		/* too many times for a small state: continue as an expanded one */
		e = KmExpCreate(aggcontext);
		KmExpAddFlat(e, s);
		if (!dur_done)
			KmExpAdd(e, duration, churned ? 1 : 0, churned ? 0 : 1, 0);
	}
	else
	{
		e = KmExpArg(fcinfo, 0, aggcontext);
		KmExpAdd(e, duration, churned ? 1 : 0, churned ? 0 : 1, 0);
	}
	if (has_entry)
	{
		KmExpAdd(e, entered, 0, 0, 1);
		e->flags |= KM_TRUNCATED;
	}
	else
		e->entries_inf++;
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * Combine function (STRICT): merge b into a (small states into a new small
 * state, else into a, expanded if it is not already).
 */
Datum
clm_km_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	KmExp	   *e;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "clm_km_combine called in non-aggregate context");
	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(0))) &&
		!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
	{
		KmState    *a = PG_GETARG_KM(0);
		KmState    *b = PG_GETARG_KM(1);

		/* two small states: a small (flat) result */
		if (a->n + b->n <= KM_SMALL_MAX)
		{
			KmState    *c = KmAlloc(Max(a->n + b->n, 1));

			memcpy(c->recs, a->recs, a->n * sizeof(KmRec));
			memcpy(c->recs + a->n, b->recs, b->n * sizeof(KmRec));
			c->nsorted = a->nsorted;
			c->n = a->n + b->n;
			c->flags = a->flags | b->flags;
			c->entries_inf = a->entries_inf + b->entries_inf;
			KmCompact(c);
			PG_RETURN_POINTER(c);
		}
	}
	e = KmExpArg(fcinfo, 0, aggcontext);
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))) &&
		DatumGetEOHP(PG_GETARG_DATUM(1))->eoh_methods == &KmMethods)
	{
		KmExp	   *b = (KmExp *) DatumGetEOHP(PG_GETARG_DATUM(1));
		KmState    *flat;

		/* b is unchanged by compacting it; then read it as a flat state */
		flat = palloc_extended(KmExpFlatSize(&b->hdr), MCXT_ALLOC_HUGE);
		KmExpFlatten(&b->hdr, flat, KM_HDRSZ + b->n * sizeof(KmRec));
		KmExpAddFlat(e, flat);
		pfree(flat);
	}
	else
		KmExpAddFlat(e, PG_GETARG_KM(1));
	PG_RETURN_DATUM(EOHPGetRWDatum(&e->hdr));
}

/*
 * Final function: the compacted flat state (sorted, distinct times, no
 * slack).  An expanded state is compacted in place, which leaves its value
 * unchanged (it may still be advanced when used as a window aggregate).
 */
Datum
clm_km_final(PG_FUNCTION_ARGS)
{
	Datum		d = PG_GETARG_DATUM(0);

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)) &&
		DatumGetEOHP(d)->eoh_methods == &KmMethods)
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);
		Size		size = KmExpFlatSize(eoh);
		KmState    *s = palloc_extended(size, MCXT_ALLOC_HUGE);

		KmExpFlatten(eoh, s, size);
		PG_RETURN_POINTER(s);
	}
	PG_RETURN_POINTER(KmCompactCopy(PG_GETARG_KM(0)));
}

/*
 * One Kaplan-Meier step per distinct event time.
 */
typedef struct KmStep
{
	double		time;
	int64		at_risk;
	int64		events;
	int64		censored;		/* censored in [time, next event time) */
	double		survival;
	double		greenwood;		/* sum of d / (n (n - d)); +inf once n = d */
} KmStep;

/*
 * Iterator over the steps of a compacted state's curve.
 */
typedef struct KmIter
{
	const KmState *s;
	int64		i;				/* next record */
	int64		at_risk;
	double		surv;
	double		gw;
} KmIter;

static void
KmIterInit(KmIter *it, const KmState *s)
{
	it->s = s;
	it->i = 0;
	it->at_risk = s->entries_inf;
	it->surv = 1.0;
	it->gw = 0.0;
}

/*
 * The next step into *st: the next record with events, and the censorings
 * up to the following one (censorings before the first event time belong
 * to no step).  Returns false at the end.
 */
static bool
KmIterNext(KmIter *it, KmStep *st)
{
	const KmState *s = it->s;
	const KmRec *r;
	int64		n,
				d;

	/* entries at time t are at risk only after t */
	while (it->i < s->n && s->recs[it->i].events == 0)
	{
		r = &s->recs[it->i++];
		it->at_risk += r->entries - r->censored;
	}
	if (it->i >= s->n)
		return false;
	r = &s->recs[it->i++];
	n = it->at_risk;
	d = r->events;
	if (n < d)
		clm_state_corrupt("clm.km", "More events than subjects at risk.");
	it->surv *= 1.0 - (double) d / (double) n;
	it->gw = (n == d) ? INFINITY : it->gw + (double) d / ((double) n * (double) (n - d));
	st->time = r->time;
	st->at_risk = n;
	st->events = d;
	st->censored = r->censored;
	st->survival = it->surv;
	st->greenwood = it->gw;
	it->at_risk += r->entries - r->events - r->censored;
	while (it->i < s->n && s->recs[it->i].events == 0)
	{
		r = &s->recs[it->i++];
		st->censored += r->censored;
		it->at_risk += r->entries - r->censored;
	}
	return true;
}

/*
 * Compute the curve of a state; returns the number of steps.
 */
static int64
KmCurve(const KmState *s0, KmStep **steps_out)
{
	KmState    *s = KmCompacted(s0);
	KmStep	   *steps = palloc_extended(sizeof(KmStep) * Max(s->n, 1), MCXT_ALLOC_HUGE);
	KmIter		it;
	int64		k = 0;

	KmIterInit(&it, s);
	while (KmIterNext(&it, &steps[k]))
		k++;
	if (s != s0)
		pfree(s);
	*steps_out = steps;
	return k;
}

/*
 * clm.survival(state): one row per distinct event time.
 */
Datum
clm_survival(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KmState    *s = KmCompacted(PG_GETARG_KM(0));
	KmIter		it;
	KmStep		st;
	Datum		values[8];
	bool		nulls[8] = {0};

	InitMaterializedSRF(fcinfo, 0);
	KmIterInit(&it, s);
	while (KmIterNext(&it, &st))
	{
		values[0] = Float8GetDatum(st.time);
		values[1] = Int64GetDatum(st.at_risk);
		values[2] = Int64GetDatum(st.events);
		values[3] = Int64GetDatum(st.censored);
		values[4] = Float8GetDatum(st.survival);
		if (isinf(st.greenwood) || st.survival <= 0)
			nulls[5] = nulls[6] = nulls[7] = true;
		else
		{
			double		se_h = sqrt(st.greenwood);
			double		se_theta = se_h / fabs(log(st.survival));

			nulls[5] = nulls[6] = nulls[7] = false;
			values[5] = Float8GetDatum(st.survival * se_h);
			values[6] = Float8GetDatum(pow(st.survival, exp(KM_Z95 * se_theta)));
			values[7] = Float8GetDatum(pow(st.survival, exp(-KM_Z95 * se_theta)));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * clm.median_survival(state): the smallest event time at which survival
 * is at or below 0.5; when it is exactly 0.5 until the next event time,
 * the midpoint of the two (R's convention).  NULL if never reached.
 */
Datum
clm_median_survival(PG_FUNCTION_ARGS)
{
	KmStep	   *steps;
	int64		k,
				i;

	k = KmCurve(PG_GETARG_KM(0), &steps);
	for (i = 0; i < k; i++)
	{
		if (fabs(steps[i].survival - 0.5) < 1e-12)
		{
			if (i + 1 < k)
				PG_RETURN_FLOAT8((steps[i].time + steps[i + 1].time) / 2.0);
			PG_RETURN_FLOAT8(steps[i].time);
		}
		if (steps[i].survival < 0.5)
			PG_RETURN_FLOAT8(steps[i].time);
	}
	PG_RETURN_NULL();
}

/*
 * clm.logrank(a, b): the log-rank (Mantel-Haenszel) test of equal hazards,
 * one row: observed and expected events of each group, chi-square with one
 * degree of freedom, p-value.
 */
Datum
clm_logrank(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KmState    *a = KmCompacted(PG_GETARG_KM(0));
	KmState    *b = KmCompacted(PG_GETARG_KM(1));
	int64		i = 0,
				j = 0,
				na = a->entries_inf,
				nb = b->entries_inf,
				oa = 0,
				ob = 0;
	double		ea = 0.0,
				var = 0.0;
	Datum		values[6];
	bool		nulls[6] = {0};

	InitMaterializedSRF(fcinfo, 0);
	while (i < a->n || j < b->n)
	{
		double		t;
		KmRec		ra = {0},
					rb = {0};
		double		d,
					n;			/* sums of both groups: may pass INT64_MAX */

		CHECK_FOR_INTERRUPTS();
		if (j >= b->n || (i < a->n && a->recs[i].time <= b->recs[j].time))
			t = a->recs[i].time;
		else
			t = b->recs[j].time;
		if (i < a->n && a->recs[i].time == t)
			ra = a->recs[i++];
		if (j < b->n && b->recs[j].time == t)
			rb = b->recs[j++];
		d = (double) ra.events + (double) rb.events;
		n = (double) na + (double) nb;
		if (d > 0 && n > 0)
		{
			ea += d * (double) na / n;
			if (n > 1)
				var += (double) na * (double) nb * d * (n - d) / (n * n * (n - 1));
		}
		oa += ra.events;
		ob += rb.events;
		na += ra.entries - ra.events - ra.censored;
		nb += rb.entries - rb.events - rb.censored;
	}
	values[0] = Int64GetDatum(oa);
	values[1] = Float8GetDatum(ea);
	values[2] = Int64GetDatum(ob);
	values[3] = Float8GetDatum((double) oa + (double) ob - ea);
	if (var > 0)
	{
		double		chisq = ((double) oa - ea) * ((double) oa - ea) / var;

		values[4] = Float8GetDatum(chisq);
		values[5] = Float8GetDatum(erfc(sqrt(chisq / 2.0)));
	}
	else
		nulls[4] = nulls[5] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
