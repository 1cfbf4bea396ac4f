-- Stage tracking of a customers table distributed by customer
-- (src/stages_citus.c) against the same tracking of an ordinary table on
-- the coordinator.  Both are driven through 18 months of CDNOW purchases
-- (23,570 customers) with the same statements, each month's pair in one
-- transaction, so that each change is recorded at the same time for both:
-- the histories and every stage function must then be equal.  Then the
-- transaction cases (rollback, savepoints, refused moves), COPY, writes
-- through a worker node, untrack and DROP, the Citus tables clm.track
-- refuses, and non-superuser roles attacking the change table.
\set VERBOSITY sqlstate
SET timezone = 'UTC';
CREATE TABLE st_lines (line text);
\copy st_lines FROM 'data/CDNOW_master.txt'
CREATE TABLE st_buys AS
SELECT DISTINCT f[1]::bigint AS id, date_trunc('month', to_date(f[2], 'YYYYMMDD'))::date AS month
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM st_lines) s
WHERE f[1] <> 'customer_id';
DROP TABLE st_lines;
CREATE TABLE st_first AS SELECT id, min(month) AS month FROM st_buys GROUP BY id;
SELECT count(*) AS customer_months, count(DISTINCT id) AS customers, min(month), max(month) FROM st_buys;

-- two copies of the behavioural model (graph policy), one per table, so that
-- clm.time_in_stage (per model) can be compared too
INSERT INTO clm.stage_model (model, policy) VALUES ('st_local', 'graph'), ('st_dist', 'graph');
INSERT INTO clm.stage (model, stage, position, terminal)
SELECT m, stage, position, terminal FROM clm.stage, (VALUES ('st_local'), ('st_dist')) v(m)
WHERE model = 'behavioral';
INSERT INTO clm.stage_transition (model, from_stage, to_stage)
SELECT m, from_stage, to_stage FROM clm.stage_transition, (VALUES ('st_local'), ('st_dist')) v(m)
WHERE model = 'behavioral';
CREATE TABLE st_local (id bigint PRIMARY KEY, stage text, last_buy date);
CREATE TABLE st_dist (id bigint PRIMARY KEY, stage text, last_buy date);
SELECT create_distributed_table('st_dist', 'id');
SELECT clm.track('st_local', 'id', 'stage', 'st_local') AS recorded_local,
       clm.track('st_dist', 'id', 'stage', 'st_dist') AS recorded_dist;
-- the distributed table's triggers (clm's two and Citus's truncate
-- trigger) fire on its shards and fill its change table, distributed and
-- co-located with it, owned by the table's owner
SELECT format('clm_stage_changes_%s', 'st_dist'::regclass::oid) AS changes \gset
SELECT clm.citus_table_type(:'changes') AS change_table,
       (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = :'changes'::regclass)
     = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'st_dist'::regclass) AS colocated,
       (SELECT pg_get_userbyid(relowner) = current_user FROM pg_class WHERE oid = :'changes'::regclass) AS owned,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'st_dist'::regclass) AS triggers;

