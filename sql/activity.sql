-- clm.activity: hand-computed fixtures (skips, dormancy and return, born
-- before the window, midnight boundaries, DST), key types, merge algebra,
-- type I/O round trips and every bad input's SQLSTATE.
SET timezone = 'UTC';
CREATE TABLE act_events (c int, at timestamptz, born timestamptz);
INSERT INTO act_events VALUES
	-- c1: Jan, Feb, Apr (skips March); 23:59:59 on Apr 30 is still April
	(1, '2024-01-10', NULL), (1, '2024-01-20', NULL), (1, '2024-02-05', NULL),
	(1, '2024-04-30 23:59:59', NULL),
	-- c2: Feb (from midnight on the 1st), Mar, dormant Apr and May, back in Jun
	(2, '2024-02-01 00:00:00', NULL), (2, '2024-03-15', NULL), (2, '2024-06-01', NULL),
	-- c3: profile created (born) in November 2023, before any event: Feb, Mar
	(3, '2024-02-10', '2023-11-15'), (3, '2024-03-10', '2023-11-15'),
	-- c4: the last microsecond of January, and midnight starting March
	(4, '2024-01-31 23:59:59.999999', NULL), (4, '2024-03-01 00:00:00', NULL),
	-- c5: May only
	(5, '2024-05-31', NULL),
	-- skipped rows: NULL customer, NULL time
	(NULL, '2024-01-01', NULL), (6, NULL, NULL);
CREATE TABLE act_days AS
SELECT timestamptz '2020-01-01' + g * interval '1 day' AS at FROM generate_series(1, 300) g WHERE g % 7 <> 3;
CREATE TABLE act_state AS
SELECT clm.activity_agg(c, at, 'month', 'UTC', born) AS s,
       clm.activity_agg(c, at, 'month') AS s_noborn
FROM act_events;

-- 5 customers (6 has no event time); first cohort period = c3's born month
SELECT (clm.activity_info(s)).* FROM act_state;

-- first-time cohorts, "on": Nov 2023 {c3}: active in N = 3 (Feb) and 4 (Mar) only;
-- Jan {c1, c4}: Feb c1, Mar c4, Apr c1; Feb {c2}: Mar, Jun; May {c5}.
-- June (the period of the last event) has not elapsed: complete = false.
SELECT * FROM clm.retention((SELECT s FROM act_state)) ORDER BY cohort_start, period_number;
-- "on or after": Jan: c4's last month is Mar (N 2), c1's Apr (N 3): 2 2 2 1 0 0
SELECT cohort_start, period_number, retained, rate
FROM clm.retention((SELECT s FROM act_state), mode => 'on_or_after')
ORDER BY cohort_start, period_number;
-- relative to the previous period: Jan: 2/2, 1/2, 1/1, 1/1, 0/1, 0/0 (NULL)
SELECT cohort_start, period_number, retained, rate
FROM clm.retention((SELECT s FROM act_state), ref => 'previous')
WHERE cohort_start = '2024-01-01' ORDER BY period_number;
-- recurring cohorts: every active month is a cohort: Jan {c1,c4}, Feb {c1,c2,c3},
-- Mar {c2,c3,c4}, Apr {c1}, May {c5}, Jun {c2}; Nov and Dec have nobody
SELECT cohort_start, period_number, cohort_size, retained
FROM clm.retention((SELECT s FROM act_state), cohort => 'recurring')
ORDER BY cohort_start, period_number;
SELECT cohort_start, period_number, cohort_size, retained
FROM clm.retention((SELECT s FROM act_state), 'on_or_after', 'recurring', max_periods => 2)
ORDER BY cohort_start, period_number;
-- without born_at, c3's cohort is February: Feb {c2, c3}
SELECT cohort_start, period_number, cohort_size, retained
FROM clm.retention((SELECT s_noborn FROM act_state), max_periods => 1)
ORDER BY cohort_start, period_number;

