-- pgTAP: catalog labels of the subscriptions, Kaplan-Meier and sBG objects
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(12);

SELECT has_type('clm', 'subscriptions', 'type clm.subscriptions exists');
SELECT has_type('clm', 'km', 'type clm.km exists');
SELECT has_type('clm', 'sbg', 'composite type clm.sbg exists');
-- cross-customer aggregates use real state types with a combine function (Citus, parallel)
SELECT is(
	(SELECT array_agg(aggfnoid::regprocedure::text || ':' || aggtranstype::regtype::text || ':' || (aggcombinefn <> 0)::text
	                  ORDER BY aggfnoid::regprocedure::text)
	 FROM pg_aggregate WHERE aggfnoid::regproc::text IN ('clm.subscriptions_agg', 'clm.km_agg', 'clm.sbg_fit', 'clm.sbg_fit_customers')),
	ARRAY['clm.km_agg(double precision,boolean):clm.km:true',
	      'clm.km_agg(double precision,boolean,double precision):clm.km:true',
	      'clm.sbg_fit(integer,bigint):bigint[]:true',
	      'clm.sbg_fit_customers(integer,boolean):bigint[]:true',
	      'clm.subscriptions_agg(bigint,timestamp with time zone,timestamp with time zone,double precision):clm.subscriptions:true'],
	'state types are real types and every aggregate has a combine function');
SELECT is(
	(SELECT array_agg(DISTINCT proparallel) FROM pg_proc WHERE pronamespace = 'clm'::regnamespace
	   AND (proname LIKE 'subscriptions%' OR proname LIKE 'mrr%' OR proname LIKE 'km%' OR proname LIKE 'sbg%'
	        OR proname IN ('survival', 'median_survival', 'logrank'))),
	ARRAY['s']::"char"[], 'every function is PARALLEL SAFE');
-- period bucketing depends on TimeZone: the MRR accessors are STABLE; the rest is pure
SELECT volatility_is('clm', 'mrr_movements', ARRAY['clm.subscriptions', 'text', 'timestamp with time zone'], 'stable', 'mrr_movements is STABLE');
SELECT volatility_is('clm', 'mrr_retention', ARRAY['clm.subscriptions', 'text', 'integer', 'boolean', 'timestamp with time zone'], 'stable', 'mrr_retention is STABLE');
SELECT volatility_is('clm', 'survival', ARRAY['clm.km'], 'immutable', 'survival is IMMUTABLE');
SELECT volatility_is('clm', 'sbg_derl', ARRAY['clm.sbg', 'double precision', 'integer'], 'immutable', 'sbg_derl is IMMUTABLE');
SELECT is(clm.median_survival(clm.km_agg(d, true)), 2::float8, 'median of 1, 2, 3 events is 2')
FROM (VALUES (1), (2), (3)) v(d);
SELECT throws_ok($$SELECT clm.km_agg(-1, true)$$, '22023', NULL, 'negative duration is 22023');
SELECT throws_ok($$SELECT clm.subscriptions_agg(1, '2024-02-01', '2024-01-01', 1)$$, '22023', NULL, 'ended before started is 22023');

SELECT * FROM finish();
ROLLBACK;
