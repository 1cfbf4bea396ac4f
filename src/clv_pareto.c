/*-------------------------------------------------------------------------
 *
 * clv_pareto.c
 *	  The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; Fader &
 *	  Hardie 2005 note): log-likelihood with its analytic gradient (the
 *	  2F1 terms computed once per distinct (x, tx) and (x, T) pair, their
 *	  parameter derivatives summed in the same series pass), and the
 *	  scoring formulas (Fader & Hardie 2005; 2006 note on P(X(t) = x)).
 *	  Listed in the table of models (clv_models.c).
 *
 * IDENTIFICATION
 *	  src/clv_pareto.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "clv_math.h"
#include "special.h"

typedef struct PairRef
{
	double		x;
	double		v;
	int32		pat;
} PairRef;

/*
 * Order pair references by (x, value, pattern).
 */
static int
PairCmp(const void *a, const void *b)
{
	const PairRef *p = a,
			   *q = b;

	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	if (p->v != q->v)
		return p->v < q->v ? -1 : 1;
	return p->pat < q->pat ? -1 : (p->pat > q->pat);
}

/*
 * Index the distinct (x, tx) and (x, T) pairs of the sorted patterns.
 */
static void
BuildPairs(FitData *d)
{
	PairRef    *refs = palloc(d->npat * sizeof(PairRef));
	int32		i,
				n;

	d->pat_tx = palloc(d->npat * sizeof(int32));
	d->pat_T = palloc(d->npat * sizeof(int32));
	d->utx_x = palloc(d->npat * sizeof(double));
	d->utx_v = palloc(d->npat * sizeof(double));
	d->uT_x = palloc(d->npat * sizeof(double));
	d->uT_v = palloc(d->npat * sizeof(double));
	/* (x, tx): patterns are sorted by (x, tx, T), so equal pairs are adjacent */
	n = 0;
	for (i = 0; i < d->npat; i++)
	{
		if (i == 0 || d->pat[i].x != d->pat[i - 1].x || d->pat[i].tx != d->pat[i - 1].tx)
		{
			d->utx_x[n] = d->pat[i].x;
			d->utx_v[n] = d->pat[i].tx;
			n++;
		}
		d->pat_tx[i] = n - 1;
	}
	d->ntx = n;
	for (i = 0; i < d->npat; i++)
	{
		refs[i].x = d->pat[i].x;
		refs[i].v = d->pat[i].T;
		refs[i].pat = i;
	}
	qsort(refs, d->npat, sizeof(PairRef), PairCmp);
	n = 0;
	for (i = 0; i < d->npat; i++)
	{
		if (i == 0 || refs[i].x != refs[i - 1].x || refs[i].v != refs[i - 1].v)
		{
			d->uT_x[n] = refs[i].x;
			d->uT_v[n] = refs[i].v;
			n++;
		}
		d->pat_T[refs[i].pat] = n - 1;
	}
	d->nT = n;
	d->l1 = palloc(d->ntx * sizeof(double));
	d->l2 = palloc(d->nT * sizeof(double));
	d->lT = palloc(d->nT * sizeof(double));
	d->dl1 = palloc(4 * d->ntx * sizeof(double));
	d->dl2 = palloc(4 * d->nT * sizeof(double));
	d->dlT = palloc(4 * d->nT * sizeof(double));
	d->goff = palloc(d->ngroups * sizeof(double));
	/* both pair lists are sorted by x, as the groups are */
	d->utx_g = palloc(d->ntx * sizeof(int32));
	d->uT_g = palloc(d->nT * sizeof(int32));
	for (i = 0, n = 0; i < d->ntx; i++)
	{
		while (d->pat[d->gstart[n]].x != d->utx_x[i])
			n++;
		d->utx_g[i] = n;
	}
	for (i = 0, n = 0; i < d->nT; i++)
	{
		while (d->pat[d->gstart[n]].x != d->uT_x[i])
			n++;
		d->uT_g[i] = n;
	}
	/* each group's pairs are a contiguous range of the pair lists */
	d->gtx = palloc0((d->ngroups + 1) * sizeof(int32));
	d->gT = palloc0((d->ngroups + 1) * sizeof(int32));
	for (i = 0; i < d->ntx; i++)
		d->gtx[d->utx_g[i] + 1]++;
	for (i = 0; i < d->nT; i++)
		d->gT[d->uT_g[i] + 1]++;
	for (i = 0; i < d->ngroups; i++)
	{
		d->gtx[i + 1] += d->gtx[i];
		d->gT[i + 1] += d->gT[i];
	}
	pfree(refs);
}

