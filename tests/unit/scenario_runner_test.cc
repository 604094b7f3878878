// run_scenario on a scripted FakeMachine: step semantics, teardown and verdicts without a guest.
#include "rig/report/results_report.h"
#include "rig/run/scenario_runner.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_data.h"

#include <algorithm>

#include <boost/filesystem.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "fake_machine.h"
#include "rig/scenario/scenario_file.h"

using namespace rig;
using namespace rig::testing;

namespace {

const char* kTwoDimms = R"(
name = "fake"
[machine]
maxmem = "8G"
slots = 4
[[node]]
id = 0
cpus = "0-1"
memory = "1G"
[[node]]
id = 1
[[dimm]]
id = "dimm1"
size = "512M"
node = 1
addr = "0x100000000"
boot = true
[[dimm]]
id = "hot2"
size = "256M"
node = 1
addr = "0x120000000"
)";

using rig_test::data;

class Runner : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("rig-runner-%%%%-%%%%");
    opts_.artifacts_root = root_.string();
    opts_.timeouts.poll = 0.001;
    opts_.timeouts.cycle_settle = 0.01;
    kernel_.name = "debian-6.1";
    kernel_.release = "6.1.0-41-amd64";
    kernel_.path = "/boot/vmlinuz-6.1.0-41-amd64";
  }
  void TearDown() override { boost::filesystem::remove_all(root_); }

  Scenario scenario(const std::string& extra) { return parse_scenario(std::string(kTwoDimms) + extra, "fake.toml"); }

  ScenarioResult run(const Scenario& s) {
    log_ = std::make_shared<FakeLog>();
    MachineFactory factory = [&](const Scenario& sc, const std::string& run_dir) -> std::unique_ptr<Machine> {
      run_dir_ = run_dir;
      if (before_start_) before_start_(run_dir);
      return std::make_unique<FakeMachine>(sc, script_, log_);
    };
    return run_scenario(s, kernel_, opts_, factory, [&](const std::string& line) { progress_ += line + "\n"; });
  }

  boost::filesystem::path root_;
  RunOptions opts_;
  KernelImage kernel_;
  FakeScript script_;
  std::shared_ptr<FakeLog> log_;
  std::string run_dir_, progress_;
  std::function<void(const std::string&)> before_start_;
};

const char* kUnplugRemoved = R"(
[[step]]
action = "unplug"
dimm = "dimm1"
expect = "removed"
)";

const char* kUnplugRefused = R"(
[[step]]
action = "unplug"
dimm = "dimm1"
expect = "refused"
)";

const char* kExpectDimmAbsent = R"(
[[step]]
action = "expect-dimm"
dimm = "dimm1"
expect = "absent"
)";

UnplugOutcome unplug(UnplugResult r, std::string detail) {
  UnplugOutcome u;
  u.result = r;
  u.detail = std::move(detail);
  return u;
}

}  // namespace

TEST_F(Runner, UnplugRemovedAsExpectedPasses) {
  ScenarioResult r = run(scenario(std::string(kUnplugRemoved) + kExpectDimmAbsent));
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason;
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].outcome, "removed");
  EXPECT_TRUE(r.steps[0].ok);
  EXPECT_EQ(r.steps[1].outcome, "absent");
  EXPECT_TRUE(log_->shut_down);
  EXPECT_EQ(r.accel, "tcg");
  EXPECT_TRUE(boost::filesystem::exists(r.artifacts + "/result.json"));
  // The topology goes into the result, for the HTML report's DIMM brackets.
  ASSERT_FALSE(r.dimms.empty());
  EXPECT_EQ(result_to_json(r)["topology"]["dimms"][0]["id"], r.dimms[0].id);
  EXPECT_FALSE(r.nodes.empty());
  EXPECT_TRUE(r.checks.empty()) << "no cases: no probe";
  EXPECT_EQ(log_->count("exec:"), 0u) << "a scenario without cases never asks for the probe";
  // When it started, for KCIDB's start_time: UTC, ISO 8601, and it survives results.json.
  EXPECT_TRUE(
      std::regex_match(r.started, std::regex("20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z")))
      << r.started;
  EXPECT_EQ(result_from_json(result_to_json(r)).started, r.started);
}

