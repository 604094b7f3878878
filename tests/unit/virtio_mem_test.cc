// virtio-mem, phase 1 (docs/virtio-mem.md): [[virtio_mem]] and resize steps parsed and validated
// with one-line errors, the QEMU command line, and the resize outcome rule.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "rig/base/errors.h"
#include "rig/machine/libvirt/libvirt_xml.h"
#include "rig/machine/machine.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/scenario/scenario_file.h"
#include "rig/scenario/scenario_writer.h"

#include "scenario_text.h"

using namespace rig;

namespace {

const char* kVirtioMem = R"(
name = "vm"
[machine]
maxmem = "8G"
slots = 2
kernel_args = ["memhp_default_state=online_movable"]
[[node]]
id = 0
cpus = "0-1"
memory = "1G"
[[node]]
id = 1
[[dimm]]
id = "d0"
size = "256M"
node = 1
addr = "0x100000000"
[[virtio_mem]]
id = "vm0"
node = 1
size = "1G"
block_size = "2M"
requested = "0"
[[step]]
action = "resize"
device = "vm0"
size = "512M"
expect = "reached"
timeout = 300
[[step]]
action = "resize"
device = "vm0"
size = "0"
expect = "partial"
)";

// Replaces the first occurrence of `from` and returns the error message, or "(accepted)".
std::string error_for(const std::string& from, const std::string& to) {
  return rig_test::scenario_error(kVirtioMem, from, to);
}

QemuLaunchSpec fixed_spec() {
  QemuLaunchSpec spec;
  spec.kernel = "/boot/vmlinuz";
  spec.console_log = "/run/console.log";
  spec.qmp_socket = "/run/qmp.sock";
  spec.qga_socket = "/run/qga.sock";
  return spec;
}

}  // namespace

TEST(VirtioMemScenario, ParsesDevicesAndResizeSteps) {
  Scenario s = parse_scenario(kVirtioMem, "x.toml");
  ASSERT_EQ(s.virtio_mems.size(), 1u);
  const VirtioMem& v = s.virtio_mems[0];
  EXPECT_EQ(v.id, "vm0");
  EXPECT_EQ(v.node, 1);
  EXPECT_EQ(v.size, 1ull << 30);
  EXPECT_EQ(v.block_size, 2ull << 20);
  EXPECT_EQ(v.requested, 0u);
  // Above the DIMM (which ends at 0x110000000), aligned to the 128M memory block.
  EXPECT_EQ(v.addr, 0x110000000ull);
  ASSERT_EQ(s.steps.size(), 2u);
  EXPECT_EQ(s.steps[0].action, StepAction::Resize);
  EXPECT_EQ(s.steps[0].device, "vm0");
  EXPECT_EQ(s.steps[0].size, 512ull << 20);
  EXPECT_EQ(s.steps[0].expect, "reached");
  EXPECT_EQ(s.steps[0].timeout_s, 300);
  EXPECT_EQ(s.steps[1].size, 0u);
  EXPECT_EQ(s.steps[1].expect, "partial");
  EXPECT_EQ(s.find_virtio_mem("vm0"), &s.virtio_mems[0]);
  EXPECT_EQ(s.find_virtio_mem("d0"), nullptr);
}

TEST(VirtioMemScenario, Defaults) {
  std::string text = kVirtioMem;
  const std::string optional = "block_size = \"2M\"\nrequested = \"0\"\n";
  text.replace(text.find(optional), optional.size(), "");
  Scenario s = parse_scenario(text, "x.toml");
  ASSERT_EQ(s.virtio_mems.size(), 1u);
  EXPECT_EQ(s.virtio_mems[0].block_size, 2ull << 20);
  EXPECT_EQ(s.virtio_mems[0].requested, 0u);
}

TEST(VirtioMemScenario, PlacementAlignsToTheBlockSize) {
  std::string text = kVirtioMem;
  text.replace(text.find("block_size = \"2M\""), 17, "block_size = \"1G\"");
  text.replace(text.find("size = \"512M\""), 13, "size = \"1G\"");
  Scenario s = parse_scenario(text, "x.toml");
  // The DIMM ends at 0x110000000: the next 1G boundary.
  EXPECT_EQ(s.virtio_mems[0].addr, 0x140000000ull);
}

