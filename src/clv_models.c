/*-------------------------------------------------------------------------
 *
 * clv_models.c
 *	  The table of CLV models: for each model its name, the shape of its
 *	  customer summaries, its parameters, the fit's start values, its
 *	  likelihood and gradient, and its scoring pieces.  The fit driver
 *	  (clv_fit.c), the state type (clv_state.c) and the scoring functions
 *	  (clv_score.c) are generic over this table; each model's math is in
 *	  its own file (clv_bgnbd.c, clv_pareto.c, clv_bgbb.c, clv_gg.c).
 *
 * Adding a model: a ClvKind value (clv.h), its math (declared in
 * clv_math.h), one entry below, and its SQL in src/clv.sql.
 *
 * IDENTIFICATION
 *	  src/clv_models.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clv_math.h"

/*
 * Upper bound of the expected purchases in the next t of a customer with
 * x purchases by T (a new customer: x = T = 0): the mean without dropout,
 * (r + x) t / (alpha + T), for the Poisson-gamma purchase models.
 */
static double
PoissonGammaBound(const double *p, double t, double x, double T)
{
	return (p[0] + x) * t / (p[1] + T);
}

/* the same for BG/BB: at most one purchase per period */
static double
PerPeriodBound(const double *p, double t, double x, double T)
{
	return t;
}

/*
 * The start values: the purchase rate (alpha of the Poisson-gamma models)
 * matched to the data, the dropout scale of Pareto/NBD to the mean T and
 * Gamma-Gamma's scale to the mean spend; then two alternatives.
 */
const ClvModel clv_models[CLV_NKINDS] = {
	{
		.kind = CLV_BGNBD,
		.name = "bgnbd",
		.shape = CLV_CONTINUOUS,
		.nparams = 4,
		.params = {"r", "alpha", "a", "b"},
		.starts = {{1.0, 1.0, 1.0, 1.0}, {0.3, 0.3, 0.5, 3.0}, {3.0, 3.0, 3.0, 0.5}},
		.start_scale = {CLV_START_FIXED, CLV_START_PER_RATE, CLV_START_FIXED, CLV_START_FIXED},
		.prepare = clv_build_values,
		.nll = clv_bgnbd_nll,
		.p_alive = clv_bgnbd_p_alive,
		.cond_expected = clv_bgnbd_cond_expected,
		.cond_cores = clv_bgnbd_cond_cores,
		.new_expected = clv_bgnbd_new_expected,
		.prob_purchases = clv_bgnbd_prob_purchases,
		.expected_bound = PoissonGammaBound,
	},
	{
		.kind = CLV_MBGNBD,
		.name = "mbgnbd",
		.shape = CLV_CONTINUOUS,
		.nparams = 4,
		.params = {"r", "alpha", "a", "b"},
		.starts = {{1.0, 1.0, 1.0, 1.0}, {0.3, 0.3, 0.5, 3.0}, {3.0, 3.0, 3.0, 0.5}},
		.start_scale = {CLV_START_FIXED, CLV_START_PER_RATE, CLV_START_FIXED, CLV_START_FIXED},
		.prepare = clv_build_values,
		.nll = clv_mbgnbd_nll,
		.p_alive = clv_mbgnbd_p_alive,
		.cond_expected = clv_mbgnbd_cond_expected,
		.cond_cores = clv_mbgnbd_cond_cores,
		.new_expected = clv_mbgnbd_new_expected,
		.prob_purchases = clv_mbgnbd_prob_purchases,
		.expected_bound = PoissonGammaBound,
	},
	{
		.kind = CLV_PARETO,
		.name = "pareto_nbd",
		.shape = CLV_CONTINUOUS,
		.nparams = 4,
		.params = {"r", "alpha", "s", "beta"},
		.starts = {{1.0, 1.0, 1.0, 1.0}, {0.3, 0.3, 0.5, 0.3}, {3.0, 3.0, 3.0, 3.0}},
		.start_scale = {CLV_START_FIXED, CLV_START_PER_RATE, CLV_START_FIXED, CLV_START_MEAN_T},
		.prepare = clv_pareto_prepare,
		.nll = clv_pareto_nll,
		.p_alive = clv_pareto_p_alive,
		.cond_expected = clv_pareto_cond_expected,
		.cond_expected_multi = clv_pareto_cond_expected_multi,
		.new_expected = clv_pareto_new_expected,
		.prob_purchases = clv_pareto_prob_purchases,
		.expected_bound = PoissonGammaBound,
	},
	{
		.kind = CLV_BGBB,
		.name = "bgbb",
		.shape = CLV_DISCRETE,
		.nparams = 4,
		.params = {"alpha", "beta", "gamma", "delta"},
		.starts = {{1.0, 1.0, 1.0, 1.0}, {0.5, 0.5, 0.5, 3.0}, {3.0, 3.0, 3.0, 0.5}},
		.start_scale = {CLV_START_FIXED, CLV_START_FIXED, CLV_START_FIXED, CLV_START_FIXED},
		.nll = clv_bgbb_nll,
		.p_alive = clv_bgbb_p_alive,
		.cond_expected = clv_bgbb_cond_expected,
		.new_expected = clv_bgbb_new_expected,
		.prob_purchases = clv_bgbb_prob_purchases,
		.expected_bound = PerPeriodBound,
	},
	{
		.kind = CLV_GG,
		.name = "gamma_gamma",
		.shape = CLV_SPEND,
		.nparams = 3,
		.params = {"p", "q", "v"},
		.starts = {{1.0, 2.0, 1.0}, {5.0, 4.0, 0.6}, {0.5, 1.5, 0.25}},
		.start_scale = {CLV_START_FIXED, CLV_START_FIXED, CLV_START_MEAN_SPEND},
		.prepare = clv_gg_prepare,
		.nll = clv_gg_nll,
		.minimize = clv_gg_minimize,
		.nll_hessian = clv_gg_nll_hessian,
		.expected_spend = clv_gg_expected_spend,
	},
};

