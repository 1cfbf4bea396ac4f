-- Lifecycle stages: presets, tracking triggers, history, policies, bad
-- input, privileges, backfill and import, and the question functions on
-- hand-built histories.  Times are pinned with clm.stage_changed_at.
SET timezone = 'UTC';

-- the six shipped presets, their policies and ordered stages
SELECT m.model, m.policy, m.shipped,
       string_agg(s.stage || CASE WHEN s.terminal THEN '*' ELSE '' END, ' > ' ORDER BY s.position) AS stages
FROM clm.stage_model m JOIN clm.stage s USING (model)
GROUP BY m.model, m.policy, m.shipped ORDER BY m.model;
SELECT coalesce(from_stage, '(none)') AS from_stage, string_agg(to_stage, ', ' ORDER BY to_stage) AS to_stages
FROM clm.stage_transition WHERE model = 'behavioral' GROUP BY from_stage ORDER BY 1;

-- pg_dump keeps the models, the registry and the history (config tables),
-- leaving out the shipped presets that CREATE EXTENSION recreates
SELECT c.oid::regclass AS config_table, x.cond AS dump_filter
FROM pg_extension e,
     unnest(e.extconfig, e.extcondition) AS x(oid, cond)
     JOIN pg_class c ON c.oid = x.oid
WHERE e.extname = 'clm' ORDER BY c.oid::regclass::text;

-- a custom model for the questions: any policy, four stages
INSERT INTO clm.stage_model (model, policy) VALUES ('test_flow', 'any');
INSERT INTO clm.stage (model, stage, position) VALUES
	('test_flow', 's1', 1), ('test_flow', 's2', 2), ('test_flow', 's3', 3), ('test_flow', 's4', 4);

------------------------------------------------------------------------------
-- tracking a table: forward_only (hubspot), existing rows, renames
------------------------------------------------------------------------------
CREATE TABLE crm (id integer PRIMARY KEY, name text, stage text);
INSERT INTO crm VALUES (1, 'ann', 'lead'), (2, 'bob', NULL), (3, 'cy', 'subscriber');
SET clm.stage_changed_at = '2024-01-01 00:00';
SELECT clm.track('crm', 'id', 'stage', 'hubspot') AS existing_rows_recorded;
SELECT table_oid, key_column, stage_column, model FROM clm.tracked_tables ORDER BY table_oid::text;
SELECT tgname, tgenabled, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'crm'::regclass ORDER BY tgname;
SET clm.stage_changed_at = '2024-01-02 00:00';
UPDATE crm SET stage = 'mql' WHERE id = 1;             -- forward
UPDATE crm SET stage = 'subscriber' WHERE id = 2;      -- NULL -> first stage
UPDATE crm SET stage = 'customer' WHERE id = 3;        -- skip forward
SET clm.stage_changed_at = '2024-01-03 00:00';
-- rejected moves leave the row unchanged and write nothing (23514)
SELECT error_of($$UPDATE crm SET stage = 'lead' WHERE id = 1$$) AS move_back;
SELECT error_of($$UPDATE crm SET stage = 'Lead' WHERE id = 1$$) AS unknown_stage;
SELECT error_of($$INSERT INTO crm VALUES (9, 'x', 'vip')$$) AS unknown_stage_insert;
SELECT id, stage FROM crm ORDER BY id;
-- updates that do not change the stage write nothing
UPDATE crm SET name = upper(name);
UPDATE crm SET stage = stage;
UPDATE crm SET stage = 'mql' WHERE id = 1;
-- clearing a stage is recorded (to_stage NULL)
UPDATE crm SET stage = NULL WHERE id = 2;
-- renames of the table and its columns do not break tracking
ALTER TABLE crm RENAME stage TO lifecycle_stage;
ALTER TABLE crm RENAME id TO customer_id;
ALTER TABLE crm RENAME TO crm_contacts;
SELECT table_oid, key_column, stage_column, model FROM clm.tracked_tables ORDER BY table_oid::text;
UPDATE crm_contacts SET lifecycle_stage = 'evangelist' WHERE customer_id = 3;
SELECT table_oid, customer_key, model, from_stage, to_stage, changed_at, xid IS NOT NULL AS has_xid,
       changed_by = current_user AS by_me, source
