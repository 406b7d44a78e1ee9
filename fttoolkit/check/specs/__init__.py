"""Ports of Lamport's TLA+ specifications for the explorer, checked against TLC's state counts.

* :class:`TCommit` — the abstract transaction commit (``TCommit.tla``);
* :class:`TwoPhase` — two-phase commit (``TwoPhase.tla``);
* :class:`PaxosSpec` — single-decree Paxos (``Paxos.tla``, refining ``Voting.tla``).

Importing this package registers them as the systems ``tcommit``,
``twophase`` and ``paxos-spec`` of ``python -m fttoolkit explore``.

Examples
--------
>>> from fttoolkit.check.explore import explore
>>> explore(TwoPhase(rm=3)).distinct
288

Notes
-----
The specifications are by Leslie Lamport (tlaplus/Examples): Gray and
Lamport, "Consensus on Transaction Commit" (2006), and Lamport, "Paxos Made
Simple" (2001).  Each port explores exactly TLC's transition system: the same
number of distinct states, of states generated and the same depth.
"""

from ..explore import Option, register_system
from .paxos import BUGS as PAXOS_BUGS
from .paxos import PaxosSpec
from .tcommit import BUGS as TCOMMIT_BUGS
from .tcommit import TCommit
from .twophase import BUGS as TWOPHASE_BUGS
from .twophase import TwoPhase, TwoPhaseState

__all__ = ["TCommit", "TwoPhase", "TwoPhaseState", "PaxosSpec"]


def _bug(known):
    return Option("bug", (), "switch on a named bug (repeatable): " + ", ".join(sorted(known)), str,
                  multiple=True, choices=tuple(sorted(known)))


register_system(
    "twophase", "Lamport's TwoPhase.tla: two-phase commit, messages never removed (TLC, RM=3: 288 states)",
    lambda rm, bug: TwoPhase(rm=rm, bugs=bug),
    (Option("rm", 3, "number of resource managers, 1 to 10"), _bug(TWOPHASE_BUGS)))
register_system(
    "tcommit", "Lamport's TCommit.tla: the abstract transaction commit (TLC, RM=3: 34 states)",
    lambda rm, bug: TCommit(rm=rm, bugs=bug),
    (Option("rm", 3, "number of resource managers, 1 to 12"), _bug(TCOMMIT_BUGS)))
register_system(
    "paxos-spec", "Lamport's Paxos.tla, majority quorums (TLC, 3 acceptors, 2 values, ballots 0..1: 3,921 states)",
    lambda acceptors, values, max_ballot, bug: PaxosSpec(acceptors=acceptors, values=values,
                                                        max_ballot=max_ballot, bugs=bug),
    (Option("acceptors", 3, "number of acceptors, 1 to 5"),
     Option("values", 2, "number of values, 1 to 4"),
     Option("max-ballot", 1, "ballots are 0..N, N from 0 to 5"),
     _bug(PAXOS_BUGS)))
