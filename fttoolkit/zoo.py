"""The bug zoo: every named bug of every front door, the rule it breaks, what catches it, and a preset.

Each algorithm of the course can be built with classic mistakes switched on
(``Door.bug_list()``: name -> the rule it breaks, in one sentence).  This
module finds, from the code and the preset scenario scripts, for every bug

* the checks that catch it: the door's **invariants** (safety), its
  **liveness** checks (run by a script's ``check liveness``), or, for the
  failure detectors, a **measured** quality (:data:`MEASURES`: accuracy is
  measured by the course, not asserted, since no detector can promise it);
* a **preset** that shows it: a script in ``fttoolkit/presets/<algorithm>/``
  that, replayed with that bug switched on, breaks those checks, and replayed
  without it breaks nothing (so the preset isolates the bug);
* the chapter that teaches it.

A preset *shows* a bug when (1) replayed without any bug it breaks no
invariant and no liveness check; (2) replayed with the bug it breaks at least
one check that the bug-free replay keeps; (3) if its header says ``expect
INVARIANT, ...``, the invariants the buggy replay breaks are exactly those.
Among the presets that show a bug, the one whose header names the bug
(``bugs NAME``) comes first, then one named after the bug, then the shortest.

Replaying every preset with every bug takes seconds, too slow for a notebook,
so :func:`compute_zoo` is run by ``tools/build_zoo.py``, which stores the
records in ``fttoolkit/presets/zoo.json`` and writes the page
``notebooks/bug_zoo.md``; :func:`bug_zoo` reads the stored records.
``tests/test_bug_zoo.py`` computes them again and compares, so the file cannot
go stale.

A door whose node class inherits another registered door's bugs (``raft-kv``
runs Raft's code with Raft's five bugs, plus two of its own) lists each
inherited bug once more, with ``inherited_from`` naming the other door: its
preset and checks are that door's (``preset_algorithm``), since the code is
the same.  Nothing is replayed twice.

Examples
--------
>>> zoo = bug_zoo()
>>> row = next(r for r in zoo if r["algorithm"] == "raft" and r["bug"] == "figure8")
>>> row["preset"], row["invariants"], row["kind"], row["chapter"]
('figure8_d', ['Leader Completeness', 'State Machine Safety'], 'safety', 6)
>>> load_bug("raft", "figure8").violations[0]["invariant"].split(":")[0]
'Leader Completeness'

Notes
-----
The idea of named, switchable mistakes that the checkers must catch follows
mutation testing (DeMillo, Lipton & Sayward, "Hints on Test Data Selection",
1978): a checker never seen to fail may be checking nothing.  Safety and
liveness as defined by Lamport ("Proving the Correctness of Multiprocess
Programs", 1977) and Alpern & Schneider ("Defining Liveness", 1985); the
accuracy of failure detectors by Chandra & Toueg ("Unreliable Failure
Detectors for Reliable Distributed Systems", 1996).
"""

import json
import pathlib

from .core.errors import BadParameter
from .doors import REGISTRY, door_for
from .scenario import parse, replay, with_bugs

__all__ = ["bug_zoo", "compute_zoo", "load_bug", "zoo_markdown", "write_zoo", "Measure", "MEASURES",
           "CHAPTERS", "NOTEBOOKS", "ZOO_PATH", "PAGE_PATH"]

ROOT = pathlib.Path(__file__).resolve().parent
#: Where :func:`write_zoo` stores the computed records.
ZOO_PATH = ROOT / "presets" / "zoo.json"
#: The generated page (in the course's notebooks folder).
PAGE_PATH = ROOT.parent / "notebooks" / "bug_zoo.md"

#: The chapter that teaches each algorithm (CLI name -> chapter number).
CHAPTERS = {"broadcast": 0, "quorum-kv": 1, "heartbeat": 2, "phi": 2, "swim": 2, "wal": 3,
            "primary-backup": 3, "2pc": 4, "3pc": 4, "paxos": 5, "multipaxos": 5, "raft": 6, "raft-kv": 7,
            "pbft": 8}
