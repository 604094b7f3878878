// End to end: the rig CLI as a user runs it, on the installed Debian kernels, under QEMU.
// These boot real guests (about 6-12 s each under TCG).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "integration/harness.h"

using nlohmann::json;
using namespace rig_it;

namespace {

std::string last_suite_stdout;  // what rig run printed: the table and the findings lines

json run_suite_on(const std::string& kernel, int* exit_code) {
  const std::string dir = fresh_dir("suite-" + kernel);
  CommandResult r =
      run_command({RIG_BINARY, "run", "--suite", "spec", "--kernel", kernel, "--json", dir + "/out.json", "--junit",
                   dir + "/junit.xml", "--ktap", dir + "/out.ktap", "--artifacts", dir + "/runs"},
                  1200);
  EXPECT_NE(read_file(dir + "/junit.xml").find("<testsuites name=\"rig\""), std::string::npos);
  EXPECT_EQ(read_file(dir + "/out.ktap").rfind("KTAP version 1\n", 0), 0u);
  EXPECT_NE(read_file(dir + "/report.html").find("<svg"), std::string::npos) << "report.html beside --json";
  *exit_code = r.exit_code;
  last_suite_stdout = r.out;
  EXPECT_FALSE(r.timed_out);
  std::ifstream in(dir + "/out.json");
  EXPECT_TRUE(in.good()) << r.err;
  json j;
  if (in.good()) in >> j;
  if (r.exit_code != 0) ADD_FAILURE() << r.out << r.err;
  return j;
}

const json& result_for(const json& report, const std::string& scenario) {
  for (const auto& r : report["results"])
    if (r["scenario"] == scenario) return r;
  static const json none;
  ADD_FAILURE() << "no result for " << scenario;
  return none;
}

void expect_suite_outcomes(const std::string& kernel, const std::string& release_prefix) {
  int rc = -1;
  json j = run_suite_on(kernel, &rc);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(j.contains("results"));
  // The spec suite covers all five cases, every check is reported, and nothing fails unless it
  // is a known kernel failure with evidence in docs/.
  EXPECT_EQ(j["summary"]["cases_covered"], json({1, 2, 3, 4, 5}));
  EXPECT_EQ(j["summary"]["fail"], 0);
  EXPECT_EQ(j["summary"]["error"], 0);
  for (const auto& r : j["results"]) {
    EXPECT_TRUE(r["verdict"] == "pass" || r["verdict"] == "xfail") << r["scenario"] << ": " << r["reason"];
    if (!r["scenario_cases"].empty()) {
      EXPECT_FALSE(r["checks"].empty()) << r["scenario"];
    }
    for (const auto& c : r["checks"]) {
      if (c["ok"] == false) {
        EXPECT_TRUE(c.value("xfail", false)) << r["scenario"] << " " << c["name"] << ": " << c["detail"];
        EXPECT_EQ(c.value("evidence", std::string()).rfind("docs/", 0), 0u);
      }
    }
  }

  // Every failure of the suite is a known finding (rig/findings/): the 64 GiB table at least.
  EXPECT_NE(last_suite_stdout.find("finding: known pmd-table-at-64-gib"), std::string::npos) << last_suite_stdout;
  EXPECT_EQ(last_suite_stdout.find("finding: NEW"), std::string::npos) << last_suite_stdout;

  const json& movable = result_for(j, "unplug-boot-dimm-movable");
  EXPECT_EQ(movable["kernel"].get<std::string>().rfind(release_prefix, 0), 0u) << movable["kernel"];
  EXPECT_EQ(movable["cpu"], "qemu64");
  EXPECT_EQ(movable["steps"][0]["outcome"], "removed");
  EXPECT_EQ(movable["steps"][1]["outcome"], "absent");
  std::ifstream console(movable["artifacts"].get<std::string>() + "/console.log");
  EXPECT_TRUE(console.good()) << "artifacts keep the console log";

  bool freed_checked = false;
  for (const auto& c : movable["checks"])
    freed_checked |= c["name"] == "memmap-freed" && c["ok"] == true &&
                     c["detail"].get<std::string>().rfind("2048 memmap pages", 0) == 0;
  EXPECT_TRUE(freed_checked) << "case 1: the memmap of every departing section is checked page by page";
  // Every memory counter user space sees, before and after the removal (spec/guest_counters.h),
  // and the step's page frees traced by the kernel (docs/probe-format.md, rig-probe frees).
  int counters = 0;
  for (const auto& c : movable["checks"])
    if (c["name"].get<std::string>().rfind("counters-", 0) == 0 && c["step"] == 0) {
      ++counters;
      EXPECT_EQ(c["status"], "pass") << c["name"] << ": " << c["detail"];
    }
  EXPECT_EQ(counters, 7);  // meminfo, zones, zone-span, node-states, memory-blocks, firmware-memmap, iomem
  std::ifstream frees(movable["artifacts"].get<std::string>() + "/frees-step0.txt");
  std::string frees_head;
  std::getline(frees, frees_head);
  std::getline(frees, frees_head);
  EXPECT_EQ(frees_head, "tracing on");

  // The 64 GiB boot DIMM: the vmemmap PMD table that mapped only its two sections leaks on both
  // Debian kernels. Known, so xfail, but named page by page and in MemTotal.
  const json& pt = result_for(j, "boot-dimm-64g");
  EXPECT_EQ(pt["verdict"], "xfail") << pt["reason"];
  bool table_named = false, memtotal_short = false;
  for (const auto& c : pt["checks"]) {
    if (c["name"] == "page-tables-freed") {
      EXPECT_EQ(c["status"], "xfail") << c["detail"];
      ASSERT_EQ(c["pages"].size(), 1u) << c["detail"];
      EXPECT_EQ(c["pages"][0]["roles"], "pmd:512,pmd:513");
      const std::string d = c["detail"];
      table_named = d.find("refcount 2 MIX_SECTION_INFO") != std::string::npos &&
                    d.find("owners: section 512 (1 ref), 513 (1 ref)") != std::string::npos;
    }
    if (c["name"] == "memtotal-node-0")
      memtotal_short =
          c["status"] == "xfail" && c["detail"].get<std::string>().find("short by 1 pages") != std::string::npos;
  }
  EXPECT_TRUE(table_named) << pt["checks"].dump();
  EXPECT_TRUE(memtotal_short) << pt["checks"].dump();

  const json& busy = result_for(j, "unplug-boot-dimm-busy");
  EXPECT_EQ(busy["steps"][0]["outcome"], "refused") << "a refusal, not a removal and not a timeout";
  EXPECT_NE(busy["steps"][0]["detail"].get<std::string>().find("0x82 (device busy)"), std::string::npos);
  EXPECT_EQ(busy["steps"][1]["outcome"], "present") << "QMP still lists the DIMM";
  bool dump_seen = false;
  for (const auto& f : busy["console_findings"]) dump_seen |= f["headline"] == "page dumped because: unmovable page";
  EXPECT_TRUE(dump_seen) << "the refused offline's page dump is kept as evidence";

  const json& hot = result_for(j, "hotplug-then-unplug");
  EXPECT_EQ(hot["verdict"], "pass");
  EXPECT_EQ(hot["steps"][0]["outcome"], "added");
  EXPECT_EQ(hot["steps"][1]["outcome"], "online");
  EXPECT_NE(hot["steps"][1]["detail"].get<std::string>().find("memory32 online"), std::string::npos);
  EXPECT_EQ(hot["steps"][2]["outcome"], "removed");
  bool hot_memmap_freed = false;
  for (const auto& c : hot["checks"])
    hot_memmap_freed |= c["name"] == "memmap-freed" && c["status"] == "pass" &&
                        c["detail"].get<std::string>().find("free (") != std::string::npos;
  EXPECT_TRUE(hot_memmap_freed) << "hot-added memmap is judged page by page, shown back in the allocator: "
                                << hot["checks"].dump();
}

}  // namespace

