#include "rig/case_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace rig {
namespace {

// Offenders of one check, grouped by a short description of what was wrong.
class Offenders {
 public:
  void add(const std::string& what, uint64_t pfn) { groups_[what].push_back(pfn); }
  bool empty() const { return groups_.empty(); }
  size_t pages() const {
    size_t n = 0;
    for (const auto& [w, p] : groups_) n += p.size();
    return n;
  }
  std::string str() const {
    std::string out;
    size_t shown = 0;
    for (const auto& [what, pfns] : groups_) {
      if (shown++ == 8) {
        out += "; ...";
        break;
      }
      out += fmt::format("{}pfn {} ({} pages): {}", out.empty() ? "" : "; ", pfn_ranges(pfns), pfns.size(), what);
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<uint64_t>> groups_;
};

const char* type_name(uint64_t type, const BootmemTypes& t) {
  if (type == 0) return "untagged";
  if (type == t.section) return "SECTION_INFO";
  if (type == t.mix) return "MIX_SECTION_INFO";
  if (type == t.node) return "NODE_INFO";
  return "unknown-type";
}

std::set<uint64_t> early_sections(const MemmapSnapshot& s) {
  std::set<uint64_t> out;
  for (const auto& e : s.sections)
    if (e.early) out.insert(e.nr);
  return out;
}

int64_t kb_to_pages(int64_t kb) { return kb / 4; }

std::string hosts_of(const SectionPlacement& sp) {
  std::set<uint64_t> h;
  for (const auto& [host, pages] : sp.memmap_hosts) h.insert(host);
  return section_list(h);
}

}  // namespace

std::string pfn_ranges(const std::vector<uint64_t>& in, size_t max) {
  std::vector<uint64_t> pfns = in;
  std::sort(pfns.begin(), pfns.end());
  std::string out;
  size_t ranges = 0;
  for (size_t i = 0; i < pfns.size();) {
    size_t j = i;
    while (j + 1 < pfns.size() && pfns[j + 1] == pfns[j] + 1) ++j;
    if (ranges++ == max) {
      out += ",...";
      break;
    }
    out += (out.empty() ? "" : ",") + (i == j ? fmt::format("{:#x}", pfns[i]) : fmt::format("{:#x}-{:#x}", pfns[i], pfns[j]));
    i = j + 1;
  }
  return out;
}

std::string describe_state(const PageState& s, const BootmemTypes& t) {
  if (!s.online) return "gone (offline or removed)";
  std::string flags;
  if (s.reserved) flags += "Reserved ";
  if (s.private_) flags += "Private ";
  if (s.buddy) flags += "Buddy ";
  if (s.selfhosted) flags += "VmemmapSelfHosted ";
  return fmt::format("{}refcount {} {} info {} node {}", flags, s.ref, type_name(s.type, t), s.info, s.nid);
}

std::vector<DumpedPage> parse_page_dumps(const std::vector<std::vector<std::string>>& dumps) {
  std::vector<DumpedPage> out;
  for (const auto& lines : dumps) {
    DumpedPage d;
    bool found = false;
    for (const auto& l : lines) {
      if (l.rfind("page:", 0) == 0) {
        auto pfn = l.find(" pfn:0x");
        auto idx = l.find(" index:0x");
        if (pfn == std::string::npos) continue;
        d.pfn = std::stoull(l.substr(pfn + 7), nullptr, 16);
        d.index = idx == std::string::npos ? 0 : std::stoull(l.substr(idx + 9), nullptr, 16);
        d.header = l;
        found = true;
      } else if (l.find("flags:") != std::string::npos && l.find("reserved") != std::string::npos) {
        d.reserved = true;
      }
    }
    if (found) out.push_back(d);
  }
  return out;
}

std::vector<CaseCheck> check_boot_tags(const MemmapSnapshot& s) {
  std::vector<CaseCheck> out;
  if (!s.tags_present()) {
    out.push_back({1, "boot-tags", true, "this kernel tags no bootmem pages (encoding none): tag checks do not apply"});
    return out;
  }
  const auto early = early_sections(s);
  std::set<int> boot_nodes;
  for (const auto& e : s.sections)
    if (e.early && e.nid >= 0) boot_nodes.insert(e.nid);

  // Boot memmap is PMD-mapped: register_page_bootmem_memmap() takes a reference on, and tags,
  // every page of each 2 MiB block a section's memmap touches. With a struct page that is not
  // 64 bytes a block serves two sections and is registered by both.
  std::map<uint64_t, std::set<int64_t>> block_registrants;
  for (const auto& run : s.runs)
    for (const auto& r : run.roles)
      if (r.kind == PageRoleKind::Memmap && early.count(static_cast<uint64_t>(r.owner)))
        for (uint64_t pfn = run.pfn & ~511ull; pfn < run.pfn + run.count; pfn += 512) block_registrants[pfn].insert(r.owner);

  Offenders memmap, tables, pgdat;
  size_t memmap_pages = 0, table_pages = 0, pgdat_pages = 0;
  for (const auto& run : s.runs) {
    if (!run.state.online) continue;
    std::vector<int64_t> memmap_owners;
    bool table = false, pg = false;
    int64_t pg_node = -1;
    std::set<uint64_t> pg_nodes;
    bool early_table = false;
    for (const auto& r : run.roles) {
      if (r.kind == PageRoleKind::Memmap) memmap_owners.push_back(r.owner);
      if (r.kind == PageRoleKind::Pmd || r.kind == PageRoleKind::Pud || r.kind == PageRoleKind::Pte || r.kind == PageRoleKind::Usage) {
        table = true;
        early_table |= early.count(static_cast<uint64_t>(r.owner)) > 0;
      }
      if (r.kind == PageRoleKind::Pgdat) {
        pg = true;
        pg_node = r.owner;
        pg_nodes.insert(static_cast<uint64_t>(r.owner));
      }
    }
    const PageState& st = run.state;
    for (uint64_t i = 0; i < run.count; ++i) {
      const uint64_t pfn = run.pfn + i;
      const std::string seen = describe_state(st, s.types);
      if (!memmap_owners.empty()) {
        bool any_early = std::any_of(memmap_owners.begin(), memmap_owners.end(), [&](int64_t o) { return early.count(static_cast<uint64_t>(o)); });
        if (!any_early || st.selfhosted) continue;  // hot-added memmap is not bootmem
        ++memmap_pages;
        const std::set<int64_t>& registrants = block_registrants[pfn & ~511ull];
        const bool names_registrant = registrants.count(static_cast<int64_t>(st.info)) > 0;
        const int64_t want_ref = 1 + static_cast<int64_t>(registrants.size());
        std::set<uint64_t> reg(registrants.begin(), registrants.end());
        if (st.type != s.types.section || !st.private_ || !st.reserved || !names_registrant || st.ref != want_ref)
          memmap.add(fmt::format("backs section {} in a block registered by section {}: expected Reserved Private SECTION_INFO "
                                 "naming one of them, refcount {}; saw {}",
                                 section_list({memmap_owners.begin(), memmap_owners.end()}), section_list(reg), want_ref, seen),
                     pfn);
      } else if (pg) {
        if (!boot_nodes.count(static_cast<int>(pg_node))) continue;  // pgdat of a node offline at boot: memblock, untagged
        ++pgdat_pages;
        const bool edge = i == 0 || i + 1 == run.count;
        const bool type_ok = st.type == s.types.node || (st.type == s.types.mix && edge);
        if (pg_nodes.size() > 1) {
          // pgdat is not page-aligned (6.12 aligns it to a cache line): one page holds parts of
          // two nodes' pgdat and can name only one of them.
          pgdat.add(fmt::format("one page holds the pgdat of nodes {} and is tagged for node {} only: {}", section_list(pg_nodes),
                                st.info, seen),
                    pfn);
        } else if (!type_ok || st.info != static_cast<uint64_t>(pg_node) || !st.reserved || !st.private_ || st.ref < 2) {
          pgdat.add(fmt::format("pgdat of node {}: expected Reserved Private NODE_INFO info {} refcount >= 2; saw {}", pg_node, pg_node, seen), pfn);
        }
      } else if (table && early_table) {
        ++table_pages;
        if (st.type != s.types.mix || !st.private_ || !st.reserved || st.ref < 2)
          tables.add(fmt::format("vmemmap page table or usage page: expected Reserved Private MIX_SECTION_INFO refcount >= 2; saw {}", seen), pfn);
      }
    }
  }
  out.push_back({1, "boot-tags-memmap", memmap.empty(),
                 memmap.empty() ? fmt::format("{} memmap pages of boot sections tagged SECTION_INFO with their section, refcount 1 + registrations", memmap_pages)
                                : memmap.str()});
  out.push_back({3, "boot-tags-page-tables", tables.empty(),
                 tables.empty() ? fmt::format("{} vmemmap page-table and usage pages tagged MIX_SECTION_INFO", table_pages) : tables.str()});
  out.push_back({5, "boot-tags-pgdat", pgdat.empty(),
                 pgdat.empty() ? fmt::format("{} pgdat pages of boot nodes tagged NODE_INFO with their node", pgdat_pages) : pgdat.str()});
  return out;
}

std::vector<CaseCheck> check_after_removal(const RemovalAnalysis& a, const MemmapSnapshot& before,
                                           const NodeMemTotals& mem_before, uint64_t first_pfn, uint64_t pfn_count,
                                           const std::map<uint64_t, PageState>& after, const NodeMemTotals& mem_after) {
  std::vector<CaseCheck> out;
  auto now = [&](uint64_t pfn) {
    auto it = after.find(pfn);
    return it == after.end() ? PageState{} : it->second;
  };
  const auto placements = memmap_placements(before);

  // Case 1: memmap that lived on memory which stays is given back, page by page.
  for (const auto& sp : a.sections) {
    if (!sp.cases.count(1)) continue;
    Offenders left;
    size_t freed = 0;
    for (const auto& run : before.runs)
      for (const auto& r : run.roles)
        if (r.kind == PageRoleKind::Memmap && static_cast<uint64_t>(r.owner) == sp.section)
          for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
            if (a.contains(before.pfn_section(pfn))) continue;
            PageState st = now(pfn);
            if (st.freed()) ++freed;
            else left.add(fmt::format("memmap of removed section {} on section {}: expected freed to the page allocator (not Reserved, not Private); saw {}",
                                      sp.section, before.pfn_section(pfn), describe_state(st, before.types)), pfn);
          }
    out.push_back({1, fmt::format("memmap-freed-section-{}", sp.section), left.empty(),
                   left.empty() ? fmt::format("section {}: {} memmap pages freed; they lived on section {}", sp.section, freed, hosts_of(sp))
                                : left.str()});
  }

