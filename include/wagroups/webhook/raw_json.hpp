#pragma once

/// @file
/// `RawJson`: a read-only view of one JSON value of a parsed webhook body.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// A read-only view of one JSON value inside a parsed webhook body: the whole `value` of a change
/// for an `UnknownEvent`, the item (`groups[i]`, `messages[i]`, `statuses[i]`) for typed events.
/// It keeps the parsed body alive (shared, immutable, safe to read from several threads), so
/// fields the SDK does not model stay reachable without re-parsing. Cheap to copy.
class WAGROUPS_API RawJson {
 public:
  RawJson() = default;
  /// Compact JSON text of the value ("" for an empty view).
  std::string str() const;
  bool empty() const noexcept { return value_ == nullptr; }
  /// The member `key` of this object as text (strings as they are, numbers and bools rendered),
  /// unset when absent, null, an object or an array, or when this is not an object.
  std::optional<std::string> get(std::string_view key) const;
  /// The member `key` as a view of its own (empty when absent).
  RawJson at(std::string_view key) const;

  /// Internal: built by the parser.
  RawJson(std::shared_ptr<const void> owner, const void* value) noexcept : owner_(std::move(owner)), value_(value) {}

 private:
  std::shared_ptr<const void> owner_;  // keeps the parsed document (and the body it points into) alive
  const void* value_ = nullptr;        // a rapidjson::Value inside it
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
