#pragma once

// A strict RFC 8259 JSON reader for webhook bodies: it parses a NUL-padded buffer in place and
// sends RapidJSON SAX events (StartObject, Key, String, Uint64, ...) to a handler, normally a
// rapidjson::GenericDocument building the DOM.
//
// Why not rapidjson::Reader: with UTF-8 validation on, RapidJSON scans strings byte by byte, and
// even without it its SIMD string scan starts only after reaching 16-byte alignment, which most of
// a webhook's short strings never do; that made its reader the largest cost of a parse. This
// reader scans strings with unaligned 16-byte loads wherever 16 bytes remain (byte by byte in the
// last few), validates UTF-8 as it goes, and runs without recursion: nesting lives in an explicit
// stack bounded by `max_depth`, so no input can exhaust the call stack. It needs no padding, only
// the NUL byte that follows a std::string's characters: it reads nothing past that byte.
//
// What it accepts is RFC 8259 JSON, one root value with optional surrounding whitespace, strings of
// well-formed UTF-8 (no overlongs, no encoded surrogates, nothing above U+10FFFF), \u escapes whose
// surrogates come in pairs. Numbers become integers when they are integers that fit 64 bits
// (negative: down to INT64_MIN), else correctly rounded doubles (std::from_chars); a magnitude
// beyond double's range is refused, one below its smallest subnormal becomes 0. A NUL byte anywhere
// before `length` is refused. The tests compare it with rapidjson::Document::Parse on mutated
// bodies (tests/unit/test_webhook_hostile.cpp).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json/rapidjson.hpp"
#include <rapidjson/error/error.h>
#include <rapidjson/rapidjson.h>

#include "util/text.hpp"
#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace webhook {

struct ReadFailure {
  enum class Kind {
    none,
    syntax,           ///< `code` says what (RapidJSON's error codes and texts)
    invalid_utf8,     ///< an ill-formed UTF-8 sequence in a string
    lone_surrogate,   ///< a \u escape of an unpaired UTF-16 surrogate
    nul,              ///< a NUL byte in the text
    too_deep,         ///< more than max_depth containers open at once
    number_too_big,   ///< a number beyond double's range
  };
  Kind kind = Kind::none;
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  std::size_t offset = 0;
};

