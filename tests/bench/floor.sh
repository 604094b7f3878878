#!/bin/bash
# The benchmark floor: a bare QEMU boot of a kernel with the rig's own initramfs, to /init and
# power-off, with no rig in the loop. Prints the median wall time in seconds (exec of QEMU to its
# exit) on stdout; each repetition goes to stderr.
#
# Usage: tests/bench/floor.sh [-n REPS] [-o DIR] [-s SCENARIO.toml] KERNEL
#   KERNEL    what `rig run --kernel` takes: debian-6.1, debian-6.12, a bzImage, a build dir
#   -n REPS   timed boots (default 5); the figure is their median
#   -o DIR    keep everything there: floor.json, console and QEMU logs of each boot, the command
#             (default: a temporary directory, removed on success, kept and named on failure)
#   -s FILE   the scenario whose machine options the floor boots with (default: the spec
#             scenario unplug-boot-dimm-movable: pc, qemu64, 2 CPUs, 2 nodes, 1G + a 512M boot
#             DIMM, maxmem 8G, 4 slots, virtio-serial)
# Environment: RIG (the rig binary; default build-bench/rig, then build/rig), QEMU (default
# qemu-system-x86_64), FLOOR_TIMEOUT (seconds per boot, default 180).
#
# How: `rig repro` builds (or takes from the cache) the very initramfs and probe the rig boots
# for this kernel and copies it with the kernel; `rig qemu-args` gives the scenario's QEMU command
# line. The floor runs that command with three changes: no -S (nobody sends "cont"),
# rig.floor=1 on the kernel command line (images/init prints one line and powers off at once),
# and -accel tcg. The console goes to a file and -no-reboot stays, as in the rig.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
export RIG_HOME=${RIG_HOME:-$repo}   # the rig builds the image from this checkout's images/

reps=5
out=
scenario=$repo/rig/scenarios/unplug-boot-dimm-movable.toml
usage() { sed -n '6,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "n:o:s:h" opt; do
  case $opt in
    n) reps=$OPTARG ;;
    o) out=$OPTARG ;;
    s) scenario=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
kernel=$1
case $reps in '' | *[!0-9]* | 0) echo "floor: -n wants a positive number" >&2; exit 2 ;; esac
[ -f "$scenario" ] || { echo "floor: no scenario $scenario" >&2; exit 2; }

rig=${RIG:-}
if [ -z "$rig" ]; then
  for r in "$repo/build-bench/rig" "$repo/build/rig"; do
    [ -x "$r" ] && { rig=$r; break; }
  done
fi
if [ -z "$rig" ] || [ ! -x "$rig" ]; then echo "floor: no rig binary (build one, or set RIG=)" >&2; exit 2; fi
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || { echo "floor: $qemu not found" >&2; exit 2; }
limit=${FLOOR_TIMEOUT:-180}

keep=1
if [ -z "$out" ]; then
  out=$(mktemp -d /tmp/rig-floor-XXXXXX)
  keep=0
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Unix socket paths are short (108 bytes): the sockets live in their own short directory.
sock=$(mktemp -d /tmp/rig-floor-sock-XXXXXX)
ok=0
cleanup() {
  rm -rf "$sock"
  if [ "$keep" = 0 ] && [ "$ok" = 1 ]; then rm -rf "$out"
  elif [ "$ok" = 0 ]; then echo "floor: logs kept in $out" >&2; fi
}
trap cleanup EXIT

# The rig's image for this kernel, and the kernel itself, as the rig resolves KERNEL.
if ! "$rig" repro "$scenario" --kernel "$kernel" -o "$out/image" > "$out/repro.log" 2>&1; then
  echo "floor: rig repro failed for $kernel:" >&2
  cat "$out/repro.log" >&2
  exit 3
fi
release=$(sed -n '1s/^# Reproducer: .* on //p' "$out/image/README.md")
[ -n "$release" ] || { echo "floor: no kernel release in $out/image/README.md" >&2; exit 3; }

# The scenario's QEMU command line, turned into the floor's (one argument per line).
"$rig" qemu-args "$scenario" --kernel "$out/image/bzImage" > "$out/rig-qemu-args.txt"
mapfile -t argv < <(python3 - "$out/rig-qemu-args.txt" "$out/image/initramfs.cpio.gz" "$sock" "$qemu" <<'PY'
import shlex, sys
line = open(sys.argv[1]).read()
initrd, sock, qemu = sys.argv[2], sys.argv[3], sys.argv[4]
argv = shlex.split(line)
out, i = [qemu], 1
while i < len(argv):
    a = argv[i]
    if a == "-S":
        i += 1
        continue
    if a == "-accel":
        out += ["-accel", "tcg"]
        i += 2
        continue
    if a == "-append":
        out += ["-append", argv[i + 1] + " rig.floor=1"]
        i += 2
        continue
    a = (a.replace("INITRD", initrd).replace("RUN/console.log", "@CONSOLE@").replace("RUN/", sock + "/")
         .replace("unix:qmp.sock", "unix:" + sock + "/qmp.sock").replace("path=qga.sock", "path=" + sock + "/qga.sock"))
    out.append(a)
    i += 1
assert "-initrd" in out and any("@CONSOLE@" in a for a in out), "unexpected rig qemu-args output: " + line
print("\n".join(out))
PY
)
{
  echo "#!/bin/sh"
  echo "# The floor's QEMU command (@CONSOLE@: each boot's console file)."
  printf 'exec'
  printf " '%s'" "${argv[@]}"
  echo
} > "$out/qemu-command.sh"

qemu_version=$("$qemu" --version | head -n 1)
echo "floor: $kernel = $release, $reps boots, $(basename "$scenario" .toml) machine, $qemu_version" >&2
times=()
for i in $(seq 1 "$reps"); do
  console=$out/console-$i.log
  rm -f "$console" "$sock"/*
  run=("${argv[@]//@CONSOLE@/$console}")
  busy=$(pgrep -c -f '^qemu-system' || true)
  t0=$EPOCHREALTIME
  set +e
  timeout -k 5 "$limit" "${run[@]}" > "$out/qemu-$i.log" 2>&1 < /dev/null
  rc=$?
  set -e
  t1=$EPOCHREALTIME
  secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  if [ "$rc" -ne 0 ] || ! grep -q '^rig: floor: /init reached' "$console" || grep -q 'Kernel panic' "$console"; then
    echo "floor: boot $i of $kernel did not end in a clean power-off from /init (QEMU exit $rc, ${secs} s); see $console" >&2
    exit 3
  fi
  times+=("$secs")
  echo "floor: boot $i: ${secs} s (other QEMUs running: $busy)" >&2
done

python3 - "$out/floor.json" "$kernel" "$release" "$qemu_version" "$scenario" "${times[@]}" <<'PY'
import json, statistics, sys, os, time
path, kernel, release, qemu, scenario = sys.argv[1:6]
times = [float(t) for t in sys.argv[6:]]
rec = {"format": "rig-floor/1", "kernel": kernel, "release": release, "qemu": qemu,
       "scenario": os.path.basename(scenario), "accel": "tcg", "reps": len(times), "times_s": times,
       "median_s": round(statistics.median(times), 3), "min_s": min(times), "max_s": max(times),
       "loadavg": open("/proc/loadavg").read().split()[:3], "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
json.dump(rec, open(path, "w"), indent=2)
print(f"{rec['median_s']:.2f}")
PY
ok=1
