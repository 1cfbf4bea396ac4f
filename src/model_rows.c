/*-------------------------------------------------------------------------
 *
 * model_rows.c
 *	  clm.model_rows, the state type of the churn-model aggregates
 *	  (clm.logit_fit, clm.coxph_fit, clm.auc, clm.concordance,
 *	  clm.gains_agg): rows packed as float8s (see churn.h), with text and
 *	  binary forms, the shared transition step and the combine function.
 *
 * Forms
 *	  Flat: a varlena (ChurnRows) whose rows start at an 8-aligned offset.
 *	  While aggregating, a small state (up to CHURN_SMALL_MAX bytes) is flat
 *	  and updated in place while it has room (its varlena length includes
 *	  spare capacity); a larger one is a read/write expanded object in the
 *	  aggregate context whose row array grows by doubling, so that no row
 *	  is copied more than a few times.  (A flat start keeps GROUP BY over
 *	  many groups cheap: an expanded object needs a memory context of its
 *	  own.)  Values that leave the aggregate (to a parallel leader, a table,
 *	  output) are flat with no spare capacity; a flat value cannot exceed
 *	  1 GB (about 11 million rows of 10 features).
 *
 *	  Binary (send/recv) form: version byte, kind byte, option byte,
 *	  has_param byte, int32 ncols, int64 n, int64 skipped, float8 param,
 *	  then n * ncols float8.  The text form is \x + the hexadecimal image
 *	  of the binary form (varstate.c).  Input checks every value: finite,
 *	  labels and events 0 or 1, weights and durations not negative.
 *
 * IDENTIFICATION
 *	  src/model_rows.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "churn.h"
#include "varstate.h"

#define CHURN_VERSION 1
#define CHURN_SMALL_MAX 16384	/* flat states up to this many bytes */
#define CHURN_SMALL_FIRST 8		/* first flat capacity, rows */
#define CHURN_TYPNAME "clm.model_rows"

typedef struct ChurnRows
{
	int32		vl_len_;
	uint8		kind;
	uint8		option;
	uint8		has_param;
	uint8		pad;
	int32		ncols;
	int64		n;
	int64		skipped;
	double		param;
	double		data[FLEXIBLE_ARRAY_MEMBER];
} ChurnRows;

#define CHURN_HDRSZ offsetof(ChurnRows, data)
#define ChurnCapacity(s) \
	((s)->ncols > 0 ? (int64) ((VARSIZE(s) - CHURN_HDRSZ) / (sizeof(double) * (s)->ncols)) : 0)

typedef struct ChurnExp
{
	ExpandedObjectHeader hdr;
	int			kind;
	int			option;
	bool		has_param;
	int			ncols;
	int64		n;
	int64		skipped;
	double		param;
	double	   *data;
	int64		cap;			/* rows */
} ChurnExp;

PG_FUNCTION_INFO_V1(clm_model_rows_in);
PG_FUNCTION_INFO_V1(clm_model_rows_out);
PG_FUNCTION_INFO_V1(clm_model_rows_send);
PG_FUNCTION_INFO_V1(clm_model_rows_recv);
PG_FUNCTION_INFO_V1(clm_model_rows_combine);

static Size ChurnExpFlatSize(ExpandedObjectHeader *eohptr);
static void ChurnExpFlatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods ChurnMethods = {
	ChurnExpFlatSize,
	ChurnExpFlatten
};

static const char *
ChurnKindName(int kind)
{
	switch (kind)
	{
		case CHURN_LOGIT:
			return "clm.logit_fit";
		case CHURN_COX:
			return "clm.coxph_fit";
		case CHURN_SCORE:
			return "clm.auc / clm.gains_agg";
		case CHURN_SURV:
			return "clm.concordance";
	}
	return "unknown";
}

void
churn_check_finite(double v, const char *what)
{
	if (isnan(v) || isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", what),
				 errdetail("Got %g.", v)));
}

/*
 * A duration of clm.coxph_fit or clm.concordance: finite and not negative
 * (22023); -0 comes back as +0 so that equal durations compare equal
 */
double
churn_duration(double d)
{
	churn_check_finite(d, "duration");
	if (d < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("duration must not be negative"),
				 errdetail("Got %g.", d)));
	return d + 0.0;
}

