/*-------------------------------------------------------------------------
 *
 * subs.c
 *	  clm.subscriptions_agg and its accessors: MRR movements, customer and
 *	  MRR churn rates, gross and net revenue retention.
 *
 * The aggregate collects subscription rows (customer, started_at, ended_at,
 * mrr) into the varlena type clm.subscriptions.  Combining two states is a
 * concatenation, so the aggregate runs in parallel workers and on Citus.
 * The transition function appends in place (capacity doubling, like core
 * float8_accum updates its array) and the final function trims the slack.
 *
 * The accessors sort the rows by customer and replay each customer's MRR
 * step function: a subscription adds its MRR from started_at (inclusive)
 * to ended_at (exclusive).  A customer is active while at least one of
 * their subscriptions with MRR > 0 is running; overlapping subscriptions
 * are summed, so a customer counts once.  At every instant where the
 * customer's MRR changes, one movement is recorded (ChartMogul / Stripe
 * conventions):
 *   0 -> m > 0, first time      new
 *   0 -> m > 0, paid before     reactivation
 *   m > 0 -> 0                  churn (the last active subscription ends)
 *   m -> m' > m (both > 0)      expansion
 *   m -> m' < m (both > 0)      contraction (e.g. ending one of several)
 * Changes at the same timestamp (a plan switch ending one subscription and
 * starting the next) are netted into one movement.
 *
 * IDENTIFICATION
 *	  src/subs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "clm.h"
#include "period.h"
#include "varstate.h"

#define SUBS_MAGIC 0x434c4d53	/* "CLMS" */
#define SUBS_VERSION 1
#define SUBS_INITIAL_ROWS 8

typedef struct SubsRow
{
	int64		customer;
	TimestampTz start;
	TimestampTz end;			/* DT_NOEND while still active */
	double		mrr;
} SubsRow;

/*
 * In memory (and on disk) the state is a plain varlena; its capacity is
 * (VARSIZE - header) / sizeof(SubsRow), n of which are used.
 */
typedef struct SubsState
{
	int32		vl_len_;
	int32		magic;
	int64		n;
	SubsRow		rows[FLEXIBLE_ARRAY_MEMBER];
} SubsState;

#define SUBS_HDRSZ offsetof(SubsState, rows)
#define SubsCapacity(s) ((int64) ((VARSIZE(s) - SUBS_HDRSZ) / sizeof(SubsRow)))
#define SUBS_MAX_ROWS ((int64) ((MaxAllocSize - SUBS_HDRSZ) / sizeof(SubsRow)))

/* one MRR change of one customer */
typedef struct SubsEvent
{
	TimestampTz at;
	double		delta;
	int32		active_delta;	/* +1/-1 for subscriptions with mrr > 0 */
} SubsEvent;

/* per-period accumulators of the movement replay */
typedef struct SubsPeriod
{
	int64		new_customers;
	double		new_mrr;
	int64		expansion_customers;
	double		expansion_mrr;
	int64		contraction_customers;
	double		contraction_mrr;
	int64		churned_customers;
	double		churned_mrr;
	int64		reactivated_customers;
	double		reactivation_mrr;
	int64		churned_of_start;	/* active at period start, churned in it */
	double		partial_time;	/* customer-time correction, microseconds */
} SubsPeriod;

PG_FUNCTION_INFO_V1(clm_subscriptions_in);
PG_FUNCTION_INFO_V1(clm_subscriptions_out);
PG_FUNCTION_INFO_V1(clm_subscriptions_send);
PG_FUNCTION_INFO_V1(clm_subscriptions_recv);
PG_FUNCTION_INFO_V1(clm_subscriptions_accum);
PG_FUNCTION_INFO_V1(clm_subscriptions_combine);
PG_FUNCTION_INFO_V1(clm_subscriptions_final);
PG_FUNCTION_INFO_V1(clm_mrr_movements);
PG_FUNCTION_INFO_V1(clm_mrr_retention);

/*
 * Allocate a state able to hold "cap" rows, in the current context.
 */
