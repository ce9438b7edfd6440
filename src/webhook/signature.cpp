// X-Hub-Signature-256 checks and the GET subscription handshake.
//
// HMAC-SHA256 is computed from precomputed inner and outer SHA-256 states (the key XOR ipad / opad
// blocks absorbed once per secret), copied for each body. Measured on this project's reference
// machine (2 KB body, SHA-NI): one-shot HMAC() 2.35 us, EVP_MAC_CTX_dup per body 1.63 us,
// EVP_MD_CTX_copy_ex of keyed digest states 1.32 us, low-level SHA256_CTX copies 1.22 us. The
// low-level SHA-256 API is deprecated (not removed) in OpenSSL 3; it is the fastest and its state
// is a plain struct, so copying it is trivially thread-safe. Builds of OpenSSL without the
// deprecated API use the EVP_MD_CTX copies instead.

// Must precede every OpenSSL include of this file (and only this file): it silences OpenSSL 3's
// deprecation attributes on SHA256_Init/Update/Final, used on purpose (see above).
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslconf.h>
#include <openssl/sha.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "util/text.hpp"
#include "wagroups/webhook.hpp"
#include "webhook/signature_testing.hpp"

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#define WAGROUPS_HMAC_EVP 1
#else
#define WAGROUPS_HMAC_EVP 0
#endif

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace webhook {
namespace {
std::atomic<bool> crypto_fails_for_testing{false};
}  // namespace

void fail_crypto_for_testing(bool fail) noexcept { crypto_fails_for_testing.store(fail, std::memory_order_relaxed); }
}  // namespace webhook

namespace {

constexpr std::size_t kBlock = 64;   // SHA-256 block size
constexpr std::size_t kDigest = 32;  // SHA-256 output size
constexpr std::string_view kPrefix = "sha256=";

using Digest = std::array<unsigned char, kDigest>;

// Every OpenSSL call below reports success through this: a call that failed, or the test seam,
// makes the whole computation fail, and then nothing verifies (fails closed).
bool openssl_ok(int rc) noexcept {
  return rc == 1 && !webhook::crypto_fails_for_testing.load(std::memory_order_relaxed);
}

// SHA-256 of `data` into `out` (one-shot EVP).
bool sha256(std::string_view data, unsigned char* out) noexcept {
  unsigned int length = 0;
  return openssl_ok(EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr)) && length == kDigest;
}

// The key block of RFC 2104: the secret, or its SHA-256 when longer than a block, zero-padded.
// False when hashing a long secret failed.
bool key_block(std::string_view secret, std::array<unsigned char, kBlock>& block) noexcept {
  block.fill(0);
  if (secret.size() > kBlock) return sha256(secret, block.data());
  if (!secret.empty()) std::memcpy(block.data(), secret.data(), secret.size());
  return true;
}

// `hex` (2 * kDigest characters) into `out`; false when some character is not a hex digit.
bool decode_hex(std::string_view hex, Digest& out) noexcept {
  unsigned char invalid = 0;
  for (std::size_t i = 0; i < kDigest; ++i) {
    const unsigned char hi = text::kHexDigitValues.value[static_cast<unsigned char>(hex[2 * i])];
    const unsigned char lo = text::kHexDigitValues.value[static_cast<unsigned char>(hex[2 * i + 1])];
    invalid |= static_cast<unsigned char>(hi | lo);
    out[i] = static_cast<unsigned char>((hi << 4) | (lo & 0x0f));
  }
  return (invalid & text::kNotHexDigit) == 0;
}

std::string to_hex(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kPrefix.size() + 2 * kDigest);
  out.append(kPrefix);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

Error crypto_failure(const char* what) {
  // Says which step failed, never with what key: the secret and the digests stay out of it.
  Error error = Error::unauthenticated(AuthFailure::crypto_failure,
                                       std::string(what) + ": OpenSSL failed to compute SHA-256; nothing was verified");
  // A fault of this host, not of the sender: an endpoint answers 5xx so that Meta delivers again.
  error.http_status = 500;
  return error;
}

}  // namespace

#if !WAGROUPS_HMAC_EVP

struct SignatureVerifier::State {
  bool empty_secret = true;
  bool keyed = false;  // the key schedule below was computed (else every mac fails)
  SHA256_CTX inner{};  // after absorbing key ^ ipad
  SHA256_CTX outer{};  // after absorbing key ^ opad

