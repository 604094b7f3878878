#include "rig/explore.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>
#include <regex>

#include "rig/errors.h"
#include "rig/qemu_args.h"
#include "rig/scenario_file.h"
#include "rig/scenario_writer.h"
#include "rig/size.h"

namespace rig {

namespace {

constexpr uint64_t kSection = 128 * MiB;

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Boot RAM end as the kernel sees it: node RAM below 4 GiB (these draws stay below the PCI
// hole) and every boot DIMM made usable with memmap=.
uint64_t boot_end(const Scenario& s) {
  uint64_t end = s.boot_ram();
  for (const auto& d : s.dimms)
    if (d.boot) end = std::max(end, d.addr + d.size);
  return end;
}

// maxmem and slots as small as the DIMMs allow.
void fit_machine(Scenario& s) {
  const uint64_t ram = s.boot_ram();
  const DeviceMemoryWindow w = device_memory_window(s.machine, ram);
  uint64_t end = w.base;
  for (const auto& d : s.dimms) end = std::max(end, d.addr + d.size);
  s.machine.maxmem = ram + round_up(end - w.base, GiB);
  s.machine.slots = std::max<int>(1, static_cast<int>(s.dimms.size()));
}

// Every DIMM a whole number of memory blocks, as the guest will size them.
bool blocks_fit(const Scenario& s) {
  const uint64_t bs = x86_memory_block_size(boot_end(s));
  for (const auto& d : s.dimms)
    if (d.addr % bs || d.size % bs) return false;
  return true;
}

template <class T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

bool chance(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

size_t class_rank(const std::string& name) {
  const auto& c = boundary_classes();
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].name == name) return i;
  return 0;
}

// The steps of a generated scenario: hot-added DIMMs plugged and onlined movable first, then
// every DIMM removed, those on the larger boundaries first (a refusal ends a scenario's steps, so
// the rarest layouts go before it can happen), in a random order within a class. Each removal is
// one the spec expects to succeed unless the memory holds what cannot move (then the refusal is
// judged by the checks): boot DIMMs sit on nodes that movable_node makes movable, hot-added ones
// are onlined movable.
std::vector<Step> draw_steps(std::mt19937_64& rng, const std::vector<Dimm>& dimms) {
  std::vector<Step> steps;
  for (const auto& d : dimms)
    if (!d.present) {
      steps.push_back(Step{StepAction::Plug, d.id, "added", "", -1, 0});
      steps.push_back(Step{StepAction::Online, d.id, "", "online_movable", -1, 0});
    }
  std::vector<std::pair<size_t, std::string>> order;
  for (const auto& d : dimms) order.emplace_back(class_rank(boundary_class_of(d.addr, d.size)), d.id);
  std::shuffle(order.begin(), order.end(), rng);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [rank, id] : order) steps.push_back(Step{StepAction::Unplug, id, "removed", "", -1, 0});
  return steps;
}

std::string role_kind(const std::string& roles) {
  // "pmd:512,pmd:513" -> "pmd"; "memmap:32" -> "memmap"
  const auto colon = roles.find(':');
  return colon == std::string::npos ? roles : roles.substr(0, colon);
}

// A kernel report's headline without what changes from run to run (addresses, numbers, PIDs).
std::string report_shape(const std::string& headline) {
  static const std::regex hex("0x[0-9a-fA-F]+|[0-9a-fA-F]{8,}"), num("[0-9]+");
  return std::regex_replace(std::regex_replace(headline, hex, "X"), num, "N");
}

}  // namespace

const std::vector<BoundaryClass>& boundary_classes() {
  static const std::vector<BoundaryClass> c = {
      {"section", kSection}, {"direct-map-pmd-table", GiB}, {"vmemmap-pmd-table", 64 * GiB}, {"direct-map-pud-table", 512 * GiB}};
  return c;
}

std::string boundary_class_of(uint64_t addr, uint64_t size) {
  const auto& classes = boundary_classes();
  for (auto it = classes.rbegin(); it != classes.rend(); ++it) {
    const uint64_t a = it->align;
    if (addr % a == 0 || (addr + size) % a == 0) return it->name;
    // Straddling by one section on either side.
    const uint64_t next = round_up(addr, a);
    if (next > addr && next < addr + size && (next - addr == kSection || addr + size - next == kSection)) return it->name;
  }
  return "section";
}

uint64_t x86_memory_block_size(uint64_t end) {
  if (end < 64 * GiB) return kSection;
  for (uint64_t bz = 2 * GiB; bz > kSection; bz >>= 1)
    if (end % bz == 0) return bz;
  return kSection;
}

bool valid_scenario(const Scenario& s) {
  try {
    Scenario back = parse_scenario(scenario_toml(s), s.name + ".toml");
    return blocks_fit(back);
  } catch (const UsageError&) {
    return false;
  }
}

Draw draw_scenario(uint64_t seed, uint64_t index) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + index);
  const auto& classes = boundary_classes();
  // Weights: the larger boundaries are where hand-written scenarios are thin.
  const std::vector<int> class_weight = {3, 3, 4, 2};
  std::discrete_distribution<size_t> class_dist(class_weight.begin(), class_weight.end());
  for (int attempt = 0;; ++attempt) {
    Draw d;
    Scenario& s = d.scenario;
    s.name = fmt::format("explore-{}-{}", seed, index);
    s.description = fmt::format("generated by rig explore, seed {} draw {}", seed, index);
    s.cases = {1, 2, 3, 5};
    s.machine.type = "pc";
    s.machine.cpu = "qemu64";
    s.machine.smp = 2;
    const bool movable_node = chance(rng, 0.85);
    if (movable_node) s.machine.kernel_args.push_back("movable_node");
    const int n_nodes = 1 + static_cast<int>(rng() % 3);
    for (int n = 0; n < n_nodes; ++n) {
      NumaNode node;
      node.id = n;
      if (n == 0) {
        node.cpus = "0-1";
        node.memory = pick(rng, std::vector<uint64_t>{512 * MiB, GiB, GiB, 2 * GiB});
      } else if (chance(rng, 0.3)) {
        node.memory = 512 * MiB;
      }
      s.nodes.push_back(node);
    }
    const uint64_t ram = s.boot_ram();
    const uint64_t base = device_memory_window(s.machine, ram).base;
    const int n_dimms = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n_dimms; ++i) {
      Dimm dimm;
      dimm.id = fmt::format("d{}", i);
      // Boot DIMMs only where movable_node makes them removable: a node other than 0.
      dimm.boot = n_nodes > 1 && movable_node && chance(rng, 0.6);
      dimm.present = dimm.boot;
      dimm.node = dimm.boot ? 1 + static_cast<int>(rng() % (n_nodes - 1)) : static_cast<int>(rng() % n_nodes);
      dimm.size = pick(rng, std::vector<uint64_t>{kSection, 2 * kSection, 2 * kSection, 4 * kSection, GiB});
      const BoundaryClass& c = classes[class_dist(rng)];
      // A boundary of that class in the device-memory window, then on it, ending at it, or
      // straddling it by a section.
      const uint64_t first = round_up(base, c.align);
      // 64 GiB and 128 GiB; 512 GiB only (1 TiB is beyond qemu64's 40 physical address bits).
      const uint64_t k = c.align == 64 * GiB ? (chance(rng, 0.7) ? 0 : 1) : c.align > 64 * GiB ? 0 : rng() % 24;
      const uint64_t boundary = first + k * c.align;
      // On it half the time: the memory past a boundary is what gets a table page of its own.
      const int where = chance(rng, 0.5) ? 0 : chance(rng, 0.5) ? 1 : 2;
      if (where == 0 || boundary - base < dimm.size) dimm.addr = boundary;
      else if (where == 1) dimm.addr = boundary - dimm.size;
      else dimm.addr = dimm.size > kSection ? boundary - kSection : boundary;
      bool overlaps = false;
      for (const auto& o : s.dimms) overlaps |= dimm.addr < o.addr + o.size && o.addr < dimm.addr + dimm.size;
      if (overlaps) continue;
      d.dimm_class[dimm.id] = boundary_class_of(dimm.addr, dimm.size);
      s.dimms.push_back(dimm);
    }
    if (s.dimms.empty()) continue;
    std::sort(s.dimms.begin(), s.dimms.end(), [](const Dimm& a, const Dimm& b) { return a.addr < b.addr; });
    fit_machine(s);
    s.steps = draw_steps(rng, s.dimms);
    if (valid_scenario(s)) return d;
    if (attempt > 10000) throw InfraError(fmt::format("explore: no valid scenario in 10000 draws (seed {}, draw {})", seed, index));
  }
}

