-- Churn models at input boundaries: hand-built clm.logit / clm.coxph values
-- passed to the predict functions (NaN and infinite coefficients, linear
-- predictors that overflow, corrupt baselines), weights and features at the
-- ends of the float8 range, corrupt clm.model_rows input, window use.
SET extra_float_digits = 0;
CREATE FUNCTION pg_temp.cx(c float8[], t float8[], h float8[]) RETURNS clm.coxph
LANGUAGE sql AS $$
	SELECT ROW(c, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, t, h)::clm.coxph
$$;
CREATE FUNCTION pg_temp.lg(c float8[]) RETURNS clm.logit
LANGUAGE sql AS $$
	SELECT ROW(c, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.logit
$$;

-- non-finite coefficients are rejected (they returned NaN, or 1 for +Infinity)
SELECT error_of($$SELECT clm.logit_predict(pg_temp.lg('{NaN,1}'), '{1}')$$) AS logit_nan_coef;
SELECT error_of($$SELECT clm.logit_predict(pg_temp.lg('{Infinity,1}'), '{1}')$$) AS logit_inf_coef;
SELECT error_of($$SELECT clm.coxph_risk(pg_temp.cx('{NaN}', '{1}', '{1}'), '{1}')$$) AS cox_nan_coef;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{-Infinity}', '{1}', '{1}'), '{1}', 2)$$) AS cox_inf_coef;
-- a linear predictor that overflows (1e308 * 1e308 - 1e308 * 1e308 was NaN)
SELECT error_of($$SELECT clm.logit_predict(pg_temp.lg('{1e308,1e308,-1e308}'), '{1e308,1e308}')$$) AS logit_eta_overflow;
SELECT error_of($$SELECT clm.coxph_risk(pg_temp.cx('{1e308}', '{1}', '{1}'), '{1e308}')$$) AS cox_eta_overflow;
-- a large but finite linear predictor: the logit saturates at 0 and 1, the
-- relative risk exp(1000) overflows as exp() does (it was Infinity)
SELECT clm.logit_predict(pg_temp.lg('{0,1}'), '{1e308}') AS p_one,
       clm.logit_predict(pg_temp.lg('{0,-1}'), '{1e308}') AS p_zero;
SELECT error_of($$SELECT clm.coxph_risk(pg_temp.cx('{1000}', '{1}', '{1}'), '{1}')$$) AS risk_overflow;
-- ... and survival with that risk: 1 before the first event time (it was
-- NaN: 0 * Infinity), 0 after (exp(-0.1 e^1000)), 1 with risk e^-1000
SELECT clm.coxph_survival(pg_temp.cx('{1000}', '{1,2}', '{0.1,0.2}'), '{1}', 0.5) AS before_first,
       clm.coxph_survival(pg_temp.cx('{1000}', '{1,2}', '{0.1,0.2}'), '{1}', 1.5) AS huge_risk,
       clm.coxph_survival(pg_temp.cx('{-1000}', '{1,2}', '{0.1,0.2}'), '{1}', 1.5) AS tiny_risk;
-- a well-formed baseline: S(2 | x = 1) = exp(-0.2 e^0.5)
SELECT round(clm.coxph_survival(pg_temp.cx('{0.5}', '{1,2}', '{0.1,0.2}'), '{1}', 2)::numeric, 12) AS s2,
       round(exp(-0.2 * exp(0.5))::numeric, 12) AS by_hand,
       clm.coxph_survival(pg_temp.cx('{0.5}', '{}', '{}'), '{1}', 2) AS no_events;
-- corrupt baselines are rejected (they gave wrong survival values, one above 1)
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{2,1}', '{0.1,0.2}'), '{0}', 1.5)$$) AS unsorted_times;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,1}', '{0.1,0.2}'), '{0}', 1.5)$$) AS repeated_time;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,NaN}', '{0.1,0.2}'), '{0}', 2)$$) AS nan_time;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{-1,2}', '{0.1,0.2}'), '{0}', 2)$$) AS negative_time;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,2}', '{0.5,0.2}'), '{0}', 2)$$) AS decreasing_cumhaz;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,2}', '{-0.5,0.2}'), '{0}', 2)$$) AS negative_cumhaz;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,2}', '{0.1,Infinity}'), '{0}', 2)$$) AS infinite_cumhaz;
-- already rejected: mismatched, multidimensional, NULL-holding arrays
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{}', '{1}'), '{0}', 2)$$) AS empty_vs_one;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,2}', '{1}'), '{0}', 2)$$) AS lengths_differ;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{{1,2}}', '{{0.1,0.2}}'), '{0}', 2)$$) AS two_dimensional;
SELECT error_of($$SELECT clm.coxph_survival(pg_temp.cx('{1}', '{1,NULL}', '{0.1,0.2}'), '{0}', 2)$$) AS null_time;
SELECT error_of($$SELECT clm.coxph_risk(pg_temp.cx('{1,2}', '{1}', '{1}'), '{1}')$$) AS coef_count;
SELECT error_of($$SELECT clm.coxph_risk(pg_temp.cx('{1,NULL}', '{1}', '{1}'), '{1,1}')$$) AS null_coef;
SELECT error_of($$SELECT clm.logit_predict(pg_temp.lg('{{1,2}}'), '{1}')$$) AS two_dim_coef;
SELECT clm.coxph_risk(pg_temp.cx(NULL, '{1}', '{1}'), '{1}') IS NULL AS null_model_coef,
       clm.coxph_risk(pg_temp.cx('{1}', '{1}', '{1}'), '{NULL}') IS NULL AS null_feature,
       clm.coxph_risk(pg_temp.cx('{2}', '{1}', '{1}'), '[0:0]={1}') AS non_one_based;

