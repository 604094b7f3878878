// Golden files: the libvirt domain XML of every shipped scenario, as qemu_args_test does for the
// QEMU argv. Regenerate with RIG_UPDATE_GOLDEN=1 after checking the change is intended.
#include "rig/machine/libvirt/libvirt_xml.h"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "rig/base/errors.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/scenario/scenario_file.h"

using namespace rig;
namespace fs = boost::filesystem;

namespace {

LibvirtDomainSpec fixed_spec(const std::string& scenario) {
  LibvirtDomainSpec spec;
  spec.name = domain_name(1234, 1, scenario);
  spec.kernel = "/boot/vmlinuz";
  spec.initrd = "/cache/initramfs.cpio.gz";
  spec.qga_socket = "/run/qga.sock";
  spec.extra_kernel_args = {"console=ttyS0", "panic=-1"};
  return spec;
}

Scenario two_nodes(uint64_t node1_memory) {
  Scenario s;
  s.name = "t";
  s.machine.maxmem = 8ull << 30;
  s.machine.slots = 4;
  s.machine.kernel_args = {"movable_node"};
  s.nodes = {{0, "0-1", 1ull << 30}, {1, "", node1_memory}};
  s.dimms = {{"a", 256ull << 20, 1, 0x100000000ull, true, true}, {"h", 128ull << 20, 1, 0x120000000ull, false, false}};
  return s;
}

}  // namespace

TEST(LibvirtXml, ShippedScenariosMatchGoldenFiles) {
  const bool update = std::getenv("RIG_UPDATE_GOLDEN") != nullptr;
  int checked = 0;
  for (fs::directory_iterator it(RIG_SOURCE_DIR "/rig/scenarios"), end; it != end; ++it) {
    if (it->path().extension() != ".toml") continue;
    Scenario s = load_scenario_file(it->path().string());
    const std::string skip = libvirt_skip_reason(s);
    const std::string got = skip.empty() ? domain_xml(s, fixed_spec(s.name)) : "skip: " + skip + "\n";
    const std::string golden = std::string(RIG_TEST_DATA) + "/golden/" + it->path().stem().string() + ".libvirt.xml";
    if (update) std::ofstream(golden) << got;
    std::ifstream in(golden);
    ASSERT_TRUE(in.good()) << "missing golden file " << golden << " (run with RIG_UPDATE_GOLDEN=1)";
    std::stringstream want;
    want << in.rdbuf();
    EXPECT_EQ(got, want.str()) << "domain XML of " << it->path();
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(LibvirtXml, SameKernelCommandLineAsQemu) {
  Scenario s = two_nodes(0);
  const std::string xml = domain_xml(s, fixed_spec("t"));
  const std::string cmdline = kernel_command_line(s, {"console=ttyS0", "panic=-1"});
  EXPECT_EQ(cmdline, "memmap=256M@0x100000000 movable_node console=ttyS0 panic=-1");
  EXPECT_NE(xml.find("<cmdline>" + cmdline + "</cmdline>"), std::string::npos) << xml;
}

TEST(LibvirtXml, MemorylessNodeNeedsTheOldMachineType) {
  Scenario s = two_nodes(0);
  EXPECT_EQ(libvirt_machine_type(s), "pc-i440fx-5.0");
  s.machine.type = "q35";
  EXPECT_EQ(libvirt_machine_type(s), "pc-q35-5.0");
  Scenario with_ram = two_nodes(128ull << 20);
  EXPECT_EQ(libvirt_machine_type(with_ram), "pc");
  const std::string xml = domain_xml(two_nodes(0), fixed_spec("t"));
  EXPECT_NE(xml.find("machine='pc-i440fx-5.0'"), std::string::npos);
  EXPECT_NE(xml.find("<cell id='1' memory='0' unit='KiB'/>"), std::string::npos) << xml;
}

TEST(LibvirtXml, PresentDimmsOnlyWithPinnedBase) {
  const std::string xml = domain_xml(two_nodes(0), fixed_spec("t"));
  EXPECT_NE(xml.find("<alias name='ua-a'/>"), std::string::npos);
  EXPECT_NE(xml.find("<address type='dimm' slot='0' base='0x100000000'/>"), std::string::npos);
  EXPECT_EQ(xml.find("ua-h"), std::string::npos) << "a DIMM not present at start is not in the domain";
  EXPECT_NE(xml.find("<maxMemory slots='4' unit='KiB'>8388608</maxMemory>"), std::string::npos);
  EXPECT_NE(xml.find("<memory unit='KiB'>1310720</memory>"), std::string::npos) << "cells plus present DIMMs";
  const Scenario s = two_nodes(0);
  EXPECT_EQ(dimm_slot(s, s.dimms[1]), 1);
  EXPECT_EQ(dimm_device_xml(s.dimms[1], dimm_slot(s, s.dimms[1])),
            "<memory model='dimm'>\n  <alias name='ua-h'/>\n  <target>\n    <size unit='KiB'>131072</size>\n"
            "    <node>1</node>\n  </target>\n  <address type='dimm' slot='1' base='0x120000000'/>\n</memory>\n");
}

TEST(LibvirtXml, WhatLibvirtCannotExpressIsASkipReason) {
  Scenario s = two_nodes(0);
  s.machine.cpu = "qemu64,+la57";
  EXPECT_NE(libvirt_skip_reason(s).find("cpu qemu64,+la57"), std::string::npos);
  EXPECT_THROW(domain_xml(s, fixed_spec("t")), UsageError);
  s = two_nodes(0);
  s.machine.type = "microvm";
  EXPECT_NE(libvirt_skip_reason(s), "");
  s = two_nodes(0);
  s.nodes.clear();
  EXPECT_NE(libvirt_skip_reason(s), "");
  EXPECT_EQ(libvirt_skip_reason(two_nodes(0)), "");
}

TEST(LibvirtXml, DomainNamesCarryTheRigPrefixAndAreEscaped) {
  EXPECT_EQ(domain_name(42, 3, "hotplug-then-unplug"), "rig-42-3-hotplug-then-unplug");
  EXPECT_EQ(domain_name(42, 3, "a b/<c>"), "rig-42-3-a_b__c_");
  EXPECT_TRUE(is_rig_domain("rig-42-3-x"));
  EXPECT_FALSE(is_rig_domain("debian12"));
  LibvirtDomainSpec spec = fixed_spec("t");
  spec.qga_socket = "/run/a'b&c.sock";
  const std::string xml = domain_xml(two_nodes(0), spec);
  EXPECT_NE(xml.find("<source mode='bind' path='/run/a&apos;b&amp;c.sock'/>"), std::string::npos) << xml;
  spec.qga_socket.clear();
  EXPECT_EQ(domain_xml(two_nodes(0), spec).find("<source mode='bind'"), std::string::npos) << "libvirt picks the path";
}
