"""Exports of a run: the offline HTML player, the animated GIF, the PNG of the current moment.

The browser test opens an exported file in Debian's Chromium with every network request aborted
(skipped when Chromium or Playwright is missing, except under CI=true).
"""

import base64
import contextlib
import html.parser
import io
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import lab_harness as harness
from fttoolkit import Broadcast, Raft
from fttoolkit.core.errors import BadParameter
from fttoolkit.scenario import replay
from fttoolkit.viz.export import export_gif, export_html, export_png, quantize, replay_frames
from fttoolkit.viz.render import ClusterPicture

PNG_URI = "data:image/png;base64,"


# ------------------------------------------------------------------------------------------ runs
def small_raft():
    """Three Raft nodes, an election and two commands: about 600 ticks, no narration."""
    door = Raft(nodes=3, seed=1)
    door.run(until=300)
    door.submit(("put", "x", 1))
    door.run(until=450)
    door.submit(("put", "y", 2))
    door.run(until=600)
    return door


@pytest.fixture(scope="module")
def raft():
    return small_raft()


@pytest.fixture(scope="module")
def figure8():
    return replay(Raft.presets()["figure8_d"]).door


def narrations_in_log(sim):
    return [e.args[0].strip() for e in sim.log if e.name == "narrate"]


def where(sim):
    """Everything that says where a run is on its timeline."""
    return dict(steps=sim.steps, now=sim.now, events=len(sim.trace), total=sim.total_steps,
                future=sim.has_future, narration=sim.narration())


# ------------------------------------------------------------------------------- HTML helpers
class Links(html.parser.HTMLParser):
    """Every src and href attribute of a page, and the text of its scripts by id."""

    def __init__(self):
        super().__init__()
        self.links, self.scripts, self._script = [], {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [(tag, name, attrs[name]) for name in ("src", "href") if name in attrs]
        if tag == "script":
            self._script = attrs.get("id", f"script{len(self.scripts)}")
            self.scripts[self._script] = ""

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def read_page(path):
    """(text, parser, frames, pictures, narrations) of an exported page; pictures as decoded PNGs."""
    text = path.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(text)
    data = json.loads(parser.scripts["ftt-data"])
    first = next(value for tag, name, value in parser.links if tag == "img" and name == "src")
    pictures = [Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_URI):]))) for uri in [first] + data["images"]]
    return text, parser, data["frames"], pictures, data["narrations"]


# ====================================================================================== HTML
def test_html_is_self_contained_and_embeds_every_frame(raft, tmp_path):
    path = export_html(raft, tmp_path / "raft.html", max_frames=16)
    assert path == tmp_path / "raft.html"
    text, parser, frames, pictures, _ = read_page(path)
    assert parser.links, "the picture should have its first frame as src"
    for tag, name, value in parser.links:
        assert value.startswith(PNG_URI) or value == "#", (tag, name, value[:40])
    assert "http://" not in text and "https://" not in text
    outside_data = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert "//" not in outside_data and "url(" not in outside_data and "@import" not in outside_data
    expected = list(replay_frames(raft, max_frames=16))
    assert len(frames) == len(expected) >= 10
    assert [(f[1], f[2]) for f in frames] == [(f.step, f.tick) for f in expected]
    assert text.count(PNG_URI) == len(pictures) == len({f[0] for f in frames})   # each picture once
    size = ClusterPicture(raft.sim).size
    for picture in pictures:
        assert picture.format == "PNG" and picture.size == size and picture.mode == "P"
    assert "algorithm raft" in text and "seed 1" in text and "bugs: none" in text


def test_html_frames_are_the_rewound_pictures(raft, tmp_path):
    _, _, frames, pictures, _ = read_page(export_html(raft, tmp_path / "raft.html", max_frames=12))
    expected = list(replay_frames(raft, max_frames=12))
    for (image, step, tick, _), frame in zip(frames, expected):
        quantized = np.asarray(quantize(frame.rgba).convert("RGB"))
        assert np.array_equal(np.asarray(pictures[image].convert("RGB")), quantized), (step, tick)


def test_replay_frames_are_moments_of_the_rewound_run(raft):
    sim = raft.sim
    before = where(sim)
    frames = list(replay_frames(raft, max_frames=20))
    assert where(sim) == before
    assert 10 <= len(frames) <= 20
    assert frames[0].tick == 0 and frames[-1].step == sim.total_steps and frames[-1].tick == sim.now
    assert all(a.step <= b.step and a.tick <= b.tick for a, b in zip(frames, frames[1:]))
    assert len({(f.step, f.tick) for f in frames}) == len(frames)
    # A picture draws the diagram's message lines in the order it first met their kinds, so a
    # fresh one draws the same moments in the same order.
    picture = ClusterPicture(sim)
    try:
        for frame in frames:
            sim.rewind(frame.step)
            assert frame.rgba.shape == (780, 900, 4)
            assert np.array_equal(picture.draw(at=frame.tick), frame.rgba), (frame.step, frame.tick)
    finally:
        sim.rewind(sim.total_steps)
    assert where(sim) == before