static SubsState *
SubsAlloc(int64 cap)
{
	SubsState  *s;

	if (cap > SUBS_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many subscription rows in one clm.subscriptions value"),
				 errdetail("At most " INT64_FORMAT " rows fit in one value.", SUBS_MAX_ROWS),
				 errhint("Aggregate per segment (GROUP BY) or over a shorter time range.")));
	/* zeroed: the spare capacity travels with partial states, never uninitialised */
	s = palloc0(SUBS_HDRSZ + cap * sizeof(SubsRow));
	SET_VARSIZE(s, SUBS_HDRSZ + cap * sizeof(SubsRow));
	s->magic = SUBS_MAGIC;
	s->n = 0;
	return s;
}

/*
 * Return a state with room for "need" rows: s itself when it has room,
 * else a copy with doubled capacity in the current (per-call) context;
 * nodeAgg copies a changed transition value into the aggregate context.
 */
static SubsState *
SubsReserve(SubsState *s, int64 need)
{
	int64		cap = SubsCapacity(s);
	SubsState  *ns;

	if (need <= cap)
		return s;
	cap = Max(cap, SUBS_INITIAL_ROWS);
	while (cap < need)
		cap *= 2;
	cap = Min(cap, SUBS_MAX_ROWS);
	ns = SubsAlloc(Max(cap, need));
	memcpy(ns->rows, s->rows, s->n * sizeof(SubsRow));
	ns->n = s->n;
	return ns;
}

/*
 * Validate a detoasted state value.
 */
static SubsState *
SubsCheck(SubsState *s)
{
	if (VARSIZE(s) < SUBS_HDRSZ || s->magic != SUBS_MAGIC || s->n < 0 ||
		s->n > SubsCapacity(s))
		clm_state_corrupt("clm.subscriptions", "The header does not match the value's length.");
	return s;
}

#define PG_GETARG_SUBS(n) SubsCheck((SubsState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

/*
 * Check one subscription row (all rules of the input in one place).
 */
static void
SubsCheckRow(TimestampTz start, TimestampTz end, double mrr)
{
	clm_check_timestamp(start, "started_at");
	if (end != DT_NOEND)
		clm_check_timestamp(end, "ended_at");
	clm_check_finite(mrr, "mrr");
	if (mrr < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mrr must not be negative"),
				 errdetail("Got %g.", mrr),
				 errhint("Record discounts and credits by lowering the subscription's MRR.")));
	if (end < start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ended_at must not be before started_at"),
				 errdetail("started_at %s, ended_at %s.",
						   timestamptz_to_str(start), timestamptz_to_str(end))));
}

/*
 * Binary form: version byte, row count, then the rows.
 */
static void
SubsWrite(StringInfo buf, const SubsState *s)
{
	int64		i;

	pq_sendbyte(buf, SUBS_VERSION);
	pq_sendint64(buf, s->n);
	for (i = 0; i < s->n; i++)
	{
		pq_sendint64(buf, s->rows[i].customer);
		pq_sendint64(buf, s->rows[i].start);
		pq_sendint64(buf, s->rows[i].end);
		pq_sendfloat8(buf, s->rows[i].mrr);
	}
}

/*
 * Parse the binary form, re-checking every row.
 */
static SubsState *
SubsRead(StringInfo buf)
{
	int64		n,
				i;
	SubsState  *s;

	if (buf->len - buf->cursor < 9 || pq_getmsgbyte(buf) != SUBS_VERSION)
		clm_state_corrupt("clm.subscriptions", "Unknown format version.");
	n = pq_getmsgint64(buf);
	if (n < 0 || n > SUBS_MAX_ROWS || n * 32 != (int64) (buf->len - buf->cursor))
		clm_state_corrupt("clm.subscriptions", "The row count does not match the value's length.");
	s = SubsAlloc(n);
	for (i = 0; i < n; i++)
	{
		SubsRow    *r = &s->rows[i];

		r->customer = pq_getmsgint64(buf);
		r->start = pq_getmsgint64(buf);
		r->end = pq_getmsgint64(buf);
		r->mrr = pq_getmsgfloat8(buf);
		SubsCheckRow(r->start, r->end, r->mrr);
	}
	s->n = n;
	pq_getmsgend(buf);
	return s;
}

