-- Scoring pipeline: clm.register / clm.refresh / clm.scores, worked out by
-- hand on a fixture dated relative to today (so that t and the stages do not
-- depend on when the test runs), incremental refresh with a late-committing
-- concurrent transaction, validation errors and row level security.
SET timezone = 'UTC';
SET client_min_messages = warning;
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clm_alice') THEN
		EXECUTE 'DROP OWNED BY clm_alice';
		EXECUTE 'DROP ROLE clm_alice';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clm_bob') THEN
		EXECUTE 'DROP OWNED BY clm_bob';
		EXECUTE 'DROP ROLE clm_bob';
	END IF;
END
$$;
RESET client_min_messages;

-- the quintile helpers: 10 values -> two per score; ties share a score
SELECT clm.quintile_breaks('{1,2,3,4,5,6,7,8,9,10}') AS distinct_values,
       clm.quintile_breaks('{1,1,1,2,2,2,2,3,4,5}') AS periods_breaks,
       clm.quintile_breaks('{0,4,10,10,10,30,80,100,100,1001}') AS totals_breaks,
       clm.quintile_breaks('{7}') AS one_value,
       clm.quintile_breaks('{}') AS no_value,
       clm.quintile_breaks('{1,1,1,1,1,1,1,1,1,2}') AS top_tie;
SELECT v, clm.quintile_score(v, '{2,3,3,4}') AS score
FROM unnest('{1,2,2.5,3,4,5}'::float8[]) v ORDER BY v;
SELECT clm.quintile_score(1, '{NULL,NULL,NULL,NULL}') AS all_null_breaks;
SELECT error_of($$SELECT clm.quintile_breaks('{3,1}')$$);
SELECT error_of($$SELECT clm.quintile_breaks('{1,NULL}')$$);
SELECT error_of($$SELECT clm.quintile_breaks('{1,NaN}')$$);
SELECT error_of($$SELECT clm.quintile_breaks('{{1,2},{3,4}}')$$);
SELECT error_of($$SELECT clm.quintile_score(1, '{1,2}')$$);
SELECT error_of($$SELECT clm.quintile_score(1, '{4,3,2,1}')$$);
SELECT error_of($$SELECT clm.quintile_score('Infinity', '{1,2,3,4}')$$);

-- the shipped segment map: 25 cells, 10 segments, read-only
SELECT segment, count(*) AS cells,
       string_agg('R' || r_score || 'F' || f_score, ' ' ORDER BY r_score DESC, f_score DESC) AS cells_list
FROM clm.segment_map WHERE map = 'rfm_5x5' GROUP BY segment ORDER BY min(r_score) DESC, max(f_score) DESC;
SELECT error_of($$UPDATE clm.segment_map SET segment = 'x' WHERE map = 'rfm_5x5'$$);
SELECT error_of($$DELETE FROM clm.segment_map WHERE map = 'rfm_5x5'$$);
SELECT clm.copy_segment_map('rfm_5x5', 'mine') AS copied;
UPDATE clm.segment_map SET segment = 'Dormant' WHERE map = 'mine' AND r_score = 1;
SELECT segment, count(*) FROM clm.segment_map WHERE map = 'mine' GROUP BY 1 ORDER BY 1;
-- only user maps are kept by pg_dump
SELECT c.relname, x.cond
FROM pg_extension e, unnest(e.extconfig, e.extcondition) x(oid, cond) JOIN pg_class c ON c.oid = x.oid
WHERE e.extname = 'clm' AND c.relname IN ('sources', 'segment_map') ORDER BY 1;

-- stage rules
SELECT d AS days_since_last, clm.behavioral_stage(now() - interval '400 days', now() - d * interval '1 day', now(), NULL,
	'30 days', '90 days', '180 days', '365 days', 0.5, 0.1) AS stage
FROM unnest('{0,89,91,181,366}'::int[]) d ORDER BY d;
SELECT p, clm.behavioral_stage(now() - interval '400 days', now(), now(), p,
	'30 days', '90 days', '180 days', '365 days', 0.5, 0.1) AS stage
FROM unnest('{0.05,0.3,0.9}'::float8[]) p ORDER BY p;
SELECT prev, clm.next_stage('active', prev, now() - interval '10 days', now(), '30 days') AS after_10_days,
       clm.next_stage('active', prev, now() - interval '40 days', now(), '30 days') AS after_40_days,
       clm.next_stage('at_risk', prev, now() - interval '10 days', now(), '30 days') AS at_risk_now
