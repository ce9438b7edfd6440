#pragma once

/// @file
/// Umbrella header of the `wagroups::sandbox_server` component: the simulator over loopback HTTP.

#include "wagroups/sandbox/server.hpp"
