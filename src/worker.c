/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The clm background worker: keeps clm.scores fresh without an external
 *	  job runner.
 *
 * A static launcher (registered in _PG_init when clm is preloaded) holds no
 * database connection.  Every clm.naptime seconds it starts one short-lived
 * dynamic worker per database listed in clm.database (unless the previous one
 * still runs).  A database worker lists the sources that are due
 * (clm.worker_status()), and refreshes each of them: clm.refresh_start,
 * clm.refresh_prepare, then clm.refresh_step until it returns 0, then
 * clm.refresh_finish, each in its own transaction with lock_timeout set, so a
 * long refresh neither holds locks for long nor bloats.  A statement that
 * runs longer than clm.worker_statement_timeout (a source owner's view that
 * sleeps, even one that catches the cancel) ends the worker, so one source
 * cannot stall the others.  These internal
 * functions run as the worker's superuser and read and write the user's
 * tables only through clm.run_as(source owner, ...), i.e. with the rights of
 * the role that registered the source (src/gate.c).  An error in one source
 * aborts that transaction, is logged in the server log and in
 * clm.refresh_runs (retried later with backoff, see clm.worker_status), and
 * the worker goes on with the next source; an error while logging it is
 * logged too and does not stop the worker.  Sources whose owner role or
 * events table was dropped are removed first (clm.drop_orphans).  The
 * source's lock (clm.source_lock, an object lock no other role can take)
 * keeps clm.refresh and the worker from scoring the same source at once.
 *
 * The launcher never touches user data, so a bad source cannot crash-loop it;
 * it exits on SIGTERM (pg_terminate_backend) with code 1 and the postmaster
 * starts it again after bgw_restart_time; it reloads the configuration on
 * SIGHUP.  Database workers exit on SIGTERM at the next interrupt check.
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "clm.h"

#define CLM_MAX_DATABASES 16
#define CLM_LAUNCHER_RESTART_S 1

/* GUC variables */
bool		clm_worker_enabled = false;
static char *clm_database = NULL;
static int	clm_naptime = 10;
static int	clm_run_retention = 7 * 24 * 3600;
static int	clm_batch_size = 10000;
static int	clm_worker_lock_timeout = 1000;
static int	clm_worker_statement_timeout = 600000;

/*
 * The deadline of one worker statement.  A source owner's code (a view's
 * function, a trigger, a policy) can sleep or loop, and can catch the
 * error statement_timeout raises; when the deadline passes, the worker
 * ends instead (FATAL at the next interrupt check, which no code catches),
 * so that the other sources are served by the next worker.
 */
static TimeoutId DeadlineTimeout = MAX_TIMEOUTS;
static volatile sig_atomic_t DeadlinePassed = false;
static char DeadlineActivity[200];

/* the launcher's database workers (launcher process only) */
typedef struct ClmDbSlot
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} ClmDbSlot;

static ClmDbSlot db_slots[CLM_MAX_DATABASES];
static int	n_db_slots = 0;

PGDLLEXPORT void clm_launcher_main(Datum main_arg);
PGDLLEXPORT void clm_db_worker_main(Datum main_arg);

/*
 * Define the worker's settings.  All of them are reloadable; the worker is
 * registered separately (clm_worker_register) and only when preloaded.
 */