-- a month: new customers enter as new; buyers become active (reactivated
-- after dormant or churned); 3, 6 and 9 months without buying make at_risk,
-- dormant, churned (the edges of the model)
CREATE FUNCTION st_month(tbl regclass, m date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('INSERT INTO %s (id, stage, last_buy) SELECT id, ''new'', month FROM st_first WHERE month = $1', tbl) USING m;
	EXECUTE format($q$UPDATE %s SET stage = CASE WHEN stage IN ('dormant', 'churned') THEN 'reactivated' ELSE 'active' END,
		last_buy = $1 WHERE id IN (SELECT id FROM st_buys WHERE month = $1) AND last_buy < $1$q$, tbl) USING m;
	EXECUTE format($q$UPDATE %s SET stage = CASE
			WHEN stage = 'dormant' AND last_buy <= $1 - interval '9 months' THEN 'churned'
			WHEN stage IN ('new', 'active', 'at_risk', 'reactivated') AND last_buy <= $1 - interval '6 months' THEN 'dormant'
			WHEN stage IN ('new', 'active', 'reactivated') AND last_buy <= $1 - interval '3 months' THEN 'at_risk'
			ELSE stage END
		WHERE last_buy < $1$q$, tbl) USING m;
END $$;
-- 1997-01 to 1998-05: one transaction, each month recorded at its first day
-- (clm.stage_changed_at, read on the coordinator for the distributed table)
DO $$
DECLARE m date;
BEGIN
	FOR m IN SELECT generate_series(date '1997-01-01', date '1998-05-01', interval '1 month') LOOP
		PERFORM set_config('clm.stage_changed_at', m::timestamptz::text, true);
		PERFORM st_month('st_local', m);
		PERFORM st_month('st_dist', m);
	END LOOP;
END $$;
-- 1998-06: plain statements in a transaction block
BEGIN;
SET LOCAL clm.stage_changed_at = '1998-06-01 00:00:00+00';
INSERT INTO st_local (id, stage, last_buy) SELECT id, 'new', month FROM st_first WHERE month = '1998-06-01';
INSERT INTO st_dist (id, stage, last_buy) SELECT id, 'new', month FROM st_first WHERE month = '1998-06-01';
UPDATE st_local SET stage = CASE WHEN stage IN ('dormant', 'churned') THEN 'reactivated' ELSE 'active' END,
	last_buy = '1998-06-01' WHERE id IN (SELECT id FROM st_buys WHERE month = '1998-06-01') AND last_buy < '1998-06-01';
UPDATE st_dist SET stage = CASE WHEN stage IN ('dormant', 'churned') THEN 'reactivated' ELSE 'active' END,
	last_buy = '1998-06-01' WHERE id IN (SELECT id FROM st_buys WHERE month = '1998-06-01') AND last_buy < '1998-06-01';
COMMIT;

-- every change is recorded once, in clm.stage_history on the coordinator,
-- and the change table is empty
SELECT count(*) AS pending FROM :changes;
SELECT (SELECT count(*) FROM clm.stage_history WHERE table_oid = 'st_local'::regclass) AS local_rows,
       (SELECT count(*) FROM clm.stage_history WHERE table_oid = 'st_dist'::regclass) AS dist_rows;
-- the same history: customer, move, time, role and source, in the same order per customer
CREATE VIEW st_hist AS
SELECT table_oid, customer_key, from_stage, to_stage, changed_at, changed_by, source,
       row_number() OVER (PARTITION BY table_oid, customer_key ORDER BY changed_at, id) AS n
FROM clm.stage_history WHERE table_oid IN ('st_local'::regclass, 'st_dist'::regclass);
SELECT (SELECT count(*) FROM (SELECT customer_key, from_stage, to_stage, changed_at, changed_by, source, n FROM st_hist WHERE table_oid = 'st_local'::regclass
                              EXCEPT ALL
                              SELECT customer_key, from_stage, to_stage, changed_at, changed_by, source, n FROM st_hist WHERE table_oid = 'st_dist'::regclass) x) AS only_local,
       (SELECT count(*) FROM (SELECT customer_key, from_stage, to_stage, changed_at, changed_by, source, n FROM st_hist WHERE table_oid = 'st_dist'::regclass
                              EXCEPT ALL
                              SELECT customer_key, from_stage, to_stage, changed_at, changed_by, source, n FROM st_hist WHERE table_oid = 'st_local'::regclass) x) AS only_dist;
DROP VIEW st_hist;
-- the current stages of the tables, as the history has them
SELECT stage, count(*) FROM st_dist GROUP BY stage ORDER BY stage;
SELECT count(*) AS differ FROM st_local l JOIN st_dist d USING (id) WHERE l.stage IS DISTINCT FROM d.stage;
SELECT count(*) AS differ FROM st_local l WHERE l.stage IS DISTINCT FROM clm.stage_at('st_dist', l.id, 'infinity');
-- the history is on the coordinator: called in a query that Citus runs on
-- the workers, a stage function fails (0A000) instead of reading a
-- worker's empty history; on keys read first it runs on the coordinator
SELECT clm.stage_at('st_dist', id, 'infinity') FROM st_dist LIMIT 1;
SELECT * FROM (SELECT (clm.stage_properties('st_dist', '1998-07-01')).stage FROM st_dist LIMIT 1) x;
WITH k AS MATERIALIZED (SELECT id, stage FROM st_dist)
SELECT count(*) AS differ FROM k WHERE k.stage IS DISTINCT FROM clm.stage_at('st_dist', k.id, 'infinity');
-- the stage functions read the history on the coordinator
SELECT * FROM clm.transition_matrix('st_dist', '1997-01-01', '1998-07-01') ORDER BY from_stage NULLS FIRST, to_stage;
SELECT count(*) AS differ FROM (
	(SELECT * FROM clm.transition_matrix('st_dist', '1997-01-01', '1998-07-01')
	 EXCEPT SELECT * FROM clm.transition_matrix('st_local', '1997-01-01', '1998-07-01'))
	UNION ALL
	(SELECT * FROM clm.transition_matrix('st_local', '1997-01-01', '1998-07-01')
	 EXCEPT SELECT * FROM clm.transition_matrix('st_dist', '1997-01-01', '1998-07-01'))) x;
SELECT * FROM clm.stage_funnel('st_dist', '1997-01-01', '1998-07-01', true, ARRAY['new', 'active', 'at_risk', 'dormant', 'churned', 'reactivated']);
SELECT count(*) AS differ FROM (
	SELECT * FROM clm.stage_funnel('st_dist', '1997-01-01', '1998-07-01', true, ARRAY['new', 'active', 'at_risk', 'dormant', 'churned', 'reactivated'])
	EXCEPT SELECT * FROM clm.stage_funnel('st_local', '1997-01-01', '1998-07-01', true, ARRAY['new', 'active', 'at_risk', 'dormant', 'churned', 'reactivated'])) x;
SELECT count(*) AS rows, count(*) FILTER (WHERE x IS NOT NULL) AS differ FROM (
	SELECT d.customer_key, d.stage, (d.*) IS DISTINCT FROM (l.*) AS x
	FROM clm.stage_properties('st_dist', '1998-07-01') d
	FULL JOIN clm.stage_properties('st_local', '1998-07-01') l USING (customer_key, stage)
	WHERE (d.*) IS DISTINCT FROM (l.*)) s;
SELECT stage, completed_stays, open_stays, mean_time, median_time FROM clm.time_in_stage WHERE model = 'st_dist' ORDER BY position;
SELECT count(*) AS differ FROM (
	SELECT stage, position, terminal, completed_stays, open_stays, mean_time, median_time FROM clm.time_in_stage WHERE model = 'st_dist'
	EXCEPT SELECT stage, position, terminal, completed_stays, open_stays, mean_time, median_time FROM clm.time_in_stage WHERE model = 'st_local') x;
SELECT count(*) AS differ FROM (
	SELECT * FROM clm.stage_kpis('st_dist', 'quarter', '1997-01-01', '1998-07-01')
	EXCEPT SELECT * FROM clm.stage_kpis('st_local', 'quarter', '1997-01-01', '1998-07-01')) x;

-- in a transaction: several changes of one customer keep their order and
-- the transaction's time and xid; a rolled-back transaction or savepoint
-- records nothing
SELECT id AS c1 FROM st_dist WHERE stage = 'churned' ORDER BY id LIMIT 1 \gset
BEGIN;
UPDATE st_dist SET stage = 'reactivated' WHERE id = :c1;
UPDATE st_dist SET stage = 'active' WHERE id = :c1;
SAVEPOINT s;
UPDATE st_dist SET stage = 'at_risk' WHERE id = :c1;
ROLLBACK TO SAVEPOINT s;
UPDATE st_dist SET stage = 'dormant' WHERE id = :c1;
SELECT from_stage, to_stage, changed_at = now() AS at_now, xid = pg_current_xact_id() AS this_xact
FROM clm.stage_history WHERE table_oid = 'st_dist'::regclass AND customer_key = :'c1' AND changed_at > '1998-06-01' ORDER BY id;
COMMIT;
BEGIN;
UPDATE st_dist SET stage = 'churned' WHERE id = :c1;
ROLLBACK;
SELECT stage FROM st_dist WHERE id = :c1;
SELECT count(*) AS after_rollback FROM clm.stage_history WHERE table_oid = 'st_dist'::regclass AND to_stage = 'churned' AND changed_at > '1998-06-01';
-- a move the model forbids fails the statement (23514), outside or inside
-- a transaction block, and leaves the row and the change table as they were
UPDATE st_dist SET stage = 'new' WHERE id = :c1;
UPDATE st_dist SET stage = 'lost' WHERE id = :c1;
BEGIN;
UPDATE st_dist SET stage = 'new' WHERE id = :c1;
ROLLBACK;
SELECT stage FROM st_dist WHERE id = :c1;
SELECT count(*) AS pending FROM :changes;
-- COPY and a multi-row INSERT are recorded; a customer key cannot change
-- (Citus refuses to change the distribution column)
COPY st_dist (id, stage, last_buy) FROM STDIN;
900001	new	1998-07-01
900002	\N	1998-07-01
\.
INSERT INTO st_dist VALUES (900003, 'new', '1998-07-01'), (900004, 'prospect', '1998-07-01');
SELECT customer_key, from_stage, to_stage, source FROM clm.stage_history
WHERE table_oid = 'st_dist'::regclass AND customer_key::bigint > 900000 ORDER BY customer_key;
UPDATE st_dist SET id = 900005 WHERE id = 900001;
-- clm.import_history loads earlier changes of a customer as for a local table
CREATE TABLE st_import (customer_key text, stage text, changed_at timestamptz);
INSERT INTO st_import VALUES ('900010', 'new', '1996-01-01'), ('900010', 'active', '1996-03-01');
SELECT clm.import_history('st_dist', 'st_import') AS imported;
SELECT customer_key, from_stage, to_stage, changed_at, source FROM clm.stage_history
WHERE table_oid = 'st_dist'::regclass AND customer_key = '900010' ORDER BY id;
DROP TABLE st_import;
-- a change made through a worker node is refused (0A000): the model and
-- the history are on the coordinator
\getenv wport CLM_CITUS_WORKER_PORT
\connect - - - :wport
\set VERBOSITY sqlstate
UPDATE st_dist SET stage = 'active' WHERE id = 900001;
SELECT stage FROM st_dist WHERE id = 900001;
-- ... unless the transaction claims a coordinator's transaction id, which
-- any role may do (Citus's assign_distributed_transaction_id): then the
-- change is committed with its row in the change table, and the next
-- statement through the coordinator records it, at its own time, with a
-- warning (23514) when the model forbids it (churned after prospect, here)
BEGIN;
SELECT assign_distributed_transaction_id(0, 424242, now()) IS NULL AS claimed;
UPDATE st_dist SET stage = 'churned' WHERE id = 900004;
COMMIT;
\getenv cport CLM_CITUS_PORT
\connect - - - :cport
\set VERBOSITY sqlstate
SET timezone = 'UTC';
-- the next statement through the coordinator records that change
BEGIN;
UPDATE st_dist SET stage = 'active' WHERE id = 900003;
SELECT customer_key, from_stage, to_stage, changed_at = now() AS at_now FROM clm.stage_history
WHERE table_oid = 'st_dist'::regclass AND customer_key IN ('900003', '900004') AND from_stage IS NOT NULL ORDER BY id;
COMMIT;

-- moving a shard to the other worker (its change shard, co-located, moves
-- with it) keeps the tracking of its customers
SELECT shardid AS s1, groupid AS g1 FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
WHERE logicalrelid = 'st_dist'::regclass ORDER BY shardid LIMIT 1 \gset
SELECT n.nodeport AS from_port, o.nodeport AS to_port FROM pg_dist_node n, pg_dist_node o
WHERE n.groupid = :g1 AND o.groupid NOT IN (0, :g1) \gset
SELECT citus_move_shard_placement(:s1, '127.0.0.1', :from_port, '127.0.0.1', :to_port, shard_transfer_mode => 'block_writes');
-- (Citus drops the moved shards' old copies later; now, for the counts below)
CALL citus_cleanup_orphaned_resources();
SELECT count(*) AS change_shards_moved FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
WHERE s.logicalrelid = :'changes'::regclass AND p.groupid <> :g1
  AND s.shardminvalue = (SELECT shardminvalue FROM pg_dist_shard WHERE shardid = :s1);
SELECT id AS c2 FROM st_dist WHERE get_shard_id_for_distribution_column('st_dist', id) = :s1 AND stage = 'churned'
ORDER BY id LIMIT 1 \gset
UPDATE st_dist SET stage = 'reactivated' WHERE id = :c2;
SELECT from_stage, to_stage FROM clm.stage_history
WHERE table_oid = 'st_dist'::regclass AND customer_key = :'c2' ORDER BY id DESC LIMIT 1;
SELECT count(*) AS pending FROM :changes;

-- clm.notify: its trigger is on clm.stage_history, so a listening client
-- gets the changes of the distributed table as of an ordinary one (a
-- client of its own, run with \!: the id and time are replaced)
SELECT clm.notify('st_dist', 'st_events') AS channel;
\! "$CLM_PSQL" -X -q -d clm_citus -c "LISTEN st_events" -c "INSERT INTO st_dist VALUES (900020, 'new', '1998-07-01')" -c "UPDATE st_dist SET stage = 'active' WHERE id = 900020" -c "UPDATE st_dist SET stage = 'active' WHERE id = 900020" -c "SELECT 'polled' AS poll" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/' -e 's/"id" : [0-9]+/"id" : N/' -e 's/"changed_at" : "[^"]*"/"changed_at" : T/'
SELECT clm.notify('st_dist', NULL) AS channel;

-- clm.forget erases a customer's history of the distributed table too
SELECT object, rows_erased FROM clm.forget('900003') WHERE rows_erased > 0 ORDER BY object;
SELECT count(*) AS left_of_900003 FROM clm.stage_history WHERE table_oid = 'st_dist'::regclass AND customer_key = '900003';

-- untrack drops clm's triggers and the change table (on the workers too)
-- and keeps the history; DROP TABLE of a tracked table drops its change table
SELECT clm.untrack('st_dist');
SELECT to_regclass(:'changes') AS change_table, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'st_dist'::regclass) AS triggers,
       (SELECT count(*) > 30000 FROM clm.stage_history WHERE table_oid = 'st_dist'::regclass) AS history_kept;
SELECT nodeport > 0 AS worker, result AS change_shards FROM run_command_on_workers(
	$$SELECT count(*) FROM pg_class WHERE relname LIKE 'clm_stage_changes_%'$$) ORDER BY nodeport;
UPDATE st_dist SET stage = 'active' WHERE id = 900001;
SELECT clm.track('st_dist', 'id', 'stage', 'st_dist', false);
SELECT format('clm_stage_changes_%s', 'st_dist'::regclass::oid) AS changes \gset
UPDATE st_dist SET stage = 'at_risk' WHERE id = 900001;
SELECT from_stage, to_stage FROM clm.stage_history WHERE table_oid = 'st_dist'::regclass AND customer_key = '900001' ORDER BY id;
DROP TABLE st_dist;
SELECT to_regclass(:'changes') AS change_table, (SELECT count(*) FROM clm.tracked_table WHERE table_oid::text = 'st_dist') AS tracked;
SELECT nodeport > 0 AS worker, result AS change_shards FROM run_command_on_workers(
	$$SELECT count(*) FROM pg_class WHERE relname LIKE 'clm_stage_changes_%'$$) ORDER BY nodeport;

-- a coordinator that holds shards too (as in single-node Citus): the
-- changes of its own shards are recorded alike
SELECT citus_set_node_property('127.0.0.1', :cport, 'shouldhaveshards', true);
CREATE TABLE st_everywhere (id bigint PRIMARY KEY, stage text);
SELECT create_distributed_table('st_everywhere', 'id', shard_count => 6);
SELECT count(DISTINCT groupid) AS nodes_with_shards FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
WHERE logicalrelid = 'st_everywhere'::regclass;
INSERT INTO st_everywhere SELECT g, 'new' FROM generate_series(1, 60) g;
SELECT clm.track('st_everywhere', 'id', 'stage', 'behavioral') AS recorded;
UPDATE st_everywhere SET stage = 'active' WHERE id <= 30;
BEGIN;
UPDATE st_everywhere SET stage = 'at_risk' WHERE id > 50;
UPDATE st_everywhere SET stage = 'churned' WHERE id = 1;
ROLLBACK;
UPDATE st_everywhere SET stage = 'at_risk' WHERE id > 50;
SELECT to_stage, count(*) FROM clm.stage_history WHERE table_oid = 'st_everywhere'::regclass GROUP BY to_stage ORDER BY to_stage;
SELECT stage, count(*) FROM st_everywhere GROUP BY stage ORDER BY stage;
DROP TABLE st_everywhere;
SELECT citus_set_node_property('127.0.0.1', :cport, 'shouldhaveshards', false);

-- the Citus tables clm.track refuses (0A000): distributed by another
-- column, reference, single shard, Citus local
CREATE TABLE st_by_other (id bigint, region int, stage text);
SELECT create_distributed_table('st_by_other', 'region');
SELECT clm.track('st_by_other', 'id', 'stage', 'behavioral');
\set VERBOSITY default
SELECT clm.track('st_by_other', 'id', 'stage', 'behavioral');
\set VERBOSITY sqlstate
CREATE TABLE st_single (id bigint, stage text);
SELECT create_distributed_table('st_single', null);
SELECT clm.citus_table_type('st_single') AS kind, clm.track('st_single', 'id', 'stage', 'behavioral');
CREATE TABLE st_citus_local (id bigint PRIMARY KEY, stage text);
SELECT citus_add_local_table_to_metadata('st_citus_local');
SELECT clm.citus_table_type('st_citus_local') AS kind, clm.track('st_citus_local', 'id', 'stage', 'behavioral');
SELECT count(*) AS tracked FROM clm.tracked_table WHERE table_oid::text LIKE 'st_%';
DROP TABLE st_by_other, st_single, st_citus_local;

-- roles that are not superusers (login roles: Citus connects to the workers
-- as the current role): alice owns and tracks a distributed table; bob may
-- update it; mallory attacks its change table
\set su :USER
CREATE ROLE clm_st_alice LOGIN;
CREATE ROLE clm_st_bob LOGIN;
CREATE ROLE clm_st_mallory LOGIN;
GRANT CREATE ON SCHEMA public TO clm_st_alice, clm_st_mallory;
\connect - clm_st_alice
SET timezone = 'UTC';
CREATE TABLE st_alice (id bigint PRIMARY KEY, stage text);
SELECT create_distributed_table('st_alice', 'id');
INSERT INTO st_alice VALUES (1, 'new'), (2, 'new');
SELECT clm.track('st_alice', 'id', 'stage', 'behavioral');
GRANT SELECT, UPDATE ON st_alice TO clm_st_bob;
SELECT format('clm_stage_changes_%s', 'st_alice'::regclass::oid) AS changes, 'st_alice'::regclass::oid AS alice_oid \gset
SELECT tableowner FROM pg_tables WHERE tablename = :'changes';
\connect - clm_st_bob
SET timezone = 'UTC';
-- bob's change is recorded as his, validated like anybody's
UPDATE st_alice SET stage = 'active' WHERE id = 1;
UPDATE st_alice SET stage = 'churned' WHERE id = 2;
SELECT customer_key, from_stage, to_stage, changed_by, source FROM clm.stage_history WHERE table_oid = 'st_alice'::regclass ORDER BY customer_key, id;
-- every role may read the change table (it is always empty outside a
-- statement that changes stages) and delete from it (each writer's
-- statement moves its rows), but only clm writes it: 42501 for an INSERT
-- (no privilege) and for any statement deleting from it, alone or with a
-- stage change whose rows it would hide from the history
SELECT count(*) FROM :changes;
INSERT INTO :changes VALUES (2, 'new', 'churned', 'clm_st_alice', 1, 1, 0, now());
DELETE FROM :changes;
WITH u AS (UPDATE st_alice SET stage = 'at_risk' WHERE id = 1 RETURNING id)
DELETE FROM :changes WHERE customer_key IN (SELECT id FROM u);
BEGIN;
UPDATE st_alice SET stage = 'at_risk' WHERE id = 1;
DELETE FROM :changes;
ROLLBACK;
SELECT count(*) AS bob_history FROM clm.stage_history WHERE table_oid = 'st_alice'::regclass;
\connect - clm_st_mallory
SET timezone = 'UTC';
-- mallory's trigger on her own distributed table, naming alice's change
-- table and table: her rows are written as her, the owner of her shards,
-- and she may not write alice's table (42501; in a transaction block, or
-- the worker first refuses a write the coordinator does not coordinate)
CREATE TABLE st_mallory (id bigint PRIMARY KEY, stage text);
SELECT create_distributed_table('st_mallory', 'id');
SET citus.enable_unsafe_triggers = on;
CREATE TRIGGER clm_stage_insert AFTER INSERT ON st_mallory FOR EACH ROW
	EXECUTE FUNCTION clm.stage_trigger(:'changes', :'alice_oid');
