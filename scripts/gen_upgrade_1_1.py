# scripts/gen_upgrade_1_1.py: writes the parts of the 1.0 -> 1.1 upgrade
# that restate 1.0 functions with their 1.1 text, so that it is written once:
# - src/upgrade/1.0--1.1/20-security.sql: functions of the scoring pipeline
#   (security #13, and the Citus change queue of #14 in refresh_start and
#   worker_status), from src/scores.sql;
# - src/upgrade/1.0--1.1/45-stages-citus.sql: the stage functions that check
#   clm.stage_history_here and the changed comments (#14), from
#   src/stages.sql.
# Edit src/scores.sql or src/stages.sql, then run this from the checkout's
# root and commit all.  test/t/001_upgrade.pl fails when the upgrade and a
# fresh install disagree.
import re
s=open('src/scores.sql').read()
def extract(name, s=s):
    i=s.index('CREATE FUNCTION @extschema@.'+name+'(')
    # find end
    rest=s[i:]
    m=re.search(r"AS (\$[a-z]*\$)", rest)
    semi=rest.index(';')
    if m and m.start()<semi:
        d=m.group(1)
        j=rest.index(d, m.end())+len(d)
        j=rest.index(';', j)+1
    else:
        j=semi+1
    return 'CREATE OR REPLACE FUNCTION'+rest[len('CREATE FUNCTION'):j]
out=['''/*
 * Upgrade 1.0 -> 1.1, part 20: security (issue #13).  The same changes as
 * src/scores.sql and src/stages.sql make for a fresh install; the new
 * objects (gateways' internal functions, clm.run_as, clm.forget, the
 * sql_drop event trigger...) come whole from src/security.sql.
 *
 * The function bodies below are copies of those in src/scores.sql, the
 * Citus change queue (#14) in refresh_start and worker_status included
 * (written by scripts/gen_upgrade_1_1.py: edit src/scores.sql and rerun).
 */

-- hole 1: the change-queue trigger is C, not SECURITY DEFINER
''']
out.append(extract('queue_changes')+'\n')
out.append('''
-- hole 2: nobody but the extension owner writes clm's tables; the functions
-- that change them are C gateways (src/gate.c, src/security.sql)
DROP POLICY sources_insert ON @extschema@.sources;
DROP POLICY sources_update ON @extschema@.sources;
DROP POLICY sources_delete ON @extschema@.sources;
DROP POLICY scores_write ON @extschema@.scores;
DROP POLICY score_versions_write ON @extschema@.score_versions;
DROP POLICY refresh_runs_write ON @extschema@.refresh_runs;
DROP POLICY refresh_stage_owner ON @extschema@.refresh_stage;
DROP POLICY refresh_queue_owner ON @extschema@.refresh_queue;

CREATE POLICY refresh_queue_read ON @extschema@.refresh_queue FOR SELECT
	USING (source IN (SELECT name FROM @extschema@.sources));

REVOKE INSERT, UPDATE, DELETE ON @extschema@.sources, @extschema@.scores, @extschema@.score_versions,
	@extschema@.refresh_runs, @extschema@.refresh_queue FROM PUBLIC;

REVOKE ALL ON @extschema@.refresh_stage FROM PUBLIC;

REVOKE ALL ON SEQUENCE @extschema@.refresh_runs_id_seq FROM PUBLIC;

''')
for n in ['register','unregister','grant_scores','revoke_scores','refresh_start','refresh_summaries','refresh_prepare','refresh_step','refresh_finish','refresh','refresh_failed','worker_status']:
    out.append(extract(n)+'\n\n')
# comments
for pat in ['COMMENT ON FUNCTION @extschema@.queue_changes() IS','COMMENT ON FUNCTION @extschema@.source_lock_key(text) IS']:
    i=s.index(pat); j=s.index("';", i)+2
    out.append(s[i:j]+'\n\n')
i=s.index('-- the refresh steps are internal')
out.append(s[i:].rstrip('\n')+'\n')
out.append('''
-- hole 3: the stage history of the tables a role may SELECT only
ALTER TABLE @extschema@.stage_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY stage_history_read ON @extschema@.stage_history FOR SELECT
	USING (pg_catalog.has_table_privilege(table_oid::pg_catalog.oid, 'SELECT'));

ALTER VIEW @extschema@.stage_spans SET (security_invoker = true);

ALTER VIEW @extschema@.time_in_stage SET (security_invoker = true);

''')
st=open('src/stages.sql').read()
i=st.index('COMMENT ON TABLE @extschema@.stage_history IS'); j=st.index("';", i)+2
out.append(st[i:j]+'\n')
open('src/upgrade/1.0--1.1/20-security.sql','w').write(''.join(out))

# part 45: stage tracking of Citus distributed tables
def comment(pat, text):
    i=text.index(pat); j=text.index("';", i)+2
    return text[i:j]+'\n'
out=["""/*
 * Upgrade 1.0 -> 1.1, part 45: stage tracking of Citus distributed tables
 * (issue #14, src/stages_citus.c).  clm.track, clm.untrack and the trigger
 * keep their SQL definitions; their descriptions say what they now do.  The
 * stage functions that take a table first check clm.stage_history_here
 * (new), so that Citus running them on a worker raises an error instead of
 * reading the worker's empty history.  clm.stage_config_changed() now also
 * fires on clm.stage_notify_channel (src/action.sql): its description says
 * so.  Written by scripts/gen_upgrade_1_1.py from src/stages.sql.
 */

"""]
for pat in ['COMMENT ON FUNCTION @extschema@.stage_config_changed() IS',
            'COMMENT ON FUNCTION @extschema@.stage_trigger() IS',
            'COMMENT ON FUNCTION @extschema@.track(regclass, name, name, text, boolean) IS',
            'COMMENT ON FUNCTION @extschema@.untrack(regclass) IS']:
    out.append(comment(pat, st)+'\n')
out.append(extract('stage_history_here', st).replace('CREATE OR REPLACE FUNCTION', 'CREATE FUNCTION', 1)+'\n\n')
for n in ['stage_at','stage_properties','transition_matrix','stage_funnel']:
    out.append(extract(n, st)+'\n\n')
out.append(comment('COMMENT ON FUNCTION @extschema@.stage_history_here(regclass) IS', st))
open('src/upgrade/1.0--1.1/45-stages-citus.sql','w').write(''.join(out))
