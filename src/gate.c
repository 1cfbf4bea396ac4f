/*-------------------------------------------------------------------------
 *
 * gate.c
 *	  The privilege boundary of the scoring pipeline: the gateway through
 *	  which a role changes or refreshes its sources, clm.run_as, which runs
 *	  one statement with a source owner's rights, and the per-source lock.
 *
 * No role but the extension owner may write a clm table.  A user-facing
 * function that changes clm's tables (clm.register, clm.refresh, ...) is
 * the C function clm_call_checked: it notes the calling role (GetUserId(),
 * the effective user at the call, which a SECURITY DEFINER function of
 * another role cannot fake), switches to the extension owner and calls the
 * internal function of the same name with the suffix "_as" with that role
 * as its first argument (clm.register -> clm.register_as(caller, ...)).
 * The internal functions are written in PL/pgSQL with a pinned search_path,
 * may be executed by the extension owner only, check every privilege for
 * the caller they were given, and never touch a user's object themselves:
 * everything that reads or writes a user's table (the events, the tracked
 * customer table, the triggers and the scores view) goes through
 * clm.run_as(role, statement), which switches to that role with
 * SECURITY_RESTRICTED_OPERATION (as REFRESH MATERIALIZED VIEW does) around
 * one SPI statement.  So a refresh, whoever starts it (the owner, another
 * member of the owner role, a superuser, the worker), reads and writes the
 * user's tables with the source owner's rights only.
 *
 * A refresh of a source is serialised by an object lock (LOCKTAG_OBJECT of
 * database, classid = clm.sources, objid = clm.source_lock_key(name)),
 * taken in C: unlike an advisory lock, no SQL statement of another role
 * can take it.
 *
 * IDENTIFICATION
 *	  src/gate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/params.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_call_checked);
PG_FUNCTION_INFO_V1(clm_run_as);
PG_FUNCTION_INFO_V1(clm_source_lock);
PG_FUNCTION_INFO_V1(clm_source_unlock);

/*
 * OID of clm.sources; its owner is the extension owner.
 */
static Oid
SourcesRelid(void)
{
	Oid			nsp = get_namespace_oid("clm", false);
	Oid			relid = get_relname_relid("sources", nsp);

	/* can't happen: the calling functions belong to the extension */
	if (!OidIsValid(relid))
		elog(ERROR, "table clm.sources does not exist");
	return relid;
}

/*
 * The extension owner: the owner of clm.sources.
 */
Oid
clm_extension_owner(void)
{
	Oid			relid = SourcesRelid();
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* what the gateway keeps between calls of one call site */
typedef struct GateCache
{
	FmgrInfo	impl;
	bool		retset;
} GateCache;

/*
 * clm_call_checked: the C body of every user-facing function that writes
 * clm's tables.  Calls clm.<name>_as(caller regrole, <the same arguments>)
 * as the extension owner and returns its result (a set is passed on in
 * materialize mode).
 */
Datum
clm_call_checked(PG_FUNCTION_ARGS)
{
	GateCache  *cache = (GateCache *) fcinfo->flinfo->fn_extra;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ReturnSetInfo irs;
	Oid			caller = GetUserId();
	Oid			save_user;
	int			save_sec;
	Datum		result;
	int			i;
	int			nargs = PG_NARGS();
	LOCAL_FCINFO(icall, FUNC_MAX_ARGS);

	if (cache == NULL)
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
		Form_pg_proc proc;
		Oid			types[FUNC_MAX_ARGS];
		Oid			impl;
		char	   *name;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
		proc = (Form_pg_proc) GETSTRUCT(tup);
		if (proc->pronargs + 1 > FUNC_MAX_ARGS)
			elog(ERROR, "too many arguments");
		types[0] = REGROLEOID;
		memcpy(types + 1, proc->proargtypes.values, proc->pronargs * sizeof(Oid));
		name = psprintf("%s_as", NameStr(proc->proname));
		impl = LookupFuncName(list_make2(makeString(get_namespace_name(proc->pronamespace)),
										 makeString(name)),
							  proc->pronargs + 1, types, false);
		ReleaseSysCache(tup);
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(GateCache));
		fmgr_info_cxt(impl, &cache->impl, fcinfo->flinfo->fn_mcxt);
		cache->retset = cache->impl.fn_retset;
		fcinfo->flinfo->fn_extra = cache;
	}

	InitFunctionCallInfoData(*icall, &cache->impl, nargs + 1, fcinfo->fncollation, NULL, NULL);
	icall->args[0].value = ObjectIdGetDatum(caller);
	icall->args[0].isnull = false;
	for (i = 0; i < nargs; i++)
		icall->args[i + 1] = fcinfo->args[i];
	if (cache->retset)
	{
		if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
			!(rsinfo->allowedModes & SFRM_Materialize) || rsinfo->expectedDesc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("set-valued function called in context that cannot accept a set")));
		memset(&irs, 0, sizeof(irs));
		irs.type = T_ReturnSetInfo;
		irs.econtext = rsinfo->econtext;
		irs.expectedDesc = rsinfo->expectedDesc;
		irs.allowedModes = SFRM_Materialize;
		irs.returnMode = SFRM_ValuePerCall;
		irs.isDone = ExprSingleResult;
		icall->resultinfo = (Node *) &irs;
	}

	/* as the extension owner; an error restores the user at abort */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(clm_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	result = FunctionCallInvoke(icall);
	SetUserIdAndSecContext(save_user, save_sec);

	if (cache->retset)
	{
		if (irs.returnMode != SFRM_Materialize)
			elog(ERROR, "clm: function %u did not return a materialized set", cache->impl.fn_oid);
		rsinfo->returnMode = SFRM_Materialize;
		rsinfo->setResult = irs.setResult;
		rsinfo->setDesc = irs.setDesc;
		return (Datum) 0;
	}
	fcinfo->isnull = icall->isnull;
	return result;
}

