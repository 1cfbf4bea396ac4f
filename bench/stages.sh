#!/usr/bin/env bash
# Stage tracking cost, measured with pgbench on 1M-row customer tables
# (run by bench/run, which sets PSQL and the PG* variables):
#   track  UPDATE of the stage column, tracked by clm (C trigger)
#   floor  the same UPDATE plus a hand-written INSERT into a history table with
#          the same columns and indexes, one statement (data-modifying CTE)
#   plpgsql the same UPDATE, tracked by a plpgsql AFTER trigger that validates
#          the stage against clm.stage and inserts the history row
#   nochange_plain / nochange_track  UPDATE that rewrites the same stage, on an
#          untracked and a tracked table (two fresh copies that only get these updates)
#   other_plain / other_track (part 2 only)  UPDATE of another column on the same two
# Part 2 runs the same statements LOOP_N times inside one plpgsql call per
# variant (no client round trips, one transaction per call), alternating the
# variants LOOP_ROUNDS times, and measures the CPU time of the backend
# (/proc/self/stat utime + stime, 10 ms ticks) rather than wall time: on a
# shared machine, waiting for a CPU does not count.  A stricter test too: the
# trigger's cost is compared with the executor's alone.
# Every UPDATE moves the customer to the next stage, so every transaction
# writes one history row in all three tracked variants.  Runs alternate
# (ROUNDS rounds of SECS seconds each); each ratio is computed within a round
# (paired, so slow drifts of a shared machine cancel) and the median is reported.
set -euo pipefail
ROUNDS=${ROUNDS:-11}
SECS=${SECS:-2}
LOOP_ROUNDS=${LOOP_ROUNDS:-11}
LOOP_N=${LOOP_N:-20000}
CLIENTS=${CLIENTS:-1}
PGBENCH="$(dirname "${PSQL%% *}")/pgbench"   # next to the psql bench/run uses
tmp=$(mktemp -d /tmp/clm-bench-stages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

$PSQL -q <<'SQL'
SELECT setseed(0.42);
CREATE TABLE cust_base AS
SELECT g::bigint AS id, md5(g::text) AS name,
       (ARRAY['acquisition','activation','retention','expansion','churn'])[1 + floor(random() * 5)::int] AS stage
FROM generate_series(1, 1000000) g;
CREATE TABLE cust_track (LIKE cust_base);
CREATE TABLE cust_floor (LIKE cust_base);
CREATE TABLE cust_plpgsql (LIKE cust_base);
CREATE TABLE cust_plain (LIKE cust_base);
CREATE TABLE cust_nochange (LIKE cust_base);
INSERT INTO cust_track SELECT * FROM cust_base;
INSERT INTO cust_floor SELECT * FROM cust_base;
INSERT INTO cust_plpgsql SELECT * FROM cust_base;
INSERT INTO cust_plain SELECT * FROM cust_base;
INSERT INTO cust_nochange SELECT * FROM cust_base;
ALTER TABLE cust_track ADD PRIMARY KEY (id);
ALTER TABLE cust_floor ADD PRIMARY KEY (id);
ALTER TABLE cust_plpgsql ADD PRIMARY KEY (id);
ALTER TABLE cust_plain ADD PRIMARY KEY (id);
ALTER TABLE cust_nochange ADD PRIMARY KEY (id);
SELECT clm.track('cust_track', 'id', 'stage', 'acquisition_churn', record_existing => false);
SELECT clm.track('cust_nochange', 'id', 'stage', 'acquisition_churn', record_existing => false);
\i bench/stages_plpgsql.sql
-- declared like clm's trigger (no WHEN clause: see README)
CREATE TRIGGER plpgsql_stage AFTER UPDATE OF stage, id ON cust_plpgsql FOR EACH ROW
	EXECUTE FUNCTION plpgsql_stage_trigger();
VACUUM ANALYZE;
SQL

next="CASE stage WHEN 'acquisition' THEN 'activation' WHEN 'activation' THEN 'retention' WHEN 'retention' THEN 'expansion' WHEN 'expansion' THEN 'churn' ELSE 'acquisition' END"
printf '\\set id random(1, 1000000)\nUPDATE cust_track SET stage = %s WHERE id = :id;\n' "$next" >"$tmp/track.sql"
printf '\\set id random(1, 1000000)\nWITH u AS (UPDATE cust_floor SET stage = %s WHERE id = :id RETURNING id, stage)\nINSERT INTO hist_floor (table_oid, customer_key, model, from_stage, to_stage, changed_at, xid, changed_by, source) SELECT '"'"'cust_floor'"'"'::regclass, u.id::text, '"'"'acquisition_churn'"'"', NULL, u.stage, now(), pg_current_xact_id(), current_user, '"'"'trigger'"'"' FROM u;\n' "$next" >"$tmp/floor.sql"
printf '\\set id random(1, 1000000)\nUPDATE cust_plpgsql SET stage = %s WHERE id = :id;\n' "$next" >"$tmp/plpgsql.sql"
printf '\\set id random(1, 1000000)\nUPDATE cust_plain SET stage = stage WHERE id = :id;\n' >"$tmp/nochange_plain.sql"
printf '\\set id random(1, 1000000)\nUPDATE cust_nochange SET stage = stage WHERE id = :id;\n' >"$tmp/nochange_track.sql"

variants="track floor plpgsql nochange_plain nochange_track"
for v in $variants; do : >"$tmp/$v.tps"; done
# warm-up, then alternating rounds
for v in $variants; do
	"$PGBENCH" -n -M prepared -c "$CLIENTS" -T 2 --random-seed=7 -f "$tmp/$v.sql" postgres >/dev/null 2>&1
done
for r in $(seq "$ROUNDS"); do
	for v in $variants; do
		"$PGBENCH" -n -M prepared -c "$CLIENTS" -T "$SECS" --random-seed="$r" -f "$tmp/$v.sql" postgres >"$tmp/out" 2>&1
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$tmp/out" >>"$tmp/$v.tps"
		$PSQL -q -c 'CHECKPOINT' >/dev/null
	done
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "pgbench -M prepared, $CLIENTS client(s), $ROUNDS rounds x ${SECS}s; TPS per round:"
for v in $variants; do
	printf '%-16s %s\n' "$v" "$(tr '\n' ' ' <"$tmp/$v.tps")"
done
# per-round ratios of times per transaction (= inverse TPS ratios)
paste "$tmp/track.tps" "$tmp/floor.tps" | awk '{print $2 / $1}' | median >"$tmp/r1"
paste "$tmp/plpgsql.tps" "$tmp/track.tps" | awk '{print $2 / $1}' | median >"$tmp/r2"
paste "$tmp/nochange_track.tps" "$tmp/nochange_plain.tps" | awk '{print $2 / $1}' | median >"$tmp/r3"
printf 'median per-round ratio, time per stage change, clm C trigger / hand-written floor: %.3f\n' "$(cat "$tmp/r1")"
printf 'median per-round ratio, time per stage change, plpgsql trigger / clm C trigger:    %.3f\n' "$(cat "$tmp/r2")"
printf 'median per-round ratio, time per no-change update, tracked / untracked:            %.3f\n' "$(cat "$tmp/r3")"
# every tracked stage change wrote exactly one row, like the hand-written variants
$PSQL -At -c "SELECT 'history rows: clm ' || (SELECT count(*) FROM clm.stage_history WHERE table_oid = 'cust_track'::regclass)
	|| ', floor ' || (SELECT count(*) FROM hist_floor) || ', plpgsql ' || (SELECT count(*) FROM hist_plpgsql)"
$PSQL -At -c "SELECT 'clm history rows that are not real changes: ' || count(*) FROM clm.stage_history
	WHERE table_oid = 'cust_track'::regclass AND from_stage IS NOT DISTINCT FROM to_stage"
$PSQL -At -c "SELECT 'clm and plpgsql histories agree on (from, to) pairs per move: ' ||
	((SELECT count(*) FROM (SELECT from_stage, to_stage FROM clm.stage_history WHERE table_oid = 'cust_track'::regclass
	   EXCEPT SELECT from_stage, to_stage FROM hist_plpgsql) d) = 0)"

# Part 2: in-server loops, alternating variants call by call
$PSQL -q <<SQL
CREATE FUNCTION backend_cpu_ms() RETURNS float8 LANGUAGE sql AS \$\$
	SELECT 10.0 * (s[14]::bigint + s[15]::bigint)
	FROM string_to_array(pg_read_file('/proc/self/stat'), ' ') s
\$\$;
CREATE FUNCTION bench_loop(variant text, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
	t0 float8 := backend_cpu_ms();
	k bigint;
BEGIN
	FOR i IN 1..n LOOP
		k := 1 + floor(random() * 1000000)::bigint;
		IF variant = 'track' THEN
			UPDATE cust_track SET stage = $next WHERE id = k;
		ELSIF variant = 'floor' THEN
			WITH u AS (UPDATE cust_floor SET stage = $next WHERE id = k RETURNING id, stage)
			INSERT INTO hist_floor (table_oid, customer_key, model, from_stage, to_stage, changed_at, xid, changed_by, source)
			SELECT 'cust_floor'::regclass, u.id::text, 'acquisition_churn', NULL, u.stage, now(), pg_current_xact_id(), current_user, 'trigger' FROM u;
		ELSIF variant = 'plpgsql' THEN
			UPDATE cust_plpgsql SET stage = $next WHERE id = k;
		ELSIF variant = 'nochange_plain' THEN
			UPDATE cust_plain SET stage = stage WHERE id = k;
		ELSIF variant = 'other_plain' THEN
			UPDATE cust_plain SET name = name WHERE id = k;
		ELSIF variant = 'other_track' THEN
			UPDATE cust_nochange SET name = name WHERE id = k;
		ELSE
			UPDATE cust_nochange SET stage = stage WHERE id = k;
		END IF;
	END LOOP;
	RETURN backend_cpu_ms() - t0;
END \$\$;
SQL
loop_variants="$variants other_plain other_track"
for v in $loop_variants; do : >"$tmp/$v.ms"; $PSQL -qAt -c "SELECT bench_loop('$v', 500)" >/dev/null; done
for r in $(seq "$LOOP_ROUNDS"); do
	for v in $loop_variants; do
		$PSQL -qAt -c "SELECT setseed($r / 100.0)" -c "SELECT bench_loop('$v', $LOOP_N)" | tail -1 >>"$tmp/$v.ms"
	done
done
echo "in-server loops: $LOOP_ROUNDS rounds x $LOOP_N updates per variant; backend CPU ms per call:"
for v in $loop_variants; do
	printf '%-16s %s\n' "$v" "$(xargs printf '%.0f ' <"$tmp/$v.ms")"
	printf '%-16s median %.2f us CPU per update\n' "" "$(awk -v n="$LOOP_N" '{print 1000 * $1 / n}' "$tmp/$v.ms" | median)"
done
paste "$tmp/track.ms" "$tmp/floor.ms" | awk '{print $1 / $2}' | median >"$tmp/r1"
paste "$tmp/plpgsql.ms" "$tmp/track.ms" | awk '{print $1 / $2}' | median >"$tmp/r2"
paste "$tmp/nochange_track.ms" "$tmp/nochange_plain.ms" | awk '{print $1 / $2}' | median >"$tmp/r3"
printf 'in-server median per-round ratio, clm C trigger / hand-written floor:     %.3f\n' "$(cat "$tmp/r1")"
printf 'in-server median per-round ratio, plpgsql trigger / clm C trigger:        %.3f\n' "$(cat "$tmp/r2")"
paste "$tmp/other_track.ms" "$tmp/other_plain.ms" | awk '{print $1 / $2}' | median >"$tmp/r4"
printf 'in-server median per-round ratio, no-change update tracked / untracked:   %.3f\n' "$(cat "$tmp/r3")"
printf 'in-server median per-round ratio, other-column update tracked / untracked: %.3f\n' "$(cat "$tmp/r4")"
