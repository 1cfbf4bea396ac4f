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
'Final function of clm.rfm_summary (NULL when there is no purchase up to as_of); may sort the period array in place, which leaves the state equivalent, so the aggregate also works as a window function';

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
COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz) IS
'Customer RFM summary with daily periods, recency and t in days; rows with NULLs are skipped, events after as_of left out';

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
COMMENT ON AGGREGATE @extschema@.rfm_summary(timestamptz, double precision, timestamptz, text) IS
'Customer RFM summary with the given period unit (hour, day, week, month, quarter, year), recency and t in that unit';

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
	IF model IS NULL OR summary IS NULL OR max_frequency IS NULL THEN
		RAISE EXCEPTION 'model, summary and max_frequency must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
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
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	-- open stays last until as_of; recorded times are before the year 10000
	-- (see clm.stage_changed_at), and so must as_of be for as_of - changed_at
	-- to fit (PostgreSQL 15 subtracts timestamps without an overflow check)
	IF $2 >= '10000-01-01 00:00:00+00'::timestamptz THEN
		RAISE EXCEPTION 'as_of must be before the year 10000'
			USING ERRCODE = '22008', DETAIL = format('Got %s.', $2);
	END IF;
	RETURN QUERY
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
	GROUP BY h.customer_key, h.to_stage;
END
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

------------------------------------------------------------------------------
-- Scoring pipeline: registered sources, the scores table, refresh, worker
------------------------------------------------------------------------------
-- Security model (see README "Scoring pipeline"): every table below has row
-- level security.  A source belongs to the role that registered it (owner);
-- that role (and roles that inherit it) may change the source, run its
-- refresh and write its rows; roles listed in readers (clm.grant_scores) may
-- read them.  Refresh always runs with the owner's rights (the background
-- worker switches to the owner), so registering a source never gives access to
-- a table the owner cannot read.  The only SECURITY DEFINER function is the
-- change-queue trigger function (audited below).

CREATE TABLE @extschema@.sources (
	name text PRIMARY KEY
		CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,47}$'),
	owner regrole NOT NULL DEFAULT current_user::regrole,
	readers regrole[] NOT NULL DEFAULT '{}',
	events regclass NOT NULL,
	customer_column name NOT NULL,
	time_column name NOT NULL,
	amount_column name NOT NULL,
	customer_type regtype NOT NULL,
	period text NOT NULL DEFAULT 'day',
	time_unit text NOT NULL DEFAULT 'week',
	time_zone text NOT NULL DEFAULT 'UTC',
	segment_map text NOT NULL DEFAULT 'rfm_5x5',
	model text NOT NULL DEFAULT 'bgnbd' CHECK (model IN ('bgnbd', 'pareto_nbd')),
	horizon_months integer NOT NULL DEFAULT 12 CHECK (horizon_months > 0),
	monthly_discount double precision NOT NULL DEFAULT 0.01
		CHECK (monthly_discount > -1 AND monthly_discount < 'Infinity'),
	new_within interval NOT NULL DEFAULT '30 days',
	at_risk_after interval NOT NULL DEFAULT '90 days',
	dormant_after interval NOT NULL DEFAULT '180 days',
	churned_after interval NOT NULL DEFAULT '365 days',
	at_risk_p_alive double precision NOT NULL DEFAULT 0.5 CHECK (at_risk_p_alive BETWEEN 0 AND 1),
	churned_p_alive double precision NOT NULL DEFAULT 0.1 CHECK (churned_p_alive BETWEEN 0 AND 1),
	min_fit_customers integer NOT NULL DEFAULT 100 CHECK (min_fit_customers > 0),
	stage_model text,
	tracked_table regclass,
	tracked_key_column name,
	tracked_stage_column name,
	incremental boolean NOT NULL DEFAULT true,
	refresh_interval interval NOT NULL DEFAULT '5 minutes' CHECK (refresh_interval > '0'),
	full_refresh_interval interval NOT NULL DEFAULT '1 day' CHECK (full_refresh_interval > '0'),
	scores_view regclass,
	registered_at timestamptz NOT NULL DEFAULT now(),
	CHECK (new_within >= '0' AND at_risk_after > '0' AND dormant_after > at_risk_after
	       AND churned_after > dormant_after),
	CHECK ((tracked_table IS NULL) = (tracked_key_column IS NULL)
	       AND (tracked_table IS NULL) = (tracked_stage_column IS NULL))
);
COMMENT ON TABLE @extschema@.sources IS
'Registered event sources (clm.register): one row per scored events table, owned by the registering role; kept by pg_dump';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sources', '');

CREATE TABLE @extschema@.segment_map (
	map text NOT NULL,
	r_score smallint NOT NULL CHECK (r_score BETWEEN 1 AND 5),
	f_score smallint NOT NULL CHECK (f_score BETWEEN 1 AND 5),
	segment text NOT NULL,
	shipped boolean NOT NULL DEFAULT false,
	PRIMARY KEY (map, r_score, f_score)
);
COMMENT ON TABLE @extschema@.segment_map IS
'RFM segment maps: the segment name of each (R, F) score cell; map rfm_5x5 is shipped read-only, copy it with clm.copy_segment_map to edit; user maps are kept by pg_dump';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_map', 'WHERE NOT shipped');

INSERT INTO @extschema@.segment_map (map, r_score, f_score, segment, shipped)
SELECT 'rfm_5x5', r, f,
	CASE
		WHEN r = 5 AND f >= 4 THEN 'Champions'
		WHEN r IN (3, 4) AND f >= 4 THEN 'Loyal'
		WHEN r >= 4 AND f IN (2, 3) THEN 'Potential Loyalists'
		WHEN r = 5 AND f = 1 THEN 'New Customers'
		WHEN r = 4 AND f = 1 THEN 'Promising'
		WHEN r = 3 AND f = 3 THEN 'Need Attention'
		WHEN r = 3 AND f <= 2 THEN 'About to Sleep'
		WHEN r <= 2 AND f IN (3, 4) THEN 'At Risk'
		WHEN r <= 2 AND f = 5 THEN 'Can''t Lose Them'
		WHEN r <= 2 AND f <= 2 THEN 'Hibernating'
	END, true
FROM generate_series(1, 5) r, generate_series(1, 5) f;

CREATE FUNCTION @extschema@.segment_map_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF TG_OP <> 'INSERT' AND OLD.shipped THEN
		RAISE EXCEPTION 'segment map "%" is shipped with clm and cannot be changed', OLD.map
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Copy it with SELECT clm.copy_segment_map(%L, ''my_map'') and edit the copy.', OLD.map);
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	IF NEW.shipped THEN
		RAISE EXCEPTION 'only clm itself ships segment maps'
			USING ERRCODE = 'insufficient_privilege', HINT = 'Leave the shipped column false.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.segment_map_guard() IS
'Trigger of clm.segment_map: the shipped map cannot be changed (copy it instead)';
CREATE TRIGGER segment_map_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.segment_map
FOR EACH ROW EXECUTE FUNCTION @extschema@.segment_map_guard();

CREATE FUNCTION @extschema@.copy_segment_map(from_map text, to_map text) RETURNS integer
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
	WITH ins AS (
		INSERT INTO @extschema@.segment_map (map, r_score, f_score, segment)
		SELECT to_map, r_score, f_score, segment FROM @extschema@.segment_map WHERE map = from_map
		RETURNING 1)
	SELECT count(*)::integer FROM ins
$$;
COMMENT ON FUNCTION @extschema@.copy_segment_map(text, text) IS
'Copies a segment map under a new name (to edit it); returns the number of cells copied';

