#!/usr/bin/env bash
# CLV fit times alone (no scan, no pattern collapse): each model's final
# function on a stored fit state, best of several runs timed inside the
# server with clock_timestamp(), so the figures compare optimisers and
# likelihood code (e.g. analytic vs numerical gradients).  Run with
#   CLM_PREFIX=/tmp/clm-prefix-<branch> bench/run clv_fits
# Data: the CDNOW calibration summary, the BG/BB donations and 1,000,000
# synthetic customers (bench/clv_gen.py, seed 42).  Timings are wall clock
# on a shared 2-core machine: noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
N=${CLV_BENCH_N:-1000000}
W=$(mktemp -d /tmp/clm-bench-fits.XXXXXX)
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT

tr -d '\r' <data/cdnow_customers_summary_with_transactions.csv | tail -n +2 >"$W/cdnow.csv"
$PY bench/clv_gen.py summary "$N" 42 >"$W/syn.csv"
$PSQL -q <<SQL
CREATE TABLE fits_cdnow (id int, x float8, tx float8, t float8, m float8);
\copy fits_cdnow FROM '$W/cdnow.csv' WITH (FORMAT csv)
CREATE TABLE fits_syn (id int, x float8, tx float8, t float8, m float8);
\copy fits_syn FROM '$W/syn.csv' WITH (FORMAT csv)
CREATE TABLE fits_don (frequency float8, recency float8, periods float8, weights float8);
\copy fits_don FROM 'data/donations.csv' WITH (FORMAT csv, HEADER)
-- fit states in their text form kind;penalizer;rows;x,tx,T,w;...
CREATE TABLE fits_states AS
SELECT d.data, k AS kind,
       (k || ';0;' || sum(n) || ';' || string_agg(x || ',' || tx || ',' || t || ',' || n, ';'))::clm.clv_state AS s
FROM (SELECT 'CDNOW' AS data, x, tx, t, count(*) AS n FROM fits_cdnow GROUP BY x, tx, t
      UNION ALL
      SELECT 'synthetic $N', x, tx, t, count(*) FROM fits_syn GROUP BY x, tx, t) d,
     unnest(ARRAY['bgnbd', 'mbgnbd', 'pareto_nbd']) k
GROUP BY d.data, k
UNION ALL
SELECT 'donations', 'bgbb',
       ('bgbb;0;' || sum(weights) || ';' ||
        string_agg(frequency || ',' || recency || ',' || periods || ',' || weights, ';'))::clm.clv_state
FROM fits_don;
CREATE FUNCTION fits_time(st clm.clv_state, kind text, reps int,
                          OUT ms float8, OUT iterations int, OUT converged bool, OUT loglik float8, OUT patterns int)
LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	t float8;
BEGIN
	ms := 'Infinity';
	FOR i IN 1..reps LOOP
		t0 := clock_timestamp();
		EXECUTE format('SELECT (m).iterations, (m).converged, (m).loglik, (m).patterns '
		               'FROM (SELECT clm.%I(\$1) AS m OFFSET 0) q', kind || '_final')
			INTO iterations, converged, loglik, patterns USING st;
		t := extract(epoch FROM clock_timestamp() - t0) * 1000;
		ms := least(ms, t);
	END LOOP;
END
\$\$;
SQL
echo "== fit only (final function on a stored state), best of 20 (CDNOW, donations) or 3 (synthetic), ms"
$PSQL -P footer=off -c "SET max_parallel_workers_per_gather = 0" -c "
SELECT data, kind AS model, f.patterns, f.iterations, f.converged, round(f.loglik::numeric, 2) AS loglik,
       round(f.ms::numeric, 1) AS fit_ms
FROM fits_states, fits_time(s, kind, CASE WHEN data LIKE 'synthetic%' THEN 3 ELSE 20 END) f
ORDER BY data, kind"
