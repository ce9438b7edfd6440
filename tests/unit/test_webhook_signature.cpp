// X-Hub-Signature-256 verification and the GET subscription handshake. Expected signatures are
// computed here independently, with OpenSSL's one-shot HMAC(), and checked against RFC 4231.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <cctype>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "wagroups/webhook.hpp"

using namespace wagroups;

namespace {

const std::string kSecret = "app-secret-7c1e9d0b44f2";  // distinctive: must never show up in errors
const std::string kBody =
    R"({"object":"whatsapp_business_account","entry":[{"id":"WABA-31","changes":[{"field":"group_lifecycle_update","value":{"messaging_product":"whatsapp","groups":[]}}]}]})";

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0x0F];
  }
  return out;
}

// The reference: OpenSSL's one-shot HMAC, lowercase hex.
std::string reference_hmac_hex(std::string_view body, std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const unsigned char empty = 0;
  const auto* data = body.empty() ? &empty : reinterpret_cast<const unsigned char*>(body.data());
  REQUIRE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), data, body.size(), digest, &length) !=
          nullptr);
  REQUIRE(length == 32);
  return to_hex(digest, length);
}

std::string header_for(std::string_view body, std::string_view secret) {
  return "sha256=" + reference_hmac_hex(body, secret);
}

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string random_bytes(std::mt19937& rng, std::size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(byte(rng));
  return out;
}

// An unauthenticated error with the given failure whose text does not leak `secret`.
void check_refused(const Result<void>& result, AuthFailure failure, const std::string& secret = kSecret) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::unauthenticated);
  CHECK(result.error().auth_failure == failure);
  CHECK_FALSE(result.error().message.empty());
  if (!secret.empty()) {
    CHECK(result.error().message.find(secret) == std::string::npos);
    CHECK(result.error().to_string().find(secret) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("RFC 4231 test vectors", "[webhook][signature]") {
  // Test case 2: key "Jefe", data "what do ya want for nothing?".
  const std::string tc2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  CHECK(reference_hmac_hex("what do ya want for nothing?", "Jefe") == tc2);  // the reference itself
  CHECK(compute_signature("what do ya want for nothing?", "Jefe") == "sha256=" + tc2);
  CHECK(verify_signature("what do ya want for nothing?", "sha256=" + tc2, "Jefe").ok());
  CHECK(SignatureVerifier("Jefe").sign("what do ya want for nothing?") == "sha256=" + tc2);

  // Test case 6: a 131-byte key of 0xaa (longer than the block: hashed first).
  const std::string key6(131, '\xaa');
  const std::string data6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  const std::string tc6 = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  CHECK(compute_signature(data6, key6) == "sha256=" + tc6);
  CHECK(SignatureVerifier(key6).verify(data6, "sha256=" + tc6).ok());
}

TEST_CASE("a correct signature verifies, in lowercase, uppercase and mixed-case hex", "[webhook][signature]") {
  const std::string hex = reference_hmac_hex(kBody, kSecret);
  const SignatureVerifier verifier(kSecret);

  CHECK(compute_signature(kBody, kSecret) == "sha256=" + hex);
  CHECK(verifier.sign(kBody) == "sha256=" + hex);

  std::string mixed = hex;
  for (std::size_t i = 0; i < mixed.size(); i += 2) {
    mixed[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[i])));
  }
  REQUIRE(mixed != hex);
  REQUIRE(mixed != upper(hex));
  for (const auto& digits : {hex, upper(hex), mixed}) {
    INFO(digits);
    CHECK(verify_signature(kBody, "sha256=" + digits, kSecret).ok());
    CHECK(verifier.verify(kBody, "sha256=" + digits).ok());
  }
}

