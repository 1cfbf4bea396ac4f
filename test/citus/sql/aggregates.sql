-- Every clm aggregate on tables distributed by customer equals the same
-- aggregate over a local copy of the same rows.  The CDNOW master file
-- (69,659 purchases of 23,570 customers) is distributed over 4 shards on
-- two workers.  coordinator_aggregation_strategy = 'disabled' makes any
-- aggregate Citus can neither split nor push down fail instead of pulling
-- every row to the coordinator.  extra_float_digits stays at its default:
-- Citus passes intermediate results as text, so a lower setting on the
-- coordinator rounds them.
\set VERBOSITY terse
SET timezone = 'UTC';
SET citus.coordinator_aggregation_strategy = 'disabled';
-- the coordinator's plan of a query, one line a row; the query on the
-- workers is shown by EXPLAIN VERBOSE as "Query: ..." lines
CREATE FUNCTION plan_of(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF, VERBOSE) ' || q LOOP RETURN NEXT l; END LOOP;
END $$;
-- "split": the workers compute partial states (worker_partial_agg) that the
-- coordinator combines (coord_combine_agg); "pushed down": the whole
-- aggregate runs on the workers (no combine on the coordinator)
CREATE FUNCTION citus_strategy(q text) RETURNS text LANGUAGE sql AS $$
SELECT CASE WHEN bool_or(p LIKE '%worker_partial_agg%') AND bool_or(p LIKE '%coord_combine_agg%') THEN 'split'
            WHEN bool_or(p LIKE '%Task Count: 4%') AND NOT bool_or(p LIKE '%coord_combine_agg%') THEN 'pushed down'
            ELSE 'other' END
FROM plan_of(q) p $$;

CREATE TABLE lines (line text);
\copy lines FROM 'data/CDNOW_master.txt'
CREATE TABLE ev_local AS
SELECT f[1]::int AS id, f[1]::bigint AS idb, f[1] AS idt,
       md5(f[1])::uuid AS idu, to_date(f[2], 'YYYYMMDD')::timestamptz AS at, f[4]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM lines) s
WHERE f[1] <> 'customer_id';
DROP TABLE lines;
CREATE TABLE ev_dist (LIKE ev_local);
SELECT create_distributed_table('ev_dist', 'id');
INSERT INTO ev_dist SELECT * FROM ev_local;
SELECT count(*) AS purchases, count(DISTINCT id) AS customers, round(sum(amount)::numeric, 2) AS amount FROM ev_dist;
-- 4 shards, 2 on each worker
SELECT count(*) AS shards, count(DISTINCT nodeport) AS workers
FROM pg_dist_shard JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)
WHERE logicalrelid = 'ev_dist'::regclass;

-- clm.activity_agg, every key type and optional argument: split, and the
-- state (its text form lists customers in key order) equals the local one
SELECT citus_strategy($$SELECT clm.activity_agg(id, at, 'month') FROM ev_dist$$) AS activity_plan;
SELECT (SELECT clm.activity_agg(id, at, 'month', 'UTC')::text FROM ev_dist)
     = (SELECT clm.activity_agg(id, at, 'month', 'UTC')::text FROM ev_local) AS int_same,
       (SELECT clm.activity_agg(idb, at, 'week', 'Europe/Berlin')::text FROM ev_dist)
     = (SELECT clm.activity_agg(idb, at, 'week', 'Europe/Berlin')::text FROM ev_local) AS bigint_same,
       (SELECT clm.activity_agg(idt, at, 'quarter', 'America/New_York')::text FROM ev_dist)
     = (SELECT clm.activity_agg(idt, at, 'quarter', 'America/New_York')::text FROM ev_local) AS text_same,
       (SELECT clm.activity_agg(idu, at, 'month', 'UTC', '1997-01-01')::text FROM ev_dist)
     = (SELECT clm.activity_agg(idu, at, 'month', 'UTC', '1997-01-01')::text FROM ev_local) AS uuid_same;
-- without the zone argument the periods follow the session time zone of
-- the connection that computes them: on the workers, the servers' timezone
-- setting (Etc/UTC here), since Citus does not pass the coordinator's SET on
SET timezone = 'America/New_York';
SELECT (SELECT (clm.activity_info(clm.activity_agg(id, at, 'month'))).time_zone FROM ev_dist) AS dist_zone,
       (SELECT (clm.activity_info(clm.activity_agg(id, at, 'month'))).time_zone FROM ev_local) AS local_zone;
-- unless SET LOCAL is propagated to the workers in a transaction
SET citus.propagate_set_commands = 'local';
BEGIN;
SET LOCAL timezone = 'America/New_York';
SELECT (SELECT clm.activity_agg(id, at, 'month')::text FROM ev_dist)
     = (SELECT clm.activity_agg(id, at, 'month')::text FROM ev_local) AS set_local_same;
