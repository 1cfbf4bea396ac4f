-- Evaluation of churn scores: clm.auc, clm.concordance, clm.brier,
-- clm.gains_agg / clm.gains, on small data worked out by hand, and the
-- churn aggregates under forced partial (parallel) aggregation.
CREATE TABLE ev (score float8, label boolean);
INSERT INTO ev VALUES (0.1, false), (0.4, false), (0.35, true), (0.8, true);
-- pairs (positive, negative): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4: 3/4
SELECT clm.auc(score, label) FROM ev;
-- equal scores count 1/2: (0.5 vs 0.5) 1/2, then 1, 1, 1: 3.5/4
SELECT clm.auc(s, l) FROM (VALUES (0.5, true), (0.5, false), (0.9, true), (0.1, false)) v(s, l);
-- NULL rows are skipped; an empty group is NULL
SELECT clm.auc(s, l) FROM (VALUES (0.1, false), (NULL, true), (0.9, NULL), (0.9, true)) v(s, l);
SELECT clm.auc(score, label) IS NULL AS empty_is_null FROM ev WHERE false;
-- one label only: NULL with a WARNING
SELECT clm.auc(score, true) FROM ev;

-- Harrell's C.  Rows (duration, event, risk):
--   A (1, event, 0.9)  B (2, event, 0.5)  C (2, censored, 0.7)
--   D (3, censored, 0.1)  E (4, event, 0.5)  F (2, event, 0.3)
-- comparable pairs (the earlier one an event; an event before a censoring
-- at the same duration; two events at one duration are not comparable):
--   A: B C D E F all concordant (5)
--   B: C discordant, D concordant, E tied risk 1/2  (1.5 of 3)
--   F: C discordant, D concordant, E discordant     (1 of 3)
-- C = 7.5 / 11
CREATE TABLE cc (name text, duration float8, event boolean, risk float8);
INSERT INTO cc VALUES ('A', 1, true, 0.9), ('B', 2, true, 0.5), ('C', 2, false, 0.7),
                      ('D', 3, false, 0.1), ('E', 4, true, 0.5), ('F', 2, true, 0.3);
SELECT round(clm.concordance(duration, event, risk)::numeric, 12) AS c, round(7.5 / 11, 12) AS by_hand FROM cc;
-- without F: 5.5 / 7
SELECT round(clm.concordance(duration, event, risk)::numeric, 12) AS c, round(5.5 / 7, 12) AS by_hand
FROM cc WHERE name <> 'F';
-- no events: no comparable pair, NULL with a WARNING
SELECT clm.concordance(duration, false, risk) FROM cc;

-- Brier score: ((0.1-0)^2 + (0.9-1)^2 + (0.8-0)^2) / 3 = 0.22
SELECT round(clm.brier(p, l)::numeric, 12) AS brier
FROM (VALUES (0.1, false), (0.9, true), (0.8, false), (NULL, true)) v(p, l);
SELECT clm.brier(p, l) IS NULL AS empty_is_null FROM (VALUES (0.5, true)) v(p, l) WHERE false;

-- gains: scores 0.1 .. 1.0, events at 1.0, 0.9, 0.7, 0.4 (4 of 10, rate 0.4);
-- 3 buckets of 4, 3, 3 rows (as ntile):
--   1.0 0.9 0.8 0.7 | 0.6 0.5 0.4 | 0.3 0.2 0.1
--   events 3, 1, 0; rates 0.75, 1/3, 0; mean scores 0.85, 0.5, 0.2;
--   lift 1.875, 0.8333, 0; cumulative share 0.75, 1, 1
CREATE TABLE gn AS
SELECT i / 10.0 AS score, i IN (10, 9, 7, 4) AS churned FROM generate_series(1, 10) i;
SELECT bucket, customers, events, round(event_rate::numeric, 4) AS event_rate,
       round(mean_score::numeric, 4) AS mean_score, round(lift::numeric, 4) AS lift,
       round(cumulative_events_share::numeric, 4) AS cumulative_events_share
