// The findings register (rig/findings/*.toml, docs/findings/README.md): every distinct kernel
// failure the rig has seen, by signature, with its status and the kernels it affects. A run says
// of each failure whether it is new or known, and of a known one that stopped failing where it
// ran that it may be fixed. Pure: results and register text in, notes out.
#pragma once

#include <string>
#include <vector>

#include "rig/scenario/results.h"

namespace rig {

struct RegisteredFinding {
  std::string id;                       // the file's name without .toml
  std::string title;                    // one line
  std::string status;                   // known | reported | fixed
  std::vector<std::string> signatures;  // failure_signature()s of the failed checks it stands for
  std::string first_seen;
  std::vector<std::string> affected, unaffected;  // kernel release prefixes
  std::string first_bad, last_good, fixed_in;     // kernel names (debian:6.18.9)
  std::string last_bad;  // for a fix: the last kernel that still has it (fixed_in is the first without)
  std::string scenario;  // the minimal scenario that shows it
  std::string writeup;   // docs/findings/...
  std::string reported;  // where it was reported, if it was
  std::string note;      // one line: what else a reader must know (why a known failure is no kernel defect)
};

// The signature of a failed check: its name, the kinds of the pages it names (memmap, pmd, ...),
// and what went wrong with them (the text before the first ':' of each page's problem, or of
// the detail for a check without pages), numbers and addresses as N. Two runs of the same
// defect have the same signature on any kernel and layout; a different defect in the same check
// (another role, another way to be wrong) has another. A counters check (counters-*) keeps
// every clause of its detail but what was expected, with its node ids, zones and node lists (a
// zone change on node 1 is not one on node 0); the free-memory cycles check keeps how much a
// cycle lost for good (the median, in MiB: a 2 MiB block a cycle is not a 4 MiB one).
std::string failure_signature(const CheckRecord& c);
// A step that ended otherwise than the scenario asked: "step ACTION DIMM: OUTCOME (expected E)".
std::string step_signature(const StepResult& s);
// A kernel report on the console (BUG, Oops, panic, KASAN, ...): "console KIND: HEADLINE" with
// numbers as N ("kernel BUG at mm/sparse.c:N!": the file stays, the line goes).
std::string crash_signature(const ConsoleFinding& f);

// One finding file. Throws UsageError naming the file and the key for anything malformed.
RegisteredFinding parse_finding(const std::string& toml_text, const std::string& file_name);

// One failure of a run as the register names it: a failed or xfail check, a step that ended
// otherwise than asked (not a timeout: the run's reason says that), a kernel report (not a
// refused offline's page dump), or, for a failed or errored run with none of these, its reason.
struct Failure {
  enum Kind { Check, Step, Report, Verdict } kind = Check;
  std::string check;      // the check's name, "step N", "console" or "verdict"
  std::string signature;  // what an entry's `signatures` holds
  int step = -1;          // the step a check followed, or the step; -1 at boot or none
  std::string target;     // a step's DIMM or device
  std::string headline;   // one line for people
  int check_index = -1;   // Check: its index in the result's checks
  bool xfail = false;     // Check: an expected failure
};
std::vector<Failure> failures_of(const ScenarioResult& r);

// The entry that names `f` seen in a run of `scenario` on `kernel`: one with its signature that
// does not list the kernel as unaffected (a failure there is a regression: new) and, for a step,
// names this scenario. Null: new. The last such entry in register order.
const RegisteredFinding* registered_finding(const std::vector<RegisteredFinding>& register_,
                                            const std::string& scenario, const std::string& kernel, const Failure& f);

// Whether a run shows a finding: it shows when one of the run's failures has one of its
// signatures; it is absent when none has and the run judged what the finding is about (one of
// its checks passed, its step ended as the scenario asked, or, for a kernel report, the run got
// to its end); unknown otherwise (the guest did not boot, the step never came, the checks were
// n/a or failed otherwise). `why`: "SCENARIO on KERNEL: HEADLINE" of the failure it showed as,
// what was judged, or why nothing was.
struct FindingPresence {
  enum Kind { Shows, Absent, Unknown } kind = Unknown;
  std::string why;
};
FindingPresence finding_presence(const RegisteredFinding& f, const ScenarioResult& r);

// `r` with only the failures that have one of `f`'s signatures: every other failed or xfail
// check becomes n/a (its detail says why), every other step that ended otherwise counts as done,
// every other kernel report goes; the finding's xfail checks become failed. What a reproducer of
// that one finding looks for (run/reproducer.h), on a kernel that has other defects too. Returns
// how many failures it kept (0: the finding did not show in `r`); `left_out` (may be null) gets
// one line for each failure it left out: "CHECK: SIGNATURE".
size_t restrict_to_finding(ScenarioResult& r, const RegisteredFinding& f, std::vector<std::string>* left_out = nullptr);

struct FindingNote {
  enum Kind { New, Known, NotSeen } kind = New;
  std::string scenario, kernel, check, signature;
  const RegisteredFinding* finding = nullptr;  // Known and NotSeen
  int seen = 0, runs = 1;    // the runs of this scenario on this kernel that showed it, of all (--repeat)
  std::string text() const;  // one line for people; "(seen in k of N runs)" when N > 1
  std::string seen_in() const;
};

// Marks each failed and xfail check of `results` with its finding (CheckRecord::finding: the id,
// or "new") and returns a note for each failure of each scenario on each kernel, saying in how
// many of its runs it was seen (--repeat), and for each finding not marked fixed whose scenario
// ran and whose check passed in every run of it on a kernel the entry does not list as
// unaffected, one NotSeen note: a finding is never both seen and not seen on one kernel.
std::vector<FindingNote> match_findings(std::vector<ScenarioResult>& results,
                                        const std::vector<RegisteredFinding>& register_);
// The exit status of a run that fails only on what the register does not know (`rig run
// --fail-on new`): 1 when a note is New (a failure no entry names, or a known one on a kernel the
// entry lists as unaffected: a regression), 3 when a run ended in an error, else 0; known
// failures are reported, not failed (base/exit_status.h).
int exit_status_failing_on_new(const std::vector<ScenarioResult>& results, const std::vector<FindingNote>& notes);

// The notes point into the register: it must outlive them.
std::vector<FindingNote> match_findings(std::vector<ScenarioResult>&, std::vector<RegisteredFinding>&&) = delete;

}  // namespace rig
