/*-------------------------------------------------------------------------
 *
 * clv_fit.c
 *	  Maximum-likelihood fits of the CLV models over collapsed customer
 *	  patterns: BG/NBD (Fader, Hardie & Lee 2005), modified BG/NBD
 *	  (Batislam, Denizel & Filiztekin 2007), Pareto/NBD (Schmittlein,
 *	  Morrison & Colombo 1987; Fader & Hardie 2005 note), BG/BB (Fader,
 *	  Hardie & Shang 2010) and Gamma-Gamma spend (Fader, Hardie & Lee
 *	  2005, "RFM and CLV").
 *
 * The log-likelihoods are those of the papers in the data's own time
 * unit (no rescaling), written in log space.  Parameters are optimised on
 * the log scale with clm_optim_minimize (BFGS, Nelder-Mead fallback) on
 * the mean negative log-likelihood plus lifetimes' L2 penalty
 * penalizer * sum(theta^2); loglik reports the unpenalised value.
 * Every likelihood comes with its analytic gradient in the log-parameters
 * (clm.clv_loglik_gradient exposes both, for checks against finite
 * differences).  Gamma-Gamma uses Newton's method on its analytic Hessian
 * instead (clm_optim_newton; GgMinimize), and its standard errors come from
 * that Hessian.  Terms depending only on the frequency are computed once
 * per distinct frequency.
 *
 * IDENTIFICATION
 *	  src/clv_fit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "clm.h"
#include "clv.h"
#include "optim.h"
#include "special.h"

/* a log-parameter beyond this bound counts as running off to 0 or infinity */
#define LOGPARAM_BOUND 23.0

typedef struct FitData
{
	ClvKind		kind;
	int32		npat;
	const ClvPattern *pat;
	int32		ngroups;
	int32	   *gstart;			/* ngroups + 1 boundaries; patterns sorted by x */
	double		wsum;
	double		penalizer;

	/*
	 * Pareto/NBD: the 2F1 terms depend on (x, tx) and on (x, T) separately,
	 * and there are far fewer distinct pairs than patterns; each pattern
	 * points to its pairs and the terms are computed once per pair.
	 */
	int32		ntx;			/* distinct (x, tx) */
	double	   *utx_x;
	double	   *utx_v;
	int32	   *pat_tx;
	double	   *l1;				/* scratch per (x, tx) */
	int32		nT;				/* distinct (x, T) */
	double	   *uT_x;
	double	   *uT_v;
	int32	   *pat_T;
	double	   *l2;				/* scratch per (x, T) */
	double	   *lT;				/* scratch per (x, T) */
	double	   *dl1;			/* gradient scratch: 4 per (x, tx) */
	double	   *dl2;			/* gradient scratch: 4 per (x, T) */
	double	   *dlT;			/* gradient scratch: 4 per (x, T) */
	int32	   *utx_g;			/* frequency group of each (x, tx) */
	int32	   *uT_g;			/* frequency group of each (x, T) */
	double	   *goff;			/* scratch: log offset per group */
	/*
	 * Gamma-Gamma: x * monetary and weight per pattern (gg_w NULL when all
	 * weights are 1); x, W = sum w, A = sum w log m per group
	 */
	double	   *gg_xm;
	double	   *gg_w;
	double	   *gg_x;
	double	   *gg_W;
	double	   *gg_A;
	struct GgCache *gg_cache;	/* sums at the last evaluated point */
	int32	   *gtx;			/* ngroups + 1: (x, tx) pairs of group g */
	int32	   *gT;				/* ngroups + 1: (x, T) pairs of group g */

	/*
	 * BG/NBD and modified BG/NBD: log(alpha + u) and 1/(alpha + u) depend
	 * on a pattern only through u = tx or u = T, which take far fewer
	 * distinct values than there are patterns (days of a calendar); they
	 * are computed once per distinct value (BuildValues, ValueLogs).
	 */
	int32		nuv;			/* distinct tx and T values */
	double	   *uv;
	int32	   *pat_vtx;		/* index of each pattern's tx in uv */
	int32	   *pat_vT;			/* index of each pattern's T in uv */
	double	   *uv_log;			/* scratch: log(alpha + uv[j]) */
	double	   *uv_inv;			/* scratch: 1 / (alpha + uv[j]) */

	/*
	 * Pareto/NBD uses the same distinct values: uv_log holds log(mx + u)
	 * and uv_log2 log(mn + u) for mx = max(alpha, beta), mn = min(alpha,
	 * beta), which give log(alpha + T), log(beta + T) and log(1 - z) of
	 * the 2F1 terms; gathered per pair into the p* scratch arrays.
	 */
	double	   *uv_log2;
	int32	   *ptx_v;			/* value index of each (x, tx) pair */
	int32	   *pT_v;			/* value index of each (x, T) pair */
	double	   *ptx_lmx;
	double	   *ptx_lmn;
	double	   *pT_lmx;
	double	   *pT_lmn;
} FitData;

