#include "rig/run/reproducer.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "rig/base/errors.h"
#include "rig/machine/machine.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/machine/qemu/qemu_machine.h"

namespace fs = boost::filesystem;

namespace rig {
namespace {

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// One line of text for a comment or a message: no newlines, bounded.
std::string one_line(std::string s, size_t max = 300) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  if (s.size() > max) s = s.substr(0, max) + " ...";
  return s;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// The kernel reports the console parser fails a run on, in its order (console_parser.cc
// kPatterns; a unit test holds the two together). "^": at the start of the line, after the
// timestamp. The page dump of a refused offline is a notice, not a report.
struct Needle {
  const char* kind;
  const char* text;
};
const Needle kNeedles[] = {
    {"panic", "Kernel panic - not syncing"},
    {"bad-page-state", "BUG: Bad page state"},
    {"bad-page-state", "Bad page state in process"},
    {"kasan", "BUG: KASAN:"},
    {"bug", "kernel BUG at"},
    {"bug", "^BUG:"},
    {"oops", "Oops:"},
    {"oops", "general protection fault"},
    {"hung-task", "blocked for more than"},
    {"warning", "^WARNING:"},
    {"rcu-stall", "rcu: INFO: rcu_"},
    {"soft-lockup", "watchdog: BUG: soft lockup"},
    {"page-dump", "page dumped because:"},
};
const char* kRefusalDump = "page dumped because: unmovable page";
constexpr size_t kMaxPagesPerCheck = 4096;

bool needle_matches(const std::string& needle, const std::string& line) {
  if (!needle.empty() && needle[0] == '^') return starts_with(line, needle.substr(1));
  return line.find(needle) != std::string::npos;
}

// The outcome a step must end with, in the runner's words (scenario_runner.cc).
std::string expected_outcome(const Step& st) {
  switch (st.action) {
    case StepAction::Plug: return "added";
    case StepAction::Online: return "online";
    case StepAction::Unplug: return st.expect.empty() ? "removed" : st.expect;
    case StepAction::ExpectNode:
    case StepAction::ExpectDimm: return st.expect;
  }
  return st.expect;
}

// "1 2 3 7 9 10" -> "1-3 7 9-10", in lines of at most `width` characters (a console line the
// guest shell takes whole; the probe takes any number of ranges).
std::vector<std::string> pfn_range_lines(const std::set<uint64_t>& pfns, size_t width = 600) {
  std::vector<std::string> lines;
  std::string cur;
  auto flush_range = [&](uint64_t a, uint64_t b) {
    std::string r = a == b ? fmt::format("{}", a) : fmt::format("{}-{}", a, b);
    if (!cur.empty() && cur.size() + 1 + r.size() > width) {
      lines.push_back(cur);
      cur.clear();
    }
    cur += (cur.empty() ? "" : " ") + r;
  };
  bool open = false;
  uint64_t first = 0, prev = 0;
  for (uint64_t p : pfns) {
    if (open && p == prev + 1) {
      prev = p;
      continue;
    }
    if (open) flush_range(first, prev);
    first = prev = p;
    open = true;
  }
  if (open) flush_range(first, prev);
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

// After a failed unplug, does QEMU still list the DIMM? The runner appends what QEMU said when it
// disagreed with the outcome (scenario_runner.cc run_step).
bool listed_after_unplug(const StepResult& st) {
  if (st.detail.find("QEMU no longer lists") != std::string::npos) return false;
  if (st.detail.find("QEMU still lists") != std::string::npos) return true;
  return st.outcome != "removed";
}

std::string limit_arg(double timeout_s) {
  return timeout_s > 0 ? fmt::format("{}", static_cast<long long>(std::ceil(timeout_s)))
                       : std::string("\"$STEP_WAIT\"");
}

// The part of run.sh that does not depend on the scenario: waiting, QMP, the guest shell, the
// steps' mechanics and the judge. Nothing in it waits without a limit: the one polling loop is
// wait_until, bounded by seconds and by a count of ticks.
const char* kLibrary = R"SH(
# ---- Mechanics. Nothing below waits without a limit. ----
log=output.log      # the guest console and QEMU's own messages
qmpout=qmp.out      # QMP answers and events (QEMU reads commands from the FIFO qmp.in)
exp=expect          # what to look for (written by the rig; one item a line)
qemu_pid= tail_pid= seen= unknown= stop= reached=-2 n=0 qn=0 rc= reply= outcome=
if sleep 0.1 2>/dev/null; then tick=0.2 ticks=5; else tick=1 ticks=1; fi

say() { printf 'run.sh: %s\n' "$*" >&2; printf '%s\n' "$*" >> run.log; }
mark_seen() { say "SEEN: $*"; [ -n "$seen" ] || seen=$*; }
mark_unknown() { say "CANNOT TELL: $*"; [ -n "$unknown" ] || unknown=$*; }

# QEMU runs (a zombie that was not reaped yet does not count).
qemu_alive() {
  [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null || return 1
  [ -r "/proc/$qemu_pid/stat" ] || return 0
  case $(sed 's/.*) //' "/proc/$qemu_pid/stat" 2>/dev/null) in Z*|X*|'') return 1 ;; esac
  return 0
}
qemu_gone() { ! qemu_alive; }

# wait_until LIMIT COMMAND...: runs COMMAND until it succeeds (0), LIMIT seconds pass (1) or QEMU
# is gone (2, after a last try).
wait_until() {
  w_end=$(($(date +%s) + $1)); w_cap=$(($1 * ticks + 1)); w_i=0; shift
  while [ "$w_i" -lt "$w_cap" ] && [ "$(date +%s)" -le "$w_end" ]; do
    "$@" && return 0
    if qemu_gone; then "$@" && return 0; return 2; fi
    sleep "$tick"; w_i=$((w_i + 1))
  done
  "$@" && return 0
  return 1
}

# The last line QEMU or the guest printed, for a message.
last_words() {
  l_w=$(tr -d '\r' < "$log" | grep -v '^ *$' | tail -n 1 | cut -c1-200)
  printf '%s\n' "${l_w:-it printed nothing}"
}
console_has() { tail -c +"$(($2 + 1))" "$log" | grep -qF -- "$1"; }
size_of() { wc -c < "$1" | tr -d ' '; }

# qmp EXECUTE [ARGUMENTS]: one QMP command; QEMU's answer in $reply. 1: an error or no answer
# within CMD_WAIT seconds.
qmp() {
  qn=$((qn + 1)); reply=
  if [ -n "${2:-}" ]; then
    printf '{"execute":"%s","arguments":%s,"id":"rig-%s"}\n' "$1" "$2" "$qn" >&4
  else
    printf '{"execute":"%s","id":"rig-%s"}\n' "$1" "$qn" >&4
  fi
  wait_until "$CMD_WAIT" qmp_answered "rig-$qn" || return 1
  case $reply in *'"error"'*) say "QMP $1: $reply"; return 1 ;; esac
  return 0
}
qmp_answered() { reply=$(tr -d '\r' < "$qmpout" | grep -F "\"id\": \"$1\"" | tail -n 1); [ -n "$reply" ]; }
# QMP events about device $2 since byte $1 of qmp.out.
events_since() { tail -c +"$(($1 + 1))" "$qmpout" | tr -d '\r' | grep -F "\"device\": \"$2\""; }
# The _OST status of the first (plug) or last (unplug) ACPI_DEVICE_OST event in $ev.
ost_status() { printf '%s\n' "$ev" | grep -F '"event": "ACPI_DEVICE_OST"' | sed -n 's/.*"status": \([0-9]*\).*/\1/p' | "$1" -n 1; }
lists() { case $reply in *"\"id\": \"$1\"}"*|*"\"id\": \"$1\","*) return 0 ;; esac; return 1; }

# guest COMMAND: runs COMMAND in a subshell of the guest's console shell and waits for the end
# marker it prints; the console text since it was typed goes to ./answer, its exit status to $rc.
# 1: no marker within CMD_WAIT seconds (the shell or the guest is gone: the run stops).
guest() {
  n=$((n + 1)); rc=
  g_from=$(size_of "$log")
  printf '(%s); echo "rig-end-$((%s)):$?"\n' "$1" "$n" >&3
  wait_until "$CMD_WAIT" console_has "rig-end-$n:" "$g_from"
  case $? in
    0) ;;
    1) mark_unknown "the guest shell did not answer within $CMD_WAIT s: $1"; return 1 ;;
    *) mark_unknown "QEMU ended while the guest ran: $1"; return 1 ;;
  esac
  tail -c +"$((g_from + 1))" "$log" | tr -d '\r' > answer
  rc=$(sed -n "s/.*rig-end-$n:\([0-9]*\).*/\1/p" answer | head -n 1)
  return 0
}

