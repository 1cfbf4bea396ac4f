-- Kaplan-Meier: clm.km_agg, clm.survival, clm.median_survival, clm.logrank.
-- 1. A small fixture worked out by hand.
--    A: 2 event, 3 event, 3 censored, 5 event, 5 event, 7 censored, 8 event, 9 censored.
--    Events come before censorings at the same time, so the subject censored at 3 is at risk at 3.
--    t=2: n=8 d=1  S = 7/8           = 0.875   Greenwood sum 1/(8*7)           = 1/56
--    t=3: n=7 d=1  S = 0.875 * 6/7   = 0.75    + 1/(7*6) = 1/24        censored in [3,5): 1
--    t=5: n=5 d=2  S = 0.75 * 3/5    = 0.45    + 2/(5*3) = 0.175       censored in [5,8): 1 (at 7)
--    t=8: n=2 d=1  S = 0.45 * 1/2    = 0.225   + 1/(2*1) = 0.675       censored in [8,..): 1 (at 9)
--    std_err = S * sqrt(sum): 0.116927, 0.153093, 0.188249, 0.184856
--    log-log CI: S^exp(+-1.96 sqrt(sum) / |ln S|):
--      t=2 (0.387000, 0.981393)  t=3 (0.314807, 0.930898)  t=5 (0.107578, 0.751274)  t=8 (0.012396, 0.602419)
--    median: first S < 0.5 at t = 5.
CREATE TEMP TABLE ka (d float8, e boolean);
INSERT INTO ka VALUES (2, true), (3, true), (3, false), (5, true), (5, true), (7, false), (8, true), (9, false),
  (NULL, true), (4, NULL);  -- skipped
SELECT time, at_risk, events, censored, round(survival::numeric, 12) AS survival, round(std_err::numeric, 6) AS std_err,
       round(lower::numeric, 6) AS lower, round(upper::numeric, 6) AS upper
FROM (SELECT clm.km_agg(d, e) s FROM ka) q, clm.survival(s) ORDER BY time;
SELECT clm.median_survival(clm.km_agg(d, e)) AS median FROM ka;
-- the rows arrive in any order; the result does not depend on it
SELECT clm.km_agg(d, e ORDER BY d DESC)::text = clm.km_agg(d, e ORDER BY d)::text AS order_free FROM ka;

--    B: 1 event, 2 event, 3 censored, 4 event.  t=1: 3/4; t=2: 3/4 * 2/3 = 0.5 exactly;
--    t=4: n=1 d=1, S = 0 (std_err and CI NULL).  Survival is 0.5 from 2 to 4: median (2 + 4) / 2 = 3.
SELECT time, at_risk, events, censored, survival, std_err IS NULL AS se_null, lower IS NULL AS ci_null
FROM (SELECT clm.km_agg(d, e) s FROM (VALUES (1, true), (2, true), (3, false), (4, true)) v(d, e)) q,
     clm.survival(s) ORDER BY time;
SELECT clm.median_survival(clm.km_agg(d, e)) AS median FROM (VALUES (1, true), (2, true), (3, false), (4, true)) v(d, e);
-- never below 0.5: NULL
SELECT clm.median_survival(clm.km_agg(d, e)) AS median FROM (VALUES (1, true), (2, false), (3, false)) v(d, e);

--    C, left truncation (entered, duration, churned); at risk when entered < t <= duration:
--    (0, 3, E), (2, 5, E), (1, 4, censored), (4, 6, E).
--    t=3: at risk subjects 1, 2, 3 (4 enters at 4): n=3 d=1, S = 2/3
--    t=5: subjects 2 and 4 (3 left at 4): n=2 d=1, S = 1/3
--    t=6: subject 4: n=1 d=1, S = 0
SELECT time, at_risk, events, censored, round(survival::numeric, 6) AS survival
FROM (SELECT clm.km_agg(d, e, en) s FROM (VALUES (0, 3, true), (2, 5, true), (1, 4, false), (4, 6, true)) v(en, d, e)) q,
     clm.survival(s) ORDER BY time;
-- without the entry times the same durations give 4 at risk at t=3
SELECT time, at_risk FROM (SELECT clm.km_agg(d, e) s FROM (VALUES (3, true), (5, true), (4, false), (6, true)) v(d, e)) q,
     clm.survival(s) ORDER BY time;

