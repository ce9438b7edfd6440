#pragma once

// Wiping secrets (the access token, the app secret, a verify token, an Authorization header) from
// memory before it is released, so that a later core file, swapped page or reused heap block does
// not show them. A plain memset before free may be removed by the compiler as a dead store;
// OPENSSL_cleanse may not. It stays behind this function so that no header includes OpenSSL.
//
// Best effort by nature: it wipes the buffers it is given, not the copies a string left behind
// when it grew, nor what libraries did with a value (hence `reserve` before building one).

#include <cstddef>
#include <string>

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace secret {

/// Overwrites `size` bytes at `data` with zeros, in a way the compiler keeps.
void cleanse(void* data, std::size_t size) noexcept;

/// Wipes the whole of `s`'s buffer (its capacity: an earlier, longer value may sit past the end)
/// and empties it. The buffer itself is kept; it is wiped before the string frees it.
template <typename Char, typename Traits, typename Alloc>
void cleanse(std::basic_string<Char, Traits, Alloc>& s) noexcept {
  s.resize(s.capacity());  // within the capacity: no allocation, so nothing can throw
  cleanse(&s[0], s.size() * sizeof(Char));
  s.clear();
}

}  // namespace secret
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