/* Gamma-Gamma: newton on about this many patterns first (GgMinimize) */
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
 * Index of value v in the distinct values of BuildValues, adding it when
 * new: open addressing on the value's bits (tab has cap slots, a power of
 * two, -1 when free).
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
static void
BuildValues(FitData *d)
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
static void
ValueLogs(const FitData *d, double al)
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
static double
MeanNll(const FitData *d, int n, const double *lp, double ll, const double *g, double *grad)
{
	int			i;

	if (grad)
		for (i = 0; i < n; i++)
			grad[i] = -g[i] * exp(lp[i]) / d->wsum;
	return -ll / d->wsum + Penalty(d, n, lp, grad);
}

/*
 * BG/NBD: mean negative log-likelihood with analytic gradient.
 *   LL = lgamma(r+x) - lgamma(r) + r log(alpha)
 *        + log[ B(a, b+x)/B(a,b) (alpha+T)^-(r+x)
 *               + [x>0] B(a+1, b+x-1)/B(a,b) (alpha+tx)^-(r+x) ]
 */
static double
BgnbdNll(const double *lp, double *grad, void *arg)
{
	const FitData *d = arg;
	double		r = exp(lp[0]),
				al = exp(lp[1]),
				a = exp(lp[2]),
				b = exp(lp[3]);
	double		lbab = clm_lbeta(a, b),
				lal = log(al),
				psi_ab = 0,
				psi_a = 0,
				psi_b = 0,
				psi_a1 = 0,
				psi_r = 0;
	double		ll = 0,
				g[4] = {0, 0, 0, 0};
	ClmLogSum	lsum;
	int32		gi,
				i;

	ValueLogs(d, al);
	clm_logsum_init(&lsum);
	if (grad)
	{
		psi_ab = clm_digamma(a + b);
		psi_a = clm_digamma(a);
		psi_b = clm_digamma(b);
		psi_a1 = clm_digamma(a + 1);
		psi_r = clm_digamma(r);
	}
	for (gi = 0; gi < d->ngroups; gi++)
	{
		double		x = d->pat[d->gstart[gi]].x;
		double		c1 = lgamma(r + x) - lgamma(r) + r * lal;
		double		a2 = clm_lbeta(a, b + x) - lbab;
		double		a3 = x > 0 ? clm_lbeta(a + 1, b + x - 1) - lbab : -INFINITY;
		double		dr0 = 0,
					d2a = 0,
					d3a = 0,
					d2b = 0,
					d3b = 0;

		if (grad)
		{
			double		psi_abx = clm_digamma(a + b + x);

			dr0 = clm_digamma(r + x) - psi_r + lal;
			d2a = psi_ab - psi_abx;
			d2b = clm_digamma(b + x) - psi_abx - psi_b + psi_ab;
			if (x > 0)
			{
				d3a = psi_a1 - psi_abx - psi_a + psi_ab;
				d3b = clm_digamma(b + x - 1) - psi_abx - psi_b + psi_ab;
			}
		}
		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const ClvPattern *p = &d->pat[i];
			int32		jT = d->pat_vT[i];
			double		lT = d->uv_log[jT],
						A2 = a2 - (r + x) * lT,
						L,
						p2 = 1,
						p3 = 0,
						lt = 0,
						it = 0;

			if (x > 0)
			{
				int32		jt = d->pat_vtx[i];

				lt = d->uv_log[jt];
				it = d->uv_inv[jt];
				/*
				 * log(e^A2 + e^A3) = L + log(1 + e) with L = max(A2, A3);
				 * the log(1 + e) terms are summed in lsum
				 */
				clm_logsum_add(&lsum, p->w,
							   1.0 + clm_addexp_split(A2, a3 - (r + x) * lt, &L, &p2, &p3));
			}
			else
				L = A2;
			ll += p->w * (c1 + L);
			if (grad)
			{
				g[0] += p->w * (dr0 - p2 * lT - p3 * lt);
				g[1] += p->w * (r / al - (r + x) * (p2 * d->uv_inv[jT] + p3 * it));
				g[2] += p->w * (p2 * d2a + p3 * d3a);
				g[3] += p->w * (p2 * d2b + p3 * d3b);
			}
		}
	}
	ll += clm_logsum_total(&lsum);
	return MeanNll(d, 4, lp, ll, g, grad);
}

