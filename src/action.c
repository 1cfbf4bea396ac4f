/*-------------------------------------------------------------------------
 *
 * action.c
 *	  Acting on the lifecycle: the two-proportion z test of campaign reports,
 *	  the value tier of a CLV, and clm.action_trigger, the C trigger that
 *	  does the work of src/action.sql when clm's own tables change.
 *
 * clm.action_trigger fires on clm.stage_history (send the NOTIFY of a stage
 * change), clm.scores (log the stage and segment changes of announcing
 * sources, from the statement's transition tables) and clm.refresh_runs
 * (value tiers and announcements when a run ends ok).  It acts only on
 * those three tables of schema clm, whatever its arguments (a role's own
 * trigger calling it on another table is refused), and runs fixed
 * statements as the extension owner (SetUserIdAndSecContext with
 * SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION, as
 * src/queue.c does): every value is a parameter and every function,
 * operator and type is schema-qualified, since the statements are parsed
 * with the session's search_path.  They call internal functions of
 * src/action.sql, which pin their own search_path and read only clm's
 * tables, so no user code runs with the owner's rights.  The user functions
 * that change the settings and campaigns are the gateway of src/gate.c.
 *
 * IDENTIFICATION
 *	  src/action.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_two_proportion_test);
PG_FUNCTION_INFO_V1(clm_value_tier);
PG_FUNCTION_INFO_V1(clm_action_trigger);

/*
 * clm.two_proportion_test(x1, n1, x2, n2) -> (difference, z, p_value)
 *
 * Two-sided z test of p1 = x1/n1 against p2 = x2/n2 with the pooled
 * proportion: z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)),
 * p = (x1 + x2) / (n1 + n2), p_value = erfc(|z| / sqrt 2) = 2 (1 - Phi(|z|)).
 * An empty group leaves all three NULL; a pooled proportion of 0 or 1 (no
 * variance) leaves z and p_value NULL.
 */
Datum
clm_two_proportion_test(PG_FUNCTION_ARGS)
{
	int64		x1 = PG_GETARG_INT64(0);
	int64		n1 = PG_GETARG_INT64(1);
	int64		x2 = PG_GETARG_INT64(2);
	int64		n2 = PG_GETARG_INT64(3);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {true, true, true};

	if (n1 < 0 || n2 < 0 || x1 < 0 || x2 < 0 || x1 > n1 || x2 > n2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("successes must be between 0 and the group size"),
				 errdetail("Got " INT64_FORMAT " of " INT64_FORMAT " and " INT64_FORMAT " of " INT64_FORMAT ".",
						   x1, n1, x2, n2)));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (n1 > 0 && n2 > 0)
	{
		double		p1 = (double) x1 / (double) n1;
		double		p2 = (double) x2 / (double) n2;
		double		p = ((double) x1 + (double) x2) / ((double) n1 + (double) n2);
		double		se = sqrt(p * (1.0 - p) * (1.0 / (double) n1 + 1.0 / (double) n2));

		values[0] = Float8GetDatum(p1 - p2);
		nulls[0] = false;
		if (se > 0.0)
		{
			double		z = (p1 - p2) / se;

			values[1] = Float8GetDatum(z);
			values[2] = Float8GetDatum(erfc(fabs(z) / M_SQRT2));
			nulls[1] = nulls[2] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * clm.value_tier(clv, breaks) -> smallint: the first k (1-based) with
 * breaks[k] not NULL and clv >= breaks[k], else cardinality(breaks) + 1.
 * The breaks that are not NULL must be in descending order (as
 * clm.set_value_tiers writes them) and not NaN: else 22023.
 * Called for every customer of a source at each full refresh, hence C.
 */
Datum
clm_value_tier(PG_FUNCTION_ARGS)
{
	float8		clv = PG_GETARG_FLOAT8(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (isnan(clv))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clv must not be NaN")));
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("tier breaks must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (n > 32767 - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many tier breaks")));
	/* all breaks checked first: NaN, or not in descending order, 22023 */
	{
		int			prev = -1;

		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				continue;
			if (isnan(DatumGetFloat8(elems[i])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("tier breaks must not be NaN")));
			if (prev >= 0 && DatumGetFloat8(elems[i]) > DatumGetFloat8(elems[prev]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("tier breaks must be in descending order"),
						 errdetail("Break %d (%g) is above break %d (%g).", i + 1,
								   DatumGetFloat8(elems[i]), prev + 1,
								   DatumGetFloat8(elems[prev]))));
			prev = i;
		}
	}
	for (int i = 0; i < n; i++)
		if (!nulls[i] && clv >= DatumGetFloat8(elems[i]))
			PG_RETURN_INT16((int16) (i + 1));
	PG_RETURN_INT16((int16) (n + 1));
}

