-- Benchmark: clm.mrr_movements over 1M subscriptions and clm.km_agg + clm.survival over
-- 1M customers, each against the best plain SQL we could write for the same rows.
-- Fixed seed; identical rows checked; timings are the best of 3 runs of each query,
-- measured in the same session (the machine is shared: expect noise).
\set ON_ERROR_STOP 1
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 2;
SELECT setseed(0.42);
-- 1M subscriptions of 400k customers over 2021-2024, whole-dollar MRR (sums exact in any
-- order); half the customers have a second subscription (overlaps, plan switches, returns)
CREATE TABLE b_subs AS
SELECT c AS customer, s, e, m FROM (
  SELECT (random() * 399999)::bigint AS c,
         '2021-01-01'::timestamptz + random() * interval '1400 days' AS s,
         (10 + floor(random() * 190))::float8 AS m, random() AS u, random() AS v
  FROM generate_series(1, 1000000)) q,
  LATERAL (SELECT CASE WHEN u < 0.35 THEN NULL ELSE s + (30 + v * 700) * interval '1 day' END AS e) x;
ANALYZE b_subs;

CREATE FUNCTION pg_temp.best_ms(q text, reps int DEFAULT 3) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; best float8 := 'Infinity'; i int; n bigint;
BEGIN
	FOR i IN 1..reps LOOP
		t0 := clock_timestamp();
		EXECUTE 'SELECT count(*) FROM (' || q || ') x' INTO n;
		best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	RETURN best;
END $$;
-- Kaplan-Meier timings with the given number of parallel workers: the count(*) of the table
-- (the scan floor: any query reading the rows costs at least this), clm and the plain SQL
CREATE FUNCTION pg_temp.km_bench(nw int, tbl text, clm_q text, sql_q text, reps int DEFAULT 5)
RETURNS TABLE (workers int, count_star_ms numeric, clm_ms numeric, plain_sql_ms numeric,
               speedup numeric, clm_over_floor numeric, sql_over_floor numeric) LANGUAGE plpgsql AS $$
DECLARE f float8; c float8; q float8;
BEGIN
	PERFORM set_config('max_parallel_workers_per_gather', nw::text, true);
	f := pg_temp.best_ms('SELECT * FROM ' || tbl, reps);
	c := pg_temp.best_ms(clm_q, reps);
	q := pg_temp.best_ms(sql_q, reps);
	PERFORM set_config('max_parallel_workers_per_gather', '2', true);
	RETURN QUERY SELECT nw, round(f::numeric), round(c::numeric), round(q::numeric),
		round((q / c)::numeric, 1), round((c / f)::numeric, 1), round((q / f)::numeric, 1);