-- case weights at the ends of the range: the fit does not depend on their
-- scale (coefficients as with weight 1; standard errors scale by
-- 1/sqrt(weight), log-likelihoods by the weight).  Weights 1e-200 gave
-- coef {0,0} "converged" after 0 iterations; 5e-324 raised a false
-- collinearity error; 1e308 said "every label is true".
CREATE TEMP TABLE wdat (y boolean, x float8);
INSERT INTO wdat VALUES (true, 1), (false, 2), (true, 3), (false, 0);
CREATE TEMP TABLE wfits AS
SELECT label, w, clm.logit_fit(y, ARRAY[x], w) AS m
FROM wdat, (VALUES ('1', 1::float8), ('1e-200', 1e-200), ('5e-324', 5e-324), ('1e300', 1e300), ('0.25', 0.25)) v(label, w)
GROUP BY label, w;
SELECT label, (SELECT array_agg(round(c::numeric, 10)) FROM unnest((m).coef) c) AS coef,
       (SELECT array_agg(round((s * sqrt(w))::numeric, 10)) FROM unnest((m).std_err) s) AS se_times_sqrt_w,
       round(((m).loglik / w)::numeric, 10) AS loglik_per_w,
       round(((m).null_loglik / w)::numeric, 10) AS null_loglik_per_w,
       (m).converged
FROM wfits WHERE w > 5e-324 ORDER BY w;
-- the denormal weight: coefficients as above (its log-likelihoods are
-- denormal, hence imprecise)
SELECT (SELECT array_agg(round(c::numeric, 10)) FROM unnest((m).coef) c) AS denormal_coef,
       (m).converged FROM wfits WHERE w = 5e-324;
-- 4 ln(1/2) by hand: the null log-likelihood of 2 of 4
SELECT round((4 * ln(0.5))::numeric, 10) AS null_by_hand;
SELECT error_of($$SELECT clm.logit_fit(y, ARRAY[x], 1e308) FROM wdat$$) AS loglik_overflow;
SELECT error_of($$SELECT clm.logit_fit(y, ARRAY[x], 5e-324, 1e10) FROM wdat$$) AS l2_vs_tiny_weights;
-- features whose spread overflows: a clear 22003 (was "collinear")
SELECT error_of($$SELECT clm.logit_fit(y, ARRAY[x * 1e307]) FROM wdat$$) AS logit_feature_overflow;
SELECT error_of($$SELECT clm.coxph_fit(x + 1, y, ARRAY[(x - 1.5) * 1e308]) FROM wdat$$) AS cox_feature_overflow;
-- features whose spread underflows are not called constant (they were)
SELECT error_of($$SELECT clm.logit_fit(y, ARRAY[x * 1e-310]) FROM wdat$$) AS logit_feature_underflow;
SELECT error_of($$SELECT clm.coxph_fit(x + 1, y, ARRAY[x * 1e-310]) FROM wdat$$) AS cox_feature_underflow;
-- a spread of 1e-150 still fits: the coefficient is 1e150 times that of x
SELECT round(((clm.logit_fit(y, ARRAY[x * 1e-150])).coef[2] * 1e-150)::numeric, 10) AS scaled_back FROM wdat;
SELECT error_of($$SELECT clm.logit_fit(y, ARRAY[5e-324]) FROM wdat$$) AS denormal_constant;

-- corrupt clm.model_rows text: oversized counts are rejected, not allocated
SELECT error_of($$SELECT '\x010300007fffffff000000000000000100000000000000000000000000000000'::clm.model_rows$$) AS huge_ncols;
SELECT error_of($$SELECT '\x01030000000000027fffffffffffffff00000000000000000000000000000000'::clm.model_rows$$) AS huge_n;
SELECT error_of($$SELECT '\x0103000000000002ffffffffffffffff00000000000000000000000000000000'::clm.model_rows$$) AS negative_n;
SELECT error_of($$SELECT '\x010300000000000200000000000000010000000000000000000000000000000000'::clm.model_rows$$) AS truncated_row;

