#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this; README quick start, command 2):
#   1. install what is missing (cmake/install-deps.sh);
#   2. static checks: the packaging recipes' lint, clang-format on the files this change touched;
#   3. g++ RelWithDebInfo build with warnings as errors and every test (unit, sandbox, sqlite,
#      postgres, integration over loopback, the package consumers), as the `default` preset; then
#      the shape checks on what it built (the core holds no simulator and links no SQLite, libpq or
#      cpp-httplib; no public header includes libpq);
#   4. the Doxygen reference, which must build with no warning;
#   5. the same tests under AddressSanitizer and UBSan (`asan` preset);
#   6. a clang build with warnings as errors (`clang` preset), its tests included.
# The presets build wagroups::postgres (WAGROUPS_WITH_POSTGRES=ON in CMakePresets.json); its tests
# run against one throwaway PostgreSQL server on 127.0.0.1 (cmake/postgres-test-server.sh), started
# before the first ctest and stopped when this script exits, however it exits. The tests find it
# through WAGROUPS_TEST_POSTGRES_URL; without it they report themselves skipped, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

postgres_dir=""
stop_postgres() {
  if [ -n "$postgres_dir" ]; then
    bash cmake/postgres-test-server.sh stop "$postgres_dir" || true
    postgres_dir=""
  fi
}
trap stop_postgres EXIT
# bash skips the EXIT trap when a signal kills it: turn the usual ones into an exit.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
start_postgres() {
  local out
  out=$(bash cmake/postgres-test-server.sh start)
  eval "$out"
  postgres_dir=$WAGROUPS_TEST_POSTGRES_DIR
  export WAGROUPS_TEST_POSTGRES_URL
  echo "PostgreSQL test server: $WAGROUPS_TEST_POSTGRES_URL ($postgres_dir)"
}

bash cmake/install-deps.sh

step "packaging lint and format check"
python3 cmake/packaging/lint.py
bash cmake/check-format.sh

step "g++ build and tests (default preset)"
cmake --preset default
cmake --build --preset default
step "PostgreSQL test server (127.0.0.1, throwaway)"
start_postgres
ctest --preset default

step "shape of the core library"
bash cmake/check-core-shape.sh build

step "API reference (Doxygen, warnings are errors)"
cmake -S . -B build-docs -G Ninja -DWAGROUPS_BUILD_DOCS=ON -DWAGROUPS_BUILD_TESTS=OFF -DWAGROUPS_BUILD_TOOLS=OFF \
  -DWAGROUPS_BUILD_EXAMPLES=OFF -DWAGROUPS_BUILD_BENCHMARKS=OFF -DWAGROUPS_WITH_SQLITE=ON -DWAGROUPS_WITH_SANDBOX_SERVER=ON
cmake --build build-docs --target docs

step "AddressSanitizer and UBSan (asan preset)"
cmake --preset asan
cmake --build --preset asan
ctest --preset asan

step "clang build and tests (clang preset)"
cmake --preset clang
cmake --build --preset clang
ctest --preset clang