/*
 * Text input of clm.subscriptions: \x + hex of the binary form, rows re-checked.
 */
Datum
clm_subscriptions_in(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	clm_state_hex_in(PG_GETARG_CSTRING(0), &buf, "clm.subscriptions");
	PG_RETURN_POINTER(SubsRead(&buf));
}

/*
 * Text output of clm.subscriptions (used by Citus to ship partial states).
 */
Datum
clm_subscriptions_out(PG_FUNCTION_ARGS)
{
	SubsState  *s = PG_GETARG_SUBS(0);
	StringInfoData buf;

	initStringInfo(&buf);
	SubsWrite(&buf, s);
	PG_RETURN_CSTRING(clm_state_hex_out(&buf));
}

/*
 * Binary output of clm.subscriptions (portable, network byte order).
 */
Datum
clm_subscriptions_send(PG_FUNCTION_ARGS)
{
	SubsState  *s = PG_GETARG_SUBS(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	SubsWrite(&buf, s);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Binary input of clm.subscriptions, rows re-checked.
 */
Datum
clm_subscriptions_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);

	PG_RETURN_POINTER(SubsRead(buf));
}

/*
 * Transition function: (state, customer, started_at, ended_at, mrr).
 * Rows with a NULL customer, started_at or mrr are skipped; a NULL ended_at
 * is a subscription still running.  The state is extended in place.
 */
Datum
clm_subscriptions_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	SubsState  *s;
	SubsRow    *r;
	TimestampTz start,
				end;
	double		mrr;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "clm_subscriptions_accum called in non-aggregate context");

	s = PG_ARGISNULL(0) ? NULL : (SubsState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	start = PG_GETARG_TIMESTAMPTZ(2);
	end = PG_ARGISNULL(3) ? DT_NOEND : PG_GETARG_TIMESTAMPTZ(3);
	mrr = PG_GETARG_FLOAT8(4);
	SubsCheckRow(start, end, mrr);

	if (s == NULL)
		s = SubsAlloc(SUBS_INITIAL_ROWS);
	else
		s = SubsReserve(s, s->n + 1);
	r = &s->rows[s->n++];
	r->customer = PG_GETARG_INT64(1);
	r->start = start;
	r->end = end;
	r->mrr = mrr;
	PG_RETURN_POINTER(s);
}

/*
 * Combine function (STRICT: nodeAgg adopts the first non-NULL state):
 * append b's rows to a, in place when a has room.
 */
