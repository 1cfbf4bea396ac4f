-- clm.subscriptions_agg, clm.mrr_movements, clm.mrr_retention on a fixture
-- whose every number is worked out below (months of 2024, UTC).
SET timezone = 'UTC';
CREATE TEMP TABLE subs (customer bigint, started_at timestamptz, ended_at timestamptz, mrr numeric);
INSERT INTO subs VALUES
  -- 1: upgrade.  Jan 1 new +10; Mar 15 plan switch 10 -> 30 = expansion +20
  (1, '2024-01-01', '2024-03-15', 10), (1, '2024-03-15', NULL, 30),
  -- 2: downgrade.  Jan 10 new +50; Feb 20 plan switch 50 -> 20 = contraction -30
  (2, '2024-01-10', '2024-02-20', 50), (2, '2024-02-20', NULL, 20),
  -- 3: two overlapping subscriptions, one customer.  Feb 1 new +20;
  --    Feb 15 add-on = expansion +5; Apr 10 add-on ends (one of two) = contraction -5
  (3, '2024-02-01', NULL, 20), (3, '2024-02-15', '2024-04-10', 5),
  -- 4: cancel, then return.  Jan 5 new +15; Feb 10 churn -15; Apr 1 reactivation +25
  (4, '2024-01-05', '2024-02-10', 15), (4, '2024-04-01', NULL, 25),
  -- 5: joins and churns in March.  Mar 3 new +40; Mar 20 churn -40
  (5, '2024-03-03', '2024-03-20', 40),
  -- 6: steady, then churns.  Jan 1 new +100; Apr 30 churn -100
  (6, '2024-01-01', '2024-04-30', 100),
  -- 7: a free plan is never paying: no movement
  (7, '2024-01-01', NULL, 0),
  -- skipped rows (NULL customer, start or mrr)
  (NULL, '2024-01-01', NULL, 99), (8, NULL, NULL, 99), (8, '2024-01-01', NULL, NULL);

-- January: start 0.  New c1 10, c2 50, c4 15, c6 100 = 4 customers, 175.  End 4, 175.
-- February: start 4, 175.  New c3 +20; expansion c3 +5; contraction c2 -30; churn c4 -15.
--   End 4 customers (c1 10, c2 20, c3 25, c6 100) = 155.
--   Churn rate: c4 was active on Feb 1 and churned: 1 / 4 = 0.25.
--   Daily-averaged: customer-days c1, c2, c3, c6 29 each + c4 9 (Feb 1-10) = 125 in 29 days;
--   1 churn / (125 / 29) = 29 / 125 = 0.232.
--   Gross MRR churn (15 + 30) / 175 = 0.257143; net (15 + 30 - 5) / 175 = 0.228571.
-- March: start 4, 155.  New c5 +40; expansion c1 +20; churn c5 -40.  End 4, 175.
--   Churn rate: c5 joined and churned inside March, excluded: 0 / 4 = 0.
--   Daily-averaged counts it: customer-days 4 * 31 + 17 (Mar 3-20) = 141; 31 / 141 = 0.219858.
--   Gross (40 + 0) / 155 = 0.258065; net (40 - 20) / 155 = 0.129032.
-- April: start 4, 175.  Reactivation c4 +25; contraction c3 -5; churn c6 -100.
--   End 4 customers (c1 30, c2 20, c3 20, c4 25) = 95.  Churn rate 1 / 4 = 0.25.
--   Daily-averaged: c1, c2, c3, c4 30 days each + c6 29 (Apr 1-30) = 149; 30 / 149 = 0.201342.
--   Gross (100 + 5) / 175 = 0.6; net 0.6 (no expansion; reactivation is not netted).
CREATE TEMP TABLE st AS SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) AS s FROM subs;
SELECT period_start::date, customers_start AS c0, mrr_start AS m0,
       new_customers AS n_c, new_mrr AS n_m, expansion_customers AS e_c, expansion_mrr AS e_m,
       contraction_customers AS x_c, contraction_mrr AS x_m, churned_customers AS ch_c,
       churned_mrr AS ch_m, reactivated_customers AS r_c, reactivation_mrr AS r_m,
       customers_end AS c1, mrr_end AS m1