TEST_CASE("a tampered body or a wrong secret is a signature mismatch", "[webhook][signature]") {
  const std::string header = header_for(kBody, kSecret);
  const SignatureVerifier verifier(kSecret);

  std::string tampered = kBody;
  tampered[tampered.size() / 2] = static_cast<char>(tampered[tampered.size() / 2] ^ 0x01);
  check_refused(verify_signature(tampered, header, kSecret), AuthFailure::signature_mismatch);
  check_refused(verifier.verify(tampered, header), AuthFailure::signature_mismatch);

  std::string truncated = kBody.substr(0, kBody.size() - 1);
  check_refused(verify_signature(truncated, header, kSecret), AuthFailure::signature_mismatch);
  check_refused(verify_signature(kBody + " ", header, kSecret), AuthFailure::signature_mismatch);

  check_refused(verify_signature(kBody, header, kSecret + "x"), AuthFailure::signature_mismatch);
  check_refused(SignatureVerifier("another-secret").verify(kBody, header), AuthFailure::signature_mismatch);

  // One hex digit off.
  std::string off = header;
  off.back() = off.back() == '0' ? '1' : '0';
  check_refused(verify_signature(kBody, off, kSecret), AuthFailure::signature_mismatch);
  check_refused(verifier.verify(kBody, off), AuthFailure::signature_mismatch);
}

TEST_CASE("malformed headers are refused with their own failure", "[webhook][signature]") {
  const std::string hex = reference_hmac_hex(kBody, kSecret);
  const SignatureVerifier verifier(kSecret);
  auto both = [&](const std::string& header, AuthFailure failure) {
    INFO("header: " << header);
    check_refused(verify_signature(kBody, header, kSecret), failure);
    check_refused(verifier.verify(kBody, header), failure);
  };

  both("", AuthFailure::missing_signature);

  both(hex, AuthFailure::bad_prefix);                                  // no prefix
  both("sha1=" + hex.substr(0, 40), AuthFailure::bad_prefix);          // the old header's scheme
  both("sha1=" + hex, AuthFailure::bad_prefix);
  both("md5=" + hex, AuthFailure::bad_prefix);
  both("sha256:" + hex, AuthFailure::bad_prefix);

  both("sha256=" + hex.substr(0, 63), AuthFailure::bad_hex);  // 63 digits
  both("sha256=" + hex + "0", AuthFailure::bad_hex);          // 65 digits
  std::string with_g = hex;
  with_g[10] = 'g';
  both("sha256=" + with_g, AuthFailure::bad_hex);
  std::string with_space = hex;
  with_space[0] = ' ';
  both("sha256=" + with_space, AuthFailure::bad_hex);
  both("sha256=" + hex.substr(0, 32), AuthFailure::bad_hex);
}

TEST_CASE("an empty secret is refused before anything else is looked at", "[webhook][signature]") {
  const std::string hex = reference_hmac_hex(kBody, "");
  check_refused(verify_signature(kBody, "sha256=" + hex, ""), AuthFailure::empty_secret);  // even if it "matches"
  check_refused(verify_signature(kBody, "", ""), AuthFailure::empty_secret);
  check_refused(verify_signature(kBody, "sha1=abc", ""), AuthFailure::empty_secret);
  check_refused(verify_signature(kBody, "sha256=zz", ""), AuthFailure::empty_secret);
  const SignatureVerifier empty("");
  check_refused(empty.verify(kBody, "sha256=" + hex), AuthFailure::empty_secret);
  check_refused(empty.verify(kBody, ""), AuthFailure::empty_secret);
}

TEST_CASE("each failure is distinct and no error text carries the secret", "[webhook][signature]") {
  // A secret made of hex digits, so that a leak through an echoed digest prefix would also show.
  const std::string secret = "0123456789abcdef0123456789abcdef";
  const std::string hex = reference_hmac_hex(kBody, secret);
  const std::vector<std::pair<Result<void>, AuthFailure>> cases = {
      {verify_signature(kBody, "sha256=" + hex, ""), AuthFailure::empty_secret},
      {verify_signature(kBody, "", secret), AuthFailure::missing_signature},
      {verify_signature(kBody, "sha1=" + hex, secret), AuthFailure::bad_prefix},
      {verify_signature(kBody, "sha256=" + hex.substr(1), secret), AuthFailure::bad_hex},
      {verify_signature(kBody + "!", "sha256=" + hex, secret), AuthFailure::signature_mismatch},
  };
  std::vector<std::string> names;
  for (const auto& [result, failure] : cases) {
    check_refused(result, failure, secret);
    names.emplace_back(to_string(result.error().auth_failure));
  }
  CHECK(names == std::vector<std::string>{"empty_secret", "missing_signature", "bad_prefix", "bad_hex",
                                          "signature_mismatch"});
}

