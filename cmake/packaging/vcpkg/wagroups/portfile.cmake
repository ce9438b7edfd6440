# vcpkg port of wagroups. No patches.
#
# Sources: the release tag, or -- to check the port against a working tree without a release --
# the folder named by the environment variable WAGROUPS_SOURCE_DIR (see ../../README.md).
# REF and SHA512 are filled in at release time: with SHA512 0, vcpkg stops after the download and
# prints the actual hash to paste here.
if(DEFINED ENV{WAGROUPS_SOURCE_DIR} AND NOT "$ENV{WAGROUPS_SOURCE_DIR}" STREQUAL "")
    file(TO_CMAKE_PATH "$ENV{WAGROUPS_SOURCE_DIR}" SOURCE_PATH)
    if(NOT EXISTS "${SOURCE_PATH}/CMakeLists.txt")
        message(FATAL_ERROR "WAGROUPS_SOURCE_DIR=${SOURCE_PATH} holds no CMakeLists.txt")
    endif()
    message(STATUS "wagroups: building the local source tree ${SOURCE_PATH} (WAGROUPS_SOURCE_DIR)")
else()
    vcpkg_from_github(
        OUT_SOURCE_PATH SOURCE_PATH
        REPO wagroups/wagroups
        REF "v${VERSION}"
        SHA512 0
        HEAD_REF main
    )
endif()

# Every optional component is a feature; each WAGROUPS_WITH_* is passed ON or OFF, never left to
# the project's defaults (which depend on whether wagroups is the top-level project).
vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        sqlite          WAGROUPS_WITH_SQLITE
        postgres        WAGROUPS_WITH_POSTGRES
        sandbox         WAGROUPS_WITH_SANDBOX
        sandbox-server  WAGROUPS_WITH_SANDBOX_SERVER
        testing         WAGROUPS_WITH_TESTING
)

# BUILD_SHARED_LIBS comes from VCPKG_LIBRARY_LINKAGE through vcpkg_cmake_configure.
vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DWAGROUPS_BUILD_TOOLS=OFF
        -DWAGROUPS_BUILD_TESTS=OFF
        -DWAGROUPS_BUILD_EXAMPLES=OFF
        -DWAGROUPS_BUILD_BENCHMARKS=OFF
        -DWAGROUPS_BUILD_FUZZERS=OFF
        -DWAGROUPS_BUILD_DOCS=OFF
        -DWAGROUPS_INSTALL=ON
        -DWAGROUPS_WARNINGS_AS_ERRORS=OFF
        -DWAGROUPS_SANITIZE=OFF
)

vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/wagroups)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE
    "${CURRENT_PACKAGES_DIR}/debug/include"
    "${CURRENT_PACKAGES_DIR}/debug/share"
)

# The usage text names exactly the components this build has (one per installed feature).
set(WAGROUPS_USAGE_COMPONENTS "")
set(WAGROUPS_USAGE_TARGETS "wagroups::wagroups")
set(WAGROUPS_USAGE_LINES "")
foreach(feature_component IN ITEMS "sqlite=sqlite=SqliteTicketStore (SQLite 3)"
                                   "postgres=postgres=PostgresTicketStore (libpq)"
                                   "sandbox=sandbox=the in-process Groups simulator"
                                   "sandbox-server=sandbox_server=the simulator over loopback HTTP"
                                   "testing=testing=FakeTransport, header-only")
    string(REPLACE "=" ";" parts "${feature_component}")
    list(GET parts 0 feature)
    list(GET parts 1 component)
    list(GET parts 2 what)
    if(feature IN_LIST FEATURES)
        string(APPEND WAGROUPS_USAGE_COMPONENTS " ${component}")
        string(APPEND WAGROUPS_USAGE_TARGETS " wagroups::${component}")
        string(APPEND WAGROUPS_USAGE_LINES "  #   wagroups[${feature}] -> wagroups::${component}: ${what}\n")
    endif()
endforeach()
if(WAGROUPS_USAGE_COMPONENTS)
    set(WAGROUPS_USAGE_FIND "find_package(wagroups CONFIG REQUIRED COMPONENTS${WAGROUPS_USAGE_COMPONENTS})")
    set(WAGROUPS_USAGE_NOTE "  # Ask only for the components you use; each comes from a port feature:\n${WAGROUPS_USAGE_LINES}")
else()
    set(WAGROUPS_USAGE_FIND "find_package(wagroups CONFIG REQUIRED)")
    set(WAGROUPS_USAGE_NOTE "  # Optional components are port features: wagroups[sqlite,postgres,sandbox,sandbox-server,testing]\n  # give wagroups::sqlite, wagroups::postgres, wagroups::sandbox, wagroups::sandbox_server, wagroups::testing.\n")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/usage" "${CURRENT_PACKAGES_DIR}/share/${PORT}/usage" @ONLY)

vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
