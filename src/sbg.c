/*-------------------------------------------------------------------------
 *
 * sbg.c
 *	  The shifted-beta-geometric (sBG) model of contractual retention
 *	  (Fader & Hardie 2007, "How to Project Customer Retention", Journal of
 *	  Interactive Marketing 21(1)) and the discounted expected (residual)
 *	  lifetime of Fader & Hardie 2010 ("Customer-Base Valuation in a
 *	  Contractual Setting: The Perils of Ignoring Heterogeneity",
 *	  Marketing Science 29(1)).
 *
 * Each customer churns at every renewal with probability theta, theta ~
 * Beta(alpha, beta) across customers.  With T the period in which a
 * customer churns (T = 1, 2, ...):
 *   P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)
 *   S(t)     = B(alpha, beta + t) / B(alpha, beta)
 *   r(t)     = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)
 *   DEL(d)   = sum_{t >= 0} S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1/(1+d))
 *   DERL(d | n - 1 renewals)
 *            = (beta + n - 1) / (alpha + beta + n - 1)
 *				* 2F1(1, beta + n; alpha + beta + n; 1/(1+d))
 *
 * Both fitting aggregates keep a small bigint[] state (a real type, so
 * they combine in parallel and on Citus) and maximise the likelihood with
 * the shared optimiser (optim.h) over (log alpha, log beta).
 *
 * IDENTIFICATION
 *	  src/sbg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "clm.h"
#include "optim.h"
#include "special.h"
#include "varstate.h"

#define SBG_MAX_PERIOD 100000

PG_FUNCTION_INFO_V1(clm_sbg_accum);
PG_FUNCTION_INFO_V1(clm_sbg_customers_accum);
PG_FUNCTION_INFO_V1(clm_sbg_combine);
PG_FUNCTION_INFO_V1(clm_sbg_final);
PG_FUNCTION_INFO_V1(clm_sbg_customers_final);
PG_FUNCTION_INFO_V1(clm_sbg_survival);
PG_FUNCTION_INFO_V1(clm_sbg_retention);
PG_FUNCTION_INFO_V1(clm_sbg_expected_survivors);
PG_FUNCTION_INFO_V1(clm_sbg_del);
PG_FUNCTION_INFO_V1(clm_sbg_derl);

/* churn and censoring counts by periods survived, for the likelihood */
typedef struct SbgData
{
	int32		nk;				/* k = 0 .. nk - 1 */
	int64	   *churned;		/* churned at renewal k + 1: P(T = k + 1) */
	int64	   *alive;			/* still active after k renewals: S(k) */
	double		n;				/* customers */
	int64		ncust;			/* the same, exactly */
} SbgData;

#define SbgLen(a) (ARR_NDIM(a) == 0 ? 0 : *ARR_DIMS(a))
/* data of a one-dimensional array without NULLs (checked by SbgCheckArray) */
#define SbgData_(a) ((int64 *) ((char *) (a) + ARR_OVERHEAD_NONULLS(1)))

/*
 * A bigint[] state of length len with every element set to "fill", in the
 * current memory context.
 */
static ArrayType *
SbgNewArray(int32 len, int64 fill)
{
	ArrayType  *a;
	int64	   *d;
	int32		i;
	Size		nbytes = ARR_OVERHEAD_NONULLS(1) + (Size) len * sizeof(int64);

	a = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(a, nbytes);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = INT8OID;
	*ARR_DIMS(a) = len;
	*ARR_LBOUND(a) = 0;
	d = SbgData_(a);
	for (i = 0; i < len; i++)
		d[i] = fill;
	return a;
}

/*
 * Check that a state is a one-dimensional bigint[] without NULLs.
 */
static ArrayType *
SbgCheckArray(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != INT8OID ||
		*ARR_LBOUND(a) != 0)
		clm_state_invalid_internal(ERRCODE_INVALID_PARAMETER_VALUE, "sBG",
								   "The state must be a one-dimensional bigint array starting at index 0, without NULLs.");
	return a;
}


