-- bench/ab clv: the CLV fits (final functions on stored fit states: the fit
-- alone, repeated to take measurable time) and the scoring functions, for an
-- A/B of two builds.  Data: CDNOW (2,357 customers), the BG/BB donations
-- (11,104 donors) and 300,000 synthetic customers (bench/clv_gen.py, seed 42).
CREATE EXTENSION clm;
\set cdnow :dir '/cdnow.csv'
\set syn :dir '/syn.csv'
\set don :dir '/donations.csv'
CREATE TABLE cd (id int, x float8, tx float8, t float8, m float8);
COPY cd FROM :'cdnow' WITH (FORMAT csv);
CREATE TABLE syn (id int, x float8, tx float8, t float8, m float8);
COPY syn FROM :'syn' WITH (FORMAT csv);
CREATE TABLE don (frequency float8, recency float8, periods float8, weights float8);
COPY don FROM :'don' WITH (FORMAT csv, HEADER);
CREATE TABLE st AS
SELECT d.data, k AS kind,
       (k || ';0;' || sum(n) || ';' || string_agg(x || ',' || tx || ',' || t || ',' || n, ';'))::clm.clv_state AS s
FROM (SELECT 'cdnow' AS data, x, tx, t, count(*) AS n FROM cd GROUP BY x, tx, t
      UNION ALL
      SELECT 'syn', x, tx, t, count(*) FROM syn GROUP BY x, tx, t) d,
     unnest(ARRAY['bgnbd', 'mbgnbd', 'pareto_nbd']) k
GROUP BY d.data, k
UNION ALL
SELECT 'don', 'bgbb',
       ('bgbb;0;' || sum(weights) || ';' || string_agg(frequency || ',' || recency || ',' || periods || ',' || weights, ';'))::clm.clv_state
FROM don
UNION ALL
SELECT 'syn', 'gamma_gamma', ('gamma_gamma;0;' || sum(n) || ';' || string_agg(x || ',' || m || ',0,' || n, ';'))::clm.clv_state
FROM (SELECT x, m, count(*) AS n FROM syn WHERE x > 0 AND m > 0 GROUP BY x, m) g;
CREATE TABLE fits AS
SELECT clm.bgnbd_fit(x, tx, t) AS b, clm.pareto_nbd_fit(x, tx, t) AS p,
       (SELECT clm.gamma_gamma_fit(x, m) FROM syn WHERE x > 0 AND m > 0) AS g
FROM syn;
VACUUM ANALYZE;
-- queries
SELECT count((clm.bgnbd_final(s)).loglik) FROM st, generate_series(1, 50) WHERE data = 'cdnow' AND kind = 'bgnbd'
SELECT count((clm.mbgnbd_final(s)).loglik) FROM st, generate_series(1, 50) WHERE data = 'cdnow' AND kind = 'mbgnbd'
SELECT count((clm.pareto_nbd_final(s)).loglik) FROM st, generate_series(1, 20) WHERE data = 'cdnow' AND kind = 'pareto_nbd'
SELECT count((clm.bgbb_final(s)).loglik) FROM st, generate_series(1, 50) WHERE data = 'don'
SELECT count((clm.bgnbd_final(s)).loglik) FROM st, generate_series(1, 3) WHERE data = 'syn' AND kind = 'bgnbd'
SELECT count((clm.mbgnbd_final(s)).loglik) FROM st, generate_series(1, 3) WHERE data = 'syn' AND kind = 'mbgnbd'
SELECT count((clm.pareto_nbd_final(s)).loglik) FROM st, generate_series(1, 3) WHERE data = 'syn' AND kind = 'pareto_nbd'
SELECT count((clm.gamma_gamma_final(s)).loglik) FROM st, generate_series(1, 3) WHERE data = 'syn' AND kind = 'gamma_gamma'
SELECT sum(clm.p_alive(b, x, tx, t)) FROM syn, fits
SELECT sum(clm.expected_purchases(b, 10, x, tx, t)) FROM syn, fits
SELECT sum(clm.clv(b, g, x, tx, t, m, 12, 0.01, 'week')) FROM syn, fits
SELECT sum(clm.p_alive(p, x, tx, t)) FROM syn, fits
SELECT sum(clm.clv(p, g, x, tx, t, m, 12, 0.01, 'week')) FROM syn, fits
