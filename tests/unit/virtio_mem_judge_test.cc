// virtio-mem, phase 2 (docs/virtio-mem.md): a shrink judged page by page. Recorded on Debian 6.1
// (rig/scenarios/virtio-mem-grow-shrink.toml, 2026-12-03): a 1G device on memory-less node 1
// grown to 512M (memory blocks 32-35, 4 GiB up, online movable), then shrunk to 0; the driver
// removed the four blocks and the kernel freed their hot-added memmap (pfns 17920-19967) and the
// direct-map PMD table it had allocated for them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rig/spec/case_checks.h"
#include "rig/spec/case_classifier.h"
#include "rig/spec/free_trace.h"
#include "rig/spec/guest_counters.h"
#include "rig/spec/memmap_snapshot.h"
#include "rig/spec/page_accounting.h"
#include "rig/report/html_report.h"
#include "rig/report/html_report_model.h"

#include "check_lookup.h"
#include "test_data.h"

using namespace rig;

namespace {

const std::string kDir = "virtio-mem/6.1-shrink-512m-";
// The counters of the same shrink, with the whole /proc/iomem tree and the zones' start_pfn.
const std::string kCountersBefore = "counters/virtio-mem-6.1-shrink-before.txt";
const std::string kCountersAfter = "counters/virtio-mem-6.1-shrink-after.txt";
constexpr uint64_t kDevicePfn = 0x100000000ull >> 12, kDevicePages = (1ull << 30) >> 12;
constexpr uint64_t kBlockPages = (128ull << 20) >> 12;
// Node 0 and node 1 MemTotal before the shrink (guest-state-before), node 0 after (node 1 went).
const NodeMemTotals kMemBefore{{0, 917024}, {1, 524288}};
const NodeMemTotals kMemAfter{{0, 917024}};

using rig_test::named;

struct Recorded {
  MemmapSnapshot before = parse_probe_snapshot(rig_test::data(kDir + "snapshot-before-step1.txt"));
  GuestCounters counters_before = parse_guest_counters(rig_test::data(kCountersBefore));
  GuestCounters counters_after = parse_guest_counters(rig_test::data(kCountersAfter));
  std::map<uint64_t, PageState> after;