TEST_CASE("SignatureVerifier agrees with verify_signature and the reference on random input", "[webhook][signature]") {
  std::mt19937 rng(20260921);
  std::uniform_int_distribution<std::size_t> body_size(0, 3000);
  std::uniform_int_distribution<std::size_t> secret_size(1, 200);  // up to three blocks: long keys are hashed
  for (int round = 0; round < 300; ++round) {
    const std::string secret = random_bytes(rng, round == 0 ? 64 : round == 1 ? 65 : secret_size(rng));
    const std::string body = random_bytes(rng, round == 2 ? 0 : body_size(rng));
    INFO("round " << round << ", secret " << secret.size() << " bytes, body " << body.size() << " bytes");
    const std::string expected = header_for(body, secret);
    const SignatureVerifier verifier(secret);

    CHECK(compute_signature(body, secret) == expected);
    CHECK(verifier.sign(body) == expected);
    CHECK(verify_signature(body, expected, secret).ok());
    CHECK(verifier.verify(body, expected).ok());
    CHECK(verifier.verify(body, upper(expected.substr(7)).insert(0, "sha256=")).ok());

    // Another body under the same secret: both refuse it alike.
    std::string other = body.empty() ? std::string(1, '\0') : body;
    if (!body.empty()) {
      const std::size_t at = rng() % other.size();
      other[at] = static_cast<char>(other[at] ^ static_cast<char>(1 + rng() % 255));
    }
    const auto a = verify_signature(other, expected, secret);
    const auto b = verifier.verify(other, expected);
    REQUIRE_FALSE(a.ok());
    REQUIRE_FALSE(b.ok());
    CHECK(a.error().auth_failure == AuthFailure::signature_mismatch);
    CHECK(b.error().auth_failure == AuthFailure::signature_mismatch);
  }
}

TEST_CASE("an empty body has a signature too", "[webhook][signature]") {
  const std::string expected = header_for("", kSecret);
  CHECK(compute_signature("", kSecret) == expected);
  CHECK(verify_signature("", expected, kSecret).ok());
  CHECK(SignatureVerifier(kSecret).verify("", expected).ok());
  check_refused(verify_signature("", header_for("x", kSecret), kSecret), AuthFailure::signature_mismatch);
}

TEST_CASE("copied and moved verifiers keep working", "[webhook][signature]") {
  const std::string header = header_for(kBody, kSecret);
  SignatureVerifier original(kSecret);
  SignatureVerifier copy(original);
  CHECK(copy.verify(kBody, header).ok());
  CHECK(original.verify(kBody, header).ok());

  SignatureVerifier assigned("another-secret");
  assigned = copy;
  CHECK(assigned.verify(kBody, header).ok());

  SignatureVerifier moved(std::move(original));
  CHECK(moved.verify(kBody, header).ok());
  SignatureVerifier move_assigned("yet-another-secret");
  move_assigned = std::move(moved);
  CHECK(move_assigned.verify(kBody, header).ok());
  CHECK(move_assigned.sign(kBody) == header);

  // A copy is independent of its source's later fate.
  {
    SignatureVerifier scoped(kSecret);
    copy = scoped;
  }
  CHECK(copy.verify(kBody, header).ok());
  check_refused(copy.verify(kBody + "x", header), AuthFailure::signature_mismatch);
}

