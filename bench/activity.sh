#!/usr/bin/env bash
# clm.activity benchmark: synthetic events (fixed seed), monthly periods.
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/run activity
# Scale: ACT_EVENTS (default 10,000,000) events of ACT_CUSTOMERS (default
# 1,000,000) customers over 24 months; ACT_REPS timed runs per query (best
# kept).  Prints: generation time, timings of the clm retention and lifecycle
# tables, of the best plain SQL for the same rows (checked identical), of a
# typical plain SQL, and of SELECT count(*) (the scan floor), serial and with
# 2 parallel workers; state bytes per customer; peak backend memory; time to
# cancel.
set -euo pipefail
EVENTS=${ACT_EVENTS:-10000000}
CUSTOMERS=${ACT_CUSTOMERS:-1000000}
REPS=${ACT_REPS:-3}
echo "== clm.activity bench: $EVENTS events, $CUSTOMERS customers, 24 months, best of $REPS"
nproc | sed 's/^/cores: /'

$PSQL -q <<SQL
\timing on
SET timezone = 'UTC';
DROP TABLE IF EXISTS bench_ev;
SELECT setseed(0.3);
-- each event: a random customer; the customer's first possible month is fixed
-- by its id (c * 7919 mod 24), later events decay geometrically (mean 3 months)
CREATE UNLOGGED TABLE bench_ev AS
SELECT c AS customer,
       timestamptz '2023-01-01'
         + make_interval(months => least(23, (c * 7919 % 24)::int + floor(-ln(1 - random()) * 3)::int))
         + random() * interval '27 days 23 hours' AS at
FROM (SELECT (1 + floor(random() * $CUSTOMERS))::bigint AS c FROM generate_series(1, $EVENTS)) s;
VACUUM ANALYZE bench_ev;
\timing off
SELECT count(*) AS events, count(DISTINCT customer) AS customers, pg_size_pretty(pg_relation_size('bench_ev')) AS table_size
FROM bench_ev;
SQL

$PSQL -q -v REPS="$REPS" <<'SQL'
SET timezone = 'UTC';
-- run a query REPS times, return the best wall time in ms; the rows are
-- hashed (so every column is computed) and the hash returned for comparison
CREATE OR REPLACE FUNCTION pg_temp.bench(q text, reps int, OUT ms float8, OUT checksum bigint)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; t float8;
BEGIN
	ms := 'Infinity';
	FOR i IN 1..reps LOOP
		t0 := clock_timestamp();
		EXECUTE 'SELECT sum(hashtext(r::text)::bigint) FROM (' || q || ') r' INTO checksum;
		t := extract(epoch FROM clock_timestamp() - t0) * 1000;
		ms := least(ms, t);
	END LOOP;
