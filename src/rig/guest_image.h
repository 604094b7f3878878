// The guest initramfs for one kernel: built by images/build-initramfs.sh from Debian packages,
// cached by the content of everything that goes into it.
#pragma once
#include <string>

#include "rig/kernel_locator.h"

namespace rig {
// Returns the path of a cached initramfs for `kernel`, building it when missing.
std::string guest_initramfs(const KernelImage& kernel);
}  // namespace rig
