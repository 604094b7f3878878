#include "rig/spec/page_accounting.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace rig {
namespace {

bool tagged(const PageState& st, const BootmemTypes& t) {
  return st.private_ && st.type != 0 && (st.type == t.section || st.type == t.mix || st.type == t.node);
}

Holder holder_of(const PageState& st, const std::vector<PageRole>& roles, const MemmapSnapshot& s) {
  if (st.reserved && tagged(st, s.types)) return Holder::Bootmem;
  if (st.reserved) return Holder::Memblock;
  if (st.alloc_known && st.in_allocator()) return Holder::Free;
  if (st.slab) return Holder::Slab;
  // The usage of a section added at run time is kmalloc'ed (mm/sparse.c section_activate()).
  for (const auto& r : roles)
    if (r.kind == PageRoleKind::Usage) {
      const SectionEntry* e = s.section(static_cast<uint64_t>(r.owner));
      if (e && !e->early) return Holder::Slab;
    }
  return Holder::Buddy;
}

// The kernel's own exemptions: pages it deliberately keeps although every owner left. Each names
// the source that says so (docs/accounting.md lists them).
std::optional<std::string> kept_by_kernel(const PageExpectation& e, const MemmapSnapshot& s) {
  for (const auto& r : e.roles) {
    if ((r.kind == PageRoleKind::Pud || r.kind == PageRoleKind::DmapPud) && s.paging_levels != 5)
      return std::string(
          "PUD tables are never freed with 4-level paging (arch/x86/mm/init_64.c remove_p4d_table(): \"For 4-level "
          "page "
          "tables we do not want to free PUDs\"; 98fe3633c5a4)");
    if (r.kind == PageRoleKind::P4d)
      return std::string(
          "P4D tables are never freed (arch/x86/mm/init_64.c remove_pagetable() frees no p4d level; af2cf278ef4f)");
    // The kernel's rule is about early sections, not tags: it holds on kernels without bootmem
    // info (7.3) and for an untagged usage page alike (a missing tag is boot-tags' to report).
    const SectionEntry* owner =
        r.kind == PageRoleKind::Usage && r.owner >= 0 ? s.section(static_cast<uint64_t>(r.owner)) : nullptr;
    if (owner && owner->early)
      return std::string(
          "the usage map of a boot section is kept for re-adding it (mm/sparse.c section_deactivate(): \"When removing "
          "an "
          "early section, the usage map is kept\")");
    if (r.kind == PageRoleKind::Pgdat)
      return std::string(
          "pgdat is never freed (spec case 5; mm/memory_hotplug.c try_offline_node() only offlines the node)");
  }
  return std::nullopt;
}

// The references of the owners that stay (nodes always stay: pgdat is never freed).
int64_t staying_refs_of(const std::vector<PageOwner>& owners, const std::set<uint64_t>& removed_sections) {
  int64_t n = 0;
  for (const auto& o : owners)
    if (o.node || !removed_sections.count(static_cast<uint64_t>(o.id))) n += o.refs;
  return n;
}

std::string alloc_outcome(const PageState& st) {
  if (st.free_block) return "free (inside a free buddy block)";
  if (st.on_pcp) return "free (on a per-cpu list)";
  if (st.slab) return "allocated anew (slab)";
  if (st.lru) return "allocated anew (LRU: user or page cache)";
  if (st.pgtable) return "allocated anew (page table)";
  if (st.ref == 0) return "allocated anew (part of a compound page)";
  return "allocated anew (holder not known to the kernel)";
}

}  // namespace

std::string describe_state(const PageState& s, const BootmemTypes& t) {
  if (!s.online) return "gone (offline or removed)";
  std::string flags;
  if (s.reserved) flags += "Reserved ";
  if (s.private_) flags += "Private ";
  if (s.buddy) flags += "Buddy ";
  if (s.selfhosted) flags += "VmemmapSelfHosted ";
  const char* type = s.type == 0           ? "untagged"
                     : s.type == t.section ? "SECTION_INFO"
                     : s.type == t.mix     ? "MIX_SECTION_INFO"
                     : s.type == t.node    ? "NODE_INFO"
                                           : "unknown-type";
  std::string alloc;
  if (s.alloc_known)
    alloc = s.free_block   ? " in a free block"
            : s.on_pcp     ? " on a pcp list"
            : s.slab       ? " slab"
            : s.lru        ? " lru"
            : s.pgtable    ? " pgtable"
            : s.held_other ? " held"
                           : " held by nobody";
  return fmt::format("{}refcount {} {} info {} node {}{}", flags, s.ref, type, s.info, s.nid, alloc);
}

