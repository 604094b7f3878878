#include "rig/workflows/bisect_verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <sstream>

namespace rig {
namespace {

bool failed(const CheckRecord& c) { return c.status == CheckStatus::Fail; }

std::string clip(std::string s, size_t n = 200) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

struct Sign {
  const char* what;
  std::regex re;
};

// The host ran out of something or a tool is missing or broken: nothing about the kernel.
const std::vector<Sign>& host_signs() {
  static const std::vector<Sign> signs = {
      {"disk full", std::regex("No space left on device")},
      {"disk quota exceeded", std::regex("Disk quota exceeded")},
      {"read-only file system", std::regex("Read-only file system")},
      {"I/O error", std::regex("Input/output error")},
      {"out of memory",
       std::regex("Cannot allocate memory|virtual memory exhausted|out of memory|Killed signal terminated program")},
      {"too many open files", std::regex("Too many open files")},
      {"ccache failed", std::regex("ccache: (error|FATAL)")},
      {"a tool is missing", std::regex("command not found|: not found$")},
      {"git failed", std::regex("^(error|fatal): ")},
      {"permission denied", std::regex("Permission denied")},
  };
  return signs;
}

// The kernel's source does not build: the compiler, assembler, linker, modpost or Kconfig says
// so about a file of the tree.
const std::vector<Sign>& kernel_signs() {
  static const std::vector<Sign> signs = {
      {"compile error", std::regex(R"(^[^\s:]+:\d+:(\d+:)? (fatal )?error: )")},
      {"assembler error", std::regex(R"(^[^\s:]+:\d+: Error: )")},
      {"link error", std::regex("undefined reference to|multiple definition of|undefined symbol")},
      {"modpost error", std::regex("ERROR: modpost: ")},
      {"Kconfig error", std::regex(R"(^\S*Kconfig\S*:\d+:.*error)")},
      {"a Makefile names a file that is not in the tree", std::regex("No rule to make target")},
  };
  return signs;
}

}  // namespace

int bisect_exit_code(BisectVerdict v) {
  switch (v) {
    case BisectVerdict::Good: return 0;
    case BisectVerdict::Bad: return 1;
    case BisectVerdict::Skip: return 125;
    case BisectVerdict::Stop: return kBisectStopExit;
  }
  return kBisectStopExit;
}

int bisect_exit_code(BisectVerdict v, bool fix) {
  if (fix && v == BisectVerdict::Good) return 1;  // fixed: the new term
  if (fix && v == BisectVerdict::Bad) return 0;   // broken: the old term
  return bisect_exit_code(v);
}

const char* bisect_verdict_name(BisectVerdict v) {
  switch (v) {
    case BisectVerdict::Good: return "good";
    case BisectVerdict::Bad: return "bad";
    case BisectVerdict::Skip: return "skip";
    case BisectVerdict::Stop: return "stop";
  }
  return "?";
}

bool is_host_failure(const ScenarioResult& r) {
  if (r.verdict != Verdict::Error || r.boot_s > 0) return false;
  return r.reason.rfind("guest did not boot", 0) != 0;
}

BuildFailureDiagnosis diagnose_build_failure(int exit_code, const std::string& log) {
  BuildFailureDiagnosis d;
  std::istringstream in(log);
  std::string line, kernel_line, kernel_what, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    last = line;
    for (const auto& s : host_signs())
      if (std::regex_search(line, s.re)) {
        d.why = fmt::format("host failure ({}): {}", s.what, clip(line));
        return d;
      }
    if (kernel_line.empty())
      for (const auto& s : kernel_signs())
        if (std::regex_search(line, s.re)) {
          kernel_line = line;
          kernel_what = s.what;
          break;
        }
  }
  if (!kernel_line.empty()) {
    d.kernel = true;
    d.why = fmt::format("the kernel does not build ({}): {}", kernel_what, clip(kernel_line));
  } else if (exit_code == 4) {
    d.kernel = true;
    d.why = fmt::format("this kernel's Kconfig lacks an option the rig needs: {}", clip(last));
  } else {
    d.why = fmt::format(
        "host failure: the build failed (exit {}) without a compile, link or Kconfig error in the kernel's source; "
        "last line: {}",
        exit_code, clip(last.empty() ? "(no output)" : last));
  }
  return d;
}

