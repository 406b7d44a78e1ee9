"""Checking: invariants during runs, fuzzing with shrinking (and later model checking).

It may import the layers below it (core, algorithms, sim); never the viewers,
the grader or the front doors above it.
"""

from .fuzz import PROFILES, FuzzReport, FuzzResult, Schedule, execute, fuzz, run_seed, shrink
from .monitor import Monitor, check_liveness

__all__ = ["Monitor", "check_liveness", "PROFILES", "FuzzReport", "FuzzResult", "Schedule", "execute",
           "fuzz", "run_seed", "shrink"]
