-- Scoring pipeline: clm.refresh (full, then incremental after 1% of the
-- customers buy again) vs the same scores computed by hand-written queries
-- (summary, model fits, scoring), on 1M customers / 10M events.
-- Run: CLM_PREFIX=... bench/run scores   (psql variable customers to scale)
\set ON_ERROR_STOP on
\pset pager off
\if :{?customers}
\else
\set customers 1000000
\endif
SET timezone = 'UTC';
SET client_min_messages = warning;

-- CDNOW-like customers (Pareto/NBD-style process, fixed seed): born in the
-- first 12 weeks of 2024, purchase rate ~ Gamma(2, 0.1)/week, exponential
-- lifetime with a random mean of 20..200 weeks; the first purchase at birth,
-- the repeat ones uniform over the alive part of the two years to 2025-12-31;
-- about 10 purchases per customer
SELECT setseed(0.42);
CREATE TABLE bench_customers AS
SELECT c AS customer, born, lam,
       least(-ln(1 - random()) / (0.005 + 0.045 * random()),
             extract(epoch FROM timestamptz '2025-12-31' - born) / 604800) AS alive_weeks
FROM (SELECT c, timestamptz '2024-01-01' + random() * interval '84 days' AS born,
             (-ln(1 - random()) - ln(1 - random())) * 0.1 AS lam
      FROM generate_series(1, :customers) c) q;
CREATE TABLE ev (customer int, at timestamptz, amount numeric);
INSERT INTO ev
SELECT customer, born, round((5 + 60 * random())::numeric, 2) FROM bench_customers;
INSERT INTO ev
SELECT c.customer, c.born + random() * c.alive_weeks * interval '1 week',
       round((5 + 60 * random())::numeric, 2)
FROM bench_customers c, generate_series(1, floor(c.lam * c.alive_weeks * 2.5 * random())::int) k;
CREATE INDEX ON ev (customer);
VACUUM ANALYZE ev;
SELECT count(*) AS events, count(DISTINCT customer) AS customers FROM ev;

-- clm: register, full refresh (one transaction per batch in the worker; here
-- one clm.refresh call)
SELECT name FROM clm.register('bench', 'ev', 'customer', 'at', 'amount', period => 'week', time_unit => 'week');
SELECT clock_timestamp() AS t0 \gset
SELECT mode, rows, status FROM clm.refresh('bench', true);
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS clm_full \gset
SELECT as_of FROM clm.refresh_runs WHERE source = 'bench' ORDER BY id DESC LIMIT 1 \gset
SELECT fit_diagnostics, model_params->>'patterns' AS patterns, model_params->>'converged' AS converged
FROM clm.score_versions WHERE source = 'bench';

-- by hand: the same summary, fits and scores with plain SQL around the clm
-- model functions (the activity + fit + scoring queries a user would run)
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE h_summary AS
SELECT customer::text AS customer_key, clm.rfm_summary(at, amount::float8, :'as_of', 'week', 'week') AS s
FROM ev GROUP BY customer;
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS hand_summary \gset
CREATE TABLE h_fit AS
SELECT (SELECT clm.bgnbd_fit((s).frequency, (s).recency, (s).t) FROM h_summary) AS m,
       (SELECT clm.gamma_gamma_fit((s).frequency, (s).monetary) FROM h_summary
        WHERE (s).frequency > 0 AND (s).monetary > 0) AS g;
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS hand_fit \gset
CREATE TABLE h_scores AS
SELECT q.*, m.segment,
       clm.behavioral_stage((s).first_at, (s).last_at, :'as_of', p_alive,
                            '30 days', '90 days', '180 days', '365 days', 0.5, 0.1) AS stage
