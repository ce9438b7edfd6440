#!/usr/bin/env bash
# Prints the v1 ticket store's digest of tests/bench/ticket_stream.hpp's reference stream: the
# value tests/bench/v1-digest.txt records and wagroups_bench_tickets_throughput compares with.
#
#   tests/bench/v1_digest.sh [V1_BUILD_DIR [V1_SOURCE_DIR]]
#
# Without arguments it exports commit a09291d (the v1 tree, issue 10) with `git archive` into a
# temporary directory, configures it (Release, Ninja) and builds only its library; with a build
# directory of that tree (and its sources, default: the exported copy) it reuses them. Then it
# compiles a small program against the v1 headers and library: ticket_stream.hpp (this tree's,
# which uses only the public API both trees have) applied one event at a time to the v1
# InMemoryTicketStore, and prints the digest. Not part of CI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
commit=a09291d
work="$(mktemp -d "${TMPDIR:-/tmp}/wagroups-v1-digest-XXXXXX")"
trap 'rm -rf "$work"' EXIT

build="${1:-}"
src="${2:-}"
if [[ -z "$build" ]]; then
  src="$work/src"
  build="$work/build"
  mkdir -p "$src"
  git -C "$repo" archive "$commit" | tar -x -C "$src"
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWAGROUPS_BUILD_TESTS=OFF \
    -DWAGROUPS_BUILD_EXAMPLES=OFF -DWAGROUPS_BUILD_BENCHMARKS=OFF -DWAGROUPS_BUILD_TOOLS=OFF \
    -DWAGROUPS_WITH_SQLITE=OFF >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log" >&2; exit 1; }
  ninja -C "$build" wagroups >"$work/build.log" 2>&1 || { tail -50 "$work/build.log" >&2; exit 1; }
fi
if [[ -z "$src" ]]; then
  # A build directory alone: its sources are where its cache says.
  src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")"
fi

cat >"$work/v1_digest.cpp" <<'CPP'
#include <cinttypes>
#include <cstdio>

#include "ticket_stream.hpp"

int main() {
  wagroups::InMemoryTicketStore store;  // the default options of each tree
  std::printf("%016" PRIx64 "\n", ticket_stream::reference_digest(store));
  return 0;
}
CPP
"${CXX:-g++}" -std=c++17 -O2 -I"$here" -I"$src/include" -I"$build/include" "$work/v1_digest.cpp" \
  -o "$work/v1_digest" "$build/src/libwagroups.a" -lcurl -lcrypto -lpthread
"$work/v1_digest"