END
$$;
CREATE TEMP TABLE queries (name text, q text);
INSERT INTO queries VALUES
('scan floor: count(*)', $q$SELECT count(*) FROM bench_ev$q$),
('clm retention', $q$SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev))$q$),
('clm lifecycle', $q$SELECT * FROM clm.lifecycle((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev))$q$),
('clm state only', $q$SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev$q$),
-- best plain SQL: one hash aggregation by customer into (first month, bitmask
-- of active months), grouped by (first, mask), expanded to cells
('SQL retention (bitmask)', $q$
WITH per AS (SELECT min(mi) AS f, max(mi) AS l, bit_or(1 << (mi - 24276)) AS mask
             FROM (SELECT customer, date_part('year', at)::int * 12 + date_part('month', at)::int - 1 AS mi FROM bench_ev) e
             GROUP BY customer),
     grp AS (SELECT f, mask, count(*) AS k FROM per GROUP BY 1, 2),
     lastp AS (SELECT max(l) AS last FROM per),
     cells AS (SELECT f, n, sum(k) AS size, coalesce(sum(k) FILTER (WHERE (mask >> (f - 24276 + n)) & 1 = 1), 0) AS retained
               FROM grp, lastp, generate_series(0, 23) n WHERE f + n <= last GROUP BY f, n)
SELECT make_timestamptz(f / 12, f % 12 + 1, 1, 0, 0, 0) AS cohort_start, n AS period_number, size AS cohort_size,
       retained, retained::float8 / size AS rate, f + n < (SELECT last FROM lastp) AS complete
FROM cells$q$),
('SQL lifecycle (bitmask)', $q$
WITH per AS (SELECT min(mi) AS f, max(mi) AS l, bit_or(1 << (mi - 24276)) AS mask
             FROM (SELECT customer, date_part('year', at)::int * 12 + date_part('month', at)::int - 1 AS mi FROM bench_ev) e
             GROUP BY customer),
     grp AS (SELECT f, mask, count(*) AS k FROM per GROUP BY 1, 2),
     b AS (SELECT f, mask, k, t, (mask >> (t - 24276)) & 1 = 1 AS cur,
                  t > 24276 AND (mask >> (t - 24277)) & 1 = 1 AS prev
           FROM grp, generate_series((SELECT min(f) FROM per), (SELECT max(l) FROM per)) t),
     c AS (SELECT t, coalesce(sum(k) FILTER (WHERE cur AND f = t), 0) AS n_new,
                  coalesce(sum(k) FILTER (WHERE cur AND prev), 0) AS n_ret,
                  coalesce(sum(k) FILTER (WHERE cur AND NOT prev AND f <> t), 0) AS n_res,
                  coalesce(sum(k) FILTER (WHERE NOT cur AND prev), 0) AS n_dor
           FROM b GROUP BY t)
SELECT make_timestamptz(t / 12, t % 12 + 1, 1, 0, 0, 0) AS period_start, s.status, s.customers,
       CASE WHEN n_dor > 0 THEN (n_new + n_res)::float8 / n_dor END AS quick_ratio
FROM c, LATERAL (VALUES ('new', n_new), ('returning', n_ret), ('resurrecting', n_res), ('dormant', n_dor)) s(status, customers)$q$),
-- typical plain SQL: distinct (customer, month) pairs joined to first months
('SQL retention (typical)', $q$
WITH m AS (SELECT DISTINCT customer, date_trunc('month', at) AS mon FROM bench_ev),
     f AS (SELECT customer, min(mon) AS cohort FROM m GROUP BY 1),
     sz AS (SELECT cohort, count(*) AS size FROM f GROUP BY 1),
     lastp AS (SELECT max(mon) AS last FROM m),
     grid AS (SELECT cohort, size, n, cohort + n * interval '1 month' AS mon, last FROM sz, lastp, generate_series(0, 23) n
              WHERE cohort + n * interval '1 month' <= last),
     act AS (SELECT f.cohort, m.mon, count(*) AS retained FROM m JOIN f USING (customer) GROUP BY 1, 2)
SELECT g.cohort AS cohort_start, g.n AS period_number, g.size AS cohort_size, coalesce(a.retained, 0) AS retained,
       coalesce(a.retained, 0)::float8 / g.size AS rate, g.mon < g.last AS complete
FROM grid g LEFT JOIN act a ON a.cohort = g.cohort AND a.mon = g.mon$q$);

\echo
\echo '-- identical rows (clm vs plain SQL, both directions of EXCEPT must be empty)'
SET max_parallel_workers_per_gather = 2;
CREATE TEMP TABLE r_clm AS SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev));
CREATE TEMP TABLE l_clm AS SELECT * FROM clm.lifecycle((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev));
DO $$ BEGIN EXECUTE 'CREATE TEMP TABLE r_sql AS ' || (SELECT q FROM queries WHERE name = 'SQL retention (bitmask)');
            EXECUTE 'CREATE TEMP TABLE l_sql AS ' || (SELECT q FROM queries WHERE name = 'SQL lifecycle (bitmask)');
            EXECUTE 'CREATE TEMP TABLE r_typ AS ' || (SELECT q FROM queries WHERE name = 'SQL retention (typical)'); END $$;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE r_clm_serial AS SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev));
SELECT (SELECT count(*) FROM r_clm) AS retention_cells,
       (SELECT count(*) FROM (SELECT * FROM r_clm EXCEPT SELECT * FROM r_sql) a) + (SELECT count(*) FROM (SELECT * FROM r_sql EXCEPT SELECT * FROM r_clm) b) AS retention_diff_bitmask,
       (SELECT count(*) FROM (SELECT * FROM r_clm EXCEPT SELECT * FROM r_typ) a) + (SELECT count(*) FROM (SELECT * FROM r_typ EXCEPT SELECT * FROM r_clm) b) AS retention_diff_typical,
       (SELECT count(*) FROM (SELECT * FROM r_clm EXCEPT SELECT * FROM r_clm_serial) a) + (SELECT count(*) FROM (SELECT * FROM r_clm_serial EXCEPT SELECT * FROM r_clm) b) AS retention_diff_serial_parallel,
       (SELECT count(*) FROM l_clm) AS lifecycle_rows,
       (SELECT count(*) FROM (SELECT * FROM l_clm EXCEPT SELECT * FROM l_sql) a) + (SELECT count(*) FROM (SELECT * FROM l_sql EXCEPT SELECT * FROM l_clm) b) AS lifecycle_diff_bitmask;
