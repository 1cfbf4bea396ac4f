#!/usr/bin/env bash
# Stage tracking cost in instructions, not time: every variant of
# bench/stages.sh runs N single-row UPDATEs in a single-user backend under
# callgrind (valgrind), starting from the same copy of the data directory,
# and the instructions of a run with only the first UPDATE are subtracted
# (so one-time costs, such as loading caches, do not count).  The
# counts are exact and repeatable, so they settle what wall-clock and CPU
# timings on a shared machine cannot: differences of a few percent.
#
#   CLM_PREFIX=/tmp/clm-prefix-x bench/stages_ir.sh     (about 5 minutes)
#
# Variants (100,000-row tables, the same random ids in every variant):
#   plain          UPDATE t SET stage = stage WHERE id = k   (untracked table)
#   track          the same on a table tracked by clm.track (C trigger, fires)
#   when_key       the same on a table whose AFTER UPDATE OF stage, id trigger has
#                  WHEN (OLD.stage IS DISTINCT FROM NEW.stage OR OLD.id IS DISTINCT FROM NEW.id)
#   when_stage     ... WHEN (OLD.stage IS DISTINCT FROM NEW.stage) only
#   other_plain / other_track   UPDATE t SET name = name (the trigger is not fired)
#   chg_track      UPDATE that moves the stage on the tracked table (writes history)
#   chg_floor      the same UPDATE plus a hand-written INSERT of the history row (CTE)
#   chg_plpgsql    the same UPDATE under a plpgsql trigger doing what clm's does
# Each in two protocols: "simple" (every statement parsed and planned, as
# psql or pgbench -M simple) and "prepared" (PREPARE once, EXECUTE N times,
# as pgbench -M prepared).  Prints instructions per statement and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${IR_N:-2000}

clm_packages
if ! command -v valgrind >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		apt-get install -y -qq --no-install-recommends valgrind >/dev/null
	else
		echo "bench/stages_ir.sh needs valgrind: sudo apt-get install valgrind" >&2
		exit 1
	fi
fi
clm_build_install
W=$(mktemp -d /tmp/clm-bench-ir.XXXXXX)
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
port = 54330
unix_socket_directories = '$W'
shared_preload_libraries = 'clm'
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
CONF
clm_as_owner "$PGBIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w start >/dev/null
"$PGSYS/bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$W" -p 54330 -U "$OWNER" -d postgres <<'SQL'
CREATE EXTENSION clm;
SELECT setseed(0.42);
CREATE TABLE base AS
SELECT g::bigint AS id, md5(g::text) AS name,
       (ARRAY['acquisition','activation','retention','expansion','churn'])[1 + floor(random() * 5)::int] AS stage
FROM generate_series(1, 100000) g;
CREATE TABLE plain (LIKE base);
CREATE TABLE track (LIKE base);
CREATE TABLE when_key (LIKE base);
CREATE TABLE when_stage (LIKE base);
CREATE TABLE floor (LIKE base);
CREATE TABLE plpg (LIKE base);
INSERT INTO plain SELECT * FROM base;
INSERT INTO track SELECT * FROM base;
INSERT INTO when_key SELECT * FROM base;
INSERT INTO when_stage SELECT * FROM base;
INSERT INTO floor SELECT * FROM base;
INSERT INTO plpg SELECT * FROM base;
ALTER TABLE plain ADD PRIMARY KEY (id);
ALTER TABLE track ADD PRIMARY KEY (id);
ALTER TABLE when_key ADD PRIMARY KEY (id);
ALTER TABLE when_stage ADD PRIMARY KEY (id);
ALTER TABLE floor ADD PRIMARY KEY (id);
ALTER TABLE plpg ADD PRIMARY KEY (id);
SELECT clm.track('track', 'id', 'stage', 'acquisition_churn', record_existing => false);
CREATE FUNCTION noop_trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER w AFTER UPDATE OF stage, id ON when_key FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage OR OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION noop_trg();
CREATE TRIGGER w AFTER UPDATE OF stage ON when_stage FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION noop_trg();
\i bench/stages_plpgsql.sql
CREATE TRIGGER p AFTER UPDATE OF stage, id ON plpg FOR EACH ROW EXECUTE FUNCTION plpgsql_stage_trigger();
VACUUM ANALYZE;
CHECKPOINT;
SQL
clm_as_owner "$PGBIN/pg_ctl" -D "$W/data" -w stop >/dev/null
cp -a "$W/data" "$W/snap"

