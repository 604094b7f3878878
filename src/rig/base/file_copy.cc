#include "rig/base/file_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "rig/base/errors.h"

namespace rig {
namespace {

std::string errno_text(int e) { return ::strerror(e); }

// A file descriptor closed on every path.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Creates a temporary file beside `to`, lets `fill` write it, then renames it over `to`. The
// temporary goes away on any failure.
template <typename Fill>
void put_whole(const std::string& to, mode_t mode, Fill fill) {
  const size_t slash = to.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : to.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? to : to.substr(slash + 1);
  std::string tmpl = (slash == std::string::npos ? "" : dir) + "." + base + ".tmp-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  Fd out(::mkostemp(name.data(), O_CLOEXEC));
  if (out.fd < 0) throw InfraError(fmt::format("cannot create a file in {}: {}", dir, errno_text(errno)));
  const std::string tmp(name.data());
  try {
    std::string why = fill(out.fd);
    if (why.empty() && ::fchmod(out.fd, mode) != 0) why = "chmod: " + errno_text(errno);
    if (why.empty() && ::fsync(out.fd) != 0) why = "fsync: " + errno_text(errno);
    if (why.empty() && ::close(out.fd) != 0) why = "close: " + errno_text(errno);
    out.fd = -1;
    if (why.empty() && ::rename(tmp.c_str(), to.c_str()) != 0) why = "rename: " + errno_text(errno);
    if (!why.empty()) throw InfraError(fmt::format("cannot write {}: {}", to, why));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

void copy_file_whole(const std::string& from, const std::string& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (in.fd < 0 || ::fstat(in.fd, &st) != 0)
    throw InfraError(fmt::format("cannot read {}: {}", from, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) throw InfraError(fmt::format("cannot copy {}: not a regular file", from));
  put_whole(to, st.st_mode & 0777, [&](int out) -> std::string {
    std::vector<char> buf(1 << 20);
    for (;;) {
      const ssize_t n = ::read(in.fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fmt::format("reading {}: {}", from, errno_text(errno));
      if (n == 0) return "";
      if (!write_all(out, buf.data(), static_cast<size_t>(n))) return errno_text(errno);
    }
  });
}

void write_file_whole(const std::string& to, const std::string& text, mode_t mode) {
  put_whole(to, mode,
            [&](int out) -> std::string { return write_all(out, text.data(), text.size()) ? "" : errno_text(errno); });
}

}  // namespace rig
