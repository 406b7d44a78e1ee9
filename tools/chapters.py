"""Shared frame of the chapter notebooks: the chapter list, and the cell every chapter ends with.

Each ``tools/build_*.py`` script writes one chapter from Python source (readable diffs; notebooks
are committed without outputs) and calls :func:`write`, which checks the chapter's opening (learning
objectives, an estimated time, a link to the glossary) and appends the closing "Where next" cell:
the chapter's exercises, the glossary, and the next chapter.  ``tests/test_course_structure.py``
checks the written notebooks for the same things.
"""

import pathlib

import nbformat as nbf

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: number, notebook stem, title
CHAPTERS = [
    (0, "00_welcome", "Welcome"),
    (1, "01_concepts", "Concepts"),
    (2, "02_failure_detection", "Failure detection"),
    (3, "03_failure_recovery", "Failure recovery"),
    (4, "04_transactions", "Distributed transactions"),
    (5, "05_paxos", "Paxos"),
    (6, "06_raft", "Raft"),
    (7, "07_checking", "Checking"),
    (8, "08_outlook_faq", "Outlook and FAQ"),
]

GLOSSARY_LINK = "[glossary (术语表)](glossary.md)"
OBJECTIVES = ("You will learn", "In this chapter you will")


def ch(number, anchor=""):
    """A link to chapter ``number`` if its notebook exists, else its name and file in plain text."""
    _, stem, title = CHAPTERS[number]
    if (ROOT / "notebooks" / f"{stem}.ipynb").exists():
        return f"[Chapter {number} — {title}]({stem}.ipynb{anchor})"
    return f"Chapter {number} — {title} (`{stem}.ipynb`)"


def closing(number):
    """The Markdown of the last cell of chapter ``number``."""
    index = [c[0] for c in CHAPTERS].index(number)
    _, stem, title = CHAPTERS[index]
    lines = ["## Where next", ""]
    exercises = ROOT / "exercises" / f"{stem}.ipynb"
    if exercises.exists():
        lines.append(f"- **Exercises:** [`exercises/{stem}.ipynb`](../exercises/{stem}.ipynb) — graded "
                     "at once by its `check(...)` cells (how they work: Chapter 0).")
    else:
        lines.append("- **Exercises:** this chapter has no graded exercises; the list of all of them is in "
                     "[`exercises/README.md`](../exercises/README.md).")
    lines.append(f"- **Terms:** the {GLOSSARY_LINK} lists every term of the course in English and Chinese.")
    later = [c for c in CHAPTERS[index + 1:] if (ROOT / "notebooks" / f"{c[1]}.ipynb").exists()]
    if later:   # chapters still being written are skipped until they exist
        number2, stem2, title2 = later[0]
        lines.append(f"- **Next:** [Chapter {number2} — {title2}]({stem2}.ipynb).")
    else:
        lines.append(f"- **Back to the start:** [Chapter 0 — Welcome]({CHAPTERS[0][1]}.ipynb).")
    return "\n".join(lines)


def check_opening(stem, first):
    """Raise if the chapter's first cell lacks objectives, an estimated time or the glossary link."""
    missing = [what for what, ok in (("learning objectives", any(o in first for o in OBJECTIVES)),
                                     ("an estimated time", "Estimated time" in first),
                                     ("the glossary link", "glossary.md" in first)) if not ok]
    if missing:
        raise SystemExit(f"{stem}: the first cell needs {', '.join(missing)}")


def write(number, cells):
    """Check the opening, append the closing cell and write ``notebooks/<stem>.ipynb``."""
    stem = dict((n, s) for n, s, _ in CHAPTERS)[number]
    check_opening(stem, cells[0].source)
    cells = list(cells) + [nbf.v4.new_markdown_cell(closing(number))]
    for index, cell in enumerate(cells):      # stable ids keep the diffs of a rebuilt chapter small
        cell.id = f"ch{number}-{index:03d}"
    nb = nbf.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    nbf.write(nb, path)
    print(f"wrote {path} ({len(cells)} cells)")
    return path
