// What the console watcher found: a plain value, kept in results (results.h) and produced by the
// console parser (console_parser.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace rig {

enum class Severity {
  Notice,   // evidence worth keeping, not a failure by itself (the page dump of a refused offline)
  Failure,  // the kernel reported a bug: the scenario fails
  Crash,    // the kernel panicked: QEMU ends (panic=-1, -no-reboot)
};

struct ConsoleFinding {
  std::string kind;  // "panic", "oops", "bug", "warning", "bad-page-state", "page-dump", ...
  Severity severity = Severity::Failure;
  std::string headline;            // the line that matched, without the timestamp
  size_t line_no = 0;              // 1-based line of the headline in the console log
  std::vector<std::string> lines;  // context before and after the headline
};

inline const char* severity_name(Severity s) {
  switch (s) {
    case Severity::Notice: return "notice";
    case Severity::Failure: return "failure";
    case Severity::Crash: return "crash";
  }
  return "?";
}

}  // namespace rig
