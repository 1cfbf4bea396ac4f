/*-------------------------------------------------------------------------
 *
 * clv_bgnbd.c
 *	  The BG/NBD model (Fader, Hardie & Lee 2005) and the modified BG/NBD
 *	  (Batislam, Denizel & Filiztekin 2007, as implemented in lifetimes):
 *	  log-likelihoods with their analytic gradients, and the scoring
 *	  formulas (FHL 2005 eq. 7-10 and the 2F1 form of E[X(t)]).  Listed
 *	  in the table of models (clv_models.c).
 *
 * IDENTIFICATION
 *	  src/clv_bgnbd.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "clv_math.h"
#include "special.h"

/*
 * BG/NBD: mean negative log-likelihood with analytic gradient.
 *   LL = lgamma(r+x) - lgamma(r) + r log(alpha)
 *        + log[ B(a, b+x)/B(a,b) (alpha+T)^-(r+x)
 *               + [x>0] B(a+1, b+x-1)/B(a,b) (alpha+tx)^-(r+x) ]
 */
double
clv_bgnbd_nll(const double *lp, double *grad, void *arg)
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

	clv_value_logs(d, al);
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
	return clv_mean_nll(d, 4, lp, ll, g, grad);
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
double
clv_mbgnbd_nll(const double *lp, double *grad, void *arg)
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

	clv_value_logs(d, al);
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
	return clv_mean_nll(d, 4, lp, ll, g, grad);
}

/* ---- scoring ---- */

/*
 * BG/NBD P(alive) at the end of the observation.
 */
double
clv_bgnbd_p_alive(const double *p, double x, double tx, double T)
{
	if (x == 0)
		return 1.0;
	return 1.0 / (1.0 + exp(log(p[2]) - log(p[3] + x - 1) +
							(p[0] + x) * (log(p[1] + T) - log(p[1] + tx))));
}

/*
 * Modified BG/NBD P(alive) at the end of the observation.
 */
double
clv_mbgnbd_p_alive(const double *p, double x, double tx, double T)
{
	return 1.0 / (1.0 + exp(log(p[2]) - log(p[3] + x) +
							(p[0] + x) * (log(p[1] + T) - log(p[1] + tx))));
}

/*
 * BG/NBD E[X(t) | x, tx, T] without the P(alive) factor:
 * (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
 */
static double
BgnbdCondCore(double r, double al, double a, double b, double x, double T, double t)
{
	double		z,
				l,
				c = a + b + x - 1;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (BgnbdCondCore(r, al, 1 - 2 * SING_EPS, b, x, T, t) +
					  BgnbdCondCore(r, al, 1 + 2 * SING_EPS, b, x, T, t));
	/* a + b + x - 1 = 0 (x = 0, a + b = 1): the 2F1 pole cancels, use the limit */
	if (fabs(c) < SING_EPS)
		return 0.5 * (BgnbdCondCore(r, al, a, b - 2 * SING_EPS, x, T, t) +
					  BgnbdCondCore(r, al, a, b + 2 * SING_EPS, x, T, t));
	if (t == 0)
		return 0;
	z = t / (al + T + t);
	l = clm_log_hyp2f1(r + x, b + x, c, z, &sg);
	if (sg < 0)
		return c / (a - 1) * (1 + exp(l + (r + x) * log1p(-z)));
	return c / (a - 1) * -expm1(l + (r + x) * log1p(-z));
}

/*
 * Modified BG/NBD, same without the P(alive) factor:
 * (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)]
 */
static double
MbgnbdCondCore(double r, double al, double a, double b, double x, double T, double t)
{
	double		z,
				l;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (MbgnbdCondCore(r, al, 1 - 2 * SING_EPS, b, x, T, t) +
					  MbgnbdCondCore(r, al, 1 + 2 * SING_EPS, b, x, T, t));
	if (t == 0)
		return 0;
	z = t / (al + T + t);
	l = clm_log_hyp2f1(r + x, b + x + 1, a + b + x, z, &sg);
	if (sg < 0)
		return (a + b + x) / (a - 1) * (1 + exp(l + (r + x) * log1p(-z)));
	return (a + b + x) / (a - 1) * -expm1(l + (r + x) * log1p(-z));
}

