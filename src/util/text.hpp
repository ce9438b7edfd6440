#pragma once

// Small text helpers shared across the library's parts.

#include <cstddef>
#include <string>
#include <string_view>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace text {

/// Hex digit values by byte, `kNotHexDigit` for a byte that is not one. A table, not comparisons:
/// the digits of a MAC and of `\uXXXX` escapes are unpredictable to branches, and per-digit
/// branches cost a measurable part of a small body's check (tests/bench/webhook_throughput.cpp).
struct HexDigitTable {
  unsigned char value[256];
};
constexpr unsigned char kNotHexDigit = 0x80;
constexpr HexDigitTable make_hex_digit_table() noexcept {
  HexDigitTable t{};
  for (int c = 0; c < 256; ++c) {
    unsigned char v = kNotHexDigit;
    if (c >= '0' && c <= '9') v = static_cast<unsigned char>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<unsigned char>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = static_cast<unsigned char>(c - 'A' + 10);
    t.value[c] = v;
  }
  return t;
}
inline constexpr HexDigitTable kHexDigitValues = make_hex_digit_table();

/// `s` without leading and trailing spaces, tabs, CR and LF.
inline std::string_view trim_ascii(std::string_view s) noexcept {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

/// ASCII case-insensitive equality (HTTP header names).
inline bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// True when `s` is empty or only ASCII whitespace (an answer without a body).
inline bool is_blank(std::string_view s) noexcept { return trim_ascii(s).empty(); }

/// Replaces every occurrence of `secret` in `text` with "[redacted]". Secrets shorter than four
/// characters are left alone: replacing them would garble text and hide nothing.
inline void redact(std::string& text, std::string_view secret) {
  if (secret.size() < 4) return;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "[redacted]");
}

/// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF, no truncated sequence) that starts at `s[i]`, with its code point in
/// `code`; 0 when the byte at `i` does not start one. `i` must be < `s.size()`.
inline std::size_t utf8_sequence_at(std::string_view s, std::size_t i, unsigned& code) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned lead = byte(i);
  if (lead < 0x80) {
    code = lead;
    return 1;
  }
  std::size_t length = 0;
  unsigned min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1Fu;
    min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0Fu;
    min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07u;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < length) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0u) != 0x80u) return 0;
    code = (code << 6) | (byte(i + k) & 0x3Fu);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

/// The byte offset of the first byte of `s` that does not start a well-formed UTF-8 sequence, or
/// npos when all of `s` is UTF-8. A NUL is a character like any other.
inline std::size_t invalid_utf8_at(std::string_view s) noexcept {
  unsigned code = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t length = utf8_sequence_at(s, i, code);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

inline bool is_valid_utf8(std::string_view s) noexcept { return invalid_utf8_at(s) == std::string_view::npos; }

/// `s` with every byte that does not belong to a well-formed UTF-8 sequence replaced by U+FFFD
/// (one replacement character per offending byte); valid text comes back unchanged.
inline std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (;;) {
    const std::size_t bad = invalid_utf8_at(s);
    if (bad == std::string_view::npos) {
      out.append(s);
      return out;
    }
    out.append(s.substr(0, bad));
    out.append("\xEF\xBF\xBD");
    s.remove_prefix(bad + 1);
  }
}

/// At most `max_bytes` of `body` for an error message, printable ASCII only, with every occurrence
/// of `secret` removed from the whole body first (so that no part of one survives the cut).
inline std::string excerpt(std::string_view body, std::string_view secret = {}, std::size_t max_bytes = 200) {
  std::string scrubbed(body);
  redact(scrubbed, secret);
  std::string out;
  out.reserve(max_bytes + 3);
  for (char c : std::string_view(scrubbed).substr(0, max_bytes)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (scrubbed.size() > max_bytes) out += "...";
  return out;
}

}  // namespace text
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
