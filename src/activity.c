/*-------------------------------------------------------------------------
 *
 * activity.c
 *	  clm.activity: a mergeable set of customers with the calendar periods
 *	  in which each was active, and the behavioural accessors over it
 *	  (cohort retention, lifecycle, stickiness, churn rate).
 *
 * The state spans customers, so it is a real varlena type (Citus splits
 * only aggregates whose state is not a pseudo-type).  While an aggregate
 * runs, the state is an expanded object: a hash table keyed by the exact
 * customer key (int64, or the bytes of a text/uuid key) whose entries hold
 * the first active period and a bitmap of active periods relative to it.
 * The transition function updates that object in place; it is flattened
 * only when it leaves the aggregate (output, storage, parallel workers).
 * A small state (flat size up to ACT_SMALL_BYTES) is kept flat instead,
 * without a memory context of its own: see "Small states".
 *
 * Flat form (all integers big-endian, varints LEB128):
 *	 version:1 unit:1 keykind:1 flags:1 end_ts:8 base:4 first:4 last:4
 *	 n:4 tzlen:1 tzname:tzlen, then n customer records sorted by key:
 *	   key      int: first zigzag varint, then varint deltas (>= 1)
 *	            text: varint length + bytes;  uuid: 16 bytes
 *	   varint   (lo - base) << 1 | has_born
 *	   [varint  zigzag(born - lo)]  when has_born
 *	   varint   nbits = last active - lo + 1
 *	   bytes    bits 1 .. nbits-2 of the active set, 8 per byte (bit 0
 *	            and bit nbits-1 are active by construction)
 * base = smallest lo, first = smallest cohort period, last = largest
 * active period, end_ts = latest event time.  A customer active in 24
 * monthly periods with consecutive bigint keys takes 3 to 6 bytes.
 *
 * IDENTIFICATION
 *	  src/activity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "clm.h"
#include "period.h"

#define ACT_VERSION 1
#define ACT_NONE PG_INT32_MAX	/* no born period */
#define ACT_HEADER_FIXED 29
#define ACT_INLINE_BITS 64
#define ACT_BATCH 512			/* integer-key rows buffered before hashing */
#define ACT_PREFETCH 12
#define ACT_DENSE_MIN 4096		/* customers before a dense array is tried */
#define ACT_DENSE_FILL 4		/* dense array: at most 4 slots per customer */
#define ACT_MAX_WORDS 65535		/* 4,194,240 periods per customer */
#define ACT_MAX_CELLS 50000000	/* accessor result matrix bound */
#define ACT_MAX_PERIODS 1000000	/* accessor period range bound */

typedef enum ActKeyKind
{
	ACT_KEY_INT = 1,			/* integer and bigint */
	ACT_KEY_TEXT = 2,
	ACT_KEY_UUID = 3
} ActKeyKind;

static const char *const act_kind_names[] = {"", "integer", "text", "uuid"};

/* a text/uuid key as stored in the hash table */
typedef struct ActBytes
{
	uint32		len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} ActBytes;

/*
 * One customer in the expanded state: 32 bytes, so a hash bucket never
 * straddles two cache lines.  Spans up to 64 periods are kept inline.
 */
typedef struct ActCust
{
	uint64		key;			/* int key, or an ActBytes pointer */
	int32		born;			/* born period or ACT_NONE */
	int32		lo;				/* first active period */
	union
	{
		uint64		inl;
		uint64	   *ext;
	}			b;
	uint32		nbits;			/* last active - lo + 1; 0 while empty */
	uint16		capw;			/* words in ext, 0 = inline */
	char		status;			/* simplehash */
} ActCust;

StaticAssertDecl(sizeof(ActCust) == 32, "ActCust must be 32 bytes");

/*
 * One slot of the dense array used for integer keys that fill a range
 * densely (typical serial customer ids): slot i is key dbase + i.  Spans
 * of at most 64 periods; word == 0 marks an empty slot, otherwise bit 0 is
 * period lo and the highest bit the last active period.
 */
typedef struct ActDense
{
	int32		lo;
	int32		born;
	uint64		word;
} ActDense;

struct ActState;
static uint32 ActHashKey(struct ActState *st, uint64 key);
static bool ActKeyEqual(struct ActState *st, uint64 a, uint64 b);

#define SH_PREFIX acth
#define SH_ELEMENT_TYPE ActCust
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) ActHashKey((struct ActState *) (tb)->private_data, k)
#define SH_EQUAL(tb, a, b) ActKeyEqual((struct ActState *) (tb)->private_data, a, b)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* the expanded object */
typedef struct ActState
{
	ExpandedObjectHeader hdr;
	uint8		unit;
	uint8		kind;
	char		tzname[TZ_STRLEN_MAX + 1];
	TimestampTz end_ts;
	int32		base;			/* min lo */
	int32		first;			/* min cohort period */
	int32		last;			/* max active period */
	acth_hash  *hash;
	void	   *checked_args;	/* ActArgCache known to match unit and zone */
	uint32		checked_gen;	/* ... in this generation of its arguments */
	ActDense   *dense;			/* integer keys in a dense array, or NULL */
	int64		dbase;			/* key of dense[0] */
	uint64		dcap;			/* slots */
	uint32		dcount;			/* customers in dense */
	bool		no_dense;		/* a dense array does not fit these keys */
	int64		kmin;			/* smallest and largest integer key seen */
	int64		kmax;
	uint32		npend;			/* integer-key entries not yet in the hash: */
	uint64	   *pkey;			/* key */
	int32	   *plo;			/* first period */
	uint32	   *pnbits;			/* span (at most 64 periods) */
	uint64	   *pword;			/* active periods relative to plo */
	int32	   *pborn;			/* born period or ACT_NONE */
	ActBytes   *scratch;		/* lookup key for text/uuid */
	uint32		scratch_cap;
	char	   *flat;			/* cached flat payload (no varlena header) */
	Size		flat_len;
} ActState;

/* one customer as seen by the accessors */
typedef struct ActView
{
	uint64		ikey;			/* int key */
	const char *kbytes;			/* text/uuid key */
	uint32		klen;
	int32		born;
	int32		lo;
	uint32		nbits;
	const uint64 *w;			/* bit i = period lo + i */
} ActView;

/* parsed header of a flat state */
typedef struct ActHeader
{
	uint8		unit;
	uint8		kind;
	char		tzname[TZ_STRLEN_MAX + 1];
	TimestampTz end_ts;
	int32		base;
	int32		first;
	int32		last;
	uint32		n;
} ActHeader;

/* sequential reader of a flat state, validating as it goes */
typedef struct ActReader
{
	const uint8 *p;
	const uint8 *end;
	int			errcode;
	ActHeader	h;
	uint32		done;
	uint64		prev_ikey;
	const uint8 *prev_k;
	uint32		prev_klen;
	uint64	   *words;
	uint32		wcap;
	int32		min_lo;
	int32		min_start;
	int32		max_hi;
} ActReader;

/* iterator over a state datum, flat or expanded */
typedef struct ActIter
{
	ActState   *st;				/* expanded, or NULL */
	acth_iterator hit;
	uint64		dpos;			/* next dense slot */
	ActReader	rd;
	ActHeader	h;
	uint32		count;
} ActIter;

/*
 * Per-call-site cache of the aggregate's period and zone arguments, keyed
 * by their text (not by the datum's address: a column's values can reuse
 * the same buffer address with other contents).  Groups may have different
 * periods and zones (GROUP BY zone); gen changes whenever the parsed unit
 * or zone does, so that each state checks the arguments again.
 */
#define ACT_ARG_CACHE_LEN 64

/*
 * Generations are numbered per backend, not per cache: a cache built anew
 * at every row (Citus, see ActKeyType) may reuse the address of the
 * previous row's, and must still not pass for it in ActState.checked_args.
 */
static uint32 act_arg_gen = 0;

typedef struct ActArgCache
{
	bool		have;
	uint8		unit;
	uint8		kind;
	uint32		gen;
	int			period_len;		/* bytes in period_arg; -1: not cached */
	int			zone_len;		/* bytes in zone_arg; -1: not cached */
	char		period_arg[ACT_ARG_CACHE_LEN];
	char		zone_arg[ACT_ARG_CACHE_LEN];
	bool		args_const;		/* period and zone are constants of the query */
	Oid			keytype;
	pg_tz	   *tz;
	char		tzname[TZ_STRLEN_MAX + 1];
	ClmTzCache	tzc;
} ActArgCache;

PG_FUNCTION_INFO_V1(clm_activity_in);
PG_FUNCTION_INFO_V1(clm_activity_out);
PG_FUNCTION_INFO_V1(clm_activity_recv);
PG_FUNCTION_INFO_V1(clm_activity_send);
PG_FUNCTION_INFO_V1(clm_activity_accum);
PG_FUNCTION_INFO_V1(clm_activity_combine);
PG_FUNCTION_INFO_V1(clm_activity_info);
PG_FUNCTION_INFO_V1(clm_retention);
PG_FUNCTION_INFO_V1(clm_lifecycle);
PG_FUNCTION_INFO_V1(clm_stickiness);
PG_FUNCTION_INFO_V1(clm_churn_rate);

static Size ActGetFlatSize(ExpandedObjectHeader *eohptr);
static inline void ActNoteCustomer(struct ActState *st, ActCust *c);
static void ActFromDense(struct ActState *st);
static void ActFlattenInto(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods act_methods = {
	ActGetFlatSize,
	ActFlattenInto
};

/* ---------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------
 */

/*
 * 32-bit hash of a key: a 64-bit finalizer for integers, hash_bytes for
 * the bytes of text/uuid keys.
 */
static uint32
ActHashKey(ActState *st, uint64 key)
{
	if (st->kind == ACT_KEY_INT)
	{
		uint64		h = key;

		h ^= h >> 33;
		h *= UINT64CONST(0xff51afd7ed558ccd);
		h ^= h >> 33;
		h *= UINT64CONST(0xc4ceb9fe1a85ec53);
		h ^= h >> 33;
		return (uint32) h;
	}
	else
	{
		ActBytes   *b = (ActBytes *) (uintptr_t) key;

		return hash_bytes((const unsigned char *) b->data, (int) b->len);
	}
}

/*
 * Exact key equality (the key bytes, never a hash).
 */
static bool
ActKeyEqual(ActState *st, uint64 a, uint64 b)
{
	ActBytes   *x,
			   *y;

	if (st->kind == ACT_KEY_INT)
		return a == b;
	x = (ActBytes *) (uintptr_t) a;
	y = (ActBytes *) (uintptr_t) b;
	return x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
}

/*
 * Order of two byte keys: bytewise, then shorter first.
 */
static int
ActBytesCmp(const char *a, uint32 alen, const char *b, uint32 blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* ---------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------
 */

/*
 * A state's bytes do not describe a valid activity state.
 */
static void
ActCorrupt(int code, const char *detail)
{
	ereport(ERROR,
			(errcode(code),
			 errmsg("invalid clm.activity value"),
			 errdetail("%s", detail)));
}

/*
 * Refuse to merge states built with different period units, key types
 * or time zones.
 */
static void
ActCheckCompatible(uint8 unit1, uint8 kind1, const char *tz1,
				   uint8 unit2, uint8 kind2, const char *tz2)
{
	if (unit1 != unit2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge clm.activity states with different period units"),
				 errdetail("One state has %s periods, the other %s periods.",
						   clm_period_name((ClmPeriodUnit) unit1),
						   clm_period_name((ClmPeriodUnit) unit2))));
	if (kind1 != kind2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge clm.activity states with different customer key types"),
				 errdetail("One state has %s keys, the other %s keys.",
						   act_kind_names[kind1], act_kind_names[kind2])));
	if (strcmp(tz1, tz2) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge clm.activity states computed in different time zones"),
				 errdetail("One state uses \"%s\", the other \"%s\".", tz1, tz2)));
}

