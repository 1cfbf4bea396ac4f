/*-------------------------------------------------------------------------
 *
 * stages.c
 *	  Lifecycle stage tracking: the C trigger that writes clm.stage_history,
 *	  clm.track / clm.untrack / clm.import_history, and the per-backend cache
 *	  of each tracked table's stage model.
 *
 * The trigger finds its columns through the attribute numbers stored in its
 * own pg_trigger row (the UPDATE trigger is created "UPDATE OF stage, key",
 * so tgattr[0] is the stage column and tgattr[1] the key column): renaming
 * the table or its columns does not break tracking, and pg_dump recreates
 * the trigger with the right numbers.  The model (policy, stages, allowed
 * edges) is read once per backend from the clm.* tables and kept in a hash
 * keyed by table OID; a statement trigger on those tables sends a relcache
 * invalidation for the changed table, and a relcache callback drops the
 * cached entries, so edits of a model reach every session at its commit.
 *
 * clm.stage_history is writable by no ordinary user.  The trigger (and
 * track/import) switch to the owner of clm.stage_history, i.e. the
 * extension owner, around one fixed, schema-qualified INSERT whose values
 * are all parameters (SetUserIdAndSecContext with
 * SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION).  No user
 * code runs under the switched identity: the INSERT touches only the
 * history table, its sequence and its indexes, all owned by the extension
 * owner.  Transaction abort restores the previous user on error.
 *
 * IDENTIFICATION
 *	  src/stages.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "clm.h"
#include "period.h"
#include "stages.h"

/* backfill setting: when not empty, the time recorded by the trigger */
static char *clm_stage_changed_at_setting = NULL;

typedef struct ClmTrackEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	MemoryContext cxt;
	ClmTrackInfo info;
} ClmTrackEntry;

/* OIDs of the extension's objects, looked up once per invalidation */
typedef struct ClmStageConfig
{
	bool		valid;
	Oid			model_rel;
	Oid			stage_rel;
	Oid			transition_rel;
	Oid			tracked_rel;
	Oid			history_rel;
	Oid			history_owner;
	Oid			trigger_fn;
} ClmStageConfig;

static HTAB *TrackCache = NULL;
static MemoryContext TrackCacheContext = NULL;
static ClmStageConfig Config;
static uint64 InvalCount = 0;
static SPIPlanPtr HistoryPlan = NULL;
static SPIPlanPtr FirstChangePlan = NULL;
static Oid	cached_user = InvalidOid;	/* user whose name CurrentUserName keeps */

static void RoleCacheCallback(Datum arg, int cacheid, uint32 hashvalue);

#define HISTORY_INSERT \
	"INSERT INTO clm.stage_history (table_oid, customer_key, model, from_stage, " \
	"to_stage, changed_at, xid, changed_by, source) " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"

PG_FUNCTION_INFO_V1(clm_stage_trigger);
PG_FUNCTION_INFO_V1(clm_stage_config_changed);
PG_FUNCTION_INFO_V1(clm_track);
PG_FUNCTION_INFO_V1(clm_untrack);
PG_FUNCTION_INFO_V1(clm_import_history);

/*
 * Define the clm.stage_changed_at setting (called from _PG_init).
 */
void
clm_stages_define_gucs(void)
{
	DefineCustomStringVariable("clm.stage_changed_at",
							   "Time recorded in clm.stage_history for stage changes (backfill loads).",
							   "Empty (the default) records the transaction timestamp.",
							   &clm_stage_changed_at_setting,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
}

/*
 * Relcache callback: a change of one of the clm stage tables (signalled by
 * clm.stage_config_changed) or a full reset drops every cached entry; a
 * change of a tracked table (ALTER, trigger created or dropped) drops its
 * entry.  Only flags change here: no memory is freed under a caller's feet.
 */
static void
StageCacheCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	ClmTrackEntry *entry;

	if (TrackCache == NULL)
		return;
	if (relid == InvalidOid || !Config.valid ||
		relid == Config.model_rel || relid == Config.stage_rel ||
		relid == Config.transition_rel || relid == Config.tracked_rel ||
		relid == Config.history_rel)
	{
		if (relid != InvalidOid && relid == Config.history_rel)
			Config.valid = false;
		if (relid == InvalidOid)
			Config.valid = false;
		hash_seq_init(&status, TrackCache);
		while ((entry = (ClmTrackEntry *) hash_seq_search(&status)) != NULL)
			entry->valid = false;
		InvalCount++;
		return;
	}
	entry = (ClmTrackEntry *) hash_search(TrackCache, &relid, HASH_FIND, NULL);
	if (entry != NULL)
	{
		entry->valid = false;
		InvalCount++;
	}
}

/*
 * Look up the OIDs of the extension's tables and trigger function.
 */