// The backend's save result is typed: a saved guest's state file is the result's snapshot, a
// failed save is a note, and nothing to do records nothing.
TEST_F(Runner, TheSaveOutcomeIsRecordedAsIs) {
  const Scenario s = scenario(std::string(kUnplugRemoved) + kExpectDimmAbsent);
  auto has_save_phase = [](const ScenarioResult& r) {
    return std::any_of(r.phases.begin(), r.phases.end(), [](const auto& p) { return p.name == "save"; });
  };
  ScenarioResult r = run(s);
  EXPECT_EQ(log_->count("save"), 1u);
  EXPECT_EQ(r.snapshot, "");
  EXPECT_EQ(r.snapshot_note, "");
  EXPECT_FALSE(has_save_phase(r));

  script_.save.kind = SaveOutcome::Kind::Saved;
  script_.save.dir = "/cache/abc";
  script_.save.state_file = "/cache/abc/state.mig";
  r = run(s);
  EXPECT_EQ(r.snapshot, "/cache/abc/state.mig");
  EXPECT_TRUE(has_save_phase(r));
  EXPECT_NE(progress_.find("snapshot saved /cache/abc"), std::string::npos) << progress_;

  script_.save = SaveOutcome{};
  script_.save.kind = SaveOutcome::Kind::NotSaved;
  script_.save.reason = "migration failed: disk full";
  r = run(s);
  EXPECT_EQ(r.snapshot, "");
  EXPECT_EQ(r.snapshot_note, "not saved: migration failed: disk full");
  EXPECT_TRUE(has_save_phase(r));
}

TEST_F(Runner, UnplugRefusedWhenRemovalExpectedFails) {
  script_.unplug["dimm1"] = unplug(UnplugResult::Refused, "_OST 0x82 (device busy)");
  ScenarioResult r = run(scenario(std::string(kUnplugRemoved) + kExpectDimmAbsent));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.reason,
            "step 0 unplug dimm1: expected removed, got refused: _OST 0x82 (device busy); QEMU still lists the DIMM");
  EXPECT_EQ(r.steps.size(), 1u) << "a mismatch stops later steps";
  EXPECT_EQ(log_->count("memory_devices"), 1u) << "the expect-dimm step did not run";
}

TEST_F(Runner, UnplugRefusedAsExpectedPasses) {
  script_.unplug["dimm1"] = unplug(UnplugResult::Refused, "_OST 0x82 (device busy)");
  ScenarioResult r = run(scenario(kUnplugRefused));
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason;
  EXPECT_EQ(r.steps[0].detail, "_OST 0x82 (device busy); QEMU still lists the DIMM");
}

TEST_F(Runner, UnplugTimeoutIsAMismatch) {
  script_.unplug["dimm1"] = unplug(UnplugResult::Timeout, "no DEVICE_DELETED within 120 s");
  ScenarioResult r = run(scenario(kUnplugRemoved));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.steps[0].outcome, "timeout");
  EXPECT_FALSE(r.steps[0].ok);
}

TEST_F(Runner, RemovedButStillListedByQemuIsAMismatch) {
  script_.qemu_keeps.insert("dimm1");
  ScenarioResult r = run(scenario(kUnplugRemoved));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.steps[0].outcome, "removed");
  EXPECT_NE(r.reason.find("but QEMU still lists the DIMM"), std::string::npos) << r.reason;
}

