# Upgrade 1.0 -> 1.1 on a database with live data: a tracked table with stage
# history and a registered, refreshed scoring source.  After ALTER EXTENSION
# clm UPDATE the catalog must equal a fresh CREATE EXTENSION clm (test/t/catalog.sql:
# member objects, function definitions and labels, aggregates, types, columns
# and defaults, constraints, indexes, triggers, policies, comments, privileges,
# dump configuration), the data must be kept, and tracking and refresh must
# still work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{CLM_SRC} // '.';
my $catalog = slurp_file("$src/test/t/catalog.sql");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'clm'\nlog_statement = none\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE up');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');

# 1.0 with live data
$node->safe_psql('up', q{
CREATE EXTENSION clm VERSION '1.0';
SET timezone = 'UTC';
CREATE TABLE customers (id int PRIMARY KEY, stage text);
INSERT INTO customers SELECT g, NULL FROM generate_series(1, 5) g;
SELECT clm.track('customers', 'id', 'stage', 'acquisition_churn');
UPDATE customers SET stage = 'acquisition';
UPDATE customers SET stage = 'activation' WHERE id <= 3;
UPDATE customers SET stage = 'retention' WHERE id = 1;
CREATE TABLE events (customer int, at timestamptz, amount numeric);
INSERT INTO events
SELECT c, (current_date - d)::timestamptz, a
FROM (VALUES (1, 400, 10), (2, 500, 5), (2, 300, 5), (3, 200, 10), (3, 150, 10), (3, 100, 10),
             (4, 20, 100), (5, 300, 40), (5, 60, 40)) v(c, d, a);
SELECT name FROM clm.register('shop', 'events', 'customer', 'at', 'amount', scores_view => 'public.shop_scores');
SELECT status FROM clm.refresh('shop');
});
is($node->safe_psql('up', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}), '1.0', 'installed 1.0');

my $data_q = q{
SELECT string_agg(format('%s %s %s->%s', table_oid::regclass, customer_key, from_stage, to_stage), '; '
                  ORDER BY customer_key, id) FROM clm.stage_history;
SELECT string_agg(format('%s %s %s %s %s', customer_key, frequency, total, r_score, segment), '; '
                  ORDER BY customer_key) FROM clm.scores;
SELECT string_agg(format('%s %s %s', name, events, customer_column), '; ') FROM clm.sources;
SELECT count(*) FROM public.shop_scores;
};
my $before = $node->safe_psql('up', $data_q);
like($before, qr/customers 1 acquisition->activation/, 'history recorded under 1.0');

$node->safe_psql('up', 'ALTER EXTENSION clm UPDATE');
is($node->safe_psql('up', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}), '1.1', 'updated to 1.1');

$node->safe_psql('fresh', 'CREATE EXTENSION clm');
my $cat_up = $node->safe_psql('up', $catalog);
my $cat_fresh = $node->safe_psql('fresh', $catalog);
cmp_ok(scalar(split /\n/, $cat_fresh), '>', 1000, 'the catalog description has substance');
if ($cat_up eq $cat_fresh)
{
	pass('catalog after ALTER EXTENSION UPDATE equals a fresh install');
}
else
{
	# show the difference line by line
	my %u = map { $_ => 1 } split /\n/, $cat_up;
	my %f = map { $_ => 1 } split /\n/, $cat_fresh;
	diag("only after update: $_") for grep { !$f{$_} } sort keys %u;
	diag("only in fresh:     $_") for grep { !$u{$_} } sort keys %f;
	fail('catalog after ALTER EXTENSION UPDATE equals a fresh install');
}

is($node->safe_psql('up', $data_q), $before, 'history, scores, sources and the scores view kept');

# tracking and refresh still work after the update
$node->safe_psql('up', q{UPDATE customers SET stage = 'churn' WHERE id = 2});
is($node->safe_psql('up', q{SELECT from_stage || '->' || to_stage FROM clm.stage_history
                            WHERE customer_key = '2' ORDER BY id DESC LIMIT 1}),
   'activation->churn', 'tracking records a change after the update');
$node->safe_psql('up', q{INSERT INTO events VALUES (4, current_date - 1, 50)});
is($node->safe_psql('up', q{SELECT mode || ' ' || status FROM clm.refresh('shop')}),
   'incremental ok', 'incremental refresh after the update');
is($node->safe_psql('up', q{SELECT frequency || ' ' || total FROM clm.scores WHERE source = 'shop' AND customer_key = '4'}),
   '1 150', 'the new purchase is scored');

# the PGXN description names the version that CREATE EXTENSION installs
my ($default) = slurp_file("$src/clm.control") =~ /default_version\s*=\s*'([^']+)'/;
my @meta_versions = slurp_file("$src/META.json") =~ /"version":\s*"([^"]+)"/g;
is($node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'clm'}), $default,
   'a fresh install is default_version');
is_deeply(\@meta_versions, [ "$default.0", "$default.0", '1.0.0' ],
   'META.json: release and provides versions match default_version (and meta-spec 1.0.0)');

$node->stop;
done_testing();
