/*-------------------------------------------------------------------------
 *
 * model_eval.c
 *	  Evaluation of churn scores: clm.auc, clm.concordance (Harrell's C),
 *	  clm.brier, and the gains / lift table (clm.gains_agg, clm.gains).
 *
 * clm.auc, clm.concordance and clm.gains_agg keep their rows in a
 * clm.model_rows state (model_rows.c); clm.brier keeps a float8[] of
 * {rows, sum of squared errors}.
 *
 * IDENTIFICATION
 *	  src/model_eval.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"

#include "churn.h"

PG_FUNCTION_INFO_V1(clm_score_accum);
PG_FUNCTION_INFO_V1(clm_surv_accum);
PG_FUNCTION_INFO_V1(clm_auc_final);
PG_FUNCTION_INFO_V1(clm_concordance_final);
PG_FUNCTION_INFO_V1(clm_gains_final);
PG_FUNCTION_INFO_V1(clm_gains);
PG_FUNCTION_INFO_V1(clm_brier_accum);
PG_FUNCTION_INFO_V1(clm_brier_combine);
PG_FUNCTION_INFO_V1(clm_brier_final);

/* ---------------------------------------------------------------------
 * Harrell's C
 * --------------------------------------------------------------------- */

static inline void
FenwickAdd(int64 *t, int64 n, int64 i)
{
	for (; i <= n; i += i & (-i))
		t[i]++;
}

static inline int64
FenwickSum(const int64 *t, int64 i)
{
	int64		s = 0;

	for (; i > 0; i -= i & (-i))
		s += t[i];
	return s;
}

/*
 * Harrell's C in O(n log n): rows are taken from the longest duration
 * down; at each duration the censored rows of that duration join the
 * comparison set first (an event is earlier than a censoring at the same
 * time), then each event is compared with every row in the set (a longer
 * duration, or a censoring at its own), then the events join.  A Fenwick
 * tree over risk ranks counts the lower and equal risks.
 */
