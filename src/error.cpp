#include "wagroups/result.hpp"
#include "wagroups/graph_codes.hpp"

#include <string>

#include <curl/curl.h>

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::transport: return "transport";
    case ErrorCode::graph_api: return "graph_api";
    case ErrorCode::decode: return "decode";
    case ErrorCode::unauthenticated: return "unauthenticated";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::storage: return "storage";
  }
  return "unknown";
}

const char* to_string(AuthFailure failure) noexcept {
  switch (failure) {
    case AuthFailure::none: return "none";
    case AuthFailure::empty_secret: return "empty_secret";
    case AuthFailure::missing_signature: return "missing_signature";
    case AuthFailure::bad_prefix: return "bad_prefix";
    case AuthFailure::bad_hex: return "bad_hex";
    case AuthFailure::signature_mismatch: return "signature_mismatch";
    case AuthFailure::wrong_mode: return "wrong_mode";
    case AuthFailure::wrong_verify_token: return "wrong_verify_token";
    case AuthFailure::missing_challenge: return "missing_challenge";
    case AuthFailure::crypto_failure: return "crypto_failure";
  }
  return "unknown";
}

GraphCodeClass classify_graph_code(int graph_code) noexcept {
  switch (graph_code) {
    case graph_codes::app_rate_limit:
    case graph_codes::graph_rate_limit:
    case graph_codes::waba_rate_limit:
    case graph_codes::throughput_limit:
    case graph_codes::group_rate_limit: return GraphCodeClass::rate_limit;
    case graph_codes::pair_rate_limit: return GraphCodeClass::pair_rate_limit;
    case graph_codes::spam_rate_limit: return GraphCodeClass::spam_rate_limit;
    case graph_codes::template_violation_limit: return GraphCodeClass::template_violation_limit;
    case graph_codes::registration_limit: return GraphCodeClass::registration_limit;
    case graph_codes::unknown_error:
    case graph_codes::service_unavailable:
    case graph_codes::generic_user_error:
    case graph_codes::service_temporarily_unavailable:
    case graph_codes::cloud_api_unavailable: return GraphCodeClass::temporary;
    // Conditions that no amount of waiting fixes, whatever `is_transient` or the HTTP status say.
    case graph_codes::not_eligible:
    case graph_codes::group_create_limit:
    case graph_codes::group_creation_disabled:
    case graph_codes::group_suspended:
    case graph_codes::group_unknown:
    case graph_codes::bad_group:
    case graph_codes::duplicate_participant:
    case graph_codes::participant_overlimit:
    case graph_codes::participant_not_in_group:
    case graph_codes::join_request_not_found:
    case graph_codes::picture_aspect_ratio:
    case graph_codes::picture_too_small:
    case graph_codes::invalid_cursor: return GraphCodeClass::permanent;
    default: return GraphCodeClass::other;
  }
}

const char* to_string(GraphCodeClass value) noexcept {
  switch (value) {
    case GraphCodeClass::other: return "other";
    case GraphCodeClass::rate_limit: return "rate_limit";
    case GraphCodeClass::pair_rate_limit: return "pair_rate_limit";
    case GraphCodeClass::spam_rate_limit: return "spam_rate_limit";
    case GraphCodeClass::template_violation_limit: return "template_violation_limit";
    case GraphCodeClass::registration_limit: return "registration_limit";
    case GraphCodeClass::temporary: return "temporary";
    case GraphCodeClass::permanent: return "permanent";
  }
  return "other";
}

bool is_throttling_code(int graph_code) noexcept {
  const GraphCodeClass c = classify_graph_code(graph_code);
  return c == GraphCodeClass::rate_limit || c == GraphCodeClass::pair_rate_limit;
}

namespace {
// Limits that waiting seconds does not lift: never retried, never "rate limited", even over HTTP
// 429 or with is_transient set.
bool is_lasting_limit(GraphCodeClass c) noexcept {
  return c == GraphCodeClass::spam_rate_limit || c == GraphCodeClass::template_violation_limit ||
         c == GraphCodeClass::registration_limit;
}

// Transport failures that no retry can cure: the request or the local setup is wrong.
bool is_permanent_curl_code(int curl_code) noexcept {
  switch (curl_code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_FAILED_INIT:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_FILESIZE_EXCEEDED:  // our max_response_bytes: the same answer would be as large again
      return true;
    default:
      return false;
  }
}
}  // namespace

