// The probe parser, the case classifier and the spec checks, on probe output recorded from
// Debian 6.1 and 6.12 guests (tests/data/probe) and on edits of it that plant one fault each.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_data.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "rig/spec/case_checks.h"
#include "rig/spec/case_classifier.h"
#include "rig/spec/free_trace.h"
#include "rig/machine/console_parser.h"
#include "rig/spec/memmap_snapshot.h"

using namespace rig;

namespace {

using rig_test::data;

// Replaces one exact line of recorded text (the fault planted in a test).
std::string replace_line(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from + "\n");
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The spec case each check judges: a check filed under another case would count coverage for
// the wrong one. 0: refusal-changed-nothing, which judges the refused removal's main case.
int spec_case(const std::string& name) {
  static const std::map<std::string, int> cases = {
      {"boot-tags-memmap", 1},
      {"memmap-freed", 1},
      {"page-tables-freed", 1},
      {"usage-freed", 1},
      {"pages-kept", 1},
      {"cycles-memtotal-stable", 1},
      {"cycles-no-free-memory-leak", 1},
      {"removed-memory-gone", 2},
      {"boot-tags-page-tables", 3},
      {"offline-skips-memmap", 4},
      {"offline-skips-self-hosted-memmap", 4},
      {"boot-tags-pgdat", 5},
      {"boot-tags-pgdat-shared-page", 5},
      {"boot-tags-pgdat-usage-page", 5},
      {"pgdat-kept", 5},
      {"pgdat-reused", 5},
  };
  if (auto it = cases.find(name); it != cases.end()) return it->second;
  if (name.rfind("memtotal-node-", 0) == 0) return 1;
  if (name.rfind("dependents-first-section-", 0) == 0) return 3;
  return 0;
}

void expect_spec_case(const CaseCheck& c) {
  if (const int want = spec_case(c.name)) {
    EXPECT_EQ(c.case_no, want) << c.name << ": " << c.detail;
  }
}

// A check by name (and, where the spec names one, filed under its case).
const CaseCheck* find_check(const std::vector<CaseCheck>& checks, const std::string& name) {
  for (const auto& c : checks)
    if (c.name == name) {
      expect_spec_case(c);
      return &c;
    }
  return nullptr;
}

// Every check passed, and every one judged something except those named in `may_be_na` (an n/a
// check also has ok set: a loop over ok alone would let a check that judged nothing through).
void expect_all_passed_and_judged(const std::vector<CaseCheck>& checks, const std::set<std::string>& may_be_na,
                                  const std::string& where = "") {
  for (const auto& c : checks) {
    expect_spec_case(c);
    EXPECT_TRUE(c.ok) << where << c.name << ": " << c.detail;
    if (!may_be_na.count(c.name)) {
      EXPECT_TRUE(c.applicable) << where << c.name << " judged nothing: " << c.detail;
    }
  }
}

constexpr uint64_t kDimmPfn = 0x100000000ull >> 12;
constexpr uint64_t kDimmPages = (512ull << 20) >> 12;
// Node MemTotal (kB) around the recorded removal on 6.1: node 0 grew by 8196 kB = 2049 pages.
const NodeMemTotals kMemBefore = {{0, 910364}, {1, 524288}};
const NodeMemTotals kMemAfter = {{0, 918560}};

// Recorded removal of the 512M boot DIMM at 4 GiB: the probe's snapshot before it and the checks
// run against a recorded query answer after it (which a test may edit to plant a fault).
struct DimmRemoval {
  MemmapSnapshot before;
  RemovalAnalysis analysis;
};

DimmRemoval recorded_before(const std::string& snapshot) {
  DimmRemoval r;
  r.before = parse_probe_snapshot(data("probe/" + snapshot));
  r.analysis = analyze_removal(r.before, kDimmPfn, kDimmPages);
  return r;
}

std::vector<CaseCheck> removal_checks(const DimmRemoval& r, const std::string& after_text,
                                      const NodeMemTotals& mem_before, const NodeMemTotals& mem_after) {
  return check_after_removal(r.analysis, r.before, mem_before, kDimmPfn, kDimmPages,
                             states_by_pfn(parse_probe_query(after_text)), mem_after);
}

}  // namespace

TEST(ProbeFormat, ParsesARecordedSnapshot) {
  MemmapSnapshot s = parse_probe_snapshot(data("probe/movable-6.1-before.txt"));
  EXPECT_EQ(s.kernel, "6.1.0-56-amd64");
  EXPECT_EQ(s.encoding, "index-private");
  EXPECT_EQ(s.types.section, 12u);
  EXPECT_EQ(s.types.node, 14u);
  EXPECT_EQ(s.struct_page, 64);
  EXPECT_EQ(s.paging_levels, 4);
  EXPECT_EQ(s.sections.size(), 12u);
  ASSERT_NE(s.section(35), nullptr);
  EXPECT_EQ(s.section(35)->nid, 1);
  EXPECT_TRUE(s.section(35)->early);
  ASSERT_NE(s.node(1), nullptr);
  EXPECT_EQ(s.pages_per_section(), 32768u);
}

