// fuzz_cli_json_writer: the `wagroups` CLI's JsonWriter (tools/wagroups/output.*), which writes
// every --json line the CLI prints.
//
// The input is a list of members: a kind byte, a length-prefixed key, then the value (a
// length-prefixed string, 8 bytes of a number, a byte for a bool, a length-prefixed raw JSON
// text, or a nested array of two strings). Invariants:
//   - when every key and string is UTF-8, the writer's text parses with RapidJSON's
//     kParseValidateEncodingFlag into an object whose members are the keys and values written, in
//     order (strings byte for byte, NULs and controls included; numbers exactly);
//   - whatever the bytes, terminal_safe(text) (what write_line prints) is one line that parses the
//     same way, each string coming back as its UTF-8 repair (a U+FFFD per byte that is not UTF-8);
//   - `raw` text is inserted only when it is valid JSON, and then comes back as an equal value.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "json/rapidjson.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "output.hpp"

namespace {

enum class Kind { string, number, boolean, raw, array };

struct Member {
  std::string key;
  Kind kind = Kind::string;
  std::string text;   // string; raw JSON text; the array's first string
  std::string text2;  // the array's second string
  std::int64_t number = 0;
  bool flag = false;
};

constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

bool same_string(const rapidjson::Value& v, const std::string& expected) {
  return v.IsString() && v.GetStringLength() == expected.size() &&
         std::memcmp(v.GetString(), expected.data(), expected.size()) == 0;
}

/// `s` as the parse must give it back: unchanged from the writer's own text, repaired through
/// terminal_safe.
std::string expect(const std::string& s, bool repaired) { return repaired ? wagroups::text::repair_utf8(s) : s; }

/// `v` written compactly. Values are compared this way, not with operator==, which looks members
/// up by name and so tells {"d":1,"d":2} from itself.
std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

void check(const std::string& text, const std::vector<Member>& members, bool repaired) {
  rapidjson::Document doc;
  doc.Parse<kFlags>(text.c_str());  // the writer escapes NUL, so the whole text is read (see valid_json)
  if (doc.HasParseError()) {
    std::fprintf(stderr, "JSON refused at offset %zu (code %d): %s\n", doc.GetErrorOffset(),
                 static_cast<int>(doc.GetParseError()), wagroups::text::excerpt(text, {}, 400).c_str());
  }
  WAGROUPS_FUZZ_REQUIRE(!doc.HasParseError());
  WAGROUPS_FUZZ_REQUIRE(doc.IsObject());
  WAGROUPS_FUZZ_REQUIRE(doc.MemberCount() == members.size());
  auto it = doc.MemberBegin();
  for (const auto& m : members) {
    WAGROUPS_FUZZ_REQUIRE(same_string(it->name, expect(m.key, repaired)));
    const rapidjson::Value& v = it->value;
    switch (m.kind) {
      case Kind::string: WAGROUPS_FUZZ_REQUIRE(same_string(v, expect(m.text, repaired))); break;
      case Kind::number: WAGROUPS_FUZZ_REQUIRE(v.IsInt64() && v.GetInt64() == m.number); break;
      case Kind::boolean: WAGROUPS_FUZZ_REQUIRE(v.IsBool() && v.GetBool() == m.flag); break;
      case Kind::raw: {
        rapidjson::Document inserted;
        inserted.Parse<kFlags>(m.text.c_str());
        WAGROUPS_FUZZ_REQUIRE(compact(v) == compact(inserted));
        break;
      }
      case Kind::array:
        WAGROUPS_FUZZ_REQUIRE(v.IsArray() && v.Size() == 2);
        WAGROUPS_FUZZ_REQUIRE(same_string(v[0], expect(m.text, repaired)));
        WAGROUPS_FUZZ_REQUIRE(same_string(v[1], expect(m.text2, repaired)));
        break;
    }
    ++it;
  }
}

bool valid_json(std::string_view text) {
  // RapidJSON stops at a NUL byte as at the end of the text, so "4\0junk" would pass: a NUL is
  // never JSON outside a string, and never raw inside one.
  if (text.find('\0') != std::string_view::npos) return false;
  // The NUL-terminated form: Parse(data, size) reads through EncodedInputStream<UTF8, MemoryStream>,
  // which skips any of the bytes EF, BB, BF at the start (a BOM, byte by byte), so "\xEF" "2"
  // would pass as 2.
  // Padded, as json::parse_padded pads: RapidJSON 1.1.0's UTF-8 check takes every continuation
  // byte a lead byte announces, even after the NUL that ends the text, so "\"\xE4" read 2 bytes
  // past an unpadded copy (found by this target).
  std::string copy(text);
  copy.append(4, '\0');
  rapidjson::Document doc;
  doc.Parse<kFlags>(copy.c_str());
  return !doc.HasParseError();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wagroups_fuzz::Reader in(data, size);
  std::vector<Member> members;
  bool all_utf8 = true;
  while (!in.empty() && members.size() < 64) {
    Member m;
    const std::uint8_t kind = in.byte();
    m.key = std::string(in.string());
    switch (kind % 5) {
      case 0: m.text = std::string(in.string()); break;
      case 1:
        m.kind = Kind::number;
        m.number = static_cast<std::int64_t>(in.u64());
        break;
      case 2:
        m.kind = Kind::boolean;
        m.flag = in.byte() & 1;
        break;
      case 3:
        m.kind = Kind::raw;
        m.text = std::string(in.string());
        if (!valid_json(m.text)) continue;
        break;
      default:
        m.kind = Kind::array;
        m.text = std::string(in.string());
        m.text2 = std::string(in.string());
        break;
    }
    // A raw value is whole JSON text, already checked (and so already UTF-8).
    all_utf8 = all_utf8 && wagroups_fuzz::utf8(m.key) && (m.kind == Kind::raw || wagroups_fuzz::utf8(m.text)) &&
               wagroups_fuzz::utf8(m.text2);
    members.push_back(std::move(m));
  }
  try {
    wagroups_cli::JsonWriter w;
    w.begin_object();
    for (const auto& m : members) {
      w.key(m.key);
      switch (m.kind) {
        case Kind::string: w.string(m.text); break;
        case Kind::number: w.number(m.number); break;
        case Kind::boolean: w.boolean(m.flag); break;
        case Kind::raw: w.raw(m.text); break;
        case Kind::array: w.begin_array().string(m.text).string(m.text2).end_array(); break;
      }
    }
    w.end_object();
    if (all_utf8) check(w.text(), members, false);
    const std::string line = wagroups_cli::terminal_safe(w.text());
    WAGROUPS_FUZZ_REQUIRE(line.find('\n') == std::string::npos && line.find('\r') == std::string::npos);
    WAGROUPS_FUZZ_REQUIRE(wagroups_fuzz::utf8(line));
    check(line, members, true);
  } catch (...) {
    wagroups_fuzz::fail("the CLI's JSON writer threw", __FILE__, __LINE__);
  }
  return 0;
}
