/*-------------------------------------------------------------------------
 *
 * special.c
 *	  Log-space special functions for clm's statistical models: lgamma,
 *	  lbeta, digamma, log-sum-exp helpers and the Gauss hypergeometric
 *	  function 2F1.  See special.h for the contract (NaN on bad domain).
 *
 * IDENTIFICATION
 *	  src/special.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "special.h"

#define HYP2F1_MAX_TERMS 1000000
#define HYP2F1_EPS 1e-16

/*
 * log Gamma(x) for x > 0.  The backend is single threaded, so the libm
 * function (which sets signgam) is fine; the sign is positive for x > 0.
 */
double
clm_lgamma(double x)
{
	if (!(x > 0.0) || isinf(x))
		return NAN;
	return lgamma(x);
}

/*
 * log B(a, b).
 */
double
clm_lbeta(double a, double b)
{
	if (!(a > 0.0) || !(b > 0.0) || isinf(a) || isinf(b))
		return NAN;
	return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/*
 * Digamma by upward recurrence to x >= 6 and the asymptotic series.
 */
double
clm_digamma(double x)
{
	double		r = 0.0,
				f;

	if (!(x > 0.0) || isinf(x))
		return NAN;
	while (x < 10.0)
	{
		r -= 1.0 / x;
		x += 1.0;
	}
	f = 1.0 / (x * x);
	return r + log(x) - 0.5 / x
		- f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

/*
 * log(exp(a) + exp(b)).
 */
double
clm_logsumexp2(double a, double b)
{
	if (isnan(a) || isnan(b))
		return NAN;
	if (a == -INFINITY)
		return b;
	if (b == -INFINITY)
		return a;
	if (a > b)
		return a + log1p(exp(b - a));
	return b + log1p(exp(a - b));
}

/*
 * log(sum exp(v[i])).
 */
double
clm_logsumexp(const double *v, int n)
{
	double		m = -INFINITY,
				s = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (isnan(v[i]))
			return NAN;
		if (v[i] > m)
			m = v[i];
	}
	if (m == -INFINITY || isinf(m))
		return m;
	for (i = 0; i < n; i++)
		s += exp(v[i] - m);
	return m + log(s);
}

/*
 * log(1 - exp(x)) for x <= 0 (Maechler's log1mexp).
 */
double
clm_log1mexp(double x)
{
	if (isnan(x) || x > 0.0)
		return NAN;
	if (x == 0.0)
		return -INFINITY;
	if (x > -M_LN2)
		return log(-expm1(x));
	return log1p(-exp(x));
}

/*
 * log(exp(a) - exp(b)), a >= b.
 */
double
clm_logdiffexp(double a, double b)
{
	if (isnan(a) || isnan(b) || b > a)
		return NAN;
	if (b == -INFINITY)
		return a;
	if (a == b)
		return -INFINITY;
	return a + clm_log1mexp(b - a);
}

/*
 * log(1 + exp(x)).
 */
double
clm_log1pexp(double x)
{
	if (x > 35.0)
		return x + exp(-x);
	if (x < -35.0)
		return exp(x);
	return log1p(exp(x));
}

/*
 * Direct hypergeometric series sum_n (a)_n (b)_n / ((c)_n n!) z^n summed
 * with a floating scale so that neither huge nor tiny terms over/underflow.
 * Returns log|sum| and the sign.
 */
static double
LogHypSeries(double a, double b, double c, double z, int *sign)
{
	double		lt = 0.0;		/* log |term n| */
	int			ts = 1;			/* sign of term n */
	double		shift = 0.0;	/* sum is stored as exp(-shift) * S */
	double		s = 1.0;
	double		lz;
	int			n;

	*sign = 1;
	if (z == 0.0)
		return 0.0;
	lz = log(fabs(z));
	for (n = 0; n < HYP2F1_MAX_TERMS; n++)
	{
		double		fa = a + n,
					fb = b + n,
					fc = c + n,
					ratio,
					rb,
					tail;

		if (fa == 0.0 || fb == 0.0)
			break;				/* the series terminates */
		if (fc == 0.0)
			return NAN;
		lt += log(fabs(fa)) + log(fabs(fb)) - log(fabs(fc)) - log(n + 1.0) + lz;
		if ((fa < 0) != (fb < 0))
			ts = -ts;
		if (fc < 0)
			ts = -ts;
		if (z < 0)
			ts = -ts;
		if (lt > shift + 300.0)
		{
			s *= exp(shift - lt);
			shift = lt;
		}
		s += ts * exp(lt - shift);
		if (!isfinite(s))
			return NAN;

		/* stop once the remaining tail is negligible */
		ratio = fabs((fa + 1) * (fb + 1) / ((fc + 1) * (n + 2.0)) * z);
		rb = fmax(ratio, fabs(z));
		if (rb < 1.0 && fa + 1 > 0 && fb + 1 > 0 && fc + 1 > 0)
		{
			tail = exp(lt - shift) * rb / (1.0 - rb);
			if (tail <= HYP2F1_EPS * fabs(s))
				break;
		}
	}
	if (n >= HYP2F1_MAX_TERMS)
		return NAN;
	if (s == 0.0)
	{
		*sign = 1;
		return -INFINITY;
	}
	*sign = s > 0 ? 1 : -1;
	return shift + log(fabs(s));
}

/*
 * log|2F1(a, b; c; z)|, choosing the direct series or Euler's
 * transformation (see special.h).
 */
double
clm_log_hyp2f1(double a, double b, double c, double z, int *sign)
{
	int			sg = 1;
	double		r;

	if (sign)
		*sign = 1;
	if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(z) ||
		!(z < 1.0) || !(z > -1.0) ||
		(c <= 0.0 && fabs(c - rint(c)) < 1e-12))
		return NAN;
	if (z == 0.0)
		return 0.0;
	if (z > 0.0 && c - a > 0.0 && c - b > 0.0 &&
		fabs((c - a) * (c - b)) < fabs(a * b))
	{
		r = LogHypSeries(c - a, c - b, c, z, &sg);
		if (!isnan(r))
			r += (c - a - b) * log1p(-z);
	}
	else
		r = LogHypSeries(a, b, c, z, &sg);
	if (sign)
		*sign = sg;
	return r;
}
