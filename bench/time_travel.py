"""Time travel: peak memory of a long run with snapshots on, and the cost of a rewind.

Prints one JSON object per line: {"bench": NAME, "value": V, "unit": U}.
Run: .venv/bin/python bench/time_travel.py [--events N]
"""

import argparse
import json
import random
import resource
import statistics
import time
import tracemalloc

from fttoolkit import Broadcast


def long_run(events):
    """A broadcast cluster (front-door defaults: checking and periodic snapshots on) run to ``events``."""
    cluster = Broadcast(nodes=8, seed=3, loss=0.1, duplicate=0.05)
    k = 0
    while len(cluster.trace) < events:
        cluster.broadcast(f"n{1 + k % 8}", f"v{k}")
        cluster.run(until=cluster.now + 40)
        k += 1
    return cluster


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rewinds", type=int, default=30)
    args = parser.parse_args()

    tracemalloc.start()
    start = time.perf_counter()
    cluster = long_run(args.events)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    sim = cluster.sim
    print(json.dumps({"bench": "time-travel-run-events", "value": len(cluster.trace), "unit": "events"}))
    print(json.dumps({"bench": "time-travel-run-seconds", "value": round(elapsed, 2), "unit": "s"}))
    print(json.dumps({"bench": "time-travel-peak-memory", "value": round(peak / 2**20, 1), "unit": "MiB"}))
    print(json.dumps({"bench": "time-travel-snapshots", "value": len(sim._snaps), "unit": "snapshots"}))
    print(json.dumps({"bench": "time-travel-max-rss", "value": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "unit": "MiB"}))

    rng = random.Random(1)
    total = sim.total_steps
    costs = []
    for _ in range(args.rewinds):
        target = rng.randint(0, total)
        t = time.perf_counter()
        cluster.rewind(target)
        costs.append(time.perf_counter() - t)
    print(json.dumps({"bench": "time-travel-rewind-median", "value": round(statistics.median(costs) * 1000, 1),
                      "unit": "ms"}))
    print(json.dumps({"bench": "time-travel-rewind-max", "value": round(max(costs) * 1000, 1), "unit": "ms"}))

    # Play in the past: one step forwards on the recorded run at a time (the view's replay), which
    # goes on from the present state instead of restoring a snapshot.
    forward = []
    for _ in range(max(1, args.rewinds // 5)):
        start_step = rng.randint(0, max(0, total - 50))
        cluster.rewind(start_step)
        for step in range(start_step + 1, min(total, start_step + 50) + 1):
            t = time.perf_counter()
            cluster.rewind(step)
            forward.append(time.perf_counter() - t)
    print(json.dumps({"bench": "time-travel-forward-step-median", "value": round(statistics.median(forward) * 1e6, 1),
                      "unit": "us"}))


if __name__ == "__main__":
    main()