/*
 * Return a state of at least len elements: a itself when long enough
 * (updated in place), else a copy padded with "fill".
 */
static ArrayType *
SbgGrow(ArrayType *a, int32 len, int64 fill)
{
	ArrayType  *b;

	if (a != NULL && SbgLen(a) >= len)
		return a;
	b = SbgNewArray(len, fill);
	if (a != NULL)
		memcpy(SbgData_(b), SbgData_(a), SbgLen(a) * sizeof(int64));
	return b;
}

/*
 * a + b for customer counts, an error instead of wrapping around.
 */
static int64
SbgAddCounts(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sBG customer count out of range"),
				 errdetail("The counts add up to more than " INT64_FORMAT ".", PG_INT64_MAX)));
	return r;
}

/*
 * Check a period or periods_survived argument.
 */
static void
SbgCheckPeriod(int32 period, const char *what)
{
	if (period < 0 || period > SBG_MAX_PERIOD)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 0 and %d", what, SBG_MAX_PERIOD),
				 errdetail("Got %d.", period)));
}

/*
 * clm.sbg_fit transition: state[period] = survivors (rows of one period
 * are added, so cohorts of the same age can be pooled); -1 = no row yet.
 */
Datum
clm_sbg_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	int32		period;
	int64		survivors;
	int64	   *d;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_sbg_accum called in non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : SbgCheckArray(PG_GETARG_ARRAYTYPE_P(0));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_ARRAYTYPE_P(a);
	}
	period = PG_GETARG_INT32(1);
	survivors = PG_GETARG_INT64(2);
	SbgCheckPeriod(period, "period");
	if (survivors < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("survivors must not be negative"),
				 errdetail("Got " INT64_FORMAT " in period %d.", survivors, period)));
	a = SbgGrow(a, period + 1, -1);
	d = SbgData_(a);
	d[period] = (d[period] < 0) ? survivors : SbgAddCounts(d[period], survivors);
	PG_RETURN_ARRAYTYPE_P(a);
}

/*
 * clm.sbg_fit_customers transition: state[2k] counts customers who churned
 * at renewal k + 1 after surviving k periods, state[2k + 1] those still
 * active after k periods.
 */
Datum
clm_sbg_customers_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	int32		k;
	bool		churned;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_sbg_customers_accum called in non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : SbgCheckArray(PG_GETARG_ARRAYTYPE_P(0));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_ARRAYTYPE_P(a);
	}
	k = PG_GETARG_INT32(1);
	churned = PG_GETARG_BOOL(2);
	SbgCheckPeriod(k, "periods_survived");
	a = SbgGrow(a, 2 * (k + 1), 0);
	SbgData_(a)[2 * k + (churned ? 0 : 1)]++;
	PG_RETURN_ARRAYTYPE_P(a);
}

/*
 * Combine (STRICT, both aggregates): element-wise sum, where -1 (no row,
 * survivors form only) is the neutral element.
 */
Datum
clm_sbg_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a,
			   *b;
	int32		i,
				nb;
	int64	   *da,
			   *db;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_sbg_combine called in non-aggregate context");
	a = SbgCheckArray(PG_GETARG_ARRAYTYPE_P(0));
	b = SbgCheckArray(PG_GETARG_ARRAYTYPE_P(1));
	nb = SbgLen(b);
	a = SbgGrow(a, nb, -1);
	da = SbgData_(a);
	db = SbgData_(b);
	for (i = 0; i < nb; i++)
	{
		if (db[i] < 0)
			continue;
		da[i] = (da[i] < 0) ? db[i] : SbgAddCounts(da[i], db[i]);
	}
	PG_RETURN_ARRAYTYPE_P(a);
}

/*
 * Log-likelihood of the counts at (alpha, beta).
 */
