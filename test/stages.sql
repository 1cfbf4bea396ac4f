-- pgTAP: stage tracking catalog labels, privileges and a tracked table per key type
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(22);

SELECT has_table('clm', 'stage_model', 'clm.stage_model exists');
SELECT has_table('clm', 'stage', 'clm.stage exists');
SELECT has_table('clm', 'stage_transition', 'clm.stage_transition exists');
SELECT has_table('clm', 'stage_history', 'clm.stage_history exists');
SELECT has_view('clm', 'stage_spans', 'clm.stage_spans exists');
SELECT has_view('clm', 'time_in_stage', 'clm.time_in_stage exists');
SELECT is((SELECT array_agg(oid::regprocedure::text) FROM pg_proc WHERE pronamespace = 'clm'::regnamespace AND prosecdef),
          ARRAY['clm.on_drop()'], 'no clm function is SECURITY DEFINER but the audited sql_drop event trigger (issue #13: the change-queue trigger is C)');
SELECT volatility_is('clm', 'stage_at', ARRAY['regclass', 'anyelement', 'timestamp with time zone'], 'stable', 'stage_at is STABLE');
SELECT volatility_is('clm', 'stage_funnel', ARRAY['regclass', 'timestamp with time zone', 'timestamp with time zone', 'boolean', 'text[]'], 'stable', 'stage_funnel is STABLE');
SELECT volatility_is('clm', 'track', ARRAY['regclass', 'name', 'name', 'text', 'boolean'], 'volatile', 'track is VOLATILE');
SELECT volatility_is('clm', 'import_history', ARRAY['regclass', 'regclass'], 'volatile', 'import_history is VOLATILE');
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
           WHERE pronamespace = 'clm'::regnamespace AND proname IN ('track', 'untrack', 'import_history', 'stage_at', 'stage_properties', 'transition_matrix')
             AND NOT proisstrict),
          NULL, 'the stage functions are STRICT');
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
           WHERE pronamespace = 'clm'::regnamespace AND proname IN ('track', 'untrack', 'import_history') AND proparallel <> 'u'),
          NULL, 'writers are PARALLEL UNSAFE');
SELECT table_privs_are('clm', 'stage_history', 'public', ARRAY['SELECT'], 'PUBLIC may only read the history');
SELECT table_privs_are('clm', 'tracked_table', 'public', ARRAY['SELECT'], 'PUBLIC may only read the registry');

SET LOCAL timezone = 'UTC';
SET LOCAL clm.stage_changed_at = '2024-05-01 12:00';
CREATE TABLE tap_i8 (k bigint, s text);
CREATE TABLE tap_txt (k text, s varchar);
CREATE TABLE tap_uuid (k uuid, s text);
SELECT clm.track('tap_i8', 'k', 's', 'prospect_churned');
SELECT clm.track('tap_txt', 'k', 's', 'prospect_churned');
SELECT clm.track('tap_uuid', 'k', 's', 'prospect_churned');
INSERT INTO tap_i8 VALUES (9007199254740993, 'prospect');
INSERT INTO tap_txt VALUES ('Ünïcode key', 'acquired');
INSERT INTO tap_uuid VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'churned');
UPDATE tap_i8 SET s = 'churned';
SELECT results_eq(
	$$SELECT table_oid::text, customer_key, from_stage, to_stage FROM clm.stage_history
	  WHERE table_oid IN ('tap_i8'::regclass, 'tap_txt'::regclass, 'tap_uuid'::regclass) ORDER BY id$$,
	$$VALUES ('tap_i8', '9007199254740993', NULL, 'prospect'), ('tap_txt', 'Ünïcode key', NULL, 'acquired'),
	         ('tap_uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL, 'churned'),
	         ('tap_i8', '9007199254740993', 'prospect', 'churned')$$,
	'bigint, text and uuid keys are recorded as text');
SELECT is(clm.stage_at('tap_i8', 9007199254740993::bigint, '2024-05-01 12:00'), 'churned', 'stage_at with a bigint key');
SELECT is(clm.stage_at('tap_txt', 'Ünïcode key'::text, '2024-05-01 11:59'), NULL, 'stage_at before the first change is NULL');
SELECT throws_ok($$UPDATE tap_txt SET s = 'lost'$$, '23514', NULL, 'unknown stage rejected');
SELECT throws_ok($$UPDATE tap_uuid SET k = gen_random_uuid()$$, '23000', NULL, 'key change rejected');
SELECT throws_ok($$SELECT clm.track('tap_i8', 'k', 's', 'hubspot')$$, '42710', NULL, 'tracking twice rejected');
CREATE ROLE tap_stage_nobody;
SET LOCAL ROLE tap_stage_nobody;
SELECT throws_ok($$SELECT clm.untrack('tap_i8')$$, '42501', NULL, 'untracking a table one does not own');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
