-- The clm demo report over the CDNOW master data loaded by scripts/demo into
-- schema clm_demo (table clm_demo.cdnow: customer_id, at, cds, amount).
-- Each feature appends its own section at the end of this file.
\pset footer off
\pset null '-'
SET search_path = pg_catalog;
SET timezone = 'UTC';

\echo
\echo '## Data'
SELECT count(*) AS purchases, count(DISTINCT customer_id) AS customers,
       min(at)::date AS first_day, max(at)::date AS last_day,
       round(sum(amount)::numeric, 2) AS revenue
FROM clm_demo.cdnow;

\echo
\echo '## Customer summary (clm.rfm_summary): daily periods, weeks, calibration to 1997-09-30'
CREATE TEMP TABLE demo_rfm AS
SELECT customer_id, (s).*
FROM (SELECT customer_id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') AS s
      FROM clm_demo.cdnow GROUP BY customer_id) q
WHERE s IS NOT NULL;
SELECT customer_id, frequency, round(recency::numeric, 2) AS recency_weeks,
       round(t::numeric, 2) AS t_weeks, round(monetary::numeric, 2) AS mean_repeat_spend,
       round(total::numeric, 2) AS total_spend
FROM demo_rfm ORDER BY customer_id LIMIT 5;

\echo
\echo '## Repeat-purchase distribution in the calibration period'
SELECT CASE WHEN frequency >= 7 THEN '7+' ELSE frequency::text END AS repeat_days,
       count(*) AS customers,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
       round(avg(monetary) FILTER (WHERE frequency > 0)::numeric, 2) AS mean_repeat_spend
FROM demo_rfm GROUP BY 1 ORDER BY min(frequency);

\echo
\echo '## Time to second purchase (clm.km_agg, Kaplan-Meier): days from the first purchase day'
\echo '## to the next purchase day, censored at 1998-06-30; one curve per first-purchase month'
CREATE TEMP TABLE demo_second AS
SELECT customer_id, date_trunc('month', first_day)::date AS cohort,
       coalesce(second_day, date '1998-06-30') - first_day AS days, second_day IS NOT NULL AS repeated
FROM (SELECT customer_id, min(d) AS first_day, min(d) FILTER (WHERE d > fd) AS second_day
      FROM (SELECT customer_id, at::date AS d, min(at::date) OVER (PARTITION BY customer_id) AS fd
            FROM clm_demo.cdnow) p
      GROUP BY customer_id) q;
CREATE TEMP TABLE demo_km AS
SELECT cohort, count(*) AS customers, clm.km_agg(days, repeated) AS km FROM demo_second GROUP BY cohort;
SELECT cohort, customers, clm.median_survival(km) AS median_days,
       (SELECT round(min(survival)::numeric, 3) FROM clm.survival(km) WHERE time <= 30) AS no_repeat_30d,
       (SELECT round(min(survival)::numeric, 3) FROM clm.survival(km) WHERE time <= 90) AS no_repeat_90d,
       (SELECT round(min(survival)::numeric, 3) FROM clm.survival(km) WHERE time <= 365) AS no_repeat_1y,
       (SELECT round(min(survival)::numeric, 3) FROM clm.survival(km)) AS no_repeat_end
FROM demo_km ORDER BY cohort;
\echo 'January vs March first-time buyers (log-rank):'
SELECT observed_a AS jan_repeaters, round(expected_a::numeric, 1) AS jan_expected,
       observed_b AS mar_repeaters, round(expected_b::numeric, 1) AS mar_expected,
       round(chisq::numeric, 2) AS chisq, round(p_value::numeric, 4) AS p_value
FROM clm.logrank((SELECT km FROM demo_km WHERE cohort = '1997-01-01'),
                 (SELECT km FROM demo_km WHERE cohort = '1997-03-01'));

