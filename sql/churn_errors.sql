-- Bad input to the churn models and evaluation aggregates: each error with
-- its SQLSTATE, the warnings (separation, no events), corrupt states.
CREATE TABLE eg (admit int, gre float8, gpa float8, rank int);
\copy eg FROM 'data/grad_school.tsv'
-- NaN / infinite features, durations, weights: 22023
SELECT error_of($$SELECT clm.logit_fit(true, ARRAY[1, 'NaN']::float8[])$$);
SELECT error_of($$SELECT clm.logit_fit(true, ARRAY['Infinity']::float8[])$$);
SELECT error_of($$SELECT clm.coxph_fit(1, true, ARRAY['-Infinity']::float8[])$$);
SELECT error_of($$SELECT clm.coxph_fit('NaN', true, ARRAY[1]::float8[])$$);
SELECT error_of($$SELECT clm.logit_fit(true, ARRAY[1]::float8[], 'NaN')$$);
SELECT error_of($$SELECT clm.auc('Infinity', true)$$);
SELECT error_of($$SELECT clm.concordance(1, true, 'NaN')$$);
-- negative durations, weights, penalties: 22023
SELECT error_of($$SELECT clm.coxph_fit(-1, true, ARRAY[1]::float8[])$$);
SELECT error_of($$SELECT clm.concordance(-0.5, true, 1)$$);
SELECT error_of($$SELECT clm.logit_fit(true, ARRAY[1]::float8[], -1)$$);
SELECT error_of($$SELECT clm.logit_fit(true, ARRAY[1]::float8[], 1, -0.1)$$);
-- the penalty and the ties method must be the same in every row of a group
SELECT error_of($$SELECT clm.logit_fit(admit = 1, ARRAY[gpa], 1, rank) FROM eg$$);
SELECT error_of($$SELECT clm.coxph_fit(gpa, admit = 1, ARRAY[gre], CASE WHEN rank = 1 THEN 'breslow' ELSE 'efron' END) FROM eg$$);
SELECT error_of($$SELECT clm.coxph_fit(1, true, ARRAY[1]::float8[], 'exact')$$);
SELECT error_of($$SELECT clm.coxph_fit(1, true, ARRAY[1]::float8[], NULL)$$);
-- arrays of different lengths in one group, multidimensional or empty
-- arrays: 2202E
SELECT error_of($$SELECT clm.logit_fit(admit = 1, CASE WHEN rank = 1 THEN ARRAY[gre] ELSE ARRAY[gre, gpa] END) FROM eg$$);
SELECT error_of($$SELECT clm.coxph_fit(gpa, admit = 1, CASE WHEN rank = 4 THEN ARRAY[gre] ELSE ARRAY[gre, gpa] END) FROM eg$$);
SELECT error_of($$SELECT clm.logit_fit(true, ARRAY[[1, 2], [3, 4]]::float8[])$$);
SELECT error_of($$SELECT clm.coxph_fit(1, true, ARRAY[]::float8[])$$);
SELECT error_of($$SELECT clm.logit_fit(true, array_fill(1.0::float8, ARRAY[1001]))$$);
-- collinear features: an error naming the feature (1-based, in array order)
SELECT error_of($$SELECT clm.logit_fit(admit = 1, ARRAY[gre, gpa, 2 * gre - gpa + 1]) FROM eg$$);
SELECT error_of($$SELECT clm.logit_fit(admit = 1, ARRAY[gre, 3, gpa]) FROM eg$$);
SELECT error_of($$SELECT clm.coxph_fit(gpa, admit = 1, ARRAY[gre, rank, gre / 100]) FROM eg$$);
SELECT error_of($$SELECT clm.coxph_fit(gpa, admit = 1, ARRAY[gre, 7]) FROM eg$$);
-- with an l2 penalty collinear features are fitted (ridge)
SELECT (f).converged, round(((f).coef[2] + 2 * (f).coef[4])::numeric, 6) = round(((f).coef[2] + 2 * (f).coef[4])::numeric, 6) AS finite
FROM (SELECT clm.logit_fit(admit = 1, ARRAY[gre / 100, gpa, 2 * gre / 100 - gpa], 1, 1) AS f FROM eg) s;
-- perfect separation: converged = false and a WARNING suggesting l2; the
-- penalised fit converges
SELECT (f).converged, (f).iterations < 100 AS stopped_early
FROM (SELECT clm.logit_fit(gre > 600, ARRAY[gre]) AS f FROM eg) s;
SELECT (f).converged
FROM (SELECT clm.logit_fit(gre > 600, ARRAY[gre], 1, 0.01) AS f FROM eg) s;
-- no events: NULL with a WARNING
SELECT clm.logit_fit(false, ARRAY[gre]) IS NULL AS no_events FROM eg;
SELECT clm.logit_fit(true, ARRAY[gre]) IS NULL AS all_events FROM eg;
SELECT clm.logit_fit(admit = 1, ARRAY[gre], 0) IS NULL AS zero_weight FROM eg;
SELECT clm.coxph_fit(gpa, false, ARRAY[gre]) IS NULL AS no_events FROM eg;
-- the same with SQLSTATEs shown (warnings are 01000)
\set VERBOSITY sqlstate
SELECT (clm.logit_fit(gre > 600, ARRAY[gre])).converged FROM eg;
SELECT clm.coxph_fit(gpa, false, ARRAY[gre]) IS NULL FROM eg;
SELECT clm.logit_fit(admit = 1, ARRAY[gre, gpa, gre + gpa]) FROM eg;
\set VERBOSITY default
-- only NULL rows: every row skipped, nothing to fit
SELECT clm.logit_fit(NULL, ARRAY[gre]) IS NULL AS all_skipped FROM eg;
-- intercept only (no features): the log-odds of the rate, log(127 / 273)
SELECT round((f).coef[1]::numeric, 10) AS intercept, round(ln(127.0 / 273)::numeric, 10) AS by_hand
FROM (SELECT clm.logit_fit(admit = 1, ARRAY[]::float8[]) AS f FROM eg) s;

