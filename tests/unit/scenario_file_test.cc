#include "rig/scenario/scenario_file.h"
#include "rig/scenario/scenario_writer.h"

#include <gtest/gtest.h>

#include <boost/filesystem.hpp>

#include "rig/base/errors.h"

#include "scenario_text.h"

using namespace rig;

namespace {

const char* kValid = R"(
name = "t"
[machine]
maxmem = "8G"
slots = 2
[[node]]
id = 0
cpus = "0-1"
memory = "1G"
[[node]]
id = 1
[[dimm]]
id = "a"
size = "256M"
node = 1
addr = "0x100000000"
boot = true
[[step]]
action = "unplug"
dimm = "a"
expect = "removed"
)";

// Replaces the first occurrence of `from` in the valid scenario and returns the error message.
std::string error_for(const std::string& from, const std::string& to) {
  return rig_test::scenario_error(kValid, from, to);
}

}  // namespace

TEST(ScenarioFile, ParsesAValidScenario) {
  Scenario s = parse_scenario(kValid, "x.toml");
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.machine.cpu, "qemu64");
  ASSERT_EQ(s.dimms.size(), 1u);
  EXPECT_TRUE(s.dimms[0].boot);
  EXPECT_TRUE(s.dimms[0].present);
  EXPECT_EQ(s.dimms[0].addr, 0x100000000ull);
  EXPECT_EQ(s.boot_ram(), 1ull << 30);
  ASSERT_EQ(s.steps.size(), 1u);
  EXPECT_EQ(s.steps[0].action, StepAction::Unplug);
}

TEST(ScenarioFile, RejectsUnalignedDimmSize) {
  EXPECT_EQ(error_for("size = \"256M\"", "size = \"200M\""),
            "x.toml: dimm[0].size: 200M is not a multiple of the 128M memory block");
}

TEST(ScenarioFile, RejectsUnalignedDimmAddress) {
  EXPECT_EQ(error_for("addr = \"0x100000000\"", "addr = \"0x104000000\""),
            "x.toml: dimm[0].addr: 0x104000000 is not aligned to the 128M memory block");
}

TEST(ScenarioFile, RejectsDimmBeyondMaxmem) {
  EXPECT_EQ(error_for("addr = \"0x100000000\"", "addr = \"0x2c0000000\""),
            "x.toml: dimm[0].addr: 0x2c0000000+256M ends beyond maxmem: the device-memory window is [0x100000000, "
            "0x2c0000000)");
}

TEST(ScenarioFile, RejectsDimmBelowDeviceMemory) {
  EXPECT_EQ(error_for("addr = \"0x100000000\"", "addr = \"0x8000000\""),
            "x.toml: dimm[0].addr: 0x8000000 lies below the device-memory window, which starts at 0x100000000");
}

TEST(ScenarioFile, RejectsOverlappingDimms) {
  std::string text = std::string(kValid) + R"(
[[dimm]]
id = "b"
size = "256M"
node = 1
addr = "0x108000000"
)";
  try {
    parse_scenario(text, "x.toml");
    FAIL() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "x.toml: dimm[1].addr: DIMM 'b' overlaps DIMM 'a'");
  }
}

TEST(ScenarioFile, RejectsMoreDimmsThanSlots) {
  EXPECT_EQ(error_for("slots = 2", "slots = 0"), "x.toml: dimm: 1 DIMMs but machine.slots = 0");
}

TEST(ScenarioFile, RejectsUnknownKeysWithTheirPath) {
  EXPECT_EQ(error_for("boot = true", "boot = true\nbot = 1"), "x.toml: dimm[0].bot: unknown key");
  EXPECT_EQ(error_for("maxmem", "maxmen = \"1G\"\nmaxmem"), "x.toml: machine.maxmen: unknown key");
}

TEST(ScenarioFile, RejectsUnknownNodeAndDimmReferences) {
  EXPECT_EQ(error_for("node = 1", "node = 7"), "x.toml: dimm[0].node: node 7 is not declared");
  EXPECT_EQ(error_for("dimm = \"a\"", "dimm = \"zz\""), "x.toml: step[0].dimm: no DIMM 'zz' is declared");
}

