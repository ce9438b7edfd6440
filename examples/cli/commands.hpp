#pragma once

// Each command group of `wagroups` registers its subcommands from its own file; main.cpp only
// builds the app and calls these. A command's callback stores its exit code in `CommandState`.

#include <CLI/CLI.hpp>

#include "output.hpp"

namespace wagroups_cli {

struct CommandState {
  int exit_code = exit_ok;
};

/// `wagroups webhook parse`.
void register_webhook_commands(CLI::App& app, CommandState& state);

}  // namespace wagroups_cli