TEST_F(Runner, MismatchStopsEveryLaterStepAndCycle) {
  script_.plug["hot2"] = PlugOutcome{false, 0x1, "_OST failure"};
  ScenarioResult r = run(scenario(R"(
[[step]]
action = "plug"
dimm = "hot2"
[[step]]
action = "unplug"
dimm = "hot2"
expect = "removed"
)"));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_EQ(r.steps[0].outcome, "not-added");
  EXPECT_EQ(log_->count("unplug:"), 0u);
}

TEST_F(Runner, CrashAfterBootFails) {
  script_.down_at["unplug:dimm1"] = GuestDown::Kind::Crashed;
  ScenarioResult r = run(scenario(std::string(kUnplugRemoved) + kExpectDimmAbsent));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.reason, "fake guest down at unplug:dimm1");
  EXPECT_TRUE(log_->shut_down) << "teardown after a crash";
}

TEST_F(Runner, CrashBeforeBootIsAnError) {
  script_.down_at["start"] = GuestDown::Kind::Crashed;
  ScenarioResult r = run(scenario(kUnplugRemoved));
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_EQ(r.reason, "guest did not boot: fake guest down at start");
  EXPECT_TRUE(r.steps.empty());
  EXPECT_TRUE(log_->shut_down);
}

TEST_F(Runner, HangAfterBootIsAnError) {
  script_.down_at["unplug:dimm1"] = GuestDown::Kind::Hung;
  EXPECT_EQ(run(scenario(kUnplugRemoved)).verdict, Verdict::Error);
}

TEST_F(Runner, ConsoleBugDuringTheStepsFailsWithItsHeadline) {
  script_.console_at["unplug:dimm1"] =
      "[   12.5] Offlined Pages 131072\n[   12.6] BUG: Bad page state in process kworker/u4:1  pfn:100000\n";
  ScenarioResult r = run(scenario(kUnplugRemoved));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.reason,
            "kernel reported bad-page-state (console line 2): BUG: Bad page state in process kworker/u4:1  pfn:100000");
  ASSERT_EQ(r.console_findings.size(), 1u);
  EXPECT_TRUE(r.steps[0].ok) << "the step itself went as expected";
}

TEST_F(Runner, ShutdownFailureIsAnError) {
  script_.shutdown_error = "QEMU did not exit";
  ScenarioResult r = run(scenario(kUnplugRemoved));
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_EQ(r.reason, "teardown: QEMU did not exit");
}

TEST_F(Runner, ExpectNodeReadsTheGuestAndAFailedCommandIsAnError) {
  const std::string steps = R"(
[[step]]
action = "expect-node"
node = 1
expect = "absent"
)";
  script_.exec = {{"test -d /sys/devices/system/node/node1", {exec_exit(1)}}, {"node/online", {exec_ok("0\n")}}};
  ScenarioResult r = run(scenario(steps));
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason;
  EXPECT_EQ(r.steps[0].target, "node1");
  EXPECT_EQ(r.steps[0].detail, "online nodes: 0");

  script_.exec = {{"test -d", {exec_exit(126, "sh: permission denied")}}};
  r = run(scenario(steps));
  EXPECT_EQ(r.verdict, Verdict::Error) << "an exit that is not a yes or a no is no answer";
  EXPECT_NE(r.reason.find("exit 126"), std::string::npos) << r.reason;
}

