#include "rig/suite_runner.h"

#include <fmt/format.h>

#include "rig/accel_probe.h"
#include "rig/guest_image.h"
#include "rig/qemu_machine.h"
#include "rig/reproducer.h"
#include "rig/results_report.h"

namespace rig {

std::vector<ScenarioResult> run_suite(const std::vector<Scenario>& scenarios, const std::vector<KernelImage>& kernels,
                                      const SuiteOptions& opts, const ProgressSink& progress) {
  std::vector<ScenarioResult> results;
  for (const auto& k : kernels) {
    AccelChoice accel = choose_accel(opts.accel, k.path, opts.qemu);
    progress(fmt::format("kernel {} ({}): accel {} ({})", k.release, k.path, accel.accel, accel.why));
    const GuestImage image = guest_image(k);
    if (image.probe.empty()) progress(fmt::format("kernel {}: no probe: {}", k.release, image.probe_problem));
    MachineFactory factory = [&](const Scenario& s, const std::string& run_dir) -> std::unique_ptr<Machine> {
      QemuMachineConfig cfg;
      cfg.scenario = s;
      cfg.kernel_path = k.path;
      cfg.kernel_release = k.release;
      cfg.initrd = image.initramfs;
      cfg.accel = accel.accel;
      cfg.run_dir = run_dir;
      cfg.timeouts = opts.run.timeouts;
      cfg.qemu_binary = opts.qemu;
      return std::make_unique<QemuMachine>(cfg);
    };
    for (const auto& s : scenarios) {
      for (int n = 0; n < std::max(1, opts.repeat); ++n) {
        if (s.uses_probe() && image.probe.empty()) {
          // Spec checks without the probe would check nothing: say so instead of booting.
          ScenarioResult r;
          r.scenario = s.name;
          r.scenario_path = s.path;
          r.kernel = k.release;
          r.kernel_name = k.name;
          r.verdict = Verdict::Error;
          r.reason = "the spec checks need the probe: " + image.probe_problem;
          results.push_back(r);
          continue;
        }
        ScenarioResult r = run_scenario(s, k, opts.run, factory, progress);
        if (r.verdict == Verdict::Fail) {
          // A kernel developer gets the failure in a form that reruns anywhere QEMU does.
          try {
            r.reproducer = write_reproducer(s, k, image.initramfs, r.artifacts + "/repro", &r);
            progress(fmt::format("  reproducer: {}/run.sh", r.reproducer));
          } catch (const std::exception& e) {
            progress(fmt::format("  no reproducer: {}", e.what()));
          }
          try {
            write_result_file(r, r.artifacts + "/result.json");
          } catch (const std::exception& e) {
            progress(fmt::format("  {}", e.what()));
          }
        }
        if (r.verdict == Verdict::XPass)
          for (const auto& x : r.xpass)
            progress(fmt::format("  XPASS: the xfail entry for case {} {} ({}) did not fail: remove or narrow it", x.case_no, x.check,
                                 x.evidence));
        results.push_back(r);
        if (opts.after_each) opts.after_each(results);
      }
    }
  }
  return results;
}

}  // namespace rig
