# The reproducer's shell library: the part of run.sh that does not depend on the scenario
# (waiting, QMP, the guest shell, the steps' mechanics and the judge). run.sh is its head (what,
# the waits, here, run_qemu), this file, then run_steps() and the call of it; the C++ side embeds
# this file at build time (src/CMakeLists.txt). Nothing in it waits without a limit: the one
# polling loop is wait_until, bounded by seconds and by a count of ticks. A unit test checks it
# and generated scripts with shellcheck.
# shellcheck shell=sh
# Set by run.sh's head: what here BOOT_WAIT STEP_WAIT CMD_WAIT QUIT_WAIT; run_steps and run_qemu too.
# shellcheck disable=SC2154
# ---- Mechanics. Nothing below waits without a limit. ----
log=output.log      # the guest console and QEMU's own messages
qmpout=qmp.out      # QMP answers and events (QEMU reads commands from the FIFO qmp.in)
exp=expect          # what to look for (written by the rig; one item a line)
qemu_pid='' tail_pid='' seen='' unknown='' stop='' reached=-2 n=0 qn=0 rc='' reply='' outcome=''
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
  # The marker's $? and $((...)) expand in the guest's shell, not here.
  # shellcheck disable=SC2016
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
    if [ "$rc" != 1 ] || [ "$(date +%s)" -ge "$o_end" ]; then break; fi
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
  outcome=''
  wait_until "$5" unplug_or_report "$q_from" "$2"
  case $? in
    0) [ -n "$outcome" ] || { say "step $1: a kernel report on the console before the eject of $2 settled"; judge; } ;;
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

# Whether the console shows a kernel report ./expect looks for (a "console" item): a guest that
# hit a BUG during an eject may never answer it, so the step's wait ends on it, not its limit.
report_seen() {
  tr -d '\r' < "$log" | sed 's/^\[ *[0-9]*\.[0-9]*\] //' > console.txt
  awk "$console_awk" "$exp" console.txt | grep -q '^console '
}
unplug_or_report() { unplug_settled "$@" || report_seen; }

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

# do_resize: a virtio-mem device's requested-size set, then its size read until it is the one
# requested (reached) or LIMIT seconds pass: partial when it moved, refused when it did not
# (the rig's rule, resize_result in machine.cc).
do_resize() {  # STEP DEVICE QOM-GET-ARGS QOM-SET-ARGS REQUESTED LIMIT
  say "step $1: resize $2 to $5 bytes"
  qmp qom-get "$3" || { mark_unknown "step $1: qom-get of $2's size failed: ${reply:-no QMP answer}"; return 1; }
  r_before=$(qom_number)
  [ -n "$r_before" ] || { mark_unknown "step $1: $2's size is not a number: $reply"; return 1; }
  qmp qom-set "$4" || { mark_unknown "step $1: qom-set of $2's requested-size failed: ${reply:-no QMP answer}"; return 1; }
  r_size=$r_before
  # Its own loop, as do_online: qmp runs wait_until itself, whose counters an outer wait_until
  # would share (and never reach its end while QEMU keeps answering).
  r_end=$(($(date +%s) + $6)); r_cap=$(($6 * ticks + 1)); r_i=0
  while [ "$r_i" -le "$r_cap" ]; do
    qmp qom-get "$3" || { mark_unknown "step $1: qom-get of $2's size failed: ${reply:-no QMP answer}"; return 1; }
    r_now=$(qom_number)
    [ -n "$r_now" ] || { mark_unknown "step $1: $2's size is not a number: $reply"; return 1; }
    r_size=$r_now
    if [ "$r_size" = "$5" ]; then outcome=reached; return 0; fi
    if [ "$(date +%s)" -ge "$r_end" ]; then break; fi
    sleep "$tick"; r_i=$((r_i + 1))
  done
  if [ "$r_size" = "$r_before" ]; then outcome=refused; else outcome=partial; fi
  say "step $1: $2 at $r_size of the requested $5 bytes (was $r_before) after $6 s"
}
qom_number() { printf '%s\n' "$reply" | sed -n 's/.*"return": *\([0-9][0-9]*\).*/\1/p' | head -n 1; }

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
  while read -r want; do
    [ -n "$want" ] || continue
    if [ "$want" = "$outcome" ]; then mark_seen "step $1 $2 ended $outcome, as in the failed run"; else say "step $1 $2 ended $outcome, in the failed run $want"; fi
  done <<EOF
