/*-------------------------------------------------------------------------
 *
 * rfm.c
 *	  clm.rfm_summary: the per-customer recency/frequency/monetary summary
 *	  of the "buy 'til you die" literature.
 *
 * Events are bucketed into periods (day by default); purchases in one
 * period count once and their amounts are summed.  With p periods:
 *   frequency = p - 1 (repeat periods),
 *   recency   = time from the first to the last purchase period,
 *   t         = time from the first purchase period to the as_of period,
 *   monetary  = mean amount of the repeat periods (first period excluded),
 * as lifetimes' summary_data_from_transaction_data defines them.
 *
 * The state is one small struct per customer (an aggregate grouped by
 * customer), hence STYPE = internal with serialize/deserialize functions.
 *
 * IDENTIFICATION
 *	  src/rfm.c
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

#define RFM_INLINE_PERIODS 13
#define RFM_SERIAL_VERSION 1

/*
 * One customer's state.  Purchase periods are appended unsorted (skipping a
 * repeat of the last one) and sorted/deduplicated only when the array is
 * full and in the final function, so a row costs a compare and a store.
 * The struct is exactly 128 bytes (one allocator chunk class, two cache
 * lines) with room for 13 periods inline; hot fields first.
 */
typedef struct RfmState
{
	int32		n;				/* entries in idx[] (may hold duplicates) */
	int32		cap;
	int32	   *idx;			/* purchase period indexes */
	int32		first_idx;		/* earliest purchase period */
	int32		asof_idx;		/* period of as_of */
	int64		events;
	double		total;			/* sum of all amounts */
	double		first_sum;		/* sum of the amounts in the first period */
	TimestampTz first_at;
	TimestampTz last_at;
	TimestampTz as_of;
	uint8		compact;		/* idx[0..n) sorted and distinct */
	uint8		period;			/* ClmPeriodUnit */
	uint8		unit;			/* ClmPeriodUnit */
	uint8		pad;
	int32		inline_idx[RFM_INLINE_PERIODS];
} RfmState;

StaticAssertDecl(sizeof(RfmState) == 128, "RfmState should fill one 128-byte chunk");

/* per-call cache of parsed arguments, in fn_extra */
typedef struct RfmCallCache
{
	ClmTzCache	tzcache;
	char		period_name[16];
	char		unit_name[16];
	ClmPeriodUnit period;
	ClmPeriodUnit unit;
	bool		have_units;
} RfmCallCache;

PG_FUNCTION_INFO_V1(clm_rfm_accum);
PG_FUNCTION_INFO_V1(clm_rfm_combine);
PG_FUNCTION_INFO_V1(clm_rfm_serialize);
PG_FUNCTION_INFO_V1(clm_rfm_deserialize);
PG_FUNCTION_INFO_V1(clm_rfm_final);

static RfmState *
RfmNew(MemoryContext cxt)
{
	RfmState   *s = MemoryContextAllocZero(cxt, sizeof(RfmState));

	s->idx = s->inline_idx;
	s->cap = RFM_INLINE_PERIODS;
	s->compact = true;
	return s;
}

static int
CmpInt32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a,
				y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Sort and deduplicate the period array in place.
 */
static void
RfmCompact(RfmState *s)
{
	int32		i,
				k = 0;

	if (s->compact)
		return;
	qsort(s->idx, s->n, sizeof(int32), CmpInt32);
	for (i = 0; i < s->n; i++)
	{
		if (k == 0 || s->idx[i] != s->idx[k - 1])
			s->idx[k++] = s->idx[i];
	}
	s->n = k;
	s->compact = true;
}

/*
 * Make room for "need" entries; the array lives in the state's context.
 */