namespace {

// One run judged for the target.
struct RunJudgement {
  enum Kind { Good, Bad, Other } kind = Other;
  std::string evidence;  // Bad: the failing check or step
  std::string why;       // Other: why it could not tell; Good: what it judged (a finding)
};

RunJudgement judge_case(int case_no, const ScenarioResult& r) {
  RunJudgement j;
  bool case_failed = false, other_case_failed = false;
  std::string other_check;
  for (const auto& c : r.checks) {
    if (!failed(c)) continue;
    if (c.case_no == case_no) {
      case_failed = true;
      if (j.evidence.empty())
        j.evidence = fmt::format("{} on {}: case {} {}: {}", r.scenario, r.kernel, c.case_no, c.name, c.detail);
    } else if (!other_case_failed) {
      other_case_failed = true;
      other_check = fmt::format("case {} {} failed", c.case_no, c.name);
    }
  }
  if ((r.verdict == Verdict::Pass || r.verdict == Verdict::XFail || r.verdict == Verdict::XPass) && !case_failed &&
      !other_case_failed) {
    j.kind = RunJudgement::Good;
  } else if (r.verdict == Verdict::Fail && case_failed && !other_case_failed) {
    j.kind = RunJudgement::Bad;
  } else {
    j.why = other_case_failed ? fmt::format("{}: {}", r.scenario, other_check)
                              : fmt::format("{}: {} ({})", r.scenario, verdict_name(r.verdict), r.reason);
  }
  return j;
}

RunJudgement judge_finding(const RegisteredFinding& f, const ScenarioResult& r) {
  const FindingPresence p = finding_presence(f, r);
  RunJudgement j;
  j.kind = p.kind == FindingPresence::Shows    ? RunJudgement::Bad
           : p.kind == FindingPresence::Absent ? RunJudgement::Good
                                               : RunJudgement::Other;
  (j.kind == RunJudgement::Bad ? j.evidence : j.why) = p.why;
  return j;
}

}  // namespace

std::string BisectTarget::name() const { return finding ? "finding " + finding->id : fmt::format("case {}", case_no); }

BisectDecision decide_bisect_step(int case_no, const std::vector<ScenarioResult>& runs) {
  BisectTarget t;
  t.case_no = case_no;
  return decide_bisect_step(t, runs);
}

BisectDecision decide_bisect_step(const BisectTarget& target, const std::vector<ScenarioResult>& runs) {
  int good = 0, bad = 0, other = 0;
  std::string evidence, other_why, good_why;
  for (const auto& r : runs) {
    if (is_host_failure(r)) {
      BisectDecision d;
      d.verdict = BisectVerdict::Stop;
      d.why = fmt::format("host failure, not the kernel's: {}: {}", r.scenario, r.reason);
      return d;
    }
    const RunJudgement j = target.finding ? judge_finding(*target.finding, r) : judge_case(target.case_no, r);
    if (j.kind == RunJudgement::Good) {
      ++good;
      if (good_why.empty()) good_why = j.why;
    } else if (j.kind == RunJudgement::Bad) {
      ++bad;
      if (evidence.empty()) evidence = j.evidence;
    } else {
      ++other;
      if (other_why.empty()) other_why = j.why;
    }
  }
  BisectDecision d;
  const std::string counts =
      target.finding
          ? fmt::format("{} runs: {} without it, {} show it, {} other", runs.size(), good, bad, other)
          : fmt::format("{} runs: {} pass, {} fail case {}, {} other", runs.size(), good, bad, target.case_no, other);
  if (runs.empty()) {
    d.why = "no runs";
  } else if (bad > 0 && good > 0) {
    d.why = counts + ": the runs disagree, so this revision is skipped rather than risk a wrong verdict";
  } else if (bad > 0 && other == 0) {
    d.verdict = BisectVerdict::Bad;
    d.why = counts;
    d.evidence = evidence;
  } else if (bad > 0) {
    d.why = counts + ": " + (target.finding ? "it showed" : target.name() + " failed") +
            ", but other runs did not get that far (" + other_why + ")";
  } else if (other > 0) {
    d.why = counts + ": " + other_why;
  } else {
    d.verdict = BisectVerdict::Good;
    d.why = counts + (good_why.empty() ? "" : " (" + good_why + ")");
  }
  return d;
}

}  // namespace rig
