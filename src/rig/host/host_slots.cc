#include "rig/host/host_slots.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/file_trust.h"
#include "rig/base/timeouts.h"

namespace rig {

SlotDirChoice slot_dir_for(const Environment& env, uid_t euid, bool shared_dir_exists) {
  const mode_t create_mode = euid == 0 ? 01777 : 0700;
  if (!env.slot_dir.empty()) return {env.slot_dir, create_mode};
  if (euid == 0 || shared_dir_exists) return {kSharedSlotDir, create_mode};
  return {fmt::format("{}-{}", kSharedSlotDir, euid), create_mode};
}

HostSlots::HostSlots(std::string dir, int capacity, mode_t create_mode)
    : dir_(std::move(dir)), capacity_(capacity < 1 ? 1 : capacity) {
  const bool created = ::mkdir(dir_.c_str(), 0700) == 0;
  if (!created && errno != EEXIST)
    throw InfraError(fmt::format("cannot create the host slot directory {}: {}", dir_, std::strerror(errno)));
  const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
    struct stat st {};
    const bool link = ::lstat(dir_.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    throw UsageError(fmt::format("host slot directory {}: {}; set RIG_SLOT_DIR to a directory of root's or yours", dir_,
                                 link ? "a symbolic link" : "not a directory"));
  }
  if (fd < 0) throw InfraError(fmt::format("cannot open the host slot directory {}: {}", dir_, std::strerror(errno)));
  dir_fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  // Made here: its mode as asked (mkdir's is cut by the umask), on the directory just opened.
  if (created && ::fchmod(fd, create_mode) != 0)
    throw InfraError(fmt::format("cannot chmod the host slot directory {}: {}", dir_, std::strerror(errno)));
  if (const std::string problem = dir_distrust(dir_, ::geteuid(), DirUse::Shared); !problem.empty())
    throw UsageError(
        fmt::format("host slot directory not to be trusted: {}; remove it, or set RIG_SLOT_DIR to a "
                    "directory of root's or yours",
                    problem));
  // The path checked is the directory opened (not swapped in between).
  struct stat by_path {};
  struct stat by_fd {};
  if (::stat(dir_.c_str(), &by_path) != 0 || ::fstat(fd, &by_fd) != 0 || by_path.st_dev != by_fd.st_dev ||
      by_path.st_ino != by_fd.st_ino)
    throw InfraError(fmt::format("host slot directory {} changed while it was checked", dir_));
  // Every slot file now, so that a planted one stops the run before anything boots.
  ::close(open_lock_file("queue"));
  for (int i = 0; i < capacity_; ++i) ::close(open_slot(i));
}

HostSlots HostSlots::for_this_host(const Environment& env) {
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (const std::string& c = env.host_cpus; !c.empty()) {
    char* end = nullptr;
    errno = 0;
    cpus = std::strtol(c.c_str(), &end, 10);
    if (errno != 0 || end == c.c_str() || *end != '\0' || cpus < 1 || cpus > 4096)
      throw UsageError(fmt::format("RIG_HOST_CPUS={}: not a number of cores (1 to 4096)", c));
  }
  struct stat st {};
  const SlotDirChoice choice = slot_dir_for(env, ::geteuid(), ::lstat(kSharedSlotDir, &st) == 0);
  return HostSlots(choice.dir, cpus > 0 ? static_cast<int>(cpus) : 1, choice.create_mode);
}

HostSlots::Lease::Lease(Lease&& o) noexcept : fds_(std::move(o.fds_)) { o.fds_.clear(); }

HostSlots::Lease& HostSlots::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    fds_ = std::move(o.fds_);
    o.fds_.clear();
  }
  return *this;
}

HostSlots::Lease::~Lease() { release(); }

void HostSlots::Lease::release() {
  for (int fd : fds_) ::close(fd);  // closing the descriptor drops its flock
  fds_.clear();
}

int HostSlots::open_lock_file(const std::string& name) const {
  const std::string p = dir_ + "/" + name;
  // Created by this rig, or else opened as it is: never through a symbolic link, never a FIFO
  // (O_NONBLOCK), never for writing (flock needs only a descriptor), never changed.
  int fd = ::openat(*dir_fd_, name.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) fd = ::openat(*dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP)
    throw UsageError(fmt::format("host slot file {}: a symbolic link (planted?); remove it", p));
  if (fd < 0) throw InfraError(fmt::format("cannot open the host slot file {}: {}", p, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw UsageError(fmt::format("host slot file {}: not a regular file (planted?); remove it", p));
  }
  // A world-writable file of the user's own, left by an older rig: made 0644 like new ones.
  if (st.st_uid == ::geteuid() && (st.st_mode & 022) != 0) ::fchmod(fd, 0644);
  return fd;
}

int HostSlots::open_slot(int i) const { return open_lock_file(fmt::format("slot-{}", i)); }

int HostSlots::clamp(int n) const { return std::max(1, std::min(n, capacity_)); }

std::optional<HostSlots::Lease> HostSlots::try_acquire(int n) const {
  n = clamp(n);
  Lease lease;
  for (int i = 0; i < capacity_ && static_cast<int>(lease.fds_.size()) < n; ++i) {
    const int fd = open_slot(i);
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
      lease.fds_.push_back(fd);
    else
      ::close(fd);
  }
  if (static_cast<int>(lease.fds_.size()) < n) return std::nullopt;  // all or nothing: no deadlock between waiters
  return lease;
}

int HostSlots::held() const {
  int held = 0;
  for (int i = 0; i < capacity_; ++i) {
    const int fd = open_slot(i);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) ++held;
    ::close(fd);
  }
  return held;
}

HostSlots::Lease HostSlots::acquire(int n, const std::function<void(const std::string&)>& waiting) const {
  // Waiters line up on one more lock, `queue`: only its holder takes slots, so a process that
  // starts guest after guest cannot keep taking the cores another process is waiting for.
  const int queue = open_lock_file("queue");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // drops the queue lock too
  } closer{queue};
  bool said = false;
  auto say = [&] {
    if (said || !waiting) return;
    said = true;
    waiting(fmt::format("waiting for {} of the host's {} cores: guests of this or other rig processes hold {} ({})",
                        clamp(n), capacity_, held(), dir_));
  };
  if (::flock(queue, LOCK_EX | LOCK_NB) != 0) {
    say();
    while (::flock(queue, LOCK_EX) != 0)
      if (errno != EINTR) throw InfraError(fmt::format("cannot lock {}/queue: {}", dir_, std::strerror(errno)));
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(default_timeouts().slot_poll_min, default_timeouts().slot_poll_max);
  while (true) {
    if (auto l = try_acquire(n)) return std::move(*l);
    say();
    pause_for(jitter(rng));
  }
}

}  // namespace rig
