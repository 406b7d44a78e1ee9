"""Checking: invariants during runs, fuzzing with shrinking (and later model checking).

It may import the layers below it (core, algorithms, sim); never the viewers,
the grader or the front doors above it.
"""

from .explore import Counterexample, ExploreResult, Spec, explore, register_system
from .fuzz import PROFILES, FuzzReport, FuzzResult, Schedule, execute, fuzz, run_seed, shrink
from .linearizability import LinearizabilityResult, read_history
from .linearizability import check as check_linearizability
from .monitor import Monitor, check_liveness

__all__ = ["Monitor", "check_liveness", "PROFILES", "FuzzReport", "FuzzResult", "Schedule", "execute",
           "fuzz", "run_seed", "shrink", "check_linearizability", "read_history", "LinearizabilityResult"]
__all__ += ["explore", "Spec", "ExploreResult", "Counterexample", "register_system"]
