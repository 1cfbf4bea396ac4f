-- pgTAP, run by scripts/test after restarting the server WITHOUT
-- shared_preload_libraries: clm loads on first use and works the same.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(5);
SELECT is(current_setting('shared_preload_libraries'), '', 'server runs without shared_preload_libraries');
SET LOCAL timezone = 'UTC';
SELECT is(
	(SELECT (clm.rfm_summary(at, 1, '2024-01-31')).frequency
	 FROM (VALUES (timestamptz '2024-01-01'), ('2024-01-05'), ('2024-01-05 08:00')) v(at)),
	1, 'rfm_summary works when clm is loaded on demand');
SELECT is((SELECT vartype || ' ' || context FROM pg_settings WHERE name = 'clm.worker_enabled'), 'bool sighup',
	'clm.worker_enabled is defined (not a placeholder) once the module is loaded');
SELECT is((SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('clm launcher', 'clm worker')), 0::bigint,
	'no clm worker runs without shared_preload_libraries');
SELECT throws_ok($$SET clm.no_such_setting = 1$$, '42602', NULL, 'the clm. prefix is reserved');
SELECT * FROM finish();
ROLLBACK;