def test_a_window_of_steps(raft):
    frames = list(replay_frames(raft, start=40, end=120, max_frames=8))
    assert 2 <= len(frames) <= 8
    assert all(40 <= f.step <= 120 for f in frames)
    assert frames[0].tick == raft.sim.step_tick(40) and frames[-1].step == 120


def test_the_narration_of_figure8_shows_and_changes(figure8, tmp_path):
    told = narrations_in_log(figure8.sim)
    assert len(told) == 8
    text, _, frames, _, narrations = read_page(export_html(figure8, tmp_path / "figure8.html", max_frames=40))
    assert len(frames) <= 40
    shown = [narrations[f[3]] for f in frames]
    assert set(told) <= set(shown), "a narration line was skipped"
    assert sum(a != b for a, b in zip(shown, shown[1:])) == len(told) - 1
    assert "Figure 8 of Ongaro &amp; Ousterhout" not in text     # in the JSON, not as markup ...
    assert "Figure 8 of Ongaro & Ousterhout" in text           # ... shown by textContent


def test_each_narration_is_that_of_its_moment(figure8):
    sim = figure8.sim
    before = where(sim)
    frames = list(replay_frames(figure8, max_frames=30))
    assert where(sim) == before
    changes = [f for a, f in zip(frames, frames[1:]) if f.narration != a.narration]
    try:
        for frame in changes:
            sim.rewind(frame.step)
            assert sim.narration() == frame.narration
    finally:
        sim.rewind(sim.total_steps)
    assert where(sim) == before


# ======================================================================================= GIF
def gif_frames(path):
    with Image.open(path) as gif:
        info = dict(gif.info)
        durations, pictures = [], []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
            pictures.append(np.asarray(gif.convert("RGB")))
    return info, durations, pictures


def test_gif_loops_with_one_frame_per_moment(raft, tmp_path):
    path = export_gif(raft, tmp_path / "raft.gif", max_frames=12, fps=5)
    info, durations, pictures = gif_frames(path)
    expected = list(replay_frames(raft, max_frames=12))
    assert info["loop"] == 0
    assert len(pictures) == len(expected)        # every moment differs: no frame merged
    assert durations == [200] * len(expected)
    assert pictures[0].shape == (780, 900, 3)   # no narration: no caption band
    for picture, frame in ((pictures[0], expected[0]), (pictures[-1], expected[-1])):
        same = (picture == frame.rgba[:, :, :3]).all(axis=2)
        assert same.mean() > 0.98                # the flat colours exactly, edges within a palette


def test_gif_writes_the_narration_in_a_band(figure8, tmp_path):
    path = export_gif(figure8, tmp_path / "figure8.gif", max_frames=20, fps=10)
    _, durations, pictures = gif_frames(path)
    frames = list(replay_frames(figure8, max_frames=20))
    runs = 1 + sum(not (a.narration == b.narration and np.array_equal(a.rgba, b.rgba))
                   for a, b in zip(frames, frames[1:]))
    assert len(pictures) == runs and sum(durations) == 100 * len(frames)
    width, height = ClusterPicture(figure8.sim).size
    band = pictures[0].shape[0] - height
    assert pictures[0].shape[1] == width and 60 <= band <= 200
    assert runs == len(frames)                        # every tick differs: no frame merged
    for picture, frame in zip(pictures, frames):
        error = np.abs(picture[band:].astype(int) - frame.rgba[:, :, :3]).sum(axis=2)
        assert (error == 0).mean() > 0.95 and error.mean() < 1.5
    first = pictures[0][:band]
    assert (first != first[0, 0]).any(axis=2).mean() > 0.01        # ink in the band
    told = [k for k, (a, b) in enumerate(zip(frames, frames[1:])) if a.narration != b.narration]
    assert told and not np.array_equal(pictures[told[0]][:band], pictures[told[0] + 1][:band])


