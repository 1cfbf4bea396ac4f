/*-------------------------------------------------------------------------
 *
 * stages_citus.c
 *	  Stage tracking of a Citus distributed table.
 *
 * Citus runs no trigger on the coordinator's copy of a distributed table
 * (its "shell"): with citus.enable_unsafe_triggers it copies row triggers
 * to the shards and fires them there, on the workers, where clm's models,
 * clm.tracked_table and clm.stage_history are not.  So tracking works in
 * two halves, both in the writer's distributed transaction:
 *
 * 1. On the shards.  clm.track gives the table a change table,
 *    <schema>.clm_stage_changes_<table OID>, distributed by the customer key
 *    and co-located with the table, owned by the table's owner.  Its
 *    triggers call clm.stage_trigger(change table, table OID): with these
 *    two arguments the trigger does not look for a model; it appends
 *    (customer, old stage, new stage, writer, order, Citus transaction) to
 *    the co-located shard of the change table, as the owner of the shard,
 *    with one fixed INSERT whose values are parameters.  Nobody else may
 *    insert: a trigger on one owner's table can only append to that
 *    owner's tables.  A change must come from a transaction the
 *    coordinator coordinates (0A000 otherwise, e.g. through a worker node).
 *
 * 2. On the coordinator.  Before a statement that may change a tracked
 *    distributed table, clm starts a coordinated transaction (Citus writes
 *    a single shard without BEGIN otherwise, and the change would be
 *    committed on the worker before it is validated).  When the statement
 *    ends (ExecutorFinish, or after COPY FROM), clm deletes the change
 *    table's rows, returning them, validates each move against the model as
 *    the local trigger does (check_violation fails the statement) and
 *    writes clm.stage_history as the extension owner.  The DELETE runs as
 *    the current user: Citus must run it on the connections that wrote the
 *    rows, which are that user's.  So every role may select and delete the
 *    change tables, but only clm may write them (the executor hook refuses
 *    any other statement that does, on every node): a writer who deleted
 *    the rows of his own statement before the move, in a data-modifying
 *    WITH, would leave his changes unrecorded; other transactions never see
 *    a row, since each statement empties what it wrote.
 *
 * The DELETE runs with citus.all_modifications_commutative for that one
 * statement: each transaction deletes only the rows it sees, so Citus's
 * exclusive lock for multi-shard modifications, which would serialise every
 * concurrent stage change of the table until commit, is not needed.
 *
 * Limits (README, "Stage tracking on distributed tables"): the Citus
 * transaction id the shard trigger checks can be claimed by any role in its
 * own session; rows so committed on a worker are recorded by the next
 * statement through the coordinator, at its time, with a WARNING if the
 * model forbids the move.  On a coordinator that holds shards, a statement
 * naming a change shard is not refused (Citus empties such a shard over a
 * connection to itself, which looks like any session).
 *
 * Also here: clm.stage_history_here(), which the stage functions call
 * first, so that Citus running one of them on a worker fails instead of
 * reading the worker's empty history.
 *
 * IDENTIFICATION
 *	  src/stages_citus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/regproc.h"
#include "utils/xid8.h"

#include "clm.h"
#include "stages.h"

#define CHANGES_PREFIX "clm_stage_changes_"

/* the Citus transaction of the current local transaction */
typedef struct ClmCitusXact
{
	LocalTransactionId lxid;	/* local transaction it was read in */
	int64		number;			/* transaction_number */
	int32		initiator;		/* initiator_node_identifier */
	TimestampTz stamp;			/* transaction_stamp */
} ClmCitusXact;

/* one row taken from a change table */
typedef struct ClmChange
{
	char	   *key;
	char	   *from;
	char	   *to;
	Datum		changed_by;
	int64		seq;
	bool		own;
	TimestampTz stamp;
} ClmChange;

static ClmCitusXact CitusXact = {InvalidLocalTransactionId, 0, 0, 0};
static bool ClmWritesChanges = false;	/* clm's own INSERT or DELETE runs */
static int64 ShardSeq = 0;
static SPIPlanPtr ShardPlan = NULL;
static char *ShardPlanTable = NULL;
static Oid	ShardPlanKeyType = InvalidOid;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * Whether Citus is installed in this database.
 */
