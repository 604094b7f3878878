// The rig's command line: declares the commands (src/cli/*_commands.cc), parses, and calls
// src/rig/app/, which maps what went wrong to the exit status (base/exit_status.h):
//   0 all passed, 1 a check failed, 2 usage or scenario error, 3 infrastructure error.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "rig/app/command_status.h"

int main(int argc, char** argv) {
  rig::app::prepare_process();
  CLI::App app{"rig: a QEMU test rig for Linux memory hot-remove and bootmem-tagged memmap pages"};
  app.require_subcommand(1);
  rig::cli::Commands commands;
  rig::cli::add_run_commands(app, commands);
  rig::cli::add_workflow_commands(app, commands);
  rig::cli::add_tool_commands(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; bad options are usage errors
  }
  for (const auto& c : commands)
    if (c.parsed->parsed()) return rig::app::call_command(c.call, std::cerr);
  return 2;
}
