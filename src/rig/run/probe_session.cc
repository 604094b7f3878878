#include "rig/run/probe_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "rig/base/atomic_file.h"
#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/text.h"
#include "rig/scenario/artifact_names.h"
#include "rig/spec/page_accounting.h"

namespace rig {

CheckRecord raw_check_record(int step, const CaseCheck& c) {
  CheckRecord rec;
  rec.step = step;
  rec.case_no = c.case_no;
  rec.name = c.name;
  rec.ok = c.ok;
  rec.detail = c.detail;
  rec.applicable = c.applicable;
  rec.status = !c.applicable ? CheckStatus::NotApplicable : c.ok ? CheckStatus::Pass : CheckStatus::Fail;
  for (const auto& p : c.offenders) rec.pages.push_back({p.pfn, p.roles, p.expected, p.seen, p.evidence});
  return rec;
}

ProbeSession::ProbeSession(Machine& m, const Timeouts& timeouts, std::string artifacts_dir,
                           std::vector<CheckRecord>& checks, std::function<void(const std::string&)> progress)
    : m_(m), timeouts_(timeouts), dir_(std::move(artifacts_dir)), checks_(checks), progress_(std::move(progress)) {}

namespace {
// Adds the time of a probe-session call to the session's total.
struct Timed {
  explicit Timed(double& total) : total_(total) {}
  ~Timed() { total_ += seconds_since(start_); }
  double& total_;
  Clock::time_point start_ = Clock::now();
};
}  // namespace

std::string ProbeSession::at_boot() {
  Timed t(seconds_);
  SnapshotText snap = read_probe_snapshot(m_, timeouts_.guest_cmd);
  boot_tags(snap.raw, snap.snapshot);
  setup_free_trace();
  return snap.raw;
}

void ProbeSession::at_boot_restored(const std::string& raw) {
  Timed t(seconds_);
  boot_tags(raw, parse_probe_snapshot(raw));
  setup_free_trace();
}

// Sized once, before any step, so that the trace buffer is not charged to a step's free memory.
// Also the one thing the page model cannot follow: hugetlb pages whose vmemmap the kernel
// optimised (HVO remaps and frees boot memmap pages at run time) make the run an error.
void ProbeSession::setup_free_trace() {
  refuse_hvo(m_, timeouts_.guest_cmd);
  no_trace_ = free_trace_command(m_, kFreeTraceSetupCommand, timeouts_.guest_cmd);
  if (!no_trace_.empty())
    progress_("  probe: page frees cannot be traced (" + no_trace_ +
              "): a page expected freed but held again needs a new holder as evidence");
}

std::string ProbeSession::no_tags() const {
  if (boot_.tags_present()) return "";
  return fmt::format("this kernel ({}) has no bootmem info", boot_.kernel);
}

void ProbeSession::boot_tags(const std::string& raw, const MemmapSnapshot& snap) {
  save(artifact::kSnapshotBoot, raw);
  boot_ = snap;
  progress_(fmt::format("  probe: {} sections, {} page runs, encoding {}, struct page {} B, {}-level paging",
                        boot_.sections.size(), boot_.runs.size(), boot_.encoding, boot_.struct_page,
                        boot_.paging_levels));
  for (auto& c : check_boot_tags(boot_)) record(-1, c);
}

void ProbeSession::read_before(int step, uint64_t first_pfn, uint64_t pfn_count) {
  // Hugetlb pages may have come since boot: HVO would remap memmap pages the model follows.
  refuse_hvo(m_, timeouts_.guest_cmd);
  SnapshotText snap = read_probe_snapshot(m_, timeouts_.guest_cmd);
  save(artifact::snapshot_before(step), snap.raw);
  save_guest_state(artifact::guest_state_before(step));
  before_ = snap.snapshot;
  mem_before_ = read_node_memtotals(m_, timeouts_.guest_cmd);
  counters_before_ = read_counters(artifact::counters_before(step));
  step_traced_ = false;
  if (no_trace_.empty()) {
    // Last before the step: the frees of the memory about to go are left out.
    const std::string why =
        free_trace_command(m_, free_trace_start_command(first_pfn, first_pfn + pfn_count - 1), timeouts_.guest_cmd);
    step_traced_ = why.empty();
    if (!why.empty()) progress_("  probe: page frees not traced in this step: " + why);
  }
  console_lines_ = m_.console().lines_seen();
}

void ProbeSession::add_analysis(StepResult& r) {
  for (const auto& sp : analysis_.sections) {
    std::string cases;
    for (int c : sp.cases) cases += fmt::format("{}{}", cases.empty() ? "" : ",", c);
    r.analysis.push_back(
        fmt::format("section {}: case {}: {}", sp.section, cases.empty() ? "-" : cases, sp.explanation));
  }
  if (analysis_.pgdat_inside)
    r.analysis.push_back(fmt::format("node {}'s pgdat lives in this memory (case 5)", analysis_.node));
  for (const auto& o : analysis_.order) r.analysis.push_back("order: " + o);
  for (const auto& c : analysis_.cycles) r.analysis.push_back("cycle: " + c);
  for (const auto& line : r.analysis) progress_("  " + line);
}

void ProbeSession::before_unplug(int step, const Dimm& d, StepResult& r) {
  Timed t(seconds_);
  read_before(step, d.addr >> 12, d.size >> 12);
  analysis_ = analyze_removal(before_, d.addr >> 12, d.size >> 12);
  add_analysis(r);
}

std::map<uint64_t, PageState> ProbeSession::read_pages_after(int step, uint64_t first_pfn, uint64_t pfn_count,
                                                             const std::vector<PageExpectation>* settle) {
  std::string raw;
  std::string ranges = query_ranges(before_);
  if (pfn_count) ranges += fmt::format(" {}-{}", first_pfn, first_pfn + pfn_count - 1);
  auto after = states_by_pfn(query_probe(m_, ranges, &raw, timeouts_.guest_cmd));
  save(artifact::query_after(step), raw);
  // A page caught between the allocator's lists looks lost for an instant: read those again, a
  // few times, before judging (a leaked page stays as it is).
  for (int again = 1; settle && again <= kSettleReads; ++again) {
    const auto pending = unsettled_pages(*settle, after);
    if (pending.empty()) break;
    pause_for(timeouts_.poll);
    std::string list, reread;
    for (uint64_t pfn : pending) list += fmt::format("{}{}", list.empty() ? "" : " ", pfn);
    for (const auto& [pfn, st] : states_by_pfn(query_probe(m_, list, &reread, timeouts_.guest_cmd))) after[pfn] = st;
    save(artifact::query_reread(step, again), reread);
    progress_(fmt::format("  {} pages looked lost (refcount 0, not free): read again ({})", pending.size(), again));
  }
  // Only a trace this step started is evidence: an empty buffer left by a start that failed would
  // read as a complete trace with no frees.
  if (step_traced_) {
    // After the last read of the pages: a page freed and taken again before a read is in the trace.
    std::string trace_raw;
    const FreeTrace trace = read_free_trace(m_, &trace_raw, timeouts_.guest_cmd);
    save(artifact::frees_after(step), trace_raw);
    apply_free_trace(trace, after);
    progress_("  probe: " + trace.summary());
  }
  return after;
}

void ProbeSession::after_unplug(int step, const Dimm& d, UnplugResult outcome) {
  Timed t(seconds_);
  if (outcome == UnplugResult::Timeout) return;  // the guest is mid-way: no state to judge
  const uint64_t first = d.addr >> 12, count = d.size >> 12;
  const bool removed = outcome == UnplugResult::Removed;
  const auto expected = expected_fates(before_, first, count, true);
  auto after = read_pages_after(step, first, count, removed ? &expected : nullptr);
  save_guest_state(artifact::guest_state_after(step));
  NodeMemTotals mem_after = read_node_memtotals(m_, timeouts_.guest_cmd);
  const GuestCounters counters_after = read_counters(artifact::counters_after(step));
  std::vector<CaseCheck> checks;
  if (removed) {
    checks = check_after_removal(analysis_, before_, mem_before_, first, count, after, mem_after);
    gone_nodes_.insert(analysis_.node);
    const auto deltas = expected_memtotal_delta(expected, analysis_.node, count);
    for (auto& c : check_counters(counters_before_, counters_after, first, count, analysis_.node, true, deltas))
      checks.push_back(std::move(c));
  } else {
    std::vector<std::vector<std::string>> dumps;
    for (const auto& f : m_.console().findings())
      if (f.kind == "page-dump" && f.line_no > console_lines_) dumps.push_back(f.lines);
    checks = check_after_refusal(analysis_, before_, mem_before_, after, mem_after, parse_page_dumps(dumps));
    for (auto& c : check_counters(counters_before_, counters_after, first, count, analysis_.node, false, {}))
      checks.push_back(std::move(c));
  }
  for (auto& c : checks) record(step, c);
}

void ProbeSession::before_plug(int step, const Dimm&) {
  Timed t(seconds_);
  counters_before_ = read_counters(artifact::counters_before(step));
}

void ProbeSession::after_plug(int step, const Dimm& d, double timeout_s) {
  Timed t(seconds_);
  const uint64_t first_pfn = d.addr >> 12, pfns = d.size >> 12;
  // The guest adds the blocks asynchronously after the ACPI notification: the reading after is
  // the first that lists them all, and a wait that runs out is judged on what was seen.
  const Deadline by = deadline_in(timeout_s);
  GuestCounters after = read_counters(artifact::counters_after(step));
  double waited_out = 0;
  while (!missing_blocks(after, first_pfn, pfns).empty()) {
    if (seconds_left(by) <= timeouts_.poll) {
      waited_out = timeout_s;
      break;
    }
    pause_for(timeouts_.poll);
    after = read_counters(artifact::counters_after(step));
  }
  // The memmap a self-hosting range keeps in its online blocks (memmap_on_memory), read from the
  // probe.
  const bool online = std::any_of(after.blocks.begin(), after.blocks.end(), [&](const auto& b) {
    return b.second == "online" && b.first * after.block_bytes >= d.addr &&
           b.first * after.block_bytes < d.addr + d.size;
  });
  uint64_t memmap = 0;
  if (online) {
    const SnapshotText snap = read_probe_snapshot(m_, timeouts_.guest_cmd);
    save(artifact::snapshot_after(step), snap.raw);
    memmap = memmap_pages_in_online_blocks(snap.snapshot, after, first_pfn, pfns);
  }
  for (auto& c : check_counters_after_plug(counters_before_, after, first_pfn, pfns, d.node, memmap, waited_out))
    record(step, c);
  pgdat_back(step, d.node);  // case 5
}

void ProbeSession::pgdat_back(int step, int node) {
  if (!boot_.node(node) || !gone_nodes_.count(node)) return;
  SnapshotText snap = read_probe_snapshot(m_, timeouts_.guest_cmd);
  save(artifact::snapshot_after(step), snap.raw);
  for (auto& c : check_pgdat_reuse(boot_, snap.snapshot, node)) record(step, c);
}

void ProbeSession::before_resize(int step, const VirtioMem& v, uint64_t size) {
  Timed t(seconds_);
  auto it = requested_.emplace(v.id, v.requested).first;
  // After a partial shrink the same request again finishes it: a shrink too, but one whose state
  // before would be read while the driver may still be unplugging: not judged.
  after_partial_ = unfinished_.count(v.id) > 0;
  shrinking_ = size < it->second || (size == it->second && after_partial_);
  it->second = size;
  if (shrinking_ && !after_partial_) read_before(step, v.addr >> 12, v.size >> 12);
}

void ProbeSession::after_resize(int step, const VirtioMem& v, const ResizeOutcome& o, StepResult& r) {
  Timed t(seconds_);
  if (!shrinking_) {
    // A grow that got there supersedes an unfinished shrink: the next shrink starts from a guest
    // that is done, and is judged.
    if (o.result == ResizeResult::Reached) unfinished_.erase(v.id);
    if (o.after > o.before) pgdat_back(step, v.node);
    return;
  }
  shrinking_ = false;
  if (o.result == ResizeResult::Partial && o.after > o.requested)
    unfinished_.insert(v.id);
  else
    unfinished_.erase(v.id);
  if (after_partial_) {
    record(step, {1,
                  "memmap-freed",
                  true,
                  fmt::format("the shrink of {} before this one ended partial: the state before this one would have "
                              "been read while the guest may still have been unplugging, so no page or counter was "
                              "judged",
                              v.id),
                  false,
                  {}});
    return;
  }
  if (o.result == ResizeResult::Partial) {
    // The driver is still at it (it retries what it could not unplug): pages and counters read now
    // would be a moment of a removal under way, judged as if it were over. Not judged, and said so.
    record(step, {1,
                  "memmap-freed",
                  true,
                  fmt::format("the shrink of {} ended partial ({}): the guest may still be unplugging, so no page "
                              "or counter was judged",
                              v.id, o.detail),
                  false,
                  {}});
    return;
  }
  // The listings first: which blocks went decides what the pages are judged against.
  // QEMU's size can reach the request while the guest still offlines or removes a block (seen on
  // 7.3.4: a block "going-offline" after the device said 360M): read again, within the step's
  // time, until no block of the device is between states.
  GuestCounters counters_after = read_counters(artifact::counters_after(step));
  const auto between_states = [&](const GuestCounters& g) {
    for (const auto& [b, st] : g.blocks) {
      const uint64_t at = b * g.block_bytes;
      if (at >= v.addr && at < v.addr + v.size && st != "online" && st != "offline") return true;
    }
    return false;
  };
  // Also until two readings in a row agree: the driver removes a block only after it told the
  // device its last sub-blocks were unplugged, so QEMU's size can be there before the guest is
  // (seen under libvirt: a block still counted in MemTotal after the device said 0).
  const Deadline settle_by = deadline_in(timeouts_.step);
  for (;;) {
    pause_for(timeouts_.poll);
    const GuestCounters again = read_counters(artifact::counters_after(step));
    const bool same = again.blocks == counters_after.blocks && again.memtotal_kb == counters_after.memtotal_kb &&
                      again.zones == counters_after.zones;
    counters_after = again;
    if ((same && !between_states(counters_after)) || seconds_left(settle_by) <= 0) break;
    progress_("  " + v.id + "'s blocks are still changing in the guest: read again");
  }
  save_guest_state(artifact::guest_state_after(step));
  const std::vector<uint64_t> gone = blocks_gone(counters_before_, counters_after, v.addr >> 12, v.size >> 12);
  const uint64_t block_pages = counters_before_.block_bytes >> 12;
  const int64_t unplugged = o.before > o.after ? static_cast<int64_t>((o.before - o.after) >> 12) : 0;
  int64_t offline_gone = 0;  // blocks that were offline: plugged, but never in MemTotal
  for (uint64_t b : gone)
    if (counters_before_.blocks.at(b) != "online") offline_gone += static_cast<int64_t>(block_pages);
  const uint64_t memtotal_pages = static_cast<uint64_t>(std::max<int64_t>(0, unplugged - offline_gone));
  std::string blocks;
  for (uint64_t b : gone) blocks += fmt::format("{}memory{}", blocks.empty() ? "" : ", ", b);
  r.analysis.push_back(fmt::format("{} unplugged {} pages; memory blocks removed: {}", v.id, unplugged,
                                   blocks.empty() ? "none" : blocks));
  std::vector<CaseCheck> checks;
  const bool contiguous = gone.empty() || gone.back() - gone.front() + 1 == gone.size();
  if (!contiguous) {
    // The page model judges one removed range per step.
    progress_("  " + r.analysis.back());
    checks.push_back({1,
                      "memmap-freed",
                      true,
                      fmt::format("the blocks removed ({}) are not one range: the page model judges one range per "
                                  "step; split the shrink into smaller steps",
                                  blocks),
                      false,
                      {}});
  } else if (!gone.empty()) {
    const uint64_t first = gone.front() * block_pages, count = gone.size() * block_pages;
    analysis_ = analyze_removal(before_, first, count);
    add_analysis(r);
    const auto expected = expected_fates(before_, first, count, true);
    const auto after = read_pages_after(step, first, count, &expected);
    const NodeMemTotals mem_after = read_node_memtotals(m_, timeouts_.guest_cmd);
    checks = check_after_removal(analysis_, before_, mem_before_, first, count, after, mem_after, memtotal_pages);
    gone_nodes_.insert(analysis_.node);
    const auto deltas = expected_memtotal_delta(expected, analysis_.node, memtotal_pages);
    for (auto& c : check_counters(counters_before_, counters_after, first, count, analysis_.node, true, deltas))
      checks.push_back(std::move(c));
  } else {
    // The node the guest gave the device's memory, as the kernel says (the section of the highest
    // plugged block: the driver unplugs from the top), not the scenario's node: ACPI numbers the
    // guest's nodes by the proximity domains it finds, so a memory-less node without CPUs shifts them.
    int node = v.node;
    for (const auto& sec : before_.sections)
      if ((sec.nr << before_.section_shift) >= v.addr && (sec.nr << before_.section_shift) < v.addr + v.size &&
          sec.nid >= 0)
        node = sec.nid;
    if (node != v.node) r.analysis.push_back(fmt::format("{}'s memory is on the guest's node {}", v.id, node));
    for (const auto& line : r.analysis) progress_("  " + line);
    const auto after = read_pages_after(step, 0, 0, nullptr);
    const NodeMemTotals mem_after = read_node_memtotals(m_, timeouts_.guest_cmd);
    checks = check_after_shrink_in_place(before_, mem_before_, after, mem_after, node, memtotal_pages);
    const std::map<int, int64_t> deltas{{node, -static_cast<int64_t>(memtotal_pages)}};
    for (auto& c : check_counters(counters_before_, counters_after, 0, 0, node, memtotal_pages > 0, deltas))
      checks.push_back(std::move(c));
  }
  for (auto& c : checks) record(step, c);
}

// Every counter and listing of memory the kernel gives user space (spec/guest_counters.h).
GuestCounters ProbeSession::read_counters(const std::string& name) {
  GuestExecResult g = m_.guest_exec(kGuestCountersCommand, timeouts_.guest_cmd);
  save(name, g.out + g.err);
  if (!g.ok())
    throw InfraError(fmt::format("cannot read the guest's memory counters for {} (exit {}): {}", name, g.exit_code,
                                 one_line(g.err, 200)));
  return parse_guest_counters(g.out);
}

void ProbeSession::record(int step, const CaseCheck& c) {
  CheckRecord rec = raw_check_record(step, c);
  progress_(fmt::format("  check case {} {}: {}{}", c.case_no, c.name,
                        !c.applicable ? "n/a"
                        : c.ok        ? "ok"
                                      : "failed",
                        c.ok && c.applicable ? "" : " - " + c.detail));
  checks_.push_back(std::move(rec));
}

void ProbeSession::save(const std::string& name, const std::string& text) {
  write_file_atomically(dir_ + "/" + name, text);
}

// Node meminfo, zoneinfo, vmstat and memory-block states, for people reading a failure.
void ProbeSession::save_guest_state(const std::string& name) {
  GuestExecResult g = m_.guest_exec(
      "for n in /sys/devices/system/node/node[0-9]*; do echo \"== $n/meminfo\"; cat $n/meminfo; done;"
      "echo '== /proc/zoneinfo'; cat /proc/zoneinfo; echo '== /proc/vmstat'; cat /proc/vmstat;"
      // One grep, not a shell loop with two forks per block: under TCG every fork costs.
      "echo '== memory blocks'; cd /sys/devices/system/memory && grep -H . block_size_bytes memory*/state; grep -H . "
      "memory*/valid_zones 2>/dev/null; true",
      timeouts_.guest_cmd);
  if (!g.ok())
    throw InfraError(fmt::format("cannot read the guest's memory state for {} (exit {}): {}", name, g.exit_code,
                                 g.err.substr(0, 200)));
  save(name, g.out + g.err);
}

}  // namespace rig
