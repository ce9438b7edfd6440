#include "output.hpp"

#include <cstdio>
#include <iostream>

namespace wagroups_cli {

void print_error(std::string_view message) {
  std::cout.flush();  // keep stdout and stderr in order when both go to one terminal
  std::cerr << "wagroups: " << message << '\n';
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
        if (byte < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
          out_ += escaped;
        } else {
          // The parser validated the body as UTF-8, so multi-byte sequences pass through whole.
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
  out_ += json_text;
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

void write_line(const std::string& line) {
  std::cout << line << '\n';
  std::cout.flush();
}

}  // namespace wagroups_cli
