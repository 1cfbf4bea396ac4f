# shellcheck shell=bash
# Shared set-up for scripts/demo and scripts/test: packages, build, install,
# and a throwaway PostgreSQL 15 cluster with clm preloaded.  Sourced, not run.
#
# Environment:
#   CLM_PREFIX   install clm into a private copy of the PostgreSQL tree in
#                this directory instead of the system one (the default when
#                not running as root; lets several checkouts test side by side)
#   PGHOST / PGDATABASE   (demo only) use that existing server, start nothing

PGVER=15
PGSYS=/usr/lib/postgresql/$PGVER
PG_CONFIG=$PGSYS/bin/pg_config      # not /usr/bin/pg_config: that wrapper picks the newest major
PKGS="make gcc postgresql-$PGVER postgresql-server-dev-$PGVER postgresql-$PGVER-pgtap libipc-run-perl"
export DEBIAN_FRONTEND=noninteractive

clm_log() { printf '== %s\n' "$*" >&2; }

# Install what is missing (as root), or print the exact command to run.
clm_packages() {
	local missing="" p
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "clm needs these Debian packages:$missing" >&2
		echo "install them with:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $PKGS" >&2
		exit 1
	fi
	clm_log "installing:$missing"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
}

# Build (warnings are errors) and install; sets PGBIN to the server binaries.
clm_build_install() {
	make -s PG_CONFIG="$PG_CONFIG" PG_CFLAGS="-Werror" >/dev/null
	if [ "$(id -u)" -eq 0 ] && [ -z "${CLM_PREFIX:-}" ]; then
		make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
		PGBIN=$PGSYS/bin
	else
		# a private copy of the server tree: postgres finds its share and lib
		# directories relative to its own binary, so the copy loads our build
		CLM_PREFIX=${CLM_PREFIX:-${TMPDIR:-/tmp}/clm-prefix-$(id -un)}
		if [ ! -x "$CLM_PREFIX$PGSYS/bin/postgres" ]; then
			mkdir -p "$CLM_PREFIX$PGSYS" "$CLM_PREFIX/usr/share/postgresql"
			cp -a "$PGSYS/." "$CLM_PREFIX$PGSYS/"
			cp -a "/usr/share/postgresql/$PGVER" "$CLM_PREFIX/usr/share/postgresql/"
			chmod -R a+rX "$CLM_PREFIX"
		fi
		make -s PG_CONFIG="$PG_CONFIG" DESTDIR="$CLM_PREFIX" install >/dev/null
		PGBIN=$CLM_PREFIX$PGSYS/bin
	fi
}

# Run a server-side command as the cluster's owner.
clm_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$CLM_TMP" && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

clm_stop_cluster() {
	local rc=$?
	if [ -n "${CLM_TMP:-}" ] && [ -d "$CLM_TMP" ]; then
		if [ -f "$CLM_TMP/data/postmaster.pid" ]; then
			clm_as_owner "$PGBIN/pg_ctl" -D "$CLM_TMP/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
				clm_as_owner "$PGBIN/pg_ctl" -D "$CLM_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		if [ "$rc" -ne 0 ]; then
			[ -f regression.diffs ] && head -c 20000 regression.diffs
			[ -f "$CLM_TMP/server.log" ] && tail -n 40 "$CLM_TMP/server.log"
		fi
		rm -rf "$CLM_TMP"
	fi
	exit "$rc"
}

# Start a throwaway cluster (temp dir, unix socket only, clm preloaded);
# it is stopped and removed when the calling script exits, however it exits.
clm_start_cluster() {
	if [ "$(id -u)" -eq 0 ]; then
		id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
	fi
	CLM_TMP=$(mktemp -d /tmp/clm-pg.XXXXXX)
	chmod 755 "$CLM_TMP"
	[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$CLM_TMP"
	trap clm_stop_cluster EXIT
	trap 'exit 130' INT TERM
	unset PGSERVICE PGHOSTADDR PGPASSWORD PGDATABASE PGOPTIONS
	export PGHOST="$CLM_TMP" PGPORT=54329 PGUSER=postgres
	[ "$(id -u)" -eq 0 ] || PGUSER=$(id -un)
	clm_as_owner "$PGBIN/initdb" -D "$CLM_TMP/data" -U "$PGUSER" -A trust -E UTF8 --locale=C -N >"$CLM_TMP/initdb.log"
	cat >>"$CLM_TMP/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $PGPORT
unix_socket_directories = '$CLM_TMP'
shared_preload_libraries = 'clm'
max_worker_processes = 16
fsync = off
synchronous_commit = off
full_page_writes = off
# the clm worker serves only clm_worker_test, a database that only the
# worker tests (sql/worker.sql, sql/security_attacks.sql) create (never
# contrib_regression, which pg_regress drops)
clm.worker_enabled = on
clm.database = 'clm_worker_test'
clm.naptime = 1
CONF
	clm_as_owner "$PGBIN/pg_ctl" -D "$CLM_TMP/data" -l "$CLM_TMP/server.log" -w -t 60 start >/dev/null
	clm_log "PostgreSQL $PGVER with clm preloaded on socket $CLM_TMP"
}

# psql of the server's version, quiet, stopping at the first error
clm_psql() { "$PGSYS/bin/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
