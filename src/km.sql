/*
 * src/km.sql: Kaplan-Meier survival
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.km;

CREATE FUNCTION @extschema@.km_in(cstring) RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.km_out(@extschema@.km) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_km_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.km_recv(internal) RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.km_send(@extschema@.km) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_km_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.km (
	INPUT = @extschema@.km_in,
	OUTPUT = @extschema@.km_out,
	RECEIVE = @extschema@.km_recv,
	SEND = @extschema@.km_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean, double precision)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.km_combine(@extschema@.km, @extschema@.km)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.km_final(@extschema@.km)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.km_agg(duration double precision, churned boolean) (
	SFUNC = @extschema@.km_accum,
	STYPE = @extschema@.km,
	FINALFUNC = @extschema@.km_final,
	COMBINEFUNC = @extschema@.km_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.km_agg(duration double precision, churned boolean, entered double precision) (
	SFUNC = @extschema@.km_accum,
	STYPE = @extschema@.km,
	FINALFUNC = @extschema@.km_final,
	COMBINEFUNC = @extschema@.km_combine,
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.survival(state @extschema@.km)
RETURNS TABLE ("time" double precision, at_risk bigint, events bigint, censored bigint,
	survival double precision, std_err double precision, lower double precision, upper double precision)
AS 'MODULE_PATHNAME', 'clm_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100;

CREATE FUNCTION @extschema@.median_survival(state @extschema@.km) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_median_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.logrank(a @extschema@.km, b @extschema@.km)
RETURNS TABLE (observed_a bigint, expected_a double precision, observed_b bigint, expected_b double precision,
	chisq double precision, p_value double precision)
AS 'MODULE_PATHNAME', 'clm_logrank' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.km_in(cstring) IS
'Input function of clm.km (\x + hexadecimal image of the binary form)';

COMMENT ON FUNCTION @extschema@.km_out(@extschema@.km) IS
'Output function of clm.km';

COMMENT ON FUNCTION @extschema@.km_recv(internal) IS
'Binary input function of clm.km';

COMMENT ON FUNCTION @extschema@.km_send(@extschema@.km) IS
'Binary output function of clm.km';

COMMENT ON TYPE @extschema@.km IS
'State of clm.km_agg: counts of events, censorings and entries per distinct time, read with clm.survival, clm.median_survival and clm.logrank';

COMMENT ON FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean) IS
'Transition function of clm.km_agg(duration, churned)';

COMMENT ON FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean, double precision) IS
'Transition function of clm.km_agg(duration, churned, entered)';

COMMENT ON FUNCTION @extschema@.km_combine(@extschema@.km, @extschema@.km) IS
'Combine function of clm.km_agg (merges two partial states)';

COMMENT ON FUNCTION @extschema@.km_final(@extschema@.km) IS
'Final function of clm.km_agg (sorted distinct times, no spare capacity)';

COMMENT ON AGGREGATE @extschema@.km_agg(double precision, boolean) IS
'Kaplan-Meier state of (duration, churned) rows: churned = false is a censored duration; rows with NULLs skipped';

COMMENT ON AGGREGATE @extschema@.km_agg(double precision, boolean, double precision) IS
'Kaplan-Meier state with left truncation: a subject is at risk at times t with entered < t <= duration (entered NULL: from the start)';

COMMENT ON FUNCTION @extschema@.survival(@extschema@.km) IS
'Kaplan-Meier curve, one row per distinct event time: at risk, events, censored in [time, next event time), survival, Greenwood standard error, log-log 95% confidence interval';

COMMENT ON FUNCTION @extschema@.median_survival(@extschema@.km) IS
'Median survival time: first event time with survival below 0.5 (midpoint to the next event time when exactly 0.5); NULL if never reached';

COMMENT ON FUNCTION @extschema@.logrank(@extschema@.km, @extschema@.km) IS
'Log-rank test of equal survival between two Kaplan-Meier states: observed and expected events, chi-square (1 df), p-value';
