/*-------------------------------------------------------------------------
 *
 * clv_gg.c
 *	  The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and
 *	  CLV"): log-likelihood with its analytic gradient and Hessian, fitted
 *	  by Newton's method (clm_optim_newton; BFGS as fallback), whose
 *	  Hessian also gives the standard errors; and the expected spend
 *	  (eq. 5).  Listed in the table of models (clv_models.c).
 *
 * IDENTIFICATION
 *	  src/clv_gg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "clm.h"
#include "clv_math.h"
#include "special.h"

/* Gamma-Gamma: newton on about this many patterns first (clv_gg_minimize) */
#define GG_SUBSAMPLE 8192

/* Gamma-Gamma sums at one point (GgSums) */
typedef struct GgCache
{
	bool		valid;
	bool		deriv;			/* g and h are filled */
	double		lp[3];
	double		ll;
	double		g[3];			/* d LL / d theta */
	double		h[3][3];		/* upper triangle of d2 LL / d theta2 */
} GgCache;

/*
 * Gamma-Gamma: the per-pattern x * m and weights as flat arrays, and the
 * per-frequency constants x, W = sum w and A = sum w log m.
 */
void
clv_gg_prepare(FitData *d)
{
	int32		gi,
				i;
	bool		all_one;

	for (i = 0; i < d->npat && d->pat[i].w == 1.0; i++)
		;
	all_one = (i == d->npat);
	d->gg_xm = palloc(d->npat * sizeof(double));
	d->gg_w = all_one ? NULL : palloc(d->npat * sizeof(double));
	d->gg_x = palloc(d->ngroups * sizeof(double));
	d->gg_W = palloc(d->ngroups * sizeof(double));
	d->gg_A = palloc(d->ngroups * sizeof(double));
	d->gg_cache = palloc0(sizeof(GgCache));
	for (gi = 0; gi < d->ngroups; gi++)
	{
		double		x = d->pat[d->gstart[gi]].x,
					W = 0,
					A = 0;

		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const ClvPattern *pt = &d->pat[i];

			d->gg_xm[i] = x * pt->tx;
			if (!all_one)
				d->gg_w[i] = pt->w;
			W += pt->w;
			A += pt->w * log(pt->tx);
		}
		d->gg_x[gi] = x;
		d->gg_W[gi] = W;
		d->gg_A[gi] = A;
	}
}

/*
 * Gamma-Gamma spend model (x repeat purchases of mean value m):
 *   LL = lgamma(px+q) - lgamma(px) - lgamma(q) + q log v + (px-1) log m
 *        + px log x - (px+q) log(xm + v)
 * Summed over the customers of one frequency x, with W = sum w,
 * A = sum w log m (constant), L = sum w log(xm+v), I1 = sum w/(xm+v) and
 * I2 = sum w/(xm+v)^2 (one pass over the patterns at the current v):
 *   LL_x = W [lgamma(px+q) - lgamma(px) - lgamma(q) + q log v + px log x]
 *          + (px-1) A - (px+q) L
 *   d/dp   = x [W (psi(px+q) - psi(px) + log x) + A - L]
 *   d/dq   = W (psi(px+q) - psi(q) + log v) - L
 *   d/dv   = W q/v - (px+q) I1
 *   d2/dp2 = x^2 W (psi'(px+q) - psi'(px))   d2/dpdq = x W psi'(px+q)
 *   d2/dq2 = W (psi'(px+q) - psi'(q))        d2/dpdv = -x I1
 *   d2/dqdv = W/v - I1                       d2/dv2 = -W q/v^2 + (px+q) I2
 * The sums of the last evaluated point are kept (the fit asks again for
 * the log-likelihood and the Hessian at the optimum it has just
 * evaluated).
 */