/*
 * clm.run_as(role regrole, statement text, keys text[], at timestamptz,
 *			   vals text[]) RETURNS SETOF record
 *
 * Runs one statement (a query, DML with RETURNING, or DDL) with the rights
 * of role only: SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION,
 * as REFRESH MATERIALIZED VIEW runs the view's query as its owner.  $1 is
 * keys, $2 is at and $3 is vals.  The rows go to a tuplestore (spilling to disk past
 * work_mem) and must match the caller's column definition list.  Only the
 * extension owner may execute it (it is called by clm's internal functions
 * with SQL they built from validated, quoted names); a missing role is an
 * error (42704), which is how a source whose owner was dropped is found.
 */
Datum
clm_run_as(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			role;
	char	   *sql;
	ParamListInfo params;
	DestReceiver *dest;
	SPIExecuteOptions options;
	Oid			save_user;
	int			save_sec;
	int			save_nestlevel;
	int			rc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role and statement must not be NULL")));
	role = PG_GETARG_OID(0);
	sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role),
				 errdetail("The role that owns the source was dropped.")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	params = makeParamList(3);
	params->params[0].ptype = TEXTARRAYOID;
	params->params[0].isnull = PG_ARGISNULL(2);
	params->params[0].value = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[1].ptype = TIMESTAMPTZOID;
	params->params[1].isnull = PG_ARGISNULL(3);
	params->params[1].value = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	params->params[1].pflags = PARAM_FLAG_CONST;
	params->params[2].ptype = TEXTARRAYOID;
	params->params[2].isnull = PG_ARGISNULL(4);
	params->params[2].value = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	params->params[2].pflags = PARAM_FLAG_CONST;

	dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory, false,
									rsinfo->setDesc,
									gettext_noop("clm.run_as: the statement's columns do not match the column definition list"));

	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = false;
	options.dest = dest;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	/*
	 * The role's code may change settings (set_config('search_path', ...,
	 * false) in a view's function): undo every change at the end of the
	 * statement, as REFRESH MATERIALIZED VIEW does, or the caller (running
	 * as the extension owner) would resolve its next names in the role's
	 * schemas.
	 */
	save_nestlevel = NewGUCNestLevel();
	rc = SPI_execute_extended(sql, &options);
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_user, save_sec);
	if (rc < 0)
		elog(ERROR, "clm.run_as: SPI_execute_extended failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	dest->rDestroy(dest);
	return (Datum) 0;
}

/*
 * The lock tag of a source.
 */
static void
SourceLockTag(LOCKTAG *tag, text *name)
{
	uint32		key = DatumGetUInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID,
														  PointerGetDatum(name))) & 0x7fffffff;

	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, SourcesRelid(), key, 0);
}

/*
 * clm.source_lock(name text, session boolean, wait boolean) RETURNS boolean
 *
 * Takes the lock that serialises the refreshes of a source: for the
 * transaction, or for the session (the worker holds it across its
 * transactions).  Without wait, returns false at once when another
 * process holds it.  Waits obey lock_timeout.
 */
Datum
clm_source_lock(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	SourceLockTag(&tag, PG_GETARG_TEXT_PP(0));
	PG_RETURN_BOOL(LockAcquire(&tag, ExclusiveLock, PG_GETARG_BOOL(1),
							   !PG_GETARG_BOOL(2)) != LOCKACQUIRE_NOT_AVAIL);
}

/*
 * clm.source_unlock(name text) RETURNS boolean: releases a session lock
 * taken by clm.source_lock; false if this session did not hold it.
 */
Datum
clm_source_unlock(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	SourceLockTag(&tag, PG_GETARG_TEXT_PP(0));
	if (!LockHeldByMe(&tag, ExclusiveLock))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(LockRelease(&tag, ExclusiveLock, true));
}