static double
SbgLogLik(const SbgData *d, double alpha, double beta)
{
	double		lbab = clm_lbeta(alpha, beta);
	double		ll = 0.0;
	int32		k;

	for (k = 0; k < d->nk; k++)
	{
		if (d->churned[k] > 0)
			ll += d->churned[k] * (clm_lbeta(alpha + 1.0, beta + k) - lbab);
		if (d->alive[k] > 0)
			ll += d->alive[k] * (clm_lbeta(alpha, beta + k) - lbab);
	}
	return ll;
}

/* optimiser objective: -LL / n over (log alpha, log beta) */
static double
SbgObjective(const double *x, double *grad, void *arg)
{
	const SbgData *d = arg;
	double		alpha = exp(x[0]),
				beta = exp(x[1]);

	if (!isfinite(alpha) || !isfinite(beta) || alpha <= 0 || beta <= 0)
		return INFINITY;
	return -SbgLogLik(d, alpha, beta) / d->n;
}

/*
 * Fit the model and build the clm.sbg row.
 */
static Datum
SbgFitResult(FunctionCallInfo fcinfo, SbgData *d, int32 periods)
{
	TupleDesc	tupdesc;
	ClmOptimOptions opt;
	ClmOptimResult res;
	double		x[2] = {0.0, 0.0};
	double		se[2];
	Datum		values[9];
	bool		nulls[9] = {0};
	int64		churned = 0;
	int32		k;

	for (k = 0; k < d->nk; k++)
		churned += d->churned[k];
	if (d->n <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no customers to fit the sBG model to")));
	if (churned == 0 || churned == d->ncust)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the sBG model needs both churned and surviving customers"),
				 errdetail("Got " INT64_FORMAT " churned of %.0f customers.", churned, d->n),
				 errhint("With no churn (or only churn) the likelihood has no maximum.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "sBG fit: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	clm_optim_defaults(&opt);
	res = clm_optim_minimize(SbgObjective, d, 2, x, &opt);
	values[0] = Float8GetDatum(exp(x[0]));
	values[1] = Float8GetDatum(exp(x[1]));
	if (clm_optim_stderr_log(SbgObjective, d, 2, x, &opt, d->n, se))
	{
		values[2] = Float8GetDatum(se[0]);
		values[3] = Float8GetDatum(se[1]);
	}
	else
		nulls[2] = nulls[3] = true;
	values[4] = Float8GetDatum(-res.f * d->n);
	values[5] = Int64GetDatum(d->ncust);
	values[6] = Int32GetDatum(periods);
	values[7] = BoolGetDatum(res.converged);
	values[8] = Int32GetDatum(res.iterations);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * clm.sbg_fit final: survivors by period 0 .. T, no gap, not increasing;
 * churned after k renewals = n_k - n_{k+1}, still active after T = n_T.
 */
Datum
clm_sbg_final(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	int64	   *s;
	int32		len,
				t;
	SbgData		d;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a = SbgCheckArray(PG_GETARG_ARRAYTYPE_P(0));
	len = SbgLen(a);
	s = SbgData_(a);
	for (t = 0; t < len; t++)
	{
		if (s[t] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("survivor count of period %d is missing", t),
					 errhint("Give one row per period from 0 (the starting customers) to the last observed period.")));
		if (t > 0 && s[t] > s[t - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("survivors must not increase over time"),
					 errdetail("Period %d has " INT64_FORMAT " survivors, period %d had " INT64_FORMAT ".",
							   t, s[t], t - 1, s[t - 1])));
	}
	if (len < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the sBG fit needs periods 0 and at least 1")));
	d.nk = len;
	d.churned = palloc0(sizeof(int64) * len);
	d.alive = palloc0(sizeof(int64) * len);
	for (t = 0; t + 1 < len; t++)
		d.churned[t] = s[t] - s[t + 1];
	d.alive[len - 1] = s[len - 1];
	d.ncust = s[0];
	d.n = (double) s[0];
	PG_RETURN_DATUM(SbgFitResult(fcinfo, &d, len - 1));
}

/*
 * clm.sbg_fit_customers final.
 */
Datum
clm_sbg_customers_final(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	int64	   *s;
	int32		len,
				k,
				last = 0;
	SbgData		d;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a = SbgCheckArray(PG_GETARG_ARRAYTYPE_P(0));
	len = SbgLen(a);
	if (len % 2 != 0)
		clm_state_invalid_internal(ERRCODE_INVALID_PARAMETER_VALUE, "sBG customers",
								   "The state must hold pairs of counts.");
	s = SbgData_(a);
	d.nk = len / 2;
	d.churned = palloc(sizeof(int64) * d.nk);
	d.alive = palloc(sizeof(int64) * d.nk);
	d.ncust = 0;
	for (k = 0; k < d.nk; k++)
	{
		if (s[2 * k] < 0 || s[2 * k + 1] < 0)
			clm_state_invalid_internal(ERRCODE_INVALID_PARAMETER_VALUE, "sBG customers",
									   "Counts must not be negative.");
		d.churned[k] = s[2 * k];
		d.alive[k] = s[2 * k + 1];
		d.ncust = SbgAddCounts(d.ncust, SbgAddCounts(s[2 * k], s[2 * k + 1]));
		if (s[2 * k] > 0 || s[2 * k + 1] > 0)
			last = k + (s[2 * k] > 0 ? 1 : 0);
	}
	d.n = (double) d.ncust;
	PG_RETURN_DATUM(SbgFitResult(fcinfo, &d, last));
}

/*
 * Read alpha and beta from a clm.sbg argument and check them.
 */
static void
SbgModelArg(FunctionCallInfo fcinfo, int argno, double *alpha, double *beta)
{
	HeapTupleHeader t = PG_GETARG_HEAPTUPLEHEADER(argno);
	bool		isnull_a,
				isnull_b;
	Datum		a = GetAttributeByNum(t, 1, &isnull_a);
	Datum		b = GetAttributeByNum(t, 2, &isnull_b);

	if (isnull_a || isnull_b)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sBG model alpha and beta must not be NULL")));
	*alpha = DatumGetFloat8(a);
	*beta = DatumGetFloat8(b);
	if (!(*alpha > 0) || !(*beta > 0) || isinf(*alpha) || isinf(*beta))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sBG model alpha and beta must be positive finite numbers"),
				 errdetail("Got alpha %g, beta %g.", *alpha, *beta)));
}

/*
 * A period argument of at least min.
 */
static int32
SbgPeriodArg(FunctionCallInfo fcinfo, int argno, int32 min)
{
	int32		t = PG_GETARG_INT32(argno);

	if (t < min)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must be at least %d", min),
				 errdetail("Got %d.", t)));
	return t;
}