def test_gif_frames_that_change_nothing_only_last_longer():
    from fttoolkit.viz.export import _GifWriter
    a = np.full((3, 4, 4), 255, np.uint8)
    b = a.copy()
    b[1, 2, :3] = (0, 114, 178)
    gif = _GifWriter(4, 3, delay=30)
    for frame in (a, a, b, b, b, a):
        gif.add(frame)
    long = _GifWriter(4, 3, delay=40000)              # twice 400 s: more than a GIF's longest delay
    for frame in (a, a):
        long.add(frame)
    with Image.open(io.BytesIO(gif.finish())) as image, Image.open(io.BytesIO(long.finish())) as other:
        durations, pictures = [], []
        for k in range(image.n_frames):
            image.seek(k)
            durations.append(image.info["duration"])
            pictures.append(np.asarray(image.convert("RGB")))
        assert other.n_frames == 2
    assert durations == [600, 900, 300]
    for picture, frame in zip(pictures, (a, b, a)):
        assert np.array_equal(picture, frame[:, :, :3])


# ======================================================================================= PNG
def test_png_is_the_current_moment(raft, tmp_path):
    path = export_png(raft, tmp_path / "now.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (900, 780)
        pixels = np.asarray(image.convert("RGB"))
    assert np.array_equal(pixels, ClusterPicture(raft.sim).draw()[:, :, :3])


def test_a_view_exports_with_its_own_picture(tmp_path):
    from fttoolkit.viz.view import ClusterView
    door = Broadcast(nodes=3, seed=2)
    door.broadcast("n1", "hi")
    door.run(until=60)
    view = ClusterView(door, width=600, graph_height=400, diagram_height=0)
    assert view.picture.size == (600, 400)
    with Image.open(export_png(view, tmp_path / "view.png")) as image:
        assert image.size == (600, 400)
    _, _, frames, pictures, _ = read_page(export_html(view, tmp_path / "view.html", max_frames=6))
    assert {p.size for p in pictures} == {(600, 400)} and 2 <= len(frames) <= 6
    with Image.open(export_gif(view, tmp_path / "view.gif", max_frames=6)) as gif:
        assert gif.size == (600, 400)
    assert door.sim.now == 60 and not door.sim.has_future


def test_a_bare_simulation_exports(raft, tmp_path):
    path = export_html(raft.sim, tmp_path / "sim.html", max_frames=4, title="A <bare> run")
    text, _, frames, _, _ = read_page(path)
    assert "<title>A &lt;bare&gt; run</title>" in text and 2 <= len(frames) <= 4


# ================================================================ the run is left where it was
def test_the_run_is_left_at_the_present(tmp_path):
    door, twin = small_raft(), small_raft()
    calls = []
    door.sim.rewind_hooks.append(lambda sim: calls.append(sim.steps))
    before = where(door.sim)
    export_html(door, tmp_path / "a.html", max_frames=8)
    export_gif(door, tmp_path / "a.gif", max_frames=8)
    gen = replay_frames(door, max_frames=8)
    next(gen)
    assert door.sim.has_future                  # rewound while the frames are made ...
    gen.close()
    assert where(door.sim) == before            # ... and put back when the iteration stops
    assert calls == [before["steps"]] * 3       # hooks hear once per export: the way back
    door.run(until=900)                         # and it goes on exactly like a run never exported
    twin.run(until=900)
    assert [(e.tick, e.kind, e.node) for e in door.trace] == [(e.tick, e.kind, e.node) for e in twin.trace]


def test_the_run_is_left_in_the_past(tmp_path):
    door = small_raft()
    present = where(door.sim)
    door.sim.rewind(60)
    before = where(door.sim)
    assert before["future"] and before["steps"] == 60
    export_html(door, tmp_path / "past.html", max_frames=6)
    export_gif(door, tmp_path / "past.gif", max_frames=6)
    assert where(door.sim) == before
    door.sim.rewind(door.sim.total_steps)
    assert where(door.sim) == present


def test_same_run_same_bytes(tmp_path):
    door, twin = small_raft(), small_raft()
    html_a = export_html(door, tmp_path / "a.html", max_frames=6).read_bytes()
    html_b = export_html(door, tmp_path / "b.html", max_frames=6).read_bytes()
    html_c = export_html(twin, tmp_path / "c.html", max_frames=6).read_bytes()
    assert html_a == html_b == html_c
    gif_a = export_gif(door, tmp_path / "a.gif", max_frames=6).read_bytes()
    gif_b = export_gif(twin, tmp_path / "b.gif", max_frames=6).read_bytes()
    assert gif_a == gif_b


def test_same_run_same_bytes_in_another_process(tmp_path):
    code = ("import hashlib, pathlib, sys; sys.path.insert(0, sys.argv[1]); import test_export as t; "
            "from fttoolkit.viz.export import export_html; "
            "path = export_html(t.small_raft(), pathlib.Path(sys.argv[2]), max_frames=8); "
            "print(hashlib.sha256(path.read_bytes()).hexdigest())")
    digests = set()
    for seed in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", code, str(pathlib.Path(__file__).parent),
                              str(tmp_path / f"{seed}.html")], capture_output=True, text=True, check=True,
                             env=dict(os.environ, PYTHONHASHSEED=seed))
        digests.add(out.stdout.strip())
    assert len(digests) == 1


