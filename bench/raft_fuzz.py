"""Fuzzing Raft: fuzzed 5-node schedules of 2000 ticks per second, faults on, every invariant checked.

Goal (issue [raft-protocol]): 1000 schedules in at most 60 s on this machine's 2 cores.
Prints one JSON object per line: {"bench": NAME, "value": V, "unit": U}.
Run: .venv/bin/python bench/raft_fuzz.py [--seeds 1000]
"""

import argparse
import json
import time

from fttoolkit import Raft
from fttoolkit.check.fuzz import fuzz


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    args = parser.parse_args()
    start = time.perf_counter()
    report = fuzz(Raft, seeds=args.seeds, nodes=5, ticks=2000, shrink_first=False)
    elapsed = time.perf_counter() - start
    for name, value, unit in (("raft_fuzz_total", elapsed, "s"),
                              ("raft_fuzz_rate", args.seeds / elapsed, "schedules/s"),
                              ("raft_fuzz_violations", report.violations, "schedules")):
        print(json.dumps({"bench": name, "value": round(value, 2), "unit": unit}), flush=True)


if __name__ == "__main__":
    main()
