#pragma once

// Output shared by every `wagroups` command: exit codes, one-line errors on stderr, and a small
// JSON writer for JSON Lines on stdout. The CLI is host code, so it uses only wagroups' public
// headers; a few dozen lines of escaping are cheaper than a JSON library dependency.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wagroups_cli {

/// Process exit codes, documented in the README ("Command line").
enum ExitCode : int {
  exit_ok = 0,
  exit_failure = 1,     // I/O error (unreadable file or stdin) or anything unexpected
  exit_usage = 2,       // bad command line
  exit_refused = 3,     // signature (or secret) did not check out
  exit_malformed = 4,   // body is not an acceptable webhook (not JSON, wrong envelope, over a limit)
};

/// Prints "wagroups: <message>" as one line on stderr. Callers never pass secrets.
void print_error(std::string_view message);

/// Builds one compact JSON value. Keys and strings are escaped; `raw` inserts JSON text that is
/// already valid (e.g. a webhook value the SDK kept as `RawJson`).
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view value);
  JsonWriter& number(std::int64_t value);
  JsonWriter& boolean(bool value);
  JsonWriter& raw(std::string_view json_text);

  // Members of the current object; the `optional` forms write nothing when the value is unset, so
  // absent values have no key rather than a null.
  JsonWriter& member(std::string_view name, std::string_view value) { return key(name).string(value); }
  JsonWriter& member(std::string_view name, const std::string& value) { return key(name).string(value); }
  JsonWriter& member(std::string_view name, const char* value) { return key(name).string(value); }
  JsonWriter& member(std::string_view name, const std::optional<std::string>& value);
  JsonWriter& member(std::string_view name, const std::optional<std::int64_t>& value);
  JsonWriter& member(std::string_view name, const std::optional<bool>& value);
  /// An array of strings; nothing when `values` is empty.
  JsonWriter& member(std::string_view name, const std::vector<std::string>& values);

  const std::string& text() const noexcept { return out_; }

 private:
  void before_value();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

/// Writes `line` and a newline to stdout and flushes, so a reader sees whole lines at once.
void write_line(const std::string& line);

}  // namespace wagroups_cli