void
clm_worker_define_gucs(void)
{
	DefineCustomBoolVariable("clm.worker_enabled",
							 "Enables the clm background worker that keeps customer scores fresh.",
							 "Takes effect only when clm is in shared_preload_libraries.",
							 &clm_worker_enabled,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("clm.database",
							   "Comma-separated list of the databases the clm worker serves.",
							   "One worker runs per database; databases that do not exist are skipped.",
							   &clm_database,
							   "postgres",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("clm.naptime",
							"Time between two passes of the clm worker over the due sources.",
							NULL,
							&clm_naptime,
							10, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("clm.run_retention",
							"How long clm.refresh_runs keeps finished runs.",
							NULL,
							&clm_run_retention,
							7 * 24 * 3600, 60, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("clm.batch_size",
							"Customers scored per batch (and per worker transaction) by a refresh.",
							NULL,
							&clm_batch_size,
							10000, 1, 100000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("clm.worker_statement_timeout",
							"Longest run of one clm worker statement; past it the worker ends.",
							"A source whose refresh sleeps or loops cannot stall the worker: it is retried later with backoff. 0 means no limit.",
							&clm_worker_statement_timeout,
							600000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("clm.worker_lock_timeout",
							"lock_timeout of the clm worker's transactions.",
							"The worker gives up (and retries later) rather than blocking other sessions' DDL.",
							&clm_worker_lock_timeout,
							1000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Register the launcher; only while shared_preload_libraries is processed.
 */
void
clm_worker_register(void)
{
	BackgroundWorker w;

	if (!process_shared_preload_libraries_in_progress)
		return;
	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = CLM_LAUNCHER_RESTART_S;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "clm");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "clm_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "clm launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "clm launcher");
	RegisterBackgroundWorker(&w);
}

/*
 * Start the worker of one database unless it still runs.
 */
static void
LauncherStartDbWorker(Oid dboid, const char *dbname)
{
	BackgroundWorker w;
	ClmDbSlot  *slot = NULL;
	pid_t		pid;
	int			i;

	for (i = 0; i < n_db_slots; i++)
		if (db_slots[i].dboid == dboid)
			slot = &db_slots[i];
	if (slot != NULL && slot->handle != NULL)
	{
		BgwHandleStatus st = GetBackgroundWorkerPid(slot->handle, &pid);

		if (st == BGWH_STARTED || st == BGWH_NOT_YET_STARTED)
			return;				/* the previous pass is still busy */
		pfree(slot->handle);
		slot->handle = NULL;
	}
	/*
	 * A slot is keyed by database OID: without reuse, every database the
	 * launcher ever served kept its slot, and after 16 of them (e.g. one
	 * listed database dropped and created again 16 times) no new database
	 * was ever served.  A slot whose worker has ended (or never started) is
	 * free for another database.
	 */
	for (i = 0; slot == NULL && i < n_db_slots; i++)
	{
		if (db_slots[i].handle == NULL)
			slot = &db_slots[i];
		else if (GetBackgroundWorkerPid(db_slots[i].handle, &pid) == BGWH_STOPPED)
		{
			pfree(db_slots[i].handle);
			db_slots[i].handle = NULL;
			slot = &db_slots[i];
		}
		if (slot != NULL)
			slot->dboid = dboid;
	}
	if (slot == NULL)
	{
		if (n_db_slots >= CLM_MAX_DATABASES)
		{
			ereport(LOG,
					(errmsg("clm launcher: clm.database lists more than %d databases, \"%s\" is skipped",
							CLM_MAX_DATABASES, dbname)));
			return;
		}
		slot = &db_slots[n_db_slots++];
		slot->dboid = dboid;
		slot->handle = NULL;
	}

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "clm");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "clm_db_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "clm worker for database %s", dbname);
	snprintf(w.bgw_type, BGW_MAXLEN, "clm worker");
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	w.bgw_notify_pid = MyProcPid;
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		if (!RegisterDynamicBackgroundWorker(&w, &slot->handle))
		{
			slot->handle = NULL;
			ereport(LOG,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("clm launcher: could not start the worker for database \"%s\"", dbname),
					 errhint("Consider increasing \"max_worker_processes\".")));
		}
		MemoryContextSwitchTo(old);
	}
}

/*
 * OID of a database that accepts connections, or InvalidOid.  The launcher
 * has no database, so it scans pg_database (a shared catalog) without an
 * index, like autovacuum's get_database_list().
 */
static Oid
LauncherDatabaseOid(const char *dbname)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			result = InvalidOid;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), dbname) == 0 && db->datallowconn && !db->datistemplate)
		{
			result = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

/*
 * One pass of the launcher: a worker for each configured database that
 * exists.  Reads pg_database (a shared catalog) in a short transaction.
 */
static void
LauncherPass(MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	char	   *raw = pstrdup(clm_database ? clm_database : "");
	List	   *names = NIL;
	ListCell   *lc;

	if (!SplitIdentifierString(raw, ',', &names))
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clm launcher: invalid list syntax in \"clm.database\"")));
		MemoryContextSwitchTo(old);
		return;
	}
	foreach(lc, names)
	{
		const char *dbname = (const char *) lfirst(lc);
		Oid			dboid;

		dboid = LauncherDatabaseOid(dbname);
		MemoryContextSwitchTo(cxt);
		if (!OidIsValid(dboid))
		{
			ereport(DEBUG1, (errmsg("clm launcher: database \"%s\" does not exist", dbname)));
			continue;
		}
		LauncherStartDbWorker(dboid, dbname);
	}
	MemoryContextSwitchTo(old);
}

