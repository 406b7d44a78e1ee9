"""Exercises and their tests: what the self-check and the grader both run.

An :class:`Exercise` names the things a student defines (``needs``), the
points it is worth, a hint, and its :class:`Case` s.  A case is a function of
the student's namespace that returns a short note on success or raises
:class:`Fail` saying what was expected, what came back, and (for runs in the
simulator) the seed and scenario script that exposed the problem.

The tests live here, in the package; the notebook only holds the student's
code.  One time limit applies to each exercise, so a student's infinite loop
costs that exercise and nothing else.

Examples
--------
>>> ex = Exercise("9.1", "Double it", needs=["double"], cases=[
...     Case("doubles 2", lambda ns: expect(ns["double"](2), 4, "double(2)"), points=1)])
>>> result = run_exercise(ex, {"double": lambda x: x + x})
>>> result.points, result.out_of, result.cases[0].passed
(1, 1, True)
>>> run_exercise(ex, {}).cases[0].reason
'double is not defined: run the cell that defines it first'
"""

import signal
import sys
import threading
import traceback

__all__ = ["Exercise", "Case", "Fail", "CaseResult", "ExerciseResult", "run_exercise", "expect",
           "REGISTRY", "register", "exercise", "TimeLimit", "time_limit"]

#: Exercise id ("0.2") -> Exercise, filled by the chapter modules.
REGISTRY = {}


class Fail(Exception):
    """A case failed: what was expected, what came back, and how to see it again."""

    def __init__(self, message, expected=None, got=None, seed=None, script=None, run=None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.seed = seed
        self.script = script
        self.run = run          # the front door of the failing run, to open in the cluster view


class TimeLimit(Exception):
    """The student's code ran longer than the time limit."""


def expect(got, expected, what):
    """Raise :class:`Fail` unless ``got == expected``; return a short note otherwise."""
    if got != expected:
        raise Fail(f"{what} is not right", expected=repr(expected), got=repr(got))
    return f"{what} == {expected!r}"


class Case:
    """One test of an exercise: ``check(namespace)`` returns a note or raises :class:`Fail`."""

    def __init__(self, title, check, points=1):
        self.title = title
        self.check = check
        self.points = points


class Exercise:
    """A graded exercise.

    Parameters
    ----------
    id : str
        ``"<chapter>.<number>"``, as in ``check("0.2")``.
    title : str
    needs : list of str
        Names the student's code must define.
    cases : list of Case
    hint : str
        Shown when a case fails, and in the exercise notebook's stub.
    """

    def __init__(self, id, title, needs, cases, hint=""):
        self.id = id
        self.title = title
        self.needs = list(needs)
        self.cases = list(cases)
        self.hint = hint

    @property
    def points(self):
        """The most this exercise can score."""
        return sum(case.points for case in self.cases)

    @property
    def chapter(self):
        """The chapter number, from the id."""
        return int(self.id.split(".")[0])


def register(ex):
    """Add an exercise to :data:`REGISTRY` (ids are unique)."""
    if ex.id in REGISTRY:
        raise ValueError(f"exercise {ex.id} is defined twice")
    REGISTRY[ex.id] = ex
    return ex


def exercise(exercise_id):
    """Return the exercise ``exercise_id`` ("0.2"), loading its chapter's module."""
    from ..core.errors import BadParameter
    exercise_id = str(exercise_id)
    load_chapter(exercise_id.split(".")[0])
    if exercise_id not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise BadParameter(f"there is no exercise {exercise_id!r}; exercises: {known}")
    return REGISTRY[exercise_id]


def load_chapter(chapter):
    """Import the module that defines a chapter's exercises; return its exercises in order."""
    import importlib
    try:
        number = int(chapter)
        importlib.import_module(f"{__package__}.chapter{number}")
    except (ValueError, ModuleNotFoundError):
        return []
    return [ex for ex in REGISTRY.values() if ex.chapter == number]


class CaseResult:
    """What one case gave: passed or not, points, a note or the reason, and the failure's details."""

    def __init__(self, case, passed, points, note="", reason="", failure=None):
        self.case = case
        self.passed = passed
        self.points = points
        self.note = note
        self.reason = reason
        self.failure = failure


class ExerciseResult:
    """The results of an exercise's cases."""

    def __init__(self, exercise, cases):
        self.exercise = exercise
        self.cases = cases

    @property
    def points(self):
        return sum(c.points for c in self.cases)

    @property
    def out_of(self):
        return self.exercise.points

    @property
    def reason(self):
        """The first failure's reason (empty when everything passed)."""
        for c in self.cases:
            if not c.passed:
                return f"{c.case.title}: {c.reason}"
        return ""


class time_limit:
    """Raise :class:`TimeLimit` in the main thread after ``seconds`` (a no-op elsewhere).

    Uses a real-time interval timer, so a loop in pure Python code is
    interrupted; the grader also runs every submission in its own process with
    an overall limit, for code this cannot stop.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.armed = False

    def _ring(self, signum, frame):
        raise TimeLimit(f"ran for more than {self.seconds:g} s")

    def __enter__(self):
        if self.seconds and threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self.previous = signal.signal(signal.SIGALRM, self._ring)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def describe_error(error):
    """One line for an exception raised by a student's code, with the line of their code it came from."""
    cause = error
    while cause is not None and not isinstance(cause, TimeLimit):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        where = f" in {str(error).split('(')[0].split(' raised ')[0]}" if error is not cause else ""
        return f"{cause}{where} (an infinite loop, or a run that never goes idle?)"
    cause = error
    while cause is not None and not isinstance(cause, NotImplementedError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return "not done yet (the cell still raises NotImplementedError)"
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.startswith("<exercise") or frame.filename.startswith("<ipython-input") \
                or "ipykernel_" in frame.filename:
            where = f" (line {frame.lineno} of your code)"
            break
    if isinstance(error, RecursionError):
        return f"RecursionError: {error}{where}"
    return f"{type(error).__name__}: {error}{where}"


def run_exercise(ex, namespace, timeout=10):
    """Run every case of ``ex`` against ``namespace``; never raises for the student's mistakes."""
    missing = [name for name in ex.needs if name not in namespace]
    if missing:
        reason = f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined: run the cell that defines it first"
        return ExerciseResult(ex, [CaseResult(case, False, 0, reason=reason) for case in ex.cases])
    results = []
    limit = sys.getrecursionlimit()
    for case in ex.cases:
        try:
            with time_limit(timeout):
                note = case.check(namespace)
            results.append(CaseResult(case, True, case.points, note=note or ""))
        except Fail as failure:
            results.append(CaseResult(case, False, 0, reason=failure.message, failure=failure))
        except KeyboardInterrupt:
            raise
        except BaseException as error:     # noqa: BLE001 - the student's code raised (even exit()): reported
            results.append(CaseResult(case, False, 0, reason=describe_error(error)))
        finally:
            sys.setrecursionlimit(limit)
    return ExerciseResult(ex, results)