/*
 * The Pareto/NBD likelihood data: the distinct (x, tx) and (x, T) pairs
 * (BuildPairs) and the distinct values of tx and T, with the scratch
 * arrays of their logarithms gathered per pair.
 */
void
clv_pareto_prepare(FitData *fd)
{
	int32		i;

	BuildPairs(fd);
	clv_build_values(fd);
	fd->uv_log2 = palloc(fd->nuv * sizeof(double));
	fd->ptx_v = palloc(fd->ntx * sizeof(int32));
	fd->pT_v = palloc(fd->nT * sizeof(int32));
	for (i = 0; i < fd->npat; i++)
	{
		fd->ptx_v[fd->pat_tx[i]] = fd->pat_vtx[i];
		fd->pT_v[fd->pat_T[i]] = fd->pat_vT[i];
	}
	fd->ptx_lmx = palloc(fd->ntx * sizeof(double));
	fd->ptx_lmn = palloc(fd->ntx * sizeof(double));
	fd->pT_lmx = palloc(fd->nT * sizeof(double));
	fd->pT_lmn = palloc(fd->nT * sizeof(double));
}

/*
 * One half of log A0 of the Pareto/NBD likelihood (Fader & Hardie 2005
 * note, eq. 19-20), at u = tx or u = T:
 *   log 2F1(r+s+x, t; r+s+x+1; |alpha-beta| / (max(alpha,beta) + u))
 *     - (r+s+x) log(max(alpha,beta) + u)
 * with t = s+1 when alpha >= beta and t = r+x otherwise, which keeps the
 * 2F1 argument in [0, 1).
 */
static double
ParetoHalf(double r, double al, double s, double be, double x, double u)
{
	double		rsx = r + s + x,
				mx = fmax(al, be),
				mn = fmin(al, be),
				t = al < be ? r + x : s + 1;

	return clm_log_hyp2f1(rsx, t, rsx + 1, (mx - mn) / (mx + u), NULL) - rsx * log(mx + u);
}

/*
 * ParetoHalf for the values u[0..n-1] of one frequency x, with the 2F1 of
 * all of them in one series pass (clm_log_hyp2f1_multi); lmx[i] and lmn[i]
 * are log(max(alpha, beta) + u[i]) and log(min(alpha, beta) + u[i]) when
 * the caller has them (else NULL: computed here); out[i] gets
 * log(s/(r+s+x)) + half(u[i]).  When dout is not NULL it also gets the
 * derivatives of out[i] with respect to (r, alpha, s, beta) in
 * dout[4i .. 4i+3], from the 2F1's derivatives in its parameters a =
 * r+s+x, b = t, c = a+1 and its argument z (clm_log_hyp2f1_multi_grad):
 *   d/dr = dF/da + dF/dc + [alpha < beta] dF/db - log(mx+u) - 1/(r+s+x)
 *   d/ds = dF/da + dF/dc + [alpha >= beta] dF/db - log(mx+u) + 1/s - 1/(r+s+x)
 * and for the larger rate parameter mx (z = (mx-mn)/(mx+u))
 *   d/dmx = dF/dz (mn+u)/(mx+u)^2 - (r+s+x)/(mx+u),
 *   d/dmn = -dF/dz / (mx+u).
 */