TEST(ProbeFormat, RejectsMalformedAndUnknownVersions) {
  const std::string good = data("probe/movable-6.1-before.txt");
  auto error_of = [](const std::string& text) -> std::string {
    try {
      parse_probe_snapshot(text);
    } catch (const ProbeFormatError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(error_of(replace_line(good, "rig-probe 1", "rig-probe 9")).find("unknown probe format 9"),
            std::string::npos);
  EXPECT_NE(error_of(good.substr(0, good.find("end "))).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(replace_line(good, "S 7 nid=0 early=1 online=1", "S 7 nid=zero early=1 online=1"))
                .find("line 15: not a number: zero"),
            std::string::npos);
  EXPECT_NE(error_of("hello\n").find("not probe output"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_THROW(parse_probe_query("rig-probe-query 1\nQ 5 1 gone\n"), ProbeFormatError);  // no end
}

TEST(CaseClassifier, MovableNodeDimmIsCaseOne) {
  MemmapSnapshot s = parse_probe_snapshot(data("probe/movable-6.1-before.txt"));
  RemovalAnalysis a = analyze_removal(s, kDimmPfn, kDimmPages);
  EXPECT_EQ(a.node, 1);
  ASSERT_EQ(a.sections.size(), 4u);
  for (const auto& sp : a.sections) {
    EXPECT_EQ(sp.cases, std::set<int>{1}) << sp.section;
    EXPECT_EQ(sp.memmap_hosts.size(), 1u);
    EXPECT_EQ(sp.memmap_hosts.begin()->first, 7u) << "memmap lives on node 0's top section";
    EXPECT_EQ(sp.memmap_hosts.begin()->second, 512u);
  }
  EXPECT_FALSE(a.pgdat_inside);
  EXPECT_TRUE(a.removable_per_spec());
  EXPECT_EQ(a.cases, (std::set<int>{1, 5}));
}

TEST(CaseClassifier, DimmHoldingItsOwnNodesMemmapIsCasesTwoThreeFive) {
  MemmapSnapshot s = parse_probe_snapshot(data("probe/busy-6.1-before.txt"));
  RemovalAnalysis a = analyze_removal(s, kDimmPfn, kDimmPages);
  ASSERT_EQ(a.sections.size(), 4u);
  const SectionPlacement& top = a.sections.back();
  EXPECT_EQ(top.section, 35u);
  EXPECT_EQ(top.cases, (std::set<int>{2, 3, 4}));
  EXPECT_EQ(top.dependents, (std::set<uint64_t>{32, 33, 34}));
  EXPECT_EQ(a.sections[0].cases, (std::set<int>{2, 4})) << a.sections[0].explanation;
  EXPECT_EQ(a.sections[0].explanation, "memmap on section 35, which goes with it");
  EXPECT_TRUE(a.pgdat_inside);
  EXPECT_FALSE(a.removable_per_spec());
  EXPECT_TRUE(a.order.empty()) << "every dependent goes with the DIMM";
}

// memmap_on_memory: the memmap lives on the departing memory itself (cases 2 and 4). The
// removal's node is its first section's, however many nodes the range spans.
TEST(CaseClassifier, SelfHostedMemmapIsCasesTwoAndFourOnTheFirstSectionsNode) {
  const MemmapSnapshot s = parse_probe_snapshot(
      "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 64\n"
      "section_shift 27\npaging_levels 4\nS 7 nid=0 early=1 online=1\nS 32 nid=0 early=0 online=1\n"
      "S 33 nid=1 early=0 online=1\nN 0 pgdat_pfn=1000 pgdat_bytes=4096 online=1\n"
      "P 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no held=other roles=pgdat:0\n"
      "P 1048576 512 nid=0 res=0 priv=0 buddy=0 selfhosted=1 ref=1 type=0 info=0 free=no held=other "
      "roles=memmap:32\n"
      "end 2\n");
  const RemovalAnalysis a = analyze_removal(s, 32ull << 15, 2ull << 15);
  ASSERT_EQ(a.sections.size(), 2u);
  EXPECT_TRUE(a.sections[0].selfhosted);
  EXPECT_EQ(a.sections[0].cases, (std::set<int>{2, 4})) << a.sections[0].explanation;
  EXPECT_EQ(a.node, 0) << "section 32's node";
}

TEST(CaseClassifier, RemovalOrderForAHolderWhoseDependentsStay) {
  MemmapSnapshot s = parse_probe_snapshot(data("probe/busy-6.1-before.txt"));
  // Remove only section 35 (as if it were its own DIMM): 32-34 stay and need it.
  RemovalAnalysis a = analyze_removal(s, 35ull << 15, 1ull << 15);
  ASSERT_EQ(a.order.size(), 1u);
  EXPECT_EQ(a.order[0], "remove section 32, 33, 34 before section 35");
  EXPECT_FALSE(a.removable_per_spec());
}

TEST(CaseChecks, RecordedRemovalOnDebian61Passes) {
  auto checks = removal_checks(recorded_before("movable-6.1-before.txt"), data("probe/movable-6.1-after.txt"),
                               kMemBefore, kMemAfter);
  ASSERT_GE(checks.size(), 6u);
  // Format 1 cannot show a page freed: the fate checks of freed pages judged nothing here (the format-2
  // recordings below judge them); the usage maps share slab pages with sections that stay.
  expect_all_passed_and_judged(checks, {"memmap-freed", "page-tables-freed", "usage-freed"});
  const CaseCheck* mem = find_check(checks, "memtotal-node-0");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(
      mem->detail,
      "node 0 MemTotal +8196 kB (+2049 pages); the accounting model expects +2049 pages (Reserved pages to be freed "
      "onto it: dmap_pmd 1, memmap 2048)");
  // Format 1: the direct-map PMD table of [4G, 5G) is expected freed, which this answer cannot show.
  EXPECT_FALSE(find_check(checks, "page-tables-freed")->applicable);
  EXPECT_TRUE(find_check(checks, "pages-kept")->ok) << "vmemmap PMD/PUD tables, usage: shared with node 0";
}

TEST(CaseChecks, LeakedMemmapFailsNamingPfnsAndSection) {
  // Plant a leak: section 33's memmap block stays tagged after the removal (a missing put).
  std::string after_text = replace_line(data("probe/movable-6.1-after.txt"),
                                        "Q 255488 512 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0",
                                        "Q 255488 512 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=1 type=12 info=33");
  auto checks = removal_checks(recorded_before("movable-6.1-before.txt"), after_text, kMemBefore, {{0, 918560 - 2048}});
  const CaseCheck* leak = find_check(checks, "memmap-freed");
  ASSERT_NE(leak, nullptr);
  EXPECT_FALSE(leak->ok);
  EXPECT_EQ(leak->detail,
            "pfn 0x3e600-0x3e7ff (512 pages): bootmem memmap:33: expected freed (every owner is gone and it lies on "
            "memory that "
            "stays; owners: section 33 (1 ref)); leaked: every owner is gone but the page was not given back: Reserved "
            "Private "
            "refcount 1 SECTION_INFO info 33 node 0");
  EXPECT_EQ(leak->offenders.size(), 512u);
  EXPECT_EQ(leak->offenders.front().roles, "memmap:33");
  // MemTotal grew by the 1537 pages that were freed, the model wants 2049: the leak fails twice.
  const CaseCheck* mem = find_check(checks, "memtotal-node-0");
  EXPECT_FALSE(mem->ok);
  EXPECT_NE(mem->detail.find("short by 512 pages"), std::string::npos) << mem->detail;
}

TEST(CaseChecks, MemTotalThatDoesNotMatchTheFreedPagesFails) {
  auto checks = removal_checks(recorded_before("movable-6.1-before.txt"), data("probe/movable-6.1-after.txt"),
                               kMemBefore, {{0, 918560 + 4}});
  const CaseCheck* mem = find_check(checks, "memtotal-node-0");
  ASSERT_NE(mem, nullptr);
  EXPECT_FALSE(mem->ok);
  EXPECT_EQ(
      mem->detail,
      "node 0 MemTotal +8200 kB (+2050 pages); the accounting model expects +2049 pages (Reserved pages to be freed "
      "onto it: dmap_pmd 1, memmap 2048): over by 1 pages");
}

TEST(CaseChecks, PageInsideRemovedMemoryHandedToTheAllocatorFails) {
  std::string after_text =
      replace_line(data("probe/movable-6.1-after.txt"), "Q 1048576 131072 gone",
                   "Q 1048576 2 nid=1 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=9\nQ 1048578 131070 gone");
  auto checks = removal_checks(recorded_before("movable-6.1-before.txt"), after_text, kMemBefore, kMemAfter);
  const CaseCheck* gone = find_check(checks, "removed-memory-gone");
  ASSERT_NE(gone, nullptr);
  EXPECT_FALSE(gone->ok);
  EXPECT_EQ(gone->case_no, 2);
  EXPECT_EQ(gone->detail,
            "pfn 0x100000-0x100001 (2 pages): inside removed section 32, handed to the page allocator: Buddy refcount "
            "0 untagged info 9 node 1");
}

// A failure names the first 8 kinds of offence, then says there are more; every page stays
// evidence.
TEST(CaseChecks, AFailureNamesEightKindsOfOffenceAndThenStops) {
  std::string planted;
  for (int i = 0; i < 10; ++i)
    planted += fmt::format("Q {} 1 nid=1 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info={}\n", 1048576 + i, i);
  planted += "Q 1048586 131062 gone";
  auto checks = removal_checks(recorded_before("movable-6.1-before.txt"),
                               replace_line(data("probe/movable-6.1-after.txt"), "Q 1048576 131072 gone", planted),
                               kMemBefore, kMemAfter);
  const CaseCheck* gone = find_check(checks, "removed-memory-gone");
  ASSERT_NE(gone, nullptr);
  EXPECT_FALSE(gone->ok);
  EXPECT_EQ(gone->offenders.size(), 10u);
  size_t named = 0;
  for (size_t at = 0; (at = gone->detail.find("pfn 0x", at)) != std::string::npos; ++at) ++named;
  EXPECT_EQ(named, 8u) << gone->detail;
  EXPECT_EQ(gone->detail.substr(gone->detail.size() - 5), "; ...") << gone->detail;
}

TEST(CaseChecks, RecordedRefusalOnDebian61Passes) {
  DimmRemoval r = recorded_before("busy-6.1-before.txt");
  auto after = states_by_pfn(parse_probe_query(data("probe/busy-6.1-after.txt")));
  const NodeMemTotals mem = {{0, 910000}, {1, 500000}};
  auto checks = check_after_refusal(r.analysis, r.before, mem, after, mem, {});
  expect_all_passed_and_judged(checks, {"offline-skips-memmap", "pgdat-kept"});
  EXPECT_NE(find_check(checks, "refusal-changed-nothing"), nullptr);
  const CaseCheck* pg = find_check(checks, "pgdat-kept");
  ASSERT_NE(pg, nullptr);
  EXPECT_FALSE(pg->applicable) << "a refusal cannot fail it: " << pg->detail;
  EXPECT_TRUE(find_check(checks, "refusal-changed-nothing")->applicable);
}

TEST(CaseChecks, RefusalWithSideEffectsFails) {
  DimmRemoval r = recorded_before("busy-6.1-before.txt");
  // Find node 1's pgdat run in the recorded answer and plant a put_page_bootmem() that ran anyway.
  std::string after_text = data("probe/busy-6.1-after.txt");
  std::string line;
  std::istringstream in(after_text);
  std::string pgdat_line;
  while (std::getline(in, line))
    if (line.find("type=14 info=1") != std::string::npos) pgdat_line = line;
  ASSERT_FALSE(pgdat_line.empty());
  std::string changed = pgdat_line;
  changed.replace(changed.find("ref=2"), 5, "ref=1");
  // The pfns appear twice in the answer (as snapshot pages and inside the DIMM's range).
  for (size_t at; (at = after_text.find(pgdat_line + "\n")) != std::string::npos;)
    after_text.replace(at, pgdat_line.size(), changed);
  const NodeMemTotals mem = {{0, 910000}, {1, 500000}};
  auto checks = check_after_refusal(r.analysis, r.before, mem, states_by_pfn(parse_probe_query(after_text)),
                                    {{0, 910000}, {1, 500004}}, {});
  const CaseCheck* c = find_check(checks, "refusal-changed-nothing");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->ok);
  EXPECT_NE(c->detail.find("was Reserved Private refcount 2 NODE_INFO info 1 node 1; now Reserved Private refcount 1 "
                           "NODE_INFO info 1 node 1"),
            std::string::npos)
      << c->detail;
  EXPECT_NE(c->detail.find("node 1 MemTotal 500000 -> 500004 kB"), std::string::npos) << c->detail;
}

TEST(CaseChecks, BootTagsOfDebian61AreConsistent) {
  auto checks = check_boot_tags(parse_probe_snapshot(data("probe/movable-6.1-before.txt")));
  ASSERT_EQ(checks.size(), 5u);
  expect_all_passed_and_judged(checks, {"boot-tags-pgdat-usage-page"});
  const CaseCheck* shared = find_check(checks, "boot-tags-pgdat-shared-page");
  EXPECT_TRUE(shared->applicable && shared->ok)
      << "both pgdats on node 0, back to back, page-aligned: " << shared->detail;
  EXPECT_FALSE(find_check(checks, "boot-tags-pgdat-usage-page")->applicable) << "6.1 page-aligns pgdat";
  EXPECT_EQ(checks[0].detail,
            "6144 memmap pages of boot sections tagged SECTION_INFO with their section, refcount 1 + registrations");
}

TEST(CaseChecks, Debian612PgdatSharingAPageIsReported) {
  // Recorded: 6.12 aligns pgdat to a cache line; node 1's last page is node 0's first.
  auto checks = check_boot_tags(parse_probe_snapshot(data("probe/movable-6.12-boot.txt")));
  EXPECT_TRUE(find_check(checks, "boot-tags-pgdat")->ok) << "every other pgdat page is tagged right";
  const CaseCheck* pg = find_check(checks, "boot-tags-pgdat-shared-page");
  ASSERT_NE(pg, nullptr);
  EXPECT_FALSE(pg->ok);
  ASSERT_EQ(pg->offenders.size(), 1u);
  EXPECT_EQ(pg->offenders[0].roles, "pgdat:0,pgdat:1");
  EXPECT_EQ(pg->detail,
            "pfn 0x3fc0f (1 pages): one page holds the pgdat of nodes 0, 1 and is tagged for node 0 only: "
            "Reserved Private refcount 2 NODE_INFO info 0 node 0");
}

TEST(CaseChecks, SectionSharingItsBackingBlockWithANeighbour) {
  // Recorded on the rig's own tinyconfig 6.1.192 (struct page 56 bytes): a section's memmap is
  // 448 pages, so 2 MiB blocks straddle sections and both register them (refcount 3).
  const std::string text = data("probe/tiny56-6.1-before.txt");
  MemmapSnapshot s = parse_probe_snapshot(text);
  EXPECT_EQ(s.struct_page, 56);
  auto placements = memmap_placements(s);
  EXPECT_EQ(placements[33].memmap_hosts.size(), 1u);
  EXPECT_EQ(placements[33].memmap_hosts.begin()->second, 448u);
  expect_all_passed_and_judged(check_boot_tags(s), {"boot-tags-pgdat-usage-page"});

  // Plant a fault: one straddling block registered only once.
  auto bad = check_boot_tags(parse_probe_snapshot(
      replace_line(text, "P 256512 384 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=3 type=12 info=34 roles=memmap:33",
                   "P 256512 384 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=12 info=34 roles=memmap:33")));
  const CaseCheck* c = find_check(bad, "boot-tags-memmap");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->ok);
  EXPECT_EQ(
      c->detail,
      "pfn 0x3ea00-0x3eb7f (384 pages): backs section 33 in a block registered by section 33, 34: expected Reserved "
      "Private SECTION_INFO naming one of them, refcount 3; saw Reserved Private refcount 2 SECTION_INFO info 34 node "
      "0");
}

TEST(CaseChecks, RecordedLeakOfStraddlingBlocksFailsCaseOne) {
  // The same kernel leaks: removing sections 32-35 puts each straddling block once, though two
  // sections registered it; those pages stay tagged with refcount 2.
  // Recorded: node 0 MemTotal +2052 kB.
  auto checks = removal_checks(recorded_before("tiny56-6.1-before.txt"), data("probe/tiny56-6.1-after.txt"),
                               {{0, 900000}, {1, 500000}}, {{0, 902052}});
  const CaseCheck* leak = find_check(checks, "memmap-freed");
  ASSERT_NE(leak, nullptr);
  EXPECT_FALSE(leak->ok);
  EXPECT_NE(
      leak->detail.find(
          "pfn 0x3ea01-0x3eb7f (383 pages): bootmem memmap:33: expected freed (every owner is gone and it lies on "
          "memory that stays; owners: section 33 (1 ref), 34 (1 ref)); leaked"),
      std::string::npos)
      << leak->detail;
  bool names_35 = false;
  for (const auto& p : leak->offenders) names_35 |= p.pfn == 0x3e940 && p.roles == "memmap:35";
  EXPECT_TRUE(names_35) << "every leaked page is evidence, also past the detail's first groups";
  EXPECT_FALSE(find_check(checks, "memtotal-node-0")->ok) << "256 pages that back no section were freed too";
  EXPECT_TRUE(find_check(checks, "removed-memory-gone")->ok);
}

TEST(CaseChecks, ReadsTheUnmovablePagesOfARecordedRefusal) {
  ConsoleParser p;
  p.feed(data("console/busy-refusal-6.1.log"));
  p.finish();
  std::vector<std::vector<std::string>> dumps;
  for (const auto& f : p.findings()) dumps.push_back(f.lines);
  auto pages = parse_page_dumps(dumps);
  ASSERT_FALSE(pages.empty());
  for (const auto& d : pages) EXPECT_GE(d.pfn, 0x100000u) << d.header;
}

TEST(CaseChecks, CyclesCatchAFreeMemoryLeakAndMemTotalDrift) {
  // {MemTotal, free} kB per node before the first cycle and after each.
  const NodeMeminfo base = {{0, {918000, 800300}}};
  std::vector<NodeMeminfo> clean = {{{0, {918000, 800000}}}, {{0, {918000, 799700}}}, {{0, {918000, 800100}}}};
  expect_all_passed_and_judged(check_cycles(base, clean), {});
  // The memmap of a 128M section (2 MiB) lost in one cycle, MemTotal short by a page in another.
  std::vector<NodeMeminfo> leaky = {
      {{0, {918000, 800000}}}, {{0, {918000, 797952}}}, {{0, {918000, 797900}}}, {{0, {917996, 797800}}}};
  auto checks = check_cycles(base, leaky);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_FALSE(checks[0].ok);
  EXPECT_EQ(checks[0].detail, "after cycle 4 node 0 MemTotal 917996 kB (918000 kB after cycle 3)");
  EXPECT_FALSE(checks[1].ok);
  EXPECT_EQ(checks[1].detail,
            "free memory change of each cycle against the one before (kB): -300, -2048, -52, -100; worst drop 2048 kB, "
            "worst that no later reading gave back 2048 kB (slack 1024 kB per cycle): cycle 2 lost 2048 kB of free "
            "memory that never came back");
  // The first cycle is judged too: against the baseline.
  auto first = check_cycles(base, {{{0, {917996, 798000}}}});
  EXPECT_FALSE(first[0].ok);
  EXPECT_FALSE(first[1].ok);
  EXPECT_TRUE(check_cycles(base, {}).empty());
}

TEST(CaseChecks, CyclesForgiveATransientThatALaterReadingGaveBack) {
  // Recorded on 6.12 in CI (hotplug-cycles, free kB per cycle: -52, -52, -168, -6852, +6972, +96):
  // cycle 4's 6.7 MB came back in cycle 5; nothing leaked.
  const NodeMeminfo base = {{0, {887000, 700000}}, {1, {0, 0}}};
  std::vector<NodeMeminfo> ci;
  int64_t free = 700000;
  for (int d : {-52, -52, -168, -6852, +6972, +96}) {
    free += d;
    ci.push_back({{0, {887000, static_cast<uint64_t>(free)}}, {1, {0, 0}}});
  }
  auto checks = check_cycles(base, ci);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_TRUE(checks[1].ok) << checks[1].detail;
  EXPECT_NE(checks[1].detail.find("worst drop 6852 kB, worst that no later reading gave back 52 kB"), std::string::npos)
      << checks[1].detail;

  // The same transient in the last cycle: a leak until a settled reading after it gives it back.
  std::vector<NodeMeminfo> last = {{{0, {887000, 699900}}}, {{0, {887000, 693000}}}};
  const NodeMeminfo b0 = {{0, {887000, 700000}}};
  EXPECT_FALSE(check_cycles(b0, last)[1].ok);
  auto settled = check_cycles(b0, last, kCycleFreeSlackKb, {{{0, {887000, 694000}}}, {{0, {887000, 699950}}}});
  EXPECT_TRUE(settled[1].ok) << settled[1].detail;
  EXPECT_NE(settled[1].detail.find("settled readings after the last cycle: +1000, +6950"), std::string::npos)
      << settled[1].detail;

  // Half of it back is still a leak of the other half, named as such.
  auto half = check_cycles(b0, last, kCycleFreeSlackKb, {{{0, {887000, 696450}}}});
  EXPECT_FALSE(half[1].ok);
  EXPECT_NE(half[1].detail.find("cycle 2 lost 6900 kB of free memory, 3450 kB of it never came back"),
            std::string::npos)
      << half[1].detail;
  // A leak in an early cycle is not hidden by later noise.
  std::vector<NodeMeminfo> early = {{{0, {887000, 695904}}}, {{0, {887000, 696000}}}, {{0, {887000, 695950}}}};
  EXPECT_FALSE(check_cycles(b0, early, kCycleFreeSlackKb, {{{0, {887000, 696100}}}})[1].ok);
}

// The slack is a bound a cycle may reach: exactly kCycleFreeSlackKb kB that never came back
// passes, one more fails. A node that went away is named with the cycle it went in.
TEST(CaseChecks, CyclesSlackIsInclusiveAndAVanishedNodeIsNamedWithItsCycle) {
  const NodeMeminfo base = {{0, {918000, 800000}}, {1, {262144, 200000}}};
  auto at_slack = check_cycles(base, {{{0, {918000, 800000}}, {1, {262144, 200000 - kCycleFreeSlackKb}}}});
  ASSERT_EQ(at_slack.size(), 2u);
  EXPECT_TRUE(at_slack[1].ok) << at_slack[1].detail;
  auto over = check_cycles(base, {{{0, {918000, 800000}}, {1, {262144, 200000 - kCycleFreeSlackKb - 1}}}});
  ASSERT_EQ(over.size(), 2u);
  EXPECT_FALSE(over[1].ok) << over[1].detail;
  auto gone = check_cycles(base, {base, {{0, {918000, 800000}}}});
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_FALSE(gone[0].ok);
  EXPECT_EQ(gone[0].detail, "after cycle 2 node 1 is gone (it was there after cycle 1)");
}

#include "rig/base/errors.h"
#include "rig/run/guest_memory.h"

TEST(GuestMemory, HvoIsInEffectOnlyWithTheSysctlOnAndHugetlbPages) {
  const std::string sizes =
      "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages:0\n"
      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:0\n";
  const std::string gigantic =
      "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages:1\n"
      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:0\n";
  EXPECT_FALSE(hvo_in_effect("sysctl 1\n" + sizes + "end\n"));
  EXPECT_FALSE(hvo_in_effect("sysctl 0\n" + gigantic + "end\n"));
  EXPECT_FALSE(hvo_in_effect("sysctl absent\n" + gigantic + "end\n"));
  EXPECT_FALSE(hvo_in_effect("sysctl 1\nhugepages absent\nend\n"));
  // Every size counts, not only the default one (HugePages_Total): one 1 GiB page is enough.
  EXPECT_TRUE(hvo_in_effect("sysctl 1\n" + gigantic + "end\n"));
  EXPECT_TRUE(hvo_in_effect("sysctl 1\n/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:4\nend\n"));
  // Fails closed: an answer it cannot read is an error, never "HVO off".
  for (const std::string& bad :
       {std::string(""), std::string("sysctl 1\n"), "sysctl 1\n" + gigantic, "sysctl 2\n" + sizes + "end\n",
        "sysctl 1\nsysctl 0\n" + sizes + "end\n", sizes + "sysctl 1\nend\n", std::string("sysctl 1\nend\n"),
        std::string("sysctl 1\n/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:\nend\n"),
        std::string("sysctl 1\n/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:-1\nend\n"),
        std::string("sysctl 1\n/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages:1\nend\n"),
        "sysctl 1\nhugepages absent\n" + gigantic + "end\n", "sysctl 1\n" + sizes + "end\nmore\n",
        std::string("1\nHugePages_Total:       4\n")})
    EXPECT_THROW(hvo_in_effect(bad), ProbeFormatError) << bad;
}

TEST(GuestMemory, CountsPerCpuPagesPerNode) {
  const std::string zoneinfo =
      "Node 0, zone      DMA\n  pages free     3840\n  pagesets\n    cpu: 0\n              count: 0\n              "
      "high:  0\n"
      "Node 0, zone   Normal\n  pagesets\n    cpu: 0\n              count: 1024\n    cpu: 1\n              count: 60\n"
      "Node 1, zone  Movable\n  pagesets\n    cpu: 0\n              count: 5\n  node_unreclaimable:  0\n";
  auto pcp = parse_zoneinfo_pcp_pages(zoneinfo);
  EXPECT_EQ(pcp[0], 1084u);
  EXPECT_EQ(pcp[1], 5u);
  EXPECT_EQ(parse_node_memtotal("Node 0 MemTotal:         918560 kB\nNode 0 MemFree: 1 kB\n"), 918560u);
  EXPECT_EQ(parse_node_meminfo_field("Node 0 MemTotal:         918560 kB\nNode 0 MemFree:   848000 kB\n", "MemFree"),
            848000u);
}

TEST(CaseChecks, RemovingAHolderBeforeItsDependentsFailsCaseThree) {
  MemmapSnapshot before = parse_probe_snapshot(data("probe/busy-6.1-before.txt"));
  const uint64_t first = 35ull << 15, count = 1ull << 15;
  RemovalAnalysis a = analyze_removal(before, first, count);
  // As if the kernel had let section 35 go while 32-34 still use the memmap on it.
  std::map<uint64_t, PageState> after;
  for (const auto& run : before.runs)
    for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
      if (!a.contains(before.pfn_section(pfn))) after[pfn] = run.state;
  auto checks =
      check_after_removal(a, before, {{0, 900000}, {1, 500000}}, first, count, after, {{0, 900000}, {1, 369072}});
  const CaseCheck* c = find_check(checks, "dependents-first-section-35");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->ok);
  EXPECT_EQ(c->case_no, 3);
  EXPECT_EQ(
      c->detail,
      "section 35 was removed while it held the memmap of section 32, 33, 34, which stays: the kernel should have "
      "refused and said to remove 32, 33, 34 first");
  EXPECT_FALSE(find_check(checks, "pgdat-kept")->ok) << "node 1's pgdat went with section 35";
}

// ---- Page accounting: every page the probe knows has one expected fate after a step. ----
#include "rig/spec/page_accounting.h"

namespace {

// The recorded R6 removal: a 256 MiB boot DIMM at 64 GiB (sections 512-513) under movable_node.
constexpr uint64_t k64gPfn = 0x1000000000ull >> 12;
constexpr uint64_t k64gPages = (256ull << 20) >> 12;

std::vector<CaseCheck> removal_64g(const std::string& kernel, const std::string& after_text, uint64_t kb_before,
                                   uint64_t kb_after) {
  MemmapSnapshot before = parse_probe_snapshot(data("probe/pt64-" + kernel + "-before.txt"));
  RemovalAnalysis a = analyze_removal(before, k64gPfn, k64gPages);
  return check_after_removal(a, before, {{0, kb_before}, {1, 262144}}, k64gPfn, k64gPages,
                             states_by_pfn(parse_probe_query(after_text)), {{0, kb_after}});
}

}  // namespace

TEST(PageAccounting, OwnersAndReferencesFollowTheKernelsRegistration) {
  MemmapSnapshot s = parse_probe_snapshot(data("probe/pt64-6.1-before.txt"));
  auto owners = page_owners(s);
  // The PMD table that maps only sections 512-513: one reference from each.
  const auto& pmd = owners.at(261065);
  ASSERT_EQ(pmd.size(), 2u);
  EXPECT_EQ(pmd[0].id, 512);
  EXPECT_EQ(pmd[0].refs, 1);
  EXPECT_EQ(pmd[1].refs, 1);
  // The PUD table: two references per section with 4-level paging (pgd_page == p4d_page).
  int64_t pud_refs = 0;
  for (const auto& o : owners.at(261067)) pud_refs += o.refs;
  EXPECT_EQ(pud_refs, 20);
  // pgdat: its node, one reference.
  ASSERT_EQ(owners.at(261079).size(), 1u);
  EXPECT_TRUE(owners.at(261079)[0].node);
  EXPECT_EQ(owners.at(261079)[0].refs, 1);
  ASSERT_EQ(owners.at(261122).size(), 1u);
  EXPECT_EQ(owners.at(261122)[0].id, 0);
  EXPECT_EQ(owners.at(261122)[0].refs, 1) << "node 0 is a boot node too";
  // Boot refcounts are 1 + those references, so the boot check holds with exact refcounts.
  expect_all_passed_and_judged(check_boot_tags(s), {"boot-tags-pgdat-usage-page"});
}

// References by role: a PUD table takes two per step with 4-level paging (pgd_page ==
// p4d_page), one with 5; a usage map one when it is a boot section's Reserved page; a section
// added at run time registers nothing.
TEST(PageAccounting, PudAndUsageReferencesFollowPagingLevelsAndBootSections) {
  const auto owners = [](int levels, const std::string& usage_state) {
    return page_owners(parse_probe_snapshot(fmt::format(
        "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 64\n"
        "section_shift 27\npaging_levels {}\nS 7 nid=0 early=1 online=1\nS 32 nid=0 early=0 online=1\n"
        "P 3000 512 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=12 info=7 free=no held=other roles=memmap:7\n"
        "P 5000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=3 type=13 info=7 free=no held=other roles=pud:7,pud:32\n"
        "P 5001 1 nid=0 {} ref=2 type=13 info=7 free=no held=other roles=usage:7,usage:32\n"
        "end 3\n",
        levels, usage_state)));
  };
  const auto refs = [](const std::vector<PageOwner>& o) {
    std::vector<int64_t> r;
    for (const auto& x : o) r.push_back(x.refs);
    return r;
  };
  const auto four = owners(4, "res=1 priv=1 buddy=0 selfhosted=0");
  const auto five = owners(5, "res=0 priv=1 buddy=0 selfhosted=0");
  EXPECT_EQ(refs(four.at(5000)), (std::vector<int64_t>{4, 0})) << "2 steps of 2 MiB, 2 references each";
  EXPECT_EQ(refs(five.at(5000)), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(refs(four.at(5001)), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(refs(five.at(5001)), (std::vector<int64_t>{0, 0})) << "not Reserved: slab, no bootmem reference";
}

// A PMD table kept for section 7 may lose the references of sections 32 and 33, removed, but
// not section 7's: its refcount may go from 1 + 2 + 2 + 2 down to 1 + 2, no lower.
TEST(PageAccounting, AKeptTableKeepsTheStayingSectionsReferences) {
  std::string text =
      "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 64\n"
      "section_shift 27\npaging_levels 4\nS 7 nid=0 early=1 online=1\nS 32 nid=0 early=1 online=1\n"
      "S 33 nid=0 early=1 online=1\n";
  for (int sec : {7, 32, 33})
    text += fmt::format(
        "P {} 512 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=12 info={} free=no held=other roles=memmap:{}\n",
        sec * 1000, sec, sec);
  text +=
      "P 50000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=7 type=13 info=33 free=no held=other "
      "roles=pmd:7,pmd:32,pmd:33\nend 4\n";
  const MemmapSnapshot s = parse_probe_snapshot(text);
  int judged = 0;
  for (const auto& e : expected_fates(s, 32ull << 15, 2ull << 15, true))
    if (e.pfn == 50000) {
      ++judged;
      EXPECT_EQ(e.fate, Fate::Kept);
      EXPECT_EQ(e.min_ref, 3) << e.owners_text();
      EXPECT_EQ(e.max_ref, 7);
    }
  EXPECT_EQ(judged, 1);
}

TEST(PageAccounting, FatesOfTheRecordedRemovalAt64GiB) {
  MemmapSnapshot s = parse_probe_snapshot(data("probe/pt64-6.1-before.txt"));
  std::map<std::string, std::string> fate_of_role;
  for (const auto& e : expected_fates(s, k64gPfn, k64gPages, true)) fate_of_role[e.roles_text()] = fate_name(e.fate);
  EXPECT_EQ(fate_of_role["pmd:512,pmd:513"], "freed");
  EXPECT_EQ(fate_of_role["dmap_pmd:512,dmap_pmd:513"], "freed");
  EXPECT_EQ(fate_of_role["memmap:512"], "freed");
  EXPECT_EQ(fate_of_role["pmd:0,pmd:1,pmd:2,pmd:3,pmd:4,pmd:5,pmd:6,pmd:7"], "kept");
  EXPECT_EQ(fate_of_role["pud:0,pud:1,pud:2,pud:3,pud:4,pud:5,pud:6,pud:7,pud:512,pud:513"], "kept");
  EXPECT_EQ(fate_of_role["pgdat:1"], "kept");
  for (const auto& e : expected_fates(s, k64gPfn, k64gPages, false)) EXPECT_EQ(e.fate, Fate::Unchanged);
}

TEST(PageAccounting, PmdTableLeakAt64GiBFailsTwiceOnDebian61) {
  // Recorded on Debian 6.1: the PMD table keeps refcount 2 and its tag; 6.1's free_pagetable()
  // cleared PG_reserved anyway. Node 0 MemTotal 914452 -> 918552 kB (+1025 pages, 1026 due).
  auto checks = removal_64g("6.1", data("probe/pt64-6.1-after.txt"), 914452, 918552);
  const CaseCheck* pt = find_check(checks, "page-tables-freed");
  ASSERT_NE(pt, nullptr);
  EXPECT_FALSE(pt->ok);
  EXPECT_EQ(pt->case_no, 1);
  EXPECT_EQ(pt->detail,
            "pfn 0x3fbc9 (1 pages): bootmem pmd:512,pmd:513: expected freed (every owner is gone and it lies on memory "
            "that stays; "
            "owners: section 512 (1 ref), 513 (1 ref)); leaked: every owner is gone but the page was not given back: "
            "Private refcount 2 "
            "MIX_SECTION_INFO info 513 node 0");
  ASSERT_EQ(pt->offenders.size(), 1u);
  EXPECT_EQ(pt->offenders[0].pfn, 261065u);
  const CaseCheck* mem = find_check(checks, "memtotal-node-0");
  EXPECT_FALSE(mem->ok);
  EXPECT_NE(mem->detail.find("+1025 pages); the accounting model expects +1026 pages"), std::string::npos)
      << mem->detail;
  EXPECT_NE(mem->detail.find("short by 1 pages"), std::string::npos) << mem->detail;
  EXPECT_FALSE(find_check(checks, "memmap-freed")->applicable) << "format 1 cannot show it freed";
  EXPECT_TRUE(find_check(checks, "pages-kept")->ok) << find_check(checks, "pages-kept")->detail;
  EXPECT_TRUE(find_check(checks, "pgdat-kept")->ok);
}

TEST(PageAccounting, PmdTableLeakAt64GiBFailsOnDebian612) {
  // 6.12 leaves the leaked table Reserved. Node 0 921468 -> 925568 kB.
  auto checks = removal_64g("6.12", data("probe/pt64-6.12-after.txt"), 921468, 925568);
  const CaseCheck* pt = find_check(checks, "page-tables-freed");
  ASSERT_NE(pt, nullptr);
  EXPECT_FALSE(pt->ok);
  EXPECT_NE(
      pt->detail.find(
          "leaked: every owner is gone but the page was not given back: Reserved Private refcount 2 MIX_SECTION_INFO"),
      std::string::npos)
      << pt->detail;
  EXPECT_FALSE(find_check(checks, "memtotal-node-0")->ok);
}

TEST(PageAccounting, AFreedPageTableAndExactMemTotalPass) {
  std::string after = replace_line(data("probe/pt64-6.1-after.txt"),
                                   "Q 261065 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=513",
                                   "Q 261065 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0");
  auto checks = removal_64g("6.1", after, 914452, 914452 + 1026 * 4);
  // Format 1: the freed pages' fates cannot be shown (n/a); MemTotal and the kept pages are judged.
  expect_all_passed_and_judged(checks, {"memmap-freed", "page-tables-freed", "usage-freed"});
}

// The same on probe format 2 with the step's free trace (Debian 6.1, boot-dimm-64g, 2026-12-03):
// the kernel leaked the vmemmap PMD table (refcount 3 -> 2, still tagged). Planted as the correct
// kernel would leave it (on a per-cpu list, its order-0 free in the trace, MemTotal +1026 pages),
// every fate check applies and passes; the recording as it is fails on exactly that page.
TEST(PageAccounting, AFreedPageTableAndExactMemTotalPassInFormatTwo) {
  MemmapSnapshot before = parse_probe_snapshot(data("probe/pt64-6.1-v2-before.txt"));
  RemovalAnalysis a = analyze_removal(before, k64gPfn, k64gPages);
  FreeTrace trace = parse_free_trace(data("probe/pt64-6.1-v2-frees.txt"));
  ASSERT_TRUE(trace.complete());
  auto judge = [&](const std::string& after_text, uint64_t kb_after) {
    auto after = states_by_pfn(parse_probe_query(after_text));
    apply_free_trace(trace, after);
    return check_after_removal(a, before, {{0, 914452}, {1, 262144}}, k64gPfn, k64gPages, after, {{0, kb_after}});
  };
  const std::string recorded = data("probe/pt64-6.1-v2-after.txt");
  auto leaked = judge(recorded, 918552);
  EXPECT_FALSE(find_check(leaked, "page-tables-freed")->ok);
  ASSERT_EQ(find_check(leaked, "page-tables-freed")->offenders.size(), 1u);
  EXPECT_EQ(find_check(leaked, "page-tables-freed")->offenders[0].pfn, 260964u);
  EXPECT_FALSE(find_check(leaked, "memtotal-node-0")->ok);
  auto checks = judge(replace_line(recorded,
                                   "Q 260964 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=513 free=no "
                                   "held=other",
                                   "Q 260964 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp "
                                   "held=none"),
                      914452 + 1026 * 4);
  expect_all_passed_and_judged(checks, {"usage-freed"});
  EXPECT_NE(find_check(checks, "page-tables-freed")->detail.find("2 page-table pages"), std::string::npos)
      << find_check(checks, "page-tables-freed")->detail;
}

// A Reserved page is bootmem when its tag is one of the kernel's three bootmem types; any other
// type is a plain memblock allocation.
TEST(PageAccounting, OnlyTheThreeBootmemTypesMakeAPageBootmem) {
  for (const auto& [type, holder] : std::vector<std::pair<int, Holder>>{
           {12, Holder::Bootmem}, {13, Holder::Bootmem}, {14, Holder::Bootmem}, {99, Holder::Memblock}}) {
    const MemmapSnapshot s = parse_probe_snapshot(fmt::format(
        "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 64\n"
        "section_shift 27\npaging_levels 4\nS 7 nid=0 early=1 online=1\n"
        "P 3000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=1 type={} info=7 free=no held=other roles=memmap:7\n"
        "end 1\n",
        type));
    const auto fates = expected_fates(s, 0, 0, false);
    ASSERT_EQ(fates.size(), 1u);
    EXPECT_EQ(fates[0].holder, holder) << "type " << type;
  }
}

TEST(PageAccounting, KeptPagesHoldTheirReferences) {
  const std::string pud = "Q 261067 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=21 type=13 info=513";
  auto with_pud_ref = [&](int ref) {
    return removal_64g(
        "6.1",
        replace_line(data("probe/pt64-6.1-after.txt"), pud,
                     fmt::format("Q 261067 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref={} type=13 info=513", ref)),
        914452, 918552);
  };
  // Higher than before: someone took a reference.
  const auto checks_up = with_pud_ref(22);  // find_check points into it: keep it alive
  const CaseCheck* up = find_check(checks_up, "pages-kept");
  EXPECT_FALSE(up->ok);
  EXPECT_NE(up->detail.find("refcount 22 outside 21..21"), std::string::npos) << up->detail;
  // With 4-level paging the kernel never puts a PUD table (remove_p4d_table() skips
  // free_pud_table()): its refcount stays exactly 21 (recorded); one put too many fails, even one
  // that stays above what the staying sections hold (issue #18; the window was 17..21).
  EXPECT_TRUE(find_check(with_pud_ref(21), "pages-kept")->ok);
  const auto checks_down = with_pud_ref(20);
  const CaseCheck* down = find_check(checks_down, "pages-kept");
  EXPECT_FALSE(down->ok);
  EXPECT_NE(down->detail.find("refcount 20 outside 21..21"), std::string::npos) << down->detail;
  EXPECT_FALSE(find_check(with_pud_ref(16), "pages-kept")->ok);
}

namespace {

// A hot-added section 32 (not early) whose memmap lives on node 0, in probe format 2.
const char* kHotSnapshot =
    "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page "
    "64\nsection_shift 27\n"
    "paging_levels 4\nS 7 nid=0 early=1 online=1\nS 32 nid=1 early=0 online=1\nN 0 pgdat_pfn=1000 pgdat_bytes=4096 "
    "online=1\n"
    "P 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no held=other roles=pgdat:0\n"
    "P 3000 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other roles=memmap:32\n"
    "P 3001 511 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none roles=memmap:32\n"
    "P 4000 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=310 free=no held=slab roles=usage:32\n"
    "end 4\n";

std::string hot_query(const std::string& memmap_tail, const std::string& usage) {
  return "rig-probe-query 2\nQ 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no held=other\n"
         "Q 3000 1 nid=0 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none\n"
         "Q 3001 511 " +
         memmap_tail + "\nQ 4000 1 " + usage + "\nend 4\n";
}

}  // namespace

TEST(PageAccounting, HotAddedMemmapFreedIsShownLostIsNamed) {
  MemmapSnapshot s = parse_probe_snapshot(kHotSnapshot);
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  RemovalAnalysis a = analyze_removal(s, first, count);
  auto run = [&](const std::string& tail) {
    return check_after_removal(
        a, s, {{0, 900000}, {1, 131072}}, first, count,
        states_by_pfn(parse_probe_query(
            hot_query(tail, "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab"))),
        {{0, 900000}});
  };
  // Inside a free buddy block (only the head has PageBuddy): freed.
  auto ok = run("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none");
  const CaseCheck* m = find_check(ok, "memmap-freed");
  EXPECT_TRUE(m->ok) << m->detail;
  EXPECT_EQ(m->detail, "512 memmap pages of the removed sections freed: 512 free (inside a free buddy block)");
  EXPECT_TRUE(find_check(ok, "memtotal-node-0")->ok) << "buddy pages were managed all along";
  // On a per-cpu list, or allocated anew: freed too.
  EXPECT_TRUE(
      find_check(run("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none"), "memmap-freed")
          ->ok);
  EXPECT_TRUE(
      find_check(run("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=lru"), "memmap-freed")
          ->ok);
  // Refcount 0, in no free block and on no list: lost (the head-only free of bf9e4e30f353).
  auto lost = run("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none");
  const CaseCheck* l = find_check(lost, "memmap-freed");
  EXPECT_FALSE(l->ok);
  EXPECT_EQ(l->offenders.size(), 511u);
  EXPECT_NE(l->detail.find("pfn 0xbb9-0xdb7 (511 pages): page allocator memmap:32: expected freed"), std::string::npos)
      << l->detail;
  EXPECT_NE(
      l->detail.find(
          "lost: refcount 0, no free buddy block covers it, it is on no per-cpu list and no compound page holds it"),
      std::string::npos);
  // Refcount 0 inside a compound page someone holds (a tail; the probe judges it by its head,
  // seen on 6.12: an order-6 slab page on freed memmap): allocated anew, not lost.
  auto tail = run("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=other");
  EXPECT_TRUE(find_check(tail, "memmap-freed")->ok) << find_check(tail, "memmap-freed")->detail;
  EXPECT_NE(find_check(tail, "memmap-freed")->detail.find("allocated anew (part of a compound page)"),
            std::string::npos);
  // A non-compound block allocated anew: its head (pfn 3000, aligned to order 3) has the
  // reference, its tails 3001-3007 refcount 0. Those are held; the 504 pages after them are not.
  MemmapSnapshot s2 = s;
  std::string q = hot_query("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none",
                            "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab");
  const std::string head_free =
      "Q 3000 1 nid=0 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none";
  q.replace(q.find(head_free), head_free.size(),
            "Q 3000 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other");
  auto block = check_after_removal(a, s2, {{0, 900000}, {1, 131072}}, first, count, states_by_pfn(parse_probe_query(q)),
                                   {{0, 900000}});
  const CaseCheck* b = find_check(block, "memmap-freed");
  EXPECT_FALSE(b->ok);
  EXPECT_EQ(b->offenders.size(), 504u) << b->detail;
  EXPECT_EQ(b->offenders.front().pfn, 3008u);
}

TEST(FreeTrace, ParsesTheProbesAnswerAndRejectsBadOnes) {
  FreeTrace t = parse_free_trace("rig-frees 1\ntracing on\nevents 3\nlost 0\nfreed 10-10\nfreed 5120-5631\nend\n");
  EXPECT_TRUE(t.complete());
  EXPECT_EQ(t.events, 3u);
  EXPECT_TRUE(t.covers(10));
  EXPECT_FALSE(t.covers(11));
  EXPECT_FALSE(t.covers(5119));
  EXPECT_TRUE(t.covers(5120));
  EXPECT_TRUE(t.covers(5631));
  EXPECT_FALSE(t.covers(5632));
  EXPECT_EQ(t.summary(), "3 frees traced (2 pfn ranges)");
  FreeTrace lost = parse_free_trace("rig-frees 1\ntracing on\nevents 9\nlost 2\nend\n");
  EXPECT_FALSE(lost.complete());
  EXPECT_EQ(lost.summary(), "free trace incomplete: 9 frees traced, 2 overwritten");
  FreeTrace absent = parse_free_trace("rig-frees 1\ntracing absent: no kmem:mm_page_free event in tracefs\nend\n");
  EXPECT_FALSE(absent.available);
  EXPECT_EQ(absent.summary(), "no free trace: no kmem:mm_page_free event in tracefs");
  for (const char* bad :
       {"", "rig-frees 2\ntracing on\nend\n", "rig-frees 1\ntracing on\n", "rig-frees 1\nend\n",
        "rig-frees 1\ntracing on\nfreed 5-4\nend\n", "rig-frees 1\ntracing on\nfreed 5-9\nfreed 9-12\nend\n",
        "rig-frees 1\ntracing on\nfreed 5\nend\n", "rig-frees 1\ntracing on\nevents -1\nend\n",
        "rig-frees 1\ntracing on\nend\nfreed 1-1\n", "rig-frees 1\ntracing on\nevents 99999999999999999999999\nend\n",
        "rig-frees 1\ntracing sideways\nend\n", "rig-frees 1\ntracing absent: x\nfreed 1-2\nend\n",
        "rig-frees 1\ntracing on\nsomething 1\nend\n",
        // Without both counts nothing says the list is whole.
        "rig-frees 1\ntracing on\nevents 1\nfreed 1-1\nend\n", "rig-frees 1\ntracing on\nlost 0\nend\n"})
    EXPECT_THROW(parse_free_trace(bad), ProbeFormatError) << bad;
}

// Issue #18, "expected freed means freed": a hot-added memmap block that was never given back
// keeps the state it had (head refcount 1, tails 0): without evidence of a free it used to pass as
// "allocated anew". It passes now only when the step's free trace shows the free, or a new holder
// has the page; with a complete trace and no free it fails, and without any evidence it is n/a.
TEST(FreedMeansFreed, AHotAddedBlockHeldAsBeforeFailsUnlessAFreeWasTraced) {
  // The memmap block at pfn 5120, aligned as vmemmap_alloc_block() allocates it (order 9).
  std::string snap = kHotSnapshot;
  snap.replace(snap.find("P 3000 1"), 8, "P 5120 1");
  snap.replace(snap.find("P 3001 511"), 10, "P 5121 511");
  const std::string usage_line =
      "P 4000 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=310 free=no held=slab roles=usage:32\n";
  snap.erase(snap.find(usage_line), usage_line.size());
  snap.insert(snap.find("P 5120 1"), usage_line);
  MemmapSnapshot s = parse_probe_snapshot(snap);
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  RemovalAnalysis a = analyze_removal(s, first, count);
  const std::string held_as_before =
      "rig-probe-query 2\nQ 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no held=other\n"
      "Q 4000 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none\n"
      "Q 5120 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other\n"
      "Q 5121 511 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none\nend 4\n";
  auto run = [&](const std::string& trace) {
    auto after = states_by_pfn(parse_probe_query(held_as_before));
    if (!trace.empty()) apply_free_trace(parse_free_trace(trace), after);
    return *find_check(check_after_removal(a, s, {{0, 900000}, {1, 131072}}, first, count, after, {{0, 900000}}),
                       "memmap-freed");
  };
  // No trace: nothing shows the block was freed, nothing shows it was not: not judged.
  CaseCheck none = run("");
  EXPECT_FALSE(none.applicable) << none.detail;
  // The trace lost events: the same.
  EXPECT_FALSE(run("rig-frees 1\ntracing on\nevents 900\nlost 1\nend\n").applicable);
  // A complete trace without a free of the block: every page of it never freed.
  CaseCheck leak = run("rig-frees 1\ntracing on\nevents 2\nlost 0\nfreed 10-11\nend\n");
  EXPECT_TRUE(leak.applicable);
  EXPECT_FALSE(leak.ok);
  EXPECT_EQ(leak.offenders.size(), 512u);
  EXPECT_NE(leak.detail.find("never freed: no free of this page was traced during the step"), std::string::npos)
      << leak.detail;
  // The head-only free (bf9e4e30f353, docs/faults.md): an order-0 free of the head; the tails
  // were never given back, though the allocator might have handed out a block around them.
  CaseCheck head_only = run("rig-frees 1\ntracing on\nevents 1\nlost 0\nfreed 5120-5120\nend\n");
  EXPECT_FALSE(head_only.ok);
  EXPECT_EQ(head_only.offenders.size(), 511u);
  EXPECT_EQ(head_only.offenders.front().pfn, 5121u);
  // The order-9 free of the whole block, then the block allocated again: freed.
  CaseCheck freed = run("rig-frees 1\ntracing on\nevents 1\nlost 0\nfreed 5120-5631\nend\n");
  EXPECT_TRUE(freed.ok && freed.applicable) << freed.detail;
  EXPECT_NE(freed.detail.find("freed (traced), then allocated anew"), std::string::npos) << freed.detail;
}

// Recorded on Debian 6.1 (boot-dimm-64g-128m, 2026-12-03): the three pages held again by the time
// the probe read them (2 memmap pages and the direct-map PMD table, all taken by slab) have their
// free in the step's trace; the same answer with a trace that lacks those frees fails on exactly
// those pages.
TEST(FreedMeansFreed, RecordedSixOneRemovalHasEveryHeldPageFreedInItsTrace) {
  MemmapSnapshot before = parse_probe_snapshot(data("probe/traced-64g128m-6.1-before.txt"));
  const uint64_t first = 64ull << 18, count = 128ull << 8;
  RemovalAnalysis a = analyze_removal(before, first, count);
  const auto query = states_by_pfn(parse_probe_query(data("probe/traced-64g128m-6.1-after.txt")));
  const FreeTrace trace = parse_free_trace(data("probe/traced-64g128m-6.1-frees.txt"));
  ASSERT_TRUE(trace.complete());
  auto after = query;
  apply_free_trace(trace, after);
  auto checks = check_after_removal(a, before, {}, first, count, after, {});
  for (const char* name : {"memmap-freed", "page-tables-freed"}) {
    const CaseCheck* c = find_check(checks, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_TRUE(c->ok && c->applicable) << name << ": " << c->detail;
    EXPECT_NE(c->detail.find("freed (traced), then allocated anew"), std::string::npos) << c->detail;
  }
  FreeTrace none = trace;
  none.freed.clear();
  auto untraced = query;
  apply_free_trace(none, untraced);
  auto bad = check_after_removal(a, before, {}, first, count, untraced, {});
  const CaseCheck* m = find_check(bad, "memmap-freed");
  const CaseCheck* t = find_check(bad, "page-tables-freed");
  EXPECT_FALSE(m->ok);
  EXPECT_FALSE(t->ok);
  EXPECT_EQ(m->offenders.size() + t->offenders.size(), 3u) << m->detail << "\n" << t->detail;
  EXPECT_NE(m->detail.find("never freed"), std::string::npos) << m->detail;
}

TEST(FreedMeansFreed, WithoutATraceANewHolderIsEvidenceAndTheSameHolderIsNot) {
  MemmapSnapshot s = parse_probe_snapshot(kHotSnapshot);
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  RemovalAnalysis a = analyze_removal(s, first, count);
  auto memmap = [&](const std::string& tail) {
    auto after = states_by_pfn(parse_probe_query(
        hot_query(tail, "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none")));
    return *find_check(check_after_removal(a, s, {{0, 900000}, {1, 131072}}, first, count, after, {{0, 900000}}),
                       "memmap-freed");
  };
  // Tails of a new compound page, a slab, the LRU: held by what did not hold them before.
  for (const char* now : {"nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=other",
                          "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=slab",
                          "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=lru"}) {
    CaseCheck c = memmap(now);
    EXPECT_TRUE(c.ok && c.applicable) << now << ": " << c.detail;
    EXPECT_NE(c.detail.find("(was "), std::string::npos) << c.detail;
  }
  // Refcount 1 and nothing known to hold it: it may be the same allocation as before. Not a pass.
  CaseCheck same = memmap("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=none");
  EXPECT_NE(same.detail.find("cannot tell"), std::string::npos) << same.detail;
  EXPECT_EQ(same.detail.find("allocated anew (holder not known"), std::string::npos) << same.detail;
  // The usage map of the hot-added section is an object in a slab page: the page staying a slab
  // page shows nothing either way (object frees are not page frees), also with a complete trace.
  auto after = states_by_pfn(
      parse_probe_query(hot_query("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none",
                                  "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=310 free=no held=slab")));
  apply_free_trace(parse_free_trace("rig-frees 1\ntracing on\nevents 1\nlost 0\nfreed 10-10\nend\n"), after);
  CaseCheck usage = *find_check(
      check_after_removal(a, s, {{0, 900000}, {1, 131072}}, first, count, after, {{0, 900000}}), "usage-freed");
  EXPECT_FALSE(usage.applicable) << usage.detail;
  EXPECT_NE(usage.detail.find("an object in a slab page that stays a slab page"), std::string::npos) << usage.detail;
  // Lost (refcount 0, no longer a slab, not free) still fails.
  auto lost = after;
  lost[4000].slab = false;
  lost[4000].ref = 0;
  EXPECT_FALSE(find_check(check_after_removal(a, s, {{0, 900000}, {1, 131072}}, first, count, lost, {{0, 900000}}),
                          "usage-freed")
                   ->ok);
}

// A refcount-0 page is a tail of a non-compound block only if every page from the block's head to
// it is a tail too; the smallest block (order 1) counts.
TEST(PageAccounting, ATailNeedsAHeadAndOnlyTailsBeforeIt) {
  MemmapSnapshot s = parse_probe_snapshot(kHotSnapshot);
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  RemovalAnalysis a = analyze_removal(s, first, count);
  std::string q = hot_query("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none",
                            "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab");
  const std::string head_free =
      "Q 3000 1 nid=0 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none";
  const PageState free_page = states_by_pfn(parse_probe_query(q)).at(3000);
  q.replace(q.find(head_free), head_free.size(),
            "Q 3000 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other");
  const auto base = states_by_pfn(parse_probe_query(q));
  const auto lost = [&](const std::map<uint64_t, PageState>& after) {
    const auto checks = check_after_removal(a, s, {{0, 900000}, {1, 131072}}, first, count, after, {{0, 900000}});
    std::vector<uint64_t> pfns;
    for (const auto& o : find_check(checks, "memmap-freed")->offenders) pfns.push_back(o.pfn);
    return pfns;
  };
  // 3002 heads an order-1 block of its own: 3003 is its tail; 3004 on have a non-tail before them.
  auto two_heads = base;
  two_heads[3002] = base.at(3000);
  auto l = lost(two_heads);
  ASSERT_EQ(l.size(), 508u);
  EXPECT_EQ(l.front(), 3004u);
  // 3001 went back to the allocator: 3002 and 3003 are no tails of 3000's block.
  auto gap = base;
  gap[3001] = free_page;
  l = lost(gap);
  ASSERT_EQ(l.size(), 510u);
  EXPECT_EQ(l.front(), 3002u);
  // The same pages are the ones worth reading again (a page in flight), the tails never.
  const auto unsettled = unsettled_pages(expected_fates(s, first, count, true), gap);
  EXPECT_EQ(unsettled, l);
}

TEST(PageAccounting, RefusalJudgesWhatTheFateIsAbout) {
  // A refused eject: the usage of the hot-added section sits in a slab page whose private field
  // moves with unrelated slab traffic (seen on a clean 6.1 build: info 310, then 242). Still a
  // slab page: unchanged in what matters.
  MemmapSnapshot s = parse_probe_snapshot(kHotSnapshot);
  RemovalAnalysis a = analyze_removal(s, 32ull << 15, 1ull << 15);
  auto query = [&](const std::string& tail, const std::string& usage) {
    std::string q = hot_query(tail, usage);
    const std::string head_free =
        "Q 3000 1 nid=0 res=0 priv=0 buddy=1 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none";
    q.replace(q.find(head_free), head_free.size(),
              "Q 3000 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other");
    return states_by_pfn(parse_probe_query(q));
  };
  const std::string tail_held = "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none";
  auto good = check_after_refusal(
      a, s, {{0, 1}},
      query(tail_held, "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab"), {{0, 1}},
      {});
  EXPECT_TRUE(find_check(good, "refusal-changed-nothing")->ok) << find_check(good, "refusal-changed-nothing")->detail;
  // The memmap of the section that stayed went back to the allocator: a failure.
  auto bad =
      check_after_refusal(a, s, {{0, 1}},
                          query("nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=pcp held=none",
                                "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab"),
                          {{0, 1}}, {});
  const CaseCheck* c = find_check(bad, "refusal-changed-nothing");
  EXPECT_FALSE(c->ok);
  EXPECT_NE(c->detail.find("handed back to the page allocator while an owner still uses it"), std::string::npos)
      << c->detail;
}

TEST(PageAccounting, RecordedFormat2RemovalShowsEveryFreedPageInTheAllocator) {
  // Debian 6.1 and 6.12, unplug-boot-dimm-movable, probe format 2: the 2048 memmap pages of the
  // removed DIMM and the direct-map PMD table are shown free or allocated anew, page by page.
  for (const std::string k : {"6.1", "6.12"}) {
    MemmapSnapshot before = parse_probe_snapshot(data("probe/movable-" + k + "-v2-before.txt"));
    RemovalAnalysis a = analyze_removal(before, kDimmPfn, kDimmPages);
    auto after = states_by_pfn(parse_probe_query(data("probe/movable-" + k + "-v2-after.txt")));
    auto checks = check_after_removal(a, before, {}, kDimmPfn, kDimmPages, after, {});
    expect_all_passed_and_judged(checks, {"usage-freed"}, k + " ");
    const CaseCheck* m = find_check(checks, "memmap-freed");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->detail.rfind("2048 memmap pages of the removed sections freed: ", 0), 0u) << m->detail;
    EXPECT_EQ(m->detail.find("cannot tell"), std::string::npos) << "format 2 shows where each page went: " << m->detail;
    // The same answer with one memmap page that is in no free block, on no list, refcount 0.
    auto lost = after;
    for (auto& [pfn, st] : lost)
      if (st.on_pcp || st.free_block) {
        st.on_pcp = st.free_block = false;
        st.ref = 0;
        auto again = check_after_removal(a, before, {}, kDimmPfn, kDimmPages, lost, {});
        const CaseCheck* l = nullptr;
        for (const auto& c : again)
          if (!c.ok) l = &c;
        ASSERT_NE(l, nullptr) << k;
        EXPECT_TRUE(l->name == "memmap-freed" || l->name == "page-tables-freed") << l->name;
        EXPECT_FALSE(l->ok) << k;
        ASSERT_EQ(l->offenders.size(), 1u);
        EXPECT_EQ(l->offenders[0].pfn, pfn);
        EXPECT_NE(l->detail.find("lost: refcount 0"), std::string::npos) << l->detail;
        break;
      }
  }
}

TEST(CaseChecks, MemmapOnMemoryIsCaseFourAndCanFail) {
  const std::string snap =
      "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page "
      "64\nsection_shift 27\n"
      "paging_levels 4\nS 7 nid=0 early=1 online=1\nS 32 nid=1 early=0 online=1\nN 0 pgdat_pfn=1000 pgdat_bytes=4096 "
      "online=1\n"
      "P 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no held=other roles=pgdat:0\n"
      "P 1048576 512 nid=1 res=0 priv=0 buddy=0 selfhosted=1 ref=1 type=0 info=0 free=no held=other roles=memmap:32\n"
      "end 2\n";
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  auto run = [&](const std::string& snapshot, const std::string& memmap_after) {
    MemmapSnapshot s = parse_probe_snapshot(snapshot);
    RemovalAnalysis a = analyze_removal(s, first, count);
    const std::string q =
        "rig-probe-query 2\nQ 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no "
        "held=other\n" +
        memmap_after + "end 0\n";
    std::map<uint64_t, PageState> after = states_by_pfn(parse_probe_query(
        q.substr(0, q.size() - 6) + "end " + std::to_string(std::count(q.begin(), q.end(), 'Q')) + "\n"));
    return check_after_removal(a, s, {{0, 900000}, {1, 129024}}, first, count, after, {{0, 900000}});
  };
  auto good = run(snap, "Q 1048576 32768 gone\n");
  const CaseCheck* c = find_check(good, "offline-skips-self-hosted-memmap");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->applicable);
  EXPECT_TRUE(c->ok) << c->detail;
  EXPECT_EQ(c->case_no, 4);
  EXPECT_EQ(c->detail,
            "512 self-hosted memmap pages of section 32 (memmap_on_memory): never in the allocator, skipped by the "
            "offline and gone with the memory");
  // Section 33's self-hosted memmap stays online with section 33: not this removal's.
  std::string neighbour = snap;
  const std::string own =
      "P 1048576 512 nid=1 res=0 priv=0 buddy=0 selfhosted=1 ref=1 type=0 info=0 free=no "
      "held=other roles=memmap:32\n";
  neighbour.replace(neighbour.find(own), own.size(),
                    own +
                        "P 1081344 512 nid=1 res=0 priv=0 buddy=0 selfhosted=1 ref=1 type=0 info=0 free=no "
                        "held=other roles=memmap:33\n");
  neighbour.replace(neighbour.find("S 32 nid=1 early=0 online=1\n"), 28,
                    "S 32 nid=1 early=0 online=1\nS 33 nid=1 early=0 online=1\n");
  neighbour.replace(neighbour.find("end 2"), 5, "end 3");
  auto stays = run(neighbour,
                   "Q 1048576 32768 gone\nQ 1081344 512 nid=1 res=0 priv=0 buddy=0 selfhosted=1 ref=1 type=0 info=0 "
                   "free=no held=other\n");
  const CaseCheck* n = find_check(stays, "offline-skips-self-hosted-memmap");
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(n->ok) << n->detail;
  EXPECT_EQ(n->detail, c->detail);
  // The self-hosted memmap was in the allocator before the offline: isolation had nothing to skip.
  std::string in_allocator = snap;
  in_allocator.replace(in_allocator.find("selfhosted=1 ref=1 type=0 info=0 free=no held=other"), 51,
                       "selfhosted=1 ref=0 type=0 info=0 free=pcp held=none");
  auto bad = run(in_allocator, "Q 1048576 32768 gone\n");
  EXPECT_FALSE(find_check(bad, "offline-skips-self-hosted-memmap")->ok);
  EXPECT_NE(
      find_check(bad, "offline-skips-self-hosted-memmap")->detail.find("self-hosted memmap sat in the page allocator"),
      std::string::npos);
}

// ---- Each remaining check made to fail on recorded data with one planted fault. ----

TEST(CaseChecks, BootTagChecksFailOnAPlantedFault) {
  const std::string text = data("probe/pt64-6.1-before.txt");
  // A PMD table registered once too often.
  auto tables = check_boot_tags(parse_probe_snapshot(replace_line(
      text, "P 261065 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=3 type=13 info=513 roles=pmd:512,pmd:513",
      "P 261065 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=4 type=13 info=513 roles=pmd:512,pmd:513")));
  const CaseCheck* t = find_check(tables, "boot-tags-page-tables");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->ok);
  EXPECT_NE(t->detail.find("expected Reserved Private MIX_SECTION_INFO refcount 3"), std::string::npos) << t->detail;
  // Node 1's pgdat tagged with node 0.
  auto pg = check_boot_tags(parse_probe_snapshot(
      replace_line(text, "P 261079 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1",
                   "P 261079 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 roles=pgdat:1")));
  const CaseCheck* p = find_check(pg, "boot-tags-pgdat");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->ok);
  EXPECT_EQ(p->offenders.size(), 43u);
}

