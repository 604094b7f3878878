// The KCIDB document: ids, paths and statuses, and the whole of it against KCIDB's own schema
// (tests/data/kcidb/schema.json, checked by validate.py with python3-jsonschema).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include "rig/base/errors.h"
#include "rig/base/shell.h"
#include "rig/base/text.h"
#include "rig/report/kcidb.h"
#include "rig/report/results_report.h"
#include "test_data.h"

using namespace rig;
using nlohmann::json;

namespace {

std::vector<ScenarioResult> recorded(const std::string& name) {
  return report_from_json(json::parse(rig_test::data("report/" + name + "/results.json"))).results;
}

CheckRecord check(int step, int case_no, const std::string& name, CheckStatus status, const std::string& detail,
                  const std::string& evidence = "") {
  CheckRecord c;
  c.step = step;
  c.case_no = case_no;
  c.name = name;
  c.status = status;
  c.ok = status != CheckStatus::Fail && status != CheckStatus::XFail;
  c.xfail = status == CheckStatus::XFail;
  c.detail = detail;
  c.evidence = evidence;
  return c;
}

ScenarioResult result(const std::string& scenario, Verdict v, const std::string& reason = "") {
  ScenarioResult r;
  r.scenario = scenario;
  r.kernel = "6.12.117+deb12-amd64";
  r.kernel_name = "debian-6.12";
  r.kernel_path = "/boot/vmlinuz-6.12.117+deb12-amd64";
  r.verdict = v;
  r.reason = reason;
  r.duration_s = 12.5;
  r.accel = "tcg";
  r.cpu = "max";
  r.artifacts = "/nightly/runs/" + scenario + "--6.12.117+deb12-amd64--20261203-020000";
  r.started = "2026-12-03T02:00:00Z";
  return r;
}

// One of each verdict and check status, a check name with a dot, an excerpt far over the limit
// with multi-byte characters and a NUL byte in it, a console finding and a stale xfail entry.
std::vector<ScenarioResult> every_kind() {
  std::vector<ScenarioResult> rs;
  ScenarioResult pass = result("unplug-one", Verdict::Pass);
  pass.checks = {check(-1, 1, "boot-tags-memmap", CheckStatus::Pass, "memmap tagged"),
                 check(0, 1, "usage-freed", CheckStatus::NotApplicable, "no usage map in this range")};
  rs.push_back(pass);

  ScenarioResult fail = result("unplug-two", Verdict::Fail, "case 1 page-tables-freed failed");
  std::string huge = "held: ";
  while (huge.size() < 40000) huge += "pfn \xC3\xA9\xE2\x82\xAC kept ";  // é and €: 2 and 3 bytes
  huge += std::string("nul:") + '\0' + "end";
  CheckRecord failed = check(0, 1, "page-tables-freed", CheckStatus::Fail, huge);
  failed.pages.push_back({0x12345, "pte-table", "freed", "held", ""});
  fail.checks = {failed, check(0, 2, "removed.memory.gone", CheckStatus::Pass, "gone")};
  ConsoleFinding f;
  f.kind = "warning";
  f.headline = "WARNING: CPU: 0 PID: 1 at mm/memory_hotplug.c:1234";
  f.line_no = 300;
  f.lines = {"Call Trace:", " <TASK>"};
  fail.console_findings.push_back(f);
  fail.reproducer = "/nightly/runs/unplug-two--x/reproducer";
  rs.push_back(fail);

  ScenarioResult xfail = result("boot-dimm-64g", Verdict::XFail, "known failure");
  xfail.checks = {
      check(0, 1, "memtotal-node-0", CheckStatus::XFail, "MemTotal did not drop", "docs/known-failures.md#memtotal")};
  rs.push_back(xfail);

  ScenarioResult xpass = result("unplug-movable", Verdict::XPass, "stale xfail entry");
  xpass.checks = {check(0, 5, "pgdat-kept", CheckStatus::XPass, "kept", "docs/known-failures.md#pgdat")};
  ExpectedFailure stale;
  stale.case_no = 5;
  stale.check = "pgdat-kept";
  stale.kernel = "6.12.";
  stale.evidence = "docs/known-failures.md#pgdat";
  xpass.xpass = {stale};
  rs.push_back(xpass);

  rs.push_back(result("needs-numa", Verdict::Skip, "the libvirt backend cannot express this topology"));
  ScenarioResult error = result("boot-fails", Verdict::Error, "the guest did not boot within 120 s");
  error.artifacts.clear();
  rs.push_back(error);
  return rs;
}

std::vector<ScenarioResult> all_results() {
  auto rs = recorded("two-kernels");
  for (auto& r : recorded("fail-64g")) rs.push_back(r);
  for (auto& r : every_kind()) rs.push_back(r);
  return rs;
}

const json* test_with_path(const json& doc, const std::string& path) {
  for (const auto& t : doc["tests"])
    if (t["path"] == path) return &t;
  return nullptr;
}

// The interpreter setup.sh gives python3-jsonschema to (Debian's), else whatever python3 is.
std::string python() { return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

// Runs validate.py on `doc`; its exit status, with what it printed in `output`.
int validate(const json& doc, std::string* output) {
  rig_test::ScratchDir dir;
  EXPECT_FALSE(dir.path.empty());
  const std::string file = dir.path + "/kcidb.json";
  std::ofstream(file) << doc.dump(2, ' ', false, json::error_handler_t::replace);
  const std::string data = std::string(RIG_TEST_DATA) + "/kcidb/";
  int status = -1;
  *output =
      rig_test::run_shell(shell_join({python(), data + "validate.py", data + "schema.json", file}) + " 2>&1", &status);
  return status;
}

}  // namespace

TEST(Kcidb, StatusesMapOntoKcidbs) {
  EXPECT_STREQ(kcidb_status(Verdict::Pass), "PASS");
  EXPECT_STREQ(kcidb_status(Verdict::Fail), "FAIL");
  EXPECT_STREQ(kcidb_status(Verdict::Error), "ERROR");
  EXPECT_STREQ(kcidb_status(Verdict::Skip), "SKIP");
  EXPECT_STREQ(kcidb_status(Verdict::XFail), "FAIL") << "the kernel has the bug; an incident names the issue";
  EXPECT_STREQ(kcidb_status(Verdict::XPass), "PASS");
  EXPECT_STREQ(kcidb_status(CheckStatus::Pass), "PASS");
  EXPECT_STREQ(kcidb_status(CheckStatus::Fail), "FAIL");
  EXPECT_STREQ(kcidb_status(CheckStatus::XFail), "FAIL");
  EXPECT_STREQ(kcidb_status(CheckStatus::XPass), "PASS");
  EXPECT_STREQ(kcidb_status(CheckStatus::NotApplicable), "SKIP");
}

TEST(Kcidb, PathPartsHaveNoDots) {
  EXPECT_EQ(kcidb_path_part("memmap-freed"), "memmap-freed");
  EXPECT_EQ(kcidb_path_part("removed.memory.gone"), "removed_memory_gone");
  EXPECT_EQ(kcidb_path_part("a b/c#1"), "a_b_c_1");
  EXPECT_EQ(kcidb_path_part(""), "_");
}

TEST(Kcidb, OptionsKcidbRefusesAreUsageErrors) {
  EXPECT_NO_THROW(check_kcidb_options({"my_lab_2", "https://lab.example/rig/nightly"}));
  for (const char* origin : {"", "Rig", "my-lab", "lab:1"})
    EXPECT_THROW(check_kcidb_options({origin, ""}), UsageError) << origin;
  for (const char* url : {"ftp://lab.example/", "/srv/runs", "https://lab.example/a b"})
    EXPECT_THROW(check_kcidb_options({"rig", url}), UsageError) << url;
  EXPECT_THROW(kcidb_report(every_kind(), {"Bad", ""}), UsageError);
  try {
    check_kcidb_options({"Bad", ""}, "--origin", "--artifacts-url");
    ADD_FAILURE() << "no UsageError";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--origin Bad: a KCIDB origin is lower-case letters, digits and '_'");
  }
}

TEST(Kcidb, OneCheckoutAndBuildPerKernelOneTestPerRunAndCheck) {
  const auto rs = recorded("two-kernels");
  const json doc = kcidb_report(rs);
  EXPECT_EQ(doc["version"]["major"], kKcidbMajor);
  EXPECT_EQ(doc["version"]["minor"], kKcidbMinor);
  ASSERT_EQ(doc["checkouts"].size(), 2u);
  ASSERT_EQ(doc["builds"].size(), 2u);
  size_t checks = 0;
  for (const auto& r : rs) checks += r.checks.size();
  EXPECT_EQ(doc["tests"].size(), rs.size() + checks);

  std::set<std::string> checkouts, builds;
  for (const auto& c : doc["checkouts"]) {
    EXPECT_EQ(c["origin"], "rig");
    EXPECT_EQ(c["id"].get<std::string>().rfind("rig:checkout-", 0), 0u);
    EXPECT_TRUE(c["valid"].get<bool>());
    checkouts.insert(c["id"].get<std::string>());
  }
  for (const auto& b : doc["builds"]) {
    EXPECT_EQ(checkouts.count(b["checkout_id"].get<std::string>()), 1u);
    EXPECT_EQ(b["architecture"], "x86_64");
    EXPECT_EQ(b["status"], "PASS");
    builds.insert(b["id"].get<std::string>());
  }
  EXPECT_EQ(doc["builds"][0]["config_name"], "debian-6.1");
  EXPECT_NE(doc["checkouts"][0]["comment"].get<std::string>().find("6.1.0-56-amd64"), std::string::npos);

  // The first run: boot-dimm-64g on 6.1, an xfail with two xfail checks.
  const json& run = doc["tests"][0];
  EXPECT_EQ(run["path"], "rig.boot-dimm-64g");
  EXPECT_EQ(run["status"], "FAIL");
  EXPECT_EQ(run["misc"]["rig_verdict"], "xfail");
  EXPECT_EQ(run["duration"], rs[0].duration_s);
  EXPECT_NE(run["environment"]["comment"].get<std::string>().find("accel tcg"), std::string::npos);
  EXPECT_EQ(run["misc"]["artifacts"], rs[0].artifacts);
  EXPECT_FALSE(run.contains("output_files")) << "local paths are no URLs";
  const json& first_check = doc["tests"][1];
  EXPECT_EQ(first_check["path"], "rig.boot-dimm-64g.boot-tags-memmap");
  EXPECT_EQ(first_check["status"], "PASS");
  EXPECT_EQ(first_check["build_id"], run["build_id"]);
  EXPECT_EQ(first_check["misc"]["case"], 1);
  EXPECT_EQ(first_check["misc"]["step"], -1);
  const json& na = doc["tests"][4];
  EXPECT_EQ(na["path"], "rig.boot-dimm-64g.boot-tags-pgdat-shared-page");
  EXPECT_EQ(na["status"], "SKIP");
  const json& xf = doc["tests"][6];
  EXPECT_EQ(xf["path"], "rig.boot-dimm-64g.page-tables-freed");
  EXPECT_EQ(xf["status"], "FAIL");
  EXPECT_EQ(xf["misc"]["rig_status"], "xfail");

  // Ids: the origin's, unique, and the same on a second conversion.
  std::set<std::string> ids;
  for (const auto& t : doc["tests"]) {
    EXPECT_TRUE(ids.insert(t["id"].get<std::string>()).second) << t["id"];
    EXPECT_EQ(t["id"].get<std::string>().rfind("rig:", 0), 0u);
    EXPECT_EQ(builds.count(t["build_id"].get<std::string>()), 1u);
  }
  EXPECT_EQ(kcidb_report(rs), doc);

  // Known failures: one issue per xfail entry, an incident for each test that showed it.
  std::set<std::string> issues;
  for (const auto& i : doc["issues"]) issues.insert(i["id"].get<std::string>());
  EXPECT_EQ(issues.size(), 3u) << doc["issues"].dump(1);  // page-tables, memtotal, pgdat-shared-page
  size_t xfail_checks = 0;
  for (const auto& r : rs)
    for (const auto& c : r.checks) xfail_checks += c.status == CheckStatus::XFail;
  size_t on_checks = 0;
  for (const auto& in : doc["incidents"]) {
    EXPECT_EQ(issues.count(in["issue_id"].get<std::string>()), 1u);
    EXPECT_EQ(ids.count(in["test_id"].get<std::string>()), 1u);
    EXPECT_TRUE(in["present"].get<bool>());
    on_checks += in["test_id"].get<std::string>().find('.') != std::string::npos;
  }
  EXPECT_EQ(on_checks, xfail_checks);
}

TEST(Kcidb, EveryKindOfResult) {
  const json doc = kcidb_report(every_kind(), {"my_lab", "https://lab.example/rig/"});
  ASSERT_EQ(doc["checkouts"].size(), 1u);
  EXPECT_EQ(doc["checkouts"][0]["id"].get<std::string>().rfind("my_lab:checkout-", 0), 0u);

  const json* fail = test_with_path(doc, "rig.unplug-two");
  ASSERT_TRUE(fail);
  EXPECT_EQ((*fail)["status"], "FAIL");
  const std::string log = (*fail)["log_excerpt"];
  EXPECT_LE(log.size(), kKcidbMaxExcerpt);
  EXPECT_EQ(log.find('\0'), std::string::npos);
  EXPECT_EQ(log.rfind("case 1 page-tables-freed failed\nfail case 1 page-tables-freed (step 0): held: ", 0), 0u)
      << log.substr(0, 200);
  EXPECT_NE(log.find("cut to KCIDB's log_excerpt limit"), std::string::npos);
  EXPECT_EQ((*fail)["misc"]["reproducer"], "/nightly/runs/unplug-two--x/reproducer");
  EXPECT_EQ((*fail)["log_url"],
            "https://lab.example/rig/unplug-two--6.12.117+deb12-amd64--20261203-020000/console.log");
  EXPECT_EQ((*fail)["output_files"][0]["name"], "result.json");

  const json* failed_check = test_with_path(doc, "rig.unplug-two.page-tables-freed");
  ASSERT_TRUE(failed_check);
  EXPECT_EQ((*failed_check)["status"], "FAIL");
  EXPECT_LE((*failed_check)["log_excerpt"].get<std::string>().size(), kKcidbMaxExcerpt);
  const json* dotted = test_with_path(doc, "rig.unplug-two.removed_memory_gone");
  ASSERT_TRUE(dotted) << "a dot in a check name is no path separator";
  EXPECT_EQ((*dotted)["status"], "PASS");

  // The console finding is in the run's excerpt (the cut keeps the start: the big check's detail
  // fills the rest, so look in a run without it).
  std::vector<ScenarioResult> small = every_kind();
  small[1].checks.pop_back();
  small[1].checks[0].detail = "held";
  const json small_doc = kcidb_report(small);
  const json* with_console = test_with_path(small_doc, "rig.unplug-two");
  ASSERT_TRUE(with_console);
  EXPECT_NE((*with_console)["log_excerpt"].get<std::string>().find("mm/memory_hotplug.c:1234"), std::string::npos);

  const json* xpass = test_with_path(doc, "rig.unplug-movable");
  ASSERT_TRUE(xpass);
  EXPECT_EQ((*xpass)["status"], "PASS");
  EXPECT_EQ((*xpass)["misc"]["rig_verdict"], "xpass");
  EXPECT_EQ((*test_with_path(doc, "rig.unplug-movable.pgdat-kept"))["status"], "PASS");
  EXPECT_EQ((*test_with_path(doc, "rig.needs-numa"))["status"], "SKIP");
  const json* error = test_with_path(doc, "rig.boot-fails");
  EXPECT_EQ((*error)["status"], "ERROR");
  EXPECT_FALSE(error->contains("log_url")) << "no artifacts folder, no URL";
  EXPECT_EQ((*test_with_path(doc, "rig.unplug-one.usage-freed"))["status"], "SKIP");

  // Every test starts when its run started (ISO 8601, UTC), its checks too; a results file read
  // back with anything else there gives no start_time rather than one KCIDB refuses.
  for (const auto& t : doc["tests"]) EXPECT_EQ(t.value("start_time", ""), "2026-12-03T02:00:00Z") << t["path"];
  EXPECT_EQ(utc_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_iso8601(1796266800), "2026-12-03T03:00:00Z");
  std::vector<ScenarioResult> odd = every_kind();
  odd[1].started = "yesterday";
  odd[2].started.clear();
  const json odd_doc = kcidb_report(odd);
  EXPECT_FALSE(test_with_path(odd_doc, "rig.unplug-two")->contains("start_time"));
  EXPECT_FALSE(test_with_path(odd_doc, "rig.unplug-two.page-tables-freed")->contains("start_time"));
  EXPECT_FALSE(test_with_path(odd_doc, "rig.boot-dimm-64g")->contains("start_time"));
  EXPECT_EQ((*test_with_path(odd_doc, "rig.unplug-one"))["start_time"], "2026-12-03T02:00:00Z");

  // The stale entry: its issue is absent from the xpass run and its check; the known failure is
  // present on the xfail run and its check. Two issues, four incidents.
  EXPECT_EQ(doc["issues"].size(), 2u);
  std::map<std::string, std::vector<bool>> present;
  for (const auto& in : doc["incidents"])
    present[in["issue_id"].get<std::string>()].push_back(in["present"].get<bool>());
  ASSERT_EQ(present.size(), 2u);
  for (const auto& [issue, seen] : present) {
    ASSERT_EQ(seen.size(), 2u) << issue;
    EXPECT_EQ(seen[0], seen[1]) << issue;
  }
}

TEST(Kcidb, SchemaVersionIsTheSchemaFilesVersion) {
  const json schema = json::parse(rig_test::data("kcidb/schema.json"));
  EXPECT_EQ(schema["properties"]["version"]["properties"]["major"]["const"], kKcidbMajor);
  EXPECT_EQ(schema["properties"]["version"]["properties"]["minor"]["maximum"], kKcidbMinor);
  EXPECT_EQ(schema["$defs"]["test"]["properties"]["log_excerpt"]["maxLength"], kKcidbMaxExcerpt);
}

// The documents pass KCIDB's schema, and the validator does fail: a bad status, a path with an
// empty component, an id without the origin, each is refused.
TEST(Kcidb, DocumentsPassKcidbsSchema) {
  std::string output;
  for (const KcidbOptions& o : {KcidbOptions{}, KcidbOptions{"lab_2", "http://lab.example/runs"}}) {
    const int status = validate(kcidb_report(all_results(), o), &output);
    ASSERT_NE(status, 3) << "python3-jsonschema is missing: apt-get install python3-jsonschema (setup.sh does)\n"
                         << output;
    EXPECT_EQ(status, 0) << output;
  }

  const json good = kcidb_report(every_kind());
  json bad_status = good;
  bad_status["tests"][0]["status"] = "XFAIL";
  json bad_path = good;
  bad_path["tests"][1]["path"] = "rig.unplug-one.";
  json bad_id = good;
  bad_id["builds"][0]["id"] = "build-1";
  json bad_start = good;
  bad_start["tests"][0]["start_time"] = 20261203;
  json bad_excerpt = good;
  bad_excerpt["tests"][0]["log_excerpt"] = std::string(kKcidbMaxExcerpt + 1, 'x');
  const std::vector<std::pair<std::string, json>> bad = {
      {"status", bad_status}, {"path", bad_path}, {"id", bad_id}, {"excerpt", bad_excerpt}, {"start", bad_start}};
  for (const auto& [what, doc] : bad) {
    const int status = validate(doc, &output);
    ASSERT_NE(status, 3) << "python3-jsonschema is missing: apt-get install python3-jsonschema (setup.sh does)\n"
                         << output;
    EXPECT_EQ(status, 1) << what << ": " << output;
  }
}

TEST(Kcidb, FileIsWrittenAtomicallyAsJson) {
  rig_test::ScratchDir dir;
  const std::string path = dir.path + "/kcidb.json";
  write_kcidb_file(every_kind(), {}, path);
  std::ifstream in(path);
  const json back = json::parse(in);
  EXPECT_EQ(back["tests"].size(), kcidb_report(every_kind())["tests"].size());
  EXPECT_THROW(write_kcidb_file(every_kind(), {}, dir.path + "/no/such/dir/kcidb.json"), FileWriteError);
}

// A results file whose artifacts folder is ".." must not make a link to the published folder's
// parent.
TEST(Kcidb, ADotDotArtifactsFolderStaysInsideThePublishedFolder) {
  auto results = every_kind();
  for (auto& r : results) r.artifacts = "/nightly/runs/..";
  const json doc = kcidb_report(results, {"my_lab", "https://lab.example/rig/"});
  bool linked = false;
  for (const auto& t : doc["tests"])
    if (t.contains("log_url")) {
      linked = true;
      EXPECT_EQ(t["log_url"].get<std::string>().find("/../"), std::string::npos) << t["log_url"];
    }
  EXPECT_TRUE(linked);
}
