#include "rig/report/html_report_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>

#include "rig/base/safe_read.h"
#include "rig/base/size.h"
#include "rig/scenario/artifact_names.h"
#include "rig/scenario/matrix.h"
#include "rig/spec/case_classifier.h"
#include "rig/spec/memmap_snapshot.h"
#include "rig/spec/free_trace.h"
#include "rig/spec/guest_counters.h"
#include "rig/spec/page_accounting.h"

namespace rig {

const char* cell_state_name(CellState s) {
  switch (s) {
    case CellState::Boot: return "boot";
    case CellState::HotAdded: return "hot-added";
    case CellState::Offline: return "offline";
    case CellState::Removed: return "removed";
    case CellState::Absent: return "absent";
  }
  return "?";
}

int SectionCell::memmap_case() const {
  if (!hosts_memmap_of.empty()) return 3;
  if (selfhosted || memmap_hosts.count(section)) return 2;
  if (!memmap_hosts.empty()) return 1;
  return 0;
}

namespace {

namespace stdfs = std::filesystem;

struct BlockState {
  std::string state, zone;
};

// "memoryN/state:online" and "memoryN/valid_zones:Movable" lines of a guest-state artifact.
std::map<uint64_t, BlockState> parse_blocks(const std::string& text) {
  std::map<uint64_t, BlockState> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("memory", 0) != 0) continue;
    const auto slash = line.find('/');
    const auto colon = line.find(':');
    if (slash == std::string::npos || colon == std::string::npos || colon < slash) continue;
    uint64_t block = 0;
    try {
      size_t used = 0;
      block = std::stoull(line.substr(6, slash - 6), &used);
      if (used != slash - 6) continue;
    } catch (const std::exception&) {
      continue;
    }
    const std::string key = line.substr(slash + 1, colon - slash - 1), value = line.substr(colon + 1);
    if (key == "state")
      out[block].state = value;
    else if (key == "valid_zones")
      out[block].zone = value;
  }
  return out;
}

// Why an artifact could not be parsed, in words that quote nothing of it: the line number when
// the parser named one (an artifact may be a planted link to a secret: its text stays out).
std::string unreadable(const std::string& name, const std::exception& e) {
  const std::string what = e.what(), prefix = "probe output line ";
  std::string line;
  if (what.rfind(prefix, 0) == 0)
    for (size_t i = prefix.size(); i < what.size() && i < prefix.size() + 20 && what[i] >= '0' && what[i] <= '9'; ++i)
      line += what[i];
  return fmt::format("{} could not be read: not probe output this rig knows{}", name,
                     line.empty() ? "" : " (line " + line + ")");
}

std::optional<MemmapSnapshot> parse_snapshot(const RunArtifacts& a, const std::string& name,
                                             std::vector<std::string>& notes) {
  auto it = a.find(name);
  if (it == a.end()) return std::nullopt;
  try {
    return parse_probe_snapshot(it->second);
  } catch (const std::exception& e) {
    notes.push_back(unreadable(name, e));
    return std::nullopt;
  }
}

// What a step took away: a DIMM's range, or the memory blocks a virtio-mem shrink removed.
struct StepRange {
  uint64_t first_pfn = 0, count = 0;  // count 0: nothing departed
  bool removed = false;               // the pages are judged as a removal
  bool judged = false;                // the pages were judged at all
};

