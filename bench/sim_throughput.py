"""Simulator throughput on a fixed broadcast workload (trace recording on).

Measured through the front door as students use it (invariants checked after
every step, time-travel snapshots on) and on the bare simulator.

Prints one JSON object per line: {"bench": NAME, "value": V, "unit": U}.
Run: .venv/bin/python bench/sim_throughput.py [--nodes N] [--requests K]
"""

import argparse
import json
import time
import tracemalloc

from fttoolkit import Broadcast


def workload(nodes, requests, seed=1, bare=False):
    cluster = Broadcast(nodes=nodes, seed=seed, loss=0.1, duplicate=0.05, check=not bare)
    if bare:
        cluster.sim.snapshot_every = None
    for k in range(requests):
        cluster.broadcast(f"n{1 + k % nodes}", f"v{k}", at=k * 3)
    return cluster


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    for bare, label in ((False, "door"), (True, "bare")):
        best = None
        for _ in range(args.repeat):
            cluster = workload(args.nodes, args.requests, bare=bare)
            start = time.perf_counter()
            steps = cluster.run()
            elapsed = time.perf_counter() - start
            rate = len(cluster.trace) / elapsed
            best = rate if best is None else max(best, rate)
        print(json.dumps({"bench": f"sim-broadcast-{args.nodes}-{label}-events-per-second", "value": round(best),
                          "unit": "events/s"}))
    print(json.dumps({"bench": f"sim-broadcast-{args.nodes}-events", "value": len(cluster.trace),
                      "unit": "events"}))
    print(json.dumps({"bench": f"sim-broadcast-{args.nodes}-steps", "value": steps, "unit": "steps"}))

    tracemalloc.start()
    cluster = workload(args.nodes, args.requests)
    cluster.run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"bench": f"sim-broadcast-{args.nodes}-peak-memory", "value": round(peak / 2**20, 1),
                      "unit": "MiB"}))


if __name__ == "__main__":
    main()
