/*
 * Upgrade 1.0 -> 1.1, part 10: the three clm.holdout_check overloads call
 * one shared clm.holdout_check_rows instead of three copies of its body
 * (the same definitions as src/clv_holdout.sql).
 */

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

CREATE OR REPLACE FUNCTION @extschema@.holdout_check(model @extschema@.bgnbd, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
	SELECT * FROM @extschema@.holdout_check_rows(model, summary, max_frequency)
$body$;

CREATE OR REPLACE FUNCTION @extschema@.holdout_check(model @extschema@.mbgnbd, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
	SELECT * FROM @extschema@.holdout_check_rows(model, summary, max_frequency)
$body$;

CREATE OR REPLACE FUNCTION @extschema@.holdout_check(model @extschema@.pareto_nbd, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
	SELECT * FROM @extschema@.holdout_check_rows(model, summary, max_frequency)
$body$;

COMMENT ON FUNCTION @extschema@.holdout_check_rows(anyelement, regclass, integer) IS 'The model check table of clm.holdout_check for a clm.bgnbd, clm.mbgnbd or clm.pareto_nbd model (42804 for another type)';
