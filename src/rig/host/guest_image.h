// The guest initramfs for one kernel: built by images/build-initramfs.sh from Debian packages,
// cached by the content of everything that goes into it.
#pragma once
#include <string>

#include "rig/base/environment.h"
#include "rig/host/kernel_locator.h"

namespace rig {
struct GuestImage {
  std::string initramfs;      // always holds the probe program rig-probe (images/probe/rig-probe.c)
  std::string probe;          // the probe module inside it, or empty when none could be built
  std::string probe_problem;  // why there is no module
  std::string note;           // cached files ignored (not the user's alone) and built again
};

// Returns a cached initramfs for `kernel` (with the probe module when the kernel has a build
// tree), building what is missing, in the cache directory of `env` (paths.h). A cached file is
// used only when it is the user's alone (file_trust.h); otherwise it is removed, built again, and
// `note` says so.
GuestImage guest_image(const KernelImage& kernel, const Environment& env);
// The probe module for `kernel`, built against its build tree (cached), or "" with `problem`
// saying why not: no build tree, a tree that is not the user's or root's alone (kbuild would run
// what is in it), or a failed build.
std::string probe_module(const KernelImage& kernel, const Environment& env, std::string* problem, std::string* note);
// The initramfs path alone.
std::string guest_initramfs(const KernelImage& kernel, const Environment& env);
}  // namespace rig
