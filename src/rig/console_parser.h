// Watches the guest's serial console for kernel failures. Pure: fed text as it arrives (chunks
// may split lines), it keeps findings with the lines that explain them. Tested on recorded logs.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace rig {

enum class Severity {
  Notice,   // evidence worth keeping, not a failure by itself (the page dump of a refused offline)
  Failure,  // the kernel reported a bug: the scenario fails
  Crash,    // the kernel panicked: QEMU ends (panic=-1, -no-reboot)
};

struct ConsoleFinding {
  std::string kind;      // "panic", "oops", "bug", "warning", "bad-page-state", "page-dump", ...
  Severity severity = Severity::Failure;
  std::string headline;  // the line that matched, without the timestamp
  size_t line_no = 0;    // 1-based line of the headline in the console log
  std::vector<std::string> lines;  // context before and after the headline
};

const char* severity_name(Severity s);

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
  std::vector<std::string> all_;    // kept for saw(); consoles here are small
};

// "[   12.345678] text" -> "text"
std::string strip_timestamp(std::string_view line);

}  // namespace rig
