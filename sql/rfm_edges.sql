-- clm.rfm_summary at input boundaries: sums of finite amounts that overflow,
-- and the ends of the timestamp range.
SET timezone = 'UTC';
-- two purchases of 1e308 in the first period: first_sum and total overflow to
-- Infinity, and monetary was Infinity - Infinity = NaN
SELECT error_of($$SELECT clm.rfm_summary(at, a, '2024-01-01')
	FROM (VALUES (timestamptz '2023-01-01', 1e308::float8), ('2023-01-01', 1e308), ('2023-02-01', 1)) v(at, a)$$) AS first_period_sum;
SELECT error_of($$SELECT clm.rfm_summary(at, a, '2024-01-01')
	FROM (VALUES (timestamptz '2023-01-01', 1::float8), ('2023-02-01', 1e308), ('2023-03-01', 1e308)) v(at, a)$$) AS total;
-- just below the largest double: total 1.7e308, monetary 1.7e308 - 1e308
SELECT (s).frequency, (s).monetary = 1.7e308::float8 - 1e308::float8 AS monetary_exact, (s).total
FROM (SELECT clm.rfm_summary(at, a, '2024-01-01') AS s
	  FROM (VALUES (timestamptz '2023-01-01', 1e308::float8), ('2023-02-01', 7e307)) v(at, a)) q;
-- the first and last valid instants: 4714-11-24 BC is a Monday (Julian day 0),
-- 294276-12-31 the last day; years from 4714 BC (-4713) to 294276: 298,989;
-- days: 109,203,527 (date '294276-12-31' - date '4714-11-24 BC'); hour periods
-- pass 2^31 (an error: the summary keeps int32 period numbers)
SELECT (s).frequency, (s).recency, (s).t, (s).periods
FROM (SELECT clm.rfm_summary(at, 1, '294276-12-31 23:59:59+00', 'year') AS s
	  FROM (VALUES (timestamptz '4714-11-24 00:00:00+00 BC'), ('294276-12-31 23:59:59+00')) v(at)) q;
SELECT (s).frequency, (s).recency, (s).t
FROM (SELECT clm.rfm_summary(at, 1, '294276-12-31 23:59:59+00', 'day') AS s
	  FROM (VALUES (timestamptz '4714-11-24 00:00:00+00 BC'), ('294276-12-31 23:59:59+00')) v(at)) q;
SELECT error_of($$SELECT clm.rfm_summary(at, 1, '294276-12-31 23:59:59+00', 'hour')
	FROM (VALUES (timestamptz '4714-11-24 00:00:00+00 BC'), ('294276-12-31 23:59:59+00')) v(at)$$) AS hours;
