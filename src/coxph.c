/*-------------------------------------------------------------------------
 *
 * coxph.c
 *	  Cox proportional hazards regression as an aggregate:
 *	  clm.coxph_fit(duration, event, features [, ties]) -> clm.coxph, and
 *	  clm.coxph_risk / clm.coxph_survival.
 *
 * The fit maximises the partial log-likelihood with Efron's (default) or
 * Breslow's handling of tied event times, as R's survival::coxph:
 *	  sum over event times t with d events, risk set R(t) (duration >= t),
 *	  tied events D(t):
 *	  Efron    sum_{i in D} eta_i - sum_{k=0}^{d-1} log(S0 - k/d A0)
 *	  Breslow  sum_{i in D} eta_i - d log S0
 *	  S0 = sum_{R} exp(eta), A0 = sum_{D} exp(eta)
 * by Newton's method with step halving from beta = 0 to full convergence
 * (Newton decrement at the level of rounding).  The risk sets are summed
 * in one pass per iteration over the rows sorted by duration (descending),
 * so an iteration costs O(n p^2).  The features are centred and scaled for
 * the iterations (the partial likelihood does not change with centring) and
 * the coefficients mapped back.
 *
 * Also returned: Harrell's concordance of the fitted risk (churn.h), and
 * Breslow's estimate of the baseline cumulative hazard at x = 0,
 *	  H0(t) = sum_{event times s <= t} d(s) / sum_{R(s)} exp(x . beta),
 * so that S(t | x) = exp(-H0(t) exp(x . beta)).
 *
 * Errors: a constant feature or one that is a linear combination of the
 * features before it (22023, naming it); no events: NULL and a WARNING;
 * no convergence in 100 iterations (monotone likelihood): converged =
 * false and a WARNING.
 *
 * IDENTIFICATION
 *	  src/coxph.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "churn.h"
#include "linalg.h"

#define COX_MAX_ITER 100
#define COX_COLLINEAR_TOL 1e-10

PG_FUNCTION_INFO_V1(clm_coxph_accum);
PG_FUNCTION_INFO_V1(clm_coxph_final);
PG_FUNCTION_INFO_V1(clm_coxph_risk);
PG_FUNCTION_INFO_V1(clm_coxph_survival);

/*
 * Transition: (state, duration, event, features [, ties]).  A NULL
 * duration, event, features array or feature counts the row as skipped.
 */
Datum
clm_coxph_accum(PG_FUNCTION_ARGS)
{
	double		row[CHURN_MAX_FEATURES + 2];
	const double *x;
	int			p,
				ties = CHURN_TIES_EFRON;

	if (PG_NARGS() > 4)
	{
		text	   *t;
		int			len;

		if (PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("clm.coxph_fit: ties must not be NULL"),
					 errhint("Use 'efron' or 'breslow'.")));
		t = PG_GETARG_TEXT_PP(4);
		len = VARSIZE_ANY_EXHDR(t);
		if (len == 5 && memcmp(VARDATA_ANY(t), "efron", 5) == 0)
			ties = CHURN_TIES_EFRON;
		else if (len == 7 && memcmp(VARDATA_ANY(t), "breslow", 7) == 0)
			ties = CHURN_TIES_BRESLOW;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clm.coxph_fit: unknown ties method \"%s\"", text_to_cstring(t)),
					 errhint("Use 'efron' or 'breslow'.")));
	}
	for (int i = 1; i <= 3; i++)
		if (PG_ARGISNULL(i))
			return churn_rows_add(fcinfo, CHURN_COX, 0, NULL, false, 0, 0);
	row[0] = churn_duration(PG_GETARG_FLOAT8(1));
	row[1] = PG_GETARG_BOOL(2) ? 1.0 : 0.0;
	if (!churn_features(PG_GETARG_ARRAYTYPE_P(3), &p, &x, "clm.coxph_fit"))
		return churn_rows_add(fcinfo, CHURN_COX, 0, NULL, false, 0, 0);
	if (p == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("clm.coxph_fit: features must not be empty")));
	memcpy(row + 2, x, sizeof(double) * p);
	return churn_rows_add(fcinfo, CHURN_COX, p + 2, row, true, ties, 0);
}

