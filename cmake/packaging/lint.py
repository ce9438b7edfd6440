#!/usr/bin/env python3
"""Static checks of the vcpkg port and the Conan recipe, for CI machines without vcpkg or Conan.

    python3 cmake/packaging/lint.py

Checks (stdlib only):
  - conan/conanfile.py and conan/test_package/conanfile.py compile;
  - vcpkg/wagroups/vcpkg.json is valid JSON with name, version(-semver), description, homepage,
    license, dependencies (vcpkg-cmake and vcpkg-cmake-config as host dependencies), its version
    equals project(VERSION) of the top-level CMakeLists.txt, and no default feature (vcpkg's rule:
    default features must not add APIs);
  - every feature of vcpkg.json is mapped to a WAGROUPS_WITH_* option in portfile.cmake's
    vcpkg_check_features(), and every mapped feature exists;
  - every WAGROUPS_WITH_* option of the top-level CMakeLists.txt appears in portfile.cmake and in
    conanfile.py, and every WAGROUPS_BUILD_* option is switched off in both;
  - the vcpkg usage template exists.
Prints "packaging lint: OK" and exits 0, or names every problem and exits 1.
"""

import json
import os
import py_compile
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CONANFILE = os.path.join(HERE, "conan", "conanfile.py")
TEST_CONANFILE = os.path.join(HERE, "conan", "test_package", "conanfile.py")
PORT_DIR = os.path.join(HERE, "vcpkg", "wagroups")
VCPKG_JSON = os.path.join(PORT_DIR, "vcpkg.json")
PORTFILE = os.path.join(PORT_DIR, "portfile.cmake")
USAGE = os.path.join(PORT_DIR, "usage")
CMAKELISTS = os.path.join(ROOT, "CMakeLists.txt")

problems = []


def problem(where, what):
    problems.append("%s: %s" % (os.path.relpath(where, ROOT), what))


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        problem(path, "cannot read (%s)" % e.strerror)
        return None


def strip_cmake_comments(text):
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def check_python(path):
    if read(path) is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            py_compile.compile(path, cfile=os.path.join(tmp, "out.pyc"), doraise=True)
        except py_compile.PyCompileError as e:
            problem(path, "does not compile: %s" % e.msg.strip())


def cmake_options(cmakelists):
    # option(NAME "doc" default) at the start of a line
    return re.findall(r"^\s*option\(\s*(WAGROUPS_[A-Z0-9_]+)", cmakelists, re.MULTILINE)


def project_version(cmakelists):
    m = re.search(r"project\(\s*wagroups\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", cmakelists)
    return m.group(1) if m else None


def check_vcpkg_json(version):
    text = read(VCPKG_JSON)
    if text is None:
        return {}
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as e:
        problem(VCPKG_JSON, "invalid JSON: %s" % e)
        return None
    if not isinstance(manifest, dict):
        problem(VCPKG_JSON, "the top level must be an object")
        return {}
    for key in ("name", "description", "homepage", "license", "dependencies"):
        if not manifest.get(key):
            problem(VCPKG_JSON, "missing or empty \"%s\"" % key)
    if manifest.get("name") not in (None, "wagroups"):
        problem(VCPKG_JSON, "\"name\" is %r, expected \"wagroups\"" % manifest.get("name"))
    schemes = [k for k in ("version-semver", "version", "version-string", "version-date") if k in manifest]
    if not any(k in manifest for k in ("version-semver", "version")):
        problem(VCPKG_JSON, "missing \"version-semver\" (or \"version\")")
    elif len(schemes) > 1:
        problem(VCPKG_JSON, "more than one version field: %s" % ", ".join(schemes))
    else:
        declared = manifest.get("version-semver", manifest.get("version"))
        if version and declared != version:
            problem(VCPKG_JSON, "version %s differs from project(VERSION %s) in CMakeLists.txt" % (declared, version))
    deps = manifest.get("dependencies") or []
    by_name = {}
    for dep in deps:
        if isinstance(dep, str):
            by_name[dep] = {"name": dep}
        elif isinstance(dep, dict) and "name" in dep:
            by_name[dep["name"]] = dep
        else:
            problem(VCPKG_JSON, "malformed dependency %r" % (dep,))
    for helper in ("vcpkg-cmake", "vcpkg-cmake-config"):
        if helper not in by_name:
            problem(VCPKG_JSON, "missing dependency \"%s\" (as \"host\": true)" % helper)
        elif by_name[helper].get("host") is not True:
            problem(VCPKG_JSON, "dependency \"%s\" must be \"host\": true" % helper)
    features = manifest.get("features") or {}
    if not isinstance(features, dict):
        problem(VCPKG_JSON, "\"features\" must be an object")
        features = {}
    for name, body in features.items():
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
            problem(VCPKG_JSON, "feature name %r: lowercase letters, digits and dashes only" % name)
        if not isinstance(body, dict) or not body.get("description"):
            problem(VCPKG_JSON, "feature %r has no description" % name)
    defaults = manifest.get("default-features") or []
    if defaults:
        problem(VCPKG_JSON, "default features %s: a default feature must not add an API (see README.md)" % defaults)
    return features