FROM st, clm.mrr_movements(s) ORDER BY period_start;
SELECT period_start::date, churned_of_start, round(customer_churn_rate::numeric, 6) AS churn_rate,
       round(customer_churn_rate_daily::numeric, 6) AS churn_rate_daily,
       round(gross_mrr_churn_rate::numeric, 6) AS gross_mrr_churn,
       round(net_mrr_churn_rate::numeric, 6) AS net_mrr_churn
FROM st, clm.mrr_movements(s) ORDER BY period_start;
-- exact checks of the daily-averaged rates worked out above
SELECT period_start::date, abs(customer_churn_rate_daily - v) < 1e-12 AS exact
FROM st, clm.mrr_movements(s)
JOIN (VALUES ('2024-01-01'::timestamptz, 0::float8), ('2024-02-01', 29.0 / 125), ('2024-03-01', 31.0 / 141),
             ('2024-04-01', 30.0 / 149)) AS w(p, v) ON p = period_start
ORDER BY 1;

-- Quarters.  Q1: new c1, c2, c3, c4, c5, c6 = 6 customers, 10+50+20+15+40+100 = 235;
--   expansion c3 +5, c1 +20 = 25 (2 customers); contraction c2 -30; churn c4 -15, c5 -40.
--   End 4 customers, 235 + 25 - 30 - 55 = 175.  No customer at the start: rates NULL.
-- Q2: as April.
SELECT period_start::date, customers_start AS c0, mrr_start AS m0, new_customers AS n_c, new_mrr AS n_m,
       expansion_customers AS e_c, expansion_mrr AS e_m, contraction_mrr AS x_m, churned_customers AS ch_c,
       churned_mrr AS ch_m, reactivation_mrr AS r_m, customers_end AS c1, mrr_end AS m1,
       customer_churn_rate AS rate, gross_mrr_churn_rate AS gross
FROM st, clm.mrr_movements(s, 'quarter') ORDER BY period_start;
-- until: the grid runs to June; May and June are quiet.  Until mid-March: c1's
-- upgrade (Mar 15) and c5's churn (Mar 20) have not happened yet.
SELECT period_start::date, customers_start AS c0, mrr_start AS m0, new_mrr AS n_m, expansion_mrr AS e_m,
       churned_mrr AS ch_m, customers_end AS c1, mrr_end AS m1
FROM st, clm.mrr_movements(s, 'month', '2024-06-15') WHERE period_start >= '2024-04-01' ORDER BY period_start;
SELECT period_start::date, customers_start AS c0, mrr_start AS m0, new_mrr AS n_m, expansion_mrr AS e_m,
       churned_mrr AS ch_m, customers_end AS c1, mrr_end AS m1
FROM st, clm.mrr_movements(s, 'month', '2024-03-14') ORDER BY period_start;

-- GRR / NRR.  MRR at a period start is the MRR just before it (a change at
-- exactly the boundary belongs to the new period, as in mrr_movements).
-- Window 1:
--   Jan: nobody paid before Jan 1: 0 customers, GRR/NRR NULL.
--   Feb: c1 10, c2 50, c4 15, c6 100 = 175 (c3 starts Feb 1: new, excluded).
--        Mar 1: c2 20 (contraction 30), c4 0 (churn 15) -> GRR = NRR = 130 / 175 = 0.742857.
--   Mar: c1 10, c2 20, c3 25, c6 100 = 155; Apr 1: c1 30 (expansion 20), c5 new excluded.
--        GRR 1, NRR 175 / 155 = 1.129032.
--   Apr: c1 30, c2 20, c3 25, c6 100 = 175 (c4 returns on Apr 1: not paying before it).
--        May 1: c3 20 (contraction 5), c6 0 (churn 100): GRR = NRR = 70 / 175 = 0.4.
SELECT period_start::date, window_end::date, customers, mrr_start, expansion_mrr, contraction_mrr,
       churned_mrr, mrr_end, round(grr::numeric, 6) AS grr, round(nrr::numeric, 6) AS nrr
