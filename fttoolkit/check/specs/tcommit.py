"""Lamport's ``TCommit``: the abstract transaction commit specification, ported for the explorer.

The state is ``rmState``, one of ``"working"``, ``"prepared"``,
``"committed"`` or ``"aborted"`` per resource manager ``r1 ... rN``, held as
a tuple in that order.  Each step is one resource manager's ``Prepare`` or
``Decide``; ``Decide`` commits a prepared manager when all are prepared or
committed (``canCommit``), or aborts a working or prepared one while none has
committed (``notCommitted``).  The invariants are ``TCTypeOK`` and
``TCConsistent`` (no manager aborted while another committed).

Bugs (to show that the explorer catches them)
---------------------------------------------
``commit-alone``
    a prepared manager commits without waiting for the others (``canCommit`` dropped).

Examples
--------
>>> from fttoolkit.check.explore import explore
>>> result = explore(TCommit(rm=3))
>>> result.distinct, result.generated, result.depth
(34, 94, 7)

Notes
-----
A faithful port of ``TCommit.tla`` from Gray and Lamport, "Consensus on
Transaction Commit" (ACM TODS, 2006), §2; TLC finds 34 distinct states for
three managers.
"""

from ...core.errors import BadParameter
from ..explore import Spec

__all__ = ["TCommit", "RM_STATES", "BUGS"]

RM_STATES = ("working", "prepared", "committed", "aborted")
BUGS = {"commit-alone": "a prepared manager commits without waiting for the others (canCommit dropped)"}


def check_bugs(bugs, known):
    """Return ``bugs`` as a tuple; raise ``BadParameter`` naming the known ones for an unknown bug."""
    bugs = tuple(bugs)
    for bug in bugs:
        if bug not in known:
            raise BadParameter(f"unknown bug {bug!r}; known bugs: {', '.join(sorted(known))}")
    return bugs


def check_count(name, value, low, high):
    """Raise ``BadParameter`` unless ``low <= value <= high`` (a whole number)."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return value


class TCommit(Spec):
    """The transaction commit specification ``TCommit`` with ``rm`` resource managers.

    Parameters
    ----------
    rm : int
        The number of resource managers, named ``r1 ... rN`` (1 to 12).
    bugs : iterable of str
        Named bugs to switch on (see the module documentation).

    Examples
    --------
    >>> spec = TCommit(rm=2)
    >>> list(spec.initial_states())
    [('working', 'working')]
    >>> [label for label, _ in spec.next_states(('prepared', 'prepared'))]
    ['Decide(r1)', 'Decide(r1)', 'Decide(r2)', 'Decide(r2)']

    Notes
    -----
    ``Decide(rm)`` is a disjunction; when both disjuncts are enabled (a
    prepared manager, all prepared, none committed) TLC computes two
    successors, and so does this port.  Gray and Lamport, "Consensus on
    Transaction Commit" (2006), §2.
    """

    name = "tcommit"

    def __init__(self, rm=3, bugs=()):
        self.rm = check_count("rm", rm, 1, 12)
        self.bugs = check_bugs(bugs, BUGS)
        self.names = tuple(f"r{i}" for i in range(1, rm + 1))
        self.invariants = {"TCTypeOK": self.type_ok, "TCConsistent": self.consistent}

    def initial_states(self):
        return [("working",) * self.rm]

    def next_states(self, state):
        out = []
        can_commit = all(s in ("prepared", "committed") for s in state)
        not_committed = all(s != "committed" for s in state)
        commit_alone = "commit-alone" in self.bugs
        for i, name in enumerate(self.names):
            here = state[i]
            if here == "working":                                     # Prepare(rm)
                out.append((f"Prepare({name})", state[:i] + ("prepared",) + state[i + 1:]))
            if here == "prepared" and (can_commit or commit_alone):   # Decide(rm), first disjunct
                out.append((f"Decide({name})", state[:i] + ("committed",) + state[i + 1:]))
            if here in ("working", "prepared") and not_committed:     # Decide(rm), second disjunct
                out.append((f"Decide({name})", state[:i] + ("aborted",) + state[i + 1:]))
        return out

    def type_ok(self, state):
        """``TCTypeOK``: ``rmState \\in [RM -> {"working", "prepared", "committed", "aborted"}]``."""
        return isinstance(state, tuple) and len(state) == self.rm and all(s in RM_STATES for s in state)

    @staticmethod
    def consistent(state):
        """``TCConsistent``: no manager has aborted while another has committed."""
        return not ("aborted" in state and "committed" in state)

    def describe(self, state):
        return "rmState: " + ", ".join(f"{n}={s}" for n, s in zip(self.names, state))
