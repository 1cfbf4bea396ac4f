/*-------------------------------------------------------------------------
 *
 * clv_score.c
 *	  Scoring with fitted CLV models: P(alive), expected purchases
 *	  (conditional on a customer's history and for a new customer), the
 *	  distribution of purchases, Gamma-Gamma expected spend and discounted
 *	  CLV.  All IMMUTABLE STRICT PARALLEL SAFE functions of a model value.
 *
 * Generic over the table of models (clv_models.c): the argument checks,
 * the caches and the SQL wrappers are here, the formulas in the models'
 * files.  Formulas: BG/NBD, Fader, Hardie & Lee (2005), eq. 7-10 and the 2F1 form
 * of E[X(t)]; modified BG/NBD, Batislam et al. (2007) as implemented in
 * lifetimes; Pareto/NBD, Fader & Hardie (2005 note; 2006 note on
 * P(X(t)=x)); BG/BB, Fader, Hardie & Shang (2010), eq. 7-13; Gamma-Gamma,
 * Fader, Hardie & Lee (2005, "RFM and CLV"), eq. 5.  Everything is
 * evaluated in log space; the a -> 1 (BG/NBD), s -> 1 (Pareto/NBD) and
 * gamma -> 1 (BG/BB) singularities use their limits.
 *
 * IDENTIFICATION
 *	  src/clv_score.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "clm.h"
#include "clv.h"
#include "period.h"
/*
 * Read a model value's parameters; they must be positive and finite.
 */
static void
ModelParams(FunctionCallInfo fcinfo, int argno, ClvKind kind, double *out)
{
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(argno);
	const ClvModel *m = clv_model(kind);
	int			i;

	for (i = 0; i < m->nparams; i++)
	{
		bool		isnull;
		Datum		d = GetAttributeByNum(th, i + 1, &isnull);
		double		v;

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s model parameter %s must not be NULL",
							clv_kind_name(kind), m->params[i])));
		v = DatumGetFloat8(d);
		if (!isfinite(v) || !(v > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s model parameter %s must be a positive finite number",
							clv_kind_name(kind), m->params[i]),
					 errdetail("Got %g.", v),
					 errhint("Use a model value returned by clm.%s_fit.", clv_kind_name(kind))));
		out[i] = v;
	}
}

/*
 * clm.clv's per-(frequency, t) values (the model's cond_cores at the monthly horizons):
 * they do not depend on recency, and a scoring query sees far fewer
 * distinct (frequency, t) pairs than customers.  Direct mapped; an entry
 * is valid for the model, months and time unit it was computed with.
 */
#define HCACHE_SLOTS 4096
#define HCACHE_MAX_MONTHS 64

typedef struct HorizonCache
{
	ClvKind		kind;
	double		p[CLV_MAX_PARAMS];
	double		f;
	int32		months;
	bool		used[HCACHE_SLOTS];
	double		x[HCACHE_SLOTS];
	double		T[HCACHE_SLOTS];
	double		fac[HCACHE_SLOTS];
	double	   *e;				/* HCACHE_SLOTS * months */
} HorizonCache;

/* the last model values seen by a scoring function (fn_extra) */
typedef struct ScoreCache
{
	Size		len[2];
	char	   *data[2];
	double		p[2][CLV_MAX_PARAMS];
	HorizonCache *hc;			/* clm.clv only */
} ScoreCache;

/*
 * ModelParams with a cache: scoring queries pass the same model value on
 * every row, so its parameters are read and checked once.
 */
static void
ModelParamsCached(FunctionCallInfo fcinfo, int argno, ClvKind kind, double *out)
{
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(argno);
	Size		len = HeapTupleHeaderGetDatumLength(th);
	ScoreCache *c = (ScoreCache *) fcinfo->flinfo->fn_extra;
	Size		psize = clv_model(kind)->nparams * sizeof(double);

	Assert(argno < 2);
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ScoreCache));
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->data[argno] != NULL && c->len[argno] == len &&
		memcmp(c->data[argno], th, len) == 0)
	{
		memcpy(out, c->p[argno], psize);
		return;
	}
	ModelParams(fcinfo, argno, kind, out);
	if (c->data[argno] == NULL || c->len[argno] < len)
	{
		if (c->data[argno])
			pfree(c->data[argno]);
		c->data[argno] = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
	}
	memcpy(c->data[argno], th, len);
	c->len[argno] = len;
	memcpy(c->p[argno], out, psize);
}

