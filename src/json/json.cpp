#include "json/json.hpp"

#include "util/text.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "json/rapidjson.hpp"
#include <rapidjson/error/en.h>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace json {

namespace {
constexpr std::size_t kScratchBytes = 16 * 1024;

struct ThreadScratch {
  alignas(std::max_align_t) char buffer[kScratchBytes];
  rapidjson::MemoryPoolAllocator<> pool{buffer, sizeof buffer};
  bool in_use = false;
};

ThreadScratch& thread_scratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}
}  // namespace

ScratchDocument::ScratchDocument() {
  ThreadScratch& scratch = thread_scratch();
  if (!scratch.in_use) {
    scratch.in_use = true;
    owns_thread_buffer_ = true;
    pool_ = &scratch.pool;
  } else {
    own_pool_.emplace();
    pool_ = &*own_pool_;
  }
  doc_.emplace(pool_);
}

ScratchDocument::~ScratchDocument() {
  doc_.reset();
  if (owns_thread_buffer_) {
    pool_->Clear();  // keeps the user buffer, frees any overflow chunks
    thread_scratch().in_use = false;
  }
}

namespace {
constexpr unsigned kResponseFlags = rapidjson::kParseIterativeFlag;
constexpr unsigned kUntrustedFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

bool report(const Document& doc, std::string& error) {
  if (!doc.HasParseError()) return true;
  error = "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
          rapidjson::GetParseError_En(doc.GetParseError());
  return false;
}

bool hex4(std::string_view s, std::size_t at, unsigned& value) {
  if (at + 4 > s.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    const unsigned digit = text::kHexDigitValues.value[static_cast<unsigned char>(s[i])];
    if (digit & text::kNotHexDigit) return false;
    value = (value << 4) | digit;
  }
  return true;
}

// RapidJSON 1.1.0's encoding check demands a low surrogate after a high one, but lets a "\uDC00"
// with no high surrogate before it through and stores it as the bytes ED B0 80, which are not
// UTF-8: the value would be refused when read back from a store. Run on text RapidJSON accepted,
// where every backslash opens a well-formed escape inside a string. Returns the escape's offset.
std::optional<std::size_t> lone_low_surrogate(std::string_view text) {
  std::size_t i = 0;
  while ((i = text.find('\\', i)) != std::string_view::npos) {
    unsigned unit = 0;
    if (i + 1 >= text.size() || text[i + 1] != 'u' || !hex4(text, i + 2, unit)) {
      i += 2;  // a one-character escape, "\\" included
      continue;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) return i;
    // A high surrogate's partner (which RapidJSON checked) is skipped with it.
    i += unit >= 0xD800 && unit <= 0xDBFF ? 12 : 6;
  }
  return std::nullopt;
}

bool report_untrusted(std::string_view text, const Document& doc, std::string& error) {
  if (!report(doc, error)) return false;
  if (const auto at = lone_low_surrogate(text)) {
    error = "invalid JSON at offset " + std::to_string(*at) + ": a \\u escape of an unpaired UTF-16 surrogate";
    return false;
  }
  return true;
}

// RapidJSON ends a text at a NUL byte, so "[1]\0junk" would pass as [1]; JSON holds no raw NUL.
std::optional<std::string> nul_byte_error(std::string_view text) {
  if (text.empty()) return std::nullopt;  // memchr must not see an empty view's null data()
  const void* nul = std::memchr(text.data(), 0, text.size());
  if (!nul) return std::nullopt;
  return "invalid JSON at offset " + std::to_string(static_cast<const char*>(nul) - text.data()) +
         ": NUL byte in the text";
}
}  // namespace

bool parse(std::string_view text, Document& doc, std::string& error, Input input) {
  if (auto nul = nul_byte_error(text)) {
    error = std::move(*nul);
    return false;
  }
  // RapidJSON 1.1.0's Parse(text, length) skips each of EF, BB and BF at the start on its own (a
  // byte-order mark, it assumes), so "\xBB{}" would pass: JSON never starts with them.
  if (!text.empty()) {
    const auto first = static_cast<unsigned char>(text.front());
    if (first == 0xEF || first == 0xBB || first == 0xBF) {
      error = "invalid JSON at offset 0: a byte-order mark or a stray byte before the value";
      return false;
    }
  }
  if (input == Input::graph_response) {
    doc.Parse<kResponseFlags>(text.data(), text.size());
    return report(doc, error);
  }
  doc.Parse<kUntrustedFlags>(text.data(), text.size());
  return report_untrusted(text, doc, error);
}

