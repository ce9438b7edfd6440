#include "wagroups/version.hpp"

namespace wagroups {
WAGROUPS_INLINE_NAMESPACE_BEGIN
const char* version() noexcept { return WAGROUPS_VERSION_STRING; }
WAGROUPS_INLINE_NAMESPACE_END
}  // namespace wagroups