bool
churn_features(ArrayType *a, int *nfeat, const double **vals, const char *fname)
{
	int			n;
	const double *v;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s: features must be a one-dimensional array", fname)));
	n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
	if (n > CHURN_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: at most %d features are supported", fname, CHURN_MAX_FEATURES),
				 errdetail("Got %d.", n)));
	if (ARR_HASNULL(a))
	{
		bits8	   *bm = ARR_NULLBITMAP(a);

		for (int i = 0; i < n; i++)
			if (!(bm[i / 8] & (1 << (i % 8))))
				return false;
	}
	v = churn_array_data(a);
	for (int i = 0; i < n; i++)
		if (isnan(v[i]) || isinf(v[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: feature %d must be a finite number", fname, i + 1),
					 errdetail("Got %g.", v[i])));
	*nfeat = n;
	*vals = v;
	return true;
}

/* a float8[] of n values */
Datum
churn_float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(double),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * The coefficient array of a model row, checked against the features.
 */
ArrayType *
churn_model_coef(HeapTupleHeader model, const char *fname, int nfeat, const double **coef)
{
	bool		isnull;
	Datum		d = GetAttributeByName(model, "coef", &isnull);
	ArrayType  *a;

	if (isnull)
		return NULL;
	a = DatumGetArrayTypeP(d);
	if (ARR_NDIM(a) != 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the model's coef must be a one-dimensional array without NULLs", fname)));
	if (ARR_DIMS(a)[0] != nfeat)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s: the model has %d coefficients, the features give %d",
						fname, ARR_DIMS(a)[0], nfeat)));
	*coef = churn_array_data(a);
	for (int j = 0; j < nfeat; j++)
		if (isnan((*coef)[j]) || isinf((*coef)[j]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: the model's coefficient %d must be a finite number", fname, j + 1),
					 errdetail("Got %g.", (*coef)[j])));
	return a;
}

/*
 * A linear predictor of a model and features: finite, else 22003 (finite
 * coefficients times finite features can still overflow).
 */
void
churn_check_eta(double eta, const char *fname)
{
	if (isnan(eta) || isinf(eta))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: the linear predictor features . coef is out of range", fname)));
}

/* ---------------------------------------------------------------------
 * Flat and expanded forms
 * --------------------------------------------------------------------- */

static ChurnRows *
ChurnAlloc(int kind, int ncols, int64 cap)
{
	Size		size = CHURN_HDRSZ + (Size) cap * ncols * sizeof(double);
	ChurnRows  *s;

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s state too large", CHURN_TYPNAME),
				 errdetail("%lld rows of %d values exceed 1 GB.", (long long) cap, ncols)));
	s = palloc0(size);
	SET_VARSIZE(s, size);
	s->kind = kind;
	s->ncols = ncols;
	return s;
}

static void
ChurnCheckCompatible(ChurnView *a, int kind, int ncols, bool has_param,
					 int option, double param)
{
	if (a->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a state of %s with one of %s",
						ChurnKindName(a->kind), ChurnKindName(kind))));
	if (a->ncols > 0 && ncols > 0 && a->ncols != ncols)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("all features arrays of a group must have the same length"),
				 errdetail("Got %d and %d features.", a->ncols - 2, ncols - 2)));
	if (a->has_param && has_param &&
		(a->option != option || !(a->param == param)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the %s must be the same in every row of a group",
						ChurnKindName(kind), kind == CHURN_COX ? "ties method" : "l2 penalty"),
				 errdetail("Got %g and %g.", a->param, param)));
}

static void
ChurnViewFlat(const ChurnRows *s, ChurnView *v)
{
	v->kind = s->kind;
	v->option = s->option;
	v->has_param = s->has_param;
	v->ncols = s->ncols;
	v->n = s->n;
	v->skipped = s->skipped;
	v->param = s->param;
	v->data = s->data;
}

static void
ChurnViewExp(const ChurnExp *e, ChurnView *v)
{
	v->kind = e->kind;
	v->option = e->option;
	v->has_param = e->has_param;
	v->ncols = e->ncols;
	v->n = e->n;
	v->skipped = e->skipped;
	v->param = e->param;
	v->data = e->data;
}

