#pragma once

// Rules shared by the ticket model, the aggregator and the stores: who is the same person, how
// statuses rank, and how two known values of one field join (commutative, associative and
// idempotent, so that a ticket is a function of the set of facts applied to it).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wagroups/tickets.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
namespace tickets_detail {

/// unknown 0 < sent 1 < failed 2 < delivered 3 < read 4 < played 5: a status only moves forward,
/// and `failed` beats `sent` but not proof of delivery.
inline int delivery_rank(DeliveryStatus status) noexcept {
  switch (status) {
    case DeliveryStatus::unknown: return 0;
    case DeliveryStatus::sent: return 1;
    case DeliveryStatus::failed: return 2;
    case DeliveryStatus::delivered: return 3;
    case DeliveryStatus::read: return 4;
    case DeliveryStatus::played: return 5;
  }
  return 0;
}

/// The tie-break between facts with one timestamp (invited lowest, removed highest).
inline int member_rank(MemberStatus status) noexcept { return static_cast<int>(status); }

/// BSUIDs decide when both sides have one; otherwise equal phones do.
inline bool same_person(const PersonKey& a, const PersonKey& b) noexcept {
  if (a.bsuid && b.bsuid) return *a.bsuid == *b.bsuid;
  return a.phone && b.phone && *a.phone == *b.phone;
}

/// The join of two known values of one text field: unset < "" < any text, and between two texts
/// the smaller (real data never disagrees; the rule only has to be order-free).
inline void join_text(std::optional<std::string>& into, const std::optional<std::string>& other) {
  if (!other) return;
  if (!into || into->empty() || (!other->empty() && *other < *into)) into = other;
}
inline void join_text(std::string& into, const std::string& other) {
  if (other.empty()) return;
  if (into.empty() || other < into) into = other;
}

inline void join_min(std::optional<std::int64_t>& into, std::optional<std::int64_t> other) noexcept {
  if (other && (!into || *other < *into)) into = other;
}
inline void join_max(std::optional<std::int64_t>& into, std::optional<std::int64_t> other) noexcept {
  if (other && (!into || *other > *into)) into = other;
}

/// A vector of trivially copyable values that keeps its first N in place: units of work touch
/// one or two tickets, and an allocation per unit showed in the profile.
template <typename T, std::size_t N>
class SmallVector {
 public:
  T* begin() noexcept { return heap_.empty() ? inline_ : heap_.data(); }
  T* end() noexcept { return begin() + size_; }
  const T* begin() const noexcept { return heap_.empty() ? inline_ : heap_.data(); }
  const T* end() const noexcept { return begin() + size_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& front() noexcept { return *begin(); }
  void push_back(const T& v) {
    if (heap_.empty() && size_ < N) {
      inline_[size_++] = v;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_, inline_ + size_);
    heap_.push_back(v);
    ++size_;
  }
  void clear() noexcept {
    size_ = 0;
    heap_.clear();
  }
  void erase_value(const T& v) {
    T* last = std::remove(begin(), end(), v);
    const std::size_t n = static_cast<std::size_t>(last - begin());
    if (!heap_.empty()) heap_.resize(n);
    size_ = n;
  }

 private:
  T inline_[N] = {};
  std::vector<T> heap_;
  std::size_t size_ = 0;
};

bool item_error_equal(const ItemError& a, const ItemError& b) noexcept;
bool item_error_less(const ItemError& a, const ItemError& b) noexcept;

}  // namespace tickets_detail
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