# show COMMAND [FILE]: a guest command for the record; the probe's lines also go to FILE.
show() {
  guest "$1" || return 1
  [ "$rc" = 0 ] || say "guest command failed (exit $rc): $1"
  if [ -n "${2:-}" ]; then
    grep -E '^(rig-probe|kernel|encoding|types|struct_page|section_shift|paging_levels|[SNPQ]|overflow|end)( |$)' answer > "$2"
  fi
  return 0
}

do_plug() {  # STEP DIMM OBJECT-ADD-ARGS DEVICE_ADD-ARGS LIMIT
  say "step $1: plug $2"
  q_from=$(size_of "$qmpout")
  if ! qmp object-add "$3" || ! qmp device_add "$4"; then
    [ -n "$reply" ] || { mark_unknown "step $1: no QMP answer to the plug of $2"; return 1; }
    outcome=not-added; return 0
  fi
  wait_until "$5" plug_acked "$q_from" "$2"
  case $? in
    0) ;;
    1) outcome=not-added; say "step $1: the guest did not acknowledge $2 (no ACPI_DEVICE_OST) within $5 s" ;;
    *) mark_unknown "QEMU ended during step $1 (plug $2)"; return 1 ;;
  esac
}
plug_acked() {
  ev=$(events_since "$1" "$2"); st=$(ost_status head)
  [ -n "$st" ] || return 1
  if [ "$st" = 0 ]; then outcome=added; else outcome=not-added; fi
}

do_online() {  # STEP DIMM GUEST-COMMAND LIMIT (the command exits 1 while the blocks are missing)
  say "step $1: online $2"
  o_end=$(($(date +%s) + $4)); o_cap=$(($4 * ticks + 1)); o_i=0
  while [ "$o_i" -lt "$o_cap" ]; do
    guest "$3" || return 1
    [ "$rc" = 1 ] && [ "$(date +%s)" -lt "$o_end" ] || break
    sleep "$tick"; o_i=$((o_i + 1))
  done
  case $rc in
    0) outcome=online ;;
    1) outcome=blocks-missing ;;
    2) outcome=online-failed ;;
    *) mark_unknown "step $1: the online command failed in the guest (exit $rc)"; return 1 ;;
  esac
}

