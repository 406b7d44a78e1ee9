"""Grading a whole class: ``python -m fttoolkit grade PATH... [--csv FILE] [--timeout SECONDS]``.

A PATH is a notebook, a folder of notebooks (one student's submission, named
after the folder), or a folder of such folders (a class: each subfolder is one
student).  Every submitted notebook is graded in a process of its own:

1. the setup cells come from the course's own exercise notebook, never from
   the submission;
2. the submission's exercise cells (found by their metadata, in the order
   the student left them) run one by one, each under the time limit;
3. after each cell, the package's tests of that exercise run on what the
   student's code defined, again under the time limit.

A syntax error, an exception or an infinite loop costs the exercise it is in
(and any later exercise that needs what it failed to define); a deleted cell
costs its exercise; nothing stops the grading of the other exercises or of the
other students.  Results travel through a file, one JSON line per exercise,
so a process that dies still leaves what it graded before.
"""

import csv
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from .model import describe_error, load_chapter, run_exercise, time_limit
from .notebooks import EXERCISES, cell_role

__all__ = ["grade", "discover", "grade_notebook", "Row", "write_gradebook", "format_table"]


class Row:
    """One line of the grade table."""

    __slots__ = ("student", "exercise", "points", "out_of", "reason")

    def __init__(self, student, exercise, points, out_of, reason=""):
        self.student, self.exercise, self.points, self.out_of, self.reason = (
            student, exercise, points, out_of, reason)

    def __repr__(self):
        return f"<{self.student} {self.exercise}: {self.points}/{self.out_of} {self.reason}>"


def _chapter_of(path):
    name = pathlib.Path(path).name
    return int(name[:2]) if name[:2].isdigit() and name[2:3] == "_" else None


def _notebooks(folder):
    return sorted(p for p in folder.glob("*.ipynb") if _chapter_of(p) is not None)


def discover(paths):
    """Return ``[(student, notebook path), ...]`` for the PATHs given (see the module docstring)."""
    from ..core.errors import BadParameter
    found = []
    for raw in paths:
        path = pathlib.Path(raw)
        if path.is_file():
            if path.suffix != ".ipynb":
                raise BadParameter(f"{raw}: not a notebook (.ipynb) or a folder")
            found.append((path.resolve().parent.name, path))
        elif path.is_dir():
            own = _notebooks(path)
            found.extend((path.resolve().name, nb) for nb in own)
            for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
                found.extend((sub.name, nb) for nb in _notebooks(sub))
            if not own and not any(_notebooks(sub) for sub in path.iterdir() if sub.is_dir()):
                raise BadParameter(f"{raw}: no exercise notebooks (NN_name.ipynb) in it or in its subfolders")
        else:
            raise BadParameter(f"{raw}: no such file or folder")
    return found


def _run_worker(notebook, template, timeout, done, dead, limit):
    """One grading process; return (records, why it ended early or "")."""
    with tempfile.TemporaryDirectory(prefix="ftt-grade-") as tmp:
        results = pathlib.Path(tmp) / "results.jsonl"
        why = ""
        try:
            finished = subprocess.run(
                [sys.executable, "-m", "fttoolkit.grading.grader", str(pathlib.Path(notebook).resolve()),
                 str(template), str(results), str(timeout), ",".join(done), ",".join(dead)],
                cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=limit, env=dict(os.environ, PYTHONHASHSEED="0", MPLBACKEND="Agg"))
            if finished.returncode != 0:
                why = f"the grading process ended (exit status {finished.returncode}) while this exercise ran"
        except subprocess.TimeoutExpired:
            why = f"stopped after {limit:g} s (an infinite loop the time limit could not interrupt?)"
        records = []
        if results.exists():
            records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line]
    return records, why


def grade_notebook(student, notebook, timeout=10, template_dir=EXERCISES):
    """Grade one submitted notebook in separate processes; return its rows (one per exercise).

    If the process dies or must be killed while an exercise runs (``os._exit``, a loop in C code),
    that exercise scores 0 and a new process grades the rest without running its cell.
    """
    chapter = _chapter_of(notebook)
    exercises = load_chapter(chapter)
    if not exercises:
        return [Row(student, f"chapter {chapter}", 0, 0, f"{pathlib.Path(notebook).name}: no graded exercises")]
    template = pathlib.Path(template_dir) / pathlib.Path(notebook).name
    limit = timeout * (2 + sum(len(ex.cases) + 1 for ex in exercises)) + 60
    graded, dead = {}, {}
    for _ in range(len(exercises) + 1):
        records, why = _run_worker(notebook, template, timeout, list(graded), list(dead), limit)
        running = None
        for record in records:
            if "running" in record:
                running = record["running"]
            else:
                graded[record["exercise"]] = (record["points"], record["reason"])
                running = None
        if not why:
            break
        if running is None or running in graded or running in dead:
            dead.update({ex.id: why for ex in exercises if ex.id not in graded and ex.id not in dead})
            break
        dead[running] = why
    rows = []
    for ex in exercises:
        points, reason = graded.get(ex.id) or (0, dead.get(ex.id, "not graded"))
        rows.append(Row(student, ex.id, points, ex.points, reason))
    return rows


