#include "rig/workflows/explore.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>
#include <set>
#include <map>
#include <regex>

#include "rig/base/errors.h"
#include "rig/scenario/scenario_file.h"
#include "rig/scenario/scenario_writer.h"
#include "rig/base/size.h"

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
  place_virtio_mems(s);  // above every DIMM
  uint64_t end = w.base;
  for (const auto& d : s.dimms) end = std::max(end, d.addr + d.size);
  for (const auto& v : s.virtio_mems) end = std::max(end, v.addr + v.size);
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

// The steps of a generated scenario: hot-added DIMMs plugged and onlined (mostly movable, some
// in a kernel zone), then every DIMM removed. Mostly those on the larger boundaries first (a
// refusal the scenario did not expect ends its steps, so the rarest layouts go before it can
// happen), sometimes in any order; DIMMs onlined to a kernel zone last (unmovable allocations may
// land there). A hot-added movable DIMM is sometimes added again after its removal and removed
// once more (re-add), and a scenario of hot-added DIMMs only sometimes runs twice (cycles).
// Under movablecore= the top boot DIMM of a node holds that node's memmap, usage maps and pgdat
// (memblock allocates top-down inside the node): its removal is expected to be refused.
std::vector<Step> draw_steps(std::mt19937_64& rng, Scenario& s, const std::string& mode) {
  std::vector<Step> steps;
  std::map<std::string, std::string> zone;
  for (const auto& d : s.dimms)
    if (!d.present) {
      const double z = std::uniform_real_distribution<double>(0, 1)(rng);
      zone[d.id] = z < 0.75 ? "online_movable" : z < 0.9 ? "online_kernel" : "online";
      steps.push_back(Step{StepAction::Plug, d.id, "added", "", -1, 0});
      steps.push_back(Step{StepAction::Online, d.id, "", zone[d.id], -1, 0});
    }
  std::set<std::string> refused;
  if (mode == "movablecore") {
    std::map<int, std::string> top;  // node -> its highest boot DIMM (dimms are sorted by address)
    for (const auto& d : s.dimms)
      if (d.boot) top[d.node] = d.id;
    for (const auto& [node, id] : top) refused.insert(id);
  }
  const bool by_class = chance(rng, 0.7);
  std::vector<std::pair<size_t, std::string>> order;
  for (const auto& d : s.dimms) {
    const bool kernel_zone = zone.count(d.id) && zone[d.id] != "online_movable";
    const size_t rank = (kernel_zone ? 0 : 100) + (by_class ? class_rank(boundary_class_of(d.addr, d.size)) : 0);
    order.emplace_back(rank, d.id);
  }
  std::shuffle(order.begin(), order.end(), rng);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  bool re_added = false;
  for (const auto& [rank, id] : order) {
    steps.push_back(Step{StepAction::Unplug, id, refused.count(id) ? "refused" : "removed", "", -1, 0});
    if (zone.count(id) && zone[id] == "online_movable" && chance(rng, 0.25)) {
      re_added = true;
      steps.push_back(Step{StepAction::Plug, id, "added", "", -1, 0});
      steps.push_back(Step{StepAction::Online, id, "", "online_movable", -1, 0});
      steps.push_back(Step{StepAction::Unplug, id, "removed", "", -1, 0});
    }
  }
  bool any_boot = false;
  for (const auto& d : s.dimms) any_boot |= d.boot;
  s.cycles = !any_boot && !re_added && refused.empty() && chance(rng, 0.15) ? 2 : 1;
  return steps;
}

std::string role_kind(const std::string& roles) {
  // "pmd:512,pmd:513" -> "pmd"; "memmap:32" -> "memmap"
  const auto colon = roles.find(':');
  return colon == std::string::npos ? roles : roles.substr(0, colon);
}

}  // namespace

const std::vector<BoundaryClass>& boundary_classes() {
  static const std::vector<BoundaryClass> c = {{"section", kSection, 64},
                                               {"direct-map-pmd-table", GiB, 64},
                                               {"vmemmap-pmd-table", 64 * GiB, 64},
                                               {"vmemmap-pmd-table-56b", 0, 56},
                                               {"direct-map-pud-table", 512 * GiB, 64}};
  return c;
}

namespace {
// The k-th boundary (k >= 1) of a 56-byte struct page's vmemmap PMD tables: the first section
// whose memmap lies wholly in table k (pfn * 56 >= k * 2^30, so addr >= k * 2^39 / 7).
uint64_t boundary_56(uint64_t k) { return round_up((k * (uint64_t{1} << 39) + 6) / 7, kSection); }
}  // namespace

