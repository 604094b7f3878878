// Files the rig writes and reads where someone else may have been first (issue 17): outputs go
// through write_file_atomically (a planted symlink is never followed), inputs through
// read_regular_file and DirReader (no FIFO, device or symlink out of a run folder is read, sizes
// bounded), JSON nesting is bounded, and `rig report` links only relative paths inside its
// folder and never puts a file's content into a note. Each test performs the attack.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "rig/base/atomic_file.h"
#include "rig/base/json_text.h"
#include "rig/base/safe_read.h"
#include "rig/base/paths.h"
#include "rig/report/html_report.h"
#include "rig/report/html_report_model.h"
#include "rig/report/results_report.h"
#include "rig/run/scenario_runner.h"
#include "rig/scenario/artifact_names.h"
#include "rig/scenario/scenario_file.h"
#include "test_data.h"

using namespace rig;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the build's temp, removed at the end.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::string tmpl = (fs::temp_directory_path() / "rig-file-safety-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

void put(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `f` in a child process and says whether it returned true within `seconds`; a child that
// hangs (blocked on a FIFO) is killed, so the test fails instead of hanging.
bool within(double seconds, const std::function<bool()>& f) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    bool ok = false;
    try {
      ok = f();
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  ADD_FAILURE() << "still running after " << seconds << " s (blocked?)";
  return false;
}

// The message of the exception of type E that `f` throws ("" when none).
template <typename E>
std::string thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// A root-owned 0600 file that must stay as it is.
struct Victim {
  std::string path, text = "root's secret: CI_TOKEN=hunter2\n";
  explicit Victim(const Scratch& s) : path(s / "victim") { put(path, text, 0600); }
  bool unchanged() const {
    struct stat st {};
    return slurp(path) == text && ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           (st.st_mode & 07777) == 0600;
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writing

TEST(AtomicWrite, WritesTheTextWithItsModeAndReplacesAnOldFile) {
  Scratch s;
  write_file_atomically(s / "out.json", "old");
  write_file_atomically(s / "out.json", "new\n", 0640);
  EXPECT_EQ(slurp(s / "out.json"), "new\n");
  struct stat st {};
  ASSERT_EQ(::stat((s / "out.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(std::distance(fs::directory_iterator(s.dir), fs::directory_iterator()), 1);  // no temporary left
}

TEST(AtomicWrite, ASymlinkPlantedAtTheOldFixedTemporaryNameIsNotFollowed) {
  Scratch s;
  Victim v(s);
  fs::create_directory(s.dir / "shared");
  fs::create_symlink(v.path, s / "shared/results.json.tmp");
  write_file_atomically(s / "shared/results.json", "{}\n");
  EXPECT_TRUE(v.unchanged());
  EXPECT_EQ(slurp(s / "shared/results.json"), "{}\n");
}

// The bisect log a user names may sit in a shared directory: a symlink planted at its name is
// not followed, a FIFO is not waited on, and a log another user owns is not written.
TEST(AppendLog, APlantedSymlinkOrFifoIsRefusedAndARegularLogGrows) {
  Scratch s;
  Victim v(s);
  fs::create_symlink(v.path, s / "bisect.log");
  EXPECT_THROW(append_to_file(s / "bisect.log", "line\n"), FileWriteError);
  EXPECT_TRUE(v.unchanged());
  try {
    append_to_file(s / "bisect.log", "line\n");
  } catch (const FileWriteError& e) {
    EXPECT_NE(std::string(e.what()).find("it is a symlink"), std::string::npos) << e.what();
  }
  ASSERT_EQ(::mkfifo((s / "fifo.log").c_str(), 0644), 0);
  EXPECT_THROW(append_to_file(s / "fifo.log", "line\n"), FileWriteError);
  append_to_file(s / "own.log", "a\n");
  append_to_file(s / "own.log", "b\n");
  EXPECT_EQ(slurp(s / "own.log"), "a\nb\n");
  if (::geteuid() == 0) {
    put(s / "theirs.log", "x\n");
    ASSERT_EQ(::chown((s / "theirs.log").c_str(), 65534, 65534), 0);
    EXPECT_THROW(append_to_file(s / "theirs.log", "line\n"), FileWriteError);
    EXPECT_EQ(slurp(s / "theirs.log"), "x\n");
  }
}

TEST(AtomicWrite, ASymlinkAtTheTargetNameIsReplacedNotFollowed) {
  Scratch s;
  Victim v(s);
  fs::create_symlink(v.path, s / "report.html");
  write_file_atomically(s / "report.html", "<html>");
  EXPECT_TRUE(v.unchanged());
  EXPECT_FALSE(fs::is_symlink(s / "report.html"));
  EXPECT_EQ(slurp(s / "report.html"), "<html>");
}

// Symlinks to the victim under every name an attacker could guess (a hidden temporary of each
// output, with any suffix they could try): the writer creates a name of its own, exclusively.
TEST(AtomicWrite, SymlinksUnderAnyNameInASharedDirectoryAreLeftAlone) {
  Scratch s;
  Victim v(s);
  fs::create_directory(s.dir / "shared");
  int planted = 0;
  for (const std::string& base :
       std::vector<std::string>{"results.json", "junit.xml", "results.ktap", "report.html", "result.json"})
    for (const std::string& name : {base + ".tmp", "." + base + ".tmp", "." + base + ".tmp-XXXXXX", base + "~"}) {
      fs::create_symlink(v.path, s / ("shared/" + name));
      ++planted;
    }
  for (int i = 0; i < 200; ++i) write_file_atomically(s / "shared/results.json", std::to_string(i));
  write_file_atomically(s / "shared/report.html", "x");
  EXPECT_TRUE(v.unchanged());
  int symlinks = 0;
  for (const auto& e : fs::directory_iterator(s.dir / "shared")) symlinks += fs::is_symlink(e.symlink_status());
  EXPECT_EQ(symlinks, planted);  // every planted link still a link: none was written through or replaced
  EXPECT_EQ(slurp(s / "shared/results.json"), "199");
}

TEST(AtomicWrite, AnUnwritableDirectoryIsAClearOneLineError) {
  Scratch s;
  // A directory of a read-only file system (root ignores mode bits: /proc refuses every new file).
  std::string msg = thrown<FileWriteError>([] { write_file_atomically("/proc/self/rig-results.json", "{}"); });
  EXPECT_NE(msg.find("cannot write /proc/self/rig-results.json: cannot create a temporary file beside it"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  msg = thrown<FileWriteError>([&] { write_file_atomically(s / "missing/out.json", "{}"); });
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  if (::geteuid() != 0) {
    fs::create_directory(s.dir / "ro");
    ::chmod((s / "ro").c_str(), 0555);
    EXPECT_THROW(write_file_atomically(s / "ro/out.json", "{}"), FileWriteError);
  }
}

TEST(AtomicWrite, AFailedRenameLeavesNoTemporaryFileAndTheTargetAsItWas) {
  Scratch s;
  fs::create_directory(s.dir / "target");  // a directory where the file should go: rename fails
  put(s / "target/keep", "kept");
  const std::string msg = thrown<FileWriteError>([&] { write_file_atomically(s / "target", "x"); });
  EXPECT_NE(msg.find("rename"), std::string::npos) << msg;
  EXPECT_EQ(std::distance(fs::directory_iterator(s.dir), fs::directory_iterator()), 1);
  EXPECT_EQ(slurp(s / "target/keep"), "kept");
}

// The one rule for a result that cannot be saved, used by both runners.
TEST(AtomicWrite, AResultThatCannotBeSavedIsAnErrorWithItsReason) {
  Scratch s;
  ScenarioResult r;
  r.scenario = "x";
  r.verdict = Verdict::Pass;
  r.reason = "";
  r.artifacts = s / "gone";
  save_result(r);
  EXPECT_EQ(r.verdict, Verdict::Error);
  EXPECT_EQ(r.reason.rfind("cannot write " + r.artifacts + "/result.json", 0), 0u) << r.reason;
  EXPECT_NE(r.reason.find("(the run itself: pass)"), std::string::npos) << r.reason;
  r.verdict = Verdict::Fail;
  r.artifacts = s.dir.string();
  save_result(r);
  EXPECT_EQ(r.verdict, Verdict::Fail);
  EXPECT_TRUE(fs::is_regular_file(s / "result.json"));
}

// ---------------------------------------------------------------------------------------------
// Reading

TEST(SafeRead, FifosDevicesDirectoriesAndOversizedFilesAreRefusedInOneLineWithoutBlocking) {
  Scratch s;
  ASSERT_EQ(::mkfifo((s / "fifo").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", s / "zero-link");
  fs::create_symlink(s / "fifo", s / "fifo-link");
  put(s / "big", std::string(2000, 'x'));
  const std::vector<std::pair<std::string, std::string>> cases = {{s / "fifo", "a FIFO"},
                                                                  {s / "fifo-link", "a FIFO"},
                                                                  {"/dev/zero", "a character device"},
                                                                  {s / "zero-link", "a character device"},
                                                                  {s.dir.string(), "a directory"},
                                                                  {s / "big", "larger than 1000 bytes"},
                                                                  {s / "missing", "No such file"}};
  for (const auto& [path, why] : cases)
    EXPECT_TRUE(within(10, [&, p = path, w = why] {
      const std::string msg = thrown<FileReadError>([&] { read_regular_file(p, 1000, "scenario file"); });
      return msg.find("cannot read scenario file: " + w) != std::string::npos && msg.find('\n') == std::string::npos;
    })) << path;
  put(s / "ok", "fine");
  EXPECT_EQ(read_regular_file(s / "ok", 1000, "x"), "fine");
}

TEST(SafeRead, ScenarioAndResultsFilesThatAreFifosOrDevicesAreUsageErrors) {
  Scratch s;
  ASSERT_EQ(::mkfifo((s / "scenario.toml").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", s / "zero.json");
  for (const std::string& path : {s / "scenario.toml", std::string("/dev/zero"), s / "zero.json"}) {
    EXPECT_TRUE(within(10, [&] {
      return !thrown<UsageError>([&] { load_scenario_file(path); }).empty() &&
             !thrown<UsageError>([&] { load_known_failures(path); }).empty() &&
             !thrown<UsageError>([&] { load_results_file(path); }).empty();
    })) << path;
  }
  put(s / "huge.toml", std::string(kMaxScenarioFileBytes + 1, '#'));
  EXPECT_NE(thrown<UsageError>([&] { load_scenario_file(s / "huge.toml"); }).find("larger than 1048576 bytes"),
            std::string::npos);
  EXPECT_NE(thrown<UsageError>([&] { load_results_file(s.dir.string()); }).find("a directory"), std::string::npos);
}

TEST(SafeRead, InsideAFolderSymlinksFifosAndDirectoriesAreNotRead) {
  Scratch s;
  Victim v(s);
  fs::create_directory(s.dir / "run");
  put(s / "run/snapshot-boot.txt", "probe");
  fs::create_symlink(v.path, s / "run/link.txt");
  fs::create_symlink("/proc/self/environ", s / "run/environ.txt");
  ASSERT_EQ(::mkfifo((s / "run/fifo.txt").c_str(), 0600), 0);
  fs::create_directory(s.dir / "run/dir.txt");
  EXPECT_TRUE(within(10, [&] {
    DirReader d(s / "run");
    std::string why;
    bool ok = d.read("snapshot-boot.txt", 100).value_or("") == "probe";
    ok &= !d.read("link.txt", 100, &why) && why == "a symbolic link";
    ok &= !d.read("environ.txt", 100, &why) && why == "a symbolic link";
    ok &= !d.read("fifo.txt", 100, &why) && why == "a FIFO";
    ok &= !d.read("dir.txt", 100, &why) && why == "a directory";
    ok &= !d.read("../victim", 100, &why) && !d.read("..", 100) && !d.read("", 100);
    ok &= !d.read("snapshot-boot.txt", 3, &why) && why == "larger than 3 bytes";
    return ok;
  }));
}

// The attack of issue 17: a run folder whose snapshot is a link to a secret (and one whose
// snapshot is a FIFO): `rig report` reads neither, says so in a note, and the page holds no byte
// of the secret. A regular artifact holding the secret as its first, unreadable line is not
// quoted either.
TEST(SafeRead, ReportOfARunFolderWithPlantedLinksAndFifosHoldsNoSecretAndDoesNotBlock) {
  Scratch s;
  Victim v(s);
  fs::create_directories(s.dir / "res/runs/a");
  fs::create_directories(s.dir / "res/runs/b");
  fs::create_directories(s.dir / "res/runs/c");
  fs::create_symlink(v.path, s / ("res/runs/a/" + artifact::kSnapshotBoot));
  fs::create_symlink("/proc/self/environ", s / ("res/runs/a/" + artifact::snapshot_before(0)));
  ASSERT_EQ(::mkfifo((s / ("res/runs/b/" + artifact::kSnapshotBoot)).c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", s / ("res/runs/b/" + artifact::query_after(0)));
  put(s / ("res/runs/c/" + artifact::kSnapshotBoot), v.text);
  nlohmann::json results = {{"format", "rig-results/2"}, {"results", nlohmann::json::array()}};
  for (const char* run : {"a", "b", "c"})
    results["results"].push_back({{"scenario", std::string("s-") + run},
                                  {"kernel", "6.1"},
                                  {"verdict", "fail"},
                                  {"scenario_cases", {1}},
                                  {"artifacts", std::string("/elsewhere/") + run},
                                  {"steps", {{{"index", 0}, {"action", "unplug"}, {"target", "d"}}}}});
  put(s / "res/results.json", results.dump());
  ASSERT_TRUE(within(30, [&] {
    const LoadedReport r = load_results_file(s / "res/results.json");
    write_html_report(r.results, r.info, s / "res/report.html", s / "res");
    return true;
  }));
  const std::string page = slurp(s / "res/report.html");
  EXPECT_EQ(page.find("hunter2"), std::string::npos);
  EXPECT_EQ(page.find("CI_TOKEN"), std::string::npos);
  EXPECT_NE(page.find("snapshot-boot.txt is not read: a symbolic link"), std::string::npos);
  EXPECT_NE(page.find("snapshot-boot.txt is not read: a FIFO"), std::string::npos);
  EXPECT_NE(page.find("query-after-step0.txt is not read: a symbolic link"), std::string::npos);
  EXPECT_NE(page.find("snapshot-boot.txt could not be read: not probe output this rig knows (line 1)"),
            std::string::npos);
  EXPECT_TRUE(v.unchanged());
}

// ---------------------------------------------------------------------------------------------
// JSON and sizes

TEST(BoundedJson, DepthIsCountedOutsideStringsAndBoundedBeforeParsing) {
  EXPECT_EQ(json_depth("{\"a\": [1, {\"b\": \"[[[{{\\\"[[\"}]}", 100), 3u);
  EXPECT_EQ(json_depth(std::string(1000000, '['), 64), 65u);  // stops one past the limit
  std::string deep =
      R"({"format": "rig-results/2", "results": [{"scenario": "x", "verdict": "pass", "steps": [{"analysis": )";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}]}]}";
  Scratch s;
  put(s / "deep.json", deep);
  const std::string msg = thrown<UsageError>([&] { load_results_file(s / "deep.json"); });
  EXPECT_NE(msg.find("nested deeper than 64"), std::string::npos) << msg;
  put(s / "bad.json", "{\"format\": \"CI_TOKEN=hunter2");
  const std::string bad = thrown<UsageError>([&] { load_results_file(s / "bad.json"); });
  EXPECT_NE(bad.find("not JSON"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("hunter2"), std::string::npos) << bad;
  EXPECT_EQ(bad.find('\n'), std::string::npos) << bad;
  // What the rig writes reads back.
  const auto recorded = load_results_file(std::string(RIG_TEST_DATA) + "/report/fail-64g/results.json");
  EXPECT_FALSE(recorded.results.empty());
}

TEST(BoundedSizes, ABlockSizeOf2To64Minus1IsNotBelievedAndTheReportFinishes) {
  EXPECT_TRUE(plausible_block_size(uint64_t{128} << 20));
  EXPECT_TRUE(plausible_block_size(uint64_t{2} << 30));
  for (uint64_t bad : {uint64_t{0}, ~uint64_t{0}, uint64_t{3} << 20, uint64_t{1} << 40, uint64_t{1} << 11})
    EXPECT_FALSE(plausible_block_size(bad)) << bad;
  const std::string dir = std::string(RIG_TEST_DATA) + "/report/fail-64g";
  const LoadedReport r = load_results_file(dir + "/results.json");
  ASSERT_FALSE(r.results.empty());
  const auto& res = r.results[0];
  RunArtifacts a = read_run_artifacts(dir + "/runs/" + fs::path(res.artifacts).filename().string());
  ASSERT_FALSE(a.empty());
  const std::string hostile = rig_test::data("hostile/guest-state-block-size-max.txt");
  int replaced = 0;
  for (auto& [name, text] : a)
    if (name.rfind("guest-state-", 0) == 0) {
      text = hostile;
      ++replaced;
    }
  ASSERT_GT(replaced, 0);
  EXPECT_TRUE(within(20, [&] {
    const ScenarioView v = build_scenario_view(res, a, "run-1");
    return v.has_map;
  }));
  // Many blocks against few sections: no size fits, answered at once.
  std::string many;
  for (int i = 0; i < 200000; ++i) many += "memory" + std::to_string(i) + "/state:online\n";
  EXPECT_EQ(infer_block_sections(many, {0, 1, 2}), 0u);
}

// ---------------------------------------------------------------------------------------------
// Links

TEST(ReportLinks, OnlyRelativePathsInsideTheFolderAreLinks) {
  for (const char* ok : {"runs/a--6.1.0-28-amd64--20261203-074400", "a", "runs/x/", "./runs/b"})
    EXPECT_TRUE(is_safe_relative_link(ok)) << ok;
  for (const std::string& bad : std::vector<std::string>{
           "", "javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "https://e.example/", "//e.example/x",
           "file:///etc/shadow/", "../../..", "runs/../../etc", "..", "/etc", "runs\\..\\x", std::string("a\0b", 3),
           "a\nb", "a b", "%2e%2e/x", "a?b", "a#b", "vbscript:x"})
    EXPECT_FALSE(is_safe_relative_link(bad)) << bad;
}

TEST(ReportLinks, AHostileResultsFileGivesAPageWithoutSchemeOrUpwardLinks) {
  Scratch s;
  const std::string src = std::string(RIG_TEST_DATA) + "/hostile/results-hostile-links.json";
  const LoadedReport r = load_results_file(src);
  ASSERT_EQ(r.results.size(), 12u);
  write_html_report(r.results, r.info, s / "report.html", s.dir.string());
  const std::string page = slurp(s / "report.html");
  const std::regex attr(R"re((href|src|action|xlink:href)\s*=\s*"([^"]*)")re", std::regex::icase);
  int links = 0;
  for (std::sregex_iterator it(page.begin(), page.end(), attr), end; it != end; ++it) {
    const std::string target = (*it)[2];
    ++links;
    EXPECT_TRUE(target.rfind("#", 0) == 0 || is_safe_relative_link(target)) << target;
    for (const char* bad : {"javascript:", "data:", "file:", "http", "//", ".."})
      EXPECT_EQ(target.find(bad), std::string::npos) << target;
  }
  EXPECT_GT(links, 0);
  // The recorded places are still shown, as escaped text.
  EXPECT_NE(page.find("artifacts <code>javascript:alert(document.cookie)</code>"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
}

// A results file from elsewhere names its run folders: `rig report` looks for them inside the
// results folder only. An existing directory elsewhere (another user's run, root's) named as is,
// or reached through a link under runs/, is not read; the rig's own run finds its folders where
// it put them.
TEST(ReportLinks, ARecordedRunFolderOutsideTheResultsFolderIsNotRead) {
  Scratch s;
  fs::create_directories(s.dir / "elsewhere/secret-run");
  put(s / "elsewhere/secret-run/console.log", "hunter2 CI_TOKEN\n");
  put(s / ("elsewhere/secret-run/" + artifact::kSnapshotBoot), "hunter2\n");
  fs::create_directories(s.dir / "res/runs");
  fs::create_directories(s.dir / "elsewhere/linked-run");
  put(s / ("elsewhere/linked-run/" + artifact::kSnapshotBoot), "hunter2\n");
  fs::create_symlink(s / "elsewhere/linked-run", s / "res/runs/linked-run");
  const std::string outside = (s.dir / "elsewhere/secret-run").string();
  EXPECT_EQ(locate_run_artifacts(outside, (s.dir / "res").string()), "");
  EXPECT_EQ(locate_run_artifacts("/x/linked-run", (s.dir / "res").string()), "") << "a link under runs/";
  EXPECT_EQ(locate_run_artifacts(outside, (s.dir / "res").string(), ResultsOrigin::ThisRun), outside);
  fs::create_directories(s.dir / "res/runs/moved");
  EXPECT_EQ(locate_run_artifacts("/gone/moved", (s.dir / "res").string()), (s.dir / "res/runs/moved").string());

  nlohmann::json results = {{"format", "rig-results/2"}, {"results", nlohmann::json::array()}};
  for (const std::string& dir : {outside, std::string("/x/linked-run")})
    results["results"].push_back({{"scenario", "s"},
                                  {"kernel", "6.1"},
                                  {"verdict", "fail"},
                                  {"scenario_cases", {1}},
                                  {"artifacts", dir},
                                  {"steps", {{{"index", 0}, {"action", "unplug"}, {"target", "d"}}}}});
  put(s / "res/results.json", results.dump());
  const LoadedReport r = load_results_file(s / "res/results.json");
  write_html_report(r.results, r.info, s / "res/report.html", s / "res");
  EXPECT_EQ(slurp(s / "res/report.html").find("hunter2"), std::string::npos);
}

// The rig's plain text read (patches, fragments, logs, hashed kernels) goes through the guarded
// read too: a FIFO named as a patch or kernel gives nothing at once, not a wait for a writer.
TEST(SafeRead, ThePlainTextReadRefusesAFifoWithoutWaiting) {
  Scratch s;
  const std::string fifo = (s.dir / "patch").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(within(10, [&] { return read_text_file(fifo).empty(); }));
  put(s / "text", "abc");
  EXPECT_EQ(read_text_file((s.dir / "text").string()), "abc");
}
