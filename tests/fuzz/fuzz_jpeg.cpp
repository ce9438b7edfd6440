// fuzz_jpeg: the JPEG frame reader the client runs on a profile picture before uploading it.
//
// Invariants, for every input:
//   - read_dimensions and check_profile_picture never read outside the bytes (ASan) and never throw;
//   - dimensions found are 16-bit values, and stay the same when bytes are appended (the reader
//     stops at the first frame header);
//   - check_profile_picture accepts only what read_dimensions reads as square, at least 192x192,
//     within 5 MB; its refusals are invalid_argument on "profile_picture";
//   - a minimal JPEG whose frame header carries the input's first four bytes as height and width,
//     after an APPn segment of fuzz-chosen content, reads back exactly those dimensions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/jpeg.hpp"
#include "fuzz_support.hpp"
#include "wagroups/limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  namespace jpeg = wagroups::jpeg;
  try {
    const auto dims = jpeg::read_dimensions(bytes);
    if (dims) {
      WAGROUPS_FUZZ_REQUIRE(dims->width >= 0 && dims->width <= 0xFFFF);
      WAGROUPS_FUZZ_REQUIRE(dims->height >= 0 && dims->height <= 0xFFFF);
      const auto longer = jpeg::read_dimensions(std::string(bytes) + "\xFF\xC0\x00\x11\x08\x01\x02\x03\x04");
      WAGROUPS_FUZZ_REQUIRE(longer && longer->width == dims->width && longer->height == dims->height);
    }
    const auto checked = jpeg::check_profile_picture(bytes);
    if (checked.ok()) {
      WAGROUPS_FUZZ_REQUIRE(dims && dims->width == dims->height && dims->width >= wagroups::limits::picture_min_side);
      WAGROUPS_FUZZ_REQUIRE(bytes.size() <= wagroups::limits::picture_max_bytes);
    } else {
      WAGROUPS_FUZZ_REQUIRE(checked.error().code == wagroups::ErrorCode::invalid_argument);
      WAGROUPS_FUZZ_REQUIRE(checked.error().field == "profile_picture");
    }

    // A well-formed file carrying chosen dimensions.
    wagroups_fuzz::Reader in(data, size);
    const int height = in.byte() << 8 | in.byte();
    const int width = in.byte() << 8 | in.byte();
    const std::string_view app = in.take(200);
    std::string file("\xFF\xD8", 2);
    file += "\xFF\xE0";  // APP0 with whatever the input holds
    file += static_cast<char>(((app.size() + 2) >> 8) & 0xFF);
    file += static_cast<char>((app.size() + 2) & 0xFF);
    file += app;
    file += "\xFF\xC0";  // SOF0: length 17, precision 8, height, width, 3 components
    file += std::string("\x00\x11\x08", 3);
    file += static_cast<char>(height >> 8);
    file += static_cast<char>(height & 0xFF);
    file += static_cast<char>(width >> 8);
    file += static_cast<char>(width & 0xFF);
    file += std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
    file += "\xFF\xD9";
    const auto read = jpeg::read_dimensions(file);
    WAGROUPS_FUZZ_REQUIRE(read && read->width == width && read->height == height);
  } catch (...) {
    wagroups_fuzz::fail("the JPEG reader threw", __FILE__, __LINE__);
  }
  return 0;
}
