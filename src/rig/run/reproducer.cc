#include "rig/run/reproducer.h"
#include "rig/run/guest_memory.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "rig/base/errors.h"
#include "rig/base/atomic_file.h"
#include "rig/base/paths.h"
#include "rig/base/safe_read.h"
#include "rig/base/shell.h"
#include "rig/base/text.h"
#include "rig/machine/console_parser.h"
#include "rig/machine/launch_spec.h"
#include "rig/machine/machine.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/run/repro_lib.h"  // generated from rig/repro/lib.sh

namespace fs = boost::filesystem;

namespace rig {
namespace {

// One line of text for a comment, a message or an item of ./expect: control characters (a
// newline above all) escaped, bounded (base/text.h).
std::string flat(const std::string& s, size_t max = 300) { return one_line(s, max); }

// A console rule as ./expect writes it: "^" marks a needle that must start the line.
std::string expect_needle(const ConsoleRule& r) { return (r.at_start ? "^" : "") + std::string(r.needle); }
constexpr size_t kMaxPagesPerCheck = 4096;

// "zone STEP NODE ZONE present SEEN EXPECTED" for each clause of a failed counters-zones check
// (guest_counters.h: "node 1 zone Normal present 0 before, 32768 after; expected 0") whose
// present pages were not what the model expected.
std::vector<std::string> zone_items(const CheckRecord& c) {
  std::vector<std::string> out;
  if (c.name != "counters-zones") return out;
  static const std::regex clause(
      "node ([0-9]{1,4}) zone ([A-Za-z0-9]{1,16}) present ([0-9]{1,15}) before, ([0-9]{1,15}) after; "
      "expected ([0-9]{1,15})");
  for (auto it = std::sregex_iterator(c.detail.begin(), c.detail.end(), clause); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    if (m[4].str() == m[5].str()) continue;
    out.push_back(fmt::format("zone {} {} {} present {} {}", c.step, m[1].str(), m[2].str(), m[4].str(), m[5].str()));
  }
  return out;
}

// The outcome a step must end with, in the runner's words (scenario_runner.cc).
std::string expected_outcome(const Step& st) {
  switch (st.action) {
    case StepAction::Plug: return "added";
    case StepAction::Online: return "online";
    case StepAction::Unplug: return st.expect.empty() ? "removed" : st.expect;
    case StepAction::ExpectNode:
    case StepAction::ExpectDimm:
    case StepAction::Resize: return st.expect;
  }
  return st.expect;
}

// "1 2 3 7 9 10" -> "1-3 7 9-10", in lines of at most `width` characters (a console line the
// guest shell takes whole; the probe takes any number of ranges).
std::vector<std::string> pfn_range_lines(const std::set<uint64_t>& pfns, size_t width = 600) {
  std::vector<std::string> lines;
  std::string cur;
  auto flush_range = [&](uint64_t a, uint64_t b) {
    std::string r = a == b ? fmt::format("{}", a) : fmt::format("{}-{}", a, b);
    if (!cur.empty() && cur.size() + 1 + r.size() > width) {
      lines.push_back(cur);
      cur.clear();
    }
    cur += (cur.empty() ? "" : " ") + r;
  };
  bool open = false;
  uint64_t first = 0, prev = 0;
  for (uint64_t p : pfns) {
    if (open && p == prev + 1) {
      prev = p;
      continue;
    }
    if (open) flush_range(first, prev);
    first = prev = p;
    open = true;
  }
  if (open) flush_range(first, prev);
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

// After a failed unplug, does QEMU still list the DIMM? What the runner saw (StepResult::qemu_lists);
// a result without it: listed unless removed.
bool listed_after_unplug(const StepResult& st) { return st.qemu_lists.value_or(st.outcome != "removed"); }

std::string limit_arg(double timeout_s) {
  return timeout_s > 0 ? fmt::format("{}", static_cast<long long>(std::ceil(timeout_s)))
                       : std::string("\"$STEP_WAIT\"");
}

// The part of run.sh that does not depend on the scenario: rig/repro/lib.sh, read into the
// binary at build time (src/CMakeLists.txt) so a reproducer needs no rig tree.
const char* const kLibrary = kReproLib;

const char* kMain = R"SH(
run_steps
judge
)SH";

}  // namespace

std::map<std::string, uint64_t> snapshot_role_anchors(const std::string& text) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("P ", 0) != 0) continue;
    const size_t r = l.find(" roles=");
    if (r == std::string::npos) continue;
    std::string roles = l.substr(r + 7);
    roles = roles.substr(0, roles.find(' '));
    uint64_t pfn = 0;
    try {
      pfn = std::stoull(l.substr(2, l.find(' ', 2) - 2));
    } catch (const std::exception&) {
      continue;
    }
    auto it = out.find(roles);
    if (it == out.end() || pfn < it->second) out[roles] = pfn;
  }
  return out;
}

