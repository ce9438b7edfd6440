// `wagroups`: the SDK from the command line. Run `wagroups --help`; the README's "Command line"
// section documents the output and the exit codes.

#include <csignal>
#include <string>

#include <CLI/CLI.hpp>
#include <wagroups/version.hpp>

#include "commands.hpp"
#include "output.hpp"
#include "store_spec.hpp"

int main(int argc, char** argv) {
  CLI::App app{"WhatsApp Cloud API Groups from the command line (wagroups SDK)", "wagroups"};
  app.set_version_flag("--version", std::string(wagroups::version()));
  app.require_subcommand(1);
  // One line on stderr, in the same form as the commands' own errors; a store URI CLI11 echoes (a
  // mistyped argument) without its password.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "wagroups: " + wagroups_cli::masked_store_uris(e.what()) + " (see --help)\n";
  });

  // libcurl never raises signals here (CURLOPT_NOSIGNAL), but a peer closing a socket must not
  // kill the process either.
  std::signal(SIGPIPE, SIG_IGN);

  wagroups_cli::CommandState state;
  wagroups_cli::register_webhook_commands(app, state);
  wagroups_cli::register_webhook_serve(app, state);
  wagroups_cli::register_groups_commands(app, state);
  wagroups_cli::register_send_commands(app, state);
  wagroups_cli::register_invite_commands(app, state);
  wagroups_cli::register_tickets_commands(app, state);
  wagroups_cli::register_sandbox_commands(app, state);
  wagroups_cli::register_number_commands(app, state);
  wagroups_cli::register_demo_command(app, state);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too, with exit code 0; help goes to stdout.
    return app.exit(e) == 0 ? wagroups_cli::exit_ok : wagroups_cli::exit_usage;
  }
  return state.exit_code;
}
