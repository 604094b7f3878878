#include "rig/app/host_commands.h"
#include "rig/app/environment.h"

#include <fmt/format.h>

#include <ctime>
#include <iostream>

#include "rig/host/snapshot_cache.h"
#include "rig/machine/libvirt/libvirt_cleanup.h"
#include "rig/machine/libvirt/libvirt_uri.h"

namespace rig::app {

int cache_list() {
  SnapshotCache cache = SnapshotCache::default_cache(environment());
  uint64_t total = 0;
  std::cout << fmt::format("{:<16} {:>9}  {:<19}  {}\n", "KEY", "SIZE", "LAST USED", "WHAT");
  std::vector<std::string> ignored;
  for (const auto& e : cache.list(&ignored)) {
    total += e.bytes;
    std::tm tm{};
    localtime_r(&e.last_used, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    std::cout << fmt::format("{:<16} {:>6} MiB  {}  {}\n", e.key, e.bytes >> 20, when, e.description);
  }
  for (const auto& i : ignored) std::cout << "ignored, not yours alone: " << i << "\n";
  std::cout << fmt::format("{} MiB of {} MiB (RIG_SNAPSHOT_CACHE_MAX) in {}\n", total >> 20, cache.max_bytes() >> 20,
                           cache.root());
  return 0;
}

int cache_clear() {
  SnapshotCache cache = SnapshotCache::default_cache(environment());
  const uint64_t freed = cache.clear();
  std::cout << fmt::format("removed the snapshots in {} ({} MiB)\n", cache.root(), freed >> 20);
  return 0;
}

int cleanup(const std::string& uri) {
  const std::string target = checked_libvirt_uri(uri);
  const auto removed = cleanup_rig_domains(target, [](const std::string& line) { std::cout << line << "\n"; });
  std::cout << fmt::format("{} leftover domain(s) and storage pool(s) removed from {}\n", removed.size(), target);
  return 0;
}

}  // namespace rig::app