/*
 * Error unless the horizon is finite, not negative (and whole for BG/BB).
 */
static double
CheckHorizon(double t, ClvKind kind)
{
	clm_check_finite(t, "horizon");
	if (t < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must not be negative"),
				 errdetail("Got %g.", t)));
	if (clv_model(kind)->shape == CLV_DISCRETE && t != floor(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be a whole number of periods for the BG/BB model"),
				 errdetail("Got %g.", t)));
	/* the BG/BB sums and loops are linear in the periods (see clv.h) */
	if (clv_model(kind)->shape == CLV_DISCRETE && t > CLV_BGBB_MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must not exceed %d periods for the BG/BB model",
						CLV_BGBB_MAX_PERIODS),
				 errdetail("Got %g.", t)));
	return t;
}

/*
 * Error instead of returning a non-finite score.
 */
static double
CheckResult(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s cannot be computed for these values", what),
				 errhint("The model parameters or the customer's summary are outside the range where the formula can be evaluated.")));
	return v;
}

/*
 * CheckResult, and v must lie in [0, hi] up to rounding (1e-9 relative):
 * a probability in [0, 1], expected purchases between 0 and their value
 * without dropout.  With extreme hand-built parameters (say b = 1e300)
 * the closed forms cancel catastrophically and gave values far outside
 * (negative expected purchases, P(alive) above 1): an error, not a
 * silently wrong score.  Rounding is clamped away.
 */
/* the error of CheckRange, out of line */
static pg_noinline void
CheckRangeFail(double v, double hi, const char *what)
{
	CheckResult(v, what);
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s cannot be computed accurately for these values", what),
			 errdetail("Got %g, outside [0, %g].", v, hi),
			 errhint("The model parameters are too extreme for the formula's floating-point evaluation.")));
}

/* see above: the value clamped to [0, hi], or an error */
static inline double
CheckRange(double v, double hi, const char *what)
{
	double		tol = 1e-9 * (hi > 1.0 ? hi : 1.0);

	/* once per score and month: comparisons only (a NaN v fails them) */
	if (!(v >= -tol && v <= hi + tol) || !isfinite(v))
		CheckRangeFail(v, hi, what);
	return v < 0 ? 0 : (v > hi ? hi : v);
}

/*
 * The model's cond_expected at n horizons t[0..n-1] (ascending), sharing
 * the work where the model can: fac and e of its cond_cores (given from
 * clm.clv's cache, else computed) times P(alive) computed once, or its own
 * cond_expected_multi.
 */
static void
CondExpectedMulti(const ClvModel *m, const double *p, const double *t, int n,
				  double x, double tx, double T, const double *cfac,
				  const double *ce, double *out)
{
	double		e[64],
				fac,
				pa;
	int			k;

	if (m->cond_expected_multi)
	{
		m->cond_expected_multi(p, t, n, x, tx, T, out);
		return;
	}
	if (cfac != NULL)
	{
		fac = *cfac;
		memcpy(e, ce, n * sizeof(double));
	}
	else if (m->cond_cores == NULL || !m->cond_cores(p, t, n, x, T, &fac, e))
	{
		for (k = 0; k < n; k++)
			out[k] = m->cond_expected(p, t[k], x, tx, T);
		return;
	}
	pa = m->p_alive(p, x, tx, T);
	for (k = 0; k < n; k++)
		out[k] = t[k] == 0 ? 0 : pa * fac * e[k];
}

/*
 * Time units in one month (a month is 30.436875 days, the mean Gregorian
 * month, as in clm.rfm_summary).
 */
static double
UnitsPerMonth(text *unit)
{
	switch (clm_period_parse_text(unit, "time_unit"))
	{
		case CLM_HOUR:
			return 30.436875 * 24;
		case CLM_DAY:
			return 30.436875;
		case CLM_WEEK:
			return 30.436875 / 7;
		case CLM_MONTH:
			return 1;
		case CLM_QUARTER:
			return 1.0 / 3;
		case CLM_YEAR:
			return 1.0 / 12;
	}
	return NAN;
}

