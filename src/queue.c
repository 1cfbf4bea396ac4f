/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  clm.queue_changes(): the statement trigger that clm.register puts on
 *	  an events table; queues the customers whose events changed.
 *
 * The trigger runs as whoever writes the events table, who need not be
 * allowed to see the source, and clm.refresh_queue is writable by the
 * extension owner only.  In 1.0 it was a SECURITY DEFINER PL/pgSQL
 * function reading the transition tables by name, which a trigger made
 * without REFERENCING resolved in the writer's own schemas (running the
 * writer's code as the extension owner).  Here no name is resolved with a
 * user's search_path and no user code runs with raised rights:
 *
 *  - the function checks that it fires AFTER ... FOR EACH STATEMENT, as the
 *    trigger clm_<source>_<op> that clm.register created, on the events
 *    table of that registered source (read from clm.sources); any other
 *    trigger using it does nothing;
 *  - the keys are read from the transition tuplestores in TriggerData (no
 *    name lookup), from the source's customer column, whose type must
 *    still be bigint, integer, text or uuid: their output functions are
 *    built in, so no user-defined function, cast or operator is called;
 *  - only the fixed, schema-qualified INSERT of (source, key) rows into
 *    clm.refresh_queue runs as the extension owner, with all values passed
 *    as parameters.
 *
 * IDENTIFICATION
 *	  src/queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_queue_changes);

/* keys inserted per statement */
#define QUEUE_BATCH 10000

#define QUEUE_LOOKUP \
	"SELECT s.customer_column FROM clm.sources s " \
	"WHERE s.name OPERATOR(pg_catalog.=) $1 " \
	"AND s.events::pg_catalog.oid OPERATOR(pg_catalog.=) $2"

#define QUEUE_INSERT \
	"INSERT INTO clm.refresh_queue (source, customer_key) " \
	"SELECT $1, k FROM pg_catalog.unnest($2) k"

static SPIPlanPtr LookupPlan = NULL;
static SPIPlanPtr InsertPlan = NULL;

static int
CompareKeys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Append the text form of the customer column of every tuple of a
 * transition table to keys.
 */
static void
CollectKeys(Tuplestorestate *ts, TupleDesc desc, AttrNumber attnum,
			FmgrInfo *out, char ***keys, int *nkeys, int *maxkeys)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			ptr = tuplestore_alloc_read_pointer(ts, 0);

	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, attnum, &isnull);

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		if (*nkeys >= *maxkeys)
		{
			*maxkeys *= 2;
			*keys = repalloc_huge(*keys, *maxkeys * sizeof(char *));
		}
		(*keys)[(*nkeys)++] = OutputFunctionCall(out, d);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Run a kept plan as the extension owner.
 */
static int
ExecAsExtensionOwner(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	Oid			save_user;
	int			save_sec;
	int			rc;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(clm_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	SetUserIdAndSecContext(save_user, save_sec);
	return rc;
}

static SPIPlanPtr
KeepPlan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

Datum
clm_queue_changes(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	Relation	rel;
	const char *op;
	char	   *expected;
	Datum		values[2];
	char	   *col;
	AttrNumber	attnum;
	Oid			typid;
	Oid			outfn;
	bool		varlena;
	FmgrInfo	out;
	char	  **keys;
	int			nkeys = 0,
				maxkeys = 64,
				i;

	/* SQL cannot call a trigger function directly: only C code could */
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "clm.queue_changes() must be called as a trigger");
	tg = td->tg_trigger;
	rel = td->tg_relation;
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("clm.queue_changes() must be fired AFTER ... FOR EACH STATEMENT"),
				 errhint("clm.register() installs it.")));
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		op = "insert";
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		op = "update";
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		op = "delete";
	else
		op = "truncate";
	/* only the trigger clm.register made for this event: clm_<source>_<op> */
	if (tg->tgnargs < 1)
		return PointerGetDatum(NULL);
	expected = psprintf("clm_%s_%s", tg->tgargs[0], op);
	if (strcmp(expected, tg->tgname) != 0)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (LookupPlan == NULL)
	{
		Oid			types[2] = {TEXTOID, OIDOID};

		LookupPlan = KeepPlan(QUEUE_LOOKUP, 2, types);
	}
	values[0] = CStringGetTextDatum(tg->tgargs[0]);
	values[1] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (ExecAsExtensionOwner(LookupPlan, values, NULL) != SPI_OK_SELECT)
		elog(ERROR, "reading clm.sources failed");
	if (SPI_processed != 1)
	{
		/* not this table's source (or no source): the owner may drop the trigger */
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	col = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	if (InsertPlan == NULL)
	{
		Oid			types[2] = {TEXTOID, TEXTARRAYOID};

		InsertPlan = KeepPlan(QUEUE_INSERT, 2, types);
	}

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		/* one NULL key: rescore everyone */
		Datum		none = (Datum) 0;
		bool		isnull = true;
		int			dims[1] = {1};
		int			lbs[1] = {1};
		ArrayType  *a = construct_md_array(&none, &isnull, 1, dims, lbs, TEXTOID, -1,
										   false, TYPALIGN_INT);

		values[1] = PointerGetDatum(a);
		if (ExecAsExtensionOwner(InsertPlan, values, NULL) != SPI_OK_INSERT)
			elog(ERROR, "inserting into clm.refresh_queue failed");
		SPI_finish();
		return PointerGetDatum(NULL);
	}

	attnum = SPI_fnumber(RelationGetDescr(rel), col);
	typid = attnum > 0 ? TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid : InvalidOid;
	if (typid != INT8OID && typid != INT4OID && typid != TEXTOID && typid != UUIDOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("customer column \"%s\" of source \"%s\" is no longer bigint, integer, text or uuid",
						col, tg->tgargs[0]),
				 errhint("Unregister the source and register it again.")));
	getTypeOutputInfo(typid, &outfn, &varlena);
	fmgr_info(outfn, &out);

	keys = palloc(maxkeys * sizeof(char *));
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		if (td->tg_newtable == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("trigger \"%s\" has no NEW TABLE", tg->tgname),
					 errhint("Unregister the source and register it again.")));
		CollectKeys(td->tg_newtable, RelationGetDescr(rel), attnum, &out, &keys, &nkeys, &maxkeys);
	}
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		if (td->tg_oldtable == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("trigger \"%s\" has no OLD TABLE", tg->tgname),
					 errhint("Unregister the source and register it again.")));
		CollectKeys(td->tg_oldtable, RelationGetDescr(rel), attnum, &out, &keys, &nkeys, &maxkeys);
	}

	/* distinct keys, inserted QUEUE_BATCH at a time */
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof(char *), CompareKeys);
	i = 0;
	while (i < nkeys)
	{
		Datum	   *batch = palloc(Min(nkeys - i, QUEUE_BATCH) * sizeof(Datum));
		int			n = 0;
		ArrayType  *a;

		for (; i < nkeys && n < QUEUE_BATCH; i++)
		{
			if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0)
				continue;
			batch[n++] = CStringGetTextDatum(keys[i]);
		}
		if (n == 0)
			break;
		a = construct_array(batch, n, TEXTOID, -1, false, TYPALIGN_INT);
		values[1] = PointerGetDatum(a);
		if (ExecAsExtensionOwner(InsertPlan, values, NULL) != SPI_OK_INSERT)
			elog(ERROR, "inserting into clm.refresh_queue failed");
		pfree(a);
		pfree(batch);
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
