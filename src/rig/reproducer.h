// A self-contained reproducer for one scenario on one kernel: the kernel, the guest image, and
// a shell script that runs the exact QEMU command line and feeds the scenario's steps to the
// guest shell and the QEMU monitor on one stdin (-serial mon:stdio). Needs only QEMU and sh.
#pragma once

#include <string>
#include <vector>

#include "rig/kernel_locator.h"
#include "rig/results.h"
#include "rig/scenario.h"

namespace rig {

// The body of run.sh for a scenario (pure; paths are relative to the script's directory).
std::string reproducer_script(const Scenario& s, const std::string& kernel_release);

// Writes DIR/{bzImage, initramfs.cpio.gz, run.sh, README.md}. `failure` (may be null) says what
// failed, for the README. Returns the directory.
std::string write_reproducer(const Scenario& s, const KernelImage& kernel, const std::string& initramfs,
                             const std::string& dir, const ScenarioResult* failure);

}  // namespace rig
