"""The explorer on the course's own code: distinct states per second for Raft, Paxos and 2PC.

Each system is explored completely with the command line's default bounds
(``python -m fttoolkit explore raft|paxos|2pc``), one after the other in this
process, and with ``--repeat N`` the best of N runs is kept.  Prints one JSON
object per line: ``{"bench": "explore-impl-SYSTEM", "value": V, "unit":
"states/s"}`` and ``{"bench": "explore-impl-SYSTEM-states", "value": N,
"unit": "states"}``.

Run: .venv/bin/python bench/explore_impl.py [--repeat N] [--quick]
``--quick``: much smaller bounds (a few thousand states each).
"""

import argparse
import json
import time

from fttoolkit.check.explore import explore
from fttoolkit.doors.exploring import SPECS

QUICK = {"raft": {"max_term": 1, "max_log": 1, "requests": 0},
         "paxos": {"requests": 1, "crashes": 0},
         "2pc": {"crashes": 0, "in_flight": 3}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per system; the best is kept (default 1)")
    parser.add_argument("--quick", action="store_true", help="small bounds: a smoke test")
    args = parser.parse_args()
    for system, factory in SPECS.items():
        options = QUICK[system] if args.quick else {}
        best, distinct = None, None
        for _ in range(max(args.repeat, 1)):
            spec = factory(**options)                 # a fresh spec: its memo tables start empty
            start = time.perf_counter()
            result = explore(spec)
            seconds = time.perf_counter() - start
            assert result.ok and result.complete, f"{system}: {result.violations[:1]}"
            best = seconds if best is None else min(best, seconds)
            distinct = result.distinct
        print(json.dumps({"bench": f"explore-impl-{system}", "value": round(distinct / best), "unit": "states/s"}))
        print(json.dumps({"bench": f"explore-impl-{system}-states", "value": distinct, "unit": "states"}))


if __name__ == "__main__":
    main()
