/*-------------------------------------------------------------------------
 *
 * churn.h
 *	  The state of clm's churn-model aggregates (clm.model_rows): the rows
 *	  a fit or an evaluation needs, packed as float8s, and the functions
 *	  that the fits (logit.c, coxph.c) and the evaluation aggregates
 *	  (model_eval.c) share.
 *
 * A Newton fit passes over its rows several times, so the state keeps the
 * rows themselves: ncols doubles per row, by kind
 *	  CHURN_LOGIT  label (0/1), weight, feature 1..p    (ncols = p + 2)
 *	  CHURN_COX    duration, event (0/1), feature 1..p  (ncols = p + 2)
 *	  CHURN_SCORE  score, label (0/1)                   (ncols = 2)
 *	  CHURN_SURV   duration, event (0/1), risk          (ncols = 3)
 * plus the count of skipped rows (a NULL somewhere) and one parameter per
 * fit (the l2 penalty; the ties method).  See model_rows.c for the flat
 * and expanded forms.
 *
 * IDENTIFICATION
 *	  src/churn.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLM_CHURN_H
#define CLM_CHURN_H

#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "access/htup.h"
#include "utils/array.h"

#define CHURN_LOGIT 1
#define CHURN_COX 2
#define CHURN_SCORE 3
#define CHURN_SURV 4

#define CHURN_TIES_EFRON 0
#define CHURN_TIES_BRESLOW 1

/* at most this many features per row */
#define CHURN_MAX_FEATURES 1000

/* read-only view of a state, flat or expanded */
typedef struct ChurnView
{
	int			kind;
	int			option;			/* CHURN_TIES_* for CHURN_COX */
	bool		has_param;		/* param (and option) fixed by a row */
	int			ncols;			/* 0 while no row was kept */
	int64		n;				/* rows kept */
	int64		skipped;		/* rows with a NULL */
	double		param;			/* l2 penalty for CHURN_LOGIT */
	const double *data;			/* n * ncols doubles */
} ChurnView;

/*
 * Append one row (ncols doubles, already checked) to the state in argument
 * 0 of an aggregate transition function, or count a skipped row when row
 * is NULL; creates the state when the argument is NULL.  Returns the new
 * state datum.  option/param are checked to be the same in every row when
 * has_param.
 */
extern Datum churn_rows_add(FunctionCallInfo fcinfo, int kind, int ncols,
							const double *row, bool has_param, int option,
							double param);

/* state in argument argno as a view (NULL argument: not allowed) */
extern void churn_rows_view(FunctionCallInfo fcinfo, int argno, ChurnView *v,
							int expected_kind);

/*
 * A float8[] features argument: its length and values, or false when it
 * has a NULL element.  Multidimensional arrays raise 2202E; NaN or
 * infinite values raise 22023.
 */
extern bool churn_features(ArrayType *a, int *nfeat, const double **vals,
						   const char *fname);

/* a label / weight / duration check helper: finite, else 22023 */
extern void churn_check_finite(double v, const char *what);
extern double churn_duration(double d);

/* a sort key and the row it belongs to */
typedef struct ChurnKey
{
	uint64		key;
	int64		idx;
} ChurnKey;

/*
 * Key of a double that sorts in numeric order as an unsigned integer
 * (-0 and +0 are one key; finite values only); ~key sorts descending.
 */
static inline uint64
churn_key_asc(double v)
{
	uint64		u;

	v += 0.0;
	memcpy(&u, &v, sizeof(u));
	return (u & UINT64CONST(0x8000000000000000)) ? ~u : (u | UINT64CONST(0x8000000000000000));
}

/* stable radix sort of n keys, ascending (keysort.c) */
extern void churn_key_sort(ChurnKey *k, int64 n);

/*
 * Harrell's concordance of (duration, event, risk) rows: pairs where the
 * earlier duration is an event (at equal durations an event is earlier
 * than a censoring) count 1 when the earlier one has the higher risk, 1/2
 * at equal risks.  Returns NaN when there is no comparable pair.  The
 * rows are read through strides (stride doubles between rows);
 * sorted_desc says they are already in descending order of duration.
 */
extern double churn_harrell_c(int64 n, const double *duration,
							  const double *event, const double *risk,
							  int stride_d, int stride_e, int stride_r,
							  bool sorted_desc);

/* the values of a float8[] (ARR_DATA_PTR without its sign-compare warning) */
static inline const double *
churn_array_data(ArrayType *a)
{
	return (const double *) ((char *) a + (ARR_HASNULL(a) ? (Size) a->dataoffset :
										   (Size) ARR_OVERHEAD_NONULLS(ARR_NDIM(a))));
}

/* a float8[] of n values */
extern Datum churn_float8_array(const double *v, int n);

/*
 * The coef array of a model row (clm.logit, clm.coxph), checked to hold
 * nfeat finite values (else 22023); NULL when the model's coef is NULL.
 */
extern ArrayType *churn_model_coef(HeapTupleHeader model, const char *fname,
								   int nfeat, const double **coef);

/* 22003 unless the linear predictor eta of a model is finite */
extern void churn_check_eta(double eta, const char *fname);

#endif							/* CLM_CHURN_H */