\echo
\echo '## Probabilistic CLV: BG/NBD + Gamma-Gamma fitted on the calibration period (weeks, to 1997-09-30)'
CREATE TEMP TABLE demo_clv_models AS
SELECT (SELECT clm.bgnbd_fit(frequency, recency, t) FROM demo_rfm) AS bg,
       (SELECT clm.gamma_gamma_fit(frequency, monetary) FROM demo_rfm WHERE frequency > 0 AND monetary > 0) AS gg;
SELECT 'BG/NBD' AS model, round((bg).r::numeric, 3) AS r_or_p, round((bg).alpha::numeric, 3) AS alpha_or_q,
       round((bg).a::numeric, 3) AS a_or_v, round((bg).b::numeric, 3) AS b,
       round((bg).loglik::numeric, 1) AS loglik, (bg).n::bigint AS customers, (bg).converged
FROM demo_clv_models
UNION ALL
SELECT 'Gamma-Gamma', round((gg).p::numeric, 3), round((gg).q::numeric, 3), round((gg).v::numeric, 3), NULL,
       round((gg).loglik::numeric, 1), (gg).n::bigint, (gg).converged
FROM demo_clv_models;

\echo
\echo '## Top 10 customers by 12-month CLV (1% monthly discount) and their P(alive)'
SELECT customer_id, frequency, round(recency::numeric, 1) AS recency_weeks, round(t::numeric, 1) AS t_weeks,
       round(monetary::numeric, 2) AS mean_repeat_spend,
       round(clm.p_alive(bg, frequency, recency, t)::numeric, 3) AS p_alive,
       round(clm.expected_purchases(bg, 52, frequency, recency, t)::numeric, 2) AS purchases_next_52w,
       round(clm.clv(bg, gg, frequency, recency, t, monetary)::numeric, 2) AS clv_12m
FROM demo_rfm, demo_clv_models
ORDER BY clm.clv(bg, gg, frequency, recency, t, monetary) DESC, customer_id
LIMIT 10;

\echo
\echo '## Model check: holdout purchases (1997-10-01 .. 1998-06-30) vs BG/NBD predictions'
CREATE TEMP TABLE demo_holdout AS
SELECT customer_id, (h).*
FROM (SELECT customer_id, clm.calibration_holdout(at, amount::float8, '1997-09-30', '1998-06-30', 'day', 'week') AS h
      FROM clm_demo.cdnow GROUP BY customer_id) q
WHERE h IS NOT NULL;
SELECT frequency_cal, customers, round(actual::numeric, 2) AS actual_mean, round(predicted::numeric, 2) AS predicted_mean
FROM clm.holdout_check((SELECT bg FROM demo_clv_models), 'demo_holdout')
ORDER BY frequency_cal;

\echo
\echo '## Lifecycle stages (clm.track, clm.import_history): behavioral model replayed on CDNOW'
\echo 'Customers 1-500: new at the first purchase, active at a repeat purchase within 180 days,'
\echo 'at_risk / dormant / churned after 90 / 180 / 365 days without purchase, reactivated by a'
\echo 'purchase after dormancy. The history is imported (validated against the graph) into a'
\echo 'tracked table inside a transaction that is rolled back at the end.'
BEGIN;
CREATE TEMP TABLE demo_stage_events AS
WITH d AS (SELECT DISTINCT customer_id, at::date AS day FROM clm_demo.cdnow WHERE customer_id <= 500),
p AS (SELECT customer_id, day, lag(day) OVER w AS prev, lead(day) OVER w AS next, row_number() OVER w AS n
      FROM d WINDOW w AS (PARTITION BY customer_id ORDER BY day)),
ev AS (SELECT customer_id, day::timestamptz AS at,
              CASE WHEN n = 1 THEN 'new' WHEN day - prev > 180 THEN 'reactivated' ELSE 'active' END AS stage
       FROM p
       UNION ALL
       SELECT customer_id, (day + k.days)::timestamptz, k.stage
       FROM p CROSS JOIN (VALUES (90, 'at_risk'), (180, 'dormant'), (365, 'churned')) k(days, stage)
       WHERE day + k.days < coalesce(next, DATE '1998-07-01'))
