-- pgTAP without shared_preload_libraries: clm.activity works when clm loads on demand
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(1);
SET LOCAL timezone = 'UTC';
SELECT is(
	(SELECT retained FROM clm.retention((SELECT clm.activity_agg(c, at, 'month')
		FROM (VALUES (1, timestamptz '2024-01-05'), (1, '2024-02-05'), (2, '2024-01-07')) v(c, at)))
	 WHERE period_number = 1),
	1::bigint, 'activity_agg and retention work when clm is loaded on demand');
SELECT * FROM finish();
ROLLBACK;