bool Error::is_rate_limited() const noexcept {
  if (code != ErrorCode::graph_api) return false;
  if (graph && is_lasting_limit(classify_graph_code(graph->code))) return false;
  return http_status == 429 || (graph && is_throttling_code(graph->code));
}

bool Error::is_spam_rate_limited() const noexcept {
  return code == ErrorCode::graph_api && graph && graph->code == graph_codes::spam_rate_limit;
}

bool Error::is_not_eligible() const noexcept {
  return code == ErrorCode::graph_api && graph && graph->code == graph_codes::not_eligible;
}

bool Error::is_retryable() const noexcept {
  switch (code) {
    case ErrorCode::invalid_argument:
    case ErrorCode::unsupported:
    case ErrorCode::decode:
    case ErrorCode::unauthenticated:
      return false;
    case ErrorCode::conflict:
    case ErrorCode::storage:
      return true;  // a reload-and-retry, or Meta's redelivery, may succeed
    case ErrorCode::transport:
      return !is_permanent_curl_code(curl_code);
    case ErrorCode::graph_api:
      break;
  }
  if (graph) {
    const GraphCodeClass c = classify_graph_code(graph->code);
    if (c == GraphCodeClass::permanent || is_lasting_limit(c)) return false;
    if (c == GraphCodeClass::rate_limit || c == GraphCodeClass::pair_rate_limit || c == GraphCodeClass::temporary)
      return true;
    if (graph->is_transient && *graph->is_transient) return true;
  }
  return http_status == 408 || http_status == 429 || (http_status >= 500 && http_status <= 599);
}

std::string Error::to_string() const {
  std::string out = wagroups::to_string(code);
  out += ": ";
  out += message;
  if (!field.empty()) out += " [field " + field + (limit.empty() ? "" : ", limit " + limit) + "]";
  if (graph) {
    out += " [graph code " + std::to_string(graph->code);
    if (graph->error_subcode) out += ", subcode " + std::to_string(*graph->error_subcode);
    if (!graph->type.empty()) out += ", " + graph->type;
    if (graph->fbtrace_id) out += ", fbtrace_id " + *graph->fbtrace_id;
    out += "]";
  }
  if (auth_failure != AuthFailure::none) out += std::string(" [") + wagroups::to_string(auth_failure) + "]";
  if (http_status != 0) out += " [HTTP " + std::to_string(http_status) + "]";
  if (curl_code != 0) out += " [curl " + std::to_string(curl_code) + "]";
  if (attempts > 1) out += " [after " + std::to_string(attempts) + " attempts]";
  return out;
}

Error Error::invalid_argument(std::string field_name, std::string limit_text, std::string text) {
  Error e;
  e.code = ErrorCode::invalid_argument;
  e.request_may_have_been_sent = false;
  if (text.empty()) text = field_name + " must be " + limit_text;
  e.message = std::move(text);
  e.field = std::move(field_name);
  e.limit = std::move(limit_text);
  e.attempts = 0;
  return e;
}

Error Error::unsupported(std::string field_name, std::string text) {
  Error e;
  e.code = ErrorCode::unsupported;
  e.request_may_have_been_sent = false;
  e.message = std::move(text);
  e.field = std::move(field_name);
  e.attempts = 0;
  return e;
}

Error Error::transport_failure(int curl, std::string text, bool may_have_been_sent) {
  Error e;
  e.code = ErrorCode::transport;
  e.curl_code = curl;
  e.message = std::move(text);
  e.request_may_have_been_sent = may_have_been_sent;
  return e;
}

Error Error::decode_failure(int status, std::string text) {
  Error e;
  e.code = ErrorCode::decode;
  e.http_status = status;
  e.message = std::move(text);
  return e;
}

Error Error::unauthenticated(AuthFailure failure, std::string text) {
  Error e;
  e.code = ErrorCode::unauthenticated;
  e.auth_failure = failure;
  e.message = std::move(text);
  e.attempts = 0;
  return e;
}

Error Error::malformed_webhook(std::string where, std::string rule, std::string text) {
  Error e;
  e.code = ErrorCode::decode;
  e.field = std::move(where);
  e.limit = std::move(rule);
  e.message = std::move(text);
  e.attempts = 0;
  return e;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
