#!/usr/bin/env bash
# Churn models with covariates: clm.logit_fit vs statsmodels Logit and
# clm.coxph_fit (Efron) vs R survival::coxph, 1 M rows x 10 features,
# timed in the same run.  Run with
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/run churn
# Data: bench/churn_gen.sql (fixed seed, in the database).  The references
# (Debian python3-statsmodels python3-psycopg2 r-cran-survival) are for the
# benchmark only.  Timings are wall clock on a shared 2-core machine: noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROWS=${CHURN_BENCH_ROWS:-1000000}
REPS=${CHURN_BENCH_REPS:-3}

if ! $PY -c 'import statsmodels, psycopg2, pandas' 2>/dev/null || ! Rscript -e 'library(survival)' >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "== installing the references (python3-statsmodels python3-psycopg2 r-cran-survival)" >&2
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends python3-statsmodels python3-psycopg2 r-cran-survival >/dev/null
	else
		echo "bench/churn needs: sudo apt-get install python3-statsmodels python3-psycopg2 r-cran-survival" >&2
		exit 1
	fi
fi
W=$(mktemp -d /tmp/clm-bench-churn.XXXXXX)
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT

echo "== data: $ROWS rows x 10 features (bench/churn_gen.sql)"
$PSQL -q -v rows="$ROWS" -f bench/churn_gen.sql >/dev/null
$PSQL -Atq -c "SELECT count(*), sum(churned::int), sum(event::int), count(DISTINCT duration) FILTER (WHERE event) FROM churn_bench"

# best of REPS runs of an aggregate query, timed in the server
$PSQL -q <<'SQL'
CREATE FUNCTION bench_time(q text, reps int, workers int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; best float8 := 'Infinity';
BEGIN
	PERFORM set_config('max_parallel_workers_per_gather', workers::text, true);
	FOR i IN 1..reps LOOP
		t0 := clock_timestamp();
		EXECUTE q;
		best := least(best, extract(epoch FROM clock_timestamp() - t0));
	END LOOP;
	RETURN best;
END $$;
SQL
LQ="SELECT (clm.logit_fit(churned, x)).coef FROM churn_bench"
CQ="SELECT (clm.coxph_fit(duration, event, x)).coef FROM churn_bench"
echo "== clm.logit_fit (best of $REPS)"
L0=$($PSQL -Atq -c "SELECT round(bench_time('$LQ', $REPS, 0)::numeric, 3)")
L2=$($PSQL -Atq -c "SELECT round(bench_time('$LQ', $REPS, 2)::numeric, 3)")
echo "serial $L0 s, 2 workers $L2 s"
echo "== statsmodels Logit (read through psycopg2 COPY + pandas, then fit)"
$PY bench/churn_ref.py >"$W/sm.json"
cat "$W/sm.json"
echo "== clm.coxph_fit Efron (best of $REPS)"
C0=$($PSQL -Atq -c "SELECT round(bench_time('$CQ', $REPS, 0)::numeric, 3)")
C2=$($PSQL -Atq -c "SELECT round(bench_time('$CQ', $REPS, 2)::numeric, 3)")
echo "serial $C0 s, 2 workers $C2 s"
echo "== R survival::coxph Efron (fit only, data in memory)"
$PSQL -q -c "\\copy (SELECT duration, event::int, x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10] FROM churn_bench) TO '$W/cox.csv' WITH (FORMAT csv)"
Rscript bench/churn_ref.R "$W/cox.csv" >"$W/r.txt"
cat "$W/r.txt"

echo "== agreement"
SMC=$($PY -c "import json; print(','.join(repr(c) for c in json.load(open('$W/sm.json'))['coef']))")
RC=$(awk '/^coef/ { $1 = ""; gsub(/^ +| +$/, ""); gsub(/ +/, ","); print }' "$W/r.txt")
$PSQL -Atq <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT 'logit max |clm - statsmodels| coef: ' || max(abs(a - b))
FROM unnest((SELECT (clm.logit_fit(churned, x)).coef FROM churn_bench), ARRAY[$SMC]::float8[]) u(a, b);
SELECT 'coxph max |clm - R| coef: ' || max(abs(a - b)) || ', clm loglik ' || round(loglik::numeric, 6)
       || ', concordance ' || round(c::numeric, 6)
FROM (SELECT (f).coef AS cf, (f).loglik, (f).concordance AS c FROM (SELECT clm.coxph_fit(duration, event, x) AS f FROM churn_bench) s) m,
     unnest(cf, ARRAY[$RC]::float8[]) u(a, b) GROUP BY loglik, c;
SQL
SMT=$($PY -c "import json; d = json.load(open('$W/sm.json')); print(d['read_s'] + d['fit_s'])")
SMF=$($PY -c "import json; d = json.load(open('$W/sm.json')); print(d['fit_s'])")
RT=$(awk '/^fit_s/ { print $2 }' "$W/r.txt")
awk -v l0="$L0" -v l2="$L2" -v smt="$SMT" -v smf="$SMF" -v c0="$C0" -v c2="$C2" -v rt="$RT" 'BEGIN {
	lb = (l2 < l0) ? l2 : l0; cb = (c2 < c0) ? c2 : c0;
	printf "== summary\n";
	printf "logit: clm %.3f s (serial %.3f, 2 workers %.3f); statsmodels read+fit %.3f s (fit %.3f): %.1fx (%.1fx fit only)\n", lb, l0, l2, smt, smf, smt / lb, smf / lb;
	printf "coxph: clm %.3f s (serial %.3f, 2 workers %.3f); R coxph fit %.3f s: %.1fx\n", cb, c0, c2, rt, rt / cb;
}'
