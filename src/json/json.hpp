#pragma once

// Lenient readers and a thin writer over RapidJSON. Meta's payloads drift: numbers arrive as
// strings and strings as numbers, so every reader accepts both and never asserts on a wrong type.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json/rapidjson.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace json {

using Value = rapidjson::Value;
using Document = rapidjson::Document;

/// A Document whose first 16 KiB of nodes live in a per-thread buffer that is reused from one
/// parse to the next, so decoding a typical Graph answer or webhook allocates nothing for the DOM.
/// A second ScratchDocument alive on the same thread falls back to ordinary heap chunks.
class ScratchDocument {
 public:
  ScratchDocument();
  ~ScratchDocument();
  ScratchDocument(const ScratchDocument&) = delete;
  ScratchDocument& operator=(const ScratchDocument&) = delete;
  Document& get() noexcept { return *doc_; }
  operator Document&() noexcept { return *doc_; }  // NOLINT: reads like a Document at call sites

 private:
  rapidjson::MemoryPoolAllocator<>* pool_ = nullptr;
  bool owns_thread_buffer_ = false;
  std::optional<rapidjson::MemoryPoolAllocator<>> own_pool_;
  std::optional<Document> doc_;
};

/// How much a parse must distrust its input.
enum class Input {
  /// Graph API answers over TLS: iterative (nesting cannot exhaust the stack), UTF-8 not re-checked.
  graph_response,
  /// Webhooks and anything else from outside: UTF-8 validated as well.
  untrusted,
};

/// Parses `text` strictly (no comments, no trailing commas). On failure returns false and fills
/// `error` with the offset and RapidJSON's reason.
bool parse(std::string_view text, Document& doc, std::string& error, Input input = Input::untrusted);

/// Pads `text` with NUL bytes for as long as it lives, so that a SIMD scanner (RapidJSON's SSE2
/// one reads aligned 16-byte blocks past the terminator; off in this build, see rapidjson.hpp)
/// may run over `text.c_str()`; the text itself
/// is unchanged before and after. A NUL byte inside the text is refused, since a parse of the
/// NUL-terminated string would stop there and miss what follows.
class SimdPadding {
 public:
  explicit SimdPadding(std::string& text);
  ~SimdPadding();
  SimdPadding(const SimdPadding&) = delete;
  SimdPadding& operator=(const SimdPadding&) = delete;
  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }

 private:
  std::string& text_;
  std::size_t size_;
  std::string error_;
};

/// `parse`, faster: over the padded NUL-terminated text (SIMD scanning). `text` is left as it was.
bool parse_padded(std::string& text, Document& doc, std::string& error, Input input = Input::untrusted);

/// The member `key` of `obj`, or null when `obj` is not an object or has no such member.
const Value* member(const Value& obj, const char* key) noexcept;

/// A string, or a number/bool rendered as text (ids sometimes arrive as bare numbers).
std::optional<std::string> get_string(const Value& obj, const char* key);
std::optional<std::string> as_string(const Value& v);
/// A decimal integer ("1750269342", surrounding blanks allowed), or unset.
std::optional<std::int64_t> parse_int64(std::string_view text) noexcept;
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
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
