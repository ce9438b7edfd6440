# Install rules: headers, one library and one export file per component, the package config, and
# one pkg-config file per component. Included from the top-level CMakeLists.txt.

# Headers of a component that is not built are not installed.
set(_wagroups_header_excludes)
if(NOT WAGROUPS_WITH_SQLITE)
  list(APPEND _wagroups_header_excludes PATTERN "sqlite" EXCLUDE PATTERN "sqlite.hpp" EXCLUDE)
endif()
if(NOT WAGROUPS_WITH_POSTGRES)
  list(APPEND _wagroups_header_excludes PATTERN "postgres" EXCLUDE PATTERN "postgres.hpp" EXCLUDE)
endif()
if(NOT WAGROUPS_WITH_SANDBOX)
  list(APPEND _wagroups_header_excludes PATTERN "sandbox.hpp" EXCLUDE PATTERN "simulator.hpp" EXCLUDE)
endif()
if(NOT WAGROUPS_WITH_SANDBOX_SERVER)
  list(APPEND _wagroups_header_excludes PATTERN "sandbox_server.hpp" EXCLUDE PATTERN "server.hpp" EXCLUDE)
endif()
if(NOT WAGROUPS_WITH_SANDBOX AND NOT WAGROUPS_WITH_SANDBOX_SERVER)
  list(APPEND _wagroups_header_excludes PATTERN "sandbox" EXCLUDE)
endif()
if(NOT WAGROUPS_WITH_TESTING)
  list(APPEND _wagroups_header_excludes PATTERN "testing" EXCLUDE PATTERN "testing.hpp" EXCLUDE)
endif()
install(DIRECTORY include/wagroups DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT wagroups_development
        ${_wagroups_header_excludes})
install(FILES "${PROJECT_BINARY_DIR}/include/wagroups/config.hpp"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wagroups COMPONENT wagroups_development)

