#pragma once

// Internal test seam of signature.cpp (not installed): makes every HMAC and digest computation
// report an OpenSSL failure, so that tests can show the checks fail closed. OpenSSL's SHA-256
// cannot be made to fail from outside, short of a broken library. Off unless a test turns it on.

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace webhook {

void fail_crypto_for_testing(bool fail) noexcept;

}  // namespace webhook
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