/*
 * Modified BG/NBD (Batislam et al. 2007), as in lifetimes, with its
 * analytic gradient:
 *   LL = lgamma(r+x) - lgamma(r) + r log(alpha)
 *        + lgamma(a+b) + lgamma(b+x+1) - lgamma(b) - lgamma(a+b+x+1)
 *        - (r+x) log(alpha+T) + log(1 + e^A4),
 *   A4 = log(a/(b+x)) + (r+x) log((alpha+T)/(alpha+tx));
 * with sigma = e^A4/(1+e^A4):
 *   dLL/dr = psi(r+x) - psi(r) + log(alpha) - log(alpha+T)
 *            + sigma log((alpha+T)/(alpha+tx))
 *   dLL/dalpha = r/alpha - (r+x)/(alpha+T)
 *            + sigma (r+x) (1/(alpha+T) - 1/(alpha+tx))
 *   dLL/da = psi(a+b) - psi(a+b+x+1) + sigma/a
 *   dLL/db = psi(a+b) + psi(b+x+1) - psi(b) - psi(a+b+x+1) - sigma/(b+x)
 */
static double
MbgnbdNll(const double *lp, double *grad, void *arg)
{
	const FitData *d = arg;
	double		r = exp(lp[0]),
				al = exp(lp[1]),
				a = exp(lp[2]),
				b = exp(lp[3]);
	double		ll = 0,
				lal = log(al),
				la = log(a),
				psi_r = 0,
				psi_ab = 0,
				psi_b = 0,
				g[4] = {0, 0, 0, 0};
	ClmLogSum	lsum;
	int32		gi,
				i;

	ValueLogs(d, al);
	clm_logsum_init(&lsum);
	if (grad)
	{
		psi_r = clm_digamma(r);
		psi_ab = clm_digamma(a + b);
		psi_b = clm_digamma(b);
	}
	for (gi = 0; gi < d->ngroups; gi++)
	{
		double		x = d->pat[d->gstart[gi]].x;
		double		c = lgamma(r + x) - lgamma(r) + r * lal
			+ lgamma(a + b) + lgamma(b + x + 1) - lgamma(b) - lgamma(a + b + x + 1);
		double		c4 = la - log(b + x);
		double		dr0 = 0,
					da0 = 0,
					db0 = 0;

		if (grad)
		{
			double		psi_abx1 = clm_digamma(a + b + x + 1);

			dr0 = clm_digamma(r + x) - psi_r + lal;
			da0 = psi_ab - psi_abx1;
			db0 = psi_ab + clm_digamma(b + x + 1) - psi_b - psi_abx1;
		}
		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const ClvPattern *p = &d->pat[i];
			int32		jT = d->pat_vT[i],
						jt = d->pat_vtx[i];
			double		lT = d->uv_log[jT],
						lt = d->uv_log[jt],
						A4 = c4 + (r + x) * (lT - lt),
						m,
						s0,
						sg;

			/* log(1 + e^A4) = m + log(1 + e), sigma = e^A4 / (1 + e^A4) */
			clm_logsum_add(&lsum, p->w, 1.0 + clm_addexp_split(0, A4, &m, &s0, &sg));
			ll += p->w * (c - (r + x) * lT + m);
			if (grad)
			{
				g[0] += p->w * (dr0 - lT + sg * (lT - lt));
				g[1] += p->w * (r / al - (r + x) * d->uv_inv[jT] +
								sg * (r + x) * (d->uv_inv[jT] - d->uv_inv[jt]));
				g[2] += p->w * (da0 + sg / a);
				g[3] += p->w * (db0 - sg / (b + x));
			}
		}
	}
	ll += clm_logsum_total(&lsum);
	return MeanNll(d, 4, lp, ll, g, grad);
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
double
clv_pareto_log_a0(double r, double al, double s, double be,
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
static double
ParetoNll(const double *lp, double *grad, void *arg)
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
					double		la0 = clv_pareto_log_a0(r, al, s, be, x, p->tx, p->T);

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
	return MeanNll(d, 4, lp, ll, g, grad);
}