def portfile_feature_map(portfile):
    """FEATURES pairs of vcpkg_check_features(): {feature: WAGROUPS_WITH_*}."""
    text = strip_cmake_comments(portfile)
    m = re.search(r"vcpkg_check_features\s*\((.*?)\)", text, re.DOTALL)
    if not m:
        problem(PORTFILE, "no vcpkg_check_features(... FEATURES ...) call")
        return {}
    tokens = m.group(1).split()
    if "FEATURES" not in tokens:
        problem(PORTFILE, "vcpkg_check_features() has no FEATURES section")
        return {}
    tokens = tokens[tokens.index("FEATURES") + 1:]
    for keyword in ("INVERTED_FEATURES",):
        if keyword in tokens:
            tokens = tokens[:tokens.index(keyword)]
    if len(tokens) % 2:
        problem(PORTFILE, "vcpkg_check_features() FEATURES: an odd number of words (%s)" % " ".join(tokens))
    return dict(zip(tokens[0::2], tokens[1::2]))


def main():
    check_python(CONANFILE)
    check_python(TEST_CONANFILE)

    cmakelists = read(CMAKELISTS) or ""
    options = cmake_options(cmakelists)
    with_options = [o for o in options if o.startswith("WAGROUPS_WITH_")]
    build_options = [o for o in options if o.startswith("WAGROUPS_BUILD_") and o != "WAGROUPS_BUILD_DOCS"]
    if cmakelists and not with_options:
        problem(CMAKELISTS, "no option(WAGROUPS_WITH_...) found: has the option syntax changed?")
    version = project_version(cmakelists)
    if cmakelists and not version:
        problem(CMAKELISTS, "no project(wagroups VERSION x.y.z) found")

    features = check_vcpkg_json(version)
    portfile = read(PORTFILE) or ""
    conanfile = read(CONANFILE) or ""
    if read(USAGE) is None:
        pass  # reported by read()
    elif "usage" not in portfile:
        problem(PORTFILE, "does not install the usage file")

    feature_map = portfile_feature_map(portfile) if portfile else {}
    if features is None:  # vcpkg.json unreadable: its features cannot be compared
        features = dict.fromkeys(feature_map)
    for feature in features:
        if feature not in feature_map:
            problem(PORTFILE, "feature \"%s\" of vcpkg.json has no WAGROUPS_WITH_* mapping in vcpkg_check_features()" % feature)
        elif not feature_map[feature].startswith("WAGROUPS_WITH_"):
            problem(PORTFILE, "feature \"%s\" maps to %s, not a WAGROUPS_WITH_* option" % (feature, feature_map[feature]))
    for feature, option in feature_map.items():
        if feature not in features:
            problem(PORTFILE, "vcpkg_check_features() names feature \"%s\", which vcpkg.json does not declare" % feature)
        if options and option not in options:
            problem(PORTFILE, "vcpkg_check_features() maps \"%s\" to %s, which CMakeLists.txt does not define" % (feature, option))

    portfile_code = strip_cmake_comments(portfile)
    for option in with_options:
        if portfile and not re.search(r"\b%s\b" % option, portfile_code):
            problem(PORTFILE, "%s (an option of CMakeLists.txt) is not set" % option)
        # As a quoted string (the option -> CMake option table), not merely in a comment.
        if conanfile and not re.search(r"[\"']%s[\"']" % option, conanfile):
            problem(CONANFILE, "%s (an option of CMakeLists.txt) is not set" % option)
    for option in build_options:
        if portfile and not re.search(r"-D%s=OFF\b" % option, portfile_code):
            problem(PORTFILE, "%s is not switched off (-D%s=OFF)" % (option, option))
        if conanfile and not re.search(r"\[\"%s\"\]\s*=\s*False" % option, conanfile):
            problem(CONANFILE, "%s is not switched off (cache_variables[\"%s\"] = False)" % (option, option))

    if problems:
        for p in problems:
            print("packaging lint: " + p, file=sys.stderr)
        print("packaging lint: %d problem(s)" % len(problems), file=sys.stderr)
        return 1
    print("packaging lint: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
