// After a step: the spec's expectations for each class of page, checked page by page. Every
// failed check names the pfns, the section, what was expected and what was seen. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rig/spec/case_classifier.h"
#include "rig/spec/memmap_snapshot.h"
#include "rig/spec/page_accounting.h"

namespace rig {

// One page a failed check names: the evidence an xfail pattern is matched against.
struct OffendingPage {
  uint64_t pfn = 0;
  std::string roles;     // "pmd:512,pmd:513": the page's roles and owners (docs/probe-format.md)
  std::string expected;  // "freed", "kept refcount 1..3", "unchanged", ...
  std::string seen;      // describe_state() of the page now
  std::string evidence;  // probe_evidence(): what a reproducer looks for again; empty: nothing
};

struct CaseCheck {
  int case_no = 0;  // 1-5
  std::string name;
  bool ok = false;
  std::string detail;
  // False: this check could not have failed in this run (a refusal, a removal that already proved
  // it, a kernel without tags): reported as n/a with `detail` saying why, never as coverage.
  bool applicable = true;
  std::vector<OffendingPage> offenders;  // the pages a failed check names (empty for counts)
};

// Node id -> MemTotal in kB, as /sys/devices/system/node/nodeN/meminfo reports it.
using NodeMemTotals = std::map<int, uint64_t>;

// A page the kernel dumped when it refused to offline (dump_page "unmovable page").
struct DumpedPage {
  uint64_t pfn = 0;
  uint64_t index = 0;
  bool reserved = false;
  std::string header;
  std::string page_type;  // "page_type f5(slab)", when dumped
  std::string reason;     // "unmovable page": the "page dumped because" line
};
std::vector<DumpedPage> parse_page_dumps(const std::vector<std::vector<std::string>>& dumps);

// Whether this kernel marks its bootmem pages PG_private beside the tag (6.1 to 6.18 do, 7.2 does
// not): any tagged Reserved page of the snapshot with PagePrivate says so.
bool private_marks_tags(const MemmapSnapshot& s);
// The boot-time tags: memmap SECTION_INFO naming a section it backs with refcount 1 + the
// sections that registered it; page-table and usage pages MIX_SECTION_INFO; pgdat NODE_INFO.
std::vector<CaseCheck> check_boot_tags(const MemmapSnapshot& s);

// After DEVICE_DELETED. `after` holds the state now of every pfn of `before` and of the removed
// range [first_pfn, first_pfn + pfn_count). `memtotal_pages`: the pages the departing node's
// MemTotal loses by the step (default: the range; a virtio-mem shrink also loses the sub-blocks
// it unplugged from blocks that stay, and nothing for blocks that were offline).
std::vector<CaseCheck> check_after_removal(const RemovalAnalysis& a, const MemmapSnapshot& before,
                                           const NodeMemTotals& mem_before, uint64_t first_pfn, uint64_t pfn_count,
                                           const std::map<uint64_t, PageState>& after, const NodeMemTotals& mem_after,
                                           std::optional<uint64_t> memtotal_pages = std::nullopt);

// A virtio-mem shrink that removed no memory block: the driver unplugged sub-blocks of blocks
// that stay (fake-offlined them: alloc_contig_range(), then adjust_managed_page_count() in
// drivers/virtio/virtio_mem.c) or nothing at all. Every probed page is held as before
// (`pages-unchanged`, case 1) and node `node`'s MemTotal drops by exactly `unplugged_pages`
// (`memtotal-node-N`), every other node's stays.
std::vector<CaseCheck> check_after_shrink_in_place(const MemmapSnapshot& before, const NodeMemTotals& mem_before,
                                                   const std::map<uint64_t, PageState>& after,
                                                   const NodeMemTotals& mem_after, int node, uint64_t unplugged_pages);

// After the guest refused the eject: nothing may have changed.
std::vector<CaseCheck> check_after_refusal(const RemovalAnalysis& a, const MemmapSnapshot& before,
                                           const NodeMemTotals& mem_before, const std::map<uint64_t, PageState>& after,
                                           const NodeMemTotals& mem_after, const std::vector<DumpedPage>& dumps);

// When memory comes back to a node: the pgdat seen at boot is reused, tag intact.
std::vector<CaseCheck> check_pgdat_reuse(const MemmapSnapshot& boot, const MemmapSnapshot& now, int node);

// Repeated scenarios: node id -> {MemTotal, free} kB before the first cycle (`baseline`) and
// after each cycle. Each cycle is compared with the one before it: MemTotal must come back
// exactly; free memory a cycle took must come back, within `slack_kb_per_cycle` (the measured
// noise of per-cpu lists and slab, docs/accounting.md; a leaked memmap of a 256 MiB DIMM is
// 4096 kB a cycle), in that cycle's reading or any later one, `settled` (readings taken after the
// last cycle) included: a transient another cycle gave back is not a leak.
using NodeMeminfo = std::map<int, std::pair<uint64_t, uint64_t>>;
constexpr uint64_t kCycleFreeSlackKb = 1024;
std::vector<CaseCheck> check_cycles(const NodeMeminfo& baseline, const std::vector<NodeMeminfo>& after_each_cycle,
                                    uint64_t slack_kb_per_cycle = kCycleFreeSlackKb,
                                    const std::vector<NodeMeminfo>& settled = {});

// "0x3e200-0x3e3ff" style ranges for a sorted pfn list (at most `max` ranges, then "...").
std::string pfn_ranges(const std::vector<uint64_t>& pfns, size_t max = 6);

}  // namespace rig