typedef struct CoxFit
{
	const double *data;
	int64		n;
	int			ncols;
	int			p;
	bool		efron;
	double	   *mean;
	double	   *inv_sd;
	double	   *eta;			/* n: z . gamma (rows sorted) */
	double		eta_max;		/* their maximum (exp(eta - eta_max) <= 1) */
	double	   *htime;			/* distinct event times, descending */
	double	   *hazard;			/* log(d / S0) at them (see CoxEval) */
	int64		nh;
	/* work */
	double	   *s1,
			   *s2,
			   *a1,
			   *a2,
			   *c1,
			   *c2,
			   *zsum;
} CoxFit;

static inline void
CoxZ(const CoxFit *f, const double *r, double *z)
{
	for (int j = 0; j < f->p; j++)
		z[j] = (r[j + 2] - f->mean[j]) * f->inv_sd[j];
}

/*
 * Partial log-likelihood at gamma (scaled coordinates); with grad/hess not
 * NULL also the score and the information matrix.  The rows are sorted by
 * duration, descending.  When hazard is not NULL, stores the Breslow
 * increment log(d / S0) (in the shifted scale, see eta_max) of each
 * distinct event time, descending, in hazard and the times in htime, and
 * their number in *nh.
 *
 * Per group of equal durations the rows' sums go to the event sums (A0,
 * A1, A2) or the censored sums (C0, C1, C2), which join the risk-set sums
 * (S0, S1, S2) at the end of the group: one p x p update per row.  Efron's
 * d terms k = 0..d-1 with D_k = S0 - (k/d) A0 add up in closed form:
 *	  sum_k (S2 - f_k A2) / D_k = S2 u0 - A2 u1,
 *	  sum_k M_k M_k' = S1 S1' v0 - (S1 A1' + A1 S1') v1 + A1 A1' v2,
 *	  u0 = sum 1/D_k, u1 = sum f_k/D_k, v0 = sum 1/D_k^2, v1 = sum f_k/D_k^2,
 *	  v2 = sum f_k^2/D_k^2, f_k = k/d
 * so a tie of d events costs O(d + p^2).
 */
static double
CoxEval(CoxFit *f, const double *gamma, double *grad, double *hess,
		double *htime, double *hazard, int64 *nh)
{
	int			p = f->p;
	double		ll = 0,
				s0 = 0;
	double		z[CHURN_MAX_FEATURES];
	double		emax = -INFINITY;
	double	   *s1 = f->s1,
			   *s2 = f->s2,
			   *a1 = f->a1,
			   *a2 = f->a2,
			   *c1 = f->c1,
			   *c2 = f->c2,
			   *zsum = f->zsum;
	int64		i = 0;

	for (int64 r = 0; r < f->n; r++)
	{
		const double *row = f->data + r * f->ncols;
		double		eta = 0;

		CoxZ(f, row, z);
		for (int j = 0; j < p; j++)
			eta += z[j] * gamma[j];
		f->eta[r] = eta;
		emax = Max(emax, eta);
	}
	f->eta_max = emax;
	if (grad)
	{
		memset(grad, 0, sizeof(double) * p);
		memset(hess, 0, sizeof(double) * p * p);
		memset(s1, 0, sizeof(double) * p);
		memset(s2, 0, sizeof(double) * p * p);
	}
	if (nh)
		*nh = 0;
	while (i < f->n)
	{
		double		t = f->data[i * f->ncols];
		double		a0 = 0,
					c0 = 0,
					etasum = 0;
		int64		d = 0;

		/* every duration (i jumps over ties): O(p^2) work per row */
		CHECK_FOR_INTERRUPTS();
		if (grad)
		{
			memset(a1, 0, sizeof(double) * p);
			memset(a2, 0, sizeof(double) * p * p);
			memset(c1, 0, sizeof(double) * p);
			memset(c2, 0, sizeof(double) * p * p);
			memset(zsum, 0, sizeof(double) * p);
		}
		/* one group of equal durations */
		for (; i < f->n && f->data[i * f->ncols] == t; i++)
		{
			const double *row = f->data + i * f->ncols;
			double		e = exp(f->eta[i] - emax);
			bool		event = row[1] != 0;
			double	   *g1 = event ? a1 : c1,
					   *g2 = event ? a2 : c2;

			if (event)
			{
				a0 += e;
				etasum += f->eta[i] - emax;
				d++;
			}
			else
				c0 += e;
			if (grad)
			{
				CoxZ(f, row, z);
				for (int a = 0; a < p; a++)
				{
					double		ea = e * z[a];
					double	   *h = g2 + a * p;

					g1[a] += ea;
					for (int b = a; b < p; b++)
						h[b] += ea * z[b];
				}
				if (event)
					for (int a = 0; a < p; a++)
						zsum[a] += z[a];
			}
		}
		/* the whole group joins the risk set */
		s0 += a0 + c0;
		if (grad)
			for (int a = 0; a < p; a++)
			{
				s1[a] += a1[a] + c1[a];
				for (int b = a; b < p; b++)
					s2[a * p + b] += a2[a * p + b] + c2[a * p + b];
			}
		if (d == 0)
			continue;
		if (!(s0 > 0))
			return -INFINITY;	/* risks underflowed: not a usable point */
		ll += etasum;
		if (hazard)
		{
			htime[*nh] = t;
			hazard[*nh] = log((double) d) - log(s0);
			(*nh)++;
		}
		if (!f->efron || d == 1)
		{
			ll -= d * log(s0);
			if (grad)
				for (int a = 0; a < p; a++)
				{
					double		ma = s1[a] / s0;

					grad[a] += zsum[a] - d * ma;
					for (int b = a; b < p; b++)
						hess[a * p + b] += d * (s2[a * p + b] / s0 - ma * s1[b] / s0);
				}
		}
		else
		{
			double		u0 = 0,
						u1 = 0,
						v0 = 0,
						v1 = 0,
						v2 = 0;

			for (int64 k = 0; k < d; k++)
			{
				double		fk = (double) k / d,
							den = s0 - fk * a0,
							inv = 1.0 / den;

				ll -= log(den);
				u0 += inv;
				u1 += fk * inv;
				v0 += inv * inv;
				v1 += fk * inv * inv;
				v2 += fk * fk * inv * inv;
			}
			if (grad)
				for (int a = 0; a < p; a++)
				{
					grad[a] += zsum[a] - (s1[a] * u0 - a1[a] * u1);
					for (int b = a; b < p; b++)
						hess[a * p + b] += s2[a * p + b] * u0 - a2[a * p + b] * u1 -
							(s1[a] * s1[b] * v0 - (s1[a] * a1[b] + a1[a] * s1[b]) * v1 +
							 a1[a] * a1[b] * v2);
				}
		}
	}
	if (grad)
		for (int a = 0; a < p; a++)
			for (int b = 0; b < a; b++)
				hess[a * p + b] = hess[b * p + a];
	return ll;
}

