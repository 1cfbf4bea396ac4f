#!/usr/bin/env bash
# clm.nps / clm.csat / clm.ces benchmark: synthetic survey answers (fixed
# seed) against the equivalent plain SQL (count(*) FILTER ...).
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/run satisfaction
# Scale: SAT_ANSWERS (default 10,000,000) answers in 20 segments, about 2 %
# NULL scores per column; SAT_REPS timed runs per query (best kept).
# Prints, serial and with 2 parallel workers: the scan floor (count(*)), clm,
# plain SQL computing the same figures (checked equal), and the ratios;
# serial runs are compared by backend CPU time (/proc/<pid>/stat, read
# with pg_read_file: a superuser session), parallel ones by wall time.
set -euo pipefail
ANSWERS=${SAT_ANSWERS:-10000000}
REPS=${SAT_REPS:-3}
echo "== clm satisfaction bench: $ANSWERS answers, best of $REPS"
nproc | sed 's/^/cores: /'

$PSQL -q <<SQL
\timing on
DROP TABLE IF EXISTS bench_answers;
SELECT setseed(0.16);
-- NPS 0..10 skewed to the top (as real answers are), CSAT 1..5, CES 1..7;
-- a NULL in about 2 % of each column (skipped answers)
CREATE UNLOGGED TABLE bench_answers AS
SELECT (g % 20)::integer AS segment,
       CASE WHEN r1 < 0.02 THEN NULL ELSE least(10, floor(11 * sqrt(r1)))::integer END AS nps,
       CASE WHEN r2 < 0.02 THEN NULL ELSE 1 + floor(5 * r2)::integer END AS csat,
       CASE WHEN r3 < 0.02 THEN NULL ELSE 1 + floor(7 * r3)::integer END AS ces
FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3 FROM generate_series(1, $ANSWERS) g) s;
VACUUM ANALYZE bench_answers;
\timing off
SELECT count(*) AS answers, count(nps) AS nps, count(csat) AS csat, count(ces) AS ces,
       pg_size_pretty(pg_relation_size('bench_answers')) AS table_size
FROM bench_answers;
SQL

