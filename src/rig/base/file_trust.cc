#include "rig/base/file_trust.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "rig/base/errors.h"

namespace rig {
namespace {

bool writable_by_others(const struct stat& st) { return (st.st_mode & (S_IWGRP | S_IWOTH)) != 0; }

std::string mode_text(const struct stat& st) { return fmt::format("{:04o}", st.st_mode & 07777); }

// "/a/b/c" -> {"/", "/a", "/a/b", "/a/b/c"}
std::vector<std::string> prefixes(const std::string& abs) {
  std::vector<std::string> out = {"/"};
  for (size_t i = 1; i <= abs.size(); ++i)
    if ((i == abs.size() || abs[i] == '/') && abs[i - 1] != '/') out.push_back(abs.substr(0, i));
  return out;
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return "/" + path;
  return std::string(cwd) + "/" + path;
}

}  // namespace

std::string describe_uid(uid_t uid) {
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name)
    return fmt::format("uid {} ({})", uid, found->pw_name);
  return fmt::format("uid {}", uid);
}

std::string dir_distrust(const std::string& path, uid_t uid, DirUse use) {
  const std::string given = absolute(path);
  // Symbolic links on the way as given: another user's link could point anywhere.
  for (const auto& p : prefixes(given)) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) break;  // missing: realpath below says so
    if (S_ISLNK(st.st_mode) && st.st_uid != 0 && st.st_uid != uid)
      return fmt::format("{}: a symbolic link owned by {}, not by root or you", p, describe_uid(st.st_uid));
  }
  char real[PATH_MAX];
  if (!::realpath(given.c_str(), real)) return fmt::format("{}: {}", path, std::strerror(errno));
  const std::vector<std::string> chain = prefixes(real);
  for (size_t i = 0; i < chain.size(); ++i) {
    const std::string& p = chain[i];
    const bool last = i + 1 == chain.size();
    const std::string name = last ? path : fmt::format("{} (above {})", p, path);
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return fmt::format("{}: {}", name, std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fmt::format("{}: not a directory", name);
    const bool mine_only = last && use == DirUse::Private;
    if (st.st_uid != uid && (mine_only || st.st_uid != 0))
      return fmt::format("{}: owned by {}, not by {}you ({})", name, describe_uid(st.st_uid),
                         mine_only ? "" : "root or ", describe_uid(uid));
    const bool sticky_ok = !mine_only && (st.st_mode & S_ISVTX);
    if (writable_by_others(st) && !sticky_ok)
      return fmt::format("{}: writable by {} (mode {}{})", name, (st.st_mode & S_IWOTH) ? "every user" : "its group",
                         mode_text(st), mine_only ? "" : ", not sticky");
  }
  return "";
}

std::string entry_distrust(const std::string& path, uid_t uid) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fmt::format("{}: {}", path, std::strerror(errno));
  if (S_ISLNK(st.st_mode)) return fmt::format("{}: a symbolic link", path);
  if (st.st_uid != uid)
    return fmt::format("{}: owned by {}, not by you ({})", path, describe_uid(st.st_uid), describe_uid(uid));
  if (writable_by_others(st))
    return fmt::format("{}: writable by {} (mode {})", path, (st.st_mode & S_IWOTH) ? "every user" : "its group",
                       mode_text(st));
  return "";
}

void keep_to_myself(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_uid == ::geteuid() && writable_by_others(st) &&
      (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
    ::fchmod(fd, st.st_mode & 07755);
  ::close(fd);
}

bool usable_cached_file(const std::string& path, std::string* note) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  const std::string why = entry_distrust(path, ::geteuid());
  if (why.empty()) return true;
  if (::unlink(path.c_str()) != 0)
    throw InfraError(fmt::format("cannot remove {}, a cached file not yours alone: {}", path, std::strerror(errno)));
  *note +=
      fmt::format("{}ignored a cached file not yours alone ({}) and built it again", note->empty() ? "" : "; ", why);
  return false;
}

}  // namespace rig
