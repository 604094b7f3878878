// The libvirt backend against a real libvirtd that this test starts itself (virtlogd, then
// libvirtd, each with a pid file in a private directory) and stops afterwards. Defining a domain
// boots nothing, so these tests take seconds. A libvirtd that was already running is used as is
// and left running.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "integration/harness.h"

using namespace rig_it;

namespace {

int pid_in(const std::string& file) {
  if (!path_exists(file)) return -1;
  try {
    return std::stoi(read_file(file));
  } catch (const std::exception&) {
    return -1;
  }
}

bool daemon_answers() { return run_command({"/usr/bin/virsh", "-c", "qemu:///system", "list", "--all"}, 20).exit_code == 0; }

class Libvirt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fresh_dir("libvirt-daemons");
    if (daemon_answers()) return;  // someone else's libvirtd: use it, leave it running
    ASSERT_EQ(run_command({"/usr/sbin/virtlogd", "-d", "-p", dir_ + "/virtlogd.pid"}, 30).exit_code, 0);
    ASSERT_EQ(run_command({"/usr/sbin/libvirtd", "-d", "-p", dir_ + "/libvirtd.pid"}, 30).exit_code, 0);
    ASSERT_TRUE(wait_for(daemon_answers, 30)) << "libvirtd did not answer within 30 s";
  }
  static void TearDownTestSuite() {
    for (const char* name : {"libvirtd.pid", "virtlogd.pid"}) {
      const int pid = pid_in(dir_ + "/" + name);
      if (pid <= 0) continue;
      ::kill(pid, SIGTERM);
      wait_for([pid] { return ::kill(pid, 0) != 0; }, 20);
    }
  }
  // A failed SetUpTestSuite only skips the tests under ctest: fail each test instead.
  void SetUp() override { ASSERT_TRUE(daemon_answers()) << "no libvirtd answers on qemu:///system (see SetUpTestSuite)"; }
  static std::string dir_;
};
std::string Libvirt::dir_;

std::string domain_xml_named(const std::string& name) {
  CommandResult r = run_command({RIG_BINARY, "libvirt-xml", RIG_SOURCE_DIR "/rig/scenarios/hotplug-then-unplug.toml", "--kernel",
                                 "/boot/vmlinuz", "--initrd", "/tmp/initrd", "--run-dir", "/tmp"},
                                30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const size_t a = r.out.find("<name>"), b = r.out.find("</name>");
  return r.out.substr(0, a) + "<name>" + name + r.out.substr(b);
}

bool domain_exists(const std::string& name) {
  return run_command({"/usr/bin/virsh", "-c", "qemu:///system", "dominfo", name}, 20).exit_code == 0;
}

}  // namespace

TEST_F(Libvirt, GeneratedXmlIsAcceptedAndCleanupRemovesOnlyRigDomains) {
  const std::string ours = "rig-it-cleanup-" + std::to_string(::getpid());
  const std::string theirs = "not-rig-it-" + std::to_string(::getpid());
  write_file(dir_ + "/ours.xml", domain_xml_named(ours));
  write_file(dir_ + "/theirs.xml", domain_xml_named(theirs));
  CommandResult d1 = run_command({"/usr/bin/virsh", "-c", "qemu:///system", "define", dir_ + "/ours.xml"}, 30);
  ASSERT_EQ(d1.exit_code, 0) << d1.err;
  CommandResult d2 = run_command({"/usr/bin/virsh", "-c", "qemu:///system", "define", dir_ + "/theirs.xml"}, 30);
  ASSERT_EQ(d2.exit_code, 0) << d2.err;

  CommandResult c = run_command({RIG_BINARY, "cleanup", "--connect", "qemu:///system"}, 60);
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("removed domain " + ours), std::string::npos) << c.out;
  EXPECT_FALSE(domain_exists(ours));
  EXPECT_TRUE(domain_exists(theirs)) << "cleanup must leave domains without the rig's prefix";
  run_command({"/usr/bin/virsh", "-c", "qemu:///system", "undefine", theirs}, 30);
  EXPECT_FALSE(domain_exists(theirs));
}

TEST_F(Libvirt, BadBackendChoicesFailBeforeAnythingBoots) {
  CommandResult r = run_command({RIG_BINARY, "run", "--backend", "xen", "--kernel", "debian-6.1"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--backend xen"), std::string::npos) << r.err;
  r = run_command({RIG_BINARY, "run", "--backend", "libvirt", "--connect", "http://127.0.0.1/", "--kernel", "debian-6.1"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a libvirt QEMU URI"), std::string::npos) << r.err;
  r = run_command({RIG_BINARY, "cleanup", "--connect", "http://127.0.0.1/"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(qemu_pids_mentioning("guest=rig-").empty());
}