END $$;
CREATE FUNCTION pg_temp.diff_rows(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM ((SELECT * FROM (%s) a1 EXCEPT ALL SELECT * FROM (%s) b1) UNION ALL (SELECT * FROM (%s) b2 EXCEPT ALL SELECT * FROM (%s) a2)) d', a, b, b, a) INTO n;
	RETURN n;
END $$;

-- clm: the core movement columns
\set clm_mrr 'SELECT period_start, customers_start, mrr_start, new_customers, new_mrr, expansion_customers, expansion_mrr, contraction_customers, contraction_mrr, churned_customers, churned_mrr, reactivated_customers, reactivation_mrr, customers_end, mrr_end FROM clm.mrr_movements((SELECT clm.subscriptions_agg(customer, s, e, m) FROM b_subs))'
-- plain SQL: events per customer and instant, running MRR per customer (window), classify,
-- bucket by month, then running customer and MRR totals across months
\set sql_mrr 'WITH ev AS (SELECT customer, s AS at, m AS d FROM b_subs WHERE e IS NULL OR e > s UNION ALL SELECT customer, e, -m FROM b_subs WHERE e > s), net AS (SELECT customer, at, sum(d) AS d FROM ev GROUP BY customer, at HAVING sum(d) <> 0), run AS (SELECT customer, at, d, sum(d) OVER w AS after, row_number() OVER w AS rn FROM net WINDOW w AS (PARTITION BY customer ORDER BY at)), cls AS (SELECT customer, date_trunc(''month'', at) AS p, d, after - d AS before, after, rn FROM run), mon AS (SELECT p, count(*) FILTER (WHERE before = 0 AND rn = 1) AS nc, coalesce(sum(after) FILTER (WHERE before = 0 AND rn = 1), 0) AS nm, count(DISTINCT customer) FILTER (WHERE before > 0 AND after > before) AS ec, coalesce(sum(d) FILTER (WHERE before > 0 AND after > before), 0) AS em, count(DISTINCT customer) FILTER (WHERE after > 0 AND after < before) AS xc, coalesce(sum(d) FILTER (WHERE after > 0 AND after < before), 0) AS xm, count(*) FILTER (WHERE after = 0) AS cc, coalesce(sum(d) FILTER (WHERE after = 0), 0) AS cm, count(*) FILTER (WHERE before = 0 AND rn > 1) AS rc, coalesce(sum(after) FILTER (WHERE before = 0 AND rn > 1), 0) AS rm FROM cls GROUP BY p), grid AS (SELECT g AS p FROM generate_series((SELECT min(p) FROM mon), (SELECT max(p) FROM mon), interval ''1 month'') g), full_ AS (SELECT g.p, coalesce(nc, 0) nc, coalesce(nm, 0) nm, coalesce(ec, 0) ec, coalesce(em, 0) em, coalesce(xc, 0) xc, coalesce(xm, 0) xm, coalesce(cc, 0) cc, coalesce(cm, 0) cm, coalesce(rc, 0) rc, coalesce(rm, 0) rm FROM grid g LEFT JOIN mon USING (p)), tot AS (SELECT *, sum(nc + rc - cc) OVER (ORDER BY p) AS c1, sum(nm + em + xm + cm + rm) OVER (ORDER BY p) AS m1 FROM full_) SELECT p, c1 - (nc + rc - cc), m1 - (nm + em + xm + cm + rm), nc, nm, ec, em, xc, xm, cc, cm, rc, rm, c1, m1 FROM tot'

SELECT pg_temp.diff_rows(:'clm_mrr', :'sql_mrr') AS mrr_rows_differing,
       (SELECT count(*) FROM (:clm_mrr) x) AS mrr_periods;
SELECT round(pg_temp.best_ms(:'clm_mrr')::numeric) AS clm_mrr_ms,
       round(pg_temp.best_ms(:'sql_mrr')::numeric) AS sql_mrr_ms \gset
SELECT :clm_mrr_ms AS clm_ms, :sql_mrr_ms AS plain_sql_ms, round(:sql_mrr_ms::numeric / :clm_mrr_ms, 1) AS speedup;

-- Kaplan-Meier over 1M customers: tenure in whole days, 60% churned
CREATE TABLE b_km AS
SELECT floor(-ln(1 - random()) * 400)::float8 AS days, random() < 0.6 AS churned
FROM generate_series(1, 1000000);
-- the last time is censored so the curve stays above 0 (ln(0) in the plain SQL)
INSERT INTO b_km VALUES (100000, false);
ANALYZE b_km;
\set clm_km 'SELECT time, at_risk, events, survival, std_err FROM clm.survival((SELECT clm.km_agg(days, churned) FROM b_km))'
\set sql_km 'WITH t AS (SELECT days, count(*) FILTER (WHERE churned) AS d, count(*) AS n_out FROM b_km GROUP BY days), r AS (SELECT days, d, sum(n_out) OVER (ORDER BY days DESC) AS at_risk FROM t), k AS (SELECT days, at_risk, d, exp(sum(ln(1 - d::float8 / at_risk)) OVER (ORDER BY days)) AS surv, sum(d::float8 / (at_risk * (at_risk - d))) OVER (ORDER BY days) AS gw FROM r WHERE d > 0) SELECT days, at_risk, d, surv, surv * sqrt(gw) FROM k'
-- same rows; survival compared to 1e-9 (a product versus exp of a sum of logs)
SELECT count(*) AS km_rows,
       count(*) FILTER (WHERE a.at_risk = b.at_risk AND a.events = b.d AND abs(a.survival - b.surv) < 1e-9
                        AND abs(a.std_err - b.se) < 1e-9) AS km_rows_equal
FROM (:clm_km) a FULL JOIN (:sql_km) b(days, at_risk, d, surv, se) ON a.time = b.days;
-- serial, then 2 workers; best of 5 each
SELECT * FROM pg_temp.km_bench(0, 'b_km', :'clm_km', :'sql_km')
UNION ALL SELECT * FROM pg_temp.km_bench(2, 'b_km', :'clm_km', :'sql_km');
-- KM per segment (GROUP BY, one curve each): 10 segments
\set clm_km_seg 'SELECT g, (clm.survival(s)).* FROM (SELECT (days::int % 10) AS g, clm.km_agg(days, churned) s FROM b_km GROUP BY 1) q'
SELECT round(pg_temp.best_ms(:'clm_km_seg')::numeric) AS clm_km_segments_ms;
-- continuous durations: (almost) every customer has a distinct time
CREATE TABLE b_km2 AS SELECT -ln(1 - random()) * 400 AS days, random() < 0.6 AS churned FROM generate_series(1, 1000000);
INSERT INTO b_km2 VALUES (100000, false);
ANALYZE b_km2;
\set clm_km2 'SELECT time, at_risk, events, survival, std_err FROM clm.survival((SELECT clm.km_agg(days, churned) FROM b_km2))'
\set sql_km2 'WITH t AS (SELECT days, count(*) FILTER (WHERE churned) AS d, count(*) AS n_out FROM b_km2 GROUP BY days), r AS (SELECT days, d, sum(n_out) OVER (ORDER BY days DESC) AS at_risk FROM t), k AS (SELECT days, at_risk, d, exp(sum(ln(1 - d::float8 / at_risk)) OVER (ORDER BY days)) AS surv, sum(d::float8 / (at_risk * (at_risk - d))) OVER (ORDER BY days) AS gw FROM r WHERE d > 0) SELECT days, at_risk, d, surv, surv * sqrt(gw) FROM k'
SELECT count(*) AS km2_rows,
       count(*) FILTER (WHERE a.at_risk = b.at_risk AND a.events = b.d AND abs(a.survival - b.surv) < 1e-9
                        AND abs(a.std_err - b.se) < 1e-9) AS km2_rows_equal
FROM (:clm_km2) a FULL JOIN (:sql_km2) b(days, at_risk, d, surv, se) ON a.time = b.days;
SELECT * FROM pg_temp.km_bench(0, 'b_km2', :'clm_km2', :'sql_km2')
UNION ALL SELECT * FROM pg_temp.km_bench(2, 'b_km2', :'clm_km2', :'sql_km2');
DROP TABLE b_subs, b_km, b_km2;