  explicit State(std::string_view secret) : empty_secret(secret.empty()) {
    std::array<unsigned char, kBlock> key{};
    bool ok = key_block(secret, key);
    unsigned char pad[kBlock];
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(key[i] ^ 0x36);
    ok = ok && openssl_ok(SHA256_Init(&inner)) && openssl_ok(SHA256_Update(&inner, pad, kBlock));
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(key[i] ^ 0x5c);
    ok = ok && openssl_ok(SHA256_Init(&outer)) && openssl_ok(SHA256_Update(&outer, pad, kBlock));
    keyed = ok;
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(key.data(), key.size());
  }
  State(const State&) = default;
  ~State() {
    OPENSSL_cleanse(&inner, sizeof inner);
    OPENSSL_cleanse(&outer, sizeof outer);
  }

  /// The HMAC of `body` into `out`; false (and `out` zeroed) when any step failed.
  bool mac(std::string_view body, Digest& out) const {
    Digest inner_digest{};
    SHA256_CTX ctx = inner;
    bool ok = keyed && openssl_ok(SHA256_Update(&ctx, body.data(), body.size())) &&
              openssl_ok(SHA256_Final(inner_digest.data(), &ctx));
    ctx = outer;
    ok = ok && openssl_ok(SHA256_Update(&ctx, inner_digest.data(), inner_digest.size())) &&
         openssl_ok(SHA256_Final(out.data(), &ctx));
    OPENSSL_cleanse(&ctx, sizeof ctx);
    OPENSSL_cleanse(inner_digest.data(), inner_digest.size());
    if (!ok) out.fill(0);
    return ok;
  }
};

#else  // OpenSSL without the deprecated low-level API: keyed EVP digest states, copied per body.

struct SignatureVerifier::State {
  bool empty_secret = true;
  bool keyed = false;
  EVP_MD_CTX* inner = nullptr;
  EVP_MD_CTX* outer = nullptr;

  explicit State(std::string_view secret) : empty_secret(secret.empty()) {
    std::array<unsigned char, kBlock> key{};
    bool ok = key_block(secret, key);
    unsigned char pad[kBlock];
    inner = EVP_MD_CTX_new();
    outer = EVP_MD_CTX_new();
    ok = ok && inner != nullptr && outer != nullptr;
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(key[i] ^ 0x36);
    ok = ok && openssl_ok(EVP_DigestInit_ex(inner, EVP_sha256(), nullptr)) &&
         openssl_ok(EVP_DigestUpdate(inner, pad, kBlock));
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(key[i] ^ 0x5c);
    ok = ok && openssl_ok(EVP_DigestInit_ex(outer, EVP_sha256(), nullptr)) &&
         openssl_ok(EVP_DigestUpdate(outer, pad, kBlock));
    keyed = ok;
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(key.data(), key.size());
  }
  State(const State& other) : empty_secret(other.empty_secret) {
    inner = EVP_MD_CTX_new();
    outer = EVP_MD_CTX_new();
    keyed = other.keyed && inner != nullptr && outer != nullptr && openssl_ok(EVP_MD_CTX_copy_ex(inner, other.inner)) &&
            openssl_ok(EVP_MD_CTX_copy_ex(outer, other.outer));
  }
  State& operator=(const State&) = delete;
  ~State() {
    EVP_MD_CTX_free(inner);  // (null is fine)
    EVP_MD_CTX_free(outer);
  }

  bool mac(std::string_view body, Digest& out) const {
    Digest inner_digest{};
    unsigned int length = 0;
    EVP_MD_CTX* ctx = keyed ? EVP_MD_CTX_new() : nullptr;
    bool ok = ctx != nullptr && openssl_ok(EVP_MD_CTX_copy_ex(ctx, inner)) &&
              openssl_ok(EVP_DigestUpdate(ctx, body.data(), body.size())) &&
              openssl_ok(EVP_DigestFinal_ex(ctx, inner_digest.data(), &length)) && length == kDigest;
    ok = ok && openssl_ok(EVP_MD_CTX_copy_ex(ctx, outer)) &&
         openssl_ok(EVP_DigestUpdate(ctx, inner_digest.data(), inner_digest.size())) &&
         openssl_ok(EVP_DigestFinal_ex(ctx, out.data(), &length)) && length == kDigest;
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(inner_digest.data(), inner_digest.size());
    if (!ok) out.fill(0);
    return ok;
  }
};

