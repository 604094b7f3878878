#!/usr/bin/env python3
"""Mutation test of the judge (src/rig/spec/*.cc).

Each mutant changes one token of one file: a relational operator (boundary flip and negation),
== <-> !=, && <-> ||, a unary ! removed, an integer literal c -> c+1 / c-1, true <-> false, or a
binary + <-> -. For each mutant the file is rewritten, the unit test binary rebuilt in a build
directory of its own, and rig_unit_tests run; the file is restored afterwards (also on Ctrl-C).
A mutant that does not compile is stillborn and not counted; a test run that fails or times out
kills the mutant; one that passes lets it survive.

    python3 tests/mutation/mutate.py --list
    python3 tests/mutation/mutate.py --sample 150 --seed 1 --out mutation-report.json
    python3 tests/mutation/mutate.py --retest mutation-report.json   # its survivors again
    python3 tests/mutation/mutate.py --only src/rig/spec/judge.cc:12:34      # file:line:col[:mutant]

Standard library only.
"""

import argparse
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

# ---------------------------------------------------------------------------------------------
# Tokenizer: enough C++ to find operators and literals outside comments, strings and
# preprocessor lines.

PUNCTUATORS = sorted(
    """>>= <<= <=> ... ->* :: -> ++ -- << >> <= >= == != && || += -= *= /= %= &= |= ^= ##
    { } [ ] ( ) ; : ? . ~ ! + - * / % ^ & | = < > , #""".split(),
    key=len,
    reverse=True,
)

IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
NUMBER_RE = re.compile(r"(?:0[xX][0-9a-fA-F']+|0[bB][01']+|[0-9][0-9']*(?:\.[0-9']*)?(?:[eE][+-]?[0-9]+)?)"
                       r"[A-Za-z_]*")
STRING_PREFIX_RE = re.compile(r'(?:u8|u|U|L)?R?"|(?:u8|u|U|L)?\'')


class Token:
    __slots__ = ("kind", "text", "pos", "line", "col")

    def __init__(self, kind, text, pos, line, col):
        self.kind, self.text, self.pos, self.line, self.col = kind, text, pos, line, col

    def __repr__(self):
        return f"{self.kind}:{self.text!r}@{self.line}:{self.col}"


def tokenize(src):
    tokens = []
    i, n = 0, len(src)
    line_starts = [0]
    for m in re.finditer("\n", src):
        line_starts.append(m.end())

    def where(pos):
        # binary search for the line
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - line_starts[lo] + 1

    at_line_start = True
    while i < n:
        c = src[i]
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == "#" and at_line_start:
            # A preprocessor line (with its continuations): never mutated.
            while i < n:
                j = src.find("\n", i)
                if j < 0:
                    i = n
                    break
                if src[j - 1] == "\\":
                    i = j + 1
                    continue
                i = j
                break
            continue
        at_line_start = False
        m = STRING_PREFIX_RE.match(src, i)
        if m and (m.group(0)[-1] in "\"'") and (m.end() - i == 1 or src[i] in "uUL8R"):
            start = i
            text = m.group(0)
            if text.endswith('R"'):
                # Raw string: R"delim( ... )delim"
                k = src.find("(", m.end())
                delim = src[m.end():k]
                end = src.find(")" + delim + '"', k)
                i = n if end < 0 else end + len(delim) + 2
            else:
                quote = text[-1]
                j = m.end()
                while j < n and src[j] != quote:
                    j += 2 if src[j] == "\\" else 1
                i = j + 1
            line, col = where(start)
            tokens.append(Token("string", src[start:i], start, line, col))
            continue
        m = IDENT_RE.match(src, i)
        if m:
            line, col = where(i)
            tokens.append(Token("ident", m.group(0), i, line, col))
            i = m.end()
            continue
        m = NUMBER_RE.match(src, i)
        if m and c.isdigit():
            line, col = where(i)
            tokens.append(Token("number", m.group(0), i, line, col))
            i = m.end()
            continue
        for p in PUNCTUATORS:
            if src.startswith(p, i):
                line, col = where(i)
                tokens.append(Token("punct", p, i, line, col))
                i += len(p)
                break
        else:
            line, col = where(i)
            tokens.append(Token("other", c, i, line, col))
            i += 1
    return tokens