--    Log-rank by hand: A = {1 event, 3 event}, B = {2 event, 4 censored}.
--    t=1: nA=2 nB=2 d=1: E_A = 1/2,  V = 2*2*1*3 / (4^2 * 3) = 1/4
--    t=2: nA=1 nB=2 d=1: E_A += 1/3, V += 1*2*1*2 / (3^2 * 2) = 2/9
--    t=3: nA=1 nB=1 d=1: E_A += 1/2, V += 1*1*1*1 / (2^2 * 1) = 1/4
--    O_A = 2, E_A = 4/3, V = 13/18: chi-square (2/3)^2 / (13/18) = 8/13 = 0.615385, p = 0.432768
SELECT observed_a, round(expected_a::numeric, 6) AS expected_a, observed_b, round(expected_b::numeric, 6) AS expected_b,
       round(chisq::numeric, 6) AS chisq, round(p_value::numeric, 6) AS p_value
FROM clm.logrank((SELECT clm.km_agg(d, e) FROM (VALUES (1, true), (3, true)) v(d, e)),
                 (SELECT clm.km_agg(d, e) FROM (VALUES (2, true), (4, false)) v(d, e)));

-- 2. Textbook example: remission times (weeks) of the 6-MP and placebo groups of the
--    Freireich et al. (1963) leukemia trial, as tabulated in Kleinbaum & Klein, "Survival
--    Analysis: A Self-Learning Text" (3rd ed., 2012), chapter 2 (also Gehan 1965; R's MASS::gehan).
--    Published KM for 6-MP: t = 6, 7, 10, 13, 16, 22, 23 with n = 21, 17, 15, 12, 11, 7, 6 and
--    S = 0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448; Greenwood std. err (R summary(survfit))
--    0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282, 0.1346; log-log 95% CI (R conf.type =
--    "log-log") (0.620, 0.952), (0.563, 0.923), (0.503, 0.889), (0.432, 0.849), (0.368, 0.805),
--    (0.268, 0.747), (0.188, 0.680).  Medians: 6-MP 23, placebo 8.
--    Log-rank (K&K: "Log-rank = 16.79"; R survdiff): 6-MP observed 9, expected 19.25;
--    placebo observed 21, expected 10.75; chi-square 16.79 on 1 df, p = 4.17e-05.
CREATE TABLE leukemia (grp text, weeks float8, relapse boolean);
INSERT INTO leukemia
SELECT '6-MP', abs(w), w > 0 FROM unnest(ARRAY[6, 6, 6, -6, 7, -9, 10, -10, -11, 13, 16, -17, -19, -20,
                                              22, 23, -25, -32, -32, -34, -35]) w
UNION ALL
SELECT 'placebo', w, true FROM unnest(ARRAY[1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]) w;
SELECT grp, time, at_risk, events, censored, round(survival::numeric, 3) AS survival,
       round(std_err::numeric, 4) AS std_err, round(lower::numeric, 3) AS lower, round(upper::numeric, 3) AS upper
FROM (SELECT grp, clm.km_agg(weeks, relapse) s FROM leukemia GROUP BY grp) g, clm.survival(s)
WHERE grp = '6-MP' ORDER BY grp, time;
SELECT grp, clm.median_survival(clm.km_agg(weeks, relapse)) AS median FROM leukemia GROUP BY grp ORDER BY grp;
SELECT observed_a, round(expected_a::numeric, 2) AS expected_a, observed_b, round(expected_b::numeric, 2) AS expected_b,
       round(chisq::numeric, 2) AS chisq, round(p_value::numeric, 7) AS p_value
FROM clm.logrank((SELECT clm.km_agg(weeks, relapse) FROM leukemia WHERE grp = '6-MP'),
                 (SELECT clm.km_agg(weeks, relapse) FROM leukemia WHERE grp = 'placebo'));