static ChurnExp *
ChurnExpCreate(MemoryContext parent, const ChurnView *from, int64 need)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "clm.model_rows state",
											  ALLOCSET_DEFAULT_SIZES);
	ChurnExp   *e = MemoryContextAllocZero(cxt, sizeof(ChurnExp));

	EOH_init_header(&e->hdr, &ChurnMethods, cxt);
	e->kind = from->kind;
	e->option = from->option;
	e->has_param = from->has_param;
	e->ncols = from->ncols;
	e->n = from->n;
	e->skipped = from->skipped;
	e->param = from->param;
	e->cap = Max(need, 2 * from->n);
	e->cap = Max(e->cap, 1024);
	e->data = MemoryContextAllocExtended(cxt, (Size) e->cap * e->ncols * sizeof(double),
										 MCXT_ALLOC_HUGE);
	if (from->n > 0)
		memcpy(e->data, from->data, (Size) from->n * from->ncols * sizeof(double));
	return e;
}

static void
ChurnExpReserve(ChurnExp *e, int64 need)
{
	int64		cap = e->cap;

	if (need <= cap)
		return;
	while (cap < need)
		cap *= 2;
	e->data = repalloc_huge(e->data, (Size) cap * e->ncols * sizeof(double));
	e->cap = cap;
}

static Size
ChurnExpFlatSize(ExpandedObjectHeader *eohptr)
{
	ChurnExp   *e = (ChurnExp *) eohptr;
	Size		size = CHURN_HDRSZ + (Size) e->n * e->ncols * sizeof(double);

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s state too large to store or send", CHURN_TYPNAME),
				 errdetail("%lld rows of %d values exceed 1 GB.", (long long) e->n, e->ncols)));
	return size;
}

static void
ChurnExpFlatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ChurnExp   *e = (ChurnExp *) eohptr;
	ChurnRows  *s = (ChurnRows *) result;

	memset(s, 0, CHURN_HDRSZ);
	SET_VARSIZE(s, allocated_size);
	s->kind = e->kind;
	s->option = e->option;
	s->has_param = e->has_param;
	s->ncols = e->ncols;
	s->n = e->n;
	s->skipped = e->skipped;
	s->param = e->param;
	memcpy(s->data, e->data, (Size) e->n * e->ncols * sizeof(double));
}

/* our expanded object in datum d, or NULL */
static ChurnExp *
ChurnExpOf(Datum d)
{
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods == &ChurnMethods)
			return (ChurnExp *) eoh;
		elog(ERROR, "unexpected expanded object for %s", CHURN_TYPNAME);
	}
	return NULL;
}

void
churn_rows_view(FunctionCallInfo fcinfo, int argno, ChurnView *v, int expected_kind)
{
	Datum		d = PG_GETARG_DATUM(argno);
	ChurnExp   *e = ChurnExpOf(d);

	if (e)
		ChurnViewExp(e, v);
	else
		ChurnViewFlat((ChurnRows *) PG_DETOAST_DATUM(d), v);
	if (expected_kind != 0 && v->kind != expected_kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("this %s value is a state of %s, not of %s", CHURN_TYPNAME,
						ChurnKindName(v->kind), ChurnKindName(expected_kind))));
}

/* ---------------------------------------------------------------------
 * Transition and combine
 * --------------------------------------------------------------------- */

/*
 * Add nrows rows (or, with row NULL, nskip skipped rows) to the state in
 * argument 0; the work of churn_rows_add and of the combine function.
 */