$(sed -n "s/^outcome $1 //p" "$exp")
EOF
  look_listed "$1" || return 1
  look_pages "$1" || return 1
  look_zones "$1" || return 1
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

# The pages named after STEP: ask the probe (rig-probe query) and compare each with its tokens.
look_pages() {
  grep -q "^page $1 " "$exp" || return 0
  p_file=probe-evidence-step$1.txt
  [ "$1" -ge 0 ] || p_file=probe-evidence-boot.txt
  : > "$p_file"
  # Pages found again by their roles in this run's snapshot (at items): their pfns here.
  p_exp=expect-step$1.txt
  awk -v s="$1" "$reloc_awk" "$exp" > "$p_exp"
  while read -r p_kind p_pfn p_check p_what; do
    case $p_kind in
      absent) say "after step $1 no page has roles $p_what in this run's snapshot, where the failed run's pfn $(printf '%#x' "$p_pfn") ($p_check) had them: that sign is not seen" ;;
      nosnap) mark_unknown "the snapshot that places pfn $(printf '%#x' "$p_pfn") ($p_check) by its roles is missing, left pages out (overflow) or is not one run.sh writes" ;;
      moved) say "pfn $(printf '%#x' "$p_pfn") ($p_check): the page with its roles is at $(printf '%#x' "$p_what") in this run" ;;
    esac
  done <<EOF
$(sed -n "s/^reloc $1 //p" "$p_exp")
EOF
  while read -r p_ranges; do
    [ -n "$p_ranges" ] || continue
    case $p_ranges in *[!0-9\ -]*) mark_unknown "expectations: query '$p_ranges' is not pfn ranges"; return 0 ;; esac
    guest "rig-probe query '$p_ranges'" || return 1
    if [ "$rc" != 0 ]; then mark_unknown "after step $1 the probe did not answer its query (exit $rc)"; return 0; fi
    grep '^Q ' answer >> "$p_file"
  done <<EOF
$(sed -n "s/^query $1 //p" "$p_exp")
EOF
  awk -v s="$1" "$page_awk" probe-boot.txt "$p_file" "$p_exp" > page-verdicts.txt
  while read -r p_how p_pfn p_check p_tokens; do
    p_hex=$(printf '%#x' "$p_pfn")
    case $p_how in
      seen) mark_seen "after step $1 pfn $p_hex ($p_check) is again $p_tokens (the probe's query)" ;;
      clear) say "after step $1 pfn $p_hex ($p_check) is no longer $p_tokens" ;;
      *) mark_unknown "after step $1 the probe's answer does not show pfn $p_hex ($p_check) well enough to compare" ;;
    esac
  done < page-verdicts.txt
}

# The zones named after STEP: their present pages in /proc/zoneinfo, against what the failed run
# saw and what was due.
look_zones() {
  grep -q "^zone $1 " "$exp" || return 0
  guest "grep -E '^Node|^ +present ' /proc/zoneinfo" || return 1
  if [ "$rc" != 0 ]; then mark_unknown "after step $1 /proc/zoneinfo could not be read (exit $rc)"; return 0; fi
  awk -v s="$1" "$zone_awk" answer "$exp" > zone-verdicts.txt
  while read -r z_how z_node z_zone z_now z_seen z_due; do
    case $z_how in
      seen) mark_seen "after step $1 node $z_node zone $z_zone has $z_now present pages again, as after the failed run ($z_due were due)" ;;
      clear) say "after step $1 node $z_node zone $z_zone has $z_now present pages (the failed run: $z_seen; due: $z_due)" ;;
      *) mark_unknown "after step $1 /proc/zoneinfo shows no zone $z_zone on node $z_node" ;;
    esac
  done < zone-verdicts.txt
}

