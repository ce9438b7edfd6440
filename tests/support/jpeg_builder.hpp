#pragma once

// JPEG byte strings built segment by segment, for the profile-picture checks (unit tests), the
// simulator's upload handling (sandbox tests) and the multipart upload over HTTP (integration
// tests). No Catch2.

#include <string>

namespace wagroups_test::jpeg {

constexpr unsigned char kSof0 = 0xC0;  // baseline
constexpr unsigned char kSof2 = 0xC2;  // progressive

inline void put(std::string& out, unsigned v) { out.push_back(static_cast<char>(v & 0xFFu)); }
inline void put16(std::string& out, unsigned v) {
  put(out, v >> 8);
  put(out, v);
}

/// A marker segment: FF <marker> <length incl. itself> <payload>.
inline void segment(std::string& out, unsigned marker, const std::string& payload) {
  put(out, 0xFF);
  put(out, marker);
  put16(out, static_cast<unsigned>(payload.size() + 2));
  out += payload;
}

/// The APP0 payload of a JFIF 1.01 file: no density units, 1x1, no thumbnail.
inline std::string app0_jfif() {
  std::string p = "JFIF";
  p.push_back('\0');
  put(p, 1);  // version 1.01
  put(p, 1);
  put(p, 0);  // density units
  put16(p, 1);
  put16(p, 1);
  put(p, 0);  // no thumbnail
  put(p, 0);
  return p;
}

/// The DC luminance table of JPEG Annex K: a DHT segment (marker C4, which is not a frame header)
/// whose first bytes would read as 1x1281 if taken for one.
inline std::string dht_payload() {
  std::string p;
  put(p, 0x00);
  for (unsigned n : {0u, 1u, 5u, 1u, 1u, 1u, 1u, 1u, 1u, 0u, 0u, 0u, 0u, 0u, 0u, 0u}) put(p, n);
  for (unsigned s = 0; s < 12; ++s) put(p, s);
  return p;
}

/// A frame header's payload: 8-bit precision, `width` x `height`, three components (4:2:0).
inline std::string sof_payload(unsigned width, unsigned height) {
  std::string p;
  put(p, 8);  // precision
  put16(p, height);
  put16(p, width);
  put(p, 3);  // components: id, sampling, quantisation table
  for (unsigned id = 1; id <= 3; ++id) {
    put(p, id);
    put(p, id == 1 ? 0x22 : 0x11);
    put(p, id == 1 ? 0 : 1);
  }
  return p;
}

/// SOI, APP0/JFIF, [APP1 `app1_payload` when not empty], [DHT], SOFn (`sof`) of `width` x `height`,
/// EOI.
inline std::string make_jpeg(unsigned width, unsigned height, unsigned char sof = kSof0, bool with_dht = true,
                             const std::string& app1_payload = {}) {
  std::string b;
  put(b, 0xFF);
  put(b, 0xD8);
  segment(b, 0xE0, app0_jfif());
  if (!app1_payload.empty()) segment(b, 0xE1, app1_payload);
  if (with_dht) segment(b, 0xC4, dht_payload());
  segment(b, sof, sof_payload(width, height));
  put(b, 0xFF);
  put(b, 0xD9);
  return b;
}

}  // namespace wagroups_test::jpeg