-- fitted model parameters and RFM score breakpoints, one version per full refresh
CREATE TABLE @extschema@.score_versions (
	source text NOT NULL REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	version bigint NOT NULL,
	created_at timestamptz NOT NULL,
	as_of timestamptz NOT NULL,
	customers bigint NOT NULL,
	r_breaks double precision[] NOT NULL,
	f_breaks double precision[] NOT NULL,
	m_breaks double precision[] NOT NULL,
	model text NOT NULL,
	model_params jsonb,
	spend_params jsonb,
	fit_diagnostics jsonb,
	PRIMARY KEY (source, version)
);
COMMENT ON TABLE @extschema@.score_versions IS
'One row per full refresh of a source: RFM quintile breakpoints (score k starts at breaks[k-1]) and the fitted model parameters with their diagnostics';

CREATE TABLE @extschema@.scores (
	source text NOT NULL REFERENCES @extschema@.sources (name) ON DELETE CASCADE ON UPDATE CASCADE,
	customer_key text NOT NULL,
	frequency integer NOT NULL,
	recency double precision NOT NULL,
	t double precision NOT NULL,
	monetary double precision NOT NULL,
	total double precision NOT NULL,
	first_at timestamptz NOT NULL,
	last_at timestamptz NOT NULL,
	r_score smallint NOT NULL,
	f_score smallint NOT NULL,
	m_score smallint NOT NULL,
	segment text,
	p_alive double precision,
	expected_purchases double precision,
	clv double precision,
	churn_risk double precision,
	stage text NOT NULL,
	stage_since timestamptz NOT NULL,
	version bigint NOT NULL,
	scored_at timestamptz NOT NULL,
	run_id bigint NOT NULL,
	PRIMARY KEY (source, customer_key)
);
CREATE INDEX scores_segment ON @extschema@.scores (source, segment);
CREATE INDEX scores_stage ON @extschema@.scores (source, stage);
COMMENT ON TABLE @extschema@.scores IS
'Customer scores kept fresh by clm.refresh and the background worker: RFM summary, R/F/M quintile scores, segment, model scores and behavioural stage';

CREATE TABLE @extschema@.refresh_runs (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	source text NOT NULL,
	started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at timestamptz,
	mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
	rows bigint NOT NULL DEFAULT 0,
	status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'error')),
	error text,
	as_of timestamptz,
	version bigint,
	by_worker boolean NOT NULL DEFAULT false,
	stages_skipped bigint NOT NULL DEFAULT 0
);
CREATE INDEX refresh_runs_source ON @extschema@.refresh_runs (source, started_at);
COMMENT ON TABLE @extschema@.refresh_runs IS
'Log of every refresh (manual or by the worker): running, ok or error, customers scored, stage moves left out of the tracked table because its stage model forbids them; purged after clm.run_retention';

-- changed customers, filled by statement triggers on the events tables
CREATE TABLE @extschema@.refresh_queue (
	source text NOT NULL,
	customer_key text,			-- NULL: the table was truncated, rescore everyone
	queued_at timestamptz NOT NULL DEFAULT statement_timestamp()
);
CREATE INDEX refresh_queue_source ON @extschema@.refresh_queue (source, customer_key);
COMMENT ON TABLE @extschema@.refresh_queue IS
'Customers with changed events since their last scoring (written by the events triggers; consumed by incremental refresh). No unique key on purpose: see README';

-- customer summaries of a full refresh, consumed batch by batch
CREATE UNLOGGED TABLE @extschema@.refresh_stage (
	run_id bigint NOT NULL,
	source text NOT NULL,
	batch integer NOT NULL,
	customer_key text NOT NULL,
	s @extschema@.rfm NOT NULL
);
CREATE INDEX refresh_stage_batch ON @extschema@.refresh_stage (run_id, batch);
COMMENT ON TABLE @extschema@.refresh_stage IS
'Work table of full refreshes: customer summaries waiting to be scored in batches';

-- row level security: owners write, owners and readers read
ALTER TABLE @extschema@.sources ENABLE ROW LEVEL SECURITY;
CREATE POLICY sources_read ON @extschema@.sources FOR SELECT
	USING (pg_catalog.pg_has_role(owner, 'USAGE')
	       OR EXISTS (SELECT 1 FROM pg_catalog.unnest(readers) r WHERE pg_catalog.pg_has_role(r, 'USAGE')));
