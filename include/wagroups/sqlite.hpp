#pragma once

/// @file
/// Umbrella header of the `wagroups::sqlite` component: `SqliteTicketStore`.

#include "wagroups/sqlite/ticket_store.hpp"
