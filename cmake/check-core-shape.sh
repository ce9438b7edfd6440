#!/usr/bin/env bash
# The core library stays a production library: no simulator inside it, and no link to SQLite,
# libpq or cpp-httplib (those belong to their components). Checked on a build tree's libwagroups
# (static archive or shared object), and on the public headers, which never include libpq's:
# usage: check-core-shape.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check-core-shape.sh BUILD_DIR}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
lib=$(find "$build/src" -maxdepth 1 \( -name 'libwagroups.a' -o -name 'libwagroups.so' \) | head -n 1)
[ -n "$lib" ] || { echo "check-core-shape: no libwagroups in $build/src" >&2; exit 1; }
fail=0
if nm -C "$lib" | grep -E ' [TtWwDdBbRr] .*wagroups::(v[0-9_]+::)?sandbox::' >/dev/null; then
  echo "check-core-shape: $lib defines wagroups::sandbox symbols:" >&2
  { nm -C "$lib" | grep -E 'wagroups::(v[0-9_]+::)?sandbox::' | head -n 5 >&2; } || true
  fail=1
fi
if nm -C "$lib" | grep -E ' U (sqlite3_|PQ|httplib::)' >/dev/null; then
  echo "check-core-shape: $lib refers to SQLite, libpq or cpp-httplib" >&2
  fail=1
fi
if [ "${lib##*.}" = so ] && readelf -d "$lib" | grep -E 'NEEDED.*(sqlite|libpq|httplib)' >/dev/null; then
  echo "check-core-shape: $lib links SQLite, libpq or cpp-httplib" >&2
  fail=1
fi
# libpq stays behind wagroups::postgres's sources (src/postgres): no installed header names it.
if grep -rEn '#[[:space:]]*include[[:space:]]*[<"](libpq-fe\.h|libpq/|postgres_ext\.h|pg_config)' \
     "$source_dir/include" >&2; then
  echo "check-core-shape: a public header under include/ includes a libpq header" >&2
  fail=1
fi
[ "$fail" -eq 0 ] &&
  echo "check-core-shape: $lib holds no simulator and links no SQLite, libpq or cpp-httplib; no public header includes libpq"
exit "$fail"
