-- Acting on the lifecycle, part 3: campaigns measured against a control
-- group.  Members are selected from a source's scores (written by hand
-- here), assigned deterministically to treatment or control, and the report
-- counts their purchases in the window from the source's events table.
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

-- the two-proportion z test, worked out by hand:
-- 6 of 10 against 2 of 10: pooled p = 8/20 = 0.4, se = sqrt(0.4 * 0.6 * (1/10 + 1/10))
-- = sqrt(0.048) = 0.2190890, z = 0.4 / 0.2190890 = 1.8257419,
-- p = 2 (1 - Phi(1.8257419)) = erfc(1.8257419 / sqrt 2) = 0.0678892
SELECT round(difference::numeric, 10) AS difference, round(z::numeric, 7) AS z, round(p_value::numeric, 7) AS p_value
FROM clm.two_proportion_test(6, 10, 2, 10);
-- 30 of 100 against 20 of 100: p = 0.25, se = sqrt(0.25 * 0.75 * 0.02) = 0.0612372,
-- z = 0.1 / 0.0612372 = 1.6329932, p = 0.1024704; swapping the groups flips z only
SELECT v.x1, v.x2, round(t.z::numeric, 7) AS z, round(t.p_value::numeric, 7) AS p_value
FROM (VALUES (30, 20), (20, 30)) v(x1, x2), LATERAL clm.two_proportion_test(v.x1, 100, v.x2, 100) t
ORDER BY v.x1 DESC;
-- no variance (nobody or everybody returned), an empty group: NULL
SELECT * FROM clm.two_proportion_test(0, 10, 0, 5);
SELECT * FROM clm.two_proportion_test(10, 10, 5, 5);
SELECT * FROM clm.two_proportion_test(3, 10, 0, 0);
SELECT * FROM clm.two_proportion_test(11, 10, 0, 5);
SELECT * FROM clm.two_proportion_test(-1, 10, 0, 5);
SELECT * FROM clm.two_proportion_test(1, 10, 0, -5);

-- a source with 30 customers whose scores are set by hand: customers 1-20
-- dormant (1-10 in segment 'At Risk', tier 1; 11-20 'Hibernating', tier 3),
-- 21-30 active
CREATE TABLE cp_events (customer int, at timestamptz, amount numeric);
CREATE INDEX ON cp_events (customer);
SELECT name FROM clm.register('cp', 'cp_events', 'customer', 'at', 'amount', incremental => false);
INSERT INTO clm.scores (source, customer_key, frequency, recency, t, monetary, total, first_at, last_at,
	r_score, f_score, m_score, segment, p_alive, expected_purchases, clv, churn_risk, stage, stage_since,
	version, scored_at, run_id, tier)
SELECT 'cp', k::text, 1, 1, 10, 10, 20, '2024-01-01', '2024-03-01', 1, 1, 1,
	CASE WHEN k <= 10 THEN 'At Risk' ELSE 'Hibernating' END, 0.4, NULL, 100 - k, 0.6,
	CASE WHEN k <= 20 THEN 'dormant' ELSE 'active' END, '2024-12-31', 1, '2024-12-31', 0,
	CASE WHEN k <= 10 THEN 1 WHEN k <= 20 THEN 3 ELSE 4 END
FROM generate_series(1, 30) k;

-- the 20 dormant customers, half of them in control, window of 30 days from 2025-01-01
SELECT id > 0 AS has_id, name, owner, source, stages, segments, tiers, control_share, seed, starts_at,
	window_length, customers, control_customers
FROM clm.create_campaign('winback_jan', 'cp', stages => '{dormant}', control_share => 0.5, seed => 42,
	starts_at => '2025-01-01', window_length => '30 days');
SELECT id AS jan FROM clm.campaigns WHERE name = 'winback_jan' \gset
SELECT grp, count(*) AS members, min(stage) AS stage FROM clm.campaign_members(:jan) GROUP BY grp ORDER BY grp DESC;
-- deterministic: the same seed over the same customers gives the same
-- groups (another seed other ones); the control group is the
-- round(n * share) members first in the order of hashtextextended(key, seed)
SELECT name FROM clm.create_campaign('winback_jan_again', 'cp', stages => '{dormant}', control_share => 0.5,
	seed => 42, starts_at => '2025-01-01');