static bool
CitusPresent(void)
{
	return OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE));
}

/*
 * The Citus transaction id of the current transaction (read once per local
 * transaction).  The caller has SPI open.
 */
static ClmCitusXact *
CurrentCitusXact(void)
{
	bool		isnull;

	if (CitusXact.lxid == MyProc->lxid)
		return &CitusXact;
	if (SPI_execute("SELECT t.transaction_number, t.initiator_node_identifier, t.transaction_stamp "
					"FROM pg_catalog.get_current_transaction_id() t", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "reading pg_catalog.get_current_transaction_id() failed");
	CitusXact.number = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	CitusXact.initiator = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	CitusXact.stamp = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (isnull)
		CitusXact.stamp = GetCurrentTransactionStartTimestamp();
	CitusXact.lxid = MyProc->lxid;
	return &CitusXact;
}

/*
 * Run clm's own write of a change table: the shard trigger's INSERT (sql
 * NULL: the kept plan, with values and nulls) or the move's DELETE (of the
 * customers in keys, if not NULL: its $1).
 */
static int
ExecChangeWrite(const char *sql, Datum *values, const char *nulls, ArrayType *keys)
{
	int			rc;

	ClmWritesChanges = true;
	PG_TRY();
	{
		if (sql == NULL)
			rc = SPI_execute_plan(ShardPlan, values, nulls, false, 0);
		else if (keys == NULL)
			rc = SPI_execute(sql, false, 0);
		else
		{
			Oid			types[1] = {get_array_type(ARR_ELEMTYPE(keys))};
			Datum		args[1] = {PointerGetDatum(keys)};

			rc = SPI_execute_with_args(sql, 1, types, args, NULL, false, 0);
		}
	}
	PG_FINALLY();
	{
		ClmWritesChanges = false;
	}
	PG_END_TRY();
	return rc;
}

/*
 * The name of the distributed table a shard belongs to: the shard's name
 * without Citus's "_<shard id>" suffix.
 */
static char *
TableOfShard(Relation rel)
{
	char	   *name = pstrdup(RelationGetRelationName(rel));
	char	   *p = strrchr(name, '_');
	char	   *q;

	if (p == NULL || p[1] == '\0')
		return name;
	for (q = p + 1; *q; q++)
		if (*q < '0' || *q > '9')
			return name;
	*p = '\0';
	return name;
}

/*
 * Text of a datum of a text or varchar column, or NULL.
 */
static Datum
StageText(HeapTuple tup, AttrNumber att, TupleDesc desc, bool *isnull)
{
	Datum		d = heap_getattr(tup, att, desc, isnull);

	return *isnull ? (Datum) 0 : PointerGetDatum(PG_DETOAST_DATUM_PACKED(d));
}

/*
 * The AFTER INSERT / UPDATE row trigger on a shard (clm.stage_trigger with
 * two arguments: the change table, quoted and qualified, and the OID of the
 * distributed table on the coordinator).  Appends the stage change to the
 * co-located shard of the change table, as the owner of the shard.
 */
void
clm_stage_shard_trigger(TriggerData *td)
{
	Trigger    *tg = td->tg_trigger;
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	stage_att,
				key_att;
	HeapTuple	newtup;
	Datum		newstage,
				oldstage = (Datum) 0,
				newkey;
	bool		newstage_null,
				oldstage_null = true,
				newkey_null;
	Oid			keytype;
	ClmCitusXact *x;
	Datum		values[8];
	char		nulls[8];
	Oid			save_user;
	int			save_sec;
	int			rc;

	if (tg->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.stage_trigger() takes no arguments, or two on the shards of a Citus table"),
				 errhint("Install it with clm.track().")));
	if (!CitusPresent())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.stage_trigger() with arguments runs only on the shards of a Citus distributed table"),
				 errdetail("Table \"%s\" is not in a database with Citus.", RelationGetRelationName(rel)),
				 errhint("Install it with clm.track().")));
	if (!clm_stage_columns(rel, tg->tgfoid, &stage_att, &key_att))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" has no clm UPDATE trigger naming its stage and key columns",
						TableOfShard(rel)),
				 errhint("Use clm.untrack() and clm.track() to reinstall the triggers.")));
	clm_stage_check_column_types(rel, stage_att, key_att);
	keytype = TupleDescAttr(desc, key_att - 1)->atttypid;

	newtup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	newstage = StageText(newtup, stage_att, desc, &newstage_null);
	newkey = heap_getattr(newtup, key_att, desc, &newkey_null);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		bool		oldkey_null;
		Datum		oldkey = heap_getattr(td->tg_trigtuple, key_att, desc, &oldkey_null);
		Form_pg_attribute katt = TupleDescAttr(desc, key_att - 1);

		oldstage = StageText(td->tg_trigtuple, stage_att, desc, &oldstage_null);
		/* Citus does not change a distribution column: checked all the same */
		if ((!oldstage_null || !newstage_null) &&
			(oldkey_null != newkey_null ||
			 (!oldkey_null && !datum_image_eq(oldkey, newkey, katt->attbyval, katt->attlen))))
			ereport(ERROR,
					(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
					 errmsg("cannot change the customer key of a row with a stage in tracked table \"%s\"",
							TableOfShard(rel)),
					 errdetail("clm.stage_history identifies customers by their key.")));
		if (oldstage_null && newstage_null)
			return;
		if (!oldstage_null && !newstage_null &&
			datum_image_eq(oldstage, newstage, false, -1))
			return;
	}
	else if (newstage_null)
		return;
	if (newkey_null)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("customer key is NULL in a row with a stage in tracked table \"%s\"",
						TableOfShard(rel)),
				 errdetail("Stage changes are recorded per customer key.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	x = CurrentCitusXact();
	/* the coordinator (node group 0), in a transaction it coordinates */
	if (x->number == 0 || x->initiator != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stages of the tracked distributed table \"%s\" change only through the coordinator",
						TableOfShard(rel)),
				 errdetail("clm validates and records stage changes on the coordinator, in the writer's distributed transaction."),
				 errhint("Run the statement on the coordinator, with clm in its shared_preload_libraries.")));
	if (ShardPlan == NULL || ShardPlanKeyType != keytype ||
		strcmp(ShardPlanTable, tg->tgargs[0]) != 0)
	{
		Oid			types[8] = {keytype, TEXTOID, TEXTOID, NAMEOID, INT8OID,
		INT8OID, INT4OID, TIMESTAMPTZOID};
		List	   *names = stringToQualifiedNameList(tg->tgargs[0]);
		RangeVar   *rv = makeRangeVarFromNameList(names);
		char	   *sql;
		SPIPlanPtr	plan;

		sql = psprintf("INSERT INTO %s (customer_key, from_stage, to_stage, changed_by, seq, "
					   "txn, initiator, stamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					   quote_qualified_identifier(rv->schemaname, rv->relname));
		plan = SPI_prepare(sql, 8, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		if (ShardPlan != NULL)
			SPI_freeplan(ShardPlan);
		ShardPlan = plan;
		ShardPlanKeyType = keytype;
		if (ShardPlanTable != NULL)
			pfree(ShardPlanTable);
		ShardPlanTable = MemoryContextStrdup(TopMemoryContext, tg->tgargs[0]);
	}
	memset(nulls, ' ', sizeof(nulls));
	values[0] = newkey;
	values[1] = oldstage;
	nulls[1] = oldstage_null ? 'n' : ' ';
	values[2] = newstage;
	nulls[2] = newstage_null ? 'n' : ' ';
	values[3] = clm_stage_current_user_name();
	values[4] = Int64GetDatum(++ShardSeq);
	values[5] = Int64GetDatum(x->number);
	values[6] = Int32GetDatum(x->initiator);
	values[7] = TimestampTzGetDatum(x->stamp);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	rc = ExecChangeWrite(NULL, values, nulls, NULL);
	SetUserIdAndSecContext(save_user, save_sec);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "appending to %s failed: %s", tg->tgargs[0], SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * The change table of a tracked distributed table, quoted and qualified, as
 * named by its clm triggers (clm.stage_trigger(change table, table OID)),
 * or NULL when it has none (an ordinary tracked table, or a shard or the
 * shell of the table on a worker, whose OID differs from the coordinator's).
 * The table's owner could create such triggers himself: the name must be
 * one of a table called clm_stage_changes_<OID of this table> (else 39P01,
 * or NULL when not strict).
 */
const char *
clm_stage_outbox_of(Relation rel, Oid trigger_fn, bool strict)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	char	   *relid = psprintf("%u", RelationGetRelid(rel));
	int			i;

	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];
		Oid			outbox;
		char	   *expect;

		if (t->tgfoid != trigger_fn || t->tgnargs != 2 || strcmp(t->tgargs[1], relid) != 0)
			continue;
		outbox = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(t->tgargs[0])),
								  NoLock, true);
		/* (an unparsable name raised 42602 above) */
		expect = psprintf(CHANGES_PREFIX "%s", relid);
		if (!OidIsValid(outbox) || get_rel_relkind(outbox) != RELKIND_RELATION ||
			strcmp(get_rel_name(outbox), expect) != 0)
		{
			if (!strict)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("the clm trigger \"%s\" of table \"%s\" names %s, not the table's change table %s",
							t->tgname, RelationGetRelationName(rel), t->tgargs[0], expect),
					 errhint("Use clm.untrack() and clm.track() to reinstall the triggers.")));
		}
		return quote_qualified_identifier(get_namespace_name(get_rel_namespace(outbox)),
										  get_rel_name(outbox));
	}
	return NULL;
}

