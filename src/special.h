/*-------------------------------------------------------------------------
 *
 * special.h
 *	  Special functions in log space shared by clm's statistical models
 *	  (CLV models, subscription/sBG models).  Plain C on doubles: no
 *	  palloc, no ereport, safe to call in tight loops.
 *
 * Conventions
 *	  - Every function returns NaN (never raises) when its arguments are
 *	    outside the documented domain or a series fails to converge; the
 *	    caller decides which SQLSTATE to raise or treats the point as
 *	    infeasible inside an optimizer (see optim.h).
 *	  - "log" means the natural logarithm; -INFINITY stands for log(0).
 *
 * IDENTIFICATION
 *	  src/special.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_SPECIAL_H
#define CLM_SPECIAL_H

#include <math.h>
#include <stdbool.h>

/* log Gamma(x) for x > 0 (NaN otherwise) */
extern double clm_lgamma(double x);

/* log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), a, b > 0 */
extern double clm_lbeta(double a, double b);

/* digamma psi(x) = d/dx lgamma(x), x > 0 */
extern double clm_digamma(double x);

/* trigamma psi'(x) = d/dx psi(x), x > 0 */
extern double clm_trigamma(double x);

/* log(exp(a) + exp(b)) without overflow; either may be -INFINITY */
extern double clm_logsumexp2(double a, double b);

/* log(sum_i exp(v[i])) over n values (n = 0 gives -INFINITY) */
extern double clm_logsumexp(const double *v, int n);

/*
 * log(exp(a) - exp(b)) for a >= b (a == b gives -INFINITY, a < b NaN);
 * accurate when the two are close (uses log1p(-exp(b - a))).
 */
extern double clm_logdiffexp(double a, double b);

/*
 * exp(a) + exp(b) = exp(*m) (1 + e) with e in [0, 1] returned, and the two
 * terms' shares *wa = e^a / (e^a + e^b), *wb = e^b / (e^a + e^b): one exp,
 * for likelihood terms that are sums of two exponentials and their
 * gradients.  At most one of a, b may be -INFINITY.
 */
static inline double
clm_addexp_split(double a, double b, double *m, double *wa, double *wb)
{
	double		e = exp(-fabs(a - b)),
				inv = 1.0 / (1.0 + e);

	*wa = a >= b ? inv : e * inv;
	*wb = a >= b ? e * inv : inv;
	*m = a >= b ? a : b;
	return e;
}

/*
 * Sum of w_i log(y_i) over values y_i in [1, 2] (the 1 + e of
 * clm_addexp_split): the values of weight 1 are multiplied together, 64 at
 * a time (the product stays below 2^64), and take one log per block.  The
 * result differs from the sum of the logs by rounding only (about 1e-14
 * per block, absolute), which is all a sum of log-likelihood terms needs.
 */
typedef struct ClmLogSum
{
	double		sum;
	double		prod;
	int			n;
} ClmLogSum;

static inline void
clm_logsum_init(ClmLogSum *ls)
{
	ls->sum = 0;
	ls->prod = 1;
	ls->n = 0;
}

static inline void
clm_logsum_add(ClmLogSum *ls, double w, double y)
{
	if (w != 1.0)
		ls->sum += w * log(y);
	else
	{
		ls->prod *= y;
		if (++ls->n == 64)
		{
			ls->sum += log(ls->prod);
			ls->prod = 1;
			ls->n = 0;
		}
	}
}

static inline double
clm_logsum_total(const ClmLogSum *ls)
{
	return ls->sum + log(ls->prod);
}

/* log(1 + exp(x)) without overflow */
extern double clm_log1pexp(double x);

/* log(1 - exp(x)) for x <= 0, accurate near 0 and near -INFINITY */
extern double clm_log1mexp(double x);

/*
 * Gauss hypergeometric 2F1(a, b; c; z) in log space.
 *
 * Domain: real a, b, c with c not a non-positive integer, and -1 < z < 1
 * (0 <= z < 1 is the well-conditioned case; negative z and negative c use
 * the direct series with signed terms, which may lose relative accuracy
 * to cancellation).  Returns log|2F1| and stores the sign (+1 or -1) in
 * *sign when sign is not NULL.  The value may be astronomically large (large
 * a, b as with a customer's frequency): nothing overflows, since terms are
 * summed as logarithms.  When a, b > 0 and c - a, c - b > 0 the function
 * picks between the direct series and Euler's transformation
 * 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a,c-b;c;z), whichever has the smaller
 * leading coefficients (this makes the Pareto/NBD forms 2F1(a, b; a+1; z)
 * converge geometrically with monotone terms).  Returns NaN outside the
 * domain or if 1e6 terms did not reach relative accuracy 1e-15.
 */
extern double clm_log_hyp2f1(double a, double b, double c, double z, int *sign);

/*
 * log 2F1(a, b; c; z[k]) for k = 0..n-1 in one pass over the series (the
 * coefficients are shared; one multiply-add per term and z).  Same domain
 * and transformation choice as clm_log_hyp2f1, for 0 <= z[k] < 1; signs
 * go to sign[k] when sign is not NULL.  Falls back to clm_log_hyp2f1 per z
 * when the terms could overflow (very large a, b).  Much cheaper than n
 * separate calls when evaluating one customer at several horizons.
 */
extern void clm_log_hyp2f1_multi(double a, double b, double c, const double *z,
								 int n, double *out, int *sign);

/*
 * log 2F1(a, b; c; z[k]) together with its partial derivatives, for
 * k = 0..n-1 in one pass over the series: dlog[4k + 0..3] get
 * d/da, d/db, d/dc and d/dz of log 2F1(a, b; c; z[k]).  Domain a, b, c > 0
 * and 0 <= z[k] < 1 (everything NaN otherwise or when the series does not
 * converge); same direct/Euler choice as clm_log_hyp2f1, differentiated
 * consistently (the parameter derivatives of each series term are the
 * term times sums of 1/(parameter + j), accumulated along the series).
 * The derivatives are accurate in absolute terms to about 1e-15 times
 * their natural scale (the tail test covers the derivative sums).  For the
 * fits' analytic gradients (Pareto/NBD).  log1mz, when not NULL, holds
 * log(1 - z[k]) as the caller already knows it (else log1p(-z[k]) is
 * computed where Euler's transformation needs it).
 */
extern void clm_log_hyp2f1_multi_grad(double a, double b, double c,
									  const double *z, const double *log1mz,
									  int n, double *out, double *dlog);

#endif							/* CLM_SPECIAL_H */
