#!/usr/bin/env bash
# CLV fit states per segment (GROUP BY over many small groups): HashAggregate
# against GroupAggregate, with count(*) for the floor.  One memory context
# per state made hash aggregation quadratic in the number of groups
# (hash_agg_check_limits sums the memory of every child context of the
# aggregate context each time it creates a group).  The transition alone is
# timed through aggregates without a final function (the fit of a tiny
# group costs ~1-5 ms, the same under both plans); one fit-level query at
# 10,000 groups shows the end-to-end effect.  Run with
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/run clv_groups
# 400,000 synthetic customers (setseed 0.42); serial; work_mem = 1GB; best
# of 2.  Wall clock on a shared 2-core machine: noisy.
set -euo pipefail
$PSQL -q <<'SQL'
SELECT setseed(0.42);
CREATE TABLE grp_cust AS
SELECT i AS id, x, CASE WHEN x = 0 THEN 0 ELSE 1 + floor(random() * t) END AS tx, t,
       CASE WHEN x = 0 THEN NULL ELSE 5 + floor(random() * 100) END AS m
FROM (SELECT i, floor(random() * 4)::float8 AS x, (20 + floor(random() * 20))::float8 AS t
      FROM generate_series(1, 400000) i) s;
ANALYZE grp_cust;
SQL
$PSQL <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET client_min_messages = error;
SET work_mem = '1GB';
CREATE AGGREGATE pg_temp.bg_state(float8, float8, float8) (SFUNC = clm.bgnbd_accum, STYPE = clm.clv_state);
CREATE AGGREGATE pg_temp.gg_state(float8, float8) (SFUNC = clm.gamma_gamma_accum, STYPE = clm.clv_state);
CREATE TEMP TABLE r(plan text, agg text, groups int, ms float8);
DO $$
DECLARE
	n int;
	p text;
	a text;
	t0 timestamptz;
	c bigint;
	rep int;
BEGIN
	FOREACH n IN ARRAY ARRAY[10000, 20000, 40000, 80000] LOOP
		FOREACH p IN ARRAY ARRAY['hash', 'sort'] LOOP
			PERFORM set_config('enable_hashagg', CASE WHEN p = 'hash' THEN 'on' ELSE 'off' END, true);
			PERFORM set_config('enable_sort', CASE WHEN p = 'hash' THEN 'off' ELSE 'on' END, true);
			FOREACH a IN ARRAY ARRAY['count(*)', 'bgnbd state', 'gamma_gamma state', 'bgnbd_fit'] LOOP
				CONTINUE WHEN a = 'bgnbd_fit' AND n <> 10000;
				FOR rep IN 1..(CASE WHEN a = 'bgnbd_fit' THEN 1 ELSE 2 END) LOOP
					t0 := clock_timestamp();
					IF a = 'count(*)' THEN
						EXECUTE format('SELECT count(*) FROM (SELECT id %% %s, count(*) m FROM grp_cust GROUP BY 1) s WHERE m IS NOT NULL', n) INTO c;
					ELSIF a = 'bgnbd state' THEN
						EXECUTE format('SELECT count(*) FROM (SELECT id %% %s, pg_temp.bg_state(x, tx, t) m FROM grp_cust GROUP BY 1) s WHERE m IS NOT NULL', n) INTO c;
					ELSIF a = 'gamma_gamma state' THEN
						EXECUTE format('SELECT count(*) FROM (SELECT id %% %s, pg_temp.gg_state(x, m) m FROM grp_cust WHERE x > 0 GROUP BY 1) s WHERE m IS NOT NULL', n) INTO c;
					ELSE
						EXECUTE format('SELECT count(*) FROM (SELECT id %% %s, clm.bgnbd_fit(x, tx, t, 1, 0.1) m FROM grp_cust GROUP BY 1) s WHERE m IS NOT NULL', n) INTO c;
					END IF;
					IF c <> n AND a IN ('count(*)', 'bgnbd state') THEN
						RAISE 'expected % groups, got %', n, c;
					END IF;
					INSERT INTO r VALUES (p, a, n, 1000 * extract(epoch FROM clock_timestamp() - t0));
				END LOOP;
			END LOOP;
		END LOOP;
	END LOOP;
END $$;
SELECT agg, groups,
       round(min(ms) FILTER (WHERE plan = 'hash')) AS hash_ms,
       round(min(ms) FILTER (WHERE plan = 'sort')) AS sort_ms
FROM r GROUP BY agg, groups ORDER BY agg, groups;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM (SELECT id % 10000, pg_temp.bg_state(x, tx, t) m FROM grp_cust GROUP BY 1) s WHERE m IS NOT NULL;
SQL
