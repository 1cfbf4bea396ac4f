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
 * Trigamma psi'(x) = d^2/dx^2 lgamma(x), by upward recurrence to x >= 10
 * and the asymptotic series 1/x + 1/(2x^2) + sum B_2k / x^(2k+1).
 */
double
clm_trigamma(double x)
{
	double		r = 0.0,
				f;

	if (!(x > 0.0) || isinf(x))
		return NAN;
	while (x < 10.0)
	{
		r += 1.0 / (x * x);
		x += 1.0;
	}
	f = 1.0 / (x * x);
	return r + 1.0 / x + 0.5 * f +
		f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30 - f * (5.0 / 66)))));
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
 * True when the series sum_n (p)_n (q)_n / ((c)_n n!) z^n (p, q, c > 0,
 * 0 <= z < 1) cannot converge within HYP2F1_MAX_TERMS terms: its terms
 * are still growing at the last one (ratio of consecutive terms >= 1; the
 * ratio exceeds 1 on at most one interval of n).  The loops would then run
 * a million terms to return NaN (e.g. a parameter near 1e300); this says
 * so up front.
 */
static bool
HypSeriesHopeless(double p, double q, double c, double z)
{
	double		n = HYP2F1_MAX_TERMS - 1.0;

	if (!(p > 0) || !(q > 0) || !(c > 0) || !(z > 0))
		return false;
	return (p + n) * (q + n) * z >= (c + n) * (n + 1.0);
}

/*
 * Direct hypergeometric series sum_n (a)_n (b)_n / ((c)_n n!) z^n.  Terms
 * are multiplied in linear space (no logarithm per term) and the running
 * term and sum share a scale that is renormalised before either could
 * overflow; the result is log|sum| + the accumulated scale.
 */
