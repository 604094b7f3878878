// The nightly runner for real: snapshots, shards, a QEMU killed mid-matrix, an interrupted run.
//
// A restored guest must give the same verdicts and the same page accounting as a booted one, on
// every shipped spec scenario; a refused snapshot falls back to a cold boot and says so; two
// shards' reports together are the full run's; a dead QEMU is one `error` result and the rest of
// the matrix still runs; SIGINT leaves reports a CI system can read.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "integration/harness.h"
#include "rig/host/host_slots.h"

using nlohmann::json;
using namespace rig_it;

namespace {

const std::string kScenarios = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/";

json load_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  json j;
  if (in.good()) in >> j;
  return j;
}

// Runs `rig run ARGS --out DIR`; returns results.json (and the exit status in *rc).
json rig_run(std::vector<std::string> args, const std::string& out, int* rc) {
  std::vector<std::string> argv = {RIG_BINARY, "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--out", out});
  CommandResult r = run_command(argv, 1500);
  EXPECT_FALSE(r.timed_out) << r.err;
  *rc = r.exit_code;
  if (r.exit_code != 0 && r.exit_code != 1) ADD_FAILURE() << "exit " << r.exit_code << "\n" << r.out << r.err;
  return load_json(out + "/results.json");
}

std::map<std::string, json> by_scenario(const json& report) {
  std::map<std::string, json> m;
  for (const auto& r : report["results"]) m[r["scenario"].get<std::string>()] = r;
  return m;
}

// What must not depend on how the guest started: the verdict, every step's outcome, every
// check's status and the pages it names (pfn, roles, expected and seen fate), the console's reports.
json judged(const json& r) {
  json steps = json::array(), checks = json::array(), reports = json::array();
  for (const auto& s : r["steps"]) steps.push_back({s["action"], s["target"], s["outcome"], s["ok"]});
  for (const auto& c : r["checks"]) {
    // Whether a usage page loses all its owners depends on where the slab put the usage maps,
    // which varies between any two runs, booted or restored; a failure still counts.
    const bool slab_placed = c["name"] == "usage-freed" && c["status"] == "n/a";
    checks.push_back({c["step"], c["name"], slab_placed ? json("pass") : c["status"], c["pages"]});
  }
  for (const auto& f : r["console_findings"])
    if (f["severity"] != "notice") reports.push_back({f["kind"], f["headline"]});
  return {{"verdict", r["verdict"]}, {"cases", r["cases"]}, {"steps", steps}, {"checks", checks}, {"reports", reports}};
}

// Whether any run's file `name` under `runs` holds `text`.
bool file_says(const std::string& runs, const std::string& name, const std::string& text) {
  boost::system::error_code ec;
  for (boost::filesystem::directory_iterator it(runs, ec), end; !ec && it != end; it.increment(ec))
    if (read_file(it->path().string() + "/" + name).find(text) != std::string::npos) return true;
  return false;
}

class SnapshotCacheDir {
 public:
  explicit SnapshotCacheDir(const std::string& dir) { ::setenv("RIG_SNAPSHOT_DIR", dir.c_str(), 1); }
  ~SnapshotCacheDir() { ::unsetenv("RIG_SNAPSHOT_DIR"); }
};

