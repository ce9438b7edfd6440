// Profile-picture checks (JPEG, square, at least 192x192, at most 5 MB) and the multipart upload,
// with JPEG byte strings built segment by segment (tests/support/jpeg_builder.hpp).

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/jpeg.hpp"
#include "jpeg_builder.hpp"
#include "test_support.hpp"
#include "wagroups/client/client.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using wagroups::ErrorCode;
using wagroups_test::FakeClient;
using namespace wagroups_test::jpeg;  // make_jpeg, segment, put, kSof0, ... (tests/support)

namespace {

constexpr const char* kGroup = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
constexpr std::size_t kFiveMb = 5u * 1024u * 1024u;

// A valid JPEG of exactly `total` bytes: APP1 padding segments between APP0 and the frame
// header, so the parser has to walk them all to find the dimensions.
std::string make_padded_jpeg(unsigned side, std::size_t total) {
  const std::string plain = make_jpeg(side, side);
  std::string head, tail;
  head.push_back(static_cast<char>(0xFF));
  head.push_back(static_cast<char>(0xD8));
  segment(head, 0xE0, app0_jfif());
  tail = plain.substr(head.size());
  REQUIRE(total >= plain.size() + 4);
  std::size_t pad = total - plain.size();
  std::string padding;
  padding.reserve(pad);
  while (pad > 0) {
    std::size_t seg = pad < 65537 ? pad : 65537;         // 2 marker bytes + length up to 65535
    if (pad - seg > 0 && pad - seg < 4) seg -= 4;        // leave room for one more whole segment
    segment(padding, 0xE1, std::string(seg - 4, 'x'));  // 4 = marker + length
    pad -= seg;
  }
  std::string out = head + padding + tail;
  REQUIRE(out.size() == total);
  return out;
}

std::string png_bytes() {
  std::string b = "\x89PNG\r\n\x1a\n";
  b += std::string("\0\0\0\x0dIHDR", 8);
  put16(b, 0);
  put16(b, 640);
  put16(b, 0);
  put16(b, 640);
  b += std::string(5, '\0');
  return b;
}

wagroups::UpdateGroupSettingsRequest picture_update(std::string bytes) {
  wagroups::UpdateGroupSettingsRequest req;
  req.group_id = kGroup;
  req.profile_picture = wagroups::ProfilePicture{std::move(bytes), "square.jpg"};
  return req;
}

// The picture is refused by the Client for `limit_contains`, without touching the transport.
void check_client_refuses(const std::string& bytes, const std::string& limit_contains) {
  FakeClient fc;
  auto r = fc.client.update_group_settings(picture_update(bytes));
  REQUIRE_FALSE(r.ok());
  INFO("error: " << r.error().to_string());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().field == "profile_picture");
  CHECK_THAT(r.error().limit, ContainsSubstring(limit_contains));
  CHECK(fc.transport->request_count() == 0);
}

void check_refused(const std::string& bytes, const std::string& limit_contains) {
  auto r = wagroups::jpeg::check_profile_picture(bytes);
  REQUIRE_FALSE(r.ok());
  INFO("error: " << r.error().to_string());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().field == "profile_picture");
  CHECK_THAT(r.error().limit, ContainsSubstring(limit_contains));
  check_client_refuses(bytes, limit_contains);
}

struct Part {
  std::string headers;
  std::string content;
};

// Splits a multipart body on `--boundary` delimiters (RFC 2046); fails the test on bad framing.
std::vector<Part> parse_multipart(const std::string& body, const std::string& boundary) {
  const std::string delimiter = "--" + boundary;
  std::vector<Part> parts;
  REQUIRE(body.compare(0, delimiter.size(), delimiter) == 0);
  std::size_t pos = delimiter.size();
  for (;;) {
    if (body.compare(pos, 2, "--") == 0) break;  // close delimiter
    REQUIRE(body.compare(pos, 2, "\r\n") == 0);
    pos += 2;
    const std::size_t header_end = body.find("\r\n\r\n", pos);
    REQUIRE(header_end != std::string::npos);
    const std::size_t content_start = header_end + 4;
    const std::size_t next = body.find("\r\n" + delimiter, content_start);
    REQUIRE(next != std::string::npos);
    parts.push_back({body.substr(pos, header_end - pos), body.substr(content_start, next - content_start)});
    pos = next + 2 + delimiter.size();
  }
  return parts;
}