SimdPadding::SimdPadding(std::string& text) : text_(text), size_(text.size()) {
  constexpr std::size_t kSimdPadding = 16;
  if (auto nul = nul_byte_error(text)) {
    error_ = std::move(*nul);
    return;
  }
  text.append(kSimdPadding, '\0');
}

SimdPadding::~SimdPadding() { text_.resize(size_); }

bool parse_padded(std::string& text, Document& doc, std::string& error, Input input) {
  const std::size_t size = text.size();
  SimdPadding padding(text);
  if (!padding.ok()) {
    error = padding.error();
    return false;
  }
  if (input == Input::graph_response) {
    doc.Parse<kResponseFlags>(text.c_str());
    return report(doc, error);
  }
  doc.Parse<kUntrustedFlags>(text.c_str());
  return report_untrusted(std::string_view(text.data(), size), doc, error);
}

const Value* member(const Value& obj, const char* key) noexcept {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> as_string(const Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsDouble()) {
    double d = v.GetDouble();
    // Integral doubles (1e15 style phone numbers) print without an exponent or fraction.
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e18)
      return std::to_string(static_cast<std::int64_t>(d));
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);  // shortest round-trip form
    if (ec != std::errc()) return std::nullopt;
    return std::string(buffer, end);
  }
  if (v.IsBool()) return std::string(v.GetBool() ? "true" : "false");
  return std::nullopt;
}

std::optional<std::string> get_string(const Value& obj, const char* key) {
  const Value* v = member(obj, key);
  return v ? as_string(*v) : std::nullopt;
}

std::optional<std::int64_t> parse_int64(std::string_view s) noexcept {
  // Fast path for what Meta sends (every webhook item's timestamp): up to 18 plain digits, which
  // cannot overflow, so the result is what from_chars would give.
  if (!s.empty() && s.size() <= 18) {
    std::int64_t value = 0;
    std::size_t i = 0;
    for (; i < s.size(); ++i) {
      const auto digit = static_cast<unsigned>(static_cast<unsigned char>(s[i]) - '0');
      if (digit > 9) break;
      value = value * 10 + static_cast<std::int64_t>(digit);
    }
    if (i == s.size()) return value;
  }
  s = text::trim_ascii(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  std::int64_t parsed = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, parsed);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return parsed;
}

std::optional<std::int64_t> as_int64(const Value& v) noexcept {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsUint64()) {
    if (v.GetUint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(v.GetUint64());
  }
  if (v.IsDouble()) {
    double d = v.GetDouble();
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e18) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  if (v.IsString()) return parse_int64(std::string_view(v.GetString(), v.GetStringLength()));
  return std::nullopt;
}

std::optional<std::int64_t> get_int64(const Value& obj, const char* key) noexcept {
  const Value* v = member(obj, key);
  return v ? as_int64(*v) : std::nullopt;
}

std::optional<bool> as_bool(const Value& v) noexcept {
  if (v.IsBool()) return v.GetBool();
  if (v.IsString()) {
    std::string_view s(v.GetString(), v.GetStringLength());
    if (s == "true" || s == "TRUE" || s == "True") return true;
    if (s == "false" || s == "FALSE" || s == "False") return false;
    return std::nullopt;
  }
  if (v.IsInt64()) {
    if (v.GetInt64() == 0) return false;
    if (v.GetInt64() == 1) return true;
  }
  return std::nullopt;
}

std::optional<bool> get_bool(const Value& obj, const char* key) noexcept {
  const Value* v = member(obj, key);
  return v ? as_bool(*v) : std::nullopt;
}

const Value* get_array(const Value& obj, const char* key) noexcept {
  const Value* v = member(obj, key);
  return v && v->IsArray() ? v : nullptr;
}

const Value* get_object(const Value& obj, const char* key) noexcept {
  const Value* v = member(obj, key);
  return v && v->IsObject() ? v : nullptr;
}

}  // namespace json
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