TEST_F(Runner, OnlineWaitsForTheBlocksThenOnlinesThem) {
  script_.files["/sys/devices/system/memory/block_size_bytes"] = "8000000\n";
  script_.exec = {
      {"cd /sys/devices/system/memory", {exec_exit(1), exec_exit(1), exec_ok("memory36 online zones=Movable\n")}}};
  ScenarioResult r = run(scenario(R"(
[[step]]
action = "plug"
dimm = "hot2"
[[step]]
action = "online"
dimm = "hot2"
zone = "online_movable"
)"));
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason;
  EXPECT_EQ(r.steps[1].outcome, "online");
  EXPECT_EQ(log_->count("exec:cd /sys/devices/system/memory"), 3u);
  EXPECT_EQ(r.steps[1].detail, "memory36 online zones=Movable");
}

TEST_F(Runner, OnlineBlocksThatNeverAppearAreAMismatch) {
  script_.files["/sys/devices/system/memory/block_size_bytes"] = "8000000\n";
  script_.exec = {{"cd /sys/devices/system/memory", {exec_exit(1)}}};
  ScenarioResult r = run(scenario(R"(
[[step]]
action = "plug"
dimm = "hot2"
[[step]]
action = "online"
dimm = "hot2"
zone = "online_movable"
timeout = 0.05
)"));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(r.steps[1].outcome, "blocks-missing");
  EXPECT_EQ(r.steps[1].detail, "memory blocks 36 37 did not appear in the guest");
}

// The HVO check's answer of a guest without hugetlb pages (Debian 6.1's sizes).
const char* kNoHvo =
    "sysctl 0\n/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages:0\n"
    "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:0\nend\n";

// A spec scenario with the probe answered from recorded output of a Debian 6.1 guest
// (tests/data/probe): the removal of the 512M boot DIMM on node 1 under movable_node.
class SpecRunner : public Runner {
 protected:
  void SetUp() override {
    Runner::SetUp();
    script_probe(data("probe/movable-6.1-after.txt"), 918560);
  }
  void script_probe(const std::string& after, uint64_t node0_after_kb) {
    const std::string before_mem =
        "@0\nNode 0 MemTotal:  910364 kB\nNode 0 MemFree:  500000 kB\n@1\nNode 1 MemTotal:  524288 kB\n"
        "Node 1 MemFree:  500000 kB\n";
    const std::string after_mem =
        fmt::format("@0\nNode 0 MemTotal:  {} kB\nNode 0 MemFree:  500000 kB\n", node0_after_kb);
    script_.exec = {
        {"== memory blocks", {exec_ok("== state\n")}},
        {"rig-probe snapshot", {exec_ok(data("probe/movable-6.1-before.txt"))}},
        {"hugetlb_optimize_vmemmap", {exec_ok(kNoHvo)}},
        {"rig-probe query", {exec_ok(after)}},
        {"/meminfo\"; done", {exec_ok(before_mem), exec_ok(after_mem)}},
        {"cat /proc/zoneinfo", {exec_ok("")}},
        // The counters around the removal (spec/guest_counters.h), recorded on the same layout.
        {"== firmware",
         {exec_ok(data("counters/movable-6.1-before.txt")), exec_ok(data("counters/movable-6.1-after.txt"))}},
    };
  }
  Scenario spec(const std::string& xfails = "") {
    return scenario("cases = [1, 5]\n" + std::string(kUnplugRemoved) + xfails);
  }
  // parse_scenario wants top-level keys before the tables.
  Scenario scenario(const std::string& extra) {
    std::string top, rest = extra;
    if (extra.rfind("cases", 0) == 0) {
      top = extra.substr(0, extra.find('\n') + 1);
      rest = extra.substr(top.size());
    }
    std::string text = kTwoDimms;
    text.insert(text.find("[machine]"), top);
    return parse_scenario(text + rest, "fake.toml");
  }
  const CheckRecord* find(const ScenarioResult& r, const std::string& name) {
    for (const auto& c : r.checks)
      if (c.name == name) return &c;
    return nullptr;
  }
};

TEST_F(SpecRunner, RecordedRemovalPassesWithEveryCheckJudged) {
  ScenarioResult r = run(spec());
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason << "\n" << progress_;
  ASSERT_FALSE(r.checks.empty());
  for (const auto& c : r.checks) {
    EXPECT_TRUE(c.status == CheckStatus::Pass || c.status == CheckStatus::NotApplicable) << c.name << ": " << c.detail;
    EXPECT_EQ(c.status == CheckStatus::NotApplicable, !c.applicable) << c.name;
  }
  EXPECT_NE(std::find(r.cases_covered.begin(), r.cases_covered.end(), 1), r.cases_covered.end());
  for (int c : r.cases_not_applicable)
    EXPECT_EQ(std::find(r.cases_covered.begin(), r.cases_covered.end(), c), r.cases_covered.end()) << c;
  for (const char* f : {"snapshot-boot.txt", "snapshot-before-step0.txt", "query-after-step0.txt",
                        "guest-state-before-step0.txt", "guest-state-after-step0.txt", "result.json"})
    EXPECT_TRUE(boost::filesystem::exists(r.artifacts + "/" + f)) << f;
}

TEST_F(SpecRunner, PlantedLeakFailsAndANarrowEntryMakesItXfail) {
  // Section 33's memmap block stays tagged after the removal: memmap-freed names its 512 pages
  // and node 0's MemTotal is short by as many.
  std::string after = data("probe/movable-6.1-after.txt");
  const std::string from = "Q 255488 512 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0";
  ASSERT_NE(after.find(from), std::string::npos);
  after.replace(after.find(from), from.size(),
                "Q 255488 512 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=1 type=12 info=33");
  script_probe(after, 918560 - 2048);

  ScenarioResult r = run(spec());
  ASSERT_EQ(r.verdict, Verdict::Fail) << progress_;
  const CheckRecord* leak = find(r, "memmap-freed");
  ASSERT_NE(leak, nullptr);
  EXPECT_EQ(leak->status, CheckStatus::Fail);
  EXPECT_EQ(leak->pages.size(), 512u);
  EXPECT_EQ(leak->pages.front().roles, "memmap:33");
  const int leak_case = leak->case_no;
  const CheckRecord* mem = find(r, "memtotal-node-0");
  ASSERT_NE(mem, nullptr);
  ASSERT_EQ(mem->status, CheckStatus::Fail);
  const int mem_case = mem->case_no;

  const std::string entries = fmt::format(R"(
[[xfail]]
case = {}
check = "memmap-freed"
kernel = "6.1."
pattern = "^memmap:33 expected freed"
max_pages = 512
evidence = "docs/known-failures.md#planted"
[[xfail]]
case = {}
check = "memtotal-node-0"
pattern = "short by 512 pages"
evidence = "docs/known-failures.md#planted"
)",
                                          leak_case, mem_case);
  r = run(spec(entries));
  EXPECT_EQ(r.verdict, Verdict::XFail) << r.reason;
  EXPECT_EQ(find(r, "memmap-freed")->status, CheckStatus::XFail);
  EXPECT_EQ(find(r, "memmap-freed")->evidence, "docs/known-failures.md#planted");
  EXPECT_TRUE(r.xpass.empty());

  // One page too many for the entry: the failure is not the known one.
  r = run(spec(std::string(entries).replace(entries.find("max_pages = 512"), 15, "max_pages = 511")));
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_EQ(find(r, "memmap-freed")->status, CheckStatus::Fail);

  // The same entries on the clean recording: memtotal-node-0 passed, its entry is stale. This
  // recording is probe format 1, which cannot show a page freed: memmap-freed judged nothing
  // (n/a), so its entry is neither xfail nor xpass.
  script_probe(data("probe/movable-6.1-after.txt"), 918560);
  r = run(spec(entries));
  EXPECT_EQ(r.verdict, Verdict::XPass) << r.reason;
  ASSERT_EQ(r.xpass.size(), 1u);
  EXPECT_EQ(r.xpass[0].check, "memtotal-node-0");
  EXPECT_EQ(find(r, "memmap-freed")->status, CheckStatus::NotApplicable);
}

TEST_F(SpecRunner, AnArtifactThatCannotBeWrittenIsAnError) {
  before_start_ = [](const std::string& run_dir) {
    boost::filesystem::create_directories(run_dir + "/snapshot-boot.txt");
  };
  ScenarioResult r = run(spec());
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_NE(r.reason.find("snapshot-boot.txt"), std::string::npos) << r.reason;
}

TEST_F(SpecRunner, ProbeMissingIsAnError) {
  script_.exec = {
      {"rig-probe snapshot", {exec_exit(1, "rig-probe: no BTF at /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)")}}};
  ScenarioResult r = run(spec());
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_NE(r.reason.find("the probe failed in the guest (exit 1): rig-probe: no BTF"), std::string::npos) << r.reason;
}

TEST_F(Runner, CyclesTakeABaselineBeforeTheFirstCycle) {
  script_.files["/sys/devices/system/memory/block_size_bytes"] = "8000000\n";
  const std::string mem = "@0\nNode 0 MemTotal:  910364 kB\nNode 0 MemFree:  500000 kB\n";
  script_.exec = {{"cd /sys/devices/system/memory", {exec_ok("memory36 online zones=Movable\n")}},
                  {"/meminfo\"; done", {exec_ok(mem)}},
                  {"cat /proc/zoneinfo", {exec_ok("")}}};
  Scenario s = parse_scenario(std::string("cycles = 3\n") + kTwoDimms + R"(
[[step]]
action = "plug"
dimm = "hot2"
[[step]]
action = "online"
dimm = "hot2"
zone = "online_movable"
[[step]]
action = "unplug"
dimm = "hot2"
expect = "removed"
)",
                              "fake.toml");
  ScenarioResult r = run(s);
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason;
  EXPECT_EQ(r.steps.size(), 9u);
  EXPECT_EQ(log_->count("exec:for d in /sys/devices/system/node"), 4u) << "a baseline and one read per cycle";
  // The baseline comes before the first plug.
  size_t first_meminfo = 0, first_plug = 0;
  for (size_t i = 0; i < log_->calls.size(); ++i) {
    if (!first_meminfo && log_->calls[i].rfind("exec:for d in /sys/devices/system/node", 0) == 0) first_meminfo = i + 1;
    if (!first_plug && log_->calls[i] == "plug:hot2") first_plug = i + 1;
  }
  EXPECT_LT(first_meminfo, first_plug);
  EXPECT_FALSE(r.checks.empty()) << "cycle checks";
  for (const auto& c : r.checks) EXPECT_NE(c.status, CheckStatus::Fail) << c.name << ": " << c.detail;
}