TEST(CliRuns, SpecSuiteOnDebian61) { expect_suite_outcomes("debian-6.1", "6.1."); }
TEST(CliRuns, SpecSuiteOnDebian612) { expect_suite_outcomes("debian-6.12", "6.12."); }

// Issue #18: the kernel maps memory into the direct map when it is added, not when it is onlined.
// A DIMM that stays plugged but offline keeps the direct-map PMD table it shares with a removed
// one: the probe names both sections as its owners and the table is kept, on a real guest.
TEST(CliRuns, ADirectMapTableSharedWithAnOfflineDimmIsKept) {
  const std::string dir = fresh_dir("dmap-offline");
  CommandResult r = run_command(
      {RIG_BINARY, "run", std::string(RIG_SOURCE_DIR) + "/tests/data/scenarios/dmap-shared-with-offline-dimm.toml",
       "--kernel", "debian-6.1", "--out", dir},
      900);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json j = json::parse(read_file(dir + "/results.json"));
  const json& res = j["results"][0];
  EXPECT_EQ(res["verdict"], "pass") << res["reason"];
  bool kept = false;
  for (const auto& c : res["checks"]) kept |= c["name"] == "pages-kept" && c["status"] == "pass";
  EXPECT_TRUE(kept) << res["checks"].dump();
  const std::string before = read_file(res["artifacts"].get<std::string>() + "/snapshot-before-step3.txt");
  EXPECT_NE(before.find("roles=dmap_pmd:32,dmap_pmd:33"), std::string::npos) << before;
}

