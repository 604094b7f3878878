// Turns --kernel into a bootable image: a bzImage path, or the name of an installed Debian
// kernel ("debian-6.1", "debian-6.12"), found in /boot by version, never hard-coded.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rig/base/environment.h"

namespace rig {

struct KernelImage {
  std::string name;         // what the user asked for
  std::string path;         // the bzImage
  std::string release;      // uname -r of that kernel, read from the bzImage header
  std::string modules_dir;  // /lib/modules/RELEASE when present
  std::string build_dir;    // kbuild tree to build the probe against (linux-headers), or empty
};

KernelImage locate_kernel(const std::string& spec, const Environment& env = Environment{},
                          const std::string& boot_dir = "/boot");

// The release string in a bzImage's setup header (kernel_version field, up to its first space),
// or nullopt when `path` is no bzImage. UsageError when the release is not valid_kernel_release().
std::optional<std::string> bzimage_release(const std::string& path);

// 1 to 64 bytes (uname's limit) of [A-Za-z0-9._+~-], the first a letter or digit: what real
// releases use ("6.1.0-28-amd64", "6.12.9+bpo-amd64", "6.13.0-rc1~exp1"). Nothing a shell, a path
// or an option parser reads specially.
bool valid_kernel_release(std::string_view release);

// Picks the newest "vmlinuz-<series>.<...>" among file names; "6.1" never matches 6.12.
std::optional<std::string> newest_kernel_for_series(const std::vector<std::string>& names, const std::string& series);

}  // namespace rig