  // Case 1: each node that stays gains exactly the pages freed onto it. The departing memory's
  // own node (when it stays) also loses the removed range: offline could only succeed with no
  // Reserved page in it, so every page of it was managed except a self-hosted memmap's.
  uint64_t selfhosted_in_range = 0;
  for (const auto& run : before.runs)
    if (run.state.selfhosted)
      for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) selfhosted_in_range += a.contains(before.pfn_section(pfn));
  for (const auto& [nid, kb_before] : mem_before) {
    const int64_t removed = nid == a.node ? static_cast<int64_t>(pfn_count - selfhosted_in_range) : 0;
    auto it = mem_after.find(nid);
    if (it == mem_after.end()) continue;
    std::map<std::string, uint64_t> freed_by_role;
    uint64_t freed = 0;
    for (const auto& run : before.runs) {
      if (!run.state.online || !run.state.reserved || run.state.nid != nid) continue;
      for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
        if (now(pfn).freed()) {
          ++freed;
          ++freed_by_role[page_role_name(run.roles.front().kind)];
        }
    }
    const int64_t delta = kb_to_pages(static_cast<int64_t>(it->second) - static_cast<int64_t>(kb_before));
    std::string roles;
    for (const auto& [r, n] : freed_by_role) roles += fmt::format("{}{} {}", roles.empty() ? "" : ", ", r, n);
    const int64_t expected = static_cast<int64_t>(freed) - removed;
    const bool ok = delta == expected;
    out.push_back({1, fmt::format("memtotal-node-{}", nid), ok,
                   fmt::format("node {} MemTotal {:+} kB ({:+} pages); bootmem pages freed onto it: {}{}{}{}", nid,
                               static_cast<int64_t>(it->second) - static_cast<int64_t>(kb_before), delta, freed,
                               roles.empty() ? "" : " (" + roles + ")",
                               removed ? fmt::format("; removed from it: {} pages", removed) : "",
                               ok ? "" : fmt::format(": expected MemTotal to change by exactly {:+} pages", expected))});
  }

