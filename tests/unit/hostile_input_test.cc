// Hostile input (issue #8): scenario files, known-failures files, probe output, console text and
// QMP bytes that must never crash the rig. Every input is accepted or rejected with the parser's
// own error type (UsageError, ProbeFormatError) and a one-line message; nothing else may escape.
//
// Two halves: a table of recorded hostile inputs with their expected outcome (tests/data/hostile
// and inputs built here), and a seeded mutation loop over the real recordings in tests/data and
// rig/ that asserts only "no crash, only the documented error types". RIG_HOSTILE_SEED and
// RIG_HOSTILE_SCALE (a factor on the iteration counts) let a longer run explore further; a
// failure prints the seed, the iteration and the input.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include <fmt/format.h>

#include "rig/machine/console_parser.h"
#include "rig/base/errors.h"
#include "rig/spec/memmap_snapshot.h"
#include "rig/machine/qmp/qmp_protocol.h"
#include "rig/scenario/scenario_file.h"
#include "rig/base/size.h"
#include "test_data.h"

using namespace rig;
namespace fs = std::filesystem;

namespace {

using rig_test::data;

// A file of the source tree (rig/...), read whole.
std::string source(const std::string& name) {
  std::ifstream in(std::string(RIG_SOURCE_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---------------------------------------------------------------------------------------------
// Outcomes

enum class Parser { Scenario, KnownFailures, Snapshot, Query, QueryRanges };

const char* parser_name(Parser p) {
  switch (p) {
    case Parser::Scenario: return "scenario";
    case Parser::KnownFailures: return "known-failures";
    case Parser::Snapshot: return "probe snapshot";
    case Parser::Query: return "probe query";
    case Parser::QueryRanges: return "query ranges";
  }
  return "?";
}

// What happened to one input: accepted, rejected with the documented error (and its message),
// or anything else (a foreign exception: the test fails on it).
struct Outcome {
  enum Kind { Accepted, Rejected, Foreign } kind = Accepted;
  std::string message;
};

// The input, printable and short, for failure messages.
std::string shown(const std::string& text, size_t max = 300) {
  std::string out;
  for (unsigned char c : text.substr(0, max)) {
    if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c >= 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (text.size() > max) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

// One line, not empty, not absurdly long, no control characters.
bool one_line(const std::string& m) {
  return !m.empty() && m.size() <= 1200 &&
         std::none_of(m.begin(), m.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A scratch file for the parsers that read a path, removed at exit.
std::string temp_file(const std::string& text) {
  struct Scratch {
    std::string path = (fs::temp_directory_path() / fmt::format("rig-hostile-{}.toml", getpid())).string();
    ~Scratch() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  };
  static const Scratch scratch;
  std::ofstream out(scratch.path, std::ios::binary | std::ios::trunc);
  out << text;
  return scratch.path;
}

// Runs the parser on the input; the error it documents is a rejection, any other exception is
// Foreign. On acceptance, what the rig does next with the value runs too (it must not crash).
template <typename Error>
Outcome guarded(const std::function<void()>& f) {
  try {
    f();
    return {Outcome::Accepted, ""};
  } catch (const Error& e) {
    return {Outcome::Rejected, e.what()};
  } catch (const std::exception& e) {
    return {Outcome::Foreign, fmt::format("{}: {}", typeid(e).name(), e.what())};
  } catch (...) {
    return {Outcome::Foreign, "a non-std exception"};
  }
}

// The ranges a query answer covers, written as the rig asks them: "a-b c".
std::string ranges_of(const std::vector<PfnStateRun>& runs) {
  std::string out;
  for (const auto& r : runs)
    out += (out.empty() ? "" : " ") +
           (r.count == 1 ? fmt::format("{}", r.pfn) : fmt::format("{}-{}", r.pfn, r.pfn + r.count - 1));
  return out;
}

Outcome run_parser(Parser p, const std::string& text) {
  switch (p) {
    case Parser::Scenario: return guarded<UsageError>([&] { parse_scenario(text, "h.toml"); });
    case Parser::KnownFailures: return guarded<UsageError>([&] { load_known_failures(temp_file(text)); });
    case Parser::Snapshot:
      return guarded<ProbeFormatError>([&] {
        MemmapSnapshot s = parse_probe_snapshot(text);
        // What the rig does with a snapshot next: ask for its pfns again.
        parse_query_ranges(query_ranges(s));
        for (const auto& r : s.runs) (void)s.pfn_section(r.pfn);
      });
    case Parser::Query:
      return guarded<ProbeFormatError>([&] {
        auto runs = parse_probe_query(text);
        // An answer covers exactly the ranges it answers: this must pass for any accepted answer.
        try {
          check_query_covers(runs, ranges_of(runs));
        } catch (const ProbeFormatError& e) {
          throw std::logic_error(std::string("an accepted answer does not cover its own ranges: ") + e.what());
        }
      });
    case Parser::QueryRanges: return guarded<ProbeFormatError>([&] { parse_query_ranges(text); });
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// The table

// An expectation: accepted (reject_with == nullptr) or rejected with a message containing it.
struct Case {
  std::string name;
  Parser parser;
  std::string text;
  const char* reject_with;
};

void check_case(const Case& c) {
  SCOPED_TRACE(fmt::format("{} ({}): {}", c.name, parser_name(c.parser), shown(c.text, 160)));
  const Outcome o = run_parser(c.parser, c.text);
  ASSERT_NE(o.kind, Outcome::Foreign) << o.message;
  if (!c.reject_with) {
    EXPECT_EQ(o.kind, Outcome::Accepted) << o.message;
    return;
  }
  ASSERT_EQ(o.kind, Outcome::Rejected) << "accepted";
  EXPECT_NE(o.message.find(c.reject_with), std::string::npos) << o.message;
  EXPECT_TRUE(one_line(o.message)) << shown(o.message, 2000);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

const std::string kScenario = R"(name = "t"
cases = [1]
[machine]
maxmem = "8G"
slots = 2
[[node]]
id = 0
cpus = "0-1"
memory = "1G"
[[node]]
id = 1
[[dimm]]
id = "a"
size = "256M"
node = 1
addr = "0x100000000"
boot = true
[[step]]
action = "unplug"
dimm = "a"
expect = "removed"
timeout = 30.0
[[step]]
action = "expect-node"
node = 1
expect = "absent"
[[xfail]]
case = 1
check = "c"
pattern = "^memmap"
evidence = "docs/known-failures.md#x"
)";

Case scenario(const std::string& name, const std::string& from, const std::string& to, const char* reject_with) {
  return {name, Parser::Scenario, replaced(kScenario, from, to), reject_with};
}

std::vector<Case> scenario_cases() {
  std::string dotted = "[a";
  for (int i = 0; i < 100000; ++i) dotted += ".a";
  dotted += "]\n";
  std::string dotted_key = "a";
  for (int i = 0; i < 100000; ++i) dotted_key += ".a";
  dotted_key += " = 1\n";
  std::string few_dots = "description = \"" + std::string(5000, '.') + "\" # " + std::string(5000, '.') + "\n";

  return {
      {"empty", Parser::Scenario, "", "name: required key is missing"},
      {"garbage", Parser::Scenario, std::string("\x7f\x45\x4c\x46\x02\x01\x01\0\0\0", 10), "malformed TOML"},
      {"truncated mid-key", Parser::Scenario, kScenario.substr(0, kScenario.find("maxmem") + 3), "malformed TOML"},
      {"truncated mid-string", Parser::Scenario, kScenario.substr(0, kScenario.find("0x100") + 2), "malformed TOML"},
      {"truncated at a table", Parser::Scenario, kScenario.substr(0, kScenario.find("[[node]]")),
       "[[node]] is required"},
      scenario("the valid base", "name = \"t\"", "name = \"t\"", nullptr),
      // Huge numbers: 64-bit values that an int cast used to wrap into range.
      scenario("cycles wraps to 1", "cases = [1]", "cycles = 4294967297\ncases = [1]",
               "cycles: must be between 1 and 1000"),
      scenario("smp wraps to 2", "maxmem", "smp = 4294967298\nmaxmem", "machine.smp: must be between 1 and 64"),
      scenario("slots wraps to 2", "slots = 2", "slots = 4294967298", "machine.slots: must be between 0 and 256"),
      scenario("case wraps to 1", "cases = [1]", "cases = [4294967297]", "case 4294967297 does not exist"),
      scenario("node id wraps to 1", "id = 1", "id = 4294967297", "node[1].id: must be a node id"),
      scenario("dimm node wraps to 1", "node = 1\naddr", "node = 4294967297\naddr", "dimm[0].node: must be a node id"),
      scenario("expect-node wraps to 1", "node = 1\nexpect", "node = 4294967297\nexpect",
               "step[1].node: must be a node id"),
      scenario("xfail case wraps to 1", "case = 1", "case = 4294967297", "xfail[0].case: must be a spec case"),
      scenario("int64 max slots", "slots = 2", "slots = 9223372036854775807", "must be between 0 and 256"),
      scenario("beyond int64", "slots = 2", "slots = 9223372036854775808", "malformed TOML"),
      scenario("huge digits", "slots = 2", "slots = 99999999999999999999999999999", "malformed TOML"),
      scenario("max_pages int64 max", "case = 1", "case = 1\nmax_pages = 9223372036854775807", nullptr),
      // Negative numbers.
      scenario("negative size", "size = \"256M\"", "size = -134217728", "dimm[0].size: must not be negative"),
      scenario("negative memory", "memory = \"1G\"", "memory = -1", "node[0].memory: must not be negative"),
      scenario("negative size string", "size = \"256M\"", "size = \"-256M\"", "is not a size"),
      scenario("negative node id", "id = 1", "id = -1", "node[1].id: must be a node id"),
      scenario("negative dimm node", "node = 1\naddr", "node = -1\naddr", "dimm[0].node: must be a node id"),
      scenario("negative slots", "slots = 2", "slots = -1", "must be between 0 and 256"),
      scenario("negative timeout", "timeout = 30.0", "timeout = -0.5", "step[0].timeout: must not be negative"),
      scenario("negative max_pages", "case = 1", "case = 1\nmax_pages = -5", "must be at least 1"),
      // Overflowing sizes and addresses.
      scenario("dimm end wraps past 2^64", "addr = \"0x100000000\"", "addr = \"0xfffffffff8000000\"",
               "dimm[0].addr: 0xfffffffff8000000 is beyond"),
      scenario("dimm size near 2^64", "size = \"256M\"", "size = \"0xfffffffff0000000\"",
               "dimm[0].size: 0xfffffffff0000000 is beyond"),
      scenario("size overflows its suffix", "size = \"256M\"", "size = \"17179869184G\"", "is not a size"),
      scenario("size overflows hex", "size = \"256M\"", "size = \"0x10000000000000000\"", "is not a size"),
      scenario("size of 20 digits", "size = \"256M\"", "size = \"99999999999999999999\"", "is not a size"),
      scenario("maxmem beyond 4P", "maxmem = \"8G\"", "maxmem = \"16777215T\"",
               "machine.maxmem: 0xffffff0000000000 is beyond"),
      scenario("node memory beyond 4P", "memory = \"1G\"", "memory = \"8191T\"", "node[0].memory:"),
      scenario("node memories sum past 2^64", "id = 1\n", "id = 1\nmemory = \"0x8000000000000000\"\n",
               "node[1].memory:"),
      {"node memories sum beyond 4P", Parser::Scenario,
       replaced(replaced(kScenario, "memory = \"1G\"", "memory = \"4194302G\""), "id = 1\n",
                "id = 1\nmemory = \"4G\"\n"),
       "node: the nodes' memory adds up to"},
      scenario("dimm at the top of 4P", "addr = \"0x100000000\"", "addr = \"0x10000008000000\"",
               "dimm[0].addr: 0x10000008000000 is beyond"),
      // Floats that are not time.
      scenario("timeout nan", "timeout = 30.0", "timeout = nan", "step[0].timeout: must be a finite number"),
      scenario("timeout inf", "timeout = 30.0", "timeout = inf", "step[0].timeout: must be a finite number"),
      scenario("timeout 1e300", "timeout = 30.0", "timeout = 1e300", "step[0].timeout: must be at most"),
      scenario("timeout of a week", "timeout = 30.0", "timeout = 604800", nullptr),
      // Duplicated keys and tables.
      scenario("duplicated key", "slots = 2", "slots = 2\nslots = 3", "malformed TOML"),
      scenario("duplicated table", "[[node]]\nid = 0", "[machine]\n[[node]]\nid = 0", "malformed TOML"),
      scenario("duplicated node id", "id = 1", "id = 0", "node 0 declared twice"),
      scenario("duplicated dimm", "[[step]]",
               "[[dimm]]\nid = \"a\"\nsize = \"256M\"\nnode = 1\naddr = \"0x110000000\"\n[[step]]", "used twice"),
      // Deep nesting: toml++ recurses once per level.
      {"table header nested 100000 deep", Parser::Scenario, dotted, "keys nested too deep"},
      {"dotted key nested 100000 deep", Parser::Scenario, dotted_key, "h.toml:1: keys nested too deep"},
      {"dots in strings and comments are not nesting", Parser::Scenario, few_dots, "name: required key is missing"},
      {"arrays nested 100000 deep", Parser::Scenario, "x = " + std::string(100000, '[') + std::string(100000, ']'),
       "malformed TOML"},
      {"inline tables nested 5000 deep", Parser::Scenario,
       [] {
         std::string t = "x = ";
         for (int i = 0; i < 5000; ++i) t += "{a=";
         t += "1";
         for (int i = 0; i < 5000; ++i) t += "}";
         return t;
       }(),
       "malformed TOML"},
      scenario("a dotted key two deep", "slots = 2", "slots = 2\nfoo.bar = 1", "machine.foo: unknown key"),
      // NUL bytes, control characters, bad UTF-8.
      scenario("NUL in a string", "name = \"t\"", std::string("name = \"t\0x\"", 11), "malformed TOML"),
      scenario("NUL in a key", "slots = 2", std::string("sl\0ts = 2", 9), "malformed TOML"),
      scenario("escaped NUL in a description", "name = \"t\"", "name = \"t\"\ndescription = \"t\\u0000x\"", nullptr),
      scenario("escaped NUL in the name", "name = \"t\"", "name = \"t\\u0000x\"",
               "h.toml: name: must be 1 to 100 letters"),
      scenario("a name that climbs out of the artifacts", "name = \"t\"", "name = \"../../etc\"",
               "h.toml: name: must be"),
      scenario("a name with a slash", "name = \"t\"", "name = \"a/b\"", "h.toml: name: must be"),
      scenario("an empty name", "name = \"t\"", "name = \"\"", "h.toml: name: must be"),
      scenario("escaped newline in a key", "slots = 2", "\"a\\nb\" = 2", "machine.a\\x0ab: unknown key"),
      scenario("control characters in an id", "id = \"a\"", "id = \"a\\u0007b\\rc\"", "dimm[0].id: must be a QEMU id"),
      // Fields spliced into QEMU's option syntax: each would have reached QEMU as more options.
      scenario("node cpus that add a memdev option", "cpus = \"0-1\"", "cpus = \"0-1,memdev=evil\"",
               "h.toml: node[0].cpus: '0-1,memdev=evil' is not a CPU list"),
      scenario("node cpus beyond any machine", "cpus = \"0-1\"", "cpus = \"0-99999999999\"",
               "h.toml: node[0].cpus: '0-99999999999' is not a CPU list"),
      scenario("node cpus beyond smp", "cpus = \"0-1\"", "cpus = \"0-2\"",
               "h.toml: node[0].cpus: CPU 2 does not exist: machine.smp = 2"),
      scenario("node cpus backwards", "cpus = \"0-1\"", "cpus = \"1-0\"",
               "h.toml: node[0].cpus: range 1-0 runs backwards"),
      scenario("node cpus with an empty range", "cpus = \"0-1\"", "cpus = \"0,,1\"", "is not a CPU list"),
      scenario("node cpus with a trailing comma", "cpus = \"0-1\"", "cpus = \"0-1,\"", "is not a CPU list"),
      scenario("node cpus with a space", "cpus = \"0-1\"", "cpus = \"0 -1\"", "is not a CPU list"),
      scenario("a CPU in two nodes", "id = 1\n[[dimm]]", "id = 1\ncpus = \"1\"\n[[dimm]]",
               "h.toml: node[1].cpus: CPU 1 is named twice"),
      scenario("a CPU list of single CPUs", "cpus = \"0-1\"", "cpus = \"0,1\"", nullptr),
      scenario("a cpu model with a feature option", "maxmem", "cpu = \"qemu64,+la57\"\nmaxmem",
               "h.toml: machine.cpu: 'qemu64,+la57' is not a CPU model name"),
      scenario("a cpu model with an option", "maxmem", "cpu = \"max,kvm=off\"\nmaxmem",
               "h.toml: machine.cpu: 'max,kvm=off' is not a CPU model name"),
      scenario("a cpu model with shell text", "maxmem", "cpu = \"$(touch /tmp/PWNED)\"\nmaxmem",
               "h.toml: machine.cpu: '$(touch /tmp/PWNED)' is not a CPU model name"),
      scenario("an empty cpu model", "maxmem", "cpu = \"\"\nmaxmem", "h.toml: machine.cpu: '' is not a CPU model"),
      scenario("a DIMM id with shell text", "id = \"a\"\nsize", "id = \"$(touch /tmp/PWNED)\"\nsize",
               "h.toml: dimm[0].id: must be a QEMU id"),
      scenario("a DIMM id starting with a digit", "id = \"a\"\nsize", "id = \"1a\"\nsize",
               "h.toml: dimm[0].id: must be a QEMU id"),
      scenario("a kernel argument with a newline", "maxmem", "kernel_args = [\"a\\nb\"]\nmaxmem",
               "h.toml: machine.kernel_args: 'a\\x0ab' holds a control character"),
      scenario("kernel arguments of 2 KB", "maxmem", "kernel_args = [\"" + std::string(2000, 'k') + "\"]\nmaxmem",
               "h.toml: machine.kernel_args: 2001 bytes; at most 1024"),
      scenario("a kernel argument that is two", "maxmem", "kernel_args = [\"a b\"]\nmaxmem",
               "h.toml: machine.kernel_args: 'a b' is more than one argument (a space outside quotes)"),
      scenario("a kernel argument with an open quote", "maxmem", "kernel_args = [\"x=\\\"a\"]\nmaxmem",
               "h.toml: machine.kernel_args: 'x=\"a' has an unbalanced double quote"),
      scenario("a kernel argument that ends the kernel's", "maxmem", "kernel_args = [\"--\"]\nmaxmem",
               "h.toml: machine.kernel_args: '--' would hand the rig's own arguments to init"),
      scenario("shell text in kernel arguments is the kernel's", "maxmem",
               "kernel_args = [\"$here\", \"x=\\\"$(touch /tmp/PWNED)\\\"\"]\nmaxmem", nullptr),
      scenario("invalid UTF-8", "name = \"t\"", "name = \"\xff\xfe\"", "malformed TOML"),
      // Very long lines.
      scenario("a name of 1 MB", "name = \"t\"", "name = \"" + std::string(1 << 20, 'n') + "\"",
               "h.toml: name: must be"),
      scenario("a description of 1 MB", "name = \"t\"",
               "name = \"t\"\ndescription = \"" + std::string(1 << 20, 'd') + "\"", nullptr),
      scenario("an unknown key of 100 KB", "slots = 2", std::string(100000, 'k') + " = 2", "unknown key"),
      scenario("a size of 100 KB", "size = \"256M\"", "size = \"" + std::string(100000, '9') + "\"", "is not a size"),
      scenario("a machine type of 100 KB", "maxmem", "type = \"" + std::string(100000, 'q') + "\"\nmaxmem",
               "is not one of"),
      // Wrong types where tables are expected.
      {"node as integers", Parser::Scenario,
       replaced(replaced(kScenario, "[[node]]\nid = 0\ncpus = \"0-1\"\nmemory = \"1G\"\n[[node]]\nid = 1\n", ""),
                "cases = [1]", "cases = [1]\nnode = [1, 2]"),
       "h.toml: node: must be written as [[node]] tables"},
      scenario("machine as a string", "[machine]\nmaxmem = \"8G\"\nslots = 2\n", "machine = \"pc\"\n",
               "required table [machine] is missing"),
      scenario("cases as a string", "cases = [1]", "cases = \"1\"", "must be an array of integers"),
      // Regexes that would take the regex compiler down.
      scenario("pattern of 20000 parens", "pattern = \"^memmap\"",
               "pattern = \"" + std::string(20000, '(') + std::string(20000, ')') + "\"",
               "xfail[0].pattern: is longer than 1000 characters"),
      scenario("pattern of 400 nested groups", "pattern = \"^memmap\"",
               "pattern = \"" + std::string(400, '(') + "a" + std::string(400, ')') + "\"", nullptr),
      scenario("pattern of a billion states", "pattern = \"^memmap\"", "pattern = \"((a{1000}){1000}){1000}\"",
               "not a valid ECMAScript regex"),
      scenario("pattern unbalanced", "pattern = \"^memmap\"", "pattern = \"(\"", "not a valid ECMAScript regex"),
  };
}

const std::string kProbeHeader =
    "rig-probe 2\nkernel 6.12.117+deb12-amd64\nencoding index-private\ntypes section=12 mix=13 node=14\n"
    "struct_page 64\nsection_shift 27\npaging_levels 4\nS 0 nid=0 early=1 online=1\n"
    "N 0 pgdat_pfn=261078 pgdat_bytes=174208 online=1\n";
const std::string kPState = "nid=0 res=1 priv=1 buddy=0 selfhosted=0 ref=2 type=12 info=32 free=no held=other";
const std::string kProbe = kProbeHeader + "P 256000 512 " + kPState + " roles=memmap:32\n" + "end 1\n";
const std::string kQuery = "rig-probe-query 2\nQ 256000 512 " + kPState + "\nQ 1048576 131072 gone\nend 2\n";

Case probe(const std::string& name, const std::string& from, const std::string& to, const char* reject_with) {
  return {name, Parser::Snapshot, replaced(kProbe, from, to), reject_with};
}
Case query(const std::string& name, const std::string& from, const std::string& to, const char* reject_with) {
  return {name, Parser::Query, replaced(kQuery, from, to), reject_with};
}

std::vector<Case> probe_cases() {
  std::string many_runs = kProbeHeader;
  for (int i = 0; i < 513; ++i) many_runs += fmt::format("P {} 512 {} roles=memmap:{}\n", 256000 + 512 * i, kPState, i);
  many_runs += "end 513\n";
  return {
      {"empty snapshot", Parser::Snapshot, "", "probe output is empty"},
      {"empty query", Parser::Query, "", "probe query answer is empty"},
      {"a lone newline", Parser::Snapshot, "\n", "line 1: not probe output"},
      {"a blank first line", Parser::Snapshot, "\n" + kProbe, "line 1: not probe output"},
      {"garbage", Parser::Snapshot, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), "line 1: not probe output"},
      {"garbage query", Parser::Query, std::string("\0\0\0\0", 4), "line 1: not a probe query answer"},
      {"the valid snapshot", Parser::Snapshot, kProbe, nullptr},
      {"the valid query", Parser::Query, kQuery, nullptr},
      {"truncated snapshot", Parser::Snapshot, kProbe.substr(0, kProbe.find("end")),
       "truncated after line 10 (no 'end')"},
      {"truncated mid-line", Parser::Snapshot, kProbe.substr(0, kProbe.find("early=1") + 5), "line 8: not a number"},
      {"truncated query", Parser::Query, kQuery.substr(0, kQuery.find("end")), "truncated (no 'end')"},
      // Versions.
      probe("format 3", "rig-probe 2", "rig-probe 3", "unknown probe format 3"),
      probe("format 0", "rig-probe 2", "rig-probe 0", "unknown probe format 0"),
      probe("format wraps to 1", "rig-probe 2", "rig-probe 4294967297", "unknown probe format 4294967297"),
      probe("format wraps to 2", "rig-probe 2", "rig-probe 18446744069414584322", "unknown probe format"),
      probe("format negative", "rig-probe 2", "rig-probe -1", "not a number: -1"),
      probe("format beyond 2^64", "rig-probe 2", "rig-probe 99999999999999999999", "number out of range"),
      probe("format missing", "rig-probe 2", "rig-probe", "not a number"),
      query("query format 3", "rig-probe-query 2", "rig-probe-query 3", "not a probe query answer of format 1 or 2"),
      query("a snapshot header on a query", "rig-probe-query 2", "rig-probe 1",
            "not a probe query answer of format 1 or 2"),
      // Old format: still read (without allocator state), with a bare 'end' for queries.
      probe("old format 1", "rig-probe 2", "rig-probe 1", nullptr),
      query("old query format 1", "rig-probe-query 2", "rig-probe-query 1", nullptr),
      // Huge and negative numbers.
      probe("ref is INT64_MIN", "ref=2", "ref=-9223372036854775808", "number out of range: -9223372036854775808"),
      probe("ref wraps to 1", "ref=2", "ref=-18446744073709551615", "number out of range"),
      probe("ref beyond INT64_MAX", "ref=2", "ref=9223372036854775808", "number out of range"),
      probe("ref of INT64_MAX", "ref=2", "ref=9223372036854775807", nullptr),
      probe("ref negative", "ref=2", "ref=-1", nullptr),
      probe("nid wraps to 0", "nid=0 res", "nid=4294967296 res", "number out of range: 4294967296"),
      probe("section nid wraps to 0", "S 0 nid=0", "S 0 nid=4294967296", "number out of range"),
      probe("node id wraps to 0", "N 0 ", "N 4294967296 ", "number out of range"),
      probe("node id negative", "N 0 ", "N -1 ", "negative node id"),
      probe("section_shift wraps to 27", "section_shift 27", "section_shift 4294967323", "number out of range"),
      probe("section_shift 0", "section_shift 27", "section_shift 0", "implausible section shift"),
      probe("section_shift 64", "section_shift 27", "section_shift 64", "implausible section shift"),
      probe("section_shift 14", "section_shift 27", "section_shift 14", "implausible section shift"),
      probe("section_shift 15", "section_shift 27", "section_shift 15", nullptr),
      probe("section_shift 40", "section_shift 27", "section_shift 40", nullptr),
      probe("section_shift 41", "section_shift 27", "section_shift 41", "implausible section shift"),
      probe("struct_page huge", "struct_page 64", "struct_page 99999999999", "number out of range"),
      probe("type of 2^64-1", "type=12", "type=18446744073709551615", nullptr),
      probe("type beyond 2^64", "type=12", "type=18446744073709551616", "number out of range"),
      probe("role owner huge", "memmap:32", "memmap:99999999999999999999", "number out of range"),
      probe("a plus sign", "ref=2", "ref=+2", "not a number: +2"),
      probe("hex where decimal", "ref=2", "ref=0x2", "not a number: 0x2"),
      // Runs that wrap or could not exist.
      probe("pfn run wraps", "P 256000 512", "P 18446744073709551615 2", "pfn run beyond"),
      probe("pfn beyond 2^52 bytes", "P 256000 512", "P 1099511627776 1", "pfn run beyond"),
      probe("run up to 2^52 bytes", "P 256000 512", "P 1099511627775 1", nullptr),
      probe("count of 2^63", "P 256000 512", "P 0 9223372036854775808", "pfn run beyond"),
      probe("more pages than the probe collects", "P 256000 512", "P 0 262145", "more than 262144 pages"),
      probe("as many pages as the probe collects", "P 256000 512", "P 0 262144", nullptr),
      probe("empty run", "P 256000 512", "P 256000 0", "empty run"),
      {"513 runs of 512 pages", Parser::Snapshot, many_runs, "more than 262144 pages"},
      query("query run wraps", "Q 1048576 131072", "Q 18446744073709551615 2", "pfn run beyond"),
      query("query of 2^22+1 pfns", "Q 1048576 131072", "Q 1048576 4194305", "more than 4194304 pfns"),
      query("query of exactly 2^22 pfns", "Q 1048576 131072", "Q 1048576 4193792", nullptr),
      // Counts that disagree.
      probe("end counts more", "end 1", "end 2", "'end' counts 2 page lines, saw 1"),
      probe("end counts less", "end 1", "end 0", "'end' counts 0 page lines, saw 1"),
      probe("end count huge", "end 1", "end 99999999999999999999", "number out of range"),
      probe("end count negative", "end 1", "end -1", "not a number: -1"),
      probe("end without count", "end 1", "end", "not a number"),
      query("query end counts more", "end 2", "end 3", "'end' counts 3 query lines, saw 2"),
      probe("text after end", "end 1\n", "end 1\nP 1 1\n", "text after 'end'"),
      probe("two ends", "end 1\n", "end 1\nend 1\n", "text after 'end'"),
      probe("overflow", "end 1", "overflow entries 99999999999999999999999\nend 1",
            "the probe left out 99999999999999999999999 entries"),
      // Unknown roles, fields, lines; duplicated fields and header lines.
      probe("unknown role", "memmap:32", "memmap:32,vmemmap:1", "unknown role: vmemmap"),
      probe("role without owner", "memmap:32", "memmap", "role without owner"),
      probe("empty role", "memmap:32", "memmap:32,,pte:1", "role without owner"),
      probe("no roles", "roles=memmap:32", "roles=", "page without roles"),
      probe("roles missing", " roles=memmap:32", "", "missing field 'roles'"),
      probe("unknown line", "paging_levels 4", "paging_levels 4\nX 1 2 3", "unknown line"),
      probe("duplicated field", "ref=2", "ref=2 ref=0", "field 'ref' given twice"),
      probe("duplicated role field", "roles=memmap:32", "roles=memmap:32 roles=pte:0", "field 'roles' given twice"),
      probe("duplicated section_shift", "section_shift 27", "section_shift 27\nsection_shift 30",
            "'section_shift' given twice"),
      probe("duplicated encoding", "encoding index-private", "encoding index-private\nencoding none",
            "'encoding' given twice"),
      probe("unknown encoding", "encoding index-private", "encoding rot13", "unknown encoding"),
      probe("no header", "section_shift 27\n", "", "lacks its header"),
      probe("free and held", "free=no held=other", "free=buddy held=slab", "a free page held by slab"),
      query("duplicated gone", "131072 gone", "131072 gone gone", "field 'gone' given twice"),
      // NUL bytes, control characters, very long lines: the message stays one short line.
      probe("NUL in a tag", "kernel 6.12", std::string("ker\0nel 6.12", 12), "unknown line"),
      probe("NUL in a number", "ref=2", std::string("ref=2\0", 6), "not a number: 2\\x00"),
      probe("escape sequences", "kernel 6.12.117+deb12-amd64", "\x1b[2J\x1b[31mkernel", "unknown line"),
      probe("a line of 1 MB", "paging_levels 4", "paging_levels 4\n" + std::string(1 << 20, 'A'), "unknown line"),
      probe("a number of 1 MB", "ref=2", "ref=" + std::string(1 << 20, '7'), "number out of range"),
      probe("a kernel name of 1 MB", "kernel 6.12.117+deb12-amd64", "kernel " + std::string(1 << 20, 'k'), nullptr),
      probe("CRLF line ends", "paging_levels 4\n", "paging_levels 4\r\n", nullptr),
      probe("a blank line after the header", "rig-probe 2\n", "rig-probe 2\n\n", nullptr),
      query("a blank line in a query", "rig-probe-query 2\n", "rig-probe-query 2\n\n", nullptr),
      // Query ranges as the rig writes them.
      {"ranges", Parser::QueryRanges, "1-2 3 0x10-0x1f", nullptr},
      {"ranges that wrap", Parser::QueryRanges, "0-18446744073709551615",
       "beyond the 2^52-byte physical address space"},
      {"ranges beyond 2^64", Parser::QueryRanges, "18446744073709551616", "bad pfn range"},
      {"ranges reversed", Parser::QueryRanges, "5-3", "last < first"},
      {"ranges negative", Parser::QueryRanges, "-3", "bad pfn range"},
      {"ranges garbage", Parser::QueryRanges, std::string("1-\0\x01", 4),
       "bad pfn range in a probe query: '1-\\x00\\x01'"},
  };
}

// tests/data/hostile: recorded inputs, one hostile property each.
std::vector<Case> recorded_cases() {
  const auto file = [](const std::string& name, Parser p, const char* reject_with) {
    return Case{"hostile/" + name, p, data("hostile/" + name), reject_with};
  };
  return {
      file("scenario-dimm-addr-wraps.toml", Parser::Scenario, "dimm[0].addr: 0xfffffffff8000000 is beyond"),
      file("scenario-cycles-wraps.toml", Parser::Scenario, "cycles: must be between 1 and 1000"),
      file("scenario-nul-byte.toml", Parser::Scenario, "malformed TOML"),
      file("scenario-deep-header.toml", Parser::Scenario, "keys nested too deep"),
      file("scenario-timeout-nan.toml", Parser::Scenario, "must be a finite number"),
      file("known-failures-case-wraps.toml", Parser::KnownFailures, "xfail[0].case: must be a spec case, 1 to 5"),
      file("known-failures-deep-pattern.toml", Parser::KnownFailures, "is longer than 1000 characters"),
      file("probe-format-wraps-to-1.txt", Parser::Snapshot, "unknown probe format 4294967297"),
      file("probe-ref-int64-min.txt", Parser::Snapshot, "number out of range"),
      file("probe-run-wraps.txt", Parser::Snapshot, "pfn run beyond"),
      file("probe-old-format-1.txt", Parser::Snapshot, nullptr),
      file("query-snapshot-header.txt", Parser::Query, "not a probe query answer of format 1 or 2"),
      file("query-count-huge.txt", Parser::Query, "pfn run beyond"),
  };
}

}  // namespace

TEST(HostileInput, ScenarioFiles) {
  for (const auto& c : scenario_cases()) check_case(c);
}

TEST(HostileInput, ProbeOutput) {
  for (const auto& c : probe_cases()) check_case(c);
}

TEST(HostileInput, RecordedHostileFiles) {
  for (const auto& c : recorded_cases()) check_case(c);
}

TEST(HostileInput, KnownFailuresFile) {
  EXPECT_EQ(run_parser(Parser::KnownFailures, source("rig/known-failures.toml")).kind, Outcome::Accepted);
  check_case({"not a table array", Parser::KnownFailures, "xfail = 1\n", "xfail: must be written as [[xfail]] tables"});
  check_case({"unknown key", Parser::KnownFailures, "name = \"x\"\n", "name: unknown key"});
  const Outcome o = guarded<UsageError>([] { load_known_failures("/nonexistent/known-failures.toml"); });
  EXPECT_EQ(o.kind, Outcome::Rejected);
  EXPECT_NE(o.message.find("cannot read known-failures file"), std::string::npos) << o.message;
}

TEST(HostileInput, SizesAtTheEdges) {
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_size("18446744073709551616"));
  EXPECT_EQ(parse_size("0xffffffffffffffff"), UINT64_MAX);
  EXPECT_FALSE(parse_size("0x10000000000000000"));
  EXPECT_EQ(parse_size("16777215T"), 16777215ull << 40);
  EXPECT_FALSE(parse_size("16777216T"));
  EXPECT_FALSE(parse_size("17179869184G"));
  for (const std::string& bad :
       {std::string(), std::string("-1"), std::string("+1"), std::string(" 1G"), std::string("1G "), std::string("0x"),
        std::string("0x1G"), std::string("1Q"), std::string("G"), std::string(1, '\0'), std::string("1\0G", 3)})
    EXPECT_FALSE(parse_size(bad)) << shown(bad);
  EXPECT_EQ(format_size(UINT64_MAX), "18446744073709551615");
  EXPECT_EQ(format_hex(UINT64_MAX), "0xffffffffffffffff");
}

TEST(HostileInput, ConsoleParserOnGarbageAndEndlessLines) {
  // Garbage with NULs and stray carriage returns: no crash, lines counted.
  std::string garbage;
  std::mt19937_64 rng(8);
  for (int i = 0; i < 200000; ++i) garbage += static_cast<char>(rng() & 0xff);
  ConsoleParser g;
  g.feed(garbage);
  g.feed(std::string("\0\0\r\r\n[\0] BUG: x\n[", 17));
  g.finish();
  EXPECT_GT(g.lines_seen(), 0u);

  // An endless line in 64 KiB chunks: linear time, and the line kept is cut at 64 KiB.
  const auto start = std::chrono::steady_clock::now();
  ConsoleParser p;
  p.feed("[    1.000000] Kernel panic - not syncing: ");
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 256; ++i) p.feed(chunk);  // 16 MiB without a newline
  p.feed("\nnext line\n");
  p.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(secs, 5.0);
  ASSERT_EQ(p.findings().size(), 1u);
  EXPECT_EQ(p.findings()[0].kind, "panic");
  EXPECT_LE(p.findings()[0].headline.size(), 64u * 1024);
  EXPECT_EQ(p.lines_seen(), 2u);
  EXPECT_TRUE(p.saw("next line"));

  // A timestamp that never closes, a ']' far away, empty lines.
  ConsoleParser t;
  t.feed("[" + std::string(100, '1') + "] BUG: a\n[\n]\n\n\n[ ] WARNING: b\n");
  t.finish();
  ASSERT_EQ(t.findings().size(), 1u);
  EXPECT_EQ(t.findings()[0].headline, "WARNING: b");
}

TEST(HostileInput, QmpFramingOnGarbageAndEndlessLines) {
  // An endless line costs at most max_line bytes; what comes out for it is its start and a note
  // that no JSON parser accepts, and the stream goes on after it.
  LineBuffer b(1024);
  const std::string chunk(4096, '{');
  for (int i = 0; i < 1024; ++i) b.feed(chunk.data(), chunk.size());  // 4 MiB
  const std::string rest = "\r\n{\"return\": {}, \"id\": 1}\r\n";
  b.feed(rest.data(), rest.size());
  auto cut = b.pop();
  ASSERT_TRUE(cut);
  EXPECT_LT(cut->size(), 300u);
  EXPECT_NE(cut->find("(cut: a line longer than 1024 bytes)"), std::string::npos);
  EXPECT_TRUE(json::parse(*cut, nullptr, false).is_discarded());
  auto next = b.pop();
  ASSERT_TRUE(next);
  EXPECT_EQ(classify_qmp_message(json::parse(*next)).kind, QmpMessageKind::Reply);

  // The default limit keeps a legitimate large reply whole.
  LineBuffer big;
  const std::string line = "{\"return\": {\"out-data\": \"" + std::string(2 << 20, 'A') + "\"}}\n";
  big.feed(line.data(), line.size());
  auto whole = big.pop();
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->size(), line.size() - 1);

  // Messages of the wrong shape: classified, never a json exception.
  const char* shapes[] = {
      "1",
      "\"x\"",
      "null",
      "[]",
      "{}",
      "{\"error\": 1}",
      "{\"error\": []}",
      "{\"error\": {\"class\": 5, \"desc\": []}}",
      "{\"error\": {\"class\": \"DeviceNotFound\"}}",
      "{\"return\": 1, \"id\": {\"a\": [1]}}",
      "{\"event\": 5}",
      "{\"event\": \"X\", \"data\": 7}",
      "{\"event\": \"X\", \"data\": [1, 2]}",
      "{\"event\": \"X\", \"timestamp\": 5}",
      "{\"event\": \"X\", \"timestamp\": {\"seconds\": \"s\", \"microseconds\": null}}",
      "{\"event\": \"X\", \"timestamp\": {\"seconds\": 1e308, \"microseconds\": -1e308}}",
      "{\"QMP\": 1}",
  };
  for (const char* s : shapes) {
    SCOPED_TRACE(s);
    QmpMessage m;
    EXPECT_NO_THROW(m = classify_qmp_message(json::parse(s)));
    if (m.kind == QmpMessageKind::Event) {
      EXPECT_TRUE(m.event.data.is_object());
    }
  }
  QmpMessage e = classify_qmp_message(json::parse("{\"error\": 1, \"id\": 3}"));
  EXPECT_EQ(e.kind, QmpMessageKind::Reply);
  ASSERT_TRUE(e.error);
  EXPECT_EQ(e.error->error_class, "GenericError");

  // Nested 100000 deep: parsed without recursion, never copied or compared recursively.
  const std::string deep =
      "{\"event\": \"X\", \"data\": {\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_EQ(classify_qmp_message(json::parse(deep)).kind, QmpMessageKind::Unknown);
  const std::string deep_id = "{\"return\": {}, \"id\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(classify_qmp_message(json::parse(deep_id)).kind, QmpMessageKind::Unknown);
  std::string nested = "{\"return\": {}, \"id\": 1, \"x\": " + std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_EQ(classify_qmp_message(json::parse(nested)).kind, QmpMessageKind::Reply);

  EXPECT_EQ(ost_status_name(-1), "status -0x1");
  EXPECT_EQ(ost_status_name(INT32_MIN), "status -0x80000000");
}

// ---------------------------------------------------------------------------------------------
// The mutation loop

namespace {

const char* const kHugeNumbers[] = {
    "0",
    "-0",
    "-1",
    "1",
    "2",
    "4294967295",
    "4294967296",
    "4294967297",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999",
    "1099511627775",
    "1099511627776",
    "262144",
    "262145",
    "4194305",
    "0x7fffffffffffffff",
    "0xffffffffffffffff",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "0.0",
    "+1",
    "0x",
    "07",
    "1_000",
};
const char* const kTokens[] = {
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "#",
    "\\",
    "\\u0000",
    "\n",
    "\r\n",
    "\t",
    " ",
    "-",
    ":",
    "gone",
    "roles=",
    "free=buddy",
    "held=slab",
    "end 0\n",
    "rig-probe 1\n",
    "overflow entries 1\n",
    "P 0 1 ",
    "S ",
    "N ",
    "Q ",
    "memmap:",
    "pgdat:-1",
    "nid=",
    "ref=",
    "= {",
    "[[dimm]]\n",
    "[[step]]\n",
    "[machine]\n",
    "[[xfail]]\n",
    "\xff",
    "\xc3\x28",
    "\xed\xa0\x80",
    "\xef\xbb\xbf",
};

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string mutate(std::string s) {
    const size_t n = 1 + pick(4);
    for (size_t i = 0; i < n; ++i) s = once(std::move(s));
    return s;
  }

  size_t pick(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  // [begin, end) of the line holding position `at`, without its newline.
  std::pair<size_t, size_t> line_at(const std::string& s, size_t at) const {
    size_t b = s.rfind('\n', at == 0 ? 0 : at - 1);
    b = (b == std::string::npos || at == 0) ? 0 : b + 1;
    size_t e = s.find('\n', at);
    return {b, e == std::string::npos ? s.size() : e};
  }

  std::string once(std::string s) {
    const size_t at = pick(s.size() + 1);
    switch (pick(12)) {
      case 0:  // a random byte
        if (!s.empty()) s[std::min(at, s.size() - 1)] = static_cast<char>(pick(256));
        break;
      case 1:  // a flipped bit
        if (!s.empty()) s[std::min(at, s.size() - 1)] ^= static_cast<char>(1 << pick(8));
        break;
      case 2:  // truncated
        s.resize(at);
        break;
      case 3:
      case 4: {  // a number replaced by a huge, negative or odd one
        size_t d = s.find_first_of("0123456789", at);
        if (d == std::string::npos) d = s.find_first_of("0123456789");
        if (d == std::string::npos) break;
        size_t e = s.find_first_not_of("0123456789abcdefxX", d);
        if (e == std::string::npos) e = s.size();
        s.replace(d, e - d, kHugeNumbers[pick(std::size(kHugeNumbers))]);
        break;
      }
      case 5: {  // a line duplicated (the same key, field or run twice)
        auto [b, e] = line_at(s, at);
        s.insert(e, "\n" + s.substr(b, e - b));
        break;
      }
      case 6: {  // a line deleted
        auto [b, e] = line_at(s, at);
        s.erase(b, std::min(e + 1, s.size()) - b);
        break;
      }
      case 7: {  // a line moved elsewhere
        auto [b, e] = line_at(s, at);
        std::string l = s.substr(b, e - b) + "\n";
        s.erase(b, std::min(e + 1, s.size()) - b);
        s.insert(line_at(s, pick(s.size() + 1)).first, l);
        break;
      }
      case 8:  // a structural token, a NUL, a control character or bad UTF-8
        if (pick(3) == 0)
          s.insert(at, 1, static_cast<char>(pick(32)));
        else
          s.insert(at, kTokens[pick(std::size(kTokens))]);
        break;
      case 9:  // a span deleted
        s.erase(at, pick(64));
        break;
      case 10: {  // a long run: a very long line, deep nesting, many dots
        const char* fill = ".[{a9 -=,\"x";
        s.insert(at, std::string(1 + pick(pick(2) ? 64 : 4096), fill[pick(11)]));
        break;
      }
      case 11: {  // a field or key's value swapped with another's
        auto [b, e] = line_at(s, at);
        auto [b2, e2] = line_at(s, pick(s.size() + 1));
        const std::string tail = s.substr(b2, e2 - b2);
        const size_t eq = s.find('=', b);
        if (eq != std::string::npos && eq < e)
          s.replace(eq + 1, e - eq - 1, tail.substr(tail.find('=') == std::string::npos ? 0 : tail.find('=') + 1));
        break;
      }
    }
    return s;
  }

  std::mt19937_64 rng_;
};

std::vector<std::string> read_all(const std::string& dir, const std::string& ext) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());  // a fixed order, so a seed means the same inputs
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

uint64_t env_u64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : def;
}

uint64_t seed() { return env_u64("RIG_HOSTILE_SEED", 20260801); }
size_t scaled(size_t n) { return n * static_cast<size_t>(std::max<uint64_t>(1, env_u64("RIG_HOSTILE_SCALE", 1))); }

// Mutates `corpus` `iterations` times and runs each parser on each mutant: accepted or the
// documented error with a one-line message, nothing else. Stops at the first failure.
void mutation_loop(const char* what, const std::vector<std::string>& corpus, const std::vector<Parser>& parsers,
                   size_t iterations, uint64_t salt) {
  ASSERT_FALSE(corpus.empty()) << what;
  Mutator m(seed() ^ salt);
  size_t accepted = 0, rejected = 0;
  for (size_t i = 0; i < iterations; ++i) {
    const std::string input = m.mutate(corpus[m.pick(corpus.size())]);
    for (Parser p : parsers) {
      const Outcome o = run_parser(p, input);
      const auto where = [&] {
        return fmt::format("{} mutant {} (RIG_HOSTILE_SEED={}) in the {} parser: {}", what, i, seed(), parser_name(p),
                           shown(input, 4000));
      };
      ASSERT_NE(o.kind, Outcome::Foreign) << o.message << "\n" << where();
      if (o.kind == Outcome::Rejected) {
        ASSERT_TRUE(one_line(o.message)) << shown(o.message, 2000) << "\n" << where();
        ++rejected;
      } else {
        ++accepted;
      }
    }
  }
  // Both outcomes occur: the mutants are neither all broken nor all harmless.
  EXPECT_GT(accepted, 0u) << what;
  EXPECT_GT(rejected, 0u) << what;
  std::cout << fmt::format("[ hostile  ] {}: {} mutants, {} accepted, {} rejected\n", what, iterations, accepted,
                           rejected);
}

}  // namespace

TEST(HostileMutations, ProbeRecordings) {
  mutation_loop("tests/data/probe", read_all(std::string(RIG_TEST_DATA) + "/probe", ".txt"),
                {Parser::Snapshot, Parser::Query}, scaled(4000), 1);
}

TEST(HostileMutations, ScenarioFiles) {
  auto corpus = read_all(std::string(RIG_SOURCE_DIR) + "/rig/scenarios", ".toml");
  auto recorded = read_all(std::string(RIG_TEST_DATA) + "/scenarios", ".toml");
  corpus.insert(corpus.end(), recorded.begin(), recorded.end());
  corpus.push_back(kScenario);
  mutation_loop("scenarios", corpus, {Parser::Scenario}, scaled(8000), 2);
}

TEST(HostileMutations, KnownFailuresFile) {
  mutation_loop("rig/known-failures.toml", {source("rig/known-failures.toml")}, {Parser::KnownFailures}, scaled(150),
                3);
}

TEST(HostileMutations, QueryRanges) {
  mutation_loop("query ranges", {"256000-256511 261066 0x10-0x1f", "1048576-1179647", "5"}, {Parser::QueryRanges},
                scaled(2000), 4);
}

TEST(HostileMutations, ConsoleLogs) {
  const auto corpus = read_all(std::string(RIG_TEST_DATA) + "/console", ".log");
  ASSERT_FALSE(corpus.empty());
  Mutator m(seed() ^ 5);
  for (size_t i = 0; i < scaled(300); ++i) {
    const std::string input = m.mutate(corpus[m.pick(corpus.size())]);
    ConsoleParser p;
    try {
      for (size_t at = 0; at < input.size();) {
        const size_t n = 1 + m.pick(8192);
        p.feed(std::string_view(input).substr(at, n));
        at += n;
      }
      p.finish();
      (void)p.panicked();
      (void)p.saw("BUG");
    } catch (const std::exception& e) {
      FAIL() << "console mutant " << i << " (RIG_HOSTILE_SEED=" << seed() << "): " << e.what();
    }
  }
}

TEST(HostileMutations, QmpTranscripts) {
  // The QEMU and guest-agent side of the recorded transcripts, as the bytes on the socket.
  std::vector<std::string> corpus;
  for (const auto& t : read_all(std::string(RIG_TEST_DATA) + "/qmp", ".transcript")) {
    std::string stream;
    std::istringstream in(t);
    for (std::string line; std::getline(in, line);) {
      const auto at = line.find(" <- ");
      if (at != std::string::npos) stream += line.substr(at + 4) + "\r\n";
    }
    corpus.push_back(stream);
  }
  ASSERT_FALSE(corpus.empty());
  Mutator m(seed() ^ 6);
  size_t messages = 0;
  for (size_t i = 0; i < scaled(800); ++i) {
    const std::string input = m.mutate(corpus[m.pick(corpus.size())]);
    LineBuffer b(4096);
    EventQueue events;
    try {
      for (size_t at = 0; at < input.size();) {
        const size_t n = 1 + m.pick(512);
        b.feed(input.data() + at, std::min(n, input.size() - at));
        at += n;
        while (auto line = b.pop()) {
          const json j = json::parse(*line, nullptr, false);
          if (j.is_discarded()) continue;
          QmpMessage msg = classify_qmp_message(j);
          ++messages;
          if (msg.kind == QmpMessageKind::Event) events.push(msg.event);
          if (msg.error) (void)ost_status_is_failure(static_cast<int>(msg.error->desc.size()));
        }
      }
      (void)events.take([](const QmpEvent& e) { return e.name == "DEVICE_DELETED"; });
    } catch (const std::exception& e) {
      FAIL() << "QMP mutant " << i << " (RIG_HOSTILE_SEED=" << seed() << "): " << e.what() << "\n"
             << shown(input, 4000);
    }
  }
  EXPECT_GT(messages, 0u);
}
