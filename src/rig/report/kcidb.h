// Results as KernelCI's KCIDB JSON (schema v5.3, kernelci/kcidb-io), for a lab that submits its
// nightly runs with `kcidb-submit`. docs/nightly.md ("KCIDB") has the mapping.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rig/scenario/results.h"

namespace rig {

// The schema version the documents claim (tests/data/kcidb/schema.json is that version).
constexpr int kKcidbMajor = 5;
constexpr int kKcidbMinor = 3;
// The schema's maxLength of every log_excerpt.
constexpr size_t kKcidbMaxExcerpt = 16384;

struct KcidbOptions {
  std::string origin = "rig";  // the CI system's name in KCIDB: [a-z0-9_]+
  // Where the runs' folders are published (http:// or https://), each as BASE/RUN_FOLDER_NAME/;
  // empty: no URLs (the local artifacts path goes into misc).
  std::string artifacts_url;
};

// Throws UsageError (one line, naming the option as given) for an origin KCIDB refuses or an
// artifacts URL that is not http(s).
void check_kcidb_options(const KcidbOptions& o, const std::string& origin_option = "--kcidb-origin",
                         const std::string& url_option = "--kcidb-artifacts-url");

// A name as one component of a KCIDB test path: every byte outside [A-Za-z0-9_-] (the dot that
// separates components among them) becomes '_'; an empty name is "_".
std::string kcidb_path_part(const std::string& name);

// KCIDB's status of a run's verdict and of a check's status (the table in docs/nightly.md).
const char* kcidb_status(Verdict v);
const char* kcidb_status(CheckStatus s);

// The whole document: one checkout and one build per kernel, one test per run (path
// rig.SCENARIO) and one per spec check (rig.SCENARIO.CHECK), an issue per known failure (xfail
// entry) with an incident for each test it was seen on (present) or expected on but not seen
// (xpass, not present). Ids are "ORIGIN:..." and stable: the same results give the same
// document. Pure. Throws UsageError for options check_kcidb_options refuses.
nlohmann::json kcidb_report(const std::vector<ScenarioResult>& results, const KcidbOptions& o = {});

// The document as text, atomically at `path` (write_file_atomically). Throws FileWriteError.
void write_kcidb_file(const std::vector<ScenarioResult>& results, const KcidbOptions& o, const std::string& path);

}  // namespace rig