SELECT customer_id AS customer_key, stage, at AS changed_at
FROM (SELECT *, lag(stage) OVER (PARTITION BY customer_id ORDER BY at) AS prev_stage FROM ev) e
WHERE stage IS DISTINCT FROM prev_stage;
-- an ordinary table: clm.track refuses temporary ones (their history could not be erased);
-- this transaction is rolled back, table and history with it
CREATE TABLE clm_demo.demo_customers AS
SELECT DISTINCT ON (customer_key) customer_key AS id, stage
FROM demo_stage_events ORDER BY customer_key, changed_at DESC;
SELECT clm.track('clm_demo.demo_customers', 'id', 'stage', 'behavioral', record_existing => false) AS existing_recorded;
SELECT clm.import_history('clm_demo.demo_customers', 'demo_stage_events') AS transitions_imported;

\echo 'Stage mix at three dates (clm.stage_at)'
SELECT s.stage,
       count(*) FILTER (WHERE clm.stage_at('clm_demo.demo_customers', c.id, '1997-03-31') = s.stage) AS "1997-03-31",
       count(*) FILTER (WHERE clm.stage_at('clm_demo.demo_customers', c.id, '1997-09-30') = s.stage) AS "1997-09-30",
       count(*) FILTER (WHERE clm.stage_at('clm_demo.demo_customers', c.id, '1998-06-30') = s.stage) AS "1998-06-30"
FROM clm.stage s CROSS JOIN clm_demo.demo_customers c
WHERE s.model = 'behavioral' GROUP BY s.stage, s.position ORDER BY s.position;

\echo 'Transition matrix 1997-01-01 to 1998-07-01 (from_stage - = entry)'
SELECT coalesce(from_stage, '-') AS from_stage, to_stage, transitions, round(probability::numeric, 3) AS probability
FROM clm.transition_matrix('clm_demo.demo_customers', '1997-01-01', '1998-07-01')
ORDER BY from_stage NULLS FIRST, transitions DESC, to_stage;

\echo 'Funnel new > active > at_risk > dormant > churned, strict order vs any order'
SELECT f.step, f.stage, f.customers AS strict_customers, round(f.cumulative_conversion::numeric, 3) AS strict_cum,
       a.customers AS any_order_customers, round(a.cumulative_conversion::numeric, 3) AS any_order_cum
FROM clm.stage_funnel('clm_demo.demo_customers', '1997-01-01', '1998-07-01', true,
                      ARRAY['new', 'active', 'at_risk', 'dormant', 'churned']) f
JOIN clm.stage_funnel('clm_demo.demo_customers', '1997-01-01', '1998-07-01', false,
                      ARRAY['new', 'active', 'at_risk', 'dormant', 'churned']) a USING (step)
ORDER BY f.step;

\echo 'Time in stage (completed stays)'
SELECT stage, completed_stays, open_stays, date_trunc('day', mean_time) AS mean_time,
       date_trunc('day', median_time) AS median_time
FROM clm.time_in_stage WHERE model = 'behavioral' ORDER BY position;
ROLLBACK;

\echo
\echo '## Monthly cohort retention (clm.retention): share of each 1997 Q1 cohort buying in month N'
CREATE TEMP TABLE demo_activity AS
SELECT clm.activity_agg(customer_id, at, 'month') AS s FROM clm_demo.cdnow;
SELECT to_char(cohort_start, 'YYYY-MM') AS cohort, max(cohort_size) AS customers,
       round(100 * max(rate) FILTER (WHERE period_number = 1)::numeric, 1) AS "m1 %",
       round(100 * max(rate) FILTER (WHERE period_number = 2)::numeric, 1) AS "m2 %",
       round(100 * max(rate) FILTER (WHERE period_number = 3)::numeric, 1) AS "m3 %",
       round(100 * max(rate) FILTER (WHERE period_number = 6)::numeric, 1) AS "m6 %",
       round(100 * max(rate) FILTER (WHERE period_number = 12)::numeric, 1) AS "m12 %",
       round(100 * max(rate) FILTER (WHERE period_number = 15)::numeric, 1) AS "m15 %"
