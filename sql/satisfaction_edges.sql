-- Satisfaction scores at input boundaries: hand-built bigint[] states
-- (wrong length, dimensions, NULLs, negative counts, unknown or mismatched
-- tags), combining states of different scales, count overflow, hand-built
-- result rows for the two-group tests, window use.
SET extra_float_digits = 0;
-- a hand-built state: tag 110 (NPS 0..10), 2 promoters (10), 1 detractor (0)
SELECT (clm.nps_final('{110,1,0,0,0,0,0,0,0,0,0,2}')).*;
SELECT (clm.nps_final('[5:16]={110,1,0,0,0,0,0,0,0,0,0,2}')).responses AS non_one_based;
SELECT error_of($$SELECT clm.nps_final('{110,1,0}')$$) AS short_state;
SELECT error_of($$SELECT clm.nps_final('{}')$$) AS empty_state;
SELECT error_of($$SELECT clm.nps_final('{{110,1,0,0,0,0,0,0,0,0,0,2}}')$$) AS two_dimensional;
SELECT error_of($$SELECT clm.nps_final('{110,NULL,0,0,0,0,0,0,0,0,0,2}')$$) AS null_count;
SELECT error_of($$SELECT clm.nps_final('{110,-1,0,0,0,0,0,0,0,0,0,2}')$$) AS negative_count;
SELECT error_of($$SELECT clm.nps_final('{111,1,0,0,0,0,0,0,0,0,0,2}')$$) AS unknown_tag;
SELECT error_of($$SELECT clm.nps_final('{-90,1,0,0,0,0,0,0,0,0,0,2}')$$) AS negative_tag;
SELECT error_of($$SELECT clm.nps_final('{0,1,0,0,0,0,0,0,0,0,0,0}')$$) AS responses_without_tag;
SELECT error_of($$SELECT clm.csat_final('{110,1,0,0,0,0,0,0,0,0,0,2}')$$) AS nps_state_to_csat;
SELECT error_of($$SELECT clm.csat_final('{205,0,0,0,0,0,0,1,0,0,0,0}')$$) AS score_above_scale;
SELECT error_of($$SELECT clm.csat_final('{205,1,0,0,0,0,0,0,0,0,0,0}')$$) AS score_0_on_1_to_5;
-- counts that overflow bigint when summed
SELECT error_of($$SELECT clm.nps_final('{110,9223372036854775807,1,0,0,0,0,0,0,0,0,0}')$$) AS count_sum_overflow;
SELECT (clm.nps_final('{110,9223372036854775807,0,0,0,0,0,0,0,0,0,0}')).nps AS all_detractors_at_max;

-- combine: counts add, a state without responses (tag 0) takes the other's
SELECT clm.survey_combine('{205,0,1,0,0,2,3,0,0,0,0,0}', '{0,0,0,0,0,0,0,0,0,0,0,0}') AS with_empty,
       clm.survey_combine('{205,0,1,0,0,2,3,0,0,0,0,0}', '{205,0,0,0,0,1,1,0,0,0,0,0}') AS added;
SELECT error_of($$SELECT clm.survey_combine('{205,0,1,0,0,2,3,0,0,0,0,0}', '{207,0,1,0,0,2,3,0,0,0,0,0}')$$) AS different_scales;
SELECT error_of($$SELECT clm.survey_combine('{110,1,0,0,0,0,0,0,0,0,0,2}', '{205,0,1,0,0,2,3,0,0,0,0,0}')$$) AS nps_with_csat;
SELECT error_of($$SELECT clm.survey_combine('{110,1,0,0,0,0,0,0,0,0,0,2}', '{110,1,0}')$$) AS wrong_length;
SELECT error_of($$SELECT clm.survey_combine('{110,9223372036854775807,0,0,0,0,0,0,0,0,0,0}', '{110,1,0,0,0,0,0,0,0,0,0,0}')$$) AS count_overflow;
-- called directly, the functions work on a copy: the argument is unchanged
SELECT s AS before, clm.nps_accum(s, 9) AS accum, s AS after
FROM (SELECT '{110,1,0,0,0,0,0,0,0,0,0,2}'::bigint[] AS s) v;
SELECT error_of($$SELECT clm.nps_accum('{205,0,1,0,0,2,3,0,0,0,0,0}', 9)$$) AS accum_tag_mismatch;
SELECT error_of($$SELECT clm.nps_accum('{110,9223372036854775807,0,0,0,0,0,0,0,0,0,0}', 0)$$) AS accum_overflow;

