// Meta's refusals, checked by the simulator itself. The simulator is the oracle the Client is
// tested against, so it must not borrow the Client's validation: a slip there would then agree
// with itself. These checks are written from Meta's documented facts (reference §1 limits and §2
// endpoints: subject at most 128 characters, whitespace trimmed; description at most 2048; profile
// picture image/jpeg, at most 5 MB, square, at least 192x192) and one the reference does not state
// but the Cloud API applies to every text message (text at most 4096), with the numbers taken from
// wagroups/limits.hpp, and count and read only what those facts need.

#include "sandbox/simulator_engine.hpp"
#include "wagroups/graph_codes.hpp"
#include "wagroups/limits.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace sandbox {
namespace sim {

namespace {

// --- text ------------------------------------------------------------------------------------
// Meta counts characters, so the simulator counts code points of well-formed UTF-8 (Unicode's
// table of well-formed byte sequences, Table 3-7: the lead byte fixes the length, and for E0, ED,
// F0 and F4 narrows the second byte, which is what rules out overlong forms, surrogates and
// anything past U+10FFFF).

struct CodePoint {
  char32_t value = 0;
  std::size_t bytes = 1;
  bool valid = false;
};

CodePoint code_point_at(std::string_view s, std::size_t at) {
  const auto lead = static_cast<unsigned char>(s[at]);
  if (lead < 0x80) return {lead, 1, true};
  if (lead < 0xC2 || lead > 0xF4) return {};
  const std::size_t bytes = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (s.size() - at < bytes) return {};
  unsigned char low = 0x80, high = 0xBF;
  switch (lead) {
    case 0xE0: low = 0xA0; break;
    case 0xED: high = 0x9F; break;
    case 0xF0: low = 0x90; break;
    case 0xF4: high = 0x8F; break;
    default: break;
  }
  char32_t value = lead & (0x7Fu >> bytes);
  for (std::size_t k = 1; k < bytes; ++k, low = 0x80, high = 0xBF) {
    const auto next = static_cast<unsigned char>(s[at + k]);
    if (next < low || next > high) return {};
    value = value << 6 | (next & 0x3Fu);
  }
  return {value, bytes, true};
}

// How many characters Meta would count, or nullopt when `s` is not UTF-8.
std::optional<std::size_t> characters(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t at = 0; at < s.size(); ++count) {
    const CodePoint cp = code_point_at(s, at);
    if (!cp.valid) return std::nullopt;
    at += cp.bytes;
  }
  return count;
}

// Meta says "whitespace trimmed" and lists nothing; the simulator reads it as what renders as
// nothing at a subject's edge: ASCII whitespace (TAB..CR, space), Unicode's space separators
// (U+00A0, U+1680, U+2000..U+200A, U+202F, U+205F, U+3000), the line and paragraph separators
// (U+2028, U+2029) and a stray byte-order mark (U+FEFF).
bool blank(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c >= 0x2000 && c <= 0x200A) return true;
  switch (c) {
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF: return true;
    default: return false;
  }
}

// --- pictures --------------------------------------------------------------------------------
// A JPEG is SOI (FF D8) and then a chain of marker segments: one or more FF bytes, a marker code
// and, for most codes, a big-endian length that counts itself. The frame header (SOFn) gives the
// size: precision, then height, then width. What Meta calls "image/jpeg" the simulator takes as
// "a frame header before the first scan".

struct Segment {
  unsigned char code = 0;
  std::string_view body;
};

unsigned be16(std::string_view b, std::size_t at) {
  return static_cast<unsigned>(static_cast<unsigned char>(b[at])) << 8 | static_cast<unsigned char>(b[at + 1]);
}

