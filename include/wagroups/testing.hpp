#pragma once

/// @file
/// Umbrella header of the `wagroups::testing` component: test doubles for host tests.

#include "wagroups/testing/fake_transport.hpp"
#include "wagroups/testing/fault_transport.hpp"
