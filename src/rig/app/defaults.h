// Every default the commands show and use, in one place: the CLI's help text and the app/
// options structs take them from here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rig/machine/libvirt/libvirt_uri.h"

namespace rig::app {

// The kernel a command runs on when no --kernel is given: Debian 12's own.
inline const char* const kDefaultKernel = "debian-6.1";
inline const char* const kDefaultQemu = "qemu-system-x86_64";
inline const char* const kDefaultAccel = "auto";
inline const char* const kDefaultBackend = "qemu";
inline const char* const kDefaultArtifacts = "rig-runs";  // rig run: per-run folders
inline const char* const kDefaultExploreBudget = "30m";
inline const uint64_t kDefaultExploreSeed = 1;
inline const int kDefaultMinimizeTries = 16;                    // rig explore --max-tries
inline const char* const kDefaultBisectLog = "rig-bisect.log";  // rig bisect(-step) --log
inline const char* const kDefaultBisectArtifacts = "rig-runs/bisect";
inline const char* const kDefaultBisectSrc = ".";  // rig bisect-step --src
// --connect when none is given (the libvirt layer's, where every connection is checked).
using rig::default_libvirt_uri;
// What `rig qemu-args` and `rig libvirt-xml` print for paths not given.
inline const char* const kPlaceholderKernel = "KERNEL";
inline const char* const kPlaceholderInitrd = "INITRD";
inline const char* const kPlaceholderRunDir = "RUN";

// The kernels to run on: those given, else the default one.
inline std::vector<std::string> kernels_or_default(const std::vector<std::string>& given) {
  return given.empty() ? std::vector<std::string>{kDefaultKernel} : given;
}

}  // namespace rig::app
