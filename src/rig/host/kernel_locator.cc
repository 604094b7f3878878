#include "rig/host/kernel_locator.h"

#include <fmt/format.h>
#include <string.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>

#include "rig/base/errors.h"
#include "rig/base/text.h"
#include "rig/host/debian_archive.h"

namespace rig {

std::optional<std::string> bzimage_release(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  char hdr[0x210];
  if (!in.read(hdr, sizeof hdr)) return std::nullopt;
  if (std::string(hdr + 0x202, 4) != "HdrS") return std::nullopt;
  uint16_t off =
      static_cast<uint16_t>(static_cast<unsigned char>(hdr[0x20E]) | (static_cast<unsigned char>(hdr[0x20F]) << 8));
  if (off == 0) return std::nullopt;
  in.seekg(off + 0x200);
  char ver[256] = {};
  in.read(ver, sizeof ver - 1);
  std::string s(ver);
  auto sp = s.find(' ');
  s = s.substr(0, sp);
  if (s.empty()) return std::nullopt;
  // The release names files (/lib/modules/RELEASE, the cached initramfs), goes to the image
  // scripts as an argument and into reproducers: only what real releases use.
  if (!valid_kernel_release(s))
    throw UsageError(
        fmt::format("{}: the release in its bzImage header, '{}', is not a kernel release (1 to 64 of "
                    "A-Z a-z 0-9 . _ + ~ -, starting with a letter or digit)",
                    path, one_line(s, 80)));
  return s;
}

bool valid_kernel_release(std::string_view r) {
  if (r.empty() || r.size() > 64 || !std::isalnum(static_cast<unsigned char>(r[0]))) return false;
  return std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '+' || c == '~' || c == '-';
  });
}

std::optional<std::string> newest_kernel_for_series(const std::vector<std::string>& names, const std::string& series) {
  const std::string prefix = "vmlinuz-" + series;
  std::optional<std::string> best;
  for (const auto& n : names) {
    if (n.compare(0, prefix.size(), prefix) != 0 || n.size() == prefix.size()) continue;
    char next = n[prefix.size()];
    if (next != '.' && next != '-' && next != '+') continue;
    if (!best || strverscmp(n.c_str(), best->c_str()) > 0) best = n;
  }
  return best;
}

KernelImage locate_kernel(const std::string& spec, const Environment& env, const std::string& boot_dir) {
  namespace fs = boost::filesystem;
  KernelImage k;
  k.name = spec;
  std::string debian_modules;
  if (spec.rfind("debian:", 0) == 0) {
    // A Debian build from the archive, fetched into the cache once (debian_archive.h).
    const CachedDebianKernel d = DebianArchive(env).fetch(
        spec.substr(7), [](const std::string& line) { std::cerr << "[rig] " << line << std::endl; });
    k.path = d.vmlinuz;
    debian_modules = d.modules_dir;
  } else if (spec.rfind("debian-", 0) == 0) {
    std::string series = spec.substr(7);
    std::vector<std::string> names;
    boost::system::error_code ec;
    for (fs::directory_iterator it(boot_dir, ec), end; !ec && it != end; it.increment(ec))
      names.push_back(it->path().filename().string());
    auto found = newest_kernel_for_series(names, series);
    if (!found)
      throw UsageError(fmt::format(
          "kernel '{}': no {}/vmlinuz-{}.* installed (apt-get install linux-image-{}-amd64 or linux-image-amd64)", spec,
          boot_dir, series, series));
    k.path = boot_dir + "/" + *found;
  } else {
    if (!fs::exists(spec))
      throw UsageError(fmt::format("kernel '{}': no such file (give a bzImage path, debian-6.1 or debian-6.12)", spec));
    // Absolute: QEMU runs in the run directory, and results name the file wherever they are read.
    const std::string abs = fs::absolute(spec).lexically_normal().string();
    k.path = fs::is_directory(spec) ? abs + "/arch/x86/boot/bzImage" : abs;
    if (!fs::exists(k.path)) throw UsageError(fmt::format("kernel '{}': {} does not exist", spec, k.path));
  }
  if (::access(k.path.c_str(), R_OK) != 0)
    throw UsageError(
        fmt::format("kernel '{}': {} is not readable (Debian installs it mode 0600: run as root)", spec, k.path));
  auto rel = bzimage_release(k.path);
  if (!rel) throw UsageError(fmt::format("kernel '{}': {} is not an x86 bzImage", spec, k.path));
  k.release = *rel;
  if (!debian_modules.empty())
    k.modules_dir = debian_modules;
  else if (fs::is_directory("/lib/modules/" + k.release))
    k.modules_dir = "/lib/modules/" + k.release;
  // A kernel the user built carries its own tree; a Debian kernel has linux-headers-RELEASE.
  if (fs::is_directory(spec) && fs::exists(fs::path(spec) / "Module.symvers"))
    k.build_dir = fs::absolute(spec).lexically_normal().string();
  else if (fs::exists(fs::path("/lib/modules") / k.release / "build" / "Makefile"))
    k.build_dir = "/lib/modules/" + k.release + "/build";
  return k;
}

}  // namespace rig