FROM unnest('{active,dormant,churned,reactivated}'::text[]) prev ORDER BY prev;

-- the fixture: ten customers, purchases d days ago at midnight UTC
CREATE TABLE sc_events (customer int, at timestamptz, amount numeric);
INSERT INTO sc_events
SELECT c, (current_date - d)::timestamptz, a
FROM (VALUES (1, 400, 10), (2, 500, 5), (2, 300, 5), (3, 200, 10), (3, 150, 10), (3, 100, 10),
             (4, 20, 100), (5, 300, 40), (5, 60, 40), (6, 250, 1), (6, 200, 1), (6, 50, 1), (6, 40, 1),
             (7, 700, 50), (7, 5, 25), (7, 5, 25), (8, 10, 2), (8, 9, 2), (8, 8, 2), (8, 7, 2), (8, 6, 2),
             (9, 730, 1000), (9, 35, 1), (10, 1, 0)) v(c, d, a);
CREATE INDEX ON sc_events (customer);
CREATE TABLE sc_customers (id int PRIMARY KEY, stage text);
INSERT INTO sc_customers SELECT g, NULL FROM generate_series(1, 10) g;
SELECT name, owner = current_user::regrole AS mine, customer_type, period, time_unit, incremental, stage_model
FROM clm.register('sc', 'sc_events', 'customer', 'at', 'amount',
	tracked_table => 'sc_customers', tracked_key_column => 'id', tracked_stage_column => 'stage',
	scores_view => 'public.sc_scores');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'sc_events'::regclass ORDER BY 1;
-- registering does not score; the source is due at once (never scored)
SELECT pending_customers, next_run IS NOT NULL AS due FROM clm.worker_status() WHERE source = 'sc';

-- first refresh: full (no version yet)
SELECT mode, rows, status, version, by_worker FROM clm.refresh('sc');
-- ten customers do not identify the BG/NBD and Gamma-Gamma models: the fits
-- say so (converged = false; their WARNINGs go to the server log) and the
-- model scores stay NULL
SELECT version, customers, f_breaks, m_breaks, model, model_params->>'converged' AS model_converged,
       fit_diagnostics->'model_used' AS model_used, fit_diagnostics->'spend_used' AS spend_used
FROM clm.score_versions WHERE source = 'sc';
-- R on the last purchase (most recent = 5), F on purchase days, M on total
-- spend, each 1 + floor(5 * (number of smaller values) / 10):
--   last purchase (days ago) 400 300 | 100 60 | 40 35 | 20 6 | 5 1  -> R 1 1 2 2 3 3 4 4 5 5
--   purchase days 1 1 1 (c1 c4 c10) -> F1; 2 (c2 c5 c7 c9: 3 smaller) -> F2;
--     3 (c3: 7 smaller) -> F4; 4, 5 (c6, c8) -> F5
--   totals 0 4 -> M1; 10 10 10 -> M2; 30 -> M3; 80 100 100 -> M4; 1001 -> M5
-- segments from the grid, stages from the default thresholds (churned > 365
-- days since the last purchase, dormant > 180, at_risk > 90, new = first
-- purchase within 30 days); recency and t in weeks, e.g. c5: 240/7, 300/7.
SELECT customer_key::int AS c, frequency, round(recency::numeric, 4) AS recency, round(t::numeric, 4) AS t,
       monetary, total, r_score AS r, f_score AS f, m_score AS m, segment, stage,
       p_alive, expected_purchases, clv, churn_risk
FROM clm.scores WHERE source = 'sc' ORDER BY c;
-- the stage was written into the tracked customer table, the view has typed keys
SELECT id, stage FROM sc_customers ORDER BY id;
SELECT pg_typeof(customer), count(*) FROM public.sc_scores GROUP BY 1;
SELECT pending_customers, last_status, last_mode FROM clm.worker_status() WHERE source = 'sc';

-- a customer table tracked by clm.track() with the shipped behavioral graph:
-- the refresh writes the stages, the tracking trigger records the history;
-- moves the graph forbids (it lets customers enter only at new) are left out
-- and counted in the run (in a transaction rolled back: the history is
-- append-only and sql/stages.sql lists all of it)
BEGIN;
CREATE TABLE tr_events AS SELECT * FROM sc_events;
CREATE TABLE tr_customers (id int PRIMARY KEY, stage text);
INSERT INTO tr_customers SELECT g, NULL FROM generate_series(1, 10) g;
SELECT clm.track('tr_customers', 'id', 'stage', 'behavioral');
SELECT name FROM clm.register('tr', 'tr_events', 'customer', 'at', 'amount',
	tracked_table => 'tr_customers', tracked_key_column => 'id', tracked_stage_column => 'stage');