static void
GgSums(const FitData *d, const double *lp, bool deriv)
{
	GgCache    *c = d->gg_cache;
	double		p = exp(lp[0]),
				q = exp(lp[1]),
				v = exp(lp[2]);
	double		ll = 0,
				lv = log(v),
				lgq = lgamma(q),
				psiq = 0,
				tri_q = 0;
	int32		gi,
				i;

	if (c->valid && (c->deriv || !deriv) && memcmp(c->lp, lp, sizeof(c->lp)) == 0)
		return;
	memset(c, 0, sizeof(GgCache));
	if (deriv)
	{
		psiq = clm_digamma(q);
		tri_q = clm_trigamma(q);
	}
	for (gi = 0; gi < d->ngroups; gi++)
	{
		double		x = d->gg_x[gi],
					W = d->gg_W[gi],
					A = d->gg_A[gi];
		double		px = p * x,
					lx = log(x);
		double		L = 0,
					I1 = 0,
					I2 = 0;
		const double *xm = d->gg_xm;
		const double *w = d->gg_w;

		CHECK_FOR_INTERRUPTS();
		if (deriv && w == NULL)
		{
			/* all weights 1: the same sums without the multiplications */
			for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
			{
				double		den = xm[i] + v,
							inv = 1.0 / den;

				L += log(den);
				I1 += inv;
				I2 += inv * inv;
			}
		}
		else if (deriv)
		{
			for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
			{
				double		den = xm[i] + v,
							inv = 1.0 / den;

				L += w[i] * log(den);
				I1 += w[i] * inv;
				I2 += w[i] * inv * inv;
			}
		}
		else
		{
			for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
				L += (w ? w[i] : 1.0) * log(xm[i] + v);
		}
		ll += W * (lgamma(px + q) - lgamma(px) - lgq + q * lv + px * lx) +
			(px - 1) * A - (px + q) * L;
		if (deriv)
		{
			double		psum = clm_digamma(px + q),
						tsum = clm_trigamma(px + q);

			c->g[0] += x * (W * (psum - clm_digamma(px) + lx) + A - L);
			c->g[1] += W * (psum - psiq + lv) - L;
			c->g[2] += W * q / v - (px + q) * I1;
			c->h[0][0] += x * x * W * (tsum - clm_trigamma(px));
			c->h[0][1] += x * W * tsum;
			c->h[1][1] += W * (tsum - tri_q);
			c->h[0][2] -= x * I1;
			c->h[1][2] += W / v - I1;
			c->h[2][2] += -W * q / (v * v) + (px + q) * I2;
		}
	}
	c->ll = ll;
	memcpy(c->lp, lp, sizeof(c->lp));
	c->deriv = deriv;
	c->valid = true;
}

/*
 * Gamma-Gamma mean negative log-likelihood plus the penalty, and when
 * asked its gradient and Hessian (row-major 3x3) in log-parameters:
 * g_i = t_i d_i, H_ij = t_i t_j d_ij + [i = j] t_i d_i for t = (p, q, v).
 */
double
clv_gg_nll_hessian(const FitData *d, const double *lp, double *grad, double *hess)
{
	const GgCache *c = d->gg_cache;
	double		th[3];
	int			i,
				j;

	GgSums(d, lp, grad != NULL || hess != NULL);
	for (i = 0; i < 3; i++)
		th[i] = exp(lp[i]);
	if (hess)
		for (i = 0; i < 3; i++)
			for (j = i; j < 3; j++)
			{
				double		hij = th[i] * th[j] * c->h[i][j] + (i == j ? th[i] * c->g[i] : 0);

				hess[i * 3 + j] = hess[j * 3 + i] = -hij / d->wsum;
			}
	if (hess && d->penalizer > 0)
		for (i = 0; i < 3; i++)
			hess[i * 3 + i] += 4 * d->penalizer * th[i] * th[i];
	return clv_mean_nll(d, 3, lp, c->ll, c->g, grad);
}

/*
 * Gamma-Gamma objective for clm_optim_minimize (the BFGS fallback).
 */
