import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class WagroupsTestPackageConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    test_type = "explicit"

    # recipe option -> find_package() component
    _components = {
        "with_sqlite": "sqlite",
        "with_postgres": "postgres",
        "with_sandbox": "sandbox",
        "with_sandbox_server": "sandbox_server",
        "with_testing": "testing",
    }

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        options = self.dependencies["wagroups"].options
        components = [comp for option, comp in self._components.items() if options.get_safe(option)]
        tc = CMakeToolchain(self)
        # Every component the package was built with is REQUIRED by find_package() and linked.
        tc.cache_variables["WAGROUPS_TP_COMPONENTS"] = ";".join(components)
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            # Exits non-zero (and Conan fails) unless every check in the program holds.
            bin_path = os.path.join(self.cpp.build.bindir, "test_package")
            self.run(bin_path, env="conanrun")