  // The pages now, from `query` and `trace` (the recorded ones unless replaced).
  explicit Recorded(std::string query = rig_test::data(kDir + "query-after-step1.txt"),
                    std::string trace = rig_test::data(kDir + "frees-step1.txt")) {
    after = states_by_pfn(parse_probe_query(query));
    apply_free_trace(parse_free_trace(trace), after);
  }
};

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST(VirtioMemJudge, TheBlocksAShrinkRemovedAreThoseListedBeforeAndNotAfter) {
  Recorded r;
  EXPECT_EQ(blocks_gone(r.counters_before, r.counters_after, kDevicePfn, kDevicePages),
            (std::vector<uint64_t>{32, 33, 34, 35}));
  // Nothing went: none; a block outside the device's range never counts.
  EXPECT_TRUE(blocks_gone(r.counters_before, r.counters_before, kDevicePfn, kDevicePages).empty());
  EXPECT_TRUE(blocks_gone(r.counters_before, r.counters_after, 0, kDevicePfn).empty());
  // Only the blocks inside the range asked about.
  EXPECT_EQ(blocks_gone(r.counters_before, r.counters_after, kDevicePfn + 2 * kBlockPages, 2 * kBlockPages),
            (std::vector<uint64_t>{34, 35}));
}

TEST(VirtioMemJudge, ARecordedShrinkPassesPageByPageAndEveryCounter) {
  Recorded r;
  const uint64_t first = 32 * kBlockPages, count = 4 * kBlockPages;
  const RemovalAnalysis a = analyze_removal(r.before, first, count);
  EXPECT_EQ(a.node, 1);
  const auto checks = check_after_removal(a, r.before, kMemBefore, first, count, r.after, kMemAfter, count);
  for (const char* name : {"memmap-freed", "page-tables-freed", "pages-kept", "removed-memory-gone"}) {
    EXPECT_TRUE(named(checks, name).ok) << name << ": " << named(checks, name).detail;
    EXPECT_TRUE(named(checks, name).applicable) << name;
  }
  EXPECT_NE(named(checks, "memmap-freed").detail.find("2048"), std::string::npos)
      << named(checks, "memmap-freed").detail;
  const auto deltas = expected_memtotal_delta(expected_fates(r.before, first, count, true), a.node, count);
  const auto counters = check_counters(r.counters_before, r.counters_after, first, count, a.node, true, deltas);
  for (const char* name : {"counters-meminfo", "counters-memory-blocks", "counters-zones", "counters-node-states",
                           "counters-firmware-memmap", "counters-iomem", "counters-zone-span"})
    EXPECT_TRUE(named(counters, name).ok) << name << ": " << named(counters, name).detail;
}

// The fault docs/faults.md plants for DIMMs, as a virtio-mem shrink would show it: the removed
// blocks' memmap still held as before, and no free of it traced. One shrink is enough.
TEST(VirtioMemJudge, HotAddedMemmapNeverFreedFailsInOneShrink) {
  std::string query = rig_test::data(kDir + "query-after-step1.txt");
  for (uint64_t head : {17920, 18432, 18944, 19456}) {
    query = replace(
        query,
        fmt::format("Q {} 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none", head),
        fmt::format("Q {} 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other", head));
    query =
        replace(query,
                fmt::format("Q {} 511 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none",
                            head + 1),
                fmt::format("Q {} 511 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none",
                            head + 1));
  }
  const std::string trace = replace(rig_test::data(kDir + "frees-step1.txt"), "freed 17920-19967\n", "");
  Recorded r(query, replace(trace, "events 1171", "events 1171"));
  const uint64_t first = 32 * kBlockPages, count = 4 * kBlockPages;
  const auto checks = check_after_removal(analyze_removal(r.before, first, count), r.before, kMemBefore, first, count,
                                          r.after, kMemAfter, count);
  const CaseCheck& memmap = named(checks, "memmap-freed");
  EXPECT_FALSE(memmap.ok);
  EXPECT_TRUE(memmap.applicable);
  EXPECT_NE(memmap.detail.find("never freed"), std::string::npos) << memmap.detail;
  EXPECT_EQ(memmap.offenders.size(), 2048u);
}

// A shrink that removed no block (the driver fake-offlined sub-blocks, or nothing): every page
// as before, and the node's MemTotal down by exactly what the device unplugged.
TEST(VirtioMemJudge, AShrinkInPlaceKeepsEveryPageAndMovesMemTotalByWhatWasUnplugged) {
  Recorded r;
  // The pages as the snapshot before saw them: nothing changed.
  std::map<uint64_t, PageState> same;
  for (const auto& run : r.before.runs)
    for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) same[pfn] = run.state;
  const uint64_t unplugged = (56ull << 20) >> 12;  // 28 sub-blocks of 2M
  const NodeMemTotals after{{0, 917024}, {1, 524288 - 56 * 1024}};
  auto ok = check_after_shrink_in_place(r.before, kMemBefore, same, after, 1, unplugged);
  EXPECT_TRUE(named(ok, "pages-unchanged").ok) << named(ok, "pages-unchanged").detail;
  EXPECT_TRUE(named(ok, "memtotal-node-1").ok) << named(ok, "memtotal-node-1").detail;
  EXPECT_TRUE(named(ok, "memtotal-node-0").ok) << named(ok, "memtotal-node-0").detail;
  // A driver that unplugged less than QEMU says (or a kernel that miscounted) fails.
  auto short_by = check_after_shrink_in_place(r.before, kMemBefore, same, after, 1, unplugged + 512);
  EXPECT_FALSE(named(short_by, "memtotal-node-1").ok);
  EXPECT_NE(named(short_by, "memtotal-node-1").detail.find("over by 512 pages"), std::string::npos)
      << named(short_by, "memtotal-node-1").detail;
  // A memmap page freed though its block stayed fails.
  std::map<uint64_t, PageState> freed = same;
  freed[17920] = r.after.at(17920);
  auto lost = check_after_shrink_in_place(r.before, kMemBefore, freed, after, 1, unplugged);
  EXPECT_FALSE(named(lost, "pages-unchanged").ok);
  EXPECT_NE(named(lost, "pages-unchanged").detail.find("0x4600"), std::string::npos)
      << named(lost, "pages-unchanged").detail;
}