static void
ParetoHalves(double r, double al, double s, double be, double x,
			 const double *u, const double *lmx, const double *lmn, int n,
			 double *out, double *dout)
{
	double		rsx = r + s + x,
				mx = Max(al, be),
				mn = Min(al, be),
				t = al < be ? r + x : s + 1,
				lsr = log(s) - log(rsx),
				z[64],
				l1mz[64],
				l[64],
				dl[4 * 64];
	bool		alpha_max = !(al < be);
	int			i,
				j;

	for (i = 0; i < n; i += 64)
	{
		int			m = Min(64, n - i);

		for (j = 0; j < m; j++)
		{
			z[j] = (mx - mn) / (mx + u[i + j]);
			if (lmx)
				l1mz[j] = lmn[i + j] - lmx[i + j];
		}
		if (dout == NULL)
			clm_log_hyp2f1_multi(rsx, t, rsx + 1, z, m, l, NULL);
		else
			clm_log_hyp2f1_multi_grad(rsx, t, rsx + 1, z, lmx ? l1mz : NULL, m, l, dl);
		for (j = 0; j < m; j++)
		{
			double		lmu = lmx ? lmx[i + j] : log(mx + u[i + j]);

			out[i + j] = lsr + l[j] - rsx * lmu;
			if (dout)
			{
				const double *df = &dl[4 * j];
				double	   *d = &dout[4 * (i + j)];
				double		dac = df[0] + df[2] - lmu - 1.0 / rsx,
							dmx = df[3] * (mn + u[i + j]) / ((mx + u[i + j]) * (mx + u[i + j])) -
					rsx / (mx + u[i + j]),
							dmn = -df[3] / (mx + u[i + j]);

				d[0] = dac + (alpha_max ? 0 : df[1]);
				d[2] = dac + 1.0 / s + (alpha_max ? df[1] : 0);
				d[1] = alpha_max ? dmx : dmn;
				d[3] = alpha_max ? dmn : dmx;
			}
		}
	}
}

/*
 * log A0 = log(half(tx) - half(T)); -INFINITY when tx = T.
 */
static inline double
ParetoLogA0(double l1, double l2, bool same)
{
	if (same || l2 >= l1)
		return -INFINITY;		/* (rounding) the difference vanishes */
	return clm_logdiffexp(l1, l2);
}

/*
 * log A0 of one pattern (also used by scoring).
 */
static double
ParetoLogA0Pattern(double r, double al, double s, double be,
				  double x, double tx, double T)
{
	return ParetoLogA0(ParetoHalf(r, al, s, be, x, tx),
					   ParetoHalf(r, al, s, be, x, T), tx == T);
}

/*
 * Pareto/NBD, with its analytic gradient:
 *   LL = lgamma(r+x) - lgamma(r) + r log(alpha) + s log(beta)
 *        + log[ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ]
 * The derivative of the bracket is the weighted sum of its terms'
 * log-derivatives: those of lT = -(r+x) log(alpha+T) - s log(beta+T) and
 * of the two halves of log(s/(r+s+x) A0) (ParetoHalves, through the 2F1's
 * parameter derivatives).
 */