TEST(VirtioMemScenario, RejectsBadDevicesInOneLine) {
  EXPECT_EQ(error_for("block_size = \"2M\"", "block_size = \"3M\""),
            "x.toml: virtio_mem[0].block_size: 3M is not a power of two from 2M to 1G");
  EXPECT_EQ(error_for("block_size = \"2M\"", "block_size = \"1M\""),
            "x.toml: virtio_mem[0].block_size: 1M is not a power of two from 2M to 1G");
  EXPECT_EQ(error_for("size = \"1G\"", "size = \"1025M\""),
            "x.toml: virtio_mem[0].size: 1025M is not a non-zero multiple of the block size 2M");
  EXPECT_EQ(error_for("size = \"1G\"", "size = \"0\""),
            "x.toml: virtio_mem[0].size: 0 is not a non-zero multiple of the block size 2M");
  EXPECT_EQ(error_for("requested = \"0\"", "requested = \"3M\""),
            "x.toml: virtio_mem[0].requested: 3M is not a multiple of the block size 2M");
  EXPECT_EQ(error_for("requested = \"0\"", "requested = \"2G\""),
            "x.toml: virtio_mem[0].requested: 2G is more than the device's size 1G");
  EXPECT_EQ(error_for("node = 1\nsize = \"1G\"", "node = 5\nsize = \"1G\""),
            "x.toml: virtio_mem[0].node: node 5 is not declared");
  EXPECT_EQ(error_for("id = \"vm0\"", "id = \"d0\""),
            "x.toml: virtio_mem[0].id: id 'd0' is used twice (DIMMs and virtio-mem devices share QEMU's ids)");
  EXPECT_EQ(error_for("id = \"vm0\"", "id = \"v,m\""),
            "x.toml: virtio_mem[0].id: must be a QEMU id: 1 to 60 letters, digits, '-', '.' or '_', starting with a "
            "letter (no commas, '=', quotes, spaces or control characters)");
  EXPECT_EQ(error_for("requested = \"0\"", "requested = \"0\"\nmemmap_on_memory = true"),
            "x.toml: virtio_mem[0].memmap_on_memory: not supported yet for virtio-mem (docs/virtio-mem.md)");
  EXPECT_EQ(error_for("requested = \"0\"", "requested = \"0\"\nmemmap_on_memory = false"), "(accepted)");
  EXPECT_EQ(error_for("requested = \"0\"", "requested = \"0\"\nblock = 1"), "x.toml: virtio_mem[0].block: unknown key");
  EXPECT_EQ(error_for("[[virtio_mem]]", "[virtio_mem]"),
            "x.toml: virtio_mem: must be written as [[virtio_mem]] tables");
}

TEST(VirtioMemScenario, DevicesAndDimmsMustFitMaxmemTogether) {
  // 1G boot RAM + 256M DIMM + 1G virtio-mem: 2G is too little, and the window says so first.
  EXPECT_EQ(error_for("maxmem = \"8G\"", "maxmem = \"2G\""),
            "x.toml: virtio_mem[0].size: 1G at 0x110000000 (above every DIMM) ends beyond maxmem: the device-memory "
            "window is [0x100000000, 0x140000000)");
  EXPECT_EQ(error_for("maxmem = \"8G\"", "maxmem = \"2304M\""), "(accepted)");
  EXPECT_EQ(error_for("size = \"1G\"", "size = \"7G\""),
            "x.toml: virtio_mem[0].size: 7G at 0x110000000 (above every DIMM) ends beyond maxmem: the device-memory "
            "window is [0x100000000, 0x2c0000000)");
}

TEST(VirtioMemScenario, RejectsBadResizeStepsInOneLine) {
  EXPECT_EQ(error_for("device = \"vm0\"", "device = \"d0\""),
            "x.toml: step[0].device: no virtio-mem device 'd0' is declared");
  EXPECT_EQ(error_for("size = \"512M\"", "size = \"511M\""),
            "x.toml: step[0].size: 511M is not a multiple of the block size 2M of 'vm0'");
  EXPECT_EQ(error_for("size = \"512M\"", "size = \"2G\""),
            "x.toml: step[0].size: 2G is more than the size 1G of 'vm0'");
  EXPECT_EQ(error_for("expect = \"reached\"", "expect = \"removed\""),
            "x.toml: step[0].expect: 'removed' is not one of: reached, partial, refused");
  EXPECT_EQ(error_for("device = \"vm0\"\nsize = \"512M\"\n", ""), "x.toml: step[0].device: required key is missing");
  EXPECT_EQ(error_for("size = \"512M\"\n", ""), "x.toml: step[0].size: required key is missing");
  EXPECT_EQ(error_for("expect = \"reached\"\n", ""), "x.toml: step[0].expect: required key is missing");
  EXPECT_EQ(error_for("device = \"vm0\"", "device = \"vm0\"\ndimm = \"d0\""),
            "x.toml: step[0].dimm: resize names its virtio-mem device with `device`");
  EXPECT_EQ(error_for("[[step]]\naction = \"resize\"", "[[step]]\naction = \"expect-dimm\"\ndimm = \"d0\""),
            "x.toml: step[0].device: only resize takes a device");
  EXPECT_EQ(error_for("name = \"vm\"", "name = \"vm\"\ncycles = 2"), "(accepted)");
  EXPECT_EQ(error_for("size = \"0\"", "size = \"2M\""), "(accepted)");
}

