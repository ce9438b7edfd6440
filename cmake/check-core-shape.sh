#!/usr/bin/env bash
# The core library stays a production library: no simulator inside it, and no link to SQLite or
# cpp-httplib (those belong to their components). Checked on a build tree's libwagroups (static
# archive or shared object): usage: check-core-shape.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check-core-shape.sh BUILD_DIR}
lib=$(find "$build/src" -maxdepth 1 \( -name 'libwagroups.a' -o -name 'libwagroups.so' \) | head -n 1)
[ -n "$lib" ] || { echo "check-core-shape: no libwagroups in $build/src" >&2; exit 1; }
fail=0
if nm -C "$lib" | grep -E ' [TtWwDdBbRr] .*wagroups::(v[0-9_]+::)?sandbox::' >/dev/null; then
  echo "check-core-shape: $lib defines wagroups::sandbox symbols:" >&2
  { nm -C "$lib" | grep -E 'wagroups::(v[0-9_]+::)?sandbox::' | head -n 5 >&2; } || true
  fail=1
fi
if nm -C "$lib" | grep -E ' U (sqlite3_|httplib::)' >/dev/null; then
  echo "check-core-shape: $lib refers to SQLite or cpp-httplib" >&2
  fail=1
fi
if [ "${lib##*.}" = so ] && readelf -d "$lib" | grep -E 'NEEDED.*(sqlite|httplib)' >/dev/null; then
  echo "check-core-shape: $lib links SQLite or cpp-httplib" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "check-core-shape: $lib holds no simulator and links no SQLite or cpp-httplib"
exit "$fail"
