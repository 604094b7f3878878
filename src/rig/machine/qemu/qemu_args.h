// Pure translation of a scenario into a QEMU command line, a kernel command line, and the QMP
// arguments that plug a DIMM at run time. No I/O: unit-tested against golden files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rig/base/shell.h"  // shell_join, for the command lines callers print
#include "rig/scenario/scenario.h"

namespace rig {

struct QemuLaunchSpec {
  std::string qemu_binary = "qemu-system-x86_64";
  std::string accel = "tcg";  // "kvm" or "tcg"
  std::string kernel;
  std::string initrd;
  std::string console_log;
  std::string qmp_socket;
  std::string qga_socket;
  std::vector<std::string> extra_kernel_args;
  std::string incoming;         // "exec:cat FILE" to restore a saved guest instead of booting
  bool console_append = false;  // keep what the console file holds (a restored guest's boot)
  bool paused = true;           // -S: the rig connects QMP, then sends "cont"
  // Where the serial console goes: a file the rig reads, or "mon:stdio" for a person (console
  // and monitor multiplexed on the terminal, Ctrl-A c switches).
  std::string serial = "file";
};

// memmap=SIZE@ADDR for each boot DIMM, then the scenario's own arguments, then the rig's.
std::string kernel_command_line(const Scenario& s, const std::vector<std::string>& extra);

std::vector<std::string> qemu_argv(const Scenario& s, const QemuLaunchSpec& spec);

// `v` as a value in QEMU's KEY=VALUE,... option syntax: each comma doubled.
std::string qemu_opt_value(const std::string& v);

// QMP arguments for plugging `d` at run time: object-add of its backend, then device_add.
std::string memory_backend_id(const Dimm& d);
nlohmann::json memory_backend_object_args(const Dimm& d);
nlohmann::json dimm_device_args(const Dimm& d);

}  // namespace rig