// A pgdat page that also holds usage maps has its own check: not applicable where there is none
// (it cannot fail there), failed with the page's evidence where 6.12 tags it MIX_SECTION_INFO,
// passed where it is tagged NODE_INFO with its node.
TEST(CaseChecks, PgdatPageWithUsageMapsIsItsOwnCheck) {
  const std::string text = data("probe/pt64-6.12-before.txt");
  const std::string usage_line =
      "P 261082 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=11 type=13 info=513 "
      "roles=usage:0,usage:1,usage:2,usage:3,usage:4,usage:5,usage:6,usage:7,usage:512,usage:513";
  auto none = check_boot_tags(parse_probe_snapshot(text));
  const CaseCheck* n = find_check(none, "boot-tags-pgdat-usage-page");
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->applicable) << "no pgdat page holds usage maps: it cannot fail";
  auto packed = check_boot_tags(parse_probe_snapshot(replace_line(text, usage_line, usage_line + ",pgdat:1")));
  const CaseCheck* p = find_check(packed, "boot-tags-pgdat-usage-page");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->applicable);
  EXPECT_FALSE(p->ok);
  ASSERT_EQ(p->offenders.size(), 1u);
  EXPECT_EQ(p->offenders[0].pfn, 261082u);
  EXPECT_NE(p->detail.find("saw Reserved Private refcount 11 MIX_SECTION_INFO info 513"), std::string::npos)
      << p->detail;
  EXPECT_TRUE(find_check(packed, "boot-tags-pgdat")->ok) << "the rest of node 1's pgdat is tagged right";
  std::string tagged = usage_line + ",pgdat:1";
  tagged.replace(tagged.find("ref=11 type=13 info=513"), 23, "ref=12 type=14 info=1");
  auto right = check_boot_tags(parse_probe_snapshot(replace_line(text, usage_line, tagged)));
  const CaseCheck* r = find_check(right, "boot-tags-pgdat-usage-page");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->applicable);
  EXPECT_TRUE(r->ok) << r->detail;
}

