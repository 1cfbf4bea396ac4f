# shellcheck shell=bash
# Shared by scripts/test-citus and bench/citus.sh: a Citus coordinator and two
# workers on loopback (127.0.0.1 only, distinct ports, temporary data
# directories, run as the postgres OS user), stopped and removed when the
# calling script exits, however it exits.  Sourced after scripts/lib.sh.
#
# Environment:
#   CLM_PREFIX        as for scripts/test (a private copy of the server tree;
#                     Citus's files are copied into it from the system tree)
#   CLM_CITUS_PORT    first of the three TCP ports (default 57640)
#   CLM_CITUS_CONF    extra postgresql.conf lines for every node

CITUS_SHARE=/usr/share/postgresql/$PGVER/extension

# Whether Citus is installed for the server version; if not, say how to get it.
citus_available() {
	if [ -f "$PGSYS/lib/citus.so" ] && [ -f "$CITUS_SHARE/citus.control" ]; then
		return 0
	fi
	cat <<MSG
Citus is not installed for PostgreSQL $PGVER.
To get it, build Citus 12.1 from source (it is not packaged for Debian), e.g. as root:
  apt-get install -y libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev \\
      libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev autoconf flex bison
  git clone --branch v12.1.12 --depth 1 https://github.com/citusdata/citus.git /tmp/citus-src
  cd /tmp/citus-src && ./configure PG_CONFIG=$PG_CONFIG && make -j2 && make install
MSG
	return 1
}

# Build and install clm (and Citus into a private server tree), start the
# three nodes, and create each database given with citus on every node and
# clm on the coordinator (Citus creates it on the workers).  Sets PORT0,
# PORTS, and PGHOST/PGPORT to the coordinator.
citus_start() {
	local p db tree
	clm_build_install
	# a private server tree made before Citus was installed lacks its files;
	# copy what is missing or different, each file renamed into place (a
	# running server of the same tree keeps the library it has mapped)
	if [ "$PGBIN" != "$PGSYS/bin" ]; then
		tree=${PGBIN%"$PGSYS/bin"}
		mkdir -p "$tree$PGSYS/lib/citus_decoders"
		for f in "$PGSYS"/lib/citus*.so "$PGSYS"/lib/citus_decoders/*.so "$CITUS_SHARE"/citus*; do
			[ -f "$f" ] || continue
			if ! cmp -s "$f" "$tree$f"; then
				cp "$f" "$tree$f.tmp$$"
				chmod a+r "$tree$f.tmp$$"
				mv -f "$tree$f.tmp$$" "$tree$f"
			fi
		done
	fi
	if [ "$(id -u)" -eq 0 ]; then
		id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
	fi
	PORT0=${CLM_CITUS_PORT:-57640}
	PORTS="$PORT0 $((PORT0 + 1)) $((PORT0 + 2))"
	CLM_TMP=$(mktemp -d /tmp/clm-citus.XXXXXX)
	chmod 755 "$CLM_TMP"
	if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$CLM_TMP"; fi
	trap citus_stop EXIT
	trap 'exit 130' INT TERM
	unset PGSERVICE PGHOSTADDR PGPASSWORD PGDATABASE PGOPTIONS PGHOST PGPORT
	export PGUSER=postgres
	[ "$(id -u)" -eq 0 ] || PGUSER=$(id -un)
	for p in $PORTS; do
		clm_as_owner "$PGBIN/initdb" -D "$CLM_TMP/n$p" -U "$PGUSER" -A trust -E UTF8 --locale=C -N >"$CLM_TMP/initdb$p.log"
		cat >>"$CLM_TMP/n$p/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$CLM_TMP'
shared_preload_libraries = 'citus,clm'
max_worker_processes = 24
max_connections = 60
fsync = off
synchronous_commit = off
full_page_writes = off
max_prepared_transactions = 20
citus.shard_count = 4
timezone = 'Etc/UTC'
clm.worker_enabled = on
clm.database = 'clm_citus_worker'
clm.naptime = 1
${CLM_CITUS_CONF:-}
CONF
		clm_as_owner "$PGBIN/pg_ctl" -D "$CLM_TMP/n$p" -l "$CLM_TMP/n$p.log" -w -t 60 start >/dev/null
	done
	clm_log "Citus coordinator on 127.0.0.1:$PORT0, workers on $((PORT0 + 1)) and $((PORT0 + 2))"
	for db in "$@"; do
		for p in $PORTS; do
			node_psql "$p" -d postgres -c "CREATE DATABASE $db"
			node_psql "$p" -d "$db" -c 'CREATE EXTENSION citus'
		done
		node_psql "$PORT0" -d "$db" \
			-c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT0)" \
			-c "SELECT citus_add_node('127.0.0.1', $((PORT0 + 1)))" \
			-c "SELECT citus_add_node('127.0.0.1', $((PORT0 + 2)))" \
			-c 'CREATE EXTENSION clm' >/dev/null
	done
	export PGHOST=127.0.0.1 PGPORT=$PORT0 CLM_CITUS_PORT=$PORT0
}

# EXIT trap: stop the three nodes and remove their directory
citus_stop() {
	local rc=$? p
	for p in $PORTS; do
		if [ -f "$CLM_TMP/n$p/postmaster.pid" ]; then
			clm_as_owner "$PGBIN/pg_ctl" -D "$CLM_TMP/n$p" -m fast -w -t 30 stop >/dev/null 2>&1 ||
				clm_as_owner "$PGBIN/pg_ctl" -D "$CLM_TMP/n$p" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done
	if [ "$rc" -ne 0 ]; then
		for p in $PORTS; do
			if [ -f "$CLM_TMP/n$p.log" ]; then
				echo "== server log of port $p"
				tail -n 30 "$CLM_TMP/n$p.log"
			fi
		done
	fi
	rm -rf "$CLM_TMP"
	exit "$rc"
}

# psql to the node on port $1
node_psql() {
	local p=$1
	shift
	clm_psql -h 127.0.0.1 -p "$p" "$@"
}
