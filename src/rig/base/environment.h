// What the rig takes from its environment. The program's entry point (src/cli/main.cc) reads it
// once and passes it in; nothing else under src/rig/ reads an environment variable.
#pragma once

#include <functional>
#include <string>

namespace rig {

struct Environment {
  std::string home;                // HOME, else the home directory of the user's passwd entry
  std::string xdg_cache_home;      // XDG_CACHE_HOME
  std::string cache_dir;           // RIG_CACHE_DIR: the rig's cache (paths.h cache_dir)
  std::string rig_home;            // RIG_HOME: the rig's own files (scenarios, image recipe)
  std::string snapshot_dir;        // RIG_SNAPSHOT_DIR: the snapshot cache
  std::string snapshot_cache_max;  // RIG_SNAPSHOT_CACHE_MAX, as given ("20G")
  std::string slot_dir;            // RIG_SLOT_DIR: the host slots (host_slots.h)
  std::string host_cpus;           // RIG_HOST_CPUS, as given
  std::string term;                // TERM
  std::string debian_mirror;       // RIG_DEBIAN_MIRROR: the Debian archive (host/debian_archive.h)
  std::string debian_suites;       // RIG_DEBIAN_SUITES: its suites, comma or space separated
  std::string probe_route;         // RIG_PROBE: kcore, module or auto (docs/probe-format.md)
};

// Reads the variables through `get` (nullptr or "" is unset); `passwd_home` is asked only when
// HOME is unset. Pure apart from what the two functions do.
Environment environment_from(const std::function<const char*(const char*)>& get,
                             const std::function<std::string()>& passwd_home);
// The process's environment and the effective user's passwd entry.
Environment read_environment();

}  // namespace rig
