-- clm.nps, clm.csat, clm.ces and the two-group comparisons.  Every figure
-- below is worked out by hand in the comment above it (z = 1.959963984540054,
-- z^2 = 3.841458820694124); figures are printed rounded to 10 decimals.
-- The tables are ordinary (not temporary) tables, so the second run of the
-- suite (parallel costs at zero) aggregates them with Partial Aggregates and
-- the combine function, and must print the same.
SET extra_float_digits = 0;
CREATE TABLE sat_answers (grp text, nps integer, csat integer, ces integer);
-- group a: NPS 10 10 9 9 9 | 8 7 7 | 6 0 and a NULL
--   promoters 5, passives 3, detractors 2, n = 10, p = 0.5, d = 0.2
--   nps = 100 (0.5 - 0.2) = 30
--   std_err = 100 sqrt(((0.5 + 0.2) - 0.3^2) / 10) = 100 sqrt(0.61 / 10)
--           = 100 sqrt(0.061) = 24.6981780705
--   interval 30 -/+ 1.959963984540054 * 24.6981780705 = 30 -/+ 48.4075395019
--           = [-18.4075395019, 78.4075395019]
-- group b: NPS 10 10 9 9 | 8 8 8 8 7 7 7 7 | 6 6 5 4 3 2 1 0, n = 20
--   p = 0.2, d = 0.4, nps = -20
--   std_err = 100 sqrt((0.6 - 0.04) / 20) = 100 sqrt(0.028) = 16.7332005307
--   interval -20 -/+ 32.7964703862 = [-52.7964703862, 12.7964703862]
INSERT INTO sat_answers (grp, nps) VALUES
	('a', 10), ('a', 10), ('a', 9), ('a', 9), ('a', 9), ('a', 8), ('a', 7), ('a', 7),
	('a', 6), ('a', 0), ('a', NULL),
	('b', 10), ('b', 10), ('b', 9), ('b', 9), ('b', 8), ('b', 8), ('b', 8), ('b', 8),
	('b', 7), ('b', 7), ('b', 7), ('b', 7), ('b', 6), ('b', 6), ('b', 5), ('b', 4),
	('b', 3), ('b', 2), ('b', 1), ('b', 0);
ANALYZE sat_answers;
SELECT grp, (r).responses, (r).promoters, (r).passives, (r).detractors,
	round((r).nps::numeric, 10) AS nps, round((r).std_err::numeric, 10) AS std_err,
	round((r).lower::numeric, 10) AS lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT grp, clm.nps(nps) AS r FROM sat_answers GROUP BY grp) s ORDER BY grp;
-- the same figures to the last bit, against the formulas written out
SELECT (r).nps = 30 AS nps_a, (r).std_err = 100 * sqrt(0.061::float8) AS se_a,
	(r).lower = 30 - 1.959963984540054 * (r).std_err AS lower_a,
	(r).upper = 30 + 1.959963984540054 * (r).std_err AS upper_a
FROM (SELECT clm.nps(nps) AS r FROM sat_answers WHERE grp = 'a') s;
-- both groups together: promoters 9, passives 11, detractors 10, n = 30
--   nps = 100 (9 - 10) / 30 = -3.3333333333
--   std_err = 100 sqrt((19/30 - (1/30)^2) / 30) = 100 sqrt((570/900 - 1/900) / 30)
--           = 100 sqrt(569 / 27000) = 100 sqrt(0.0210740741) = 14.5169122316
SELECT (r).responses, (r).promoters, (r).passives, (r).detractors,
	round((r).nps::numeric, 10) AS nps, round((r).std_err::numeric, 10) AS std_err
FROM (SELECT clm.nps(nps) AS r FROM sat_answers) s;

-- nps_diff(a, b): difference = 30 - (-20) = 50
--   std_err = sqrt(24.6981780705^2 + 16.7332005307^2) = 100 sqrt(0.061 + 0.028)
--           = 100 sqrt(0.089) = 29.8328677804
--   z = 50 / 29.8328677804 = 1.6760038079
--   p = 2 (1 - Phi(1.6760038079)) = erfc(1.6760038079 / sqrt 2) = 0.0937374467
--   (normal table: Phi(1.68) = 0.9535, 2 * 0.0465 = 0.093)
SELECT round(difference::numeric, 10) AS difference, round(std_err::numeric, 10) AS std_err,
	round(z::numeric, 10) AS z, round(p_value::numeric, 10) AS p_value
FROM clm.nps_diff((SELECT clm.nps(nps) FROM sat_answers WHERE grp = 'a'),
				  (SELECT clm.nps(nps) FROM sat_answers WHERE grp = 'b'));