#endif

SignatureVerifier::SignatureVerifier(std::string_view app_secret) : state_(std::make_unique<State>(app_secret)) {}
SignatureVerifier::~SignatureVerifier() = default;
SignatureVerifier::SignatureVerifier(const SignatureVerifier& other)
    : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}
SignatureVerifier& SignatureVerifier::operator=(const SignatureVerifier& other) {
  if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
  return *this;
}
SignatureVerifier::SignatureVerifier(SignatureVerifier&&) noexcept = default;
SignatureVerifier& SignatureVerifier::operator=(SignatureVerifier&&) noexcept = default;

Result<void> SignatureVerifier::verify(std::string_view raw_body, std::string_view x_hub_signature_256) const {
  // A moved-from verifier has no secret: it verifies nothing, like an empty one.
  if (!state_ || state_->empty_secret)
    return Error::unauthenticated(AuthFailure::empty_secret, "webhook signature: no app secret configured");
  // Proxies sometimes keep blanks around header values.
  const std::string_view header = text::trim_ascii(x_hub_signature_256);
  if (header.empty())
    return Error::unauthenticated(AuthFailure::missing_signature, "webhook signature: no X-Hub-Signature-256 header");
  // Meta always sends the lowercase prefix; only the hex digits may come in either case.
  if (header.substr(0, kPrefix.size()) != kPrefix)
    return Error::unauthenticated(AuthFailure::bad_prefix,
                                  "webhook signature: X-Hub-Signature-256 does not start with \"sha256=\"");
  const std::string_view hex = header.substr(kPrefix.size());
  Digest provided{};
  if (hex.size() != 2 * kDigest || !decode_hex(hex, provided))
    return Error::unauthenticated(AuthFailure::bad_hex,
                                  "webhook signature: expected 64 hexadecimal digits after \"sha256=\", got " +
                                      std::to_string(hex.size()) + " characters");
  Digest expected{};
  if (!state_->mac(raw_body, expected)) return crypto_failure("webhook signature");
  const bool match = CRYPTO_memcmp(expected.data(), provided.data(), kDigest) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!match)
    return Error::unauthenticated(AuthFailure::signature_mismatch,
                                  "webhook signature: X-Hub-Signature-256 does not match the body");
  return {};
}

std::string SignatureVerifier::sign(std::string_view raw_body) const {
  if (!state_) return SignatureVerifier(std::string_view{}).sign(raw_body);
  Digest digest{};
  // Empty on failure: no header at all, which nothing accepts (never a digest of zeros).
  if (!state_->mac(raw_body, digest)) return {};
  return to_hex(digest);
}

Result<void> verify_signature(std::string_view raw_body, std::string_view x_hub_signature_256,
                              std::string_view app_secret) {
  return SignatureVerifier(app_secret).verify(raw_body, x_hub_signature_256);
}

std::string compute_signature(std::string_view raw_body, std::string_view app_secret) {
  return SignatureVerifier(app_secret).sign(raw_body);
}

Result<std::string> verify_subscription(std::string_view mode, std::string_view verify_token,
                                        std::string_view challenge, std::string_view expected_token) {
  if (expected_token.empty())
    return Error::unauthenticated(AuthFailure::empty_secret, "subscription: no verify token configured");
  if (mode != "subscribe")
    return Error::unauthenticated(AuthFailure::wrong_mode, "subscription: hub.mode is not \"subscribe\"");
  // Compared as SHA-256 digests, so that the time taken says nothing about the expected token,
  // not even its length.
  unsigned char got[kDigest];
  unsigned char want[kDigest];
  const bool hashed = sha256(verify_token, got) && sha256(expected_token, want);
  const bool match = hashed && CRYPTO_memcmp(got, want, kDigest) == 0;
  OPENSSL_cleanse(want, sizeof want);
  if (!hashed) return crypto_failure("subscription");
  if (!match)
    return Error::unauthenticated(AuthFailure::wrong_verify_token,
                                  "subscription: hub.verify_token does not match the configured token");
  if (challenge.empty())
    return Error::unauthenticated(AuthFailure::missing_challenge, "subscription: hub.challenge is empty");
  return std::string(challenge);
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
