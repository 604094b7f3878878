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
  std::string scenario;                           // the minimal scenario that shows it
  std::string writeup;                            // docs/findings/...
  std::string reported;                           // where it was reported, if it was
};

// The signature of a failed check: its name, the kinds of the pages it names (memmap, pmd, ...),
// and what went wrong with them (the text before the first ':' of each page's problem, or of
// the detail for a check without pages), numbers and addresses as N. Two runs of the same
// defect have the same signature on any kernel and layout; a different defect in the same check
// (another role, another way to be wrong) has another.
std::string failure_signature(const CheckRecord& c);
// A kernel report on the console (BUG, Oops, panic, KASAN, ...): "console KIND: HEADLINE" with
// numbers as N ("kernel BUG at mm/sparse.c:N!": the file stays, the line goes).
std::string crash_signature(const ConsoleFinding& f);

// One finding file. Throws UsageError naming the file and the key for anything malformed.
RegisteredFinding parse_finding(const std::string& toml_text, const std::string& file_name);

struct FindingNote {
  enum Kind { New, Known, NotSeen } kind = New;
  std::string scenario, kernel, check, signature;
  const RegisteredFinding* finding = nullptr;  // Known and NotSeen
  std::string text() const;                    // one line for people
};

// Marks each failed and xfail check of `results` with its finding (CheckRecord::finding: the id,
// or "new") and returns a note for each, and for each finding not marked fixed whose scenario
// ran and whose check passed on a kernel it does not list as unaffected, a NotSeen note.
std::vector<FindingNote> match_findings(std::vector<ScenarioResult>& results,
                                        const std::vector<RegisteredFinding>& register_);
// The notes point into the register: it must outlive them.
std::vector<FindingNote> match_findings(std::vector<ScenarioResult>&, std::vector<RegisteredFinding>&&) = delete;

}  // namespace rig