std::string reproducer_expect(const Scenario& s, const ScenarioResult* f, const RoleAnchors* anchors) {
  std::string out =
      "# What run.sh looks for, one item a line: KIND STEP ... (STEP -1: at boot). Kinds: expect, path, last,\n"
      "# listed, outcome, page, query, console, watch, ignore, note (see README.md). Lines starting with # are "
      "comments.\n";
  // One item a line, whatever bytes a result holds: control characters escaped.
  auto line = [&out](const std::string& l) { out += one_line(l, std::string::npos) + "\n"; };
  const int n = static_cast<int>(s.steps.size());
  const int total = n * std::max(1, s.cycles);
  auto step_of = [&](int index) -> const Step* {
    return index >= 0 && index < total ? &s.steps[static_cast<size_t>(index % n)] : nullptr;
  };

  if (!f) {
    line(
        "# No failed run: the scenario's own expectations. A step that ends otherwise, or a kernel report, is "
        "reproduced.");
    line("mode scenario");
    for (int i = 0; i < total; ++i) line(fmt::format("expect {} {}", i, expected_outcome(*step_of(i))));
    for (const auto& r : console_rules()) line(fmt::format("console {} {}", r.kind, expect_needle(r)));
    line(fmt::format("ignore {}", kRefusalDumpNeedle));
    return out;
  }

  line(fmt::format("# From the failed run of {} on {}: {}", f->scenario, f->kernel, flat(f->reason)));
  if (!f->artifacts.empty()) line(fmt::format("# Its artifacts: {}", f->artifacts));
  line(
      "# Any of these signs showing again is reproduced; a step that ends otherwise than in the failed run cannot be "
      "compared.");
  line("mode failure");
  std::string body;
  auto item = [&body](const std::string& l) { body += one_line(l, std::string::npos) + "\n"; };
  int last = -2;
  int last_run = -1;
  for (const auto& st : f->steps) last_run = std::max(last_run, st.index);

  // Steps that did not do what the scenario expects.
  for (const auto& st : f->steps) {
    const Step* sc = step_of(st.index);
    if (st.ok || !sc) continue;
    item(fmt::format("# step {} {} {}: expected {}, got {}: {}", st.index, st.action, st.target, st.expected,
                     st.outcome, flat(st.detail)));
    if (sc->action == StepAction::Unplug)
      item(fmt::format("listed {} {} {}", st.index, sc->dimm, listed_after_unplug(st) ? "yes" : "no"));
    else
      item(fmt::format("outcome {} {}", st.index, st.outcome));
    last = std::max(last, st.index);
  }

  // Failed checks: the pages they name, or a note.
  std::map<int, std::set<uint64_t>> pfns;
  for (const auto& c : f->checks) {
    if (c.status != CheckStatus::Fail) continue;
    item(fmt::format("# {} (case {}, {}): {}", c.name, c.case_no,
                     c.step < 0 ? "at boot" : fmt::format("after step {}", c.step), flat(c.detail)));
    size_t judged = 0, not_judged = 0, left_out = 0;
    for (const auto& p : c.pages) {
      const std::string& tokens = p.evidence;
      if (tokens.empty()) {
        ++not_judged;
        continue;
      }
      if (judged == kMaxPagesPerCheck) {
        ++left_out;
        continue;
      }
      item(fmt::format("page {} {} {} {}", c.step, p.pfn, c.name, tokens));
      pfns[c.step].insert(p.pfn);
      // Where run.sh finds the page again: by its roles in the snapshot the check judged against
      // (at boot, or before the unplug it followed), as this run's snapshot placed them.
      const Step* judged_after = step_of(c.step);
      const std::string snap = c.step < 0 ? "boot" : fmt::format("before-step{}", c.step);
      if (anchors && !p.roles.empty() && p.roles.find_first_of(" \t") == std::string::npos &&
          (c.step < 0 || (judged_after && judged_after->action == StepAction::Unplug))) {
        auto a = anchors->find(snap);
        if (a != anchors->end()) {
          auto r = a->second.find(p.roles);
          if (r != a->second.end() && r->second <= p.pfn)
            item(fmt::format("at {} {} probe-{}.txt {} {}", c.step, p.pfn, snap, p.pfn - r->second, p.roles));
        }
      }
      ++judged;
    }
    if (not_judged)
      item(fmt::format("note {}: {} of its pages name no state the probe can be compared with", c.name, not_judged));
    if (left_out)
      item(fmt::format("note {}: {} more pages left out (the first {} are enough to tell)", c.name, left_out,
                       kMaxPagesPerCheck));
    if (judged) last = std::max(last, c.step);
    // A zone's present pages (counters-zones): /proc/zoneinfo shows them, so run.sh can look.
    // Managed pages wander by a few between boots and kernels: not a sign.
    const std::vector<std::string> zones = c.pages.empty() ? zone_items(c) : std::vector<std::string>{};
    for (const auto& z : zones) item(z);
    if (!zones.empty()) last = std::max(last, c.step);
    if (c.pages.empty() && zones.empty())
      item(fmt::format("note {}: a check without pages ({}); run.sh does not judge it", c.name, flat(c.detail, 200)));
  }
  for (const auto& [step, set] : pfns)
    for (const auto& r : pfn_range_lines(set)) item(fmt::format("query {} {}", step, r));

  // Kernel reports: the failed run's are evidence, the other kinds are only shown.
  std::set<std::string> judged_needles;
  for (const auto& fd : f->console_findings) {
    if (fd.severity == Severity::Notice) continue;
    const ConsoleRule* hit = console_rule_for(fd.headline);
    if (!hit) {
      item(fmt::format("note a kernel report ({}) no needle matches: {}", fd.kind, flat(fd.headline)));
      continue;
    }
    item(fmt::format("# was: {}", flat(fd.headline)));
    if (judged_needles.insert(expect_needle(*hit)).second)
      item(fmt::format("console {} {}", hit->kind, expect_needle(*hit)));
    // The report came during the last step the run recorded or, when the guest went down with
    // it, during the next one, which the run never recorded: the rerun goes that far too.
    last = std::max(last, step_of(last_run + 1) ? last_run + 1 : last_run);
  }
  for (const auto& r : console_rules())
    if (!judged_needles.count(expect_needle(r))) item(fmt::format("watch {} {}", r.kind, expect_needle(r)));
  item(fmt::format("ignore {}", kRefusalDumpNeedle));

  // The steps before the last sign that went as expected: the rerun must go the same way.
  if (last == -2) last = last_run;
  for (const auto& st : f->steps)
    if (st.ok && st.index <= last) line(fmt::format("path {} {}", st.index, st.outcome));
  line(fmt::format("last {}", last));
  return out + body;
}

