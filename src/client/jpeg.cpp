#include "client/jpeg.hpp"

#include <string>

#include "wagroups/models/groups.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace jpeg {

namespace {
int be16(std::string_view b, std::size_t at) noexcept {
  return (static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]);
}
bool is_start_of_frame(unsigned char marker) noexcept {
  // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}
}  // namespace

std::optional<Dimensions> read_dimensions(std::string_view b) noexcept {
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xFF || static_cast<unsigned char>(b[1]) != 0xD8)
    return std::nullopt;
  std::size_t i = 2;
  while (i + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[i]) != 0xFF) return std::nullopt;
    auto marker = static_cast<unsigned char>(b[i + 1]);
    if (marker == 0xFF) { ++i; continue; }  // fill byte
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
    if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // image data before any frame header
    const int length = be16(b, i + 2);
    if (length < 2 || i + 2 + static_cast<std::size_t>(length) > b.size()) return std::nullopt;
    if (is_start_of_frame(marker)) {
      if (length < 7) return std::nullopt;
      return Dimensions{be16(b, i + 7), be16(b, i + 5)};
    }
    i += 2 + static_cast<std::size_t>(length);
  }
  return std::nullopt;
}

Result<void> check_profile_picture(std::string_view bytes) {
  const char* field = "profile_picture";
  if (bytes.empty()) return Error::invalid_argument(field, "a JPEG file", "profile_picture is empty");
  if (bytes.size() > limits::picture_max_bytes) {
    return Error::invalid_argument(field, "at most 5 MB",
                                   "profile_picture is " + std::to_string(bytes.size()) +
                                       " bytes; it must be at most 5 MB (5242880 bytes)");
  }
  auto dims = read_dimensions(bytes);
  if (!dims) return Error::invalid_argument(field, "a JPEG image (image/jpeg)", "profile_picture is not a readable JPEG image");
  const std::string size = std::to_string(dims->width) + "x" + std::to_string(dims->height);
  if (dims->width != dims->height)
    return Error::invalid_argument(field, "square (width = height)", "profile_picture is " + size + "; it must be square");
  if (dims->width < limits::picture_min_side)
    return Error::invalid_argument(field, "at least 192x192", "profile_picture is " + size + "; it must be at least 192x192");
  return {};
}

}  // namespace jpeg
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