double
clv_pareto_nll(const double *lp, double *grad, void *arg)
{
	const FitData *d = arg;
	double		r = exp(lp[0]),
				al = exp(lp[1]),
				s = exp(lp[2]),
				be = exp(lp[3]);
	double		ll = 0,
				ls = log(s),
				lal = log(al),
				lbe = log(be),
				psi_r = grad ? clm_digamma(r) : 0,
				g[4] = {0, 0, 0, 0};
	int32		gi,
				i,
				j;

	/*
	 * Per pair, in log space: l1 = log(s/(r+s+x)) + half(tx); l2 = the same
	 * at T; lT = log((alpha+T)^-(r+x) (beta+T)^-s).  A pattern's likelihood
	 * term is log(e^lT + e^l1 - e^l2).  To need one logarithm per pattern,
	 * the pair values are exponentiated relative to a per-frequency offset
	 * (the group's largest value); a pattern whose sum underflows falls
	 * back to the log-space formula.  With the gradient, dl1, dl2 and dlT
	 * hold the pair values' derivatives in (r, alpha, s, beta).
	 */
	for (j = 0; j < d->nuv; j++)
	{
		d->uv_log[j] = log(Max(al, be) + d->uv[j]);
		d->uv_log2[j] = log(Min(al, be) + d->uv[j]);
	}
	for (i = 0; i < d->ntx; i++)
	{
		d->ptx_lmx[i] = d->uv_log[d->ptx_v[i]];
		d->ptx_lmn[i] = d->uv_log2[d->ptx_v[i]];
	}
	for (i = 0; i < d->nT; i++)
	{
		d->pT_lmx[i] = d->uv_log[d->pT_v[i]];
		d->pT_lmn[i] = d->uv_log2[d->pT_v[i]];
	}
	for (gi = 0; gi < d->ngroups; gi++)
		d->goff[gi] = -INFINITY;
	for (gi = 0; gi < d->ngroups; gi++)
	{
		double		x = d->pat[d->gstart[gi]].x;

		ParetoHalves(r, al, s, be, x, &d->utx_v[d->gtx[gi]], &d->ptx_lmx[d->gtx[gi]],
					 &d->ptx_lmn[d->gtx[gi]], d->gtx[gi + 1] - d->gtx[gi],
					 &d->l1[d->gtx[gi]], grad ? &d->dl1[4 * d->gtx[gi]] : NULL);
		ParetoHalves(r, al, s, be, x, &d->uT_v[d->gT[gi]], &d->pT_lmx[d->gT[gi]],
					 &d->pT_lmn[d->gT[gi]], d->gT[gi + 1] - d->gT[gi],
					 &d->l2[d->gT[gi]], grad ? &d->dl2[4 * d->gT[gi]] : NULL);
	}
	for (i = 0; i < d->ntx; i++)
	{
		if (isnan(d->l1[i]))
			return INFINITY;
		d->goff[d->utx_g[i]] = Max(d->goff[d->utx_g[i]], d->l1[i]);
	}
	for (i = 0; i < d->nT; i++)
	{
		double		x = d->uT_x[i],
					T = d->uT_v[i],
					laT = al < be ? d->pT_lmn[i] : d->pT_lmx[i],
					lbT = al < be ? d->pT_lmx[i] : d->pT_lmn[i];

		if (isnan(d->l2[i]))
			return INFINITY;
		d->lT[i] = -(r + x) * laT - s * lbT;
		d->goff[d->uT_g[i]] = Max(d->goff[d->uT_g[i]], d->lT[i]);
		if (grad)
		{
			d->dlT[4 * i] = -laT;
			d->dlT[4 * i + 1] = -(r + x) / (al + T);
			d->dlT[4 * i + 2] = -lbT;
			d->dlT[4 * i + 3] = -s / (be + T);
		}
	}
	for (i = 0; i < d->ntx; i++)
		d->l1[i] = exp(d->l1[i] - d->goff[d->utx_g[i]]);
	for (i = 0; i < d->nT; i++)
	{
		double		off = d->goff[d->uT_g[i]];

		d->l2[i] = exp(d->l2[i] - off);
		d->lT[i] = exp(d->lT[i] - off);
	}
	for (gi = 0; gi < d->ngroups; gi++)
	{
		double		x = d->pat[d->gstart[gi]].x;
		double		c = lgamma(r + x) - lgamma(r) + r * lal + s * lbe + d->goff[gi];
		double		dc[4] = {0, 0, 0, 0};

		if (grad)
		{
			dc[0] = clm_digamma(r + x) - psi_r + lal;
			dc[1] = r / al;
			dc[2] = lbe;
			dc[3] = s / be;
		}
		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const ClvPattern *p = &d->pat[i];
			int32		iT = d->pat_T[i],
						itx = d->pat_tx[i];
			double		eT = d->lT[iT],
						a0 = p->tx == p->T ? 0 : d->l1[itx] - d->l2[iT],
						v = eT + Max(a0, 0.0);

			if (v > 1e-280)
			{
				ll += p->w * (c + log(v));
				if (grad)
				{
					const double *dT = &d->dlT[4 * iT],
							   *d1 = &d->dl1[4 * itx],
							   *d2 = &d->dl2[4 * iT];
					double		wT = eT / v,
								w1 = a0 > 0 ? d->l1[itx] / v : 0,
								w2 = a0 > 0 ? d->l2[iT] / v : 0;

					for (j = 0; j < 4; j++)
						g[j] += p->w * (dc[j] + wT * dT[j] + w1 * d1[j] - w2 * d2[j]);
				}
			}
			else
			{
				/* underflow relative to the group's offset: exact log-space form */
				double		lTv = -(r + x) * log(al + p->T) - s * log(be + p->T),
							L;

				if (!grad)
				{
					double		la0 = ParetoLogA0Pattern(r, al, s, be, x, p->tx, p->T);

					L = clm_logsumexp2(lTv, ls - log(r + s + x) + la0);
				}
				else
				{
					double		u[2] = {p->tx, p->T},
								h[2],
								dh[8],
								la0;
					const double *dT = &d->dlT[4 * iT];

					ParetoHalves(r, al, s, be, x, u, NULL, NULL, 2, h, dh);
					la0 = ParetoLogA0(h[0], h[1], p->tx == p->T);
					L = clm_logsumexp2(lTv, la0);
					for (j = 0; j < 4; j++)
					{
						double		dj = exp(lTv - L) * dT[j];

						if (la0 > -INFINITY)
							dj += exp(h[0] - L) * dh[j] - exp(h[1] - L) * dh[4 + j];
						g[j] += p->w * (dc[j] + dj);
					}
				}
				ll += p->w * (c - d->goff[gi] + L);
			}
		}
	}
	return clv_mean_nll(d, 4, lp, ll, g, grad);
}

