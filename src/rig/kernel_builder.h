// Builds a guest kernel from source for `rig run --kernel DIR`: patches applied in order, the
// rig's Kconfig fragments merged, out-of-tree build with ccache, cached by its inputs.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace rig {

struct KernelBuildRequest {
  std::string src;                     // tree, tarball, or debian-6.1 / debian-6.12 (linux-source-*)
  std::vector<std::string> patches;    // files, directories (series file or *.patch in order)
  std::vector<std::string> fragments;  // merged after guest-kernel-config/base.config
  std::string out;                     // kernel directory; default: in the cache, by inputs
};

struct KernelBuildResult {
  std::string dir;  // what --kernel takes: holds arch/x86/boot/bzImage and Module.symvers
  bool cached = false;
  double seconds = 0;
};

// Throws UsageError for bad input (missing source, a patch that does not apply) and InfraError
// when the build fails.
KernelBuildResult build_kernel(const KernelBuildRequest& req, const std::function<void(const std::string&)>& progress);

// The patch files a --patch argument stands for, in order (pure file-system lookup).
std::vector<std::string> expand_patch_argument(const std::string& arg);

}  // namespace rig
