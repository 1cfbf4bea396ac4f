-- clm.stage_kpis: KPIs per period and stage, worked out by hand from a
-- small history (times pinned with clm.stage_changed_at, in UTC).
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
CREATE TABLE kpi_customers (id integer PRIMARY KEY, stage text);
SELECT clm.track('kpi_customers', 'id', 'stage', 'acquisition_churn');
-- model acquisition_churn: acquisition 1, activation 2, retention 3,
-- expansion 4, churn 5 (terminal)
-- c6: 2023-12-01 acquisition, 2024-01-05 activation (stays)
-- c1: 01-01 acquisition, 01-20 activation, 02-10 retention,
--     03-05 activation (a move back), 03-25 expansion
-- c2: 01-10 acquisition, 02-05 churn
-- c3: 01-16 acquisition and activation at the same instant (a stay of
--     length 0), 02-20 stage cleared (NULL)
-- c4: 02-15 acquisition, 03-01 00:00 activation (on a period boundary),
--     03-10 churn
-- c5: 04-05 acquisition (after to_at: not read)
SET clm.stage_changed_at = '2023-12-01';
INSERT INTO kpi_customers VALUES (6, 'acquisition');
SET clm.stage_changed_at = '2024-01-01';
INSERT INTO kpi_customers VALUES (1, 'acquisition');
SET clm.stage_changed_at = '2024-01-05';
UPDATE kpi_customers SET stage = 'activation' WHERE id = 6;
SET clm.stage_changed_at = '2024-01-10';
INSERT INTO kpi_customers VALUES (2, 'acquisition');
SET clm.stage_changed_at = '2024-01-16';
INSERT INTO kpi_customers VALUES (3, 'acquisition');
UPDATE kpi_customers SET stage = 'activation' WHERE id = 3;
SET clm.stage_changed_at = '2024-01-20';
UPDATE kpi_customers SET stage = 'activation' WHERE id = 1;
SET clm.stage_changed_at = '2024-02-05';
UPDATE kpi_customers SET stage = 'churn' WHERE id = 2;
SET clm.stage_changed_at = '2024-02-10';
UPDATE kpi_customers SET stage = 'retention' WHERE id = 1;
SET clm.stage_changed_at = '2024-02-15';
INSERT INTO kpi_customers VALUES (4, 'acquisition');
SET clm.stage_changed_at = '2024-02-20';
UPDATE kpi_customers SET stage = NULL WHERE id = 3;
SET clm.stage_changed_at = '2024-03-01';
UPDATE kpi_customers SET stage = 'activation' WHERE id = 4;
SET clm.stage_changed_at = '2024-03-05';
UPDATE kpi_customers SET stage = 'activation' WHERE id = 1;
SET clm.stage_changed_at = '2024-03-10';
UPDATE kpi_customers SET stage = 'churn' WHERE id = 4;
SET clm.stage_changed_at = '2024-03-25';
UPDATE kpi_customers SET stage = 'expansion' WHERE id = 1;
SET clm.stage_changed_at = '2024-04-05';
INSERT INTO kpi_customers VALUES (5, 'acquisition');
RESET clm.stage_changed_at;