FROM clm.stage_history ORDER BY id;
-- the same transaction id as the change, and one transaction per statement here
BEGIN;
UPDATE crm_contacts SET lifecycle_stage = 'other' WHERE customer_id = 1;
SELECT xid = pg_current_xact_id() AS same_transaction FROM clm.stage_history ORDER BY id DESC LIMIT 1;
ROLLBACK;
-- a rolled-back change leaves no history row, a rolled-back savepoint neither
SELECT count(*) AS history_rows FROM clm.stage_history;
BEGIN;
UPDATE crm_contacts SET lifecycle_stage = 'opportunity' WHERE customer_id = 1;
SAVEPOINT s;
UPDATE crm_contacts SET lifecycle_stage = 'customer' WHERE customer_id = 1;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT from_stage, to_stage FROM clm.stage_history WHERE customer_key = '1' ORDER BY id;

------------------------------------------------------------------------------
-- track / untrack errors
------------------------------------------------------------------------------
CREATE TABLE keyed (k numeric, s text, n int, v varchar(20), u uuid);
CREATE VIEW keyed_v AS SELECT * FROM keyed;
SELECT error_of($$SELECT clm.track('crm_contacts', 'customer_id', 'lifecycle_stage', 'hubspot')$$) AS tracked_twice;
SELECT error_of($$SELECT clm.track('keyed', 'nope', 's', 'hubspot')$$) AS missing_key_column;
SELECT error_of($$SELECT clm.track('keyed', 'u', 'nope', 'hubspot')$$) AS missing_stage_column;
SELECT error_of($$SELECT clm.track('keyed', 'ctid', 's', 'hubspot')$$) AS system_column;
SELECT error_of($$SELECT clm.track('keyed', 'k', 's', 'hubspot')$$) AS numeric_key;
SELECT error_of($$SELECT clm.track('keyed', 'u', 'n', 'hubspot')$$) AS integer_stage;
SELECT error_of($$SELECT clm.track('keyed', 's', 's', 'hubspot')$$) AS same_column;
SELECT error_of($$SELECT clm.track('keyed', 'u', 's', 'no_such_model')$$) AS unknown_model;
SELECT error_of($$SELECT clm.track('keyed_v', 'u', 's', 'hubspot')$$) AS a_view;
CREATE TABLE keyed_p (id int, s text) PARTITION BY LIST (s);
SELECT error_of($$SELECT clm.track('keyed_p', 'id', 's', 'hubspot')$$) AS partitioned;
DROP TABLE keyed_p;
SELECT error_of($$SELECT clm.track('no_such_table', 'u', 's', 'hubspot')$$) AS missing_table;
SELECT error_of($$SELECT clm.untrack('keyed')$$) AS untrack_untracked;
INSERT INTO keyed (u, s) VALUES ('00000000-0000-0000-0000-000000000001', 'unknown');
SELECT error_of($$SELECT clm.track('keyed', 'u', 's', 'hubspot')$$) AS existing_unknown_stage;
UPDATE keyed SET s = 'lead', u = NULL;
SELECT error_of($$SELECT clm.track('keyed', 'u', 's', 'hubspot')$$) AS existing_null_key;
SELECT clm.track('keyed', 'u', 's', 'hubspot', record_existing => false) AS recorded;
SELECT clm.untrack('keyed');
SELECT count(*) AS keyed_triggers FROM pg_trigger WHERE tgrelid = 'keyed'::regclass;
-- a trigger installed by hand in the wrong place (39P01)
CREATE TRIGGER wrong BEFORE INSERT ON keyed FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger();
SELECT error_of($$INSERT INTO keyed (s) VALUES ('lead')$$) AS before_trigger;
DROP TRIGGER wrong ON keyed;
-- a hand-made clm trigger on an untracked table (55000), and a tracked table
-- whose UPDATE trigger (which names the columns) was dropped by hand (39P01)
CREATE TRIGGER wrong AFTER INSERT ON keyed FOR EACH ROW EXECUTE FUNCTION clm.stage_trigger();
SELECT error_of($$INSERT INTO keyed (s) VALUES ('lead')$$) AS untracked_trigger;
DROP TRIGGER wrong ON keyed;
SELECT clm.track('keyed', 'u', 's', 'hubspot', false);
DROP TRIGGER clm_stage_update ON keyed;
SELECT error_of($$INSERT INTO keyed (u, s) VALUES ('00000000-0000-0000-0000-0000000000bb', 'lead')$$) AS update_trigger_dropped;
SELECT clm.untrack('keyed');
-- varchar stage column and uuid key work
SELECT clm.track('keyed', 'u', 'v', 'hubspot');
INSERT INTO keyed (u, v) VALUES ('00000000-0000-0000-0000-0000000000aa', 'lead');
SELECT customer_key, to_stage FROM clm.stage_history WHERE table_oid = 'keyed'::regclass ORDER BY id;
SELECT clm.stage_at('keyed', '00000000-0000-0000-0000-0000000000aa'::uuid, '2024-01-03') AS stage_uuid;

