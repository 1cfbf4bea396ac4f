-- pgTAP: clm.activity catalog labels (real state type, combine function,
-- volatility, parallel safety), values and error codes
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(22);

SELECT has_type('clm', 'activity', 'base type clm.activity exists');
SELECT is((SELECT typtype::text || typlen::text FROM pg_type WHERE oid = 'clm.activity'::regtype), 'b-1',
	'clm.activity is a varlena base type');
SELECT is((SELECT typreceive::text || ' ' || typsend::text FROM pg_type WHERE oid = 'clm.activity'::regtype),
	'clm.activity_recv clm.activity_send', 'clm.activity has binary I/O');
SELECT is(
	(SELECT array_agg(DISTINCT aggtranstype::regtype::text || ' ' || aggcombinefn::text || ' ' || aggserialfn::text)
	 FROM pg_aggregate WHERE aggfnoid::regproc::text IN ('clm.activity_agg', 'clm.activity_merge')),
	ARRAY['clm.activity clm.activity_combine -'],
	'every activity aggregate has the real state type clm.activity and a combine function, no serialization');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE oid::regproc::text = 'clm.activity_agg'), 12,
	'activity_agg for integer, bigint, text and uuid keys, with and without zone and born_at');
SELECT is(
	(SELECT array_agg(DISTINCT proparallel) FROM pg_proc WHERE pronamespace = 'clm'::regnamespace
	 AND proname IN ('activity_agg', 'activity_merge', 'activity_accum', 'activity_combine', 'activity_in', 'activity_out',
					 'activity_recv', 'activity_send', 'retention', 'lifecycle', 'stickiness', 'churn_rate', 'activity_info')),
	ARRAY['s']::"char"[], 'aggregates, support and accessor functions are PARALLEL SAFE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'clm.retention_of'::regproc), 'r'::"char",
	'retention_of reads a table: PARALLEL RESTRICTED');
-- bucketing with the session time zone depends on TimeZone: STABLE
SELECT volatility_is('clm', 'activity_accum', ARRAY['clm.activity', 'bigint', 'timestamp with time zone', 'text'], 'stable',
	'activity_accum is STABLE');
SELECT volatility_is('clm', 'activity_combine', ARRAY['clm.activity', 'clm.activity'], 'immutable', 'activity_combine is IMMUTABLE');
SELECT is((SELECT proisstrict FROM pg_proc WHERE oid = 'clm.activity_combine'::regproc), false,
	'activity_combine is not STRICT (it handles NULL states)');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'clm.retention_of'::regproc), false, 'retention_of is not SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'clm.retention_of'::regproc), ARRAY['search_path=pg_catalog, pg_temp'],
	'retention_of pins its search_path');

SET LOCAL timezone = 'UTC';
CREATE TEMP TABLE ev (c bigint, at timestamptz);
INSERT INTO ev VALUES (10, '2024-01-03'), (10, '2024-01-04'), (10, '2024-01-09'), (11, '2024-01-09'), (12, '2024-01-02'),
	(12, '2024-01-16');
-- ISO weeks: W1 (Jan 1) {10, 12}, W2 (Jan 8) {10, 11}, W3 (Jan 15) {12}
SELECT results_eq(
	$$SELECT period_number, cohort_size, retained FROM clm.retention((SELECT clm.activity_agg(c, at, 'week') FROM ev))
	  WHERE cohort_start = '2024-01-01' ORDER BY 2$$,
	$$VALUES (0, 2::bigint, 2::bigint), (1, 2, 1), (2, 2, 1)$$, 'weekly retention worked out by hand');
SELECT results_eq(
	$$SELECT status, customers FROM clm.lifecycle((SELECT clm.activity_agg(c, at, 'week') FROM ev), '2024-01-15', '2024-01-21')
	  ORDER BY status$$,
	$$VALUES ('dormant', 2::bigint), ('new', 0), ('resurrecting', 1), ('returning', 0)$$,
	'week 3: 12 resurrects, 10 and 11 go dormant');
SELECT results_eq(
	$$SELECT active_previous, churned, retained FROM clm.churn_rate((SELECT clm.activity_agg(c, at, 'week') FROM ev)) ORDER BY period_start$$,
	$$VALUES (2::bigint, 1::bigint, 1::bigint), (2, 2, 0)$$, 'weekly churn');
SELECT results_eq(
	$$SELECT active_periods, customers FROM clm.stickiness((SELECT clm.activity_agg(c, at, 'week') FROM ev), 3) ORDER BY 1$$,
	$$VALUES (1, 1::bigint), (2, 2), (3, 0)$$, 'stickiness over three weeks');
SELECT is((SELECT clm.activity_agg(c::text, at, 'day')::text::clm.activity::text = clm.activity_agg(c::text, at, 'day')::text FROM ev),
	true, 'text output round-trips through input');

SELECT throws_ok($$SELECT clm.activity_agg(c, at, 'decade') FROM ev$$, '22023', NULL, 'unknown period');
SELECT throws_ok($$SELECT 'abc'::clm.activity$$, '22P02', NULL, 'garbage text input');
SELECT throws_ok($$SELECT * FROM clm.retention((SELECT clm.activity_agg(c, at, 'day') FROM ev), mode => 'weekly')$$, '22023', NULL, 'unknown mode');
SELECT throws_ok($$SELECT * FROM clm.churn_rate((SELECT clm.activity_agg(c, at, 'day') FROM ev), '2024-02-01', '2024-01-01')$$,
	'22023', NULL, 'from later than to');
SELECT throws_ok($$SELECT clm.activity_merge(s) FROM (SELECT clm.activity_agg(c, at, 'day') s FROM ev UNION ALL SELECT clm.activity_agg(c, at, 'week') FROM ev) q$$,
	'22023', NULL, 'merging states of different units');

SELECT * FROM finish();
ROLLBACK;
