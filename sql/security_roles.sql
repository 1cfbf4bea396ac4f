-- Issue #13: three non-superuser roles attack each other (alice and bob are
-- tenants, mallory is any other role), and a superuser runs their sources'
-- functions.  Each block failed on 1.0.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE ROLE clm_sec_alice;
CREATE ROLE clm_sec_bob;
CREATE ROLE clm_sec_mallory LOGIN;
CREATE SCHEMA clm_sec_a AUTHORIZATION clm_sec_alice;
CREATE SCHEMA clm_sec_b AUTHORIZATION clm_sec_bob;
CREATE SCHEMA clm_sec_m AUTHORIZATION clm_sec_mallory;

-- alice's events and customer table
SET ROLE clm_sec_alice;
CREATE TABLE clm_sec_a.events (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_sec_a.events VALUES (1, '2026-01-01', 10), (1, '2026-02-01', 10), (2, '2026-01-15', 30),
	(3, '2026-03-01', 5);
CREATE TABLE clm_sec_a.customers (id bigint PRIMARY KEY, stage text);
INSERT INTO clm_sec_a.customers VALUES (1, NULL), (2, NULL), (3, NULL);
SELECT clm.track('clm_sec_a.customers', 'id', 'stage', 'behavioral');
UPDATE clm_sec_a.customers SET stage = 'new';
SELECT name, owner FROM clm.register('sec_a', 'clm_sec_a.events', 'customer', 'at', 'amount',
	scores_view => 'clm_sec_a.scores');
SELECT mode, rows, status FROM clm.refresh('sec_a', true, '2026-04-01');
RESET ROLE;
SELECT 'clm_sec_a.customers'::regclass::oid AS alice_customers \gset
SET ROLE clm_sec_bob;
CREATE TABLE clm_sec_b.customers (id bigint PRIMARY KEY, stage text);

-- Hole 1: mallory registers a source on her own temporary table, replaces
-- its insert trigger by one without REFERENCING and puts a view named like
-- the transition table in her temporary schema.  1.0's SECURITY DEFINER
-- trigger read that view as the extension owner (making mallory superuser);
-- the C trigger reads the transition tables from the trigger data only.
SET ROLE clm_sec_mallory;
CREATE FUNCTION clm_sec_m.escalate() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	IF current_user <> 'clm_sec_mallory' THEN
		EXECUTE 'ALTER ROLE clm_sec_mallory SUPERUSER';
	END IF;
	RETURN 1;
END $$;
CREATE TEMP TABLE m_events (customer bigint, at timestamptz, amount float8);
SELECT name FROM clm.register('sec_m', 'pg_temp.m_events', 'customer', 'at', 'amount');
DROP TRIGGER clm_sec_m_insert ON m_events;
CREATE TRIGGER clm_sec_m_insert AFTER INSERT ON m_events
	FOR EACH STATEMENT EXECUTE FUNCTION clm.queue_changes('sec_m', 'customer');
CREATE TEMP VIEW clm_new_rows AS SELECT clm_sec_m.escalate() AS customer;
SELECT error_of($$INSERT INTO m_events VALUES (1, now(), 1)$$) AS borrowed_trigger;
-- the same trigger on a table that is not the source's events table does nothing
CREATE TEMP TABLE m_other (customer bigint);
CREATE TRIGGER clm_sec_m_insert AFTER INSERT ON m_other REFERENCING NEW TABLE AS clm_new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION clm.queue_changes('sec_m', 'customer');
INSERT INTO m_other VALUES (1);
RESET ROLE;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'clm_sec_mallory';
SELECT count(*) AS queued_for_mallory FROM clm.refresh_queue WHERE source = 'sec_m';
-- the real trigger queues distinct keys (an UPDATE queues old and new keys)
SET ROLE clm_sec_alice;
INSERT INTO clm_sec_a.events VALUES (4, '2026-03-02', 1), (4, '2026-03-03', 2), (NULL, '2026-03-03', 2);
UPDATE clm_sec_a.events SET customer = 5 WHERE customer = 4 AND amount = 2;
SELECT customer_key, count(*) FROM clm.refresh_queue WHERE source = 'sec_a' GROUP BY 1 ORDER BY 1;

-- Hole 2: no role but the extension owner writes clm's tables; settings
-- change through clm.alter_source, which validates them
SET ROLE clm_sec_alice;
SELECT error_of($$UPDATE clm.sources SET customer_column = 'amount' WHERE name = 'sec_a'$$) AS update_source;
SELECT error_of($$UPDATE clm.sources SET scores_view = 'pg_class' WHERE name = 'sec_a'$$) AS repoint_view;
SELECT error_of($$INSERT INTO clm.scores (source, customer_key, frequency, recency, t, monetary, total, first_at, last_at, r_score, f_score, m_score, stage, stage_since, version, scored_at, run_id) VALUES ('sec_a', '9', 0, 0, 0, 0, 0, now(), now(), 1, 1, 1, 'new', now(), 1, now(), 1)$$) AS insert_scores;
SELECT error_of($$DELETE FROM clm.refresh_queue$$) AS delete_queue;
SELECT error_of($$INSERT INTO clm.refresh_runs (id, source, mode) VALUES (1000000, 'sec_a', 'full')$$) AS inject_run_id;
SELECT error_of($$SELECT nextval('clm.refresh_runs_id_seq')$$) AS take_run_ids;
SELECT error_of($$SELECT clm.refresh_start('sec_a', true, false)$$) AS internal_step;
SELECT error_of($$SELECT * FROM clm.run_as('clm_sec_alice', 'SELECT 1') AS x(n int)$$) AS internal_run_as;
SELECT error_of($$SELECT clm.alter_source('sec_a', '{"customer_column": "amount"}')$$) AS alter_column;
SELECT error_of($$SELECT clm.alter_source('sec_a', '{"period": "fortnight"}')$$) AS alter_period;
SELECT error_of($$SELECT clm.alter_source('sec_a', '{"horizon_months": 0}')$$) AS alter_horizon;
SELECT error_of($$SELECT clm.alter_source('sec_a', '{"tracked_table": "clm_sec_b.customers", "tracked_key_column": "id", "tracked_stage_column": "stage"}')$$) AS alter_tracked_bob;
SELECT horizon_months, tracked_table, tracked_stage_column, stage_model
FROM clm.alter_source('sec_a', '{"horizon_months": 6, "tracked_table": "clm_sec_a.customers", "tracked_key_column": "id", "tracked_stage_column": "stage"}');
SET ROLE clm_sec_bob;
SELECT error_of($$SELECT clm.alter_source('sec_a', '{"horizon_months": 3}')$$) AS bob_alters_alice;

-- Hole 2: a refresh reads and writes with the source owner's rights, whoever
-- calls it.  Bob's events table shows alice customers 1 and 2 only (row
-- level security); a superuser's refresh of her source scores just those,
-- and her tracked table is written as alice.
SET ROLE clm_sec_bob;
CREATE TABLE clm_sec_b.events (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_sec_b.events VALUES (1, '2026-01-01', 1), (2, '2026-01-02', 2), (3, '2026-01-03', 3);
ALTER TABLE clm_sec_b.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY alice_part ON clm_sec_b.events FOR SELECT TO clm_sec_alice USING (customer <= 2);
GRANT USAGE ON SCHEMA clm_sec_b TO clm_sec_alice;
GRANT SELECT ON clm_sec_b.events TO clm_sec_alice;
SET ROLE clm_sec_alice;
SELECT name FROM clm.register('sec_ab', 'clm_sec_b.events', 'customer', 'at', 'amount', incremental => false,
	tracked_table => 'clm_sec_a.customers', tracked_key_column => 'id', tracked_stage_column => 'stage');
RESET ROLE;
SELECT mode, rows, status FROM clm.refresh('sec_ab', true, '2026-04-01');
SELECT customer_key FROM clm.scores WHERE source = 'sec_ab' ORDER BY 1;
SELECT customer_key, from_stage, to_stage, changed_by FROM clm.stage_history
WHERE table_oid = 'clm_sec_a.customers'::regclass AND source = 'trigger' AND to_stage <> 'new' ORDER BY 1;
-- privileges are checked again at every refresh: bob revokes, the refresh fails
SET ROLE clm_sec_bob;
REVOKE SELECT ON clm_sec_b.events FROM clm_sec_alice;
RESET ROLE;
SELECT error_of($$SELECT clm.refresh('sec_ab')$$) AS after_revoke;
SET ROLE clm_sec_alice;
SELECT clm.unregister('sec_ab');

-- Hole 3: each role sees the stage history of the tables it may SELECT only,
-- through the table, the views and every stage function
SET ROLE clm_sec_bob;
INSERT INTO clm_sec_b.customers VALUES (7, NULL);
SELECT clm.track('clm_sec_b.customers', 'id', 'stage', 'behavioral');
UPDATE clm_sec_b.customers SET stage = 'new';
SELECT table_oid, customer_key, to_stage FROM clm.stage_history ORDER BY 1, 2;
SELECT model, stage, completed_stays, open_stays FROM clm.time_in_stage ORDER BY 1, 2;
SELECT count(*) AS spans FROM clm.stage_spans;
SELECT clm.stage_at((:alice_customers)::oid::regclass, 1, now()) AS alice_customer_1;
SELECT count(*) AS alice_matrix FROM clm.transition_matrix((:alice_customers)::oid::regclass, '-infinity', 'infinity');
SELECT count(*) AS alice_properties FROM clm.stage_properties((:alice_customers)::oid::regclass);
SELECT stage, customers FROM clm.stage_funnel((:alice_customers)::oid::regclass, '2000-01-01', '3000-01-01', steps => '{new}');
SET ROLE clm_sec_alice;
GRANT USAGE ON SCHEMA clm_sec_a TO clm_sec_bob;
GRANT SELECT ON clm_sec_a.customers TO clm_sec_bob;
SET ROLE clm_sec_bob;
SELECT clm.stage_at((:alice_customers)::oid::regclass, 1, now()) AS granted_alice_customer_1;
SELECT stage, customers FROM clm.stage_funnel((:alice_customers)::oid::regclass, '2000-01-01', '3000-01-01', steps => '{new}');

-- Hole 4: nobody can stall another role's source: no LOCK of clm's tables
-- beyond ACCESS SHARE, and the lock a refresh takes is not an advisory lock
SET ROLE clm_sec_mallory;
SELECT error_of($$LOCK TABLE clm.refresh_queue IN ACCESS EXCLUSIVE MODE$$) AS lock_queue;
SELECT error_of($$LOCK TABLE clm.sources IN EXCLUSIVE MODE$$) AS lock_sources;
SELECT error_of($$LOCK TABLE clm.stage_history IN ROW EXCLUSIVE MODE$$) AS lock_history;
SELECT error_of($$SELECT clm.source_lock('sec_a', true, false)$$) AS take_source_lock;
-- mallory holds, in another session, the advisory lock 1.0's refresh waited for
RESET ROLE;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT dblink_connect('clm_sec_m', format('host=%s port=%s dbname=%s user=clm_sec_mallory',
	current_setting('unix_socket_directories'), current_setting('port'), current_database()));
SELECT * FROM dblink('clm_sec_m', $$SELECT pg_advisory_lock(7105901, hashtext('sec_a') & 2147483647)::text$$) AS x(locked text);
SET ROLE clm_sec_alice;
SET lock_timeout = '2s';
SELECT mode, status FROM clm.refresh('sec_a');
RESET lock_timeout;
RESET ROLE;
SELECT dblink_disconnect('clm_sec_m');

-- Hole 5: dropping a tracked or events table removes clm's rows about it
-- (its OID could be reused by a new table); dropping a source's owner role
-- removes the source at once (in other databases: at the next call or worker run)
SET ROLE clm_sec_bob;
CREATE TABLE clm_sec_b.gone (id bigint, stage text);
SELECT clm.track('clm_sec_b.gone', 'id', 'stage', 'behavioral');
INSERT INTO clm_sec_b.gone VALUES (1, 'new'), (2, 'new');
CREATE TABLE clm_sec_b.gone_events (customer bigint, at timestamptz, amount float8);
SELECT name FROM clm.register('sec_gone', 'clm_sec_b.gone_events', 'customer', 'at', 'amount');
CREATE TEMP TABLE gone_oids AS SELECT 'clm_sec_b.gone'::regclass::oid AS t, 'clm_sec_b.gone_events'::regclass::oid AS e;
DROP TABLE clm_sec_b.gone, clm_sec_b.gone_events;
RESET ROLE;
SELECT (SELECT count(*) FROM clm.stage_history h, gone_oids g WHERE h.table_oid::oid = g.t) AS history_left,
       (SELECT count(*) FROM clm.tracked_table x, gone_oids g WHERE x.table_oid::oid = g.t) AS tracked_left,
       (SELECT count(*) FROM clm.sources WHERE name = 'sec_gone') AS sources_left;
CREATE ROLE clm_sec_dave;
GRANT USAGE ON SCHEMA clm_sec_a TO clm_sec_dave;
GRANT SELECT ON clm_sec_a.events TO clm_sec_dave;
SET ROLE clm_sec_dave;
SELECT name FROM clm.register('sec_d', 'clm_sec_a.events', 'customer', 'at', 'amount', incremental => false);
RESET ROLE;
DROP OWNED BY clm_sec_dave;
DROP ROLE clm_sec_dave;
SELECT count(*) AS dave_source FROM clm.sources WHERE name = 'sec_d';
SET ROLE clm_sec_bob;
SELECT error_of($$SELECT clm.refresh('sec_d')$$) AS after_drop_role;
SET ROLE clm_sec_alice;
SELECT mode, status FROM clm.refresh('sec_a');
RESET ROLE;
SELECT count(*) AS dave_source FROM clm.sources WHERE name = 'sec_d';

-- Hole 6: clm.unregister drops the scores view clm created, and nothing
-- else: a view of the same OID that is not clm's (simulated here by the
-- superuser pointing the source at bob's view) stays
SET ROLE clm_sec_bob;
CREATE VIEW clm_sec_b.bobs_view AS SELECT 1 AS one;
SELECT name FROM clm.register('sec_b', 'clm_sec_b.events', 'customer', 'at', 'amount', scores_view => 'clm_sec_b.scores');
RESET ROLE;
UPDATE clm.sources SET scores_view = 'clm_sec_b.bobs_view' WHERE name = 'sec_b';
SET ROLE clm_sec_bob;
SELECT clm.unregister('sec_b');
SELECT to_regclass('clm_sec_b.bobs_view') IS NOT NULL AS bobs_view_kept, to_regclass('clm_sec_b.scores') IS NOT NULL AS scores_view_left;
SET ROLE clm_sec_alice;
SELECT to_regclass('clm_sec_a.scores') IS NOT NULL AS alice_view_before;
-- a superuser unregisters alice's source: the view clm created goes
RESET ROLE;
SELECT clm.unregister('sec_a');
SELECT to_regclass('clm_sec_a.scores') IS NOT NULL AS alice_view_after;

RESET ROLE;
SET ROLE clm_sec_mallory;
SELECT clm.unregister('sec_m');
RESET ROLE;
DROP TABLE pg_temp.m_events, pg_temp.m_other, gone_oids;
SELECT clm.untrack('clm_sec_a.customers');
SELECT clm.untrack('clm_sec_b.customers');
DROP SCHEMA clm_sec_a, clm_sec_b, clm_sec_m CASCADE;
DROP ROLE clm_sec_alice, clm_sec_bob, clm_sec_mallory;
