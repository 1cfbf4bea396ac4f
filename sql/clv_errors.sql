-- CLV models: empty and degenerate input, the clm.clv_state type's I/O, and
-- one test per bad-input SQLSTATE.
SET extra_float_digits = 0;

-- no rows, only NULL rows, only zero weights: NULL model (not an error)
SELECT clm.bgnbd_fit(x, tx, t) IS NULL AS bgnbd_empty,
       clm.pareto_nbd_fit(x, tx, t) IS NULL AS pareto_empty,
       clm.mbgnbd_fit(x, tx, t) IS NULL AS mbgnbd_empty,
       clm.bgbb_fit(x, tx, t) IS NULL AS bgbb_empty,
       clm.gamma_gamma_fit(x, tx) IS NULL AS gg_empty
FROM (SELECT 1.0::float8 AS x, 1.0::float8 AS tx, 2.0::float8 AS t WHERE false) q;
SELECT clm.bgnbd_fit(x, tx, t) IS NULL AS null_rows,
       clm.bgnbd_fit(1, 1, 2, w) IS NULL AS zero_weights
FROM (VALUES (NULL::float8, 1::float8, 2::float8, 0::float8), (1, NULL, 2, 0)) v(x, tx, t, w);

-- every frequency 0: the rates are not identified -> a clear error
SELECT error_of($$SELECT clm.bgnbd_fit(0, 0, t) FROM generate_series(1, 50) t$$);
SELECT error_of($$SELECT clm.pareto_nbd_fit(0, 0, t) FROM generate_series(1, 50) t$$);
SELECT error_of($$SELECT clm.bgbb_fit(0, 0, 6) FROM generate_series(1, 50) t$$);
-- a single customer: no maximum inside the parameter space -> converged = false
-- with a warning, and no standard errors (never NaN parameters)
SELECT (m).converged, (m).iterations > 0 AS iterated, (m).r_se IS NULL AS no_se,
       (m).r > 0 AND (m).alpha > 0 AND (m).a > 0 AND (m).b > 0 AS finite_positive
FROM (SELECT clm.bgnbd_fit(2, 30.43, 38.86) AS m) q;

-- fit inputs
SELECT error_of($$SELECT clm.bgnbd_fit('NaN', 0, 1)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 'Infinity')$$);
SELECT error_of($$SELECT clm.bgnbd_fit(-1, 0, 1)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1.5, 1, 2)$$);
SELECT error_of($$SELECT clm.pareto_nbd_fit(2, 5, 4)$$);
SELECT error_of($$SELECT clm.mbgnbd_fit(0, 3, 4)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(2, 0, 4)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 2, -1)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 2, 'NaN')$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 2, 1, -0.1)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 2, 1, NULL)$$);
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 2, 1, p) FROM (VALUES (0.1), (0.2)) v(p)$$);
SELECT error_of($$SELECT clm.gamma_gamma_fit(2, 0)$$);
SELECT error_of($$SELECT clm.gamma_gamma_fit(0, 10)$$);
SELECT error_of($$SELECT clm.bgbb_fit(3, 2, 6)$$);
SELECT error_of($$SELECT clm.bgbb_fit(1, 2, 6.5)$$);
SELECT error_of($$SELECT clm.bgbb_fit(1, 2.5, 6)$$);

-- scoring inputs
CREATE TABLE clv_err_models AS
SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd AS bg,
       ROW(1.204, 0.750, 0.657, 2.783, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb AS bb,
       ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma AS gg;
SELECT error_of($$SELECT clm.p_alive(bg, 2, 40, 38.86) FROM clv_err_models$$);
SELECT error_of($$SELECT clm.expected_purchases(bg, -1, 2, 30, 38) FROM clv_err_models$$);
SELECT error_of($$SELECT clm.expected_purchases(bg, 'NaN') FROM clv_err_models$$);
SELECT error_of($$SELECT clm.expected_purchases(bb, 1.5) FROM clv_err_models$$);
SELECT error_of($$SELECT clm.probability_of_purchases(bg, -1, 10) FROM clv_err_models$$);
SELECT error_of($$SELECT clm.p_alive(ROW(0.243, 0, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 1, 1, 2)$$);
SELECT error_of($$SELECT clm.p_alive(ROW(0.243, 4.4, -0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 1, 1, 2)$$);
SELECT error_of($$SELECT clm.p_alive(ROW('NaN', 4.4, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.pareto_nbd, 1, 1, 2)$$);
SELECT error_of($$SELECT clm.p_alive(ROW(1, 1, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.mbgnbd, 1, 1, 2)$$);
SELECT error_of($$SELECT clm.clv(bg, gg, 2, 30, 38, 20, 12, -1) FROM clv_err_models$$);
SELECT error_of($$SELECT clm.clv(bg, gg, 2, 30, 38, 20, -1) FROM clv_err_models$$);
SELECT error_of($$SELECT clm.clv(bg, gg, 2, 30, 38, 20, time_unit => 'fortnight') FROM clv_err_models$$);
SELECT error_of($$SELECT clm.expected_spend(ROW(1, 0.9, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 0, 0)$$);
SELECT error_of($$SELECT clm.expected_spend(gg, 2, -5) FROM clv_err_models$$);
-- STRICT: a NULL argument gives NULL
SELECT clm.p_alive(bg, NULL, 1, 2) IS NULL AS null_in_null_out FROM clv_err_models;

-- clm.clv_state: text form round trip, fitting a stored state, bad values
CREATE TABLE clv_states (s clm.clv_state);
INSERT INTO clv_states VALUES ('bgnbd;0;4;0,0,38.86,1;2,30.43,38.86,1;1,1.71,38.86,1;0,0,38.86,1');
SELECT s::text FROM clv_states;
SELECT s::text::clm.clv_state::text = s::text AS round_trip FROM clv_states;
-- binary send/recv round trip through COPY (FORMAT binary)
\copy clv_states TO 'results/clv_states.bin' WITH (FORMAT binary)
\copy clv_states FROM 'results/clv_states.bin' WITH (FORMAT binary)
SELECT count(*) AS rows, count(DISTINCT s::text) AS distinct_values FROM clv_states;
SELECT error_of($$SELECT clm.pareto_nbd_final(s) FROM clv_states LIMIT 1$$);
SELECT error_of($$SELECT 'bgnbd;0'::clm.clv_state$$);
SELECT error_of($$SELECT 'nonsense;0;1'::clm.clv_state$$);
SELECT error_of($$SELECT 'bgnbd;0;1;1,2,3'::clm.clv_state$$);
SELECT error_of($$SELECT 'bgnbd;0;1;1,2,3,-4'::clm.clv_state$$);
SELECT error_of($$SELECT 'bgnbd;-1;1'::clm.clv_state$$);
SELECT error_of($$SELECT 'bgnbd;0;1;1,2,3,4x'::clm.clv_state$$);