do_unplug() {  # STEP DIMM DEVICE_DEL-ARGS OBJECT-DEL-ARGS LIMIT
  say "step $1: device_del $2"
  q_from=$(size_of "$qmpout")
  qmp device_del "$3" || { mark_unknown "step $1: device_del $2 failed: ${reply:-no QMP answer}"; return 1; }
  wait_until "$5" unplug_settled "$q_from" "$2"
  case $? in
    0) ;;
    1) outcome=timeout; say "step $1: neither DEVICE_DELETED nor a failing _OST for $2 within $5 s" ;;
    *) mark_unknown "QEMU ended during step $1 (unplug $2)"; return 1 ;;
  esac
  # The backend outlives the device in QEMU: delete it so the range is free again.
  [ "$outcome" != removed ] || qmp object-del "$4" || say "step $1: object-del after $2 failed: $reply"
  qmp query-memory-devices || { mark_unknown "step $1: no answer to query-memory-devices"; return 1; }
  # QEMU must agree with the guest: a refused DIMM stays listed, a removed one is gone.
  if lists "$2"; then
    [ "$outcome" != removed ] || outcome=removed-but-listed
  else
    [ "$outcome" != refused ] || outcome=refused-but-gone
  fi
}
unplug_settled() {
  ev=$(events_since "$1" "$2")
  case $ev in *'"event": "DEVICE_DELETED"'*) outcome=removed; return 0 ;; esac
  st=$(ost_status tail)
  case $st in ''|0|132) return 1 ;; esac   # none yet, success, 0x84 ejection in progress
  outcome=refused; say "the guest refused the eject of $2: _OST $(printf '%#x' "$st")"
}

do_expect_node() {  # STEP NODE
  guest "test -d /sys/devices/system/node/node$2" || return 1
  case $rc in
    0) outcome=present ;;
    1) outcome=absent ;;
    *) mark_unknown "step $1: test -d in the guest failed (exit $rc)"; return 1 ;;
  esac
}

do_expect_dimm() {  # STEP DIMM
  qmp query-memory-devices || { mark_unknown "step $1: no answer to query-memory-devices"; return 1; }
  if lists "$2"; then outcome=present; else outcome=absent; fi
}

# at_step STEP WHAT: step STEP ended with $outcome; compare it with ./expect and look for the
# evidence that belongs after it. 1: stop here (a mismatch, another path than the failed run, the
# failed run's last step, or the guest stopped answering).
at_step() {
  reached=$1
  [ "$1" -lt 0 ] || say "step $1 $2: $outcome"
  want=$(sed -n "s/^expect $1 //p" "$exp" | head -n 1)
  if [ -n "$want" ] && [ "$want" != "$outcome" ]; then
    mark_seen "step $1 $2 ended $outcome; the scenario expects $want"; stop=1
  fi
  want=$(sed -n "s/^path $1 //p" "$exp" | head -n 1)
  if [ -n "$want" ] && [ "$want" != "$outcome" ]; then
    mark_unknown "step $1 $2 ended $outcome, in the failed run $want: the rerun took another path"; return 1
  fi
  for want in $(sed -n "s/^outcome $1 //p" "$exp"); do
    if [ "$want" = "$outcome" ]; then mark_seen "step $1 $2 ended $outcome, as in the failed run"; else say "step $1 $2 ended $outcome, in the failed run $want"; fi
  done
  look_listed "$1" || return 1
  look_pages "$1" || return 1
  [ -z "$stop" ] || return 1
  last=$(sed -n 's/^last //p' "$exp" | head -n 1)
  [ -z "$last" ] || [ "$1" -lt "$last" ]
}

look_listed() {
  grep -q "^listed $1 " "$exp" || return 0
  qmp query-memory-devices || { mark_unknown "after step $1: no answer to query-memory-devices"; return 1; }
  while read -r l_dimm l_want; do
    [ -n "$l_dimm" ] || continue
    if lists "$l_dimm"; then l_is=yes; l_text="still lists"; else l_is=no; l_text="no longer lists"; fi
    if [ "$l_is" = "$l_want" ]; then
      mark_seen "after step $1 QEMU $l_text $l_dimm (query-memory-devices), as after the failed run"
    else
      say "after step $1 QEMU $l_text $l_dimm, unlike after the failed run"
    fi
  done <<EOF
$(sed -n "s/^listed $1 //p" "$exp")
EOF
}

# The pages named after STEP: ask the probe (debugfs query) and compare each with its tokens.
look_pages() {
  grep -q "^page $1 " "$exp" || return 0
  p_file=probe-evidence-step$1.txt
  [ "$1" -ge 0 ] || p_file=probe-evidence-boot.txt
  : > "$p_file"
  while read -r p_ranges; do
    [ -n "$p_ranges" ] || continue
    guest "echo $p_ranges > /sys/kernel/debug/rig_probe/query; cat /sys/kernel/debug/rig_probe/query" || return 1
    if [ "$rc" != 0 ]; then mark_unknown "after step $1 the probe did not answer its query (exit $rc)"; return 0; fi
    grep '^Q ' answer >> "$p_file"
  done <<EOF
$(sed -n "s/^query $1 //p" "$exp")
EOF
  awk -v s="$1" "$page_awk" probe-boot.txt "$p_file" "$exp" > page-verdicts.txt
  while read -r p_how p_pfn p_check p_tokens; do
    p_hex=$(printf '%#x' "$p_pfn")
    case $p_how in
      seen) mark_seen "after step $1 pfn $p_hex ($p_check) is again $p_tokens (the probe's query)" ;;
      clear) say "after step $1 pfn $p_hex ($p_check) is no longer $p_tokens" ;;
      *) mark_unknown "after step $1 the probe's answer does not show pfn $p_hex ($p_check) well enough to compare" ;;
    esac
  done < page-verdicts.txt
}

