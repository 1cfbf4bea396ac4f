-- pgTAP, without shared_preload_libraries: no worker, but clm.register and
-- clm.refresh work when clm loads on demand
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(3);
SET LOCAL timezone = 'UTC';
CREATE TABLE np_events (customer bigint, at timestamptz, amount float8);
INSERT INTO np_events VALUES (1, current_date - 10, 5), (1, current_date - 3, 7), (2, current_date - 200, 9);
SELECT is((SELECT name FROM clm.register('np', 'np_events', 'customer', 'at', 'amount')), 'np', 'register');
SELECT results_eq($$SELECT mode, rows, status FROM clm.refresh('np')$$,
	$$VALUES ('full'::text, 2::bigint, 'ok'::text)$$, 'refresh scores both customers');
SELECT results_eq($$SELECT customer_key, frequency, total, stage FROM clm.scores WHERE source = 'np' ORDER BY 1$$,
	$$VALUES ('1'::text, 1, 12::float8, 'new'::text), ('2', 0, 9, 'dormant')$$, 'scores worked out by hand');
SELECT * FROM finish();
ROLLBACK;
