-- pgTAP: CLV model catalog labels, a hand-checked fit and scoring values, error codes
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(16);

SELECT has_type('clm', 'clv_state', 'state type clm.clv_state exists');
SELECT has_type('clm', 'bgnbd', 'model type clm.bgnbd exists');
SELECT is(
	(SELECT t.typinput::text || ' ' || t.typoutput::text || ' ' || t.typreceive::text || ' ' || t.typsend::text
	 FROM pg_type t WHERE t.oid = 'clm.clv_state'::regtype),
	'clm.clv_state_in clm.clv_state_out clm.clv_state_recv clm.clv_state_send',
	'clv_state has text and binary I/O');
SELECT is(
	(SELECT array_agg(DISTINCT a.aggtranstype::regtype::text || ' ' || a.aggcombinefn::text)
	 FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	 WHERE p.pronamespace = 'clm'::regnamespace
	   AND p.proname IN ('bgnbd_fit', 'mbgnbd_fit', 'pareto_nbd_fit', 'bgbb_fit', 'gamma_gamma_fit')),
	ARRAY['clm.clv_state clm.clv_combine'],
	'every fit aggregate uses the real state type and the combine function');
SELECT is(
	(SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'clm'::regnamespace AND p.prokind = 'a'
	   AND p.proname IN ('bgnbd_fit', 'mbgnbd_fit', 'pareto_nbd_fit', 'bgbb_fit', 'gamma_gamma_fit')),
	15, 'five models with three signatures each');
SELECT is(
	(SELECT array_agg(DISTINCT p.provolatile::text || p.proisstrict::text || p.proparallel::text)
	 FROM pg_proc p WHERE p.pronamespace = 'clm'::regnamespace
	   AND p.proname IN ('p_alive', 'expected_purchases', 'probability_of_purchases', 'expected_spend', 'clv')),
	ARRAY['itrues'], 'scoring functions are IMMUTABLE STRICT PARALLEL SAFE');
SELECT volatility_is('clm', 'holdout_check', ARRAY['clm.bgnbd', 'regclass', 'integer'], 'stable', 'holdout_check is STABLE');

-- two customers by hand: Gamma-Gamma expected spend p (v + x m) / (p x + q - 1)
SELECT is(
	clm.expected_spend(ROW(2, 3, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 4, 25),
	2 * (10 + 4 * 25) / (2 * 4 + 3 - 1.0)::float8, 'expected spend by hand');
-- BG/NBD P(alive) = 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+tx))^(r+x)) with r = alpha = a = b = 1, x = 1, tx = 1, T = 3
SELECT is(
	round(clm.p_alive(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, 1, 1, 3)::numeric, 12),
	round(1 / (1 + 1.0 / 1 * (4.0 / 2) ^ 2), 12), 'BG/NBD P(alive) by hand');
-- Pareto/NBD E[X(t)] for a new customer with s = 2: r beta / (alpha (s - 1)) (1 - beta / (beta + t))
SELECT is(
	round(clm.expected_purchases(ROW(2, 4, 2, 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.pareto_nbd, 5)::numeric, 12),
	round(2 * 3 / 4.0 * (1 - 3 / 8.0), 12), 'Pareto/NBD E[X(t)] by hand');
-- BG/BB, one period: P(X(1) = 1) = E[p] E[1 - theta] = alpha/(alpha+beta) * delta/(gamma+delta)
-- (a customer may die at the start of each opportunity; eq. 8 of Fader, Hardie & Shang 2010)
SELECT is(
	round(clm.probability_of_purchases(ROW(1, 3, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgbb, 1, 1)::numeric, 12),
	0.125, 'BG/BB P(X(1) = 1) by hand');

SELECT throws_ok($$SELECT clm.bgnbd_fit(3, 5, 4)$$, '22023', 'recency must not exceed t', 'recency > t: 22023');
SELECT throws_ok($$SELECT clm.gamma_gamma_fit(1, 'Infinity')$$, '22003', NULL, 'infinite monetary: 22003');
SELECT throws_ok($$SELECT clm.expected_purchases(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd, -2)$$,
	'22023', 'horizon must not be negative', 'negative horizon: 22023');
SELECT throws_ok($$SELECT clm.clv(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.bgnbd,
	ROW(2, 3, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::clm.gamma_gamma, 1, 1, 2, 5, 12, -1.5)$$,
	'22023', 'monthly_discount must be greater than -1', 'discount <= -1: 22023');
SELECT throws_ok($$SELECT 'bgnbd;0;1;1,2'::clm.clv_state$$, '22P02', NULL, 'corrupt state text: 22P02');

SELECT * FROM finish();
ROLLBACK;
