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

------------------------------------------------------------------------------
-- Lifecycle stages: models as data, tracking triggers, append-only history
------------------------------------------------------------------------------

CREATE TABLE @extschema@.stage_model (
	model text PRIMARY KEY CONSTRAINT stage_model_name_check CHECK (model ~ '^[a-z][a-z0-9_]*$'),
	policy text NOT NULL DEFAULT 'any'
		CONSTRAINT stage_model_policy_check CHECK (policy IN ('any', 'forward_only', 'graph')),
	description text,
	shipped boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.stage_model IS
'Lifecycle stage models: transition policy any (every move), forward_only (skips forward, no move back) or graph (edges in clm.stage_transition); shipped = preset created by the extension (not dumped by pg_dump)';

CREATE TABLE @extschema@.stage (
	model text NOT NULL REFERENCES @extschema@.stage_model (model) ON UPDATE CASCADE ON DELETE CASCADE,
	stage text NOT NULL CONSTRAINT stage_name_check CHECK (stage ~ '^[a-z][a-z0-9_]*$'),
	position integer NOT NULL CONSTRAINT stage_position_check CHECK (position > 0),
	terminal boolean NOT NULL DEFAULT false,
	description text,
	PRIMARY KEY (model, stage),
	UNIQUE (model, position)
);
COMMENT ON TABLE @extschema@.stage IS
'Ordered stages of each model (position orders funnels and forward_only moves; terminal marks end stages)';

CREATE TABLE @extschema@.stage_transition (
	model text NOT NULL,
	from_stage text,
	to_stage text NOT NULL,
	FOREIGN KEY (model, from_stage) REFERENCES @extschema@.stage (model, stage) ON UPDATE CASCADE ON DELETE CASCADE,
	FOREIGN KEY (model, to_stage) REFERENCES @extschema@.stage (model, stage) ON UPDATE CASCADE ON DELETE CASCADE,
	UNIQUE NULLS NOT DISTINCT (model, from_stage, to_stage)
);
COMMENT ON TABLE @extschema@.stage_transition IS
'Allowed moves of graph models; from_stage NULL = entering the model at to_stage (entering at the first stage is always allowed)';

CREATE TABLE @extschema@.tracked_table (
	table_oid regclass PRIMARY KEY,
	model text NOT NULL REFERENCES @extschema@.stage_model (model) ON UPDATE CASCADE,
	tracked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	tracked_by name NOT NULL
);
COMMENT ON TABLE @extschema@.tracked_table IS
'Tables tracked by clm.track() and their model; the columns are those of the table''s clm_stage_update trigger (see clm.tracked_tables)';

CREATE SEQUENCE @extschema@.stage_history_id_seq;
CREATE TABLE @extschema@.stage_history (
	id bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.stage_history_id_seq') PRIMARY KEY,
	table_oid regclass NOT NULL,
	customer_key text NOT NULL,
	model text NOT NULL,
	from_stage text,
	to_stage text,
	changed_at timestamptz NOT NULL,
	xid xid8 NOT NULL,
	changed_by name NOT NULL,
	source text NOT NULL DEFAULT 'trigger'	-- trigger, track or import
);
ALTER SEQUENCE @extschema@.stage_history_id_seq OWNED BY @extschema@.stage_history.id;
CREATE INDEX stage_history_customer_idx ON @extschema@.stage_history (table_oid, customer_key, changed_at);
COMMENT ON TABLE @extschema@.stage_history IS
'Append-only stage history: one row per stage change of a tracked table (source trigger), per existing row at clm.track (track) or per imported change (import); written only by the extension';
-- no CHECK constraint on purpose: only the extension's C code writes this
-- table, and PostgreSQL parses CHECK expressions at every INSERT statement

-- Only the extension writes history and tracking rows; everybody may read.
-- Models are editable by the extension owner and whoever it grants to.
REVOKE ALL ON @extschema@.stage_history, @extschema@.tracked_table,
	@extschema@.stage_model, @extschema@.stage, @extschema@.stage_transition FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.stage_history_id_seq FROM PUBLIC;
GRANT SELECT ON @extschema@.stage_history, @extschema@.tracked_table,
	@extschema@.stage_model, @extschema@.stage, @extschema@.stage_transition TO PUBLIC;

-- pg_dump keeps the user's models, the tracking registry and the history;
-- the shipped presets are recreated by CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_model', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage',
	'WHERE model NOT IN (SELECT m.model FROM clm.stage_model m WHERE m.shipped)');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_transition',
	'WHERE model NOT IN (SELECT m.model FROM clm.stage_model m WHERE m.shipped)');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracked_table', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stage_history_id_seq', '');

