-- clm.activity on the CDNOW master data (23,570 customers who first bought in
-- 1997 Q1, purchases to 1998-06-30): monthly cohort retention, lifecycle and
-- churn compared with plain-SQL reference queries written here.
SET timezone = 'UTC';
CREATE TABLE cdnow_master_lines (line text);
\copy cdnow_master_lines FROM 'data/CDNOW_master.txt'
CREATE TABLE cdnow_master AS
SELECT f[1]::int AS id, to_date(f[2], 'YYYYMMDD')::timestamptz AS at, f[3]::int AS cds, f[4]::numeric AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM cdnow_master_lines) s
WHERE f[1] <> 'customer_id';
ANALYZE cdnow_master;
SELECT count(*) AS purchases, count(DISTINCT id) AS customers, min(at) AS first, max(at) AS last FROM cdnow_master;
CREATE TABLE cdnow_activity AS SELECT clm.activity_agg(id, at, 'month') AS s FROM cdnow_master;
SELECT (clm.activity_info(s)).* FROM cdnow_activity;

-- plain-SQL reference: distinct (customer, month) pairs and each customer's first month
CREATE TABLE cdnow_months AS SELECT DISTINCT id, date_trunc('month', at) AS mon FROM cdnow_master;
CREATE INDEX ON cdnow_months (id, mon);
ANALYZE cdnow_months;
CREATE TABLE cdnow_first AS SELECT id, min(mon) AS cohort, max(mon) AS last_mon FROM cdnow_months GROUP BY id;
CREATE VIEW cdnow_retention_sql AS
WITH sz AS (SELECT cohort, count(*) AS size FROM cdnow_first GROUP BY cohort),
     lastp AS (SELECT max(mon) AS last FROM cdnow_months),
     grid AS (SELECT cohort, size, n, cohort + n * interval '1 month' AS mon, last
              FROM sz, lastp, generate_series(0, 100) n
              WHERE cohort + n * interval '1 month' <= last),
     act AS (SELECT f.cohort, m.mon, count(*) AS retained
             FROM cdnow_months m JOIN cdnow_first f USING (id) GROUP BY 1, 2),
     later AS (SELECT g.cohort, g.n, count(f.id) AS retained
               FROM grid g LEFT JOIN cdnow_first f ON f.cohort = g.cohort AND f.last_mon >= g.mon
               GROUP BY 1, 2)
SELECT g.cohort AS cohort_start, g.n::int AS period_number, g.size AS cohort_size,
       coalesce(a.retained, 0) AS retained, coalesce(a.retained, 0)::float8 / g.size AS rate,
       g.mon < g.last AS complete, l.retained AS retained_on_or_after
FROM grid g LEFT JOIN act a ON a.cohort = g.cohort AND a.mon = g.mon
JOIN later l ON l.cohort = g.cohort AND l.n = g.n;

-- the three monthly cohorts of 1997 Q1; the retention table starts like this
SELECT cohort_start::date, period_number, cohort_size, retained, round(rate::numeric, 4) AS rate, complete
FROM clm.retention((SELECT s FROM cdnow_activity))
WHERE period_number <= 3 OR period_number >= 15
ORDER BY cohort_start, period_number;
-- and equals the reference in every cell (51 cells: 18 + 17 + 16 months)
SELECT count(*) AS cells,
       count(*) FILTER (WHERE c.cohort_size = r.cohort_size AND c.retained = r.retained
                          AND c.rate = r.rate AND c.complete = r.complete) AS identical
FROM clm.retention((SELECT s FROM cdnow_activity)) c
FULL JOIN cdnow_retention_sql r USING (cohort_start, period_number);
SELECT count(*) AS cells,
       count(*) FILTER (WHERE c.retained = r.retained_on_or_after) AS identical_on_or_after
FROM clm.retention((SELECT s FROM cdnow_activity), 'on_or_after') c
FULL JOIN cdnow_retention_sql r USING (cohort_start, period_number);