-- Months from 2024-01-15 to 2024-04-01: the first period is clipped to
-- [01-15, 02-01).  Before 01-15: acquisition holds c1, c2 (c6 left it on
-- 01-05), activation holds c6.
-- [01-15, 02-01)
--   acquisition: start 2; entered c3; exited c1 (-> activation), c3 (-> activation,
--     0 s): forward 2; end 1 (c2); conversion 2 / (2 + 1) = 0.6666666667;
--     median of 19 days (c1: 01-01 .. 01-20) and 0 = 9 days 12:00
--   activation: start 1 (c6); entered c1, c3; end 3; conversion 0 / 3 = 0
--   retention, expansion, churn: nothing (conversion NULL)
-- [02-01, 03-01)
--   acquisition: start 1 (c2); entered c4; exited c2 (-> churn: forward and
--     terminal); end 1; conversion 1 / 2; median 26 days (01-10 .. 02-05)
--   activation: start 3 (c1, c3, c6); exited c1 (-> retention, forward), c3
--     (cleared: neither forward nor terminal); end 1; conversion 1 / 3;
--     median of 21 days (c1: 01-20 .. 02-10) and 35 days (c3: 01-16 .. 02-20)
--     = 28 days
--   retention: entered c1, end 1; churn: entered c2, end 1; conversion 0
-- [03-01, 04-01)
--   acquisition: start 1 (c4); exited c4 at 03-01 00:00 (-> activation,
--     forward); end 0; conversion 1 / 1; median 15 days (02-15 .. 03-01, 2024
--     is a leap year)
--   activation: start 1 (c6); entered c4 (03-01), c1 (03-05); exited c4
--     (-> churn, forward and terminal), c1 (-> expansion, forward); end 1;
--     conversion 2 / 3; median of 9 days and 20 days = 14 days 12:00
--   retention: start 1 (c1); exited c1 (-> activation: backward); end 0;
--     conversion 0 / 1 = 0; median 24 days (02-10 .. 03-05)
--   expansion: entered c1, end 1; churn: start 1 (c2), entered c4, end 2
SELECT period_start::date, period_end::date, stage, position, terminal AS term,
	customers_at_start AS at_start, entered, exited, customers_at_end AS at_end,
	exited_forward AS fwd, exited_to_terminal AS to_term,
	round(conversion_rate::numeric, 10) AS conversion, median_time_in_stage
FROM clm.stage_kpis('kpi_customers', 'month', '2024-01-15', '2024-04-01');

-- customers at a period's end agree with clm.stage_at just before the end
SELECT k.period_end::date, k.stage, k.customers_at_end,
	(SELECT count(*) FROM kpi_customers c
	 WHERE clm.stage_at('kpi_customers', c.id, k.period_end - interval '1 microsecond') = k.stage) AS by_stage_at
FROM clm.stage_kpis('kpi_customers', 'month', '2024-01-15', '2024-04-01') k
WHERE k.customers_at_end > 0
ORDER BY 1, 2;
-- flows balance: start + entered - exited = end, and each end is the next start
SELECT count(*) FILTER (WHERE customers_at_start + entered - exited <> customers_at_end) AS unbalanced,
	count(*) FILTER (WHERE customers_at_end <> next_start) AS broken_chain
FROM (SELECT *, lead(customers_at_start) OVER (PARTITION BY stage ORDER BY period_start) AS next_start
	  FROM clm.stage_kpis('kpi_customers', 'week', '2023-11-20', '2024-04-01')) k;

-- the whole first quarter [01-01, 04-01) as one period
--   acquisition: start 1 (c6, since 2023-12-01); entered c1, c2, c3, c4 = 4;
--     exited c6, c3, c1 (-> activation), c2 (-> churn), c4 (-> activation) = 5,
--     all forward, 1 to the terminal churn; end 0; conversion 5 / (1 + 4) = 1
--   activation: start 0; entered c6, c3, c1, c4, c1 again = 5; exited c1
--     (-> retention), c3 (cleared), c4 (-> churn), c1 (-> expansion) = 4,
--     forward 3, terminal 1; end 1 (c6); conversion 3 / 5 = 0.6
--   retention: in and out (backward) once; expansion: in once; churn: in twice
SELECT stage, customers_at_start AS at_start, entered, exited, customers_at_end AS at_end,
	exited_forward AS fwd, exited_to_terminal AS to_term, round(conversion_rate::numeric, 10) AS conversion
FROM clm.stage_kpis('kpi_customers', 'quarter', '2024-01-01', '2024-04-01');

-- periods follow the session's time zone: days around the start of summer
-- time in Berlin (2024-03-31 has 23 hours); weeks start on Monday
SET TimeZone = 'Europe/Berlin';
SELECT DISTINCT period_start, period_end, period_end - period_start AS length
FROM clm.stage_kpis('kpi_customers', 'day', '2024-03-30 12:00', '2024-04-01 06:00') ORDER BY 1;
SELECT DISTINCT period_start::date, to_char(period_start, 'Dy') AS dow, period_end::date
FROM clm.stage_kpis('kpi_customers', 'week', '2024-03-01', '2024-03-20') ORDER BY 1;
SET TimeZone = 'UTC';
SELECT DISTINCT period_start, period_end
FROM clm.stage_kpis('kpi_customers', 'hour', '2024-03-10 22:30', '2024-03-11 01:00') ORDER BY 1;
SELECT DISTINCT period_start::date, period_end::date
FROM clm.stage_kpis('kpi_customers', 'year', '2023-06-01', '2025-01-01') ORDER BY 1;