std::string probe_evidence(const PageState& s, const BootmemTypes& t, PageEvidence want) {
  if (!s.online) return "gone";
  if (want == PageEvidence::Gone) return "online";
  const bool bootmem_type = s.type != 0 && (s.type == t.section || s.type == t.mix || s.type == t.node);
  const bool held_by_nobody = s.alloc_known && !s.in_allocator() && !s.held();
  if (want == PageEvidence::Freed) {
    // Not given back: still Reserved, Private or tagged as it was.
    if (s.reserved || s.private_ || bootmem_type) {
      std::string out;
      if (s.reserved) out += " res=1";
      if (s.private_) out += " priv=1";
      if (bootmem_type) out += " type=tagged";
      return out.substr(1);
    }
    // Lost: refcount 0, in no free block, on no per-cpu list, held by nobody.
    if (held_by_nobody) return fmt::format("ref={} free=no held=none", s.ref);
  }
  // Kept, unchanged, boot tags: exactly the state the failed run saw.
  std::string out = fmt::format("res={} priv={} buddy={} selfhosted={} ref={}", s.reserved ? 1 : 0, s.private_ ? 1 : 0,
                                s.buddy ? 1 : 0, s.selfhosted ? 1 : 0, s.ref);
  const char* type = s.type == 0           ? "untagged"
                     : s.type == t.section ? "SECTION_INFO"
                     : s.type == t.mix     ? "MIX_SECTION_INFO"
                     : s.type == t.node    ? "NODE_INFO"
                                           : nullptr;
  if (type) out += fmt::format(" type={}", type);
  out += fmt::format(" info={} nid={}", s.info, s.nid);
  if (s.alloc_known)
    out += s.free_block   ? " free=buddy"
           : s.on_pcp     ? " free=pcp"
           : s.slab       ? " free=no held=slab"
           : s.lru        ? " free=no held=lru"
           : s.pgtable    ? " free=no held=pgtable"
           : s.held_other ? " free=no held=other"
                          : " free=no held=none";
  return out;
}

namespace {

// Still held as before, for a page whose fate is kept or unchanged. Empty when it is.
std::string still_held(const PageExpectation& e, const PageState& st, const BootmemTypes& t, bool exact) {
  const PageState& b = e.before;
  if (!st.online) return "gone, but it lies on memory that stays";
  if (st.alloc_known && st.in_allocator() && e.holder != Holder::Free)
    return "handed back to the page allocator while an owner still uses it";
  switch (e.holder) {
    case Holder::Bootmem:
      if (!st.reserved || !tagged(st, t) || st.type != b.type) return "no longer Reserved and tagged as at boot";
      if (exact && (st.info != b.info || st.ref != b.ref || st.nid != b.nid)) return "its tag or refcount changed";
      if (!exact && (st.ref > e.max_ref || st.ref < e.min_ref))
        return fmt::format("refcount {} outside {}..{} ({})", st.ref, e.min_ref, e.max_ref,
                           e.min_ref == e.max_ref ? "the kernel never puts it: exactly as before"
                                                  : "1 + the references of the owners that stay .. before");
      return "";
    case Holder::Memblock:
      if (!st.reserved) return "no longer Reserved";
      if (exact && st.ref != b.ref) return "its refcount changed";
      if (st.ref < 1) return "refcount 0";
      return "";
    case Holder::Slab:
      if (st.alloc_known && !st.slab) return "no longer a slab page";
      return "";
    case Holder::Buddy:
      if (st.reserved) return "became Reserved";
      return "";
    case Holder::Free: return "";
  }
  return "";
}

// Refcount 0, not free, held by nobody: still allocated if it is a tail of a non-compound
// high-order block (alloc_pages() without __GFP_COMP) whose head holds the reference. The head is
// the block's first page, aligned to its order, with a reference and not free, and every page
// from it to this one is a tail like this one. A leaked block whose head went back to the
// allocator (the head-only free of bf9e4e30f353) does not pass.
bool tail_of_allocated_block(uint64_t pfn, const std::map<uint64_t, PageState>& after) {
  auto tail_like = [](const PageState& st) {
    return st.online && st.alloc_known && st.ref == 0 && !st.in_allocator() && !st.held() && !st.reserved;
  };
  for (int order = 1; order <= 10; ++order) {
    const uint64_t head = pfn & ~((1ull << order) - 1);
    if (head == pfn) continue;
    auto h = after.find(head);
    if (h == after.end()) return false;
    if (h->second.online && h->second.ref > 0 && !(h->second.alloc_known && h->second.in_allocator())) {
      for (uint64_t p = head + 1; p < pfn; ++p) {
        auto it = after.find(p);
        if (it == after.end() || !tail_like(it->second)) return false;
      }
      return true;
    }
    if (!tail_like(h->second)) return false;
  }
  return false;
}

// Evidence without a trace that a page was freed and allocated again: it is now held by something
// that did not hold it before the step (a slab, the LRU, a page table, a compound page).
bool new_holder(const PageState& before, const PageState& now) {
  if (now.slab && !before.slab) return true;
  if (now.lru && !before.lru) return true;
  if (now.pgtable && !before.pgtable) return true;
  if (now.held_other && !before.held_other && now.ref == 0) return true;  // a tail of a new compound page
  return false;
}

}  // namespace