TEST(CliRuns, WrongExpectationFailsWithExitOne) {
  // The busy machine with an expectation of removal: the rig must report the refusal as a
  // failed check, not pass and not time out.
  const std::string dir = fresh_dir("wrong-expect");
  std::string text = read_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-busy.toml");
  text.replace(text.find("expect = \"refused\""), 18, "expect = \"removed\"");
  write_file(dir + "/s.toml", text);
  CommandResult r = run_command({RIG_BINARY, "run", dir + "/s.toml", "--kernel", "debian-6.12", "--json",
                                 dir + "/o.json", "--artifacts", dir + "/runs"},
                                300);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  json j = json::parse(read_file(dir + "/o.json"));
  EXPECT_EQ(j["results"][0]["verdict"], "fail");
  EXPECT_EQ(j["results"][0]["steps"][0]["outcome"], "refused");
}

TEST(CliInput, BadScenarioIsRejectedBeforeBoot) {
  const std::string dir = fresh_dir("bad-input");
  std::string text = read_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml");
  text.replace(text.find("size = \"512M\""), 13, "size = \"500M\"");
  write_file(dir + "/bad.toml", text);
  CommandResult r =
      run_command({RIG_BINARY, "run", dir + "/bad.toml", "--kernel", "debian-6.1", "--artifacts", dir + "/runs"}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "rig: error: " + dir + "/bad.toml: dimm[0].size: 500M is not a multiple of the 128M memory block\n");
  EXPECT_FALSE(path_exists(dir + "/runs")) << "nothing may start for a bad scenario";
}

// rig bisect judges a case or a finding of the register: exactly one, and the finding must exist.
TEST(CliInput, BisectNeedsACaseOrAFindingThatExists) {
  const std::string dir = fresh_dir("bisect-input");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "rig bisect needs --case N (1-5) or --finding ID"},
      {{"--finding", "no-such-finding"}, "--finding no-such-finding: no such entry in"},
      {{"--finding", "612-pgdat-shares-a-page", "--case", "5"}, "--case and --finding: name one of them"},
      {{"--case", "6"}, "--case 6: the spec has cases 1 to 5"},
      {{"--case", "1", "--fixed", "v7.1.7"}, "not with --src, --good, --bad, --broken or --fixed"},
  };
  for (const auto& [args, error] : cases) {
    std::vector<std::string> argv = {RIG_BINARY,    "bisect",     "--kernels", "debian-6.1,debian-6.12",
                                     "--artifacts", dir + "/runs"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = run_command(argv, 60);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(error), std::string::npos) << r.err;
    EXPECT_FALSE(path_exists(dir + "/runs")) << "nothing may start for bad input";
  }
  // A git bisection looks for a regression (--good/--bad) or a fix (--broken/--fixed), not both.
  CommandResult both = run_command({RIG_BINARY, "bisect", "--case", "1", "--src", dir, "--good", "v1", "--bad", "v2",
                                    "--fixed", "v3", "--artifacts", dir + "/runs"},
                                   60);
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_NE(both.err.find("--broken/--fixed look for a fix, --good/--bad for a regression: not both"),
            std::string::npos)
      << both.err;
  CommandResult half = run_command(
      {RIG_BINARY, "bisect", "--case", "1", "--src", dir, "--fixed", "v3", "--artifacts", dir + "/runs"}, 60);
  EXPECT_EQ(half.exit_code, 2) << half.err;
  EXPECT_NE(half.err.find("--src TREE --broken REV --fixed REV (a fix)"), std::string::npos) << half.err;
}

