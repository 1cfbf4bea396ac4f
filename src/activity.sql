/*
 * src/activity.sql: behavioural analytics: clm.activity state, retention, lifecycle, stickiness, churn rate
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.activity;

CREATE FUNCTION @extschema@.activity_in(cstring) RETURNS @extschema@.activity
AS 'MODULE_PATHNAME', 'clm_activity_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_out(@extschema@.activity) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_activity_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_recv(internal) RETURNS @extschema@.activity
AS 'MODULE_PATHNAME', 'clm_activity_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_send(@extschema@.activity) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_activity_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.activity (
	INPUT = @extschema@.activity_in,
	OUTPUT = @extschema@.activity_out,
	RECEIVE = @extschema@.activity_recv,
	SEND = @extschema@.activity_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.activity_combine(@extschema@.activity, @extschema@.activity)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.activity_merge(@extschema@.activity) (
	SFUNC = @extschema@.activity_combine,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer integer, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer integer, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer integer, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer bigint, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer bigint, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer bigint, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer text, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer text, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer text, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer uuid, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer uuid, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.activity_agg(customer uuid, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.activity_info(state @extschema@.activity,
	OUT period text, OUT time_zone text, OUT key_type text, OUT customers bigint,
	OUT first_period timestamptz, OUT last_period timestamptz, OUT last_event timestamptz, OUT bytes bigint)
RETURNS record AS 'MODULE_PATHNAME', 'clm_activity_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.retention(state @extschema@.activity, mode text DEFAULT 'on',
	cohort text DEFAULT 'first_time', ref text DEFAULT 'total', max_periods integer DEFAULT NULL)
RETURNS TABLE (cohort_start timestamptz, period_number integer, cohort_size bigint,
	retained bigint, rate double precision, complete boolean)
AS 'MODULE_PATHNAME', 'clm_retention' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 300;

CREATE FUNCTION @extschema@.lifecycle(state @extschema@.activity, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, status text, customers bigint, quick_ratio double precision)
AS 'MODULE_PATHNAME', 'clm_lifecycle' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 100;

CREATE FUNCTION @extschema@.stickiness(state @extschema@.activity, window_periods integer, ending timestamptz DEFAULT NULL)
RETURNS TABLE (active_periods integer, customers bigint, customers_at_least bigint)
AS 'MODULE_PATHNAME', 'clm_stickiness' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 30;

CREATE FUNCTION @extschema@.churn_rate(state @extschema@.activity, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, active_previous bigint, churned bigint, retained bigint, churn_rate double precision)
AS 'MODULE_PATHNAME', 'clm_churn_rate' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 30;

CREATE FUNCTION @extschema@.retention_of(tbl regclass, customer_column name, time_column name,
	period text DEFAULT 'month', mode text DEFAULT 'on', cohort text DEFAULT 'first_time',
	ref text DEFAULT 'total', max_periods integer DEFAULT NULL, zone text DEFAULT NULL)
RETURNS TABLE (cohort_start timestamptz, period_number integer, cohort_size bigint,
	retained bigint, rate double precision, complete boolean)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	st @extschema@.activity;
BEGIN
	IF tbl IS NULL OR customer_column IS NULL OR time_column IS NULL THEN
		RAISE EXCEPTION 'table and column names must not be NULL' USING ERRCODE = '22004';
	END IF;
	-- identifiers quoted with %I, the table through regclass; values passed as parameters
	EXECUTE format('SELECT @extschema@.activity_agg(%I, %I, $1, $2) FROM %s',
				   customer_column, time_column, tbl)
		INTO st USING period, coalesce(zone, current_setting('TimeZone'));
	RETURN QUERY SELECT * FROM @extschema@.retention(st, mode, cohort, ref, max_periods);
END
$fn$;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.activity_in(cstring) IS
'Input function of clm.activity (hexadecimal digits of the binary form, validated)';

COMMENT ON FUNCTION @extschema@.activity_out(@extschema@.activity) IS
'Output function of clm.activity (round-trips through activity_in)';

COMMENT ON FUNCTION @extschema@.activity_recv(internal) IS
'Binary input function of clm.activity (validated)';

COMMENT ON FUNCTION @extschema@.activity_send(@extschema@.activity) IS
'Binary output function of clm.activity';

COMMENT ON TYPE @extschema@.activity IS
'Mergeable activity state: per customer (exact key) the first or born period and the set of active periods, in one period unit and time zone';

COMMENT ON FUNCTION @extschema@.activity_combine(@extschema@.activity, @extschema@.activity) IS
'Combine function of clm.activity_agg and transition function of clm.activity_merge (union of two states, in place)';

COMMENT ON AGGREGATE @extschema@.activity_merge(@extschema@.activity) IS
'Union of clm.activity states (same period unit, key type and time zone); NULL states are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text) IS
'Transition function of clm.activity_agg(integer customer, event_at, period) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(integer, timestamptz, text) IS
'Activity state of integer customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text) IS
'Transition function of clm.activity_agg(integer customer, event_at, period, zone text) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(integer, timestamptz, text, text) IS
'Activity state of integer customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(integer customer, event_at, period, zone text, born_at timestamptz) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(integer, timestamptz, text, text, timestamptz) IS
'Activity state of integer customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text) IS
'Transition function of clm.activity_agg(bigint customer, event_at, period) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(bigint, timestamptz, text) IS
'Activity state of bigint customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text) IS
'Transition function of clm.activity_agg(bigint customer, event_at, period, zone text) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(bigint, timestamptz, text, text) IS
'Activity state of bigint customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(bigint customer, event_at, period, zone text, born_at timestamptz) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(bigint, timestamptz, text, text, timestamptz) IS
'Activity state of bigint customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text) IS
'Transition function of clm.activity_agg(text customer, event_at, period) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(text, timestamptz, text) IS
'Activity state of text customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text) IS
'Transition function of clm.activity_agg(text customer, event_at, period, zone text) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(text, timestamptz, text, text) IS
'Activity state of text customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(text customer, event_at, period, zone text, born_at timestamptz) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(text, timestamptz, text, text, timestamptz) IS
'Activity state of text customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text) IS
'Transition function of clm.activity_agg(uuid customer, event_at, period) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(uuid, timestamptz, text) IS
'Activity state of uuid customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text) IS
'Transition function of clm.activity_agg(uuid customer, event_at, period, zone text) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(uuid, timestamptz, text, text) IS
'Activity state of uuid customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(uuid customer, event_at, period, zone text, born_at timestamptz) (in place)';

COMMENT ON AGGREGATE @extschema@.activity_agg(uuid, timestamptz, text, text, timestamptz) IS
'Activity state of uuid customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';

COMMENT ON FUNCTION @extschema@.activity_info(@extschema@.activity) IS
'Describes a clm.activity state: unit, zone, key type, customers, first cohort and last active period, last event time, size of the stored form in bytes';

COMMENT ON FUNCTION @extschema@.retention(@extschema@.activity, text, text, text, integer) IS
'Cohort retention table: mode on | on_or_after, cohort first_time | recurring, rate relative to the cohort size (total) or the previous period (previous); complete = the period ended before the last event';

COMMENT ON FUNCTION @extschema@.lifecycle(@extschema@.activity, timestamptz, timestamptz) IS
'Lifecycle per period (PostHog definitions): new, returning, resurrecting, dormant (positive counts), and the quick ratio (new + resurrecting) / dormant';

COMMENT ON FUNCTION @extschema@.stickiness(@extschema@.activity, integer, timestamptz) IS
'Customers active in the window of window_periods periods ending with the period of ending (default: the last period), by number of active periods: exactly N and N or more';

COMMENT ON FUNCTION @extschema@.churn_rate(@extschema@.activity, timestamptz, timestamptz) IS
'Period-over-period churn: active in the previous period, churned (not active now), retained (active now), churn_rate = churned / active_previous';

COMMENT ON FUNCTION @extschema@.retention_of(regclass, name, name, text, text, text, text, integer, text) IS
'Retention table straight from a table: customer and event time column names (quoted safely), period, the clm.retention options, and a time zone (default: the session''s)';