static void
LoadConfig(void)
{
	Oid			nsp = get_namespace_oid("clm", true);
	HeapTuple	tup;

	/* can't happen: the calling functions belong to the extension */
	if (!OidIsValid(nsp))
		elog(ERROR, "schema \"clm\" does not exist");
	Config.model_rel = get_relname_relid("stage_model", nsp);
	Config.stage_rel = get_relname_relid("stage", nsp);
	Config.transition_rel = get_relname_relid("stage_transition", nsp);
	Config.tracked_rel = get_relname_relid("tracked_table", nsp);
	Config.history_rel = get_relname_relid("stage_history", nsp);
	if (!OidIsValid(Config.history_rel) || !OidIsValid(Config.tracked_rel))
		elog(ERROR, "table clm.stage_history or clm.tracked_table does not exist");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(Config.history_rel));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", Config.history_rel);
	Config.history_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	Config.trigger_fn = LookupFuncName(list_make2(makeString("clm"),
												  makeString("stage_trigger")),
									   0, NULL, false);
	Config.valid = true;
}

/*
 * Create the cache on first use and make sure the configuration is known.
 */
void
clm_stage_ensure_cache(void)
{
	if (TrackCache == NULL)
	{
		HASHCTL		ctl;

		TrackCacheContext = AllocSetContextCreate(CacheMemoryContext,
												  "clm stage tracking cache",
												  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ClmTrackEntry);
		ctl.hcxt = TrackCacheContext;
		TrackCache = hash_create("clm tracked tables", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(StageCacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, RoleCacheCallback, (Datum) 0);
		Config.valid = false;
	}
	if (!Config.valid)
		LoadConfig();
}

/*
 * The OID of clm.stage_trigger().
 */
Oid
clm_stage_trigger_fn(void)
{
	clm_stage_ensure_cache();
	return Config.trigger_fn;
}

/*
 * Run a catalog statement or query with SPI as the extension owner.  Used
 * only for fixed, schema-qualified statements whose values are parameters.
 */
static int
ExecAsOwner(const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls, bool read_only)
{
	Oid			save_user;
	int			save_sec;
	int			rc;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(Config.history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);
	SetUserIdAndSecContext(save_user, save_sec);
	return rc;
}

/*
 * The stage and key columns of a table, from its UPDATE OF stage, key
 * trigger calling trigger_fn; false if it has none.  The table's owner may
 * create more triggers calling clm.stage_trigger() (the function is
 * executable by PUBLIC): clm.track's own trigger, clm_stage_update, wins
 * over others (which would come first by name, e.g. one "UPDATE OF n, id"
 * with n an integer, whose value was then read as text: SIGSEGV), and the
 * callers check the types of the columns whichever trigger is used.
 */
bool
clm_stage_columns(Relation rel, Oid trigger_fn, AttrNumber *stage_attnum,
				  AttrNumber *key_attnum)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			i;

	*stage_attnum = InvalidAttrNumber;
	*key_attnum = InvalidAttrNumber;
	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];

		if (t->tgfoid == trigger_fn && t->tgnattr == 2 &&
			TRIGGER_FOR_UPDATE(t->tgtype) &&
			(*stage_attnum == InvalidAttrNumber ||
			 strcmp(t->tgname, "clm_stage_update") == 0))
		{
			*stage_attnum = t->tgattr[0];
			*key_attnum = t->tgattr[1];
			if (strcmp(t->tgname, "clm_stage_update") == 0)
				break;
		}
	}
	return *key_attnum != InvalidAttrNumber;
}

/*
 * Raise 39P01 unless the stage column is text or varchar and the key column
 * bigint, integer, text or uuid (the columns of a clm UPDATE trigger).
 */
void
clm_stage_check_column_types(Relation rel, AttrNumber stage_attnum, AttrNumber key_attnum)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Form_pg_attribute katt = TupleDescAttr(desc, key_attnum - 1);
	Form_pg_attribute satt = TupleDescAttr(desc, stage_attnum - 1);

	if ((satt->atttypid != TEXTOID && satt->atttypid != VARCHAROID) ||
		(katt->atttypid != INT8OID && katt->atttypid != INT4OID &&
		 katt->atttypid != TEXTOID && katt->atttypid != UUIDOID))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("the clm UPDATE trigger of table \"%s\" names columns \"%s\" (%s) and \"%s\" (%s)",
						RelationGetRelationName(rel),
						NameStr(satt->attname), format_type_be(satt->atttypid),
						NameStr(katt->attname), format_type_be(katt->atttypid)),
				 errdetail("clm.stage_trigger() reads UPDATE OF stage (text or varchar), key (bigint, integer, text or uuid)."),
				 errhint("Drop triggers calling clm.stage_trigger() that clm.track() did not create, or use clm.untrack() and clm.track().")));
}

/*
 * Read the model of one tracked table from the clm.* tables into entry's
 * memory context.  The columns come from the table's clm UPDATE trigger.
 */
