/*
 * src/clv_holdout.sql: CLV calibration / holdout split and model check tables
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.holdout_summary AS (
	frequency_cal integer,
	recency_cal double precision,
	t_cal double precision,
	monetary_cal double precision,
	frequency_holdout integer,
	monetary_holdout double precision,
	duration_holdout double precision
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_accum' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.holdout_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.holdout_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'clm_holdout_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.holdout_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.holdout_final(internal)
RETURNS @extschema@.holdout_summary AS 'MODULE_PATHNAME', 'clm_holdout_final' LANGUAGE C STABLE PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.calibration_holdout(event_at timestamptz, amount double precision, calibration_end timestamptz, observation_end timestamptz) (
	SFUNC = @extschema@.holdout_accum, STYPE = internal, SSPACE = 256,
	FINALFUNC = @extschema@.holdout_final, FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.holdout_combine, SERIALFUNC = @extschema@.holdout_serialize,
	DESERIALFUNC = @extschema@.holdout_deserialize, PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.calibration_holdout(event_at timestamptz, amount double precision, calibration_end timestamptz, observation_end timestamptz, period text) (
	SFUNC = @extschema@.holdout_accum, STYPE = internal, SSPACE = 256,
	FINALFUNC = @extschema@.holdout_final, FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.holdout_combine, SERIALFUNC = @extschema@.holdout_serialize,
	DESERIALFUNC = @extschema@.holdout_deserialize, PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.calibration_holdout(event_at timestamptz, amount double precision, calibration_end timestamptz, observation_end timestamptz, period text, time_unit text) (
	SFUNC = @extschema@.holdout_accum, STYPE = internal, SSPACE = 256,
	FINALFUNC = @extschema@.holdout_final, FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.holdout_combine, SERIALFUNC = @extschema@.holdout_serialize,
	DESERIALFUNC = @extschema@.holdout_deserialize, PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

-- the model check table of every model, written once; the typed
-- clm.holdout_check overloads below call it
CREATE FUNCTION @extschema@.holdout_check_rows(model anyelement, summary regclass, max_frequency integer)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
BEGIN
	IF model IS NULL OR summary IS NULL OR max_frequency IS NULL THEN
		RAISE EXCEPTION 'model, summary and max_frequency must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF pg_typeof(model) NOT IN ('@extschema@.bgnbd'::regtype, '@extschema@.mbgnbd'::regtype,
								'@extschema@.pareto_nbd'::regtype) THEN
		RAISE EXCEPTION 'a model check table needs a clm.bgnbd, clm.mbgnbd or clm.pareto_nbd model, not %',
			pg_typeof(model)
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF max_frequency < 0 THEN
		RAISE EXCEPTION 'max_frequency must be a non-negative integer'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT LEAST(s.frequency_cal, $2)::integer, count(*), '
		'avg(s.frequency_holdout)::double precision, '
		'avg(@extschema@.expected_purchases($1, s.duration_holdout::double precision, '
		's.frequency_cal::double precision, s.recency_cal::double precision, s.t_cal::double precision)) '
		'FROM %s s WHERE s.frequency_cal IS NOT NULL '
		'GROUP BY 1 ORDER BY 1', summary)
		USING model, max_frequency;
END
$body$;

CREATE FUNCTION @extschema@.holdout_check(model @extschema@.bgnbd, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
	SELECT * FROM @extschema@.holdout_check_rows(model, summary, max_frequency)
$body$;

CREATE FUNCTION @extschema@.holdout_check(model @extschema@.mbgnbd, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
	SELECT * FROM @extschema@.holdout_check_rows(model, summary, max_frequency)
$body$;

CREATE FUNCTION @extschema@.holdout_check(model @extschema@.pareto_nbd, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
	SELECT * FROM @extschema@.holdout_check_rows(model, summary, max_frequency)
$body$;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TYPE @extschema@.holdout_summary IS
'Calibration/holdout split of one customer: the calibration summary up to calibration_end (as clm.rfm_summary), the distinct purchase periods and their mean amount in (calibration_end, observation_end], and the holdout length, all in the time unit';

COMMENT ON FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz) IS
'Transition function of clm.calibration_holdout(event_at, amount, calibration_end, observation_end)';

COMMENT ON FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text) IS
'Transition function of clm.calibration_holdout(event_at, amount, calibration_end, observation_end, period)';

COMMENT ON FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text, text) IS
'Transition function of clm.calibration_holdout(event_at, amount, calibration_end, observation_end, period, time_unit)';

COMMENT ON FUNCTION @extschema@.holdout_combine(internal, internal) IS 'Combine function of clm.calibration_holdout';

COMMENT ON FUNCTION @extschema@.holdout_serialize(internal) IS 'Serialize function of clm.calibration_holdout';

COMMENT ON FUNCTION @extschema@.holdout_deserialize(bytea, internal) IS 'Deserialize function of clm.calibration_holdout';

COMMENT ON FUNCTION @extschema@.holdout_final(internal) IS
'Final function of clm.calibration_holdout (NULL for a customer without purchase up to calibration_end)';

COMMENT ON AGGREGATE @extschema@.calibration_holdout(timestamptz, double precision, timestamptz, timestamptz) IS 'Per customer calibration summary up to calibration_end and holdout purchases to observation_end, daily periods, recency and t in days; NULL for customers first seen after calibration_end';

COMMENT ON AGGREGATE @extschema@.calibration_holdout(timestamptz, double precision, timestamptz, timestamptz, text) IS 'Per customer calibration summary up to calibration_end and holdout purchases to observation_end, the given period unit, recency and t in that unit; NULL for customers first seen after calibration_end';

COMMENT ON AGGREGATE @extschema@.calibration_holdout(timestamptz, double precision, timestamptz, timestamptz, text, text) IS 'Per customer calibration summary up to calibration_end and holdout purchases to observation_end, periods of the given unit, recency, t and the holdout length in time_unit; NULL for customers first seen after calibration_end';

COMMENT ON FUNCTION @extschema@.holdout_check_rows(anyelement, regclass, integer) IS 'The model check table of clm.holdout_check for a clm.bgnbd, clm.mbgnbd or clm.pareto_nbd model (42804 for another type)';

COMMENT ON FUNCTION @extschema@.holdout_check(@extschema@.bgnbd, regclass, integer) IS 'Model check table: per calibration frequency (the last row gathers max_frequency and more), the customers, the mean actual holdout purchases and the mean BG/NBD prediction, read from a table or view with the columns of clm.holdout_summary';

COMMENT ON FUNCTION @extschema@.holdout_check(@extschema@.mbgnbd, regclass, integer) IS 'Model check table: per calibration frequency (the last row gathers max_frequency and more), the customers, the mean actual holdout purchases and the mean modified BG/NBD prediction, read from a table or view with the columns of clm.holdout_summary';

COMMENT ON FUNCTION @extschema@.holdout_check(@extschema@.pareto_nbd, regclass, integer) IS 'Model check table: per calibration frequency (the last row gathers max_frequency and more), the customers, the mean actual holdout purchases and the mean Pareto/NBD prediction, read from a table or view with the columns of clm.holdout_summary';