void restored_matches_booted(const std::string& kernel) {
  const std::string dir = fresh_dir("snapshots-" + kernel);
  SnapshotCacheDir cache(dir + "/cache");
  int rc = -1;

  // Booted: no snapshots at all, every guest boots.
  json booted = rig_run({"--suite", "spec", "--kernel", kernel, "-j", "2", "--no-snapshots"}, dir + "/booted", &rc);
  EXPECT_EQ(rc, 0);
  ASSERT_GE(booted["results"].size(), 8u);
  EXPECT_TRUE(booted["summary"]["complete"].get<bool>());
  for (const auto& r : booted["results"]) {
    EXPECT_EQ(r["start"], "boot") << r["scenario"];
    EXPECT_EQ(r["snapshot"]["file"], "") << r["scenario"];
  }
  auto base = by_scenario(booted);

  // Cold cache: the first guest of each machine boots and is saved, later ones of the same
  // machine may already restore it.
  json cold = rig_run({"--suite", "spec", "--kernel", kernel, "-j", "2"}, dir + "/cold", &rc);
  EXPECT_EQ(rc, 0);
  std::map<std::string, std::string> saved;  // snapshot key -> file
  for (const auto& r : cold["results"]) {
    const std::string name = r["scenario"];
    EXPECT_EQ(r["snapshot"]["file"].get<std::string>().rfind(dir + "/cache/", 0), 0u)
        << name << ": " << r["snapshot"].dump();
    if (r["start"] == "boot") {
      EXPECT_TRUE(r["phases"].contains("save")) << name;
      saved[r["snapshot"]["key"]] = r["snapshot"]["file"];
    }
    EXPECT_EQ(judged(r), judged(base[name])) << name << " (cold cache, " << r["start"] << ")";
  }
  EXPECT_FALSE(saved.empty());

  // Warm: every guest is restored from the snapshot the cold run saved, and judged the same.
  json restored = rig_run({"--suite", "spec", "--kernel", kernel, "-j", "2"}, dir + "/restored", &rc);
  EXPECT_EQ(rc, 0);
  auto warm = by_scenario(restored);
  ASSERT_EQ(base.size(), warm.size());
  for (const auto& [name, w] : warm) {
    ASSERT_TRUE(base.count(name)) << name;
    EXPECT_EQ(w["start"], "restore") << name << ": " << w["snapshot"].dump();
    EXPECT_EQ(w["snapshot"]["file"], saved[w["snapshot"]["key"]]) << name;
    EXPECT_TRUE(w["phases"].contains("restore") && !w["phases"].contains("boot")) << name << ": " << w["phases"].dump();
    EXPECT_EQ(judged(w), judged(base[name])) << name << " restored:\n"
                                             << judged(w).dump(1) << "\nbooted:\n"
                                             << judged(base[name]).dump(1);
  }

  // Shards: two stable halves, disjoint, whose union is the whole run with the same verdicts.
  json s1 = rig_run({"--suite", "spec", "--kernel", kernel, "--shard", "1/2"}, dir + "/shard1", &rc);
  json s2 = rig_run({"--suite", "spec", "--kernel", kernel, "--shard", "2/2"}, dir + "/shard2", &rc);
  EXPECT_EQ(s1["summary"]["shard"], "1/2");
  std::map<std::string, json> unioned;
  for (const json* s : {&s1, &s2})
    for (const auto& [name, r] : by_scenario(*s)) {
      EXPECT_FALSE(unioned.count(name)) << name << " is in both shards";
      unioned[name] = r;
    }
  EXPECT_FALSE(s1["results"].empty());
  EXPECT_FALSE(s2["results"].empty());
  ASSERT_EQ(unioned.size(), warm.size());
  for (const auto& [name, r] : unioned) {
    ASSERT_TRUE(warm.count(name)) << name;
    EXPECT_EQ(judged(r), judged(warm[name])) << name;
  }

  // A snapshot QEMU refuses (its file overwritten with garbage) falls back to a cold boot that
  // says why, and is judged the same.
  const json& movable = base["unplug-boot-dimm-movable"];
  const std::string state = warm["unplug-boot-dimm-movable"]["snapshot"]["file"];
  {
    std::fstream f(state, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << state;
    const std::string garbage(4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  json fallback = rig_run({kScenarios + "unplug-boot-dimm-movable.toml", "--kernel", kernel}, dir + "/fallback", &rc);
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(fallback["results"].size(), 1u);
  const json& f = fallback["results"][0];
  EXPECT_EQ(f["start"], "boot");
  EXPECT_NE(f["snapshot"]["note"].get<std::string>().find("refused"), std::string::npos) << f["snapshot"].dump();
  EXPECT_TRUE(path_exists(f["artifacts"].get<std::string>() + "/refused-restore-qemu.log"))
      << "QEMU's refusal is kept as evidence";
  EXPECT_EQ(judged(f), judged(movable));
}

}  // namespace

// Another local user's file in the snapshot cache (docs/security.md): a saved state.mig
// given to nobody is never handed to QEMU's -incoming; the guest boots, the note says why, and
// the file is left as it is.
TEST(Snapshots, AStateOfAnotherUserIsNeverRestored) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file to another user needs root";
  const std::string dir = fresh_dir("snapshot-owner");
  SnapshotCacheDir cache(dir + "/cache");
  const std::vector<std::string> run = {kScenarios + "unplug-boot-dimm-movable.toml", "--kernel", "debian-6.1"};
  int rc = -1;
  json cold = rig_run(run, dir + "/cold", &rc);
  ASSERT_EQ(cold["results"].size(), 1u);
  const std::string state = cold["results"][0]["snapshot"]["file"];
  ASSERT_TRUE(path_exists(state)) << cold["results"][0]["snapshot"].dump();
  json warm = rig_run(run, dir + "/warm", &rc);
  ASSERT_EQ(warm["results"].size(), 1u);
  EXPECT_EQ(warm["results"][0]["start"], "restore") << "the user's own entry is used";
  ASSERT_EQ(::chown(state.c_str(), 65534, 65534), 0);
  json again = rig_run(run, dir + "/again", &rc);
  ASSERT_EQ(again["results"].size(), 1u);
  const json& r = again["results"][0];
  EXPECT_EQ(r["start"], "boot") << r["snapshot"].dump();
  EXPECT_NE(r["snapshot"]["note"].get<std::string>().find(state + ": owned by uid 65534"), std::string::npos)
      << r["snapshot"].dump();
  EXPECT_FALSE(file_says(dir + "/again/runs", "qemu-command.sh", "-incoming")) << "never restored";
  EXPECT_FALSE(path_exists(r["artifacts"].get<std::string>() + "/refused-restore-qemu.log"))
      << "never even tried: QEMU did not see it";
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0) << "another user's file is not removed";
  EXPECT_EQ(st.st_uid, 65534u);
}

