#include "rig/base/paths.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "rig/base/errors.h"
#include "rig/base/safe_read.h"
#include "rig/base/file_trust.h"

namespace rig {

std::string rig_home(const Environment& env) { return env.rig_home.empty() ? RIG_SOURCE_DIR : env.rig_home; }

std::string cache_dir_path(const Environment& env, uid_t uid) {
  if (!env.cache_dir.empty()) return env.cache_dir;
  if (!env.xdg_cache_home.empty()) return env.xdg_cache_home + "/rig";
  if (!env.home.empty()) return env.home + "/.cache/rig";
  return fmt::format("/tmp/rig-cache-{}", uid);
}

std::string make_own_dir(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string p = dir.substr(0, i);
    if (p.back() == '/') continue;
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
      throw InfraError(fmt::format("cannot create {}: {}", p, std::strerror(errno)));
  }
  return dir_distrust(dir, ::geteuid(), DirUse::Private);
}

std::string cache_dir(const Environment& env) {
  const std::string dir = cache_dir_path(env, ::geteuid());
  const std::string problem = make_own_dir(dir);
  if (!problem.empty())
    throw UsageError(
        fmt::format("the cache directory is not yours alone: {}; set RIG_CACHE_DIR to a directory only "
                    "you can write",
                    problem));
  return dir;
}

std::string read_text_file(const std::string& path) {
  // Through the one guarded read: a FIFO or device is not opened to wait on, nothing larger than a
  // kernel image and its initramfs could be is read.
  try {
    return read_regular_file(path, size_t{1} << 30, "the file");
  } catch (const FileReadError&) {
    return "";
  }
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
  struct stat st {};
  const bool existed = ::lstat(path.c_str(), &st) == 0;
  boost::system::error_code ec;
  boost::filesystem::create_directories(path, ec);
  if (ec) throw InfraError(fmt::format("cannot create {}: {}", path, ec.message()));
  // Another user's link or directory in its place (planted in a shared folder) is neither
  // followed nor chmod-ed: the run's files would be theirs to read or change.
  const uid_t uid = ::geteuid();
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != uid && st.st_uid != 0)
    throw UsageError(fmt::format("{}: a symbolic link owned by {}, not by root or you", path, describe_uid(st.st_uid)));
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw InfraError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  const bool mine = ::fstat(fd, &st) == 0 && st.st_uid == uid;
  // Only a directory made here is made 0700; one the user already had (`--out /tmp` as root,
  // `--artifacts .`) keeps its mode, and is refused when others may write it without the sticky
  // bit (they could swap what the rig puts there). The run folders inside are 0700 of their own.
  const bool made_private = mine && (existed || ::fchmod(fd, 0700) == 0);
  ::close(fd);
  if (!mine) throw UsageError(fmt::format("{}: owned by {}, not by you", path, describe_uid(st.st_uid)));
  if (!made_private) throw InfraError(fmt::format("cannot chmod 0700 {}", path));
  if (existed && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
    throw UsageError(
        fmt::format("{}: writable by others and not sticky: they could replace what the rig puts there", path));
}

}  // namespace rig
