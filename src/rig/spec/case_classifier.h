// Before an unplug: which of the spec's five cases each section of the departing memory falls
// in, from where the probe found its memmap, and the removal order the kernel never shows.
// Pure: a MemmapSnapshot in, a RemovalAnalysis out.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rig/spec/memmap_snapshot.h"

namespace rig {

struct SectionPlacement {
  uint64_t section = 0;
  bool early = false;
  std::map<uint64_t, uint64_t> memmap_hosts;  // section holding its memmap -> pages there
  std::set<uint64_t> dependents;              // other sections whose memmap lives on this one
  bool selfhosted = false;                    // memmap_on_memory (altmap) pages
  std::set<int> cases;
  std::string explanation;
};

struct RemovalAnalysis {
  uint64_t first_section = 0, last_section = 0;
  int node = -1;  // node of the departing memory
  std::vector<SectionPlacement> sections;
  std::vector<std::string> order;   // "remove sections 32, 33 before section 35"
  std::vector<std::string> cycles;  // sections that hold each other's memmap
  bool pgdat_inside = false;        // the node's pgdat lies in the departing memory
  std::set<int> cases;

  bool contains(uint64_t section) const { return section >= first_section && section <= last_section; }
  // True when the spec lets this memory go: no section outside it depends on it, and its own
  // pgdat does not live in it.
  bool removable_per_spec() const;
};

RemovalAnalysis analyze_removal(const MemmapSnapshot& s, uint64_t first_pfn, uint64_t pfn_count);

// Every memmap placement in the snapshot: section -> placement (cases left empty).
std::map<uint64_t, SectionPlacement> memmap_placements(const MemmapSnapshot& s);

std::string section_list(const std::set<uint64_t>& sections);

}  // namespace rig