TEST(Snapshots, RestoredSpecSuiteMatchesBootedOnDebian61) { restored_matches_booted("debian-6.1"); }
TEST(Snapshots, RestoredSpecSuiteMatchesBootedOnDebian612) { restored_matches_booted("debian-6.12"); }

TEST(Matrix, KilledQemuIsAnErrorAndTheRestCompletes) {
  const std::string dir = fresh_dir("kill-qemu");
  const std::vector<std::string> names = {"unplug-boot-dimm-movable", "hotplug-then-unplug", "unplug-boot-dimm-busy"};
  std::vector<std::string> argv = {RIG_BINARY, "run"};
  for (const auto& n : names) argv.push_back(kScenarios + n + ".toml");
  argv.insert(argv.end(), {"--kernel", "debian-6.1", "--no-snapshots", "-j", "1", "--out", dir + "/out"});
  BackgroundCommand rig(argv);
  std::vector<int> pids;
  ASSERT_TRUE(wait_for([&] { return !(pids = qemu_pids_mentioning(dir)).empty(); }, 120)) << "QEMU never started";
  // Mid-scenario: the guest is up and the first unplug has been asked for.
  EXPECT_TRUE(wait_for([&] { return file_says(dir + "/out/runs", "qmp-transcript.log", "device_del"); }, 180))
      << "no unplug was sent";
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  ASSERT_TRUE(rig.wait(600)) << "the rig did not finish after its QEMU was killed";
  EXPECT_EQ(rig.exit_code(), 3) << rig.out() << rig.err();
  json j = load_json(dir + "/out/results.json");
  ASSERT_EQ(j["results"].size(), names.size()) << rig.err();
  int errors = 0;
  for (const auto& r : j["results"]) {
    if (r["verdict"] == "error") {
      ++errors;
      EXPECT_NE(r["reason"].get<std::string>().find("QEMU"), std::string::npos) << r["reason"];
    } else {
      EXPECT_TRUE(r["verdict"] == "pass" || r["verdict"] == "xfail") << r["scenario"] << ": " << r["reason"];
    }
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(j["summary"]["error"], 1);
  EXPECT_TRUE(j["summary"]["complete"].get<bool>());
  EXPECT_NE(read_file(dir + "/out/junit.xml").find("</testsuites>"), std::string::npos);
  EXPECT_TRUE(qemu_pids_mentioning(dir).empty()) << "a QEMU outlived the rig";
}

TEST(Matrix, InterruptLeavesValidPartialReports) {
  const std::string dir = fresh_dir("interrupt");
  BackgroundCommand rig({RIG_BINARY, "run", "--suite", "spec", "--kernel", "debian-6.1", "--no-snapshots", "-j", "1",
                         "--out", dir + "/out"});
  // Interrupt once the first result is written and the next guest is running.
  ASSERT_TRUE(wait_for(
      [&] {
        std::ifstream in(dir + "/out/results.json");
        if (!in.good()) return false;
        json j = json::parse(in, nullptr, false);
        return !j.is_discarded() && j.contains("results") && !j["results"].empty() &&
               !qemu_pids_mentioning(dir).empty();
      },
      600))
      << "no result was written";
  rig.signal(SIGINT);
  ASSERT_TRUE(rig.wait(60)) << "the rig did not stop on SIGINT";
  EXPECT_NE(rig.exit_code(), 0);
  EXPECT_TRUE(wait_for([&] { return qemu_pids_mentioning(dir).empty(); }, 10)) << "QEMU outlived the rig";

  json j = json::parse(read_file(dir + "/out/results.json"));  // throws, failing the test, if not JSON
  EXPECT_FALSE(j["summary"]["complete"].get<bool>());
  EXPECT_GE(j["results"].size(), 1u);
  for (const auto& r : j["results"]) EXPECT_FALSE(r["verdict"].get<std::string>().empty());
  const std::string junit = read_file(dir + "/out/junit.xml");
  EXPECT_EQ(junit.rfind("<?xml", 0), 0u);
  EXPECT_NE(junit.find("</testsuites>"), std::string::npos) << "JUnit must be a whole document";
  const std::string ktap = read_file(dir + "/out/results.ktap");
  EXPECT_EQ(ktap.rfind("KTAP version 1\n", 0), 0u);
  EXPECT_NE(ktap.find("\n1.."), std::string::npos) << "KTAP must carry its plan:\n" << ktap;
  EXPECT_NE(ktap.find("ok 1 "), std::string::npos) << ktap;
}

// Two rig processes on one host: a guest waits for cores the other process's guests hold, says
// so, and starts as soon as they are free; a rig interrupted while waiting leaves at once.
TEST(Matrix, GuestsOfTwoRigProcessesShareTheHostsCores) {
  const std::string dir = fresh_dir("host-slots");
  ::setenv("RIG_SLOT_DIR", (dir + "/slots").c_str(), 1);
  ::setenv("RIG_HOST_CPUS", "2", 1);
  rig::HostSlots other(dir + "/slots", 2);
  auto held = other.try_acquire(2);  // what another rig's 2-vCPU guest would hold
  ASSERT_TRUE(held);
  const std::vector<std::string> run = {RIG_BINARY, "run",        kScenarios + "hotplug-then-unplug.toml",
                                        "--kernel", "debian-6.1", "--no-snapshots"};

  std::vector<std::string> argv = run;
  argv.insert(argv.end(), {"--out", dir + "/waits"});
  BackgroundCommand waits(argv);
  ASSERT_TRUE(wait_for(
      [&] {
        return waits.err().find("of the host's 2 cores: guests of this or other rig processes hold 2") !=
               std::string::npos;
      },
      120))
      << waits.err();
  EXPECT_FALSE(wait_for([&] { return !qemu_pids_mentioning(dir + "/waits").empty(); }, 3))
      << "a guest started on cores another rig holds";

  argv = run;
  argv.insert(argv.end(), {"--out", dir + "/interrupted"});
  BackgroundCommand interrupted(argv);
  ASSERT_TRUE(wait_for([&] { return interrupted.err().find("waiting for") != std::string::npos; }, 120))
      << interrupted.err();
  interrupted.signal(SIGINT);
  EXPECT_TRUE(interrupted.wait(10)) << "a rig waiting for cores must stop on SIGINT";

  held->release();
  ASSERT_TRUE(waits.wait(600)) << waits.err();
  EXPECT_EQ(waits.exit_code(), 0) << waits.err();
  json j = load_json(dir + "/waits/results.json");
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["verdict"], "pass");
  EXPECT_TRUE(other.try_acquire(2)) << "the finished rig gave its core back";
  EXPECT_TRUE(qemu_pids_mentioning(dir).empty());
  ::unsetenv("RIG_SLOT_DIR");
  ::unsetenv("RIG_HOST_CPUS");
}
