-- Issue #17 under the rules of issue #13: an independent attack on acting on
-- the lifecycle (win-back, value tiers, notifications, announcements,
-- campaigns, the two-proportion test) by three non-superuser roles (alice
-- and bob are tenants, bob reads alice's source, mallory is any other role)
-- and a superuser calling their functions.  The blocks marked "hole"
-- succeeded before their fix; the others show each attempt failing with its
-- exact SQLSTATE (error_of, sql/00_setup.sql).
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE ROLE clm_rt2_alice;
CREATE ROLE clm_rt2_bob;
CREATE ROLE clm_rt2_mallory;
CREATE SCHEMA clm_rt2_a AUTHORIZATION clm_rt2_alice;
CREATE SCHEMA clm_rt2_m AUTHORIZATION clm_rt2_mallory;
GRANT USAGE ON SCHEMA clm_rt2_m TO PUBLIC;
-- every other role whose rights mallory's code runs with is logged; run
-- with a superuser's, it makes her superuser
CREATE TABLE clm_rt2_m.ran_as (who name);
ALTER TABLE clm_rt2_m.ran_as OWNER TO clm_rt2_mallory;
GRANT INSERT ON clm_rt2_m.ran_as TO PUBLIC;
CREATE FUNCTION clm_rt2_m.escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF current_user <> 'clm_rt2_mallory' THEN
		INSERT INTO clm_rt2_m.ran_as VALUES (current_user);
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			EXECUTE 'ALTER ROLE clm_rt2_mallory SUPERUSER';
		END IF;
	END IF;
	RETURN true;
END $$;
ALTER FUNCTION clm_rt2_m.escalate() OWNER TO clm_rt2_mallory;
-- error_of with a campaign id, shown as N (ids depend on the tests run before)
CREATE FUNCTION pg_temp.err(stmt text, id bigint) RETURNS text LANGUAGE sql
AS $$ SELECT regexp_replace(public.error_of(format(stmt, id)), 'campaign \d+', 'campaign N') $$;
CREATE VIEW clm_rt2_status AS
	SELECT rolsuper AS mallory_is_superuser,
		   ARRAY(SELECT DISTINCT who::text FROM clm_rt2_m.ran_as ORDER BY 1) AS mallory_code_ran_as
	FROM pg_roles WHERE rolname = 'clm_rt2_mallory';

-- alice: events of 20 customers (customer c buys c % 4 + 1 times, every 20
-- days from day 3c of 2025), a tracked customer table, a scored source
-- that bob may read.  The model scores are set by hand (as the extension
-- owner): P(alive) = 0.5, CLV = c.
SET ROLE clm_rt2_alice;
GRANT USAGE ON SCHEMA clm_rt2_a TO PUBLIC;
CREATE TABLE clm_rt2_a.events (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt2_a.events
SELECT c, '2025-01-01'::timestamptz + (3 * c + 20 * i) * interval '1 day', 10
FROM generate_series(1, 20) c, generate_series(0, c % 4) i;
CREATE TABLE clm_rt2_a.customers (id bigint PRIMARY KEY, stage text);
INSERT INTO clm_rt2_a.customers SELECT c, NULL FROM generate_series(1, 20) c;
SELECT clm.track('clm_rt2_a.customers', 'id', 'stage', 'behavioral');
SELECT name FROM clm.register('rt2_a', 'clm_rt2_a.events', 'customer', 'at', 'amount', incremental => false);
SELECT mode, rows, status FROM clm.refresh('rt2_a', true, '2025-06-01');
SELECT clm.grant_scores('rt2_a', 'clm_rt2_bob');
RESET ROLE;
UPDATE clm.scores SET p_alive = 0.5, clv = customer_key::float8 WHERE source = 'rt2_a';
SELECT stage, count(*), min(customer_key::int), max(customer_key::int) FROM clm.scores WHERE source = 'rt2_a'
GROUP BY 1 ORDER BY 1;
-- at_risk: 1, 2, 4, 5, 6, 8, 9, 12, 13, 16, 20; value at stake = 2c * 0.5 = c

-- win-back: alice and her reader see the list, nobody else learns the
-- source exists; crafted names are plain values
SET ROLE clm_rt2_alice;
SELECT customer_key, clv_if_active, value_at_stake FROM clm.winback('rt2_a', 3);
SET ROLE clm_rt2_bob;
SELECT count(*) AS bob_reads FROM clm.winback('rt2_a');
SET ROLE clm_rt2_mallory;
SELECT error_of($$SELECT * FROM clm.winback('rt2_a')$$) AS mallory_winback;
SELECT error_of($$SELECT * FROM clm.winback('rt2_a'' OR true --')$$) AS crafted_name;
SELECT error_of($$SELECT * FROM clm.winback(NULL)$$) AS null_source;
SELECT error_of($$SELECT * FROM clm.winback('rt2_a', -1)$$) AS negative_top;
SELECT count(*) AS mallory_sees_scores FROM clm.scores;

-- value tiers: only the owner sets them; bad shares are refused before
-- anything is written
SELECT error_of($$SELECT clm.set_value_tiers('rt2_a')$$) AS mallory_sets;
SELECT error_of($$INSERT INTO clm.value_tiers (source, shares) VALUES ('rt2_a', '{1}')$$) AS mallory_writes;
SELECT error_of($$UPDATE clm.value_tiers SET shares = '{1}'$$) AS mallory_updates;
SET ROLE clm_rt2_bob;
SELECT error_of($$SELECT clm.set_value_tiers('rt2_a', '{0.5}')$$) AS reader_sets;
SET ROLE clm_rt2_alice;
SELECT error_of($$SELECT clm.set_value_tiers('rt2_a', '{NaN}')$$) AS nan_share,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', '{Infinity}')$$) AS infinite_share,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', '{0.5,-0.1}')$$) AS negative_share,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', '{0}')$$) AS zero_share;
SELECT error_of($$SELECT clm.set_value_tiers('rt2_a', '{0.6,0.5}')$$) AS sum_above_1,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', '{0.1,NULL}')$$) AS null_element,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', '{}')$$) AS empty,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', NULL)$$) AS null_shares;
SELECT error_of($$SELECT clm.set_value_tiers('rt2_a', '{{0.1},{0.2}}')$$) AS two_dimensional,
	   error_of($$SELECT clm.set_value_tiers('rt2_a', array_fill(0.0001, ARRAY[100000]))$$) AS huge_array;