// The range a virtio-mem shrink removed: the device's blocks listed in the step's counters
// before and not after (the probe session's rule). Nullopt with a note when the counters are
// missing or the blocks are not one range.
std::optional<StepRange> resize_range(const RunArtifacts& a, const VirtioMem& vm, int step, const std::string& what,
                                      std::vector<std::string>& notes) {
  auto b = a.find(artifact::counters_before(step)), f = a.find(artifact::counters_after(step));
  if (b == a.end() || f == a.end()) return std::nullopt;  // a grow: nothing read, nothing departs
  try {
    const GuestCounters before = parse_guest_counters(b->second), after = parse_guest_counters(f->second);
    const std::vector<uint64_t> gone = blocks_gone(before, after, vm.addr >> 12, vm.size >> 12);
    StepRange r;
    r.judged = true;
    if (gone.empty()) return r;
    if (gone.back() - gone.front() + 1 != gone.size()) {
      notes.push_back(
          fmt::format("{}: the blocks removed are not one range: the departing sections are not marked", what));
      return std::nullopt;
    }
    const uint64_t block_pages = before.block_bytes >> 12;
    r.first_pfn = gone.front() * block_pages;
    r.count = gone.size() * block_pages;
    r.removed = true;
    return r;
  } catch (const std::exception& e) {
    notes.push_back(unreadable(artifact::counters_before(step) + " or " + artifact::counters_after(step), e));
    return std::nullopt;
  }
}

const Dimm* dimm_of_section(const std::vector<Dimm>& dimms, uint64_t section, int shift) {
  const uint64_t addr = section << shift;
  for (const auto& d : dimms)
    if (addr >= d.addr && addr < d.addr + d.size) return &d;
  return nullptr;
}

// Calls f(section, pages) for each part of [pfn, pfn + count) on one section.
template <typename F>
void per_section(const MemmapSnapshot& s, uint64_t pfn, uint64_t count, F f) {
  for (uint64_t p = pfn; p < pfn + count;) {
    const uint64_t sec = s.pfn_section(p);
    const uint64_t n = std::min(pfn + count, (sec + 1) * s.pages_per_section()) - p;
    f(sec, n);
    p += n;
  }
}

// A DIMM the map can draw: what a scenario file allows (at most 1 TiB of 128 MiB sections), not
// whatever a hand-edited results file says.
constexpr uint64_t kMaxDimmSections = 8192;
bool plausible(const Dimm& d, int section_shift) {
  return section_shift > 0 && d.size > 0 && d.addr + d.size > d.addr &&
         ((d.addr + d.size - 1) >> section_shift) - (d.addr >> section_shift) < kMaxDimmSections;
}

// A frame from a snapshot (sections, placements, pages) and, when there is one, the guest's
// memory-block states (zone, online).
MapFrame frame_from_snapshot(const MemmapSnapshot& s, const std::string* guest_state, uint64_t per_block,
                             const std::vector<Dimm>& dimms, const std::string& id, const std::string& title) {
  MapFrame f;
  f.id = id;
  f.title = title;
  const int shift = s.section_shift;
  for (const auto& sec : s.sections) {
    SectionCell c;
    c.section = sec.nr;
    c.node = sec.nid;
    c.state = !sec.online ? CellState::Offline : sec.early ? CellState::Boot : CellState::HotAdded;
    c.first_pfn = sec.nr * s.pages_per_section();
    c.pages = s.pages_per_section();
    if (const Dimm* d = dimm_of_section(dimms, sec.nr, shift)) c.dimm = d->id;
    f.cells[sec.nr] = c;
  }
  for (const auto& [nr, sp] : memmap_placements(s)) {
    auto it = f.cells.find(nr);
    if (it == f.cells.end()) continue;
    it->second.memmap_hosts = sp.memmap_hosts;
    it->second.hosts_memmap_of = sp.dependents;
    it->second.selfhosted = sp.selfhosted;
  }
  for (const auto& run : s.runs)
    per_section(s, run.pfn, run.count, [&](uint64_t sec, uint64_t n) {
      auto it = f.cells.find(sec);
      if (it == f.cells.end()) return;
      for (const auto& role : run.roles) {
        it->second.roles.insert(page_role_name(role.kind));
        if (role.kind == PageRoleKind::Pgdat) it->second.pgdat_of.insert(static_cast<int>(role.owner));
      }
      if (std::any_of(run.roles.begin(), run.roles.end(), [](const PageRole& r) { return is_vmemmap_table(r.kind); }))
        it->second.table_pages += static_cast<int>(n);
    });
  // Each cell looks its block up (not each block its cells: a hostile file may list blocks by the
  // billion, the snapshot's sections are bounded).
  if (guest_state && per_block > 0) {
    const auto blocks = parse_blocks(*guest_state);
    for (auto& [nr, cell] : f.cells) {
      auto b = blocks.find(nr / per_block);
      if (b == blocks.end()) continue;
      const BlockState& st = b->second;
      if (st.state == "offline") {
        cell.state = CellState::Offline;
      } else if (st.state == "online") {
        if (cell.state == CellState::Offline) cell.state = CellState::HotAdded;
        cell.zone = st.zone == "none" ? "mixed" : st.zone;
      }
    }
  }
  return f;
}

