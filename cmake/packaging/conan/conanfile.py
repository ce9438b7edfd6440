import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.1"


class WagroupsConan(ConanFile):
    """Builds wagroups from this repository's working tree (see cmake/packaging/README.md).

    The sources are exported from the repository root, three levels above this file, so
    `conan create cmake/packaging/conan` packages exactly what is checked out.

    Every optional component is an option, passed to CMake explicitly (nothing is auto-detected):

      option               CMake option                   target                    requirement
      with_sqlite          WAGROUPS_WITH_SQLITE           wagroups::sqlite          sqlite3
      with_postgres        WAGROUPS_WITH_POSTGRES         wagroups::postgres        libpq
      with_sandbox         WAGROUPS_WITH_SANDBOX          wagroups::sandbox         -
      with_sandbox_server  WAGROUPS_WITH_SANDBOX_SERVER   wagroups::sandbox_server  cpp-httplib (+ sandbox)
      with_testing         WAGROUPS_WITH_TESTING          wagroups::testing         - (header-only)

    CMake consumers get the project's own wagroupsConfig.cmake (kept in lib/cmake/wagroups,
    `cmake_find_mode` none): `find_package(wagroups CONFIG REQUIRED COMPONENTS ...)` then behaves
    exactly as with a plain `cmake --install`, including the error naming a component that was not
    built. The components declared in package_info() describe the same libraries to Conan's other
    generators (PkgConfigDeps, ...) and to Conan's own link model.
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
        "with_sqlite": [True, False],
        "with_postgres": [True, False],
        "with_sandbox": [True, False],
        "with_sandbox_server": [True, False],
        "with_testing": [True, False],
    }
    # The CMake defaults of a non-top-level build: the dependency-free parts on, the parts that
    # need SQLite, libpq or cpp-httplib off. (vcpkg's port has no default features instead: its features
    # are additive across a graph, Conan's options are not; see cmake/packaging/README.md.)
    default_options = {
        "shared": False,
        "fPIC": True,
        "with_sqlite": False,
        "with_postgres": False,
        "with_sandbox": True,
        "with_sandbox_server": False,
        "with_testing": True,
    }
    # Removes fPIC on Windows and when shared (config_options/configure need no code).
    implements = ["auto_shared_fpic"]

    # option -> CMake option; lint.py checks that every WAGROUPS_WITH_* of CMakeLists.txt is here.
    _cmake_options = {
        "with_sqlite": "WAGROUPS_WITH_SQLITE",
        "with_postgres": "WAGROUPS_WITH_POSTGRES",
        "with_sandbox": "WAGROUPS_WITH_SANDBOX",
        "with_sandbox_server": "WAGROUPS_WITH_SANDBOX_SERVER",
        "with_testing": "WAGROUPS_WITH_TESTING",
    }

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
        # Only what the library build needs: tests, tools, examples and benchmarks are switched off
        # below, and the packaging files (this recipe, test_package build trees) stay out.
        for pattern in ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*"):
            copy(self, pattern, src=self._project_root, dst=self.export_sources_folder,
                 excludes=("cmake/packaging/*",))

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Used only inside the library: none of their headers appears in include/wagroups.
        self.requires("libcurl/[>=7.80.0 <9]")
        self.requires("openssl/[>=1.1 <4]")
        # Header-only and private; must never reach a consumer's include path.
        self.requires("rapidjson/[>=cci.20220822]", transitive_headers=False)
        if self.options.with_sqlite:
            self.requires("sqlite3/[>=3.35 <4]")
        if self.options.with_postgres:
            # conan-center's libpq: CMake package PostgreSQL, target PostgreSQL::PostgreSQL (its
            # component `pq`), the same names wagroups finds on Debian through FindPostgreSQL.
            self.requires("libpq/[>=14 <18]")
        if self.options.with_sandbox_server:
            self.requires("cpp-httplib/[>=0.11 <1]")

    def validate(self):
        check_min_cppstd(self, 17)
        if self.options.with_sandbox_server and not self.options.with_sandbox:
            raise ConanInvalidConfiguration(
                "wagroups: with_sandbox_server serves the simulator: it needs with_sandbox=True")

    def generate(self):
        tc = CMakeToolchain(self)
        for option, cmake_option in self._cmake_options.items():
            tc.cache_variables[cmake_option] = bool(self.options.get_safe(option))
        tc.cache_variables["WAGROUPS_BUILD_TOOLS"] = False
        tc.cache_variables["WAGROUPS_BUILD_TESTS"] = False
        tc.cache_variables["WAGROUPS_BUILD_EXAMPLES"] = False
        tc.cache_variables["WAGROUPS_BUILD_BENCHMARKS"] = False
        tc.cache_variables["WAGROUPS_BUILD_FUZZERS"] = False
        tc.cache_variables["WAGROUPS_BUILD_DOCS"] = False
        tc.cache_variables["WAGROUPS_INSTALL"] = True
        tc.cache_variables["WAGROUPS_WARNINGS_AS_ERRORS"] = False
        tc.cache_variables["WAGROUPS_SANITIZE"] = False
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
        # The project's own CMake package stays (see package_info); the pkg-config files go, since
        # PkgConfigDeps writes the same modules (wagroups, wagroups-sqlite, ...) from the
        # components below, pointing at Conan's dependencies rather than the system's.
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        # CMake: the installed wagroupsConfig.cmake, found through `builddirs`; CMakeDeps writes no
        # config of its own for wagroups (it would not know which components were built, nor
        # report a missing one by name). CMakeDeps still writes the configs of the dependencies
        # (CURL, OpenSSL, SQLite3, PostgreSQL, httplib), which wagroupsConfig.cmake's
        # find_dependency() loads for a static build.
        # With components, Conan reads builddirs from the components (the root's are ignored):
        # set on `core`, which every other component requires.
        self.cpp_info.set_property("cmake_find_mode", "none")
        # The aggregate (every component); its pkg-config name must not collide with the core's.
        self.cpp_info.set_property("pkg_config_name", "wagroups-all-do-not-use")

        system_libs = ["pthread"] if self.settings.os in ["Linux", "FreeBSD"] else []
        defines = ["WAGROUPS_SHARED"] if self.options.shared else []

        core = self.cpp_info.components["core"]
        core.set_property("cmake_target_name", "wagroups::wagroups")
        core.set_property("pkg_config_name", "wagroups")
        core.libs = ["wagroups"]
        core.defines = list(defines)
        core.system_libs = list(system_libs)
        core.requires = ["libcurl::libcurl", "openssl::crypto", "rapidjson::rapidjson"]
        core.builddirs = [os.path.join("lib", "cmake", "wagroups")]

        if self.options.with_testing:
            testing = self.cpp_info.components["testing"]
            testing.set_property("cmake_target_name", "wagroups::testing")
            testing.set_property("pkg_config_name", "wagroups-testing")
            testing.requires = ["core"]
            # Header-only (FakeTransport); its headers live in the package's include/.
            testing.libdirs = []
            testing.bindirs = []

        if self.options.with_sandbox:
            sandbox = self.cpp_info.components["sandbox"]
            sandbox.set_property("cmake_target_name", "wagroups::sandbox")
            sandbox.set_property("pkg_config_name", "wagroups-sandbox")
            sandbox.libs = ["wagroups_sandbox"]
            sandbox.defines = list(defines)
            sandbox.system_libs = list(system_libs)
            sandbox.requires = ["core", "openssl::crypto"]  # the simulator hashes pictures itself

        if self.options.with_sandbox_server:
            server = self.cpp_info.components["sandbox_server"]
            server.set_property("cmake_target_name", "wagroups::sandbox_server")
            server.set_property("pkg_config_name", "wagroups-sandbox-server")
            server.libs = ["wagroups_sandbox_server"]
            server.defines = list(defines)
            server.system_libs = list(system_libs)
            server.requires = ["sandbox", "cpp-httplib::cpp-httplib"]

        if self.options.with_sqlite:
            sqlite = self.cpp_info.components["sqlite"]
            sqlite.set_property("cmake_target_name", "wagroups::sqlite")
            sqlite.set_property("pkg_config_name", "wagroups-sqlite")
            sqlite.libs = ["wagroups_sqlite"]
            sqlite.defines = list(defines)
            sqlite.requires = ["core", "sqlite3::sqlite3"]

        if self.options.with_postgres:
            postgres = self.cpp_info.components["postgres"]
            postgres.set_property("cmake_target_name", "wagroups::postgres")
            postgres.set_property("pkg_config_name", "wagroups-postgres")
            postgres.libs = ["wagroups_postgres"]
            postgres.defines = list(defines)
            postgres.requires = ["core", "libpq::pq"]
