// Pure translation of a scenario and its launch specification (launch_spec.h) into a QEMU command
// line, and the QMP arguments that plug a DIMM at run time. No I/O: unit-tested against golden
// files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rig/base/shell.h"  // shell_join, for the command lines callers print
#include "rig/machine/launch_spec.h"
#include "rig/scenario/scenario.h"

namespace rig {

// The former name of LaunchSpec, for code that has not moved to launch_spec() yet.
using QemuLaunchSpec = LaunchSpec;

std::vector<std::string> qemu_argv(const Scenario& s, const LaunchSpec& spec);

// `v` as a value in QEMU's KEY=VALUE,... option syntax: each comma doubled.
std::string qemu_opt_value(const std::string& v);

// QMP arguments for plugging `d` at run time: object-add of its backend, then device_add.
std::string memory_backend_id(const Dimm& d);
nlohmann::json memory_backend_object_args(const Dimm& d);
nlohmann::json dimm_device_args(const Dimm& d);

// A virtio-mem device's memory backend, and the QOM path its requested-size and size are set and
// read at (QEMU puts devices with an id under /machine/peripheral).
std::string virtio_mem_backend_id(const VirtioMem& v);
std::string virtio_mem_qom_path(const VirtioMem& v);

}  // namespace rig
