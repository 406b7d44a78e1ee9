"""Compute the bug zoo and write fttoolkit/presets/zoo.json and notebooks/bug_zoo.md (run: python tools/build_zoo.py).

Every front door's bugs are replayed on every one of its presets (see :mod:`fttoolkit.zoo`); the
records are stored so that notebooks read them at once, and the page is generated from them.
``--check`` writes nothing and exits with status 1 if either file is out of date (as
``tests/test_bug_zoo.py`` checks).  Run it again after adding a bug or a preset.
"""

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from fttoolkit.zoo import PAGE_PATH, ZOO_PATH, bug_zoo, compute_zoo, write_zoo, zoo_markdown  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    start = time.perf_counter()
    records = compute_zoo()
    seconds = time.perf_counter() - start
    if "--check" in argv:
        stored = json.loads(ZOO_PATH.read_text(encoding="utf-8")) if ZOO_PATH.exists() else None
        page = PAGE_PATH.read_text(encoding="utf-8") if PAGE_PATH.exists() else None
        fresh_page = zoo_markdown([dict(r, script=None) for r in records])
        stale = [str(p) for p, ok in ((ZOO_PATH, stored == records), (PAGE_PATH, page == fresh_page)) if not ok]
        print("out of date: " + ", ".join(stale) if stale else "the bug zoo is up to date")
        return 1 if stale else 0
    write_zoo(records)
    zoo = bug_zoo()
    missing = [f"{r['algorithm']}:{r['bug']}" for r in zoo if r["preset"] is None]
    print(f"{len(zoo)} bugs in {len({r['algorithm'] for r in zoo})} algorithms, computed in {seconds:.1f} s; "
          f"wrote {ZOO_PATH.relative_to(ZOO_PATH.parents[2])} and {PAGE_PATH.relative_to(PAGE_PATH.parents[1])}")
    if missing:
        print("no preset shows: " + ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