-- a stage removed from the model still shows, with position NULL; the
-- model of an untracked table is that of its last history row
INSERT INTO clm.stage_model (model) VALUES ('kpi_model');
INSERT INTO clm.stage (model, stage, position, terminal) VALUES
	('kpi_model', 'lead', 1, false), ('kpi_model', 'won', 2, false),
	('kpi_model', 'lost', 3, true), ('kpi_model', 'legacy', 4, false);
CREATE TABLE kpi_deals (id bigint PRIMARY KEY, stage text);
SELECT clm.track('kpi_deals', 'id', 'stage', 'kpi_model');
SET clm.stage_changed_at = '2024-05-01';
INSERT INTO kpi_deals VALUES (1, 'legacy'), (2, 'lead');
SET clm.stage_changed_at = '2024-05-03';
UPDATE kpi_deals SET stage = 'lead' WHERE id = 1;
UPDATE kpi_deals SET stage = 'lost' WHERE id = 2;
RESET clm.stage_changed_at;
SELECT clm.untrack('kpi_deals');
DELETE FROM clm.stage WHERE model = 'kpi_model' AND stage = 'legacy';
-- legacy -> lead: not forward (legacy has no position); lead -> lost is
-- forward and terminal; medians 2 days each
SELECT stage, position, terminal AS term, customers_at_start AS at_start, entered, exited,
	customers_at_end AS at_end, exited_forward AS fwd, exited_to_terminal AS to_term,
	conversion_rate, median_time_in_stage
FROM clm.stage_kpis('kpi_deals', 'month', '2024-05-01', '2024-06-01');

-- rights: SECURITY INVOKER, and SELECT on the table is required
SELECT prosecdef, provolatile, proparallel FROM pg_proc
WHERE oid = 'clm.stage_kpis(regclass, text, timestamptz, timestamptz)'::regprocedure;
CREATE ROLE clm_kpi_reader;
SET ROLE clm_kpi_reader;
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', 'month', '2024-01-01', '2024-02-01')$$);
RESET ROLE;
GRANT SELECT ON kpi_customers TO clm_kpi_reader;
SET ROLE clm_kpi_reader;
SELECT stage, customers_at_end FROM clm.stage_kpis('kpi_customers', 'month', '2024-01-01', '2024-02-01')
WHERE customers_at_end > 0;
RESET ROLE;
REVOKE SELECT ON kpi_customers FROM clm_kpi_reader;
DROP ROLE clm_kpi_reader;

-- errors
SELECT error_of($$SELECT * FROM clm.stage_kpis(NULL, 'month', '2024-01-01', '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', NULL, '2024-01-01', '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', 'month', NULL, '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', 'fortnight', '2024-01-01', '2024-02-01')$$);
-- period names are case-insensitive, as everywhere in clm
SELECT count(*) AS rows FROM clm.stage_kpis('kpi_customers', 'Month', '2024-01-01', '2024-03-01');
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', 'month', '2024-02-01', '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', 'month', '-infinity', '2024-02-01')$$);
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_customers', 'month', '2024-01-01', 'infinity')$$);
CREATE TABLE kpi_untracked (id integer);
SELECT error_of($$SELECT * FROM clm.stage_kpis('kpi_untracked', 'month', '2024-01-01', '2024-02-01')$$);
SELECT 'kpi_untracked'::regclass::oid AS dropped_oid \gset
DROP TABLE kpi_untracked;
SELECT error_of(format('SELECT * FROM clm.stage_kpis(%s, %L, %L, %L)', :dropped_oid, 'month', '2024-01-01', '2024-02-01'))
	~ '^42P01: relation with OID [0-9]+ does not exist$' AS dropped_table;

SELECT clm.untrack('kpi_customers');
-- leave no history behind for the next test files (as sql/stages.sql does)
DELETE FROM clm.stage_history WHERE table_oid IN ('kpi_customers'::regclass, 'kpi_deals'::regclass);
DROP TABLE kpi_customers, kpi_deals;
DELETE FROM clm.stage_model WHERE model = 'kpi_model';