-- lifecycle: Jan new c1 c4; Feb new c2, returning c1, resurrecting c3 (born in Nov),
-- dormant c4; Mar returning c2 c3, resurrecting c4, dormant c1; Apr resurrecting c1,
-- dormant c2 c3 c4; May new c5, dormant c1 (c2 is not dormant again); Jun
-- resurrecting c2, dormant c5.  Quick ratio = (new + resurrecting) / dormant.
SELECT period_start, status, customers, round(quick_ratio::numeric, 4) AS quick_ratio
FROM clm.lifecycle((SELECT s FROM act_state))
ORDER BY period_start, array_position(ARRAY['new', 'returning', 'resurrecting', 'dormant'], status);
-- a window; without born_at c3 is new in February
SELECT period_start, status, customers
FROM clm.lifecycle((SELECT s_noborn FROM act_state), '2024-02-15', '2024-02-15')
ORDER BY array_position(ARRAY['new', 'returning', 'resurrecting', 'dormant'], status);

-- churn: Feb: of {c1, c4} c4 left; Mar: of {c1, c2, c3} c1 left; Apr: all of
-- {c2, c3, c4} left; May: c1 left; Jun: c5 left
SELECT period_start, active_previous, churned, retained, round(churn_rate::numeric, 4) AS churn_rate
FROM clm.churn_rate((SELECT s FROM act_state)) ORDER BY period_start;
SELECT period_start, active_previous, churned, retained
FROM clm.churn_rate((SELECT s FROM act_state), '2024-03-01', '2024-03-31') ORDER BY period_start;

-- stickiness: Apr..Jun: c1 {Apr}, c5 {May}, c2 {Jun}: three customers once each
SELECT * FROM clm.stickiness((SELECT s FROM act_state), 3) ORDER BY active_periods;
-- Jan..Apr: c1 3 months, c2 c3 c4 2 months each
SELECT * FROM clm.stickiness((SELECT s FROM act_state), 4, '2024-04-15') ORDER BY active_periods;

-- ISO weeks start on Monday: Sunday 2024-01-07 23:59:59 and Monday 2024-01-08 00:00
-- are two periods, the week of 2024-01-01 and that of 2024-01-08
SELECT (clm.activity_info(clm.activity_agg(c, at, 'week'))).first_period,
       (clm.activity_info(clm.activity_agg(c, at, 'week'))).last_period,
       (SELECT count(*) FROM clm.retention(clm.activity_agg(c, at, 'week'))) AS cells
FROM (VALUES (1, timestamptz '2024-01-07 23:59:59'), (1, '2024-01-08 00:00')) v(c, at);

-- DST in New York, daily periods: 2024-03-10 has 23 hours (05:00 to 04:00 UTC),
-- 2024-11-03 has 25 hours (04:00 to 05:00 UTC).  One customer per event; each
-- is new on its local day.
SELECT period_start, customers
FROM clm.lifecycle((SELECT clm.activity_agg(c, at, 'day', 'America/New_York') FROM (VALUES
	(1, timestamptz '2024-03-10 04:59:59+00'),	-- 03-09 23:59:59 EST
	(2, '2024-03-10 05:00:00+00'),				-- 03-10 00:00 EST
	(3, '2024-03-11 03:59:59+00'),				-- 03-10 23:59:59 EDT
	(4, '2024-03-11 04:00:00+00')) v(c, at)))	-- 03-11 00:00 EDT
WHERE status = 'new' ORDER BY period_start;
SELECT period_start, customers
FROM clm.lifecycle((SELECT clm.activity_agg(c, at, 'day', 'America/New_York') FROM (VALUES
	(1, timestamptz '2024-11-03 05:30+00'),		-- 01:30 EDT
	(2, '2024-11-03 06:30+00'),					-- 01:30 EST, same local day
	(3, '2024-11-04 04:59:59+00'),				-- 23:59:59 EST
	(4, '2024-11-04 05:00:00+00')) v(c, at)))	-- 11-04 00:00 EST
