// The runner's resize step on a scripted FakeMachine with the probe answered from a recorded Debian
// 6.1 shrink (tests/data/virtio-mem): a grow reads nothing, a shrink is read before and after and
// judged page by page; a planted leak fails in the one shrink.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/filesystem.hpp>

#include "fake_machine.h"
#include "rig/run/scenario_runner.h"
#include "rig/scenario/scenario_file.h"
#include "test_data.h"

using namespace rig;
using namespace rig::testing;

namespace {

const char* kGrowShrink = R"(
name = "vm"
cases = [1, 2]
[machine]
maxmem = "8G"
slots = 4
kernel_args = ["memhp_default_state=online_movable"]
[[node]]
id = 0
cpus = "0-1"
memory = "1G"
[[node]]
id = 1
[[virtio_mem]]
id = "vm0"
node = 1
size = "1G"
[[step]]
action = "resize"
device = "vm0"
size = "512M"
expect = "reached"
[[step]]
action = "resize"
device = "vm0"
size = "0"
expect = "reached"
)";

const std::string kDir = "virtio-mem/6.1-shrink-512m-";

class VirtioMemRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("rig-vmem-%%%%-%%%%");
    opts_.artifacts_root = root_.string();
    opts_.timeouts.poll = 0.001;
    kernel_.name = "debian-6.1";
    kernel_.release = "6.1.0-57-amd64";
    kernel_.path = "/boot/vmlinuz-6.1.0-57-amd64";
    script_query(rig_test::data(kDir + "query-after-step1.txt"), rig_test::data(kDir + "frees-step1.txt"));
  }
  void TearDown() override { boost::filesystem::remove_all(root_); }
  void script_query(const std::string& query, const std::string& frees) {
    const std::string snapshot = rig_test::data(kDir + "snapshot-before-step1.txt");
    script_.exec = {
        {"== memory blocks", {exec_ok("== state\n")}},
        {"hugetlb_optimize_vmemmap",
         {exec_ok("sysctl 0\n/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:0\nend\n")}},
        {"cat /proc/zoneinfo", {exec_ok("")}},
        {"drivers/virtio_mem", {exec_ok()}},
        {"rig-probe snapshot", {exec_ok(snapshot)}},
        {"rig-probe query", {exec_ok(query)}},
        {"rig-probe frees setup", {exec_ok("tracing on\n")}},
        {"rig-probe frees start", {exec_ok("tracing on\n")}},
        {"rig-probe frees stop", {exec_ok(frees)}},
        {"/meminfo\"; done",
         {exec_ok("@0\nNode 0 MemTotal:  917024 kB\nNode 0 MemFree:  500000 kB\n@1\nNode 1 MemTotal:  524288 kB\n"
                  "Node 1 MemFree:  500000 kB\n"),
          exec_ok("@0\nNode 0 MemTotal:  917024 kB\nNode 0 MemFree:  500000 kB\n")}},
        {"== firmware",
         {exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-before.txt")),
          exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-after.txt"))}},
    };
  }
  ScenarioResult run(const std::string& more_steps = "") {
    log_ = std::make_shared<FakeLog>();
    MachineFactory factory = [&](const Scenario& sc, const std::string&) -> std::unique_ptr<Machine> {
      return std::make_unique<FakeMachine>(sc, script_, log_);
    };
    return run_scenario(parse_scenario(text_ + more_steps, "vm.toml"), kernel_, opts_, factory,
                        [&](const std::string& line) { progress_ += line + "\n"; });
  }
  const CheckRecord* find(const ScenarioResult& r, const std::string& name) {
    for (const auto& c : r.checks)
      if (c.name == name) return &c;
    return nullptr;
  }
  boost::filesystem::path root_;
  RunOptions opts_;
  KernelImage kernel_;
  FakeScript script_;
  std::shared_ptr<FakeLog> log_;
  std::string progress_;
  std::string text_ = kGrowShrink;
};

}  // namespace

