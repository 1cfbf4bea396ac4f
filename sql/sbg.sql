-- sBG retention model: Fader & Hardie (2007), "How to Project Customer Retention",
-- Journal of Interactive Marketing 21(1), 76-90.  1,000 customers per segment,
-- survivors at the end of years 1-7 (fitting data) and 8-12 (holdout):
--   regular:  631 468 382 326 289 262 241 | 223 207 194 183 173
--   high end: 869 743 653 593 551 517 491 | 468 445 427 409 394
-- Published MLEs: regular alpha = 0.704, beta = 1.182, LL = -1680.3;
--                 high end alpha = 0.668, beta = 3.806, LL = -1611.2.
CREATE TABLE sbg_data (segment text, year int, survivors bigint, holdout boolean);
INSERT INTO sbg_data
SELECT 'regular', y - 1, s, y > 8 FROM unnest(ARRAY[1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]) WITH ORDINALITY u(s, y)
UNION ALL
SELECT 'high end', y - 1, s, y > 8 FROM unnest(ARRAY[1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]) WITH ORDINALITY u(s, y);
CREATE TABLE sbg_models AS
SELECT segment, clm.sbg_fit(year, survivors) AS m FROM sbg_data WHERE NOT holdout GROUP BY segment;
SELECT segment, round((m).alpha::numeric, 3) AS alpha, round((m).beta::numeric, 3) AS beta,
       round((m).loglik::numeric, 1) AS loglik, (m).n, (m).periods, (m).converged,
       round((m).alpha_se::numeric, 3) AS alpha_se, round((m).beta_se::numeric, 3) AS beta_se
FROM sbg_models ORDER BY segment;
-- the same fit from customer rows: 1000 - 631 = 369 regular customers churned at the first
-- renewal (0 renewals made), 631 - 468 = 163 after one renewal, ..., 241 still active after 7
CREATE TABLE sbg_customers AS
SELECT segment, year - 1 AS periods_survived, true AS churned
FROM (SELECT segment, year, survivors, lag(survivors) OVER (PARTITION BY segment ORDER BY year) AS before
      FROM sbg_data WHERE NOT holdout) q, generate_series(1, before - survivors) g WHERE year > 0
UNION ALL
SELECT segment, 7, false FROM sbg_data, generate_series(1, survivors) g WHERE year = 7;
SELECT segment, (f).n AS customers, (f).periods, abs((f).alpha - (m).alpha) < 1e-5 AS same_alpha,
       abs((f).beta - (m).beta) < 1e-5 AS same_beta, abs((f).loglik - (m).loglik) < 1e-6 AS same_loglik
FROM (SELECT segment, clm.sbg_fit_customers(periods_survived, churned) f FROM sbg_customers GROUP BY segment) c
JOIN sbg_models USING (segment) ORDER BY segment;