SELECT mode, rows, stages_skipped, status FROM clm.refresh('tr');
SELECT id, stage FROM tr_customers WHERE stage IS NOT NULL ORDER BY id;
-- customer 4's only purchase moves to 100 days ago: new -> at_risk is an edge
UPDATE tr_events SET at = current_date - 100 WHERE customer = 4;
SELECT mode, rows, stages_skipped, status FROM clm.refresh('tr');
SELECT customer_key, from_stage, to_stage FROM clm.stage_history
WHERE table_oid = 'tr_customers'::regclass ORDER BY customer_key::int, from_stage NULLS FIRST;
ROLLBACK;

-- incremental: customer 1 buys again today (churned -> reactivated), customer 2's
-- events are deleted (its scores go), nobody else is rescored
INSERT INTO sc_events VALUES (1, current_date, 15);
DELETE FROM sc_events WHERE customer = 2;
SELECT customer_key, count(*) FROM clm.refresh_queue WHERE source = 'sc' GROUP BY 1 ORDER BY 1;
SELECT mode, rows, status FROM clm.refresh('sc');
SELECT customer_key::int AS c, frequency, total, r_score AS r, f_score AS f, m_score AS m, segment, stage,
       run_id = (SELECT max(id) FROM clm.refresh_runs WHERE source = 'sc') AS rescored
FROM clm.scores WHERE source = 'sc' ORDER BY c;
SELECT id, stage FROM sc_customers WHERE id <= 3 ORDER BY id;
SELECT count(*) AS queued FROM clm.refresh_queue WHERE source = 'sc';

-- a transaction that inserted before the refresh started but commits after
-- it: a "changed since the last run" timestamp watermark would skip it for
-- good; the queue row becomes visible with the event and is scored next time
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('late', format('host=%s port=%s dbname=%s user=%s',
	current_setting('unix_socket_directories'), current_setting('port'), current_database(), current_user));
SELECT dblink_exec('late', 'BEGIN');
SELECT dblink_exec('late', $$INSERT INTO sc_events VALUES (3, current_date, 70)$$);
SELECT pg_sleep(0.01);
SELECT mode, rows, status FROM clm.refresh('sc');
SELECT frequency, total, stage FROM clm.scores WHERE source = 'sc' AND customer_key = '3';
SELECT dblink_exec('late', 'COMMIT');
SELECT dblink_disconnect('late');
SELECT q.queued_at < r.started_at AS queued_before_the_last_run
FROM clm.refresh_queue q, (SELECT max(started_at) AS started_at FROM clm.refresh_runs WHERE source = 'sc') r
WHERE q.source = 'sc';
SELECT mode, rows, status FROM clm.refresh('sc');
SELECT frequency, total, stage FROM clm.scores WHERE source = 'sc' AND customer_key = '3';

-- TRUNCATE queues a full rescore; a full refresh drops customers without events
TRUNCATE sc_events;
INSERT INTO sc_events VALUES (4, current_date - 3, 8);
SELECT mode, rows, status FROM clm.refresh('sc');
SELECT customer_key, frequency, total, stage FROM clm.scores WHERE source = 'sc' ORDER BY 1;
SELECT mode AS forced FROM clm.refresh('sc', true);
-- the run log, and its retention (clm.run_retention, 7 days by default)
SELECT mode, rows, status, error FROM clm.refresh_runs WHERE source = 'sc' ORDER BY id;
UPDATE clm.refresh_runs SET finished_at = now() - interval '8 days' WHERE source = 'sc' AND mode = 'incremental';
SELECT count(*) FROM clm.refresh('sc');
SELECT mode, count(*) FROM clm.refresh_runs WHERE source = 'sc' GROUP BY 1 ORDER BY 1;
-- a full run that fails half-way (here: its steps called by hand, then the
-- failure recorded as the worker does) makes the next run a full one
SELECT clm.refresh_failed(r, 'sc', 'simulated failure') > 0 AS failed
FROM (SELECT clm.refresh_start('sc', true, false) AS r) q, LATERAL (SELECT clm.refresh_prepare(q.r)) p;
SELECT mode, status, error FROM clm.refresh_runs WHERE source = 'sc' ORDER BY id DESC LIMIT 1;
SELECT mode, status FROM clm.refresh('sc');
SELECT mode, status FROM clm.refresh('sc');

