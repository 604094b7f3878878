#include "rig/report/findings.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "rig/base/errors.h"
#include "rig/base/text.h"
#include "rig/spec/judge.h"

namespace rig {

namespace {

// Numbers (decimal, hex) as N, lists of them as one N, runs of spaces as one, trimmed.
std::string normalized(const std::string& text) {
  // Addresses: 0x..., and bare hex words of 8 or more digits (ffff8881abcd1234), then decimals.
  static const std::regex number("(0x[0-9a-fA-F]+|\\b[0-9a-fA-F]{8,}\\b|[0-9]+)");
  static const std::regex list("N( \\(N\\))?((, | and )N( \\(N\\))?)+");
  std::string s = std::regex_replace(std::regex_replace(text, number, "N"), list, "N...");
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string before_colon(const std::string& s) {
  const auto colon = s.find(':');
  const auto semi = s.find(';');
  return s.substr(0, std::min(colon, semi));
}

// What went wrong with a page: what the check saw where it says "expected X; saw Y" (boot
// tags), else the text before the first ':' ("leaked", "lost", "never freed", ...).
std::string page_problem(const std::string& seen) {
  const auto saw = seen.find("; saw ");
  static const std::regex numbered(" (refcount|info|node) N");
  if (saw != std::string::npos) return "saw " + std::regex_replace(normalized(seen.substr(saw + 6)), numbered, "");
  return normalized(before_colon(seen));
}

// A check without pages (MemTotal, counters, cycles): its first clause, and how far off it is.
std::string detail_problem(const std::string& detail) {
  std::string p = normalized(before_colon(detail));
  static const std::regex off("(short|over) by [0-9]+ pages$");
  std::smatch m;
  if (std::regex_search(detail, m, off)) p += "; " + m.str();  // how far off is part of the defect
  return p;
}

std::string join(const std::set<std::string>& s, const char* sep) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : sep) + x;
  return out;
}

}  // namespace

std::string failure_signature(const CheckRecord& c) {
  std::set<std::string> kinds, problems;
  for (const auto& p : c.pages) {
    std::stringstream roles(p.roles);
    for (std::string r; std::getline(roles, r, ',');)
      if (!r.empty()) kinds.insert(r.substr(0, r.find(':')));
    problems.insert(page_problem(p.seen));
  }
  if (c.pages.empty()) problems.insert(detail_problem(c.detail));
  return fmt::format("{} [{}] {}", c.name, join(kinds, ","), join(problems, " | "));
}

std::string crash_signature(const ConsoleFinding& f) {
  // Addresses and offsets vary by build and boot: "BUG: unable to handle page fault for address: N".
  return fmt::format("console {}: {}", f.kind, normalized(f.headline));
}

RegisteredFinding parse_finding(const std::string& text, const std::string& file) {
  toml::table t;
  try {
    t = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    throw UsageError(fmt::format("{}: {}", file, one_line(std::string(e.description()), 200)));
  }
  static const std::set<std::string> keys = {"title",    "status",     "signatures", "first_seen",
                                             "affected", "unaffected", "first_bad",  "last_good",
                                             "fixed_in", "scenario",   "writeup",    "reported"};
  for (const auto& [k, v] : t)
    if (!keys.count(std::string(k.str())))
      throw UsageError(fmt::format("{}: unknown key '{}'", file, one_line(std::string(k.str()), 60)));
  auto str = [&](const char* key, bool required) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) throw UsageError(fmt::format("{}: '{}' is required", file, key));
      return std::string();
    }
    if (!n->is_string()) throw UsageError(fmt::format("{}: '{}' must be a string", file, key));
    std::string v = n->as_string()->get();
    if (v.find('\n') != std::string::npos || v.size() > 500)
      throw UsageError(fmt::format("{}: '{}' must be one line of at most 500 bytes", file, key));
    return v;
  };
  auto list = [&](const char* key) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    if (!n->is_array()) throw UsageError(fmt::format("{}: '{}' must be a list of strings", file, key));
    for (const auto& e : *n->as_array()) {
      if (!e.is_string() || e.as_string()->get().empty() || e.as_string()->get().size() > 500)
        throw UsageError(fmt::format("{}: '{}' must be a list of non-empty strings", file, key));
      out.push_back(e.as_string()->get());
    }
    return out;
  };
  RegisteredFinding f;
  std::string name = file.substr(file.rfind('/') + 1);
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0) name.resize(name.size() - 5);
  f.id = name;
  f.title = str("title", true);
  f.status = str("status", true);
  if (f.status != "known" && f.status != "reported" && f.status != "fixed")
    throw UsageError(fmt::format("{}: status '{}': known, reported or fixed", file, one_line(f.status, 40)));
  f.signatures = list("signatures");
  if (f.signatures.empty())
    throw UsageError(fmt::format("{}: 'signatures' is required (rig findings RESULTS prints them)", file));
  f.first_seen = str("first_seen", false);
  f.affected = list("affected");
  f.unaffected = list("unaffected");
  f.first_bad = str("first_bad", false);
  f.last_good = str("last_good", false);
  f.fixed_in = str("fixed_in", false);
  if (f.status == "fixed" && f.fixed_in.empty())
    throw UsageError(fmt::format("{}: status 'fixed' needs 'fixed_in'", file));
  f.scenario = str("scenario", false);
  f.writeup = str("writeup", false);
  f.reported = str("reported", false);
  return f;
}