TEST_F(VirtioMemRunner, AGrowReadsNothingAndAShrinkIsJudgedPageByPage) {
  const ScenarioResult r = run();
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason << "\n" << progress_;
  EXPECT_EQ(log_->count("resize:vm0"), 2u);
  // One snapshot at boot and one before the shrink: the grow reads none.
  EXPECT_EQ(log_->count("exec:rig-probe snapshot"), 2u) << progress_;
  EXPECT_EQ(log_->count("exec:rig-probe frees start"), 1u);
  for (const char* name :
       {"memmap-freed", "removed-memory-gone", "counters-memory-blocks", "counters-zones", "counters-iomem"}) {
    const CheckRecord* c = find(r, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->step, 1) << name;
    EXPECT_EQ(c->status, CheckStatus::Pass) << name << ": " << c->detail;
  }
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_NE(std::find(r.steps[1].analysis.begin(), r.steps[1].analysis.end(),
                      "vm0 unplugged 131072 pages; memory blocks removed: memory32, memory33, memory34, memory35"),
            r.steps[1].analysis.end())
      << progress_;
  EXPECT_EQ(r.virtio_mems.size(), 1u);
}

// The removed blocks' memmap still held and no free of it traced: the one shrink fails, with the
// pages named.
TEST_F(VirtioMemRunner, AMemmapTheShrinkNeverFreedFailsIt) {
  std::string query = rig_test::data(kDir + "query-after-step1.txt");
  const std::string head = "Q 17920 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none";
  query.replace(query.find(head), head.size(),
                "Q 17920 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other");
  std::string frees = rig_test::data(kDir + "frees-step1.txt");
  frees.replace(frees.find("freed 17920-19967\n"), 18, "freed 17921-19967\n");
  script_query(query, frees);
  const ScenarioResult r = run();
  EXPECT_EQ(r.verdict, Verdict::Fail) << progress_;
  const CheckRecord* c = find(r, "memmap-freed");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, CheckStatus::Fail);
  EXPECT_NE(c->detail.find("never freed"), std::string::npos) << c->detail;
  ASSERT_EQ(c->pages.size(), 1u);
  EXPECT_EQ(c->pages[0].pfn, 17920u);
}

// A shrink cut short (partial) is not judged, nor is the one that finishes it: the guest may still
// be unplugging while either's state would be read. Said as n/a, never a pass.
TEST_F(VirtioMemRunner, APartialShrinkAndTheOneAfterItAreNotJudged) {
  constexpr uint64_t M = 1ull << 20;
  ResizeOutcome grow, cut, rest;
  grow.requested = grow.after = 512 * M;
  cut.before = 512 * M;
  cut.after = 256 * M;
  cut.timed_out = true;
  rest.before = 256 * M;
  script_.resize["vm0"] = {grow, cut, rest};
  const std::string shrink = "size = \"0\"\nexpect = \"reached\"";
  text_.replace(text_.find(shrink), shrink.size(), "size = \"0\"\nexpect = \"partial\"");
  const ScenarioResult r = run("[[step]]\naction = \"resize\"\ndevice = \"vm0\"\nsize = \"0\"\nexpect = \"reached\"\n");
  ASSERT_EQ(r.steps.size(), 3u) << progress_;
  EXPECT_EQ(r.steps[1].outcome, "partial");
  EXPECT_NE(r.steps[1].detail.find("size 256M of the requested 0 (was 512M)"), std::string::npos) << r.steps[1].detail;
  EXPECT_EQ(r.steps[2].outcome, "reached");
  // Read at boot and before the partial shrink (which could not be known partial then), not
  // before the one that finishes it.
  EXPECT_EQ(log_->count("exec:rig-probe snapshot"), 2u);
  std::vector<const CheckRecord*> judged;
  for (const auto& c : r.checks)
    if (c.step >= 1) judged.push_back(&c);
  ASSERT_EQ(judged.size(), 2u) << progress_;
  for (const CheckRecord* c : judged) {
    EXPECT_EQ(c->name, "memmap-freed");
    EXPECT_EQ(c->status, CheckStatus::NotApplicable);
  }
  EXPECT_NE(judged[0]->detail.find("ended partial"), std::string::npos) << judged[0]->detail;
  EXPECT_NE(judged[1]->detail.find("before this one ended partial"), std::string::npos) << judged[1]->detail;
}

