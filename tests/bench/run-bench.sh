#!/bin/bash
# Measures the rig's speed and memory on this machine (never asserted in tests):
#   - unit-test wall time;
#   - per Debian kernel: boot to a ready guest agent and each smoke/spec scenario's duration,
#     taken from the rig's own JSON results;
#   - the rig's peak RSS (GNU time, when installed).
# Usage: tests/bench/run-bench.sh [SUITE] (default smoke). Writes bench-results/ and prints a table.
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:-smoke}
out=bench-results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
[ -x build/rig ] || ./setup.sh

start=$(date +%s.%N)
./build/rig_unit_tests > "$out/unit.log"
unit_s=$(echo "$(date +%s.%N) - $start" | bc)
printf 'unit tests: %.2f s\n' "$unit_s"

timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -v -o "$out/time-KERNEL.txt")
for k in debian-6.1 debian-6.12; do
  cmd=(./build/rig run --suite "$suite" --kernel "$k" --json "$out/$k.json" --artifacts "$out/runs")
  if [ ${#timer[@]} -gt 0 ]; then "${timer[@]/KERNEL/$k}" "${cmd[@]}" > "$out/$k.log" 2>&1 || true
  else "${cmd[@]}" > "$out/$k.log" 2>&1 || true; fi
  python3 - "$out/$k.json" "$out/time-$k.txt" <<'PY'
import json, sys, os
r = json.load(open(sys.argv[1]))
rss = ""
if os.path.exists(sys.argv[2]):
    for line in open(sys.argv[2]):
        if "Maximum resident set size" in line:
            rss = f", peak RSS of the rig or its largest child (QEMU) {int(line.split(':')[1]) // 1024} MiB"
print(f"\n{r['results'][0]['kernel']} ({r['results'][0]['accel']}){rss}")
print(f"{'scenario':34} {'verdict':8} {'boot s':>7} {'total s':>8}")
for x in r["results"]:
    print(f"{x['scenario']:34} {x['verdict']:8} {x['boot_s']:7.1f} {x['duration_s']:8.1f}")
boots = [x['boot_s'] for x in r['results'] if x['boot_s'] > 0]
if boots:
    print(f"boot to agent: median {sorted(boots)[len(boots)//2]:.1f} s over {len(boots)} boots")
PY
done
echo "raw results: $out"
