// The host's cores, shared by every rig process on the machine. Each running guest holds one
// slot per vCPU: an flock(2) on one of the files slot-0 .. slot-<cores-1> in one directory. Two
// rig processes (a nightly matrix and a repro, two CI jobs, ctest -j) therefore never run more
// guest vCPUs than the host has cores; overcommitted TCG guests get starved for seconds at a time
// and their kernels print soft lockups and RCU stalls that are the host's doing, not theirs.
// The kernel drops the locks of a process that dies, so a crashed or killed rig leaves nothing
// held and nothing to clean up.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rig {

class HostSlots {
 public:
  // `capacity` slots (at least 1) in `dir`, created (world-writable, sticky) when missing.
  HostSlots(std::string dir, int capacity);
  // RIG_SLOT_DIR or /tmp/rig-host-slots; RIG_HOST_CPUS or the online cores.
  static HostSlots for_this_host();

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept;
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    size_t slots() const { return fds_.size(); }
    void release();

   private:
    friend class HostSlots;
    std::vector<int> fds_;
  };

  // All of `n` slots (clamped to 1..capacity) at once, or nothing. Throws std::runtime_error
  // when the directory or a slot file cannot be opened.
  std::optional<Lease> try_acquire(int n) const;
  // Waits until `n` slots are free and takes them, first come first served: waiters of every
  // process line up on the file `queue`, and only the first in line takes slots. `waiting` is
  // called once, with what is held, when the slots are not free at the first try.
  Lease acquire(int n, const std::function<void(const std::string&)>& waiting = {}) const;
  // How many slots other leases hold now (for messages).
  int held() const;

  const std::string& dir() const { return dir_; }
  int capacity() const { return capacity_; }

 private:
  int open_lock_file(const std::string& name) const;  // in dir_, created when missing
  int open_slot(int i) const;
  int clamp(int n) const;  // 1..capacity

  std::string dir_;
  int capacity_;
};

}  // namespace rig
