/*-------------------------------------------------------------------------
 *
 * logit.c
 *	  Logistic regression as an aggregate: clm.logit_fit(label, features
 *	  [, weight [, l2]]) -> clm.logit, and clm.logit_predict.
 *
 * The fit maximises
 *	  sum_i w_i [y_i eta_i - log(1 + exp(eta_i))] - l2/2 sum_{j>=1} beta_j^2,
 *	  eta_i = beta_0 + x_i . beta
 * (case weights w_i; the intercept is not penalised; l2 = 1/C of
 * scikit-learn's LogisticRegression) by Newton's method (iteratively
 * reweighted least squares) with step halving, to full convergence: until
 * the Newton decrement g' H^-1 g is at the level of rounding.  It works on
 * centred and scaled features (z_j = (x_j - mean_j) / sd_j, weighted), which
 * makes the Hessian well conditioned, and maps the coefficients and their
 * covariance back to the original scale.  Standard errors come from the
 * inverse of the (penalised) observed information at the optimum; z =
 * coef / std_err; p-values are two-sided normal.
 *
 * condition_no is the 2-norm condition number of the weighted design
 * matrix [1, X] (as statsmodels' "Cond. No." without weights):
 * sqrt(largest / smallest eigenvalue of X'WX).
 *
 * Errors and warnings: a feature that is (numerically) a linear
 * combination of the intercept and the features before it raises 22023
 * naming it, unless l2 > 0; perfect separation (every fitted probability
 * within 1e-10 of its label) or no convergence in 100 iterations end the
 * fit with converged = false and a WARNING suggesting l2; a group without
 * both labels (positive weight) gives NULL and a WARNING.
 *
 * IDENTIFICATION
 *	  src/logit.c
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
#include "utils/lsyscache.h"

#include "churn.h"
#include "linalg.h"
#include "special.h"

#define LOGIT_MAX_ITER 100
#define LOGIT_COLLINEAR_TOL 1e-10

PG_FUNCTION_INFO_V1(clm_logit_accum);
PG_FUNCTION_INFO_V1(clm_logit_final);
PG_FUNCTION_INFO_V1(clm_logit_predict);

/*
 * Transition: (state, label, features [, weight [, l2]]).  A NULL label,
 * features array, feature, weight or l2 counts the row as skipped.
 */
Datum
clm_logit_accum(PG_FUNCTION_ARGS)
{
	int			nargs = PG_NARGS();
	double		row[CHURN_MAX_FEATURES + 2];
	double		l2 = 0;
	const double *x;
	int			p;

	for (int i = 1; i < nargs; i++)
		if (PG_ARGISNULL(i))
			return churn_rows_add(fcinfo, CHURN_LOGIT, 0, NULL, false, 0, 0);
	if (!churn_features(PG_GETARG_ARRAYTYPE_P(2), &p, &x, "clm.logit_fit"))
		return churn_rows_add(fcinfo, CHURN_LOGIT, 0, NULL, false, 0, 0);
	row[0] = PG_GETARG_BOOL(1) ? 1.0 : 0.0;
	row[1] = 1.0;
	if (nargs > 3)
	{
		row[1] = PG_GETARG_FLOAT8(3);
		churn_check_finite(row[1], "weight");
		if (row[1] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight must not be negative"),
					 errdetail("Got %g.", row[1])));
	}
	if (nargs > 4)
	{
		l2 = PG_GETARG_FLOAT8(4);
		churn_check_finite(l2, "l2");
		if (l2 < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("l2 must not be negative"),
					 errdetail("Got %g.", l2)));
		l2 += 0.0;
	}
	memcpy(row + 2, x, sizeof(double) * p);
	return churn_rows_add(fcinfo, CHURN_LOGIT, p + 2, row, true, 0, l2);
}

/* the data of a fit and its working arrays */
typedef struct LogitFit
{
	const double *data;
	int64		n;
	int			ncols;
	int			k;				/* parameters: intercept + p */
	double		wscale[2];		/* powers of two applied to every weight */
	double	   *mean;			/* k: mean[0] = 0 */
	double	   *inv_sd;			/* k: inv_sd[0] = 1 */
	double	   *pen;			/* k: l2 penalty in the scaled coordinates */
	bool		separated;		/* every fitted probability within 1e-10 of its label */
	double		unpen;			/* log-likelihood without the penalty, last evaluation */
} LogitFit;