CREATE POLICY sources_insert ON @extschema@.sources FOR INSERT
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY sources_update ON @extschema@.sources FOR UPDATE
	USING (pg_catalog.pg_has_role(owner, 'USAGE')) WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY sources_delete ON @extschema@.sources FOR DELETE
	USING (pg_catalog.pg_has_role(owner, 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.sources TO PUBLIC;

ALTER TABLE @extschema@.scores ENABLE ROW LEVEL SECURITY;
CREATE POLICY scores_read ON @extschema@.scores FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));
CREATE POLICY scores_write ON @extschema@.scores FOR ALL
	USING (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')))
	WITH CHECK (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')));
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.scores TO PUBLIC;

ALTER TABLE @extschema@.score_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY score_versions_read ON @extschema@.score_versions FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));
CREATE POLICY score_versions_write ON @extschema@.score_versions FOR ALL
	USING (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')))
	WITH CHECK (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')));
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.score_versions TO PUBLIC;

ALTER TABLE @extschema@.refresh_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY refresh_runs_read ON @extschema@.refresh_runs FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));
CREATE POLICY refresh_runs_write ON @extschema@.refresh_runs FOR ALL
	USING (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')))
	WITH CHECK (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')));
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.refresh_runs TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.refresh_runs_id_seq TO PUBLIC;

ALTER TABLE @extschema@.refresh_stage ENABLE ROW LEVEL SECURITY;
CREATE POLICY refresh_stage_owner ON @extschema@.refresh_stage FOR ALL
	USING (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')))
	WITH CHECK (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')));
GRANT SELECT, INSERT, DELETE ON @extschema@.refresh_stage TO PUBLIC;

-- the queue is written only by the SECURITY DEFINER trigger function below
ALTER TABLE @extschema@.refresh_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY refresh_queue_owner ON @extschema@.refresh_queue FOR ALL
	USING (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')))
	WITH CHECK (source IN (SELECT name FROM @extschema@.sources WHERE pg_catalog.pg_has_role(owner, 'USAGE')));
GRANT SELECT, DELETE ON @extschema@.refresh_queue TO PUBLIC;
GRANT SELECT ON @extschema@.segment_map TO PUBLIC;
-- non-superusers register, refresh and read their own sources
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

/*
 * Audited SECURITY DEFINER: the statement triggers that register() puts on an
 * events table run as whoever writes that table, who need not be allowed to
 * see the source.  The function only ever inserts (source, customer key) rows
 * into clm.refresh_queue for a registered source, and only when it fires on
 * that source's own events table: the customer column is read from
 * clm.sources (the trigger's second argument is ignored) and must still be
 * bigint, integer, text or uuid, so no user-defined type, cast or operator
 * (which would run with the definer's rights) is ever evaluated.  Keys come
 * from the statement's own transition table; the column name is quoted with
 * %I.  A trigger function cannot be called directly, and a hand-made trigger
 * on another table does nothing.
 */
CREATE FUNCTION @extschema@.queue_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	src text := TG_ARGV[0];
	col name;
	typ oid;
BEGIN
	SELECT s.customer_column INTO col
	FROM @extschema@.sources s WHERE s.name = src AND s.events = TG_RELID;
	IF NOT FOUND THEN
		RETURN NULL;			-- not this table's source: the owner may drop the trigger
	END IF;
	SELECT a.atttypid INTO typ FROM pg_catalog.pg_attribute a
	WHERE a.attrelid = TG_RELID AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF typ IS NULL OR typ NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
		RAISE EXCEPTION 'customer column "%" of source "%" is no longer bigint, integer, text or uuid', col, src
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Unregister the source and register it again.';
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		INSERT INTO @extschema@.refresh_queue (source, customer_key) VALUES (src, NULL);
	ELSIF TG_OP = 'INSERT' THEN
		EXECUTE format('INSERT INTO @extschema@.refresh_queue (source, customer_key)
			SELECT $1, k::text FROM (SELECT DISTINCT %1$I AS k FROM clm_new_rows) n WHERE k IS NOT NULL', col)
		USING src;
	ELSIF TG_OP = 'DELETE' THEN
		EXECUTE format('INSERT INTO @extschema@.refresh_queue (source, customer_key)
			SELECT $1, k::text FROM (SELECT DISTINCT %1$I AS k FROM clm_old_rows) o WHERE k IS NOT NULL', col)
		USING src;
	ELSE
		EXECUTE format('INSERT INTO @extschema@.refresh_queue (source, customer_key)
			SELECT $1, k::text FROM (SELECT %1$I AS k FROM clm_new_rows UNION SELECT %1$I FROM clm_old_rows) u
			WHERE k IS NOT NULL', col)
		USING src;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.queue_changes() IS
'Statement trigger put on a registered events table: queues the customers whose events changed (SECURITY DEFINER, audited: inserts queue rows only)';

-- rank-based quintile score of a value given the breakpoints of its population
CREATE FUNCTION @extschema@.quintile_score(value double precision, breaks double precision[])
RETURNS smallint AS 'MODULE_PATHNAME', 'clm_quintile_score' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quintile_score(double precision, double precision[]) IS
'Score 1 + number of breakpoints <= value (breakpoints from clm.quintile_breaks; NULL breakpoints are never reached)';

CREATE FUNCTION @extschema@.quintile_breaks(sorted_values double precision[])
RETURNS double precision[] AS 'MODULE_PATHNAME', 'clm_quintile_breaks' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.quintile_breaks(double precision[]) IS
'Breakpoints of rank-based quintile scores of a population given sorted ascending: element k-1 is the smallest value with at least ceil((k-1) n / 5) smaller values (NULL if none), k = 2..5; equal values share a score';

-- behavioural stage rules (documented in README; thresholds per source)
CREATE FUNCTION @extschema@.behavioral_stage(
	first_at timestamptz, last_at timestamptz, as_of timestamptz, p_alive double precision,
	new_within interval, at_risk_after interval, dormant_after interval, churned_after interval,
	at_risk_p_alive double precision, churned_p_alive double precision)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN as_of - last_at > churned_after OR p_alive < churned_p_alive THEN 'churned'
		WHEN as_of - last_at > dormant_after THEN 'dormant'
		WHEN as_of - last_at > at_risk_after OR p_alive < at_risk_p_alive THEN 'at_risk'
		WHEN as_of - first_at <= new_within THEN 'new'
		ELSE 'active'
	END
$$;
COMMENT ON FUNCTION @extschema@.behavioral_stage(timestamptz, timestamptz, timestamptz, double precision, interval, interval, interval, interval, double precision, double precision) IS
'Stage from the scores alone: churned, dormant, at_risk, new or active (first matching rule; P(alive) rules apply only when it is known)';

CREATE FUNCTION @extschema@.next_stage(stage text, previous text, previous_since timestamptz,
	as_of timestamptz, new_within interval)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN stage IN ('active', 'new') AND previous IN ('dormant', 'churned') THEN 'reactivated'
		WHEN stage IN ('active', 'new') AND previous = 'reactivated'
			 AND as_of - previous_since <= new_within THEN 'reactivated'
		ELSE stage
	END
$$;
COMMENT ON FUNCTION @extschema@.next_stage(text, text, timestamptz, timestamptz, interval) IS
'Stage given the previous one: a customer buying again after dormant or churned is reactivated for new_within, then active';

-- advisory lock key of a source: (7105901 = 'clm' as an int, hash of the name)
CREATE FUNCTION @extschema@.source_lock_key(source text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT pg_catalog.hashtext(source) & 2147483647
$$;
COMMENT ON FUNCTION @extschema@.source_lock_key(text) IS
'Second key of the advisory lock (7105901, key) that serialises the refreshes of a source';

CREATE FUNCTION @extschema@.register(
	name text, events regclass, customer_column name, time_column name, amount_column name,
	period text DEFAULT 'day', time_unit text DEFAULT 'week', time_zone text DEFAULT 'UTC',
	segment_map text DEFAULT 'rfm_5x5', model text DEFAULT 'bgnbd',
	horizon_months integer DEFAULT 12, monthly_discount double precision DEFAULT 0.01,
	stage_model text DEFAULT NULL, tracked_table regclass DEFAULT NULL,
	tracked_key_column name DEFAULT NULL, tracked_stage_column name DEFAULT NULL,
	refresh_interval interval DEFAULT '5 minutes', full_refresh_interval interval DEFAULT '1 day',
	incremental boolean DEFAULT true, scores_view text DEFAULT NULL)
RETURNS @extschema@.sources
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	rel text;
	relkind "char";
	col name;
	typ regtype;
	ctype regtype;
	ktype regtype;
	vname text;
	view_oid regclass;
BEGIN
	IF name IS NULL OR events IS NULL OR customer_column IS NULL OR time_column IS NULL
	   OR amount_column IS NULL THEN
		RAISE EXCEPTION 'name, events and the three column names must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_]{0,47}$' THEN
		RAISE EXCEPTION 'invalid source name "%"', name USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A source name is a letter or underscore followed by up to 47 letters, digits or underscores.';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.sources s WHERE s.name = register.name) THEN
		RAISE EXCEPTION 'source "%" is already registered', name USING ERRCODE = 'duplicate_object',
			HINT = 'Call clm.unregister first, or choose another name.';
	END IF;
	SELECT c.relkind INTO relkind FROM pg_class c WHERE c.oid = events;
	rel := events::text;
	IF relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
		RAISE EXCEPTION '"%" is not a table or view', rel USING ERRCODE = 'wrong_object_type';
	END IF;
	-- columns, types and the caller's privilege to read them
	FOREACH col IN ARRAY ARRAY[customer_column, time_column, amount_column] LOOP
		SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
		WHERE a.attrelid = events AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
		IF typ IS NULL THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist', col, rel
				USING ERRCODE = 'undefined_column';
		END IF;
		IF NOT has_column_privilege(events, col, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied to read column "%" of "%"', col, rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = format('Role %s has no SELECT privilege on it; the source is refreshed with the rights of the role that registers it.', current_user);
		END IF;
		IF col = customer_column THEN
			ctype := typ;
			IF typ NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
				RAISE EXCEPTION 'customer column "%" has type %', col, typ USING ERRCODE = 'datatype_mismatch',
					DETAIL = 'Customer keys must be bigint, integer, text or uuid.';
			END IF;
		ELSIF col = time_column THEN
			IF typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
				RAISE EXCEPTION 'time column "%" has type %', col, typ USING ERRCODE = 'datatype_mismatch',
					DETAIL = 'The event time must be timestamptz, timestamp or date.';
			END IF;
		ELSIF typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
						  'real'::regtype, 'double precision'::regtype) THEN
			RAISE EXCEPTION 'amount column "%" has type %', col, typ USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'The amount must be a number (smallint, integer, bigint, numeric, real or double precision).';
		END IF;
	END LOOP;
	-- options: the period names and the time zone are checked by the code that uses them
	IF period IS NULL OR time_unit IS NULL OR time_zone IS NULL OR segment_map IS NULL OR model IS NULL
	   OR horizon_months IS NULL OR monthly_discount IS NULL OR refresh_interval IS NULL
	   OR full_refresh_interval IS NULL OR incremental IS NULL THEN
		RAISE EXCEPTION 'options must not be NULL (only stage_model, tracked_* and scores_view may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM @extschema@.rfm_summary(now(), 0, now(), period, time_unit);
	PERFORM now() AT TIME ZONE time_zone;
	IF NOT EXISTS (SELECT 1 FROM @extschema@.segment_map m WHERE m.map = segment_map) THEN
		RAISE EXCEPTION 'segment map "%" does not exist', segment_map USING ERRCODE = 'undefined_object',
			HINT = 'The shipped map is rfm_5x5; see clm.segment_map.';
	END IF;
	IF model NOT IN ('bgnbd', 'pareto_nbd') THEN
		RAISE EXCEPTION 'unknown model "%"', model USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use bgnbd or pareto_nbd.';
	END IF;
	IF horizon_months <= 0 THEN
		RAISE EXCEPTION 'horizon_months must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (monthly_discount > -1 AND monthly_discount < 'Infinity') THEN
		RAISE EXCEPTION 'monthly_discount must be finite and greater than -1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF refresh_interval <= '0' OR full_refresh_interval <= '0' THEN
		RAISE EXCEPTION 'refresh intervals must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF stage_model IS DISTINCT FROM 'behavioral' AND stage_model IS NOT NULL THEN
		RAISE EXCEPTION 'unknown stage model "%"', stage_model USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Scores produce the stages of the behavioral model (new, active, at_risk, dormant, churned, reactivated).';
	END IF;
	IF (tracked_table IS NULL) <> (tracked_key_column IS NULL) OR (tracked_table IS NULL) <> (tracked_stage_column IS NULL) THEN
		RAISE EXCEPTION 'tracked_table, tracked_key_column and tracked_stage_column go together'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF tracked_table IS NOT NULL THEN
		SELECT a.atttypid::regtype INTO ktype FROM pg_attribute a
		WHERE a.attrelid = tracked_table AND a.attname = tracked_key_column AND a.attnum > 0 AND NOT a.attisdropped;
		SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
		WHERE a.attrelid = tracked_table AND a.attname = tracked_stage_column AND a.attnum > 0 AND NOT a.attisdropped;
		IF ktype IS NULL OR typ IS NULL THEN
			RAISE EXCEPTION 'column "%" of relation "%" does not exist',
				CASE WHEN ktype IS NULL THEN tracked_key_column ELSE tracked_stage_column END, tracked_table
				USING ERRCODE = 'undefined_column';
		END IF;
		IF ktype NOT IN ('bigint'::regtype, 'integer'::regtype, 'text'::regtype, 'uuid'::regtype) THEN
			RAISE EXCEPTION 'tracked key column "%" has type %', tracked_key_column, ktype
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'Customer keys must be bigint, integer, text or uuid.';
		END IF;
		IF typ NOT IN ('text'::regtype, 'character varying'::regtype) THEN
			RAISE EXCEPTION 'tracked stage column "%" has type %', tracked_stage_column, typ
				USING ERRCODE = 'datatype_mismatch', DETAIL = 'The stage column must be text or varchar.';
		END IF;
		IF NOT has_column_privilege(tracked_table, tracked_key_column, 'SELECT')
		   OR NOT has_column_privilege(tracked_table, tracked_stage_column, 'UPDATE') THEN
			RAISE EXCEPTION 'permission denied to update "%" of "%"', tracked_stage_column, tracked_table
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		stage_model := coalesce(stage_model, 'behavioral');
	END IF;
	IF incremental THEN
		IF relkind NOT IN ('r', 'p') THEN
			RAISE EXCEPTION 'incremental refresh needs a table, "%" is not one', rel
				USING ERRCODE = 'wrong_object_type', HINT = 'Pass incremental => false to rescore everyone on every run.';
		END IF;
		IF NOT has_table_privilege(events, 'TRIGGER') THEN
			RAISE EXCEPTION 'permission denied to create triggers on "%"', rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'Incremental refresh tracks changed customers with statement triggers on the events table.',
					  HINT = 'Have the table owner grant TRIGGER, or pass incremental => false.';
		END IF;
	END IF;

	INSERT INTO @extschema@.sources AS s (name, events, customer_column, time_column, amount_column,
		customer_type, period, time_unit, time_zone, segment_map, model, horizon_months,
		monthly_discount, stage_model, tracked_table, tracked_key_column, tracked_stage_column,
		incremental, refresh_interval, full_refresh_interval)
	VALUES (name, events, customer_column, time_column, amount_column, ctype,
		lower(period), lower(time_unit), time_zone, segment_map, model, horizon_months,
		monthly_discount, stage_model, tracked_table, tracked_key_column, tracked_stage_column,
		incremental, refresh_interval, full_refresh_interval)
	RETURNING * INTO src;

	IF incremental THEN
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS clm_new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_insert', rel, name, customer_column);
		EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS clm_old_rows NEW TABLE AS clm_new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_update', rel, name, customer_column);
		EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS clm_old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_delete', rel, name, customer_column);
		EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.queue_changes(%L, %L)',
			'clm_' || name || '_truncate', rel, name, customer_column);
	END IF;

	IF incremental AND NOT EXISTS (
			SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
			WHERE i.indrelid = events AND a.attname = customer_column) THEN
		RAISE NOTICE 'no index on "%" of "%"', customer_column, rel
			USING HINT = 'Incremental refreshes read the events of the changed customers; create an index on the customer column.';
	END IF;
	IF scores_view IS NOT NULL THEN
		-- created with the caller's rights, where the caller chooses; security_invoker
		-- so that the row level security of clm.scores applies to whoever queries it
		-- scores_view is a name, never SQL: parse it (22023 if it is not a
		-- valid, possibly qualified, identifier) and quote each part again
		SELECT string_agg(quote_ident(x.part), '.' ORDER BY x.i) INTO vname
		FROM unnest(parse_ident(scores_view)) WITH ORDINALITY x(part, i);
		EXECUTE format('CREATE VIEW %s WITH (security_invoker = true) AS
			SELECT s.customer_key::%s AS %I, s.frequency, s.recency, s.t, s.monetary, s.total,
			       s.first_at, s.last_at, s.r_score, s.f_score, s.m_score, s.segment, s.p_alive,
			       s.expected_purchases, s.clv, s.churn_risk, s.stage, s.stage_since, s.version, s.scored_at
			FROM @extschema@.scores s WHERE s.source = %L', vname, ctype, customer_column, name);
		view_oid := to_regclass(vname);
		UPDATE @extschema@.sources s SET scores_view = view_oid WHERE s.name = register.name
		RETURNING * INTO src;
	END IF;
	RETURN src;
END
$fn$;
COMMENT ON FUNCTION @extschema@.register(text, regclass, name, name, name, text, text, text, text, text, integer, double precision, text, regclass, name, name, interval, interval, boolean, text) IS
'Registers an events table (customer, time, amount columns) as a scored source owned by the calling role; validates every argument';

CREATE FUNCTION @extschema@.unregister(name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	op text;
BEGIN
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = unregister.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', name USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_has_role(src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a member of role % to unregister source "%"', src.owner, name
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- wait for a running refresh of the source to end
	PERFORM pg_advisory_xact_lock(7105901, @extschema@.source_lock_key(name));
	IF src.scores_view IS NOT NULL AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.scores_view) THEN
		EXECUTE format('DROP VIEW %s', src.scores_view);
	END IF;
	IF src.incremental AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.events) THEN
		FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
			BEGIN
				EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'clm_' || name || '_' || op, src.events);
			EXCEPTION WHEN insufficient_privilege THEN
				RAISE WARNING 'trigger "%" left on "%"', 'clm_' || name || '_' || op, src.events
					USING DETAIL = 'Only the owner of the table can drop it; it does nothing for an unregistered source.';
			END;
		END LOOP;
	END IF;
	DELETE FROM @extschema@.refresh_queue q WHERE q.source = name;
	DELETE FROM @extschema@.refresh_stage q WHERE q.source = name;
	DELETE FROM @extschema@.refresh_runs r WHERE r.source = name;
	DELETE FROM @extschema@.sources s WHERE s.name = unregister.name;	-- cascades to scores and versions
	RETURN true;
END
$fn$;
COMMENT ON FUNCTION @extschema@.unregister(text) IS
'Removes a source: its triggers (when the caller may), its view, scores, versions, queue and run log';

CREATE FUNCTION @extschema@.grant_scores(name text, reader regrole) RETURNS regrole[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r regrole[];
BEGIN
	UPDATE @extschema@.sources s SET readers = (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(s.readers || reader) x)
	WHERE s.name = grant_scores.name AND pg_has_role(s.owner, 'USAGE')
	RETURNING s.readers INTO r;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist or is not yours', name USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN r;
END
$fn$;
COMMENT ON FUNCTION @extschema@.grant_scores(text, regrole) IS
'Lets a role (and its members) read the scores, runs and settings of a source you own';

CREATE FUNCTION @extschema@.revoke_scores(name text, reader regrole) RETURNS regrole[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r regrole[];
BEGIN
	UPDATE @extschema@.sources s SET readers = array_remove(s.readers, reader)
	WHERE s.name = revoke_scores.name AND pg_has_role(s.owner, 'USAGE')
	RETURNING s.readers INTO r;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist or is not yours', name USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN r;
END
$fn$;
COMMENT ON FUNCTION @extschema@.revoke_scores(text, regrole) IS
'Takes back the read access given by clm.grant_scores';

/*
 * Refresh, in steps so that the worker can commit between them:
 *   refresh_start    takes the source's advisory lock, picks the mode, logs the run
 *   refresh_prepare  full: summarises every customer into clm.refresh_stage in one
 *                    scan (and empties the queue in the same snapshot), computes the
 *                    quintile breakpoints and stores them as a new version
 *   refresh_step     scores one batch (full: one staged batch; incremental: up to
 *                    clm.batch_size queued customers); returns 0 when nothing is left
 *   refresh_finish   full: removes customers without events; marks the run ok;
 *                    purges old runs; releases a session lock
 * clm.refresh() runs them all in the caller's transaction.  They run with the
 * caller's rights (the worker switches to the source's owner first).
 */
CREATE FUNCTION @extschema@.refresh_start(name text, want_full boolean, by_worker boolean,
	as_of timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	src @extschema@.sources;
	run bigint;
	mode text := 'incremental';
	last_version timestamptz;
BEGIN
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = refresh_start.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', name USING ERRCODE = 'undefined_object';
	END IF;
	IF as_of IS NOT NULL AND NOT want_full THEN
		RAISE EXCEPTION 'as_of needs a full refresh' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Scoring a few customers at another time than the others would mix two points in time; pass full => true.';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite' USING ERRCODE = 'datetime_field_overflow';
	END IF;
	IF NOT pg_has_role(src.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a member of role % to refresh source "%"', src.owner, name
			USING ERRCODE = 'insufficient_privilege', HINT = 'Readers of a source can read its scores, not refresh it.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.events) THEN
		RAISE EXCEPTION 'the events table of source "%" (OID %) no longer exists', name, src.events::oid
			USING ERRCODE = 'undefined_table', HINT = 'Unregister the source, or register it again.';
	END IF;
	IF src.tracked_table IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = src.tracked_table) THEN
		RAISE EXCEPTION 'the tracked customer table of source "%" (OID %) no longer exists', name, src.tracked_table::oid
			USING ERRCODE = 'undefined_table',
				  HINT = 'Set tracked_table, tracked_key_column and tracked_stage_column of the source to NULL, or register it again.';
	END IF;
	-- the tracked columns are kept by name: after a rename the refresh would
	-- paste an unknown type into its SQL (a syntax error, 42601)
	IF src.tracked_table IS NOT NULL AND
	   (SELECT count(*) FROM pg_attribute a
		WHERE a.attrelid = src.tracked_table AND a.attnum > 0 AND NOT a.attisdropped
		  AND a.attname IN (src.tracked_key_column, src.tracked_stage_column)) < 2 THEN
		RAISE EXCEPTION 'column "%" or "%" of the tracked customer table "%" of source "%" does not exist',
			src.tracked_key_column, src.tracked_stage_column, src.tracked_table, name
			USING ERRCODE = 'undefined_column',
				  HINT = 'If a column was renamed, set tracked_key_column and tracked_stage_column of the source in clm.sources to the new names.';
	END IF;
	IF by_worker THEN
		-- the worker holds the lock across its transactions; skip a busy source
		IF NOT pg_try_advisory_lock(7105901, @extschema@.source_lock_key(name)) THEN
			RETURN NULL;
		END IF;
	ELSE
		PERFORM pg_advisory_xact_lock(7105901, @extschema@.source_lock_key(name));
	END IF;
	-- with the lock held, runs still marked running were interrupted
	UPDATE @extschema@.refresh_runs r SET status = 'error', finished_at = clock_timestamp(),
		error = 'interrupted: the process running it ended before it finished'
	WHERE r.source = name AND r.status = 'running';
	DELETE FROM @extschema@.refresh_stage st WHERE st.source = name;

	SELECT max(v.created_at) INTO last_version FROM @extschema@.score_versions v WHERE v.source = name;
	IF want_full OR NOT src.incremental OR last_version IS NULL
	   OR last_version <= now() - src.full_refresh_interval
	   OR EXISTS (SELECT 1 FROM @extschema@.refresh_queue q WHERE q.source = name AND q.customer_key IS NULL)
	   -- a full run that failed half-way left customers scored with two versions
	   OR (SELECT l.mode = 'full' AND l.status = 'error' FROM @extschema@.refresh_runs l
		   WHERE l.source = name ORDER BY l.id DESC LIMIT 1) THEN
		mode := 'full';
	END IF;
	INSERT INTO @extschema@.refresh_runs (source, mode, as_of, by_worker, version)
	VALUES (name, mode, coalesce(as_of, now()), by_worker,
			(SELECT max(v.version) FROM @extschema@.score_versions v WHERE v.source = name))
	RETURNING id INTO run;
	RETURN run;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_start(text, boolean, boolean, timestamptz) IS
'First step of a refresh: lock the source, choose full or incremental, log the run (used by clm.refresh and the worker)';

CREATE FUNCTION @extschema@.refresh_summaries(run_id bigint)
RETURNS TABLE (customer_key text, s @extschema@.rfm)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	src @extschema@.sources;
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT * INTO src FROM @extschema@.sources x WHERE x.name = r.source;
	RETURN QUERY EXECUTE format($q$
		SELECT k::text, s
		FROM (SELECT e.%1$I AS k, @extschema@.rfm_summary(e.%2$I::timestamptz, e.%3$I::double precision, $1, %4$L, %5$L) AS s
			  FROM %6$s e WHERE e.%1$I IS NOT NULL GROUP BY e.%1$I) q
		WHERE (s).last_at IS NOT NULL$q$,
		src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit, src.events)
	USING r.as_of;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_summaries(bigint) IS
'The customer summaries of a running full refresh (one scan of the events, parallel when the planner chooses; used by clm.refresh_prepare)';

-- the fits' convergence WARNINGs go to the server log only: whether a fit is
-- used is recorded in clm.score_versions (model_params, fit_diagnostics)
CREATE FUNCTION @extschema@.refresh_prepare(run_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET client_min_messages = error AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	src @extschema@.sources;
	n bigint;
	v bigint;
	bs integer := greatest(coalesce(current_setting('clm.batch_size', true)::integer, 10000), 1);
	mp jsonb;
	sp jsonb;
	diag jsonb := '{}';
	t0 timestamptz;
	t1 timestamptz;
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF r.mode <> 'full' THEN
		RETURN 0;
	END IF;
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = r.source;
	PERFORM set_config('TimeZone', src.time_zone, true);
	-- one scan of the events, by clm.refresh_summaries so that it may run in
	-- parallel (PostgreSQL 15 plans INSERT ... SELECT serially, but not the
	-- query of a RETURN QUERY).  The queue rows deleted here are those visible
	-- to this statement's snapshot; the summary query's snapshot is the same
	-- or later, so it covers every change they stand for (a change it sees
	-- but whose queue row stays is merely rescored again next time)
	EXECUTE $q$
		WITH dq AS (DELETE FROM @extschema@.refresh_queue q WHERE q.source = $1)
		INSERT INTO @extschema@.refresh_stage (run_id, source, batch, customer_key, s)
		SELECT $2, $1, ((row_number() OVER ()) - 1) / $3, f.customer_key, f.s
		FROM @extschema@.refresh_summaries($2) f$q$
	USING src.name, run_id, bs;
	GET DIAGNOSTICS n = ROW_COUNT;
	SELECT coalesce(max(x.version), 0) + 1 INTO v FROM @extschema@.score_versions x WHERE x.source = src.name;
	-- fit the purchase model on every customer's (frequency, recency, t) and
	-- Gamma-Gamma on the repeat customers with positive spend; a fit that
	-- fails leaves the model scores NULL and says why in fit_diagnostics
	t0 := clock_timestamp();
	BEGIN
		IF src.model = 'bgnbd' THEN
			SELECT to_jsonb(@extschema@.bgnbd_fit((st.s).frequency, (st.s).recency, (st.s).t)) INTO mp
			FROM @extschema@.refresh_stage st WHERE st.run_id = refresh_prepare.run_id;
		ELSE
			SELECT to_jsonb(@extschema@.pareto_nbd_fit((st.s).frequency, (st.s).recency, (st.s).t)) INTO mp
			FROM @extschema@.refresh_stage st WHERE st.run_id = refresh_prepare.run_id;
		END IF;
	EXCEPTION WHEN OTHERS THEN
		diag := diag || jsonb_build_object('model_error', SQLSTATE || ': ' || SQLERRM);
	END;
	t1 := clock_timestamp();
	BEGIN
		SELECT to_jsonb(@extschema@.gamma_gamma_fit((st.s).frequency, (st.s).monetary)) INTO sp
		FROM @extschema@.refresh_stage st
		WHERE st.run_id = refresh_prepare.run_id AND (st.s).frequency > 0 AND (st.s).monetary > 0;
	EXCEPTION WHEN OTHERS THEN
		diag := diag || jsonb_build_object('spend_error', SQLSTATE || ': ' || SQLERRM);
	END;
	diag := diag || jsonb_build_object(
		'model_fit_seconds', round(extract(epoch FROM t1 - t0)::numeric, 3),
		'spend_fit_seconds', round(extract(epoch FROM clock_timestamp() - t1)::numeric, 3),
		'model_used', coalesce((mp->>'converged')::boolean AND (mp->>'n')::float8 >= src.min_fit_customers, false),
		'spend_used', coalesce((sp->>'converged')::boolean AND (sp->>'q')::float8 > 1
							   AND (sp->>'n')::float8 >= src.min_fit_customers, false));
	INSERT INTO @extschema@.score_versions (source, version, created_at, as_of, customers,
		r_breaks, f_breaks, m_breaks, model, model_params, spend_params, fit_diagnostics)
	SELECT src.name, v, clock_timestamp(), r.as_of, n,
		coalesce(@extschema@.quintile_breaks(array_agg(extract(epoch FROM (st.s).last_at)::double precision ORDER BY (st.s).last_at)), '{NULL,NULL,NULL,NULL}'),
		coalesce(@extschema@.quintile_breaks(array_agg((st.s).periods::double precision ORDER BY (st.s).periods)), '{NULL,NULL,NULL,NULL}'),
		coalesce(@extschema@.quintile_breaks(array_agg((st.s).total ORDER BY (st.s).total)), '{NULL,NULL,NULL,NULL}'),
		src.model, mp, sp, diag
	FROM @extschema@.refresh_stage st WHERE st.run_id = refresh_prepare.run_id;
	UPDATE @extschema@.refresh_runs x SET version = v WHERE x.id = run_id;
	RETURN n;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_prepare(bigint) IS
'Second step of a full refresh: summarise every customer in one scan, fit the purchase and spend models, store them with the quintile breakpoints as a new version';

CREATE FUNCTION @extschema@.refresh_step(run_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	src @extschema@.sources;
	ver @extschema@.score_versions;
	bs integer := greatest(coalesce(current_setting('clm.batch_size', true)::integer, 10000), 1);
	batch_sql text;
	upsert_sql text;
	track_sql text := '';
	handled bigint;
	scored bigint;
	use_model boolean;
	use_spend boolean;
	model_param text;
	horizon double precision;
	count_sql text := ' SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM gone), (SELECT count(*) FROM up), 0';
	skipped bigint;
	bg @extschema@.bgnbd;
	pn @extschema@.pareto_nbd;
	gg @extschema@.gamma_gamma;
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT * INTO src FROM @extschema@.sources s WHERE s.name = r.source;
	SELECT * INTO ver FROM @extschema@.score_versions v WHERE v.source = r.source AND v.version = r.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" has no score version', r.source USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM set_config('TimeZone', src.time_zone, true);
	IF r.mode = 'full' THEN
		batch_sql := $q$
		WITH b AS (SELECT min(st.batch) AS b FROM @extschema@.refresh_stage st WHERE st.run_id = $2),
		k AS (DELETE FROM @extschema@.refresh_stage st USING b
			  WHERE st.run_id = $2 AND st.batch = b.b RETURNING st.customer_key, st.s),
		s AS (SELECT k.customer_key, k.s FROM k),
		gone AS (SELECT NULL::text AS customer_key WHERE false)$q$;
	ELSE
		-- the batch's queue rows and events are read in one snapshot: a change
		-- committed later has its own queue row, left for the next run
		batch_sql := format($q$
		WITH k AS (SELECT DISTINCT q.customer_key FROM @extschema@.refresh_queue q
				   WHERE q.source = $1 AND q.customer_key IS NOT NULL ORDER BY 1 LIMIT %7$s),
		dq AS (DELETE FROM @extschema@.refresh_queue q USING k
			   WHERE q.source = $1 AND q.customer_key = k.customer_key),
		s AS (SELECT e.%1$I::text AS customer_key,
					 @extschema@.rfm_summary(e.%2$I::timestamptz, e.%3$I::double precision, $3, %4$L, %5$L) AS s
			  FROM %6$s e WHERE e.%1$I = ANY (ARRAY(SELECT k.customer_key FROM k)::%8$s[])
			  GROUP BY e.%1$I),
		gone AS (DELETE FROM @extschema@.scores sc USING k
				 WHERE sc.source = $1 AND sc.customer_key = k.customer_key
				   AND NOT EXISTS (SELECT 1 FROM s WHERE s.customer_key = k.customer_key AND (s.s).last_at IS NOT NULL)
				 RETURNING sc.customer_key)$q$,
			src.customer_column, src.time_column, src.amount_column, src.period, src.time_unit,
			src.events, bs, src.customer_type);
	END IF;
	-- model scores from the version's fits (NULL when a fit is not usable)
	use_model := coalesce((ver.fit_diagnostics->>'model_used')::boolean, false);
	use_spend := use_model AND coalesce((ver.fit_diagnostics->>'spend_used')::boolean, false);
	IF src.model = 'bgnbd' THEN
		model_param := '$15';
		bg := jsonb_populate_record(NULL::@extschema@.bgnbd, ver.model_params);
	ELSE
		model_param := '$23';
		pn := jsonb_populate_record(NULL::@extschema@.pareto_nbd, ver.model_params);
	END IF;
	gg := jsonb_populate_record(NULL::@extschema@.gamma_gamma, ver.spend_params);
	horizon := src.horizon_months * CASE src.time_unit
		WHEN 'hour' THEN 30.436875 * 24 WHEN 'day' THEN 30.436875 WHEN 'week' THEN 30.436875 / 7
		WHEN 'month' THEN 1 WHEN 'quarter' THEN 1.0 / 3 ELSE 1.0 / 12 END;
	upsert_sql := format($q$,
		i0 AS (SELECT s.customer_key, (s.s).frequency, (s.s).recency, (s.s).t, (s.s).monetary, (s.s).total,
					  (s.s).first_at, (s.s).last_at, (s.s).periods,
					  CASE WHEN $16 THEN @extschema@.p_alive(%1$s,
							(s.s).frequency, (s.s).recency, (s.s).t) END AS p_alive,
					  CASE WHEN $16 THEN @extschema@.expected_purchases(%1$s, $19,
							(s.s).frequency, (s.s).recency, (s.s).t) END AS expected_purchases,
					  CASE WHEN $18 THEN @extschema@.clv(%1$s, $17,
							(s.s).frequency, (s.s).recency, (s.s).t, (s.s).monetary, $20, $21, $22) END AS clv
			   FROM s WHERE (s.s).last_at IS NOT NULL),$q$, model_param) || $q$
		i AS (SELECT i0.customer_key, i0.frequency, i0.recency, i0.t, i0.monetary, i0.total,
					 i0.first_at, i0.last_at, i0.p_alive, i0.expected_purchases, i0.clv,
					 @extschema@.quintile_score(extract(epoch FROM i0.last_at)::double precision, $5) AS r_score,
					 @extschema@.quintile_score(i0.periods, $6) AS f_score,
					 @extschema@.quintile_score(i0.total, $7) AS m_score
			  FROM i0),

		up AS (INSERT INTO @extschema@.scores AS sc (source, customer_key, frequency, recency, t, monetary,
					total, first_at, last_at, r_score, f_score, m_score, segment, p_alive,
					expected_purchases, clv, churn_risk, stage, stage_since, version, scored_at, run_id)
			SELECT $1, i.customer_key, i.frequency, i.recency, i.t, i.monetary, i.total, i.first_at,
				   i.last_at, i.r_score, i.f_score, i.m_score, m.segment, i.p_alive, i.expected_purchases, i.clv,
				   1 - i.p_alive,
				   @extschema@.behavioral_stage(i.first_at, i.last_at, $3, i.p_alive, $9, $10, $11, $12, $13, $14),
				   $3, $4, $3, $2
			FROM i LEFT JOIN @extschema@.segment_map m
				ON m.map = $8 AND m.r_score = i.r_score AND m.f_score = i.f_score
			ON CONFLICT (source, customer_key) DO UPDATE SET
				frequency = EXCLUDED.frequency, recency = EXCLUDED.recency, t = EXCLUDED.t,
				monetary = EXCLUDED.monetary, total = EXCLUDED.total, first_at = EXCLUDED.first_at,
				last_at = EXCLUDED.last_at, r_score = EXCLUDED.r_score, f_score = EXCLUDED.f_score,
				m_score = EXCLUDED.m_score, segment = EXCLUDED.segment, p_alive = EXCLUDED.p_alive,
				expected_purchases = EXCLUDED.expected_purchases, clv = EXCLUDED.clv,
				churn_risk = EXCLUDED.churn_risk,
				stage = @extschema@.next_stage(EXCLUDED.stage, sc.stage, sc.stage_since, $3, $9),
				stage_since = CASE WHEN @extschema@.next_stage(EXCLUDED.stage, sc.stage, sc.stage_since, $3, $9)
										= sc.stage THEN sc.stage_since ELSE $3 END,
				version = EXCLUDED.version, scored_at = EXCLUDED.scored_at, run_id = EXCLUDED.run_id
			RETURNING sc.customer_key, sc.stage)$q$;
	IF src.tracked_table IS NOT NULL THEN
		-- write the stage into the user's customer table; when clm.track() tracks
		-- it, its trigger records the history, and moves its model forbids (the
		-- same rules as the trigger's) are left out and counted, not raised
		track_sql := format($q$,
		tm AS (SELECT t.model, m.policy FROM @extschema@.tracked_table t
			   JOIN @extschema@.stage_model m ON m.model = t.model WHERE t.table_oid = %5$s::oid),
		st AS (SELECT x.stage, x.position, x.position = min(x.position) OVER () AS first
			   FROM @extschema@.stage x JOIN tm ON x.model = tm.model),
		mv AS (SELECT c.ctid AS row_id, up.stage,
					  NOT EXISTS (SELECT 1 FROM tm)
					  OR (up.stage IN (SELECT st.stage FROM st)
						  AND ((c.%3$I IS NOT NULL AND c.%3$I NOT IN (SELECT st.stage FROM st))
							   OR (SELECT tm.policy FROM tm) = 'any'
							   OR ((SELECT tm.policy FROM tm) = 'forward_only'
								   AND (c.%3$I IS NULL OR (SELECT st.position FROM st WHERE st.stage = up.stage)
														 >= (SELECT st.position FROM st WHERE st.stage = c.%3$I)))
							   OR ((SELECT tm.policy FROM tm) = 'graph'
								   AND ((c.%3$I IS NULL AND (SELECT st.first FROM st WHERE st.stage = up.stage))
										OR EXISTS (SELECT 1 FROM @extschema@.stage_transition e, tm
												   WHERE e.model = tm.model AND e.from_stage IS NOT DISTINCT FROM c.%3$I
													 AND e.to_stage = up.stage))))) AS allowed
			   FROM up JOIN %1$s c ON c.%2$I = up.customer_key::%4$s
			   WHERE c.%3$I IS DISTINCT FROM up.stage),
		tr AS (UPDATE %1$s c SET %3$I = mv.stage FROM mv WHERE c.ctid = mv.row_id AND mv.allowed)$q$,
			src.tracked_table, src.tracked_key_column, src.tracked_stage_column,
			(SELECT a.atttypid::regtype FROM pg_attribute a
			 WHERE a.attrelid = src.tracked_table AND a.attname = src.tracked_key_column),
			src.tracked_table::oid);
		count_sql := ' SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM gone), (SELECT count(*) FROM up),
			(SELECT count(*) FROM mv WHERE NOT mv.allowed)';
	END IF;
	EXECUTE batch_sql || upsert_sql || track_sql || count_sql
	INTO handled, scored, skipped
	USING src.name, run_id, r.as_of, ver.version, ver.r_breaks, ver.f_breaks, ver.m_breaks,
		  src.segment_map, src.new_within, src.at_risk_after, src.dormant_after, src.churned_after,
		  src.at_risk_p_alive, src.churned_p_alive, bg, use_model, gg, use_spend,
		  horizon, src.horizon_months, src.monthly_discount, src.time_unit, pn;
	UPDATE @extschema@.refresh_runs x SET rows = x.rows + scored, stages_skipped = x.stages_skipped + skipped
	WHERE x.id = run_id;
	RETURN handled;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_step(bigint) IS
'Scores one batch of a refresh run; returns the number of customers handled (0: nothing left)';

CREATE FUNCTION @extschema@.refresh_finish(run_id bigint) RETURNS @extschema@.refresh_runs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	r @extschema@.refresh_runs;
	keep interval := coalesce(current_setting('clm.run_retention', true)::interval, '7 days');
BEGIN
	SELECT * INTO r FROM @extschema@.refresh_runs x WHERE x.id = run_id AND x.status = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'refresh run % is not running', run_id USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF r.mode = 'full' THEN
		-- customers without events any more (all of them were scored by this run)
		DELETE FROM @extschema@.scores sc WHERE sc.source = r.source AND sc.run_id <> r.id;
		DELETE FROM @extschema@.score_versions v
		WHERE v.source = r.source AND v.version < r.version AND v.created_at < now() - keep;
	END IF;
	UPDATE @extschema@.refresh_runs x SET status = 'ok', finished_at = clock_timestamp()
	WHERE x.id = run_id RETURNING * INTO r;
	DELETE FROM @extschema@.refresh_runs x
	WHERE x.source = r.source AND x.finished_at < now() - keep AND x.id <> r.id;
	IF r.by_worker THEN
		PERFORM pg_advisory_unlock(7105901, @extschema@.source_lock_key(r.source));
	END IF;
	RETURN r;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_finish(bigint) IS
'Last step of a refresh: drop customers without events (full), mark the run ok, purge runs older than clm.run_retention';

CREATE FUNCTION @extschema@.refresh(name text, full boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.refresh_runs
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	run bigint;
BEGIN
	IF $1 IS NULL OR $2 IS NULL THEN
		RAISE EXCEPTION 'name and full must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	run := @extschema@.refresh_start($1, $2, false, $3);
	PERFORM @extschema@.refresh_prepare(run);
	WHILE @extschema@.refresh_step(run) > 0 LOOP
	END LOOP;
	RETURN NEXT @extschema@.refresh_finish(run);
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh(text, boolean, timestamptz) IS
'Refreshes the scores of a source now, in the caller''s transaction (waits for a running refresh of the same source); as_of (full refresh only) scores as of a past time; returns its run';

CREATE FUNCTION @extschema@.refresh_failed(run_id bigint, name text, message text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	id bigint;
	worker boolean;
BEGIN
	UPDATE @extschema@.refresh_runs x SET status = 'error', error = message, finished_at = clock_timestamp()
	WHERE x.id = run_id AND x.status = 'running' RETURNING x.id, x.by_worker INTO id, worker;
	IF id IS NULL THEN
		INSERT INTO @extschema@.refresh_runs (source, mode, status, error, finished_at, by_worker)
		VALUES (name, 'incremental', 'error', message, clock_timestamp(), true) RETURNING refresh_runs.id INTO id;
	END IF;
	DELETE FROM @extschema@.refresh_stage st WHERE st.source = name;
	-- the worker's session-level lock (a manual run's lock ends with its transaction)
	IF coalesce(worker, true) AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory'
			   AND l.classid = 7105901::oid AND l.objid = @extschema@.source_lock_key(name)::oid
			   AND l.objsubid = 2) THEN
		PERFORM pg_advisory_unlock(7105901, @extschema@.source_lock_key(name));
	END IF;
	RETURN id;
END
$fn$;
COMMENT ON FUNCTION @extschema@.refresh_failed(bigint, text, text) IS
'Used by the worker after a failed refresh step (in a new transaction): logs the error in clm.refresh_runs and releases the source';

-- next_run arithmetic: a source's intervals (and its run log, which its owner
-- may write) are the user's, so a sum beyond the timestamp range must not
-- fail clm.worker_status() for every source (the worker lists the due ones
-- with it): such a time is 'infinity', i.e. never due.  PARALLEL UNSAFE: the
-- exception block is a subtransaction, which parallel mode does not allow
CREATE FUNCTION @extschema@.time_after(t timestamptz, span interval, times double precision DEFAULT 1)
RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	IF times = 'NaN'::float8 THEN
		RAISE EXCEPTION 'times must not be NaN' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN t + span * times;
EXCEPTION WHEN datetime_field_overflow THEN
	-- past either end of the range, in the direction of span * times
	RETURN CASE WHEN (span < interval '0') <> (times < 0) THEN '-infinity' ELSE 'infinity' END;
END
$fn$;
COMMENT ON FUNCTION @extschema@.time_after(timestamptz, interval, double precision) IS
't + span * times, or infinity (-infinity for a backward step) when that is beyond the timestamp or interval range (used for clm.worker_status().next_run)';

CREATE FUNCTION @extschema@.worker_status()
RETURNS TABLE (source text, owner regrole, running boolean, last_run timestamptz, last_mode text,
			   last_status text, last_rows bigint, last_error text, consecutive_errors integer,
			   last_ok timestamptz, scores_as_of timestamptz, next_run timestamptz,
			   pending_customers bigint, lag interval)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
	SELECT s.name, s.owner,
		EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
				AND l.classid = 7105901::oid AND l.objid = @extschema@.source_lock_key(s.name)::oid
				AND l.objsubid = 2),
		last.started_at, last.mode, last.status, last.rows, err.error, coalesce(err.n, 0)::integer,
		ok.finished_at, ok.as_of,
		CASE
			WHEN last.id IS NULL THEN s.registered_at
			-- a source whose table was dropped is due (its run fails and is logged)
			WHEN last.status = 'ok' AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.events)
				THEN @extschema@.time_after(last.started_at, s.refresh_interval)
			WHEN last.status = 'error' THEN
				least(@extschema@.time_after(last.finished_at, s.refresh_interval,
											 power(2, least(coalesce(err.n, 1), 20) - 1)),
					  @extschema@.time_after(last.finished_at, greatest(s.refresh_interval, interval '1 hour')))
			ELSE least(@extschema@.time_after(coalesce(full_ok.started_at, s.registered_at), s.full_refresh_interval),
					   CASE WHEN q.n > 0 OR NOT s.incremental
						   THEN @extschema@.time_after(last.started_at, s.refresh_interval) END)
		END,
		coalesce(q.n, 0), now() - q.oldest
	FROM @extschema@.sources s
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status <> 'running'
					   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) last ON true
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status = 'ok'
					   ORDER BY r.started_at DESC, r.id DESC LIMIT 1) ok ON true
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status = 'ok'
					   AND r.mode = 'full' ORDER BY r.started_at DESC, r.id DESC LIMIT 1) full_ok ON true
	LEFT JOIN LATERAL (SELECT count(*) AS n, (array_agg(r.error ORDER BY r.started_at DESC, r.id DESC))[1] AS error
					   FROM @extschema@.refresh_runs r WHERE r.source = s.name AND r.status = 'error'
					   AND r.started_at > coalesce(ok.started_at, '-infinity')) err ON err.n > 0
	LEFT JOIN LATERAL (SELECT count(DISTINCT coalesce(qq.customer_key, '')) AS n, min(qq.queued_at) AS oldest
					   FROM @extschema@.refresh_queue qq WHERE qq.source = s.name) q ON true
$fn$;
COMMENT ON FUNCTION @extschema@.worker_status() IS
'Per source: whether a refresh runs now, the last run and error, consecutive errors, next run due (with backoff after errors), queued customers and the age of the oldest queued change';

-- CLV models: the log-likelihood and its analytic gradient (a diagnostic)
CREATE FUNCTION @extschema@.clv_loglik_gradient(state @extschema@.clv_state, params double precision[])
RETURNS TABLE (parameter text, value double precision, loglik double precision, gradient double precision)
AS 'MODULE_PATHNAME', 'clm_clv_loglik_gradient' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION @extschema@.clv_loglik_gradient(@extschema@.clv_state, double precision[]) IS
'Log-likelihood of a CLV fit state''s model at the given parameters (in the model type''s field order) and its analytic gradient, one row per parameter: the function the fits maximise, unpenalised, in the data''s time unit';
