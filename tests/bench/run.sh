#!/usr/bin/env bash
# Runs every benchmark program with --summary and prints one table: each figure beside its target
# (issue 11's table), pass or FAIL, and the machine. Not part of CI.
#
#   tests/bench/run.sh [BUILD_DIR]
#   WAGROUPS_BENCH_NO_BUILD=1 tests/bench/run.sh BUILD_DIR   # run what BUILD_DIR has, build nothing
#
# BUILD_DIR (default: build-bench at the top of the source tree) is configured when it has no
# CMakeCache.txt yet (Release, Ninja, benchmarks on, no tests or examples); an existing tree is
# reused as it is configured (give a Release one). Only the benchmark targets are built (ninja
# -j$(nproc)), so a reused tree costs only what changed. A fresh tree builds the library first: on
# a 2-core machine that alone can take several minutes, so pass a tree you keep. The benchmarks
# themselves take about 2-3 minutes together when the stores meet their targets (much longer when
# they do not); each program runs under a ceiling of WAGROUPS_BENCH_TIMEOUT seconds (default 600).
# A figure whose program is missing, timed out or printed nothing is shown as "missing".
#
# wagroups_bench_postgres_throughput (built with -DWAGROUPS_WITH_POSTGRES=ON) is skipped unless
# WAGROUPS_BENCH_POSTGRES=1: it takes about 90 s more on a quiet 2-core VM (minutes when the VM is
# busy), which would push the whole run past 5 minutes. It uses $WAGROUPS_TEST_POSTGRES_URL or starts
# a throwaway server itself. Its rates have no target (result "info"); its digest check does.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${1:-$repo/build-bench}"
log="$(mktemp -d "${TMPDIR:-/tmp}/wagroups-bench-run-XXXXXX")"
start=$(date +%s)

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "configuring $build (Release)" >&2
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWAGROUPS_BUILD_BENCHMARKS=ON \
    -DWAGROUPS_BUILD_TESTS=OFF -DWAGROUPS_BUILD_EXAMPLES=OFF -DWAGROUPS_PACKAGE_TESTS=OFF >"$log/cmake.log" 2>&1 ||
    { tail -30 "$log/cmake.log" >&2; exit 1; }
fi
type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")"
[[ "$type" == Release ]] || echo "warning: $build is a '$type' build; figures are meant for Release" >&2

# Every benchmark target this tree defines (other helpers add theirs to tests/bench/CMakeLists.txt).
mapfile -t targets < <(ninja -C "$build" -t targets all 2>/dev/null |
  sed -n 's/^\(wagroups_bench_[A-Za-z0-9_]*\): .*/\1/p' | sort -u)
if [[ "${WAGROUPS_BENCH_POSTGRES:-}" != 1 ]]; then
  for i in "${!targets[@]}"; do
    if [[ "${targets[$i]}" == wagroups_bench_postgres_throughput ]]; then
      echo "skipping wagroups_bench_postgres_throughput (set WAGROUPS_BENCH_POSTGRES=1 to run it)" >&2
      unset "targets[$i]"
    fi
  done
  targets=("${targets[@]}")
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no benchmark targets in $build (configure with -DWAGROUPS_BUILD_BENCHMARKS=ON)" >&2
  exit 1
fi
if [[ -n "${WAGROUPS_BENCH_NO_BUILD:-}" ]]; then
  echo "not building (WAGROUPS_BENCH_NO_BUILD): running what $build has" >&2
else
  echo "building ${targets[*]}" >&2
  ninja -C "$build" -j"$(nproc)" "${targets[@]}" >"$log/build.log" 2>&1 || { tail -40 "$log/build.log" >&2; exit 1; }
fi
built=$(date +%s)

# Run each program once, with a ceiling; keep its output for the record.
: >"$log/bench.tsv"
for t in "${targets[@]}"; do
  exe="$(find "$build" -type f -name "$t" -perm -u+x | head -1)"
  [[ -n "$exe" ]] || continue
  echo "running $t" >&2
  timeout "${WAGROUPS_BENCH_TIMEOUT:-600}" "$exe" --summary >"$log/$t.out" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] || echo "  $t exited with $rc (output: $log/$t.out)" >&2
  grep -P '^BENCH\t' "$log/$t.out" >>"$log/bench.tsv" || true
done
finished=$(date +%s)

