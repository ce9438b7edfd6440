#pragma once

// What a parsed webhook body is made of, shared between the parser and RawJson: the body text
// (parsed in place, so the DOM's strings point into it) and the DOM nodes' pool, in one holder
// that every RawJson of the batch keeps alive. Immutable once built, so any number of threads may
// read it.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "json/json.hpp"

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace webhook {

struct ParsedBody {
  std::string text;                       // the body; strings of `root` point into it
  rapidjson::CrtAllocator chunks;         // (stateless; saves the pool allocating its own)
  rapidjson::MemoryPoolAllocator<> pool;  // every node of `root`
  json::Value root;

  /// `first_chunk`: `first_chunk_size` bytes (16-aligned) the pool fills before it allocates.
  ParsedBody(std::string&& body, void*& first_chunk, std::size_t first_chunk_size, std::size_t chunk_size)
      : text(std::move(body)), pool(first_chunk, first_chunk_size, chunk_size, &chunks) {}
  ParsedBody(const ParsedBody&) = delete;
  ParsedBody& operator=(const ParsedBody&) = delete;
};

/// For std::allocate_shared: allocates the shared block with `extra` bytes after it and tells
/// `*trailing` where they start, so that the holder, its control block and the pool's first chunk
/// are one allocation.
template <typename T>
struct TrailingAllocator {
  using value_type = T;
  std::size_t extra = 0;
  void** trailing = nullptr;

  TrailingAllocator(std::size_t extra_bytes, void** trailing_out) noexcept
      : extra(extra_bytes), trailing(trailing_out) {}
  template <typename U>
  TrailingAllocator(const TrailingAllocator<U>& other) noexcept : extra(other.extra), trailing(other.trailing) {}

  static std::size_t head(std::size_t n) noexcept { return (n * sizeof(T) + 15) & ~std::size_t{15}; }
  T* allocate(std::size_t n) {
    char* block = static_cast<char*>(::operator new(head(n) + extra));
    if (trailing) *trailing = block + head(n);
    return reinterpret_cast<T*>(block);
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(static_cast<void*>(p)); }

  template <typename U>
  bool operator==(const TrailingAllocator<U>& other) const noexcept { return extra == other.extra; }
  template <typename U>
  bool operator!=(const TrailingAllocator<U>& other) const noexcept { return !(*this == other); }
};

/// A holder for `body`, whose pool starts with `first_chunk_size` bytes in the same allocation.
inline std::shared_ptr<ParsedBody> make_parsed_body(std::string&& body, std::size_t first_chunk_size,
                                                    std::size_t chunk_size) {
  first_chunk_size = (first_chunk_size + 15) & ~std::size_t{15};
  void* first_chunk = nullptr;
  // allocate_shared allocates (filling `first_chunk`) before it constructs the holder.
  return std::allocate_shared<ParsedBody>(TrailingAllocator<ParsedBody>(first_chunk_size, &first_chunk),
                                          std::move(body), std::ref(first_chunk), first_chunk_size, chunk_size);
}

/// Whether the `n` bytes at `a` and `b` are equal: inline word loads, not a call to memcmp. The
/// keys and ids the parser compares are a few dozen bytes at most, and the library call (through
/// the PLT and its size dispatch) cost more than the comparison itself.
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  for (; n >= 8; a += 8, b += 8, n -= 8) {
    std::uint64_t x = 0, y = 0;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
  }
  if (n >= 4) {  // 4 to 7 bytes: two overlapping 4-byte words
    std::uint32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    std::memcpy(&x0, a, 4);
    std::memcpy(&y0, b, 4);
    std::memcpy(&x1, a + n - 4, 4);
    std::memcpy(&y1, b + n - 4, 4);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  for (; n; --n, ++a, ++b) {
    if (*a != *b) return false;
  }
  return true;
}

/// The member `key` of `obj` (a string_view key, unlike RapidJSON's NUL-terminated lookups), or
/// null when `obj` is not an object or lacks it.
inline const json::Value* find_member(const json::Value& obj, std::string_view key) noexcept {
  if (!obj.IsObject()) return nullptr;
  // Length and first byte before memcmp: most names differ there, and the call costs more than the
  // comparison (find_member runs for every envelope level of every body).
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const char* name = it->name.GetString();
    if (it->name.GetStringLength() != key.size()) continue;
    if (key.empty() || (name[0] == key[0] && same_bytes(name, key.data(), key.size()))) return &it->value;
  }
  return nullptr;
}

}  // namespace webhook
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
