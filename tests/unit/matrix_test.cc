// The matrix runner's pure parts: plan, shards, repeats and flaky, the host budget; the snapshot
// cache on a scratch directory; the progress board's two modes.
#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "rig/base/errors.h"
#include "rig/scenario/matrix.h"
#include "rig/run/progress_board.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/report/results_report.h"
#include "rig/host/snapshot_cache.h"
#include "test_data.h"

using namespace rig;

namespace {

const std::vector<std::string> kScenarios = {"b-scn", "a-scn", "c-scn", "d-scn", "e-scn"};
const std::vector<std::string> kKernels = {"debian-6.1", "debian-6.12"};

std::set<std::tuple<size_t, size_t, int>> as_set(const std::vector<MatrixItem>& items) {
  std::set<std::tuple<size_t, size_t, int>> out;
  for (const auto& i : items) out.insert({i.scenario, i.kernel, i.run});
  return out;
}

ScenarioResult result(const std::string& scenario, const std::string& kernel, Verdict v, int run = 1) {
  ScenarioResult r;
  r.scenario = scenario;
  r.kernel = kernel;
  r.verdict = v;
  r.run = run;
  return r;
}

}  // namespace

TEST(Matrix, ParseShard) {
  EXPECT_EQ(parse_shard("1/2").index, 1);
  EXPECT_EQ(parse_shard("2/2").count, 2);
  for (const char* bad : {"", "0/2", "3/2", "1/0", "a/b", "1", "1/", "/2", "-1/2", "1/2/3", "99999999/1"})
    EXPECT_THROW(parse_shard(bad), UsageError) << bad;
}

TEST(Matrix, FullPlanIsEveryPairEveryRunKernelByKernel) {
  auto items = plan_matrix(kScenarios, kKernels, 3, {});
  EXPECT_EQ(items.size(), kScenarios.size() * kKernels.size() * 3);
  EXPECT_EQ(items.front().kernel, 0u);
  EXPECT_EQ(items.back().kernel, 1u);
  // The runs of one pair are next to each other.
  EXPECT_EQ(items[0].run, 1);
  EXPECT_EQ(items[1].run, 2);
  EXPECT_EQ(items[1].scenario, items[0].scenario);
}

TEST(Matrix, ShardsAreDisjointAndTheirUnionIsTheMatrix) {
  for (int n = 1; n <= 4; ++n) {
    std::set<std::tuple<size_t, size_t, int>> all;
    size_t total = 0;
    for (int i = 1; i <= n; ++i) {
      auto part = as_set(plan_matrix(kScenarios, kKernels, 2, {i, n}));
      total += part.size();
      all.insert(part.begin(), part.end());
      // Every run of a pair stays in one shard (flaky needs them together).
      for (const auto& [s, k, r] : part) EXPECT_TRUE(part.count({s, k, r == 1 ? 2 : 1}));
    }
    EXPECT_EQ(total, all.size()) << "shards overlap for N=" << n;
    EXPECT_EQ(all, as_set(plan_matrix(kScenarios, kKernels, 2, {}))) << "N=" << n;
  }
}

TEST(Matrix, ShardsDoNotDependOnTheOrderScenariosAreNamed) {
  std::vector<std::string> reordered(kScenarios.rbegin(), kScenarios.rend());
  auto names = [](const std::vector<MatrixItem>& items, const std::vector<std::string>& scn) {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& i : items) out.insert({scn[i.scenario], kKernels[i.kernel]});
    return out;
  };
  EXPECT_EQ(names(plan_matrix(kScenarios, kKernels, 1, {1, 3}), kScenarios),
            names(plan_matrix(reordered, kKernels, 1, {1, 3}), reordered));
}

TEST(Matrix, HostBudget) {
  const HostBudget two_cores = host_budget(2, 10ull << 30, 0);
  const GuestCost smp2{2, 1ull << 30}, smp1{1, 1ull << 30};
  EXPECT_TRUE(fits(two_cores, {}, smp2));
  EXPECT_FALSE(fits(two_cores, {smp2}, smp2));  // vCPUs count against the cores
  EXPECT_TRUE(fits(two_cores, {smp1}, smp1));
  EXPECT_EQ(default_jobs(two_cores, smp1), 2);
  EXPECT_EQ(default_jobs(two_cores, smp2), 1);
  // -j 2 overrides the cores, never the memory.
  const HostBudget j2 = host_budget(2, 10ull << 30, 2);
  EXPECT_TRUE(fits(j2, {smp2}, smp2));
  EXPECT_FALSE(fits(j2, {smp2, smp2}, smp2));
  EXPECT_FALSE(fits(host_budget(2, 2ull << 30, 2), {smp2}, smp2));
  // A guest bigger than the host still runs, alone.
  EXPECT_TRUE(fits(host_budget(1, 1ull << 20, 0), {}, GuestCost{8, 64ull << 30}));
}