# Files: the boot snapshot (for the bootmem type numbers), the query answers, ./expect. Prints
# "seen|clear|unknown PFN CHECK TOKENS" for each page item of step s.
page_awk='
FILENAME == ARGV[1] && $1 == "types" { for (i = 2; i <= NF; i++) { e = index($i, "="); ty[substr($i, 1, e - 1)] = substr($i, e + 1) } next }
FILENAME == ARGV[2] && $1 == "Q" { nq++; qs[nq] = $2 + 0; qc[nq] = $3 + 0; ql[nq] = $0; next }
FILENAME == ARGV[3] && $1 == "page" && $2 == s {
  pfn = $3 + 0; line = ""
  for (j = 1; j <= nq; j++) if (pfn >= qs[j] && pfn < qs[j] + qc[j]) { line = ql[j]; break }
  tokens = $5; for (i = 6; i <= NF; i++) tokens = tokens " " $i
  if (line == "") { print "unknown", $3, $4, tokens; next }
  nw = split(line, w, " "); split("", v)
  for (i = 4; i <= nw; i++) { e = index(w[i], "="); if (e) v[substr(w[i], 1, e - 1)] = substr(w[i], e + 1) }
  gone = (w[4] == "gone"); ok = 1; bad = 0
  for (i = 5; i <= NF; i++) {
    t = $i
    if (t == "gone") { if (!gone) ok = 0; continue }
    if (t == "online") { if (gone) ok = 0; continue }
    if (gone) { ok = 0; continue }
    e = index(t, "="); k = substr(t, 1, e - 1); want = substr(t, e + 1)
    if (!(k in v)) { bad = 1; continue }
    if (k == "type" && want == "tagged") {
      if (!("section" in ty)) { bad = 1; continue }
      if (v[k] != ty["section"] && v[k] != ty["mix"] && v[k] != ty["node"]) ok = 0
      continue
    }
    if (k == "type" && want == "untagged") want = "0"
    else if (k == "type") {
      name = want == "SECTION_INFO" ? "section" : want == "MIX_SECTION_INFO" ? "mix" : want == "NODE_INFO" ? "node" : ""
      if (name == "" || !(name in ty)) { bad = 1; continue }
      want = ty[name]
    }
    if (v[k] != want) ok = 0
  }
  print (!ok ? "clear" : bad ? "unknown" : "seen"), $3, $4, tokens
}'

# Files: ./expect, the console without timestamps. Prints "console|watch KIND LINE" for the first
# console line that shows each report.
console_awk='
FILENAME == ARGV[1] && $1 == "ignore" { sub(/^ignore /, ""); ign[++ni] = $0; next }
FILENAME == ARGV[1] && ($1 == "console" || $1 == "watch") { nk++; how[nk] = $1; kind[nk] = $2; sub(/^[a-z]+ [^ ]+ /, ""); needle[nk] = $0; next }
FILENAME == ARGV[2] {
  for (i = 1; i <= ni; i++) if (index($0, ign[i])) next
  for (i = 1; i <= nk; i++) {
    if (i in shown) continue
    nd = needle[i]; at = substr(nd, 1, 1) == "^"; if (at) nd = substr(nd, 2)
    p = index($0, nd)
    if (p && (!at || p == 1)) { shown[i] = 1; print how[i], kind[i], $0 }
  }
}'

stop_qemu() {
  qemu_alive || return 0
  printf '{"execute":"quit"}\n' >&4
  wait_until "$QUIT_WAIT" qemu_gone && return 0
  say "QEMU did not quit within $QUIT_WAIT s: SIGTERM"
  kill "$qemu_pid" 2>/dev/null
  wait_until 5 qemu_gone && return 0
  say "QEMU did not end on SIGTERM: SIGKILL"
  kill -9 "$qemu_pid" 2>/dev/null
}

cleanup() {
  if qemu_alive; then kill -9 "$qemu_pid" 2>/dev/null; fi
  [ -z "$tail_pid" ] || kill "$tail_pid" 2>/dev/null
  rm -f console.in qmp.in answer console.txt reports.txt page-verdicts.txt
}

# finish STATUS LINE: QEMU quits, the one verdict line goes to stdout (and ./verdict).
finish() {
  trap - INT TERM HUP
  stop_qemu
  printf '%s\n' "$2" > verdict
  say "verdict: $2"
  printf '%s\n' "$2"
  exit "$1"
}

judge() {
  tr -d '\r' < "$log" | sed 's/^\[ *[0-9]*\.[0-9]*\] //' > console.txt
  awk "$console_awk" "$exp" console.txt > reports.txt
  while read -r r_how r_kind r_line; do
    if [ "$r_how" = console ]; then
      mark_seen "the console shows a kernel report ($r_kind): $r_line"
    else
      say "the console also shows a kernel report ($r_kind), not one of the failed run: $r_line"
    fi
  done < reports.txt
  r_step=$(awk -v r="$reached" '$1 ~ /^(expect|listed|outcome|page)$/ && $2 + 0 > r + 0 { print $2; exit }' "$exp")
  [ -z "$r_step" ] || mark_unknown "the run ended before step $r_step, whose evidence it needs"
  [ -z "$seen" ] || finish 1 "reproduced: $seen"
  [ -z "$unknown" ] || finish 2 "could not tell: $unknown"
  grep -qE '^(expect|listed|outcome|page|console) ' "$exp" || finish 2 "could not tell: ./expect names nothing this script can look for"
  if grep -q '^mode scenario' "$exp"; then
    finish 0 "not reproduced: every step ended as the scenario expects and the console shows no kernel report"
  fi
  finish 0 "not reproduced: none of the failed run's signs in ./expect showed again"
}

# ---- Start: QEMU with the console on a FIFO and QMP on another, both read at their pace. ----
trap cleanup EXIT
trap 'mark_unknown "interrupted"; judge' INT TERM HUP
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null 2>&1 || finish 2 "could not tell: $qemu not found (install QEMU or set QEMU=)"
for f in bzImage initramfs.cpio.gz "$exp"; do
  [ -r "$f" ] || finish 2 "could not tell: $here/$f is missing"