$PSQL -q -v REPS="$REPS" <<'SQL'
SET work_mem = '64MB';
-- CPU time of this backend so far (user + system, ms; Linux clock ticks of
-- 10 ms): on a shared machine the serial runs are compared by CPU time,
-- which other sessions' load does not inflate as it does wall time
CREATE OR REPLACE FUNCTION pg_temp.cpu_ms() RETURNS float8
LANGUAGE sql AS $$
SELECT (f[12]::float8 + f[13]::float8) * 10	-- utime, stime: fields 14, 15 of the line
FROM (SELECT string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') AS f) s
$$;
-- run a query once: wall and backend CPU time in ms; the rows are hashed
-- (so every column is computed) and the hash returned
CREATE OR REPLACE FUNCTION pg_temp.bench(q text, OUT ms float8, OUT cpu float8, OUT checksum bigint)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; c0 float8;
BEGIN
	c0 := pg_temp.cpu_ms();
	t0 := clock_timestamp();
	EXECUTE 'SELECT sum(hashtext(r::text)::bigint) FROM (' || q || ') r' INTO checksum;
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	cpu := pg_temp.cpu_ms() - c0;
END
$$;
CREATE TEMP TABLE queries (score text, kind text, q text);
INSERT INTO queries VALUES
('all', 'floor', $q$SELECT count(*) FROM bench_answers$q$),
('NPS', 'floor1', $q$SELECT count(nps) FROM bench_answers$q$),
('CSAT', 'floor1', $q$SELECT count(csat) FROM bench_answers$q$),
('CES', 'floor1', $q$SELECT count(ces) FROM bench_answers$q$),
('NPS by segment', 'floor1', $q$SELECT segment, count(nps) FROM bench_answers GROUP BY segment$q$),
('NPS', 'clm', $q$SELECT (r).* FROM (SELECT clm.nps(nps) AS r FROM bench_answers) s$q$),
('NPS', 'SQL', $q$
SELECT n, p, pa, d, 100.0 * (p - d) / n AS nps, se, 100.0 * (p - d) / n - 1.959963984540054 * se,
       100.0 * (p - d) / n + 1.959963984540054 * se
FROM (SELECT *, 100 * sqrt(((p + d)::float8 / n - ((p - d)::float8 / n) ^ 2) / n) AS se
      FROM (SELECT count(nps) AS n, count(*) FILTER (WHERE nps >= 9) AS p,
                   count(*) FILTER (WHERE nps BETWEEN 7 AND 8) AS pa, count(*) FILTER (WHERE nps <= 6) AS d
            FROM bench_answers) c) s$q$),
('CSAT', 'clm', $q$SELECT (r).* FROM (SELECT clm.csat(csat) AS r FROM bench_answers) s$q$),
('CSAT', 'SQL', $q$
SELECT n, s, 100.0 * s / n AS csat,
       100 * ((s::float8 / n + z * z / (2 * n)) / (1 + z * z / n)
              - z / (1 + z * z / n) * sqrt(s::float8 / n * (1 - s::float8 / n) / n + z * z / (4.0 * n * n))),
       100 * ((s::float8 / n + z * z / (2 * n)) / (1 + z * z / n)
              + z / (1 + z * z / n) * sqrt(s::float8 / n * (1 - s::float8 / n) / n + z * z / (4.0 * n * n)))
FROM (SELECT count(csat) AS n, count(*) FILTER (WHERE csat >= 4) AS s, 1.959963984540054::float8 AS z
      FROM bench_answers) c$q$),
('CES', 'clm', $q$SELECT (r).* FROM (SELECT clm.ces(ces) AS r FROM bench_answers) s$q$),
('CES', 'SQL', $q$
SELECT count(ces) AS n, count(*) FILTER (WHERE ces >= 5) AS agree,
       100.0 * count(*) FILTER (WHERE ces >= 5) / count(ces) AS ces, avg(ces::float8) AS mean
FROM bench_answers$q$),
('NPS by segment', 'clm', $q$SELECT segment, (r).* FROM (SELECT segment, clm.nps(nps) AS r FROM bench_answers GROUP BY segment) s$q$),
('NPS by segment', 'SQL', $q$
SELECT segment, n, p, pa, d, 100.0 * (p - d) / n AS nps,
       100 * sqrt(((p + d)::float8 / n - ((p - d)::float8 / n) ^ 2) / n) AS se
FROM (SELECT segment, count(nps) AS n, count(*) FILTER (WHERE nps >= 9) AS p,
             count(*) FILTER (WHERE nps BETWEEN 7 AND 8) AS pa, count(*) FILTER (WHERE nps <= 6) AS d
      FROM bench_answers GROUP BY segment) c$q$);

-- the figures agree: counts exactly, floats to 1e-9 (relative)
SELECT 'NPS' AS score, (r).responses = c.n AND (r).promoters = c.p AND (r).passives = c.pa
       AND (r).detractors = c.d AND abs((r).nps - 100.0 * (c.p - c.d) / c.n) < 1e-9
       AND abs((r).std_err - 100 * sqrt(((c.p + c.d)::float8 / c.n - ((c.p - c.d)::float8 / c.n) ^ 2) / c.n)) < 1e-9
       AS same
FROM (SELECT clm.nps(nps) AS r, count(nps) AS n, count(*) FILTER (WHERE nps >= 9) AS p,
             count(*) FILTER (WHERE nps BETWEEN 7 AND 8) AS pa, count(*) FILTER (WHERE nps <= 6) AS d
      FROM bench_answers) c
UNION ALL
SELECT 'CSAT', (r).responses = n AND (r).satisfied = s AND abs((r).csat - 100.0 * s / n) < 1e-9
FROM (SELECT clm.csat(csat) AS r, count(csat) AS n, count(*) FILTER (WHERE csat >= 4) AS s FROM bench_answers) c
UNION ALL
SELECT 'CES', (r).responses = n AND (r).agree = a AND abs((r).ces - 100.0 * a / n) < 1e-9
       AND abs((r).mean - m) < 1e-9
FROM (SELECT clm.ces(ces) AS r, count(ces) AS n, count(*) FILTER (WHERE ces >= 5) AS a, avg(ces::float8) AS m
      FROM bench_answers) c;

-- REPS rounds, each running every query once (interleaved, so that a burst
-- of load elsewhere hits all queries alike); the best of the rounds is kept
CREATE TEMP TABLE timings (workers int, score text, kind text, ms float8, cpu float8);
SET max_parallel_workers_per_gather = 0;
INSERT INTO timings SELECT 0, score, kind, b.ms, b.cpu
FROM generate_series(1, :REPS) rep, queries, pg_temp.bench(q) b;
SET max_parallel_workers_per_gather = 2;
INSERT INTO timings SELECT 2, score, kind, b.ms, b.cpu
FROM generate_series(1, :REPS) rep, queries, pg_temp.bench(q) b;
CREATE TEMP TABLE best AS
SELECT workers, score, kind, min(ms) AS ms, min(cpu) AS cpu FROM timings GROUP BY 1, 2, 3;
-- serial: backend CPU time; with 2 workers: wall time (the workers' CPU
-- time is not the backend's).  floor = count(*) (no column read),
-- floor1 = count(<the score column>) (one column read, one strict aggregate)
SELECT t.workers, t.score,
       round(CASE t.workers WHEN 0 THEN f.cpu ELSE f.ms END) AS floor_ms,
       round(CASE t.workers WHEN 0 THEN f1.cpu ELSE f1.ms END) AS floor1_ms,
       round(CASE t.workers WHEN 0 THEN c.cpu ELSE c.ms END) AS clm_ms,
       round(CASE t.workers WHEN 0 THEN t.cpu ELSE t.ms END) AS sql_ms,
       round((CASE t.workers WHEN 0 THEN t.cpu / c.cpu ELSE t.ms / c.ms END)::numeric, 2) AS sql_over_clm,
       round((CASE t.workers WHEN 0 THEN c.cpu / f.cpu ELSE c.ms / f.ms END)::numeric, 2) AS clm_over_floor,
       round((CASE t.workers WHEN 0 THEN t.cpu / f1.cpu ELSE t.ms / f1.ms END)::numeric, 2) AS sql_over_floor1
FROM best t
JOIN best c ON c.workers = t.workers AND c.score = t.score AND c.kind = 'clm'
JOIN best f ON f.workers = t.workers AND f.kind = 'floor'
JOIN best f1 ON f1.workers = t.workers AND f1.score = t.score AND f1.kind = 'floor1'
WHERE t.kind = 'SQL'
ORDER BY t.workers, t.score;