static double
LogHypSeries(double a, double b, double c, double z, int *sign)
{
	double		t = 1.0;		/* term n / exp(shift) */
	double		s = 1.0;		/* sum / exp(shift) */
	double		shift = 0.0;
	int			n;

	*sign = 1;
	if (z == 0.0)
		return 0.0;
	if (HypSeriesHopeless(a, b, c, z))
		return NAN;
	for (n = 0; n < HYP2F1_MAX_TERMS; n++)
	{
		double		fa = a + n,
					fb = b + n,
					fc = c + n,
					ratio,
					rb;

		if (fa == 0.0 || fb == 0.0)
			break;				/* the series terminates */
		if (fc == 0.0)
			return NAN;
		t *= fa * fb / (fc * (n + 1.0)) * z;
		if (fabs(t) > 1e250)
		{
			t *= 1e-250;
			s *= 1e-250;
			shift += 250.0 * M_LN10;
		}
		s += t;
		if (!isfinite(s))
			return NAN;

		/* stop once the remaining tail is negligible */
		ratio = fabs((fa + 1) * (fb + 1) / ((fc + 1) * (n + 2.0)) * z);
		rb = fmax(ratio, fabs(z));
		if (rb < 1.0 && fa + 1 > 0 && fb + 1 > 0 && fc + 1 > 0 &&
			fabs(t) * rb <= HYP2F1_EPS * (1.0 - rb) * fabs(s))
			break;
		if (t == 0.0)
			break;
	}
	if (n >= HYP2F1_MAX_TERMS)
		return NAN;
	if (s == 0.0)
		return -INFINITY;
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

/*
 * Several z at once (see special.h): the series' coefficients
 * (a)_n (b)_n / ((c)_n n!) are computed once per term and multiplied into
 * each z's running power.  Linear space; used only while a*b is moderate,
 * so terms stay far from overflow for z < 1.
 */
void
clm_log_hyp2f1_multi(double a, double b, double c, const double *z, int n,
					 double *out, int *sign)
{
	double		sum[64],
				pw[64],
				coef = 1.0,
				zmax = 0,
				pwmax,
				shift = 0.0,
				eexp = c - a - b;	/* Euler's factor (1-z)^(c-a-b) */
	bool		euler = false;
	int			k,
				m;

	if (n > 64 || !isfinite(a) || !isfinite(b) || !isfinite(c) ||
		(c <= 0.0 && fabs(c - rint(c)) < 1e-12) || fabs(a * b) > 1e4)
	{
		for (k = 0; k < n; k++)
			out[k] = clm_log_hyp2f1(a, b, c, z[k], sign ? &sign[k] : NULL);
		return;
	}
	for (k = 0; k < n; k++)
	{
		if (!(z[k] >= 0.0) || !(z[k] < 1.0))
		{
			for (k = 0; k < n; k++)
				out[k] = clm_log_hyp2f1(a, b, c, z[k], sign ? &sign[k] : NULL);
			return;
		}
		zmax = fmax(zmax, z[k]);
		sum[k] = 1.0;
		pw[k] = 1.0;
	}
	pwmax = zmax;
	if (c - a > 0.0 && c - b > 0.0 && fabs((c - a) * (c - b)) < fabs(a * b))
	{
		double		na = c - a,
					nb = c - b;

		euler = true;
		a = na;
		b = nb;
		/* eexp keeps the original c - a - b */
	}
	if (HypSeriesHopeless(a, b, c, zmax))
	{
		for (k = 0; k < n; k++)
			out[k] = NAN;
		return;
	}
	for (m = 0; m < HYP2F1_MAX_TERMS; m++)
	{
		double		fa = a + m,
					fb = b + m,
					fc = c + m,
					rb,
					tmax;

		if (fa == 0.0 || fb == 0.0)
			break;
		if (fc == 0.0)
		{
			for (k = 0; k < n; k++)
				out[k] = NAN;
			return;
		}
		coef *= fa * fb / (fc * (m + 1.0));
		if (coef > 1e250 || coef < -1e250)
		{
			coef *= 1e-250;
			for (k = 0; k < n; k++)
				sum[k] *= 1e-250;
			shift += 250.0 * M_LN10;
		}
		for (k = 0; k < n; k++)
		{
			pw[k] *= z[k];
			sum[k] += coef * pw[k];
		}
		tmax = (coef < 0 ? -coef : coef) * pwmax;
		pwmax *= zmax;

		/*
		 * The largest z converges slowest; every fourth term, stop when its
		 * remaining tail is negligible against the smallest sum.
		 */
		if ((m & 3) != 3)
			continue;
		rb = (fa + 1) * (fb + 1) / ((fc + 1) * (m + 2.0)) * zmax;
		if (rb < 0)
			rb = -rb;
		if (rb < zmax)
			rb = zmax;
		if (rb < 1.0 && fa + 1 > 0 && fb + 1 > 0 && fc + 1 > 0 &&
			tmax * rb <= HYP2F1_EPS * (1.0 - rb))
		{
			double		smin = INFINITY;

			for (k = 0; k < n; k++)
			{
				double		as = sum[k] < 0 ? -sum[k] : sum[k];

				if (as < smin)
					smin = as;
			}
			if (tmax * rb <= HYP2F1_EPS * (1.0 - rb) * smin)
				break;
		}
		if (coef == 0.0)
			break;
	}
	for (k = 0; k < n; k++)
	{
		if (m >= HYP2F1_MAX_TERMS || !isfinite(sum[k]))
		{
			out[k] = NAN;
			continue;
		}
		if (sign)
			sign[k] = sum[k] >= 0 ? 1 : -1;
		out[k] = (sum[k] == 0.0 ? -INFINITY : shift + log(fabs(sum[k]))) +
			(euler ? eexp * log1p(-z[k]) : 0.0);
	}
}

/*
 * log 2F1(a, b; c; z[k]) and its partial derivatives with respect to a,
 * b, c and z (see special.h), for at most 64 z in one pass over the
 * series.  The series is sum_m g_m with g_m = (p)_m (q)_m / ((c)_m m!) z^m,
 * (p, q) = (a, b) directly or (c - a, c - b) under Euler's transformation
 * (the same choice as clm_log_hyp2f1).  In the same pass it sums
 *   Sp = sum g_m H_m(p), Sq = sum g_m H_m(q), Sc = sum g_m H_m(c),
 *   Sz = sum m g_m,
 * with H_m(y) = sum_{j<m} 1/(y+j), since d g_m/dp = g_m H_m(p),
 * d g_m/dc = -g_m H_m(c) and z d g_m/dz = m g_m.  All terms are positive
 * (a, b, c > 0, 0 <= z < 1).  The sums share one scale, renormalised when
 * the largest term nears overflow; the tail test also covers the
 * derivative sums (their terms grow by at most H_m and m).
 */
static void
LogHyp2f1GradChunk(double a, double b, double c, const double *z,
				   const double *log1mz, int n, double *out, double *dlog)
{
	double		sum[64],
				sp[64],
				sq[64],
				sc[64],
				sz[64],
				pw[64],
				coef = 1.0,
				zmax = 0,
				pwmax,
				shift = 0.0,
				hp = 0,
				hq = 0,
				hc = 0,
				p = a,
				q = b;
	bool		euler;
	int			k,
				m;

	for (k = 0; k < n; k++)
	{
		zmax = Max(zmax, z[k]);
		sum[k] = 1.0;
		sp[k] = sq[k] = sc[k] = sz[k] = 0.0;
		pw[k] = 1.0;
	}
	pwmax = 1.0;
	euler = c - a > 0.0 && c - b > 0.0 && fabs((c - a) * (c - b)) < fabs(a * b);
	if (euler)
	{
		p = c - a;
		q = c - b;
	}
	if (HypSeriesHopeless(p, q, c, zmax))
	{
		for (k = 0; k < n; k++)
			out[k] = dlog[4 * k] = dlog[4 * k + 1] = dlog[4 * k + 2] = dlog[4 * k + 3] = NAN;
		return;
	}
	for (m = 0; m < HYP2F1_MAX_TERMS && zmax > 0.0; m++)
	{
		double		fp = p + m,
					fq = q + m,
					fc = c + m,
					cp,
					cq,
					cc,
					cz,
					rb,
					tmax;

		/* term m + 1: coefficient and the sums H_{m+1} over j <= m */
		coef *= fp * fq / (fc * (m + 1.0));
		hp += 1.0 / fp;
		hq += 1.0 / fq;
		hc += 1.0 / fc;
		pwmax *= zmax;
		tmax = coef * pwmax;
		if (tmax > 1e250)
		{
			coef *= 1e-250;
			tmax *= 1e-250;
			for (k = 0; k < n; k++)
			{
				sum[k] *= 1e-250;
				sp[k] *= 1e-250;
				sq[k] *= 1e-250;
				sc[k] *= 1e-250;
				sz[k] *= 1e-250;
			}
			shift += 250.0 * M_LN10;
		}
		cp = coef * hp;
		cq = coef * hq;
		cc = coef * hc;
		cz = coef * (m + 1.0);
		for (k = 0; k < n; k++)
		{
			double		t;

			pw[k] *= z[k];
			t = pw[k];
			sum[k] += coef * t;
			sp[k] += cp * t;
			sq[k] += cq * t;
			sc[k] += cc * t;
			sz[k] += cz * t;
		}
		if ((m & 3) != 3)
			continue;
		rb = Max((fp + 1) * (fq + 1) / ((fc + 1) * (m + 2.0)) * zmax, zmax);
		if (rb < 1.0)
		{
			/* tail of the value sum, times what the other sums' terms carry */
			double		tail = tmax * rb / (1.0 - rb),
						grow = hp + hq + hc + (m + 2.0) +
				3.0 / ((1.0 - rb) * Min(Min(fp, fq), fc)),
						smin = INFINITY;

			for (k = 0; k < n; k++)
				if (sum[k] < smin)
					smin = sum[k];	/* as fmin: a NaN sum is ignored */
			if (tail * (1.0 + grow) <= HYP2F1_EPS * smin)
				break;
		}
		if (coef == 0.0)
			break;
	}
	for (k = 0; k < n; k++)
	{
		double	   *d = &dlog[4 * k];
		double		g = sum[k];

		if (m >= HYP2F1_MAX_TERMS || !isfinite(g) || !isfinite(sp[k] + sq[k] + sc[k] + sz[k]))
		{
			out[k] = d[0] = d[1] = d[2] = d[3] = NAN;
			continue;
		}
		if (z[k] == 0.0)
		{
			out[k] = 0.0;
			d[0] = d[1] = d[2] = 0.0;
			d[3] = a * b / c;
			continue;
		}
		out[k] = shift + log(g);
		if (euler)
		{
			double		l1z = log1mz ? log1mz[k] : log1p(-z[k]);

			out[k] += (c - a - b) * l1z;
			d[0] = -l1z - sp[k] / g;
			d[1] = -l1z - sq[k] / g;
			d[2] = l1z + (sp[k] + sq[k] - sc[k]) / g;
			d[3] = -(c - a - b) / (1.0 - z[k]) + sz[k] / (z[k] * g);
		}
		else
		{
			d[0] = sp[k] / g;
			d[1] = sq[k] / g;
			d[2] = -sc[k] / g;
			d[3] = sz[k] / (z[k] * g);
		}
	}
}

/*
 * log 2F1 and its gradient for n values of z (see special.h).
 */
void
clm_log_hyp2f1_multi_grad(double a, double b, double c, const double *z,
						  const double *log1mz, int n, double *out, double *dlog)
{
	int			k;

	for (k = 0; k < n; k++)
		if (!(z[k] >= 0.0) || !(z[k] < 1.0))
			break;
	if (k < n || !(a > 0.0) || !(b > 0.0) || !(c > 0.0) ||
		!isfinite(a) || !isfinite(b) || !isfinite(c))
	{
		for (k = 0; k < n; k++)
			out[k] = dlog[4 * k] = dlog[4 * k + 1] = dlog[4 * k + 2] = dlog[4 * k + 3] = NAN;
		return;
	}
	if (a * b > 1e4)
	{
		/* terms may be huge: one z per pass, so each sum keeps its scale */
		for (k = 0; k < n; k++)
			LogHyp2f1GradChunk(a, b, c, &z[k], log1mz ? &log1mz[k] : NULL, 1,
							   &out[k], &dlog[4 * k]);
		return;
	}
	for (k = 0; k < n; k += 64)
		LogHyp2f1GradChunk(a, b, c, &z[k], log1mz ? &log1mz[k] : NULL, Min(64, n - k),
						   &out[k], &dlog[4 * k]);
}
