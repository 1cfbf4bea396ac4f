/*
 * Upgrade 1.0 -> 1.1, part 25: follow-ups of the independent attack on the
 * security work of issue #13 (sql/security_attacks.sql).  The same change
 * as src/stages.sql makes for a fresh install.
 */

-- the stage history of a table with row level security is shown only to
-- roles that see all its rows (its policies cannot filter the history)
ALTER POLICY stage_history_read ON @extschema@.stage_history
	USING (pg_catalog.has_table_privilege(table_oid::pg_catalog.oid, 'SELECT')
	       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
	                       WHERE c.oid OPERATOR(pg_catalog.=) table_oid::pg_catalog.oid AND c.relrowsecurity
	                         AND NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')
	                         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
	                                         WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
	                                           AND (r.rolsuper OR r.rolbypassrls))));
