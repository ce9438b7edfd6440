#include "wagroups/transport.hpp"

#include <cctype>

namespace wagroups {

Transport::~Transport() = default;

const char* to_string(HttpMethod method) noexcept {
  switch (method) {
    case HttpMethod::get: return "GET";
    case HttpMethod::post: return "POST";
    case HttpMethod::delete_: return "DELETE";
  }
  return "GET";
}

namespace {
bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}
}  // namespace

std::optional<std::string_view> find_header(const HttpHeaders& headers, std::string_view name) noexcept {
  for (const auto& h : headers) {
    if (iequals(h.first, name)) return std::string_view(h.second);
  }
  return std::nullopt;
}

}  // namespace wagroups