# ---------------------------------------------------------------------------------------------
# Which '<' and '>' are template brackets. A '<' after a name opens a template argument list
# when a matching '>' follows before anything that cannot appear inside one (';', '{', '}',
# '&&', '||' at depth 0, or an unbalanced ')' / ']').

STOP_AT = {";", "{", "}", "&&", "||"}


def template_brackets(tokens):
    marked = set()
    for idx, t in enumerate(tokens):
        if t.text != "<" or t.kind != "punct" or idx == 0:
            continue
        prev = tokens[idx - 1]
        if prev.kind != "ident" or prev.text == "operator":
            if prev.text == "operator":
                marked.add(idx)
            continue
        depth, paren = 1, 0
        inner = []
        for j in range(idx + 1, len(tokens)):
            u = tokens[j]
            if u.kind != "punct":
                continue
            if u.text in ("(", "["):
                paren += 1
            elif u.text in (")", "]"):
                paren -= 1
                if paren < 0:
                    break
            elif paren == 0 and u.text in STOP_AT:
                break
            elif u.text == "<" and tokens[j - 1].kind == "ident":
                depth += 1
                inner.append(j)
            elif u.text == ">":
                depth -= 1
                inner.append(j)
            elif u.text == ">>":
                depth -= 2
                inner.append(j)
            if depth <= 0:
                marked.add(idx)
                marked.update(inner)
                break
    return marked


# ---------------------------------------------------------------------------------------------
# Mutants.

RELATIONAL = {
    "<": ["<=", ">="],
    "<=": ["<", ">"],
    ">": [">=", "<="],
    ">=": [">", "<"],
    "==": ["!="],
    "!=": ["=="],
}
LOGICAL = {"&&": "||", "||": "&&"}
OPERAND_END = {"ident", "number", "string"}


def is_binary(tokens, idx):
    """Whether the operator at idx has a left operand (not unary, not after a keyword)."""
    if idx == 0:
        return False
    p = tokens[idx - 1]
    if p.kind in ("number", "string"):
        return True
    if p.kind == "ident":
        return p.text not in ("return", "case", "operator", "const", "auto", "sizeof", "throw", "co_return")
    return p.text in (")", "]")


def is_rvalue_ref(tokens, idx):
    """`T&& x` in a declaration: a name or '>' before, a name after, then ',' ')' '=' or '{'."""
    if idx + 2 >= len(tokens) or idx == 0:
        return False
    p, n, nn = tokens[idx - 1], tokens[idx + 1], tokens[idx + 2]
    return (p.kind == "ident" or p.text == ">") and n.kind == "ident" and nn.text in (",", ")", "=", "{", ";", ":")


def int_value(text):
    m = re.fullmatch(r"(0[xX][0-9a-fA-F']+|[0-9][0-9']*)([uUlLzZ]*)", text)
    if not m:
        return None
    digits = m.group(1).replace("'", "")
    if digits.lower().startswith("0x"):
        return int(digits, 16), "hex", m.group(2)
    if len(digits) > 1 and digits.startswith("0"):
        return None  # octal: leave alone
    return int(digits), "dec", m.group(2)


def format_int(value, style, suffix):
    return (hex(value) if style == "hex" else str(value)) + suffix