FROM st, clm.mrr_retention(s, 'month', 1) ORDER BY period_start;
-- Window 3 from Feb 1 to May 1: the 175 of Feb 1; c1 +20, c2 -30, c6 -100, and c4,
-- who churned in February and returned in April at 25:
--   reactivation counted:  expansion 20 + 10 = 30, contraction 30, churn 100;
--     GRR (175 - 100 - 30) / 175 = 0.257143, NRR (175 + 30 - 30 - 100) / 175 = 0.428571
--   reactivation left out: c4 is churned (15); expansion 20, contraction 30, churn 115;
--     GRR (175 - 115 - 30) / 175 = 0.171429, NRR (175 + 20 - 30 - 115) / 175 = 0.285714
SELECT r, period_start::date, window_end::date, customers, mrr_start, expansion_mrr, contraction_mrr,
       churned_mrr, mrr_end, round(grr::numeric, 6) AS grr, round(nrr::numeric, 6) AS nrr
FROM st, (VALUES (true), (false)) v(r), clm.mrr_retention(s, 'month', 3, r) ORDER BY r DESC, period_start;
-- until the end of March: the grid stops at March, whose window ends on Apr 1 (c1's
-- upgrade of Mar 15 counted, everything after March 31 ignored): as above for Jan-Mar
SELECT period_start::date, window_end::date, customers, mrr_start, mrr_end, round(nrr::numeric, 6) AS nrr
FROM st, clm.mrr_retention(s, 'month', 1, true, '2024-03-31') ORDER BY period_start;
-- default window (12 months) is longer than the data: no row
SELECT count(*) AS rows_12 FROM st, clm.mrr_retention(s);

-- Worked example: start 100, churn -10, contraction -10, expansion +10 -> net MRR churn 10%.
-- A 50, B 10, C 20, D 20 since December; in January B cancels, C moves 20 -> 10, D 20 -> 30.
-- Gross MRR churn (10 + 10) / 100 = 20%; net (10 + 10 - 10) / 100 = 10%; GRR 0.8, NRR 0.9.
CREATE TEMP TABLE ex (customer bigint, started_at timestamptz, ended_at timestamptz, mrr float8);
INSERT INTO ex VALUES (1, '2023-12-01', NULL, 50), (2, '2023-12-01', '2024-01-10', 10),
  (3, '2023-12-01', '2024-01-15', 20), (3, '2024-01-15', NULL, 10),
  (4, '2023-12-01', '2024-01-20', 20), (4, '2024-01-20', NULL, 30);
SELECT period_start::date, mrr_start, expansion_mrr, contraction_mrr, churned_mrr, mrr_end,
       gross_mrr_churn_rate, net_mrr_churn_rate
FROM (SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) s FROM ex) q,
     clm.mrr_movements(s) WHERE period_start = '2024-01-01' ORDER BY 1;
SELECT period_start::date, mrr_start, expansion_mrr, contraction_mrr, churned_mrr, grr, nrr
FROM (SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) s FROM ex) q,
     clm.mrr_retention(s, 'month', 1) WHERE period_start = '2024-01-01' ORDER BY 1;

-- the text and binary forms round-trip
SELECT (SELECT array_agg(m ORDER BY period_start) FROM st, clm.mrr_movements(s::text::clm.subscriptions) m)
     = (SELECT array_agg(m ORDER BY period_start) FROM st, clm.mrr_movements(s) m) AS text_roundtrip,
       (SELECT encode(clm.subscriptions_send(s), 'hex') = substr(s::text, 3) FROM st) AS send_is_text_image;