/*
 * Convert a period index to the int32 the state stores.
 */
static int32
ActPeriod32(int64 idx)
{
	if (idx <= PG_INT32_MIN || idx >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for clm.activity periods")));
	return (int32) idx;
}

/* ---------------------------------------------------------------------
 * The expanded object
 * ---------------------------------------------------------------------
 */

/*
 * A new, empty expanded state in a child context of "parent".
 */
static ActState *
ActCreate(MemoryContext parent, uint8 unit, uint8 kind, const char *tzname, uint32 nelements)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "clm.activity",
											  ALLOCSET_SMALL_SIZES);
	ActState   *st = MemoryContextAllocZero(cxt, sizeof(ActState));

	EOH_init_header(&st->hdr, &act_methods, cxt);
	st->unit = unit;
	st->kind = kind;
	strlcpy(st->tzname, tzname, sizeof(st->tzname));
	st->end_ts = DT_NOBEGIN;
	st->base = PG_INT32_MAX;
	st->first = PG_INT32_MAX;
	st->last = PG_INT32_MIN;
	/*
	 * Integer keys usually move to the dense array after ACT_DENSE_MIN
	 * customers: a table sized for all of them would be zeroed for nothing.
	 */
	if (kind == ACT_KEY_INT)
		nelements = Min(nelements, 2 * ACT_DENSE_MIN);
	st->hash = acth_create(cxt, Max(nelements, 16), st);
	return st;
}

/*
 * The words of a customer's bitmap.
 */
static inline uint64 *
ActWords(ActCust *c)
{
	return c->capw ? c->b.ext : &c->b.inl;
}

/*
 * Refuse a customer whose activity would span more than the bitmap limit.
 */
static void
ActCheckSpan(uint64 nbits)
{
	if ((nbits + 63) / 64 > ACT_MAX_WORDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a customer's activity spans too many periods"),
				 errdetail("At most %d periods fit between a customer's first and last activity.",
						   ACT_MAX_WORDS * 64),
				 errhint("Use a longer period unit.")));
}

/*
 * Make room for "need" bits in a customer's bitmap.
 */
static void
ActGrow(ActState *st, ActCust *c, uint64 need)
{
	uint32		oldw = c->capw ? c->capw : 1;
	uint64		neww = Max((need + 63) / 64, (uint64) oldw * 2);
	uint64	   *w;

	ActCheckSpan(need);
	neww = Min(neww, ACT_MAX_WORDS);
	w = MemoryContextAllocZero(st->hdr.eoh_context, neww * sizeof(uint64));
	memcpy(w, ActWords(c), oldw * sizeof(uint64));
	if (c->capw)
		pfree(c->b.ext);
	c->b.ext = w;
	c->capw = (uint16) neww;
}

/*
 * Mark period p active for a customer, in place.
 */
static inline void
ActSetPeriod(ActState *st, ActCust *c, int32 p)
{
	uint64	   *w;
	uint64		i;

	if (c->nbits == 0)
	{
		c->lo = p;
		c->nbits = 1;
		c->b.inl = 1;
		return;
	}
	if (p >= c->lo)
	{
		i = (uint64) ((int64) p - c->lo);
		if (i >= c->nbits)
		{
			if (i >= (c->capw ? (uint64) c->capw * 64 : ACT_INLINE_BITS))
				ActGrow(st, c, i + 1);
			c->nbits = (uint32) (i + 1);
		}
		w = ActWords(c);
		w[i >> 6] |= UINT64CONST(1) << (i & 63);
	}
	else
	{
		/* an earlier period: shift the bitmap up by d */
		uint64		d = (uint64) ((int64) c->lo - p);
		uint64		nb = c->nbits + d;
		uint32		nw,
					ws,
					bs;
		int64		k;

		if (nb > (c->capw ? (uint64) c->capw * 64 : ACT_INLINE_BITS))
			ActGrow(st, c, nb);
		w = ActWords(c);
		nw = (uint32) ((nb + 63) / 64);
		ws = (uint32) (d >> 6);
		bs = (uint32) (d & 63);
		for (k = nw - 1; k >= 0; k--)
		{
			uint64		v = 0;
			int64		src = k - ws;

			if (src >= 0)
			{
				v = w[src] << bs;
				if (bs && src >= 1)
					v |= w[src - 1] >> (64 - bs);
			}
			w[k] = v;
		}
		w[0] |= 1;
		c->lo = p;
		c->nbits = (uint32) nb;
	}
}

/*
 * Find or add a customer by key; for text/uuid keys "kb"/"klen" give the
 * bytes, which are copied into the state when the customer is new.
 */
static inline ActCust *
ActLookup(ActState *st, uint64 ikey, const char *kb, uint32 klen)
{
	ActCust    *c;
	bool		found;

	if (st->kind == ACT_KEY_INT)
	{
		if (st->dense)
			ActFromDense(st);
		c = acth_insert(st->hash, ikey, &found);
		if (!found)
		{
			if (st->hash->members == 1 || (int64) ikey < st->kmin)
				st->kmin = (int64) ikey;
			if (st->hash->members == 1 || (int64) ikey > st->kmax)
				st->kmax = (int64) ikey;
		}
	}
	else
	{
		if (st->scratch_cap < klen)
		{
			uint32		cap = Max(klen, 64);

			if (st->scratch)
				pfree(st->scratch);
			st->scratch = MemoryContextAlloc(st->hdr.eoh_context, offsetof(ActBytes, data) + cap);
			st->scratch_cap = cap;
		}
		st->scratch->len = klen;
		memcpy(st->scratch->data, kb, klen);
		c = acth_insert(st->hash, (uint64) (uintptr_t) st->scratch, &found);
		if (!found)
		{
			ActBytes   *copy = MemoryContextAlloc(st->hdr.eoh_context, offsetof(ActBytes, data) + klen);

			copy->len = klen;
			memcpy(copy->data, kb, klen);
			c->key = (uint64) (uintptr_t) copy;
		}
	}
	if (!found)
	{
		c->born = ACT_NONE;
		c->nbits = 0;
		c->capw = 0;
	}
	return c;
}

/*
 * Union a span of at most 64 periods (bit i of word = period lo + i) into a
 * customer, in place.
 */
static inline void
ActUnionSmall(ActState *st, ActCust *c, int32 lo, uint32 nbits, uint64 word)
{
	uint64	   *w;
	uint64		d;
	int			sh;

	if (c->nbits == 0)
	{
		c->lo = lo;
		c->nbits = nbits;
		c->b.inl = word;
		return;
	}
	if (nbits == 1)
	{
		ActSetPeriod(st, c, lo);
		return;
	}
	/* cover both ends first, then OR the shifted word */
	ActSetPeriod(st, c, lo);
	ActSetPeriod(st, c, (int32) ((int64) lo + nbits - 1));
	d = (uint64) ((int64) lo - c->lo);
	w = ActWords(c);
	sh = (int) (d & 63);
	w[d >> 6] |= word << sh;
	if (sh && (word >> (64 - sh)))
		w[(d >> 6) + 1] |= word >> (64 - sh);
}

/*
 * Number of customers in the state.
 */
static inline uint32
ActCount(ActState *st)
{
	return st->dense ? st->dcount : st->hash->members;
}

/*
 * Keep the state's summary fields up to date after a dense slot changed.
 */
static inline void
ActNoteDense(ActState *st, const ActDense *d)
{
	int32		hi = d->lo + pg_leftmost_one_pos64(d->word);
	int32		start = Min(d->lo, d->born);

	if (d->lo < st->base)
		st->base = d->lo;
	if (start < st->first)
		st->first = start;
	if (hi > st->last)
		st->last = hi;
}

/*
 * Capacity of a dense array starting at key base: "want" slots, but none
 * past INT64_MAX (at least "need", the slots of the keys it must hold), so
 * that base + capacity - 1 is always a valid key.
 */
static inline uint64
ActDenseCap(int64 base, uint64 need, uint64 want)
{
	uint64		room = (uint64) PG_INT64_MAX - (uint64) base;	/* slots - 1 */

	Assert(need >= 1 && need - 1 <= room);
	return (want - 1 > room) ? room + 1 : want;
}

/*
 * Leave dense mode: move every dense slot into the hash table, for good.
 */
static void
ActFromDense(ActState *st)
{
	uint64		i;

	for (i = 0; i < st->dcap; i++)
	{
		ActDense   *d = &st->dense[i];
		ActCust    *c;
		bool		found;

		if (d->word == 0)
			continue;
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		c = acth_insert(st->hash, (uint64) (st->dbase + (int64) i), &found);
		Assert(!found);
		c->born = d->born;
		c->lo = d->lo;
		c->nbits = (uint32) pg_leftmost_one_pos64(d->word) + 1;
		c->capw = 0;
		c->b.inl = d->word;
	}
	pfree(st->dense);
	st->dense = NULL;
	st->dcount = 0;
	st->no_dense = true;
}

/*
 * Enter dense mode when the integer keys seen so far fill their range
 * densely and every span fits 64 periods: the hash table is replaced by an
 * array indexed by key, 16 bytes per slot, which is smaller and needs no
 * probing.
 */
