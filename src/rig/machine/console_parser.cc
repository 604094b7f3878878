#include "rig/machine/console_parser.h"

#include <algorithm>

namespace rig {
namespace {

// dump_page() of a large folio prints page:, head:, flags:, page_type: and four raw and head words
// lines each (7.x) before its "page dumped because" line: keep enough to find its "page:" line.
constexpr size_t kLinesBefore = 16;
constexpr size_t kLinesAfter = 40;
// Kernel lines are at most 1 KiB (printk); longer console lines keep their first 64 KiB and drop
// the rest, so an endless line costs bounded memory.
constexpr size_t kMaxLineBytes = 64 * 1024;

// Order matters: the first match wins ("BUG: Bad page state" is a bad-page-state, not a bug).
const ConsoleRule kRules[] = {
    {"Kernel panic - not syncing", false, "panic", Severity::Crash},
    {"BUG: Bad page state", false, "bad-page-state", Severity::Failure},
    {"Bad page state in process", false, "bad-page-state", Severity::Failure},
    {"BUG: KASAN:", false, "kasan", Severity::Failure},
    {"kernel BUG at", false, "bug", Severity::Failure},
    {"BUG: ", true, "bug", Severity::Failure},
    {"Oops:", false, "oops", Severity::Failure},
    {"general protection fault", false, "oops", Severity::Failure},
    {" blocked for more than ", false, "hung-task", Severity::Failure},
    {"WARNING: ", true, "warning", Severity::Failure},
    {"rcu: INFO: rcu_", false, "rcu-stall", Severity::Failure},
    {"watchdog: BUG: soft lockup", false, "soft-lockup", Severity::Failure},
    {"page dumped because: ", false, "page-dump", Severity::Failure},
};

}  // namespace

const std::vector<ConsoleRule>& console_rules() {
  static const std::vector<ConsoleRule> rules(std::begin(kRules), std::end(kRules));
  return rules;
}

const ConsoleRule* console_rule_for(std::string_view line) {
  for (const auto& r : console_rules()) {
    const size_t at = line.find(r.needle);
    if (at != std::string_view::npos && (!r.at_start || at == 0)) return &r;
  }
  return nullptr;
}

std::string strip_timestamp(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty() && line[0] == '[') {
    size_t close = line.find(']');
    if (close != std::string_view::npos && close < 20) {
      std::string_view inside = line.substr(1, close - 1);
      if (inside.find_first_not_of(" 0123456789.") == std::string_view::npos) {
        line.remove_prefix(close + 1);
        if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
      }
    }
  }
  return std::string(line);
}

void ConsoleParser::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    const std::string_view piece = chunk.substr(0, nl);
    if (partial_.size() < kMaxLineBytes) partial_.append(piece.substr(0, kMaxLineBytes - partial_.size()));
    if (nl == std::string_view::npos) break;
    line(std::move(partial_));
    partial_.clear();
    chunk.remove_prefix(nl + 1);
  }
}

void ConsoleParser::finish() {
  if (!partial_.empty()) line(std::move(partial_));
  partial_.clear();
}

bool ConsoleParser::panicked() const {
  return std::any_of(findings_.begin(), findings_.end(), [](const auto& f) { return f.severity == Severity::Crash; });
}

bool ConsoleParser::saw(std::string_view needle) const {
  return std::any_of(all_.begin(), all_.end(), [&](const auto& l) { return l.find(needle) != std::string::npos; });
}

void ConsoleParser::line(std::string raw) {
  ++line_no_;
  std::string text = strip_timestamp(raw);
  all_.push_back(text);

  const ConsoleRule* hit = console_rule_for(text);
  if (hit) {
    ConsoleFinding f;
    f.kind = hit->kind;
    f.severity = hit->severity;
    f.headline = text;
    f.line_no = line_no_;
    // A refused offline dumps the unmovable page it met: that is the evidence of a refusal the
    // scenario may expect, not a kernel bug. Any other reason for a page dump is a failure.
    if (f.kind == "page-dump" && text.find(kRefusalDumpNeedle) != std::string::npos) f.severity = Severity::Notice;
    // dump_page() prints the page's header and raw words before its "page dumped because" line.
    // Keep them from the dump's first line ("page:..."), not the previous dump's tail.
    if (f.kind == "page-dump") {
      auto first = recent_.end();
      for (auto it = recent_.begin(); it != recent_.end(); ++it)
        if (it->rfind("page:", 0) == 0) first = it;
      if (first == recent_.end()) first = recent_.begin();
      f.lines.assign(first, recent_.end());
    }
    f.lines.push_back(text);
    const bool complete = f.kind == "page-dump";  // its headline is the dump's last line
    findings_.push_back(std::move(f));
    open_ = complete ? -1 : static_cast<int>(findings_.size()) - 1;
    open_budget_ = kLinesAfter;
  } else if (open_ >= 0 && open_budget_ > 0) {
    findings_[static_cast<size_t>(open_)].lines.push_back(text);
    if (--open_budget_ == 0 || text.find("---[ end trace") != std::string::npos) open_ = -1;
  }
  recent_.push_back(std::move(text));
  if (recent_.size() > kLinesBefore) recent_.pop_front();
}

}  // namespace rig