WHERE status = 'new' ORDER BY period_start;
-- hours: 01:30 EDT and 01:30 EST on 2024-11-03 are two hour periods (05:00 and 06:00 UTC)
SELECT period_start, customers
FROM clm.lifecycle((SELECT clm.activity_agg(c, at, 'hour', 'America/New_York') FROM (VALUES
	(1, timestamptz '2024-11-03 05:30+00'), (2, '2024-11-03 06:30+00')) v(c, at)))
WHERE status = 'new' ORDER BY period_start;
-- quarters: Q4 2023 {c3} active in Q1 only; Q1 2024 {c1, c2, c4}: c1 and c2 in Q2; Q2 {c5}.
-- years: 2023 {c3} active in 2024; 2024 {c1, c2, c4, c5}
SELECT cohort_start, period_number, cohort_size, retained, complete
FROM clm.retention((SELECT clm.activity_agg(c, at, 'quarter', 'UTC', born) FROM act_events))
ORDER BY 1, 2;
SELECT cohort_start, period_number, cohort_size, retained, complete
FROM clm.retention((SELECT clm.activity_agg(c, at, 'year', 'UTC', born) FROM act_events))
ORDER BY 1, 2;
-- the session time zone is the default and is stored in the state
SET timezone = 'Asia/Tokyo';
SELECT (clm.activity_info(clm.activity_agg(1, timestamptz '2024-01-31 20:00+00', 'month'))).*;
SET timezone = 'UTC';

-- exact keys: bigint keys equal modulo 2^32, the int64 extremes (delta encoding
-- over the full range), text keys differing in case/trailing space, uuid keys
SELECT (clm.activity_info(s)).customers, (clm.activity_info(s)).key_type,
       s::text::clm.activity::text = s::text AS text_round_trip
FROM (SELECT clm.activity_agg(k, at, 'day') AS s FROM (VALUES
	(1::bigint, timestamptz '2024-01-01'), (4294967297, '2024-01-01'),
	(-9223372036854775808, '2024-01-02'), (9223372036854775807, '2024-01-03'),
	(1, '2024-01-05')) v(k, at)) q;
SELECT (clm.activity_info(s)).customers, (clm.activity_info(s)).key_type,
       s::text::clm.activity::text = s::text AS text_round_trip
FROM (SELECT clm.activity_agg(k, at, 'day') AS s FROM (VALUES
	('a'::text, timestamptz '2024-01-01'), ('A', '2024-01-01'), ('a ', '2024-01-01'),
	('', '2024-01-02'), ('a', '2024-01-09')) v(k, at)) q;
SELECT (clm.activity_info(s)).customers, (clm.activity_info(s)).key_type,
       s::text::clm.activity::text = s::text AS text_round_trip
