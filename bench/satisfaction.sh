#!/usr/bin/env bash
# clm.nps / clm.csat / clm.ces benchmark: synthetic survey answers (fixed
# seed) against the equivalent plain SQL (count(*) FILTER ...).
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/run satisfaction
# Scale: SAT_ANSWERS (default 10,000,000) answers in 20 segments, about 2 %
# NULL scores per column; SAT_REPS timed runs per query (best kept).
# Prints, serial and with 2 parallel workers: the scan floor (count(*)), clm,
# plain SQL computing the same figures (checked equal), and the ratios.
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
-- run a query REPS times, return the best wall time in ms; the rows are
-- hashed (so every column is computed) and the hash returned
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
CREATE TEMP TABLE queries (score text, kind text, q text);
INSERT INTO queries VALUES
('all', 'floor', $q$SELECT count(*) FROM bench_answers$q$),
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

CREATE TEMP TABLE timings (workers int, score text, kind text, ms float8);
SET max_parallel_workers_per_gather = 0;
INSERT INTO timings SELECT 0, score, kind, (pg_temp.bench(q, :REPS)).ms FROM queries;
SET max_parallel_workers_per_gather = 2;
INSERT INTO timings SELECT 2, score, kind, (pg_temp.bench(q, :REPS)).ms FROM queries;
SELECT t.workers, t.score, round(f.ms) AS floor_ms, round(c.ms) AS clm_ms, round(t.ms) AS sql_ms,
       round((c.ms / f.ms)::numeric, 2) AS clm_over_floor, round((t.ms / c.ms)::numeric, 2) AS sql_over_clm,
       round(((t.ms - f.ms) / nullif(c.ms - f.ms, 0))::numeric, 2) AS above_floor_ratio
FROM timings t
JOIN timings c ON c.workers = t.workers AND c.score = t.score AND c.kind = 'clm'
JOIN timings f ON f.workers = t.workers AND f.kind = 'floor'
WHERE t.kind = 'SQL'
ORDER BY t.workers, t.score;
SQL
