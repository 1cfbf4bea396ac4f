/*-------------------------------------------------------------------------
 *
 * clv_holdout.c
 *	  clm.calibration_holdout: per customer, the calibration summary
 *	  (frequency, recency, t, monetary up to calibration_end, exactly as
 *	  clm.rfm_summary with as_of = calibration_end) and the holdout
 *	  purchases in (calibration_end, observation_end], for checking a
 *	  fitted model's predictions against what happened.  Part of the CLV
 *	  models (see clv.h for the CLV files); it needs none of the others.
 *
 * Holdout frequency counts distinct purchase periods after calibration_end
 * (no "- 1": every holdout period is a purchase after the first), leaving
 * out a period that already holds a calibration purchase (possible only
 * for the period containing calibration_end).  Customers whose first
 * purchase is after calibration_end get NULL (they are not in the
 * calibration sample).
 *
 * The state is one customer's list of (period, amount, holdout) entries,
 * sorted and merged in the final function: an aggregate grouped by
 * customer, hence STYPE = internal with serialize/deserialize.
 *
 * IDENTIFICATION
 *	  src/clv_holdout.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "clm.h"
#include "period.h"
#include "varstate.h"

#define CLV_HOLDOUT_SERIAL_VERSION 1

typedef struct ClvHoldoutEntry
{
	int64		idx;
	double		amount;
	bool		holdout;
} ClvHoldoutEntry;

typedef struct ClvHoldoutState
{
	TimestampTz cal_end;
	TimestampTz obs_end;
	ClmPeriodUnit period;
	ClmPeriodUnit unit;
	int64		cal_idx;
	int64		obs_idx;
	int32		n;
	int32		cap;
	ClvHoldoutEntry *e;
} ClvHoldoutState;

typedef struct ClvHoldoutCache
{
	ClmTzCache	tzcache;
	ClmPeriodUnit period;
	ClmPeriodUnit unit;
} ClvHoldoutCache;

PG_FUNCTION_INFO_V1(clm_holdout_accum);
PG_FUNCTION_INFO_V1(clm_holdout_combine);
PG_FUNCTION_INFO_V1(clm_holdout_serialize);
PG_FUNCTION_INFO_V1(clm_holdout_deserialize);
PG_FUNCTION_INFO_V1(clm_holdout_final);

/*
 * A new empty state with room for cap entries.
 */
static ClvHoldoutState *
ClvHoldoutNew(MemoryContext cxt, int32 cap)
{
	ClvHoldoutState *s = MemoryContextAllocZero(cxt, sizeof(ClvHoldoutState));

	s->cap = Max(cap, 8);
	s->e = MemoryContextAlloc(cxt, s->cap * sizeof(ClvHoldoutEntry));
	return s;
}

/*
 * Append one (period, amount, holdout) entry.
 */
static void
ClvHoldoutAppend(ClvHoldoutState *s, int64 idx, double amount, bool holdout)
{
	if (s->n >= s->cap)
	{
		if ((Size) s->cap * 2 * sizeof(ClvHoldoutEntry) > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many purchases for one customer")));
		s->cap *= 2;
		s->e = repalloc(s->e, s->cap * sizeof(ClvHoldoutEntry));
	}
	s->e[s->n].idx = idx;
	s->e[s->n].amount = amount;
	s->e[s->n].holdout = holdout;
	s->n++;
}

/*
 * Reject rows of one group with different parameters.
 */
static void
ClvHoldoutCheckSame(const ClvHoldoutState *s, TimestampTz cal_end, TimestampTz obs_end,
			ClmPeriodUnit period, ClmPeriodUnit unit)
{
	if (s->cal_end != cal_end || s->obs_end != obs_end ||
		s->period != period || s->unit != unit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("calibration_end, observation_end, period and time_unit must be the same for all rows of a group")));
}

/*
 * Transition: (state, event_at, amount, calibration_end, observation_end
 * [, period [, time_unit]]).  Rows with a NULL are skipped, events after
 * observation_end left out.
 */