// The counters of a shrink in place: MemTotal and managed pages move, nothing else; a block
// that vanished without being counted as removed fails.
TEST(VirtioMemJudge, CountersOfAShrinkInPlace) {
  Recorded r;
  const std::map<int, int64_t> none{{1, 0}};
  auto same = check_counters(r.counters_before, r.counters_before, 0, 0, 1, true, none);
  for (const auto& c : same) EXPECT_TRUE(c.ok || !c.applicable) << c.name << ": " << c.detail;
  // Judged, not merely n/a: each listing was compared and found as before.
  for (const char* name : {"counters-meminfo", "counters-memory-blocks", "counters-zones", "counters-iomem"}) {
    EXPECT_TRUE(named(same, name).applicable) << name;
    EXPECT_TRUE(named(same, name).ok) << name << ": " << named(same, name).detail;
  }
  auto moved = check_counters(r.counters_before, r.counters_after, 0, 0, 1, true, none);
  EXPECT_FALSE(named(moved, "counters-memory-blocks").ok);
  EXPECT_FALSE(named(moved, "counters-meminfo").ok);
}

// The HTML report: the device over its whole range on its node's row, titled with what each
// resize asked and reached; a shrink's removed blocks marked departing before and removed after,
// its pages judged from the recorded query.
TEST(VirtioMemJudge, TheReportDrawsTheDeviceAndTheBlocksAShrinkRemoved) {
  ScenarioResult res;
  res.scenario = "virtio-mem-grow-shrink";
  res.nodes = {{0, "0-1", 1ull << 30}, {1, "", 0}};
  VirtioMem vm;
  vm.id = "vm0";
  vm.node = 1;
  vm.size = 1ull << 30;
  vm.addr = 0x100000000ull;
  res.virtio_mems = {vm};
  StepResult grow, shrink;
  grow.index = 0;
  grow.action = shrink.action = "resize";
  grow.target = shrink.target = "vm0";
  grow.outcome = shrink.outcome = "reached";
  grow.ok = shrink.ok = true;
  grow.detail = "size 512M as requested (was 0) after 0.2 s";
  shrink.index = 1;
  shrink.detail = "size 0 as requested (was 512M) after 1.0 s";
  res.steps = {grow, shrink};
  RunArtifacts a;
  for (const char* f : {"snapshot-before-step1", "query-after-step1", "frees-step1"})
    a[std::string(f) + ".txt"] = rig_test::data(kDir + f + ".txt");
  a["counters-before-step1.txt"] = rig_test::data(kCountersBefore);
  a["counters-after-step1.txt"] = rig_test::data(kCountersAfter);
  const ScenarioView v = build_scenario_view(res, a, "run-1");
  ASSERT_EQ(v.dimms.size(), 1u);
  EXPECT_TRUE(v.dimms[0].virtio_mem);
  EXPECT_EQ(v.dimms[0].node, 1);
  EXPECT_EQ(v.dimms[0].first_section, 32u);
  EXPECT_EQ(v.dimms[0].last_section, 39u);  // 1G: the unplugged half is drawn absent
  EXPECT_NE(v.dimms[0].title.find("step 1: size 0 as requested (was 512M)"), std::string::npos) << v.dimms[0].title;
  ASSERT_EQ(v.steps.size(), 2u);
  const StepView& s = v.steps[1];
  for (uint64_t nr = 32; nr <= 35; ++nr) {
    EXPECT_TRUE(s.before.cells.at(nr).departing) << nr;
    EXPECT_EQ(s.after.cells.at(nr).state, CellState::Removed) << nr;
  }
  EXPECT_GT(s.pages_judged, 0);
  EXPECT_TRUE(s.bad.empty());
  const std::string html = render_html_report(build_report_view({res}, {a}, RunInfo{}, ""));
  EXPECT_NE(html.find("class=\"dimm vmem\""), std::string::npos);
  EXPECT_NE(html.find("virtio-mem vm0 on node 1"), std::string::npos);
}