------------------------------------------------------------------------------
-- graph policy (behavioral), bigint keys, NULL and changed keys
------------------------------------------------------------------------------
CREATE TABLE people (pid bigint, stage text);
SELECT clm.track('people', 'pid', 'stage', 'behavioral');
INSERT INTO people VALUES (10, 'prospect');            -- first stage: always allowed
INSERT INTO people VALUES (11, 'new');                 -- edge NULL -> new
SELECT error_of($$INSERT INTO people VALUES (12, 'active')$$) AS enter_at_active;
UPDATE people SET stage = 'new' WHERE pid = 10;
UPDATE people SET stage = 'dormant' WHERE pid = 11;
UPDATE people SET stage = 'churned' WHERE pid = 11;
SELECT error_of($$UPDATE people SET stage = 'active' WHERE pid = 11$$) AS churned_to_active;
UPDATE people SET stage = 'reactivated' WHERE pid = 11;
-- NULL key: no stage, nothing to record; with a stage, rejected (23502)
INSERT INTO people VALUES (NULL, NULL);
SELECT error_of($$INSERT INTO people VALUES (NULL, 'prospect')$$) AS null_key;
SELECT error_of($$UPDATE people SET stage = 'prospect' WHERE pid IS NULL$$) AS null_key_update;
-- key change of a row with a stage: rejected (23000); without a stage: allowed
SELECT error_of($$UPDATE people SET pid = 99 WHERE pid = 10$$) AS key_change;
UPDATE people SET pid = 98 WHERE pid IS NULL;
SELECT pid, stage FROM people ORDER BY pid;
-- editing the model reaches the trigger at once (cached models are invalidated)
INSERT INTO clm.stage_transition (model, from_stage, to_stage) VALUES ('behavioral', 'new', 'churned');
UPDATE people SET stage = 'churned' WHERE pid = 10;
DELETE FROM clm.stage_transition WHERE model = 'behavioral' AND from_stage = 'new' AND to_stage = 'churned';
UPDATE people SET stage = 'new' WHERE pid = 98;
SELECT error_of($$UPDATE people SET stage = 'churned' WHERE pid = 98$$) AS edge_removed_again;
SELECT customer_key, from_stage, to_stage FROM clm.stage_history
WHERE table_oid = 'people'::regclass ORDER BY id;

