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
