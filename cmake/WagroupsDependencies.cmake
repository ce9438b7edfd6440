# How wagroups finds the dependencies of its optional parts. Every optional part is switched on by
# an option the consumer sets (CMakeLists.txt); these functions only locate what an enabled part
# needs, and stop the configuration with the part's name when it is missing.

# cpp-httplib: a CMake package (vcpkg, Conan, upstream installs: target httplib::httplib) or, as
# Debian ships it, a compiled library with a pkg-config module whose Cflags carry the
# OpenSSL/zlib/brotli switches the library was built with. Sets WAGROUPS_HTTPLIB_TARGET and
# WAGROUPS_HTTPLIB_VIA (config|pkgconfig) in the caller's scope.
function(wagroups_find_httplib why)
  if(TARGET httplib::httplib)
    set(WAGROUPS_HTTPLIB_TARGET httplib::httplib PARENT_SCOPE)
    set(WAGROUPS_HTTPLIB_VIA config PARENT_SCOPE)
    return()
  endif()
  if(TARGET PkgConfig::WAGROUPS_HTTPLIB)
    set(WAGROUPS_HTTPLIB_TARGET PkgConfig::WAGROUPS_HTTPLIB PARENT_SCOPE)
    set(WAGROUPS_HTTPLIB_VIA pkgconfig PARENT_SCOPE)
    return()
  endif()
  find_package(httplib CONFIG QUIET)
  if(TARGET httplib::httplib)
    set(WAGROUPS_HTTPLIB_TARGET httplib::httplib PARENT_SCOPE)
    set(WAGROUPS_HTTPLIB_VIA config PARENT_SCOPE)
    return()
  endif()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(WAGROUPS_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
  endif()
  if(TARGET PkgConfig::WAGROUPS_HTTPLIB)
    set(WAGROUPS_HTTPLIB_TARGET PkgConfig::WAGROUPS_HTTPLIB PARENT_SCOPE)
    set(WAGROUPS_HTTPLIB_VIA pkgconfig PARENT_SCOPE)
    return()
  endif()
  message(FATAL_ERROR "wagroups: ${why} needs cpp-httplib, which was not found (neither the CMake "
                      "package `httplib` nor the pkg-config module `cpp-httplib`; Debian: "
                      "apt-get install libcpp-httplib-dev). Turn the option off or install it.")
endfunction()

function(wagroups_find_sqlite why)
  find_package(SQLite3 QUIET)
  if(NOT TARGET SQLite::SQLite3)
    message(FATAL_ERROR "wagroups: ${why} needs SQLite 3, which was not found (Debian: apt-get install "
                        "libsqlite3-dev). Turn the option off or install it.")
  endif()
endfunction()

# libpq, through CMake's FindPostgreSQL (target PostgreSQL::PostgreSQL, CMake >= 3.14). Since CMake
# 3.20 it needs only libpq-fe.h and libpq (the server headers are its optional `Server` component),
# so Debian's libpq-dev is enough; vcpkg's libpq port (which wraps this same module) and Conan's
# libpq recipe (CMakeDeps file name PostgreSQL) provide the same package name and target, so one
# call serves all three. The pkg-config module `libpq` (Debian ships it too) is named only in
# wagroups-postgres.pc.
function(wagroups_find_postgres why)
  if(NOT TARGET PostgreSQL::PostgreSQL)
    find_package(PostgreSQL QUIET)
  endif()
  if(NOT TARGET PostgreSQL::PostgreSQL)
    message(FATAL_ERROR "wagroups: ${why} needs libpq (the PostgreSQL client library), which was not "
                        "found (find_package(PostgreSQL); Debian: apt-get install libpq-dev; before "
                        "CMake 3.20 FindPostgreSQL also wants the server headers). Turn the option off "
                        "or install it.")
  endif()
endfunction()

function(wagroups_find_cli11 why)
  find_package(CLI11 CONFIG QUIET)
  if(NOT TARGET CLI11::CLI11)
    message(FATAL_ERROR "wagroups: ${why} needs CLI11, which was not found (Debian: apt-get install "
                        "libcli11-dev). Turn the option off or install it.")
  endif()
endfunction()