FROM (SELECT clm.gains_agg(score, churned) AS g FROM gn) s, clm.gains(g, 3);
-- 10 buckets by default: one row each
SELECT array_agg(events ORDER BY bucket) AS events_by_bucket
FROM (SELECT clm.gains_agg(score, churned) AS g FROM gn) s, clm.gains(g);
-- more buckets than rows: as many buckets as rows
SELECT count(*) FROM (SELECT clm.gains_agg(score, churned) AS g FROM gn) s, clm.gains(g, 50);
-- equal scores across a bucket edge: non-events first (the pessimistic order)
SELECT bucket, customers, events
FROM (SELECT clm.gains_agg(0.5, l) AS g FROM (VALUES (true), (false), (true), (false)) v(l)) s, clm.gains(g, 2);
-- the state survives its text and binary forms
SELECT (SELECT array_agg(x ORDER BY bucket) FROM clm.gains(g::text::clm.model_rows, 3) x)
     = (SELECT array_agg(x ORDER BY bucket) FROM clm.gains(g, 3) x) AS text_round_trip,
       recv_of(clm.model_rows_send(g), 'clm.model_rows') = 'ok: ' || g::text AS binary_round_trip
FROM (SELECT clm.gains_agg(score, churned) AS g FROM gn) s;

-- Partial aggregation: 30,000 deterministic rows, fitted serially and with
-- parallel workers (the combine function appends the workers' rows); sums
-- run in another order, so values agree to rounding
CREATE TABLE pz AS
SELECT g, x1, x2, ((g * 31337) % 1000) / 1000.0 < 1 / (1 + exp(-(2 * x1 - x2 - 0.3))) AS churned,
       (1 + (g * 7) % 50)::float8 AS duration, g % 3 <> 0 AS event
FROM (SELECT g, ((g * 7919) % 1000) / 1000.0::float8 AS x1, ((g * 104729) % 997) / 997.0::float8 AS x2
      FROM generate_series(1::bigint, 30000) g) s;
ANALYZE pz;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE pz_serial AS
SELECT clm.logit_fit(churned, ARRAY[x1, x2]) AS lf, clm.coxph_fit(duration, event, ARRAY[x1, x2]) AS cf,
       clm.auc(x1 - x2, churned) AS auc, clm.concordance(duration, event, x1) AS c,
       clm.brier(x1, churned) AS brier, clm.gains_agg(x1 - x2, churned) AS g
FROM pz;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT clm.logit_fit(churned, ARRAY[x1, x2]), clm.coxph_fit(duration, event, ARRAY[x1, x2]),
       clm.auc(x1 - x2, churned), clm.concordance(duration, event, x1), clm.brier(x1, churned),
       clm.gains_agg(x1 - x2, churned)
FROM pz;
CREATE TABLE pz_par AS
SELECT clm.logit_fit(churned, ARRAY[x1, x2]) AS lf, clm.coxph_fit(duration, event, ARRAY[x1, x2]) AS cf,
       clm.auc(x1 - x2, churned) AS auc, clm.concordance(duration, event, x1) AS c,
       clm.brier(x1, churned) AS brier, clm.gains_agg(x1 - x2, churned) AS g
FROM pz;
RESET ALL;
SELECT (s.lf).n = (p.lf).n AS logit_rows,
       (SELECT max(abs(a - b)) FROM unnest((s.lf).coef, (p.lf).coef) u(a, b)) < 1e-9 AS logit_coef,
       abs((s.lf).loglik - (p.lf).loglik) < 1e-8 AS logit_loglik,
       (SELECT max(abs(a - b)) FROM unnest((s.cf).coef, (p.cf).coef) u(a, b)) < 1e-9 AS cox_coef,
       abs((s.cf).loglik - (p.cf).loglik) < 1e-8 AS cox_loglik,
       (s.cf).concordance = (p.cf).concordance AS cox_c,
       (s.cf).baseline_time = (p.cf).baseline_time AS cox_times,
       s.auc = p.auc AS auc, s.c = p.c AS c, abs(s.brier - p.brier) < 1e-12 AS brier,
       (SELECT array_agg(row(bucket, customers, events) ORDER BY bucket) FROM clm.gains(s.g))
     = (SELECT array_agg(row(bucket, customers, events) ORDER BY bucket) FROM clm.gains(p.g)) AS gains
FROM pz_serial s, pz_par p;
-- the serial fit itself: 30,000 rows, both models converge
SELECT (lf).n, (lf).converged, round((lf).coef[2]::numeric, 3) AS x1_coef, (cf).events, (cf).converged,
       round(auc::numeric, 4) AS auc
FROM pz_serial;