TEST(CaseChecks, PgdatReuseFailsWhenThePgdatMovedOrChanged) {
  const std::string text = data("probe/pt64-6.1-before.txt");
  MemmapSnapshot boot = parse_probe_snapshot(text);
  ASSERT_TRUE(check_pgdat_reuse(boot, boot, 1).front().ok);
  auto moved =
      check_pgdat_reuse(boot,
                        parse_probe_snapshot(replace_line(text, "N 1 pgdat_pfn=261079 pgdat_bytes=174208 online=1",
                                                          "N 1 pgdat_pfn=300000 pgdat_bytes=174208 online=1")),
                        1);
  EXPECT_FALSE(moved.front().ok);
  EXPECT_NE(moved.front().detail.find("moved from pfn 0x3fbd7 to 0x493e0"), std::string::npos) << moved.front().detail;
  expect_spec_case(moved.front());
  auto untagged = check_pgdat_reuse(
      boot,
      parse_probe_snapshot(
          replace_line(text, "P 261079 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1",
                       "P 261079 43 nid=0 res=1 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 roles=pgdat:1")),
      1);
  EXPECT_FALSE(untagged.front().ok);
  expect_spec_case(untagged.front());
}

TEST(CaseChecks, RefusalBlockedAtItsOwnMemmapFailsCaseFour) {
  // The busy DIMM refused, and the page the kernel dumped is section 32's memmap, which lives in
  // the departing memory: isolation did not skip it.
  DimmRemoval r = recorded_before("busy-6.1-before.txt");
  auto after = states_by_pfn(parse_probe_query(data("probe/busy-6.1-after.txt")));
  const NodeMemTotals mem = {{0, 910000}, {1, 500000}};
  DumpedPage d;
  d.pfn = 1177088;
  d.header = "page:(____ptrval____) refcount:2 mapcount:0 mapping:0000000000000000 index:0xc pfn:0x11f600";
  auto checks = check_after_refusal(r.analysis, r.before, mem, after, mem, {d, d});
  const CaseCheck* c = find_check(checks, "offline-skips-memmap");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->applicable);
  EXPECT_FALSE(c->ok);
  ASSERT_EQ(c->offenders.size(), 1u) << "ACPI offlines twice: the repeated dump is one page";
  EXPECT_EQ(c->offenders[0].roles, "memmap:32");
  EXPECT_FALSE(find_check(check_after_refusal(r.analysis, r.before, mem, after, mem, {d}), "offline-skips-memmap")->ok)
      << "one dump is enough";
  // Without a dump naming such a page the refusal says nothing about case 4.
  EXPECT_FALSE(
      find_check(check_after_refusal(r.analysis, r.before, mem, after, mem, {}), "offline-skips-memmap")->applicable);
  // MemTotal moving alone fails the refusal, with the node named first.
  auto moved = check_after_refusal(r.analysis, r.before, mem, after, {{0, 910004}, {1, 500000}}, {});
  const CaseCheck* m = find_check(moved, "refusal-changed-nothing");
  EXPECT_FALSE(m->ok);
  EXPECT_EQ(m->detail, "node 0 MemTotal 910000 -> 910004 kB");
}