/*
 * Name of a model kind (as in the aggregate names, without _fit).
 */
const char *
clv_kind_name(ClvKind kind)
{
	if (kind < 1 || kind > CLV_NKINDS)
		return "?";
	return clv_model(kind)->name;
}

/*
 * Error unless v is a whole number.
 */
static inline void
CheckInteger(double v, const char *what)
{
	if (v != floor(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a whole number", what),
				 errdetail("Got %g.", v)));
}

/*
 * Validate one customer's summary for a model (also used by scoring).
 */
void
clv_check_summary(ClvKind kind, double x, double tx, double T)
{
	const ClvModel *m = clv_model(kind);

	if (m->shape == CLV_SPEND)
	{
		clm_check_finite(x, "frequency");
		clm_check_finite(tx, "monetary");
		CheckInteger(x, "frequency");
		if (x <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("frequency must be positive for the Gamma-Gamma model"),
					 errdetail("Got %g.", x),
					 errhint("Fit the spend model on repeat customers only (WHERE frequency > 0).")));
		if (!(tx > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("monetary must be positive for the Gamma-Gamma model"),
					 errdetail("Got %g.", tx),
					 errhint("Filter out customers without positive mean repeat spend (WHERE monetary > 0).")));
		return;
	}
	clv_check_nonnegative(x, "frequency");
	clv_check_nonnegative(tx, "recency");
	clv_check_nonnegative(T, m->shape == CLV_DISCRETE ? "n_periods" : "t");
	CheckInteger(x, "frequency");
	if (tx > T)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must not exceed %s", m->shape == CLV_DISCRETE ? "n_periods" : "t"),
				 errdetail("Got recency %g and %s %g.", tx,
						   m->shape == CLV_DISCRETE ? "n_periods" : "t", T)));
	if (x == 0 && tx != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must be 0 when frequency is 0"),
				 errdetail("Got recency %g.", tx)));
	if (m->shape == CLV_DISCRETE)
	{
		CheckInteger(tx, "recency");
		CheckInteger(T, "n_periods");
		if (T > CLV_BGBB_MAX_PERIODS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("n_periods must not exceed %d for the BG/BB model",
							CLV_BGBB_MAX_PERIODS),
					 errdetail("Got %g.", T)));
		if (x > tx)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("frequency must not exceed recency in the BG/BB model"),
					 errdetail("Got frequency %g and recency %g (recency is the period of the last transaction).", x, tx)));
	}
	else if (x > 0 && tx == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency must be positive when frequency is positive"),
				 errdetail("Got frequency %g.", x)));
}
