#pragma once

// Webhook bodies for the example-program tests, written from Meta's documented shapes (strict
// JSON, our own values), and an HMAC-SHA256 signer independent of the SDK's.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fixtures.hpp"

#include <cctype>
#include <string>
#include <string_view>

namespace wagroups_test {

/// "sha256=" + hex HMAC-SHA256 of `body` under `secret`, computed here with OpenSSL so that the
/// programs under test are checked against an outside signer.
inline std::string sign_body(std::string_view body, std::string_view secret, bool uppercase = false) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  const char* digits = uppercase ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    out += digits[digest[i] >> 4];
    out += digits[digest[i] & 0x0f];
  }
  return out;
}

inline const std::string kGroupId = "GRP-alpha-01";

/// group_lifecycle_update: one group_create that succeeded.
inline const std::string kGroupCreatedBody = R"({"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"771234567890"},"groups":[{"timestamp":"1760000000","group_id":"GRP-alpha-01","type":"group_create","request_id":"REQ-7F3A","subject":"Case 5521: refund","invite_link":"https://chat.whatsapp.com/Zq9TestLink","join_approval_mode":"approval_required"}]},"field":"group_lifecycle_update"}]}]})";

/// Two entries, five changes: a group text message, a group read status, a business removal, a
/// join request, and an account_update the SDK has no type for (tests/data/webhooks/integration/mixed.json,
/// without its final newline: "cli webhook parse" checks a body that has none).
inline const std::string& mixed_body() {
  static const std::string body = fixture_without_final_newline("webhooks/integration/mixed.json");
  return body;
}

/// One group text message (for the receiver).
inline const std::string kGroupMessageBody = R"({"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"771234567890"},"contacts":[{"profile":{"name":"Dana R."},"wa_id":"4915112345678"}],"messages":[{"from":"4915112345678","group_id":"GRP-alpha-01","id":"wamid.TEST-IN-2","timestamp":"1760000500","type":"text","text":{"body":"where is my parcel"}}]}}]}]})";

}  // namespace wagroups_test