/* ---- SQL-callable wrappers ---- */

/*
 * SQL wrapper: clm.p_alive(model, frequency, recency, t).
 */
static Datum
PAliveSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	double		p[CLV_MAX_PARAMS],
				x = PG_GETARG_FLOAT8(1),
				tx = PG_GETARG_FLOAT8(2),
				T = PG_GETARG_FLOAT8(3);

	ModelParamsCached(fcinfo, 0, kind, p);
	clv_check_summary(kind, x, tx, T);
	PG_RETURN_FLOAT8(CheckRange(clv_model(kind)->p_alive(p, x, tx, T), 1.0, "P(alive)"));
}

/*
 * SQL wrapper: clm.expected_purchases(model, horizon, frequency, recency, t).
 */
static Datum
CondExpectedSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	const ClvModel *m = clv_model(kind);
	double		p[CLV_MAX_PARAMS],
				t = PG_GETARG_FLOAT8(1),
				x = PG_GETARG_FLOAT8(2),
				tx = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4);

	ModelParamsCached(fcinfo, 0, kind, p);
	CheckHorizon(t, kind);
	clv_check_summary(kind, x, tx, T);
	PG_RETURN_FLOAT8(CheckRange(m->cond_expected(p, t, x, tx, T),
								m->expected_bound(p, t, x, T), "expected purchases"));
}

/*
 * SQL wrapper: clm.expected_purchases(model, horizon).
 */
static Datum
NewExpectedSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	const ClvModel *m = clv_model(kind);
	double		p[CLV_MAX_PARAMS],
				t = PG_GETARG_FLOAT8(1);

	ModelParamsCached(fcinfo, 0, kind, p);
	CheckHorizon(t, kind);
	PG_RETURN_FLOAT8(CheckRange(m->new_expected(p, t), m->expected_bound(p, t, 0, 0),
								"expected purchases"));
}

/*
 * SQL wrapper: clm.probability_of_purchases(model, n, horizon).
 */
static Datum
ProbPurchasesSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	double		p[CLV_MAX_PARAMS],
				t = PG_GETARG_FLOAT8(2);
	int32		n = PG_GETARG_INT32(1);
	double		v;

	ModelParamsCached(fcinfo, 0, kind, p);
	CheckHorizon(t, kind);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of purchases must not be negative"),
				 errdetail("Got %d.", n)));
	/* rounding may leave tiny negative values or 1 + eps (clamped) */
	v = CheckRange(clv_model(kind)->prob_purchases(p, n, t), 1.0, "probability of purchases");
	PG_RETURN_FLOAT8(v);
}

/*
 * clm.clv's cache entry for (x, T), filled with cond_cores at the horizons
 * h[0..months-1] when missing; NULL when cond_cores does not apply (the
 * caller then computes everything itself).  The cached values are the ones
 * cond_cores returns, so results do not depend on hits and misses.
 */
static HorizonCache *
ClvHorizonCache(FunctionCallInfo fcinfo, ClvKind kind, const double *p, double f,
				int32 months, double x, double T, const double *h, int32 *slot)
{
	const ClvModel *m = clv_model(kind);
	ScoreCache *sc = (ScoreCache *) fcinfo->flinfo->fn_extra;
	HorizonCache *hc = sc->hc;
	uint64		kx,
				kt,
				hash;
	int32		i;

	if (m->cond_cores == NULL)
		return NULL;
	if (hc == NULL)
	{
		hc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(HorizonCache));
		hc->e = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
								   (Size) HCACHE_SLOTS * HCACHE_MAX_MONTHS * sizeof(double));
		sc->hc = hc;
	}
	if (hc->kind != kind || memcmp(hc->p, p, sizeof(hc->p)) != 0 ||
		hc->f != f || hc->months != months)
	{
		memset(hc->used, 0, sizeof(hc->used));
		hc->kind = kind;
		memcpy(hc->p, p, sizeof(hc->p));
		hc->f = f;
		hc->months = months;
	}
	x += 0.0;					/* no -0.0 */
	T += 0.0;
	memcpy(&kx, &x, 8);
	memcpy(&kt, &T, 8);
	/* doubles of whole numbers have zero low bits: mix all bits down */
	hash = kx ^ (kt >> 7) ^ (kt << 41);
	hash ^= hash >> 33;
	hash *= UINT64CONST(0xff51afd7ed558ccd);
	hash ^= hash >> 33;
	hash *= UINT64CONST(0xc4ceb9fe1a85ec53);
	hash ^= hash >> 33;
	i = (int32) (hash & (HCACHE_SLOTS - 1));
	*slot = i;
	if (hc->used[i] && hc->x[i] == x && hc->T[i] == T)
		return hc;
	if (!m->cond_cores(p, h, months, x, T, &hc->fac[i], &hc->e[i * months]))
	{
		hc->used[i] = false;
		return NULL;
	}
	hc->used[i] = true;
	hc->x[i] = x;
	hc->T[i] = T;
	return hc;
}

