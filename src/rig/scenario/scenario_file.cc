#include "rig/scenario/scenario_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "rig/base/errors.h"
#include "rig/base/safe_read.h"
#include "rig/base/size.h"
#include "rig/base/text.h"

namespace rig {
namespace {

// The largest physical address space of x86-64 (MAX_PHYSMEM_BITS with 5-level paging): no size,
// address or sum of them in a scenario can be beyond it, so none of their sums can wrap.
constexpr uint64_t kMaxPhysBytes = 1ull << 52;
// virtio-mem devices one scenario may declare (each is a PCI device of the one bus).
constexpr size_t kMaxVirtioMems = 8;
// The longest step timeout: a deadline must stay far inside the clock's range.
constexpr double kMaxTimeoutS = 7 * 24 * 3600.0;
// xfail patterns are short; a long one only risks std::regex's recursive compiler.
constexpr size_t kMaxPatternChars = 1000;
// Keys nest two deep in this format; toml++ recurses once per level (a dotted key or header of
// ~40000 parts overflows the stack), so a line with more dots outside strings is refused.
constexpr size_t kMaxDotsPerLine = 32;

// The scenario's kernel arguments together: the kernel's command line holds 2048 bytes (x86
// COMMAND_LINE_SIZE), and memmap= and the rig's own arguments need their share.
constexpr size_t kMaxKernelArgsBytes = 1024;

// A node's CPU list: "N" or "N-M" ranges, comma separated, each within [0, smp). The CPUs it
// names, or the reason it is not one. Only digits, '-' and ',' get through: nothing QEMU's
// option syntax (",memdev=...") or libvirt's would read as more than CPUs.
std::string parse_cpu_list(const std::string& text, int smp, std::set<int>& cpus) {
  if (text.empty()) return "must not be empty (leave cpus out for a CPU-less node)";
  if (text.find_first_not_of("0123456789-,") != std::string::npos)
    return fmt::format("'{}' is not a CPU list (N or N-M, comma separated, e.g. \"0-1\" or \"0,2\")",
                       one_line(text, 80));
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string range = text.substr(at, comma - at);
    const size_t dash = range.find('-');
    const std::string a = range.substr(0, dash), b = dash == std::string::npos ? a : range.substr(dash + 1);
    if (a.empty() || b.empty() || b.find('-') != std::string::npos || a.size() > 4 || b.size() > 4)
      return fmt::format("'{}' is not a CPU list (N or N-M, comma separated, e.g. \"0-1\" or \"0,2\")",
                         one_line(text, 80));
    const int first = std::stoi(a), last = std::stoi(b);
    if (first > last) return fmt::format("range {} runs backwards", range);
    if (last >= smp) return fmt::format("CPU {} does not exist: machine.smp = {} (CPUs 0-{})", last, smp, smp - 1);
    for (int c = first; c <= last; ++c)
      if (!cpus.insert(c).second) return fmt::format("CPU {} is named twice", c);
    at = comma + 1;
  }
  return "";
}

// The first line with more than kMaxDotsPerLine dots outside strings and comments (0: none).
// Tracks TOML's four string kinds and comments; anything malformed is left to toml++.
size_t too_deep_line(const std::string& text) {
  enum { Plain, Basic, Literal, MlBasic, MlLiteral, Comment } st = Plain;
  size_t line = 1, dots = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      dots = 0;
      if (st == Basic || st == Literal || st == Comment) st = Plain;
      continue;
    }
    switch (st) {
      case Plain:
        if (c == '.' && ++dots > kMaxDotsPerLine) return line;
        if (c == '#')
          st = Comment;
        else if (text.compare(i, 3, "\"\"\"") == 0)
          st = MlBasic, i += 2;
        else if (text.compare(i, 3, "'''") == 0)
          st = MlLiteral, i += 2;
        else if (c == '"')
          st = Basic;
        else if (c == '\'')
          st = Literal;
        break;
      case Basic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n')
          ++i;
        else if (c == '"')
          st = Plain;
        break;
      case Literal:
        if (c == '\'') st = Plain;
        break;
      case MlBasic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n')
          ++i;
        else if (text.compare(i, 3, "\"\"\"") == 0)
          st = Plain, i += 2;
        break;
      case MlLiteral:
        if (text.compare(i, 3, "'''") == 0) st = Plain, i += 2;
        break;
      case Comment: break;
    }
  }
  return 0;
}

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw UsageError(fmt::format("{}: {}: {}", path_, one_line(key, 120), one_line(why, 400)));
  }

  // Rejects keys the format does not know: a typo must not silently become a default.
  void only_keys(const toml::table& t, const std::string& where, std::initializer_list<const char*> allowed) const {
    for (auto&& [k, v] : t) {
      (void)v;
      std::string key(k.str());
      if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) == allowed.end())
        fail(where.empty() ? key : where + "." + key, "unknown key");
    }
  }

  std::string str(const toml::table& t, const std::string& where, const char* key, const std::string& def,
                  bool required = false) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(where + key, "required key is missing");
      return def;
    }
    auto v = n->value<std::string>();
    if (!v) fail(where + key, "must be a string");
    return *v;
  }

  int64_t integer(const toml::table& t, const std::string& where, const char* key, int64_t def,
                  bool required = false) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(where + key, "required key is missing");
      return def;
    }
    if (!n->is_integer()) fail(where + key, "must be an integer");
    return *n->value<int64_t>();
  }

  // An integer that must lie in [lo, hi] (checked before it is narrowed to int).
  int small_int(const toml::table& t, const std::string& where, const char* key, int64_t def, int64_t lo, int64_t hi,
                const std::string& why, bool required = false) const {
    const int64_t v = integer(t, where, key, def, required);
    if (v < lo || v > hi) fail(where + key, why);
    return static_cast<int>(v);
  }

  bool boolean(const toml::table& t, const std::string& where, const char* key, bool def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_boolean()) fail(where + key, "must be true or false");
    return *n->value<bool>();
  }

  double number(const toml::table& t, const std::string& where, const char* key, double def) const {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (!n->is_number()) fail(where + key, "must be a number");
    const double v = *n->value<double>();
    if (!std::isfinite(v)) fail(where + key, "must be a finite number");
    return v;
  }

  // Sizes may be written "512M" or as a plain integer of bytes.
  uint64_t size(const toml::table& t, const std::string& where, const char* key, uint64_t def,
                bool required = false) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(where + key, "required key is missing");
      return def;
    }
    if (n->is_integer()) {
      int64_t v = *n->value<int64_t>();
      if (v < 0) fail(where + key, "must not be negative");
      return static_cast<uint64_t>(v);
    }
    auto s = n->value<std::string>();
    if (!s) fail(where + key, "must be a size such as \"512M\" or an integer");
    auto parsed = parse_size(*s);
    if (!parsed) fail(where + key, fmt::format("'{}' is not a size (use e.g. 512M, 1G, 0x100000000)", *s));
    return *parsed;
  }

  std::vector<std::string> strings(const toml::table& t, const std::string& where, const char* key) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) fail(where + key, "must be an array of strings");
    for (auto&& e : *a) {
      auto v = e.value<std::string>();
      if (!v) fail(where + key, "must be an array of strings");
      out.push_back(*v);
    }
    return out;
  }

  std::vector<int64_t> ints(const toml::table& t, const std::string& where, const char* key) const {
    std::vector<int64_t> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) fail(where + key, "must be an array of integers");
    for (auto&& e : *a) {
      if (!e.is_integer()) fail(where + key, "must be an array of integers");
      out.push_back(*e.value<int64_t>());
    }
    return out;
  }

  const toml::array* table_array(const toml::table& t, const char* key) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) fail(key, fmt::format("must be written as [[{}]] tables", key));
    return a;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

