// Ready guests saved under the cache: one directory per key (kernel, topology, guest image,
// QEMU version, accelerator), holding QEMU's migration stream of the guest (state.mig) and what
// the rig took at boot (ready.json: the boot console and the probe's boot-time snapshot). Entries
// are written to a temporary directory and renamed into place, so a reader sees a complete entry
// or none; the least recently used entries go when the cache is over its size limit.
// The cache is used only when it is the user's alone: the root directory (and every one above it)
// and each entry's directory and files owned by the user and writable by nobody else
// (file_trust.h). Anything else is ignored, never handed to QEMU, never removed.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "rig/base/environment.h"

namespace rig {

// Bump when what a snapshot holds or how it is restored changes: older entries become stale.
constexpr int kSnapshotFormat = 1;
// Default size limit of the snapshot cache; RIG_SNAPSHOT_CACHE_MAX ("20G", "512M") overrides.
constexpr uint64_t kDefaultSnapshotCacheMax = 16ull << 30;

struct SnapshotInputs {
  std::vector<std::string> argv;  // QEMU's command line with run-specific paths as placeholders
  std::string kernel_hash;        // content of the kernel image
  std::string initrd_hash;        // content of the guest image (init, agent, probe)
  std::string qemu_version;       // `qemu --version`, first line
  std::string accel;
  bool probe = false;  // the ready state includes the probe's boot snapshot
};

// Pure: the key of a set of inputs (16 hex digits), and a one-line description of them.
std::string snapshot_key(const SnapshotInputs& in);
std::string describe_inputs(const SnapshotInputs& in);

struct SnapshotEntry {
  std::string key;
  std::string dir;
  uint64_t bytes = 0;
  std::time_t last_used = 0;
  std::string description;  // from ready.json
};

// What a saved ready guest carries besides QEMU's state.
struct SnapshotReady {
  std::string console;         // the console up to the ready point
  std::string probe_snapshot;  // the probe's boot-time snapshot (raw), empty without the probe
  std::string description;
  double boot_s = 0;  // how long the cold boot took
};

class SnapshotCache {
 public:
  // `root` is created on demand (mode 0700).
  SnapshotCache(std::string root, uint64_t max_bytes);
  // RIG_SNAPSHOT_DIR, else cache_dir()/snapshots; the limit from RIG_SNAPSHOT_CACHE_MAX.
  static SnapshotCache default_cache(const Environment& env);

  const std::string& root() const { return root_; }
  uint64_t max_bytes() const { return max_bytes_; }

  // A complete entry for `key`, marked as used now; nullopt when there is none, or when the
  // cache or the entry is not the user's alone: then `why` (when given) says so in one line.
  std::optional<SnapshotEntry> find(const std::string& key, std::string* why = nullptr);
  std::string state_file(const SnapshotEntry& e) const { return e.dir + "/state.mig"; }
  // Reads ready.json; throws InfraError when it is missing or malformed.
  SnapshotReady read_ready(const SnapshotEntry& e) const;

  // A fresh private directory to write an entry into (state.mig first, then ready).
  std::string begin(const std::string& key);
  void write_ready(const std::string& tmp_dir, const SnapshotReady& ready) const;
  // Moves `tmp_dir` into place (a concurrent writer that got there first wins; this one is
  // dropped; an untrusted entry in the way is an InfraError) and evicts old entries over the
  // limit. Returns the entry's directory.
  std::string commit(const std::string& key, const std::string& tmp_dir);
  void abandon(const std::string& tmp_dir);
  // Drops an entry that could not be restored.
  void remove(const std::string& key);

  // The user's own complete entries, most recently used first (none when the root is not the
  // user's alone); `ignored` (when given) gets one line per entry left out for its owner or mode.
  std::vector<SnapshotEntry> list(std::vector<std::string>* ignored = nullptr) const;
  // Removes every entry of the user's (and leftovers of interrupted writes); returns the bytes
  // freed. Throws UsageError when the root is not the user's alone.
  uint64_t clear();
  // Why the root directory is not the user's alone, "" when it is or does not exist yet.
  std::string root_distrust() const;
  // Removes least recently used entries until the cache fits its limit, never `keep`.
  void evict(const std::string& keep);

 private:
  std::string root_;
  uint64_t max_bytes_;
};

// Parses RIG_SNAPSHOT_CACHE_MAX; the default when unset. Throws UsageError when malformed.
uint64_t snapshot_cache_max(const Environment& env);

}  // namespace rig
