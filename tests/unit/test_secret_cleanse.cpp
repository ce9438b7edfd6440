// Issue 13 item 5: secret::cleanse (src/util/secret.hpp) wipes a string's whole buffer before it
// is freed. A recording allocator copies each block as it is handed back, so the test sees what
// the heap would have kept, without reading freed memory.

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <vector>

#include "util/secret.hpp"

namespace {

struct FreedBlocks {
  std::vector<std::string> blocks;  // each block's bytes at the moment it was freed
};

template <typename T>
struct RecordingAllocator {
  using value_type = T;
  explicit RecordingAllocator(FreedBlocks* freed) noexcept : log(freed) {}
  template <typename U>
  RecordingAllocator(const RecordingAllocator<U>& other) noexcept : log(other.log) {}  // NOLINT: rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    log->blocks.emplace_back(reinterpret_cast<const char*>(p), n * sizeof(T));
    ::operator delete(p);
  }
  FreedBlocks* log;
};
template <typename T, typename U>
bool operator==(const RecordingAllocator<T>& a, const RecordingAllocator<U>& b) noexcept {
  return a.log == b.log;
}
template <typename T, typename U>
bool operator!=(const RecordingAllocator<T>& a, const RecordingAllocator<U>& b) noexcept {
  return a.log != b.log;
}

using RecordedString = std::basic_string<char, std::char_traits<char>, RecordingAllocator<char>>;

const std::string kToken = "EAAissue13-token-9f8e7d6c5b4a39281706f5e4d3c2b1a0";  // longer than any SSO buffer

bool all_zero(const std::string& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

}  // namespace

TEST_CASE("issue13 secret::cleanse leaves a freed string buffer all zeros; without it the secret stays",
          "[unit][issue13][secret]") {
  FreedBlocks without;
  { RecordedString s(kToken.c_str(), RecordingAllocator<char>(&without)); }
  REQUIRE(without.blocks.size() == 1);
  // The negative control: freed as is, the block still holds the token.
  CHECK(without.blocks[0].find(kToken) != std::string::npos);

  FreedBlocks with;
  {
    RecordedString s(kToken.c_str(), RecordingAllocator<char>(&with));
    const std::size_t capacity = s.capacity();
    wagroups::secret::cleanse(s);
    CHECK(s.empty());
    CHECK(s.capacity() == capacity);  // the same buffer, wiped, freed later by the string
  }
  REQUIRE(with.blocks.size() == 1);
  CHECK(all_zero(with.blocks[0]));
}

TEST_CASE("issue13 secret::cleanse wipes past the end: a shorter value written over a token",
          "[unit][issue13][secret]") {
  FreedBlocks freed;
  {
    RecordedString s(kToken.c_str(), RecordingAllocator<char>(&freed));
    s.assign("short");  // same buffer: the token's tail stays behind the terminator
    wagroups::secret::cleanse(s);
  }
  REQUIRE(freed.blocks.size() == 1);
  CHECK(freed.blocks[0].find(kToken.substr(10)) == std::string::npos);
  CHECK(all_zero(freed.blocks[0]));
}

TEST_CASE("issue13 secret::cleanse of raw bytes zeroes exactly the range given", "[unit][issue13][secret]") {
  char bytes[16];
  std::fill(std::begin(bytes), std::end(bytes), 'x');
  wagroups::secret::cleanse(bytes + 4, 8);
  CHECK(std::string(bytes, 4) == "xxxx");
  CHECK(all_zero(std::string(bytes + 4, 8)));
  CHECK(std::string(bytes + 12, 4) == "xxxx");
  wagroups::secret::cleanse(nullptr, 0);  // allowed: nothing to wipe
}