Datum
clm_holdout_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ClvHoldoutState *s;
	ClvHoldoutCache *c;
	TimestampTz at,
				cal_end,
				obs_end;
	double		amount;
	ClmPeriodUnit period = CLM_DAY,
				unit;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm_holdout_accum called in non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (ClvHoldoutState *) PG_GETARG_POINTER(0);
	for (i = 1; i <= 4; i++)
		if (PG_ARGISNULL(i))
		{
			if (s == NULL)
				PG_RETURN_NULL();
			PG_RETURN_POINTER(s);
		}
	for (i = 5; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", i == 5 ? "period" : "time_unit")));

	at = PG_GETARG_TIMESTAMPTZ(1);
	amount = PG_GETARG_FLOAT8(2);
	cal_end = PG_GETARG_TIMESTAMPTZ(3);
	obs_end = PG_GETARG_TIMESTAMPTZ(4);

	c = (ClvHoldoutCache *) fcinfo->flinfo->fn_extra;
	if (c == NULL || c->tzcache.tz != session_timezone)
	{
		if (c == NULL)
			c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ClvHoldoutCache));
		clm_tzcache_init(&c->tzcache, session_timezone);
		fcinfo->flinfo->fn_extra = c;
	}
	/* parsing two short texts per row is cheap next to the row itself */
	if (PG_NARGS() > 5)
		period = clm_period_parse_text(PG_GETARG_TEXT_PP(5), "period");
	unit = PG_NARGS() > 6 ? clm_period_parse_text(PG_GETARG_TEXT_PP(6), "time_unit") : period;

	clm_check_timestamp(at, "event_at");
	clm_check_finite(amount, "amount");
	if (amount < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be negative"),
				 errdetail("Got %g.", amount)));

	if (s == NULL)
	{
		clm_check_timestamp(cal_end, "calibration_end");
		clm_check_timestamp(obs_end, "observation_end");
		if (obs_end < cal_end)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("observation_end must not be before calibration_end")));
		s = ClvHoldoutNew(aggcxt, 8);
		s->cal_end = cal_end;
		s->obs_end = obs_end;
		s->period = period;
		s->unit = unit;
		s->cal_idx = clm_period_index(&c->tzcache, cal_end, period);
		s->obs_idx = clm_period_index(&c->tzcache, obs_end, period);
	}
	else
		ClvHoldoutCheckSame(s, cal_end, obs_end, period, unit);

	if (at > obs_end)
		PG_RETURN_POINTER(s);
	ClvHoldoutAppend(s, clm_period_index(&c->tzcache, at, period), amount, at > cal_end);
	PG_RETURN_POINTER(s);
}

/*
 * Combine function: appends state 1 to state 0 (copied into aggcxt if NULL).
 */
Datum
clm_holdout_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt,
				old;
	ClvHoldoutState *a,
			   *b;
	int32		i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm_holdout_combine called in non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : (ClvHoldoutState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (ClvHoldoutState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		old = MemoryContextSwitchTo(aggcxt);
		a = ClvHoldoutNew(aggcxt, b->n);
		memcpy(a, b, offsetof(ClvHoldoutState, n));
		MemoryContextSwitchTo(old);
	}
	else
		ClvHoldoutCheckSame(a, b->cal_end, b->obs_end, b->period, b->unit);
	for (i = 0; i < b->n; i++)
		ClvHoldoutAppend(a, b->e[i].idx, b->e[i].amount, b->e[i].holdout);
	PG_RETURN_POINTER(a);
}

/*
 * Serialize function: portable binary form of a state.
 */
