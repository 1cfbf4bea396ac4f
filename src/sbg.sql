/*
 * src/sbg.sql: sBG (shifted-beta-geometric) retention model
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.sbg AS (
	alpha double precision,
	beta double precision,
	alpha_se double precision,
	beta_se double precision,
	loglik double precision,
	n bigint,
	periods integer,
	converged boolean,
	iterations integer
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.sbg_accum(bigint[], integer, bigint) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_sbg_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_customers_accum(bigint[], integer, boolean) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_sbg_customers_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_combine(bigint[], bigint[]) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_sbg_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_final(bigint[]) RETURNS @extschema@.sbg
AS 'MODULE_PATHNAME', 'clm_sbg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_customers_final(bigint[]) RETURNS @extschema@.sbg
AS 'MODULE_PATHNAME', 'clm_sbg_customers_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.sbg_fit(period integer, survivors bigint) (
	SFUNC = @extschema@.sbg_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.sbg_final,
	COMBINEFUNC = @extschema@.sbg_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.sbg_fit_customers(periods_survived integer, churned boolean) (
	SFUNC = @extschema@.sbg_customers_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.sbg_customers_final,
	COMBINEFUNC = @extschema@.sbg_combine,
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.sbg_survival(model @extschema@.sbg, t integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_retention(model @extschema@.sbg, t integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_retention' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_expected_survivors(model @extschema@.sbg, customers double precision, t integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_expected_survivors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_del(model @extschema@.sbg, discount double precision) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_del' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sbg_derl(model @extschema@.sbg, discount double precision, renewals integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_derl' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TYPE @extschema@.sbg IS
'Fitted sBG model (Fader & Hardie 2007): churn probability ~ Beta(alpha, beta); standard errors from the observed information, log-likelihood, customers, last period observed, whether the optimiser converged and its iterations';

COMMENT ON FUNCTION @extschema@.sbg_accum(bigint[], integer, bigint) IS
'Transition function of clm.sbg_fit (survivors by period; -1 = period not seen)';

COMMENT ON FUNCTION @extschema@.sbg_customers_accum(bigint[], integer, boolean) IS
'Transition function of clm.sbg_fit_customers (churned and active counts by periods survived)';

COMMENT ON FUNCTION @extschema@.sbg_combine(bigint[], bigint[]) IS
'Combine function of clm.sbg_fit and clm.sbg_fit_customers (element-wise sum)';

COMMENT ON FUNCTION @extschema@.sbg_final(bigint[]) IS
'Final function of clm.sbg_fit (maximum-likelihood fit)';

COMMENT ON FUNCTION @extschema@.sbg_customers_final(bigint[]) IS
'Final function of clm.sbg_fit_customers (maximum-likelihood fit)';

COMMENT ON AGGREGATE @extschema@.sbg_fit(integer, bigint) IS
'Fits the sBG model to a cohort''s survivor counts: period 0 = starting customers, then one row per renewal period (rows of the same period are added)';

COMMENT ON AGGREGATE @extschema@.sbg_fit_customers(integer, boolean) IS
'Fits the sBG model to customer rows: renewals made, and whether the customer churned at the next renewal (false = still active)';

COMMENT ON FUNCTION @extschema@.sbg_survival(@extschema@.sbg, integer) IS
'sBG survival S(t) = B(alpha, beta + t) / B(alpha, beta): share of a cohort still active after t renewal periods';

COMMENT ON FUNCTION @extschema@.sbg_retention(@extschema@.sbg, integer) IS
'sBG retention rate of period t >= 1: (beta + t - 1) / (alpha + beta + t - 1)';

COMMENT ON FUNCTION @extschema@.sbg_expected_survivors(@extschema@.sbg, double precision, integer) IS
'Expected survivors after t periods of a cohort of the given size: customers * S(t)';

COMMENT ON FUNCTION @extschema@.sbg_del(@extschema@.sbg, double precision) IS
'Discounted expected lifetime of a new customer in payments (Fader & Hardie 2010): 2F1(1, beta; alpha + beta; 1 / (1 + discount))';

COMMENT ON FUNCTION @extschema@.sbg_derl(@extschema@.sbg, double precision, integer) IS
'Discounted expected residual lifetime of a customer who has made the given renewals, just before the next renewal (Fader & Hardie 2010)';