-- the aggregates as window functions: a running AUC and Brier score
SELECT i, clm.auc(s, y) OVER w AS auc, round(clm.brier(s, y) OVER w::numeric, 6) AS brier
FROM (VALUES (1, 0.9::float8, true), (2, 0.2, false), (3, 0.4, true), (4, 0.6, false)) v(i, s, y)
WINDOW w AS (ORDER BY i) ORDER BY i;
-- clm.coxph_fit sorts its state in its final step, so it is no window function
SELECT error_of($$SELECT clm.coxph_fit(x + 1, y, ARRAY[x]) OVER (ORDER BY x) FROM wdat$$) AS cox_as_window;

-- clm.brier's float8[] state written by hand is checked (it gave -5 and 2)
SELECT clm.brier_final('{4,1}') AS quarter, clm.brier_final('{0,0}') IS NULL AS empty;
SELECT error_of($$SELECT clm.brier_final('{-1,5}')$$) AS negative_rows;
SELECT error_of($$SELECT clm.brier_final('{1,2}')$$) AS sse_above_rows;
SELECT error_of($$SELECT clm.brier_final('{1.5,0}')$$) AS fractional_rows;
SELECT error_of($$SELECT clm.brier_final('{NaN,0}')$$) AS nan_rows;
SELECT error_of($$SELECT clm.brier_final('{2,-0.5}')$$) AS negative_sse;
SELECT error_of($$SELECT clm.brier_final('{2,1,3}')$$) AS three_values;

-- hand-built clm.model_rows states combined (as parallel workers' states
-- are): different feature counts, penalties or kinds are rejected; the
-- count of skipped rows cannot wrap around (it went negative)
CREATE FUNCTION pg_temp.mr(kind int, hp int, ncols int, n bigint, skipped bigint, param float8, vals float8[])
RETURNS clm.model_rows LANGUAGE sql AS $$
	SELECT ('\x' || encode(set_byte(set_byte('\x01000000'::bytea, 1, kind), 3, hp) || int4send(ncols)
		|| int8send(n) || int8send(skipped) || float8send(param)
		|| coalesce((SELECT string_agg(float8send(v), ''::bytea) FROM unnest(vals) v), ''::bytea), 'hex'))::clm.model_rows
$$;
CREATE AGGREGATE pg_temp.mr_union(clm.model_rows) (SFUNC = clm.model_rows_combine, STYPE = clm.model_rows);
-- the four rows of wdat as a state: the fit above
SELECT (SELECT array_agg(round(c::numeric, 10)) FROM unnest((clm.logit_final(s)).coef) c) AS from_state
FROM (SELECT pg_temp.mr_union(s) AS s FROM (VALUES (pg_temp.mr(1, 1, 3, 2, 0, 0, '{1,1,1, 0,1,2}')),
                                                   (pg_temp.mr(1, 1, 3, 2, 0, 0, '{1,1,3, 0,1,0}'))) v(s)) u;
SELECT error_of($$SELECT pg_temp.mr_union(s) FROM (VALUES (pg_temp.mr(1, 1, 3, 1, 0, 0, '{1,1,5}')),
                                                         (pg_temp.mr(1, 1, 4, 1, 0, 0, '{1,1,5,6}'))) v(s)$$) AS feature_counts;
SELECT error_of($$SELECT pg_temp.mr_union(s) FROM (VALUES (pg_temp.mr(1, 1, 3, 1, 0, 0, '{1,1,5}')),
                                                         (pg_temp.mr(1, 1, 3, 1, 0, 0.5, '{1,1,5}'))) v(s)$$) AS penalties;
SELECT error_of($$SELECT pg_temp.mr_union(s) FROM (VALUES (pg_temp.mr(1, 1, 3, 1, 0, 0, '{1,1,5}')),
                                                         (pg_temp.mr(3, 0, 2, 1, 0, 0, '{1,1}'))) v(s)$$) AS kinds;
SELECT error_of($$SELECT pg_temp.mr_union(s) FROM (VALUES (pg_temp.mr(1, 1, 3, 1, 9223372036854775807, 0, '{1,1,5}')),
                                                         (pg_temp.mr(1, 0, 0, 0, 7, 0, '{}'))) v(s)$$) AS skipped_overflow;

-- a fit of 1000 features is cancelled promptly: the per-row O(p^2) loops and
-- the O(p^3) matrix work check for interrupts (a 2 s statement_timeout took
-- 52 s to take effect on 3000 rows); the whole fit takes far longer than
-- the timeout
CREATE TEMP TABLE wide AS
SELECT i, i % 3 = 0 AS y, i % 50 + 1 AS d,
       ARRAY(SELECT sin(i * j) FROM generate_series(1, 1000) j) AS x
FROM generate_series(1, 600) i;
\set VERBOSITY sqlstate
SET statement_timeout = '300ms';
SELECT clm.logit_fit(y, x, 1.0, 1.0) IS NULL AS logit_cancelled FROM wide;
SELECT clm.coxph_fit(d, y, x) IS NULL AS cox_cancelled FROM wide;
RESET statement_timeout;
\set VERBOSITY default