-- Hole (a wrong answer, fixed in clm.set_value_tiers_as): shares with
-- another lower bound were read from subscript 1, i.e. as NULLs: no
-- breaks, everybody in the last tier.  Now the top 10 % (floor(20 * 0.1) =
-- 2: CLV >= 19) and the next 20 % (position 6: CLV >= 15).
SELECT clm.set_value_tiers('rt2_a', '[5:6]={0.1,0.2}') AS tiers_changed;
SELECT shares, breaks, customers FROM clm.value_tiers;
-- the defaults over CLVs 1..20: breaks at positions floor(20 * 0.05) = 1,
-- floor(20 * 0.2) = 4, floor(20 * 0.5) = 10 of the CLVs in descending order;
-- changed: 19 (1 -> 2), 15 and 16 (2 -> 3), 1 to 10 (3 -> 4)
SELECT clm.set_value_tiers('rt2_a') AS tiers_changed;
SELECT shares, breaks, customers FROM clm.value_tiers;
SELECT tier, count(*), min(clv), max(clv) FROM clm.scores GROUP BY 1 ORDER BY 1;
SELECT error_of($$SELECT clm.value_tier(1, array_fill(0.0::float8, ARRAY[40000]))$$) AS value_tier_huge,
	   error_of($$SELECT clm.value_tier('NaN', '{1}')$$) AS value_tier_nan,
	   error_of($$SELECT clm.value_tier(1, '{NaN}')$$) AS value_tier_nan_break,
	   clm.value_tier(1, '{NULL,0.5}') AS null_break_is_empty;
SET ROLE clm_rt2_mallory;
SELECT count(*) AS mallory_sees_tiers FROM clm.value_tiers;
RESET ROLE;

