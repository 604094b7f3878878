#include "rig/host/accel_probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "rig/base/atomic_file.h"
#include "rig/base/safe_read.h"
#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/file_trust.h"
#include "rig/base/paths.h"
#include "rig/base/timeouts.h"
#include "rig/host/qemu_process.h"

namespace rig {
namespace {

bool kvm_device_usable(std::string* why) {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *why = "/dev/kvm cannot be opened";
    return false;
  }
  ::close(fd);
  return true;
}

// Boots the kernel under KVM with nothing else and waits for its banner.
bool kvm_boots_a_guest(const std::string& kernel, const std::string& qemu, std::string* why) {
  char tmpl[] = "/tmp/rig-kvm-probe-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    *why = "cannot make a temporary directory";
    return false;
  }
  const std::string dir = tmpl;
  const std::string log = dir + "/console.log";
  bool seen = false;
  {
    QemuProcess p({qemu, "-accel", "kvm", "-machine", "pc", "-m", "256M", "-nodefaults", "-no-user-config", "-display",
                   "none", "-no-reboot", "-kernel", kernel, "-append",
                   "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1", "-serial", "file:" + log},
                  dir + "/qemu.log");
    const double limit = default_timeouts().kvm_probe;
    Deadline by = deadline_in(limit);
    while (Clock::now() < by && p.running()) {
      if (read_text_file(log).find("Linux version") != std::string::npos) {
        seen = true;
        break;
      }
      pause_for(default_timeouts().kvm_probe_poll);
    }
    if (!seen)
      *why = p.running() ? fmt::format("a KVM guest printed nothing in {:.0f} s", limit)
                         : fmt::format("QEMU with KVM exited: {}", read_text_file(dir + "/qemu.log").substr(0, 200));
    p.terminate(0);
  }
  boost::system::error_code ec;
  boost::filesystem::remove_all(dir, ec);
  return seen;
}

std::string host_boot_id() {
  std::string id = read_text_file("/proc/sys/kernel/random/boot_id");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

}  // namespace

std::optional<AccelChoice> read_cached_accel(const std::string& cache, const std::string& boot) {
  std::string text, note;
  try {
    // Only a file that is the user's alone (another user's is removed and the probe runs again):
    // a planted "kvm" would send every run to a KVM that hangs.
    if (usable_cached_file(cache, &note)) text = read_regular_file(cache, 4096, "the KVM probe's cache");
  } catch (const std::exception&) {
    // Missing, not a regular file, or too long: probe again and write it anew.
  }
  std::istringstream in(text);
  std::string cached_boot, cached_accel, cached_why;
  if (in >> cached_boot >> cached_accel && cached_boot == boot && !boot.empty() &&
      (cached_accel == "kvm" || cached_accel == "tcg")) {
    std::getline(in, cached_why);
    return AccelChoice{cached_accel, "cached probe:" + cached_why};
  }
  return std::nullopt;
}

AccelChoice choose_accel(const std::string& requested, const std::string& kernel_path, const std::string& qemu,
                         const Environment& env) {
  if (requested == "tcg") return {"tcg", "requested"};
  std::string why;
  if (requested == "kvm") {
    if (!kvm_device_usable(&why)) throw UsageError(fmt::format("--accel kvm: {}", why));
    return {"kvm", "requested"};
  }
  if (requested != "auto") throw UsageError(fmt::format("--accel {}: use auto, kvm or tcg", requested));
  if (!kvm_device_usable(&why)) return {"tcg", why};

  const std::string cache = cache_dir(env) + "/kvm-probe";
  const std::string boot = host_boot_id();
  if (auto cached = read_cached_accel(cache, boot)) return *cached;
  bool ok = kvm_boots_a_guest(kernel_path, qemu, &why);
  AccelChoice c = ok ? AccelChoice{"kvm", "a KVM guest booted"} : AccelChoice{"tcg", "KVM does not work here: " + why};
  write_file_atomically(cache, boot + " " + c.accel + " " + c.why + "\n");
  return c;
}

}  // namespace rig