FROM (SELECT customer_key, s,
             1 + floor(5 * (rank() OVER (ORDER BY (s).last_at) - 1) / count(*) OVER ()) AS r_score,
             1 + floor(5 * (rank() OVER (ORDER BY (s).periods) - 1) / count(*) OVER ()) AS f_score,
             1 + floor(5 * (rank() OVER (ORDER BY (s).total) - 1) / count(*) OVER ()) AS m_score,
             CASE WHEN (f.m).converged THEN clm.p_alive(f.m, (s).frequency, (s).recency, (s).t) END AS p_alive,
             CASE WHEN (f.m).converged THEN
                  clm.expected_purchases(f.m, 12 * 30.436875 / 7, (s).frequency, (s).recency, (s).t) END AS expected_purchases,
             CASE WHEN (f.m).converged AND (f.g).converged AND (f.g).q > 1 THEN
                  clm.clv(f.m, f.g, (s).frequency, (s).recency, (s).t, (s).monetary) END AS clv
      FROM h_summary, h_fit f) q
LEFT JOIN clm.segment_map m ON m.map = 'rfm_5x5' AND m.r_score = q.r_score AND m.f_score = q.f_score;
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS hand_total \gset

-- the same rows?  (the hand-run fit may run as a parallel aggregate, which
-- combines the states in another order: the parameters, hence the model
-- scores, can differ in the last bits; compared to 1e-9 relative, CLV
-- (Gamma-Gamma over a flat likelihood) to 1e-6)
SELECT (SELECT jsonb_build_object('r', (m).r, 'alpha', (m).alpha, 'a', (m).a, 'b', (m).b) FROM h_fit) AS hand_model,
       (SELECT jsonb_build_object('r', model_params->'r', 'alpha', model_params->'alpha', 'a', model_params->'a',
                                  'b', model_params->'b') FROM clm.score_versions WHERE source = 'bench') AS clm_model;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE c.r_score = h.r_score AND c.f_score = h.f_score AND c.m_score = h.m_score
                          AND c.segment IS NOT DISTINCT FROM h.segment AND c.stage = h.stage
                          AND coalesce(abs(c.p_alive - h.p_alive) <= 1e-9 * abs(h.p_alive), h.p_alive IS NULL AND c.p_alive IS NULL)
                          AND coalesce(abs(c.expected_purchases - h.expected_purchases) <= 1e-9 * abs(h.expected_purchases),
                                       h.expected_purchases IS NULL AND c.expected_purchases IS NULL)
                          AND coalesce(abs(c.clv - h.clv) <= 1e-6 * abs(h.clv), h.clv IS NULL AND c.clv IS NULL)) AS same,
       max(abs(c.p_alive - h.p_alive)) AS max_p_alive_diff, max(abs(c.clv - h.clv) / h.clv) AS max_clv_rel_diff,
       count(*) FILTER (WHERE (c.r_score, c.f_score, c.m_score) = (h.r_score, h.f_score, h.m_score)) AS same_rfm,
       count(*) FILTER (WHERE c.segment IS NOT DISTINCT FROM h.segment) AS same_segment,
       count(*) FILTER (WHERE c.stage = h.stage) AS same_stage
FROM clm.scores c JOIN h_scores h USING (customer_key) WHERE c.source = 'bench';

-- incremental: 1% of the customers buy again
INSERT INTO ev SELECT customer, :'as_of'::timestamptz - interval '1 hour', 20
FROM bench_customers WHERE customer % 100 = 7;
SELECT clock_timestamp() AS t0 \gset
SELECT mode, rows, status FROM clm.refresh('bench');
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS clm_incr \gset

\echo
\echo '== scoring pipeline (seconds; ratios measured in this run)'
SELECT :customers AS customers,
       round(:clm_full::numeric, 2) AS clm_full_refresh,
       round(:hand_summary::numeric, 2) AS hand_summary,
       round((:hand_fit - :hand_summary)::numeric, 2) AS hand_fit,
       round((:hand_total - :hand_fit)::numeric, 2) AS hand_scoring,
       round(:hand_total::numeric, 2) AS hand_total,
       round((:clm_full / :hand_total)::numeric, 2) AS full_vs_hand,
       round(:clm_incr::numeric, 2) AS clm_incremental_1pct,
       round((100 * :clm_incr / :clm_full)::numeric, 1) AS incremental_pct_of_full,
       current_setting('max_parallel_workers_per_gather') AS parallel_workers;
