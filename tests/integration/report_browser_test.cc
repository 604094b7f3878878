// The HTML report of a recorded real run (tests/data/report/fail-64g: Debian 6.1 under TCG, the
// 64 GiB vmemmap PMD table leak, its xfail entries removed so the run fails), rebuilt with
// `rig report` and loaded in headless Chromium (Debian's `chromium`) through the DevTools protocol
// over a pipe (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4). It checks that the
// page loaded without a console message of level error or warning, an uncaught exception or a
// failed resource; that the SVG holds one cell per section per frame and the links to the leaked
// page; that the failed check's cell is marked; and it saves a screenshot. Every read is bounded;
// Chromium runs in its own process group and is killed with it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "integration/harness.h"

using namespace rig_it;
namespace fs = boost::filesystem;

namespace {

const std::string kRecorded = std::string(RIG_SOURCE_DIR) + "/tests/data/report/fail-64g";

std::string base64_decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    const auto p = chars.find(c);
    if (p == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(p);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// Headless Chromium driven over the DevTools pipe.
class Browser {
 public:
  explicit Browser(const std::string& profile_dir) {
    int to_chrome[2], from_chrome[2];
    if (::pipe(to_chrome) != 0 || ::pipe(from_chrome) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      // Chromium reads commands on fd 3 and writes answers on fd 4.
      int in = ::dup(to_chrome[0]), out = ::dup(from_chrome[1]);
      ::dup2(in, 3);
      ::dup2(out, 4);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      for (int fd = 5; fd < 1024; ++fd) ::close(fd);
      const std::string profile = "--user-data-dir=" + profile_dir;
      ::execlp("chromium", "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
               "--no-first-run", "--hide-scrollbars", profile.c_str(), "about:blank", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    ::close(to_chrome[0]);
    ::close(from_chrome[1]);
    write_fd_ = to_chrome[1];
    read_fd_ = from_chrome[0];
  }
  ~Browser() {
    if (write_fd_ >= 0) ::close(write_fd_);
    if (read_fd_ >= 0) ::close(read_fd_);
    if (pid_ > 0) {
      // Browser.close was sent by close(); whatever is left goes with the group.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < until) ::usleep(50 * 1000);
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, WNOHANG);
    }
  }

  // Sends a command (to the page's session when there is one) and waits for its answer; events
  // that arrive meanwhile are kept. Throws on timeout or a protocol error.
  nlohmann::json call(const std::string& method, const nlohmann::json& params, double timeout_s = 30,
                      bool browser = false) {
    const int id = ++next_id_;
    nlohmann::json msg = {{"id", id}, {"method", method}, {"params", params}};
    if (!browser && !session_.empty()) msg["sessionId"] = session_;
    const std::string text = msg.dump() + '\0';
    if (::write(write_fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      throw std::runtime_error("write to chromium");
    const auto until =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s));
    for (;;) {
      auto m = next(until);
      if (!m) throw std::runtime_error("chromium did not answer " + method + " in time");
      if (m->contains("id") && (*m)["id"] == id) {
        if (m->contains("error")) throw std::runtime_error(method + ": " + (*m)["error"].dump());
        return (*m)["result"];
      }
      events_.push_back(*m);
    }
  }

  void open_page() {
    auto target = call("Target.createTarget", {{"url", "about:blank"}}, 30, true);
    auto attached = call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}}, 30, true);
    session_ = attached["sessionId"].get<std::string>();
    call("Runtime.enable", nlohmann::json::object());
    call("Log.enable", nlohmann::json::object());
    call("Page.enable", nlohmann::json::object());
    call("Emulation.setDeviceMetricsOverride",
         {{"width", 1400}, {"height", 1000}, {"deviceScaleFactor", 1}, {"mobile", false}});
  }