double
churn_harrell_c(int64 n, const double *duration, const double *event,
				const double *risk, int stride_d, int stride_e, int stride_r,
				bool sorted_desc)
{
	ChurnKey   *k = palloc_extended(sizeof(ChurnKey) * Max(n, 1), MCXT_ALLOC_HUGE);
	int64	   *rank = palloc_extended(sizeof(int64) * Max(n, 1), MCXT_ALLOC_HUGE);
	int64	   *tree = palloc_extended(sizeof(int64) * (n + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	double		num = 0,
				pairs = 0;
	int64		i = 0,
				inset = 0,
				r = 0;

	/* ranks of the risks, equal risks one rank */
	for (int64 j = 0; j < n; j++)
	{
		k[j].key = churn_key_asc(risk[j * stride_r]);
		k[j].idx = j;
	}
	churn_key_sort(k, n);
	for (int64 j = 0; j < n; j++)
	{
		if (j == 0 || k[j].key != k[j - 1].key)
			r++;
		rank[k[j].idx] = r;
	}
	/* the rows by duration, descending */
	for (int64 j = 0; j < n; j++)
	{
		k[j].key = ~churn_key_asc(duration[j * stride_d]);
		k[j].idx = j;
	}
	if (!sorted_desc)
		churn_key_sort(k, n);
	while (i < n)
	{
		int64		j,
					end;

		CHECK_FOR_INTERRUPTS();
		for (end = i; end < n && k[end].key == k[i].key; end++)
			;
		for (j = i; j < end; j++)
			if (event[k[j].idx * stride_e] == 0)
			{
				FenwickAdd(tree, n, rank[k[j].idx]);
				inset++;
			}
		for (j = i; j < end; j++)
			if (event[k[j].idx * stride_e] != 0)
			{
				int64		rk = rank[k[j].idx];
				int64		below = FenwickSum(tree, rk - 1);
				int64		equal = FenwickSum(tree, rk) - below;

				num += below + 0.5 * equal;
				pairs += inset;
			}
		for (j = i; j < end; j++)
			if (event[k[j].idx * stride_e] != 0)
			{
				FenwickAdd(tree, n, rank[k[j].idx]);
				inset++;
			}
		i = end;
	}
	pfree(k);
	pfree(rank);
	pfree(tree);
	return pairs > 0 ? num / pairs : NAN;
}

/* ---------------------------------------------------------------------
 * Transitions
 * --------------------------------------------------------------------- */

/*
 * (state, score, label): clm.auc and clm.gains_agg.
 */
Datum
clm_score_accum(PG_FUNCTION_ARGS)
{
	double		row[2];

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return churn_rows_add(fcinfo, CHURN_SCORE, 0, NULL, false, 0, 0);
	row[0] = PG_GETARG_FLOAT8(1);
	churn_check_finite(row[0], "score");
	row[0] += 0.0;
	row[1] = PG_GETARG_BOOL(2) ? 1.0 : 0.0;
	return churn_rows_add(fcinfo, CHURN_SCORE, 2, row, false, 0, 0);
}

/*
 * (state, duration, event, risk): clm.concordance.
 */
Datum
clm_surv_accum(PG_FUNCTION_ARGS)
{
	double		row[3];

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return churn_rows_add(fcinfo, CHURN_SURV, 0, NULL, false, 0, 0);
	row[0] = churn_duration(PG_GETARG_FLOAT8(1));
	row[1] = PG_GETARG_BOOL(2) ? 1.0 : 0.0;
	row[2] = PG_GETARG_FLOAT8(3);
	churn_check_finite(row[2], "risk");
	row[2] += 0.0;
	return churn_rows_add(fcinfo, CHURN_SURV, 3, row, false, 0, 0);
}

/* ---------------------------------------------------------------------
 * Finals
 * --------------------------------------------------------------------- */

/*
 * ROC AUC with equal scores counting 1/2: the Mann-Whitney statistic from
 * mid-ranks.  NULL (with a WARNING) without both labels.
 */
Datum
clm_auc_final(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	ChurnKey   *k;
	double		n1 = 0,
				rsum = 0;
	int64		i = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	churn_rows_view(fcinfo, 0, &v, CHURN_SCORE);
	for (int64 r = 0; r < v.n; r++)
		n1 += v.data[2 * r + 1];
	if (n1 == 0 || n1 == v.n)
	{
		ereport(WARNING,
				(errmsg("clm.auc: %s", n1 == 0 ? "no label is true (no events)" : "every label is true"),
				 errdetail("The AUC needs both labels; %lld rows, %lld skipped.",
						   (long long) v.n, (long long) v.skipped)));
		PG_RETURN_NULL();
	}
	k = palloc_extended(sizeof(ChurnKey) * v.n, MCXT_ALLOC_HUGE);
	for (int64 r = 0; r < v.n; r++)
	{
		k[r].key = churn_key_asc(v.data[2 * r]);
		k[r].idx = r;
	}
	churn_key_sort(k, v.n);
	while (i < v.n)
	{
		int64		end,
					pos = 0;
		double		midrank;

		for (end = i; end < v.n && k[end].key == k[i].key; end++)
			pos += v.data[2 * k[end].idx + 1] != 0;
		midrank = (i + 1 + end) / 2.0;	/* ranks i+1 .. end */
		rsum += pos * midrank;
		i = end;
	}
	PG_RETURN_FLOAT8((rsum - n1 * (n1 + 1) / 2) / (n1 * (v.n - n1)));
}

/*
 * Harrell's C of (duration, event, risk); NULL (with a WARNING) when no
 * pair is comparable.
 */
Datum
clm_concordance_final(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	double		c;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	churn_rows_view(fcinfo, 0, &v, CHURN_SURV);
	c = churn_harrell_c(v.n, v.data, v.data + 1, v.data + 2, 3, 3, 3, false);
	if (isnan(c))
	{
		ereport(WARNING,
				(errmsg("clm.concordance: no comparable pair (no event before another duration)"),
				 errdetail("%lld rows, %lld skipped.", (long long) v.n, (long long) v.skipped)));
		PG_RETURN_NULL();
	}
	PG_RETURN_FLOAT8(c);
}

/*
 * Final function of clm.gains_agg: the state itself, flat and without
 * spare capacity (an expanded state is flattened; its value is unchanged).
 */
Datum
clm_gains_final(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	Datum		d;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	churn_rows_view(fcinfo, 0, &v, CHURN_SCORE);
	d = PG_GETARG_DATUM(0);
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);
		Size		size = EOH_get_flat_size(eoh);
		void	   *flat = palloc(size);

		EOH_flatten_into(eoh, flat, size);
		PG_RETURN_POINTER(flat);
	}
	/* a flat state may have spare capacity: copy the rows in use */
	{
		struct varlena *src = PG_DETOAST_DATUM(d);
		Size		used = (const char *) (v.data + v.n * v.ncols) - (const char *) src;
		struct varlena *dst = palloc(used);

		memcpy(dst, src, used);
		SET_VARSIZE(dst, used);
		PG_RETURN_POINTER(dst);
	}
}

typedef struct GainsCtx
{
	ChurnKey   *k;
	const double *data;
	int64		n;
	int			buckets;
	int			next;			/* next bucket, 0-based */
	int64		start;			/* first row of the next bucket */
	int64		cum_events;
	double		total_events;
} GainsCtx;

/*
 * clm.gains(state, buckets): rows sorted by score, highest first (equal
 * scores: non-events first), cut into buckets of equal size as ntile()
 * (the first n mod buckets buckets get one row more); one row per bucket.
 */