------------------------------------------------------------------------------
-- a stage removed from a model that history still references
------------------------------------------------------------------------------
INSERT INTO clm.stage_model (model, policy) VALUES ('shrinking', 'forward_only');
INSERT INTO clm.stage (model, stage, position) VALUES ('shrinking', 'a', 1), ('shrinking', 'b', 2), ('shrinking', 'c', 3);
CREATE TABLE shr (id text PRIMARY KEY, st text);
SELECT clm.track('shr', 'id', 'st', 'shrinking');
INSERT INTO shr VALUES ('x', 'b'), ('y', 'c');
DELETE FROM clm.stage WHERE model = 'shrinking' AND stage = 'b';
-- the history keeps the name; leaving the removed stage is allowed (even
-- backwards: the model cannot order a stage it no longer has); entering it is not
UPDATE shr SET st = 'a' WHERE id = 'x';
SELECT error_of($$UPDATE shr SET st = 'b' WHERE id = 'y'$$) AS enter_removed;
SELECT customer_key, from_stage, to_stage FROM clm.stage_history WHERE table_oid = 'shr'::regclass ORDER BY id;
SELECT stage, position, completed_stays, open_stays FROM clm.time_in_stage WHERE model = 'shrinking' ORDER BY stage;

------------------------------------------------------------------------------
-- TRUNCATE and COPY
------------------------------------------------------------------------------
-- TRUNCATE (like DELETE) writes no history: history records stage changes
-- of rows, the last recorded stage stays what stage_at reports
SET clm.stage_changed_at = '2024-02-01';
TRUNCATE shr;
SELECT count(*) AS shr_history FROM clm.stage_history WHERE table_oid = 'shr'::regclass;
SELECT clm.stage_at('shr', 'y'::text, '2024-03-01') AS after_truncate;
-- COPY runs the row triggers: every copied row with a stage is recorded
COPY shr FROM STDIN;
y	a
z	\N
w	c
\.
SELECT customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE table_oid = 'shr'::regclass AND changed_at = '2024-02-01' ORDER BY id;
-- a bad stage anywhere in the COPY fails the whole COPY (23514), nothing recorded
SELECT error_of($$COPY shr FROM PROGRAM 'printf "v\\ta\\nu\\tzzz\\n"'$$) AS copy_bad_stage;
SELECT count(*) AS shr_rows FROM shr;

------------------------------------------------------------------------------
-- backfill time setting and bulk import
------------------------------------------------------------------------------
SET clm.stage_changed_at = 'not a time';
SELECT error_of($$UPDATE people SET stage = 'reactivated' WHERE pid = 10$$) AS bad_backfill_time;
SET clm.stage_changed_at = 'infinity';
SELECT error_of($$UPDATE people SET stage = 'reactivated' WHERE pid = 10$$) AS infinite_backfill_time;
RESET clm.stage_changed_at;
SELECT current_setting('clm.stage_changed_at') = '' AS reset_to_transaction_time;
BEGIN;
UPDATE people SET stage = 'reactivated' WHERE pid = 10;
SELECT changed_at = now() AS transaction_timestamp FROM clm.stage_history ORDER BY id DESC LIMIT 1;
ROLLBACK;

CREATE TABLE imp (id int PRIMARY KEY, stage text);
SELECT clm.track('imp', 'id', 'stage', 'behavioral');
SET clm.stage_changed_at = '2024-06-01';
INSERT INTO imp VALUES (1, 'new');
CREATE TABLE old_crm (customer_key int, stage text, changed_at timestamptz);
INSERT INTO old_crm VALUES (1, 'prospect', '2023-01-01'), (2, 'new', '2023-02-01'),
	(2, 'active', '2023-03-01'), (2, 'at_risk', '2023-04-01'), (3, 'prospect', '2023-05-01');
