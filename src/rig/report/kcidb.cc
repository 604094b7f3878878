#include "rig/report/kcidb.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdint>
#include <regex>
#include <set>

#include "rig/base/atomic_file.h"
#include "rig/base/errors.h"
#include "rig/base/text.h"

namespace rig {
namespace {

using nlohmann::json;

// FNV-1a, 64 bits: stable across compilers and runs (std::hash is neither).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The parts, each ended by a NUL (no part can run into the next), hashed as 16 hex digits.
std::string hash_hex(const std::vector<std::string>& parts) {
  std::string key;
  for (const auto& p : parts) key += p + '\0';
  return fmt::format("{:016x}", fnv1a(key));
}

// Text fit for the schema's string patterns ("^[^\0]*$"): NUL bytes dropped.
std::string clean(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '\0') out += c;
  return out;
}

// A log_excerpt: clean, and cut (at a UTF-8 character boundary, with a note) to the schema's
// maxLength, which counts characters: no more bytes than that is never more characters.
std::string excerpt(const std::string& s) {
  std::string t = clean(s);
  if (t.size() <= kKcidbMaxExcerpt) return t;
  const std::string note = "\n[... cut to KCIDB's log_excerpt limit]\n";
  size_t keep = kKcidbMaxExcerpt - note.size();
  while (keep > 0 && (static_cast<unsigned char>(t[keep]) & 0xC0) == 0x80) --keep;
  return t.substr(0, keep) + note;
}

// One URL path segment: unreserved bytes and the sub-delimiters a run folder's name has ('+' of
// 6.12.117+deb12) as they are, everything else %XX.
std::string url_segment(const std::string& s) {
  // "." and ".." would name the folder itself or its parent: their dots are encoded.
  if (s == "." || s == "..") return s == "." ? "%2E" : "%2E%2E";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '@' || c == ':')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// The last component of a path ("" for none).
std::string base_name(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string run_name(const ScenarioResult& r) {
  return r.run > 1 ? fmt::format("{}#{}", r.scenario, r.run) : r.scenario;
}

std::string check_line(const CheckRecord& c) {
  std::string out = fmt::format("{} case {} {} ({}): {}", check_status_name(c.status), c.case_no, c.name,
                                c.step < 0 ? std::string("at boot") : fmt::format("step {}", c.step), c.detail);
  if (!c.evidence.empty()) out += " (evidence: " + c.evidence + ")";
  out += "\n";
  for (const auto& p : c.pages)
    out += fmt::format("  pfn {:#x} {}: expected {}, seen {}\n", p.pfn, p.roles, p.expected, p.seen);
  return out;
}

// The run's start as results.json records it (utc_iso8601): an RFC 3339 date-time, which is what
// KCIDB's start_time takes; anything else in a results file read back is left out.
bool valid_start(const std::string& s) {
  static const std::regex iso("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z");
  return std::regex_match(s, iso);
}

std::string run_excerpt(const ScenarioResult& r) {
  std::string out = r.reason.empty() ? "" : r.reason + "\n";
  for (const auto& c : r.checks)
    if (c.status != CheckStatus::Pass && c.status != CheckStatus::NotApplicable) out += check_line(c);
  for (const auto& x : r.xpass)
    out += fmt::format("xpass: xfail entry case {} {} ({}) no longer fails: {}\n", x.case_no, x.check,
                       x.kernel.empty() ? "every kernel" : x.kernel, x.evidence);
  for (const auto& f : r.console_findings) {
    out += fmt::format("console {} ({}), line {}: {}\n", f.kind, severity_name(f.severity), f.line_no, f.headline);
    for (const auto& l : f.lines) out += "  " + l + "\n";
  }
  return out;
}

json environment(const ScenarioResult& r) {
  const std::string backend = r.backend.empty() ? "qemu" : r.backend;
  std::string comment = backend + " guest";
  if (!r.accel.empty()) comment += ", accel " + r.accel;
  if (!r.cpu.empty()) comment += ", cpu " + r.cpu;
  return {{"comment", clean(comment)}, {"misc", {{"backend", backend}, {"accel", r.accel}, {"cpu", r.cpu}}}};
}

// The document under construction: ids handed out once each, issues once each.
class Builder {
 public:
  explicit Builder(const KcidbOptions& o) : o_(o) {}

  void add(const ScenarioResult& r) {
    const std::string kernel = hash_hex({r.kernel, r.kernel_name, r.kernel_path});
    const std::string build_id = o_.origin + ":build-" + kernel;
    if (kernels_.insert(kernel).second) add_kernel(r, kernel, build_id);

    const std::string id =
        unique(o_.origin + ":run-" + hash_hex({kernel, r.scenario, std::to_string(r.run), r.artifacts}));
    const std::string path = "rig." + kcidb_path_part(r.scenario);
    json t = {{"id", id},
              {"build_id", build_id},
              {"origin", o_.origin},
              {"path", path},
              {"status", kcidb_status(r.verdict)},
              {"comment", clean(fmt::format("{} on {}: {}{}", run_name(r), r.kernel, verdict_name(r.verdict),
                                            r.reason.empty() ? "" : " (" + one_line(r.reason, 200) + ")"))},
              {"duration", r.duration_s},
              {"environment", environment(r)}};
    if (valid_start(r.started)) t["start_time"] = r.started;
    const std::string log = run_excerpt(r);
    if (!log.empty()) t["log_excerpt"] = excerpt(log);
    json misc = {{"rig_verdict", verdict_name(r.verdict)}, {"run", r.run}, {"kernel_release", r.kernel}};
    if (!r.artifacts.empty()) misc["artifacts"] = r.artifacts;
    if (!r.reproducer.empty()) misc["reproducer"] = r.reproducer;
    t["misc"] = misc;
    if (!o_.artifacts_url.empty() && !r.artifacts.empty()) {
      std::string base = o_.artifacts_url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      base += "/" + url_segment(base_name(r.artifacts)) + "/";
      t["log_url"] = base + "console.log";
      t["output_files"] = json::array({{{"name", "result.json"}, {"url", base + "result.json"}}});
    }
    tests_.push_back(t);

    // The run's known failures: the issues its xfail checks matched, and the stale entries.
    std::set<std::string> linked;
    for (const auto& c : r.checks)
      if (c.status == CheckStatus::XFail && linked.insert(issue(c.case_no, c.name, c.evidence)).second)
        incident(id, issue(c.case_no, c.name, c.evidence), true);
    for (const auto& x : r.xpass)
      if (linked.insert(issue(x.case_no, x.check, x.evidence)).second)
        incident(id, issue(x.case_no, x.check, x.evidence), false);

    for (size_t i = 0; i < r.checks.size(); ++i)
      add_check(r, r.checks[i], id + "." + std::to_string(i), build_id, path);
  }

  json document() const {
    return {{"version", {{"major", kKcidbMajor}, {"minor", kKcidbMinor}}},
            {"checkouts", checkouts_},
            {"builds", builds_},
            {"tests", tests_},
            {"issues", issues_},
            {"incidents", incidents_}};
  }

 private:
  void add_kernel(const ScenarioResult& r, const std::string& kernel, const std::string& build_id) {
    const std::string checkout_id = o_.origin + ":checkout-" + kernel;
    const json about = {{"kernel_release", r.kernel}, {"kernel_name", r.kernel_name}, {"kernel_path", r.kernel_path}};
    const std::string name = r.kernel.empty() ? r.kernel_name : r.kernel;
    checkouts_.push_back({{"id", checkout_id},
                          {"origin", o_.origin},
                          {"comment", clean("Linux " + name)},
                          {"valid", true},
                          {"misc", about}});
    json b = {{"id", build_id},
              {"checkout_id", checkout_id},
              {"origin", o_.origin},
              {"architecture", "x86_64"},
              {"comment", clean(fmt::format("Linux {} ({})", name, r.kernel_path))},
              {"status", "PASS"},
              {"misc", about}};
    // A name the user gave (debian-6.1, debian:6.12.5), not a path, names the configuration.
    if (!r.kernel_name.empty() && r.kernel_name.find('/') == std::string::npos) b["config_name"] = clean(r.kernel_name);
    builds_.push_back(b);
  }

  void add_check(const ScenarioResult& r, const CheckRecord& c, const std::string& id, const std::string& build_id,
                 const std::string& run_path) {
    json misc = {{"rig_status", check_status_name(c.status)}, {"case", c.case_no}, {"step", c.step}};
    if (!c.evidence.empty()) misc["evidence"] = c.evidence;
    const std::string test_id = unique(id);
    json t = {{"id", test_id},
              {"build_id", build_id},
              {"origin", o_.origin},
              {"path", run_path + "." + kcidb_path_part(c.name)},
              {"status", kcidb_status(c.status)},
              {"comment", clean(fmt::format("{} on {}: case {} {} ({})", run_name(r), r.kernel, c.case_no, c.name,
                                            c.step < 0 ? std::string("at boot") : fmt::format("step {}", c.step)))},
              {"log_excerpt", excerpt(check_line(c))},
              {"environment", environment(r)},
              {"misc", misc}};
    if (valid_start(r.started)) t["start_time"] = r.started;  // a check is judged within its run
    tests_.push_back(t);
    if (c.status == CheckStatus::XFail || c.status == CheckStatus::XPass)
      incident(test_id, issue(c.case_no, c.name, c.evidence), c.status == CheckStatus::XFail);
  }

  // The issue of one xfail entry (its case, check and write-up), added once; its id.
  std::string issue(int case_no, const std::string& check, const std::string& evidence) {
    const std::string id = o_.origin + ":xfail-" + hash_hex({std::to_string(case_no), check, evidence});
    if (issue_ids_.insert(id).second)
      issues_.push_back(
          {{"id", id},
           {"version", 1},
           {"origin", o_.origin},
           {"comment", clean(fmt::format("Known failure: spec case {} check {} ({})", case_no, check, evidence))},
           {"culprit", {{"code", true}, {"tool", false}, {"harness", false}}},
           {"misc", {{"case", case_no}, {"check", check}, {"evidence", evidence}}}});
    return id;
  }

  void incident(const std::string& test_id, const std::string& issue_id, bool present) {
    incidents_.push_back({{"id", o_.origin + ":incident-" + hash_hex({test_id, issue_id})},
                          {"origin", o_.origin},
                          {"issue_id", issue_id},
                          {"issue_version", 1},
                          {"test_id", test_id},
                          {"present", present}});
  }

  // `id`, or with -2, -3, ... when the document already has it (two results of one run folder).
  std::string unique(const std::string& id) {
    std::string u = id;
    for (int n = 2; !test_ids_.insert(u).second; ++n) u = id + "-" + std::to_string(n);
    return u;
  }

  const KcidbOptions& o_;
  std::set<std::string> kernels_, test_ids_, issue_ids_;
  json checkouts_ = json::array(), builds_ = json::array(), tests_ = json::array(), issues_ = json::array(),
       incidents_ = json::array();
};

}  // namespace

void check_kcidb_options(const KcidbOptions& o, const std::string& origin_option, const std::string& url_option) {
  bool origin_ok = !o.origin.empty();
  for (char c : o.origin) origin_ok = origin_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!origin_ok)
    throw UsageError(fmt::format("{} {}: a KCIDB origin is lower-case letters, digits and '_'", origin_option,
                                 one_line(o.origin, 80)));
  if (o.artifacts_url.empty()) return;
  bool url_ok = o.artifacts_url.rfind("https://", 0) == 0 || o.artifacts_url.rfind("http://", 0) == 0;
  for (unsigned char c : o.artifacts_url) url_ok = url_ok && c > ' ' && c != 0x7f;
  if (!url_ok)
    throw UsageError(fmt::format("{} {}: must be an http:// or https:// URL without blanks", url_option,
                                 one_line(o.artifacts_url, 120)));
}

