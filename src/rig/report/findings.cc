#include "rig/report/findings.h"

#include "rig/base/exit_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <regex>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "rig/base/errors.h"
#include "rig/base/text.h"
#include "rig/spec/judge.h"

namespace rig {

namespace {

// Numbers (decimal, hex) as N, lists of them as one N, runs of spaces as one, trimmed. With
// `keep_nodes`, a number after "node " stays: which node is part of the defect.
std::string normalized(const std::string& text, bool keep_nodes = false) {
  // Addresses: 0x..., and bare hex words of 8 or more digits (ffff8881abcd1234), then decimals.
  static const std::regex number("(0x[0-9a-fA-F]+|\\b[0-9a-fA-F]{8,}\\b|[0-9]+)");
  static const std::regex list("N( \\(N\\))?((, | and )N( \\(N\\))?)+");
  std::string masked;
  size_t at = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it) {
    const auto pos = static_cast<size_t>(it->position());
    masked += text.substr(at, pos - at);
    const bool node_id = keep_nodes && pos >= 5 && text.compare(pos - 5, 5, "node ") == 0;
    masked += node_id ? it->str() : "N";
    at = pos + it->str().size();
  }
  masked += text.substr(at);
  std::string s = std::regex_replace(masked, list, "N...");
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

// A check without pages (MemTotal, cycles): its first clause, and how far off it is.
std::string detail_problem(const std::string& detail) {
  std::string p = normalized(before_colon(detail));
  static const std::regex off("(short|over) by [0-9]+ pages$");
  std::smatch m;
  if (std::regex_search(detail, m, off)) p += "; " + m.str();  // how far off is part of the defect
  return p;
}

// A counters check: every clause but what was expected ("expected ...", "the model expects
// ..."), node ids kept, how far off kept, a node state's lists of nodes kept ("has_normal_memory:
// 0 before, 0,1 after": node 1 joined).
std::string counters_problem(const std::string& detail) {
  static const std::regex off("(short|over) by [0-9]+ pages");
  static const std::regex node_state("[a-z_]+: [0-9,]* before, [0-9,]* after");
  std::string out;
  size_t at = 0;
  while (at <= detail.size()) {
    size_t end = detail.find("; ", at);
    if (end == std::string::npos) end = detail.size();
    const std::string clause = detail.substr(at, end - at);
    at = end + 2;
    if (clause.empty() || clause.rfind("expected ", 0) == 0 || clause.rfind("the model expects", 0) == 0) continue;
    const bool verbatim = std::regex_match(clause, off) || std::regex_match(clause, node_state);
    out += (out.empty() ? "" : "; ") + (verbatim ? clause : normalized(clause, true));
  }
  return out;
}

// The free-memory cycles check: how much a cycle lost for good, the median of the cycles that
// lost more than the slack, in MiB (a cycle's reading wanders by a few hundred kB).
std::string cycles_problem(const std::string& detail) {
  // At most 15 digits: a results file from elsewhere cannot make the number overflow.
  static const std::regex lost(
      "cycle [0-9]+ lost ([0-9]{1,15}) kB of free memory(, ([0-9]{1,15}) kB of it never came back)?");
  std::vector<long long> kb;
  for (auto it = std::sregex_iterator(detail.begin(), detail.end(), lost); it != std::sregex_iterator(); ++it)
    kb.push_back(std::stoll((*it)[3].matched ? (*it)[3].str() : (*it)[1].str()));
  if (kb.empty()) return detail_problem(detail);
  std::sort(kb.begin(), kb.end());
  const long long median = kb[kb.size() / 2];
  return fmt::format("a cycle lost about {} MiB of free memory for good", (median + 512) / 1024);
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
  if (c.pages.empty())
    problems.insert(c.name.rfind("counters-", 0) == 0        ? counters_problem(c.detail)
                    : c.name == "cycles-no-free-memory-leak" ? cycles_problem(c.detail)
                                                             : detail_problem(c.detail));
  return fmt::format("{} [{}] {}", c.name, join(kinds, ","), join(problems, " | "));
}

std::string step_signature(const StepResult& s) {
  return fmt::format("step {} {}: {} (expected {})", s.action, s.target, s.outcome, s.expected);
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
  static const std::set<std::string> keys = {"title",      "status",    "signatures", "first_seen", "affected",
                                             "unaffected", "first_bad", "last_good",  "last_bad",   "fixed_in",
                                             "scenario",   "writeup",   "reported",   "note"};
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
  f.last_bad = str("last_bad", false);
  if (f.status == "fixed" && f.fixed_in.empty())
    throw UsageError(fmt::format("{}: status 'fixed' needs 'fixed_in'", file));
  f.scenario = str("scenario", false);
  f.writeup = str("writeup", false);
  f.reported = str("reported", false);
  f.note = str("note", false);
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
      return fmt::format("known {} ({}{}): {} on {}: {}{}", finding->id, finding->status,
                         finding->fixed_in.empty() ? "" : ", fixed in " + finding->fixed_in, scenario, kernel, check,
                         seen_in());
    case NotSeen:
      return fmt::format("not seen {}: {} on {} passed {}{}: fixed in {}? (the register lists it {}; affected: {})",
                         finding->id, scenario, kernel, check, runs > 1 ? fmt::format(" in all {} runs", runs) : "",
                         kernel, finding->status, [&] {
                           std::string a;
                           for (const auto& k : finding->affected) a += (a.empty() ? "" : ", ") + k;
                           return a.empty() ? std::string("none listed") : a;
                         }());
    case New: break;
  }
  return fmt::format("NEW {} on {}: {}{} (no entry in rig/findings/ has this signature)", scenario, kernel, signature,
                     seen_in());
}

std::string FindingNote::seen_in() const {
  return runs > 1 ? fmt::format(" (seen in {} of {} runs)", seen, runs) : std::string();
}

std::vector<Failure> failures_of(const ScenarioResult& r) {
  std::vector<Failure> out;
  for (size_t i = 0; i < r.checks.size(); ++i) {
    const CheckRecord& c = r.checks[i];
    if (c.status != CheckStatus::Fail && c.status != CheckStatus::XFail) continue;
    Failure f;
    f.check = c.name;
    f.signature = failure_signature(c);
    f.step = c.step;
    f.headline = fmt::format("{}: {}", c.name, one_line(c.detail, 300));
    f.check_index = static_cast<int>(i);
    f.xfail = c.status == CheckStatus::XFail;
    out.push_back(f);
  }
  // A step that ended otherwise than the scenario asked (an unplug refused that must go).
  for (const auto& st : r.steps)
    if (!st.ok && !st.outcome.empty() && st.outcome != "timeout") {
      Failure f;
      f.kind = Failure::Step;
      f.check = fmt::format("step {}", st.index);
      f.signature = step_signature(st);
      f.step = st.index;
      f.target = st.target;
      f.headline = fmt::format("{} {}: expected {}, got {}: {}", st.action, st.target, st.expected, st.outcome,
                               one_line(st.detail, 200));
      out.push_back(f);
    }
  // Kernel reports (BUG, Oops, panic, KASAN, bad page state, warnings, stalls); a refused
  // offline's page dump is evidence of a step, not a report of its own.
  for (const auto& cf : r.console_findings)
    if (cf.severity != Severity::Notice && cf.kind != "page-dump") {
      Failure f;
      f.kind = Failure::Report;
      f.check = "console";
      f.signature = crash_signature(cf);
      f.headline = one_line(cf.headline, 300);
      out.push_back(f);
    }
  // A run that failed or ended in an error without any of the above (a timeout, a guest that
  // hung or crashed unreported, an undeclared case) is a failure too: by its reason.
  if ((r.verdict == Verdict::Fail || r.verdict == Verdict::Error) && out.empty()) {
    Failure f;
    f.kind = Failure::Verdict;
    f.check = "verdict";
    f.signature = fmt::format("verdict {}: {}", verdict_name(r.verdict), normalized(one_line(r.reason, 200)));
    f.headline = one_line(r.reason, 300);
    out.push_back(f);
  }
  return out;
}

FindingPresence finding_presence(const RegisteredFinding& f, const ScenarioResult& r) {
  FindingPresence j;
  for (const auto& x : failures_of(r))
    if (has(f.signatures, x.signature)) {
      j.kind = FindingPresence::Shows;
      j.why = fmt::format("{} on {}: {}", r.scenario, r.kernel, x.headline);
      return j;
    }
  // Could it have shown in this run?
  std::vector<std::string> judged, otherwise, not_judged;
  for (const auto& sig : f.signatures) {
    if (sig.rfind("step ", 0) == 0) {
      // "step ACTION TARGET: OUTCOME (expected E)": a step of that action and target that was
      // to end E ran and did (an earlier unplug of the same DIMM expected to be refused says
      // nothing of this one).
      const std::string head =
          sig.substr(5, sig.find(':') == std::string::npos ? std::string::npos : sig.find(':') - 5);
      const size_t e = sig.rfind("(expected ");
      const std::string expected =
          e == std::string::npos || sig.back() != ')' ? "" : sig.substr(e + 10, sig.size() - e - 11);
      for (const auto& st : r.steps)
        if (st.ok && head == st.action + " " + st.target && (expected.empty() || st.expected == expected))
          judged.push_back(fmt::format("step {} {} ended {}", st.action, st.target, st.outcome));
    } else if (sig.rfind("console ", 0) == 0 || sig.rfind("verdict ", 0) == 0) {
      // Only a run that got to its end could have shown it: no error, no other kernel report
      // that may have ended it first.
      const auto other = std::find_if(r.console_findings.begin(), r.console_findings.end(),
                                      [](const ConsoleFinding& cf) { return cf.severity != Severity::Notice; });
      if (other != r.console_findings.end())
        not_judged.push_back(fmt::format("another kernel report first: {}", one_line(other->headline, 120)));
      else if (r.verdict != Verdict::Error)
        judged.push_back("the run got to its end without that report");
    } else {
      const std::string check = sig.substr(0, sig.find(' '));
      for (const auto& c : r.checks) {
        if (c.name != check) continue;
        if (c.status == CheckStatus::Pass || c.status == CheckStatus::XPass)
          judged.push_back(check + " passed");
        else if (c.status == CheckStatus::Fail || c.status == CheckStatus::XFail)
          otherwise.push_back(fmt::format("{} failed otherwise: {}", check, failure_signature(c)));
        else if (c.status == CheckStatus::NotApplicable)
          not_judged.push_back(fmt::format("{} n/a: {}", check, one_line(c.detail, 300)));
      }
    }
  }
  std::sort(judged.begin(), judged.end());
  judged.erase(std::unique(judged.begin(), judged.end()), judged.end());
  if (!judged.empty()) {
    j.kind = FindingPresence::Absent;
    j.why = fmt::format("{}: {}", r.scenario, fmt::join(judged, ", "));
    return j;
  }
  j.why = !otherwise.empty()    ? fmt::format("{}: {}", r.scenario, otherwise.front())
          : !not_judged.empty() ? fmt::format("{}: {}", r.scenario, not_judged.front())
                                : fmt::format("{}: none of the finding's checks or steps ran ({}{})", r.scenario,
                                              verdict_name(r.verdict), r.reason.empty() ? "" : ": " + r.reason);
  return j;
}

size_t restrict_to_finding(ScenarioResult& r, const RegisteredFinding& f, std::vector<std::string>* left_out) {
  auto mine = [&](const std::string& sig) { return has(f.signatures, sig); };
  auto leave = [&](const std::string& what, const std::string& sig) {
    if (left_out) left_out->push_back(fmt::format("{}: {}", what, sig));
  };
  size_t kept = 0;
  for (auto& c : r.checks) {
    if (c.status != CheckStatus::Fail && c.status != CheckStatus::XFail) continue;
    const std::string sig = failure_signature(c);
    if (mine(sig)) {
      c.status = CheckStatus::Fail;
      c.xfail = false;
      // The run's reason may be another failure's: say this one's (as judge.cc words it).
      if (kept == 0) r.reason = fmt::format("case {} check {} failed: {}", c.case_no, c.name, c.detail);
      ++kept;
    } else {
      leave(c.name, sig);
      c.status = CheckStatus::NotApplicable;
      c.detail = fmt::format("not finding {}, left out: {}", f.id, c.detail);
      c.pages.clear();
    }
  }
  for (auto& st : r.steps) {
    if (st.ok || st.outcome.empty() || st.outcome == "timeout") continue;
    if (mine(step_signature(st))) {
      // The run's reason may be another failure's: say this one's.
      if (kept == 0)
        r.reason = fmt::format("step {} {} {}: expected {}, got {}: {}", st.index, st.action, st.target, st.expected,
                               st.outcome, one_line(st.detail, 200));
      ++kept;
    } else {
      leave(fmt::format("step {}", st.index), step_signature(st));
      st.ok = true;
    }
  }
  std::vector<ConsoleFinding> reports;
  for (const auto& cf : r.console_findings) {
    if (cf.severity == Severity::Notice) {
      reports.push_back(cf);  // a refused offline's page dump: evidence of its step, not a report
    } else if (mine(crash_signature(cf))) {
      if (kept == 0)
        r.reason = fmt::format("kernel reported {} (console line {}): {}", cf.kind, cf.line_no, cf.headline);
      reports.push_back(cf);
      ++kept;
    } else {
      leave("console", crash_signature(cf));
    }
  }
  r.console_findings = reports;
  return kept;
}

const RegisteredFinding* registered_finding(const std::vector<RegisteredFinding>& reg, const std::string& scenario,
                                            const std::string& kernel, const Failure& failure) {
  const RegisteredFinding* found = nullptr;
  for (const auto& f : reg)
    if (has(f.signatures, failure.signature) && !listed(f.unaffected, kernel) &&
        (failure.kind != Failure::Step || f.scenario.empty() || scenario_name(f.scenario) == scenario))
      found = &f;
  return found;
}

std::vector<FindingNote> match_findings(std::vector<ScenarioResult>& results,
                                        const std::vector<RegisteredFinding>& reg) {
  // Runs of each scenario on each kernel (--repeat N gives N; results files added up, their sum).
  std::map<std::pair<std::string, std::string>, int> runs;
  for (const auto& r : results) ++runs[{r.scenario, r.kernel}];
  // One note per failure, scenario, kernel and check, with the runs that showed it: a failure
  // seen in some repeats and not in others is one note, "seen in k of N runs".
  std::vector<FindingNote> notes;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::pair<size_t, std::set<size_t>>> index;
  for (size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    for (const auto& failure : failures_of(r)) {
      const RegisteredFinding* known = registered_finding(reg, r.scenario, r.kernel, failure);
      if (failure.kind == Failure::Check)
        r.checks[static_cast<size_t>(failure.check_index)].finding = known ? known->id : std::string("new");
      const auto key = std::make_tuple(r.scenario, r.kernel, failure.check, failure.signature);
      auto it = index.find(key);
      if (it == index.end()) {
        FindingNote n;
        n.scenario = r.scenario;
        n.kernel = r.kernel;
        n.check = failure.check;
        n.signature = failure.signature;
        n.finding = known;
        n.kind = known ? FindingNote::Known : FindingNote::New;
        n.runs = runs[{r.scenario, r.kernel}];
        it = index.emplace(key, std::make_pair(notes.size(), std::set<size_t>{})).first;
        notes.push_back(n);
      }
      it->second.second.insert(i);
      notes[it->second.first].seen = static_cast<int>(it->second.second.size());
    }
  }
  // A known finding not marked fixed whose scenario ran and whose check passed in every run of it
  // on a kernel the entry does not list as unaffected: not seen (one note for all the runs). Seen
  // in any run of them, its note above says in how many.
  for (const auto& f : reg) {
    if (f.status == "fixed" || f.scenario.empty()) continue;
    std::set<std::tuple<std::string, std::string, std::string>> said;
    for (const auto& sig : f.signatures) {
      if (sig.rfind("step ", 0) == 0 || sig.rfind("console ", 0) == 0) continue;
      const std::string check = sig.substr(0, sig.find(' '));
      for (const auto& r : results) {
        if (r.scenario != scenario_name(f.scenario) || listed(f.unaffected, r.kernel)) continue;
        if (!said.insert({r.scenario, r.kernel, check}).second) continue;
        const bool seen = std::any_of(notes.begin(), notes.end(), [&](const FindingNote& n) {
          return n.finding == &f && n.scenario == r.scenario && n.kernel == r.kernel;
        });
        bool passed = false, failed = false;
        for (const auto& x : results) {
          if (x.scenario != r.scenario || x.kernel != r.kernel) continue;
          for (const auto& c : x.checks) {
            if (c.name != check) continue;
            passed |= c.status == CheckStatus::Pass || c.status == CheckStatus::XPass;
            failed |= c.status == CheckStatus::Fail || c.status == CheckStatus::XFail;
          }
        }
        if (seen || !passed || failed) continue;
        FindingNote n;
        n.kind = FindingNote::NotSeen;
        n.scenario = r.scenario;
        n.kernel = r.kernel;
        n.check = check;
        n.signature = sig;
        n.finding = &f;
        n.runs = runs[{r.scenario, r.kernel}];
        notes.push_back(n);
      }
    }
  }
  return notes;
}

int exit_status_failing_on_new(const std::vector<ScenarioResult>& results, const std::vector<FindingNote>& notes) {
  const bool fresh =
      std::any_of(notes.begin(), notes.end(), [](const FindingNote& n) { return n.kind == FindingNote::New; });
  const bool error =
      std::any_of(results.begin(), results.end(), [](const ScenarioResult& r) { return r.verdict == Verdict::Error; });
  return exit_status(fresh, error);
}

}  // namespace rig