/*
 * clv(model, gamma_gamma, frequency, recency, t, monetary, months,
 *     monthly_discount, time_unit) =
 *   sum_{k=1..months} E[spend] (E[X(k f)] - E[X((k-1) f)]) / (1+d)^k,
 * f = time units per month.
 */
static Datum
ClvSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	const ClvModel *model = clv_model(kind);
	double		p[CLV_MAX_PARAMS],
				g[CLV_MAX_PARAMS],
				x = PG_GETARG_FLOAT8(2),
				tx = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4),
				mon = PG_GETARG_FLOAT8(5),
				d = PG_GETARG_FLOAT8(7),
				f,
				spend,
				prev = 0,
				disc = 1,
				sum = 0;
	int32		months = PG_GETARG_INT32(6);
	int32		k;

	ModelParamsCached(fcinfo, 0, kind, p);
	ModelParamsCached(fcinfo, 1, CLV_GG, g);
	clv_check_summary(kind, x, tx, T);
	clm_check_finite(d, "monthly_discount");
	if (!(d > -1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monthly_discount must be greater than -1"),
				 errdetail("Got %g.", d)));
	if (months < 0 || months > 1200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("months must be between 0 and 1200"),
				 errdetail("Got %d.", months)));
	f = UnitsPerMonth(PG_GETARG_TEXT_PP(8));
	spend = clv_model(CLV_GG)->expected_spend(g, x, x > 0 ? mon : 0);
	for (k = 1; k <= months; k += 64)
	{
		double		h[64],
					e[64];
		int			n = Min(64, months - k + 1),
					j;
		HorizonCache *hc = NULL;
		int32		slot = 0;

		for (j = 0; j < n; j++)
			h[j] = (k + j) * f;
		if (months <= HCACHE_MAX_MONTHS)
			hc = ClvHorizonCache(fcinfo, kind, p, f, months, x, T, h, &slot);
		if (hc != NULL)
			CondExpectedMulti(model, p, h, n, x, tx, T, &hc->fac[slot],
							  &hc->e[slot * months], e);
		else
			CondExpectedMulti(model, p, h, n, x, tx, T, NULL, NULL, e);
		for (j = 0; j < n; j++)
		{
			e[j] = CheckRange(e[j], model->expected_bound(p, h[j], x, T), "expected purchases");
			disc /= 1 + d;
			sum += spend * (e[j] - prev) * disc;
			prev = e[j];
		}
	}
	PG_RETURN_FLOAT8(CheckResult(sum, "CLV"));
}

/*
 * The SQL-callable scoring symbols of each model, written out so that grep
 * finds them: one-line wrappers of the shared code above.
 */
PG_FUNCTION_INFO_V1(clm_bgnbd_p_alive);
PG_FUNCTION_INFO_V1(clm_bgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(clm_bgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_bgnbd_probability_of_purchases);
PG_FUNCTION_INFO_V1(clm_mbgnbd_p_alive);
PG_FUNCTION_INFO_V1(clm_mbgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(clm_mbgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_mbgnbd_probability_of_purchases);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_p_alive);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_expected_purchases);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_probability_of_purchases);
PG_FUNCTION_INFO_V1(clm_bgbb_p_alive);
PG_FUNCTION_INFO_V1(clm_bgbb_expected_purchases);
PG_FUNCTION_INFO_V1(clm_bgbb_expected_purchases_new);
PG_FUNCTION_INFO_V1(clm_bgbb_probability_of_purchases);

