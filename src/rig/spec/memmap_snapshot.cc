#include "rig/spec/memmap_snapshot.h"
#include "rig/base/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <set>
#include <sstream>

namespace rig {
namespace {

// Formats this rig reads: 1 (old recordings, no allocator state) and 2.
constexpr int kFormatMin = 1;
constexpr int kFormatMax = 2;

// The probe's own limits (images/probe/rig_probe.c): pfns below 2^(MAX_PHYSMEM_BITS - PAGE_SHIFT)
// with x86-64's largest MAX_PHYSMEM_BITS (52); a snapshot holds at most MAX_ENTRIES (pfn, role)
// entries, so at most that many pages; a query answers at most MAX_QUERY_PFNS pfns.
constexpr uint64_t kPfnLimit = 1ull << (52 - 12);
constexpr uint64_t kSnapshotMaxPages = 1ull << 18;
constexpr uint64_t kQueryMaxPfns = 1ull << 22;

[[noreturn]] void bad(size_t line_no, const std::string& why, const std::string& line) {
  throw ProbeFormatError(
      fmt::format("probe output line {}: {}: '{}'", line_no, one_line(why, 200), one_line(line.substr(0, 120), 480)));
}

uint64_t to_u64(const std::string& v, size_t line_no, const std::string& line) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) bad(line_no, "not a number: " + v, line);
  try {
    return std::stoull(v);
  } catch (...) {
    bad(line_no, "number out of range: " + v, line);
  }
}

int64_t to_i64(const std::string& v, size_t line_no, const std::string& line) {
  const bool neg = !v.empty() && v[0] == '-';
  const uint64_t mag = to_u64(neg ? v.substr(1) : v, line_no, line);
  if (mag > static_cast<uint64_t>(INT64_MAX)) bad(line_no, "number out of range: " + v, line);
  return neg ? -static_cast<int64_t>(mag) : static_cast<int64_t>(mag);
}

// A number that must fit an int (node ids, header values).
int to_int(const std::string& v, size_t line_no, const std::string& line) {
  const int64_t x = to_i64(v, line_no, line);
  if (x < INT_MIN || x > INT_MAX) bad(line_no, "number out of range: " + v, line);
  return static_cast<int>(x);
}

// The next whitespace-separated number of a line.
int next_int(std::istringstream& in, size_t line_no, const std::string& line) {
  std::string v;
  in >> v;
  return to_int(v, line_no, line);
}

// "key=value" fields after the positional ones. A field given twice is ambiguous: an error.
std::map<std::string, std::string> fields(std::istringstream& in, size_t line_no, const std::string& line) {
  std::map<std::string, std::string> f;
  std::string tok;
  while (in >> tok) {
    auto eq = tok.find('=');
    std::string key = tok.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : tok.substr(eq + 1);
    if (!f.emplace(key, std::move(value)).second) bad(line_no, fmt::format("field '{}' given twice", key), line);
  }
  return f;
}

// A run of pfns the probe could have reported: inside the physical address space, no wrap.
void check_run(uint64_t pfn, uint64_t count, size_t line_no, const std::string& line) {
  if (count == 0) bad(line_no, "empty run", line);
  if (pfn >= kPfnLimit || count > kPfnLimit - pfn)
    bad(line_no, "pfn run beyond the 2^52-byte physical address space", line);
}

const std::string& need(const std::map<std::string, std::string>& f, const char* key, size_t line_no,
                        const std::string& line) {
  auto it = f.find(key);
  if (it == f.end()) bad(line_no, fmt::format("missing field '{}'", key), line);
  return it->second;
}

PageState state_from(const std::map<std::string, std::string>& f, int format, size_t n, const std::string& line) {
  PageState s;
  if (f.count("gone")) return s;
  s.online = true;
  s.nid = to_int(need(f, "nid", n, line), n, line);
  s.reserved = to_u64(need(f, "res", n, line), n, line) != 0;
  s.private_ = to_u64(need(f, "priv", n, line), n, line) != 0;
  s.buddy = to_u64(need(f, "buddy", n, line), n, line) != 0;
  s.selfhosted = to_u64(need(f, "selfhosted", n, line), n, line) != 0;
  s.ref = to_i64(need(f, "ref", n, line), n, line);
  s.type = to_u64(need(f, "type", n, line), n, line);
  s.info = to_u64(need(f, "info", n, line), n, line);
  if (format < 2) return s;
  s.alloc_known = true;
  const std::string& free = need(f, "free", n, line);
  if (free == "buddy")
    s.free_block = true;
  else if (free == "pcp")
    s.on_pcp = true;
  else if (free != "no")
    bad(n, "unknown free= value: " + free, line);
  const std::string& held = need(f, "held", n, line);
  if (held == "slab")
    s.slab = true;
  else if (held == "lru")
    s.lru = true;
  else if (held == "pgtable")
    s.pgtable = true;
  else if (held == "other")
    s.held_other = true;
  else if (held != "none")
    bad(n, "unknown held= value: " + held, line);
  if (s.in_allocator() && held != "none") bad(n, "a free page held by " + held, line);
  return s;
}

