-- The background worker, in the preloaded test cluster.  scripts/lib.sh sets
-- clm.worker_enabled = on, clm.database = 'clm_worker_test' (a database only
-- this file creates, never contrib_regression) and clm.naptime = 1.  Every wait
-- is a bounded poll (wait_for: at most 20 s, normally well under a second).
SELECT name, setting FROM pg_settings
WHERE name IN ('clm.worker_enabled', 'clm.database', 'clm.naptime', 'clm.worker_lock_timeout') ORDER BY name;
SET client_min_messages = warning;
ALTER SYSTEM RESET clm.naptime;
ALTER SYSTEM RESET clm.worker_lock_timeout;
SELECT pg_reload_conf();
DROP DATABASE IF EXISTS clm_worker_test WITH (FORCE);
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clm_w_alice') THEN
		EXECUTE 'DROP ROLE clm_w_alice';
	END IF;
END
$$;
CREATE ROLE clm_w_alice;
CREATE DATABASE clm_worker_test;
RESET client_min_messages;
\c clm_worker_test
SET timezone = 'UTC';
CREATE EXTENSION clm;
CREATE EXTENSION dblink;
CREATE FUNCTION wait_for(cond text, timeout_s float8 DEFAULT 20) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	ok boolean;
BEGIN
	LOOP
		PERFORM pg_stat_clear_snapshot();
		EXECUTE 'SELECT (' || cond || ')' INTO ok;
		IF ok THEN
			RETURN true;
		END IF;
		IF clock_timestamp() - t0 > timeout_s * interval '1 second' THEN
			RAISE WARNING 'timed out waiting for %', cond;
			RETURN false;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
CREATE FUNCTION other(name text) RETURNS text LANGUAGE sql AS $$
	SELECT dblink_connect(name, format('host=%s port=%s dbname=%s user=%s',
		current_setting('unix_socket_directories'), current_setting('port'), current_database(), current_user))
$$;
-- scores computed by hand-written SQL from the events, to compare with clm.scores
CREATE FUNCTION expected_totals(tbl regclass) RETURNS TABLE (customer text, periods int, total float8)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format('SELECT customer::text, count(DISTINCT at::date)::int, sum(amount)::float8
		FROM %s GROUP BY customer', tbl);
END
$$;

-- the launcher runs, without a database, and says what it does
SELECT wait_for($$EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'clm launcher')$$);
SELECT backend_type, application_name, datname, query
FROM pg_stat_activity WHERE backend_type = 'clm launcher';

-- new sources get scored without calling clm.refresh: w_a and w_b registered
-- by the superuser, w_c by alice, who may read ev_c (and create its triggers)
CREATE TABLE ev_a (customer int, at timestamptz, amount float8);
CREATE INDEX ON ev_a (customer);
INSERT INTO ev_a SELECT c, (current_date - c * 7 - k)::timestamptz, c + k
FROM generate_series(1, 20) c, generate_series(0, c % 4) k;
CREATE TABLE ev_b (customer int, at timestamptz, amount float8);
INSERT INTO ev_b VALUES (1, current_date, 1);
CREATE TABLE ev_c (customer int, at timestamptz, amount float8);
INSERT INTO ev_c VALUES (1, current_date - 1, 5), (2, current_date, 6);
GRANT SELECT, TRIGGER ON ev_c TO clm_w_alice;
-- alice's customer table, tracked by clm.track() with a model of the
-- behavioural stages that allows every move: the worker writes the stages
INSERT INTO clm.stage_model (model, policy) VALUES ('behavioral_any', 'any');
INSERT INTO clm.stage (model, stage, position)
SELECT 'behavioral_any', stage, position FROM clm.stage WHERE model = 'behavioral';
CREATE TABLE cust_c (id int PRIMARY KEY, stage text);
INSERT INTO cust_c VALUES (1, NULL), (2, NULL);
ALTER TABLE cust_c OWNER TO clm_w_alice;
SELECT name FROM clm.register('w_a', 'ev_a', 'customer', 'at', 'amount', refresh_interval => '1 second');
SELECT name FROM clm.register('w_b', 'ev_b', 'customer', 'at', 'amount', refresh_interval => '1 second');
SET ROLE clm_w_alice;
SELECT clm.track('cust_c', 'id', 'stage', 'behavioral_any');
SELECT name, owner FROM clm.register('w_c', 'ev_c', 'customer', 'at', 'amount', refresh_interval => '1 second',
	tracked_table => 'cust_c', tracked_key_column => 'id', tracked_stage_column => 'stage');
