"""Linearizability checking time: each Jepsen key-value history, and the 103 etcd histories as a set.

Reads the histories of ``tests/data/oracles/linearizability/`` (copied from porcupine) (or ``--oracles DIR``), checks each with
:func:`fttoolkit.check.linearizability.check` and prints one JSON object per line:
``{"bench": NAME, "value": V, "unit": U}`` — the checking time of each ``kv`` file (reading excluded),
the total time and the count of each verdict over the etcd set, and the search steps of the slowest
etcd history (a machine-independent measure of work); then the time for a generated history of a
simulated atomic key-value map (linearizable by construction).  Without the oracle histories (a
clean clone) only the generated one is measured.
Run: .venv/bin/python bench/lincheck.py [--quick] [--timeout SECONDS] [--repeat R]
"""

import argparse
import json
import pathlib
import random
import sys
import time

from fttoolkit.check.linearizability import VERDICTS, check, read_history
from fttoolkit.core.history import Operation

ORACLES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "oracles" / "linearizability"


def timed(path, timeout_s, repeat):
    """Read ``path``; return (best checking time in seconds over ``repeat`` runs, result)."""
    model, history = read_history(path)
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = check(history, model=model, timeout_s=timeout_s)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def atomic_kv_history(seed, ops, clients=10, keys=5):
    """Clients of an atomic key-value map: each operation takes effect at a random instant of its interval."""
    rng = random.Random(seed)
    free, drafts = [0] * clients, []
    for n in range(ops):
        client = rng.randrange(clients)
        call = free[client] + rng.randrange(4)
        ret = call + 1 + rng.randrange(20)
        free[client] = ret + 1
        kind = rng.choice(("get", "put", "append", "append"))
        drafts.append((call + rng.random() * (ret - call), client, kind, str(rng.randrange(keys)),
                       None if kind == "get" else f"x{n} ", call, ret))
    state, history = {}, []
    for _, client, kind, key, value, call, ret in sorted(drafts):
        output = None
        if kind == "get":
            output = state.get(key, "")
        else:
            state[key] = value if kind == "put" else state.get(key, "") + value
        history.append(Operation(client, kind, key, value, output, call, ret))
    return history


def emit(name, value, unit):
    print(json.dumps({"bench": name, "value": value, "unit": unit}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracles", type=pathlib.Path, default=ORACLES, metavar="DIR")
    parser.add_argument("--timeout", type=float, default=60, metavar="SECONDS",
                        help="time limit per history (default 60)")
    parser.add_argument("--repeat", type=int, default=3, metavar="R", help="best of R runs per kv file")
    parser.add_argument("--quick", action="store_true",
                        help="only the c01 and c10 kv files and the first 10 etcd histories, one run each")
    args = parser.parse_args()
    kv = sorted((args.oracles / "kv").glob("*.txt"))
    etcd = sorted((args.oracles / "jepsen").glob("etcd_*.log"))
    if not kv or not etcd:
        print(f"lincheck bench: no histories under {args.oracles}; measuring a generated one only",
              file=sys.stderr)
    repeat = 1 if args.quick else args.repeat
    if args.quick:
        kv, etcd = [p for p in kv if not p.name.startswith("c50")], etcd[:10]
    for path in kv:
        seconds, result = timed(path, args.timeout, repeat)
        emit(f"lincheck_kv_{path.stem}_s", round(seconds, 4), "s")
        emit(f"lincheck_kv_{path.stem}_steps", result.steps, "steps")
    ops = 500 if args.quick else 5000
    history = atomic_kv_history(1, ops)
    start = time.perf_counter()
    result = check(history, model="kv", timeout_s=args.timeout)
    emit(f"lincheck_generated_kv_{ops}_s", round(time.perf_counter() - start, 4), "s")
    emit(f"lincheck_generated_kv_{ops}_linearizable", int(result.ok), "bool")
    if not etcd:
        return
    counts = dict.fromkeys(VERDICTS, 0)
    total, steps = 0.0, 0
    for path in etcd:
        seconds, result = timed(path, args.timeout, 1)
        total += seconds
        counts[result.verdict] += 1
        steps = max(steps, result.steps)
    suffix = "_quick" if args.quick else ""
    emit(f"lincheck_etcd{suffix}_total_s", round(total, 3), "s")
    emit(f"lincheck_etcd{suffix}_histories", len(etcd), "histories")
    for verdict, count in counts.items():
        emit(f"lincheck_etcd{suffix}_{verdict.replace(' ', '_')}", count, "histories")
    emit(f"lincheck_etcd{suffix}_max_steps", steps, "steps")


if __name__ == "__main__":
    main()