static void
LoadTrackInfo(ClmTrackEntry *entry, Relation rel)
{
	ClmTrackInfo *info = &entry->info;
	MemoryContext oldcxt;
	Oid			argtypes[1];
	Datum		args[1];
	int			i;
	char	   *policy;
	bool		badcols = false;

	elog(DEBUG1, "clm: loading the stage model of table \"%s\"",
		 RelationGetRelationName(rel));
	memset(info, 0, sizeof(ClmTrackInfo));
	info->stage_attnum = InvalidAttrNumber;
	info->key_attnum = InvalidAttrNumber;

	/* the columns, from the UPDATE OF stage, key trigger */
	if (clm_stage_columns(rel, Config.trigger_fn, &info->stage_attnum, &info->key_attnum))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Form_pg_attribute katt = TupleDescAttr(desc, info->key_attnum - 1);
		Form_pg_attribute satt = TupleDescAttr(desc, info->stage_attnum - 1);
		Oid			outfn;
		bool		isvarlena;

		badcols = (satt->atttypid != TEXTOID && satt->atttypid != VARCHAROID) ||
			(katt->atttypid != INT8OID && katt->atttypid != INT4OID &&
			 katt->atttypid != TEXTOID && katt->atttypid != UUIDOID);
		info->key_type = katt->atttypid;
		getTypeOutputInfo(info->key_type, &outfn, &isvarlena);
		fmgr_info_cxt(outfn, &info->key_out, entry->cxt);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	argtypes[0] = OIDOID;
	args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (ExecAsOwner("SELECT t.model, m.policy FROM clm.tracked_table t "
					"JOIN clm.stage_model m ON m.model OPERATOR(pg_catalog.=) t.model "
					"WHERE t.table_oid::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					1, argtypes, args, NULL, false) != SPI_OK_SELECT)
		elog(ERROR, "reading clm.tracked_table failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not tracked by clm",
						RelationGetRelationName(rel)),
				 errhint("Use clm.track() to track it.")));
	if (badcols)
		clm_stage_check_column_types(rel, info->stage_attnum, info->key_attnum);
	oldcxt = MemoryContextSwitchTo(entry->cxt);
	info->model = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	policy = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	info->model_text = CStringGetTextDatum(info->model);
	MemoryContextSwitchTo(oldcxt);
	if (strcmp(policy, "forward_only") == 0)
		info->policy = CLM_POLICY_FORWARD_ONLY;
	else if (strcmp(policy, "graph") == 0)
		info->policy = CLM_POLICY_GRAPH;
	else
		info->policy = CLM_POLICY_ANY;

	argtypes[0] = TEXTOID;
	args[0] = info->model_text;
	if (ExecAsOwner("SELECT stage, position FROM clm.stage "
					"WHERE model OPERATOR(pg_catalog.=) $1 ORDER BY position",
					1, argtypes, args, NULL, false) != SPI_OK_SELECT)
		elog(ERROR, "reading clm.stage failed");
	info->nstages = (int) SPI_processed;
	info->stages = MemoryContextAllocZero(entry->cxt,
										  sizeof(ClmStage) * Max(info->nstages, 1));
	for (i = 0; i < info->nstages; i++)
	{
		bool		isnull;

		info->stages[i].name =
			MemoryContextStrdup(entry->cxt,
								SPI_getvalue(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1));
		info->stages[i].position =
			DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 2, &isnull));
	}
	info->edges = MemoryContextAllocZero(entry->cxt,
										 sizeof(bool) * (info->nstages + 1) *
										 Max(info->nstages, 1));
	if (info->policy == CLM_POLICY_GRAPH)
	{
		if (ExecAsOwner("SELECT from_stage, to_stage FROM clm.stage_transition "
						"WHERE model OPERATOR(pg_catalog.=) $1",
						1, argtypes, args, NULL, false) != SPI_OK_SELECT)
			elog(ERROR, "reading clm.stage_transition failed");
		for (i = 0; i < (int) SPI_processed; i++)
		{
			char	   *from = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			char	   *to = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
			int			f = -1,
						t = -1,
						j;

			for (j = 0; j < info->nstages; j++)
			{
				if (from != NULL && strcmp(from, info->stages[j].name) == 0)
					f = j;
				if (strcmp(to, info->stages[j].name) == 0)
					t = j;
			}
			if (t >= 0 && (from == NULL || f >= 0))
				info->edges[(f + 1) * info->nstages + t] = true;
		}
	}
	SPI_finish();
}

/*
 * The cached tracking information of a table, (re)loaded when invalid.
 */
ClmTrackInfo *
clm_stage_track_info(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	ClmTrackEntry *entry;
	bool		found;

	clm_stage_ensure_cache();
	entry = (ClmTrackEntry *) hash_search(TrackCache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->cxt = NULL;
	}
	while (!entry->valid)
	{
		uint64		start = InvalCount;

		if (!Config.valid)
			LoadConfig();
		if (entry->cxt != NULL)
			MemoryContextDelete(entry->cxt);
		entry->cxt = AllocSetContextCreate(TrackCacheContext,
										   "clm tracked table",
										   ALLOCSET_SMALL_SIZES);
		LoadTrackInfo(entry, rel);
		/* an invalidation that arrived while loading means: load again */
		if (InvalCount == start)
			entry->valid = true;
	}
	return &entry->info;
}

/*
 * Index of a stage in the model, or -1.
 */