uint64_t boundary_at_or_above(const BoundaryClass& c, uint64_t addr) {
  if (c.struct_page == 64) return round_up(addr, c.align);
  if (addr == 0) return 0;
  uint64_t k = 1;
  while (boundary_56(k) < addr) ++k;
  return boundary_56(k);
}

uint64_t boundary_below(const BoundaryClass& c, uint64_t addr) {
  if (addr == 0) return 0;
  if (c.struct_page == 64) return (addr - 1) / c.align * c.align;
  uint64_t below = 0;
  for (uint64_t k = 1; boundary_56(k) < addr; ++k) below = boundary_56(k);
  return below;
}

std::string boundary_class_of(uint64_t addr, uint64_t size) {
  const auto& classes = boundary_classes();
  const uint64_t end = addr + size;
  for (auto it = classes.rbegin(); it != classes.rend(); ++it) {
    if (boundary_at_or_above(*it, addr) == addr || boundary_at_or_above(*it, end) == end) return it->name;
    // Straddling by one section on either side.
    const uint64_t next = boundary_at_or_above(*it, addr);
    if (next > addr && next < end && (next - addr == kSection || end - next == kSection)) return it->name;
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
  const std::vector<int> class_weight = {3, 3, 4, 1, 2};
  std::discrete_distribution<size_t> class_dist(class_weight.begin(), class_weight.end());
  for (int attempt = 0;; ++attempt) {
    Draw d;
    Scenario& s = d.scenario;
    s.name = fmt::format("explore-{}-{}", seed, index);
    s.description = fmt::format("generated by rig explore, seed {} draw {}", seed, index);
    s.cases = {1, 2, 3, 5};
    s.machine.type = "pc";
    // cpu max offers LA57: the kernel runs 5-level paging and frees page tables one level deeper.
    const bool five_level = chance(rng, 0.15);
    s.machine.cpu = five_level ? "max" : "qemu64";
    s.machine.smp = 2;
    // How boot memory becomes removable: movable_node (every hot-pluggable node movable, boot
    // allocations kept off it), movablecore= (ZONE_MOVABLE sized by hand; node data still lands
    // on the node), or neither (only hot-added memory is removed).
    const double layout = std::uniform_real_distribution<double>(0, 1)(rng);
    const std::string mode = layout < 0.7 ? "movable_node" : layout < 0.85 ? "movablecore" : "hot-only";
    if (mode == "movable_node") s.machine.kernel_args.push_back("movable_node");
    const bool memmap_on_memory = chance(rng, 0.2);
    if (memmap_on_memory) s.machine.kernel_args.push_back("memory_hotplug.memmap_on_memory=1");
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
      // Boot DIMMs only where the layout can make them removable: a node other than 0 and, under
      // movable_node, a memory-less one. (A boot DIMM on a node with RAM of its own is not marked
      // hot-pluggable: it lands in ZONE_NORMAL with the node's pgdat and slab on it, and its
      // eject is refused - seen in 30 % of such draws, docs/explore.md.)
      std::vector<int> boot_nodes;
      for (const auto& n : s.nodes)
        if (n.id > 0 && (mode == "movablecore" || n.memory == 0)) boot_nodes.push_back(n.id);
      dimm.boot = !boot_nodes.empty() && mode != "hot-only" && chance(rng, 0.6);
      dimm.present = dimm.boot;
      dimm.node = dimm.boot ? pick(rng, boot_nodes) : static_cast<int>(rng() % n_nodes);
      dimm.size = pick(rng, std::vector<uint64_t>{kSection, 2 * kSection, 2 * kSection, 4 * kSection, GiB});
      // memmap_on_memory is honoured for a DIMM of one memory block on 6.1: mostly draw those.
      if (memmap_on_memory && !dimm.boot && chance(rng, 0.7)) dimm.size = kSection;
      const BoundaryClass& c = classes[class_dist(rng)];
      // A boundary of that class in the device-memory window, then on it, ending at it, or
      // straddling it by a section.
      // 64 GiB and 128 GiB (73.25 and 146.4 GiB for a 56-byte struct page); 512 GiB only (1 TiB
      // is beyond qemu64's 40 physical address bits).
      const uint64_t k = c.align == 64 * GiB || c.struct_page != 64 ? (chance(rng, 0.7) ? 0 : 1)
                         : c.align > 64 * GiB                       ? 0
                                                                    : rng() % 24;
      uint64_t boundary = boundary_at_or_above(c, base);
      for (uint64_t j = 0; j < k; ++j) boundary = boundary_at_or_above(c, boundary + 1);
      // On it half the time: the memory past a boundary is what gets a table page of its own.
      const int where = chance(rng, 0.5) ? 0 : chance(rng, 0.5) ? 1 : 2;
      if (where == 0 || boundary - base < dimm.size)
        dimm.addr = boundary;
      else if (where == 1)
        dimm.addr = boundary - dimm.size;
      else
        dimm.addr = dimm.size > kSection ? boundary - kSection : boundary;
      bool overlaps = false;
      for (const auto& o : s.dimms) overlaps |= dimm.addr < o.addr + o.size && o.addr < dimm.addr + dimm.size;
      if (overlaps) continue;
      d.dimm_class[dimm.id] = boundary_class_of(dimm.addr, dimm.size);
      s.dimms.push_back(dimm);
    }
    if (s.dimms.empty()) continue;
    std::sort(s.dimms.begin(), s.dimms.end(), [](const Dimm& a, const Dimm& b) { return a.addr < b.addr; });
    uint64_t boot_dimms = 0;
    for (const auto& dm : s.dimms) boot_dimms += dm.boot ? dm.size : 0;
    if (mode == "movablecore") {
      if (!boot_dimms) continue;  // movablecore= only changes boot memory
      s.machine.kernel_args.push_back(fmt::format("movablecore={}M", boot_dimms / MiB));
    }
    fit_machine(s);
    s.steps = draw_steps(rng, s, mode);
    if (!valid_scenario(s)) {
      if (attempt > 10000)
        throw InfraError(fmt::format("explore: no valid scenario in 10000 draws (seed {}, draw {})", seed, index));
      continue;
    }
    // A virtio-mem device beside the DIMMs in a fifth of the draws that hot-plug no DIMM: grown
    // and shrunk back (sub-block sizes too), judged as its blocks go. The driver onlines what it
    // adds by the kernel's policy, so such a draw onlines hot-added memory movable; a draw with
    // DIMM plugs keeps its own online steps and gets none.
    const bool plugs_dimms =
        std::any_of(s.steps.begin(), s.steps.end(), [](const Step& st) { return st.action == StepAction::Plug; });
    if (!plugs_dimms && chance(rng, 0.2)) {
      Scenario with = s;
      VirtioMem v;
      v.id = "vm0";
      v.node = pick(rng, s.nodes).id;
      v.size = pick(rng, std::vector<uint64_t>{256 * MiB, 512 * MiB, GiB});
      with.virtio_mems.push_back(v);
      with.machine.kernel_args.push_back("memhp_default_state=online_movable");
      // Grow to whole memory blocks or sub-blocks, maybe shrink part of the way, then to nothing.
      const uint64_t grow = chance(rng, 0.7) ? v.size : (1 + rng() % (v.size / (2 * MiB))) * 2 * MiB;
      std::vector<uint64_t> sizes = {grow};
      if (grow > 4 * MiB && chance(rng, 0.5)) sizes.push_back((rng() % (grow / (2 * MiB))) * 2 * MiB);
      sizes.push_back(0);
      for (uint64_t size : sizes) {
        Step st;
        st.action = StepAction::Resize;
        st.device = v.id;
        st.size = size;
        st.expect = "reached";
        st.timeout_s = 300;
        with.steps.push_back(st);
      }
      fit_machine(with);
      if (valid_scenario(with)) {
        s = std::move(with);
        d.features.push_back(grow % kSection ? "virtio-mem sub-block" : "virtio-mem");
      }
    }
    // What this draw exercises beyond its boundaries, for the coverage table.
    d.features.push_back(mode);
    if (five_level) d.features.push_back("5-level");
    if (memmap_on_memory) d.features.push_back("memmap_on_memory");
    if (s.cycles > 1) d.features.push_back("cycles");
    std::set<std::string> plugs;
    for (const auto& st : s.steps) {
      if (st.action == StepAction::Online) d.features.push_back("zone " + st.zone);
      if (st.action == StepAction::Plug && !plugs.insert(st.dimm).second) d.features.push_back("re-add");
      if (st.action == StepAction::Unplug && st.expect == "refused") d.features.push_back("refusal");
    }
    std::sort(d.features.begin(), d.features.end());
    d.features.erase(std::unique(d.features.begin(), d.features.end()), d.features.end());
    return d;
  }
}