#: Chapter number -> (notebook file, title), as in ``tools/chapters.py``.
NOTEBOOKS = {0: ("00_welcome.ipynb", "Welcome"), 1: ("01_concepts.ipynb", "Concepts"),
             2: ("02_failure_detection.ipynb", "Failure detection"),
             3: ("03_failure_recovery.ipynb", "Failure recovery"),
             4: ("04_transactions.ipynb", "Distributed transactions"), 5: ("05_paxos.ipynb", "Paxos"),
             6: ("06_raft.ipynb", "Raft"), 7: ("07_checking.ipynb", "Checking"),
             8: ("08_outlook_faq.ipynb", "Outlook and FAQ")}


# ================================================================================ measures
class Measure:
    """A quality measured on a finished run rather than asserted after every step.

    ``check(door)`` returns a list of findings (strings), empty when the run
    kept the quality.  The title reads like an invariant's: ``"Name: rule"``.
    """

    def __init__(self, title, check):
        self.title = title
        self.name = title.split(":")[0].strip()
        self._check = check

    def findings(self, door):
        """What the run did against this quality (a list of strings, empty if nothing)."""
        return self._check(door)

    def __repr__(self):
        return f"Measure({self.title!r})"


def _notes_about_running(door, text):
    """``(tick, node, member)`` of each ``text`` note about a member that had not crashed then."""
    up = {i: True for i in door.ids}
    found = []
    for event in door.trace:
        if event.kind == "crashed":
            up[event.node] = False
        elif event.kind == "restarted":
            up[event.node] = True
        elif event.kind == "note" and event["text"] == text:
            member = event["fields"].get("member")
            if up.get(member, False):
                found.append((event.tick, event.node, member))
    return found


def _false_suspicions(door):
    return [f"t={t}: {node} suspected {member}, which was running"
            for t, node, member in _notes_about_running(door, "suspect")]


def _false_deaths(door):
    return [f"t={t}: {node} declared {member} dead, which was running"
            for t, node, member in _notes_about_running(door, "confirm")]


ACCURACY = Measure("Accuracy: a monitor suspects only members that have crashed (measured, not asserted)",
                   _false_suspicions)
NO_FALSE_DEATH = Measure("No false death: no member that is running is declared dead (measured, not asserted)",
                         _false_deaths)
#: The measured qualities of each door (CLI name -> measures), beside its invariants and liveness checks.
MEASURES = {"heartbeat": (ACCURACY,), "phi": (ACCURACY,), "swim": (ACCURACY, NO_FALSE_DEATH)}


# ================================================================================ computing
def _doors():
    """The registered front doors, by CLI name (names starting with '_' are tests' own)."""
    return {name: REGISTRY[name] for name in sorted(REGISTRY) if not name.startswith("_")}


def _outcome(door_class, text, bugs):
    """Replay ``text`` with exactly ``bugs``; return ({broken check: (kind, title)}, every check's name in order)."""
    door = replay(with_bugs(text, list(bugs)), check=True, halt=False).door
    kinds = {inv.name: ("safety", inv.title) for inv in door.invariants}
    kinds.update({live.name: ("liveness", live.title) for live in door.liveness})
    broken = {}
    for event in door.violations:
        title = event["invariant"]
        name = title.split(":")[0].strip()
        broken[name] = kinds.get(name, ("safety", title))
    for measure in MEASURES.get(door_class.name, ()):
        if measure.findings(door):
            broken[measure.name] = ("measured", measure.title)
    order = [inv.name for inv in door.invariants] + [live.name for live in door.liveness] + \
        [m.name for m in MEASURES.get(door_class.name, ())]
    return broken, order


def _shows(header, base, buggy):
    """The checks a buggy replay breaks that the bug-free one keeps, if the preset shows the bug; else None."""
    if any(kind != "measured" for kind, _ in base.values()):
        return None                      # the preset breaks something without any bug: it isolates nothing
    caught = {name: value for name, value in buggy.items() if name not in base}
    if not caught:
        return None
    expect = header.get("expect")
    if expect and {n for n, (kind, _) in buggy.items() if kind != "measured"} != set(expect):
        return None                      # a demonstration of other invariants than these
    return caught