done
rm -f console.in qmp.in qmp.sock qga.sock verdict run.log probe-*.txt answer
: > "$log"; : > "$qmpout"; : > probe-boot.txt
mkfifo console.in qmp.in || finish 2 "could not tell: cannot make FIFOs in $here"
exec 3<>console.in 4<>qmp.in
run_qemu -chardev pipe,id=rigqmp,path=qmp -mon chardev=rigqmp,mode=control <&3 >> "$log" 2>&1 &
qemu_pid=$!
if [ -t 2 ] && [ -z "${QUIET:-}" ]; then tail -f "$log" >&2 & tail_pid=$!; fi
say "booting $what (TCG; limits: boot $BOOT_WAIT s, step $STEP_WAIT s, command $CMD_WAIT s)"
qmp qmp_capabilities || { mark_unknown "QEMU did not answer on QMP: $(last_words)"; judge; }
wait_until "$BOOT_WAIT" console_has "rig: guest ready" 0
case $? in
  0) say "guest ready" ;;
  1) mark_unknown "the guest did not print 'rig: guest ready' within $BOOT_WAIT s (see output.log)"; judge ;;
  *) mark_unknown "QEMU ended before the guest was ready: $(last_words)"; judge ;;
esac
)SH";

const char* kMain = R"SH(
run_steps
judge
)SH";

}  // namespace

std::string page_evidence_tokens(const CheckPage& p) {
  const std::string& seen = p.seen;
  if (starts_with(seen, "gone") || ends_with(seen, "gone (offline or removed)")) return "gone";
  // describe_state(): FLAGS refcount N TYPE info N node N[ ALLOCATION], at the end of the text.
  static const std::regex state(
      "((?:(?:Reserved|Private|Buddy|VmemmapSelfHosted) )*)refcount (-?[0-9]+) "
      "(untagged|SECTION_INFO|MIX_SECTION_INFO|NODE_INFO|unknown-type) info ([0-9]+) node ([0-9]+)"
      "( in a free block| on a pcp list| slab| lru| pgtable| held by nobody| held)?$");
  std::smatch m;
  if (!std::regex_search(seen, m, state)) return "";
  if (starts_with(p.expected, "gone")) return "online";
  const std::string flags = m[1], ref = m[2], type = m[3], info = m[4], nid = m[5], alloc = m[6];
  const bool reserved = flags.find("Reserved ") != std::string::npos;
  const bool priv = flags.find("Private ") != std::string::npos;
  const bool buddy = flags.find("Buddy ") != std::string::npos;
  const bool selfhosted = flags.find("VmemmapSelfHosted ") != std::string::npos;
  const bool bootmem_type = type == "SECTION_INFO" || type == "MIX_SECTION_INFO" || type == "NODE_INFO";
  if (starts_with(p.expected, "freed")) {
    // Not given back: still Reserved, Private or tagged as it was.
    if (reserved || priv || bootmem_type) {
      std::string t;
      if (reserved) t += " res=1";
      if (priv) t += " priv=1";
      if (bootmem_type) t += " type=tagged";
      return t.substr(1);
    }
    // Lost: refcount 0, in no free block, on no per-cpu list, held by nobody.
    if (alloc == " held by nobody") return fmt::format("ref={} free=no held=none", ref);
  }
  // Kept, unchanged, boot tags: exactly the state the failed run saw.
  std::string t = fmt::format("res={} priv={} buddy={} selfhosted={} ref={}", reserved ? 1 : 0, priv ? 1 : 0,
                              buddy ? 1 : 0, selfhosted ? 1 : 0, ref);
  if (type == "untagged" || bootmem_type) t += " type=" + type;
  t += fmt::format(" info={} nid={}", info, nid);
  static const std::map<std::string, std::string> allocs = {
      {" in a free block", " free=buddy"},      {" on a pcp list", " free=pcp"},
      {" slab", " free=no held=slab"},          {" lru", " free=no held=lru"},
      {" pgtable", " free=no held=pgtable"},    {" held", " free=no held=other"},
      {" held by nobody", " free=no held=none"}};
  auto a = allocs.find(alloc);
  if (a != allocs.end()) t += a->second;
  return t;
}