/*
 * S(t) = B(alpha, beta + t) / B(alpha, beta), which must come out in
 * [0, 1] up to rounding (clamped): with extreme parameters the difference
 * of log-beta values is NaN (beta = 1.7e308) or loses its digits (beta =
 * 1e10 gave S(1) = 1.00003), an error rather than a wrong share.
 */
static double
SbgSurvival(double alpha, double beta, int32 t)
{
	double		s = exp(clm_lbeta(alpha, beta + t) - clm_lbeta(alpha, beta));

	if (!(s >= -1e-9 && s <= 1 + 1e-9))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sBG survival cannot be computed accurately for these values"),
				 errdetail("Got %g for alpha %g, beta %g, t %d.", s, alpha, beta, t),
				 errhint("The model parameters are too extreme for the formula's floating-point evaluation.")));
	return fmin(1.0, fmax(0.0, s));
}

/*
 * clm.sbg_survival(model, t): share of the starting customers still active
 * after t renewal periods, S(t).
 */
Datum
clm_sbg_survival(PG_FUNCTION_ARGS)
{
	double		alpha,
				beta;

	SbgModelArg(fcinfo, 0, &alpha, &beta);
	PG_RETURN_FLOAT8(SbgSurvival(alpha, beta, SbgPeriodArg(fcinfo, 1, 0)));
}

