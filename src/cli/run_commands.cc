// rig run, rig report, rig kcidb, rig compare, rig writeup, rig findings.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "rig/app/run_command.h"

namespace rig::cli {

void add_run_commands(CLI::App& top, Commands& out) {
  auto run = std::make_shared<app::RunOptions>();
  auto* c = top.add_subcommand("run", "Boot each kernel, run each scenario, report");
  c->add_option("scenarios", run->scenarios, "Scenario files (TOML)");
  c->add_option("--suite", run->suite,
                "Run the shipped scenarios of this suite (e.g. spec), or of several: spec,virtio-mem");
  c->add_option(
      "--kernel,-k", run->kernels,
      fmt::format("bzImage path, debian-6.1 / debian-6.12 (default {}, Debian 12's kernel), or debian:VERSION "
                  "(fetched from Debian's archive: debian:7.3, debian:6.18.15)",
                  app::kDefaultKernel));
  c->add_option("--json", run->json, "Write the results as JSON to this file");
  c->add_option("--junit", run->junit, "Write JUnit XML for CI dashboards to this file");
  c->add_option("--ktap", run->ktap, "Write KTAP to this file ('-': on stdout instead of the table)");
  c->add_option("--kcidb", run->kcidb,
                "Write the run as KernelCI KCIDB JSON (schema v5) to this file, for kcidb-submit");
  c->add_option("--kcidb-origin", run->kcidb_origin,
                "The KCIDB origin (your CI system's name: a-z, 0-9, _; default rig); with --out alone: OUT/kcidb.json");
  c->add_option("--kcidb-artifacts-url", run->kcidb_artifacts_url,
                "Where the runs' folders are published (http(s)://.../RUN_FOLDER/ each): log_url and output_files");
  c->add_option("--accel", run->accel, "auto, kvm or tcg (auto falls back to tcg when KVM guests do not run)")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  c->add_option("--artifacts", run->artifacts, "Directory for per-run artifacts")
      ->capture_default_str()
      ->each([run](const std::string&) { run->artifacts_given = true; });
  c->add_option("--qemu", run->qemu, "QEMU binary")->capture_default_str();
  c->add_option("--backend", run->backend, "What runs the guests: qemu, or libvirt")->capture_default_str();
  c->add_option("--connect", run->connect,
                fmt::format("libvirt URI for --backend libvirt (default {})", app::default_libvirt_uri()));
  c->add_option("--boot-timeout", run->boot_timeout, "Seconds from QEMU start to a ready guest");
  c->add_option("--step-timeout", run->step_timeout, "Seconds for one step unless the scenario says");
  c->add_option("-j,--jobs", run->jobs, "Guests at once (default: as many as the cores and memory allow)");
  c->add_option("--shard", run->shard,
                "Run the I-th of N stable parts of the matrix (I/N), for CI machines splitting one matrix");
  c->add_option("--repeat", run->repeat, "Runs of each scenario on each kernel; runs that disagree make it flaky")
      ->capture_default_str();
  c->add_option("--fail-on", run->fail_on,
                "any: a failure fails the run (exit 1); new: only a failure the findings register (rig/findings/) "
                "does not know, or a known one on a kernel it lists as unaffected")
      ->check(CLI::IsMember({"any", "new"}))
      ->capture_default_str();
  c->add_flag("--no-snapshots", run->no_snapshots,
              "Boot every guest (default: restore ready guests from the snapshot cache)");
  c->add_option("--out", run->out,
                "One folder for results.json, junit.xml, results.ktap, report.html and runs/ (the artifacts)");
  c->add_option("--html", run->html,
                "Write the HTML report here (default: report.html beside --json, in --out, else in --artifacts)");
  out.push_back({c, [run] { return app::run(*run); }});

  auto report = std::make_shared<app::ReportOptions>();
  c = top.add_subcommand("report", "Rebuild report.html from an earlier run's results and artifacts (runs nothing)");
  c->add_option("results", report->results, "results.json of a run (or one run's result.json)")->required();
  c->add_option("-o,--out", report->out, "The HTML file (default: report.html beside RESULTS)");
  out.push_back({c, [report] { return app::report(*report); }});

  auto wr = std::make_shared<app::WriteupOptions>();
  c = top.add_subcommand("writeup", "A failed run as a plain-text bug report for a kernel mailing list (72 columns)");
  c->add_option("results", wr->results, "results.json of a run")->required()->check(CLI::ExistingFile);
  c->add_option("--scenario", wr->scenario, "The failed run of this scenario (default: the first failed run)");
  c->add_option("--kernel", wr->kernel, "... on this kernel (a release or its start)");
  c->add_option("--check", wr->check, "... failing this check (then a known failure, xfail, is written up too)");
  c->add_option("--finding", wr->finding,
                "... showing this finding of the register (rig/findings/ID.toml), written up as that finding alone");
  c->add_option("-o,--out", wr->out, "Write the report here (default: standard output)");
  out.push_back({c, [wr] { return app::writeup(*wr); }});

  auto fnd = std::make_shared<app::FindingsOptions>();
  c = top.add_subcommand("findings",
                         "The findings register (rig/findings/), or each failure of RESULTS new or known, with its "
                         "signature");
  c->add_option("results", fnd->results, "results files (rig run's results.json)")->check(CLI::ExistingFile);
  out.push_back({c, [fnd] { return app::findings(*fnd); }});

  auto kc = std::make_shared<app::KcidbCommandOptions>();
  c = top.add_subcommand("kcidb", "An earlier run's results (merged shards too) as KernelCI KCIDB JSON (runs nothing)");
  c->add_option("results", kc->results, "results.json of a run")->required();
  c->add_option("-o,--out", kc->out, "Write the KCIDB file here (default: standard output)");
  c->add_option("--origin", kc->origin, "The KCIDB origin (a-z, 0-9, _; default rig)");
  c->add_option("--artifacts-url", kc->artifacts_url,
                "Where the runs' folders are published (http(s)://.../RUN_FOLDER/ each): log_url and output_files");
  out.push_back({c, [kc] { return app::kcidb(*kc); }});

  auto cmp = std::make_shared<app::CompareOptions>();
  c = top.add_subcommand(
      "compare", "Two kernels side by side: per scenario each check (page fates, counters, tags) and what changed");
  c->add_option("results", cmp->results, "results files holding both kernels (rig run's results.json)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("-a", cmp->a, "Kernel A: a release or its start (default: the first kernel found)");
  c->add_option("-b", cmp->b, "Kernel B (default: the next kernel found)");
  c->add_flag("--all", cmp->all, "List every check, not only those that changed");
  out.push_back({c, [cmp] { return app::compare(*cmp); }});
}

}  // namespace rig::cli
