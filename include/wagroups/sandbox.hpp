#pragma once

/// @file
/// Umbrella header of the `wagroups::sandbox` component: the in-process Groups simulator.

#include "wagroups/sandbox/simulator.hpp"
