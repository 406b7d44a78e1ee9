"""What the simulator-graded chapters share: running a student's code in scenarios and fuzzed schedules, and
turning a broken rule or invariant into a :class:`Fail`.

Chapters 3 to 6 run a student's handler inside the simulator under a *referee* (the rules of
the paper, checked at every call) and the protocol's invariants.  A failure names the rule, the
tick, what broke next, the seed and a script that replays it.  Chapter 7 builds its doors the same way.
"""

import dis

from ..check.fuzz import run_seed, shrink
from ..core.errors import FtError, HandlerError
from ..core.invariants import Violation
from ..scenario import parse, replay, schedule_to_script
from .model import Fail, TimeLimit, describe_error

__all__ = ["Scenario", "violation_tick", "violation_fields", "fail_for", "pass_time_limits",
           "reraise_student_error", "names_read", "build_door", "replay_with", "scenario_check", "fuzz_check"]

#: What :func:`names_read` looks at by default: attributes and globals read.
READS = ("LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME")


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


def names_read(function, opnames=READS):
    """The names a function (and the functions inside it) reads: by default attributes and globals.

    ``opnames`` are the bytecode instructions whose argument counts (``("LOAD_ATTR", "LOAD_METHOD")``: the
    attributes only; add ``"IMPORT_FROM"`` for the names it imports).
    """
    code = getattr(function, "__code__", None)
    found, todo = set(), [code] if code is not None else []
    while todo:
        code = todo.pop()
        found |= {i.argval for i in dis.get_instructions(code) if i.opname in opnames}
        todo.extend(c for c in code.co_consts if hasattr(c, "co_code"))
    return found


def build_door(door_class, parsed, halt=False):
    """A checked ``door_class`` set up as the header of the parsed scenario ``parsed`` says (not yet replayed)."""
    h = parsed.header
    kwargs = dict(h.get("params", {}))
    kwargs.update(h.get("network", {}))
    return door_class(nodes=h.get("nodes", 3), seed=h.get("seed", 0), bugs=h.get("bugs", []), check=True,
                      halt=halt, **kwargs)


def replay_with(door_class, script, halt=False):
    """Replay a scenario ``script`` (text) on a checked ``door_class``; return the door."""
    parsed = parse(script)
    door = build_door(door_class, parsed, halt)
    replay(parsed, door=door)
    return door


def scenario_check(exercise_id, name, scenarios, student_door, fail, rules, run_on_error=True):
    """A case's check: replay each :class:`Scenario` with the student's code; the first problem is a :class:`Fail`.

    ``ns[name]`` is the student's code, ``student_door(exercise_id, student)`` the door that runs it;
    ``fail(title, seed, script, door, violation, later)`` turns a broken rule or invariant into the failure;
    ``rules`` maps a judge's rule to what it asks.  ``run_on_error``: an exception of the student's code
    carries the run.
    """
    def check(ns):
        door_class = student_door(exercise_id, ns[name])
        for sc in scenarios:
            parsed = parse(sc.text)
            seed = parsed.header.get("seed", 0)
            script = sc.text
            door = build_door(door_class, parsed)
            stuck = None
            try:
                replay(parsed, door=door)
            except HandlerError as error:
                if not door.violations:        # a rule broken earlier explains more than the exception
                    reraise_student_error(error, sc.title, seed, script, door if run_on_error else None)
            except FtError as error:           # a command the run no longer allows (it went elsewhere)
                stuck = str(error)
            if door.violations:
                raise fail(sc.title, seed, script, door, door.violations[0], door.violations[1:])
            if stuck:
                raise Fail(f"{sc.title}: the scenario could not go on (seed {seed})",
                           expected="the run the scenario describes", got=stuck, seed=seed, script=script, run=door)
            if sc.judge is not None:
                problem = sc.judge(door)
                if problem:
                    rule, got = problem
                    raise Fail(f"{sc.title}: {rule} broken (seed {seed})", expected=rules.get(rule, rule),
                               got=f"at t={door.now}: {got}", seed=seed, script=script, run=door)
        return f"{len(scenarios)} scenario{'s' if len(scenarios) > 1 else ''}"
    return check


def _as_is(script):
    return script


def fuzz_check(exercise_id, name, profile, seeds, nodes, student_door, fail, readable=_as_is, report_later=True):
    """A case's check: random schedules of the fuzzer (a fault ``profile``), shrunk and written as a script on failure.

    ``ns[name]`` is the student's code, ``student_door(exercise_id, student)`` the door that runs it on
    ``nodes`` nodes; ``fail(title, seed, script, door, violation, later)`` turns the first broken rule or
    invariant into the failure (``later`` is what broke after it if ``report_later``, else nothing);
    ``readable(script)`` is the script the student is shown.
    """
    def check(ns):
        student = ns[name]
        door_class = student_door(exercise_id, student)
        for seed in seeds:
            title = f"random schedule {seed} ({profile} profile)"
            try:
                result = run_seed(door_class, seed, nodes=nodes, profile=profile)
            except HandlerError as error:
                door = door_class.last
                script = readable(door.to_script([f"exercise {exercise_id}: {title}"])) if door is not None else None
                reraise_student_error(error, title, seed, script)
            if not result.failed:
                continue
            try:
                schedule = shrink(result.schedule, result.violations[0].invariant, budget=30)
            except HandlerError as error:      # a shorter schedule made the student's code raise
                pass_time_limits(error)
                schedule = result.schedule
            description = [f"exercise {exercise_id}: {title}, shrunk to the faults that matter"]
            script = readable(schedule_to_script(schedule, description).render())
            door = None
            try:
                door = replay_with(student_door(exercise_id, student), script, halt=True)
            except (HandlerError, FtError):
                pass
            if door is None or not door.violations:          # not reproduced: give the whole schedule
                script = readable(schedule_to_script(result.schedule, [f"exercise {exercise_id}: {title}"]).render())
                door = replay_with(student_door(exercise_id, student), script, halt=True)
            found = door.violations[0] if door.violations else result.violations[0]
            raise fail(title, seed, script, door, found, door.violations[1:] if report_later else ())
        return f"{len(seeds)} random schedules ({profile})"
    return check
