-- Acting on the lifecycle, part 1: clm.winback and the value tiers, on
-- scores written by hand (so that every expected value is worked out
-- below), then on the CDNOW sample scored by a real refresh.
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

-- a source whose scores are set by hand below (the events table only
-- exists to register it)
CREATE TABLE wb_events (customer int, at timestamptz, amount numeric);
SELECT name FROM clm.register('wb', 'wb_events', 'customer', 'at', 'amount', incremental => false,
	scores_view => 'public.wb_scores');
-- customer: stage, P(alive), CLV
--   1 at_risk     0.5    100  -> clv_if_active 100 / 0.5 = 200,   at stake 200 * 0.5 = 100
--   2 dormant     0.25    30  -> 120,  120 * 0.75 = 90
--   3 churned     0.125    5  -> 40,   40 * 0.875 = 35
--   4 active      0.9    500  -> not a win-back stage
--   5 churned     0        0  -> P(alive) = 0: excluded (nothing to win back)
--   6 at_risk     0.75   300  -> 400,  400 * 0.25 = 100 (tie with 1: key order)
--   7 dormant     NULL  NULL  -> no model score: excluded
--   8 reactivated 0.5    100  -> not a win-back stage
--   9 dormant     0.5   NULL  -> no CLV (spend model unused): listed last, at stake NULL
INSERT INTO clm.scores (source, customer_key, frequency, recency, t, monetary, total, first_at, last_at,
	r_score, f_score, m_score, segment, p_alive, expected_purchases, clv, churn_risk, stage, stage_since,
	version, scored_at, run_id)
SELECT 'wb', k::text, 1, 1, 10, 10, 20, '2024-01-01', timestamptz '2024-06-01' + k * interval '1 day',
	1, 1, 1, 'Hibernating', p, NULL, v, 1 - p, s, '2024-12-31', 1, '2024-12-31', 0
FROM (VALUES (1, 'at_risk', 0.5, 100), (2, 'dormant', 0.25, 30), (3, 'churned', 0.125, 5),
			 (4, 'active', 0.9, 500), (5, 'churned', 0, 0), (6, 'at_risk', 0.75, 300),
			 (7, 'dormant', NULL, NULL), (8, 'reactivated', 0.5, 100), (9, 'dormant', 0.5, NULL))
	 x(k, s, p, v);
SELECT * FROM clm.winback('wb');
SELECT customer_key, value_at_stake FROM clm.winback('wb', 2);
SELECT count(*) AS none FROM clm.winback('wb', 0);
-- the formulas hold row by row
SELECT bool_and(clv_if_active = clv / p_alive AND value_at_stake = clv_if_active * (1 - p_alive)) AS formulas
FROM clm.winback('wb') WHERE clv IS NOT NULL;
-- bad arguments
SELECT * FROM clm.winback('wb', -1);
SELECT * FROM clm.winback(NULL);
SELECT * FROM clm.winback('no_such_source');
-- another role sees no such source (row level security of clm.sources)
SET ROLE clm_act_other;
SELECT * FROM clm.winback('wb');
RESET ROLE;

-- value tiers: 20 customers with CLV 1 .. 20 (and one without a CLV).
-- Default shares 5 % / 15 % / 30 %: tier k ends at position floor(20 * cumulative
-- share) = 1, 4, 10 of the CLVs in descending order, so the breaks are the CLVs
-- there: 20, 17, 11 -> tier 1 = {20}, 2 = {19, 18, 17}, 3 = {16 .. 11}, 4 = the other 10
DELETE FROM clm.scores WHERE source = 'wb';
INSERT INTO clm.scores (source, customer_key, frequency, recency, t, monetary, total, first_at, last_at,
	r_score, f_score, m_score, segment, p_alive, expected_purchases, clv, churn_risk, stage, stage_since,
	version, scored_at, run_id)
SELECT 'wb', k::text, 1, 1, 10, 10, 20, '2024-01-01', '2024-06-01', 1, 1, 1, 'Hibernating',
	CASE WHEN k <= 20 THEN 0.5 END, NULL, CASE WHEN k <= 20 THEN k END, 0.5, 'active', '2024-12-31', 1, '2024-12-31', 0