next="CASE stage WHEN 'acquisition' THEN 'activation' WHEN 'activation' THEN 'retention' WHEN 'retention' THEN 'expansion' WHEN 'expansion' THEN 'churn' ELSE 'acquisition' END"
hist="INSERT INTO hist_floor (table_oid, customer_key, model, from_stage, to_stage, changed_at, xid, changed_by, source) SELECT 'floor'::regclass, u.id::text, 'acquisition_churn', NULL, u.stage, now(), pg_current_xact_id(), current_user, 'trigger' FROM u"
# the statement of each variant, with $1 for the id
stmt() {
	case $1 in
		plain | track | when_key | when_stage) echo "UPDATE $1 SET stage = stage WHERE id = \$1" ;;
		other_plain) echo "UPDATE plain SET name = name WHERE id = \$1" ;;
		other_track) echo "UPDATE track SET name = name WHERE id = \$1" ;;
		chg_track) echo "UPDATE track SET stage = $next WHERE id = \$1" ;;
		chg_plpgsql) echo "UPDATE plpg SET stage = $next WHERE id = \$1" ;;
		chg_floor) echo "WITH u AS (UPDATE floor SET stage = $next WHERE id = \$1 RETURNING id, stage) $hist" ;;
	esac
}
awk -v n="$((N + 1))" 'BEGIN { srand(42); for (i = 0; i < n; i++) print 1 + int(rand() * 100000) }' >"$W/ids"

# instructions of one single-user run of a statement file, from the snapshot
irs() {
	rm -rf "$W/data"
	cp -a "$W/snap" "$W/data"
	chmod a+r "$1"
	clm_as_owner valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$PGBIN/postgres" --single -D "$W/data" postgres <"$1" >"$W/out" 2>"$W/err"
	if grep -q 'ERROR:' "$W/out" "$W/err"; then
		grep -h 'ERROR:' "$W/out" "$W/err" | head -3 >&2
		exit 1
	fi
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$W/err"
}
# statement files of a variant in a protocol: the first n statements
write() {
	local v=$1 proto=$2 n=$3 s
	s=$(stmt "$v")
	{
		echo "SELECT 1"
		if [ "$proto" = prepared ]; then
			echo "PREPARE q(bigint) AS ${s}"
			head -n "$n" "$W/ids" | sed 's/.*/EXECUTE q(&)/'
		else
			head -n "$n" "$W/ids" | while read -r k; do echo "${s//\$1/$k}"; done
		fi
	} >"$W/$v.$proto.$n.sql"
}

variants="plain track when_key when_stage other_plain other_track chg_track chg_floor chg_plpgsql"
echo "instructions per statement (callgrind: a run of $((N + 1)) single-row UPDATEs minus a run of the first one, / $N):"
printf '%-12s %12s %12s\n' variant simple prepared
for v in $variants; do
	line=$(printf '%-12s' "$v")
	for proto in simple prepared; do
		write "$v" "$proto" "$((N + 1))"
		write "$v" "$proto" 1
		a=$(irs "$W/$v.$proto.$((N + 1)).sql")
		b=$(irs "$W/$v.$proto.1.sql")
		c=$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.0f", (a - b) / n }')
		echo "$c" >"$W/ir.$v.$proto"
		line="$line $(printf '%12s' "$c")"
	done
	echo "$line"
done
ratio() { awk -v a="$(cat "$W/ir.$1.$3")" -v b="$(cat "$W/ir.$2.$3")" 'BEGIN { printf "%.3f", a / b }'; }
echo
printf '%-58s %8s %8s\n' ratio simple prepared
for r in "no-change UPDATE, tracked / untracked:track:plain" \
	"no-change UPDATE, WHEN (stage or key) / untracked:when_key:plain" \
	"no-change UPDATE, WHEN (stage) / untracked:when_stage:plain" \
	"other-column UPDATE, tracked / untracked:other_track:other_plain" \
	"stage change, clm C trigger / hand-written floor:chg_track:chg_floor" \
	"stage change, plpgsql trigger / clm C trigger:chg_plpgsql:chg_track"; do
	IFS=: read -r label x y <<<"$r"
	printf '%-58s %8s %8s\n' "$label" "$(ratio "$x" "$y" simple)" "$(ratio "$x" "$y" prepared)"
done
