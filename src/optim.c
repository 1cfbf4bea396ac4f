/*-------------------------------------------------------------------------
 *
 * optim.c
 *	  Deterministic unconstrained minimisation for clm's likelihood fits:
 *	  BFGS with a strong-Wolfe line search (Nocedal & Wright, algorithms
 *	  3.5/3.6 and 6.1), restarts from the identity when the line search
 *	  fails, a Nelder-Mead fallback for rough starts, numerical Hessians
 *	  and delta-method standard errors.  See optim.h for the contract.
 *
 * IDENTIFICATION
 *	  src/optim.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "optim.h"

#define C1 1e-4
#define C2 0.9
#define MAX_LS 60

typedef struct OptimCtx
{
	ClmObjectiveFn fn;
	void	   *arg;
	int			n;
	const ClmOptimOptions *opt;
	int			evals;
	double		last_gmax;		/* max|g| of the last numerical gradient */
} OptimCtx;

/*
 * Default options.
 */
void
clm_optim_defaults(ClmOptimOptions *opt)
{
	opt->max_iter = 1000;
	opt->gtol = 1e-7;
	opt->ftol = 1e-15;
	opt->analytic_grad = false;
	opt->fd_step = 1e-6;
	opt->fd_forward_above = 0;
}

/*
 * Evaluate f only (NaN is mapped to +INFINITY so comparisons are safe).
 */
static double
EvalF(OptimCtx *c, const double *x)
{
	double		f = c->fn(x, NULL, c->arg);

	c->evals++;
	return isnan(f) ? INFINITY : f;
}

/*
 * Evaluate f and the gradient; a central difference per coordinate when
 * the objective has no analytic gradient (one-sided if a side is not
 * finite).
 */
static double
EvalFG(OptimCtx *c, const double *x, double *g)
{
	int			n = c->n,
				i;
	double		f,
				gmax,
				xx[CLM_OPTIM_MAX_DIM];
	bool		forward;

	if (c->opt->analytic_grad)
	{
		f = c->fn(x, g, c->arg);
		c->evals++;
		if (isnan(f))
			f = INFINITY;
		for (i = 0; i < n && isfinite(f); i++)
			if (!isfinite(g[i]))
				f = INFINITY;
		return f;
	}
	f = EvalF(c, x);
	if (!isfinite(f))
		return f;
	memcpy(xx, x, n * sizeof(double));
	forward = c->opt->fd_forward_above > 0 && c->last_gmax > c->opt->fd_forward_above;
	gmax = 0;
	for (i = 0; i < n; i++)
	{
		double		h = c->opt->fd_step * fmax(1.0, fabs(x[i]));
		double		fp,
					fm = INFINITY;

		if (forward)
			h = 1e-7 * fmax(1.0, fabs(x[i]));	/* ~ sqrt(machine epsilon) */
		xx[i] = x[i] + h;
		fp = EvalF(c, xx);
		if (!forward || !isfinite(fp))
		{
			xx[i] = x[i] - h;
			fm = EvalF(c, xx);
		}
		xx[i] = x[i];
		if (isfinite(fp) && isfinite(fm))
			g[i] = (fp - fm) / (2 * h);
		else if (isfinite(fp))
			g[i] = (fp - f) / h;
		else if (isfinite(fm))
			g[i] = (f - fm) / h;
		else
			return INFINITY;
		gmax = fmax(gmax, fabs(g[i]));
	}
	c->last_gmax = gmax;
	return f;
}

/*
 * f(x) and its gradient, analytic or by finite differences (see optim.h).
 */
double
clm_optim_value_grad(ClmObjectiveFn fn, void *arg, int n, const double *x,
					 double *grad, const ClmOptimOptions *opt)
{
	OptimCtx	c = {fn, arg, n, opt, 0, INFINITY};

	return EvalFG(&c, x, grad);
}

/*
 * Dot product of two n-vectors.
 */
