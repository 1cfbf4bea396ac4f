-- Month, quarter and year bucketing of many rows over a long span: after
-- 256 rows a bucketing cache maps days to months through a 5.6-year table
-- built around the current row; rows outside the table are computed.  One
-- event per customer, so each customer's first period is the period of its
-- only event: the "new" counts of clm.lifecycle must equal a GROUP BY of
-- date_trunc in the same time zone (DST zone; events on local month
-- boundaries and one microsecond before them included).
SET timezone = 'America/New_York';
SELECT setseed(0.11);
CREATE TABLE pm_ev AS
SELECT g AS customer,
       CASE WHEN g % 3 = 0 THEN date_trunc('month', t)
            WHEN g % 3 = 1 THEN date_trunc('month', t) - interval '1 microsecond'
            ELSE t END AS at
FROM (SELECT g, timestamptz '1950-01-01' + random() * interval '100 years' AS t
      FROM generate_series(1, 6000) g) s
ORDER BY random();
-- the lifecycle rows of one state against the plain-SQL counts per period
CREATE FUNCTION pm_check(unit text) RETURNS TABLE (periods bigint, mismatches bigint)
LANGUAGE sql AS $$
	WITH c AS (SELECT period_start, customers FROM clm.lifecycle(
	             (SELECT clm.activity_agg(customer, at, unit) FROM pm_ev)) WHERE status = 'new'),
	     s AS (SELECT date_trunc(unit, at) AS period_start, count(*) AS customers FROM pm_ev GROUP BY 1)
	SELECT count(*), count(*) FILTER (WHERE c.customers IS DISTINCT FROM s.customers)
	FROM s LEFT JOIN c USING (period_start)
$$;
SELECT u, (pm_check(u)).* FROM unnest(ARRAY['month', 'quarter', 'year']) u ORDER BY u;
-- every period with a "new" row is one of the plain-SQL periods
SELECT count(*) AS extra_clm_periods
FROM clm.lifecycle((SELECT clm.activity_agg(customer, at, 'month') FROM pm_ev)) c
WHERE status = 'new' AND customers > 0
  AND NOT EXISTS (SELECT 1 FROM pm_ev WHERE date_trunc('month', at) = c.period_start);
DROP FUNCTION pm_check(text);
DROP TABLE pm_ev;
RESET timezone;
