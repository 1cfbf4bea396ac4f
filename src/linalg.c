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
#include <math.h>
#include <string.h>

#include "linalg.h"

int
clm_cholesky(int n, const double *a, double *l, double rel_tol)
{
	memset(l, 0, sizeof(double) * n * n);
	for (int j = 0; j < n; j++)
	{
		double		d = a[j * n + j];

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
	for (int i = 0; i < n; i++)
		eig[i] = w[i * n + i];
}

double
clm_normal_p2(double z)
{
	return erfc(fabs(z) / M_SQRT2);
}