static double
Dot(int n, const double *a, const double *b)
{
	double		s = 0;
	int			i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/*
 * Largest absolute value of an n-vector (the gradient test).
 */
static double
MaxAbs(int n, const double *a)
{
	double		m = 0;
	int			i;

	for (i = 0; i < n; i++)
		m = fmax(m, fabs(a[i]));
	return m;
}

/*
 * Point x + t * d into out, and f/g there.
 */
static double
Phi(OptimCtx *c, const double *x, const double *d, double t, double *out, double *g)
{
	int			i;

	for (i = 0; i < c->n; i++)
		out[i] = x[i] + t * d[i];
	return EvalFG(c, out, g);
}

/*
 * Zoom phase of the strong-Wolfe line search between lo and hi (safeguarded
 * quadratic interpolation, bisection when it falls outside).
 */
static bool
Zoom(OptimCtx *c, const double *x, const double *d, double f0, double dg0,
	 double tlo, double flo, double dglo, double thi, double fhi,
	 double *tout, double *xn, double *fn, double *gn)
{
	int			k;

	for (k = 0; k < MAX_LS; k++)
	{
		double		t,
					f,
					dg,
					denom,
					width = thi - tlo;

		/* quadratic through (tlo, flo, dglo) and (thi, fhi) */
		denom = 2.0 * (fhi - flo - dglo * width);
		t = (isfinite(fhi) && denom > 0) ? tlo - dglo * width * width / denom : tlo + 0.5 * width;
		if (!(fabs(t - tlo) > 0.1 * fabs(width) && fabs(thi - t) > 0.1 * fabs(width)))
			t = tlo + 0.5 * width;
		f = Phi(c, x, d, t, xn, gn);
		if (!isfinite(f) || f > f0 + C1 * t * dg0 || f >= flo)
		{
			thi = t;
			fhi = f;
		}
		else
		{
			dg = Dot(c->n, gn, d);
			if (fabs(dg) <= -C2 * dg0)
			{
				*tout = t;
				*fn = f;
				return true;
			}
			if (dg * (thi - tlo) >= 0)
			{
				thi = tlo;
				fhi = flo;
			}
			tlo = t;
			flo = f;
			dglo = dg;
		}
		if (fabs(thi - tlo) < 1e-16 * fmax(1.0, fabs(tlo)))
			break;
	}
	/* accept the best sufficient-decrease point seen, if any */
	if (tlo > 0 && flo < f0)
	{
		*tout = tlo;
		*fn = Phi(c, x, d, tlo, xn, gn);
		return isfinite(*fn);
	}
	return false;
}

/*
 * Strong-Wolfe line search along d from x (f0, dg0 = g.d < 0).  On success
 * xn/fn/gn hold the new point.
 */
static bool
LineSearch(OptimCtx *c, const double *x, const double *d, double f0, double dg0,
		   double tinit, double *xn, double *fn, double *gn)
{
	double		tprev = 0,
				fprev = f0,
				dgprev = dg0,
				t = tinit,
				tout;
	int			k;

	for (k = 0; k < MAX_LS; k++)
	{
		double		f = Phi(c, x, d, t, xn, gn),
					dg;

		if (!isfinite(f))
		{
			/* infeasible: shrink towards the last good point */
			if (k > 0 && tprev > 0)
				return Zoom(c, x, d, f0, dg0, tprev, fprev, dgprev, t, INFINITY,
							&tout, xn, fn, gn);
			t *= 0.1;
			continue;
		}
		if (f > f0 + C1 * t * dg0 || (k > 0 && f >= fprev))
			return Zoom(c, x, d, f0, dg0, tprev, fprev, dgprev, t, f,
						&tout, xn, fn, gn);
		dg = Dot(c->n, gn, d);
		if (fabs(dg) <= -C2 * dg0)
		{
			*fn = f;
			return true;
		}
		if (dg >= 0)
			return Zoom(c, x, d, f0, dg0, t, f, dg, tprev, fprev,
						&tout, xn, fn, gn);
		tprev = t;
		fprev = f;
		dgprev = dg;
		t *= 2.0;
	}
	return false;
}

/*
 * Nelder-Mead simplex (standard coefficients) from x with initial steps
 * of 0.5 in every coordinate (log-parameters: a factor e^0.5).  Used when
 * BFGS cannot make progress, e.g. from a start where f is not smooth.
 */
static double
NelderMead(OptimCtx *c, double *x, int max_iter, int *iters)
{
	int			n = c->n,
				i,
				j,
				it;
	double		p[CLM_OPTIM_MAX_DIM + 1][CLM_OPTIM_MAX_DIM];
	double		fv[CLM_OPTIM_MAX_DIM + 1] = {0};
	double		cen[CLM_OPTIM_MAX_DIM],
				xr[CLM_OPTIM_MAX_DIM],
				xe[CLM_OPTIM_MAX_DIM];

	for (i = 0; i <= n; i++)
	{
		memcpy(p[i], x, n * sizeof(double));
		if (i > 0)
			p[i][i - 1] += 0.5;
		fv[i] = EvalF(c, p[i]);
	}
	for (it = 0; it < max_iter; it++)
	{
		int			lo = 0,
					hi = 0,
					nh = 0;
		double		fr,
					fe;

		CHECK_FOR_INTERRUPTS();
		for (i = 1; i <= n; i++)
		{
			if (fv[i] < fv[lo])
				lo = i;
			if (fv[i] > fv[hi])
				hi = i;
		}
		nh = (hi == 0) ? 1 : 0;
		for (i = 0; i <= n; i++)
			if (i != hi && fv[i] > fv[nh])
				nh = i;
		if (isfinite(fv[hi]) &&
			fabs(fv[hi] - fv[lo]) <= 1e-13 * (fabs(fv[lo]) + 1e-300))
			break;
		for (j = 0; j < n; j++)
		{
			cen[j] = 0;
			for (i = 0; i <= n; i++)
				if (i != hi)
					cen[j] += p[i][j];
			cen[j] /= n;
		}
		for (j = 0; j < n; j++)
			xr[j] = cen[j] + (cen[j] - p[hi][j]);
		fr = EvalF(c, xr);
		if (fr < fv[lo])
		{
			for (j = 0; j < n; j++)
				xe[j] = cen[j] + 2.0 * (cen[j] - p[hi][j]);
			fe = EvalF(c, xe);
			if (fe < fr)
			{
				memcpy(p[hi], xe, n * sizeof(double));
				fv[hi] = fe;
			}
			else
			{
				memcpy(p[hi], xr, n * sizeof(double));
				fv[hi] = fr;
			}
		}
		else if (fr < fv[nh])
		{
			memcpy(p[hi], xr, n * sizeof(double));
			fv[hi] = fr;
		}
		else
		{
			/* contraction (outside if fr better than the worst) */
			double		fcn;
			bool		outside = fr < fv[hi];

			for (j = 0; j < n; j++)
				xe[j] = outside ? cen[j] + 0.5 * (xr[j] - cen[j])
					: cen[j] + 0.5 * (p[hi][j] - cen[j]);
			fcn = EvalF(c, xe);
			if (fcn < (outside ? fr : fv[hi]))
			{
				memcpy(p[hi], xe, n * sizeof(double));
				fv[hi] = fcn;
			}
			else
			{
				/* shrink towards the best */
				for (i = 0; i <= n; i++)
				{
					if (i == lo)
						continue;
					for (j = 0; j < n; j++)
						p[i][j] = p[lo][j] + 0.5 * (p[i][j] - p[lo][j]);
					fv[i] = EvalF(c, p[i]);
				}
			}
		}
	}
	*iters = it;
	j = 0;
	for (i = 1; i <= n; i++)
		if (fv[i] < fv[j])
			j = i;
	if (isfinite(fv[j]))
		memcpy(x, p[j], n * sizeof(double));
	return fv[j];
}

/*
 * BFGS on the inverse-Hessian approximation from x.  Returns the number of
 * iterations; *status: 1 converged, 0 iteration limit, -1 line search
 * failure, -2 stalled.
 */
static int
Bfgs(OptimCtx *c, double *x, double *f, double *g, int max_iter, int *status)
{
	int			n = c->n,
				i,
				j,
				it;
	double		hinv[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	double		d[CLM_OPTIM_MAX_DIM],
				xn[CLM_OPTIM_MAX_DIM],
				gn[CLM_OPTIM_MAX_DIM],
				s[CLM_OPTIM_MAX_DIM],
				y[CLM_OPTIM_MAX_DIM],
				hy[CLM_OPTIM_MAX_DIM];
	bool		fresh = true;
	int			fails = 0;

	*status = 0;
	for (i = 0; i < n * n; i++)
		hinv[i] = 0;
	for (i = 0; i < n; i++)
		hinv[i * n + i] = 1;

	for (it = 0; it < max_iter; it++)
	{
		double		dg,
					fnew,
					tinit,
					sy,
					yhy;

		CHECK_FOR_INTERRUPTS();
		if (MaxAbs(n, g) <= c->opt->gtol)
		{
			*status = 1;
			return it;
		}
		for (i = 0; i < n; i++)
		{
			d[i] = 0;
			for (j = 0; j < n; j++)
				d[i] -= hinv[i * n + j] * g[j];
		}
		dg = Dot(n, d, g);
		if (!(dg < 0))
		{
			/* not a descent direction: restart from steepest descent */
			for (i = 0; i < n * n; i++)
				hinv[i] = 0;
			for (i = 0; i < n; i++)
			{
				hinv[i * n + i] = 1;
				d[i] = -g[i];
			}
			dg = Dot(n, d, g);
			fresh = true;
		}
		/* first step of a fresh start: at most 1 in log-parameter units */
		tinit = fresh ? fmin(1.0, 1.0 / fmax(1e-300, MaxAbs(n, d))) : 1.0;
		if (!LineSearch(c, x, d, *f, dg, tinit, xn, &fnew, gn))
		{
			if (fresh || ++fails > 2)
			{
				*status = -1;
				return it;
			}
			/* restart with the identity */
			for (i = 0; i < n * n; i++)
				hinv[i] = 0;
			for (i = 0; i < n; i++)
				hinv[i * n + i] = 1;
			fresh = true;
			continue;
		}
		for (i = 0; i < n; i++)
		{
			s[i] = xn[i] - x[i];
			y[i] = gn[i] - g[i];
		}
		sy = Dot(n, s, y);
		if (*f - fnew <= c->opt->ftol * fmax(1.0, fabs(*f)) && MaxAbs(n, gn) > c->opt->gtol)
		{
			memcpy(x, xn, n * sizeof(double));
			memcpy(g, gn, n * sizeof(double));
			*f = fnew;
			*status = -2;
			return it + 1;
		}
		memcpy(x, xn, n * sizeof(double));
		memcpy(g, gn, n * sizeof(double));
		*f = fnew;
		if (sy > 1e-12 * sqrt(Dot(n, s, s) * Dot(n, y, y)))
		{
			double		rho = 1.0 / sy;

			if (fresh)
			{
				/* scale the identity (Nocedal & Wright 6.20) */
				double		sc = sy / Dot(n, y, y);

				for (i = 0; i < n * n; i++)
					hinv[i] *= sc;
			}
			for (i = 0; i < n; i++)
			{
				hy[i] = 0;
				for (j = 0; j < n; j++)
					hy[i] += hinv[i * n + j] * y[j];
			}
			yhy = Dot(n, y, hy);
			for (i = 0; i < n; i++)
				for (j = 0; j < n; j++)
					hinv[i * n + j] += (1.0 + rho * yhy) * rho * s[i] * s[j]
						- rho * (hy[i] * s[j] + s[i] * hy[j]);
			fresh = false;
		}
	}
	*status = MaxAbs(n, g) <= c->opt->gtol ? 1 : 0;
	return it;
}

/*
 * BFGS from x, with Nelder-Mead passes and BFGS restarts when the line
 * search fails; see optim.h for the contract.
 */
ClmOptimResult
clm_optim_minimize(ClmObjectiveFn fn, void *arg, int n, double *x,
				   const ClmOptimOptions *opt)
{
	OptimCtx	c = {fn, arg, n, opt, 0, INFINITY};
	ClmOptimResult res;
	double		g[CLM_OPTIM_MAX_DIM],
				f;
	int			status = 0,
				used = 0,
				round;

	Assert(n > 0 && n <= CLM_OPTIM_MAX_DIM);
	memset(&res, 0, sizeof(res));
	f = EvalFG(&c, x, g);
	if (!isfinite(f))
	{
		/* try to find a finite region from the start with the simplex */
		int			nmit = 0;

		f = NelderMead(&c, x, 200, &nmit);
		used += nmit;
		if (!isfinite(f) || !isfinite(f = EvalFG(&c, x, g)))
		{
			res.f = f;
			res.grad_max = NAN;
			res.iterations = used;
			res.evaluations = c.evals;
			res.converged = false;
			res.message = "objective not finite at the start";
			return res;
		}
	}

	/* BFGS; on failure a Nelder-Mead pass and BFGS again (twice at most) */
	for (round = 0; round < 3; round++)
	{
		int			nmit = 0;

		used += Bfgs(&c, x, &f, g, opt->max_iter - used, &status);
		if (status == 1 || used >= opt->max_iter)
			break;
		f = NelderMead(&c, x, Min(500, opt->max_iter - used), &nmit);
		used += nmit;
		f = EvalFG(&c, x, g);
	}

	res.f = f;
	res.grad_max = MaxAbs(n, g);
	res.iterations = used;
	res.evaluations = c.evals;
	res.converged = (status == 1) && isfinite(f);
	if (res.converged)
		res.message = "converged";
	else if (used >= opt->max_iter)
		res.message = "iteration limit reached";
	else if (status == -2)
		res.message = "no further decrease of the objective (flat or ill-conditioned likelihood)";
	else
		res.message = "line search failed (flat or ill-conditioned likelihood)";
	return res;
}

/*
 * Numerical Hessian: central differences of the gradient, or the
 * four-point formula on function values when the gradient is numerical.
 */
bool
clm_optim_hessian(ClmObjectiveFn fn, void *arg, int n, const double *x,
				  const ClmOptimOptions *opt, double *hess)
{
	OptimCtx	c = {fn, arg, n, opt, 0, INFINITY};
	double		xx[CLM_OPTIM_MAX_DIM];
	int			i,
				j;

	memcpy(xx, x, n * sizeof(double));
	if (opt->analytic_grad)
	{
		double		gp[CLM_OPTIM_MAX_DIM],
					gm[CLM_OPTIM_MAX_DIM];

		for (j = 0; j < n; j++)
		{
			double		h = 1e-5 * fmax(1.0, fabs(x[j]));

			xx[j] = x[j] + h;
			if (!isfinite(EvalFG(&c, xx, gp)))
				return false;
			xx[j] = x[j] - h;
			if (!isfinite(EvalFG(&c, xx, gm)))
				return false;
			xx[j] = x[j];
			for (i = 0; i < n; i++)
				hess[i * n + j] = (gp[i] - gm[i]) / (2 * h);
		}
	}
	else
	{
		double		f0 = EvalF(&c, x);

		if (!isfinite(f0))
			return false;
		for (i = 0; i < n; i++)
		{
			double		hi = 1e-4 * fmax(1.0, fabs(x[i]));

			for (j = i; j < n; j++)
			{
				double		hj = 1e-4 * fmax(1.0, fabs(x[j]));
				double		fpp,
							fpm,
							fmp,
							fmm;

				if (i == j)
				{
					xx[i] = x[i] + hi;
					fpp = EvalF(&c, xx);
					xx[i] = x[i] - hi;
					fmm = EvalF(&c, xx);
					xx[i] = x[i];
					if (!isfinite(fpp) || !isfinite(fmm))
						return false;
					hess[i * n + i] = (fpp - 2 * f0 + fmm) / (hi * hi);
					continue;
				}
				xx[i] = x[i] + hi;
				xx[j] = x[j] + hj;
				fpp = EvalF(&c, xx);
				xx[j] = x[j] - hj;
				fpm = EvalF(&c, xx);
				xx[i] = x[i] - hi;
				fmm = EvalF(&c, xx);
				xx[j] = x[j] + hj;
				fmp = EvalF(&c, xx);
				xx[i] = x[i];
				xx[j] = x[j];
				if (!isfinite(fpp) || !isfinite(fpm) || !isfinite(fmp) || !isfinite(fmm))
					return false;
				hess[i * n + j] = (fpp - fpm - fmp + fmm) / (4 * hi * hj);
			}
		}
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
		{
			double		m = opt->analytic_grad ?
				0.5 * (hess[i * n + j] + hess[j * n + i]) : hess[i * n + j];

			hess[i * n + j] = hess[j * n + i] = m;
		}
	return true;
}

/*
 * Cholesky factor L (lower triangle, row-major n x n, upper part zero) of
 * a + tau I; false if that is not positive definite.
 */
static bool
Cholesky(int n, const double *a, double tau, double *l)
{
	int			i,
				j,
				k;

	for (i = 0; i < n * n; i++)
		l[i] = 0;
	for (j = 0; j < n; j++)
	{
		double		s = a[j * n + j] + tau;

		for (k = 0; k < j; k++)
			s -= l[j * n + k] * l[j * n + k];
		if (!(s > 0) || !isfinite(s))
			return false;
		l[j * n + j] = sqrt(s);
		for (i = j + 1; i < n; i++)
		{
			double		t = a[i * n + j];

			for (k = 0; k < j; k++)
				t -= l[i * n + k] * l[j * n + k];
			l[i * n + j] = t / l[j * n + j];
		}
	}
	return true;
}

/*
 * Inverse of a symmetric positive-definite matrix via Cholesky (L^-T L^-1).
 */
bool
clm_optim_spd_inverse(int n, const double *a, double *inv)
{
	double		l[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	double		li[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	int			i,
				j,
				k;

	/* Cholesky a = L L' */
	if (!Cholesky(n, a, 0.0, l))
		return false;
	for (i = 0; i < n * n; i++)
		li[i] = 0;
	/* L^-1 by forward substitution */
	for (j = 0; j < n; j++)
	{
		li[j * n + j] = 1.0 / l[j * n + j];
		for (i = j + 1; i < n; i++)
		{
			double		s = 0;

			for (k = j; k < i; k++)
				s -= l[i * n + k] * li[k * n + j];
			li[i * n + j] = s / l[i * n + i];
		}
	}
	/* a^-1 = L^-T L^-1 */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			double		s = 0;

			for (k = Max(i, j); k < n; k++)
				s += li[k * n + i] * li[k * n + j];
			inv[i * n + j] = s;
		}
	return true;
}

/*
 * Delta-method standard errors of exp(x) from a Hessian of -loglik/scale.
 */
bool
clm_optim_stderr_from_hessian(int n, const double *x, const double *hess,
							  double scale, double *se)
{
	double		h[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	double		inv[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	int			i;

	for (i = 0; i < n; i++)
		se[i] = NAN;
	for (i = 0; i < n * n; i++)
		h[i] = hess[i] * scale;
	if (!clm_optim_spd_inverse(n, h, inv))
		return false;
	for (i = 0; i < n; i++)
	{
		if (!(inv[i * n + i] > 0))
			return false;
	}
	for (i = 0; i < n; i++)
		se[i] = exp(x[i]) * sqrt(inv[i * n + i]);
	return true;
}

/*
 * Delta-method standard errors of exp(x) from the observed information
 * (numerical Hessian).
 */
bool
clm_optim_stderr_log(ClmObjectiveFn fn, void *arg, int n, const double *x,
					 const ClmOptimOptions *opt, double scale, double *se)
{
	double		h[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	int			i;

	for (i = 0; i < n; i++)
		se[i] = NAN;
	if (!clm_optim_hessian(fn, arg, n, x, opt, h))
		return false;
	return clm_optim_stderr_from_hessian(n, x, h, scale, se);
}

/*
 * Evaluate f, gradient and Hessian; not finite anywhere -> +INFINITY.
 */
static double
EvalFGH(ClmObjectiveHessFn fn, void *arg, int n, const double *x,
		double *g, double *h, int *evals)
{
	double		f = fn(x, g, h, arg);
	int			i;

	(*evals)++;
	if (!isfinite(f))
		return INFINITY;
	for (i = 0; i < n; i++)
		if (!isfinite(g[i]))
			return INFINITY;
	for (i = 0; i < n * n; i++)
		if (!isfinite(h[i]))
			return INFINITY;
	return f;
}

/*
 * Cholesky solve of (a + tau I) d = -g; false if not positive definite.
 */
static bool
ShiftedSolve(int n, const double *a, double tau, const double *g, double *d)
{
	double		l[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM];
	double		y[CLM_OPTIM_MAX_DIM];
	int			i,
				k;

	if (!Cholesky(n, a, tau, l))
		return false;
	for (i = 0; i < n; i++)
	{
		double		s = -g[i];

		for (k = 0; k < i; k++)
			s -= l[i * n + k] * y[k];
		y[i] = s / l[i * n + i];
	}
	for (i = n - 1; i >= 0; i--)
	{
		double		s = y[i];

		for (k = i + 1; k < n; k++)
			s -= l[k * n + i] * d[k];
		d[i] = s / l[i * n + i];
	}
	return true;
}

/*
 * Safeguarded Newton's method; see optim.h.
 */
ClmOptimResult
clm_optim_newton(ClmObjectiveHessFn fn, void *arg, int n, double *x,
				 const ClmOptimOptions *opt)
{
	ClmOptimResult res;
	double		g[CLM_OPTIM_MAX_DIM],
				h[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM],
				xn[CLM_OPTIM_MAX_DIM],
				gn[CLM_OPTIM_MAX_DIM],
				hn[CLM_OPTIM_MAX_DIM * CLM_OPTIM_MAX_DIM],
				d[CLM_OPTIM_MAX_DIM],
				f;
	int			evals = 0,
				it,
				i;

	Assert(n > 0 && n <= CLM_OPTIM_MAX_DIM);
	memset(&res, 0, sizeof(res));
	res.message = "line search failed (flat or ill-conditioned likelihood)";
	f = EvalFGH(fn, arg, n, x, g, h, &evals);
	if (!isfinite(f))
	{
		res.f = f;
		res.grad_max = NAN;
		res.evaluations = evals;
		res.message = "objective not finite at the start";
		return res;
	}
	for (it = 0; it < opt->max_iter; it++)
	{
		double		hmax = 0,
					tau = 0,
					dmax,
					dg,
					t;
		bool		accepted = false;
		double		fnew = INFINITY;
		int			k;

		CHECK_FOR_INTERRUPTS();
		if (MaxAbs(n, g) <= opt->gtol)
		{
			res.converged = true;
			res.message = "converged";
			break;
		}
		/* Newton direction, shifted until the matrix is positive definite */
		for (i = 0; i < n; i++)
			hmax = fmax(hmax, fabs(h[i * n + i]));
		for (k = 0; k < 40 && !ShiftedSolve(n, h, tau, g, d); k++)
			tau = (tau == 0) ? 1e-8 * fmax(1.0, hmax) : tau * 10;
		if (k == 40)
			break;
		dg = Dot(n, d, g);
		if (!(dg < 0))
			break;
		/* at most 2 in log-parameter units per coordinate */
		dmax = MaxAbs(n, d);
		if (dmax > 2.0)
		{
			for (i = 0; i < n; i++)
				d[i] *= 2.0 / dmax;
			dg *= 2.0 / dmax;
		}
		for (t = 1.0, k = 0; k < 50; k++, t *= 0.5)
		{
			for (i = 0; i < n; i++)
				xn[i] = x[i] + t * d[i];
			fnew = EvalFGH(fn, arg, n, xn, gn, hn, &evals);
			/*
			 * Armijo, or (close to the optimum the decrease is below the
			 * rounding noise of f, a long sum) a full step that halves the
			 * gradient without increasing f beyond that noise
			 */
			if (isfinite(fnew) &&
				(fnew <= f + C1 * t * dg ||
				 (k == 0 && fnew <= f + 1e-10 * fmax(1.0, fabs(f)) &&
				  MaxAbs(n, gn) <= 0.5 * MaxAbs(n, g))))
			{
				accepted = true;
				break;
			}
		}
		if (!accepted || memcmp(x, xn, n * sizeof(double)) == 0)
			break;				/* no progress possible */
		f = fnew;
		memcpy(x, xn, n * sizeof(double));
		memcpy(g, gn, n * sizeof(double));
		memcpy(h, hn, n * n * sizeof(double));
	}
	if (!res.converged && it >= opt->max_iter)
		res.message = "iteration limit reached";
	res.f = f;
	res.grad_max = MaxAbs(n, g);
	res.iterations = it;
	res.evaluations = evals;
	return res;
}
