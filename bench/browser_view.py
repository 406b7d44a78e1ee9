"""The cluster view in a real browser: Step click to new picture, and pictures per second while playing.

JupyterLab and Debian's Chromium (/usr/bin/chromium, driven by Playwright) run a generated notebook per
cluster size: a broadcast cluster with a workload, shown with ``cluster.show()``.  Times are measured
inside the page (from the click event to the new picture decoded), so Playwright's own round trips are
not counted.  Needs /usr/bin/chromium (Debian's chromium package); exits 1 without it.

Prints one JSON object per line: {"bench": NAME, "value": V, "unit": U}.
Run: .venv/bin/python bench/browser_view.py [--quick] [--nodes 5 25] [--clicks 15] [--seconds 3]
     [--notebook PATH.ipynb]   (measure that notebook's view instead of the generated ones)
"""

import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
import lab_harness as harness  # noqa: E402

CELL = """\
from fttoolkit import Broadcast

cluster = Broadcast(nodes={nodes}, seed=1, delay=(20, 60))
cluster.workload(until=2000, requests=6)
cluster.show()"""


def write_notebook(folder, nodes):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(CELL.format(nodes=nodes))]
    path = pathlib.Path(folder) / f"view_{nodes}_nodes.ipynb"
    nbformat.write(notebook, path)
    return path.name


def p95(values):
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def measure(browser, lab, notebook, clicks, seconds, warmup=2):
    """Open notebook, run it, and time its view: (click-to-picture ms list, play result dict)."""
    page = harness.open_notebook(browser, lab, notebook)
    try:
        harness.run_all_cells(page, timeout=300)
        harness.wait_for_view(page)
        errors = harness.notebook_errors(page)
        if errors:
            raise RuntimeError(f"{notebook} shows errors:\n" + "\n".join(errors))
        harness.click_to_picture_ms(page, repeat=warmup)      # first pictures pay for warm-up
        times = harness.click_to_picture_ms(page, repeat=clicks)
        harness.wait_until_still(page)
        played = harness.play_fps(page, seconds=seconds)
        harness.wait_until_still(page)
        errors = harness.notebook_errors(page)
        if errors:
            raise RuntimeError(f"{notebook} shows errors after Step and Play:\n" + "\n".join(errors))
        return times, played
    finally:
        page.close()
        lab.shutdown_kernels()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clicks, shorter play (5 clicks, 1.5 s)")
    parser.add_argument("--nodes", type=int, nargs="+", default=[5, 25])
    parser.add_argument("--clicks", type=int, default=None, help="Step clicks timed per size (15)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of Play per size (3)")
    parser.add_argument("--notebook", type=pathlib.Path, help="measure this notebook's view instead")
    args = parser.parse_args()
    clicks = args.clicks or (5 if args.quick else 15)
    seconds = args.seconds or (1.5 if args.quick else 3.0)

    problem = harness.browser_missing()
    if problem:
        print(f"browser_view: {problem}", file=sys.stderr)
        sys.exit(1)

    with tempfile.TemporaryDirectory(prefix="ftt-browser-bench-") as tmp:
        folder = pathlib.Path(tmp) / "notebooks"
        folder.mkdir()
        if args.notebook:
            shutil.copy(args.notebook, folder / args.notebook.name)
            runs = [(args.notebook.name, args.notebook.stem)]
        else:
            runs = [(write_notebook(folder, n), f"{n}_nodes") for n in args.nodes]
        with harness.running_lab(folder, tmp) as lab, harness.browser(tmp) as browser:
            for notebook, label in runs:
                times, played = measure(browser, lab, notebook, clicks, seconds)
                if not played["still_playing"]:
                    print(f"browser_view: {notebook}: the view paused by itself before the {seconds} s were "
                          f"up; its frames/s undercounts", file=sys.stderr)
                for name, value, unit in ((f"view_click_to_picture_median_{label}", statistics.median(times), "ms"),
                                          (f"view_click_to_picture_p95_{label}", p95(times), "ms"),
                                          (f"view_play_fps_{label}", played["fps"], "frames/s")):
                    print(json.dumps({"bench": name, "value": round(value, 1), "unit": unit}), flush=True)


if __name__ == "__main__":
    main()