static int
FindStage(ClmTrackInfo *info, const char *name)
{
	int			i;

	for (i = 0; i < info->nstages; i++)
		if (strcmp(info->stages[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * Check a move from -> to (either may be NULL) against the model and its
 * transition policy.  Setting the stage to NULL is always allowed; so is
 * leaving a stage the model no longer has.  Reports check_violation at
 * elevel (ERROR; WARNING for a change already committed elsewhere).
 */
void
clm_stage_check_move(ClmTrackInfo *info, Relation rel, const char *key,
					 const char *from, const char *to, int elevel)
{
	int			t,
				f;

	if (to == NULL)
		return;
	t = FindStage(info, to);
	if (t < 0)
	{
		ereport(elevel,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("stage \"%s\" is not in model \"%s\"", to, info->model),
				 errdetail("Customer %s of table \"%s\".", key,
						   RelationGetRelationName(rel)),
				 errhint("The stages of a model are listed in clm.stage.")));
		return;
	}
	f = from ? FindStage(info, from) : -1;
	if (from != NULL && f < 0)
		return;
	switch (info->policy)
	{
		case CLM_POLICY_ANY:
			return;
		case CLM_POLICY_FORWARD_ONLY:
			if (f >= 0 && info->stages[t].position < info->stages[f].position)
				ereport(elevel,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("moving back from stage \"%s\" to \"%s\" is not allowed in model \"%s\"",
								from, to, info->model),
						 errdetail("Customer %s of table \"%s\"; the model's policy is forward_only.",
								   key, RelationGetRelationName(rel))));
			return;
		case CLM_POLICY_GRAPH:
			if (f < 0 && t == 0)
				return;
			if (!info->edges[(f + 1) * info->nstages + t])
				ereport(elevel,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("transition from %s%s%s to stage \"%s\" is not allowed in model \"%s\"",
								from ? "stage \"" : "", from ? from : "no stage",
								from ? "\"" : "", to, info->model),
						 errdetail("Customer %s of table \"%s\"; the model's policy is graph.",
								   key, RelationGetRelationName(rel)),
						 errhint("Allowed moves are listed in clm.stage_transition.")));
			return;
	}
}

/*
 * Check a time to record in clm.stage_history: finite, and before the year
 * 10000.  PostgreSQL 15 subtracts timestamps without an overflow check, so
 * two recorded times further apart than 292,277 years (possible within the
 * type's range, 4713 BC to 294276 AD) gave stays of negative length in
 * clm.stage_spans, clm.time_in_stage and clm.stage_properties.  From 4713 BC
 * to the year 10000 every difference fits.
 */
static void
CheckRecordedTime(TimestampTz ts, const char *what)
{
	clm_check_timestamp(ts, what);
	if (ts >= (TimestampTz) (date2j(10000, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be before the year 10000", what),
				 errdetail("Got %s.", timestamptz_to_str(ts)),
				 errhint("Stage history times are limited to years up to 9999 so that time spent in a stage can be computed.")));
}

/*
 * The time to record: clm.stage_changed_at if set, else the transaction
 * timestamp (now()).
 */
TimestampTz
clm_stage_changed_at(void)
{
	TimestampTz ts;

	if (clm_stage_changed_at_setting == NULL || clm_stage_changed_at_setting[0] == '\0')
		return GetCurrentTransactionStartTimestamp();
	ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												 CStringGetDatum(clm_stage_changed_at_setting),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	CheckRecordedTime(ts, "clm.stage_changed_at");
	return ts;
}

/*
 * Role invalidation callback: forget the cached user name (ALTER ROLE
 * RENAME).
 */
static void
RoleCacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	cached_user = InvalidOid;
}

/*
 * The current user's name as a name Datum, cached for the last user seen.
 */
Datum
clm_stage_current_user_name(void)
{
	static NameData cached_name;
	Oid			user = GetUserId();

	if (user != cached_user)
	{
		namestrcpy(&cached_name, GetUserNameFromId(user, false));
		cached_user = user;
	}
	return NameGetDatum(&cached_name);
}

/*
 * The writing transaction, as recorded in clm.stage_history.xid.
 */
static Datum
TopXid(void)
{
	return FullTransactionIdGetDatum(GetTopFullTransactionId());
}

/*
 * Insert one history row through the kept plan, as the extension owner:
 * xid and changed_by are the writing transaction (xid8) and role (name).
 * The caller has an SPI connection open.
 */
void
clm_stage_write_history(ClmTrackInfo *info, Oid relid, Datum key, const char *from,
						Datum to, bool to_null, TimestampTz at, Datum xid,
						Datum changed_by, const char *source)
{
	Datum		values[9];
	char		nulls[9];
	Oid			save_user;
	int			save_sec;
	int			rc;

	if (HistoryPlan == NULL)
	{
		Oid			types[9] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TIMESTAMPTZOID, XID8OID, NAMEOID, TEXTOID};
		SPIPlanPtr	plan = SPI_prepare(HISTORY_INSERT, 9, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		HistoryPlan = plan;
	}
	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = key;
	values[2] = info->model_text;
	if (from != NULL)
		values[3] = CStringGetTextDatum(from);
	else
	{
		values[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	values[4] = to;
	if (to_null)
		nulls[4] = 'n';
	values[5] = TimestampTzGetDatum(at);
	values[6] = xid;
	values[7] = changed_by;
	values[8] = CStringGetTextDatum(source);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(Config.history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	rc = SPI_execute_plan(HistoryPlan, values, nulls, false, 0);
	SetUserIdAndSecContext(save_user, save_sec);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "inserting into clm.stage_history failed: %s",
			 SPI_result_code_string(rc));
}

/*
 * The customer key as text (the key column is bigint, integer, text or uuid).
 */
static Datum
KeyText(ClmTrackInfo *info, Datum key)
{
	if (info->key_type == TEXTOID)
		return PointerGetDatum(PG_DETOAST_DATUM_PACKED(key));
	return CStringGetTextDatum(OutputFunctionCall(&info->key_out, key));
}

/*
 * clm.stage_trigger(): AFTER INSERT and AFTER UPDATE OF stage, key row
 * trigger installed by clm.track.  Validates the move against the model and
 * writes one clm.stage_history row when the stage really changed.
 */
Datum
clm_stage_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	ClmTrackInfo *info;
	HeapTuple	newtup;
	Datum		newstage,
				newkey,
				oldstage = (Datum) 0,
				keytext;
	bool		newstage_null,
				newkey_null,
				oldstage_null = true;
	char	   *from = NULL,
			   *to = NULL;

	/* SQL cannot call a trigger function directly: only C code could */
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "clm.stage_trigger() must be called as a trigger");
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_trigger() must be fired AFTER INSERT or UPDATE FOR EACH ROW"),
				 errhint("Install it with clm.track().")));
	/* on the shards of a Citus table: see stages_citus.c */
	if (td->tg_trigger->tgnargs > 0)
	{
		clm_stage_shard_trigger(td);
		return PointerGetDatum(NULL);
	}
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	info = clm_stage_track_info(rel);
	if (info->stage_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" has no clm UPDATE trigger naming its stage and key columns",
						RelationGetRelationName(rel)),
				 errhint("Use clm.untrack() and clm.track() to reinstall the triggers.")));

	newtup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	newstage = heap_getattr(newtup, info->stage_attnum, desc, &newstage_null);
	newkey = heap_getattr(newtup, info->key_attnum, desc, &newkey_null);

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	oldtup = td->tg_trigtuple;
		bool		oldkey_null;
		Datum		oldkey = heap_getattr(oldtup, info->key_attnum, desc, &oldkey_null);
		Form_pg_attribute katt = TupleDescAttr(desc, info->key_attnum - 1);

		oldstage = heap_getattr(oldtup, info->stage_attnum, desc, &oldstage_null);
		if ((!oldstage_null || !newstage_null) &&
			(oldkey_null != newkey_null ||
			 (!oldkey_null && !datum_image_eq(oldkey, newkey, katt->attbyval,
											  katt->attlen))))
			ereport(ERROR,
					(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
					 errmsg("cannot change the customer key of a row with a stage in tracked table \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("clm.stage_history identifies customers by their key."),
					 errhint("Insert a new row for the new key, or use clm.untrack() first.")));
		if (oldstage_null && newstage_null)
			return PointerGetDatum(NULL);
		if (!oldstage_null && !newstage_null &&
			datum_image_eq(oldstage, newstage, false, -1))
			return PointerGetDatum(NULL);	/* the stage did not change */
		if (!oldstage_null)
			from = TextDatumGetCString(oldstage);
	}
	if (newstage_null && from == NULL)
		return PointerGetDatum(NULL);
	if (!newstage_null && to == NULL)
		to = TextDatumGetCString(newstage);
	if (newkey_null)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("customer key is NULL in a row with a stage in tracked table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Stage changes are recorded per customer key.")));
	keytext = KeyText(info, newkey);
	clm_stage_check_move(info, rel, TextDatumGetCString(keytext), from, to, ERROR);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	clm_stage_write_history(info, RelationGetRelid(rel), keytext, from,
							newstage_null ? (Datum) 0 : PointerGetDatum(PG_DETOAST_DATUM_PACKED(newstage)),
							newstage_null, clm_stage_changed_at(), TopXid(),
							clm_stage_current_user_name(), "trigger");
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * clm.stage_config_changed(): statement trigger on the model tables; sends
 * a relcache invalidation of the changed table so that every session drops
 * its cached models at commit.
 */
