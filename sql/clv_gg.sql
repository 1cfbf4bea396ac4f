-- Gamma-Gamma fit: Newton's method on the analytic Hessian, standard errors
-- from that Hessian, the append-and-sort state and its canonical form.
SET extra_float_digits = 0;

-- standard errors from the analytic Hessian agree with those of the
-- previous implementation (central differences of the analytic gradient at
-- its BFGS optimum) to 1e-5 relative: on the CDNOW repeat customers, with
-- weights, and with a penalizer (the Hessian includes the penalty's)
CREATE TABLE clv_gg_ref (label text, p float8, q float8, v float8, p_se float8, q_se float8, v_se float8);
INSERT INTO clv_gg_ref VALUES
	('cdnow', 6.248802592618996, 3.7445883999316623, 15.447747456984871,
	 1.189687068701802, 0.290165607734703, 4.159993738658221),
	('cdnow weighted', 6.883566528693501, 3.706520378526622, 13.892553936568412,
	 1.1871090491045126, 0.23487505264781697, 3.3050958718841428),
	('cdnow penalizer 0.1', 1.2847618784121346, 0.3359473705576239, 1.1469251993538874,
	 0.051466689762101094, 0.012422431614021595, 0.0529981920812394),
	('50,000 synthetic', 2.951673455466743, 10.867475186077272, 47.9576164883251,
	 0.04202527350264201, 0.21969531134086429, 1.6095423585635933),
	('50,000 synthetic weighted, penalizer 0.01', 3.91659524950741, 1.5043796547018076, 3.5895759656771657,
	 0.014186009714474349, 0.006119280468064573, 0.01422984673635227);
-- 50,000 deterministic repeat customers (48,702 distinct patterns: more than
-- the fit's first Newton stage on a subset, which starts at 32,768)
CREATE TABLE clv_gg_big AS
SELECT i AS id, (1 + i % 4 + (i % 13 = 0)::int * 6)::float8 AS x,
       round((12 * exp(0.45 * (u1 + u2 + u3 - 1.5) * 3 / (1 + i % 4)) * (0.6 + u4))::numeric, 4)::float8 AS m
FROM (SELECT i, ((i::int8 * 2654435761) % 4294967296) / 4294967296.0 AS u1,
             ((i::int8 * 40503 + 12345) % 65536) / 65536.0 AS u2,
             ((i::int8 * 69069 + 1) % 1000003) / 1000003.0 AS u3,
             ((i::int8 * 1103515245 + 12345) % 2147483648) / 2147483648.0 AS u4
      FROM generate_series(1, 50000) i) s;
ANALYZE clv_gg_big;
CREATE TABLE clv_gg_fits AS
SELECT 'cdnow' AS label, clm.gamma_gamma_fit(x, zbar) AS m FROM clv_cdnow WHERE x > 0
UNION ALL
SELECT 'cdnow weighted', clm.gamma_gamma_fit(x, zbar, (id % 3) + 0.5) FROM clv_cdnow WHERE x > 0
UNION ALL
SELECT 'cdnow penalizer 0.1', clm.gamma_gamma_fit(x, zbar, 1, 0.1) FROM clv_cdnow WHERE x > 0
UNION ALL
SELECT '50,000 synthetic', clm.gamma_gamma_fit(x, m) FROM clv_gg_big
UNION ALL
SELECT '50,000 synthetic weighted, penalizer 0.01', clm.gamma_gamma_fit(x, m, 1 + id % 3, 0.01) FROM clv_gg_big;
SELECT label, (m).converged, (m).n, (m).patterns,
       round((m).p_se::numeric, 4) AS p_se, round((m).q_se::numeric, 4) AS q_se,
       round((m).v_se::numeric, 4) AS v_se,
       greatest(abs((m).p / r.p - 1), abs((m).q / r.q - 1), abs((m).v / r.v - 1)) < 1e-6 AS same_params,
       greatest(abs((m).p_se / r.p_se - 1), abs((m).q_se / r.q_se - 1), abs((m).v_se / r.v_se - 1)) < 1e-5 AS same_se
FROM clv_gg_fits JOIN clv_gg_ref r USING (label)
ORDER BY label;

-- the state: rows are appended and sorted (duplicates merged) when the
-- state is read, so its text form does not depend on the row order
CREATE AGGREGATE gg_state(float8, float8) (
	SFUNC = clm.gamma_gamma_accum, STYPE = clm.clv_state, COMBINEFUNC = clm.clv_combine,
	PARALLEL = SAFE);
SELECT gg_state(x, m ORDER BY x, m)::text AS sorted_input,
       gg_state(x, m ORDER BY id DESC)::text AS reversed_input
FROM (VALUES (1, 2::float8, 10.5::float8), (2, 1, 30), (3, 2, 10.5), (4, 1, 7.25), (5, 3, 1e-3)) v(id, x, m);
SELECT a::text = b::text AS same_text, split_part(a::text, ';', 3) AS rows,
       length(a::text) - length(replace(a::text, ';', '')) - 2 AS patterns
FROM (SELECT gg_state(x, m ORDER BY id) AS a, gg_state(x, m ORDER BY m DESC, x) AS b FROM clv_gg_big) s;
-- the final function on a stored state (also after a text round trip) is the fit
SELECT clm.gamma_gamma_final(s)::text = f::text AS final_is_fit,
       clm.gamma_gamma_final(s::text::clm.clv_state)::text = f::text AS after_round_trip
FROM (SELECT gg_state(x, m) AS s, clm.gamma_gamma_fit(x, m) AS f FROM clv_gg_big) q;

-- partial aggregation: worker states are flattened (sorted), the leader
-- appends and sorts them again: the model is identical bit for bit
SET max_parallel_workers_per_gather = 0;
CREATE TABLE clv_gg_serial AS SELECT clm.gamma_gamma_fit(x, m) AS gg FROM clv_gg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT clm.gamma_gamma_fit(x, m) FROM clv_gg_big;
CREATE TABLE clv_gg_parallel AS SELECT clm.gamma_gamma_fit(x, m) AS gg FROM clv_gg_big;
SELECT s.gg::text = p.gg::text AS same_model, (p.gg).converged, (p.gg).patterns
FROM clv_gg_serial s, clv_gg_parallel p;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- clm.clv keeps its per-(frequency, t) values across the rows of a query;
-- the values are the same whatever the models, months and time units that
-- alternate at one call site (each customer scored alone, one model per
-- query, vs. all combinations in one query)
CREATE TABLE clv_gg_cases AS
SELECT k, CASE WHEN k % 2 = 0 THEN bg ELSE ROW(0.3, 5, 0.9, 2.1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd END AS model,
       CASE WHEN k < 2 THEN 12 ELSE 6 END AS months, CASE WHEN k = 3 THEN 'day' ELSE 'week' END AS unit
FROM clv_models, generate_series(0, 3) k;
CREATE TABLE clv_gg_alone (id int, k int, v float8);
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT * FROM clv_gg_cases LOOP
		INSERT INTO clv_gg_alone
		SELECT id, c.k, clm.clv(c.model, gg, x, t_x, t, zbar, c.months, 0.01, c.unit)
		FROM clv_cdnow, clv_spend;
	END LOOP;
END $$;
SELECT count(*) AS scores, count(*) FILTER (WHERE a.v = m.v) AS identical,
       round(sum(m.v)::numeric, 2) AS total
FROM clv_gg_alone a
JOIN (SELECT id, k, clm.clv(model, gg, x, t_x, t, zbar, months, 0.01, unit) AS v
      FROM clv_cdnow, clv_spend, clv_gg_cases) m USING (id, k);
DROP AGGREGATE gg_state(float8, float8);
DROP TABLE clv_gg_ref, clv_gg_big, clv_gg_fits, clv_gg_serial, clv_gg_parallel, clv_gg_cases, clv_gg_alone;
