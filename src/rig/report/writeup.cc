#include "rig/report/writeup.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "rig/base/shell.h"

namespace rig {

std::string wrap_text(const std::string& text, size_t width, const std::string& first_indent,
                      const std::string& indent) {
  std::istringstream in(text);
  std::string word, out, line = first_indent;
  bool empty = true;
  while (in >> word) {
    // A word longer than a line (a path, a hex run) is cut, never left to overflow.
    while (word.size() > width - indent.size()) {
      if (!empty) {
        out += line + "\n";
        line = indent;
      }
      const size_t room = width - line.size();
      out += line + word.substr(0, room) + "\n";
      word = word.substr(room);
      line = indent;
      empty = true;
    }
    if (!empty && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
      empty = true;
    }
    line += (empty ? "" : " ") + word;
    empty = false;
  }
  if (!empty) out += line + "\n";
  return out;
}

std::string where_to_look(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  if (n == "memmap-freed" || starts("cycles-no-free"))
    return "The memmap of removed memory is freed by mm/sparse.c section_deactivate() -> "
           "depopulate_section_memmap() -> vmemmap_free(), on x86-64 arch/x86/mm/init_64.c "
           "remove_pagetable() -> remove_pmd_table()/remove_pte_table() -> free_pagetable(): a 2 MiB "
           "block mapped by a PMD is freed with the order of PMD_SIZE (an order-0 free gives back only "
           "its head page); boot memmap goes through put_page_bootmem() (mm/bootmem_info.c) where the "
           "kernel has bootmem info.";
  if (n == "page-tables-freed")
    return "vmemmap and direct-map page tables are freed when they empty by arch/x86/mm/init_64.c "
           "free_pte_table(), free_pmd_table() and (5-level paging only) free_pud_table(), called from "
           "remove_pte_table()/remove_pmd_table()/remove_pud_table(); boot tables through "
           "free_pagetable() -> put_page_bootmem().";
  if (n == "usage-freed")
    return "mm/sparse.c section_deactivate(): the usage map of a section added at run time is "
           "kfree()d when its last subsection goes; an early section's is kept for re-adding.";
  if (starts("boot-tags-pgdat") || n == "pgdat-kept" || starts("pgdat-reused"))
    return "mm/bootmem_info.c register_page_bootmem_info_node(): every page of NODE_DATA(nid) is "
           "tagged NODE_INFO with get_page_bootmem(); pgdat is never freed "
           "(mm/memory_hotplug.c try_offline_node() only offlines the node).";
  if (n == "boot-tags-memmap")
    return "arch/x86/mm/init_64.c register_page_bootmem_memmap(): get_page_bootmem(section_nr, page, "
           "SECTION_INFO) over the pages backing each boot section's memmap.";
  if (n == "boot-tags-page-tables")
    return "arch/x86/mm/init_64.c register_page_bootmem_memmap(): get_page_bootmem(section_nr, table, "
           "MIX_SECTION_INFO) once per vmemmap step for each PTE/PMD/PUD table page; "
           "mm/bootmem_info.c register_page_bootmem_info_section() for the usage map.";
  if (starts("memtotal") || starts("cycles-memtotal"))
    return "MemTotal counts managed pages: mm/page_alloc.c adjust_managed_page_count() and "
           "free_reserved_page() when Reserved pages (bootmem memmap, tables) are freed; "
           "mm/memory_hotplug.c offline_pages() for the removed memory.";
  if (n == "offline-skips-memmap")
    return "mm/memory_hotplug.c offline_pages() and mm/page_isolation.c: with memmap_on_memory the "
           "pages holding the memmap (PageVmemmapSelfHosted) must be skipped by isolation and "
           "migration.";
  if (n == "removed-memory-gone" || starts("dependents-first"))
    return "mm/memory_hotplug.c remove_memory() -> arch_remove_memory(); a section whose memmap "
           "lives in another must go first (mm/sparse.c).";
  return "mm/memory_hotplug.c (offline_pages(), remove_memory()) and mm/sparse.c "
         "(section_deactivate()).";
}

namespace {

std::string trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(' ');
  return a == std::string::npos ? std::string() : s.substr(a);
}

// The function of a trace line ("try_remove_memory+0x145/0x170" -> "try_remove_memory").
std::string function_of(const std::string& frame) { return frame.substr(0, frame.find_first_of("+ ")); }

// A line of a kernel report a reader of the report does not need: the code bytes, registers,
// the machine, the modules, the trace's brackets, unreliable frames ("? ...").
bool report_noise(const std::string& line) {
  static const std::regex registers("(RSP|RAX|RDX|RBP|R8|R10|R13|FS|CS|CR2|DR0|DR3|DR6):.*");
  const std::string t = trimmed(line);
  return t.rfind("Code: ", 0) == 0 || std::regex_match(t, registers) || t.rfind("Hardware name:", 0) == 0 ||
         t.rfind("Modules linked in:", 0) == 0 || (!t.empty() && t[0] == '<') || t.rfind("? ", 0) == 0 ||
         t.rfind("---[ end trace", 0) == 0;
}

// The kernel's lines just before a report at console line `line_no` (1-based), oldest first: at
// most three, kernel lines only ("[ time] text", the time dropped), without the "cut here" rule.
std::vector<std::string> lines_before(const std::vector<std::string>& console, int line_no) {
  std::vector<std::string> out;
  static const std::regex kernel_line("\\[ *[0-9]+\\.[0-9]+\\] (.*)");
  for (int i = line_no - 2; i >= 0 && i < static_cast<int>(console.size()) && out.size() < 3; --i) {
    std::string line = console[static_cast<size_t>(i)];
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the serial console's CRLF
    std::smatch m;
    if (!std::regex_match(line, m, kernel_line)) break;
    const std::string text = m[1].str();
    if (text.find("[ cut here ]") != std::string::npos) continue;
    out.insert(out.begin(), text);
  }
  return out;
}

std::string pfn_range(uint64_t first, uint64_t last) {
  return first == last ? fmt::format("pfn {:#x}", first) : fmt::format("pfn {:#x}-{:#x}", first, last);
}

std::string step_line(const StepResult& s) {
  return fmt::format("{} {} {}: {}{}", s.index, s.action, s.target, s.outcome,
                     s.ok || s.expected.empty() ? "" : fmt::format(" (expected {})", s.expected));
}

// The QEMU command, one option per line with its argument (each line shell_join()ed, so it runs
// when pasted), the run's own files named by what they are (the reader builds them with rig
// repro), so no line has to be cut.
std::string qemu_lines(const std::vector<std::string>& w, const std::string& kernel) {
  std::vector<std::vector<std::string>> groups;
  for (size_t i = 0; i < w.size(); ++i) {
    const std::string& g = w[i];
    // The rig's own way of starting: paused for QMP, or restored from its snapshot cache.
    if (g == "-S") continue;
    if (g == "-incoming") {
      ++i;
      continue;
    }
    if (g == "-kernel" || g == "-initrd") {
      groups.push_back({g, g == "-kernel" ? "bzImage" : "initramfs.cpio.gz"});
      ++i;
      continue;
    }
    if (!g.empty() && g[0] == '-' && i + 1 < w.size() && (w[i + 1].empty() || w[i + 1][0] != '-')) {
      std::string arg = w[++i];
      const auto at = arg.find("path=");
      if (arg.rfind("file,", 0) == 0 && at != std::string::npos) arg = arg.substr(0, at) + "path=console.log";
      groups.push_back({g, arg});
    } else {
      groups.push_back({g});
    }
  }
  std::string out;
  for (size_t i = 0; i < groups.size(); ++i)
    out += (i == 0 ? "    " : "      ") + shell_join(groups[i]) + (i + 1 < groups.size() ? " \\\n" : "\n");
  out += wrap_text(fmt::format("(bzImage: {}; initramfs.cpio.gz: the rig's guest image with its probe; "
                               "`rig repro` writes both beside a run.sh that starts this)",
                               kernel),
                   kWriteupColumns, "    ", "    ");
  return out;
}

// A shell command (shell_join()ed word by word) wrapped with " \\" continuations, so it still
// runs when pasted.
std::string command_lines(const std::vector<std::string>& argv, const std::string& indent) {
  std::string out, line = indent;
  bool first = true;
  for (const auto& a : argv) {
    const std::string w = shell_join({a});
    if (!first && line.size() + 1 + w.size() + 2 > kWriteupColumns) {
      out += line + " \\\n";
      line = indent + "  ";
      first = true;
    }
    line += (first ? "" : " ") + w;
    first = false;
  }
  return out + line + "\n";
}

}  // namespace

