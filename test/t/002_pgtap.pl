# The pgTAP suites: test/*.sql on a server with clm preloaded, then
# test/no_preload/*.sql after a restart without shared_preload_libraries
# (clm loads on first use and works the same).  Each pgTAP assertion is
# reported as one of this test's.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use ClmNode;
use Test::More;

my $src = ClmNode::src();
my $node = ClmNode::start_node('pgtap');
$node->safe_psql('postgres', 'CREATE DATABASE clm_tap');
$node->safe_psql('clm_tap', 'CREATE EXTENSION pgtap; CREATE EXTENSION clm;');

ClmNode::run_pgtap($node, 'clm_tap', $_) for sort glob("$src/test/*.sql");

$node->stop;
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->start;
ClmNode::run_pgtap($node, 'clm_tap', $_) for sort glob("$src/test/no_preload/*.sql");

$node->stop;
done_testing();
