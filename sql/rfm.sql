-- clm.rfm_summary: hand-computed fixtures, units, DST, bad input, and the
-- published CDNOW calibration summary.
SET timezone = 'UTC';
CREATE TABLE rfm_events (customer int, at timestamptz, amount float8);
INSERT INTO rfm_events VALUES
	-- customer 1: two purchases on 2024-01-01 (one day period), then
	-- 2024-01-03 and 2024-01-10; the 2024-02-01 purchase is after as_of
	(1, '2024-01-01 10:00', 10), (1, '2024-01-01 18:00', 5),
	(1, '2024-01-03 09:00', 20), (1, '2024-01-10 23:59', 30),
	(1, '2024-02-01 12:00', 100),
	-- customer 2: nothing up to as_of -> NULL summary
	(2, '2024-03-01', 50),
	-- customer 3: one purchase; rows with a NULL are skipped
	(3, '2024-01-05', 7), (3, NULL, 8), (3, '2024-01-06', NULL);

-- days: periods {01-01, 01-03, 01-10}: frequency 2, recency 9, t 14 (to 01-15),
-- monetary (20 + 30) / 2 = 25, total 65 over 4 events
SELECT customer, (s).*
FROM (SELECT customer, clm.rfm_summary(at, amount, '2024-01-15') AS s
      FROM rfm_events GROUP BY customer) q
ORDER BY customer;

-- day buckets expressed in weeks: recency 9/7, t 14/7 = 2
SELECT customer, (s).frequency, round((s).recency::numeric, 4) AS recency, (s).t, (s).monetary
FROM (SELECT customer, clm.rfm_summary(at, amount, '2024-01-15', 'day', 'week') AS s
      FROM rfm_events GROUP BY customer) q
ORDER BY customer;

-- ISO weeks (2024-01-01 is a Monday): weeks {W1: 10+5+20, W2: 30}, as_of in W3:
-- frequency 1, recency 1, t 2, monetary 30
SELECT customer, (s).frequency, (s).recency, (s).t, (s).monetary, (s).periods
FROM (SELECT customer, clm.rfm_summary(at, amount, '2024-01-15', 'week') AS s
      FROM rfm_events GROUP BY customer) q
ORDER BY customer;

-- months to 2024-03-05: {Jan: 65, Feb: 100}: frequency 1, recency 1, t 2, monetary 100;
-- in days: recency = Jan 1 -> Feb 1 = 31, t = Jan 1 -> Mar 1 = 60 (2024 is a leap year)
SELECT customer, (m).frequency, (m).recency, (m).t, (m).monetary,
       (d).recency AS recency_days, (d).t AS t_days
FROM (SELECT customer, clm.rfm_summary(at, amount, '2024-03-05', 'month') AS m,
             clm.rfm_summary(at, amount, '2024-03-05', 'month', 'day') AS d
      FROM rfm_events GROUP BY customer) q
ORDER BY customer;

-- quarters and years, in months: customer 1's Q1 only -> frequency 0, t = Q1 -> Q3 = 6 months
SELECT (clm.rfm_summary(at, amount, '2024-08-01', 'quarter', 'month')).*
FROM rfm_events WHERE customer = 1;
SELECT (clm.rfm_summary(at, amount, '2026-08-01', 'year', 'quarter')).t AS t_quarters
FROM rfm_events WHERE customer = 1;
-- day buckets in months use the mean Gregorian month (30.436875 days): 9 / 30.436875
SELECT round((clm.rfm_summary(at, amount, '2024-01-15', 'day', 'month')).recency::numeric, 6) AS recency_months
FROM rfm_events WHERE customer = 1;

-- many periods arriving out of order (exercises in-place compaction and growth):
-- 300 events on the 50 days (37 i mod 50), 6 per day: frequency 49, recency 49,
-- monetary 6, total 300
SELECT (s).frequency, (s).recency, (s).monetary, (s).periods, (s).total, (s).events
FROM (SELECT clm.rfm_summary(at, 1, '2024-12-31') AS s
      FROM (SELECT timestamptz '2024-01-01' + ((i * 37) % 50) * interval '1 day' + (i % 7) * interval '1 hour' AS at
            FROM generate_series(1, 300) i ORDER BY (i * 7919) % 301) v) q;

-- as a running window aggregate (the final function keeps the state usable):
-- customer 1's frequency after each purchase: 0, 0, 1, 2, then 2 (the
-- 2024-02-01 purchase is after as_of)
SELECT at, (clm.rfm_summary(at, amount, '2024-01-15') OVER (ORDER BY at)).frequency
FROM rfm_events WHERE customer = 1 ORDER BY at;