const char* fate_name(Fate f) {
  switch (f) {
    case Fate::Freed: return "freed";
    case Fate::Gone: return "gone";
    case Fate::Kept: return "kept";
    case Fate::Unchanged: return "unchanged";
  }
  return "?";
}

const char* holder_name(Holder h) {
  switch (h) {
    case Holder::Bootmem: return "bootmem";
    case Holder::Memblock: return "memblock";
    case Holder::Buddy: return "page allocator";
    case Holder::Slab: return "slab";
    case Holder::Free: return "free";
  }
  return "?";
}

bool PageExpectation::has_role(PageRoleKind k) const {
  return std::any_of(roles.begin(), roles.end(), [&](const PageRole& r) { return r.kind == k; });
}

bool PageExpectation::table() const {
  return std::any_of(roles.begin(), roles.end(), [](const PageRole& r) { return is_page_table(r.kind); });
}

std::string PageExpectation::roles_text() const {
  std::string out;
  for (const auto& r : roles) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", page_role_name(r.kind), r.owner);
  return out;
}

std::string PageExpectation::owners_text() const {
  std::string secs, nodes;
  for (const auto& o : owners) {
    std::string& into = o.node ? nodes : secs;
    into += fmt::format("{}{}{}", into.empty() ? "" : ", ", o.id,
                        o.refs ? fmt::format(" ({} ref{})", o.refs, o.refs == 1 ? "" : "s") : "");
  }
  std::string out;
  if (!secs.empty()) out = "section " + secs;
  if (!nodes.empty()) out += (out.empty() ? "node " : "; node ") + nodes;
  return out.empty() ? "none" : out;
}