/*
 * clm.sbg_retention(model, t): renewal rate of period t >= 1,
 * (beta + t - 1) / (alpha + beta + t - 1).
 */
Datum
clm_sbg_retention(PG_FUNCTION_ARGS)
{
	double		alpha,
				beta;
	int32		t;

	SbgModelArg(fcinfo, 0, &alpha, &beta);
	t = SbgPeriodArg(fcinfo, 1, 1);
	/*
	 * As 1 / (1 + alpha / (beta + (t - 1))): (beta + t - 1) / (alpha + beta +
	 * t - 1) rounded a tiny beta away (0/0 for alpha = beta = 1e-300) and
	 * overflowed for huge ones (0 for alpha = beta = 1.7e308).
	 */
	PG_RETURN_FLOAT8(1.0 / (1.0 + alpha / (beta + (t - 1))));
}

/*
 * clm.sbg_expected_survivors(model, customers, t) = customers * S(t).
 */
Datum
clm_sbg_expected_survivors(PG_FUNCTION_ARGS)
{
	double		alpha,
				beta,
				n;

	SbgModelArg(fcinfo, 0, &alpha, &beta);
	n = PG_GETARG_FLOAT8(1);
	clm_check_finite(n, "customers");
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customers must not be negative"),
				 errdetail("Got %g.", n)));
	PG_RETURN_FLOAT8(n * SbgSurvival(alpha, beta, SbgPeriodArg(fcinfo, 2, 0)));
}

/*
 * The discount rate argument: finite and positive.
 */
static double
SbgDiscountArg(FunctionCallInfo fcinfo, int argno)
{
	double		d = PG_GETARG_FLOAT8(argno);

	clm_check_finite(d, "discount");
	if (!(d > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount must be positive"),
				 errdetail("Got %g.", d),
				 errhint("Give the discount rate per renewal period, e.g. 0.1 for 10%%.")));
	return d;
}

/*
 * exp of clm_log_hyp2f1, reporting a failure instead of returning NaN.
 */
static double
SbgHyp2f1(double a, double b, double c, double z)
{
	int			sign;
	double		lv = clm_log_hyp2f1(a, b, c, z, &sign);

	if (isnan(lv) || sign < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("hypergeometric series did not converge"),
				 errdetail("2F1(%g, %g; %g; %g).", a, b, c, z)));
	return exp(lv);
}

/*
 * clm.sbg_del(model, discount): discounted expected lifetime of a new
 * customer in payments (the first one undiscounted), 2F1(1, beta;
 * alpha + beta; 1 / (1 + d)).
 */
Datum
clm_sbg_del(PG_FUNCTION_ARGS)
{
	double		alpha,
				beta,
				d;

	SbgModelArg(fcinfo, 0, &alpha, &beta);
	d = SbgDiscountArg(fcinfo, 1);
	PG_RETURN_FLOAT8(SbgHyp2f1(1.0, beta, alpha + beta, 1.0 / (1.0 + d)));
}

/*
 * clm.sbg_derl(model, discount, renewals): discounted expected residual
 * lifetime of a customer who has made "renewals" = n - 1 renewals, just
 * before the next renewal decision:
 * (beta + n - 1) / (alpha + beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1/(1+d)).
 */
Datum
clm_sbg_derl(PG_FUNCTION_ARGS)
{
	double		alpha,
				beta,
				d;
	int32		r;

	SbgModelArg(fcinfo, 0, &alpha, &beta);
	d = SbgDiscountArg(fcinfo, 1);
	r = PG_GETARG_INT32(2);
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("renewals must not be negative"),
				 errdetail("Got %d.", r)));
	PG_RETURN_FLOAT8((beta + r) / (alpha + beta + r) *
					 SbgHyp2f1(1.0, beta + r + 1, alpha + beta + r + 1, 1.0 / (1.0 + d)));
}