-- notifications: only the owner of a tracked table turns them on; channel
-- names are values (quotes, unicode), 1 to 63 bytes
SET ROLE clm_rt2_mallory;
SELECT error_of($$SELECT clm.notify('clm_rt2_a.customers')$$) AS mallory_notify,
	   error_of($$SELECT clm.notify('clm_rt2_a.customers', NULL)$$) AS mallory_turns_off;
SELECT error_of($$INSERT INTO clm.stage_notify_channel VALUES ('clm_rt2_a.customers', 'x', 'clm_rt2_mallory')$$)
	AS mallory_writes;
CREATE TABLE clm_rt2_m.mine (id bigint PRIMARY KEY, stage text);
SELECT error_of($$SELECT clm.notify('clm_rt2_m.mine')$$) AS not_tracked;
SELECT error_of($$SELECT clm.notify(NULL)$$) AS null_table;
SET ROLE clm_rt2_bob;
SELECT error_of($$SELECT clm.notify('clm_rt2_a.customers')$$) AS reader_notify;
SET ROLE clm_rt2_alice;
SELECT error_of($$SELECT clm.notify('clm_rt2_a.customers', '')$$) AS empty_channel,
	   error_of(format('SELECT clm.notify(%L, %L)', 'clm_rt2_a.customers', repeat('é', 32))) AS channel_64_bytes;
SELECT clm.notify('clm_rt2_a.customers', 'a"b''c; LISTEN x') AS quoted_channel;
SELECT clm.notify('clm_rt2_a.customers', repeat('é', 31) || 'x') AS channel_63_bytes;
SELECT table_oid, channel FROM clm.stage_notify_channel;
SET ROLE clm_rt2_mallory;
SELECT count(*) AS mallory_sees_channels FROM clm.stage_notify_channel;