-- Shipped presets
INSERT INTO @extschema@.stage_model (model, policy, description, shipped) VALUES
	('reach_loyalty', 'any', 'Marketing phases: reach, acquisition, conversion, retention, loyalty', true),
	('welcome_winback', 'any', 'CRM contact programme: welcome, profiling, dialog, bonding (cross/up-sell), retention/win-back', true),
	('acquisition_churn', 'any', 'SaaS customer lifecycle: acquisition, activation, retention, expansion, churn', true),
	('prospect_churned', 'any', 'Relationship lifecycle: prospect, acquired, developing, maintained, churned', true),
	('hubspot', 'forward_only', 'HubSpot lifecycle stages: subscriber, lead, MQL, SQL, opportunity, customer, evangelist, other', true),
	('behavioral', 'graph', 'Behavioural status: prospect, new, active, at_risk, dormant, churned, reactivated', true);
INSERT INTO @extschema@.stage (model, stage, position, terminal) VALUES
	('reach_loyalty', 'reach', 1, false), ('reach_loyalty', 'acquisition', 2, false),
	('reach_loyalty', 'conversion', 3, false), ('reach_loyalty', 'retention', 4, false),
	('reach_loyalty', 'loyalty', 5, false),
	('welcome_winback', 'welcome', 1, false), ('welcome_winback', 'profiling', 2, false),
	('welcome_winback', 'dialog', 3, false), ('welcome_winback', 'bonding', 4, false),
	('welcome_winback', 'retention_winback', 5, false),
	('acquisition_churn', 'acquisition', 1, false), ('acquisition_churn', 'activation', 2, false),
	('acquisition_churn', 'retention', 3, false), ('acquisition_churn', 'expansion', 4, false),
	('acquisition_churn', 'churn', 5, true),
	('prospect_churned', 'prospect', 1, false), ('prospect_churned', 'acquired', 2, false),
	('prospect_churned', 'developing', 3, false), ('prospect_churned', 'maintained', 4, false),
	('prospect_churned', 'churned', 5, true),
	('hubspot', 'subscriber', 1, false), ('hubspot', 'lead', 2, false), ('hubspot', 'mql', 3, false),
	('hubspot', 'sql', 4, false), ('hubspot', 'opportunity', 5, false), ('hubspot', 'customer', 6, false),
	('hubspot', 'evangelist', 7, false), ('hubspot', 'other', 8, false),
	('behavioral', 'prospect', 1, false), ('behavioral', 'new', 2, false), ('behavioral', 'active', 3, false),
	('behavioral', 'at_risk', 4, false), ('behavioral', 'dormant', 5, false),
	('behavioral', 'churned', 6, true), ('behavioral', 'reactivated', 7, false);
INSERT INTO @extschema@.stage_transition (model, from_stage, to_stage) VALUES
	('behavioral', NULL, 'new'),
	('behavioral', 'prospect', 'new'),
	('behavioral', 'new', 'active'), ('behavioral', 'new', 'at_risk'), ('behavioral', 'new', 'dormant'),
	('behavioral', 'active', 'at_risk'), ('behavioral', 'active', 'dormant'),
	('behavioral', 'at_risk', 'active'), ('behavioral', 'at_risk', 'dormant'),
	('behavioral', 'dormant', 'churned'), ('behavioral', 'dormant', 'reactivated'),
	('behavioral', 'churned', 'reactivated'),
	('behavioral', 'reactivated', 'active'), ('behavioral', 'reactivated', 'at_risk'),
	('behavioral', 'reactivated', 'dormant');

