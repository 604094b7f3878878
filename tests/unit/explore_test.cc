// rig explore's pure parts: the generator only draws valid scenarios (property over many seeds),
// the TOML writer round-trips, the minimizer reaches a minimal failing scenario on a fake oracle,
// and findings are one per signature.
#include <gtest/gtest.h>

#include <boost/filesystem.hpp>
#include <algorithm>
#include <map>
#include <set>

#include "rig/workflows/explore.h"
#include "rig/base/paths.h"
#include "rig/scenario/scenario_file.h"
#include "rig/scenario/scenario_writer.h"
#include "rig/base/size.h"

using namespace rig;

namespace {

std::vector<std::string> shipped() {
  std::vector<std::string> files;
  for (boost::filesystem::directory_iterator it(std::string(RIG_SOURCE_DIR) + "/rig/scenarios"), end; it != end; ++it)
    if (it->path().extension() == ".toml") files.push_back(it->path().string());
  return files;
}

// What the TOML of a scenario must keep.
std::string essence(const Scenario& s) { return scenario_toml(s); }

}  // namespace

TEST(ScenarioWriter, EveryShippedScenarioRoundTrips) {
  const auto files = shipped();
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) {
    Scenario s = load_scenario_file(f);
    const std::string text = scenario_toml(s, "a header\n\nline three");
    Scenario back = parse_scenario(text, f);
    EXPECT_EQ(essence(back), essence(s)) << f;
    EXPECT_EQ(text.rfind("# a header\n#\n# line three\nname = ", 0), 0u) << text.substr(0, 80);
  }
}

TEST(ScenarioWriter, QuotesWhatTomlNeedsQuoted) {
  Scenario s = load_scenario_file(shipped()[0]);
  s.description = "a \"quoted\" back\\slash\tand a\nnewline";
  EXPECT_EQ(parse_scenario(scenario_toml(s), "x.toml").description, s.description);
}

TEST(Explore, BoundaryClassesAndBlockSize) {
  EXPECT_EQ(boundary_class_of(64 * GiB, 256 * MiB), "vmemmap-pmd-table");
  EXPECT_EQ(boundary_class_of(64 * GiB - 256 * MiB, 256 * MiB), "vmemmap-pmd-table") << "ending at it";
  EXPECT_EQ(boundary_class_of(64 * GiB - 128 * MiB, 256 * MiB), "vmemmap-pmd-table") << "straddling it by a section";
  EXPECT_EQ(boundary_class_of(5 * GiB, 128 * MiB), "direct-map-pmd-table");
  EXPECT_EQ(boundary_class_of(5 * GiB + 256 * MiB, 128 * MiB), "section");
  EXPECT_EQ(boundary_class_of(512 * GiB, GiB), "direct-map-pud-table");
  // A 56-byte struct page: vmemmap PMD table k maps pfns from k * 2^30 / 56; the first section
  // wholly past table 1 starts at 73.25 GiB (section 586), past table 2 at 146.375 GiB.
  const BoundaryClass& b56 = boundary_classes()[3];
  ASSERT_EQ(b56.struct_page, 56);
  EXPECT_EQ(boundary_at_or_above(b56, 4 * GiB), 586 * 128 * MiB);
  EXPECT_EQ(boundary_at_or_above(b56, 586 * 128 * MiB + 1), 1171 * 128 * MiB);
  EXPECT_EQ(boundary_below(b56, 1171 * 128 * MiB), 586 * 128 * MiB);
  EXPECT_EQ(boundary_below(b56, 586 * 128 * MiB), 0u);
  EXPECT_EQ(boundary_at_or_above(b56, 500 * GiB), 512 * GiB) << "table 7 starts at 2^39 exactly";
  EXPECT_EQ(boundary_class_of(586 * 128 * MiB, 256 * MiB), "vmemmap-pmd-table-56b");
  EXPECT_EQ(boundary_class_of(585 * 128 * MiB, 256 * MiB), "vmemmap-pmd-table-56b") << "straddling by a section";
  EXPECT_EQ(boundary_below(boundary_classes()[2], 128 * GiB), 64 * GiB);
  EXPECT_EQ(boundary_below(boundary_classes()[2], 64 * GiB + 1), 64 * GiB);
  EXPECT_EQ(x86_memory_block_size(2 * GiB), 128 * MiB);
  EXPECT_EQ(x86_memory_block_size(64 * GiB + 256 * MiB), 256 * MiB) << "boot-dimm-64g: one 256 MiB block";
  EXPECT_EQ(x86_memory_block_size(64 * GiB + 128 * MiB), 128 * MiB);
  EXPECT_EQ(x86_memory_block_size(66 * GiB), 2 * GiB);
}