static void
RfmReserve(RfmState *s, int32 need)
{
	int32	   *nidx;
	int64		ncap = s->cap;

	if (need <= s->cap)
		return;
	while (ncap < need)
		ncap *= 2;
	if ((Size) ncap * sizeof(int32) > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct periods for one customer")));
	nidx = MemoryContextAlloc(GetMemoryChunkContext(s), ncap * sizeof(int32));
	memcpy(nidx, s->idx, s->n * sizeof(int32));
	if (s->idx != s->inline_idx)
		pfree(s->idx);
	s->idx = nidx;
	s->cap = (int32) ncap;
}

/*
 * Record a purchase in period "p" with amount "amount".
 */
static inline void
RfmAddPeriod(RfmState *s, int32 p, double amount)
{
	if (s->n == 0 || p < s->first_idx)
	{
		s->first_idx = p;
		s->first_sum = amount;
	}
	else if (p == s->first_idx)
		s->first_sum += amount;

	if (s->n > 0 && s->idx[s->n - 1] == p)
		return;
	if (s->n == s->cap)
	{
		/* full: drop duplicates first, grow only if that frees too little */
		RfmCompact(s);
		if (s->n > s->cap / 2)
			RfmReserve(s, s->cap + 1);
		if (s->idx[s->n - 1] == p)
			return;
	}
	if (s->n > 0 && p < s->idx[s->n - 1])
		s->compact = false;
	s->idx[s->n++] = p;
}

/*
 * Period index as int32 (day indexes always fit; hour indexes fit for
 * timestamps within about 245,000 years of 2000).
 */
static inline int32
RfmPeriod(ClmTzCache *cache, TimestampTz ts, ClmPeriodUnit unit)
{
	int64		p = clm_period_index(cache, ts, unit);

	if (p < PG_INT32_MIN || p > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for %s periods", clm_period_name(unit))));
	return (int32) p;
}

/*
 * Compare a text argument with a cached C string without detoasting copies.
 */
static bool
TextEquals(text *t, const char *s)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	return len == (int) strlen(s) && memcmp(VARDATA_ANY(t), s, len) == 0;
}

static RfmCallCache *
RfmGetCache(FunctionCallInfo fcinfo)
{
	RfmCallCache *c = (RfmCallCache *) fcinfo->flinfo->fn_extra;

	if (c == NULL || c->tzcache.tz != session_timezone)
	{
		if (c == NULL)
			c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RfmCallCache));
		clm_tzcache_init(&c->tzcache, session_timezone);
		fcinfo->flinfo->fn_extra = c;
	}
	return c;
}

/*
 * Resolve the period and time_unit arguments (defaults: day, the period).
 */
static void
RfmUnits(FunctionCallInfo fcinfo, RfmCallCache *c)
{
	int			nargs = PG_NARGS();
	text	   *ptxt = NULL,
			   *utxt = NULL;

	if (nargs > 4)
	{
		if (PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("period must not be NULL")));
		ptxt = PG_GETARG_TEXT_PP(4);
	}
	if (nargs > 5)
	{
		if (PG_ARGISNULL(5))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("time_unit must not be NULL")));
		utxt = PG_GETARG_TEXT_PP(5);
	}

	if (c->have_units &&
		(ptxt == NULL || TextEquals(ptxt, c->period_name)) &&
		(utxt == NULL || TextEquals(utxt, c->unit_name)))
		return;

	c->period = ptxt ? clm_period_parse_text(ptxt, "period") : CLM_DAY;
	c->unit = utxt ? clm_period_parse_text(utxt, "time_unit") : c->period;
	if (ptxt && VARSIZE_ANY_EXHDR(ptxt) < (int) sizeof(c->period_name))
		text_to_cstring_buffer(ptxt, c->period_name, sizeof(c->period_name));
	else
		c->period_name[0] = '\0';
	if (utxt && VARSIZE_ANY_EXHDR(utxt) < (int) sizeof(c->unit_name))
		text_to_cstring_buffer(utxt, c->unit_name, sizeof(c->unit_name));
	else
		c->unit_name[0] = '\0';
	c->have_units = true;
}

/*
 * Transition function of all clm.rfm_summary overloads:
 * (state, event_at, amount, as_of [, period [, time_unit]]).
 * Rows with a NULL event_at, amount or as_of are skipped; events after
 * as_of are left out.
 */
