-- CLV models: the analytic gradients of the log-likelihoods the fits
-- maximise (clm.clv_loglik_gradient), checked against central finite
-- differences of the log-likelihood itself on the CDNOW calibration summary
-- (BG/NBD, modified BG/NBD, Pareto/NBD), the repeat customers' spend
-- (Gamma-Gamma) and the donations data (BG/BB), at the published
-- parameters and at points away from the optimum.
SET extra_float_digits = 0;
CREATE TABLE grad_cdnow (id int, x float8, t_x float8, t float8, zbar float8);
\copy grad_cdnow FROM program 'tr -d ''\r'' < data/cdnow_customers_summary_with_transactions.csv' WITH (FORMAT csv, HEADER)
CREATE TABLE grad_donations (frequency float8, recency float8, periods float8, weights float8);
\copy grad_donations FROM 'data/donations.csv' WITH (FORMAT csv, HEADER)
-- fit states from their text form (kind;penalizer;rows;x,tx,T,w;...)
CREATE TABLE grad_states AS
SELECT k AS kind, (k || ';0;' || count(*) || ';' ||
       string_agg(x || ',' || t_x || ',' || t || ',1', ';' ORDER BY id))::clm.clv_state AS s
FROM grad_cdnow, unnest(ARRAY['bgnbd', 'mbgnbd', 'pareto_nbd']) k GROUP BY k
UNION ALL
SELECT 'bgbb', ('bgbb;0;' || count(*) || ';' || string_agg(frequency || ',' || recency || ',' ||
       periods || ',' || weights, ';' ORDER BY frequency, recency, periods))::clm.clv_state
FROM grad_donations
UNION ALL
SELECT 'gamma_gamma', ('gamma_gamma;0;' || count(*) || ';' ||
       string_agg(x || ',' || zbar || ',0,1', ';' ORDER BY id))::clm.clv_state
FROM grad_cdnow WHERE x > 0
UNION ALL
-- Pareto/NBD with large frequencies: 2F1 arguments near 1, a*b > 1e4 (one
-- series pass per argument) and, with (150, 0.01, 39) beside (150, 38, 39)
-- and a small alpha, a pattern whose likelihood underflows relative to its
-- frequency's largest term (the log-space fallback)
SELECT 'pareto_big', 'pareto_nbd;0;6;0,0,39,3;150,38,39,1;150,0.01,39,1;200,30.5,39,1;5,20,39,2;1,0.5,39,1'::clm.clv_state;

-- the log-likelihood at the published parameters is the published one:
-- BG/NBD -9582.4 and Pareto/NBD -9595.0 (Fader, Hardie & Lee 2005)
SELECT kind, round(max(loglik)::numeric, 1) AS loglik, count(*) AS parameters
FROM grad_states,
     clm.clv_loglik_gradient(s, CASE kind WHEN 'bgnbd' THEN '{0.243,4.414,0.793,2.426}'::float8[]
                                          ELSE '{0.553,10.578,0.606,11.669}' END)
WHERE kind IN ('bgnbd', 'pareto_nbd')
GROUP BY kind ORDER BY kind;

-- central differences of the returned loglik with relative steps h = 1e-3
-- and 5e-4, Richardson-extrapolated (error O(h^4): below 1e-7 absolute at
-- these points); agreement within 1e-6 relative (absolute where |gradient| < 1)
CREATE FUNCTION grad_cd(s clm.clv_state, p float8[], i int, h float8) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT ((SELECT loglik FROM clm.clv_loglik_gradient(s, p[:i - 1] || p[i] * (1 + h) || p[i + 1:]) LIMIT 1)
	      - (SELECT loglik FROM clm.clv_loglik_gradient(s, p[:i - 1] || p[i] * (1 - h) || p[i + 1:]) LIMIT 1))
	      / (2 * h * p[i]) $$;
CREATE FUNCTION grad_fd(s clm.clv_state, p float8[], i int) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT (4 * grad_cd(s, p, i, 5e-4) - grad_cd(s, p, i, 1e-3)) / 3 $$;
CREATE TABLE grad_points (kind text, point int, p float8[]);
INSERT INTO grad_points VALUES
	('bgnbd', 1, '{0.243,4.414,0.793,2.426}'), ('bgnbd', 2, '{0.5,2,2,1}'),
	('mbgnbd', 1, '{0.525,6.183,0.891,1.614}'), ('mbgnbd', 2, '{0.3,10,0.5,3}'), ('mbgnbd', 3, '{2,1,3,0.7}'),
	-- Pareto/NBD: alpha < beta (published), alpha > beta, alpha = beta (2F1 argument 0)
	('pareto_nbd', 1, '{0.553,10.578,0.606,11.669}'), ('pareto_nbd', 2, '{0.3,5,1.5,4}'),
	('pareto_nbd', 3, '{1.2,20,0.4,25}'), ('pareto_nbd', 4, '{0.8,8,2,8}'), ('pareto_nbd', 5, '{0.5,30,0.7,3}'),
	('pareto_big', 1, '{0.5,100,0.7,0.5}'), ('pareto_big', 2, '{0.5,2,0.7,40}'), ('pareto_big', 3, '{3,4,0.2,4.5}'),
	('pareto_big', 4, '{0.5,0.01,0.7,2}'),
	('bgbb', 1, '{1.204,0.750,0.657,2.783}'), ('bgbb', 2, '{0.5,2,2,1}'), ('bgbb', 3, '{3,1,0.3,5}'),
	('gamma_gamma', 1, '{6.25,3.74,15.44}'), ('gamma_gamma', 2, '{3,6,30}');