static Datum
ChurnAdd(FunctionCallInfo fcinfo, MemoryContext aggcontext, int kind, int ncols,
		 const double *rows, int64 nrows, int64 nskip, bool has_param,
		 int option, double param)
{
	ChurnExp   *e = NULL;
	ChurnRows  *s = NULL;
	ChurnView	v;

	if (PG_ARGISNULL(0))
	{
		s = ChurnAlloc(kind, rows ? ncols : 0, rows ? Max(CHURN_SMALL_FIRST, nrows) : 0);
		ChurnViewFlat(s, &v);
	}
	else if ((e = ChurnExpOf(PG_GETARG_DATUM(0))) != NULL)
	{
		ChurnViewExp(e, &v);
		/* not our own read/write state: continue in a copy */
		if (!VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(PG_GETARG_DATUM(0))) ||
			e->hdr.eoh_context->parent != aggcontext)
			e = ChurnExpCreate(aggcontext, &v, v.n + nrows);
	}
	else
	{
		s = (ChurnRows *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
		ChurnViewFlat(s, &v);
	}
	ChurnCheckCompatible(&v, kind, rows ? ncols : 0, has_param, option, param);
	if (pg_add_s64_overflow(v.skipped, nskip, &v.skipped))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: count of skipped rows out of range", ChurnKindName(kind))));

	if (rows && nrows > 0)
	{
		if (e)
		{
			ChurnExpReserve(e, e->n + nrows);
		}
		else if (s->ncols == 0 || s->n + nrows > ChurnCapacity(s))
		{
			int64		need = s->n + nrows;
			int64		cap = Max(2 * Max(s->n, 4), need);
			Size		bytes = CHURN_HDRSZ + (Size) cap * ncols * sizeof(double);

			v.ncols = ncols;
			if (bytes <= CHURN_SMALL_MAX)
			{
				ChurnRows  *ns = ChurnAlloc(kind, ncols, cap);

				memcpy(ns, s, CHURN_HDRSZ);
				SET_VARSIZE(ns, bytes);
				ns->ncols = ncols;
				if (s->n > 0)
					memcpy(ns->data, s->data, (Size) s->n * ncols * sizeof(double));
				s = ns;
			}
			else
			{
				e = ChurnExpCreate(aggcontext, &v, need);
				s = NULL;
			}
		}
		if (e)
		{
			memcpy(e->data + (Size) e->n * ncols, rows, (Size) nrows * ncols * sizeof(double));
			e->n += nrows;
			e->ncols = ncols;
		}
		else
		{
			memcpy(s->data + (Size) s->n * ncols, rows, (Size) nrows * ncols * sizeof(double));
			s->n += nrows;
		}
	}
	if (e)
	{
		e->skipped = v.skipped;
		if (has_param && !e->has_param)
		{
			e->has_param = true;
			e->option = option;
			e->param = param;
		}
		return EOHPGetRWDatum(&e->hdr);
	}
	s->skipped = v.skipped;
	if (has_param && !s->has_param)
	{
		s->has_param = true;
		s->option = option;
		s->param = param;
	}
	return PointerGetDatum(s);
}

Datum
churn_rows_add(FunctionCallInfo fcinfo, int kind, int ncols, const double *row,
			   bool has_param, int option, double param)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s transition called in non-aggregate context", ChurnKindName(kind));
	return ChurnAdd(fcinfo, aggcontext, kind, ncols, row, row ? 1 : 0, row ? 0 : 1,
					row ? has_param : false, option, param);
}

/*
 * Combine function (STRICT): the rows of b appended to a.
 */
Datum
clm_model_rows_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	ChurnView	b;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "clm_model_rows_combine called in non-aggregate context");
	churn_rows_view(fcinfo, 1, &b, 0);
	PG_RETURN_DATUM(ChurnAdd(fcinfo, aggcontext, b.kind, b.ncols,
							 b.n > 0 ? b.data : NULL, b.n, b.skipped,
							 b.has_param, b.option, b.param));
}

/* ---------------------------------------------------------------------
 * Text and binary forms
 * --------------------------------------------------------------------- */

static void
ChurnWrite(StringInfo buf, const ChurnView *v)
{
	pq_sendbyte(buf, CHURN_VERSION);
	pq_sendbyte(buf, v->kind);
	pq_sendbyte(buf, v->option);
	pq_sendbyte(buf, v->has_param ? 1 : 0);
	pq_sendint32(buf, v->ncols);
	pq_sendint64(buf, v->n);
	pq_sendint64(buf, v->skipped);
	pq_sendfloat8(buf, v->param);
	for (int64 i = 0; i < v->n * v->ncols; i++)
		pq_sendfloat8(buf, v->data[i]);
}

