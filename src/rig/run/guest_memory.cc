#include "rig/run/guest_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "rig/base/errors.h"
#include "rig/base/shell.h"
#include "rig/base/text.h"

namespace rig {

SnapshotText read_probe_snapshot(Machine& m, double timeout_s) {
  GuestExecResult r = m.guest_exec(kProbeSnapshotCommand, timeout_s);
  if (!r.ok())
    throw InfraError(fmt::format("the probe failed in the guest (exit {}): {}", r.exit_code,
                                 r.err.empty() ? "no message" : one_line(r.err, 300)));
  return {parse_probe_snapshot(r.out), r.out};
}

std::string probe_query_command(const std::string& batch) { return shell_join({"rig-probe", "query", batch}); }

std::vector<std::string> query_batches(const std::string& ranges) {
  std::vector<std::string> out;
  std::string cur;
  uint64_t pfns = 0, tokens = 0;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
    pfns = tokens = 0;
  };
  for (auto [first, last] : parse_query_ranges(ranges)) {
    while (true) {
      // A range longer than one query allows is split; each piece is asked in order.
      const uint64_t piece_last = std::min(last, first + kProbeQueryMaxPfns - 1);
      const uint64_t n = piece_last - first + 1;
      std::string tok = first == piece_last ? std::to_string(first) : fmt::format("{}-{}", first, piece_last);
      if (pfns + n > kProbeQueryMaxPfns || tokens + 1 > kProbeQueryMaxRanges ||
          cur.size() + tok.size() + 1 > kProbeQueryMaxText)
        flush();
      cur += (cur.empty() ? "" : " ") + tok;
      pfns += n;
      ++tokens;
      if (piece_last == last) break;
      first = piece_last + 1;
    }
  }
  flush();
  return out;
}

std::vector<PfnStateRun> query_probe(Machine& m, const std::string& ranges, std::string* raw, double timeout_s) {
  std::vector<PfnStateRun> all;
  if (raw) raw->clear();
  for (const auto& batch : query_batches(ranges)) {
    // One batch per command (docs/probe-format.md: rig-probe query).
    GuestExecResult r = m.guest_exec(probe_query_command(batch), timeout_s);
    if (!r.ok()) {
      if (r.err.find("Invalid argument") != std::string::npos ||
          r.err.find("Argument list too long") != std::string::npos)
        throw ProbeFormatError(fmt::format("the probe rejected the query: {}", r.err.substr(0, 200)));
      throw InfraError(fmt::format("probe query failed: {}", r.err.substr(0, 200)));
    }
    if (raw) *raw += r.out;
    auto runs = parse_probe_query(r.out);
    check_query_covers(runs, batch);
    all.insert(all.end(), runs.begin(), runs.end());
  }
  return all;
}

std::string free_trace_start_command(uint64_t first_pfn, uint64_t last_pfn) {
  return shell_join({"rig-probe", "frees", "start", fmt::format("{}-{}", first_pfn, last_pfn)});
}

std::string free_trace_command(Machine& m, const std::string& command, double timeout_s) {
  GuestExecResult r = m.guest_exec(command, timeout_s);
  if (!r.ok())
    return fmt::format("'{}' failed (exit {}): {}", command, r.exit_code,
                       r.err.empty() ? "no message" : one_line(r.err, 200));
  if (r.out.empty()) return fmt::format("'{}' printed nothing", command);
  if (r.out.rfind("tracing on", 0) == 0) return "";
  std::string why = r.out.rfind("tracing absent: ", 0) == 0 ? r.out.substr(16) : r.out;
  while (!why.empty() && why.back() == '\n') why.pop_back();
  return one_line(why, 200);
}

FreeTrace read_free_trace(Machine& m, std::string* raw, double timeout_s) {
  GuestExecResult r = m.guest_exec(kFreeTraceStopCommand, timeout_s);
  if (raw) *raw = r.out + r.err;
  if (!r.ok()) {
    FreeTrace t;
    t.absent_why = fmt::format("'{}' failed (exit {}): {}", kFreeTraceStopCommand, r.exit_code,
                               r.err.empty() ? "no message" : one_line(r.err, 200));
    return t;
  }
  return parse_free_trace(r.out);
}

const char* const kHvoCommand =
    "f=/proc/sys/vm/hugetlb_optimize_vmemmap; if [ -e $f ]; then echo \"sysctl $(cat $f)\"; else echo 'sysctl "
    "absent'; fi; if [ -d /sys/kernel/mm/hugepages ]; then grep -H . /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages "
    "|| exit 4; else echo 'hugepages absent'; fi; echo end";

bool hvo_in_effect(const std::string& answer) {
  auto bad = [](const std::string& what, const std::string& line) {
    throw ProbeFormatError(fmt::format("HVO check: {}: '{}'", what, one_line(line, 100)));
  };
  std::istringstream in(answer);
  std::string line;
  std::optional<bool> sysctl_on;
  bool hugepages_read = false, hugepages_absent = false, end = false;
  uint64_t pages = 0;
  while (std::getline(in, line)) {
    if (end) bad("text after 'end'", line);
    if (line == "end") {
      end = true;
    } else if (line.rfind("sysctl ", 0) == 0 && !sysctl_on) {
      const std::string v = line.substr(7);
      if (v != "0" && v != "1" && v != "absent") bad("vm.hugetlb_optimize_vmemmap is neither 0 nor 1", line);
      sysctl_on = v == "1";
    } else if (line == "hugepages absent" && sysctl_on && !hugepages_read) {
      hugepages_read = hugepages_absent = true;
    } else if (line.rfind("/sys/kernel/mm/hugepages/hugepages-", 0) == 0 && sysctl_on && !hugepages_absent) {
      // /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages:4
      const auto colon = line.find("/nr_hugepages:");
      if (colon == std::string::npos) bad("not an nr_hugepages line", line);
      const std::string n = line.substr(colon + 14);
      if (n.empty() || n.size() > 19 || n.find_first_not_of("0123456789") != std::string::npos)
        bad("nr_hugepages is not a number", line);
      pages += std::stoull(n);
      hugepages_read = true;
    } else {
      bad("unexpected line", line);
    }
  }
  if (!sysctl_on || !hugepages_read || !end)
    bad("incomplete answer (the sysctl, every hugetlb size's nr_hugepages and 'end' are wanted)", answer);
  return *sysctl_on && pages > 0;
}

