// The host's cores, shared by every rig process on the machine. Each running guest holds one
// slot per vCPU: an flock(2) on one of the files slot-0 .. slot-<cores-1> in one directory. Two
// rig processes (a nightly matrix and a repro, two CI jobs, ctest -j) therefore never run more
// guest vCPUs than the host has cores; overcommitted TCG guests get starved for seconds at a time
// and their kernels print soft lockups and RCU stalls that are the host's doing, not theirs.
// The kernel drops the locks of a process that dies, so a crashed or killed rig leaves nothing
// held and nothing to clean up.
//
// Other local users must not be able to turn the slots against the rig (docs/security.md):
// the directory is used only when it is owned by root or the user and not writable by others
// unless sticky (file_trust.h, DirUse::Shared); every file in it is opened relative to the
// checked directory's descriptor without following symbolic links, read-only (flock needs no
// more), and must be a regular file; the files the rig creates are 0644 (one of the user's own
// left world-writable by an older rig is made so), and nothing of another user's is changed.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rig/base/environment.h"

namespace rig {

// The default slot directory shared by every user's rig on the host, when root made it.
constexpr const char* kSharedSlotDir = "/tmp/rig-host-slots";

struct SlotDirChoice {
  std::string dir;
  mode_t create_mode = 0700;  // when the rig creates it
};
// Pure: RIG_SLOT_DIR as given; else the shared directory when the user is root (who creates it
// sticky and writable by all, as /tmp is) or when it exists (root made it: every user's guests
// share the cores); else /tmp/rig-host-slots-UID, the user's own. Directories root creates are
// 01777, others' 0700.
SlotDirChoice slot_dir_for(const Environment& env, uid_t euid, bool shared_dir_exists);

class HostSlots {
 public:
  // `capacity` slots (at least 1) in `dir`, created with `create_mode` when missing. Checks the
  // directory and creates or checks every slot file now: throws UsageError when the directory
  // is not to be trusted (another user's, writable by others and not sticky, a symbolic link)
  // or holds something else than a regular file under a slot's name (a planted link or FIFO),
  // InfraError when it cannot be created or opened.
  HostSlots(std::string dir, int capacity, mode_t create_mode = 0700);
  // slot_dir_for(); RIG_HOST_CPUS or the online cores. Throws UsageError for a bad
  // RIG_HOST_CPUS and as the constructor does.
  static HostSlots for_this_host(const Environment& env);

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
  std::shared_ptr<const int> dir_fd_;  // the checked directory; files are opened relative to it
};

}  // namespace rig
