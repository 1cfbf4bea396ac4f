/*
 * src/churn.sql: churn prediction with covariates: logistic regression,
 * Cox proportional hazards, and the evaluation of churn scores (AUC,
 * Harrell's C, Brier score, gains / lift table)
 *
 * A part of the newest clm install script, which the Makefile concatenates
 * from the SQL_SOURCES list.  Sections: types and tables, support functions,
 * aggregates, user functions (views, triggers, policies), comments and grants.
 */

-- ======================================================================
-- types and tables
-- ======================================================================

CREATE TYPE @extschema@.model_rows;

CREATE FUNCTION @extschema@.model_rows_in(cstring) RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_model_rows_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.model_rows_out(@extschema@.model_rows) RETURNS cstring
AS 'MODULE_PATHNAME', 'clm_model_rows_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.model_rows_recv(internal) RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_model_rows_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.model_rows_send(@extschema@.model_rows) RETURNS bytea
AS 'MODULE_PATHNAME', 'clm_model_rows_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.model_rows (
	INPUT = @extschema@.model_rows_in,
	OUTPUT = @extschema@.model_rows_out,
	RECEIVE = @extschema@.model_rows_recv,
	SEND = @extschema@.model_rows_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);

CREATE TYPE @extschema@.logit AS (
	coef double precision[],
	std_err double precision[],
	z double precision[],
	p_value double precision[],
	odds_ratio double precision[],
	loglik double precision,
	null_loglik double precision,
	n bigint,
	skipped bigint,
	iterations integer,
	converged boolean,
	condition_no double precision
);

CREATE TYPE @extschema@.coxph AS (
	coef double precision[],
	std_err double precision[],
	z double precision[],
	p_value double precision[],
	hazard_ratio double precision[],
	loglik double precision,
	null_loglik double precision,
	concordance double precision,
	n bigint,
	events bigint,
	skipped bigint,
	iterations integer,
	converged boolean,
	baseline_time double precision[],
	baseline_cumhaz double precision[]
);

-- ======================================================================
-- support functions
-- ======================================================================