/*
 * The first column of a result (customer keys) as an array of its type.
 */
static ArrayType *
KeyArray(SPITupleTable *tt)
{
	Oid			type = SPI_gettypeid(tt->tupdesc, 1);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems = palloc(sizeof(Datum) * tt->numvals);
	uint64		i;

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	for (i = 0; i < tt->numvals; i++)
	{
		bool		isnull;

		elems[i] = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
	}
	return construct_array(elems, (int) tt->numvals, type, typlen, typbyval, typalign);
}

static int
ChangeCmp(const void *a, const void *b)
{
	const ClmChange *x = (const ClmChange *) a;
	const ClmChange *y = (const ClmChange *) b;

	if (x->own != y->own)
		return x->own ? 1 : -1;
	if (!x->own && x->stamp != y->stamp)
		return x->stamp < y->stamp ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

/*
 * Move the rows of a tracked distributed table's change table into
 * clm.stage_history, validated against the model.  changed: the rows the
 * statement changed (a bound; 0 if unknown).  Returns the number of rows
 * recorded; 0 when rel is not a tracked distributed table.
 */
uint64
clm_stage_citus_move(Relation rel, uint64 changed)
{
	Oid			relid = RelationGetRelid(rel);
	const char *outbox;
	ClmTrackInfo *info;
	ClmCitusXact *x;
	ClmChange  *rows;
	uint64		n,
				i;
	int			nest;
	int			rc;
	ArrayType  *keys;
	TimestampTz now;
	Datum		myxid;
	MemoryContext cxt,
				oldcxt;

	outbox = clm_stage_outbox_of(rel, clm_stage_trigger_fn(), true);
	if (outbox == NULL)
		return 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!clm_stage_is_tracked(relid))
	{
		SPI_finish();
		return 0;
	}
	info = clm_stage_track_info(rel);
	x = CurrentCitusXact();

	nest = NewGUCNestLevel();
	(void) set_config_option("citus.all_modifications_commutative", "on",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/*
	 * After a statement that changed few rows, one connection per worker
	 * (those the transaction has: opening more costs more than the shards'
	 * few rows), the workers in parallel; else Citus's parallel default.
	 */
	if (changed > 0 && changed <= 1000)
		(void) set_config_option("citus.max_adaptive_executor_pool_size", "1",
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/*
	 * As the current user: Citus runs it on the connections that wrote the
	 * rows, which are that user's (it refuses another user's connection to
	 * placements modified in the transaction).  After a statement that
	 * changed few rows, the customers are read first (a read writes no
	 * shard) and only their shards are emptied: a DELETE on every shard
	 * would write on every worker, hence a two-phase commit, where the
	 * statement itself may have written one.  (Not read-only: rows that
	 * Citus wrote through a local shard are visible to a new snapshot only.)
	 */
	keys = NULL;
	if (changed > 0 && changed <= 1000)
	{
		if (SPI_execute(psprintf("SELECT DISTINCT customer_key FROM %s", outbox), false, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading %s failed", outbox);
		if (SPI_processed == 0)
		{
			AtEOXact_GUC(true, nest);
			SPI_finish();
			return 0;
		}
		keys = KeyArray(SPI_tuptable);
	}
	if (keys == NULL)
		rc = ExecChangeWrite(psprintf("DELETE FROM %s RETURNING customer_key::pg_catalog.text, from_stage, "
									  "to_stage, changed_by, seq, txn, initiator, stamp", outbox),
							 NULL, NULL, NULL);
	else
		rc = ExecChangeWrite(psprintf("DELETE FROM %s WHERE customer_key OPERATOR(pg_catalog.=) ANY ($1) "
									  "RETURNING customer_key::pg_catalog.text, from_stage, "
									  "to_stage, changed_by, seq, txn, initiator, stamp", outbox),
							 NULL, NULL, keys);
	AtEOXact_GUC(true, nest);
	if (rc != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "emptying %s failed: %s", outbox, SPI_result_code_string(rc));

	n = SPI_processed;
	if (n == 0)
	{
		SPI_finish();
		return 0;
	}
	cxt = AllocSetContextCreate(CurrentMemoryContext, "clm stage changes", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	rows = palloc(sizeof(ClmChange) * n);
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		txn;
		int32		initiator;

		rows[i].key = SPI_getvalue(t, d, 1);
		rows[i].from = SPI_getvalue(t, d, 2);
		rows[i].to = SPI_getvalue(t, d, 3);
		rows[i].changed_by = datumCopy(SPI_getbinval(t, d, 4, &isnull), false, NAMEDATALEN);
		rows[i].seq = DatumGetInt64(SPI_getbinval(t, d, 5, &isnull));
		txn = DatumGetInt64(SPI_getbinval(t, d, 6, &isnull));
		initiator = DatumGetInt32(SPI_getbinval(t, d, 7, &isnull));
		rows[i].stamp = DatumGetTimestampTz(SPI_getbinval(t, d, 8, &isnull));
		rows[i].own = (txn == x->number && initiator == x->initiator && txn != 0);
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(rows, n, sizeof(ClmChange), ChangeCmp);
	myxid = FullTransactionIdGetDatum(GetTopFullTransactionId());
	now = clm_stage_changed_at();
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();

		/*
		 * A row of another transaction was committed with its change, where
		 * the coordinator did not see it (a session without clm's hooks, or
		 * a worker-side transaction claiming a coordinator's transaction
		 * id, which any role can): the table holds the change, so it is
		 * recorded, at this transaction's time, and a move the model
		 * forbids is reported, not refused.
		 */
		clm_stage_check_move(info, rel, rows[i].key, rows[i].from, rows[i].to,
							 rows[i].own ? ERROR : WARNING);
		clm_stage_write_history(info, relid, CStringGetTextDatum(rows[i].key), rows[i].from,
								rows[i].to ? CStringGetTextDatum(rows[i].to) : (Datum) 0,
								rows[i].to == NULL, now, myxid, rows[i].changed_by, "trigger");
		/* SPI calls return to the SPI procedure context */
		MemoryContextSwitchTo(cxt);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	SPI_finish();
	return n;
}

/*
 * Whether rel may be a tracked distributed table on the coordinator: it
 * has a clm trigger whose second argument is its OID (no catalog access).
 */
static bool
Candidate(Relation rel)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	char		relid[16];
	int			i;

	snprintf(relid, sizeof(relid), "%u", RelationGetRelid(rel));
	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
		if (trigdesc->triggers[i].tgnargs == 2 &&
			strncmp(trigdesc->triggers[i].tgname, "clm_stage_", 10) == 0 &&
			strcmp(trigdesc->triggers[i].tgargs[1], relid) == 0)
			return true;
	return false;
}

/*
 * Citus writes a single shard outside a transaction block without BEGIN on
 * the worker: the change would be committed there before the coordinator
 * validates and records it.  Before a statement that may change a tracked
 * distributed table, start a coordinated transaction, as Citus does for a
 * statement in a transaction block (Citus's UseCoordinatedTransaction(),
 * looked up in the loaded citus library).
 */
static void
CoordinateTransaction(void)
{
	static void (*use_coordinated) (void) = NULL;

	if (use_coordinated == NULL)
		use_coordinated = (void (*) (void))
			load_external_function("citus", "UseCoordinatedTransaction", true, NULL);
	use_coordinated();
}

/*
 * For each tracked distributed table in a statement's range table: with
 * coordinate, start a coordinated transaction if there is one; else move
 * its changes.  Cheap for other statements: a look at each table's
 * triggers.
 */
static void
MoveChangesOf(List *rtable, bool coordinate, uint64 changed)
{
	ListCell   *lc;
	List	   *done = NIL;
	bool		found = false;

	if (!CitusPresent())
		return;
	foreach(lc, rtable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);
		Relation	rel;

		if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION ||
			list_member_oid(done, rte->relid))
			continue;
		done = lappend_oid(done, rte->relid);
		rel = RelationIdGetRelation(rte->relid);
		if (!RelationIsValid(rel))
			continue;
		/* an error releases the reference with the resource owner */
		if (Candidate(rel))
		{
			if (coordinate)
				found = true;
			else
				(void) clm_stage_citus_move(rel, changed);
		}
		RelationClose(rel);
		if (found)
			break;
	}
	list_free(done);
	if (found)
		CoordinateTransaction();
}

static bool
Writes(QueryDesc *queryDesc)
{
	return queryDesc->operation != CMD_SELECT || queryDesc->plannedstmt->hasModifyingCTE;
}

/*
 * Whether this node is a Citus worker (per backend: the coordinator is node
 * group 0; -1 before it is added to the metadata).
 */
static bool
IsCitusWorker(void)
{
	static int	worker = -1;

	if (worker < 0)
	{
		bool		isnull;
		int			group = 0;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT groupid FROM pg_catalog.pg_dist_local_group", true, 1) == SPI_OK_SELECT &&
			SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				group = DatumGetInt32(d);
		}
		SPI_finish();
		worker = group > 0;
	}
	return worker == 1;
}

/*
 * Whether a relation is the change table of a tracked distributed table
 * (clm_stage_changes_<digits>; its shards have one more _<digits>).
 */
static bool
IsChangeTable(Oid relid)
{
	char	   *name = get_rel_name(relid);
	const char *p;

	if (name == NULL || strncmp(name, CHANGES_PREFIX, strlen(CHANGES_PREFIX)) != 0)
		return false;
	p = name + strlen(CHANGES_PREFIX);
	if (*p == '\0')
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/*
 * Only clm writes change tables: every role may delete from them (so that
 * each writer's statement can move its own rows, see above), but a
 * statement of a user that deleted its own rows before the move, e.g. in a
 * data-modifying WITH, would leave its changes unrecorded.  Their shards
 * are not refused: the coordinator's own DELETE arrives on a worker (or on
 * a coordinator that holds shards, over a connection to itself) as a
 * statement on a shard, from a backend that looks like any other.
 */
static void
RefuseChangeTableWrites(List *rtable)
{
	ListCell   *lc;

	if (ClmWritesChanges)
		return;
	foreach(lc, rtable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);

		if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_RELATION &&
			(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) != 0 &&
			IsChangeTable(rte->relid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only clm writes the change table \"%s\"", get_rel_name(rte->relid)),
					 errdetail("It holds the stage changes of a tracked distributed table until the end of each statement."),
					 errhint("clm.untrack() drops it.")));
	}
}