std::string where_to_look_report(const ConsoleFinding& f) {
  // What is known of a function a report names (docs/findings/, kernel-semantics).
  static const std::map<std::string, std::string> known = {
      {"try_remove_memory",
       "mm/memory_hotplug.c try_remove_memory() starts with BUG_ON(check_hotplug_memory_range(start, "
       "size)): the range must be aligned to memory_block_size_bytes(). On x86-64 "
       "arch/x86/mm/init_64.c probe_memory_block_size() makes a block, once boot memory reaches "
       "64 GiB and under a hypervisor, the largest power of two up to 2 GiB that the end of boot "
       "memory is aligned to. drivers/acpi/acpi_memhotplug.c takes a DIMM whose memory the kernel "
       "already has (add_memory() answers -EEXIST: boot memory) as enabled without that check, and "
       "acpi_memory_remove_memory() hands its range to __remove_memory() as it is."}};
  std::string function, callers;
  bool trace = false;
  int frames = 0;
  for (const auto& l : f.lines) {
    const std::string t = trimmed(l);
    if (t.rfind("RIP: ", 0) == 0 && function.empty()) {
      const auto colon = t.find(':', 5);
      function = function_of(t.substr(colon == std::string::npos ? 5 : colon + 1));
    } else if (t == "Call Trace:") {
      trace = true;
    } else if (trace && frames < 4 && !t.empty() && t[0] != '<' && t[0] != '?') {
      callers += (callers.empty() ? "" : ", from ") + function_of(t) + "()";
      ++frames;
    }
  }
  std::string out = "The kernel's report: " + f.headline;
  if (!function.empty()) out += fmt::format(", in {}()", function);
  if (!callers.empty()) out += ", called from " + callers;
  out += ". ";
  const auto it = known.find(function);
  return out + (it != known.end() ? it->second : where_to_look(""));
}