Datum
clm_subscriptions_combine(PG_FUNCTION_ARGS)
{
	SubsState  *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_subscriptions_combine called in non-aggregate context");
	a = PG_GETARG_SUBS(0);
	b = PG_GETARG_SUBS(1);
	if (b->n == 0)
		PG_RETURN_POINTER(a);
	a = SubsReserve(a, a->n + b->n);
	memcpy(&a->rows[a->n], b->rows, b->n * sizeof(SubsRow));
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

/*
 * Final function: the state without the transition slack.
 */
Datum
clm_subscriptions_final(PG_FUNCTION_ARGS)
{
	SubsState  *s = PG_GETARG_SUBS(0);
	SubsState  *t;

	if (SubsCapacity(s) == s->n)
		PG_RETURN_POINTER(s);
	t = SubsAlloc(s->n);
	memcpy(t->rows, s->rows, s->n * sizeof(SubsRow));
	t->n = s->n;
	PG_RETURN_POINTER(t);
}

/*
 * qsort comparator: rows by customer.
 */
static int
SubsRowCmp(const void *a, const void *b)
{
	const SubsRow *x = a;
	const SubsRow *y = b;

	if (x->customer != y->customer)
		return x->customer < y->customer ? -1 : 1;
	return 0;
}

/*
 * qsort comparator: events by time.
 */
static int
SubsEventCmp(const void *a, const void *b)
{
	const SubsEvent *x = a;
	const SubsEvent *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return 0;
}

/*
 * Shared context of the accessors: the rows sorted by customer, the
 * period grid, and a buffer for one customer's events.
 */
typedef struct SubsReplay
{
	SubsRow    *rows;
	int64		n;
	ClmPeriodUnit unit;
	ClmTzCache	tzcache;
	TimestampTz until;			/* events after it are ignored */
	int64		pfirst;			/* first period index */
	int64		nperiods;		/* periods pfirst .. pfirst + nperiods - 1 */
	TimestampTz *bounds;		/* nperiods + 1 period starts */
	SubsEvent  *ev;
	int64		evcap;
} SubsReplay;

/*
 * Sort the rows and lay out the period grid: from the period of the first
 * start to the period of "until" (NULL: of the last start or end).
 */
static void
SubsReplayInit(SubsReplay *rp, SubsState *s, ClmPeriodUnit unit, bool has_until,
			   TimestampTz until)
{
	TimestampTz first = DT_NOEND,
				last = DT_NOBEGIN;
	int64		i,
				plast;

	rp->unit = unit;
	clm_tzcache_init(&rp->tzcache, session_timezone);
	rp->until = has_until ? until : DT_NOEND;
	rp->n = s->n;
	rp->rows = palloc_extended(Max(s->n, 1) * sizeof(SubsRow), MCXT_ALLOC_HUGE);
	memcpy(rp->rows, s->rows, s->n * sizeof(SubsRow));
	qsort(rp->rows, s->n, sizeof(SubsRow), SubsRowCmp);
	for (i = 0; i < s->n; i++)
	{
		SubsRow    *r = &rp->rows[i];

		if (r->start > rp->until)
			continue;
		first = Min(first, r->start);
		last = Max(last, r->start);
		if (r->end != DT_NOEND && r->end <= rp->until)
			last = Max(last, r->end);
	}
	rp->nperiods = 0;
	if (first == DT_NOEND)
		return;
	if (has_until)
		last = until;
	rp->pfirst = clm_period_index(&rp->tzcache, first, unit);
	plast = clm_period_index(&rp->tzcache, last, unit);
	rp->nperiods = plast - rp->pfirst + 1;
	if (rp->nperiods > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many periods: " INT64_FORMAT, rp->nperiods),
				 errhint("Use a longer period unit.")));
	rp->bounds = palloc((rp->nperiods + 1) * sizeof(TimestampTz));
	for (i = 0; i <= rp->nperiods; i++)
		rp->bounds[i] = clm_period_start(session_timezone, rp->pfirst + i, unit);
	rp->evcap = 16;
	rp->ev = palloc(rp->evcap * sizeof(SubsEvent));
}

/*
 * Collect the events of the customer whose rows start at rows[i]; returns
 * the event count (sorted by time) and sets *next to the next customer.
 */
static int64
SubsCustomerEvents(SubsReplay *rp, int64 i, int64 *next)
{
	int64		j,
				ne = 0;
	int64		customer = rp->rows[i].customer;

	for (j = i; j < rp->n && rp->rows[j].customer == customer; j++)
	{
		SubsRow    *r = &rp->rows[j];
		int32		act = r->mrr > 0 ? 1 : 0;

		if (r->start > rp->until || r->end == r->start || act == 0)
			continue;
		if (ne + 2 > rp->evcap)
		{
			rp->evcap *= 2;
			rp->ev = repalloc_huge(rp->ev, rp->evcap * sizeof(SubsEvent));
		}
		rp->ev[ne].at = r->start;
		rp->ev[ne].delta = r->mrr;
		rp->ev[ne].active_delta = act;
		ne++;
		if (r->end != DT_NOEND && r->end <= rp->until)
		{
			rp->ev[ne].at = r->end;
			rp->ev[ne].delta = -r->mrr;
			rp->ev[ne].active_delta = -act;
			ne++;
		}
	}
	*next = j;
	if (ne > 1)
		qsort(rp->ev, ne, sizeof(SubsEvent), SubsEventCmp);
	return ne;
}

/*
 * Period (relative to pfirst) containing "at".
 */
static inline int64
SubsPeriodOf(SubsReplay *rp, TimestampTz at)
{
	return clm_period_index(&rp->tzcache, at, rp->unit) - rp->pfirst;
}

/*
 * Walk one customer's events, calling back at every net MRR change with
 * the MRR before and after.  Returns the number of distinct change times.
 */
typedef void (*SubsChangeFn) (void *arg, TimestampTz at, double before, double after,
							  bool paid_before);

