#include "wagroups/http/transport.hpp"

#include <algorithm>
#include <thread>

#include "util/text.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

Transport::~Transport() = default;
ConcurrentRequests::~ConcurrentRequests() = default;

void Transport::send_concurrently(ConcurrentRequests& work, std::size_t /*max_in_flight*/) {
  // One at a time: nothing is ever in flight when `next` is asked, so it never answers `later`.
  for (;;) {
    ConcurrentRequests::Next next = work.next(0);
    if (next.kind == ConcurrentRequests::Next::Kind::done) return;
    if (next.kind != ConcurrentRequests::Next::Kind::request) {
      // A breach of the contract (`later` with nothing in flight): wait rather than spin.
      std::this_thread::sleep_for(std::max(next.wait, std::chrono::milliseconds(1)));
      continue;
    }
    work.completed(next.tag, send(next.request));
  }
}

const char* to_string(HttpMethod method) noexcept {
  switch (method) {
    case HttpMethod::get: return "GET";
    case HttpMethod::post: return "POST";
    case HttpMethod::delete_: return "DELETE";
  }
  return "GET";
}

std::optional<std::string_view> find_header(const HttpHeaders& headers, std::string_view name) noexcept {
  for (const auto& h : headers) {
    if (text::iequals_ascii(h.first, name)) return std::string_view(h.second);
  }
  return std::nullopt;
}

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
