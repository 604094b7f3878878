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
namespace {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

void put_file_atomically(const std::string& path, mode_t mode, const std::function<std::string(int fd)>& fill) {
  const auto fail = [&](const std::string& what) {
    throw FileWriteError(fmt::format("cannot write {}: {}", one_line(path, 300), what));
  };
  if (path.empty() || path.back() == '/') fail(std::string("not a file name: ") + std::strerror(EISDIR));
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
  if (fd < 0) fail(std::string("cannot create a temporary file beside it: ") + std::strerror(errno));
  const std::string tmp(name.data());
  std::string why;
  try {
    why = fill(fd);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  bool open = true;
  if (why.empty() && ::fchmod(fd, mode) != 0) why = std::string("fchmod: ") + std::strerror(errno);
  if (why.empty() && ::fsync(fd) != 0) why = std::string("fsync: ") + std::strerror(errno);
  if (why.empty()) {
    open = false;
    if (::close(fd) != 0) why = std::string("close: ") + std::strerror(errno);
  }
  if (why.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) why = std::string("rename: ") + std::strerror(errno);
  if (!why.empty()) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    fail(why);
  }
}

void write_file_atomically(const std::string& path, const std::string& text, mode_t mode) {
  put_file_atomically(path, mode, [&](int fd) {
    return write_all(fd, text.data(), text.size()) ? std::string() : std::string("write: ") + std::strerror(errno);
  });
}

void copy_file_atomically(const std::string& from, const std::string& to) {
  // Non-blocking, so that a FIFO named as the source is refused, not waited on.
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat st {};
  if (in < 0 || ::fstat(in, &st) != 0) {
    const int err = errno;
    if (in >= 0) ::close(in);
    throw InfraError(fmt::format("cannot read {}: {}", one_line(from, 300), std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(in);
    throw InfraError(fmt::format("cannot copy {}: not a regular file", one_line(from, 300)));
  }
  ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) & ~O_NONBLOCK);
  try {
    put_file_atomically(to, st.st_mode & 0777, [&](int out) -> std::string {
      std::vector<char> buf(1 << 20);
      for (;;) {
        const ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fmt::format("reading {}: {}", from, std::strerror(errno));
        if (n == 0) return "";
        if (!write_all(out, buf.data(), static_cast<size_t>(n))) return std::string("write: ") + std::strerror(errno);
      }
    });
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

}  // namespace rig

namespace rig {

void append_to_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0)
    throw FileWriteError(fmt::format("cannot append to {}: {}", one_line(path, 200),
                                     errno == ELOOP ? "it is a symlink" : std::strerror(errno)));
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0)
    why = std::strerror(errno);
  else if (!S_ISREG(st.st_mode))
    why = "not a regular file";
  else if (st.st_uid != ::geteuid())
    why = fmt::format("owned by uid {}, not by this user", st.st_uid);
  for (size_t done = 0; why.empty() && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      why = std::strerror(errno);
    else
      done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && why.empty()) why = std::strerror(errno);
  if (!why.empty()) throw FileWriteError(fmt::format("cannot append to {}: {}", one_line(path, 200), why));
}

}  // namespace rig