-- Model edits reach every session's trigger cache at commit
CREATE FUNCTION @extschema@.stage_config_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_config_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.stage_config_changed() IS
'Statement trigger on the stage model tables: invalidates the cached models of the tracking triggers';
CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_model
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();
CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();
CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.stage_transition
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();
CREATE TRIGGER stage_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.tracked_table
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.stage_config_changed();

CREATE FUNCTION @extschema@.stage_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'clm_stage_trigger' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.stage_trigger() IS
'Row trigger installed by clm.track(): validates stage moves against the model and writes clm.stage_history';

CREATE FUNCTION @extschema@.track(tbl regclass, key_column name, stage_column name, model text,
	record_existing boolean DEFAULT true)
RETURNS bigint AS 'MODULE_PATHNAME', 'clm_track' LANGUAGE C STRICT;
COMMENT ON FUNCTION @extschema@.track(regclass, name, name, text, boolean) IS
'Track the stage column of a table you own (key bigint, integer, text or uuid): installs the clm_stage_insert/clm_stage_update triggers; with record_existing, records each existing row''s stage; returns the rows recorded';

CREATE FUNCTION @extschema@.untrack(tbl regclass) RETURNS void
AS 'MODULE_PATHNAME', 'clm_untrack' LANGUAGE C STRICT;
COMMENT ON FUNCTION @extschema@.untrack(regclass) IS
'Stop tracking a table: drops its clm triggers and registry row, keeps its history';

CREATE FUNCTION @extschema@.import_history(tbl regclass, source regclass) RETURNS bigint
AS 'MODULE_PATHNAME', 'clm_import_history' LANGUAGE C STRICT;
COMMENT ON FUNCTION @extschema@.import_history(regclass, regclass) IS
'Load past stage changes of a tracked table from source(customer_key, stage, changed_at), validated against the model; returns the rows imported';

CREATE VIEW @extschema@.tracked_tables AS
SELECT t.table_oid, k.attname AS key_column, s.attname AS stage_column, t.model,
	t.tracked_at, t.tracked_by
FROM @extschema@.tracked_table t
LEFT JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = t.table_oid::oid
	AND tg.tgfoid = '@extschema@.stage_trigger()'::pg_catalog.regprocedure AND pg_catalog.cardinality(tg.tgattr::pg_catalog.int2[]) = 2
LEFT JOIN pg_catalog.pg_attribute s ON s.attrelid = tg.tgrelid AND s.attnum = tg.tgattr[0]
LEFT JOIN pg_catalog.pg_attribute k ON k.attrelid = tg.tgrelid AND k.attnum = tg.tgattr[1];
COMMENT ON VIEW @extschema@.tracked_tables IS
'Tracked tables with their current key and stage column names (NULL columns: table dropped or triggers removed)';
GRANT SELECT ON @extschema@.tracked_tables TO PUBLIC;

CREATE VIEW @extschema@.stage_spans AS
SELECT table_oid, customer_key, model, stage, entered_at, exited_at
FROM (SELECT h.table_oid, h.customer_key, h.model, h.to_stage AS stage, h.changed_at AS entered_at,
		pg_catalog.lead(h.changed_at) OVER (PARTITION BY h.table_oid, h.customer_key
											ORDER BY h.changed_at, h.id) AS exited_at
	  FROM @extschema@.stage_history h) s
WHERE stage IS NOT NULL;
COMMENT ON VIEW @extschema@.stage_spans IS
'One row per stay of a customer in a stage: entered_at, and exited_at = time of the next change (NULL while still in the stage)';
GRANT SELECT ON @extschema@.stage_spans TO PUBLIC;

