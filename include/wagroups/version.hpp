#pragma once

/// @file
/// The version of the headers (macros, from the generated config.hpp) and of the library linked.

#include "wagroups/export.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
/// The library's version as "MAJOR.MINOR.PATCH"; the one linked, which may differ from the header's.
WAGROUPS_API const char* version() noexcept;
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