/*
 * BG/BB log-likelihood of one pattern (x, tx, n) (Fader, Hardie & Shang
 * 2010, eq. 5), all in log space.
 */
double
clv_bgbb_loglik(double al, double be, double ga, double de,
				double x, double tx, double n)
{
	double		lbab = clm_lbeta(al, be),
				lbgd = clm_lbeta(ga, de),
				A,
				B = -INFINITY;
	int			j,
				jmax = (int) (n - tx - 1);

	A = clm_lbeta(al + x, be + n - x) - lbab + clm_lbeta(ga, de + n) - lbgd;
	for (j = 0; j <= jmax; j++)
		B = clm_logsumexp2(B, clm_lbeta(al + x, be + tx - x + j) +
						   clm_lbeta(ga + 1, de + tx + j));
	B += -lbgd - lbab;
	return clm_logsumexp2(A, B);
}

/*
 * BG/BB pattern log-likelihood and its gradient in (alpha, beta, gamma,
 * delta).  The likelihood is e^A + sum_j e^(B_j) with
 *   A   = lB(al+x, be+n-x) - lB(al,be) + lB(ga, de+n) - lB(ga,de)
 *   B_j = lB(al+x, be+tx-x+j) + lB(ga+1, de+tx+j) - lB(ga,de) - lB(al,be)
 * (j = 0 .. n-tx-1), and every term's derivative is a difference of
 * digammas (d lB(p,q)/dp = psi(p) - psi(p+q)).  The terms are summed as a
 * running log-sum-exp: the largest exponent so far is the scale, and the
 * sum and the weighted derivative sums are rescaled when it grows, so the
 * result is the log-likelihood L and dL = sum_i e^(term_i - L) dterm_i
 * without overflow.  The digammas along j follow psi(q+1) = psi(q) + 1/q.
 * ps[] holds psi(al), psi(be), psi(al+be), psi(ga), psi(de), psi(ga+de);
 * lb[] holds lB(al,be), lB(ga,de).
 */