const Part* find_part(const std::vector<Part>& parts, const std::string& name) {
  const std::string needle = "name=\"" + name + "\"";
  for (const auto& p : parts) {
    if (p.headers.find(needle) != std::string::npos) return &p;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("read_dimensions reads the frame header", "[jpeg]") {
  SECTION("baseline, square") {
    auto d = wagroups::jpeg::read_dimensions(make_jpeg(640, 640));
    REQUIRE(d.has_value());
    CHECK(d->width == 640);
    CHECK(d->height == 640);
  }
  SECTION("width and height are not swapped") {
    auto d = wagroups::jpeg::read_dimensions(make_jpeg(200, 300));
    REQUIRE(d.has_value());
    CHECK(d->width == 200);
    CHECK(d->height == 300);
  }
  SECTION("progressive (SOF2)") {
    auto d = wagroups::jpeg::read_dimensions(make_jpeg(1080, 720, kSof2));
    REQUIRE(d.has_value());
    CHECK(d->width == 1080);
    CHECK(d->height == 720);
  }
  SECTION("a DHT segment is not taken for a frame header") {
    auto d = wagroups::jpeg::read_dimensions(make_jpeg(256, 256, kSof0, true));
    REQUIRE(d.has_value());
    CHECK(d->width == 256);
    CHECK(d->height == 256);
  }
  SECTION("no frame header, not JPEG, truncated, empty") {
    std::string soi_eoi;
    put(soi_eoi, 0xFF);
    put(soi_eoi, 0xD8);
    put(soi_eoi, 0xFF);
    put(soi_eoi, 0xD9);
    CHECK_FALSE(wagroups::jpeg::read_dimensions(soi_eoi).has_value());
    CHECK_FALSE(wagroups::jpeg::read_dimensions(png_bytes()).has_value());
    CHECK_FALSE(wagroups::jpeg::read_dimensions("").has_value());
    const std::string full = make_jpeg(640, 640);
    const std::size_t sof_at = full.find(std::string("\xFF\xC0", 2));
    REQUIRE(sof_at != std::string::npos);
    const std::size_t sof_end = sof_at + 2 + 17;  // marker + length(2) + 15 bytes of payload
    REQUIRE(sof_end + 2 == full.size());
    // Every prefix that cuts a segment short, the frame header included, is unreadable.
    for (std::size_t cut = 0; cut < sof_end; ++cut) {
      INFO("cut at " << cut);
      CHECK_FALSE(wagroups::jpeg::read_dimensions(std::string_view(full).substr(0, cut)).has_value());
    }
    // The frame header complete without EOI is enough.
    CHECK(wagroups::jpeg::read_dimensions(std::string_view(full).substr(0, sof_end)).has_value());
  }
}

TEST_CASE("profile picture: accepted sizes", "[jpeg]") {
  for (unsigned side : {192u, 640u, 1024u}) {
    INFO("side " << side);
    CHECK(wagroups::jpeg::check_profile_picture(make_jpeg(side, side)).ok());
    CHECK(wagroups::jpeg::check_profile_picture(make_jpeg(side, side, kSof2, false)).ok());
  }
  SECTION("exactly 5 MB is allowed") {
    const std::string big = make_padded_jpeg(640, kFiveMb);
    auto d = wagroups::jpeg::read_dimensions(big);
    REQUIRE(d.has_value());
    CHECK(d->width == 640);
    CHECK(wagroups::jpeg::check_profile_picture(big).ok());
  }
}

TEST_CASE("profile picture: refused before sending", "[jpeg]") {
  SECTION("smaller than 192x192") {
    check_refused(make_jpeg(191, 191), "192");
    check_refused(make_jpeg(191, 191), "at least 192x192");
    check_refused(make_jpeg(1, 1, kSof2), "192");
  }
  SECTION("not square") {
    check_refused(make_jpeg(200, 300), "square");
    check_refused(make_jpeg(640, 639, kSof2), "square");
  }
  SECTION("a PNG") { check_refused(png_bytes(), "JPEG"); }
  SECTION("no frame header") {
    std::string soi_eoi;
    put(soi_eoi, 0xFF);
    put(soi_eoi, 0xD8);
    put(soi_eoi, 0xFF);
    put(soi_eoi, 0xD9);
    check_refused(soi_eoi, "JPEG");
  }
  SECTION("a truncated segment") {
    const std::string full = make_jpeg(640, 640);
    // Cut inside the SOF segment (5 bytes into its payload): its declared length overruns the data.
    const std::size_t sof_at = full.find(std::string("\xFF\xC0", 2));
    REQUIRE(sof_at != std::string::npos);
    check_refused(full.substr(0, sof_at + 4 + 5), "JPEG");
    // Cut inside the APP0 segment.
    check_refused(full.substr(0, 10), "JPEG");
  }
  SECTION("empty") {
    auto r = wagroups::jpeg::check_profile_picture("");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "profile_picture");
    CHECK_FALSE(r.error().limit.empty());
    FakeClient fc;
    auto c = fc.client.update_group_settings(picture_update(""));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().field == "profile_picture");
    CHECK(fc.transport->request_count() == 0);
  }
  SECTION("one byte over 5 MB, even when well-formed") {
    const std::string padded = make_padded_jpeg(640, kFiveMb + 1);
    REQUIRE(wagroups::jpeg::read_dimensions(padded).has_value());
    check_refused(padded, "5 MB");
    // Bytes appended after a valid header count too.
    std::string appended = make_jpeg(640, 640);
    appended.resize(kFiveMb + 1, '\0');
    check_refused(appended, "5 MB");
  }
  SECTION("a bad picture is refused even next to valid settings") {
    FakeClient fc;
    auto req = picture_update(make_jpeg(200, 300));
    req.subject = "Orders";
    req.description = "All about orders";
    auto r = fc.client.update_group_settings(req);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "profile_picture");
    CHECK(fc.transport->request_count() == 0);
  }
}

