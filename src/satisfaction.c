/*-------------------------------------------------------------------------
 *
 * satisfaction.c
 *	  Customer satisfaction scores: the clm.nps, clm.csat and clm.ces
 *	  aggregates and the two-group comparisons clm.nps_diff and
 *	  clm.csat_diff.
 *
 * The state of the three aggregates is one bigint[] of 12 elements (a real
 * type, so the aggregates combine in parallel query and on Citus, and a
 * state can be stored):
 *
 *	  [1]		 tag: 0 while no response was counted, else
 *				 100 * kind + top score of the scale (NPS 110 = 0..10,
 *				 CSAT 205 = 1..5, CES 307 = 1..7, ...)
 *	  [2 + s]	 responses with score s, s = 0 .. 10
 *
 * The transition functions update the counts in place when called by an
 * aggregate (the state lives in the aggregate's memory context, as core's
 * float8_accum does): one increment per row, no allocation.  Called
 * directly they work on a copy.
 *
 * Scales (documented in the README):
 *	  NPS	0..10; promoters 9-10, passives 7-8, detractors 0-6
 *	  CSAT	1..k, k = 4 .. 10; satisfied = the top two boxes k - 1 and k
 *	  CES	1..k, k = 5 or 7; agree = the scores above the midpoint
 *			(5-7 of 1-7, 4-5 of 1-5)
 *
 * IDENTIFICATION
 *	  src/satisfaction.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "funcapi.h"
#include "utils/array.h"

#include "clm.h"

#define SURVEY_SLOTS 12			/* tag + scores 0 .. 10 */
#define SURVEY_MAX_SCORE 10
#define SURVEY_Z95 1.959963984540054

typedef enum SurveyKind
{
	SURVEY_NPS = 1,
	SURVEY_CSAT = 2,
	SURVEY_CES = 3
} SurveyKind;

#define SurveyTag(kind, top) ((int64) (kind) * 100 + (top))

PG_FUNCTION_INFO_V1(clm_nps_accum);
PG_FUNCTION_INFO_V1(clm_csat_accum);
PG_FUNCTION_INFO_V1(clm_ces_accum);
PG_FUNCTION_INFO_V1(clm_survey_combine);
PG_FUNCTION_INFO_V1(clm_nps_final);
PG_FUNCTION_INFO_V1(clm_csat_final);
PG_FUNCTION_INFO_V1(clm_ces_final);
PG_FUNCTION_INFO_V1(clm_nps_diff);
PG_FUNCTION_INFO_V1(clm_csat_diff);

static const char *
SurveyName(SurveyKind kind)
{
	switch (kind)
	{
		case SURVEY_NPS:
			return "NPS";
		case SURVEY_CSAT:
			return "CSAT";
		case SURVEY_CES:
			return "CES";
	}
	return "survey";
}

/*
 * Counts of a state: a one-dimensional bigint[] of SURVEY_SLOTS elements
 * without NULLs (any lower bound), else 22023.  Cheap enough for every row.
 */
static inline int64 *
SurveyCounts(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != SURVEY_SLOTS || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid satisfaction state"),
				 errdetail("The state must be a one-dimensional bigint array of %d elements without NULLs.",
						   SURVEY_SLOTS)));
	return (int64 *) ((char *) a + ARR_OVERHEAD_NONULLS(1));
}

/*
 * Lowest score of a tag's scale.
 */
static inline int
SurveyLow(int64 tag)
{
	return tag / 100 == SURVEY_NPS ? 0 : 1;
}

/*
 * Whether a tag names a scale one of the aggregates writes.
 */
static bool
SurveyTagValid(int64 tag)
{
	int64		top = tag % 100;

	switch (tag / 100)
	{
		case SURVEY_NPS:
			return top == 10;
		case SURVEY_CSAT:
			return top >= 4 && top <= 10;
		case SURVEY_CES:
			return top == 5 || top == 7;
	}
	return false;
}

/*
 * Full check of a state read by a combine or final function (a state may
 * be written by hand): a known tag, non-negative counts, no response
 * outside the tag's scale, and no response at all under tag 0.
 */