std::string reproducer_script(const Scenario& s, const std::string& kernel_release) {
  const Timeouts limits;  // the rig's own, sized for TCG
  // The launch both backends use (launch_spec()), with paths relative to the directory the script
  // runs in (it cd's there first): no path of the rig's host reaches the script, and every word of
  // the command line is quoted as it is. A person's terminal instead of the console file, and no
  // -S: nobody sends "cont".
  GuestBoot boot;
  boot.scenario = s;
  boot.kernel_path = "bzImage";
  boot.initrd = "initramfs.cpio.gz";
  boot.accel = "tcg";
  boot.run_dir = ".";
  LaunchSpec spec = launch_spec(boot, {"rig.shell=1"});
  spec.serial = "mon:stdio";
  spec.paused = false;
  const std::vector<std::string> argv = qemu_argv(s, spec);
  // The binary is the one word the script expands ($QEMU, fixed text); every other word is
  // shell_quote()d, whatever bytes the scenario put in it.
  std::string cmd = "\"${QEMU:-qemu-system-x86_64}\"";
  for (size_t i = 1; i < argv.size(); ++i) cmd += " \\\n    " + shell_quote(argv[i]);
  cmd += " \\\n    \"$@\"";

  // The steps, cycles unrolled: the index of each is the runner's (results' step index).
  std::string steps;
  auto line = [&steps](const std::string& l) { steps += "  " + l + "\n"; };
  const std::string snapshot = kProbeSnapshotCommand;
  line("show 'uname -r; cat /sys/devices/system/node/online' || return");
  line(fmt::format("show {} probe-boot.txt || return", shell_quote(snapshot)));
  line("outcome=ready; at_step -1 boot || return");
  const int cycles = std::max(1, s.cycles);
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    for (size_t i = 0; i < s.steps.size(); ++i) {
      const Step& st = s.steps[i];
      const int index = static_cast<int>((cycle - 1) * s.steps.size() + i);
      const Dimm* d = s.find_dimm(st.dimm);
      const std::string what = fmt::format("{} {}", step_action_name(st.action),
                                           d                   ? d->id
                                           : st.device.empty() ? fmt::format("node{}", st.node)
                                                               : st.device);
      line(fmt::format("# step {}{}: {} (expected: {})", index, cycles > 1 ? fmt::format(", cycle {}", cycle) : "",
                       flat(what), flat(expected_outcome(st))));
      switch (st.action) {
        case StepAction::Plug:
          line(fmt::format("do_plug {} {} {} {} {} || return", index, shell_quote(d->id),
                           shell_quote(memory_backend_object_args(*d).dump()), shell_quote(dimm_device_args(*d).dump()),
                           limit_arg(st.timeout_s)));
          break;
        case StepAction::Online: {
          // Waits (host side, bounded) for the DIMM's blocks; onlines those that are not yet.
          const std::string g = fmt::format(
              "cd /sys/devices/system/memory || exit 3; bs=$((0x$(cat block_size_bytes))); first=$(({0} / bs)); "
              "last=$((({0} + {1} - 1) / bs)); b=$first; while [ $b -le $last ]; do [ -d memory$b ] || exit 1; b=$((b "
              "+ 1)); done; "
              "b=$first; while [ $b -le $last ]; do [ \"$(cat memory$b/state)\" = online ] || echo {2} > "
              "memory$b/state || exit 2; "
              "b=$((b + 1)); done; b=$first; while [ $b -le $last ]; do echo \"memory$b $(cat memory$b/state) "
              "zones=$(cat memory$b/valid_zones)\"; b=$((b + 1)); done",
              d->addr, d->size, shell_quote(st.zone));
          line(fmt::format("do_online {} {} {} {} || return", index, shell_quote(d->id), shell_quote(g),
                           limit_arg(st.timeout_s)));
          break;
        }
        case StepAction::Unplug: {
          line(fmt::format("show {} probe-before-step{}.txt || return", shell_quote(snapshot), index));
          line(fmt::format("do_unplug {} {} {} {} {} || return", index, shell_quote(d->id),
                           shell_quote(nlohmann::json{{"id", d->id}}.dump()),
                           shell_quote(nlohmann::json{{"id", memory_backend_id(*d)}}.dump()), limit_arg(st.timeout_s)));
          const std::string query =
              probe_query_command(fmt::format("{}-{}", d->addr >> 12, ((d->addr + d->size) >> 12) - 1));
          line(fmt::format("show {} probe-after-step{}.txt || return", shell_quote(query), index));
          line("show 'for n in /sys/devices/system/node/node*; do grep MemTotal $n/meminfo; done' || return");
          break;
        }
        case StepAction::ExpectNode: line(fmt::format("do_expect_node {} {} || return", index, st.node)); break;
        case StepAction::ExpectDimm:
          line(fmt::format("do_expect_dimm {} {} || return", index, shell_quote(d->id)));
          break;
        case StepAction::Resize: {
          // qom-set of requested-size, then the device's size read until it is the one requested.
          const VirtioMem* v = s.find_virtio_mem(st.device);
          const std::string qom = virtio_mem_qom_path(*v);
          line(fmt::format(
              "do_resize {} {} {} {} {} {} || return", index, shell_quote(v->id),
              shell_quote(nlohmann::json{{"path", qom}, {"property", "size"}}.dump()),
              shell_quote(nlohmann::json{{"path", qom}, {"property", "requested-size"}, {"value", st.size}}.dump()),
              st.size, limit_arg(st.timeout_s)));
          break;
        }
      }
      line(fmt::format("at_step {} {} || return", index, shell_quote(what)));
    }
  }

  std::string head = fmt::format(
      R"SH(#!/bin/sh
# Single quotes hold literal words (QEMU arguments, guest commands); the do_* functions run
# through wait_until, which shellcheck cannot follow.
# shellcheck disable=SC2016,SC2317
# Reproducer for scenario '{scenario}' on kernel {release}, written by the rig.
# Needs only QEMU (qemu-system-x86_64, or set QEMU=) and a POSIX shell with coreutils, grep, sed
# and awk; everything else is in this directory, which may be moved anywhere.
#   ./run.sh                 boot under TCG, run the steps, look for what ./expect names, and end
#                            with one line on stdout and the exit status:
#                              "reproduced: ..." 1, "not reproduced: ..." 0, "could not tell: ..." 2
#   ./run.sh --interactive   boot and hand over the terminal: guest shell on the console,
#                            Ctrl-A c for the QEMU monitor, Ctrl-A x to quit
# Progress goes to stderr and run.log, the console to output.log, QMP answers and events to
# qmp.out, the probe's answers to probe-*.txt. Every wait has a limit in seconds, sized for TCG;
# raise them on a slow host. QUIET=1: no console on a terminal.
what={what}
BOOT_WAIT=${{BOOT_WAIT:-{boot}}}   # QEMU start to the guest's "rig: guest ready" console line
STEP_WAIT=${{STEP_WAIT:-{step}}}   # one plug, unplug or online, unless the step sets its own
CMD_WAIT=${{CMD_WAIT:-{cmd}}}      # one guest shell command or QMP answer
QUIT_WAIT=${{QUIT_WAIT:-{quit}}}    # QMP quit to QEMU's exit, then SIGTERM, then SIGKILL
here=$(cd "$(dirname "$0")" && pwd) || exit 2
cd "$here" || exit 2

run_qemu() {{
  exec {argv}
}}

case ${{1:-}} in
  --interactive)
    rm -f qmp.sock qga.sock
    echo "QMP: socat - UNIX-CONNECT:$here/qmp.sock   guest agent: socat - UNIX-CONNECT:$here/qga.sock"
    run_qemu ;;
  '') ;;
  *) echo "usage: $0 [--interactive]" >&2; exit 2 ;;
