#!/usr/bin/env bash
# clm.nps / clm.csat / clm.ces cost in instructions, not time: each query of
# bench/satisfaction.sh runs in a single-user backend under callgrind
# (valgrind) over IR_ROWS answers (default 1,000,000, the same generator and
# seed): a session runs the query on a 1,000-row copy, then twice on the big
# table; the instructions of a session that runs it once on the big table
# are subtracted, so what is left is one run with warm caches and the table
# in shared buffers.  The counts are
# exact and repeatable: on a shared machine they settle what wall-clock and
# CPU timings (bench/satisfaction.sh) cannot.
#
#   CLM_PREFIX=/tmp/clm-prefix-x bench/satisfaction_ir.sh     (about 5 minutes)
#
# Prints instructions per answer of: the scan floor count(*), the one-column
# floor count(<score>), clm, and the plain SQL (count(*) FILTER ...), serial.
# IR_KEYS="nps_clm csat_clm" measures only those queries (names below).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROWS=${IR_ROWS:-1000000}

clm_packages
if ! command -v valgrind >/dev/null; then
	echo "bench/satisfaction_ir.sh needs valgrind: apt-get install valgrind" >&2
	exit 1
fi
clm_build_install
W=$(mktemp -d /tmp/clm-bench-sat.XXXXXX)
chmod 755 "$W"
CLM_TMP=$W
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$W"
cleanup() {
	[ -f "$W/data/postmaster.pid" ] && clm_as_owner "$PGBIN/pg_ctl" -D "$W/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
OWNER=postgres
[ "$(id -u)" -eq 0 ] || OWNER=$(id -un)
clm_as_owner "$PGBIN/initdb" -D "$W/data" -U "$OWNER" -A trust -E UTF8 --locale=C -N >/dev/null
cat >>"$W/data/postgresql.conf" <<CONF
listen_addresses = ''
port = 54331
unix_socket_directories = '$W'
shared_preload_libraries = 'clm'
shared_buffers = 512MB
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
jit = off
max_parallel_workers_per_gather = 0
CONF
clm_as_owner "$PGBIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w start >/dev/null
"$PGSYS/bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$W" -p 54331 -U "$OWNER" -d postgres <<SQL
CREATE EXTENSION clm;
SELECT setseed(0.16);
CREATE TABLE bench_answers AS
SELECT (g % 20)::integer AS segment,
       CASE WHEN r1 < 0.02 THEN NULL ELSE least(10, floor(11 * sqrt(r1)))::integer END AS nps,
       CASE WHEN r2 < 0.02 THEN NULL ELSE 1 + floor(5 * r2)::integer END AS csat,
       CASE WHEN r3 < 0.02 THEN NULL ELSE 1 + floor(7 * r3)::integer END AS ces
FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3 FROM generate_series(1, $ROWS) g) s;
CREATE TABLE bench_small AS SELECT * FROM bench_answers LIMIT 1000;
VACUUM ANALYZE;
CHECKPOINT;
SQL
clm_as_owner "$PGBIN/pg_ctl" -D "$W/data" -w stop >/dev/null

# the queries, one line each, on table {t}
declare -A Q
Q[floor]="SELECT count(*) FROM {t}"
Q[nps_floor1]="SELECT count(nps) FROM {t}"
Q[nps_clm]="SELECT (r).* FROM (SELECT clm.nps(nps) AS r FROM {t}) s"
Q[nps_sql]="SELECT n, p, pa, d, 100.0 * (p - d) / n AS nps, 100 * sqrt(((p + d)::float8 / n - ((p - d)::float8 / n) ^ 2) / n) AS se FROM (SELECT count(nps) AS n, count(*) FILTER (WHERE nps >= 9) AS p, count(*) FILTER (WHERE nps BETWEEN 7 AND 8) AS pa, count(*) FILTER (WHERE nps <= 6) AS d FROM {t}) c"
Q[csat_floor1]="SELECT count(csat) FROM {t}"
Q[csat_clm]="SELECT (r).* FROM (SELECT clm.csat(csat) AS r FROM {t}) s"
Q[csat_sql]="SELECT n, s, 100.0 * s / n AS csat FROM (SELECT count(csat) AS n, count(*) FILTER (WHERE csat >= 4) AS s FROM {t}) c"
Q[ces_floor1]="SELECT count(ces) FROM {t}"
Q[ces_clm]="SELECT (r).* FROM (SELECT clm.ces(ces) AS r FROM {t}) s"
Q[ces_sql]="SELECT count(ces) AS n, count(*) FILTER (WHERE ces >= 5) AS agree, 100.0 * count(*) FILTER (WHERE ces >= 5) / count(ces) AS ces, avg(ces::float8) AS mean FROM {t}"
Q[seg_floor1]="SELECT segment, count(nps) FROM {t} GROUP BY segment"
Q[seg_clm]="SELECT segment, (r).* FROM (SELECT segment, clm.nps(nps) AS r FROM {t} GROUP BY segment) s"
Q[seg_sql]="SELECT segment, count(nps), count(*) FILTER (WHERE nps >= 9), count(*) FILTER (WHERE nps BETWEEN 7 AND 8), count(*) FILTER (WHERE nps <= 6) FROM {t} GROUP BY segment"

# instructions of one single-user session running a statement file
irs() {
	chmod a+r "$1"
	clm_as_owner valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$PGBIN/postgres" --single -D "$W/data" postgres <"$1" >"$W/out" 2>"$W/err"
	if grep -q 'ERROR:' "$W/out" "$W/err"; then
		grep -h 'ERROR:' "$W/out" "$W/err" | head -3 >&2
		exit 1
	fi
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$W/err"
}

declare -A IR
echo "instructions per answer (callgrind, $ROWS answers, serial, warm caches):"
for k in ${IR_KEYS:-floor nps_floor1 nps_clm nps_sql csat_floor1 csat_clm csat_sql ces_floor1 ces_clm ces_sql \
	seg_floor1 seg_clm seg_sql}; do
	q=${Q[$k]}
	small=${q//\{t\}/bench_small}
	big=${q//\{t\}/bench_answers}
	printf '%s\n%s\n' "$small" "$big" >"$W/$k.warm.sql"
	printf '%s\n%s\n%s\n' "$small" "$big" "$big" >"$W/$k.full.sql"
	a=$(irs "$W/$k.full.sql")
	b=$(irs "$W/$k.warm.sql")
	IR[$k]=$(awk -v a="$a" -v b="$b" -v n="$ROWS" 'BEGIN { printf "%.1f", (a - b) / n }')
	printf '  %-12s %8s\n' "$k" "${IR[$k]}"
done
[ -n "${IR_KEYS:-}" ] && exit 0	# a subset: no ratios
echo
printf '%-16s %8s %8s %8s %8s %14s %14s %16s\n' score floor floor1 clm SQL 'SQL / clm' 'clm / floor' 'SQL / floor1'
for s in nps csat ces seg; do
	awk -v s="$s" -v f="${IR[floor]}" -v f1="${IR[${s}_floor1]}" -v c="${IR[${s}_clm]}" -v q="${IR[${s}_sql]}" \
		'BEGIN { printf "%-16s %8.1f %8.1f %8.1f %8.1f %14.2f %14.2f %16.2f\n", s, f, f1, c, q, q / c, c / f, q / f1 }'
done
