#!/usr/bin/env bash
# Installs what wagroups needs to build and test, from the system package manager only.
# Idempotent: when everything is present it only checks and exits within a second or two.
# Debian 12 ships Catch2 v2; Catch2 v3 comes from bookworm-backports, whose apt source is
# derived from the Debian mirror this machine is already configured with (no host is named here).
# PostgreSQL (libpq-dev for wagroups::postgres, the server for its tests) is installed without the
# system cluster Debian would otherwise create and start: the tests run their own throwaway server
# (cmake/postgres-test-server.sh). clang's runtime (libclang-rt-dev) carries its sanitizers and libFuzzer;
# the openssl command makes the TLS test's throwaway CA.
set -euo pipefail

packages=(build-essential clang libclang-rt-dev cmake ninja-build pkg-config git openssl
          libcurl4-openssl-dev rapidjson-dev libssl-dev
          libsqlite3-dev libcpp-httplib-dev libcli11-dev
          libpq-dev postgresql
          doxygen clang-format python3 binutils)

log() { printf 'install-deps: %s\n' "$*" >&2; }

have_catch2_v3() {
  [ -f /usr/include/catch2/catch_test_macros.hpp ] ||
    [ -f /usr/local/include/catch2/catch_test_macros.hpp ]
}

missing_packages() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

if ! command -v apt-get >/dev/null 2>&1; then
  log "no apt-get here; install by hand: a C++17 compiler, CMake >= 3.16, libcurl, RapidJSON,"
  log "OpenSSL, SQLite 3, cpp-httplib, CLI11, libpq and a PostgreSQL server (for its tests) and"
  log "Catch2 v3 (see README.md)."
  have_catch2_v3 || exit 1
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

mapfile -t missing < <(missing_packages)
need_catch2=0
have_catch2_v3 || need_catch2=1

if [ "${#missing[@]}" -eq 0 ] && [ "$need_catch2" -eq 0 ]; then
  log "all dependencies present"
  exit 0
fi

# Prints the URI of the Debian archive that serves this release's main suite, read from the
# apt sources already configured (one-line .list or deb822 .sources files).
debian_mirror() {
  local codename=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v c="$codename" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
         if ($(i+1)==c) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v c="$codename" 'BEGIN { RS=""; FS="\n" }
      { uris=""; suites=""; enabled=1
        for (n=1; n<=NF; n++) {
          if ($n ~ /^URIs:/)    { sub(/^URIs:[ \t]*/, "", $n); uris=$n }
          if ($n ~ /^Suites:/)  { sub(/^Suites:[ \t]*/, "", $n); suites=" " $n " " }
          if ($n ~ /^Enabled:[ \t]*no/) enabled=0 }
        if (enabled && index(suites, " " c " ")) { split(uris, u, /[ \t]+/); print u[1]; exit } }' "$f"
  done
}

. /etc/os-release
codename="${VERSION_CODENAME:-}"
if [ "$need_catch2" -eq 1 ] && [ "${ID:-}" = debian ] && [ "$codename" = bookworm ]; then
  list=/etc/apt/sources.list.d/wagroups-bookworm-backports.list
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(debian_mirror "$codename" | head -n 1)
    if [ -z "$mirror" ]; then
      log "could not find the Debian mirror in the apt sources; add bookworm-backports by hand"
      exit 1
    fi
    log "adding bookworm-backports from the configured mirror"
    echo "deb $mirror bookworm-backports main" | $SUDO tee "$list" >/dev/null
  fi
fi

# Debian's postgresql-common reads create_main_cluster when a server package is configured; set to
# false before that, no cluster `main` is created or started. ucf would otherwise ask whether to keep
# this hand-written file when postgresql-common installs its own: UCF_FORCE_CONFFOLD keeps it.
createcluster_conf=/etc/postgresql-common/createcluster.conf
no_main_cluster() {
  if [ -f "$createcluster_conf" ] &&
     grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*(false|off|no|0)[[:space:]]*$' "$createcluster_conf"; then
    return 0
  fi
  log "writing create_main_cluster = false into $createcluster_conf"
  $SUDO mkdir -p "$(dirname "$createcluster_conf")"
  if [ -f "$createcluster_conf" ] && grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' "$createcluster_conf"; then
    $SUDO sed -i -E 's/^[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$createcluster_conf"
  else
    echo 'create_main_cluster = false' | $SUDO tee -a "$createcluster_conf" >/dev/null
  fi
}
installs_postgresql=0
for p in "${missing[@]}"; do
  if [ "$p" = postgresql ]; then installs_postgresql=1; fi
done

export DEBIAN_FRONTEND=noninteractive
# Passed through `env` as well: sudo drops the caller's environment.
apt_env=(DEBIAN_FRONTEND=noninteractive)
$SUDO apt-get update -qq
if [ "$installs_postgresql" -eq 1 ]; then
  no_main_cluster
  apt_env+=(UCF_FORCE_CONFFOLD=1)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  $SUDO env "${apt_env[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$need_catch2" -eq 1 ]; then
  if [ "$codename" = bookworm ]; then
    log "installing catch2 (v3) from bookworm-backports"
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports catch2 >/dev/null
  else
    $SUDO apt-get install -y -qq --no-install-recommends catch2 >/dev/null
  fi
fi
have_catch2_v3 || { log "Catch2 v3 is still missing"; exit 1; }
if [ "$installs_postgresql" -eq 1 ]; then
  no_main_cluster  # in case the package replaced the file after all
fi
log "done"
