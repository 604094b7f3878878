// Chooses the accelerator. "auto" uses KVM only after seeing a KVM guest print its first kernel
// line: on some hosts /dev/kvm exists but guests hang after "Booting from ROM". The answer is
// cached for the host's current boot.
#pragma once
#include <optional>
#include <string>

#include "rig/base/environment.h"

namespace rig {

struct AccelChoice {
  std::string accel;  // "kvm" or "tcg"
  std::string why;
};

// The cached answer in `cache` for the host's boot `boot`: only from a file that is the user's
// alone (file_trust.h usable_cached_file: another user's is removed) naming kvm or tcg.
std::optional<AccelChoice> read_cached_accel(const std::string& cache, const std::string& boot);
// The probe's answer is kept in the cache directory (paths.h cache_dir of `env`).
AccelChoice choose_accel(const std::string& requested, const std::string& kernel_path, const std::string& qemu_binary,
                         const Environment& env);

}  // namespace rig
