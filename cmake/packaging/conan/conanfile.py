import os
import re

from conan import ConanFile
from conan.errors import ConanException
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.1"


class WagroupsConan(ConanFile):
    """Builds wagroups from this repository's working tree (see cmake/packaging/README.md).

    The sources are exported from the repository root, three levels above this file, so
    `conan create cmake/packaging/conan` packages exactly what is checked out. The upstream CMake
    package files are deleted and regenerated from package_info(), which therefore restates the
    public contract: `find_package(wagroups)`, targets `wagroups::wagroups` and `wagroups::testing`.
    """

    name = "wagroups"
    description = "C++ SDK for the WhatsApp Cloud API Groups API"
    license = "MIT"
    topics = ("whatsapp", "cloud-api", "groups", "sdk", "http")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
    }
    # Removes fPIC on Windows and when shared (config_options/configure need no code).
    implements = ["auto_shared_fpic"]

    @property
    def _project_root(self):
        # cmake/packaging/conan -> repository root
        return os.path.join(self.recipe_folder, "..", "..", "..")

    def set_version(self):
        # `--version` wins; otherwise take it from project(wagroups VERSION x.y.z).
        if self.version:
            return
        cmakelists = load(self, os.path.join(self._project_root, "CMakeLists.txt"))
        match = re.search(r"project\(\s*wagroups\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", cmakelists)
        if not match:
            raise ConanException("cannot read the project version from CMakeLists.txt; pass --version")
        self.version = match.group(1)

    def export_sources(self):
        # Only what the library build needs: tests, examples and benchmarks are switched off below,
        # and the packaging files (this recipe, test_package build trees) stay out.
        for pattern in ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*"):
            copy(self, pattern, src=self._project_root, dst=self.export_sources_folder,
                 excludes=("cmake/packaging/*",))

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Used only inside the library: none of their headers appears in include/wagroups.
        self.requires("libcurl/[>=7.78.0 <9]")
        self.requires("openssl/[>=3 <4]")
        # Header-only and private; must never reach a consumer's include path.
        self.requires("rapidjson/cci.20230929", transitive_headers=False)

    def validate(self):
        check_min_cppstd(self, 17)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["WAGROUPS_BUILD_TESTS"] = False
        tc.cache_variables["WAGROUPS_BUILD_EXAMPLES"] = False
        tc.cache_variables["WAGROUPS_BUILD_BENCHMARKS"] = False
        tc.generate()
        deps = CMakeDeps(self)
        deps.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        # Conan generates its own CMake and pkg-config files from package_info().
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "wagroups")
        # The aggregate of all components; its names must not collide with the component's below.
        self.cpp_info.set_property("cmake_target_name", "wagroups::wagroups-all-do-not-use")
        self.cpp_info.set_property("pkg_config_name", "wagroups-all-do-not-use")

        core = self.cpp_info.components["wagroups"]
        core.set_property("cmake_target_name", "wagroups::wagroups")
        core.set_property("pkg_config_name", "wagroups")
        core.libs = ["wagroups"]
        core.requires = ["libcurl::libcurl", "openssl::crypto", "rapidjson::rapidjson"]
        if self.options.shared:
            # Mirrors the upstream `INTERFACE WAGROUPS_SHARED` (dllimport on Windows).
            core.defines = ["WAGROUPS_SHARED"]
        if self.settings.os in ["Linux", "FreeBSD"]:
            core.system_libs = ["pthread"]

        testing = self.cpp_info.components["testing"]
        testing.set_property("cmake_target_name", "wagroups::testing")
        testing.set_property("pkg_config_name", "wagroups-testing")
        testing.requires = ["wagroups"]
        # Header-only (FakeTransport); the headers live in the package's include/ like the rest.
        testing.libdirs = []
        testing.bindirs = []
