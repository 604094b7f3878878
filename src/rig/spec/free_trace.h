// The page frees of a step, as the guest's kernel traced them (rig-probe frees stop, from the
// trace event kmem:mm_page_free): the evidence that a page the model expects freed was given back
// even when it is held again by the time the probe reads it. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rig/spec/memmap_snapshot.h"

namespace rig {

struct FreeTrace {
  bool available = false;                            // the kernel has the event and the probe traced the step
  std::string absent_why;                            // why not, when not
  uint64_t events = 0;                               // frees traced
  uint64_t lost = 0;                                 // events the ring buffer overwrote: the list is then incomplete
  std::vector<std::pair<uint64_t, uint64_t>> freed;  // pfn ranges [first, last], in order, disjoint
  // A page missing from the list was not freed in the step (trace complete).
  bool complete() const { return available && lost == 0; }
  bool covers(uint64_t pfn) const;
  // One line for people: "1234 frees traced" / "the trace lost 12 events" / why absent.
  std::string summary() const;
};

// Parses rig-probe's "rig-frees 1" answer (docs/probe-format.md). Throws ProbeFormatError for a
// malformed or unbounded one (more than kMaxFreeTraceRanges ranges).
FreeTrace parse_free_trace(const std::string& text);
constexpr size_t kMaxFreeTraceRanges = 1u << 20;

// Marks every page of `after` with what the trace says of it (PageState::frees_traced,
// traced_free). An incomplete or absent trace marks nothing: the judge then asks for other
// evidence.
void apply_free_trace(const FreeTrace& t, std::map<uint64_t, PageState>& after);

}  // namespace rig
