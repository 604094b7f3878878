#include "rig/host/debian_archive.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <boost/process.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "rig/base/atomic_file.h"
#include "rig/base/errors.h"
#include "rig/base/paths.h"
#include "rig/base/text.h"
#include "rig/base/timeouts.h"
#include "rig/host/kernel_locator.h"

namespace fs = boost::filesystem;
namespace bp = boost::process;

namespace rig {
namespace {

// dpkg's order of one character in the non-digit part: '~' first, then the end, letters, the rest.
int char_order(char c) {
  if (std::isdigit(static_cast<unsigned char>(c))) return 0;
  if (std::isalpha(static_cast<unsigned char>(c))) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

int compare_part(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  auto at = [](const std::string& s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() || j < b.size()) {
    while ((at(a, i) && !digit(at(a, i))) || (at(b, j) && !digit(at(b, j)))) {
      const int ac = char_order(at(a, i)), bc = char_order(at(b, j));
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (at(a, i) == '0') ++i;
    while (at(b, j) == '0') ++j;
    int first_diff = 0;
    while (digit(at(a, i)) && digit(at(b, j))) {
      if (!first_diff) first_diff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (digit(at(a, i))) return 1;
    if (digit(at(b, j))) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct SplitVersion {
  long epoch = 0;
  std::string upstream, revision;
};

SplitVersion split_version(const std::string& v) {
  SplitVersion s;
  std::string rest = v;
  const auto colon = rest.find(':');
  if (colon != std::string::npos) {
    s.epoch = std::strtol(rest.substr(0, colon).c_str(), nullptr, 10);
    rest = rest.substr(colon + 1);
  }
  const auto dash = rest.rfind('-');
  if (dash != std::string::npos) {
    s.revision = rest.substr(dash + 1);
    rest = rest.substr(0, dash);
  }
  s.upstream = rest;
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

const std::vector<std::string> kKernelPackagePrefixes = {"linux-image-", "linux-binary-", "linux-modules-",
                                                         "linux-headers-", "linux-base-"};

// "linux-binary-7.3.4+deb13-amd64" -> {"linux-binary-", "7.3.4+deb13-amd64"} for the flavour's own
// builds only (not -rt-amd64, -cloud-amd64, -amd64-dbg, -amd64-unsigned, nor linux-image-amd64).
std::optional<std::pair<std::string, std::string>> kernel_package(const std::string& name, const std::string& flavour) {
  for (const auto& p : kKernelPackagePrefixes) {
    if (!starts_with(name, p)) continue;
    const std::string release = name.substr(p.size());
    if (!ends_with(release, "-" + flavour)) return std::nullopt;
    const std::string abi = release.substr(0, release.size() - flavour.size() - 1);
    if (abi.empty() || !std::isdigit(static_cast<unsigned char>(abi[0]))) return std::nullopt;
    const auto dash = abi.rfind('-');
    const std::string last = dash == std::string::npos ? abi : abi.substr(dash + 1);
    if (last.empty() || !std::isdigit(static_cast<unsigned char>(last[0]))) return std::nullopt;
    // It names folders of the cache: the characters a kernel release may have, nothing else.
    if (!valid_kernel_release(release)) return std::nullopt;
    return std::make_pair(p, release);
  }
  return std::nullopt;
}

// The first line starting with the first of `prefixes` that any line starts with.
std::string first_line_with(const std::string& text, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
      if (starts_with(line, p)) return trim(line);
  }
  return "";
}

std::string upstream_of(const std::string& package_version) { return split_version(package_version).upstream; }

}  // namespace

int compare_debian_versions(const std::string& a, const std::string& b) {
  const SplitVersion x = split_version(a), y = split_version(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  if (int c = compare_part(x.upstream, y.upstream)) return c;
  return compare_part(x.revision, y.revision);
}

std::vector<DebPackage> parse_package_records(const std::string& text) {
  std::vector<DebPackage> out;
  DebPackage cur;
  auto flush = [&] {
    if (!cur.name.empty() && !cur.version.empty()) out.push_back(cur);
    cur = DebPackage{};
  };
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      flush();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') continue;  // a continuation line
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (key == "Package")
      cur.name = value;
    else if (key == "Version")
      cur.version = value;
    else if (key == "Depends")
      cur.depends = value;
    else if (key == "Filename")
      cur.filename = value;
    else if (key == "Size")
      cur.size = std::strtoull(value.c_str(), nullptr, 10);
    else if (key == "Installed-Size")
      cur.installed_size = std::strtoull(value.c_str(), nullptr, 10);
  }
  flush();
  return out;
}

void add_suites_from_madison(const std::string& madison, std::vector<DebPackage>* packages) {
  std::istringstream in(madison);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    size_t pos = 0;
    while (true) {
      const auto bar = line.find('|', pos);
      cols.push_back(trim(line.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos)));
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    if (cols.size() < 3) continue;
    const auto w = words(cols[2]);
    if (w.size() < 2) continue;
    const std::string suite = w[1].substr(0, w[1].find('/'));
    for (auto& p : *packages)
      if (p.name == cols[0] && p.version == cols[1] && p.suite.empty()) p.suite = suite;
  }
}

std::string DebianKernel::kind() const {
  return starts_with(kernel.name, "linux-binary-") ? "linux-binary" : "linux-image";
}

std::string kernel_series(const std::string& upstream) {
  const auto first = upstream.find('.');
  if (first == std::string::npos) return upstream;
  const auto second = upstream.find_first_not_of("0123456789", first + 1);
  return upstream.substr(0, second);
}

std::vector<DebianKernel> debian_kernels(const std::vector<DebPackage>& records, const std::string& flavour) {
  // The newest version of each package, grouped by release.
  std::map<std::string, std::map<std::string, DebPackage>> by_release;  // release -> prefix -> package
  for (const auto& r : records) {
    const auto kp = kernel_package(r.name, flavour);
    if (!kp) continue;
    auto& slot = by_release[kp->second];
    auto it = slot.find(kp->first);
    if (it == slot.end() || compare_debian_versions(r.version, it->second.version) > 0) slot[kp->first] = r;
  }
  std::vector<DebianKernel> out;
  for (const auto& [release, pkgs] : by_release) {
    auto get = [&pkgs = pkgs](const std::string& prefix) -> std::optional<DebPackage> {
      auto it = pkgs.find(prefix);
      if (it == pkgs.end()) return std::nullopt;
      return it->second;
    };
    DebianKernel k;
    k.release = release;
    const auto binary = get("linux-binary-"), image = get("linux-image-");
    if (binary) {
      k.kernel = *binary;
      k.modules = get("linux-modules-");
      k.has_modules = k.modules.has_value();
    } else if (image && image->depends.find("linux-binary-") == std::string::npos) {
      k.kernel = *image;  // kernel and modules in one package
      k.has_modules = true;
    } else {
      continue;  // a meta package whose kernel is gone, or headers alone
    }
    k.base = get("linux-base-");
    k.has_headers = get("linux-headers-").has_value();
    k.version = k.kernel.version;
    k.suite = k.kernel.suite;
    k.upstream = upstream_of(k.version);
    k.series = kernel_series(k.upstream);
    out.push_back(k);
  }
  std::sort(out.begin(), out.end(), [](const DebianKernel& a, const DebianKernel& b) {
    if (int c = compare_debian_versions(a.version, b.version)) return c > 0;
    return compare_debian_versions(a.release, b.release) > 0;
  });
  return out;
}

std::vector<DebianKernel> matching_kernels(const std::vector<DebianKernel>& kernels, const std::string& request) {
  std::vector<DebianKernel> out;
  for (const auto& k : kernels)
    if (request == k.release || request == k.upstream || starts_with(k.upstream, request + ".") ||
        starts_with(k.release, request + "-"))
      out.push_back(k);
  return out;
}

DebianKernel pick_kernel(const std::vector<DebianKernel>& kernels, const std::string& request) {
  const auto found = matching_kernels(kernels, request);
  if (!found.empty()) return found.front();
  const std::string series = kernel_series(request);
  std::vector<std::string> offered;
  for (const auto& k : kernels)
    if (k.series == series) offered.push_back(k.upstream);
  if (!offered.empty())
    throw UsageError(fmt::format("kernel 'debian:{}': the Debian archive has no {}; series {} offers {}", request,
                                 request, series, fmt::join(offered, ", ")));
  std::vector<std::string> series_list;
  for (const auto& k : kernels)
    if (std::find(series_list.begin(), series_list.end(), k.series) == series_list.end())
      series_list.push_back(k.series);
  throw UsageError(fmt::format("kernel 'debian:{}': the Debian archive has no {} series; it offers {}", request, series,
                               series_list.empty() ? "nothing" : fmt::format("{}", fmt::join(series_list, ", "))));
}

std::string format_available(const std::vector<DebianKernel>& kernels) {
  std::vector<std::string> series;
  for (const auto& k : kernels)
    if (std::find(series.begin(), series.end(), k.series) == series.end()) series.push_back(k.series);
  std::sort(series.begin(), series.end(),
            [](const std::string& a, const std::string& b) { return compare_debian_versions(a, b) > 0; });
  std::string out = fmt::format("{:<7} {:<20} {:<24} {:<17} {:<13} {:<8} {}\n", "SERIES", "RELEASE", "VERSION", "SUITE",
                                "PACKAGE", "MODULES", "HEADERS");
  for (const auto& s : series)
    for (const auto& k : kernels)
      if (k.series == s)
        out += fmt::format("{:<7} {:<20} {:<24} {:<17} {:<13} {:<8} {}\n", k.series, k.release, k.version,
                           k.suite.empty() ? "-" : k.suite, k.kind(), k.has_modules ? "yes" : "no",
                           k.has_headers ? "yes" : "no");
  return out;
}

std::vector<AptSource> parse_apt_sources(const std::string& text, bool deb822) {
  std::vector<AptSource> out;
  std::istringstream in(text);
  std::string line;
  if (!deb822) {
    while (std::getline(in, line)) {
      line = trim(line.substr(0, line.find('#')));
      auto w = words(line);
      if (w.size() < 3 || w[0] != "deb") continue;
      AptSource s;
      size_t i = 1;
      if (starts_with(w[1], "[")) {
        // Options up to the closing bracket: signed-by=FILE is the one the rig keeps.
        for (; i < w.size(); ++i) {
          std::string opt = w[i];
          const bool last = opt.find(']') != std::string::npos;
          opt.erase(std::remove(opt.begin(), opt.end(), '['), opt.end());
          opt.erase(std::remove(opt.begin(), opt.end(), ']'), opt.end());
          if (starts_with(opt, "signed-by=")) s.signed_by = opt.substr(10);
          if (last) {
            ++i;
            break;
          }
        }
      }
      if (i + 1 >= w.size()) continue;
      s.uri = w[i];
      s.suites = {w[i + 1]};
      s.components.assign(w.begin() + static_cast<long>(i) + 2, w.end());
      out.push_back(s);
    }
    return out;
  }
  std::map<std::string, std::string> fields;
  std::string last_key;
  auto flush = [&] {
    const auto types = words(fields["Types"]);
    const bool deb = std::find(types.begin(), types.end(), "deb") != types.end();
    std::string enabled = fields.count("Enabled") ? trim(fields["Enabled"]) : "yes";
    if (deb && enabled != "no") {
      std::string signed_by = trim(fields["Signed-By"]);
      if (signed_by.find('\n') != std::string::npos || signed_by.find("BEGIN PGP") != std::string::npos)
        signed_by.clear();  // an inline key: apt's own keyring will do
      for (const auto& uri : words(fields["URIs"])) {
        AptSource s;
        s.uri = uri;
        s.suites = words(fields["Suites"]);
        s.components = words(fields["Components"]);
        s.signed_by = signed_by;
        out.push_back(s);
      }
    }
    fields.clear();
    last_key.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      flush();
      continue;
    }
    if (line[0] == '#') continue;
    if ((line[0] == ' ' || line[0] == '\t') && !last_key.empty()) {
      fields[last_key] += "\n" + trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    last_key = trim(line.substr(0, colon));
    fields[last_key] = trim(line.substr(colon + 1));
  }
  flush();
  return out;
}

std::optional<AptSource> debian_archive_source(const std::vector<AptSource>& sources) {
  for (const auto& s : sources) {
    if (s.uri.find("security") != std::string::npos) continue;
    const auto scheme = s.uri.find("://");
    const std::string path = scheme == std::string::npos ? s.uri
                                                         : s.uri.substr(s.uri.find('/', scheme + 3) == std::string::npos
                                                                            ? s.uri.size()
                                                                            : s.uri.find('/', scheme + 3));
    std::istringstream segs(path);
    std::string seg;
    bool debian = false;
    while (std::getline(segs, seg, '/'))
      if (seg == "debian") debian = true;
    if (debian) return s;
  }
  return std::nullopt;
}

std::string rig_sources_list(const AptSource& archive, const std::vector<std::string>& suites) {
  std::string uri = archive.uri;
  while (uri.size() > 1 && uri.back() == '/') uri.pop_back();
  std::string opts = "arch=amd64";
  if (!archive.signed_by.empty()) opts += " signed-by=" + archive.signed_by;
  std::string out = "# Written by the rig from the system's apt sources; the rig's own, for Debian's kernels.\n";
  for (const auto& s : suites) out += fmt::format("deb [{}] {} {} main\n", opts, uri, s);
  return out;
}

std::optional<CachedDebianKernel> scan_extracted_kernel(const std::string& dir, const std::string& release) {
  CachedDebianKernel k;
  k.release = release;
  k.dir = dir;
  // What a package holds may be a link (to the host's own files): only a regular file, not
  // reached through a link, counts.
  auto first = [&](const std::vector<std::string>& rels) -> std::string {
    boost::system::error_code ec;
    for (const auto& r : rels)
      if (fs::symlink_status(dir + "/" + r, ec).type() == fs::regular_file) return dir + "/" + r;
    return "";
  };
  const std::string boot = "boot/", umod = "usr/lib/modules/" + release + "/", lmod = "lib/modules/" + release + "/";
  k.vmlinuz = first({boot + "vmlinuz-" + release, umod + "vmlinuz", lmod + "vmlinuz"});
  if (k.vmlinuz.empty()) return std::nullopt;
  k.config = first({boot + "config-" + release, umod + "config", lmod + "config"});
  k.system_map = first({boot + "System.map-" + release, umod + "System.map", lmod + "System.map"});
  for (const auto& m : {umod, lmod})
    if (boost::system::error_code ec;
        fs::symlink_status(dir + "/" + m.substr(0, m.size() - 1), ec).type() == fs::directory_file &&
        fs::symlink_status(dir + "/" + m + "kernel", ec).type() == fs::directory_file) {
      k.modules_dir = dir + "/" + m.substr(0, m.size() - 1);
      break;
    }
  k.packages = read_text_file(dir + "/rig-debian-packages.txt");
  return k;
}

// ---------------------------------------------------------------------------------------------
// The impure part: apt and dpkg-deb under the rig's own configuration.

namespace {

const std::vector<std::string> kDefaultSuites = {"bookworm", "trixie", "trixie-backports", "sid"};

class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw InfraError(fmt::format("cannot open {}", path));
    if (::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      throw InfraError(fmt::format("cannot lock {}", path));
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

void write_if_changed(const std::string& path, const std::string& text) {
  if (fs::exists(path) && read_text_file(path) == text) return;
  write_file_atomically(path, text);  // no fixed temporary name
}

std::vector<std::string> configured_suites(const Environment& env) {
  if (!env.debian_suites.empty()) {
    std::string v = env.debian_suites;
    std::replace(v.begin(), v.end(), ',', ' ');
    return words(v);
  }
  return kDefaultSuites;
}

// The archive the system's apt uses (RIG_DEBIAN_MIRROR overrides it).
AptSource system_archive(const Environment& env) {
  if (!env.debian_mirror.empty()) {
    // It goes into the rig's sources.list: an address, nothing that could add options or lines.
    const std::string& m = env.debian_mirror;
    if (!(starts_with(m, "http://") || starts_with(m, "https://") || starts_with(m, "file:/")) ||
        m.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/._~+-%@") !=
            std::string::npos)
      throw UsageError(fmt::format("RIG_DEBIAN_MIRROR {}: not an http(s) or file address", one_line(m, 100)));
    AptSource s;
    s.uri = env.debian_mirror;
    if (fs::exists("/usr/share/keyrings/debian-archive-keyring.gpg"))
      s.signed_by = "/usr/share/keyrings/debian-archive-keyring.gpg";
    return s;
  }
  std::vector<AptSource> all;
  auto add = [&all](const std::string& path, bool deb822) {
    for (auto& s : parse_apt_sources(read_text_file(path), deb822)) all.push_back(s);
  };
  add("/etc/apt/sources.list", false);
  std::vector<std::string> parts;
  boost::system::error_code ec;
  for (fs::directory_iterator it("/etc/apt/sources.list.d", ec), end; !ec && it != end; it.increment(ec))
    parts.push_back(it->path().string());
  std::sort(parts.begin(), parts.end());
  for (const auto& p : parts) {
    if (ends_with(p, ".list")) add(p, false);
    if (ends_with(p, ".sources")) add(p, true);
  }
  auto found = debian_archive_source(all);
  if (!found)
    throw InfraError(
        "no Debian archive in the system's apt sources (/etc/apt/sources.list(.d)); set RIG_DEBIAN_MIRROR to its URI");
  if (found->signed_by.empty() && fs::exists("/usr/share/keyrings/debian-archive-keyring.gpg"))
    found->signed_by = "/usr/share/keyrings/debian-archive-keyring.gpg";
  return *found;
}

struct AptRun {
  int rc = 0;
  std::string out;  // stdout
  std::string log;  // stderr (and stdout when not captured)
};

// Runs argv (argv[0] searched in PATH) with the rig's apt configuration; stdin closed.
AptRun run_apt(const std::string& apt_conf, const std::vector<std::string>& argv, const std::string& log_path,
               const std::string& start_dir = "", bool capture = false) {
  AptRun r;
  auto env = boost::this_process::environment();
  bp::environment e = env;
  e["APT_CONFIG"] = apt_conf;
  e["LC_ALL"] = "C";
  const auto exe = bp::search_path(argv[0]);
  if (exe.empty()) throw InfraError(fmt::format("{} not found (apt-get install apt dpkg)", argv[0]));
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  const std::string dir = start_dir.empty() ? fs::current_path().string() : start_dir;
  try {
    if (capture) {
      bp::ipstream out;
      bp::child c(exe, args, e, bp::start_dir = dir, bp::std_out > out, bp::std_err > log_path, bp::std_in < bp::null);
      r.out.assign(std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>());
      c.wait();
      r.rc = c.exit_code();
    } else {
      r.rc =
          bp::system(exe, args, e, bp::start_dir = dir, (bp::std_out & bp::std_err) > log_path, bp::std_in < bp::null);
    }
  } catch (const std::exception& ex) {
    throw InfraError(fmt::format("cannot run {}: {}", argv[0], ex.what()));
  }
  r.log = read_text_file(log_path);
  return r;
}

std::string apt_problem(const std::string& log) {
  std::string line = first_line_with(log, {"E: ", "W: Failed to fetch", "Err:", "W: "});
  return line.empty() ? "no message (see the log)" : line;
}

}  // namespace

DebianArchive::DebianArchive(const Environment& env)
    : DebianArchive(cache_dir(env) + "/debian-archive", cache_dir(env) + "/kernels/debian", env) {}

DebianArchive::DebianArchive(std::string root, std::string kernels_root, Environment env)
    : root_(std::move(root)), kernels_root_(std::move(kernels_root)), env_(std::move(env)) {}

void DebianArchive::write_config() {
  for (const auto& d :
       {root_, root_ + "/etc", root_ + "/etc/apt.conf.d", root_ + "/etc/sources.list.d", root_ + "/etc/preferences.d",
        root_ + "/state", root_ + "/state/lists", root_ + "/state/lists/partial", root_ + "/cache",
        root_ + "/cache/archives", root_ + "/cache/archives/partial"})
    make_private_dir(d);
  const AptSource archive = system_archive(env_);
  write_if_changed(root_ + "/etc/sources.list", rig_sources_list(archive, configured_suites(env_)));
  if (!fs::exists(root_ + "/state/status")) write_if_changed(root_ + "/state/status", "");
  // Nothing of the system's apt configuration is read (APT_CONFIG names this file, which points
  // the parts directory here): no hooks, no pins, no other sources, no system state.
  std::string conf;
  auto set = [&conf](const std::string& key, const std::string& value) {
    conf += fmt::format("{} \"{}\";\n", key, value);
  };
  set("Dir::Etc::parts", root_ + "/etc/apt.conf.d");
  set("Dir::Etc::main", "/dev/null");
  set("Dir::Etc::sourcelist", root_ + "/etc/sources.list");
  set("Dir::Etc::sourceparts", root_ + "/etc/sources.list.d");
  set("Dir::Etc::preferences", root_ + "/etc/preferences");
  set("Dir::Etc::preferencesparts", root_ + "/etc/preferences.d");
  set("Dir::State", root_ + "/state");
  set("Dir::State::status", root_ + "/state/status");
  set("Dir::Cache", root_ + "/cache");
  set("Dir::Cache::pkgcache", "pkgcache.bin");
  set("Dir::Cache::srcpkgcache", "");
  set("APT::Architecture", "amd64");
  conf += "APT::Architectures { \"amd64\"; };\n";
  set("Acquire::Languages", "none");
  // The archive this host reaches may be a mirror frozen at some date; the signatures still hold.
  set("Acquire::Check-Valid-Until", "false");
  // As root apt would download as _apt, which cannot write into the rig's private (0700) cache.
  if (::geteuid() == 0) set("APT::Sandbox::User", "root");
  write_if_changed(root_ + "/etc/apt.conf", conf);
}

bool DebianArchive::index_present() const {
  boost::system::error_code ec;
  for (fs::directory_iterator it(root_ + "/state/lists", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find("_Packages") != std::string::npos) return true;
  return false;
}

void DebianArchive::refresh_index(const ArchiveProgress& progress) {
  const std::string stamp = root_ + "/updated";
  const std::string uri = system_archive(env_).uri;
  boost::system::error_code ec;
  const auto when = fs::last_write_time(stamp, ec);
  // Stale after a day, or when the archive's address changed (RIG_DEBIAN_MIRROR, the system's).
  const bool stale = ec || read_text_file(stamp) != uri + "\n" ||
                     std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(when) >
                         std::chrono::duration<double>(default_timeouts().debian_index_max_age);
  if (index_present() && !stale) return;
  if (progress)
    progress(fmt::format("reading the Debian archive's index ({}, {})", uri, fmt::join(configured_suites(env_), " ")));
  const AptRun r = run_apt(root_ + "/etc/apt.conf", {"apt-get", "-q", "update"}, root_ + "/apt-update.log");
  const bool failed = r.rc != 0 || r.log.find("Failed to fetch") != std::string::npos ||
                      r.log.find("\nErr:") != std::string::npos || starts_with(r.log, "Err:");
  // Some suites read (a mirror without sid, say) is an index: the next refresh is due in a day.
  const bool some_read = r.log.find("Hit:") != std::string::npos || r.log.find("Get:") != std::string::npos;
  if (!failed || some_read) {
    write_if_changed(stamp, uri + "\n");
    fs::last_write_time(stamp, std::time(nullptr), ec);
  }
  if (!failed) return;
  if (!index_present())
    throw InfraError(fmt::format("the Debian archive {} is unreachable: {} (log {})", uri, apt_problem(r.log),
                                 root_ + "/apt-update.log"));
  if (progress)
    progress(
        fmt::format("the Debian archive's index was not read in full ({}); using what was read", apt_problem(r.log)));
}

std::vector<DebianKernel> DebianArchive::read_index() {
  const std::string conf = root_ + "/etc/apt.conf", log = root_ + "/apt-cache.log";
  const AptRun search = run_apt(
      conf, {"apt-cache", "search", "--names-only", "^linux-(image|binary|modules|headers|base)-[0-9]"}, log, "", true);
  if (search.rc != 0) throw InfraError(fmt::format("apt-cache search failed: {}", apt_problem(search.log)));
  std::vector<std::string> names;
  std::istringstream in(search.out);
  std::string line;
  while (std::getline(in, line)) {
    const auto w = words(line);
    if (!w.empty() && kernel_package(w[0], "amd64")) names.push_back(w[0]);
  }
  if (names.empty()) return {};
  std::vector<std::string> show = {"apt-cache", "show"}, madison = {"apt-cache", "madison"};
  show.insert(show.end(), names.begin(), names.end());
  madison.insert(madison.end(), names.begin(), names.end());
  const AptRun s = run_apt(conf, show, log, "", true);
  if (s.rc != 0) throw InfraError(fmt::format("apt-cache show failed: {}", apt_problem(s.log)));
  std::vector<DebPackage> records = parse_package_records(s.out);
  const AptRun m = run_apt(conf, madison, log, "", true);
  if (m.rc == 0) add_suites_from_madison(m.out, &records);
  return debian_kernels(records);
}

std::vector<DebianKernel> DebianArchive::available(const ArchiveProgress& progress) {
  write_config();
  FileLock lock(root_ + "/lock");
  refresh_index(progress);
  return read_index();
}

CachedDebianKernel DebianArchive::extract(const DebianKernel& k, const ArchiveProgress& progress) {
  make_private_dir(fs::path(kernels_root_).parent_path().string());
  make_private_dir(kernels_root_);
  const std::string tmp = fmt::format("{}/.{}.partial-{}", kernels_root_, k.release, ::getpid());
  boost::system::error_code ec;
  // Under the lock no other extraction runs: a staging directory left now is a killed rig's.
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(kernels_root_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find(".partial-") != std::string::npos) stale.push_back(it->path());
  for (const auto& p : stale) fs::remove_all(p, ec);
  make_private_dir(tmp + "/debs");
  make_private_dir(tmp + "/tree");
  std::vector<DebPackage> pkgs = {k.kernel};
  if (k.modules) pkgs.push_back(*k.modules);
  if (k.base) pkgs.push_back(*k.base);
  uint64_t bytes = 0;
  std::vector<std::string> args = {"apt-get", "-q", "download"};
  for (const auto& p : pkgs) {
    args.push_back(p.name + "=" + p.version);
    bytes += p.size;
  }
  if (progress)
    progress(fmt::format("downloading Debian kernel {} ({} MiB: {})", k.release, bytes >> 20,
                         fmt::join(
                             [&] {
                               std::vector<std::string> n;
                               for (const auto& p : pkgs) n.push_back(p.name);
                               return n;
                             }(),
                             ", ")));
  const std::string log = tmp + "/download.log";
  const AptRun d = run_apt(root_ + "/etc/apt.conf", args, log, tmp + "/debs");
  if (d.rc != 0) {
    const std::string why = apt_problem(d.log);
    fs::remove_all(tmp, ec);
    throw InfraError(fmt::format("downloading Debian kernel {} failed: {}", k.release, why));
  }
  std::string listing;
  for (const auto& p : pkgs) listing += fmt::format("{} {} {}\n", p.name, p.version, p.suite.empty() ? "-" : p.suite);
  for (fs::directory_iterator it(tmp + "/debs", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".deb") continue;
    const AptRun x =
        run_apt(root_ + "/etc/apt.conf", {"dpkg-deb", "-x", it->path().string(), tmp + "/tree"}, tmp + "/extract.log");
    if (x.rc != 0) {
      const std::string why = first_line_with(x.log, {"dpkg-deb"});
      fs::remove_all(tmp, ec);
      throw InfraError(fmt::format("extracting {} failed: {}", it->path().filename().string(), why));
    }
  }
  write_if_changed(tmp + "/tree/rig-debian-packages.txt", listing);
  if (::chmod((tmp + "/tree").c_str(), 0700) != 0) throw InfraError(fmt::format("cannot chmod {}/tree", tmp));
  const std::string dest = kernels_root_ + "/" + k.release;
  fs::rename(tmp + "/tree", dest, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    throw InfraError(fmt::format("cannot move the extracted kernel to {}", dest));
  }
  fs::remove_all(tmp, ec);
  auto found = scan_extracted_kernel(dest, k.release);
  if (!found) throw InfraError(fmt::format("Debian kernel {}: no vmlinuz in {}", k.release, dest));
  return *found;
}

CachedDebianKernel DebianArchive::fetch(const std::string& request, const ArchiveProgress& progress) {
  if (request.empty() || request.find('/') != std::string::npos || request[0] == '.' || request[0] == '-')
    throw UsageError(
        fmt::format("kernel 'debian:{}': give a Debian kernel version, e.g. debian:7.3 or debian:6.18.15", request));
  write_config();
  FileLock lock(root_ + "/lock");
  refresh_index(progress);
  const DebianKernel k = pick_kernel(read_index(), request);
  const std::string dest = kernels_root_ + "/" + k.release;
  if (auto cached = scan_extracted_kernel(dest, k.release)) return *cached;
  return extract(k, progress);
}

std::string DebianArchive::fetch_source(const std::string& series, const ArchiveProgress& progress) {
  if (series.empty() || series.find_first_not_of("0123456789.") != std::string::npos || series[0] == '.')
    throw UsageError(fmt::format("--src debian-{}: give a kernel series, e.g. debian-7.3", series));
  const std::string name = "linux-source-" + series;
  const std::string root = fs::path(kernels_root_).parent_path().string() + "/debian-source";
  const std::string dest = root + "/" + series;
  const std::string tarball = dest + "/usr/src/" + name + ".tar.xz";
  write_config();
  FileLock lock(root_ + "/lock");
  if (fs::is_regular_file(tarball) && !fs::is_symlink(tarball)) return tarball;
  refresh_index(progress);
  const AptRun show = run_apt(root_ + "/etc/apt.conf", {"apt-cache", "show", name}, root_ + "/apt-cache.log", "", true);
  std::vector<DebPackage> records = show.rc == 0 ? parse_package_records(show.out) : std::vector<DebPackage>{};
  if (records.empty()) throw UsageError(fmt::format("--src debian-{}: the Debian archive has no {}", series, name));
  const DebPackage* newest = &records[0];
  for (const auto& r : records)
    if (compare_debian_versions(r.version, newest->version) > 0) newest = &r;
  make_private_dir(fs::path(kernels_root_).parent_path().string());
  make_private_dir(root);
  const std::string tmp = fmt::format("{}/.{}.partial-{}", root, series, ::getpid());
  boost::system::error_code ec;
  fs::remove_all(tmp, ec);
  make_private_dir(tmp);
  make_private_dir(tmp + "/debs");
  make_private_dir(tmp + "/tree");
  if (progress) progress(fmt::format("downloading Debian's {} {} ({} MiB)", name, newest->version, newest->size >> 20));
  const AptRun d = run_apt(root_ + "/etc/apt.conf", {"apt-get", "-q", "download", name + "=" + newest->version},
                           tmp + "/download.log", tmp + "/debs");
  std::string deb;
  for (fs::directory_iterator it(tmp + "/debs", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".deb") deb = it->path().string();
  if (d.rc != 0 || deb.empty()) {
    const std::string why = apt_problem(d.log);
    fs::remove_all(tmp, ec);
    throw InfraError(fmt::format("downloading {} failed: {}", name, why));
  }
  const AptRun x = run_apt(root_ + "/etc/apt.conf", {"dpkg-deb", "-x", deb, tmp + "/tree"}, tmp + "/extract.log");
  if (x.rc != 0 || !fs::is_regular_file(tmp + "/tree/usr/src/" + name + ".tar.xz")) {
    fs::remove_all(tmp, ec);
    throw InfraError(fmt::format("extracting {} gave no usr/src/{}.tar.xz", name, name));
  }
  write_if_changed(tmp + "/tree/rig-debian-packages.txt", fmt::format("{} {}\n", name, newest->version));
  fs::remove_all(dest, ec);
  fs::rename(tmp + "/tree", dest, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    throw InfraError(fmt::format("cannot move the extracted source to {}", dest));
  }
  fs::remove_all(tmp, ec);
  return tarball;
}

std::vector<CachedDebianKernel> DebianArchive::cached() const {
  std::vector<CachedDebianKernel> out;
  boost::system::error_code ec;
  for (fs::directory_iterator it(kernels_root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !fs::is_directory(it->path())) continue;
    if (auto k = scan_extracted_kernel(it->path().string(), name)) out.push_back(*k);
  }
  std::sort(out.begin(), out.end(), [](const CachedDebianKernel& a, const CachedDebianKernel& b) {
    return compare_debian_versions(a.release, b.release) > 0;
  });
  return out;
}

std::string kernel_list_text(const Environment& env, bool available, const std::string& boot_dir,
                             const ArchiveProgress& progress) {
  DebianArchive archive(env);
  std::string out;
  const auto cached = archive.cached();
  out += fmt::format("Debian kernels in the cache ({}/kernels/debian), for --kernel debian:VERSION:\n", cache_dir(env));
  if (cached.empty()) out += "  (none)\n";
  for (const auto& k : cached) {
    // The kernel version from the package version recorded at extraction, else the release.
    std::string version;
    const auto w = words(first_line_with(k.packages, {"linux-"}));
    if (w.size() >= 2) version = upstream_of(w[1]);
    if (version.empty()) version = k.release;
    out += fmt::format("  debian:{:<12} {:<22} modules {:<4} {}\n", version, k.release,
                       k.modules_dir.empty() ? "no" : "yes", k.vmlinuz);
  }
  out += fmt::format("Installed kernels ({}), for --kernel debian-SERIES:\n", boot_dir);
  std::vector<std::string> names;
  boost::system::error_code ec;
  for (fs::directory_iterator it(boot_dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return compare_debian_versions(a.substr(8 < a.size() ? 8 : 0), b.substr(8 < b.size() ? 8 : 0)) > 0;
  });
  bool any = false;
  for (const auto& n : names) {
    if (!starts_with(n, "vmlinuz-")) continue;
    const std::string release = n.substr(8);
    const std::string series = kernel_series(release.substr(0, release.find_first_not_of("0123456789.")));
    const bool picked = newest_kernel_for_series(names, series) == n;
    out += fmt::format("  {:<20} {:<22} {}\n", picked ? "debian-" + series : "", release, boot_dir + "/" + n);
    any = true;
  }
  if (!any) out += "  (none)\n";
  if (available) {
    out += "Offered by the Debian archive (debian:SERIES takes the newest build):\n";
    out += format_available(archive.available(progress));
  }
  return out;
}

}  // namespace rig