TEST(VirtioMemScenario, CyclesMustLeaveTheRequestedSizeAsItWas) {
  std::string text = std::string(kVirtioMem);
  text.replace(text.find("size = \"0\"\nexpect"), 10, "size = \"2M\"");
  text.replace(text.find("name = \"vm\""), 11, "name = \"vm\"\ncycles = 2");
  try {
    parse_scenario(text, "x.toml");
    ADD_FAILURE() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "x.toml: cycles: with cycles > 1 the steps must leave virtio-mem 'vm0' at its requested size 0");
  }
}

TEST(VirtioMemScenario, WriterRoundTrips) {
  Scenario s = parse_scenario(kVirtioMem, "x.toml");
  Scenario again = parse_scenario(scenario_toml(s, "round trip"), "y.toml");
  ASSERT_EQ(again.virtio_mems.size(), 1u);
  EXPECT_EQ(again.virtio_mems[0].id, "vm0");
  EXPECT_EQ(again.virtio_mems[0].size, s.virtio_mems[0].size);
  EXPECT_EQ(again.virtio_mems[0].block_size, s.virtio_mems[0].block_size);
  EXPECT_EQ(again.virtio_mems[0].addr, s.virtio_mems[0].addr);
  ASSERT_EQ(again.steps.size(), 2u);
  EXPECT_EQ(again.steps[0].device, "vm0");
  EXPECT_EQ(again.steps[0].size, 512ull << 20);
  EXPECT_EQ(again.steps[1].expect, "partial");
}

