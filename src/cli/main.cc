// The rig's command line: parse, call the library, map the outcome to an exit status.
//   0 all passed, 1 a check failed, 2 usage or scenario error, 3 infrastructure error.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <sstream>
#include <thread>
#include <boost/filesystem.hpp>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "rig/workflows/explorer.h"
#include "rig/host/accel_probe.h"
#include "rig/workflows/bisect.h"
#include "rig/base/errors.h"
#include "rig/host/guest_image.h"
#include "rig/report/html_report.h"
#include "rig/workflows/kernel_builder.h"
#include "rig/host/kernel_locator.h"
#include "rig/scenario/matrix.h"
#include "rig/base/paths.h"
#include "rig/run/progress_board.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/machine/libvirt/libvirt_cleanup.h"
#include "rig/machine/libvirt/libvirt_xml.h"
#include "rig/run/machine_factory.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/host/qemu_process.h"
#include "rig/run/reproducer.h"
#include "rig/report/results_report.h"
#include "rig/scenario/scenario_file.h"
#include "rig/run/scenario_runner.h"
#include "rig/host/snapshot_cache.h"
#include "rig/run/suite_runner.h"
#include "rig/report/test_reports.h"
#include "rig/base/text.h"

namespace fs = boost::filesystem;
using namespace rig;

