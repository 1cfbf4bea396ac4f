-- Issue #13, the independent attack: three non-superuser roles (alice and
-- bob are tenants, mallory is any other role) and a superuser try to run
-- code with another role's or the extension owner's rights, to read or
-- change another role's clm rows, and to stall others.  The blocks marked
-- "hole" succeeded before their fix; the others show each attempt failing
-- with its exact SQLSTATE.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE ROLE clm_rt_alice;
CREATE ROLE clm_rt_bob;
CREATE ROLE clm_rt_mallory;
CREATE SCHEMA clm_rt_a AUTHORIZATION clm_rt_alice;
CREATE SCHEMA clm_rt_b AUTHORIZATION clm_rt_bob;
CREATE SCHEMA clm_rt_m AUTHORIZATION clm_rt_mallory;
-- the payload every attack tries to run with raised rights
CREATE FUNCTION clm_rt_m.escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF current_user NOT IN ('clm_rt_alice', 'clm_rt_bob', 'clm_rt_mallory') THEN
		EXECUTE 'ALTER ROLE clm_rt_mallory SUPERUSER';
	END IF;
	RETURN true;
END $$;
ALTER FUNCTION clm_rt_m.escalate() OWNER TO clm_rt_mallory;
GRANT USAGE ON SCHEMA clm_rt_m TO PUBLIC;
CREATE VIEW clm_rt_mallory_is_superuser AS
	SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'clm_rt_mallory';