std::map<uint64_t, std::vector<PageOwner>> page_owners(const MemmapSnapshot& s) {
  std::set<uint64_t> early;
  for (const auto& e : s.sections)
    if (e.early) early.insert(e.nr);
  std::set<int> boot_nodes;
  for (const auto& e : s.sections)
    if (e.early && e.nid >= 0) boot_nodes.insert(e.nid);

  // Per boot section: its memmap pfns, and whether its vmemmap is PTE-mapped (no PSE).
  std::map<uint64_t, std::set<uint64_t>> memmap_pfns;
  std::set<uint64_t> pte_mapped;
  for (const auto& run : s.runs)
    for (const auto& r : run.roles) {
      const auto sec = static_cast<uint64_t>(r.owner);
      if (r.kind == PageRoleKind::Pte && early.count(sec)) pte_mapped.insert(sec);
      if (r.kind == PageRoleKind::Memmap && early.count(sec) && !run.state.selfhosted)
        for (uint64_t p = run.pfn; p < run.pfn + run.count; ++p) memmap_pfns[sec].insert(p);
    }
  // Registration steps per section: one per 2 MiB block its vmemmap touches (PSE), one per 4 KiB
  // page without PSE. A PMD-mapped virtual block maps one 2 MiB-aligned physical block.
  std::map<uint64_t, int64_t> steps;
  std::map<uint64_t, std::set<uint64_t>> blocks;  // physical 2 MiB block -> registering sections
  for (const auto& [sec, pfns] : memmap_pfns) {
    if (pte_mapped.count(sec)) {
      steps[sec] = static_cast<int64_t>(pfns.size());
      continue;
    }
    std::set<uint64_t> b;
    for (uint64_t p : pfns) b.insert(p & ~511ull);
    steps[sec] = static_cast<int64_t>(b.size());
    for (uint64_t blk : b) blocks[blk].insert(sec);
  }

  // Without PSE register_page_bootmem_memmap() steps through the vmemmap 4 KiB at a time and takes
  // one reference on the PTE table of each step (arch/x86/mm/init_64.c: get_page_bootmem() on
  // pmd_page(*pmd)): a PTE table maps 2 MiB of vmemmap, so it holds one reference per memmap page
  // of the section that lies in its 2 MiB window. Windows in virtual order; the section's tables:
  // the one it shares with a lower section first, the one it shares with a higher section last,
  // its own between them in pfn order (an assumption: with more than one own table, pfn order
  // need not be virtual order; a struct page of 64 bytes gives one table per section).
  std::map<std::pair<uint64_t, uint64_t>, int64_t> pte_refs;  // (table pfn, section) -> refs
  {
    std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> tables;  // section -> (order key, pfn)
    for (const auto& run : s.runs)
      for (const auto& r : run.roles)
        if (r.kind == PageRoleKind::Pte && early.count(static_cast<uint64_t>(r.owner))) {
          // First the table it shares with a lower section, last the one it shares with a higher
          // one; its own tables between them, by pfn.
          uint64_t key = 1;
          for (const auto& o : run.roles)
            if (o.kind == PageRoleKind::Pte && static_cast<uint64_t>(o.owner) != static_cast<uint64_t>(r.owner))
              key = static_cast<uint64_t>(o.owner) < static_cast<uint64_t>(r.owner) ? 0 : 2;
          for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
            tables[static_cast<uint64_t>(r.owner)].push_back({key, pfn});
        }
    const uint64_t sp = s.struct_page > 0 ? static_cast<uint64_t>(s.struct_page) : 64;
    for (auto& [sec, t] : tables) {
      std::sort(t.begin(), t.end());
      const uint64_t start = sec * s.pages_per_section() * sp;  // byte offset in the vmemmap
      const uint64_t end = start + s.pages_per_section() * sp;
      const uint64_t window = 2ull << 20;
      size_t i = 0;
      for (uint64_t w = start / window * window; w < end && i < t.size(); w += window, ++i) {
        const uint64_t lo = std::max(start, w) / 4096, hi = (std::min(end, w + window) + 4095) / 4096;
        pte_refs[{t[i].second, sec}] = static_cast<int64_t>(hi - lo);
      }
    }
  }

  std::map<uint64_t, std::vector<PageOwner>> out;
  for (const auto& run : s.runs) {
    for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
      std::map<PageOwner, int64_t> owners;  // key without refs -> refs
      auto add = [&](bool node, int64_t id, int64_t refs) { owners[PageOwner{node, id, 0}] += refs; };
      // A role counts once per owner: without PSE the probe names a PTE table once per memmap
      // page it maps ("pte:7" 512 times, seen on 6.1 with clearcpuid=3), and the references are
      // the table's, not each entry's.
      std::set<std::pair<PageRoleKind, int64_t>> counted;
      for (const auto& r : run.roles) {
        if (!counted.insert({r.kind, r.owner}).second) continue;
        const auto sec = static_cast<uint64_t>(r.owner);
        const bool boot = early.count(sec) > 0;
        switch (r.kind) {
          case PageRoleKind::Memmap:
            if (!boot || run.state.selfhosted || !pte_mapped.count(sec))
              add(false, r.owner, 0);
            else
              add(false, r.owner, 1);  // PTE-mapped: one reference per page
            break;
          case PageRoleKind::Pte: {
            auto refs = pte_refs.find({pfn, sec});
            add(false, r.owner, boot && refs != pte_refs.end() ? refs->second : 0);
            break;
          }
          case PageRoleKind::Pmd: add(false, r.owner, boot ? steps[sec] : 0); break;
          case PageRoleKind::Pud: add(false, r.owner, boot ? (s.paging_levels == 5 ? 1 : 2) * steps[sec] : 0); break;
          case PageRoleKind::P4d: add(false, r.owner, boot ? steps[sec] : 0); break;
          case PageRoleKind::Usage: add(false, r.owner, boot && run.state.reserved ? 1 : 0); break;
          case PageRoleKind::Pgdat: add(true, r.owner, boot_nodes.count(static_cast<int>(r.owner)) ? 1 : 0); break;
          case PageRoleKind::DmapPte:
          case PageRoleKind::DmapPmd:
          case PageRoleKind::DmapPud: add(false, r.owner, 0); break;
        }
      }
      // A PMD-mapped boot memmap block is registered whole by every section whose memmap it
      // backs, including pages that back another section only (struct page not 64 bytes).
      auto blk = blocks.find(pfn & ~511ull);
      const bool memmap_page = std::any_of(run.roles.begin(), run.roles.end(),
                                           [](const PageRole& r) { return r.kind == PageRoleKind::Memmap; });
      if (memmap_page && blk != blocks.end())
        for (uint64_t sec : blk->second) add(false, static_cast<int64_t>(sec), 1);
      std::vector<PageOwner> v;
      for (const auto& [k, refs] : owners) v.push_back({k.node, k.id, refs});
      out[pfn] = std::move(v);
    }
  }
  return out;
}