TEST(Explore, GeneratorDrawsOnlyValidScenariosAndIsDeterministic) {
  std::set<std::string> classes, names, zones;
  std::map<std::string, int> features;
  auto has = [](const Draw& d, const std::string& f) {
    return std::count(d.features.begin(), d.features.end(), f) > 0;
  };
  int boot_at_64g = 0, memoryless = 0, hot = 0;
  for (uint64_t seed : {1ull, 2ull, 7ull, 12345ull}) {
    for (uint64_t i = 0; i < 150; ++i) {
      Draw d = draw_scenario(seed, i);
      ASSERT_TRUE(valid_scenario(d.scenario)) << scenario_toml(d.scenario);
      // What `rig check` reads back is what was drawn.
      Scenario back = parse_scenario(scenario_toml(d.scenario), "draw.toml");
      EXPECT_EQ(scenario_toml(back), scenario_toml(d.scenario));
      EXPECT_EQ(scenario_toml(draw_scenario(seed, i).scenario), scenario_toml(d.scenario)) << "same seed, same draw";
      EXPECT_TRUE(names.insert(d.scenario.name).second);
      EXPECT_EQ(d.dimm_class.size(), d.scenario.dimms.size());
      for (const auto& [id, c] : d.dimm_class) classes.insert(c);
      for (const auto& dimm : d.scenario.dimms) {
        boot_at_64g += dimm.boot && dimm.addr == 64 * GiB;
        hot += !dimm.present;
        if (dimm.boot && has(d, "movable_node")) {
          EXPECT_EQ(d.scenario.nodes.at(static_cast<size_t>(dimm.node)).memory, 0u)
              << "movable_node: boot DIMMs on memory-less nodes";
        }
        // Every DIMM is removed by a step (twice when re-added), or, under movablecore=, the top
        // boot DIMM of its node is expected to be refused (it holds the node's data).
        int removed = 0, refused = 0;
        for (const auto& st : d.scenario.steps)
          if (st.action == StepAction::Unplug && st.dimm == dimm.id) (st.expect == "removed" ? removed : refused) += 1;
        EXPECT_EQ(removed + refused, has(d, "re-add") ? removed + refused : 1) << scenario_toml(d.scenario);
        EXPECT_GE(removed + refused, 1);
        if (refused) {
          EXPECT_TRUE(dimm.boot && has(d, "movablecore"));
          for (const auto& o : d.scenario.dimms)
            EXPECT_FALSE(o.boot && o.node == dimm.node && o.addr > dimm.addr) << "the top one";
        }
        for (const auto& st : d.scenario.steps) {
          if (st.dimm == dimm.id && st.action == StepAction::Online) zones.insert(st.zone);
        }
      }
      for (const auto& n : d.scenario.nodes) memoryless += n.memory == 0;
      for (const auto& f : d.features) ++features[f];
      const auto& args = d.scenario.machine.kernel_args;
      const bool mn = std::count(args.begin(), args.end(), "movable_node") > 0;
      const bool mc =
          std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("movablecore=", 0) == 0; });
      EXPECT_EQ(has(d, "movable_node"), mn);
      EXPECT_EQ(has(d, "movablecore"), mc);
      EXPECT_EQ(has(d, "hot-only"), !mn && !mc);
      EXPECT_EQ(has(d, "5-level"), d.scenario.machine.cpu == "max");
      EXPECT_EQ(has(d, "memmap_on_memory"),
                std::count(args.begin(), args.end(), "memory_hotplug.memmap_on_memory=1") > 0);
      EXPECT_EQ(has(d, "cycles"), d.scenario.cycles > 1);
      for (const auto& dimm : d.scenario.dimms) {
        if (d.scenario.cycles > 1) {
          EXPECT_FALSE(dimm.present) << "cycles only of hot-added DIMMs";
        }
        if (has(d, "hot-only")) {
          EXPECT_FALSE(dimm.boot);
        }
      }
    }
  }
  for (const auto& b : boundary_classes()) EXPECT_TRUE(classes.count(b.name)) << b.name << " never drawn";
  for (const char* f : {"movable_node", "movablecore", "hot-only", "5-level", "memmap_on_memory", "zone online_movable",
                        "zone online_kernel", "zone online", "re-add", "refusal", "cycles"})
    EXPECT_GT(features[f], 5) << f << " drawn too rarely";
  EXPECT_GT(features["movable_node"], features["movablecore"] + features["hot-only"])
      << "movable_node stays the common layout";
  EXPECT_EQ(zones.size(), 3u);
  EXPECT_GT(boot_at_64g, 5) << "boot DIMMs on the vmemmap PMD table boundary are drawn often";
  EXPECT_GT(memoryless, 50);
  EXPECT_GT(hot, 50);
  EXPECT_NE(scenario_toml(draw_scenario(1, 0).scenario), scenario_toml(draw_scenario(2, 0).scenario));
}

