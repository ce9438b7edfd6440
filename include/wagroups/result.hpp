#pragma once

/// @file
/// `Result<T>`: a value or the `Error` that prevented it; every expected failure is a value.

#include <cassert>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "wagroups/error.hpp"

#include "wagroups/config.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN

/// Thrown only by `Result<T>::value()` on a result that holds an error (the caller's choice).
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(const Error& e) : std::logic_error(e.to_string()), error_(e) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// A value or the `Error` that prevented it. Check with `ok()` / `if (result)`, then use `*result`
/// or `result->`; `value()` throws `BadResultAccess` for callers who prefer exceptions.
/// As with `std::optional`, `*`, `->` require `ok()` and `error()` requires `!ok()` (asserted in
/// debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& operator*() & noexcept { return *get(); }
  const T& operator*() const& noexcept { return *get(); }
  // By value from an rvalue, so that `for (auto& x : *client.list_all_groups())` extends the
  // temporary's lifetime instead of dangling.
  T operator*() && { return std::move(*get()); }
  T* operator->() noexcept { return get(); }
  const T* operator->() const noexcept { return get(); }

  T& value() & {
    check();
    return std::get<0>(state_);
  }
  const T& value() const& {
    check();
    return std::get<0>(state_);
  }
  T value() && {
    check();
    return std::move(*get());
  }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? std::get<0>(state_) : T(std::forward<U>(fallback));
  }

  const Error& error() const& noexcept { return *get_error(); }
  Error& error() & noexcept { return *get_error(); }
  Error error() && { return std::move(*get_error()); }

 private:
  void check() const {
    if (!ok()) throw BadResultAccess(*std::get_if<1>(&state_));
  }
  T* get() noexcept {
    assert(ok() && "Result: value accessed on an error");
    return std::get_if<0>(&state_);
  }
  const T* get() const noexcept {
    assert(ok() && "Result: value accessed on an error");
    return std::get_if<0>(&state_);
  }
  Error* get_error() noexcept {
    assert(!ok() && "Result: error() called on a success");
    return std::get_if<1>(&state_);
  }
  const Error* get_error() const noexcept {
    assert(!ok() && "Result: error() called on a success");
    return std::get_if<1>(&state_);
  }
  std::variant<T, Error> state_;
};

/// `Result<void>`: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (error_) throw BadResultAccess(*error_);
  }
  const Error& error() const& noexcept {
    assert(!ok() && "Result: error() called on a success");
    return *error_;
  }
  Error& error() & noexcept {
    assert(!ok() && "Result: error() called on a success");
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
