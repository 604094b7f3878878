// `rig explore`'s pure parts: draw valid scenarios from what matters to the kernel's memmap
// layout, name each failure by a signature, and shrink a failing scenario step by step.
// No I/O: the explorer (explorer.h) runs what these produce.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rig/report/findings.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

// Physical-address boundaries that change the memmap's layout on x86-64: a memory section
// (128 MiB, its memmap one 2 MiB vmemmap block with a 64-byte struct page), the memory one
// direct-map PMD table page covers (1 GiB; also where a 56-byte struct page's memmap starts a
// fresh 2 MiB block, 8 sections in 7 blocks), the memory whose memmap one vmemmap PMD table page
// maps (512 x 2 MiB of memmap: 64 GiB with a 64-byte struct page; with a 56-byte one every
// 2^39/7 bytes, about 73.1 GiB, the first section wholly past it taken as the boundary), the
// memory one direct-map PUD table page covers (512 GiB, with 4- and 5-level paging alike).
// Largest last.
struct BoundaryClass {
  std::string name;
  uint64_t align = 0;    // boundaries at multiples of it (struct_page 64)
  int struct_page = 64;  // 56: boundaries at the sections after k * 2^39 / 7
};
const std::vector<BoundaryClass>& boundary_classes();

// The first boundary of class `c` at or above `addr`, and the last one below it (0 if none).
uint64_t boundary_at_or_above(const BoundaryClass& c, uint64_t addr);
uint64_t boundary_below(const BoundaryClass& c, uint64_t addr);

// The largest class whose boundary the range [addr, addr + size) starts or ends on, or that it
// straddles by at most a section; "section" otherwise.
std::string boundary_class_of(uint64_t addr, uint64_t size);

// x86's memory block size for boot memory ending at `boot_end` (arch/x86/mm/init_64.c,
// probe_memory_block_size, in a guest): 128 MiB below 64 GiB, else the largest power of two up
// to 2 GiB that `boot_end` is aligned to.
uint64_t x86_memory_block_size(uint64_t boot_end);

// One generated scenario: an ordinary scenario, and the boundary class of each DIMM.
struct Draw {
  Scenario scenario;
  std::map<std::string, std::string> dimm_class;  // DIMM id -> boundary class
  // What else it exercises: its layout (movable_node, movablecore, hot-only), "5-level",
  // "memmap_on_memory", "zone ZONE" per online step, "re-add", "refusal", "cycles".
  std::vector<std::string> features;
};

// Deterministic in (seed, index); always a scenario the validator of `rig check` accepts.
Draw draw_scenario(uint64_t seed, uint64_t index);

// Whether `s` is one `rig check` would accept (through its TOML, as a user would write it).
bool valid_scenario(const Scenario& s);

// A failure found in a run, named by the findings register's signature (report/findings.h:
// failure_signature, step_signature, crash_signature), so that the same defect found twice is
// one finding and one `rig run` would call known is known here too: `finding_id` is the entry
// that names it (as `rig run` matches: its signature, a kernel it does not list as unaffected,
// a step only in the entry's own scenario), or "new". An unplug refused is not a finding: the
// checks after a refusal judge it (a refusal is the spec's answer for memory holding a node's
// pgdat or memmap); nor is a plug or online that failed (the draw, not the kernel's removal).
struct Finding {
  std::string signature;
  std::string kind;  // "check", "report", "step", "verdict"
  int case_no = 0;
  std::string check;
  std::string role;
  std::string boundary;    // the boundary class of the DIMM the failing step removed
  std::string headline;    // one line for people
  std::string finding_id;  // the register's entry, or "new"
  bool known = false;      // finding_id names an entry
  bool xfail = false;      // an expected failure (rig/known-failures.toml, a scenario's [[xfail]])
};
std::vector<Finding> findings_of(const ScenarioResult& r, const Scenario& s,
                                 const std::vector<RegisteredFinding>& register_);

// Scenarios one step simpler than `s`, the biggest simplifications first, each valid: a DIMM
// dropped (with its steps), a step or a kernel argument dropped, an unused node dropped, a DIMM
// halved, a DIMM moved down to the next boundary of its class or of a smaller one, maxmem and
// slots down to what the DIMMs need, node 0's RAM halved, one cycle instead of several, 4-level
// paging instead of 5, a kernel-zone online made movable.
std::vector<Scenario> shrink_candidates(const Scenario& s);

// Greedy: take the first candidate that still fails, start again from it; stop when none does
// or after `max_tries` calls of `still_fails`.
struct Minimized {
  Scenario scenario;
  int tries = 0;
  int steps_taken = 0;
};
Minimized minimize(const Scenario& s, const std::function<bool(const Scenario&)>& still_fails, int max_tries);

// "30m", "90s", "1h", "1h30m", "45" (seconds). Nullopt for anything else.
std::optional<double> parse_duration(const std::string& text);

// What a budget of runs reached.
struct Coverage {
  int runs = 0, errors = 0;
  double run_seconds = 0;
  std::map<std::string, int> boundaries;  // class -> removals that ran
  std::set<int> cases;
  std::map<std::string, int> roles;     // page role judged -> checks that could fail
  std::map<std::string, int> features;  // Draw::features -> runs that had it
  void add(const ScenarioResult& r, const Draw& d);
};
std::string coverage_table(const Coverage& c, size_t findings);

}  // namespace rig