  // Navigates and waits for the load event.
  void load(const std::string& url, double timeout_s) {
    call("Page.navigate", {{"url", url}});
    const auto until =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s));
    for (const auto& e : events_)
      if (e.value("method", "") == "Page.loadEventFired") return;
    for (;;) {
      auto m = next(until);
      if (!m) throw std::runtime_error("the page did not load in time");
      events_.push_back(*m);
      if (m->value("method", "") == "Page.loadEventFired") return;
    }
  }

  nlohmann::json eval(const std::string& expression) {
    auto r = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}});
    if (r.contains("exceptionDetails")) throw std::runtime_error("evaluate: " + r["exceptionDetails"].dump());
    return r["result"]["value"];
  }

  // Console messages of level error or warning, uncaught exceptions, failed loads.
  std::vector<std::string> problems() {
    // Let late messages arrive.
    while (auto m = next(std::chrono::steady_clock::now() + std::chrono::milliseconds(300))) events_.push_back(*m);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      const std::string method = e.value("method", "");
      const auto& p = e.contains("params") ? e["params"] : nlohmann::json::object();
      if (method == "Runtime.exceptionThrown") out.push_back("exception: " + p.dump());
      if (method == "Runtime.consoleAPICalled" && (p.value("type", "") == "error" || p.value("type", "") == "warning"))
        out.push_back("console: " + p.dump());
      if (method == "Log.entryAdded" && p.contains("entry")) {
        const std::string level = p["entry"].value("level", "");
        if (level == "error" || level == "warning") out.push_back("log: " + p["entry"].dump());
      }
    }
    return out;
  }

  void close() {
    try {
      call("Browser.close", nlohmann::json::object(), 10, true);
    } catch (const std::exception&) {
      // It may close the pipe before it answers.
    }
  }

 private:
  std::optional<nlohmann::json> next(std::chrono::steady_clock::time_point until) {
    for (;;) {
      const auto nul = buffer_.find('\0');
      if (nul != std::string::npos) {
        auto j = nlohmann::json::parse(buffer_.substr(0, nul));
        buffer_.erase(0, nul + 1);
        return j;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd pfd{read_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      char chunk[65536];
      const ssize_t n = ::read(read_fd_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int write_fd_ = -1, read_fd_ = -1;
  int next_id_ = 0;
  std::string session_;
  std::string buffer_;
  std::vector<nlohmann::json> events_;
};

}  // namespace

TEST(ReportBrowser, AFailingRunsReportLoadsCleanlyWithItsCellsLinksAndTheLeakedPageMarked) {
  ASSERT_EQ(::system("command -v chromium >/dev/null"), 0) << "chromium is not installed (setup.sh installs it)";
  // A copy, as a CI job would have it: the recorded artifact paths do not exist, runs/ does.
  const std::string dir = fresh_dir("report-browser");
  fs::copy_file(kRecorded + "/results.json", dir + "/results.json");
  fs::create_directories(dir + "/runs");
  for (fs::directory_iterator it(kRecorded + "/runs"), end; it != end; ++it) {
    const fs::path run = fs::path(dir) / "runs" / it->path().filename();
    fs::create_directories(run);
    for (fs::directory_iterator f(it->path()); f != fs::directory_iterator(); ++f)
      fs::copy_file(f->path(), run / f->path().filename());
  }
  CommandResult r = run_command({RIG_BINARY, "report", dir + "/results.json", "-o", dir + "/report.html"}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(path_exists(dir + "/report.html"));

  Browser b(dir + "/chromium-profile");
  b.open_page();
  b.load("file://" + dir + "/report.html", 60);

  EXPECT_EQ(b.eval("document.scripts.length").get<int>(), 0);
  // Boot, before and after the unplug: 3 frames of 10 sections (0-7 on node 0, 512-513 on node 1).
  EXPECT_EQ(b.eval("document.querySelectorAll('svg.map').length").get<int>(), 3);
  EXPECT_EQ(b.eval("document.querySelectorAll('svg.map g.cell').length").get<int>(), 30);
  EXPECT_EQ(b.eval("document.querySelectorAll('svg.map g.cell.st-removed').length").get<int>(), 2);
  // The leaked PMD table page sits on section 7: its cell before and after links to its row.
  EXPECT_EQ(b.eval("document.querySelectorAll('svg.map a').length").get<int>(), 2);
  EXPECT_EQ(b.eval("[...document.querySelectorAll('svg.map a')].map(a => a.getAttribute('href')).join(' ')")
                .get<std::string>(),
            "#run-1-s0-before-bad-7 #run-1-s0-after-bad-7");
  EXPECT_EQ(b.eval("document.getElementById('run-1-s0-after-sec-7').getAttribute('class')").get<std::string>(),
            "cell st-boot bad check-failed");
  EXPECT_EQ(b.eval("document.querySelectorAll('svg.map .check-failed').length").get<int>(), 1);
  EXPECT_NE(b.eval("document.getElementById('run-1-s0-after-sec-7').querySelector('title').textContent")
                .get<std::string>()
                .find("leaked: pfn 261060 (pmd:512,pmd:513) expected freed"),
            std::string::npos);
  // The failed check links to that cell, which the browser lays out with a size.
  EXPECT_EQ(b.eval("document.querySelectorAll('table.checks a[href=\"#run-1-s0-after-sec-7\"]').length").get<int>(), 1);
  EXPECT_GT(b.eval("document.getElementById('run-1-s0-after-sec-7').getBoundingClientRect().width").get<double>(), 20);
  EXPECT_EQ(b.eval("document.querySelector('.v').textContent").get<std::string>(), "fail");

  const auto shot = b.call("Page.captureScreenshot", {{"format", "png"}, {"captureBeyondViewport", true}});
  write_file(dir + "/report.png", base64_decode(shot["data"].get<std::string>()));
  EXPECT_GT(fs::file_size(dir + "/report.png"), 20000u);

  const auto problems = b.problems();
  EXPECT_TRUE(problems.empty()) << problems.front();
  b.close();
}

// A real run writes report.html beside --json, or in the artifacts folder without it, and the
// page of a fresh run loads as cleanly as the recorded one.
TEST(ReportBrowser, RigRunWritesTheReportBesideItsJsonOrInItsArtifacts) {
  ASSERT_EQ(::system("command -v chromium >/dev/null"), 0) << "chromium is not installed (setup.sh installs it)";
  const std::string dir = fresh_dir("report-run");
  fs::create_directories(dir + "/json");
  const std::string scenario = std::string(RIG_SOURCE_DIR) + "/rig/scenarios/boot-dimm-64g.toml";
  CommandResult r = run_command({RIG_BINARY, "run", scenario, "--kernel", "debian-6.1", "--json",
                                 dir + "/json/res.json", "--artifacts", dir + "/runs"},
                                600);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = read_file(dir + "/json/report.html");
  EXPECT_NE(html.find("id=\"run-1-s0-after-sec-512\""), std::string::npos);
  EXPECT_NE(html.find("class=\"v v-xfail\""), std::string::npos);
  EXPECT_NE(r.err.find("report: " + dir + "/json/report.html"), std::string::npos) << r.err;

  r = run_command({RIG_BINARY, "run", scenario, "--kernel", "debian-6.1", "--artifacts", dir + "/runs2"}, 600);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(path_exists(dir + "/runs2/report.html"));

  Browser b(dir + "/chromium-profile");
  b.open_page();
  b.load("file://" + dir + "/json/report.html", 60);
  EXPECT_EQ(b.eval("document.querySelectorAll('svg.map g.cell').length").get<int>(), 30);
  // The leak is known (xfail): its page is still marked, and the xfail check names its cell.
  EXPECT_EQ(b.eval("document.getElementById('run-1-s0-after-sec-7').getAttribute('class')").get<std::string>(),
            "cell st-boot bad check-failed");
  const auto problems = b.problems();
  EXPECT_TRUE(problems.empty()) << problems.front();
  b.close();
}

// The checker itself: a page with a failed load, a console error and an uncaught exception is
// not clean.
TEST(ReportBrowser, TheCheckerSeesFailedLoadsConsoleErrorsAndExceptions) {
  ASSERT_EQ(::system("command -v chromium >/dev/null"), 0) << "chromium is not installed (setup.sh installs it)";
  const std::string dir = fresh_dir("report-browser-bad");
  write_file(dir + "/bad.html",
             "<!DOCTYPE html><html><body><img src=\"missing.png\"><script>console.error('boom'); "
             "nosuchfn();</script></body></html>");
  Browser b(dir + "/chromium-profile");
  b.open_page();
  b.load("file://" + dir + "/bad.html", 60);
  const auto problems = b.problems();
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("missing.png"), std::string::npos) << all;
  EXPECT_NE(all.find("boom"), std::string::npos) << all;
  EXPECT_NE(all.find("nosuchfn"), std::string::npos) << all;
  b.close();
}

TEST(ReportBrowser, BadInputIsOneLineAndExit2) {
  const std::string dir = fresh_dir("report-bad");
  write_file(dir + "/x.json", "{\"format\": \"rig-results/9\", \"results\": []}");
  CommandResult r = run_command({RIG_BINARY, "report", dir + "/x.json"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("rig-results/9"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  write_file(dir + "/y.json", "{not json");
  r = run_command({RIG_BINARY, "report", dir + "/y.json"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_command({RIG_BINARY, "report", dir + "/missing.json"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(path_exists(dir + "/report.html"));
  // Issue 17: a directory, a FIFO, /dev/zero and JSON nested 100,000 deep as results; an
  // existing directory as -o; a FIFO and /dev/zero as scenario files. Each one line and exit 2,
  // within the command's 30 s (a FIFO would block a reader that opened it).
  ASSERT_EQ(::mkfifo((dir + "/fifo.json").c_str(), 0600), 0);
  write_file(dir + "/deep.json",
             "{\"format\": \"rig-results/2\", \"results\": [{\"scenario\": \"x\", \"verdict\": "
             "\"pass\", \"steps\": [{\"analysis\": " +
                 std::string(100000, '[') + std::string(100000, ']') + "}]}]}");
  write_file(dir + "/ok.json", "{\"format\": \"rig-results/2\", \"results\": []}");
  const std::vector<std::vector<std::string>> bad = {
      {RIG_BINARY, "report", dir},
      {RIG_BINARY, "report", dir + "/fifo.json"},
      {RIG_BINARY, "report", "/dev/zero"},
      {RIG_BINARY, "report", dir + "/deep.json"},
      {RIG_BINARY, "report", dir + "/ok.json", "-o", dir},
      {RIG_BINARY, "check", dir + "/fifo.json"},
      {RIG_BINARY, "check", "/dev/zero"},
  };
  for (const auto& argv : bad) {
    r = run_command(argv, 30);
    EXPECT_EQ(r.exit_code, 2) << argv.back() << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}