/*
 * An MRR sum (one customer's overlapping subscriptions, a period's
 * movements, a cohort's MRR), which must stay finite: sums of huge MRR
 * values would print as Infinity or NaN.
 */
static inline double
MrrSum(double v)
{
	if (unlikely(!isfinite(v)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("MRR total out of range"),
				 errdetail("The MRR values add up to more than the largest double precision value.")));
	return v;
}

/*
 * Replay one customer's events (sorted by time), netting those at the same
 * instant, and call fn at every change of the customer's MRR.
 */
static void
SubsReplayCustomer(SubsReplay *rp, int64 ne, SubsChangeFn fn, void *arg)
{
	int64		k = 0;
	double		mrr = 0.0;
	int32		active = 0;
	bool		paid = false;

	while (k < ne)
	{
		TimestampTz at = rp->ev[k].at;
		double		before = mrr;

		while (k < ne && rp->ev[k].at == at)
		{
			mrr = MrrSum(mrr + rp->ev[k].delta);
			active += rp->ev[k].active_delta;
			k++;
		}
		if (active == 0)
			mrr = 0.0;			/* no float residue once nothing runs */
		if (mrr != before)
			fn(arg, at, before, mrr, paid);
		if (mrr > 0)
			paid = true;
	}
}

/* movement replay: per-customer bookkeeping */
typedef struct MovementArg
{
	SubsReplay *rp;
	SubsPeriod *per;
	int64		last_exp;		/* last period counted per kind */
	int64		last_con;
	int64		last_churn;
	int64		cur_period;
	bool		active_at_start;
} MovementArg;

/*
 * Classify one MRR change into the period containing it.
 */
static void
MovementChange(void *argp, TimestampTz at, double before, double after, bool paid_before)
{
	MovementArg *a = argp;
	int64		p = SubsPeriodOf(a->rp, at);
	SubsPeriod *pp = &a->per[p];
	double		pend = (double) (a->rp->bounds[p + 1] - at);

	if (p != a->cur_period)
	{
		a->cur_period = p;
		a->active_at_start = before > 0;
	}
	if (before == 0)
	{
		pp->partial_time += pend;
		if (paid_before)
		{
			pp->reactivated_customers++;
			pp->reactivation_mrr += after;
		}
		else
		{
			pp->new_customers++;
			pp->new_mrr += after;
		}
	}
	else if (after == 0)
	{
		pp->partial_time -= pend;
		pp->churned_customers++;
		pp->churned_mrr -= before;
		if (a->active_at_start && a->last_churn != p)
			pp->churned_of_start++;
		a->last_churn = p;
	}
	else if (after > before)
	{
		pp->expansion_mrr += after - before;
		if (a->last_exp != p)
			pp->expansion_customers++;
		a->last_exp = p;
	}
	else
	{
		pp->contraction_mrr += after - before;
		if (a->last_con != p)
			pp->contraction_customers++;
		a->last_con = p;
	}
}

/*
 * The period argument (NULL refused).
 */
static ClmPeriodUnit
SubsUnitArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("period must not be NULL")));
	return clm_period_parse_text(PG_GETARG_TEXT_PP(argno), "period");
}

/*
 * num / den as a Datum, or NULL (via *isnull) when den is not positive.
 */
static inline Datum
RateOrNull(double num, double den, bool *isnull)
{
	*isnull = !(den > 0);
	return *isnull ? (Datum) 0 : Float8GetDatum(num / den);
}

/*
 * clm.mrr_movements(state, period text DEFAULT 'month',
 *					 until timestamptz DEFAULT NULL): one row per period.
 */
