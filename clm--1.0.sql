/* clm--1.0.sql: customer lifecycle management */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION clm" to load this file. \quit

COMMENT ON SCHEMA @extschema@ IS 'clm: customer lifecycle management (RFM, cohorts, churn, CLV, stage history)';

------------------------------------------------------------------------------
-- Customer summary (RFM) aggregate
------------------------------------------------------------------------------

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
COMMENT ON TYPE @extschema@.rfm IS
'Customer summary: frequency = repeat purchase periods, recency = first to last purchase period, t = first purchase period to as_of (recency and t in the time unit), monetary = mean amount of the repeat periods, periods = distinct purchase periods, total = sum of amounts, events = purchase rows, all up to as_of';

CREATE FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz) IS
'Transition function of clm.rfm_summary(event_at, amount, as_of)';

CREATE FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text) IS
'Transition function of clm.rfm_summary(event_at, amount, as_of, period)';

CREATE FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_accum(internal, timestamptz, double precision, timestamptz, text, text) IS
'Transition function of clm.rfm_summary(event_at, amount, as_of, period, time_unit)';

CREATE FUNCTION @extschema@.rfm_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_combine(internal, internal) IS
'Combine function of clm.rfm_summary (merges two partial customer summaries)';

CREATE FUNCTION @extschema@.rfm_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'clm_rfm_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_serialize(internal) IS
'Serialize function of clm.rfm_summary (portable binary form of a partial state)';

CREATE FUNCTION @extschema@.rfm_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_rfm_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_deserialize(bytea, internal) IS
'Deserialize function of clm.rfm_summary';

CREATE FUNCTION @extschema@.rfm_final(internal)
RETURNS @extschema@.rfm AS 'MODULE_PATHNAME', 'clm_rfm_final' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_final(internal) IS
'Final function of clm.rfm_summary (NULL when there is no purchase up to as_of); sorts the state in place';

CREATE AGGREGATE @extschema@.rfm_summary(event_at timestamptz, amount double precision, as_of timestamptz) (
	SFUNC = @extschema@.rfm_accum,
	STYPE = internal,
	SSPACE = 120,
	FINALFUNC = @extschema@.rfm_final,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.rfm_combine,
	SERIALFUNC = @extschema@.rfm_serialize,
	DESERIALFUNC = @extschema@.rfm_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz) IS
'Customer RFM summary with daily periods, recency and t in days; rows with NULLs are skipped, events after as_of left out';

CREATE AGGREGATE @extschema@.rfm_summary(event_at timestamptz, amount double precision, as_of timestamptz, period text) (
	SFUNC = @extschema@.rfm_accum,
	STYPE = internal,
	SSPACE = 120,
	FINALFUNC = @extschema@.rfm_final,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.rfm_combine,
	SERIALFUNC = @extschema@.rfm_serialize,
	DESERIALFUNC = @extschema@.rfm_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz, text) IS
'Customer RFM summary with the given period unit (hour, day, week, month, quarter, year), recency and t in that unit';

CREATE AGGREGATE @extschema@.rfm_summary(event_at timestamptz, amount double precision, as_of timestamptz, period text, time_unit text) (
	SFUNC = @extschema@.rfm_accum,
	STYPE = internal,
	SSPACE = 120,
	FINALFUNC = @extschema@.rfm_final,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.rfm_combine,
	SERIALFUNC = @extschema@.rfm_serialize,
	DESERIALFUNC = @extschema@.rfm_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz, text, text) IS
'Customer RFM summary bucketed by period, recency and t expressed in time_unit (e.g. day buckets in weeks for CDNOW)';

------------------------------------------------------------------------------
-- Subscriptions: MRR movements, churn rates, GRR / NRR
------------------------------------------------------------------------------

CREATE TYPE @extschema@.subscriptions;

CREATE FUNCTION @extschema@.subscriptions_in(cstring) RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_in(cstring) IS
'Input function of clm.subscriptions (\x + hexadecimal image of the binary form)';

CREATE FUNCTION @extschema@.subscriptions_out(@extschema@.subscriptions) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_subscriptions_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_out(@extschema@.subscriptions) IS
'Output function of clm.subscriptions';

