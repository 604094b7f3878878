#include "rig/spec/free_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "rig/base/text.h"

namespace rig {

namespace {

uint64_t number(const std::string& s, const std::string& line) {
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw ProbeFormatError(fmt::format("free trace: not a number in '{}'", one_line(line, 80)));
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    throw ProbeFormatError(fmt::format("free trace: number out of range in '{}'", one_line(line, 80)));
  }
}

}  // namespace

bool FreeTrace::covers(uint64_t pfn) const {
  auto it = std::upper_bound(freed.begin(), freed.end(), pfn,
                             [](uint64_t p, const std::pair<uint64_t, uint64_t>& r) { return p < r.first; });
  return it != freed.begin() && std::prev(it)->second >= pfn;
}

std::string FreeTrace::summary() const {
  if (!available) return "no free trace: " + (absent_why.empty() ? std::string("not taken") : absent_why);
  if (lost) return fmt::format("free trace incomplete: {} frees traced, {} overwritten", events, lost);
  return fmt::format("{} frees traced ({} pfn ranges)", events, freed.size());
}

FreeTrace parse_free_trace(const std::string& text) {
  FreeTrace t;
  std::istringstream in(text);
  std::string line;
  bool header = false, end = false, tracing = false, events = false, lost = false;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (end) throw ProbeFormatError("free trace: text after 'end'");
    if (!header) {
      if (line != "rig-frees 1")
        throw ProbeFormatError(fmt::format("free trace: not 'rig-frees 1': '{}'", one_line(line, 80)));
      header = true;
      continue;
    }
    std::istringstream ls(line);
    std::string key, a;
    ls >> key;
    if (key == "end") {
      end = true;
    } else if (key == "tracing") {
      std::string rest;
      std::getline(ls, rest);
      if (rest == " on") {
        t.available = true;
      } else if (rest.rfind(" absent", 0) == 0) {
        t.available = false;
        t.absent_why = rest.size() > 9 ? rest.substr(9) : "absent";
      } else {
        throw ProbeFormatError(fmt::format("free trace: bad line '{}'", one_line(line, 80)));
      }
      tracing = true;
    } else if (key == "events" || key == "lost") {
      ls >> a;
      (key == "events" ? t.events : t.lost) = number(a, line);
      (key == "events" ? events : lost) = true;
    } else if (key == "freed") {
      ls >> a;
      const auto dash = a.find('-');
      if (dash == std::string::npos)
        throw ProbeFormatError(fmt::format("free trace: bad range '{}'", one_line(line, 80)));
      const uint64_t first = number(a.substr(0, dash), line), last = number(a.substr(dash + 1), line);
      if (last < first || (!t.freed.empty() && first <= t.freed.back().second))
        throw ProbeFormatError(fmt::format("free trace: range out of order '{}'", one_line(line, 80)));
      if (t.freed.size() >= kMaxFreeTraceRanges) throw ProbeFormatError("free trace: too many ranges");
      t.freed.emplace_back(first, last);
    } else {
      throw ProbeFormatError(fmt::format("free trace: unknown line '{}'", one_line(line, 80)));
    }
  }
  if (!header || !end || !tracing) throw ProbeFormatError("free trace: truncated (no header, 'tracing' or 'end')");
  if (!t.available && (t.events || !t.freed.empty()))
    throw ProbeFormatError("free trace: frees listed but tracing absent");
  // Without both counts nothing says the list is whole: never take it as complete.
  if (t.available && (!events || !lost)) throw ProbeFormatError("free trace: 'events' or 'lost' missing");
  return t;
}

void apply_free_trace(const FreeTrace& t, std::map<uint64_t, PageState>& after) {
  if (!t.complete()) return;
  for (auto& [pfn, st] : after) {
    st.frees_traced = true;
    st.traced_free = t.covers(pfn);
  }
}

}  // namespace rig
