// The libvirt backend against a real libvirtd that this test starts itself (virtlogd, then
// libvirtd with a TCP listener on 127.0.0.1 for the remote-style URI, each with a pid file in a
// private directory) and stops afterwards. To boot guests on this machine libvirt's qemu.conf
// needs security_driver "none" and no cgroup controllers or namespaces: the setup appends those
// and puts the original back at the end. A libvirtd that was already running is used as is and
// left running. docs/libvirt.md.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <regex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "integration/harness.h"
#include "rig/base/clock.h"
#include "rig/host/guest_image.h"
#include "rig/host/kernel_locator.h"
#include "rig/machine/libvirt/libvirt_machine.h"
#include "rig/scenario/scenario_file.h"

using namespace rig_it;
using nlohmann::json;

namespace {

const char* kLocal = "qemu:///system";
const char* kTcp = "qemu+tcp://127.0.0.1:16599/system";

int pid_in(const std::string& file) {
  if (!path_exists(file)) return -1;
  try {
    return std::stoi(read_file(file));
  } catch (const std::exception&) {
    return -1;
  }
}

bool answers(const std::string& uri) {
  return run_command({"/usr/bin/virsh", "-c", uri, "list", "--all"}, 20).exit_code == 0;
}
bool daemon_answers() { return answers(kLocal); }

std::string virsh(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/virsh", "-c", kLocal};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 30).out;
}

// Names of the rig's domains and storage pools that exist now.
std::set<std::string> rig_leftovers() {
  std::set<std::string> out;
  for (const auto& list : {virsh({"list", "--all", "--name"}), virsh({"pool-list", "--all", "--name"})}) {
    size_t start = 0;
    while (start < list.size()) {
      size_t end = list.find('\n', start);
      if (end == std::string::npos) end = list.size();
      const std::string name = list.substr(start, end - start);
      if (name.rfind("rig-", 0) == 0) out.insert(name);
      start = end + 1;
    }
  }
  return out;
}

class Libvirt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fresh_dir("libvirt-daemons");
    if (daemon_answers()) return;  // someone else's libvirtd: use it, leave it running
    const std::string conf = "/etc/libvirt/qemu.conf";
    write_file(dir_ + "/qemu.conf.orig", read_file(conf));
    write_file(conf, read_file(conf) +
                         "\n# added by the rig's libvirt test; the original is put back when it ends\n"
                         "security_driver = \"none\"\ncgroup_controllers = [ ]\nnamespaces = [ ]\n");
    restore_conf_ = true;
    write_file(
        dir_ + "/libvirtd.conf",
        "listen_tls = 0\nlisten_tcp = 1\nlisten_addr = \"127.0.0.1\"\ntcp_port = \"16599\"\nauth_tcp = \"none\"\n");
    ASSERT_EQ(run_command({"/usr/sbin/virtlogd", "-d", "-p", dir_ + "/virtlogd.pid"}, 30).exit_code, 0);
    ASSERT_EQ(
        run_command({"/usr/sbin/libvirtd", "-d", "-l", "-f", dir_ + "/libvirtd.conf", "-p", dir_ + "/libvirtd.pid"}, 30)
            .exit_code,
        0);
    ASSERT_TRUE(wait_for(daemon_answers, 30)) << "libvirtd did not answer within 30 s";
  }
  static void TearDownTestSuite() {
    for (const char* name : {"libvirtd.pid", "virtlogd.pid"}) {
      const int pid = pid_in(dir_ + "/" + name);
      if (pid <= 0) continue;
      ::kill(pid, SIGTERM);
      wait_for([pid] { return ::kill(pid, 0) != 0; }, 20);
    }
    if (restore_conf_) write_file("/etc/libvirt/qemu.conf", read_file(dir_ + "/qemu.conf.orig"));
  }
  // A failed SetUpTestSuite only skips the tests under ctest: fail each test instead.
  void SetUp() override {
    ASSERT_TRUE(daemon_answers()) << "no libvirtd answers on qemu:///system (see SetUpTestSuite)";
  }
  // Nothing of the rig's may be left on the daemon after any test.
  void TearDown() override {
    std::string names;
    for (const auto& n : rig_leftovers()) names += " " + n;
    EXPECT_EQ(names, "") << "the rig left domains or storage pools behind";
  }
  static std::string dir_;
  static bool restore_conf_;
};
std::string Libvirt::dir_;
bool Libvirt::restore_conf_ = false;

