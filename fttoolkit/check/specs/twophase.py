"""Lamport's ``TwoPhase``: two-phase commit with a set of messages that never shrinks, ported for the explorer.

State (a :class:`TwoPhaseState`): ``rmState`` (per resource manager ``r1 ...
rN``: ``"working"``, ``"prepared"``, ``"committed"`` or ``"aborted"``),
``tmState`` (``"init"``, ``"committed"``, ``"aborted"``), ``tmPrepared`` (the
managers whose ``Prepared`` message the TM received) and ``msgs`` (every
message ever sent: ``("Prepared", rm)``, ``("Commit",)``, ``("Abort",)``).

Actions, as in the TLA+ module: ``TMRcvPrepared(rm)``, ``TMCommit``,
``TMAbort``, ``RMPrepare(rm)``, ``RMChooseToAbort(rm)``,
``RMRcvCommitMsg(rm)``, ``RMRcvAbortMsg(rm)``.  Receiving a message does not
consume it, so a receive action that changes nothing is still a step (TLC
counts its successor among the states generated).

Invariants: ``TPTypeOK`` and ``TCConsistent``, the consistency of the
``TCommit`` specification this one refines (no manager aborted while another
committed), evaluated on ``rmState``.

Bugs (to show that the explorer catches them)
---------------------------------------------
``commit-without-all-prepared``
    the TM commits as soon as one ``Prepared`` message has arrived;
``abort-after-prepared``
    a prepared manager may still abort on its own.

Examples
--------
>>> from fttoolkit.check.explore import explore
>>> result = explore(TwoPhase(rm=3))
>>> result.distinct, result.generated, result.depth
(288, 1146, 11)

Notes
-----
A faithful port of ``TwoPhase.tla`` from Gray and Lamport, "Consensus on
Transaction Commit" (ACM TODS, 2006), §3 and Appendix A.2; the protocol is
Gray's, "Notes on Data Base Operating Systems" (1978).
"""

from typing import NamedTuple

from ..explore import Spec
from .tcommit import RM_STATES, check_bugs, check_count

__all__ = ["TwoPhase", "TwoPhaseState", "BUGS"]

BUGS = {
    "commit-without-all-prepared": "the TM commits as soon as one Prepared message has arrived",
    "abort-after-prepared": "a prepared resource manager may still abort on its own",
}
COMMIT, ABORT = ("Commit",), ("Abort",)


class TwoPhaseState(NamedTuple):
    """One state of ``TwoPhase`` (field names from the TLA+ module)."""

    rmState: tuple
    tmState: str
    tmPrepared: frozenset
    msgs: frozenset


class TwoPhase(Spec):
    """The two-phase commit specification ``TwoPhase`` with ``rm`` resource managers.

    Parameters
    ----------
    rm : int
        The number of resource managers, named ``r1 ... rN`` (1 to 10).
    bugs : iterable of str
        Named bugs to switch on (see the module documentation).

    Examples
    --------
    >>> spec = TwoPhase(rm=2)
    >>> [label for label, _ in spec.next_states(next(iter(spec.initial_states())))]
    ['TMAbort', 'RMPrepare(r1)', 'RMChooseToAbort(r1)', 'RMPrepare(r2)', 'RMChooseToAbort(r2)']

    Notes
    -----
    Gray and Lamport, "Consensus on Transaction Commit" (2006), Appendix A.2.
    """

    name = "twophase"

    def __init__(self, rm=3, bugs=()):
        self.rm = check_count("rm", rm, 1, 10)
        self.bugs = check_bugs(bugs, BUGS)
        self.names = tuple(f"r{i}" for i in range(1, rm + 1))
        self.all_rms = frozenset(self.names)
        self.invariants = {"TPTypeOK": self.type_ok, "TCConsistent": self.consistent}

    def initial_states(self):
        return [TwoPhaseState(("working",) * self.rm, "init", frozenset(), frozenset())]

    def next_states(self, state):
        rm_state, tm_state, tm_prepared, msgs = state
        out = []
        if tm_state == "init":
            ready = tm_prepared == self.all_rms
            if "commit-without-all-prepared" in self.bugs:
                ready = bool(tm_prepared)
            if ready:                                                        # TMCommit
                out.append(("TMCommit", TwoPhaseState(rm_state, "committed", tm_prepared, msgs | {COMMIT})))
            out.append(("TMAbort", TwoPhaseState(rm_state, "aborted", tm_prepared, msgs | {ABORT})))
        can_abort = ("working", "prepared") if "abort-after-prepared" in self.bugs else ("working",)
        for i, rm in enumerate(self.names):
            if tm_state == "init" and ("Prepared", rm) in msgs:               # TMRcvPrepared(rm)
                out.append((f"TMRcvPrepared({rm})", TwoPhaseState(rm_state, tm_state, tm_prepared | {rm}, msgs)))
            if rm_state[i] == "working":                                      # RMPrepare(rm)
                out.append((f"RMPrepare({rm})", TwoPhaseState(_set(rm_state, i, "prepared"), tm_state,
                                                              tm_prepared, msgs | {("Prepared", rm)})))
            if rm_state[i] in can_abort:                                      # RMChooseToAbort(rm)
                out.append((f"RMChooseToAbort({rm})",
                            TwoPhaseState(_set(rm_state, i, "aborted"), tm_state, tm_prepared, msgs)))
            if COMMIT in msgs:                                                # RMRcvCommitMsg(rm)
                out.append((f"RMRcvCommitMsg({rm})",
                            TwoPhaseState(_set(rm_state, i, "committed"), tm_state, tm_prepared, msgs)))
            if ABORT in msgs:                                                 # RMRcvAbortMsg(rm)
                out.append((f"RMRcvAbortMsg({rm})",
                            TwoPhaseState(_set(rm_state, i, "aborted"), tm_state, tm_prepared, msgs)))
        return out

    def type_ok(self, state):
        """``TPTypeOK``: every variable within its type."""
        rm_state, tm_state, tm_prepared, msgs = state
        messages = {COMMIT, ABORT} | {("Prepared", rm) for rm in self.names}
        return (len(rm_state) == self.rm and all(s in RM_STATES for s in rm_state)
                and tm_state in ("init", "committed", "aborted")
                and tm_prepared <= self.all_rms and msgs <= messages)

    @staticmethod
    def consistent(state):
        """``TC!TCConsistent``: no manager aborted while another committed (on ``rmState``)."""
        return not ("aborted" in state.rmState and "committed" in state.rmState)

    def describe(self, state):
        rm_state, tm_state, tm_prepared, msgs = state
        order = {COMMIT: (1, ""), ABORT: (2, "")}
        shown = sorted(msgs, key=lambda m: order.get(m, (0, m[-1])))
        text = ", ".join(m[0] if len(m) == 1 else f"{m[0]}({m[1]})" for m in shown)
        return "\n".join([
            "rmState: " + ", ".join(f"{n}={s}" for n, s in zip(self.names, rm_state)),
            f"tmState: {tm_state}   tmPrepared: {{{', '.join(sorted(tm_prepared, key=self.names.index))}}}",
            f"msgs: {{{text}}}"])


def _set(values, index, value):
    return values[:index] + (value,) + values[index + 1:]
