/*-------------------------------------------------------------------------
 *
 * linalg.c
 *	  Small dense symmetric linear algebra shared by clm's regression fits
 *	  (see linalg.h).
 *
 * IDENTIFICATION
 *	  src/linalg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

#include "miscadmin.h"

#include "linalg.h"

int
clm_cholesky(int n, const double *a, double *l, double rel_tol)
{
	memset(l, 0, sizeof(double) * n * n);
	for (int j = 0; j < n; j++)
	{
		double		d = a[j * n + j];

		CHECK_FOR_INTERRUPTS();	/* O(n^2) per column, up to 1001 columns */

		for (int k = 0; k < j; k++)
			d -= l[j * n + k] * l[j * n + k];
		if (!(d > rel_tol * a[j * n + j]) || !(d > 0) || !isfinite(d))
			return j;
		d = sqrt(d);
		l[j * n + j] = d;
		for (int i = j + 1; i < n; i++)
		{
			double		s = a[i * n + j];

			for (int k = 0; k < j; k++)
				s -= l[i * n + k] * l[j * n + k];
			l[i * n + j] = s / d;
		}
	}
	return -1;
}

void
clm_cholesky_solve(int n, const double *l, double *b)
{
	/* L y = b */
	for (int i = 0; i < n; i++)
	{
		double		s = b[i];

		for (int k = 0; k < i; k++)
			s -= l[i * n + k] * b[k];
		b[i] = s / l[i * n + i];
	}
	/* L' x = y */
	for (int i = n - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (int k = i + 1; k < n; k++)
			s -= l[k * n + i] * b[k];
		b[i] = s / l[i * n + i];
	}
}

void
clm_cholesky_inverse(int n, const double *l, double *inv, double *col)
{
	/* column j of the inverse solves a x = e_j; n is small */
	for (int j = 0; j < n; j++)
	{
		CHECK_FOR_INTERRUPTS();
		memset(col, 0, sizeof(double) * n);
		col[j] = 1.0;
		clm_cholesky_solve(n, l, col);
		for (int i = 0; i < n; i++)
			inv[i * n + j] = col[i];
	}
	/* symmetrise the rounding */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
		{
			double		m = 0.5 * (inv[i * n + j] + inv[j * n + i]);

			inv[i * n + j] = inv[j * n + i] = m;
		}
}

void
clm_sym_eigenvalues(int n, const double *a, double *eig, double *w)
{
	memcpy(w, a, sizeof(double) * n * n);
	for (int sweep = 0; sweep < 100; sweep++)
	{
		double		off = 0,
					diag = 0;

		for (int p = 0; p < n; p++)
		{
			diag += w[p * n + p] * w[p * n + p];
			for (int q = p + 1; q < n; q++)
				off += w[p * n + q] * w[p * n + q];
		}
		if (off <= 1e-32 * diag || off == 0)
			break;
		for (int p = 0; p < n; p++)
		{
			CHECK_FOR_INTERRUPTS();	/* O(n^2) rotations work per p */
			for (int q = p + 1; q < n; q++)
			{
				double		apq = w[p * n + q],
							theta,
							t,
							c,
							s;

				if (apq == 0)
					continue;
				theta = (w[q * n + q] - w[p * n + p]) / (2 * apq);
				t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
				c = 1 / sqrt(t * t + 1);
				s = t * c;
				for (int k = 0; k < n; k++)
				{
					double		akp = w[k * n + p],
								akq = w[k * n + q];

					w[k * n + p] = c * akp - s * akq;
					w[k * n + q] = s * akp + c * akq;
				}
				for (int k = 0; k < n; k++)
				{
					double		apk = w[p * n + k],
								aqk = w[q * n + k];

					w[p * n + k] = c * apk - s * aqk;
					w[q * n + k] = s * apk + c * aqk;
				}
			}
		}
	}
	for (int i = 0; i < n; i++)
		eig[i] = w[i * n + i];
}

ClmNewtonResult
clm_newton_max(ClmNewtonFn fn, void *arg, int n, double *x, const double *f0,
			   double *grad, double *hess, int max_iter, const bool *stop,
			   double *work)
{
	double	   *chol = work,
			   *thess = chol + n * n,
			   *tgrad = thess + n * n,
			   *step = tgrad + n,
			   *trial = step + n;
	double	   *g = grad,
			   *h = hess;
	ClmNewtonResult res = {0};

	res.f = f0 ? *f0 : fn(x, g, h, arg);
	for (;;)
	{
		double		dec = 0,
					tf = -INFINITY,
					t = 1.0;

		if ((stop && *stop) || clm_cholesky(n, h, chol, 0) >= 0)
			break;
		memcpy(step, g, sizeof(double) * n);
		clm_cholesky_solve(n, chol, step);
		for (int j = 0; j < n; j++)
			dec += g[j] * step[j];
		if (dec <= 1e-24 * (fabs(res.f) + 1))
		{
			res.converged = true;
			break;
		}
		if (res.iterations >= max_iter)
			break;
		res.iterations++;
		if (dec <= 1e-12 * (fabs(res.f) + 1))
		{
			for (int j = 0; j < n; j++)
				x[j] += step[j];
			res.f = fn(x, g, h, arg);
			res.converged = true;
			break;
		}
		for (int k = 0; k < 60; k++)
		{
			for (int j = 0; j < n; j++)
				trial[j] = x[j] + t * step[j];
			tf = fn(trial, tgrad, thess, arg);
			if (tf >= res.f)
				break;
			t *= 0.5;
		}
		if (!(tf >= res.f))
		{
			/* no ascent left: the optimum within rounding, or stuck */
			res.converged = dec <= 1e-8 * (fabs(res.f) + 1);
			res.f = fn(x, g, h, arg);
			break;
		}
		/* accept the trial point with its gradient and information */
		{
			double	   *sw;

			memcpy(x, trial, sizeof(double) * n);
			res.f = tf;
			sw = g;
			g = tgrad;
			tgrad = sw;
			sw = h;
			h = thess;
			thess = sw;
		}
	}
	if (g != grad)
	{
		memcpy(grad, g, sizeof(double) * n);
		memcpy(hess, h, sizeof(double) * n * n);
	}
	return res;
}

double
clm_normal_p2(double z)
{
	return erfc(fabs(z) / M_SQRT2);
}