CREATE FUNCTION @extschema@.model_rows_combine(@extschema@.model_rows, @extschema@.model_rows)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_model_rows_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.logit_accum(@extschema@.model_rows, boolean, double precision[])
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_logit_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.logit_accum(@extschema@.model_rows, boolean, double precision[], double precision)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_logit_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.logit_accum(@extschema@.model_rows, boolean, double precision[], double precision, double precision)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_logit_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.logit_final(@extschema@.model_rows)
RETURNS @extschema@.logit
AS 'MODULE_PATHNAME', 'clm_logit_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.coxph_accum(@extschema@.model_rows, double precision, boolean, double precision[])
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_coxph_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.coxph_accum(@extschema@.model_rows, double precision, boolean, double precision[], text)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_coxph_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.coxph_final(@extschema@.model_rows)
RETURNS @extschema@.coxph
AS 'MODULE_PATHNAME', 'clm_coxph_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.score_accum(@extschema@.model_rows, double precision, boolean)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_score_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.auc_final(@extschema@.model_rows)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_auc_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.gains_final(@extschema@.model_rows)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_gains_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.concordance_accum(@extschema@.model_rows, double precision, boolean, double precision)
RETURNS @extschema@.model_rows
AS 'MODULE_PATHNAME', 'clm_surv_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.concordance_final(@extschema@.model_rows)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_concordance_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.brier_accum(double precision[], double precision, boolean)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'clm_brier_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.brier_combine(double precision[], double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'clm_brier_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.brier_final(double precision[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_brier_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ======================================================================
-- aggregates
-- ======================================================================

CREATE AGGREGATE @extschema@.logit_fit(label boolean, features double precision[]) (
	SFUNC = @extschema@.logit_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.logit_final,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.logit_fit(label boolean, features double precision[], weight double precision) (
	SFUNC = @extschema@.logit_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.logit_final,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.logit_fit(label boolean, features double precision[], weight double precision,
	l2 double precision) (
	SFUNC = @extschema@.logit_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.logit_final,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.coxph_fit(duration double precision, event boolean, features double precision[]) (
	SFUNC = @extschema@.coxph_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.coxph_final,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.coxph_fit(duration double precision, event boolean, features double precision[],
	ties text) (
	SFUNC = @extschema@.coxph_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.coxph_final,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.auc(score double precision, label boolean) (
	SFUNC = @extschema@.score_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.auc_final,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.gains_agg(score double precision, label boolean) (
	SFUNC = @extschema@.score_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.gains_final,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.concordance(duration double precision, event boolean, risk double precision) (
	SFUNC = @extschema@.concordance_accum,
	STYPE = @extschema@.model_rows,
	FINALFUNC = @extschema@.concordance_final,
	COMBINEFUNC = @extschema@.model_rows_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.brier(probability double precision, label boolean) (
	SFUNC = @extschema@.brier_accum,
	STYPE = double precision[],
	INITCOND = '{0,0}',
	FINALFUNC = @extschema@.brier_final,
	COMBINEFUNC = @extschema@.brier_combine,
	PARALLEL = SAFE
);

-- ======================================================================
-- user functions, views, triggers and policies
-- ======================================================================

CREATE FUNCTION @extschema@.logit_predict(model @extschema@.logit, features double precision[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_logit_predict' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.coxph_risk(model @extschema@.coxph, features double precision[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_coxph_risk' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.coxph_survival(model @extschema@.coxph, features double precision[],
	t double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'clm_coxph_survival' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.gains(state @extschema@.model_rows, buckets integer DEFAULT 10)
RETURNS TABLE (bucket integer, customers bigint, events bigint, event_rate double precision,
	mean_score double precision, lift double precision, cumulative_events_share double precision)
AS 'MODULE_PATHNAME', 'clm_gains' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;

-- ======================================================================
-- comments and grants
-- ======================================================================

COMMENT ON FUNCTION @extschema@.model_rows_in(cstring) IS
'Input function of clm.model_rows (\x + hexadecimal image of the binary form)';

COMMENT ON FUNCTION @extschema@.model_rows_out(@extschema@.model_rows) IS
'Output function of clm.model_rows';

COMMENT ON FUNCTION @extschema@.model_rows_recv(internal) IS
'Binary input function of clm.model_rows';

COMMENT ON FUNCTION @extschema@.model_rows_send(@extschema@.model_rows) IS
'Binary output function of clm.model_rows';

COMMENT ON TYPE @extschema@.model_rows IS
'State of clm.logit_fit, clm.coxph_fit, clm.auc, clm.concordance and clm.gains_agg: the rows packed as float8 values (the result of clm.gains_agg, read with clm.gains)';

COMMENT ON TYPE @extschema@.logit IS
'A logistic regression fit (clm.logit_fit): coefficients (intercept first) with standard errors, z, two-sided p-values and odds ratios; log-likelihood, intercept-only log-likelihood, rows used and skipped, Newton iterations, convergence, condition number of the design';

COMMENT ON TYPE @extschema@.coxph IS
'A Cox proportional hazards fit (clm.coxph_fit): coefficients with standard errors, z, two-sided p-values and hazard ratios; partial log-likelihood at the fit and at zero, Harrell''s concordance, rows, events, skipped rows, Newton iterations, convergence, and Breslow''s baseline cumulative hazard at x = 0 by distinct event time';

COMMENT ON FUNCTION @extschema@.model_rows_combine(@extschema@.model_rows, @extschema@.model_rows) IS
'Combine function of the clm.model_rows aggregates (appends the rows of the second state)';

COMMENT ON FUNCTION @extschema@.logit_accum(@extschema@.model_rows, boolean, double precision[]) IS
'Transition function of clm.logit_fit(label, features)';

COMMENT ON FUNCTION @extschema@.logit_accum(@extschema@.model_rows, boolean, double precision[], double precision) IS
'Transition function of clm.logit_fit(label, features, weight)';

COMMENT ON FUNCTION @extschema@.logit_accum(@extschema@.model_rows, boolean, double precision[], double precision, double precision) IS
'Transition function of clm.logit_fit(label, features, weight, l2)';

COMMENT ON FUNCTION @extschema@.logit_final(@extschema@.model_rows) IS
'Final function of clm.logit_fit: the Newton (IRLS) fit of the state''s rows';

COMMENT ON FUNCTION @extschema@.coxph_accum(@extschema@.model_rows, double precision, boolean, double precision[]) IS
'Transition function of clm.coxph_fit(duration, event, features)';

COMMENT ON FUNCTION @extschema@.coxph_accum(@extschema@.model_rows, double precision, boolean, double precision[], text) IS
'Transition function of clm.coxph_fit(duration, event, features, ties)';

COMMENT ON FUNCTION @extschema@.coxph_final(@extschema@.model_rows) IS
'Final function of clm.coxph_fit: the Newton fit of the partial likelihood of the state''s rows';

COMMENT ON FUNCTION @extschema@.score_accum(@extschema@.model_rows, double precision, boolean) IS
'Transition function of clm.auc and clm.gains_agg';

COMMENT ON FUNCTION @extschema@.auc_final(@extschema@.model_rows) IS
'Final function of clm.auc';

COMMENT ON FUNCTION @extschema@.gains_final(@extschema@.model_rows) IS
'Final function of clm.gains_agg (the state without spare capacity)';

COMMENT ON FUNCTION @extschema@.concordance_accum(@extschema@.model_rows, double precision, boolean, double precision) IS
'Transition function of clm.concordance';

COMMENT ON FUNCTION @extschema@.concordance_final(@extschema@.model_rows) IS
'Final function of clm.concordance';

COMMENT ON FUNCTION @extschema@.brier_accum(double precision[], double precision, boolean) IS
'Transition function of clm.brier (state: rows, sum of squared errors)';

COMMENT ON FUNCTION @extschema@.brier_combine(double precision[], double precision[]) IS
'Combine function of clm.brier';

COMMENT ON FUNCTION @extschema@.brier_final(double precision[]) IS
'Final function of clm.brier';

COMMENT ON AGGREGATE @extschema@.logit_fit(boolean, double precision[]) IS
'Logistic regression of label on features (with an intercept), fitted by Newton''s method; rows with a NULL skipped';

COMMENT ON AGGREGATE @extschema@.logit_fit(boolean, double precision[], double precision) IS
'Logistic regression with case weights (weight >= 0)';

COMMENT ON AGGREGATE @extschema@.logit_fit(boolean, double precision[], double precision, double precision) IS
'Logistic regression with case weights and an L2 penalty l2/2 * sum of squared coefficients (intercept not penalised; l2 = 1/C of scikit-learn)';

COMMENT ON AGGREGATE @extschema@.coxph_fit(double precision, boolean, double precision[]) IS
'Cox proportional hazards regression of (duration, event) on features, Efron''s method for ties; rows with a NULL skipped';

COMMENT ON AGGREGATE @extschema@.coxph_fit(double precision, boolean, double precision[], text) IS
'Cox proportional hazards regression with ties ''efron'' or ''breslow''';

COMMENT ON AGGREGATE @extschema@.auc(double precision, boolean) IS
'ROC AUC of a score against a label (equal scores count 1/2); NULL with a WARNING without both labels';

COMMENT ON AGGREGATE @extschema@.gains_agg(double precision, boolean) IS
'State of a gains / lift table of a score against a label, read with clm.gains';

COMMENT ON AGGREGATE @extschema@.concordance(double precision, boolean, double precision) IS
'Harrell''s C of a risk score against (duration, event): a higher risk should mean an earlier event';

COMMENT ON AGGREGATE @extschema@.brier(double precision, boolean) IS
'Brier score: mean squared difference between a probability and the 0/1 label';

COMMENT ON FUNCTION @extschema@.logit_predict(@extschema@.logit, double precision[]) IS
'Fitted probability of a clm.logit model for a features array';

COMMENT ON FUNCTION @extschema@.coxph_risk(@extschema@.coxph, double precision[]) IS
'Relative risk exp(features . coef) of a clm.coxph model';

COMMENT ON FUNCTION @extschema@.coxph_survival(@extschema@.coxph, double precision[], double precision) IS
'Survival S(t | features) = exp(-H0(t) exp(features . coef)) of a clm.coxph model with Breslow''s baseline';

COMMENT ON FUNCTION @extschema@.gains(@extschema@.model_rows, integer) IS
'Gains / lift table of a clm.gains_agg state: equal-size buckets by descending score with customers, events, event rate, mean score, lift and cumulative share of events';