TEST(ScenarioFile, RejectsBadValues) {
  EXPECT_EQ(error_for("expect = \"removed\"", "expect = \"gone\""),
            "x.toml: step[0].expect: 'gone' is not one of: removed, refused");
  EXPECT_EQ(error_for("maxmem = \"8G\"", "maxmem = \"lots\""),
            "x.toml: machine.maxmem: 'lots' is not a size (use e.g. 512M, 1G, 0x100000000)");
  EXPECT_EQ(
      error_for("action = \"unplug\"", "action = \"explode\""),
      "x.toml: step[0].action: unknown action 'explode' (plug, online, unplug, expect-node, expect-dimm, resize)");
}

TEST(ScenarioFile, RejectsStepsOutOfOrder) {
  EXPECT_EQ(error_for("boot = true", "boot = false"), "x.toml: step[0].dimm: DIMM 'a' is not plugged at this step");
}

TEST(ScenarioFile, ReportsMalformedTomlWithLine) {
  std::string msg = error_for("slots = 2", "slots = = 2");
  EXPECT_EQ(msg.rfind("x.toml:5:", 0), 0u) << msg;
  EXPECT_NE(msg.find("malformed TOML"), std::string::npos) << msg;
}

TEST(ScenarioFile, MissingFileIsAUsageError) { EXPECT_THROW(load_scenario_file("/nonexistent/x.toml"), UsageError); }

TEST(ScenarioFile, EveryShippedScenarioIsValid) {
  namespace fs = boost::filesystem;
  int n = 0;
  for (fs::directory_iterator it(RIG_SOURCE_DIR "/rig/scenarios"), end; it != end; ++it) {
    if (it->path().extension() != ".toml") continue;
    EXPECT_NO_THROW(load_scenario_file(it->path().string())) << it->path();
    ++n;
  }
  EXPECT_GE(n, 3);
}

TEST(ScenarioFile, CyclesMustLeaveDimmsAsTheyWere) {
  EXPECT_EQ(error_for("name = \"t\"", "name = \"t\"\ncycles = 3"),
            "x.toml: cycles: with cycles > 1 the steps must leave every DIMM as they found it (plug what they unplug)");
  EXPECT_EQ(error_for("name = \"t\"", "name = \"t\"\ncycles = 0"), "x.toml: cycles: must be between 1 and 1000");
}

namespace {
const char* kXfail = R"(
[[xfail]]
case = 4
check = "offline-skips-memmap"
kernel = "6.1."
pattern = "^memmap:[0-9]+ expected freed"
max_pages = 512
evidence = "docs/known-failures.md#case-4"
)";

std::string xfail_error(const std::string& from, const std::string& to) {
  std::string text = std::string(kValid) + kXfail;
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  try {
    parse_scenario(text, "x.toml");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}
}  // namespace

TEST(ScenarioFile, ParsesXfailEntries) {
  Scenario s = parse_scenario(std::string(kValid) + kXfail, "x.toml");
  ASSERT_EQ(s.xfails.size(), 1u);
  const ExpectedFailure& x = s.xfails[0];
  EXPECT_EQ(x.case_no, 4);
  EXPECT_EQ(x.check, "offline-skips-memmap");
  EXPECT_EQ(x.kernel, "6.1.");
  EXPECT_EQ(x.pattern, "^memmap:[0-9]+ expected freed");
  EXPECT_EQ(x.max_pages, 512u);
  EXPECT_EQ(x.evidence, "docs/known-failures.md#case-4");
}

TEST(ScenarioFile, XfailDefaults) {
  std::string text = std::string(kValid) + kXfail;
  text.erase(text.find("kernel = \"6.1.\"\n"), 16);
  text.erase(text.find("max_pages = 512\n"), 16);
  Scenario s = parse_scenario(text, "x.toml");
  EXPECT_EQ(s.xfails[0].kernel, "");
  EXPECT_EQ(s.xfails[0].max_pages, 1u);
}