/* BG/NBD: clm.p_alive, clm.expected_purchases (two forms), clm.probability_of_purchases */
Datum
clm_bgnbd_p_alive(PG_FUNCTION_ARGS)
{
	return PAliveSql(fcinfo, CLV_BGNBD);
}

Datum
clm_bgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return CondExpectedSql(fcinfo, CLV_BGNBD);
}

Datum
clm_bgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return NewExpectedSql(fcinfo, CLV_BGNBD);
}

Datum
clm_bgnbd_probability_of_purchases(PG_FUNCTION_ARGS)
{
	return ProbPurchasesSql(fcinfo, CLV_BGNBD);
}

/* modified BG/NBD: clm.p_alive, clm.expected_purchases (two forms), clm.probability_of_purchases */
Datum
clm_mbgnbd_p_alive(PG_FUNCTION_ARGS)
{
	return PAliveSql(fcinfo, CLV_MBGNBD);
}

Datum
clm_mbgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return CondExpectedSql(fcinfo, CLV_MBGNBD);
}

Datum
clm_mbgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return NewExpectedSql(fcinfo, CLV_MBGNBD);
}

Datum
clm_mbgnbd_probability_of_purchases(PG_FUNCTION_ARGS)
{
	return ProbPurchasesSql(fcinfo, CLV_MBGNBD);
}

/* Pareto/NBD: clm.p_alive, clm.expected_purchases (two forms), clm.probability_of_purchases */
Datum
clm_pareto_nbd_p_alive(PG_FUNCTION_ARGS)
{
	return PAliveSql(fcinfo, CLV_PARETO);
}

Datum
clm_pareto_nbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return CondExpectedSql(fcinfo, CLV_PARETO);
}

Datum
clm_pareto_nbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return NewExpectedSql(fcinfo, CLV_PARETO);
}

Datum
clm_pareto_nbd_probability_of_purchases(PG_FUNCTION_ARGS)
{
	return ProbPurchasesSql(fcinfo, CLV_PARETO);
}

/* BG/BB: clm.p_alive, clm.expected_purchases (two forms), clm.probability_of_purchases */
Datum
clm_bgbb_p_alive(PG_FUNCTION_ARGS)
{
	return PAliveSql(fcinfo, CLV_BGBB);
}

Datum
clm_bgbb_expected_purchases(PG_FUNCTION_ARGS)
{
	return CondExpectedSql(fcinfo, CLV_BGBB);
}

Datum
clm_bgbb_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return NewExpectedSql(fcinfo, CLV_BGBB);
}

Datum
clm_bgbb_probability_of_purchases(PG_FUNCTION_ARGS)
{
	return ProbPurchasesSql(fcinfo, CLV_BGBB);
}

PG_FUNCTION_INFO_V1(clm_bgnbd_clv);
PG_FUNCTION_INFO_V1(clm_mbgnbd_clv);
PG_FUNCTION_INFO_V1(clm_pareto_nbd_clv);
PG_FUNCTION_INFO_V1(clm_gamma_gamma_expected_spend);

/* SQL clm.clv(clm.bgnbd, clm.gamma_gamma, ...) */
Datum
clm_bgnbd_clv(PG_FUNCTION_ARGS)
{
	return ClvSql(fcinfo, CLV_BGNBD);
}

/* SQL clm.clv(clm.mbgnbd, clm.gamma_gamma, ...) */
Datum
clm_mbgnbd_clv(PG_FUNCTION_ARGS)
{
	return ClvSql(fcinfo, CLV_MBGNBD);
}

/* SQL clm.clv(clm.pareto_nbd, clm.gamma_gamma, ...) */
Datum
clm_pareto_nbd_clv(PG_FUNCTION_ARGS)
{
	return ClvSql(fcinfo, CLV_PARETO);
}

/* SQL clm.expected_spend(clm.gamma_gamma, frequency, monetary) */
Datum
clm_gamma_gamma_expected_spend(PG_FUNCTION_ARGS)
{
	double		g[CLV_MAX_PARAMS];

	ModelParamsCached(fcinfo, 0, CLV_GG, g);
	PG_RETURN_FLOAT8(CheckResult(clv_model(CLV_GG)->expected_spend(g, PG_GETARG_FLOAT8(1),
																   PG_GETARG_FLOAT8(2)),
								 "expected spend"));
}