COMMIT;
RESET citus.propagate_set_commands;
SET timezone = 'UTC';
-- the distributed state's own numbers: 23,570 customers, months 1997-01 .. 1998-06
SELECT (clm.activity_info(s)).* FROM (SELECT clm.activity_agg(idt, at, 'month', 'UTC') s FROM ev_dist) q;
-- cohort retention of the January 1997 cohort (7,846 customers) over the first 4 months
SELECT period_number, cohort_size, retained, round(rate::numeric, 4) AS rate
FROM (SELECT clm.activity_agg(id, at, 'month', 'UTC') s FROM ev_dist) q, clm.retention(s)
WHERE cohort_start = '1997-01-01' AND period_number < 4 ORDER BY period_number;
-- grouped by something else than the customer: split per group
SELECT (SELECT array_agg(s::text ORDER BY y) FROM (SELECT extract(year FROM at) y, clm.activity_agg(id, at, 'month', 'UTC') s FROM ev_dist GROUP BY 1) q)
     = (SELECT array_agg(s::text ORDER BY y) FROM (SELECT extract(year FROM at) y, clm.activity_agg(id, at, 'month', 'UTC') s FROM ev_local GROUP BY 1) q) AS by_year_same;
-- a period that changes within the aggregate is refused on the workers too
SELECT clm.activity_agg(id, at, CASE WHEN id = 5 THEN 'week' ELSE 'month' END) FROM ev_dist;
-- activity_merge of per-shard-group states (a rollup stored in a distributed table)
CREATE TABLE act_rollup (id int, s clm.activity);
SELECT create_distributed_table('act_rollup', 'id');
INSERT INTO act_rollup SELECT id, clm.activity_agg(id, at, 'month', 'UTC') FROM ev_dist GROUP BY id;
SELECT citus_strategy($$SELECT clm.activity_merge(s) FROM act_rollup$$) AS merge_plan;
SELECT (SELECT clm.activity_merge(s)::text FROM act_rollup)
     = (SELECT clm.activity_agg(id, at, 'month', 'UTC')::text FROM ev_local) AS merge_same;

-- subscriptions: one subscription per purchase, 30 days, MRR = the amount
-- rounded to whole dollars (so that every MRR sum is exact whatever the order
-- of the additions: an expansion by 1e-13 would count as one)
SELECT citus_strategy($$SELECT clm.subscriptions_agg(idb, at, at + interval '30 days', round(amount)) FROM ev_dist$$) AS subs_plan;
CREATE TABLE mrr_dist AS SELECT m.* FROM (SELECT clm.subscriptions_agg(idb, at, at + interval '30 days', round(amount)) s FROM ev_dist) q, clm.mrr_movements(s) m;
CREATE TABLE mrr_local AS SELECT m.* FROM (SELECT clm.subscriptions_agg(idb, at, at + interval '30 days', round(amount)) s FROM ev_local) q, clm.mrr_movements(s) m;
SELECT count(*) AS periods,
       count(*) FILTER (WHERE (d.customers_start, d.new_customers, d.expansion_customers, d.contraction_customers,
                               d.churned_customers, d.reactivated_customers, d.customers_end)
                   IS DISTINCT FROM (l.customers_start, l.new_customers, l.expansion_customers, l.contraction_customers,
                               l.churned_customers, l.reactivated_customers, l.customers_end)) AS counts_differ,
       max(greatest(abs(d.mrr_start - l.mrr_start), abs(d.new_mrr - l.new_mrr), abs(d.expansion_mrr - l.expansion_mrr),
                    abs(d.contraction_mrr - l.contraction_mrr), abs(d.churned_mrr - l.churned_mrr),
                    abs(d.reactivation_mrr - l.reactivation_mrr), abs(d.mrr_end - l.mrr_end))) = 0 AS amounts_same,
       round(sum(l.new_mrr)::numeric, 2) AS new_mrr
FROM mrr_dist d FULL JOIN mrr_local l USING (period_start);
-- Kaplan-Meier: duration = days from first to last purchase, churned when
-- the last purchase is before 1998-01-01 (per customer, pushed down, then split)
CREATE TABLE life_dist (id int, d float8, churned boolean);
SELECT create_distributed_table('life_dist', 'id');
INSERT INTO life_dist SELECT id, extract(epoch FROM max(at) - min(at)) / 86400, max(at) < '1998-01-01' FROM ev_dist GROUP BY id;
CREATE TABLE life_local AS SELECT id, extract(epoch FROM max(at) - min(at)) / 86400 AS d, max(at) < '1998-01-01' AS churned FROM ev_local GROUP BY id;
SELECT citus_strategy($$SELECT clm.km_agg(d, churned) FROM life_dist$$) AS km_plan;
SELECT (SELECT array_agg(row(v.*)::text ORDER BY v.time) FROM (SELECT clm.km_agg(d, churned) s FROM life_dist) q, clm.survival(s) v)
     = (SELECT array_agg(row(v.*)::text ORDER BY v.time) FROM (SELECT clm.km_agg(d, churned) s FROM life_local) q, clm.survival(s) v) AS km_same,
       (SELECT clm.median_survival(clm.km_agg(d, churned)) FROM life_dist) AS median_days;