/*
 * Sort the rows by duration, descending, in place (the final function may
 * change its state: FINALFUNC_MODIFY = READ_WRITE): sort (duration, index)
 * keys, then apply the permutation cycle by cycle.
 */
static void
CoxSortRows(double *data, int64 n, int ncols)
{
	ChurnKey   *k = palloc_extended(sizeof(ChurnKey) * Max(n, 1), MCXT_ALLOC_HUGE);
	double		tmp[CHURN_MAX_FEATURES + 2];
	size_t		rowsz = sizeof(double) * ncols;

	for (int64 i = 0; i < n; i++)
	{
		k[i].key = ~churn_key_asc(data[i * ncols]);
		k[i].idx = i;
	}
	churn_key_sort(k, n);
	/* new row j = old row k[j].idx; idx = -1 marks a placed row */
	for (int64 i = 0; i < n; i++)
	{
		int64		j = i;

		if (k[i].idx < 0)
			continue;
		if (k[i].idx == i)
		{
			k[i].idx = -1;
			continue;
		}
		memcpy(tmp, data + i * ncols, rowsz);
		for (;;)
		{
			int64		src = k[j].idx;

			k[j].idx = -1;
			if (src == i)
			{
				memcpy(data + j * ncols, tmp, rowsz);
				break;
			}
			memcpy(data + j * ncols, data + src * ncols, rowsz);
			j = src;
		}
	}
	pfree(k);
}

/* CoxEval as a ClmNewtonFn: also keeps the Breslow increments */
static double
CoxNewtonEval(const double *gamma, double *grad, double *hess, void *arg)
{
	CoxFit	   *f = (CoxFit *) arg;

	return CoxEval(f, gamma, grad, hess, f->htime, f->hazard, &f->nh);
}

/*
 * Means and standard deviations of the features (two O(n p) passes) into
 * f->mean and f->inv_sd; a constant feature is an error.
 */