// The step's free trace is read only when this step started it: after a start that failed, the
// empty buffer would read as a complete trace without frees and every page held again would fail
// as never freed.
TEST_F(SpecRunner, AFreeTraceIsReadOnlyWhenTheStepStartedIt) {
  auto script_trace = [&](const GuestExecResult& start) {
    script_probe(data("probe/movable-6.1-after.txt"), 918560);
    script_.exec.push_back({"rig-probe frees setup", {exec_ok("tracing on\n")}});
    script_.exec.push_back({"rig-probe frees start", {start}});
    script_.exec.push_back({"rig-probe frees stop", {exec_ok("rig-frees 1\ntracing on\nevents 0\nlost 0\nend\n")}});
  };
  script_trace(exec_exit(1, "rig-probe: cannot turn tracing on"));
  run(spec());
  EXPECT_EQ(log_->count("exec:rig-probe frees start"), 1u);
  EXPECT_EQ(log_->count("exec:rig-probe frees stop"), 0u) << "a trace the step did not start is no evidence";
  script_trace(exec_ok("tracing on\n"));
  run(spec());  // a new machine and log
  EXPECT_EQ(log_->count("exec:rig-probe frees start"), 1u);
  EXPECT_EQ(log_->count("exec:rig-probe frees stop"), 1u);
}

