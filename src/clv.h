/*-------------------------------------------------------------------------
 *
 * clv.h
 *	  Probabilistic CLV ("buy 'til you die") models: BG/NBD, modified
 *	  BG/NBD, Pareto/NBD, BG/BB and Gamma-Gamma.  Shared between the fit
 *	  state type (clv_state.c), the fits (clv_fit.c) and scoring
 *	  (clv_score.c).
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

typedef enum ClvKind
{
	CLV_BGNBD = 1,
	CLV_MBGNBD = 2,
	CLV_PARETO = 3,
	CLV_BGBB = 4,
	CLV_GG = 5
} ClvKind;

#define CLV_NKINDS 5

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

extern const char *clv_kind_name(ClvKind kind);

/*
 * BG/BB n_periods and horizons are at most this many periods: its
 * likelihood and P(X(n) = x) sum one term per period, and the lgamma
 * differences of its closed forms lose their precision far beyond.
 */
#define CLV_BGBB_MAX_PERIODS 1000000

/* validate one customer's (x, tx, T) (or (x, m)) for a model; ereports */
extern void clv_check_summary(ClvKind kind, double x, double tx, double T);

/* log A0 of the Pareto/NBD likelihood (clv_fit.c) */
extern double clv_pareto_log_a0(double r, double al, double s, double be,
								double x, double tx, double T);

/* BG/BB log-likelihood of one pattern (clv_fit.c) */
extern double clv_bgbb_loglik(double al, double be, double ga, double de,
							  double x, double tx, double n);

/* sort patterns in (x, tx, T) order, the fits' canonical order */
extern void clv_sort_patterns(ClvPattern *pat, int32 n);
extern bool clv_patterns_sorted(const ClvPattern *pat, int32 n);

/* get a state's contents (no copy of the patterns when possible) */
extern void clv_state_data(Datum d, ClvData *out);

/* fit a model to the patterns (sorted in place); returns the composite */
extern Datum clv_fit(FunctionCallInfo fcinfo, ClvData *data);

#endif							/* CLM_CLV_H */
