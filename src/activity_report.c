/*-------------------------------------------------------------------------
 *
 * activity_report.c
 *	  Reports over a clm.activity state: cohort retention, lifecycle,
 *	  stickiness, churn rate, and activity_info.
 *
 * IDENTIFICATION
 *	  src/activity_report.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "activity.h"

PG_FUNCTION_INFO_V1(clm_activity_info);
PG_FUNCTION_INFO_V1(clm_retention);
PG_FUNCTION_INFO_V1(clm_lifecycle);
PG_FUNCTION_INFO_V1(clm_stickiness);
PG_FUNCTION_INFO_V1(clm_churn_rate);

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