double
clv_gg_nll(const double *lp, double *grad, void *arg)
{
	return clv_gg_nll_hessian(arg, lp, grad, NULL);
}

/*
 * Gamma-Gamma objective with its Hessian for clm_optim_newton.
 */
static double
GammaGammaNllHess(const double *lp, double *grad, double *hess, void *arg)
{
	return clv_gg_nll_hessian(arg, lp, grad, hess);
}

/*
 * Gamma-Gamma fit from x: Newton's method on the analytic Hessian, BFGS
 * if Newton gets stuck.  With many patterns, Newton first runs on every
 * k-th pattern of each frequency (a fixed subset of the canonically
 * ordered patterns, reweighted so that each frequency keeps its total
 * weight), whose optimum is a start close enough to the full optimum for
 * two or three full-data iterations.
 */
ClmOptimResult
clv_gg_minimize(FitData *fd, double *x, const ClmOptimOptions *opt)
{
	ClmOptimResult res;
	int			used = 0,
				i;

	if (fd->npat >= 4 * GG_SUBSAMPLE)
	{
		FitData		sub = *fd;
		GgCache		subcache;
		int32		step = fd->npat / GG_SUBSAMPLE,
					gi,
					k;
		double		xs[3];

		memset(&subcache, 0, sizeof(subcache));
		sub.gg_cache = &subcache;
		sub.gstart = palloc((fd->ngroups + 1) * sizeof(int32));
		sub.gg_xm = palloc((fd->npat / step + fd->ngroups) * sizeof(double));
		sub.gg_w = palloc((fd->npat / step + fd->ngroups) * sizeof(double));
		sub.gg_W = palloc(fd->ngroups * sizeof(double));
		sub.gg_A = palloc(fd->ngroups * sizeof(double));
		sub.wsum = 0;
		for (gi = 0, k = 0; gi < fd->ngroups; gi++)
		{
			int32		g0 = fd->gstart[gi],
						size = fd->gstart[gi + 1] - g0,
						k0 = k;
			double		W = 0,
						A = 0,
						scale;

			/* every step-th pattern from the middle of the first stride */
			sub.gstart[gi] = k;
			for (i = g0 + (step / 2 < size ? step / 2 : 0); i < g0 + size; i += step)
			{
				sub.gg_xm[k] = fd->gg_xm[i];
				sub.gg_w[k] = fd->gg_w ? fd->gg_w[i] : 1.0;
				W += sub.gg_w[k];
				k++;
			}
			/* the frequency keeps its total weight */
			scale = fd->gg_W[gi] / W;
			for (i = k0; i < k; i++)
			{
				sub.gg_w[i] *= scale;
				A += sub.gg_w[i] * log(sub.gg_xm[i] / fd->gg_x[gi]);
			}
			sub.gg_W[gi] = fd->gg_W[gi];
			sub.gg_A[gi] = A;
			sub.wsum += fd->gg_W[gi];
		}
		sub.gstart[fd->ngroups] = k;
		sub.npat = k;
		memcpy(xs, x, sizeof(xs));
		res = clm_optim_newton(GammaGammaNllHess, &sub, 3, xs, opt);
		used = res.iterations;
		if (res.converged)
			memcpy(x, xs, sizeof(xs));
		pfree(sub.gstart);
		pfree(sub.gg_xm);
		pfree(sub.gg_w);
		pfree(sub.gg_W);
		pfree(sub.gg_A);
	}
	res = clm_optim_newton(GammaGammaNllHess, fd, 3, x, opt);
	res.iterations += used;
	if (!res.converged)
	{
		used = res.iterations;
		res = clm_optim_minimize(clv_gg_nll, fd, 3, x, opt);
		res.iterations += used;
	}
	return res;
}

/* ---- scoring ---- */

/*
 * Gamma-Gamma E[mean spend | x, m] = p (v + x m) / (p x + q - 1).
 */
double
clv_gg_expected_spend(const double *g, double x, double m)
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
