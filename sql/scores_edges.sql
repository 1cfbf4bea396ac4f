-- Scoring pipeline at its edges: intervals that put a source's next run
-- beyond the timestamp range, and scores_view names that are not names.
SET timezone = 'UTC';
CREATE TABLE se_events (customer int, at timestamptz, amount float8);
INSERT INTO se_events
SELECT i % 3, '2024-01-01'::timestamptz + i * interval '1 day', i FROM generate_series(1, 30) i;

------------------------------------------------------------------------------
-- clm.time_after: t + span * times, infinity when out of range
------------------------------------------------------------------------------
SELECT clm.time_after('2024-01-31', '1 month') AS month_later,
       clm.time_after('2024-01-01', '1 day', 3) AS three_days,
       clm.time_after('2024-01-01', '300000 years') AS past_294276,
       clm.time_after('2024-01-01', '100000000 years', 524288) AS interval_overflow,
       clm.time_after('294276-12-31', '1 day') AS at_the_end,
       clm.time_after('-infinity', '1 day') AS minus_infinity;
-- a backward step past 4714 BC is -infinity; times NaN is not a time
SELECT clm.time_after('4714-11-24 00:00:00+00 BC', '-1 day') AS before_4714_bc,
       clm.time_after('4714-11-24 00:00:00+00 BC', '1 day', -1) AS negative_times;
SELECT error_of($$SELECT clm.time_after('2024-01-01', '1 day', 'NaN')$$) AS nan_times;

------------------------------------------------------------------------------
-- one source whose next run is beyond 294276 AD: clm.worker_status() (which
-- the worker uses to list the due sources of every owner) failed with
-- 22008 "timestamp out of range" for all sources; now that run is never due
------------------------------------------------------------------------------
SELECT name FROM clm.register('se_far', 'se_events', 'customer', 'at', 'amount', incremental => false,
	refresh_interval => '100000000 years', full_refresh_interval => '300000 years');
SELECT name FROM clm.register('se_near', 'se_events', 'customer', 'at', 'amount', incremental => false);
SELECT status, rows FROM clm.refresh('se_far');
SELECT source, last_status, next_run FROM clm.worker_status() WHERE source = 'se_far';
-- the other source (never scored) is due as before
SELECT source, next_run <= now() AS due FROM clm.worker_status() WHERE source = 'se_near';
-- after an error the backoff multiplies refresh_interval (100000000 years * 1
-- fits an interval, the sum does not fit a timestamp)
SELECT clm.refresh_failed(0, 'se_far', 'a test error') > 0 AS logged;
SELECT source, last_status, last_error, consecutive_errors, next_run FROM clm.worker_status()
WHERE source = 'se_far';
-- the run log is the owner's to write: a run started at the end of time
UPDATE clm.refresh_runs SET status = 'ok', started_at = '294276-12-31' WHERE source = 'se_far' AND status = 'error';
SELECT source, last_status, next_run FROM clm.worker_status() WHERE source = 'se_far';

------------------------------------------------------------------------------
-- scores_view is parsed as a (qualified) name and each part quoted again:
-- it was pasted into CREATE VIEW %s, so SQL after the name ran as well
------------------------------------------------------------------------------
SELECT error_of($$SELECT clm.register('se_v1', 'se_events', 'customer', 'at', 'amount', incremental => false,
	scores_view => 'public.se_v1 AS SELECT 1; CREATE TABLE public.se_injected (); CREATE VIEW public.se_v2')$$);
SELECT to_regclass('public.se_injected') AS injected, to_regclass('public.se_v1') AS v1, to_regclass('public.se_v2') AS v2;
SELECT error_of($$SELECT clm.register('se_v1', 'se_events', 'customer', 'at', 'amount', incremental => false,
	scores_view => '')$$);
SELECT (clm.register('se_v3', 'se_events', 'customer', 'at', 'amount', incremental => false,
	scores_view => 'public."se view ""3"".x"')).scores_view;
SELECT (clm.register('se_v4', 'se_events', 'customer', 'at', 'amount', incremental => false,
	scores_view => 'public.SE_V4')).scores_view;
SELECT status, rows FROM clm.refresh('se_v3');
SELECT customer, frequency, total FROM public."se view ""3"".x" ORDER BY customer;
SELECT clm.unregister(s) FROM unnest(ARRAY['se_far', 'se_near', 'se_v3', 'se_v4']) s ORDER BY s;
SELECT to_regclass('public."se view ""3"".x"') AS v3, to_regclass('public.se_v4') AS v4;

------------------------------------------------------------------------------
-- clm.quintile_score with hand-made breaks: a NaN break compared false both
-- ways ({NaN,1,2,3} scored 5 as 4), and a NULL break before others skipped
-- the order check ({1,NULL,0.5,2} scored 0.7 as 2, below the first break)
------------------------------------------------------------------------------
SELECT error_of($$SELECT clm.quintile_score(5, '{NaN,1,2,3}')$$);
SELECT error_of($$SELECT clm.quintile_score(5, '{1,2,3,Infinity}')$$);
SELECT error_of($$SELECT clm.quintile_score(0.7, '{1,NULL,0.5,2}')$$);
-- trailing NULLs (as quintile_breaks makes them for ties at the top) are fine
SELECT clm.quintile_score(3, '{1,2,NULL,NULL}') AS two_reached, clm.quintile_score(0, '{NULL,NULL,NULL,NULL}') AS none;

------------------------------------------------------------------------------
-- the tracked customer table's columns are kept by name: after a rename the
-- refresh failed with a syntax error (42601); now 42703 with a hint
------------------------------------------------------------------------------
CREATE TABLE se_customers (id int PRIMARY KEY, stage text);
INSERT INTO se_customers SELECT i, NULL FROM generate_series(0, 2) i;
SELECT name FROM clm.register('se_tr', 'se_events', 'customer', 'at', 'amount', incremental => false,
	tracked_table => 'se_customers', tracked_key_column => 'id', tracked_stage_column => 'stage');
ALTER TABLE se_customers RENAME COLUMN id TO customer_id;
SELECT error_of($$SELECT clm.refresh('se_tr', true, '2024-02-15')$$);
UPDATE clm.sources SET tracked_key_column = 'customer_id' WHERE name = 'se_tr';
-- as of 2024-02-15 the last events (Jan 29, 30, 31) are 15-17 days old and
-- the first ones (Jan 2, 3, 4) 42-44 days: active (new_within is 30 days)
SELECT status, rows FROM clm.refresh('se_tr', true, '2024-02-15');
SELECT customer_id, stage FROM se_customers ORDER BY customer_id;
SELECT clm.unregister('se_tr');
