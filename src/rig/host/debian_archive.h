// Debian's kernels by name: `--kernel debian:VERSION` resolved against Debian's archive with the
// rig's own apt configuration, sources list and state under the cache (never the system's apt
// state or /boot), downloaded with `apt-get download` and extracted with `dpkg-deb -x` into
// CACHE/kernels/debian/RELEASE/. The archive's address is the one the system's apt sources use.
// The pure parts (version order, apt-cache output, which build a request names) are unit-tested
// on recorded output (tests/data/debian-archive/).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rig/base/environment.h"

namespace rig {

// dpkg's version order (epoch, upstream, revision; '~' before anything): <0, 0 or >0.
int compare_debian_versions(const std::string& a, const std::string& b);

// One binary package record (apt-cache show, a Packages file): the fields the rig reads.
struct DebPackage {
  std::string name;
  std::string version;
  std::string depends;
  std::string filename;
  uint64_t size = 0;            // bytes of the .deb
  uint64_t installed_size = 0;  // KiB
  std::string suite;            // from apt-cache madison, when known
};
// Records separated by blank lines; records without Package or Version are dropped.
std::vector<DebPackage> parse_package_records(const std::string& text);
// apt-cache madison lines "NAME | VERSION | URI SUITE/COMPONENT ARCH Packages": the suite of each
// (name, version), written into `packages`.
void add_suites_from_madison(const std::string& madison, std::vector<DebPackage>* packages);

// One Debian kernel build of one flavour (amd64), as the archive offers it.
struct DebianKernel {
  std::string release;                // "7.3.4+deb13-amd64": uname -r, and the packages' name suffix
  std::string upstream;               // "7.3.4": the kernel version (the package version before its revision)
  std::string series;                 // "7.3"
  std::string version;                // the package version "7.3.4-1~bpo13+1"
  std::string suite;                  // "trixie-backports" (empty when unknown)
  DebPackage kernel;                  // linux-image-RELEASE with modules inside, or linux-binary-RELEASE
  std::optional<DebPackage> modules;  // linux-modules-RELEASE, when the modules are separate
  std::optional<DebPackage> base;     // linux-base-RELEASE (config, System.map), when there is one
  bool has_modules = false;           // inside `kernel` or in `modules`
  bool has_headers = false;           // linux-headers-RELEASE is in the archive
  // "linux-image" (kernel and modules in one package) or "linux-binary" (kernel only).
  std::string kind() const;
};
// The kernels of `flavour` among the records (the newest version of each package), newest first.
// rt, cloud, dbg and unsigned packages and the meta packages (linux-image-amd64) are left out.
std::vector<DebianKernel> debian_kernels(const std::vector<DebPackage>& records, const std::string& flavour = "amd64");
// "7.3.4" -> "7.3"; "6.1.0" -> "6.1".
std::string kernel_series(const std::string& upstream);

// The builds a request names, newest first: a series ("7.3": every 7.3.x), a kernel version
// ("7.3.4") or a release ("7.3.4+deb13-amd64").
std::vector<DebianKernel> matching_kernels(const std::vector<DebianKernel>& kernels, const std::string& request);
// The newest build a request names; UsageError (one line, listing what the series or the
// archive offers) when there is none.
DebianKernel pick_kernel(const std::vector<DebianKernel>& kernels, const std::string& request);

// What `rig kernel list --available` prints: per series, newest series first, newest build first.
std::string format_available(const std::vector<DebianKernel>& kernels);

// An apt source of the system (one-line .list or deb822 .sources).
struct AptSource {
  std::string uri;
  std::vector<std::string> suites;
  std::vector<std::string> components;
  std::string signed_by;
};
std::vector<AptSource> parse_apt_sources(const std::string& text, bool deb822);
// The source that is Debian's main archive (a path segment "debian", not the security archive).
std::optional<AptSource> debian_archive_source(const std::vector<AptSource>& sources);
// The rig's own sources list: one line per suite, component main, amd64.
std::string rig_sources_list(const AptSource& archive, const std::vector<std::string>& suites);

// A Debian kernel in the cache, extracted.
struct CachedDebianKernel {
  std::string release;
  std::string dir;          // CACHE/kernels/debian/RELEASE
  std::string vmlinuz;      // the bzImage
  std::string modules_dir;  // DIR/.../modules/RELEASE when it holds modules, else empty
  std::string config;       // the kernel's config, when shipped
  std::string system_map;   // System.map, when shipped
  std::string packages;     // what was extracted: "NAME VERSION SUITE" lines
};
// Finds the files of an extracted kernel in `dir` (boot/vmlinuz-R or usr/lib/modules/R/vmlinuz,
// lib/ or usr/lib/modules/R). nullopt when there is no vmlinuz.
std::optional<CachedDebianKernel> scan_extracted_kernel(const std::string& dir, const std::string& release);

using ArchiveProgress = std::function<void(const std::string&)>;

// The archive with the rig's apt state under `root` (default CACHE/debian-archive) and kernels
// under `kernels_root` (default CACHE/kernels/debian). Every apt run holds one lock (root/lock),
// so rig processes never run apt at once on the same state.
class DebianArchive {
 public:
  explicit DebianArchive(const Environment& env);
  DebianArchive(std::string root, std::string kernels_root, Environment env = {});

  // What the archive offers; the index is refreshed when older than a day or absent.
  // InfraError (one line) when the archive is unreachable and there is no index.
  std::vector<DebianKernel> available(const ArchiveProgress& progress = nullptr);
  // Resolves `request` ("7.3", "6.18.15", "7.3.4+deb13-amd64"), downloads and extracts it unless
  // cached; UsageError for a version the archive does not offer, InfraError when unreachable.
  CachedDebianKernel fetch(const std::string& request, const ArchiveProgress& progress = nullptr);
  // The extracted kernels, newest first.
  std::vector<CachedDebianKernel> cached() const;
  // Debian's source of a kernel series ("7.3": linux-source-7.3), downloaded and extracted unless
  // cached (CACHE/kernels/debian-source/SERIES/); returns its linux-source-SERIES.tar.xz.
  // UsageError when the archive has no such package, InfraError when unreachable.
  std::string fetch_source(const std::string& series, const ArchiveProgress& progress = nullptr);

 private:
  void write_config();
  bool index_present() const;
  void refresh_index(const ArchiveProgress& progress);
  std::vector<DebianKernel> read_index();
  CachedDebianKernel extract(const DebianKernel& k, const ArchiveProgress& progress);
  std::string root_, kernels_root_;
  Environment env_;  // RIG_DEBIAN_MIRROR, RIG_DEBIAN_SUITES
};

// `rig kernel list`: cached Debian kernels and the installed ones in `boot_dir`; with `available`,
// also what the archive offers.
std::string kernel_list_text(const Environment& env, bool available, const std::string& boot_dir = "/boot",
                             const ArchiveProgress& progress = nullptr);

}  // namespace rig