// The HVO guard fails closed: a check that cannot run or be read is an error, as is HVO in effect
// with hugetlb pages of a size other than the default, at boot or before an unplug.
TEST_F(SpecRunner, HvoIsRefusedAndACheckThatCannotTellIsAnError) {
  auto answer = [&](const GuestExecResult& boot, const GuestExecResult& later) {
    script_probe(data("probe/movable-6.1-after.txt"), 918560);
    for (auto& [key, answers] : script_.exec)
      if (key == "hugetlb_optimize_vmemmap") answers = {boot, later};
    return run(spec());
  };
  ScenarioResult r = answer(exec_exit(1, "sh: cannot fork"), exec_ok(kNoHvo));
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_NE(r.reason.find("cannot tell whether this guest optimises the vmemmap of its hugetlb pages (HVO), which the "
                          "page accounting does not model: the check failed (exit 1): sh: cannot fork"),
            std::string::npos)
      << r.reason;
  r = answer(exec_ok("sysctl 1\n"), exec_ok(kNoHvo));
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_NE(r.reason.find("HVO check: incomplete answer"), std::string::npos) << r.reason;
  const std::string gigantic =
      "sysctl 1\n/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages:1\n"
      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:0\nend\n";
  r = answer(exec_ok(gigantic), exec_ok(kNoHvo));
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_NE(r.reason.find("this guest optimises the vmemmap of its hugetlb pages"), std::string::npos) << r.reason;
  // Hugetlb pages that came after boot: refused before the unplug, nothing judged.
  r = answer(exec_ok(kNoHvo), exec_ok(gigantic));
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_EQ(log_->count("unplug:"), 0u);
  r = answer(exec_ok(kNoHvo), exec_ok(kNoHvo));
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason;
}