TEST(CliInput, MissingKernelAndMissingQemu) {
  const std::string dir = fresh_dir("missing");
  const std::string scenario = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml";
  CommandResult k =
      run_command({RIG_BINARY, "run", scenario, "--kernel", dir + "/no-bzImage", "--artifacts", dir + "/runs"}, 60);
  EXPECT_EQ(k.exit_code, 2);
  EXPECT_NE(k.err.find("no such file"), std::string::npos) << k.err;
  CommandResult q = run_command({RIG_BINARY, "run", scenario, "--kernel", "debian-6.1", "--qemu",
                                 "/nonexistent/qemu-system-x86_64", "--artifacts", dir + "/runs"},
                                60);
  EXPECT_EQ(q.exit_code, 3);
  EXPECT_NE(q.err.find("/nonexistent/qemu-system-x86_64 not found"), std::string::npos) << q.err;
  EXPECT_FALSE(path_exists(dir + "/runs"));
}

// A libvirt URI that would make libvirt run a program (issue 17) is refused before any
// connection: exit 2, one line, and the program never runs; for rig cleanup and rig run alike.
TEST(CliInput, HostileLibvirtUrisAreRefusedBeforeAnythingConnects) {
  const std::string dir = fresh_dir("hostile-uri");
  write_file(dir + "/prog", "#!/bin/sh\ntouch " + dir + "/ran\n");
  ASSERT_EQ(::chmod((dir + "/prog").c_str(), 0755), 0);
  const std::string scenario = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-then-unplug.toml";
  for (const std::string& uri : {"qemu+ext:///system?command=" + dir + "/prog", "qemu:///system?socket=" + dir + "/s",
                                 "qemu+ssh://h/system?netcat=" + dir + "/prog"}) {
    CommandResult c = run_command({RIG_BINARY, "cleanup", "--connect", uri}, 30);
    EXPECT_EQ(c.exit_code, 2) << uri << ": " << c.err;
    EXPECT_EQ(c.err.rfind("rig: error: --connect " + uri + ": ", 0), 0u) << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
    CommandResult r = run_command({RIG_BINARY, "run", scenario, "--backend", "libvirt", "--connect", uri, "--kernel",
                                   "debian-6.1", "--artifacts", dir + "/runs"},
                                  30);
    EXPECT_EQ(r.exit_code, 2) << uri << ": " << r.err;
  }
  EXPECT_FALSE(path_exists(dir + "/ran")) << "libvirt ran the URI's program";
  EXPECT_FALSE(path_exists(dir + "/runs"));
}

TEST(CliSignals, InterruptKillsQemu) {
  for (int sig : {SIGINT, SIGKILL}) {
    const std::string dir = fresh_dir(std::string("signal-") + std::to_string(sig));
    BackgroundCommand rig({RIG_BINARY, "run",
                           std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml", "--kernel",
                           "debian-6.1", "--accel", "tcg", "--artifacts", dir + "/runs"});
    ASSERT_TRUE(wait_for([&] { return !qemu_pids_mentioning(dir).empty(); }, 60)) << "QEMU never started";
    rig.signal(sig);
    rig.wait(30);
    EXPECT_TRUE(wait_for([&] { return qemu_pids_mentioning(dir).empty(); }, 10))
        << "QEMU outlived the rig after signal " << sig;
  }
}

namespace {
// Socket inodes of a process's open descriptors.
std::set<std::string> socket_inodes(int pid) {
  std::set<std::string> inodes;
  boost::system::error_code ec;
  for (boost::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    char buf[256];
    ssize_t n = ::readlink(it->path().c_str(), buf, sizeof buf - 1);
    if (n <= 0) continue;
    const std::string link(buf, static_cast<size_t>(n));
    if (link.rfind("socket:[", 0) == 0) inodes.insert(link.substr(8, link.size() - 9));
  }
  return inodes;
}
}  // namespace