  // Case 2: nothing that lies in removed memory may still be usable, least of all free.
  {
    Offenders wrong;
    for (uint64_t pfn = first_pfn; pfn < first_pfn + pfn_count; ++pfn) {
      PageState st = now(pfn);
      if (!st.online) continue;
      wrong.add(st.freed() ? fmt::format("inside removed section {}, handed to the page allocator: {}", before.pfn_section(pfn), describe_state(st, before.types))
                           : fmt::format("inside removed section {}, still online: {}", before.pfn_section(pfn), describe_state(st, before.types)),
                pfn);
    }
    out.push_back({2, "removed-memory-gone", wrong.empty(),
                   wrong.empty() ? fmt::format("all {} pfns of sections {}-{} are gone; memmap that lived there went with them",
                                               pfn_count, a.first_section, a.last_section)
                                 : wrong.str()});
  }

  // Case 3: a section whose memmap lived in the removed memory must not outlive it.
  for (const auto& sp : a.sections) {
    if (sp.dependents.empty()) continue;
    std::set<uint64_t> orphaned;
    for (uint64_t d : sp.dependents)
      if (!a.contains(d)) orphaned.insert(d);
    out.push_back({3, fmt::format("dependents-first-section-{}", sp.section), orphaned.empty(),
                   orphaned.empty() ? fmt::format("section {} held only the memmap of sections removed with it ({})", sp.section, section_list(sp.dependents))
                                    : fmt::format("section {} was removed while it held the memmap of section {}, which stays: "
                                                  "the kernel should have refused and said to remove {} first",
                                                  sp.section, section_list(orphaned), section_list(orphaned))});
  }