-- hand-built results for the two-group tests
SELECT error_of($$SELECT clm.nps_diff(ROW(3, 2, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result,
                                      ROW(1, 1, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result)$$) AS inconsistent_nps;
SELECT error_of($$SELECT clm.nps_diff(ROW(NULL, 2, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result,
                                      ROW(1, 1, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result)$$) AS null_responses;
SELECT error_of($$SELECT clm.nps_diff(ROW(-1, -1, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result,
                                      ROW(1, 1, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result)$$) AS negative_counts;
SELECT error_of($$SELECT clm.nps_diff(ROW(9223372036854775807, 9223372036854775807, 1, 0, NULL, NULL, NULL, NULL)::clm.nps_result,
                                      ROW(1, 1, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result)$$) AS sum_overflow;
SELECT error_of($$SELECT clm.csat_diff(ROW(1, 2, NULL, NULL, NULL)::clm.csat_result,
                                       ROW(1, 1, NULL, NULL, NULL)::clm.csat_result)$$) AS satisfied_above_responses;
-- every response satisfied in both groups: std_err 0, z and p NULL
SELECT * FROM clm.csat_diff(ROW(4, 4, NULL, NULL, NULL)::clm.csat_result,
                            ROW(9, 9, NULL, NULL, NULL)::clm.csat_result);
-- an empty group: all NULL
SELECT * FROM clm.nps_diff(ROW(0, 0, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result,
                           ROW(1, 1, 0, 0, NULL, NULL, NULL, NULL)::clm.nps_result);

-- as a window function: the running NPS (scores 10, 0, 9, 7: 100, 0, 33.3, 25)
SELECT i, round((clm.nps(s) OVER (ORDER BY i)).nps::numeric, 4) AS running_nps,
       (clm.csat(c, 4) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)).satisfied AS last_two_satisfied
FROM (VALUES (1, 10, 4), (2, 0, 1), (3, 9, 3), (4, 7, NULL)) v(i, s, c) ORDER BY i;
-- a score off the scale in a window
SELECT error_of($$SELECT clm.nps(s) OVER () FROM (VALUES (11)) v(s)$$) AS window_off_scale;

-- value tiers: breaks that are not NULL must descend (unsorted breaks gave
-- tier 1 to a CLV below the top break); NULL breaks are empty tiers
SELECT clm.value_tier(15, '{20,NULL,11}') AS tier_3, clm.value_tier(20, '{20,20,11}') AS tier_1,
       clm.value_tier(-1e308, '{20,17,11}') AS tier_4, clm.value_tier('Infinity', '{20,17,11}') AS inf_tier_1,
       clm.value_tier(15, '[0:2]={20,17,11}') AS non_one_based;
SELECT error_of($$SELECT clm.value_tier(3, '{1,5}')$$) AS ascending_breaks;
SELECT error_of($$SELECT clm.value_tier(3, '{5,NULL,7}')$$) AS ascending_around_null;
SELECT error_of($$SELECT clm.value_tier(30, '{20,NaN}')$$) AS nan_break_after_match;
SELECT error_of($$SELECT clm.value_tier('NaN', '{20}')$$) AS nan_clv;
SELECT error_of($$SELECT clm.value_tier(1, '{{20,10}}')$$) AS two_dimensional;
-- the two-proportion test at the ends of bigint: counts are not added as
-- integers (no overflow); p1 = p2 = 1 has no variance (z, p NULL)
SELECT * FROM clm.two_proportion_test(9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807);
SELECT difference, round(z::numeric, 6) AS z FROM clm.two_proportion_test(1, 9223372036854775807, 0, 9223372036854775807);
SELECT error_of($$SELECT clm.two_proportion_test(2, 1, 0, 1)$$) AS successes_above_size;
SELECT error_of($$SELECT clm.two_proportion_test(-1, 1, 0, 1)$$) AS negative_successes;
