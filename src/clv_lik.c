/*-------------------------------------------------------------------------
 *
 * clv_lik.c
 *	  What the CLV models' likelihoods share: the distinct values of tx
 *	  and T (computed once per value, not per pattern), and the objective
 *	  the fits minimise, the mean negative log-likelihood plus lifetimes'
 *	  L2 penalty, with its gradient in the log-parameters.
 *
 * IDENTIFICATION
 *	  src/clv_lik.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clv_math.h"

/*
 * Index of value v in the distinct values of clv_build_values, adding it
 * when new: open addressing on the value's bits (tab has cap slots, a
 * power of two, -1 when free).
 */
static int32
ValueSlot(FitData *d, int32 *tab, uint32 cap, double v)
{
	uint64		bits;
	uint32		h;

	memcpy(&bits, &v, sizeof(bits));
	h = (uint32) ((bits * UINT64CONST(0x9E3779B97F4A7C15)) >> 32);
	for (;; h++)
	{
		int32	   *slot = &tab[h & (cap - 1)];

		if (*slot < 0)
		{
			d->uv[d->nuv] = v;
			*slot = d->nuv++;
			return *slot;
		}
		if (d->uv[*slot] == v)
			return *slot;
	}
}

/*
 * Index the distinct values of tx and T over all patterns (BG/NBD and
 * modified BG/NBD; see FitData).
 */
void
clv_build_values(FitData *d)
{
	uint32		cap = 16;
	int32	   *tab;
	int32		i;

	while (cap < 4 * (uint32) d->npat)
		cap *= 2;
	tab = palloc(cap * sizeof(int32));
	memset(tab, 0xff, cap * sizeof(int32));
	d->uv = palloc(2 * d->npat * sizeof(double));
	d->nuv = 0;
	d->pat_vtx = palloc(d->npat * sizeof(int32));
	d->pat_vT = palloc(d->npat * sizeof(int32));
	for (i = 0; i < d->npat; i++)
	{
		d->pat_vtx[i] = ValueSlot(d, tab, cap, d->pat[i].tx);
		d->pat_vT[i] = ValueSlot(d, tab, cap, d->pat[i].T);
	}
	d->uv_log = palloc(d->nuv * sizeof(double));
	d->uv_inv = palloc(d->nuv * sizeof(double));
	pfree(tab);
}

/*
 * log(alpha + u) and 1 / (alpha + u) for every distinct value u.
 */
void
clv_value_logs(const FitData *d, double al)
{
	int32		j;

	for (j = 0; j < d->nuv; j++)
	{
		d->uv_log[j] = log(al + d->uv[j]);
		d->uv_inv[j] = 1.0 / (al + d->uv[j]);
	}
}

/*
 * L2 penalty of lifetimes (penalizer * sum theta^2) and its gradient in
 * log-parameters; added to the mean negative log-likelihood.
 */
static double
Penalty(const FitData *d, int n, const double *lp, double *grad)
{
	double		s = 0;
	int			i;

	if (d->penalizer == 0)
		return 0;
	for (i = 0; i < n; i++)
	{
		double		th = exp(lp[i]);

		s += th * th;
		if (grad)
			grad[i] += d->penalizer * 2 * th * th;
	}
	return d->penalizer * s;
}

/*
 * The objective of the fits from a log-likelihood ll and its gradient g in
 * the natural parameters theta = exp(lp): the mean negative log-likelihood
 * plus the penalty, with the gradient in the log-parameters (chain rule
 * d/dlp = theta d/dtheta) stored in grad when it is not NULL.
 */
double
clv_mean_nll(const FitData *d, int n, const double *lp, double ll, const double *g, double *grad)
{
	int			i;

	if (grad)
		for (i = 0; i < n; i++)
			grad[i] = -g[i] * exp(lp[i]) / d->wsum;
	return -ll / d->wsum + Penalty(d, n, lp, grad);
}
