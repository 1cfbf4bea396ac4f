-- Stage tracking and the scoring pipeline with Citus.  Supported: sources
-- over events tables distributed by customer, incremental (a co-located
-- change queue filled by row triggers on the shards) or not (each refresh
-- summarises every customer on the workers); sources over other Citus
-- tables with incremental => false; tracked customer tables that are
-- ordinary tables on the coordinator.  Refused with 0A000: clm.track on a
-- reference table, incremental refresh on other Citus tables, a Citus
-- tracked customer table for a source.
\set VERBOSITY sqlstate
SET timezone = 'UTC';
CREATE TABLE sc_lines (line text);
\copy sc_lines FROM 'data/CDNOW_master.txt'
-- the first 3,000 customers of CDNOW (9,000-odd purchases)
CREATE TABLE sc_ev_local AS
SELECT f[1]::bigint AS customer, to_date(f[2], 'YYYYMMDD')::timestamptz AS at, f[4]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM sc_lines) s
WHERE f[1] <> 'customer_id' AND f[1]::int <= 3000;
DROP TABLE sc_lines;
CREATE INDEX ON sc_ev_local (customer);
CREATE TABLE sc_ev_dist (LIKE sc_ev_local);
SELECT create_distributed_table('sc_ev_dist', 'customer');
INSERT INTO sc_ev_dist SELECT * FROM sc_ev_local;
CREATE INDEX ON sc_ev_dist (customer);
SELECT clm.citus_table_type('sc_ev_dist') AS events_dist, clm.citus_table_type('sc_ev_local') AS events_local;

-- stage tracking: a reference table is refused (test/citus/sql/stages.sql
-- tracks a table distributed by customer)
CREATE TABLE sc_cust_dist (id bigint PRIMARY KEY, stage text);
SELECT create_distributed_table('sc_cust_dist', 'id');
CREATE TABLE sc_cust_ref (id bigint PRIMARY KEY, stage text);
SELECT create_reference_table('sc_cust_ref');
SELECT clm.citus_table_type('sc_cust_ref') AS ref_kind;
SELECT clm.track('sc_cust_ref', 'id', 'stage', 'behavioral');
SELECT count(*) AS tracked FROM clm.tracked_table;
-- an ordinary customers table on the coordinator is tracked as usual (with
-- the behavioural stages under policy any, so that every move is recorded)
INSERT INTO clm.stage_model (model, policy) VALUES ('sc_any', 'any');
INSERT INTO clm.stage (model, stage, position)
SELECT 'sc_any', stage, position FROM clm.stage WHERE model = 'behavioral';
CREATE TABLE sc_cust (id bigint PRIMARY KEY, stage text);
INSERT INTO sc_cust SELECT DISTINCT customer, NULL FROM sc_ev_local;
SELECT clm.track('sc_cust', 'id', 'stage', 'sc_any') AS recorded;

-- a distributed tracked customer table is refused; so is incremental
-- refresh on a reference table or on events distributed by another column
SELECT clm.register('sc_bad', 'sc_ev_dist', 'customer', 'at', 'amount', incremental => false,
	tracked_table => 'sc_cust_dist', tracked_key_column => 'id', tracked_stage_column => 'stage');
\set VERBOSITY default
SELECT clm.register('sc_bad', 'sc_ev_dist', 'customer', 'at', 'amount', incremental => false,
	tracked_table => 'sc_cust_dist', tracked_key_column => 'id', tracked_stage_column => 'stage');
\set VERBOSITY sqlstate
CREATE TABLE sc_ev_ref (LIKE sc_ev_local);
SELECT create_reference_table('sc_ev_ref');
SELECT clm.register('sc_bad', 'sc_ev_ref', 'customer', 'at', 'amount');
CREATE TABLE sc_ev_by_time (LIKE sc_ev_local);
SELECT create_distributed_table('sc_ev_by_time', 'at');
\set VERBOSITY default
SELECT clm.register('sc_bad', 'sc_ev_by_time', 'customer', 'at', 'amount');
\set VERBOSITY sqlstate
SELECT (clm.register('sc_bad', 'sc_ev_by_time', 'customer', 'at', 'amount', incremental => false)).name AS registered_full;
SELECT clm.unregister('sc_bad');
SELECT count(*) AS sources FROM clm.sources;

-- the same events, distributed and local, both incremental: the distributed
-- source gets a change queue co-located with its events
SELECT name, incremental FROM clm.register('sc_dist', 'sc_ev_dist', 'customer', 'at', 'amount',
	tracked_table => 'sc_cust', tracked_key_column => 'id', tracked_stage_column => 'stage');
