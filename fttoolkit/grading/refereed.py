"""What the simulator-graded chapters share: turning a broken rule or invariant into a :class:`Fail`.

Chapters 4, 5 and 6 run a student's handler inside the simulator under a *referee* (the rules of
the paper, checked at every call) and the protocol's invariants.  A failure names the rule, the
tick, what broke next, the seed and a script that replays it.
"""

from ..core.errors import HandlerError
from ..core.invariants import Violation
from .model import Fail, TimeLimit, describe_error

__all__ = ["Scenario", "violation_tick", "violation_fields", "fail_for", "pass_time_limits",
           "reraise_student_error"]


class Scenario:
    """A scenario script, and what must hold at its end (besides the rules and invariants)."""

    def __init__(self, title, text, judge=None):
        self.title = title
        self.text = text
        self.judge = judge


def violation_tick(v):
    """The tick of a violation event (``None`` for a :class:`Violation` found at the end)."""
    return v.tick if hasattr(v, "tick") else None


def violation_fields(v):
    """(rule, detail) of a violation event or a Violation."""
    if isinstance(v, Violation):
        return v.invariant, v.detail
    return v["invariant"], v["detail"]


def fail_for(title, seed, script, door, violation, later, invariants, rules):
    """The failure for a broken rule or invariant; for a rule, also the first of ``invariants`` it then broke.

    ``rules`` maps a rule's name to what it asks (the failure's "expected").
    """
    rule, detail = violation_fields(violation)
    tick = violation_tick(violation)
    got = (f"at t={tick}: " if tick is not None else "") + detail
    safety = {inv.name for inv in invariants}
    if rule not in safety:
        follow = next((v for v in later if violation_fields(v)[0] in safety), None)
        if follow is not None:
            name, what = violation_fields(follow)
            got += f"; then, at t={violation_tick(follow)}, {name} broke: {what}"
    return Fail(f"{title}: {rule} broken (seed {seed})", expected=rules.get(rule, rule), got=got, seed=seed,
                script=script, run=door)


def pass_time_limits(error):
    """Re-raise ``error`` if it comes from a time limit or an unfinished stub (run_exercise reports those)."""
    chain = error
    while chain is not None:
        if isinstance(chain, (TimeLimit, NotImplementedError)):
            raise error
        chain = chain.__cause__ or chain.__context__


def reraise_student_error(error, title, seed, script, door=None):
    """A student's exception inside a handler: report it with the run; let a time limit or a stub through."""
    pass_time_limits(error)
    cause = error.__cause__ if isinstance(error, HandlerError) and error.__cause__ is not None else error
    where = str(error).split(" raised ")[0] if isinstance(error, HandlerError) else "the run"
    raise Fail(f"{title}: your code raised an exception in {where} (seed {seed})",
               expected="no exception", got=describe_error(cause), seed=seed, script=script, run=door) from error
