-- Stage tracking at its edges: regclass arguments naming dropped tables,
-- imported keys in another spelling than the key type's text form, and
-- recorded times so far apart that their difference overflowed.
SET timezone = 'UTC';
INSERT INTO clm.stage_model (model, policy) VALUES ('edge_flow', 'any');
INSERT INTO clm.stage (model, stage, position) VALUES
	('edge_flow', 'e1', 1), ('edge_flow', 'e2', 2), ('edge_flow', 'e3', 3);
-- a model of its own for the one table of the time tests (time_in_stage is per model)
INSERT INTO clm.stage_model (model, policy) VALUES ('edge_time', 'any');
INSERT INTO clm.stage (model, stage, position) VALUES ('edge_time', 'e1', 1), ('edge_time', 'e2', 2);

------------------------------------------------------------------------------
-- a regclass holding the OID of a dropped table: 42P01, not an internal
-- error (XX000 "could not open relation with OID")
------------------------------------------------------------------------------
CREATE TABLE gone (id int, st text);
SELECT clm.track('gone', 'id', 'st', 'edge_flow');
CREATE TEMP TABLE gone_oid AS SELECT 'gone'::regclass::oid AS oid;
DROP TABLE gone;
-- the registry row goes with the table (clm.on_drop)
SELECT t.key_column IS NULL AS no_columns, t.model
FROM clm.tracked_tables t JOIN gone_oid g ON t.table_oid::oid = g.oid;
SELECT replace(error_of(format('SELECT clm.untrack(%s::regclass)', oid)), oid::text, '<oid>') FROM gone_oid;
SELECT replace(error_of(format('SELECT clm.track(%s::regclass, ''id'', ''st'', ''edge_flow'')', oid)), oid::text, '<oid>')
FROM gone_oid;
SELECT replace(error_of(format('SELECT clm.import_history(%s::regclass, ''pg_class'')', oid)), oid::text, '<oid>')
FROM gone_oid;

------------------------------------------------------------------------------
-- imported keys are stored in the key type's text form (as the trigger
-- writes them): '007', ' 8' and '+9' of a bigint table are customers 7, 8, 9
------------------------------------------------------------------------------
CREATE TABLE ekeys (id bigint PRIMARY KEY, st text);
SELECT clm.track('ekeys', 'id', 'st', 'edge_flow');
CREATE TABLE ekeys_src (customer_key text, stage text, changed_at timestamptz);
INSERT INTO ekeys_src VALUES
	('007', 'e1', '2020-01-01'), ('7', 'e2', '2020-02-01'), (' 8', 'e1', '2020-01-01'), ('+9', 'e3', '2020-03-01');
SELECT clm.import_history('ekeys', 'ekeys_src');
-- '007' and '7' are one customer: one chain e1 -> e2
SELECT customer_key, from_stage, to_stage, changed_at, source
FROM clm.stage_history WHERE table_oid = 'ekeys'::regclass ORDER BY customer_key, changed_at;
-- the live row of customer 7 finds its imported past
INSERT INTO ekeys VALUES (7, 'e3');
SELECT clm.stage_at('ekeys'::regclass, 7, '2020-01-15') AS jan, clm.stage_at('ekeys'::regclass, 7::bigint, '2020-02-15') AS feb,
       (SELECT count(*) FROM clm.stage_history WHERE table_oid = 'ekeys'::regclass AND customer_key = '7') AS rows_of_7;
-- a key the type does not accept is refused, not recorded
DELETE FROM ekeys_src;
INSERT INTO ekeys_src VALUES ('abc', 'e1', '2019-01-01');
SELECT error_of($$SELECT clm.import_history('ekeys', 'ekeys_src')$$);
-- uuid keys: braces and upper case give the canonical form
CREATE TABLE ukeys (id uuid, st text);
SELECT clm.track('ukeys', 'id', 'st', 'edge_flow');
CREATE TABLE ukeys_src (customer_key text, stage text, changed_at timestamptz);
INSERT INTO ukeys_src VALUES ('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}', 'e1', '2020-01-01');
SELECT clm.import_history('ukeys', 'ukeys_src');
SELECT customer_key, to_stage FROM clm.stage_history WHERE table_oid = 'ukeys'::regclass ORDER BY id;
SELECT clm.stage_at('ukeys'::regclass, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '2021-01-01');

