#!/usr/bin/env bash
# clm on Citus: the same events local on the coordinator and distributed by
# customer over two workers (4 shards), all three nodes on this machine.
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/citus.sh
# Scale: CITUS_EVENTS (default 10,000,000) events of CITUS_CUSTOMERS (default
# 1,000,000) customers over 24 months (the data of bench/activity.sh, fixed
# seed, plus an amount); CITUS_REPS timed runs per query (best kept, default 2).
# Each query runs on both tables and its rows are hashed; the hashes must be
# equal.  Prints the timings, the distributed/local ratio, and where the
# distributed time goes (EXPLAIN ANALYZE of one task, bytes of the partial
# states the workers send).  Needs Citus (see scripts/lib-citus.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/lib-citus.sh
citus_available || exit 0
EVENTS=${CITUS_EVENTS:-10000000}
CUSTOMERS=${CITUS_CUSTOMERS:-1000000}
REPS=${CITUS_REPS:-2}
export CLM_CITUS_CONF="shared_buffers = '1GB'
work_mem = '256MB'
max_parallel_workers_per_gather = 0"
citus_start clm_bench
PSQL="$PGSYS/bin/psql -X -v ON_ERROR_STOP=1 -d clm_bench"
echo "== clm on Citus: $EVENTS events, $CUSTOMERS customers, coordinator + 2 workers (4 shards) on $(nproc) cores, best of $REPS"

$PSQL -q <<SQL
\timing on
SET timezone = 'UTC';
SELECT setseed(0.3);
CREATE TABLE ev_local AS
SELECT c AS customer,
       timestamptz '2023-01-01'
         + make_interval(months => least(23, (c * 7919 % 24)::int + floor(-ln(1 - random()) * 3)::int))
         + random() * interval '27 days 23 hours' AS at,
       round((5 + random() * 95)::numeric, 2)::float8 AS amount
FROM (SELECT (1 + floor(random() * $CUSTOMERS))::bigint AS c FROM generate_series(1, $EVENTS)) s;
CREATE TABLE ev_dist (LIKE ev_local);
SELECT create_distributed_table('ev_dist', 'customer');
INSERT INTO ev_dist SELECT * FROM ev_local;
VACUUM ANALYZE ev_local;
VACUUM ANALYZE ev_dist;
\timing off
SELECT count(*) AS events, count(DISTINCT customer) AS customers, pg_size_pretty(pg_relation_size('ev_local')) AS table_size
FROM ev_local;
SQL

$PSQL -q -v REPS="$REPS" <<'SQL'
SET timezone = 'UTC';
SET citus.coordinator_aggregation_strategy = 'disabled';
-- best wall time of REPS runs in ms, and a hash of every row (a temporary
-- function: Citus warns that it is not created on the workers)
SET client_min_messages = error;
CREATE FUNCTION pg_temp.bench(q text, reps int, OUT ms float8, OUT checksum bigint)
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
-- EV stands for the table
RESET client_min_messages;
CREATE TEMP TABLE queries (n int, name text, q text);
INSERT INTO queries VALUES
(1, 'scan floor: count(*)', $q$SELECT count(*) FROM EV$q$),
(2, 'plain SQL: monthly active customers', $q$SELECT date_trunc('month', at) m, count(DISTINCT customer) FROM EV GROUP BY 1$q$),
(3, 'clm.activity_agg state (split)', $q$SELECT clm.activity_agg(customer, at, 'month', 'UTC') FROM EV$q$),
(4, 'clm retention (state + accessor)', $q$SELECT * FROM clm.retention((SELECT clm.activity_agg(customer, at, 'month', 'UTC') FROM EV))$q$),
(5, 'clm.rfm_summary per customer (pushed down)', $q$SELECT customer, clm.rfm_summary(at, amount, '2025-01-01', 'day', 'week') FROM EV GROUP BY customer$q$),
(6, 'clm.subscriptions_agg + mrr_movements (split)', $q$SELECT period_start, customers_end, round(mrr_end::numeric, 4) FROM clm.mrr_movements((SELECT clm.subscriptions_agg(customer, at, at + interval '30 days', amount) FROM EV))$q$);
CREATE TEMP TABLE results AS
SELECT n, name, (pg_temp.bench(replace(q, 'EV', 'ev_local'), :REPS)).*, 'local' AS kind FROM queries
UNION ALL
SELECT n, name, (pg_temp.bench(replace(q, 'EV', 'ev_dist'), :REPS)).*, 'distributed' FROM queries;
SELECT l.name AS query, round((l.ms / 1000)::numeric, 2) AS local_s, round((d.ms / 1000)::numeric, 2) AS distributed_s,
       round((d.ms / l.ms)::numeric, 2) AS dist_over_local, l.checksum = d.checksum AS same_rows