RESET ROLE;
SELECT wait_for($$(SELECT count(DISTINCT source) FROM clm.refresh_runs WHERE status = 'ok') = 3$$);
SELECT source, mode, rows, status, by_worker FROM clm.refresh_runs ORDER BY source, id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.frequency + 1 = e.periods AND s.total = e.total) AS as_by_hand
FROM clm.scores s JOIN expected_totals('ev_a') e ON e.customer = s.customer_key WHERE s.source = 'w_a';
-- the stages reached alice's table and its history, written with her rights
SELECT id, stage FROM cust_c ORDER BY id;
SELECT customer_key, from_stage, to_stage, changed_by FROM clm.stage_history
WHERE table_oid = 'cust_c'::regclass ORDER BY customer_key;

-- then: new events in ev_a are picked up incrementally; ev_b is dropped (its
-- source is removed by clm's sql_drop event trigger, issue #13);
-- alice loses her right to read ev_c: the worker (a superuser process) runs
-- her source with her rights, so it fails instead of reading the table
INSERT INTO ev_a VALUES (1, current_date, 100), (21, current_date, 5);
DROP TABLE ev_b;
REVOKE SELECT ON ev_c FROM clm_w_alice;
INSERT INTO ev_c VALUES (3, current_date, 7);
SELECT wait_for($$(SELECT count(*) FROM clm.scores WHERE source = 'w_a') = 21
	AND (SELECT total FROM clm.scores WHERE source = 'w_a' AND customer_key = '1') = 103
	AND NOT EXISTS (SELECT 1 FROM clm.sources WHERE name = 'w_b')
	AND EXISTS (SELECT 1 FROM clm.refresh_runs WHERE source = 'w_c' AND status = 'error')$$);
SELECT mode, rows, status, by_worker FROM clm.refresh_runs WHERE source = 'w_a' ORDER BY id;
SELECT source, status, regexp_replace(error, 'OID \d+', 'OID n') AS error, by_worker
FROM (SELECT DISTINCT ON (source) * FROM clm.refresh_runs WHERE status = 'error' ORDER BY source, id) r
ORDER BY source;
SELECT source, last_status, consecutive_errors >= 1 AS failing,
       next_run >= last_run + interval '1 second' * power(2, consecutive_errors - 1) AS backs_off
FROM clm.worker_status() ORDER BY source;
SELECT count(*) AS w_c_still_two FROM clm.scores WHERE source = 'w_c';
SELECT clm.unregister('w_c');

-- lock_timeout: a table locked by a user makes the worker give up (logged)
-- rather than queue behind the lock
SELECT other('locker');
SELECT dblink_exec('locker', 'BEGIN');
SELECT dblink_exec('locker', 'LOCK TABLE ev_a IN ACCESS EXCLUSIVE MODE');
INSERT INTO clm.refresh_queue (source, customer_key) VALUES ('w_a', '5');
SELECT wait_for($$EXISTS (SELECT 1 FROM clm.refresh_runs WHERE source = 'w_a' AND error LIKE '%lock timeout%')$$);

-- with a long lock_timeout the next worker waits; it shows itself in
-- pg_stat_activity; pg_terminate_backend on it mid-run: the run is marked
-- interrupted, and the next worker completes the source once the lock is gone
ALTER SYSTEM SET clm.worker_lock_timeout = '60s';
SELECT pg_reload_conf();
SELECT wait_for($$(SELECT v FROM dblink(format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
	current_setting('port'), current_database()), 'SHOW clm.worker_lock_timeout') t(v text)) = '1min'$$);
SELECT wait_for($$EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'clm worker' AND wait_event_type = 'Lock')$$);
SELECT backend_type, application_name, datname, regexp_replace(query, '\(run \d+\)', '(run n)') AS query, wait_event_type
FROM pg_stat_activity WHERE backend_type = 'clm worker';
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'clm worker';
ALTER SYSTEM RESET clm.worker_lock_timeout;
SELECT pg_reload_conf();
SELECT wait_for($$NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'clm worker' AND wait_event_type = 'Lock')$$);
SELECT dblink_exec('locker', 'ROLLBACK');
SELECT wait_for($$EXISTS (SELECT 1 FROM clm.refresh_runs WHERE source = 'w_a' AND error LIKE 'interrupted%')
	AND (SELECT last_status FROM clm.worker_status() WHERE source = 'w_a') = 'ok'$$);
