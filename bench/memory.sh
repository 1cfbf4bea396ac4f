#!/usr/bin/env bash
# Backend memory of clm.track (record_existing) and clm.import_history on
# N customers (default 1 M; issue #13, hole 7), run by bench/run memory.
# Each call runs in a fresh backend (work_mem 64MB, so the import's sort
# spills instead of growing); the script samples the backend's RssAnon
# (private resident memory: shared_buffers pages are RssShmem and do not
# count) from /proc every 0.1 s while the call runs, and prints the idle
# value before the call and the peak during it.
set -euo pipefail
N=${N:-1000000}

$PSQL -q <<SQL
SELECT setseed(0.1313);
CREATE TABLE mem_cust (id bigint PRIMARY KEY, stage text);
INSERT INTO mem_cust
SELECT g, (ARRAY['acquisition', 'activation', 'retention'])[1 + floor(random() * 3)::int]
FROM generate_series(1, $N) g;
-- two past changes per customer to import: acquisition, then activation
CREATE TABLE mem_hist (customer_key bigint, stage text, changed_at timestamptz);
INSERT INTO mem_hist
SELECT g, v.s, timestamptz '2020-01-01' + (floor(random() * 300) + v.i * 400) * interval '1 day'
FROM generate_series(1, $N) g, (VALUES (0, 'acquisition'), (1, 'activation')) v(i, s);
CREATE TABLE mem_cust2 (id bigint PRIMARY KEY, stage text);
SELECT clm.track('mem_cust2', 'id', 'stage', 'acquisition_churn', false);
VACUUM ANALYZE mem_cust, mem_hist;
SQL

measure() {
	local label=$1 sql=$2 bpid="" psql_pid peak=0 idle rss
	PGAPPNAME="clm_mem_$label" PGOPTIONS="-c work_mem=64MB" \
		$PSQL -q -c "SELECT pg_sleep(1)" -c "$sql" >/dev/null &
	psql_pid=$!
	while [ -z "$bpid" ]; do
		bpid=$($PSQL -qtA -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'clm_mem_$label'")
		sleep 0.05
	done
	idle=$(awk '/^RssAnon/ {print $2}' "/proc/$bpid/status")
	while kill -0 "$psql_pid" 2>/dev/null; do
		rss=$(awk '/^RssAnon/ {print $2}' "/proc/$bpid/status" 2>/dev/null || echo 0)
		[ "${rss:-0}" -gt "$peak" ] && peak=$rss
		sleep 0.1
	done
	wait "$psql_pid"
	printf '%-8s N=%s idle %6d kB  peak %7d kB  growth %7.1f MB\n' "$label" "$N" "$idle" "$peak" \
		"$(echo "($peak - $idle) / 1024" | bc -l)"
}

measure track "SELECT clm.track('mem_cust', 'id', 'stage', 'acquisition_churn')"
measure import "SELECT clm.import_history('mem_cust2', 'mem_hist')"
$PSQL -qtA -c "SELECT 'history rows: ' || count(*) FROM clm.stage_history"