StepAction parse_action(const Reader& r, const std::string& key, const std::string& name) {
  if (name == "plug") return StepAction::Plug;
  if (name == "online") return StepAction::Online;
  if (name == "unplug") return StepAction::Unplug;
  if (name == "expect-node") return StepAction::ExpectNode;
  if (name == "expect-dimm") return StepAction::ExpectDimm;
  if (name == "resize") return StepAction::Resize;
  r.fail(key, fmt::format("unknown action '{}' (plug, online, unplug, expect-node, expect-dimm, resize)", name));
}

void check_one_of(const Reader& r, const std::string& key, const std::string& value,
                  std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += list.empty() ? a : std::string(", ") + a;
  }
  r.fail(key, fmt::format("'{}' is not one of: {}", value, list));
}

std::vector<ExpectedFailure> parse_xfails(const Reader& r, const toml::table& root) {
  std::vector<ExpectedFailure> out;
  if (const toml::array* xf = r.table_array(root, "xfail")) {
    for (size_t i = 0; i < xf->size(); ++i) {
      const toml::table& t = *xf->get(i)->as_table();
      std::string where = fmt::format("xfail[{}]", i);
      r.only_keys(t, where, {"case", "check", "kernel", "pattern", "max_pages", "evidence"});
      ExpectedFailure e;
      e.case_no = r.small_int(t, where + ".", "case", 0, 1, 5, "must be a spec case, 1 to 5", true);
      e.check = r.str(t, where + ".", "check", "", true);
      if (e.check.empty()) r.fail(where + ".check", "must name a check exactly");
      e.kernel = r.str(t, where + ".", "kernel", "");
      // The pattern is what keeps an entry narrow: every offending page must match it.
      e.pattern = r.str(t, where + ".", "pattern", "", true);
      if (e.pattern.empty()) r.fail(where + ".pattern", "must not be empty (it is what makes the entry narrow)");
      if (e.pattern.size() > kMaxPatternChars)
        r.fail(where + ".pattern", fmt::format("is longer than {} characters", kMaxPatternChars));
      try {
        std::regex re(e.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& err) {
        r.fail(where + ".pattern", fmt::format("not a valid ECMAScript regex: {}", err.what()));
      }
      const int64_t max_pages = r.integer(t, where + ".", "max_pages", 1);
      if (max_pages < 1) r.fail(where + ".max_pages", "must be at least 1");
      e.max_pages = static_cast<uint64_t>(max_pages);
      e.evidence = r.str(t, where + ".", "evidence", "", true);
      if (e.evidence.empty()) r.fail(where + ".evidence", "must say where the failure is written up");
      out.push_back(e);
    }
  }
  return out;
}

toml::table parse_toml(const std::string& text, const std::string& path) {
  if (size_t line = too_deep_line(text))
    throw UsageError(
        fmt::format("{}:{}: keys nested too deep (more than {} dots on the line)", path, line, kMaxDotsPerLine));
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw UsageError(fmt::format("{}:{}:{}: malformed TOML: {}", path, src.begin.line, src.begin.column,
                                 one_line(std::string(e.description()), 400)));
  }
}