std::string domain_xml_named(const std::string& name) {
  CommandResult r = run_command({RIG_BINARY, "libvirt-xml", RIG_SOURCE_DIR "/rig/scenarios/hotplug-then-unplug.toml",
                                 "--kernel", "/boot/vmlinuz", "--initrd", "/tmp/initrd", "--run-dir", "/tmp"},
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
  r = run_command(
      {RIG_BINARY, "run", "--backend", "libvirt", "--connect", "http://127.0.0.1/", "--kernel", "debian-6.1"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a libvirt QEMU URI"), std::string::npos) << r.err;
  r = run_command({RIG_BINARY, "cleanup", "--connect", "http://127.0.0.1/"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  // A libvirtd that does not answer: one line and exit 3 before any guest is set up.
  r = run_command({RIG_BINARY, "run", "--backend", "libvirt", "--connect", "qemu+tcp://127.0.0.1:1/system", "--kernel",
                   "debian-6.1", "--suite", "spec"},
                  60);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot connect to libvirt at qemu+tcp://127.0.0.1:1/system"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(qemu_pids_mentioning("guest=rig-").empty());
}

TEST_F(Libvirt, CleanupRemovesALeftoverStoragePoolWithItsVolumesAndDirectory) {
  // What a run interrupted during its upload leaves: a rig- pool with a volume in it.
  const std::string pool = "rig-it-pool-" + std::to_string(::getpid());
  const std::string target = "/var/lib/libvirt/images/" + pool;
  virsh({"pool-define-as", pool, "dir", "--target", target});
  virsh({"pool-build", pool});
  virsh({"pool-start", pool});
  virsh({"vol-create-as", pool, "vmlinuz", "1M"});
  ASSERT_TRUE(path_exists(target + "/vmlinuz"));
  CommandResult c = run_command({RIG_BINARY, "cleanup", "--connect", kLocal}, 60);
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("removed storage pool " + pool), std::string::npos) << c.out;
  EXPECT_FALSE(path_exists(target)) << "the pool's directory goes with it";
}

namespace {

std::string fmt_check(int step, int case_no, const std::string& name, const std::string& status,
                      const std::string& counted) {
  return "check step " + std::to_string(step) + " case " + std::to_string(case_no) + " " + name + " " + status + ": " +
         counted;
}

// What must not differ between backends: each run's verdict and steps, every check's status, and
// what the checks whose subject is fixed by the topology counted (the detail up to its first ':':
// memmap pages of removed sections, boot tags, removed memory, pgdat). The other counts move from
// boot to boot on either backend: KASLR places the direct map anew at each cold boot (so which
// table pages sections share changes), slab placement decides how many pages the usage maps
// share (usage-freed is pass or n/a by it), and what freed pages became since is the allocator's.
std::map<std::string, std::vector<std::string>> accounting(const json& results) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& r : results["results"]) {
    auto& v = out[r["scenario"].get<std::string>()];
    v.push_back("verdict " + r["verdict"].get<std::string>());
    for (const auto& s : r["steps"]) {
      // How long a step took and the words of its answer are the backend's; what happened is not.
      // Where the memmap of hot-added memory was allocated (on which staying section) is the
      // allocator's choice at the time; its case is not.
      static const std::regex where("memmap on section [0-9]+, which stays");
      json analysis = json::array();
      for (const auto& line : s.value("analysis", json::array()))
        analysis.push_back(std::regex_replace(line.get<std::string>(), where, "memmap on a section that stays"));
      json same = {{"index", s["index"]},
                   {"action", s["action"]},
                   {"target", s.value("target", "")},
                   {"expected", s.value("expected", "")},
                   {"outcome", s.value("outcome", "")},
                   {"ok", s["ok"]},
                   {"analysis", analysis}};
      v.push_back("step " + same.dump());
    }
    for (const auto& c : r["checks"]) {
      const std::string name = c["name"].get<std::string>();
      std::string status = c["status"].get<std::string>();
      std::string detail = c.value("detail", "");
      static const std::set<std::string> fixed = {"memmap-freed", "boot-tags-memmap", "boot-tags-pgdat",
                                                  "removed-memory-gone", "pgdat-kept"};
      if (name == "usage-freed" && status == "n/a") status = "pass";
      if (!fixed.count(name)) detail.clear();
      v.push_back(
          fmt_check(c.value("step", -1), c["case"].get<int>(), name, status, detail.substr(0, detail.find(':'))));
    }
  }
  return out;
}

}  // namespace

namespace {

json run_json(const std::vector<std::string>& args, const std::string& out, int* exit_code) {
  std::vector<std::string> argv = {RIG_BINARY, "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--json", out + "/out.json", "--out", out});
  CommandResult r = run_command(argv, 1500);
  *exit_code = r.exit_code;
  EXPECT_FALSE(r.timed_out) << r.err;
  if (!path_exists(out + "/out.json")) {
    ADD_FAILURE() << "no results from " << argv[2] << ": " << r.err;
    return json::object({{"results", json::array()}});
  }
  return json::parse(read_file(out + "/out.json"));
}

void expect_same_accounting(const json& qemu, const json& libvirt) {
  const auto a = accounting(qemu), b = accounting(libvirt);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [scenario, lines] : a) {
    ASSERT_TRUE(b.count(scenario)) << scenario;
    const auto& other = b.at(scenario);
    EXPECT_EQ(lines.size(), other.size()) << scenario;
    for (size_t i = 0; i < std::min(lines.size(), other.size()); ++i) EXPECT_EQ(lines[i], other[i]) << scenario;
  }
}

}  // namespace