TEST_CASE("a valid picture is uploaded as its own multipart/form-data POST", "[jpeg]") {
  const std::string jpeg = make_jpeg(640, 640);

  auto upload = [&](std::optional<std::string> subject, std::optional<std::string> description) {
    FakeClient fc;
    fc.transport->enqueue(200, R"({"success":true})");
    auto req = picture_update(jpeg);
    req.subject = std::move(subject);
    req.description = std::move(description);
    auto r = fc.client.update_group_settings(req);
    if (!r.ok()) FAIL("upload refused: " << r.error().to_string());
    CHECK(r->success == std::optional<bool>(true));
    REQUIRE(fc.transport->request_count() == 1);
    return fc.transport->last_request();
  };

  auto boundary_of = [](const wagroups::HttpRequest& req) {
    const std::string content_type(req.header("Content-Type").value_or(""));
    INFO("Content-Type: " << content_type);
    REQUIRE_THAT(content_type, StartsWith("multipart/form-data"));
    const std::size_t at = content_type.find("boundary=");
    REQUIRE(at != std::string::npos);
    std::string boundary = content_type.substr(at + 9);
    if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"')
      boundary = boundary.substr(1, boundary.size() - 2);
    REQUIRE_FALSE(boundary.empty());
    REQUIRE(boundary.size() <= 70);  // RFC 2046
    return boundary;
  };

  SECTION("picture only") {
    const auto req = upload(std::nullopt, std::nullopt);
    CHECK(req.method == wagroups::HttpMethod::post);
    CHECK(req.url == std::string("https://graph.facebook.com/v26.0/") + kGroup);
    const std::string boundary = boundary_of(req);
    CHECK(jpeg.find(boundary) == std::string::npos);

    const auto parts = parse_multipart(req.body, boundary);
    const Part* product = find_part(parts, "messaging_product");
    REQUIRE(product != nullptr);
    CHECK(product->content == "whatsapp");

    const Part* file = find_part(parts, "file");
    REQUIRE(file != nullptr);
    CHECK_THAT(file->headers, ContainsSubstring("Content-Type: image/jpeg"));
    CHECK_THAT(file->headers, ContainsSubstring("filename=\"square.jpg\""));
    CHECK(file->content.size() == jpeg.size());
    CHECK(file->content == jpeg);

    CHECK(find_part(parts, "subject") == nullptr);
    CHECK(find_part(parts, "description") == nullptr);
  }
  SECTION("subject and description never ride in the multipart request") {
    // issue10 item 3: they go as a separate JSON request first (test_client_requests.cpp).
    FakeClient fc;
    fc.transport->enqueue(200, "");
    fc.transport->enqueue(200, R"({"success":true})");
    auto req = picture_update(jpeg);
    req.subject = std::string("Order #1042");
    req.description = std::string("Delivery questions");
    auto r = fc.client.update_group_settings(req);
    if (!r.ok()) FAIL("upload refused: " << r.error().to_string());
    REQUIRE(fc.transport->request_count() == 2);
    const auto picture = fc.transport->requests()[1];
    const auto parts = parse_multipart(picture.body, boundary_of(picture));
    CHECK(parts.size() == 2);
    CHECK(find_part(parts, "subject") == nullptr);
    CHECK(find_part(parts, "description") == nullptr);
    const Part* file = find_part(parts, "file");
    REQUIRE(file != nullptr);
    CHECK(file->content == jpeg);
  }
  SECTION("a JPEG full of CR LF and dashes survives byte for byte") {
    // An APP1 segment that looks like multipart framing; the body must carry it unchanged.
    std::string tricky;
    put(tricky, 0xFF);
    put(tricky, 0xD8);
    segment(tricky, 0xE0, app0_jfif());
    segment(tricky, 0xE1, "\r\n--\r\n\r\n--wagroups--\r\n" + std::string("\0\xFF\xD9", 3));
    segment(tricky, kSof0, sof_payload(192, 192));
    put(tricky, 0xFF);
    put(tricky, 0xD9);
    FakeClient fc;
    fc.transport->enqueue(200, "");
    auto r = fc.client.update_group_settings(picture_update(tricky));
    if (!r.ok()) FAIL("upload refused: " << r.error().to_string());
    REQUIRE(fc.transport->request_count() == 1);
    const auto req = fc.transport->last_request();
    const std::string boundary = boundary_of(req);
    CHECK(tricky.find(boundary) == std::string::npos);
    const auto parts = parse_multipart(req.body, boundary);
    const Part* file = find_part(parts, "file");
    REQUIRE(file != nullptr);
    CHECK(file->content == tricky);
  }
}

TEST_CASE("an EXIF thumbnail inside APP1 does not hide the real frame size", "[jpeg]") {
  // Cameras embed a small JPEG (with its own SOF) in the APP1/Exif segment; only the main frame
  // header counts.
  const std::string thumbnail = make_jpeg(160, 120);
  std::string b;
  put(b, 0xFF);
  put(b, 0xD8);
  segment(b, 0xE1, std::string("Exif\0\0", 6) + thumbnail);
  segment(b, kSof0, sof_payload(640, 640));
  put(b, 0xFF);
  put(b, 0xD9);
  auto d = wagroups::jpeg::read_dimensions(b);
  REQUIRE(d.has_value());
  CHECK(d->width == 640);
  CHECK(d->height == 640);
  CHECK(wagroups::jpeg::check_profile_picture(b).ok());
}
