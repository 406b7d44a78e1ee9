"""Exercise notebooks: solution markers, and ``exercises/`` generated from ``solutions/``.

A solution notebook marks each answer inside a code cell the way nbgrader
does::

    def missing(cluster, msg_id):
        ### BEGIN SOLUTION
        return sorted(...)
        ### END SOLUTION

and tags the cell with ``{"fttoolkit": {"exercise": "0.1"}}`` in its metadata
(``{"fttoolkit": {"setup": true}}`` for the cells every exercise needs).
:func:`make_exercises` replaces each marked region by a stub that raises
``NotImplementedError`` with the exercise's hint, and clears the outputs.

Examples
--------
>>> print(strip_solutions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION\\n", "look up"))
def f():
    raise NotImplementedError('look up')
<BLANKLINE>
"""

import copy
import pathlib

from ..core.errors import BadParameter

__all__ = ["BEGIN", "END", "strip_solutions", "exercise_notebook", "make_exercises", "cell_role",
           "REPO", "SOLUTIONS", "EXERCISES"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
REPO = pathlib.Path(__file__).resolve().parent.parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"


def cell_role(cell):
    """``("exercise", id)``, ``("setup", None)``, ``("check", id)`` or ``(None, None)`` for a cell."""
    meta = cell.get("metadata", {}).get("fttoolkit", {})
    if "exercise" in meta:
        return "exercise", str(meta["exercise"])
    if meta.get("setup"):
        return "setup", None
    if "check" in meta:
        return "check", str(meta["check"])
    return None, None


def strip_solutions(source, hint, where="cell"):
    """Replace every marked solution region in ``source`` by ``raise NotImplementedError(hint)``."""
    out, inside, begun = [], False, 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise BadParameter(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside, begun = True, number
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}raise NotImplementedError({hint!r})\n")
        elif marker == END:
            if not inside:
                raise BadParameter(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise BadParameter(f"{where}, line {begun}: {BEGIN} is never closed by {END}")
    return "".join(out)


def exercise_notebook(solution):
    """The student's version of a solution notebook (an nbformat notebook; the input is not changed)."""
    from .model import exercise
    nb = copy.deepcopy(solution)
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
        role, exercise_id = cell_role(cell)
        has_region = any(line.strip() == BEGIN for line in cell.source.splitlines())
        if has_region and role != "exercise":
            raise BadParameter(f"cell {index} has a solution region but no exercise id in its metadata")
        if role == "exercise":
            if not has_region:
                raise BadParameter(f"cell {index} (exercise {exercise_id}) has no {BEGIN} region")
            ex = exercise(exercise_id)
            cell.source = strip_solutions(cell.source, f"Exercise {ex.id}: {ex.hint}", f"cell {index}").rstrip("\n")
    return nb


def make_exercises(solutions=SOLUTIONS, exercises=EXERCISES, write=True):
    """Generate ``exercises/NN_*.ipynb`` from ``solutions/NN_*.ipynb``; return {name: notebook}.

    With ``write=False`` nothing is written (the drift test compares the result with the files).
    """
    import nbformat
    made = {}
    for path in sorted(pathlib.Path(solutions).glob("[0-9][0-9]_*.ipynb")):
        nb = exercise_notebook(nbformat.read(path, as_version=4))
        made[path.name] = nb
        if write:
            nbformat.write(nb, pathlib.Path(exercises) / path.name)
    return made
