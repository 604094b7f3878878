#include "rig/base/paths.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <boost/filesystem.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "rig/base/errors.h"

namespace rig {

std::string rig_home() {
  if (const char* h = std::getenv("RIG_HOME"); h && *h) return h;
  return RIG_SOURCE_DIR;
}

std::string cache_dir() {
  std::string dir;
  if (const char* c = std::getenv("RIG_CACHE_DIR"); c && *c)
    dir = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    dir = std::string(x) + "/rig";
  else if (const char* h = std::getenv("HOME"); h && *h)
    dir = std::string(h) + "/.cache/rig";
  else
    dir = "/tmp/rig-cache";
  boost::system::error_code ec;
  boost::filesystem::create_directories(dir, ec);
  if (ec) throw InfraError(fmt::format("cannot create cache directory {}: {}", dir, ec.message()));
  return dir;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string content_hash(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

void make_private_dir(const std::string& path) {
  boost::system::error_code ec;
  boost::filesystem::create_directories(path, ec);
  if (ec) throw InfraError(fmt::format("cannot create {}: {}", path, ec.message()));
  if (::chmod(path.c_str(), 0700) != 0) throw InfraError(fmt::format("cannot chmod 0700 {}", path));
}

}  // namespace rig
