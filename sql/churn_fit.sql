-- Churn models with covariates: logistic regression (clm.logit_fit) and Cox
-- proportional hazards (clm.coxph_fit), against published reference fits.
-- Data: data/grad_school.tsv (UCLA admissions, MADlib's logistic tests),
-- data/rossi.csv (Rossi recidivism, R carData / lifelines); see data/README.md.
CREATE FUNCTION pg_temp.r(a float8[], d int) RETURNS numeric[]
LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(round(v::numeric, d) ORDER BY o) FROM unnest(a) WITH ORDINALITY u(v, o) $$;
CREATE TABLE grad (admit int, gre float8, gpa float8, rank int);
\copy grad FROM 'data/grad_school.tsv'
CREATE TABLE rossi (week float8, arrest int, fin float8, age float8, race float8,
                    wexp float8, mar float8, paro float8, prio float8);
\copy rossi FROM 'data/rossi.csv' WITH (FORMAT csv, HEADER)
SELECT count(*), sum(admit) FROM grad;
SELECT count(*), sum(arrest) FROM rossi;

-- admit ~ gre + gpa + rank2 + rank3 + rank4.  Published (MADlib, R glm):
-- coef -3.989979, 0.002264, 0.804038, -0.675443, -1.340204, -1.551464;
-- std errors 1.139951, 0.001094, 0.331819, 0.316490, 0.345306, 0.417832;
-- log-likelihood -229.2587, null -249.98826; statsmodels' Cond. No. 6.07e+03.
CREATE TABLE grad_fit AS
SELECT clm.logit_fit(admit = 1, ARRAY[gre, gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int]) AS m
FROM grad;
SELECT pg_temp.r((m).coef, 6) AS coef, pg_temp.r((m).std_err, 6) AS std_err,
       round((m).loglik::numeric, 4) AS loglik, round((m).null_loglik::numeric, 5) AS null_loglik,
       (m).n, (m).skipped, (m).converged, round((m).condition_no::numeric, -1) AS condition_no
FROM grad_fit;
-- z = coef / std_err, two-sided normal p-values (R: gre p = 0.038465, rank4
-- p = 0.000205), odds ratios exp(coef)
SELECT pg_temp.r((m).z, 4) AS z, pg_temp.r((m).p_value, 6) AS p_value,
       pg_temp.r((m).odds_ratio, 6) AS odds_ratio
FROM grad_fit;
-- with an intercept, the maximum-likelihood probabilities average to the
-- observed rate (the score equation of the intercept): 127 / 400
SELECT round(avg(clm.logit_predict(m, ARRAY[gre, gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int]))::numeric, 10) AS mean_p
FROM grad, grad_fit;
-- logit_predict is 1 / (1 + exp(-(b0 + x . b))): gre 700, gpa 3.5, rank 2
SELECT round(clm.logit_predict(m, ARRAY[700, 3.5, 1, 0, 0]::float8[])::numeric, 12) AS p,
       round((1 / (1 + exp(-((m).coef[1] + 700 * (m).coef[2] + 3.5 * (m).coef[3] + (m).coef[4]))))::numeric, 12) AS by_hand
FROM grad_fit;
-- case weights: weight 2 is the row twice (same coefficients; half the
-- standard errors' squares)
WITH w AS (
  SELECT clm.logit_fit(admit = 1, ARRAY[gre, gpa], 2.0) AS m FROM grad
), d AS (
  SELECT clm.logit_fit(admit = 1, ARRAY[gre, gpa]) AS m FROM grad, generate_series(1, 2)
)
SELECT pg_temp.r((w.m).coef, 9) = pg_temp.r((d.m).coef, 9) AS same_coef,
       pg_temp.r((w.m).std_err, 9) = pg_temp.r((d.m).std_err, 9) AS same_se,
       round((w.m).loglik::numeric, 8) = round((d.m).loglik::numeric, 8) AS same_loglik,
       (w.m).n AS weighted_rows, (d.m).n AS duplicated_rows
FROM w, d;
-- l2 penalty: at the optimum the score equations hold with the penalty,
-- sum (y - p) = 0 for the intercept and sum (y - p) x_j = l2 * b_j
WITH f AS (
  SELECT clm.logit_fit(admit = 1, ARRAY[gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int], 1.0, 5.0) AS m FROM grad
), s AS (
  SELECT sum(admit - clm.logit_predict(m, x)) AS g0,
         sum((admit - clm.logit_predict(m, x)) * x[1]) AS g1,
         sum((admit - clm.logit_predict(m, x)) * x[4]) AS g4,
         max((m).coef[2]) AS b1, max((m).coef[5]) AS b4,
         max((m).coef[2]) < (SELECT (clm.logit_fit(admit = 1, ARRAY[gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int])).coef[2]
                             FROM grad) AS gpa_shrunk
  FROM f, (SELECT admit, ARRAY[gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int] AS x FROM grad) g
)
SELECT round(g0::numeric, 9) AS intercept_score, round((g1 - 5.0 * b1)::numeric, 9) AS gpa_score,
       round((g4 - 5.0 * b4)::numeric, 9) AS rank4_score, gpa_shrunk
FROM s;
-- l2 against scikit-learn: LogisticRegression(C = 1 / l2, solver='newton-cg',
-- tol=1e-14) (1.2.1, intercept unpenalised) on gre/100, gpa, rank 2/3/4 gives
-- l2 = 1:  -3.9780841, 0.2364057, 0.7267053, -0.4707861, -1.0879048, -1.2361367
-- l2 = 10: -3.5246782, 0.2646538, 0.4101898, -0.0276082, -0.4484005, -0.4766982
-- (scipy BFGS on sum log-loss + l2/2 * sum b_j^2 gives the same 7 digits)
SELECT l2, pg_temp.r((clm.logit_fit(admit = 1, ARRAY[gre / 100, gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int],
                                    1, l2)).coef, 7) AS coef
FROM grad, (VALUES (1.0::float8), (10.0)) v(l2) GROUP BY l2 ORDER BY l2;
-- l2 = 0 is the unpenalised fit
SELECT pg_temp.r((clm.logit_fit(admit = 1, ARRAY[gre, gpa, (rank = 2)::int, (rank = 3)::int, (rank = 4)::int], 1, 0)).coef, 6) AS coef
FROM grad;

-- Rossi, Efron ties, all seven covariates.  Published (R survival::coxph,
-- lifelines): fin -0.3794222, age -0.0574377, race 0.3138998, wexp -0.1497957,
-- mar -0.4337039, paro -0.0848711, prio 0.0914971; std errors 0.19138,
-- 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865; log-likelihood
-- -658.747659, null -675.380632; concordance 0.640329.
CREATE TABLE rossi_fit AS
SELECT clm.coxph_fit(week, arrest = 1, ARRAY[fin, age, race, wexp, mar, paro, prio]) AS m FROM rossi;
SELECT pg_temp.r((m).coef, 7) AS coef, pg_temp.r((m).std_err, 5) AS std_err,
       round((m).loglik::numeric, 6) AS loglik, round((m).null_loglik::numeric, 6) AS null_loglik,
       round((m).concordance::numeric, 6) AS concordance,
       (m).n, (m).events, (m).skipped, (m).converged
FROM rossi_fit;
-- hazard ratios exp(coef) (R: fin 0.6843, prio 1.0958), z, p (R: age
-- p = 0.00903, prio p = 0.00140)
SELECT pg_temp.r((m).hazard_ratio, 4) AS hazard_ratio, pg_temp.r((m).z, 3) AS z,
       pg_temp.r((m).p_value, 5) AS p_value
FROM rossi_fit;
-- 'efron' spelled out is the default
SELECT pg_temp.r((clm.coxph_fit(week, arrest = 1, ARRAY[fin, age, race, wexp, mar, paro, prio], 'efron')).coef, 7) AS coef
FROM rossi;
-- Breslow, fin + prio: -0.3978210, 0.1037460, log-likelihood -667.488646
SELECT pg_temp.r((f).coef, 7) AS coef, round((f).loglik::numeric, 6) AS loglik
FROM (SELECT clm.coxph_fit(week, arrest = 1, ARRAY[fin, prio], 'breslow') AS f FROM rossi) s;

-- the concordance aggregate with the same rule gives the fit's concordance
SELECT round(clm.concordance(week, arrest = 1, clm.coxph_risk(m, ARRAY[fin, age, race, wexp, mar, paro, prio]))::numeric, 6) AS c
FROM rossi, rossi_fit;
-- coxph_risk is exp(x . coef)
SELECT round(clm.coxph_risk(m, ARRAY[1, 25, 0, 1, 0, 1, 3]::float8[])::numeric, 12) AS risk,
       round(exp((m).coef[1] + 25 * (m).coef[2] + (m).coef[4] + (m).coef[6] + 3 * (m).coef[7])::numeric, 12) AS by_hand
FROM rossi_fit;
-- Breslow's baseline: one step per distinct event time (49 of them, weeks
-- 1..52); the first step is d(1) / sum over everyone at risk of exp(x . b)
SELECT array_length((m).baseline_time, 1) AS steps, (m).baseline_time[1] AS first, (m).baseline_time[49] AS last
FROM rossi_fit;
SELECT round((m).baseline_cumhaz[1]::numeric, 12) AS h0_week1,
       round(((SELECT count(*) FROM rossi WHERE week = 1 AND arrest = 1)
              / (SELECT sum(clm.coxph_risk(m, ARRAY[fin, age, race, wexp, mar, paro, prio])) FROM rossi))::numeric, 12) AS by_hand
FROM rossi_fit;
-- and each step adds d(t) / sum_{week >= t} exp(x . b): check them all
WITH steps AS (
  SELECT t, h - coalesce(lag(h) OVER (ORDER BY t), 0) AS inc
  FROM rossi_fit, unnest((m).baseline_time, (m).baseline_cumhaz) u(t, h)
)
SELECT count(*) AS steps_checked,
       max(abs(inc - (SELECT count(*) FILTER (WHERE week = t AND arrest = 1)
                           / sum(clm.coxph_risk(m, ARRAY[fin, age, race, wexp, mar, paro, prio])) FILTER (WHERE week >= t)
                      FROM rossi, rossi_fit))) < 1e-12 AS all_equal
FROM steps;
-- S(t | x) = exp(-H0(t) exp(x . b)): 1 before the first event time, the
-- step value between event times
SELECT clm.coxph_survival(m, ARRAY[0, 25, 0, 1, 0, 1, 3]::float8[], 0.5) AS before_first,
       round(clm.coxph_survival(m, ARRAY[0, 25, 0, 1, 0, 1, 3]::float8[], 29.5)::numeric, 12) AS s_29_5,
       round(exp(-(m).baseline_cumhaz[28] * clm.coxph_risk(m, ARRAY[0, 25, 0, 1, 0, 1, 3]::float8[]))::numeric, 12) AS by_hand,
       (m).baseline_time[28] AS step_at
FROM rossi_fit;

-- rows with a NULL are skipped and counted
SELECT (f).n, (f).skipped, pg_temp.r((f).coef, 7) = (SELECT pg_temp.r((m).coef, 7) FROM rossi_fit) AS same_fit
FROM (SELECT clm.coxph_fit(week, arrest = 1, ARRAY[fin, age, race, wexp, mar, paro, prio]) AS f
      FROM (SELECT * FROM rossi UNION ALL SELECT NULL, 1, 0, 20, 0, 0, 0, 0, 1
            UNION ALL SELECT 10, 1, NULL, 20, 0, 0, 0, 0, 1) r) s;
SELECT (f).n, (f).skipped
FROM (SELECT clm.logit_fit(admit = 1, ARRAY[gre, CASE WHEN gre > 780 THEN NULL ELSE gpa END]) AS f
      FROM grad) s;
SELECT (f).n, (f).skipped
FROM (SELECT clm.logit_fit(CASE WHEN gre > 780 THEN NULL ELSE admit = 1 END, ARRAY[gre, gpa]) AS f FROM grad) s;
-- a GROUP BY per segment: one fit per group
SELECT rank, (f).n, round((f).coef[2]::numeric, 6) AS gpa_coef, (f).converged
FROM (SELECT rank, clm.logit_fit(admit = 1, ARRAY[gpa]) AS f FROM grad GROUP BY rank) s ORDER BY rank;
-- an empty group is NULL
SELECT clm.logit_fit(admit = 1, ARRAY[gre]) IS NULL AS logit_null,
       clm.coxph_fit(week, arrest = 1, ARRAY[fin]) IS NULL AS cox_null
FROM grad, rossi WHERE false;
