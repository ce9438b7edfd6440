#!/usr/bin/env bash
# Mutation check (issue 13): each mutant is one precise textual edit of one src/ file, which a named
# subset of the tests must catch. For each mutant: apply the edit (it must match exactly once, or
# the script stops: the mutant no longer applies and needs updating), rebuild only the test target
# in the build directory, run the subset and expect it to FAIL, then restore the file. The file is
# restored whatever happens (trap), and the build is brought back to the clean sources at the end.
#
#   tests/mutation/run-mutants.sh [build-dir]      default: build (the g++ default preset)
#   tests/mutation/run-mutants.sh --check          only check that every mutant still applies (no build)
#   MUTANTS="name ..." tests/mutation/run-mutants.sh   run only these (any defined, placeholders too)
#
# Prints a table mutant -> caught / survived; exits 1 if any survived, 2 on a setup error (a
# mutant that does not apply, a build that fails before or after mutating).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHECK_ONLY=0
if [[ "${1:-}" == "--check" ]]; then
  CHECK_ONLY=1
  shift
fi
BUILD="${1:-$ROOT/build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
JOBS="${MUTATION_JOBS:-2}"
UNIT="$BUILD/tests/unit/wagroups_unit_tests"

# One mutant per line, fields separated by " ;; ":
#   name ;; file under src/ ;; exact text to find (once) ;; replacement ;; build target ;; Catch2 test spec
# In the texts, \n stands for a line break. The test spec selects tests of the target's executable
# (tests/unit/wagroups_unit_tests): a tag expression or a test name pattern.
read -r -d '' DEFINED <<'MUTANTS' || true
dedupe_key_ignored ;; src/tickets/aggregator.cpp ;; if (*applied) {\n      changes_->push_back(TicketChange{TicketChangeKind::duplicate_ignored ;; if (false && *applied) {\n      changes_->push_back(TicketChange{TicketChangeKind::duplicate_ignored ;; wagroups_unit_tests ;; [issue13][oracle]
assignee_last_agent_wins ;; src/tickets/aggregator.cpp ;; if (!t.assignee && !request.assignee.empty()) { ;; if (!request.assignee.empty()) { ;; wagroups_unit_tests ;; [issue13][oracle]
reopen_on_inbound_dropped ;; src/tickets/aggregator.cpp ;; !(policy.reopen_on_inbound && t.last_inbound_at && *t.last_inbound_at > *t.resolved_at) ;; !(policy.reopen_on_inbound && t.last_inbound_at && false) ;; wagroups_unit_tests ;; [issue13][oracle]
idle_close_dropped ;; src/tickets/aggregator.cpp ;; join_min(t.closed_at, *t.resolved_at + close_after); ;; (void)t; ;; wagroups_unit_tests ;; [issue13][oracle]
delivery_moves_backwards ;; src/tickets/aggregator.cpp ;; if (delivery_rank(status) <= delivery_rank(into)) return false; ;; if (status == into) return false; ;; wagroups_unit_tests ;; [issue13][oracle]
stored_key_renamed ;; src/tickets/model.cpp ;; w.field("status_since", m.status_since); ;; w.field("since", m.status_since); ;; wagroups_unit_tests ;; [issue13][format]
signature_prefix_only ;; src/webhook/signature.cpp ;; CRYPTO_memcmp(expected.data(), provided.data(), kDigest) == 0 ;; CRYPTO_memcmp(expected.data(), provided.data(), 8) == 0 ;; wagroups_unit_tests ;; [webhook][signature]
delete_group_idempotent ;; src/client/client.cpp ;; impl_->url({group_id}), {}, Idempotency::non_idempotent ;; impl_->url({group_id}), {}, Idempotency::idempotent ;; wagroups_unit_tests ;; [issue13][retry]
graph_details_token_kept ;; src/client/client_impl.hpp ;; for (auto* text : {&g.details, &g.fbtrace_id, &g.error_user_title, &g.error_user_msg}) { ;; for (auto* text : {&g.fbtrace_id}) { ;; wagroups_unit_tests ;; [issue13][errors]
MUTANTS

# The default run (CI's): one mutant per safety promise, chosen to keep the stage short. The
# aggregator's idle-close and delivery-order mutants are defined for local runs (MUTANTS=...).
DEFAULT_MUTANTS="delete_group_idempotent graph_details_token_kept dedupe_key_ignored assignee_last_agent_wins \
reopen_on_inbound_dropped stored_key_renamed signature_prefix_only"
SELECTED="${MUTANTS:-$DEFAULT_MUTANTS}"

die() { echo "run-mutants: $*" >&2; exit 2; }
[[ -d "$BUILD" ]] || die "no build directory $BUILD (configure it first: cmake --preset default)"
command -v python3 > /dev/null || die "python3 is needed to apply the edits"

BACKUP_DIR="$(mktemp -d)"
MUTATED_FILE=""
restore() {
  if [[ -n "$MUTATED_FILE" && -f "$BACKUP_DIR/original" ]]; then
    # A fresh mtime (no -p): with the original's older one, the build would keep the mutant's objects.
    cp "$BACKUP_DIR/original" "$ROOT/$MUTATED_FILE"
    MUTATED_FILE=""
  fi
}
cleanup() {
  local rc=$?
  restore
  rm -rf "$BACKUP_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() {
  nice -n 10 cmake --build "$BUILD" --target "$1" -j "$JOBS" > "$BACKUP_DIR/build.log" 2>&1
}

# apply FILE FIND REPLACE [check]: the edit, refused unless FIND occurs exactly once; with a
# fourth argument only the count is checked and nothing is written.
apply() {
  python3 - "$ROOT/$1" "$2" "$3" "${4:-}" <<'PY'
import sys
path, find, repl = sys.argv[1], sys.argv[2].replace("\\n", "\n"), sys.argv[3].replace("\\n", "\n")
text = open(path, encoding="utf-8").read()
n = text.count(find)
if n != 1:
    sys.exit(f"run-mutants: the text to mutate occurs {n} times in {path} (must be once): {find!r}")
if not sys.argv[4]:
    open(path, "w", encoding="utf-8").write(text.replace(find, repl))
PY
}

declare -A FILE FIND REPL TARGET SPEC
while IFS= read -r line; do
  [[ -z "$line" ]] && continue
  name="${line%% ;; *}"; rest="${line#* ;; }"
  FILE[$name]="${rest%% ;; *}"; rest="${rest#* ;; }"
  FIND[$name]="${rest%% ;; *}"; rest="${rest#* ;; }"
  REPL[$name]="${rest%% ;; *}"; rest="${rest#* ;; }"
  TARGET[$name]="${rest%% ;; *}"; rest="${rest#* ;; }"
  SPEC[$name]="$rest"
done <<< "$DEFINED"

if [[ $CHECK_ONLY -eq 1 ]]; then
  for name in "${!FILE[@]}"; do
    apply "${FILE[$name]}" "${FIND[$name]}" "${REPL[$name]}" check || die "mutant $name does not apply"
    echo "applies: $name (${FILE[$name]})"
  done
  exit 0
fi

for name in $SELECTED; do
  [[ -n "${FILE[$name]:-}" ]] || die "no mutant named $name"
  [[ "${SPEC[$name]}" != PLACEHOLDER* ]] || die "mutant $name has no test spec yet (${SPEC[$name]})"
done

started=$(date +%s)
echo "run-mutants: building the clean sources first ($BUILD)"
build wagroups_unit_tests || { cat "$BACKUP_DIR/build.log" >&2; die "the clean build fails"; }

declare -a ROWS
survived=0
for name in $SELECTED; do
  file="${FILE[$name]}"
  cp -p "$ROOT/$file" "$BACKUP_DIR/original"
  MUTATED_FILE="$file"
  apply "$file" "${FIND[$name]}" "${REPL[$name]}" || die "mutant $name does not apply"
  t0=$(date +%s)
  if ! build "${TARGET[$name]}"; then
    # A mutant that does not compile tells nothing: a setup error, not a catch.
    cat "$BACKUP_DIR/build.log" >&2
    die "mutant $name does not build"
  fi
  if "$UNIT" "${SPEC[$name]}" > "$BACKUP_DIR/test.log" 2>&1; then
    verdict="SURVIVED"
    survived=$((survived + 1))
  else
    # Catch2 exits non-zero also when the spec matches no test: that must not count as a catch.
    if grep -q "No test cases matched" "$BACKUP_DIR/test.log"; then
      restore
      die "mutant $name: the spec '${SPEC[$name]}' matches no test"
    fi
    verdict="caught"
  fi
  restore
  cmp -s "$BACKUP_DIR/original" "$ROOT/$file" || die "$file was not restored: check git diff"
  ROWS+=("$(printf '%-28s %-30s %-9s %3ss  %s' "$name" "$file" "$verdict" "$(( $(date +%s) - t0 ))" "${SPEC[$name]}")")
  echo "run-mutants: ${ROWS[-1]}"
done

echo "run-mutants: rebuilding the clean sources"
build wagroups_unit_tests || { cat "$BACKUP_DIR/build.log" >&2; die "the clean rebuild fails"; }

printf '%-28s %-30s %-9s %4s  %s\n' "mutant" "file" "result" "time" "test spec"
for row in "${ROWS[@]}"; do echo "$row"; done
echo "run-mutants: ${#ROWS[@]} mutants, $survived survived, $(( $(date +%s) - started )) s in all"
[[ $survived -eq 0 ]]