Datum
clm_mrr_movements(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SubsState  *s;
	SubsReplay	rp;
	MovementArg ma;
	SubsPeriod *per;
	int64		i,
				p,
				customers = 0;
	double		mrr = 0.0;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	s = PG_GETARG_SUBS(0);
	SubsReplayInit(&rp, s, SubsUnitArg(fcinfo, 1), !PG_ARGISNULL(2),
				   PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2));
	if (!PG_ARGISNULL(2))
		clm_check_timestamp(rp.until, "until");
	if (rp.nperiods == 0)
		return (Datum) 0;

	per = palloc0(sizeof(SubsPeriod) * (rp.nperiods));
	ma.rp = &rp;
	ma.per = per;
	for (i = 0; i < rp.n;)
	{
		int64		next;
		int64		ne = SubsCustomerEvents(&rp, i, &next);

		CHECK_FOR_INTERRUPTS();
		ma.last_exp = ma.last_con = ma.last_churn = ma.cur_period = -1;
		ma.active_at_start = false;
		SubsReplayCustomer(&rp, ne, MovementChange, &ma);
		i = next;
	}

	for (p = 0; p < rp.nperiods; p++)
	{
		SubsPeriod *pp = &per[p];
		Datum		values[20];
		bool		nulls[20] = {0};
		double		len = (double) (rp.bounds[p + 1] - rp.bounds[p]);
		double		avg_customers = customers + pp->partial_time / len;
		int64		cust_end = customers + pp->new_customers +
			pp->reactivated_customers - pp->churned_customers;
		double		mrr_end = MrrSum(mrr + MrrSum(pp->new_mrr) + MrrSum(pp->reactivation_mrr) +
									 MrrSum(pp->expansion_mrr) + MrrSum(pp->contraction_mrr) +
									 MrrSum(pp->churned_mrr));

		if (cust_end == 0)
			mrr_end = 0.0;
		values[0] = TimestampTzGetDatum(rp.bounds[p]);
		values[1] = Int64GetDatum(customers);
		values[2] = Float8GetDatum(mrr);
		values[3] = Int64GetDatum(pp->new_customers);
		values[4] = Float8GetDatum(pp->new_mrr);
		values[5] = Int64GetDatum(pp->expansion_customers);
		values[6] = Float8GetDatum(pp->expansion_mrr);
		values[7] = Int64GetDatum(pp->contraction_customers);
		values[8] = Float8GetDatum(pp->contraction_mrr);
		values[9] = Int64GetDatum(pp->churned_customers);
		values[10] = Float8GetDatum(pp->churned_mrr);
		values[11] = Int64GetDatum(pp->reactivated_customers);
		values[12] = Float8GetDatum(pp->reactivation_mrr);
		values[13] = Int64GetDatum(cust_end);
		values[14] = Float8GetDatum(mrr_end);
		values[15] = RateOrNull((double) pp->churned_of_start, (double) customers, &nulls[15]);
		values[16] = RateOrNull((double) pp->churned_customers, avg_customers, &nulls[16]);
		values[17] = RateOrNull(-(pp->churned_mrr + pp->contraction_mrr), mrr, &nulls[17]);
		values[18] = RateOrNull(-(pp->churned_mrr + pp->contraction_mrr + pp->expansion_mrr),
								mrr, &nulls[18]);
		values[19] = Int64GetDatum(pp->churned_of_start);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		customers = cust_end;
		mrr = mrr_end;
	}
	return (Datum) 0;
}

/* retention replay: one customer's MRR at every period start */
typedef struct RetentionArg
{
	SubsReplay *rp;
	double	   *mrr_at;			/* nperiods + 1 entries */
	int64	   *churns_before;	/* churn events before each period start */
	int64		filled;			/* entries of mrr_at set so far */
	double		cur;
	int64		churns;
} RetentionArg;

/*
 * mrr_at[q] is the MRR just before the period start bounds[q] (a change at
 * exactly bounds[q] belongs to period q, as in clm.mrr_movements).  Fill
 * the entries of the periods up to the one containing "at" with the MRR in
 * force before the change, then apply the change.
 */
static void
RetentionChange(void *argp, TimestampTz at, double before, double after, bool paid_before)
{
	RetentionArg *a = argp;
	int64		upto = SubsPeriodOf(a->rp, at) + 1;

	while (a->filled < upto)
	{
		a->mrr_at[a->filled] = a->cur;
		a->churns_before[a->filled] = a->churns;
		a->filled++;
	}
	a->cur = after;
	if (after == 0)
		a->churns++;
}

