#!/usr/bin/env bash
# A throwaway PostgreSQL server for the wagroups::postgres tests (issue 12): a fresh cluster in a
# new temporary folder, listening on 127.0.0.1 only (plus a Unix socket inside that folder), on a
# free port, with `trust` authentication for the role `wagroups`. Nothing outside the folder is
# touched: no system cluster, no /var/run/postgresql, no service.
#
#   eval "$(cmake/postgres-test-server.sh start)"   # sets WAGROUPS_TEST_POSTGRES_URL and _DIR
#   ...tests...
#   cmake/postgres-test-server.sh stop "$WAGROUPS_TEST_POSTGRES_DIR"
#
# `start` prints two lines for the shell on stdout:
#   export WAGROUPS_TEST_POSTGRES_URL=postgresql://wagroups@127.0.0.1:PORT/postgres
#   export WAGROUPS_TEST_POSTGRES_DIR=/tmp/wagroups-pg.XXXXXX
# and everything else on stderr. `stop FOLDER` stops that server and removes the folder (only a
# folder this script created: it holds a marker file).
#
# PostgreSQL refuses to run as root: run by root (CI), the server runs as the unprivileged
# `postgres` system user (Debian's `postgresql` package creates it); run by anyone else, it runs as
# that user. The server binaries come from $WAGROUPS_PG_BINDIR, `pg_config --bindir`, or the newest
# /usr/lib/postgresql/*/bin holding initdb (Debian: apt-get install postgresql).
# Authentication is `trust`, acceptable only because the server listens on loopback, lives for one
# test run and holds nothing but test data.
set -euo pipefail

marker=.wagroups-postgres-test-server
log() { printf 'postgres-test-server: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  cat >&2 <<'USAGE'
usage: postgres-test-server.sh start          start a throwaway server; prints the export lines
       postgres-test-server.sh stop FOLDER    stop it and remove FOLDER
USAGE
  exit 2
}

find_bindir() {
  local d candidates=()
  if [ -n "${WAGROUPS_PG_BINDIR:-}" ]; then
    [ -x "$WAGROUPS_PG_BINDIR/initdb" ] || die "WAGROUPS_PG_BINDIR=$WAGROUPS_PG_BINDIR holds no initdb"
    echo "$WAGROUPS_PG_BINDIR"
    return
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$d" ] && candidates+=("$d")
  fi
  # Newest version first.
  while IFS= read -r d; do candidates+=("$d"); done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -rn)
  for d in "${candidates[@]}"; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return
    fi
  done
  die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in \`pg_config --bindir\` or" \
      "/usr/lib/postgresql/*/bin; install the server (Debian: apt-get install postgresql, or run" \
      "cmake/install-deps.sh), or set WAGROUPS_PG_BINDIR"
}

# Runs a command as the user that owns the cluster: `postgres` when we are root, else ourselves.
# The working directory is the cluster's folder (root's home is not readable by postgres).
as_owner() {
  local owner=$1 dir=$2
  shift 2
  if [ "$(id -u)" = 0 ]; then
    (cd "$dir" && runuser -u "$owner" -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

show_log() {
  local f=$1 what=$2
  if [ -s "$f" ]; then
    log "---- $what ($f) ----"
    sed 's/^/  | /' "$f" >&2
    log "---- end of $what ----"
  fi
}

start() {
  local bindir owner base d port attempt ok=0
  bindir=$(find_bindir)
  if [ "$(id -u)" = 0 ]; then
    owner=postgres
    id -u "$owner" >/dev/null 2>&1 ||
      die "running as root, and PostgreSQL refuses root: it would run as the system user \`postgres\`," \
          "which does not exist (Debian's postgresql package creates it: apt-get install postgresql)." \
          "Or run this script as an unprivileged user."
    command -v runuser >/dev/null 2>&1 || die "running as root, but runuser (util-linux) is missing"
  else
    owner=$(id -un)
  fi

  base=${TMPDIR:-/tmp}
  d=$(mktemp -d "$base/wagroups-pg.XXXXXX") || die "cannot create a temporary folder in $base"
  # The Unix socket lives in the folder: its path must stay under the kernel's 107 bytes.
  if [ "${#d}" -gt 80 ]; then
    rm -rf "$d"
    die "temporary folder path $d is too long for a Unix socket; set TMPDIR to a shorter folder"
  fi
  printf '%s\n' "$bindir" >"$d/$marker"
  if [ "$(id -u)" = 0 ]; then
    chown "$owner:" "$d"
    if ! runuser -u "$owner" -- test -w "$d"; then
      rm -rf "$d"
      die "the \`$owner\` user cannot write to $d (is $base, or a folder above it, closed to it?);" \
          "set TMPDIR to a folder it can reach, e.g. /tmp"
    fi
  fi

  if ! as_owner "$owner" "$d" "$bindir/initdb" -D "$d/data" -A trust -U wagroups --no-sync -E UTF8 \
         >"$d/initdb.log" 2>&1; then
    show_log "$d/initdb.log" "initdb output"
    rm -rf "$d"
    die "initdb failed (as user $owner, binaries from $bindir)"
  fi

  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$owner" "$d" "$bindir/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $d" start >"$d/pg_ctl.log" 2>&1; then
      ok=1
      break
    fi
    # Another process took the port between the probe and the bind: try another one.
    if grep -qs -e 'could not bind' -e 'Address already in use' "$d/server.log"; then
      log "port $port was taken, trying another (attempt $attempt)"
      as_owner "$owner" "$d" "$bindir/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1 || true
      mv "$d/server.log" "$d/server.log.$attempt" 2>/dev/null || true
      continue
    fi
    break
  done
  if [ "$ok" != 1 ]; then
    show_log "$d/pg_ctl.log" "pg_ctl output"
    show_log "$d/server.log" "server log"
    as_owner "$owner" "$d" "$bindir/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$d"
    die "the server did not start (as user $owner, binaries from $bindir)"
  fi
  printf '%s\n' "$port" >>"$d/$marker"
  log "server running as $owner on 127.0.0.1:$port, data and log in $d"
  printf 'export WAGROUPS_TEST_POSTGRES_URL=postgresql://wagroups@127.0.0.1:%s/postgres\n' "$port"
  printf 'export WAGROUPS_TEST_POSTGRES_DIR=%s\n' "$d"
}

stop() {
  local d=${1:-} bindir owner
  [ -n "$d" ] || usage
  [ -d "$d" ] || die "no folder $d (already stopped?)"
  [ -f "$d/$marker" ] || die "$d was not made by this script (no $marker in it); not touching it"
  bindir=$(head -n 1 "$d/$marker")
  [ -x "$bindir/pg_ctl" ] || bindir=$(find_bindir)
  if [ -f "$d/data/postmaster.pid" ]; then
    owner=$(stat -c %U "$d/data")
    if ! as_owner "$owner" "$d" "$bindir/pg_ctl" -D "$d/data" -m fast -w -t 60 stop >"$d/pg_ctl-stop.log" 2>&1; then
      show_log "$d/pg_ctl-stop.log" "pg_ctl output"
      show_log "$d/server.log" "server log"
      log "fast shutdown failed; trying an immediate one"
      if ! as_owner "$owner" "$d" "$bindir/pg_ctl" -D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1 &&
         [ -f "$d/data/postmaster.pid" ]; then
        die "could not stop the server in $d; left in place"
      fi
    fi
  fi
  rm -rf "$d"
  log "stopped; removed $d"
}

case "${1:-}" in
  start) [ $# -eq 1 ] || usage; start ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
