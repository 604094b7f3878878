// The two ways the guest's probe reads a kernel give the same answers, page for page: the
// rig_probe module (built against the kernel's headers) and rig-probe's own reading of the
// kernel's BTF, kallsyms and /proc/kcore (images/probe/rig-probe.c), on booted Debian kernels,
// at boot, after a hot-plug and after an unplug.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "integration/harness.h"
#include "rig/host/guest_image.h"
#include "rig/host/kernel_locator.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/scenario/scenario_file.h"

using namespace rig;

namespace {

// The snapshot without its "probe ROUTE" line, which names the route, and without the tag fields
// of slab pages: on index-private kernels "type" is page->index, which a slab page overlays with
// its free list, and that moves with every allocation between the two reads.
std::string without_route(const std::string& snapshot) {
  std::istringstream in(snapshot);
  std::string line, out;
  static const std::regex slab_tag(" type=[0-9]+ info=[0-9]+( free=no held=slab)");
  while (std::getline(in, line))
    if (line.rfind("probe ", 0) != 0) out += std::regex_replace(line, slab_tag, " type=? info=?$1") + "\n";
  return out;
}

std::string probe(QemuMachine& m, const std::string& route, const std::string& args) {
  GuestExecResult r = m.guest_exec("RIG_PROBE_ROUTE=" + route + " rig-probe " + args, 120);
  EXPECT_EQ(r.exit_code, 0) << route << ": " << r.err;
  return r.out;
}

void expect_same_answers(QemuMachine& m, const std::string& when, const std::string& query) {
  const std::string module = probe(m, "module", "snapshot"), kcore = probe(m, "kcore", "snapshot");
  EXPECT_NE(module.find("\nprobe module\n"), std::string::npos) << module.substr(0, 200);
  EXPECT_NE(kcore.find("\nprobe kcore\n"), std::string::npos) << kcore.substr(0, 200);
  EXPECT_NE(kcore.find("\nP "), std::string::npos) << "no page in the snapshot " << when;
  EXPECT_EQ(without_route(module), without_route(kcore)) << when;
  EXPECT_EQ(probe(m, "module", "query " + query), probe(m, "kcore", "query " + query)) << when << ": " << query;
}

void compare_routes(const std::string& kernel_name) {
  KernelImage k = locate_kernel(kernel_name);
  QemuMachineConfig cfg;
  cfg.scenario = load_scenario_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml");
  cfg.kernel_path = k.path;
  cfg.kernel_release = k.release;
  const GuestImage image = guest_image(k, rig::read_environment());
  ASSERT_FALSE(image.probe.empty()) << "no module to compare with: " << image.probe_problem;
  cfg.initrd = image.initramfs;
  cfg.accel = "tcg";
  cfg.run_dir = rig_it::fresh_dir("probe-routes-" + kernel_name);
  QemuMachine m(cfg);
  m.start();
  // The boot DIMM at 4 GiB (pfn 1048576, 512 MiB) and the hot-plugged one after it.
  const std::string dimms = "1048576-1179647 1179648-1245183";
  expect_same_answers(m, "at boot", dimms);
  const Dimm* hot = cfg.scenario.find_dimm("hot2");
  ASSERT_NE(hot, nullptr);
  EXPECT_TRUE(m.plug_dimm(*hot, 120).added);
  const std::string online =
      "cd /sys/devices/system/memory && for b in 36 37; do [ \"$(cat memory$b/state)\" = online ] || "
      "echo online_movable > memory$b/state || exit 1; done";
  EXPECT_EQ(m.guest_exec(online, 60).exit_code, 0);
  expect_same_answers(m, "after plugging and onlining hot2", dimms);
  const Dimm* boot = cfg.scenario.find_dimm("dimm1");
  ASSERT_NE(boot, nullptr);
  ASSERT_EQ(m.unplug_dimm(*boot, 300).result, UnplugResult::Removed) << "else nothing changed to compare";
  EXPECT_NE(probe(m, "kcore", "query " + dimms).find("\nQ 1048576 131072 gone\n"), std::string::npos);
  expect_same_answers(m, "after unplugging dimm1", dimms);
  m.shutdown();
}

}  // namespace

TEST(ProbeRoutes, ModuleAndKcoreAgreeOnDebian61) { compare_routes("debian-6.1"); }
TEST(ProbeRoutes, ModuleAndKcoreAgreeOnDebian612) { compare_routes("debian-6.12"); }