TEST(CaseChecks, MemTotalOfANodeThatShouldStayButVanishedFails) {
  MemmapSnapshot before = parse_probe_snapshot(data("probe/pt64-6.1-before.txt"));
  RemovalAnalysis a = analyze_removal(before, k64gPfn, k64gPages);
  auto gone0 = check_after_removal(a, before, {{0, 914452}, {1, 262144}}, k64gPfn, k64gPages,
                                   states_by_pfn(parse_probe_query(data("probe/pt64-6.1-after.txt"))), {});
  const CaseCheck* m = find_check(gone0, "memtotal-node-0");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->ok);
  EXPECT_EQ(m->detail, "node 0 disappeared, though only node 1's memory was removed");
  // A kB-level change that is not whole pages is no match either.
  auto odd = removal_64g("6.1",
                         replace_line(data("probe/pt64-6.1-after.txt"),
                                      "Q 261065 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=513",
                                      "Q 261065 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0"),
                         914452, 914452 + 1026 * 4 + 2);
  EXPECT_FALSE(find_check(odd, "memtotal-node-0")->ok);
}

TEST(PageAccounting, UsageFreedFailsWhenTheUsagePageIsLostAndIsNaWithoutOne) {
  // The hot-added section's usage map sits alone in a slab page: when its section goes, the page
  // must come back (allocated anew or free), never end with refcount 0 outside the allocator.
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  const std::string freed_memmap = "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none";
  auto run = [&](const std::string& snapshot, const std::string& usage) {
    MemmapSnapshot s = parse_probe_snapshot(snapshot);
    RemovalAnalysis a = analyze_removal(s, first, count);
    return check_after_removal(a, s, {{0, 900000}, {1, 131072}}, first, count,
                               states_by_pfn(parse_probe_query(hot_query(freed_memmap, usage))), {{0, 900000}});
  };
  auto back = run(kHotSnapshot, "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab");
  ASSERT_NE(find_check(back, "usage-freed"), nullptr);
  EXPECT_TRUE(find_check(back, "usage-freed")->ok) << find_check(back, "usage-freed")->detail;
  auto lost = run(kHotSnapshot, "nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none");
  const CaseCheck* u = find_check(lost, "usage-freed");
  ASSERT_NE(u, nullptr);
  EXPECT_FALSE(u->ok);
  EXPECT_NE(u->detail.find("usage:32"), std::string::npos) << u->detail;
  // Without a usage page the probe knows, the check is there and n/a: it could not have failed.
  std::string no_usage = kHotSnapshot;
  const std::string line =
      "P 4000 1 nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=310 free=no held=slab roles=usage:32\n";
  no_usage.erase(no_usage.find(line), line.size());
  no_usage.replace(no_usage.find("end 4"), 5, "end 3");
  auto none = run(no_usage, "nid=0 res=0 priv=1 buddy=0 selfhosted=0 ref=1 type=0 info=242 free=no held=slab");
  ASSERT_NE(find_check(none, "usage-freed"), nullptr);
  EXPECT_FALSE(find_check(none, "usage-freed")->applicable);
}