def _rank(name, script, bug):
    """Sort key among the presets that show ``bug``: named in the header, named after it, shortest."""
    return (list(script.header.get("bugs", [])) != [bug], name != bug.replace("-", "_"), len(script.commands),
            name)


def _parent(name, door_class, doors):
    """The registered door whose node class ``door_class``'s node class extends (``raft`` for ``raft-kv``)."""
    node = door_class.node_class
    for other, cls in doors.items():
        if other != name and cls.node_class is not node and issubclass(node, cls.node_class) and cls.bug_list():
            return other
    return None


def _record(name, bug, rule, preset, caught, order, also):
    chapter = CHAPTERS.get(name)
    notebook, title = NOTEBOOKS.get(chapter, (None, None))
    names = sorted(caught, key=lambda n: order.index(n) if n in order else len(order)) if caught else []
    kinds = {caught[n][0] for n in names}
    kind = "safety" if "safety" in kinds else "liveness" if "liveness" in kinds else \
        "measured" if kinds else None
    return {"algorithm": name, "bug": bug, "rule": rule, "kind": kind, "invariants": names,
            "statements": {n: caught[n][1] for n in names}, "preset": preset, "preset_algorithm": name,
            "inherited_from": None, "also": also, "chapter": chapter, "notebook": notebook, "chapter_title": title}


def compute_zoo():
    """Replay every preset of every registered door with each of its bugs; return the zoo's records.

    One record (a dict) per (door, bug), in chapter order, then by algorithm and bug: ``algorithm``
    (CLI name), ``bug``, ``rule`` (the bug's sentence), ``kind`` ("safety", "liveness" or
    "measured"; None if nothing shows the bug), ``invariants`` (the short names of the checks that
    catch it), ``statements`` (name -> the check's full sentence), ``preset`` (a preset that shows it,
    or None), ``preset_algorithm`` (whose preset: the door itself, or the one it inherits the bug
    from), ``inherited_from`` (None, or that door), ``also`` (other presets that show it),
    ``chapter``, ``notebook``, ``chapter_title``.  Takes a few seconds: :func:`bug_zoo` reads the stored
    result instead.
    """
    doors = _doors()
    records = {}
    inherited = []
    for name, cls in doors.items():
        bugs = cls.bug_list()
        if not bugs:
            continue
        parent = _parent(name, cls, doors)
        own = {bug: rule for bug, rule in bugs.items()
               if parent is None or doors[parent].bug_list().get(bug) != rule}
        inherited += [(name, bug, parent) for bug in bugs if bug not in own]
        found = {bug: [] for bug in own}
        order = []
        for preset, text in cls.presets().items():
            script = parse(text)
            base, order = _outcome(cls, text, [])
            if any(kind != "measured" for kind, _ in base.values()):
                continue
            for bug in own:
                caught = _shows(script.header, base, _outcome(cls, text, [bug])[0])
                if caught is not None:
                    found[bug].append((_rank(preset, script, bug), preset, caught))
        for bug, rule in own.items():
            shown = sorted(found[bug], key=lambda item: item[0])
            preset, caught = (shown[0][1], shown[0][2]) if shown else (None, {})
            records[name, bug] = _record(name, bug, rule, preset, caught, order, [p for _, p, _ in shown[1:]])
    for name, bug, parent in inherited:
        row = dict(records[parent, bug])
        chapter = CHAPTERS.get(name)
        notebook, title = NOTEBOOKS.get(chapter, (None, None))
        row.update(algorithm=name, inherited_from=parent, chapter=chapter, notebook=notebook,
                   chapter_title=title, rule=doors[name].bug_list()[bug])
        records[name, bug] = row
    key = lambda r: (r["chapter"] if r["chapter"] is not None else 99, r["algorithm"], r["bug"])  # noqa: E731
    return sorted(records.values(), key=key)


