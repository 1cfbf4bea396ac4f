-- clm.calibration_holdout and clm.holdout_check: hand-computed fixtures, the
-- CDNOW sample against plain SQL, and the model check table.
SET timezone = 'UTC';
SET extra_float_digits = 0;
CREATE TABLE clv_ho_events (customer int, at timestamptz, amount float8);
INSERT INTO clv_ho_events VALUES
	-- customer 1: calibration days {01-01: 10, 01-05: 20 + 5, 01-10: 30}
	-- -> frequency 2, recency 9, t 9, monetary (25 + 30) / 2 = 27.5;
	-- holdout days {01-12: 40 + 2, 01-20: 8} -> 2 periods, mean 25;
	-- 02-01 is after observation_end; holdout length 21 days = 3 weeks
	(1, '2024-01-01', 10), (1, '2024-01-05 09:00', 20), (1, '2024-01-05 17:00', 5),
	(1, '2024-01-10', 30), (1, '2024-01-12 08:00', 40), (1, '2024-01-12 20:00', 2),
	(1, '2024-01-20', 8), (1, '2024-02-01', 100),
	-- customer 2: first seen in the holdout -> NULL (not in the calibration sample)
	(2, '2024-01-15', 50),
	-- customer 3: a purchase after calibration_end but on its day: that
	-- period already holds a calibration purchase -> no holdout period
	(3, '2024-01-10 00:00', 7), (3, '2024-01-10 15:00', 9),
	-- customer 4: NULL rows are skipped
	(4, '2024-01-03', 1), (4, NULL, 2), (4, '2024-01-25', NULL);
SELECT customer, (h).*
FROM (SELECT customer, clm.calibration_holdout(at, amount, '2024-01-10', '2024-01-31') AS h
      FROM clv_ho_events GROUP BY customer) q
ORDER BY customer;
-- days in weeks
SELECT customer, (h).frequency_cal, round((h).recency_cal::numeric, 4) AS recency_cal,
       round((h).t_cal::numeric, 4) AS t_cal, (h).frequency_holdout, (h).duration_holdout
FROM (SELECT customer, clm.calibration_holdout(at, amount, '2024-01-10', '2024-01-31', 'day', 'week') AS h
      FROM clv_ho_events GROUP BY customer) q
ORDER BY customer;

-- the CDNOW sample: calibration to 1997-09-30, holdout to 1998-06-30 (39 weeks)
CREATE TABLE clv_events AS
SELECT f[2]::int AS id, to_date(f[3], 'YYYYMMDD')::timestamptz AS at, f[5]::float8 AS amount
FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS f FROM clv_lines) s;
CREATE TABLE clv_ho AS
SELECT id, (h).*
FROM (SELECT id, clm.calibration_holdout(at, amount, '1997-09-30', '1998-06-30', 'day', 'week') AS h
      FROM clv_events GROUP BY id) q
WHERE h IS NOT NULL;
-- the calibration part is clm.rfm_summary's (monetary up to summation
-- order); the holdout part is the number of distinct purchase days after
-- 1997-09-30 by plain SQL
SELECT count(*) AS customers,
       count(*) FILTER (WHERE h.frequency_cal = (r).frequency AND h.recency_cal = (r).recency
                        AND h.t_cal = (r).t AND abs(h.monetary_cal - (r).monetary) < 1e-9) AS same_calibration,
       count(*) FILTER (WHERE h.frequency_holdout = coalesce(d.days, 0)) AS same_holdout,
       sum(h.frequency_holdout) AS holdout_purchases, min(h.duration_holdout) AS weeks
FROM clv_ho h
JOIN (SELECT id, clm.rfm_summary(at, amount, '1997-09-30', 'day', 'week') AS r FROM clv_events GROUP BY id) s USING (id)
LEFT JOIN (SELECT id, count(DISTINCT at::date) AS days FROM clv_events
           WHERE at > '1997-09-30' AND at <= '1998-06-30' GROUP BY id) d USING (id);
-- the published calibration summary, too
SELECT count(*) FILTER (WHERE h.frequency_cal = c.x AND round(h.recency_cal::numeric, 2) = c.t_x
                        AND round(h.t_cal::numeric, 2) = c.t) AS same_as_published
FROM clv_ho h JOIN clv_cdnow c USING (id);

-- the model check table: BG/NBD fitted on the calibration period; mean
-- holdout purchases per calibration frequency, actual vs predicted
-- (the "conditional expectations" chart of Fader, Hardie & Lee 2005)
SELECT frequency_cal, customers, round(actual::numeric, 2) AS actual, round(predicted::numeric, 2) AS predicted
FROM clm.holdout_check((SELECT bg FROM clv_models), 'clv_ho')
ORDER BY frequency_cal;
-- overall: predicted total vs actual total holdout purchases
SELECT sum(customers) AS customers, round(sum(customers * actual)::numeric, 0) AS actual_total,
       round(sum(customers * predicted)::numeric, 0) AS predicted_total
FROM clm.holdout_check((SELECT pn FROM clv_models), 'clv_ho', 3);

-- errors
SELECT error_of($$SELECT clm.calibration_holdout(now(), 1, '2024-02-01', '2024-01-01')$$);
SELECT error_of($$SELECT clm.calibration_holdout('infinity', 1, '2024-01-01', '2024-02-01')$$);
SELECT error_of($$SELECT clm.calibration_holdout(now(), 1, c, '2030-01-01') FROM (VALUES ('2024-01-01'::timestamptz), ('2024-01-02')) v(c)$$);
SELECT error_of($$SELECT clm.calibration_holdout(now(), -1, '2024-01-01', '2024-02-01')$$);
SELECT error_of($$SELECT clm.calibration_holdout(now(), 1, '2024-01-01', '2024-02-01', 'fortnight')$$);
SELECT error_of($$SELECT * FROM clm.holdout_check((SELECT bg FROM clv_models), 'clv_ho', -1)$$);
SELECT error_of($$SELECT * FROM clm.holdout_check((SELECT bg FROM clv_models), 'clv_ho_events')$$);
SELECT error_of($$SELECT * FROM clm.holdout_check((SELECT bg FROM clv_models), NULL)$$) AS null_summary;
SELECT error_of($$SELECT * FROM clm.holdout_check((SELECT bg FROM clv_models), 'clv_ho', NULL)$$) AS null_max_frequency;
SELECT error_of($$SELECT * FROM clm.holdout_check(NULL::clm.bgnbd, 'clv_ho')$$) AS null_model;
-- the shared body refuses a model type without a model check table
SELECT error_of($$SELECT * FROM clm.holdout_check_rows(1, 'clv_ho', 7)$$) AS integer_model;
-- each amount finite, their sums not: 1e308 + 1e308 overflows (it gave Infinity
-- or NaN); calibration (three purchases) and holdout (two) sums
SELECT error_of($$SELECT clm.calibration_holdout(at, a, '2024-01-01', '2024-06-01')
	FROM (VALUES (timestamptz '2023-01-01', 1e308::float8), ('2023-02-01', 1e308), ('2023-03-01', 1e308)) v(at, a)$$) AS calibration_sum;
SELECT error_of($$SELECT clm.calibration_holdout(at, a, '2024-01-01', '2024-06-01')
	FROM (VALUES (timestamptz '2023-01-01', 1::float8), ('2024-02-01', 1e308), ('2024-03-01', 1e308)) v(at, a)$$) AS holdout_sum;