  // Case 4: memmap on the memory itself did not stop the offline.
  for (const auto& sp : a.sections)
    if (sp.cases.count(4))
      out.push_back({4, fmt::format("offline-skips-memmap-section-{}", sp.section), true,
                     fmt::format("section {} went offline and away although its memmap lived on removed memory ({})", sp.section, sp.explanation)});

  // Case 5: the node's pgdat stays, tagged, wherever the node's memory goes.
  {
    Offenders changed;
    size_t pages = 0;
    for (const auto& run : before.runs)
      for (const auto& r : run.roles)
        if (r.kind == PageRoleKind::Pgdat && r.owner == a.node)
          for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
            ++pages;
            PageState st = now(pfn);
            if (a.contains(before.pfn_section(pfn)))
              changed.add(fmt::format("pgdat of node {} lived in the removed memory", a.node), pfn);
            else if (st != run.state)
              changed.add(fmt::format("pgdat of node {} changed: was {}; now {}", a.node, describe_state(run.state, before.types),
                                      describe_state(st, before.types)),
                          pfn);
          }
    if (pages > 0)
      out.push_back({5, "pgdat-kept", changed.empty(),
                     changed.empty() ? fmt::format("node {}: {} pgdat pages unchanged (never freed)", a.node, pages) : changed.str()});
  }
  return out;
}

std::vector<CaseCheck> check_after_refusal(const RemovalAnalysis& a, const MemmapSnapshot& before,
                                           const NodeMemTotals& mem_before, const std::map<uint64_t, PageState>& after,
                                           const NodeMemTotals& mem_after, const std::vector<DumpedPage>& dumps) {
  std::vector<CaseCheck> out;
  Offenders changed;
  size_t pages = 0;
  for (const auto& run : before.runs) {
    // Bootmem pages and memmap pages only: a hot-added section's usage is a slab page whose
    // fields change with every allocation in it.
    const bool memmap = std::any_of(run.roles.begin(), run.roles.end(), [](const PageRole& r) { return r.kind == PageRoleKind::Memmap; });
    if (!run.state.reserved && !run.state.private_ && !memmap) continue;
    for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
      ++pages;
      auto it = after.find(pfn);
      PageState st = it == after.end() ? PageState{} : it->second;
      if (st != run.state)
        changed.add(fmt::format("was {}; now {}", describe_state(run.state, before.types), describe_state(st, before.types)), pfn);
    }
  }
  std::string mem;
  for (const auto& [nid, kb] : mem_before) {
    auto it = mem_after.find(nid);
    if (it == mem_after.end()) mem += fmt::format("; node {} disappeared", nid);
    else if (it->second != kb) mem += fmt::format("; node {} MemTotal {} -> {} kB", nid, kb, it->second);
  }
  const bool ok = changed.empty() && mem.empty();
  const int main_case = a.cases.count(2) ? 2 : a.cases.count(3) ? 3 : 5;
  out.push_back({main_case, "refusal-changed-nothing", ok,
                 ok ? fmt::format("{} bootmem pages and every node's MemTotal unchanged after the refusal", pages)
                    : changed.str() + mem});

  for (const auto& sp : a.sections) {
    std::set<uint64_t> staying;
    for (uint64_t d : sp.dependents)
      if (!a.contains(d)) staying.insert(d);
    if (staying.empty()) continue;
    // The same check fails after a removal that orphaned the dependents (check_after_removal).
    out.push_back({3, fmt::format("dependents-first-section-{}", sp.section), true,
                   fmt::format("section {} holds the memmap of section {}: remove section {} before section {}", sp.section,
                               section_list(staying), section_list(staying), sp.section)});
  }
  if (a.pgdat_inside)
    // The same check fails after a removal that took the pgdat with it (check_after_removal).
    out.push_back({5, "pgdat-kept", true, fmt::format("node {}'s pgdat lives in this memory and stayed: it cannot go while the node exists", a.node)});

  // Case 4: when the kernel names the memmap of the departing memory itself as what blocked
  // the offline, isolation did not skip memmap pages. (Memmap of a section that stays is
  // case 3: that one must block.)
  std::set<uint64_t> seen;
  for (const auto& d : dumps) {
    const uint64_t sec = before.pfn_section(d.pfn);
    if (!a.contains(sec) || !seen.insert(d.pfn).second) continue;  // ACPI offlines twice: dumps repeat
    bool own_memmap = false;
    for (const auto& run : before.runs)
      if (d.pfn >= run.pfn && d.pfn < run.pfn + run.count)
        for (const auto& r : run.roles) own_memmap |= r.kind == PageRoleKind::Memmap && a.contains(static_cast<uint64_t>(r.owner));
    if (own_memmap)
      out.push_back({4, fmt::format("offline-skips-memmap-section-{}", sec), false,
                     fmt::format("offline stopped at pfn {:#x}, a memmap page of the departing memory (section {}): isolation did not skip it; {}",
                                 d.pfn, sec, d.header)});
  }
  return out;
}