SELECT name, incremental FROM clm.register('sc_local', 'sc_ev_local', 'customer', 'at', 'amount');
SELECT clm.citus_table_type('clm_sc_dist_changes') AS queue_kind;
SELECT table_name, colocation_id = (SELECT colocation_id FROM citus_tables WHERE table_name = 'sc_ev_dist'::regclass) AS colocated
FROM citus_tables WHERE table_name::text LIKE 'clm_sc_dist%';
SELECT tgname FROM pg_trigger WHERE tgrelid = 'sc_ev_dist'::regclass AND tgname LIKE 'clm%' ORDER BY 1;
SELECT source, mode, status, rows FROM clm.refresh('sc_dist', true, '1998-07-01');
SELECT source, mode, status, rows FROM clm.refresh('sc_local', true, '1998-07-01');
CREATE FUNCTION score_diff() RETURNS TABLE (customers bigint, differ bigint)
LANGUAGE sql AS $$
SELECT count(*), count(*) FILTER (WHERE row(d.frequency, d.recency, d.t, d.monetary, d.total, d.first_at, d.last_at,
	d.r_score, d.f_score, d.m_score, d.segment, d.p_alive, d.expected_purchases, d.clv, d.churn_risk, d.stage)
	IS DISTINCT FROM row(l.frequency, l.recency, l.t, l.monetary, l.total, l.first_at, l.last_at,
	l.r_score, l.f_score, l.m_score, l.segment, l.p_alive, l.expected_purchases, l.clv, l.churn_risk, l.stage))
FROM (SELECT * FROM clm.scores WHERE source = 'sc_dist') d
FULL JOIN (SELECT * FROM clm.scores WHERE source = 'sc_local') l USING (customer_key) $$;
SELECT * FROM score_diff();
-- the fitted models are the same
SELECT (SELECT model_params FROM clm.score_versions WHERE source = 'sc_dist')
     = (SELECT model_params FROM clm.score_versions WHERE source = 'sc_local') AS same_fit;
SELECT segment, count(*) FROM clm.scores WHERE source = 'sc_dist' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 4;
-- the stages of the distributed source reached the tracked table and its history
SELECT s.stage, count(*) AS scores, (SELECT count(*) FROM sc_cust c WHERE c.stage = s.stage) AS customers,
       (SELECT count(*) FROM clm.stage_history h WHERE h.table_oid = 'sc_cust'::regclass AND h.to_stage = s.stage) AS history
FROM clm.scores s WHERE s.source = 'sc_dist' GROUP BY 1 ORDER BY 1;

-- new purchases, a changed amount and a deleted customer in both copies
-- (one rolled back): each source rescores only the queued customers
INSERT INTO sc_ev_dist VALUES (7, '1998-06-20', 40), (2999, '1998-06-25', 12.5), (3001, '1998-06-28', 99);
INSERT INTO sc_ev_local VALUES (7, '1998-06-20', 40), (2999, '1998-06-25', 12.5), (3001, '1998-06-28', 99);
UPDATE sc_ev_dist SET amount = amount * 2 WHERE customer = 12;
UPDATE sc_ev_local SET amount = amount * 2 WHERE customer = 12;
DELETE FROM sc_ev_dist WHERE customer = 20;
DELETE FROM sc_ev_local WHERE customer = 20;
BEGIN;
INSERT INTO sc_ev_dist VALUES (30, '1998-06-29', 1000);
ROLLBACK;
SELECT count(DISTINCT customer_key) AS queued_on_workers FROM clm_sc_dist_changes;
SELECT count(DISTINCT customer_key) AS queued FROM clm.refresh_queue WHERE source = 'sc_local';
-- the incremental run scores as of its own time: compare the columns that do
-- not depend on it (recency, t and the model scores do)
SELECT mode, rows FROM clm.refresh('sc_local');
SELECT mode, rows FROM clm.refresh('sc_dist');
SELECT count(*) AS left_on_workers FROM clm_sc_dist_changes;
SELECT count(*) AS customers,
	count(*) FILTER (WHERE row(d.frequency, d.monetary, d.total, d.first_at, d.last_at)
		IS DISTINCT FROM row(l.frequency, l.monetary, l.total, l.first_at, l.last_at)) AS differ
