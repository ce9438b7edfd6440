#include "wagroups/version.hpp"

namespace wagroups {
const char* version() noexcept { return WAGROUPS_VERSION_STRING; }
}  // namespace wagroups