static void
SurveyValidate(const int64 *d)
{
	int64		tag = d[0];
	int			s,
				low = 0,
				top = -1;

	if (tag != 0)
	{
		if (!SurveyTagValid(tag))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid satisfaction state"),
					 errdetail("Unknown scale tag " INT64_FORMAT ".", tag)));
		low = SurveyLow(tag);
		top = (int) (tag % 100);
	}
	for (s = 0; s <= SURVEY_MAX_SCORE; s++)
	{
		if (d[1 + s] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid satisfaction state"),
					 errdetail("The count of score %d is negative.", s)));
		if (d[1 + s] > 0 && (s < low || s > top))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid satisfaction state"),
					 errdetail("Score %d is outside the state's scale.", s)));
	}
}

/*
 * The state argument, updated in place inside an aggregate (or window
 * aggregate: what AggCheckCallContext tests, written inline because this
 * runs once per row), else a copy.  A state the aggregate keeps is a plain
 * 4-byte-header array: it is only detoasted when it is not.
 */
static inline ArrayType *
SurveyState(FunctionCallInfo fcinfo)
{
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(0);

	if (fcinfo->context == NULL ||
		!(IsA(fcinfo->context, AggState) || IsA(fcinfo->context, WindowAggState)))
		return PG_GETARG_ARRAYTYPE_P_COPY(0);
	if (unlikely(VARATT_IS_EXTENDED(v)))
		v = pg_detoast_datum(v);
	return (ArrayType *) v;
}

/*
 * Count one response: score must lie on the scale (22003); the state's tag
 * is set by the first response and must stay the same (one scale per
 * group).
 */
static Datum
SurveyAccum(FunctionCallInfo fcinfo, SurveyKind kind, int32 top)
{
	ArrayType  *a = SurveyState(fcinfo);
	int64	   *d = SurveyCounts(a);
	int32		score = PG_GETARG_INT32(1);
	int64		tag = SurveyTag(kind, top);
	int			low = kind == SURVEY_NPS ? 0 : 1;

	if (score < low || score > top)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s score %d is outside the scale %d to %d",
						SurveyName(kind), score, low, top)));
	if (unlikely(d[0] != tag))
	{
		if (d[0] != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("all %s responses of a group must use the same scale", SurveyName(kind)),
					 errdetail("The state holds tag " INT64_FORMAT ", this row has tag " INT64_FORMAT ".",
							   d[0], tag)));
		SurveyValidate(d);		/* tag 0: no response yet */
		d[0] = tag;
	}
	if (unlikely(d[1 + score] == PG_INT64_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s response count out of range", SurveyName(kind))));
	d[1 + score]++;
	PG_RETURN_ARRAYTYPE_P(a);
}

/*
 * The scale argument of clm.csat / clm.ces (argument 2, when given):
 * NULL 22004, a scale the score does not support 22023.
 */
static int32
SurveyScale(FunctionCallInfo fcinfo, SurveyKind kind, int32 dflt)
{
	int32		scale;

	if (PG_NARGS() < 3)
		return dflt;
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s scale must not be NULL", SurveyName(kind))));
	scale = PG_GETARG_INT32(2);
	if (kind == SURVEY_CSAT ? (scale < 4 || scale > 10) : (scale != 5 && scale != 7))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported %s scale %d", SurveyName(kind), scale),
				 errhint(kind == SURVEY_CSAT ?
						 "CSAT scales run from 1 to 4 .. 10 (scale 4 to 10)." :
						 "CES scales run from 1 to 5 or 1 to 7 (scale 5 or 7).")));
	return scale;
}

/*
 * clm.nps transition (STRICT): scores 0 .. 10.
 */
Datum
clm_nps_accum(PG_FUNCTION_ARGS)
{
	return SurveyAccum(fcinfo, SURVEY_NPS, 10);
}

/*
 * clm.csat transition: (state, score) STRICT with the scale 1..5, or
 * (state, score, scale) non-strict: the scale is checked on every row, a
 * NULL score is skipped.
 */
