#include "rig/spec/case_checks.h"

#include "rig/spec/page_accounting.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

namespace rig {
namespace {

// Offenders of one check, grouped by a short description of what was wrong.
class Offenders {
 public:
  // `evidence`: probe_evidence() of the page, when the check knows its state.
  void add(const std::string& what, uint64_t pfn, const std::string& roles = "", const std::string& evidence = "") {
    groups_[what].push_back(pfn);
    pages_.push_back({pfn, roles, "", what, evidence});
  }
  const std::vector<OffendingPage>& offending() const { return pages_; }
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
  std::vector<OffendingPage> pages_;
};

std::string roles_of(const PageRun& run) {
  std::string out;
  for (const auto& r : run.roles)
    out += fmt::format("{}{}:{}", out.empty() ? "" : ",", page_role_name(r.kind), r.owner);
  return out;
}

std::set<uint64_t> early_sections(const MemmapSnapshot& s) {
  std::set<uint64_t> out;
  for (const auto& e : s.sections)
    if (e.early) out.insert(e.nr);
  return out;
}

int64_t kb_to_pages(int64_t kb) { return kb / 4; }

// Each boot node's pgdat pages: node -> first, last pfn.
std::map<int, std::pair<uint64_t, uint64_t>> pgdat_spans(const MemmapSnapshot& s, const std::set<int>& boot_nodes) {
  std::map<int, std::pair<uint64_t, uint64_t>> span;
  for (const auto& run : s.runs)
    for (const auto& r : run.roles)
      if (r.kind == PageRoleKind::Pgdat && boot_nodes.count(static_cast<int>(r.owner))) {
        auto [it, fresh] = span.emplace(static_cast<int>(r.owner), std::make_pair(run.pfn, run.pfn + run.count - 1));
        if (!fresh) {
          it->second.first = std::min(it->second.first, run.pfn);
          it->second.second = std::max(it->second.second, run.pfn + run.count - 1);
        }
      }
  return span;
}

// Two boot nodes whose pgdat pages touch (the last page of one next to, or the same as, the
// first page of the other): the layout in which a pgdat not aligned to a page shares one.
std::optional<std::pair<int, int>> adjacent_pgdats(const MemmapSnapshot& s, const std::set<int>& boot_nodes) {
  const auto span = pgdat_spans(s, boot_nodes);
  for (auto a = span.begin(); a != span.end(); ++a)
    for (auto b = std::next(a); b != span.end(); ++b) {
      const auto [af, al] = a->second;
      const auto [bf, bl] = b->second;
      if (al + 1 >= bf && bl + 1 >= af) return std::make_pair(a->first, b->first);
    }
  return std::nullopt;
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
    out += (out.empty() ? "" : ",") +
           (i == j ? fmt::format("{:#x}", pfns[i]) : fmt::format("{:#x}-{:#x}", pfns[i], pfns[j]));
    i = j + 1;
  }
  return out;
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
      } else if (l.rfind("page_type:", 0) == 0 && d.page_type.empty()) {
        d.page_type = "page_type " + l.substr(l.find_first_not_of(' ', 10));
      } else if (l.rfind("page dumped because:", 0) == 0) {
        d.reason = l.substr(l.find_first_not_of(' ', 20));
      }
    }
    if (found) out.push_back(d);
  }
  return out;
}

bool private_marks_tags(const MemmapSnapshot& s) {
  for (const auto& run : s.runs) {
    const PageState& st = run.state;
    if (st.online && st.reserved && st.private_ &&
        (st.type == s.types.section || st.type == s.types.mix || st.type == s.types.node))
      return true;
  }
  return false;
}

