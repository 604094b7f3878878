// Watches the guest's serial console for kernel failures. Pure: fed text as it arrives (chunks
// may split lines), it keeps findings with the lines that explain them. Tested on recorded logs.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "rig/scenario/console_finding.h"

namespace rig {

class ConsoleParser {
 public:
  void feed(std::string_view chunk);
  // Treats a trailing partial line as complete (at the end of a run).
  void finish();

  const std::vector<ConsoleFinding>& findings() const { return findings_; }
  bool panicked() const;
  size_t lines_seen() const { return line_no_; }
  bool saw(std::string_view needle) const;  // any complete line contains needle

 private:
  void line(std::string text);

  std::string partial_;
  size_t line_no_ = 0;
  std::deque<std::string> recent_;  // lines before a headline, for dump_page's header lines
  int open_ = -1;                   // finding still collecting lines after its headline
  size_t open_budget_ = 0;
  std::vector<ConsoleFinding> findings_;
  std::vector<std::string> all_;  // kept for saw(); consoles here are small
};

// One kind of kernel report the console shows: a line (timestamp stripped) containing `needle`
// (at its start when `at_start`). The reproducer's run.sh looks for the same needles.
struct ConsoleRule {
  std::string_view needle;
  bool at_start = false;
  std::string_view kind;  // "panic", "bug", "oops", ...
  Severity severity = Severity::Failure;
};

// The rules in the order they are tried: the first that matches a line names its report.
const std::vector<ConsoleRule>& console_rules();
const ConsoleRule* console_rule_for(std::string_view line);

// The page dump of a refused offline: a notice (evidence of the refusal), not a failure.
inline constexpr std::string_view kRefusalDumpNeedle = "page dumped because: unmovable page";

// "[   12.345678] text" -> "text"
std::string strip_timestamp(std::string_view line);

}  // namespace rig
