// Probe output (snapshots and query answers): accepted, or a ProbeFormatError with a one-line
// message. An accepted query answer covers exactly the ranges it answers. Anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "rig/spec/free_trace.h"
#include "rig/spec/guest_counters.h"
#include "rig/spec/memmap_snapshot.h"

namespace {

void one_line(const rig::ProbeFormatError& e) {
  for (const char* p = e.what(); *p; ++p)
    if (static_cast<unsigned char>(*p) < 0x20) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    // The guest's memory counters: accepted, or one line.
    rig::GuestCounters g = rig::parse_guest_counters(text);
    if (!g.memtotal_kb) std::abort();
  } catch (const rig::ProbeFormatError& e) {
    one_line(e);
  }
  try {
    // The step's free trace: accepted ranges are in order and disjoint, and each covers itself.
    rig::FreeTrace t = rig::parse_free_trace(text);
    for (size_t i = 0; i < t.freed.size(); ++i) {
      if (t.freed[i].first > t.freed[i].second || (i && t.freed[i].first <= t.freed[i - 1].second)) std::abort();
      if (!t.covers(t.freed[i].first) || !t.covers(t.freed[i].second)) std::abort();
    }
  } catch (const rig::ProbeFormatError& e) {
    one_line(e);
  }
  try {
    rig::MemmapSnapshot s = rig::parse_probe_snapshot(text);
    rig::parse_query_ranges(rig::query_ranges(s));
  } catch (const rig::ProbeFormatError& e) {
    one_line(e);
  }
  try {
    auto runs = rig::parse_probe_query(text);
    std::string ranges;
    for (const auto& r : runs) ranges += fmt::format(" {}-{}", r.pfn, r.pfn + r.count - 1);
    try {
      rig::check_query_covers(runs, ranges);
    } catch (const rig::ProbeFormatError&) {
      std::abort();  // an accepted answer must cover its own ranges
    }
  } catch (const rig::ProbeFormatError& e) {
    one_line(e);
  }
  try {
    rig::parse_query_ranges(text);
  } catch (const rig::ProbeFormatError& e) {
    one_line(e);
  }
  return 0;
}