std::vector<CaseCheck> check_boot_tags(const MemmapSnapshot& s) {
  std::vector<CaseCheck> out;
  if (!s.tags_present()) {
    const std::string why =
        "this kernel has no bootmem info (encoding none: the probe found no get_page_bootmem or put_page_bootmem "
        "in it): the tag checks have no tags to compare";
    for (auto [c, n] :
         {std::pair<int, const char*>{1, "boot-tags-memmap"}, {3, "boot-tags-page-tables"}, {5, "boot-tags-pgdat"}}) {
      CaseCheck na{c, n, true, why, false, {}};
      out.push_back(na);
    }
    return out;
  }
  const auto early = early_sections(s);
  std::set<int> boot_nodes;
  for (const auto& e : s.sections)
    if (e.early && e.nid >= 0) boot_nodes.insert(e.nid);

  Offenders memmap, tables, pgdat, pgdat_shared, pgdat_usage;
  size_t pgdat_usage_pages = 0;
  // PG_private beside the tag: set by get_page_bootmem() up to 6.18, no longer by 7.2 (whose
  // bootmem_type() reads page->private alone). Asked of the kernel: required when any tagged page
  // of this snapshot has it, so one page that lacks it among others that have it still fails.
  const bool need_private = private_marks_tags(s);
  const std::string priv_word = need_private ? "Private " : "";
  const auto owners = page_owners(s);
  size_t memmap_pages = 0, table_pages = 0, pgdat_pages = 0;
  for (const auto& run : s.runs) {
    if (!run.state.online) continue;
    std::vector<int64_t> memmap_owners;
    bool table = false, pg = false, usage = false;
    int64_t pg_node = -1;
    std::set<uint64_t> pg_nodes;
    bool early_table = false;
    for (const auto& r : run.roles) {
      if (r.kind == PageRoleKind::Memmap) memmap_owners.push_back(r.owner);
      if (r.kind == PageRoleKind::Pmd || r.kind == PageRoleKind::Pud || r.kind == PageRoleKind::P4d ||
          r.kind == PageRoleKind::Pte || r.kind == PageRoleKind::Usage) {
        table = true;
        usage |= r.kind == PageRoleKind::Usage;
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
      const std::string same = probe_evidence(st, s.types, PageEvidence::Same);
      if (!memmap_owners.empty()) {
        bool any_early = std::any_of(memmap_owners.begin(), memmap_owners.end(),
                                     [&](int64_t o) { return early.count(static_cast<uint64_t>(o)); });
        if (!any_early || st.selfhosted) continue;  // hot-added memmap is not bootmem
        ++memmap_pages;
        // The sections that registered it and their references, as the accounting model has them
        // (page_owners: PMD-mapped, every section whose memmap touches the 2 MiB block, once;
        // PTE-mapped, each section whose memmap it is, once per page).
        std::set<uint64_t> reg;
        int64_t want_ref = 1;
        if (auto o = owners.find(pfn); o != owners.end())
          for (const auto& own : o->second)
            if (!own.node && own.refs) {
              reg.insert(static_cast<uint64_t>(own.id));
              want_ref += own.refs;
            }
        const bool names_registrant = reg.count(st.info) > 0;
        if (st.type != s.types.section || (need_private && !st.private_) || !st.reserved || !names_registrant ||
            st.ref != want_ref)
          memmap.add(
              fmt::format("backs section {} in a block registered by section {}: expected Reserved {}SECTION_INFO "
                          "naming one of them, refcount {}; saw {}",
                          section_list({memmap_owners.begin(), memmap_owners.end()}), section_list(reg), priv_word,
                          want_ref, seen),
              pfn, roles_of(run), same);
      } else if (pg) {
        if (!boot_nodes.count(static_cast<int>(pg_node)))
          continue;  // pgdat of a node offline at boot: memblock, untagged
        ++pgdat_pages;
        if (usage && pg_nodes.size() == 1) ++pgdat_usage_pages;
        // register_page_bootmem_info_node() tags every page of a pgdat NODE_INFO with its node. A
        // pgdat page tagged otherwise (MIX_SECTION_INFO: get_page_bootmem() of a section's usage
        // map or table packed into it) breaks case 5 wherever it lies; one that holds usage maps
        // the probe names is its own check (boot-tags-pgdat-usage-page).
        const bool tag_ok = st.type == s.types.node && pg_nodes.count(st.info);
        if (pg_nodes.size() > 1 && (!tag_ok || !st.reserved || (need_private && !st.private_) || st.ref < 2)) {
          // Shared or not, it must be a tagged pgdat page naming one of its nodes. Shared it is
          // all the same: the shared-page check fails on it too, whatever its tag.
          pgdat.add(fmt::format("page shared by the pgdat of nodes {}: expected Reserved {}NODE_INFO naming one "
                                "of them, refcount >= 2; saw {}",
                                section_list(pg_nodes), priv_word, seen),
                    pfn, roles_of(run), same);
          pgdat_shared.add(fmt::format("one page holds the pgdat of nodes {} (and its tag is wrong too, see "
                                       "boot-tags-pgdat): {}",
                                       section_list(pg_nodes), seen),
                           pfn, roles_of(run), same);
        } else if (pg_nodes.size() > 1) {
          // pgdat is not page-aligned (6.12 aligns it to a cache line): one page holds parts of
          // two nodes' pgdat and can name only one of them.
          pgdat_shared.add(fmt::format("one page holds the pgdat of nodes {} and is tagged for node {} only: {}",
                                       section_list(pg_nodes), st.info, seen),
                           pfn, roles_of(run), same);
        } else if (!tag_ok || !st.reserved || (need_private && !st.private_) || st.ref < 2) {
          // A page that holds usage maps as well as the pgdat (6.12 packs them): its own check.
          (usage ? pgdat_usage : pgdat)
              .add(fmt::format("pgdat of node {}: expected Reserved {}NODE_INFO info {} refcount >= 2; saw {}", pg_node,
                               priv_word, pg_node, seen),
                   pfn, roles_of(run), same);
        }
      } else if (table && early_table) {
        ++table_pages;
        // Each boot section it serves registered it once per step of its vmemmap (twice for a
        // 4-level PUD table): refcount 1 + those references (page_accounting.h).
        int64_t want = 1;
        std::string who;
        auto it = owners.find(pfn);
        if (it != owners.end())
          for (const auto& o : it->second) {
            want += o.refs;
            if (o.refs) who += fmt::format("{}{} ({})", who.empty() ? "" : ", ", o.id, o.refs);
          }
        if (st.type != s.types.mix || (need_private && !st.private_) || !st.reserved || st.ref != want)
          tables.add(fmt::format("vmemmap page table or usage page of sections {}: expected Reserved {}"
                                 "MIX_SECTION_INFO refcount {} "
                                 "(1 + the references of the sections that registered it); saw {}",
                                 who, priv_word, want, seen),
                     pfn, roles_of(run), same);
      }
    }
  }
  auto emit = [&](int c, const char* name, const Offenders& o, const std::string& pass) {
    CaseCheck k{c, name, o.empty(), o.empty() ? pass : o.str(), true, o.offending()};
    out.push_back(k);
  };
  // A tag check that judged no page could not have failed: n/a, never coverage.
  auto emit_counted = [&](int c, const char* name, const Offenders& o, size_t judged, const std::string& what,
                          const std::string& pass) {
    if (judged == 0 && o.empty())
      out.push_back({c, name, true, fmt::format("no {} in this snapshot: nothing to judge", what), false, {}});
    else
      emit(c, name, o, pass);
  };
  emit_counted(
      1, "boot-tags-memmap", memmap, memmap_pages, "memmap page of a boot section",
      fmt::format("{} memmap pages of boot sections tagged SECTION_INFO with their section, refcount 1 + registrations",
                  memmap_pages));
  emit_counted(3, "boot-tags-page-tables", tables, table_pages, "vmemmap page-table or usage page of a boot section",
               fmt::format("{} vmemmap page-table and usage pages tagged MIX_SECTION_INFO, refcount 1 + registrations",
                           table_pages));
  emit_counted(5, "boot-tags-pgdat", pgdat, pgdat_pages, "pgdat page of a boot node",
               fmt::format("{} pgdat pages of boot nodes tagged NODE_INFO with their node", pgdat_pages));
  // A page shared by two nodes' pgdat can name one node only (6.12 aligns pgdat to a cache line):
  // its own check, so that every other pgdat tag defect still fails boot-tags-pgdat. It applies
  // where two boot nodes' pgdats lie back to back (where such packing can happen): there it
  // passes when they share no page (6.1 page-aligns pgdat), so a fixed kernel shows as xpass.
  if (!pgdat_shared.empty()) {
    emit(5, "boot-tags-pgdat-shared-page", pgdat_shared, "");
  } else {
    const auto pair = adjacent_pgdats(s, boot_nodes);
    if (pair)
      out.push_back(
          {5,
           "boot-tags-pgdat-shared-page",
           true,
           fmt::format("the pgdats of nodes {} and {} lie back to back and share no page", pair->first, pair->second),
           true,
           {}});
    else
      out.push_back({5, "boot-tags-pgdat-shared-page", true, "no two boot nodes' pgdats lie back to back", false, {}});
  }
  // Likewise a pgdat page that also holds usage maps of sections (6.12 aligns pgdat to a cache
  // line and allocates it right after them): applicable only where such a page exists, so a
  // known failure of this shape is neither hidden in nor stale on every other layout.
  if (pgdat_usage_pages == 0)
    out.push_back({5, "boot-tags-pgdat-usage-page", true, "no pgdat page holds usage maps", false, {}});
  else
    emit(5, "boot-tags-pgdat-usage-page", pgdat_usage,
         fmt::format("{} pgdat pages that also hold usage maps tagged NODE_INFO with their node", pgdat_usage_pages));
  return out;
}

namespace {

// The pages of one accounting check: failures grouped by what went wrong, passes counted by
// outcome, and every offending page kept as evidence for xfail patterns.
class PageGroup {
 public:
  void add(const PageVerdict& v, const BootmemTypes& types) {
    if (!v.judged) ++undetermined_;
    ++pages_;
    if (v.ok()) {
      ++outcomes_[v.outcome];
      return;
    }
    const PageExpectation& e = v.expect;
    const std::string expected = fmt::format("{} ({}; owners: {})", fate_name(e.fate), e.why, e.owners_text());
    offenders_.add(fmt::format("{} {}: expected {}; {}", holder_name(e.holder), e.roles_text(), expected, v.problem),
                   e.pfn);
    pages_out_.push_back(
        {e.pfn, e.roles_text(),
         fate_name(e.fate) +
             std::string(e.fate == Fate::Kept ? fmt::format(" refcount {}..{}", e.min_ref, e.max_ref) : ""),
         v.problem,
         probe_evidence(v.seen, types,
                        e.fate == Fate::Freed  ? PageEvidence::Freed
                        : e.fate == Fate::Gone ? PageEvidence::Gone
                                               : PageEvidence::Same)});
  }
  size_t pages() const { return pages_; }
  bool ok() const { return offenders_.empty(); }
  std::string passed(const std::string& what) const {
    std::string out = fmt::format("{} {}", pages_, what);
    std::string o;
    for (const auto& [k, n] : outcomes_) o += fmt::format("{}{} {}", o.empty() ? "" : ", ", n, k);
    return o.empty() ? out : out + ": " + o;
  }
  CaseCheck check(int case_no, const std::string& name, const std::string& pass_text) const {
    if (pages_ > 0 && undetermined_ == pages_)
      return {case_no, name, true, passed("pages, none of whose fate the rig could show"), false, {}};
    CaseCheck c{case_no, name, ok(), ok() ? passed(pass_text) : offenders_.str(), true, {}};
    c.offenders = pages_out_;
    return c;
  }

 private:
  size_t pages_ = 0;
  size_t undetermined_ = 0;
  std::map<std::string, size_t> outcomes_;
  Offenders offenders_;
  std::vector<OffendingPage> pages_out_;
};

CaseCheck not_applicable(int case_no, const std::string& name, const std::string& why) {
  CaseCheck c{case_no, name, true, why, false, {}};
  return c;
}

// MemTotal of each node that stays against the model: pages expected freed onto it that were
// Reserved (free_reserved_page() makes them managed again), minus the removed range.
void memtotal_checks(std::vector<CaseCheck>& out, const std::vector<PageExpectation>& expected, int departing_node,
                     uint64_t removed_pages, const NodeMemTotals& mem_before, const NodeMemTotals& mem_after) {
  const auto want = expected_memtotal_delta(expected, departing_node, removed_pages);
  for (const auto& [nid, kb_before] : mem_before) {
    auto it = mem_after.find(nid);
    if (it == mem_after.end()) {
      if (nid == departing_node) continue;  // the node went away with its memory
      out.push_back({1,
                     fmt::format("memtotal-node-{}", nid),
                     false,
                     fmt::format("node {} disappeared, though only node {}'s memory was removed", nid, departing_node),
                     true,
                     {}});
      continue;
    }
    std::map<std::string, uint64_t> by_role;
    for (const auto& e : expected)
      if (e.fate == Fate::Freed && e.before.reserved && e.before.nid == nid)
        ++by_role[page_role_name(e.roles.front().kind)];
    std::string roles;
    for (const auto& [r, n] : by_role) roles += fmt::format("{}{} {}", roles.empty() ? "" : ", ", r, n);
    const int64_t kb_delta = static_cast<int64_t>(it->second) - static_cast<int64_t>(kb_before);
    const int64_t delta = kb_to_pages(kb_delta);
    auto w = want.find(nid);
    const int64_t expected_delta = w == want.end() ? 0 : w->second;
    const bool ok = kb_delta == 4 * expected_delta;
    out.push_back(
        {1,
         fmt::format("memtotal-node-{}", nid),
         ok,
         fmt::format("node {} MemTotal {:+} kB ({:+} pages); the accounting model expects {:+} pages{}{}{}", nid,
                     kb_delta, delta, expected_delta,
                     roles.empty() ? "" : " (Reserved pages to be freed onto it: " + roles + ")",
                     nid == departing_node ? fmt::format("; removed from it: {} pages", removed_pages) : "",
                     ok ? ""
                        : fmt::format(": {} {} pages", delta < expected_delta ? "short by" : "over by",
                                      delta < expected_delta ? expected_delta - delta : delta - expected_delta)),
         true,
         {}});
  }
}

}  // namespace

std::vector<CaseCheck> check_after_removal(const RemovalAnalysis& a, const MemmapSnapshot& before,
                                           const NodeMemTotals& mem_before, uint64_t first_pfn, uint64_t pfn_count,
                                           const std::map<uint64_t, PageState>& after, const NodeMemTotals& mem_after,
                                           std::optional<uint64_t> memtotal_pages) {
  std::vector<CaseCheck> out;
  auto now = [&](uint64_t pfn) {
    auto it = after.find(pfn);
    return it == after.end() ? PageState{} : it->second;
  };
  const auto expected = expected_fates(before, first_pfn, pfn_count, true);
  const auto verdicts = judge_pages(expected, after, before.types);

  // Every page the probe knows, by its expected fate and what it is.
  PageGroup memmap_freed, tables_freed, other_freed, kept, pgdat;
  for (const auto& v : verdicts) {
    const PageExpectation& e = v.expect;
    if (e.fate == Fate::Gone) continue;  // removed-memory-gone below covers the whole range
    if (e.has_role(PageRoleKind::Pgdat))
      pgdat.add(v, before.types);
    else if (e.fate == Fate::Kept)
      kept.add(v, before.types);
    else if (e.has_role(PageRoleKind::Memmap))
      memmap_freed.add(v, before.types);
    else if (e.table())
      tables_freed.add(v, before.types);
    else
      other_freed.add(v, before.types);
  }
  // Case 1: memmap of the removed sections that lived on memory which stays, page by page.
  out.push_back(memmap_freed.pages()
                    ? memmap_freed.check(1, "memmap-freed", "memmap pages of the removed sections freed")
                    : not_applicable(1, "memmap-freed",
                                     "no memmap page lost all its owners in this removal (its memmap went with the "
                                     "memory, or there was none)"));
  out.push_back(
      tables_freed.pages()
          ? tables_freed.check(1, "page-tables-freed", "page-table pages that mapped only the removed sections freed")
          : not_applicable(1, "page-tables-freed",
                           "no vmemmap or direct-map table page served only the removed sections"));
  // Always reported, so that two runs list the same checks: whether a usage page lost all its
  // owners depends on where the slab put the sections' usage maps, which varies from run to run.
  out.push_back(other_freed.pages()
                    ? other_freed.check(1, "usage-freed", "usage pages of the removed sections released")
                    : not_applicable(1, "usage-freed",
                                     "no usage page lost all its owners in this removal (the usage maps share slab "
                                     "pages with sections that stay)"));
  out.push_back(kept.pages()
                    ? kept.check(1, "pages-kept", "pages whose owners stay (or that the kernel keeps) held as before")
                    : not_applicable(1, "pages-kept", "no probed page keeps an owner through this removal"));

  // Case 1: each node that stays gains exactly the pages the model says come back to it.
  memtotal_checks(out, expected, a.node, memtotal_pages.value_or(pfn_count), mem_before, mem_after);

  // Case 2: nothing that lies in removed memory may still be usable, least of all free.
  {
    Offenders wrong;
    std::vector<OffendingPage> pages;
    for (uint64_t pfn = first_pfn; pfn < first_pfn + pfn_count; ++pfn) {
      if (!after.count(pfn)) {
        // Not in the probe's answer: nothing says it is gone (an empty answer proves nothing).
        wrong.add("inside the removed range, but the probe's answer does not cover it", pfn);
        pages.push_back({pfn, "removed", "gone", "not read"});
        continue;
      }
      PageState st = now(pfn);
      if (!st.online) continue;
      const std::string what = st.freed() ? fmt::format("inside removed section {}, handed to the page allocator: {}",
                                                        before.pfn_section(pfn), describe_state(st, before.types))
                                          : fmt::format("inside removed section {}, still online: {}",
                                                        before.pfn_section(pfn), describe_state(st, before.types));
      wrong.add(what, pfn);
      pages.push_back({pfn, "removed", "gone", describe_state(st, before.types),
                       probe_evidence(st, before.types, PageEvidence::Gone)});
    }
    CaseCheck c{2,
                "removed-memory-gone",
                wrong.empty(),
                wrong.empty()
                    ? fmt::format("all {} pfns of sections {}-{} are gone; memmap that lived there went with them",
                                  pfn_count, a.first_section, a.last_section)
                    : wrong.str(),
                true,
                {}};
    c.offenders = std::move(pages);
    out.push_back(c);
  }

  // Case 3: a section whose memmap lived in the removed memory must not outlive it.
  for (const auto& sp : a.sections) {
    if (sp.dependents.empty()) continue;
    std::set<uint64_t> orphaned;
    for (uint64_t d : sp.dependents)
      if (!a.contains(d)) orphaned.insert(d);
    out.push_back({3,
                   fmt::format("dependents-first-section-{}", sp.section),
                   orphaned.empty(),
                   orphaned.empty()
                       ? fmt::format("section {} held only the memmap of sections removed with it ({})", sp.section,
                                     section_list(sp.dependents))
                       : fmt::format("section {} was removed while it held the memmap of section {}, which stays: "
                                     "the kernel should have refused and said to remove {} first",
                                     sp.section, section_list(orphaned), section_list(orphaned)),
                   true,
                   {}});
  }

  // Case 4: the offline went through, so there was nothing for isolation to trip over.
  {
    // With memmap_on_memory the memmap lives on the departing memory itself and the offline
    // skipped it (the modern form of case 4): those pages were never the allocator's, and they
    // went with the memory. Boot memmap on itself cannot get this far.
    std::set<uint64_t> selfhosted, other;
    for (const auto& sp : a.sections)
      if (sp.cases.count(4)) (sp.selfhosted ? selfhosted : other).insert(sp.section);
    if (!selfhosted.empty()) {
      Offenders wrong;
      size_t pages = 0;
      for (const auto& run : before.runs) {
        if (!run.state.selfhosted) continue;
        for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
          if (pfn < first_pfn || pfn >= first_pfn + pfn_count) continue;  // another section's, which stays
          ++pages;
          const PageState st = now(pfn);
          // (They are Reserved: memmap_init_range() marks every page so, and onlining never frees
          // the vmemmap pages of the range; seen on 6.1.)
          if (run.state.alloc_known && run.state.in_allocator())
            wrong.add(fmt::format("self-hosted memmap sat in the page allocator: {}",
                                  describe_state(run.state, before.types)),
                      pfn, roles_of(run), probe_evidence(run.state, before.types, PageEvidence::Same));
          else if (st.online)
            wrong.add(fmt::format("self-hosted memmap outlived its memory: {}", describe_state(st, before.types)), pfn,
                      roles_of(run), probe_evidence(st, before.types, PageEvidence::Same));
        }
      }
      CaseCheck c{
          4,
          "offline-skips-self-hosted-memmap",
          wrong.empty(),
          wrong.empty()
              ? fmt::format("{} self-hosted memmap pages of section {} (memmap_on_memory): never in the allocator, "
                            "skipped by the offline and gone with the memory",
                            pages, section_list(selfhosted))
              : wrong.str(),
          true,
          wrong.offending()};
      out.push_back(c);
    }
    if (!other.empty()) {
      out.push_back(not_applicable(
          4, "offline-skips-memmap",
          fmt::format(
              "section {} went offline and away with memmap on the departing memory: isolation did not stop at it",
              section_list(other))));
    }
  }

  // Case 5: the node's pgdat stays, tagged, wherever the node's memory goes.
  {
    Offenders inside;
    for (const auto& run : before.runs)
      for (const auto& r : run.roles)
        if (r.kind == PageRoleKind::Pgdat && r.owner == a.node)
          for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
            if (a.contains(before.pfn_section(pfn)))
              inside.add(fmt::format("pgdat of node {} lived in the removed memory", a.node), pfn);
    if (!inside.empty())
      out.push_back({5, "pgdat-kept", false, inside.str(), true, {}});
    else if (pgdat.pages())
      out.push_back(pgdat.check(5, "pgdat-kept", "pgdat pages unchanged (never freed)"));
  }
  return out;
}

