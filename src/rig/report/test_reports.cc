#include "rig/report/test_reports.h"

#include "rig/base/text.h"

#include <fmt/format.h>

#include <map>

namespace rig {
namespace {

// A scenario's name, with the run number when it ran more than once (--repeat).
std::string run_name(const ScenarioResult& r) {
  return r.run > 1 ? fmt::format("{}#{}", r.scenario, r.run) : r.scenario;
}

// KTAP descriptions and directives must stay on one line and not contain '#'.
std::string ktap_text(const std::string& in) {
  std::string out;
  for (char c : in) out += (c == '\n' || c == '#') ? ' ' : c;
  return out;
}

std::string check_lines(const ScenarioResult& r) {
  std::string out;
  for (const auto& c : r.checks)
    out += fmt::format("{} case {} {} (step {}): {}{}\n", check_status_name(c.status), c.case_no, c.name, c.step,
                       c.detail, c.evidence.empty() ? "" : " (evidence: " + c.evidence + ")");
  return out;
}

std::string xpass_lines(const ScenarioResult& r) {
  std::string out;
  for (const auto& x : r.xpass)
    out += fmt::format("XPASS: xfail entry case {} {} ({}) no longer fails on {}: evidence {}\n", x.case_no, x.check,
                       x.kernel.empty() ? "every kernel" : x.kernel, r.kernel, x.evidence);
  return out;
}

std::string check_test_name(const CheckRecord& c) {
  return fmt::format("case{}-{}{}", c.case_no, c.name, c.step < 0 ? "" : fmt::format("-step{}", c.step));
}

struct Counts {
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  double time = 0;
  void add(const ScenarioResult& r) {
    ++tests;
    time += r.duration_s;
    failures += r.verdict == Verdict::Fail;
    errors += r.verdict == Verdict::Error;
    skipped += r.verdict == Verdict::Skip || r.verdict == Verdict::XFail;
    for (const auto& c : r.checks) {
      ++tests;
      failures += c.status == CheckStatus::Fail;
      skipped += c.status == CheckStatus::XFail || c.status == CheckStatus::NotApplicable;
    }
  }
};

}  // namespace

void write_junit(const std::vector<ScenarioResult>& results, std::ostream& out) {
  std::map<std::string, std::vector<const ScenarioResult*>> by_kernel;
  Counts all;
  for (const auto& r : results) {
    by_kernel[r.kernel].push_back(&r);
    all.add(r);
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << fmt::format("<testsuites name=\"rig\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n", all.tests,
                     all.failures, all.errors, all.skipped);
  for (const auto& [kernel, rs] : by_kernel) {
    Counts k;
    for (const auto* r : rs) k.add(*r);
    out << fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
        xml_escape(kernel), k.tests, k.failures, k.errors, k.skipped, k.time);
    for (const auto* r : rs) {
      out << fmt::format("    <testcase classname=\"rig.{}\" name=\"{}\" time=\"{:.3f}\">\n", xml_escape(kernel),
                         xml_escape(run_name(*r)), r->duration_s);
      const std::string details = check_lines(*r);
      if (r->verdict == Verdict::Fail)
        out << fmt::format("      <failure message=\"{}\">{}</failure>\n", xml_escape(r->reason), xml_escape(details));
      else if (r->verdict == Verdict::Error)
        out << fmt::format("      <error message=\"{}\">{}</error>\n", xml_escape(r->reason), xml_escape(details));
      else if (r->verdict == Verdict::XFail || r->verdict == Verdict::Skip)
        out << fmt::format("      <skipped message=\"{}: {}\"/>\n", verdict_name(r->verdict), xml_escape(r->reason));
      // An xpass passed; the note says which xfail entry went stale.
      out << fmt::format("      <system-out>{}artifacts: {}\n{}</system-out>\n", xml_escape(xpass_lines(*r)),
                         xml_escape(r->artifacts), xml_escape(details));
      out << "    </testcase>\n";
      // Each spec check as its own test: n/a and xfail are skipped with their reason.
      for (const auto& c : r->checks) {
        out << fmt::format("    <testcase classname=\"rig.{}.{}\" name=\"{}\" time=\"0\">\n", xml_escape(kernel),
                           xml_escape(run_name(*r)), xml_escape(check_test_name(c)));
        switch (c.status) {
          case CheckStatus::Pass: break;
          case CheckStatus::Fail: out << fmt::format("      <failure message=\"{}\"/>\n", xml_escape(c.detail)); break;
          case CheckStatus::XFail:
            out << fmt::format("      <skipped message=\"xfail: {} (evidence: {})\"/>\n", xml_escape(c.detail),
                               xml_escape(c.evidence));
            break;
          case CheckStatus::NotApplicable:
            out << fmt::format("      <skipped message=\"n/a: {}\"/>\n", xml_escape(c.detail));
            break;
          case CheckStatus::XPass:
            out << fmt::format("      <system-out>XPASS: known failure not seen (evidence: {})</system-out>\n",
                               xml_escape(c.evidence));
            break;
        }
        out << "    </testcase>\n";
      }
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

void write_ktap(const std::vector<ScenarioResult>& results, std::ostream& out) {
  out << "KTAP version 1\n";
  out << fmt::format("1..{}\n", results.size());
  int n = 0;
  for (const auto& r : results) {
    ++n;
    out << fmt::format("# {} on {}: {}\n", r.scenario, r.kernel, r.artifacts);
    out << "    KTAP version 1\n";
    out << fmt::format("    # Subtest: {}\n", run_name(r));
    out << fmt::format("    1..{}\n", r.steps.size() + r.checks.size());
    int k = 0;
    for (const auto& s : r.steps)
      out << fmt::format("    {} {} step{}-{}-{} # {}\n", s.ok ? "ok" : "not ok", ++k, s.index, s.action, s.target,
                         ktap_text(s.outcome + ": " + s.detail));
    for (const auto& c : r.checks) {
      const std::string name = fmt::format("case{}-{}", c.case_no, c.name);
      switch (c.status) {
        case CheckStatus::Pass: out << fmt::format("    ok {} {}\n", ++k, name); break;
        case CheckStatus::Fail:
          out << fmt::format("    not ok {} {}\n    # {}\n", ++k, name, ktap_text(c.detail));
          break;
        case CheckStatus::XFail:
          out << fmt::format("    ok {} {} # XFAIL {}\n    # {}\n", ++k, name, ktap_text(c.evidence),
                             ktap_text(c.detail));
          break;
        case CheckStatus::NotApplicable:
          out << fmt::format("    ok {} {} # SKIP n/a: {}\n", ++k, name, ktap_text(c.detail));
          break;
        case CheckStatus::XPass:
          // KTAP has no XPASS directive: a comment line, then a plain ok.
          out << fmt::format("    # XPASS {}\n    ok {} {}\n", ktap_text(c.evidence), ++k, name);
          break;
      }
    }
    const std::string name = run_name(r) + "@" + r.kernel;
    switch (r.verdict) {
      case Verdict::Pass: out << fmt::format("ok {} {}\n", n, name); break;
      case Verdict::XPass:
        for (const auto& x : r.xpass)
          out << fmt::format("# XPASS case {} {} ({})\n", x.case_no, ktap_text(x.check), ktap_text(x.evidence));
        out << fmt::format("ok {} {}\n", n, name);
        break;
      case Verdict::XFail: out << fmt::format("ok {} {} # XFAIL {}\n", n, name, ktap_text(r.reason)); break;
      case Verdict::Skip: out << fmt::format("ok {} {} # SKIP {}\n", n, name, ktap_text(r.reason)); break;
      default: out << fmt::format("not ok {} {} # {}\n", n, name, ktap_text(r.reason)); break;
    }
  }
}

}  // namespace rig