namespace {

bool listed(const std::vector<std::string>& prefixes, const std::string& release) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return release_has_prefix(release, p); });
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string scenario_name(const std::string& path) {
  std::string n = path.substr(path.rfind('/') + 1);
  if (n.size() > 5 && n.compare(n.size() - 5, 5, ".toml") == 0) n.resize(n.size() - 5);
  return n;
}

}  // namespace

std::string FindingNote::text() const {
  switch (kind) {
    case Known:
      return fmt::format("known {} ({}{}): {} on {}: {}", finding->id, finding->status,
                         finding->fixed_in.empty() ? "" : ", fixed in " + finding->fixed_in, scenario, kernel, check);
    case NotSeen:
      return fmt::format("not seen {}: {} on {} passed {}: fixed in {}? (the register lists it {}; affected: {})",
                         finding->id, scenario, kernel, check, kernel, finding->status, [&] {
                           std::string a;
                           for (const auto& k : finding->affected) a += (a.empty() ? "" : ", ") + k;
                           return a.empty() ? std::string("none listed") : a;
                         }());
    case New: break;
  }
  return fmt::format("NEW {} on {}: {} (no entry in rig/findings/ has this signature)", scenario, kernel, signature);
}

std::vector<FindingNote> match_findings(std::vector<ScenarioResult>& results,
                                        const std::vector<RegisteredFinding>& reg) {
  std::vector<FindingNote> notes;
  for (auto& r : results) {
    const size_t first_note = notes.size();
    // One note per failure: known when an entry has its signature and does not list this kernel
    // as unaffected (a failure there is a regression: new), and, for a step, names this scenario.
    auto note = [&](const std::string& check, const std::string& signature, bool step) {
      FindingNote n;
      n.scenario = r.scenario;
      n.kernel = r.kernel;
      n.check = check;
      n.signature = signature;
      for (const auto& f : reg)
        if (has(f.signatures, signature) && !listed(f.unaffected, r.kernel) &&
            (!step || f.scenario.empty() || scenario_name(f.scenario) == r.scenario))
          n.finding = &f;
      n.kind = n.finding ? FindingNote::Known : FindingNote::New;
      notes.push_back(n);
      return n.finding ? n.finding->id : std::string("new");
    };
    for (auto& c : r.checks)
      if (c.status == CheckStatus::Fail || c.status == CheckStatus::XFail)
        c.finding = note(c.name, failure_signature(c), false);
    // A step that ended otherwise than the scenario asked (an unplug refused that must go).
    for (const auto& st : r.steps)
      if (!st.ok && !st.outcome.empty() && st.outcome != "timeout")
        note(fmt::format("step {}", st.index),
             fmt::format("step {}: {} (expected {})", st.action, st.outcome, st.expected), true);
    // Kernel reports (BUG, Oops, panic, KASAN, bad page state, warnings, stalls); a refused
    // offline's page dump is evidence of a step, not a report of its own.
    for (const auto& cf : r.console_findings)
      if (cf.severity != Severity::Notice && cf.kind != "page-dump") note("console", crash_signature(cf), false);
    // A run that failed or ended in an error without any of the above (a timeout, a guest that
    // hung or crashed unreported, an undeclared case) is a failure too: by its reason.
    if ((r.verdict == Verdict::Fail || r.verdict == Verdict::Error) && notes.size() == first_note)
      note("verdict", fmt::format("verdict {}: {}", verdict_name(r.verdict), normalized(one_line(r.reason, 200))),
           false);
  }
  // A known finding whose scenario ran and whose check passed, on a kernel not listed as unaffected.
  for (const auto& f : reg) {
    if (f.status == "fixed" || f.scenario.empty()) continue;
    for (const auto& sig : f.signatures) {
      if (sig.rfind("step ", 0) == 0 || sig.rfind("console ", 0) == 0) continue;
      const std::string check = sig.substr(0, sig.find(' '));
      for (const auto& r : results) {
        if (r.scenario != scenario_name(f.scenario) || listed(f.unaffected, r.kernel)) continue;
        bool passed = false, failed = false;
        for (const auto& c : r.checks) {
          if (c.name != check) continue;
          passed |= c.status == CheckStatus::Pass || c.status == CheckStatus::XPass;
          failed |= c.status == CheckStatus::Fail || c.status == CheckStatus::XFail;
        }
        if (passed && !failed) {
          FindingNote n;
          n.kind = FindingNote::NotSeen;
          n.scenario = r.scenario;
          n.kernel = r.kernel;
          n.check = check;
          n.signature = sig;
          n.finding = &f;
          notes.push_back(n);
        }
      }
    }
  }
  return notes;
}

}  // namespace rig
