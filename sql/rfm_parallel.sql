-- clm.rfm_summary under partial aggregation: the plan splits into Partial and
-- Finalize aggregates (combine/serialize/deserialize run) and the result is
-- identical to the serial one.  Uses cdnow_sample from rfm.sql.
SET timezone = 'UTC';
-- eight copies of every purchase: enough rows per customer that the planner
-- prefers partial per-customer aggregation in the workers
CREATE TABLE cdnow_x8 AS SELECT s.* FROM cdnow_sample s, generate_series(1, 8) g ORDER BY g, id;
ANALYZE cdnow_x8;
ANALYZE cdnow_sample;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE rfm_serial AS
SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') AS s
FROM cdnow_x8 GROUP BY id;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week')
FROM cdnow_x8 GROUP BY id;
CREATE TABLE rfm_parallel AS
SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') AS s
FROM cdnow_x8 GROUP BY id;
RESET enable_hashagg;
EXPLAIN (COSTS OFF)
SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week')
FROM cdnow_x8 GROUP BY id;
CREATE TABLE rfm_parallel_hash AS
SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') AS s
FROM cdnow_x8 GROUP BY id;

-- ungrouped: every worker sees part of the one group, the leader combines
EXPLAIN (COSTS OFF)
SELECT clm.rfm_summary(at, amount, '1998-06-30') FROM cdnow_sample;
SELECT (s).frequency, round((s).recency::numeric, 2) AS recency, (s).t,
       round((s).monetary::numeric, 2) AS monetary, (s).periods, round((s).total::numeric, 2) AS total, (s).events
FROM (SELECT clm.rfm_summary(at, amount, '1998-06-30') AS s FROM cdnow_sample) q;

-- identical results (sums compared to the cent: the order of float additions differs)
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (a.s).frequency = (b.s).frequency AND (a.s).recency = (b.s).recency
                          AND (a.s).t = (b.s).t AND (a.s).periods = (b.s).periods
                          AND (a.s).events = (b.s).events AND (a.s).first_at = (b.s).first_at
                          AND (a.s).last_at = (b.s).last_at
                          AND abs((a.s).monetary - (b.s).monetary) < 1e-9
                          AND abs((a.s).total - (b.s).total) < 1e-9) AS identical
FROM rfm_serial a JOIN rfm_parallel b USING (id);
SELECT count(*) AS identical_hash
FROM rfm_serial a JOIN rfm_parallel_hash b USING (id)
WHERE (a.s).frequency = (b.s).frequency AND (a.s).t = (b.s).t AND (a.s).recency = (b.s).recency
  AND abs((a.s).monetary - (b.s).monetary) < 1e-9;
RESET ALL;
