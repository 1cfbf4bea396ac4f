# test/t/ClmNode.pm: shared set-up of clm's TAP tests (PostgreSQL::Test::Cluster)
package ClmNode;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# A started node with clm preloaded (or not, with preload => 0).
sub start_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(extra => [ '--locale=C', '-E', 'UTF8' ]);
	my $preload = exists $opt{preload} && !$opt{preload} ? '' : 'clm';
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = '$preload'",
		"log_statement = none",
		"max_worker_processes = 16",
		"synchronous_commit = off", ""));
	$node->start;
	return $node;
}

# The checkout the tests read their files from.
sub src { return $ENV{CLM_SRC} // '.'; }

# Runs a pgTAP file with psql and reports each of its assertions as one of
# ours; the plan it declares must be met.
sub run_pgtap
{
	my ($node, $db, $file) = @_;
	my ($ret, $out, $err) = $node->psql($db, undef,
		extra_params => [ '-X', '-q', '-At', '-f', $file ]);
	my ($planned, $seen) = (undef, 0);
	(my $short = $file) =~ s{.*/test/}{test/};
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^1\.\.(\d+)$/) { $planned = $1; next; }
		if ($line =~ /^(not )?ok \d+(?: - (.*))?$/)
		{
			$seen++;
			ok(!defined $1, "$short: " . ($2 // "assertion $seen"));
			next;
		}
		diag("$short: $line") if $line =~ /^#/;
	}
	is($ret, 0, "$short: psql ran to the end") or diag($err);
	is($seen, $planned, "$short: all planned assertions ran");
}

1;