std::map<uint64_t, PageState> read_after(const RunArtifacts& a, int step, std::vector<std::string>& notes) {
  std::map<uint64_t, PageState> after;
  auto it = a.find(artifact::query_after(step));
  if (it == a.end()) return after;
  try {
    after = states_by_pfn(parse_probe_query(it->second));
    // The runner read pages that looked lost again; the last read is what it judged.
    for (int again = 1;; ++again) {
      auto r = a.find(artifact::query_reread(step, again));
      if (r == a.end()) break;
      for (const auto& [pfn, st] : states_by_pfn(parse_probe_query(r->second))) after[pfn] = st;
    }
  } catch (const std::exception& e) {
    notes.push_back(unreadable(artifact::query_after(step), e));
    after.clear();
  }
  // The step's free trace, as the runner applied it.
  auto f = a.find(artifact::frees_after(step));
  if (f != a.end() && !after.empty()) {
    try {
      apply_free_trace(parse_free_trace(f->second), after);
    } catch (const std::exception& e) {
      notes.push_back(unreadable(artifact::frees_after(step), e));
    }
  }
  return after;
}

std::string bad_kind(const PageVerdict& v) {
  if (v.outcome == "leaked" || v.outcome == "lost" || v.outcome == "not read") return v.outcome;
  switch (v.expect.fate) {
    case Fate::Gone: return "still online";
    case Fate::Freed: return "gone";
    case Fate::Kept:
    case Fate::Unchanged: return v.seen.online && v.seen.freed() ? "wrongly freed" : "changed";
  }
  return "changed";
}

// After an unplug: the snapshot before, without the pages the step freed or removed and without the
// removed sections. Pages whose fate differs stay, where they are.
MemmapSnapshot snapshot_after(const MemmapSnapshot& before, const std::vector<PageVerdict>& verdicts,
                              uint64_t first_section, uint64_t last_section, bool removed) {
  MemmapSnapshot s = before;
  std::set<uint64_t> dropped;
  for (const auto& v : verdicts)
    if (v.ok() && (v.expect.fate == Fate::Freed || v.expect.fate == Fate::Gone)) dropped.insert(v.expect.pfn);
  std::vector<PageRun> runs;
  for (const auto& run : before.runs)
    for (uint64_t pfn = run.pfn; pfn < run.pfn + run.count; ++pfn)
      if (!dropped.count(pfn)) {
        if (!runs.empty() && runs.back().pfn + runs.back().count == pfn && runs.back().roles == run.roles) {
          ++runs.back().count;
        } else {
          PageRun r = run;
          r.pfn = pfn;
          r.count = 1;
          runs.push_back(std::move(r));
        }
      }
  s.runs = std::move(runs);
  if (removed)
    s.sections.erase(
        std::remove_if(s.sections.begin(), s.sections.end(),
                       [&](const SectionEntry& e) { return e.nr >= first_section && e.nr <= last_section; }),
        s.sections.end());
  return s;
}