Datum
clm_gains(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	GainsCtx   *g;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		ChurnView	v;
		int			buckets = PG_GETARG_INT32(1);
		TupleDesc	tupdesc;

		fc = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(fc->multi_call_memory_ctx);
		if (buckets < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("clm.gains: buckets must be at least 1"),
					 errdetail("Got %d.", buckets)));
		churn_rows_view(fcinfo, 0, &v, CHURN_SCORE);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "clm_gains: return type must be a row type");
		fc->tuple_desc = BlessTupleDesc(tupdesc);
		g = palloc0(sizeof(GainsCtx));
		g->n = v.n;
		g->buckets = buckets;
		g->k = palloc_extended(sizeof(ChurnKey) * Max(v.n, 1), MCXT_ALLOC_HUGE);
		g->data = v.data;
		/*
		 * descending score; the sort is stable, so putting the non-events
		 * first makes them go first among equal scores
		 */
		{
			int64		m = 0;

			for (int pass = 0; pass < 2; pass++)
				for (int64 r = 0; r < v.n; r++)
					if ((v.data[2 * r + 1] != 0) == (pass == 1))
					{
						g->k[m].key = ~churn_key_asc(v.data[2 * r]);
						g->k[m].idx = r;
						m++;
					}
		}
		for (int64 r = 0; r < v.n; r++)
			g->total_events += v.data[2 * r + 1];
		churn_key_sort(g->k, v.n);
		fc->user_fctx = g;
		MemoryContextSwitchTo(old);
	}
	fc = SRF_PERCALL_SETUP();
	g = fc->user_fctx;
	if (g->next < g->buckets && g->start < g->n)
	{
		int64		size = g->n / g->buckets + (g->next < g->n % g->buckets ? 1 : 0);
		int64		events = 0;
		double		ssum = 0;
		Datum		values[7];
		bool		nulls[7] = {0};
		double		rate;

		for (int64 r = g->start; r < g->start + size; r++)
		{
			events += g->data[2 * g->k[r].idx + 1] != 0;
			ssum += g->data[2 * g->k[r].idx];
		}
		g->cum_events += events;
		rate = (double) events / size;
		values[0] = Int32GetDatum(g->next + 1);
		values[1] = Int64GetDatum(size);
		values[2] = Int64GetDatum(events);
		values[3] = Float8GetDatum(rate);
		values[4] = Float8GetDatum(ssum / size);
		values[5] = Float8GetDatum(rate / (g->total_events / g->n));
		nulls[5] = g->total_events == 0;
		values[6] = Float8GetDatum(g->cum_events / g->total_events);
		nulls[6] = g->total_events == 0;
		g->start += size;
		g->next++;
		SRF_RETURN_NEXT(fc, HeapTupleGetDatum(heap_form_tuple(fc->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(fc);
}

/* ---------------------------------------------------------------------
 * Brier score: float8[] state {rows, sum of squared errors}
 * --------------------------------------------------------------------- */

static double *
BrierState(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != 2 || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm.brier: the state must be a float8[] of two values")));
	return (double *) churn_array_data(a);
}

/*
 * A state that did not come from clm_brier_accum (written by hand, or a
 * stored value) is checked before it is read: a whole, finite count of
 * rows and a sum of squared errors between 0 and that count (each error
 * is at most 1).
 */
static void
BrierValidate(const double *s)
{
	if (!(s[0] >= 0 && s[0] <= 0x1p53 && s[0] == floor(s[0])) ||
		!(s[1] >= 0 && s[1] <= s[0]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid clm.brier state"),
				 errdetail("Rows %g, sum of squared errors %g: rows must be a whole number and the sum between 0 and rows.",
						   s[0], s[1])));
}

/*
 * Transition (state, probability, label): updated in place (the state is
 * the aggregate's own copy of the initial value, as float8_accum).
 */
Datum
clm_brier_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	double	   *s,
				p;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_brier_accum called in non-aggregate context");
	s = BrierState(a);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_ARRAYTYPE_P(a);
	p = PG_GETARG_FLOAT8(1);
	if (!(p >= 0 && p <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm.brier: probability must be between 0 and 1"),
				 errdetail("Got %g.", p)));
	p -= PG_GETARG_BOOL(2) ? 1.0 : 0.0;
	s[0] += 1;
	s[1] += p * p;
	PG_RETURN_ARRAYTYPE_P(a);
}

Datum
clm_brier_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	double	   *s,
			   *t;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "clm_brier_combine called in non-aggregate context");
	s = BrierState(a);
	t = BrierState(PG_GETARG_ARRAYTYPE_P(1));
	BrierValidate(s);
	BrierValidate(t);
	s[0] += t[0];
	s[1] += t[1];
	PG_RETURN_ARRAYTYPE_P(a);
}

Datum
clm_brier_final(PG_FUNCTION_ARGS)
{
	double	   *s = BrierState(PG_GETARG_ARRAYTYPE_P(0));

	BrierValidate(s);
	if (s[0] == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s[1] / s[0]);
}