static void
ActToDense(ActState *st)
{
	uint32		n = st->hash->members;
	uint64		span = (uint64) st->kmax - (uint64) st->kmin;	/* no overflow */
	uint64		cap;
	ActDense   *dense;
	acth_iterator it;
	ActCust    *c;

	if (st->no_dense || st->dense || st->kind != ACT_KEY_INT || n < ACT_DENSE_MIN ||
		span >= (uint64) n * ACT_DENSE_FILL)
		return;
	cap = ActDenseCap(st->kmin, span + 1, span + 1 + (span + 1) / 8 + 1024);
	dense = MemoryContextAllocExtended(st->hdr.eoh_context, cap * sizeof(ActDense),
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (dense == NULL)
	{
		st->no_dense = true;
		return;
	}
	acth_start_iterate(st->hash, &it);
	while ((c = acth_iterate(st->hash, &it)) != NULL)
	{
		ActDense   *d;

		if (c->nbits > 64)
		{
			pfree(dense);
			st->no_dense = true;
			return;
		}
		d = &dense[(int64) c->key - st->kmin];
		d->lo = c->lo;
		d->born = c->born;
		d->word = c->b.inl;
	}
	st->dense = dense;
	st->dbase = st->kmin;
	st->dcap = cap;
	st->dcount = n;
	acth_destroy(st->hash);
	st->hash = acth_create(st->hdr.eoh_context, 16, st);
}

/*
 * Make room for key k in the dense array, or leave dense mode when the
 * array would become too sparse.  Returns false when dense mode was left.
 */
static bool
ActDenseGrow(ActState *st, int64 k)
{
	/* the array never reaches past INT64_MAX (ActDenseCap): no overflow */
	int64		lo = Min(st->dbase, k);
	int64		hi = Max(st->dbase + (int64) (st->dcap - 1), k);
	uint64		span = (uint64) hi - (uint64) lo;
	uint64		range,
				cap;
	ActDense   *dense;

	if (span >= (uint64) (st->dcount + 1) * ACT_DENSE_FILL || span >= ((uint64) 1 << 34))
	{
		ActFromDense(st);
		return false;
	}
	range = span + 1;
	cap = range + range / 8 + 1024;

	/*
	 * Keys arriving in order (a sorted state being merged) grow the range
	 * a little at a time: grow the array at least twofold, as long as it
	 * stays within ACT_DENSE_FILL slots per customer, so that it is copied
	 * O(log n) times rather than once per 1/8 of growth.
	 */
	cap = Max(cap, Min(2 * st->dcap, (uint64) (st->dcount + 1) * ACT_DENSE_FILL));
	/* leave the slack on the side that grew, within the int64 keys */
	if (k < st->dbase)
	{
		uint64		room = (uint64) hi - (uint64) PG_INT64_MIN;	/* slots - 1 */

		if (cap - 1 > room)
			cap = room + 1;
		lo = (int64) ((uint64) hi - (cap - 1));
	}
	else
		cap = ActDenseCap(lo, range, cap);
	dense = MemoryContextAllocExtended(st->hdr.eoh_context, cap * sizeof(ActDense),
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (dense == NULL)
	{
		ActFromDense(st);
		return false;
	}
	memcpy(dense + (st->dbase - lo), st->dense, st->dcap * sizeof(ActDense));
	pfree(st->dense);
	st->dense = dense;
	st->dbase = lo;
	st->dcap = cap;
	return true;
}

/*
 * Union one buffered entry into a dense slot; false when the span would
 * exceed 64 periods (the caller then leaves dense mode).
 */
static inline bool
ActDenseUnion(ActState *st, ActDense *d, int32 lo, uint32 nbits, uint64 word, int32 born)
{
	if (d->word == 0)
	{
		d->lo = lo;
		d->born = born;
		d->word = word;
		st->dcount++;
	}
	else
	{
		int64		nlo = Min(d->lo, lo);
		int64		nhi = Max((int64) d->lo + pg_leftmost_one_pos64(d->word), (int64) lo + nbits - 1);

		if (nhi - nlo >= 64)
			return false;
		d->word = (d->word << (d->lo - nlo)) | (word << (lo - nlo));
		d->lo = (int32) nlo;
		if (born < d->born)
			d->born = born;
	}
	ActNoteDense(st, d);
	return true;
}

/*
 * Insert the buffered integer-key entries.  Each entry's slot (dense
 * array) or hash bucket is prefetched a few entries ahead, so the cache
 * misses of a large state overlap instead of stalling one row at a time.
 */
static void
ActDrain(ActState *st)
{
	uint32		h[ACT_BATCH];
	uint32		n = st->npend,
				i = 0;

	if (n == 0)
		return;
	if (st->dense)
	{
		for (i = 0; i < n && i < ACT_PREFETCH; i++)
		{
			uint64		off = st->pkey[i] - (uint64) st->dbase;

			if (off < st->dcap)
				__builtin_prefetch(&st->dense[off]);
		}
		for (i = 0; i < n; i++)
		{
			int64		k = (int64) st->pkey[i];
			uint64		off;

			if (i + ACT_PREFETCH < n)
			{
				off = st->pkey[i + ACT_PREFETCH] - (uint64) st->dbase;
				if (off < st->dcap)
					__builtin_prefetch(&st->dense[off]);
			}
			off = (uint64) k - (uint64) st->dbase;
			if (off >= st->dcap)
			{
				if (!ActDenseGrow(st, k))
					break;
				off = (uint64) k - (uint64) st->dbase;
			}
			if (!ActDenseUnion(st, &st->dense[off], st->plo[i], st->pnbits[i], st->pword[i], st->pborn[i]))
			{
				ActFromDense(st);
				break;
			}
		}
		if (i == n)
		{
			st->npend = 0;
			return;
		}
		/* dense mode was left at entry i: the rest goes into the hash */
	}
	{
		uint32		first = i;

		for (i = first; i < n; i++)
			h[i] = ActHashKey(st, st->pkey[i]);
		for (i = first; i < n && i < first + ACT_PREFETCH; i++)
			__builtin_prefetch(&st->hash->data[h[i] & st->hash->sizemask]);
		for (i = first; i < n; i++)
		{
			ActCust    *c;
			bool		found;
			int64		k = (int64) st->pkey[i];

			if (i + ACT_PREFETCH < n)
				__builtin_prefetch(&st->hash->data[h[i + ACT_PREFETCH] & st->hash->sizemask]);
			c = acth_insert_hash(st->hash, st->pkey[i], h[i], &found);
			if (!found)
			{
				c->born = ACT_NONE;
				c->nbits = 0;
				c->capw = 0;
				if (st->hash->members == 1 || k < st->kmin)
					st->kmin = k;
				if (st->hash->members == 1 || k > st->kmax)
					st->kmax = k;
			}
			ActUnionSmall(st, c, st->plo[i], st->pnbits[i], st->pword[i]);
			if (st->pborn[i] < c->born)
				c->born = st->pborn[i];
			ActNoteCustomer(st, c);
		}
	}
	st->npend = 0;
	ActToDense(st);
}

/*
 * Buffer an integer-key entry spanning at most 64 periods.
 */
static inline void
ActPush(ActState *st, uint64 key, int32 lo, uint32 nbits, uint64 word, int32 born)
{
	Assert(st->kind == ACT_KEY_INT && nbits >= 1 && nbits <= 64);
	if (st->pkey == NULL)
	{
		MemoryContext cxt = st->hdr.eoh_context;

		st->pkey = MemoryContextAlloc(cxt, ACT_BATCH * sizeof(uint64));
		st->plo = MemoryContextAlloc(cxt, ACT_BATCH * sizeof(int32));
		st->pnbits = MemoryContextAlloc(cxt, ACT_BATCH * sizeof(uint32));
		st->pword = MemoryContextAlloc(cxt, ACT_BATCH * sizeof(uint64));
		st->pborn = MemoryContextAlloc(cxt, ACT_BATCH * sizeof(int32));
	}
	st->pkey[st->npend] = key;
	st->plo[st->npend] = lo;
	st->pnbits[st->npend] = nbits;
	st->pword[st->npend] = word;
	st->pborn[st->npend] = born;
	if (++st->npend == ACT_BATCH)
		ActDrain(st);
}

/*
 * Keep the state's summary fields up to date after a customer changed.
 */
static inline void
ActNoteCustomer(ActState *st, ActCust *c)
{
	int32		hi = (int32) ((int64) c->lo + c->nbits - 1);
	int32		start = Min(c->lo, c->born);

	if (c->lo < st->base)
		st->base = c->lo;
	if (start < st->first)
		st->first = start;
	if (hi > st->last)
		st->last = hi;
}

/*
 * Merge one customer (from another state) into the expanded state.
 */
static void
ActMergeView(ActState *st, const ActView *v)
{
	ActCust    *c;
	uint32		nw = (v->nbits + 63) / 64;
	uint32		k;

	if (st->kind == ACT_KEY_INT && v->nbits <= 64)
	{
		ActPush(st, v->ikey, v->lo, v->nbits, v->w[0], v->born);
		return;
	}
	c = ActLookup(st, v->ikey, v->kbytes, v->klen);

	/* the two ends first, so the bitmap grows at most once */
	ActSetPeriod(st, c, v->lo);
	ActSetPeriod(st, c, (int32) ((int64) v->lo + v->nbits - 1));
	for (k = 0; k < nw; k++)
	{
		uint64		word = v->w[k];

		while (word)
		{
			int			b = pg_rightmost_one_pos64(word);

			ActSetPeriod(st, c, (int32) ((int64) v->lo + (int64) k * 64 + b));
			word &= word - 1;
		}
	}
	if (v->born < c->born)
		c->born = v->born;
	ActNoteCustomer(st, c);
}

/* ---------------------------------------------------------------------
 * Flat form: writing
 * ---------------------------------------------------------------------
 */

/*
 * Append v as an LEB128 varint (7 bits per byte, low bits first).
 */
static inline void
PutVarint(StringInfo buf, uint64 v)
{
	char		tmp[10];
	int			n = 0;

	do
	{
		uint8		b = v & 0x7f;

		v >>= 7;
		tmp[n++] = (char) (v ? (b | 0x80) : b);
	} while (v);
	appendBinaryStringInfoNT(buf, tmp, n);
}

/*
 * Write v as an LEB128 varint at p (room for 10 bytes), as PutVarint;
 * returns the position after it.
 */
static inline char *
PutVarintRaw(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

/*
 * Map a signed number to an unsigned one with small magnitudes small.
 */
static inline uint64
ZigZag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

/*
 * Inverse of ZigZag.
 */
static inline int64
UnZigZag(uint64 v)
{
	return (int64) (v >> 1) ^ -(int64) (v & 1);
}

/*
 * Append the low "bytes" bytes of v, most significant first.
 */
static void
PutBE(StringInfo buf, uint64 v, int bytes)
{
	char		tmp[8];
	int			i;

	for (i = 0; i < bytes; i++)
		tmp[i] = (char) (v >> (8 * (bytes - 1 - i)));
	appendBinaryStringInfoNT(buf, tmp, bytes);
}

/*
 * Write the header of a flat state; the customer count is patched later by
 * ActPatchCount when not known yet.
 */
static void
ActPutHeader(StringInfo buf, uint8 unit, uint8 kind, const char *tzname, uint32 n,
			 TimestampTz end_ts, int32 base, int32 first, int32 last)
{
	appendStringInfoChar(buf, ACT_VERSION);
	appendStringInfoChar(buf, (char) unit);
	appendStringInfoChar(buf, (char) kind);
	appendStringInfoChar(buf, 0);
	PutBE(buf, (uint64) (n ? end_ts : 0), 8);
	PutBE(buf, (uint64) (uint32) (n ? base : 0), 4);
	PutBE(buf, (uint64) (uint32) (n ? first : 0), 4);
	PutBE(buf, (uint64) (uint32) (n ? last : 0), 4);
	PutBE(buf, n, 4);
	appendStringInfoChar(buf, (char) strlen(tzname));
	appendBinaryStringInfo(buf, tzname, strlen(tzname));
}

/*
 * Write one customer record; *prev carries the previous integer key
 * (ignored for the first record).
 */
static void
ActPutRecord(StringInfo buf, uint8 kind, bool first_record, uint64 *prev,
			 uint64 ikey, const char *kb, uint32 klen,
			 int32 base, int32 lo, int32 born, uint32 nbits, const uint64 *w)
{
	uint32		j,
				nmid = nbits >= 2 ? nbits - 2 : 0;
	char	   *p;

	/* room for the whole record: at most 4 varints, the key, the bits */
	enlargeStringInfo(buf, 4 * 10 + (int) klen + (int) ((nmid + 7) / 8));
	p = buf->data + buf->len;
	if (kind == ACT_KEY_INT)
	{
		p = PutVarintRaw(p, first_record ? ZigZag((int64) ikey) : ikey - *prev);
		*prev = ikey;
	}
	else
	{
		if (kind == ACT_KEY_TEXT)
			p = PutVarintRaw(p, klen);
		memcpy(p, kb, klen);
		p += klen;
	}
	p = PutVarintRaw(p, ((uint64) ((int64) lo - base) << 1) | (born != ACT_NONE));
	if (born != ACT_NONE)
		p = PutVarintRaw(p, ZigZag((int64) born - lo));
	p = PutVarintRaw(p, nbits);
	/* middle bits 1 .. nbits-2, packed 8 per byte */
	for (j = 0; j < nmid; j += 8)
	{
		uint32		bit = j + 1;
		uint64		v = w[bit >> 6] >> (bit & 63);
		uint8		byte;

		if ((bit & 63) > 56 && (bit >> 6) + 1 < (nbits + 63) / 64)
			v |= w[(bit >> 6) + 1] << (64 - (bit & 63));
		byte = (uint8) v;
		if (nmid - j < 8)
			byte &= (uint8) ((1u << (nmid - j)) - 1);
		*p++ = (char) byte;
	}
	buf->len = (int) (p - buf->data);
}

/*
 * qsort comparator of customers by key (text/uuid keys).
 */
static int
ActCustCmp(const void *a, const void *b)
{
	const ActCust *x = *(ActCust *const *) a;
	const ActCust *y = *(ActCust *const *) b;
	ActBytes   *p = (ActBytes *) (uintptr_t) x->key;
	ActBytes   *q = (ActBytes *) (uintptr_t) y->key;

	return ActBytesCmp(p->data, p->len, q->data, q->len);
}

/*
 * Sort customers by integer key: LSD radix sort on the sign-flipped key,
 * 11 bits per pass, skipping passes in which all keys share the digit
 * (small keys need two passes).
 */
static void
ActRadixSort(ActCust **arr, uint32 n)
{
	ActCust   **tmp = palloc_extended(Max(n, 1) * sizeof(ActCust *), MCXT_ALLOC_HUGE);
	uint32	   *count = palloc(2048 * sizeof(uint32));
	int			shift;

	for (shift = 0; shift < 64; shift += 11)
	{
		uint32		i,
					sum = 0;

		CHECK_FOR_INTERRUPTS();
		memset(count, 0, 2048 * sizeof(uint32));
		for (i = 0; i < n; i++)
			count[((arr[i]->key ^ (UINT64CONST(1) << 63)) >> shift) & 2047]++;
		for (i = 0; i < 2048; i++)
		{
			uint32		c = count[i];

			if (c == n)
				break;
			count[i] = sum;
			sum += c;
		}
		if (i < 2048)
			continue;			/* one digit value: nothing to reorder */
		for (i = 0; i < n; i++)
			tmp[count[((arr[i]->key ^ (UINT64CONST(1) << 63)) >> shift) & 2047]++] = arr[i];
		memcpy(arr, tmp, n * sizeof(ActCust *));
	}
	pfree(tmp);
	pfree(count);
}

/*
 * Encode the expanded state into its flat payload (cached until the state
 * changes).
 */
static void
ActEncode(ActState *st)
{
	StringInfoData buf;
	ActCust   **arr;
	ActCust    *c;
	acth_iterator it;
	uint32		n = st->hash->members,
				i = 0;
	uint64		prev = 0;
	MemoryContext old;

	if (st->flat)
		return;
	ActDrain(st);
	n = ActCount(st);
	old = MemoryContextSwitchTo(st->hdr.eoh_context);
	if (st->dense)
	{
		/* slots are in key order already */
		uint64		k;

		initStringInfo(&buf);
		ActPutHeader(&buf, st->unit, st->kind, st->tzname, n, st->end_ts, st->base, st->first, st->last);
		for (k = 0; k < st->dcap; k++)
		{
			ActDense   *d = &st->dense[k];

			if (d->word == 0)
				continue;
			if ((i & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
			ActPutRecord(&buf, st->kind, i == 0, &prev, (uint64) (st->dbase + (int64) k), NULL, 0,
						 st->base, d->lo, d->born, (uint32) pg_leftmost_one_pos64(d->word) + 1, &d->word);
			i++;
		}
		Assert(i == n);
		MemoryContextSwitchTo(old);
		st->flat = buf.data;
		st->flat_len = buf.len;
		return;
	}
	arr = palloc_extended(Max(n, 1) * sizeof(ActCust *), MCXT_ALLOC_HUGE);
	acth_start_iterate(st->hash, &it);
	while ((c = acth_iterate(st->hash, &it)) != NULL)
		arr[i++] = c;
	Assert(i == n);
	if (st->kind == ACT_KEY_INT)
		ActRadixSort(arr, n);
	else
		qsort(arr, n, sizeof(ActCust *), ActCustCmp);

	initStringInfo(&buf);
	ActPutHeader(&buf, st->unit, st->kind, st->tzname, n, st->end_ts, st->base, st->first, st->last);
	for (i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		c = arr[i];
		if (st->kind == ACT_KEY_INT)
			ActPutRecord(&buf, st->kind, i == 0, &prev, c->key, NULL, 0,
						 st->base, c->lo, c->born, c->nbits, ActWords(c));
		else
		{
			ActBytes   *kb = (ActBytes *) (uintptr_t) c->key;

			ActPutRecord(&buf, st->kind, i == 0, &prev, 0, kb->data, kb->len,
						 st->base, c->lo, c->born, c->nbits, ActWords(c));
		}
	}
	pfree(arr);
	MemoryContextSwitchTo(old);
	st->flat = buf.data;
	st->flat_len = buf.len;
}

/*
 * Expanded-object method: size of the flat varlena.
 */
static Size
ActGetFlatSize(ExpandedObjectHeader *eohptr)
{
	ActState   *st = (ActState *) eohptr;

	ActEncode(st);
	return VARHDRSZ + st->flat_len;
}

/*
 * Expanded-object method: write the flat varlena.
 */
static void
ActFlattenInto(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ActState   *st = (ActState *) eohptr;

	ActEncode(st);
	Assert(allocated_size == VARHDRSZ + st->flat_len);
	SET_VARSIZE(result, VARHDRSZ + st->flat_len);
	memcpy(VARDATA(result), st->flat, st->flat_len);
}

/*
 * The state changed: drop the cached flat form.
 */
static inline void
ActInvalidate(ActState *st)
{
	if (st->flat)
	{
		pfree(st->flat);
		st->flat = NULL;
	}
}

/* ---------------------------------------------------------------------
 * Flat form: reading (every byte validated)
 * ---------------------------------------------------------------------
 */

/*
 * Read a varint, rejecting truncated, overlong and non-minimal encodings.
 */
static inline uint64
GetVarint(ActReader *r)
{
	uint64		v = 0;
	int			shift = 0;

	for (;;)
	{
		uint8		b;

		if (r->p >= r->end)
			ActCorrupt(r->errcode, "The value ends in the middle of a number.");
		b = *r->p++;
		if (shift == 63 && (b & 0x7e))
			ActCorrupt(r->errcode, "A number is out of range.");
		v |= (uint64) (b & 0x7f) << shift;
		if (!(b & 0x80))
		{
			if (b == 0 && shift > 0)
				ActCorrupt(r->errcode, "A number is not in its shortest form.");
			break;
		}
		shift += 7;
		if (shift > 63)
			ActCorrupt(r->errcode, "A number is out of range.");
	}
	return v;
}

/*
 * Read a big-endian unsigned number of "bytes" bytes.
 */
static uint64
GetBE(ActReader *r, int bytes)
{
	uint64		v = 0;
	int			i;

	if (r->end - r->p < bytes)
		ActCorrupt(r->errcode, "The value is truncated.");
	for (i = 0; i < bytes; i++)
		v = (v << 8) | *r->p++;
	return v;
}

/*
 * Start reading a flat payload: parse and check the header.
 */
static void
ActReaderInit(ActReader *r, const char *data, Size len, int errcode)
{
	uint8		version,
				flags,
				tzlen;

	memset(r, 0, sizeof(*r));
	r->p = (const uint8 *) data;
	r->end = r->p + len;
	r->errcode = errcode;
	if (len < ACT_HEADER_FIXED)
		ActCorrupt(errcode, "The value is shorter than the header.");
	version = (uint8) GetBE(r, 1);
	if (version != ACT_VERSION)
		ActCorrupt(errcode, "Unknown format version.");
	r->h.unit = (uint8) GetBE(r, 1);
	if (r->h.unit > CLM_YEAR)
		ActCorrupt(errcode, "Unknown period unit.");
	r->h.kind = (uint8) GetBE(r, 1);
	if (r->h.kind < ACT_KEY_INT || r->h.kind > ACT_KEY_UUID)
		ActCorrupt(errcode, "Unknown customer key type.");
	flags = (uint8) GetBE(r, 1);
	if (flags != 0)
		ActCorrupt(errcode, "Unknown flags.");
	r->h.end_ts = (TimestampTz) GetBE(r, 8);
	r->h.base = (int32) (uint32) GetBE(r, 4);
	r->h.first = (int32) (uint32) GetBE(r, 4);
	r->h.last = (int32) (uint32) GetBE(r, 4);
	r->h.n = (uint32) GetBE(r, 4);
	tzlen = (uint8) GetBE(r, 1);
	if (tzlen == 0 || r->end - r->p < tzlen)
		ActCorrupt(errcode, "Invalid time zone name.");
	memcpy(r->h.tzname, r->p, tzlen);
	r->h.tzname[tzlen] = '\0';
	if (strlen(r->h.tzname) != tzlen)
		ActCorrupt(errcode, "Invalid time zone name.");
	r->p += tzlen;
	if (r->h.n > 0 && TIMESTAMP_NOT_FINITE(r->h.end_ts))
		ActCorrupt(errcode, "The last event time is not finite.");
	if (r->h.n == 0 && (r->h.end_ts != 0 || r->h.base != 0 || r->h.first != 0 || r->h.last != 0))
		ActCorrupt(errcode, "An empty state has a period range.");
	/* every record takes at least 3 bytes */
	if ((uint64) r->h.n * 3 > (uint64) (r->end - r->p))
		ActCorrupt(errcode, "The customer count does not match the length.");
	r->min_lo = PG_INT32_MAX;
	r->min_start = PG_INT32_MAX;
	r->max_hi = PG_INT32_MIN;
}

/*
 * Read the next customer record into v; false after the last one, when
 * the summary fields of the header are checked too.
 */
static bool
ActReaderNext(ActReader *r, ActView *v)
{
	uint64		x,
				nbits,
				nmid,
				nbytes,
				j;
	int64		lo,
				born = ACT_NONE;
	uint32		nw;

	if (r->done == r->h.n)
	{
		if (r->p != r->end)
			ActCorrupt(r->errcode, "Unexpected bytes after the last customer.");
		if (r->h.n > 0 && (r->min_lo != r->h.base || r->min_start != r->h.first ||
						   r->max_hi != r->h.last))
			ActCorrupt(r->errcode, "The period range in the header does not match the customers.");
		return false;
	}
	if ((r->done & 0xffff) == 0)
		CHECK_FOR_INTERRUPTS();

	/* key */
	if (r->h.kind == ACT_KEY_INT)
	{
		x = GetVarint(r);
		if (r->done == 0)
			v->ikey = (uint64) UnZigZag(x);
		else
		{
			/* order-preserving map of int64 onto uint64: room left above */
			uint64		room = PG_UINT64_MAX - (r->prev_ikey ^ (UINT64CONST(1) << 63));

			if (x == 0 || x > room)
				ActCorrupt(r->errcode, "Customer keys are not strictly increasing.");
			v->ikey = r->prev_ikey + x;
		}
		r->prev_ikey = v->ikey;
		v->kbytes = NULL;
		v->klen = 0;
	}
	else
	{
		uint64		len = (r->h.kind == ACT_KEY_UUID) ? UUID_LEN : GetVarint(r);

		if (len > (uint64) (r->end - r->p) || len > MaxAllocSize)
			ActCorrupt(r->errcode, "A customer key is truncated.");
		v->kbytes = (const char *) r->p;
		v->klen = (uint32) len;
		r->p += len;
		if (r->done > 0 &&
			ActBytesCmp((const char *) r->prev_k, r->prev_klen, v->kbytes, v->klen) >= 0)
			ActCorrupt(r->errcode, "Customer keys are not strictly increasing.");
		r->prev_k = (const uint8 *) v->kbytes;
		r->prev_klen = v->klen;
		v->ikey = 0;
	}

	/* periods */
	x = GetVarint(r);
	lo = (int64) r->h.base + (int64) (x >> 1);
	if ((x >> 1) > (uint64) PG_INT32_MAX * 2 || lo >= PG_INT32_MAX || lo <= PG_INT32_MIN)
		ActCorrupt(r->errcode, "A period is out of range.");
	if (x & 1)
	{
		uint64		z = GetVarint(r);

		born = lo + UnZigZag(z);
		if (z > (uint64) PG_INT32_MAX * 4 || born >= PG_INT32_MAX || born <= PG_INT32_MIN)
			ActCorrupt(r->errcode, "A born period is out of range.");
	}
	nbits = GetVarint(r);
	if (nbits == 0 || nbits > (uint64) ACT_MAX_WORDS * 64 || lo + (int64) nbits - 1 >= PG_INT32_MAX)
		ActCorrupt(r->errcode, "A customer's period count is out of range.");
	nmid = nbits >= 2 ? nbits - 2 : 0;
	nbytes = (nmid + 7) / 8;
	if (nbytes > (uint64) (r->end - r->p))
		ActCorrupt(r->errcode, "A customer's periods are truncated.");

	nw = (uint32) ((nbits + 63) / 64);
	if (nw > r->wcap)
	{
		uint32		cap = Max(nw, 8);

		if (r->words)
			pfree(r->words);
		r->words = palloc(cap * sizeof(uint64));
		r->wcap = cap;
	}
	memset(r->words, 0, nw * sizeof(uint64));
	r->words[0] = 1;
	r->words[(nbits - 1) >> 6] |= UINT64CONST(1) << ((nbits - 1) & 63);
	for (j = 0; j < nbytes; j++)
	{
		uint64		byte = r->p[j];
		uint64		bit = 1 + j * 8;

		if (j == nbytes - 1 && (nmid & 7) != 0 && (byte >> (nmid & 7)) != 0)
			ActCorrupt(r->errcode, "Unused bits are set.");
		r->words[bit >> 6] |= byte << (bit & 63);
		if ((bit & 63) > 56 && byte >> (64 - (bit & 63)))
			r->words[(bit >> 6) + 1] |= byte >> (64 - (bit & 63));
	}
	r->p += nbytes;

	v->lo = (int32) lo;
	v->born = (int32) born;
	v->nbits = (uint32) nbits;
	v->w = r->words;
	if (v->lo < r->min_lo)
		r->min_lo = v->lo;
	if (Min(v->lo, v->born) < r->min_start)
		r->min_start = Min(v->lo, v->born);
	if (lo + (int64) nbits - 1 > r->max_hi)
		r->max_hi = (int32) (lo + nbits - 1);
	r->done++;
	return true;
}

/*
 * Check every byte of a flat payload (type input and receive).
 */
static void
ActValidate(const char *data, Size len, int errcode)
{
	ActReader	r;
	ActView		v;

	ActReaderInit(&r, data, len, errcode);
	if (pg_tzset(r.h.tzname) == NULL)
		ActCorrupt(errcode, "Unknown time zone.");
	while (ActReaderNext(&r, &v))
		;
	if (r.words)
		pfree(r.words);
}

/*
 * OR the srcbits-bit bitmap src, shifted up by d bits, into dst.
 */
static inline void
ActOrShifted(uint64 *dst, const uint64 *src, uint32 srcbits, uint64 d)
{
	uint32		nw = (srcbits + 63) / 64,
				k;
	int			sh = (int) (d & 63);

	for (k = 0; k < nw; k++)
	{
		uint64		word = src[k];
		uint64		i = (d >> 6) + k;

		dst[i] |= word << sh;
		if (sh && (word >> (64 - sh)))
			dst[i + 1] |= word >> (64 - sh);
	}
}

/*
 * Union of two flat states by a single merge pass over their sorted
 * customers: sequential, no hash table.  Both must be non-empty and
 * compatible.  Returns a new varlena in CurrentMemoryContext.
 */
static struct varlena *
ActMergeFlat(ActReader *ra, ActReader *rb)
{
	StringInfoData buf;
	ActView		va,
				vb;
	bool		ha,
				hb;
	int32		base = Min(ra->h.base, rb->h.base);
	uint64		prev = 0;
	uint32		n = 0;
	uint64	   *mw = NULL;
	uint32		mwcap = 0;
	struct varlena *res;
	int			i;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	ActPutHeader(&buf, ra->h.unit, ra->h.kind, ra->h.tzname, 1,
				 Max(ra->h.end_ts, rb->h.end_ts), base,
				 Min(ra->h.first, rb->h.first), Max(ra->h.last, rb->h.last));
	ha = ActReaderNext(ra, &va);
	hb = ActReaderNext(rb, &vb);
	while (ha || hb)
	{
		int			cmp;

		if (!hb)
			cmp = -1;
		else if (!ha)
			cmp = 1;
		else if (ra->h.kind == ACT_KEY_INT)
			cmp = ((int64) va.ikey > (int64) vb.ikey) - ((int64) va.ikey < (int64) vb.ikey);
		else
			cmp = ActBytesCmp(va.kbytes, va.klen, vb.kbytes, vb.klen);

		if (cmp < 0)
		{
			ActPutRecord(&buf, ra->h.kind, n == 0, &prev, va.ikey, va.kbytes, va.klen,
						 base, va.lo, va.born, va.nbits, va.w);
			ha = ActReaderNext(ra, &va);
		}
		else if (cmp > 0)
		{
			ActPutRecord(&buf, ra->h.kind, n == 0, &prev, vb.ikey, vb.kbytes, vb.klen,
						 base, vb.lo, vb.born, vb.nbits, vb.w);
			hb = ActReaderNext(rb, &vb);
		}
		else
		{
			int32		lo = Min(va.lo, vb.lo);
			int64		hi = Max((int64) va.lo + va.nbits, (int64) vb.lo + vb.nbits) - 1;
			uint32		nbits,
						nw;

			/*
			 * Each side is within the span limit, their union need not be:
			 * refuse it here as the other merge paths do (ActGrow), rather
			 * than write a record that no reader accepts.
			 */
			ActCheckSpan((uint64) (hi - lo + 1));
			nbits = (uint32) (hi - lo + 1);
			nw = (nbits + 63) / 64 + 1;
			if (nw > mwcap)
			{
				mwcap = Max(nw, 8);
				if (mw)
					pfree(mw);
				mw = palloc(mwcap * sizeof(uint64));
			}
			memset(mw, 0, nw * sizeof(uint64));
			ActOrShifted(mw, va.w, va.nbits, (uint64) ((int64) va.lo - lo));
			ActOrShifted(mw, vb.w, vb.nbits, (uint64) ((int64) vb.lo - lo));
			ActPutRecord(&buf, ra->h.kind, n == 0, &prev, va.ikey, va.kbytes, va.klen,
						 base, lo, Min(va.born, vb.born), nbits, mw);
			ha = ActReaderNext(ra, &va);
			hb = ActReaderNext(rb, &vb);
		}
		n++;
	}
	/* patch the customer count (after varlena header + 24 header bytes) */
	for (i = 0; i < 4; i++)
		buf.data[VARHDRSZ + 24 + i] = (char) (n >> (8 * (3 - i)));
	res = (struct varlena *) buf.data;
	SET_VARSIZE(res, buf.len);
	if (mw)
		pfree(mw);
	return res;
}

/* ---------------------------------------------------------------------
 * Iterating over a state datum
 * ---------------------------------------------------------------------
 */

/*
 * Begin iterating over the customers of a clm.activity datum, expanded or
 * flat.
 */
static void
ActIterInit(ActIter *it, Datum d)
{
	memset(it, 0, sizeof(*it));
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods != &act_methods)
			elog(ERROR, "expanded object is not a clm.activity");
		it->st = (ActState *) eoh;
		ActDrain(it->st);
		it->h.unit = it->st->unit;
		it->h.kind = it->st->kind;
		strlcpy(it->h.tzname, it->st->tzname, sizeof(it->h.tzname));
		it->h.end_ts = it->st->end_ts;
		it->h.base = it->st->base;
		it->h.first = it->st->first;
		it->h.last = it->st->last;
		it->h.n = ActCount(it->st);
		acth_start_iterate(it->st->hash, &it->hit);
	}
	else
	{
		struct varlena *flat = PG_DETOAST_DATUM(d);

		ActReaderInit(&it->rd, VARDATA(flat), VARSIZE(flat) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		it->h = it->rd.h;
	}
}

/*
 * Next customer, or false at the end.
 */
static bool
ActIterNext(ActIter *it, ActView *v)
{
	if (it->st && it->st->dense)
	{
		ActState   *st = it->st;

		while (it->dpos < st->dcap && st->dense[it->dpos].word == 0)
			it->dpos++;
		if (it->dpos >= st->dcap)
			return false;
		if ((++it->count & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		v->ikey = (uint64) (st->dbase + (int64) it->dpos);
		v->kbytes = NULL;
		v->klen = 0;
		v->born = st->dense[it->dpos].born;
		v->lo = st->dense[it->dpos].lo;
		v->nbits = (uint32) pg_leftmost_one_pos64(st->dense[it->dpos].word) + 1;
		v->w = &st->dense[it->dpos].word;
		it->dpos++;
		return true;
	}
	if (it->st)
	{
		ActCust    *c = acth_iterate(it->st->hash, &it->hit);

		if (c == NULL)
			return false;
		if ((++it->count & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (it->st->kind == ACT_KEY_INT)
		{
			v->ikey = c->key;
			v->kbytes = NULL;
			v->klen = 0;
		}
		else
		{
			ActBytes   *kb = (ActBytes *) (uintptr_t) c->key;

			v->ikey = 0;
			v->kbytes = kb->data;
			v->klen = kb->len;
		}
		v->born = c->born;
		v->lo = c->lo;
		v->nbits = c->nbits;
		v->w = ActWords(c);
		return true;
	}
	return ActReaderNext(&it->rd, v);
}

/*
 * Whether a customer was active in period p.
 */
static inline bool
ActActive(const ActView *v, int64 p)
{
	int64		i = p - v->lo;

	if (i < 0 || i >= v->nbits)
		return false;
	return (v->w[i >> 6] >> (i & 63)) & 1;
}

/*
 * Call-back style loop helper: next active period >= from, or -1 (as an
 * offset from lo) when there is none.
 */
static inline int64
ActNextActive(const ActView *v, int64 i)
{
	while (i < v->nbits)
	{
		uint64		word = v->w[i >> 6] >> (i & 63);

		if (word)
			return i + pg_rightmost_one_pos64(word);
		i = (i | 63) + 1;
	}
	return -1;
}

/*
 * A new read-write expanded state in aggcontext holding the customers of
 * the state datum d (flat or expanded).
 */
static ActState *
ActExpand(MemoryContext aggctx, Datum d)
{
	ActIter		it;
	ActView		v;
	ActState   *st;

	ActIterInit(&it, d);
	st = ActCreate(aggctx, it.h.unit, it.h.kind, it.h.tzname, it.h.n);
	if (it.h.n > 0)
		st->end_ts = it.h.end_ts;
	while (ActIterNext(&it, &v))
		ActMergeView(st, &v);
	return st;
}

/*
 * Get a read-write expanded state from an aggregate's state argument,
 * copying it into aggcontext if it is not already one of ours there.
 */
static ActState *
ActRW(FunctionCallInfo fcinfo, int argno, MemoryContext aggctx, bool adopt)
{
	Datum		d = PG_GETARG_DATUM(argno);

	if (adopt && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		/* once per row: read the parent field rather than call MemoryContextGetParent */
		if (eoh->eoh_methods == &act_methods &&
			eoh->eoh_context->parent == aggctx)
			return (ActState *) eoh;
	}
	return ActExpand(aggctx, d);
}

/* ---------------------------------------------------------------------
 * Type I/O
 * ---------------------------------------------------------------------
 */

/*
 * Text input: the hex digits of the flat form, as clm_activity_out writes
 * them.  Every byte is validated.
 */
Datum
clm_activity_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	size_t		len = strlen(s);
	struct varlena *res;
	size_t		i;

	if (len < 2 * ACT_HEADER_FIXED || len % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type clm.activity"),
				 errdetail("A clm.activity value is an even number of hexadecimal digits, at least %d.",
						   2 * ACT_HEADER_FIXED)));
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type clm.activity"),
					 errdetail("Character %zu is not a hexadecimal digit.", i + 1)));
	}
	res = palloc(VARHDRSZ + len / 2);
	hex_decode(s, len, VARDATA(res));
	SET_VARSIZE(res, VARHDRSZ + len / 2);
	ActValidate(VARDATA(res), len / 2, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(res);
}

/*
 * Text output: lower-case hex digits of the flat form (round-trips
 * through clm_activity_in; Citus ships partial states this way).
 */
Datum
clm_activity_out(PG_FUNCTION_ARGS)
{
	struct varlena *flat = PG_GETARG_VARLENA_P(0);
	Size		len = VARSIZE(flat) - VARHDRSZ;
	char	   *out = palloc_extended(len * 2 + 1, MCXT_ALLOC_HUGE);

	hex_encode(VARDATA(flat), len, out);
	out[len * 2] = '\0';
	PG_RETURN_CSTRING(out);
}

/*
 * Binary input: the flat form's bytes, validated.
 */
Datum
clm_activity_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	struct varlena *res = palloc(VARHDRSZ + len);

	memcpy(VARDATA(res), buf->data + buf->cursor, len);
	buf->cursor = buf->len;
	SET_VARSIZE(res, VARHDRSZ + len);
	ActValidate(VARDATA(res), len, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(res);
}

/*
 * Binary output: the flat form's bytes.
 */
Datum
clm_activity_send(PG_FUNCTION_ARGS)
{
	struct varlena *flat = PG_GETARG_VARLENA_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA(flat), VARSIZE(flat) - VARHDRSZ);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Aggregates
 * ---------------------------------------------------------------------
 */

/*
 * Whether text argument t has the cached bytes buf (len bytes, -1: none).
 */
static inline bool
ActArgSame(text *t, const char *buf, int len)
{
	return len >= 0 && (int) VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), buf, len) == 0;
}

/*
 * Remember the bytes of text argument t in buf, when they fit; returns
 * the length cached or -1.
 */
static int
ActArgKeep(text *t, char *buf)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	if (len > ACT_ARG_CACHE_LEN)
		return -1;
	memcpy(buf, VARDATA_ANY(t), len);
	return len;
}

/*
 * Whether the aggregate's argument i (0-based, as written in the call) is
 * a constant of the query, so that it cannot change from row to row.
 */
static bool
ActArgConst(FunctionCallInfo fcinfo, int i)
{
	Aggref	   *ar = AggGetAggref(fcinfo);
	TargetEntry *tle;

	if (ar == NULL || list_length(ar->args) <= i)
		return false;
	tle = list_nth_node(TargetEntry, ar->args, i);
	return IsA(tle->expr, Const);
}

/*
 * The SQL type of the customer key (argument 1 of the transition
 * function).  From the aggregate's call expression when there is one;
 * otherwise from the declared signature of the transition function
 * called, which is one clm.activity_accum overload per key type.  Citus's
 * worker_partial_agg calls the transition function through an FmgrInfo of
 * its own, without the call expression (and with a new FmgrInfo, hence an
 * empty fn_extra, at every row).
 */
static Oid
ActKeyType(FunctionCallInfo fcinfo)
{
	Oid			kt = get_fn_expr_argtype(fcinfo->flinfo, 1);

	if (!OidIsValid(kt) && OidIsValid(fcinfo->flinfo->fn_oid))
	{
		Oid		   *argtypes;
		int			nargs;

		get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
		if (nargs > 1)
			kt = argtypes[1];
		pfree(argtypes);
	}
	return kt;
}

/*
 * Without a call expression (Citus's worker_partial_agg, see ActKeyType)
 * the FmgrInfo, and so fn_extra, is new at every row: such calls share one
 * argument cache per transition function (one per key type and arity) for
 * the backend's life instead, found by function OID.  Returns it, creating
 * it (zeroed, in TopMemoryContext) when missing.
 */
#define ACT_NO_EXPR_CACHES 16

static ActArgCache *
ActNoExprCache(Oid fn)
{
	static Oid	fns[ACT_NO_EXPR_CACHES];
	static ActArgCache *caches[ACT_NO_EXPR_CACHES];
	int			i;

	for (i = 0; i < ACT_NO_EXPR_CACHES && OidIsValid(fns[i]); i++)
		if (fns[i] == fn)
			return caches[i];
	if (i == ACT_NO_EXPR_CACHES)
		elog(ERROR, "too many clm.activity_accum functions");
	caches[i] = MemoryContextAllocZero(TopMemoryContext, sizeof(ActArgCache));
	fns[i] = fn;
	return caches[i];
}

/*
 * Parse the period unit and time zone arguments, again only when their
 * text differs from the previous row's (never, when both are constants).
 */
static ActArgCache *
ActArgs(FunctionCallInfo fcinfo)
{
	ActArgCache *ac = (ActArgCache *) fcinfo->flinfo->fn_extra;
	bool		have_zone = PG_NARGS() > 4;
	text	   *ptxt,
			   *ztxt = NULL;

	if (PG_ARGISNULL(3) || (have_zone && PG_ARGISNULL(4)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("period and time zone of clm.activity_agg must not be NULL")));
	if (ac == NULL && fcinfo->flinfo->fn_expr == NULL)
	{
		ac = ActNoExprCache(fcinfo->flinfo->fn_oid);
		/* the session's zone may have changed since the cache's last use */
		if (ac->have && !have_zone && ac->tz != session_timezone)
			ac->have = false;
		if (ac->have)
			fcinfo->flinfo->fn_extra = ac;
	}
	if (ac == NULL || !ac->have)
	{
		Oid			kt = ActKeyType(fcinfo);

		if (ac == NULL)
			ac = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ActArgCache));
		if (kt == INT4OID || kt == INT8OID || kt == INT2OID)
			ac->kind = ACT_KEY_INT;
		else if (kt == TEXTOID)
			ac->kind = ACT_KEY_TEXT;
		else if (kt == UUIDOID)
			ac->kind = ACT_KEY_UUID;
		else
			elog(ERROR, "unexpected customer key type %u", kt);
		ac->keytype = kt;
		ac->args_const = ActArgConst(fcinfo, 2) && (!have_zone || ActArgConst(fcinfo, 3));
		fcinfo->flinfo->fn_extra = ac;
	}
	/* the usual case: constant arguments, parsed at the first row */
	if (ac->have && ac->args_const)
		return ac;
	ptxt = PG_GETARG_TEXT_PP(3);
	if (have_zone)
		ztxt = PG_GETARG_TEXT_PP(4);
	if (!ac->have || !ActArgSame(ptxt, ac->period_arg, ac->period_len) ||
		(ztxt && !ActArgSame(ztxt, ac->zone_arg, ac->zone_len)))
	{
		uint8		unit = (uint8) clm_period_parse_text(ptxt, "period");
		pg_tz	   *tz = ztxt ? clm_tz_lookup(ztxt) : session_timezone;
		const char *name = pg_get_timezone_name(tz);

		/*
		 * Another group's arguments (a group's own rows must agree: the
		 * state checks that against gen).
		 */
		if (!ac->have || unit != ac->unit || strcmp(name, ac->tzname) != 0)
		{
			ac->unit = unit;
			ac->tz = tz;
			strlcpy(ac->tzname, name, sizeof(ac->tzname));
			clm_tzcache_init(&ac->tzc, tz);
			ac->gen = ++act_arg_gen;
		}
		ac->period_len = ActArgKeep(ptxt, ac->period_arg);
		ac->zone_len = ztxt ? ActArgKeep(ztxt, ac->zone_arg) : -1;
		ac->have = true;
	}
	return ac;
}

