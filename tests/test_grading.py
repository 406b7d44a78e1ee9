"""Graded exercises: one source of truth, honest self-checks, and a grader nothing can take down."""

import csv
import pathlib
import subprocess
import sys

import nbformat
import pytest

from fttoolkit.core.errors import BadParameter
from fttoolkit.grading import check, feedback, run_exercise, show_run
from fttoolkit.grading.grader import discover, format_table, grade, write_gradebook
from fttoolkit.grading.model import exercise
from fttoolkit.grading.notebooks import EXERCISES, SOLUTIONS, cell_role, make_exercises, strip_solutions

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTION = SOLUTIONS / "00_welcome.ipynb"


def test_exercises_are_generated_from_the_solutions():
    made = make_exercises(write=False)
    assert made, "no solution notebooks found"
    for name, nb in made.items():
        on_disk = nbformat.read(EXERCISES / name, as_version=4)
        assert on_disk == nb, f"exercises/{name} is stale: run python -m fttoolkit make-exercises"
    text = (EXERCISES / "00_welcome.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "NotImplementedError" in text


def test_the_drift_check_notices_an_edited_solution(tmp_path):
    nb = nbformat.read(SOLUTION, as_version=4)
    for cell in nb.cells:
        if cell_role(cell) == ("exercise", "0.1"):
            cell.source = cell.source.replace("sorted by id", "in order")
    (tmp_path / "sol").mkdir()
    nbformat.write(nb, tmp_path / "sol" / "00_welcome.ipynb")
    made = make_exercises(tmp_path / "sol", write=False)
    assert made["00_welcome.ipynb"] != nbformat.read(EXERCISES / "00_welcome.ipynb", as_version=4)


@pytest.mark.parametrize("source, complaint", [
    ("x = 1\n### BEGIN SOLUTION\n", "is never closed"),
    ("### END SOLUTION\n", "without ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "inside another solution region"),
])
def test_broken_markers_are_reported_with_their_line(source, complaint):
    with pytest.raises(BadParameter, match=complaint):
        strip_solutions(source, "hint")


def test_stubs_keep_the_indentation_and_carry_the_hint():
    out = strip_solutions("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n    return 2\n", "h")
    assert out == "def f():\n    raise NotImplementedError('h')\n    return 2\n"


# ------------------------------------------------------------------------------ self-check
def solution_namespace():
    """Run the solution notebook's set-up and exercise cells, as a student's kernel would."""
    ns = {}
    for cell in nbformat.read(SOLUTION, as_version=4).cells:
        if cell_role(cell)[0] in ("setup", "exercise"):
            exec(cell.source, ns)
    return ns


def test_the_solutions_pass_every_check(capsys):
    ns = solution_namespace()
    for ex_id in ("0.1", "0.2", "0.3"):
        result = check(ex_id, ns).result
        assert result.points == result.out_of > 0, feedback(result)
    assert "All tests pass" in capsys.readouterr().out


def test_a_wrong_handler_gets_the_seed_the_script_and_the_run(capsys):
    ns = solution_namespace()
    exec("class DedupNode(BroadcastNode):\n"
         "    def on_rumor(self, msg, sender):\n"
         "        if msg.id not in self.seen:\n"
         "            self.accept(msg.id, msg.value, exclude=sender)\n", ns)       # forgets the Ack
    result = check("0.2", ns).result
    out = capsys.readouterr().out
    assert result.points == 1 and result.out_of == 3
    assert "still waits for acknowledgements" in out and "seed:" in out and "algorithm broadcast" in out
    assert 'show_run("0.2")' in out and "hint:" in out
    view = show_run("0.2")                     # the failing run, in the cluster view
    assert view.sim.now == 3000 and any(n.unacked for n in view.cluster.nodes.values())


def test_untouched_exercises_say_not_done_yet():
    ns = {}
    for cell in nbformat.read(EXERCISES / "00_welcome.ipynb", as_version=4).cells:
        if cell_role(cell)[0] in ("setup", "exercise"):
            exec(cell.source, ns)
    for ex_id in ("0.1", "0.2", "0.3"):
        result = run_exercise(exercise(ex_id), ns)
        assert result.points == 0 and all("not done yet" in c.reason for c in result.cases)


def test_check_reports_missing_names_and_unknown_exercises():
    result = check("0.1", {}).result
    assert "missing is not defined" in result.cases[0].reason
    with pytest.raises(BadParameter, match="there is no exercise '9.9'"):
        check("9.9", {})


# ---------------------------------------------------------------------------------- grading
def submission(folder, student, change=None):
    """Write a student's submission: the solutions, with ``change(cells)`` applied."""
    nb = nbformat.read(SOLUTION, as_version=4)
    if change:
        change(nb.cells)
    path = folder / student
    path.mkdir(parents=True)
    nbformat.write(nb, path / "00_welcome.ipynb")
    return path


def set_cell(ex_id, source):
    def change(cells):
        for cell in cells:
            if cell_role(cell) == ("exercise", ex_id):
                cell.source = source
    return change


def combine(*changes):
    def change(cells):
        for c in changes:
            c(cells)
    return change


SOLVED_01 = "def missing(cluster, msg_id):\n    return sorted(n for n, d in cluster.delivered().items() if d is not None and msg_id not in d)\n"


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    submission(folder, "alice")
    submission(folder, "bob", set_cell("0.1", "def missing(cluster, msg_id):\n    while True:\n        pass\n"))
    submission(folder, "carol", set_cell("0.3", "def break_it(:\n    return None\n"))
    submission(folder, "dave", set_cell("0.2", "raise ValueError('oops')\n"))

    def delete_03(cells):
        cells[:] = [c for c in cells if cell_role(c) != ("exercise", "0.3")]
    submission(folder, "erin", delete_03)

    def reorder(cells):      # 0.3 moved to the top: it needs nothing from above, so it still works
        moved = [c for c in cells if cell_role(c) == ("exercise", "0.3")]
        cells[:] = moved + [c for c in cells if c not in moved]
    submission(folder, "frank", reorder)
    submission(folder, "gus", combine(set_cell("0.1", "import os\nos._exit(3)\n" + SOLVED_01)))
    rows = grade([folder], timeout=2)
    return folder, rows


def points(rows, student):
    return {r.exercise: (r.points, r.reason) for r in rows if r.student == student}


def test_solutions_score_full_marks(graded_class):
    _, rows = graded_class
    assert {k: v[0] for k, v in points(rows, "alice").items()} == {"0.1": 2, "0.2": 3, "0.3": 2}


def test_an_infinite_loop_costs_only_its_exercise(graded_class):
    bob = points(graded_class[1], "bob")
    assert bob["0.1"][0] == 0 and "ran for more than 2 s" in bob["0.1"][1]
    assert bob["0.2"][0] == 3 and bob["0.3"][0] == 2


def test_a_syntax_error_costs_only_its_exercise(graded_class):
    carol = points(graded_class[1], "carol")
    assert carol["0.3"] == (0, "syntax error in the exercise cell, line 1: invalid syntax")
    assert carol["0.1"][0] == 2 and carol["0.2"][0] == 3


def test_an_exception_costs_only_its_exercise(graded_class):
    dave = points(graded_class[1], "dave")
    assert dave["0.2"][0] == 0 and "ValueError: oops (line 1 of your code)" in dave["0.2"][1]
    assert dave["0.1"][0] == 2 and dave["0.3"][0] == 2


def test_deleted_and_reordered_cells(graded_class):
    erin = points(graded_class[1], "erin")
    assert erin["0.3"][0] == 0 and "missing from the notebook" in erin["0.3"][1]
    assert erin["0.1"][0] == 2 and erin["0.2"][0] == 3
    frank = points(graded_class[1], "frank")
    assert {k: v[0] for k, v in frank.items()} == {"0.1": 2, "0.2": 3, "0.3": 2}


def test_a_process_that_dies_costs_only_the_exercise_that_killed_it(graded_class):
    gus = points(graded_class[1], "gus")
    assert gus["0.1"][0] == 0 and "exit status 3" in gus["0.1"][1]
    assert gus["0.2"][0] == 3 and gus["0.3"][0] == 2


def test_table_and_csv_gradebook(graded_class, tmp_path):
    folder, rows = graded_class
    table = format_table(rows)
    total = sum(r.points for r in rows)
    assert table.splitlines()[-1] == f"TOTAL: {total}/{7 * 7}"
    write_gradebook(rows, tmp_path / "g.csv")
    with open(tmp_path / "g.csv", newline="") as fp:
        book = list(csv.DictReader(fp))
    assert [b["student"] for b in book] == ["alice", "bob", "carol", "dave", "erin", "frank", "gus"]
    for b in book:
        mine = points(rows, b["student"])
        assert [int(b[e]) for e in ("0.1", "0.2", "0.3")] == [mine[e][0] for e in ("0.1", "0.2", "0.3")]
        assert int(b["total"]) == sum(v[0] for v in mine.values()) and b["out_of"] == "7"
    assert "0.1: after a calm run" not in book[0]["notes"] and "ran for more than" in book[1]["notes"]


def test_discover_names_students_by_folder(tmp_path):
    submission(tmp_path / "class", "zoe")
    single = submission(tmp_path, "yan") / "00_welcome.ipynb"
    found = discover([tmp_path / "class", single, tmp_path / "class" / "zoe"])
    assert [s for s, _ in found] == ["zoe", "yan", "zoe"]
    with pytest.raises(BadParameter, match="no such file or folder"):
        discover([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadParameter, match="no exercise notebooks"):
        discover([tmp_path / "empty"])


def test_grade_command(tmp_path):
    submission(tmp_path, "amy")
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "00_welcome.ipynb").write_text("{ not json")
    out = subprocess.run([sys.executable, "-m", "fttoolkit", "grade", str(tmp_path), "--csv",
                          str(tmp_path / "book.csv")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-2] == "TOTAL: 7/14"
    assert "the notebook cannot be read" in out.stdout
    assert (tmp_path / "book.csv").exists()
    missing = subprocess.run([sys.executable, "-m", "fttoolkit", "grade", str(tmp_path / "nope")],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr


def test_make_exercises_check_command():
    out = subprocess.run([sys.executable, "-m", "fttoolkit", "make-exercises", "--check"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout
