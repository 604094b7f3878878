#!/bin/bash
# Measures the rig's speed on this machine against the floor, in one run (measured, never
# asserted; docs/performance.md has the figures and the targets):
#   1. the floor per kernel: a bare QEMU boot of the same kernel and initramfs to /init and
#      power-off (tests/bench/floor.sh), median of --reps boots;
#   2. after an untimed warm-up run (the rig's accelerator probe, the guest image),
#      the whole suite per kernel: cold (snapshot cache emptied by `rig cache clear`), then warm
#      (snapshots cached), with -j 1 and with the rig's default -j; wall time from the driver
#      and the rig's own summary.wall_s;
#   3. each scenario's time split by phase (boot or restore, probe, steps, checks, teardown), from
#      the -j 1 runs (cold: booted, warm: restored), and its ratio to the floor.
# Everything goes to bench-results/DATE/ (or --out DIR); tests/bench/report.py prints the tables
# and writes summary.json and summary.md there (run it again on a folder to reprint).
# Where the rig lacks a feature (`rig run --out`, `-j`, `rig cache`, results phases) the driver
# falls back to what exists and the report prints n/a.
#
# Usage: tests/bench/run-bench.sh [--kernel K]... [--suite NAME] [--reps N] [--jobs LIST]
#                                 [--floor-only] [--cache-dir DIR] [--out DIR]
#   --kernel K    debian-6.1, debian-6.12, a bzImage or a build dir; repeatable (default: one
#                 debian-X.Y for each kernel series installed in /boot, newest of each)
#   --suite NAME  the suite to time (default spec)
#   --reps N      timed floor boots per kernel (default 5)
#   --jobs LIST   comma-separated -j values, "default" = the rig's own (default 1,default)
#   --floor-only  measure the floor only
#   --cache-dir D the rig's cache (RIG_CACHE_DIR) for this run: `rig cache clear` then empties
#                 only this one, not the snapshots other users of the machine rely on
# Environment: RIG (the rig binary; default build-bench/rig, then build/rig).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export RIG_HOME=${RIG_HOME:-$repo}

kernels=()
suite=spec
reps=5
jobs_list=1,default
floor_only=0
out=
usage() { sed -n '17,27p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernels+=("$2"); shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --jobs) jobs_list=$2; shift 2 ;;
    --floor-only) floor_only=1; shift ;;
    --out) out=$2; shift 2 ;;
    --cache-dir) mkdir -p "$2"; RIG_CACHE_DIR=$(cd "$2" && pwd); export RIG_CACHE_DIR; shift 2 ;;
    *) usage ;;
  esac
done