# ================================================================================ reading
def bug_zoo(path=None):
    """The bug zoo: one record per named bug of every registered door (read from the stored file).

    Each record is a dict as :func:`compute_zoo` describes, plus ``script``: the text of its preset
    with the bug switched on, ready to replay (``fttoolkit.scenario.replay``), to load into a door
    (``door.load(script)``) or to save.  Open one in the cluster view with
    ``load_bug(algorithm, bug).show()``.

    Examples
    --------
    >>> zoo = bug_zoo()
    >>> len(zoo) == sum(len(cls.bug_list()) for name, cls in REGISTRY.items() if not name.startswith("_"))
    True
    >>> [r["bug"] for r in zoo if r["algorithm"] == "wal"]
    ['ack-before-force', 'no-checksum', 'redo-not-idempotent']
    """
    path = pathlib.Path(path) if path is not None else ZOO_PATH
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadParameter(f"cannot read the bug zoo {str(path)!r} ({exc.strerror}); "
                           f"build it with: python tools/build_zoo.py") from None
    for record in records:
        record["script"] = _script(record)
    return records


def _script(record):
    if record["preset"] is None:
        return None
    presets = door_for(record["preset_algorithm"]).presets()
    text = presets.get(record["preset"])
    return None if text is None else with_bugs(text, [record["bug"]])


def load_bug(algorithm, bug, records=None):
    """A front door with ``bug``'s preset replayed, the bug switched on: ``load_bug("raft", "figure8").show()``.

    For a bug a door inherits (``raft-kv``'s ``figure8``), the door is the one whose preset shows it
    (a :class:`fttoolkit.Raft`).  Raises :class:`fttoolkit.core.errors.BadParameter` for an unknown
    algorithm or bug, and for a bug no preset shows.

    Examples
    --------
    >>> door = load_bug("2pc", "decide-before-log")
    >>> type(door).__name__, list(door.sim.bugs)
    ('DistributedTransaction', ['decide-before-log'])
    """
    records = bug_zoo() if records is None else records
    door_for(algorithm)                               # a clear error for an unknown algorithm
    row = next((r for r in records if r["algorithm"] == algorithm and r["bug"] == bug), None)
    if row is None:
        known = ", ".join(r["bug"] for r in records if r["algorithm"] == algorithm) or "none"
        raise BadParameter(f"unknown bug {bug!r} for {algorithm}; its bugs: {known}")
    if row["preset"] is None:
        raise BadParameter(f"no preset shows the bug {bug!r} of {algorithm} yet")
    return door_for(row["preset_algorithm"])().load_preset(row["preset"], [bug])


# ================================================================================ the page
def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _caught_by(row):
    names = ", ".join(row["invariants"]) or "**nothing yet**"
    return names if row["kind"] in ("safety", None) else f"{names} ({row['kind']})"


def _inherited_text(records):
    """`` (raft-kv also has raft's 5, its code being raft's)`` for the doors that inherit bugs."""
    pairs = {}
    for r in records:
        if r["inherited_from"] is not None:
            pairs.setdefault((r["algorithm"], r["inherited_from"]), []).append(r["bug"])
    if not pairs:
        return ""
    parts = [f"{child} also has {parent}'s {len(bugs)}, running {parent}'s code"
             for (child, parent), bugs in sorted(pairs.items())]
    return f" ({len(records)} counting inherited ones: " + "; ".join(parts) + ")"