TEST(Matrix, GuestCostCountsVcpusBootRamAndDimms) {
  Scenario s;
  s.machine.smp = 2;
  s.nodes.push_back({0, "0-1", 1ull << 30});
  Dimm d;
  d.size = 512ull << 20;
  s.dimms.push_back(d);
  GuestCost c = guest_cost(s);
  EXPECT_EQ(c.vcpus, 2);
  EXPECT_EQ(c.ram, (1ull << 30) + (512ull << 20) + (256ull << 20));
}

TEST(Matrix, RepeatedRunsAddUpAndDisagreementIsFlaky) {
  std::vector<ScenarioResult> rs = {result("a", "6.1", Verdict::Pass, 1),  result("a", "6.1", Verdict::Fail, 2),
                                    result("a", "6.1", Verdict::Pass, 3),  result("b", "6.1", Verdict::XFail, 1),
                                    result("b", "6.1", Verdict::Pass, 2),  result("c", "6.1", Verdict::Fail, 1),
                                    result("c", "6.1", Verdict::Error, 2), result("a", "6.12", Verdict::Pass)};
  auto rows = matrix_rows(rs);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].verdict, "flaky");
  EXPECT_EQ(rows[0].runs, 3);
  EXPECT_EQ(rows[0].passed, 2);
  EXPECT_EQ(rows[1].verdict, "xfail");  // xfail and pass both pass: the more telling one
  EXPECT_EQ(rows[2].verdict, "error");  // never passed: not flaky, the worst
  EXPECT_EQ(rows[2].passed, 0);
  EXPECT_EQ(rows[3].verdict, "pass");
  auto j = report_to_json(rs, RunInfo{"1/2", 2, 3, 10, true});
  EXPECT_EQ(j["format"], "rig-results/2");
  EXPECT_EQ(j["summary"]["flaky"], 1);
  EXPECT_EQ(j["summary"]["shard"], "1/2");
  EXPECT_EQ(j["summary"]["matrix"].size(), 4u);
  EXPECT_EQ(exit_status_for(rs), 3);  // an error wins
  std::ostringstream table;
  print_table(rs, table);
  EXPECT_NE(table.str().find("a on 6.1: 2 of 3 runs passed: flaky"), std::string::npos) << table.str();
}

TEST(SnapshotCacheTest, KeyFollowsEveryInputAndNoRunPath) {
  QemuMachineConfig cfg;
  cfg.scenario.name = "x";
  cfg.scenario.nodes.push_back({0, "0-1", 1ull << 30});
  cfg.run_dir = "/tmp/run-one";
  cfg.kernel_path = "/boot/a";
  cfg.kernel_hash = "k1";
  cfg.initrd_hash = "i1";
  cfg.qemu_version = "QEMU 7.2";
  const std::string key = snapshot_key(snapshot_inputs(cfg));
  QemuMachineConfig other_run = cfg;
  other_run.run_dir = "/elsewhere/run-two";
  other_run.kernel_path = "/copy/of/a";
  EXPECT_EQ(snapshot_key(snapshot_inputs(other_run)), key);  // paths are placeholders
  for (auto change : std::vector<std::function<void(QemuMachineConfig&)>>{
           [](QemuMachineConfig& c) { c.kernel_hash = "k2"; }, [](QemuMachineConfig& c) { c.initrd_hash = "i2"; },
           [](QemuMachineConfig& c) { c.qemu_version = "QEMU 8.0"; }, [](QemuMachineConfig& c) { c.accel = "kvm"; },
           [](QemuMachineConfig& c) { c.probe = true; },
           [](QemuMachineConfig& c) { c.scenario.nodes[0].memory = 2ull << 30; },
           [](QemuMachineConfig& c) { c.scenario.machine.kernel_args.push_back("movable_node"); },
           [](QemuMachineConfig& c) { c.extra_kernel_args.push_back("x"); }}) {
    QemuMachineConfig c = cfg;
    change(c);
    EXPECT_NE(snapshot_key(snapshot_inputs(c)), key);
  }
}

