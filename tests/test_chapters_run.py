"""Every chapter runs top to bottom without error, twice in one kernel, within the course's time budget.

This runs ``bench/notebook_times.py --twice --check`` (the budgets live in the benchmark: 30 s per
chapter, 3 minutes for the course); the suite does not also run the chapters through nbval.
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_chapter_runs_twice_in_one_kernel_within_budget():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "notebook_times.py"), "--twice", "--check"],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    records = {r["bench"]: r["value"] for r in map(json.loads, out.stdout.splitlines())}
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [f"notebook-{c}-seconds" for c in chapters] == [k for k in records if k.startswith("notebook-")]
    assert records["course-headless-seconds"] <= 180


def test_a_failing_second_pass_is_reported(tmp_path):
    # the check must be able to fail: a notebook whose second run breaks (state left by the first)
    import nbformat
    sys.path.insert(0, str(ROOT / "bench"))
    from nbclient.exceptions import CellExecutionError
    from notebook_times import run
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 'ran' not in globals()\nran = True")])
    path = tmp_path / "once.ipynb"
    nbformat.write(nb, path)
    assert run(path) >= 0
    try:
        run(path, twice=True)
    except CellExecutionError as exc:
        assert "AssertionError" in str(exc)
    else:
        raise AssertionError("the second pass should have failed")
