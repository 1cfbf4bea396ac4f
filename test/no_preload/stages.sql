-- pgTAP, without shared_preload_libraries: the backfill setting set before
-- clm is loaded is adopted, and the trigger works when clm loads on demand.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(2);
SET LOCAL timezone = 'UTC';
SET LOCAL clm.stage_changed_at = '2024-02-29 10:00';
CREATE TABLE np_stage (id int, st text);
SELECT clm.track('np_stage', 'id', 'st', 'reach_loyalty');
INSERT INTO np_stage VALUES (1, 'reach');
UPDATE np_stage SET st = 'loyalty';
SELECT results_eq(
	$$SELECT from_stage, to_stage, changed_at FROM clm.stage_history WHERE table_oid = 'np_stage'::regclass ORDER BY id$$,
	$$VALUES (NULL, 'reach', '2024-02-29 10:00+00'::timestamptz), ('reach', 'loyalty', '2024-02-29 10:00+00')$$,
	'history recorded with the backfill time set before clm was loaded');
SELECT is(current_setting('clm.stage_changed_at'), '2024-02-29 10:00', 'the placeholder setting was adopted');
SELECT * FROM finish();
ROLLBACK;
