#!/usr/bin/env bash
# Checks that the C++ lines a change touches follow .clang-format.
#
#   bash cmake/check-format.sh [--whole-files] [BASE]
#
# The change is everything between BASE and the working tree: commits since BASE plus uncommitted
# (staged or not) edits, plus new untracked files. BASE defaults to `git merge-base HEAD
# origin/main`; when there is no origin/main, or HEAD is on it already, to HEAD~1 (the last commit);
# in a single-commit history, to HEAD (uncommitted edits only).
#
# Only *.cpp and *.hpp under include/ src/ tools/ examples/ tests/ are checked, and in them only the
# lines the change added or modified (clang-format --lines), so code nobody touched is never
# reported; new files are checked whole. --whole-files checks every line of each changed file.
# Exits 1 listing the offending files (2 on a usage or setup error, 0 when all is well).
#
# To fix exactly the changed lines: git clang-format BASE   (or clang-format -i FILE for a whole file)
set -euo pipefail
cd "$(dirname "$0")/.."

whole_files=0
base=""
for arg in "$@"; do
  case "$arg" in
    --whole-files) whole_files=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check-format: unknown option $arg" >&2; exit 2 ;;
    *) [ -z "$base" ] || { echo "check-format: one BASE only" >&2; exit 2; }; base="$arg" ;;
  esac
done

clang_format="${CLANG_FORMAT:-}"
if [ -z "$clang_format" ]; then
  for candidate in clang-format-14 clang-format; do
    if command -v "$candidate" >/dev/null 2>&1; then clang_format="$candidate"; break; fi
  done
fi
if [ -z "$clang_format" ] || ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "check-format: clang-format not found (Debian: apt-get install clang-format; or set CLANG_FORMAT)" >&2
  exit 2
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check-format: not a git work tree, so there is no change to check" >&2
  exit 2
fi

if [ -n "$base" ]; then
  if ! base_commit=$(git rev-parse --verify --quiet "${base}^{commit}"); then
    echo "check-format: $base is not a commit" >&2
    exit 2
  fi
else
  head=$(git rev-parse HEAD)
  base_commit=""
  if git rev-parse --verify --quiet origin/main >/dev/null; then
    base_commit=$(git merge-base HEAD origin/main || true)
    [ "$base_commit" = "$head" ] && base_commit=""
  fi
  if [ -z "$base_commit" ]; then
    base_commit=$(git rev-parse --verify --quiet HEAD~1 || echo "$head")
  fi
  base="$base_commit"
fi

dirs=(include src tools examples tests)
is_cxx() { case "$1" in *.cpp|*.hpp) return 0 ;; *) return 1 ;; esac; }

# Changed tracked files (added, copied, modified, renamed; deletions need no check) and new files.
mapfile -t changed < <(git diff --name-only --diff-filter=ACMR "$base_commit" -- "${dirs[@]}")
mapfile -t untracked < <(git ls-files --others --exclude-standard -- "${dirs[@]}")

# The new-side line ranges of one file's hunks, as clang-format --lines=FIRST:LAST arguments.
line_args() {
  git diff -U0 --no-color "$base_commit" -- "$1" |
    sed -n 's/^@@ -[0-9,]* +\([0-9]*\)\(,\([0-9]*\)\)\{0,1\} @@.*/\1 \3/p' |
    while read -r first count; do
      count=${count:-1}
      [ "$count" -gt 0 ] || continue  # a pure deletion leaves no line to check
      echo "--lines=${first}:$((first + count - 1))"
    done
}

offenders=()
checked=0
check() {  # check FILE [--lines=...]...
  local file=$1
  shift
  checked=$((checked + 1))
  local report
  if ! report=$("$clang_format" --style=file --dry-run --Werror "$@" "$file" 2>&1); then
    offenders+=("$file")
    sed -n '1,12p' <<<"$report" >&2  # the first diagnostics; clang-format -i shows the rest
  fi
}

for file in "${changed[@]}"; do
  is_cxx "$file" && [ -f "$file" ] || continue
  if [ "$whole_files" = 1 ]; then
    check "$file"
  else
    mapfile -t ranges < <(line_args "$file")
    [ "${#ranges[@]}" -gt 0 ] || continue
    check "$file" "${ranges[@]}"
  fi
done
for file in "${untracked[@]}"; do
  is_cxx "$file" && [ -f "$file" ] || continue
  check "$file"
done

scope="changed lines"
[ "$whole_files" = 1 ] && scope="changed files"
if [ "${#offenders[@]}" -gt 0 ]; then
  echo "check-format: ${#offenders[@]} of $checked file(s) not formatted as .clang-format says ($scope since $(git rev-parse --short "$base_commit")):" >&2
  printf '  %s\n' "${offenders[@]}" >&2
  echo "check-format: fix the changed lines with: git clang-format $(git rev-parse --short "$base_commit")" >&2
  exit 1
fi
echo "check-format: $checked file(s) checked ($scope since $(git rev-parse --short "$base_commit")), all formatted"