/* ---------------------------------------------------------------------
 * Small states
 * ---------------------------------------------------------------------
 *
 * An expanded object needs a memory context of its own, and hash
 * aggregation sums up the memory of every context under the aggregate
 * context each time it adds a group: with one context per group, GROUP BY
 * over many groups would take quadratic time.  So a state starts as a flat
 * value (the stored form) allocated in the aggregate context, rewritten by
 * one sequential pass per row (in place while its size does not change),
 * and becomes an expanded object only past ACT_SMALL_BYTES.
 */
#define ACT_SMALL_BYTES 256		/* flat size, varlena header included */

/*
 * The flat state "flat" (NULL: no state yet) with the event of customer
 * (ikey | kb, klen) in period p, born period bp (or ACT_NONE) at time ts
 * added: a new flat varlena in CurrentMemoryContext, written in one merge
 * pass over the sorted customers.  When the base period does not change,
 * the records before the customer's are copied as they are, and so are
 * those after the next one (which is rewritten: its key delta may change).
 * The state must match the unit, key type and zone of the call site.
 */
static struct varlena *
ActSmallAdd(struct varlena *flat, const ActArgCache *ac, uint64 ikey, const char *kb,
			uint32 klen, int32 p, int32 bp, TimestampTz ts)
{
	StringInfoData buf;
	ActReader	r;
	ActView		v;
	bool		have = false,
				verbatim = false,
				inserted = false;
	const uint8 *recs = NULL,
			   *vstart = NULL;
	uint32		idx = 0,
				n;
	uint64		prev = 0,
				one = 1;
	int32		base = p,
				first = Min(p, bp),
				last = p;
	TimestampTz end_ts = ts;
	struct varlena *res;
	int			i;

	if (flat)
	{
		ActReaderInit(&r, VARDATA(flat), VARSIZE(flat) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		if (r.h.unit != ac->unit || r.h.kind != ac->kind || strcmp(r.h.tzname, ac->tzname) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("period and time zone must be the same for all rows of clm.activity_agg")));
		if (r.h.n > 0)
		{
			verbatim = (p >= r.h.base);
			base = Min(base, r.h.base);
			first = Min(first, r.h.first);
			last = Max(last, r.h.last);
			end_ts = Max(end_ts, r.h.end_ts);
		}
		recs = vstart = r.p;
		have = ActReaderNext(&r, &v);
	}
	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	ActPutHeader(&buf, ac->unit, ac->kind, ac->tzname, 1, end_ts, base, first, last);

	/* the customers before the event's */
	for (;;)
	{
		int			cmp;

		if (!have)
			break;
		if (ac->kind == ACT_KEY_INT)
			cmp = ((int64) v.ikey > (int64) ikey) - ((int64) v.ikey < (int64) ikey);
		else
			cmp = ActBytesCmp(v.kbytes, v.klen, kb, klen);
		if (cmp >= 0)
			break;
		if (verbatim)
			prev = v.ikey;
		else
			ActPutRecord(&buf, ac->kind, idx == 0, &prev, v.ikey, v.kbytes, v.klen,
						 base, v.lo, v.born, v.nbits, v.w);
		idx++;
		vstart = r.p;
		have = ActReaderNext(&r, &v);
	}
	if (verbatim)
		appendBinaryStringInfo(&buf, (const char *) recs, (int) (vstart - recs));

	/* the event's customer: new, or merged with its record */
	if (have && (ac->kind == ACT_KEY_INT ? v.ikey == ikey :
				 ActBytesCmp(v.kbytes, v.klen, kb, klen) == 0))
	{
		int32		lo = Min(v.lo, p);
		int64		hi = Max((int64) v.lo + v.nbits - 1, (int64) p);
		uint64		nbits = (uint64) (hi - lo + 1);
		uint64	   *mw;

		ActCheckSpan(nbits);
		mw = palloc0(((nbits + 63) / 64 + 1) * sizeof(uint64));
		ActOrShifted(mw, v.w, v.nbits, (uint64) ((int64) v.lo - lo));
		mw[(uint64) ((int64) p - lo) >> 6] |= UINT64CONST(1) << (((int64) p - lo) & 63);
		ActPutRecord(&buf, ac->kind, idx == 0, &prev, v.ikey, v.kbytes, v.klen,
					 base, lo, Min(v.born, bp), (uint32) nbits, mw);
		pfree(mw);
		have = ActReaderNext(&r, &v);
	}
	else
	{
		ActPutRecord(&buf, ac->kind, idx == 0, &prev, ikey, kb, klen, base, p, bp, 1, &one);
		inserted = true;
	}

	/* the customers after it */
	if (have && verbatim)
	{
		ActPutRecord(&buf, ac->kind, false, &prev, v.ikey, v.kbytes, v.klen,
					 base, v.lo, v.born, v.nbits, v.w);
		appendBinaryStringInfo(&buf, (const char *) r.p, (int) (r.end - r.p));
	}
	else
	{
		while (have)
		{
			ActPutRecord(&buf, ac->kind, false, &prev, v.ikey, v.kbytes, v.klen,
						 base, v.lo, v.born, v.nbits, v.w);
			have = ActReaderNext(&r, &v);
		}
	}

	/* patch the customer count (after varlena header + 24 header bytes) */
	n = (flat ? r.h.n : 0) + (inserted ? 1 : 0);
	for (i = 0; i < 4; i++)
		buf.data[VARHDRSZ + 24 + i] = (char) (n >> (8 * (3 - i)));
	res = (struct varlena *) buf.data;
	SET_VARSIZE(res, buf.len);
	if (flat && r.words)
		pfree(r.words);
	return res;
}

