/*
 * src/satisfaction.sql: customer satisfaction: NPS, CSAT and CES aggregates, two-group tests
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.nps_result AS (
	responses bigint,
	promoters bigint,
	passives bigint,
	detractors bigint,
	nps double precision,
	std_err double precision,
	lower double precision,
	upper double precision
);

CREATE TYPE @extschema@.csat_result AS (
	responses bigint,
	satisfied bigint,
	csat double precision,
	lower double precision,
	upper double precision
);

CREATE TYPE @extschema@.ces_result AS (
	responses bigint,
	agree bigint,
	ces double precision,
	mean double precision
);

-- ======================================================================
-- support functions
-- ======================================================================

-- The state of the three aggregates: bigint[12] = {tag, responses with
-- score 0, ..., responses with score 10}; tag 0 until the first response,
-- then 100 * kind + top score (NPS 110, CSAT 204 .. 210, CES 305 or 307).

CREATE FUNCTION @extschema@.nps_accum(bigint[], integer) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_nps_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.csat_accum(bigint[], integer) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_csat_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.csat_accum(bigint[], integer, integer) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_csat_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.ces_accum(bigint[], integer) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_ces_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.ces_accum(bigint[], integer, integer) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_ces_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.survey_combine(bigint[], bigint[]) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_survey_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.nps_final(bigint[]) RETURNS @extschema@.nps_result
AS 'MODULE_PATHNAME', 'clm_nps_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.csat_final(bigint[]) RETURNS @extschema@.csat_result
AS 'MODULE_PATHNAME', 'clm_csat_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.ces_final(bigint[]) RETURNS @extschema@.ces_result
AS 'MODULE_PATHNAME', 'clm_ces_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.nps(score integer) (
	SFUNC = @extschema@.nps_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.nps_final,
	COMBINEFUNC = @extschema@.survey_combine,
	INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.csat(score integer) (
	SFUNC = @extschema@.csat_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.csat_final,
	COMBINEFUNC = @extschema@.survey_combine,
	INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.csat(score integer, scale integer) (
	SFUNC = @extschema@.csat_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.csat_final,
	COMBINEFUNC = @extschema@.survey_combine,
	INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.ces(score integer) (
	SFUNC = @extschema@.ces_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.ces_final,
	COMBINEFUNC = @extschema@.survey_combine,
	INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.ces(score integer, scale integer) (
	SFUNC = @extschema@.ces_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.ces_final,
	COMBINEFUNC = @extschema@.survey_combine,
	INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0}',
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.nps_diff(a @extschema@.nps_result, b @extschema@.nps_result,
	OUT difference double precision, OUT std_err double precision,
	OUT z double precision, OUT p_value double precision)
AS 'MODULE_PATHNAME', 'clm_nps_diff' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.csat_diff(a @extschema@.csat_result, b @extschema@.csat_result,
	OUT difference double precision, OUT std_err double precision,
	OUT z double precision, OUT p_value double precision)
AS 'MODULE_PATHNAME', 'clm_csat_diff' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TYPE @extschema@.nps_result IS
'Net Promoter Score of a group: responses, promoters (9-10), passives (7-8), detractors (0-6), nps = 100 (p - d), its standard error 100 sqrt(((p + d) - (p - d)^2) / n) and the 95% interval nps -/+ 1.96 std_err (NULL figures without responses)';

COMMENT ON TYPE @extschema@.csat_result IS
'Customer satisfaction of a group: responses, satisfied (top two boxes), csat = 100 satisfied / responses and its Wilson 95% score interval in percent (NULL figures without responses)';

COMMENT ON TYPE @extschema@.ces_result IS
'Customer effort score of a group: responses, agree (scores above the midpoint: 5-7 of 1-7, 4-5 of 1-5), ces = 100 agree / responses, mean score (NULL figures without responses)';

COMMENT ON FUNCTION @extschema@.nps_accum(bigint[], integer) IS
'Transition function of clm.nps: counts a score 0 .. 10 in place (22003 outside the scale)';

COMMENT ON FUNCTION @extschema@.csat_accum(bigint[], integer) IS
'Transition function of clm.csat(score): counts a score 1 .. 5 in place (22003 outside the scale)';

COMMENT ON FUNCTION @extschema@.csat_accum(bigint[], integer, integer) IS
'Transition function of clm.csat(score, scale): counts a score 1 .. scale in place, scale 4 .. 10, the same in every row of a group; NULL scores skipped';

COMMENT ON FUNCTION @extschema@.ces_accum(bigint[], integer) IS
'Transition function of clm.ces(score): counts a score 1 .. 7 in place (22003 outside the scale)';

COMMENT ON FUNCTION @extschema@.ces_accum(bigint[], integer, integer) IS
'Transition function of clm.ces(score, scale): counts a score 1 .. scale in place, scale 5 or 7, the same in every row of a group; NULL scores skipped';

COMMENT ON FUNCTION @extschema@.survey_combine(bigint[], bigint[]) IS
'Combine function of clm.nps, clm.csat and clm.ces: adds the counts of two states of the same scale';

COMMENT ON FUNCTION @extschema@.nps_final(bigint[]) IS
'Final function of clm.nps: the clm.nps_result of a state';

COMMENT ON FUNCTION @extschema@.csat_final(bigint[]) IS
'Final function of clm.csat: the clm.csat_result of a state';

COMMENT ON FUNCTION @extschema@.ces_final(bigint[]) IS
'Final function of clm.ces: the clm.ces_result of a state';

COMMENT ON AGGREGATE @extschema@.nps(integer) IS
'Net Promoter Score of 0-10 answers with its standard error and 95% interval (NULL scores skipped, others outside 0-10 raise 22003)';

COMMENT ON AGGREGATE @extschema@.csat(integer) IS
'CSAT of 1-5 answers: share of 4 and 5 in percent with its Wilson 95% interval (NULL scores skipped, others outside 1-5 raise 22003)';

COMMENT ON AGGREGATE @extschema@.csat(integer, integer) IS
'CSAT of answers on a 1..scale scale (scale 4 to 10, constant per group): share of the top two boxes (scale - 1 and scale) in percent with its Wilson 95% interval';

COMMENT ON AGGREGATE @extschema@.ces(integer) IS
'Customer effort score of 1-7 answers: share of 5 to 7 in percent and the mean score (NULL scores skipped, others outside 1-7 raise 22003)';

COMMENT ON AGGREGATE @extschema@.ces(integer, integer) IS
'Customer effort score of answers on a 1-5 or 1-7 scale (scale 5 or 7, constant per group): share above the midpoint (4-5 or 5-7) in percent and the mean score';

COMMENT ON FUNCTION @extschema@.nps_diff(@extschema@.nps_result, @extschema@.nps_result) IS
'Compares the NPS of two independent groups from their counts: difference = nps_a - nps_b, std_err = sqrt(std_err_a^2 + std_err_b^2), z = difference / std_err, two-sided normal p-value (z, p_value NULL when std_err is 0; all NULL when a group has no response)';

COMMENT ON FUNCTION @extschema@.csat_diff(@extschema@.csat_result, @extschema@.csat_result) IS
'Two-proportion z-test of the CSAT of two independent groups: difference = csat_a - csat_b, std_err = 100 sqrt(q (1 - q) (1/n_a + 1/n_b)) with q the pooled satisfied share, z = difference / std_err, two-sided normal p-value (z, p_value NULL when std_err is 0; all NULL when a group has no response)';