std::string kcidb_path_part(const std::string& name) {
  if (name.empty()) return "_";
  std::string out;
  for (char c : name)
    out +=
        ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') ? c : '_';
  return out;
}

const char* kcidb_status(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "PASS";
    case Verdict::Fail: return "FAIL";
    case Verdict::Error: return "ERROR";
    case Verdict::Skip: return "SKIP";
    case Verdict::XFail: return "FAIL";  // the kernel has the bug; the incident links its issue
    case Verdict::XPass: return "PASS";  // the code passed; the incident says the issue is absent
  }
  return "ERROR";
}

const char* kcidb_status(CheckStatus s) {
  switch (s) {
    case CheckStatus::Pass: return "PASS";
    case CheckStatus::Fail: return "FAIL";
    case CheckStatus::XFail: return "FAIL";
    case CheckStatus::XPass: return "PASS";
    case CheckStatus::NotApplicable: return "SKIP";
  }
  return "ERROR";
}

nlohmann::json kcidb_report(const std::vector<ScenarioResult>& results, const KcidbOptions& o) {
  check_kcidb_options(o);
  Builder b(o);
  for (const auto& r : results) b.add(r);
  return b.document();
}

void write_kcidb_file(const std::vector<ScenarioResult>& results, const KcidbOptions& o, const std::string& path) {
  // Bytes that are not UTF-8 (a console line, say) become U+FFFD rather than failing the write.
  write_file_atomically(path,
                        kcidb_report(results, o).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace rig