CREATE TRIGGER clm_stage_update AFTER UPDATE OF stage, id ON st_mallory FOR EACH ROW
	EXECUTE FUNCTION clm.stage_trigger(:'changes', :'alice_oid');
INSERT INTO st_mallory VALUES (1, 'churned');
BEGIN;
INSERT INTO st_mallory VALUES (1, 'churned');
ROLLBACK;
-- a trigger naming her own table's OID and another of her tables: the
-- coordinator takes changes only from the table's own change table (39P01)
CREATE TABLE st_mallory_box (customer_key bigint NOT NULL, from_stage text, to_stage text, changed_by name NOT NULL,
	seq int8 NOT NULL, txn int8 NOT NULL, initiator int4 NOT NULL, stamp timestamptz NOT NULL);
SELECT create_distributed_table('st_mallory_box', 'customer_key', colocate_with => 'st_mallory');
DROP TRIGGER clm_stage_insert ON st_mallory;
DROP TRIGGER clm_stage_update ON st_mallory;
SELECT format('%s', 'st_mallory'::regclass::oid) AS mallory_oid \gset
CREATE TRIGGER clm_stage_insert AFTER INSERT ON st_mallory FOR EACH ROW
	EXECUTE FUNCTION clm.stage_trigger('public.st_mallory_box', :'mallory_oid');
CREATE TRIGGER clm_stage_update AFTER UPDATE OF stage, id ON st_mallory FOR EACH ROW
	EXECUTE FUNCTION clm.stage_trigger('public.st_mallory_box', :'mallory_oid');
INSERT INTO st_mallory VALUES (1, 'churned');
-- nor may she track, untrack or drop alice's table (42501)
SELECT clm.untrack('st_alice');
DROP TABLE st_alice;
DROP TABLE st_mallory, st_mallory_box;
\connect - clm_st_alice
SET timezone = 'UTC';
SELECT count(*) AS alice_history FROM clm.stage_history WHERE table_oid = 'st_alice'::regclass;
SELECT count(*) AS pending FROM :changes;
DROP TABLE st_alice;
\connect - :su
SET timezone = 'UTC';
REVOKE CREATE ON SCHEMA public FROM clm_st_alice, clm_st_mallory;
DROP ROLE clm_st_alice;
DROP ROLE clm_st_bob;
DROP ROLE clm_st_mallory;
DROP TABLE st_local, st_buys, st_first;
DROP FUNCTION st_month(regclass, date);
DELETE FROM clm.stage_model WHERE model IN ('st_local', 'st_dist');
