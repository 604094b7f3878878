#!/bin/bash
# Checks .ci/merge-shards on made-up shard folders (no guest boots): a clean merge, its JUnit and
# KTAP, repeated runs split over shards, and every refusal. Prints "ok" lines; exit 1 on the
# first surprise. Usage: tests/bench/merge-shards-test.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
merge=$repo/.ci/merge-shards
t=$(mktemp -d /tmp/merge-shards-test-XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# shard DIR I/N "scenario:kernel:run:verdict"...
shard() {
  local dir=$1 mark=$2
  shift 2
  mkdir -p "$dir"
  python3 - "$dir" "$mark" "$@" <<'PY'
import json, sys
d, mark, items = sys.argv[1], sys.argv[2], sys.argv[3:]
res = []
for it in items:
    sc, k, run, v = it.split(":")
    res.append({"scenario": sc, "kernel": k, "run": int(run), "verdict": v, "duration_s": 10.0, "cases": [1] if v == "pass" else [],
                "cases_not_applicable": [5], "checks": [{"status": "pass"}, {"status": "n/a"}],
                "xpass": [{"case": 1, "check": "c", "evidence": "e"}] if v == "xpass" else [],
                "phases": {"boot": 5.0, "probe": 1.0, "steps": 2.0, "checks": 1.0, "teardown": 1.0}})
matrix = {}
for r in res:
    m = matrix.setdefault((r["scenario"], r["kernel"]), {"scenario": r["scenario"], "kernel": r["kernel"], "runs": 0, "passed": 0, "verdict": r["verdict"]})
    m["runs"] += 1
    m["passed"] += r["verdict"] in ("pass", "xfail", "xpass")
s = {"pass": sum(r["verdict"] == "pass" for r in res), "total": len(res), "wall_s": 30.0 + len(res), "jobs": 2, "repeat": 1,
     "matrix": list(matrix.values()), "flaky": 0, "complete": not d.endswith("-unfinished"), "shard": "" if mark == "-" else mark.lstrip("@")}
json.dump({"format": "rig-results/2", "results": res, "summary": s}, open(f"{d}/results.json", "w"))
if mark != "-" and not mark.startswith("@"):  # @I/N: a plain rig run --shard, no nightly.json
    json.dump({"format": "rig-nightly/1", "shard": mark}, open(f"{d}/nightly.json", "w"))
with open(f"{d}/junit.xml", "w") as f:
    f.write('<?xml version="1.0"?>\n<testsuites name="rig" tests="%d">\n' % len(res))
    for r in res:
        f.write('  <testsuite name="%s" tests="1" failures="%d" errors="0" skipped="0"><testcase name="%s"/></testsuite>\n'
                % (r["kernel"], r["verdict"] == "fail", r["scenario"]))
    f.write("</testsuites>\n")
with open(f"{d}/results.ktap", "w") as f:
    f.write("KTAP version 1\n1..%d\n" % len(res))
    for i, r in enumerate(res, 1):
        f.write("# %s\n    KTAP version 1\n    1..1\n    ok 1 step0\n%s %d %s@%s\n"
                % (r["scenario"], "ok" if r["verdict"] != "fail" else "not ok", i, r["scenario"], r["kernel"]))
PY
}

expect_exit() {  # WANT CMD...
  local want=$1 rc=0
  shift
  "$@" > "$t/out.txt" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$t/out.txt" >&2; fail "$* exited $rc, not $want"; }
}

# A clean merge of two shards, every run passed.
shard "$t/a" 1/2 "s1:6.1:1:pass" "s2:6.12:1:pass"
shard "$t/b" 2/2 "s2:6.1:1:pass" "s1:6.12:1:xpass"
expect_exit 0 "$merge" "$t/m" "$t/a" "$t/b"
python3 - "$t/m" <<'PY' || fail "merged results"
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
m = json.load(open(f"{d}/results.json"))
s = m["summary"]
assert m["format"] == "rig-results/2"
assert s["total"] == 4 and s["pass"] == 3 and s["xpass"] == 1, s
assert len(s["matrix"]) == 4 and s["wall_s"] == 32.0 and s["jobs"] == 2, s
assert s["cases_covered"] == [1] and s["cases_not_applicable"] == [5], s
assert s["checks"] == 8 and s["checks_not_applicable"] == 4 and len(s["xpass_entries"]) == 1, s
assert [x["shard"] for x in s["shards"]] == ["1/2", "2/2"], s["shards"]
assert s["flaky"] == 0 and s["repeat"] == 1 and s["complete"] is True, s
root = ET.parse(f"{d}/junit.xml").getroot()
assert root.get("tests") == "4" and len(root.findall("testsuite")) == 4
ktap = open(f"{d}/results.ktap").read().splitlines()
assert ktap[:2] == ["KTAP version 1", "1..4"], ktap[:2]
top = [l.split()[1] for l in ktap if l.startswith("ok ")]
assert top == ["1", "2", "3", "4"], top
PY
echo "ok: two shards merge into results.json, junit.xml and results.ktap"

# A failed run makes the merge exit 1, an error 3.
shard "$t/c" 2/2 "s2:6.1:1:fail" "s1:6.12:1:pass"
expect_exit 1 "$merge" "$t/m1" "$t/a" "$t/c"
shard "$t/e" 2/2 "s2:6.1:1:error" "s1:6.12:1:fail"
expect_exit 3 "$merge" "$t/m3" "$t/a" "$t/e"
echo "ok: the exit status follows the rig's (1 a failure, 3 an error)"

# Repeated runs of one pair on two shards are not how rig --shard splits, but add up (flaky).
shard "$t/r1" 1/2 "s1:6.1:1:pass"
shard "$t/r2" 2/2 "s1:6.1:2:fail"
expect_exit 1 "$merge" "$t/mr" "$t/r1" "$t/r2"
python3 -c "
import json, sys
m = json.load(open('$t/mr/results.json'))['summary']['matrix']
assert m == [{'scenario': 's1', 'kernel': '6.1', 'runs': 2, 'passed': 1, 'verdict': 'flaky'}], m
" || fail "matrix of runs split over shards"
echo "ok: runs of one pair on two shards add up to one matrix row (flaky)"

# Shards of plain `rig run --shard I/N --out` (no nightly.json) are known by summary.shard.
shard "$t/p1" @1/2 "s1:6.1:1:pass"
shard "$t/p2" @2/2 "s2:6.1:1:pass"
expect_exit 0 "$merge" "$t/mp" "$t/p1" "$t/p2"
expect_exit 2 "$merge" "$t/mp1" "$t/p1"
echo "ok: rig run --shard folders are checked by their summary.shard"

# A shard whose rig did not finish (summary.complete false) is merged, and the merge exits 3.
shard "$t/b-unfinished" 2/2 "s2:6.1:1:pass"
expect_exit 3 "$merge" "$t/mu3" "$t/a" "$t/b-unfinished"
grep -q 'did not finish' "$t/out.txt" || fail "unfinished message"
python3 -c "import json; assert json.load(open('$t/mu3/results.json'))['summary']['complete'] is False" || fail "complete flag"
echo "ok: an unfinished shard is merged and makes the merge exit 3"

# Refusals: the same (scenario, kernel, run) twice, a missing or doubled shard, no results.
shard "$t/d" 2/2 "s1:6.1:1:pass"
expect_exit 2 "$merge" "$t/md" "$t/a" "$t/d"
grep -q 's1 on 6.1 run 1 is in two shards' "$t/out.txt" || fail "duplicate message"
[ ! -e "$t/md/results.json" ] || fail "a refused merge wrote results.json"
expect_exit 2 "$merge" "$t/mm" "$t/a"
grep -q 'shard(s) 2/2 missing' "$t/out.txt" || fail "missing-shard message"
shard "$t/a2" 1/2 "s9:6.1:1:pass"
expect_exit 2 "$merge" "$t/m2" "$t/a" "$t/a2" "$t/b"
grep -q 'shard 1/2 twice' "$t/out.txt" || fail "doubled-shard message"
shard "$t/x" 1/3 "s8:6.1:1:pass"
expect_exit 2 "$merge" "$t/mx" "$t/x" "$t/b"
mkdir -p "$t/empty"
expect_exit 2 "$merge" "$t/me" "$t/empty"
expect_exit 2 "$merge" "$t/ma" "$t/a" "$t/a"
expect_exit 2 "$merge" "$t/mu"
shard "$t/n" - "s7:6.1:1:pass"
expect_exit 2 "$merge" "$t/mn" "$t/a" "$t/b" "$t/n"
echo "ok: duplicates, missing or doubled shards, mixed splits, a non-shard beside shards and missing results are refused (exit 2)"

# Folders without nightly.json (rig run --out by hand) merge when their runs are disjoint.
shard "$t/h1" - "s1:6.1:1:pass"
shard "$t/h2" - "s2:6.1:1:pass"
expect_exit 0 "$merge" "$t/mh" "$t/h1" "$t/h2"
echo "ok: plain rig run --out folders merge"
