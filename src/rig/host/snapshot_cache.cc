#include "rig/host/snapshot_cache.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <boost/filesystem.hpp>
#include <fstream>

#include "rig/base/atomic_file.h"
#include "rig/base/json_text.h"
#include "rig/base/safe_read.h"
#include "rig/base/text.h"
#include "rig/base/errors.h"
#include "rig/base/file_trust.h"
#include "rig/base/paths.h"
#include "rig/base/size.h"

namespace fs = boost::filesystem;

namespace rig {

std::string snapshot_key(const SnapshotInputs& in) {
  std::string text = fmt::format("rig-snapshot {}\n", kSnapshotFormat);
  for (const auto& a : in.argv) text += a + "\n";
  text += fmt::format("kernel {}\ninitrd {}\nqemu {}\naccel {}\nprobe {}\n", in.kernel_hash, in.initrd_hash,
                      in.qemu_version, in.accel, in.probe ? 1 : 0);
  return content_hash(text);
}

std::string describe_inputs(const SnapshotInputs& in) {
  return fmt::format("kernel {} initrd {} {} {} probe {}", in.kernel_hash, in.initrd_hash, in.qemu_version, in.accel,
                     in.probe ? "yes" : "no");
}

uint64_t snapshot_cache_max(const Environment& env) {
  const std::string& v = env.snapshot_cache_max;
  if (v.empty()) return kDefaultSnapshotCacheMax;
  auto n = parse_size(v);
  if (!n) throw UsageError(fmt::format("RIG_SNAPSHOT_CACHE_MAX={}: not a size (e.g. 20G, 512M)", v));
  return *n;
}

SnapshotCache::SnapshotCache(std::string root, uint64_t max_bytes) : root_(std::move(root)), max_bytes_(max_bytes) {}

SnapshotCache SnapshotCache::default_cache(const Environment& env) {
  // RIG_SNAPSHOT_DIR puts the snapshots apart from the kernels and images (a CI cache of its own,
  // a test's private cache); otherwise they live in the rig's cache directory.
  if (!env.snapshot_dir.empty()) return SnapshotCache(env.snapshot_dir, snapshot_cache_max(env));
  return SnapshotCache(cache_dir(env) + "/snapshots", snapshot_cache_max(env));
}

std::string SnapshotCache::root_distrust() const {
  struct stat st {};
  if (::lstat(root_.c_str(), &st) != 0 && errno == ENOENT) return "";
  return dir_distrust(root_, ::geteuid(), DirUse::Private);
}

namespace {

uint64_t dir_bytes(const fs::path& dir) {
  uint64_t total = 0;
  boost::system::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    boost::system::error_code e2;
    if (fs::is_regular_file(it->status())) total += fs::file_size(it->path(), e2);
  }
  return total;
}

bool entry_complete(const fs::path& dir) { return fs::exists(dir / "state.mig") && fs::exists(dir / "ready.json"); }

// Why an entry's directory or one of its files is not the user's alone, "" when all are.
std::string entry_problem(const fs::path& dir) {
  const uid_t uid = ::geteuid();
  std::string why = entry_distrust(dir.string(), uid);
  boost::system::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; why.empty() && !ec && it != end; it.increment(ec))
    why = entry_distrust(it->path().string(), uid);
  return why;
}

