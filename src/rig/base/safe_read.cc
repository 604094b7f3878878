#include "rig/base/safe_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "rig/base/text.h"

namespace rig {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

// Reads an open regular file up to max_bytes; "" in `why` when it worked.
std::string read_fd(int fd, size_t max_bytes, std::string& why) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = std::strerror(errno);
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    why = kind_of(st.st_mode);
    return {};
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    why = fmt::format("larger than {} bytes", max_bytes);
    return {};
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = std::strerror(errno);
      return {};
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      why = fmt::format("larger than {} bytes", max_bytes);
      return {};
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

std::string read_regular_file(const std::string& path, size_t max_bytes, const char* what) {
  const auto refuse = [&](const std::string& why) {
    throw FileReadError(fmt::format("{}: cannot read {}: {}", one_line(path, 300), what, why));
  };
  // Look before opening: opening a FIFO or a device can block or act; stat does neither.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) refuse(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse(kind_of(st.st_mode));
  // O_NONBLOCK: should it have been swapped for a FIFO since, the open does not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) refuse(std::strerror(errno));
  std::string why;
  std::string text = read_fd(fd, max_bytes, why);
  ::close(fd);
  if (!why.empty()) refuse(why);
  return text;
}

DirReader::DirReader(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0)
    throw FileReadError(fmt::format("{}: cannot open the directory: {}", one_line(path, 300), std::strerror(errno)));
}

DirReader::~DirReader() {
  if (fd_ >= 0) ::close(fd_);
}

DirReader::DirReader(DirReader&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

std::optional<std::string> DirReader::read(const std::string& name, size_t max_bytes, std::string* why) const {
  std::string reason;
  const auto refuse = [&](const std::string& r) -> std::optional<std::string> {
    if (why) *why = r;
    return std::nullopt;
  };
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    return refuse("not a file name inside the folder");
  struct stat st {};
  if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return refuse(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refuse(kind_of(st.st_mode));
  const int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return refuse(std::strerror(errno));
  std::string text = read_fd(fd, max_bytes, reason);
  ::close(fd);
  if (!reason.empty()) return refuse(reason);
  return text;
}

}  // namespace rig
