"""The bug zoo (fttoolkit.zoo): every named bug of every front door has a preset that catches it.

(a) the stored records (``fttoolkit/presets/zoo.json``) equal a fresh computation, and hold every bug
of every registered door, nothing else; (b) for every bug, its preset replayed with the bug breaks the
recorded checks and replayed without it breaks nothing, so a bug without a catching preset fails here;
(c) the page ``notebooks/bug_zoo.md`` is the one generated from the records.  Regenerate both files
with ``python tools/build_zoo.py``.
"""

import functools
import json
import pathlib
import sys

import pytest

from fttoolkit.core.errors import BadParameter
from fttoolkit.doors import REGISTRY, HeartbeatDetection, SwimDetection
from fttoolkit.scenario import parse, replay, with_bugs
from fttoolkit.zoo import (CHAPTERS, MEASURES, NOTEBOOKS, PAGE_PATH, ZOO_PATH, bug_zoo, compute_zoo, load_bug,
                           zoo_markdown)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def doors():
    return {name: cls for name, cls in REGISTRY.items() if not name.startswith("_")}


@functools.lru_cache(maxsize=None)
def zoo():
    return tuple(bug_zoo())


def own_rows():
    return [r for r in zoo() if r["inherited_from"] is None]


def short(event):
    return event["invariant"].split(":")[0].strip()


def broken(door, algorithm):
    """Every check the run broke: invariants and liveness checks (trace violations) and measures."""
    names = {short(v) for v in door.violations}
    names |= {m.name for m in MEASURES.get(algorithm, ()) if m.findings(door)}
    return names


# ----------------------------------------------------------------------- (a) the stored data
def test_the_stored_zoo_equals_a_fresh_computation():
    stored = json.loads(ZOO_PATH.read_text(encoding="utf-8"))
    assert compute_zoo() == stored, "the bug zoo is stale: run python tools/build_zoo.py"


def test_every_bug_of_every_door_is_in_the_zoo_once_and_nothing_else():
    expected = {(name, bug): rule for name, cls in doors().items() for bug, rule in cls.bug_list().items()}
    rows = {(r["algorithm"], r["bug"]): r["rule"] for r in zoo()}
    assert len(rows) == len(zoo())
    assert rows == expected
    assert len(expected) >= 44


def test_every_bug_has_a_preset_checks_a_kind_and_a_chapter():
    for r in zoo():
        where = f"{r['algorithm']}:{r['bug']}"
        assert r["preset"] is not None, f"no preset shows {where}: write one (see fttoolkit/zoo.py)"
        assert r["invariants"] and r["kind"] in ("safety", "liveness", "measured"), where
        assert set(r["statements"]) == set(r["invariants"]), where
        assert r["script"] is not None and parse(r["script"]).header["bugs"] == [r["bug"]], where
        assert r["chapter"] == CHAPTERS[r["algorithm"]] and r["notebook"] == NOTEBOOKS[r["chapter"]][0], where


def test_a_bug_a_preset_names_is_shown_by_that_preset():
    named = {(name, bug): preset for name, cls in doors().items() for preset, text in cls.presets().items()
             for bug in parse(text).header.get("bugs", [])}
    for r in own_rows():
        if (r["algorithm"], r["bug"]) in named:
            assert r["preset"] == named[r["algorithm"], r["bug"]], r
            text = doors()[r["algorithm"]].presets()[r["preset"]]
            assert r["bug"] in text.split("\nbugs ", 1)[1] and text.count("\n#") >= 3, r   # narrated


def test_an_inherited_bug_points_at_the_same_code_and_its_row():
    rows = {(r["algorithm"], r["bug"]): r for r in zoo()}
    inherited = [r for r in zoo() if r["inherited_from"] is not None]
    assert {(r["algorithm"], r["inherited_from"]) for r in inherited} == {("raft-kv", "raft")}
    for r in inherited:
        child, parent = doors()[r["algorithm"]], doors()[r["inherited_from"]]
        assert issubclass(child.node_class, parent.node_class)
        assert child.bug_list()[r["bug"]] == parent.bug_list()[r["bug"]]
        source = rows[r["inherited_from"], r["bug"]]
        assert (r["preset"], r["preset_algorithm"], r["invariants"]) == \
            (source["preset"], r["inherited_from"], source["invariants"])


