#pragma once
// Shared by the libFuzzer targets in this folder: the invariant check that makes libFuzzer report
// a broken invariant as a crash (with the input saved), and a small reader that splits one fuzz
// input into the pieces a target needs.
//
// Choices: `require` traps (SIGILL, "deadly signal") rather than throwing or returning, so the
// failure cannot be swallowed by code under test and the input is written as crash-*; it also
// prints the invariant first, so a report in CI logs says what broke, not only where.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/text.hpp"

namespace wagroups_fuzz {

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "\nwagroups fuzz invariant broken at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  __builtin_trap();
}

#define WAGROUPS_FUZZ_REQUIRE(condition) \
  ((condition) ? static_cast<void>(0) : ::wagroups_fuzz::fail(#condition, __FILE__, __LINE__))

inline bool utf8(std::string_view s) noexcept { return wagroups::text::is_valid_utf8(s); }
inline bool utf8(const std::string& s) noexcept { return wagroups::text::is_valid_utf8(s); }
inline bool utf8(const std::optional<std::string>& s) noexcept { return !s || utf8(*s); }
inline bool utf8(const std::vector<std::string>& v) noexcept {
  for (const auto& s : v)
    if (!utf8(s)) return false;
  return true;
}

/// Takes pieces off the front of a fuzz input: single bytes for choices, length-prefixed strings
/// for text, and whatever is left for a body. Running out yields zeros and empty strings, so every
/// input (the empty one too) is usable.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  std::uint8_t byte() noexcept {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::uint64_t u64() noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return v;
  }
  /// One length byte, then up to that many bytes.
  std::string_view string() noexcept {
    const std::size_t n = byte();
    return take(n);
  }
  std::string_view take(std::size_t n) noexcept {
    if (n > rest_.size()) n = rest_.size();
    const std::string_view piece = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return piece;
  }
  std::string_view rest() noexcept { return take(rest_.size()); }
  bool empty() const noexcept { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace wagroups_fuzz