SELECT name FROM clm.create_campaign('winback_seed7', 'cp', stages => '{dormant}', control_share => 0.5, seed => 7);
SELECT c.name, c.control_customers, count(*) AS members, count(*) FILTER (WHERE a.grp = b.grp) AS same_group
FROM clm.campaigns c
JOIN clm.campaign_members a ON a.campaign_id = c.id
JOIN clm.campaign_members b ON b.campaign_id = :jan AND b.customer_key = a.customer_key
WHERE c.name IN ('winback_jan_again', 'winback_seed7') GROUP BY c.name, c.control_customers ORDER BY c.name;
SELECT bool_and(m.grp = CASE WHEN h.rn <= 10 THEN 'control' ELSE 'treatment' END) AS control_is_first_by_hash
FROM clm.campaign_members m
JOIN (SELECT customer_key, row_number() OVER (ORDER BY hashtextextended(customer_key, 42), customer_key) AS rn
	  FROM clm.scores WHERE source = 'cp' AND stage = 'dormant') h USING (customer_key)
WHERE m.campaign_id = :jan;
-- the share is respected: round(n * share) of the 30 customers in control
-- (3, 7.5 -> 8, 9.9 -> 10), but at least one in each group (0.99: 29, 0.01: 1)
SELECT v.n, (SELECT c.control_customers FROM clm.create_campaign(v.n, 'cp', control_share => v.s, seed => 1) c)
FROM (VALUES ('share_10', 0.1), ('share_25', 0.25), ('share_33', 0.33), ('share_99', 0.99), ('share_01', 0.01)) v(n, s);
SELECT c.name, c.customers, c.control_customers, count(*) FILTER (WHERE m.grp = 'control') AS control_members,
	count(*) FILTER (WHERE m.grp = 'treatment') AS treatment_members
FROM clm.campaigns c JOIN clm.campaign_members m ON m.campaign_id = c.id
WHERE c.name LIKE 'share%' GROUP BY c.id ORDER BY c.id;
-- selection by segment and tier (NULL: any)
SELECT name, customers FROM clm.create_campaign('seg', 'cp', segments => '{At Risk}', control_share => 0.2);
SELECT name, customers FROM clm.create_campaign('tier', 'cp', tiers => '{3,4}', control_share => 0.2);
SELECT name, customers FROM clm.create_campaign('both', 'cp', stages => '{dormant}', tiers => '{3}', control_share => 0.2);
SELECT bool_and(m.segment = 'At Risk') AS all_at_risk, count(*) AS members
FROM clm.campaign_members m JOIN clm.campaigns c ON c.id = m.campaign_id WHERE c.name = 'seg';

-- purchases: the first 6 treatment members (by key) buy 10 in the window,
-- the first of them twice; the first 2 control members buy 5 in the window;
-- purchases before the start, at the end (the window is half-open) and
-- after it do not count
CREATE TEMP TABLE cp_groups AS
SELECT customer_key::int AS customer, grp, row_number() OVER (PARTITION BY grp ORDER BY customer_key::int) AS k
FROM clm.campaign_members m WHERE m.campaign_id = :jan;
INSERT INTO cp_events
SELECT customer, timestamptz '2025-01-05', 10 FROM cp_groups WHERE grp = 'treatment' AND k <= 6
UNION ALL SELECT customer, '2025-01-20', 10 FROM cp_groups WHERE grp = 'treatment' AND k = 1
UNION ALL SELECT customer, '2025-01-10', 5 FROM cp_groups WHERE grp = 'control' AND k <= 2
UNION ALL SELECT customer, '2024-12-31 23:59:59', 1000 FROM cp_groups WHERE k IN (7, 8)
UNION ALL SELECT customer, '2025-01-31', 1000 FROM cp_groups WHERE k IN (9)
UNION ALL SELECT customer, '2025-03-01', 1000 FROM cp_groups WHERE k IN (10)
UNION ALL SELECT 25, '2025-01-05', 1000;		-- not a member
-- treatment 6 of 10 returned, revenue 70 (7 per customer); control 2 of 10,
-- revenue 10 (1 per customer): uplift 0.4, z 1.8257419, p 0.0678892 (above)
SELECT grp, customers, returned, return_rate, revenue, revenue_per_customer, round(uplift::numeric, 10) AS uplift,
	round(z::numeric, 7) AS z, round(p_value::numeric, 7) AS p_value, window_start, window_end, complete
