// fuzz_signature: the X-Hub-Signature-256 check on arbitrary header/body/secret splits.
//
// The input is read as: one length-prefixed secret, one length-prefixed header, the rest the body.
// Invariants:
//   - verify_signature and SignatureVerifier::verify never throw and always agree (same outcome,
//     same AuthFailure);
//   - an empty secret never verifies (empty_secret);
//   - a header that verifies is, once blanks around it are trimmed, exactly "sha256=" and the 64 hex
//     digits of compute_signature, in either case; anything else is refused as unauthenticated with
//     a reason other than `none`;
//   - the signature Meta would send verifies, in lower and upper case, and flipping any one of its
//     hex digits (here: the one the input picks) makes it a mismatch;

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "wagroups/webhook/signature.hpp"

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void check_refusal(const wagroups::Result<void>& r) {
  WAGROUPS_FUZZ_REQUIRE(r.error().code == wagroups::ErrorCode::unauthenticated);
  WAGROUPS_FUZZ_REQUIRE(r.error().auth_failure != wagroups::AuthFailure::none);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wagroups_fuzz::Reader in(data, size);
  const std::uint8_t pick = in.byte();
  const std::string_view secret = in.string();
  const std::string_view header = in.string();
  const std::string_view body = in.rest();
  try {
    const wagroups::SignatureVerifier verifier(secret);
    const auto free_check = wagroups::verify_signature(body, header, secret);
    const auto held_check = verifier.verify(body, header);
    WAGROUPS_FUZZ_REQUIRE(free_check.ok() == held_check.ok());
    if (!free_check.ok()) {
      WAGROUPS_FUZZ_REQUIRE(free_check.error().auth_failure == held_check.error().auth_failure);
      check_refusal(free_check);
    }
    if (secret.empty()) {
      WAGROUPS_FUZZ_REQUIRE(!free_check.ok());
      WAGROUPS_FUZZ_REQUIRE(free_check.error().auth_failure == wagroups::AuthFailure::empty_secret);
      return 0;
    }
    const std::string expected = wagroups::compute_signature(body, secret);
    WAGROUPS_FUZZ_REQUIRE(expected == verifier.sign(body));
    WAGROUPS_FUZZ_REQUIRE(expected.size() == 71 && expected.compare(0, 7, "sha256=") == 0);
    if (free_check.ok()) {
      const std::string_view sent = wagroups::text::trim_ascii(header);  // proxies keep blanks around values
      WAGROUPS_FUZZ_REQUIRE(sent.size() == 71 && sent.substr(0, 7) == "sha256=");
      WAGROUPS_FUZZ_REQUIRE(lower(sent.substr(7)) == expected.substr(7));
    }

    WAGROUPS_FUZZ_REQUIRE(wagroups::verify_signature(body, expected, secret).ok());
    std::string upper = expected;
    for (std::size_t i = 7; i < upper.size(); ++i)
      upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    WAGROUPS_FUZZ_REQUIRE(verifier.verify(body, upper).ok());

    std::string flipped = expected;
    const std::size_t at = 7 + pick % 64;
    flipped[at] = flipped[at] == '0' ? '1' : '0';
    const auto refused = verifier.verify(body, flipped);
    WAGROUPS_FUZZ_REQUIRE(!refused.ok());
    WAGROUPS_FUZZ_REQUIRE(refused.error().auth_failure == wagroups::AuthFailure::signature_mismatch);
    check_refusal(refused);
  } catch (...) {
    wagroups_fuzz::fail("the signature check threw", __FILE__, __LINE__);
  }
  return 0;
}