std::vector<CaseCheck> check_cycles(const std::vector<NodeMeminfo>& cycles, uint64_t slack_kb) {
  if (cycles.size() < 2) return {};
  const NodeMeminfo& first = cycles.front();
  std::string total_drift, free_trend;
  int64_t free_first = 0, free_last = 0;
  for (const auto& [nid, tf] : first) free_first += static_cast<int64_t>(tf.second);
  for (const auto& [nid, tf] : cycles.back()) free_last += static_cast<int64_t>(tf.second);
  for (size_t c = 1; c < cycles.size(); ++c) {
    for (const auto& [nid, tf] : first) {
      auto it = cycles[c].find(nid);
      if (it == cycles[c].end()) total_drift += fmt::format("; after cycle {} node {} is gone", c + 1, nid);
      else if (it->second.first != tf.first)
        total_drift += fmt::format("; after cycle {} node {} MemTotal {} kB (cycle 1: {} kB)", c + 1, nid, it->second.first, tf.first);
    }
    int64_t free_sum = 0;
    for (const auto& [nid, tf] : cycles[c]) free_sum += static_cast<int64_t>(tf.second);
    free_trend += fmt::format("{}{:+}", free_trend.empty() ? "" : ", ", free_sum - free_first);
  }
  const int64_t drop = free_first - free_last;
  std::vector<CaseCheck> out;
  out.push_back({1, "cycles-memtotal-stable", total_drift.empty(),
                 total_drift.empty() ? fmt::format("MemTotal of every node identical after all {} cycles", cycles.size())
                                     : total_drift.substr(2)});
  out.push_back({1, "cycles-no-free-memory-leak", drop <= static_cast<int64_t>(slack_kb),
                 fmt::format("free memory after each cycle vs cycle 1 (kB): {}; {} kB lost over {} cycles (slack {} kB){}", free_trend, drop,
                             cycles.size(), slack_kb,
                             drop <= static_cast<int64_t>(slack_kb) ? "" : fmt::format(": about {} kB per cycle leaked", drop / static_cast<int64_t>(cycles.size() - 1)))});
  return out;
}

std::vector<CaseCheck> check_pgdat_reuse(const MemmapSnapshot& boot, const MemmapSnapshot& now, int node) {
  const NodeEntry* was = boot.node(node);
  const NodeEntry* is = now.node(node);
  if (!was) return {};
  if (!is) return {{5, "pgdat-reused", false, fmt::format("node {} has no pgdat any more", node)}};
  if (was->pgdat_pfn != is->pgdat_pfn)
    return {{5, "pgdat-reused", false,
             fmt::format("node {}'s pgdat moved from pfn {:#x} to {:#x}: the boot pgdat was not reused", node, was->pgdat_pfn, is->pgdat_pfn)}};
  Offenders changed;
  for (const auto& run : boot.runs)
    for (const auto& r : run.roles)
      if (r.kind == PageRoleKind::Pgdat && r.owner == node)
        for (const auto& nrun : now.runs)
          for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
            if (pfn >= nrun.pfn && pfn < nrun.pfn + nrun.count && nrun.state != run.state)
              changed.add(fmt::format("was {}; now {}", describe_state(run.state, boot.types), describe_state(nrun.state, boot.types)), pfn);
  return {{5, "pgdat-reused", changed.empty(),
           changed.empty() ? fmt::format("node {} came back on its boot pgdat at pfn {:#x}, tags intact", node, is->pgdat_pfn) : changed.str()}};
}

}  // namespace rig