-- swapped: the sign of difference and z changes, the p-value does not
SELECT round(difference::numeric, 10) AS difference, round(z::numeric, 10) AS z,
	round(p_value::numeric, 10) AS p_value
FROM clm.nps_diff((SELECT clm.nps(nps) FROM sat_answers WHERE grp = 'b'),
				  (SELECT clm.nps(nps) FROM sat_answers WHERE grp = 'a'));
-- results typed by hand: only the counts are read (nps 99 is ignored)
SELECT round(difference::numeric, 10) AS difference, round(std_err::numeric, 10) AS std_err
FROM clm.nps_diff('(10,5,3,2,99,,,)', '(20,4,8,8,,,,)');

-- edges of NPS
-- no rows, and only NULLs: responses 0, counts 0, figures NULL
SELECT (clm.nps(x)).* FROM (SELECT 1 WHERE false) s(x);
SELECT (clm.nps(x)).* FROM (VALUES (NULL::integer), (NULL)) s(x);
-- one promoter: nps 100, std_err 100 sqrt((1 - 1) / 1) = 0, interval [100, 100]
SELECT (clm.nps(x)).* FROM (VALUES (10)) s(x);
-- all detractors: nps -100, std_err 0
SELECT (clm.nps(x)).* FROM (VALUES (0), (6), (3)) s(x);
-- one promoter, one passive: nps 50, std_err 100 sqrt((0.5 - 0.25) / 2)
--   = 100 sqrt(0.125) = 35.3553390593; the Wald interval is not clipped to
--   [-100, 100]: 50 -/+ 69.2951912175 = [-19.2951912175, 119.2951912175]
SELECT round((r).std_err::numeric, 10) AS std_err, round((r).lower::numeric, 10) AS lower,
	round((r).upper::numeric, 10) AS upper
FROM (SELECT clm.nps(x) AS r FROM (VALUES (9), (7)) s(x)) s;
-- a group without responses compares to nothing: all NULL
SELECT * FROM clm.nps_diff('(0,0,0,0,,,,)', '(20,4,8,8,,,,)');
-- two groups without spread (std_err 0): difference 200, std_err 0, z and p NULL
SELECT * FROM clm.nps_diff('(2,2,0,0,,,,)', '(3,0,0,3,,,,)');

-- CSAT on 1..5 (default): 5 5 5 4 4 | 3 2 1 and a NULL, n = 8, satisfied 5
--   csat = 100 * 5 / 8 = 62.5
--   Wilson: p = 0.625, z^2 / n = 0.4801823526, denominator 1.4801823526
--   center = (0.625 + z^2 / 16) / 1.4801823526 = 0.8650911763 / 1.4801823526 = 0.5844490544
--   half = z / 1.4801823526 * sqrt(0.625 * 0.375 / 8 + z^2 / 256)
--        = 1.3241368411 * sqrt(0.029296875 + 0.0150056985) = 0.2787066598
--   interval [30.5742394603, 86.3155714176] (percent)
-- group b: 5 4 4 | 3 3 3 2 2 2 1 1 1, n = 12, satisfied 3, csat 25
--   Wilson [8.8941668394, 53.2305334934]
INSERT INTO sat_answers (grp, csat) VALUES
	('a', 5), ('a', 5), ('a', 5), ('a', 4), ('a', 4), ('a', 3), ('a', 2), ('a', 1), ('a', NULL),
	('b', 5), ('b', 4), ('b', 4), ('b', 3), ('b', 3), ('b', 3), ('b', 2), ('b', 2), ('b', 2),
	('b', 1), ('b', 1), ('b', 1);
ANALYZE sat_answers;
SELECT grp, (r).responses, (r).satisfied, round((r).csat::numeric, 10) AS csat,
	round((r).lower::numeric, 10) AS lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT grp, clm.csat(csat) AS r FROM sat_answers GROUP BY grp) s ORDER BY grp;
-- the explicit scale 5 is the same aggregate
SELECT clm.csat(csat) = clm.csat(csat, 5) AS same FROM sat_answers;
-- csat_diff(a, b), the two-proportion z-test: difference = 62.5 - 25 = 37.5
--   pooled q = (5 + 3) / (8 + 12) = 0.4
--   std_err = 100 sqrt(0.4 * 0.6 * (1/8 + 1/12)) = 100 sqrt(0.24 * 0.2083333333)
--           = 100 sqrt(0.05) = 22.3606797750
--   z = 37.5 / 22.360679775 = 1.6770509831, p = erfc(z / sqrt 2) = 0.0935325127
SELECT round(difference::numeric, 10) AS difference, round(std_err::numeric, 10) AS std_err,
	round(z::numeric, 10) AS z, round(p_value::numeric, 10) AS p_value