Datum
clm_stage_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "clm.stage_config_changed() must be called as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * Open a table passed as regclass.  A regclass argument can hold the OID of
 * a dropped table (e.g. 16384::regclass, or a tracked_table row of a dropped
 * table), for which table_open would fail with an internal error (XX000).
 */
static Relation
OpenUserTable(Oid relid, LOCKMODE lockmode)
{
	Relation	rel = try_table_open(relid, lockmode);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("A dropped table keeps its row in clm.tracked_table and its history; nothing needs untracking.")));
	return rel;
}

/*
 * Open a table to track or untrack: a plain table owned by the caller.
 */
static Relation
OpenOwnedTable(Oid relid)
{
	Relation	rel = OpenUserTable(relid, ShareRowExclusiveLock);

	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a plain table", RelationGetRelationName(rel)),
				 errdetail("clm tracks stages on ordinary tables (not views, foreign or partitioned tables).")));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	return rel;
}

/*
 * The tracked_table row of a table: true if there is one.
 */
bool
clm_stage_is_tracked(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	values[0] = ObjectIdGetDatum(relid);
	if (ExecAsOwner("SELECT 1 FROM clm.tracked_table "
					"WHERE table_oid::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					1, types, values, NULL, false) != SPI_OK_SELECT)
		elog(ERROR, "reading clm.tracked_table failed");
	return SPI_processed > 0;
}

/*
 * A column of the table to track: attnum, checked to be one of the types.
 */
static AttrNumber
TrackedColumn(Relation rel, Name colname, const char *what,
			  const Oid *types, int ntypes, const char *typenames)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), NameStr(*colname));
	Oid			typid;
	int			i;

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						NameStr(*colname), RelationGetRelationName(rel)),
				 errdetail("The %s column must be an ordinary column.", what)));
	typid = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
	for (i = 0; i < ntypes; i++)
		if (typid == types[i])
			return attnum;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("%s column \"%s\" has type %s", what, NameStr(*colname),
					format_type_be(typid)),
			 errdetail("The %s column must be of type %s.", what, typenames)));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/*
 * clm.track(tbl, key_column, stage_column, model, record_existing): install
 * the stage triggers on tbl, register it in clm.tracked_table and, if
 * record_existing, record each existing row's stage as an entry.  Returns
 * the number of existing rows recorded.
 */