-- CDNOW sample (sql/rfm.sql loaded it), scored as of the calibration end
-- 1997-09-30: the pipeline's fits are the published ones (BG/NBD r 0.243,
-- alpha 4.414, a 0.793, b 2.426, LL -9582.4; Gamma-Gamma on the 946 repeat
-- customers p 6.25, q 3.74, v 15.44; Pareto/NBD r 0.553, alpha 10.578,
-- s 0.606, beta 11.669, LL -9595.0)
SELECT name FROM clm.register('cdnow', 'cdnow_sample', 'id', 'at', 'amount', incremental => false);
SELECT name FROM clm.register('cdnow_p', 'cdnow_sample', 'id', 'at', 'amount', incremental => false, model => 'pareto_nbd');
SELECT mode, rows, status FROM clm.refresh('cdnow', true, '1997-09-30');
SELECT mode, rows, status FROM clm.refresh('cdnow_p', true, '1997-09-30');
CREATE TABLE cdnow_fit AS
SELECT jsonb_populate_record(NULL::clm.bgnbd, model_params) AS m, jsonb_populate_record(NULL::clm.gamma_gamma, spend_params) AS g
FROM clm.score_versions WHERE source = 'cdnow';
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha, round((m).a::numeric, 3) AS a,
       round((m).b::numeric, 3) AS b, round((m).loglik::numeric, 1) AS loglik, (m).converged,
       round((g).p::numeric, 2) AS p, round((g).q::numeric, 2) AS q, round((g).v::numeric, 2) AS v, (g).n AS repeaters
FROM cdnow_fit;
SELECT round((p).r::numeric, 3) AS r, round((p).alpha::numeric, 3) AS alpha, round((p).s::numeric, 3) AS s,
       round((p).beta::numeric, 3) AS beta, round((p).loglik::numeric, 1) AS loglik, (p).converged
FROM (SELECT jsonb_populate_record(NULL::clm.pareto_nbd, model_params) AS p
      FROM clm.score_versions WHERE source = 'cdnow_p') q;
-- with the stored fits: E[purchases in 39 weeks] of customer 1 (x 2, t_x 30.43,
-- T 38.86) is 1.226; E[spend] of customers 1, 2, 6 is 24.65, 18.91, 71.46
SELECT round(clm.expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 3) AS e39 FROM cdnow_fit;
SELECT s.customer_key, round(clm.expected_spend(g, s.frequency, s.monetary)::numeric, 2) AS e_spend
FROM clm.scores s, cdnow_fit WHERE s.source = 'cdnow' AND s.customer_key IN ('1', '2', '6') ORDER BY 1;
-- every customer's model scores are those of the stored fits: P(alive),
-- purchases in 12 months (12 * 30.436875 / 7 weeks), 12-month CLV at 1% a
-- month, churn risk = 1 - P(alive)
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.p_alive = clm.p_alive(m, s.frequency, s.recency, s.t)
                          AND abs(s.expected_purchases - clm.expected_purchases(m, 12 * 30.436875 / 7, s.frequency, s.recency, s.t)) < 1e-9
                          AND s.clv = clm.clv(m, g, s.frequency, s.recency, s.t, s.monetary, 12, 0.01, 'week')
                          AND s.churn_risk = 1 - s.p_alive) AS as_the_model_functions
FROM clm.scores s, cdnow_fit WHERE s.source = 'cdnow';
SELECT customer_key, frequency, round(p_alive::numeric, 4) AS p_alive, round(expected_purchases::numeric, 4) AS e12m,
       round(clv::numeric, 2) AS clv, round(churn_risk::numeric, 4) AS churn_risk, segment, stage
FROM clm.scores WHERE source = 'cdnow' AND customer_key IN ('1', '2', '6') ORDER BY customer_key::int;
-- the R/F/M quintiles of all 2,357 customers against plain SQL rank():
-- score = 1 + floor(5 * (rank - 1) / n), R on the last purchase, F on
-- purchase days, M on total spend, up to the calibration end
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.r_score = q.r AND s.f_score = q.f AND s.m_score = q.m) AS as_plain_sql
FROM clm.scores s JOIN (
	SELECT id::text AS customer_key,
	       1 + floor(5 * (rank() OVER (ORDER BY max(at)) - 1) / count(*) OVER ()) AS r,
	       1 + floor(5 * (rank() OVER (ORDER BY count(DISTINCT at::date)) - 1) / count(*) OVER ()) AS f,
	       1 + floor(5 * (rank() OVER (ORDER BY sum(amount)) - 1) / count(*) OVER ()) AS m
	FROM cdnow_sample WHERE at <= '1997-09-30' GROUP BY id) q USING (customer_key)