FROM (SELECT clm.activity_agg(k, at, 'day') AS s FROM (VALUES
	('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, timestamptz '2024-01-01'),
	('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '2024-01-01'),
	('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-04')) v(k, at)) q;
-- retention of the text keys: 'a' came back on day 8
SELECT cohort_start, period_number, cohort_size, retained
FROM clm.retention((SELECT clm.activity_agg(k, at, 'day') FROM (VALUES
	('a'::text, timestamptz '2024-01-01'), ('A', '2024-01-01'), ('a ', '2024-01-01'),
	('a', '2024-01-09')) v(k, at)), max_periods => 8)
WHERE period_number IN (0, 8) ORDER BY 1, 2;
-- the stored form of a known state, byte for byte: version 1, month, int keys,
-- last event, base/first/last period 24288 (2024-01) .. 24290, 2 customers, "UTC",
-- then (key 7: zigzag 14, lo +0, 3 periods, middle bit 0) and (delta 1, lo +1, 1 period)
SELECT clm.activity_agg(c, at, 'month')::text
FROM (VALUES (7, timestamptz '2024-01-05'), (7, '2024-03-05'), (8, '2024-02-01')) v(c, at);
-- a customer's events in any order give the same state (earlier periods shift the
-- bitmap, spans over 128 days use heap words): days 1..300 except every 7th from
-- day 3 (43 days) = 257 active days, seen as 257 recurring cohorts
SELECT count(DISTINCT s::text) AS distinct_states,
       min((SELECT count(*) FROM clm.retention(s, cohort => 'recurring', max_periods => 0))) AS active_days
FROM (SELECT clm.activity_agg(1, at, 'day' ORDER BY at) AS s FROM act_days
      UNION ALL SELECT clm.activity_agg(1, at, 'day' ORDER BY at DESC) FROM act_days
      UNION ALL SELECT clm.activity_agg(1, at, 'day' ORDER BY md5(at::text)) FROM act_days) q;

-- empty and all-NULL input give NULL; accessors of NULL give no rows
SELECT clm.activity_agg(c, at, 'month') IS NULL AS empty_is_null FROM act_events WHERE false;
SELECT clm.activity_agg(NULL::int, NULL::timestamptz, 'month') IS NULL AS nulls_are_null;
SELECT count(*) AS rows_of_null FROM clm.retention(NULL);

-- merging: states of three slices of the events, in every grouping and order,
-- give the stored form of the whole (the form is canonical: keys sorted)
CREATE TABLE act_parts AS
SELECT k, clm.activity_agg(c, at, 'month', 'UTC', born) AS s
FROM (SELECT *, (row_number() OVER (ORDER BY at, c)) % 3 AS k FROM act_events) e
GROUP BY k;
SELECT count(*) AS parts FROM act_parts;
SELECT (SELECT clm.activity_merge(s ORDER BY k) FROM act_parts)::text = s::text AS merge_abc,
       (SELECT clm.activity_merge(s ORDER BY k DESC) FROM act_parts)::text = s::text AS merge_cba,
       (SELECT clm.activity_merge(x) FROM (
			SELECT (SELECT clm.activity_merge(s) FROM act_parts WHERE k IN (0, 1)) AS x
			UNION ALL SELECT s FROM act_parts WHERE k = 2) q)::text = s::text AS merge_ab_c,
       (SELECT clm.activity_merge(x) FROM (
			SELECT s AS x FROM act_parts WHERE k = 0
			UNION ALL SELECT (SELECT clm.activity_merge(s) FROM act_parts WHERE k IN (1, 2))) q)::text = s::text AS merge_a_bc,
       (SELECT clm.activity_merge(x) FROM (SELECT s AS x FROM act_state UNION ALL SELECT s FROM act_state) q)::text = s::text AS idempotent
FROM act_state;
-- daily roll-up: one monthly-unit state per day, merged into the month's state
SELECT (SELECT clm.activity_merge(s) FROM (
			SELECT clm.activity_agg(c, at, 'month', 'UTC', born) AS s FROM act_events GROUP BY at::date) d)::text
       = (SELECT s::text FROM act_state) AS daily_rollup;
-- two states of similar size are merged in one sorted pass (no hash table):
-- text keys, overlapping customers, spans of ~300 days
SELECT (SELECT clm.activity_merge(s ORDER BY g) FROM (
			SELECT g, clm.activity_agg(k, at, 'day', 'UTC', at - interval '400 days') AS s
			FROM (SELECT at, k, (row_number() OVER (ORDER BY at, k)) % 2 AS g
				  FROM act_days, (VALUES ('x'), ('y'), ('zz')) v(k) WHERE k <> 'zz' OR at < '2020-06-01') d
			GROUP BY g) q)::text
       = (SELECT clm.activity_agg(k, at, 'day', 'UTC', at - interval '400 days')::text
          FROM act_days, (VALUES ('x'), ('y'), ('zz')) v(k) WHERE k <> 'zz' OR at < '2020-06-01') AS sorted_merge;
-- dense integer keys (ids 1..20000) are kept in an array indexed by key; a far key (v 2),
-- a span over 64 months (v 3) and 3000 negative keys arriving last (v 4) move or
-- grow it.  Every variant equals the same events with text keys (hash table) in
-- retention and lifecycle, and the byte-identical state built by merging halves,
-- or a big state with the late rows
CREATE TABLE act_dense_rows AS
SELECT v, g AS ord, g::bigint AS c,
       timestamptz '2024-01-01' + (g % 7) * interval '1 month' + (g % 5) * interval '1 day' AS at
FROM generate_series(1, 20000) g, generate_series(1, 4) v
UNION ALL SELECT 2, 30000, 1000000000000, '2024-03-01'
UNION ALL SELECT 3, 30000, 5, '2031-01-01'
UNION ALL SELECT 4, 30000 + g, -g, '2024-02-01' FROM generate_series(1, 3000) g;
WITH s AS (SELECT v, clm.activity_agg(c, at, 'month' ORDER BY ord) AS si,
                  clm.activity_agg(c::text, at, 'month' ORDER BY ord) AS st
           FROM act_dense_rows GROUP BY v)
SELECT v, (clm.activity_info(si)).customers,
       (SELECT count(*) FROM clm.retention(si)) AS cells,
       (SELECT count(*) FROM (SELECT * FROM clm.retention(si) EXCEPT SELECT * FROM clm.retention(st)) x)
         + (SELECT count(*) FROM (SELECT * FROM clm.retention(st) EXCEPT SELECT * FROM clm.retention(si)) y) AS retention_diff,
       (SELECT count(*) FROM (SELECT * FROM clm.lifecycle(si) EXCEPT SELECT * FROM clm.lifecycle(st)) x)
         + (SELECT count(*) FROM (SELECT * FROM clm.lifecycle(st) EXCEPT SELECT * FROM clm.lifecycle(si)) y) AS lifecycle_diff,
       (SELECT clm.activity_merge(p) FROM (SELECT clm.activity_agg(c, at, 'month') AS p FROM act_dense_rows r
                                           WHERE r.v = s.v GROUP BY ord % 2) q)::text = si::text AS halves_merged,
       (SELECT clm.activity_merge(p ORDER BY o) FROM (
			SELECT 0 AS o, clm.activity_agg(c, at, 'month') AS p FROM act_dense_rows r WHERE r.v = s.v AND ord < 30000
			UNION ALL SELECT 1, clm.activity_agg(c, at, 'month') FROM act_dense_rows r WHERE r.v = s.v AND ord >= 30000) q)::text
         IS NOT DISTINCT FROM si::text AS late_rows_merged
FROM s ORDER BY v;
-- integer keys at the ends of bigint: a dense array must never span more than
-- the int64 keys (the whole range at once, or growing up to INT64_MAX or down
-- to INT64_MIN in key order); same customers and cells as text keys
CREATE TABLE act_extreme_rows AS
SELECT 1 AS v, 0 AS ord, '-9223372036854775808'::bigint AS c, timestamptz '2024-01-01' AS at
UNION ALL SELECT 1, 1, 9223372036854775807, '2024-02-01'
UNION ALL SELECT 1, g + 1, g, timestamptz '2024-01-01' + (g % 3) * interval '1 month' FROM generate_series(1, 5000) g
UNION ALL SELECT 2, g, 9223372036854775807 - 9000 + g, timestamptz '2024-01-01' + (g % 4) * interval '1 month' FROM generate_series(0, 9000) g
UNION ALL SELECT 3, 9000 - g, '-9223372036854775808'::bigint + g, timestamptz '2024-01-01' + (g % 4) * interval '1 month' FROM generate_series(0, 9000) g;
WITH s AS (SELECT v, clm.activity_agg(c, at, 'month' ORDER BY ord) AS si,
                  clm.activity_agg(c, at, 'month' ORDER BY ord DESC) AS sd,
                  clm.activity_agg(c::text, at, 'month') AS st
           FROM act_extreme_rows GROUP BY v)
SELECT v, (clm.activity_info(si)).customers, si::text = sd::text AS order_free,
       (SELECT count(*) FROM (SELECT * FROM clm.retention(si) EXCEPT SELECT * FROM clm.retention(st)) x)
         + (SELECT count(*) FROM (SELECT * FROM clm.retention(st) EXCEPT SELECT * FROM clm.retention(si)) y) AS retention_diff,
       si::text::clm.activity::text = si::text AS round_trip
FROM s ORDER BY v;
DROP TABLE act_extreme_rows;
-- NULL states are skipped by activity_merge
SELECT clm.activity_merge(x)::text = (SELECT s::text FROM act_state) AS nulls_skipped
FROM (SELECT s AS x FROM act_state UNION ALL SELECT NULL) q;

-- the convenience wrapper reads a table by its column names, quoted safely
CREATE TABLE "Act Events" ("Customer Id" int, "When" timestamptz);
INSERT INTO "Act Events" SELECT c, at FROM act_events;
SELECT * FROM clm.retention_of('"Act Events"', 'Customer Id', 'When', max_periods => 2)
ORDER BY cohort_start, period_number;
SELECT count(*) AS same_as_retention
FROM clm.retention_of('act_events', 'c', 'at') r
JOIN clm.retention((SELECT s_noborn FROM act_state)) q USING (cohort_start, period_number, cohort_size, retained, complete);
SELECT error_of($$SELECT * FROM clm.retention_of('act_events', 'c; DROP TABLE act_events', 'at')$$);
SELECT error_of($$SELECT * FROM clm.retention_of('no_such_table', 'c', 'at')$$);
SELECT error_of($$SELECT * FROM clm.retention_of('act_events', 'c', 'at', 'fortnight')$$);
SELECT error_of($$SELECT * FROM clm.retention_of('act_events', NULL, 'at')$$);

-- bad input: each error with its SQLSTATE
SELECT error_of($$SELECT clm.activity_agg(c, at, 'fortnight') FROM act_events$$);
SELECT error_of($$SELECT clm.activity_agg(c, at, NULL) FROM act_events$$);
SELECT error_of($$SELECT clm.activity_agg(c, at, 'month', 'Mars/Olympus') FROM act_events$$);
SELECT error_of($$SELECT clm.activity_agg(c, at, 'month', NULL) FROM act_events$$);
SELECT error_of($$SELECT clm.activity_agg(1, timestamptz 'infinity', 'month')$$);
SELECT error_of($$SELECT clm.activity_agg(1, now(), 'month', 'UTC', '-infinity')$$);
SELECT error_of($$SELECT clm.activity_agg(c, at, p) FROM (VALUES (1, now(), 'day'), (1, now(), 'week')) v(c, at, p)$$);
SELECT error_of($$SELECT * FROM clm.retention((SELECT s FROM act_state), mode => 'sometimes')$$);
SELECT error_of($$SELECT * FROM clm.retention((SELECT s FROM act_state), cohort => 'second_time')$$);
SELECT error_of($$SELECT * FROM clm.retention((SELECT s FROM act_state), ref => 'next')$$);
SELECT error_of($$SELECT * FROM clm.retention((SELECT s FROM act_state), mode => NULL)$$);
SELECT error_of($$SELECT * FROM clm.retention((SELECT s FROM act_state), max_periods => -1)$$);
SELECT error_of($$SELECT * FROM clm.retention((SELECT clm.activity_agg(1, at, 'hour') FROM (VALUES (timestamptz '2000-01-01'), ('2024-01-01')) v(at)))$$);
SELECT error_of($$SELECT * FROM clm.lifecycle((SELECT s FROM act_state), '2024-03-01', '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.churn_rate((SELECT s FROM act_state), '2024-03-01', '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.lifecycle((SELECT s FROM act_state), 'infinity')$$);
SELECT error_of($$SELECT * FROM clm.stickiness((SELECT s FROM act_state), 0)$$);
SELECT error_of($$SELECT * FROM clm.stickiness((SELECT s FROM act_state), NULL)$$);
-- merging states of different units, key types or zones
SELECT error_of($$SELECT clm.activity_merge(x) FROM (SELECT clm.activity_agg(c, at, 'month') AS x FROM act_events
	UNION ALL SELECT clm.activity_agg(c, at, 'day') FROM act_events) q$$);
SELECT error_of($$SELECT clm.activity_merge(x) FROM (SELECT clm.activity_agg(c, at, 'month') AS x FROM act_events
	UNION ALL SELECT clm.activity_agg(c::text, at, 'month') FROM act_events) q$$);
SELECT error_of($$SELECT clm.activity_merge(x) FROM (SELECT clm.activity_agg(c, at, 'month') AS x FROM act_events
	UNION ALL SELECT clm.activity_agg(c, at, 'month', 'Europe/Paris') FROM act_events) q$$);
-- support functions outside an aggregate
SELECT error_of($$SELECT clm.activity_combine(s, s) FROM act_state$$);
SELECT error_of($$SELECT clm.activity_accum(NULL, 1, now(), 'day')$$);

-- garbage given to the type's input function: SQLSTATE, message and detail
CREATE FUNCTION pg_temp.in_error(v text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
	PERFORM v::clm.activity;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || d;
END
$$;
SELECT v, pg_temp.in_error(v) FROM (VALUES ('', 1), ('hello', 2), (repeat('zz', 40), 3), (repeat('0', 81), 4), (repeat('00', 40), 5)) t(v, o) ORDER BY o;
-- a valid empty state (no customers) is accepted; then one wrong field at a time
SELECT (clm.activity_info('0103010000000000000000000000000000000000000000000000000003555443'::clm.activity)).*;
SELECT what, pg_temp.in_error(v) FROM (VALUES
	('version 2', '0203010000000000000000000000000000000000000000000000000003555443', 1),
	('unit 9', '0109010000000000000000000000000000000000000000000000000003555443', 2),
	('key kind 7', '0103070000000000000000000000000000000000000000000000000003555443', 3),
	('flags', '0103010100000000000000000000000000000000000000000000000003555443', 4),
	('unknown zone', '0103010000000000000000000000000000000000000000000000000003585858', 5),
	('zone length', '0103010000000000000000000000000000000000000000000000000009555443', 6),
	('zero zone length', '0103010000000000000000000000000000000000000000000000000000555443', 7),
	('empty with a range', '0103010000000000000000000000000100000000000000000000000003555443', 8),
	('one byte more', '010301000000000000000000000000000000000000000000000000000355544300', 9),
	('one byte less', '01030100000000000000000000000000000000000000000000000000035554', 10)) t(what, v, o) ORDER BY o;
-- the two-customer state above: accepted as is; each corruption is rejected
SELECT pg_temp.in_error('010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e000300010201') AS known_state;
SELECT what, pg_temp.in_error(v) FROM (VALUES
	('cut by one byte', '010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e0003000102', 1),
	('one byte added', '010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e00030001020101', 2),
	('second key delta 0', '010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e000300000201', 3),
	('header last period wrong', '010301000002b5dd4ac1400000005ee000005ee000005ee300000002035554430e000300010201', 4),
	('header first period wrong', '010301000002b5dd4ac1400000005ee000005edf00005ee200000002035554430e000300010201', 5),
	('period count 0', '010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e0000000201', 6),
	('padding bit set', '010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e000302010201', 7),
	('non-minimal number', '010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554438e00000300010201', 8),
	('customer count 3', '010301000002b5dd4ac1400000005ee000005ee000005ee200000003035554430e000300010201', 9),
	('customer count huge', '010301000002b5dd4ac1400000005ee000005ee000005ee27fffffff035554430e000300010201', 10),
	('number too long', '010301000002b5dd4ac1400000005ee000005ee000005ee20000000203555443ffffffffffffffffffffff', 11),
	('infinite last event', '010301007fffffffffffffff00005ee000005ee000005ee200000002035554430e000300010201', 12)) t(what, v, o) ORDER BY o;

-- random corruption: 3000 mutations of valid states (one to three bytes changed,
-- or cut short); each gives a valid state (which then round-trips) or 22P02
SELECT setseed(0.25);
CREATE FUNCTION pg_temp.mutate_all(n int) RETURNS TABLE (outcome text, cnt bigint)
LANGUAGE plpgsql AS $$
DECLARE
	srcs text[] := ARRAY[(SELECT s::text FROM act_state),
		(SELECT clm.activity_agg(k, at, 'day')::text FROM (VALUES ('a'::text, timestamptz '2024-01-01'), ('bb', '2024-01-07'), ('bb', '2024-03-01')) v(k, at)),
		(SELECT clm.activity_agg(k, at, 'week')::text FROM (VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, timestamptz '2024-01-01'), ('00000000-0000-0000-0000-000000000001', '2024-02-20')) v(k, at))];
	res text[] := '{}';
	src text; m text; pos int; r text; st clm.activity;
BEGIN
	FOR i IN 1..n LOOP
		src := srcs[1 + (i % 3)];
		m := src;
		IF random() < 0.15 THEN
			m := left(src, (random() * length(src))::int);
		ELSE
			FOR j IN 1..(1 + (random() * 2)::int) LOOP
				pos := 1 + (random() * (length(m) / 2 - 1))::int * 2;
				m := overlay(m placing lpad(to_hex((random() * 255)::int), 2, '0') from pos for 2);
			END LOOP;
		END IF;
		BEGIN
			st := m::clm.activity;
			r := CASE WHEN st::text = m THEN 'valid, round-trips' ELSE 'valid, NOT round-tripping' END;
			PERFORM count(*) FROM clm.retention(st, max_periods => 3);
			PERFORM count(*) FROM clm.lifecycle(st);
		EXCEPTION WHEN OTHERS THEN
			r := CASE WHEN SQLSTATE IN ('22P02', '54000') THEN 'error ' || SQLSTATE ELSE 'unexpected ' || SQLSTATE || ' ' || SQLERRM END;
		END;
		res := res || r;
	END LOOP;
	RETURN QUERY SELECT u, count(*) FROM unnest(res) u GROUP BY u;
END
$$;
SELECT * FROM pg_temp.mutate_all(3000) ORDER BY outcome;

-- binary receive: bytes read back into a clm.activity column through COPY
-- BINARY go through activity_recv (public.recv_of, sql/00_setup.sql)
CREATE FUNCTION pg_temp.recv_check(b bytea) RETURNS text
LANGUAGE sql AS $$
SELECT CASE WHEN r = 'ok: ' || encode(b, 'hex') THEN 'received, identical'
            WHEN r LIKE 'ok: %' THEN 'received, DIFFERENT' ELSE r END
FROM public.recv_of(b, 'clm.activity') r
$$;
SELECT pg_temp.recv_check(decode((SELECT s::text FROM act_state), 'hex')) AS valid_state;
SELECT pg_temp.recv_check(clm.activity_send((SELECT s FROM act_state))) AS sent_state;
SELECT pg_temp.recv_check('\x'::bytea) AS empty;
SELECT pg_temp.recv_check('\xdeadbeef'::bytea) AS short_garbage;
SELECT pg_temp.recv_check(decode(repeat('ff', 64), 'hex')) AS long_garbage;
SELECT pg_temp.recv_check(decode('010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e000300000201', 'hex')) AS keys_out_of_order;
SELECT pg_temp.recv_check(decode('010301000002b5dd4ac1400000005ee000005ee000005ee200000002035554430e0003000102', 'hex')) AS truncated;
SELECT error_of(format('COPY (SELECT 1 WHERE false) TO PROGRAM %L', 'rm -f /tmp/clm_activity_recv_' || pg_backend_pid() || '.bin')) AS cleanup;
