#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this; README quick start, command 2):
#   1. install what is missing (cmake/install-deps.sh);
#   2. static checks: the packaging recipes' lint, clang-format on the files this change touched;
#   3. g++ RelWithDebInfo build with warnings as errors and every test (unit, sandbox, sqlite,
#      postgres, integration over loopback, the package consumers), as the `default` preset; then
#      the shape checks on what it built (the core holds no simulator and links no SQLite, libpq or
#      cpp-httplib; no public header includes libpq);
#   4. the mutation check: named mutants planted one at a time in that build, each of which the
#      suite must catch (tests/mutation/run-mutants.sh);
#   5. the Doxygen reference, which must build with no warning;
#   6. clang with warnings as errors, AddressSanitizer and UBSan (`clang-sanitize` preset), every
#      test but the package consumers (the CLI's and the example programs' tests included);
#   7. ThreadSanitizer (`tsan` preset) over every test labelled `concurrent` (the Catch2 tests tagged
#      [concurrent], labelled by wagroups_discover_tests in tests/CMakeLists.txt; the build preset
#      builds only the test executables that hold them; cmake/tsan-suppressions.txt);
#   8. every libFuzzer target for 30 seconds (`fuzz` preset, cmake/run-fuzzers.sh).
# The g++ `asan` and plain `clang` presets remain for local use: stage 6 covers both in one build.
# The presets build wagroups::postgres (WAGROUPS_WITH_POSTGRES=ON in CMakePresets.json); its tests
# run against one throwaway PostgreSQL server on 127.0.0.1 (cmake/postgres-test-server.sh), started
# before the first ctest and stopped when this script exits, however it exits. The tests find it
# through WAGROUPS_TEST_POSTGRES_URL; without it they report themselves skipped, with the reason.
# Each stage prints how long it took (seconds since the script started, and its own).
set -euo pipefail
cd "$(dirname "$0")/.."

stage_started=$SECONDS
step() {
  printf '\n(previous stage: %ss)\n=== %s (at %ss)\n' "$((SECONDS - stage_started))" "$*" "$SECONDS"
  stage_started=$SECONDS
}

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

step "mutation check (named mutants in the default build)"
bash tests/mutation/run-mutants.sh build

step "API reference (Doxygen, warnings are errors)"
cmake -S . -B build-docs -G Ninja -DWAGROUPS_BUILD_DOCS=ON -DWAGROUPS_BUILD_TESTS=OFF -DWAGROUPS_BUILD_TOOLS=OFF \
  -DWAGROUPS_BUILD_EXAMPLES=OFF -DWAGROUPS_BUILD_BENCHMARKS=OFF -DWAGROUPS_WITH_SQLITE=ON -DWAGROUPS_WITH_SANDBOX_SERVER=ON
cmake --build build-docs --target docs

step "clang, AddressSanitizer and UBSan (clang-sanitize preset)"
cmake --preset clang-sanitize
cmake --build --preset clang-sanitize
ctest --preset clang-sanitize

step "ThreadSanitizer over the concurrent tests (tsan preset)"
cmake --preset tsan
cmake --build --preset tsan
ctest --preset tsan -L concurrent

step "libFuzzer targets, 30 seconds each (fuzz preset)"
cmake --preset fuzz
cmake --build --preset fuzz
bash cmake/run-fuzzers.sh 30 build-fuzz

step "all stages passed"
