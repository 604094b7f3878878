#include "rig/spec/guest_counters.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "rig/base/text.h"

namespace rig {

const char* const kGuestCountersCommand =
    "echo '== meminfo'; grep '^MemTotal:' /proc/meminfo;"
    "echo '== states'; cd /sys/devices/system/node && for f in possible online has_memory has_normal_memory "
    "has_cpu; do [ -r $f ] && echo \"$f $(cat $f)\"; done;"
    "echo '== zoneinfo'; grep -E '^Node|^ +(spanned|present|managed|start_pfn:) ' /proc/zoneinfo;"
    "echo \"== blocks $(cat /sys/devices/system/memory/block_size_bytes)\"; cd /sys/devices/system/memory && "
    "grep -H . memory*/state;"
    "if [ -d /sys/firmware/memmap ]; then echo '== firmware'; grep -H . /sys/firmware/memmap/*/start "
    "/sys/firmware/memmap/*/end /sys/firmware/memmap/*/type; else echo '== firmware absent'; fi;"
    "echo '== iomem'; cat /proc/iomem; echo '== end'";

namespace {

[[noreturn]] void bad(const std::string& what, const std::string& line) {
  throw ProbeFormatError(fmt::format("guest counters: {}: '{}'", what, one_line(line, 100)));
}

// The kernel prints at most 5 levels (kernel/resource.c MAX_IORES_LEVEL); a bound for the parser.
constexpr size_t kIomemMaxDepth = 8;

std::string range_text(const NamedRange& r) { return fmt::format("{:#x}-{:#x} {}", r.first, r.last, r.name); }

// The resources of `lines` from `at` on at `depth`, each with its children; a child must lie in
// its parent.
IomemTree iomem_tree(const std::vector<std::pair<size_t, NamedRange>>& lines, size_t& at, size_t depth,
                     const NamedRange* parent) {
  IomemTree out;
  while (at < lines.size() && lines[at].first == depth) {
    IomemResource r{lines[at].second, {}};
    if (parent && (r.range.first < parent->first || r.range.last > parent->last))
      bad("resource outside its parent " + range_text(*parent), range_text(r.range));
    ++at;
    r.children = iomem_tree(lines, at, depth + 1, &r.range);
    out.push_back(std::move(r));
  }
  return out;
}

void list_iomem(const IomemTree& tree, const std::string& in, std::set<NamedRange>& out) {
  for (const auto& r : tree) {
    out.insert({r.range.first, r.range.last, r.range.name + in});
    list_iomem(r.children, " in " + range_text(r.range) + in, out);
  }
}

uint64_t num(const std::string& s, int base, const std::string& line) {
  if (s.empty() || s.size() > 20) bad("not a number", line);
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(s, &used, base);
  } catch (const std::exception&) {
    bad("not a number", line);
  }
  if (used != s.size() || s[0] == '-' || s[0] == '+') bad("not a number", line);
  return v;
}

// "0-1,3" -> {0, 1, 3}; "" -> {} (a node list, bounded).
std::set<int> node_list(const std::string& text, const std::string& line) {
  std::set<int> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    const auto dash = part.find('-');
    const uint64_t a = num(part.substr(0, dash), 10, line);
    const uint64_t b = dash == std::string::npos ? a : num(part.substr(dash + 1), 10, line);
    if (b < a || b >= 4096) bad("node list out of range", line);
    for (uint64_t n = a; n <= b; ++n) out.insert(static_cast<int>(n));
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string list_text(const std::set<int>& s) {
  std::string out;
  for (int n : s) out += fmt::format("{}{}", out.empty() ? "" : ",", n);
  return out.empty() ? "none" : out;
}

std::string ranges_text(const std::set<NamedRange>& s) {
  std::string out;
  for (const auto& r : s) out += (out.empty() ? "" : "; ") + range_text(r);
  return out.empty() ? "none" : out;
}

// What differs between two sets of ranges, both ways.
std::string ranges_diff(const std::set<NamedRange>& want, const std::set<NamedRange>& seen) {
  std::set<NamedRange> missing, extra;
  std::set_difference(want.begin(), want.end(), seen.begin(), seen.end(), std::inserter(missing, missing.end()));
  std::set_difference(seen.begin(), seen.end(), want.begin(), want.end(), std::inserter(extra, extra.end()));
  std::string out;
  if (!missing.empty()) out += "expected but absent: " + ranges_text(missing);
  if (!extra.empty()) out += std::string(out.empty() ? "" : "; ") + "present but not expected: " + ranges_text(extra);
  return out;
}

// "short by 1 pages" / "over by 2 pages": the words known-failure patterns match.
std::string off_by(int64_t pages) {
  return pages < 0 ? fmt::format("short by {} pages", -pages) : fmt::format("over by {} pages", pages);
}

CaseCheck check(const std::string& name, const std::vector<std::string>& problems, const std::string& pass) {
  CaseCheck c;
  c.case_no = 2;
  c.name = name;
  c.ok = problems.empty();
  if (c.ok) {
    c.detail = pass;
  } else {
    for (const auto& p : problems) c.detail += (c.detail.empty() ? "" : "; ") + p;
  }
  return c;
}

}  // namespace

GuestCounters parse_guest_counters(const std::string& text) {
  GuestCounters g;
  std::istringstream in(text);
  std::string line, section;
  std::pair<int, std::string> zone{-1, ""};
  std::map<std::string, NamedRange> fw;  // entry -> fields
  size_t lines = 0;
  bool end = false;
  std::set<std::string> sections_seen;
  std::vector<std::pair<size_t, NamedRange>> iomem_lines;  // depth, resource
  while (std::getline(in, line)) {
    if (++lines > 200000) bad("too many lines", line);
    if (line.empty()) continue;
    if (line.rfind("== ", 0) == 0) {
      std::istringstream ls(line.substr(3));
      ls >> section;
      if (!sections_seen.insert(section).second) bad("a section twice", line);
      if (section == "blocks") {
        std::string hex;
        ls >> hex;
        g.block_bytes = num(hex, 16, line);
        if (g.block_bytes == 0 || (g.block_bytes & (g.block_bytes - 1)) || g.block_bytes < 4096)
          bad("block size", line);
      } else if (section == "firmware") {
        std::string rest;
        ls >> rest;
        if (rest != "absent") g.firmware.emplace();
      } else if (section == "end") {
        end = true;
      } else if (section != "meminfo" && section != "states" && section != "zoneinfo" && section != "iomem") {
        bad("unknown section", line);
      }
      continue;
    }
    if (end) bad("text after '== end'", line);
    if (section == "meminfo") {
      std::istringstream ls(line);
      std::string key, kb;
      ls >> key >> kb;
      if (key != "MemTotal:") bad("not MemTotal", line);
      g.memtotal_kb = num(kb, 10, line);
    } else if (section == "states") {
      const auto sp = line.find(' ');
      const std::string key = line.substr(0, sp);
      g.node_states[key] = node_list(sp == std::string::npos ? "" : trim(line.substr(sp + 1)), line);
    } else if (section == "zoneinfo") {
      if (line.rfind("Node ", 0) == 0) {
        const auto comma = line.find(", zone");
        if (comma == std::string::npos) bad("zone header", line);
        zone = {static_cast<int>(num(line.substr(5, comma - 5), 10, line)), trim(line.substr(comma + 6))};
        if (zone.second.empty()) bad("zone header", line);
        g.zones[zone];
      } else {
        if (zone.first < 0) bad("zone counter outside a zone", line);
        std::istringstream ls(line);
        std::string key, v;
        ls >> key >> v;
        ZoneCounters& z = g.zones[zone];
        if (key == "present")
          z.present = num(v, 10, line);
        else if (key == "managed")
          z.managed = num(v, 10, line);
        else if (key == "spanned")
          z.spanned = num(v, 10, line);
        else if (key == "start_pfn:")
          z.start_pfn = num(v, 10, line);
        else
          bad("unknown zone counter", line);
      }
    } else if (section == "blocks") {
      // memory32/state:online
      if (line.rfind("memory", 0) != 0) bad("not a memory block", line);
      const auto slash = line.find("/state:");
      if (slash == std::string::npos) bad("not a memory block", line);
      g.blocks[num(line.substr(6, slash - 6), 10, line)] = line.substr(slash + 7);
    } else if (section == "firmware") {
      // /sys/firmware/memmap/3/start:0x100000
      const auto colon = line.find(':');
      const auto slash = line.rfind('/', colon);
      if (colon == std::string::npos || slash == std::string::npos || !g.firmware) bad("firmware map line", line);
      const std::string entry = line.substr(0, slash), field = line.substr(slash + 1, colon - slash - 1),
                        value = line.substr(colon + 1);
      if (field == "start")
        fw[entry].first = num(value, 16, line);
      else if (field == "end")
        fw[entry].last = num(value, 16, line);
      else if (field == "type")
        fw[entry].name = value;
      else
        bad("firmware map field", line);
    } else if (section == "iomem") {
      // "100000000-1bfffffff : System RAM", a child two spaces deeper than its parent.
      const size_t indent = line.find_first_not_of(' ');
      const size_t depth = indent / 2;
      if (indent == std::string::npos || indent % 2 || depth > kIomemMaxDepth ||
          depth > (iomem_lines.empty() ? 0 : iomem_lines.back().first + 1))
        bad("resource nesting", line);
      const auto dash = line.find('-', indent), colon = line.find(" : ", indent);
      if (dash == std::string::npos || colon == std::string::npos || dash > colon) bad("resource line", line);
      NamedRange r{num(line.substr(indent, dash - indent), 16, line),
                   num(trim(line.substr(dash + 1, colon - dash - 1)), 16, line), line.substr(colon + 3)};
      if (r.last < r.first) bad("resource ends before it starts", line);
      iomem_lines.emplace_back(depth, r);
    } else {
      bad("text before a section", line);
    }
  }
  if (!end) bad("truncated (no '== end')", line);
  // Every listing must be there and, but for the node states and the firmware map (which a
  // kernel may lack), not empty: an empty reading on both sides would pass as "nothing changed".
  for (const char* sec : {"meminfo", "states", "zoneinfo", "blocks", "firmware", "iomem"})
    if (!sections_seen.count(sec)) bad(fmt::format("no '== {}' section", sec), "");
  if (!g.memtotal_kb) bad("no MemTotal", "");
  if (g.zones.empty()) bad("no zone in /proc/zoneinfo", "");
  if (g.blocks.empty()) bad("no memory block", "");
  size_t at = 0;
  g.iomem = iomem_tree(iomem_lines, at, 0, nullptr);
  if (g.iomem.empty()) bad("no resource in /proc/iomem", "");
  if (g.firmware)
    for (const auto& [e, r] : fw) g.firmware->insert(r);
  return g;
}

std::set<NamedRange> iomem_listing(const IomemTree& tree) {
  std::set<NamedRange> out;
  list_iomem(tree, "", out);
  return out;
}

bool is_system_ram(const std::string& name) { return name == "System RAM" || name.rfind("System RAM (", 0) == 0; }

std::optional<IomemTree> iomem_after_release(const IomemTree& tree, uint64_t first, uint64_t last) {
  // kernel/resource.c release_mem_region_adjustable(), step by step: at each level the first
  // resource that contains [first, last] (siblings are sorted and never overlap; the walk stops at
  // one starting at or after the end); a resource that is not busy is descended into (a PCI
  // window, a virtio-mem device's own resource: virtio_mem_create_resource() clears its
  // IORESOURCE_BUSY), the busy one is adjusted and the walk ends.
  IomemTree out = tree;
  IomemTree* level = &out;
  for (;;) {
    auto it = level->begin();
    for (; it != level->end(); ++it) {
      if (it->range.first >= last) {
        it = level->end();
        break;
      }
      if (it->range.first <= first && it->range.last >= last) break;
    }
    if (it == level->end()) return std::nullopt;
    if (!is_system_ram(it->range.name)) {
      level = &it->children;
      continue;
    }
    NamedRange& r = it->range;
    if (r.first == first && r.last == last) {
      level->erase(it);  // "free the whole entry"
    } else if (r.first == first) {
      r.first = last + 1;  // "adjust the start"
    } else if (r.last == last) {
      r.last = first - 1;  // "adjust the end"
    } else {
      // "split into two entries": the new upper entry has no children.
      IomemResource upper{{last + 1, r.last, r.name}, {}};
      r.last = first - 1;
      level->insert(it + 1, std::move(upper));
    }
    return out;
  }
}

std::optional<IomemTree> iomem_after_request(const IomemTree& tree, uint64_t first, uint64_t last,
                                             const std::string& name) {
  // kernel/resource.c __request_region(): __request_resource() at the level, and into a conflict
  // that is not busy (which must contain the whole range, else the conflict is the parent: -EBUSY).
  IomemTree out = tree;
  IomemTree* level = &out;
  for (;;) {
    auto conflict = std::find_if(level->begin(), level->end(), [&](const IomemResource& r) {
      return r.range.first <= last && r.range.last >= first;
    });
    if (conflict == level->end()) {
      auto pos =
          std::find_if(level->begin(), level->end(), [&](const IomemResource& r) { return r.range.first > last; });
      level->insert(pos, IomemResource{{first, last, name}, {}});
      return out;
    }
    if (is_system_ram(conflict->range.name) || conflict->range.first > first || conflict->range.last < last)
      return std::nullopt;
    level = &conflict->children;
  }
}

std::vector<uint64_t> blocks_gone(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                  uint64_t pfn_count) {
  std::vector<uint64_t> out;
  if (!before.block_bytes) return out;
  const uint64_t first = first_pfn << 12, end = (first_pfn + pfn_count) << 12;
  for (const auto& [b, st] : before.blocks) {
    const uint64_t b0 = b * before.block_bytes;
    if (b0 >= first && b0 + before.block_bytes <= end && !after.blocks.count(b)) out.push_back(b);
  }
  return out;
}

std::vector<uint64_t> missing_blocks(const GuestCounters& g, uint64_t first_pfn, uint64_t pfn_count) {
  std::vector<uint64_t> out;
  const uint64_t block_pages = g.block_bytes >> 12;
  for (uint64_t b = first_pfn / block_pages; b * block_pages < first_pfn + pfn_count; ++b)
    if (!g.blocks.count(b)) out.push_back(b);
  return out;
}

uint64_t memmap_pages_in_online_blocks(const MemmapSnapshot& snap, const GuestCounters& after, uint64_t first_pfn,
                                       uint64_t pfn_count) {
  const uint64_t block_pages = after.block_bytes >> 12;
  uint64_t out = 0;
  for (const auto& run : snap.runs) {
    if (std::none_of(run.roles.begin(), run.roles.end(),
                     [](const PageRole& r) { return r.kind == PageRoleKind::Memmap; }))
      continue;
    // The run's part in the range, block by block.
    const uint64_t end = std::min(run.pfn + run.count, first_pfn + pfn_count);
    for (uint64_t pfn = std::max(run.pfn, first_pfn); pfn < end;) {
      const uint64_t block = pfn / block_pages, next = std::min(end, (block + 1) * block_pages);
      auto b = after.blocks.find(block);
      if (b != after.blocks.end() && b->second == "online") out += next - pfn;
      pfn = next;
    }
  }
  return out;
}

namespace {

// What the counters must read after a step, as the step's model predicts them from the reading
// before; compare() turns each difference into a failed check with both values.
struct Expected {
  std::string step;  // "removal", "refusal", "plug"
  int64_t memtotal_delta = 0;
  std::map<uint64_t, std::string> blocks;  // every block and its state
  std::vector<std::string> block_problems;
  int node = -1;              // the node the step adds memory to or takes it from
  int64_t present_delta = 0;  // of `node`, pages
  std::map<int, int64_t> managed_delta;
  bool judge_node_zones = false;     // `node`'s zones one by one too (nothing may move)
  bool others_managed_exact = true;  // other nodes' managed pages zone by zone
  std::map<std::string, std::set<int>> node_states;
  std::optional<std::set<NamedRange>> firmware;  // when both readings have the map
  std::optional<IomemTree> iomem;
  std::string iomem_problem;                                  // why `iomem` could not be predicted
  std::optional<std::pair<uint64_t, uint64_t>> removed_pfns;  // first, last: judge the zones' spans
};

std::map<int, std::pair<int64_t, int64_t>> node_sums(const GuestCounters& g) {  // node -> present, managed
  std::map<int, std::pair<int64_t, int64_t>> out;
  for (const auto& [k, z] : g.zones) {
    out[k.first].first += static_cast<int64_t>(z.present);
    out[k.first].second += static_cast<int64_t>(z.managed);
  }
  return out;
}

// Present pages of `node` in zones below ZONE_MOVABLE.
int64_t normal_present(const GuestCounters& g, int node) {
  int64_t out = 0;
  for (const auto& [k, z] : g.zones)
    if (k.first == node && k.second != "Movable" && k.second != "Device") out += static_cast<int64_t>(z.present);
  return out;
}

CaseCheck compare_meminfo(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  const int64_t want = static_cast<int64_t>(*before.memtotal_kb) + e.memtotal_delta * 4;
  std::vector<std::string> p;
  if (static_cast<int64_t>(*after.memtotal_kb) != want)
    p.push_back(fmt::format("MemTotal {} kB before, {} kB after; the model expects {} kB ({:+} pages); {}",
                            *before.memtotal_kb, *after.memtotal_kb, want, e.memtotal_delta,
                            off_by((static_cast<int64_t>(*after.memtotal_kb) - want) / 4)));
  return check("counters-meminfo", p,
               fmt::format("MemTotal {} -> {} kB, as the model expects", *before.memtotal_kb, *after.memtotal_kb));
}

CaseCheck compare_blocks(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  std::vector<std::string> p = e.block_problems;
  for (const auto& [b, st] : e.blocks) {
    auto it = after.blocks.find(b);
    if (it == after.blocks.end())
      p.push_back(fmt::format("memory{} ({}) vanished", b, st));
    else if (it->second != st)
      p.push_back(fmt::format("memory{} {} before, {} after", b, st, it->second));
  }
  for (const auto& [b, st] : after.blocks)
    if (!e.blocks.count(b))
      p.push_back(fmt::format("memory{} ({}) {}", b, st,
                              before.blocks.count(b) ? "still present though its memory was removed" : "appeared"));
  return check("counters-memory-blocks", p,
               fmt::format("{} memory blocks, as expected after the {}", after.blocks.size(), e.step));
}

CaseCheck compare_zones(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  // Per node: present pages move only on the step's node, managed pages by the model's change.
  // Zone by zone: no other node's present pages move (freed pages change managed, never
  // present), nor, where nothing may have been freed or allocated, its managed pages. The step's
  // node is judged by its sum: which of its zones held the range is not in these counters.
  auto sb = node_sums(before), sa = node_sums(after);
  std::set<int> nodes;
  for (const auto& [n, s] : sb) nodes.insert(n);
  for (const auto& [n, s] : sa) nodes.insert(n);
  std::vector<std::string> p;
  for (int n : nodes) {
    const auto [pb, mb] = sb[n];
    const auto [pa, ma] = sa[n];
    const int64_t want = pb + (n == e.node ? e.present_delta : 0);
    if (pa != want) p.push_back(fmt::format("node {} present {} pages before, {} after; expected {}", n, pb, pa, want));
    auto d = e.managed_delta.find(n);
    const int64_t mwant = mb + (d != e.managed_delta.end() ? d->second : 0);
    if (ma != mwant)
      p.push_back(fmt::format("node {} managed {} pages before, {} after; the model expects {}; {}", n, mb, ma, mwant,
                              off_by(ma - mwant)));
  }
  std::set<std::pair<int, std::string>> zones;
  for (const auto& [k, z] : before.zones) zones.insert(k);
  for (const auto& [k, z] : after.zones) zones.insert(k);
  for (const auto& k : zones) {
    if (k.first == e.node && !e.judge_node_zones) continue;
    auto ib = before.zones.find(k), ia = after.zones.find(k);
    const ZoneCounters zb = ib == before.zones.end() ? ZoneCounters{} : ib->second;
    const ZoneCounters za = ia == after.zones.end() ? ZoneCounters{} : ia->second;
    if (za.present != zb.present)
      p.push_back(fmt::format("node {} zone {} present {} before, {} after; expected {}", k.first, k.second, zb.present,
                              za.present, zb.present));
    if (e.others_managed_exact && za.managed != zb.managed)
      p.push_back(fmt::format("node {} zone {} managed {} before, {} after; expected {}", k.first, k.second, zb.managed,
                              za.managed, zb.managed));
  }
  return check(
      "counters-zones", p,
      fmt::format("zones' present and managed pages of {} nodes as expected after the {}", nodes.size(), e.step));
}

CaseCheck compare_node_states(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  std::vector<std::string> q;
  for (const auto& [k, nodes] : e.node_states) {
    auto it = after.node_states.find(k);
    const std::set<int> seen = it == after.node_states.end() ? std::set<int>{} : it->second;
    if (seen != nodes)
      q.push_back(fmt::format("{}: {} before, {} after; expected {}", k,
                              list_text(before.node_states.count(k) ? before.node_states.at(k) : std::set<int>{}),
                              list_text(seen), list_text(nodes)));
  }
  std::string pass;
  for (const auto& [k, nodes] : after.node_states)
    pass += fmt::format("{}{} {}", pass.empty() ? "" : ", ", k, list_text(nodes));
  CaseCheck c = check("counters-node-states", q, pass);
  if (pass.empty()) {
    c.applicable = false;
    c.detail = "the guest lists no node states";
  }
  return c;
}

CaseCheck compare_firmware(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  if (e.firmware) {
    const std::string d = ranges_diff(*e.firmware, *after.firmware);
    return check(
        "counters-firmware-memmap", d.empty() ? std::vector<std::string>{} : std::vector<std::string>{d},
        fmt::format("{} firmware memory map entries, as expected after the {}", after.firmware->size(), e.step));
  }
  if (before.firmware || after.firmware)
    return check(
        "counters-firmware-memmap",
        {fmt::format("/sys/firmware/memmap {} during the {}", before.firmware ? "vanished" : "appeared", e.step)}, "");
  CaseCheck c = check("counters-firmware-memmap", {}, "the guest has no /sys/firmware/memmap (CONFIG_FIRMWARE_MEMMAP)");
  c.applicable = false;
  return c;
}

CaseCheck compare_iomem(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  std::string d = ranges_diff(iomem_listing(e.iomem ? *e.iomem : before.iomem), iomem_listing(after.iomem));
  if (!e.iomem_problem.empty()) d = e.iomem_problem + (d.empty() ? "" : "; ") + d;
  return check(
      "counters-iomem", d.empty() ? std::vector<std::string>{} : std::vector<std::string>{d},
      fmt::format("{} resources in /proc/iomem, as expected after the {}", iomem_listing(after.iomem).size(), e.step));
}

// mm/memory_hotplug.c shrink_zone_span(), called for each memory block offlined
// (remove_pfn_range_from_zone()): a block at the zone's start moves the start to the zone's next
// online pfn (find_smallest_section_pfn()), one at its end moves the end back to the last
// (find_biggest_section_pfn()), a zone with none left spans 0; a block inside the span leaves it
// alone. Where the next online pfn lies is not in these counters (holes), so the rule judged is:
// the span neither begins nor ends inside the range and grows nowhere.
CaseCheck compare_spans(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  const auto [first, last] = *e.removed_pfns;
  std::vector<std::string> p;
  size_t judged = 0;
  for (const auto& [k, zb] : before.zones) {
    auto ia = after.zones.find(k);
    const ZoneCounters za = ia == after.zones.end() ? ZoneCounters{} : ia->second;
    const std::string zone = fmt::format("node {} zone {}", k.first, k.second);
    auto span = [](const ZoneCounters& z) {
      return z.start_pfn ? fmt::format("{}-{}", *z.start_pfn, *z.start_pfn + z.spanned - 1) : std::string("none");
    };
    if (za.present == 0 && zb.present != 0) {  // its memory all went
      ++judged;
      if (za.spanned != 0)
        p.push_back(
            fmt::format("{} has no present pages left but spans {} pages (pfns {})", zone, za.spanned, span(za)));
      continue;
    }
    if (zb.spanned == 0 || !zb.start_pfn) continue;  // nothing to shrink, or where is not read
    ++judged;
    if (!za.start_pfn) {
      p.push_back(fmt::format("{} spanned pfns {} before; after, its start is not listed", zone, span(zb)));
      continue;
    }
    const uint64_t b0 = *zb.start_pfn, b1 = b0 + zb.spanned - 1, a0 = *za.start_pfn, a1 = a0 + za.spanned - 1;
    const bool start_in = b0 >= first && b0 <= last, end_in = b1 >= first && b1 <= last;
    std::vector<std::string> why;
    if (za.spanned == 0) why.push_back("spans nothing though present pages are left");
    if (a0 < b0 || a1 > b1) why.push_back("grew");
    if (a0 >= first && a0 <= last) why.push_back("begins inside the removed range");
    if (a1 >= first && a1 <= last) why.push_back("ends inside the removed range");
    if (!start_in && a0 != b0) why.push_back("moved its start, which was not in the removed range");
    if (!end_in && a1 != b1) why.push_back("moved its end, which was not in the removed range");
    if (za.spanned < za.present) why.push_back(fmt::format("spans fewer pages than its {} present", za.present));
    if (!why.empty()) {
      std::string w;
      for (const auto& x : why) w += (w.empty() ? "" : ", ") + x;
      p.push_back(fmt::format("{} spanned pfns {} before, {} after (removed {}-{}): {}", zone, span(zb), span(za),
                              first, last, w));
    }
  }
  CaseCheck c = check("counters-zone-span", p,
                      fmt::format("{} zones' spans as shrink_zone_span() leaves them after the removal", judged));
  if (judged == 0 && p.empty()) {
    c.applicable = false;
    c.detail = "no zone with pages and a listed start_pfn before the removal";
  }
  return c;
}

std::vector<CaseCheck> compare(const GuestCounters& before, const GuestCounters& after, const Expected& e) {
  std::vector<CaseCheck> out;
  out.push_back(compare_meminfo(before, after, e));
  out.push_back(compare_blocks(before, after, e));
  out.push_back(compare_zones(before, after, e));
  out.push_back(compare_node_states(before, after, e));
  out.push_back(compare_firmware(before, after, e));
  out.push_back(compare_iomem(before, after, e));
  if (e.removed_pfns) out.push_back(compare_spans(before, after, e));
  return out;
}

}  // namespace

std::vector<CaseCheck> check_counters(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                      uint64_t pfn_count, int node, bool removed,
                                      const std::map<int, int64_t>& memtotal_delta_pages) {
  const uint64_t first = first_pfn << 12, last = ((first_pfn + pfn_count) << 12) - 1;
  Expected e;
  e.step = removed ? "removal" : "refusal";
  e.node = node;
  e.blocks = before.blocks;
  e.node_states = before.node_states;
  e.judge_node_zones = !removed;
  e.others_managed_exact = !removed;
  if (before.firmware && after.firmware) e.firmware = before.firmware;
  e.iomem = before.iomem;
  if (!removed) return compare(before, after, e);

  // MemTotal and every node's managed pages move by the model's per-node change.
  e.managed_delta = memtotal_delta_pages;
  for (const auto& [n, d] : memtotal_delta_pages) e.memtotal_delta += d;
  // Memory unplugged from blocks that stay (a virtio-mem shrink that fake-offlined sub-blocks):
  // every listing stays.
  if (pfn_count == 0) return compare(before, after, e);

  // Memory blocks: the range's blocks gone, every other block as it was.
  uint64_t online_pages_in_range = 0, listed = 0;
  for (auto it = e.blocks.begin(); it != e.blocks.end();) {
    const uint64_t b0 = it->first * before.block_bytes, b1 = b0 + before.block_bytes - 1;
    if (b0 >= first && b1 <= last) {
      if (it->second == "online") online_pages_in_range += before.block_bytes >> 12;
      ++listed;
      it = e.blocks.erase(it);
    } else {
      ++it;
    }
  }
  const uint64_t expect_blocks = (pfn_count << 12) / before.block_bytes;
  if (listed != expect_blocks)
    e.block_problems.push_back(
        fmt::format("{} memory blocks of the removed range were listed before, not {}", listed, expect_blocks));

  // Zones: present pages of the departing node drop by what was online in the range; no span
  // begins or ends inside it.
  e.present_delta = -static_cast<int64_t>(online_pages_in_range);
  e.removed_pfns = std::make_pair(first_pfn, first_pfn + pfn_count - 1);

  // Node states: a node left without present pages leaves has_memory and has_normal_memory,
  // and goes offline when no CPU is on it (try_offline_node()); nothing else changes.
  int64_t present_before = 0;
  for (const auto& [k, z] : before.zones)
    if (k.first == node) present_before += static_cast<int64_t>(z.present);
  if (present_before + e.present_delta <= 0) {
    e.node_states["has_memory"].erase(node);
    e.node_states["has_normal_memory"].erase(node);
    // try_offline_node() offlines a node without CPUs only when none of its memory blocks is
    // left, offline ones included, which these counters do not tie to nodes: the scenario's
    // expect-node steps judge that; here the departing node may be either.
    if (!e.node_states["has_cpu"].count(node) && after.node_states.count("online")) {
      if (after.node_states.at("online").count(node))
        e.node_states["online"].insert(node);
      else
        e.node_states["online"].erase(node);
    }
  } else if (normal_present(after, node) == 0) {
    e.node_states["has_normal_memory"].erase(node);
  }

  // The firmware memory map loses the entry of exactly the range (firmware_map_remove() in
  // try_remove_memory()), /proc/iomem what release_mem_region_adjustable() cuts.
  if (e.firmware) e.firmware->erase({first, last, "System RAM"});
  e.iomem = iomem_after_release(before.iomem, first, last);
  if (!e.iomem)
    e.iomem_problem = fmt::format(
        "no \"System RAM\" resource held {:#x}-{:#x} before the removal (the kernel releases the range "
        "from the one busy system-RAM resource that contains it)",
        first, last);
  return compare(before, after, e);
}

std::vector<CaseCheck> check_counters_after_plug(const GuestCounters& before, const GuestCounters& after,
                                                 uint64_t first_pfn, uint64_t pfn_count, int node,
                                                 uint64_t memmap_pages, double blocks_missing_after_s) {
  const uint64_t first = first_pfn << 12, last = ((first_pfn + pfn_count) << 12) - 1;
  Expected e;
  e.step = "plug";
  e.node = node;
  e.blocks = before.blocks;
  e.node_states = before.node_states;

  // Memory blocks: every block of the range appears, in the state the guest gave it.
  uint64_t online_pages = 0;
  const uint64_t block_pages = before.block_bytes >> 12;
  if (after.block_bytes != before.block_bytes)
    e.block_problems.push_back(
        fmt::format("block size {:#x} before, {:#x} after", before.block_bytes, after.block_bytes));
  std::string missing;
  for (uint64_t b = first_pfn / block_pages; b * block_pages < first_pfn + pfn_count; ++b) {
    if (before.blocks.count(b))
      e.block_problems.push_back(fmt::format("memory{} of the plugged range was listed before the plug", b));
    auto it = after.blocks.find(b);
    if (it == after.blocks.end()) {
      missing += fmt::format("{}memory{}", missing.empty() ? "" : " ", b);
      continue;
    }
    e.blocks[b] = it->second;
    if (it->second == "online") online_pages += block_pages;
  }
  if (!missing.empty())
    e.block_problems.push_back(
        blocks_missing_after_s > 0
            ? fmt::format("{} of the plugged range never appeared (waited {:.1f} s)", missing, blocks_missing_after_s)
            : fmt::format("{} of the plugged range absent", missing));

  // Zones and MemTotal: the node's present pages grow by its online blocks; managed pages and
  // MemTotal by those less the memmap they hold (memory_block_online(): online_pages() frees the
  // rest to the buddy allocator, adjust_present_page_count() counts the memmap pages present).
  const int64_t memmap = online_pages ? static_cast<int64_t>(memmap_pages) : 0;
  e.present_delta = static_cast<int64_t>(online_pages);
  e.memtotal_delta = static_cast<int64_t>(online_pages) - memmap;
  e.managed_delta[node] = e.memtotal_delta;

  // Node states: add_memory_resource() onlines the node (__try_online_node()); online_pages()
  // puts it in has_memory, and in has_normal_memory when the zone is below ZONE_MOVABLE
  // (node_states_set_node()).
  if (!e.node_states.empty()) e.node_states["online"].insert(node);
  if (online_pages) {
    e.node_states["has_memory"].insert(node);
    if (normal_present(after, node) > normal_present(before, node)) e.node_states["has_normal_memory"].insert(node);
  }
  if (before.node_states.empty()) e.node_states.clear();

  // The firmware map and /proc/iomem gain the range as "System RAM".
  if (before.firmware && after.firmware) {
    e.firmware = before.firmware;
    e.firmware->insert({first, last, "System RAM"});
  }
  e.iomem = iomem_after_request(before.iomem, first, last, "System RAM");
  if (!e.iomem)
    e.iomem_problem = fmt::format(
        "{:#x}-{:#x} overlaps a resource it cannot go under: the kernel could not have registered it", first, last);
  return compare(before, after, e);
}

}  // namespace rig
