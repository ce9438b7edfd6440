#pragma once

// Reads a JPEG's dimensions from its frame header, so that a profile picture Meta would refuse
// (not JPEG, not square, under 192x192, over 5 MB) is refused before it is uploaded.

#include <optional>
#include <string_view>

#include "wagroups/result.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace jpeg {

struct Dimensions {
  int width = 0;
  int height = 0;
};

/// The width and height from the first SOF marker, or nullopt when `bytes` is not a readable JPEG.
std::optional<Dimensions> read_dimensions(std::string_view bytes) noexcept;

/// Checks the profile-picture rules: JPEG, at most 5 MB, square, at least 192x192.
Result<void> check_profile_picture(std::string_view bytes);

}  // namespace jpeg
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