/*
 * BG/NBD expected purchases in (T, T + t] given the history (x, tx, T).
 */
double
clv_bgnbd_cond_expected(const double *p, double t, double x, double tx, double T)
{
	return clv_bgnbd_p_alive(p, x, tx, T) * BgnbdCondCore(p[0], p[1], p[2], p[3], x, T, t);
}

/*
 * Modified BG/NBD expected purchases in (T, T + t] given the history.
 */
double
clv_mbgnbd_cond_expected(const double *p, double t, double x, double tx, double T)
{
	return clv_mbgnbd_p_alive(p, x, tx, T) * MbgnbdCondCore(p[0], p[1], p[2], p[3], x, T, t);
}

/*
 * The BG/NBD and MBG/NBD conditional expectation without P(alive) at n
 * horizons t[0..n-1] (n <= 64) in one 2F1 series pass:
 * E[X(t_k) | x, tx, T] = P(alive) * fac * e[k].  These depend on the
 * customer only through (x, T).  Returns false for the other models and
 * near the a -> 1 and a + b + x - 1 -> 0 singularities (use the cond_expected functions).
 */
static bool
CondCores(ClvKind kind, const double *p, const double *t, int n,
		  double x, double T, double *fac, double *e)
{
	double		z[64],
				l[64],
				r = p[0],
				al = p[1],
				a = p[2],
				b = p[3],
				c;
	int			sg[64],
				k;

	if ((kind != CLV_BGNBD && kind != CLV_MBGNBD) || n > 64 ||
		fabs(a - 1) < SING_EPS || fabs(a + b + x - 1) < SING_EPS)
		return false;
	for (k = 0; k < n; k++)
		z[k] = t[k] / (al + T + t[k]);
	if (kind == CLV_BGNBD)
	{
		c = a + b + x - 1;
		*fac = c / (a - 1);
		clm_log_hyp2f1_multi(r + x, b + x, c, z, n, l, sg);
	}
	else
	{
		c = a + b + x;
		*fac = c / (a - 1);
		clm_log_hyp2f1_multi(r + x, b + x + 1, c, z, n, l, sg);
	}
	for (k = 0; k < n; k++)
	{
		double		ek = l[k] + (r + x) * log1p(-z[k]);

		e[k] = sg[k] < 0 ? 1 + exp(ek) : -expm1(ek);
	}
	return true;
}

/* CondCores of the BG/NBD */
bool
clv_bgnbd_cond_cores(const double *p, const double *t, int n,
					 double x, double T, double *fac, double *e)
{
	return CondCores(CLV_BGNBD, p, t, n, x, T, fac, e);
}

/* CondCores of the modified BG/NBD */
bool
clv_mbgnbd_cond_cores(const double *p, const double *t, int n,
					  double x, double T, double *fac, double *e)
{
	return CondCores(CLV_MBGNBD, p, t, n, x, T, fac, e);
}

/*
 * BG/NBD E[X(t)] of a new customer:
 * (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
 */
static double
BgnbdNew(double r, double al, double a, double b, double t)
{
	double		z,
				l;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (BgnbdNew(r, al, 1 - 2 * SING_EPS, b, t) +
					  BgnbdNew(r, al, 1 + 2 * SING_EPS, b, t));
	if (fabs(a + b - 1) < SING_EPS)
		return 0.5 * (BgnbdNew(r, al, a, b - 2 * SING_EPS, t) +
					  BgnbdNew(r, al, a, b + 2 * SING_EPS, t));
	if (t == 0)
		return 0;
	z = t / (al + t);
	l = clm_log_hyp2f1(r, b, a + b - 1, z, &sg);
	if (sg < 0)
		return (a + b - 1) / (a - 1) * (1 + exp(l + r * log1p(-z)));
	return (a + b - 1) / (a - 1) * -expm1(l + r * log1p(-z));
}

/*
 * Modified BG/NBD E[X(t)] of a new customer:
 * b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]
 */