bool is_key(const std::string& name) {
  return name.size() == 16 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::optional<SnapshotEntry> SnapshotCache::find(const std::string& key, std::string* why) {
  const fs::path dir = fs::path(root_) / key;
  boost::system::error_code ec;
  if (const std::string problem = root_distrust(); !problem.empty()) {
    if (why) *why = fmt::format("snapshot cache ignored, booted instead: not yours alone: {}", problem);
    return std::nullopt;
  }
  if (!fs::exists(fs::symlink_status(dir, ec))) return std::nullopt;
  if (const std::string problem = entry_problem(dir); !problem.empty()) {
    if (why) *why = fmt::format("snapshot {} ignored, booted instead: not yours alone: {}", key, problem);
    return std::nullopt;
  }
  if (!fs::is_directory(dir, ec) || !entry_complete(dir)) return std::nullopt;
  fs::last_write_time(dir, std::time(nullptr), ec);  // least recently used goes first
  SnapshotEntry e;
  e.key = key;
  e.dir = dir.string();
  e.bytes = dir_bytes(dir);
  e.last_used = std::time(nullptr);
  return e;
}

SnapshotReady SnapshotCache::read_ready(const SnapshotEntry& e) const {
  const std::string path = e.dir + "/ready.json";
  // Read like any file from elsewhere: a regular file, size-limited, nesting bounded.
  nlohmann::json j;
  try {
    j = parse_json_text(read_regular_file(path, 1 << 20, "snapshot ready.json"), "ready.json");
  } catch (const std::exception& ex) {
    throw InfraError(fmt::format("snapshot {}: {}", e.key, one_line(ex.what(), 200)));
  }
  if (!j.is_object() || j.value("format", 0) != kSnapshotFormat || !j.contains("console") ||
      !j["console"].is_string() || !j.contains("probe_snapshot") || !j["probe_snapshot"].is_string())
    throw InfraError(fmt::format("snapshot {}: ready.json is malformed or of another format", e.key));
  SnapshotReady r;
  r.console = j["console"].get<std::string>();
  r.probe_snapshot = j["probe_snapshot"].get<std::string>();
  r.description = j.value("description", "");
  r.boot_s = j.value("boot_s", 0.0);
  return r;
}

std::string SnapshotCache::begin(const std::string& key) {
  const std::string problem = make_own_dir(root_);
  if (!problem.empty()) throw InfraError(fmt::format("the snapshot cache is not yours alone: {}", problem));
  std::string tmpl = fmt::format("{}/.tmp-{}-XXXXXX", root_, key);
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw InfraError(fmt::format("cannot create a snapshot directory under {}", root_));
  return buf.data();
}

void SnapshotCache::write_ready(const std::string& tmp_dir, const SnapshotReady& ready) const {
  nlohmann::json j = {
      {"format", kSnapshotFormat},        {"console", ready.console}, {"probe_snapshot", ready.probe_snapshot},
      {"description", ready.description}, {"boot_s", ready.boot_s},   {"created", std::time(nullptr)}};
  const std::string path = tmp_dir + "/ready.json";
  write_file_atomically(path, j.dump() + "\n");
}

std::string SnapshotCache::commit(const std::string& key, const std::string& tmp_dir) {
  const fs::path dest = fs::path(root_) / key;
  boost::system::error_code ec;
  // Whatever the umask made of QEMU's and this file's writes: the user's alone, so it is used later.
  for (fs::directory_iterator it(tmp_dir, ec), end; !ec && it != end; it.increment(ec))
    keep_to_myself(it->path().string());
  keep_to_myself(tmp_dir);
  fs::rename(tmp_dir, dest, ec);
  if (ec) {
    // Another run saved the same key first (rename onto a non-empty directory fails): keep theirs.
    abandon(tmp_dir);
    const std::string problem = entry_problem(dest);
    if (!problem.empty()) throw InfraError(fmt::format("an entry not yours is in the way: {}", problem));
    if (!entry_complete(dest))
      throw InfraError(fmt::format("cannot move the snapshot into {}: {}", dest.string(), ec.message()));
  }
  evict(key);
  return dest.string();
}

void SnapshotCache::abandon(const std::string& tmp_dir) {
  boost::system::error_code ec;
  fs::remove_all(tmp_dir, ec);
}

void SnapshotCache::remove(const std::string& key) {
  if (!is_key(key)) return;
  boost::system::error_code ec;
  fs::remove_all(fs::path(root_) / key, ec);
}

std::vector<SnapshotEntry> SnapshotCache::list(std::vector<std::string>* ignored) const {
  std::vector<SnapshotEntry> out;
  if (const std::string problem = root_distrust(); !problem.empty()) {
    if (ignored) ignored->push_back(problem);
    return out;
  }
  boost::system::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_key(name)) continue;
    if (const std::string problem = entry_problem(it->path()); !problem.empty()) {
      if (ignored) ignored->push_back(problem);
      continue;
    }
    if (!entry_complete(it->path())) continue;
    SnapshotEntry e;
    e.key = name;
    e.dir = it->path().string();
    e.bytes = dir_bytes(it->path());
    boost::system::error_code e2;
    e.last_used = fs::last_write_time(it->path(), e2);
    try {
      e.description = read_ready(e).description;
    } catch (const std::exception& x) {
      e.description = x.what();
    }
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
    return a.last_used != b.last_used ? a.last_used > b.last_used : a.key < b.key;
  });
  return out;
}

uint64_t SnapshotCache::clear() {
  if (const std::string problem = root_distrust(); !problem.empty())
    throw UsageError(fmt::format("the snapshot cache is not yours alone: {}", problem));
  uint64_t freed = 0;
  boost::system::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if ((is_key(name) || name.rfind(".tmp-", 0) == 0) && entry_problem(it->path()).empty())
      doomed.push_back(it->path());
  }
  for (const auto& p : doomed) {
    freed += dir_bytes(p);
    boost::system::error_code e2;
    fs::remove_all(p, e2);
  }
  return freed;
}

void SnapshotCache::evict(const std::string& keep) {
  std::vector<SnapshotEntry> entries = list();
  uint64_t total = 0;
  for (const auto& e : entries) total += e.bytes;
  // Oldest first, never the one just written.
  for (auto it = entries.rbegin(); it != entries.rend() && total > max_bytes_; ++it) {
    if (it->key == keep) continue;
    remove(it->key);
    total -= it->bytes;
  }
}

}  // namespace rig
