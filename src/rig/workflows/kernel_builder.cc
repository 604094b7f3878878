#include "rig/workflows/kernel_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <boost/process.hpp>
#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "rig/base/atomic_file.h"
#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/host/debian_archive.h"
#include "rig/base/file_trust.h"
#include "rig/host/host_command.h"
#include "rig/base/paths.h"

namespace bp = boost::process;
namespace fs = boost::filesystem;

namespace rig {
namespace {

std::string first_lines(const std::string& text, int n) {
  std::string out;
  size_t at = 0;
  for (int i = 0; i < n && at < text.size(); ++i) {
    size_t nl = text.find('\n', at);
    out += (out.empty() ? "" : " | ") + text.substr(at, nl - at);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

// Identity of the source for the cache key: a tarball by size and mtime, a git tree by HEAD and
// its uncommitted changes, any other tree by path.
std::string source_identity(const std::string& src) {
  if (fs::is_regular_file(src)) return fmt::format("tar:{}:{}:{}", src, fs::file_size(src), fs::last_write_time(src));
  std::string id = "dir:" + fs::canonical(src).string();
  if (fs::exists(fs::path(src) / ".git"))
    id += ":" + first_line(run_capture({"git", "-C", src, "rev-parse", "HEAD"})) + ":" +
          content_hash(run_capture({"git", "-C", src, "diff", "HEAD"}));
  return id;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string tail_of(const std::string& path, size_t max) {
  std::string text = fs::exists(path) ? read_text_file(path) : "";
  return text.size() > max ? text.substr(text.size() - max) : text;
}

}  // namespace

KconfigValues parse_kconfig(const std::string& text) {
  KconfigValues out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.rfind("CONFIG_", 0) == 0) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    } else if (line.rfind("# CONFIG_", 0) == 0) {
      const size_t end = line.find(" is not set");
      if (end != std::string::npos && end + 11 == line.size()) out[line.substr(2, end - 2)] = "n";
    }
  }
  return out;
}

std::string describe(const ConfigChange& c) {
  return fmt::format("fragment {}: {}={} -> {}", c.fragment, c.option, c.from, c.to);
}

std::vector<ConfigChange> fragment_changes(const KconfigValues& base,
                                           const std::vector<std::pair<std::string, KconfigValues>>& fragments) {
  std::vector<ConfigChange> out;
  KconfigValues now = base;
  for (const auto& [name, values] : fragments)
    for (const auto& [opt, value] : values) {
      auto it = now.find(opt);
      if (it != now.end() && it->second != value) out.push_back({name, opt, it->second, value});
      now[opt] = value;
    }
  return out;
}

std::vector<std::string> parse_required_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    // "CONFIG_X where-kconfig-has-it": required only of kernels whose Kconfig defines it.
    if (!line.empty() && line[0] != '#') out.push_back(line.substr(0, line.find_first_of(" \t")));
  }
  return out;
}

std::vector<std::string> required_conflicts(const std::vector<std::string>& required,
                                            const std::vector<std::pair<std::string, KconfigValues>>& fragments) {
  std::vector<std::string> out;
  for (const auto& opt : required) {
    const std::string* last = nullptr;
    const std::string* value = nullptr;
    for (const auto& [name, values] : fragments) {
      auto it = values.find(opt);
      if (it != values.end()) {
        last = &name;
        value = &it->second;
      }
    }
    if (!last || *value == "y") continue;
    out.push_back(*value == "n"
                      ? fmt::format("fragment {} turns off {}, which the rig needs (guest-kernel-config/required.list)",
                                    *last, opt)
                      : fmt::format("fragment {} sets {}={}; the rig needs {}=y (guest-kernel-config/required.list)",
                                    *last, opt, *value, opt));
  }
  return out;
}