TEST(Explore, MinimizerReachesAMinimalFailingScenario) {
  // A fake kernel that leaks whenever a boot DIMM starts on a 64 GiB boundary.
  auto fails = [](const Scenario& s) {
    for (const auto& d : s.dimms)
      if (d.boot && d.addr % (64 * GiB) == 0) {
        for (const auto& st : s.steps)
          if (st.action == StepAction::Unplug && st.dimm == d.id) return true;
      }
    return false;
  };
  int found = 0;
  for (uint64_t i = 0; i < 400 && found < 5; ++i) {
    Draw d = draw_scenario(3, i);
    if (!fails(d.scenario) || d.scenario.dimms.size() < 2) continue;
    ++found;
    int calls = 0;
    Minimized m = minimize(
        d.scenario,
        [&](const Scenario& c) {
          ++calls;
          return fails(c);
        },
        500);
    EXPECT_EQ(calls, m.tries);
    ASSERT_TRUE(fails(m.scenario));
    EXPECT_EQ(m.scenario.dimms.size(), 1u) << scenario_toml(m.scenario);
    EXPECT_EQ(m.scenario.steps.size(), 1u) << "only the failing unplug is left";
    EXPECT_EQ(m.scenario.dimms[0].addr, 64 * GiB) << "moved down to the smallest boundary that still fails";
    EXPECT_EQ(m.scenario.dimms[0].size, 128 * MiB);
    // Minimal: no candidate still fails.
    for (const auto& c : shrink_candidates(m.scenario)) EXPECT_FALSE(fails(c)) << scenario_toml(c);
  }
  EXPECT_EQ(found, 5);
}

TEST(Explore, MinimizerStopsAtItsBudget) {
  Draw d = draw_scenario(1, 0);
  int calls = 0;
  Minimized m = minimize(
      d.scenario,
      [&](const Scenario&) {
        ++calls;
        return false;
      },
      3);
  EXPECT_LE(calls, 3);
  EXPECT_EQ(m.steps_taken, 0);
  EXPECT_EQ(scenario_toml(m.scenario), scenario_toml(d.scenario));
}

