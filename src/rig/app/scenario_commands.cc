#include "rig/app/scenario_commands.h"
#include "rig/app/environment.h"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "rig/app/scenario_selection.h"
#include "rig/base/errors.h"
#include "rig/base/paths.h"
#include "rig/machine/libvirt/libvirt_xml.h"
#include "rig/machine/launch_spec.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/scenario/scenario_file.h"

namespace rig::app {

int list_scenarios(const std::string& home) {
  for (const auto& f : shipped_scenario_files(home.empty() ? rig_home(environment()) : home)) {
    Scenario s = load_scenario_file(f);
    std::string cases, suites;
    for (int c : s.cases) cases += fmt::format("{}{}", cases.empty() ? "" : ",", c);
    for (const auto& su : s.suites) suites += (suites.empty() ? "" : ",") + su;
    std::cout << fmt::format("{:<32} cases {:<10} suites {:<10} {}\n", s.name, cases.empty() ? "-" : cases,
                             suites.empty() ? "-" : suites, s.description);
  }
  return 0;
}

int check_scenarios(const std::vector<std::string>& files) {
  for (const auto& f : files) {
    load_scenario_file(f);
    std::cout << f << ": ok\n";
  }
  return 0;
}

int print_qemu_args(const QemuArgsOptions& o) {
  Scenario s = load_scenario_file(o.scenario);
  // The launch the QEMU backend makes (launch_spec()): QEMU runs in the run directory (RUN), so
  // its sockets are named relative to it.
  GuestBoot boot;
  boot.scenario = s;
  boot.kernel_path = o.kernel;
  boot.initrd = kPlaceholderInitrd;
  boot.run_dir = kPlaceholderRunDir;
  std::cout << shell_join(qemu_argv(s, launch_spec(boot, {}))) << "\n";
  return 0;
}

int print_libvirt_xml(const LibvirtXmlOptions& o) {
  Scenario s = load_scenario_file(o.scenario);
  const std::string skip = libvirt_skip_reason(s);
  if (!skip.empty()) throw UsageError(fmt::format("{}: the libvirt backend skips it: {}", o.scenario, skip));
  // The launch the libvirt backend makes (launch_spec(), as LibvirtMachine defines the domain);
  // --run-dir names the agent socket's folder, which the backend leaves to libvirt.
  GuestBoot boot;
  boot.scenario = s;
  boot.kernel_path = o.kernel;
  boot.initrd = o.initrd;
  boot.run_dir = o.run_dir;
  boot.accel = o.type == "kvm" ? "kvm" : "tcg";
  LibvirtDomainSpec spec;
  static_cast<LaunchSpec&>(spec) = launch_spec(boot, {});
  spec.name = domain_name(static_cast<long>(::getpid()), 1, s.name);
  spec.qga_socket = o.run_dir + "/qga.sock";
  std::cout << domain_xml(s, spec);
  return 0;
}

}  // namespace rig::app