static void
clm_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (Writes(queryDesc) && CitusPresent())
		RefuseChangeTableWrites(queryDesc->plannedstmt->rtable);
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY) && Writes(queryDesc))
		MoveChangesOf(queryDesc->plannedstmt->rtable, true, 0);
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
clm_ExecutorFinish(QueryDesc *queryDesc)
{
	if (prev_ExecutorFinish)
		prev_ExecutorFinish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
	if (Writes(queryDesc))
	{
		/* the rows a plain INSERT, UPDATE or DELETE changed (none: no trigger fired) */
		uint64		changed = 0;

		if (queryDesc->operation != CMD_SELECT && !queryDesc->plannedstmt->hasModifyingCTE &&
			queryDesc->estate != NULL)
		{
			changed = queryDesc->estate->es_processed;
			if (changed == 0)
				return;
		}
		MoveChangesOf(queryDesc->plannedstmt->rtable, false, changed);
	}
}

/*
 * Drop the change tables of the tracked distributed tables a DROP TABLE
 * names, as the current user (who must own them to drop the tables).
 */
static void
DropChangeTables(DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList((List *) lfirst(lc)),
											 NoLock, true);
		Relation	rel;
		const char *outbox = NULL;

		if (!OidIsValid(relid))
			continue;
		/* whoever may not drop the table gets DROP TABLE's own error */
		if (!pg_class_ownercheck(relid, GetUserId()))
			continue;
		rel = RelationIdGetRelation(relid);
		if (!RelationIsValid(rel))
			continue;
		if (Candidate(rel))
			outbox = clm_stage_outbox_of(rel, clm_stage_trigger_fn(), false);
		RelationClose(rel);
		if (outbox == NULL)
			continue;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		clm_stage_drop_change_table(outbox);
		SPI_finish();
	}
}

