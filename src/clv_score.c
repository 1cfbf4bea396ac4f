/*-------------------------------------------------------------------------
 *
 * clv_score.c
 *	  Scoring with fitted CLV models: P(alive), expected purchases
 *	  (conditional on a customer's history and for a new customer), the
 *	  distribution of purchases, Gamma-Gamma expected spend and discounted
 *	  CLV.  All IMMUTABLE STRICT PARALLEL SAFE functions of a model value.
 *
 * Formulas: BG/NBD, Fader, Hardie & Lee (2005), eq. 7-10 and the 2F1 form
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
#include "special.h"

/* below this distance of a (or gamma) from 1 the limit is used */
#define SING_EPS 1e-5

static const char *const ParamNames[CLV_NKINDS + 1][4] = {
	{NULL},
	{"r", "alpha", "a", "b"},
	{"r", "alpha", "a", "b"},
	{"r", "alpha", "s", "beta"},
	{"alpha", "beta", "gamma", "delta"},
	{"p", "q", "v", NULL}
};

/*
 * Read a model value's parameters; they must be positive and finite.
 */
static void
ModelParams(FunctionCallInfo fcinfo, int argno, ClvKind kind, double *out)
{
	HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(argno);
	int			np = (kind == CLV_GG) ? 3 : 4;
	int			i;

	for (i = 0; i < np; i++)
	{
		bool		isnull;
		Datum		d = GetAttributeByNum(th, i + 1, &isnull);
		double		v;

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s model parameter %s must not be NULL",
							clv_kind_name(kind), ParamNames[kind][i])));
		v = DatumGetFloat8(d);
		if (!isfinite(v) || !(v > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s model parameter %s must be a positive finite number",
							clv_kind_name(kind), ParamNames[kind][i]),
					 errdetail("Got %g.", v),
					 errhint("Use a model value returned by clm.%s_fit.", clv_kind_name(kind))));
		out[i] = v;
	}
}

/*
 * clm.clv's per-(frequency, t) values (CondCores at the monthly horizons):
 * they do not depend on recency, and a scoring query sees far fewer
 * distinct (frequency, t) pairs than customers.  Direct mapped; an entry
 * is valid for the model, months and time unit it was computed with.
 */
#define HCACHE_SLOTS 4096
#define HCACHE_MAX_MONTHS 64