def grade(paths, timeout=10, template_dir=EXERCISES):
    """Grade every submission under ``paths``; return the rows."""
    rows = []
    for student, notebook in discover(paths):
        rows.extend(grade_notebook(student, notebook, timeout, template_dir))
    return rows


def _number(x):
    return int(x) if float(x).is_integer() else round(x, 2)


def format_table(rows):
    """The table the command prints, ending with ``TOTAL: X/Y``."""
    header = ("student", "exercise", "points", "out of", "reason")
    body = [(r.student, r.exercise, str(_number(r.points)), str(_number(r.out_of)), r.reason) for r in rows]
    widths = [max(len(line[k]) for line in [header] + body) for k in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line[:4], widths)) + "  " + line[4]
             for line in [header] + body]
    total = sum(r.points for r in rows)
    out_of = sum(r.out_of for r in rows)
    lines.append(f"TOTAL: {_number(total)}/{_number(out_of)}")
    return "\n".join(line.rstrip() for line in lines)


def write_gradebook(rows, path):
    """Write a CSV gradebook: one row per student, a column per exercise, the total, and the reasons."""
    exercises = sorted({r.exercise for r in rows}, key=lambda e: [int(p) if p.isdigit() else p for p in e.split(".")])
    students = sorted({r.student for r in rows})
    by = {(r.student, r.exercise): r for r in rows}
    with open(path, "w", newline="", encoding="utf-8") as fp:
        out = csv.writer(fp)
        out.writerow(["student", *exercises, "total", "out_of", "notes"])
        for student in students:
            mine = [by.get((student, e)) for e in exercises]
            notes = "; ".join(f"{r.exercise}: {r.reason}" for r in mine if r is not None and r.reason)
            out.writerow([student, *[_number(r.points) if r else "" for r in mine],
                          _number(sum(r.points for r in mine if r)), _number(sum(r.out_of for r in mine if r)),
                          notes])


# ================================================================ inside the grading process
def _cells(path):
    import nbformat
    return nbformat.read(path, as_version=4).cells


def _python(source):
    """A cell's code with IPython's ``%magics`` and ``!commands`` turned into calls of a do-nothing stub."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:      # pragma: no cover - IPython comes with the course
        return source


class _NoShell:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _worker(notebook, template, results, timeout, done=(), dead=()):
    """Grade one notebook in this process (``done``: already graded, run their cells only; ``dead``: skip)."""
    exercises = {ex.id: ex for ex in load_chapter(_chapter_of(notebook))}

    def report(**record):
        with open(results, "a", encoding="utf-8") as fp:
            fp.write(json.dumps(record) + "\n")

    try:
        cells = _cells(notebook)
    except Exception as error:
        for ex_id in exercises:
            report(exercise=ex_id, points=0, reason=f"the notebook cannot be read ({type(error).__name__}: {error})")
        return
    namespace = {"__name__": "__main__", "get_ipython": _NoShell}
    try:
        setup = [c for c in _cells(template) if cell_role(c)[0] == "setup"]
    except OSError:
        setup = [c for c in cells if cell_role(c)[0] == "setup"]
    for cell in setup:
        exec(compile(_python(cell.source), "<setup>", "exec"), namespace)
    mine = [(cell_role(c)[1], c) for c in cells if c.get("cell_type") == "code" and cell_role(c)[0] == "exercise"]
    last = {ex_id: k for k, (ex_id, _) in enumerate(mine)}
    failed_cell = {}
    for k, (ex_id, cell) in enumerate(mine):
        if ex_id not in exercises or ex_id in dead:
            continue
        grading = last[ex_id] == k and ex_id not in done
        if grading:
            report(running=ex_id)
        try:
            code = compile(_python(cell.source), f"<exercise {ex_id}>", "exec")
            with time_limit(timeout):
                exec(code, namespace)
            failed_cell.pop(ex_id, None)
        except SyntaxError as error:
            failed_cell[ex_id] = f"syntax error in the exercise cell, line {error.lineno}: {error.msg}"
        except BaseException as error:        # noqa: BLE001 - whatever the student's code raises, even exit()
            failed_cell[ex_id] = "the exercise cell raised " + describe_error(error)
        if not grading:
            continue                           # graded already, or its cell appears again later
        if ex_id in failed_cell:
            report(exercise=ex_id, points=0, reason=failed_cell[ex_id])
            continue
        result = run_exercise(exercises[ex_id], namespace, timeout)
        report(exercise=ex_id, points=result.points, reason=result.reason)
    for ex_id in exercises:
        if ex_id not in last and ex_id not in done:
            report(exercise=ex_id, points=0,
                   reason="its cell is missing from the notebook (deleted, or its metadata was lost)")


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]),
            [x for x in sys.argv[5].split(",") if x], [x for x in sys.argv[6].split(",") if x])