// The test: the whole spec suite through libvirt gives the QEMU backend's verdicts and
// page accounting.
TEST_F(Libvirt, SpecSuiteMatchesTheQemuBackendOnDebian61) {
  const std::string dir = fresh_dir("libvirt-spec");
  int lv_exit = -1, qemu_exit = -1;
  const json lv =
      run_json({"--suite", "spec", "--kernel", "debian-6.1", "--backend", "libvirt"}, dir + "/libvirt", &lv_exit);
  const json qemu = run_json({"--suite", "spec", "--kernel", "debian-6.1"}, dir + "/qemu", &qemu_exit);
  EXPECT_EQ(lv_exit, 0);
  EXPECT_EQ(lv_exit, qemu_exit);
  ASSERT_GE(lv["results"].size(), 8u);
  for (const auto& r : lv["results"]) {
    EXPECT_EQ(r["accel"], "tcg") << r["scenario"];
    EXPECT_EQ(r["backend"], "libvirt") << r["scenario"];
  }
  expect_same_accounting(qemu, lv);
  EXPECT_TRUE(qemu_pids_mentioning("guest=rig-").empty());
}

// virtio-mem under libvirt: <memory model='virtio-mem'> in the domain, resizes through
// virDomainUpdateDeviceFlags, the size read from QEMU; the suite judged page by page as with the
// QEMU backend, and no domain left behind.
TEST_F(Libvirt, VirtioMemSuitePassesAsWithTheQemuBackendOnDebian61) {
  const std::string dir = fresh_dir("libvirt-virtio-mem");
  int lv_exit = -1;
  const json lv = run_json({"--suite", "virtio-mem", "--kernel", "debian-6.1", "--backend", "libvirt", "-j", "1"},
                           dir + "/libvirt", &lv_exit);
  EXPECT_EQ(lv_exit, 0) << lv.dump(1).substr(0, 4000);
  ASSERT_GE(lv["results"].size(), 4u);
  for (const auto& r : lv["results"]) {
    EXPECT_EQ(r["backend"], "libvirt") << r["scenario"];
    EXPECT_EQ(r["verdict"], "pass") << r["scenario"] << ": " << r["reason"];
    bool judged = false;
    for (const auto& c : r["checks"]) judged = judged || (c["name"] == "memmap-freed" && c["status"] == "pass");
    EXPECT_TRUE(judged) << r["scenario"] << ": no shrink's memmap judged";
  }
  EXPECT_TRUE(qemu_pids_mentioning("guest=rig-").empty());
}

// The remote-style URI: a TCP connection to the same libvirtd, so that nothing the backend does
// may depend on sharing the rig's file system (uploads, console stream, agent pass-through). The
// whole spec suite, on the other Debian kernel.
TEST_F(Libvirt, RemoteStyleUriRunsTheSpecSuiteLikeTheQemuBackendOnDebian612) {
  if (!answers(kTcp))
    GTEST_SKIP() << "the libvirtd in use does not listen on " << kTcp << " (one this test starts does)";
  const std::string dir = fresh_dir("libvirt-tcp");
  int lv_exit = -1, qemu_exit = -1;
  const json lv = run_json({"--suite", "spec", "--kernel", "debian-6.12", "--backend", "libvirt", "--connect", kTcp},
                           dir + "/libvirt", &lv_exit);
  const json qemu = run_json({"--suite", "spec", "--kernel", "debian-6.12"}, dir + "/qemu", &qemu_exit);
  EXPECT_EQ(lv_exit, 0);
  EXPECT_EQ(lv_exit, qemu_exit);
  ASSERT_GE(lv["results"].size(), 8u);
  expect_same_accounting(qemu, lv);
  // The domain XML kept for the reader names the local files; the uploaded ones are gone.
  const std::string run = lv["results"][0]["artifacts"].get<std::string>();
  EXPECT_NE(read_file(run + "/domain.xml").find("<kernel>/boot/vmlinuz-6.12"), std::string::npos);
  bool removed_seen = false;
  for (const auto& r : lv["results"])
    removed_seen |=
        read_file(r["artifacts"].get<std::string>() + "/libvirt-transcript.log").find("libvirt:device-removed") !=
        std::string::npos;
  EXPECT_TRUE(removed_seen) << "no run saw libvirt's device-removed event";
}