FROM generate_series(1, 21) k;
SELECT clm.set_value_tiers('wb') AS tiered;
SELECT shares, breaks, customers FROM clm.value_tiers WHERE source = 'wb';
SELECT tier, count(*) AS customers, min(clv), max(clv) FROM clm.scores WHERE source = 'wb' GROUP BY tier ORDER BY tier;
-- the scores view shows the tier
SELECT customer, clv, tier FROM wb_scores WHERE customer IN (20, 17, 16, 11, 10, 21) ORDER BY customer DESC;
-- at the edge: 10 customers (CLV 11 .. 20), shares 5 / 15 / 30 % end at
-- positions floor(0.5) = 0, 2, 5: tier 1 is empty (its break is NULL),
-- tier 2 = {20, 19}, tier 3 = {18, 17, 16}, tier 4 = {15 .. 11}
DELETE FROM clm.scores WHERE source = 'wb' AND customer_key::int <= 10;
SELECT clm.set_value_tiers('wb') AS changed;
SELECT breaks, customers FROM clm.value_tiers WHERE source = 'wb';
SELECT tier, count(*) AS customers, min(clv), max(clv) FROM clm.scores WHERE source = 'wb' GROUP BY tier ORDER BY tier;
-- equal CLVs share a tier: one share of 50 % of {20, 19, 18, 17, 16, 16, 16, 13, 12, 12}
-- ends at position 5 (CLV 16): the three customers with 16 are all in tier 1,
-- which has 7 customers instead of 5
UPDATE clm.scores s SET clv = v.clv FROM (VALUES ('11', 20), ('12', 19), ('13', 18), ('14', 17), ('15', 16),
	('16', 16), ('17', 16), ('18', 13), ('19', 12), ('20', 12)) v(k, clv)
WHERE s.source = 'wb' AND s.customer_key = v.k;
SELECT clm.set_value_tiers('wb', '{0.5}') AS changed;
SELECT breaks FROM clm.value_tiers WHERE source = 'wb';
SELECT tier, string_agg(clv::text, ', ' ORDER BY clv DESC) AS clvs FROM clm.scores WHERE source = 'wb'
GROUP BY tier ORDER BY tier;
-- value_tier itself
SELECT v, clm.value_tier(v, '{20,17,11}') AS tier, clm.value_tier(v, '{NULL,19,11}') AS top_empty
FROM unnest('{21,20,19.5,17,11,10.9,-5}'::float8[]) v ORDER BY v DESC;
SELECT clm.value_tier(NULL, '{1}') AS no_clv, clm.value_tier(5, '{}') AS no_breaks;
-- bad shares (22023), not yours (42501), unknown source (42704), NULL (22004)
SELECT clm.set_value_tiers('wb', '{0.5,0.6}');
SELECT clm.set_value_tiers('wb', '{0}');
SELECT clm.set_value_tiers('wb', '{0.1,NULL}');
SELECT clm.set_value_tiers('wb', '{NaN}');
SELECT clm.set_value_tiers('wb', '{-0.1}');
SELECT clm.set_value_tiers('wb', '{0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.05}');
SELECT clm.set_value_tiers('wb', '{{0.1},{0.2}}');
SELECT clm.set_value_tiers('wb', NULL);
SELECT clm.set_value_tiers('nope');
GRANT SELECT ON wb_events TO clm_act_other;
SELECT clm.grant_scores('wb', 'clm_act_other');
SET ROLE clm_act_other;
SELECT clm.set_value_tiers('wb', '{0.2}');
SELECT clm.set_value_tiers_as('clm_act_other', 'wb', '{0.2}');
-- a reader can read the tiers and the win-back list, not write the tables
SELECT count(*) AS readable FROM clm.value_tiers WHERE source = 'wb';
UPDATE clm.value_tiers SET shares = '{0.9}';
INSERT INTO clm.value_tiers (source) VALUES ('x');
SELECT clm.apply_value_tiers('wb', NULL);
RESET ROLE;
SELECT shares FROM clm.value_tiers WHERE source = 'wb';
SELECT clm.unregister('wb');
SELECT count(*) AS tiers_left FROM clm.value_tiers WHERE source = 'wb';