CREATE FUNCTION @extschema@.stage_at(tbl regclass, customer_key anyelement, at timestamptz)
RETURNS text LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT h.to_stage FROM @extschema@.stage_history h
WHERE h.table_oid = $1 AND h.customer_key = $2::text AND h.changed_at <= $3
ORDER BY h.changed_at DESC, h.id DESC LIMIT 1
$$;
COMMENT ON FUNCTION @extschema@.stage_at(regclass, anyelement, timestamptz) IS
'Stage of a customer of a tracked table at a time (NULL before its first recorded stage)';

CREATE FUNCTION @extschema@.stage_properties(tbl regclass, as_of timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (customer_key text, stage text, first_entered_at timestamptz, last_exited_at timestamptz,
	latest_time_in interval, cumulative_time_in interval, stays bigint, current boolean)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
WITH h AS (
	SELECT h.customer_key, h.to_stage, h.changed_at, h.id,
		lead(h.changed_at) OVER (PARTITION BY h.customer_key ORDER BY h.changed_at, h.id) AS next_at
	FROM @extschema@.stage_history h
	WHERE h.table_oid = $1 AND h.changed_at <= $2)
SELECT h.customer_key, h.to_stage, min(h.changed_at), max(h.next_at),
	(array_agg(coalesce(h.next_at, $2) - h.changed_at ORDER BY h.changed_at DESC, h.id DESC))[1],
	sum(coalesce(h.next_at, $2) - h.changed_at),
	count(*), bool_or(h.next_at IS NULL)
FROM h WHERE h.to_stage IS NOT NULL
GROUP BY h.customer_key, h.to_stage
$$;
COMMENT ON FUNCTION @extschema@.stage_properties(regclass, timestamptz) IS
'Per customer and stage as of a time (HubSpot-style): first entered, last exited, latest time in (length of the most recent stay, open stays up to as_of), cumulative time in, stays, currently in the stage';

CREATE FUNCTION @extschema@.transition_matrix(tbl regclass, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (from_stage text, to_stage text, transitions bigint, probability double precision)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT h.from_stage, h.to_stage, count(*),
	count(*)::float8 / sum(count(*)) OVER (PARTITION BY h.from_stage)
FROM @extschema@.stage_history h
WHERE h.table_oid = $1 AND h.changed_at >= $2 AND h.changed_at < $3
GROUP BY h.from_stage, h.to_stage
$$;
COMMENT ON FUNCTION @extschema@.transition_matrix(regclass, timestamptz, timestamptz) IS
'Stage changes recorded in [from_at, to_at): counts and probabilities normalised per from_stage (from_stage NULL = entries, to_stage NULL = stage cleared)';

CREATE FUNCTION @extschema@.stage_funnel(tbl regclass, from_at timestamptz, to_at timestamptz,
	strict boolean DEFAULT true, steps text[] DEFAULT NULL)
RETURNS TABLE (step integer, stage text, customers bigint, step_conversion double precision,
	cumulative_conversion double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text;
	n integer;
	bad text;
	names text[];
	reached bigint[];
	cur text;
	lvl integer := 0;
	r record;
BEGIN
	IF tbl IS NULL OR from_at IS NULL OR to_at IS NULL OR strict IS NULL THEN
		RAISE EXCEPTION 'tbl, from_at, to_at and strict must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF from_at >= to_at THEN
		RAISE EXCEPTION 'from_at must be earlier than to_at'
			USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', from_at, to_at);
	END IF;
	SELECT t.model INTO m FROM @extschema@.tracked_table t WHERE t.table_oid = tbl;
	IF m IS NULL THEN
		SELECT h.model INTO m FROM @extschema@.stage_history h
		WHERE h.table_oid = tbl ORDER BY h.id DESC LIMIT 1;
	END IF;
	IF m IS NULL THEN
		RAISE EXCEPTION 'table % has no stage model', tbl
			USING ERRCODE = '55000', HINT = 'Track it with clm.track().';
	END IF;
	IF steps IS NOT NULL THEN
		SELECT x INTO bad FROM unnest(steps) x
		WHERE x IS NULL OR NOT EXISTS (SELECT 1 FROM @extschema@.stage s WHERE s.model = m AND s.stage = x)
		LIMIT 1;
		IF FOUND OR cardinality(steps) = 0 OR
		   (SELECT count(DISTINCT x) FROM unnest(steps) x) <> cardinality(steps) THEN
			RAISE EXCEPTION 'funnel steps must be distinct stages of model %', m
				USING ERRCODE = '22023',
					  DETAIL = coalesce(format('Stage %s is not in the model.', quote_nullable(bad)), 'Got ' || steps::text || '.');
		END IF;
	END IF;
	IF steps IS NULL THEN
		SELECT array_agg(s.stage ORDER BY s.position) INTO names
		FROM @extschema@.stage s WHERE s.model = m;
	ELSE
		names := steps;
	END IF;
	n := coalesce(cardinality(names), 0);
	reached := array_fill(0::bigint, ARRAY[greatest(n, 1)]);
	IF strict THEN
		-- greedy in time order: a customer reaches step k+1 when it enters
		-- stage k+1 at or after reaching step k
		FOR r IN
			SELECT h.customer_key AS k, st.step AS s
			FROM @extschema@.stage_history h
			JOIN unnest(names) WITH ORDINALITY st(stage, step) ON st.stage = h.to_stage
			WHERE h.table_oid = tbl AND h.changed_at >= from_at AND h.changed_at < to_at
			ORDER BY h.customer_key, h.changed_at, h.id
		LOOP
			IF cur IS DISTINCT FROM r.k THEN
				cur := r.k;
				lvl := 0;
			END IF;
			IF r.s = lvl + 1 THEN
				lvl := lvl + 1;
				reached[lvl] := reached[lvl] + 1;
			END IF;
		END LOOP;
	ELSE
		SELECT array_agg(coalesce(c.cnt, 0) ORDER BY st.step) INTO reached
		FROM unnest(names) WITH ORDINALITY st(stage, step)
		LEFT JOIN (SELECT h.to_stage, count(DISTINCT h.customer_key) AS cnt
				   FROM @extschema@.stage_history h
				   WHERE h.table_oid = tbl AND h.changed_at >= from_at AND h.changed_at < to_at
				   GROUP BY h.to_stage) c ON c.to_stage = st.stage;
	END IF;
	RETURN QUERY
	SELECT st.step::integer, st.stage, reached[st.step],
		CASE WHEN st.step > 1 AND reached[st.step - 1] > 0
			THEN reached[st.step]::float8 / reached[st.step - 1] END,
		CASE WHEN reached[1] > 0 THEN reached[st.step]::float8 / reached[1] END
	FROM unnest(names) WITH ORDINALITY st(stage, step)
	ORDER BY st.step;
END
$$;
COMMENT ON FUNCTION @extschema@.stage_funnel(regclass, timestamptz, timestamptz, boolean, text[]) IS
'Funnel for changes in [from_at, to_at) over steps (default: the model''s stages in position order): customers reaching each step, step and cumulative conversion; strict = steps entered in order (skipping drops out), else any order';

CREATE VIEW @extschema@.time_in_stage AS
SELECT sp.model, sp.stage, s.position, s.terminal,
	count(sp.exited_at) AS completed_stays,
	count(*) FILTER (WHERE sp.exited_at IS NULL) AS open_stays,
	avg(sp.exited_at - sp.entered_at) AS mean_time,
	pg_catalog.justify_hours(pg_catalog.make_interval(secs => pg_catalog.percentile_cont(0.5) WITHIN GROUP
		(ORDER BY pg_catalog.date_part('epoch', sp.exited_at - sp.entered_at)))) AS median_time
FROM @extschema@.stage_spans sp
LEFT JOIN @extschema@.stage s ON s.model = sp.model AND s.stage = sp.stage
GROUP BY sp.model, sp.stage, s.position, s.terminal;
COMMENT ON VIEW @extschema@.time_in_stage IS
'Per model and stage over all tracked tables: completed stays, open stays, mean and median time in the stage (completed stays only; position NULL = stage no longer in the model)';
GRANT SELECT ON @extschema@.time_in_stage TO PUBLIC;

-- ordinary users call clm functions and read the views (writes stay restricted)
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

------------------------------------------------------------------------------
-- Behavioural analytics: clm.activity state, retention, lifecycle,
-- stickiness, churn rate
------------------------------------------------------------------------------

CREATE TYPE @extschema@.activity;

CREATE FUNCTION @extschema@.activity_in(cstring) RETURNS @extschema@.activity
AS 'MODULE_PATHNAME', 'clm_activity_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_in(cstring) IS
'Input function of clm.activity (hexadecimal digits of the binary form, validated)';

CREATE FUNCTION @extschema@.activity_out(@extschema@.activity) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_activity_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_out(@extschema@.activity) IS
'Output function of clm.activity (round-trips through activity_in)';

CREATE FUNCTION @extschema@.activity_recv(internal) RETURNS @extschema@.activity
AS 'MODULE_PATHNAME', 'clm_activity_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_recv(internal) IS
'Binary input function of clm.activity (validated)';

CREATE FUNCTION @extschema@.activity_send(@extschema@.activity) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_activity_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_send(@extschema@.activity) IS
'Binary output function of clm.activity';

CREATE TYPE @extschema@.activity (
	INPUT = @extschema@.activity_in,
	OUTPUT = @extschema@.activity_out,
	RECEIVE = @extschema@.activity_recv,
	SEND = @extschema@.activity_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE @extschema@.activity IS
'Mergeable activity state: per customer (exact key) the first or born period and the set of active periods, in one period unit and time zone';

CREATE FUNCTION @extschema@.activity_combine(@extschema@.activity, @extschema@.activity)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_combine(@extschema@.activity, @extschema@.activity) IS
'Combine function of clm.activity_agg and transition function of clm.activity_merge (union of two states, in place)';

CREATE AGGREGATE @extschema@.activity_merge(@extschema@.activity) (
	SFUNC = @extschema@.activity_combine,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_merge(@extschema@.activity) IS
'Union of clm.activity states (same period unit, key type and time zone); NULL states are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text) IS
'Transition function of clm.activity_agg(integer customer, event_at, period) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer integer, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(integer, timestamptz, text) IS
'Activity state of integer customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text) IS
'Transition function of clm.activity_agg(integer customer, event_at, period, zone text) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer integer, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(integer, timestamptz, text, text) IS
'Activity state of integer customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, integer, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(integer customer, event_at, period, zone text, born_at timestamptz) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer integer, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(integer, timestamptz, text, text, timestamptz) IS
'Activity state of integer customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text) IS
'Transition function of clm.activity_agg(bigint customer, event_at, period) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer bigint, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(bigint, timestamptz, text) IS
'Activity state of bigint customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text) IS
'Transition function of clm.activity_agg(bigint customer, event_at, period, zone text) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer bigint, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(bigint, timestamptz, text, text) IS
'Activity state of bigint customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, bigint, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(bigint customer, event_at, period, zone text, born_at timestamptz) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer bigint, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(bigint, timestamptz, text, text, timestamptz) IS
'Activity state of bigint customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text) IS
'Transition function of clm.activity_agg(text customer, event_at, period) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer text, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(text, timestamptz, text) IS
'Activity state of text customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text) IS
'Transition function of clm.activity_agg(text customer, event_at, period, zone text) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer text, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(text, timestamptz, text, text) IS
'Activity state of text customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, text, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(text customer, event_at, period, zone text, born_at timestamptz) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer text, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(text, timestamptz, text, text, timestamptz) IS
'Activity state of text customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text) IS
'Transition function of clm.activity_agg(uuid customer, event_at, period) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer uuid, event_at timestamptz, period text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(uuid, timestamptz, text) IS
'Activity state of uuid customers by period (hour, day, week, month, quarter, year) in the session time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text) IS
'Transition function of clm.activity_agg(uuid customer, event_at, period, zone text) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer uuid, event_at timestamptz, period text, zone text) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(uuid, timestamptz, text, text) IS
'Activity state of uuid customers by period (hour, day, week, month, quarter, year) in the given time zone; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text, timestamptz)
RETURNS @extschema@.activity AS 'MODULE_PATHNAME', 'clm_activity_accum' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_accum(@extschema@.activity, uuid, timestamptz, text, text, timestamptz) IS
'Transition function of clm.activity_agg(uuid customer, event_at, period, zone text, born_at timestamptz) (in place)';

CREATE AGGREGATE @extschema@.activity_agg(customer uuid, event_at timestamptz, period text, zone text, born_at timestamptz) (
	SFUNC = @extschema@.activity_accum,
	STYPE = @extschema@.activity,
	COMBINEFUNC = @extschema@.activity_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.activity_agg(uuid, timestamptz, text, text, timestamptz) IS
'Activity state of uuid customers by period (hour, day, week, month, quarter, year) in the given time zone; cohort period = born_at period when earlier than the first event; rows with a NULL customer or event_at are skipped';
CREATE FUNCTION @extschema@.activity_info(state @extschema@.activity,
	OUT period text, OUT time_zone text, OUT key_type text, OUT customers bigint,
	OUT first_period timestamptz, OUT last_period timestamptz, OUT last_event timestamptz, OUT bytes bigint)
RETURNS record AS 'MODULE_PATHNAME', 'clm_activity_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.activity_info(@extschema@.activity) IS
'Describes a clm.activity state: unit, zone, key type, customers, first cohort and last active period, last event time, size of the stored form in bytes';

CREATE FUNCTION @extschema@.retention(state @extschema@.activity, mode text DEFAULT 'on',
	cohort text DEFAULT 'first_time', ref text DEFAULT 'total', max_periods integer DEFAULT NULL)
RETURNS TABLE (cohort_start timestamptz, period_number integer, cohort_size bigint,
	retained bigint, rate double precision, complete boolean)
AS 'MODULE_PATHNAME', 'clm_retention' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 300;
COMMENT ON FUNCTION @extschema@.retention(@extschema@.activity, text, text, text, integer) IS
'Cohort retention table: mode on | on_or_after, cohort first_time | recurring, rate relative to the cohort size (total) or the previous period (previous); complete = the period ended before the last event';

CREATE FUNCTION @extschema@.lifecycle(state @extschema@.activity, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, status text, customers bigint, quick_ratio double precision)
AS 'MODULE_PATHNAME', 'clm_lifecycle' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION @extschema@.lifecycle(@extschema@.activity, timestamptz, timestamptz) IS
'Lifecycle per period (PostHog definitions): new, returning, resurrecting, dormant (positive counts), and the quick ratio (new + resurrecting) / dormant';

CREATE FUNCTION @extschema@.stickiness(state @extschema@.activity, window_periods integer, ending timestamptz DEFAULT NULL)
RETURNS TABLE (active_periods integer, customers bigint, customers_at_least bigint)
AS 'MODULE_PATHNAME', 'clm_stickiness' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 30;
COMMENT ON FUNCTION @extschema@.stickiness(@extschema@.activity, integer, timestamptz) IS
'Customers active in the window of window_periods periods ending with the period of ending (default: the last period), by number of active periods: exactly N and N or more';

CREATE FUNCTION @extschema@.churn_rate(state @extschema@.activity, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, active_previous bigint, churned bigint, retained bigint, churn_rate double precision)
AS 'MODULE_PATHNAME', 'clm_churn_rate' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 30;
COMMENT ON FUNCTION @extschema@.churn_rate(@extschema@.activity, timestamptz, timestamptz) IS
'Period-over-period churn: active in the previous period, churned (not active now), retained (active now), churn_rate = churned / active_previous';

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
COMMENT ON FUNCTION @extschema@.retention_of(regclass, name, name, text, text, text, text, integer, text) IS
'Retention table straight from a table: customer and event time column names (quoted safely), period, the clm.retention options, and a time zone (default: the session''s)';