/*
 * Penalised log-likelihood at gamma (scaled coordinates) with its gradient
 * and observed information (a ClmNewtonFn); f->unpen gets the unpenalised
 * log-likelihood and f->separated whether every fitted probability is
 * within 1e-10 of its label.
 */
static double
LogitEval(const double *gamma, double *grad, double *hess, void *arg)
{
	LogitFit   *f = (LogitFit *) arg;
	int			k = f->k;
	double		ll = 0;
	double		z[CHURN_MAX_FEATURES + 1];
	bool		separated = true;
	ClmLogSum	ls;

	clm_logsum_init(&ls);
	memset(grad, 0, sizeof(double) * k);
	memset(hess, 0, sizeof(double) * k * k);
	z[0] = 1.0;
	for (int64 i = 0; i < f->n; i++)
	{
		const double *r = f->data + i * f->ncols;
		double		y = r[0],
					w = r[1] * f->wscale[0] * f->wscale[1],
					eta = gamma[0],
					mu,
					e,
					res,
					ww;

		CHECK_FOR_INTERRUPTS();	/* O(p^2) per row: up to 10^6 operations */
		if (w == 0)
			continue;
		for (int j = 1; j < k; j++)
		{
			z[j] = (r[j + 1] - f->mean[j]) * f->inv_sd[j];
			eta += z[j] * gamma[j];
		}
		/*
		 * log(1 + exp(eta)) = max(eta, 0) + log(1 + e), e = exp(-|eta|): one
		 * exp per row, and the logs of the 1 + e in [1, 2] taken 64 at a
		 * time (special.h)
		 */
		e = exp(-fabs(eta));
		ll += w * (y * eta - (eta > 0 ? eta : 0));
		clm_logsum_add(&ls, w, 1.0 + e);
		mu = eta >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
		if (fabs(mu - y) > 1e-10)
			separated = false;
		res = w * (y - mu);
		ww = w * mu * (1.0 - mu);
		for (int a = 0; a < k; a++)
		{
			double		wa = ww * z[a];
			double	   *h = hess + a * k;

			grad[a] += res * z[a];
			for (int b = a; b < k; b++)
				h[b] += wa * z[b];
		}
	}
	ll -= clm_logsum_total(&ls);
	f->unpen = ll;
	for (int j = 1; j < k; j++)
		ll -= 0.5 * f->pen[j] * gamma[j] * gamma[j];
	for (int a = 0; a < k; a++)
	{
		grad[a] -= f->pen[a] * gamma[a];
		hess[a * k + a] += f->pen[a];
		for (int b = 0; b < a; b++)
			hess[a * k + b] = hess[b * k + a];
	}
	f->separated = separated;
	return ll;
}

/*
 * Whether feature j (1-based) takes more than one value over the rows of
 * positive weight: tells a constant from one whose spread underflows.
 */
static bool
LogitVaries(const LogitFit *f, int j)
{
	bool		seen = false;
	double		first = 0;

	for (int64 i = 0; i < f->n; i++)
	{
		const double *r = f->data + i * f->ncols;

		if (!(r[1] > 0))
			continue;
		if (!seen)
		{
			first = r[j + 1];
			seen = true;
		}
		else if (r[j + 1] != first)
			return true;
	}
	return false;
}

/*
 * Weighted means and standard deviations of the features (two O(n p)
 * passes) into f->mean, f->inv_sd and the penalty in scaled coordinates
 * f->pen.  A constant feature is an error without l2 (with l2 its scale
 * is 1: the penalty keeps its coefficient at 0).
 */