Datum
clm_holdout_serialize(PG_FUNCTION_ARGS)
{
	ClvHoldoutState *s;
	StringInfoData buf;
	int32		i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_holdout_serialize called in non-aggregate context");
	s = (ClvHoldoutState *) PG_GETARG_POINTER(0);
	clm_state_send_header(&buf, CLV_HOLDOUT_SERIAL_VERSION, s->period, s->unit);
	pq_sendint64(&buf, s->cal_end);
	pq_sendint64(&buf, s->obs_end);
	pq_sendint64(&buf, s->cal_idx);
	pq_sendint64(&buf, s->obs_idx);
	pq_sendint32(&buf, s->n);
	for (i = 0; i < s->n; i++)
	{
		pq_sendint64(&buf, s->e[i].idx);
		pq_sendfloat8(&buf, s->e[i].amount);
		pq_sendbyte(&buf, s->e[i].holdout ? 1 : 0);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Deserialize function (validates the length).
 */
Datum
clm_holdout_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	ClvHoldoutState *s;
	ClmPeriodUnit period,
				unit;
	int32		n,
				i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_holdout_deserialize called in non-aggregate context");
	clm_state_read_header(b, &buf, CLV_HOLDOUT_SERIAL_VERSION, "clm.calibration_holdout",
						  &period, &unit);
	s = ClvHoldoutNew(CurrentMemoryContext, 8);
	s->period = period;
	s->unit = unit;
	s->cal_end = pq_getmsgint64(&buf);
	s->obs_end = pq_getmsgint64(&buf);
	s->cal_idx = pq_getmsgint64(&buf);
	s->obs_idx = pq_getmsgint64(&buf);
	n = pq_getmsgint(&buf, 4);
	if (n < 0 || (int64) n * 17 != buf.len - buf.cursor)
		clm_state_invalid_internal(ERRCODE_INVALID_BINARY_REPRESENTATION, "clm.calibration_holdout",
								   psprintf("Entry count %d does not match the state's length.", n));
	for (i = 0; i < n; i++)
	{
		int64		idx = pq_getmsgint64(&buf);
		double		amount = pq_getmsgfloat8(&buf);
		int			h = pq_getmsgbyte(&buf);

		ClvHoldoutAppend(s, idx, amount, h != 0);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/*
 * Order entries by period, calibration first, then amount (deterministic sums).
 */
static int
ClvHoldoutEntryCmp(const void *a, const void *b)
{
	const ClvHoldoutEntry *x = a,
			   *y = b;

	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	if (x->holdout != y->holdout)
		return x->holdout ? 1 : -1;
	/* amounts too, so sums do not depend on the input order */
	if (x->amount != y->amount)
		return x->amount < y->amount ? -1 : 1;
	return 0;
}

/*
 * Final: (frequency_cal, recency_cal, t_cal, monetary_cal,
 * frequency_holdout, monetary_holdout, duration_holdout) or NULL when the
 * customer has no purchase up to calibration_end.
 */
Datum
clm_holdout_final(PG_FUNCTION_ARGS)
{
	ClvHoldoutState *s;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	int32		i,
				ncal = 0,
				nhold = 0;
	int64		first = 0,
				last = 0,
				prev_cal = PG_INT64_MIN,
				prev_hold = PG_INT64_MIN;
	double		first_sum = 0,
				cal_total = 0,
				hold_total = 0;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_holdout_final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (ClvHoldoutState *) PG_GETARG_POINTER(0);
	/* sorting in place is harmless: the entries are a multiset */
	qsort(s->e, s->n, sizeof(ClvHoldoutEntry), ClvHoldoutEntryCmp);
	for (i = 0; i < s->n; i++)
	{
		const ClvHoldoutEntry *e = &s->e[i];

		if (!e->holdout)
		{
			if (ncal == 0)
				first = e->idx;
			if (e->idx == first)
				first_sum += e->amount;
			if (e->idx != prev_cal)
				ncal++;
			prev_cal = e->idx;
			last = e->idx;
			cal_total += e->amount;
		}
		else if (e->idx != prev_cal)
		{
			/* a holdout purchase in a period without calibration purchase */
			if (e->idx != prev_hold)
				nhold++;
			prev_hold = e->idx;
			hold_total += e->amount;
		}
	}
	if (ncal == 0)
		PG_RETURN_NULL();
	clm_check_sum(cal_total);
	clm_check_sum(first_sum);
	clm_check_sum(hold_total);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clm_holdout_final: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int32GetDatum(ncal - 1);
	values[1] = Float8GetDatum(clm_period_span(session_timezone, first, last, s->period, s->unit));
	values[2] = Float8GetDatum(clm_period_span(session_timezone, first, s->cal_idx, s->period, s->unit));
	values[3] = Float8GetDatum(ncal > 1 ? (cal_total - first_sum) / (ncal - 1) : 0.0);
	values[4] = Int32GetDatum(nhold);
	values[5] = Float8GetDatum(nhold > 0 ? hold_total / nhold : 0.0);
	values[6] = Float8GetDatum(clm_period_span(session_timezone, s->cal_idx, s->obs_idx, s->period, s->unit));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