/*
 * Main loop of the launcher.
 */
void
clm_launcher_main(Datum main_arg)
{
	MemoryContext cxt;
	TimestampTz next_pass = 0;
	TimestampTz last_pass = 0;
	int			used_naptime = clm_naptime;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("clm launcher");
	cxt = AllocSetContextCreate(TopMemoryContext, "clm launcher", ALLOCSET_DEFAULT_SIZES);
	ereport(LOG, (errmsg("clm launcher started")));

	for (;;)
	{
		TimestampTz now;
		long		wait_ms;
		char		activity[256];

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (clm_naptime != used_naptime && last_pass != 0)
				next_pass = TimestampTzPlusMilliseconds(last_pass, clm_naptime * 1000L);
			used_naptime = clm_naptime;
		}
		now = GetCurrentTimestamp();
		if (now >= next_pass)
		{
			if (clm_worker_enabled)
				LauncherPass(cxt);
			MemoryContextReset(cxt);
			last_pass = now;
			next_pass = TimestampTzPlusMilliseconds(now, clm_naptime * 1000L);
		}
		snprintf(activity, sizeof(activity), "clm launcher: %s, naptime %d s, databases %s",
				 clm_worker_enabled ? "enabled" : "disabled", clm_naptime,
				 clm_database ? clm_database : "");
		pgstat_report_activity(STATE_IDLE, activity);

		wait_ms = (long) ((next_pass - GetCurrentTimestamp()) / 1000);
		if (wait_ms < 1)
			wait_ms = 1;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Timeout handler (signal context): end the worker at the next interrupt
 * check, as pg_terminate_backend would.
 */
static void
WorkerDeadlineHandler(void)
{
	DeadlinePassed = true;
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * Says in the server log why the worker ended (before_shmem_exit callback).
 */
static void
WorkerDeadlineLog(int code, Datum arg)
{
	if (DeadlinePassed)
		ereport(LOG,
				(errmsg("clm worker: \"%s\" ran longer than clm.worker_statement_timeout (%d ms); the worker ended",
						DeadlineActivity, clm_worker_statement_timeout),
				 errdetail("The source is retried later, with backoff.")));
}

static void
WorkerDeadlineStart(const char *activity)
{
	if (DeadlineTimeout == MAX_TIMEOUTS || clm_worker_statement_timeout <= 0)
		return;
	strlcpy(DeadlineActivity, activity, sizeof(DeadlineActivity));
	enable_timeout_after(DeadlineTimeout, clm_worker_statement_timeout);
}

static void
WorkerDeadlineStop(void)
{
	if (DeadlineTimeout != MAX_TIMEOUTS)
		disable_timeout(DeadlineTimeout, false);
}

/*
 * Run one statement of clm's internal functions in its own transaction, as
 * the worker's superuser, with a pinned search_path and the worker's
 * lock_timeout.  Returns the int8 value of the first column (isnull set).
 */
static int64
WorkerExec(const char *activity, const char *sql, int nargs,
		   Oid *argtypes, Datum *args, bool *isnull)
{
	int			save_nestlevel;
	int			ret;
	int64		result = 0;
	char		timeout[32];

	*isnull = true;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	snprintf(timeout, sizeof(timeout), "%d", clm_worker_lock_timeout);
	(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	WorkerDeadlineStart(activity);
	ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 1);
	WorkerDeadlineStop();
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "clm worker: unexpected result of \"%s\"", sql);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);

		if (!*isnull)
			result = DatumGetInt64(d);
	}

	AtEOXact_GUC(false, save_nestlevel);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/*
 * Refresh one source, one transaction per step.  Errors are caught, logged
 * in clm.refresh_runs and the server log, and do not stop the worker.
 * Returns true when a run happened (ok or not).
 */
