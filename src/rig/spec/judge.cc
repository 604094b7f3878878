#include "rig/spec/judge.h"

#include <fmt/format.h>

#include <regex>
#include <set>

namespace rig {

// A release prefix ends at a component boundary: "6.1" matches 6.1.0-56-amd64, never 6.12.
bool release_has_prefix(const std::string& release, const std::string& prefix) {
  if (release.rfind(prefix, 0) != 0) return false;
  if (prefix.empty() || release.size() == prefix.size()) return true;
  const char last = prefix.back(), next = release[prefix.size()];
  return last == '.' || last == '-' || last == '+' || next == '.' || next == '-' || next == '+';
}

bool kernel_matches(const ExpectedFailure& x, const std::string& release) {
  return release_has_prefix(release, x.kernel);
}

namespace {

bool names(const ExpectedFailure& x, const CheckRecord& c) { return x.case_no == c.case_no && x.check == c.name; }

std::string entry_text(const ExpectedFailure& x) {
  return fmt::format("case {} {}{} (evidence: {})", x.case_no, x.check, x.kernel.empty() ? "" : " on " + x.kernel,
                     x.evidence);
}

std::string step_reason(const StepResult& r) {
  return fmt::format("step {} {} {}: expected {}, got {}: {}", r.index, r.action, r.target,
                     r.expected.empty() ? "-" : r.expected, r.outcome, r.detail);
}

// Whether a boot tag check of case `c` ran (the caller knows none of its checks judged).
bool has_tag_check(const std::vector<CheckRecord>& checks, int c) {
  for (const auto& k : checks)
    if (k.case_no == c && k.name.rfind("boot-tags-", 0) == 0) return true;
  return false;
}

}  // namespace

std::string page_evidence(const CheckPage& p) {
  return fmt::format("{} expected {}; seen {}", p.roles, p.expected, p.seen);
}

bool match_expected_failure(const ExpectedFailure& x, const CheckRecord& c, const std::string& kernel_release) {
  if (c.ok || !c.applicable || !names(x, c) || !kernel_matches(x, kernel_release)) return false;
  if (c.pages.size() > x.max_pages) return false;
  std::regex re;
  try {
    re = std::regex(x.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return false;  // scenario_file.cc rejects such entries; one built in code matches nothing
  }
  if (c.pages.empty()) return std::regex_search(c.detail, re);
  for (const auto& p : c.pages)
    if (!std::regex_search(page_evidence(p), re)) return false;
  return true;
}

Judgement judge(const RawOutcome& raw, const std::vector<ExpectedFailure>& xfails, const std::string& kernel_release) {
  Judgement j;
  j.checks = raw.checks;

  // Each check's status. An entry that explained a failure of its check in this run is not
  // stale, even if the same check passed elsewhere (another step).
  std::vector<bool> entry_matched(xfails.size(), false);
  for (auto& c : j.checks) {
    c.xfail = false;
    c.evidence.clear();
    if (!c.applicable) {
      c.status = CheckStatus::NotApplicable;
      continue;
    }
    if (c.ok) {
      c.status = CheckStatus::Pass;
      continue;
    }
    c.status = CheckStatus::Fail;
    for (size_t i = 0; i < xfails.size(); ++i)
      if (match_expected_failure(xfails[i], c, kernel_release)) {
        c.status = CheckStatus::XFail;
        c.xfail = true;
        c.evidence = xfails[i].evidence;
        entry_matched[i] = true;
        break;
      }
  }
  // Stale entries (kselftest's XPASS): for this kernel, their check ran, and every run of it
  // passed.
  for (size_t i = 0; i < xfails.size(); ++i) {
    const ExpectedFailure& x = xfails[i];
    if (entry_matched[i] || !kernel_matches(x, kernel_release)) continue;
    bool ran = false, all_passed = true;
    for (const auto& c : j.checks)
      if (names(x, c) && c.applicable) {
        ran = true;
        all_passed &= c.ok;
      }
    if (!ran || !all_passed) continue;
    j.xpass.push_back(x);
    for (auto& c : j.checks)
      if (names(x, c) && c.status == CheckStatus::Pass) {
        c.status = CheckStatus::XPass;
        c.evidence = x.evidence;
      }
  }

  std::set<int> covered, seen;
  for (const auto& c : j.checks) {
    seen.insert(c.case_no);
    if (c.status != CheckStatus::NotApplicable) covered.insert(c.case_no);
  }
  j.cases_covered.assign(covered.begin(), covered.end());
  for (int c : seen)
    if (!covered.count(c)) j.cases_not_applicable.push_back(c);

  auto set = [&](Verdict v, std::string reason) {
    j.verdict = v;
    j.reason = std::move(reason);
  };
  // The first reason found is the one reported; later rules only fill an empty verdict.
  bool decided = false;
  auto decide = [&](Verdict v, std::string reason) {
    if (decided) return;
    set(v, std::move(reason));
    decided = true;
  };

  switch (raw.end) {
    case RunEnd::Completed: break;
    case RunEnd::GuestCrashed:
      if (raw.booted)
        decide(Verdict::Fail, raw.error);
      else
        decide(Verdict::Error, "guest did not boot: " + raw.error);
      break;
    case RunEnd::GuestHung:
    case RunEnd::GuestExited:
      decide(Verdict::Error, raw.booted ? raw.error : "guest did not boot: " + raw.error);
      break;
    case RunEnd::Error: decide(Verdict::Error, raw.error); break;
  }
  if (!raw.teardown_error.empty()) {
    // QEMU may be left behind: nothing after this can be trusted to have been clean.
    std::string before = decided ? fmt::format(" (the run itself: {}: {})", verdict_name(j.verdict), j.reason) : "";
    decided = false;
    decide(Verdict::Error, "teardown: " + raw.teardown_error + before);
  }
  for (const auto& s : raw.steps)
    if (!s.ok) {
      decide(Verdict::Fail, step_reason(s));
      break;
    }
  for (const auto& c : j.checks)
    if (c.status == CheckStatus::Fail) {
      decide(Verdict::Fail, fmt::format("case {} check {} failed: {}", c.case_no, c.name, c.detail));
      break;
    }
  for (const auto& f : raw.console_findings)
    if (f.severity != Severity::Notice) {
      decide(Verdict::Fail, fmt::format("kernel reported {} (console line {}): {}", f.kind, f.line_no, f.headline));
      break;
    }
  // A declared case that no check could fail on was not tested: the scenario says why, or fails.
  // Every such case is listed (excused ones in cases_not_exercised, the others in the reason).
  if (raw.end == RunEnd::Completed) {
    std::string unexercised;
    for (int c : raw.declared_cases) {
      if (covered.count(c)) continue;
      auto why = raw.not_exercised.find(c);
      if (why != raw.not_exercised.end()) {
        j.cases_not_exercised[c] = why->second;
        continue;
      }
      if (!raw.no_tags.empty() && has_tag_check(j.checks, c)) {
        j.cases_not_exercised[c] = fmt::format(
            "its tag checks would judge it where its other checks have nothing to judge, and {}", raw.no_tags);
        continue;
      }
      unexercised += fmt::format("{}case {} declared, not exercised: {}", unexercised.empty() ? "" : "; ", c,
                                 seen.count(c) ? "every check of it was n/a" : "no check of it ran");
    }
    if (!unexercised.empty()) decide(Verdict::Fail, unexercised);
  }
  for (const auto& c : j.checks)
    if (c.status == CheckStatus::XFail) {
      decide(Verdict::XFail,
             fmt::format("known kernel failure, case {} {} (evidence: {})", c.case_no, c.name, c.evidence));
      break;
    }
  if (!j.xpass.empty()) {
    std::string entries;
    for (const auto& x : j.xpass) entries += (entries.empty() ? "" : "; ") + entry_text(x);
    decide(Verdict::XPass, "known failure not seen, its check passed: " + entries);
  }
  decide(Verdict::Pass, "");
  return j;
}

}  // namespace rig