SELECT cohort_start::date, period_number, cohort_size, retained, round(rate::numeric, 4) AS rate, complete
FROM r_clm WHERE period_number IN (0, 1, 2, 12) AND cohort_start < '2023-04-01' ORDER BY 1, 2;

\echo
\echo '-- plans (2 workers allowed)'
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev));

\echo
\echo '-- timings: best of the runs, ms; ratios against the same-mode scan floor and plain SQL'
CREATE TEMP TABLE timings (workers int, name text, ms float8, checksum bigint);
SET max_parallel_workers_per_gather = 0;
INSERT INTO timings SELECT 0, name, (b).ms, (b).checksum FROM (SELECT name, pg_temp.bench(q, :REPS) AS b FROM queries) x;
SET max_parallel_workers_per_gather = 2;
INSERT INTO timings SELECT 2, name, (b).ms, (b).checksum FROM (SELECT name, pg_temp.bench(q, :REPS) AS b FROM queries) x;
SELECT t.workers, t.name, round(t.ms::numeric) AS ms,
       round((t.ms / f.ms)::numeric, 2) AS x_scan_floor
FROM timings t JOIN timings f ON f.workers = t.workers AND f.name = 'scan floor: count(*)'
ORDER BY t.workers, t.name;
SELECT c.workers, c.name AS clm, s.name AS plain_sql, round((s.ms / c.ms)::numeric, 2) AS clm_speedup,
       c.checksum = s.checksum AS same_rows
FROM timings c JOIN timings s ON s.workers = c.workers
  AND ((c.name = 'clm retention' AND s.name IN ('SQL retention (bitmask)', 'SQL retention (typical)'))
    OR (c.name = 'clm lifecycle' AND s.name = 'SQL lifecycle (bitmask)'))
ORDER BY 1, 2, 3;
SQL

echo
echo "-- state size (serialized form; monthly periods, bigint keys)"
$PSQL -q <<'SQL'
SET timezone = 'UTC';
CREATE TEMP TABLE st AS SELECT clm.activity_agg(customer, at, 'month') AS s FROM bench_ev;
SELECT (clm.activity_info(s)).customers, (clm.activity_info(s)).bytes AS flat_bytes,
       round((clm.activity_info(s)).bytes::numeric / (clm.activity_info(s)).customers, 2) AS bytes_per_customer,
       pg_column_size(s) AS stored_bytes_after_compression,
       round(pg_column_size(s)::numeric / (clm.activity_info(s)).customers, 2) AS stored_bytes_per_customer
FROM st;
SQL

echo
echo "-- peak backend memory (kB): VmHWM minus the shared memory mapped (RssShmem), one fresh session per query"
mem() {
	$PSQL -q -At -F ' ' -c "SET timezone = 'UTC'" -c "SET max_parallel_workers_per_gather = $1" -c "SET work_mem = '1GB'" \
		-c "SELECT sum(hashtext(r::text)::bigint) IS NULL FROM ($2) r" \
		-c "SELECT (regexp_match(s, 'VmHWM:\s+(\d+)'))[1]::bigint - (regexp_match(s, 'RssShmem:\s+(\d+)'))[1]::bigint AS peak_private_kb,
		           (regexp_match(s, 'VmHWM:\s+(\d+)'))[1] AS vmhwm_kb
		    FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') s" | tail -1
}
echo "workers=0 count(*):                 $(mem 0 'SELECT count(*) FROM bench_ev')"
echo "workers=0 clm retention:            $(mem 0 "SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev))")"
echo "workers=2 clm retention (leader):   $(mem 2 "SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month') FROM bench_ev))")"
echo "workers=0 SQL retention (bitmask):  $(mem 0 "WITH per AS (SELECT min(mi) AS f, bit_or(1 << (mi - 24276)) AS mask FROM (SELECT customer, date_part('year', at)::int * 12 + date_part('month', at)::int - 1 AS mi FROM bench_ev) e GROUP BY customer) SELECT f, mask, count(*) FROM per GROUP BY 1, 2")"

echo
echo "-- cancellation: statement_timeout = 200ms on the aggregate over all events"
$PSQL -q <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET statement_timeout = '200ms';
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
DO $$
DECLARE t timestamptz := clock_timestamp();
BEGIN
	PERFORM clm.activity_agg(customer, at, 'month') FROM bench_ev;
	RAISE NOTICE 'not cancelled';
EXCEPTION WHEN query_canceled THEN
	RAISE NOTICE 'cancelled after % ms (%)', round(extract(epoch FROM clock_timestamp() - t)::numeric * 1000), SQLERRM;
END $$;
SQL