static void
clm_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	List	   *copied = NIL;
	RangeTblEntry rte;

	/*
	 * DROP TABLE of a tracked distributed table drops its change table
	 * first: a table dropped by dependency is not removed from the workers
	 * by Citus, and DROP SCHEMA ... CASCADE and DROP OWNED drop both anyway.
	 */
	if (IsA(pstmt->utilityStmt, DropStmt) &&
		((DropStmt *) pstmt->utilityStmt)->removeType == OBJECT_TABLE &&
		IsTransactionState() && CitusPresent())
		DropChangeTables((DropStmt *) pstmt->utilityStmt);

	/* COPY FROM into a table: coordinate before, move after */
	if (IsA(pstmt->utilityStmt, CopyStmt) &&
		((CopyStmt *) pstmt->utilityStmt)->is_from &&
		((CopyStmt *) pstmt->utilityStmt)->relation != NULL &&
		IsTransactionState())
	{
		Oid			relid = RangeVarGetRelid(((CopyStmt *) pstmt->utilityStmt)->relation,
											 NoLock, true);

		if (OidIsValid(relid))
		{
			memset(&rte, 0, sizeof(rte));
			rte.type = T_RangeTblEntry;
			rte.rtekind = RTE_RELATION;
			rte.relid = relid;
			rte.relkind = get_rel_relkind(relid);
			copied = list_make1(&rte);
			MoveChangesOf(copied, true, 0);
		}
	}
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
	if (copied != NIL)
		MoveChangesOf(copied, false, 0);
}