FROM clm.retention((SELECT s FROM demo_activity))
GROUP BY cohort_start ORDER BY cohort_start;

\echo
\echo '## Monthly lifecycle (clm.lifecycle): new, returning, resurrecting, dormant customers'
SELECT to_char(period_start, 'YYYY-MM') AS month,
       sum(customers) FILTER (WHERE status = 'new') AS new,
       sum(customers) FILTER (WHERE status = 'returning') AS returning,
       sum(customers) FILTER (WHERE status = 'resurrecting') AS resurrecting,
       sum(customers) FILTER (WHERE status = 'dormant') AS dormant,
       round(max(quick_ratio)::numeric, 2) AS quick_ratio
FROM clm.lifecycle((SELECT s FROM demo_activity))
GROUP BY period_start ORDER BY period_start;

\echo
\echo '## Scoring pipeline (clm.register / clm.refresh): CDNOW scored as of 1997-09-30'
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT name, model, period, time_unit
FROM clm.register('cdnow_demo', 'clm_demo.cdnow', 'customer_id', 'at', 'amount', incremental => false);
SELECT mode, rows, status FROM clm.refresh('cdnow_demo', true, '1997-09-30');
\echo 'Fitted models (BG/NBD, Gamma-Gamma) of this version'
SELECT version, customers, round((model_params->>'r')::numeric, 3) AS r, round((model_params->>'alpha')::numeric, 3) AS alpha,
       round((model_params->>'a')::numeric, 3) AS a, round((model_params->>'b')::numeric, 3) AS b,
       round((spend_params->>'p')::numeric, 2) AS p, round((spend_params->>'q')::numeric, 2) AS q,
       round((spend_params->>'v')::numeric, 2) AS v
FROM clm.score_versions WHERE source = 'cdnow_demo';
\echo 'RFM segments: customers, mean P(alive), 12-month CLV'
\echo '(BG/NBD: customers with no repeat purchase have P(alive) = 1 by the model; their low CLV reflects their low purchase rate)'
SELECT segment, count(*) AS customers, round(avg(p_alive)::numeric, 3) AS mean_p_alive,
       round(sum(clv)::numeric, 0) AS clv_12m, round(avg(churn_risk)::numeric, 3) AS mean_churn_risk
FROM clm.scores WHERE source = 'cdnow_demo' GROUP BY segment ORDER BY clv_12m DESC;
\echo 'Behavioural stages'
SELECT stage, count(*) AS customers FROM clm.scores WHERE source = 'cdnow_demo' GROUP BY stage ORDER BY customers DESC;
\echo 'Top 5 customers by 12-month CLV'
SELECT customer_key, frequency, round(recency::numeric, 1) AS recency_w, round(t::numeric, 1) AS t_w,
       round(monetary::numeric, 2) AS monetary, round(p_alive::numeric, 3) AS p_alive,
       round(expected_purchases::numeric, 2) AS purchases_12m, round(clv::numeric, 2) AS clv_12m, segment, stage
FROM clm.scores WHERE source = 'cdnow_demo' ORDER BY clv DESC, customer_key LIMIT 5;
\echo
\echo '## Acting on the lifecycle (clm.winback, value tiers): who is worth winning back'
\echo 'Value tiers (CLV quantiles: top 5 %, next 15 %, next 30 %, rest)'
SELECT tier, count(*) AS customers, round(min(clv)::numeric, 2) AS min_clv_12m, round(sum(clv)::numeric, 0) AS clv_12m,
       round((100 * sum(clv) / sum(sum(clv)) OVER ())::numeric, 1) AS "% of clv"
FROM clm.scores WHERE source = 'cdnow_demo' GROUP BY tier ORDER BY tier;
\echo 'Top 10 win-back candidates (at_risk, dormant, churned) by value at stake = clv / p_alive * (1 - p_alive)'
SELECT customer_key, stage, segment, round(p_alive::numeric, 3) AS p_alive, round(clv::numeric, 2) AS clv_12m,
       round(clv_if_active::numeric, 2) AS clv_if_active, round(value_at_stake::numeric, 2) AS value_at_stake,
       last_at::date AS last_purchase
