// RawJson: read-only views into a parsed webhook body (see parsed_body.hpp).

#include <optional>
#include <string>
#include <string_view>

#include "json/json.hpp"
#include "wagroups/webhook_events.hpp"
#include "webhook/parsed_body.hpp"

namespace wagroups {

namespace {
const json::Value& value_of(const void* p) noexcept { return *static_cast<const json::Value*>(p); }
}  // namespace

std::string RawJson::str() const {
  if (!value_) return {};
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value_of(value_).Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> RawJson::get(std::string_view key) const {
  if (!value_) return std::nullopt;
  const json::Value* v = webhook::find_member(value_of(value_), key);
  return v ? json::as_string(*v) : std::nullopt;  // as_string leaves null, objects and arrays unset
}

RawJson RawJson::at(std::string_view key) const {
  if (!value_) return {};
  const json::Value* v = webhook::find_member(value_of(value_), key);
  return v ? RawJson(owner_, v) : RawJson();
}

}  // namespace wagroups