FROM results l JOIN results d USING (n) WHERE l.kind = 'local' AND d.kind = 'distributed' ORDER BY n;

-- the scoring pipeline: a full refresh of the same events, local and distributed
\timing on
SELECT name FROM clm.register('b_local', 'ev_local', 'customer', 'at', 'amount', incremental => false);
SELECT name FROM clm.register('b_dist', 'ev_dist', 'customer', 'at', 'amount', incremental => false);
SELECT source, rows, round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds FROM clm.refresh('b_local', true, '2025-01-01');
SELECT source, rows, round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds FROM clm.refresh('b_dist', true, '2025-01-01');
\timing off
SELECT count(*) AS customers,
       count(*) FILTER (WHERE row(d.frequency, d.recency, d.t, d.monetary, d.segment, d.p_alive, d.clv)
                        IS DISTINCT FROM row(l.frequency, l.recency, l.t, l.monetary, l.segment, l.p_alive, l.clv)) AS differ
FROM (SELECT * FROM clm.scores WHERE source = 'b_dist') d FULL JOIN (SELECT * FROM clm.scores WHERE source = 'b_local') l USING (customer_key);

-- where the distributed time goes
-- (a) the plan: each worker computes a partial state per shard with
-- worker_partial_agg and sends it as text; the coordinator combines them
-- (EXPLAIN ANALYZE of a split custom aggregate fails in Citus 12.1:
-- "column field_0 has pseudo-type cstring")
EXPLAIN (COSTS OFF, VERBOSE) SELECT clm.activity_agg(customer, at, 'month', 'UTC') FROM ev_dist;
-- (b) per shard, ms: the aggregate run directly, and as Citus runs it
-- (worker_partial_agg calls the transition function through its own
-- function-call data at every row, then prints the state as text)
CREATE FUNCTION public.bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz := clock_timestamp(); x text;
BEGIN
	EXECUTE q INTO x;
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END $f$;
SELECT d.nodeport, d.shardid, d.result AS direct_ms, w.result AS worker_partial_agg_ms
FROM (SELECT nodeport, shardid, result FROM run_command_on_shards('ev_dist', $c$
	SELECT public.bench_ms('SELECT length(clm.activity_agg(customer, at, ''month'', ''UTC'')::text) FROM %s')$c$)
	JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)) d
JOIN run_command_on_shards('ev_dist', format($c$
	SELECT public.bench_ms('SELECT length(worker_partial_agg(%s::oid, ROW(customer, at, ''month''::text, ''UTC''::text))::text) FROM %%s')$c$,
	'clm.activity_agg(bigint, timestamptz, text, text)'::regprocedure::oid)) w USING (shardid)
ORDER BY d.shardid;
-- (c) bytes of the partial states sent to the coordinator (as text)
SELECT sum(result::bigint) AS activity_state_text_bytes FROM run_command_on_shards('ev_dist',
	$c$SELECT octet_length(clm.activity_agg(customer, at, 'month', 'UTC')::text) FROM %s$c$);
SELECT octet_length(clm.activity_agg(customer, at, 'month', 'UTC')::text) AS combined_state_text_bytes FROM ev_local;
SQL