/*
 * Install the executor and utility hooks (from _PG_init).
 */
void
clm_stage_citus_install_hooks(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = clm_ExecutorStart;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = clm_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = clm_ProcessUtility;
}

/*
 * clm.track of a Citus table: false for an ordinary table.  A distributed
 * table must be distributed by its key column; then this creates its change
 * table and the triggers that fill it on the shards (as the caller, the
 * table's owner).  Other Citus tables are refused.
 */
bool
clm_stage_citus_track(Relation rel, AttrNumber keyatt, const char *qtable,
					  const char *qkey, const char *qstage)
{
	Oid			relid = RelationGetRelid(rel);
	const char *kind = clm_citus_table_type_of(relid);
	Form_pg_attribute katt = TupleDescAttr(RelationGetDescr(rel), keyatt - 1);
	char	   *distcol;
	char	   *name;
	char	   *qoutbox;
	char	   *collate = "";
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	int			nest;

	if (kind == NULL)
		return false;
	if (strcmp(kind, "distributed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.track does not support the Citus %s table \"%s\"", kind,
						RelationGetRelationName(rel)),
				 errdetail("Stage changes of a Citus table are recorded on its shards, next to each customer: the table must be distributed by its customer key."),
				 errhint("Track an ordinary table, or a table distributed by the key column: create_distributed_table(table, key_column).")));
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) "
							  "FROM pg_catalog.pg_dist_partition p "
							  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading pg_catalog.pg_dist_partition failed");
	distcol = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (distcol == NULL || strcmp(distcol, NameStr(katt->attname)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("clm.track needs \"%s\" distributed by its key column \"%s\", not \"%s\"",
						RelationGetRelationName(rel), NameStr(katt->attname),
						distcol ? distcol : ""),
				 errdetail("Stage changes are recorded on the shard of each customer, co-located with the table."),
				 errhint("Distribute the table by its customer key, or track an ordinary table.")));
	if (!clm_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("clm must be in shared_preload_libraries to track the Citus distributed table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Every session that changes the table records its stage changes at the end of each statement, through clm's executor hook."),
				 errhint("Set shared_preload_libraries = 'citus,clm' on every node and restart.")));

	name = psprintf(CHANGES_PREFIX "%u", relid);
	qoutbox = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), name);
	if (OidIsValid(katt->attcollation) && katt->attcollation != DEFAULT_COLLATION_OID)
		collate = psprintf(" COLLATE %s", generate_collation_name(katt->attcollation));
	if (SPI_execute(psprintf("CREATE TABLE %s (customer_key %s%s NOT NULL, from_stage pg_catalog.text, "
							 "to_stage pg_catalog.text, changed_by pg_catalog.name NOT NULL, "
							 "seq pg_catalog.int8 NOT NULL, txn pg_catalog.int8 NOT NULL, "
							 "initiator pg_catalog.int4 NOT NULL, stamp pg_catalog.timestamptz NOT NULL)",
							 qoutbox, format_type_be_qualified(katt->atttypid), collate),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "CREATE TABLE %s failed", qoutbox);
	if (SPI_execute(psprintf("SELECT pg_catalog.create_distributed_table(%s, 'customer_key', "
							 "colocate_with => %s)",
							 quote_literal_cstr(qoutbox), quote_literal_cstr(qtable)),
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "create_distributed_table(%s) failed", qoutbox);
	if (SPI_execute(psprintf("GRANT SELECT, DELETE ON %s TO PUBLIC", qoutbox), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "GRANT ON %s failed", qoutbox);
	if (SPI_execute(psprintf("COMMENT ON TABLE %s IS %s", qoutbox,
							 quote_literal_cstr(psprintf("clm: stage changes of %s on its shards, moved into "
														 "clm.stage_history at the end of each statement "
														 "(created by clm.track, dropped by clm.untrack)",
														 qtable))),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "COMMENT ON TABLE %s failed", qoutbox);

	/* the triggers, copied to every shard by Citus */
	nest = NewGUCNestLevel();
	(void) set_config_option("citus.enable_unsafe_triggers", "on",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute(psprintf("CREATE TRIGGER clm_stage_insert AFTER INSERT ON %s FOR EACH ROW "
							 "EXECUTE FUNCTION clm.stage_trigger(%s, '%u')",
							 qtable, quote_literal_cstr(qoutbox), relid),
					false, 0) != SPI_OK_UTILITY ||
		SPI_execute(psprintf("CREATE TRIGGER clm_stage_update AFTER UPDATE OF %s, %s ON %s "
							 "FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger(%s, '%u')",
							 qstage, qkey, qtable, quote_literal_cstr(qoutbox), relid),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "CREATE TRIGGER failed");
	AtEOXact_GUC(true, nest);
	return true;
}

/*
 * Drop a change table (clm.untrack, after the triggers; DROP TABLE of its
 * table, before), as the current user, its owner.  SPI is open.
 */
void
clm_stage_drop_change_table(const char *outbox)
{
	if (SPI_execute(psprintf("DROP TABLE %s", outbox), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "DROP TABLE %s failed", outbox);
}

/*
 * clm.stage_history_here(tbl regclass) → boolean: true, unless this is a
 * Citus worker and tbl a Citus table; then 0A000.  The stage functions
 * check it first: Citus runs a function called in a query on a distributed
 * table on the workers, whose clm.stage_history is empty, so that e.g.
 * SELECT clm.stage_at('customers', id, now()) FROM customers would give
 * NULL for every customer instead of an error.
 */
PG_FUNCTION_INFO_V1(clm_stage_history_here);

Datum
clm_stage_history_here(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	if (!CitusPresent())
		PG_RETURN_BOOL(true);
	if (IsCitusWorker() && clm_citus_table_type_of(relid) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the stage history of \"%s\" is on the coordinator", get_rel_name(relid)),
				 errdetail("This is a Citus worker node: Citus runs functions called in a query on a distributed table here."),
				 errhint("Call the stage functions on the coordinator: read the keys first (WITH ... AS MATERIALIZED, or a temporary table), or join clm.stage_history yourself.")));
	PG_RETURN_BOOL(true);
}
