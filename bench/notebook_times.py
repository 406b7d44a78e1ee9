"""How long each chapter takes to run top to bottom, in a fresh kernel (the course asks < 30 s each).

Prints one JSON object per line: {"bench": "notebook-<name>-seconds", "value": V, "unit": "s"}.
Run: .venv/bin/python bench/notebook_times.py [--only NAME ...]
"""

import argparse
import json
import pathlib
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="notebook names (without .ipynb) to time")
    args = parser.parse_args()
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    for path in paths:
        seconds = run(path)
        print(json.dumps({"bench": f"notebook-{path.stem}-seconds", "value": round(seconds, 1), "unit": "s"}))


if __name__ == "__main__":
    main()