-- clm.action_trigger runs fixed statements as the extension owner: on her
-- own table (a trigger of hers, a temporary table named like clm's) it
-- refuses to fire; called directly it is no function at all
SELECT error_of($$SELECT clm.action_trigger()$$) AS called_directly;
CREATE TABLE clm_rt2_m.hist (id bigint, source text);
CREATE TRIGGER t AFTER INSERT ON clm_rt2_m.hist FOR EACH ROW EXECUTE FUNCTION clm.action_trigger();
SELECT error_of($$INSERT INTO clm_rt2_m.hist VALUES (1, 'trigger')$$) AS own_table;
CREATE TEMP TABLE stage_history (id bigint, source text);
CREATE TRIGGER t AFTER INSERT ON pg_temp.stage_history FOR EACH ROW EXECUTE FUNCTION clm.action_trigger();
SELECT error_of($$INSERT INTO pg_temp.stage_history VALUES (1, 'trigger')$$) AS temp_stage_history;
CREATE TEMP TABLE refresh_runs (id bigint, source text, mode text, status text);
CREATE TRIGGER t AFTER UPDATE ON pg_temp.refresh_runs FOR EACH ROW EXECUTE FUNCTION clm.action_trigger();
INSERT INTO pg_temp.refresh_runs VALUES (1, 'rt2_a', 'full', 'running');
SELECT error_of($$UPDATE pg_temp.refresh_runs SET status = 'ok'$$) AS temp_refresh_runs;
SELECT error_of($$CREATE TRIGGER t AFTER INSERT ON clm.scores FOR EACH STATEMENT EXECUTE FUNCTION clm.action_trigger()$$)
	AS trigger_on_clm_table;
SELECT error_of($$ALTER TABLE clm.scores DISABLE TRIGGER clm_score_changes_insert$$) AS disable_clm_trigger;
DROP TABLE pg_temp.stage_history, pg_temp.refresh_runs;
RESET ROLE;

-- announcements and score changes: only the source's owner turns them on,
-- only its owner and readers see the changes
SET ROLE clm_rt2_mallory;
SELECT error_of($$SELECT clm.announce('rt2_a')$$) AS mallory_announce;
SET ROLE clm_rt2_bob;
SELECT error_of($$SELECT clm.announce('rt2_a')$$) AS reader_announce;
SET ROLE clm_rt2_alice;
SELECT error_of($$SELECT clm.announce('rt2_a', 'c', -1)$$) AS negative_max,
	   error_of($$SELECT clm.announce('rt2_a', 'c', NULL)$$) AS null_max,
	   error_of(format('SELECT clm.announce(%L, %L)', 'rt2_a', repeat('x', 64))) AS long_channel;
SELECT clm.announce('rt2_a', 'rt2', 0) AS announce;
SELECT mode, rows, status FROM clm.refresh('rt2_a', true, '2025-08-01');
SELECT count(*) AS alice_changes FROM clm.score_changes('rt2_a');
SET ROLE clm_rt2_bob;
SELECT count(*) AS reader_changes FROM clm.score_changes('rt2_a');
SET ROLE clm_rt2_mallory;
SELECT (SELECT count(*) FROM clm.score_changes('rt2_a')) AS mallory_changes,
	   (SELECT count(*) FROM clm.score_change_log) AS mallory_log,
	   (SELECT count(*) FROM clm.score_announce) AS mallory_settings;
RESET ROLE;
UPDATE clm.scores SET p_alive = 0.5, clv = customer_key::float8 WHERE source = 'rt2_a';

-- campaigns: created over a source one owns or reads; members, report
-- and drop only by the campaign's owner
SET ROLE clm_rt2_mallory;
SELECT error_of($$SELECT * FROM clm.create_campaign('m', 'rt2_a')$$) AS mallory_creates;
SET ROLE clm_rt2_alice;
SELECT name, customers, control_customers FROM clm.create_campaign('win back', 'rt2_a', stages => '{at_risk}',
	control_share => 0.3, seed => -9223372036854775808, starts_at => '2025-06-01', window_length => '60 days');
SELECT id AS alice_campaign FROM clm.campaigns WHERE name = 'win back' \gset
SELECT grp, array_agg(customer_key::int ORDER BY customer_key::int) FROM clm.campaign_members(:alice_campaign)
GROUP BY 1 ORDER BY 1;
-- customers 1 to 10 buy again in the window, for 7 each
INSERT INTO clm_rt2_a.events SELECT c, '2025-06-15', 7 FROM generate_series(1, 10) c;
SELECT error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', control_share => 0)$$) AS share_0,
	   error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', control_share => 1)$$) AS share_1,
	   error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', control_share => 'NaN')$$) AS share_nan;
SELECT error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', starts_at => '294276-12-31 12:00:00+00',
	window_length => '1 day')$$) AS window_past_the_end,
	   error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', starts_at => 'infinity')$$) AS infinite_start,
	   error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', window_length => '-1 day')$$) AS negative_window;
SELECT error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', tiers => '{0}')$$) AS tier_0,
	   error_of($$SELECT * FROM clm.create_campaign('x', 'rt2_a', stages => '{NULL}')$$) AS null_stage,
	   error_of($$SELECT * FROM clm.create_campaign('', 'rt2_a')$$) AS empty_name,
	   error_of($$SELECT * FROM clm.create_campaign('win back', 'rt2_a')$$) AS duplicate;
SELECT name, customers, control_customers
FROM clm.create_campaign('edge', 'rt2_a', starts_at => '294276-12-30 00:00:00+00', window_length => '1 day',
	control_share => 0.999999);
SELECT grp, customers FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'edge'), 'infinity');
SET ROLE clm_rt2_mallory;
SELECT pg_temp.err('SELECT * FROM clm.campaign_members(%s)', :alice_campaign) AS mallory_members,
	   pg_temp.err('SELECT * FROM clm.campaign_report(%s)', :alice_campaign) AS mallory_report,
	   pg_temp.err('SELECT clm.drop_campaign(%s)', :alice_campaign) AS mallory_drops;
SELECT error_of(format('DELETE FROM clm.campaigns WHERE id = %s', :alice_campaign)) AS mallory_deletes,
	   (SELECT count(*) FROM clm.campaign_members) AS mallory_sees_members;
SET ROLE clm_rt2_bob;
SELECT pg_temp.err('SELECT clm.drop_campaign(%s)', :alice_campaign) AS reader_drops_owners,
	   pg_temp.err('SELECT * FROM clm.campaign_members(%s)', :alice_campaign) AS reader_members_owners;