Datum
clm_csat_accum(PG_FUNCTION_ARGS)
{
	int32		scale;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	scale = SurveyScale(fcinfo, SURVEY_CSAT, 5);
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	return SurveyAccum(fcinfo, SURVEY_CSAT, scale);
}

/*
 * clm.ces transition: as clm_csat_accum, scale 1..7 by default.
 */
Datum
clm_ces_accum(PG_FUNCTION_ARGS)
{
	int32		scale;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	scale = SurveyScale(fcinfo, SURVEY_CES, 7);
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	return SurveyAccum(fcinfo, SURVEY_CES, scale);
}

/*
 * Combine (STRICT, all three aggregates): counts added, tags equal or one
 * of them 0 (no response).
 */
Datum
clm_survey_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = SurveyState(fcinfo);
	int64	   *da = SurveyCounts(a),
			   *db = SurveyCounts(PG_GETARG_ARRAYTYPE_P(1));
	int			s;

	SurveyValidate(da);
	SurveyValidate(db);
	if (da[0] != db[0] && da[0] != 0 && db[0] != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine satisfaction states of different scales"),
				 errdetail("Tags " INT64_FORMAT " and " INT64_FORMAT ".", da[0], db[0])));
	if (da[0] == 0)
		da[0] = db[0];
	for (s = 1; s < SURVEY_SLOTS; s++)
		if (pg_add_s64_overflow(da[s], db[s], &da[s]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("satisfaction response count out of range")));
	PG_RETURN_ARRAYTYPE_P(a);
}

/*
 * Sum of the counts of scores lo .. hi (22003 past bigint).
 */
static int64
SurveySum(const int64 *d, int lo, int hi)
{
	int64		n = 0;
	int			s;

	for (s = lo; s <= hi; s++)
		if (pg_add_s64_overflow(n, d[1 + s], &n))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("satisfaction response count out of range")));
	return n;
}

/*
 * The validated counts of a final function's state, of the given kind
 * (or without any response).
 */
static const int64 *
SurveyFinalCounts(FunctionCallInfo fcinfo, SurveyKind kind)
{
	const int64 *d = SurveyCounts(PG_GETARG_ARRAYTYPE_P(0));

	SurveyValidate(d);
	if (d[0] != 0 && d[0] / 100 != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s state", SurveyName(kind)),
				 errdetail("The state holds responses of another score (tag " INT64_FORMAT ").", d[0])));
	return d;
}

/*
 * A row of the function's composite result type.
 */
static Datum
SurveyRow(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clm: satisfaction function must return a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != natts)
		elog(ERROR, "clm: unexpected satisfaction row type");
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * NPS and its standard error from the counts: with p and d the promoter
 * and detractor shares of n responses, nps = 100 (p - d) and
 * std_err = 100 sqrt(((p + d) - (p - d)^2) / n), the standard deviation of
 * a response scored +1 / 0 / -1 over sqrt(n).
 */
static void
NpsFigures(int64 n, int64 promoters, int64 detractors, double *nps, double *se)
{
	double		p = (double) promoters / (double) n,
				d = (double) detractors / (double) n,
				v = (p + d) - (p - d) * (p - d);

	*nps = 100.0 * (p - d);
	*se = 100.0 * sqrt(fmax(v, 0.0) / (double) n);	/* v >= 0 but for rounding */
}

/*
 * clm.nps final: responses, promoters, passives, detractors, nps, std_err,
 * and the 95% interval nps -/+ z std_err.
 */