static void
LogitScales(LogitFit *f, double wsum, double l2)
{
	int			k = f->k;
	double	   *var = palloc0(sizeof(double) * k);

	for (int64 i = 0; i < f->n; i++)
	{
		const double *r = f->data + i * f->ncols;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 1; j < k; j++)
			f->mean[j] += r[1] * f->wscale[0] * f->wscale[1] * r[j + 1];
	}
	for (int j = 1; j < k; j++)
		f->mean[j] /= wsum;
	for (int64 i = 0; i < f->n; i++)
	{
		const double *r = f->data + i * f->ncols;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 1; j < k; j++)
		{
			double		d = r[j + 1] - f->mean[j];

			var[j] += r[1] * f->wscale[0] * f->wscale[1] * d * d;
		}
	}
	f->inv_sd[0] = 1.0;
	for (int j = 1; j < k; j++)
	{
		double		sd = sqrt(var[j] / wsum);

		if (!isfinite(f->mean[j]) || !isfinite(sd))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("clm.logit_fit: feature %d is too large in magnitude to fit", j),
					 errdetail("Its weighted mean or spread overflows."),
					 errhint("Rescale the feature.")));

		if (!(sd > 0))
		{
			if (l2 == 0 && LogitVaries(f, j))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("clm.logit_fit: feature %d varies too little to fit", j),
						 errdetail("Its spread is below the float8 range (about 1e-154)."),
						 errhint("Rescale the feature.")));
			if (l2 == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("clm.logit_fit: feature %d is constant (collinear with the intercept)", j),
						 errhint("Drop the feature, or fit with an l2 penalty.")));
			sd = 1.0;
		}
		f->inv_sd[j] = 1.0 / sd;
		f->pen[j] = l2 * f->inv_sd[j] * f->inv_sd[j];
	}
	pfree(var);
}

/*
 * At the intercept-only start every fitted probability is the rate pbar,
 * so the first information matrix is pbar (1 - pbar) Z'WZ + penalty,
 * Z = [1, scaled features].  From it, without a pass of their own: the
 * collinearity check (without l2: a feature that is a linear combination
 * of the intercept and the features before it raises 22023 naming it) and
 * the condition number of the design, sqrt(largest / smallest eigenvalue)
 * of X'WX = A' Z'WZ A with [1, x] = [1, z] A, A = [[1, m'], [0, diag(sd)]].
 */
static double
LogitDesignChecks(LogitFit *f, const double *hess0, double pbar, double wsum, double l2)
{
	int			k = f->k,
				p = k - 1;
	double	   *ztz = palloc(sizeof(double) * k * k),
			   *xtx = palloc(sizeof(double) * k * k),
			   *work = palloc(sizeof(double) * k * k),
			   *eig = palloc(sizeof(double) * k);
	double		lo = INFINITY,
				hi = 0;

	for (int a = 0; a < k; a++)
		for (int b = 0; b < k; b++)
			ztz[a * k + b] = (hess0[a * k + b] - (a == b ? f->pen[a] : 0)) / (pbar * (1 - pbar));
	if (l2 == 0 && p > 0)
	{
		double	   *corr = palloc(sizeof(double) * p * p);
		int			bad;

		for (int a = 0; a < p; a++)
			for (int b = 0; b < p; b++)
				corr[a * p + b] = ztz[(a + 1) * k + b + 1] / wsum;
		bad = clm_cholesky(p, corr, work, LOGIT_COLLINEAR_TOL);
		if (bad >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clm.logit_fit: feature %d is collinear with the intercept and the features before it", bad + 1),
					 errhint("Drop the feature, or fit with an l2 penalty.")));
		pfree(corr);
	}
	for (int a = 0; a < k; a++)
		for (int b = 0; b < k; b++)
		{
			double		sum = 0;

			CHECK_FOR_INTERRUPTS();

			for (int c = 0; c < k; c++)
			{
				double		aca = c == 0 ? (a == 0 ? 1.0 : f->mean[a]) :
				(c == a ? 1.0 / f->inv_sd[a] : 0.0);

				if (aca == 0)
					continue;
				for (int d = 0; d < k; d++)
				{
					double		adb = d == 0 ? (b == 0 ? 1.0 : f->mean[b]) :
					(d == b ? 1.0 / f->inv_sd[b] : 0.0);

					sum += aca * ztz[c * k + d] * adb;
				}
			}
			xtx[a * k + b] = sum;
		}
	clm_sym_eigenvalues(k, xtx, eig, work);
	for (int j = 0; j < k; j++)
	{
		lo = Min(lo, eig[j]);
		hi = Max(hi, eig[j]);
	}
	pfree(ztz);
	pfree(xtx);
	pfree(work);
	pfree(eig);
	return lo > 0 ? sqrt(hi / lo) : INFINITY;
}