-- lifecycle reference: each (customer, month) with whether the previous month was active
CREATE VIEW cdnow_lifecycle_sql AS
WITH cur AS (SELECT m.id, m.mon, f.cohort, p.id IS NOT NULL AS prev_active
             FROM cdnow_months m JOIN cdnow_first f USING (id)
             LEFT JOIN cdnow_months p ON p.id = m.id AND p.mon = m.mon - interval '1 month'),
     months AS (SELECT generate_series(min(cohort), max(last_mon), interval '1 month') AS mon FROM cdnow_first),
     counts AS (
       SELECT mon, CASE WHEN mon = cohort THEN 'new' WHEN prev_active THEN 'returning' ELSE 'resurrecting' END AS status,
              count(*) AS customers
       FROM cur GROUP BY 1, 2
       UNION ALL
       SELECT m.mon + interval '1 month', 'dormant', count(*)
       FROM cdnow_months m LEFT JOIN cdnow_months n ON n.id = m.id AND n.mon = m.mon + interval '1 month'
       WHERE n.id IS NULL AND m.mon + interval '1 month' <= (SELECT max(mon) FROM cdnow_months)
       GROUP BY 1)
SELECT months.mon AS period_start, st.status, coalesce(c.customers, 0) AS customers
FROM months CROSS JOIN (VALUES ('new'), ('returning'), ('resurrecting'), ('dormant')) st(status)
LEFT JOIN counts c ON c.mon = months.mon AND c.status = st.status;

SELECT period_start::date, status, customers, round(quick_ratio::numeric, 3) AS quick_ratio
FROM clm.lifecycle((SELECT s FROM cdnow_activity))
WHERE period_start < '1997-06-01' OR period_start >= '1998-04-01'
ORDER BY period_start, array_position(ARRAY['new', 'returning', 'resurrecting', 'dormant'], status);
-- identical to the reference for all 18 months x 4 statuses
SELECT count(*) AS rows, count(*) FILTER (WHERE c.customers = r.customers) AS identical
FROM clm.lifecycle((SELECT s FROM cdnow_activity)) c
FULL JOIN cdnow_lifecycle_sql r USING (period_start, status);

-- churn: reference from the same pairs
SELECT count(*) AS periods,
       count(*) FILTER (WHERE c.active_previous = r.prev AND c.retained = r.kept
                          AND c.churned = r.prev - r.kept) AS identical
FROM clm.churn_rate((SELECT s FROM cdnow_activity)) c
FULL JOIN (SELECT p.mon + interval '1 month' AS period_start, count(*) AS prev, count(n.id) AS kept
           FROM cdnow_months p LEFT JOIN cdnow_months n ON n.id = p.id AND n.mon = p.mon + interval '1 month'
           WHERE p.mon < '1998-06-01' GROUP BY 1) r
USING (period_start);
SELECT period_start::date, active_previous, churned, retained, round(churn_rate::numeric, 4) AS churn_rate
FROM clm.churn_rate((SELECT s FROM cdnow_activity)) WHERE period_start <= '1997-06-01' ORDER BY 1;

-- stickiness over 1998 H1 (6 months), against a count of active months
SELECT s.active_periods, s.customers, s.customers_at_least, r.customers AS reference
FROM clm.stickiness((SELECT s FROM cdnow_activity), 6) s
LEFT JOIN (SELECT k, count(*) AS customers FROM (
			SELECT id, count(*) AS k FROM cdnow_months WHERE mon >= '1998-01-01' GROUP BY id) q GROUP BY k) r
	ON r.k = s.active_periods
ORDER BY 1;

-- the stored state: bytes per customer (monthly periods, integer keys)
SELECT (clm.activity_info(s)).customers, (clm.activity_info(s)).bytes,
       round((clm.activity_info(s)).bytes::numeric / (clm.activity_info(s)).customers, 2) AS bytes_per_customer,
       pg_column_size(s) AS stored_bytes
FROM cdnow_activity;