CREATE TABLE grad_check AS
SELECT pt.kind, pt.point, g.o AS i, g.parameter, g.loglik, g.gradient, grad_fd(st.s, pt.p, g.o::int) AS fd
FROM grad_points pt JOIN grad_states st USING (kind),
     clm.clv_loglik_gradient(st.s, pt.p) WITH ORDINALITY g(parameter, value, loglik, gradient, o);
SELECT kind, point, parameter, round(loglik::numeric, 3) AS loglik,
       round(gradient::numeric, 4) AS gradient,
       abs(gradient - fd) <= 1e-6 * greatest(abs(gradient), 1) AS agrees
FROM grad_check ORDER BY kind, point, i;
SELECT count(*) AS derivatives, bool_and(abs(gradient - fd) <= 1e-6 * greatest(abs(gradient), 1)) AS all_agree
FROM grad_check;

-- at the fitted optimum the gradient vanishes (the fits stop when every
-- |d loglik / d log(parameter)| / customers <= 1e-7) and the log-likelihood
-- is the fit's
CREATE TABLE grad_fits AS
SELECT 'bgnbd' AS kind, ARRAY[(m).r, (m).alpha, (m).a, (m).b] AS p, (m).loglik, (m).n
FROM (SELECT clm.bgnbd_fit(x, t_x, t) m FROM grad_cdnow) q
UNION ALL
SELECT 'mbgnbd', ARRAY[(m).r, (m).alpha, (m).a, (m).b], (m).loglik, (m).n
FROM (SELECT clm.mbgnbd_fit(x, t_x, t) m FROM grad_cdnow) q
UNION ALL
SELECT 'pareto_nbd', ARRAY[(m).r, (m).alpha, (m).s, (m).beta], (m).loglik, (m).n
FROM (SELECT clm.pareto_nbd_fit(x, t_x, t) m FROM grad_cdnow) q
UNION ALL
SELECT 'bgbb', ARRAY[(m).alpha, (m).beta, (m).gamma, (m).delta], (m).loglik, (m).n
FROM (SELECT clm.bgbb_fit(frequency, recency, periods, weights) m FROM grad_donations) q
UNION ALL
SELECT 'gamma_gamma', ARRAY[(m).p, (m).q, (m).v], (m).loglik, (m).n
FROM (SELECT clm.gamma_gamma_fit(x, zbar) m FROM grad_cdnow WHERE x > 0) q;
SELECT f.kind, round(f.loglik::numeric, 2) AS fit_loglik,
       bool_and(abs(g.loglik - f.loglik) < 1e-6) AS same_loglik,
       max(abs(g.gradient * g.value) / f.n) <= 1e-7 AS stationary
FROM grad_fits f JOIN grad_states s USING (kind), clm.clv_loglik_gradient(s.s, f.p) g
GROUP BY f.kind, f.loglik ORDER BY f.kind;

-- no customers: the empty sum
SELECT * FROM clm.clv_loglik_gradient('bgbb;0;0', '{1,1,1,1}') ORDER BY parameter;
-- bad parameters
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;0', '{1,1,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('gamma_gamma;0;0', '{1,1,1,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;0', '{1,NULL,1,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;0', '{1,1,0,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('pareto_nbd;0;0', '{1,1,-2,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;0', '{1,NaN,1,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;0', '{1,1,Infinity,1}')$$);
SELECT error_of($$SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;0', '{{1,1},{1,1}}')$$);
-- parameters so extreme that the log-likelihood overflows
SELECT kind, error_of(format('SELECT * FROM clm.clv_loglik_gradient(%L, %L)', s, p))
FROM grad_states, (VALUES ('{1e300,1e-300,1,1}'::float8[])) v(p)
WHERE kind IN ('bgnbd', 'mbgnbd', 'pareto_nbd', 'bgbb') ORDER BY kind;
SELECT * FROM clm.clv_loglik_gradient(NULL, '{1,1,1,1}');
