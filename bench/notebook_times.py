"""How long each chapter takes to run top to bottom in a fresh kernel, and the whole course headless.

The course promises each chapter in under 30 s and the whole course in under 3 minutes on a laptop
(issue [concepts]); ``--check`` exits 1 when a chapter or the total is over its budget.  ``--twice``
runs every chapter a second time in the same kernel, as a student who presses "Run all" again
would, and fails on any error in that second pass (the timing is the first pass's).

Prints one JSON object per line: {"bench": "notebook-<name>-seconds", "value": V, "unit": "s"}, then
{"bench": "course-headless-seconds", ...} when more than one chapter ran.
Run: .venv/bin/python bench/notebook_times.py [--only NAME ...] [--twice] [--check]
"""

import argparse
import json
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHAPTER_BUDGET_S = 30
COURSE_BUDGET_S = 180


def run(path, twice=False):
    """Execute the notebook at ``path``; return the seconds its first pass took.

    With ``twice``, every cell runs again in the same kernel afterwards; an error in either pass
    raises ``nbclient.exceptions.CellExecutionError`` naming the cell.
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        start = time.perf_counter()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        first = time.perf_counter() - start
        if twice:
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
    return first


def chapters(only=None):
    """The chapter notebooks (``notebooks/NN_*.ipynb``), optionally only those named."""
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = set(only) - {p.stem for p in paths}
        if unknown:
            raise SystemExit(f"no chapter named {', '.join(sorted(unknown))}; chapters: "
                             + ", ".join(p.stem for p in paths))
        paths = [p for p in paths if p.stem in only]
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="chapter names (without .ipynb) to time")
    parser.add_argument("--twice", action="store_true", help="run each chapter a second time in the same kernel")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if a chapter takes over {CHAPTER_BUDGET_S} s or the course over {COURSE_BUDGET_S} s")
    args = parser.parse_args()
    over, total = [], 0.0
    paths = chapters(args.only)
    for path in paths:
        seconds = run(path, twice=args.twice)
        total += seconds
        print(json.dumps({"bench": f"notebook-{path.stem}-seconds", "value": round(seconds, 1), "unit": "s"}),
              flush=True)
        if seconds > CHAPTER_BUDGET_S:
            over.append(f"{path.stem} took {seconds:.1f} s (budget {CHAPTER_BUDGET_S} s)")
    if not args.only:          # the whole course
        print(json.dumps({"bench": "course-headless-seconds", "value": round(total, 1), "unit": "s"}))
        if total > COURSE_BUDGET_S:
            over.append(f"the course took {total:.1f} s (budget {COURSE_BUDGET_S} s)")
    if args.check and over:
        print("over budget: " + "; ".join(over), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