std::string reproducer_expect(const Scenario& s, const ScenarioResult* f) {
  std::string out =
      "# What run.sh looks for, one item a line: KIND STEP ... (STEP -1: at boot). Kinds: expect, path, last,\n"
      "# listed, outcome, page, query, console, watch, ignore, note (see README.md). Lines starting with # are "
      "comments.\n";
  auto line = [&out](const std::string& l) { out += l + "\n"; };
  const int n = static_cast<int>(s.steps.size());
  const int total = n * std::max(1, s.cycles);
  auto step_of = [&](int index) -> const Step* {
    return index >= 0 && index < total ? &s.steps[static_cast<size_t>(index % n)] : nullptr;
  };

  if (!f) {
    line(
        "# No failed run: the scenario's own expectations. A step that ends otherwise, or a kernel report, is "
        "reproduced.");
    line("mode scenario");
    for (int i = 0; i < total; ++i) line(fmt::format("expect {} {}", i, expected_outcome(*step_of(i))));
    for (const auto& nd : kNeedles) line(fmt::format("console {} {}", nd.kind, nd.text));
    line(fmt::format("ignore {}", kRefusalDump));
    return out;
  }

  line(fmt::format("# From the failed run of {} on {}: {}", f->scenario, f->kernel, one_line(f->reason)));
  if (!f->artifacts.empty()) line(fmt::format("# Its artifacts: {}", f->artifacts));
  line(
      "# Any of these signs showing again is reproduced; a step that ends otherwise than in the failed run cannot be "
      "compared.");
  line("mode failure");
  std::string body;
  auto item = [&body](const std::string& l) { body += l + "\n"; };
  int last = -2;
  int last_run = -1;
  for (const auto& st : f->steps) last_run = std::max(last_run, st.index);

  // Steps that did not do what the scenario expects.
  for (const auto& st : f->steps) {
    const Step* sc = step_of(st.index);
    if (st.ok || !sc) continue;
    item(fmt::format("# step {} {} {}: expected {}, got {}: {}", st.index, st.action, st.target, st.expected,
                     st.outcome, one_line(st.detail)));
    if (sc->action == StepAction::Unplug)
      item(fmt::format("listed {} {} {}", st.index, sc->dimm, listed_after_unplug(st) ? "yes" : "no"));
    else
      item(fmt::format("outcome {} {}", st.index, st.outcome));
    last = std::max(last, st.index);
  }

  // Failed checks: the pages they name, or a note.
  std::map<int, std::set<uint64_t>> pfns;
  for (const auto& c : f->checks) {
    if (c.status != CheckStatus::Fail) continue;
    item(fmt::format("# {} (case {}, {}): {}", c.name, c.case_no,
                     c.step < 0 ? "at boot" : fmt::format("after step {}", c.step), one_line(c.detail)));
    size_t judged = 0, not_judged = 0, left_out = 0;
    for (const auto& p : c.pages) {
      const std::string tokens = page_evidence_tokens(p);
      if (tokens.empty()) {
        ++not_judged;
        continue;
      }
      if (judged == kMaxPagesPerCheck) {
        ++left_out;
        continue;
      }
      item(fmt::format("page {} {} {} {}", c.step, p.pfn, c.name, tokens));
      pfns[c.step].insert(p.pfn);
      ++judged;
    }
    if (not_judged)
      item(fmt::format("note {}: {} of its pages name no state the probe can be compared with", c.name, not_judged));
    if (left_out)
      item(fmt::format("note {}: {} more pages left out (the first {} are enough to tell)", c.name, left_out,
                       kMaxPagesPerCheck));
    if (judged) last = std::max(last, c.step);
    if (c.pages.empty())
      item(fmt::format("note {}: a check without pages ({}); run.sh does not judge it", c.name,
                       one_line(c.detail, 200)));
  }
  for (const auto& [step, set] : pfns)
    for (const auto& r : pfn_range_lines(set)) item(fmt::format("query {} {}", step, r));

  // Kernel reports: the failed run's are evidence, the other kinds are only shown.
  std::set<std::string> judged_needles;
  for (const auto& fd : f->console_findings) {
    if (fd.severity == Severity::Notice) continue;
    const Needle* hit = nullptr;
    for (const auto& nd : kNeedles)
      if (needle_matches(nd.text, fd.headline)) {
        hit = &nd;
        break;
      }
    if (!hit) {
      item(fmt::format("note a kernel report ({}) no needle matches: {}", fd.kind, one_line(fd.headline)));
      continue;
    }
    item(fmt::format("# was: {}", one_line(fd.headline)));
    if (judged_needles.insert(hit->text).second) item(fmt::format("console {} {}", hit->kind, hit->text));
    last = std::max(last, last_run);
  }
  for (const auto& nd : kNeedles)
    if (!judged_needles.count(nd.text)) item(fmt::format("watch {} {}", nd.kind, nd.text));
  item(fmt::format("ignore {}", kRefusalDump));

  // The steps before the last sign that went as expected: the rerun must go the same way.
  if (last == -2) last = last_run;
  for (const auto& st : f->steps)
    if (st.ok && st.index <= last) line(fmt::format("path {} {}", st.index, st.outcome));
  line(fmt::format("last {}", last));
  return out + body;
}