typedef struct HorizonCache
{
	ClvKind		kind;
	double		p[4];
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
	double		p[2][4];
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
	Size		psize = (kind == CLV_GG ? 3 : 4) * sizeof(double);

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
	if (kind == CLV_BGBB && t != floor(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be a whole number of periods for the BG/BB model"),
				 errdetail("Got %g.", t)));
	/* the BG/BB sums and loops are linear in the periods (see clv.h) */
	if (kind == CLV_BGBB && t > CLV_BGBB_MAX_PERIODS)
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
 * Upper bound of the expected purchases in the next t (BG/BB: periods)
 * of a customer with x purchases by T (a new customer: x = T = 0): the
 * mean without dropout, (r + x) t / (alpha + T) for the Poisson-gamma
 * models, one per period for BG/BB.
 */
static inline double
ExpectedBound(ClvKind kind, const double *p, double t, double x, double T)
{
	if (kind == CLV_BGBB)
		return t;
	return (p[0] + x) * t / (p[1] + T);
}

/*
 * (1 - y^e) / e for y in (0, 1], with the limit -log(y) at e = 0.
 */
static double
OneMinusPowOver(double y, double e)
{
	double		ly = log(y);

	if (fabs(e * ly) < 1e-12)
		return -ly;
	return -expm1(e * ly) / e;
}

/*
 * P(alive) at the end of the observation (BG/BB: in period n + 1).
 */
static double
PAlive(ClvKind kind, const double *p, double x, double tx, double T)
{
	switch (kind)
	{
		case CLV_BGNBD:
			if (x == 0)
				return 1.0;
			return 1.0 / (1.0 + exp(log(p[2]) - log(p[3] + x - 1) +
									(p[0] + x) * (log(p[1] + T) - log(p[1] + tx))));
		case CLV_MBGNBD:
			return 1.0 / (1.0 + exp(log(p[2]) - log(p[3] + x) +
									(p[0] + x) * (log(p[1] + T) - log(p[1] + tx))));
		case CLV_PARETO:
			{
				double		r = p[0],
							al = p[1],
							s = p[2],
							be = p[3];
				double		la0 = clv_pareto_log_a0(r, al, s, be, x, tx, T);

				return 1.0 / (1.0 + exp(log(s) - log(r + s + x) + (r + x) * log(al + T) +
										s * log(be + T) + la0));
			}
		case CLV_BGBB:
			{
				double		al = p[0],
							be = p[1],
							ga = p[2],
							de = p[3];

				return exp(clm_lbeta(al + x, be + T - x) - clm_lbeta(al, be) +
						   clm_lbeta(ga, de + T + 1) - clm_lbeta(ga, de) -
						   clv_bgbb_loglik(al, be, ga, de, x, tx, T));
			}
		default:
			return NAN;
	}
}

/*
 * BG/BB: delta/(gamma-1) * [G(g+d)/G(1+d)] * [G(1+d+n)/G(g+d+n) - G(1+d+n+m)/G(g+d+n+m)],
 * the expected number of alive periods in (n, n+m] times (1 - theta)
 * normalisation; evaluated at gamma +- eps around the removable singularity.
 */
static double
BgbbAliveSum(double ga, double de, double n, double m)
{
	double		v;

	if (fabs(ga - 1) < SING_EPS)
		return 0.5 * (BgbbAliveSum(1 - 2 * SING_EPS, de, n, m) +
					  BgbbAliveSum(1 + 2 * SING_EPS, de, n, m));
	v = exp(lgamma(ga + de) - lgamma(1 + de)) *
		(exp(lgamma(1 + de + n) - lgamma(ga + de + n)) -
		 exp(lgamma(1 + de + n + m) - lgamma(ga + de + n + m)));
	return de / (ga - 1) * v;
}

/*
 * BG/NBD E[X(t) | x, tx, T] without the P(alive) factor:
 * (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
 */
static double
BgnbdCondCore(double r, double al, double a, double b, double x, double T, double t)
{
	double		z,
				l,
				c = a + b + x - 1;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (BgnbdCondCore(r, al, 1 - 2 * SING_EPS, b, x, T, t) +
					  BgnbdCondCore(r, al, 1 + 2 * SING_EPS, b, x, T, t));
	/* a + b + x - 1 = 0 (x = 0, a + b = 1): the 2F1 pole cancels, use the limit */
	if (fabs(c) < SING_EPS)
		return 0.5 * (BgnbdCondCore(r, al, a, b - 2 * SING_EPS, x, T, t) +
					  BgnbdCondCore(r, al, a, b + 2 * SING_EPS, x, T, t));
	if (t == 0)
		return 0;
	z = t / (al + T + t);
	l = clm_log_hyp2f1(r + x, b + x, c, z, &sg);
	if (sg < 0)
		return c / (a - 1) * (1 + exp(l + (r + x) * log1p(-z)));
	return c / (a - 1) * -expm1(l + (r + x) * log1p(-z));
}

/*
 * Modified BG/NBD, same without the P(alive) factor:
 * (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)]
 */
static double
MbgnbdCondCore(double r, double al, double a, double b, double x, double T, double t)
{
	double		z,
				l;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (MbgnbdCondCore(r, al, 1 - 2 * SING_EPS, b, x, T, t) +
					  MbgnbdCondCore(r, al, 1 + 2 * SING_EPS, b, x, T, t));
	if (t == 0)
		return 0;
	z = t / (al + T + t);
	l = clm_log_hyp2f1(r + x, b + x + 1, a + b + x, z, &sg);
	if (sg < 0)
		return (a + b + x) / (a - 1) * (1 + exp(l + (r + x) * log1p(-z)));
	return (a + b + x) / (a - 1) * -expm1(l + (r + x) * log1p(-z));
}

/*
 * Expected purchases in (T, T + t] given the history (x, tx, T).
 * BG/BB: x, tx, T = n are periods and t the number of future periods.
 */
static double
CondExpected(ClvKind kind, const double *p, double t, double x, double tx, double T)
{
	switch (kind)
	{
		case CLV_BGNBD:
			return PAlive(kind, p, x, tx, T) * BgnbdCondCore(p[0], p[1], p[2], p[3], x, T, t);
		case CLV_MBGNBD:
			return PAlive(kind, p, x, tx, T) * MbgnbdCondCore(p[0], p[1], p[2], p[3], x, T, t);
		case CLV_PARETO:
			{
				double		r = p[0],
							al = p[1],
							s = p[2],
							be = p[3];

				if (t == 0)
					return 0;
				return PAlive(kind, p, x, tx, T) * (r + x) * (be + T) / (al + T) *
					OneMinusPowOver((be + T) / (be + T + t), s - 1);
			}
		case CLV_BGBB:
			{
				double		al = p[0],
							be = p[1],
							ga = p[2],
							de = p[3];

				if (t == 0)
					return 0;
				/* eq. 13 of Fader, Hardie & Shang (2010) */
				return exp(clm_lbeta(al + x + 1, be + T - x) - clm_lbeta(al, be) -
						   clv_bgbb_loglik(al, be, ga, de, x, tx, T)) *
					BgbbAliveSum(ga, de, T, t);
			}
		default:
			return NAN;
	}
}

/*
 * The BG/NBD and MBG/NBD conditional expectation without P(alive) at n
 * horizons t[0..n-1] (n <= 64) in one 2F1 series pass:
 * E[X(t_k) | x, tx, T] = P(alive) * fac * e[k].  These depend on the
 * customer only through (x, T).  Returns false for the other models and
 * near the a -> 1 and a + b + x - 1 -> 0 singularities (use CondExpected).
 */
static bool
CondCores(ClvKind kind, const double *p, const double *t, int n,
		  double x, double T, double *fac, double *e)
{
	double		z[64],
				l[64],
				r = p[0],
				al = p[1],
				a = p[2],
				b = p[3],
				c;
	int			sg[64],
				k;

	if ((kind != CLV_BGNBD && kind != CLV_MBGNBD) || n > 64 ||
		fabs(a - 1) < SING_EPS || fabs(a + b + x - 1) < SING_EPS)
		return false;
	for (k = 0; k < n; k++)
		z[k] = t[k] / (al + T + t[k]);
	if (kind == CLV_BGNBD)
	{
		c = a + b + x - 1;
		*fac = c / (a - 1);
		clm_log_hyp2f1_multi(r + x, b + x, c, z, n, l, sg);
	}
	else
	{
		c = a + b + x;
		*fac = c / (a - 1);
		clm_log_hyp2f1_multi(r + x, b + x + 1, c, z, n, l, sg);
	}
	for (k = 0; k < n; k++)
	{
		double		ek = l[k] + (r + x) * log1p(-z[k]);

		e[k] = sg[k] < 0 ? 1 + exp(ek) : -expm1(ek);
	}
	return true;
}

/*
 * CondExpected at n horizons t[0..n-1] (ascending), sharing the work: the
 * BG/NBD and MBG/NBD 2F1 series over all horizons in one pass (fac and e
 * from CondCores when given, else computed), the Pareto/NBD P(alive) once.
 */
static void
CondExpectedMulti(ClvKind kind, const double *p, const double *t, int n,
				  double x, double tx, double T, const double *cfac,
				  const double *ce, double *out)
{
	double		e[64],
				fac,
				pa;
	int			k;

	if (kind == CLV_PARETO)
	{
		double		r = p[0],
					al = p[1],
					s = p[2],
					be = p[3];

		/* as CondExpected, with P(alive) computed once */
		pa = PAlive(kind, p, x, tx, T);
		for (k = 0; k < n; k++)
			out[k] = t[k] == 0 ? 0 : pa * (r + x) * (be + T) / (al + T) *
				OneMinusPowOver((be + T) / (be + T + t[k]), s - 1);
		return;
	}
	if (cfac != NULL)
	{
		fac = *cfac;
		memcpy(e, ce, n * sizeof(double));
	}
	else if (!CondCores(kind, p, t, n, x, T, &fac, e))
	{
		for (k = 0; k < n; k++)
			out[k] = CondExpected(kind, p, t[k], x, tx, T);
		return;
	}
	pa = PAlive(kind, p, x, tx, T);
	for (k = 0; k < n; k++)
		out[k] = t[k] == 0 ? 0 : pa * fac * e[k];
}

/*
 * BG/NBD E[X(t)] of a new customer:
 * (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
 */
static double
BgnbdNew(double r, double al, double a, double b, double t)
{
	double		z,
				l;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (BgnbdNew(r, al, 1 - 2 * SING_EPS, b, t) +
					  BgnbdNew(r, al, 1 + 2 * SING_EPS, b, t));
	if (fabs(a + b - 1) < SING_EPS)
		return 0.5 * (BgnbdNew(r, al, a, b - 2 * SING_EPS, t) +
					  BgnbdNew(r, al, a, b + 2 * SING_EPS, t));
	if (t == 0)
		return 0;
	z = t / (al + t);
	l = clm_log_hyp2f1(r, b, a + b - 1, z, &sg);
	if (sg < 0)
		return (a + b - 1) / (a - 1) * (1 + exp(l + r * log1p(-z)));
	return (a + b - 1) / (a - 1) * -expm1(l + r * log1p(-z));
}

/*
 * Modified BG/NBD E[X(t)] of a new customer:
 * b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]
 */
static double
MbgnbdNew(double r, double al, double a, double b, double t)
{
	double		z,
				l;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (MbgnbdNew(r, al, 1 - 2 * SING_EPS, b, t) +
					  MbgnbdNew(r, al, 1 + 2 * SING_EPS, b, t));
	if (t == 0)
		return 0;
	z = t / (al + t);
	l = clm_log_hyp2f1(r, b + 1, a + b, z, &sg);
	if (sg < 0)
		return b / (a - 1) * (1 + exp(l + r * log1p(-z)));
	return b / (a - 1) * -expm1(l + r * log1p(-z));
}

/*
 * Expected purchases of a new customer in (0, t] (BG/BB: in n periods).
 */
static double
NewExpected(ClvKind kind, const double *p, double t)
{
	switch (kind)
	{
		case CLV_BGNBD:
			return BgnbdNew(p[0], p[1], p[2], p[3], t);
		case CLV_MBGNBD:
			return MbgnbdNew(p[0], p[1], p[2], p[3], t);
		case CLV_PARETO:
			if (t == 0)
				return 0;
			return p[0] / p[1] * p[3] * OneMinusPowOver(p[3] / (p[3] + t), p[2] - 1);
		case CLV_BGBB:
			/* eq. 7: alpha/(alpha+beta) * sum over the alive periods 1..n */
			if (t == 0)
				return 0;
			return p[0] / (p[0] + p[1]) * BgbbAliveSum(p[2], p[3], 0, t);
		default:
			return NAN;
	}
}

/*
 * log of the NBD tail sum (alpha/(alpha+t))^r sum_{j<n} G(r+j)/(G(r) j!) (t/(alpha+t))^j,
 * returned as 1 - that sum (the probability of at least n events).
 *
 * n may be as large as INT_MAX: the sum stops early once the remaining
 * terms cannot matter.  The ratio of term j+1 to term j is
 * rho_j = (r+j)/(j+1) q (q = t/(alpha+t)), which falls towards q for r >= 1
 * and rises towards q for r < 1, so every later ratio is at most
 * max(rho_j, q); when that is below 1 the terms after j sum to at most
 * term_j rho / (1 - rho), and below e^-50 of the sum so far they are
 * dropped.
 */
static double
NbdAtLeast(double r, double al, double t, int n)
{
	double		lp0 = r * log(al / (al + t)),
				lq = log(t / (al + t)),
				lt = lp0,
				acc = -INFINITY;
	int			j;

	for (j = 0; j < n; j++)
	{
		double		lrho;

		CHECK_FOR_INTERRUPTS();
		if (j > 0)
			lt += log(r + j - 1) - log((double) j) + lq;
		acc = clm_logsumexp2(acc, lt);
		lrho = fmax(log(r + j) - log(j + 1.0) + lq, lq);
		if (lrho < 0 && lt + lrho - log(-expm1(lrho)) < acc - 50)
			break;
	}
	if (acc >= 0)
		return 0;
	return -expm1(acc);
}

/*
 * P(X(t) = n) for a new customer.
 */
static double
ProbPurchases(ClvKind kind, const double *p, int n, double t)
{
	if (t == 0)
		return n == 0 ? 1.0 : 0.0;
	switch (kind)
	{
		case CLV_BGNBD:
		case CLV_MBGNBD:
			{
				double		r = p[0],
							al = p[1],
							a = p[2],
							b = p[3],
							lbab = clm_lbeta(a, b);
				double		lnb = lgamma(r + n) - lgamma(r) - lgamma(n + 1.0) +
					r * log(al / (al + t)) + n * log(t / (al + t));
				double		v;

				if (kind == CLV_BGNBD)
				{
					v = exp(clm_lbeta(a, b + n) - lbab + lnb);
					if (n > 0)
						v += exp(clm_lbeta(a + 1, b + n - 1) - lbab) * NbdAtLeast(r, al, t, n);
				}
				else
					v = exp(clm_lbeta(a, b + 1 + n) - lbab + lnb) +
						exp(clm_lbeta(a + 1, b + n) - lbab) * NbdAtLeast(r, al, t, n);
				return v;
			}
		case CLV_PARETO:
			{
				/* Fader & Hardie (2006), "Deriving an expression for P(X(t) = x) under the Pareto/NBD model" */
				double		r = p[0],
							al = p[1],
							s = p[2],
							be = p[3];
				double		first,
							lb1,
							acc = -INFINITY,
							mx = fmax(al, be),
							mn = fmin(al, be),
							bb = al >= be ? s + 1 : r + n,
							lj = 0;
				int64		j;		/* j <= n: an int would wrap at INT_MAX */

				first = exp(lgamma(r + n) - lgamma(r) - lgamma(n + 1.0) +
							r * log(al / (al + t)) + n * log(t / (al + t)) +
							s * log(be / (be + t)));
				lb1 = clm_log_hyp2f1(r + s, bb, r + s + n + 1, (mx - mn) / mx, NULL) -
					(r + s) * log(mx);
				for (j = 0; j <= n; j++)
				{
					/* n 2F1 series: O(n), slow but interruptible for huge n */
					CHECK_FOR_INTERRUPTS();
					if (j > 0)
						lj += log(r + s + j - 1) - log((double) j) + log(t);
					acc = clm_logsumexp2(acc, lj +
										 clm_log_hyp2f1(r + s + j, bb, r + s + n + 1,
														(mx - mn) / (mx + t), NULL) -
										 (r + s + j) * log(mx + t));
				}
				if (acc >= lb1)
					return first;
				return first + exp(r * log(al) + s * log(be) + clm_lbeta(r + n, s + 1) -
								   clm_lbeta(r, s) + clm_logdiffexp(lb1, acc));
			}
		case CLV_BGBB:
			{
				/* eq. 8 of Fader, Hardie & Shang (2010) */
				double		al = p[0],
							be = p[1],
							ga = p[2],
							de = p[3],
							lbab = clm_lbeta(al, be),
							lbgd = clm_lbeta(ga, de),
							v;
				int			i,
							nn = (int) t;

				if (n > nn)
					return 0;
				v = exp(lgamma(nn + 1.0) - lgamma(n + 1.0) - lgamma(nn - n + 1.0) +
						clm_lbeta(al + n, be + nn - n) - lbab + clm_lbeta(ga, de + nn) - lbgd);
				for (i = n; i < nn; i++)
				{
					CHECK_FOR_INTERRUPTS();
					v += exp(lgamma(i + 1.0) - lgamma(n + 1.0) - lgamma(i - n + 1.0) +
							 clm_lbeta(al + n, be + i - n) - lbab +
							 clm_lbeta(ga + 1, de + i) - lbgd);
				}
				return v;
			}
		default:
			return NAN;
	}
}

/*
 * Gamma-Gamma E[mean spend | x, m] = p (v + x m) / (p x + q - 1).
 */
static double
ExpectedSpend(const double *g, double x, double m)
{
	double		den = g[0] * x + g[1] - 1;

	clm_check_finite(x, "frequency");
	clm_check_finite(m, "monetary");
	if (x < 0 || x != floor(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency must be a non-negative whole number"),
				 errdetail("Got %g.", x)));
	if (m < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monetary must not be negative"),
				 errdetail("Got %g.", m)));
	if (!(den > 0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("expected spend is infinite for this Gamma-Gamma model"),
				 errdetail("p * frequency + q - 1 = %g is not positive (the population mean spend p v / (q - 1) exists only for q > 1).", den)));
	return g[0] * (g[2] + x * m) / den;
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
	double		p[4],
				x = PG_GETARG_FLOAT8(1),
				tx = PG_GETARG_FLOAT8(2),
				T = PG_GETARG_FLOAT8(3);

	ModelParamsCached(fcinfo, 0, kind, p);
	clv_check_summary(kind, x, tx, T);
	PG_RETURN_FLOAT8(CheckRange(PAlive(kind, p, x, tx, T), 1.0, "P(alive)"));
}