/*
 * clm.mrr_retention(state, period text DEFAULT 'month', window int DEFAULT
 *					 12, reactivation boolean DEFAULT true, until DEFAULT NULL):
 * for every period start p with p + window inside the data, the customers
 * paying at p and their MRR "window" periods later:
 *   churn       = MRR of those paying nothing at the end (with reactivation
 *				   = false: also of those who churned at any time between),
 *   contraction = decreases of the others, expansion = increases,
 *   GRR = (start - churn - contraction) / start,
 *   NRR = (start + expansion - contraction - churn) / start.
 * Customers who start paying after p are left out.
 */
Datum
clm_mrr_retention(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SubsState  *s;
	SubsReplay	rp;
	RetentionArg ra;
	int32		window;
	bool		reactivation;
	int64		i,
				p,
				nrows;
	int64	   *cust;
	double	   *start,
			   *expansion,
			   *contraction,
			   *churn;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window and reactivation must not be NULL")));
	window = PG_GETARG_INT32(2);
	reactivation = PG_GETARG_BOOL(3);
	if (window < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window must be at least 1 period"),
				 errdetail("Got %d.", window)));
	s = PG_GETARG_SUBS(0);
	SubsReplayInit(&rp, s, SubsUnitArg(fcinfo, 1), !PG_ARGISNULL(4),
				   PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4));
	if (!PG_ARGISNULL(4))
		clm_check_timestamp(rp.until, "until");
	/* starting periods 0 .. nperiods - window (state at bounds[nperiods] = end) */
	nrows = rp.nperiods + 1 - window;
	if (nrows <= 0)
		return (Datum) 0;

	cust = palloc0(sizeof(int64) * (nrows));
	start = palloc0(sizeof(double) * (nrows));
	expansion = palloc0(sizeof(double) * (nrows));
	contraction = palloc0(sizeof(double) * (nrows));
	churn = palloc0(sizeof(double) * (nrows));
	ra.rp = &rp;
	ra.mrr_at = palloc(sizeof(double) * (rp.nperiods + 1));
	ra.churns_before = palloc(sizeof(int64) * (rp.nperiods + 1));

	for (i = 0; i < rp.n;)
	{
		int64		next;
		int64		ne = SubsCustomerEvents(&rp, i, &next);

		CHECK_FOR_INTERRUPTS();
		ra.filled = 0;
		ra.cur = 0.0;
		ra.churns = 0;
		SubsReplayCustomer(&rp, ne, RetentionChange, &ra);
		while (ra.filled <= rp.nperiods)
		{
			ra.mrr_at[ra.filled] = ra.cur;
			ra.churns_before[ra.filled] = ra.churns;
			ra.filled++;
		}
		for (p = 0; p < nrows; p++)
		{
			double		m0 = ra.mrr_at[p],
						m1 = ra.mrr_at[p + window];

			if (m0 <= 0)
				continue;
			if (!reactivation && ra.churns_before[p + window] > ra.churns_before[p])
				m1 = 0.0;
			cust[p]++;
			start[p] += m0;
			if (m1 == 0)
				churn[p] += m0;
			else if (m1 < m0)
				contraction[p] += m0 - m1;
			else
				expansion[p] += m1 - m0;
		}
		i = next;
	}

	for (p = 0; p < nrows; p++)
	{
		Datum		values[10];
		bool		nulls[10] = {0};

		MrrSum(start[p] + expansion[p]);	/* and so each of them */
		MrrSum(contraction[p] + churn[p]);
		values[0] = TimestampTzGetDatum(rp.bounds[p]);
		values[1] = TimestampTzGetDatum(rp.bounds[p + window]);
		values[2] = Int64GetDatum(cust[p]);
		values[3] = Float8GetDatum(start[p]);
		values[4] = Float8GetDatum(expansion[p]);
		values[5] = Float8GetDatum(0.0 - contraction[p]);
		values[6] = Float8GetDatum(0.0 - churn[p]);
		values[7] = Float8GetDatum(start[p] + expansion[p] - contraction[p] - churn[p]);
		values[8] = RateOrNull(start[p] - churn[p] - contraction[p], start[p], &nulls[8]);
		values[9] = RateOrNull(start[p] + expansion[p] - contraction[p] - churn[p], start[p],
							   &nulls[9]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