/*
 * Transition function of clm.activity_agg(customer, event_at, period
 * [, zone [, born_at]]): marks the event's period active for the customer,
 * in place.  Rows with a NULL customer or event time are skipped.
 */
Datum
clm_activity_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ActArgCache *ac;
	ActState   *st;
	ActCust    *c;
	TimestampTz ts;
	int32		p,
				bp = ACT_NONE;
	uint64		ikey = 0;
	const char *kb = NULL;
	uint32		klen = 0;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.activity_accum can only be called as an aggregate transition function"),
				 errhint("Use the aggregate clm.activity_agg.")));
	ac = ActArgs(fcinfo);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ts = PG_GETARG_TIMESTAMPTZ(2);
	clm_check_timestamp(ts, "event_at");
	p = ActPeriod32(clm_period_index(&ac->tzc, ts, (ClmPeriodUnit) ac->unit));

	switch (ac->kind)
	{
		case ACT_KEY_INT:
			{
				Oid			kt = ac->keytype;

				ikey = (kt == INT8OID) ? (uint64) PG_GETARG_INT64(1) :
					(kt == INT4OID) ? (uint64) (int64) PG_GETARG_INT32(1) :
					(uint64) (int64) PG_GETARG_INT16(1);
				break;
			}
		case ACT_KEY_TEXT:
			{
				text	   *t = PG_GETARG_TEXT_PP(1);

				kb = VARDATA_ANY(t);
				klen = VARSIZE_ANY_EXHDR(t);
				break;
			}
		default:
			kb = (const char *) PG_GETARG_UUID_P(1)->data;
			klen = UUID_LEN;
			break;
	}

	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
	{
		TimestampTz born = PG_GETARG_TIMESTAMPTZ(5);

		clm_check_timestamp(born, "born_at");
		bp = ActPeriod32(clm_period_index(&ac->tzc, born, (ClmPeriodUnit) ac->unit));
	}

	/* a small flat state (see "Small states") */
	if (PG_ARGISNULL(0) || !VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(0))))
	{
		struct varlena *raw = PG_ARGISNULL(0) ? NULL : (struct varlena *) PG_GETARG_POINTER(0);
		struct varlena *flat = raw ? PG_DETOAST_DATUM(PG_GETARG_DATUM(0)) : NULL;

		if (flat == NULL || VARSIZE(flat) <= ACT_SMALL_BYTES)
		{
			struct varlena *res = ActSmallAdd(flat, ac, ikey, kb, klen, p, bp, ts);

			if (VARSIZE(res) <= ACT_SMALL_BYTES)
			{
				/* our own state in aggcontext, same size: rewrite in place */
				if (flat != NULL && flat == raw && VARSIZE(res) == VARSIZE(raw))
				{
					memcpy(raw, res, VARSIZE(res));
					pfree(res);
					PG_RETURN_POINTER(raw);
				}
				/* a new value: nodeAgg copies it into aggcontext */
				PG_RETURN_POINTER(res);
			}
			/* too large now: continue as an expanded state */
			st = ActExpand(aggctx, PointerGetDatum(res));
			pfree(res);
			st->checked_args = ac;
			st->checked_gen = ac->gen;
			PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
		}
	}

	st = ActRW(fcinfo, 0, aggctx, true);
	/* compare names once per state and argument cache, not per row */
	if (st->checked_args != ac || st->checked_gen != ac->gen)
	{
		if (st->unit != ac->unit || st->kind != ac->kind || strcmp(st->tzname, ac->tzname) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("period and time zone must be the same for all rows of clm.activity_agg")));
		st->checked_args = ac;
		st->checked_gen = ac->gen;
	}
	if (ts > st->end_ts)
		st->end_ts = ts;
	ActInvalidate(st);
	if (ac->kind == ACT_KEY_INT)
	{
		ActPush(st, ikey, p, 1, 1, bp);
		PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
	}
	c = ActLookup(st, ikey, kb, klen);
	ActSetPeriod(st, c, p);
	if (bp < c->born)
		c->born = bp;
	ActNoteCustomer(st, c);
	PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
}

