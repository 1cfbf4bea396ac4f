/*-------------------------------------------------------------------------
 *
 * km.c
 *	  Kaplan-Meier survival: the clm.km_agg aggregate (varlena state type
 *	  clm.km), clm.survival, clm.median_survival and clm.logrank.
 *
 * The state is a list of (time, events, censored, entries) records, the
 * first nsorted of which are sorted by time with distinct times; new rows
 * are appended after them and the whole list is sorted and merged when it
 * fills up, so a state holds one record per distinct time (durations in
 * days give a few thousand records for millions of customers).  Subjects
 * without a left-truncation time are counted in entries_inf (at risk from
 * the start).  Combining two states appends and merges, so the aggregate
 * runs in parallel workers and on Citus.
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
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "clm.h"
#include "varstate.h"

#define KM_MAGIC 0x434c4d4b		/* "CLMK" */
#define KM_VERSION 1
#define KM_INITIAL_RECS 64
#define KM_TRUNCATED 0x01		/* some subject has an entry time */
#define KM_Z95 1.959963984540054
#define KM_LOOKUP_MAX 65536		/* search the sorted part up to this size */

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
 * The record of time t in the sorted part of the state, or NULL.
 */
static inline KmRec *
KmFindSorted(KmState *s, double t)
{
	int64		lo = 0,
				hi = s->nsorted;

	/*
	 * Searching a large sorted part costs cache misses for every row while
	 * mostly-distinct times gain nothing from it: append instead.
	 */
	if (hi > KM_LOOKUP_MAX)
		return NULL;
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (s->recs[mid].time < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < s->nsorted && s->recs[lo].time == t) ? &s->recs[lo] : NULL;
}

/*
 * Return a state with room for "more" records: s itself (compacted when
 * full) or a larger copy in the current context.
 */
