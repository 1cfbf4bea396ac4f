/*-------------------------------------------------------------------------
 *
 * scores.c
 *	  Rank-based quintile scores of the scoring pipeline (clm.scores).
 *
 * A population of n values gets scores 1..5 by rank: a value whose count of
 * strictly smaller values is c scores 1 + floor(5 c / n), so equal values
 * always share a score and the result does not depend on row order.  The
 * score is monotone in the value, so it is stored as four breakpoints: score
 * k starts at the smallest value with at least ceil((k - 1) n / 5) smaller
 * values.  A full refresh computes the breakpoints of all customers; an
 * incremental refresh scores the changed customers against the breakpoints
 * of the last full refresh.
 *
 * IDENTIFICATION
 *	  src/scores.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "clm.h"

#define CLM_SCORE_BREAKS 4

PG_FUNCTION_INFO_V1(clm_quintile_breaks);
PG_FUNCTION_INFO_V1(clm_quintile_score);

/*
 * Deconstruct a one-dimensional float8 array; "what" names it in errors.
 */
static void
CheckFloat8Array(ArrayType *a, const char *what, Datum **values, bool **nulls, int *n)
{
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	if (ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be a double precision array", what)));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  values, nulls, n);
}

/*
 * clm.quintile_breaks(sorted_values float8[]) -> float8[4]
 *
 * Breakpoints of the rank-based quintile scores of the population given in
 * ascending order.  Element k-1 (k = 2..5) is the smallest value with at
 * least ceil((k-1) n / 5) smaller values, NULL when no value has that many
 * (e.g. many ties at the top).
 */
Datum
clm_quintile_breaks(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	Datum		out[CLM_SCORE_BREAKS];
	bool		outnull[CLM_SCORE_BREAKS];
	int			dims[1] = {CLM_SCORE_BREAKS};
	int			lbs[1] = {1};
	int			i;
	int			k;
	int			j = 0;

	CheckFloat8Array(a, "sorted_values", &values, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("sorted_values must not contain NULL")));
		clm_check_finite(DatumGetFloat8(values[i]), "each of sorted_values");
		if (i > 0 && DatumGetFloat8(values[i]) < DatumGetFloat8(values[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sorted_values must be in ascending order"),
					 errdetail("Element %d (%g) is smaller than element %d (%g).",
							   i + 1, DatumGetFloat8(values[i]), i, DatumGetFloat8(values[i - 1])),
					 errhint("Pass array_agg(v ORDER BY v).")));
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	for (k = 2; k <= 5; k++)
	{
		/* ceil((k - 1) n / 5) smaller values needed, without overflow */
		int64		need = ((int64) (k - 1) * n + 4) / 5;

		outnull[k - 2] = true;
		out[k - 2] = (Datum) 0;
		if (need >= n)
			continue;
		/* the element at 0-based index need has exactly need elements before it */
		if (j < need)
			j = (int) need;
		/* if it ties with its predecessor, move to the next larger value */
		while (j < n && j > 0 &&
			   DatumGetFloat8(values[j]) == DatumGetFloat8(values[j - 1]))
		{
			j++;
			if ((j & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		if (j < n)
		{
			out[k - 2] = values[j];
			outnull[k - 2] = false;
		}
	}

	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, outnull, 1, dims, lbs, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}

/*
 * clm.quintile_score(value float8, breaks float8[]) -> smallint
 *
 * 1 + the number of non-NULL breakpoints that value reaches.
 */
Datum
clm_quintile_score(PG_FUNCTION_ARGS)
{
	float8		v = PG_GETARG_FLOAT8(0);
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int			i;
	int16		score = 1;

	clm_check_finite(v, "value");
	CheckFloat8Array(a, "breaks", &values, &nulls, &n);
	if (n != CLM_SCORE_BREAKS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("breaks must have %d elements, not %d", CLM_SCORE_BREAKS, n)));
	/*
	 * Breaks as clm.quintile_breaks makes them: finite, ascending, NULLs
	 * (never reached) only at the end.  A NaN break compared false both
	 * ways, so {NaN, 1, 2, 3} scored 5 as 4; {1, NULL, 0.5, 2} passed the
	 * order check (each break was compared with its neighbour only) and
	 * scored 0.7 as 2, below the first break.
	 */
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		if (i > 0 && nulls[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("NULL breaks must come after all the others"),
					 errdetail("Break %d is NULL and break %d is not.", i, i + 1)));
		clm_check_finite(DatumGetFloat8(values[i]), "each of breaks");
		if (i > 0 && DatumGetFloat8(values[i]) < DatumGetFloat8(values[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("breaks must be in ascending order")));
		if (v >= DatumGetFloat8(values[i]))
			score++;
	}
	PG_RETURN_INT16(score);
}