FROM clm.campaign_report(:jan, '2025-06-01');
-- before the end of the window: what happened so far (complete = false)
SELECT grp, customers, returned, revenue, window_end, complete FROM clm.campaign_report(:jan, '2025-01-15');
-- before the start: an empty window
SELECT grp, returned, z, window_end FROM clm.campaign_report(:jan, '2024-06-01');
-- event times without a time zone are read in the source's time zone: as
-- timestamps in UTC+1 (Europe/Paris in winter), the purchase at 23:59:59
-- UTC on 2024-12-31 becomes 2025-01-01 00:59:59 local = 23:59:59 UTC again
ALTER TABLE cp_events ALTER COLUMN at TYPE timestamp USING at AT TIME ZONE 'Europe/Paris';
UPDATE clm.sources SET time_zone = 'Europe/Paris' WHERE name = 'cp';
SELECT grp, returned, revenue FROM clm.campaign_report(:jan, '2025-06-01');
-- read in UTC instead, the local times are an hour later: 2024-12-31 23:59:59
-- UTC was stored as 2025-01-01 00:59:59 and now falls in the window
UPDATE clm.sources SET time_zone = 'UTC' WHERE name = 'cp';
SELECT grp, returned, revenue FROM clm.campaign_report(:jan, '2025-06-01');

-- bad input
SELECT * FROM clm.create_campaign('winback_jan', 'cp');
SELECT * FROM clm.create_campaign('x', 'cp', control_share => 0);
SELECT * FROM clm.create_campaign('x', 'cp', control_share => 1);
SELECT * FROM clm.create_campaign('x', 'cp', control_share => NULL);
SELECT * FROM clm.create_campaign('x', 'cp', control_share => 'NaN');
SELECT * FROM clm.create_campaign('x', 'cp', window_length => '-1 day');
SELECT * FROM clm.create_campaign('x', 'cp', window_length => '0');
SELECT * FROM clm.create_campaign('x', 'cp', starts_at => 'infinity');
SELECT * FROM clm.create_campaign('x', 'cp', stages => '{churned}');
SELECT * FROM clm.create_campaign('x', 'cp', stages => '{}');
SELECT * FROM clm.create_campaign('x', 'cp', stages => '{dormant,NULL}');
SELECT * FROM clm.create_campaign('x', 'cp', tiers => '{0}');
SELECT * FROM clm.create_campaign('', 'cp');
SELECT * FROM clm.create_campaign(NULL, 'cp');
SELECT * FROM clm.create_campaign('x', 'nope');
SELECT * FROM clm.campaign_report(-1);
SELECT grp, returned, round(z::numeric, 7) AS z, window_end, complete FROM clm.campaign_report(:jan, 'infinity');
SELECT * FROM clm.campaign_report(NULL);
SELECT * FROM clm.campaign_members(-1);
SELECT clm.drop_campaign(-1);