/*
 * Combine function of clm.activity_agg and transition function of
 * clm.activity_merge: the union of two states, merged in place into the
 * first.  States with different units, key types or zones are refused.
 */
Datum
clm_activity_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ActState   *st;
	ActIter		it;
	ActView		v;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.activity_combine can only be called as an aggregate support function"),
				 errhint("Use the aggregate clm.activity_merge.")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		/* a flat state is adopted as is (nodeAgg copies it) */
		if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
			PG_RETURN_POINTER(PG_DETOAST_DATUM(PG_GETARG_DATUM(1)));
		st = ActRW(fcinfo, 1, aggctx, false);
		PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
	}
	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(0))) &&
		!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
	{
		/*
		 * Two flat states of comparable size (partial states from parallel
		 * workers): merge them in one sequential pass.  A small state is
		 * merged into a hash table instead, so that many small states
		 * (daily roll-ups) cost one pass over each, unless the union is a
		 * small state too (see "Small states": no expanded object, so no
		 * memory context, per group).
		 */
		struct varlena *a = PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
		struct varlena *b = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));
		ActReader	ra,
					rb;

		ActReaderInit(&ra, VARDATA(a), VARSIZE(a) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		ActReaderInit(&rb, VARDATA(b), VARSIZE(b) - VARHDRSZ, ERRCODE_DATA_CORRUPTED);
		ActCheckCompatible(ra.h.unit, ra.h.kind, ra.h.tzname, rb.h.unit, rb.h.kind, rb.h.tzname);
		if (rb.h.n == 0)
			PG_RETURN_POINTER(a);
		if (ra.h.n == 0)
			PG_RETURN_POINTER(b);
		if ((uint64) rb.h.n * 8 >= ra.h.n ||
			VARSIZE(a) + VARSIZE(b) <= ACT_SMALL_BYTES + VARHDRSZ + ACT_HEADER_FIXED)
			PG_RETURN_POINTER(ActMergeFlat(&ra, &rb));
	}
	st = ActRW(fcinfo, 0, aggctx, true);
	ActIterInit(&it, PG_GETARG_DATUM(1));
	ActCheckCompatible(st->unit, st->kind, st->tzname, it.h.unit, it.h.kind, it.h.tzname);
	if (it.h.n > 0 && it.h.end_ts > st->end_ts)
		st->end_ts = it.h.end_ts;
	while (ActIterNext(&it, &v))
		ActMergeView(st, &v);
	ActInvalidate(st);
	PG_RETURN_DATUM(EOHPGetRWDatum(&st->hdr));
}