SET ROLE clm_rt2_alice;
-- treatment returned: 2, 5, 6, 7, 9 (5 of 12, revenue 35); control: 3, 10 (2
-- of 5, 14); uplift 5/12 - 2/5 = 1/60; pooled p = 7/17, z = (1/60) /
-- sqrt(7/17 * 10/17 * (1/12 + 1/5)) = 0.063621, p-value = erfc(z / sqrt 2) = 0.949272
SELECT grp, customers, returned, revenue, round(uplift::numeric, 6) AS uplift, round(z::numeric, 6) AS z,
	round(p_value::numeric, 6) AS p_value
FROM clm.campaign_report(:alice_campaign, '2025-08-01');
RESET ROLE;

-- the two-proportion test at its edges
SELECT * FROM clm.two_proportion_test(0, 0, 0, 0);
SELECT * FROM clm.two_proportion_test(0, 10, 0, 10);
SELECT difference, round(z::numeric, 6) AS z, round(p_value::numeric, 6) AS p_value
FROM clm.two_proportion_test(9223372036854775807, 9223372036854775807, 0, 9223372036854775807);
SELECT error_of($$SELECT clm.two_proportion_test(11, 10, 0, 10)$$) AS more_than_n,
	   error_of($$SELECT clm.two_proportion_test(-1, 10, 0, 10)$$) AS negative,
	   error_of($$SELECT clm.two_proportion_test(0, -10, 0, 10)$$) AS negative_n,
	   error_of($$SELECT clm.two_proportion_test('NaN'::float8::bigint, 10, 0, 10)$$) AS nan_cannot_reach_it;

-- Hole (fixed: clm.campaign_report is a gateway that reads the events with
-- the source owner's rights through clm.run_as): the report read the events
-- table with the caller's rights.  Mallory's events are a view calling her
-- function; a reader of her source (bob) asking for his campaign's report
-- ran it with bob's rights, a superuser asking for hers with a superuser's,
-- and she became superuser.
SET ROLE clm_rt2_mallory;
CREATE TABLE clm_rt2_m.ev (customer bigint, at timestamptz, amount float8);
INSERT INTO clm_rt2_m.ev SELECT c, '2025-01-01'::timestamptz + c * interval '9 days', c FROM generate_series(1, 10) c;
CREATE VIEW clm_rt2_m.ev_view AS SELECT * FROM clm_rt2_m.ev WHERE clm_rt2_m.escalate();
GRANT SELECT ON clm_rt2_m.ev_view TO clm_rt2_bob;
SELECT name FROM clm.register('rt2_m', 'clm_rt2_m.ev_view', 'customer', 'at', 'amount', incremental => false);
SELECT mode, rows, status FROM clm.refresh('rt2_m', true, '2025-03-01');
SELECT clm.grant_scores('rt2_m', 'clm_rt2_bob');
SELECT name, customers, control_customers FROM clm.create_campaign('m', 'rt2_m', control_share => 0.5,
	starts_at => '2025-01-01', window_length => '30 days');
SELECT grp, customers, returned, revenue FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'm'),
	'2025-03-01');
SET ROLE clm_rt2_bob;
SELECT name, customers, control_customers FROM clm.create_campaign('b', 'rt2_m', control_share => 0.5,
	starts_at => '2025-01-01', window_length => '30 days');
SELECT grp, customers, returned, revenue FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'b'),
	'2025-03-01');
RESET ROLE;
SELECT grp, customers, returned, revenue FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'm'),
	'2025-03-01');
SELECT * FROM clm_rt2_status;
-- a reader without SELECT on the events may not have the report (as before)
SET ROLE clm_rt2_mallory;
REVOKE SELECT ON clm_rt2_m.ev_view FROM clm_rt2_bob;
SET ROLE clm_rt2_bob;
SELECT pg_temp.err('SELECT * FROM clm.campaign_report(%s)', (SELECT id FROM clm.campaigns WHERE name = 'b'))
	AS reader_without_select;