esac
for w in "$BOOT_WAIT" "$STEP_WAIT" "$CMD_WAIT" "$QUIT_WAIT"; do
  case $w in ''|*[!0-9]*) echo "run.sh: a wait is a whole number of seconds, not '$w'" >&2; exit 2 ;; esac
done
)SH",
      fmt::arg("scenario", flat(s.name)), fmt::arg("release", flat(kernel_release)), fmt::arg("argv", cmd),
      fmt::arg("what", shell_quote(fmt::format("scenario {} on kernel {}", s.name, kernel_release))),
      fmt::arg("boot", static_cast<long long>(limits.boot)), fmt::arg("step", static_cast<long long>(limits.step)),
      fmt::arg("cmd", static_cast<long long>(limits.guest_cmd)),
      fmt::arg("quit", static_cast<long long>(limits.shutdown)));
  std::string body = "\n# ---- The steps of scenario '" + flat(s.name) +
                     "', each waiting for what it needs. ----\nrun_steps() {\n" + steps + "}\n";
  return head + kLibrary + body + kMain;
}

std::string write_reproducer(const Scenario& s, const KernelImage& kernel, const std::string& initramfs,
                             const std::string& dir, const ScenarioResult* failure, const std::string& expect,
                             const std::string& expect_from) {
  // The user's own directory (0700 when made here): never one another user made first in a
  // shared folder, where they could swap run.sh before it is run.
  make_private_dir(dir);
  // Copied, never renamed across filesystems (-o on a tmpfs), and each file in place whole.
  copy_file_atomically(kernel.path, dir + "/bzImage");
  copy_file_atomically(initramfs, dir + "/initramfs.cpio.gz");
  auto write = [&dir](const std::string& name, const std::string& text, mode_t mode = 0644) {
    write_file_atomically(dir + "/" + name, text, mode);
  };
  write("run.sh", reproducer_script(s, kernel.release), 0755);
  // The failed run's snapshots, for where its pages' roles lay (a page is found again by them).
  RoleAnchors anchors;
  if (failure && !failure->artifacts.empty()) {
    std::set<std::string> snaps = {"boot"};
    for (const auto& c : failure->checks)
      if (c.step >= 0) snaps.insert(fmt::format("before-step{}", c.step));
    for (const auto& snap : snaps) {
      try {
        anchors[snap] = snapshot_role_anchors(
            read_regular_file(failure->artifacts + "/snapshot-" + snap + ".txt", 256 << 20, "the run's snapshot"));
      } catch (const std::exception&) {
        // Not kept, or not readable: its pages are named by pfn.
      }
    }
  }
  write("expect", expect.empty() ? reproducer_expect(s, failure, &anchors) : expect);

  std::string readme = fmt::format("# Reproducer: {} on {}\n\n{}\n\n", s.name, kernel.release, s.description);
  if (failure) {
    readme += fmt::format("## What failed\n\nVerdict **{}**: {}\n\n", verdict_name(failure->verdict), failure->reason);
    for (const auto& c : failure->checks)
      if (c.status == CheckStatus::Fail)
        readme += fmt::format("- case {} `{}` (step {}): {}\n", c.case_no, c.name, c.step, c.detail);
    for (const auto& st : failure->steps)
      if (!st.ok)
        readme += fmt::format("- step {} {} {}: expected {}, got {}: {}\n", st.index, st.action, st.target, st.expected,
                              st.outcome, st.detail);
    for (const auto& fd : failure->console_findings)
      if (fd.severity != Severity::Notice) readme += fmt::format("- console ({}): `{}`\n", fd.kind, fd.headline);
    readme += fmt::format("\nThe rig's own artifacts of that run: `{}`.\n\n", failure->artifacts);
  }
  if (!expect.empty())
    readme += fmt::format(
        "## Whose signs\n\n`expect` is the failed run's of another reproducer, `{}`: this kernel is judged by "
        "them (`not reproduced` on a kernel without the defect).\n\n",
        expect_from);
  const bool judges_failure = failure || !expect.empty();
  readme += fmt::format(
      "## Run it\n\n"
      "    ./run.sh                 # boot under TCG, run the steps, judge; one verdict line on stdout\n"
      "    ./run.sh --interactive   # guest shell on the terminal; Ctrl-A c: QEMU monitor, Ctrl-A x: quit\n\n"
      "Only QEMU (`qemu-system-x86_64`, or set `QEMU=`) and a POSIX `sh` with coreutils, grep, sed and awk are "
      "needed.\n"
      "The last line on stdout, also in `verdict`, and the exit status say what happened:\n\n"
      "- `reproduced: ...` (exit 1): {}\n"
      "- `not reproduced: ...` (exit 0): the run went as far as it needed and none of it showed.\n"
      "- `could not tell: ...` (exit 2): QEMU is missing, the guest never printed `rig: guest ready`, a guest command "
      "or QMP\n"
      "  answer never came, or a step ended otherwise than in the failed run, so the rest cannot be compared.\n\n"
      "Every wait has a limit (seconds, sized for TCG): `BOOT_WAIT` ({}), `STEP_WAIT` ({}), `CMD_WAIT` ({}), "
      "`QUIT_WAIT` ({}).\n"
      "Progress goes to stderr and `run.log`, the console to `output.log`, QMP answers and events to `qmp.out`, the\n"
      "probe's snapshots and queries to `probe-*.txt`.\n\n"
      "## What it looks for: `expect`\n\n"
      "One item a line, `KIND STEP ...` (step -1: at boot); edit it to look for something else.\n\n"
      "- `expect STEP OUTCOME`: the scenario's expectation; a step that ends otherwise is reproduced.\n"
      "- `path STEP OUTCOME`: the failed run's step ended so; a rerun that ends otherwise could not tell.\n"
      "- `last STEP`: stop after this step.\n"
      "- `listed STEP DIMM yes|no`: after the step QEMU still lists / no longer lists the DIMM "
      "(`query-memory-devices`).\n"
      "- `outcome STEP OUTCOME`: the step ends so again.\n"
      "- `page STEP PFN CHECK TOKEN...`: after the step the probe's query of the pfn "
      "(`rig-probe query`,\n"
      "  docs/probe-format.md in the rig) shows every token: `gone`, `online`, `KEY=VALUE` over its fields, "
      "`type=tagged`\n"
      "  (any bootmem type), `type=untagged`, `type=SECTION_INFO|MIX_SECTION_INFO|NODE_INFO`. `query STEP RANGES` says "
      "what to ask.\n"
      "- `console KIND [^]TEXT`: a console line with TEXT (`^`: at its start) is a kernel report; `watch` ones are "
      "only shown;\n"
      "  `ignore TEXT` lines are not reports (the page dump of a refused offline).\n"
      "- `note TEXT`: evidence the script cannot look for (MemTotal, counts).\n",
      judges_failure
          ? "a sign of the failed run showed again (the DIMM still listed after a refused or timed-out unplug, a\n"
            "  page the failed check named still in the state it was seen in, the same kind of kernel report)."
          : "a step did not end as the scenario expects, or the console shows a kernel report.",
      Timeouts{}.boot, Timeouts{}.step, Timeouts{}.guest_cmd, Timeouts{}.shutdown);
  write("README.md", readme);
  return dir;
}

}  // namespace rig
