"""Fuzzing throughput: seeded fault schedules checked per second (demo protocol).

Prints one JSON object per line: {"bench": NAME, "value": V, "unit": U}.
Run: .venv/bin/python bench/fuzz_throughput.py [--seeds K] [--profile chaos]
"""

import argparse
import json
import time

from fttoolkit import Broadcast
from fttoolkit.check import fuzz


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--profile", default="chaos")
    args = parser.parse_args()
    start = time.perf_counter()
    report = fuzz(Broadcast, args.seeds, profile=args.profile, shrink_first=False)
    elapsed = time.perf_counter() - start
    assert report.violations == 0, report.failures[0]
    print(json.dumps({"bench": f"fuzz-broadcast-{args.profile}-schedules-per-second",
                      "value": round(args.seeds / elapsed, 1), "unit": "schedules/s"}))
    print(json.dumps({"bench": f"fuzz-broadcast-{args.profile}-{args.seeds}-seconds", "value": round(elapsed, 2),
                      "unit": "s"}))


if __name__ == "__main__":
    main()