std::string reproducer_script(const Scenario& s, const std::string& kernel_release) {
  const Timeouts limits;  // the rig's own, sized for TCG
  QemuLaunchSpec spec;
  spec.kernel = "$here/bzImage";
  spec.initrd = "$here/initramfs.cpio.gz";
  // Relative to the directory the script runs in: a Unix socket path has at most 107 bytes.
  spec.qmp_socket = "qmp.sock";
  spec.qga_socket = "qga.sock";
  spec.serial = "mon:stdio";
  spec.paused = false;
  spec.accel = "tcg";
  spec.extra_kernel_args = rig_kernel_args();
  spec.extra_kernel_args.push_back("rig.shell=1");
  std::vector<std::string> argv = qemu_argv(s, spec);
  argv[0] = "${QEMU:-qemu-system-x86_64}";
  std::string cmd;
  for (const auto& a : argv) {
    // $here and $QEMU expand; everything else is quoted as is.
    const bool expand = a.find("$here") != std::string::npos || a.rfind("${QEMU", 0) == 0;
    cmd += (cmd.empty() ? "" : " \\\n    ") + (expand ? "\"" + a + "\"" : sh_quote(a));
  }
  cmd += " \\\n    \"$@\"";

  // The steps, cycles unrolled: the index of each is the runner's (results' step index).
  std::string steps;
  auto line = [&steps](const std::string& l) { steps += "  " + l + "\n"; };
  const std::string snapshot = "cat /sys/kernel/debug/rig_probe/snapshot";
  line("show 'uname -r; cat /sys/devices/system/node/online' || return");
  line(fmt::format("show {} probe-boot.txt || return", sh_quote(snapshot)));
  line("outcome=ready; at_step -1 boot || return");
  const int cycles = std::max(1, s.cycles);
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    for (size_t i = 0; i < s.steps.size(); ++i) {
      const Step& st = s.steps[i];
      const int index = static_cast<int>((cycle - 1) * s.steps.size() + i);
      const Dimm* d = s.find_dimm(st.dimm);
      const std::string what =
          fmt::format("{} {}", step_action_name(st.action), d ? d->id : fmt::format("node{}", st.node));
      line(fmt::format("# step {}{}: {} (expected: {})", index, cycles > 1 ? fmt::format(", cycle {}", cycle) : "",
                       what, expected_outcome(st)));
      switch (st.action) {
        case StepAction::Plug:
          line(fmt::format("do_plug {} {} {} {} {} || return", index, sh_quote(d->id),
                           sh_quote(memory_backend_object_args(*d).dump()), sh_quote(dimm_device_args(*d).dump()),
                           limit_arg(st.timeout_s)));
          break;
        case StepAction::Online: {
          // Waits (host side, bounded) for the DIMM's blocks; onlines those that are not yet.
          const std::string g = fmt::format(
              "cd /sys/devices/system/memory || exit 3; bs=$((0x$(cat block_size_bytes))); first=$(({0} / bs)); "
              "last=$((({0} + {1} - 1) / bs)); b=$first; while [ $b -le $last ]; do [ -d memory$b ] || exit 1; b=$((b "
              "+ 1)); done; "
              "b=$first; while [ $b -le $last ]; do [ \"$(cat memory$b/state)\" = online ] || echo {2} > "
              "memory$b/state || exit 2; "
              "b=$((b + 1)); done; b=$first; while [ $b -le $last ]; do echo \"memory$b $(cat memory$b/state) "
              "zones=$(cat memory$b/valid_zones)\"; b=$((b + 1)); done",
              d->addr, d->size, st.zone);
          line(fmt::format("do_online {} {} {} {} || return", index, sh_quote(d->id), sh_quote(g),
                           limit_arg(st.timeout_s)));
          break;
        }
        case StepAction::Unplug: {
          line(fmt::format("show {} probe-before-step{}.txt || return", sh_quote(snapshot), index));
          line(fmt::format("do_unplug {} {} {} {} {} || return", index, sh_quote(d->id),
                           sh_quote(nlohmann::json{{"id", d->id}}.dump()),
                           sh_quote(nlohmann::json{{"id", memory_backend_id(*d)}}.dump()), limit_arg(st.timeout_s)));
          const std::string query =
              fmt::format("echo {}-{} > /sys/kernel/debug/rig_probe/query; cat /sys/kernel/debug/rig_probe/query",
                          d->addr >> 12, ((d->addr + d->size) >> 12) - 1);
          line(fmt::format("show {} probe-after-step{}.txt || return", sh_quote(query), index));
          line("show 'for n in /sys/devices/system/node/node*; do grep MemTotal $n/meminfo; done' || return");
          break;
        }
        case StepAction::ExpectNode: line(fmt::format("do_expect_node {} {} || return", index, st.node)); break;
        case StepAction::ExpectDimm: line(fmt::format("do_expect_dimm {} {} || return", index, sh_quote(d->id))); break;
      }
      line(fmt::format("at_step {} {} || return", index, sh_quote(what)));
    }
  }

  std::string head = fmt::format(
      R"SH(#!/bin/sh
# Reproducer for scenario '{scenario}' on kernel {release}, written by the rig.
# Needs only QEMU (qemu-system-x86_64, or set QEMU=) and a POSIX shell with coreutils, grep, sed
# and awk; everything else is in this directory, which may be moved anywhere.
#   ./run.sh                 boot under TCG, run the steps, look for what ./expect names, and end
#                            with one line on stdout and the exit status:
#                              "reproduced: ..." 1, "not reproduced: ..." 0, "could not tell: ..." 2
#   ./run.sh --interactive   boot and hand over the terminal: guest shell on the console,
#                            Ctrl-A c for the QEMU monitor, Ctrl-A x to quit
# Progress goes to stderr and run.log, the console to output.log, QMP answers and events to
# qmp.out, the probe's answers to probe-*.txt. Every wait has a limit in seconds, sized for TCG;
# raise them on a slow host. QUIET=1: no console on a terminal.
what={what}
BOOT_WAIT=${{BOOT_WAIT:-{boot}}}   # QEMU start to the guest's "rig: guest ready" console line
STEP_WAIT=${{STEP_WAIT:-{step}}}   # one plug, unplug or online, unless the step sets its own
CMD_WAIT=${{CMD_WAIT:-{cmd}}}      # one guest shell command or QMP answer
QUIT_WAIT=${{QUIT_WAIT:-{quit}}}    # QMP quit to QEMU's exit, then SIGTERM, then SIGKILL
here=$(cd "$(dirname "$0")" && pwd) || exit 2
cd "$here" || exit 2

run_qemu() {{
  exec {argv}
}}

case ${{1:-}} in
  --interactive)
    rm -f qmp.sock qga.sock
    echo "QMP: socat - UNIX-CONNECT:$here/qmp.sock   guest agent: socat - UNIX-CONNECT:$here/qga.sock"
    run_qemu ;;
  '') ;;
  *) echo "usage: $0 [--interactive]" >&2; exit 2 ;;
esac
for w in "$BOOT_WAIT" "$STEP_WAIT" "$CMD_WAIT" "$QUIT_WAIT"; do
  case $w in ''|*[!0-9]*) echo "run.sh: a wait is a whole number of seconds, not '$w'" >&2; exit 2 ;; esac
done
)SH",
      fmt::arg("scenario", s.name), fmt::arg("release", kernel_release), fmt::arg("argv", cmd),
      fmt::arg("what", sh_quote(fmt::format("scenario {} on kernel {}", s.name, kernel_release))),
      fmt::arg("boot", static_cast<long long>(limits.boot)), fmt::arg("step", static_cast<long long>(limits.step)),
      fmt::arg("cmd", static_cast<long long>(limits.guest_cmd)),
      fmt::arg("quit", static_cast<long long>(limits.shutdown)));
  std::string body = "\n# ---- The steps of scenario '" + s.name +
                     "', each waiting for what it needs. ----\nrun_steps() {\n" + steps + "}\n";
  return head + kLibrary + body + kMain;
}

