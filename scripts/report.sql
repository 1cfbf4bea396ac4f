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
