// The backend choice is checked before anything boots: unknown names and URIs are usage errors.
#include "rig/run/machine_factory.h"

#include <gtest/gtest.h>

#include "rig/base/errors.h"

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

TEST(MachineFactory, LibvirtUrisAreAcceptedAndItsSkipsHaveReasons) {
  EXPECT_NO_THROW(validate_backend({"libvirt", "qemu-system-x86_64", "auto", "qemu+tcp://127.0.0.1/system"}));
  EXPECT_NO_THROW(validate_backend({"libvirt", "qemu-system-x86_64", "auto", ""}));
  EXPECT_STREQ(default_libvirt_uri(), "qemu:///system");
  Scenario s;
  s.name = "t";
  s.machine.cpu = "Skylake-Server";
  s.nodes = {{0, "0", 1ull << 30}};
  const BackendConfig lv{"libvirt", "qemu-system-x86_64", "auto", ""};
  EXPECT_NE(backend_skip_reason(lv, s).find("cpu Skylake-Server"), std::string::npos) << backend_skip_reason(lv, s);
  EXPECT_EQ(backend_skip_reason(BackendConfig{}, s), "") << "the QEMU backend runs every valid scenario";
  s.machine.cpu = "qemu64";
  EXPECT_EQ(backend_skip_reason(lv, s), "");
}

TEST(MachineFactory, GuestsTakeThisHostsCoresUnlessLibvirtRunsThemElsewhere) {
  auto here = [](const std::string& backend, const std::string& uri) {
    rig::BackendConfig b;
    b.backend = backend;
    b.connect = uri;
    return rig::guests_run_here(b, "lab1");
  };
  EXPECT_TRUE(here("qemu", ""));
  EXPECT_TRUE(here("libvirt", ""));
  EXPECT_TRUE(here("libvirt", "qemu:///system"));
  EXPECT_TRUE(here("libvirt", "qemu+unix:///system"));
  EXPECT_TRUE(here("libvirt", "qemu+tcp://127.0.0.1:16599/system"));
  EXPECT_TRUE(here("libvirt", "qemu+ssh://root@localhost/system"));
  EXPECT_TRUE(here("libvirt", "qemu+tcp://[::1]:16509/system"));
  EXPECT_TRUE(here("libvirt", "qemu+ssh://lab1/system?no_tty=1"));
  EXPECT_FALSE(here("libvirt", "qemu+ssh://root@lab2/system"));
  EXPECT_FALSE(here("libvirt", "qemu+tcp://10.0.0.7:16509/system"));
  EXPECT_FALSE(here("libvirt", "qemu+tls://[fd00::7]/system"));
}

// Callers ask the factory what a backend does; only backend_of reads its name.
TEST(MachineFactory, TheBackendIsATypeAndTheFactoryAnswersForIt) {
  EXPECT_EQ(backend_of(BackendConfig{}), Backend::Qemu);
  const BackendConfig lv{"libvirt", "qemu-system-x86_64", "auto", ""};
  EXPECT_EQ(backend_of(lv), Backend::Libvirt);
  EXPECT_THROW(backend_of({"xen", "qemu-system-x86_64", "auto", ""}), UsageError);
  EXPECT_TRUE(backend_saves_snapshots(BackendConfig{}));
  EXPECT_FALSE(backend_saves_snapshots(lv));
  // A QEMU binary that is not installed is found out before anything boots.
  EXPECT_THROW(check_backend_reachable({"qemu", "rig-no-such-qemu-binary", "auto", ""}), InfraError);
}