// A plug step reads the counters before and, once the guest lists every block of the DIMM, after
// (recorded on Debian 6.1: hotplug-then-unplug's 256 MiB DIMM at 4 GiB); blocks that never come
// fail counters-memory-blocks within the step's time.
TEST_F(SpecRunner, APlugWaitsForItsBlocksAndJudgesTheCounters) {
  const std::string before = data("counters/hotplug-6.1-plug-before.txt"),
                    after = data("counters/hotplug-6.1-plug-after.txt");
  std::string late = after;
  late.erase(late.find("memory33/state:offline\n"), 23);
  auto plug_with = [&](std::vector<GuestExecResult> counters, double timeout) {
    script_probe(data("probe/movable-6.1-after.txt"), 918560);
    for (auto& [key, answers] : script_.exec)
      if (key == "== firmware") answers = std::move(counters);
    // kTwoDimms with its boot DIMM replaced by the recording's hot one.
    std::string text = kTwoDimms;
    const std::string boot = "id = \"dimm1\"\nsize = \"512M\"\nnode = 1\naddr = \"0x100000000\"\nboot = true\n";
    text.replace(text.find(boot), boot.size(), "id = \"hot1\"\nsize = \"256M\"\nnode = 1\naddr = \"0x100000000\"\n");
    text.insert(text.find("[machine]"), "cases = [1]\n");
    text += fmt::format("[[step]]\naction = \"plug\"\ndimm = \"hot1\"\ntimeout = {}\n", timeout);
    Scenario s = parse_scenario(text, "fake.toml");
    return run(s);
  };
  ScenarioResult r = plug_with({exec_ok(before), exec_ok(late), exec_ok(late), exec_ok(after)}, 30);
  EXPECT_EQ(log_->count("exec:echo '== meminfo'"), 4u) << "before, then after until both blocks are listed";
  for (const char* name : {"counters-meminfo", "counters-memory-blocks", "counters-zones", "counters-node-states",
                           "counters-firmware-memmap", "counters-iomem"}) {
    const CheckRecord* c = find(r, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->status, CheckStatus::Pass) << name << ": " << c->detail;
    EXPECT_EQ(c->step, 0) << name;
  }
  EXPECT_TRUE(boost::filesystem::exists(r.artifacts + "/counters-before-step0.txt"));
  std::ifstream kept(r.artifacts + "/counters-after-step0.txt");
  std::stringstream text;
  text << kept.rdbuf();
  EXPECT_NE(text.str().find("memory33/state:offline"), std::string::npos) << "the reading judged is kept";

  r = plug_with({exec_ok(before), exec_ok(late)}, 0.05);
  EXPECT_EQ(r.verdict, Verdict::Fail);
  const CheckRecord* blocks = find(r, "counters-memory-blocks");
  ASSERT_NE(blocks, nullptr);
  EXPECT_EQ(blocks->status, CheckStatus::Fail);
  EXPECT_NE(blocks->detail.find("memory33 of the plugged range never appeared (waited 0.1 s)"), std::string::npos)
      << blocks->detail;
}
