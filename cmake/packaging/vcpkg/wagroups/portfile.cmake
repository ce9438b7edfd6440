# Overlay port for wagroups. REF and SHA512 are filled in at release time (see ../../README.md);
# with SHA512 0, vcpkg stops after the download and prints the actual hash to paste here.
vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO wagroups/wagroups
    REF "v${VERSION}"
    SHA512 0
    HEAD_REF main
)

# BUILD_SHARED_LIBS comes from VCPKG_LIBRARY_LINKAGE through vcpkg_cmake_configure.
vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DWAGROUPS_BUILD_TESTS=OFF
        -DWAGROUPS_BUILD_EXAMPLES=OFF
        -DWAGROUPS_BUILD_BENCHMARKS=OFF
)

vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/wagroups)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE
    "${CURRENT_PACKAGES_DIR}/debug/include"
    "${CURRENT_PACKAGES_DIR}/debug/share"
)

vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