// Issue #18, checks that passed without judging: each now reports n/a when it judged nothing,
// or fails when what it needs is missing.
TEST(Honesty, BootTagChecksOnASnapshotWithNoTaggedPagesAreNotApplicable) {
  // A well-formed snapshot whose kernel tags pages (types known) but that lists no page: before,
  // every tag check passed and covered cases 1, 3 and 5.
  const std::string text = data("probe/movable-6.1-before.txt");
  std::string header;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("end ", 0) == 0)
      header += "end 0\n";
    else if (line.rfind("P ", 0) != 0)
      header += line + "\n";
  auto checks = check_boot_tags(parse_probe_snapshot(header));
  for (const char* name : {"boot-tags-memmap", "boot-tags-page-tables", "boot-tags-pgdat"}) {
    const CaseCheck* c = find_check(checks, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_FALSE(c->applicable) << name << ": " << c->detail;
  }
}

TEST(Honesty, PgdatSharedPageCheckPassesWhereThePgdatsLieBackToBackUnshared) {
  // 6.1 page-aligns pgdat: the two pgdats on node 0 touch without sharing (applicable, pass, so
  // a fixed 6.12 would make the known-failure entry xpass); moved apart, nothing could be shared.
  const std::string text = data("probe/movable-6.1-before.txt");
  const CaseCheck* c = nullptr;
  auto together = check_boot_tags(parse_probe_snapshot(text));
  c = find_check(together, "boot-tags-pgdat-shared-page");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->applicable && c->ok) << c->detail;
  EXPECT_EQ(c->detail, "the pgdats of nodes 0 and 1 lie back to back and share no page");
  auto apart = check_boot_tags(parse_probe_snapshot(
      replace_line(text, "P 261079 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1",
                   "P 261000 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1")));
  c = find_check(apart, "boot-tags-pgdat-shared-page");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->applicable) << c->detail;
  // One page between them: not back to back either.
  auto gap = check_boot_tags(parse_probe_snapshot(
      replace_line(text, "P 261079 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1",
                   "P 261078 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1")));
  c = find_check(gap, "boot-tags-pgdat-shared-page");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->applicable) << c->detail;
}

TEST(Honesty, RemovedMemoryMissingFromTheProbesAnswerIsNotGone) {
  // Before: a pfn absent from the answer counted as gone, so an empty answer passed.
  auto checks =
      removal_checks(recorded_before("movable-6.1-before.txt"), "rig-probe-query 1\nend\n", kMemBefore, kMemAfter);
  const CaseCheck* gone = find_check(checks, "removed-memory-gone");
  ASSERT_NE(gone, nullptr);
  EXPECT_TRUE(gone->applicable);
  EXPECT_FALSE(gone->ok);
  EXPECT_NE(gone->detail.find("the probe's answer does not cover it"), std::string::npos) << gone->detail;
  EXPECT_EQ(gone->offenders.size(), kDimmPages);
}