// Regular files of at most 1 MiB only: a FIFO, a device or /dev/zero is one line, not a hang.
std::string read_file_or_fail(const std::string& path, const char* what) {
  return read_regular_file(path, kMaxScenarioFileBytes, what);
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& path) {
  Reader r(path);
  toml::table root = parse_toml(text, path);
  r.only_keys(root, "",
              {"name", "description", "suites", "cases", "not_exercised", "cycles", "machine", "node", "dimm",
               "virtio_mem", "step", "xfail"});

  Scenario s;
  s.path = path;
  s.name = r.str(root, "", "name", "", true);
  // The name becomes part of the run's directory: no path separators, dot-dot or control bytes.
  if (s.name.empty() || s.name.size() > 100 || s.name[0] == '.' ||
      s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos)
    r.fail("name",
           "must be 1 to 100 letters, digits, '.', '_' or '-', not starting with '.' (it names the run's directory)");
  s.description = r.str(root, "", "description", "");
  s.suites = r.strings(root, "", "suites");
  s.cycles = r.small_int(root, "", "cycles", 1, 1, 1000, "must be between 1 and 1000");
  for (int64_t c : r.ints(root, "", "cases")) {
    if (c < 1 || c > 5) r.fail("cases", fmt::format("case {} does not exist: the spec has cases 1 to 5", c));
    s.cases.push_back(static_cast<int>(c));
  }
  if (root.contains("not_exercised")) {
    const toml::table* ne = root["not_exercised"].as_table();
    if (!ne) r.fail("not_exercised", "must be a table of case number = \"why\"");
    for (const auto& [key, value] : *ne) {
      const std::string k(key.str());
      const int c = k.size() == 1 && k[0] >= '1' && k[0] <= '5' ? k[0] - '0' : 0;
      if (!c || std::find(s.cases.begin(), s.cases.end(), c) == s.cases.end())
        r.fail("not_exercised." + k, "names no case the scenario declares in `cases`");
      const auto* why = value.as_string();
      if (!why || why->get().empty()) r.fail("not_exercised." + k, "must say why, as a non-empty string");
      s.not_exercised[c] = why->get();
    }
  }

  const toml::table* m = root["machine"].as_table();
  if (!m) r.fail("machine", "required table [machine] is missing");
  r.only_keys(*m, "machine", {"type", "cpu", "smp", "maxmem", "slots", "kernel_args"});
  s.machine.type = r.str(*m, "machine.", "type", "pc");
  check_one_of(r, "machine.type", s.machine.type, {"pc", "q35"});
  s.machine.cpu = r.str(*m, "machine.", "cpu", "qemu64");
  s.machine.smp = r.small_int(*m, "machine.", "smp", 2, 1, 64, "must be between 1 and 64");
  s.machine.maxmem = r.size(*m, "machine.", "maxmem", 0, true);
  s.machine.slots = r.small_int(*m, "machine.", "slots", 4, 0, 256, "must be between 0 and 256");
  s.machine.kernel_args = r.strings(*m, "machine.", "kernel_args");

  const toml::array* nodes = r.table_array(root, "node");
  if (!nodes || nodes->empty()) r.fail("node", "at least one [[node]] is required");
  for (size_t i = 0; i < nodes->size(); ++i) {
    const toml::table& t = *nodes->get(i)->as_table();
    std::string where = fmt::format("node[{}]", i);
    r.only_keys(t, where, {"id", "cpus", "memory"});
    NumaNode n;
    n.id = r.small_int(t, where + ".", "id", static_cast<int64_t>(i), 0, INT_MAX, "must be a node id, 0 or more");
    n.cpus = r.str(t, where + ".", "cpus", "");
    n.memory = r.size(t, where + ".", "memory", 0);
    s.nodes.push_back(n);
  }

  if (const toml::array* dimms = r.table_array(root, "dimm")) {
    for (size_t i = 0; i < dimms->size(); ++i) {
      const toml::table& t = *dimms->get(i)->as_table();
      std::string where = fmt::format("dimm[{}]", i);
      r.only_keys(t, where, {"id", "size", "node", "addr", "boot", "present"});
      Dimm d;
      d.id = r.str(t, where + ".", "id", "", true);
      d.size = r.size(t, where + ".", "size", 0, true);
      d.node = r.small_int(t, where + ".", "node", 0, 0, INT_MAX, "must be a node id, 0 or more", true);
      d.addr = r.size(t, where + ".", "addr", 0, true);
      d.boot = r.boolean(t, where + ".", "boot", false);
      d.present = r.boolean(t, where + ".", "present", d.boot);
      if (d.boot && !d.present) r.fail(where + ".present", "a boot DIMM is always present at start");
      s.dimms.push_back(d);
    }
  }

  if (const toml::array* vms = r.table_array(root, "virtio_mem")) {
    for (size_t i = 0; i < vms->size(); ++i) {
      const toml::table& t = *vms->get(i)->as_table();
      std::string where = fmt::format("virtio_mem[{}]", i);
      r.only_keys(t, where, {"id", "node", "size", "block_size", "requested", "memmap_on_memory"});
      VirtioMem v;
      v.id = r.str(t, where + ".", "id", "", true);
      v.node = r.small_int(t, where + ".", "node", 0, 0, INT_MAX, "must be a node id, 0 or more", true);
      v.size = r.size(t, where + ".", "size", 0, true);
      v.block_size = r.size(t, where + ".", "block_size", kVirtioMemMinBlockSize);
      v.requested = r.size(t, where + ".", "requested", 0);
      // The kernel decides memmap_on_memory for all hot-added memory (memory_hotplug.memmap_on_memory);
      // virtio-mem's own share of it is not modelled yet.
      if (r.boolean(t, where + ".", "memmap_on_memory", false))
        r.fail(where + ".memmap_on_memory", "not supported yet for virtio-mem (docs/virtio-mem.md)");
      s.virtio_mems.push_back(v);
    }
  }
  place_virtio_mems(s);

  if (const toml::array* steps = r.table_array(root, "step")) {
    for (size_t i = 0; i < steps->size(); ++i) {
      const toml::table& t = *steps->get(i)->as_table();
      std::string where = fmt::format("step[{}]", i);
      r.only_keys(t, where, {"action", "dimm", "expect", "zone", "node", "timeout", "device", "size"});
      Step st;
      st.action = parse_action(r, where + ".action", r.str(t, where + ".", "action", "", true));
      st.timeout_s = r.number(t, where + ".", "timeout", 0);
      if (st.action == StepAction::Resize && t.get("dimm"))
        r.fail(where + ".dimm", "resize names its virtio-mem device with `device`");
      if (st.action != StepAction::Resize && t.get("device")) r.fail(where + ".device", "only resize takes a device");
      if (st.action != StepAction::Resize && t.get("size")) r.fail(where + ".size", "only resize takes a size");
      switch (st.action) {
        case StepAction::Plug:
          st.dimm = r.str(t, where + ".", "dimm", "", true);
          st.expect = r.str(t, where + ".", "expect", "added");
          check_one_of(r, where + ".expect", st.expect, {"added"});
          break;
        case StepAction::Online:
          st.dimm = r.str(t, where + ".", "dimm", "", true);
          st.zone = r.str(t, where + ".", "zone", "online_movable");
          check_one_of(r, where + ".zone", st.zone, {"online", "online_kernel", "online_movable"});
          break;
        case StepAction::Unplug:
          st.dimm = r.str(t, where + ".", "dimm", "", true);
          st.expect = r.str(t, where + ".", "expect", "", true);
          check_one_of(r, where + ".expect", st.expect, {"removed", "refused"});
          break;
        case StepAction::ExpectNode:
          st.node = r.small_int(t, where + ".", "node", 0, 0, INT_MAX, "must be a node id, 0 or more", true);
          st.expect = r.str(t, where + ".", "expect", "", true);
          check_one_of(r, where + ".expect", st.expect, {"present", "absent"});
          break;
        case StepAction::ExpectDimm:
          st.dimm = r.str(t, where + ".", "dimm", "", true);
          st.expect = r.str(t, where + ".", "expect", "", true);
          check_one_of(r, where + ".expect", st.expect, {"present", "absent"});
          break;
        case StepAction::Resize:
          st.device = r.str(t, where + ".", "device", "", true);
          st.size = r.size(t, where + ".", "size", 0, true);
          st.expect = r.str(t, where + ".", "expect", "", true);
          check_one_of(r, where + ".expect", st.expect, {"reached", "partial", "refused"});
          break;
      }

      if (st.action != StepAction::ExpectNode && t.get("node"))
        r.fail(where + ".node", "only expect-node takes a node");
      if (st.action != StepAction::Online && t.get("zone")) r.fail(where + ".zone", "only online takes a zone");
      s.steps.push_back(st);
    }
  }

  s.xfails = parse_xfails(r, root);

  validate_scenario(s);
  return s;
}

