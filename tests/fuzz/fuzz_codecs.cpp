// fuzz_codecs: every decoder of a Graph answer the Client runs (src/json/codecs.*), picked by the
// input's first byte; the second byte picks the HTTP status of the decoders that read one, the
// rest is the body.
//
// Invariants, for every input:
//   - no decoder throws or trips a sanitizer, whatever the body;
//   - the body is left exactly as it was (the parse pads it while it runs);
//   - a refused 2xx answer is ErrorCode::decode; decode_error_response is always graph_api with
//     the answer's status, and, when the body is not Graph's envelope, its excerpt never contains
//     the access token;
//   - decoding the same body twice gives the same outcome (the per-thread parse buffer keeps
//     nothing from one parse to the next);
//   - join-request outcomes account for every id asked for: each is succeeded, failed or
//     unreported (unless the answer is a plain 2xx naming no id, Meta's "all done"), and nothing
//     is unreported that was not asked for.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "json/codecs.hpp"

namespace {

namespace codec = wagroups::codec;

const char kToken[] = "EAAGfuzzAccessToken0123456789";
const std::vector<std::string> kRequested = {"join-request-1", "join-request-2", "1234567890"};
constexpr int kStatuses[] = {200, 201, 202, 206, 299};

/// A decoder's outcome as text, compared between two runs: ok, or the error's code and message.
template <typename T>
std::string outcome(const wagroups::Result<T>& r) {
  if (r.ok()) return "ok";
  WAGROUPS_FUZZ_REQUIRE(r.error().code == wagroups::ErrorCode::decode);
  return "error " + r.error().message;
}

template <typename Decode>
void twice(std::string& body, Decode decode) {
  const std::string before = body;
  const std::string first = outcome(decode(body));
  WAGROUPS_FUZZ_REQUIRE(body == before);
  const std::string second = outcome(decode(body));
  WAGROUPS_FUZZ_REQUIRE(body == before);
  WAGROUPS_FUZZ_REQUIRE(first == second);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void check_accounting(const wagroups::JoinRequestsOutcome& o) {
  // A plain 2xx without lists is Meta's "done" for every id (codecs.cpp): nothing to account.
  if (!o.partial && o.succeeded.empty() && o.failed.empty()) {
    WAGROUPS_FUZZ_REQUIRE(o.unreported.empty());
    return;
  }
  for (const auto& id : o.unreported) WAGROUPS_FUZZ_REQUIRE(contains(kRequested, id));
  for (const auto& id : kRequested) {
    const bool failed = std::any_of(o.failed.begin(), o.failed.end(),
                                    [&](const wagroups::FailedJoinRequest& f) { return f.join_request_id == id; });
    WAGROUPS_FUZZ_REQUIRE(contains(o.succeeded, id) || failed || contains(o.unreported, id));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wagroups_fuzz::Reader in(data, size);
  const std::uint8_t which = in.byte();
  const int status = kStatuses[in.byte() % 5];
  std::string body(in.rest());
  try {
    switch (which % 14) {
      case 0: twice(body, codec::decode_create_group); break;
      case 1: twice(body, codec::decode_list_groups); break;
      case 2: twice(body, codec::decode_group_info); break;
      case 3: twice(body, codec::decode_update_settings); break;
      case 4: twice(body, codec::decode_delete_group); break;
      case 5: twice(body, codec::decode_invite_link); break;
      case 6: twice(body, codec::decode_delete_invite_link); break;
      case 7: twice(body, codec::decode_join_requests); break;
      case 8: twice(body, codec::decode_phone_number); break;
      case 9: twice(body, codec::decode_send_message); break;
      case 10:
      case 11: {
        const char* key = which % 14 == 10 ? "approved_join_requests" : "rejected_join_requests";
        wagroups::HttpResponse response{status, {}, body};
        auto decoded = codec::decode_join_requests_result(response, key, kRequested);
        WAGROUPS_FUZZ_REQUIRE(response.body == body);
        if (decoded.ok()) check_accounting(*decoded);
        twice(response.body, [&](std::string& b) {
          wagroups::HttpResponse again{status, {}, b};
          auto r = codec::decode_join_requests_result(again, key, kRequested);
          b = again.body;
          return r;
        });
        break;
      }
      case 12: {
        wagroups::HttpResponse response{status, {}, body};
        auto decoded = codec::decode_remove_participants(response);
        WAGROUPS_FUZZ_REQUIRE(response.body == body);
        if (decoded.ok()) WAGROUPS_FUZZ_REQUIRE(decoded->http_status == status);
        break;
      }
      default: {
        const int error_status = 400 + status % 200;
        const wagroups::HttpResponse response{error_status, {}, body};
        const wagroups::Error e = codec::decode_error_response(response, kToken);
        WAGROUPS_FUZZ_REQUIRE(e.code == wagroups::ErrorCode::graph_api);
        WAGROUPS_FUZZ_REQUIRE(e.http_status == error_status);
        if (!e.graph) WAGROUPS_FUZZ_REQUIRE(e.message.find(kToken) == std::string::npos);
        const wagroups::Error again = codec::decode_error_response(response, kToken);
        WAGROUPS_FUZZ_REQUIRE(again.message == e.message && again.graph_code() == e.graph_code());
        break;
      }
    }
  } catch (...) {
    wagroups_fuzz::fail("a Graph answer decoder threw", __FILE__, __LINE__);
  }
  return 0;
}