WHERE s.source = 'cdnow';
SELECT segment, count(*), round(avg(p_alive)::numeric, 3) AS mean_p_alive, round(sum(clv)::numeric, 0) AS clv
FROM clm.scores WHERE source = 'cdnow' GROUP BY segment ORDER BY clv DESC;
SELECT stage, count(*) FROM clm.scores WHERE source = 'cdnow' GROUP BY stage ORDER BY stage;
SELECT error_of($$SELECT clm.refresh('cdnow', false, '1997-09-30')$$);
SELECT error_of($$SELECT clm.refresh('cdnow', true, 'infinity')$$);
SELECT clm.unregister('cdnow'), clm.unregister('cdnow_p');
DROP TABLE cdnow_fit;

-- validation: every argument, with its SQLSTATE
CREATE TABLE sc_bad (id float8, at text, amount text, ok int, ts timestamptz);
CREATE VIEW sc_view AS SELECT * FROM sc_events;
CREATE SEQUENCE sc_seq;
SELECT error_of($$SELECT clm.register(NULL, 'sc_events', 'customer', 'at', 'amount')$$);
SELECT error_of($$SELECT clm.register('bad name', 'sc_events', 'customer', 'at', 'amount')$$);
SELECT error_of($$SELECT clm.register('sc', 'sc_events', 'customer', 'at', 'amount')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_seq', 'customer', 'at', 'amount')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'nope', 'at', 'amount')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_bad', 'id', 'ts', 'ok')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_bad', 'ok', 'at', 'ok')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_bad', 'ok', 'ts', 'amount')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', period => 'decade')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', time_zone => 'Mars/Base')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', segment_map => 'nope')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', model => 'arima')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', horizon_months => 0)$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', monthly_discount => -1)$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', refresh_interval => '0')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', time_unit => NULL)$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', stage_model => 'hubspot')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', tracked_table => 'sc_customers')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', tracked_table => 'sc_customers', tracked_key_column => 'id', tracked_stage_column => 'nope')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_events', 'customer', 'at', 'amount', tracked_table => 'sc_customers', tracked_key_column => 'stage', tracked_stage_column => 'id')$$);
SELECT error_of($$SELECT clm.register('x', 'sc_view', 'customer', 'at', 'amount')$$);
SELECT error_of($$SELECT clm.refresh('nope')$$);
SELECT error_of($$SELECT clm.refresh(NULL)$$);
SELECT error_of($$SELECT clm.unregister('nope')$$);
-- a view works without triggers: every run is a full one
SELECT name, incremental FROM clm.register('sc_v', 'sc_view', 'customer', 'at', 'amount', incremental => false);
SELECT mode, rows, status FROM clm.refresh('sc_v');
SELECT mode FROM clm.refresh('sc_v');
SELECT clm.unregister('sc_v');

