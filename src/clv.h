/*-------------------------------------------------------------------------
 *
 * clv.h
 *	  Probabilistic CLV ("buy 'til you die") models: BG/NBD, modified
 *	  BG/NBD, Pareto/NBD, BG/BB and Gamma-Gamma, around one table of
 *	  models (clv_models.c).
 *
 * The CLV files, bottom to top (each uses only those below it):
 *
 *	  clv_pattern.c   customer patterns: sorting in (x, tx, T) order
 *	  clv_lik.c       likelihood data shared by the models' likelihoods
 *	  clv_bgnbd.c, clv_pareto.c, clv_bgbb.c, clv_gg.c
 *	                  each model's math: likelihood and gradient, scoring
 *	  clv_models.c    THE TABLE: per model its name, parameters, start
 *	                  values, likelihood and gradient, scoring pieces;
 *	                  and the validation of a customer's summary
 *	  clv_state.c     the fit state type clm.clv_state and its aggregates'
 *	                  transition and combine functions
 *	  clv_fit.c       the fit aggregates' final functions (the optimiser
 *	                  driver) and clm.clv_loglik_gradient
 *	  clv_score.c     the scoring functions (P(alive), expected purchases,
 *	                  CLV, ...), generic over the table
 *	  clv_holdout.c   clm.calibration_holdout (calibration/holdout split)
 *
 * Adding a model: a ClvKind value (never renumber: states store it), its
 * math in a clv_<model>.c declared in clv_math.h, one entry in the table,
 * and its SQL (src/clv.sql binds the clm_<model>_* symbols).
 *
 * IDENTIFICATION
 *	  src/clv.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_CLV_H
#define CLM_CLV_H

#include "postgres.h"
#include "fmgr.h"

#include "clm.h"
#include "optim.h"

/* a model's number in stored states (flat and binary forms): never renumber */
typedef enum ClvKind
{
	CLV_BGNBD = 1,
	CLV_MBGNBD = 2,
	CLV_PARETO = 3,
	CLV_BGBB = 4,
	CLV_GG = 5
} ClvKind;

#define CLV_NKINDS 5

/* what a model's customer summary is (the patterns' three values) */
typedef enum ClvShape
{
	CLV_CONTINUOUS,				/* (x, tx, T) in continuous time */
	CLV_DISCRETE,				/* (x, tx, n) in whole periods (BG/BB) */
	CLV_SPEND					/* (x, m, 0): repeat purchases, mean spend */
} ClvShape;

/*
 * One collapsed customer pattern: (x, tx, T) for the continuous-time
 * models, (x, tx, n) for BG/BB, (x, m, 0) for Gamma-Gamma; w = total
 * weight of the customers with this pattern.
 */
typedef struct ClvPattern
{
	double		x;
	double		tx;
	double		T;
	double		w;
} ClvPattern;

/* a read-only view of a fit state's patterns (flat or expanded) */
typedef struct ClvData
{
	ClvKind		kind;
	double		penalizer;
	int64		rows;			/* input rows accumulated */
	int32		npat;
	ClvPattern *pat;
	bool		sorted;			/* pat is known to be in (x, tx, T) order */
} ClvData;

/*
 * BG/BB n_periods and horizons are at most this many periods: its
 * likelihood and P(X(n) = x) sum one term per period, and the lgamma
 * differences of its closed forms lose their precision far beyond.
 */
#define CLV_BGBB_MAX_PERIODS 1000000

/* ---- the table of models (clv_models.c) ---- */

#define CLV_MAX_PARAMS 4
#define CLV_NSTARTS 3

/* how a start value scales with the data (ClvModel.start_scale) */
typedef enum ClvStartScale
{
	CLV_START_FIXED,			/* as written */
	CLV_START_PER_RATE,			/* divided by the mean purchase rate */
	CLV_START_MEAN_T,			/* times the mean T */
	CLV_START_MEAN_SPEND		/* times the mean spend */
} ClvStartScale;

/* the likelihood data of one fit (clv_math.h) */
typedef struct FitData FitData;