-- another role: sees no campaign of ours, cannot drop one, cannot write
-- the tables, cannot create a campaign over a source it cannot read; once
-- it may read the source, it creates and sees its own campaigns only
SET ROLE clm_act_other;
SELECT count(*) AS campaigns_visible FROM clm.campaigns;
SELECT count(*) AS members_visible FROM clm.campaign_members;
SELECT clm.drop_campaign(:jan);
SELECT * FROM clm.campaign_members(:jan);
SELECT * FROM clm.create_campaign('mine', 'cp');
RESET ROLE;
SELECT clm.grant_scores('cp', 'clm_act_other');
SET ROLE clm_act_other;
SELECT clm.drop_campaign_as('clm_act_other', :jan);
DELETE FROM clm.campaigns;
INSERT INTO clm.campaign_members VALUES (1, 'x', 'control');
UPDATE clm.campaign_members SET grp = 'control';
SELECT * FROM clm.create_campaign_as('clm_act_other', 'x', 'cp', NULL, NULL, NULL, 0.5, 1, now(), '1 day');
-- a hostile role's temporary domain named "text" (temporary types come
-- first in the search path) would run its CHECK with the extension owner's
-- rights if the functions run as the owner used unqualified type names:
-- they do not, so the spy runs as clm_act_other only (when the role itself
-- casts) and never as the owner
CREATE FUNCTION pg_temp.clm_act_spy(v pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'spy ran as %', current_user;
	RETURN true;
END
$$;
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.clm_act_spy(VALUE));
CREATE DOMAIN pg_temp.timestamptz AS pg_catalog.timestamptz CHECK (pg_temp.clm_act_spy(VALUE::pg_catalog.text));
SET client_min_messages = notice;
\set VERBOSITY terse
SELECT 'the spy works'::text AS spy_check;
SELECT name, customers FROM clm.create_campaign('spied', 'cp', stages => '{active}', segments => '{Hibernating}',
	control_share => 0.5);
SELECT name, customers, control_customers FROM clm.create_campaign('spied_too', 'cp', stages => '{active}', control_share => 0.3);
RESET client_min_messages;
\set VERBOSITY sqlstate
DROP DOMAIN pg_temp.text;
DROP DOMAIN pg_temp.timestamptz;
DROP FUNCTION pg_temp.clm_act_spy(pg_catalog.text);
SELECT clm.drop_campaign(id) FROM clm.campaigns WHERE name IN ('spied', 'spied_too');
-- nor can the role's own "=" operator (first in its search path) make
-- the ownership checks pass for a source it cannot read (42704)
RESET ROLE;
CREATE SCHEMA clm_act_evil AUTHORIZATION clm_act_other;
CREATE TABLE cp_hidden (customer int, at timestamptz, amount numeric);
SELECT name FROM clm.register('cp_hidden', 'cp_hidden', 'customer', 'at', 'amount', incremental => false);
SET ROLE clm_act_other;
CREATE FUNCTION clm_act_evil.always(a pg_catalog.text, b pg_catalog.text) RETURNS boolean
	LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR clm_act_evil.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = clm_act_evil.always);
SET search_path = clm_act_evil, pg_catalog;
SELECT * FROM clm.create_campaign('leak', 'cp_hidden');
SELECT clm.set_value_tiers('cp_hidden', '{0.5}');
SELECT clm.announce('cp_hidden');
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA clm_act_evil CASCADE;
RESET client_min_messages;
RESET ROLE;
SELECT clm.unregister('cp_hidden');
DROP TABLE cp_hidden;
SET ROLE clm_act_other;
SELECT name, customers, control_customers FROM clm.create_campaign('mine', 'cp', stages => '{active}', control_share => 0.3);
SELECT name FROM clm.campaigns;
-- its report reads the events with its own rights
SELECT * FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'mine'));
RESET ROLE;
GRANT SELECT ON cp_events TO clm_act_other;
SET ROLE clm_act_other;
SELECT grp, customers, returned FROM clm.campaign_report((SELECT id FROM clm.campaigns WHERE name = 'mine'), '2025-06-01');
RESET ROLE;
SELECT name, owner FROM clm.campaigns ORDER BY id;
SELECT clm.drop_campaign((SELECT id FROM clm.campaigns WHERE name = 'winback_seed7'));
SELECT count(*) AS campaigns FROM clm.campaigns;
-- unregistering the source drops its campaigns
SELECT clm.unregister('cp');
SELECT count(*) AS campaigns, (SELECT count(*) FROM clm.campaign_members) AS members FROM clm.campaigns;
DROP TABLE cp_events;
DROP ROLE clm_act_other;
