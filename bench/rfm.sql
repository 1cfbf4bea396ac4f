-- bench/rfm.sql: clm.rfm_summary per customer over 10M synthetic events /
-- 1M customers, against the best plain-SQL equivalent and against the
-- grouping floor (count(*) GROUP BY customer).  Run: bench/run rfm
\set ON_ERROR_STOP on
\pset footer off
SET timezone = 'UTC';
SET client_min_messages = warning;

-- 10M events, 1M customers, two years, fixed seed
SELECT setseed(0.20261123);
DROP TABLE IF EXISTS bench_events;
CREATE UNLOGGED TABLE bench_events AS
SELECT (floor(random() * 1000000))::int + 1 AS customer_id,
       timestamptz '2023-01-01' + floor(random() * 730 * 86400) * interval '1 second' AS at,
       round((random() * 100)::numeric, 2)::float8 AS amount
FROM generate_series(1, 10000000);
VACUUM ANALYZE bench_events;
SELECT count(*) AS events, count(DISTINCT customer_id) AS customers FROM bench_events;

-- the plain-SQL equivalent: daily periods, weeks as the unit, to as_of
CREATE FUNCTION pg_temp.plain_sql() RETURNS text LANGUAGE sql AS $q$
SELECT $$
SELECT customer_id,
       (count(*) - 1)::int AS frequency,
       (max(d) - min(d)) / 7.0::float8 AS recency,
       (date '2024-12-31' - min(d)) / 7.0::float8 AS t,
       CASE WHEN count(*) > 1
            THEN (sum(amt) - (min(ARRAY[(d - date '2000-01-01')::float8, amt]))[2]) / (count(*) - 1)
            ELSE 0 END AS monetary,
       min(first_at) AS first_at, max(last_at) AS last_at,
       count(*)::int AS periods, sum(amt) AS total, sum(n)::bigint AS events
FROM (SELECT customer_id, (at AT TIME ZONE 'UTC')::date AS d, sum(amount) AS amt,
             min(at) AS first_at, max(at) AS last_at, count(*) AS n
      FROM bench_events WHERE at <= timestamptz '2024-12-31'
      GROUP BY customer_id, (at AT TIME ZONE 'UTC')::date) p
GROUP BY customer_id
$$ $q$;
CREATE FUNCTION pg_temp.clm_sql() RETURNS text LANGUAGE sql AS $q$
SELECT $$
SELECT customer_id, (s).*
FROM (SELECT customer_id, clm.rfm_summary(at, amount, '2024-12-31', 'day', 'week') AS s
      FROM bench_events GROUP BY customer_id) q
$$ $q$;

-- identical rows: every column equal (sums to 1e-9: float addition order differs)
\set QUIET on
SELECT 'CREATE UNLOGGED TABLE bench_plain AS ' || pg_temp.plain_sql() \gexec
SELECT 'CREATE UNLOGGED TABLE bench_clm AS ' || pg_temp.clm_sql() \gexec
\set QUIET off
SELECT count(*) AS customers,
       count(*) FILTER (WHERE a.frequency = b.frequency AND a.recency = b.recency AND a.t = b.t
                          AND abs(a.monetary - b.monetary) < 1e-9 AND a.first_at = b.first_at
                          AND a.last_at = b.last_at AND a.periods = b.periods
                          AND abs(a.total - b.total) < 1e-6 AND a.events = b.events) AS identical
FROM bench_plain a FULL JOIN bench_clm b USING (customer_id);

-- timings: best of 3 runs, each consuming every output column
CREATE FUNCTION pg_temp.best_ms(q text, runs int DEFAULT 3) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; best float8 := 'Infinity'; n bigint;
BEGIN
	FOR i IN 1..runs LOOP
		t0 := clock_timestamp();
		EXECUTE 'SELECT count(*) FROM (' || q || ') r WHERE r IS NOT NULL' INTO n;
		best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	RETURN best;
END $$;

CREATE TEMP TABLE bench_result (workers int, query text, ms float8);
DO $$
DECLARE w int;
BEGIN
	FOREACH w IN ARRAY ARRAY[0, 2] LOOP
		PERFORM set_config('max_parallel_workers_per_gather', w::text, false);
		INSERT INTO bench_result VALUES
			(w, 'floor: count(*) GROUP BY customer',
			 pg_temp.best_ms('SELECT customer_id, count(*) FROM bench_events GROUP BY customer_id')),
			(w, 'clm.rfm_summary', pg_temp.best_ms(pg_temp.clm_sql())),
			(w, 'plain SQL', pg_temp.best_ms(pg_temp.plain_sql()));
	END LOOP;
END $$;
SELECT workers, query, round(ms::numeric) AS ms,
       round((ms / min(ms) FILTER (WHERE query LIKE 'floor%') OVER (PARTITION BY workers))::numeric, 2) AS vs_floor,
       round((max(ms) FILTER (WHERE query = 'plain SQL') OVER (PARTITION BY workers) / ms)::numeric, 2) AS plain_sql_over_this
FROM bench_result ORDER BY workers, ms;