int memtotal_node(const std::string& check) {
  const std::string prefix = "memtotal-node-";
  if (check.rfind(prefix, 0) != 0) return -1;
  try {
    return std::stoi(check.substr(prefix.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

// The guest's memory-block size in sections: its block_size_bytes line (recorded since the HTML
// report), else inferred from each snapshot before a step and the guest state read with it (the
// largest answer: after a removal fewer sections are left to tell sizes apart).
uint64_t run_block_sections(const RunArtifacts& a, int section_shift) {
  if (section_shift <= 0) return 0;
  for (const auto& [name, text] : a) {
    if (name.rfind("guest-state-", 0) != 0) continue;
    const auto at = text.find("\nblock_size_bytes:");
    if (at == std::string::npos) continue;
    try {
      const uint64_t bytes = std::stoull(text.substr(at + 18, 20), nullptr, 16);
      if (plausible_block_size(bytes) && bytes >> section_shift) return bytes >> section_shift;
    } catch (const std::exception&) {
    }
  }
  uint64_t best = 0;
  for (const auto& [name, text] : a) {
    const std::string prefix = "snapshot-before-step";
    if (name.rfind(prefix, 0) != 0) continue;
    int step = 0;
    try {
      step = std::stoi(name.substr(prefix.size()));
    } catch (const std::exception&) {
      continue;
    }
    if (name != artifact::snapshot_before(step)) continue;
    auto gs = a.find(artifact::guest_state_before(step));
    if (gs == a.end()) continue;
    try {
      const MemmapSnapshot s = parse_probe_snapshot(text);
      std::set<uint64_t> present;
      for (const auto& e : s.sections) present.insert(e.nr);
      best = std::max(best, infer_block_sections(gs->second, present));
    } catch (const std::exception&) {
    }
  }
  return best;
}

bool check_marks(const std::string& status) { return status == "fail" || status == "xfail"; }

}  // namespace

uint64_t infer_block_sections(const std::string& guest_state, const std::set<uint64_t>& present_sections) {
  const auto blocks = parse_blocks(guest_state);
  // Each block needs a present section of its own: more blocks than sections fit no size.
  if (blocks.empty() || blocks.size() > present_sections.size()) return 0;
  for (uint64_t per = 1; per <= 64; per *= 2) {
    bool fits = true;
    for (const auto& [block, st] : blocks) {
      bool any = false;
      for (uint64_t nr = block * per; nr < (block + 1) * per && !any; ++nr) any = present_sections.count(nr) > 0;
      if (!any) {
        fits = false;
        break;
      }
    }
    if (fits) return per;
  }
  return 0;
}

bool is_safe_relative_link(const std::string& href) {
  if (href.empty() || href[0] == '/') return false;
  for (unsigned char c : href)
    if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
        std::string("._-+~,=@/").find(static_cast<char>(c)) == std::string::npos)
      return false;
  std::istringstream parts(href);
  for (std::string part; std::getline(parts, part, '/');)
    if (part == "..") return false;
  return true;
}

bool plausible_block_size(uint64_t bytes) {
  return bytes >= kMinBlockBytes && bytes <= kMaxBlockBytes && (bytes & (bytes - 1)) == 0;
}

RunArtifacts read_run_artifacts(const std::string& dir, std::vector<std::string>* refused) {
  RunArtifacts out;
  std::error_code ec;
  if (dir.empty() || !stdfs::is_directory(dir, ec)) return out;
  std::optional<DirReader> folder;
  try {
    folder.emplace(dir);
  } catch (const FileReadError&) {
    return out;
  }
  size_t total = 0, files = 0;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!artifact::read_by_report(name)) continue;
    if (++files > kMaxArtifactFiles || total >= kMaxRunArtifactBytes) {
      if (refused)
        refused->push_back(fmt::format(
            "the run folder has more artifacts than the report reads ({} files, {} bytes): the rest are left out",
            kMaxArtifactFiles, kMaxRunArtifactBytes));
      break;
    }
    std::string why;
    auto text = folder->read(name, std::min(kMaxArtifactBytes, kMaxRunArtifactBytes - total), &why);
    if (!text) {
      if (refused) refused->push_back(fmt::format("{} is not read: {}", name, why));
      continue;
    }
    total += text->size();
    out[name] = std::move(*text);
  }
  return out;
}

