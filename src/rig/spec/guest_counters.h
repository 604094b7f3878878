// Every memory counter and listing the kernel gives user space about memory, read before and
// after an unplug step and compared with what the removal (or the refusal) must make of them:
// global MemTotal, node states, zones' present and managed pages, memory blocks, the firmware
// memory map and the resource tree. Pure: the guest's text in, checks out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "rig/spec/case_checks.h"

namespace rig {

struct ZoneCounters {
  uint64_t present = 0, managed = 0, spanned = 0;
  bool operator==(const ZoneCounters& o) const {
    return present == o.present && managed == o.managed && spanned == o.spanned;
  }
};

// A range of physical addresses with a name: a /sys/firmware/memmap entry or a top-level
// /proc/iomem resource.
struct NamedRange {
  uint64_t first = 0, last = 0;  // bytes, inclusive
  std::string name;
  bool operator<(const NamedRange& o) const { return std::tie(first, last, name) < std::tie(o.first, o.last, o.name); }
  bool operator==(const NamedRange& o) const { return first == o.first && last == o.last && name == o.name; }
};

struct GuestCounters {
  std::optional<uint64_t> memtotal_kb;                        // /proc/meminfo MemTotal
  std::map<std::string, std::set<int>> node_states;           // "has_memory" -> nodes
  std::map<std::pair<int, std::string>, ZoneCounters> zones;  // (node, "Normal") -> counters
  uint64_t block_bytes = 0;                                   // memory block size
  std::map<uint64_t, std::string> blocks;                     // block index -> state ("online", "offline")
  std::optional<std::set<NamedRange>> firmware;               // absent without CONFIG_FIRMWARE_MEMMAP
  std::set<NamedRange> iomem;                                 // top-level resources
};

// The guest command that prints the counters (one command, few forks: every fork costs under
// TCG), and its parser. Throws ProbeFormatError for text it cannot read.
extern const char* const kGuestCountersCommand;
GuestCounters parse_guest_counters(const std::string& text);

// What the step must make of the counters, as checks of case 2 (the memory is gone from every
// listing, and nothing else moved):
//   removed: global MemTotal moves by the sum of the model's per-node MemTotal changes
//            (`memtotal_delta_pages`); the departing node's present pages drop by the pages of
//            the range that were online, other nodes' zones keep theirs; every node's managed
//            pages add up to its MemTotal change; the memory blocks of the range are gone and the
//            others keep their state; the firmware map entry and the "System RAM" resource of
//            exactly the range are gone and nothing else; a node left without memory leaves
//            has_memory and has_normal_memory, and goes offline when it has no CPU either;
//   refused: every counter and listing exactly as before.
// A removal with `pfn_count` 0 is memory unplugged from blocks that stay (a virtio-mem shrink
// that fake-offlined sub-blocks): MemTotal and managed pages move by `memtotal_delta_pages`,
// every listing stays.
std::vector<CaseCheck> check_counters(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                      uint64_t pfn_count, int node, bool removed,
                                      const std::map<int, int64_t>& memtotal_delta_pages);

// The memory blocks inside [first_pfn, first_pfn + pfn_count) listed in `before` and not in
// `after`, in order: what a virtio-mem shrink removed (the driver picks the blocks).
std::vector<uint64_t> blocks_gone(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                  uint64_t pfn_count);

}  // namespace rig
