// Chooses the accelerator. "auto" uses KVM only after seeing a KVM guest print its first kernel
// line: on some hosts /dev/kvm exists but guests hang after "Booting from ROM". The answer is
// cached for the host's current boot.
#pragma once
#include <string>

namespace rig {

struct AccelChoice {
  std::string accel;  // "kvm" or "tcg"
  std::string why;
};

AccelChoice choose_accel(const std::string& requested, const std::string& kernel_path,
                         const std::string& qemu_binary = "qemu-system-x86_64");

}  // namespace rig
