// Turns --kernel into a bootable image: a bzImage path, or the name of an installed Debian
// kernel ("debian-6.1", "debian-6.12"), found in /boot by version, never hard-coded.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace rig {

struct KernelImage {
  std::string name;         // what the user asked for
  std::string path;         // the bzImage
  std::string release;      // uname -r of that kernel, read from the bzImage header
  std::string modules_dir;  // /lib/modules/RELEASE when present
  std::string build_dir;    // kbuild tree to build the probe against (linux-headers), or empty
};

KernelImage locate_kernel(const std::string& spec, const std::string& boot_dir = "/boot");

// The release string in a bzImage's setup header (kernel_version field), or nullopt.
std::optional<std::string> bzimage_release(const std::string& path);

// Picks the newest "vmlinuz-<series>.<...>" among file names; "6.1" never matches 6.12.
std::optional<std::string> newest_kernel_for_series(const std::vector<std::string>& names, const std::string& series);

}  // namespace rig