std::vector<Finding> findings_of(const ScenarioResult& r, const Scenario& s) {
  std::vector<Finding> out;
  auto boundary_of_step = [&](int step) -> std::string {
    if (step < 0 || step >= static_cast<int>(r.steps.size())) return "boot";
    const Dimm* d = s.find_dimm(r.steps[step].target);
    return d ? boundary_class_of(d->addr, d->size) : "none";
  };
  for (const auto& c : r.checks) {
    if (c.status != CheckStatus::Fail && c.status != CheckStatus::XFail) continue;
    Finding f;
    f.kind = "check";
    f.case_no = c.case_no;
    f.check = c.name;
    f.role = c.pages.empty() ? "-" : role_kind(c.pages[0].roles);
    f.boundary = boundary_of_step(c.step);
    f.known = c.status == CheckStatus::XFail;
    f.signature = fmt::format("case {} {} {} @{}", f.case_no, f.check, f.role, f.boundary);
    f.headline = fmt::format("case {} {}: {}", f.case_no, f.check, c.detail.substr(0, 300));
    out.push_back(f);
  }
  for (const auto& cf : r.console_findings) {
    if (cf.severity == Severity::Notice) continue;
    Finding f;
    f.kind = "report";
    f.check = cf.kind;
    f.boundary = "-";
    f.signature = fmt::format("report {}: {}", cf.kind, report_shape(cf.headline));
    f.headline = cf.headline;
    out.push_back(f);
  }
  for (const auto& st : r.steps) {
    if (st.ok || st.action == "plug" || st.action == "online") continue;
    // A refusal is the spec's answer for memory that holds what cannot move (a node's pgdat or
    // memmap on its only memory, case 5): the checks after a refusal judge it, the step does not.
    if (st.action == "unplug" && st.outcome == "refused") continue;
    Finding f;
    f.kind = "step";
    f.check = st.action;
    f.boundary = boundary_of_step(st.index);
    f.signature = fmt::format("step {} expected {} got {} @{}", st.action, st.expected, st.outcome, f.boundary);
    f.headline = fmt::format("{} {}: expected {}, got {}: {}", st.action, st.target, st.expected, st.outcome, st.detail.substr(0, 200));
    out.push_back(f);
  }
  // One per signature.
  std::vector<Finding> unique;
  std::set<std::string> seen;
  for (auto& f : out)
    if (seen.insert(f.signature).second) unique.push_back(std::move(f));
  return unique;
}

std::vector<Scenario> shrink_candidates(const Scenario& s) {
  std::vector<Scenario> out;
  auto add = [&](Scenario c) {
    fit_machine(c);
    if (valid_scenario(c)) out.push_back(std::move(c));
  };
  // A DIMM and every step on it.
  if (s.dimms.size() > 1)
    for (const auto& d : s.dimms) {
      Scenario c = s;
      c.dimms.erase(std::remove_if(c.dimms.begin(), c.dimms.end(), [&](const Dimm& x) { return x.id == d.id; }), c.dimms.end());
      c.steps.erase(std::remove_if(c.steps.begin(), c.steps.end(), [&](const Step& x) { return x.dimm == d.id; }), c.steps.end());
      add(c);
    }
  // A step.
  for (size_t i = 0; s.steps.size() > 1 && i < s.steps.size(); ++i) {
    Scenario c = s;
    c.steps.erase(c.steps.begin() + static_cast<long>(i));
    add(c);
  }
  // A kernel argument.
  for (size_t i = 0; i < s.machine.kernel_args.size(); ++i) {
    Scenario c = s;
    c.machine.kernel_args.erase(c.machine.kernel_args.begin() + static_cast<long>(i));
    add(c);
  }
  // The last node, when nothing lives on it.
  if (s.nodes.size() > 1) {
    const int last = s.nodes.back().id;
    bool used = !s.nodes.back().cpus.empty();
    for (const auto& d : s.dimms) used |= d.node == last;
    for (const auto& st : s.steps) used |= st.node == last;
    if (!used) {
      Scenario c = s;
      c.nodes.pop_back();
      add(c);
    }
  }
  // A node's RAM: gone (memory-less) for others, halved for node 0 down to 512 MiB.
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    if (!s.nodes[i].memory) continue;
    Scenario c = s;
    if (i == 0 && c.nodes[i].memory > 512 * MiB) c.nodes[i].memory /= 2;
    else if (i > 0) c.nodes[i].memory = 0;
    else continue;
    add(c);
  }
  // A DIMM halved, keeping its start, then keeping its end.
  for (size_t i = 0; i < s.dimms.size(); ++i) {
    if (s.dimms[i].size <= kSection) continue;
    Scenario c = s;
    c.dimms[i].size /= 2;
    add(c);
    Scenario e = s;
    e.dimms[i].size /= 2;
    e.dimms[i].addr += e.dimms[i].size;
    add(e);
  }
  // A DIMM moved down: to the boundary below of each class (the biggest move first).
  const uint64_t base = device_memory_window(s.machine, s.boot_ram()).base;
  const auto& classes = boundary_classes();
  for (size_t i = 0; i < s.dimms.size(); ++i)
    for (auto it = classes.rbegin(); it != classes.rend(); ++it) {
      const uint64_t a = it->align;
      const uint64_t cur = s.dimms[i].addr;
      if (cur < a) continue;
      uint64_t to = (cur % a == 0 ? cur - a : cur / a * a);
      // Keep its placement relative to the boundary (on it, or ending at it).
      const uint64_t off = cur % a;
      if (off && (cur + s.dimms[i].size) % a == 0) to = cur - a;
      if (to < base || to == cur) continue;
      Scenario c = s;
      c.dimms[i].addr = to;
      add(c);
    }
  return out;
}

Minimized minimize(const Scenario& s, const std::function<bool(const Scenario&)>& still_fails, int max_tries) {
  Minimized m{s, 0, 0};
  bool progress = true;
  while (progress && m.tries < max_tries) {
    progress = false;
    for (const auto& c : shrink_candidates(m.scenario)) {
      if (m.tries >= max_tries) break;
      ++m.tries;
      if (still_fails(c)) {
        m.scenario = c;
        ++m.steps_taken;
        progress = true;
        break;
      }
    }
  }
  return m;
}

std::optional<double> parse_duration(const std::string& text) {
  static const std::regex re("^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s?)?$");
  std::smatch m;
  if (text.empty() || !std::regex_match(text, m, re)) return std::nullopt;
  double s = 0;
  if (m[1].matched) s += 3600.0 * std::stod(m[1]);
  if (m[2].matched) s += 60.0 * std::stod(m[2]);
  if (m[3].matched) s += std::stod(m[3]);
  if (!m[1].matched && !m[2].matched && !m[3].matched) return std::nullopt;
  if (s <= 0 || s > 7 * 24 * 3600.0) return std::nullopt;
  return s;
}

void Coverage::add(const ScenarioResult& r, const Draw& d) {
  ++runs;
  run_seconds += r.duration_s;
  if (r.verdict == Verdict::Error) ++errors;
  for (const auto& st : r.steps)
    if (st.action == "unplug" && (st.outcome == "removed" || st.outcome == "refused")) {
      auto it = d.dimm_class.find(st.target);
      ++boundaries[it == d.dimm_class.end() ? "?" : it->second];
    }
  cases.insert(r.cases_covered.begin(), r.cases_covered.end());
  for (const auto& c : r.checks) {
    if (c.status == CheckStatus::NotApplicable) continue;
    for (const char* role : {"memmap", "page-tables", "usage", "pgdat"})
      if (c.name.find(role) != std::string::npos) ++roles[role];
  }
}

std::string coverage_table(const Coverage& c, size_t findings) {
  std::string out = fmt::format("coverage: {} runs ({} errors), {} distinct findings, {:.1f} s per run\n", c.runs, c.errors, findings,
                                c.runs ? c.run_seconds / c.runs : 0.0);
  out += "  boundary classes (removals that ran):";
  for (const auto& b : boundary_classes()) {
    auto it = c.boundaries.find(b.name);
    out += fmt::format(" {} {}", b.name, it == c.boundaries.end() ? 0 : it->second);
  }
  out += "\n  spec cases covered:";
  if (c.cases.empty()) out += " none";
  for (int k : c.cases) out += fmt::format(" {}", k);
  out += "\n  page roles judged:";
  for (const char* role : {"memmap", "page-tables", "usage", "pgdat"}) {
    auto it = c.roles.find(role);
    out += fmt::format(" {} {}", role, it == c.roles.end() ? 0 : it->second);
  }
  return out + "\n";
}

}  // namespace rig