void refuse_hvo(Machine& m, double timeout_s) {
  GuestExecResult h = m.guest_exec(kHvoCommand, timeout_s);
  if (!h.ok())
    throw InfraError(fmt::format(
        "cannot tell whether this guest optimises the vmemmap of its hugetlb pages (HVO), which the page accounting "
        "does not model: the check failed (exit {}): {}",
        h.exit_code, h.err.empty() ? "no message" : one_line(h.err, 200)));
  bool on = false;
  try {
    on = hvo_in_effect(h.out);
  } catch (const ProbeFormatError& e) {
    throw InfraError(fmt::format(
        "cannot tell whether this guest optimises the vmemmap of its hugetlb pages (HVO), which the page accounting "
        "does not model: {}",
        e.what()));
  }
  if (on)
    throw InfraError(
        "this guest optimises the vmemmap of its hugetlb pages (vm.hugetlb_optimize_vmemmap=1 with hugetlb pages): "
        "the page accounting does not model HVO (docs/accounting.md); boot without hugetlb pages or with "
        "hugetlb_free_vmemmap=off");
}

std::optional<uint64_t> parse_node_memtotal(const std::string& meminfo) {
  return parse_node_meminfo_field(meminfo, "MemTotal");
}

std::optional<uint64_t> parse_node_meminfo_field(const std::string& meminfo, const std::string& field) {
  std::istringstream in(meminfo);
  std::string line;
  const std::string key = " " + field + ":";
  while (std::getline(in, line)) {
    auto at = line.find(key);
    if (at == std::string::npos) continue;
    std::istringstream v(line.substr(at + key.size()));
    uint64_t kb = 0;
    if (v >> kb) return kb;
  }
  return std::nullopt;
}

std::map<int, uint64_t> parse_zoneinfo_pcp_pages(const std::string& zoneinfo) {
  std::map<int, uint64_t> out;
  std::istringstream in(zoneinfo);
  std::string line;
  int node = -1;
  while (std::getline(in, line)) {
    if (line.rfind("Node ", 0) == 0) {
      node = std::atoi(line.c_str() + 5);
      out[node] += 0;
      continue;
    }
    auto at = line.find("count:");
    if (node < 0 || at == std::string::npos || line.find_first_not_of(' ') != at) continue;
    out[node] += std::strtoull(line.c_str() + at + 6, nullptr, 10);
  }
  return out;
}

NodeMemTotals read_node_memtotals(Machine& m, double timeout_s) {
  NodeMemTotals out;
  for (const auto& [nid, tf] : read_node_meminfo(m, timeout_s)) out[nid] = tf.first;
  return out;
}

std::map<int, std::pair<uint64_t, uint64_t>> read_node_meminfo(Machine& m, double timeout_s) {
  GuestExecResult r = m.guest_exec(
      "for d in /sys/devices/system/node/node[0-9]*; do echo \"@${d##*node}\"; cat \"$d/meminfo\"; done", timeout_s);
  if (!r.ok()) throw InfraError("cannot read node meminfo: " + r.err);
  GuestExecResult z = m.guest_exec("cat /proc/zoneinfo", timeout_s);
  if (!z.ok())
    throw InfraError(fmt::format("cannot read the guest's /proc/zoneinfo (exit {}): {}", z.exit_code, z.err));
  return parse_nodes_meminfo(r.out, parse_zoneinfo_pcp_pages(z.out));
}

std::map<int, std::pair<uint64_t, uint64_t>> parse_nodes_meminfo(const std::string& text,
                                                                 const std::map<int, uint64_t>& pcp_pages) {
  std::map<int, std::pair<uint64_t, uint64_t>> out;
  std::istringstream in(text);
  std::string line, block;
  int nid = -1;
  auto flush = [&] {
    if (nid >= 0) {
      auto total = parse_node_meminfo_field(block, "MemTotal");
      auto free = parse_node_meminfo_field(block, "MemFree");
      // A node the kernel lists but whose meminfo cannot be read is an error, never a node less.
      if (!total || !free)
        throw InfraError(fmt::format("node {}'s meminfo has no {} line", nid, total ? "MemFree" : "MemTotal"));
      auto in_pcp = pcp_pages.find(nid);
      out[nid] = {*total, *free + (in_pcp == pcp_pages.end() ? 0 : in_pcp->second * 4)};
    }
    block.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '@') {
      flush();
      char* end = nullptr;
      const long n = std::strtol(line.c_str() + 1, &end, 10);
      if (end == line.c_str() + 1 || *end != '\0' || n < 0 || n > 4096)
        throw InfraError("unreadable node meminfo header: " + one_line(line, 40));
      nid = static_cast<int>(n);
    } else {
      block += line + "\n";
    }
  }
  flush();
  return out;
}

}  // namespace rig
