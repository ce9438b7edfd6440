#pragma once

// Numeric knobs of the long tests (scenario counts, seeds) read from the environment.

#include <cstdint>
#include <cstdlib>
#include <initializer_list>

namespace wagroups_test {

/// The first of `names` that is set and non-empty, as an unsigned number; `fallback` when none is.
inline std::uint64_t env_number(std::initializer_list<const char*> names, std::uint64_t fallback) {
  for (const char* name : names) {
    const char* text = std::getenv(name);
    if (text != nullptr && *text != '\0') return std::strtoull(text, nullptr, 10);
  }
  return fallback;
}

}  // namespace wagroups_test
