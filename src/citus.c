/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What kind of Citus table a relation is, for the clm functions that
 *	  treat Citus tables apart (clm.track, the change queue of sources).
 *	  clm does not link with Citus: it reads Citus's catalog
 *	  pg_catalog.pg_dist_partition when it exists.
 *
 * pg_dist_partition (Citus 12): partmethod 'h' (hash; 'a' and 'r' in older
 * releases) is a distributed table; 'n' is a reference table when repmodel
 * is 't', a single-shard distributed table when it has a colocation group,
 * and a Citus local table (coordinator only, in Citus's metadata) otherwise.
 *
 * IDENTIFICATION
 *	  src/citus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "clm.h"

PG_FUNCTION_INFO_V1(clm_citus_table_type);

/*
 * The Citus table type of relid ("distributed", "reference", "single
 * shard" or "citus local"), or NULL when Citus is absent or relid is an
 * ordinary table.  The string is a constant.
 */
const char *
clm_citus_table_type_of(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	const char *kind = NULL;

	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return NULL;
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT p.partmethod::pg_catalog.text, p.repmodel::pg_catalog.text, "
							  "p.colocationid OPERATOR(pg_catalog.<>) 0 "
							  "FROM pg_catalog.pg_dist_partition p "
							  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading pg_catalog.pg_dist_partition failed");
	if (SPI_processed > 0)
	{
		char	   *method = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *repmodel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		char	   *colocated = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

		if (method && strcmp(method, "n") != 0)
			kind = "distributed";
		else if (repmodel && strcmp(repmodel, "t") == 0)
			kind = "reference";
		else if (colocated && strcmp(colocated, "t") == 0)
			kind = "single shard";
		else
			kind = "citus local";
	}
	SPI_finish();
	return kind;
}

/*
 * clm.citus_table_type(tbl regclass): the Citus table type of tbl, NULL
 * for an ordinary table or without Citus.
 */
Datum
clm_citus_table_type(PG_FUNCTION_ARGS)
{
	const char *kind = clm_citus_table_type_of(PG_GETARG_OID(0));

	if (kind == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(kind));
}