static double
BgbbPatternGrad(double al, double be, double ga, double de,
				double x, double tx, double n,
				const double *ps, const double *lb, double *dl)
{
	double		psi_ax = clm_digamma(al + x),
				m,
				sum = 1.0,
				q1,
				q2,
				q3,
				q4,
				p1,
				p2,
				p3,
				p4,
				psi_g1 = ps[3] + 1.0 / ga;
	int			j,
				k,
				jmax = (int) (n - tx - 1);

	/* the term A */
	p2 = clm_digamma(al + be + n);
	p3 = clm_digamma(ga + de + n);
	m = clm_lbeta(al + x, be + n - x) - lb[0] + clm_lbeta(ga, de + n) - lb[1];
	dl[0] = psi_ax - p2 - ps[0] + ps[2];
	dl[1] = clm_digamma(be + n - x) - p2 - ps[1] + ps[2];
	dl[2] = ps[5] - p3;
	dl[3] = clm_digamma(de + n) - p3 - ps[4] + ps[5];

	/* the terms B_j, with the digammas' arguments q1..q4 stepping by 1 */
	q1 = be + tx - x;
	q2 = al + be + tx;
	q3 = ga + de + tx + 1;
	q4 = de + tx;
	if (jmax >= 0)
	{
		p1 = clm_digamma(q1);
		p2 = clm_digamma(q2);
		p3 = clm_digamma(q3);
		p4 = clm_digamma(q4);
	}
	else
		p1 = p2 = p3 = p4 = 0;
	for (j = 0; j <= jmax; j++)
	{
		double		b = clm_lbeta(al + x, q1) + clm_lbeta(ga + 1, q4) - lb[1] - lb[0],
					db[4],
					e;

		db[0] = psi_ax - p2 - ps[0] + ps[2];
		db[1] = p1 - p2 - ps[1] + ps[2];
		db[2] = psi_g1 - p3 - ps[3] + ps[5];
		db[3] = p4 - p3 - ps[4] + ps[5];
		if (b > m)
		{
			e = exp(m - b);
			sum = sum * e + 1.0;
			for (k = 0; k < 4; k++)
				dl[k] = dl[k] * e + db[k];
			m = b;
		}
		else
		{
			e = exp(b - m);
			sum += e;
			for (k = 0; k < 4; k++)
				dl[k] += e * db[k];
		}
		p1 += 1.0 / q1;
		p2 += 1.0 / q2;
		p3 += 1.0 / q3;
		p4 += 1.0 / q4;
		q1 += 1;
		q2 += 1;
		q3 += 1;
		q4 += 1;
	}
	for (k = 0; k < 4; k++)
		dl[k] /= sum;
	return m + log(sum);
}

/*
 * BG/BB: mean negative log-likelihood over the patterns, with its
 * analytic gradient (BgbbPatternGrad).
 */
static double
BgbbNll(const double *lp, double *grad, void *arg)
{
	const FitData *d = arg;
	double		al = exp(lp[0]),
				be = exp(lp[1]),
				ga = exp(lp[2]),
				de = exp(lp[3]);
	double		ll = 0,
				g[4] = {0, 0, 0, 0},
				ps[6] = {0, 0, 0, 0, 0, 0},
				lb[2] = {0, 0};
	int32		i;
	int			k;

	if (grad)
	{
		ps[0] = clm_digamma(al);
		ps[1] = clm_digamma(be);
		ps[2] = clm_digamma(al + be);
		ps[3] = clm_digamma(ga);
		ps[4] = clm_digamma(de);
		ps[5] = clm_digamma(ga + de);
		lb[0] = clm_lbeta(al, be);
		lb[1] = clm_lbeta(ga, de);
	}
	for (i = 0; i < d->npat; i++)
	{
		const ClvPattern *p = &d->pat[i];

		/* a pattern costs up to CLV_BGBB_MAX_PERIODS terms */
		CHECK_FOR_INTERRUPTS();
		if (grad)
		{
			double		dl[4];

			ll += p->w * BgbbPatternGrad(al, be, ga, de, p->x, p->tx, p->T, ps, lb, dl);
			for (k = 0; k < 4; k++)
				g[k] += p->w * dl[k];
		}
		else
			ll += p->w * clv_bgbb_loglik(al, be, ga, de, p->x, p->tx, p->T);
	}
	return MeanNll(d, 4, lp, ll, g, grad);
}

/*
 * Gamma-Gamma: the per-pattern x * m and weights as flat arrays, and the
 * per-frequency constants x, W = sum w and A = sum w log m.
 */
static void
GgPrepare(FitData *d)
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
static double
GgEval(const FitData *d, const double *lp, double *grad, double *hess)
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
	return MeanNll(d, 3, lp, c->ll, c->g, grad);
}

/*
 * Gamma-Gamma objective for clm_optim_minimize (the BFGS fallback).
 */
static double
GammaGammaNll(const double *lp, double *grad, void *arg)
{
	return GgEval(arg, lp, grad, NULL);
}

/*
 * Gamma-Gamma objective with its Hessian for clm_optim_newton.
 */
static double
GammaGammaNllHess(const double *lp, double *grad, double *hess, void *arg)
{
	return GgEval(arg, lp, grad, hess);
}

