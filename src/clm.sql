/*
 * src/clm.sql: the schema: comment and usage
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON SCHEMA @extschema@ IS 'clm: customer lifecycle management (RFM, cohorts, churn, CLV, stage history)';

-- ordinary users call clm functions and read the views (writes stay restricted)
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
