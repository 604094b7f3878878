// Golden files: the QEMU command line of every shipped scenario. A change to argument generation
// shows up as a diff here; regenerate with RIG_UPDATE_GOLDEN=1 after checking it is intended.
#include "rig/machine/qemu/qemu_args.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "rig/machine/libvirt/libvirt_xml.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/scenario/scenario_file.h"

using namespace rig;
namespace fs = boost::filesystem;

namespace {

QemuLaunchSpec fixed_spec() {
  QemuLaunchSpec spec;
  spec.kernel = "/boot/vmlinuz";
  spec.initrd = "/cache/initramfs.cpio.gz";
  spec.console_log = "/run/console.log";
  spec.qmp_socket = "/run/qmp.sock";
  spec.qga_socket = "/run/qga.sock";
  spec.extra_kernel_args = {"console=ttyS0", "panic=-1"};
  return spec;
}

std::string render(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += a + "\n";
  return out;
}

}  // namespace

TEST(QemuArgs, ShippedScenariosMatchGoldenFiles) {
  const bool update = std::getenv("RIG_UPDATE_GOLDEN") != nullptr;
  int checked = 0;
  for (fs::directory_iterator it(RIG_SOURCE_DIR "/rig/scenarios"), end; it != end; ++it) {
    if (it->path().extension() != ".toml") continue;
    Scenario s = load_scenario_file(it->path().string());
    const std::string got = render(qemu_argv(s, fixed_spec()));
    const std::string golden = std::string(RIG_TEST_DATA) + "/golden/" + it->path().stem().string() + ".argv";
    if (update) std::ofstream(golden) << got;
    std::ifstream in(golden);
    ASSERT_TRUE(in.good()) << "missing golden file " << golden << " (run with RIG_UPDATE_GOLDEN=1)";
    std::stringstream want;
    want << in.rdbuf();
    EXPECT_EQ(got, want.str()) << "argv of " << it->path();
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(QemuArgs, BootDimmsBecomeMemmapAndColdplugDevices) {
  Scenario s;
  s.machine.maxmem = 8ull << 30;
  s.machine.slots = 4;
  s.machine.kernel_args = {"movable_node"};
  s.nodes = {{0, "0-1", 1ull << 30}, {1, "", 0}};
  s.dimms = {{"a", 256ull << 20, 1, 0x100000000ull, true, true},
             {"b", 256ull << 20, 1, 0x110000000ull, true, true},
             {"h", 128ull << 20, 1, 0x120000000ull, false, false}};
  EXPECT_EQ(kernel_command_line(s, {"panic=-1"}),
            "memmap=256M@0x100000000 memmap=256M@0x110000000 movable_node panic=-1");
  auto argv = qemu_argv(s, fixed_spec());
  const std::string all = render(argv);
  EXPECT_NE(all.find("pc-dimm,id=a,memdev=mem-a,node=1,addr=0x100000000\n"), std::string::npos);
  EXPECT_NE(all.find("pc-dimm,id=b,memdev=mem-b,node=1,addr=0x110000000\n"), std::string::npos);
  EXPECT_EQ(all.find("id=h"), std::string::npos) << "a DIMM not present at start must not be on the command line";
  EXPECT_NE(all.find("-m\n1G,slots=4,maxmem=8G\n"), std::string::npos);
  EXPECT_NE(all.find("-numa\nnode,nodeid=1\n"), std::string::npos) << "memory-less node has no memdev";
  EXPECT_NE(all.find("-no-reboot\n"), std::string::npos);
}

TEST(QemuArgs, RuntimePlugArguments) {
  Dimm d{"h", 128ull << 20, 1, 0x108000000ull, false, false};
  EXPECT_EQ(memory_backend_object_args(d).dump(), R"({"id":"mem-h","qom-type":"memory-backend-ram","size":134217728})");
  EXPECT_EQ(dimm_device_args(d).dump(), R"({"addr":4429185024,"driver":"pc-dimm","id":"h","memdev":"mem-h","node":1})");
}

TEST(QemuArgs, DeviceMemoryWindowFollowsRamAbove4G) {
  MachineSpec m;
  m.maxmem = 16ull << 30;
  auto w = device_memory_window(m, 1ull << 30);
  EXPECT_EQ(w.base, 4ull << 30);
  EXPECT_EQ(w.size, 15ull << 30);
  w = device_memory_window(m, 4ull << 30);  // pc keeps 3G below 4G, 1G moves above
  EXPECT_EQ(w.base, 5ull << 30);
}

TEST(QemuArgs, ShellJoinQuotesWhatNeedsIt) {
  EXPECT_EQ(shell_join({"qemu", "-append", "a b", "it's"}), "qemu -append 'a b' 'it'\\''s'");
}

TEST(QemuArgs, ACpuListIsOneCpusOptionPerRange) {
  // QEMU's -numa takes one range per cpus=; "0-1,4" as one value would read "4" as an option.
  Scenario s;
  s.machine.smp = 6;
  s.machine.maxmem = 8ull << 30;
  s.nodes = {{0, "0-1,4", 1ull << 30}, {1, "2-3,5", 1ull << 30}};
  const std::string all = render(qemu_argv(s, fixed_spec()));
  EXPECT_NE(all.find("-numa\nnode,nodeid=0,cpus=0-1,cpus=4,memdev=ram-node0\n"), std::string::npos) << all;
  EXPECT_NE(all.find("-numa\nnode,nodeid=1,cpus=2-3,cpus=5,memdev=ram-node1\n"), std::string::npos) << all;
}

TEST(QemuArgs, ACommaInARunDirectoryIsNoOption) {
  // --artifacts a,server=off: the console and socket paths stay paths.
  QemuLaunchSpec spec = fixed_spec();
  spec.console_log = "/runs/a,append=off/console.log";
  spec.qga_socket = "/runs/a,server=off/qga.sock";
  Scenario s;
  s.machine.maxmem = 8ull << 30;
  s.nodes = {{0, "0-1", 1ull << 30}};
  const std::string all = render(qemu_argv(s, spec));
  EXPECT_NE(all.find("file,id=console,path=/runs/a,,append=off/console.log\n"), std::string::npos) << all;
  EXPECT_NE(all.find("socket,id=qga,path=/runs/a,,server=off/qga.sock,server=on,wait=off\n"), std::string::npos);
  EXPECT_EQ(qemu_opt_value("a,,b"), "a,,,,b");
}

// One launch spec for both backends: launch_spec() gives what the QEMU backend and the libvirt
// backend start the guest from, and both turn it into the same kernel and kernel command line.
namespace {
// A shipped scenario's guest, with fixed paths.
GuestBoot sample_boot() {
  GuestBoot boot;
  boot.scenario = load_scenario_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-then-unplug.toml");
  boot.kernel_path = "/boot/vmlinuz";
  boot.initrd = "/cache/initramfs.cpio.gz";
  boot.run_dir = "/runs/r1";
  return boot;
}
}  // namespace

TEST(LaunchSpec, BothBackendsLaunchTheSameKernelAndCommandLine) {
  GuestBoot boot = sample_boot();
  boot.accel = "kvm";
  const LaunchSpec spec = launch_spec(boot, {"rdinit=/bin/sh"});
  EXPECT_EQ(spec.kernel, "/boot/vmlinuz");
  EXPECT_EQ(spec.initrd, "/cache/initramfs.cpio.gz");
  EXPECT_EQ(spec.accel, "kvm");
  EXPECT_EQ(spec.extra_kernel_args,
            (std::vector<std::string>{"console=ttyS0", "panic=-1", "trace_event=kmem:mm_page_free", "trace_buf_size=4M",
                                      "rdinit=/bin/sh"}));
  EXPECT_EQ(spec.console_log, "/runs/r1/console.log");
  EXPECT_EQ(spec.qmp_socket, "qmp.sock") << "relative to the run directory, QEMU's working directory";
  EXPECT_EQ(spec.qga_socket, "qga.sock");
  EXPECT_TRUE(spec.paused);
  EXPECT_TRUE(spec.incoming.empty());

  const std::string cmdline = kernel_command_line(boot.scenario, spec.extra_kernel_args);
  const std::vector<std::string> argv = qemu_argv(boot.scenario, spec);
  const auto append = std::find(argv.begin(), argv.end(), "-append");
  ASSERT_NE(append, argv.end());
  EXPECT_EQ(*(append + 1), cmdline);
  EXPECT_NE(std::find(argv.begin(), argv.end(), "kvm"), argv.end());

  LibvirtDomainSpec lv;
  static_cast<LaunchSpec&>(lv) = spec;
  lv.name = "rig-1-1-t";
  lv.qga_socket.clear();
  const std::string xml = domain_xml(boot.scenario, lv);
  EXPECT_NE(xml.find("<cmdline>" + cmdline + "</cmdline>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<kernel>/boot/vmlinuz</kernel>"), std::string::npos);
  EXPECT_NE(xml.find("<domain type='kvm'>"), std::string::npos);
  lv.accel = "tcg";
  EXPECT_NE(domain_xml(boot.scenario, lv).find("<domain type='qemu'>"), std::string::npos);
}

// The snapshot key's command line is the same launch with placeholders for a run's own paths, so
// runs of the same machine share a key (the spelling is what keys cached before it).
TEST(LaunchSpec, TheSnapshotKeyUsesPlaceholdersForTheRunsPaths) {
  QemuMachineConfig cfg;
  static_cast<GuestBoot&>(cfg) = sample_boot();
  const std::vector<std::string> argv = snapshot_inputs(cfg).argv;
  ASSERT_FALSE(argv.empty());
  EXPECT_EQ(argv[0], "QEMU");
  auto has = [&](const std::string& a) { return std::find(argv.begin(), argv.end(), a) != argv.end(); };
  EXPECT_TRUE(has("KERNEL"));
  EXPECT_TRUE(has("INITRD"));
  EXPECT_TRUE(has("file,id=console,path=RUN/console.log"));
  EXPECT_TRUE(has("unix:RUN/qmp.sock,server=on,wait=off"));
  EXPECT_TRUE(has("socket,id=qga,path=RUN/qga.sock,server=on,wait=off"));
  for (const auto& a : argv) {
    EXPECT_EQ(a.find("/runs/r1"), std::string::npos) << a;
    EXPECT_EQ(a.find("/boot/vmlinuz"), std::string::npos) << a;
  }
}
