#!/usr/bin/env bash
# Builds wagroups the ways a host project consumes it, and builds and runs one small consumer
# project per way (tests/package/README.md has the list). Wired into CTest as the package.* tests
# (tests/package/CMakeLists.txt); also usable by hand:
#
#   tests/package/run_consumers.sh <wagroups-source-dir> <scratch-dir> [step...]
#
# With no step, every step runs, in the order below. Steps:
#   prefix-static           configure, build and install a static wagroups (components sqlite,
#                           sandbox, testing) into <scratch>/prefix-static
#   prefix-nosqlite         the same build tree reconfigured with WAGROUPS_WITH_SQLITE=OFF, installed
#                           into <scratch>/prefix-nosqlite (nothing recompiles)
#   prefix-shared           the same build tree reconfigured with BUILD_SHARED_LIBS=ON, installed
#                           into <scratch>/prefix-shared (only the sandbox and sqlite sources
#                           recompile: the core objects do not depend on the library type)
#   find_package-static     find_package(wagroups COMPONENTS sqlite sandbox testing), C++17, static
#   find_package-static-cxx20   the same in C++20
#   find_package-shared     the same, C++17, against the shared install
#   find_package-shared-cxx20   the same in C++20
#   pkg-config-static       c++ main.cpp $(pkg-config --cflags --libs wagroups-sqlite wagroups-sandbox)
#   pkg-config-shared       the same against the shared install
#   find_package-nosuch     find_package(wagroups REQUIRED COMPONENTS nosuch) must fail naming it
#   find_package-nosqlite   COMPONENTS sqlite against prefix-nosqlite must fail naming sqlite
#   add_subdirectory        add_subdirectory(<wagroups source>) with the consumer's WAGROUPS_WITH_*
#   fetchcontent            FetchContent_Declare(wagroups SOURCE_DIR <source>) + MakeAvailable
#
# The consumer steps need the prefix they name (prefix-* steps of this or an earlier run with the
# same scratch dir). Each step prints "consumer <step>: OK", or its whole log and
# "consumer <step>: FAILED (<what>)" and exits 1.
#
# Environment: CXX (the C++ compiler; default: CMake's choice, `c++` for pkg-config), CXXFLAGS,
# CMAKE_PREFIX_PATH and CMAKE_TOOLCHAIN_FILE (read by CMake itself), WAGROUPS_PKG_GENERATOR
# (default Ninja), WAGROUPS_PKG_MAKE_PROGRAM, WAGROUPS_PKG_BUILD_TYPE (default None),
# WAGROUPS_PKG_JOBS (default: the number of processors), PKG_CONFIG (default pkg-config).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 <wagroups-source-dir> <scratch-dir> [step...]" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
scratch=$(cd "$2" && pwd)
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

all_steps=(prefix-static prefix-nosqlite prefix-shared
           find_package-static find_package-static-cxx20 find_package-shared find_package-shared-cxx20
           pkg-config-static pkg-config-shared find_package-nosuch find_package-nosqlite
           add_subdirectory fetchcontent)
