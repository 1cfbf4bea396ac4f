-- Acting on the lifecycle, part 2: notifications to applications.
-- clm.notify sends one NOTIFY per committed stage change of a tracked table;
-- clm.announce sends the stage and segment changes of a source's refresh.
-- They are received by a real listening client: a second psql, started with
-- \! on sql/action_notify_listener.psql, LISTENs and prints each
-- "Asynchronous notification ... received from server process with PID n"
-- after the statement at whose end it arrived.  Its output is part of this
-- test's output; the PID, which differs at every run, is replaced by N (and a
-- 7000-character key by a short mark).
-- changed_at is made fixed with clm.stage_changed_at and refresh times.
SET timezone = 'UTC';
\set VERBOSITY sqlstate
SET client_min_messages = warning;
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clm_act_other') THEN
		EXECUTE 'DROP OWNED BY clm_act_other';
		EXECUTE 'DROP ROLE clm_act_other';
	END IF;
END
$$;
RESET client_min_messages;
CREATE ROLE clm_act_other;

CREATE TABLE nt_customers (id int PRIMARY KEY, stage text);
CREATE TABLE nt_text (key text PRIMARY KEY, stage text);
CREATE TABLE nt_untracked (id int PRIMARY KEY, stage text);
SELECT clm.track('nt_customers', 'id', 'stage', 'behavioral') AS recorded,
	   clm.track('nt_text', 'key', 'stage', 'behavioral') AS recorded_text;
GRANT SELECT, INSERT, UPDATE ON nt_customers TO clm_act_other;

-- turning it on: the table owner only (42501), a tracked table (55000), a
-- channel name of 1 to 63 bytes (22023)
SELECT clm.notify('nt_untracked');
SELECT clm.notify('nt_customers', '');
SELECT clm.notify('nt_customers', repeat('c', 64));
SELECT clm.notify(NULL);
SET ROLE clm_act_other;
SELECT clm.notify('nt_customers');
SELECT clm.notify('nt_customers', NULL);
SELECT clm.notify_as('clm_act_other', 'nt_customers', 'x');
-- the settings table is not writable, and shows nothing of others
INSERT INTO clm.stage_notify_channel VALUES ('nt_customers', 'x', 'clm_act_other');
SELECT count(*) AS visible FROM clm.stage_notify_channel;
RESET ROLE;
SELECT clm.notify('nt_customers') AS channel, clm.notify('nt_text', 'clm_stage') AS channel_text;
SELECT table_oid, channel, set_by FROM clm.stage_notify_channel ORDER BY channel, table_oid::text;

-- score announcements of a source: three customers scored by full
-- refreshes at fixed times (too few customers to fit a model, so the stages
-- come from the recency rules alone)
CREATE TABLE an_events (customer int, at timestamptz, amount numeric);
INSERT INTO an_events VALUES (1, '2024-01-01', 10), (1, '2024-01-20', 10), (2, '2024-01-10', 5),
	(3, '2023-06-01', 20), (3, '2024-01-25', 20);
SELECT name FROM clm.register('an', 'an_events', 'customer', 'at', 'amount', incremental => false);
SELECT clm.announce('an', 'clm_scores', -1);
SELECT clm.announce('an', repeat('c', 64));
SELECT clm.announce('nope');
SELECT clm.announce(NULL);
SET ROLE clm_act_other;
SELECT clm.announce('an');
SELECT clm.announce_as('clm_act_other', 'an', 'x', 1);
RESET ROLE;
SELECT clm.announce('an', 'clm_scores', 2) AS channel;

-- the C trigger behind both acts only on clm's own tables: a role's own
-- trigger calling it on another table is refused (39P01)
SET ROLE clm_act_other;
CREATE TEMP TABLE nt_fake (source text, id bigint, mode text, status text);
CREATE TRIGGER fake AFTER UPDATE ON nt_fake FOR EACH ROW EXECUTE FUNCTION clm.action_trigger();
INSERT INTO nt_fake VALUES ('an', 1, 'full', 'running');
UPDATE nt_fake SET status = 'ok';
SELECT clm.send_stage_notification(1);
DROP TABLE nt_fake;
RESET ROLE;

-- the listening client
\setenv PGDATABASE :DBNAME
\! psql -X -a -q -f sql/action_notify_listener.psql 2>&1 | sed -E -e 's/PID [0-9]+/PID N/' -e 's/k{7000}/<7000 times k>/'

-- what the listener saw is in clm.stage_history and clm.score_changes
SELECT id, table_oid, customer_key, from_stage, to_stage, changed_at FROM clm.stage_history
WHERE table_oid = 'nt_customers'::regclass ORDER BY id;
SELECT run_id - (SELECT min(id) FROM clm.refresh_runs WHERE source = 'an') AS nth_run, customer_key,
	from_stage, to_stage, from_segment, to_segment, changed_at
FROM clm.score_changes('an');
-- since a run id: the changes of that run and of the later ones
SELECT count(*) AS from_second_run
FROM clm.score_changes('an', (SELECT min(id) + 1 FROM clm.refresh_runs WHERE source = 'an'));
SELECT count(*) AS from_third_run
FROM clm.score_changes('an', (SELECT max(id) FROM clm.refresh_runs WHERE source = 'an'));
SELECT clm.unregister('an');
SELECT count(*) AS settings_left FROM clm.score_announce;
SELECT clm.untrack('nt_customers'), clm.untrack('nt_text');
-- the history is append-only for users; the superuser removes this test's
-- rows so that later tests see a clean history
DELETE FROM clm.stage_history WHERE table_oid IN ('nt_customers'::regclass, 'nt_text'::regclass);
DELETE FROM clm.stage_notify_channel;
DROP TABLE nt_customers, nt_text, nt_untracked, an_events;
DROP ROLE clm_act_other;
