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
#include "rig/base/timeouts.h"

namespace rig {

HostSlots::HostSlots(std::string dir, int capacity) : dir_(std::move(dir)), capacity_(capacity < 1 ? 1 : capacity) {}

HostSlots HostSlots::for_this_host() {
  std::string dir = "/tmp/rig-host-slots";
  if (const char* d = std::getenv("RIG_SLOT_DIR"); d && *d) dir = d;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (const char* c = std::getenv("RIG_HOST_CPUS"); c && *c) {
    char* end = nullptr;
    errno = 0;
    cpus = std::strtol(c, &end, 10);
    if (errno != 0 || end == c || *end != '\0' || cpus < 1 || cpus > 4096)
      throw UsageError(fmt::format("RIG_HOST_CPUS={}: not a number of cores (1 to 4096)", c));
  }
  return HostSlots(dir, cpus > 0 ? static_cast<int>(cpus) : 1);
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
  if (::mkdir(dir_.c_str(), 0777) == 0) ::chmod(dir_.c_str(), 01777);  // every user's rig shares it
  const std::string p = dir_ + "/" + name;
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EACCES)
    fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);  // another user's file: flock needs no write access
  if (fd < 0) throw InfraError(fmt::format("cannot open the host slot file {}: {}", p, std::strerror(errno)));
  ::fchmod(fd, 0666);  // fails harmlessly on another user's file
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
