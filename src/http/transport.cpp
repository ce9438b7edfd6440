#include "wagroups/http/transport.hpp"

#include "util/text.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

Transport::~Transport() = default;

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