# File: ./expect. Prints step s's page items, each pfn that has an at item replaced by the pfn
# its roles have in this run's snapshot (the at item's file), the query lines for them, and
# "reloc s KIND PFN CHECK WHAT" lines: moved (WHAT: the new pfn; the first three), absent (no
# page has the roles: the item is dropped), nosnap (the snapshot is missing or empty: dropped).
# shellcheck disable=SC2016
reloc_awk='
$1 == "at" && $2 == s { f[$3] = $4; off[$3] = $5; ro[$3] = $6; need[$4] = 1; next }
$1 == "page" && $2 == s { np++; pl[np] = $0; next }
END {
  for (file in need) {
    # Only the snapshots run.sh itself writes here: an edited or borrowed expect may name any
    # path (a FIFO would hang the read), and such an item is not placed.
    if (file !~ /^probe-(boot|before-step[0-9]+)\.txt$/) continue
    lines = 0; over = 0
    while ((getline l < file) > 0 && lines < 10000000) {
      lines++
      if (l ~ /^overflow /) over = 1
      if (l !~ /^P /) continue
      n = split(l, w, " "); r = ""
      for (i = 4; i <= n; i++) if (substr(w[i], 1, 6) == "roles=") r = substr(w[i], 7)
      if (r == "") continue
      k = file SUBSEP r
      if (!(k in low) || w[2] + 0 < low[k]) low[k] = w[2] + 0
    }
    close(file)
    # A snapshot that left pages out (overflow) cannot say that no page has some roles.
    if (lines > 0 && !over) have[file] = 1
  }
  moved = 0
  for (j = 1; j <= np; j++) {
    split(pl[j], w, " "); pfn = w[3]
    if (!(pfn in f)) { out[j] = pl[j]; q[j] = pfn + 0; continue }
    if (!(f[pfn] in have)) { print "reloc", s, "nosnap", pfn, w[4], ro[pfn]; continue }
    k = f[pfn] SUBSEP ro[pfn]
    if (!(k in low)) { print "reloc", s, "absent", pfn, w[4], ro[pfn]; continue }
    now = low[k] + off[pfn]
    if (now != pfn + 0) { moved++; if (moved <= 3) print "reloc", s, "moved", pfn, w[4], now }
    sub(/^page [^ ]+ [^ ]+/, "page " s " " now, pl[j]); out[j] = pl[j]; q[j] = now
  }
  for (j = 1; j <= np; j++) if (j in out) print out[j]
  # The queries: runs of consecutive pfns as ranges, at most 64 ranges a line.
  n = 0; line = ""; first = -1; last = -1
  for (j = 1; j <= np + 1; j++) {
    if (j <= np && !(j in q)) continue
    p = (j <= np) ? q[j] : -2
    if (first >= 0 && p == last + 1) { last = p; continue }
    if (first >= 0) {
      line = line (line == "" ? "" : " ") (first == last ? first : first "-" last); n++
      if (n == 64) { print "query", s, line; line = ""; n = 0 }
    }
    first = p; last = p
  }
  if (line != "") print "query", s, line
}
'

# Files: /proc/zoneinfo's Node and present lines, ./expect. Prints "seen|clear|unknown NODE ZONE
# NOW SEEN DUE" for each zone item of step s. An awk program: its $ fields are awk's.
# shellcheck disable=SC2016
zone_awk='
FILENAME == ARGV[1] { sub(/\r$/, "") }
FILENAME == ARGV[1] && $1 == "Node" { node = $2; sub(/,$/, "", node); zone = $4; next }
FILENAME == ARGV[1] && $1 == "present" && zone != "" { now[node " " zone] = $2; zone = ""; next }
FILENAME == ARGV[2] && $1 == "zone" && $2 == s {
  k = $3 " " $4
  if (!(k in now)) { print "unknown", $3, $4, "-", $6, $7; next }
  print (now[k] == $6 ? "seen" : "clear"), $3, $4, now[k], $6, $7
}
'

