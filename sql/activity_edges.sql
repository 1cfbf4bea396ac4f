-- clm.activity at input boundaries: a customer's span when merging stored
-- states, period and zone arguments that differ between groups, hour periods
-- around offset changes of part of an hour, the first valid instant.
SET timezone = 'UTC';

-- merging two stored states: each customer within the span limit of
-- 4,194,240 periods, their union not; the sorted merge refuses it as the
-- transition function does (it used to write a state that no reader accepted)
CREATE TEMP TABLE edge_span AS
SELECT clm.activity_agg(1, timestamptz '2000-01-01', 'hour') AS s
UNION ALL SELECT clm.activity_agg(1, timestamptz '2000-01-01' + interval '4194240 hours', 'hour');
SELECT error_of($$SELECT clm.activity_merge(s) FROM edge_span$$) AS merged;
SELECT error_of($$SELECT clm.activity_agg(1, at, 'hour')
	FROM (VALUES (timestamptz '2000-01-01'), (timestamptz '2000-01-01' + interval '4194240 hours')) v(at)$$) AS aggregated;
-- exactly 4,194,240 periods (first and last active, 4,194,239 hours apart) still fit,
-- and the merged state round-trips through its text form
CREATE TEMP TABLE edge_span_max AS
SELECT clm.activity_merge(s) AS s FROM (
	SELECT clm.activity_agg(1, timestamptz '2000-01-01', 'hour') AS s
	UNION ALL SELECT clm.activity_agg(1, timestamptz '2000-01-01' + interval '4194239 hours', 'hour')) q;
SELECT i.customers, i.first_period, i.last_period - i.first_period AS span,
       (s::text::clm.activity)::text = s::text AS round_trip
FROM edge_span_max, clm.activity_info(s) i;

-- period and zone may differ between groups (each group's rows agree): one
-- state per group, in its own unit and zone.  Kathmandu is UTC+5:45, so
-- 2024-01-31 20:00 UTC is already 1 February there (01:45), and so is
-- 2024-02-01 00:00 UTC (05:45); 2024-03-10 12:00 UTC is 17:45 on 10 March.
CREATE TEMP TABLE edge_ev (c int, at timestamptz);
INSERT INTO edge_ev VALUES (1, '2024-01-31 20:00+00'), (2, '2024-02-01 00:00+00'), (1, '2024-03-10 12:00+00');
CREATE TEMP TABLE edge_args (p text, z text);
INSERT INTO edge_args VALUES ('day', 'UTC'), ('day', 'Asia/Kathmandu'), ('month', 'UTC'), ('month', 'Asia/Kathmandu');
-- UTC days: Jan 31 .. Mar 10; Kathmandu days: Feb 1 local (Jan 31 18:15 UTC) .. Mar 10
-- local (Mar 9 18:15 UTC); UTC months Jan .. Mar; Kathmandu months Feb .. Mar (local)
SET enable_sort = off;
SELECT a.p, a.z, i.period, i.time_zone, i.customers, i.first_period, i.last_period
FROM (SELECT p, z, clm.activity_agg(c, at, p, z) AS s FROM edge_ev, edge_args GROUP BY p, z) a,
	 clm.activity_info(a.s) i
ORDER BY 1, 2;
RESET enable_sort;
SET enable_hashagg = off;
SELECT a.p, a.z, i.period, i.time_zone, i.customers, i.first_period, i.last_period
FROM (SELECT p, z, clm.activity_agg(c, at, p, z) AS s FROM edge_ev, edge_args GROUP BY p, z) a,
	 clm.activity_info(a.s) i
ORDER BY 1, 2;
RESET enable_hashagg;
-- many customers per group (expanded states), groups interleaved in hash
-- aggregation: each group's state equals the one aggregated alone
CREATE TEMP TABLE edge_many AS
SELECT g % 12 AS grp, (g * 7919) % 3000 AS c, timestamptz '2024-01-01' + (g % 400) * interval '1 day' AS at
FROM generate_series(1, 24000) g;
CREATE TEMP TABLE edge_many_args AS
SELECT grp, (ARRAY['day', 'week', 'month'])[grp % 3 + 1] AS p,
	   (ARRAY['UTC', 'Asia/Kathmandu', 'America/St_Johns', 'Pacific/Chatham'])[grp % 4 + 1] AS z
FROM generate_series(0, 11) grp;
SET enable_sort = off;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE a.s::text = (SELECT clm.activity_agg(e.c, e.at, a.p, a.z)::text
										   FROM edge_many e WHERE e.grp = a.grp)) AS same_as_alone,
	   count(DISTINCT (clm.activity_info(a.s)).period || ' ' || (clm.activity_info(a.s)).time_zone) AS unit_zone_pairs
