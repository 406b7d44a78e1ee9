"""Graded exercises: instant self-check in the notebook, and class-wide grading from a terminal.

In an exercise notebook::

    from fttoolkit.grading import check, show_run
    check("0.2")          # runs the package's tests of exercise 0.2 on your code, now
    show_run("0.2")       # the run that exposed a problem, in the cluster view

From a terminal (instructors)::

    python -m fttoolkit grade submissions/ --csv grades.csv
    python -m fttoolkit make-exercises          # exercises/ from solutions/

The tests of every exercise live in this package (``chapter0.py`` ...), never in
the notebooks; points are declared with each exercise's cases.  This layer
sits with the front doors at the top: the exercises run students' code inside
them and print scenario scripts.
"""

from .model import REGISTRY, Exercise, exercise, run_exercise

__all__ = ["check", "show_run", "feedback", "exercise", "REGISTRY", "Exercise", "run_exercise"]

#: exercise id -> the front door of the last run that exposed a problem (for :func:`show_run`).
_FAILED_RUNS = {}


def _student_namespace(depth=2):
    try:
        from IPython import get_ipython
        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:   # pragma: no cover - IPython comes with the course
        pass
    import sys
    return sys._getframe(depth).f_globals


def check(exercise_id, namespace=None, timeout=10):
    """Run exercise ``exercise_id``'s tests on your code and print what passed, what did not, and why.

    Parameters
    ----------
    exercise_id : str
        For example ``"0.2"``.
    namespace : dict, optional
        Where your definitions are (default: the notebook's).
    timeout : float
        Seconds each test may take before it counts as an infinite loop.

    Returns
    -------
    ExerciseResult
        Also printed; a notebook shows nothing more when the call ends the cell.
    """
    ex = exercise(exercise_id)
    ns = namespace if namespace is not None else _student_namespace()
    result = run_exercise(ex, ns, timeout)
    for case in result.cases:
        if case.failure is not None and case.failure.run is not None:
            _FAILED_RUNS[ex.id] = case.failure.run
            break
    else:
        _FAILED_RUNS.pop(ex.id, None)
    print(feedback(result))
    return _Quiet(result)


class _Quiet:
    """The result of :func:`check`, which a notebook does not print twice."""

    def __init__(self, result):
        self.result = result
        self.points, self.out_of = result.points, result.out_of

    def __repr__(self):
        return f"<{self.result.exercise.id}: {self.points}/{self.out_of} points>"

    def _repr_pretty_(self, printer, cycle):
        printer.text("")


def show_run(exercise_id, **options):
    """Open, in the cluster view, the run that exposed a problem in the last ``check(exercise_id)``."""
    from ..core.errors import InvalidAction
    run = _FAILED_RUNS.get(str(exercise_id))
    if run is None:
        raise InvalidAction(f"no failing run to show for exercise {exercise_id}: run check({str(exercise_id)!r}) "
                            "first (only exercises that run the simulator keep one)")
    return run.show(**options)


def feedback(result):
    """The friendly text :func:`check` prints."""
    ex = result.exercise
    lines = [f"Exercise {ex.id}: {ex.title} ({result.points}/{result.out_of} points)"]
    for c in result.cases:
        if c.passed:
            lines.append(f"  \u2713 {c.case.title}" + (f": {c.note}" if c.note else ""))
            continue
        lines.append(f"  \u2717 {c.case.title}: {c.reason}")
        f = c.failure
        if f is not None:
            if f.expected is not None:
                lines.append(f"      expected: {f.expected}")
            if f.got is not None:
                lines.append(f"      got:      {f.got}")
            if f.seed is not None:
                lines.append(f"      seed:     {f.seed}")
            if f.script:
                lines.append("      the run, as a scenario script:")
                lines.extend("        " + line for line in f.script.rstrip().splitlines())
            if f.run is not None:
                lines.append(f'      watch it:  show_run("{ex.id}")')
    stuck = [c for c in result.cases if not c.passed and "not done yet" not in c.reason]
    if stuck and ex.hint:
        lines.append(f"  hint: {ex.hint}")
    if result.points == result.out_of:
        lines.append("  All tests pass. Well done!")
    return "\n".join(lines)