def mutants_of(path, src):
    tokens = tokenize(src)
    templ = template_brackets(tokens)
    out = []

    def add(t, new, kind):
        out.append({"file": path, "line": t.line, "col": t.col, "pos": t.pos, "original": t.text, "mutant": new,
                    "kind": kind})

    for idx, t in enumerate(tokens):
        if t.kind == "punct":
            if t.text in RELATIONAL:
                if t.text in ("<", ">") and idx in templ:
                    continue
                if not is_binary(tokens, idx) or (idx > 0 and tokens[idx - 1].text == "operator"):
                    continue
                for new in RELATIONAL[t.text]:
                    add(t, new, "relational")
            elif t.text in LOGICAL:
                if t.text == "&&" and is_rvalue_ref(tokens, idx):
                    continue
                if not is_binary(tokens, idx):
                    continue
                add(t, LOGICAL[t.text], "logical")
            elif t.text == "!":
                add(t, "", "negation")
            elif t.text in ("+", "-"):
                if not is_binary(tokens, idx):
                    continue
                p, n = tokens[idx - 1], tokens[idx + 1] if idx + 1 < len(tokens) else None
                if p.kind == "string" or (n is not None and n.kind == "string"):
                    continue  # string concatenation
                add(t, "-" if t.text == "+" else "+", "arithmetic")
        elif t.kind == "number":
            v = int_value(t.text)
            if v is None:
                continue
            value, style, suffix = v
            # Not a template argument: those rarely compile or mean anything else.
            if idx > 0 and tokens[idx - 1].text == "<" and idx - 1 in templ:
                continue
            if value == 0:
                add(t, format_int(1, style, suffix), "constant")
            else:
                add(t, format_int(value + 1, style, suffix), "constant")
                add(t, format_int(value - 1, style, suffix), "constant")
        elif t.kind == "ident" and t.text in ("true", "false"):
            add(t, "false" if t.text == "true" else "true", "constant")
    return out


def mutant_id(m):
    return f"{m['file']}:{m['line']}:{m['col']}:{m['mutant'] or '(removed)'}"


def apply(src, m):
    return src[:m["pos"]] + m["mutant"] + src[m["pos"] + len(m["original"]):]


def source_line(src, line):
    return src.splitlines()[line - 1].strip()


# ---------------------------------------------------------------------------------------------
# Running.


class Runner:
    def __init__(self, args):
        self.root = args.root
        self.build = os.path.join(self.root, args.build_dir)
        self.timeout = args.timeout
        self.build_timeout = args.build_timeout
        self.target = "rig_unit_tests"

    def configure(self):
        if os.path.exists(os.path.join(self.build, "CMakeCache.txt")):
            return
        cmd = ["cmake", "-S", self.root, "-B", self.build, "-DCMAKE_BUILD_TYPE=Debug", "-DCMAKE_CXX_FLAGS_DEBUG=-O0",
               "-DRIG_INTEGRATION_TESTS=OFF", "-DRIG_SANITIZE=OFF"]
        if shutil_which("ninja"):
            cmd += ["-G", "Ninja"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    def build_tests(self):
        cmd = ["nice", "-n", "15", "cmake", "--build", self.build, "-j1", "--target", self.target]
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=self.build_timeout)
        except subprocess.TimeoutExpired:
            return False, "build timed out"
        return r.returncode == 0, r.stdout.decode(errors="replace")[-2000:]

    def run_tests(self):
        exe = os.path.join(self.build, self.target)
        cmd = ["nice", "-n", "15", exe, "--gtest_fail_fast", "--gtest_brief=1"]
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.build,
                                 start_new_session=True)
            out, _ = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return "killed", "timeout"
        except BaseException:  # Ctrl-C: the test binary runs in a session of its own
            os.killpg(p.pid, signal.SIGKILL)
            raise
        text = out.decode(errors="replace")
        if p.returncode == 0:
            return "survived", ""
        failed = re.findall(r"\[  FAILED  \] (\S+)", text)
        return "killed", failed[0] if failed else f"exit {p.returncode}"


