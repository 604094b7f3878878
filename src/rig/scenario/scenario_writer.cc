#include "rig/scenario/scenario_writer.h"

#include <fmt/format.h>

#include <sstream>
#include <toml++/toml.h>

#include "rig/base/size.h"

namespace rig {

namespace {

// A TOML string, quoted and escaped by toml++ itself.
std::string quoted(const std::string& s) {
  std::ostringstream o;
  o << toml::value<std::string>(s);
  return o.str();
}

template <class T, class F>
std::string array(const std::vector<T>& v, F item) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + item(v[i]);
  return out + "]";
}

}  // namespace

std::string scenario_toml(const Scenario& s, const std::string& header) {
  std::ostringstream o;
  std::istringstream h(header);
  for (std::string line; std::getline(h, line);) o << (line.empty() ? "#" : "# " + line) << "\n";
  o << "name = " << quoted(s.name) << "\n";
  if (!s.description.empty()) o << "description = " << quoted(s.description) << "\n";
  if (!s.suites.empty()) o << "suites = " << array(s.suites, quoted) << "\n";
  if (!s.cases.empty()) o << "cases = " << array(s.cases, [](int c) { return std::to_string(c); }) << "\n";
  if (s.cycles != 1) o << "cycles = " << s.cycles << "\n";
  if (!s.not_exercised.empty()) {
    o << "\n[not_exercised]\n";
    for (const auto& [c, why] : s.not_exercised) o << c << " = " << quoted(why) << "\n";
  }

  const MachineSpec& m = s.machine;
  o << "\n[machine]\ntype = " << quoted(m.type) << "\ncpu = " << quoted(m.cpu) << "\nsmp = " << m.smp << "\n";
  if (m.maxmem) o << "maxmem = " << quoted(format_size(m.maxmem)) << "\n";
  if (m.slots) o << "slots = " << m.slots << "\n";
  if (!m.kernel_args.empty()) o << "kernel_args = " << array(m.kernel_args, quoted) << "\n";

  for (const auto& n : s.nodes) {
    o << "\n[[node]]\nid = " << n.id << "\n";
    if (!n.cpus.empty()) o << "cpus = " << quoted(n.cpus) << "\n";
    if (n.memory) o << "memory = " << quoted(format_size(n.memory)) << "\n";
  }
  for (const auto& d : s.dimms) {
    o << "\n[[dimm]]\nid = " << quoted(d.id) << "\nsize = " << quoted(format_size(d.size)) << "\nnode = " << d.node
      << "\naddr = " << quoted(format_hex(d.addr)) << "\n";
    if (d.boot)
      o << "boot = true\n";
    else if (d.present)
      o << "present = true\n";
  }
  for (const auto& v : s.virtio_mems) {
    o << "\n[[virtio_mem]]\nid = " << quoted(v.id) << "\nnode = " << v.node
      << "\nsize = " << quoted(format_size(v.size)) << "\nblock_size = " << quoted(format_size(v.block_size))
      << "\nrequested = " << quoted(format_size(v.requested)) << "\n";
  }
  for (const auto& st : s.steps) {
    o << "\n[[step]]\naction = " << quoted(step_action_name(st.action)) << "\n";
    if (!st.dimm.empty()) o << "dimm = " << quoted(st.dimm) << "\n";
    if (st.action == StepAction::Resize)
      o << "device = " << quoted(st.device) << "\nsize = " << quoted(format_size(st.size)) << "\n";
    if (st.node >= 0) o << "node = " << st.node << "\n";
    if (!st.zone.empty()) o << "zone = " << quoted(st.zone) << "\n";
    if (!st.expect.empty()) o << "expect = " << quoted(st.expect) << "\n";
    if (st.timeout_s > 0) o << "timeout = " << fmt::format("{}", st.timeout_s) << "\n";
  }
  for (const auto& x : s.xfails) {
    o << "\n[[xfail]]\ncase = " << x.case_no << "\ncheck = " << quoted(x.check) << "\nkernel = " << quoted(x.kernel)
      << "\npattern = " << quoted(x.pattern) << "\nmax_pages = " << x.max_pages << "\nevidence = " << quoted(x.evidence)
      << "\n";
  }
  return o.str();
}

}  // namespace rig
