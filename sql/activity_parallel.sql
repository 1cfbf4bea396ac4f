-- clm.activity_agg and clm.activity_merge under partial aggregation: the plan
-- splits into Partial and Finalize aggregates (the combine function merges
-- states shipped from the workers as flat values) and the states are
-- identical, byte for byte, to the serial ones.  Uses cdnow_master from
-- activity_cdnow.sql (a regular table: temp tables are never scanned in parallel).
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;
CREATE TABLE act_serial AS
SELECT clm.activity_agg(id, at, 'month') AS s, clm.activity_agg(id::text, at, 'week', 'Europe/Paris') AS t
FROM cdnow_master;
CREATE TABLE act_serial_grouped AS
SELECT cds % 3 AS g, clm.activity_agg(id, at, 'month') AS s FROM cdnow_master GROUP BY 1;
CREATE TABLE act_daily AS
SELECT at::date AS d, clm.activity_agg(id, at, 'month') AS s FROM cdnow_master GROUP BY 1;
ANALYZE act_daily;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT clm.activity_agg(id, at, 'month'), clm.activity_agg(id::text, at, 'week', 'Europe/Paris') FROM cdnow_master;
SELECT a.s::text = p.s::text AS month_identical, a.t::text = p.t::text AS week_text_identical
FROM act_serial a,
     (SELECT clm.activity_agg(id, at, 'month') AS s, clm.activity_agg(id::text, at, 'week', 'Europe/Paris') AS t
      FROM cdnow_master) p;

-- grouped: Partial HashAggregate in the workers
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT cds % 3, clm.activity_agg(id, at, 'month') FROM cdnow_master GROUP BY 1;
SELECT count(*) AS groups, count(*) FILTER (WHERE a.s::text = p.s::text) AS identical
FROM act_serial_grouped a
JOIN (SELECT cds % 3 AS g, clm.activity_agg(id, at, 'month') AS s FROM cdnow_master GROUP BY 1) p USING (g);
RESET enable_sort;

-- merging stored daily states in parallel gives the state of all events
EXPLAIN (COSTS OFF) SELECT clm.activity_merge(s) FROM act_daily;
SELECT (SELECT clm.activity_merge(s) FROM act_daily)::text = s::text AS merged_identical FROM act_serial;

-- the accessors over the parallel state give the serial rows
SELECT count(*) AS cells
FROM clm.retention((SELECT clm.activity_agg(id, at, 'month') FROM cdnow_master)) p
JOIN clm.retention((SELECT s FROM act_serial)) a USING (cohort_start, period_number, cohort_size, retained, rate, complete);
RESET ALL;