// Length of the well-formed UTF-8 sequence at `p` (p[0] >= 0x80), or 0 (Unicode 15, table 3-7).
inline std::size_t utf8_sequence_length(const unsigned char* p, std::size_t available) noexcept {
  const unsigned c = p[0];
  auto continuation = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < available && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return continuation(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlongs
    const unsigned hi = c == 0xED ? 0x9F : 0xBF;  // no surrogates
    return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80;  // no overlongs
    const unsigned hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// The string fast path belongs inlined in read(), the slow path out of it (GCC otherwise decides
// the reverse), and read() wants the handler's calls inlined too (flatten; noinline still holds).
// Undefined at the end of this header.
#if defined(__GNUC__)
#define WAGROUPS_READER_INLINE inline __attribute__((always_inline))
#define WAGROUPS_READER_NOINLINE __attribute__((noinline))
#define WAGROUPS_READER_FLATTEN __attribute__((flatten))
#else
#define WAGROUPS_READER_FLATTEN
#define WAGROUPS_READER_INLINE inline
#define WAGROUPS_READER_NOINLINE
#endif

template <typename Handler>
class StrictReader {
 public:
  /// `text[length]` must be a NUL byte (as in a std::string); nothing after it is read. `text` is
  /// rewritten in place:
  /// strings are unescaped where they lie and NUL-terminated, and the handler receives pointers into
  /// `text` (copy = false).
  StrictReader(char* text, std::size_t length, int max_depth, Handler& handler) noexcept
      : begin_(text), end_(text + length), p_(text), max_depth_(max_depth < 0 ? 0 : max_depth), h_(handler) {}
  StrictReader(const StrictReader&) = delete;
  StrictReader& operator=(const StrictReader&) = delete;

  /// Reads the one root value; false (with `failure()` set) on anything else.
  //
  // The cursor lives in a local, `p`, not in p_: every string ends with a char store (its NUL),
  // which may alias any member, so a member cursor was stored and reloaded around each one, adding
  // a store-to-load round trip to the chain of dependent loads the whole parse is. p_ is set from
  // `p` before anything that reads it (error reports, the slow paths) and `p` from p_ after.
  WAGROUPS_READER_FLATTEN bool read() {
    enum class Next { value, key, after_value };
    Next next = Next::value;
    char* p = p_;
    for (;;) {
      switch (next) {
        case Next::value: {
          p = skip_whitespace(p);
          const char c = *p;
          p_ = p;
          if (c == '{') {
            if (!open(true) || !h_.StartObject()) return fail_handler();
            p = skip_whitespace(p + 1);
            if (*p == '}') {
              p_ = ++p;
              --depth_;
              if (!h_.EndObject(0)) return fail_handler();
              next = Next::after_value;
            } else {
              next = Next::key;
            }
            continue;
          }
          if (c == '[') {
            if (!open(false) || !h_.StartArray()) return fail_handler();
            p = skip_whitespace(p + 1);
            if (*p == ']') {
              p_ = ++p;
              --depth_;
              if (!h_.EndArray(0)) return fail_handler();
              next = Next::after_value;
            } else {
              next = Next::value;
            }
            continue;
          }
          if (c == '"') {
            if (!string(p, false)) return false;
            next = Next::after_value;
            continue;
          }
          bool ok = false;
          if (c == 't') {
            ok = literal("true", 4) && (h_.Bool(true) || fail_handler());
          } else if (c == 'f') {
            ok = literal("false", 5) && (h_.Bool(false) || fail_handler());
          } else if (c == 'n') {
            ok = literal("null", 4) && (h_.Null() || fail_handler());
          } else if (c == '-' || (c >= '0' && c <= '9')) {
            ok = number();
          } else {
            const bool empty = depth_ == 0 && p_ == end_;
            ok = syntax(empty ? rapidjson::kParseErrorDocumentEmpty : rapidjson::kParseErrorValueInvalid);
          }
          if (!ok) return false;
          p = p_;
          next = Next::after_value;
          continue;
        }
        case Next::key: {
          if (*p != '"') {
            p_ = p;
            return syntax(rapidjson::kParseErrorObjectMissName);
          }
          if (!string(p, true)) return false;
          if (*p != ':') {  // (compact JSON: the colon right after the key, no blank to skip)
            p = skip_whitespace(p);
            if (*p != ':') {
              p_ = p;
              return syntax(rapidjson::kParseErrorObjectMissColon);
            }
          }
          ++p;
          next = Next::value;
          continue;
        }
        case Next::after_value: {
          if (depth_ == 0) {
            p_ = skip_whitespace(p);
            if (p_ != end_) return syntax(rapidjson::kParseErrorDocumentRootNotSingular);
            return true;
          }
          Frame& top = frames_[depth_ - 1];
          ++top.count;
          p = skip_whitespace(p);
          const char c = *p;
          if (c == ',') {
            ++p;
            if (top.object) {
              p = skip_whitespace(p);
              next = Next::key;
            } else {
              next = Next::value;  // (which skips blanks itself)
            }
            continue;
          }
          p_ = p;
          if (top.object) {
            if (c != '}') return syntax(rapidjson::kParseErrorObjectMissCommaOrCurlyBracket);
            p_ = ++p;
            const rapidjson::SizeType count = top.count;
            --depth_;
            if (!h_.EndObject(count)) return fail_handler();
          } else {
            if (c != ']') return syntax(rapidjson::kParseErrorArrayMissCommaOrSquareBracket);
            p_ = ++p;
            const rapidjson::SizeType count = top.count;
            --depth_;
            if (!h_.EndArray(count)) return fail_handler();
          }
          next = Next::after_value;
          continue;
        }
      }
    }
  }

  const ReadFailure& failure() const noexcept { return failure_; }

 private:
  struct Frame {
    rapidjson::SizeType count;
    bool object;
  };
  static constexpr std::size_t kInlineFrames = 64;

  static bool is_whitespace(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // The first non-blank at or after `p`. Meta sends compact JSON: nearly every call meets a
  // non-blank at once, which one comparison tells (every JSON blank is at most ' ').
  static char* skip_whitespace(char* p) noexcept {
    while (static_cast<unsigned char>(*p) <= ' ' && is_whitespace(*p)) ++p;
    return p;
  }

  bool open(bool object) {
    if (depth_ >= static_cast<std::size_t>(max_depth_)) return fail(ReadFailure::Kind::too_deep);
    if (depth_ == capacity_) {
      // Beyond the inline frames (only with a max_depth above them): continue on the heap.
      spill_.resize(capacity_ * 2);
      if (frames_ == inline_) std::memcpy(spill_.data(), inline_, sizeof inline_);
      frames_ = spill_.data();
      capacity_ = spill_.size();
    }
    frames_[depth_++] = Frame{0, object};
    return true;
  }

  bool fail(ReadFailure::Kind kind, rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone) {
    failure_.kind = kind;
    failure_.code = code;
    failure_.offset = static_cast<std::size_t>(p_ - begin_);
    return false;
  }
  bool syntax(rapidjson::ParseErrorCode code) {
    // A NUL byte before the end is what broke the syntax: say so.
    if (*p_ == '\0' && p_ < end_) return fail(ReadFailure::Kind::nul);
    return fail(ReadFailure::Kind::syntax, code);
  }
  bool fail_handler() {
    if (failure_.kind == ReadFailure::Kind::none) fail(ReadFailure::Kind::syntax, rapidjson::kParseErrorTermination);
    return false;
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
      return syntax(rapidjson::kParseErrorValueInvalid);
    p_ += n;
    return true;
  }

  // The four hex digits at `s`. Stops at the first non-digit: the NUL at the end stops it before
  // it reads past.
  static bool hex4(const char* s, unsigned& out) noexcept {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned d = text::kHexDigitValues.value[static_cast<unsigned char>(s[i])];
      if (d & text::kNotHexDigit) return false;
      v = (v << 4) | d;
    }
    out = v;
    return true;
  }

  // p_ at a backslash inside a string; writes the unescaped text at `out` (never past p_).
  bool escape(char*& out) {
    const char e = p_[1];
    char simple = 0;
    switch (e) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '/': simple = '/'; break;
      case 'b': simple = '\b'; break;
      case 'f': simple = '\f'; break;
      case 'n': simple = '\n'; break;
      case 'r': simple = '\r'; break;
      case 't': simple = '\t'; break;
      case 'u': break;
      default: return syntax(rapidjson::kParseErrorStringEscapeInvalid);
    }
    if (simple) {
      *out++ = simple;
      p_ += 2;
      return true;
    }
    unsigned cp = 0;
    if (!hex4(p_ + 2, cp)) return syntax(rapidjson::kParseErrorStringUnicodeEscapeInvalidHex);
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ReadFailure::Kind::lone_surrogate);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      unsigned low = 0;
      if (p_[6] != '\\' || p_[7] != 'u' || !hex4(p_ + 8, low) || low < 0xDC00 || low > 0xDFFF)
        return fail(ReadFailure::Kind::lone_surrogate);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      p_ += 6;
    }
    p_ += 6;
    if (cp < 0x80) {
      *out++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out++ = static_cast<char>(0xC0 | (cp >> 6));
      *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out++ = static_cast<char>(0xE0 | (cp >> 12));
      *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out++ = static_cast<char>(0xF0 | (cp >> 18));
      *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
    return true;
  }

  // Offset of the first byte at p_ that is '"', '\\', below 0x20 or above 0x7F, looking at 16
  // bytes; 16 when none of them is. Stops at the NUL at end_ at the latest.
  unsigned special_byte() const noexcept {
    const char* chunk = p_;
#if defined(__SSE2__)
    if (end_ - chunk < 15) return special_byte_slow(chunk);  // a 16-byte load would pass end_
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(chunk));
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    // Signed compare: bytes >= 0x80 are negative, so one test catches controls and non-ASCII.
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                      _mm_cmplt_epi8(v, space));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hits));
    return mask ? static_cast<unsigned>(__builtin_ctz(mask)) : 16;