-- empty input and all-NULL input give NULL
SELECT clm.rfm_summary(at, amount, '2024-01-15') IS NULL AS empty_is_null FROM rfm_events WHERE false;
SELECT clm.rfm_summary(NULL::timestamptz, NULL::float8, NULL::timestamptz) IS NULL AS nulls_are_null;

-- time zones: periods follow the session's local calendar
SET timezone = 'America/New_York';
-- 2024-03-10 has 23 hours in New York: noon 03-09 to noon 03-11 is still 2 days
SELECT (s).recency, (s).t
FROM (SELECT clm.rfm_summary(at, 1, '2024-03-12 00:30') AS s
      FROM (VALUES (timestamptz '2024-03-09 12:00'), ('2024-03-11 12:00')) v(at)) q;
-- 2024-11-03 01:30 EDT and 01:30 EST are distinct hours but the same local day
SELECT (clm.rfm_summary(at, 1, '2024-11-04', 'hour')).periods AS hour_periods,
       (clm.rfm_summary(at, 1, '2024-11-04', 'day')).periods AS day_periods,
       (clm.rfm_summary(at, 1, '2024-11-04', 'hour')).recency AS hours_apart
FROM (VALUES (timestamptz '2024-11-03 01:30-04'), ('2024-11-03 01:30-05')) v(at);
-- 23:30 local on 2024-01-01 is already 2024-01-02 in UTC: one day period locally
SELECT (clm.rfm_summary(at, 1, '2024-01-05')).periods AS local_days
FROM (VALUES (timestamptz '2024-01-01 00:10'), ('2024-01-01 23:30')) v(at);
SET timezone = 'UTC';
SELECT (clm.rfm_summary(at, 1, '2024-01-05')).periods AS utc_days
FROM (VALUES (timestamptz '2024-01-01 00:10-05'), ('2024-01-01 23:30-05')) v(at);

-- bad input: each error with its SQLSTATE
SELECT error_of($$SELECT clm.rfm_summary(now(), 'NaN', now())$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), 'Infinity', now())$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), -5, now())$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), 5, now(), 'fortnight')$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), 5, now(), 'day', 'lightyear')$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), 5, now(), NULL)$$);
SELECT error_of($$SELECT clm.rfm_summary('infinity', 5, now())$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), 5, '-infinity')$$);
SELECT error_of($$SELECT clm.rfm_summary(at, 5, at) FROM (VALUES (now()), (now() - interval '1 day')) v(at)$$);
SELECT error_of($$SELECT clm.rfm_summary(now(), 5, now(), p) FROM (VALUES ('day'), ('week')) v(p)$$);

-- CDNOW sample (2,357 customers): daily periods, weeks as the unit, calibration
-- to 1997-09-30, against the published summary (x, t_x, T, zbar to 2 decimals)
CREATE TABLE cdnow_lines (line text);
\copy cdnow_lines FROM 'data/CDNOW_sample.txt'
CREATE TABLE cdnow_sample AS
SELECT f[2]::int AS id, to_date(f[3], 'YYYYMMDD')::timestamptz AS at, f[4]::int AS cds, f[5]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM cdnow_lines) s;
CREATE TABLE cdnow_reference (id int, x int, t_x numeric, "T" numeric, zbar numeric);
\copy cdnow_reference FROM 'data/cdnow_customers_summary_with_transactions.csv' WITH (FORMAT csv, HEADER)
SELECT count(*) AS rows, count(DISTINCT id) AS customers FROM cdnow_sample;
CREATE TABLE cdnow_summary AS
SELECT id, (s).* FROM (
	SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') AS s
	FROM cdnow_sample GROUP BY id) q;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.frequency = r.x) AS x_equal,
       count(*) FILTER (WHERE round(s.recency::numeric, 2) = r.t_x) AS t_x_equal,
       count(*) FILTER (WHERE round(s.t::numeric, 2) = r."T") AS t_equal,
       count(*) FILTER (WHERE abs(s.monetary::numeric - r.zbar) <= 0.005) AS zbar_equal,
       sum(s.frequency) AS sum_x,
       count(*) FILTER (WHERE s.frequency > 0) AS repeaters
FROM cdnow_reference r JOIN cdnow_summary s USING (id);
-- a few customers in full
SELECT id, frequency, round(recency::numeric, 2) AS recency, round(t::numeric, 2) AS t,
       round(monetary::numeric, 2) AS monetary, periods, round(total::numeric, 2) AS total, events
FROM cdnow_summary WHERE id IN (1, 2, 3, 4, 5, 18) ORDER BY id;