Datum
clm_rfm_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	RfmState   *s;
	RfmCallCache *c;
	TimestampTz at,
				as_of;
	double		amount;
	int32		p;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm_rfm_accum called in non-aggregate context");

	s = PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}

	at = PG_GETARG_TIMESTAMPTZ(1);
	amount = PG_GETARG_FLOAT8(2);
	as_of = PG_GETARG_TIMESTAMPTZ(3);

	c = RfmGetCache(fcinfo);
	RfmUnits(fcinfo, c);
	clm_check_timestamp(at, "event_at");
	clm_check_finite(amount, "amount");
	if (amount < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be negative"),
				 errdetail("Got %g.", amount),
				 errhint("Net refunds against their purchases before summarising, or filter them out.")));

	if (s == NULL)
	{
		clm_check_timestamp(as_of, "as_of");
		s = RfmNew(aggcxt);
		s->as_of = as_of;
		s->period = (uint8) c->period;
		s->unit = (uint8) c->unit;
		s->asof_idx = RfmPeriod(&c->tzcache, as_of, c->period);
		s->first_at = DT_NOEND;
		s->last_at = DT_NOBEGIN;
	}
	else if (s->as_of != as_of || s->period != (uint8) c->period || s->unit != (uint8) c->unit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of, period and time_unit must be the same for all rows of a group")));

	if (at > as_of)
		PG_RETURN_POINTER(s);

	p = RfmPeriod(&c->tzcache, at, c->period);
	RfmAddPeriod(s, p, amount);
	s->events++;
	s->total += amount;
	if (at < s->first_at)
		s->first_at = at;
	if (at > s->last_at)
		s->last_at = at;
	PG_RETURN_POINTER(s);
}

/*
 * Merge state b into state a (both of the same parameters).
 */
