#include "rig/base/environment.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace rig {

Environment environment_from(const std::function<const char*(const char*)>& get,
                             const std::function<std::string()>& passwd_home) {
  auto var = [&](const char* name) {
    const char* v = get(name);
    return std::string(v ? v : "");
  };
  Environment e;
  e.home = var("HOME");
  if (e.home.empty()) e.home = passwd_home();
  e.xdg_cache_home = var("XDG_CACHE_HOME");
  e.cache_dir = var("RIG_CACHE_DIR");
  e.rig_home = var("RIG_HOME");
  e.snapshot_dir = var("RIG_SNAPSHOT_DIR");
  e.snapshot_cache_max = var("RIG_SNAPSHOT_CACHE_MAX");
  e.slot_dir = var("RIG_SLOT_DIR");
  e.host_cpus = var("RIG_HOST_CPUS");
  e.term = var("TERM");
  e.debian_mirror = var("RIG_DEBIAN_MIRROR");
  e.debian_suites = var("RIG_DEBIAN_SUITES");
  e.probe_route = var("RIG_PROBE");
  return e;
}

Environment read_environment() {
  return environment_from([](const char* name) { return std::getenv(name); },
                          [] {
                            std::vector<char> buf(16384);
                            struct passwd pw {};
                            struct passwd* found = nullptr;
                            struct stat st {};
                            // Not a home that does not exist (nobody's /nonexistent).
                            if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) != 0 || !found ||
                                !found->pw_dir || ::stat(found->pw_dir, &st) != 0 || !S_ISDIR(st.st_mode))
                              return std::string();
                            return std::string(found->pw_dir);
                          });
}

}  // namespace rig
