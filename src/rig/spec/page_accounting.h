// Page accounting: one rule for every page the probe knows. Before a step each page carries its
// owners (the sections or node it serves) and how many bootmem references each owner holds on it;
// after the step each page has one expected fate, derived from the specification and the owners
// that remain, and the page's state now is judged against it. Pure: probe snapshots in, verdicts
// per page out.
//
//   freed      every owner is gone and the page lives on memory that stays: back in the page
//              allocator (a free buddy block covers it, it sits on a per-cpu list, or it was
//              allocated anew); refcount 0 outside the allocator is "lost"
//   gone       the page lies inside the removed range
//   kept       some owner stays (or the kernel deliberately keeps the page, see exemptions):
//              still held as before, refcount never higher than before and at least 1 plus the
//              references of the owners that stay
//   unchanged  the step was refused: still held by its owner exactly as before
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rig/spec/memmap_snapshot.h"

namespace rig {

enum class Fate { Freed, Gone, Kept, Unchanged };
const char* fate_name(Fate f);

// Who holds a page before the step, as far as its state tells.
enum class Holder {
  Bootmem,   // Reserved and tagged SECTION_INFO / MIX_SECTION_INFO / NODE_INFO
  Memblock,  // Reserved, untagged (a boot allocation, e.g. a direct-map page table)
  Buddy,     // allocated from the page allocator (hot-added memmap, run-time page tables)
  Slab,      // a slab page (the usage of a hot-added section)
  Free,      // already in the allocator before the step
};
const char* holder_name(Holder h);

// An owner of a page: a section (memmap, page tables, usage, direct map) or a node (pgdat).
struct PageOwner {
  bool node = false;
  int64_t id = 0;
  int64_t refs = 0;  // bootmem references this owner took on the page (get_page_bootmem)
  bool operator<(const PageOwner& o) const { return node != o.node ? node < o.node : id < o.id; }
};

struct PageExpectation {
  uint64_t pfn = 0;
  std::vector<PageRole> roles;
  std::vector<PageOwner> owners;
  PageState before;
  Holder holder = Holder::Bootmem;
  Fate fate = Fate::Kept;
  int64_t min_ref = 0, max_ref = 0;  // kept: the refcount range the spec allows
  std::string why;                   // why this fate (an exemption cites the kernel source)

  bool has_role(PageRoleKind k) const;
  bool table() const;               // a vmemmap or direct-map page-table page
  std::string roles_text() const;   // "pmd:512,pmd:513"
  std::string owners_text() const;  // "sections 512 (1 ref), 513 (1 ref)"
};

// One page judged: what the model expected, what the probe saw, and what is wrong (empty: ok).
struct PageVerdict {
  PageExpectation expect;
  PageState seen;
  std::string outcome;  // "free (buddy block)", "on a per-cpu list", "allocated anew (slab)", "lost", ...
  std::string problem;  // empty when the page ended as expected
  // False when the probe's answer cannot show the expected fate (format 1 has no allocator
  // state): the page is neither a pass nor a failure, and a check of only such pages is n/a.
  bool judged = true;
  bool ok() const { return problem.empty(); }
};

// The owners and their references of every page of a snapshot. References follow the kernel's
// registration (arch/x86/mm/init_64.c register_page_bootmem_memmap(), mm/bootmem_info.c):
// per 2 MiB step of a boot section's vmemmap (per 4 KiB step without PSE) one reference on each
// memmap page of that block, one on the PMD table, two on the PUD table with 4-level paging
// (pgd_page and p4d_page are the same page) or one on the PUD and one on the P4D table with 5
// levels; one per usage page of a boot section; one per pgdat page of a node online at boot.
std::map<uint64_t, std::vector<PageOwner>> page_owners(const MemmapSnapshot& s);

// The expected fate of every page of `before` when [first_pfn, first_pfn + pfn_count) is removed
// (`removed`) or the removal is refused.
std::vector<PageExpectation> expected_fates(const MemmapSnapshot& before, uint64_t first_pfn, uint64_t pfn_count,
                                            bool removed);

// Judges each page against its state now (`after`: pfn -> state; a pfn missing from it is an
// error the caller must have ruled out, see check_query_covers).
std::vector<PageVerdict> judge_pages(const std::vector<PageExpectation>& expected,
                                     const std::map<uint64_t, PageState>& after, const BootmemTypes& types);

// Pages expected freed that look lost (refcount 0, in no free block, on no per-cpu list). A page
// in flight between the allocator's lists while the probe read (taken off a free list for an
// allocation, moved from a per-cpu list to the buddy lists) looks the same for an instant, so the
// runner reads these again before it judges; a page that stays like this is lost.
std::vector<uint64_t> unsettled_pages(const std::vector<PageExpectation>& expected,
                                      const std::map<uint64_t, PageState>& after);

// A page's state for people: flags, refcount, bootmem type and info, node, and (format 2) where
// it is for the allocator. "gone (offline or removed)" when the probe found no page.
std::string describe_state(const PageState& s, const BootmemTypes& t);

// What a reproducer's probe query must show of a page a failed check names for the failure to
// count as seen again, as tokens over the probe's fields (docs/probe-format.md): "gone",
// "online", KEY=VALUE (res, priv, buddy, selfhosted, ref, info, nid, free, held) and
// type=untagged|tagged|SECTION_INFO|MIX_SECTION_INFO|NODE_INFO. From the page's typed state
// `now` and what the check expected of it:
//   Same      (kept, unchanged, boot tags) exactly the state `now`;
//   Freed     still Reserved / Private / tagged (or still lost: refcount 0, held by nobody), else
//             exactly `now`;
//   Gone      still online.
// "gone" when the probe found no page. Empty when `now` cannot be compared (a bootmem type number
// the snapshot does not name).
enum class PageEvidence { Same, Freed, Gone };
std::string probe_evidence(const PageState& now, const BootmemTypes& t, PageEvidence want);

// Node id -> the MemTotal change in pages the model predicts: each Reserved page expected freed
// onto the node counts +1 (free_reserved_page() makes it managed again); the departing node
// loses the removed range minus pages that were never managed (a self-hosted memmap).
std::map<int, int64_t> expected_memtotal_delta(const std::vector<PageExpectation>& expected, int departing_node,
                                               uint64_t removed_pages);

}  // namespace rig
