/*-------------------------------------------------------------------------
 *
 * activity.h
 *	  Private to the clm.activity files.  clm.activity: a mergeable set
 *	  of customers with the calendar periods in which each was active,
 *	  and the behavioural accessors over it (cohort retention, lifecycle,
 *	  stickiness, churn rate).
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
 * The files (all share this header):
 *	  activity_state.c   in-memory representation: keys, errors, the
 *	                     expanded object (hash table, dense array)
 *	  activity_flat.c    flat encoding: writing, reading (every byte
 *	                     validated), iterating over a state datum
 *	  activity.c         SQL entry points: type I/O, the aggregate's
 *	                     argument cache, small states, transition, combine
 *	  activity_report.c  reports: retention, lifecycle, stickiness, churn
 *	                     rate, activity_info
 * Inline helpers used by several of them are defined in this header.
 *
 * IDENTIFICATION
 *	  src/activity.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_ACTIVITY_H
#define CLM_ACTIVITY_H

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
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "clm.h"
#include "period.h"
#include "varstate.h"

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
static inline uint32 ActHashKey(struct ActState *st, uint64 key);
static inline bool ActKeyEqual(struct ActState *st, uint64 a, uint64 b);

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

/* the expanded object's methods (activity_flat.c) */
extern const ExpandedObjectMethods act_methods;

/* activity_state.c */
extern void ActCorrupt(int code, const char *detail);
extern void ActCheckCompatible(uint8 unit1, uint8 kind1, const char *tz1,
							   uint8 unit2, uint8 kind2, const char *tz2);
extern int32 ActPeriod32(int64 idx);
extern ActState *ActCreate(MemoryContext parent, uint8 unit, uint8 kind, const char *tzname,
						   uint32 nelements);
extern void ActCheckSpan(uint64 nbits);
extern void ActGrow(ActState *st, ActCust *c, uint64 need);
extern void ActFromDense(ActState *st);
extern void ActDrain(ActState *st);
extern void ActMergeView(ActState *st, const ActView *v);
static inline void ActNoteCustomer(struct ActState *st, ActCust *c);

/* activity_flat.c */
extern void ActPutHeader(StringInfo buf, uint8 unit, uint8 kind, const char *tzname, uint32 n,
						 TimestampTz end_ts, int32 base, int32 first, int32 last);
extern void ActPutRecord(StringInfo buf, uint8 kind, bool first_record, uint64 *prev,
						 uint64 ikey, const char *kb, uint32 klen, int32 base, int32 lo,
						 int32 born, uint32 nbits, const uint64 *w);
extern void ActReaderInit(ActReader *r, const char *data, Size len, int errcode);
extern bool ActReaderNext(ActReader *r, ActView *v);
extern void ActValidate(const char *data, Size len, int errcode);
extern struct varlena *ActMergeFlat(ActReader *ra, ActReader *rb);
extern void ActIterInit(ActIter *it, Datum d);
extern bool ActIterNext(ActIter *it, ActView *v);
extern ActState *ActExpand(MemoryContext aggctx, Datum d);
extern ActState *ActRW(FunctionCallInfo fcinfo, int argno, MemoryContext aggctx,
					   bool adopt);


/*
 * 32-bit hash of a key: a 64-bit finalizer for integers, hash_bytes for
 * the bytes of text/uuid keys.
 */
static inline uint32
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
static inline bool
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
static inline int
ActBytesCmp(const char *a, uint32 alen, const char *b, uint32 blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
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
 * Number of customers in the state.
 */
static inline uint32
ActCount(ActState *st)
{
	return st->dense ? st->dcount : st->hash->members;
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

#endif							/* CLM_ACTIVITY_H */