FROM clm.csat_diff((SELECT clm.csat(csat) FROM sat_answers WHERE grp = 'a'),
				   (SELECT clm.csat(csat) FROM sat_answers WHERE grp = 'b'));
-- every answer satisfied on both sides: q = 1, std_err 0, z and p NULL
SELECT * FROM clm.csat_diff('(4,4,,,)', '(7,7,,,)');
SELECT * FROM clm.csat_diff('(4,4,,,)', '(0,0,,,)');

-- other CSAT scales: the top two boxes are scale - 1 and scale
-- 1..7: 7 6 7 | 5 1 -> satisfied 3 of 5 = 60, Wilson [23.0724281276, 88.2379225767]
-- 1..10: 10 9 | 8 1 -> satisfied 2 of 4 = 50, Wilson [15.0038989152, 84.9961010848]
-- 1..4: 4 3 | 2 -> satisfied 2 of 3
SELECT (r).responses, (r).satisfied, round((r).csat::numeric, 10) AS csat,
	round((r).lower::numeric, 10) AS lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT clm.csat(x, 7) AS r FROM (VALUES (7), (6), (7), (5), (1)) s(x)) s;
SELECT (r).responses, (r).satisfied, round((r).csat::numeric, 10) AS csat,
	round((r).lower::numeric, 10) AS lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT clm.csat(x, 10) AS r FROM (VALUES (10), (9), (8), (1)) s(x)) s;
SELECT (r).responses, (r).satisfied FROM (SELECT clm.csat(x, 4) AS r FROM (VALUES (4), (3), (2)) s(x)) s;
-- none satisfied of 3: Wilson lower exactly 0 (center = half), upper
--   2 * (z^2 / 6) / (1 + z^2 / 3) = 1.2804862736 / 2.2804862736 = 56.1497031755 %
-- all satisfied of 3: [100 - 56.1497031755, 100] = [43.8502968245, 100]
SELECT (r).csat, (r).lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT clm.csat(x) AS r FROM (VALUES (1), (2), (3)) s(x)) s;
SELECT (r).csat, round((r).lower::numeric, 10) AS lower, (r).upper
FROM (SELECT clm.csat(x) AS r FROM (VALUES (5), (4), (5)) s(x)) s;
SELECT (clm.csat(x)).* FROM (SELECT 1 WHERE false) s(x);
SELECT (clm.csat(x, 7)).* FROM (VALUES (NULL::integer)) s(x);

-- CES on 1..7 (default): 7 6 5 5 | 4 3 2 1, n = 8, agree 4 (5 to 7)
--   ces = 100 * 4 / 8 = 50, mean = (7 + 6 + 5 + 5 + 4 + 3 + 2 + 1) / 8 = 33 / 8 = 4.125
-- CES on 1..5: 5 4 4 | 3 2 1, n = 6, agree 3 (4 and 5)
--   ces = 50, mean = 19 / 6 = 3.1666666667
INSERT INTO sat_answers (grp, ces) VALUES
	('a', 7), ('a', 6), ('a', 5), ('a', 5), ('a', 4), ('a', 3), ('a', 2), ('a', 1), ('a', NULL);
ANALYZE sat_answers;
SELECT (r).* FROM (SELECT clm.ces(ces) AS r FROM sat_answers) s;
SELECT clm.ces(ces) = clm.ces(ces, 7) AS same FROM sat_answers;
SELECT (r).responses, (r).agree, (r).ces, round((r).mean::numeric, 10) AS mean
FROM (SELECT clm.ces(x, 5) AS r FROM (VALUES (5), (4), (4), (3), (2), (1)) s(x)) s;
SELECT (clm.ces(x)).* FROM (SELECT 1 WHERE false) s(x);

-- the state: {tag, responses with score 0, ..., score 10}; tag 110 = NPS,
-- 200 + scale = CSAT, 300 + scale = CES.  Called outside an aggregate the
-- transition function works on a copy of the state.
SELECT clm.nps_accum('{0,0,0,0,0,0,0,0,0,0,0,0}', 9);
SELECT clm.csat_accum('{0,0,0,0,0,0,0,0,0,0,0,0}', 6, 7);
SELECT clm.ces_accum('{305,0,1,0,0,0,2,0,0,0,0,0}', 5, 5);
-- the 1-argument form is the 1..7 scale: a 1..5 state does not take it
SELECT error_of($$SELECT clm.ces_accum('{305,0,1,0,0,0,2,0,0,0,0,0}', 5)$$);
-- states stored in a table and combined later (rollups): one 0 (a
-- detractor) + one 9 and one 10 (promoters): p = 2/3, d = 1/3
--   nps = 33.3333333333, std_err = 100 sqrt((1 - 1/9) / 3) = 100 sqrt(8/27)
--   = 54.4331053952, interval 33.3333333333 -/+ 106.6869261412
SELECT (r).responses, (r).promoters, (r).passives, (r).detractors,
	round((r).nps::numeric, 10) AS nps, round((r).std_err::numeric, 10) AS std_err,
	round((r).lower::numeric, 10) AS lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT clm.nps_final(clm.survey_combine('{110,1,0,0,0,0,0,0,0,0,0,0}',
											  '{110,0,0,0,0,0,0,0,0,0,1,1}')) AS r) s;