# Files: the boot snapshot (for the bootmem type numbers), the query answers, ./expect. Prints
# "seen|clear|unknown PFN CHECK TOKENS" for each page item of step s.
# An awk program: its $ fields are awk's.
# shellcheck disable=SC2016
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
      # Type 0 is no tag (a kernel without bootmem info prints types of 0).
      if (v[k] + 0 == 0 || (v[k] != ty["section"] && v[k] != ty["mix"] && v[k] != ty["node"])) ok = 0
      continue
    }
    if (k == "type" && want == "untagged") want = "0"
    else if (k == "type") {
      name = want == "SECTION_INFO" ? "section" : want == "MIX_SECTION_INFO" ? "mix" : want == "NODE_INFO" ? "node" : ""
      if (name == "" || !(name in ty) || ty[name] + 0 == 0) { bad = 1; continue }
      want = ty[name]
    }
    if (v[k] != want) ok = 0
  }
  print (!ok ? "clear" : bad ? "unknown" : "seen"), $3, $4, tokens
}'

# Files: ./expect, the console without timestamps. Prints "console|watch KIND LINE" for the first
# console line that shows each report.
# An awk program: its $ fields are awk's.
# shellcheck disable=SC2016
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
  r_step=$(awk -v r="$reached" '$1 ~ /^(expect|listed|outcome|page|zone)$/ && $2 + 0 > r + 0 { print $2; exit }' "$exp")
  [ -z "$r_step" ] || mark_unknown "the run ended before step $r_step, whose evidence it needs"
  [ -z "$seen" ] || finish 1 "reproduced: $seen"
  [ -z "$unknown" ] || finish 2 "could not tell: $unknown"
  grep -qE '^(expect|listed|outcome|page|zone|console) ' "$exp" || finish 2 "could not tell: ./expect names nothing this script can look for"
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
rm -f verdict run.log probe-*.txt answer boot1-output.log
: > probe-boot.txt
start_qemu() {
  rm -f console.in qmp.in qmp.sock qga.sock
  : > "$log"; : > "$qmpout"
  mkfifo console.in qmp.in || finish 2 "could not tell: cannot make FIFOs in $here"
  exec 3<>console.in 4<>qmp.in
  run_qemu -chardev pipe,id=rigqmp,path=qmp -mon chardev=rigqmp,mode=control <&3 >> "$log" 2>&1 &
  qemu_pid=$!
  if [ -t 2 ] && [ -z "${QUIET:-}" ]; then tail -f "$log" >&2 & tail_pid=$!; fi
  qmp qmp_capabilities || { mark_unknown "QEMU did not answer on QMP: $(last_words)"; judge; }
  wait_until "$BOOT_WAIT" console_has "rig: guest ready" 0
}
say "booting $what (TCG; limits: boot $BOOT_WAIT s, step $STEP_WAIT s, command $CMD_WAIT s)"
start_qemu
b_rc=$?
# The rig's rule (machine.cc boot_again_under_tcg; docs/performance.md): multi-threaded TCG breaks
# about one boot in a hundred before /init, with a hang or a kernel report. Such a boot is booted
# once more, its console kept as boot1-output.log. QEMU that ended without a kernel report is not
# the guest's boot, and after /init what the kernel did is the evidence.
broke_before_init() {
  console_has " as init process" 0 && return 1
  [ "$1" -eq 1 ] && return 0
  tr -d '\r' < "$log" | sed 's/^\[ *[0-9]*\.[0-9]*\] //' > console.txt
  [ -n "$(awk "$console_awk" "$exp" console.txt)" ]
}
if [ "$b_rc" -ne 0 ] && broke_before_init "$b_rc"; then
  say "the boot broke before /init ($(last_words)): booting once more (the first boot: boot1-output.log)"
  if qemu_alive; then kill -9 "$qemu_pid" 2>/dev/null; wait_until 5 qemu_gone; fi
  [ -z "$tail_pid" ] || kill "$tail_pid" 2>/dev/null
  tail_pid=''
  exec 3>&- 4>&-
  mv "$log" boot1-output.log
  start_qemu
  b_rc=$?
fi
case $b_rc in
  0) say "guest ready" ;;
  1) mark_unknown "the guest did not print 'rig: guest ready' within $BOOT_WAIT s (see output.log)"; judge ;;
  *) mark_unknown "QEMU ended before the guest was ready: $(last_words)"; judge ;;
esac
