/*
 * src/citus.sql: Citus support: which Citus table type a relation is
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.citus_table_type(tbl regclass) RETURNS text
AS 'MODULE_PATHNAME', 'clm_citus_table_type' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.citus_table_type(regclass) IS
'Citus table type of a relation: distributed, reference, single shard or citus local; NULL for an ordinary table or when Citus is not installed (clm.track and incremental clm.register refuse Citus tables)';