#else
    return special_byte_slow(chunk);
#endif
  }
  static unsigned special_byte_slow(const char* chunk) noexcept {
    for (unsigned i = 0; i < 16; ++i) {
      const auto c = static_cast<unsigned char>(chunk[i]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return i;  // the NUL at end_ stops it
    }
    return 16;
  }

  // Moves n < 16 bytes from `from` down to `to` (the ranges may overlap): everything is loaded
  // before anything is stored, in at most two overlapping pieces.
  static void move_small(char* to, const char* from, unsigned n) noexcept {
    if (n >= 8) {
      std::uint64_t head = 0, tail = 0;
      std::memcpy(&head, from, 8);
      std::memcpy(&tail, from + n - 8, 8);
      std::memcpy(to, &head, 8);
      std::memcpy(to + n - 8, &tail, 8);
    } else if (n >= 4) {
      std::uint32_t head = 0, tail = 0;
      std::memcpy(&head, from, 4);
      std::memcpy(&tail, from + n - 4, 4);
      std::memcpy(to, &head, 4);
      std::memcpy(to + n - 4, &tail, 4);
    } else if (n >= 2) {
      std::uint16_t head = 0, tail = 0;
      std::memcpy(&head, from, 2);
      std::memcpy(&tail, from + n - 2, 2);
      std::memcpy(to, &head, 2);
      std::memcpy(to + n - 2, &tail, 2);
    } else if (n == 1) {
      *to = *from;
    }
  }

  // `p` at the opening quote; after the closing one on success. Most strings of a webhook are
  // plain ASCII (every key, ids, phone numbers, types): while 16-byte loads show nothing but plain
  // bytes and then the closing quote, the string is done here, inlined into read(). At the first
  // escape, non-ASCII or control byte, string_slow takes over from there (everything before it is
  // plain, so it is not scanned again).
  WAGROUPS_READER_INLINE bool string(char*& p, bool is_key) {
    char* const start = p + 1;
    char* q = start;
#if defined(__SSE2__)
    while (end_ - q >= 15) {  // 16 bytes readable: at most the NUL at end_ among them
      // The quotes and the other special bytes in separate masks: the end of the string (and so
      // where the parse goes on) depends on the load, one compare and the quote mask only, while
      // the check that nothing special comes before it runs beside that chain. (Signed compare:
      // bytes >= 0x80 are negative, so one test catches controls and non-ASCII.)
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const auto quotes = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
      const auto specials = static_cast<unsigned>(_mm_movemask_epi8(
          _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)))));
      // Bits up to and including the first quote (every bit when there is none: 0 - 1 wraps).
      const unsigned upto_quote = quotes ^ (quotes - 1);
      if ((specials & upto_quote) != 0) {
        q += __builtin_ctz(specials);  // a special byte before any quote: string_slow from there
        break;
      }
      if (!quotes) {
        q += 16;
        continue;
      }
      q += __builtin_ctz(quotes);
      const auto length = static_cast<std::size_t>(q - start);
      if (length > std::numeric_limits<rapidjson::SizeType>::max()) break;  // (string_slow refuses it)
      *q = '\0';
      p = q + 1;
      const auto n = static_cast<rapidjson::SizeType>(length);
      if (is_key ? h_.Key(start, n, false) : h_.String(start, n, false)) return true;
      p_ = p;
      return fail_handler();
    }
