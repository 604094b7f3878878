// The guest initramfs for one kernel: built by images/build-initramfs.sh from Debian packages,
// cached by the content of everything that goes into it.
#pragma once
#include <string>

#include "rig/host/kernel_locator.h"

namespace rig {
struct GuestImage {
  std::string initramfs;
  std::string probe;          // the probe module inside it, or empty when no build tree was found
  std::string probe_problem;  // why there is no probe
};

// Returns a cached initramfs for `kernel` (with the probe module when the kernel has a build
// tree), building what is missing.
GuestImage guest_image(const KernelImage& kernel);
// The initramfs path alone.
std::string guest_initramfs(const KernelImage& kernel);
}  // namespace rig