// A guest without the driver: the run ends at once with the reason, not after the step's time.
TEST_F(VirtioMemRunner, AGuestWithoutTheDriverIsAnErrorAtOnce) {
  script_.exec.insert(script_.exec.begin(), {"drivers/virtio_mem", {exec_exit(1)}});
  const ScenarioResult r = run();
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_NE(r.reason.find("this guest has no virtio_mem driver"), std::string::npos) << r.reason;
  EXPECT_EQ(log_->count("resize:"), 0u);
}

// QEMU's size can reach the request while the guest still takes a block down: the counters are
// read again until no block of the device is between states, and only then judged.
TEST_F(VirtioMemRunner, ABlockBetweenStatesIsReadAgainBeforeJudging) {
  std::string between = rig_test::data("counters/virtio-mem-6.1-shrink-before.txt");
  const std::string online = "memory35/state:online";
  between.replace(between.find(online), online.size(), "memory35/state:going-offline");
  for (auto& [key, answers] : script_.exec)
    if (key == "== firmware")
      answers = {exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-before.txt")), exec_ok(between),
                 exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-after.txt"))};
  const ScenarioResult r = run();
  EXPECT_EQ(r.verdict, Verdict::Pass) << r.reason << "\n" << progress_;
  EXPECT_NE(progress_.find("vm0's blocks are still changing in the guest: read again"), std::string::npos) << progress_;
}

// A grow that reaches its size after a partial shrink ends the "unfinished" state: the next
// shrink is judged again (it was skipped forever before).
TEST_F(VirtioMemRunner, AGrowAfterAPartialShrinkLetsTheNextShrinkBeJudged) {
  constexpr uint64_t M = 1ull << 20;
  ResizeOutcome grow, cut, regrow, shrink;
  grow.requested = grow.after = 512 * M;
  cut.before = 512 * M;
  cut.after = 256 * M;
  cut.timed_out = true;
  regrow.before = 256 * M;
  regrow.requested = regrow.after = 512 * M;
  shrink.before = 512 * M;
  script_.resize["vm0"] = {grow, cut, regrow, shrink};
  // The counters are read before the partial shrink and before the last one, then after it.
  for (auto& [key, answers] : script_.exec)
    if (key == "== firmware")
      answers = {exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-before.txt")),
                 exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-before.txt")),
                 exec_ok(rig_test::data("counters/virtio-mem-6.1-shrink-after.txt"))};
  const std::string shrink_step = "size = \"0\"\nexpect = \"reached\"";
  text_.replace(text_.find(shrink_step), shrink_step.size(), "size = \"0\"\nexpect = \"partial\"");
  const ScenarioResult r =
      run("[[step]]\naction = \"resize\"\ndevice = \"vm0\"\nsize = \"512M\"\nexpect = \"reached\"\n"
          "[[step]]\naction = \"resize\"\ndevice = \"vm0\"\nsize = \"0\"\nexpect = \"reached\"\n");
  ASSERT_EQ(r.steps.size(), 4u) << r.reason << "\n" << progress_;
  const CheckRecord* judged = nullptr;
  for (const auto& c : r.checks)
    if (c.step == 3 && c.name == "memmap-freed") judged = &c;
  ASSERT_NE(judged, nullptr) << progress_;
  EXPECT_EQ(judged->status, CheckStatus::Pass) << judged->detail;
}