------------------------------------------------------------------------------
-- recorded times are before the year 10000: PostgreSQL 15 subtracts
-- timestamps without an overflow check, and a stay from 4713 BC to
-- 294276 AD came out as -104300494 days in stage_spans, time_in_stage and
-- stage_properties
------------------------------------------------------------------------------
CREATE TABLE etimes (id int, st text);
SELECT clm.track('etimes', 'id', 'st', 'edge_time');
SET clm.stage_changed_at = '4713-01-01 00:00:00+00 BC';
INSERT INTO etimes VALUES (1, 'e1');
SET clm.stage_changed_at = '294276-12-30 00:00:00+00';
SELECT error_of($$UPDATE etimes SET st = 'e2'$$);
SET clm.stage_changed_at = '10000-01-01 00:00:00+00';
SELECT error_of($$UPDATE etimes SET st = 'e2'$$);
SET clm.stage_changed_at = '9999-12-31 23:59:59.999999+00';
UPDATE etimes SET st = 'e2';
RESET clm.stage_changed_at;
-- Julian days: 10000-01-01 is 5373485, 4713-01-01 BC is 38, so the stay is
-- 5373447 days less 1 microsecond (the median goes through float8 seconds,
-- 464265820799.999999 rounds to 464265820800: 5373447 days)
SELECT stage, entered_at, exited_at, exited_at - entered_at AS stay
FROM clm.stage_spans WHERE table_oid = 'etimes'::regclass ORDER BY entered_at;
SELECT stage, completed_stays, open_stays, mean_time, median_time
FROM clm.time_in_stage WHERE model = 'edge_time' ORDER BY stage;
SELECT * FROM clm.stage_properties('etimes', '9999-12-31 23:59:59.999999+00') ORDER BY stage;
SELECT error_of($$SELECT * FROM clm.stage_properties('etimes', '10000-01-01 00:00:00+00')$$);
SELECT error_of($$SELECT * FROM clm.stage_properties('etimes', 'infinity')$$);
SELECT count(*) FROM clm.stage_properties('etimes', '-infinity');
-- imported times too
DELETE FROM ekeys_src;
INSERT INTO ekeys_src VALUES ('10', 'e1', '10000-06-01 00:00:00+00');
SELECT error_of($$SELECT clm.import_history('ekeys', 'ekeys_src')$$);

------------------------------------------------------------------------------
-- a table owner may put more triggers calling clm.stage_trigger() on the
-- table: one "UPDATE OF n, id" (n an integer) came first by name and its
-- first column was read as the stage, an integer as text: SIGSEGV
------------------------------------------------------------------------------
CREATE TABLE extra_trg (id int, st text, n int);
SELECT clm.track('extra_trg', 'id', 'st', 'edge_flow');
SET clm.stage_changed_at = '2024-01-01 00:00:00+00';
INSERT INTO extra_trg VALUES (1, 'e1', 1);
CREATE TRIGGER aaa AFTER UPDATE OF n, id ON extra_trg FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger();
-- clm.track's own trigger (clm_stage_update) names the columns
UPDATE extra_trg SET n = 5;
SET clm.stage_changed_at = '2024-02-01 00:00:00+00';
UPDATE extra_trg SET st = 'e2';
RESET clm.stage_changed_at;
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE table_oid = 'extra_trg'::regclass ORDER BY id;
-- without it, the other trigger's columns are checked: 39P01
DROP TRIGGER clm_stage_update ON extra_trg;
SELECT error_of($$UPDATE extra_trg SET n = 6$$);
SELECT error_of($$INSERT INTO extra_trg VALUES (2, 'e1', 1)$$);
-- on a table that is not tracked: 55000, as before
CREATE TABLE extra_trg2 (id int, st text, n int);
CREATE TRIGGER aaa AFTER INSERT ON extra_trg2 FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger();
SELECT error_of($$INSERT INTO extra_trg2 VALUES (1, 'x', 1)$$);
-- with arguments, clm.stage_trigger() runs only on the shards of a Citus
-- distributed table (src/stages_citus.c): without Citus, 0A000; with one
-- argument or three, 39P01
CREATE TRIGGER bbb AFTER INSERT ON extra_trg2 FOR EACH ROW
	EXECUTE FUNCTION clm.stage_trigger('public.clm_stage_changes_1', '1');
DROP TRIGGER aaa ON extra_trg2;
CREATE TRIGGER aaa AFTER UPDATE OF st, id ON extra_trg2 FOR EACH ROW
	EXECUTE FUNCTION clm.stage_trigger('public.clm_stage_changes_1', '1');
SELECT error_of($$INSERT INTO extra_trg2 VALUES (1, 'x', 1)$$);
DROP TRIGGER bbb ON extra_trg2;
CREATE TRIGGER bbb AFTER INSERT ON extra_trg2 FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger('x');
SELECT error_of($$INSERT INTO extra_trg2 VALUES (1, 'x', 1)$$);
DROP TRIGGER bbb ON extra_trg2;
CREATE TRIGGER bbb AFTER INSERT ON extra_trg2 FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger('x', 'y', 'z');
SELECT error_of($$INSERT INTO extra_trg2 VALUES (1, 'x', 1)$$);
DROP TABLE extra_trg2;
-- clm.stage_history_here: without Citus every table's history is here
SELECT clm.stage_history_here('extra_trg') AS here, clm.stage_history_here(NULL) AS here_null;
