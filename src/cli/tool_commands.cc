// rig cache list|clear, rig list, rig check, rig qemu-args, rig cleanup, rig libvirt-xml.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "rig/app/host_commands.h"
#include "rig/app/scenario_commands.h"

namespace rig::cli {

void add_tool_commands(CLI::App& top, Commands& out) {
  auto* cache = top.add_subcommand("cache", "The snapshot cache of ready guests");
  cache->require_subcommand(1);
  out.push_back({cache->add_subcommand("list", "List the cached snapshots, their size and what they hold"),
                 [] { return app::cache_list(); }});
  out.push_back({cache->add_subcommand("clear", "Remove every cached snapshot"), [] { return app::cache_clear(); }});

  out.push_back({top.add_subcommand("list", "List the shipped scenarios with the spec cases they exercise"),
                 [] { return app::list_scenarios(); }});

  auto check = std::make_shared<std::vector<std::string>>();
  auto* c = top.add_subcommand("check", "Validate scenario files without booting anything");
  c->add_option("files", *check, "Scenario files")->required();
  out.push_back({c, [check] { return app::check_scenarios(*check); }});

  auto args = std::make_shared<app::QemuArgsOptions>();
  c = top.add_subcommand("qemu-args", "Print the QEMU command line of a scenario");
  c->add_option("file", args->scenario, "Scenario file")->required();
  c->add_option("--kernel", args->kernel, "Kernel path to show");
  out.push_back({c, [args] { return app::print_qemu_args(*args); }});

  auto uri = std::make_shared<std::string>();
  c = top.add_subcommand("cleanup", "Destroy and undefine libvirt domains a crashed run left behind (named rig-...)");
  c->add_option("--connect", *uri, fmt::format("libvirt URI (default {})", app::default_libvirt_uri()));
  out.push_back({c, [uri] { return app::cleanup(*uri); }});

  auto lx = std::make_shared<app::LibvirtXmlOptions>();
  c = top.add_subcommand("libvirt-xml",
                         "Print the libvirt domain XML of a scenario (or why the libvirt backend skips it)");
  c->add_option("file", lx->scenario, "Scenario file")->required();
  c->add_option("--kernel", lx->kernel, "Kernel path to put in <kernel>");
  c->add_option("--initrd", lx->initrd, "Initramfs path to put in <initrd>");
  c->add_option("--run-dir", lx->run_dir, "Directory of console.log and qga.sock");
  c->add_option("--type", lx->type, "Domain type")->check(CLI::IsMember({"qemu", "kvm"}))->capture_default_str();
  out.push_back({c, [lx] { return app::print_libvirt_xml(*lx); }});
}

}  // namespace rig::cli
