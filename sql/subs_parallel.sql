-- clm.subscriptions_agg under partial aggregation: the plan splits into
-- Partial and Finalize aggregates (the combine function runs) and the
-- movements and retention are identical to the serial ones.
SET timezone = 'UTC';
-- 30,000 deterministic subscriptions of 12,000 customers over 2022-2024:
-- overlapping, upgrades, cancellations and returns
CREATE TABLE subs_big AS
SELECT g % 12000 AS customer, (g % 12000) % 3 AS seg,
       '2022-01-01'::timestamptz + ((g * 7919) % 900) * interval '1 day' AS started_at,
       CASE WHEN g % 3 = 0 THEN NULL
            ELSE '2022-01-01'::timestamptz + ((g * 7919) % 900 + 20 + (g * 104729) % 400) * interval '1 day' END AS ended_at,
       (10 + (g * 31) % 90)::float8 AS mrr
FROM generate_series(1::bigint, 30000) g;
ANALYZE subs_big;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE subs_serial AS SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) s FROM subs_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) FROM subs_big;
CREATE TABLE subs_par AS SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) s FROM subs_big;
-- per segment
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT seg, clm.subscriptions_agg(customer, started_at, ended_at, mrr) FROM subs_big GROUP BY 1;
CREATE TABLE subs_par_seg AS SELECT seg, clm.subscriptions_agg(customer, started_at, ended_at, mrr) s FROM subs_big GROUP BY 1;
RESET ALL;
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;
CREATE TABLE subs_serial_seg AS SELECT seg, clm.subscriptions_agg(customer, started_at, ended_at, mrr) s FROM subs_big GROUP BY 1;

-- identical rows (MRR values are whole numbers: sums are exact in any order)
SELECT (SELECT count(*) FROM subs_serial, clm.mrr_movements(s)) AS periods,
       (SELECT array_agg(m ORDER BY period_start) FROM subs_serial, clm.mrr_movements(s) m)
     = (SELECT array_agg(m ORDER BY period_start) FROM subs_par, clm.mrr_movements(s) m) AS movements_identical,
       (SELECT array_agg(m ORDER BY period_start) FROM subs_serial, clm.mrr_retention(s, 'quarter', 2, false) m)
     = (SELECT array_agg(m ORDER BY period_start) FROM subs_par, clm.mrr_retention(s, 'quarter', 2, false) m) AS retention_identical,
       (SELECT array_agg(m ORDER BY seg, period_start) FROM subs_serial_seg, clm.mrr_movements(s) m)
     = (SELECT array_agg(m ORDER BY seg, period_start) FROM subs_par_seg, clm.mrr_movements(s) m) AS segments_identical;
-- the movements add up: end = start + new + expansion + contraction + churn + reactivation,
-- and each period starts where the previous one ended
SELECT count(*) FILTER (WHERE mrr_end <> mrr_start + new_mrr + expansion_mrr + contraction_mrr + churned_mrr + reactivation_mrr
                          OR customers_end <> customers_start + new_customers + reactivated_customers - churned_customers) AS unbalanced,
       count(*) FILTER (WHERE prev_end IS NOT NULL AND (prev_end <> mrr_start OR prev_c <> customers_start)) AS discontinuous,
       sum(new_customers) AS new_customers, max(customers_end) AS max_customers
FROM (SELECT m.*, lag(mrr_end) OVER (ORDER BY period_start) prev_end, lag(customers_end) OVER (ORDER BY period_start) prev_c
      FROM subs_par, clm.mrr_movements(s) m) q;
-- plain SQL cross-check of customers and MRR at each month start (before its first instant)
SELECT count(*) AS months_checked, count(*) FILTER (WHERE m.customers_start = q.c AND m.mrr_start = q.mrr) AS months_equal
FROM subs_par, clm.mrr_movements(s) m
JOIN LATERAL (SELECT count(DISTINCT customer) c, coalesce(sum(mrr), 0) mrr FROM subs_big
              WHERE started_at < m.period_start AND (ended_at IS NULL OR ended_at >= m.period_start)) q ON true;
DROP TABLE subs_big, subs_serial, subs_par, subs_par_seg, subs_serial_seg;
