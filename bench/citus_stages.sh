#!/usr/bin/env bash
# What stage tracking costs on a Citus distributed table (src/stages_citus.c),
# against the same table untracked and against an ordinary table on the
# coordinator, tracked and not; all three nodes on this machine.
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/citus_stages.sh
# Scale: STAGES_CUSTOMERS customers (default 100,000), STAGES_TX single-row
# UPDATE transactions per table and round (default 1,000, pgbench, one
# client, fixed random seed), STAGES_ROUNDS rounds of those, the tables in
# turn (default 5; the ratios are taken per round, the median is printed:
# wall-clock throughput on a shared machine varies from run to run),
# STAGES_REPS bulk runs (best kept, default 3).  Also prints the commands
# the coordinator sends to the workers for one single-row UPDATE of each
# distributed table (citus.log_remote_commands).  Every UPDATE
# changes a stage (model with policy any), so every statement records a
# change where the table is tracked.  Needs Citus (see scripts/lib-citus.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/lib-citus.sh
citus_available || exit 0
CUSTOMERS=${STAGES_CUSTOMERS:-100000}
TX=${STAGES_TX:-1000}
ROUNDS=${STAGES_ROUNDS:-5}
REPS=${STAGES_REPS:-3}
citus_start clm_bench
PSQL="$PGSYS/bin/psql -X -q -v ON_ERROR_STOP=1 -d clm_bench"
echo "== stage tracking on Citus: $CUSTOMERS customers, coordinator + 2 workers (4 shards) on $(nproc) cores"

$PSQL <<SQL
INSERT INTO clm.stage_model (model, policy) VALUES ('bench_any', 'any');
INSERT INTO clm.stage (model, stage, position) VALUES ('bench_any', 'active', 1), ('bench_any', 'at_risk', 2);
CREATE TABLE local_plain (id bigint PRIMARY KEY, stage text);
INSERT INTO local_plain SELECT g, 'active' FROM generate_series(1, $CUSTOMERS) g;
CREATE TABLE local_tracked (LIKE local_plain INCLUDING ALL);
INSERT INTO local_tracked SELECT * FROM local_plain;
CREATE TABLE dist_plain (LIKE local_plain INCLUDING ALL);
SELECT create_distributed_table('dist_plain', 'id') \\g /dev/null
INSERT INTO dist_plain SELECT * FROM local_plain;
CREATE TABLE dist_tracked (LIKE local_plain INCLUDING ALL);
SELECT create_distributed_table('dist_tracked', 'id') \\g /dev/null
INSERT INTO dist_tracked SELECT * FROM local_plain;
SELECT clm.track('local_tracked', 'id', 'stage', 'bench_any', false) \\g /dev/null
SELECT clm.track('dist_tracked', 'id', 'stage', 'bench_any', false) \\g /dev/null
VACUUM ANALYZE local_plain, local_tracked, dist_plain, dist_tracked;
SQL

# bulk: one UPDATE changing every customer's stage, best of REPS
bulk() {
	local best=
	for _ in $(seq "$REPS"); do
		local ms
		ms=$($PSQL -v tbl="$1" <<'SQL' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
SELECT format('UPDATE %I SET stage = CASE WHEN stage = ''active'' THEN ''at_risk'' ELSE ''active'' END', :'tbl') AS upd \gset
\timing on
:upd;
SQL
)
		if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; fi
	done
	echo "$best"
}
# single-row: STAGES_TX transactions of one UPDATE each, one client; tps
single() {
	cat >"$CLM_TMP/single_$1.sql" <<SQL
\\set id random(1, $CUSTOMERS)
UPDATE $1 SET stage = CASE WHEN stage = 'active' THEN 'at_risk' ELSE 'active' END WHERE id = :id;
SQL
	chmod a+r "$CLM_TMP/single_$1.sql"
	"$PGSYS/bin/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -c 1 -t "$TX" --random-seed=7 \
		-f "$CLM_TMP/single_$1.sql" clm_bench 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

printf '\n| table | bulk UPDATE of %s rows, ms (best of %s) |\n|---|---:|\n' "$CUSTOMERS" "$REPS"
for t in local_plain local_tracked dist_plain dist_tracked; do
	b=$(bulk "$t")
	printf '| %s | %s |\n' "$t" "$b"
	eval "B_$t=$b"
done
awk -v bl="$B_local_plain" -v blt="$B_local_tracked" -v bd="$B_dist_plain" -v bdt="$B_dist_tracked" 'BEGIN {
	printf "tracked / untracked, bulk time: local %.2f, distributed %.2f; distributed tracked / local tracked %.2f\n",
		blt / bl, bdt / bd, bdt / blt
}'

printf '\n| round | local_plain tps | local_tracked tps | dist_plain tps | dist_tracked tps | local untracked/tracked | distributed untracked/tracked |\n|---|---:|---:|---:|---:|---:|---:|\n'
: >"$CLM_TMP/ratios"
for r in $(seq "$ROUNDS"); do
	lp=$(single local_plain); lt=$(single local_tracked); dp=$(single dist_plain); dt=$(single dist_tracked)
	awk -v r="$r" -v lp="$lp" -v lt="$lt" -v dp="$dp" -v dt="$dt" 'BEGIN {
		printf "| %d | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", r, lp, lt, dp, dt, lp / lt, dp / dt }'
	awk -v lp="$lp" -v lt="$lt" -v dp="$dp" -v dt="$dt" 'BEGIN { print lp / lt, dp / dt }' >>"$CLM_TMP/ratios"
done
sort -n -k1 "$CLM_TMP/ratios" | awk '{a[NR]=$1} END {printf "median single-row untracked / tracked: local %.2f", a[int((NR+1)/2)]}'
sort -n -k2 "$CLM_TMP/ratios" | awk '{a[NR]=$2} END {printf ", distributed %.2f\n", a[int((NR+1)/2)]}'

# the history must have one row per change of each tracked table
$PSQL -At <<SQL
SELECT format('history rows: local_tracked %s, dist_tracked %s (equal: %s)', l, d, l = d)
FROM (SELECT count(*) FILTER (WHERE table_oid = 'local_tracked'::regclass) AS l,
             count(*) FILTER (WHERE table_oid = 'dist_tracked'::regclass) AS d FROM clm.stage_history) s;
SQL

# what the coordinator sends the workers for one single-row UPDATE
for t in dist_plain dist_tracked; do
	echo "remote commands of one single-row UPDATE of $t:"
	$PSQL -v tbl="$t" 2>&1 <<'SQL' | sed -n 's/^NOTICE:  issuing \(.\{0,70\}\).*/  \1/p'
SET citus.log_remote_commands = on;
SELECT format('UPDATE %I SET stage = CASE WHEN stage = ''active'' THEN ''at_risk'' ELSE ''active'' END WHERE id = 5', :'tbl') AS upd \gset
:upd;
SQL
done
