// secret::cleanse on OpenSSL (see secret.hpp for why).

#include "util/secret.hpp"

#include <openssl/crypto.h>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace secret {

void cleanse(void* data, std::size_t size) noexcept {
  if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

}  // namespace secret
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