// Explore names failures as the findings register does (report/findings.h) and says of each
// whether an entry knows it, as rig run does: the same defect on another layout or boundary is
// the same finding, known by its id; what no entry names is new.
TEST(Explore, FindingsAreOnePerRegisterSignatureKnownOrNew) {
  Draw d = draw_scenario(5, 1);
  ScenarioResult r;
  r.scenario = d.scenario.name;
  r.kernel = "6.1.0-57-amd64";
  r.verdict = Verdict::Fail;
  StepResult unplug;
  unplug.index = 0;
  unplug.action = "unplug";
  unplug.target = d.scenario.dimms[0].id;
  unplug.expected = "removed";
  unplug.outcome = "removed";
  unplug.ok = true;
  r.steps.push_back(unplug);
  CheckRecord leak;
  leak.step = 0;
  leak.case_no = 1;
  leak.name = "page-tables-freed";
  leak.status = CheckStatus::Fail;
  leak.pages.push_back({1, "pmd:512,pmd:513", "freed", "leaked: every owner is gone: Private refcount 2"});
  r.checks.push_back(leak);
  r.checks.push_back(leak);  // the same defect named twice
  CheckRecord mem = leak;
  mem.name = "memtotal-node-0";
  mem.pages.clear();
  mem.detail = "node 0 MemTotal +4100 kB (+1025 pages); the model expects +1026 pages: short by 1 pages";
  r.checks.push_back(mem);
  CheckRecord ok = leak;
  ok.name = "memmap-freed";
  ok.status = CheckStatus::Pass;
  r.checks.push_back(ok);
  ConsoleFinding oops;
  oops.kind = "oops";
  oops.severity = Severity::Failure;
  oops.headline = "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI at ffffffffb9c060c8";
  r.console_findings.push_back(oops);
  oops.headline = "Oops: int3: 0000 [#2] PREEMPT SMP NOPTI at ffffffffb9c06000";
  r.console_findings.push_back(oops);
  ConsoleFinding notice;
  notice.kind = "page-dump";
  notice.severity = Severity::Notice;
  r.console_findings.push_back(notice);
  StepResult refused = unplug;
  refused.index = 1;
  refused.outcome = "refused";
  refused.ok = false;
  r.steps.push_back(refused);  // the spec's answer for memory holding a pgdat: judged by the checks
  StepResult timeout = refused;
  timeout.index = 2;
  timeout.outcome = "timeout";
  r.steps.push_back(timeout);  // the run's reason says it; here the checks and the report do

  const std::vector<RegisteredFinding> reg = {parse_finding(R"toml(title = "PMD table kept"
status = "known"
signatures = ["page-tables-freed [pmd] leaked", "memtotal-node-0 [] node N MemTotal +N kB (+N pages); short by 1 pages"]
unaffected = ["7.3"]
scenario = "rig/scenarios/boot-dimm-64g.toml"
)toml",
                                                            "rig/findings/pmd-table-at-64-gib.toml")};
  auto f = findings_of(r, d.scenario, reg);
  ASSERT_EQ(f.size(), 3u);
  const std::string b = boundary_class_of(d.scenario.dimms[0].addr, d.scenario.dimms[0].size);
  EXPECT_EQ(f[0].signature, "page-tables-freed [pmd] leaked") << "the register's signature, not explore's own";
  EXPECT_EQ(f[0].boundary, b);
  EXPECT_EQ(f[0].finding_id, "pmd-table-at-64-gib");
  EXPECT_TRUE(f[0].known);
  EXPECT_EQ(f[1].signature, "memtotal-node-0 [] node N MemTotal +N kB (+N pages); short by 1 pages");
  EXPECT_EQ(f[1].finding_id, "pmd-table-at-64-gib");
  EXPECT_EQ(f[2].kind, "report") << "the same report with other numbers is one finding";
  EXPECT_EQ(f[2].signature, "console oops: Oops: intN: N [#N] PREEMPT SMP NOPTI at N");
  EXPECT_EQ(f[2].finding_id, "new");
  EXPECT_FALSE(f[2].known);
  // Without the register every one is new; on a kernel the entry lists as unaffected, too (a
  // regression).
  for (const auto& x : findings_of(r, d.scenario, {})) EXPECT_EQ(x.finding_id, "new") << x.signature;
  r.kernel = "7.3.4+deb13-amd64";
  EXPECT_FALSE(findings_of(r, d.scenario, reg)[0].known);
  // An expected failure (xfail) that no entry names is new, as rig run says.
  r.checks[0].status = CheckStatus::XFail;
  r.checks[0].pages[0].roles = "pud:512";
  r.kernel = "6.1.0-57-amd64";
  f = findings_of(r, d.scenario, reg);
  EXPECT_EQ(f[0].signature, "page-tables-freed [pud] leaked");
  EXPECT_TRUE(f[0].xfail);
  EXPECT_FALSE(f[0].known);

  // A run that timed out with nothing else is a finding by its reason; a refused unplug alone is
  // none.
  ScenarioResult t;
  t.scenario = r.scenario;
  t.kernel = r.kernel;
  t.verdict = Verdict::Fail;
  t.reason = "step 2 unplug dimm0: timeout after 60 s";
  t.steps = {unplug, timeout};
  f = findings_of(t, d.scenario, reg);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, "verdict");
  EXPECT_EQ(f[0].signature, "verdict fail: step N unplug dimmN: timeout after N s");
  t.steps = {unplug, refused};
  t.reason = "step 1 unplug: expected removed, got refused";
  EXPECT_TRUE(findings_of(t, d.scenario, reg).empty());
  // Any other step that ended otherwise is one, named with its target.
  t.steps = {unplug, StepResult{1, 1, "expect-node", "node1", "absent", "present", false, "", 0, {}, std::nullopt}};
  f = findings_of(t, d.scenario, reg);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, "step");
  EXPECT_EQ(f[0].signature, "step expect-node node1: present (expected absent)");
  EXPECT_FALSE(f[0].known) << "a step is known only in its entry's own scenario";
}

