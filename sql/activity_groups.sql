-- clm.activity_agg over many small groups: a state stays a flat value in the
-- aggregate context (no memory context of its own) until it outgrows 256
-- bytes, so HashAggregate over 20,000 groups does not create 20,000 memory
-- contexts (hash aggregation sums the memory of every context under the
-- aggregate context for each new group: quadratic).  Group 0 holds 1,502
-- customers and becomes an expanded state; the others hold 2 or 3.
-- Customers 1 to 30,000 have a second event 31 days after the first.
SET timezone = 'UTC';
CREATE TABLE act_many AS
SELECT c, CASE WHEN c <= 1500 THEN 0 ELSE c % 20000 END AS g, CASE WHEN c <= 5000 THEN c % 20 ELSE c % 1000 END AS m,
       at, at - interval '40 days' AS born
FROM (SELECT i % 50000 + 1 AS c,
             timestamptz '2024-01-01' + ((i % 50000 * 7919) % 700) * interval '1 day' + (i / 50000) * interval '31 days'
               + (i % 24) * interval '1 hour' AS at
      FROM generate_series(1, 80000) i) s;
ANALYZE act_many;
SET max_parallel_workers_per_gather = 0;
SET enable_sort = off;
SET work_mem = '256MB';
EXPLAIN (COSTS OFF) SELECT g, clm.activity_agg(c, at, 'month') FROM act_many GROUP BY g;
-- memory contexts of clm.activity states alive once every group is built
-- (the InitPlan runs when the first group is returned)
SELECT count(*) AS groups,
       max((SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'clm.activity')) AS state_contexts
FROM (SELECT g, clm.activity_agg(c, at, 'month') a FROM act_many GROUP BY g) s
WHERE a IS NOT NULL;
CREATE TABLE act_many_states AS
SELECT g, clm.activity_agg(c, at, 'month') AS a, clm.activity_agg(c::text, at, 'week', 'Europe/Paris') AS t,
       clm.activity_agg(c, at, 'month', 'UTC', born) AS b
FROM act_many GROUP BY g;
RESET enable_sort;

-- per group: customers, period range and last event equal the plain SQL ones
SELECT count(*) AS groups,
       count(*) FILTER (WHERE i.customers = q.n AND i.first_period = q.f AND i.last_period = q.l
                        AND i.last_event = q.e) AS info_matching,
       count(*) FILTER (WHERE (clm.activity_info(t)).customers = q.n) AS text_customers_matching,
       count(*) FILTER (WHERE i.bytes <= 256) AS small_states,
       sum(q.n) AS customers
FROM act_many_states s
CROSS JOIN LATERAL clm.activity_info(s.a) i
JOIN (SELECT g, count(DISTINCT c) n, date_trunc('month', min(at)) f, date_trunc('month', max(at)) l, max(at) e
      FROM act_many GROUP BY g) q USING (g);

-- per group: cohort sizes and customers retained one month after their first
-- month (clm.retention) equal the plain SQL counts
WITH m AS (SELECT DISTINCT g, c, date_trunc('month', at) AS mon FROM act_many),
     f AS (SELECT g, c, min(mon) AS f FROM m GROUP BY g, c),
     q AS (SELECT f.g, count(*) AS cohort, count(m.c) AS retained1
           FROM f LEFT JOIN m ON m.g = f.g AND m.c = f.c AND m.mon = f.f + interval '1 month'
           GROUP BY f.g),
     r AS (SELECT s.g, sum(x.cohort_size) FILTER (WHERE x.period_number = 0) AS cohort,
                  coalesce(sum(x.retained) FILTER (WHERE x.period_number = 1), 0) AS retained1
           FROM act_many_states s, clm.retention(s.a, 'on', 'first_time', 'total', 1) x GROUP BY s.g)
SELECT count(*) AS groups, count(*) FILTER (WHERE q.cohort = r.cohort AND q.retained1 = r.retained1) AS matching,
       sum(q.retained1) AS retained1
FROM q FULL JOIN r USING (g);

-- merging the 20,000 group states (small + small, then into an expanded
-- state) gives the state of all events, byte for byte
SELECT clm.activity_merge(a)::text = (SELECT clm.activity_agg(c, at, 'month') FROM act_many)::text AS int_merged_identical,
       clm.activity_merge(t)::text = (SELECT clm.activity_agg(c::text, at, 'week', 'Europe/Paris') FROM act_many)::text
         AS text_merged_identical,
       clm.activity_merge(b)::text = (SELECT clm.activity_agg(c, at, 'month', 'UTC', born) FROM act_many)::text
         AS born_merged_identical
FROM act_many_states;

-- partial aggregation over 1,000 groups (m: 20 of 295 customers, expanded,
-- and 980 of 45, small): the workers' states are combined into the serial
-- states, byte for byte
CREATE TABLE act_mid_serial AS
SELECT m, clm.activity_agg(c, at, 'month') AS a, clm.activity_agg(c::text, at, 'week', 'Europe/Paris') AS t
FROM act_many GROUP BY m;
SELECT count(*) FILTER (WHERE (clm.activity_info(a)).bytes <= 256) AS small,
       count(*) FILTER (WHERE (clm.activity_info(a)).bytes > 256) AS large,
       sum((clm.activity_info(a)).customers) AS customers
FROM act_mid_serial;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT m, clm.activity_agg(c, at, 'month') FROM act_many GROUP BY m;
SELECT count(*) AS groups, count(*) FILTER (WHERE s.a::text = p.a::text AND s.t::text = p.t::text) AS identical
FROM act_mid_serial s
JOIN (SELECT m, clm.activity_agg(c, at, 'month') AS a, clm.activity_agg(c::text, at, 'week', 'Europe/Paris') AS t
      FROM act_many GROUP BY m) p USING (m);
RESET ALL;
DROP TABLE act_many, act_many_states, act_mid_serial;
