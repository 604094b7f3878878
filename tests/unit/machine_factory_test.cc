// The backend choice is checked before anything boots: unknown names and URIs are usage errors.
#include "rig/machine_factory.h"

#include <gtest/gtest.h>

#include "rig/errors.h"

using namespace rig;

TEST(MachineFactory, QemuIsTheDefaultAndValid) {
  BackendConfig b;
  EXPECT_EQ(b.backend, "qemu");
  EXPECT_NO_THROW(validate_backend(b));
  b.accel = "kvm";
  EXPECT_NO_THROW(validate_backend(b));
}

TEST(MachineFactory, BadChoicesAreUsageErrors) {
  EXPECT_THROW(validate_backend({"xen", "qemu-system-x86_64", "auto", ""}), UsageError);
  EXPECT_THROW(validate_backend({"qemu", "qemu-system-x86_64", "hvf", ""}), UsageError);
  EXPECT_THROW(validate_backend({"qemu", "qemu-system-x86_64", "auto", "qemu:///system"}), UsageError)
      << "--connect without --backend libvirt";
  EXPECT_THROW(validate_backend({"libvirt", "qemu-system-x86_64", "auto", "http://127.0.0.1/"}), UsageError);
}

TEST(MachineFactory, LibvirtIsRefusedUntilItsMachineExists) {
  try {
    validate_backend({"libvirt", "qemu-system-x86_64", "auto", "qemu+tcp://127.0.0.1/system"});
    FAIL() << "the libvirt backend has no machine yet";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not built yet"), std::string::npos) << e.what();
  }
  EXPECT_STREQ(default_libvirt_uri(), "qemu:///system");
}