std::vector<Finding> findings_of(const ScenarioResult& r, const Scenario& s,
                                 const std::vector<RegisteredFinding>& reg) {
  std::vector<Finding> out;
  auto boundary_of_step = [&](int step) -> std::string {
    if (step < 0 || step >= static_cast<int>(r.steps.size())) return "boot";
    const Dimm* d = s.find_dimm(r.steps[step].target);
    return d ? boundary_class_of(d->addr, d->size) : "none";
  };
  std::set<std::string> seen;  // one per signature
  for (const Failure& failure : failures_of(r)) {
    Finding f;
    f.signature = failure.signature;
    f.headline = failure.headline;
    f.check = failure.check;
    f.boundary =
        failure.kind == Failure::Report || failure.kind == Failure::Verdict ? "-" : boundary_of_step(failure.step);
    switch (failure.kind) {
      case Failure::Check: {
        const CheckRecord& c = r.checks[static_cast<size_t>(failure.check_index)];
        f.kind = "check";
        f.case_no = c.case_no;
        f.role = c.pages.empty() ? "-" : role_kind(c.pages[0].roles);
        f.xfail = failure.xfail;
        break;
      }
      case Failure::Step: {
        const auto st =
            std::find_if(r.steps.begin(), r.steps.end(), [&](const StepResult& x) { return x.index == failure.step; });
        if (st == r.steps.end() || st->action == "plug" || st->action == "online" ||
            (st->action == "unplug" && st->outcome == "refused"))
          continue;
        f.kind = "step";
        f.check = st->action;
        break;
      }
      case Failure::Report: f.kind = "report"; break;
      case Failure::Verdict: f.kind = "verdict"; break;
    }
    const RegisteredFinding* known = registered_finding(reg, r.scenario, r.kernel, failure);
    f.finding_id = known ? known->id : "new";
    f.known = known != nullptr;
    if (seen.insert(f.signature).second) out.push_back(std::move(f));
  }
  return out;
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
      c.dimms.erase(std::remove_if(c.dimms.begin(), c.dimms.end(), [&](const Dimm& x) { return x.id == d.id; }),
                    c.dimms.end());
      c.steps.erase(std::remove_if(c.steps.begin(), c.steps.end(), [&](const Step& x) { return x.dimm == d.id; }),
                    c.steps.end());
      add(c);
    }
  // A virtio-mem device and its resizes.
  for (const auto& v : s.virtio_mems) {
    Scenario c = s;
    c.virtio_mems.erase(
        std::remove_if(c.virtio_mems.begin(), c.virtio_mems.end(), [&](const VirtioMem& x) { return x.id == v.id; }),
        c.virtio_mems.end());
    c.steps.erase(std::remove_if(c.steps.begin(), c.steps.end(), [&](const Step& x) { return x.device == v.id; }),
                  c.steps.end());
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
    if (i == 0 && c.nodes[i].memory > 512 * MiB)
      c.nodes[i].memory /= 2;
    else if (i > 0)
      c.nodes[i].memory = 0;
    else
      continue;
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
      const uint64_t cur = s.dimms[i].addr, end = cur + s.dimms[i].size;
      uint64_t to = boundary_below(*it, cur);
      // Keep its placement relative to the boundary (on it, or ending at it).
      if (boundary_at_or_above(*it, cur) != cur && boundary_at_or_above(*it, end) == end) {
        const uint64_t below = boundary_below(*it, end);
        to = below >= s.dimms[i].size ? below - s.dimms[i].size : 0;
      }
      if (to < base || to >= cur) continue;
      Scenario c = s;
      c.dimms[i].addr = to;
      add(c);
    }
  // One cycle; 4-level paging; an online to a kernel zone made movable.
  if (s.cycles > 1) {
    Scenario c = s;
    c.cycles = 1;
    add(c);
  }
  if (s.machine.cpu != "qemu64") {
    Scenario c = s;
    c.machine.cpu = "qemu64";
    add(c);
  }
  for (size_t i = 0; i < s.steps.size(); ++i)
    if (s.steps[i].action == StepAction::Online && s.steps[i].zone != "online_movable") {
      Scenario c = s;
      c.steps[i].zone = "online_movable";
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
  for (const auto& f : d.features) ++features[f];
  cases.insert(r.cases_covered.begin(), r.cases_covered.end());
  for (const auto& c : r.checks) {
    if (c.status == CheckStatus::NotApplicable) continue;
    for (const char* role : {"memmap", "page-tables", "usage", "pgdat"})
      if (c.name.find(role) != std::string::npos) ++roles[role];
  }
}

std::string coverage_table(const Coverage& c, size_t findings) {
  std::string out = fmt::format("coverage: {} runs ({} errors), {} distinct findings, {:.1f} s per run\n", c.runs,
                                c.errors, findings, c.runs ? c.run_seconds / c.runs : 0.0);
  out += "  boundary classes (removals that ran):";
  for (const auto& b : boundary_classes()) {
    auto it = c.boundaries.find(b.name);
    out += fmt::format(" {} {}", b.name, it == c.boundaries.end() ? 0 : it->second);
  }
  out += "\n  drawn:";
  if (c.features.empty()) out += " -";
  for (const auto& [f, n] : c.features) out += fmt::format(" {} {},", f, n);
  if (!c.features.empty()) out.pop_back();
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
