-- CLV models at input boundaries: hand-built stored states (weight 0,
-- impossible summaries, overflowing weights, denormals), huge n in
-- clm.probability_of_purchases, and BG/BB period counts beyond its limit.
SET extra_float_digits = 0;
CREATE TEMP TABLE edge_models AS
SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd AS bg,
       ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.mbgnbd AS mbg,
       ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.pareto_nbd AS pn,
       ROW(1.204, 0.750, 0.657, 2.783, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb AS bb;

-- a stored state whose patterns all have weight 0 fitted nothing: NULL, as
-- a fit over weight-0 rows (it crashed the backend); weight-0 patterns are
-- dropped on input, text and binary
SELECT 'bgnbd;0;1;1,1,2,0'::clm.clv_state::text AS zero_weight_dropped,
       clm.bgnbd_final('bgnbd;0;1;1,1,2,0') IS NULL AS zero_weight_fit_is_null,
       'bgnbd;0;2;1,1,2,0;2,1,3,1'::clm.clv_state::text AS one_dropped;
SELECT * FROM clm.clv_loglik_gradient('bgnbd;0;1;1,1,2,0', '{1,1,1,1}') ORDER BY parameter;
-- patterns the aggregate would reject are rejected on input
SELECT error_of($$SELECT 'bgnbd;0;1;1,3,2,1'::clm.clv_state$$) AS recency_above_t;
SELECT error_of($$SELECT 'bgnbd;0;1;0.5,1,2,1'::clm.clv_state$$) AS fractional_frequency;
SELECT error_of($$SELECT 'bgbb;0;1;3,2,6,1'::clm.clv_state$$) AS bgbb_frequency_above_recency;
SELECT error_of($$SELECT 'gamma_gamma;0;1;1,2,3,1'::clm.clv_state$$) AS gg_third_value;
-- a denormal value (accepted by the aggregates) reads back; an underflow to 0 does not
SELECT 'bgnbd;0;1;1,1,2,1e-320'::clm.clv_state::text AS denormal_round_trip;
SELECT error_of($$SELECT 'bgnbd;0;1;1,1,2,1e-400'::clm.clv_state$$) AS underflow;
-- total weights must stay finite (an infinite weight could not be read back)
SELECT error_of($$SELECT 'bgnbd;0;2;1,1,2,1e308;1,1,2,1e308'::clm.clv_state$$) AS text_weight_overflow;
SELECT error_of($$SELECT clm.bgnbd_fit(1, 1, 2, 1e308) FROM generate_series(1, 2)$$) AS fit_weight_overflow;
SELECT error_of($$SELECT clm.gamma_gamma_fit(1, 5, 1e308) FROM generate_series(1, 2)$$) AS gg_weight_overflow;
SELECT error_of($$SELECT clm.gamma_gamma_fit(1, 5 + g % 70, 1e308) FROM generate_series(1, 140) g$$) AS gg_large_weight_overflow;

-- binary input: bytes read back into a clm.clv_state column through COPY
-- BINARY go through clv_state_recv (public.recv_of, sql/00_setup.sql)
CREATE FUNCTION pg_temp.clv_recv(b bytea) RETURNS text
LANGUAGE sql AS $$
SELECT CASE WHEN r LIKE 'ok: %' THEN substr(r, 5) ELSE r END FROM public.recv_of(b, 'clm.clv_state') r
$$;
-- version 1, kind 1 (bgnbd), penalizer 0, 3 rows, 2 patterns (x, tx, T, w)
SELECT pg_temp.clv_recv(clm.clv_state_send('bgnbd;0;3;1,1,2,1;2,1,3,2')) AS sent_state;
SELECT pg_temp.clv_recv(decode('0101' || '0000000000000000' || '0000000000000003' || '00000002'
	|| '3ff0000000000000' || '3ff0000000000000' || '4000000000000000' || '0000000000000000'
	|| '4000000000000000' || '3ff0000000000000' || '4008000000000000' || '4000000000000000', 'hex')) AS weight_zero_dropped;
SELECT pg_temp.clv_recv(decode('0101' || '0000000000000000' || '0000000000000001' || '00000001'
	|| '3ff0000000000000' || '4008000000000000' || '4000000000000000' || '3ff0000000000000', 'hex')) AS recency_above_t;
SELECT pg_temp.clv_recv(decode('0104' || '0000000000000000' || '0000000000000001' || '00000001'
	|| '3ff0000000000000' || '3ff0000000000000' || '430c6bf526340000' || '3ff0000000000000', 'hex')) AS bgbb_1e15_periods;
-- a row count the text form could not read back (it accepts at most 9e15)
SELECT pg_temp.clv_recv(decode('0101' || '0000000000000000' || '7fffffffffffffff' || '00000000', 'hex')) AS rows_int64_max;
SELECT error_of(format('COPY (SELECT 1 WHERE false) TO PROGRAM %L', 'rm -f /tmp/clm_clv_recv_' || pg_backend_pid() || '.bin')) AS cleanup;

-- a rollup of stored states with clm.clv_combine as the transition merges
-- their patterns and rows; rows beyond 9e15 are an error (they wrapped
-- around in int64 for binary values near 2^63)
CREATE AGGREGATE pg_temp.clv_rollup(clm.clv_state) (SFUNC = clm.clv_combine, STYPE = clm.clv_state);
SELECT pg_temp.clv_rollup(s ORDER BY s::text)::text AS rollup
FROM (VALUES ('bgnbd;0;3;1,1,2,1;2,1,3,2'::clm.clv_state), ('bgnbd;0;2;1,1,2,4')) v(s);
SELECT error_of($$SELECT pg_temp.clv_rollup(s) FROM (VALUES ('bgnbd;0;9000000000000000'::clm.clv_state), ('bgnbd;0;1')) v(s)$$) AS rows_overflow;

-- probability_of_purchases with n up to INT_MAX: the BG/NBD and MBG/NBD
-- NBD tail sum stops once its remaining terms cannot matter (it took a
-- minute, uninterruptibly, for n = 2^31 - 1); the values for small n are
-- unchanged (sql/clv.sql)
SET statement_timeout = '20s';
SELECT round(clm.probability_of_purchases(bg, 2147483647, 10)::numeric, 12) AS bg_n_max,
       round(clm.probability_of_purchases(mbg, 2147483647, 10)::numeric, 12) AS mbg_n_max,
       round(clm.probability_of_purchases(bg, 1000000, 1e6)::numeric, 12) AS bg_n_1e6
FROM edge_models;
-- where the early stop drops terms: 6.17351e-10 and 1.35302e-4 (mpmath, 50
-- digits, the NBD sum over all j < n)
SELECT round((1e10 * clm.probability_of_purchases(bg, 150, 52))::numeric, 5) AS bg_150_52_e10,
       round((1e4 * clm.probability_of_purchases(bg, 100, 1000))::numeric, 5) AS bg_100_1000_e4
FROM edge_models;
-- the sum over n is still 1 with the early stop
SELECT round(sum(clm.probability_of_purchases(bg, n, 52))::numeric, 10) AS bg_total,
       round(sum(clm.probability_of_purchases(mbg, n, 52))::numeric, 10) AS mbg_total
FROM edge_models, generate_series(0, 400) n;
-- the Pareto/NBD sum has one 2F1 per purchase: linear in n, but
-- interruptible (its counter wrapped at INT_MAX: an endless loop)
CREATE FUNCTION pg_temp.cancelled(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
	RETURN 'cancelled';
END
$$;
SET statement_timeout = '300ms';
SELECT pg_temp.cancelled($$SELECT clm.probability_of_purchases(pn, 2147483647, 10) FROM edge_models$$) AS pareto_n_max;
RESET statement_timeout;

-- BG/BB: at most 1,000,000 periods (its sums have one term per period;
-- n_periods 1e15 made p_alive return 1 and 2^31 and more an
-- uninterruptible loop)
SELECT error_of($$SELECT clm.p_alive(bb, 2, 5, 1e15) FROM edge_models$$) AS p_alive_1e15;
SELECT error_of($$SELECT clm.expected_purchases(bb, 10, 2, 5, 1000001) FROM edge_models$$) AS cond_1000001;
SELECT error_of($$SELECT clm.expected_purchases(bb, 1e300) FROM edge_models$$) AS horizon_1e300;
SELECT error_of($$SELECT clm.probability_of_purchases(bb, 2, 1e9) FROM edge_models$$) AS prob_horizon_1e9;
SELECT error_of($$SELECT clm.bgbb_fit(f, r, n) FROM (VALUES (1, 1, 2000000), (0, 0, 3)) v(f, r, n)$$) AS fit_2e6;
-- the limit itself is fine: alpha/(alpha+beta) delta/(gamma-1) (1 - G(gamma+delta)
-- G(1+delta+n) / (G(1+delta) G(gamma+delta+n))) = 381.61351 at n = 1e6 (mpmath)
SELECT clm.p_alive(bb, 2, 5, 1000000) < 1e-12 AS p_alive_1e6_tiny,
       round(clm.expected_purchases(bb, 1000000)::numeric, 4) AS new_1e6
FROM edge_models;

-- scores outside their range are an error, not a silently wrong value: with
-- extreme hand-built parameters the closed forms cancel catastrophically
-- (expected purchases -4.4e284 and -217979, P(alive) 1.0000305, a BG/BB
-- probability of 8 that was clamped to 1)
SELECT error_of($$SELECT clm.expected_purchases(ROW(0.5, 0.5, 0.5, 1e300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 10)$$) AS bgnbd_b_1e300;
SELECT error_of($$SELECT clm.expected_purchases(ROW(0.5, 0.5, 0.5, 1e10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 10, 2, 5, 6)$$) AS bgbb_delta_1e10;
SELECT error_of($$SELECT clm.p_alive(ROW(0.5, 0.5, 0.5, 1e10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 0, 0, 6)$$) AS bgbb_p_alive;
SELECT error_of($$SELECT clm.probability_of_purchases(ROW(0.5, 0.5, 1e300, 1e300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 3, 10)$$) AS bgbb_prob;
-- large but evaluable: dropout probability ~ Beta(1e10, 1e10), i.e. 0.5, gives
-- 0.0276248 with theta = 0.5 exactly (mpmath; lgamma(1e10) keeps ~5 digits)
SELECT round(clm.probability_of_purchases(ROW(0.5, 0.5, 1e10, 1e10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 3, 10)::numeric, 5) AS bgbb_prob_1e10;