std::vector<CaseCheck> check_after_refusal(const RemovalAnalysis& a, const MemmapSnapshot& before,
                                           const NodeMemTotals& mem_before, const std::map<uint64_t, PageState>& after,
                                           const NodeMemTotals& mem_after, const std::vector<DumpedPage>& dumps) {
  std::vector<CaseCheck> out;
  // Every page the probe knows is still held by its owner as before. What "as before" means
  // depends on the holder: a bootmem page keeps its tag and refcount exactly; a slab or
  // allocator page (a hot-added section's usage or memmap) only has to stay allocated, since
  // its other fields change with unrelated traffic.
  const auto expected = expected_fates(before, 0, 0, false);
  PageGroup unchanged;
  for (const auto& v : judge_pages(expected, after, before.types)) unchanged.add(v, before.types);
  std::string mem;
  for (const auto& [nid, kb] : mem_before) {
    auto it = mem_after.find(nid);
    if (it == mem_after.end())
      mem += fmt::format("; node {} disappeared", nid);
    else if (it->second != kb)
      mem += fmt::format("; node {} MemTotal {} -> {} kB", nid, kb, it->second);
  }
  const int main_case = a.cases.count(2) ? 2 : a.cases.count(3) ? 3 : 5;
  CaseCheck c = unchanged.check(main_case, "refusal-changed-nothing", "pages still held by their owners as before");
  if (unchanged.pages() == 0 && mem_before.empty()) {
    c = not_applicable(main_case, "refusal-changed-nothing",
                       "no probed page and no node's MemTotal to compare after the refusal");
  } else {
    c.ok = c.ok && mem.empty();
    if (c.ok)
      c.detail += "; every node's MemTotal unchanged";
    else if (!mem.empty())
      c.detail = unchanged.ok() ? mem.substr(2) : c.detail + mem;
  }
  out.push_back(c);

  for (const auto& sp : a.sections) {
    std::set<uint64_t> staying;
    for (uint64_t d : sp.dependents)
      if (!a.contains(d)) staying.insert(d);
    if (staying.empty()) continue;
    // Only a removal can fail it (check_after_removal): the refusal is what the spec asks for.
    out.push_back(not_applicable(
        3, fmt::format("dependents-first-section-{}", sp.section),
        fmt::format(
            "refused, as it must be: section {} holds the memmap of section {}: remove section {} before section {}",
            sp.section, section_list(staying), section_list(staying), sp.section)));
  }
  if (a.pgdat_inside)
    out.push_back(not_applicable(5, "pgdat-kept",
                                 fmt::format("refused: node {}'s pgdat lives in this memory and stayed", a.node)));

  // Case 4: when the kernel names the memmap of the departing memory itself as what blocked
  // the offline, isolation did not skip memmap pages. (Memmap of a section that stays is
  // case 3: that one must block.) Without such a page dump the refusal says nothing about case 4.
  std::set<uint64_t> seen;
  Offenders blocked;
  std::set<uint64_t> blocked_sections;
  std::string named;  // what else the kernel named: the refusal's evidence, for the developer
  for (const auto& d : dumps) {
    const uint64_t sec = before.pfn_section(d.pfn);
    if (!a.contains(sec) || !seen.insert(d.pfn).second) continue;  // ACPI offlines twice: dumps repeat
    int64_t owner = -1;
    for (const auto& run : before.runs)
      if (d.pfn >= run.pfn && d.pfn < run.pfn + run.count)
        for (const auto& r : run.roles)
          if (r.kind == PageRoleKind::Memmap && a.contains(static_cast<uint64_t>(r.owner))) owner = r.owner;
    if (owner < 0) {
      if (named.size() < 600)
        named += fmt::format("{}pfn {:#x} (section {}{}{})", named.empty() ? "" : "; ", d.pfn, sec,
                             d.page_type.empty() ? "" : ", " + d.page_type, d.reason.empty() ? "" : ": " + d.reason);
      continue;
    }
    blocked_sections.insert(sec);
    blocked.add(fmt::format("offline stopped at a memmap page of the departing memory (section {}, memmap of section "
                            "{}): isolation did not skip it; {}",
                            sec, owner, d.header),
                d.pfn, fmt::format("memmap:{}", owner));
  }
  if (!blocked.empty()) {
    CaseCheck f{4, "offline-skips-memmap", false, blocked.str(), true, blocked.offending()};
    out.push_back(f);
  } else {
    out.push_back(not_applicable(
        4, "offline-skips-memmap",
        named.empty() ? "the kernel named no memmap page of the departing memory as what blocked the offline"
                      : "the kernel named no memmap page of the departing memory as what blocked the offline; it "
                        "named " +
                            named));
  }
  return out;
}