-- partial aggregation: many copies of the trial give the same curve (at risk and events x 400)
CREATE TABLE leukemia_x400 AS SELECT l.* FROM leukemia l, generate_series(1, 400) g ORDER BY g;
ANALYZE leukemia_x400;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE km_serial AS SELECT grp, clm.km_agg(weeks, relapse) s FROM leukemia_x400 GROUP BY grp;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT grp, clm.km_agg(weeks, relapse) FROM leukemia_x400 GROUP BY grp;
CREATE TABLE km_parallel AS SELECT grp, clm.km_agg(weeks, relapse) s FROM leukemia_x400 GROUP BY grp;
EXPLAIN (COSTS OFF) SELECT clm.km_agg(weeks, relapse, 0) FROM leukemia_x400;
CREATE TABLE km_parallel_all AS SELECT clm.km_agg(weeks, relapse, 0) s FROM leukemia_x400;
RESET ALL;
SELECT (SELECT array_agg(c ORDER BY grp, time) FROM km_serial, clm.survival(s) c)
     = (SELECT array_agg(c ORDER BY grp, time) FROM km_parallel, clm.survival(s) c) AS identical,
       (SELECT count(*) FROM km_parallel a JOIN km_serial b USING (grp) WHERE a.s::text = b.s::text) AS same_states,
       (SELECT array_agg(at_risk / 400 || ':' || events / 400 || ':' || round(survival::numeric, 3) ORDER BY time)
        FROM km_parallel, clm.survival(s) WHERE grp = '6-MP') AS scaled;
-- entered = 0 for everyone: same as no truncation
SELECT (SELECT array_agg(c ORDER BY time) FROM km_parallel_all, clm.survival(s) c)
     = (SELECT array_agg(c ORDER BY time) FROM (SELECT clm.km_agg(weeks, relapse) s FROM leukemia_x400) q, clm.survival(s) c)
  AS entered_zero_same;
DROP TABLE leukemia_x400, km_serial, km_parallel, km_parallel_all;

-- the text form round-trips; empty input gives NULL
SELECT s::text::clm.km::text = s::text AS roundtrip, encode(clm.km_send(s), 'hex') = substr(s::text, 3) AS send_is_text_image
FROM (SELECT clm.km_agg(weeks, relapse) s FROM leukemia) q;
SELECT clm.km_agg(weeks, relapse) IS NULL AS empty_is_null FROM leukemia WHERE false;

-- bad input
SELECT error_of($$SELECT clm.km_agg(-1, true)$$);
SELECT error_of($$SELECT clm.km_agg('NaN', true)$$);
SELECT error_of($$SELECT clm.km_agg('Infinity', false)$$);
SELECT error_of($$SELECT clm.km_agg(5, true, 5)$$);
SELECT error_of($$SELECT clm.km_agg(5, true, -1)$$);
SELECT error_of($$SELECT clm.km_agg(5, true, 'NaN')$$);
SELECT error_of($$SELECT 'not a state'::clm.km$$);
SELECT error_of($$SELECT '\x01'::clm.km$$);
-- one subject (entries_inf 1) with two events at time 1: counts do not add up
SELECT error_of($$SELECT '\x0100000000000000000100000000000000013ff0000000000000000000000000000200000000000000000000000000000000'::clm.km$$);
-- 2 subjects and events of 2^63 - 1, 2^63 - 1 and 4 at times 1, 2, 3: the sums
-- wrap around to 2 = 2 in int64 arithmetic (the value was accepted and
-- clm.logrank reported negative expected events); more than 2^63 - 1 subjects
-- is an error
SELECT error_of($$SELECT '\x0100000000000000000200000000000000033ff00000000000007fffffffffffffff0000000000000000000000000000000040000000000000007fffffffffffffff000000000000000000000000000000004008000000000000000000000000000400000000000000000000000000000000'::clm.km$$);
-- 2^63 - 1 subjects, all with an event at time 1, in both groups: the groups'
-- sums pass INT64_MAX (expected_b was -2); equal groups expect half the
-- events each, 2^63 - 1 (9.223372036854776e+18 as a double), and with no
-- subject left after the event there is no variance: no chi-square
SELECT observed_a, expected_a, observed_b, expected_b, chisq, p_value
FROM (SELECT '\x01007fffffffffffffff00000000000000013ff00000000000007fffffffffffffff00000000000000000000000000000000'::clm.km AS k) q,
     clm.logrank(k, k);
-- a valid image: one event at time 1
SELECT s, s::text::clm.km IS NOT NULL AS valid FROM (SELECT clm.km_agg(1, true) s) q;