/*
 * SQL wrapper: clm.expected_purchases(model, horizon, frequency, recency, t).
 */
static Datum
CondExpectedSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	double		p[4],
				t = PG_GETARG_FLOAT8(1),
				x = PG_GETARG_FLOAT8(2),
				tx = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4);

	ModelParamsCached(fcinfo, 0, kind, p);
	CheckHorizon(t, kind);
	clv_check_summary(kind, x, tx, T);
	PG_RETURN_FLOAT8(CheckRange(CondExpected(kind, p, t, x, tx, T),
								ExpectedBound(kind, p, t, x, T), "expected purchases"));
}

/*
 * SQL wrapper: clm.expected_purchases(model, horizon).
 */
static Datum
NewExpectedSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	double		p[4],
				t = PG_GETARG_FLOAT8(1);

	ModelParamsCached(fcinfo, 0, kind, p);
	CheckHorizon(t, kind);
	PG_RETURN_FLOAT8(CheckRange(NewExpected(kind, p, t), ExpectedBound(kind, p, t, 0, 0),
								"expected purchases"));
}

/*
 * SQL wrapper: clm.probability_of_purchases(model, n, horizon).
 */
static Datum
ProbPurchasesSql(FunctionCallInfo fcinfo, ClvKind kind)
{
	double		p[4],
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
	v = CheckRange(ProbPurchases(kind, p, n, t), 1.0, "probability of purchases");
	PG_RETURN_FLOAT8(v);
}

