// `rig run` and `rig report`: the matrix of scenarios x kernels with its reports, and the HTML
// report rebuilt from an earlier run.
#pragma once

#include <string>
#include <vector>

#include "rig/app/defaults.h"

namespace rig::app {

struct RunOptions {
  std::vector<std::string> scenarios;  // files
  std::string suite;
  std::vector<std::string> kernels;  // none: kDefaultKernel
  std::string json, junit, ktap, html;
  std::string out;  // one folder for every report and the artifacts
  // KCIDB (report/kcidb.h): the file; the origin ("" : "rig") and where the runs' folders are
  // published (""  : no URLs). Either of the last two with --out alone writes OUT/kcidb.json.
  std::string kcidb, kcidb_origin, kcidb_artifacts_url;
  std::string accel = kDefaultAccel;
  std::string artifacts = kDefaultArtifacts;
  bool artifacts_given = false;  // --artifacts given: it wins over OUT/runs
  std::string qemu = kDefaultQemu;
  std::string backend = kDefaultBackend;
  std::string connect;      // libvirt URI
  double boot_timeout = 0;  // 0: the Timeouts default
  double step_timeout = 0;
  int jobs = 0;  // 0: as many as the host allows
  int repeat = 1;
  std::string shard;  // I/N
  bool no_snapshots = false;
  // "any" (default): a failed check or step fails the run (exit 1); "new": only a failure the
  // findings register does not know does (known ones are reported, exit 0).
  std::string fail_on = "any";
  std::string home;  // rig_home() when empty
};

// Where the reports of a run go. Pure.
struct RunOutputs {
  std::string json, junit, ktap, html;  // empty: not written; ktap "-": on stdout
  std::string kcidb;                    // empty: not written
  std::string artifacts;                // absolute
};
// --out DIR fills what was not given (results.json, junit.xml, results.ktap, runs/; kcidb.json
// only when --kcidb-origin or --kcidb-artifacts-url asks for KCIDB); report.html goes beside the
// JSON, else into the artifacts folder.
RunOutputs run_outputs(const RunOptions& o);

// Checks everything, runs the matrix with live progress, writes the reports after every run;
// returns exit_status_for(results). Throws UsageError (nothing booted) or InfraError.
int run(const RunOptions& o);

struct ReportOptions {
  std::string results;  // results.json of a run, or one run's result.json
  std::string out;      // the HTML file; empty: report.html beside `results`
};
// Rebuilds report.html from an earlier run's results and artifacts; runs nothing.
int report(const ReportOptions& o);

struct CompareOptions {
  std::vector<std::string> results;  // results files (rig run's results.json, or one run's result.json)
  std::string a, b;                  // kernels (release, or a prefix of one); empty: the first two found
  bool all = false;                  // every check, not only those that changed
};
struct WriteupOptions {
  std::string results;           // a results file
  std::string scenario, kernel;  // which failed run (default: the first failed one)
  std::string check;             // which failed (or xfail) check (default: the first); given: xfail runs too
  // A finding of the register: the first run (of its scenario, on --kernel) that shows it,
  // written up as that finding alone (report/findings.h restrict_to_finding); not with --check.
  std::string finding;
  std::string out;   // a file to write; empty: stdout
  std::string home;  // rig_home() when empty
};
// The failed run as a plain-text bug report (report/writeup.h); 0, or 1 when no run failed.
int writeup(const WriteupOptions& o);

struct FindingsOptions {
  std::vector<std::string> results;  // results files; none: list the register
  std::string home;                  // rig_home() when empty
};
// The findings register (rig/findings/), and each failure of `results` new or known with its
// signature; 0, or 1 when a failure is new.
int findings(const FindingsOptions& o);

struct KcidbCommandOptions {
  std::string results;                // a results file
  std::string out;                    // the KCIDB file; empty: stdout
  std::string origin, artifacts_url;  // as rig run's --kcidb-origin, --kcidb-artifacts-url
};
// An earlier run's (or merged shards') results as a KCIDB document; runs nothing. 0.
int kcidb(const KcidbCommandOptions& o);

// Prints kernel A against kernel B (report/kernel_compare.h); 0, or 1 when something changed.
int compare(const CompareOptions& o);

}  // namespace rig::app