// The next length-counted segment of `rest` (consumed), past standalone markers; nullopt at the
// image data, at the end, or at anything that is not a marker.
std::optional<Segment> next_segment(std::string_view& rest) {
  for (;;) {
    const std::size_t code_at = rest.find_first_not_of('\xFF');
    if (code_at == 0 || code_at == std::string_view::npos) return std::nullopt;
    const auto code = static_cast<unsigned char>(rest[code_at]);
    rest.remove_prefix(code_at + 1);
    if (code == 0xD9 || code == 0xDA) return std::nullopt;         // EOI, SOS: no frame header came
    if (code == 0x01 || (code >= 0xD0 && code <= 0xD8)) continue;  // TEM, RSTn, SOI: no length
    if (rest.size() < 2) return std::nullopt;
    const std::size_t length = be16(rest, 0);
    if (length < 2 || length > rest.size()) return std::nullopt;
    Segment seg{code, rest.substr(2, length - 2)};
    rest.remove_prefix(length);
    return seg;
  }
}

// SOF0..SOF15 are C0..CF, except for the table markers among them: C4 (DHT), C8 (JPG), CC (DAC).
bool frame_header(unsigned char code) {
  const unsigned low = code & 0x0Fu;
  return (code & 0xF0u) == 0xC0u && (low == 0 || low % 4 != 0);
}

Failure too_long(const char* field, std::size_t max) {
  return invalid_parameter(std::string(field) + " must be at most " + std::to_string(max) + " characters");
}

}  // namespace

std::string trim_blanks(std::string_view text) {
  std::size_t from = 0;
  while (from < text.size()) {
    const CodePoint cp = code_point_at(text, from);
    if (!cp.valid || !blank(cp.value)) break;
    from += cp.bytes;
  }
  // One walk forward finds where the last non-blank character ends (UTF-8 does not read backwards
  // as easily); a byte that is not UTF-8 counts as a character, so it stays for the checks to refuse.
  std::size_t to = from;
  for (std::size_t at = from; at < text.size();) {
    const CodePoint cp = code_point_at(text, at);
    at += cp.bytes;
    if (!cp.valid || !blank(cp.value)) to = at;
  }
  return std::string(text.substr(from, to - from));
}

std::optional<Failure> check_subject(std::string_view trimmed) {
  if (trimmed.empty()) return missing_parameter("subject must not be empty");
  const auto n = characters(trimmed);
  if (!n) return invalid_parameter("subject is not valid UTF-8");
  if (*n > limits::subject_max_chars) return too_long("subject", limits::subject_max_chars);
  return std::nullopt;
}

std::optional<Failure> check_description(std::string_view description) {
  const auto n = characters(description);
  if (!n) return invalid_parameter("description is not valid UTF-8");
  if (*n > limits::description_max_chars) return too_long("description", limits::description_max_chars);
  return std::nullopt;
}

std::optional<Failure> check_text_body(std::string_view body) {
  const auto n = characters(body);
  if (n && *n <= limits::text_max_chars) return std::nullopt;
  return invalid_parameter("text.body must be valid UTF-8 of at most " + std::to_string(limits::text_max_chars) +
                           " characters");
}

std::optional<Failure> check_picture(std::string_view bytes) {
  if (bytes.size() > limits::picture_max_bytes) return invalid_parameter("the picture must be at most 5 MB");
  std::optional<Segment> frame;
  if (bytes.size() >= 4 && be16(bytes, 0) == 0xFFD8u) {
    std::string_view rest = bytes.substr(2);
    do {
      frame = next_segment(rest);
    } while (frame && !frame_header(frame->code));
  }
  if (!frame || frame->body.size() < 5) return invalid_parameter("the picture must be a JPEG image");
  const unsigned height = be16(frame->body, 1), width = be16(frame->body, 3);
  if (width != height)
    return failure(400, graph_codes::picture_aspect_ratio, "Invalid Group Profile Picture Aspect Ratio",
                   "Width and height of the image must be equal.");
  if (width < static_cast<unsigned>(limits::picture_min_side))
    return failure(400, graph_codes::picture_too_small, "Image is Too Small to Process",
                   "Image width and height must be greater than " + std::to_string(limits::picture_min_side) + "px.");
  return std::nullopt;
}

}  // namespace sim
}  // namespace sandbox
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
