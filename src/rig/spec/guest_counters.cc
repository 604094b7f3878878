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
    "echo '== zoneinfo'; grep -E '^Node|^ +(spanned|present|managed) ' /proc/zoneinfo;"
    "echo \"== blocks $(cat /sys/devices/system/memory/block_size_bytes)\"; cd /sys/devices/system/memory && "
    "grep -H . memory*/state;"
    "if [ -d /sys/firmware/memmap ]; then echo '== firmware'; grep -H . /sys/firmware/memmap/*/start "
    "/sys/firmware/memmap/*/end /sys/firmware/memmap/*/type; else echo '== firmware absent'; fi;"
    "echo '== iomem'; grep -v '^ ' /proc/iomem; echo '== end'";

namespace {

[[noreturn]] void bad(const std::string& what, const std::string& line) {
  throw ProbeFormatError(fmt::format("guest counters: {}: '{}'", what, one_line(line, 100)));
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

std::string range_text(const NamedRange& r) { return fmt::format("{:#x}-{:#x} {}", r.first, r.last, r.name); }

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
        (key == "present" ? z.present : key == "managed" ? z.managed : z.spanned) = num(v, 10, line);
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
      // 100000000-1bfffffff : System RAM
      const auto dash = line.find('-'), colon = line.find(" : ");
      if (dash == std::string::npos || colon == std::string::npos || dash > colon) bad("resource line", line);
      NamedRange r{num(line.substr(0, dash), 16, line), num(trim(line.substr(dash + 1, colon - dash - 1)), 16, line),
                   line.substr(colon + 3)};
      g.iomem.insert(r);
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
  if (g.iomem.empty()) bad("no resource in /proc/iomem", "");
  if (g.firmware)
    for (const auto& [e, r] : fw) g.firmware->insert(r);
  return g;
}

std::vector<CaseCheck> check_counters(const GuestCounters& before, const GuestCounters& after, uint64_t first_pfn,
                                      uint64_t pfn_count, int node, bool removed,
                                      const std::map<int, int64_t>& memtotal_delta_pages) {
  std::vector<CaseCheck> out;
  const uint64_t first = first_pfn << 12, last = ((first_pfn + pfn_count) << 12) - 1;
  const std::string step = removed ? "removal" : "refusal";

  // Global MemTotal.
  {
    int64_t delta_pages = 0;
    if (removed)
      for (const auto& [n, d] : memtotal_delta_pages) delta_pages += d;
    const int64_t want = static_cast<int64_t>(*before.memtotal_kb) + delta_pages * 4;
    std::vector<std::string> p;
    if (static_cast<int64_t>(*after.memtotal_kb) != want)
      p.push_back(fmt::format("MemTotal {} kB before, {} kB after; the model expects {} kB ({:+} pages); {}",
                              *before.memtotal_kb, *after.memtotal_kb, want, delta_pages,
                              off_by((static_cast<int64_t>(*after.memtotal_kb) - want) / 4)));
    out.push_back(
        check("counters-meminfo", p,
              fmt::format("MemTotal {} -> {} kB, as the model expects", *before.memtotal_kb, *after.memtotal_kb)));
  }

  // Memory blocks: the range's blocks gone (removed), every other block as it was.
  uint64_t online_pages_in_range = 0;
  {
    std::map<uint64_t, std::string> want = before.blocks;
    if (removed && before.block_bytes) {
      for (auto it = want.begin(); it != want.end();) {
        const uint64_t b0 = it->first * before.block_bytes, b1 = b0 + before.block_bytes - 1;
        if (pfn_count && b0 >= first && b1 <= last) {
          if (it->second == "online") online_pages_in_range += before.block_bytes >> 12;
          it = want.erase(it);
        } else {
          ++it;
        }
      }
    }
    std::vector<std::string> p;
    if (removed && before.block_bytes) {
      const uint64_t expect = (pfn_count << 12) / before.block_bytes, listed = before.blocks.size() - want.size();
      if (listed != expect)
        p.push_back(fmt::format("{} memory blocks of the removed range were listed before, not {}", listed, expect));
    }
    for (const auto& [b, st] : want) {
      auto it = after.blocks.find(b);
      if (it == after.blocks.end())
        p.push_back(fmt::format("memory{} ({}) vanished", b, st));
      else if (it->second != st)
        p.push_back(fmt::format("memory{} {} before, {} after", b, st, it->second));
    }
    for (const auto& [b, st] : after.blocks)
      if (!want.count(b))
        p.push_back(fmt::format("memory{} ({}) {}", b, st,
                                before.blocks.count(b) ? "still present though its memory was removed" : "appeared"));
    out.push_back(check("counters-memory-blocks", p,
                        fmt::format("{} memory blocks, as expected after the {}", after.blocks.size(), step)));
  }

  // Zones: present pages of the departing node drop by what was online in the range; other
  // nodes' present pages stay; each node's managed pages move by its MemTotal change.
  {
    std::map<int, int64_t> present_before, present_after, managed_before, managed_after;
    for (const auto& [k, z] : before.zones) {
      present_before[k.first] += z.present;
      managed_before[k.first] += z.managed;
    }
    for (const auto& [k, z] : after.zones) {
      present_after[k.first] += z.present;
      managed_after[k.first] += z.managed;
    }
    std::vector<std::string> p;
    for (const auto& [n, pb] : present_before) {
      const int64_t want = pb - (removed && n == node ? static_cast<int64_t>(online_pages_in_range) : 0);
      const int64_t seen = present_after.count(n) ? present_after[n] : 0;
      if (seen != want)
        p.push_back(fmt::format("node {} present {} pages before, {} after; expected {}", n, pb, seen, want));
      auto d = memtotal_delta_pages.find(n);
      const int64_t mwant = managed_before[n] + (removed && d != memtotal_delta_pages.end() ? d->second : 0);
      const int64_t mseen = managed_after.count(n) ? managed_after[n] : 0;
      if (mseen != mwant)
        p.push_back(fmt::format("node {} managed {} pages before, {} after; the model expects {}; {}", n,
                                managed_before[n], mseen, mwant, off_by(mseen - mwant)));
    }
    // Zone by zone: a refusal moves nothing, and a removal moves no other node's present pages
    // (freed pages change managed, never present). The departing node is judged by its sum: which
    // of its zones held the range is not in these counters.
    for (const auto& [k, zb] : before.zones) {
      if (removed && k.first == node) continue;
      auto it = after.zones.find(k);
      const ZoneCounters za = it == after.zones.end() ? ZoneCounters{} : it->second;
      if (za.present != zb.present)
        p.push_back(fmt::format("node {} zone {} present {} before, {} after; expected {}", k.first, k.second,
                                zb.present, za.present, zb.present));
      if (!removed && za.managed != zb.managed)
        p.push_back(fmt::format("node {} zone {} managed {} before, {} after; expected {}", k.first, k.second,
                                zb.managed, za.managed, zb.managed));
    }
    for (const auto& [n, pa] : present_after)
      if (!present_before.count(n) && pa)
        p.push_back(fmt::format("node {} has {} present pages it did not have", n, pa));
    out.push_back(check("counters-zones", p,
                        fmt::format("zones' present and managed pages of {} nodes as expected after the {}",
                                    present_before.size(), step)));

    // Node states: a node left without present pages leaves has_memory and has_normal_memory,
    // and goes offline when no CPU is on it (try_offline_node()); nothing else changes.
    std::map<std::string, std::set<int>> want = before.node_states;
    if (removed) {
      const int64_t left = present_before[node] - static_cast<int64_t>(online_pages_in_range);
      int64_t left_normal = 0;
      for (const auto& [k, z] : after.zones)
        if (k.first == node && k.second != "Movable" && k.second != "Device") left_normal += z.present;
      if (left <= 0) {
        want["has_memory"].erase(node);
        want["has_normal_memory"].erase(node);
        // try_offline_node() offlines a node without CPUs only when none of its memory blocks is
        // left, offline ones included, which these counters do not tie to nodes: the scenario's
        // expect-node steps judge that; here the departing node may be either.
        if (!want["has_cpu"].count(node) && after.node_states.count("online")) {
          if (after.node_states.at("online").count(node))
            want["online"].insert(node);
          else
            want["online"].erase(node);
        }
      } else if (left_normal == 0) {
        want["has_normal_memory"].erase(node);
      }
    }
    std::vector<std::string> q;
    for (const auto& [k, nodes] : want) {
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
    out.push_back(check("counters-node-states", q, pass.empty() ? "no node states read" : pass));
    if (pass.empty()) {
      out.back().applicable = false;
      out.back().detail = "the guest lists no node states";
    }
  }

  // The firmware memory map and the resource tree: the entry of exactly the range goes, nothing
  // else moves (firmware_map_remove(), release_memory_resource() in try_remove_memory()).
  auto without_range = [&](const std::set<NamedRange>& s) {
    std::set<NamedRange> out2;
    for (const auto& r : s)
      if (!(removed && pfn_count && r.first == first && r.last == last && r.name == "System RAM")) out2.insert(r);
    return out2;
  };
  if (before.firmware && after.firmware) {
    const auto want = without_range(*before.firmware);
    const std::string d = ranges_diff(want, *after.firmware);
    out.push_back(
        check("counters-firmware-memmap", d.empty() ? std::vector<std::string>{} : std::vector<std::string>{d},
              fmt::format("{} firmware memory map entries, as expected after the {}", after.firmware->size(), step)));
  } else if (before.firmware || after.firmware) {
    out.push_back(check(
        "counters-firmware-memmap",
        {fmt::format("/sys/firmware/memmap {} during the {}", before.firmware ? "vanished" : "appeared", step)}, ""));
  } else {
    CaseCheck c =
        check("counters-firmware-memmap", {}, "the guest has no /sys/firmware/memmap (CONFIG_FIRMWARE_MEMMAP)");
    c.applicable = false;
    out.push_back(c);
  }
  {
    // release_mem_region_adjustable() (boot memory) trims or splits a "System RAM" resource the
    // range lies in; release_memory_resource() (hot-added memory) drops the range's own.
    std::set<NamedRange> want;
    for (const auto& r : before.iomem) {
      if (!removed || !pfn_count || r.name != "System RAM" || r.last < first || r.first > last) {
        want.insert(r);
        continue;
      }
      if (r.first < first) want.insert({r.first, first - 1, r.name});
      if (r.last > last) want.insert({last + 1, r.last, r.name});
    }
    std::string d = ranges_diff(want, after.iomem);
    if (removed && pfn_count && std::none_of(before.iomem.begin(), before.iomem.end(), [&](const NamedRange& r) {
          return r.name == "System RAM" && r.first <= first && r.last >= last;
        }))
      d = fmt::format("no \"System RAM\" resource held {:#x}-{:#x} before the removal{}{}", first, last,
                      d.empty() ? "" : "; ", d);
    out.push_back(check(
        "counters-iomem", d.empty() ? std::vector<std::string>{} : std::vector<std::string>{d},
        fmt::format("{} top-level resources in /proc/iomem, as expected after the {}", after.iomem.size(), step)));
  }
  return out;
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

}  // namespace rig