TEST(CliSockets, SocketsLiveInTheRunDirectoryAndNothingListensOnTheNetwork) {
  // A run directory deeper than a unix socket path allows: QEMU still makes its sockets there.
  const std::string dir = fresh_dir("sockets") + "/" + std::string(60, 'd') + "/" + std::string(60, 'e');
  boost::filesystem::create_directories(dir);
  BackgroundCommand rig({RIG_BINARY, "run",
                         std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml", "--kernel",
                         "debian-6.12", "--no-snapshots", "--artifacts", dir + "/runs", "--json", dir + "/out.json"});
  std::vector<int> pids;
  ASSERT_TRUE(wait_for([&] { return !(pids = qemu_pids_mentioning(dir)).empty(); }, 120)) << "QEMU never started";
  std::string run_dir;
  ASSERT_TRUE(wait_for(
      [&] {
        char buf[4096];
        ssize_t n = ::readlink(("/proc/" + std::to_string(pids[0]) + "/cwd").c_str(), buf, sizeof buf - 1);
        if (n <= 0) return false;
        run_dir.assign(buf, static_cast<size_t>(n));
        return path_exists(run_dir + "/qmp.sock") && path_exists(run_dir + "/qga.sock");
      },
      60))
      << "QEMU's sockets are not in its run directory " << run_dir;
  EXPECT_EQ(run_dir.rfind(dir + "/runs/unplug-boot-dimm-movable--", 0), 0u) << run_dir;
  EXPECT_GT(run_dir.size() + std::string("/qmp.sock").size(), 108u) << "the test wants a path too long for sun_path";
  // None of QEMU's sockets is an IP socket.
  const auto mine = socket_inodes(pids[0]);
  EXPECT_FALSE(mine.empty());
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"}) {
    std::istringstream in(read_file(table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::vector<std::string> cols{std::istream_iterator<std::string>(f), std::istream_iterator<std::string>()};
      if (cols.size() > 9) {
        EXPECT_FALSE(mine.count(cols[9])) << "QEMU has an IP socket: " << table << ": " << line;
      }
    }
  }
  ASSERT_TRUE(rig.wait(300));
  EXPECT_EQ(rig.exit_code(), 0) << rig.out() << rig.err();
  EXPECT_FALSE(path_exists(run_dir + "/qmp.sock")) << "the sockets go with the guest";
  EXPECT_NE(read_file(run_dir + "/qemu-command.sh").find("unix:qmp.sock"), std::string::npos);
}

// A kernel by name from Debian's archive (docs/kernels.md): fetched with the rig's own apt state,
// booted and judged page by page; then the same kernel by a path relative to the working
// directory. 7.3 has no bootmem info and no module for the probe: rig-probe reads it through BTF
// and /proc/kcore, the tag checks are n/a with the kernel's reason, and the fate checks judge.
// The verdict is the kernel's: pass or fail, never an error.
TEST(CliRuns, AKernelFetchedFromDebiansArchiveBootsAndIsJudged) {
  const std::string dir = fresh_dir("debian-archive");
  std::string text = read_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-cycles.toml");
  text.replace(text.find("cycles = 6"), 10, "cycles = 2");
  write_file(dir + "/s.toml", text);
  CommandResult r = run_command({RIG_BINARY, "run", dir + "/s.toml", "--kernel", "debian:7.3", "--json",
                                 dir + "/o.json", "--artifacts", dir + "/runs", "--no-snapshots"},
                                1200);
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
  json j = json::parse(read_file(dir + "/o.json"));
  const json& res = j["results"][0];
  EXPECT_TRUE(res["verdict"] == "pass" || res["verdict"] == "fail") << res["reason"];
  EXPECT_EQ(res["kernel"].get<std::string>().rfind("7.3.", 0), 0u) << res["kernel"];
  EXPECT_EQ(res["kernel_name"], "debian:7.3");
  EXPECT_EQ(res["start"], "boot") << "booted, not restored";
  const std::string boot = read_file(res["artifacts"].get<std::string>() + "/snapshot-boot.txt");
  EXPECT_NE(boot.find("\nprobe kcore\n"), std::string::npos) << boot.substr(0, 300);
  EXPECT_NE(boot.find("\nencoding none\n"), std::string::npos) << "7.3 has no bootmem info";
  EXPECT_EQ(res["reason"].get<std::string>().find("not exercised"), std::string::npos) << res["reason"];
  int fates_judged = 0, tag_checks = 0;
  for (const auto& c : res["checks"]) {
    if (c["name"].get<std::string>().rfind("boot-tags-", 0) == 0) {
      ++tag_checks;
      EXPECT_EQ(c["status"], "n/a") << c.dump();
      EXPECT_NE(c["detail"].get<std::string>().find("has no bootmem info"), std::string::npos) << c.dump();
    }
    if (c["name"] == "memmap-freed" && c["status"] != "n/a") ++fates_judged;
  }
  EXPECT_EQ(tag_checks, 3) << "boot-tags-memmap, -page-tables and -pgdat, each saying why it cannot judge";
  EXPECT_GE(fates_judged, 2) << "the memmap of the DIMM judged page by page after each unplug";
  const std::string kernel = res["kernel_path"];
  ASSERT_EQ(kernel.rfind('/'), kernel.find_last_of('/'));
  CommandResult listed = run_command({RIG_BINARY, "kernel", "list"}, 60);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(kernel), std::string::npos) << listed.out;

  // The same bzImage named relative to the working directory (QEMU runs elsewhere).
  const std::string folder = kernel.substr(0, kernel.rfind('/'));
  const std::string file = kernel.substr(kernel.rfind('/') + 1);
  CommandResult rel = run_command({"/bin/sh", "-c",
                                   "cd \"$1\" && exec \"$2\" run \"$3\" --kernel \"./$4\" --json \"$5\" --artifacts "
                                   "\"$6\"",
                                   "sh", folder, RIG_BINARY, dir + "/s.toml", file, dir + "/rel.json", dir + "/runs"},
                                  600);
  ASSERT_TRUE(rel.exit_code == 0 || rel.exit_code == 1) << rel.out << rel.err;
  const json rel_json = json::parse(read_file(dir + "/rel.json"));
  const json& again = rel_json["results"][0];
  EXPECT_EQ(again["kernel"], res["kernel"]);
  EXPECT_EQ(again["kernel_path"], kernel) << "made absolute";
}

