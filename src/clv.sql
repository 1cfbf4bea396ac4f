/*
 * src/clv.sql: probabilistic CLV models: BG/NBD, modified BG/NBD, Pareto/NBD, BG/BB, Gamma-Gamma (fits, scoring, log-likelihood gradient)
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.clv_state;

CREATE TYPE @extschema@.bgnbd AS (
	r double precision, alpha double precision, a double precision, b double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	r_se double precision, alpha_se double precision, a_se double precision, b_se double precision,
	patterns integer
);

CREATE TYPE @extschema@.mbgnbd AS (
	r double precision, alpha double precision, a double precision, b double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	r_se double precision, alpha_se double precision, a_se double precision, b_se double precision,
	patterns integer
);

CREATE TYPE @extschema@.pareto_nbd AS (
	r double precision, alpha double precision, s double precision, beta double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	r_se double precision, alpha_se double precision, s_se double precision, beta_se double precision,
	patterns integer
);

CREATE TYPE @extschema@.bgbb AS (
	alpha double precision, beta double precision, gamma double precision, delta double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	alpha_se double precision, beta_se double precision, gamma_se double precision, delta_se double precision,
	patterns integer
);

CREATE TYPE @extschema@.gamma_gamma AS (
	p double precision, q double precision, v double precision,
	loglik double precision, n double precision, iterations integer, converged boolean,
	p_se double precision, q_se double precision, v_se double precision,
	patterns integer
);

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

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.clv_combine(@extschema@.clv_state, @extschema@.clv_state)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_clv_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgnbd_final(@extschema@.clv_state) RETURNS @extschema@.bgnbd
AS 'MODULE_PATHNAME', 'clm_bgnbd_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.mbgnbd_final(@extschema@.clv_state) RETURNS @extschema@.mbgnbd
AS 'MODULE_PATHNAME', 'clm_mbgnbd_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.pareto_nbd_final(@extschema@.clv_state) RETURNS @extschema@.pareto_nbd
AS 'MODULE_PATHNAME', 'clm_pareto_nbd_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgbb_final(@extschema@.clv_state) RETURNS @extschema@.bgbb
AS 'MODULE_PATHNAME', 'clm_bgbb_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.gamma_gamma_final(@extschema@.clv_state) RETURNS @extschema@.gamma_gamma
AS 'MODULE_PATHNAME', 'clm_gamma_gamma_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_bgnbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_bgnbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_bgnbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.mbgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_mbgnbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.mbgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_mbgnbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.mbgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_mbgnbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.pareto_nbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_pareto_nbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.pareto_nbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_pareto_nbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.pareto_nbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_pareto_nbd_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgbb_accum(@extschema@.clv_state, frequency double precision, recency double precision, n_periods double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_bgbb_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgbb_accum(@extschema@.clv_state, frequency double precision, recency double precision, n_periods double precision, weight double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_bgbb_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.bgbb_accum(@extschema@.clv_state, frequency double precision, recency double precision, n_periods double precision, weight double precision, penalizer double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_bgbb_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.gamma_gamma_accum(@extschema@.clv_state, frequency double precision, monetary double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_gamma_gamma_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.gamma_gamma_accum(@extschema@.clv_state, frequency double precision, monetary double precision, weight double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_gamma_gamma_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.gamma_gamma_accum(@extschema@.clv_state, frequency double precision, monetary double precision, weight double precision, penalizer double precision)
RETURNS @extschema@.clv_state AS 'MODULE_PATHNAME', 'clm_gamma_gamma_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.bgnbd_fit(frequency double precision, recency double precision, t double precision) (
	SFUNC = @extschema@.bgnbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.bgnbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.bgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision) (
	SFUNC = @extschema@.bgnbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.bgnbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.bgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) (
	SFUNC = @extschema@.bgnbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.bgnbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.mbgnbd_fit(frequency double precision, recency double precision, t double precision) (
	SFUNC = @extschema@.mbgnbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.mbgnbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.mbgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision) (
	SFUNC = @extschema@.mbgnbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.mbgnbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.mbgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) (
	SFUNC = @extschema@.mbgnbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.mbgnbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.pareto_nbd_fit(frequency double precision, recency double precision, t double precision) (
	SFUNC = @extschema@.pareto_nbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.pareto_nbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.pareto_nbd_fit(frequency double precision, recency double precision, t double precision, weight double precision) (
	SFUNC = @extschema@.pareto_nbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.pareto_nbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.pareto_nbd_fit(frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) (
	SFUNC = @extschema@.pareto_nbd_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.pareto_nbd_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.bgbb_fit(frequency double precision, recency double precision, n_periods double precision) (
	SFUNC = @extschema@.bgbb_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.bgbb_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.bgbb_fit(frequency double precision, recency double precision, n_periods double precision, weight double precision) (
	SFUNC = @extschema@.bgbb_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.bgbb_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.bgbb_fit(frequency double precision, recency double precision, n_periods double precision, weight double precision, penalizer double precision) (
	SFUNC = @extschema@.bgbb_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.bgbb_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.gamma_gamma_fit(frequency double precision, monetary double precision) (
	SFUNC = @extschema@.gamma_gamma_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.gamma_gamma_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.gamma_gamma_fit(frequency double precision, monetary double precision, weight double precision) (
	SFUNC = @extschema@.gamma_gamma_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.gamma_gamma_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.gamma_gamma_fit(frequency double precision, monetary double precision, weight double precision, penalizer double precision) (
	SFUNC = @extschema@.gamma_gamma_accum, STYPE = @extschema@.clv_state,
	FINALFUNC = @extschema@.gamma_gamma_final, COMBINEFUNC = @extschema@.clv_combine,
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.p_alive(model @extschema@.bgnbd, frequency double precision, recency double precision, t double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgnbd_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.bgnbd, horizon double precision, frequency double precision, recency double precision, t double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.bgnbd, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgnbd_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.probability_of_purchases(model @extschema@.bgnbd, n integer, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgnbd_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.clv(model @extschema@.bgnbd, spend @extschema@.gamma_gamma, frequency double precision, recency double precision, t double precision, monetary double precision, months integer DEFAULT 12, monthly_discount double precision DEFAULT 0.01, time_unit text DEFAULT 'week')
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgnbd_clv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.p_alive(model @extschema@.mbgnbd, frequency double precision, recency double precision, t double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_mbgnbd_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.mbgnbd, horizon double precision, frequency double precision, recency double precision, t double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_mbgnbd_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.mbgnbd, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_mbgnbd_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.probability_of_purchases(model @extschema@.mbgnbd, n integer, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_mbgnbd_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.clv(model @extschema@.mbgnbd, spend @extschema@.gamma_gamma, frequency double precision, recency double precision, t double precision, monetary double precision, months integer DEFAULT 12, monthly_discount double precision DEFAULT 0.01, time_unit text DEFAULT 'week')
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_mbgnbd_clv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.p_alive(model @extschema@.pareto_nbd, frequency double precision, recency double precision, t double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_pareto_nbd_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.pareto_nbd, horizon double precision, frequency double precision, recency double precision, t double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_pareto_nbd_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.pareto_nbd, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_pareto_nbd_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.probability_of_purchases(model @extschema@.pareto_nbd, n integer, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_pareto_nbd_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.clv(model @extschema@.pareto_nbd, spend @extschema@.gamma_gamma, frequency double precision, recency double precision, t double precision, monetary double precision, months integer DEFAULT 12, monthly_discount double precision DEFAULT 0.01, time_unit text DEFAULT 'week')
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_pareto_nbd_clv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.p_alive(model @extschema@.bgbb, frequency double precision, recency double precision, n_periods double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgbb_p_alive' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.bgbb, horizon double precision, frequency double precision, recency double precision, n_periods double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgbb_expected_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_purchases(model @extschema@.bgbb, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgbb_expected_purchases_new' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.probability_of_purchases(model @extschema@.bgbb, n integer, horizon double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_bgbb_probability_of_purchases' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.expected_spend(model @extschema@.gamma_gamma, frequency double precision, monetary double precision)
RETURNS double precision AS 'MODULE_PATHNAME', 'clm_gamma_gamma_expected_spend' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- CLV models: the log-likelihood and its analytic gradient (a diagnostic)
CREATE FUNCTION @extschema@.clv_loglik_gradient(state @extschema@.clv_state, params double precision[])
RETURNS TABLE (parameter text, value double precision, loglik double precision, gradient double precision)
AS 'MODULE_PATHNAME', 'clm_clv_loglik_gradient' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON TYPE @extschema@.clv_state IS
'Transition state of the CLV model fits: distinct customer patterns (frequency, recency, t or monetary) with their total weight; text form kind;penalizer;rows;x,tx,T,w;...';

COMMENT ON FUNCTION @extschema@.clv_state_in(cstring) IS 'I/O';

COMMENT ON FUNCTION @extschema@.clv_state_out(@extschema@.clv_state) IS 'I/O';

COMMENT ON FUNCTION @extschema@.clv_state_recv(internal) IS 'I/O';

COMMENT ON FUNCTION @extschema@.clv_state_send(@extschema@.clv_state) IS 'I/O';

COMMENT ON TYPE @extschema@.bgnbd IS
'BG/NBD model (Fader, Hardie & Lee 2005): purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b); loglik in the data''s time unit, n = customers (total weight), standard errors from the observed information';

COMMENT ON TYPE @extschema@.mbgnbd IS
'Modified BG/NBD model (Batislam, Denizel & Filiztekin 2007): as BG/NBD but customers may also drop out right after the first purchase';

COMMENT ON TYPE @extschema@.pareto_nbd IS
'Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): purchase rate ~ Gamma(r, alpha), dropout rate ~ Gamma(s, beta)';

COMMENT ON TYPE @extschema@.bgbb IS
'BG/BB model (Fader, Hardie & Shang 2010) for discrete opportunities: transaction probability ~ Beta(alpha, beta), dropout probability ~ Beta(gamma, delta)';

COMMENT ON TYPE @extschema@.gamma_gamma IS
'Gamma-Gamma spend model (Fader, Hardie & Lee 2005): transaction value ~ Gamma(p, nu), nu ~ Gamma(q, v); fitted on repeat customers';

COMMENT ON FUNCTION @extschema@.clv_combine(@extschema@.clv_state, @extschema@.clv_state) IS
'Combine function of the CLV model fits (merges customer patterns)';

COMMENT ON FUNCTION @extschema@.bgnbd_final(@extschema@.clv_state) IS 'Final function of clm.bgnbd_fit (maximum likelihood); also fits a stored state of the same model';

COMMENT ON FUNCTION @extschema@.mbgnbd_final(@extschema@.clv_state) IS 'Final function of clm.mbgnbd_fit (maximum likelihood); also fits a stored state of the same model';

COMMENT ON FUNCTION @extschema@.pareto_nbd_final(@extschema@.clv_state) IS 'Final function of clm.pareto_nbd_fit (maximum likelihood); also fits a stored state of the same model';

COMMENT ON FUNCTION @extschema@.bgbb_final(@extschema@.clv_state) IS 'Final function of clm.bgbb_fit (maximum likelihood); also fits a stored state of the same model';

COMMENT ON FUNCTION @extschema@.gamma_gamma_final(@extschema@.clv_state) IS 'Final function of clm.gamma_gamma_fit (maximum likelihood); also fits a stored state of the same model';

COMMENT ON FUNCTION @extschema@.bgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision) IS 'Transition function of clm.bgnbd_fit';

COMMENT ON AGGREGATE @extschema@.bgnbd_fit(frequency double precision, recency double precision, t double precision) IS 'Maximum-likelihood fit of the BG/NBD model; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.bgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision) IS 'Transition function of clm.bgnbd_fit';

COMMENT ON AGGREGATE @extschema@.bgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision) IS 'Maximum-likelihood fit of the BG/NBD model with customer weights; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.bgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) IS 'Transition function of clm.bgnbd_fit';

COMMENT ON AGGREGATE @extschema@.bgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) IS 'Maximum-likelihood fit of the BG/NBD model with customer weights and an L2 penalty penalizer * sum(parameter^2) on the mean log-likelihood; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.mbgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision) IS 'Transition function of clm.mbgnbd_fit';

COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(frequency double precision, recency double precision, t double precision) IS 'Maximum-likelihood fit of the modified BG/NBD model; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.mbgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision) IS 'Transition function of clm.mbgnbd_fit';

COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision) IS 'Maximum-likelihood fit of the modified BG/NBD model with customer weights; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.mbgnbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) IS 'Transition function of clm.mbgnbd_fit';

COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) IS 'Maximum-likelihood fit of the modified BG/NBD model with customer weights and an L2 penalty penalizer * sum(parameter^2) on the mean log-likelihood; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.pareto_nbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision) IS 'Transition function of clm.pareto_nbd_fit';

COMMENT ON AGGREGATE @extschema@.pareto_nbd_fit(frequency double precision, recency double precision, t double precision) IS 'Maximum-likelihood fit of the Pareto/NBD model; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.pareto_nbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision) IS 'Transition function of clm.pareto_nbd_fit';

COMMENT ON AGGREGATE @extschema@.pareto_nbd_fit(frequency double precision, recency double precision, t double precision, weight double precision) IS 'Maximum-likelihood fit of the Pareto/NBD model with customer weights; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.pareto_nbd_accum(@extschema@.clv_state, frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) IS 'Transition function of clm.pareto_nbd_fit';

COMMENT ON AGGREGATE @extschema@.pareto_nbd_fit(frequency double precision, recency double precision, t double precision, weight double precision, penalizer double precision) IS 'Maximum-likelihood fit of the Pareto/NBD model with customer weights and an L2 penalty penalizer * sum(parameter^2) on the mean log-likelihood; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.bgbb_accum(@extschema@.clv_state, frequency double precision, recency double precision, n_periods double precision) IS 'Transition function of clm.bgbb_fit';

COMMENT ON AGGREGATE @extschema@.bgbb_fit(frequency double precision, recency double precision, n_periods double precision) IS 'Maximum-likelihood fit of the BG/BB model; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.bgbb_accum(@extschema@.clv_state, frequency double precision, recency double precision, n_periods double precision, weight double precision) IS 'Transition function of clm.bgbb_fit';

COMMENT ON AGGREGATE @extschema@.bgbb_fit(frequency double precision, recency double precision, n_periods double precision, weight double precision) IS 'Maximum-likelihood fit of the BG/BB model with customer weights; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.bgbb_accum(@extschema@.clv_state, frequency double precision, recency double precision, n_periods double precision, weight double precision, penalizer double precision) IS 'Transition function of clm.bgbb_fit';

COMMENT ON AGGREGATE @extschema@.bgbb_fit(frequency double precision, recency double precision, n_periods double precision, weight double precision, penalizer double precision) IS 'Maximum-likelihood fit of the BG/BB model with customer weights and an L2 penalty penalizer * sum(parameter^2) on the mean log-likelihood; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.gamma_gamma_accum(@extschema@.clv_state, frequency double precision, monetary double precision) IS 'Transition function of clm.gamma_gamma_fit';

COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(frequency double precision, monetary double precision) IS 'Maximum-likelihood fit of the Gamma-Gamma model; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.gamma_gamma_accum(@extschema@.clv_state, frequency double precision, monetary double precision, weight double precision) IS 'Transition function of clm.gamma_gamma_fit';

COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(frequency double precision, monetary double precision, weight double precision) IS 'Maximum-likelihood fit of the Gamma-Gamma model with customer weights; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.gamma_gamma_accum(@extschema@.clv_state, frequency double precision, monetary double precision, weight double precision, penalizer double precision) IS 'Transition function of clm.gamma_gamma_fit';

COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(frequency double precision, monetary double precision, weight double precision, penalizer double precision) IS 'Maximum-likelihood fit of the Gamma-Gamma model with customer weights and an L2 penalty penalizer * sum(parameter^2) on the mean log-likelihood; NULL rows skipped, NULL when there is no row';

COMMENT ON FUNCTION @extschema@.p_alive(@extschema@.bgnbd, double precision, double precision, double precision) IS 'Probability that a customer with this history is still alive under the BG/NBD model (at t)';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.bgnbd, double precision, double precision, double precision, double precision) IS 'Expected purchases in the next horizon time units of a customer with this history under the BG/NBD model';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.bgnbd, double precision) IS 'Expected repeat purchases of a new customer in the first horizon time units under the BG/NBD model';

COMMENT ON FUNCTION @extschema@.probability_of_purchases(@extschema@.bgnbd, integer, double precision) IS 'Probability that a new customer makes exactly n repeat purchases in the first horizon time units under the BG/NBD model';

COMMENT ON FUNCTION @extschema@.clv(@extschema@.bgnbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, text) IS 'Discounted customer lifetime value over the next months: sum over months k of expected spend (Gamma-Gamma) times the expected purchases in month k (BG/NBD), discounted by (1 + monthly_discount)^k; recency and t are in time_unit';

COMMENT ON FUNCTION @extschema@.p_alive(@extschema@.mbgnbd, double precision, double precision, double precision) IS 'Probability that a customer with this history is still alive under the modified BG/NBD model (at t)';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.mbgnbd, double precision, double precision, double precision, double precision) IS 'Expected purchases in the next horizon time units of a customer with this history under the modified BG/NBD model';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.mbgnbd, double precision) IS 'Expected repeat purchases of a new customer in the first horizon time units under the modified BG/NBD model';

COMMENT ON FUNCTION @extschema@.probability_of_purchases(@extschema@.mbgnbd, integer, double precision) IS 'Probability that a new customer makes exactly n repeat purchases in the first horizon time units under the modified BG/NBD model';

COMMENT ON FUNCTION @extschema@.clv(@extschema@.mbgnbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, text) IS 'Discounted customer lifetime value over the next months: sum over months k of expected spend (Gamma-Gamma) times the expected purchases in month k (modified BG/NBD), discounted by (1 + monthly_discount)^k; recency and t are in time_unit';

COMMENT ON FUNCTION @extschema@.p_alive(@extschema@.pareto_nbd, double precision, double precision, double precision) IS 'Probability that a customer with this history is still alive under the Pareto/NBD model (at t)';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.pareto_nbd, double precision, double precision, double precision, double precision) IS 'Expected purchases in the next horizon time units of a customer with this history under the Pareto/NBD model';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.pareto_nbd, double precision) IS 'Expected repeat purchases of a new customer in the first horizon time units under the Pareto/NBD model';

COMMENT ON FUNCTION @extschema@.probability_of_purchases(@extschema@.pareto_nbd, integer, double precision) IS 'Probability that a new customer makes exactly n repeat purchases in the first horizon time units under the Pareto/NBD model';

COMMENT ON FUNCTION @extschema@.clv(@extschema@.pareto_nbd, @extschema@.gamma_gamma, double precision, double precision, double precision, double precision, integer, double precision, text) IS 'Discounted customer lifetime value over the next months: sum over months k of expected spend (Gamma-Gamma) times the expected purchases in month k (Pareto/NBD), discounted by (1 + monthly_discount)^k; recency and t are in time_unit';

COMMENT ON FUNCTION @extschema@.p_alive(@extschema@.bgbb, double precision, double precision, double precision) IS 'Probability that a customer with this history is still alive under the BG/BB model (alive in period n_periods + 1)';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.bgbb, double precision, double precision, double precision, double precision) IS 'Expected purchases in the next horizon periods of a customer with this history under the BG/BB model';

COMMENT ON FUNCTION @extschema@.expected_purchases(@extschema@.bgbb, double precision) IS 'Expected repeat purchases of a new customer in the first horizon periods under the BG/BB model';

COMMENT ON FUNCTION @extschema@.probability_of_purchases(@extschema@.bgbb, integer, double precision) IS 'Probability that a new customer makes exactly n repeat purchases in the first horizon periods under the BG/BB model';

COMMENT ON FUNCTION @extschema@.expected_spend(@extschema@.gamma_gamma, double precision, double precision) IS
'Expected mean transaction value of a customer with frequency repeat purchases of mean value monetary under the Gamma-Gamma model (frequency 0: the population mean p v / (q - 1))';

COMMENT ON FUNCTION @extschema@.clv_loglik_gradient(@extschema@.clv_state, double precision[]) IS
'Log-likelihood of a CLV fit state''s model at the given parameters (in the model type''s field order) and its analytic gradient, one row per parameter: the function the fits maximise, unpenalised, in the data''s time unit';
