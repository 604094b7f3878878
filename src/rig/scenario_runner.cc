#include "rig/scenario_runner.h"

#include <fmt/format.h>

#include <ctime>
#include <fstream>
#include <set>
#include <thread>

#include "rig/case_checks.h"
#include "rig/clock.h"
#include "rig/guest_memory.h"
#include "rig/errors.h"
#include "rig/paths.h"
#include "rig/probe_session.h"
#include "rig/results_report.h"

namespace rig {
namespace {

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

std::string blocks_list(const Dimm& d, uint64_t block_size) {
  auto [first, last] = dimm_blocks(d, block_size);
  std::string out;
  for (uint64_t b = first; b <= last; ++b) out += fmt::format("{}{}", out.empty() ? "" : " ", b);
  return out;
}

uint64_t guest_block_size(Machine& m) {
  std::string text = m.guest_read_file("/sys/devices/system/memory/block_size_bytes");
  uint64_t v = std::strtoull(text.c_str(), nullptr, 16);
  if (v == 0) throw InfraError(fmt::format("cannot read the guest's memory block size: '{}'", text));
  return v;
}

// Executes one step; returns its result. Guest trouble propagates as GuestDown.
StepResult run_step(Machine& m, const Scenario& s, const Step& st, const RunOptions& opts, int index, ProbeSession* probe) {
  StepResult r;
  r.action = step_action_name(st.action);
  r.expected = st.expect;
  const double timeout = st.timeout_s > 0 ? st.timeout_s : opts.timeouts.step;
  const Dimm* d = s.find_dimm(st.dimm);
  if (d) r.target = d->id;

  switch (st.action) {
    case StepAction::Plug: {
      PlugOutcome p = m.plug_dimm(*d, timeout);
      r.outcome = p.added ? "added" : "not-added";
      r.ok = p.added;
      r.detail = p.detail;
      if (probe && p.added) probe->after_plug(index, *d);
      break;
    }
    case StepAction::Online: {
      r.expected = st.zone;
      const uint64_t bs = guest_block_size(m);
      const std::string blocks = blocks_list(*d, bs);
      // The guest adds the blocks asynchronously after the ACPI notification: wait for them.
      const std::string script = fmt::format(
          "cd /sys/devices/system/memory || exit 3\n"
          "for b in {0}; do [ -d memory$b ] || exit 1; done\n"
          "for b in {0}; do [ \"$(cat memory$b/state)\" = online ] || echo {1} > memory$b/state || exit 2; done\n"
          "for b in {0}; do echo \"memory$b $(cat memory$b/state) zones=$(cat memory$b/valid_zones)\"; done\n",
          blocks, st.zone);
      Deadline by = deadline_in(timeout);
      GuestExecResult g;
      do {
        g = m.guest_exec(script, timeout);
        if (g.exit_code != 1) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      } while (Clock::now() < by);
      r.ok = g.ok();
      r.outcome = g.ok() ? "online" : g.exit_code == 1 ? "blocks-missing" : "online-failed";
      r.detail = g.out + g.err;
      if (g.exit_code == 1) r.detail = fmt::format("memory blocks {} did not appear in the guest", blocks);
      while (!r.detail.empty() && r.detail.back() == '\n') r.detail.pop_back();
      break;
    }
    case StepAction::Unplug: {
      if (probe) probe->before_unplug(index, *d, r);
      UnplugOutcome u = m.unplug_dimm(*d, timeout);
      r.outcome = unplug_result_name(u.result);
      r.detail = u.detail;
      r.ok = r.outcome == st.expect;
      // QEMU must agree with the guest: a refused DIMM stays listed, a removed one is gone.
      bool listed = false;
      for (const auto& dev : m.memory_devices()) listed |= dev.id == d->id;
      if (u.result == UnplugResult::Refused && !listed) {
        r.ok = false;
        r.detail += "; but QEMU no longer lists the DIMM";
      } else if (u.result == UnplugResult::Refused) {
        r.detail += "; QEMU still lists the DIMM";
      }
      if (u.result == UnplugResult::Removed && listed) {
        r.ok = false;
        r.detail += "; but QEMU still lists the DIMM";
      }
      if (probe) probe->after_unplug(index, *d, u.result);
      break;
    }
    case StepAction::ExpectNode: {
      r.target = fmt::format("node{}", st.node);
      GuestExecResult g = m.guest_exec(fmt::format("test -d /sys/devices/system/node/node{}", st.node), timeout);
      r.outcome = g.ok() ? "present" : "absent";
      r.ok = r.outcome == st.expect;
      GuestExecResult online = m.guest_exec("cat /sys/devices/system/node/online", timeout);
      r.detail = "online nodes: " + online.out;
      while (!r.detail.empty() && r.detail.back() == '\n') r.detail.pop_back();
      break;
    }
    case StepAction::ExpectDimm: {
      bool listed = false;
      for (const auto& dev : m.memory_devices()) listed |= dev.id == d->id;
      r.outcome = listed ? "present" : "absent";
      r.ok = r.outcome == st.expect;
      r.detail = "query-memory-devices";
      break;
    }
  }
  return r;
}

}  // namespace

std::pair<uint64_t, uint64_t> dimm_blocks(const Dimm& d, uint64_t block_size) {
  return {d.addr / block_size, (d.addr + d.size - 1) / block_size};
}

ScenarioResult run_scenario(const Scenario& s, const KernelImage& kernel, const RunOptions& opts,
                            const MachineFactory& make_machine, const ProgressSink& progress) {
  ScenarioResult res;
  res.scenario = s.name;
  res.scenario_path = s.path;
  res.kernel = kernel.release;
  res.kernel_name = kernel.name;
  res.kernel_path = kernel.path;
  res.cases = s.cases;
  res.cpu = s.machine.cpu;
  const auto started = Clock::now();

  res.artifacts = fmt::format("{}/{}--{}--{}", opts.artifacts_root, s.name, kernel.release, timestamp());
  for (int n = 2; std::ifstream(res.artifacts + "/console.log").good(); ++n)
    res.artifacts = fmt::format("{}/{}--{}--{}-{}", opts.artifacts_root, s.name, kernel.release, timestamp(), n);
  make_private_dir(res.artifacts);

  std::unique_ptr<Machine> m;
  bool booted = false;
  try {
    m = make_machine(s, res.artifacts);
    res.accel = m->info().accel;
    progress(fmt::format("{} on {}: booting ({}, cpu {})", s.name, kernel.release, res.accel, res.cpu));
    m->start();
    booted = true;
    res.boot_s = seconds_since(started);
    progress(fmt::format("{} on {}: guest up in {:.1f} s", s.name, kernel.release, res.boot_s));
    std::unique_ptr<ProbeSession> probe;
    if (s.uses_probe()) {
      probe = std::make_unique<ProbeSession>(*m, opts.timeouts, res.artifacts, res.checks, progress);
      probe->at_boot();
    }
    std::vector<NodeMeminfo> after_cycle;
    for (int cycle = 1; cycle <= s.cycles && res.reason.empty(); ++cycle) {
      for (size_t i = 0; i < s.steps.size(); ++i) {
        const auto step_start = Clock::now();
        const int index = static_cast<int>((cycle - 1) * s.steps.size() + i);
        StepResult r = run_step(*m, s, s.steps[i], opts, index, probe.get());
        r.index = index;
        r.cycle = cycle;
        r.duration_s = seconds_since(step_start);
        progress(fmt::format("  {}step {} {} {}: {} (expected {}) {}", s.cycles > 1 ? fmt::format("cycle {} ", cycle) : "", i, r.action,
                             r.target, r.outcome, r.expected.empty() ? "-" : r.expected, r.ok ? "ok" : "MISMATCH"));
        res.steps.push_back(r);
        if (!r.ok) {
          res.verdict = Verdict::Fail;
          res.reason = fmt::format("step {} {} {}: expected {}, got {}: {}", index, r.action, r.target, r.expected, r.outcome, r.detail);
          break;  // later steps assume this one did what it should
        }
      }
      if (s.cycles > 1 && res.reason.empty()) after_cycle.push_back(read_node_meminfo(*m));
    }
    // The state after the first cycle is the baseline (the first cycle may allocate once, e.g.
    // sysfs and slab for a node seen for the first time); every later cycle must come back to it.
    for (const auto& c : check_cycles(NodeMeminfo{}, after_cycle)) {
      res.checks.push_back({-1, c.case_no, c.name, c.ok, c.detail, false, ""});
      progress(fmt::format("  check case {} {}: {}{}", c.case_no, c.name, c.ok ? "ok" : "FAIL", c.ok ? "" : " - " + c.detail));
    }
    m->check_alive();
    if (res.reason.empty()) res.verdict = Verdict::Pass;
  } catch (const GuestDown& e) {
    // A kernel that crashes while the scenario runs fails it; one that never came up, or a guest
    // the rig lost, is an error: nothing was tested.
    res.verdict = booted && e.kind() == GuestDown::Kind::Crashed ? Verdict::Fail : Verdict::Error;
    res.reason = booted ? e.what() : fmt::format("guest did not boot: {}", e.what());
  } catch (const std::exception& e) {
    res.verdict = Verdict::Error;
    res.reason = e.what();
  }
  if (m) {
    try {
      m->shutdown();
    } catch (const std::exception& e) {
      if (res.reason.empty()) res.reason = fmt::format("shutdown: {}", e.what());
    }
    for (const auto& f : m->console().findings()) res.console_findings.push_back(f);
  }
  // Spec checks: a failed one fails the scenario unless it is a known kernel failure (xfail).
  std::set<int> covered;
  bool xfailed = false;
  for (auto& c : res.checks) {
    covered.insert(c.case_no);
    if (!c.ok)
      for (const auto& x : s.xfails)
        if (x.case_no == c.case_no && c.name == x.check && kernel.release.rfind(x.kernel, 0) == 0) {
          c.xfail = true;
          c.evidence = x.evidence;
        }
    if (c.ok) continue;
    if (c.xfail) {
      xfailed = true;
    } else if (res.verdict == Verdict::Pass) {
      res.verdict = Verdict::Fail;
      res.reason = fmt::format("case {} check {} failed: {}", c.case_no, c.name, c.detail);
    }
  }
  res.cases_covered.assign(covered.begin(), covered.end());
  if (xfailed && res.verdict == Verdict::Pass) {
    res.verdict = Verdict::XFail;
    for (const auto& c : res.checks)
      if (c.xfail) {
        res.reason = fmt::format("known kernel failure, case {} {} (evidence: {})", c.case_no, c.name, c.evidence);
        break;
      }
  }
  // A kernel bug reported on the console fails a scenario whose steps all went as expected.
  for (const auto& f : res.console_findings) {
    if (f.severity != Severity::Notice && (res.verdict == Verdict::Pass || res.verdict == Verdict::XFail)) {
      res.verdict = Verdict::Fail;
      res.reason = fmt::format("kernel reported {} (console line {}): {}", f.kind, f.line_no, f.headline);
    }
  }
  res.duration_s = seconds_since(started);
  write_result_file(res, res.artifacts + "/result.json");
  return res;
}

}  // namespace rig