-- the CDNOW sample (2,357 customers) scored by a real full refresh as of
-- 1997-09-30: BG/NBD and Gamma-Gamma fitted, every customer has a CLV; the
-- tiers end at positions floor(2357 * 0.05) = 117, floor(2357 * 0.2) = 471
-- and floor(2357 * 0.5) = 1178 of the CLVs in descending order
CREATE TABLE wb_cdnow_lines (line text);
\copy wb_cdnow_lines FROM 'data/CDNOW_sample.txt'
CREATE TABLE wb_cdnow AS
SELECT split_part(l, ' ', 1)::int AS customer_id, to_date(split_part(l, ' ', 3), 'YYYYMMDD')::timestamptz AS at,
	split_part(l, ' ', 5)::numeric AS amount
FROM (SELECT regexp_replace(trim(line), '\s+', ' ', 'g') AS l FROM wb_cdnow_lines) x;
CREATE INDEX ON wb_cdnow (customer_id);
SELECT name FROM clm.register('wbc', 'wb_cdnow', 'customer_id', 'at', 'amount');
SELECT mode, rows, status FROM clm.refresh('wbc', true, '1997-09-30');
SELECT customers, array_length(breaks, 1) AS breaks FROM clm.value_tiers WHERE source = 'wbc';
SELECT tier, count(*) AS customers FROM clm.scores WHERE source = 'wbc' GROUP BY tier ORDER BY tier;
-- the breaks are the CLVs at those positions, and every tier agrees with them
SELECT v.breaks = ARRAY[(array_agg(s.clv ORDER BY s.clv DESC))[117], (array_agg(s.clv ORDER BY s.clv DESC))[471],
						(array_agg(s.clv ORDER BY s.clv DESC))[1178]] AS breaks_at_positions,
	bool_and(s.tier = clm.value_tier(s.clv, v.breaks)) AS tiers_agree
FROM clm.scores s JOIN clm.value_tiers v ON v.source = s.source WHERE s.source = 'wbc' GROUP BY v.breaks;
-- win-back candidates: every one is at_risk, dormant or churned with P(alive) > 0,
-- in descending value at stake
SELECT count(*) AS candidates, count(*) FILTER (WHERE stage NOT IN ('at_risk', 'dormant', 'churned') OR p_alive <= 0) AS wrong,
	bool_and(abs(value_at_stake - clv * (1 - p_alive) / p_alive) <= 1e-9 * clv / p_alive) AS formula
FROM clm.winback('wbc');
SELECT count(*) AS candidates FROM clm.scores WHERE source = 'wbc' AND stage IN ('at_risk', 'dormant', 'churned') AND p_alive > 0;
SELECT customer_key, stage, round(p_alive::numeric, 4) AS p_alive, round(clv::numeric, 2) AS clv,
	round(clv_if_active::numeric, 2) AS clv_if_active, round(value_at_stake::numeric, 2) AS value_at_stake, last_at::date
FROM clm.winback('wbc', 5);
-- an incremental refresh tiers the customers it scores with the breaks of
-- the last full refresh (which stay): a new customer (scored as of now, so
-- long after 1997 that its CLV is near 0: the last tier) and an old one
CREATE TEMP TABLE wb_breaks AS SELECT breaks, customers FROM clm.value_tiers WHERE source = 'wbc';
INSERT INTO wb_cdnow VALUES (99999, '1997-09-15', 50), (1, '1997-09-20', 20);
SELECT mode, rows, status FROM clm.refresh('wbc');
SELECT v.breaks = b.breaks AS breaks_kept, v.customers = b.customers AS count_kept
FROM clm.value_tiers v, wb_breaks b WHERE v.source = 'wbc';
SELECT s.customer_key, s.tier, s.tier = clm.value_tier(s.clv, v.breaks) AS agrees
FROM clm.scores s JOIN clm.value_tiers v ON v.source = s.source
WHERE s.source = 'wbc' AND s.customer_key IN ('1', '99999') ORDER BY 1;
SELECT clm.unregister('wbc');
DROP TABLE wb_cdnow_lines, wb_cdnow, wb_events;
DROP ROLE clm_act_other;
