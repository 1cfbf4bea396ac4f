/*-------------------------------------------------------------------------
 *
 * roles.c
 *	  DROP ROLE of a source owner or reader: clm's rows about the role go in
 *	  the same transaction, so that a new role given the same OID never
 *	  inherits them.
 *
 * clm.sources keeps roles by OID (owner regrole, readers regrole[]).  A
 * role's OID can be given to a new role once the OID counter wraps; a
 * source still naming the dropped OID would then belong to (or be readable
 * by) the new role.  clm.drop_orphans(), called by every gateway and worker
 * run, removes such rows lazily; this object access hook, installed when
 * the library is loaded (shared_preload_libraries), removes them at the
 * DROP ROLE itself in the database where it runs: the sources the role owns
 * (with their queue, work rows and runs; scores and versions cascade), and
 * the role from every source's readers.  Both run as the extension owner
 * fixed, schema-qualified statements whose only value is the role's OID, a
 * parameter.  If the DROP ROLE fails later (the role still owns objects),
 * the transaction aborts and nothing is removed.  Other databases are
 * cleaned by their next clm call or worker run (clm.drop_orphans).
 *
 * IDENTIFICATION
 *	  src/roles.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "clm.h"

static object_access_hook_type prev_object_access_hook = NULL;

/* the sources of the role, then the role among the readers */
static const char *const RoleDropStatements[] = {
	"DELETE FROM clm.refresh_queue x WHERE x.source OPERATOR(pg_catalog.=) ANY "
	"(SELECT s.name FROM clm.sources s WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1)",
	"DELETE FROM clm.refresh_stage x WHERE x.source OPERATOR(pg_catalog.=) ANY "
	"(SELECT s.name FROM clm.sources s WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1)",
	"DELETE FROM clm.refresh_runs x WHERE x.source OPERATOR(pg_catalog.=) ANY "
	"(SELECT s.name FROM clm.sources s WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1)",
	"DELETE FROM clm.sources s WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
	"RETURNING s.name",
	"UPDATE clm.sources s SET readers = "
	"pg_catalog.array_remove(s.readers::pg_catalog.oid[], $1)::pg_catalog.regrole[] "
	"WHERE $1 OPERATOR(pg_catalog.=) ANY (s.readers::pg_catalog.oid[])"
};

/*
 * Remove the clm rows about a role that is being dropped, as the extension
 * owner.
 */
static void
ForgetDroppedRole(Oid roleid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	Oid			save_user;
	int			save_sec;
	int			save_nestlevel;
	int			i;

	values[0] = ObjectIdGetDatum(roleid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(clm_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	for (i = 0; i < (int) lengthof(RoleDropStatements); i++)
	{
		int			rc = SPI_execute_with_args(RoleDropStatements[i], 1, types, values,
											   NULL, false, 0);

		if (rc < 0)
			elog(ERROR, "clm: removing the rows of a dropped role failed: %s",
				 SPI_result_code_string(rc));
		if (rc == SPI_OK_DELETE_RETURNING)
		{
			uint64		j;

			for (j = 0; j < SPI_processed; j++)
				ereport(LOG,
						(errmsg("clm: source \"%s\" removed: its owner role (OID %u) is dropped",
								SPI_getvalue(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1),
								roleid)));
		}
	}
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_user, save_sec);
	SPI_finish();
}

static void
ClmObjectAccess(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	Oid			nsp;

	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access != OAT_DROP || classId != AuthIdRelationId || !IsTransactionState())
		return;
	/*
	 * Only where clm 1.1 is installed (clm.refresh_stage is new in 1.1; 1.0
	 * made no such promise) and not while an extension script runs.
	 */
	if (creating_extension || !OidIsValid(get_extension_oid("clm", true)))
		return;
	nsp = get_namespace_oid("clm", true);
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("refresh_stage", nsp)))
		return;
	ForgetDroppedRole(objectId);
}

/*
 * Install the hook (from _PG_init).
 */
void
clm_roles_install_hook(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = ClmObjectAccess;
}