-- sBG: periods survived = quarters between first and last purchase
SELECT citus_strategy($$SELECT clm.sbg_fit_customers((d / 91)::int, churned) FROM life_dist$$) AS sbg_plan;
SELECT (SELECT clm.sbg_fit_customers((d / 91)::int, churned)::text FROM life_dist)
     = (SELECT clm.sbg_fit_customers((d / 91)::int, churned)::text FROM life_local) AS sbg_same,
       (SELECT round((f).alpha::numeric, 4) FROM (SELECT clm.sbg_fit_customers((d / 91)::int, churned) f FROM life_dist) q) AS alpha;
-- clm.sbg_fit over survivors per quarter (customers whose span reaches it)
CREATE TABLE surv_dist (p int, n bigint);
SELECT create_distributed_table('surv_dist', 'p');
INSERT INTO surv_dist SELECT g, count(*) FILTER (WHERE (d / 91)::int >= g) FROM life_local, generate_series(0, 5) g GROUP BY g;
SELECT citus_strategy($$SELECT clm.sbg_fit(p, n) FROM surv_dist$$) AS sbg_fit_plan;
SELECT (SELECT clm.sbg_fit(p, n)::text FROM surv_dist)
     = (SELECT clm.sbg_fit(g, n)::text FROM (SELECT g, count(*) FILTER (WHERE (d / 91)::int >= g) n FROM life_local, generate_series(0, 5) g GROUP BY g) q) AS sbg_fit_same;

-- per customer: rfm_summary (internal state) and calibration_holdout are
-- pushed down whole when grouped by the distribution column
SELECT citus_strategy($$SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') FROM ev_dist WHERE at <= '1997-09-30' GROUP BY id$$) AS rfm_plan;
CREATE TABLE rfm_dist (id int, x float8, t_x float8, t float8, m float8);
SELECT create_distributed_table('rfm_dist', 'id');
INSERT INTO rfm_dist SELECT id, (r).frequency, (r).recency, (r).t, (r).monetary
FROM (SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') r FROM ev_dist WHERE at <= '1997-09-30' GROUP BY id) q;
CREATE TABLE rfm_local AS SELECT id, (r).frequency::float8 AS x, (r).recency AS t_x, (r).t, (r).monetary AS m
FROM (SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') r FROM ev_local WHERE at <= '1997-09-30' GROUP BY id) q;
SELECT (SELECT count(*) FROM rfm_dist) AS customers, count(*) AS differ FROM (SELECT * FROM rfm_dist EXCEPT SELECT * FROM rfm_local) d;
SELECT citus_strategy($$SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30') FROM ev_dist GROUP BY id$$) AS holdout_plan;
SELECT count(*) AS differ FROM (
  SELECT id, h::text FROM (SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30') h FROM ev_dist GROUP BY id) a
  EXCEPT SELECT id, h::text FROM (SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30') h FROM ev_local GROUP BY id) b) d;

-- CLV fits over the per-customer summaries: split (clm.clv_state), equal
-- to the local fits
SELECT citus_strategy($$SELECT clm.bgnbd_fit(x, t_x, t) FROM rfm_dist$$) AS bgnbd_plan;
SELECT (SELECT clm.bgnbd_fit(x, t_x, t)::text FROM rfm_dist) = (SELECT clm.bgnbd_fit(x, t_x, t)::text FROM rfm_local) AS bgnbd_same,
       (SELECT clm.mbgnbd_fit(x, t_x, t)::text FROM rfm_dist) = (SELECT clm.mbgnbd_fit(x, t_x, t)::text FROM rfm_local) AS mbgnbd_same,
       (SELECT clm.pareto_nbd_fit(x, t_x, t)::text FROM rfm_dist) = (SELECT clm.pareto_nbd_fit(x, t_x, t)::text FROM rfm_local) AS pnbd_same,
       (SELECT clm.gamma_gamma_fit(x, m)::text FROM rfm_dist WHERE x > 0 AND m > 0) = (SELECT clm.gamma_gamma_fit(x, m)::text FROM rfm_local WHERE x > 0 AND m > 0) AS gg_same,
       (SELECT clm.bgbb_fit(least(x, 4), CASE WHEN x > 0 THEN 4 ELSE 0 END, 4)::text FROM rfm_dist)
     = (SELECT clm.bgbb_fit(least(x, 4), CASE WHEN x > 0 THEN 4 ELSE 0 END, 4)::text FROM rfm_local) AS bgbb_same;
-- the BG/NBD fit of the 23,570 customers, calibration to 1997-09-30 in weeks
SELECT round((b).r::numeric, 3) AS r, round((b).alpha::numeric, 3) AS alpha, round((b).a::numeric, 3) AS a,
       round((b).b::numeric, 3) AS b, (b).n, (b).converged
FROM (SELECT clm.bgnbd_fit(x, t_x, t) b FROM rfm_dist) q;
