#include "rig/run/suite_runner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "rig/host/accel_probe.h"
#include "rig/host/guest_image.h"
#include "rig/host/host_command.h"
#include "rig/host/host_slots.h"
#include "rig/base/paths.h"
#include "rig/run/machine_factory.h"
#include "rig/run/reproducer.h"
#include "rig/report/results_report.h"
#include "rig/host/snapshot_cache.h"

namespace rig {

HostBudget this_host_budget(int jobs) {
  uint64_t available = 0;
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("MemAvailable:", 0) == 0) available = std::strtoull(line.c_str() + 13, nullptr, 10) * 1024;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return host_budget(cpus > 0 ? static_cast<int>(cpus) : 1, available, jobs);
}

namespace {

std::string this_host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "";
}

// What every run on one kernel shares, prepared before anything boots.
struct KernelSetup {
  AccelChoice accel;
  GuestImage image;
  std::string kernel_hash, initrd_hash;
};

std::string run_id(const Scenario& s, const KernelImage& k, int run) {
  return fmt::format("{}@{}{}", s.name, k.release, run > 1 ? fmt::format("#{}", run) : "");
}

// A run that boots nothing: skipped, or impossible here, with the reason.
ScenarioResult unrun_result(const Scenario& s, const KernelImage& k, int run, Verdict verdict,
                            const std::string& reason) {
  ScenarioResult r = result_of(s, k, run);
  r.verdict = verdict;
  r.reason = reason;
  return r;
}

}  // namespace