// An "overflow WHAT N" line: the probe had to leave something out.
[[noreturn]] void overflow(std::istringstream& in, size_t n, const std::string& line) {
  std::string what, count;
  in >> what >> count;
  bad(n,
      fmt::format("the probe left out {} {} (its tables were too small): the output is incomplete", count,
                  what.empty() ? "entries" : what),
      line);
}

std::vector<PageRole> roles_from(const std::string& text, size_t n, const std::string& line) {
  std::vector<PageRole> roles;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto colon = item.find(':');
    if (colon == std::string::npos) bad(n, "role without owner: " + item, line);
    std::string kind = item.substr(0, colon);
    PageRole r;
    if (kind == "memmap")
      r.kind = PageRoleKind::Memmap;
    else if (kind == "pte")
      r.kind = PageRoleKind::Pte;
    else if (kind == "pmd")
      r.kind = PageRoleKind::Pmd;
    else if (kind == "pud")
      r.kind = PageRoleKind::Pud;
    else if (kind == "p4d")
      r.kind = PageRoleKind::P4d;
    else if (kind == "usage")
      r.kind = PageRoleKind::Usage;
    else if (kind == "pgdat")
      r.kind = PageRoleKind::Pgdat;
    else if (kind == "dmap_pmd")
      r.kind = PageRoleKind::DmapPmd;
    else if (kind == "dmap_pte")
      r.kind = PageRoleKind::DmapPte;
    else if (kind == "dmap_pud")
      r.kind = PageRoleKind::DmapPud;
    else
      bad(n, "unknown role: " + kind, line);
    r.owner = to_i64(item.substr(colon + 1), n, line);
    roles.push_back(r);
  }
  if (roles.empty()) bad(n, "page without roles", line);
  return roles;
}

}  // namespace

const char* page_role_name(PageRoleKind k) {
  switch (k) {
    case PageRoleKind::Memmap: return "memmap";
    case PageRoleKind::Pte: return "pte";
    case PageRoleKind::Pmd: return "pmd";
    case PageRoleKind::Pud: return "pud";
    case PageRoleKind::P4d: return "p4d";
    case PageRoleKind::Usage: return "usage";
    case PageRoleKind::Pgdat: return "pgdat";
    case PageRoleKind::DmapPmd: return "dmap_pmd";
    case PageRoleKind::DmapPud: return "dmap_pud";
    case PageRoleKind::DmapPte: return "dmap_pte";
  }
  return "?";
}

bool PageState::operator==(const PageState& o) const {
  if (online != o.online) return false;
  if (!online) return true;
  return nid == o.nid && reserved == o.reserved && private_ == o.private_ && buddy == o.buddy &&
         selfhosted == o.selfhosted && ref == o.ref && type == o.type && info == o.info &&
         alloc_known == o.alloc_known && free_block == o.free_block && on_pcp == o.on_pcp && slab == o.slab &&
         held_other == o.held_other && lru == o.lru && pgtable == o.pgtable;
}

const SectionEntry* MemmapSnapshot::section(uint64_t nr) const {
  for (const auto& s : sections)
    if (s.nr == nr) return &s;
  return nullptr;
}

const NodeEntry* MemmapSnapshot::node(int nid) const {
  for (const auto& n : nodes)
    if (n.nid == nid) return &n;
  return nullptr;
}