void validate_scenario(const Scenario& s) {
  Reader r(s.path);
  const auto beyond_phys = [](uint64_t v) {
    return fmt::format("{} is beyond the 4P (2^52 bytes) physical address space of x86-64", format_hex(v));
  };
  // Fields that reach QEMU's option syntax (-cpu MODEL, -numa node,cpus=..., -device
  // pc-dimm,id=...) or the kernel's command line: nothing that reads as another option.
  const std::string& cpu = s.machine.cpu;
  if (cpu.empty() || cpu.size() > 64 || !std::isalnum(static_cast<unsigned char>(cpu[0])) ||
      cpu.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos)
    r.fail("machine.cpu", fmt::format("'{}' is not a CPU model name (letters, digits, '.', '_', '-'; no features or "
                                      "options: QEMU would read ',' and '=' as more options)",
                                      one_line(cpu, 80)));
  size_t arg_bytes = 0;
  for (const auto& a : s.machine.kernel_args) {
    if (a.empty()) r.fail("machine.kernel_args", "an argument must not be empty");
    if (std::any_of(a.begin(), a.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      r.fail("machine.kernel_args", fmt::format("'{}' holds a control character", one_line(a, 80)));
    // One argument of the kernel's command line (lib/cmdline.c next_arg()): a space outside double
    // quotes, an unbalanced quote or "--" would make the rig's own arguments after it part of a
    // value or arguments of init.
    bool quoted = false;
    for (char c : a) {
      if (c == '"') quoted = !quoted;
      if (c == ' ' && !quoted)
        r.fail("machine.kernel_args",
               fmt::format("'{}' is more than one argument (a space outside quotes)", one_line(a, 80)));
    }
    if (quoted) r.fail("machine.kernel_args", fmt::format("'{}' has an unbalanced double quote", one_line(a, 80)));
    if (a == "--") r.fail("machine.kernel_args", "'--' would hand the rig's own arguments to init");
    // HVO remaps and frees the boot vmemmap of hugetlb pages at run time: the page model
    // (docs/accounting.md) does not follow it, so a scenario cannot turn it on.
    const std::string key = a.substr(0, a.find('='));
    const std::string val = a.find('=') == std::string::npos ? "" : a.substr(a.find('=') + 1);
    if (key == "hugetlb_free_vmemmap" && val != "off" && val != "0" && val != "n" && val != "no")
      r.fail("machine.kernel_args",
             fmt::format("'{}' turns on the hugetlb vmemmap optimisation (HVO), which the page accounting does not "
                         "model (docs/accounting.md)",
                         one_line(a, 80)));
    arg_bytes += a.size() + 1;
  }
  if (arg_bytes > kMaxKernelArgsBytes)
    r.fail("machine.kernel_args", fmt::format("{} bytes; at most {} (the kernel's command line holds 2048, and the "
                                              "rig adds its own)",
                                              arg_bytes, kMaxKernelArgsBytes));
  std::set<int> node_cpus;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    if (s.nodes[i].cpus.empty()) continue;  // a CPU-less node
    const std::string why = parse_cpu_list(s.nodes[i].cpus, s.machine.smp, node_cpus);
    if (!why.empty()) r.fail(fmt::format("node[{}].cpus", i), why);
  }

  std::set<int> node_ids;
  uint64_t ram_sum = 0;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const auto& n = s.nodes[i];
    if (!node_ids.insert(n.id).second)
      r.fail(fmt::format("node[{}].id", i), fmt::format("node {} declared twice", n.id));
    if (n.memory % (2 * MiB) != 0) r.fail(fmt::format("node[{}].memory", i), "must be a multiple of 2M");
    if (n.memory > kMaxPhysBytes) r.fail(fmt::format("node[{}].memory", i), beyond_phys(n.memory));
    ram_sum += n.memory;  // both at most 2^52: no wrap
    if (ram_sum > kMaxPhysBytes) r.fail("node", fmt::format("the nodes' memory adds up to {}", beyond_phys(ram_sum)));
  }
  for (int id = 0; id < static_cast<int>(s.nodes.size()); ++id)
    if (!node_ids.count(id))
      r.fail("node", fmt::format("node ids must be 0..{} without gaps; {} is missing", s.nodes.size() - 1, id));
  if (s.boot_ram() == 0) r.fail("node", "no node has memory: the guest needs boot RAM");

  const uint64_t ram = s.boot_ram();
  if (s.machine.maxmem > kMaxPhysBytes) r.fail("machine.maxmem", beyond_phys(s.machine.maxmem));
  if (s.machine.maxmem < ram)
    r.fail("machine.maxmem",
           fmt::format("{} is less than the boot RAM {}", format_size(s.machine.maxmem), format_size(ram)));
  if (static_cast<int>(s.dimms.size()) > s.machine.slots)
    r.fail("dimm", fmt::format("{} DIMMs but machine.slots = {}", s.dimms.size(), s.machine.slots));

  const DeviceMemoryWindow win = device_memory_window(s.machine, ram);
  uint64_t dimm_total = 0;
  std::set<std::string> ids;
  for (size_t i = 0; i < s.dimms.size(); ++i) {
    const Dimm& d = s.dimms[i];
    std::string where = fmt::format("dimm[{}]", i);
    if (!ids.insert(d.id).second) r.fail(where + ".id", fmt::format("DIMM id '{}' used twice", d.id));
    // QEMU's own rule for ids (id_wellformed): a letter, then letters, digits, '-', '.', '_'.
    if (d.id.empty() || d.id.size() > 60 || !std::isalpha(static_cast<unsigned char>(d.id[0])) ||
        d.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos)
      r.fail(where + ".id",
             "must be a QEMU id: 1 to 60 letters, digits, '-', '.' or '_', starting with a letter (no commas, '=', "
             "quotes, spaces or control characters)");
    if (!node_ids.count(d.node)) r.fail(where + ".node", fmt::format("node {} is not declared", d.node));
    if (d.size > kMaxPhysBytes) r.fail(where + ".size", beyond_phys(d.size));
    if (d.addr > kMaxPhysBytes) r.fail(where + ".addr", beyond_phys(d.addr));
    if (d.size == 0 || d.size % kMemoryBlockSize != 0)
      r.fail(where + ".size", fmt::format("{} is not a multiple of the 128M memory block", format_size(d.size)));
    if (d.addr % kMemoryBlockSize != 0)
      r.fail(where + ".addr", fmt::format("{} is not aligned to the 128M memory block", format_hex(d.addr)));
    if (d.addr < win.base)
      r.fail(where + ".addr", fmt::format("{} lies below the device-memory window, which starts at {}",
                                          format_hex(d.addr), format_hex(win.base)));
    if (d.addr + d.size > win.base + win.size)
      r.fail(where + ".addr",
             fmt::format("{}+{} ends beyond maxmem: the device-memory window is [{}, {})", format_hex(d.addr),
                         format_size(d.size), format_hex(win.base), format_hex(win.base + win.size)));
    for (size_t j = 0; j < i; ++j) {
      const Dimm& o = s.dimms[j];
      if (d.addr < o.addr + o.size && o.addr < d.addr + d.size)
        r.fail(where + ".addr", fmt::format("DIMM '{}' overlaps DIMM '{}'", d.id, o.id));
    }
    dimm_total += d.size;
  }
  if (ram + dimm_total > s.machine.maxmem)
    r.fail("machine.maxmem", fmt::format("boot RAM {} plus DIMMs {} exceed maxmem {}", format_size(ram),
                                         format_size(dimm_total), format_size(s.machine.maxmem)));

  // virtio-mem devices share the device-memory window with the DIMMs (QEMU's memory devices).
  if (s.virtio_mems.size() > kMaxVirtioMems)
    r.fail("virtio_mem", fmt::format("{} devices; at most {}", s.virtio_mems.size(), kMaxVirtioMems));
  uint64_t vm_total = 0;
  for (size_t i = 0; i < s.virtio_mems.size(); ++i) {
    const VirtioMem& v = s.virtio_mems[i];
    std::string where = fmt::format("virtio_mem[{}]", i);
    if (!ids.insert(v.id).second)
      r.fail(where + ".id", fmt::format("id '{}' is used twice (DIMMs and virtio-mem devices share QEMU's ids)", v.id));
    if (v.id.empty() || v.id.size() > 60 || !std::isalpha(static_cast<unsigned char>(v.id[0])) ||
        v.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos)
      r.fail(where + ".id",
             "must be a QEMU id: 1 to 60 letters, digits, '-', '.' or '_', starting with a letter (no commas, '=', "
             "quotes, spaces or control characters)");
    if (!node_ids.count(v.node)) r.fail(where + ".node", fmt::format("node {} is not declared", v.node));
    if (v.block_size < kVirtioMemMinBlockSize || (v.block_size & (v.block_size - 1)) != 0 || v.block_size > GiB)
      r.fail(where + ".block_size", fmt::format("{} is not a power of two from 2M to 1G", format_size(v.block_size)));
    if (v.size > kMaxPhysBytes) r.fail(where + ".size", beyond_phys(v.size));
    if (v.size == 0 || v.size % v.block_size != 0)
      r.fail(where + ".size", fmt::format("{} is not a non-zero multiple of the block size {}", format_size(v.size),
                                          format_size(v.block_size)));
    if (v.requested % v.block_size != 0)
      r.fail(where + ".requested", fmt::format("{} is not a multiple of the block size {}", format_size(v.requested),
                                               format_size(v.block_size)));
    if (v.requested > v.size)
      r.fail(where + ".requested",
             fmt::format("{} is more than the device's size {}", format_size(v.requested), format_size(v.size)));
    if (v.addr < win.base || v.addr > win.base + win.size || v.size > win.base + win.size - v.addr)
      r.fail(
          where + ".size",
          fmt::format("{} at {} (above every DIMM) ends beyond maxmem: the device-memory window is [{}, {})",
                      format_size(v.size), format_hex(v.addr), format_hex(win.base), format_hex(win.base + win.size)));
    vm_total += v.size;
  }
  if (ram + dimm_total + vm_total > s.machine.maxmem)
    r.fail("machine.maxmem",
           fmt::format("boot RAM {} plus DIMMs {} plus virtio-mem {} exceed maxmem {}", format_size(ram),
                       format_size(dimm_total), format_size(vm_total), format_size(s.machine.maxmem)));

  // Steps must make sense in order: track which DIMMs are plugged.
  std::set<std::string> plugged;
  for (const auto& d : s.dimms)
    if (d.present) plugged.insert(d.id);
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const Step& st = s.steps[i];
    std::string where = fmt::format("step[{}]", i);
    if (st.timeout_s < 0) r.fail(where + ".timeout", "must not be negative");
    if (!(st.timeout_s <= kMaxTimeoutS))
      r.fail(where + ".timeout", fmt::format("must be at most {} seconds (a week)", kMaxTimeoutS));
    if (st.action == StepAction::ExpectNode) {
      if (!node_ids.count(st.node)) r.fail(where + ".node", fmt::format("node {} is not declared", st.node));
      continue;
    }
    if (st.action == StepAction::Resize) {
      const VirtioMem* v = s.find_virtio_mem(st.device);
      if (!v) r.fail(where + ".device", fmt::format("no virtio-mem device '{}' is declared", st.device));
      if (st.size % v->block_size != 0)
        r.fail(where + ".size", fmt::format("{} is not a multiple of the block size {} of '{}'", format_size(st.size),
                                            format_size(v->block_size), v->id));
      if (st.size > v->size)
        r.fail(where + ".size",
               fmt::format("{} is more than the size {} of '{}'", format_size(st.size), format_size(v->size), v->id));
      continue;
    }
    const Dimm* d = s.find_dimm(st.dimm);
    if (!d) r.fail(where + ".dimm", fmt::format("no DIMM '{}' is declared", st.dimm));
    switch (st.action) {
      case StepAction::Plug:
        if (plugged.count(st.dimm))
          r.fail(where + ".dimm", fmt::format("DIMM '{}' is already plugged at this step", st.dimm));
        plugged.insert(st.dimm);
        break;
      case StepAction::Online:
      case StepAction::Unplug:
        if (!plugged.count(st.dimm))
          r.fail(where + ".dimm", fmt::format("DIMM '{}' is not plugged at this step", st.dimm));
        if (st.action == StepAction::Unplug && st.expect == "removed") plugged.erase(st.dimm);
        break;
      default: break;
    }
  }
  if (s.cycles > 1) {
    for (const auto& v : s.virtio_mems) {
      uint64_t last = v.requested;
      for (const auto& st : s.steps)
        if (st.action == StepAction::Resize && st.device == v.id) last = st.size;
      if (last != v.requested)
        r.fail("cycles", fmt::format("with cycles > 1 the steps must leave virtio-mem '{}' at its requested size {}",
                                     v.id, format_size(v.requested)));
    }
    std::set<std::string> at_start;
    for (const auto& d : s.dimms)
      if (d.present) at_start.insert(d.id);
    if (plugged != at_start)
      r.fail("cycles", "with cycles > 1 the steps must leave every DIMM as they found it (plug what they unplug)");
  }
}

Scenario load_scenario_file(const std::string& path) {
  return parse_scenario(read_file_or_fail(path, "scenario file"), path);
}

std::vector<ExpectedFailure> load_known_failures(const std::string& path) {
  Reader r(path);
  toml::table root = parse_toml(read_file_or_fail(path, "known-failures file"), path);
  r.only_keys(root, "", {"xfail"});
  return parse_xfails(r, root);
}

}  // namespace rig
