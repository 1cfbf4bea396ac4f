-- pgTAP: scoring pipeline catalog labels, privileges and row level security
\set ON_ERROR_STOP true
SET client_min_messages = warning;
BEGIN;
SELECT plan(16);

SELECT has_table('clm', 'sources', 'clm.sources exists');
SELECT has_table('clm', 'scores', 'clm.scores exists');
SELECT has_table('clm', 'refresh_runs', 'clm.refresh_runs exists');
SELECT has_index('clm', 'scores', 'scores_segment', ARRAY['source', 'segment'], 'scores indexed by segment');
SELECT has_index('clm', 'scores', 'scores_stage', ARRAY['source', 'stage'], 'scores indexed by stage');
SELECT is(
	(SELECT array_agg(relname::text ORDER BY relname) FROM pg_class
	 WHERE relnamespace = 'clm'::regnamespace AND relrowsecurity),
	ARRAY['campaign_members', 'campaigns', 'erasure_log', 'refresh_queue', 'refresh_runs', 'refresh_stage',
	      'score_announce', 'score_change_log', 'score_versions', 'scores', 'sources', 'stage_history',
	      'stage_notify_channel', 'value_tiers'],
	'row level security on every pipeline table, the stage history and the erasure log (#13), and the action tables (#17)');
SELECT volatility_is('clm', 'quintile_score', ARRAY['double precision', 'double precision[]'], 'immutable', 'quintile_score is IMMUTABLE');
SELECT volatility_is('clm', 'quintile_breaks', ARRAY['double precision[]'], 'immutable', 'quintile_breaks is IMMUTABLE');
SELECT is_strict('clm', 'quintile_score', ARRAY['double precision', 'double precision[]'], 'quintile_score is STRICT');
SELECT volatility_is('clm', 'behavioral_stage',
	ARRAY['timestamp with time zone', 'timestamp with time zone', 'timestamp with time zone', 'double precision',
	      'interval', 'interval', 'interval', 'interval', 'double precision', 'double precision'],
	'immutable', 'behavioral_stage is IMMUTABLE');
SELECT volatility_is('clm', 'refresh', ARRAY['text', 'boolean', 'timestamp with time zone'], 'volatile', 'refresh is VOLATILE');
SELECT volatility_is('clm', 'worker_status', ARRAY[]::text[], 'stable', 'worker_status is STABLE');
SELECT is(
	(SELECT array_agg(DISTINCT proparallel) FROM pg_proc
	 WHERE oid IN ('clm.quintile_score(float8, float8[])'::regprocedure, 'clm.quintile_breaks(float8[])'::regprocedure,
	               'clm.next_stage(text, text, timestamptz, timestamptz, interval)'::regprocedure)),
	ARRAY['s']::"char"[], 'pure scoring functions are PARALLEL SAFE');
SELECT is(
	(SELECT array_agg(DISTINCT proparallel) FROM pg_proc
	 WHERE oid IN ('clm.register(text, regclass, name, name, name, text, text, text, text, text, integer, double precision, text, regclass, name, name, interval, interval, boolean, text)'::regprocedure,
	               'clm.refresh(text, boolean, timestamptz)'::regprocedure, 'clm.unregister(text)'::regprocedure)),
	ARRAY['u']::"char"[], 'functions that write are PARALLEL UNSAFE');
-- every pipeline function pins its search_path
SELECT is(
	(SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
	 WHERE p.pronamespace = 'clm'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
	   AND p.proname IN ('register', 'unregister', 'refresh', 'refresh_start', 'refresh_prepare', 'refresh_step',
	                     'refresh_finish', 'refresh_failed', 'queue_changes', 'grant_scores', 'revoke_scores',
	                     'register_as', 'unregister_as', 'refresh_as', 'grant_scores_as', 'revoke_scores_as',
	                     'alter_source_as', 'forget_as', 'drop_orphans', 'on_drop')
	   AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)),
	NULL, 'pipeline functions set search_path = pg_catalog, pg_temp');
SELECT is(has_schema_privilege('public', 'clm', 'USAGE'), true, 'everyone may use schema clm (rows are guarded by RLS)');

SELECT * FROM finish();
ROLLBACK;