/*
 * Gamma-Gamma fit from x: Newton's method on the analytic Hessian, BFGS
 * if Newton gets stuck.  With many patterns, Newton first runs on every
 * k-th pattern of each frequency (a fixed subset of the canonically
 * ordered patterns, reweighted so that each frequency keeps its total
 * weight), whose optimum is a start close enough to the full optimum for
 * two or three full-data iterations.
 */
static ClmOptimResult
GgMinimize(FitData *fd, double *x, const ClmOptimOptions *opt)
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
		res = clm_optim_minimize(GammaGammaNll, fd, 3, x, opt);
		res.iterations += used;
	}
	return res;
}

/*
 * Set up the likelihood data of a state's patterns (sorted in place unless
 * already sorted): frequency groups, weights, and the per-model indexes.
 * Shared by the fits and clm.clv_loglik_gradient.
 */
static void
FitDataInit(FitData *fd, ClvData *data)
{
	int32		i;

	if (!data->sorted)
		clv_sort_patterns(data->pat, data->npat);
	memset(fd, 0, sizeof(*fd));
	fd->kind = data->kind;
	fd->npat = data->npat;
	fd->pat = data->pat;
	fd->penalizer = data->penalizer;
	fd->gstart = palloc((data->npat + 1) * sizeof(int32));
	for (i = 0; i < data->npat; i++)
	{
		if (i == 0 || data->pat[i].x != data->pat[i - 1].x)
			fd->gstart[fd->ngroups++] = i;
		fd->wsum += data->pat[i].w;
	}
	fd->gstart[fd->ngroups] = data->npat;
	if (data->kind == CLV_BGNBD || data->kind == CLV_MBGNBD)
		BuildValues(fd);
	if (data->kind == CLV_PARETO)
	{
		BuildPairs(fd);
		BuildValues(fd);
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
	if (data->kind == CLV_GG)
		GgPrepare(fd);
}

/*
 * Fit the data's model and build its composite value:
 * (params..., loglik, n, iterations, converged, params' se..., patterns).
 */
Datum
clv_fit(FunctionCallInfo fcinfo, ClvData *data)
{
	FitData		fd;
	ClmObjectiveFn fn;
	ClmOptimOptions opt;
	ClmOptimResult res,
				best;
	int			np = (data->kind == CLV_GG) ? 3 : 4;
	double		starts[3][4];
	double		x[4],
				bestx[4],
				se[4];
	double		sumx = 0,
				sumT = 0,
				summ = 0,
				rate,
				ll,
				pen_saved;
	bool		any_repeat = false,
				have_best = false,
				se_ok;
	int32		i,
				k;
	TupleDesc	tupdesc;
	Datum		values[2 * 4 + 5];
	bool		nulls[2 * 4 + 5] = {0};
	int			col = 0;

	FitDataInit(&fd, data);
	for (i = 0; i < data->npat; i++)
	{
		const ClvPattern *p = &data->pat[i];

		sumx += p->w * p->x;
		sumT += p->w * p->T;
		summ += p->w * p->tx;
		if (p->x > 0)
			any_repeat = true;
	}

	if (!(fd.wsum > 0))
	{
		/* no weight (states never hold weight-0 patterns): as for no rows */
		fcinfo->isnull = true;
		return (Datum) 0;
	}
	if (!any_repeat)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit %s: no customer has a repeat purchase",
						clv_kind_name(data->kind)),
				 errhint("The purchase and dropout parameters are not identified when every frequency is 0; frequency counts repeat purchases (periods after the first).")));

	/* starts: purchase rate matched to the data, then two alternatives */
	rate = (sumx > 0 && sumT > 0) ? sumx / sumT : 1.0;
	switch (data->kind)
	{
		case CLV_BGNBD:
		case CLV_MBGNBD:
		case CLV_PARETO:
			{
				double		tbar = sumT / fd.wsum > 0 ? sumT / fd.wsum : 1.0;

				starts[0][0] = 1.0;
				starts[0][1] = 1.0 / rate;
				starts[0][2] = 1.0;
				starts[0][3] = data->kind == CLV_PARETO ? tbar : 1.0;
				starts[1][0] = 0.3;
				starts[1][1] = 0.3 / rate;
				starts[1][2] = 0.5;
				starts[1][3] = data->kind == CLV_PARETO ? 0.3 * tbar : 3.0;
				starts[2][0] = 3.0;
				starts[2][1] = 3.0 / rate;
				starts[2][2] = 3.0;
				starts[2][3] = data->kind == CLV_PARETO ? 3 * tbar : 0.5;
				fn = data->kind == CLV_BGNBD ? BgnbdNll :
					data->kind == CLV_MBGNBD ? MbgnbdNll : ParetoNll;
				break;
			}
		case CLV_BGBB:
			for (k = 0; k < 3; k++)
				for (i = 0; i < 4; i++)
					starts[k][i] = k == 0 ? 1.0 : k == 1 ? (i == 3 ? 3.0 : 0.5) : (i == 3 ? 0.5 : 3.0);
			fn = BgbbNll;
			break;
		case CLV_GG:
		default:
			{
				double		mbar = summ / fd.wsum;

				starts[0][0] = 1.0;
				starts[0][1] = 2.0;
				starts[0][2] = mbar;
				starts[1][0] = 5.0;
				starts[1][1] = 4.0;
				starts[1][2] = 0.6 * mbar;
				starts[2][0] = 0.5;
				starts[2][1] = 1.5;
				starts[2][2] = 0.25 * mbar;
				fn = GammaGammaNll;
				break;
			}
	}

	clm_optim_defaults(&opt);
	opt.analytic_grad = true;
	memset(&best, 0, sizeof(best));
	for (k = 0; k < 3; k++)
	{
		bool		inside = true;

		for (i = 0; i < np; i++)
			x[i] = log(starts[k][i]);
		if (data->kind == CLV_GG)
			res = GgMinimize(&fd, x, &opt);
		else
			res = clm_optim_minimize(fn, &fd, np, x, &opt);
		for (i = 0; i < np; i++)
			if (fabs(x[i]) > LOGPARAM_BOUND)
				inside = false;
		if (!inside && res.converged)
		{
			res.converged = false;
			res.message = "a parameter ran off to 0 or infinity";
		}
		if (isfinite(res.f) &&
			(!have_best || (res.converged && !best.converged) ||
			 (res.converged == best.converged && res.f < best.f)))
		{
			best = res;
			memcpy(bestx, x, sizeof(x));
			have_best = true;
		}
		if (best.converged)
			break;
	}
	if (!have_best)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot fit %s: the likelihood cannot be evaluated at any start",
						clv_kind_name(data->kind)),
				 errhint("Check the scale of the inputs (recency and t in a sensible time unit).")));

	/* unpenalised log-likelihood in the data's own unit */
	pen_saved = fd.penalizer;
	fd.penalizer = 0;
	ll = -fn(bestx, NULL, &fd) * fd.wsum;
	fd.penalizer = pen_saved;
	if (data->kind == CLV_GG)
	{
		double		g[3],
					h[9];

		se_ok = best.converged && isfinite(GgEval(&fd, bestx, g, h)) &&
			clm_optim_stderr_from_hessian(np, bestx, h, fd.wsum, se);
	}
	else
		se_ok = best.converged &&
			clm_optim_stderr_log(fn, &fd, np, bestx, &opt, fd.wsum, se);
	if (best.converged && !se_ok)
	{
		/* a stationary point on a ridge: the parameters are not identified */
		best.converged = false;
		best.message = "the likelihood is flat in some direction at the optimum (the data do not identify all parameters)";
	}

	if (!best.converged)
		ereport(WARNING,
				(errmsg("%s fit did not converge after %d iterations",
						clv_kind_name(data->kind), best.iterations),
				 errdetail("The optimizer stopped: %s.", best.message),
				 errhint("The data may not identify the model (too few customers or repeat purchases); a penalizer > 0 stabilises the fit.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clm: model fit must return a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != 2 * np + 5)
		elog(ERROR, "clm: unexpected model row type");
	for (i = 0; i < np; i++)
		values[col++] = Float8GetDatum(exp(bestx[i]));
	values[col++] = Float8GetDatum(ll);
	values[col++] = Float8GetDatum(fd.wsum);
	values[col++] = Int32GetDatum(best.iterations);
	values[col++] = BoolGetDatum(best.converged);
	for (i = 0; i < np; i++)
	{
		nulls[col] = !se_ok;
		values[col++] = Float8GetDatum(se_ok ? se[i] : 0);
	}
	values[col++] = Int32GetDatum(data->npat);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

PG_FUNCTION_INFO_V1(clm_clv_loglik_gradient);

/*
 * clm.clv_loglik_gradient(state, params): the model's log-likelihood over
 * a fit state's customers at the given parameters (natural scale, in the
 * order of the model type's fields) and its analytic gradient, one row
 * per parameter: (parameter, value, loglik, gradient = dloglik/dparameter).
 * Unpenalised, in the data's own unit, as the fits' loglik.  The same
 * functions the fits minimise, so it checks them against finite
 * differences.
 */
Datum
clm_clv_loglik_gradient(PG_FUNCTION_ARGS)
{
	static const char *const names[CLV_NKINDS][4] = {
		{"r", "alpha", "a", "b"},
		{"r", "alpha", "a", "b"},
		{"r", "alpha", "s", "beta"},
		{"alpha", "beta", "gamma", "delta"},
		{"p", "q", "v", NULL}
	};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	ClvData		data;
	FitData		fd;
	ClmObjectiveFn fn;
	Datum	   *elems;
	bool	   *enulls;
	int			nelems,
				np,
				i;
	double		lp[4],
				theta[4],
				grad[4] = {0, 0, 0, 0},
				ll = 0;

	InitMaterializedSRF(fcinfo, 0);
	clv_state_data(PG_GETARG_DATUM(0), &data);
	np = data.kind == CLV_GG ? 3 : 4;
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("params must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &enulls, &nelems);
	if (nelems != np)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s model has %d parameters, got %d",
						clv_kind_name(data.kind), np, nelems),
				 errhint("Pass the parameters in the order of the model type's fields (%s, %s, %s%s%s).",
						 names[data.kind - 1][0], names[data.kind - 1][1], names[data.kind - 1][2],
						 np == 4 ? ", " : "", np == 4 ? names[data.kind - 1][3] : "")));
	for (i = 0; i < np; i++)
	{
		double		v;

		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("parameter %s must not be NULL", names[data.kind - 1][i])));
		v = DatumGetFloat8(elems[i]);
		clm_check_finite(v, psprintf("parameter %s", names[data.kind - 1][i]));
		if (!(v > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter %s must be positive", names[data.kind - 1][i]),
					 errdetail("Got %g.", v)));
		theta[i] = v;
		lp[i] = log(v);
	}
	if (data.npat > 0)
	{
		double		f;
		ClvPattern *copy = palloc(data.npat * sizeof(ClvPattern));

		/* sorted in place: work on a copy */
		memcpy(copy, data.pat, data.npat * sizeof(ClvPattern));
		data.pat = copy;
		FitDataInit(&fd, &data);
		fd.penalizer = 0;		/* the unpenalised log-likelihood */
		fn = data.kind == CLV_BGNBD ? BgnbdNll :
			data.kind == CLV_MBGNBD ? MbgnbdNll :
			data.kind == CLV_PARETO ? ParetoNll :
			data.kind == CLV_BGBB ? BgbbNll : GammaGammaNll;
		f = fn(lp, grad, &fd);
		for (i = 0; i < np; i++)
			if (!isfinite(grad[i]))
				f = NAN;
		if (!isfinite(f))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the %s log-likelihood cannot be evaluated at these parameters",
							clv_kind_name(data.kind)),
					 errhint("The parameters are too extreme for the data (overflow).")));
		ll = -f * fd.wsum;
		for (i = 0; i < np; i++)
			grad[i] = -grad[i] * fd.wsum / theta[i];
	}
	for (i = 0; i < np; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {0};

		values[0] = CStringGetTextDatum(names[data.kind - 1][i]);
		values[1] = Float8GetDatum(theta[i]);
		values[2] = Float8GetDatum(ll);
		values[3] = Float8GetDatum(grad[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
