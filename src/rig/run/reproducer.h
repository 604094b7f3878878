// A self-contained reproducer for one scenario on one kernel: the kernel, the guest image, a shell
// script that runs the exact QEMU command line (under TCG) and the scenario's steps, and the
// evidence it judges by. Needs only QEMU and a POSIX shell (with coreutils, grep, sed, awk).
//
// run.sh talks to the guest shell on the serial console (each command ends with a marker line it
// waits for) and to QEMU over QMP (a FIFO and a file in the directory; it waits for each answer
// and for the ACPI and device events of a plug or unplug). Every wait has a limit. It ends with
// one line on stdout and an exit status:
//   "reproduced: WHAT"     1  a sign of the failure (or, without one, a step that did not do what
//                             the scenario expects, or a kernel report) showed again
//   "not reproduced: ..."  0  everything it looked for was seen, and none of it showed
//   "could not tell: WHY"  2  QEMU missing, the guest never ready, a step took another path than
//                             the failed run, a guest command or QMP answer that never came
// What it looks for is in DIR/expect (reproducer_expect), not in the script: the same script
// serves every failure, and the evidence can be read, edited or written by hand.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rig/host/kernel_locator.h"
#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

constexpr int kReproNotReproduced = 0;
constexpr int kReproReproduced = 1;
constexpr int kReproCouldNotTell = 2;

// The body of run.sh for a scenario (pure; paths are relative to the script's directory): its
// head, the library rig/repro/lib.sh, its steps. Every word from the scenario or the release is
// shell_quote()d (base/shell.h); only the script's own $QEMU expands. The
// waits default to the timeouts table (machine.h), which is sized for TCG; a step's own timeout
// wins. BOOT_WAIT, STEP_WAIT, CMD_WAIT and QUIT_WAIT override them.
std::string reproducer_script(const Scenario& s, const std::string& kernel_release);

// The body of DIR/expect (pure), one item a line, "KIND STEP ..." (STEP -1: at boot):
//   expect STEP OUTCOME         the scenario's expectation: another outcome is reproduced
//   path STEP OUTCOME           the failed run's step went so (as expected): another outcome means
//                               the rerun cannot be compared (could not tell)
//   last STEP                   the failed run's last step that matters: the rerun stops after it
//   listed STEP DIMM yes|no     after STEP, QEMU still lists / no longer lists DIMM (a refused or
//                               timed-out unplug; a removal the scenario did not expect)
//   outcome STEP OUTCOME        the failed run's step ended OUTCOME (plug, online, expect-*)
//   page STEP PFN CHECK TOKEN.. after STEP the probe's query of PFN shows every TOKEN (the
//                               check's CheckPage::evidence, probe_evidence() in page_accounting.h)
//   query STEP RANGES           the pfn ranges to ask the probe for after STEP
//   zone STEP NODE ZONE present SEEN EXPECTED
//                               after STEP /proc/zoneinfo shows SEEN present pages in that zone
//                               of that node, as the failed run did where EXPECTED was due (a
//                               failed counters-zones check: a zone change without pages)
//   console KIND [^]NEEDLE      a console line containing NEEDLE (^: at its start, after the
//                               timestamp) is a kernel report of KIND
//   watch KIND [^]NEEDLE        a kernel report shown but not judged (other kinds than the failure)
//   ignore TEXT                 a console line containing TEXT is not a report (the page dump of
//                               a refused offline)
//   note TEXT                   evidence run.sh cannot look for (MemTotal, counts): shown only
// With `failure` (a failed run), the items are the failure's signs: its failed steps, the pfns its
// failed checks name, its kernel reports; "reproduced" when any shows again. Without, they are the
// scenario's own expectations and every kind of kernel report.
//   at STEP PFN FILE OFFSET ROLES
//                               the page item (STEP, PFN) is the page OFFSET pfns above the lowest
//                               pfn whose roles are exactly ROLES in the probe snapshot FILE
//                               (probe-boot.txt, probe-before-stepN.txt): run.sh finds it there in
//                               the rerun, where the kernel may have put it elsewhere (another
//                               boot, another kernel); no page with ROLES there: not seen
// `anchors` (may be null): for each snapshot of the failed run ("boot", "before-step2"), the
// lowest pfn of each roles text in it (snapshot_role_anchors); without it pages are named by pfn.
using RoleAnchors = std::map<std::string, std::map<std::string, uint64_t>>;
std::string reproducer_expect(const Scenario& s, const ScenarioResult* failure, const RoleAnchors* anchors = nullptr);

// The lowest pfn of each roles text among a probe snapshot's P lines (docs/probe-format.md).
std::map<std::string, uint64_t> snapshot_role_anchors(const std::string& snapshot_text);

// Writes DIR/{bzImage, initramfs.cpio.gz, run.sh, expect, README.md}, each copied or written
// whole (base/atomic_file.h: onto any filesystem, no partial file). `failure` (may be null)
// is the failed run: its signs go into expect and README. Returns the directory.
// `expect`, when not empty, is written as DIR/expect instead (the signs another kernel's
// failed run left, `rig repro --signs-of`), and README says where it came from.
std::string write_reproducer(const Scenario& s, const KernelImage& kernel, const std::string& initramfs,
                             const std::string& dir, const ScenarioResult* failure, const std::string& expect = "",
                             const std::string& expect_from = "");

}  // namespace rig