-- Projection of years 1-12 against the actual survivors (years 8-12 are the holdout, as in
-- the paper's Figure 3: the sBG projection tracks the actual curve within a few percent).
SELECT segment, year, survivors AS actual, round(clm.sbg_expected_survivors(m, 1000, year)::numeric, 1) AS projected,
       round((100 * (clm.sbg_expected_survivors(m, 1000, year) - survivors) / survivors)::numeric, 1) AS error_pct,
       round(clm.sbg_retention(m, year)::numeric, 4) AS retention
FROM sbg_data JOIN sbg_models USING (segment) WHERE year > 0 ORDER BY segment, year;
-- survival and retention identities: S(t) = product of r(1..t); r(t) = (beta + t - 1) / (alpha + beta + t - 1)
SELECT segment,
       max(abs(clm.sbg_survival(m, t) - (SELECT exp(sum(ln(clm.sbg_retention(m, u)))) FROM generate_series(1, t) u))) < 1e-12 AS product_of_retention,
       max(abs(clm.sbg_retention(m, t) - ((m).beta + t - 1) / ((m).alpha + (m).beta + t - 1))) < 1e-15 AS retention_formula,
       clm.sbg_survival(m, 0) AS s0
FROM sbg_models, generate_series(1, 12) t GROUP BY segment, m ORDER BY segment;

-- DEL and DERL (Fader & Hardie 2010, "Customer-Base Valuation in a Contractual Setting: The
-- Perils of Ignoring Heterogeneity", Marketing Science 29(1), eqs. for DEL and DERL in 2F1 form).
-- The closed forms must equal their defining sums: DEL = sum_t S(t) / (1 + d)^t and
-- DERL(n - 1 renewals) = sum_{t >= n} S(t) / S(n - 1) / (1 + d)^(t - n), here summed to t = 2000.
SELECT segment, d, r,
       round(clm.sbg_del(m, d)::numeric, 4) AS del,
       round(clm.sbg_derl(m, d, r)::numeric, 4) AS derl,
       abs(clm.sbg_del(m, d) - (SELECT sum(clm.sbg_survival(m, t) / (1 + d) ^ t) FROM generate_series(0, 2000) t)) < 1e-9 AS del_is_sum,
       abs(clm.sbg_derl(m, d, r) - (SELECT sum(clm.sbg_survival(m, t) / clm.sbg_survival(m, r) / (1 + d) ^ (t - r - 1))
                                    FROM generate_series(r + 1, 2000) t)) < 1e-9 AS derl_is_sum
FROM sbg_models, (VALUES (0.1), (0.25)) v(d), (VALUES (0), (4), (10)) w(r) ORDER BY segment, d, r;
-- By hand: alpha = beta = 1 (uniform churn probabilities) gives S(t) = B(1, 1 + t) / B(1, 1) = 1 / (1 + t),
-- so DEL(d) = sum_t z^t / (t + 1) = -ln(1 - z) / z with z = 1 / (1 + d); d = 0.1: ln(11) * 1.1 = 2.637685.
SELECT round(clm.sbg_del(ROW(1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 0.1)::numeric, 6) AS del_uniform,
       round((ln(11) * 1.1)::numeric, 6) AS by_hand;
-- The published DEL/DERL figures of Fader & Hardie (2010) were not at hand: the 2F1 forms are
-- checked against the defining sums above, at the 2007 paper's fitted parameters.
-- A customer who renewed 0 times faces the first renewal: DEL = 1 + DERL(0) / (1 + d)
SELECT segment, abs(clm.sbg_del(m, 0.1) - (1 + clm.sbg_derl(m, 0.1, 0) / 1.1)) < 1e-12 AS del_derl_identity
FROM sbg_models ORDER BY segment;

-- partial aggregation gives the same fit
CREATE TABLE sbg_rows AS SELECT * FROM sbg_customers, generate_series(1, 3) g;
ANALYZE sbg_rows;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT clm.sbg_fit_customers(periods_survived, churned) FROM sbg_rows WHERE segment = 'regular';
CREATE TABLE sbg_par AS SELECT clm.sbg_fit_customers(periods_survived, churned) f FROM sbg_rows WHERE segment = 'regular';
RESET ALL;
SET max_parallel_workers_per_gather = 0;
SELECT (f).n, abs((f).alpha - (m).alpha) < 1e-5 AS same_alpha, abs((f).beta - (m).beta) < 1e-5 AS same_beta,
       round(((f).loglik / 3)::numeric, 1) AS loglik_per_copy
FROM sbg_par, sbg_models WHERE segment = 'regular' ORDER BY 1;
RESET ALL;
DROP TABLE sbg_rows, sbg_par;

-- Churn that accelerates (10%, 22%, 43%, 75%) is outside what sBG can describe (its
-- retention rates only rise): the likelihood keeps growing towards the homogeneous
-- geometric limit alpha, beta -> infinity with alpha / (alpha + beta) = 900 churned /
-- 3000 periods at risk = 0.3.  The fit says it did not converge instead of returning a
-- silent answer.
SELECT (f).converged, (f).iterations > 100 AS many_iterations, round(((f).alpha / ((f).alpha + (f).beta))::numeric, 3) AS churn_p
FROM (SELECT clm.sbg_fit(p, s) f FROM (VALUES (0, 1000), (1, 900), (2, 700), (3, 400), (4, 100)) v(p, s)) q;

-- bad input
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (0, 100), (1, 80), (2, 90)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (0, 100), (2, 80)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (0, 100), (1, -5)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (-1, 100)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (0, 100)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (0, 100), (1, 100), (2, 100)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_fit_customers(k, c) FROM (VALUES (-2, true)) v(k, c)$$);
SELECT error_of($$SELECT clm.sbg_fit_customers(k, c) FROM (VALUES (1, true), (2, true)) v(k, c)$$);
SELECT error_of($$SELECT clm.sbg_del(m, 0) FROM sbg_models$$);
SELECT error_of($$SELECT clm.sbg_del(m, 'NaN') FROM sbg_models$$);
SELECT error_of($$SELECT clm.sbg_derl(m, 0.1, -1) FROM sbg_models$$);
SELECT error_of($$SELECT clm.sbg_retention(m, 0) FROM sbg_models$$);
SELECT error_of($$SELECT clm.sbg_survival(m, -1) FROM sbg_models$$);
SELECT error_of($$SELECT clm.sbg_expected_survivors(m, -10, 1) FROM sbg_models$$);
SELECT error_of($$SELECT clm.sbg_survival(ROW(-1, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1)$$);
SELECT error_of($$SELECT clm.sbg_survival(ROW(NULL, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1)$$);
-- counts beyond bigint: an error, not a wrap-around (pooled survivors
-- wrapped to a negative count, reported as a missing period; the customer
-- form's pair sum wrapped), and n of a fit over 2^63 - 1 customers is exact
-- (it was cast from a double, out of range: -9223372036854775808)
SELECT error_of($$SELECT clm.sbg_fit(p, s) FROM (VALUES (0, 9000000000000000000), (0, 9000000000000000000), (1, 5)) v(p, s)$$);
SELECT error_of($$SELECT clm.sbg_customers_final('[0:1]={9223372036854775807,1}')$$);
SELECT error_of($$SELECT clm.sbg_customers_final('[0:3]={4611686018427387904,4611686018427387904,1,0}')$$);
SELECT (clm.sbg_fit(p, s)).n AS n_max FROM (VALUES (0, 9223372036854775807), (1, 5)) v(p, s);
-- extreme hand-built models: retention (beta + t - 1) / (alpha + beta + t - 1)
-- is 1/2 for alpha = beta, tiny or huge (it was NaN, 0/0, at 1e-300 and 0 at
-- 1.7e308); a survival that cannot be evaluated is an error, not NaN (beta =
-- 1.7e308) or a share above 1 (S(1) = beta / (alpha + beta) came out 1.00003
-- for alpha 2, beta 1e10)
SELECT clm.sbg_retention(ROW(1e-300, 1e-300, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1) AS tiny,
       clm.sbg_retention(ROW(1.7e308, 1.7e308, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1) AS huge,
       clm.sbg_retention(ROW(1, 1e-300, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1) AS tiny_beta;
SELECT error_of($$SELECT clm.sbg_survival(ROW(0.5, 1.7e308, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 0)$$);
SELECT error_of($$SELECT clm.sbg_expected_survivors(ROW(2, 1e10, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.sbg, 1000, 1)$$);
-- empty input: NULL model
SELECT clm.sbg_fit(year, survivors) IS NULL AS empty_is_null FROM sbg_data WHERE false;
DROP TABLE sbg_data, sbg_models, sbg_customers;
