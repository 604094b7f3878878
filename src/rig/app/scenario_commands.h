// The commands that look at scenarios without booting: `rig list`, `rig check`,
// `rig qemu-args`, `rig libvirt-xml`.
#pragma once

#include <string>
#include <vector>

#include "rig/app/defaults.h"

namespace rig::app {

// The shipped scenarios (under `home`; empty: rig_home()) with their cases, suites and
// description, one a line.
int list_scenarios(const std::string& home = "");

// Loads and validates each file ("FILE: ok"); the first bad one throws UsageError.
int check_scenarios(const std::vector<std::string>& files);

struct QemuArgsOptions {
  std::string scenario;  // file
  std::string kernel = kPlaceholderKernel;
};
int print_qemu_args(const QemuArgsOptions& o);

struct LibvirtXmlOptions {
  std::string scenario;  // file
  std::string kernel = kPlaceholderKernel;
  std::string initrd = kPlaceholderInitrd;
  std::string run_dir = kPlaceholderRunDir;
  std::string type = "qemu";  // domain type: qemu or kvm
};
// The domain XML; a scenario the libvirt backend skips is a UsageError with the reason.
int print_libvirt_xml(const LibvirtXmlOptions& o);

}  // namespace rig::app
