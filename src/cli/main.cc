// The rig's command line: parse, call the library, map the outcome to an exit status.
//   0 all passed, 1 a check failed, 2 usage or scenario error, 3 infrastructure error.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <fstream>
#include <iostream>

#include "rig/accel_probe.h"
#include "rig/errors.h"
#include "rig/guest_image.h"
#include "rig/kernel_locator.h"
#include "rig/paths.h"
#include "rig/qemu_args.h"
#include "rig/qemu_machine.h"
#include "rig/qemu_process.h"
#include "rig/results_report.h"
#include "rig/scenario_file.h"
#include "rig/scenario_runner.h"
#include "rig/test_reports.h"

namespace fs = boost::filesystem;
using namespace rig;

namespace {

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
  std::string accel = "auto";
  std::string artifacts = "rig-runs";
  std::string qemu = "qemu-system-x86_64";
  double boot_timeout = 0;
  double step_timeout = 0;
};

int cmd_run(const RunArgs& a) {
  // Everything the user gave is checked before anything boots.
  std::vector<Scenario> scenarios = select_scenarios(a.scenarios, a.suite);
  std::vector<KernelImage> kernels;
  for (const auto& k : a.kernels) kernels.push_back(locate_kernel(k));
  if (kernels.empty()) kernels.push_back(locate_kernel("debian-6.1"));
  if (find_program(a.qemu).empty())
    throw InfraError(fmt::format("{} not found (apt-get install qemu-system-x86)", a.qemu));
  if (!a.json.empty()) {
    fs::path parent = fs::absolute(a.json).parent_path();
    if (!fs::is_directory(parent)) throw UsageError(fmt::format("--json {}: directory {} does not exist", a.json, parent.string()));
  }

  RunOptions opts;
  opts.artifacts_root = fs::absolute(a.artifacts).lexically_normal().string();
  if (a.boot_timeout > 0) opts.timeouts.boot = a.boot_timeout;
  if (a.step_timeout > 0) opts.timeouts.step = a.step_timeout;
  make_private_dir(opts.artifacts_root);
  auto progress = [](const std::string& line) { std::cerr << "[rig] " << line << std::endl; };

  std::vector<ScenarioResult> results;
  for (const auto& k : kernels) {
    AccelChoice accel = choose_accel(a.accel, k.path, a.qemu);
    progress(fmt::format("kernel {} ({}): accel {} ({})", k.release, k.path, accel.accel, accel.why));
    const GuestImage image = guest_image(k);
    const std::string initrd = image.initramfs;
    if (image.probe.empty()) progress(fmt::format("kernel {}: no probe: {}", k.release, image.probe_problem));
    MachineFactory factory = [&](const Scenario& s, const std::string& run_dir) -> std::unique_ptr<Machine> {
      QemuMachineConfig cfg;
      cfg.scenario = s;
      cfg.kernel_path = k.path;
      cfg.kernel_release = k.release;
      cfg.initrd = initrd;
      cfg.accel = accel.accel;
      cfg.run_dir = run_dir;
      cfg.timeouts = opts.timeouts;
      cfg.qemu_binary = a.qemu;
      return std::make_unique<QemuMachine>(cfg);
    };
    for (const auto& s : scenarios) {
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
      results.push_back(run_scenario(s, k, opts, factory, progress));
      if (!a.json.empty()) write_report_file(results, a.json);  // a killed run keeps what it did
    }
  }
  if (a.ktap == "-") write_ktap(results, std::cout);
  else print_table(results, std::cout);
  if (!a.json.empty()) write_report_file(results, a.json);
  if (!a.junit.empty()) {
    std::ofstream out(a.junit);
    write_junit(results, out);
  }
  if (!a.ktap.empty() && a.ktap != "-") {
    std::ofstream out(a.ktap);
    write_ktap(results, out);
  }
  return exit_status_for(results);
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
  run_cmd->add_option("--kernel,-k", run.kernels, "bzImage path, or debian-6.1 / debian-6.12 (default debian-6.1, Debian 12's kernel)");
  run_cmd->add_option("--json", run.json, "Write the results as JSON to this file");
  run_cmd->add_option("--junit", run.junit, "Write JUnit XML for CI dashboards to this file");
  run_cmd->add_option("--ktap", run.ktap, "Write KTAP to this file ('-': on stdout instead of the table)");
  run_cmd->add_option("--accel", run.accel, "auto, kvm or tcg (auto falls back to tcg when KVM guests do not run)")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  run_cmd->add_option("--artifacts", run.artifacts, "Directory for per-run artifacts")->capture_default_str();
  run_cmd->add_option("--qemu", run.qemu, "QEMU binary")->capture_default_str();
  run_cmd->add_option("--boot-timeout", run.boot_timeout, "Seconds from QEMU start to a ready guest");
  run_cmd->add_option("--step-timeout", run.step_timeout, "Seconds for one step unless the scenario says");

  auto* list_cmd = app.add_subcommand("list", "List the shipped scenarios with the spec cases they exercise");
  std::vector<std::string> check_files;
  auto* check_cmd = app.add_subcommand("check", "Validate scenario files without booting anything");
  check_cmd->add_option("files", check_files, "Scenario files")->required();
  std::string args_file, args_kernel = "KERNEL";
  auto* args_cmd = app.add_subcommand("qemu-args", "Print the QEMU command line of a scenario");
  args_cmd->add_option("file", args_file, "Scenario file")->required();
  args_cmd->add_option("--kernel", args_kernel, "Kernel path to show");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*run_cmd) return cmd_run(run);
    if (*list_cmd) return cmd_list();
    if (*check_cmd) return cmd_check(check_files);
    if (*args_cmd) return cmd_qemu_args(args_file, args_kernel);
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