static void
CoxScales(CoxFit *f)
{
	int			p = f->p;
	double	   *var = palloc0(sizeof(double) * p);

	for (int64 i = 0; i < f->n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
			f->mean[j] += f->data[i * f->ncols + j + 2];
	}
	for (int j = 0; j < p; j++)
		f->mean[j] /= f->n;
	for (int64 i = 0; i < f->n; i++)
	{
		const double *r = f->data + i * f->ncols;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < p; j++)
		{
			double		d = r[j + 2] - f->mean[j];

			var[j] += d * d;
		}
	}
	for (int j = 0; j < p; j++)
	{
		double		sd = sqrt(var[j] / f->n);

		if (!isfinite(f->mean[j]) || !isfinite(sd))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("clm.coxph_fit: feature %d is too large in magnitude to fit", j + 1),
					 errdetail("Its mean or spread overflows."),
					 errhint("Rescale the feature.")));
		if (!(sd > 0))
		{
			for (int64 i = 1; i < f->n; i++)
				if (f->data[i * f->ncols + j + 2] != f->data[j + 2])
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("clm.coxph_fit: feature %d varies too little to fit", j + 1),
							 errdetail("Its spread is below the float8 range (about 1e-154)."),
							 errhint("Rescale the feature.")));
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clm.coxph_fit: feature %d is constant", j + 1),
					 errhint("Drop the feature: a constant has no effect on the hazard ratio.")));
		}
		f->inv_sd[j] = 1.0 / sd;
	}
	pfree(var);
}

/*
 * Collinearity: the information at coef = 0 sums the covariances of the
 * features within the risk sets; a feature that is a linear combination of
 * the features before it (in the data, hence in every risk set) makes it
 * singular.  Checked on its correlation form; raises 22023 naming the
 * feature.
 */
static void
CoxCheckCollinear(int p, const double *hess0)
{
	double	   *corr = palloc(sizeof(double) * p * p),
			   *chol = palloc(sizeof(double) * p * p);
	int			bad = -1;

	for (int a = 0; a < p && bad < 0; a++)
		if (!(hess0[a * p + a] > 0))
			bad = a;
	if (bad < 0)
	{
		for (int a = 0; a < p; a++)
			for (int b = 0; b < p; b++)
				corr[a * p + b] = hess0[a * p + b] / sqrt(hess0[a * p + a] * hess0[b * p + b]);
		bad = clm_cholesky(p, corr, chol, COX_COLLINEAR_TOL);
	}
	if (bad >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm.coxph_fit: feature %d is collinear with the features before it", bad + 1),
				 errdetail("Within the sets of rows at risk at the event times."),
				 errhint("Drop the feature.")));
	pfree(corr);
	pfree(chol);
}

/*
 * Breslow's H0 at x = 0 from the last evaluation's increments log(d / S0),
 * S0 in the shifted scale: exp(x.beta) = exp(eta + eta_max + mean.beta),
 * so each increment is exp(log(d/S0) - eta_max - mean.beta); reversed to
 * ascending time and summed in place.
 */
static void
CoxBaseline(CoxFit *f, const double *beta)
{
	double		shift = f->eta_max,
				cum = 0;

	for (int j = 0; j < f->p; j++)
		shift += f->mean[j] * beta[j];
	for (int64 lo = 0, hi = f->nh - 1; lo < hi; lo++, hi--)
	{
		double		tt = f->htime[lo],
					hh = f->hazard[lo];

		f->htime[lo] = f->htime[hi];
		f->hazard[lo] = f->hazard[hi];
		f->htime[hi] = tt;
		f->hazard[hi] = hh;
	}
	for (int64 i = 0; i < f->nh; i++)
	{
		cum += exp(f->hazard[i] - shift);
		f->hazard[i] = cum;
	}
}

/*
 * Final function: the fit (NULL for an empty group or one without events).
 */