std::string write_reproducer(const Scenario& s, const KernelImage& kernel, const std::string& initramfs,
                             const std::string& dir, const ScenarioResult* failure) {
  fs::create_directories(dir);
  boost::system::error_code ec;
  fs::copy_file(kernel.path, dir + "/bzImage", fs::copy_option::overwrite_if_exists, ec);
  if (ec) throw InfraError(fmt::format("reproducer: cannot copy {}: {}", kernel.path, ec.message()));
  fs::copy_file(initramfs, dir + "/initramfs.cpio.gz", fs::copy_option::overwrite_if_exists, ec);
  if (ec) throw InfraError(fmt::format("reproducer: cannot copy {}: {}", initramfs, ec.message()));
  auto write = [&dir](const std::string& name, const std::string& text) {
    std::ofstream out(dir + "/" + name);
    out << text;
    out.close();
    if (!out) throw InfraError(fmt::format("reproducer: cannot write {}/{}", dir, name));
  };
  write("run.sh", reproducer_script(s, kernel.release));
  ::chmod((dir + "/run.sh").c_str(), 0755);
  write("expect", reproducer_expect(s, failure));

  std::string readme = fmt::format("# Reproducer: {} on {}\n\n{}\n\n", s.name, kernel.release, s.description);
  if (failure) {
    readme += fmt::format("## What failed\n\nVerdict **{}**: {}\n\n", verdict_name(failure->verdict), failure->reason);
    for (const auto& c : failure->checks)
      if (c.status == CheckStatus::Fail)
        readme += fmt::format("- case {} `{}` (step {}): {}\n", c.case_no, c.name, c.step, c.detail);
    for (const auto& st : failure->steps)
      if (!st.ok)
        readme += fmt::format("- step {} {} {}: expected {}, got {}: {}\n", st.index, st.action, st.target, st.expected,
                              st.outcome, st.detail);
    for (const auto& fd : failure->console_findings)
      if (fd.severity != Severity::Notice) readme += fmt::format("- console ({}): `{}`\n", fd.kind, fd.headline);
    readme += fmt::format("\nThe rig's own artifacts of that run: `{}`.\n\n", failure->artifacts);
  }
  readme += fmt::format(
      "## Run it\n\n"
      "    ./run.sh                 # boot under TCG, run the steps, judge; one verdict line on stdout\n"
      "    ./run.sh --interactive   # guest shell on the terminal; Ctrl-A c: QEMU monitor, Ctrl-A x: quit\n\n"
      "Only QEMU (`qemu-system-x86_64`, or set `QEMU=`) and a POSIX `sh` with coreutils, grep, sed and awk are "
      "needed.\n"
      "The last line on stdout, also in `verdict`, and the exit status say what happened:\n\n"
      "- `reproduced: ...` (exit 1): {}\n"
      "- `not reproduced: ...` (exit 0): the run went as far as it needed and none of it showed.\n"
      "- `could not tell: ...` (exit 2): QEMU is missing, the guest never printed `rig: guest ready`, a guest command "
      "or QMP\n"
      "  answer never came, or a step ended otherwise than in the failed run, so the rest cannot be compared.\n\n"
      "Every wait has a limit (seconds, sized for TCG): `BOOT_WAIT` ({}), `STEP_WAIT` ({}), `CMD_WAIT` ({}), "
      "`QUIT_WAIT` ({}).\n"
      "Progress goes to stderr and `run.log`, the console to `output.log`, QMP answers and events to `qmp.out`, the\n"
      "probe's snapshots and queries to `probe-*.txt`.\n\n"
      "## What it looks for: `expect`\n\n"
      "One item a line, `KIND STEP ...` (step -1: at boot); edit it to look for something else.\n\n"
      "- `expect STEP OUTCOME`: the scenario's expectation; a step that ends otherwise is reproduced.\n"
      "- `path STEP OUTCOME`: the failed run's step ended so; a rerun that ends otherwise could not tell.\n"
      "- `last STEP`: stop after this step.\n"
      "- `listed STEP DIMM yes|no`: after the step QEMU still lists / no longer lists the DIMM "
      "(`query-memory-devices`).\n"
      "- `outcome STEP OUTCOME`: the step ends so again.\n"
      "- `page STEP PFN CHECK TOKEN...`: after the step the probe's query of the pfn "
      "(`/sys/kernel/debug/rig_probe/query`,\n"
      "  docs/probe-format.md in the rig) shows every token: `gone`, `online`, `KEY=VALUE` over its fields, "
      "`type=tagged`\n"
      "  (any bootmem type), `type=untagged`, `type=SECTION_INFO|MIX_SECTION_INFO|NODE_INFO`. `query STEP RANGES` says "
      "what to ask.\n"
      "- `console KIND [^]TEXT`: a console line with TEXT (`^`: at its start) is a kernel report; `watch` ones are "
      "only shown;\n"
      "  `ignore TEXT` lines are not reports (the page dump of a refused offline).\n"
      "- `note TEXT`: evidence the script cannot look for (MemTotal, counts).\n",
      failure ? "a sign of the failed run showed again (the DIMM still listed after a refused or timed-out unplug, a\n"
                "  page the failed check named still in the state it was seen in, the same kind of kernel report)."
              : "a step did not end as the scenario expects, or the console shows a kernel report.",
      Timeouts{}.boot, Timeouts{}.step, Timeouts{}.guest_cmd, Timeouts{}.shutdown);
  write("README.md", readme);
  return dir;
}

}  // namespace rig
