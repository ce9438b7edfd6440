# Driver of the `package.consumer` test (see tests/package/CMakeLists.txt). Run with `cmake -P`:
#
#   1. `cmake --install` the wagroups build tree WAGROUPS_BINARY_DIR into WORK_DIR/prefix;
#   2. check the install tree: no RapidJSON/libcurl/OpenSSL/SQLite header reached include/wagroups,
#      the exported targets mention no RapidJSON and no build or source path, and libcurl/OpenSSL
#      (and SQLite, for the sqlite component) appear only as $<LINK_ONLY:...> dependencies of a
#      static library;
#   3. configure CONSUMER_SOURCE_DIR in WORK_DIR/build with CMAKE_PREFIX_PATH=<prefix>, with the
#      main build's generator and compiler, and check that it found the package in <prefix>;
#   4. build it;
#   5. run it and check that it printed "consumer OK", and that it used wagroups::sqlite exactly
#      when this build has the component (WAGROUPS_HAS_SQLITE).
#
# Any failure stops the script with FATAL_ERROR (non-zero exit) and shows the step's output.
cmake_minimum_required(VERSION 3.16)

foreach(_var WAGROUPS_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if("${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${_var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command (the arguments after `name`); fails the test with its output unless it exits 0.
# The combined stdout+stderr is returned in `step_output`.
function(run_step name)
  message(STATUS "package.consumer: ${name}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " cmdline "${ARGN}")
    # Printed verbatim (FATAL_ERROR would re-wrap compiler diagnostics).
    message("---- package.consumer: ${name}: output ----\n${out}\n---- end of output ----")
    message(FATAL_ERROR "package.consumer: step '${name}' failed (exit ${rc})\n"
                        "command: ${cmdline}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

function(fail_check message_text)
  message(FATAL_ERROR "package.consumer: ${message_text}")
endfunction()

set(config_args)
if(MULTI_CONFIG AND NOT CONFIG STREQUAL "")
  set(config_args --config "${CONFIG}")
endif()

# 1. Install the build tree into a fresh prefix.
run_step("install ${WAGROUPS_BINARY_DIR} into ${prefix}"
  "${CMAKE_COMMAND}" --install "${WAGROUPS_BINARY_DIR}" --prefix "${prefix}" ${config_args})

# 2. Check the install tree.
file(GLOB_RECURSE config_files LIST_DIRECTORIES false "${prefix}/*/wagroupsConfig.cmake")
list(LENGTH config_files config_count)
if(NOT config_count EQUAL 1)
  fail_check("expected one wagroupsConfig.cmake under ${prefix}, found: ${config_files}")
endif()
get_filename_component(cmake_dir "${config_files}" DIRECTORY)  # <prefix>/<libdir>/cmake/wagroups
get_filename_component(lib_dir "${cmake_dir}/../.." ABSOLUTE)
message(STATUS "package.consumer: package files in ${cmake_dir}")

if(NOT IS_DIRECTORY "${prefix}/include/wagroups")
  fail_check("${prefix}/include/wagroups was not installed")
endif()
file(GLOB_RECURSE installed_headers LIST_DIRECTORIES false "${prefix}/include/wagroups/*")
foreach(header IN LISTS installed_headers)
  file(STRINGS "${header}" private_includes
       REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]((rapidjson|curl|openssl)/|sqlite3)")
  if(private_includes)
    fail_check("installed header ${header} includes a private dependency: ${private_includes}")
  endif()
endforeach()
if(NOT EXISTS "${prefix}/include/wagroups/version.hpp")
  fail_check("include/wagroups/version.hpp (generated) was not installed")
endif()

file(GLOB package_files "${cmake_dir}/*.cmake")
foreach(package_file IN LISTS package_files)
  file(READ "${package_file}" text)
  string(TOLOWER "${text}" lower_text)
  if(lower_text MATCHES "rapidjson")
    fail_check("${package_file} mentions RapidJSON, a private header-only dependency")
  endif()
  foreach(build_path IN ITEMS "${WAGROUPS_BINARY_DIR}" "${WAGROUPS_SOURCE_DIR}")
    if(NOT build_path STREQUAL "")
      string(FIND "${text}" "${build_path}" at)
      if(NOT at EQUAL -1)
        fail_check("${package_file} contains the build-machine path ${build_path}")
      endif()
    endif()
  endforeach()
endforeach()

if(NOT EXISTS "${cmake_dir}/wagroupsTargets.cmake")
  fail_check("${cmake_dir}/wagroupsTargets.cmake was not installed")
endif()
file(READ "${cmake_dir}/wagroupsTargets.cmake" targets_text)
# What remains once the link-only entries are taken out must not name libcurl or OpenSSL: their
# headers and usage requirements never reach a consumer.
string(REGEX REPLACE "\\$<LINK_ONLY:[^>]*>" "" targets_without_link_only "${targets_text}")
if(targets_without_link_only MATCHES "(CURL|OpenSSL)::")
  fail_check("wagroupsTargets.cmake exports libcurl/OpenSSL other than as \$<LINK_ONLY:...>")
endif()
if(WAGROUPS_SHARED)
  if(targets_text MATCHES "(CURL|OpenSSL)::")
    fail_check("a shared libwagroups should not export libcurl/OpenSSL at all")
  endif()
else()
  # A static archive needs them at the consumer's link; wagroupsConfig.cmake must find them.
  file(READ "${cmake_dir}/wagroupsConfig.cmake" config_text)
  foreach(dep IN ITEMS "CURL::libcurl|CURL" "OpenSSL::Crypto|OpenSSL")
    string(REPLACE "|" ";" dep "${dep}")
    list(GET dep 0 dep_target)
    list(GET dep 1 dep_package)
    string(FIND "${targets_text}" "\$<LINK_ONLY:${dep_target}>" at)
    if(at EQUAL -1)
      fail_check("static wagroupsTargets.cmake lacks \$<LINK_ONLY:${dep_target}>")
    endif()
    if(NOT config_text MATCHES "find_dependency\\(${dep_package}[ )]")
      fail_check("wagroupsConfig.cmake lacks find_dependency(${dep_package}) for the static library")
    endif()
  endforeach()
endif()

# The sqlite component: its own targets file, loaded only on request, with SQLite link-only.
set(sqlite_targets "${cmake_dir}/wagroupsSqliteTargets.cmake")
if(WAGROUPS_HAS_SQLITE)
  if(NOT EXISTS "${sqlite_targets}")
    fail_check("the sqlite component was built but ${sqlite_targets} was not installed")
  endif()
  if(NOT EXISTS "${prefix}/include/wagroups/sqlite_ticket_store.hpp")
    fail_check("the sqlite component was built but its header was not installed")
  endif()
  file(READ "${sqlite_targets}" sqlite_targets_text)
  string(REGEX REPLACE "\\$<LINK_ONLY:[^>]*>" "" sqlite_without_link_only "${sqlite_targets_text}")
  if(sqlite_without_link_only MATCHES "SQLite::")
    fail_check("wagroupsSqliteTargets.cmake exports SQLite other than as \$<LINK_ONLY:...>")
  endif()
  if(targets_text MATCHES "SQLite::")
    fail_check("wagroupsTargets.cmake (the core library) mentions SQLite")
  endif()
  if(NOT WAGROUPS_SHARED)
    string(FIND "${sqlite_targets_text}" "\$<LINK_ONLY:SQLite::SQLite3>" at)
    if(at EQUAL -1)
      fail_check("static wagroupsSqliteTargets.cmake lacks \$<LINK_ONLY:SQLite::SQLite3>")
    endif()
    file(READ "${cmake_dir}/wagroupsConfig.cmake" config_text)
    if(NOT config_text MATCHES "find_dependency\\(SQLite3[ )]")
      fail_check("wagroupsConfig.cmake lacks find_dependency(SQLite3) for the static sqlite component")
    endif()
  elseif(sqlite_targets_text MATCHES "SQLite::")
    fail_check("a shared libwagroups_sqlite should not export SQLite at all")
  endif()
elseif(EXISTS "${sqlite_targets}" OR EXISTS "${prefix}/include/wagroups/sqlite_ticket_store.hpp")
  fail_check("the sqlite component was not built, yet its targets file or header was installed")
endif()

# 3. Configure the consumer. Settings go through an initial-cache file so that lists survive.
set(consumer_prefix_path "${prefix}")
if(NOT PREFIX_PATH STREQUAL "")
  string(REPLACE "|" ";" extra_prefix_path "${PREFIX_PATH}")
  list(APPEND consumer_prefix_path ${extra_prefix_path})
endif()
set(consumer_cxx_flags "${CXX_FLAGS}")
set(consumer_link_flags "")
if(WAGROUPS_SANITIZE)
  # libwagroups was compiled with the sanitizers; its consumer must link their runtimes too.
  string(APPEND consumer_cxx_flags " -fsanitize=address,undefined -fno-omit-frame-pointer")
  set(consumer_link_flags "-fsanitize=address,undefined")
endif()
set(init_cache "${WORK_DIR}/consumer-init.cmake")
file(WRITE "${init_cache}"
  "set(CMAKE_CXX_COMPILER [==[${CXX_COMPILER}]==] CACHE FILEPATH \"\")\n"
  "set(CMAKE_CXX_FLAGS [==[${consumer_cxx_flags}]==] CACHE STRING \"\")\n"
  "set(CMAKE_EXE_LINKER_FLAGS [==[${consumer_link_flags}]==] CACHE STRING \"\")\n"
  "set(CMAKE_PREFIX_PATH [==[${consumer_prefix_path}]==] CACHE STRING \"\")\n"
  # Only the prefix just installed may provide wagroups: no package registries.
  "set(CMAKE_FIND_USE_PACKAGE_REGISTRY OFF CACHE BOOL \"\")\n"
  "set(CMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY OFF CACHE BOOL \"\")\n")
if(NOT MULTI_CONFIG AND NOT CONFIG STREQUAL "")
  file(APPEND "${init_cache}" "set(CMAKE_BUILD_TYPE [==[${CONFIG}]==] CACHE STRING \"\")\n")
endif()
if(NOT MAKE_PROGRAM STREQUAL "")
  file(APPEND "${init_cache}" "set(CMAKE_MAKE_PROGRAM [==[${MAKE_PROGRAM}]==] CACHE FILEPATH \"\")\n")
endif()
if(NOT TOOLCHAIN_FILE STREQUAL "")
  file(APPEND "${init_cache}" "set(CMAKE_TOOLCHAIN_FILE [==[${TOOLCHAIN_FILE}]==] CACHE FILEPATH \"\")\n")
endif()

set(generator_args -G "${GENERATOR}")
if(NOT GENERATOR_PLATFORM STREQUAL "")
  list(APPEND generator_args -A "${GENERATOR_PLATFORM}")
endif()
if(NOT GENERATOR_TOOLSET STREQUAL "")
  list(APPEND generator_args -T "${GENERATOR_TOOLSET}")
endif()

run_step("configure the consumer"
  "${CMAKE_COMMAND}" -C "${init_cache}" -S "${CONSUMER_SOURCE_DIR}" -B "${build}" ${generator_args})
set(configure_output "${step_output}")
if(NOT configure_output MATCHES "wagroups_DIR=([^\r\n]*)")
  fail_check("the consumer's configure step did not report wagroups_DIR:\n${configure_output}")
endif()
get_filename_component(found_dir "${CMAKE_MATCH_1}" REALPATH)
if(WAGROUPS_HAS_SQLITE)
  set(expected_sqlite ON)
else()
  set(expected_sqlite OFF)
endif()
if(NOT configure_output MATCHES "wagroups_sqlite_FOUND=${expected_sqlite}")
  fail_check("find_package(wagroups OPTIONAL_COMPONENTS sqlite) should report wagroups_sqlite_FOUND="
             "${expected_sqlite}:\n${configure_output}")
endif()
get_filename_component(expected_dir "${cmake_dir}" REALPATH)
if(NOT found_dir STREQUAL expected_dir)
  fail_check("find_package(wagroups) used ${found_dir}, not the fresh install in ${expected_dir}")
endif()

# 4. Build it.
run_step("build the consumer" "${CMAKE_COMMAND}" --build "${build}" ${config_args})

# 5. Run it. A shared libwagroups is found through the executable's build RPATH (CMake points it
# at the imported library's directory); the search paths below cover platforms without one.
if(CMAKE_HOST_WIN32)
  set(exe_name "wagroups_consumer.exe")
  set(ENV{PATH} "${prefix}/bin;$ENV{PATH}")
else()
  set(exe_name "wagroups_consumer")
  if(CMAKE_HOST_APPLE)
    set(ENV{DYLD_LIBRARY_PATH} "${lib_dir}:$ENV{DYLD_LIBRARY_PATH}")
  else()
    set(ENV{LD_LIBRARY_PATH} "${lib_dir}:$ENV{LD_LIBRARY_PATH}")
  endif()
endif()
file(GLOB_RECURSE consumer_exes LIST_DIRECTORIES false "${build}/${exe_name}")
list(FILTER consumer_exes EXCLUDE REGEX "/CMakeFiles/")
list(LENGTH consumer_exes exe_count)
if(NOT exe_count EQUAL 1)
  fail_check("expected one ${exe_name} under ${build}, found: ${consumer_exes}")
endif()
run_step("run ${consumer_exes}" "${consumer_exes}")
set(run_output "${step_output}")
if(NOT run_output MATCHES "consumer OK")
  fail_check("the consumer did not print 'consumer OK':\n${run_output}")
endif()
if(NOT WAGROUPS_VERSION STREQUAL "" AND NOT run_output MATCHES "wagroups ${WAGROUPS_VERSION} consumer OK")
  fail_check("the consumer reported another version than ${WAGROUPS_VERSION}:\n${run_output}")
endif()

if(WAGROUPS_HAS_SQLITE AND NOT run_output MATCHES "sqlite component: used")
  fail_check("the consumer did not use wagroups::sqlite although it was built:\n${run_output}")
endif()

string(STRIP "${run_output}" run_output)
string(REPLACE "\n" "; " run_output "${run_output}")
if(WAGROUPS_SHARED)
  set(linkage shared)
else()
  set(linkage static)
endif()
message(STATUS "package.consumer: ${run_output} (${linkage}, prefix ${prefix})")
message(STATUS "package.consumer: PASS")
