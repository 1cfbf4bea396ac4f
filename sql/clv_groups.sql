-- CLV fits per segment over many groups: a state of up to 64 patterns is a
-- small flat value (no memory context of its own, so hash aggregation over
-- many groups stays linear), a larger one an expanded object.  Both give the
-- same state (text form) and the same models under HashAggregate,
-- GroupAggregate and partial aggregation.
-- Data: the CDNOW calibration summary (clv_cdnow, from clv.sql), every
-- customer twice (so patterns repeat and weights add up in place).
-- Customers 1..1600 (650 with repeat purchases) are dealt into 200 groups
-- of 8 customers with 3-4 repeat customers each; customers 1601..2357
-- form 3 groups of about 252 customers (124-127 patterns, 87-94
-- Gamma-Gamma patterns: expanded states).
SET client_min_messages = error;	-- some tiny groups do not converge (WARNING)
-- rn: the physical (insertion) order, which a serial scan follows
CREATE TABLE clv_grp AS
SELECT row_number() OVER (ORDER BY id, copy) AS rn, g, id, x, t_x, t, zbar
FROM (SELECT CASE WHEN id <= 1600 THEN (row_number() OVER (PARTITION BY id <= 1600, x > 0 ORDER BY id)) % 200
                  ELSE 200 + id % 3 END AS g, *
      FROM clv_cdnow) c, generate_series(1, 2) copy
ORDER BY id, copy;
ANALYZE clv_grp;
CREATE AGGREGATE bg_state(float8, float8, float8) (
	SFUNC = clm.bgnbd_accum, STYPE = clm.clv_state, COMBINEFUNC = clm.clv_combine,
	PARALLEL = SAFE);
CREATE AGGREGATE gg_state2(float8, float8) (
	SFUNC = clm.gamma_gamma_accum, STYPE = clm.clv_state, COMBINEFUNC = clm.clv_combine,
	PARALLEL = SAFE);

-- the states are those built from their patterns by the text input (which
-- merges duplicates, keeps the BG/NBD patterns in order of first appearance
-- and sorts the Gamma-Gamma ones): small and expanded states alike
CREATE TABLE clv_grp_expect AS
SELECT g, count(*) AS patterns, sum(w) AS rows,
       ('bgnbd;0;' || sum(w) || ';' || string_agg(x || ',' || t_x || ',' || t || ',' || w, ';' ORDER BY first))::clm.clv_state AS bg
FROM (SELECT g, x, t_x, t, count(*) AS w, min(rn) AS first FROM clv_grp GROUP BY g, x, t_x, t) p
GROUP BY g;
SET max_parallel_workers_per_gather = 0;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT g, bg_state(x, t_x, t) FROM clv_grp GROUP BY g;
SELECT (patterns > 64) AS expanded, count(*) AS groups, sum(rows) AS rows,
       count(*) FILTER (WHERE s::text = e.bg::text) AS same_state
FROM (SELECT g, bg_state(x, t_x, t) AS s FROM clv_grp GROUP BY g) a JOIN clv_grp_expect e USING (g)
GROUP BY 1 ORDER BY 1;
SELECT (n > 64) AS expanded, count(*) AS groups,
       count(*) FILTER (WHERE s::text = e::text) AS same_state
FROM (SELECT g, count(DISTINCT (x, zbar)) AS n, gg_state2(x, zbar) AS s,
             ('gamma_gamma;0;' || count(*) || ';' || string_agg(x || ',' || zbar || ',0,1', ';'))::clm.clv_state AS e
      FROM clv_grp WHERE x > 0 GROUP BY g) a
GROUP BY 1 ORDER BY 1;

-- the fits under HashAggregate (forced), GroupAggregate and partial aggregation
-- (penalizer 0.1: most of the tiny groups would not converge without one,
-- and fits that run into the iteration limit make the test slow)
EXPLAIN (COSTS OFF)
SELECT g, clm.bgnbd_fit(x, t_x, t, 1, 0.1), clm.gamma_gamma_fit(x, zbar, 1, 0.1) FILTER (WHERE x > 0)
FROM clv_grp GROUP BY g;
CREATE TABLE clv_grp_hash AS
SELECT g, clm.bgnbd_fit(x, t_x, t, 1, 0.1) AS bg, clm.gamma_gamma_fit(x, zbar, 1, 0.1) FILTER (WHERE x > 0) AS gg
FROM clv_grp GROUP BY g;
RESET enable_sort;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT g, clm.bgnbd_fit(x, t_x, t, 1, 0.1), clm.gamma_gamma_fit(x, zbar, 1, 0.1) FILTER (WHERE x > 0)
FROM clv_grp GROUP BY g;
CREATE TABLE clv_grp_sort AS
SELECT g, clm.bgnbd_fit(x, t_x, t, 1, 0.1) AS bg, clm.gamma_gamma_fit(x, zbar, 1, 0.1) FILTER (WHERE x > 0) AS gg
FROM clv_grp GROUP BY g;
RESET enable_hashagg;
SET enable_sort = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT g, clm.bgnbd_fit(x, t_x, t, 1, 0.1), clm.gamma_gamma_fit(x, zbar, 1, 0.1) FILTER (WHERE x > 0)
FROM clv_grp GROUP BY g;
CREATE TABLE clv_grp_par AS
SELECT g, clm.bgnbd_fit(x, t_x, t, 1, 0.1) AS bg, clm.gamma_gamma_fit(x, zbar, 1, 0.1) FILTER (WHERE x > 0) AS gg
FROM clv_grp GROUP BY g;
RESET ALL;
SET client_min_messages = error;
SELECT (e.patterns > 64) AS expanded, count(*) AS groups,
       count(*) FILTER (WHERE h.bg::text = s.bg::text AND h.gg::text = s.gg::text) AS hash_is_sort,
       count(*) FILTER (WHERE p.bg::text = s.bg::text AND p.gg::text = s.gg::text) AS parallel_is_sort,
       count(*) FILTER (WHERE (s.bg).n = e.rows) AS all_rows,
       count(*) FILTER (WHERE (s.bg).r > 0 AND (s.bg).b > 0 AND (s.bg).loglik < 0 AND (s.gg).p > 0 AND (s.gg).v > 0) AS finite_fits
FROM clv_grp_sort s JOIN clv_grp_hash h USING (g) JOIN clv_grp_par p USING (g) JOIN clv_grp_expect e USING (g)
GROUP BY 1 ORDER BY 1;
-- a large group fitted per segment is the fit of its rows alone
SELECT g, h.bg::text = (SELECT clm.bgnbd_fit(x, t_x, t, 1, 0.1)::text FROM clv_grp c WHERE c.g = h.g) AS same_alone
FROM clv_grp_hash h WHERE g >= 200 ORDER BY g;
DROP TABLE clv_grp, clv_grp_expect, clv_grp_hash, clv_grp_sort, clv_grp_par;
DROP AGGREGATE bg_state(float8, float8, float8);
DROP AGGREGATE gg_state2(float8, float8);