FROM (SELECT e.grp, m.p, m.z, clm.activity_agg(e.c, e.at, m.p, m.z) AS s
	  FROM edge_many e JOIN edge_many_args m USING (grp) GROUP BY e.grp, m.p, m.z) a;
RESET enable_sort;
-- within a group they must still agree
SELECT error_of($$SELECT clm.activity_agg(c, at, 'day', z)
	FROM (VALUES (1, now(), 'UTC'), (2, now(), 'Asia/Kathmandu')) v(c, at, z)$$) AS zones_in_one_group;
SELECT error_of($$SELECT clm.activity_agg(e.c, e.at, a.p) FROM edge_ev e, edge_args a$$) AS units_in_one_group;

-- hour periods where the offset changes by part of an hour.  Kathmandu moved
-- from UTC+5:30 to +5:45 at local midnight 1986-01-01 (1985-12-31 18:30 UTC):
-- the clock went from 23:59:59 to 00:15, so the period holding 00:15-00:59
-- local begins at the change, 18:30 UTC (it was reported as 18:15 UTC, an
-- instant of the previous period).
SELECT at, (clm.activity_info(clm.activity_agg(1, at, 'hour', 'Asia/Kathmandu'))).first_period
FROM (VALUES (timestamptz '1985-12-31 18:29:59+00'), ('1985-12-31 18:30+00'), ('1985-12-31 19:14:59+00'),
			 ('1985-12-31 19:15+00')) v(at)
GROUP BY at ORDER BY at;
-- Lord Howe Island: DST (+11:00) ends at 02:00 local on 2024-04-07 (15:00 UTC),
-- back to +10:30: local 01:30-02:00 standard time is a 30-minute period starting
-- at 15:00 UTC, then 02:00-03:00 local from 15:30 UTC
SELECT at, (clm.activity_info(clm.activity_agg(1, at, 'hour', 'Australia/Lord_Howe'))).first_period
FROM generate_series(timestamptz '2024-04-06 14:00+00', '2024-04-06 16:30+00', '30 minutes') at
GROUP BY at ORDER BY at;
-- every 5 minutes over both days: each period starts at or before its
-- events, its start belongs to it, and the instant before to an earlier one
CREATE FUNCTION pg_temp.hour_start(at timestamptz, z text) RETURNS timestamptz
LANGUAGE sql AS $$ SELECT (clm.activity_info(clm.activity_agg(1, at, 'hour', z))).first_period $$;
SELECT z, count(*) AS events, count(DISTINCT s) AS periods,
	   count(*) FILTER (WHERE s > at) AS start_after_event,
	   count(*) FILTER (WHERE pg_temp.hour_start(s, z) <> s) AS start_not_in_period,
	   count(*) FILTER (WHERE pg_temp.hour_start(s - interval '1 microsecond', z) = s) AS earlier_instant_in_period
FROM (SELECT z, at, pg_temp.hour_start(at, z) AS s
	  FROM (VALUES ('Asia/Kathmandu', timestamptz '1985-12-31 12:00+00'), ('Australia/Lord_Howe', '2024-04-06 06:00+00'),
				   ('Australia/Lord_Howe', '2024-10-05 06:00+00'), ('Europe/Berlin', '2024-10-26 18:00+00')) w(z, t0),
		   generate_series(t0, t0 + interval '12 hours', '5 minutes') at) q
GROUP BY z ORDER BY z;
-- with the lifecycle: Kathmandu's periods 17:30, 18:30 (45 minutes), 19:15 UTC
SELECT period_start, customers FROM clm.lifecycle((
	SELECT clm.activity_agg(c, at, 'hour', 'Asia/Kathmandu')
	FROM (VALUES (1, timestamptz '1985-12-31 18:00+00'), (2, '1985-12-31 18:40+00'), (3, '1985-12-31 19:20+00')) v(c, at)))
WHERE status = 'new' ORDER BY period_start;

-- the first valid instant: its UTC hour starts there; in Kathmandu (local mean
-- time +5:41:16 then) its local hour began before the first valid timestamp,
-- which is an error rather than an invalid timestamp in the result
SELECT (clm.activity_info(clm.activity_agg(1, timestamptz '4714-11-24 00:00:00+00 BC', 'hour', 'UTC'))).first_period;
SELECT error_of($$SELECT clm.activity_info(clm.activity_agg(1, timestamptz '4714-11-24 00:00:00+00 BC', 'hour', 'Asia/Kathmandu'))$$) AS before_first_timestamp;