std::vector<PageExpectation> expected_fates(const MemmapSnapshot& before, uint64_t first_pfn, uint64_t pfn_count,
                                            bool removed) {
  const uint64_t last_pfn = first_pfn + pfn_count;  // exclusive
  std::set<uint64_t> removed_sections;
  if (removed)
    for (uint64_t sec = before.pfn_section(first_pfn); pfn_count && sec <= before.pfn_section(last_pfn - 1); ++sec)
      removed_sections.insert(sec);
  const auto owners = page_owners(before);

  std::vector<PageExpectation> out;
  for (const auto& run : before.runs) {
    if (!run.state.online) continue;  // offline memory: no page to judge
    for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
      PageExpectation e;
      e.pfn = pfn;
      e.roles = run.roles;
      e.before = run.state;
      auto it = owners.find(pfn);
      if (it != owners.end()) e.owners = it->second;
      e.holder = holder_of(run.state, run.roles, before);
      const int64_t staying_refs = staying_refs_of(e.owners, removed_sections);
      const bool any_owner_stays = std::any_of(e.owners.begin(), e.owners.end(), [&](const PageOwner& o) {
        return o.node || !removed_sections.count(static_cast<uint64_t>(o.id));
      });
      // Kept: the removed owners may take their references along, the staying ones keep theirs;
      // never above what it was. (A boot refcount below 1 + the references is boot-tags' to
      // report, not this check's.)
      e.max_ref = run.state.ref;
      e.min_ref = std::min<int64_t>(1 + staying_refs, e.max_ref);
      const auto keep = kept_by_kernel(e, before);
      if (!removed) {
        e.fate = Fate::Unchanged;
        e.why = "the removal was refused";
      } else if (pfn >= first_pfn && pfn < last_pfn) {
        e.fate = Fate::Gone;
        e.why = "it lies in the removed memory";
      } else if (!any_owner_stays && e.holder != Holder::Free && !keep) {
        e.fate = Fate::Freed;
        e.why = "every owner is gone and it lies on memory that stays";
      } else {
        e.fate = Fate::Kept;
        e.why = keep ? *keep : any_owner_stays ? "an owner stays" : "it was already free";
        // What the kernel keeps on purpose it never puts either (no put_page_bootmem() on a PUD
        // with 4-level paging, a P4D, a boot section's usage map or a pgdat): its refcount stays
        // exactly as it was, so a put too many fails.
        if (keep) e.min_ref = e.max_ref;
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

std::vector<PageVerdict> judge_pages(const std::vector<PageExpectation>& expected,
                                     const std::map<uint64_t, PageState>& after, const BootmemTypes& types) {
  std::vector<PageVerdict> out;
  out.reserve(expected.size());
  for (const auto& e : expected) {
    PageVerdict v;
    v.expect = e;
    auto it = after.find(e.pfn);
    if (it == after.end()) {
      // The probe's answer covers every pfn asked (check_query_covers); never read this as gone.
      v.outcome = "not read";
      v.problem = "the probe's answer does not cover this page";
      out.push_back(std::move(v));
      continue;
    }
    v.seen = it->second;
    const PageState& st = v.seen;
    const std::string seen = describe_state(st, types);
    switch (e.fate) {
      case Fate::Gone:
        v.outcome = st.online ? "still online" : "gone";
        if (st.online) v.problem = fmt::format("inside the removed memory but still online: {}", seen);
        break;
      case Fate::Freed:
        if (!st.online) {
          v.outcome = "gone";
          v.problem = "gone, but it lies on memory that stays";
        } else if (st.reserved || tagged(st, types) ||
                   (st.private_ && st.type == e.before.type && e.holder == Holder::Bootmem)) {
          v.outcome = "leaked";
          v.problem = fmt::format("leaked: every owner is gone but the page was not given back: {}", seen);
        } else if (!st.alloc_known) {
          // Probe format 1 shows no allocator state: nothing shows the page was given back.
          v.outcome = "cannot tell (no allocator state in probe format 1)";
          v.judged = false;
        } else if (st.in_allocator()) {
          v.outcome = alloc_outcome(st);
        } else if (st.ref > 0 || st.held() || tail_of_allocated_block(e.pfn, after)) {
          // Held again, or still: only a traced free, or a holder that the page did not have
          // before, shows it was given back in between (docs/accounting.md, "freed means freed").
          const std::string held = st.ref > 0 || st.held()
                                       ? alloc_outcome(st)
                                       : "allocated anew (inside a non-compound block whose head holds it)";
          if (st.frees_traced && st.traced_free) {
            v.outcome = "freed (traced), then " + held;
          } else if (e.holder == Holder::Slab && st.slab) {
            // The owner's object in a slab page (the usage map of a hot-added section): kfree()
            // gives the page back only with its last object, and object frees are not traced.
            v.outcome = "cannot tell (an object in a slab page that stays a slab page)";
            v.judged = false;
          } else if (st.frees_traced) {
            v.outcome = "never freed";
            v.problem = fmt::format(
                "never freed: no free of this page was traced during the step, and it is still held: {}", seen);
          } else if (new_holder(e.before, st)) {
            v.outcome = held + fmt::format(" (was {})", describe_state(e.before, types));
          } else {
            v.outcome = "cannot tell (held as before and no complete free trace of the step)";
            v.judged = false;
          }
        } else {
          v.outcome = "lost";
          v.problem = fmt::format(
              "lost: refcount 0, no free buddy block covers it, it is on no per-cpu list and no compound page holds "
              "it: {}",
              seen);
        }
        break;
      case Fate::Kept:
      case Fate::Unchanged: {
        const std::string why = still_held(e, st, types, e.fate == Fate::Unchanged);
        v.outcome = why.empty() ? "held as before" : why;
        if (!why.empty()) v.problem = fmt::format("{}: was {}; now {}", why, describe_state(e.before, types), seen);
        break;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<uint64_t> unsettled_pages(const std::vector<PageExpectation>& expected,
                                      const std::map<uint64_t, PageState>& after) {
  std::vector<uint64_t> out;
  for (const auto& e : expected) {
    if (e.fate != Fate::Freed) continue;
    auto it = after.find(e.pfn);
    if (it == after.end()) continue;
    const PageState& st = it->second;
    if (st.online && st.alloc_known && !st.in_allocator() && !st.held() && st.ref == 0 && !st.reserved &&
        !st.private_ && !tail_of_allocated_block(e.pfn, after))
      out.push_back(e.pfn);
  }
  return out;
}

std::map<int, int64_t> expected_memtotal_delta(const std::vector<PageExpectation>& expected, int departing_node,
                                               uint64_t removed_pages) {
  std::map<int, int64_t> d;
  uint64_t never_managed = 0;
  for (const auto& e : expected) {
    if (e.fate == Fate::Freed && e.before.reserved) d[e.before.nid] += 1;
    if (e.fate == Fate::Gone && e.before.selfhosted) ++never_managed;
  }
  if (departing_node >= 0) d[departing_node] -= static_cast<int64_t>(removed_pages - never_managed);
  return d;
}

}  // namespace rig
