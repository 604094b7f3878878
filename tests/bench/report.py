#!/usr/bin/env python3
"""Tables of one benchmark run (tests/bench/run-bench.sh): the floor, the suite cold and warm at
each -j, each scenario by phase, every figure with its ratio to the floor, and the targets of
docs/performance.md. Missing data (a rig without phases, snapshots or -j) prints as n/a.

Usage: tests/bench/report.py BENCH_DIR   (prints the tables; writes summary.json and summary.md)
"""
import glob
import json
import os
import sys

PHASES = ["boot", "restore", "save", "probe", "steps", "judge", "teardown"]  # the rig's names; "checks" is read as judge
TARGETS = {"cold_suite_s": 60.0, "warm_suite_s": 15.0, "cold_overhead": 0.25, "restore_vs_floor": 1.0}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def num(x, fmt="{:.1f}"):
    return "n/a" if x is None else fmt.format(x)


def ratio(x, floor):
    return None if x is None or not floor else x / floor


def pct(x):
    return "n/a" if x is None else f"{x * 100:+.0f} %"


def times(x):
    return "n/a" if x is None else f"{x:.2f}x"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths))]
    for r in rows:
        lines.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def markdown(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def phase(result, name):
    p = result.get("phases") or {}
    v = p.get(name)
    return float(v) if isinstance(v, (int, float)) else None


def start_of(result):
    if result.get("start"):
        return result["start"]
    p = result.get("phases") or {}
    return "restore" if "restore" in p else ("boot" if "boot" in p else None)


def boot_or_restore(result):
    v = phase(result, "boot")
    if v is None:
        v = phase(result, "restore")
    if v is None and isinstance(result.get("boot_s"), (int, float)) and result["boot_s"] > 0:
        v = float(result["boot_s"])  # rig-results/1: boot to a ready agent
    return v


def verdict_counts(results):
    counts = {}
    for r in results:
        counts[r.get("verdict", "?")] = counts.get(r.get("verdict", "?"), 0) + 1
    return " ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "n/a"


def main(bench):
    env = load(os.path.join(bench, "env.json")) or {}
    floors = {}
    for p in sorted(glob.glob(os.path.join(bench, "floor", "*", "floor.json"))):
        f = load(p)
        if f:
            floors[f["kernel"]] = f
    runs = []
    for p in sorted(glob.glob(os.path.join(bench, "suite", "*", "*", "wall.json"))):
        w = load(p)
        if not w:
            continue
        rep = load(os.path.join(os.path.dirname(p), "results.json")) or {}
        w["dir"] = os.path.relpath(os.path.dirname(p), bench)
        w["report"] = rep
        runs.append(w)

    out = []
    md = []
    summary = {"env": env, "floor": [], "suites": [], "scenarios": [], "targets": []}

    out.append(f"Benchmark {os.path.basename(os.path.abspath(bench))}: {env.get('date', 'n/a')}, {env.get('nproc', 'n/a')} CPUs "
               f"({env.get('cpu', 'n/a')}), {env.get('ram_gib', 'n/a')} GiB, {env.get('qemu', 'n/a')}, "
               f"rig {env.get('commit', 'n/a')}{' (dirty tree)' if env.get('tree_dirty') else ''}")

    # The floor.
    rows = []
    for k, f in floors.items():
        rows.append([k, f["release"], num(f["median_s"], "{:.2f}"), num(f["min_s"], "{:.2f}"), num(f["max_s"], "{:.2f}"), f["reps"]])
        summary["floor"].append({k2: f[k2] for k2 in ("kernel", "release", "median_s", "min_s", "max_s", "reps", "times_s")})
    header = ["kernel", "release", "floor s (median)", "min", "max", "boots"]
    out += ["", "Floor: bare QEMU boot (TCG) of the rig's kernel and initramfs to /init and power-off, no rig", table(rows, header) if rows else "n/a"]
    md += ["### Floor", "", markdown(rows, header) if rows else "n/a"]

    def floor_of(k):
        f = floors.get(k)
        return f["median_s"] if f else None

    # The suite, cold and warm.
    rows = []
    for w in sorted(runs, key=lambda w: (w["kernel"], w["mode"] != "cold", w["jobs"] != "1", w["jobs"])):
        rep = w["report"]
        s = rep.get("summary") or {}
        fl = floor_of(w["kernel"])
        rig_wall = s.get("wall_s") if isinstance(s.get("wall_s"), (int, float)) else None
        target = TARGETS["cold_suite_s"] if w["mode"] == "cold" else TARGETS["warm_suite_s"]
        met = None if w["wall_s"] is None else w["wall_s"] < target
        # summary.jobs is the -j given (0: the host's budget decided).
        jobs = w["jobs"] if w["jobs"] != "default" else f"default ({s['jobs']})" if s.get("jobs") else "default"
        rows.append([w["kernel"], w["mode"], jobs, num(w["wall_s"]), num(rig_wall), times(ratio(w["wall_s"], fl)),
                     verdict_counts(rep.get("results", [])), w["exit"],
                     num(w.get("peak_rss_kb") and w["peak_rss_kb"] / 1024, "{:.0f}"),
                     f"< {target:.0f} s: {'met' if met else 'missed'}"])
        summary["suites"].append({"kernel": w["kernel"], "mode": w["mode"], "jobs": w["jobs"], "jobs_used": s.get("jobs"),
                                  "wall_s": w["wall_s"], "rig_wall_s": rig_wall, "floor_s": fl, "ratio_to_floor": ratio(w["wall_s"], fl),
                                  "exit": w["exit"], "verdicts": verdict_counts(rep.get("results", [])), "dir": w["dir"],
                                  "format": rep.get("format")})
        summary["targets"].append({"target": f"{w['mode']} suite on {w['kernel']} -j {w['jobs']} under {target:.0f} s",
                                   "value": w["wall_s"], "met": met})
    header = ["kernel", "mode", "-j", "wall s", "rig wall_s", "x floor", "verdicts", "exit", "peak RSS MiB", "target"]
    out += ["", "Suite (cold: after `rig cache clear`; warm: snapshots cached)", table(rows, header) if rows else "n/a"]
    md += ["", "### Suite", "", markdown(rows, header) if rows else "n/a"]
    if runs and not any(w["mode"] == "warm" for w in runs):
        out.append("warm: n/a (this rig has no snapshot cache)")

    # Each scenario by phase, from the -j 1 runs (no other guest competing); else any run.
    rows = []
    overheads, restores = [], []
    picked = [w for w in runs if w["jobs"] == "1"] or runs
    for w in sorted(picked, key=lambda w: (w["kernel"], w["mode"] != "cold")):
        fl = floor_of(w["kernel"])
        for r in w["report"].get("results", []):
            start = start_of(r)
            br = boot_or_restore(r)
            td = phase(r, "teardown")
            save = (phase(r, "save") or 0.0) if r.get("phases") else None  # no save: the snapshot was there
            judge = phase(r, "judge") if phase(r, "judge") is not None else phase(r, "checks")
            dur = r.get("duration_s") if isinstance(r.get("duration_s"), (int, float)) else None
            # Overhead: what the rig spends around a cold scenario's own work (its boot to a ready
            # guest, saving the snapshot, its teardown) beyond the floor's bare boot and power-off.
            over = (br + save + td) / fl - 1 if start == "boot" and None not in (br, save, td) and fl else None
            if over is not None:
                overheads.append((over, r.get("scenario"), w["kernel"]))
            if start == "restore" and dur is not None and fl:
                restores.append((dur / fl, r.get("scenario"), w["kernel"]))
            name = r.get("scenario", "?") + (f" #{r['run']}" if isinstance(r.get("run"), int) and r["run"] > 1 else "")
            rows.append([name, w["kernel"], w["mode"], start or "n/a", r.get("verdict", "?"), num(dur),
                         times(ratio(dur, fl)), num(br), num(save), num(phase(r, "probe")), num(phase(r, "steps")), num(judge),
                         num(td), pct(over)])
            summary["scenarios"].append({"scenario": r.get("scenario"), "kernel": w["kernel"], "release": r.get("kernel"), "mode": w["mode"],
                                         "jobs": w["jobs"], "start": start, "verdict": r.get("verdict"), "duration_s": dur,
                                         "ratio_to_floor": ratio(dur, fl), "phases": r.get("phases"), "overhead": over})
    header = ["scenario", "kernel", "mode", "start", "verdict", "total s", "x floor", "boot/restore", "save", "probe", "steps", "judge",
              "teardown", "overhead"]
    out += ["", "Scenarios by phase (seconds; overhead = (boot + save + teardown) / floor - 1, booted runs)",
            table(rows, header) if rows else "n/a"]
    md += ["", "### Scenarios by phase", "", markdown(rows, header) if rows else "n/a"]

    worst = max(overheads) if overheads else None
    summary["targets"].append({"target": "rig overhead over the floor under 25 % for every cold scenario",
                               "value": worst[0] if worst else None, "met": None if worst is None else worst[0] < TARGETS["cold_overhead"]})
    slowest = max(restores) if restores else None
    summary["targets"].append({"target": "every restored scenario faster than the floor",
                               "value": slowest[0] if slowest else None, "met": None if slowest is None else slowest[0] < TARGETS["restore_vs_floor"]})
    out += ["", "Targets (docs/performance.md)"]
    for t in summary["targets"]:
        v = t["value"]
        shown = "n/a" if v is None else (f"{v:.1f} s" if "suite" in t["target"] else f"{v:.2f}")
        out.append(f"  {t['target']}: " + ("n/a (not measured)" if t["met"] is None else f"{shown}: {'met' if t['met'] else 'MISSED'}"))
    if worst:
        out.append(f"  (worst overhead: {worst[1]} on {worst[2]}, {pct(worst[0])})")
    if slowest:
        out.append(f"  (slowest restore: {slowest[1]} on {slowest[2]}, {slowest[0]:.2f}x the floor)")

    print("\n".join(out))
    with open(os.path.join(bench, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(bench, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