-- model functions: lengths must match the model (2202E), t >= 0 (22023)
CREATE TABLE em AS
SELECT clm.logit_fit(admit = 1, ARRAY[gre, gpa]) AS lm, clm.coxph_fit(gpa, admit = 1, ARRAY[gre]) AS cm FROM eg;
SELECT error_of($$SELECT clm.logit_predict(lm, ARRAY[1]::float8[]) FROM em$$);
SELECT error_of($$SELECT clm.logit_predict(lm, ARRAY[1, 'NaN']::float8[]) FROM em$$);
SELECT error_of($$SELECT clm.coxph_risk(cm, ARRAY[1, 2]::float8[]) FROM em$$);
SELECT error_of($$SELECT clm.coxph_survival(cm, ARRAY[1]::float8[], -1) FROM em$$);
SELECT error_of($$SELECT clm.coxph_survival(cm, ARRAY[1]::float8[], 'NaN') FROM em$$);
SELECT clm.logit_predict(lm, ARRAY[1, NULL]::float8[]) IS NULL AS null_feature,
       clm.logit_predict(NULL, ARRAY[1, 2]::float8[]) IS NULL AS null_model,
       clm.coxph_survival(cm, ARRAY[500]::float8[], 0) AS s0
FROM em;
-- evaluation arguments
SELECT error_of($$SELECT clm.brier(1.5, true)$$);
SELECT error_of($$SELECT clm.brier('NaN', true)$$);
SELECT error_of($$SELECT * FROM clm.gains((SELECT clm.gains_agg(1, true)), 0)$$);

-- corrupt states: text 22P02, content 22P03 (with the detail that says why)
CREATE FUNCTION pg_temp.detail_of(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || d;
END
$$;
SELECT error_of($$SELECT 'garbage'::clm.model_rows$$);
SELECT pg_temp.detail_of($$SELECT '\x0'::clm.model_rows$$);
SELECT pg_temp.detail_of($$SELECT '\x09'::clm.model_rows$$);
-- version 1, kind 3 (scores), 2 columns, 1 row claimed, no data
SELECT pg_temp.detail_of($$SELECT '\x0103000000000002000000000000000100000000000000000000000000000000'::clm.model_rows$$);
-- the same with a row whose label is 2
SELECT pg_temp.detail_of($$SELECT '\x01030000000000020000000000000001000000000000000000000000000000003ff00000000000004000000000000000'::clm.model_rows$$);
-- a score that is NaN
SELECT pg_temp.detail_of($$SELECT '\x01030000000000020000000000000001000000000000000000000000000000007ff80000000000003ff0000000000000'::clm.model_rows$$);
-- unknown kind 9; negative parameter
SELECT pg_temp.detail_of($$SELECT '\x0109000000000002000000000000000000000000000000000000000000000000'::clm.model_rows$$);
SELECT pg_temp.detail_of($$SELECT '\x010100010000000300000000000000000000000000000000bff0000000000000'::clm.model_rows$$);
-- a valid state of clm.concordance (no rows) is not a gains state: 22023
SELECT pg_temp.detail_of($$SELECT * FROM clm.gains('\x0104000000000003000000000000000000000000000000000000000000000000'::clm.model_rows)$$);
-- (a valid state with one row: score 1, label 1)
SELECT * FROM clm.gains('\x01030000000000020000000000000001000000000000000000000000000000003ff00000000000003ff0000000000000'::clm.model_rows);
-- and the binary input checks the same (the second one is valid)
SELECT recv_of('\x01030000000000020000000000000001000000000000000000000000000000003ff00000000000004000000000000000', 'clm.model_rows');
SELECT recv_of('\x01030000000000020000000000000001000000000000000000000000000000003ff00000000000003ff0000000000000', 'clm.model_rows');
