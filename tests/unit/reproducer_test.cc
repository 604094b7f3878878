#include "rig/reproducer.h"

#include <gtest/gtest.h>

#include "rig/scenario_file.h"

using namespace rig;

TEST(Reproducer, ScriptRunsTheScenarioOnOneStdin) {
  Scenario s = load_scenario_file(RIG_SOURCE_DIR "/rig/scenarios/hotplug-memmap-dependency.toml");
  const std::string sh = reproducer_script(s, "6.1.0-56-amd64");
  // Only QEMU and sh: the exact command line, console and monitor multiplexed on stdio.
  EXPECT_EQ(sh.rfind("#!/bin/sh\n", 0), 0u);
  EXPECT_NE(sh.find("\"${QEMU:-qemu-system-x86_64}\""), std::string::npos);
  EXPECT_NE(sh.find("'mon:stdio'"), std::string::npos);
  EXPECT_NE(sh.find("'memhp_default_state=offline console=ttyS0 panic=-1 rig.shell=1'"), std::string::npos);
  EXPECT_EQ(sh.find("'-S'"), std::string::npos) << "nobody sends cont: the guest must run at once";
  EXPECT_EQ(sh.find("rig "), std::string::npos) << "the reproducer must not need the rig";
  // The steps, in order: plug hotA, online it as kernel memory, ..., the refused eject of hotA.
  const size_t plug = sh.find("monitor 'device_add pc-dimm,id=hotA,memdev=mem-hotA,node=1,addr=0x100000000'");
  const size_t online = sh.find("guest 'for b in 32; do echo online_kernel > /sys/devices/system/memory/memory$b/state;");
  const size_t unplug = sh.find("monitor 'device_del hotA'   # the scenario expects: refused");
  ASSERT_NE(plug, std::string::npos);
  ASSERT_NE(online, std::string::npos);
  ASSERT_NE(unplug, std::string::npos);
  EXPECT_LT(plug, online);
  EXPECT_LT(online, unplug);
  EXPECT_NE(sh.find("guest 'echo 1048576-1081343 > /sys/kernel/debug/rig_probe/query;"), std::string::npos)
      << "after an unplug it queries the DIMM's pfns";
  EXPECT_NE(sh.find("monitor 'quit'"), std::string::npos);
}