# ==================================================================================== errors
@pytest.mark.parametrize("kwargs, words", [
    ({"max_frames": 1}, "max_frames must be a whole number from 2"),
    ({"max_frames": "ten"}, "max_frames must be a whole number"),
    ({"max_frames": True}, "max_frames must be a whole number"),
    ({"start": -1}, "start must be a whole number from 0 to"),
    ({"end": 10**6}, "end must be a whole number from 0 to"),
    ({"start": 30, "end": 30}, "start must come before end"),
    ({"start": 2.5}, "start must be a whole number"),
])
def test_bad_frame_choices_are_refused(raft, tmp_path, kwargs, words):
    for export in (export_html, export_gif):
        with pytest.raises(BadParameter, match=words):
            export(raft, tmp_path / "x", **kwargs)
    with pytest.raises(BadParameter, match=words):
        replay_frames(raft, **kwargs)
    assert not raft.sim.has_future and list(tmp_path.iterdir()) == []


def test_bad_targets_paths_and_speeds_are_refused(raft, tmp_path):
    with pytest.raises(BadParameter, match="front door .* or a Simulation; got int"):
        export_html(42, tmp_path / "x.html")
    with pytest.raises(BadParameter, match="got str"):
        export_png("raft", tmp_path / "x.png")
    with pytest.raises(BadParameter, match="does not exist"):
        export_html(raft, tmp_path / "missing" / "x.html")
    with pytest.raises(BadParameter, match="is a folder"):
        export_gif(raft, tmp_path)
    with pytest.raises(BadParameter, match="file name"):
        export_png(raft, 3)
    for fps in (0, 0.05, -2, 51, "fast", None, True):
        with pytest.raises(BadParameter, match="fps must be a number of frames a second from 0.1 to 50"):
            export_gif(raft, tmp_path / "x.gif", fps=fps)
    with pytest.raises(BadParameter, match="title must be text"):
        export_html(raft, tmp_path / "x.html", title=7)
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_steps_has_nothing_to_replay(tmp_path):
    door = Broadcast(nodes=3, seed=1)
    with pytest.raises(BadParameter, match="no steps yet"):
        export_html(door, tmp_path / "x.html")
    assert export_png(door, tmp_path / "start.png").stat().st_size > 1000


# =================================================================================== browser
def test_the_player_works_offline_in_chromium(raft, tmp_path):
    harness.require_browser()
    path = export_html(raft, tmp_path / "raft.html", max_frames=12)
    blocked, page_errors = [], []

    def only_local(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with harness.browser(tmp_path) as context:
        context.route("**/*", only_local)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        try:
            page.goto(path.as_uri())
            page.wait_for_function("document.getElementById('ftt-step').textContent !== ''", timeout=5000)

            def state():
                return page.evaluate("[document.getElementById('ftt-frame').src,"
                                     " document.getElementById('ftt-step').textContent,"
                                     " document.getElementById('ftt-count').textContent]")

            first = state()
            assert first[0].startswith(PNG_URI) and first[2] == "frame 1 of 12"
            assert re.fullmatch(r"step \d+ \u00b7 t = \d+", first[1])
            page.click("#ftt-forward")
            second = state()
            assert second[0] != first[0] and second[1] != first[1] and second[2] == "frame 2 of 12"
            page.keyboard.press("ArrowRight")
            third = state()
            assert third[0] != second[0] and third[1] != second[1] and third[2] == "frame 3 of 12"
            page.keyboard.press("ArrowLeft")
            assert state() == second
            page.keyboard.press("End")
            assert state()[2] == "frame 12 of 12"
            page.keyboard.press("Home")
            assert state() == first
            page.select_option("#ftt-speed", "20")
            page.click("#ftt-play")
            assert page.get_attribute("#ftt-play", "aria-pressed") == "true"
            page.wait_for_function("document.getElementById('ftt-count').textContent === 'frame 6 of 12'",
                                   timeout=5000)
            page.keyboard.press(" ")                            # space pauses
            assert page.get_attribute("#ftt-play", "aria-pressed") == "false"
            paused = state()
            page.wait_for_timeout(300)
            assert state() == paused and paused != first
            page.eval_on_selector("#ftt-scrub", "e => { e.value = '9'; e.dispatchEvent(new Event('input')); }")
            assert state()[2] == "frame 10 of 12"
        finally:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "player.png"))
    assert page_errors == [] and blocked == []