std::string writeup_text(const ScenarioResult& r, const std::vector<ScenarioResult>& all,
                         const std::vector<std::string>& qemu_argv, const std::string& check,
                         const WriteupSources& sources) {
  const size_t W = kWriteupColumns;
  // A known failure (xfail) is a kernel defect too: its write-up reads the same.
  auto failing = [](const CheckRecord& c) { return c.status == CheckStatus::Fail || c.status == CheckStatus::XFail; };
  const CheckRecord* failed = nullptr;
  for (const auto& c : r.checks)
    if (failing(c) && (check.empty() || c.name == check)) {
      failed = &c;
      break;
    }
  // Without a failed check, the kernel's first report (BUG, Oops, ...) is the headline.
  const ConsoleFinding* report = nullptr;
  if (!failed)
    for (const auto& f : r.console_findings)
      if (f.severity != Severity::Notice) {
        report = &f;
        break;
      }
  std::string out;
  // Without a check or a report, the step that ended otherwise than asked, else the reason.
  const StepResult* bad_step = nullptr;
  for (const auto& st : r.steps)
    if (!bad_step && !st.ok && !st.outcome.empty()) bad_step = &st;
  const std::string what = failed ? fmt::format("{} (spec case {})", failed->name, failed->case_no)
                           : bad_step
                               ? fmt::format("step {} {} {}: {} (expected {})", bad_step->index, bad_step->action,
                                             bad_step->target, bad_step->outcome, bad_step->expected)
                               : std::string(r.reason.substr(0, 60));
  out += wrap_text(
      report ? fmt::format("Subject: [BUG] memory hot-remove: {}: {} on {}", r.scenario, report->headline, r.kernel)
             : fmt::format("Subject: [BUG] memory hot-remove: {} fails {} on {}", r.scenario, what, r.kernel),
      W, "", "  ");
  out += "\n";

  // Affected: the same scenario failing the same check (or failing, without a check); not
  // affected: where it passed.
  std::set<std::string> affected, unaffected, other;
  for (const auto& x : all) {
    if (x.scenario != r.scenario) continue;
    if (sources.finding) {
      const FindingPresence p = finding_presence(*sources.finding, x);
      if (p.kind == FindingPresence::Shows)
        affected.insert(x.kernel);
      else if (p.kind == FindingPresence::Absent)
        unaffected.insert(x.kernel);
      else  // why it could not tell, without the scenario's name the report already gave
        other.insert(fmt::format("{} ({})", x.kernel,
                                 p.why.rfind(x.scenario + ": ", 0) == 0 ? p.why.substr(x.scenario.size() + 2) : p.why));
      continue;
    }
    bool same = x.verdict == Verdict::Fail || x.verdict == Verdict::XFail;
    if (failed && same) {
      same = false;
      for (const auto& c : x.checks) same |= failing(c) && c.name == failed->name;
    }
    if (same)
      affected.insert(x.kernel);
    else if (x.verdict == Verdict::Pass)
      unaffected.insert(x.kernel);
    else
      other.insert(fmt::format("{} ({})", x.kernel, verdict_name(x.verdict)));
  }
  affected.insert(r.kernel);
  for (const auto& k : affected) unaffected.erase(k);
  auto list = [](const std::set<std::string>& s) {
    std::string t;
    for (const auto& k : s) t += (t.empty() ? "" : ", ") + k;
    return t.empty() ? std::string("none in these results") : t;
  };
  out += wrap_text("Affected: " + list(affected), W, "", "  ");
  out += wrap_text("Not affected: " + list(unaffected), W, "", "  ");
  if (!other.empty()) out += wrap_text("Otherwise: " + list(other), W, "", "  ");
  // Where the register's bisections put it (rig bisect --finding over Debian's builds).
  if (sources.finding) {
    const RegisteredFinding& f = *sources.finding;
    std::vector<std::string> said;
    if (!f.first_bad.empty())
      said.push_back(fmt::format("first bad {}{}", f.first_bad,
                                 f.last_good.empty() ? "" : fmt::format(" (last good {})", f.last_good)));
    if (!f.fixed_in.empty())
      said.push_back(fmt::format("fixed in {}{}", f.fixed_in,
                                 f.last_bad.empty() ? "" : fmt::format(" (last bad {})", f.last_bad)));
    if (!said.empty()) {
      std::string line = "Bisected over Debian's builds: ";
      for (size_t i = 0; i < said.size(); ++i) line += (i ? "; " : "") + said[i];
      out += wrap_text(line, W, "", "  ");
    }
  }
  out += "\n";

  out += "What happens\n";
  std::string topo;
  for (const auto& d : r.dimms)
    topo += fmt::format("{}{} {} at {:#x} on node {}{}", topo.empty() ? "" : "; ", d.id,
                        d.size >= (1ull << 30) && d.size % (1ull << 30) == 0 ? fmt::format("{}G", d.size >> 30)
                                                                             : fmt::format("{}M", d.size >> 20),
                        d.addr, d.node, d.boot ? " (present at boot)" : "");
  out += wrap_text(fmt::format("A QEMU guest ({} vCPU model, {} NUMA nodes) with DIMMs: {}.", r.cpu, r.nodes.size(),
                               topo.empty() ? "none" : topo),
                   W, "  ", "  ");
  out += "  Steps:\n";
  for (const auto& s : r.steps) out += wrap_text(step_line(s), W, "    ", "      ");
  // The steps the run did not get through: the first was under way when the guest went down.
  for (size_t i = r.steps.size(); i < sources.planned_steps.size() && r.verdict != Verdict::Pass; ++i) {
    const Step& st = sources.planned_steps[i];
    const std::string target = !st.dimm.empty()     ? st.dimm
                               : !st.device.empty() ? st.device
                                                    : fmt::format("node {}", st.node);
    out += wrap_text(fmt::format("{} {} {}: {}{}", i, step_action_name(st.action), target,
                                 i == r.steps.size() ? "not finished" : "not run",
                                 st.expect.empty() ? "" : fmt::format(" (expected {})", st.expect)),
                     W, "    ", "      ");
  }
  // The reason's first clause: the evidence below has the rest.
  const auto evidence_at = r.reason.find(": pfn ");
  out += wrap_text("Result: " + r.reason.substr(0, evidence_at), W, "  ", "  ");
  out += "\n";

  if (failed) {
    out += fmt::format("Evidence: {} ({} pages)\n", failed->name, failed->pages.size());
    // Consecutive pfns with the same roles, expectation and state, as one range.
    size_t shown = 0;
    for (size_t i = 0; i < failed->pages.size() && shown < 12;) {
      size_t j = i + 1;
      while (j < failed->pages.size() && failed->pages[j].pfn == failed->pages[j - 1].pfn + 1 &&
             failed->pages[j].expected == failed->pages[i].expected && failed->pages[j].seen == failed->pages[i].seen)
        ++j;
      const CheckPage& p = failed->pages[i];
      out += wrap_text(fmt::format("{} ({} pages), roles {}", pfn_range(p.pfn, failed->pages[j - 1].pfn), j - i,
                                   p.roles.empty() ? "-" : p.roles),
                       W, "  ", "    ");
      if (!p.expected.empty()) out += wrap_text("expected: " + p.expected, W, "    ", "      ");
      out += wrap_text("seen: " + p.seen, W, "    ", "      ");
      ++shown;
      i = j;
    }
    if (failed->pages.empty()) out += wrap_text(failed->detail, W, "  ", "  ");
    out += "\n";
  }

  std::string counters;
  for (const auto& c : r.checks)
    if (c.name.rfind("memtotal", 0) == 0 || c.name.rfind("cycles-", 0) == 0)
      counters += wrap_text(fmt::format("step {} {}: {}: {}", c.step, c.name, check_status_name(c.status), c.detail), W,
                            "  ", "    ");
  if (!counters.empty()) out += "Counters\n" + counters + "\n";

  std::string console;
  for (const auto& f : r.console_findings) {
    if (f.severity == Severity::Notice) continue;
    if (&f == report)
      for (const auto& l : lines_before(sources.console, f.line_no))
        console += wrap_text("before it: " + l, W, "  ", "    ");
    console += wrap_text(fmt::format("console line {} ({}): {}", f.line_no, f.kind, f.headline), W, "  ", "    ");
    size_t n = 0;
    for (const auto& l : f.lines)
      if (l != f.headline && !report_noise(l) && n++ < 16) console += wrap_text(trimmed(l), W, "    ", "      ");
  }
  if (!console.empty()) out += "Kernel reports\n" + console + "\n";

  out += "Where to look\n";
  out += wrap_text(report ? where_to_look_report(*report) : where_to_look(failed ? failed->name : ""), W, "  ", "  ");
  out += "\n";

  out += "How to reproduce\n";
  const std::string scenario_arg = r.scenario_path.empty() ? r.scenario : r.scenario_path;
  const std::string kernel_arg = r.kernel_name.empty() ? r.kernel : r.kernel_name;
  if (sources.finding) {
    out +=
        command_lines({"rig", "repro", scenario_arg, "--kernel", kernel_arg, "--finding", sources.finding->id}, "    ");
    out += wrap_text(
        "runs the scenario once and writes a reproducer that needs QEMU and sh only and looks for this "
        "finding's signs (" +
            std::string(report   ? "the kernel's report"
                        : failed ? "the pages of the evidence above"
                                 : "the step that ended otherwise") +
            "): run.sh exits 1 when it is reproduced, 0 when not. Its signs judge another kernel too: rig repro " +
            "SCENARIO --kernel OTHER --signs-of DIR (DIR: the first reproducer's folder).",
        W, "  ", "  ");
  } else {
    out += command_lines({"rig", "run", scenario_arg, "--kernel", kernel_arg}, "    ");
    out += wrap_text(
        "writes, when the run fails, a reproducer into the run's folder (repro/run.sh) that needs QEMU and sh only "
        "and looks for that run's signs (the pages, steps and kernel reports that failed): run.sh exits 1 when the "
        "failure is reproduced, 0 when not.",
        W, "  ", "  ");
  }
  if (!qemu_argv.empty()) {
    out += "  The guest's QEMU command line:\n";
    out += qemu_lines(qemu_argv, r.kernel);
  }
  out += "\n";

  if (!sources.other_failures.empty()) {
    out += "Other failures of the same run, not this report's\n";
    for (const auto& o : sources.other_failures) out += wrap_text(o, W, "  ", "    ");
    out += "\n";
  }

  std::string unknown;
  for (const auto& c : r.checks)
    if (c.status == CheckStatus::NotApplicable && c.detail.rfind("not finding ", 0) != 0)
      unknown += wrap_text(
          fmt::format("{} {}: {}", c.step < 0 ? std::string("boot") : fmt::format("step {}", c.step), c.name, c.detail),
          W, "  ", "    ");
  for (const auto& [c, why] : r.cases_not_exercised)
    unknown += wrap_text(fmt::format("case {} not exercised: {}", c, why), W, "  ", "    ");
  if (!unknown.empty()) out += "What the rig could not tell\n" + unknown;
  return out;
}

}  // namespace rig
