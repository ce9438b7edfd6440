// RawJson: read-only views into a parsed webhook body (see parsed_body.hpp).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.hpp"
#include "wagroups/webhook/events.hpp"
#include "webhook/parsed_body.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

namespace {
const json::Value& value_of(const void* p) noexcept { return *static_cast<const json::Value*>(p); }
}  // namespace

// Iterative, unlike Value::Accept: a host may raise WebhookLimits::max_depth far beyond what
// one stack frame per level would survive, and the parser's own reader takes any depth.
std::string RawJson::str() const {
  if (!value_) return {};
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  struct Open {
    const json::Value* container;
    rapidjson::SizeType next;  // index of the next member or element to write
  };
  std::vector<Open> open;
  const json::Value* v = &value_of(value_);
  while (v) {
    switch (v->GetType()) {
      case rapidjson::kObjectType:
        writer.StartObject();
        open.push_back({v, 0});
        break;
      case rapidjson::kArrayType:
        writer.StartArray();
        open.push_back({v, 0});
        break;
      case rapidjson::kStringType: writer.String(v->GetString(), v->GetStringLength()); break;
      case rapidjson::kNumberType:
        if (v->IsDouble()) writer.Double(v->GetDouble());
        else if (v->IsUint64()) writer.Uint64(v->GetUint64());
        else writer.Int64(v->GetInt64());
        break;
      case rapidjson::kTrueType: writer.Bool(true); break;
      case rapidjson::kFalseType: writer.Bool(false); break;
      case rapidjson::kNullType: writer.Null(); break;
    }
    // The next value to write: the next member or element of the innermost open container,
    // closing the containers that have none left.
    v = nullptr;
    while (!v && !open.empty()) {
      Open& top = open.back();
      const json::Value& c = *top.container;
      if (c.IsObject() && top.next < c.MemberCount()) {
        const auto member = c.MemberBegin() + top.next++;
        writer.Key(member->name.GetString(), member->name.GetStringLength());
        v = &member->value;
      } else if (c.IsArray() && top.next < c.Size()) {
        v = &c[top.next++];
      } else {
        if (c.IsObject()) writer.EndObject(c.MemberCount());
        else writer.EndArray(c.Size());
        open.pop_back();
      }
    }
  }
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

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
