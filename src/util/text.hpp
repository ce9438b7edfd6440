#pragma once

// Small text helpers shared across the library's parts.

#include <string>
#include <string_view>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace text {

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