/*
 * Coefficients and standard errors on the original scale: beta = T gamma,
 * cov = T H^-1 T' with T's row 0 = (1, -m_1/s_1, ...), row j = e_j / s_j.
 * Standard errors are NaN when the information is not positive definite.
 */
static void
LogitBackTransform(const LogitFit *f, const double *gamma, const double *hess,
				   double *beta, double *se)
{
	int			k = f->k;
	double	   *chol = palloc(sizeof(double) * k * k),
			   *cov = palloc(sizeof(double) * k * k),
			   *work = palloc(sizeof(double) * k);

	beta[0] = gamma[0];
	for (int j = 1; j < k; j++)
	{
		beta[j] = gamma[j] * f->inv_sd[j];
		beta[0] -= beta[j] * f->mean[j];
	}
	if (clm_cholesky(k, hess, chol, 0) < 0)
	{
		clm_cholesky_inverse(k, chol, cov, work);
		/* var(beta_0) = t0' cov t0, var(beta_j) = cov_jj / s_j^2 */
		{
			double		var = 0;

			for (int b = 0; b < k; b++)
				for (int c = 0; c < k; c++)
				{
					double		tb = b == 0 ? 1.0 : -f->mean[b] * f->inv_sd[b];
					double		tc = c == 0 ? 1.0 : -f->mean[c] * f->inv_sd[c];

					var += tb * cov[b * k + c] * tc;
				}
			se[0] = var > 0 ? sqrt(var) : NAN;
		}
		for (int j = 1; j < k; j++)
			se[j] = cov[j * k + j] > 0 ? sqrt(cov[j * k + j]) * f->inv_sd[j] : NAN;
	}
	else
		for (int j = 0; j < k; j++)
			se[j] = NAN;
	pfree(chol);
	pfree(cov);
	pfree(work);
}

/*
 * Final function: the fit (NULL for an empty group or one without both
 * labels).
 */
