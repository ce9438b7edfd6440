#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for SECONDS each, two at a time.
#
#   bash cmake/run-fuzzers.sh SECONDS [BUILD-DIR]      (BUILD-DIR defaults to build-fuzz)
#
# FUZZ_JOBS=1 runs one at a time. For each target: seeds it with tests/fuzz/make-corpus.sh in a
# temporary folder, runs it with its dictionary (tests/fuzz/dict/), -max_total_time=SECONDS,
# -timeout=10, -rss_limit_mb=2048 and a -max_len suited to it, under ASan (leaks detected) and UBSan
# (halting on the first report), and prints its executions, exec/s, corpus size and cov/ft from
# libFuzzer's final stats. Exits 1 when any target found a crash, leak, UB report, timeout or
# out-of-memory (the inputs are kept in BUILD-DIR/fuzz-artifacts/), 2 on a usage or setup error,
# 0 when all ran clean.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -eq 0 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
seconds="$1"
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${2:-build-fuzz}"
[ -d "$build" ] || build="$repo/$build"
if [ ! -d "$build/tests/fuzz" ]; then
  echo "run-fuzzers: no fuzz targets under $build (build them: cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi
build="$(cd "$build" && pwd)"

# target:max_len:dictionary
targets=(
  fuzz_webhook_parser:16384:webhook.dict
  fuzz_signature:4096:signature.dict
  fuzz_codecs:16384:graph.dict
  fuzz_retry_after:128:retry_after.dict
  fuzz_jpeg:4096:jpeg.dict
  fuzz_ticket_json:16384:ticket.dict
  fuzz_sandbox_state:32768:sandbox_state.dict
  fuzz_cli_json_writer:4096:cli_json_writer.dict
)

work="$(mktemp -d "${TMPDIR:-/tmp}/wagroups-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
bash "$repo/tests/fuzz/make-corpus.sh" "$work/corpus" "$build" >/dev/null

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# One target per core (FUZZ_JOBS, default 2): each still gets SECONDS of its own.
jobs="${FUZZ_JOBS:-2}"
failed=()
summary=()
for entry in "${targets[@]}"; do
  IFS=: read -r name max_len dict <<<"$entry"
  binary="$build/tests/fuzz/$name"
  if [ ! -x "$binary" ]; then
    echo "run-fuzzers: $binary is missing" >&2
    failed+=("$name (not built)")
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "run-fuzzers: $name for ${seconds}s" >&2
  (
    status=0
    "$binary" "$work/corpus/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
      -dict="$repo/tests/fuzz/dict/$dict" -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
      >"$work/$name.log" 2>&1 || status=$?
    echo "$status" >"$work/$name.status"
  ) &
done
wait

for entry in "${targets[@]}"; do
  IFS=: read -r name _ _ <<<"$entry"
  log="$work/$name.log"
  [ -f "$work/$name.status" ] || continue  # not built: already listed
  status="$(cat "$work/$name.status")"
  # Any sanitizer report or libFuzzer finding fails the target, even one that did not end the run.
  if [ "$status" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
    failed+=("$name")
    echo "---- $name failed (exit $status); the end of its log:" >&2
    tail -n 60 "$log" >&2
    echo "---- inputs kept in $artifacts/" >&2
  fi
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  final="$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$final")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")"
  corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[A-Za-z]*\).*/\1/p' <<<"$final")"
  summary+=("$(printf '%-22s execs %10s  exec/s %7s  corpus %-12s cov %6s  ft %6s' "$name" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "${corp:-?}" "${cov:-?}" "${ft:-?}")")
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzzers: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzzers: all ${#targets[@]} targets ran ${seconds}s clean"