def test_the_chapters_match_the_course_list():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from chapters import CHAPTERS as COURSE
    finally:
        sys.path.pop(0)
    assert {number: f"{stem}.ipynb" for number, stem, _ in COURSE} == {n: nb for n, (nb, _) in NOTEBOOKS.items()}
    assert set(CHAPTERS) >= set(doors())


# ----------------------------------------------------------------------- (b) a catching test per bug
@pytest.mark.parametrize("row", own_rows(), ids=lambda r: f"{r['algorithm']}:{r['bug']}")
def test_the_preset_catches_the_bug_and_only_the_bug(row):
    door_class = doors()[row["algorithm"]]
    text = door_class.presets()[row["preset"]]
    buggy = replay(with_bugs(text, [row["bug"]]))
    assert set(row["invariants"]) <= broken(buggy.door, row["algorithm"]), row["bug"]
    if parse(text).header.get("expect"):              # a demonstration breaks exactly what it says
        assert {short(v) for v in buggy.violations} == set(parse(text).header["expect"])
    clean = replay(with_bugs(text, []))
    assert clean.door.violations == [], [v.describe() for v in clean.door.violations]
    assert not set(row["invariants"]) & broken(clean.door, row["algorithm"])


def test_the_kinds_are_the_kinds_of_the_checks():
    for r in own_rows():
        door = replay(r["script"]).door
        safety, live = {i.name for i in door.invariants}, {c.name for c in door.liveness}
        if r["kind"] == "safety":
            assert set(r["invariants"]) & safety, r
        elif r["kind"] == "liveness":
            assert set(r["invariants"]) <= live and "check liveness" in r["script"], r
        else:
            assert not set(r["invariants"]) & (safety | live), r
    kinds = {(r["algorithm"], r["bug"]): r["kind"] for r in own_rows()}
    assert kinds["raft", "fixed-timeout"] == "liveness" and kinds["heartbeat", "timeout-below-interval"] == "measured"


def test_the_measures_flag_mistakes_about_running_members_only():
    crashed = HeartbeatDetection(nodes=3, seed=1)
    crashed.crash("n3", at=200)
    crashed.run(until=500)
    assert crashed.suspects()["n1"] == ["n3"]                   # a crash is suspected: no mistake
    assert [m.findings(crashed) for m in MEASURES["heartbeat"]] == [[]]
    hasty = HeartbeatDetection(nodes=3, seed=1, bugs=["timeout-below-interval"])
    hasty.run(until=100)
    assert MEASURES["heartbeat"][0].findings(hasty)[0].endswith("which was running")
    swim = SwimDetection(nodes=4, seed=2)
    swim.run(until=300)
    swim.crash("n4")
    swim.run(until=swim.now + swim.completeness_bound())
    assert set(swim.dead()["n1"]) == {"n4"} and all(m.findings(swim) == [] for m in MEASURES["swim"])


# ----------------------------------------------------------------------- (c) the page
def test_the_page_is_generated_from_the_data():
    page = PAGE_PATH.read_text(encoding="utf-8")
    assert page == zoo_markdown(list(zoo())), "notebooks/bug_zoo.md is stale: run python tools/build_zoo.py"
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) == len(own_rows())
    assert '[Chapter 6](06_raft.ipynb)' in page and 'Raft().load_preset("figure8_d", ["figure8"]).show()' in page
    assert "fuzz" in page and "不变量" in page


# ----------------------------------------------------------------------- opening one
def test_load_bug_opens_the_preset_with_the_bug():
    door = load_bug("raft-kv", "figure8")                      # inherited: Raft's preset, Raft's door
    assert type(door).__name__ == "Raft" and list(door.sim.bugs) == ["figure8"]
    assert short(door.violations[0]) == "Leader Completeness"
    with pytest.raises(BadParameter, match="unknown bug 'figure9' for raft; its bugs: ack-before-persist"):
        load_bug("raft", "figure9")
    with pytest.raises(BadParameter, match="unknown algorithm 'rafts'"):
        load_bug("rafts", "figure8")
    with pytest.raises(BadParameter, match="cannot read the bug zoo"):
        bug_zoo(ROOT / "no-such-zoo.json")