#endif
    const bool ok = string_slow(is_key, start, q);
    p = p_;
    return ok;
  }

  // The string that starts at `start` (after its opening quote), from `from` on: [start, from) is
  // plain text.
  WAGROUPS_READER_NOINLINE bool string_slow(bool is_key, char* const start, char* from) {
    p_ = from;
    char* out = p_;
    for (;;) {
      const unsigned k = special_byte();
      if (out != p_) {
        // Behind an escape the text moves down: inline moves, not a library call per chunk (a text
        // with a few escaped words has a partial chunk before each).
        if (k == 16) std::memmove(out, p_, 16);
        else move_small(out, p_, k);
      }
      p_ += k;
      out += k;
      if (k == 16) continue;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c == '\\') {
        // Escapes come in runs (a word of Devanagari, a surrogate pair): take the next one at once,
        // without a scan and a move of nothing before it.
        do {
          if (!escape(out)) return false;
        } while (*p_ == '\\');
      } else if (c >= 0x80) {
        const std::size_t n = utf8_sequence_length(reinterpret_cast<const unsigned char*>(p_),
                                                   static_cast<std::size_t>(end_ - p_));
        if (n == 0) return fail(ReadFailure::Kind::invalid_utf8);
        if (out != p_) move_small(out, p_, static_cast<unsigned>(n));
        p_ += n;
        out += n;
      } else if (c == 0 && p_ == end_) {
        return fail(ReadFailure::Kind::syntax, rapidjson::kParseErrorStringMissQuotationMark);
      } else {
        return syntax(rapidjson::kParseErrorStringEscapeInvalid);  // a raw control character (or NUL)
      }
    }
    const auto length = static_cast<std::size_t>(out - start);
    if (length > std::numeric_limits<rapidjson::SizeType>::max())
      return fail(ReadFailure::Kind::syntax, rapidjson::kParseErrorTermination);
    *out = '\0';
    ++p_;  // the closing quote
    const auto n = static_cast<rapidjson::SizeType>(length);
    return (is_key ? h_.Key(start, n, false) : h_.String(start, n, false)) || fail_handler();
  }

  // Whether the number text [s, e) (valid JSON) is below 1 in magnitude: for a range error, tells
  // an underflow (read as 0) from an overflow (refused).
  static bool below_one(const char* s, const char* e) noexcept {
    if (*s == '-') ++s;
    long long leading = 0;  // decimal exponent of the first significant digit
    const char* q = s;
    if (*q != '0') {
      while (q < e && is_digit(*q)) ++q;
      leading = static_cast<long long>(q - s) - 1;
    } else {
      ++q;
      if (q < e && *q == '.') {
        ++q;
        const char* first = q;
        while (q < e && *q == '0') ++q;
        leading = -static_cast<long long>(q - first) - 1;
      }
    }
    while (q < e && *q != 'e' && *q != 'E') ++q;
    long long exponent = 0;
    if (q < e) {
      ++q;
      const bool negative = *q == '-';
      if (*q == '-' || *q == '+') ++q;
      for (; q < e; ++q) {
        exponent = exponent * 10 + (*q - '0');
        if (exponent > 1000000000LL) break;  // far beyond any double either way
      }
      if (negative) exponent = -exponent;
    }
    return leading + exponent < 0;
  }

  bool number() {
    char* const s = p_;
    const bool minus = *p_ == '-';
    if (minus) ++p_;
    std::uint64_t u = 0;
    bool is_double = false;
    if (*p_ == '0') {
      ++p_;
    } else if (is_digit(*p_)) {
      constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
      for (; is_digit(*p_); ++p_) {
        const auto d = static_cast<std::uint64_t>(*p_ - '0');
        if (u > (kMax - d) / 10) is_double = true;  // beyond 64 bits: a double, as RapidJSON does
        else u = u * 10 + d;
      }
    } else {
      return syntax(rapidjson::kParseErrorValueInvalid);
    }
    if (*p_ == '.') {
      ++p_;
      if (!is_digit(*p_)) return syntax(rapidjson::kParseErrorNumberMissFraction);
      while (is_digit(*p_)) ++p_;
      is_double = true;
    }
    if (*p_ == 'e' || *p_ == 'E') {
      ++p_;
      if (*p_ == '+' || *p_ == '-') ++p_;
      if (!is_digit(*p_)) return syntax(rapidjson::kParseErrorNumberMissExponent);
      while (is_digit(*p_)) ++p_;
      is_double = true;
    }
    if (!is_double) {
      if (!minus) return h_.Uint64(u) || fail_handler();
      constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;
      if (u < kMinMagnitude) return h_.Int64(-static_cast<std::int64_t>(u)) || fail_handler();
      if (u == kMinMagnitude) return h_.Int64(std::numeric_limits<std::int64_t>::min()) || fail_handler();
    }
    double d = 0;
    const auto parsed = std::from_chars(s, p_, d);
    if (parsed.ec == std::errc::result_out_of_range) {
      if (!below_one(s, p_)) {
        p_ = s;
        return fail(ReadFailure::Kind::number_too_big, rapidjson::kParseErrorNumberTooBig);
      }
      d = minus ? -0.0 : 0.0;
    } else if (parsed.ec != std::errc() || parsed.ptr != p_) {
      p_ = s;
      return syntax(rapidjson::kParseErrorValueInvalid);
    }
    return h_.Double(d) || fail_handler();
  }

  char* const begin_;
  char* const end_;
  char* p_;
  const int max_depth_;
  Handler& h_;
  std::size_t depth_ = 0;
  Frame inline_[kInlineFrames];
  Frame* frames_ = inline_;
  std::size_t capacity_ = kInlineFrames;
  std::vector<Frame> spill_;
  ReadFailure failure_;
};

}  // namespace webhook
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups

#undef WAGROUPS_READER_INLINE
#undef WAGROUPS_READER_NOINLINE
#undef WAGROUPS_READER_FLATTEN
