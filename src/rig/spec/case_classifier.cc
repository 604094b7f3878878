#include "rig/spec/case_classifier.h"

#include <fmt/format.h>

namespace rig {

std::string section_list(const std::set<uint64_t>& sections) {
  std::string out;
  for (uint64_t s : sections) out += fmt::format("{}{}", out.empty() ? "" : ", ", s);
  return out;
}

std::map<uint64_t, SectionPlacement> memmap_placements(const MemmapSnapshot& s) {
  std::map<uint64_t, SectionPlacement> p;
  for (const auto& sec : s.sections) {
    p[sec.nr].section = sec.nr;
    p[sec.nr].early = sec.early;
  }
  for (const auto& run : s.runs) {
    for (const auto& role : run.roles) {
      if (role.kind != PageRoleKind::Memmap) continue;
      auto& sp = p[static_cast<uint64_t>(role.owner)];
      sp.section = static_cast<uint64_t>(role.owner);
      // A run may cross a section boundary of the memory it lives in.
      for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count;) {
        uint64_t host = s.pfn_section(pfn);
        uint64_t host_end = (host + 1) * s.pages_per_section();
        uint64_t n = std::min(run.pfn + run.count, host_end) - pfn;
        sp.memmap_hosts[host] += n;
        pfn += n;
      }
      sp.selfhosted |= run.state.selfhosted;
    }
  }
  for (auto& [nr, sp] : p)
    for (const auto& [host, pages] : sp.memmap_hosts)
      if (host != nr && p.count(host)) p[host].dependents.insert(nr);
  return p;
}

bool RemovalAnalysis::removable_per_spec() const {
  if (pgdat_inside) return false;
  for (const auto& sp : sections)
    for (uint64_t d : sp.dependents)
      if (!contains(d)) return false;
  return true;
}

RemovalAnalysis analyze_removal(const MemmapSnapshot& s, uint64_t first_pfn, uint64_t pfn_count) {
  RemovalAnalysis a;
  a.first_section = s.pfn_section(first_pfn);
  a.last_section = s.pfn_section(first_pfn + pfn_count - 1);
  auto placements = memmap_placements(s);

  for (uint64_t nr = a.first_section; nr <= a.last_section; ++nr) {
    const SectionEntry* e = s.section(nr);
    if (!e) continue;
    if (a.node < 0) a.node = e->nid;
    SectionPlacement sp = placements[nr];
    sp.section = nr;
    std::set<uint64_t> inside, outside;
    for (const auto& [host, pages] : sp.memmap_hosts) (a.contains(host) ? inside : outside).insert(host);

    if (sp.selfhosted) {
      sp.cases = {2, 4};
      sp.explanation = "memmap on the memory itself (memmap_on_memory): not freed, skipped by offline";
    } else if (!inside.empty()) {
      sp.cases = {2, 4};
      sp.explanation = inside.count(nr) ? fmt::format("memmap on section {} itself", nr)
                                        : fmt::format("memmap on section {}, which goes with it", section_list(inside));
    } else if (!outside.empty()) {
      sp.cases = {1};
      sp.explanation = fmt::format("memmap on section {}, which stays", section_list(outside));
    } else {
      sp.explanation = "memmap not found";
    }
    std::set<uint64_t> staying_dependents;
    for (uint64_t d : sp.dependents)
      if (!a.contains(d)) staying_dependents.insert(d);
    if (!sp.dependents.empty()) {
      sp.cases.insert(3);
      sp.explanation += fmt::format("; holds the memmap of section {}", section_list(sp.dependents));
    }
    if (!staying_dependents.empty()) {
      a.order.push_back(fmt::format("remove section {} before section {}", section_list(staying_dependents), nr));
      for (uint64_t d : staying_dependents) {
        if (placements[nr].memmap_hosts.count(d))
          a.cycles.push_back(fmt::format("sections {} and {} hold each other's memmap: neither can go first", nr, d));
      }
    }
    a.cases.insert(sp.cases.begin(), sp.cases.end());
    a.sections.push_back(std::move(sp));
  }

  // Case 5: the departing node's pgdat.
  if (s.node(a.node)) {
    a.cases.insert(5);
    for (const auto& run : s.runs)
      for (const auto& role : run.roles)
        if (role.kind == PageRoleKind::Pgdat && role.owner == a.node)
          for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
            a.pgdat_inside |= a.contains(s.pfn_section(pfn));
  }
  return a;
}

}  // namespace rig
