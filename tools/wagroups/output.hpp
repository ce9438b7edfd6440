#pragma once

// Output shared by every `wagroups` command: exit codes, one-line errors on stderr, and a small
// JSON writer for JSON Lines on stdout. The CLI is host code, so it uses only wagroups' public
// headers; a few dozen lines of escaping are cheaper than a JSON library dependency.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <wagroups/graph_codes.hpp>
#include <wagroups/result.hpp>
#include <wagroups/models/common.hpp>

namespace wagroups_cli {

/// Process exit codes, documented in the README ("Command line").
enum ExitCode : int {
  exit_ok = 0,
  exit_failure = 1,       // I/O error (unreadable file or stdin) or anything unexpected
  exit_usage = 2,         // bad command line
  exit_refused = 3,       // signature (or secret) did not check out
  exit_malformed = 4,     // body is not an acceptable webhook (not JSON, wrong envelope, over a limit)
  exit_api = 5,           // the Graph API (or the sandbox) answered with an error, or a batch only
                          // partly succeeded (participants remove, join-requests approve/reject, send)
  exit_rate_limited = 6,  // throttled (131208, HTTP 429, ...): try again later
  exit_transport = 7,     // the API could not be reached (connect, TLS, timeout)
  exit_invalid = 8,       // refused before sending: an invalid argument, or a type groups do not support
  exit_storage = 9,       // the ticket store (SQLite) failed
  exit_not_found = 10,    // no such ticket or group in local data
};

/// The exit code for an SDK error (see `ExitCode`).
int exit_code_for(const wagroups::Error& error);

/// Prints "wagroups: <what>: <the error, with a hint for the Groups codes>" on stderr and returns
/// `exit_code_for(error)`. Errors never carry the access token or the app secret.
int report_error(std::string_view what, const wagroups::Error& error);

/// The error as a JSON object: {"kind", "message", "graph_code"?, "http_status"?, "field"?, ...}.
class JsonWriter;
void write_error_json(JsonWriter& w, const wagroups::Error& error);

/// Progress on long runs, one line each on stderr (never on stdout, which stays machine-readable).
void print_progress(std::string_view message);

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

/// `text` made safe for a terminal and for one line: C0 controls and DEL, and C1 controls
/// (U+0080-U+009F, some terminals obey them as ESC sequences), become escapes (\n, \t, \r, or
/// \u001b style); a byte that is not UTF-8 becomes U+FFFD. Everything else, backslashes
/// included, is kept. The escapes are valid inside JSON strings, and JSON text has no raw controls
/// outside them, so JSON lines stay valid JSON.
std::string terminal_safe(std::string_view text);

/// Writes `terminal_safe(line)` and a newline to stdout and flushes, so a reader sees whole lines
/// at once. Every human-readable printer goes through it (or print_error/print_progress, which
/// also apply terminal_safe): participant text, names, subjects and Meta's error texts.
void write_line(const std::string& line);

/// Unix seconds as "2026-01-05 09:00:00Z" (UTC).
std::string format_time(std::int64_t unix_seconds);
/// Unix seconds as "09:00:00" (UTC), for timelines.
std::string format_clock(std::int64_t unix_seconds);

/// Per-item errors as a JSON array member "errors" (nothing when empty).
void write_item_errors(JsonWriter& w, const std::vector<wagroups::ItemError>& errors);
/// "131212 Not a participant: detail; ..." for humans.
std::string describe_item_errors(const std::vector<wagroups::ItemError>& errors);
/// A participant's identity members (wa_id, user_id, parent_user_id, username, input).
void write_participant_members(JsonWriter& w, const wagroups::Participant& p);
/// "15550123001 (US.1001, @ana)" for humans.
std::string describe_participant(const wagroups::Participant& p);

}  // namespace wagroups_cli
