"""SWIM at scale: 1,000 members x 100 protocol periods, and messages per member per period.

Prints JSON lines ``{"bench": NAME, "value": V, "unit": U}``.  Run: ``python bench/swim_scale.py``.
"""

import json
import time

from fttoolkit.doors.swim import SwimDetection

PERIODS = 100


def run(members, periods=PERIODS):
    """Build a group without checkers (the simulator's fast path) and run ``periods`` periods."""
    group = SwimDetection(nodes=members, seed=1, check=False)
    group.sim.snapshot_every = None
    started = time.perf_counter()
    group.run(until=periods * 100, max_steps=100_000_000)
    return group, time.perf_counter() - started


def main():
    group, seconds = run(1000)
    print(json.dumps({"bench": "swim-1000", "value": round(seconds, 2), "unit": "s"}))
    for members in (10, 100, 1000):
        if members != 1000:
            group, _ = run(members)
        rate = group.messages_per_member_per_period(start=100, end=PERIODS * 100)
        print(json.dumps({"bench": f"swim-messages-per-member-per-period-{members}", "value": round(rate, 3),
                          "unit": "messages"}))


if __name__ == "__main__":
    main()