if [[ $# -eq 0 ]]; then
  set -- "${all_steps[@]}"
fi

generator=${WAGROUPS_PKG_GENERATOR:-Ninja}
# "None" (no optimisation, no debug info) halves the compile time of the variants, which only need
# to link and run correctly.
build_type=${WAGROUPS_PKG_BUILD_TYPE:-None}
jobs=${WAGROUPS_PKG_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
pkg_config=${PKG_CONFIG:-pkg-config}

# Arguments every CMake configuration gets: generator, build type, the caller's compiler, and no
# package registry (only the prefix named on the command line may provide wagroups).
cmake_common=(-G "$generator" "-DCMAKE_BUILD_TYPE=$build_type"
              -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
cxx_path=""
if [[ -n ${CXX:-} ]]; then
  cxx_path=$(command -v "$CXX" || echo "$CXX")
  cmake_common+=("-DCMAKE_CXX_COMPILER=$cxx_path")
fi
if [[ -n ${WAGROUPS_PKG_MAKE_PROGRAM:-} ]]; then
  cmake_common+=("-DCMAKE_MAKE_PROGRAM=$WAGROUPS_PKG_MAKE_PROGRAM")
fi

wagroups_build=$scratch/wagroups-build
mkdir -p "$scratch/logs"

# --- Step plumbing -------------------------------------------------------------------------------
current=""   # the step running
log=""       # its log
out=""       # the output of the last command run through `run`

# CPU seconds (user + system) used by the commands this script has run so far.
# (`times` runs in this shell, not in a subshell, which would have its own accounts.)
child_cpu() {
  times >"$scratch/logs/.times"
  cpu=$(awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
    printf "%d", t }' "$scratch/logs/.times")
}

begin() {
  current=$1
  log=$scratch/logs/$1.log
  : >"$log"
  step_started=$SECONDS
  child_cpu
  step_cpu=$cpu
}

fail() {
  {
    echo "---- consumer $current: log $log ----"
    cat "$log"
    echo "---- end of log ----"
    echo "consumer $current: FAILED ($1)"
  } >&2
  exit 1
}

ok() {
  child_cpu
  echo "consumer $current: OK ($((SECONDS - step_started)) s, $((cpu - step_cpu)) s CPU)${1:+, $1}"
}

# run <what> <command...>: runs the command, its output to the log (and to $out); fails the step
# with <what> unless it exits 0.
run() {
  local what=$1
  shift
  printf '+' >>"$log"
  printf ' %q' "$@" >>"$log"
  echo >>"$log"
  local rc=0
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" >>"$log"
  if [[ $rc -ne 0 ]]; then
    fail "$what: exit $rc"
  fi
}

note() {
  echo "# $*" >>"$log"
}

# --- wagroups variants ---------------------------------------------------------------------------

# install_checks <prefix> <with-sqlite ON|OFF> <shared ON|OFF>
install_checks() {
  local prefix=$1 sqlite=$2 shared=$3
  local cmakedir
  cmakedir=$(dirname "$(find "$prefix" -name wagroupsConfig.cmake -print -quit)")
  [[ -f $cmakedir/wagroupsConfig.cmake ]] || fail "no wagroupsConfig.cmake under $prefix"
  local libdir
  libdir=$(cd "$cmakedir/../.." && pwd)
  for f in wagroups_wagroupsTargets.cmake wagroups_sandboxTargets.cmake wagroups_testingTargets.cmake; do
    [[ -f $cmakedir/$f ]] || fail "$f was not installed"
  done
  for pc in wagroups wagroups-sandbox wagroups-testing; do
    [[ -f $libdir/pkgconfig/$pc.pc ]] || fail "$pc.pc was not installed"
  done
  for h in wagroups.hpp sandbox.hpp testing.hpp config.hpp version.hpp webhook/endpoint.hpp; do
    [[ -f $prefix/include/wagroups/$h ]] || fail "include/wagroups/$h was not installed"
  done
  if [[ $sqlite == ON ]]; then
    [[ -f $cmakedir/wagroups_sqliteTargets.cmake && -f $libdir/pkgconfig/wagroups-sqlite.pc &&
       -f $prefix/include/wagroups/sqlite.hpp ]] || fail "the sqlite component was built but not all of it was installed"
  else
    [[ ! -e $cmakedir/wagroups_sqliteTargets.cmake && ! -e $libdir/pkgconfig/wagroups-sqlite.pc &&
       ! -e $prefix/include/wagroups/sqlite.hpp && ! -e $prefix/include/wagroups/sqlite ]] ||
      fail "the sqlite component was not built, yet some of it was installed"
  fi
  # Private dependencies never reach an installed header.
  local leaks
  leaks=$(grep -rEn '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]((rapidjson|curl|openssl|httplib)/|sqlite3|httplib)' \
            "$prefix/include/wagroups" || true)
  [[ -z $leaks ]] || fail "installed headers include private dependencies: $leaks"
  # The package files name no path of this machine's source or build tree (relocatable).
  local f
  for f in "$cmakedir"/*.cmake "$libdir"/pkgconfig/wagroups*.pc; do
    if grep -qF -e "$src" -e "$wagroups_build" "$f"; then
      fail "$f names the source or build tree"
    fi
    if grep -qi rapidjson "$f"; then
      fail "$f mentions RapidJSON, a private build-only dependency"
    fi
  done
  if [[ $shared == ON ]]; then
    compgen -G "$libdir/libwagroups.so*" >/dev/null || fail "no libwagroups.so in $libdir"
    ! compgen -G "$libdir/libwagroups*.a" >/dev/null || fail "a shared build installed a static archive"
  else
    [[ -f $libdir/libwagroups.a ]] || fail "no libwagroups.a in $libdir"
    ! compgen -G "$libdir/libwagroups*.so*" >/dev/null || fail "a static build installed a shared library"
  fi
}

# variant <name> <BUILD_SHARED_LIBS> <WAGROUPS_WITH_SQLITE>: one build tree, reconfigured per variant.
variant() {
  local name=$1 shared=$2 sqlite=$3
  local prefix=$scratch/prefix-$name
  # The build tree is kept between runs and variants; one made with another compiler or generator
  # starts afresh (CMake would otherwise drop every -D option while resetting its cache).
  local cache=$wagroups_build/CMakeCache.txt
  if [[ -f $cache ]]; then
    local cached_cxx cached_gen
    cached_cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache")
    cached_gen=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$cache")
    if [[ ( -n $cxx_path && $cached_cxx != "$cxx_path" ) || $cached_gen != "$generator" ]]; then
      note "$wagroups_build was configured with $cached_cxx / $cached_gen: starting afresh"
      rm -rf "$wagroups_build"
    fi
  fi
  run "configure wagroups ($name)" cmake -S "$src" -B "$wagroups_build" "${cmake_common[@]}" \
    "-DCMAKE_INSTALL_PREFIX=$prefix" "-DBUILD_SHARED_LIBS=$shared" \
    "-DWAGROUPS_WITH_SQLITE=$sqlite" -DWAGROUPS_WITH_SANDBOX=ON -DWAGROUPS_WITH_SANDBOX_SERVER=OFF \
    -DWAGROUPS_WITH_TESTING=ON -DWAGROUPS_BUILD_TESTS=OFF -DWAGROUPS_BUILD_TOOLS=OFF \
    -DWAGROUPS_BUILD_EXAMPLES=OFF -DWAGROUPS_BUILD_BENCHMARKS=OFF -DWAGROUPS_BUILD_DOCS=OFF \
    -DWAGROUPS_INSTALL=ON
  run "build wagroups ($name)" cmake --build "$wagroups_build" --parallel "$jobs"
  rm -rf "$prefix"
  run "install wagroups ($name)" cmake --install "$wagroups_build"
  install_checks "$prefix" "$sqlite" "$shared"
  ok "installed into $prefix"
}

need_prefix() {
  local prefix=$scratch/prefix-$1
  [[ -f $prefix/.complete ]] || fail "$prefix is missing: run the prefix-$1 step first"
}

# --- find_package consumers ----------------------------------------------------------------------

# find_package_consumer <prefix-name> <C++ standard>
find_package_consumer() {
  local variant=$1 std=$2
  need_prefix "$variant"
  local prefix=$scratch/prefix-$variant
  local bdir=$scratch/consumers/$current
  rm -rf "$bdir"
  run "configure" cmake -S "$here/find_package" -B "$bdir" "${cmake_common[@]}" \
    "-DCMAKE_PREFIX_PATH=$prefix" "-DCMAKE_CXX_STANDARD=$std" "-DWAGROUPS_CONSUMER_NAME=$current"
  # The package found is the one just installed, not another wagroups on the machine.
  local found
  found=$(sed -n 's/^-- wagroups_DIR=//p' <<<"$out")
  [[ -n $found ]] || fail "the configure step did not report wagroups_DIR"
  [[ $(cd "$found" && pwd -P) == "$(cd "$prefix" && pwd -P)"/* ]] || fail "find_package used $found, not $prefix"
  run "build" cmake --build "$bdir" --parallel "$jobs" --verbose
  # The C++ standard asked for is the one the consumer was compiled with.
  grep -Eq -- "-std=(c|gnu)\+\+$std( |$)" <<<"$out" || fail "the consumer was not compiled with -std=c++$std"
  run "run" "$bdir/consumer"
  grep -q "C++$std" <<<"$out" || fail "the consumer did not report C++$std"
  check_linkage "$bdir/consumer" "$variant"
  ok "$(tail -n 1 <<<"$out")"
}

# check_linkage <executable> <static|shared>: a static install leaves no libwagroups*.so to load;
# a shared one is loaded, the components the consumer linked included.
check_linkage() {
  local exe=$1 kind=$2
  command -v readelf >/dev/null || return 0
  local needed
  needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  note "NEEDED: $needed"
  if [[ $kind == shared ]]; then
    for lib in libwagroups.so libwagroups_sandbox.so; do
      [[ " $needed" == *" $lib."* ]] || fail "$exe does not load $lib (NEEDED: $needed)"
    done
  elif [[ $needed == *libwagroups* ]]; then
    fail "$exe was linked against a static wagroups but loads a shared one (NEEDED: $needed)"
  fi
}

# find_package_must_fail <prefix-name> <component> <what the output must name>
find_package_must_fail() {
  local variant=$1 component=$2
  need_prefix "$variant"
  local prefix=$scratch/prefix-$variant
  local bdir=$scratch/consumers/$current
  rm -rf "$bdir"
  local cmd=(cmake -S "$here/find_package_negative" -B "$bdir" "${cmake_common[@]}"
             "-DCMAKE_PREFIX_PATH=$prefix" "-DWANTED=$component")
  printf '+' >>"$log"
  printf ' %q' "${cmd[@]}" >>"$log"
  echo >>"$log"
  local rc=0
  out=$("${cmd[@]}" 2>&1) || rc=$?
  printf '%s\n' "$out" >>"$log"
  [[ $rc -ne 0 ]] || fail "find_package(wagroups REQUIRED COMPONENTS $component) succeeded"
  # The package itself was found: the failure is the component's.
  grep -q "Found package configuration file" <<<"$out" ||
    fail "the configuration did not fail on the component (wagroupsConfig.cmake not reached)"
  # The reason, a paragraph CMake wraps, on one line.
  local reason
  reason=$(awk '/Reason given by package:/ { on = 1; next }
                on && NF { printf "%s%s", sep, $0; sep = " " ; seen = 1; next }
                on && seen { exit }' <<<"$out" | tr -s ' ')
  [[ -n $reason ]] || reason=$out
  grep -Eq "[Cc]omponent.*\b$component\b" <<<"$reason" ||
    fail "the failure does not name the component $component"
  ok "fails with:$reason"
}

# --- pkg-config consumers ------------------------------------------------------------------------

# pkg_config_consumer <prefix-name>
pkg_config_consumer() {
  local variant=$1
  need_prefix "$variant"
  local prefix=$scratch/prefix-$variant
  local pcdir
  pcdir=$(dirname "$(find "$prefix" -name wagroups.pc -print -quit)")
  local bdir=$scratch/consumers/$current
  rm -rf "$bdir"
  mkdir -p "$bdir"
  export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  note "PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
  run "pkg-config" "$pkg_config" --cflags --libs wagroups-sqlite wagroups-sandbox
  local flags
  read -r -a flags <<<"$out"
  local cxx=${CXX:-c++}
  local cxxflags=()
  read -r -a cxxflags <<<"${CXXFLAGS:-}"
  # -I (not -isystem): the installed headers themselves must compile warning-free.
  run "compile and link" "$cxx" -std=c++17 -O2 -Wall -Wextra -Werror "${cxxflags[@]}" -DWAGROUPS_CONSUMER_SQLITE \
    "-DWAGROUPS_CONSUMER_NAME=\"$current\"" "$here/common/consumer_main.cpp" -o "$bdir/consumer" "${flags[@]}"
  check_linkage "$bdir/consumer" "$variant"
  # pkg-config gives no run path: a shared install is found through the loader's search path.
  if [[ $variant == shared ]]; then
    run "run" env "LD_LIBRARY_PATH=$(cd "$pcdir/.." && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$bdir/consumer"
  else
    run "run" "$bdir/consumer"
  fi
  ok "$(tail -n 1 <<<"$out")"
}

# --- consumers that build wagroups themselves ----------------------------------------------------

# source_consumer <project dir>
source_consumer() {
  local project=$1
  local bdir=$scratch/consumers/$current
  rm -rf "$bdir"
  run "configure" cmake -S "$here/$project" -B "$bdir" "${cmake_common[@]}" \
    "-DWAGROUPS_SOURCE_DIR=$src" "-DWAGROUPS_CONSUMER_NAME=$current"
  run "build" cmake --build "$bdir" --parallel "$jobs"
  run "run" "$bdir/consumer"
  ok "$(tail -n 1 <<<"$out")"
}

# --- Steps ---------------------------------------------------------------------------------------
for step in "$@"; do
  begin "$step"
  case $step in
    prefix-static)
      rm -f "$scratch/prefix-static/.complete"
      variant static OFF ON && touch "$scratch/prefix-static/.complete" ;;
    prefix-nosqlite)
      rm -f "$scratch/prefix-nosqlite/.complete"
      variant nosqlite OFF OFF && touch "$scratch/prefix-nosqlite/.complete" ;;
    prefix-shared)
      rm -f "$scratch/prefix-shared/.complete"
      variant shared ON ON && touch "$scratch/prefix-shared/.complete" ;;
    find_package-static) find_package_consumer static 17 ;;
    find_package-static-cxx20) find_package_consumer static 20 ;;
    find_package-shared) find_package_consumer shared 17 ;;
    find_package-shared-cxx20) find_package_consumer shared 20 ;;
    pkg-config-static) pkg_config_consumer static ;;
    pkg-config-shared) pkg_config_consumer shared ;;
    find_package-nosuch) find_package_must_fail static nosuch ;;
    find_package-nosqlite) find_package_must_fail nosqlite sqlite ;;
    add_subdirectory) source_consumer add_subdirectory ;;
    fetchcontent) source_consumer fetchcontent ;;
    *) fail "unknown step (known: ${all_steps[*]})" ;;
  esac
done
