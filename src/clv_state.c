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
 * The fits themselves (the aggregates' final functions) are in clv_fit.c,
 * which reads states through clv_state_data; this file calls no fit.
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
#include "varstate.h"

#define CLV_STATE_VERSION 1

/* the type as its binary input names it in errors (as in 1.0) */
#define CLV_BINARY "binary clm.clv_state"

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
	if (clv_model(kind)->shape == CLV_SPEND)
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
		clm_state_invalid(ERRCODE_DATA_CORRUPTED, "clm.clv_state", NULL);
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
	if (clv_model((ClvKind) f->kind)->shape == CLV_SPEND)
	{
		int32		lo = 0,
					hi = f->npat;

		while (lo < hi)
		{
			int32		mid = lo + (hi - lo) / 2;

			if (clv_pattern_cmp(&f->pat[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos = lo;
		if (pos < f->npat && clv_pattern_cmp(&f->pat[pos], &key) == 0)
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
	bool		spend = clv_model(kind)->shape == CLV_SPEND;
	int			nkey = spend ? 2 : 3;
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
	if (!spend)
		T = PG_GETARG_FLOAT8(3);
	if (nargs > nkey + 1)
	{
		w = PG_GETARG_FLOAT8(nkey + 1);
		clv_check_nonnegative(w, "weight");
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
	if (clv_model(kind)->shape == CLV_SPEND && p->T != 0)
		clm_state_invalid(ERRCODE_DATA_CORRUPTED, "clm.clv_state",
						  psprintf("A gamma_gamma pattern has a nonzero third value %g.", p->T));
	clv_check_nonnegative(p->w, "weight");
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
		if ((size_t) (semi - p) == strlen(clv_kind_name((ClvKind) k)) &&
			strncmp(p, clv_kind_name((ClvKind) k), semi - p) == 0)
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
		clm_state_corrupt(CLV_BINARY, NULL);
	f = palloc0(offsetof(ClvFlat, pat));
	f->version = version;
	f->kind = kind;
	f->penalizer = pq_getmsgfloat8(buf);
	f->rows = pq_getmsgint64(buf);
	/* as the text form: a value out of range there could not be restored */
	if (f->rows > CLV_MAX_ROWS)
		clm_state_corrupt(CLV_BINARY, psprintf("Row count " INT64_FORMAT " exceeds " INT64_FORMAT ".",
											   f->rows, CLV_MAX_ROWS));
	n = pq_getmsgint(buf, 4);
	if (n < 0 || (int64) n * 32 != buf->len - buf->cursor)
		clm_state_corrupt(CLV_BINARY, psprintf("Pattern count %d does not match the length.", n));
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
			clm_state_corrupt(CLV_BINARY, "Pattern values must be finite and non-negative.");
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