/* ---------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------
 */

/*
 * Time zone of a state, for period start times.
 */
static pg_tz *
ActTz(const ActHeader *h)
{
	pg_tz	   *tz = pg_tzset(h->tzname);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" of the clm.activity state is not recognized", h->tzname)));
	return tz;
}

/*
 * A text option argument, lower-cased comparisons against the allowed
 * names; returns the index of the match.
 */
static int
ActOption(FunctionCallInfo fcinfo, int argno, const char *what,
		  const char *const *names, int nnames)
{
	char	   *s;
	int			i;

	if (PG_NARGS() <= argno)
		return 0;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	for (i = 0; i < nnames; i++)
		if (pg_strcasecmp(s, names[i]) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", what, s),
			 errhint("Valid values are \"%s\" and \"%s\".", names[0], names[1])));
	pg_unreachable();
}

/*
 * Check an optional [from, to] range of timestamps (arguments fromarg and
 * fromarg + 1): finite, from not later than to.  Done before looking at
 * the state, so that a NULL or empty state does not hide a bad range (as
 * the option checks of clm.retention and clm.stickiness).
 */
static void
ActCheckRange(FunctionCallInfo fcinfo, int fromarg)
{
	bool		has_from = PG_NARGS() > fromarg && !PG_ARGISNULL(fromarg);
	bool		has_to = PG_NARGS() > fromarg + 1 && !PG_ARGISNULL(fromarg + 1);

	if (has_from)
		clm_check_timestamp(PG_GETARG_TIMESTAMPTZ(fromarg), "from");
	if (has_to)
		clm_check_timestamp(PG_GETARG_TIMESTAMPTZ(fromarg + 1), "to");
	if (has_from && has_to && PG_GETARG_TIMESTAMPTZ(fromarg) > PG_GETARG_TIMESTAMPTZ(fromarg + 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from must not be later than to")));
}

/*
 * Resolve an optional [from, to] range of timestamps, checked by
 * ActCheckRange, into period indexes; NULL bounds default to def_from /
 * def_to.
 */
static void
ActRange(FunctionCallInfo fcinfo, int fromarg, const ActHeader *h, pg_tz *tz,
		 int64 def_from, int64 def_to, int64 *from, int64 *to)
{
	ClmTzCache	tzc;

	clm_tzcache_init(&tzc, tz);
	*from = def_from;
	*to = def_to;
	if (PG_NARGS() > fromarg && !PG_ARGISNULL(fromarg))
		*from = clm_period_index(&tzc, PG_GETARG_TIMESTAMPTZ(fromarg), (ClmPeriodUnit) h->unit);
	if (PG_NARGS() > fromarg + 1 && !PG_ARGISNULL(fromarg + 1))
		*to = clm_period_index(&tzc, PG_GETARG_TIMESTAMPTZ(fromarg + 1), (ClmPeriodUnit) h->unit);
	if (*to >= *from && *to - *from + 1 > ACT_MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the period range is too long"),
				 errdetail("At most %d periods are reported at once.", ACT_MAX_PERIODS)));
}

/*
 * a / b as a double; NULL (isnull) when b is 0.
 */
static inline double
Ratio(int64 a, int64 b, bool *isnull)
{
	*isnull = (b == 0);
	return b == 0 ? 0.0 : (double) a / (double) b;
}

/*
 * clm.retention(state, mode, cohort, ref, max_periods): the cohort
 * retention table.  Cohort = the customer's first period (born period when
 * given) or, for "recurring", every period in which the customer was
 * active.  "on" counts customers active exactly N periods after the cohort
 * period, "on_or_after" in period N or later.  rate is relative to the
 * cohort size ("total") or to the previous period's count ("previous").
 * A cell is complete when its period ended before the state's last event.
 */
Datum
clm_retention(PG_FUNCTION_ARGS)
{
	static const char *const modes[] = {"on", "on_or_after"};
	static const char *const cohorts[] = {"first_time", "recurring"};
	static const char *const refs[] = {"total", "previous"};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			mode,
				cohort,
				ref;
	int64		maxoff = -1;
	ActIter		it;
	ActView		v;
	pg_tz	   *tz;
	int64		ncoh,
				noff,
				c,
				n;
	int64	   *size,
			   *cnt;

	InitMaterializedSRF(fcinfo, 0);
	mode = ActOption(fcinfo, 1, "retention mode", modes, 2);
	cohort = ActOption(fcinfo, 2, "cohort type", cohorts, 2);
	ref = ActOption(fcinfo, 3, "retention reference", refs, 2);
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		maxoff = PG_GETARG_INT32(4);
		if (maxoff < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_periods must not be negative"),
					 errdetail("Got %lld.", (long long) maxoff)));
	}
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	ActIterInit(&it, PG_GETARG_DATUM(0));
	if (it.h.n == 0)
		return (Datum) 0;
	tz = ActTz(&it.h);

	ncoh = (int64) it.h.last - it.h.first + 1;
	noff = ncoh;
	if (maxoff >= 0 && maxoff + 1 < noff)
		noff = maxoff + 1;
	/*
	 * The bound is on the counters allocated below: per cohort its size and
	 * noff + 1 cells.  (Counting ncoh * noff only let max_periods => 0 over a
	 * long range allocate three times the limit: 1.2 GB for two customers
	 * 50 million hours apart.)
	 */
	if (ncoh > ACT_MAX_CELLS || noff > ACT_MAX_CELLS || ncoh * (noff + 2) > ACT_MAX_CELLS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the retention table would have too many cells"),
				 errdetail("%lld cohorts by %lld periods need more than the limit of %d counters.",
						   (long long) ncoh, (long long) noff, ACT_MAX_CELLS),
				 errhint("Pass max_periods, use a longer period unit, or leave out outlying events.")));
	size = palloc0_array(int64, ncoh);
	/* one extra column: on_or_after counts are kept as differences */
	cnt = palloc_extended(sizeof(int64) * ncoh * (noff + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	while (ActIterNext(&it, &v))
	{
		int64		hi = (int64) v.lo + v.nbits - 1;

		if (cohort == 0)
		{
			int64		s = Min(v.lo, v.born);
			int64	   *row = cnt + (s - it.h.first) * (noff + 1);

			size[s - it.h.first]++;
			if (mode == 0)
			{
				int64		i = Max(s - v.lo, 0);

				while ((i = ActNextActive(&v, i)) >= 0 && v.lo + i - s < noff)
				{
					row[v.lo + i - s]++;
					i++;
				}
			}
			else
			{
				row[0]++;
				row[Min(hi - s + 1, noff)]--;
			}
		}
		else
		{
			int64		a = 0;

			while ((a = ActNextActive(&v, a)) >= 0)
			{
				int64		ap = v.lo + a;
				int64	   *row = cnt + (ap - it.h.first) * (noff + 1);

				/*
				 * A customer active in many periods costs up to max_periods
				 * steps per active period: stay cancellable within one
				 * customer, not only every 65,536 customers (ActIterNext).
				 */
				CHECK_FOR_INTERRUPTS();
				size[ap - it.h.first]++;
				if (mode == 0)
				{
					int64		i = a;

					while ((i = ActNextActive(&v, i)) >= 0 && i - a < noff)
					{
						row[i - a]++;
						i++;
					}
				}
				else
				{
					row[0]++;
					row[Min(hi - ap + 1, noff)]--;
				}
				a++;
			}
		}
	}

	for (c = 0; c < ncoh; c++)
	{
		int64	   *row = cnt + c * (noff + 1);
		int64		cp = it.h.first + c;
		TimestampTz cstart;
		int64		prev = 0;

		if (size[c] == 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		cstart = clm_period_start(tz, cp, (ClmPeriodUnit) it.h.unit);
		if (mode == 1)
			for (n = 1; n < noff; n++)
				row[n] += row[n - 1];
		for (n = 0; n < noff && cp + n <= it.h.last; n++)
		{
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};

			values[0] = TimestampTzGetDatum(cstart);
			values[1] = Int32GetDatum((int32) n);
			values[2] = Int64GetDatum(size[c]);
			values[3] = Int64GetDatum(row[n]);
			if (ref == 0 || n == 0)
				values[4] = Float8GetDatum(Ratio(row[n], size[c], &nulls[4]));
			else
				values[4] = Float8GetDatum(Ratio(row[n], prev, &nulls[4]));
			values[5] = BoolGetDatum(cp + n < it.h.last);
			prev = row[n];
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * The start shared by the per-period accessors (clm.lifecycle,
 * clm.churn_rate): set up the result set, open the state (argument 0) and
 * resolve its [from, to] arguments (1 and 2) into period indexes, NULLs
 * defaulting to [def_from, def_to] (def_from_next: the state's first period
 * plus one, for accessors that compare with a previous period).  Returns
 * the number of periods, 0 when there are no rows (NULL or empty state,
 * empty range).
 */
static int64
ActPeriodsStart(FunctionCallInfo fcinfo, ActIter *it, bool def_from_next, pg_tz **tz,
				int64 *from, int64 *to)
{
	InitMaterializedSRF(fcinfo, 0);
	ActCheckRange(fcinfo, 1);
	if (PG_ARGISNULL(0))
		return 0;
	ActIterInit(it, PG_GETARG_DATUM(0));
	if (it->h.n == 0)
		return 0;
	*tz = ActTz(&it->h);
	ActRange(fcinfo, 1, &it->h, *tz, (int64) it->h.first + (def_from_next ? 1 : 0),
			 it->h.last, from, to);
	if (*to < *from)
		return 0;
	return *to - *from + 1;
}

/*
 * clm.lifecycle(state, from, to): per period, the customers who are new
 * (active in their first/born period), returning (active now and in the
 * previous period), resurrecting (active now, not in the previous period,
 * not new) and dormant (active in the previous period, not now; positive
 * counts), with the quick ratio (new + resurrecting) / dormant.
 */
Datum
clm_lifecycle(PG_FUNCTION_ARGS)
{
	static const char *const statuses[] = {"new", "returning", "resurrecting", "dormant"};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ActIter		it;
	ActView		v;
	pg_tz	   *tz;
	int64		from,
				to,
				np,
				t;
	int64	   *cnt;

	np = ActPeriodsStart(fcinfo, &it, false, &tz, &from, &to);
	if (np == 0)
		return (Datum) 0;
	cnt = palloc0_array(int64, np * 4);

	while (ActIterNext(&it, &v))
	{
		int64		s = Min(v.lo, v.born);
		int64		i = Max(from - 1 - v.lo, 0);

		/* each active period p decides p's status and p + 1's dormancy */
		while ((i = ActNextActive(&v, i)) >= 0)
		{
			int64		p = v.lo + i;

			if (p > to)
				break;
			if (p >= from)
			{
				int			status;

				if (p == s)
					status = 0;
				else if (ActActive(&v, p - 1))
					status = 1;
				else
					status = 2;
				cnt[(p - from) * 4 + status]++;
			}
			if (p + 1 >= from && p + 1 <= to && !ActActive(&v, p + 1))
				cnt[(p + 1 - from) * 4 + 3]++;
			i++;
		}
	}

	for (t = 0; t < np; t++)
	{
		TimestampTz start = clm_period_start(tz, from + t, (ClmPeriodUnit) it.h.unit);
		int64	   *row = cnt + t * 4;
		bool		qnull;
		double		quick = Ratio(row[0] + row[2], row[3], &qnull);
		int			k;

		if ((t & 0xfff) == 0)
			CHECK_FOR_INTERRUPTS();
		for (k = 0; k < 4; k++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, qnull};

			values[0] = TimestampTzGetDatum(start);
			values[1] = CStringGetTextDatum(statuses[k]);
			values[2] = Int64GetDatum(row[k]);
			values[3] = Float8GetDatum(quick);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * clm.churn_rate(state, from, to): per period, the customers active in the
 * previous period, those of them not active now (churned) and those active
 * now too (retained); churn_rate = churned / active_previous.
 */
Datum
clm_churn_rate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ActIter		it;
	ActView		v;
	pg_tz	   *tz;
	int64		from,
				to,
				np,
				t;
	int64	   *prevc,
			   *kept;

	np = ActPeriodsStart(fcinfo, &it, true, &tz, &from, &to);
	if (np == 0)
		return (Datum) 0;
	prevc = palloc0_array(int64, np);
	kept = palloc0_array(int64, np);

	while (ActIterNext(&it, &v))
	{
		int64		i = Max(from - 1 - v.lo, 0);

		while ((i = ActNextActive(&v, i)) >= 0)
		{
			int64		p = v.lo + i;

			if (p + 1 > to)
				break;
			if (p + 1 >= from)
			{
				prevc[p + 1 - from]++;
				if (ActActive(&v, p + 1))
					kept[p + 1 - from]++;
			}
			i++;
		}
	}

	for (t = 0; t < np; t++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if ((t & 0xfff) == 0)
			CHECK_FOR_INTERRUPTS();
		values[0] = TimestampTzGetDatum(clm_period_start(tz, from + t, (ClmPeriodUnit) it.h.unit));
		values[1] = Int64GetDatum(prevc[t]);
		values[2] = Int64GetDatum(prevc[t] - kept[t]);
		values[3] = Int64GetDatum(kept[t]);
		values[4] = Float8GetDatum(Ratio(prevc[t] - kept[t], prevc[t], &nulls[4]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * clm.stickiness(state, window_periods, ending): among customers active
 * at least once in the window_periods periods ending with the period of
 * "ending" (default: the state's last period), how many were active in
 * exactly N periods and in N or more.
 */
Datum
clm_stickiness(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ActIter		it;
	ActView		v;
	int64		w,
				e,
				from,
				k;
	int64	   *hist,
				atleast = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_periods must not be NULL")));
	w = PG_GETARG_INT32(1);
	if (w < 1 || w > ACT_MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_periods must be between 1 and %d", ACT_MAX_PERIODS),
				 errdetail("Got %lld.", (long long) w)));
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
		clm_check_timestamp(PG_GETARG_TIMESTAMPTZ(2), "ending");
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	ActIterInit(&it, PG_GETARG_DATUM(0));
	if (it.h.n == 0)
		return (Datum) 0;
	e = it.h.last;
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		ClmTzCache	tzc;
		TimestampTz ts = PG_GETARG_TIMESTAMPTZ(2);

		clm_tzcache_init(&tzc, ActTz(&it.h));
		e = clm_period_index(&tzc, ts, (ClmPeriodUnit) it.h.unit);
	}
	from = e - w + 1;
	hist = palloc0_array(int64, w + 1);

	while (ActIterNext(&it, &v))
	{
		int64		i = Max(from - v.lo, 0);
		int64		m = 0;

		while ((i = ActNextActive(&v, i)) >= 0 && v.lo + i <= e)
		{
			m++;
			i++;
		}
		hist[m]++;
	}

	for (k = w; k >= 1; k--)
		atleast += hist[k];
	for (k = 1; k <= w; k++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum((int32) k);
		values[1] = Int64GetDatum(hist[k]);
		values[2] = Int64GetDatum(atleast);
		atleast -= hist[k];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * clm.activity_info(state): one row describing a state (unit, zone, key
 * type, customers, period range, last event, flat size in bytes).
 */
Datum
clm_activity_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	ActIter		it;
	pg_tz	   *tz;
	Datum		d = PG_GETARG_DATUM(0);
	Size		bytes;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	ActIterInit(&it, d);
	if (it.st)
		bytes = EOH_get_flat_size(&it.st->hdr);
	else
		bytes = toast_raw_datum_size(d);
	tz = ActTz(&it.h);
	values[0] = CStringGetTextDatum(clm_period_name((ClmPeriodUnit) it.h.unit));
	values[1] = CStringGetTextDatum(it.h.tzname);
	values[2] = CStringGetTextDatum(act_kind_names[it.h.kind]);
	values[3] = Int64GetDatum(it.h.n);
	if (it.h.n > 0)
	{
		values[4] = TimestampTzGetDatum(clm_period_start(tz, it.h.first, (ClmPeriodUnit) it.h.unit));
		values[5] = TimestampTzGetDatum(clm_period_start(tz, it.h.last, (ClmPeriodUnit) it.h.unit));
		values[6] = TimestampTzGetDatum(it.h.end_ts);
	}
	else
		nulls[4] = nulls[5] = nulls[6] = true;
	values[7] = Int64GetDatum((int64) bytes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