/* ---- scoring ---- */

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
 * Pareto/NBD P(alive) at the end of the observation.
 */
double
clv_pareto_p_alive(const double *p, double x, double tx, double T)
{
	double		r = p[0],
				al = p[1],
				s = p[2],
				be = p[3];
	double		la0 = ParetoLogA0Pattern(r, al, s, be, x, tx, T);

	return 1.0 / (1.0 + exp(log(s) - log(r + s + x) + (r + x) * log(al + T) +
							s * log(be + T) + la0));
}

/*
 * Pareto/NBD expected purchases in (T, T + t] given the history (x, tx, T).
 */
double
clv_pareto_cond_expected(const double *p, double t, double x, double tx, double T)
{
	double		r = p[0],
				al = p[1],
				s = p[2],
				be = p[3];

	if (t == 0)
		return 0;
	return clv_pareto_p_alive(p, x, tx, T) * (r + x) * (be + T) / (al + T) *
		OneMinusPowOver((be + T) / (be + T + t), s - 1);
}

/*
 * clv_pareto_cond_expected at n horizons t[0..n-1], with P(alive)
 * computed once.
 */
void
clv_pareto_cond_expected_multi(const double *p, const double *t, int n,
							   double x, double tx, double T, double *out)
{
	double		r = p[0],
				al = p[1],
				s = p[2],
				be = p[3];
	double		pa = clv_pareto_p_alive(p, x, tx, T);
	int			k;

	for (k = 0; k < n; k++)
		out[k] = t[k] == 0 ? 0 : pa * (r + x) * (be + T) / (al + T) *
			OneMinusPowOver((be + T) / (be + T + t[k]), s - 1);
}

/*
 * Pareto/NBD expected purchases of a new customer in (0, t].
 */
double
clv_pareto_new_expected(const double *p, double t)
{
	if (t == 0)
		return 0;
	return p[0] / p[1] * p[3] * OneMinusPowOver(p[3] / (p[3] + t), p[2] - 1);
}

/*
 * Pareto/NBD P(X(t) = n) for a new customer.
 */
double
clv_pareto_prob_purchases(const double *p, int n, double t)
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
	int64		j;			/* j <= n: an int would wrap at INT_MAX */

	if (t == 0)
		return n == 0 ? 1.0 : 0.0;
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