SELECT DISTINCT status, error FROM clm.refresh_runs WHERE source = 'w_a' AND status = 'error' ORDER BY error;

-- pg_terminate_backend on the launcher: the postmaster starts it again
-- (bgw_restart_time) and it goes on serving
CREATE TEMP TABLE old_launcher AS SELECT pid FROM pg_stat_activity WHERE backend_type = 'clm launcher';
SELECT pg_terminate_backend(pid) FROM old_launcher;
SELECT wait_for($$EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'clm launcher'
	AND pid NOT IN (SELECT pid FROM old_launcher))$$);
INSERT INTO ev_a VALUES (23, current_date, 9);
SELECT wait_for($$EXISTS (SELECT 1 FROM clm.scores WHERE source = 'w_a' AND customer_key = '23')$$);

-- SIGHUP changes the naptime: with an hour, no pass happens; back to 1 s, the
-- launcher wakes up at once
ALTER SYSTEM SET clm.naptime = '1h';
SELECT pg_reload_conf();
SELECT wait_for($$EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'clm launcher' AND query LIKE '%naptime 3600 s%')$$);
SELECT wait_for($$NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'clm worker')$$);
INSERT INTO ev_a VALUES (24, current_date, 9);
SELECT pg_sleep(1.5);
SELECT pending_customers AS waiting FROM clm.worker_status() WHERE source = 'w_a';
ALTER SYSTEM RESET clm.naptime;
SELECT pg_reload_conf();
SELECT wait_for($$EXISTS (SELECT 1 FROM clm.scores WHERE source = 'w_a' AND customer_key = '24')$$);
SELECT query FROM pg_stat_activity WHERE backend_type = 'clm launcher';

-- clm.refresh and the worker at the same time: a refresh in another session
-- holds the source's advisory lock, the worker skips the source meanwhile
-- (worker_status shows it running) and takes it up after the commit
SELECT other('manual');
SELECT dblink_exec('manual', 'BEGIN');
SELECT dblink_exec('manual', 'INSERT INTO ev_a VALUES (25, current_date, 1)');
SELECT * FROM dblink('manual', $$SELECT mode, status FROM clm.refresh('w_a')$$) AS t(mode text, status text);
INSERT INTO ev_a VALUES (26, current_date, 1);
SELECT running FROM clm.worker_status() WHERE source = 'w_a';
SELECT pg_sleep(1.2);
SELECT count(*) AS scored_meanwhile FROM clm.scores WHERE source = 'w_a' AND customer_key = '26';
SELECT dblink_exec('manual', 'COMMIT');
SELECT wait_for($$(SELECT count(*) FROM clm.scores WHERE source = 'w_a' AND customer_key IN ('25', '26')) = 2$$);
-- manual refreshes in a loop while the worker runs: no error, no deadlock,
-- no overlapping runs, and the scores equal the hand-written SQL
DO $$
BEGIN
	FOR i IN 1..10 LOOP
		INSERT INTO ev_a VALUES (i, current_date, 1);
		PERFORM clm.refresh('w_a');
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT dblink_disconnect('manual'), dblink_disconnect('locker');
SELECT wait_for($$(SELECT pending_customers FROM clm.worker_status() WHERE source = 'w_a') = 0
	AND NOT (SELECT running FROM clm.worker_status() WHERE source = 'w_a')$$);
SELECT count(*) AS overlapping_runs
FROM clm.refresh_runs a JOIN clm.refresh_runs b
  ON a.source = b.source AND a.id < b.id AND a.started_at < b.finished_at AND b.started_at < a.finished_at;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.frequency + 1 = e.periods AND s.total = e.total) AS as_by_hand
FROM clm.scores s JOIN expected_totals('ev_a') e ON e.customer = s.customer_key WHERE s.source = 'w_a';
SELECT count(*) > 0 AS worker_runs, count(*) FILTER (WHERE status = 'running') AS left_running
FROM clm.refresh_runs WHERE by_worker;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE clm_worker_test WITH (FORCE);
DROP ROLE clm_w_alice;