-- alice's events, customers (tracked) and source
SET ROLE clm_rt_alice;
CREATE TABLE clm_rt_a.events (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt_a.events VALUES (1, '2026-01-01', 10), (1, '2026-02-01', 10), (2, '2026-01-15', 30),
	(3, '2026-03-01', 5);
CREATE TABLE clm_rt_a.customers (id bigint PRIMARY KEY, stage text, tenant text);
INSERT INTO clm_rt_a.customers VALUES (1, NULL, 'x'), (2, NULL, 'x'), (3, NULL, 'y');
SELECT clm.track('clm_rt_a.customers', 'id', 'stage', 'behavioral');
UPDATE clm_rt_a.customers SET stage = 'new';
SELECT name FROM clm.register('rt_a', 'clm_rt_a.events', 'customer', 'at', 'amount', incremental => false);
SELECT mode, rows, status FROM clm.refresh('rt_a', true, '2026-04-01');

-- Hole (fixed in clm.run_as): a setting changed by the source owner's code
-- outlived the statement clm.run_as ran with the owner's rights.  Mallory's
-- events are a view whose function sets search_path to her schema ahead of
-- pg_catalog; the refresh then went on as the extension owner and resolved
-- the next "=" of its PL/pgSQL to her operator, making her superuser.
-- clm.run_as now undoes every setting the statement changed.
SET ROLE clm_rt_mallory;
CREATE TABLE clm_rt_m.ev (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt_m.ev VALUES (1, '2026-01-01', 1), (2, '2026-01-05', 2);
CREATE FUNCTION clm_rt_m.flip() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('search_path', 'clm_rt_m, pg_catalog', false);
	PERFORM set_config('lock_timeout', '0', false);
	RETURN true;
END $$;
CREATE VIEW clm_rt_m.ev_view AS SELECT * FROM clm_rt_m.ev WHERE clm_rt_m.flip();
CREATE FUNCTION clm_rt_m.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM clm_rt_m.escalate();
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR clm_rt_m.= (FUNCTION = clm_rt_m.eq, LEFTARG = bigint, RIGHTARG = bigint);
CREATE FUNCTION clm_rt_m.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM clm_rt_m.escalate();
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR clm_rt_m.= (FUNCTION = clm_rt_m.eq, LEFTARG = text, RIGHTARG = text);
SELECT name FROM clm.register('rt_m', 'clm_rt_m.ev_view', 'customer', 'at', 'amount', incremental => false);
SET lock_timeout = '5s';
SELECT mode, rows, status FROM clm.refresh('rt_m', true, '2026-04-01');
-- the view's settings are gone once the statement ended
SHOW search_path;
SHOW lock_timeout;
RESET lock_timeout;
RESET ROLE;
SELECT * FROM clm_rt_mallory_is_superuser;
-- a superuser's refresh of her source: the same
SELECT mode, rows, status FROM clm.refresh('rt_m', true, '2026-04-01');
SHOW search_path;
SELECT * FROM clm_rt_mallory_is_superuser;

-- Mallory shadows names before calling clm's functions: her operators
-- ahead of pg_catalog in search_path, temporary tables named like the
-- catalogs clm reads.  clm's functions pin their search_path (pg_temp
-- last) and qualify the statements C code runs as the extension owner.
SET ROLE clm_rt_mallory;
SET search_path = clm_rt_m, pg_catalog;
CREATE TEMP VIEW pg_class AS SELECT c.*, clm_rt_m.escalate() AS x FROM pg_catalog.pg_class c;
CREATE TEMP VIEW pg_roles AS SELECT r.*, clm_rt_m.escalate() AS x FROM pg_catalog.pg_roles r;
CREATE TEMP VIEW pg_index AS SELECT i.*, clm_rt_m.escalate() AS x FROM pg_catalog.pg_index i;
CREATE TEMP TABLE sources (name text);
CREATE TABLE clm_rt_m.ev2 (customer bigint, at timestamptz, amount float8);
CREATE TABLE clm_rt_m.cust (id bigint, stage text);
INSERT INTO clm_rt_m.cust VALUES (1, 'new');
SELECT name FROM clm.register('rt_m2', 'clm_rt_m.ev2', 'customer', 'at', 'amount',
	scores_view => 'clm_rt_m.scores2');
INSERT INTO clm_rt_m.ev2 VALUES (1, '2026-01-01', 1);
SELECT mode, rows, status FROM clm.refresh('rt_m2', false, NULL);
SELECT clm.track('clm_rt_m.cust', 'id', 'stage', 'behavioral', true);
UPDATE clm_rt_m.cust SET stage = 'active';
SELECT (clm.alter_source('rt_m2', '{"horizon_months": 6}')).horizon_months;
SELECT * FROM clm.forget('1') ORDER BY 1;
SELECT clm.grant_scores('rt_m2', 'clm_rt_bob');
SELECT clm.unregister('rt_m2');
SELECT clm.untrack('clm_rt_m.cust');
DROP TABLE clm_rt_m.ev2;
RESET search_path;
DROP VIEW pg_temp.pg_class, pg_temp.pg_roles, pg_temp.pg_index;
DROP TABLE pg_temp.sources;
RESET ROLE;
SELECT * FROM clm_rt_mallory_is_superuser;

-- Mallory cannot reach clm's internals or write its tables
SET ROLE clm_rt_mallory;
SELECT error_of($$SELECT clm.refresh_as('clm_rt_alice', 'rt_a', true, NULL)$$) AS refresh_as;
SELECT error_of($$SELECT clm.forget_as('clm_rt_alice', '1')$$) AS forget_as;
SELECT error_of($$SELECT clm.unregister_as('clm_rt_alice', 'rt_a')$$) AS unregister_as;
SELECT error_of($$SELECT clm.source_unlock('rt_a')$$) AS source_unlock;
SELECT error_of($$SELECT clm.drop_orphans()$$) AS drop_orphans;
SELECT error_of($$SELECT clm.on_drop()$$) AS on_drop;
SELECT error_of($$UPDATE clm.sources SET owner = 'clm_rt_mallory' WHERE name = 'rt_a'$$) AS take_source;
SELECT error_of($$DELETE FROM clm.stage_history$$) AS delete_history;
SELECT error_of($$INSERT INTO clm.erasure_log (object, rows_erased, erased_by) VALUES ('x', 1, 'clm_rt_alice')$$) AS fake_erasure;
SELECT error_of($$TRUNCATE clm.scores$$) AS truncate_scores;
SELECT error_of($$LOCK TABLE clm.scores IN SHARE MODE$$) AS lock_scores;
SELECT error_of($$LOCK TABLE clm.tracked_table IN ACCESS EXCLUSIVE MODE$$) AS lock_tracked;
SELECT error_of($$ALTER TABLE clm.sources DISABLE ROW LEVEL SECURITY$$) AS disable_rls;
SELECT error_of($$CREATE TABLE clm.evil (x int)$$) AS create_in_clm;
SELECT error_of($$CREATE TRIGGER t AFTER INSERT ON clm.scores FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger()$$) AS trigger_on_scores;
-- a temporary table is dropped without an sql_drop event (end of session,
-- ON COMMIT DROP): its history would stay where nobody can read or erase it
-- (before: tracked; after the COMMIT its 2 history rows and its registry
-- row were left, and clm.forget('1') of its owner erased nothing)
BEGIN;
CREATE TEMP TABLE m_tmp (id bigint, stage text) ON COMMIT DROP;
SELECT error_of($$SELECT clm.track('pg_temp.m_tmp', 'id', 'stage', 'behavioral')$$) AS track_temp;
INSERT INTO m_tmp VALUES (1, 'new'), (2, 'new');
SELECT 'm_tmp'::regclass::oid AS m_tmp \gset
COMMIT;
RESET ROLE;
SELECT (SELECT count(*) FROM clm.stage_history WHERE table_oid = :m_tmp) AS unreachable_history,
	(SELECT count(*) FROM clm.tracked_table WHERE table_oid = :m_tmp) AS tracked_gone_table;
SET ROLE clm_rt_mallory;
-- nor another role's source through the user-facing functions
SELECT error_of($$SELECT clm.refresh('rt_a')$$) AS refresh_alice;
SELECT error_of($$SELECT clm.alter_source('rt_a', '{"horizon_months": 1}')$$) AS alter_alice;
SELECT error_of($$SELECT clm.alter_source('rt_a', '{"owner": "clm_rt_mallory"}')$$) AS alter_owner;
SELECT error_of($$SELECT clm.unregister('rt_a')$$) AS unregister_alice;
SELECT error_of($$SELECT clm.grant_scores('rt_a', 'clm_rt_mallory')$$) AS grant_herself;
SELECT error_of($$SELECT clm.untrack('clm_rt_a.customers')$$) AS untrack_alice;
SELECT error_of($$SELECT clm.import_history('clm_rt_a.customers', 'clm_rt_m.ev')$$) AS import_alice;
-- a source of hers on alice's table, which she may not read
SELECT error_of($$SELECT clm.register('rt_ma', 'clm_rt_a.events', 'customer', 'at', 'amount')$$) AS register_alice_events;
SELECT error_of($$SELECT clm.register('rt_ma', (SELECT oid FROM pg_class WHERE relname = 'events' AND relnamespace = 'clm_rt_a'::regnamespace)::regclass, 'customer', 'at', 'amount')$$) AS register_by_oid;
-- her tracked table pointing at alice's (by name and by OID)
SELECT error_of($$SELECT clm.alter_source('rt_m', '{"tracked_table": "clm_rt_a.customers", "tracked_key_column": "id", "tracked_stage_column": "stage"}')$$) AS track_alice;
SELECT error_of(format($$SELECT clm.alter_source('rt_m', '{"tracked_table": "%s", "tracked_key_column": "id", "tracked_stage_column": "stage"}')$$,
	(SELECT oid FROM pg_class WHERE relname = 'customers' AND relnamespace = 'clm_rt_a'::regnamespace))) AS track_alice_oid;
SELECT error_of($$SELECT clm.alter_source('rt_m', '{"tracked_table": "pg_catalog.pg_authid", "tracked_key_column": "oid", "tracked_stage_column": "rolname"}')$$) AS track_authid;
SELECT error_of($$SELECT clm.alter_source('rt_m', '{"time_zone": "UTC''; SELECT 1; --"}')$$) AS alter_time_zone;
SELECT error_of($$SELECT clm.alter_source('rt_m', '{"period": "month'')--"}')$$) AS alter_period;
SELECT error_of($$SELECT clm.alter_source('rt_m', '[1]')$$) AS alter_not_object;
-- crafted names: the scores view must be a plain qualified name, in a
-- schema she may create in, never temporary (created with her rights only)
SELECT error_of($$SELECT clm.register('rt_m3', 'clm_rt_m.ev', 'customer', 'at', 'amount', scores_view => 'clm.scores_m')$$) AS view_in_clm;
SELECT error_of($$SELECT clm.register('rt_m3', 'clm_rt_m.ev', 'customer', 'at', 'amount', scores_view => 'clm_rt_a.scores_m')$$) AS view_in_alices_schema;
SELECT error_of($$SELECT clm.register('rt_m3', 'clm_rt_m.ev', 'customer', 'at', 'amount', scores_view => 'pg_temp.scores_m')$$) AS temp_view;
SELECT error_of($$SELECT clm.register('rt_m3', 'clm_rt_m.ev', 'customer', 'at', 'amount', scores_view => 'clm_rt_m.v AS SELECT 1; SELECT clm_rt_m.escalate()')$$) AS view_sql;
SELECT error_of($$SELECT clm.register('rt_m3', 'clm_rt_m.ev', 'customer', 'at', 'amount', scores_view => 'scores_m')$$) AS unqualified_view;
-- crafted column names are identifiers, never SQL
CREATE TABLE clm_rt_m.odd ("c""; SELECT clm_rt_m.escalate(); --" bigint, "a t" timestamptz, "$1" float8);
INSERT INTO clm_rt_m.odd VALUES (5, '2026-01-01', 3);
SELECT error_of($$SELECT clm.register('rt m''"; --', 'clm_rt_m.odd', 'a t', 'a t', '$1')$$) AS source_name_sql;
SELECT name FROM clm.register('rt_odd', 'clm_rt_m.odd', 'c"; SELECT clm_rt_m.escalate(); --', 'a t', '$1',
	scores_view => 'clm_rt_m."v""; x"');
SELECT mode, rows, status FROM clm.refresh('rt_odd', true, '2026-04-01');
SELECT * FROM clm_rt_m."v""; x";
INSERT INTO clm_rt_m.odd VALUES (6, '2026-01-02', 4);
SELECT customer_key FROM clm.refresh_queue WHERE source = 'rt_odd';
SELECT clm.unregister('rt_odd');
SELECT error_of($$SELECT clm.register('rt_m4', 'clm_rt_m.odd', 'nope', 'a t', '$1')$$) AS missing_column;
RESET ROLE;
SELECT * FROM clm_rt_mallory_is_superuser;

-- Reading another role's data: sources, scores, versions, runs, queue,
-- erasures, stage history and everything built on it (mallory knows the
-- OID of alice's customer table; she may not use its schema)
SELECT 'clm_rt_a.customers'::regclass::oid AS alice_customers \gset
SET ROLE clm_rt_mallory;
SELECT (SELECT count(*) FROM clm.sources WHERE name = 'rt_a') AS sources,
	(SELECT count(*) FROM clm.scores WHERE source = 'rt_a') AS scores,
	(SELECT count(*) FROM clm.score_versions WHERE source = 'rt_a') AS versions,
	(SELECT count(*) FROM clm.refresh_runs WHERE source = 'rt_a') AS runs,
	(SELECT count(*) FROM clm.refresh_queue WHERE source = 'rt_a') AS queue,
	(SELECT count(*) FROM clm.worker_status() WHERE source = 'rt_a') AS worker_status,
	(SELECT count(*) FROM clm.stage_history WHERE table_oid = :alice_customers) AS history;
SELECT error_of($$SELECT count(*) FROM clm.refresh_stage$$) AS refresh_stage;
SELECT count(*) AS stage_spans FROM clm.stage_spans;
SELECT count(*) AS time_in_stage FROM clm.time_in_stage;
SELECT clm.stage_at((:alice_customers)::oid::regclass, 1, now()) AS stage_at;
SELECT count(*) AS matrix FROM clm.transition_matrix((:alice_customers)::oid::regclass, '-infinity', 'infinity');
SELECT count(*) AS funnel FROM clm.stage_funnel((:alice_customers)::oid::regclass, '2000-01-01', '3000-01-01',
	steps => '{new}') WHERE customers > 0;
SELECT count(*) AS properties FROM clm.stage_properties((:alice_customers)::oid::regclass);
-- alice erases customer 1: mallory neither sees her log nor erases hers
SET ROLE clm_rt_alice;
SELECT * FROM clm.forget('1') ORDER BY 1;
SET ROLE clm_rt_mallory;
SELECT count(*) AS alices_erasures FROM clm.erasure_log WHERE erased_by <> current_user;
SELECT * FROM clm.forget('2') ORDER BY 1;
SET ROLE clm_rt_alice;
SELECT customer_key FROM clm.scores WHERE source = 'rt_a' ORDER BY 1;
SELECT object, rows_erased, erased_by FROM clm.erasure_log ORDER BY id;
RESET ROLE;

-- Hole (fixed in the policy of clm.stage_history): bob may SELECT alice's
-- customer table, but her row level security shows him tenant x only; the
-- stage history showed him every customer.  A table with row level
-- security now shows its history only to roles that see all its rows.
SET ROLE clm_rt_alice;
ALTER TABLE clm_rt_a.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_x ON clm_rt_a.customers FOR SELECT TO clm_rt_bob USING (tenant = 'x');
GRANT USAGE ON SCHEMA clm_rt_a TO clm_rt_bob;
GRANT SELECT ON clm_rt_a.customers TO clm_rt_bob;
SET ROLE clm_rt_bob;
SELECT id FROM clm_rt_a.customers ORDER BY 1;
SELECT count(*) AS bob_history FROM clm.stage_history WHERE table_oid = 'clm_rt_a.customers'::regclass;
SELECT clm.stage_at('clm_rt_a.customers', 3, now()) AS bob_stage_at_3;
SELECT coalesce(sum(entered), 0) AS bob_kpis_entered
FROM clm.stage_kpis('clm_rt_a.customers', 'day', now() - interval '1 day', now() + interval '1 day');
SET ROLE clm_rt_alice;
SELECT coalesce(sum(entered), 0) AS alice_kpis_entered
FROM clm.stage_kpis('clm_rt_a.customers', 'day', now() - interval '1 day', now() + interval '1 day');
SELECT customer_key, to_stage FROM clm.stage_history WHERE table_oid = 'clm_rt_a.customers'::regclass ORDER BY 1;
RESET ROLE;
SELECT count(*) AS superuser_history FROM clm.stage_history WHERE table_oid = 'clm_rt_a.customers'::regclass;
SET ROLE clm_rt_alice;
ALTER TABLE clm_rt_a.customers DISABLE ROW LEVEL SECURITY;
SET ROLE clm_rt_bob;
SELECT count(*) AS bob_history_without_rls FROM clm.stage_history WHERE table_oid = 'clm_rt_a.customers'::regclass;
RESET ROLE;

-- A superuser refreshes bob's source: bob's view, trigger and policy
-- functions run as bob (recorded by the functions themselves)
CREATE TABLE clm_rt_seen (who name, what text);
GRANT INSERT ON clm_rt_seen TO PUBLIC;
SET ROLE clm_rt_bob;
CREATE FUNCTION clm_rt_b.note(what text) RETURNS boolean LANGUAGE sql AS
	$$ INSERT INTO public.clm_rt_seen VALUES (current_user, what) RETURNING true $$;
CREATE TABLE clm_rt_b.ev (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt_b.ev VALUES (1, '2026-01-01', 1), (2, '2026-01-05', 2);
ALTER TABLE clm_rt_b.ev ENABLE ROW LEVEL SECURITY;
ALTER TABLE clm_rt_b.ev FORCE ROW LEVEL SECURITY;
CREATE POLICY seen ON clm_rt_b.ev FOR SELECT USING (clm_rt_b.note('events policy'));
CREATE VIEW clm_rt_b.ev_view AS SELECT * FROM clm_rt_b.ev WHERE clm_rt_b.note('view');
CREATE TABLE clm_rt_b.cust (id bigint, stage text);
INSERT INTO clm_rt_b.cust VALUES (1, NULL), (2, NULL);
CREATE FUNCTION clm_rt_b.cust_trigger() RETURNS trigger LANGUAGE plpgsql AS
	$$ BEGIN PERFORM clm_rt_b.note('tracked table trigger'); RETURN NEW; END $$;
CREATE TRIGGER seen BEFORE UPDATE ON clm_rt_b.cust FOR EACH ROW EXECUTE FUNCTION clm_rt_b.cust_trigger();
SELECT name FROM clm.register('rt_b', 'clm_rt_b.ev_view', 'customer', 'at', 'amount', incremental => false,
	tracked_table => 'clm_rt_b.cust', tracked_key_column => 'id', tracked_stage_column => 'stage');
RESET ROLE;
SELECT mode, rows, status FROM clm.refresh('rt_b', true, '2026-04-01');
SELECT who, what, count(*) > 0 AS ran FROM clm_rt_seen GROUP BY 1, 2 ORDER BY 1, 2;
SELECT id, stage FROM clm_rt_b.cust ORDER BY 1;
-- a member of bob's role refreshes it: still bob's rights
TRUNCATE clm_rt_seen;
GRANT clm_rt_bob TO clm_rt_alice;
SET ROLE clm_rt_alice;
SELECT mode, rows, status FROM clm.refresh('rt_b', true, '2026-04-01');
RESET ROLE;
REVOKE clm_rt_bob FROM clm_rt_alice;
SELECT who, what, count(*) > 0 AS ran FROM clm_rt_seen GROUP BY 1, 2 ORDER BY 1, 2;

-- DROP ROLE of a source owner and reader: its sources and its place among
-- the readers go at once, in the same transaction (before, they stayed
-- until the next clm call or worker run, and a new role given the same OID
-- in between inherited them); a DROP ROLE that fails removes nothing
CREATE ROLE clm_rt_carol;
GRANT USAGE ON SCHEMA clm_rt_a TO clm_rt_carol;
GRANT SELECT ON clm_rt_a.events TO clm_rt_carol;
SET ROLE clm_rt_carol;
SELECT name FROM clm.register('rt_c', 'clm_rt_a.events', 'customer', 'at', 'amount', incremental => false);
SELECT mode, rows, status FROM clm.refresh('rt_c', true, '2026-04-01');
SET ROLE clm_rt_alice;
SELECT clm.grant_scores('rt_a', 'clm_rt_carol');
SELECT clm.grant_scores('rt_a', 'clm_rt_bob');
RESET ROLE;
SELECT error_of($$DROP ROLE clm_rt_carol$$) AS carol_has_privileges;
SELECT (SELECT count(*) FROM clm.sources WHERE name = 'rt_c') AS carol_sources,
	(SELECT cardinality(readers) FROM clm.sources WHERE name = 'rt_a') AS alice_readers;
DROP OWNED BY clm_rt_carol;
DROP ROLE clm_rt_carol;
SELECT (SELECT count(*) FROM clm.sources WHERE name = 'rt_c') AS carol_sources,
	(SELECT count(*) FROM clm.scores WHERE source = 'rt_c') AS carol_scores,
	(SELECT count(*) FROM clm.refresh_runs WHERE source = 'rt_c') AS carol_runs,
	(SELECT readers FROM clm.sources WHERE name = 'rt_a') AS alice_readers;

-- clean up
SET ROLE clm_rt_bob;
SELECT clm.unregister('rt_b');
SET ROLE clm_rt_mallory;
SELECT clm.unregister('rt_m');
SET ROLE clm_rt_alice;
SELECT clm.unregister('rt_a');
SELECT clm.untrack('clm_rt_a.customers');
RESET ROLE;
DELETE FROM clm.erasure_log WHERE erased_by IN ('clm_rt_alice', 'clm_rt_mallory');
DROP TABLE clm_rt_seen;
DROP VIEW clm_rt_mallory_is_superuser;
DROP SCHEMA clm_rt_a, clm_rt_b, clm_rt_m CASCADE;

-- Hole (fixed in the worker): mallory's view sleeps (and catches the
-- cancel of a statement_timeout); the worker of the database waited for it
-- for ever and alice's source, due after hers, was never scored.  Past
-- clm.worker_statement_timeout the worker now ends (FATAL, which no code
-- catches); the next worker scores alice's source, mallory's is retried
-- with backoff.  The worker serves clm_worker_test only (scripts/lib.sh,
-- test/regress.conf), which sql/worker.sql creates again later.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS clm_worker_test WITH (FORCE);
RESET client_min_messages;
ALTER SYSTEM SET clm.worker_statement_timeout = '1s';
SELECT pg_reload_conf();
CREATE DATABASE clm_worker_test;
\c clm_worker_test
SET timezone = 'UTC';
CREATE EXTENSION clm;
CREATE SCHEMA clm_rt_m AUTHORIZATION clm_rt_mallory;
CREATE SCHEMA clm_rt_a AUTHORIZATION clm_rt_alice;
SET ROLE clm_rt_mallory;
CREATE TABLE clm_rt_m.ev (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt_m.ev VALUES (1, '2026-01-01', 1);
-- (only the worker reads the view)
CREATE FUNCTION clm_rt_m.stall() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		BEGIN
			PERFORM pg_sleep(3600);
		EXCEPTION WHEN query_canceled THEN
			NULL;
		END;
	END LOOP;
END $$;
CREATE VIEW clm_rt_m.ev_view AS SELECT * FROM clm_rt_m.ev WHERE clm_rt_m.stall();
SELECT name FROM clm.register('a_stall', 'clm_rt_m.ev_view', 'customer', 'at', 'amount', incremental => false,
	refresh_interval => '1 hour');
SET ROLE clm_rt_alice;
CREATE TABLE clm_rt_a.ev (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt_a.ev VALUES (1, '2026-01-01', 1), (2, '2026-01-02', 2);
SELECT name FROM clm.register('b_ok', 'clm_rt_a.ev', 'customer', 'at', 'amount', incremental => false,
	refresh_interval => '1 hour');
RESET ROLE;
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	WHILE NOT EXISTS (SELECT 1 FROM clm.refresh_runs WHERE source = 'b_ok' AND status = 'ok') LOOP
		IF clock_timestamp() - t0 > interval '60 seconds' THEN
			RAISE WARNING 'alice''s source was not scored in 60 s';
			EXIT;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT customer_key FROM clm.scores WHERE source = 'b_ok' ORDER BY 1;
-- mallory's: the first run was interrupted (marked so by the second, which
-- ended the same way); the next try waits for the backoff
SELECT status, error FROM clm.refresh_runs WHERE source = 'a_stall' ORDER BY id;
SELECT running, consecutive_errors, next_run > now() + interval '50 minutes' AS backed_off
FROM clm.worker_status() WHERE source = 'a_stall';
-- a reader dropped while connected to another database: the next call here
-- (or worker run) removes it from the readers
CREATE ROLE clm_rt_dan;
SET ROLE clm_rt_alice;
SELECT clm.grant_scores('b_ok', 'clm_rt_dan');
RESET ROLE;
\c contrib_regression
DROP ROLE clm_rt_dan;
\c clm_worker_test
SET ROLE clm_rt_alice;
SELECT clm.grant_scores('b_ok', 'clm_rt_bob');
RESET ROLE;
\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE clm_worker_test WITH (FORCE);
RESET client_min_messages;
ALTER SYSTEM RESET clm.worker_statement_timeout;
SELECT pg_reload_conf();
DROP ROLE clm_rt_alice, clm_rt_bob, clm_rt_mallory;