def zoo_markdown(records=None):
    """The bug zoo page (Markdown) for ``records`` (default: the stored ones), as ``tools/build_zoo.py`` writes it."""
    records = bug_zoo() if records is None else records
    own = [r for r in records if r["inherited_from"] is None]
    heirs = {}
    for r in records:
        if r["inherited_from"] is not None:
            heirs.setdefault((r["inherited_from"], r["bug"]), []).append(r["algorithm"])
    doors = _doors()
    algorithms = sorted({r["algorithm"] for r in records})
    kinds = {k: sum(1 for r in own if r["kind"] == k) for k in ("safety", "liveness", "measured")}
    lines = [
        "# The bug zoo (缺陷动物园)",
        "",
        "<!-- Generated by tools/build_zoo.py from fttoolkit.zoo.bug_zoo(); do not edit by hand. -->",
        "",
        f"Every algorithm of the course can be built with classic mistakes switched on. This page lists all "
        f"{len(own)} of them, across {len(algorithms)} algorithms{_inherited_text(records)}. For each bug: "
        f"the rule it breaks, the check that catches it, a preset scenario that shows it, and the chapter "
        f"that teaches it.",
        "",
        f"- **Safety (安全性)** bugs ({kinds['safety']}) break an **invariant (不变量)**: a property checked "
        f"after every step, true in every reachable state (\"nothing bad happens\").",
        f"- **Liveness (活性)** bugs ({kinds['liveness']}) break nothing at any single step, but the cluster "
        f"never gets anywhere: a liveness check, run once the faults have stopped (the script command "
        f"`check liveness`), fails.",
        f"- **Measured** bugs ({kinds['measured']}) spoil a quality the course measures rather than asserts: "
        f"the **accuracy (准确性)** of a failure detector, which no detector can promise in an asynchronous "
        f"system (Chapter 2).",
        "",
        "Everything here is computed from the code: `fttoolkit.zoo.compute_zoo()` replays every preset "
        "with every bug, and a preset *shows* a bug when it breaks a check with the bug switched on and "
        "nothing without it. `tests/test_bug_zoo.py` recomputes the table, so it cannot go stale, and fails "
        "if a bug has no preset that catches it.",
        "",
        "## Open one",
        "",
        "Load a bug's preset with the bug switched on, and watch it break in the cluster view:",
        "",
        "```python",
        "from fttoolkit import Raft",
        "Raft().load_preset(\"figure8_d\", [\"figure8\"]).show()",
        "",
        "from fttoolkit.zoo import bug_zoo, load_bug",
        "load_bug(\"2pc\", \"decide-before-log\").show()     # any row of the table",
        "zoo = bug_zoo()                                  # the table as records; each has its script",
        "```",
        "",
        "From a terminal, replay a preset with `python -m fttoolkit replay fttoolkit/presets/raft/figure8_d.txt` "
        "(the presets in the table that name their bug replay it as they are; for the others, add a line "
        "`bugs NAME` after `algorithm`).",
        "",
        "## Fuzz one",
        "",
        "The **fuzzer (模糊测试)** tries random fault schedules with a bug switched on, and **shrinks (缩减)** "
        "the first failing one to the few steps that matter, a script you can replay and narrate:",
        "",
        "```",
        "python -m fttoolkit fuzz raft --bug forget-vote --faults crash --seeds 300 --save found.txt",
        "python -m fttoolkit replay found.txt",
        "```",
        "",
        "It replays the presets first (some schedules, like Figure 8, are too precise for random search). "
        "Chapter 7 explains fuzzing and shrinking, and model checking of small configurations.",
        "",
        "## The table",
        "",
        "| Bug | Algorithm | The mistake (the rule it breaks) | Caught by | Preset that shows it | Chapter |",
        "|---|---|---|---|---|---|",
    ]
    for r in own:
        algorithm = r["algorithm"]
        also_in = heirs.get((algorithm, r["bug"]), [])
        if also_in:
            algorithm += " (also " + ", ".join(also_in) + ")"
        if r["preset"] is None:
            preset = "**none yet**"
        else:
            folder = r["preset_algorithm"]
            preset = f"[`{r['preset']}`](../fttoolkit/presets/{folder}/{r['preset']}.txt)"
            if r["also"]:
                preset += "; also " + ", ".join(f"`{p}`" for p in r["also"])
        chapter = f"[Chapter {r['chapter']}]({r['notebook']})" if r["notebook"] else ""
        lines.append(f"| `{r['bug']}` | {_cell(algorithm)} | {_cell(r['rule'])} | {_cell(_caught_by(r))} | "
                     f"{preset} | {chapter} |")
    lines += ["", "The front doors, by algorithm: " + ", ".join(
        f"`{name}` {doors[name].__name__}" for name in algorithms if name in doors) + "."]
    return "\n".join(lines) + "\n"


def write_zoo(records=None):
    """Compute the zoo (unless ``records`` are given) and write ``zoo.json`` and the page; return the records."""
    records = compute_zoo() if records is None else records
    stored = [{k: v for k, v in r.items() if k != "script"} for r in records]
    ZOO_PATH.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    PAGE_PATH.write_text(zoo_markdown(bug_zoo()), encoding="utf-8")
    return stored
