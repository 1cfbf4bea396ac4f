/*
 * src/rfm.sql: customer summary (RFM) aggregate
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.rfm AS (
	frequency integer,
	recency double precision,
	t double precision,
	monetary double precision,
	first_at timestamptz,
	last_at timestamptz,
	periods integer,
	total double precision,
	events bigint
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.rfm_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.rfm_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'clm_rfm_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.rfm_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.rfm_final(internal)
RETURNS @extschema@.rfm AS 'MODULE_PATHNAME', 'clm_rfm_final' LANGUAGE C STABLE PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.rfm_summary(event_at timestamptz, amount double precision, as_of timestamptz) (
	SFUNC = @extschema@.rfm_accum,
	STYPE = internal,
	SSPACE = 120,
	FINALFUNC = @extschema@.rfm_final,
	COMBINEFUNC = @extschema@.rfm_combine,
	SERIALFUNC = @extschema@.rfm_serialize,
	DESERIALFUNC = @extschema@.rfm_deserialize,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.rfm_summary(event_at timestamptz, amount double precision, as_of timestamptz, period text) (
	SFUNC = @extschema@.rfm_accum,
	STYPE = internal,
	SSPACE = 120,
	FINALFUNC = @extschema@.rfm_final,
	COMBINEFUNC = @extschema@.rfm_combine,
	SERIALFUNC = @extschema@.rfm_serialize,
	DESERIALFUNC = @extschema@.rfm_deserialize,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.rfm_summary(event_at timestamptz, amount double precision, as_of timestamptz, period text, time_unit text) (
	SFUNC = @extschema@.rfm_accum,
	STYPE = internal,
	SSPACE = 120,
	FINALFUNC = @extschema@.rfm_final,
	COMBINEFUNC = @extschema@.rfm_combine,
	SERIALFUNC = @extschema@.rfm_serialize,
	DESERIALFUNC = @extschema@.rfm_deserialize,
	PARALLEL = SAFE
);

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TYPE @extschema@.rfm IS
'Customer summary: frequency = repeat purchase periods, recency = first to last purchase period, t = first purchase period to as_of (recency and t in the time unit), monetary = mean amount of the repeat periods, periods = distinct purchase periods, total = sum of amounts, events = purchase rows, all up to as_of';

COMMENT ON FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz) IS
'Transition function of clm.rfm_summary(event_at, amount, as_of)';

COMMENT ON FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text) IS
'Transition function of clm.rfm_summary(event_at, amount, as_of, period)';

COMMENT ON FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text, text) IS
'Transition function of clm.rfm_summary(event_at, amount, as_of, period, time_unit)';

COMMENT ON FUNCTION @extschema@.rfm_combine(internal, internal) IS
'Combine function of clm.rfm_summary (merges two partial customer summaries)';

COMMENT ON FUNCTION @extschema@.rfm_serialize(internal) IS
'Serialize function of clm.rfm_summary (portable binary form of a partial state)';

COMMENT ON FUNCTION @extschema@.rfm_deserialize(bytea, internal) IS
'Deserialize function of clm.rfm_summary';

COMMENT ON FUNCTION @extschema@.rfm_final(internal) IS
'Final function of clm.rfm_summary (NULL when there is no purchase up to as_of); may sort the period array in place, which leaves the state equivalent, so the aggregate also works as a window function';

COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz) IS
'Customer RFM summary with daily periods, recency and t in days; rows with NULLs are skipped, events after as_of left out';

COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz, text) IS
'Customer RFM summary with the given period unit (hour, day, week, month, quarter, year), recency and t in that unit';

COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz, text, text) IS
'Customer RFM summary bucketed by period, recency and t expressed in time_unit (e.g. day buckets in weeks for CDNOW)';