-- retention's counter matrix: with max_periods => 0 each of the 30,000,001
-- cohort periods between two customers 30 million hours apart needs 3
-- counters (size, period 0, one difference column): 90,000,003 > 50 million
-- (it allocated 720 MB and returned two rows)
SELECT error_of($$SELECT * FROM clm.retention((SELECT clm.activity_agg(c, at, 'hour')
	FROM (VALUES (1, timestamptz '2000-01-01'), (2, timestamptz '2000-01-01' + interval '30000000 hours')) v(c, at)), max_periods => 0)$$) AS long_range;
-- a million hours apart: 3,000,003 counters (24 MB) are within the limit; the
-- second cohort starts 1,000,000 hours after 2000-01-01, on 2114-01-29 at 16:00
SELECT cohort_start, period_number, cohort_size, retained, complete
FROM clm.retention((SELECT clm.activity_agg(c, at, 'hour')
	FROM (VALUES (1, timestamptz '2000-01-01'), (2, timestamptz '2000-01-01' + interval '1000000 hours')) v(c, at)), max_periods => 0)
ORDER BY cohort_start;

-- local midnight twice: America/Havana falls back from 01:00 (UTC-4) to 00:00
-- (UTC-5) on 2024-11-03, so that day begins at 04:00 UTC and 00:00-00:59 local
-- occurs at 04:00 and again at 05:00 UTC.  The day (and the week of Monday
-- 2024-10-28, the month of November) began before the repeated hour; the day
-- was reported as 05:00 UTC, after events of the day (as date_trunc does).
SELECT at, at AT TIME ZONE 'America/Havana' AS local,
	   (clm.activity_info(clm.activity_agg(1, at, 'day', 'America/Havana'))).first_period AS day
FROM (VALUES (timestamptz '2024-11-03 03:59:59+00'), ('2024-11-03 04:00+00'), ('2024-11-03 04:30+00'),
			 ('2024-11-03 05:00+00'), ('2024-11-03 06:00+00')) v(at)
GROUP BY at ORDER BY at;
SELECT p, (clm.activity_info(clm.activity_agg(1, timestamptz '2024-11-03 04:30+00', p, 'America/Havana'))).first_period
FROM unnest(ARRAY['day', 'week', 'month']) p GROUP BY p ORDER BY p;
-- every 30 minutes for two days around that day and around the Santiago and
-- Asuncion days whose midnight is skipped (the day begins at 01:00 local): no
-- start after an event, each start in its own period, the instant before it
-- in another
CREATE FUNCTION pg_temp.day_start(at timestamptz, z text) RETURNS timestamptz
LANGUAGE sql AS $$ SELECT (clm.activity_info(clm.activity_agg(1, at, 'day', z))).first_period $$;
SELECT z, count(*) AS events, count(DISTINCT s) AS periods,
	   count(*) FILTER (WHERE s > at) AS start_after_event,
	   count(*) FILTER (WHERE pg_temp.day_start(s, z) <> s) AS start_not_in_period,
	   count(*) FILTER (WHERE pg_temp.day_start(s - interval '1 microsecond', z) = s) AS earlier_instant_in_period
FROM (SELECT z, at, pg_temp.day_start(at, z) AS s
	  FROM (VALUES ('America/Havana', timestamptz '2024-11-02 12:00+00'), ('America/Santiago', '2024-09-07 12:00+00'),
				   ('America/Asuncion', '2024-10-05 12:00+00')) w(z, t0),
		   generate_series(t0, t0 + interval '47 hours 30 minutes', '30 minutes') at) q
GROUP BY z ORDER BY z;

-- a bad range or ending is an error also with a NULL or empty state (as a bad
-- option of clm.retention or clm.stickiness already was); it gave no rows
SELECT error_of($$SELECT * FROM clm.lifecycle(NULL, 'infinity')$$) AS lifecycle_null_state;
SELECT error_of($$SELECT * FROM clm.churn_rate(NULL, '2024-03-01', '2024-02-01')$$) AS churn_rate_null_state;
SELECT error_of($$SELECT * FROM clm.stickiness(NULL, 3, '-infinity')$$) AS stickiness_null_state;
-- an empty state: version 1, month, integer keys, no flags, zero times and
-- periods, no customers, zone "UTC"
SELECT error_of(format('SELECT * FROM clm.lifecycle(%L::clm.activity, NULL, %L)',
	'01030100' || repeat('00', 20) || '00000000' || '03' || encode('UTC', 'hex'), 'infinity')) AS lifecycle_empty_state;