namespace {
// A LibvirtMachine of a shipped scenario on Debian 6.1, on the default URI.
rig::LibvirtMachineConfig machine_config(const std::string& scenario, const std::string& dir) {
  rig::KernelImage k = rig::locate_kernel("debian-6.1");
  rig::LibvirtMachineConfig cfg;
  cfg.scenario = rig::load_scenario_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/" + scenario);
  cfg.kernel_path = k.path;
  cfg.kernel_release = k.release;
  cfg.initrd = rig::guest_initramfs(k, rig::read_environment());
  cfg.run_dir = fresh_dir(dir);
  return cfg;
}
}  // namespace

// The machine itself: a guest command, QEMU's memory devices under their scenario ids, and a
// kernel panic reported as a crash with its headline at once, not as a timeout.
TEST_F(Libvirt, MachineRunsCommandsAndReportsAPanicAsACrash) {
  const rig::LibvirtMachineConfig cfg = machine_config("unplug-boot-dimm-movable.toml", "libvirt-machine");
  rig::LibvirtMachine m(cfg);
  m.start();
  rig::GuestExecResult r = m.guest_exec("cat /sys/devices/system/node/online", 30);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "0-1\n");
  EXPECT_EQ(m.guest_exec("exit 7", 30).exit_code, 7);
  auto devs = m.memory_devices();
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0].id, "dimm1");
  EXPECT_EQ(devs[0].addr, 0x100000000ull);
  EXPECT_NE(read_file(cfg.run_dir + "/console.log").find("rig: guest ready"), std::string::npos)
      << "the console stream is in the file";
  const auto t0 = rig::Clock::now();
  try {
    m.guest_exec("echo c > /proc/sysrq-trigger", 60);
    for (int i = 0; i < 100; ++i) {
      m.check_alive();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the guest survived a sysrq crash";
  } catch (const rig::GuestDown& e) {
    EXPECT_EQ(e.kind(), rig::GuestDown::Kind::Crashed) << e.what();
    EXPECT_NE(std::string(e.what()).find("sysrq triggered crash"), std::string::npos) << e.what();
  }
  EXPECT_LT(rig::seconds_since(t0), 30) << "a panic must end the wait at once";
  m.shutdown();
  EXPECT_EQ(virsh({"dominfo", m.domain_name()}).find("running"), std::string::npos);
}

// A console taken by another client (virsh console --force) would leave the rig blind to kernel
// reports: the machine says so instead of carrying on.
TEST_F(Libvirt, ALostConsoleIsAnErrorNotSilence) {
  const rig::LibvirtMachineConfig cfg = machine_config("hotplug-then-unplug.toml", "libvirt-console");
  rig::LibvirtMachine m(cfg);
  m.start();
  EXPECT_NO_THROW(m.check_alive());
  virConnectPtr other = virConnectOpen(kLocal);
  ASSERT_NE(other, nullptr);
  virDomainPtr dom = virDomainLookupByName(other, m.domain_name().c_str());
  ASSERT_NE(dom, nullptr);
  virStreamPtr st = virStreamNew(other, 0);
  ASSERT_EQ(virDomainOpenConsole(dom, nullptr, st, VIR_DOMAIN_CONSOLE_FORCE), 0);
  std::string error;
  for (int i = 0; i < 50 && error.empty(); ++i) {
    try {
      m.check_alive();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  EXPECT_NE(error.find("ended while the guest runs"), std::string::npos) << "no error, or another: " << error;
  virStreamAbort(st);
  virStreamFree(st);
  virDomainFree(dom);
  virConnectClose(other);
  m.shutdown();
}

// Ctrl-C, and a rig killed outright: the domain is autodestroyed with the rig's connection, and
// its storage pool is gone before the guest runs.
TEST_F(Libvirt, InterruptedOrKilledRigLeavesNoDomainPoolOrQemu) {
  for (int sig : {SIGINT, SIGKILL}) {
    const std::string dir = fresh_dir("libvirt-signal-" + std::to_string(sig));
    BackgroundCommand rig({RIG_BINARY, "run", std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-cycles.toml",
                           "--kernel", "debian-6.1", "--backend", "libvirt", "--out", dir});
    ASSERT_TRUE(wait_for([] { return !qemu_pids_mentioning("guest=rig-").empty(); }, 120)) << "no domain started";
    std::this_thread::sleep_for(std::chrono::seconds(3));
    rig.signal(sig);
    rig.wait(30);
    EXPECT_TRUE(wait_for([] { return qemu_pids_mentioning("guest=rig-").empty(); }, 30))
        << "QEMU outlived the rig after signal " << sig;
    EXPECT_TRUE(wait_for([] { return rig_leftovers().empty(); }, 10))
        << "a domain or pool outlived the rig after signal " << sig;
  }
}
