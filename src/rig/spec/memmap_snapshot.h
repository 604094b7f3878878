// What the in-guest probe reports (images/probe, format "rig-probe 2", docs/probe-format.md;
// format 1 recordings still parse, with PageState::alloc_known false):
// every present section, every node's pgdat, and the state of every page that carries bootmem
// info, with the roles that explain why it is reported. Pure model and parser.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rig {

enum class PageRoleKind { Memmap, Pte, Pmd, Pud, P4d, Usage, Pgdat, DmapPmd, DmapPud, DmapPte };
const char* page_role_name(PageRoleKind k);
// The one role classification: a table of the vmemmap's page tables (PTE, PMD, PUD, P4D)...
inline bool is_vmemmap_table(PageRoleKind k) {
  return k == PageRoleKind::Pte || k == PageRoleKind::Pmd || k == PageRoleKind::Pud || k == PageRoleKind::P4d;
}
// ... and any page-table page the probe knows: those and the direct map's PMD and PUD tables.
inline bool is_page_table(PageRoleKind k) {
  return is_vmemmap_table(k) || k == PageRoleKind::DmapPmd || k == PageRoleKind::DmapPud || k == PageRoleKind::DmapPte;
}

struct PageRole {
  PageRoleKind kind = PageRoleKind::Memmap;
  int64_t owner = 0;  // section number; node id for pgdat
  bool operator==(const PageRole& o) const { return kind == o.kind && owner == o.owner; }
};

// The state of one page as the probe read it. `online` false: pfn_to_online_page() found no
// page (the memory is offline or removed); the other fields are then meaningless.
struct PageState {
  bool online = false;
  int nid = -1;
  bool reserved = false, private_ = false, buddy = false, selfhosted = false;
  int64_t ref = 0;
  uint64_t type = 0, info = 0;
  // Where the page is as far as the page allocator is concerned (probe format 2; format 1 does
  // not say, and `alloc_known` is false then):
  //   free_block: a free buddy block covers it (only the block's head has PageBuddy; pages
  //               inside it have refcount 0 and no flags);
  //   on_pcp:     it sits on a per-cpu free list (alone or inside a high-order pcp block);
  //   slab/lru/pgtable: what holds an allocated page, where the kernel can tell.
  bool alloc_known = false;
  bool free_block = false, on_pcp = false;
  bool slab = false, lru = false, pgtable = false;
  bool held_other = false;  // held=other: allocated (the compound head has a reference), holder not known
  // From the step's free trace (spec/free_trace.h), not from the probe's answer, and not part of
  // the state compared by ==: the step's frees were traced completely, and this page was freed.
  bool frees_traced = false, traced_free = false;
  // Allocated to someone (a compound tail counts through its head): held= anything but none.
  bool held() const { return slab || lru || pgtable || held_other; }
  bool in_allocator() const { return free_block || on_pcp; }
  bool operator==(const PageState& o) const;
  bool operator!=(const PageState& o) const { return !(*this == o); }
  // Given back to the page allocator: neither Reserved nor Private (so no bootmem tag). Such a
  // page may sit in a per-cpu list or inside a larger buddy block (refcount 0, no flags), or be
  // allocated again at once (refcount 1): seen on Debian 6.1 within a second of the removal.
  bool freed() const { return online && !reserved && !private_; }
};

// Consecutive pfns with the same state and the same roles (shifted by the pfn).
struct PageRun {
  uint64_t pfn = 0;
  uint64_t count = 1;
  PageState state;
  std::vector<PageRole> roles;
};

struct SectionEntry {
  uint64_t nr = 0;
  int nid = -1;
  bool early = false;
  bool online = false;
};

struct NodeEntry {
  int nid = 0;
  uint64_t pgdat_pfn = 0;
  uint64_t pgdat_bytes = 0;
  bool online = false;
};

struct BootmemTypes {
  uint64_t section = 0, mix = 0, node = 0;
};

struct MemmapSnapshot {
  int format = 0;
  std::string kernel;
  std::string probe;     // how the probe read the kernel: "kcore" (BTF and /proc/kcore), "module", "" (not said)
  std::string encoding;  // "index-private" (<= 6.13), "private-packed" (6.14+), "none"
  BootmemTypes types;
  int struct_page = 0;
  int section_shift = 0;
  int paging_levels = 0;
  std::vector<SectionEntry> sections;
  std::vector<NodeEntry> nodes;
  std::vector<PageRun> runs;

  uint64_t pfn_section(uint64_t pfn) const { return pfn >> (section_shift - 12); }
  uint64_t pages_per_section() const { return 1ull << (section_shift - 12); }
  const SectionEntry* section(uint64_t nr) const;
  const NodeEntry* node(int nid) const;
  bool tags_present() const { return encoding != "none"; }
};

// The answer to a query: the state of the asked pfns now, in runs.
struct PfnStateRun {
  uint64_t pfn = 0;
  uint64_t count = 1;
  PageState state;
};

// Both throw ProbeFormatError naming the line for malformed input or an unknown format version.
MemmapSnapshot parse_probe_snapshot(const std::string& text);
std::vector<PfnStateRun> parse_probe_query(const std::string& text);

// The ranges of a query ("a-b c 0x10-0x1f"), in order, as inclusive [first, last] pairs. Throws
// ProbeFormatError for a malformed token or last < first.
std::vector<std::pair<uint64_t, uint64_t>> parse_query_ranges(const std::string& ranges);
// Throws ProbeFormatError unless the answer covers every pfn of `ranges` exactly once and in the
// order asked (duplicated asks are answered twice): a missing pfn, an extra one or a truncated
// answer is an error, never "gone".
void check_query_covers(const std::vector<PfnStateRun>& runs, const std::string& ranges);

class ProbeFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Expands runs into a pfn -> state map (what the checks compare).
std::map<uint64_t, PageState> states_by_pfn(const std::vector<PfnStateRun>& runs);

// The pfn ranges of every page in a snapshot, for a query: "a-b c d-e".
std::string query_ranges(const MemmapSnapshot& s);

}  // namespace rig