Datum
clm_track(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		keycol = PG_GETARG_NAME(1);
	Name		stagecol = PG_GETARG_NAME(2);
	text	   *model = PG_GETARG_TEXT_PP(3);
	bool		record_existing = PG_GETARG_BOOL(4);
	static const Oid keytypes[] = {INT8OID, INT4OID, TEXTOID, UUIDOID};
	static const Oid stagetypes[] = {TEXTOID, VARCHAROID};
	Relation	rel;
	AttrNumber	keyatt,
				stageatt;
	Oid			types[3];
	Datum		values[3];
	char	   *qtable,
			   *qkey,
			   *qstage;
	StringInfoData sql;
	int64		recorded = 0;

	rel = OpenOwnedTable(relid);
	/*
	 * A temporary table is dropped at the end of its session (or ON COMMIT
	 * DROP) without an sql_drop event: clm.on_drop would never remove its
	 * history, which nobody could then read or erase (clm.forget finds the
	 * owner of a history through the table), and a later table given the
	 * same OID would inherit it.
	 */
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot track temporary table \"%s\"", RelationGetRelationName(rel)),
				 errdetail("A temporary table is dropped without the event clm removes its history on.")));
	keyatt = TrackedColumn(rel, keycol, "key", keytypes, lengthof(keytypes),
						   "bigint, integer, text or uuid");
	stageatt = TrackedColumn(rel, stagecol, "stage", stagetypes,
							 lengthof(stagetypes), "text or varchar");
	if (keyatt == stageatt)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key and stage columns must differ")));

	clm_stage_ensure_cache();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	types[0] = TEXTOID;
	values[0] = PointerGetDatum(model);
	if (ExecAsOwner("SELECT 1 FROM clm.stage_model WHERE model OPERATOR(pg_catalog.=) $1",
					1, types, values, NULL, false) != SPI_OK_SELECT)
		elog(ERROR, "reading clm.stage_model failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stage model \"%s\" does not exist", text_to_cstring(model)),
				 errhint("The models are listed in clm.stage_model.")));
	if (clm_stage_is_tracked(relid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already tracked", RelationGetRelationName(rel)),
				 errhint("Use clm.untrack() first to change its model or columns.")));

	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(relid);
	types[1] = TEXTOID;
	values[1] = PointerGetDatum(model);
	if (ExecAsOwner("INSERT INTO clm.tracked_table (table_oid, model, tracked_by) "
					"VALUES ($1::pg_catalog.regclass, $2, pg_catalog.session_user())",
					2, types, values, NULL, false) != SPI_OK_INSERT)
		elog(ERROR, "inserting into clm.tracked_table failed");

	/* the triggers, created by the caller, who owns the table */
	qtable = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										RelationGetRelationName(rel));
	qkey = pstrdup(quote_identifier(NameStr(*keycol)));
	qstage = pstrdup(quote_identifier(NameStr(*stagecol)));
	initStringInfo(&sql);
	/*
	 * No WHEN clauses: the executor parses a trigger's WHEN expression from
	 * its stored text at every statement, which costs more than queueing
	 * the event and letting the C function return at once when nothing
	 * changed (measured in bench/stages.sh).  A Citus distributed table
	 * gets triggers that fire on its shards instead (stages_citus.c).
	 */
	if (!clm_stage_citus_track(rel, keyatt, qtable, qkey, qstage))
	{
		appendStringInfo(&sql,
						 "CREATE TRIGGER clm_stage_insert AFTER INSERT ON %s FOR EACH ROW "
						 "EXECUTE FUNCTION clm.stage_trigger()",
						 qtable);
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "CREATE TRIGGER failed");
		resetStringInfo(&sql);
		appendStringInfo(&sql,
						 "CREATE TRIGGER clm_stage_update AFTER UPDATE OF %s, %s ON %s FOR EACH ROW "
						 "EXECUTE FUNCTION clm.stage_trigger()",
						 qstage, qkey, qtable);
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "CREATE TRIGGER failed");
	}

	if (record_existing)
	{
		ClmTrackInfo *info = clm_stage_track_info(rel);
		TimestampTz at = clm_stage_changed_at();
		Portal		portal;
		SPIPlanPtr	plan;
		/* per-row allocations, freed after each row: bounded memory (#13) */
		MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "clm track row",
													 ALLOCSET_SMALL_SIZES);

		resetStringInfo(&sql);
		appendStringInfo(&sql, "SELECT %s, %s::pg_catalog.text FROM %s WHERE %s IS NOT NULL",
						 qkey, qstage, qtable, qstage);
		plan = SPI_prepare(sql.data, 0, NULL);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed");
		portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
		for (;;)
		{
			SPITupleTable *tt;
			uint64		n,
						i;

			SPI_cursor_fetch(portal, true, 1000);
			n = SPI_processed;
			if (n == 0)
				break;
			tt = SPI_tuptable;
			for (i = 0; i < n; i++)
			{
				bool		knull,
							snull;
				Datum		k = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &knull);
				Datum		s = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &snull);
				Datum		ktext;
				char	   *stage;
				MemoryContext old;

				CHECK_FOR_INTERRUPTS();
				old = MemoryContextSwitchTo(rowcxt);
				if (knull)
					ereport(ERROR,
							(errcode(ERRCODE_NOT_NULL_VIOLATION),
							 errmsg("customer key is NULL in a row with a stage in table \"%s\"",
									RelationGetRelationName(rel)),
							 errhint("Give every row with a stage a key, or track with record_existing => false.")));
				ktext = KeyText(info, k);
				stage = TextDatumGetCString(s);
				if (FindStage(info, stage) < 0)
					clm_stage_check_move(info, rel, TextDatumGetCString(ktext), NULL, stage, ERROR);
				clm_stage_write_history(info, relid, ktext, NULL, s, false, at, TopXid(),
										clm_stage_current_user_name(), "track");
				/* SPI calls return to the SPI procedure context: switch back */
				MemoryContextSwitchTo(old);
				MemoryContextReset(rowcxt);
				recorded++;
			}
			SPI_freetuptable(tt);
		}
		SPI_cursor_close(portal);
	}
	SPI_finish();
	table_close(rel, NoLock);
	PG_RETURN_INT64(recorded);
}

