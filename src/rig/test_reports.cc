#include "rig/test_reports.h"

#include <fmt/format.h>

#include <map>

namespace rig {
namespace {

std::string xml_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
    }
  }
  return out;
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
    out += fmt::format("{} case {} {} (step {}): {}\n", c.ok ? "ok" : c.xfail ? "XFAIL" : "FAIL", c.case_no, c.name, c.step, c.detail);
  return out;
}

}  // namespace

void write_junit(const std::vector<ScenarioResult>& results, std::ostream& out) {
  std::map<std::string, std::vector<const ScenarioResult*>> by_kernel;
  for (const auto& r : results) by_kernel[r.kernel].push_back(&r);
  int failures = 0, errors = 0, skipped = 0;
  for (const auto& r : results) {
    failures += r.verdict == Verdict::Fail;
    errors += r.verdict == Verdict::Error;
    skipped += r.verdict == Verdict::Skip || r.verdict == Verdict::XFail;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << fmt::format("<testsuites name=\"rig\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n", results.size(), failures,
                     errors, skipped);
  for (const auto& [kernel, rs] : by_kernel) {
    double time = 0;
    int f = 0, e = 0, s = 0;
    for (const auto* r : rs) {
      time += r->duration_s;
      f += r->verdict == Verdict::Fail;
      e += r->verdict == Verdict::Error;
      s += r->verdict == Verdict::Skip || r->verdict == Verdict::XFail;
    }
    out << fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                       xml_escape(kernel), rs.size(), f, e, s, time);
    for (const auto* r : rs) {
      out << fmt::format("    <testcase classname=\"rig.{}\" name=\"{}\" time=\"{:.3f}\">\n", xml_escape(kernel), xml_escape(r->scenario),
                         r->duration_s);
      const std::string details = check_lines(*r);
      if (r->verdict == Verdict::Fail)
        out << fmt::format("      <failure message=\"{}\">{}</failure>\n", xml_escape(r->reason), xml_escape(details));
      else if (r->verdict == Verdict::Error)
        out << fmt::format("      <error message=\"{}\">{}</error>\n", xml_escape(r->reason), xml_escape(details));
      else if (r->verdict == Verdict::XFail || r->verdict == Verdict::Skip)
        out << fmt::format("      <skipped message=\"{}: {}\"/>\n", verdict_name(r->verdict), xml_escape(r->reason));
      out << fmt::format("      <system-out>artifacts: {}\n{}</system-out>\n", xml_escape(r->artifacts), xml_escape(details));
      out << "    </testcase>\n";
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
    out << fmt::format("    # Subtest: {}\n", r.scenario);
    out << fmt::format("    1..{}\n", r.steps.size() + r.checks.size());
    int k = 0;
    for (const auto& s : r.steps)
      out << fmt::format("    {} {} step{}-{}-{} # {}\n", s.ok ? "ok" : "not ok", ++k, s.index, s.action, s.target,
                         ktap_text(s.outcome + ": " + s.detail));
    for (const auto& c : r.checks) {
      if (c.xfail)
        out << fmt::format("    ok {} case{}-{} # XFAIL {}\n", ++k, c.case_no, c.name, ktap_text(c.evidence));
      else
        out << fmt::format("    {} {} case{}-{}\n", c.ok ? "ok" : "not ok", ++k, c.case_no, c.name);
      if (!c.ok) out << fmt::format("    # {}\n", ktap_text(c.detail));
    }
    const std::string name = r.scenario + "@" + r.kernel;
    switch (r.verdict) {
      case Verdict::Pass: out << fmt::format("ok {} {}\n", n, name); break;
      case Verdict::XFail: out << fmt::format("ok {} {} # XFAIL {}\n", n, name, ktap_text(r.reason)); break;
      case Verdict::Skip: out << fmt::format("ok {} {} # SKIP {}\n", n, name, ktap_text(r.reason)); break;
      default: out << fmt::format("not ok {} {} # {}\n", n, name, ktap_text(r.reason)); break;
    }
  }
}

}  // namespace rig