-- nor once the owner stopped sharing the source
SET ROLE clm_rt2_mallory;
GRANT SELECT ON clm_rt2_m.ev_view TO clm_rt2_bob;
SELECT clm.revoke_scores('rt2_m', 'clm_rt2_bob');
SET ROLE clm_rt2_bob;
SELECT pg_temp.err('SELECT * FROM clm.campaign_report(%s)', (SELECT id FROM clm.campaigns WHERE name = 'b'))
	AS reader_revoked;
-- Hole (fixed in the policy of clm.campaign_members and in
-- clm.campaign_members()): the members of his campaign, with the scores of
-- the owner's customers, stayed readable after the owner stopped sharing
-- the source
SELECT pg_temp.err('SELECT count(*) FROM clm.campaign_members(%s)', (SELECT id FROM clm.campaigns WHERE name = 'b'))
	AS reader_revoked_members,
	   (SELECT count(*) FROM clm.campaign_members) AS reader_revoked_member_rows;
-- he may still drop it
SELECT pg_temp.err('SELECT clm.drop_campaign(%s)', (SELECT id FROM clm.campaigns WHERE name = 'b')) AS drops_own;
RESET ROLE;

-- Hole (fixed in src/roles.c and clm.drop_orphans): DROP ROLE of a role
-- with campaigns left them behind, owned by its OID, for a new role given
-- that OID to inherit with their members.  Carol reads alice's source and
-- runs a campaign; her DROP ROLE removes it.
CREATE ROLE clm_rt2_carol;
SET ROLE clm_rt2_alice;
SELECT clm.grant_scores('rt2_a', 'clm_rt2_carol');
SET ROLE clm_rt2_carol;
SELECT name, customers FROM clm.create_campaign('carol', 'rt2_a', stages => '{at_risk}');
RESET ROLE;
DROP ROLE clm_rt2_carol;
SELECT count(*) AS carols_campaigns, (SELECT readers FROM clm.sources WHERE name = 'rt2_a') AS readers
FROM clm.campaigns WHERE name = 'carol';
-- in another database the next gateway call or worker run removes them
-- (clm.drop_orphans): here a campaign of an owner OID that no role has
INSERT INTO clm.campaigns (name, owner, source, control_share, seed, starts_at, window_length, customers,
	control_customers)
VALUES ('orphan', '4000000000'::oid::regrole, 'rt2_a', 0.5, 0, '2025-01-01', '1 day', 0, 0);
SELECT clm.drop_orphans() AS sources_removed;
SELECT count(*) AS orphans FROM clm.campaigns WHERE name = 'orphan';

