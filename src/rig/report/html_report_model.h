// What the HTML report shows, as plain values: for each scenario run the memory map (one row per
// NUMA node, one cell per memory section in physical-address order, gaps as gaps), at boot and
// before and after each unplug, with where each section's memmap lives, the pgdat and page-table
// pages on each section, the pages whose fate differs from the accounting model, and each failed
// check linked to its cells; and the matrix of scenarios x kernels. Pure: results and the texts of
// a run's artifacts in, the model out (read_run_artifacts is the one file-system read, kept apart).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rig/scenario/results.h"
#include "rig/report/kernel_compare.h"
#include "rig/report/results_report.h"

namespace rig {

enum class CellState { Boot, HotAdded, Offline, Removed, Absent };
const char* cell_state_name(CellState s);  // "boot", "hot-added", "offline", "removed", "absent"

// A page whose fate differs from the accounting model's after a step.
struct BadPage {
  uint64_t pfn = 0;
  uint64_t section = 0;  // the section the page sits on
  std::string kind;      // "leaked", "lost", "wrongly freed", "changed", "still online", "gone", "not read"
  std::string roles;     // "pmd:512,pmd:513"
  std::string expected;  // "freed", "kept", ...
  std::string problem;   // the model's words
};

struct SectionCell {
  uint64_t section = 0;
  int node = -1;
  CellState state = CellState::Absent;
  std::string zone;  // "Normal", "Movable", "DMA32", "mixed"; empty when not known
  uint64_t first_pfn = 0, pages = 0;
  std::string dimm;                           // the DIMM it belongs to, empty for boot RAM
  std::map<uint64_t, uint64_t> memmap_hosts;  // section holding its memmap -> pages there
  std::set<uint64_t> hosts_memmap_of;         // other sections whose memmap lives here
  bool selfhosted = false;                    // memmap_on_memory
  std::set<int> pgdat_of;                     // nodes whose pgdat pages sit here
  int table_pages = 0;                        // vmemmap page-table pages (pte..p4d) sitting here
  std::set<std::string> roles;                // every role kind of a page sitting here ("memmap", "pmd", ...)
  bool departing = false;                     // in the DIMM this step unplugs
  std::set<int> cases;                        // departing: the spec cases the classifier found
  std::vector<BadPage> bad;                   // pages on this section whose fate differs
  std::vector<std::string> failed_checks;     // failed (or xfail) checks naming a page on it
  std::vector<int> failed_check_rows;         // their places in ScenarioView::checks
  // The memmap case of the section when it departs, else how it stands: 1 memmap elsewhere,
  // 2 memmap on itself, 3 holds others' memmap; 0 not known.
  int memmap_case() const;
};

// The memory map at one moment.
struct MapFrame {
  std::string id;                         // HTML id prefix, unique in the report ("r1-boot", "r1-s0-after")
  std::string title;                      // "boot", "before step 0 (unplug dimm64g)", ...
  std::map<uint64_t, SectionCell> cells;  // section -> cell, only sections that exist in this frame or were removed
  std::string note;                       // what could not be shown (a missing artifact)
};

// A check, linked to the cells and pfns it names.
struct CheckLink {
  int step = -1;
  int case_no = 0;
  std::string name, status, detail, evidence;
  std::vector<uint64_t> pfns;
  std::set<uint64_t> sections;  // cells it names (in the step's after frame, or the boot frame)
  int node = -1;                // memtotal-node-N: the node row it names
  std::string frame;            // id of the frame its cells are in
};

struct StepView {
  int index = 0;
  std::string action, target, expected, outcome, detail;
  bool ok = false;
  bool has_frames = false;  // an unplug with its probe snapshots
  MapFrame before, after;
  std::vector<std::string> analysis;  // the case of each departing section (as the run recorded it)
  std::vector<std::string> order;     // case 3: the removal order the rig computed
  std::vector<BadPage> bad;
  int pages_judged = 0;
};

struct DimmBracket {
  std::string id;
  int node = -1;  // the row its sections are on (QEMU gives boot DIMMs to the highest node)
  uint64_t first_section = 0, last_section = 0;
  bool boot = false;
  bool virtio_mem = false;  // a virtio-mem device's range, not a DIMM
  std::string title;        // what a virtio-mem device was asked and reached, step by step
};

struct ScenarioView {
  std::string id;                          // HTML anchor, "run-3"
  const ScenarioResult* result = nullptr;  // into the results the view was built from: keep them alive
  std::vector<int> nodes;                  // rows, in order
  std::vector<uint64_t> columns;           // sections in physical-address order (a gap where numbers jump)
  int section_shift = 0;
  std::vector<DimmBracket> dimms;
  bool has_map = false;  // a probe snapshot was found
  MapFrame boot;
  std::vector<StepView> steps;
  std::vector<CheckLink> checks;
  std::vector<std::string> notes;  // what the report could not show, and why
  std::string artifacts_link;      // the run directory relative to the report; empty when it is not a safe link
  std::string artifacts_text;      // the run directory as recorded, shown as text when it is not a link
};

struct MatrixCell {
  std::string verdict;  // the runs' verdict, or "flaky"
  int runs = 0, passed = 0;
  double seconds = 0;                // all runs together
  std::vector<std::string> anchors;  // the scenario views of its runs
  std::vector<std::string> artifacts;
};

struct MatrixView {
  std::vector<std::string> scenarios, kernels;
  std::map<std::pair<std::string, std::string>, MatrixCell> cells;  // (scenario, kernel)
  std::map<std::string, int> totals;                                // verdict -> runs ("flaky" -> cells)
  int runs = 0;
  double run_seconds = 0;  // the runs' durations added up
  double wall_s = 0;
};

struct ReportView {
  MatrixView matrix;
  std::vector<ScenarioView> scenarios;
  // With several kernels: each kernel against the next (in the order they appear), as `rig compare`.
  std::vector<KernelComparison> comparisons;
  RunInfo info;
};

// The texts of a run's artifacts the report reads: snapshot-*.txt, query-after-*.txt and
// guest-state-*.txt, by file name (scenario/artifact_names.h).
using RunArtifacts = std::map<std::string, std::string>;
// What one run folder may give the report: files and bytes beyond these are left out (with a note).
constexpr size_t kMaxArtifactFiles = 4096;
constexpr size_t kMaxRunArtifactBytes = size_t{256} << 20;
// Reads them from `dir`: regular files only, each opened relative to the folder without following
// a symlink (a symlink, FIFO, device or directory of such a name is not read), at most
// kMaxArtifactBytes each. Missing files are simply absent; an unreadable directory gives none.
// Each file left out is one line in `refused` (its name and what it is, never its content).
RunArtifacts read_run_artifacts(const std::string& dir, std::vector<std::string>* refused = nullptr);

// A memory-block size the report believes (guest-state's block_size_bytes): a power of two from
// 4 KiB to 16 GiB (x86-64 uses 128 MiB to 2 GiB).
constexpr uint64_t kMinBlockBytes = uint64_t{1} << 12;
constexpr uint64_t kMaxBlockBytes = uint64_t{1} << 34;
bool plausible_block_size(uint64_t bytes);

// Whether `href` may be a link in the report: a relative path inside the report's folder (no
// scheme, no leading '/', no '..' component, no backslash, no control character or space; only
// letters, digits and . _ - + ~ , = @ /). Anything else (javascript:, data:, file:, https://,
// ../..) is shown as text.
bool is_safe_relative_link(const std::string& href);

// Pure. `artifacts[i]` belongs to `results[i]` (missing: nothing but the verdicts). `link_base`:
// the directory the report is written to, to make artifact links relative ("" keeps them as is).
ReportView build_report_view(const std::vector<ScenarioResult>& results, const std::vector<RunArtifacts>& artifacts,
                             const RunInfo& info, const std::string& link_base);

// One scenario run (exposed for tests).
ScenarioView build_scenario_view(const ScenarioResult& r, const RunArtifacts& artifacts, const std::string& id);

// The memory-block size the guest used, from a guest-state file's "memoryN/state" lines and the
// sections of a snapshot: the smallest power-of-two multiple of the section size that puts every
// listed block on a present section. 0 when the file lists no block.
uint64_t infer_block_sections(const std::string& guest_state, const std::set<uint64_t>& present_sections);

}  // namespace rig
