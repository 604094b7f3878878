// Every memory counter and listing the kernel gives user space about memory, read before and
// after an unplug or DIMM plug step and compared with what the removal, the refusal or the plug
// must make of them: global MemTotal, node states, zones' present, managed and spanned pages,
// memory blocks, the firmware memory map and the resource tree. Pure: the guest's text in, checks
// out.
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
  std::optional<uint64_t> start_pfn;  // /proc/zoneinfo prints it for populated zones only
  bool operator==(const ZoneCounters& o) const {
    return present == o.present && managed == o.managed && spanned == o.spanned && start_pfn == o.start_pfn;
  }
};

// A range of physical addresses with a name: a /sys/firmware/memmap entry or a /proc/iomem
// resource.
struct NamedRange {
  uint64_t first = 0, last = 0;  // bytes, inclusive
  std::string name;
  bool operator<(const NamedRange& o) const { return std::tie(first, last, name) < std::tie(o.first, o.last, o.name); }
  bool operator==(const NamedRange& o) const { return first == o.first && last == o.last && name == o.name; }
};

// One /proc/iomem resource and the resources nested in it (printed two spaces deeper), in the
// kernel's order (by address). A virtio-mem device's "System RAM (virtio_mem)" resources are
// children of the device's own resource ("virtio0").
struct IomemResource {
  NamedRange range;
  std::vector<IomemResource> children;
  bool operator==(const IomemResource& o) const { return range == o.range && children == o.children; }
};
using IomemTree = std::vector<IomemResource>;

// Every resource of the tree as one range whose name says where it hangs: a child's name is
// followed by " in " and its parent's range and name ("System RAM (virtio_mem) in 0x140000000-
// 0x17fffffff virtio0"), so a resource that moved to another parent differs.
std::set<NamedRange> iomem_listing(const IomemTree& tree);
// A busy system-RAM resource ("System RAM", "System RAM (kmem)", "System RAM (virtio_mem)"):
// the only kind /proc/iomem shows that the kernel marks IORESOURCE_SYSRAM | IORESOURCE_BUSY at
// hot-add (register_memory_resource()) and that a removal may cut.
bool is_system_ram(const std::string& name);
// What the kernel makes of the tree when it releases [first, last] (bytes, inclusive) after a
// removal: release_mem_region_adjustable() (kernel/resource.c, called by try_remove_memory() in
// mm/memory_hotplug.c, 6.1 and 6.12 alike) walks down from the top through resources that
// contain the range but are not busy, and acts on the first busy one that contains it: drops it
// (exactly the range), trims its start or end, or splits it in two (the children stay with the
// lower part). Nothing else moves. Returns nullopt when no system-RAM resource contains the range
// (the kernel would WARN or act on nothing).
std::optional<IomemTree> iomem_after_release(const IomemTree& tree, uint64_t first, uint64_t last);
// What the kernel makes of the tree when hot-add registers [first, last] as `name`
// (register_memory_resource() -> __request_region(): the new resource goes under the deepest
// non-busy resource that contains it, beside its siblings by address). Returns nullopt when the
// range overlaps a resource it cannot go under (the kernel's add would fail with -EBUSY).
std::optional<IomemTree> iomem_after_request(const IomemTree& tree, uint64_t first, uint64_t last,
                                             const std::string& name);

struct GuestCounters {
  std::optional<uint64_t> memtotal_kb;                        // /proc/meminfo MemTotal
  std::map<std::string, std::set<int>> node_states;           // "has_memory" -> nodes
  std::map<std::pair<int, std::string>, ZoneCounters> zones;  // (node, "Normal") -> counters
  uint64_t block_bytes = 0;                                   // memory block size
  std::map<uint64_t, std::string> blocks;                     // block index -> state ("online", "offline")
  std::optional<std::set<NamedRange>> firmware;               // absent without CONFIG_FIRMWARE_MEMMAP
  IomemTree iomem;                                            // the whole /proc/iomem
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
//            and (counters-zone-span) no zone's span begins or ends inside the range: a zone
//            whose span began there begins after it, one whose span ended there ends before it,
//            one left without present pages spans nothing, and every other span is unchanged
//            (shrink_zone_span() moves only an edge that was offlined);
//   refused: every counter and listing exactly as before (spans are not judged: a refusal's
//            rollback onlines blocks again, see docs/known-failures.md).
// A removal with `pfn_count` 0 is memory unplugged from blocks that stay (a virtio-mem shrink
// that fake-offlined sub-blocks): MemTotal and managed pages move by `memtotal_delta_pages`,
// every listing stays, spans are not judged.
std::vector<CaseCheck> check_counters(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                      uint64_t pfn_count, int node, bool removed,
                                      const std::map<int, int64_t>& memtotal_delta_pages);

// The memory blocks inside [first_pfn, first_pfn + pfn_count) listed in `before` and not in
// `after`, in order: what a virtio-mem shrink removed (the driver picks the blocks).
std::vector<uint64_t> blocks_gone(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                  uint64_t pfn_count);

// What a DIMM plug must make of the counters (add_memory() -> add_memory_resource() in
// mm/memory_hotplug.c; the _OST the runner waited for comes after it returned): every memory
// block of the range appears (create_memory_block_devices()), online or offline as the guest's
// policy chose (memhp_default_state, read from the blocks, not guessed) and every other block
// keeps its state; /proc/iomem gains a "System RAM" resource of exactly the range
// (register_memory_resource()) and the firmware map its entry (firmware_map_add_hotplug()); the
// node comes online (__try_online_node()); the node's present pages grow by its online blocks,
// its managed pages and the global MemTotal by those less `memmap_pages` (the pages of the range
// that hold its own memmap, memmap_on_memory: present but never managed); a node with online
// memory is in has_memory, and in has_normal_memory when a zone below ZONE_MOVABLE got some;
// nothing else moves. `blocks_missing_after_s` > 0: the blocks were waited for that long and
// some never came (the memory-blocks check says so with what was seen).
std::vector<CaseCheck> check_counters_after_plug(const GuestCounters& before, const GuestCounters& after,
                                                 uint64_t first_pfn, uint64_t pfn_count, int node,
                                                 uint64_t memmap_pages, double blocks_missing_after_s = 0);
// The pages of [first_pfn, first_pfn + pfn_count) that `snap` shows holding a memmap (a range
// that hosts its own, memmap_on_memory) and that lie in blocks `after` lists online.
uint64_t memmap_pages_in_online_blocks(const MemmapSnapshot& snap, const GuestCounters& after, uint64_t first_pfn,
                                       uint64_t pfn_count);
// The memory blocks of [first_pfn, first_pfn + pfn_count) that `g` does not list.
std::vector<uint64_t> missing_blocks(const GuestCounters& g, uint64_t first_pfn, uint64_t pfn_count);

}  // namespace rig