TEST(Honesty, PagesKeptWithNoKeptPageIsNotApplicable) {
  const CaseCheck* kept = nullptr;
  auto checks = check_after_removal(RemovalAnalysis{}, MemmapSnapshot{}, {}, 0, 0, {}, {});
  kept = find_check(checks, "pages-kept");
  ASSERT_NE(kept, nullptr);
  EXPECT_FALSE(kept->applicable) << kept->detail;
  auto refused = check_after_refusal(RemovalAnalysis{}, MemmapSnapshot{}, {}, {}, {}, {});
  const CaseCheck* r = find_check(refused, "refusal-changed-nothing");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->applicable) << r->detail;
  // With a node's MemTotal to compare it judges, and a change fails.
  auto moved = check_after_refusal(RemovalAnalysis{}, MemmapSnapshot{}, {{0, 1000}}, {}, {{0, 996}}, {});
  r = find_check(moved, "refusal-changed-nothing");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->applicable);
  EXPECT_FALSE(r->ok);
}

TEST(Honesty, PgdatReusedFailsWhenTheLaterSnapshotLacksThePgdatPages) {
  const std::string text = data("probe/pt64-6.1-before.txt");
  MemmapSnapshot boot = parse_probe_snapshot(text);
  MemmapSnapshot now = boot;
  now.runs.erase(std::remove_if(now.runs.begin(), now.runs.end(),
                                [](const PageRun& r) {
                                  for (const auto& role : r.roles)
                                    if (role.kind == PageRoleKind::Pgdat) return true;
                                  return false;
                                }),
                 now.runs.end());
  auto c = check_pgdat_reuse(boot, now, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].applicable);
  EXPECT_FALSE(c[0].ok);
  EXPECT_NE(c[0].detail.find("not in the later snapshot"), std::string::npos) << c[0].detail;
  MemmapSnapshot no_pgdat_pages = now;
  auto na = check_pgdat_reuse(no_pgdat_pages, no_pgdat_pages, 1);
  ASSERT_EQ(na.size(), 1u);
  EXPECT_FALSE(na[0].applicable) << na[0].detail;
}

TEST(Honesty, CyclesWithAnEmptyBaselineJudgedNothing) {
  auto checks = check_cycles({}, {{{0, {887000, 695904}}}});
  ASSERT_EQ(checks.size(), 2u);
  for (const auto& c : checks) EXPECT_FALSE(c.applicable) << c.name;
  auto judged = check_cycles({{0, {887000, 700000}}}, {{{0, {887000, 695904}}}});
  for (const auto& c : judged) EXPECT_TRUE(c.applicable) << c.name;
  EXPECT_FALSE(judged[1].ok) << "4 MB that never came back";
}

TEST(Honesty, ANodeWhoseMeminfoCannotBeParsedIsAnError) {
  const std::string good =
      "@0\nNode 0 MemTotal:  1000 kB\nNode 0 MemFree:  500 kB\n@1\nNode 1 MemTotal: 2000 kB\n"
      "Node 1 MemFree: 100 kB\n";
  auto m = parse_nodes_meminfo(good, {{1, 2}});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].second, 108u);
  EXPECT_THROW(
      parse_nodes_meminfo("@0\nNode 0 MemTotal:  1000 kB\n@1\nNode 1 MemTotal: 2000 kB\nNode 1 MemFree: 1 kB\n", {}),
      InfraError);
  EXPECT_THROW(parse_nodes_meminfo("@x\n", {}), InfraError);
}

TEST(Honesty, FormatOneAnswersCannotShowAPageFreed) {
  // Probe format 1 has no allocator state: memmap-freed judged nothing (n/a), never a pass.
  auto checks = removal_checks(recorded_before("movable-6.1-before.txt"), data("probe/movable-6.1-after.txt"),
                               kMemBefore, kMemAfter);
  const CaseCheck* m = find_check(checks, "memmap-freed");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->applicable) << m->detail;
  EXPECT_TRUE(find_check(checks, "memtotal-node-0")->applicable);
}

TEST(Honesty, APgdatPageTaggedMixInTheMiddleOfThePgdatFails) {
  // A pgdat page whose state differs from its neighbours forms a run of its own; it used to count
  // as an "edge" and pass with MIX_SECTION_INFO.
  const std::string text = data("probe/movable-6.1-before.txt");
  const std::string whole = "P 261079 43 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1";
  auto with = [&](const std::string& runs) {
    const auto extra = std::count(runs.begin(), runs.end(), '\n');
    return check_boot_tags(parse_probe_snapshot(
        replace_line(replace_line(text, whole, runs), "end 20", "end " + std::to_string(20 + extra))));
  };
  const auto middle = with(
      "P 261079 20 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1\n"
      "P 261099 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=1 roles=pgdat:1\n"
      "P 261100 22 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1");
  const CaseCheck* c = find_check(middle, "boot-tags-pgdat");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->ok);
  ASSERT_EQ(c->offenders.size(), 1u);
  EXPECT_EQ(c->offenders[0].pfn, 261099u);
  // Nor on the last page: get_page_bootmem(MIX_SECTION_INFO) names a section, and a pgdat page
  // tagged so had something packed into it (case 5; register_page_bootmem_info_node() tags every
  // pgdat page NODE_INFO with its node), whether its info happens to equal the node or not.
  for (const char* info : {"1", "7"}) {
    const auto last = with(
        "P 261079 42 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=1 roles=pgdat:1\n"
        "P 261121 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=" +
        std::string(info) + " roles=pgdat:1");
    EXPECT_FALSE(find_check(last, "boot-tags-pgdat")->ok) << info;
  }
}

TEST(PageAccounting, APteTableHoldsOneReferencePerMemmapPageItMaps) {
  // Without PSE the boot vmemmap is PTE-mapped: register_page_bootmem_memmap() takes one reference
  // on the PTE table per 4 KiB step, 512 for a section's 2 MiB of memmap (was: 1 per table).
  const std::string text =
      "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 64\n"
      "section_shift 27\npaging_levels 4\nS 7 nid=0 early=1 online=1\nN 0 pgdat_pfn=1000 pgdat_bytes=4096 online=1\n"
      "P 3000 512 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=12 info=7 free=no held=other roles=memmap:7\n"
      "P 4000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=513 type=13 info=7 free=no held=other roles=pte:7\n"
      "end 2\n";
  const MemmapSnapshot s = parse_probe_snapshot(text);
  const auto owners = page_owners(s);
  ASSERT_TRUE(owners.count(4000));
  ASSERT_EQ(owners.at(4000).size(), 1u);
  EXPECT_EQ(owners.at(4000)[0].refs, 512);
  EXPECT_EQ(owners.at(3000)[0].refs, 1) << "each PTE-mapped memmap page: one reference";
  const auto tags = check_boot_tags(s);
  const CaseCheck* t = find_check(tags, "boot-tags-page-tables");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->ok && t->applicable) << t->detail;
  auto wrong = check_boot_tags(parse_probe_snapshot(replace_line(
      text, "P 4000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=513 type=13 info=7 free=no held=other roles=pte:7",
      "P 4000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=13 info=7 free=no held=other roles=pte:7")));
  EXPECT_FALSE(find_check(wrong, "boot-tags-page-tables")->ok) << "refcount 2 is not 1 + 512";
}

TEST(Honesty, ASharedPgdatPageWithAWrongTagFailsTheSharedPageCheckToo) {
  // 6.12's shared pfn 261135 with refcount 1: boot-tags-pgdat names it, and the shared-page
  // check may not say "share no page" (it would make the known-failure entry xpass).
  const std::string shared =
      "P 261135 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 roles=pgdat:0,pgdat:1";
  auto checks = check_boot_tags(parse_probe_snapshot(
      replace_line(data("probe/movable-6.12-boot.txt"), shared,
                   "P 261135 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=1 type=14 info=0 roles=pgdat:0,pgdat:1")));
  EXPECT_FALSE(find_check(checks, "boot-tags-pgdat")->ok);
  const CaseCheck* c = find_check(checks, "boot-tags-pgdat-shared-page");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->applicable);
  EXPECT_FALSE(c->ok) << c->detail;
  EXPECT_NE(c->detail.find("its tag is wrong too"), std::string::npos) << c->detail;
}

TEST(Honesty, PgdatReusedOfANodeTheBootSnapshotLacksIsNotApplicable) {
  MemmapSnapshot boot = parse_probe_snapshot(data("probe/pt64-6.1-before.txt"));
  auto c = check_pgdat_reuse(boot, boot, 42);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].applicable) << c[0].detail;
}

TEST(PageAccounting, PteTablesSharedBetweenSectionsSplitTheirReferencesByWindow) {
  // An 80-byte struct page: a section's memmap is 2.5 MiB of vmemmap. Section 8 spans [20, 22.5)
  // MiB, section 9 [22.5, 25): the table of window [22, 24) is shared, 128 steps of section 8 and
  // 384 of section 9. The shared table has the lower pfn, so pfn order is not window order.
  const std::string text =
      "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 80\n"
      "section_shift 27\npaging_levels 4\nS 8 nid=0 early=1 online=1\nS 9 nid=0 early=1 online=1\n"
      "N 0 pgdat_pfn=1000 pgdat_bytes=4096 online=1\n"
      "P 5000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=513 type=13 info=8 free=no held=other roles=pte:8,pte:9\n"
      "P 5001 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=513 type=13 info=8 free=no held=other roles=pte:8\n"
      "P 5002 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=257 type=13 info=9 free=no held=other roles=pte:9\n"
      "end 3\n";
  const auto owners = page_owners(parse_probe_snapshot(text));
  auto refs = [&](uint64_t pfn, int64_t sec) {
    for (const auto& o : owners.at(pfn))
      if (!o.node && o.id == sec) return o.refs;
    return int64_t{-1};
  };
  EXPECT_EQ(refs(5001, 8), 512) << "window [20, 22): section 8's own";
  EXPECT_EQ(refs(5000, 8), 128) << "window [22, 24), shared";
  EXPECT_EQ(refs(5000, 9), 384);
  EXPECT_EQ(refs(5002, 9), 256) << "window [24, 26): section 9's own";
}

// Issue #19: recorded by rig-probe's kcore route on Debian's 7.3.4 (no bootmem info) and
// 6.18.15, hot-plugging and removing a 256M DIMM at 4 GiB (rig/scenarios/hotplug-then-unplug).
// On 7.3.4 the fate checks judge as on 6.1 and can fail; 6.18.15 leaks 511 pages of each
// section's hot-added memmap (docs/kernels.md), and the recorded answer fails.
TEST(KernelLadder, RecordedSevenThreeIsJudgedByFateAndAPlantedLeakFails) {
  const MemmapSnapshot before = parse_probe_snapshot(data("probe/hot-7.3.4-before.txt"));
  EXPECT_EQ(before.probe, "kcore");
  EXPECT_EQ(before.encoding, "none");
  EXPECT_FALSE(before.tags_present());
  const auto tags = check_boot_tags(before);
  ASSERT_EQ(tags.size(), 3u) << "boot-tags-memmap, -page-tables, -pgdat: each says why it judges nothing";
  for (const char* name : {"boot-tags-memmap", "boot-tags-page-tables", "boot-tags-pgdat"})
    ASSERT_NE(find_check(tags, name), nullptr) << name;
  for (const auto& c : tags) {
    EXPECT_FALSE(c.applicable) << c.name;
    EXPECT_NE(c.detail.find("this kernel has no bootmem info"), std::string::npos) << c.detail;
  }
  const uint64_t first = 0x100000000ull >> 12, count = (256ull << 20) >> 12;
  const RemovalAnalysis a = analyze_removal(before, first, count);
  const NodeMemTotals mem_before = {{0, 900000}, {1, 262144}}, mem_after = {{0, 900000}};
  auto judge_answer = [&](const std::string& answer) {
    return check_after_removal(a, before, mem_before, first, count, states_by_pfn(parse_probe_query(answer)),
                               mem_after);
  };
  const std::string answer = data("probe/hot-7.3.4-after.txt");
  const CaseCheck* freed = nullptr;
  auto real = judge_answer(answer);
  freed = find_check(real, "memmap-freed");
  ASSERT_NE(freed, nullptr);
  EXPECT_TRUE(freed->ok && freed->applicable) << freed->detail;
  EXPECT_EQ(freed->detail.rfind("1024 memmap pages of the removed sections freed", 0), 0u) << freed->detail;
  // The head-only free planted into the recorded answer: section 32's 511 tail pages lost.
  auto planted = judge_answer(replace_line(
      answer, "Q 11265 511 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=buddy held=none",
      "Q 11265 511 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=0 type=0 info=0 free=no held=none"));
  freed = find_check(planted, "memmap-freed");
  ASSERT_NE(freed, nullptr);
  EXPECT_FALSE(freed->ok);
  EXPECT_EQ(freed->offenders.size(), 511u) << freed->detail;
  EXPECT_NE(freed->detail.find("pfn 0x2c01-0x2dff (511 pages): page allocator memmap:32: expected freed"),
            std::string::npos)
      << freed->detail;
}

