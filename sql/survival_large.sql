-- Kaplan-Meier states too large for the hash of times (more than 65,536 distinct times),
-- checked against a Kaplan-Meier curve computed in plain SQL from the same rows.
-- 240,001 subjects; durations (id * 7919 mod 160001) / 8 take 160,001 distinct values (80,000
-- of them twice), 80% churned; one subject in three enters late (left truncation) at a time
-- (id mod 1000) / 16 below its duration; one long censored subject keeps the curve above 0.
CREATE TABLE km_big AS
SELECT id, d, id % 5 <> 0 AS churned,
       CASE WHEN id % 3 = 0 AND (id % 1000) / 16.0 < d THEN (id % 1000) / 16.0 END::float8 AS en
FROM (SELECT id, ((id::bigint * 7919) % 160001) / 8.0::float8 AS d FROM generate_series(1, 240000) id) q
UNION ALL SELECT 0, 100000, false, NULL;
ANALYZE km_big;
SELECT count(*) AS subjects, count(en) AS late_entries FROM km_big;
-- plain SQL: at risk at t = (duration >= t) - (entered >= t); S = exp(sum ln(1 - d/n)),
-- Greenwood sum of d / (n (n - d)); compared to 1e-9; one step per distinct event time: 144,000 = the
-- 128,001 churned ids among 1..160,001 (distinct durations) + 15,999 durations of censored ids
-- 5, 10, .., 79,995 that churned ids 160,006, 160,011, .., 239,996 repeat
CREATE FUNCTION pg_temp.km_check(state clm.km) RETURNS TABLE (steps bigint, steps_equal bigint) LANGUAGE sql AS $$
WITH durs AS (SELECT d AS t, count(*) FILTER (WHERE churned) AS ev, count(*)::int AS n_out FROM km_big GROUP BY d),
ents AS (SELECT en AS t, count(*)::int AS n_in FROM km_big WHERE en IS NOT NULL GROUP BY en),
tl AS (SELECT t, coalesce(ev, 0) AS ev, coalesce(n_out, 0) AS n_out, coalesce(n_in, 0) AS n_in FROM durs FULL JOIN ents USING (t)),
r AS (SELECT t, ev, sum(n_out) OVER w - sum(n_in) OVER w AS at_risk FROM tl WINDOW w AS (ORDER BY t DESC)),
k AS (SELECT t, at_risk, ev, exp(sum(ln(1 - ev::float8 / at_risk)) OVER (ORDER BY t)) AS surv,
             sum(ev::float8 / (at_risk * (at_risk - ev))) OVER (ORDER BY t) AS gw FROM r WHERE ev > 0)
SELECT count(*),
       count(*) FILTER (WHERE a.at_risk = k.at_risk AND a.events = k.ev AND abs(a.survival - k.surv) < 1e-9
                        AND abs(a.std_err - k.surv * sqrt(k.gw)) < 1e-9)
FROM clm.survival(state) a FULL JOIN k ON a.time = k.t
$$;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE km_big_serial AS SELECT clm.km_agg(d, churned, en) s FROM km_big;
SELECT * FROM pg_temp.km_check((SELECT s FROM km_big_serial));
-- every subject is counted once: censorings in the curve plus those before the first event
SELECT (SELECT sum(censored) FROM km_big_serial, clm.survival(s))
       + (SELECT count(*) FROM km_big WHERE NOT churned AND d < (SELECT min(d) FROM km_big WHERE churned))
       = (SELECT count(*) FROM km_big WHERE NOT churned) AS censored_all_counted;
