-- CLV model fits under partial aggregation: the plan splits into Partial and
-- Finalize aggregates (the clm.clv_state values of the workers are flattened,
-- sent to the leader and merged by clm.clv_combine) and the fitted models are
-- identical to the serial ones.
SET extra_float_digits = 0;
CREATE TABLE clv_par (id int, x float8, t_x float8, t float8, zbar float8);
\copy clv_par FROM program 'tr -d ''\r'' < data/cdnow_customers_summary_with_transactions.csv' WITH (FORMAT csv, HEADER)
-- eight copies of every customer, two segments
INSERT INTO clv_par SELECT id + 10000 * g, x, t_x, t, zbar FROM clv_par, generate_series(1, 7) g;
ALTER TABLE clv_par ADD COLUMN segment int;
UPDATE clv_par SET segment = id % 2;
ANALYZE clv_par;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE clv_par_serial AS
SELECT clm.bgnbd_fit(x, t_x, t) AS bg, clm.pareto_nbd_fit(x, t_x, t) AS pn,
       clm.gamma_gamma_fit(x, zbar) FILTER (WHERE x > 0) AS gg
FROM clv_par;
CREATE TABLE clv_par_serial_seg AS
SELECT segment, clm.bgnbd_fit(x, t_x, t) AS bg FROM clv_par GROUP BY segment;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT clm.bgnbd_fit(x, t_x, t), clm.pareto_nbd_fit(x, t_x, t),
       clm.gamma_gamma_fit(x, zbar) FILTER (WHERE x > 0)
FROM clv_par;
CREATE TABLE clv_par_parallel AS
SELECT clm.bgnbd_fit(x, t_x, t) AS bg, clm.pareto_nbd_fit(x, t_x, t) AS pn,
       clm.gamma_gamma_fit(x, zbar) FILTER (WHERE x > 0) AS gg
FROM clv_par;
EXPLAIN (COSTS OFF)
SELECT segment, clm.bgnbd_fit(x, t_x, t) FROM clv_par GROUP BY segment;
CREATE TABLE clv_par_parallel_seg AS
SELECT segment, clm.bgnbd_fit(x, t_x, t) AS bg FROM clv_par GROUP BY segment;

-- identical models (every field, bit for bit) and the published parameters
SELECT s.bg::text = p.bg::text AS same_bgnbd, s.pn::text = p.pn::text AS same_pareto,
       s.gg::text = p.gg::text AS same_gamma_gamma,
       round((p.bg).r::numeric, 3) AS r, round((p.bg).alpha::numeric, 3) AS alpha,
       round((p.bg).loglik::numeric, 1) AS loglik_x8, (p.bg).n, (p.bg).patterns
FROM clv_par_serial s, clv_par_parallel p;
SELECT s.segment, s.bg::text = p.bg::text AS same_bgnbd, (p.bg).n, (p.bg).converged
FROM clv_par_serial_seg s JOIN clv_par_parallel_seg p USING (segment)
ORDER BY s.segment;

-- clm.calibration_holdout (per customer, internal state) with partial
-- aggregation per customer over eight copies of every purchase
CREATE TABLE clv_par_events AS
SELECT e.* FROM clv_events e, generate_series(1, 8) g ORDER BY g, id;
ANALYZE clv_par_events;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE clv_par_ho_serial AS
SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30', 'day', 'week') AS h
FROM clv_par_events GROUP BY id;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30', 'day', 'week')
FROM clv_par_events GROUP BY id;
CREATE TABLE clv_par_ho AS
SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30', 'day', 'week') AS h
FROM clv_par_events GROUP BY id;
RESET enable_hashagg;
-- identical to the serial result; frequencies as for one copy (amounts x 8)
SELECT count(*) AS customers, count(*) FILTER (WHERE p.h::text = s.h::text) AS same_as_serial,
       sum((p.h).frequency_holdout) AS holdout_purchases,
       round(sum((p.h).monetary_cal)::numeric / 8, 2) AS monetary_cal_one_copy,
       round(sum(c.monetary_cal)::numeric, 2) AS monetary_cal
FROM clv_par_ho p JOIN clv_par_ho_serial s USING (id) JOIN clv_ho c USING (id);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