MemmapSnapshot parse_probe_snapshot(const std::string& text) {
  MemmapSnapshot s;
  std::istringstream all(text);
  std::string line;
  size_t n = 0;
  bool ended = false;
  size_t p_lines = 0;
  uint64_t pages = 0;
  std::set<std::string> header_seen;
  while (std::getline(all, line)) {
    ++n;
    if (line.empty() && n > 1) continue;
    if (ended) bad(n, "text after 'end'", line);
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (n == 1) {
      if (tag != "rig-probe") bad(n, "not probe output (expected 'rig-probe VERSION')", line);
      std::string v;
      in >> v;
      const uint64_t format = to_u64(v, n, line);
      if (format < kFormatMin || format > kFormatMax)
        bad(n, fmt::format("unknown probe format {} (this rig reads {} to {})", format, kFormatMin, kFormatMax), line);
      s.format = static_cast<int>(format);
      continue;
    }
    if ((tag == "probe" || tag == "kernel" || tag == "encoding" || tag == "types" || tag == "struct_page" ||
         tag == "section_shift" || tag == "paging_levels") &&
        !header_seen.insert(tag).second)
      bad(n, fmt::format("'{}' given twice", tag), line);
    if (tag == "probe") {
      in >> s.probe;
      if (s.probe != "kcore" && s.probe != "module") bad(n, "unknown probe route", line);
    } else if (tag == "kernel") {
      in >> s.kernel;
    } else if (tag == "encoding") {
      in >> s.encoding;
      if (s.encoding != "index-private" && s.encoding != "private-packed" && s.encoding != "none")
        bad(n, "unknown encoding", line);
    } else if (tag == "types") {
      auto f = fields(in, n, line);
      s.types = {to_u64(need(f, "section", n, line), n, line), to_u64(need(f, "mix", n, line), n, line),
                 to_u64(need(f, "node", n, line), n, line)};
    } else if (tag == "struct_page") {
      s.struct_page = next_int(in, n, line);
    } else if (tag == "section_shift") {
      s.section_shift = next_int(in, n, line);
      if (s.section_shift < 15 || s.section_shift > 40) bad(n, "implausible section shift", line);
    } else if (tag == "paging_levels") {
      s.paging_levels = next_int(in, n, line);
    } else if (tag == "S") {
      std::string nr;
      in >> nr;
      auto f = fields(in, n, line);
      SectionEntry e;
      e.nr = to_u64(nr, n, line);
      e.nid = to_int(need(f, "nid", n, line), n, line);
      e.early = to_u64(need(f, "early", n, line), n, line) != 0;
      e.online = to_u64(need(f, "online", n, line), n, line) != 0;
      s.sections.push_back(e);
    } else if (tag == "N") {
      std::string nid;
      in >> nid;
      auto f = fields(in, n, line);
      NodeEntry e;
      e.nid = to_int(nid, n, line);
      if (e.nid < 0) bad(n, "negative node id", line);
      e.pgdat_pfn = to_u64(need(f, "pgdat_pfn", n, line), n, line);
      e.pgdat_bytes = to_u64(need(f, "pgdat_bytes", n, line), n, line);
      e.online = to_u64(need(f, "online", n, line), n, line) != 0;
      s.nodes.push_back(e);
    } else if (tag == "P") {
      std::string pfn, count;
      in >> pfn >> count;
      auto f = fields(in, n, line);
      PageRun r;
      r.pfn = to_u64(pfn, n, line);
      r.count = to_u64(count, n, line);
      check_run(r.pfn, r.count, n, line);
      pages += r.count;  // each at most 2^40: no wrap
      if (pages > kSnapshotMaxPages)
        bad(n, fmt::format("more than {} pages in one snapshot (the probe's MAX_ENTRIES)", kSnapshotMaxPages), line);
      r.state = state_from(f, s.format, n, line);
      r.roles = roles_from(need(f, "roles", n, line), n, line);
      s.runs.push_back(std::move(r));
      ++p_lines;
    } else if (tag == "end") {
      std::string count;
      in >> count;
      if (to_u64(count, n, line) != p_lines)
        bad(n, fmt::format("'end' counts {} page lines, saw {}", count, p_lines), line);
      ended = true;
    } else if (tag == "overflow") {
      overflow(in, n, line);
    } else {
      bad(n, "unknown line", line);
    }
  }
  if (s.format == 0) throw ProbeFormatError("probe output is empty");
  if (!ended) throw ProbeFormatError(fmt::format("probe output truncated after line {} (no 'end')", n));
  if (s.section_shift == 0 || s.encoding.empty()) throw ProbeFormatError("probe output lacks its header");
  return s;
}