CREATE FUNCTION @extschema@.subscriptions_recv(internal) RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_recv(internal) IS
'Binary input function of clm.subscriptions';

CREATE FUNCTION @extschema@.subscriptions_send(@extschema@.subscriptions) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_subscriptions_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_send(@extschema@.subscriptions) IS
'Binary output function of clm.subscriptions';

CREATE TYPE @extschema@.subscriptions (
	INPUT = @extschema@.subscriptions_in,
	OUTPUT = @extschema@.subscriptions_out,
	RECEIVE = @extschema@.subscriptions_recv,
	SEND = @extschema@.subscriptions_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE @extschema@.subscriptions IS
'State of clm.subscriptions_agg: the subscription rows (customer, started_at, ended_at, mrr) of a segment, read with clm.mrr_movements and clm.mrr_retention';

CREATE FUNCTION @extschema@.subscriptions_accum(@extschema@.subscriptions, bigint, timestamptz, timestamptz, double precision)
RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_accum(@extschema@.subscriptions, bigint, timestamptz, timestamptz, double precision) IS
'Transition function of clm.subscriptions_agg (appends the row in place)';

CREATE FUNCTION @extschema@.subscriptions_combine(@extschema@.subscriptions, @extschema@.subscriptions)
RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_combine(@extschema@.subscriptions, @extschema@.subscriptions) IS
'Combine function of clm.subscriptions_agg (concatenates two partial states)';

CREATE FUNCTION @extschema@.subscriptions_final(@extschema@.subscriptions)
RETURNS @extschema@.subscriptions
AS 'MODULE_PATHNAME', 'clm_subscriptions_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subscriptions_final(@extschema@.subscriptions) IS
'Final function of clm.subscriptions_agg (drops the spare capacity of the state)';

CREATE AGGREGATE @extschema@.subscriptions_agg(customer bigint, started_at timestamptz, ended_at timestamptz, mrr double precision) (
	SFUNC = @extschema@.subscriptions_accum,
	STYPE = @extschema@.subscriptions,
	FINALFUNC = @extschema@.subscriptions_final,
	COMBINEFUNC = @extschema@.subscriptions_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.subscriptions_agg(bigint, timestamptz, timestamptz, double precision) IS
'Collects subscription rows (ended_at NULL = still active; rows with NULL customer, started_at or mrr skipped) into a clm.subscriptions state';

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
COMMENT ON FUNCTION @extschema@.mrr_movements(@extschema@.subscriptions, text, timestamptz) IS
'MRR movements per period (new, expansion, contraction, churn, reactivation; contraction and churn negative), customers and MRR at start and end, customer churn rate (churned of the starting customers / starting customers) and its daily-averaged variant, gross and net MRR churn rates';

CREATE FUNCTION @extschema@.mrr_retention(state @extschema@.subscriptions, period text DEFAULT 'month', "window" integer DEFAULT 12,
	reactivation boolean DEFAULT true, until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, window_end timestamptz, customers bigint, mrr_start double precision,
	expansion_mrr double precision, contraction_mrr double precision, churned_mrr double precision,
	mrr_end double precision, grr double precision, nrr double precision)
AS 'MODULE_PATHNAME', 'clm_mrr_retention' LANGUAGE C STABLE PARALLEL SAFE ROWS 24;
COMMENT ON FUNCTION @extschema@.mrr_retention(@extschema@.subscriptions, text, integer, boolean, timestamptz) IS
'Gross and net revenue retention of the customers paying at each period start, over the next "window" periods (new customers excluded; reactivated MRR counted unless reactivation = false)';

------------------------------------------------------------------------------
-- Kaplan-Meier survival
------------------------------------------------------------------------------

CREATE TYPE @extschema@.km;

CREATE FUNCTION @extschema@.km_in(cstring) RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_in(cstring) IS
'Input function of clm.km (\x + hexadecimal image of the binary form)';

CREATE FUNCTION @extschema@.km_out(@extschema@.km) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_km_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_out(@extschema@.km) IS
'Output function of clm.km';

CREATE FUNCTION @extschema@.km_recv(internal) RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_recv(internal) IS
'Binary input function of clm.km';

CREATE FUNCTION @extschema@.km_send(@extschema@.km) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_km_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_send(@extschema@.km) IS
'Binary output function of clm.km';

CREATE TYPE @extschema@.km (
	INPUT = @extschema@.km_in,
	OUTPUT = @extschema@.km_out,
	RECEIVE = @extschema@.km_recv,
	SEND = @extschema@.km_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE @extschema@.km IS
'State of clm.km_agg: counts of events, censorings and entries per distinct time, read with clm.survival, clm.median_survival and clm.logrank';

CREATE FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean) IS
'Transition function of clm.km_agg(duration, churned)';

CREATE FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean, double precision)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_accum(@extschema@.km, double precision, boolean, double precision) IS
'Transition function of clm.km_agg(duration, churned, entered)';

CREATE FUNCTION @extschema@.km_combine(@extschema@.km, @extschema@.km)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_combine(@extschema@.km, @extschema@.km) IS
'Combine function of clm.km_agg (merges two partial states)';

CREATE FUNCTION @extschema@.km_final(@extschema@.km)
RETURNS @extschema@.km
AS 'MODULE_PATHNAME', 'clm_km_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.km_final(@extschema@.km) IS
'Final function of clm.km_agg (sorted distinct times, no spare capacity)';

CREATE AGGREGATE @extschema@.km_agg(duration double precision, churned boolean) (
	SFUNC = @extschema@.km_accum,
	STYPE = @extschema@.km,
	FINALFUNC = @extschema@.km_final,
	COMBINEFUNC = @extschema@.km_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.km_agg(double precision, boolean) IS
'Kaplan-Meier state of (duration, churned) rows: churned = false is a censored duration; rows with NULLs skipped';

CREATE AGGREGATE @extschema@.km_agg(duration double precision, churned boolean, entered double precision) (
	SFUNC = @extschema@.km_accum,
	STYPE = @extschema@.km,
	FINALFUNC = @extschema@.km_final,
	COMBINEFUNC = @extschema@.km_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.km_agg(double precision, boolean, double precision) IS
'Kaplan-Meier state with left truncation: a subject is at risk at times t with entered < t <= duration (entered NULL: from the start)';

CREATE FUNCTION @extschema@.survival(state @extschema@.km)
RETURNS TABLE ("time" double precision, at_risk bigint, events bigint, censored bigint,
	survival double precision, std_err double precision, lower double precision, upper double precision)
AS 'MODULE_PATHNAME', 'clm_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION @extschema@.survival(@extschema@.km) IS
'Kaplan-Meier curve, one row per distinct event time: at risk, events, censored in [time, next event time), survival, Greenwood standard error, log-log 95% confidence interval';

CREATE FUNCTION @extschema@.median_survival(state @extschema@.km) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_median_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.median_survival(@extschema@.km) IS
'Median survival time: first event time with survival below 0.5 (midpoint to the next event time when exactly 0.5); NULL if never reached';

CREATE FUNCTION @extschema@.logrank(a @extschema@.km, b @extschema@.km)
RETURNS TABLE (observed_a bigint, expected_a double precision, observed_b bigint, expected_b double precision,
	chisq double precision, p_value double precision)
AS 'MODULE_PATHNAME', 'clm_logrank' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION @extschema@.logrank(@extschema@.km, @extschema@.km) IS
'Log-rank test of equal survival between two Kaplan-Meier states: observed and expected events, chi-square (1 df), p-value';

------------------------------------------------------------------------------
-- sBG (shifted-beta-geometric) retention model
------------------------------------------------------------------------------

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
COMMENT ON TYPE @extschema@.sbg IS
'Fitted sBG model (Fader & Hardie 2007): churn probability ~ Beta(alpha, beta); standard errors from the observed information, log-likelihood, customers, last period observed, whether the optimiser converged and its iterations';

CREATE FUNCTION @extschema@.sbg_accum(bigint[], integer, bigint) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_sbg_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_accum(bigint[], integer, bigint) IS
'Transition function of clm.sbg_fit (survivors by period; -1 = period not seen)';

CREATE FUNCTION @extschema@.sbg_customers_accum(bigint[], integer, boolean) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_sbg_customers_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_customers_accum(bigint[], integer, boolean) IS
'Transition function of clm.sbg_fit_customers (churned and active counts by periods survived)';

CREATE FUNCTION @extschema@.sbg_combine(bigint[], bigint[]) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'clm_sbg_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_combine(bigint[], bigint[]) IS
'Combine function of clm.sbg_fit and clm.sbg_fit_customers (element-wise sum)';

CREATE FUNCTION @extschema@.sbg_final(bigint[]) RETURNS @extschema@.sbg
AS 'MODULE_PATHNAME', 'clm_sbg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_final(bigint[]) IS
'Final function of clm.sbg_fit (maximum-likelihood fit)';

CREATE FUNCTION @extschema@.sbg_customers_final(bigint[]) RETURNS @extschema@.sbg
AS 'MODULE_PATHNAME', 'clm_sbg_customers_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_customers_final(bigint[]) IS
'Final function of clm.sbg_fit_customers (maximum-likelihood fit)';

CREATE AGGREGATE @extschema@.sbg_fit(period integer, survivors bigint) (
	SFUNC = @extschema@.sbg_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.sbg_final,
	COMBINEFUNC = @extschema@.sbg_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.sbg_fit(integer, bigint) IS
'Fits the sBG model to a cohort''s survivor counts: period 0 = starting customers, then one row per renewal period (rows of the same period are added)';

CREATE AGGREGATE @extschema@.sbg_fit_customers(periods_survived integer, churned boolean) (
	SFUNC = @extschema@.sbg_customers_accum,
	STYPE = bigint[],
	FINALFUNC = @extschema@.sbg_customers_final,
	COMBINEFUNC = @extschema@.sbg_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.sbg_fit_customers(integer, boolean) IS
'Fits the sBG model to customer rows: renewals made, and whether the customer churned at the next renewal (false = still active)';

CREATE FUNCTION @extschema@.sbg_survival(model @extschema@.sbg, t integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_survival(@extschema@.sbg, integer) IS
'sBG survival S(t) = B(alpha, beta + t) / B(alpha, beta): share of a cohort still active after t renewal periods';

CREATE FUNCTION @extschema@.sbg_retention(model @extschema@.sbg, t integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_retention' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_retention(@extschema@.sbg, integer) IS
'sBG retention rate of period t >= 1: (beta + t - 1) / (alpha + beta + t - 1)';

CREATE FUNCTION @extschema@.sbg_expected_survivors(model @extschema@.sbg, customers double precision, t integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_expected_survivors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_expected_survivors(@extschema@.sbg, double precision, integer) IS
'Expected survivors after t periods of a cohort of the given size: customers * S(t)';

CREATE FUNCTION @extschema@.sbg_del(model @extschema@.sbg, discount double precision) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_del' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_del(@extschema@.sbg, double precision) IS
'Discounted expected lifetime of a new customer in payments (Fader & Hardie 2010): 2F1(1, beta; alpha + beta; 1 / (1 + discount))';

CREATE FUNCTION @extschema@.sbg_derl(model @extschema@.sbg, discount double precision, renewals integer) RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_sbg_derl' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sbg_derl(@extschema@.sbg, double precision, integer) IS
'Discounted expected residual lifetime of a customer who has made the given renewals, just before the next renewal (Fader & Hardie 2010)';

------------------------------------------------------------------------------
-- Probabilistic CLV models: BG/NBD, modified BG/NBD, Pareto/NBD, BG/BB,
-- Gamma-Gamma (fits and scoring)
------------------------------------------------------------------------------

CREATE TYPE @extschema@.clv_state;
CREATE FUNCTION @extschema@.clv_state_in(cstring) RETURNS @extschema@.clv_state
AS 'MODULE_PATHNAME', 'clm_clv_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.clv_state_out(@extschema@.clv_state) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_clv_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.clv_state_recv(internal) RETURNS @extschema@.clv_state
AS 'MODULE_PATHNAME', 'clm_clv_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.clv_state_send(@extschema@.clv_state) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_clv_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE @extschema@.clv_state (
	INPUT = @extschema@.clv_state_in,
	OUTPUT = @extschema@.clv_state_out,
	RECEIVE = @extschema@.clv_state_recv,
	SEND = @extschema@.clv_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE @extschema@.clv_state IS
'Transition state of the CLV model fits: distinct customer patterns (frequency, recency, t or monetary) with their total weight; text form kind;penalizer;rows;x,tx,T,w;...';
COMMENT ON FUNCTION @extschema@.clv_state_in(cstring) IS 'I/O';
COMMENT ON FUNCTION @extschema@.clv_state_out(@extschema@.clv_state) IS 'I/O';
COMMENT ON FUNCTION @extschema@.clv_state_recv(internal) IS 'I/O';
COMMENT ON FUNCTION @extschema@.clv_state_send(@extschema@.clv_state) IS 'I/O';

CREATE TYPE @extschema@.bgnbd AS (
	r double precision, alpha double precision, a double precision, b double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	r_se double precision, alpha_se double precision, a_se double precision, b_se double precision,
	patterns integer
);
COMMENT ON TYPE @extschema@.bgnbd IS
'BG/NBD model (Fader, Hardie & Lee 2005): purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b); loglik in the data''s time unit, n = customers (total weight), standard errors from the observed information';
CREATE TYPE @extschema@.mbgnbd AS (
	r double precision, alpha double precision, a double precision, b double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	r_se double precision, alpha_se double precision, a_se double precision, b_se double precision,
	patterns integer
);
COMMENT ON TYPE @extschema@.mbgnbd IS
'Modified BG/NBD model (Batislam, Denizel & Filiztekin 2007): as BG/NBD but customers may also drop out right after the first purchase';
CREATE TYPE @extschema@.pareto_nbd AS (
	r double precision, alpha double precision, s double precision, beta double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	r_se double precision, alpha_se double precision, s_se double precision, beta_se double precision,
	patterns integer
);
COMMENT ON TYPE @extschema@.pareto_nbd IS
'Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchase rate ~ Gamma(r, alpha), dropout rate ~ Gamma(s, beta)';
CREATE TYPE @extschema@.bgbb AS (
	alpha double precision, beta double precision, gamma double precision, delta double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	alpha_se double precision, beta_se double precision, gamma_se double precision, delta_se double precision,
	patterns integer
);
COMMENT ON TYPE @extschema@.bgbb IS
'BG/BB model (Fader, Hardie & Shang 2010) for discrete opportunities: transaction probability ~ Beta(alpha, beta), dropout probability ~ Beta(gamma, delta)';
CREATE TYPE @extschema@.gamma_gamma AS (
	p double precision, q double precision, v double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	p_se double precision, q_se double precision, v_se double precision,
	patterns integer
);
COMMENT ON TYPE @extschema@.gamma_gamma IS
'Gamma-Gamma spend model (Fader, Hardie & Lee 2005): transaction value ~ Gamma(p, nu), nu ~ Gamma(q, v); fitted on repeat customers';

CREATE FUNCTION @extschema@.clv_combine(@extschema@.clv_state, @extschema@.clv_state)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_clv_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clv_combine(@extschema@.clv_state, @extschema@.clv_state) IS
'Combine function of the CLV model fits (merges customer patterns)';
CREATE FUNCTION @extschema@.bgnbd_final(@extschema@.clv_state) RETURNS @extschema@.bgnbd
AS 'MODULE_PATHNAME', 'clm_bgnbd_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_final(@extschema@.clv_state) IS 'Final function of clm.bgnbd_fit (maximum likelihood); also fits a stored state of the same model';
CREATE FUNCTION @extschema@.mbgnbd_final(@extschema@.clv_state) RETURNS @extschema@.mbgnbd
AS 'MODULE_PATHNAME', 'clm_mbgnbd_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_final(@extschema@.clv_state) IS 'Final function of clm.mbgnbd_fit (maximum likelihood); also fits a stored state of the same model';
CREATE FUNCTION @extschema@.pareto_nbd_final(@extschema@.clv_state) RETURNS @extschema@.pareto_nbd
AS 'MODULE_PATHNAME', 'clm_pareto_nbd_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pareto_nbd_final(@extschema@.clv_state) IS 'Final function of clm.pareto_nbd_fit (maximum likelihood); also fits a stored state of the same model';
CREATE FUNCTION @extschema@.bgbb_final(@extschema@.clv_state) RETURNS @extschema@.bgbb
AS 'MODULE_PATHNAME', 'clm_bgbb_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgbb_final(@extschema@.clv_state) IS 'Final function of clm.bgbb_fit (maximum likelihood); also fits a stored state of the same model';
CREATE FUNCTION @extschema@.gamma_gamma_final(@extschema@.clv_state) RETURNS @extschema@.gamma_gamma
AS 'MODULE_PATHNAME', 'clm_gamma_gamma_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_final(@extschema@.clv_state) IS 'Final function of clm.gamma_gamma_fit (maximum likelihood); also fits a stored state of the same model';

DO $clv$
DECLARE
	m record;
	sig record;
BEGIN
	FOR m IN SELECT * FROM (VALUES
		('bgnbd', 'frequency double precision, recency double precision, t double precision', 'BG/NBD'),
		('mbgnbd', 'frequency double precision, recency double precision, t double precision', 'modified BG/NBD'),
		('pareto_nbd', 'frequency double precision, recency double precision, t double precision', 'Pareto/NBD'),
		('bgbb', 'frequency double precision, recency double precision, n_periods double precision', 'BG/BB'),
		('gamma_gamma', 'frequency double precision, monetary double precision', 'Gamma-Gamma'))
		AS v(kind, args, label)
	LOOP
		FOR sig IN SELECT * FROM (VALUES
			('', ''),
			(', weight double precision', ' with customer weights'),
			(', weight double precision, penalizer double precision', ' with customer weights and an L2 penalty penalizer * sum(parameter^2) on the mean log-likelihood'))
			AS s(extra, what)
		LOOP
			EXECUTE format('CREATE FUNCTION @extschema@.%1$s_accum(@extschema@.clv_state, %2$s%3$s) '
				'RETURNS @extschema@.clv_state AS ''MODULE_PATHNAME'', ''clm_%1$s_accum'' '
				'LANGUAGE C IMMUTABLE PARALLEL SAFE', m.kind, m.args, sig.extra);
			EXECUTE format('COMMENT ON FUNCTION @extschema@.%1$s_accum(@extschema@.clv_state, %2$s%3$s) IS %4$L',
				m.kind, m.args, sig.extra, 'Transition function of clm.' || m.kind || '_fit');
			EXECUTE format('CREATE AGGREGATE @extschema@.%1$s_fit(%2$s%3$s) ('
				'SFUNC = @extschema@.%1$s_accum, STYPE = @extschema@.clv_state, '
				'FINALFUNC = @extschema@.%1$s_final, COMBINEFUNC = @extschema@.clv_combine, '
				'PARALLEL = SAFE)', m.kind, m.args, sig.extra);
			EXECUTE format('COMMENT ON AGGREGATE @extschema@.%1$s_fit(%2$s%3$s) IS %4$L',
				m.kind, m.args, sig.extra,
				'Maximum-likelihood fit of the ' || m.label || ' model' || sig.what ||
				'; NULL rows skipped, NULL when there is no row');
		END LOOP;
	END LOOP;
END
$clv$;

DO $clvscore$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT * FROM (VALUES
		('bgnbd', 't', 'BG/NBD', 'time units'),
		('mbgnbd', 't', 'modified BG/NBD', 'time units'),
		('pareto_nbd', 't', 'Pareto/NBD', 'time units'),
		('bgbb', 'n_periods', 'BG/BB', 'periods'))
		AS v(kind, tname, label, unit)
	LOOP
		EXECUTE format('CREATE FUNCTION @extschema@.p_alive(model @extschema@.%1$s, frequency double precision, '
			'recency double precision, %2$s double precision) RETURNS double precision '
			'AS ''MODULE_PATHNAME'', ''clm_%1$s_p_alive'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
			m.kind, m.tname);
		EXECUTE format('COMMENT ON FUNCTION @extschema@.p_alive(@extschema@.%1$s, double precision, double precision, double precision) IS %2$L',
			m.kind, 'Probability that a customer with this history is still alive under the ' || m.label ||
			' model' || CASE WHEN m.kind = 'bgbb' THEN ' (alive in period n_periods + 1)' ELSE ' (at t)' END);
		EXECUTE format('CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.%1$s, horizon double precision, '
			'frequency double precision, recency double precision, %2$s double precision) RETURNS double precision '
			'AS ''MODULE_PATHNAME'', ''clm_%1$s_expected_purchases'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
			m.kind, m.tname);
		EXECUTE format('COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.%1$s, double precision, double precision, double precision, double precision) IS %2$L',
			m.kind, 'Expected purchases in the next horizon ' || m.unit || ' of a customer with this history under the ' || m.label || ' model');
		EXECUTE format('CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.%1$s, horizon double precision) '
			'RETURNS double precision '
			'AS ''MODULE_PATHNAME'', ''clm_%1$s_expected_purchases_new'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
			m.kind);
		EXECUTE format('COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.%1$s, double precision) IS %2$L',
			m.kind, 'Expected repeat purchases of a new customer in the first horizon ' || m.unit || ' under the ' || m.label || ' model');
		EXECUTE format('CREATE FUNCTION @extschema@.probability_of_purchases(model @extschema@.%1$s, n integer, horizon double precision) '
			'RETURNS double precision '
			'AS ''MODULE_PATHNAME'', ''clm_%1$s_probability_of_purchases'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
			m.kind);
		EXECUTE format('COMMENT ON FUNCTION @extschema@.probability_of_purchases(@extschema@.%1$s, integer, double precision) IS %2$L',
			m.kind, 'Probability that a new customer makes exactly n repeat purchases in the first horizon ' || m.unit || ' under the ' || m.label || ' model');
		IF m.kind <> 'bgbb' THEN
			EXECUTE format('CREATE FUNCTION @extschema@.clv(model @extschema@.%1$s, spend @extschema@.gamma_gamma, '
				'frequency double precision, recency double precision, t double precision, monetary double precision, '
				'months integer DEFAULT 12, monthly_discount double precision DEFAULT 0.01, time_unit text DEFAULT ''week'') '
				'RETURNS double precision '
				'AS ''MODULE_PATHNAME'', ''clm_%1$s_clv'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
				m.kind);
			EXECUTE format('COMMENT ON FUNCTION @extschema@.clv(@extschema@.%1$s, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, text) IS %2$L',
				m.kind, 'Discounted customer lifetime value over the next months: sum over months k of expected spend (Gamma-Gamma) times the expected purchases in month k (' || m.label || '), discounted by (1 + monthly_discount)^k; recency and t are in time_unit');
		END IF;
	END LOOP;
END
$clvscore$;

CREATE FUNCTION @extschema@.expected_spend(model @extschema@.gamma_gamma, frequency double precision, monetary double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_gamma_gamma_expected_spend' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.expected_spend(@extschema@.gamma_gamma, double precision, double precision) IS
'Expected mean transaction value of a customer with frequency repeat purchases of mean value monetary under the Gamma-Gamma model (frequency 0: the population mean p v / (q - 1))';

CREATE TYPE @extschema@.holdout_summary AS (
	frequency_cal integer,
	recency_cal double precision,
	t_cal double precision,
	monetary_cal double precision,
	frequency_holdout integer,
	monetary_holdout double precision,
	duration_holdout double precision
);
COMMENT ON TYPE @extschema@.holdout_summary IS
'Calibration/holdout split of one customer: the calibration summary up to calibration_end (as clm.rfm_summary), the distinct purchase periods and their mean amount in (calibration_end, observation_end], and the holdout length, all in the time unit';

CREATE FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz) IS
'Transition function of clm.calibration_holdout(event_at, amount, calibration_end, observation_end)';
CREATE FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text) IS
'Transition function of clm.calibration_holdout(event_at, amount, calibration_end, observation_end, period)';
CREATE FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text, text)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_accum(internal, timestamptz, double precision, timestamptz, timestamptz, text, text) IS
'Transition function of clm.calibration_holdout(event_at, amount, calibration_end, observation_end, period, time_unit)';
CREATE FUNCTION @extschema@.holdout_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_combine(internal, internal) IS 'Combine function of clm.calibration_holdout';
CREATE FUNCTION @extschema@.holdout_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'clm_holdout_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_serialize(internal) IS 'Serialize function of clm.calibration_holdout';
CREATE FUNCTION @extschema@.holdout_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clm_holdout_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_deserialize(bytea, internal) IS 'Deserialize function of clm.calibration_holdout';
CREATE FUNCTION @extschema@.holdout_final(internal)
RETURNS @extschema@.holdout_summary AS 'MODULE_PATHNAME', 'clm_holdout_final' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.holdout_final(internal) IS
'Final function of clm.calibration_holdout (NULL for a customer without purchase up to calibration_end)';

DO $clvho$
DECLARE
	sig record;
BEGIN
	FOR sig IN SELECT * FROM (VALUES
		('', 'daily periods, recency and t in days'),
		(', period text', 'the given period unit, recency and t in that unit'),
		(', period text, time_unit text', 'periods of the given unit, recency, t and the holdout length in time_unit'))
		AS s(extra, what)
	LOOP
		EXECUTE format('CREATE AGGREGATE @extschema@.calibration_holdout(event_at timestamptz, amount double precision, '
			'calibration_end timestamptz, observation_end timestamptz%1$s) ('
			'SFUNC = @extschema@.holdout_accum, STYPE = internal, SSPACE = 256, '
			'FINALFUNC = @extschema@.holdout_final, FINALFUNC_MODIFY = READ_WRITE, '
			'COMBINEFUNC = @extschema@.holdout_combine, SERIALFUNC = @extschema@.holdout_serialize, '
			'DESERIALFUNC = @extschema@.holdout_deserialize, PARALLEL = SAFE)', sig.extra);
		EXECUTE format('COMMENT ON AGGREGATE @extschema@.calibration_holdout(timestamptz, double precision, timestamptz, timestamptz%1$s) IS %2$L',
			replace(replace(sig.extra, 'period ', ''), 'time_unit ', ''),
			'Per customer calibration summary up to calibration_end and holdout purchases to observation_end, ' || sig.what ||
			'; NULL for customers first seen after calibration_end');
	END LOOP;
END
$clvho$;

DO $clvcheck$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT * FROM (VALUES ('bgnbd', 'BG/NBD'), ('mbgnbd', 'modified BG/NBD'), ('pareto_nbd', 'Pareto/NBD')) AS v(kind, label)
	LOOP
		EXECUTE format($f$
CREATE FUNCTION @extschema@.holdout_check(model @extschema@.%1$s, summary regclass, max_frequency integer DEFAULT 7)
RETURNS TABLE (frequency_cal integer, customers bigint, actual double precision, predicted double precision)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog AS $body$
BEGIN
	IF max_frequency IS NULL OR max_frequency < 0 THEN
		RAISE EXCEPTION 'max_frequency must be a non-negative integer'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT LEAST(s.frequency_cal, $2)::integer, count(*), '
		'avg(s.frequency_holdout)::double precision, '
		'avg(@extschema@.expected_purchases($1, s.duration_holdout::double precision, '
		's.frequency_cal::double precision, s.recency_cal::double precision, s.t_cal::double precision)) '
		'FROM %%s s WHERE s.frequency_cal IS NOT NULL '
		'GROUP BY 1 ORDER BY 1', summary)
		USING model, max_frequency;
END
$body$;
$f$, m.kind);
		EXECUTE format('COMMENT ON FUNCTION @extschema@.holdout_check(@extschema@.%1$s, regclass, integer) IS %2$L', m.kind,
			'Model check table: per calibration frequency (the last row gathers max_frequency and more), the customers, the mean actual holdout purchases and the mean ' ||
			m.label || ' prediction, read from a table or view with the columns of clm.holdout_summary');
	END LOOP;
END
$clvcheck$;