-- Mallory shadows names before every call: her operators ahead of
-- pg_catalog, temporary tables and views named like clm's tables and the
-- catalogs first of all.  The internal functions pin search_path (pg_temp
-- last), the trigger's statements are qualified, the events are read as
-- their owner: nothing of hers runs with another role's rights.
SET ROLE clm_rt2_mallory;
CREATE FUNCTION clm_rt2_m.eq(text, text) RETURNS boolean LANGUAGE sql
AS $$ SELECT clm_rt2_m.escalate() AND $1 OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR clm_rt2_m.= (FUNCTION = clm_rt2_m.eq, LEFTARG = text, RIGHTARG = text);
CREATE FUNCTION clm_rt2_m.eq(bigint, bigint) RETURNS boolean LANGUAGE sql
AS $$ SELECT clm_rt2_m.escalate() AND $1 OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR clm_rt2_m.= (FUNCTION = clm_rt2_m.eq, LEFTARG = bigint, RIGHTARG = bigint);
CREATE FUNCTION clm_rt2_m.ne(text, text) RETURNS boolean LANGUAGE sql
AS $$ SELECT clm_rt2_m.escalate() AND $1 OPERATOR(pg_catalog.<>) $2 $$;
CREATE OPERATOR clm_rt2_m.<> (FUNCTION = clm_rt2_m.ne, LEFTARG = text, RIGHTARG = text);
CREATE FUNCTION clm_rt2_m.ge(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql
AS $$ SELECT clm_rt2_m.escalate() AND $1 OPERATOR(pg_catalog.>=) $2 $$;
CREATE OPERATOR clm_rt2_m.>= (FUNCTION = clm_rt2_m.ge, LEFTARG = timestamptz, RIGHTARG = timestamptz);
CREATE TEMP VIEW pg_class AS SELECT c.*, clm_rt2_m.escalate() AS x FROM pg_catalog.pg_class c;
CREATE TEMP VIEW pg_roles AS SELECT r.*, clm_rt2_m.escalate() AS x FROM pg_catalog.pg_roles r;
CREATE TEMP VIEW sources AS SELECT s.*, clm_rt2_m.escalate() AS x FROM clm.sources s;
CREATE TEMP VIEW scores AS SELECT s.*, clm_rt2_m.escalate() AS x FROM clm.scores s;
CREATE TEMP VIEW campaigns AS SELECT c.*, clm_rt2_m.escalate() AS x FROM clm.campaigns c;
CREATE TEMP VIEW campaign_members AS SELECT m.*, clm_rt2_m.escalate() AS x FROM clm.campaign_members m;
CREATE TEMP VIEW score_announce AS SELECT a.*, clm_rt2_m.escalate() AS x FROM clm.score_announce a;
CREATE TEMP VIEW clm_new_scores AS SELECT s.*, clm_rt2_m.escalate() AS x FROM clm.scores s;
SET search_path = pg_temp, clm_rt2_m, pg_catalog;
SELECT clm.track('clm_rt2_m.mine', 'id', 'stage', 'behavioral') AS tracked;
SELECT clm.notify('clm_rt2_m.mine', 'rt2_m') AS notify;
INSERT INTO clm_rt2_m.mine VALUES (1, 'new'), (2, 'new');
UPDATE clm_rt2_m.mine SET stage = 'active' WHERE id = 1;
SELECT clm.announce('rt2_m', 'rt2_m', 1) AS announce;
SELECT mode, rows, status FROM clm.refresh('rt2_m', true, '2025-04-01');
SELECT count(*) AS changes FROM clm.score_changes('rt2_m');
SELECT clm.set_value_tiers('rt2_m', '{0.5}') AS tiers_changed;
SELECT count(*) AS winback FROM clm.winback('rt2_m');
SELECT name, customers FROM clm.create_campaign('m2', 'rt2_m', starts_at => '2025-01-01');
SELECT count(*) AS members FROM clm.campaign_members((SELECT id FROM clm.campaigns WHERE name = 'm2'));
SELECT grp, customers, returned FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'm2'),
	'2025-03-01');
SELECT clm.drop_campaign((SELECT id FROM clm.campaigns WHERE name = 'm2')) AS dropped;
RESET search_path;
RESET ROLE;
-- a superuser with her schema first in search_path calls her functions
-- (his own statements name no operator)
SELECT id AS m_campaign FROM clm.campaigns WHERE name = 'm' \gset
SET search_path = clm_rt2_m, pg_catalog, public;
SELECT mode, rows, status FROM clm.refresh('rt2_m', true, '2025-04-01');
SELECT count(*) AS winback FROM clm.winback('rt2_m');
SELECT grp, customers, returned FROM clm.campaign_report(:m_campaign, '2025-03-01');
SELECT clm.notify('clm_rt2_m.mine', NULL) AS notify_off;
RESET search_path;
SELECT * FROM clm_rt2_status;

-- clean up
SET ROLE clm_rt2_mallory;
DROP VIEW pg_temp.pg_class, pg_temp.pg_roles, pg_temp.sources, pg_temp.scores, pg_temp.campaigns,
	pg_temp.campaign_members, pg_temp.score_announce, pg_temp.clm_new_scores;
SELECT clm.unregister('rt2_m');
SELECT clm.untrack('clm_rt2_m.mine');
SET ROLE clm_rt2_alice;
SELECT clm.unregister('rt2_a');
SELECT clm.untrack('clm_rt2_a.customers');
RESET ROLE;
SELECT count(*) AS campaigns_left FROM clm.campaigns WHERE owner::text LIKE 'clm_rt2_%';
DROP VIEW clm_rt2_status;
DROP FUNCTION pg_temp.err(text, bigint);
SET client_min_messages = warning;
DROP SCHEMA clm_rt2_a, clm_rt2_m CASCADE;
RESET client_min_messages;
DROP ROLE clm_rt2_alice, clm_rt2_bob, clm_rt2_mallory;