# Relative to the .pc file, so that the package works wherever the prefix is moved; the library and
# include directories relative to the prefix, whether the GNUInstallDirs values are relative or not.
file(RELATIVE_PATH WAGROUPS_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" WAGROUPS_PC_TO_PREFIX "${WAGROUPS_PC_TO_PREFIX}")
file(RELATIVE_PATH WAGROUPS_PC_LIBDIR "${CMAKE_INSTALL_PREFIX}" "${CMAKE_INSTALL_FULL_LIBDIR}")
file(RELATIVE_PATH WAGROUPS_PC_INCLUDEDIR "${CMAKE_INSTALL_PREFIX}" "${CMAKE_INSTALL_FULL_INCLUDEDIR}")

# One component: its library, its export file (wagroups_<name>Targets.cmake, loaded by
# wagroupsConfig.cmake only when asked for), its build-tree export, and its pkg-config file. A
# static library's private dependencies must be found again by a consumer's linker, so they go to
# `Requires:`; a shared one's only matter to `pkg-config --static` (`Requires.private:`).
function(wagroups_install_component target name pc_name pc_description pc_requires pc_private_deps)
  install(TARGETS ${target} EXPORT wagroups_${name}Targets
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT wagroups_runtime
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT wagroups_runtime
                  NAMELINK_COMPONENT wagroups_development
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT wagroups_development)
  install(EXPORT wagroups_${name}Targets NAMESPACE wagroups:: DESTINATION ${WAGROUPS_INSTALL_CMAKEDIR}
          COMPONENT wagroups_development)
  export(EXPORT wagroups_${name}Targets NAMESPACE wagroups::
         FILE "${PROJECT_BINARY_DIR}/wagroups_${name}Targets.cmake")
  get_target_property(_type ${target} TYPE)
  set(WAGROUPS_PC_NAME "${pc_name}")
  set(WAGROUPS_PC_DESCRIPTION "${pc_description}")
  set(WAGROUPS_PC_LIBS "")
  if(NOT _type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(_output ${target} OUTPUT_NAME)
    if(NOT _output)
      set(_output ${target})
    endif()
    set(WAGROUPS_PC_LIBS "-L\${libdir} -l${_output}")
  endif()
  set(WAGROUPS_PC_CFLAGS "")
  if(BUILD_SHARED_LIBS)
    set(WAGROUPS_PC_CFLAGS " -DWAGROUPS_SHARED")
  endif()
  set(WAGROUPS_PC_REQUIRES "${pc_requires}")
  set(WAGROUPS_PC_REQUIRES_PRIVATE "")
  if(pc_private_deps)
    if(_type STREQUAL "STATIC_LIBRARY")
      if(WAGROUPS_PC_REQUIRES)
        string(APPEND WAGROUPS_PC_REQUIRES ", ")
      endif()
      string(APPEND WAGROUPS_PC_REQUIRES "${pc_private_deps}")
    else()
      set(WAGROUPS_PC_REQUIRES_PRIVATE "${pc_private_deps}")
    endif()
  endif()
  configure_file("${PROJECT_SOURCE_DIR}/cmake/wagroups.pc.in" "${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT wagroups_development)
endfunction()

wagroups_install_component(wagroups wagroups wagroups
  "C++ SDK for the WhatsApp Cloud API Groups API: client, webhooks, tickets" "" "libcurl, libcrypto")
set(WAGROUPS_BUILT_COMPONENTS "")
if(WAGROUPS_WITH_TESTING)
  wagroups_install_component(wagroups_testing testing wagroups-testing
    "wagroups test doubles (FakeTransport)" "wagroups" "")
  list(APPEND WAGROUPS_BUILT_COMPONENTS testing)
endif()
if(WAGROUPS_WITH_SANDBOX)
  wagroups_install_component(wagroups_sandbox sandbox wagroups-sandbox
    "wagroups in-process Groups simulator" "wagroups" "libcrypto")
  list(APPEND WAGROUPS_BUILT_COMPONENTS sandbox)
endif()
if(WAGROUPS_WITH_SANDBOX_SERVER)
  # Only a compiled cpp-httplib (Debian's) has a pkg-config module; a header-only one is compiled in.
  set(_httplib_pc "")
  if(WAGROUPS_HTTPLIB_VIA STREQUAL "pkgconfig")
    set(_httplib_pc "cpp-httplib")
  endif()
  wagroups_install_component(wagroups_sandbox_server sandbox_server wagroups-sandbox-server
    "wagroups Groups simulator over loopback HTTP" "wagroups-sandbox" "${_httplib_pc}")
  list(APPEND WAGROUPS_BUILT_COMPONENTS sandbox_server)
endif()
if(WAGROUPS_WITH_SQLITE)
  wagroups_install_component(wagroups_sqlite sqlite wagroups-sqlite
    "wagroups SQLite ticket store" "wagroups" "sqlite3")
  list(APPEND WAGROUPS_BUILT_COMPONENTS sqlite)
endif()
if(WAGROUPS_WITH_POSTGRES)
  wagroups_install_component(wagroups_postgres postgres wagroups-postgres
    "wagroups PostgreSQL ticket store" "wagroups" "libpq")
  list(APPEND WAGROUPS_BUILT_COMPONENTS postgres)
endif()

configure_package_config_file(cmake/wagroupsConfig.cmake.in
    "${PROJECT_BINARY_DIR}/wagroupsConfig.cmake"
    INSTALL_DESTINATION ${WAGROUPS_INSTALL_CMAKEDIR})
# The same compatibility as the ABI: MAJOR.MINOR before 1.0, MAJOR after (docs/versioning.md).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_wagroups_compatibility SameMinorVersion)
else()
  set(_wagroups_compatibility SameMajorVersion)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/wagroupsConfigVersion.cmake"
    VERSION ${PROJECT_VERSION} COMPATIBILITY ${_wagroups_compatibility})
install(FILES "${PROJECT_BINARY_DIR}/wagroupsConfig.cmake" "${PROJECT_BINARY_DIR}/wagroupsConfigVersion.cmake"
        DESTINATION ${WAGROUPS_INSTALL_CMAKEDIR} COMPONENT wagroups_development)