Datum
clm_coxph_final(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	CoxFit		f;
	ClmNewtonResult res;
	int			p;
	int64		events = 0;
	double		null_ll,
				conc;
	double	   *gamma,
			   *grad,
			   *hess,
			   *chol,
			   *cov,
			   *beta,
			   *se,
			   *zv,
			   *pv,
			   *hr;
	TupleDesc	tupdesc;
	Datum		values[15];
	bool		nulls[15] = {0};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	churn_rows_view(fcinfo, 0, &v, CHURN_COX);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clm_coxph_final: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	for (int64 i = 0; i < v.n; i++)
		events += v.data[i * v.ncols + 1] != 0;
	if (events == 0)
	{
		ereport(WARNING,
				(errmsg("clm.coxph_fit: no events, nothing to fit"),
				 errdetail("%lld rows, %lld skipped.", (long long) v.n, (long long) v.skipped)));
		PG_RETURN_NULL();
	}

	/*
	 * sort the rows by duration, descending: in place when called by the
	 * aggregate (FINALFUNC_MODIFY = READ_WRITE), else in a copy
	 */
	if (!AggCheckCallContext(fcinfo, NULL))
	{
		double	   *copy = palloc_extended(sizeof(double) * Max(v.n * v.ncols, 1), MCXT_ALLOC_HUGE);

		memcpy(copy, v.data, sizeof(double) * v.n * v.ncols);
		v.data = copy;
	}
	CoxSortRows((double *) v.data, v.n, v.ncols);

	p = v.ncols - 2;
	memset(&f, 0, sizeof(f));
	f.data = v.data;
	f.n = v.n;
	f.ncols = v.ncols;
	f.p = p;
	f.efron = v.option == CHURN_TIES_EFRON;
	f.eta = palloc_extended(sizeof(double) * v.n, MCXT_ALLOC_HUGE);
	f.htime = palloc_extended(sizeof(double) * v.n, MCXT_ALLOC_HUGE);
	f.hazard = palloc_extended(sizeof(double) * v.n, MCXT_ALLOC_HUGE);
	f.mean = palloc0(sizeof(double) * p);
	f.inv_sd = palloc0(sizeof(double) * p);
	f.s1 = palloc0(sizeof(double) * p);
	f.s2 = palloc0(sizeof(double) * p * p);
	f.a1 = palloc0(sizeof(double) * p);
	f.a2 = palloc0(sizeof(double) * p * p);
	f.c1 = palloc0(sizeof(double) * p);
	f.c2 = palloc0(sizeof(double) * p * p);
	f.zsum = palloc0(sizeof(double) * p);
	gamma = palloc0(sizeof(double) * p);
	grad = palloc0(sizeof(double) * p);
	hess = palloc0(sizeof(double) * p * p);
	chol = palloc0(sizeof(double) * p * p);
	cov = palloc0(sizeof(double) * p * p);
	beta = palloc0(sizeof(double) * p);
	se = palloc0(sizeof(double) * p);
	zv = palloc0(sizeof(double) * p);
	pv = palloc0(sizeof(double) * p);
	hr = palloc0(sizeof(double) * p);
	CoxScales(&f);

	/* Newton's method from coef = 0 */
	null_ll = CoxNewtonEval(gamma, grad, hess, &f);
	CoxCheckCollinear(p, hess);
	res = clm_newton_max(CoxNewtonEval, &f, p, gamma, &null_ll, grad, hess, COX_MAX_ITER,
						 NULL, palloc(sizeof(double) * (2 * p * p + 3 * p)));
	if (!res.converged)
		ereport(WARNING,
				(errmsg("clm.coxph_fit did not converge after %d iterations", res.iterations),
				 errdetail("The partial likelihood may be monotone (a feature separates the events): some coefficients grow without bound.")));

	/*
	 * the last evaluation was at gamma: eta, the hazard increments and the
	 * information are the fit's
	 */
	for (int j = 0; j < p; j++)
		beta[j] = gamma[j] * f.inv_sd[j];
	if (clm_cholesky(p, hess, chol, 0) < 0)
	{
		clm_cholesky_inverse(p, chol, cov, zv);
		for (int j = 0; j < p; j++)
			se[j] = cov[j * p + j] > 0 ? sqrt(cov[j * p + j]) * f.inv_sd[j] : NAN;
	}
	else
		for (int j = 0; j < p; j++)
			se[j] = NAN;
	for (int j = 0; j < p; j++)
	{
		zv[j] = beta[j] / se[j];
		pv[j] = clm_normal_p2(zv[j]);
		hr[j] = exp(beta[j]);
	}
	conc = churn_harrell_c(v.n, v.data, v.data + 1, f.eta, v.ncols, v.ncols, 1, true);
	CoxBaseline(&f, beta);

	values[0] = churn_float8_array(beta, p);
	values[1] = churn_float8_array(se, p);
	values[2] = churn_float8_array(zv, p);
	values[3] = churn_float8_array(pv, p);
	values[4] = churn_float8_array(hr, p);
	values[5] = Float8GetDatum(res.f);
	values[6] = Float8GetDatum(null_ll);
	values[7] = Float8GetDatum(conc);
	nulls[7] = isnan(conc);
	values[8] = Int64GetDatum(v.n);
	values[9] = Int64GetDatum(events);
	values[10] = Int64GetDatum(v.skipped);
	values[11] = Int32GetDatum(res.iterations);
	values[12] = BoolGetDatum(res.converged);
	values[13] = churn_float8_array(f.htime, (int) f.nh);
	values[14] = churn_float8_array(f.hazard, (int) f.nh);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* features . coef of a clm.coxph model (finite), or false (NULL result) */
static bool
CoxEta(FunctionCallInfo fcinfo, const char *fname, double *eta)
{
	const double *x,
			   *coef;
	int			p;

	*eta = 0;
	if (!churn_features(PG_GETARG_ARRAYTYPE_P(1), &p, &x, fname))
		return false;
	if (churn_model_coef(PG_GETARG_HEAPTUPLEHEADER(0), fname, p, &coef) == NULL)
		return false;
	for (int j = 0; j < p; j++)
		*eta += coef[j] * x[j];
	churn_check_eta(*eta, fname);
	return true;
}

/*
 * clm.coxph_risk(model, features) = exp(features . coef), the hazard ratio
 * against x = 0 (22003 when it overflows, as exp() does).
 */
Datum
clm_coxph_risk(PG_FUNCTION_ARGS)
{
	double		eta,
				risk;

	if (!CoxEta(fcinfo, "clm.coxph_risk", &eta))
		PG_RETURN_NULL();
	risk = exp(eta);
	if (isinf(risk))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("clm.coxph_risk: value out of range: overflow"),
				 errdetail("features . coef = %g.", eta)));
	PG_RETURN_FLOAT8(risk);
}

