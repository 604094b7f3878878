#include "rig/base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "rig/base/text.h"

namespace rig {

void write_file_atomically(const std::string& path, const std::string& text, mode_t mode) {
  const auto fail = [&](const char* what, int err) {
    throw FileWriteError(fmt::format("cannot write {}: {}: {}", one_line(path, 300), what, std::strerror(err)));
  };
  if (path.empty() || path.back() == '/') fail("not a file name", EISDIR);
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  // The temporary name: hidden, in the target's directory (so the rename stays on one file
  // system), made unique by mkstemp, which creates it with O_CREAT|O_EXCL (a planted symlink or
  // file of that name makes it pick another, never follow).
  std::string tmpl = (dir == "/" ? "" : dir) + "/." + base.substr(0, 200) + ".tmp-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) fail("cannot create a temporary file beside it", errno);
  const std::string tmp(name.data());
  const auto fail_cleanup = [&](const char* what, int err, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    fail(what, err);
  };
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_cleanup("write", n < 0 ? errno : EIO, true);
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) fail_cleanup("fchmod", errno, true);
  if (::fsync(fd) != 0) fail_cleanup("fsync", errno, true);
  if (::close(fd) != 0) fail_cleanup("close", errno, false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_cleanup("rename", errno, false);
}

}  // namespace rig