TEST(Explore, Durations) {
  EXPECT_EQ(parse_duration("30m"), 1800.0);
  EXPECT_EQ(parse_duration("1h30m"), 5400.0);
  EXPECT_EQ(parse_duration("90s"), 90.0);
  EXPECT_EQ(parse_duration("45"), 45.0);
  for (const char* bad : {"", "m", "5x", "-3m", "0", "1d", "30 m", "99999h"}) EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(Explore, ShrinkUndoesCyclesFiveLevelAndKernelZones) {
  Scenario s = draw_scenario(1, 0).scenario;
  s.machine.kernel_args.clear();
  s.dimms = {Dimm{"d0", 256 * MiB, 0, 8 * GiB, false, false}};
  s.nodes.resize(1);
  s.steps = {Step{StepAction::Plug, "d0", "added", "", -1, 0},
             Step{StepAction::Online, "d0", "", "online_kernel", -1, 0},
             Step{StepAction::Unplug, "d0", "removed", "", -1, 0}};
  s.cycles = 3;
  s.machine.cpu = "max";
  ASSERT_TRUE(valid_scenario(s)) << scenario_toml(s);
  bool one_cycle = false, four_level = false, movable = false;
  for (const auto& c : shrink_candidates(s)) {
    one_cycle |= c.cycles == 1 && c.machine.cpu == "max" && c.steps.size() == 3;
    four_level |= c.machine.cpu == "qemu64" && c.cycles == 3;
    movable |= c.steps.size() == 3 && c.steps[1].zone == "online_movable";
  }
  EXPECT_TRUE(one_cycle);
  EXPECT_TRUE(four_level);
  EXPECT_TRUE(movable);
}

// virtio-mem draws: a device grown and shrunk back to nothing (sub-blocks too), only where no
// DIMM is hot-plugged (the device needs hot-added memory onlined by policy), always valid; and
// the minimizer can take the device away with its resizes.
TEST(Explore, SomeDrawsGrowAndShrinkAVirtioMemDevice) {
  size_t with = 0, sub_block = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    const Draw d = draw_scenario(7, i);
    const Scenario& s = d.scenario;
    if (s.virtio_mems.empty()) continue;
    ++with;
    EXPECT_TRUE(valid_scenario(s)) << i;
    sub_block += std::count(d.features.begin(), d.features.end(), "virtio-mem sub-block");
    std::vector<uint64_t> sizes;
    for (const auto& st : s.steps) {
      EXPECT_NE(st.action, StepAction::Plug) << i;
      if (st.action == StepAction::Resize) sizes.push_back(st.size);
    }
    ASSERT_GE(sizes.size(), 2u) << i;
    EXPECT_EQ(sizes.back(), 0u) << i;
    EXPECT_GT(sizes.front(), 0u) << i;
    EXPECT_NE(
        std::find(s.machine.kernel_args.begin(), s.machine.kernel_args.end(), "memhp_default_state=online_movable"),
        s.machine.kernel_args.end())
        << i;
    bool dropped = false;
    for (const auto& c : shrink_candidates(s))
      dropped = dropped || (c.virtio_mems.empty() && std::none_of(c.steps.begin(), c.steps.end(), [](const Step& st) {
                              return st.action == StepAction::Resize;
                            }));
    EXPECT_TRUE(dropped) << i;
  }
  EXPECT_GT(with, 10u);
  EXPECT_GT(sub_block, 0u);
}
