#pragma once

// Fixture files: test inputs kept as files under tests/data (organised by topic, e.g.
// tests/data/webhooks/lifecycle/*.json), found through WAGROUPS_TEST_DATA_DIR, which the
// wagroups_test_support target defines. No Catch2: a missing file throws, which fails the test.

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#ifndef WAGROUPS_TEST_DATA_DIR
#error "WAGROUPS_TEST_DATA_DIR is not defined: link the wagroups_test_support target"
#endif

namespace wagroups_test {

/// The whole content of the file at `path`, byte for byte; throws std::runtime_error naming the
/// path when it cannot be opened.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The absolute path of tests/data/`relative`.
inline std::string fixture_path(const std::string& relative) {
  return std::string(WAGROUPS_TEST_DATA_DIR) + "/" + relative;
}

/// The content of tests/data/`relative` (e.g. "webhooks/lifecycle/create_ok.json").
inline std::string fixture(const std::string& relative) { return read_file(fixture_path(relative)); }

/// The content of tests/data/`relative` without its final line break: for bodies whose exact bytes
/// matter (signatures, offsets, "no final newline" cases), kept in files that end with one.
inline std::string fixture_without_final_newline(const std::string& relative) {
  std::string text = fixture(relative);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

}  // namespace wagroups_test