Datum
clm_logit_final(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	LogitFit	f;
	ClmNewtonResult res;
	int			k;
	double		wsum = 0,
				wy = 0,
				wmax = 0,
				wscale[2] = {1, 1},
				ll0,
				null_ll,
				cond;
	double	   *gamma,
			   *grad,
			   *hess,
			   *beta,
			   *se,
			   *zv,
			   *pv,
			   *orat;
	TupleDesc	tupdesc;
	Datum		values[12];
	bool		nulls[12] = {0};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	churn_rows_view(fcinfo, 0, &v, CHURN_LOGIT);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clm_logit_final: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	/*
	 * The fit is invariant to the scale of the weights (with l2 scaled
	 * alike) but for its convergence test, which has an absolute part, and
	 * the range of the sums: weights whose largest is below 1 or above 2^512
	 * are scaled exactly by a power of two to a largest in [1, 2), and the
	 * log-likelihoods and standard errors scaled back.
	 */
	for (int64 i = 0; i < v.n; i++)
		wmax = Max(wmax, v.data[i * v.ncols + 1]);
	if (wmax > 0 && (wmax < 1 || wmax > 0x1p512))
	{
		int			shift = -ilogb(wmax);	/* in -1023 .. 1074: two factors */

		wscale[0] = ldexp(1.0, shift / 2);
		wscale[1] = ldexp(1.0, shift - shift / 2);
	}
	for (int64 i = 0; i < v.n; i++)
	{
		const double *r = v.data + i * v.ncols;

		wsum += r[1] * wscale[0] * wscale[1];
		wy += r[1] * wscale[0] * wscale[1] * r[0];
	}
	if (v.n == 0 || !(wy > 0) || !(wy < wsum))
	{
		ereport(WARNING,
				(errmsg("clm.logit_fit: %s", v.n == 0 ? "no rows to fit" :
						wy > 0 ? "every label is true, nothing to fit" :
						"no label is true (no events), nothing to fit"),
				 errdetail("%lld rows, %lld skipped.", (long long) v.n, (long long) v.skipped)));
		PG_RETURN_NULL();
	}
	k = v.ncols - 1;
	memset(&f, 0, sizeof(f));
	f.data = v.data;
	f.n = v.n;
	f.ncols = v.ncols;
	f.k = k;
	f.wscale[0] = wscale[0];
	f.wscale[1] = wscale[1];
	f.mean = palloc0(sizeof(double) * k);
	f.inv_sd = palloc0(sizeof(double) * k);
	f.pen = palloc0(sizeof(double) * k);
	gamma = palloc0(sizeof(double) * k);
	grad = palloc0(sizeof(double) * k);
	hess = palloc0(sizeof(double) * k * k);
	beta = palloc0(sizeof(double) * k);
	se = palloc0(sizeof(double) * k);
	zv = palloc0(sizeof(double) * k);
	pv = palloc0(sizeof(double) * k);
	orat = palloc0(sizeof(double) * k);
	if (isinf(v.param * wscale[0] * wscale[1]))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("clm.logit_fit: l2 is out of range for weights this small"),
				 errdetail("l2 %g, largest weight %g.", v.param, wmax)));
	LogitScales(&f, wsum, v.param * wscale[0] * wscale[1]);

	/* Newton's method from the intercept-only fit */
	gamma[0] = log(wy / (wsum - wy));
	null_ll = wy * log(wy / wsum) + (wsum - wy) * log((wsum - wy) / wsum);
	ll0 = LogitEval(gamma, grad, hess, &f);
	cond = LogitDesignChecks(&f, hess, wy / wsum, wsum, v.param * wscale[0] * wscale[1]);
	res = clm_newton_max(LogitEval, &f, k, gamma, &ll0, grad, hess, LOGIT_MAX_ITER,
						 &f.separated, palloc(sizeof(double) * (2 * k * k + 3 * k)));
	if (!res.converged)
		ereport(WARNING,
				(errmsg("clm.logit_fit did not converge after %d iterations", res.iterations),
				 errdetail(f.separated ?
						   "The labels are perfectly separated by the features: the coefficients grow without bound." :
						   "The labels may be (quasi-)separated by the features: some coefficients grow without bound."),
				 errhint("Fit with an l2 penalty, e.g. clm.logit_fit(label, features, 1.0, 0.1).")));

	LogitBackTransform(&f, gamma, hess, beta, se);
	if (wscale[0] != 1 || wscale[1] != 1)
	{
		f.unpen = f.unpen / wscale[0] / wscale[1];
		null_ll = null_ll / wscale[0] / wscale[1];
		for (int j = 0; j < k; j++)
			se[j] *= sqrt(wscale[0]) * sqrt(wscale[1]);
		if (!isfinite(f.unpen) || !isfinite(null_ll))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("clm.logit_fit: the log-likelihood is out of range"),
					 errdetail("The weights are too large (largest %g).", wmax),
					 errhint("Rescale the weights.")));
	}
	for (int j = 0; j < k; j++)
	{
		zv[j] = beta[j] / se[j];
		pv[j] = clm_normal_p2(zv[j]);
		orat[j] = exp(beta[j]);
	}
	values[0] = churn_float8_array(beta, k);
	values[1] = churn_float8_array(se, k);
	values[2] = churn_float8_array(zv, k);
	values[3] = churn_float8_array(pv, k);
	values[4] = churn_float8_array(orat, k);
	values[5] = Float8GetDatum(f.unpen);
	values[6] = Float8GetDatum(null_ll);
	values[7] = Int64GetDatum(v.n);
	values[8] = Int64GetDatum(v.skipped);
	values[9] = Int32GetDatum(res.iterations);
	values[10] = BoolGetDatum(res.converged);
	values[11] = Float8GetDatum(cond);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * clm.logit_predict(model, features): the fitted probability
 * 1 / (1 + exp(-(coef[1] + features . coef[2:]))).  NULL when the model has
 * no coefficients or a feature is NULL.
 */
Datum
clm_logit_predict(PG_FUNCTION_ARGS)
{
	const double *x,
			   *coef;
	int			p;
	double		eta;

	if (!churn_features(PG_GETARG_ARRAYTYPE_P(1), &p, &x, "clm.logit_predict"))
		PG_RETURN_NULL();
	if (churn_model_coef(PG_GETARG_HEAPTUPLEHEADER(0), "clm.logit_predict", p + 1, &coef) == NULL)
		PG_RETURN_NULL();
	eta = coef[0];
	for (int j = 0; j < p; j++)
		eta += coef[j + 1] * x[j];
	churn_check_eta(eta, "clm.logit_predict");
	PG_RETURN_FLOAT8(1.0 / (1.0 + exp(-eta)));
}