/*
 * clm.clv's cache entry for (x, T), filled with CondCores at the horizons
 * h[0..months-1] when missing; NULL when CondCores does not apply (the
 * caller then computes everything itself).  The cached values are the ones
 * CondCores returns, so results do not depend on hits and misses.
 */
static HorizonCache *
ClvHorizonCache(FunctionCallInfo fcinfo, ClvKind kind, const double *p, double f,
				int32 months, double x, double T, const double *h, int32 *slot)
{
	ScoreCache *sc = (ScoreCache *) fcinfo->flinfo->fn_extra;
	HorizonCache *hc = sc->hc;
	uint64		kx,
				kt,
				hash;
	int32		i;

	if (kind != CLV_BGNBD && kind != CLV_MBGNBD)
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
	if (!CondCores(kind, p, h, months, x, T, &hc->fac[i], &hc->e[i * months]))
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
	double		p[4],
				g[3],
				x = PG_GETARG_FLOAT8(2),
				tx = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4),
				m = PG_GETARG_FLOAT8(5),
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
	spend = ExpectedSpend(g, x, x > 0 ? m : 0);
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
			CondExpectedMulti(kind, p, h, n, x, tx, T, &hc->fac[slot],
							  &hc->e[slot * months], e);
		else
			CondExpectedMulti(kind, p, h, n, x, tx, T, NULL, NULL, e);
		for (j = 0; j < n; j++)
		{
			e[j] = CheckRange(e[j], ExpectedBound(kind, p, h[j], x, T), "expected purchases");
			disc /= 1 + d;
			sum += spend * (e[j] - prev) * disc;
			prev = e[j];
		}
	}
	PG_RETURN_FLOAT8(CheckResult(sum, "CLV"));
}