FROM clm.winback('cdnow_demo', 10);
ROLLBACK;

\echo
\echo '## Churn prediction with covariates (clm.logit_fit, clm.auc, clm.brier, clm.gains)'
\echo 'Who buys nothing in the holdout (1997-10-01 .. 1998-06-30)? A logistic model on calibration'
\echo 'features (repeat days, weeks since the last purchase, weeks observed, log(1 + mean repeat spend)),'
\echo 'fitted on even customer ids and evaluated on odd ones, against BG/NBD''s 1 - P(alive), which'
\echo 'sees no holdout data at all.'
CREATE TEMP TABLE demo_churn AS
SELECT h.customer_id, h.customer_id % 2 = 0 AS train, h.frequency_holdout = 0 AS churned,
       ARRAY[h.frequency_cal, h.t_cal - h.recency_cal, h.t_cal, ln(1 + coalesce(h.monetary_cal, 0))]::float8[] AS x,
       1 - clm.p_alive(m.bg, h.frequency_cal, h.recency_cal, h.t_cal) AS bg_churn
FROM demo_holdout h, demo_clv_models m;
CREATE TEMP TABLE demo_churn_model AS
SELECT clm.logit_fit(churned, x) AS m FROM demo_churn WHERE train;
SELECT u.feature, round(u.coef::numeric, 4) AS coef, round(u.odds_ratio::numeric, 4) AS odds_ratio,
       round(u.p_value::numeric, 4) AS p_value
FROM demo_churn_model,
     unnest(ARRAY['intercept', 'repeat_days', 'weeks_since_last', 'weeks_observed', 'log1p_mean_spend'],
            (m).coef, (m).odds_ratio, (m).p_value) WITH ORDINALITY u(feature, coef, odds_ratio, p_value, o)
ORDER BY u.o;
SELECT (m).n AS train_customers, round((m).loglik::numeric, 1) AS loglik, round((m).null_loglik::numeric, 1) AS null_loglik,
       (m).iterations, (m).converged
FROM demo_churn_model;
CREATE TEMP TABLE demo_churn_test AS
SELECT churned, clm.logit_predict(m, x) AS p_logit, bg_churn AS p_bgnbd
FROM demo_churn, demo_churn_model WHERE NOT train;
\echo 'Test half: AUC and Brier score of each'
SELECT 'logistic (clm.logit_fit)' AS model, count(*) AS customers, round(avg(churned::int)::numeric, 3) AS churn_rate,
       round(clm.auc(p_logit, churned)::numeric, 4) AS auc, round(clm.brier(p_logit, churned)::numeric, 4) AS brier
FROM demo_churn_test
UNION ALL
SELECT 'BG/NBD 1 - P(alive)', count(*), round(avg(churned::int)::numeric, 3),
       round(clm.auc(p_bgnbd, churned)::numeric, 4), round(clm.brier(p_bgnbd, churned)::numeric, 4)
FROM demo_churn_test;
\echo 'Gains by score decile (1 = highest predicted churn): churners caught, lift.  BG/NBD gives'
\echo 'P(alive) = 1 to every customer without a repeat purchase, so they tie at 1 - P(alive) = 0 at the'
\echo 'bottom (clm.gains cuts ties with non-churners first): the one-time buyers it cannot rank churn most.'
SELECT l.bucket, l.customers, l.events AS logit_churners, round(l.lift::numeric, 2) AS logit_lift,
       round(l.cumulative_events_share::numeric, 3) AS logit_cum_share,
       b.events AS bgnbd_churners, round(b.lift::numeric, 2) AS bgnbd_lift,
       round(b.cumulative_events_share::numeric, 3) AS bgnbd_cum_share
FROM clm.gains((SELECT clm.gains_agg(p_logit, churned) FROM demo_churn_test)) l
JOIN clm.gains((SELECT clm.gains_agg(p_bgnbd, churned) FROM demo_churn_test)) b USING (bucket)
ORDER BY l.bucket;