static KmState *
KmReserve(KmState *s, int64 more)
{
	int64		cap = KmCapacity(s);
	KmState    *ns;

	if (s->n + more <= cap)
		return s;
	KmCompact(s);
	if (s->n + more <= cap && s->n <= cap / 2)
		return s;
	cap = Max(cap, KM_INITIAL_RECS);
	while (cap < 2 * (s->n + more))
		cap *= 2;
	ns = KmAlloc(Min(cap, KM_MAX_RECS));
	memcpy(ns->recs, s->recs, s->n * sizeof(KmRec));
	ns->n = s->n;
	ns->nsorted = s->nsorted;
	ns->flags = s->flags;
	ns->entries_inf = s->entries_inf;
	if (ns->n + more > KmCapacity(ns))
		KmAlloc(KM_MAX_RECS + 1);	/* reports the limit */
	return ns;
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
		in += r->entries;
		out += r->events + r->censored;
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

/*
 * Transition function: (state, duration, churned [, entered]).  Rows with a
 * NULL duration or churned are skipped; a NULL entered means no left
 * truncation for that subject.
 */
Datum
clm_km_accum(PG_FUNCTION_ARGS)
{
	KmState    *s;
	double		duration,
				entered = 0;
	bool		churned,
				has_entry;
	KmRec	   *r;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_km_accum called in non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (KmState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
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
	}

	if (s == NULL)
		s = KmAlloc(KM_INITIAL_RECS);
	else
		s = KmReserve(s, 2);
	/* a time already in the sorted part is counted in place */
	r = KmFindSorted(s, duration);
	if (r == NULL)
	{
		r = &s->recs[s->n++];
		r->time = duration;
		r->events = r->censored = r->entries = 0;
	}
	if (churned)
		r->events++;
	else
		r->censored++;
	if (has_entry)
	{
		r = KmFindSorted(s, entered);
		if (r == NULL)
		{
			r = &s->recs[s->n++];
			r->time = entered;
			r->events = r->censored = r->entries = 0;
		}
		r->entries++;
		s->flags |= KM_TRUNCATED;
	}
	else
		s->entries_inf++;
	PG_RETURN_POINTER(s);
}

/*
 * Combine function (STRICT): append b's records to a.
 */
Datum
clm_km_combine(PG_FUNCTION_ARGS)
{
	KmState    *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_km_combine called in non-aggregate context");
	a = PG_GETARG_KM(0);
	b = PG_GETARG_KM(1);
	a = KmReserve(a, b->n);
	memcpy(&a->recs[a->n], b->recs, b->n * sizeof(KmRec));
	a->n += b->n;
	a->entries_inf += b->entries_inf;
	a->flags |= b->flags;
	PG_RETURN_POINTER(a);
}

/*
 * Final function: the compacted state (sorted, distinct times, no slack).
 */
Datum
clm_km_final(PG_FUNCTION_ARGS)
{
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
 * Compute the curve of a state; returns the number of steps.
 */
static int64
KmCurve(const KmState *s0, KmStep **steps_out)
{
	KmState    *s = KmCompacted(s0);
	KmStep	   *steps = palloc_extended(sizeof(KmStep) * Max(s->n, 1), MCXT_ALLOC_HUGE);
	int64		i,
				k = 0,
				at_risk = s->entries_inf;
	double		surv = 1.0,
				gw = 0.0;

	for (i = 0; i < s->n; i++)
	{
		KmRec	   *r = &s->recs[i];

		/* entries at time t are at risk only after t */
		if (r->events > 0)
		{
			int64		n = at_risk,
						d = r->events;

			if (n < d)
				clm_state_corrupt("clm.km", "More events than subjects at risk.");
			surv *= 1.0 - (double) d / (double) n;
			gw = (n == d) ? INFINITY : gw + (double) d / ((double) n * (double) (n - d));
			steps[k].time = r->time;
			steps[k].at_risk = n;
			steps[k].events = d;
			steps[k].censored = 0;
			steps[k].survival = surv;
			steps[k].greenwood = gw;
			k++;
		}
		if (k > 0)
			steps[k - 1].censored += r->censored;
		at_risk += r->entries - r->events - r->censored;
	}
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
	KmStep	   *steps;
	int64		k,
				i;

	InitMaterializedSRF(fcinfo, 0);
	k = KmCurve(PG_GETARG_KM(0), &steps);
	for (i = 0; i < k; i++)
	{
		KmStep	   *st = &steps[i];
		Datum		values[8];
		bool		nulls[8] = {0};

		values[0] = Float8GetDatum(st->time);
		values[1] = Int64GetDatum(st->at_risk);
		values[2] = Int64GetDatum(st->events);
		values[3] = Int64GetDatum(st->censored);
		values[4] = Float8GetDatum(st->survival);
		if (isinf(st->greenwood) || st->survival <= 0)
			nulls[5] = nulls[6] = nulls[7] = true;
		else
		{
			double		se_h = sqrt(st->greenwood);
			double		se_theta = se_h / fabs(log(st->survival));

			values[5] = Float8GetDatum(st->survival * se_h);
			values[6] = Float8GetDatum(pow(st->survival, exp(KM_Z95 * se_theta)));
			values[7] = Float8GetDatum(pow(st->survival, exp(-KM_Z95 * se_theta)));
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
		int64		d,
					n;

		CHECK_FOR_INTERRUPTS();
		if (j >= b->n || (i < a->n && a->recs[i].time <= b->recs[j].time))
			t = a->recs[i].time;
		else
			t = b->recs[j].time;
		if (i < a->n && a->recs[i].time == t)
			ra = a->recs[i++];
		if (j < b->n && b->recs[j].time == t)
			rb = b->recs[j++];
		d = ra.events + rb.events;
		n = na + nb;
		if (d > 0 && n > 0)
		{
			ea += (double) d * (double) na / (double) n;
			if (n > 1)
				var += (double) na * (double) nb * (double) d * (double) (n - d) /
					((double) n * (double) n * (double) (n - 1));
		}
		oa += ra.events;
		ob += rb.events;
		na += ra.entries - ra.events - ra.censored;
		nb += rb.entries - rb.events - rb.censored;
	}
	values[0] = Int64GetDatum(oa);
	values[1] = Float8GetDatum(ea);
	values[2] = Int64GetDatum(ob);
	values[3] = Float8GetDatum((double) (oa + ob) - ea);
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