SELECT clm.import_history('imp', 'old_crm') AS imported;
SELECT customer_key, from_stage, to_stage, changed_at, source FROM clm.stage_history
WHERE table_oid = 'imp'::regclass ORDER BY customer_key, changed_at;
CREATE TABLE bad_crm (customer_key int, stage text, changed_at timestamptz);
INSERT INTO bad_crm VALUES (7, 'prospect', NULL);
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS null_time;
TRUNCATE bad_crm;
INSERT INTO bad_crm VALUES (7, 'prospect', 'infinity');
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS infinite_time;
TRUNCATE bad_crm;
INSERT INTO bad_crm VALUES (7, 'gold', '2023-01-01');
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS unknown_stage;
TRUNCATE bad_crm;
INSERT INTO bad_crm VALUES (7, 'prospect', '2023-01-01'), (7, 'active', '2023-01-02');
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS not_an_edge;
TRUNCATE bad_crm;
INSERT INTO bad_crm VALUES (7, 'prospect', '2023-01-01'), (7, 'new', '2023-01-01');
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS same_time;
TRUNCATE bad_crm;
INSERT INTO bad_crm VALUES (7, 'prospect', '2023-01-01'), (7, 'prospect', '2023-01-02');
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS repeated_stage;
TRUNCATE bad_crm;
INSERT INTO bad_crm VALUES (1, 'new', '2024-07-01');
SELECT error_of($$SELECT clm.import_history('imp', 'bad_crm')$$) AS after_recorded_history;
SELECT error_of($$SELECT clm.import_history('keyed_v', 'bad_crm')$$) AS untracked_table;
SELECT error_of($$SELECT clm.import_history('imp', 4000000000::oid::regclass)$$) AS source_oid_missing;
CREATE TABLE bad_cols (customer text, stage text, changed_at timestamptz);
SELECT error_of($$SELECT clm.import_history('imp', 'bad_cols')$$) AS missing_source_column;
-- nothing of the failed imports was written
SELECT count(*) AS imp_history FROM clm.stage_history WHERE table_oid = 'imp'::regclass;
RESET clm.stage_changed_at;

------------------------------------------------------------------------------
-- the questions, on a hand-built history (days d1..d5 = 2024-01-01..05)
------------------------------------------------------------------------------
-- c1: s1 d1, s2 d2, s3 d3, s4 d4        strict: reaches 4
-- c2: s1 d1, s3 d2, s4 d4               skips s2: strict 1
-- c3: s2 d1, s1 d2, s2 d3               s2 before s1 ignored: strict 2
-- c4: s1 d1, s2 d5 (outside [d1, d5))   strict 1
-- c5: s3 d2                             strict 0
CREATE TABLE fun (id int PRIMARY KEY, st text);
SELECT clm.track('fun', 'id', 'st', 'test_flow');
SET clm.stage_changed_at = '2024-01-01';
INSERT INTO fun VALUES (1, 's1'), (2, 's1'), (3, 's2'), (4, 's1'), (5, NULL);
SET clm.stage_changed_at = '2024-01-02';
UPDATE fun SET st = CASE id WHEN 1 THEN 's2' WHEN 2 THEN 's3' WHEN 3 THEN 's1' WHEN 5 THEN 's3' END
WHERE id IN (1, 2, 3, 5);
SET clm.stage_changed_at = '2024-01-03';
UPDATE fun SET st = CASE id WHEN 1 THEN 's3' WHEN 3 THEN 's2' END WHERE id IN (1, 3);
SET clm.stage_changed_at = '2024-01-04';
UPDATE fun SET st = 's4' WHERE id IN (1, 2);
SET clm.stage_changed_at = '2024-01-05';
UPDATE fun SET st = 's2' WHERE id = 4;
RESET clm.stage_changed_at;

-- strict: s1 {c1,c2,c3,c4} = 4, s2 {c1,c3} = 2, s3 {c1} = 1, s4 {c1} = 1
SELECT step, stage, customers, round(step_conversion::numeric, 4) AS step_conv,
       round(cumulative_conversion::numeric, 4) AS cum_conv
FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05') ORDER BY step;
-- any order: s1 4, s2 {c1,c3} 2, s3 {c1,c2,c5} 3, s4 {c1,c2} 2
SELECT step, stage, customers, round(step_conversion::numeric, 4) AS step_conv,
       round(cumulative_conversion::numeric, 4) AS cum_conv
FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05', strict => false) ORDER BY step;
-- the window is half-open: including d5 adds c4's s2
SELECT step, customers FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-06', false) ORDER BY step;
-- chosen steps s2 > s4: s2 {c1, c3}; s4 after s2 only c1 (c2 reached s4 without s2)
SELECT step, stage, customers, round(step_conversion::numeric, 4) AS step_conv
FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05', true, ARRAY['s2', 's4']) ORDER BY step;
SELECT step, stage, customers
FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05', false, ARRAY['s4', 's2']) ORDER BY step;
SELECT error_of($$SELECT * FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05', true, ARRAY['s2', 'zz'])$$) AS step_not_in_model;
SELECT error_of($$SELECT * FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05', true, ARRAY['s2', 's2'])$$) AS repeated_step;
SELECT error_of($$SELECT * FROM clm.stage_funnel('fun', '2024-01-01', '2024-01-05', true, '{}')$$) AS no_steps;
SELECT error_of($$SELECT * FROM clm.stage_funnel('fun', NULL, '2024-01-05')$$) AS null_bound;
SELECT error_of($$SELECT * FROM clm.stage_funnel('fun', '2024-01-05', '2024-01-01')$$) AS reversed_window;
SELECT error_of($$SELECT * FROM clm.stage_funnel('keyed_v', '2024-01-01', '2024-01-05')$$) AS no_model;

-- transitions in [d1, d5): from NULL 3 x s1, s2, s3 (5); from s1: s2 2, s3 1;
-- from s2: s3 1, s1 1; from s3: s4 2
SELECT from_stage, to_stage, transitions, round(probability::numeric, 4) AS probability
FROM clm.transition_matrix('fun', '2024-01-01', '2024-01-05') ORDER BY from_stage NULLS FIRST, to_stage;

-- time in stage (completed stays): s1 1,1,1,4 days -> mean 1.75 d, median 1 d;
-- s2 1,1 -> 1 d; s3 1,2 -> 1.5 d; s4 only open stays
SELECT stage, position, completed_stays, open_stays, mean_time, median_time
FROM clm.time_in_stage WHERE model = 'test_flow' ORDER BY position;

-- HubSpot-style properties as of d5: c3 was in s2 on [d1,d2) and [d3, d5)
SELECT customer_key, stage, first_entered_at, last_exited_at, latest_time_in, cumulative_time_in, stays, current
FROM clm.stage_properties('fun', '2024-01-05') WHERE customer_key IN ('3', '4') ORDER BY customer_key, stage;
-- as of d3 12:00, c1 is in s3 since d3
SELECT customer_key, stage, latest_time_in, cumulative_time_in, current
FROM clm.stage_properties('fun', '2024-01-03 12:00') WHERE customer_key = '1' ORDER BY stage;

-- stage at a past time
SELECT t, clm.stage_at('fun', 3, t) AS c3, clm.stage_at('fun', 1, t) AS c1
FROM unnest(ARRAY['2023-12-31 23:59:59', '2024-01-01', '2024-01-02 12:00', '2024-01-03', '2024-02-01']::timestamptz[]) t
ORDER BY t;
SELECT clm.stage_at('fun', 42, '2024-02-01') AS unknown_customer;

------------------------------------------------------------------------------
-- privileges: an ordinary owner tracks its table; nobody but the
-- extension writes the history or the registry
------------------------------------------------------------------------------
CREATE ROLE clm_stage_owner;
CREATE ROLE clm_stage_clerk;
CREATE TABLE owned (id int PRIMARY KEY, st text);
ALTER TABLE owned OWNER TO clm_stage_owner;
SET ROLE clm_stage_owner;
SET clm.stage_changed_at = '2024-03-01';
SELECT clm.track('owned', 'id', 'st', 'acquisition_churn');
INSERT INTO owned VALUES (1, 'acquisition');
GRANT SELECT, UPDATE ON owned TO clm_stage_clerk;
SELECT error_of($$UPDATE clm.stage_history SET to_stage = 'churn'$$) AS owner_updates_history;
SELECT error_of($$DELETE FROM clm.stage_history$$) AS owner_deletes_history;
SELECT error_of($$TRUNCATE clm.stage_history$$) AS owner_truncates_history;
SELECT error_of($$INSERT INTO clm.stage_history (table_oid, customer_key, model, to_stage, changed_at, xid, changed_by) VALUES ('owned', '1', 'x', 'churn', now(), '1', 'me')$$) AS owner_inserts_history;
SELECT error_of($$DELETE FROM clm.tracked_table$$) AS owner_deletes_registry;
SELECT error_of($$UPDATE clm.stage SET position = position + 10 WHERE model = 'acquisition_churn'$$) AS owner_edits_model;
SELECT error_of($$SELECT clm.track('crm_contacts', 'customer_id', 'lifecycle_stage', 'hubspot')$$) AS track_foreign_table;
SET ROLE clm_stage_clerk;
UPDATE owned SET st = 'activation' WHERE id = 1;
SELECT error_of($$SELECT clm.untrack('owned')$$) AS clerk_untracks;
SELECT error_of($$SELECT clm.import_history('owned', 'owned')$$) AS clerk_imports;
SELECT error_of($$DELETE FROM clm.stage_history WHERE table_oid = 'owned'::regclass$$) AS clerk_deletes_history;
RESET ROLE;
-- changed_by follows a role rename (the cached name is invalidated)
ALTER ROLE clm_stage_clerk RENAME TO clm_stage_clerk2;
SET ROLE clm_stage_clerk2;
UPDATE owned SET st = 'retention' WHERE id = 1;
RESET ROLE;
ALTER ROLE clm_stage_clerk2 RENAME TO clm_stage_clerk;
RESET clm.stage_changed_at;
SELECT customer_key, from_stage, to_stage, changed_at, changed_by, source
FROM clm.stage_history WHERE table_oid = 'owned'::regclass ORDER BY id;
SELECT has_table_privilege('clm_stage_owner', 'clm.stage_history', 'SELECT') AS may_read,
       has_table_privilege('clm_stage_owner', 'clm.stage_history', 'INSERT') AS may_insert,
       has_table_privilege('clm_stage_owner', 'clm.stage_history', 'UPDATE') AS may_update,
       has_table_privilege('clm_stage_owner', 'clm.stage_history', 'DELETE') AS may_delete,
       has_table_privilege('clm_stage_owner', 'clm.stage_history', 'TRUNCATE') AS may_truncate;
SET ROLE clm_stage_owner;
SELECT clm.untrack('owned');
RESET ROLE;
-- untracking keeps the history; changes after it are not recorded
UPDATE owned SET st = 'churn';
SELECT count(*) AS owned_history_after_untrack FROM clm.stage_history WHERE table_oid = 'owned'::regclass;
SELECT count(*) AS owned_registry_rows FROM clm.tracked_table WHERE table_oid = 'owned'::regclass;
DROP TABLE owned;
DROP ROLE clm_stage_owner;
DROP ROLE clm_stage_clerk;

-- dropping a tracked table removes its registry row and history (clm's
-- sql_drop event trigger, issue #13: a new table could get the same OID)
SELECT 'people'::regclass::oid AS people_oid \gset
DROP TABLE people;
SELECT count(*) AS people_history, count(DISTINCT customer_key) AS people_customers
FROM clm.stage_history WHERE table_oid = :people_oid;
SELECT key_column IS NULL AS columns_gone, model FROM clm.tracked_tables WHERE table_oid = :people_oid;

-- a model in use cannot be deleted (23503)
SELECT error_of($$DELETE FROM clm.stage_model WHERE model = 'test_flow'$$) AS delete_used_model;

DROP VIEW keyed_v;
DROP TABLE crm_contacts, keyed, shr, imp, old_crm, bad_crm, bad_cols, fun;
DELETE FROM clm.stage_history;
DELETE FROM clm.tracked_table;
DELETE FROM clm.stage_model WHERE NOT shipped;