std::vector<CaseCheck> check_after_shrink_in_place(const MemmapSnapshot& before, const NodeMemTotals& mem_before,
                                                   const std::map<uint64_t, PageState>& after,
                                                   const NodeMemTotals& mem_after, int node, uint64_t unplugged_pages) {
  std::vector<CaseCheck> out;
  const auto expected = expected_fates(before, 0, 0, false);
  PageGroup unchanged;
  for (const auto& v : judge_pages(expected, after, before.types)) unchanged.add(v, before.types);
  out.push_back(unchanged.pages()
                    ? unchanged.check(1, "pages-unchanged",
                                      "pages held as before: no memory block went, so no memmap, table or usage page "
                                      "lost an owner")
                    : not_applicable(1, "pages-unchanged", "no probed page to compare"));
  memtotal_checks(out, expected, node, unplugged_pages, mem_before, mem_after);
  return out;
}

std::vector<CaseCheck> check_cycles(const NodeMeminfo& baseline, const std::vector<NodeMeminfo>& cycles,
                                    uint64_t slack_kb, const std::vector<NodeMeminfo>& settled) {
  if (cycles.empty()) return {};
  if (baseline.empty()) {
    const std::string why = "no node's meminfo was read before the first cycle: nothing to compare";
    return {{1, "cycles-memtotal-stable", true, why, false, {}},
            {1, "cycles-no-free-memory-leak", true, why, false, {}}};
  }
  std::string total_drift, free_trend, leaks;
  auto free_sum = [](const NodeMeminfo& m) {
    int64_t s = 0;
    for (const auto& [nid, tf] : m) s += static_cast<int64_t>(tf.second);
    return s;
  };
  // The most free memory seen at or after each cycle: what a transient took (page cache, a
  // kworker's buffers) comes back in a later reading; what leaked never does.
  std::vector<int64_t> best_from(cycles.size() + 1, std::numeric_limits<int64_t>::min());
  for (const auto& r : settled) best_from[cycles.size()] = std::max(best_from[cycles.size()], free_sum(r));
  for (size_t c = cycles.size(); c-- > 0;) best_from[c] = std::max(best_from[c + 1], free_sum(cycles[c]));
  int64_t worst = 0, worst_kept = 0;
  for (size_t c = 0; c < cycles.size(); ++c) {
    const NodeMeminfo& prev = c == 0 ? baseline : cycles[c - 1];
    const std::string was = c == 0 ? std::string("before the first cycle") : fmt::format("after cycle {}", c);
    for (const auto& [nid, tf] : prev) {
      auto it = cycles[c].find(nid);
      if (it == cycles[c].end())
        total_drift += fmt::format("; after cycle {} node {} is gone (it was there {})", c + 1, nid, was);
      else if (it->second.first != tf.first)
        total_drift += fmt::format("; after cycle {} node {} MemTotal {} kB ({} kB {})", c + 1, nid, it->second.first,
                                   tf.first, was);
    }
    const int64_t drop = free_sum(prev) - free_sum(cycles[c]);
    const int64_t kept = free_sum(prev) - best_from[c];  // never given back by any later reading
    worst = std::max(worst, drop);
    worst_kept = std::max(worst_kept, kept);
    free_trend += fmt::format("{}{:+}", free_trend.empty() ? "" : ", ", -drop);
    if (kept > static_cast<int64_t>(slack_kb))
      leaks += fmt::format("; cycle {} lost {} kB of free memory{}", c + 1, drop,
                           kept < drop ? fmt::format(", {} kB of it never came back", kept) : " that never came back");
  }
  std::vector<CaseCheck> out;
  out.push_back({1,
                 "cycles-memtotal-stable",
                 total_drift.empty(),
                 total_drift.empty()
                     ? fmt::format("MemTotal of every node identical before and after each of {} cycles", cycles.size())
                     : total_drift.substr(2),
                 true,
                 {}});
  std::string later;
  for (const auto& r : settled)
    later += fmt::format("{}{:+}", later.empty() ? "" : ", ", free_sum(r) - free_sum(cycles.back()));
  out.push_back(
      {1,
       "cycles-no-free-memory-leak",
       leaks.empty(),
       fmt::format(
           "free memory change of each cycle against the one before (kB): {}{}; worst drop {} kB, worst that no later "
           "reading gave back {} kB (slack {} kB per cycle){}",
           free_trend, later.empty() ? "" : fmt::format("; settled readings after the last cycle: {}", later), worst,
           worst_kept, slack_kb, leaks.empty() ? "" : ": " + leaks.substr(2)),
       true,
       {}});
  return out;
}

