/*
 * Upgrade 1.0 -> 1.1, part 40: acting on the lifecycle (issue #17).
 * clm.scores gets the value tier column (src/scores.sql); the scores view
 * that clm.register creates (src/security.sql) shows it, but views created
 * by 1.0 keep their columns (see README "Acting on the lifecycle").  The new
 * objects come whole from src/action.sql (NEW_IN_1_1).
 */

ALTER TABLE @extschema@.scores ADD COLUMN tier smallint;