TEST(KernelLadder, RecordedSixEighteenFifteenLeaksHotAddedMemmap) {
  const MemmapSnapshot before = parse_probe_snapshot(data("probe/hot-6.18.15-before.txt"));
  EXPECT_EQ(before.probe, "kcore");
  EXPECT_EQ(before.encoding, "private-packed");
  const uint64_t first = 0x100000000ull >> 12, count = (256ull << 20) >> 12;
  const RemovalAnalysis a = analyze_removal(before, first, count);
  auto checks =
      check_after_removal(a, before, {{0, 900000}, {1, 262144}}, first, count,
                          states_by_pfn(parse_probe_query(data("probe/hot-6.18.15-after.txt"))), {{0, 900000}});
  const CaseCheck* freed = find_check(checks, "memmap-freed");
  ASSERT_NE(freed, nullptr);
  EXPECT_FALSE(freed->ok);
  EXPECT_EQ(freed->offenders.size(), 1022u) << freed->detail;
  EXPECT_NE(freed->detail.find("lost: refcount 0, no free buddy block covers it"), std::string::npos) << freed->detail;
}

// 7.2 keeps the tag in page->private and no longer sets PG_private: a kernel where no tagged page
// has the flag is judged by its tags alone; one page that lacks it among pages that have it fails.
TEST(CaseChecks, PgPrivateIsRequiredOnlyWhereTheKernelSetsIt) {
  const std::string text = data("probe/pt64-6.1-before.txt");
  std::string no_flag = text;
  for (size_t at = 0; (at = no_flag.find(" priv=1 ", at)) != std::string::npos;) no_flag.replace(at, 8, " priv=0 ");
  const MemmapSnapshot bare = parse_probe_snapshot(no_flag);
  EXPECT_FALSE(private_marks_tags(bare));
  EXPECT_TRUE(private_marks_tags(parse_probe_snapshot(text)));
  for (const auto& c : check_boot_tags(bare))
    if (c.name == "boot-tags-memmap" || c.name == "boot-tags-page-tables" || c.name == "boot-tags-pgdat") {
      EXPECT_TRUE(c.ok && c.applicable) << c.name << ": " << c.detail;
    }
  auto one = check_boot_tags(parse_probe_snapshot(replace_line(
      text, "P 261065 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=3 type=13 info=513 roles=pmd:512,pmd:513",
      "P 261065 1 nid=0 res=1 priv=0 buddy=0 selfhosted=0 ref=3 type=13 info=513 roles=pmd:512,pmd:513")));
  const CaseCheck* t = find_check(one, "boot-tags-page-tables");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->ok) << "the other tagged pages have PG_private: this one lost it";
  EXPECT_NE(t->detail.find("expected Reserved Private MIX_SECTION_INFO"), std::string::npos) << t->detail;
}

// Issue #18: the direct map covers memory from when it is added, not when it is onlined. A PMD
// table of the direct map shared with a plugged but offline DIMM (section 33) stays when section
// 32 goes; the probe names both owners (images/probe: every valid section), so the model keeps
// it. With only the removed owner named it would expect the table freed, and a clean kernel fail.
TEST(PageAccounting, ADirectMapTableSharedWithAnOfflineDimmIsKept) {
  const std::string head =
      "rig-probe 2\nkernel 6.1.0-test\nencoding index-private\ntypes section=12 mix=13 node=14\nstruct_page 64\n"
      "section_shift 27\npaging_levels 4\nS 7 nid=0 early=1 online=1\nS 32 nid=1 early=0 online=1\n"
      "S 33 nid=-1 early=0 online=0\nN 0 pgdat_pfn=1000 pgdat_bytes=4096 online=1\n"
      "P 1000 1 nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=14 info=0 free=no held=other roles=pgdat:0\n";
  const std::string table = "P 5000 1 nid=0 res=0 priv=0 buddy=0 selfhosted=0 ref=1 type=0 info=0 free=no held=other ";
  const uint64_t first = 32ull << 15, count = 1ull << 15;
  auto fate_of_table = [&](const std::string& roles) {
    const MemmapSnapshot s = parse_probe_snapshot(head + table + "roles=" + roles + "\nend 2\n");
    for (const auto& e : expected_fates(s, first, count, true))
      if (e.pfn == 5000) return std::make_pair(e.fate, e.why);
    return std::make_pair(Fate::Unchanged, std::string("not judged"));
  };
  const auto shared = fate_of_table("dmap_pmd:32,dmap_pmd:33");
  EXPECT_EQ(shared.first, Fate::Kept) << shared.second;
  EXPECT_EQ(shared.second, "an owner stays");
  EXPECT_EQ(fate_of_table("dmap_pmd:32").first, Fate::Freed) << "its only owner went";
}

// Issue #19, recorded on 7.3.4 built by the rig (module route, no bootmem info): ejecting the
// 512M boot DIMM at 4 GiB. The memblock page holding the usage maps of its sections 32-35 stays,
// as mm/sparse.c keeps an early section's usage map: the exemption follows the section, not a
// tag the kernel no longer writes. Every check passes, MemTotal exactly (+2049 pages).
TEST(KernelLadder, RecordedSevenThreeKeepsTheUsageMapOfEarlySectionsWithoutTags) {
  DimmRemoval r = recorded_before("movable-7.3-built-before.txt");
  EXPECT_EQ(r.before.probe, "module");
  EXPECT_FALSE(r.before.tags_present());
  const auto checks =
      removal_checks(r, data("probe/movable-7.3-built-after.txt"), {{0, 950692}, {1, 524288}}, {{0, 958888}});
  expect_all_passed_and_judged(checks, {"usage-freed", "page-tables-freed"}, "7.3 built: ");
  const CaseCheck* mem = find_check(checks, "memtotal-node-0");
  ASSERT_NE(mem, nullptr);
  EXPECT_NE(mem->detail.find("expects +2049 pages"), std::string::npos) << mem->detail;
  for (const auto& e : expected_fates(r.before, kDimmPfn, kDimmPages, true))
    if (e.has_role(PageRoleKind::Usage) && e.before.reserved) {
      EXPECT_EQ(e.fate, Fate::Kept) << e.pfn << ": " << e.why;
    }
}

// Recorded on Debian's 7.3.4 (hotplug-memmap-dependency, step 6): the kernel refused to offline
// the kernel-zone DIMM and dumped an order-3 slab page as what blocked it. The rig keeps its type
// and why, so the refusal's evidence names them.
TEST(CaseChecks, ADumpedBlockingPageKeepsItsTypeAndReason) {
  ConsoleParser p;
  p.feed(data("console/slab-refusal-7.3.log"));
  p.finish();
  std::vector<std::vector<std::string>> dumps;
  for (const auto& f : p.findings())
    if (f.kind == "page-dump") dumps.push_back(f.lines);
  const auto pages = parse_page_dumps(dumps);
  ASSERT_FALSE(pages.empty());
  EXPECT_EQ(pages[0].pfn, 0x100000u);
  EXPECT_EQ(pages[0].page_type, "page_type f5(slab)");
  EXPECT_EQ(pages[0].reason, "unmovable page");
  EXPECT_EQ(pages.size(), 2u) << "ACPI offlines twice: the dump is there twice";
  // The refusal's note names it, once (a hot-added 256M DIMM at 4 GiB, sections 32 and 33, as on 7.3.4).
  const MemmapSnapshot before = parse_probe_snapshot(data("probe/hot-7.3.4-before.txt"));
  const uint64_t first = 0x100000000ull >> 12, count = (256ull << 20) >> 12;
  const auto checks = check_after_refusal(analyze_removal(before, first, count), before, {{0, 900000}, {1, 262144}}, {},
                                          {{0, 900000}, {1, 262144}}, pages);
  const CaseCheck* c = find_check(checks, "offline-skips-memmap");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->applicable);
  const std::string named = "it named pfn 0x100000 (section 32, page_type f5(slab): unmovable page)";
  ASSERT_NE(c->detail.find(named), std::string::npos) << c->detail;
  EXPECT_EQ(c->detail.find(named, c->detail.find(named) + 1), std::string::npos) << "once: " << c->detail;
}

// Every check, on each path that makes it (judged, failed, n/a), is filed under the spec case it
// judges: the case numbers are what coverage and known-failure entries go by.
TEST(CaseChecks, EveryCheckCarriesItsSpecCase) {
  std::vector<CaseCheck> all;
  const auto add = [&](const std::vector<CaseCheck>& v) { all.insert(all.end(), v.begin(), v.end()); };
  for (const char* s : {"movable-6.1-before.txt", "movable-6.12-boot.txt", "hot-7.3.4-before.txt"})
    add(check_boot_tags(parse_probe_snapshot(data(std::string("probe/") + s))));
  add(removal_checks(recorded_before("movable-6.1-before.txt"), data("probe/movable-6.1-after.txt"), kMemBefore,
                     kMemAfter));
  add(removal_64g("6.1", data("probe/pt64-6.1-after.txt"), 914452, 914452 + 1026 * 4));
  add(check_after_removal(RemovalAnalysis{}, MemmapSnapshot{}, {}, 0, 0, {}, {}));
  // The busy DIMM: refused (with and without a dump naming its own memmap), and removed anyway.
  DimmRemoval busy = recorded_before("busy-6.1-before.txt");
  auto after = states_by_pfn(parse_probe_query(data("probe/busy-6.1-after.txt")));
  const NodeMemTotals mem = {{0, 910000}, {1, 500000}};
  DumpedPage d;
  d.pfn = 1177088;
  add(check_after_refusal(busy.analysis, busy.before, mem, after, mem, {}));
  add(check_after_refusal(busy.analysis, busy.before, mem, after, mem, {d}));
  const uint64_t first = 35ull << 15, count = 1ull << 15;
  RemovalAnalysis holder = analyze_removal(busy.before, first, count);
  add(check_after_removal(holder, busy.before, mem, first, count, {}, {{0, 900000}}));
  add(check_cycles({{0, {918000, 800300}}}, {{{0, {918000, 800000}}}}));
  add(check_cycles({}, {{{0, {918000, 800000}}}}));
  MemmapSnapshot boot = parse_probe_snapshot(data("probe/pt64-6.1-before.txt"));
  add(check_pgdat_reuse(boot, boot, 1));
  const auto no_node = check_pgdat_reuse(boot, boot, 7);
  ASSERT_EQ(no_node.size(), 1u);
  EXPECT_FALSE(no_node[0].applicable);
  EXPECT_TRUE(no_node[0].ok) << "an n/a check has ok set, as every other n/a check";
  add(no_node);
  add(check_pgdat_reuse(boot, MemmapSnapshot{}, 1));
  std::set<std::string> names;
  for (const auto& c : all) {
    expect_spec_case(c);
    names.insert(c.name);
  }
  for (const char* name :
       {"boot-tags-memmap", "boot-tags-page-tables", "boot-tags-pgdat", "boot-tags-pgdat-shared-page",
        "boot-tags-pgdat-usage-page", "memmap-freed", "page-tables-freed", "usage-freed", "pages-kept",
        "memtotal-node-0", "removed-memory-gone", "dependents-first-section-35", "offline-skips-memmap", "pgdat-kept",
        "refusal-changed-nothing", "cycles-memtotal-stable", "cycles-no-free-memory-leak", "pgdat-reused"})
    EXPECT_TRUE(names.count(name)) << name;
  // A refusal judges the main case of the removal it refused: the busy DIMM holds memmap on
  // itself (case 2) and for sections that stay (case 3); case 2 comes first.
  const auto refused = check_after_refusal(busy.analysis, busy.before, mem, after, mem, {});
  EXPECT_TRUE(busy.analysis.cases.count(3));
  EXPECT_EQ(find_check(refused, "refusal-changed-nothing")->case_no, 2);
  for (const auto& [cases, main_case] :
       std::vector<std::pair<std::set<int>, int>>{{{2, 3}, 2}, {{3}, 3}, {{3, 5}, 3}, {{5}, 5}, {{1}, 5}}) {
    RemovalAnalysis a;
    a.cases = cases;
    EXPECT_EQ(find_check(check_after_refusal(a, MemmapSnapshot{}, {{0, 1000}}, {}, {{0, 1000}}, {}),
                         "refusal-changed-nothing")
                  ->case_no,
              main_case);
  }
}

// The kernel's page dumps as the refusal reads them: pfn, index, the reserved flag, the first
// page_type and the reason; a dump without a page line is no page.
TEST(CaseChecks, PageDumpsReadPfnIndexFlagsTypeAndReason) {
  const auto pages = parse_page_dumps({
      {"page: refcount:2 mapcount:0 mapping:0000000000000000 index:0x2a pfn:0x100200",
       "flags: 0x57ffffc0000400(reserved|node=1|zone=2)", "page_type: f5(slab)", "page_type: f0(buddy)",
       "page dumped because: unmovable page"},
      {"page: refcount:0 mapcount:0 mapping:0000000000000000 pfn:0x100400",
       "flags: 0x57ffffc0000240(workingset|head|node=1|zone=2)", "raw: reserved 0000000000000000"},
      {"flags: 0x57ffffc0000400(reserved|node=1|zone=2)", "page dumped because: no page line before"},
  });
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[0].pfn, 0x100200u);
  EXPECT_EQ(pages[0].index, 0x2au);
  EXPECT_TRUE(pages[0].reserved);
  EXPECT_EQ(pages[0].page_type, "page_type f5(slab)");
  EXPECT_EQ(pages[0].reason, "unmovable page");
  EXPECT_EQ(pages[1].pfn, 0x100400u);
  EXPECT_EQ(pages[1].index, 0u);
  EXPECT_FALSE(pages[1].reserved) << "'reserved' outside the flags line";
  EXPECT_EQ(pages[1].page_type, "");
}

// The boot tag checks judge boot memmap only: a hot-added section's memmap (untagged, in the
// allocator's hands) is no memmap page of a boot section.
TEST(CaseChecks, BootTagChecksLeaveHotAddedMemmapAlone) {
  const auto checks = check_boot_tags(parse_probe_snapshot(kHotSnapshot));
  const CaseCheck* m = find_check(checks, "boot-tags-memmap");
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->ok) << m->detail;
  EXPECT_FALSE(m->applicable) << m->detail;
}