std::vector<std::string> expand_patch_argument(const std::string& arg) {
  if (fs::is_regular_file(arg)) return {arg};
  if (!fs::is_directory(arg)) throw UsageError(fmt::format("--patch {}: no such file or directory", arg));
  std::vector<std::string> out;
  const fs::path series = fs::path(arg) / "series";
  if (fs::exists(series)) {
    std::ifstream in(series.string());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const fs::path p = fs::path(arg) / line.substr(0, line.find(' '));
      if (!fs::exists(p))
        throw UsageError(fmt::format("--patch {}: series names {}, which does not exist", arg, p.string()));
      out.push_back(p.string());
    }
    return out;
  }
  for (fs::directory_iterator it(arg), end; it != end; ++it) {
    const auto ext = it->path().extension();
    if (ext == ".patch" || ext == ".diff") out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw UsageError(fmt::format("--patch {}: no series file and no *.patch in it", arg));
  return out;
}

KernelBuildResult build_kernel(const KernelBuildRequest& req, const std::function<void(const std::string&)>& progress) {
  const auto started = Clock::now();
  std::string src = req.src;
  if (src == "debian-6.1" || src == "debian-6.12") {
    src = "/usr/src/linux-source-" + req.src.substr(7) + ".tar.xz";
    if (!fs::exists(src))
      throw UsageError(
          fmt::format("--src {}: {} missing (apt-get install linux-source-{})", req.src, src, req.src.substr(7)));
  } else if (src.rfind("debian-", 0) == 0 && !fs::exists(src)) {
    // Another series: the installed source if there is one, else Debian's, fetched by the rig
    // (linux-source-7.3 and the like live in newer suites; docs/kernels.md).
    const std::string installed = "/usr/src/linux-source-" + req.src.substr(7) + ".tar.xz";
    src = fs::exists(installed) ? installed : DebianArchive(req.env).fetch_source(req.src.substr(7), progress);
  }
  if (!fs::exists(src)) throw UsageError(fmt::format("--src {}: no such file or directory", src));
  const bool tarball = fs::is_regular_file(src);
  if (!tarball && !fs::exists(fs::path(src) / "Makefile"))
    throw UsageError(fmt::format("--src {}: not a kernel tree (no Makefile)", src));

  std::vector<std::string> patches;
  for (const auto& p : req.patches) {
    auto more = expand_patch_argument(p);
    patches.insert(patches.end(), more.begin(), more.end());
  }
  if (!tarball && !patches.empty())
    throw UsageError(
        "--patch with a source tree: apply the patches to the tree (git am) and build that; --patch is for tarball "
        "sources");

  const std::string cfg = rig_home(req.env) + "/guest-kernel-config";
  std::vector<std::string> fragments = {cfg + "/base.config"};
  std::vector<std::pair<std::string, KconfigValues>> user_fragments;
  for (const auto& f : req.fragments) {
    if (!fs::is_regular_file(f)) throw UsageError(fmt::format("--fragment {}: no such file", f));
    fragments.push_back(fs::absolute(f).string());
    user_fragments.emplace_back(f, parse_kconfig(read_text_file(f)));
  }
  // The user's fragments win over base.config (merge_config.sh: later files win), except over
  // what the rig itself needs to run.
  std::string refused;
  for (const auto& line :
       required_conflicts(parse_required_list(read_text_file(cfg + "/required.list")), user_fragments))
    refused += (refused.empty() ? "" : "; ") + line;
  if (!refused.empty()) throw UsageError(refused);
  const std::vector<ConfigChange> changes =
      fragment_changes(parse_kconfig(read_text_file(cfg + "/base.config")), user_fragments);

  std::string key =
      source_identity(src) + read_text_file(cfg + "/build-kernel.sh") + read_text_file(cfg + "/required.list");
  for (const auto& p : patches) key += "patch:" + read_text_file(p);
  for (const auto& f : fragments) key += "fragment:" + read_text_file(f);
  const std::string hash = content_hash(key);
  // In the cache: <hash>/src (unpacked tarball) beside <hash>/build. A given --out is the build
  // directory itself, with its unpacked source beside it as <out>.src.
  const std::string base =
      req.out.empty() ? cache_dir(req.env) + "/kernels/" + hash : fs::absolute(req.out).lexically_normal().string();
  const std::string out = req.out.empty() ? base + "/build" : base;
  const std::string stamp = out + "/rig-kernel.done";
  KernelBuildResult res;
  res.dir = out;
  res.changes = changes;
  for (const auto& ch : changes) progress(describe(ch));  // before the build: it takes minutes
  // Another user's tree is neither used nor built into (they could have planted anything in it).
  for (const auto& p : {base, out, stamp}) {
    if (!fs::exists(fs::symlink_status(p))) continue;
    const std::string why = entry_distrust(p, ::geteuid());
    if (!why.empty())
      throw UsageError(fmt::format("kernel directory not yours alone: {}; remove it or build elsewhere (--out)", why));
  }
  if (fs::exists(stamp) && read_text_file(stamp) == hash + "\n" && fs::exists(out + "/arch/x86/boot/bzImage")) {
    progress(fmt::format("kernel up to date (inputs {}): {}", hash, out));
    res.cached = true;
    return res;
  }
  fs::create_directories(out);
  fs::remove(stamp);

  std::string tree = src;
  if (tarball) {
    tree = req.out.empty() ? base + "/src" : base + ".src";
    if (!fs::exists(tree + "/Makefile")) {
      progress(fmt::format("unpacking {}", src));
      fs::remove_all(tree);
      fs::create_directories(tree);
      if (run_to_log({"/bin/tar", "-xf", src, "-C", tree, "--strip-components=1"}, out + "/unpack.log") != 0)
        throw InfraError(fmt::format("cannot unpack {}; see {}/unpack.log", src, out));
      // Check every patch before applying any, so a bad series leaves the tree clean.
      for (const auto& p : patches) {
        const std::string log = out + "/patch.log";
        if (run_to_log({"/usr/bin/patch", "-p1", "--dry-run", "--batch", "--forward", "-d", tree, "-i",
                        fs::absolute(p).string()},
                       log) != 0) {
          fs::remove_all(tree);
          throw UsageError(
              fmt::format("patch {} does not apply to {}: {}", p, src, first_lines(read_text_file(log), 3)));
        }
        if (run_to_log({"/usr/bin/patch", "-p1", "--batch", "--forward", "-d", tree, "-i", fs::absolute(p).string()},
                       log) != 0) {
          fs::remove_all(tree);
          throw UsageError(fmt::format("patch {} does not apply on top of the ones before it: {}", p,
                                       first_lines(read_text_file(log), 3)));
        }
        progress(fmt::format("applied {}", p));
      }
    }
  }

  std::vector<std::string> argv = {"/bin/bash", cfg + "/build-kernel.sh", tree, out};
  argv.insert(argv.end(), fragments.begin(), fragments.end());
  bp::ipstream lines;
  bp::child c(bp::exe = argv[0], bp::args = std::vector<std::string>(argv.begin() + 1, argv.end()),
              (bp::std_out & bp::std_err) > lines, bp::std_in < bp::null);
  std::string line, last, output;
  while (std::getline(lines, line)) {
    progress(line);
    output += line + "\n";
    last = line;
  }
  c.wait();
  if (c.exit_code() == 2) throw UsageError(last);
  if (c.exit_code() != 0) {
    // Everything this attempt printed: the script's own lines, configure and make logs (the
    // script removes stale ones first), so the failure can be told apart (kernel or host).
    const std::string log = output + tail_of(out + "/config.log", 1 << 20) + tail_of(out + "/build.log", 8 << 20);
    throw KernelBuildFailed(fmt::format("kernel build failed: {}", last), c.exit_code(), log);
  }
  res.seconds = seconds_since(started);
  nlohmann::json meta = {
      {"src", src}, {"inputs", hash}, {"patches", patches}, {"fragments", fragments}, {"seconds", res.seconds}};
  meta["config_changes"] = nlohmann::json::array();
  for (const auto& ch : changes)
    meta["config_changes"].push_back(
        {{"fragment", ch.fragment}, {"option", ch.option}, {"base", ch.from}, {"value", ch.to}});
  // The stamp last: a build whose metadata could not be written is not reused.
  write_file_atomically(out + "/rig-kernel.json", meta.dump(2) + "\n");
  write_file_atomically(stamp, hash + "\n");
  for (const auto& p : {base, out, stamp}) keep_to_myself(p);  // whatever the umask: reused next time
  return res;
}

}  // namespace rig