static bool
RefreshSource(const char *name, MemoryContext cxt)
{
	volatile int64 run_id = 0;
	volatile bool ran = false;
	char		activity[200];

	PG_TRY();
	{
		Oid			types[1];
		Datum		args[1];
		bool		isnull;
		int64		n;
		int			step = 0;

		types[0] = TEXTOID;
		args[0] = CStringGetTextDatum(name);
		snprintf(activity, sizeof(activity), "clm: starting refresh of source %s", name);
		run_id = WorkerExec(activity,
							"SELECT clm.refresh_start($1, false, true)", 1, types, args, &isnull);
		if (isnull)
		{
			run_id = 0;			/* busy: clm.refresh or another worker has it */
		}
		else
		{
			ran = true;
			types[0] = INT8OID;
			args[0] = Int64GetDatum(run_id);
			snprintf(activity, sizeof(activity), "clm: refresh of source %s (run " INT64_FORMAT "): summarising",
					 name, (int64) run_id);
			(void) WorkerExec(activity, "SELECT clm.refresh_prepare($1)", 1, types, args, &isnull);
			do
			{
				CHECK_FOR_INTERRUPTS();
				snprintf(activity, sizeof(activity),
						 "clm: refresh of source %s (run " INT64_FORMAT "): scoring batch %d",
						 name, (int64) run_id, ++step);
				n = WorkerExec(activity, "SELECT clm.refresh_step($1)", 1, types, args, &isnull);
			} while (n > 0);
			snprintf(activity, sizeof(activity), "clm: refresh of source %s (run " INT64_FORMAT "): finishing",
					 name, (int64) run_id);
			(void) WorkerExec(activity, "SELECT (clm.refresh_finish($1)).id", 1, types, args, &isnull);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		args[3];
		bool		isnull;
		char	   *msg;

		WorkerDeadlineStop();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ran = true;
		msg = psprintf("%s%s%s", edata->message, edata->detail ? ": " : "",
					   edata->detail ? edata->detail : "");
		ereport(LOG,
				(errmsg("clm worker: refresh of source \"%s\" failed: %s", name, msg)));
		args[0] = Int64GetDatum(run_id);
		args[1] = CStringGetTextDatum(name);
		args[2] = CStringGetTextDatum(msg);
		/* a failure to log the failure is logged, and the worker goes on */
		PG_TRY();
		{
			(void) WorkerExec("clm: logging a failed refresh",
							  "SELECT clm.refresh_failed($1, $2, $3)", 3, types, args, &isnull);
		}
		PG_CATCH();
		{
			ErrorData  *edata2;

			WorkerDeadlineStop();
			MemoryContextSwitchTo(cxt);
			edata2 = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			ereport(LOG,
					(errmsg("clm worker: logging the failed refresh of source \"%s\" failed: %s",
							name, edata2->message)));
			FreeErrorData(edata2);
		}
		PG_END_TRY();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ran;
}

/*
 * Main of a database worker: refresh every due source once, then exit.
 */
void
clm_db_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	MemoryContext cxt;
	int			n = 0;
	int			i;
	char	  **names = NULL;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("clm worker");
	cxt = AllocSetContextCreate(TopMemoryContext, "clm worker", ALLOCSET_DEFAULT_SIZES);
	DeadlineTimeout = RegisterTimeout(USER_TIMEOUT, WorkerDeadlineHandler);
	before_shmem_exit(WorkerDeadlineLog, (Datum) 0);

	/* the due sources, read as the worker's superuser (all of them) */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "clm: listing due sources");
	if (OidIsValid(get_extension_oid("clm", true)) && !RecoveryInProgress())
	{
		int			ret;

		char		timeout[32];

		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		snprintf(timeout, sizeof(timeout), "%d", clm_worker_lock_timeout);
		(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		/* sources whose owner role or events table was dropped */
		if (SPI_execute("SELECT clm.drop_orphans()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "clm worker: could not remove orphaned sources");
		ret = SPI_execute("SELECT w.source FROM clm.worker_status() w "
						  "WHERE NOT w.running AND w.next_run <= now() "
						  "ORDER BY w.next_run, w.source", true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "clm worker: could not list the due sources");
		n = (int) SPI_processed;
		if (n > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			names = palloc(n * sizeof(char *));
			for (i = 0; i < n; i++)
				names[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		(void) RefreshSource(names[i], cxt);
	}
	pgstat_report_stat(true);
	proc_exit(0);
}
