#include "output.hpp"

#include <cstdio>
#include <ctime>
#include <iostream>

#include "store_spec.hpp"
#include "util/text.hpp"

namespace wagroups_cli {

namespace {

void append_u00(std::string& out, unsigned code) {
  char escaped[8];
  std::snprintf(escaped, sizeof escaped, "\\u%04x", code);
  out += escaped;
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) {
      switch (byte) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default: append_u00(out, byte);
      }
      ++i;
    } else if (byte < 0x80) {
      out += text[i++];
    } else {
      unsigned code = 0;
      const std::size_t length = wagroups::text::utf8_sequence_at(text, i, code);
      if (length == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD for a byte that is not UTF-8
        ++i;
      } else if (code <= 0x9f) {
        append_u00(out, code);  // a C1 control (U+0080-U+009F): some terminals obey them
        i += length;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
    }
  }
  return out;
}

void print_error(std::string_view message) {
  std::cout.flush();  // keep stdout and stderr in order when both go to one terminal
  // A store URI's password never reaches stderr, whoever built the message (store_spec.hpp).
  std::cerr << "wagroups: " << terminal_safe(masked_store_uris(message)) << '\n';
  std::cerr.flush();
}

int exit_code_for(const wagroups::Error& error) {
  using wagroups::ErrorCode;
  switch (error.code) {
    case ErrorCode::invalid_argument:
    case ErrorCode::unsupported: return exit_invalid;
    case ErrorCode::transport: return exit_transport;
    case ErrorCode::graph_api: return error.is_rate_limited() ? exit_rate_limited : exit_api;
    case ErrorCode::decode: return exit_api;  // the API answered something unreadable
    case ErrorCode::unauthenticated: return exit_refused;
    case ErrorCode::conflict:
    case ErrorCode::storage: return exit_storage;
  }
  return exit_failure;
}

namespace {

// What a Groups code means for someone at a terminal; empty when the Graph message says enough.
std::string hint_for(const wagroups::Error& error) {
  namespace codes = wagroups::graph_codes;
  switch (error.graph_code()) {
    case codes::not_eligible:
      return "this phone number is not eligible for groups (131215: an Official Business Account number is needed)";
    case codes::group_rate_limit: return "too many group operations from this number (131208)";
    case codes::participant_overlimit: return "the group is full (131204: 8 participants, the business included)";
    case codes::group_create_limit: return "this number has reached its limit of active groups (131211)";
    case codes::bad_group: return "nobody has joined the group yet, so the business cannot message it (131020)";
    case codes::group_unknown: return "no such group, or it was deleted (131041)";
    case codes::group_suspended: return "the group is suspended (131207)";
    case codes::participant_not_in_group: return "not a member of the group (131212)";
    case codes::join_request_not_found: return "no such pending join request (131213)";
    case codes::unsupported_group_message: return "this message type is not supported in groups (130501)";
    case 190: return "the access token was refused (190)";
    default: break;
  }
  if (error.code == wagroups::ErrorCode::unsupported) return "not supported in groups";
  if (error.code == wagroups::ErrorCode::invalid_argument) return "refused before sending";
  return {};
}

}  // namespace

int report_error(std::string_view what, const wagroups::Error& error) {
  std::string line(what);
  line += " failed: ";
  const std::string hint = hint_for(error);
  if (!hint.empty()) line += hint + "; ";
  line += error.to_string();
  if (error.retry_after) {
    const auto seconds = (error.retry_after->count() + 999) / 1000;
    line += " (retry after " + std::to_string(seconds) + " s)";
  }
  print_error(line);
  return exit_code_for(error);
}

void print_progress(std::string_view message) {
  std::cout.flush();
  std::cerr << "wagroups: " << terminal_safe(masked_store_uris(message)) << '\n';
  std::cerr.flush();
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_ += '[';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  string(name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view value) {
  before_value();
  out_ += '"';
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          append_u00(out_, byte);
        } else {
          // Multi-byte sequences pass through whole; write_line escapes C1 controls and bytes
          // that are not UTF-8 (both JSON-safe) on their way to the terminal.
          out_ += c;
        }
    }
  }
  out_ += '"';
  return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) {
  before_value();
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json_text) {
  before_value();
  // Whitespace between tokens (a pretty-printed webhook value) would split the line, and
  // write_line would turn it into escapes that are not JSON outside strings: it is dropped.
  bool in_string = false;
  bool escaped = false;
  for (const char c : json_text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    out_ += c;
  }
  return *this;
}

JsonWriter& JsonWriter::member(std::string_view name, const std::optional<std::string>& value) {
  if (value) key(name).string(*value);
  return *this;
}

JsonWriter& JsonWriter::member(std::string_view name, const std::optional<std::int64_t>& value) {
  if (value) key(name).number(*value);
  return *this;
}

JsonWriter& JsonWriter::member(std::string_view name, const std::optional<bool>& value) {
  if (value) key(name).boolean(*value);
  return *this;
}

JsonWriter& JsonWriter::member(std::string_view name, const std::vector<std::string>& values) {
  if (values.empty()) return *this;
  key(name).begin_array();
  for (const auto& value : values) string(value);
  return end_array();
}

void write_error_json(JsonWriter& w, const wagroups::Error& error) {
  w.begin_object();
  w.member("kind", wagroups::to_string(error.code)).member("message", error.message);
  if (error.graph) {
    w.key("graph_code").number(error.graph->code);
    if (error.graph->error_subcode) w.key("graph_subcode").number(*error.graph->error_subcode);
  }
  if (error.http_status != 0) w.key("http_status").number(error.http_status);
  if (!error.field.empty()) w.member("field", error.field);
  if (!error.limit.empty()) w.member("limit", error.limit);
  if (error.retry_after) w.key("retry_after_ms").number(static_cast<std::int64_t>(error.retry_after->count()));
  w.key("exit_code").number(exit_code_for(error));
  w.end_object();
}

void write_line(const std::string& line) {
  std::cout << terminal_safe(line) << '\n';
  std::cout.flush();
}

}  // namespace wagroups_cli

namespace wagroups_cli {

std::string format_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buffer;
}

std::string format_clock(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", &tm);
  return buffer;
}

void write_item_errors(JsonWriter& w, const std::vector<wagroups::ItemError>& errors) {
  if (errors.empty()) return;
  w.key("errors").begin_array();
  for (const auto& e : errors) {
    w.begin_object().key("code").number(e.code);
    w.member("title", e.title).member("message", e.message).member("details", e.details);
    w.end_object();
  }
  w.end_array();
}

std::string describe_item_errors(const std::vector<wagroups::ItemError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += std::to_string(e.code);
    if (e.title) out += " " + *e.title;
    if (e.details && e.details != e.title) out += ": " + *e.details;
    else if (!e.details && e.message && e.message != e.title) out += ": " + *e.message;
  }
  return out;
}

void write_participant_members(JsonWriter& w, const wagroups::Participant& p) {
  w.member("wa_id", p.wa_id).member("user_id", p.user_id).member("parent_user_id", p.parent_user_id);
  w.member("username", p.username).member("input", p.input);
}

std::string describe_participant(const wagroups::Participant& p) {
  std::string main = p.wa_id ? *p.wa_id : p.user_id ? *p.user_id : p.input.value_or("?");
  std::string extra;
  if (p.wa_id && p.user_id) extra = *p.user_id;
  if (p.username) extra += (extra.empty() ? "@" : ", @") + *p.username;
  return extra.empty() ? main : main + " (" + extra + ")";
}

}  // namespace wagroups_cli