-- running and sliding windows (the state is updated in place: a window
-- must still see each frame's own counts)
-- running: 10 -> 100; 10 0 -> 0; 10 0 8 -> 0; 10 0 8 9 -> 25
-- sliding 2 rows: 10 -> 100; 10 0 -> 0; 0 8 -> -50; 8 9 -> 50
SELECT i, (clm.nps(x) OVER (ORDER BY i)).nps AS running,
	(clm.nps(x) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)).nps AS sliding
FROM (VALUES (1, 10), (2, 0), (3, 8), (4, 9)) s(i, x) ORDER BY i;

-- errors
-- scores outside the scale: 22003
SELECT error_of('SELECT clm.nps(x) FROM (VALUES (10), (11)) s(x)');
SELECT error_of('SELECT clm.nps(x) FROM (VALUES (-1)) s(x)');
SELECT error_of('SELECT clm.csat(x) FROM (VALUES (6)) s(x)');
SELECT error_of('SELECT clm.csat(x) FROM (VALUES (0)) s(x)');
SELECT error_of('SELECT clm.csat(x, 7) FROM (VALUES (8)) s(x)');
SELECT error_of('SELECT clm.ces(x) FROM (VALUES (8)) s(x)');
SELECT error_of('SELECT clm.ces(x, 5) FROM (VALUES (6)) s(x)');
SELECT error_of('SELECT clm.ces(x) FROM (VALUES (0)) s(x)');
-- unsupported scales: 22023; a NULL scale: 22004 (even for a NULL score)
SELECT error_of('SELECT clm.csat(x, 3) FROM (VALUES (1)) s(x)');
SELECT error_of('SELECT clm.csat(x, 11) FROM (VALUES (1)) s(x)');
SELECT error_of('SELECT clm.ces(x, 6) FROM (VALUES (1)) s(x)');
SELECT error_of('SELECT clm.ces(x, 10) FROM (VALUES (1)) s(x)');
SELECT error_of('SELECT clm.csat(x, NULL) FROM (VALUES (1)) s(x)');
SELECT error_of('SELECT clm.ces(x, y) FROM (VALUES (NULL::integer, NULL::integer)) s(x, y)');
-- two scales in one group: 22023
SELECT error_of('SELECT clm.csat(x, y) FROM (VALUES (5, 5), (7, 7)) s(x, y)');
-- corrupt or foreign states given by hand: 22023; counts past bigint: 22003
SELECT error_of('SELECT clm.nps_final(''{1,2}'')');
SELECT error_of('SELECT clm.nps_final(''{0,0,0,0,0,0,0,0,0,0,0,NULL}'')');
SELECT error_of('SELECT clm.nps_final(''{{0,0,0,0,0,0,0,0,0,0,0,0}}'')');
SELECT error_of('SELECT clm.nps_final(''{999,0,0,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.nps_final(''{110,0,0,0,0,0,0,0,0,0,-1,0}'')');
SELECT error_of('SELECT clm.nps_final(''{205,0,1,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.csat_final(''{205,1,0,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.ces_final(''{0,0,1,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.survey_combine(''{110,0,0,0,0,0,0,0,0,0,1,0}'', ''{205,0,1,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.survey_combine(''{110,9223372036854775807,0,0,0,0,0,0,0,0,0,0}'', ''{110,1,0,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.nps_final(''{110,9223372036854775807,1,0,0,0,0,0,0,0,0,0}'')');
SELECT error_of('SELECT clm.nps_accum(''{110,0,0,0,0,0,0,0,0,0,0,9223372036854775807}'', 10)');
-- inconsistent or NULL counts in a result given to a comparison
SELECT error_of('SELECT clm.nps_diff(''(10,5,3,1,,,,)'', ''(20,4,8,8,,,,)'')');
SELECT error_of('SELECT clm.nps_diff(''(10,5,3,,,,,)'', ''(20,4,8,8,,,,)'')');
SELECT error_of('SELECT clm.nps_diff(''(-1,-1,0,0,,,,)'', ''(20,4,8,8,,,,)'')');
SELECT error_of('SELECT clm.csat_diff(''(3,4,,,)'', ''(7,7,,,)'')');
SELECT error_of('SELECT clm.csat_diff(''(3,-1,,,)'', ''(7,7,,,)'')');
SELECT error_of('SELECT clm.csat_diff(''(,1,,,)'', ''(7,7,,,)'')');
-- a NULL argument of the (STRICT) comparisons gives NULL
SELECT clm.nps_diff(NULL, '(20,4,8,8,,,,)') IS NULL AS null_in_null_out;