# The table, in the issue's order; any other BENCH line after it.
declare -A path=(
  [memory_apply]="In-memory store, default options, single-event apply"
  [sqlite_batch1000]="SQLite FULL, batches of 1,000, 2,000 active groups"
  [sqlite_batch100]="SQLite FULL, batches of 100"
  [serve_group_commit]="webhook serve, 64 concurrent POSTers, FULL"
  [history_ratio_memory]="Apply on a 100,000-message ticket vs a fresh one (memory)"
  [history_ratio_sqlite]="Apply on a 100,000-message ticket vs a fresh one (SQLite)"
  [webhook_vs_floor]="Webhook verify + parse + typed events vs naive floor"
  [fanout_vs_raw]="Fan-out of 10,000 group sends vs raw curl-multi loop"
  [client_overhead]="Client overhead vs raw libcurl, keep-alive loopback"
  [sqlite_rss_mib]="Peak RSS, SQLite store, 10,000 tickets x 50 messages"
  [tickets_digest_match]="Final tickets digest: every store/batch/concurrency, = v1"
  [postgres_r1_batch1]="PostgreSQL, 1 receiver, batches of 1"
  [postgres_r4_batch1]="PostgreSQL, 4 receivers, batches of 1"
  [postgres_r1_batch100]="PostgreSQL, 1 receiver, batches of 100"
  [postgres_r4_batch100]="PostgreSQL, 4 receivers, batches of 100"
  [postgres_vs_sqlite_batch1]="SQLite FULL on the PostgreSQL stream, batches of 1"
  [postgres_vs_sqlite_batch100]="SQLite FULL on the PostgreSQL stream, batches of 100"
  [postgres_digest_match]="Final tickets digest: PostgreSQL 1/4 receivers = SQLite"
)
declare -A target=(
  [memory_apply]=">= 500000 events/s" [sqlite_batch1000]=">= 100000 events/s" [sqlite_batch100]=">= 50000 events/s"
  [serve_group_commit]=">= 5000 bodies/s" [history_ratio_memory]="<= 2 x" [history_ratio_sqlite]="<= 2 x"
  [webhook_vs_floor]=">= 1.5 x" [fanout_vs_raw]=">= 90 %" [client_overhead]="<= 1.10 x" [sqlite_rss_mib]="<= 256 MiB"
  [tickets_digest_match]="all equal, = v1"
  [postgres_r1_batch1]="- (info)" [postgres_r4_batch1]="- (info)" [postgres_r1_batch100]="- (info)"
  [postgres_r4_batch100]="- (info)" [postgres_vs_sqlite_batch1]="- (info)" [postgres_vs_sqlite_batch100]="- (info)"
  [postgres_digest_match]="all equal"
)
order=(memory_apply sqlite_batch1000 sqlite_batch100 serve_group_commit history_ratio_memory history_ratio_sqlite
  webhook_vs_floor fanout_vs_raw client_overhead sqlite_rss_mib tickets_digest_match)
# The PostgreSQL rows only when that program ran (WAGROUPS_BENCH_POSTGRES=1).
if [[ "${WAGROUPS_BENCH_POSTGRES:-}" == 1 ]]; then
  order+=(postgres_r1_batch1 postgres_r4_batch1 postgres_r1_batch100 postgres_r4_batch100 postgres_vs_sqlite_batch1
    postgres_vs_sqlite_batch100 postgres_digest_match)
fi

cpu="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)"
echo
echo "wagroups benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet 2>/dev/null || echo ' + local changes')"
echo "machine: ${cpu:-unknown CPU}, $(nproc) cores online ($(grep -c '^processor' /proc/cpuinfo) listed), $(uname -sr), $(uname -m)"
echo "build: $build ($type); build $((built - start)) s, benchmarks $((finished - built)) s"
echo
printf '| %-58s | %14s | %-20s | %-7s |\n' "Path" "Figure" "Target" "Result"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..22})" "$(printf -- '-%.0s' {1..9})"
failed=0
row() {  # key
  local key="$1" line value unit result
  line="$(grep -P "^BENCH\t$key\t" "$log/bench.tsv" | tail -1)"
  if [[ -z "$line" ]]; then
    printf '| %-58s | %14s | %-20s | %-7s |\n' "${path[$key]:-$key}" "missing" "${target[$key]:-?}" "missing"
    return
  fi
  IFS=$'\t' read -r _ _ value unit tgt result <<<"$line"
  [[ "$result" == pass || "$result" == info ]] || failed=1  # info: a figure without a target
  printf '| %-58s | %14s | %-20s | %-7s |\n' "${path[$key]:-$key}" "$value $unit" "${target[$key]:-$tgt}" "$result"
}
for key in "${order[@]}"; do row "$key"; done
while IFS=$'\t' read -r _ key _; do
  [[ -n "${path[$key]:-}" ]] || row "$key"
done < <(sort -u -t$'\t' -k2,2 "$log/bench.tsv")
echo
echo "outputs of each program: $log"
exit $failed
