// Every wait in the rig is a named field of the timeouts table (src/rig/base/timeouts.h): no
// literal duration anywhere else in src/rig/. base/clock.h holds the helpers that turn a field into
// a wait (as_duration, deadline_in, pause_for), each taking the duration as a parameter.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "rig/base/timeouts.h"

namespace fs = std::filesystem;

namespace {

// The code of a line: no // comment, no string literal (shell text and messages are not waits).
std::string code_of(const std::string& line) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += "\"\"";
      continue;
    }
    if (c == '/' && i + 1 < line.size() && line[i + 1] == '/') break;
    out += c;
  }
  return out;
}

// The text between the parenthesis at `open` and its match (or the rest of the line).
std::string argument_at(const std::string& code, size_t open) {
  int depth = 0;
  for (size_t i = open; i < code.size(); ++i) {
    if (code[i] == '(') ++depth;
    if (code[i] == ')' && --depth == 0) return code.substr(open + 1, i - open - 1);
  }
  return code.substr(open + 1);
}

// Why a line of code waits for a literal duration; empty if it does not.
std::string literal_wait(const std::string& line) {
  const std::string code = code_of(line);
  static const std::regex sleep_re("\\bsleep_for\\s*\\(");
  static const std::regex chrono_re("\\bchrono::(hours|minutes|seconds|milliseconds|microseconds|nanoseconds)\\s*[({]");
  // The C library's waits: a sleep of its own is never a Timeouts field; poll's last argument is
  // its wait.
  static const std::regex libc_sleep_re("(^|[^A-Za-z0-9_])(usleep|nanosleep|sleep|sleep_until)\\s*\\(");
  static const std::regex poll_re("(^|[^A-Za-z0-9_])(poll|ppoll|epoll_wait|select)\\s*\\(");
  static const std::regex call_re(
      "\\b(deadline_in|pause_for|as_duration|wait_exit|terminate|wait_for|wait_until)\\s*\\(");
  // A number that is not part of a name; 0 (no wait at all) is allowed.
  static const std::regex number_re("(^|[^A-Za-z0-9_.])([0-9]+\\.?[0-9]*|\\.[0-9]+)(?![A-Za-z0-9_])");
  if (std::regex_search(code, sleep_re)) return "sleep_for (use pause_for with a Timeouts field)";
  if (std::regex_search(code, chrono_re)) return "a std::chrono duration (use as_duration with a Timeouts field)";
  std::smatch m;
  if (std::regex_search(code, m, libc_sleep_re)) return m[2].str() + " (use pause_for with a Timeouts field)";
  if (std::regex_search(code, m, poll_re)) {
    const std::string arg = argument_at(code, static_cast<size_t>(m.position(0) + m.length(0) - 1));
    const std::string last = arg.substr(arg.rfind(',') == std::string::npos ? 0 : arg.rfind(',') + 1);
    for (std::sregex_iterator n(last.begin(), last.end(), number_re), end; n != end; ++n)
      if (std::stod((*n)[2].str()) != 0) return m[2].str() + " with the literal " + (*n)[2].str();
  }
  for (std::sregex_iterator it(code.begin(), code.end(), call_re), end; it != end; ++it) {
    const size_t open = static_cast<size_t>(it->position(0) + it->length(0) - 1);
    const std::string arg = argument_at(code, open);
    for (std::sregex_iterator n(arg.begin(), arg.end(), number_re); n != end; ++n)
      if (std::stod((*n)[2].str()) != 0) return (*it)[1].str() + " with the literal " + (*n)[2].str();
  }
  return "";
}

TEST(Timeouts, TheRuleFindsLiteralWaits) {
  EXPECT_NE(literal_wait("    std::this_thread::sleep_for(std::chrono::milliseconds(20));"), "");
  EXPECT_NE(literal_wait("  Deadline by = deadline_in(20);"), "");
  EXPECT_NE(literal_wait("  by = deadline_in(std::min(cfg_.timeouts.boot, 60.0));"), "");
  EXPECT_NE(literal_wait("  if (!process_->wait_exit(5)) x();"), "");
  EXPECT_NE(literal_wait("  changed.wait_for(lock, std::chrono::seconds(2), pred);"), "");
  EXPECT_NE(literal_wait("  pause_for(0.5);"), "");
  EXPECT_EQ(literal_wait("  Deadline by = deadline_in(cfg_.timeouts.qmp_command);"), "");
  EXPECT_EQ(literal_wait("  p.terminate(0);  // no grace: SIGKILL at once"), "");
  EXPECT_EQ(literal_wait("  x = \"sleep_for(3) in a message\"; // deadline_in(2) in a comment"), "");
  EXPECT_EQ(literal_wait("  pause_for(std::min(t.poll, t.migration_poll));"), "");
  // A field scaled by a number is a new wait of its own: it gets a name.
  EXPECT_NE(literal_wait("  pause_for(10 * opts.timeouts.poll);"), "");
  // The C library's waits and braced chrono durations.
  EXPECT_NE(literal_wait("  ::usleep(200000);"), "");
  EXPECT_NE(literal_wait("  ::sleep(2);"), "");
  EXPECT_NE(literal_wait("  int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));"), "");
  EXPECT_EQ(literal_wait("  int r = ::poll(&p, 1, static_cast<int>(left_ms));"), "") << "nfds 1 is no wait";
  EXPECT_NE(literal_wait("  auto d = std::chrono::seconds{5};"), "");
  EXPECT_EQ(literal_wait("  std::this_thread::sleep_for_x(y); // asleep(3)"), "");
}

TEST(Timeouts, EveryWaitInTheTreeIsANamedField) {
  const fs::path root = fs::path(RIG_SOURCE_DIR) / "src/rig";
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (rel == "base/timeouts.h" || rel == "base/clock.h") continue;
    std::ifstream in(e.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const std::string why = literal_wait(line);
      if (!why.empty()) found.push_back("src/rig/" + rel + ":" + std::to_string(n) + ": " + why);
    }
  }
  std::string all;
  for (const auto& f : found) all += f + "\n";
  EXPECT_TRUE(found.empty()) << "literal waits outside src/rig/base/timeouts.h:\n" << all;
}

TEST(Timeouts, BoundsAreOrdered) {
  const rig::Timeouts& t = rig::default_timeouts();
  EXPECT_LE(t.slot_poll_min, t.slot_poll_max);
  EXPECT_LE(t.agent_exec_poll, t.agent_exec_poll_max);
  EXPECT_LT(t.event_slice, t.step);
  EXPECT_LT(t.agent_sync, t.boot);
}

}  // namespace
