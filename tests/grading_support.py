"""What the graded-exercise tests share (tests/test_grading_*.py): a notebook's namespace, grading a student's
code, replaying a failure's script, and the checks every chapter makes (the solutions get full points, quickly;
the generated exercise notebook's stubs say "not done yet"; the grader grades a class of two students).

    import grading_support as support            # a sibling module, like lab_harness

    solved = support.solved_fixture(NOTEBOOK)    # the module-scoped fixture: the solutions' namespace
    graded = support.grader(NAMES)               # graded(ex_id, student) -> (result, {title: failed case})
    assert_replayable = functools.partial(support.assert_replayable, replay_script)
"""

import pathlib
import time

import nbformat
import pytest

from fttoolkit.grading import check, feedback, run_exercise
from fttoolkit.grading.grader import grade
from fttoolkit.grading.model import exercise
from fttoolkit.grading.notebooks import EXERCISES, SOLUTIONS, cell_role
from fttoolkit.scenario import parse

__all__ = ["namespace", "solved_fixture", "run_graded", "grader", "assert_replayable", "assert_full_points",
           "assert_stubs_say_not_done_yet", "assert_each_checks_within", "grade_ana_and_ben"]


def namespace(notebook, folder):
    """Run ``notebook``'s set-up and exercise cells (in ``folder``), as a student's kernel would."""
    ns = {}
    for cell in nbformat.read(pathlib.Path(folder) / notebook, as_version=4).cells:
        if cell_role(cell)[0] in ("setup", "exercise"):
            exec(cell.source, ns)
    return ns


def solved_fixture(notebook):
    """A module-scoped fixture: the namespace of ``notebook``'s solutions (assign it to ``solved``)."""
    @pytest.fixture(scope="module")
    def solved():
        return namespace(notebook, SOLUTIONS)
    return solved


def run_graded(ex_id, ns, timeout=10):
    """Run exercise ``ex_id`` on the namespace ``ns``; return (result, {case title: failed CaseResult})."""
    result = run_exercise(exercise(ex_id), ns, timeout)
    return result, {c.case.title: c for c in result.cases if not c.passed}


def grader(names):
    """``graded(ex_id, student, timeout=10)``: :func:`run_graded` on ``{names[ex_id]: student}``."""
    def graded(ex_id, student, timeout=10):
        return run_graded(ex_id, {names[ex_id]: student}, timeout)
    return graded


def assert_replayable(replay_script, ex_id, student, failure):
    """The failure's script, replayed with the same code, breaks the same rule first, at the same tick.

    ``replay_script(ex_id, student, script)`` is the chapter's; returns the replayed door.
    """
    assert failure.seed is not None and failure.script and failure.run is not None
    assert parse(failure.script).header["seed"] == failure.seed
    door = replay_script(ex_id, student, failure.script)
    first, shown = door.violations[0], failure.run.violations[0]
    assert (first["invariant"], first["detail"], first.tick) == (shown["invariant"], shown["detail"], shown.tick)
    assert f"at t={first.tick}: {first['detail']}" in failure.got
    return door


def assert_full_points(solved, points, capsys, seconds=None):
    """``check`` gives the solutions ``points[ex_id]`` out of as many (within ``seconds`` each, if given)."""
    for ex_id, out_of in points.items():
        start = time.perf_counter()
        result = check(ex_id, solved).result
        assert result.points == result.out_of == out_of, feedback(result)
        if seconds is not None:
            assert time.perf_counter() - start < seconds, ex_id
    assert capsys.readouterr().out.count("All tests pass") == len(points)


def assert_stubs_say_not_done_yet(notebook, points):
    """The exercise notebook holds no solution and one exercise cell per exercise of ``points``, in order; every
    case of every exercise run on it says "not done yet".  Returns the exercise cells' sources by exercise id."""
    text = (EXERCISES / notebook).read_text()
    assert "BEGIN SOLUTION" not in text
    cells = nbformat.read(EXERCISES / notebook, as_version=4).cells
    exercises = [(cell_role(c)[1], c.source) for c in cells if cell_role(c)[0] == "exercise"]
    assert [ex_id for ex_id, _ in exercises] == list(points)
    ns = namespace(notebook, EXERCISES)
    for ex_id in points:
        result = run_exercise(exercise(ex_id), ns)
        assert result.points == 0 and all("not done yet" in c.reason for c in result.cases), feedback(result)
    return dict(exercises)


def assert_each_checks_within(solved, points, seconds):
    """Each exercise of ``points`` runs on the solutions in less than ``seconds``."""
    for ex_id in points:
        start = time.perf_counter()
        run_exercise(exercise(ex_id), solved)
        assert time.perf_counter() - start < seconds, ex_id


def grade_ana_and_ben(tmp_path, notebook, ex_id, edit, timeout=10):
    """Grade a class of two: ana hands in the solutions, ben the same with exercise ``ex_id``'s cell changed by
    ``edit(source)`` (which must change it).  Returns the grader's rows by (student, exercise)."""
    nb = nbformat.read(SOLUTIONS / notebook, as_version=4)
    (tmp_path / "ana").mkdir()
    nbformat.write(nb, tmp_path / "ana" / notebook)
    cell = next(c for c in nb.cells if cell_role(c) == ("exercise", ex_id))
    wrong = edit(cell.source)
    assert wrong != cell.source
    cell.source = wrong
    (tmp_path / "ben").mkdir()
    nbformat.write(nb, tmp_path / "ben" / notebook)
    return {(r.student, r.exercise): r for r in grade([tmp_path], timeout=timeout)}