ScenarioView build_scenario_view(const ScenarioResult& r, const RunArtifacts& a, const std::string& id) {
  ScenarioView v;
  v.id = id;
  v.result = &r;
  auto boot = parse_snapshot(a, artifact::kSnapshotBoot, v.notes);
  if (boot) {
    v.has_map = true;
    v.section_shift = boot->section_shift;
    // The guest's memory blocks are first read before the first unplug; when no step before it
    // plugged, onlined or removed memory, that is still the state at boot.
    const std::string* blocks = nullptr;
    for (const auto& st : r.steps) {
      auto gs = a.find(artifact::guest_state_before(st.index));
      if (st.action == "unplug" && gs != a.end()) blocks = &gs->second;
      if (st.action == "plug" || st.action == "online" || st.action == "unplug") break;
    }
    v.boot = frame_from_snapshot(*boot, blocks, blocks ? run_block_sections(a, boot->section_shift) : 0, r.dimms,
                                 id + "-boot", "at boot");
  } else if (!r.cases.empty() && r.verdict != Verdict::Error && r.verdict != Verdict::Skip) {
    v.notes.push_back("no probe snapshot of the boot (" + artifact::kSnapshotBoot + ") in the run's artifacts");
  }
  if (r.dimms.empty() && r.virtio_mems.empty() && boot)
    v.notes.push_back(
        "the results do not record the DIMMs (written before rig-results/2 had topology): no DIMM brackets");

  uint64_t per_block = 0;
  bool per_block_known = false;
  for (const auto& st : r.steps) {
    StepView sv;
    sv.index = st.index;
    sv.action = st.action;
    sv.target = st.target;
    sv.expected = st.expected;
    sv.outcome = st.outcome;
    sv.detail = st.detail;
    sv.ok = st.ok;
    sv.analysis = st.analysis;
    const std::string what = fmt::format("step {} ({} {})", st.index, st.action, st.target);
    auto before = parse_snapshot(a, artifact::snapshot_before(st.index), v.notes);
    const Dimm* d = nullptr;
    for (const auto& dm : r.dimms)
      if (dm.id == st.target) d = &dm;
    if (d && before && !plausible(*d, before->section_shift)) d = nullptr;
    const VirtioMem* vm = nullptr;
    for (const auto& x : r.virtio_mems)
      if (x.id == st.target && st.action == "resize") vm = &x;
    if (before) {
      v.has_map = true;
      if (!v.section_shift) v.section_shift = before->section_shift;
      if (!per_block_known) {
        per_block = run_block_sections(a, v.section_shift);
        per_block_known = true;
      }
      auto gs_before = a.find(artifact::guest_state_before(st.index));
      auto gs_after = a.find(artifact::guest_state_after(st.index));
      sv.has_frames = true;
      sv.before = frame_from_snapshot(*before, gs_before == a.end() ? nullptr : &gs_before->second, per_block, r.dimms,
                                      fmt::format("{}-s{}-before", id, st.index), "before " + what);
      std::optional<StepRange> range;
      if (d)
        range = StepRange{d->addr >> 12, d->size >> 12, st.outcome == "removed",
                          st.outcome == "removed" || st.outcome == "refused"};
      else if (vm)
        range = resize_range(a, *vm, st.index, what, v.notes);
      if (!range) {
        if (!vm)
          v.notes.push_back(fmt::format(
              "{}: DIMM {} is not in the recorded topology: the departing sections are not marked", what, st.target));
        sv.after = sv.before;
        sv.after.id = fmt::format("{}-s{}-after", id, st.index);
        sv.after.title = "after " + what;
        sv.after.note = "not known which sections departed";
      } else {
        const uint64_t first_pfn = range->first_pfn, count = range->count;
        RemovalAnalysis an;
        an.first_section = 1;  // no section departs
        if (count) an = analyze_removal(*before, first_pfn, count);
        sv.order = an.order;
        for (const auto& sp : an.sections) {
          auto it = sv.before.cells.find(sp.section);
          if (it == sv.before.cells.end()) continue;
          it->second.departing = true;
          it->second.cases = sp.cases;
        }
        const bool removed = range->removed, judged = range->judged;
        auto after = judged ? read_after(a, st.index, v.notes) : std::map<uint64_t, PageState>{};
        std::vector<PageVerdict> verdicts;
        if (!after.empty()) {
          verdicts = judge_pages(expected_fates(*before, first_pfn, count, removed), after, before->types);
          sv.pages_judged = static_cast<int>(verdicts.size());
        }
        const MemmapSnapshot after_snap = snapshot_after(*before, verdicts, an.first_section, an.last_section, removed);
        sv.after = frame_from_snapshot(after_snap, gs_after == a.end() ? nullptr : &gs_after->second, per_block,
                                       r.dimms, fmt::format("{}-s{}-after", id, st.index), "after " + what);
        if (!judged)
          sv.after.note = fmt::format("the {} ended in {}: no page was judged", st.action,
                                      st.outcome.empty() ? "nothing" : st.outcome);
        else if (after.empty())
          sv.after.note = "no probe query after the step: pages not judged";
        if (removed) {
          for (uint64_t nr = an.first_section; nr <= an.last_section; ++nr) {
            auto it = sv.before.cells.find(nr);
            if (it == sv.before.cells.end()) continue;
            SectionCell c = it->second;
            c.state = CellState::Removed;
            c.zone.clear();
            c.memmap_hosts.clear();
            c.hosts_memmap_of.clear();
            c.pgdat_of.clear();
            c.table_pages = 0;
            c.roles.clear();
            c.selfhosted = false;
            sv.after.cells[nr] = c;
          }
          for (auto& [nr, c] : sv.after.cells)
            for (uint64_t gone = an.first_section; gone <= an.last_section; ++gone) c.hosts_memmap_of.erase(gone);
        }
        for (const auto& pv : verdicts) {
          if (pv.ok()) continue;
          BadPage b;
          b.pfn = pv.expect.pfn;
          b.section = before->pfn_section(b.pfn);
          b.kind = bad_kind(pv);
          b.roles = pv.expect.roles_text();
          b.expected = fate_name(pv.expect.fate);
          b.problem = pv.problem;
          sv.bad.push_back(b);
          for (MapFrame* f : {&sv.before, &sv.after}) {
            auto it = f->cells.find(b.section);
            if (it != f->cells.end()) it->second.bad.push_back(b);
          }
        }
      }
    } else if (auto plugged = parse_snapshot(a, artifact::snapshot_after(st.index), v.notes)) {
      auto gs = a.find(artifact::guest_state_after(st.index));
      sv.has_frames = true;
      if (!v.section_shift) v.section_shift = plugged->section_shift;
      if (!per_block_known) {
        per_block = run_block_sections(a, v.section_shift);
        per_block_known = true;
      }
      sv.after = frame_from_snapshot(*plugged, gs == a.end() ? nullptr : &gs->second, per_block, r.dimms,
                                     fmt::format("{}-s{}-after", id, st.index), "after " + what);
    }
    v.steps.push_back(std::move(sv));
  }

  // Columns: every section seen in any frame or inside a DIMM; rows: every node.
  std::set<uint64_t> columns;
  std::map<uint64_t, int> node_of;
  std::set<int> nodes;
  for (const auto& n : r.nodes) nodes.insert(n.id);
  auto collect = [&](const MapFrame& f) {
    for (const auto& [nr, c] : f.cells) {
      columns.insert(nr);
      if (c.node >= 0) {
        node_of.emplace(nr, c.node);
        nodes.insert(c.node);
      }
    }
  };
  collect(v.boot);
  for (const auto& s : v.steps) {
    collect(s.before);
    collect(s.after);
  }
  if (v.has_map && v.section_shift > 0) {
    for (const auto& d : r.dimms) {
      DimmBracket b;
      b.id = d.id;
      b.boot = d.boot;
      b.first_section = d.addr >> v.section_shift;
      b.last_section = (d.addr + d.size - 1) >> v.section_shift;
      // A DIMM the map cannot draw (a size no scenario file allows, from a hand-edited file).
      if (!plausible(d, v.section_shift)) {
        v.notes.push_back(
            fmt::format("DIMM {} ({} bytes at {:#x}) is not drawn: not a plausible DIMM", d.id, d.size, d.addr));
        continue;
      }
      b.node = d.node;
      for (uint64_t nr = b.first_section; nr <= b.last_section; ++nr)
        if (node_of.count(nr)) {
          b.node = node_of[nr];
          break;
        }
      for (uint64_t nr = b.first_section; nr <= b.last_section; ++nr) {
        columns.insert(nr);
        node_of.emplace(nr, b.node);
      }
      nodes.insert(b.node);
      v.dimms.push_back(b);
    }
    // A virtio-mem device over its whole range, on its node's row: the sections it has plugged
    // are cells, the rest absent; what was requested and reached in each resize is its title.
    for (const auto& vm : r.virtio_mems) {
      if (!vm.size || vm.addr + vm.size < vm.addr) continue;
      DimmBracket b;
      b.id = vm.id;
      b.virtio_mem = true;
      b.node = vm.node;
      b.first_section = vm.addr >> v.section_shift;
      b.last_section = (vm.addr + vm.size - 1) >> v.section_shift;
      if (b.last_section - b.first_section > 4096) continue;  // not a device the map can draw
      b.title =
          fmt::format("virtio-mem {} on node {}: {} at {:#x}, blocks of {}; requested {} at start", vm.id, vm.node,
                      format_size(vm.size), vm.addr, format_size(vm.block_size), format_size(vm.requested));
      for (const auto& st : r.steps)
        if (st.action == "resize" && st.target == vm.id)
          b.title += fmt::format("; step {}: {}", st.index, st.detail.empty() ? st.outcome : st.detail);
      for (uint64_t nr = b.first_section; nr <= b.last_section; ++nr) {
        columns.insert(nr);
        node_of.emplace(nr, b.node);
      }
      nodes.insert(b.node);
      v.dimms.push_back(b);
    }
  }
  v.columns.assign(columns.begin(), columns.end());
  v.nodes.assign(nodes.begin(), nodes.end());

  // Every frame gets a cell for every column: sections not there are absent (not plugged yet) or
  // removed (a DIMM an earlier step removed).
  std::set<std::string> gone_so_far;
  auto fill = [&](MapFrame& f, const std::set<std::string>& gone) {
    if (f.id.empty()) return;
    for (uint64_t nr : v.columns) {
      if (f.cells.count(nr)) continue;
      SectionCell c;
      c.section = nr;
      c.node = node_of.count(nr) ? node_of[nr] : -1;
      c.first_pfn = v.section_shift ? nr << (v.section_shift - 12) : 0;
      c.pages = v.section_shift ? 1ull << (v.section_shift - 12) : 0;
      if (v.section_shift)
        if (const Dimm* d = dimm_of_section(r.dimms, nr, v.section_shift)) c.dimm = d->id;
      c.state = !c.dimm.empty() && gone.count(c.dimm) ? CellState::Removed : CellState::Absent;
      f.cells[nr] = c;
    }
  };
  fill(v.boot, gone_so_far);
  for (auto& s : v.steps) {
    fill(s.before, gone_so_far);
    if (s.has_frames && s.outcome == "removed" && s.action == "unplug") gone_so_far.insert(s.target);
    fill(s.after, gone_so_far);
  }

  // Checks, linked to the cells of the frame they judged.
  std::map<int, const StepView*> step_of;
  for (const auto& s : v.steps) step_of[s.index] = &s;
  for (const auto& c : r.checks) {
    CheckLink l;
    l.step = c.step;
    l.case_no = c.case_no;
    l.name = c.name;
    l.status = check_status_name(c.status);
    l.detail = c.detail;
    l.evidence = c.evidence;
    l.node = memtotal_node(c.name);
    MapFrame* frame = nullptr;
    if (c.step < 0)
      frame = v.boot.id.empty() ? nullptr : &v.boot;
    else
      for (auto& s : v.steps)
        if (s.index == c.step && s.has_frames) frame = &s.after;
    if (frame) l.frame = frame->id;
    for (const auto& p : c.pages) {
      l.pfns.push_back(p.pfn);
      if (v.section_shift) l.sections.insert(p.pfn >> (v.section_shift - 12));
    }
    if (frame && check_marks(l.status))
      for (uint64_t nr : l.sections) {
        auto it = frame->cells.find(nr);
        if (it == frame->cells.end()) continue;
        it->second.failed_checks.push_back(l.name);
        it->second.failed_check_rows.push_back(static_cast<int>(v.checks.size()));
      }
    v.checks.push_back(std::move(l));
  }
  return v;
}

