-- pgTAP: clm.rfm_summary catalog labels, values and error codes
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(17);

SELECT has_type('clm', 'rfm', 'composite type clm.rfm exists');
SELECT has_function('clm', 'rfm_summary', ARRAY['timestamp with time zone', 'double precision', 'timestamp with time zone'], 'rfm_summary/3');
SELECT has_function('clm', 'rfm_summary', ARRAY['timestamp with time zone', 'double precision', 'timestamp with time zone', 'text'], 'rfm_summary/4');
SELECT has_function('clm', 'rfm_summary', ARRAY['timestamp with time zone', 'double precision', 'timestamp with time zone', 'text', 'text'], 'rfm_summary/5');
SELECT is(
	(SELECT aggcombinefn::text || ' ' || aggserialfn::text || ' ' || aggdeserialfn::text
	 FROM pg_aggregate WHERE aggfnoid = 'clm.rfm_summary(timestamptz, float8, timestamptz, text, text)'::regprocedure),
	'clm.rfm_combine clm.rfm_serialize clm.rfm_deserialize',
	'combine, serialize and deserialize functions are set');
SELECT is(
	(SELECT array_agg(DISTINCT proparallel) FROM pg_proc WHERE pronamespace = 'clm'::regnamespace AND proname LIKE 'rfm%'),
	ARRAY['s']::"char"[], 'every rfm function is PARALLEL SAFE');
-- bucketing depends on the TimeZone setting: STABLE, not IMMUTABLE
SELECT volatility_is('clm', 'rfm_accum', ARRAY['internal', 'timestamp with time zone', 'double precision', 'timestamp with time zone'], 'stable', 'rfm_accum is STABLE');
SELECT volatility_is('clm', 'rfm_final', ARRAY['internal'], 'stable', 'rfm_final is STABLE');

SET LOCAL timezone = 'UTC';
CREATE TEMP TABLE ev (c int, at timestamptz, amount float8);
INSERT INTO ev VALUES (1, '2023-12-31 23:00', 4), (1, '2024-01-02', 6), (1, '2024-01-02 05:00', 4),
                      (1, '2024-01-08', 3), (2, '2024-01-08', 9);
-- customer 1, days to 2024-01-10: {12-31, 01-02, 01-08}: x = 2, recency 8, t 10, monetary (10 + 3) / 2
SELECT results_eq(
	$$SELECT c, (s).frequency, (s).recency, (s).t, (s).monetary, (s).total
	  FROM (SELECT c, clm.rfm_summary(at, amount, '2024-01-10') s FROM ev GROUP BY c) q ORDER BY c$$,
	$$VALUES (1, 2, 8::float8, 10::float8, 6.5::float8, 17::float8), (2, 0, 0, 2, 0, 9)$$,
	'daily summary worked out by hand');
-- ISO weeks: 2023-12-31 is a Sunday (week of 12-25), 01-02 and 01-08 fall in the next two weeks
SELECT results_eq(
	$$SELECT (s).frequency, (s).t FROM (SELECT clm.rfm_summary(at, amount, '2024-01-10', 'week') s FROM ev WHERE c = 1) q$$,
	$$VALUES (2, 2::float8)$$, 'weekly summary starts weeks on Monday');
-- composes with ordinary SQL: frequency distribution
SELECT results_eq(
	$$SELECT (s).frequency, count(*) FROM (SELECT clm.rfm_summary(at, amount, '2024-01-10') s FROM ev GROUP BY c) q GROUP BY 1 ORDER BY 1$$,
	$$VALUES (0, 1::bigint), (2, 1::bigint)$$, 'frequency distribution');

SELECT throws_ok($$SELECT clm.rfm_summary(now(), 'NaN', now())$$, '22003', NULL, 'NaN amount: 22003');
SELECT throws_ok($$SELECT clm.rfm_summary(now(), '-Infinity', now())$$, '22003', NULL, '-Infinity amount: 22003');
SELECT throws_ok($$SELECT clm.rfm_summary(now(), -1, now())$$, '22023', 'amount must not be negative', 'negative amount: 22023');
SELECT throws_ok($$SELECT clm.rfm_summary(now(), 1, now(), 'decade')$$, '22023', 'unknown period "decade"', 'unknown period: 22023');
SELECT throws_ok($$SELECT clm.rfm_summary('infinity', 1, now())$$, '22008', NULL, 'infinite event_at: 22008');
SELECT throws_ok($$SELECT clm.rfm_summary(now(), 1, now(), 'day', NULL)$$, '22004', 'time_unit must not be NULL', 'NULL time_unit: 22004');

SELECT * FROM finish();
ROLLBACK;
