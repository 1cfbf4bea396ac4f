/*
 * Upgrade 1.0 -> 1.1, part 45: stage tracking of Citus distributed tables
 * (issue #14, src/stages_citus.c).  The functions keep their SQL
 * definitions; their descriptions say what they now do (the same text as
 * src/stages.sql).
 */

COMMENT ON FUNCTION @extschema@.stage_trigger() IS
'Row trigger installed by clm.track(): validates stage moves against the model and writes clm.stage_history; with two arguments (change table, table OID), on the shards of a Citus distributed table, it appends each change to the table''s change table, which the coordinator validates and moves into clm.stage_history at the end of the statement';

COMMENT ON FUNCTION @extschema@.track(regclass, name, name, text, boolean) IS
'Track the stage column of a table you own (key bigint, integer, text or uuid; a Citus table must be distributed by the key column): installs the clm_stage_insert/clm_stage_update triggers (and, for a distributed table, its change table clm_stage_changes_<table OID>); with record_existing, records each existing row''s stage; returns the rows recorded';

COMMENT ON FUNCTION @extschema@.untrack(regclass) IS
'Stop tracking a table: drops its clm triggers (and the change table of a distributed table) and registry row, keeps its history';