/*
 * clm.untrack(tbl): drop the clm triggers of tbl and its tracked_table row.
 * The history is kept.
 */
Datum
clm_untrack(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	TriggerDesc *trigdesc;
	List	   *names = NIL;
	ListCell   *lc;
	char	   *qtable;
	const char *outbox;
	int			nest;
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	int			i;

	rel = OpenOwnedTable(relid);
	clm_stage_ensure_cache();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!clm_stage_is_tracked(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not tracked", RelationGetRelationName(rel))));
	/* a distributed table: record its last changes, then drop its change table */
	outbox = clm_stage_outbox_of(rel, Config.trigger_fn, false);
	if (outbox != NULL)
		(void) clm_stage_citus_move(rel, 0);
	trigdesc = rel->trigdesc;
	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
		if (trigdesc->triggers[i].tgfoid == Config.trigger_fn)
			names = lappend(names, pstrdup(trigdesc->triggers[i].tgname));
	qtable = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										RelationGetRelationName(rel));
	/* Citus drops the triggers of a distributed table on its shards too */
	nest = NewGUCNestLevel();
	if (outbox != NULL || clm_citus_table_type_of(relid) != NULL)
		(void) set_config_option("citus.enable_unsafe_triggers", "on",
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	foreach(lc, names)
	{
		char	   *sql = psprintf("DROP TRIGGER %s ON %s",
								   quote_identifier((char *) lfirst(lc)), qtable);

		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "DROP TRIGGER failed");
	}
	AtEOXact_GUC(true, nest);
	if (outbox != NULL)
		clm_stage_drop_change_table(outbox);
	values[0] = ObjectIdGetDatum(relid);
	if (ExecAsOwner("DELETE FROM clm.tracked_table "
					"WHERE table_oid::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					1, types, values, NULL, false) != SPI_OK_DELETE)
		elog(ERROR, "deleting from clm.tracked_table failed");
	SPI_finish();
	table_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * clm.import_history(tbl, source): load past transitions of tracked table
 * tbl from source (columns customer_key, stage, changed_at), read with the
 * caller's privileges.  Per customer, rows are taken in changed_at order;
 * each move is validated like a live change, and imported rows must predate
 * the customer's existing history.  Returns the number of rows imported.
 */
Datum
clm_import_history(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			srcid = PG_GETARG_OID(1);
	Relation	rel;
	ClmTrackInfo *info;
	char	   *sql;
	SPIPlanPtr	plan;
	Portal		portal;
	char	   *cur_key = NULL;
	char	   *prev_stage = NULL;
	TimestampTz prev_at = 0;
	bool		have_first = false;
	TimestampTz first_existing = 0;
	int64		imported = 0;
	MemoryContext keycxt;
	MemoryContext rowcxt;

	rel = OpenUserTable(relid, RowExclusiveLock);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	clm_stage_ensure_cache();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!clm_stage_is_tracked(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not tracked", RelationGetRelationName(rel)),
				 errhint("Use clm.track() first: the import validates against the table's model.")));
	info = clm_stage_track_info(rel);
	if (FirstChangePlan == NULL)
	{
		Oid			types[2] = {OIDOID, TEXTOID};

		plan = SPI_prepare("SELECT pg_catalog.min(changed_at) FROM clm.stage_history "
						   "WHERE table_oid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
						   "AND customer_key OPERATOR(pg_catalog.=) $2", 2, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed");
		SPI_keepplan(plan);
		FirstChangePlan = plan;
	}

	/* read the source as the caller */
	if (get_rel_name(srcid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", srcid)));
	/*
	 * Keys go through the key column's type, so that they are stored in the
	 * text form the trigger writes (int8out, uuid_out): '007' or ' 7' of a
	 * bigint table is customer 7, an upper-case uuid the lower-case one, and
	 * a key the type does not accept fails (22P02) instead of recording the
	 * history of a customer that can never exist.
	 */
	sql = psprintf("SELECT k, s, a FROM (SELECT customer_key::pg_catalog.text::%s::pg_catalog.text AS k, "
				   "stage::pg_catalog.text AS s, changed_at::pg_catalog.timestamptz AS a "
				   "FROM %s) src ORDER BY k COLLATE pg_catalog.\"C\", a",
				   OidIsValid(info->key_type) ? format_type_be_qualified(info->key_type) :
				   "pg_catalog.text",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(srcid)),
											  get_rel_name(srcid)));
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	keycxt = AllocSetContextCreate(CurrentMemoryContext, "clm import key",
								   ALLOCSET_SMALL_SIZES);
	/* per-row allocations, freed after each row: bounded memory (#13) */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "clm import row",
								   ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		n,
					i;

		SPI_cursor_fetch(portal, true, 1000);
		n = SPI_processed;
		if (n == 0)
			break;
		tt = SPI_tuptable;
		for (i = 0; i < n; i++)
		{
			bool		knull,
						snull,
						anull;
			Datum		k = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &knull);
			Datum		s = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &snull);
			Datum		a = SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &anull);
			char	   *key,
					   *stage;
			TimestampTz at;
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(rowcxt);
			if (knull || snull || anull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("imported history rows must have a customer_key, a stage and a changed_at"),
						 errdetail("Row for customer %s.", knull ? "NULL" : TextDatumGetCString(k))));
			key = TextDatumGetCString(k);
			stage = TextDatumGetCString(s);
			at = DatumGetTimestampTz(a);
			CheckRecordedTime(at, "changed_at");
			if (cur_key == NULL || strcmp(cur_key, key) != 0)
			{
				Datum		args[2];
				bool		isnull;

				MemoryContextReset(keycxt);
				cur_key = MemoryContextStrdup(keycxt, key);
				prev_stage = NULL;
				args[0] = ObjectIdGetDatum(relid);
				args[1] = k;
				if (SPI_execute_plan(FirstChangePlan, args, NULL, true, 1) != SPI_OK_SELECT)
					elog(ERROR, "reading clm.stage_history failed");
				first_existing = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
																   SPI_tuptable->tupdesc,
																   1, &isnull));
				have_first = !isnull;
				/* one result per customer: free it (kept until SPI_finish otherwise) */
				SPI_freetuptable(SPI_tuptable);
				MemoryContextSwitchTo(rowcxt);
			}
			else if (at == prev_at)
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("two imported stage changes of customer %s at the same time", key),
						 errdetail("Their order would be undefined.")));
			if (have_first && at >= first_existing)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("imported stage change of customer %s is not earlier than its recorded history", key),
						 errdetail("Imported changes must predate the first change already in clm.stage_history.")));
			if (prev_stage != NULL && strcmp(prev_stage, stage) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("imported history of customer %s repeats stage \"%s\"", key, stage),
						 errdetail("Each row must change the stage.")));
			clm_stage_check_move(info, rel, key, prev_stage, stage, ERROR);
			clm_stage_write_history(info, relid, k, prev_stage, s, false, at, TopXid(),
									clm_stage_current_user_name(), "import");
			prev_stage = MemoryContextStrdup(keycxt, stage);
			prev_at = at;
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			imported++;
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	table_close(rel, NoLock);
	PG_RETURN_INT64(imported);
}