-- many rows: 33,000 answers, each score 0..10 3,000 times, 1,000 times in
-- each of 3 groups of 11,000 (3 and 11 are coprime: g = 1..33000 gives each
-- pair (g % 3, g % 11) 1,000 times)
--   promoters 6000, passives 6000, detractors 21000 overall
--   nps = 100 (6000 - 21000) / 33000 = -45.4545454545
--   std_err = 100 sqrt((27000/33000 - (15000/33000)^2) / 33000)
--           = 100 sqrt((9/11 - 25/121) / 33000) = 100 sqrt(74 / 3993000) = 0.4304931098
-- CSAT 1 + g % 5: each score 6600 times, satisfied 13200 = 40 %
--   Wilson: n = 33000, p = 0.4: center = (0.4 + z^2/66000) / (1 + z^2/33000)
--   = 0.4000582039 / 1.0001164078 = 0.4000116394
--   half = z / 1.0001164078 * sqrt(0.4 * 0.6 / 33000 + z^2 / (4 * 33000^2))
--        = 1.9597358559 * sqrt(7.2727272727e-6 + 8.8188e-10) = 0.0052853350
--   -> [39.4726304435, 40.5296974423]
CREATE TABLE sat_many (k integer, score integer, csat integer);
INSERT INTO sat_many SELECT g % 3, g % 11, 1 + g % 5 FROM generate_series(1, 33000) g;
ALTER TABLE sat_many SET (parallel_workers = 2);
ANALYZE sat_many;
SELECT (r).responses, (r).promoters, (r).passives, (r).detractors,
	round((r).nps::numeric, 10) AS nps, round((r).std_err::numeric, 10) AS std_err
FROM (SELECT clm.nps(score) AS r FROM sat_many) s;
SELECT (r).responses, (r).satisfied, (r).csat, round((r).lower::numeric, 10) AS lower,
	round((r).upper::numeric, 10) AS upper
FROM (SELECT clm.csat(csat) AS r FROM sat_many) s;
-- a Partial Aggregate is planned once parallel query is cheap
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT clm.nps(score), clm.csat(csat), clm.ces(1 + score % 7) FROM sat_many;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT k, clm.nps(score) FROM sat_many GROUP BY k;
-- per group: 11,000 answers, 1,000 of each score: nps = 100 (2000 - 7000) / 11000
--   = -45.4545454545, std_err = 100 sqrt((9/11 - 25/121) / 11000)
--   = 100 sqrt(74 / 1331000) = 0.7456359384, interval -/+ 1.4614195849
SELECT k, (r).responses, (r).promoters, (r).passives, (r).detractors,
	round((r).nps::numeric, 10) AS nps, round((r).std_err::numeric, 10) AS std_err,
	round((r).lower::numeric, 10) AS lower, round((r).upper::numeric, 10) AS upper
FROM (SELECT k, clm.nps(score) AS r FROM sat_many GROUP BY k) s ORDER BY k;
RESET enable_hashagg;
-- partial results equal the serial ones; with no worker allowed the leader
-- still runs Partial -> Finalize (combine)
CREATE TABLE sat_parallel AS
SELECT k, clm.nps(score) AS n, clm.csat(csat) AS c, clm.ces(1 + score % 7) AS e FROM sat_many GROUP BY k;
SET max_parallel_workers = 0;
SELECT count(*) AS differing FROM (
	SELECT k, clm.nps(score)::text, clm.csat(csat)::text, clm.ces(1 + score % 7)::text FROM sat_many GROUP BY k
	EXCEPT
	SELECT k, n::text, c::text, e::text FROM sat_parallel) d;
RESET max_parallel_workers;
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS differing FROM (
	SELECT k, clm.nps(score)::text, clm.csat(csat)::text, clm.ces(1 + score % 7)::text FROM sat_many GROUP BY k
	EXCEPT
	SELECT k, n::text, c::text, e::text FROM sat_parallel) d;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE sat_answers, sat_many, sat_parallel;