static void
ChurnCheckRow(int kind, const double *r, int ncols)
{
	for (int j = 0; j < ncols; j++)
		if (isnan(r[j]) || isinf(r[j]))
			clm_state_corrupt(CHURN_TYPNAME, "A value is not finite.");
	if (kind != CHURN_SCORE && r[0] < 0)
		clm_state_corrupt(CHURN_TYPNAME, "A duration or weight is negative.");
	if (kind == CHURN_LOGIT && r[1] < 0)
		clm_state_corrupt(CHURN_TYPNAME, "A weight is negative.");
	if (kind == CHURN_LOGIT && r[0] != 0 && r[0] != 1)
		clm_state_corrupt(CHURN_TYPNAME, "A label is not 0 or 1.");
	if ((kind == CHURN_COX || kind == CHURN_SURV) && r[1] != 0 && r[1] != 1)
		clm_state_corrupt(CHURN_TYPNAME, "An event is not 0 or 1.");
	if (kind == CHURN_SCORE && r[1] != 0 && r[1] != 1)
		clm_state_corrupt(CHURN_TYPNAME, "A label is not 0 or 1.");
}

static ChurnRows *
ChurnRead(StringInfo buf)
{
	int			version,
				kind,
				option,
				has_param,
				ncols;
	int64		n,
				skipped;
	double		param;
	ChurnRows  *s;

	version = pq_getmsgbyte(buf);
	if (version != CHURN_VERSION)
		clm_state_corrupt(CHURN_TYPNAME, "Unknown format version.");
	kind = pq_getmsgbyte(buf);
	option = pq_getmsgbyte(buf);
	has_param = pq_getmsgbyte(buf);
	ncols = pq_getmsgint(buf, 4);
	n = pq_getmsgint64(buf);
	skipped = pq_getmsgint64(buf);
	param = pq_getmsgfloat8(buf);
	if (kind < CHURN_LOGIT || kind > CHURN_SURV)
		clm_state_corrupt(CHURN_TYPNAME, "Unknown kind of state.");
	if (option > 1 || has_param > 1 || (kind != CHURN_COX && option != 0))
		clm_state_corrupt(CHURN_TYPNAME, "Invalid option.");
	if (n < 0 || skipped < 0 || ncols < 0 || ncols > CHURN_MAX_FEATURES + 2)
		clm_state_corrupt(CHURN_TYPNAME, "Invalid counts.");
	if ((kind == CHURN_SCORE && !(ncols == 2 || (ncols == 0 && n == 0))) ||
		(kind == CHURN_SURV && !(ncols == 3 || (ncols == 0 && n == 0))) ||
		((kind == CHURN_LOGIT || kind == CHURN_COX) && ncols < 2 && !(ncols == 0 && n == 0)))
		clm_state_corrupt(CHURN_TYPNAME, "Invalid number of columns.");
	if (ncols == 0 && n != 0)
		clm_state_corrupt(CHURN_TYPNAME, "Rows without columns.");
	if (isnan(param) || isinf(param) || param < 0)
		clm_state_corrupt(CHURN_TYPNAME, "Invalid parameter.");
	if (ncols > 0 && ((uint64) n > (uint64) (buf->len - buf->cursor) / (ncols * sizeof(double)) ||
					  (uint64) n * ncols * sizeof(double) != (uint64) (buf->len - buf->cursor)))
		clm_state_corrupt(CHURN_TYPNAME, "The length does not match the number of rows.");
	s = ChurnAlloc(kind, ncols, ncols > 0 ? n : 0);
	s->option = option;
	s->has_param = has_param;
	s->n = n;
	s->skipped = skipped;
	s->param = param;
	for (int64 i = 0; i < n * ncols; i++)
		s->data[i] = pq_getmsgfloat8(buf);
	pq_getmsgend(buf);
	for (int64 i = 0; i < n; i++)
		ChurnCheckRow(kind, s->data + i * ncols, ncols);
	return s;
}

Datum
clm_model_rows_in(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	clm_state_hex_in(PG_GETARG_CSTRING(0), &buf, CHURN_TYPNAME);
	PG_RETURN_POINTER(ChurnRead(&buf));
}

Datum
clm_model_rows_out(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	StringInfoData buf;

	churn_rows_view(fcinfo, 0, &v, 0);
	initStringInfo(&buf);
	ChurnWrite(&buf, &v);
	PG_RETURN_CSTRING(clm_state_hex_out(&buf));
}

Datum
clm_model_rows_send(PG_FUNCTION_ARGS)
{
	ChurnView	v;
	StringInfoData buf;

	churn_rows_view(fcinfo, 0, &v, 0);
	pq_begintypsend(&buf);
	ChurnWrite(&buf, &v);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
clm_model_rows_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(ChurnRead((StringInfo) PG_GETARG_POINTER(0)));
}