std::vector<CaseCheck> check_pgdat_reuse(const MemmapSnapshot& boot, const MemmapSnapshot& now, int node) {
  const NodeEntry* was = boot.node(node);
  const NodeEntry* is = now.node(node);
  if (!was)
    return {{5, "pgdat-reused", true, fmt::format("the boot snapshot has no pgdat of node {}", node), false, {}}};
  if (!is) return {{5, "pgdat-reused", false, fmt::format("node {} has no pgdat any more", node)}};
  if (was->pgdat_pfn != is->pgdat_pfn)
    return {{5, "pgdat-reused", false,
             fmt::format("node {}'s pgdat moved from pfn {:#x} to {:#x}: the boot pgdat was not reused", node,
                         was->pgdat_pfn, is->pgdat_pfn)}};
  Offenders changed;
  size_t judged = 0;
  for (const auto& run : boot.runs)
    for (const auto& r : run.roles)
      if (r.kind == PageRoleKind::Pgdat && r.owner == node)
        for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn) {
          ++judged;
          const PageRun* seen = nullptr;
          for (const auto& nrun : now.runs)
            if (pfn >= nrun.pfn && pfn < nrun.pfn + nrun.count) seen = &nrun;
          if (!seen)
            changed.add(fmt::format("was {}; not in the later snapshot", describe_state(run.state, boot.types)), pfn);
          else if (seen->state != run.state)
            changed.add(fmt::format("was {}; now {}", describe_state(run.state, boot.types),
                                    describe_state(seen->state, boot.types)),
                        pfn, "", probe_evidence(seen->state, boot.types, PageEvidence::Same));
        }
  if (judged == 0)
    return {
        {5, "pgdat-reused", true, fmt::format("the boot snapshot lists no pgdat page of node {}", node), false, {}}};
  return {{5, "pgdat-reused", changed.empty(),
           changed.empty()
               ? fmt::format("node {} came back on its boot pgdat at pfn {:#x}, tags intact", node, is->pgdat_pfn)
               : changed.str()}};
}

}  // namespace rig
