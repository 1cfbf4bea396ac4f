/*
 * Upgrade 1.0 -> 1.1, part 00: what 1.1 changes in the objects of 1.0.
 * Each later part (NN-topic.sql) carries one topic's changes; features that
 * are new in 1.1 come whole from their src/<feature>.sql (NEW_IN_1_1).
 */

COMMENT ON SCHEMA @extschema@ IS 'clm: customer lifecycle management (RFM, cohorts, churn, CLV, stage history)';