-- the text form round-trips
SELECT md5(s::text::clm.km::text) = md5(s::text) AS roundtrip FROM km_big_serial;
-- the same rows in another order give the same state
SELECT md5(clm.km_agg(d, churned, en ORDER BY d DESC)::text) = (SELECT md5(s::text) FROM km_big_serial) AS order_free
FROM km_big;
-- partial aggregation: each process holds tens of thousands of times; combining them (past the
-- hash bound in the leader) gives the same state
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT clm.km_agg(d, churned, en) FROM km_big;
CREATE TABLE km_big_parallel AS SELECT clm.km_agg(d, churned, en) s FROM km_big;
RESET ALL;
SELECT md5(a.s::text) = md5(b.s::text) AS parallel_same_state FROM km_big_serial a, km_big_parallel b;
-- as a running window aggregate: the final function compacts the state of the first 230,000
-- rows (past the hash) for the first peer group, then the state takes the other rows; both
-- running states equal the plain aggregates
SELECT g, md5(s::text) = CASE g WHEN 1 THEN (SELECT md5(clm.km_agg(d, churned, en)::text) FROM km_big WHERE id <= 230000)
                                ELSE (SELECT md5(s::text) FROM km_big_serial) END AS same_state
FROM (SELECT id, g, clm.km_agg(d, churned, en) OVER (ORDER BY g) s
      FROM (SELECT *, CASE WHEN id <= 230000 THEN 1 ELSE 2 END AS g FROM km_big) k) q
WHERE id IN (1, 230001) ORDER BY g;
DROP TABLE km_big_serial, km_big_parallel;

-- a running window aggregate below the hash bound (6-MP group of the leukemia trial, see
-- survival.sql): each running state equals the plain aggregate of the same subjects; the last
-- one has K&K's median 23
WITH v AS (SELECT w, row_number() OVER (ORDER BY abs(w), w) AS rn
           FROM unnest(ARRAY[6, 6, 6, -6, 7, -9, 10, -10, -11, 13, 16, -17, -19, -20, 22, 23, -25, -32, -32, -34, -35]) w)
SELECT count(*) AS states,
       count(*) FILTER (WHERE s::text = (SELECT clm.km_agg(abs(v.w), v.w > 0)::text FROM v WHERE v.rn <= q.rn)) AS same_as_plain,
       max(clm.median_survival(s)) FILTER (WHERE rn = 21) AS median
FROM (SELECT rn, clm.km_agg(abs(w), w > 0) OVER (ORDER BY rn ROWS UNBOUNDED PRECEDING) s FROM v) q;

-- states around the small-state bound (256 times): 3 groups of 3,000 subjects with 150, 300 and
-- 600 distinct durations; per-process partial states are small or expanded, and the leader
-- combines small + small into small or expanded states; serial and parallel states are the same.
-- Churned unless id is a multiple of 4 (2,250 events each); 300 and 600 are multiples of 4, so a
-- quarter of those durations have no event: 150, 225 and 450 steps.
CREATE TABLE km_mid AS
SELECT g, (id % (150 * 2 ^ g)::int)::float8 AS d, id % 4 <> 0 AS churned
FROM generate_series(0, 2) g, generate_series(1, 3000) id;
ANALYZE km_mid;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE km_mid_serial AS SELECT g, clm.km_agg(d, churned) s FROM km_mid GROUP BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT g, clm.km_agg(d, churned) s FROM km_mid GROUP BY g;
CREATE TABLE km_mid_parallel AS SELECT g, clm.km_agg(d, churned) s FROM km_mid GROUP BY g;
RESET ALL;
SELECT g, a.s::text = b.s::text AS same_state, (SELECT count(*) FROM clm.survival(a.s)) AS steps,
       (SELECT sum(events) FROM clm.survival(a.s)) AS events
FROM km_mid_serial a JOIN km_mid_parallel b USING (g) ORDER BY g;
DROP TABLE km_mid, km_mid_serial, km_mid_parallel;

-- -0 is the time 0 (one record)
SELECT clm.km_agg(d, true)::text = clm.km_agg(abs(d), true)::text AS minus_zero_is_zero,
       (SELECT count(*) FROM clm.survival(clm.km_agg(d, true))) AS steps
FROM (VALUES ('-0'::float8), (0), (1)) v(d);
DROP TABLE km_big;