Datum
clm_nps_final(PG_FUNCTION_ARGS)
{
	const int64 *d = SurveyFinalCounts(fcinfo, SURVEY_NPS);
	int64		detractors = SurveySum(d, 0, 6),
				passives = SurveySum(d, 7, 8),
				promoters = SurveySum(d, 9, 10),
				n = SurveySum(d, 0, 10);
	Datum		values[8];
	bool		nulls[8] = {false};

	values[0] = Int64GetDatum(n);
	values[1] = Int64GetDatum(promoters);
	values[2] = Int64GetDatum(passives);
	values[3] = Int64GetDatum(detractors);
	if (n > 0)
	{
		double		nps,
					se;

		NpsFigures(n, promoters, detractors, &nps, &se);
		values[4] = Float8GetDatum(nps);
		values[5] = Float8GetDatum(se);
		values[6] = Float8GetDatum(nps - SURVEY_Z95 * se);
		values[7] = Float8GetDatum(nps + SURVEY_Z95 * se);
	}
	else
		nulls[4] = nulls[5] = nulls[6] = nulls[7] = true;
	PG_RETURN_DATUM(SurveyRow(fcinfo, values, nulls, 8));
}

/*
 * clm.csat final: responses, satisfied (the top two boxes), csat, and the
 * Wilson 95% score interval, all in percent:
 *	 center = (p + z^2 / 2n) / (1 + z^2 / n)
 *	 half	= z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
 */
Datum
clm_csat_final(PG_FUNCTION_ARGS)
{
	const int64 *d = SurveyFinalCounts(fcinfo, SURVEY_CSAT);
	int			top = (int) (d[0] % 100);
	int64		n = SurveySum(d, 0, 10),
				satisfied = d[0] == 0 ? 0 : SurveySum(d, top - 1, top);
	Datum		values[5];
	bool		nulls[5] = {false};

	values[0] = Int64GetDatum(n);
	values[1] = Int64GetDatum(satisfied);
	if (n > 0)
	{
		double		nn = (double) n,
					p = (double) satisfied / nn,
					z2 = SURVEY_Z95 * SURVEY_Z95,
					denom = 1.0 + z2 / nn,
					center = (p + z2 / (2.0 * nn)) / denom,
					half = SURVEY_Z95 / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));

		values[2] = Float8GetDatum(100.0 * p);
		/* the interval lies in [0, 1]; clamp rounding at p = 0 or 1 */
		values[3] = Float8GetDatum(100.0 * fmax(center - half, 0.0));
		values[4] = Float8GetDatum(100.0 * fmin(center + half, 1.0));
	}
	else
		nulls[2] = nulls[3] = nulls[4] = true;
	PG_RETURN_DATUM(SurveyRow(fcinfo, values, nulls, 5));
}

/*
 * clm.ces final: responses, agree (scores above the midpoint of 1..k),
 * ces = 100 agree / responses and the mean score.
 */
Datum
clm_ces_final(PG_FUNCTION_ARGS)
{
	const int64 *d = SurveyFinalCounts(fcinfo, SURVEY_CES);
	int			top = (int) (d[0] % 100);
	int64		n = SurveySum(d, 0, 10),
				agree = d[0] == 0 ? 0 : SurveySum(d, (top + 1) / 2 + 1, top);
	Datum		values[4];
	bool		nulls[4] = {false};

	values[0] = Int64GetDatum(n);
	values[1] = Int64GetDatum(agree);
	if (n > 0)
	{
		double		sum = 0;
		int			s;

		for (s = 1; s <= top; s++)
			sum += (double) s * (double) d[1 + s];
		values[2] = Float8GetDatum(100.0 * (double) agree / (double) n);
		values[3] = Float8GetDatum(sum / (double) n);
	}
	else
		nulls[2] = nulls[3] = true;
	PG_RETURN_DATUM(SurveyRow(fcinfo, values, nulls, 4));
}

/*
 * A count field of a result row: NULL 22004, negative 22023.
 */
static int64
SurveyField(HeapTupleHeader row, int attno, const char *type, const char *field)
{
	bool		isnull;
	Datum		v = GetAttributeByNum(row, attno, &isnull);
	int64		x;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s.%s must not be NULL", type, field)));
	x = DatumGetInt64(v);
	if (x < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.%s must not be negative", type, field),
				 errdetail("Got " INT64_FORMAT ".", x)));
	return x;
}

/*
 * The row (difference, std_err, z, p_value); z and p_value NULL when the
 * standard error is 0, everything NULL when a group has no response.
 */
