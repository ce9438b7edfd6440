#pragma once

// Lenient readers and a thin writer over RapidJSON. Meta's payloads drift: numbers arrive as
// strings and strings as numbers, so every reader accepts both and never asserts on a wrong type.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace wagroups {
namespace json {

using Value = rapidjson::Value;
using Document = rapidjson::Document;

/// Parses `text` strictly (UTF-8 validated, iterative so nesting cannot exhaust the stack).
/// On failure returns false and fills `error` with the offset and RapidJSON's reason.
bool parse(std::string_view text, Document& doc, std::string& error);

/// The member `key` of `obj`, or null when `obj` is not an object or has no such member.
const Value* member(const Value& obj, const char* key) noexcept;

/// A string, or a number/bool rendered as text (ids sometimes arrive as bare numbers).
std::optional<std::string> get_string(const Value& obj, const char* key);
std::optional<std::string> as_string(const Value& v);
/// An integer from a number or a decimal string ("1750269342").
std::optional<std::int64_t> get_int64(const Value& obj, const char* key) noexcept;
std::optional<std::int64_t> as_int64(const Value& v) noexcept;
/// A bool from true/false, "true"/"false" or 0/1.
std::optional<bool> get_bool(const Value& obj, const char* key) noexcept;
std::optional<bool> as_bool(const Value& v) noexcept;
/// The array member `key`, or null when absent or not an array.
const Value* get_array(const Value& obj, const char* key) noexcept;
/// The object member `key`, or null when absent or not an object.
const Value* get_object(const Value& obj, const char* key) noexcept;

/// Builds compact JSON with the RapidJSON SAX writer.
class Writer {
 public:
  Writer() : writer_(buffer_) {}
  Writer& begin_object() { writer_.StartObject(); return *this; }
  Writer& end_object() { writer_.EndObject(); return *this; }
  Writer& begin_array() { writer_.StartArray(); return *this; }
  Writer& end_array() { writer_.EndArray(); return *this; }
  Writer& key(std::string_view k) {
    writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    return *this;
  }
  Writer& string(std::string_view s) {
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return *this;
  }
  Writer& integer(std::int64_t v) { writer_.Int64(v); return *this; }
  Writer& boolean(bool v) { writer_.Bool(v); return *this; }
  Writer& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  Writer& field(std::string_view k, const char* v) { return key(k).string(v); }
  Writer& field(std::string_view k, std::int64_t v) { return key(k).integer(v); }
  Writer& field(std::string_view k, int v) { return key(k).integer(v); }
  Writer& field(std::string_view k, bool v) { return key(k).boolean(v); }
  template <typename T>
  Writer& optional_field(std::string_view k, const std::optional<T>& v) {
    if (v) field(k, *v);
    return *this;
  }
  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace json
}  // namespace wagroups
