-- Driver for scripts/valgrind (not a regression test: it prints, it does
-- not assert): moderate-size edge paths of clm's aggregate states, growth
-- past the inline/initial capacities, unsorted input, combine, use as
-- window aggregates, text and binary (COPY BINARY) round trips.
--   CLM_PREFIX=/tmp/clm-prefix-x scripts/valgrind $PWD/scripts/vg/stress.sql
-- Writes /tmp/clm-vg-bin.dat (server side).
SET timezone = 'UTC';
SELECT setseed(0.5);
CREATE TABLE ev AS
SELECT (g % 40) AS customer, (g % 3) AS seg,
       timestamptz '2020-01-01' + ((g * 7919) % 1500) * interval '1 day' + (g % 24) * interval '1 hour' AS at,
       ((g * 31) % 100)::float8 AS amount
FROM generate_series(1, 6000) g;
ALTER TABLE ev SET (parallel_workers = 2);
ANALYZE ev;
-- rfm: ~150 distinct days per customer (inline 13, growth, compaction)
SELECT seg, count(*), sum((r).frequency), round(sum((r).monetary)::numeric, 6)
FROM (SELECT seg, customer, clm.rfm_summary(at, amount, '2024-06-01', 'day', 'week') r FROM ev GROUP BY 1, 2) q
GROUP BY 1 ORDER BY 1;
-- activity: many periods per customer, window use, text and binary round trips
CREATE TABLE act AS SELECT seg, clm.activity_agg(customer, at, 'week') s FROM ev GROUP BY seg;
SELECT seg, (clm.activity_info(s)).* FROM act ORDER BY seg;
SELECT (clm.activity_info(clm.activity_merge(s))).* FROM act;
SELECT count(*), sum(retained) FROM act, clm.retention(s);
SELECT count(*) FROM act, clm.lifecycle(s);
SELECT count(*) FROM act, clm.stickiness(s, 4);
SELECT count(*) FROM act, clm.churn_rate(s);
SELECT bool_and(s::text::clm.activity::text = s::text) FROM act;
SELECT customer, (clm.activity_info(clm.activity_agg(customer, at, 'month') OVER w)).customers
FROM ev WINDOW w AS (ORDER BY at ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) ORDER BY at, customer LIMIT 5;
-- km: many distinct times, growth and compaction, window use
SELECT seg, clm.median_survival(clm.km_agg(amount, customer % 2 = 0)) FROM ev GROUP BY seg ORDER BY seg;
SELECT count(*) FROM (SELECT clm.km_agg(extract(epoch FROM at) / 3600, customer % 3 = 0) s FROM ev) q, clm.survival(s);
SELECT customer, clm.median_survival(clm.km_agg(amount, true) OVER w)
FROM ev WINDOW w AS (ORDER BY at, customer ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) ORDER BY at, customer LIMIT 5;
-- subscriptions: growth, window use
SELECT count(*), sum(new_customers) FROM (SELECT clm.subscriptions_agg(customer, at, at + interval '30 days', amount) s FROM ev) q, clm.mrr_movements(s);
SELECT customer, length(clm.subscriptions_agg(customer, at, NULL, amount) OVER w::text)
FROM ev WINDOW w AS (ORDER BY at, customer ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) ORDER BY at, customer LIMIT 5;
-- clv fit states: thousands of patterns (rehash), text round trip
CREATE TABLE cs AS
SELECT g AS id, (g % 20)::float8 AS x, CASE WHEN g % 20 = 0 THEN 0 ELSE (g % 37)::float8 + (g % 20) END AS t_x,
       40 + (g % 37)::float8 + (g % 20) AS t
FROM generate_series(1, 5000) g;
SELECT length(clm.bgnbd_fit(x, t_x, t)::text) > 0 FROM cs;
-- partial aggregation of all of them
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT seg, count(*), sum((r).frequency), round(sum((r).monetary)::numeric, 6)
FROM (SELECT seg, customer, clm.rfm_summary(at, amount, '2024-06-01', 'day', 'week') r FROM ev GROUP BY 1, 2) q
GROUP BY 1 ORDER BY 1;
SELECT (clm.activity_info(clm.activity_agg(customer, at, 'week'))).* FROM ev;
SELECT count(*), sum(retained) FROM (SELECT clm.activity_agg(customer, at, 'day') s FROM ev) q, clm.retention(s);
SELECT seg, clm.median_survival(clm.km_agg(amount, customer % 2 = 0)) FROM ev GROUP BY seg ORDER BY seg;
SELECT count(*), sum(new_customers) FROM (SELECT clm.subscriptions_agg(customer, at, at + interval '30 days', amount) s FROM ev) q, clm.mrr_movements(s);
EXPLAIN (COSTS OFF) SELECT clm.activity_agg(customer, at, 'week') FROM ev;
-- binary send/recv through COPY BINARY
RESET ALL;
SET timezone = 'UTC';
CREATE TABLE bin AS SELECT (SELECT clm.activity_agg(customer, at, 'week') FROM ev) a,
  (SELECT clm.km_agg(amount, true) FROM ev) k, (SELECT clm.subscriptions_agg(customer, at, NULL, amount) FROM ev) s;
COPY bin TO '/tmp/clm-vg-bin.dat' (FORMAT binary);
CREATE TABLE bin2 (LIKE bin);
COPY bin2 FROM '/tmp/clm-vg-bin.dat' (FORMAT binary);
SELECT a::text = (SELECT a::text FROM bin), k::text = (SELECT k::text FROM bin), s::text = (SELECT s::text FROM bin) FROM bin2;