typedef struct ClvModel
{
	ClvKind		kind;
	const char *name;			/* as in the SQL names, clm.<name>_fit */
	ClvShape	shape;
	int			nparams;
	/* parameter names, in the order of the model type's fields */
	const char *params[CLV_MAX_PARAMS];

	/* fitting: the optimiser starts from each start in turn */
	double		starts[CLV_NSTARTS][CLV_MAX_PARAMS];
	ClvStartScale start_scale[CLV_MAX_PARAMS];
	/* model-specific likelihood data (NULL: none) */
	void		(*prepare) (FitData *d);
	/* mean negative log-likelihood + penalty and its gradient in log-parameters */
	ClmObjectiveFn nll;
	/* own minimiser (NULL: clm_optim_minimize on nll) */
	ClmOptimResult (*minimize) (FitData *d, double *lp, const ClmOptimOptions *opt);
	/* nll with its analytic Hessian for the standard errors (NULL: numerical) */
	double		(*nll_hessian) (const FitData *d, const double *lp, double *grad, double *hess);

	/* scoring (purchase models; p = the parameters, natural scale) */
	double		(*p_alive) (const double *p, double x, double tx, double T);
	/* E[X(T, T + t] | x, tx, T] */
	double		(*cond_expected) (const double *p, double t, double x, double tx, double T);
	/* optional: cond_expected at n horizons in one pass */
	void		(*cond_expected_multi) (const double *p, const double *t, int n,
										double x, double tx, double T, double *out);
	/*
	 * optional: cond_expected / p_alive at n <= 64 horizons as fac * e[k],
	 * depending on the customer only through (x, T); false when it does not
	 * apply (clm.clv caches these)
	 */
	bool		(*cond_cores) (const double *p, const double *t, int n,
							   double x, double T, double *fac, double *e);
	/* E[X(t)] of a new customer */
	double		(*new_expected) (const double *p, double t);
	/* P(X(t) = n) of a new customer */
	double		(*prob_purchases) (const double *p, int n, double t);
	/* upper bound of the expected purchases in t (the mean without dropout) */
	double		(*expected_bound) (const double *p, double t, double x, double T);

	/* spend models: E[mean spend | x, m] */
	double		(*expected_spend) (const double *p, double x, double m);
} ClvModel;

/* the table, in ClvKind order */
extern const ClvModel clv_models[CLV_NKINDS];

/* the table entry of a kind (a kind read from outside is checked first) */
static inline const ClvModel *
clv_model(ClvKind kind)
{
	Assert(kind >= 1 && kind <= CLV_NKINDS);
	return &clv_models[kind - 1];
}

/* name of a model kind (as in the aggregate names, without _fit); "?" if none */
extern const char *clv_kind_name(ClvKind kind);

/* validate one customer's (x, tx, T) (or (x, m)) for a model; ereports */
extern void clv_check_summary(ClvKind kind, double x, double tx, double T);

/*
 * Error unless v is finite and not negative.
 */
static inline void
clv_check_nonnegative(double v, const char *what)
{
	clm_check_finite(v, what);
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what),
				 errdetail("Got %g.", v)));
}

/* ---- patterns (clv_pattern.c) ---- */

/*
 * Order patterns by (x, tx, T).
 */
static inline int
clv_pattern_cmp(const void *a, const void *b)
{
	const ClvPattern *p = a,
			   *q = b;

	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	if (p->tx != q->tx)
		return p->tx < q->tx ? -1 : 1;
	if (p->T != q->T)
		return p->T < q->T ? -1 : 1;
	return 0;
}

/* sort patterns in (x, tx, T) order, the fits' canonical order */
extern void clv_sort_patterns(ClvPattern *pat, int32 n);
extern bool clv_patterns_sorted(const ClvPattern *pat, int32 n);

/* ---- the state type (clv_state.c) ---- */

/* get a state's contents (no copy of the patterns when possible) */
extern void clv_state_data(Datum d, ClvData *out);

#endif							/* CLM_CLV_H */
