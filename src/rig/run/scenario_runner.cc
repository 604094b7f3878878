#include "rig/run/scenario_runner.h"

#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <thread>

#include "rig/spec/case_checks.h"
#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/run/guest_memory.h"
#include "rig/spec/judge.h"
#include "rig/base/paths.h"
#include "rig/base/text.h"
#include "rig/run/probe_session.h"
#include "rig/report/results_report.h"
#include "rig/scenario/artifact_names.h"

namespace rig {
namespace {

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

// A new private directory named `base`, or `base-2`, `base-3`... when parallel runs collide.
std::string unique_run_dir(const std::string& base) {
  make_private_dir(base.substr(0, base.rfind('/')));
  for (int n = 1;; ++n) {
    std::string dir = n == 1 ? base : fmt::format("{}-{}", base, n);
    if (::mkdir(dir.c_str(), 0700) == 0) return dir;
    if (errno != EEXIST || n > 1000) throw InfraError(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
}

std::string blocks_list(const Dimm& d, uint64_t block_size) {
  auto [first, last] = dimm_blocks(d, block_size);
  std::string out;
  for (uint64_t b = first; b <= last; ++b) out += fmt::format("{}{}", out.empty() ? "" : " ", b);
  return out;
}

void chomp(std::string& s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
}

uint64_t guest_block_size(Machine& m) {
  std::string text = m.guest_read_file("/sys/devices/system/memory/block_size_bytes");
  uint64_t v = std::strtoull(text.c_str(), nullptr, 16);
  if (v == 0) throw InfraError(fmt::format("cannot read the guest's memory block size: '{}'", text));
  return v;
}

bool qemu_lists(Machine& m, const std::string& id) {
  for (const auto& dev : m.memory_devices())
    if (dev.id == id) return true;
  return false;
}

// Executes one step; returns its result. Guest trouble propagates as GuestDown, a guest command
// that could not run as InfraError.
StepResult run_step(Machine& m, const Scenario& s, const Step& st, const RunOptions& opts, int index,
                    ProbeSession* probe) {
  StepResult r;
  r.action = step_action_name(st.action);
  r.expected = st.expect;
  const double timeout = st.timeout_s > 0 ? st.timeout_s : opts.timeouts.step;
  const Dimm* d = s.find_dimm(st.dimm);
  if (d) r.target = d->id;

  switch (st.action) {
    case StepAction::Plug: {
      if (probe) probe->before_plug(index, *d);
      PlugOutcome p = m.plug_dimm(*d, timeout);
      r.outcome = p.added ? "added" : "not-added";
      r.ok = p.added;
      r.detail = p.detail;
      if (probe && p.added) probe->after_plug(index, *d, timeout);
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
      const Deadline by = deadline_in(timeout);
      GuestExecResult g;
      for (;;) {
        g = m.guest_exec(script,
                         std::min(opts.timeouts.guest_cmd, std::max(opts.timeouts.min_guest_cmd, seconds_left(by))));
        if (g.exit_code != 1 || seconds_left(by) <= opts.timeouts.poll) break;
        pause_for(opts.timeouts.poll);
      }
      r.ok = g.ok();
      switch (g.exit_code) {
        case 0: r.outcome = "online"; break;
        case 1: r.outcome = "blocks-missing"; break;
        case 2: r.outcome = "online-failed"; break;
        default:
          throw InfraError(fmt::format("online {}: the guest script failed (exit {}): {}", d->id, g.exit_code,
                                       g.err.substr(0, 200)));
      }
      r.detail = g.exit_code == 1 ? fmt::format("memory blocks {} did not appear in the guest", blocks) : g.out + g.err;
      chomp(r.detail);
      break;
    }
    case StepAction::Unplug: {
      if (probe) probe->before_unplug(index, *d, r);
      UnplugOutcome u = m.unplug_dimm(*d, timeout);
      r.outcome = unplug_result_name(u.result);
      r.detail = u.detail;
      r.ok = r.outcome == st.expect;
      // QEMU must agree with the guest: a refused DIMM stays listed, a removed one is gone.
      const bool listed = qemu_lists(m, d->id);
      r.qemu_lists = listed;
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
      GuestExecResult g =
          m.guest_exec(fmt::format("test -d /sys/devices/system/node/node{}", st.node), opts.timeouts.guest_cmd);
      if (g.exit_code != 0 && g.exit_code != 1)
        throw InfraError(
            fmt::format("expect-node {}: test -d failed (exit {}): {}", st.node, g.exit_code, g.err.substr(0, 200)));
      r.outcome = g.ok() ? "present" : "absent";
      r.ok = r.outcome == st.expect;
      GuestExecResult online = m.guest_exec("cat /sys/devices/system/node/online", opts.timeouts.guest_cmd);
      r.detail = online.ok() ? "online nodes: " + online.out
                             : fmt::format("online nodes unknown (exit {}): {}", online.exit_code, online.err);
      chomp(r.detail);
      break;
    }
    case StepAction::Resize: {
      // virtio-mem (docs/virtio-mem.md): the outcome is the device's size when the wait ended;
      // the probe judges the blocks a shrink removed page by page.
      const VirtioMem* v = s.find_virtio_mem(st.device);
      r.target = v->id;
      // Without the driver nobody answers the device: the resize would wait its whole time for
      // nothing (a kernel whose modules the rig did not get, or built without CONFIG_VIRTIO_MEM).
      const GuestExecResult drv = m.guest_exec("test -d /sys/bus/virtio/drivers/virtio_mem", opts.timeouts.guest_cmd);
      if (drv.exit_code == 1)
        throw InfraError(fmt::format(
            "resize {}: this guest has no virtio_mem driver (/sys/bus/virtio/drivers/virtio_mem): the kernel has it "
            "neither built in nor as a module the initramfs could take (docs/virtio-mem.md)",
            v->id));
      if (!drv.ok())
        throw InfraError(fmt::format("resize {}: cannot tell whether the guest has the virtio_mem driver (exit {}): {}",
                                     v->id, drv.exit_code, drv.err.substr(0, 200)));
      if (probe) probe->before_resize(index, *v, st.size);
      const ResizeOutcome o = m.resize_virtio_mem(*v, st.size, timeout);
      r.outcome = resize_result_name(o.result);
      r.ok = r.outcome == st.expect;
      r.detail = o.detail;
      if (probe) probe->after_resize(index, *v, o, r);
      break;
    }
    case StepAction::ExpectDimm: {
      r.qemu_lists = qemu_lists(m, d->id);
      r.outcome = *r.qemu_lists ? "present" : "absent";
      r.ok = r.outcome == st.expect;
      r.detail = "query-memory-devices";
      break;
    }
  }
  return r;
}

// Boot, the steps of every cycle and the probe session. Fills `raw` with what happened; throws
// GuestDown or any other error, leaving in `raw` what was done before.
void execute(Machine& m, const Scenario& s, const KernelImage& kernel, const RunOptions& opts,
             const std::string& artifacts, RawOutcome& raw, ScenarioResult& res, const ProgressSink& progress) {
  StartInfo start = m.start();
  raw.booted = true;
  res.start = start.restored ? "restore" : "boot";
  res.boot_s = start.seconds;
  res.snapshot_key = start.key;
  res.snapshot = start.snapshot;
  res.snapshot_note = start.fallback;
  res.start_note = start.note;
  if (!start.note.empty()) progress(fmt::format("{} on {}: {}", s.name, kernel.release, start.note));
  res.phases.push_back({res.start, start.seconds});
  progress(fmt::format("{} on {}: guest up in {:.1f} s ({}{})", s.name, kernel.release, start.seconds,
                       start.restored ? "restored from " + start.snapshot : "booted",
                       start.fallback.empty() || start.key.empty() ? "" : "; " + start.fallback));
  std::unique_ptr<ProbeSession> probe;
  ReadyState ready;
  if (s.uses_probe()) {
    probe = std::make_unique<ProbeSession>(m, opts.timeouts, artifacts, raw.checks, progress);
    if (start.restored)
      probe->at_boot_restored(start.ready.probe_snapshot);
    else
      ready.probe_snapshot = probe->at_boot();
    raw.no_tags = probe->no_tags();
  }
  if (!start.restored) {
    const auto save_started = Clock::now();
    const SaveOutcome saved = m.save_ready(ready);
    if (saved.kind != SaveOutcome::Kind::Nothing) res.phases.push_back({"save", seconds_since(save_started)});
    if (saved.kind == SaveOutcome::Kind::Saved) {
      progress(fmt::format("  snapshot saved {}", saved.dir));
      res.snapshot = saved.state_file;
    } else if (saved.kind == SaveOutcome::Kind::NotSaved) {
      progress(fmt::format("  snapshot not saved: {}", saved.reason));
      res.snapshot_note += std::string(res.snapshot_note.empty() ? "" : "; ") + "not saved: " + saved.reason;
    }
  }
  const auto steps_started = Clock::now();
  const double probe_before_steps = probe ? probe->seconds() : 0;
  struct StepsPhase {
    ~StepsPhase() {
      const double probe_s = probe ? probe->seconds() : 0;
      res.phases.push_back({"probe", probe_s});
      res.phases.push_back({"steps", std::max(0.0, seconds_since(started) - (probe_s - probe_before))});
    }
    ScenarioResult& res;
    const std::unique_ptr<ProbeSession>& probe;
    Clock::time_point started;
    double probe_before;
  } steps_phase{res, probe, steps_started, probe_before_steps};
  // Cycles: a baseline before the first cycle, then each cycle compared with the one before.
  NodeMeminfo baseline;
  std::vector<NodeMeminfo> after_cycle;
  if (s.cycles > 1) baseline = read_node_meminfo(m, opts.timeouts.guest_cmd);
  bool mismatch = false;
  for (int cycle = 1; cycle <= s.cycles && !mismatch; ++cycle) {
    for (size_t i = 0; i < s.steps.size(); ++i) {
      const auto step_start = Clock::now();
      const int index = static_cast<int>((cycle - 1) * s.steps.size() + i);
      StepResult r = run_step(m, s, s.steps[i], opts, index, probe.get());
      r.index = index;
      r.cycle = cycle;
      r.duration_s = seconds_since(step_start);
      progress(fmt::format("  {}step {} {} {}: {} (expected {}) {}",
                           s.cycles > 1 ? fmt::format("cycle {} ", cycle) : "", i, r.action, r.target, r.outcome,
                           r.expected.empty() ? "-" : r.expected, r.ok ? "ok" : "MISMATCH"));
      raw.steps.push_back(r);
      if (!r.ok) {
        mismatch = true;
        break;  // later steps assume this one did what it should
      }
    }
    if (s.cycles > 1 && !mismatch) after_cycle.push_back(read_node_meminfo(m, opts.timeouts.guest_cmd));
  }
  if (s.cycles > 1 && !after_cycle.empty()) {
    std::vector<CaseCheck> checks = check_cycles(baseline, after_cycle);
    // Free memory that no later cycle gave back is read again, settled, before it is called a
    // leak: a transient of the last cycles (page cache, a worker's buffers) has had time to go.
    std::vector<NodeMeminfo> settled;
    auto leaked = [&] {
      return std::any_of(checks.begin(), checks.end(),
                         [](const CaseCheck& c) { return c.name == "cycles-no-free-memory-leak" && !c.ok; });
    };
    for (int i = 0; i < 3 && leaked(); ++i) {
      pause_for(opts.timeouts.cycle_settle);
      settled.push_back(read_node_meminfo(m, opts.timeouts.guest_cmd));
      checks = check_cycles(baseline, after_cycle, kCycleFreeSlackKb, settled);
    }
    for (const auto& c : checks) {
      raw.checks.push_back(raw_check_record(-1, c));
      progress(fmt::format("  check case {} {}: {}{}", c.case_no, c.name,
                           !c.applicable ? "n/a"
                           : c.ok        ? "ok"
                                         : "failed",
                           c.ok && c.applicable ? "" : " - " + c.detail));
    }
  }
  m.check_alive();
}

RunEnd run_end(GuestDown::Kind k) {
  switch (k) {
    case GuestDown::Kind::Crashed: return RunEnd::GuestCrashed;
    case GuestDown::Kind::Reported: return RunEnd::GuestCrashed;
    case GuestDown::Kind::Hung: return RunEnd::GuestHung;
    case GuestDown::Kind::Exited: return RunEnd::GuestExited;
  }
  return RunEnd::Error;
}

// Stops the guest and collects what its console showed. Never throws.
void teardown(Machine* m, RawOutcome& raw) {
  if (!m) return;
  try {
    m->shutdown();
  } catch (const std::exception& e) {
    raw.teardown_error = e.what();
  }
  raw.console_findings = m->console().findings();
}

}  // namespace

std::pair<uint64_t, uint64_t> dimm_blocks(const Dimm& d, uint64_t block_size) {
  return {d.addr / block_size, (d.addr + d.size - 1) / block_size};
}

ScenarioResult result_of(const Scenario& s, const KernelImage& kernel, int run) {
  ScenarioResult res;
  res.scenario = s.name;
  res.scenario_path = s.path;
  res.kernel = kernel.release;
  res.kernel_name = kernel.name;
  res.kernel_path = kernel.path;
  res.cases = s.cases;
  res.cpu = s.machine.cpu;
  res.nodes = s.nodes;
  res.dimms = s.dimms;
  res.virtio_mems = s.virtio_mems;
  res.run = run;
  return res;
}

ScenarioResult run_scenario(const Scenario& s, const KernelImage& kernel, const RunOptions& opts,
                            const MachineFactory& make_machine, const ProgressSink& progress, int run) {
  ScenarioResult res = result_of(s, kernel, run);
  const auto started = Clock::now();
  res.started = utc_iso8601(std::time(nullptr));
  res.artifacts = unique_run_dir(fmt::format("{}/{}--{}--{}{}", opts.artifacts_root, s.name, kernel.release,
                                             timestamp(), run > 1 ? fmt::format("-run{}", run) : ""));

  RawOutcome raw;
  raw.declared_cases = s.cases;
  raw.not_exercised = s.not_exercised;
  std::unique_ptr<Machine> m;
  try {
    m = make_machine(s, res.artifacts);
    res.backend = m->info().backend;
    res.accel = m->info().accel;
    progress(fmt::format("{} on {}: booting ({} {}, cpu {})", s.name, kernel.release, res.backend, res.accel, res.cpu));
    execute(*m, s, kernel, opts, res.artifacts, raw, res, progress);
  } catch (const GuestDown& e) {
    raw.end = run_end(e.kind());
    raw.error = e.what();
  } catch (const std::exception& e) {
    raw.end = RunEnd::Error;
    raw.error = e.what();
  }
  const auto teardown_started = Clock::now();
  teardown(m.get(), raw);
  res.phases.push_back({"teardown", seconds_since(teardown_started)});

  const auto judge_started = Clock::now();
  Judgement j = judge(raw, s.xfails, kernel.release);
  res.phases.push_back({"judge", seconds_since(judge_started)});
  res.verdict = j.verdict;
  res.reason = j.reason;
  res.steps = std::move(raw.steps);
  res.checks = std::move(j.checks);
  res.cases_covered = std::move(j.cases_covered);
  res.cases_not_applicable = std::move(j.cases_not_applicable);
  res.cases_not_exercised = std::move(j.cases_not_exercised);
  res.xpass = std::move(j.xpass);
  res.console_findings = std::move(raw.console_findings);
  for (const auto& c : res.checks)
    if (c.status == CheckStatus::XFail || c.status == CheckStatus::XPass)
      progress(fmt::format("  check case {} {}: {} ({})", c.case_no, c.name,
                           c.status == CheckStatus::XFail ? "XFAIL" : "XPASS", c.evidence));
  res.duration_s = seconds_since(started);
  save_result(res);
  return res;
}

void save_result(ScenarioResult& r) {
  try {
    write_result_file(r, r.artifacts + "/" + artifact::kResult);
  } catch (const std::exception& e) {
    r.reason = fmt::format("{} (the run itself: {}{}{})", e.what(), verdict_name(r.verdict),
                           r.reason.empty() ? "" : ": ", r.reason);
    r.verdict = Verdict::Error;
  }
}

}  // namespace rig
