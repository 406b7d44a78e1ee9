"""The course's frame: every chapter opens with objectives, a time and the glossary, and ends with
where to go next; local links resolve; every Chinese term the chapters use is in the glossary."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
GLOSSARY = NOTEBOOKS / "glossary.md"
CJK = re.compile(r"[\u4e00-\u9fff]")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def markdown_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 5, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_objectives_time_and_glossary(path):
    first = markdown_cells(path)[0]
    assert first.startswith(f"# Chapter {int(path.name[:2])} — ")
    assert "You will learn" in first or "In this chapter you will" in first
    assert re.search(r"Estimated time: \d+ minutes", first)
    assert "](glossary.md)" in first


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_ends_with_exercises_and_the_next_existing_chapter(path):
    last = markdown_cells(path)[-1]
    assert last.startswith("## Where next")
    exercises = ROOT / "exercises" / path.name
    if exercises.exists():
        assert f"](../exercises/{path.name})" in last
    else:
        assert "](../exercises/README.md)" in last
    later = [p for p in CHAPTERS if p.name > path.name]
    target = later[0].name if later else CHAPTERS[0].name
    assert f"]({target})" in last, f"{path.name} should lead on to {target}"


@pytest.mark.parametrize("path", CHAPTERS + [GLOSSARY], ids=lambda p: p.stem)
def test_local_links_resolve(path):
    text = "\n".join(markdown_cells(path)) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (path.parent / target.split("#")[0]).exists(), f"{path.name} links to missing {target}"


def test_every_chinese_term_of_the_chapters_is_in_the_glossary():
    glossary = GLOSSARY.read_text(encoding="utf-8")
    missing = set()
    for path in CHAPTERS:
        for text in markdown_cells(path):
            for inside in re.findall(r"\(([^()]*)\)", text):
                for word in re.split(r"[,，、;/ ]+", inside):
                    if CJK.search(word) and word not in glossary:
                        missing.add((path.name, word))
    assert not missing, sorted(missing)


def test_glossary_check_catches_a_term_it_lacks(tmp_path):
    # the check above must be able to fail: a chapter using a term the glossary lacks
    text = "**fencing (隔离栅栏)**"
    words = [w for inside in re.findall(r"\(([^()]*)\)", text) for w in re.split(r"[,，、;/ ]+", inside)]
    assert any(CJK.search(w) and w not in GLOSSARY.read_text(encoding="utf-8") for w in words)


def guide_presets():
    """(algorithm, preset) pairs named in the instructor guide's numbered lists under "Algorithm `name`"."""
    pairs, algorithm = [], None
    for line in (NOTEBOOKS / "instructor_guide.md").read_text(encoding="utf-8").splitlines():
        found = re.match(r"Algorithm `([\w-]+)`", line)
        if found:
            algorithm = found.group(1)
        elif line.startswith("## "):
            algorithm = None
        elif algorithm and re.match(r"\d+\. ", line):
            for name in re.findall(r"`([a-z0-9_]+)`", line):
                pairs.append((algorithm, name))
    return pairs


def test_instructor_guide_names_real_presets_and_every_story_preset():
    from fttoolkit.doors import REGISTRY
    named = guide_presets()
    for algorithm, name in named:
        presets = REGISTRY[algorithm].presets()
        assert name in presets or name in REGISTRY[algorithm].node_class.bugs, \
            f"the guide names {name!r} for {algorithm}, which has no such preset"
    # every preset that tells a story without a bug switched on is in the guide
    for algorithm, door in REGISTRY.items():
        for name in sorted(door.story_presets()):
            assert (algorithm, name) in named, f"the guide does not show {algorithm}'s preset {name!r}"


def test_readme_links_the_guide_the_glossary_and_the_zoo():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("notebooks/instructor_guide.md", "notebooks/glossary.md", "notebooks/bug_zoo.md"):
        assert f"]({page})" in readme