def shutil_which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.access(os.path.join(d, name), os.X_OK):
            return True
    return False


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    ap.add_argument("--files", nargs="+", help="C++ files to mutate (default: src/rig/spec/*.cc)")
    ap.add_argument("--build-dir", default="build-mut")
    ap.add_argument("--sample", type=int, help="test a random subset of N mutants")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    ap.add_argument("--only", nargs="+", metavar="FILE:LINE:COL[:MUTANT]", help="only these mutants")
    ap.add_argument("--retest", metavar="REPORT", help="only the survivors of a previous JSON report")
    ap.add_argument("--timeout", type=float, default=60, help="seconds for one test run (a timeout kills)")
    ap.add_argument("--build-timeout", type=float, default=600)
    ap.add_argument("--out", help="write the report here (JSON if the name ends in .json, else text)")
    args = ap.parse_args()

    os.chdir(args.root)
    files = args.files or sorted(glob.glob("src/rig/spec/*.cc"))
    sources = {}
    mutants = []
    for f in files:
        with open(f) as fh:
            sources[f] = fh.read()
        mutants += mutants_of(f, sources[f])
    total_generated = len(mutants)

    wanted = list(args.only or [])
    if args.retest:
        with open(args.retest) as fh:
            wanted += [s["id"] for s in json.load(fh)["survivors"]]
    if wanted or args.only is not None or args.retest:
        def chosen(m):
            mid = mutant_id(m)
            return any(mid == w or mid.startswith(w + ":") for w in wanted)
        mutants = [m for m in mutants if chosen(m)]
    if args.sample is not None and args.sample < len(mutants):
        mutants = random.Random(args.seed).sample(mutants, args.sample)
        mutants.sort(key=lambda m: (m["file"], m["pos"], m["mutant"]))

    if args.list:
        for m in mutants:
            print(f"{mutant_id(m)}: {m['original']} -> {m['mutant'] or '(removed)'}  [{m['kind']}]  "
                  f"{source_line(sources[m['file']], m['line'])}")
        print(f"{len(mutants)} mutants (of {total_generated} in {len(files)} files)", file=sys.stderr)
        return 0 if mutants else 1

    runner = Runner(args)
    runner.configure()
    # The unmutated tree must build and pass, or nothing can be judged.
    ok, log = runner.build_tests()
    if not ok:
        print(log, file=sys.stderr)
        sys.exit("the unmutated tree does not build")
    status, why = runner.run_tests()
    if status != "survived":
        sys.exit(f"the unmutated tree fails its unit tests ({why})")

    results = []
    started = time.time()
    current = None
    try:
        for k, m in enumerate(mutants, 1):
            t0 = time.time()
            current = m["file"]
            write(m["file"], apply(sources[m["file"]], m))
            ok, log = runner.build_tests()
            if not ok:
                status, why = "stillborn", ""
            else:
                status, why = runner.run_tests()
            write(m["file"], sources[m["file"]])
            current = None
            r = dict(m, id=mutant_id(m), status=status, why=why, seconds=round(time.time() - t0, 1),
                     source=source_line(sources[m["file"]], m["line"]))
            del r["pos"]
            results.append(r)
            print(f"[{k}/{len(mutants)}] {status:9} {r['seconds']:6.1f}s {r['id']}: {m['original']} -> "
                  f"{m['mutant'] or '(removed)'}  {why}", flush=True)
    except KeyboardInterrupt:
        print("interrupted: reporting what ran", file=sys.stderr)
    finally:
        if current is not None:
            write(current, sources[current])
        for f in files:  # every file as it was
            with open(f) as fh:
                if fh.read() != sources[f]:
                    write(f, sources[f])
    elapsed = time.time() - started
    runner.build_tests()  # leave the build directory built from the real sources

    count = {s: sum(1 for r in results if r["status"] == s) for s in ("stillborn", "killed", "survived")}
    judged = count["killed"] + count["survived"]
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "files": files,
        "generated": total_generated,
        "sample": args.sample,
        "seed": args.seed if args.sample is not None else None,
        "total": len(results),
        **count,
        "score": round(count["killed"] / judged, 4) if judged else None,
        "seconds": round(elapsed),
        "seconds_per_mutant": round(elapsed / len(results), 1) if results else None,
        "survivors": [r for r in results if r["status"] == "survived"],
        "results": results,
    }
    lines = [
        f"mutation test of {', '.join(files)} on {report['date']}",
        f"generated {total_generated}, tested {len(results)}"
        + (f" (sample {args.sample}, seed {args.seed})" if args.sample is not None else ""),
        f"stillborn {count['stillborn']}, killed {count['killed']}, survived {count['survived']}, score "
        + (f"{100.0 * count['killed'] / judged:.1f} %" if judged else "-"),
        f"{report['seconds']} s, {report['seconds_per_mutant']} s per mutant",
    ]
    if report["survivors"]:
        lines.append("survivors:")
        for r in report["survivors"]:
            lines.append(f"  {r['file']}:{r['line']}:{r['col']}: {r['original']} -> {r['mutant'] or '(removed)'}")
            lines.append(f"      {r['source']}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as fh:
            if args.out.endswith(".json"):
                json.dump(report, fh, indent=1)
                fh.write("\n")
            else:
                fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