TEST_CASE("one verifier serves four threads at once", "[webhook][signature][concurrent]") {
  const SignatureVerifier verifier(kSecret);
  // Bodies and headers are prepared up front so the threads only verify.
  std::mt19937 rng(7);
  std::vector<std::string> bodies;
  std::vector<std::string> headers;
  for (int i = 0; i < 64; ++i) {
    bodies.push_back(random_bytes(rng, 50 + static_cast<std::size_t>(i) * 37));
    headers.push_back(header_for(bodies.back(), kSecret));
  }
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (std::size_t i = 0; i < bodies.size(); ++i) {
          // Even rounds pair each body with its own header, odd rounds with its neighbour's.
          const std::size_t h = (round + t) % 2 == 0 ? i : (i + 1) % bodies.size();
          if (verifier.verify(bodies[i], headers[h]).ok()) {
            ++accepted;
          } else {
            ++refused;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(accepted.load() == 4 * 25 * 64);
  CHECK(refused.load() == 4 * 25 * 64);
}

TEST_CASE("the subscription handshake echoes the challenge only for the right mode and token", "[webhook][signature]") {
  const std::string token = "verify-token-5b2e";
  auto ok = verify_subscription("subscribe", token, "1158201444", token);
  REQUIRE(ok.ok());
  CHECK(*ok == "1158201444");

  auto refused = [&](const Result<std::string>& r, AuthFailure failure) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::unauthenticated);
    CHECK(r.error().auth_failure == failure);
    CHECK(r.error().message.find(token) == std::string::npos);
    CHECK(r.error().to_string().find(token) == std::string::npos);
  };
  refused(verify_subscription("unsubscribe", token, "1158201444", token), AuthFailure::wrong_mode);
  refused(verify_subscription("", token, "1158201444", token), AuthFailure::wrong_mode);
  refused(verify_subscription("Subscribe ", token, "1158201444", token), AuthFailure::wrong_mode);
  refused(verify_subscription("subscribe", "verify-token-5b2f", "1158201444", token), AuthFailure::wrong_verify_token);
  refused(verify_subscription("subscribe", token + "x", "1158201444", token), AuthFailure::wrong_verify_token);
  refused(verify_subscription("subscribe", "", "1158201444", token), AuthFailure::wrong_verify_token);
  refused(verify_subscription("subscribe", token, "", token), AuthFailure::missing_challenge);
  // No token configured: nothing can be verified, whatever was sent.
  refused(verify_subscription("subscribe", "", "1158201444", ""), AuthFailure::empty_secret);
  refused(verify_subscription("subscribe", token, "1158201444", ""), AuthFailure::empty_secret);
}

TEST_CASE("verify_and_parse checks the signature before parsing anything", "[webhook][signature]") {
  const WebhookParser parser;
  const SignatureVerifier verifier(kSecret);

  // Not JSON at all, and wrongly signed: refused as unauthenticated, never as a decode failure.
  const std::string garbage = "this is {not json";
  auto bad = parser.verify_and_parse(std::string(garbage), header_for(garbage + "x", kSecret), verifier);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::unauthenticated);
  CHECK(bad.error().auth_failure == AuthFailure::signature_mismatch);

  auto unsigned_body = parser.verify_and_parse(std::string(garbage), "", verifier);
  REQUIRE_FALSE(unsigned_body.ok());
  CHECK(unsigned_body.error().code == ErrorCode::unauthenticated);
  CHECK(unsigned_body.error().auth_failure == AuthFailure::missing_signature);

  // Correctly signed garbage gets as far as the parser, which refuses it.
  auto signed_garbage = parser.verify_and_parse(std::string(garbage), header_for(garbage, kSecret), verifier);
  REQUIRE_FALSE(signed_garbage.ok());
  CHECK(signed_garbage.error().code == ErrorCode::decode);

  // A correctly signed envelope parses.
  const std::string body =
      R"({"object":"whatsapp_business_account","entry":[{"id":"WABA-31","changes":[{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]})";
  auto good = parser.verify_and_parse(std::string(body), header_for(body, kSecret), verifier);
  REQUIRE(good.ok());
  CHECK(good->object == "whatsapp_business_account");
  REQUIRE(good->events.size() == 1);
  CHECK(std::holds_alternative<UnknownEvent>(good->events[0]));

  // The same envelope signed with another secret is refused.
  auto forged = parser.verify_and_parse(std::string(body), header_for(body, "not-the-secret"), verifier);
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().auth_failure == AuthFailure::signature_mismatch);
}
