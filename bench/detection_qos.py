"""Quality of service of the failure detectors (Chen, Toueg & Aguilera 2002), on a small sweep.

Detection time T_D and query accuracy P_A of the heartbeat detector at two timeouts, and of the
φ accrual detector at two thresholds, under delay jitter and 5% loss; seeded, no wall clock.
Prints JSON lines ``{"bench": NAME, "value": V, "unit": U}``.
"""

import json

from fttoolkit.doors.detection import sweep

SETTINGS = dict(seeds=3, nodes=5, until=3000, crash_at=2000, delay=(5, 40), loss=0.05)


def main():
    runs = [("heartbeat", "timeout_ticks", (60, 150)), ("phi", "threshold", (1.0, 8.0))]
    for detector, name, values in runs:
        for row in sweep(detector, name, list(values), **SETTINGS):
            tag = f"{detector}_{name}_{row[name]:g}"
            print(json.dumps({"bench": f"{tag}_T_D", "value": round(row["T_D"], 2), "unit": "ticks"}))
            print(json.dumps({"bench": f"{tag}_P_A", "value": round(row["P_A"], 5), "unit": "fraction"}))


if __name__ == "__main__":
    main()