std::vector<ScenarioResult> run_suite(const std::vector<Scenario>& scenarios, const std::vector<KernelImage>& kernels,
                                      const SuiteOptions& opts, const RunEventSink& events) {
  auto note = [&](const std::string& text) { events({RunEvent::Kind::Note, "", text, nullptr}); };
  const BackendConfig backend{opts.backend, opts.qemu, opts.accel, opts.connect};
  validate_backend(backend);
  const HostSlots host = HostSlots::for_this_host(opts.env);
  const bool leases_cores = guests_run_here(backend, this_host_name());
  std::optional<SnapshotCache> cache;
  if (opts.snapshots && backend_saves_snapshots(backend)) cache.emplace(SnapshotCache::default_cache(opts.env));
  const std::string qemu_version = cache ? first_line(run_capture({opts.qemu, "--version"})) : "";

  std::vector<KernelSetup> setups;
  for (const auto& k : kernels) {
    KernelSetup ks;
    ks.accel = choose_accel(opts.accel, k.path, opts.qemu, opts.env);
    note(fmt::format("kernel {} ({}): accel {} ({})", k.release, k.path, ks.accel.accel, ks.accel.why));
    ks.image = guest_image(k, opts.env);
    if (!ks.image.note.empty()) note(fmt::format("kernel {}: {}", k.release, ks.image.note));
    if (ks.image.probe.empty())
      note(fmt::format("kernel {}: probe: rig-probe reads the kernel's BTF and /proc/kcore (no module: {})", k.release,
                       ks.image.probe_problem));
    if (cache) {
      ks.kernel_hash = content_hash(read_text_file(k.path));
      ks.initrd_hash = content_hash(read_text_file(ks.image.initramfs));
    }
    setups.push_back(ks);
  }

  std::vector<std::string> scenario_names, kernel_names;
  for (const auto& s : scenarios) scenario_names.push_back(s.name);
  for (const auto& k : kernels) kernel_names.push_back(k.name.empty() ? k.path : k.name);
  const std::vector<MatrixItem> items = plan_matrix(scenario_names, kernel_names, opts.repeat, opts.shard);
  const HostBudget budget = this_host_budget(opts.jobs);
  note(fmt::format(
      "{} runs{}; guests at once: {}{}; snapshots: {}", items.size(),
      opts.shard.count > 1 ? fmt::format(" (shard {}/{})", opts.shard.index, opts.shard.count) : "",
      opts.jobs > 0 ? fmt::format("up to {} (-j)", opts.jobs)
                    : fmt::format("by {} cores and {} MiB for guests", budget.cpus, budget.ram >> 20),
      leases_cores ? fmt::format(", their vCPUs within the host's {} cores across all rig processes", host.capacity())
                   : " (on the libvirt host)",
      cache ? cache->root() : "off"));

  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::optional<ScenarioResult>> done(items.size());
  std::map<size_t, GuestCost> running;

  auto run_item = [&](size_t i) {
    const MatrixItem& it = items[i];
    const Scenario& s = scenarios[it.scenario];
    const KernelImage& k = kernels[it.kernel];
    const KernelSetup& ks = setups[it.kernel];
    const std::string id = run_id(s, k, it.run);
    auto line = [&](const std::string& text) { events({RunEvent::Kind::Line, id, text, nullptr}); };
    ScenarioResult r;
    try {
      const std::string skip = backend_skip_reason(backend, s);
      if (!skip.empty()) {
        r = unrun_result(s, k, it.run, Verdict::Skip, skip);
      } else {
        MachineFactory factory = [&](const Scenario& sc, const std::string& run_dir) -> std::unique_ptr<Machine> {
          MachineSetup setup;
          setup.scenario = sc;
          setup.kernel_path = k.path;
          setup.kernel_release = k.release;
          setup.initrd = ks.image.initramfs;
          setup.accel = ks.accel.accel;
          setup.run_dir = run_dir;
          setup.timeouts = opts.run.timeouts;
          if (cache) {
            setup.snapshots = &*cache;
            setup.kernel_hash = ks.kernel_hash;
            setup.initrd_hash = ks.initrd_hash;
            setup.qemu_version = qemu_version;
            setup.probe = sc.uses_probe();
          }
          return make_machine(backend, setup);
        };
        {
          // Held from boot to shutdown: guests of every rig process on this host share its cores.
          HostSlots::Lease cores;
          if (leases_cores) cores = host.acquire(guest_cost(s).vcpus, line);
          r = run_scenario(s, k, opts.run, factory, line, it.run);
        }
        if (r.verdict == Verdict::Fail) {
          // A kernel developer gets the failure in a form that reruns anywhere QEMU does.
          try {
            r.reproducer = write_reproducer(s, k, ks.image.initramfs, r.artifacts + "/repro", &r);
            line(fmt::format("reproducer: {}/run.sh", r.reproducer));
          } catch (const std::exception& e) {
            line(fmt::format("no reproducer: {}", e.what()));
          }
          save_result(r);  // with the reproducer; a failed write makes it an error, as in run_scenario
        }
        for (const auto& x : r.xpass)
          line(fmt::format("XPASS: the xfail entry for case {} {} ({}) did not fail: remove or narrow it", x.case_no,
                           x.check, x.evidence));
      }
    } catch (const std::exception& e) {
      // The run could not even be set up (its directory, a full disk): an error, and the matrix goes on.
      r = unrun_result(s, k, it.run, Verdict::Error, fmt::format("the run could not be set up: {}", e.what()));
    }
    std::lock_guard<std::mutex> lock(mu);
    done[i] = std::move(r);
    running.erase(i);
    const ScenarioResult& fin = *done[i];
    events({RunEvent::Kind::Finished, id,
            fmt::format("{} in {:.1f} s{}", verdict_name(fin.verdict), fin.duration_s,
                        fin.reason.empty() ? "" : ": " + fin.reason),
            &fin});
    if (opts.after_each) {
      std::vector<ScenarioResult> so_far;
      for (const auto& d : done)
        if (d) so_far.push_back(*d);
      try {
        opts.after_each(so_far);
      } catch (const std::exception& e) {
        events({RunEvent::Kind::Note, "", fmt::format("cannot write the reports so far: {}", e.what()), nullptr});
      }
    }
    changed.notify_all();
  };

  std::vector<std::thread> threads;
  {
    std::unique_lock<std::mutex> lock(mu);
    size_t next = 0;
    while (next < items.size()) {
      const GuestCost cost = guest_cost(scenarios[items[next].scenario]);
      std::vector<GuestCost> now;
      for (const auto& [idx, c] : running) now.push_back(c);
      if (!fits(budget, now, cost)) {
        changed.wait_for(lock, as_duration(opts.run.timeouts.capacity_poll));
        continue;
      }
      const size_t i = next++;
      running[i] = cost;
      const MatrixItem& it = items[i];
      events({RunEvent::Kind::Started, run_id(scenarios[it.scenario], kernels[it.kernel], it.run),
              fmt::format("{} on {}", scenarios[it.scenario].name, kernels[it.kernel].release), nullptr});
      threads.emplace_back(run_item, i);
    }
  }
  for (auto& t : threads) t.join();

  std::vector<ScenarioResult> results;
  for (auto& d : done)
    if (d) results.push_back(std::move(*d));
  return results;
}

std::vector<ScenarioResult> run_suite(const std::vector<Scenario>& scenarios, const std::vector<KernelImage>& kernels,
                                      const SuiteOptions& opts, const ProgressSink& progress) {
  std::mutex mu;
  return run_suite(scenarios, kernels, opts, [&](const RunEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    switch (e.kind) {
      case RunEvent::Kind::Note: progress(e.text); break;
      case RunEvent::Kind::Started: progress(fmt::format("[{}] start", e.run_id)); break;
      case RunEvent::Kind::Line: progress(fmt::format("[{}] {}", e.run_id, e.text)); break;
      case RunEvent::Kind::Finished: progress(fmt::format("[{}] {}", e.run_id, e.text)); break;
    }
  });
}

}  // namespace rig
