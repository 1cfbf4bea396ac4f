#!/usr/bin/env bash
# Stage tracking under concurrency and through pg_dump, run by scripts/test
# against its running cluster (PGHOST/PGPORT/PGUSER set, PGSYS = server tree).
# Prints TAP.
#
# 1-4: 8 pgbench clients change the stages of 20 overlapping customers
#      (some transactions roll back); every committed change must have
#      exactly one history row, in order, and nothing else.
# 5-9: pg_dump of a database with a custom model, a tracked table and its
#      history, restored into a new database: models, registry, history and
#      triggers survive; the presets are not duplicated.
set -euo pipefail
cd "$(dirname "$0")/../.."
PSQL="$PGSYS/bin/psql -X -q -v ON_ERROR_STOP=1 -At"
tmp=$(mktemp -d /tmp/clm-stages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
check() {	# check "description" "got" "expected"
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "#   got:      $2"
		echo "#   expected: $3"
	fi
}
echo "1..9"

$PSQL -d postgres -c 'CREATE DATABASE clm_stages_conc'
$PSQL -d clm_stages_conc <<'SQL'
CREATE EXTENSION clm;
CREATE TABLE cust (id int PRIMARY KEY, stage text);
INSERT INTO cust SELECT g, NULL FROM generate_series(1, 20) g;
SELECT clm.track('cust', 'id', 'stage', 'acquisition_churn');
-- what the clients really changed, written in the same transactions
CREATE TABLE changes (id int, stage text);
SQL
cat >"$tmp/change.sql" <<'SQL'
\set id random(1, 20)
\set s random(1, 5)
WITH u AS (UPDATE cust SET stage = (ARRAY['acquisition','activation','retention','expansion','churn'])[:s]
           WHERE id = :id AND stage IS DISTINCT FROM (ARRAY['acquisition','activation','retention','expansion','churn'])[:s]
           RETURNING id, stage)
INSERT INTO changes SELECT id, stage FROM u;
SQL
cat >"$tmp/rollback.sql" <<'SQL'
\set id random(1, 20)
\set s random(1, 5)
BEGIN;
UPDATE cust SET stage = (ARRAY['acquisition','activation','retention','expansion','churn'])[:s] WHERE id = :id;
ROLLBACK;
SQL
"$PGSYS/bin/pgbench" -n -c 8 -j 2 -t 150 --random-seed=42 \
	-f "$tmp/change.sql@9" -f "$tmp/rollback.sql@1" clm_stages_conc >"$tmp/pgbench.log" 2>&1 ||
	{ cat "$tmp/pgbench.log" >&2; exit 1; }

got=$($PSQL -d clm_stages_conc -c "SELECT (SELECT count(*) FROM clm.stage_history) || '/' || (SELECT count(*) FROM changes)")
total=${got#*/}
check "one history row per committed change ($total changes by 8 clients)" "$got" "$total/$total"
got=$($PSQL -d clm_stages_conc -c "
	SELECT count(*) FROM (
	  (SELECT customer_key, count(*) FROM clm.stage_history GROUP BY 1
	   EXCEPT SELECT id::text, count(*) FROM changes GROUP BY 1)
	  UNION ALL
	  (SELECT id::text, count(*) FROM changes GROUP BY 1
	   EXCEPT SELECT customer_key, count(*) FROM clm.stage_history GROUP BY 1)) d")
check "per customer, history rows = committed changes" "$got" "0"
got=$($PSQL -d clm_stages_conc -c "
	SELECT count(*) FROM (
	  SELECT from_stage, lag(to_stage) OVER (PARTITION BY customer_key ORDER BY id) AS prev
	  FROM clm.stage_history) h
	WHERE from_stage IS DISTINCT FROM prev")
check "each history row starts where the previous one of its customer ended" "$got" "0"
got=$($PSQL -d clm_stages_conc -c "
	SELECT count(*) FROM cust c
	WHERE c.stage IS DISTINCT FROM (SELECT h.to_stage FROM clm.stage_history h
	                                WHERE h.customer_key = c.id::text ORDER BY h.id DESC LIMIT 1)")
check "the last history row of each customer is its current stage" "$got" "0"

# pg_dump keeps user models, the registry, the history and the triggers
$PSQL -d postgres \
	-c 'CREATE DATABASE clm_stages_dump' -c 'CREATE DATABASE clm_stages_restored'
$PSQL -d clm_stages_dump <<'SQL'
CREATE EXTENSION clm;
INSERT INTO clm.stage_model (model, policy) VALUES ('my_flow', 'graph');
INSERT INTO clm.stage (model, stage, position) VALUES ('my_flow', 'trial', 1), ('my_flow', 'paid', 2), ('my_flow', 'gone', 3);
INSERT INTO clm.stage_transition (model, from_stage, to_stage) VALUES ('my_flow', 'trial', 'paid'), ('my_flow', 'paid', 'gone');
CREATE TABLE acct (note text, code text, plan_stage text);
ALTER TABLE acct DROP COLUMN note;   -- attnums change on restore
SELECT clm.track('acct', 'code', 'plan_stage', 'my_flow');
INSERT INTO acct VALUES ('a1', 'trial'), ('a2', 'trial');
UPDATE acct SET plan_stage = 'paid' WHERE code = 'a1';
SQL
"$PGSYS/bin/pg_dump" -d clm_stages_dump >"$tmp/dump.sql"
$PSQL -d clm_stages_restored -f "$tmp/dump.sql" >/dev/null
got=$($PSQL -d clm_stages_restored -c "SELECT count(*) FILTER (WHERE shipped) || '/' || string_agg(model, ',') FILTER (WHERE NOT shipped) FROM clm.stage_model")
check "restored: 6 presets once, custom model kept" "$got" "6/my_flow"
got=$($PSQL -d clm_stages_restored -c "SELECT string_agg(stage, '>' ORDER BY position) FROM clm.stage WHERE model = 'my_flow'")
check "restored: custom stages" "$got" "trial>paid>gone"
got=$($PSQL -d clm_stages_restored -c "SELECT table_oid::text || ' ' || key_column || ' ' || stage_column || ' ' || model FROM clm.tracked_tables")
check "restored: registry with the new table OID and columns" "$got" "acct code plan_stage my_flow"
got=$($PSQL -d clm_stages_restored -c "SELECT string_agg(customer_key || ':' || coalesce(from_stage, '-') || '>' || to_stage, ' ' ORDER BY id) FROM clm.stage_history WHERE table_oid = 'acct'::regclass")
check "restored: history" "$got" "a1:->trial a2:->trial a1:trial>paid"
got=$($PSQL -d clm_stages_restored -c "UPDATE acct SET plan_stage = 'gone' WHERE code = 'a1'" \
	-c "SELECT string_agg(customer_key || ':' || from_stage || '>' || to_stage || ':' || model, ' ') FROM clm.stage_history WHERE id > 3" 2>&1)
got2=$($PSQL -d clm_stages_restored -c "SELECT 1 FROM acct WHERE code = 'a2'" -c "UPDATE acct SET plan_stage = 'gone' WHERE code = 'a2'" 2>&1 | grep -o 'ERROR: .*not allowed' || true)
check "restored: the trigger tracks and validates (graph policy)" "$got|$got2" "a1:paid>gone:my_flow|ERROR:  transition from stage \"trial\" to stage \"gone\" is not allowed"

$PSQL -d postgres -c 'DROP DATABASE clm_stages_conc' -c 'DROP DATABASE clm_stages_dump' -c 'DROP DATABASE clm_stages_restored'