-- GROUP BY: one state per segment; empty input gives NULL and no rows
SELECT customer % 2 AS seg, sum(mrr_end) FILTER (WHERE period_start = '2024-04-01') AS apr_end
FROM (SELECT customer % 2 AS customer, clm.subscriptions_agg(customer, started_at, ended_at, mrr) s
      FROM subs GROUP BY 1) g, clm.mrr_movements(s) GROUP BY 1 ORDER BY 1;
SELECT clm.subscriptions_agg(customer, started_at, ended_at, mrr) IS NULL AS empty_is_null FROM subs WHERE false;
SELECT count(*) AS no_rows FROM clm.mrr_movements(NULL);

-- bad input
SELECT error_of($$SELECT clm.subscriptions_agg(1, '2024-02-01', '2024-01-01', 10)$$);
SELECT error_of($$SELECT clm.subscriptions_agg(1, '2024-01-01', NULL, -5)$$);
SELECT error_of($$SELECT clm.subscriptions_agg(1, '2024-01-01', NULL, 'NaN')$$);
SELECT error_of($$SELECT clm.subscriptions_agg(1, '2024-01-01', NULL, 'Infinity')$$);
SELECT error_of($$SELECT clm.subscriptions_agg(1, '-infinity', NULL, 5)$$);
-- ended_at 'infinity' is the same as NULL: still running
SELECT count(*) AS infinity_is_active FROM clm.mrr_movements((SELECT clm.subscriptions_agg(1, '2024-01-01', 'infinity', 5)), 'month', '2024-03-01')
WHERE customers_end = 1 AND mrr_end = 5;
SELECT error_of($$SELECT * FROM st, clm.mrr_movements(s, 'fortnight')$$);
SELECT error_of($$SELECT * FROM st, clm.mrr_movements(s, NULL)$$);
SELECT error_of($$SELECT * FROM st, clm.mrr_retention(s, 'month', 0)$$);
SELECT error_of($$SELECT * FROM st, clm.mrr_retention(s, 'month', 1, NULL)$$);
SELECT error_of($$SELECT 'garbage'::clm.subscriptions$$);
SELECT error_of($$SELECT '\x01'::clm.subscriptions$$);
SELECT error_of($$SELECT '\x020000000000000000'::clm.subscriptions$$);
-- a row image with ended_at before started_at is refused on input too
SELECT error_of($$SELECT '\x010000000000000001000000000000000100000000000000020000000000000001000000000000003ff0000000000000'::clm.subscriptions$$);
-- MRR sums must stay finite (two MRRs of 1e308 printed Infinity, and
-- churning one of them left mrr_end at Infinity): an error; 8e307 twice is fine
SELECT error_of($$SELECT * FROM clm.mrr_movements((SELECT clm.subscriptions_agg(c, s, e, m)
  FROM (VALUES (1, '2020-01-01'::timestamptz, '2020-03-01'::timestamptz, 1e308::float8), (2, '2020-01-01', NULL, 1e308)) v(c, s, e, m)))$$) AS two_customers;
SELECT error_of($$SELECT * FROM clm.mrr_movements((SELECT clm.subscriptions_agg(c, s, e, m)
  FROM (VALUES (1, '2020-01-01'::timestamptz, '2020-03-01'::timestamptz, 1e308::float8), (1, '2020-01-01', NULL, 1e308)) v(c, s, e, m)))$$) AS one_customer;
SELECT error_of($$SELECT * FROM clm.mrr_retention((SELECT clm.subscriptions_agg(c, s, e, m)
  FROM (VALUES (1, '2020-01-01'::timestamptz, '2020-03-01'::timestamptz, 1e308::float8), (2, '2020-01-01', NULL, 1e308)) v(c, s, e, m)), 'month', 1)$$) AS retention;
SELECT period_start, mrr_start, new_mrr, churned_mrr, mrr_end
FROM clm.mrr_movements((SELECT clm.subscriptions_agg(c, s, e, m)
  FROM (VALUES (1, '2020-01-01'::timestamptz, '2020-03-01'::timestamptz, 8e307::float8), (2, '2020-01-01', NULL, 8e307)) v(c, s, e, m)))
ORDER BY period_start;