TEST(SnapshotCacheTest, EntriesAppearWholeAndTheOldestGoFirst) {
  namespace fs = boost::filesystem;
  const std::string root = (fs::temp_directory_path() / fs::unique_path("rig-snap-%%%%%%")).string();
  SnapshotCache cache(root, 2500);
  auto put = [&](const std::string& key, size_t bytes) {
    const bool existed = cache.find(key).has_value();
    std::string tmp = cache.begin(key);
    EXPECT_EQ(cache.find(key).has_value(), existed) << "an entry being written is not visible";
    std::ofstream(tmp + "/state.mig") << std::string(bytes, 'x');
    cache.write_ready(tmp, {"console text", "rig-probe 2\n", "what", 7.5});
    return cache.commit(key, tmp);
  };
  put("0000000000000001", 1000);
  fs::last_write_time(root + "/0000000000000001", std::time(nullptr) - 100);
  put("0000000000000002", 1000);
  fs::last_write_time(root + "/0000000000000002", std::time(nullptr) - 50);
  ASSERT_TRUE(cache.find("0000000000000001"));  // used now: no longer the oldest
  put("0000000000000003", 1000);                // over the limit: 2 goes
  EXPECT_TRUE(cache.find("0000000000000001"));
  EXPECT_FALSE(cache.find("0000000000000002"));
  auto e = cache.find("0000000000000003");
  ASSERT_TRUE(e);
  SnapshotReady r = cache.read_ready(*e);
  EXPECT_EQ(r.console, "console text");
  EXPECT_EQ(r.probe_snapshot, "rig-probe 2\n");
  EXPECT_DOUBLE_EQ(r.boot_s, 7.5);
  // A second writer of the same key loses quietly; the first entry stays.
  put("0000000000000003", 10);
  EXPECT_GE(cache.find("0000000000000003")->bytes, 1000u);
  // A malformed ready.json is refused (the caller boots instead).
  std::ofstream(e->dir + "/ready.json") << "{\"format\": 99}";
  EXPECT_THROW(cache.read_ready(*e), InfraError);
  cache.begin("0000000000000004");  // an interrupted write
  EXPECT_EQ(cache.list().size(), 2u);
  EXPECT_GT(cache.clear(), 0u);
  EXPECT_TRUE(cache.list().empty());
  EXPECT_TRUE(fs::is_empty(root));
  fs::remove_all(root);
}

TEST(ProgressBoardTest, PlainModeIsOneLinePerEvent) {
  std::ostringstream out;
  ProgressBoard b(out, false);
  b.handle({RunEvent::Kind::Started, "s@k", "s on k", nullptr});
  b.handle({RunEvent::Kind::Line, "s@k", "  step 0 unplug d: removed", nullptr});
  ScenarioResult r = result("s", "k", Verdict::Pass);
  b.handle({RunEvent::Kind::Finished, "s@k", "pass in 1.0 s", &r});
  b.tick();
  EXPECT_EQ(out.str(),
            "[rig] [s@k] start: s on k\n[rig] [s@k]   step 0 unplug d: removed\n[rig] [s@k] pass in 1.0 s\n");
}

TEST(ProgressBoardTest, LiveModeRedrawsOneLinePerRunningGuest) {
  std::ostringstream out;
  ProgressBoard b(out, true, 80);
  b.handle({RunEvent::Kind::Started, "a@k", "a on k", nullptr});
  b.handle({RunEvent::Kind::Started, "b@k", "b on k", nullptr});
  b.handle({RunEvent::Kind::Line, "a@k", "  step 1 unplug dimm1", nullptr});
  b.handle({RunEvent::Kind::Line, "a@k", "  check case 1 memmap-freed: failed - 1 page", nullptr});
  const std::string s = out.str();
  EXPECT_NE(s.find("\x1b[3A\x1b[J"), std::string::npos);  // two guests and the summary line, erased
  EXPECT_NE(s.find("a on k  step 1 unplug dimm1"), std::string::npos);
  EXPECT_NE(s.find("[rig] [a@k]   check case 1 memmap-freed: failed"), std::string::npos);  // kept above
  EXPECT_EQ(s.find("[rig] [a@k]   step 1"), std::string::npos);  // a phase only changes the live line
  EXPECT_LE(ProgressBoard::live_line("x", std::string(200, 'y'), 1, 80).size(), 80u);
}

