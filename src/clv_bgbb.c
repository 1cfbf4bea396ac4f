/*-------------------------------------------------------------------------
 *
 * clv_bgbb.c
 *	  The BG/BB model of discrete-time purchase opportunities (Fader,
 *	  Hardie & Shang 2010): log-likelihood with its analytic gradient, and
 *	  the scoring formulas (eq. 7-13; the gamma -> 1 singularity uses its
 *	  limit).  Listed in the table of models (clv_models.c).
 *
 * IDENTIFICATION
 *	  src/clv_bgbb.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "clv_math.h"
#include "special.h"

/*
 * BG/BB log-likelihood of one pattern (x, tx, n) (Fader, Hardie & Shang
 * 2010, eq. 5), all in log space.
 */
static double
BgbbLogLik(double al, double be, double ga, double de,
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
double
clv_bgbb_nll(const double *lp, double *grad, void *arg)
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
			ll += p->w * BgbbLogLik(al, be, ga, de, p->x, p->tx, p->T);
	}
	return clv_mean_nll(d, 4, lp, ll, g, grad);
}

/* ---- scoring ---- */

/*
 * BG/BB P(alive) in period n + 1.
 */
double
clv_bgbb_p_alive(const double *p, double x, double tx, double T)
{
	double		al = p[0],
				be = p[1],
				ga = p[2],
				de = p[3];

	return exp(clm_lbeta(al + x, be + T - x) - clm_lbeta(al, be) +
			   clm_lbeta(ga, de + T + 1) - clm_lbeta(ga, de) -
			   BgbbLogLik(al, be, ga, de, x, tx, T));
}

/*
 * BG/BB: delta/(gamma-1) * [G(g+d)/G(1+d)] * [G(1+d+n)/G(g+d+n) - G(1+d+n+m)/G(g+d+n+m)],
 * the expected number of alive periods in (n, n+m] times (1 - theta)
 * normalisation; evaluated at gamma +- eps around the removable singularity.
 */
static double
BgbbAliveSum(double ga, double de, double n, double m)
{
	double		v;

	if (fabs(ga - 1) < SING_EPS)
		return 0.5 * (BgbbAliveSum(1 - 2 * SING_EPS, de, n, m) +
					  BgbbAliveSum(1 + 2 * SING_EPS, de, n, m));
	v = exp(lgamma(ga + de) - lgamma(1 + de)) *
		(exp(lgamma(1 + de + n) - lgamma(ga + de + n)) -
		 exp(lgamma(1 + de + n + m) - lgamma(ga + de + n + m)));
	return de / (ga - 1) * v;
}

/*
 * BG/BB expected purchases in the next t periods given the history
 * (x, tx, n = T).
 */
double
clv_bgbb_cond_expected(const double *p, double t, double x, double tx, double T)
{
	double		al = p[0],
				be = p[1],
				ga = p[2],
				de = p[3];

	if (t == 0)
		return 0;
	/* eq. 13 of Fader, Hardie & Shang (2010) */
	return exp(clm_lbeta(al + x + 1, be + T - x) - clm_lbeta(al, be) -
			   BgbbLogLik(al, be, ga, de, x, tx, T)) *
		BgbbAliveSum(ga, de, T, t);
}

/*
 * BG/BB expected purchases of a new customer in t periods.
 */
double
clv_bgbb_new_expected(const double *p, double t)
{
	/* eq. 7: alpha/(alpha+beta) * sum over the alive periods 1..n */
	if (t == 0)
		return 0;
	return p[0] / (p[0] + p[1]) * BgbbAliveSum(p[2], p[3], 0, t);
}

/*
 * BG/BB P(X(t) = n) for a new customer (t periods).
 */
double
clv_bgbb_prob_purchases(const double *p, int n, double t)
{
	/* eq. 8 of Fader, Hardie & Shang (2010) */
	double		al = p[0],
				be = p[1],
				ga = p[2],
				de = p[3],
				lbab = clm_lbeta(al, be),
				lbgd = clm_lbeta(ga, de),
				v;
	int			i,
				nn = (int) t;

	if (t == 0)
		return n == 0 ? 1.0 : 0.0;
	if (n > nn)
		return 0;
	v = exp(lgamma(nn + 1.0) - lgamma(n + 1.0) - lgamma(nn - n + 1.0) +
			clm_lbeta(al + n, be + nn - n) - lbab + clm_lbeta(ga, de + nn) - lbgd);
	for (i = n; i < nn; i++)
	{
		CHECK_FOR_INTERRUPTS();
		v += exp(lgamma(i + 1.0) - lgamma(n + 1.0) - lgamma(i - n + 1.0) +
				 clm_lbeta(al + n, be + i - n) - lbab +
				 clm_lbeta(ga + 1, de + i) - lbgd);
	}
	return v;
}
