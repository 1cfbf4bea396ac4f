-- bench/churn_gen.sql: the churn benchmark table (fixed seed), rows from
-- psql variable :rows (default set by bench/churn.sh).  10 features uniform
-- on (-1, 1); churned ~ logistic model; duration ~ exponential with a
-- proportional hazard, censored at 20 (event = duration < 20), durations
-- rounded to 0.1 so that there are tied event times.
DROP TABLE IF EXISTS churn_bench;
SELECT setseed(0.42);
CREATE TABLE churn_bench AS
SELECT i AS id, x,
       random() < 1 / (1 + exp(-(-0.5 + 0.3 * x[1] - 0.2 * x[2] + 0.1 * x[3] + 0.05 * x[4]
                                  - 0.4 * x[5] + 0.25 * x[6]))) AS churned,
       round((-ln(1 - random()) / (0.1 * exp(0.3 * x[1] - 0.2 * x[2] + 0.1 * x[5])))::numeric, 1)::float8 AS duration
FROM (SELECT i, ARRAY[random() * 2 - 1, random() * 2 - 1, random() * 2 - 1, random() * 2 - 1,
                      random() * 2 - 1, random() * 2 - 1, random() * 2 - 1, random() * 2 - 1,
                      random() * 2 - 1, random() * 2 - 1] AS x
      FROM generate_series(1, :rows) i) s;
ALTER TABLE churn_bench ADD COLUMN event boolean;
UPDATE churn_bench SET event = duration < 20, duration = least(duration, 20);
VACUUM ANALYZE churn_bench;