// A finding of the register is a known failure (xfail), which a bisection counts as passing:
// --count-known-failures judges without expected failures, so 6.12's shared pgdat page (case 5,
// 612-pgdat-shares-a-page) makes 6.12 the first bad after 6.1. Not for a git bisection.
TEST(CliRuns, BisectCountsAKnownFindingWhenAsked) {
  const std::string dir = fresh_dir("bisect-known");
  const std::string scenario = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/unplug-boot-dimm-movable.toml";
  CommandResult r = run_command({RIG_BINARY, "bisect", "--case", "5", "--scenario", scenario, "--kernels",
                                 "debian-6.1,debian-6.12", "--count-known-failures", "--artifacts", dir + "/runs"},
                                1500);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("first bad kernel: debian-6.12 (last good: debian-6.1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("boot-tags-pgdat-shared-page"), std::string::npos) << r.out;
  CommandResult git = run_command(
      {RIG_BINARY, "bisect", "--case", "5", "--count-known-failures", "--src", dir, "--good", "v6.1", "--bad", "v6.12"},
      60);
  EXPECT_EQ(git.exit_code, 2) << git.out << git.err;
  EXPECT_NE(git.err.find("--count-known-failures is for --kernels"), std::string::npos) << git.err;
}

// rig run --fail-on new on a real guest: Debian 6.1's BUG at 64.5 GiB is a known finding, listed
// and not failed; by default the same run fails.
TEST(CliRuns, FailOnNewListsAKnownFindingWithoutFailing) {
  const std::string dir = fresh_dir("fail-on-new");
  const std::string scenario = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/boot-end-64g5-small-dimm.toml";
  CommandResult known = run_command(
      {RIG_BINARY, "run", scenario, "--kernel", "debian-6.1", "--fail-on", "new", "--out", dir + "/new"}, 600);
  EXPECT_EQ(known.exit_code, 0) << known.out << known.err;
  EXPECT_NE(known.out.find("finding: known partial-memory-block-eject-bug"), std::string::npos) << known.out;
  CommandResult any = run_command({RIG_BINARY, "run", scenario, "--kernel", "debian-6.1", "--out", dir + "/any"}, 600);
  EXPECT_EQ(any.exit_code, 1) << any.out << any.err;
  EXPECT_NE(any.out.find("finding: known partial-memory-block-eject-bug"), std::string::npos) << any.out;
}

// rig bisect --finding: a finding of the register bisected over its own scenario, bad where one
// of its signatures shows whatever else failed (its known xfail included), good where its check
// was judged and passed; the continuation names the finding.
TEST(CliRuns, BisectByFindingNamesTheFirstBadKernelAndContinuesWithTheFinding) {
  const std::string dir = fresh_dir("bisect-finding");
  CommandResult r = run_command({RIG_BINARY, "bisect", "--finding", "612-pgdat-shares-a-page", "--kernels",
                                 "debian-6.1,debian-6.12", "--artifacts", dir + "/runs"},
                                1500);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("debian-6.1: good (1 runs: 1 without it, 0 show it, 0 other (unplug-boot-dimm-movable: "
                       "boot-tags-pgdat-shared-page passed))"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("first bad kernel: debian-6.12 (last good: debian-6.1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--finding 612-pgdat-shares-a-page --scenario"), std::string::npos) << r.out;
  // Its write-up from the bisection's runs: that finding alone, 6.1 not affected.
  CommandResult wr = run_command({RIG_BINARY, "writeup", dir + "/runs/results.json", "--finding",
                                  "612-pgdat-shares-a-page", "-o", dir + "/report.txt"},
                                 60);
  ASSERT_EQ(wr.exit_code, 0) << wr.out << wr.err;
  const std::string report = read_file(dir + "/report.txt");
  EXPECT_NE(report.find("Not affected: 6.1.0-"), std::string::npos) << report;
  EXPECT_NE(report.find("--finding 612-pgdat-shares-a-page"), std::string::npos) << report;
}

// rig bisect --kernels over Debian's builds (docs/workflows.md): 6.18.5 frees the memmap of a
// hot-added DIMM, 6.18.15 loses 511 pages of each section's (docs/kernels.md). The two ends are
// tested, the first bad named with its page evidence, and the git bisect line to continue printed.
TEST(CliRuns, BisectOverDebianKernelsNamesTheFirstBadWithItsEvidence) {
  const std::string dir = fresh_dir("bisect-kernels");
  CommandResult r = run_command({RIG_BINARY, "bisect", "--case", "1", "--scenario",
                                 std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-then-unplug.toml", "--kernels",
                                 "debian:6.18.5,debian:6.18.15", "--artifacts", dir + "/runs"},
                                1500);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("debian:6.18.5: good"), std::string::npos) << r.out;
  const auto bad_at = r.out.find("debian:6.18.15: bad");
  ASSERT_NE(bad_at, std::string::npos) << r.out;
  const std::string bad_line = r.out.substr(bad_at, r.out.find('\n', bad_at) - bad_at);
  EXPECT_NE(bad_line.find("; evidence:"), std::string::npos) << bad_line;
  EXPECT_NE(bad_line.find("memmap-freed"), std::string::npos) << bad_line;
  EXPECT_NE(bad_line.find("pfn 0x"), std::string::npos) << "the pages themselves: " << bad_line;
  EXPECT_NE(r.out.find("first bad kernel: debian:6.18.15 (last good: debian:6.18.5)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rig bisect --src TREE --good v6.18.5 --bad v6.18.15 --case 1"), std::string::npos) << r.out;

  // The bisection's runs as results: rig compare says what changed between the two kernels, and
  // rig writeup turns the bad one into a report, both on what the guests really did.
  const std::string results = dir + "/runs/results.json";
  CommandResult cmp = run_command({RIG_BINARY, "compare", results}, 60);
  EXPECT_EQ(cmp.exit_code, 1) << "something changed: " << cmp.out << cmp.err;
  EXPECT_NE(cmp.out.find("hotplug-then-unplug: A pass, B fail"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("memmap-freed (case 1): A pass | B fail ("), std::string::npos) << cmp.out;
  CommandResult wr = run_command({RIG_BINARY, "writeup", results, "-o", dir + "/report.txt"}, 60);
  ASSERT_EQ(wr.exit_code, 0) << wr.out << wr.err;
  const std::string report = read_file(dir + "/report.txt");
  EXPECT_EQ(report.rfind("Subject: [BUG] memory hot-remove: hotplug-then-unplug fails memmap-freed", 0), 0u) << report;
  EXPECT_NE(report.find("Not affected: 6.18.5"), std::string::npos) << report;
  EXPECT_NE(report.find("roles memmap:"), std::string::npos) << report;
  EXPECT_NE(report.find("      -kernel bzImage \\\n"), std::string::npos) << "the run's QEMU command line: " << report;
}
