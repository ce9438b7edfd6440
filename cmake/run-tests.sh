#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this; README quick start, command 2):
#   1. install what is missing (cmake/install-deps.sh);
#   2. g++ RelWithDebInfo build with warnings as errors, every test (unit, integration over
#      loopback, the find_package consumer), as the `default` preset;
#   3. the same tests under AddressSanitizer and UBSan (`asan` preset);
#   4. a clang build with warnings as errors (`clang` preset), unit tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

bash cmake/install-deps.sh

cmake --preset default
cmake --build --preset default
ctest --preset default

cmake --preset asan
cmake --build --preset asan
ctest --preset asan

cmake --preset clang
cmake --build --preset clang
ctest --preset clang