static void
RfmMerge(RfmState *a, const RfmState *b)
{
	if (a->as_of != b->as_of || a->period != b->period || a->unit != b->unit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of, period and time_unit must be the same for all rows of a group")));
	a->events += b->events;
	if (b->n == 0)
		return;
	if (a->n == 0 || b->first_idx < a->first_idx)
	{
		a->first_idx = b->first_idx;
		a->first_sum = b->first_sum;
	}
	else if (b->first_idx == a->first_idx)
		a->first_sum += b->first_sum;

	RfmReserve(a, a->n + b->n);
	memcpy(a->idx + a->n, b->idx, b->n * sizeof(int32));
	a->n += b->n;
	a->compact = false;
	RfmCompact(a);
	a->total += b->total;
	if (b->first_at < a->first_at)
		a->first_at = b->first_at;
	if (b->last_at > a->last_at)
		a->last_at = b->last_at;
}

/*
 * Copy a state into another memory context.
 */
static RfmState *
RfmCopy(MemoryContext cxt, const RfmState *src)
{
	RfmState   *s = RfmNew(cxt);

	memcpy(s, src, sizeof(RfmState));
	s->idx = s->inline_idx;
	s->cap = RFM_INLINE_PERIODS;
	s->n = 0;
	RfmReserve(s, src->n);
	memcpy(s->idx, src->idx, src->n * sizeof(int32));
	s->n = src->n;
	return s;
}

Datum
clm_rfm_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	RfmState   *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm_rfm_combine called in non-aggregate context");

	a = PG_ARGISNULL(0) ? NULL : (RfmState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (RfmState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		PG_RETURN_POINTER(RfmCopy(aggcxt, b));
	RfmMerge(a, b);
	PG_RETURN_POINTER(a);
}

/*
 * Portable binary form: a version byte, the parameters, the sums and the
 * sorted distinct periods.
 */
Datum
clm_rfm_serialize(PG_FUNCTION_ARGS)
{
	RfmState   *s;
	StringInfoData buf;
	int32		i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_rfm_serialize called in non-aggregate context");
	s = (RfmState *) PG_GETARG_POINTER(0);
	RfmCompact(s);

	clm_state_send_header(&buf, RFM_SERIAL_VERSION, (ClmPeriodUnit) s->period,
						  (ClmPeriodUnit) s->unit);
	pq_sendint64(&buf, s->as_of);
	pq_sendint32(&buf, s->asof_idx);
	pq_sendint64(&buf, s->events);
	pq_sendfloat8(&buf, s->total);
	pq_sendfloat8(&buf, s->first_sum);
	pq_sendint64(&buf, s->first_at);
	pq_sendint64(&buf, s->last_at);
	pq_sendint32(&buf, s->n);
	for (i = 0; i < s->n; i++)
		pq_sendint32(&buf, s->idx[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
clm_rfm_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	RfmState   *s;
	ClmPeriodUnit period,
				unit;
	int32		n,
				i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_rfm_deserialize called in non-aggregate context");
	clm_state_read_header(b, &buf, RFM_SERIAL_VERSION, "clm.rfm_summary", &period, &unit);
	s = RfmNew(CurrentMemoryContext);
	s->period = (uint8) period;
	s->unit = (uint8) unit;
	s->as_of = pq_getmsgint64(&buf);
	s->asof_idx = pq_getmsgint(&buf, 4);
	s->events = pq_getmsgint64(&buf);
	s->total = pq_getmsgfloat8(&buf);
	s->first_sum = pq_getmsgfloat8(&buf);
	s->first_at = pq_getmsgint64(&buf);
	s->last_at = pq_getmsgint64(&buf);
	n = pq_getmsgint(&buf, 4);
	if (n < 0 || (int64) n * 4 != buf.len - buf.cursor)
		clm_state_invalid_internal(ERRCODE_INVALID_BINARY_REPRESENTATION, "clm.rfm_summary",
								   psprintf("Period count %d does not match the state's length.", n));
	RfmReserve(s, n);
	for (i = 0; i < n; i++)
	{
		s->idx[i] = pq_getmsgint(&buf, 4);
		if (i > 0 && s->idx[i] <= s->idx[i - 1])
			clm_state_invalid_internal(ERRCODE_INVALID_BINARY_REPRESENTATION, "clm.rfm_summary",
									   "Periods are not strictly increasing.");
	}
	s->n = n;
	if (n > 0)
		s->first_idx = s->idx[0];
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/*
 * Final function: the clm.rfm composite, or NULL when the customer has no
 * purchase up to as_of.
 */
Datum
clm_rfm_final(PG_FUNCTION_ARGS)
{
	RfmState   *s;
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {0};
	int32		frequency;
	double		monetary = 0.0;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_rfm_final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (RfmState *) PG_GETARG_POINTER(0);
	if (s->n == 0)
		PG_RETURN_NULL();
	RfmCompact(s);

	/* the blessed result descriptor is looked up once per query */
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "clm_rfm_final: return type must be a row type");
		tupdesc = BlessTupleDesc(tupdesc);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}

	clm_check_sum(s->total);
	clm_check_sum(s->first_sum);
	frequency = s->n - 1;
	if (frequency > 0)
		monetary = (s->total - s->first_sum) / frequency;

	values[0] = Int32GetDatum(frequency);
	values[1] = Float8GetDatum(clm_period_span(session_timezone, s->idx[0], s->idx[s->n - 1],
											   (ClmPeriodUnit) s->period, (ClmPeriodUnit) s->unit));
	values[2] = Float8GetDatum(clm_period_span(session_timezone, s->idx[0], s->asof_idx,
											   (ClmPeriodUnit) s->period, (ClmPeriodUnit) s->unit));
	values[3] = Float8GetDatum(monetary);
	values[4] = TimestampTzGetDatum(s->first_at);
	values[5] = TimestampTzGetDatum(s->last_at);
	values[6] = Int32GetDatum(s->n);
	values[7] = Float8GetDatum(s->total);
	values[8] = Int64GetDatum(s->events);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