/*
 * Run one fixed statement with SPI (already connected) as the extension
 * owner; every value is a parameter, every name (functions, operators,
 * types of casts) is schema-qualified.
 */
static int
ExecAsOwner(Oid owner, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	Oid			save_user;
	int			save_sec;
	int			rc;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	SetUserIdAndSecContext(save_user, save_sec);
	return rc;
}

/*
 * The statements of clm.action_trigger, run as the extension owner with
 * the session's search_path: every function, operator and type is
 * schema-qualified (an unqualified name could resolve to a user's object,
 * e.g. a temporary domain, which would then run with the owner's rights).
 * stage is NOT NULL in clm.scores; segment may be NULL.
 */
#define SQL_STAGE_NOTIFY \
	"SELECT clm.send_stage_notification($1)"
#define SQL_ANNOUNCING \
	"SELECT EXISTS (SELECT 1 FROM clm.score_announce)"
#define SQL_LOG_INSERTED \
	"INSERT INTO clm.score_change_log (source, run_id, customer_key, from_stage, to_stage, " \
	"from_segment, to_segment, changed_at) " \
	"SELECT n.source, n.run_id, n.customer_key, NULL, n.stage, NULL, n.segment, n.scored_at " \
	"FROM clm_new_scores n JOIN clm.score_announce a ON a.source OPERATOR(pg_catalog.=) n.source"
#define SQL_LOG_UPDATED \
	"INSERT INTO clm.score_change_log (source, run_id, customer_key, from_stage, to_stage, " \
	"from_segment, to_segment, changed_at) " \
	"SELECT n.source, n.run_id, n.customer_key, o.stage, n.stage, o.segment, n.segment, n.scored_at " \
	"FROM clm_new_scores n " \
	"JOIN clm_old_scores o ON o.source OPERATOR(pg_catalog.=) n.source " \
	"AND o.customer_key OPERATOR(pg_catalog.=) n.customer_key " \
	"JOIN clm.score_announce a ON a.source OPERATOR(pg_catalog.=) n.source " \
	"WHERE n.stage OPERATOR(pg_catalog.<>) o.stage " \
	"OR n.segment OPERATOR(pg_catalog.<>) o.segment " \
	"OR (n.segment IS NULL) OPERATOR(pg_catalog.<>) (o.segment IS NULL)"
#define SQL_AFTER_REFRESH \
	"SELECT clm.apply_value_tiers($1, $2), clm.announce_run($1, $3)"

/*
 * Value of a column of a trigger tuple, by name (NULL if NULL).
 */
static Datum
TupleValue(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	int			attno = SPI_fnumber(desc, name);

	if (attno <= 0)
		elog(ERROR, "column \"%s\" of the trigger's table does not exist", name);
	return heap_getattr(tuple, attno, desc, isnull);
}

/*
 * The tables that have a stage notification channel, read once per
 * backend from clm.stage_notify_channel and again after a change of it (a
 * statement trigger on it sends a relcache invalidation of the table; the
 * callback marks the list stale).  Most stage changes are of tables without
 * a channel: they then cost no statement.
 */
static Oid *NotifyTables = NULL;
static int	NotifyTableCount = 0;
static bool NotifyTablesValid = false;
static Oid	NotifyChannelRel = InvalidOid;
static uint64 NotifyInvalCount = 0;

static void
NotifyTablesCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == NotifyChannelRel)
	{
		NotifyTablesValid = false;
		NotifyInvalCount++;
	}
}

/*
 * Whether table relid has a notification channel.  The caller has SPI open.
 */
static bool
HasNotifyChannel(Oid owner, Oid relid)
{
	static bool registered = false;
	int			i;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(NotifyTablesCallback, (Datum) 0);
		registered = true;
	}
	while (!NotifyTablesValid)
	{
		uint64		start = NotifyInvalCount;
		int			rc;

		NotifyChannelRel = get_relname_relid("stage_notify_channel",
											 get_namespace_oid("clm", false));
		rc = ExecAsOwner(owner, "SELECT DISTINCT table_oid::pg_catalog.oid FROM clm.stage_notify_channel",
						 0, NULL, NULL, NULL);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading clm.stage_notify_channel failed: %s", SPI_result_code_string(rc));
		if (NotifyTables != NULL)
			pfree(NotifyTables);
		NotifyTables = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * Max(SPI_processed, 1));
		NotifyTableCount = (int) SPI_processed;
		for (i = 0; i < NotifyTableCount; i++)
		{
			bool		isnull;

			NotifyTables[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1, &isnull));
		}
		/* an invalidation that arrived while reading means: read again */
		if (NotifyInvalCount == start)
			NotifyTablesValid = true;
	}
	for (i = 0; i < NotifyTableCount; i++)
		if (NotifyTables[i] == relid)
			return true;
	return false;
}

