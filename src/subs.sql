/*
 * src/subs.sql: subscriptions: MRR movements, churn rates, GRR / NRR
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.subscriptions;

CREATE FUNCTION @extschema@.subscriptions_in(cstring) RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.subscriptions_out(@extschema@.subscriptions) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_subscriptions_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.subscriptions_recv(internal) RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.subscriptions_send(@extschema@.subscriptions) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_subscriptions_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.subscriptions (
	INPUT = @extschema@.subscriptions_in,
	OUTPUT = @extschema@.subscriptions_out,
	RECEIVE = @extschema@.subscriptions_recv,
	SEND = @extschema@.subscriptions_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.subscriptions_accum(@extschema@.subscriptions, bigint, timestamptz, timestamptz, double precision)
RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.subscriptions_combine(@extschema@.subscriptions, @extschema@.subscriptions)
RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.subscriptions_final(@extschema@.subscriptions)
RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.subscriptions_agg(customer bigint, started_at timestamptz, ended_at timestamptz, mrr double precision) (
	SFUNC = @extschema@.subscriptions_accum,
	STYPE = @extschema@.subscriptions,
	FINALFUNC = @extschema@.subscriptions_final,
	COMBINEFUNC = @extschema@.subscriptions_combine,
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.mrr_movements(state @extschema@.subscriptions, period text DEFAULT 'month', until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, customers_start bigint, mrr_start double precision,
	new_customers bigint, new_mrr double precision,
	expansion_customers bigint, expansion_mrr double precision,
	contraction_customers bigint, contraction_mrr double precision,
	churned_customers bigint, churned_mrr double precision,
	reactivated_customers bigint, reactivation_mrr double precision,
	customers_end bigint, mrr_end double precision,
	customer_churn_rate double precision, customer_churn_rate_daily double precision,
	gross_mrr_churn_rate double precision, net_mrr_churn_rate double precision,
	churned_of_start bigint)
AS 'MODULE_PATHNAME', 'clm_mrr_movements' LANGUAGE C STABLE PARALLEL SAFE ROWS 24;

CREATE FUNCTION @extschema@.mrr_retention(state @extschema@.subscriptions, period text DEFAULT 'month', "window" integer DEFAULT 12,
	reactivation boolean DEFAULT true, until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, window_end timestamptz, customers bigint, mrr_start double precision,
	expansion_mrr double precision, contraction_mrr double precision, churned_mrr double precision,
	mrr_end double precision, grr double precision, nrr double precision)
AS 'MODULE_PATHNAME', 'clm_mrr_retention' LANGUAGE C STABLE PARALLEL SAFE ROWS 24;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.subscriptions_in(cstring) IS
'Input function of clm.subscriptions (\x + hexadecimal image of the binary form)';

COMMENT ON FUNCTION @extschema@.subscriptions_out(@extschema@.subscriptions) IS
'Output function of clm.subscriptions';

COMMENT ON FUNCTION @extschema@.subscriptions_recv(internal) IS
'Binary input function of clm.subscriptions';

COMMENT ON FUNCTION @extschema@.subscriptions_send(@extschema@.subscriptions) IS
'Binary output function of clm.subscriptions';

COMMENT ON TYPE @extschema@.subscriptions IS
'State of clm.subscriptions_agg: the subscription rows (customer, started_at, ended_at, mrr) of a segment, read with clm.mrr_movements and clm.mrr_retention';

COMMENT ON FUNCTION @extschema@.subscriptions_accum(@extschema@.subscriptions, bigint, timestamptz, timestamptz, double precision) IS
'Transition function of clm.subscriptions_agg (appends the row in place)';

COMMENT ON FUNCTION @extschema@.subscriptions_combine(@extschema@.subscriptions, @extschema@.subscriptions) IS
'Combine function of clm.subscriptions_agg (concatenates two partial states)';

COMMENT ON FUNCTION @extschema@.subscriptions_final(@extschema@.subscriptions) IS
'Final function of clm.subscriptions_agg (drops the spare capacity of the state)';

COMMENT ON AGGREGATE @extschema@.subscriptions_agg(bigint, timestamptz, timestamptz, double precision) IS
'Collects subscription rows (ended_at NULL = still active; rows with NULL customer, started_at or mrr skipped) into a clm.subscriptions state';

COMMENT ON FUNCTION @extschema@.mrr_movements(@extschema@.subscriptions, text, timestamptz) IS
'MRR movements per period (new, expansion, contraction, churn, reactivation; contraction and churn negative), customers and MRR at start and end, customer churn rate (churned of the starting customers / starting customers) and its daily-averaged variant, gross and net MRR churn rates';

COMMENT ON FUNCTION @extschema@.mrr_retention(@extschema@.subscriptions, text, integer, boolean, timestamptz) IS
'Gross and net revenue retention of the customers paying at each period start, over the next "window" periods (new customers excluded; reactivated MRR counted unless reactivation = false)';