-- two non-superuser roles: alice registers her table; bob sees nothing of it
-- until alice grants it, and can never write it or refresh it
CREATE ROLE clm_alice;
CREATE ROLE clm_bob;
CREATE TABLE alice_events (customer bigint, at timestamptz, amount float8);
ALTER TABLE alice_events OWNER TO clm_alice;
INSERT INTO alice_events VALUES (1, current_date - 3, 10), (2, current_date - 40, 20), (2, current_date - 2, 5);
CREATE TABLE bob_secret (customer bigint, at timestamptz, amount float8);
GRANT SELECT (customer, at) ON bob_secret TO clm_alice;
SET ROLE clm_alice;
SELECT error_of($$SELECT clm.register('steal', 'bob_secret', 'customer', 'at', 'amount')$$);
SELECT name, owner FROM clm.register('alice_src', 'alice_events', 'customer', 'at', 'amount');
SELECT mode, rows, status FROM clm.refresh('alice_src');
SELECT source, customer_key, frequency, total, segment FROM clm.scores ORDER BY 1, 2;
SELECT source FROM clm.worker_status() ORDER BY 1;
SELECT error_of($$SELECT clm.refresh('sc')$$);
SELECT error_of($$UPDATE clm.segment_map SET segment = 'x' WHERE map = 'mine'$$);
SET ROLE clm_bob;
SELECT count(*) AS bob_sees_scores FROM clm.scores;
SELECT count(*) AS bob_sees_sources FROM clm.sources;
SELECT error_of($$SELECT clm.refresh('alice_src')$$);
SELECT error_of($$SELECT clm.register('bob_src', 'alice_events', 'customer', 'at', 'amount')$$);
SELECT error_of($$INSERT INTO clm.sources (name, events, customer_column, time_column, amount_column, customer_type, owner) VALUES ('fake', 'alice_events', 'customer', 'at', 'amount', 'bigint', 'clm_alice')$$);
SET ROLE clm_alice;
SELECT clm.grant_scores('alice_src', 'clm_bob');
SET ROLE clm_bob;
SELECT source, customer_key, frequency, total FROM clm.scores ORDER BY 1, 2;
SELECT error_of($$SELECT clm.refresh('alice_src')$$);
SELECT error_of($$UPDATE clm.scores SET clv = 1e9$$);
SELECT error_of($$INSERT INTO clm.scores SELECT * FROM clm.scores$$);
SELECT error_of($$SELECT clm.unregister('alice_src')$$);
SELECT error_of($$SELECT clm.grant_scores('alice_src', 'clm_bob')$$);
SET ROLE clm_alice;
SELECT clm.revoke_scores('alice_src', 'clm_bob');
SET ROLE clm_bob;
SELECT count(*) AS bob_sees_scores FROM clm.scores;
SET ROLE clm_alice;
SELECT clm.unregister('alice_src');
RESET ROLE;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'alice_events'::regclass ORDER BY 1;

-- the SECURITY DEFINER queue trigger cannot be borrowed: bob puts it on his own
-- table whose key type has a plpgsql cast to text (which would run with the
-- definer's rights); it does nothing there, because the table is not the
-- source's events table
CREATE SCHEMA bob_s AUTHORIZATION clm_bob;
SET ROLE clm_bob;
CREATE TYPE bob_s.bob_key AS (k int);
CREATE FUNCTION bob_s.bob_key_text(bob_s.bob_key) RETURNS text LANGUAGE plpgsql AS
$$BEGIN RAISE EXCEPTION 'bob''s cast ran as %', current_user; END$$;
CREATE CAST (bob_s.bob_key AS text) WITH FUNCTION bob_s.bob_key_text(bob_s.bob_key);
CREATE TABLE bob_s.bob_rows (customer_id bob_s.bob_key);
CREATE TRIGGER borrow AFTER INSERT ON bob_s.bob_rows REFERENCING NEW TABLE AS clm_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION clm.queue_changes('sc', 'customer_id');
INSERT INTO bob_s.bob_rows VALUES (ROW(1));
SELECT count(*) AS bob_rows FROM bob_s.bob_rows;
RESET ROLE;
DROP SCHEMA bob_s CASCADE;
SELECT count(*) AS queued_by_bob FROM clm.refresh_queue WHERE source = 'sc';
-- a customer column whose type was changed after register() is refused by
-- the queue trigger (42804) rather than cast with whatever the new type brings
SET client_min_messages = warning;
CREATE TABLE qt_events (customer int, at timestamptz, amount numeric);
SELECT name FROM clm.register('qt', 'qt_events', 'customer', 'at', 'amount');
ALTER TABLE qt_events ALTER COLUMN customer TYPE numeric;
SELECT error_of($$INSERT INTO qt_events VALUES (1, now(), 1)$$);
SELECT clm.unregister('qt');
DROP TABLE qt_events;
RESET client_min_messages;

-- a dropped tracked table is forgotten by the source (clm's sql_drop event
-- trigger clears its tracked_* settings): the refresh goes on; unregister
-- copes with a view dropped by hand
DROP VIEW public.sc_scores;
DROP TABLE sc_customers;
SELECT regexp_replace(error_of($$SELECT clm.refresh('sc')$$), 'OID \d+', 'OID n');
-- unregister removes triggers, view, scores, versions, queue and runs
SELECT clm.unregister('sc');
SELECT (SELECT count(*) FROM clm.sources) AS sources, (SELECT count(*) FROM clm.scores) AS scores,
       (SELECT count(*) FROM clm.score_versions) AS versions, (SELECT count(*) FROM clm.refresh_runs) AS runs,
       (SELECT count(*) FROM clm.refresh_queue) AS queued, to_regclass('public.sc_scores') AS view,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'sc_events'::regclass) AS triggers;
DROP TABLE alice_events, bob_secret;
DROP ROLE clm_alice;
DROP ROLE clm_bob;