static double
MbgnbdNew(double r, double al, double a, double b, double t)
{
	double		z,
				l;
	int			sg;

	if (fabs(a - 1) < SING_EPS)
		return 0.5 * (MbgnbdNew(r, al, 1 - 2 * SING_EPS, b, t) +
					  MbgnbdNew(r, al, 1 + 2 * SING_EPS, b, t));
	if (t == 0)
		return 0;
	z = t / (al + t);
	l = clm_log_hyp2f1(r, b + 1, a + b, z, &sg);
	if (sg < 0)
		return b / (a - 1) * (1 + exp(l + r * log1p(-z)));
	return b / (a - 1) * -expm1(l + r * log1p(-z));
}

/* BG/NBD expected purchases of a new customer in (0, t] */
double
clv_bgnbd_new_expected(const double *p, double t)
{
	return BgnbdNew(p[0], p[1], p[2], p[3], t);
}

/* modified BG/NBD expected purchases of a new customer in (0, t] */
double
clv_mbgnbd_new_expected(const double *p, double t)
{
	return MbgnbdNew(p[0], p[1], p[2], p[3], t);
}

/*
 * log of the NBD tail sum (alpha/(alpha+t))^r sum_{j<n} G(r+j)/(G(r) j!) (t/(alpha+t))^j,
 * returned as 1 - that sum (the probability of at least n events).
 *
 * n may be as large as INT_MAX: the sum stops early once the remaining
 * terms cannot matter.  The ratio of term j+1 to term j is
 * rho_j = (r+j)/(j+1) q (q = t/(alpha+t)), which falls towards q for r >= 1
 * and rises towards q for r < 1, so every later ratio is at most
 * max(rho_j, q); when that is below 1 the terms after j sum to at most
 * term_j rho / (1 - rho), and below e^-50 of the sum so far they are
 * dropped.
 */
static double
NbdAtLeast(double r, double al, double t, int n)
{
	double		lp0 = r * log(al / (al + t)),
				lq = log(t / (al + t)),
				lt = lp0,
				acc = -INFINITY;
	int			j;

	for (j = 0; j < n; j++)
	{
		double		lrho;

		CHECK_FOR_INTERRUPTS();
		if (j > 0)
			lt += log(r + j - 1) - log((double) j) + lq;
		acc = clm_logsumexp2(acc, lt);
		lrho = fmax(log(r + j) - log(j + 1.0) + lq, lq);
		if (lrho < 0 && lt + lrho - log(-expm1(lrho)) < acc - 50)
			break;
	}
	if (acc >= 0)
		return 0;
	return -expm1(acc);
}

/*
 * P(X(t) = n) for a new customer, BG/NBD or modified BG/NBD.
 */
static double
NbdProbPurchases(ClvKind kind, const double *p, int n, double t)
{
	double		r = p[0],
				al = p[1],
				a = p[2],
				b = p[3],
				lbab;
	double		lnb;
	double		v;

	if (t == 0)
		return n == 0 ? 1.0 : 0.0;
	lbab = clm_lbeta(a, b);
	lnb = lgamma(r + n) - lgamma(r) - lgamma(n + 1.0) +
		r * log(al / (al + t)) + n * log(t / (al + t));
	if (kind == CLV_BGNBD)
	{
		v = exp(clm_lbeta(a, b + n) - lbab + lnb);
		if (n > 0)
			v += exp(clm_lbeta(a + 1, b + n - 1) - lbab) * NbdAtLeast(r, al, t, n);
	}
	else
		v = exp(clm_lbeta(a, b + 1 + n) - lbab + lnb) +
			exp(clm_lbeta(a + 1, b + n) - lbab) * NbdAtLeast(r, al, t, n);
	return v;
}

/* BG/NBD P(X(t) = n) for a new customer */
double
clv_bgnbd_prob_purchases(const double *p, int n, double t)
{
	return NbdProbPurchases(CLV_BGNBD, p, n, t);
}

/* modified BG/NBD P(X(t) = n) for a new customer */
double
clv_mbgnbd_prob_purchases(const double *p, int n, double t)
{
	return NbdProbPurchases(CLV_MBGNBD, p, n, t);
}
