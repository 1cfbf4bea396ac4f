# Stage tracking under concurrency and through pg_dump.
#  - 8 pgbench clients change the stages of 20 overlapping customers (some
#    transactions roll back): every committed change has exactly one history
#    row, in order, and nothing else.
#  - pg_dump of a database with a custom model, a tracked table and its
#    history, restored into a new database: models, registry, history and
#    triggers survive; the presets are not duplicated.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use ClmNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = ClmNode::start_node('stages');
$node->safe_psql('postgres', 'CREATE DATABASE conc');
$node->safe_psql('conc', q{
CREATE EXTENSION clm;
CREATE TABLE cust (id int PRIMARY KEY, stage text);
INSERT INTO cust SELECT g, NULL FROM generate_series(1, 20) g;
SELECT clm.track('cust', 'id', 'stage', 'acquisition_churn');
-- what the clients really changed, written in the same transactions
CREATE TABLE changes (id int, stage text);
});

my $stages = q{(ARRAY['acquisition','activation','retention','expansion','churn'])[:s]};
$node->pgbench('-n -c 8 -j 2 -t 150 --random-seed=42', 0, [qr/processed: 1200\/1200/], [qr/setting random seed to 42/],
	'8 clients change and roll back stages',
	{
		'change@9' => qq{\\set id random(1, 20)
\\set s random(1, 5)
WITH u AS (UPDATE cust SET stage = $stages
           WHERE id = :id AND stage IS DISTINCT FROM $stages
           RETURNING id, stage)
INSERT INTO changes SELECT id, stage FROM u;
},
		'rollback@1' => qq{\\set id random(1, 20)
\\set s random(1, 5)
BEGIN;
UPDATE cust SET stage = $stages WHERE id = :id;
ROLLBACK;
},
	},
	'conc');

my ($hist, $total) = split /\|/, $node->safe_psql('conc',
	'SELECT (SELECT count(*) FROM clm.stage_history), (SELECT count(*) FROM changes)');
cmp_ok($total, '>', 100, "the clients committed $total changes");
is($hist, $total, 'one history row per committed change');
is($node->safe_psql('conc', q{
	SELECT count(*) FROM (
	  (SELECT customer_key, count(*) FROM clm.stage_history GROUP BY 1
	   EXCEPT SELECT id::text, count(*) FROM changes GROUP BY 1)
	  UNION ALL
	  (SELECT id::text, count(*) FROM changes GROUP BY 1
	   EXCEPT SELECT customer_key, count(*) FROM clm.stage_history GROUP BY 1)) d}),
	'0', 'per customer, history rows = committed changes');
is($node->safe_psql('conc', q{
	SELECT count(*) FROM (
	  SELECT from_stage, lag(to_stage) OVER (PARTITION BY customer_key ORDER BY id) AS prev
	  FROM clm.stage_history) h
	WHERE from_stage IS DISTINCT FROM prev}),
	'0', 'each history row starts where the previous one of its customer ended');
is($node->safe_psql('conc', q{
	SELECT count(*) FROM cust c
	WHERE c.stage IS DISTINCT FROM (SELECT h.to_stage FROM clm.stage_history h
	                                WHERE h.customer_key = c.id::text ORDER BY h.id DESC LIMIT 1)}),
	'0', 'the last history row of each customer is its current stage');

# pg_dump keeps user models, the registry, the history and the triggers
$node->safe_psql('postgres', 'CREATE DATABASE dumped');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->safe_psql('dumped', q{
CREATE EXTENSION clm;
INSERT INTO clm.stage_model (model, policy) VALUES ('my_flow', 'graph');
INSERT INTO clm.stage (model, stage, position) VALUES ('my_flow', 'trial', 1), ('my_flow', 'paid', 2), ('my_flow', 'gone', 3);
INSERT INTO clm.stage_transition (model, from_stage, to_stage) VALUES ('my_flow', 'trial', 'paid'), ('my_flow', 'paid', 'gone');
CREATE TABLE acct (note text, code text, plan_stage text);
ALTER TABLE acct DROP COLUMN note;   -- attnums change on restore
SELECT clm.track('acct', 'code', 'plan_stage', 'my_flow');
INSERT INTO acct VALUES ('a1', 'trial'), ('a2', 'trial');
UPDATE acct SET plan_stage = 'paid' WHERE code = 'a1';
});
my $dump = PostgreSQL::Test::Utils::tempdir() . '/dump.sql';
$node->command_ok([ 'pg_dump', '-f', $dump, $node->connstr('dumped') ], 'pg_dump');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $dump, $node->connstr('restored') ], 'restore');

is($node->safe_psql('restored', q{SELECT count(*) FILTER (WHERE shipped) || '/' || string_agg(model, ',') FILTER (WHERE NOT shipped) FROM clm.stage_model}),
	'6/my_flow', 'restored: 6 presets once, custom model kept');
is($node->safe_psql('restored', q{SELECT string_agg(stage, '>' ORDER BY position) FROM clm.stage WHERE model = 'my_flow'}),
	'trial>paid>gone', 'restored: custom stages');
is($node->safe_psql('restored', q{SELECT table_oid::text || ' ' || key_column || ' ' || stage_column || ' ' || model FROM clm.tracked_tables}),
	'acct code plan_stage my_flow', 'restored: registry with the new table OID and columns');
is($node->safe_psql('restored', q{SELECT string_agg(customer_key || ':' || coalesce(from_stage, '-') || '>' || to_stage, ' ' ORDER BY id) FROM clm.stage_history WHERE table_oid = 'acct'::regclass}),
	'a1:->trial a2:->trial a1:trial>paid', 'restored: history');
$node->safe_psql('restored', q{UPDATE acct SET plan_stage = 'gone' WHERE code = 'a1'});
is($node->safe_psql('restored', q{SELECT string_agg(customer_key || ':' || from_stage || '>' || to_stage || ':' || model, ' ') FROM clm.stage_history WHERE id > 3}),
	'a1:paid>gone:my_flow', 'restored: the trigger tracks');
my ($ret, $out, $err) = $node->psql('restored', q{UPDATE acct SET plan_stage = 'gone' WHERE code = 'a2'});
like($err, qr/transition from stage "trial" to stage "gone" is not allowed/, 'restored: the trigger validates (graph policy)');

$node->stop;
done_testing();