namespace {

void progress_to_stderr(const std::string& line) { std::cerr << "[rig] " << line << std::endl; }

std::vector<std::string> shipped_scenario_files() {
  std::vector<std::string> files;
  const std::string dir = rig_home() + "/rig/scenarios";
  boost::system::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".toml") files.push_back(it->path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Scenario> select_scenario_files(const std::vector<std::string>& files, const std::string& suite);

std::vector<Scenario> select_scenarios(const std::vector<std::string>& files, const std::string& suite) {
  std::vector<Scenario> out = select_scenario_files(files, suite);
  // Known kernel failures shared by all scenarios, with their evidence in docs/.
  const std::string known = rig_home() + "/rig/known-failures.toml";
  if (fs::exists(known)) {
    auto xfails = load_known_failures(known);
    for (auto& s : out) s.xfails.insert(s.xfails.end(), xfails.begin(), xfails.end());
  }
  return out;
}

std::vector<Scenario> select_scenario_files(const std::vector<std::string>& files, const std::string& suite) {
  std::vector<Scenario> out;
  for (const auto& f : files) out.push_back(load_scenario_file(f));
  if (!suite.empty()) {
    for (const auto& f : shipped_scenario_files()) {
      Scenario s = load_scenario_file(f);
      if (std::find(s.suites.begin(), s.suites.end(), suite) != s.suites.end()) out.push_back(s);
    }
    if (out.empty()) throw UsageError(fmt::format("--suite {}: no shipped scenario belongs to that suite", suite));
  }
  if (out.empty()) throw UsageError("no scenario given (name scenario files or use --suite)");
  return out;
}

struct RunArgs {
  std::vector<std::string> scenarios;
  std::string suite;
  std::vector<std::string> kernels;
  std::string json;
  std::string junit;
  std::string ktap;
  std::string html;
  std::string out;
  std::string accel = "auto";
  std::string artifacts = "rig-runs";
  bool artifacts_given = false;
  std::string qemu = "qemu-system-x86_64";
  std::string backend = "qemu";
  std::string connect;
  double boot_timeout = 0;
  double step_timeout = 0;
  int jobs = 0;
  int repeat = 1;
  std::string shard;
  bool no_snapshots = false;
};

void check_parent_dir(const std::string& option, const std::string& file) {
  if (file.empty() || file == "-") return;
  fs::path parent = fs::absolute(file).parent_path();
  if (!fs::is_directory(parent))
    throw UsageError(fmt::format("{} {}: directory {} does not exist", option, file, parent.string()));
  boost::system::error_code ec;
  if (fs::is_directory(file, ec)) throw UsageError(fmt::format("{} {}: is a directory, not a file", option, file));
}

int cmd_run(RunArgs a) {
  // Everything the user gave is checked before anything boots.
  validate_backend({a.backend, a.qemu, a.accel, a.connect});
  if (a.repeat < 1) throw UsageError(fmt::format("--repeat {}: must be at least 1", a.repeat));
  if (a.jobs < 0) throw UsageError(fmt::format("-j {}: must be at least 1 (or 0: as many as the host allows)", a.jobs));
  Shard shard;
  if (!a.shard.empty()) shard = parse_shard(a.shard);
  if (!a.no_snapshots) snapshot_cache_max_from_env();
  std::vector<Scenario> scenarios = select_scenarios(a.scenarios, a.suite);
  std::vector<KernelImage> kernels;
  for (const auto& k : a.kernels) kernels.push_back(locate_kernel(k));
  if (kernels.empty()) kernels.push_back(locate_kernel("debian-6.1"));
  if (a.backend == "qemu" && find_program(a.qemu).empty())
    throw InfraError(fmt::format("{} not found (apt-get install qemu-system-x86)", a.qemu));
  check_backend_reachable({a.backend, a.qemu, a.accel, a.connect});
  if (!a.out.empty()) {
    // One folder with everything a CI job keeps: reports and artifacts.
    make_private_dir(fs::absolute(a.out).string());
    if (a.json.empty()) a.json = a.out + "/results.json";
    if (a.junit.empty()) a.junit = a.out + "/junit.xml";
    if (a.ktap.empty()) a.ktap = a.out + "/results.ktap";
    if (!a.artifacts_given) a.artifacts = a.out + "/runs";
  }
  check_parent_dir("--json", a.json);
  check_parent_dir("--junit", a.junit);
  check_parent_dir("--ktap", a.ktap);
  // report.html beside the JSON (or in --out), else in the artifacts folder: every run has one.
  if (!a.html.empty())
    check_parent_dir("--html", a.html);
  else  // the artifacts folder is made below
    a.html = (a.json.empty() ? fs::absolute(a.artifacts) / "report.html"
                             : fs::absolute(a.json).parent_path() / "report.html")
                 .string();
  const std::string json_dir = a.json.empty() ? "" : fs::absolute(a.json).parent_path().string();

  SuiteOptions opts;
  opts.run.artifacts_root = fs::absolute(a.artifacts).lexically_normal().string();
  if (a.boot_timeout > 0) opts.run.timeouts.boot = a.boot_timeout;
  if (a.step_timeout > 0) opts.run.timeouts.step = a.step_timeout;
  opts.backend = a.backend;
  opts.connect = a.connect;
  opts.accel = a.accel;
  opts.qemu = a.qemu;
  opts.jobs = a.jobs;
  opts.repeat = a.repeat;
  opts.shard = shard;
  opts.snapshots = !a.no_snapshots;

  RunInfo info;
  info.shard = a.shard;
  info.jobs = a.jobs;
  info.repeat = a.repeat;
  const auto started = std::chrono::steady_clock::now();
  // Every report is rewritten after each run, atomically: a run that is killed or interrupted
  // leaves valid reports of what it finished.
  auto write_reports = [&](const std::vector<ScenarioResult>& results, bool complete) {
    info.complete = complete;
    info.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!a.json.empty()) write_report_file(results, a.json, info);
    if (!a.junit.empty()) {
      std::ostringstream x;
      write_junit(results, x);
      write_file_atomically(a.junit, x.str());
    }
    if (!a.ktap.empty() && a.ktap != "-") {
      std::ostringstream x;
      write_ktap(results, x);
      write_file_atomically(a.ktap, x.str());
    }
    write_html_report(results, info, a.html, json_dir);
  };
  opts.after_each = [&](const std::vector<ScenarioResult>& so_far) { write_reports(so_far, false); };
  make_private_dir(opts.run.artifacts_root);

  const char* term = std::getenv("TERM");
  const bool live = ::isatty(2) && term && std::string(term) != "dumb";
  ProgressBoard board(std::cerr, live);
  std::atomic<bool> finished{false};
  std::thread ticker([&] {
    while (!finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      board.tick();
    }
  });
  std::vector<ScenarioResult> results;
  try {
    results = run_suite(scenarios, kernels, opts, [&](const RunEvent& e) { board.handle(e); });
  } catch (...) {
    finished = true;
    ticker.join();
    throw;
  }
  finished = true;
  ticker.join();
  board.close();

  if (a.ktap == "-")
    write_ktap(results, std::cout);
  else
    print_table(results, std::cout);
  write_reports(results, true);
  std::cerr << "[rig] report: " << a.html << std::endl;
  return exit_status_for(results);
}

struct ExploreArgs {
  std::vector<std::string> kernels;
  std::string budget = "30m";
  uint64_t seed = 1;
  std::string out;
  int jobs = 0;
  std::string accel = "auto";
  std::string qemu = "qemu-system-x86_64";
  bool no_snapshots = false;
  int max_tries = 16;
};

int cmd_explore(const ExploreArgs& a) {
  // Everything checked before anything boots.
  auto budget = parse_duration(a.budget);
  if (!budget) throw UsageError(fmt::format("--budget {}: not a duration (e.g. 20m, 1h30m, 90s)", a.budget));
  if (a.jobs < 0) throw UsageError(fmt::format("-j {}: must be at least 1 (or 0: as many as the host allows)", a.jobs));
  if (a.max_tries < 0) throw UsageError(fmt::format("--max-tries {}: must not be negative", a.max_tries));
  ExploreOptions o;
  o.budget_s = *budget;
  o.seed = a.seed;
  o.out = fs::absolute(a.out.empty() ? fmt::format("rig-explore-{}", a.seed) : a.out).lexically_normal().string();
  o.max_minimize_tries = a.max_tries;
  for (const auto& k : a.kernels) o.kernels.push_back(locate_kernel(k));
  if (o.kernels.empty()) o.kernels.push_back(locate_kernel("debian-6.1"));
  if (find_program(a.qemu).empty())
    throw InfraError(fmt::format("{} not found (apt-get install qemu-system-x86)", a.qemu));
  const std::string known = rig_home() + "/rig/known-failures.toml";
  if (fs::exists(known)) o.known = load_known_failures(known);
  o.suite.accel = a.accel;
  o.suite.qemu = a.qemu;
  o.suite.jobs = a.jobs;
  o.suite.snapshots = !a.no_snapshots;
  if (!a.no_snapshots) snapshot_cache_max_from_env();
  progress_to_stderr(fmt::format("explore: seed {}, budget {:.0f} s, kernels {}, output {}", o.seed, o.budget_s,
                                 a.kernels.empty() ? "debian-6.1" : fmt::format("{}", fmt::join(a.kernels, " ")),
                                 o.out));
  // On a terminal: the guests' live lines and a status line with the budget left; elsewhere one
  // line per run.
  const char* term = std::getenv("TERM");
  const bool live = ::isatty(2) && term && std::string(term) != "dumb";
  ProgressBoard board(std::cerr, live);
  std::function<void(const std::string&)> progress = progress_to_stderr;
  if (live) {
    const auto deadline = ProgressBoard::Clock::now() + std::chrono::milliseconds(static_cast<long>(o.budget_s * 1000));
    o.on_event = [&](const RunEvent& e) {
      if (e.kind != RunEvent::Kind::Note) board.handle(e);
    };
    o.status = [&board, deadline](const std::string& text) { board.set_status(text, deadline); };
    // A finished guest has its own line above the live ones; the plain "run N: ..." would repeat it.
    progress = [&](const std::string& line) {
      if (line.rfind("run ", 0) != 0) board.print(line);
    };
  }
  std::atomic<bool> finished{false};
  std::thread ticker([&] {
    while (live && !finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      board.tick();
    }
  });
  ExploreSummary s;
  try {
    s = explore(o, progress);
  } catch (...) {
    finished = true;
    ticker.join();
    board.close();
    throw;
  }
  finished = true;
  ticker.join();
  board.close();
  for (const auto& f : s.findings)
    if (!f.finding.known && !f.flaky) return 1;  // confirmed, or seen failing and never seen passing
  return s.coverage.runs > 0 && s.coverage.errors == s.coverage.runs ? 3 : 0;
}

int cmd_cache(bool clear) {
  SnapshotCache cache = SnapshotCache::default_cache();
  if (clear) {
    const uint64_t freed = cache.clear();
    std::cout << fmt::format("removed the snapshots in {} ({} MiB)\n", cache.root(), freed >> 20);
    return 0;
  }
  uint64_t total = 0;
  std::cout << fmt::format("{:<16} {:>9}  {:<19}  {}\n", "KEY", "SIZE", "LAST USED", "WHAT");
  for (const auto& e : cache.list()) {
    total += e.bytes;
    std::tm tm{};
    localtime_r(&e.last_used, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    std::cout << fmt::format("{:<16} {:>6} MiB  {}  {}\n", e.key, e.bytes >> 20, when, e.description);
  }
  std::cout << fmt::format("{} MiB of {} MiB (RIG_SNAPSHOT_CACHE_MAX) in {}\n", total >> 20, cache.max_bytes() >> 20,
                           cache.root());
  return 0;
}

int cmd_kernel_build(const KernelBuildRequest& req) {
  KernelBuildResult r;
  try {
    r = build_kernel(req, [](const std::string& line) { std::cerr << "[rig] " << line << std::endl; });
  } catch (const KernelBuildFailed& e) {
    // Say whose failure it is: the kernel's source (a compile error) or the host (disk, tools).
    std::cerr << "rig: kernel build failed: " << diagnose_build_failure(e.exit_code(), e.log()).why << std::endl;
    return 3;
  }
  KernelImage k = locate_kernel(r.dir);
  if (!r.cached) std::cerr << fmt::format("[rig] built {} in {:.0f} s", k.release, r.seconds) << std::endl;
  // The probe and the guest image are part of a usable kernel: build them now, not at first run.
  const GuestImage image = guest_image(k);
  if (image.probe.empty()) throw InfraError(image.probe_problem);
  std::cerr << fmt::format("[rig] probe {}", image.probe) << std::endl;
  std::cout << r.dir << "\n";
  return 0;
}

int cmd_repro(const std::string& file, const std::string& kernel_name, std::string out, bool interactive) {
  Scenario s = load_scenario_file(file);
  KernelImage k = locate_kernel(kernel_name);
  if (out.empty()) out = fmt::format("repro-{}-{}", s.name, k.release);
  const GuestImage image = guest_image(k);
  const std::string dir = write_reproducer(s, k, image.initramfs, fs::absolute(out).string(), nullptr);
  std::cout << dir << "/run.sh\n";
  if (!interactive) return 0;
  std::cout.flush();
  ::execl("/bin/sh", "sh", (dir + "/run.sh").c_str(), "--interactive", static_cast<char*>(nullptr));
  throw InfraError("cannot run the reproducer");
}

struct BisectArgs {
  int case_no = 0;
  std::vector<std::string> scenarios;
  std::vector<std::string> fragments;
  int runs = 1;
  std::string src = ".";
  std::string log = "rig-bisect.log";
  std::string artifacts = "rig-runs/bisect";
  std::string kernel_out;
  std::string accel = "auto";
  std::string good, bad;
};

BisectOptions bisect_options(const BisectArgs& a) {
  BisectOptions o;
  o.case_no = a.case_no;
  if (a.case_no < 1 || a.case_no > 5) throw UsageError(fmt::format("--case {}: the spec has cases 1 to 5", a.case_no));
  if (a.runs < 1) throw UsageError("--runs must be at least 1");
  o.scenarios = a.scenarios.empty() ? scenarios_for_case(select_scenarios({}, "spec"), a.case_no)
                                    : select_scenarios(a.scenarios, "");
  if (o.scenarios.empty())
    throw UsageError(fmt::format("--case {}: no shipped scenario exercises it; name one with --scenario", a.case_no));
  for (const auto& f : a.fragments) o.fragments.push_back(fs::absolute(f).string());
  o.runs = a.runs;
  o.src = fs::absolute(a.src).lexically_normal().string();
  if (!fs::exists(fs::path(o.src) / "Makefile")) throw UsageError(fmt::format("--src {}: not a kernel tree", a.src));
  o.log = fs::absolute(a.log).string();
  o.artifacts = fs::absolute(a.artifacts).lexically_normal().string();
  // One build directory for the whole bisection: each step rebuilds only what changed.
  o.kernel_out = a.kernel_out.empty() ? cache_dir() + "/kernels/bisect-" + content_hash(o.src)
                                      : fs::absolute(a.kernel_out).string();
  o.accel = a.accel;
  return o;
}

int cmd_bisect_step(const BisectArgs& a) {
  BisectOptions o;
  try {
    o = bisect_options(a);
  } catch (const UsageError& e) {
    // git bisect run aborts on exit codes above 127 only; a usage error must stop it, not skip.
    std::cerr << kBisectStopPrefix << e.what() << std::endl;
    return kBisectStopExit;
  }
  try {
    return bisect_step(o, progress_to_stderr);
  } catch (const std::exception& e) {
    // The rig itself cannot work here (no QEMU, no disk, git failing): stop the bisection, do
    // not call the revision bad (1-127) or skip it (125) for a problem that is not the kernel's.
    std::cerr << kBisectStopPrefix << e.what() << std::endl;
    return kBisectStopExit;
  }
}

int cmd_bisect(const BisectArgs& a) {
  BisectOptions o = bisect_options(a);
  std::vector<std::string> step = {fs::canonical("/proc/self/exe").string(),
                                   "bisect-step",
                                   "--case",
                                   std::to_string(o.case_no),
                                   "--src",
                                   o.src,
                                   "--log",
                                   o.log,
                                   "--artifacts",
                                   o.artifacts,
                                   "--kernel-out",
                                   o.kernel_out,
                                   "--runs",
                                   std::to_string(o.runs),
                                   "--accel",
                                   o.accel};
  for (const auto& s : o.scenarios) step.insert(step.end(), {"--scenario", fs::absolute(s.path).string()});
  for (const auto& f : o.fragments) step.insert(step.end(), {"--fragment", f});
  std::ofstream(o.log, std::ios::app) << fmt::format("# rig bisect --case {} good {} bad {} in {}\n", o.case_no, a.good,
                                                     a.bad, o.src);
  BisectRunResult r = bisect_run(o, a.good, a.bad, step, progress_to_stderr);
  if (!r.stopped.empty()) {
    std::cerr << "rig: bisection stopped: " << r.stopped << std::endl;
    return 3;
  }
  if (r.first_bad.empty()) {
    std::cerr << "rig: git bisect named no first bad commit; see " << o.log << std::endl;
    return 1;
  }
  std::cout << fmt::format("first bad commit: {} {}\n", r.first_bad, r.subject);
  if (!r.evidence.empty()) std::cout << "evidence: " << r.evidence << "\n";
  std::cout << "log: " << o.log << "\n";
  return 0;
}

int cmd_list() {
  for (const auto& f : shipped_scenario_files()) {
    Scenario s = load_scenario_file(f);
    std::string cases, suites;
    for (int c : s.cases) cases += fmt::format("{}{}", cases.empty() ? "" : ",", c);
    for (const auto& su : s.suites) suites += (suites.empty() ? "" : ",") + su;
    std::cout << fmt::format("{:<32} cases {:<10} suites {:<10} {}\n", s.name, cases.empty() ? "-" : cases,
                             suites.empty() ? "-" : suites, s.description);
  }
  return 0;
}

int cmd_check(const std::vector<std::string>& files) {
  for (const auto& f : files) {
    load_scenario_file(f);
    std::cout << f << ": ok\n";
  }
  return 0;
}

// Rebuilds report.html from an earlier run's results and artifacts; runs nothing.
int cmd_report(const std::string& results_file, std::string out) {
  const LoadedReport report = load_results_file(results_file);
  const fs::path dir = fs::absolute(results_file).parent_path();
  if (out.empty()) out = (dir / "report.html").string();
  check_parent_dir("-o", out);
  write_html_report(report.results, report.info, out, dir.string());
  std::cout << out << "\n";
  return 0;
}

int cmd_cleanup(const std::string& uri) {
  const std::string target = uri.empty() ? default_libvirt_uri() : uri;
  if (target.rfind("qemu", 0) != 0 || target.find("://") == std::string::npos)
    throw UsageError(fmt::format("--connect {}: not a libvirt QEMU URI (e.g. qemu:///system)", target));
  const auto removed = cleanup_rig_domains(target, [](const std::string& line) { std::cout << line << "\n"; });
  std::cout << fmt::format("{} leftover domain(s) and storage pool(s) removed from {}\n", removed.size(), target);
  return 0;
}

int cmd_libvirt_xml(const std::string& file, const std::string& kernel, const std::string& initrd,
                    const std::string& run_dir, const std::string& type) {
  Scenario s = load_scenario_file(file);
  const std::string skip = libvirt_skip_reason(s);
  if (!skip.empty()) throw UsageError(fmt::format("{}: the libvirt backend skips it: {}", file, skip));
  LibvirtDomainSpec spec;
  spec.name = domain_name(static_cast<long>(::getpid()), 1, s.name);
  spec.domain_type = type;
  spec.kernel = kernel;
  spec.initrd = initrd;
  spec.qga_socket = run_dir + "/qga.sock";
  spec.extra_kernel_args = rig_kernel_args();
  std::cout << domain_xml(s, spec);
  return 0;
}

int cmd_qemu_args(const std::string& file, const std::string& kernel) {
  Scenario s = load_scenario_file(file);
  QemuLaunchSpec spec;
  spec.kernel = kernel;
  spec.initrd = "INITRD";
  spec.console_log = "RUN/console.log";
  spec.qmp_socket = "RUN/qmp.sock";
  spec.qga_socket = "RUN/qga.sock";
  spec.extra_kernel_args = rig_kernel_args();
  std::cout << shell_join(qemu_argv(s, spec)) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  install_child_reaper_signal_handlers();
  CLI::App app{"rig: a QEMU test rig for Linux memory hot-remove and bootmem-tagged memmap pages"};
  app.require_subcommand(1);

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Boot each kernel, run each scenario, report");
  run_cmd->add_option("scenarios", run.scenarios, "Scenario files (TOML)");
  run_cmd->add_option("--suite", run.suite, "Run the shipped scenarios of this suite (e.g. spec)");
  run_cmd->add_option("--kernel,-k", run.kernels,
                      "bzImage path, or debian-6.1 / debian-6.12 (default debian-6.1, Debian 12's kernel)");
  run_cmd->add_option("--json", run.json, "Write the results as JSON to this file");
  run_cmd->add_option("--junit", run.junit, "Write JUnit XML for CI dashboards to this file");
  run_cmd->add_option("--ktap", run.ktap, "Write KTAP to this file ('-': on stdout instead of the table)");
  run_cmd->add_option("--accel", run.accel, "auto, kvm or tcg (auto falls back to tcg when KVM guests do not run)")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  run_cmd->add_option("--artifacts", run.artifacts, "Directory for per-run artifacts")
      ->capture_default_str()
      ->each([&run](const std::string&) { run.artifacts_given = true; });
  run_cmd->add_option("--qemu", run.qemu, "QEMU binary")->capture_default_str();
  run_cmd->add_option("--backend", run.backend, "What runs the guests: qemu, or libvirt")->capture_default_str();
  run_cmd->add_option("--connect", run.connect, "libvirt URI for --backend libvirt (default qemu:///system)");
  run_cmd->add_option("--boot-timeout", run.boot_timeout, "Seconds from QEMU start to a ready guest");
  run_cmd->add_option("--step-timeout", run.step_timeout, "Seconds for one step unless the scenario says");
  run_cmd->add_option("-j,--jobs", run.jobs, "Guests at once (default: as many as the cores and memory allow)");
  run_cmd->add_option("--shard", run.shard,
                      "Run the I-th of N stable parts of the matrix (I/N), for CI machines splitting one matrix");
  run_cmd->add_option("--repeat", run.repeat, "Runs of each scenario on each kernel; runs that disagree make it flaky")
      ->capture_default_str();
  run_cmd->add_flag("--no-snapshots", run.no_snapshots,
                    "Boot every guest (default: restore ready guests from the snapshot cache)");
  run_cmd->add_option("--out", run.out,
                      "One folder for results.json, junit.xml, results.ktap, report.html and runs/ (the artifacts)");
  run_cmd->add_option("--html", run.html,
                      "Write the HTML report here (default: report.html beside --json, in --out, else in --artifacts)");

  std::string report_file, report_out;
  auto* report_cmd =
      app.add_subcommand("report", "Rebuild report.html from an earlier run's results and artifacts (runs nothing)");
  report_cmd->add_option("results", report_file, "results.json of a run (or one run's result.json)")->required();
  report_cmd->add_option("-o,--out", report_out, "The HTML file (default: report.html beside RESULTS)");

  KernelBuildRequest kb;
  auto* kernel_cmd = app.add_subcommand("kernel", "Guest kernels");
  kernel_cmd->require_subcommand(1);
  auto* kbuild_cmd =
      kernel_cmd->add_subcommand("build", "Build a patched guest kernel; prints the directory --kernel takes");
  kbuild_cmd->add_option("--src", kb.src, "Kernel tree, source tarball, or debian-6.1 / debian-6.12 (linux-source-*)")
      ->required();
  kbuild_cmd->add_option("--patch", kb.patches,
                         "Patch file, or a directory (series file, or *.patch in order); repeatable");
  kbuild_cmd->add_option("--fragment", kb.fragments,
                         "Kconfig fragment merged after guest-kernel-config/base.config; repeatable");
  kbuild_cmd->add_option("--out", kb.out, "Kernel directory (default: in the cache, by inputs)");

  std::string repro_file, repro_kernel = "debian-6.1", repro_out;
  bool repro_interactive = false;
  auto* repro_cmd = app.add_subcommand("repro", "Write a self-contained reproducer (QEMU and sh only) for a scenario");
  repro_cmd->add_option("scenario", repro_file, "Scenario file")->required();
  repro_cmd->add_option("--kernel,-k", repro_kernel,
                        "bzImage path, kernel build directory, or debian-6.1 / debian-6.12");
  repro_cmd->add_option("-o,--out", repro_out, "Directory (default repro-SCENARIO-RELEASE)");
  repro_cmd->add_flag("--interactive", repro_interactive, "Then boot it with the guest console on this terminal");

  BisectArgs ba;
  auto add_bisect_options = [&ba](CLI::App* c) {
    c->add_option("--case", ba.case_no, "The spec case (1-5) whose failure makes a revision bad")->required();
    c->add_option("--scenario", ba.scenarios, "Scenario files (default: the shipped spec scenarios of that case)");
    c->add_option("--fragment", ba.fragments, "Extra Kconfig fragments");
    c->add_option("--runs", ba.runs, "Runs of each scenario: bad only when the case fails and no run passes")
        ->capture_default_str();
    c->add_option("--log", ba.log, "Step log, appended")->capture_default_str();
    c->add_option("--artifacts", ba.artifacts, "Artifacts of the runs")->capture_default_str();
    c->add_option("--kernel-out", ba.kernel_out, "Build directory kept across steps");
    c->add_option("--accel", ba.accel, "auto, kvm or tcg")->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  };
  auto* bstep_cmd = app.add_subcommand(
      "bisect-step", "For git bisect run: build this checkout, test a case; exit 0 good, 1 bad, 125 skip");
  add_bisect_options(bstep_cmd);
  bstep_cmd->add_option("--src", ba.src, "Kernel tree (default: the current directory)");
  auto* bisect_cmd =
      app.add_subcommand("bisect", "Find the commit that broke a case: drives git bisect with bisect-step");
  add_bisect_options(bisect_cmd);
  bisect_cmd->add_option("--src", ba.src, "Kernel git tree")->required();
  bisect_cmd->add_option("--good", ba.good, "A revision where the case holds")->required();
  bisect_cmd->add_option("--bad", ba.bad, "A revision where it fails")->required();

  ExploreArgs ea;
  auto* explore_cmd = app.add_subcommand(
      "explore",
      "Generate scenarios on the memmap's boundaries, run them until the budget is spent, minimize each failure");
  explore_cmd->add_option("--kernel,-k", ea.kernels,
                          "bzImage path, kernel build directory, or debian-6.1 / debian-6.12; repeatable");
  explore_cmd->add_option("--budget", ea.budget, "Wall time to spend (20m, 1h30m, 90s)")->capture_default_str();
  explore_cmd->add_option("--seed", ea.seed, "Seed of the draws: the same seed draws the same scenarios")
      ->capture_default_str();
  explore_cmd->add_option("--out", ea.out,
                          "Folder for explore.json, generated/, findings/ and runs/ (default rig-explore-SEED)");
  explore_cmd->add_option("-j,--jobs", ea.jobs, "Guests at once (default: as many as the cores and memory allow)");
  explore_cmd->add_option("--accel", ea.accel, "auto, kvm or tcg")->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  explore_cmd->add_option("--qemu", ea.qemu, "QEMU binary")->capture_default_str();
  explore_cmd->add_option("--max-tries", ea.max_tries, "Candidates tried when minimizing one finding")
      ->capture_default_str();
  explore_cmd->add_flag("--no-snapshots", ea.no_snapshots, "Boot every guest");

  auto* cache_cmd = app.add_subcommand("cache", "The snapshot cache of ready guests");
  cache_cmd->require_subcommand(1);
  auto* cache_list_cmd = cache_cmd->add_subcommand("list", "List the cached snapshots, their size and what they hold");
  auto* cache_clear_cmd = cache_cmd->add_subcommand("clear", "Remove every cached snapshot");
  (void)cache_list_cmd;

  auto* list_cmd = app.add_subcommand("list", "List the shipped scenarios with the spec cases they exercise");
  std::vector<std::string> check_files;
  auto* check_cmd = app.add_subcommand("check", "Validate scenario files without booting anything");
  check_cmd->add_option("files", check_files, "Scenario files")->required();
  std::string args_file, args_kernel = "KERNEL";
  auto* args_cmd = app.add_subcommand("qemu-args", "Print the QEMU command line of a scenario");
  args_cmd->add_option("file", args_file, "Scenario file")->required();
  args_cmd->add_option("--kernel", args_kernel, "Kernel path to show");
  std::string cleanup_uri;
  auto* cleanup_cmd =
      app.add_subcommand("cleanup", "Destroy and undefine libvirt domains a crashed run left behind (named rig-...)");
  cleanup_cmd->add_option("--connect", cleanup_uri, "libvirt URI (default qemu:///system)");
  std::string lx_file, lx_kernel = "KERNEL", lx_initrd = "INITRD", lx_run = "RUN", lx_type = "qemu";
  auto* lx_cmd = app.add_subcommand("libvirt-xml",
                                    "Print the libvirt domain XML of a scenario (or why the libvirt backend skips it)");
  lx_cmd->add_option("file", lx_file, "Scenario file")->required();
  lx_cmd->add_option("--kernel", lx_kernel, "Kernel path to put in <kernel>");
  lx_cmd->add_option("--initrd", lx_initrd, "Initramfs path to put in <initrd>");
  lx_cmd->add_option("--run-dir", lx_run, "Directory of console.log and qga.sock");
  lx_cmd->add_option("--type", lx_type, "Domain type")->check(CLI::IsMember({"qemu", "kvm"}))->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*run_cmd) return cmd_run(run);
    if (*report_cmd) return cmd_report(report_file, report_out);
    if (*list_cmd) return cmd_list();
    if (*explore_cmd) return cmd_explore(ea);
    if (*cache_cmd) return cmd_cache(static_cast<bool>(*cache_clear_cmd));
    if (*kbuild_cmd) return cmd_kernel_build(kb);
    if (*repro_cmd) return cmd_repro(repro_file, repro_kernel, repro_out, repro_interactive);
    if (*bstep_cmd) return cmd_bisect_step(ba);
    if (*bisect_cmd) return cmd_bisect(ba);
    if (*check_cmd) return cmd_check(check_files);
    if (*args_cmd) return cmd_qemu_args(args_file, args_kernel);
    if (*cleanup_cmd) return cmd_cleanup(cleanup_uri);
    if (*lx_cmd) return cmd_libvirt_xml(lx_file, lx_kernel, lx_initrd, lx_run, lx_type);
  } catch (const UsageError& e) {
    std::cerr << "rig: error: " << e.what() << std::endl;
    return 2;
  } catch (const InfraError& e) {
    std::cerr << "rig: infrastructure error: " << e.what() << std::endl;
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "rig: internal error: " << e.what() << std::endl;
    return 3;
  }
  return 2;
}
