-- bench/ab activity: clm.activity_agg (bigint and text keys, one state and
-- 20,000 small states) and its reports, for an A/B of two builds.  2,000,000
-- events of 200,000 customers over 24 months (setseed(0.3)).
CREATE EXTENSION clm;
SET timezone = 'UTC';
SELECT setseed(0.3);
CREATE TABLE ev AS
SELECT c AS customer,
       timestamptz '2023-01-01'
         + make_interval(months => least(23, (c * 7919 % 24)::int + floor(-ln(1 - random()) * 3)::int))
         + random() * interval '27 days 23 hours' AS at
FROM (SELECT (1 + floor(random() * 200000))::bigint AS c FROM generate_series(1, 2000000)) s;
CREATE TABLE stored AS SELECT clm.activity_agg(customer, at, 'month') AS a FROM ev;
VACUUM ANALYZE;
-- queries
SELECT length(clm.activity_agg(customer, at, 'month')::text) FROM ev
SELECT length(clm.activity_agg(customer::text, at, 'month')::text) FROM ev
SELECT count(*) FROM (SELECT customer % 20000 AS g, clm.activity_agg(customer, at, 'month') FROM ev GROUP BY 1) s
SELECT count(*) FROM stored, clm.retention(a)
SELECT count(*) FROM stored, clm.lifecycle(a)
SELECT count(*) FROM stored, clm.stickiness(a, 3)