TEST(ScenarioFile, RejectsLooseXfailEntries) {
  EXPECT_EQ(xfail_error("pattern = \"^memmap:[0-9]+ expected freed\"\n", ""),
            "x.toml: xfail[0].pattern: required key is missing");
  EXPECT_EQ(xfail_error("\"^memmap:[0-9]+ expected freed\"", "\"\""),
            "x.toml: xfail[0].pattern: must not be empty (it is what makes the entry narrow)");
  std::string bad = xfail_error("\"^memmap:[0-9]+ expected freed\"", "\"memmap:([0-9]\"");
  EXPECT_EQ(bad.rfind("x.toml: xfail[0].pattern: not a valid ECMAScript regex: ", 0), 0u) << bad;
  EXPECT_EQ(xfail_error("max_pages = 512", "max_pages = 0"), "x.toml: xfail[0].max_pages: must be at least 1");
  EXPECT_EQ(xfail_error("check = \"offline-skips-memmap\"\n", ""), "x.toml: xfail[0].check: required key is missing");
  EXPECT_EQ(xfail_error("case = 4\n", ""), "x.toml: xfail[0].case: required key is missing");
  EXPECT_EQ(xfail_error("evidence = \"docs/known-failures.md#case-4\"\n", ""),
            "x.toml: xfail[0].evidence: required key is missing");
  EXPECT_EQ(xfail_error("max_pages", "pages = 1\nmax_pages"), "x.toml: xfail[0].pages: unknown key");
}

TEST(ScenarioFile, ShippedKnownFailuresLoad) {
  std::vector<ExpectedFailure> xs;
  ASSERT_NO_THROW(xs = load_known_failures(RIG_SOURCE_DIR "/rig/known-failures.toml"));
  for (const auto& x : xs) {
    EXPECT_FALSE(x.pattern.empty()) << x.check;
    EXPECT_GE(x.max_pages, 1u) << x.check;
  }
}

TEST(ScenarioFile, NotExercisedNamesADeclaredCaseAndSaysWhy) {
  Scenario s = parse_scenario(
      std::string("cases = [1, 4]\n") + kValid + "[not_exercised]\n4 = \"the kernel has no such path\"\n", "x.toml");
  ASSERT_EQ(s.not_exercised.size(), 1u);
  EXPECT_EQ(s.not_exercised.at(4), "the kernel has no such path");
  EXPECT_NE(scenario_toml(s, "").find("[not_exercised]\n4 = "), std::string::npos);
  EXPECT_EQ(parse_scenario(scenario_toml(s, ""), "y.toml").not_exercised, s.not_exercised);
  auto err = [&](const std::string& cases, const std::string& table) {
    try {
      parse_scenario(cases + kValid + table, "x.toml");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(err("cases = [1]\n", "[not_exercised]\n4 = \"x\"\n").find("not_exercised.4: names no case"),
            std::string::npos);
  EXPECT_NE(err("cases = [4]\n", "[not_exercised]\n4 = \"\"\n").find("must say why"), std::string::npos);
}

// HVO remaps and frees the boot vmemmap of hugetlb pages: the page model does not follow it.
TEST(ScenarioFile, RejectsKernelArgsThatTurnOnHvo) {
  for (const char* arg : {"hugetlb_free_vmemmap=on", "hugetlb_free_vmemmap=1", "hugetlb_free_vmemmap"})
    EXPECT_NE(error_for("maxmem = \"8G\"", std::string("maxmem = \"8G\"\nkernel_args = [\"") + arg + "\"]")
                  .find("turns on the hugetlb vmemmap optimisation (HVO)"),
              std::string::npos)
        << arg;
  EXPECT_EQ(error_for("maxmem = \"8G\"", "maxmem = \"8G\"\nkernel_args = [\"hugetlb_free_vmemmap=off\"]"),
            "(accepted)");
}