if [ ${#kernels[@]} -eq 0 ]; then
  # One per kernel series in /boot: the rig resolves debian-X.Y to the newest of that series.
  while read -r series; do kernels+=("debian-$series"); done < <(
    for f in /boot/vmlinuz-*; do
      [ -e "$f" ] || continue
      r=${f#/boot/vmlinuz-}
      printf '%s\n' "$r" | sed -nE 's/^([0-9]+\.[0-9]+)[.+-].*/\1/p'
    done | sort -uV)
  [ ${#kernels[@]} -gt 0 ] || { echo "bench: no kernel in /boot; pass --kernel" >&2; exit 2; }
fi

rig=${RIG:-}
if [ -z "$rig" ]; then
  for r in build-bench/rig build/rig; do [ -x "$r" ] && { rig=$PWD/$r; break; }; done
fi
if [ -z "$rig" ]; then
  cmake -S . -B build-bench -DRIG_INTEGRATION_TESTS=OFF > /dev/null
  cmake --build build-bench -j1 --target rig > /dev/null
  rig=$PWD/build-bench/rig
fi
export RIG=$rig

out=${out:-bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "bench: results in $out; rig $rig; kernels ${kernels[*]}"

# The machine, recorded with the figures.
python3 - "$out/env.json" "$rig" "${kernels[@]}" <<'PY'
import json, os, subprocess, sys, time
path, rig, kernels = sys.argv[1], sys.argv[2], sys.argv[3:]
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception:
        return ""
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
env = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_kernel": os.uname().release, "nproc": os.cpu_count(),
       "ram_gib": round(mem_kb / 1024 / 1024, 1), "cpu": cpu, "qemu": sh("qemu-system-x86_64", "--version").splitlines()[0],
       "kvm": os.path.exists("/dev/kvm"), "rig": rig, "commit": sh("git", "rev-parse", "--short", "HEAD"),
       "tree_dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
       "loadavg": open("/proc/loadavg").read().split()[:3], "kernels": kernels, "cache_dir": os.environ.get("RIG_CACHE_DIR")}
json.dump(env, open(path, "w"), indent=2)
PY

label() { printf '%s' "$1" | tr -c 'A-Za-z0-9._+-' '_'; }

# 1. The floor.
for k in "${kernels[@]}"; do
  d=$out/floor/$(label "$k")
  if s=$(tests/bench/floor.sh -n "$reps" -o "$d" "$k"); then
    echo "bench: floor $k: $s s"
  else
    echo "bench: floor $k: failed (see $d)" >&2
  fi
done

if [ "$floor_only" = 0 ]; then
  # What this rig can do: the contract is `rig run --out DIR -j N`, `rig cache clear`.
  help=$("$rig" run --help 2>&1 || true)
  has_out=0; has_jobs=0; has_cache=0
  grep -q -- '--out' <<< "$help" && has_out=1
  grep -qE -- '(^|[ ,])-j([ ,]|$)|--jobs' <<< "$help" && has_jobs=1
  "$rig" --help 2>&1 | grep -qE '^[[:space:]]+cache([[:space:]]|$)' && has_cache=1
  echo "bench: rig run --out: $has_out, -j: $has_jobs, rig cache: $has_cache"
  timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%M' -o)

  # One timed run of the suite on one kernel into DIR; MODE and JOBS are labels for the report.
  suite_run() {
    local k=$1 mode=$2 jobs=$3 dir=$4
    mkdir -p "$dir"
    local cmd=("$rig" run --suite "$suite" --kernel "$k")
    [ "$jobs" != default ] && cmd+=(-j "$jobs")
    if [ "$has_out" = 1 ]; then cmd+=(--out "$dir")
    else cmd+=(--json "$dir/results.json" --junit "$dir/junit.xml" --ktap "$dir/results.ktap" --artifacts "$dir/runs"); fi
    local t0 t1 rc
    t0=$EPOCHREALTIME
    set +e
    if [ ${#timer[@]} -gt 0 ]; then "${timer[@]}" "$dir/peak-rss-kb.txt" "${cmd[@]}" > "$dir/rig.log" 2>&1
    else "${cmd[@]}" > "$dir/rig.log" 2>&1; fi
    rc=$?
    set -e
    t1=$EPOCHREALTIME
    python3 - "$dir/wall.json" "$k" "$mode" "$jobs" "$t0" "$t1" "$rc" "$dir/peak-rss-kb.txt" "${cmd[@]}" <<'PY'
import json, os, sys
path, k, mode, jobs, t0, t1, rc, rss = sys.argv[1:9]
peak = None
if os.path.exists(rss):
    lines = [l for l in open(rss).read().split() if l.isdigit()]
    peak = int(lines[-1]) if lines else None
json.dump({"kernel": k, "mode": mode, "jobs": jobs, "wall_s": round(float(t1) - float(t0), 3), "exit": int(rc),
           "peak_rss_kb": peak, "command": sys.argv[9:]}, open(path, "w"), indent=2)
PY
    printf 'bench: %s %s -j %s: %.1f s, exit %s\n' "$k" "$mode" "$jobs" "$(python3 -c "print($t1 - $t0)")" "$rc"
  }

  # Untimed warm-up per kernel: the rig's one-time costs (its KVM-or-TCG probe, up to 15 s on a
  # host where KVM guests hang; the guest image and probe module) stay out of the first figure.
  for k in "${kernels[@]}"; do
    w=$out/warmup/$(label "$k")
    mkdir -p "$w"
    wcmd=("$rig" run rig/scenarios/hotplug-then-unplug.toml --kernel "$k")
    grep -q -- '--no-snapshots' <<< "$help" && wcmd+=(--no-snapshots)
    if [ "$has_out" = 1 ]; then wcmd+=(--out "$w"); else wcmd+=(--json "$w/results.json" --artifacts "$w/runs"); fi
    "${wcmd[@]}" > "$w/rig.log" 2>&1 || echo "bench: warm-up on $k failed (see $w/rig.log)" >&2
  done

  IFS=, read -r -a jobs_values <<< "$jobs_list"
  if [ "$has_jobs" = 0 ]; then
    echo "bench: this rig has no -j: one run at its own parallelism"
    jobs_values=(default)
  fi
  # 2 and 3. Cold then warm, per kernel and -j value.
  for k in "${kernels[@]}"; do
    for j in "${jobs_values[@]}"; do
      base=$out/suite/$(label "$k")
      mkdir -p "$base"
      if [ "$has_cache" = 1 ]; then
        "$rig" cache clear > "$base/cache-clear-j$j.log" 2>&1 || echo "bench: rig cache clear failed (see $base)" >&2
        suite_run "$k" cold "$j" "$base/cold-j$j"
        "$rig" cache list > "$base/cache-after-cold-j$j.txt" 2>&1 || true
        suite_run "$k" warm "$j" "$base/warm-j$j"
      else
        # No snapshots: every run boots; it counts as cold, warm is n/a.
        suite_run "$k" cold "$j" "$base/cold-j$j"
      fi
    done
  done
fi

python3 tests/bench/report.py "$out"
echo "bench: raw results in $out"