TEST(ProgressBoardTest, ExploreStatusLineShowsTheBudgetLeftOnATerminalOnly) {
  EXPECT_EQ(ProgressBoard::status_line("explore: 3 runs, 1 findings", 3725.2, 80),
            "  explore: 3 runs, 1 findings, 1:02:05 left");
  EXPECT_EQ(ProgressBoard::status_line("x", -5, 80), "  x, 0:00:00 left");
  EXPECT_EQ(ProgressBoard::status_line("x", std::nullopt, 80), "  x");
  EXPECT_LE(ProgressBoard::status_line(std::string(200, 'y'), 1.0, 60).size(), 60u);

  std::ostringstream live;
  ProgressBoard b(live, true, 80);
  b.set_status("explore: 0 runs", ProgressBoard::Clock::now() + std::chrono::seconds(90));
  b.print("new finding 1: case 1 page-tables-freed pmd @vmemmap-pmd-table");
  const std::string s = live.str();
  EXPECT_NE(s.find("explore: 0 runs, 0:01:"), std::string::npos) << s;
  EXPECT_NE(s.find("\x1b[2A\x1b[J"), std::string::npos) << "summary and status erased before the printed line";
  EXPECT_NE(s.find("new finding 1: case 1"), std::string::npos);

  std::ostringstream plain;
  ProgressBoard p(plain, false);
  p.set_status("explore: 0 runs", ProgressBoard::Clock::now());
  p.print("run 1: explore-1-0 on 6.1: pass (9.0 s); 0 findings, 100 s left");
  p.tick();
  EXPECT_EQ(plain.str(), "run 1: explore-1-0 on 6.1: pass (9.0 s); 0 findings, 100 s left\n");
}

// ---- A boot that TCG broke before /init is booted once more; nothing else is.

TEST(BootAgain, OnlyUnderTcgAndOnlyBeforeInitRan) {
  const std::string int3 = rig_test::data("console/tcg-int3-at-boot-6.12.log");  // Oops: int3 at 1.4 s
  const std::string hang = rig_test::data("console/tcg-hang-at-boot-6.1.log");   // silent after 1.45 s
  const std::string after_init = rig_test::data("console/busy-refusal-6.1.log");
  const std::string no_root = rig_test::data("console/panic-no-root-6.1.log");
  ASSERT_NE(int3.find("Oops: int3"), std::string::npos);
  EXPECT_TRUE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Crashed, int3));
  EXPECT_TRUE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Hung, hang));
  // KVM has no such race: its crash is the result.
  EXPECT_FALSE(rig::boot_again_under_tcg("kvm", rig::GuestDown::Kind::Crashed, int3));
  // Once /init ran, the guest's own doing is the result.
  ASSERT_NE(after_init.find("Run /init as init process"), std::string::npos);
  EXPECT_FALSE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Crashed, after_init));
  EXPECT_FALSE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Hung, after_init));
  // A kernel report before /init (a soft lockup at console line 328 of 398 in a CI run) is the
  // same TCG flake as a crash there; after /init it is the result.
  EXPECT_TRUE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Reported, int3));
  EXPECT_FALSE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Reported, after_init));
  EXPECT_FALSE(rig::boot_again_under_tcg("kvm", rig::GuestDown::Kind::Reported, int3));
  // QEMU killed is never booted again.
  EXPECT_FALSE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Exited, int3));
  // A kernel that cannot mount its root panics before /init every time: booted twice, reported.
  EXPECT_TRUE(rig::boot_again_under_tcg("tcg", rig::GuestDown::Kind::Crashed, no_root));
}

// Both backends boot through boot_once_more_under_tcg: one rule, one note.
TEST(BootAgain, ABrokenTcgBootIsForgottenAndBootedOnceMore) {
  const std::string dir = boost::filesystem::unique_path("/tmp/rig-bootagain-%%%%%%").string();
  boost::filesystem::create_directories(dir);
  const std::string console = dir + "/console.log";
  std::ofstream(console) << rig_test::data("console/tcg-int3-at-boot-6.12.log");
  int boots = 0, forgotten = 0;
  auto boot = [&] {
    if (++boots == 1) throw rig::GuestDown(rig::GuestDown::Kind::Crashed, "kernel crashed: Oops: int3");
  };
  const std::string note = rig::boot_once_more_under_tcg("tcg", console, boot, [&] { ++forgotten; });
  EXPECT_EQ(boots, 2);
  EXPECT_EQ(forgotten, 1);
  EXPECT_EQ(note,
            "the first boot under TCG ended before /init ran (kernel crashed: Oops: int3); its files are boot1-* in "
            "the run directory; booted again");

  // A boot that comes up has no note; KVM's crash and a second crash are the result.
  boots = forgotten = 0;
  EXPECT_EQ(rig::boot_once_more_under_tcg(
                "tcg", console, [] {}, [&] { ++forgotten; }),
            "");
  EXPECT_EQ(forgotten, 0);
  EXPECT_THROW(rig::boot_once_more_under_tcg("kvm", console, boot, [&] { ++forgotten; }), rig::GuestDown);
  EXPECT_EQ(forgotten, 0);
  auto always = [&] { throw rig::GuestDown(rig::GuestDown::Kind::Hung, "silent"); };
  EXPECT_THROW(rig::boot_once_more_under_tcg("tcg", console, always, [&] { ++forgotten; }), rig::GuestDown);
  EXPECT_EQ(forgotten, 1);
  boost::filesystem::remove_all(dir);
}
