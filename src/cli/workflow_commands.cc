// rig kernel build, rig repro, rig bisect-step, rig bisect, rig explore.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "rig/app/explore_command.h"
#include "rig/app/kernel_commands.h"

namespace rig::cli {

namespace {

void add_bisect_options(CLI::App* c, app::BisectCommandOptions& b) {
  c->add_option("--case", b.case_no, "The spec case (1-5) whose failure makes a revision bad");
  c->add_option("--finding", b.finding,
                "Instead of --case: a finding of the register (rig/findings/ID.toml); a revision is bad when one of "
                "its signatures shows, good when what it is about was judged and it did not show");
  c->add_option("--scenario", b.scenarios,
                "Scenario files (default: the finding's scenario, or the shipped spec scenarios of the case)");
  c->add_option("--fragment", b.fragments, "Extra Kconfig fragments");
  c->add_option("--runs", b.runs, "Runs of each scenario: bad only when the case fails and no run passes")
      ->capture_default_str();
  c->add_option("--log", b.log, "Step log, appended")->capture_default_str();
  c->add_option("--artifacts", b.artifacts, "Artifacts of the runs")->capture_default_str();
  c->add_option("--kernel-out", b.kernel_out, "Build directory kept across steps");
  c->add_option("--accel", b.accel, "auto, kvm or tcg")->check(CLI::IsMember({"auto", "kvm", "tcg"}));
}

}  // namespace

void add_workflow_commands(CLI::App& top, Commands& out) {
  auto kb = std::make_shared<KernelBuildRequest>();
  auto* kernel = top.add_subcommand("kernel", "Guest kernels");
  kernel->require_subcommand(1);
  auto* c = kernel->add_subcommand("build", "Build a patched guest kernel; prints the directory --kernel takes");
  c->add_option("--src", kb->src,
                "Kernel tree (your own checkout), source tarball, or debian-SERIES: Debian's linux-source-SERIES "
                "(debian-6.1, debian-6.12 installed; others such as debian-7.3 fetched from the archive)")
      ->required();
  c->add_option("--patch", kb->patches, "Patch file, or a directory (series file, or *.patch in order); repeatable");
  c->add_option("--fragment", kb->fragments,
                "Kconfig fragment merged after guest-kernel-config/base.config; repeatable");
  c->add_option("--out", kb->out, "Kernel directory (default: in the cache, by inputs)");
  out.push_back({c, [kb] { return app::kernel_build(*kb); }});
  auto available = std::make_shared<bool>(false);
  c = kernel->add_subcommand("list", "Kernels for --kernel: Debian kernels in the cache and installed in /boot");
  c->add_flag("--available", *available,
              "Also what Debian's archive offers, per series (debian:SERIES takes the newest)");
  out.push_back({c, [available] { return app::kernel_list(*available); }});

  auto repro = std::make_shared<app::ReproOptions>();
  c = top.add_subcommand("repro", "Write a self-contained reproducer (QEMU and sh only) for a scenario");
  c->add_option("scenario", repro->scenario, "Scenario file")->required();
  c->add_option("--kernel,-k", repro->kernel, "bzImage path, kernel build directory, or debian-6.1 / debian-6.12");
  c->add_option("-o,--out", repro->out, "Directory (default repro-SCENARIO-RELEASE)");
  c->add_flag("--interactive", repro->interactive, "Then boot it with the guest console on this terminal");
  c->add_option("--finding", repro->finding,
                "Judge a finding of the register: run the scenario once on the kernel and look for that finding's "
                "signs only (pages, step, kernel report)");
  c->add_option("--signs-of", repro->signs_of,
                "Judge by the signs of another reproducer (its folder): the same failure, on this kernel");
  out.push_back({c, [repro] { return app::repro(*repro); }});

  auto bisect = std::make_shared<app::BisectCommandOptions>();
  c = top.add_subcommand(
      "bisect-step", "For git bisect run: build this checkout, test a case or a finding; exit 0 good, 1 bad, 125 skip");
  add_bisect_options(c, *bisect);
  c->add_option("--src", bisect->src, "Kernel tree (default: the current directory)");
  c->add_flag("--fix", bisect->fix,
              "A step of a bisection looking for the fix (rig bisect --broken/--fixed): exit 0 where it fails, 1 "
              "where it holds");
  out.push_back({c, [bisect] { return app::bisect_step(*bisect); }});
  c = top.add_subcommand("bisect",
                         "Find what broke a case: the commit (drives git bisect with bisect-step), or the first bad "
                         "kernel of a list (--kernels)");
  add_bisect_options(c, *bisect);
  c->add_option("--src", bisect->src, "Kernel git tree");
  c->add_option("--good", bisect->good, "A revision where the case holds");
  c->add_option("--bad", bisect->bad, "A revision where it fails");
  c->add_option("--broken", bisect->broken, "Looking for the fix: a revision where it still fails");
  c->add_option("--fixed", bisect->fixed, "Looking for the fix: a later revision where it holds");
  c->add_option("--kernels", bisect->kernels,
                "Kernels in order instead of a tree: debian:A..debian:B (Debian's builds between them) or K1,K2,...; "
                "a kernel that fails once is bad, one that cannot be judged is skipped");
  c->add_flag("--count-known-failures", bisect->count_known_failures,
              "Judge without expected failures, so that a known finding (an xfail) counts as its case failing: to "
              "bisect a finding of the register");
  out.push_back({c, [bisect] { return app::bisect(*bisect); }});

  auto ex = std::make_shared<app::ExploreCommandOptions>();
  c = top.add_subcommand(
      "explore",
      "Generate scenarios on the memmap's boundaries, run them until the budget is spent, minimize each failure");
  c->add_option("--kernel,-k", ex->kernels,
                fmt::format("bzImage path, kernel build directory, or debian-6.1 / debian-6.12; repeatable "
                            "(default {})",
                            app::kDefaultKernel));
  c->add_option("--budget", ex->budget, "Wall time to spend (20m, 1h30m, 90s)")->capture_default_str();
  c->add_option("--seed", ex->seed, "Seed of the draws: the same seed draws the same scenarios")->capture_default_str();
  c->add_option("--out", ex->out,
                "Folder for explore.json, generated/, findings/ and runs/ (default rig-explore-SEED)");
  c->add_option("-j,--jobs", ex->jobs, "Guests at once (default: as many as the cores and memory allow)");
  c->add_option("--accel", ex->accel, "auto, kvm or tcg")->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  c->add_option("--qemu", ex->qemu, "QEMU binary")->capture_default_str();
  c->add_option("--max-tries", ex->max_tries, "Candidates tried when minimizing one finding")->capture_default_str();
  c->add_flag("--no-snapshots", ex->no_snapshots, "Boot every guest");
  out.push_back({c, [ex] { return app::explore(*ex); }});
}

}  // namespace rig::cli