TEST(VirtioMemQemuArgs, DeviceAndBackendOnTheCommandLine) {
  Scenario s = parse_scenario(kVirtioMem, "x.toml");
  std::string all;
  for (const auto& a : qemu_argv(s, fixed_spec())) all += a + "\n";
  EXPECT_NE(all.find("-object\nmemory-backend-ram,id=mem-vm0,size=1G\n-device\nvirtio-mem-pci,id=vm0,memdev=mem-vm0,"
                     "node=1,block-size=2M,requested-size=0,memaddr=0x110000000\n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("-m\n1G,slots=2,maxmem=8G\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("id=d0"), std::string::npos) << "the DIMM is not present at start";
  EXPECT_EQ(virtio_mem_qom_path(s.virtio_mems[0]), "/machine/peripheral/vm0");
  EXPECT_EQ(virtio_mem_backend_id(s.virtio_mems[0]), "mem-vm0");
}

// libvirt 9.0's <memory model='virtio-mem'>: size, node, block and requested in KiB, the rig's
// alias (QEMU's id); no address (libvirt 9.0 has none for it: the backend checks QEMU's).
TEST(VirtioMemLibvirt, TheDomainHasTheDeviceAndAResizeIsItsXmlWithAnotherRequestedSize) {
  Scenario s = parse_scenario(kVirtioMem, "x.toml");
  EXPECT_EQ(libvirt_skip_reason(s), "");
  const VirtioMem& v = s.virtio_mems[0];
  const std::string dev = virtio_mem_device_xml(v, 512ull << 20);
  EXPECT_NE(dev.find("<memory model='virtio-mem'>"), std::string::npos) << dev;
  EXPECT_NE(dev.find("<alias name='ua-vm0'/>"), std::string::npos) << dev;
  EXPECT_NE(dev.find(fmt::format("<size unit='KiB'>{}</size>", v.size >> 10)), std::string::npos) << dev;
  EXPECT_NE(dev.find(fmt::format("<node>{}</node>", v.node)), std::string::npos) << dev;
  EXPECT_NE(dev.find("<block unit='KiB'>2048</block>"), std::string::npos) << dev;
  EXPECT_NE(dev.find("<requested unit='KiB'>524288</requested>"), std::string::npos) << dev;
  EXPECT_EQ(dev.find("address"), std::string::npos) << dev;
  LibvirtDomainSpec spec;
  spec.name = "rig-1-1-vm";
  spec.kernel = "/k";
  const std::string dom = domain_xml(s, spec);
  EXPECT_NE(dom.find(fmt::format("<requested unit='KiB'>{}</requested>", v.requested >> 10)), std::string::npos) << dom;
  // A size libvirt cannot say in KiB is a skip with its reason.
  s.virtio_mems[0].size += 512;
  EXPECT_EQ(libvirt_skip_reason(s), "virtio-mem vm0: a size not a whole number of KiB");
}

TEST(VirtioMemResize, OutcomeRule) {
  constexpr uint64_t M = 1ull << 20;
  // Reached: the size is the requested one, whether or not the clock ran out.
  EXPECT_EQ(resize_result(512 * M, 0, 512 * M, false), ResizeResult::Reached);
  EXPECT_EQ(resize_result(512 * M, 0, 512 * M, true), ResizeResult::Reached);
  EXPECT_EQ(resize_result(0, 512 * M, 0, false), ResizeResult::Reached);
  EXPECT_EQ(resize_result(0, 0, 0, false), ResizeResult::Reached) << "nothing to do is reached at once";
  // Partial: moved, but not all the way, in either direction.
  EXPECT_EQ(resize_result(512 * M, 0, 256 * M, true), ResizeResult::Partial);
  EXPECT_EQ(resize_result(0, 512 * M, 128 * M, true), ResizeResult::Partial);
  // Refused: did not move at all.
  EXPECT_EQ(resize_result(512 * M, 0, 0, true), ResizeResult::Refused);
  EXPECT_EQ(resize_result(0, 512 * M, 512 * M, true), ResizeResult::Refused);
  EXPECT_STREQ(resize_result_name(ResizeResult::Reached), "reached");
  EXPECT_STREQ(resize_result_name(ResizeResult::Partial), "partial");
  EXPECT_STREQ(resize_result_name(ResizeResult::Refused), "refused");
}

TEST(VirtioMemResize, DetailSaysTheSizesAndTheTime) {
  ResizeOutcome o;
  o.requested = 512ull << 20;
  o.before = 0;
  o.after = 256ull << 20;
  o.timed_out = true;
  o.seconds = 60.04;
  o.result = resize_result(o.requested, o.before, o.after, o.timed_out);
  EXPECT_EQ(resize_detail(o), "size 256M of the requested 512M (was 0) when the wait ended after 60.0 s");
  o.after = o.requested;
  o.timed_out = false;
  o.seconds = 12.3;
  o.result = resize_result(o.requested, o.before, o.after, o.timed_out);
  EXPECT_EQ(resize_detail(o), "size 512M as requested (was 0) after 12.3 s");
}

// The update libvirt accepts is the live definition with another <requested>: libvirt matches
// the device by everything it filled in (here the PCI address), not by its alias alone.
TEST(VirtioMemLibvirt, TheUpdateIsTheLiveDeviceWithAnotherRequestedSize) {
  const std::string live =
      "<domain>\n  <devices>\n"
      "    <memory model='dimm'>\n      <alias name='ua-d1'/>\n    </memory>\n"
      "    <memory model='virtio-mem'>\n      <target>\n        <size unit='KiB'>1048576</size>\n"
      "        <node>1</node>\n        <block unit='KiB'>2048</block>\n"
      "        <requested unit='KiB'>0</requested>\n        <current unit='KiB'>0</current>\n      </target>\n"
      "      <alias name='ua-vm0'/>\n"
      "      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>\n    </memory>\n"
      "  </devices>\n</domain>\n";
  const std::string xml = virtio_mem_update_xml(live, "ua-vm0", 512ull << 20);
  EXPECT_NE(xml.find("<requested unit='KiB'>524288</requested>"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<requested unit='KiB'>0</requested>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("slot='0x04'"), std::string::npos) << xml;
  EXPECT_EQ(xml.rfind("<memory model='virtio-mem'>", 0), 0u) << xml;
  EXPECT_EQ(xml.find("ua-d1"), std::string::npos) << xml;
  EXPECT_EQ(virtio_mem_update_xml(live, "ua-vm9", 0), "");
  EXPECT_EQ(virtio_mem_update_xml(live, "ua-d1", 0), "") << "a DIMM is not a virtio-mem device";
}
