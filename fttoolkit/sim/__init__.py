"""The deterministic simulator: scheduler, network, faults, trace.

It may import :mod:`fttoolkit.core`, :mod:`fttoolkit.algorithms` and networkx;
never the checkers, the viewers or the grader above it.
"""

from .faults import FaultInjector, FaultPlan
from .network import DEFAULT_DELAY, LinkSettings, Network, make_graph
from .simulation import ArmedTimer, InFlight, QueuedIntention, Simulation, StepLimit
from .streams import Streams
from .trace import Event, Trace, jsonable

__all__ = ["Simulation", "InFlight", "ArmedTimer", "QueuedIntention", "StepLimit",
           "FaultPlan", "FaultInjector", "Network", "LinkSettings", "make_graph", "DEFAULT_DELAY", "Streams",
           "Trace", "Event", "jsonable"]