/*
 * The SQL-callable scoring symbols of one model:
 * clm_<model>_p_alive, _expected_purchases, _expected_purchases_new and
 * _probability_of_purchases, each a one-line wrapper of the shared code.
 */
#define CLV_SCORE_FUNCS(name, kind) \
PG_FUNCTION_INFO_V1(clm_##name##_p_alive); \
Datum clm_##name##_p_alive(PG_FUNCTION_ARGS) { return PAliveSql(fcinfo, kind); } \
PG_FUNCTION_INFO_V1(clm_##name##_expected_purchases); \
Datum clm_##name##_expected_purchases(PG_FUNCTION_ARGS) { return CondExpectedSql(fcinfo, kind); } \
PG_FUNCTION_INFO_V1(clm_##name##_expected_purchases_new); \
Datum clm_##name##_expected_purchases_new(PG_FUNCTION_ARGS) { return NewExpectedSql(fcinfo, kind); } \
PG_FUNCTION_INFO_V1(clm_##name##_probability_of_purchases); \
Datum clm_##name##_probability_of_purchases(PG_FUNCTION_ARGS) { return ProbPurchasesSql(fcinfo, kind); }

CLV_SCORE_FUNCS(bgnbd, CLV_BGNBD)
CLV_SCORE_FUNCS(mbgnbd, CLV_MBGNBD)
CLV_SCORE_FUNCS(pareto_nbd, CLV_PARETO)
CLV_SCORE_FUNCS(bgbb, CLV_BGBB)

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
	double		g[3];

	ModelParamsCached(fcinfo, 0, CLV_GG, g);
	PG_RETURN_FLOAT8(CheckResult(ExpectedSpend(g, PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2)),
								 "expected spend"));
}
