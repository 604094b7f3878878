// The rig's command line, one file per group of commands. Each file only declares its commands'
// options (CLI11), bound to the options structs of src/rig/app/, and says which app/ function
// runs each command; main.cc parses and maps errors to exit statuses.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace rig::cli {

struct Command {
  CLI::App* parsed;           // the (sub)command whose options were given
  std::function<int()> call;  // the app/ function with those options
};
using Commands = std::vector<Command>;

// run, report (run_commands.cc)
void add_run_commands(CLI::App& top, Commands& out);
// kernel build, repro, bisect-step, bisect, explore (workflow_commands.cc)
void add_workflow_commands(CLI::App& top, Commands& out);
// cache, list, check, qemu-args, cleanup, libvirt-xml (tool_commands.cc)
void add_tool_commands(CLI::App& top, Commands& out);

}  // namespace rig::cli