/*
 * clm.action_trigger(): see the file header.
 */
Datum
clm_action_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	Relation	rel;
	const char *relname;
	Oid			owner;
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.action_trigger() must be called as a trigger")));
	td = (TriggerData *) fcinfo->context;
	rel = td->tg_relation;
	relname = RelationGetRelationName(rel);
	if (RelationGetNamespace(rel) != get_namespace_oid("clm", false) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) ||
		!(strcmp(relname, "stage_history") == 0 || strcmp(relname, "scores") == 0 ||
		  strcmp(relname, "refresh_runs") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.action_trigger() fires only on clm.stage_history, clm.scores and clm.refresh_runs")));
	owner = clm_extension_owner();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (strcmp(relname, "stage_history") == 0)
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1];
		bool		isnull;
		Datum		source;
		Datum		table_oid;

		if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
			elog(ERROR, "clm.action_trigger() on clm.stage_history must be AFTER INSERT FOR EACH ROW");

		/*
		 * only changes made by the stage trigger notify (not track, import),
		 * and only of tables with a channel
		 */
		source = TupleValue(td->tg_trigtuple, RelationGetDescr(rel), "source", &isnull);
		if (isnull || strcmp(TextDatumGetCString(source), "trigger") != 0)
		{
			SPI_finish();
			return PointerGetDatum(NULL);
		}
		table_oid = TupleValue(td->tg_trigtuple, RelationGetDescr(rel), "table_oid", &isnull);
		if (isnull || !HasNotifyChannel(owner, DatumGetObjectId(table_oid)))
		{
			SPI_finish();
			return PointerGetDatum(NULL);
		}
		values[0] = TupleValue(td->tg_trigtuple, RelationGetDescr(rel), "id", &isnull);
		if (isnull)
			elog(ERROR, "stage history row without id");
		rc = ExecAsOwner(owner, SQL_STAGE_NOTIFY, 1, types, values, NULL);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "sending a stage notification failed: %s", SPI_result_code_string(rc));
	}
	else if (strcmp(relname, "scores") == 0)
	{
		bool		isnull;
		bool		announcing;

		if (!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_newtable == NULL ||
			(TRIGGER_FIRED_BY_UPDATE(td->tg_event) && td->tg_oldtable == NULL))
			elog(ERROR, "clm.action_trigger() on clm.scores must be an AFTER statement trigger with transition tables");
		rc = ExecAsOwner(owner, SQL_ANNOUNCING, 0, NULL, NULL, NULL);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading clm.score_announce failed");
		announcing = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (announcing)
		{
			if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
				elog(ERROR, "SPI_register_trigger_data failed");
			rc = ExecAsOwner(owner, TRIGGER_FIRED_BY_INSERT(td->tg_event) ? SQL_LOG_INSERTED : SQL_LOG_UPDATED,
							 0, NULL, NULL, NULL);
			if (rc != SPI_OK_INSERT)
				elog(ERROR, "logging score changes failed: %s", SPI_result_code_string(rc));
		}
	}
	else
	{
		Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
		Datum		values[3];
		char		nulls[3] = {' ', ' ', ' '};
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		mode;

		if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
			elog(ERROR, "clm.action_trigger() on clm.refresh_runs must be AFTER UPDATE FOR EACH ROW");
		values[0] = TupleValue(td->tg_newtuple, desc, "source", &isnull);
		if (isnull)
			elog(ERROR, "refresh run without source");
		values[2] = TupleValue(td->tg_newtuple, desc, "id", &isnull);
		mode = TupleValue(td->tg_newtuple, desc, "mode", &isnull);
		/* a full run recomputes every tier (NULL), an incremental run its customers' */
		if (strcmp(TextDatumGetCString(mode), "full") == 0)
			nulls[1] = 'n';
		values[1] = values[2];
		rc = ExecAsOwner(owner, SQL_AFTER_REFRESH, 3, types, values, nulls);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "value tiers and announcements failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