static Datum
SurveyDiffRow(FunctionCallInfo fcinfo, bool empty, double diff, double se)
{
	Datum		values[4];
	bool		nulls[4] = {false};

	if (empty)
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = true;
	else
	{
		values[0] = Float8GetDatum(diff);
		values[1] = Float8GetDatum(se);
		if (se > 0)
		{
			double		z = diff / se;

			values[2] = Float8GetDatum(z);
			/* two-sided normal tail: 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2) */
			values[3] = Float8GetDatum(erfc(fabs(z) / M_SQRT2));
		}
		else
			nulls[2] = nulls[3] = true;
	}
	PG_RETURN_DATUM(SurveyRow(fcinfo, values, nulls, 4));
}

/*
 * Counts of an nps_result: responses = promoters + passives + detractors.
 */
static void
NpsCounts(HeapTupleHeader row, int64 *n, int64 *promoters, int64 *detractors)
{
	int64		passives,
				sum;

	*n = SurveyField(row, 1, "nps_result", "responses");
	*promoters = SurveyField(row, 2, "nps_result", "promoters");
	passives = SurveyField(row, 3, "nps_result", "passives");
	*detractors = SurveyField(row, 4, "nps_result", "detractors");
	if (pg_add_s64_overflow(*promoters, passives, &sum) ||
		pg_add_s64_overflow(sum, *detractors, &sum) || sum != *n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent nps_result"),
				 errdetail("responses must be promoters + passives + detractors.")));
}

/*
 * clm.nps_diff(a, b): difference = nps_a - nps_b, std_err =
 * sqrt(std_err_a^2 + std_err_b^2) (independent samples), z =
 * difference / std_err, two-sided normal p-value; computed from the counts.
 */
Datum
clm_nps_diff(PG_FUNCTION_ARGS)
{
	int64		na,
				pa,
				da,
				nb,
				pb,
				db;
	double		npsa,
				sea,
				npsb,
				seb;

	NpsCounts(PG_GETARG_HEAPTUPLEHEADER(0), &na, &pa, &da);
	NpsCounts(PG_GETARG_HEAPTUPLEHEADER(1), &nb, &pb, &db);
	if (na == 0 || nb == 0)
		return SurveyDiffRow(fcinfo, true, 0, 0);
	NpsFigures(na, pa, da, &npsa, &sea);
	NpsFigures(nb, pb, db, &npsb, &seb);
	return SurveyDiffRow(fcinfo, false, npsa - npsb, sqrt(sea * sea + seb * seb));
}

/*
 * clm.csat_diff(a, b): the two-proportion z-test.  difference = csat_a -
 * csat_b (percentage points); std_err = 100 sqrt(q (1 - q) (1/n_a + 1/n_b))
 * with q the pooled share satisfied (the standard error under equal
 * rates); z = difference / std_err; two-sided normal p-value.
 */
Datum
clm_csat_diff(PG_FUNCTION_ARGS)
{
	HeapTupleHeader a = PG_GETARG_HEAPTUPLEHEADER(0),
				b = PG_GETARG_HEAPTUPLEHEADER(1);
	int64		na = SurveyField(a, 1, "csat_result", "responses"),
				sa = SurveyField(a, 2, "csat_result", "satisfied"),
				nb = SurveyField(b, 1, "csat_result", "responses"),
				sb = SurveyField(b, 2, "csat_result", "satisfied");
	double		q;

	if (sa > na || sb > nb)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent csat_result"),
				 errdetail("satisfied must not exceed responses.")));
	if (na == 0 || nb == 0)
		return SurveyDiffRow(fcinfo, true, 0, 0);
	q = ((double) sa + (double) sb) / ((double) na + (double) nb);
	return SurveyDiffRow(fcinfo, false,
						 100.0 * ((double) sa / (double) na - (double) sb / (double) nb),
						 100.0 * sqrt(q * (1.0 - q) * (1.0 / (double) na + 1.0 / (double) nb)));
}