std::vector<PfnStateRun> parse_probe_query(const std::string& text) {
  std::vector<PfnStateRun> out;
  std::istringstream all(text);
  std::string line;
  size_t n = 0;
  int format = 0;
  bool ended = false;
  uint64_t pfns = 0;
  while (std::getline(all, line)) {
    ++n;
    if (line.empty() && n > 1) continue;
    if (ended) bad(n, "text after 'end'", line);
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (n == 1) {
      std::string v;
      in >> v;
      if (tag != "rig-probe-query" || (v != "1" && v != "2")) bad(n, "not a probe query answer of format 1 or 2", line);
      format = static_cast<int>(to_u64(v, n, line));
      continue;
    }
    if (tag == "end") {
      // Format 2 counts its Q lines; format 1 has a bare 'end'.
      std::string count;
      in >> count;
      if (format >= 2 && to_u64(count, n, line) != out.size())
        bad(n, fmt::format("'end' counts {} query lines, saw {}", count, out.size()), line);
      ended = true;
      continue;
    }
    if (tag == "overflow") overflow(in, n, line);
    if (tag != "Q") bad(n, "unknown line", line);
    std::string pfn, count;
    in >> pfn >> count;
    PfnStateRun r;
    r.pfn = to_u64(pfn, n, line);
    r.count = to_u64(count, n, line);
    check_run(r.pfn, r.count, n, line);
    pfns += r.count;  // each at most 2^40: no wrap
    if (pfns > kQueryMaxPfns)
      bad(n, fmt::format("more than {} pfns in one query answer (the probe's MAX_QUERY_PFNS)", kQueryMaxPfns), line);
    r.state = state_from(fields(in, n, line), format, n, line);
    out.push_back(r);
  }
  if (format == 0) throw ProbeFormatError("probe query answer is empty");
  if (!ended) throw ProbeFormatError("probe query answer truncated (no 'end')");
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> parse_query_ranges(const std::string& ranges) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  std::istringstream in(ranges);
  std::string tok;
  auto num = [&](const std::string& v) -> uint64_t {
    try {
      size_t used = 0;
      uint64_t x = 0;
      if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        if (v.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos) throw 0;
        x = std::stoull(v.substr(2), &used, 16);
        used += 2;
      } else {
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) throw 0;
        x = std::stoull(v, &used, 10);
      }
      if (used != v.size()) throw 0;
      return x;
    } catch (...) {
      throw ProbeFormatError("bad pfn range in a probe query: '" + one_line(tok, 120) + "'");
    }
  };
  while (in >> tok) {
    auto dash = tok.find('-');
    uint64_t first = num(tok.substr(0, dash));
    uint64_t last = dash == std::string::npos ? first : num(tok.substr(dash + 1));
    if (last < first)
      throw ProbeFormatError("bad pfn range in a probe query (last < first): '" + one_line(tok, 120) + "'");
    if (last >= kPfnLimit)
      throw ProbeFormatError("bad pfn range in a probe query (beyond the 2^52-byte physical address space): '" +
                             one_line(tok, 120) + "'");
    out.emplace_back(first, last);
  }
  return out;
}

void check_query_covers(const std::vector<PfnStateRun>& runs, const std::string& ranges) {
  const auto asked = parse_query_ranges(ranges);
  // Walk the asked pfns and the answered pfns as two sequences: they must be the same sequence.
  size_t ri = 0;
  uint64_t rpos = 0;  // pfns of runs[ri] already consumed
  for (const auto& [first, last] : asked) {
    uint64_t pfn = first;
    while (true) {
      if (ri == runs.size())
        throw ProbeFormatError(fmt::format("probe query answer misses pfns {}-{} (truncated or dropped)", pfn, last));
      const auto& r = runs[ri];
      const uint64_t at = r.pfn + rpos;
      if (at != pfn)
        throw ProbeFormatError(fmt::format("probe query answer gives pfn {} where pfn {} was asked ({} pfn {})", at,
                                           pfn, at > pfn ? "missing" : "extra", at > pfn ? pfn : at));
      const uint64_t take = std::min(r.count - rpos, last - pfn + 1);
      rpos += take;
      if (rpos == r.count) ++ri, rpos = 0;
      if (last - pfn + 1 == take) break;
      pfn += take;
    }
  }
  if (ri != runs.size())
    throw ProbeFormatError(
        fmt::format("probe query answer has extra pfns from {} on (not asked)", runs[ri].pfn + rpos));
}

std::map<uint64_t, PageState> states_by_pfn(const std::vector<PfnStateRun>& runs) {
  std::map<uint64_t, PageState> m;
  for (const auto& r : runs)
    for (uint64_t i = 0; i < r.count; ++i) m[r.pfn + i] = r.state;
  return m;
}

std::string query_ranges(const MemmapSnapshot& s) {
  std::string out;
  for (const auto& r : s.runs)
    out += r.count == 1 ? fmt::format("{} ", r.pfn) : fmt::format("{}-{} ", r.pfn, r.pfn + r.count - 1);
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace rig
