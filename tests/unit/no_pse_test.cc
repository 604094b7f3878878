// A guest without PSE (clearcpuid=3, recorded on Debian 6.1, tests/data/nopse): the vmemmap and the
// direct map are 4 KiB-mapped. The boot vmemmap's PTE tables hold one reference per memmap page
// they map (1 + 512 for a full section), and a 256M hot-added DIMM's direct map takes 64 PTE tables
// per section (dmap_pte), allocated at hot-add and freed by remove_pte_table() at removal.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rig/spec/case_checks.h"
#include "rig/spec/case_classifier.h"
#include "rig/spec/free_trace.h"
#include "rig/spec/memmap_snapshot.h"
#include "rig/spec/page_accounting.h"
#include "check_lookup.h"
#include "test_data.h"

using namespace rig;

namespace {

constexpr uint64_t kFirst = 0x100000000ull >> 12, kCount = (256ull << 20) >> 12;

using rig_test::named;

}  // namespace

// The probe names a PTE table once per memmap page it maps ("pte:7" 512 times): the judge counts
// the table's references once, 1 + 512, not 512 times 512 (it expected refcount 262145 before).
TEST(NoPse, BootVmemmapPteTablesHoldOneReferencePerMemmapPage) {
  const MemmapSnapshot boot = parse_probe_snapshot(rig_test::data("nopse/6.1-snapshot-boot.txt"));
  const auto checks = check_boot_tags(boot);
  const CaseCheck& tables = named(checks, "boot-tags-page-tables");
  EXPECT_TRUE(tables.ok) << tables.detail;
  EXPECT_TRUE(tables.applicable);
  const auto owners = page_owners(boot);
  size_t pte_tables = 0;
  for (const auto& run : boot.runs)
    for (const auto& r : run.roles)
      if (r.kind == PageRoleKind::Pte && run.count == 1) {
        const auto& o = owners.at(run.pfn);
        ASSERT_EQ(o.size(), 1u) << run.pfn;
        EXPECT_EQ(o[0].refs, 512) << run.pfn;
        ++pte_tables;
        break;
      }
  EXPECT_EQ(pte_tables, 8u);  // one per boot section of 1G
}

// The removal: every direct-map PTE table of the DIMM freed (page-tables-freed counts them), and a
// table kept as it was with no free of it traced fails in the one removal.
TEST(NoPse, DirectMapPteTablesOfTheRemovedSectionsAreFreed) {
  const MemmapSnapshot before = parse_probe_snapshot(rig_test::data("nopse/6.1-snapshot-before-step2.txt"));
  std::map<uint64_t, PageState> after =
      states_by_pfn(parse_probe_query(rig_test::data("nopse/6.1-query-after-step2.txt")));
  apply_free_trace(parse_free_trace(rig_test::data("nopse/6.1-frees-step2.txt")), after);
  uint64_t dmap_pte = 0, planted = 0;
  PageState planted_state;
  for (const auto& run : before.runs)
    for (const auto& r : run.roles)
      if (r.kind == PageRoleKind::DmapPte && (r.owner == 32 || r.owner == 33)) {
        dmap_pte += run.count;
        if (!planted) {
          planted = run.pfn;
          planted_state = run.state;
        }
        break;
      }
  EXPECT_EQ(dmap_pte, 128u) << "64 PTE tables per 128M section";
  const RemovalAnalysis a = analyze_removal(before, kFirst, kCount);
  const NodeMemTotals mem_before{{0, 914996}, {1, 262144}}, mem_after{{0, 914996}};
  const auto ok = check_after_removal(a, before, mem_before, kFirst, kCount, after, mem_after);
  const CaseCheck& tables = named(ok, "page-tables-freed");
  EXPECT_TRUE(tables.ok) << tables.detail;
  EXPECT_NE(tables.detail.find("131 page-table pages"), std::string::npos) << tables.detail;
  // Planted: one of them still held as before, and no free of it in the trace.
  ASSERT_NE(planted, 0u);
  planted_state.frees_traced = true;
  planted_state.traced_free = false;
  after[planted] = planted_state;
  const auto bad = check_after_removal(a, before, mem_before, kFirst, kCount, after, mem_after);
  const CaseCheck& leak = named(bad, "page-tables-freed");
  EXPECT_FALSE(leak.ok);
  ASSERT_EQ(leak.offenders.size(), 1u) << leak.detail;
  EXPECT_EQ(leak.offenders[0].pfn, planted);
  EXPECT_NE(leak.offenders[0].roles.find("dmap_pte:3"), std::string::npos) << leak.offenders[0].roles;
}