FROM (SELECT * FROM clm.scores WHERE source = 'sc_dist') d
FULL JOIN (SELECT * FROM clm.scores WHERE source = 'sc_local') l USING (customer_key);
SELECT customer_key, frequency, total, last_at FROM clm.scores WHERE source = 'sc_dist' AND customer_key IN ('7', '12', '20', '3001') ORDER BY customer_key::int;
-- full refreshes as of the same time agree again on every column but the
-- stage, which also depends on each source's previous stages and runs
SELECT mode, rows FROM clm.refresh('sc_dist', true, '1998-07-01');
SELECT mode, rows FROM clm.refresh('sc_local', true, '1998-07-01');
SELECT count(*) AS customers, count(*) FILTER (WHERE row(d.frequency, d.recency, d.t, d.monetary, d.total, d.first_at, d.last_at,
	d.r_score, d.f_score, d.m_score, d.segment, d.p_alive, d.expected_purchases, d.clv, d.churn_risk)
	IS DISTINCT FROM row(l.frequency, l.recency, l.t, l.monetary, l.total, l.first_at, l.last_at,
	l.r_score, l.f_score, l.m_score, l.segment, l.p_alive, l.expected_purchases, l.clv, l.churn_risk)) AS differ
FROM (SELECT * FROM clm.scores WHERE source = 'sc_dist') d
FULL JOIN (SELECT * FROM clm.scores WHERE source = 'sc_local') l USING (customer_key);
-- unregistering drops the queue and the triggers
SELECT clm.unregister('sc_dist');
SELECT to_regclass('clm_sc_dist_changes') AS queue, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'sc_ev_dist'::regclass) AS triggers;

-- a role that is not a superuser (a login role: Citus connects to the
-- workers as the current role) registers, fills and refreshes an
-- incremental source over its own distributed events table
\set su :USER
CREATE ROLE clm_cit_alice LOGIN;
CREATE ROLE clm_cit_bob LOGIN;
GRANT CREATE ON SCHEMA public TO clm_cit_alice;
\c - clm_cit_alice
SET timezone = 'UTC';
CREATE TABLE sc_ev_alice (customer bigint, at timestamptz, amount float8);
SELECT create_distributed_table('sc_ev_alice', 'customer');
CREATE INDEX ON sc_ev_alice (customer);
INSERT INTO sc_ev_alice SELECT c, timestamptz '1998-01-01' + c * interval '1 day', c FROM generate_series(1, 100) c;
SELECT name, owner FROM clm.register('sc_alice', 'sc_ev_alice', 'customer', 'at', 'amount');
SELECT has_table_privilege('clm_sc_alice_changes', 'INSERT') AS may_queue, clm.citus_table_type('clm_sc_alice_changes') AS queue_kind;
SELECT mode, rows FROM clm.refresh('sc_alice', true, '1998-07-01');
INSERT INTO sc_ev_alice VALUES (5, '1998-06-30', 10), (101, '1998-06-30', 20);
SELECT source, pending_customers FROM clm.worker_status();
SELECT mode, rows FROM clm.refresh('sc_alice');
SELECT customer_key, frequency, total FROM clm.scores WHERE source = 'sc_alice' AND customer_key IN ('5', '101') ORDER BY 1;
-- TRUNCATE queues everyone (Citus fires the coordinator's statement
-- trigger): the next incremental refresh drops every customer's scores
TRUNCATE sc_ev_alice;
SELECT count(*) AS queued_everyone FROM clm.refresh_queue WHERE source = 'sc_alice' AND customer_key IS NULL;
SELECT mode FROM clm.refresh('sc_alice');
SELECT count(*) AS scored_after_truncate FROM clm.scores WHERE source = 'sc_alice';
INSERT INTO sc_ev_alice VALUES (7, '1998-06-30', 10);
SELECT mode, rows FROM clm.refresh('sc_alice');
SELECT customer_key, frequency, total FROM clm.scores WHERE source = 'sc_alice';
-- nobody else may read or empty the queue, nor refresh the source
\c - clm_cit_bob
SELECT count(*) FROM clm_sc_alice_changes;
DELETE FROM clm_sc_alice_changes;
SELECT mode FROM clm.refresh('sc_alice');
\c - clm_cit_alice
SELECT count(*) AS queued FROM clm.refresh_queue WHERE source = 'sc_alice';
SELECT clm.unregister('sc_alice');
DROP TABLE sc_ev_alice;
\c - :su
REVOKE CREATE ON SCHEMA public FROM clm_cit_alice;
DROP ROLE clm_cit_alice;
DROP ROLE clm_cit_bob;
