/*-------------------------------------------------------------------------
 *
 * clv_math.h
 *	  Private to the CLV models' math: the likelihood data of a fit
 *	  (FitData), the helpers the likelihoods share (clv_lik.c) and each
 *	  model's functions, which the table of models (clv_models.c) lists.
 *	  See clv.h for the order of the CLV files.
 *
 * IDENTIFICATION
 *	  src/clv_math.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_CLV_MATH_H
#define CLM_CLV_MATH_H

#include "clv.h"
#include "optim.h"

/* below this distance of a (or gamma) from 1 the scoring limit is used */
#define SING_EPS 1e-5

/*
 * The likelihood data of one fit: the patterns sorted in (x, tx, T)
 * order, grouped by frequency, and the indexes a model's prepare function
 * builds.
 */
struct FitData
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
};

/* ---- clv_lik.c ---- */
extern void clv_build_values(FitData *d);
extern void clv_value_logs(const FitData *d, double al);
extern double clv_mean_nll(const FitData *d, int n, const double *lp, double ll,
						   const double *g, double *grad);

/* ---- clv_bgnbd.c: BG/NBD and modified BG/NBD ---- */
extern double clv_bgnbd_nll(const double *lp, double *grad, void *arg);
extern double clv_bgnbd_p_alive(const double *p, double x, double tx, double T);
extern double clv_bgnbd_cond_expected(const double *p, double t, double x, double tx, double T);
extern bool clv_bgnbd_cond_cores(const double *p, const double *t, int n,
								 double x, double T, double *fac, double *e);
extern double clv_bgnbd_new_expected(const double *p, double t);
extern double clv_bgnbd_prob_purchases(const double *p, int n, double t);

extern double clv_mbgnbd_nll(const double *lp, double *grad, void *arg);
extern double clv_mbgnbd_p_alive(const double *p, double x, double tx, double T);
extern double clv_mbgnbd_cond_expected(const double *p, double t, double x, double tx, double T);
extern bool clv_mbgnbd_cond_cores(const double *p, const double *t, int n,
								  double x, double T, double *fac, double *e);
extern double clv_mbgnbd_new_expected(const double *p, double t);
extern double clv_mbgnbd_prob_purchases(const double *p, int n, double t);

/* ---- clv_pareto.c: Pareto/NBD ---- */
extern void clv_pareto_prepare(FitData *d);
extern double clv_pareto_nll(const double *lp, double *grad, void *arg);
extern double clv_pareto_p_alive(const double *p, double x, double tx, double T);
extern double clv_pareto_cond_expected(const double *p, double t, double x, double tx, double T);
extern void clv_pareto_cond_expected_multi(const double *p, const double *t, int n,
										   double x, double tx, double T, double *out);
extern double clv_pareto_new_expected(const double *p, double t);
extern double clv_pareto_prob_purchases(const double *p, int n, double t);

/* ---- clv_bgbb.c: BG/BB ---- */
extern double clv_bgbb_nll(const double *lp, double *grad, void *arg);
extern double clv_bgbb_p_alive(const double *p, double x, double tx, double T);
extern double clv_bgbb_cond_expected(const double *p, double t, double x, double tx, double T);
extern double clv_bgbb_new_expected(const double *p, double t);
extern double clv_bgbb_prob_purchases(const double *p, int n, double t);

/* ---- clv_gg.c: Gamma-Gamma ---- */
extern void clv_gg_prepare(FitData *d);
extern double clv_gg_nll(const double *lp, double *grad, void *arg);
extern double clv_gg_nll_hessian(const FitData *d, const double *lp, double *grad, double *hess);
extern ClmOptimResult clv_gg_minimize(FitData *d, double *lp, const ClmOptimOptions *opt);
extern double clv_gg_expected_spend(const double *g, double x, double m);

#endif							/* CLM_CLV_MATH_H */