ReportView build_report_view(const std::vector<ScenarioResult>& results, const std::vector<RunArtifacts>& artifacts,
                             const RunInfo& info, const std::string& link_base) {
  ReportView rv;
  rv.info = info;
  const std::vector<std::string> kernels = kernels_of(results);
  for (size_t k = 0; k + 1 < kernels.size(); ++k)
    rv.comparisons.push_back(compare_kernels(results, kernels[k], kernels[k + 1]));
  static const RunArtifacts none;
  for (size_t i = 0; i < results.size(); ++i) {
    ScenarioView v =
        build_scenario_view(results[i], i < artifacts.size() ? artifacts[i] : none, fmt::format("run-{}", i + 1));
    v.artifacts_link = results[i].artifacts;
    if (!link_base.empty() && !v.artifacts_link.empty() && stdfs::path(v.artifacts_link).is_absolute()) {
      const stdfs::path rel = stdfs::path(v.artifacts_link).lexically_relative(stdfs::path(link_base));
      if (!rel.empty()) v.artifacts_link = rel.string();
    }
    if (!is_safe_relative_link(v.artifacts_link)) {
      v.artifacts_text = results[i].artifacts;
      v.artifacts_link.clear();
    }
    rv.scenarios.push_back(std::move(v));
  }
  MatrixView& m = rv.matrix;
  m.wall_s = info.wall_s;
  for (const auto& row : matrix_rows(results)) {
    if (std::find(m.scenarios.begin(), m.scenarios.end(), row.scenario) == m.scenarios.end())
      m.scenarios.push_back(row.scenario);
    if (std::find(m.kernels.begin(), m.kernels.end(), row.kernel) == m.kernels.end()) m.kernels.push_back(row.kernel);
    MatrixCell& c = m.cells[{row.scenario, row.kernel}];
    c.verdict = row.verdict;
    c.runs = row.runs;
    c.passed = row.passed;
    if (row.verdict == "flaky") ++m.totals["flaky"];
  }
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    MatrixCell& c = m.cells[{r.scenario, r.kernel}];
    c.seconds += r.duration_s;
    c.anchors.push_back(rv.scenarios[i].id);
    c.artifacts.push_back(rv.scenarios[i].artifacts_link);
    ++m.totals[verdict_name(r.verdict)];
    ++m.runs;
    m.run_seconds += r.duration_s;
  }
  return rv;
}

}  // namespace rig