/*
 * clm.coxph_survival(model, features, t) = exp(-H0(t) exp(features . coef))
 * with Breslow's H0 (a step function: its value at the last event time
 * <= t; 0 before the first), computed as exp(-exp(log H0(t) + eta)) when
 * the risk exp(eta) overflows.  The baseline of a model written by hand
 * is checked: times finite and increasing, cumulative hazards finite, not
 * negative and not decreasing (22023).
 */
Datum
clm_coxph_survival(PG_FUNCTION_ARGS)
{
	double		t = PG_GETARG_FLOAT8(2),
				eta,
				h0 = 0;
	HeapTupleHeader model = PG_GETARG_HEAPTUPLEHEADER(0);
	bool		tnull,
				hnull;
	ArrayType  *ta,
			   *ha;
	const double *tv,
			   *hv;
	int			nt;

	churn_check_finite(t, "t");
	if (t < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm.coxph_survival: t must not be negative"),
				 errdetail("Got %g.", t)));
	if (!CoxEta(fcinfo, "clm.coxph_survival", &eta))
		PG_RETURN_NULL();
	{
		Datum		td = GetAttributeByName(model, "baseline_time", &tnull);
		Datum		hd = GetAttributeByName(model, "baseline_cumhaz", &hnull);

		if (tnull || hnull)
			PG_RETURN_NULL();
		ta = DatumGetArrayTypeP(td);
		ha = DatumGetArrayTypeP(hd);
	}
	nt = ARR_NDIM(ta) == 0 ? 0 : ARR_DIMS(ta)[0];
	if (ARR_NDIM(ta) > 1 || ARR_HASNULL(ta) || ARR_HASNULL(ha) || ARR_NDIM(ha) != ARR_NDIM(ta) ||
		(nt > 0 && ARR_DIMS(ha)[0] != nt))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("clm.coxph_survival: baseline_time and baseline_cumhaz must be arrays of one length without NULLs")));
	tv = churn_array_data(ta);
	hv = churn_array_data(ha);
	for (int i = 0; i < nt; i++)
	{
		if (!isfinite(tv[i]) || tv[i] < 0 || (i > 0 && !(tv[i] > tv[i - 1])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clm.coxph_survival: baseline_time must hold finite, non-negative, strictly increasing times"),
					 errdetail("Element %d is %g.", i + 1, tv[i])));
		if (!isfinite(hv[i]) || hv[i] < 0 || (i > 0 && hv[i] < hv[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clm.coxph_survival: baseline_cumhaz must hold finite, non-negative, non-decreasing values"),
					 errdetail("Element %d is %g.", i + 1, hv[i])));
		if (tv[i] <= t)
			h0 = hv[i];
	}
	if (h0 == 0)
		PG_RETURN_FLOAT8(1.0);
	if (isinf(exp(eta)))
		PG_RETURN_FLOAT8(exp(-exp(log(h0) + eta)));
	PG_RETURN_FLOAT8(exp(-h0 * exp(eta)));
}
