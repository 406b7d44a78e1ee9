"""Export a run: an offline HTML player, an animated GIF, or a PNG of the current moment.

* :func:`export_html` writes one self-contained HTML file that replays the
  run in any browser, opened from disk: every frame is embedded as a PNG
  ``data:`` URI and a small hand-written player (no library, no network)
  shows them, with the narration of each moment above the picture.
* :func:`export_gif` writes an animated GIF of the same frames, with the
  narration drawn into a caption band above the picture.
* :func:`export_png` writes the current frame as a PNG file.

The frames come from :func:`replay_frames`: up to ``max_frames`` moments
evenly spread over the run's simulated time, plus every moment at which the
narration changes.  The run is rewound to each moment in turn (time travel,
see :meth:`fttoolkit.sim.Simulation.rewind`) and put back exactly where it
was afterwards.  The same run gives the same bytes every time: nothing in
the files depends on the wall clock.

Examples
--------
>>> import pathlib, tempfile
>>> from fttoolkit import Broadcast
>>> cluster = Broadcast(nodes=3, seed=1)
>>> cluster.broadcast("n1", "hi")
>>> _ = cluster.run(until=40)
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> export_html(cluster, folder / "run.html", max_frames=5).name
'run.html'
>>> [(f.step, f.tick) for f in replay_frames(cluster, max_frames=5)]
[(5, 0), (17, 10), (23, 20), (25, 40)]
"""

import base64
import html
import io
import json
import os
import pathlib
import struct
from collections import namedtuple

import numpy as np
from PIL import GifImagePlugin, Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from ..core.errors import BadParameter
from ..sim.simulation import Simulation
from .render import ClusterPicture
from .style import INK

__all__ = ["export_html", "export_gif", "export_png", "replay_frames", "Frame", "quantize"]

#: One frame of a replay: the picture after ``step`` steps at tick ``tick``, and the narration then.
Frame = namedtuple("Frame", "step tick narration rgba")

MAX_FRAMES = 5000          # more would make files of hundreds of megabytes
MIN_FPS, MAX_FPS = 0.1, 50  # GIF delays are whole hundredths of a second; browsers slow down those under 2
_CAPTION_LINES = 6         # narration beyond this many lines is cut short with an ellipsis
_CAPTION_BACKGROUND = (0xF4, 0xF1, 0xE8)


# ================================================================================== targets
def _sim_and_picture(target):
    """The simulation of ``target`` and the picture to draw it with (a view's own, or a new one)."""
    if isinstance(target, Simulation):
        return target, None
    sim = getattr(target, "sim", None)
    if not isinstance(sim, Simulation):
        raise BadParameter(
            f"can only export a cluster view, a front door (such as fttoolkit.Raft(...)) or a Simulation; "
            f"got {type(target).__name__}")
    picture = getattr(target, "picture", None)       # a ClusterView keeps its own picture
    if isinstance(picture, ClusterPicture) and picture.sim is sim:
        return sim, picture
    return sim, None


def _whole(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return value


def _step_range(sim, start, end):
    """Check ``start`` and ``end`` (steps of the recorded timeline); fill in the defaults."""
    total = sim.total_steps
    if total == 0:
        raise BadParameter("the run has no steps yet, so there is nothing to replay; run it first "
                           "(export_png draws the current moment)")
    start = 0 if start is None else _whole("start", start, 0, total)
    end = total if end is None else _whole("end", end, 0, total)
    if start >= end:
        raise BadParameter(f"start must come before end (steps 0 to {total} of this run); "
                           f"got start={start}, end={end}")
    return start, end


def _output_path(path):
    """``path`` as a :class:`pathlib.Path` in a folder that exists."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise BadParameter(f"path must be a file name (a str or pathlib.Path); got {path!r}")
    path = pathlib.Path(path)
    if path.is_dir():
        raise BadParameter(f"{path} is a folder; give the name of the file to write in it")
    if not path.parent.is_dir():
        raise BadParameter(f"the folder {path.parent} does not exist; create it first or write elsewhere")
    return path


def _write(path, data):
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise BadParameter(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


# ============================================================================== the frames
def replay_frames(target, start=None, end=None, max_frames=240):
    """The frames of a replay of steps ``start .. end``, as :class:`Frame` tuples, in order.

    Up to ``max_frames`` moments are taken evenly in simulated time from
    the tick of step ``start`` to the end (the moment after step ``end``);
    every moment at which the narration changes gets a frame too (within
    the same total).  Each frame is the picture of the run rewound to
    ``step`` and drawn at ``tick``; ``rgba`` is an ``(h, w, 4)`` uint8 copy.
    Moments that would draw the same picture (same step, same tick) are
    given once.

    The run is rewound to each frame's step while the frames are made and
    put back where it was when the iteration ends (or the generator is
    closed); checks of the arguments happen at once.

    Parameters
    ----------
    target : ClusterView, front door or Simulation
    start, end : int, optional
        Steps of the recorded timeline (default: the whole of it).
    max_frames : int
        At most this many frames (2 to 5000).

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1, delay=10)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run(until=30)
    >>> [(f.step, f.tick) for f in replay_frames(cluster, max_frames=4)]
    [(5, 0), (17, 10), (23, 20), (25, 30)]
    >>> cluster.sim.now, cluster.sim.has_future
    (30, False)
    """
    sim, picture = _sim_and_picture(target)
    start, end = _step_range(sim, start, end)
    _whole("max_frames", max_frames, 2, MAX_FRAMES)
    return _frames(sim, picture, start, end, max_frames)


def _frames(sim, picture, start, end, max_frames):
    steps, hooks, lent = sim.steps, sim.rewind_hooks, picture
    sim.rewind_hooks = []        # observers hear of one rewind only: the one back to where the run was
    try:
        moments = _moments(sim, start, end, max_frames)
        picture = picture or ClusterPicture(sim)
        last = None
        for step, tick in moments:
            sim.rewind(step)
            tick = max(tick, sim.now)
            if (step, tick) == last:
                continue
            last = (step, tick)
            yield Frame(step, tick, sim.narration(), picture.draw(at=tick).copy())
    finally:
        sim.rewind_hooks = hooks
        sim.rewind(steps)
        if lent is not None:     # a view's picture: leave it drawn at the current moment, as it was
            lent.draw()


def _moments(sim, start, end, max_frames):
    """The ``(step, tick)`` moments to draw, in order (the run is left rewound somewhere)."""
    told = sorted({e.at_step for e in sim.log if e.name == "narrate" and start <= e.at_step <= end})
    told = _spread(told, max_frames - 2)
    moments = set()
    for step in told:                          # just after the narration is given
        sim.rewind(step)
        moments.add((step, sim.now))
    sim.rewind(end)
    first, last = sim.step_tick(start), sim.now
    count = max_frames - len(told)
    for k in range(count):
        tick = first + (last - first) * k // (count - 1)
        moments.add((min(sim.steps_until(tick), end), tick))
    return sorted(moments)


def _spread(items, count):
    """``count`` of ``items`` spread evenly, the first and the last included.

    >>> _spread(list(range(10)), 4), _spread([1, 2], 5), _spread([1, 2, 3], 1)
    ([0, 3, 6, 9], [1, 2], [1])
    """
    if len(items) <= count:
        return list(items)
    if count <= 1:
        return list(items[:count])
    return [items[(len(items) - 1) * k // (count - 1)] for k in range(count)]


# =========================================================================== compression
def quantize(rgba, colours=256, method="coverage"):
    """The frame as a Pillow palette image (mode ``"P"``) of at most ``colours`` colours.

    The pictures are flat colours with anti-aliased edges; neither method
    dithers (dithering noise would compress badly).

    * ``"coverage"``: Pillow's max-coverage quantizer; the smallest PNGs,
      flat colours within a few levels.
    * ``"frequent"``: the ``colours`` most frequent colours exactly, every
      other colour (an edge pixel) as the nearest of them.  Flat colours stay
      exact, so the unchanged parts of consecutive frames are the same
      pixels, which is what makes GIF frames small.

    Examples
    --------
    >>> frame = np.full((4, 6, 4), 255, np.uint8); frame[1, 2, :3] = (213, 94, 0); frame[2, 2, :3] = 250
    >>> image = quantize(frame)
    >>> image.mode, image.size, sorted(c for _, c in image.convert("RGB").getcolors())
    ('P', (6, 4), [(213, 94, 0), (250, 250, 250), (255, 255, 255)])
    >>> sorted(c for _, c in quantize(frame, 2, "frequent").convert("RGB").getcolors())
    [(213, 94, 0), (255, 255, 255)]
    """
    _whole("colours", colours, 2, 256)
    if method == "coverage":
        image = Image.fromarray(np.ascontiguousarray(rgba[:, :, :3]))
        return image.quantize(colours, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    if method != "frequent":
        raise BadParameter(f"method must be 'coverage' or 'frequent'; got {method!r}")
    index, palette = _frequent_colours(rgba, colours)
    image = Image.fromarray(index)                   # mode "L" at once ...
    image.putpalette(palette.tobytes())               # ... "P" with the palette
    return image


def _frequent_colours(rgba, colours):
    """The ``colours`` most frequent colours of ``rgba`` and every pixel's index among them.

    Returns ``(index, palette)``: an ``(h, w)`` uint8 array and an ``(n, 3)``
    uint8 array, most frequent first (ties by colour, so the same frame
    always gives the same palette).
    """
    keys = np.ascontiguousarray(rgba).view("<u4")[:, :, 0] & 0xFFFFFF      # r | g << 8 | b << 16
    found, counts = np.unique(keys, return_counts=True)
    found = found[np.lexsort((found, -counts.astype(np.int64)))]
    palette = _rgb_of(found[:colours])
    index = np.arange(len(found))
    if len(found) > colours:                         # the rest (edge pixels): the nearest palette colour
        rest = _rgb_of(found[colours:])
        distance = np.zeros((len(rest), len(palette)), np.int32)
        for channel in range(3):
            distance += (rest[:, None, channel] - palette[None, :, channel]) ** 2
        index[colours:] = distance.argmin(axis=1)
    lookup = np.empty(1 << 24, np.uint8)             # only the pages of the colours found get touched
    lookup[found] = index
    return lookup[keys], palette.astype(np.uint8)


def _rgb_of(keys):
    """Colours packed as ``r | g << 8 | b << 16`` as an ``(n, 3)`` int32 array."""
    return np.stack([keys & 255, (keys >> 8) & 255, keys >> 16], axis=1).astype(np.int32)


def _png(image):
    # zlib level 6 rather than optimize=True: five times faster to write, files ~7% larger
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


# ================================================================================= the PNG
def export_png(target, path):
    """Write the current moment of ``target`` as a PNG file; return its path.

    The picture is the one the view shows (a view's own picture, same size
    and look), losslessly compressed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1)
    >>> path = export_png(cluster, pathlib.Path(tempfile.mkdtemp()) / "now.png")
    >>> path.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    sim, picture = _sim_and_picture(target)
    path = _output_path(path)
    picture = picture or ClusterPicture(sim)
    image = Image.fromarray(np.ascontiguousarray(picture.draw()[:, :, :3]), "RGB")
    return _write(path, _png(image))


# ================================================================================= the GIF
def export_gif(target, path, start=None, end=None, max_frames=240, fps=10):
    """Write an animated GIF of the run (looping, ``fps`` frames a second); return its path.

    The frames are those of :func:`replay_frames`; the narration of each
    moment is written in a band above the picture (no band when the run
    has no narration).  A frame that is the same as the one before is kept
    once, shown for as long as both.

    Parameters
    ----------
    target : ClusterView, front door or Simulation
    path : str or pathlib.Path
    start, end : int, optional
        Steps of the recorded timeline (default: all of it).
    max_frames : int
        At most this many frames (2 to 5000).
    fps : float
        Frames a second, from 0.1 to 50.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run(until=40)
    >>> path = export_gif(cluster, pathlib.Path(tempfile.mkdtemp()) / "run.gif", max_frames=5)
    >>> with Image.open(path) as gif:
    ...     gif.n_frames, gif.size, gif.info["loop"]
    (4, (900, 780), 0)
    """
    sim, picture = _sim_and_picture(target)
    path = _output_path(path)
    start, end = _step_range(sim, start, end)
    _whole("max_frames", max_frames, 2, MAX_FRAMES)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not MIN_FPS <= fps <= MAX_FPS:
        raise BadParameter(f"fps must be a number of frames a second from {MIN_FPS} to {MAX_FPS}; got {fps!r}")
    picture = picture or ClusterPicture(sim)
    caption = _Caption(picture.size[0], picture.scale, _narrations(sim, start, end))
    width, height = picture.size
    gif = _GifWriter(width, height + caption.height, delay=max(1, round(100 / fps)))
    for frame in _frames(sim, picture, start, end, max_frames):
        rgba = frame.rgba
        if caption.height:
            rgba = np.concatenate([caption.band(frame.narration), rgba], axis=0)
        gif.add(rgba)
    return _write(path, gif.finish())


class _GifWriter:
    """An animated GIF, written one frame at a time (so memory holds one frame, not the whole film).

    Each frame gets the 255 most frequent colours of its own picture,
    exactly (a local colour table); after the first, only the box of pixels
    that changed is written, the unchanged ones in it transparent over the
    frame before (disposal 1).  A frame that changes nothing only makes the
    one before last longer.  Pillow encodes the pixels (LZW).
    """

    def __init__(self, width, height, delay):
        self.delay = delay                   # hundredths of a second per frame
        self.out = io.BytesIO()
        self.out.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0))   # no global colour table
        self.out.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00")      # loop forever
        self.shown = None                    # what is on screen: packed colours
        self.pending = None                  # the last frame, written once its delay is known

    def add(self, rgba):
        index, palette = _frequent_colours(rgba, 255)
        packed = palette.astype(np.uint32) @ np.array([1, 1 << 8, 1 << 16], np.uint32)
        colours = packed[index]
        box, clear = (0, 0), None                       # the first frame: all of it, opaque
        if self.shown is not None:
            changed = colours != self.shown
            if not changed.any():
                if self.pending[3] + self.delay <= 0xFFFF:        # the longest delay a GIF can say
                    self.pending[3] += self.delay
                    return
                changed[0, 0] = True                  # else: a new frame that repeats one pixel
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            box, index = (int(x0), int(y0)), index[y0:y1, x0:x1].copy()
            clear = len(palette)                     # the first free entry: "leave the pixel as it is"
            index[~changed[y0:y1, x0:x1]] = clear
        self._flush()
        self.pending = [index, palette, box, self.delay, clear]
        self.shown = colours

    def _flush(self):
        if self.pending is None:
            return
        index, palette, box, delay, clear = self.pending
        image = Image.fromarray(index)
        # one spare (black) entry, so the table always has room for the transparent index
        image.putpalette(palette.tobytes() + b"\0\0\0")
        params = dict(duration=delay * 10, disposal=1, include_color_table=True)
        if clear is not None:
            params["transparency"] = clear
        self.out.write(b"".join(GifImagePlugin.getdata(image, box, **params)))

    def finish(self):
        """The whole file, as bytes."""
        self._flush()
        self.pending = None
        return self.out.getvalue() + b";"


def _narrations(sim, start, end):
    """Every narration that a replay of steps ``start .. end`` may show."""
    said = [(e.at_step, e.args[0] if e.args else e.kwargs["text"]) for e in sim.log if e.name == "narrate"]
    texts = {text.strip() for at, text in said if start <= at <= end}
    before = [text.strip() for at, text in said if at < start]
    return texts | set(before[-1:])


class _Caption:
    """The narration band of the GIF frames: wrapped lines of DejaVu Sans, drawn by Agg.

    Its height fits the longest of ``texts`` (up to six lines); 0 when there is none.
    """

    def __init__(self, width, scale, texts, size=11):
        self.width, self.scale = width, scale
        dpi = 100 * scale
        self.fig = Figure(figsize=(width / dpi, 1), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.font = FontProperties(family="DejaVu Sans", size=size)
        self.pad = 10 * scale
        self.line = round(size * 1.45 * dpi / 72)
        self._renderer = self.canvas.get_renderer()
        lines = max([len(self.wrap(t)) for t in texts if t] or [0])
        self.height = lines and self.line * lines + 2 * self.pad
        self._bands = {}

    def _text_width(self, text):
        return self._renderer.get_text_width_height_descent(text, self.font, ismath=False)[0]

    def wrap(self, text):
        """``text`` in lines that fit the band's width (at most six; the last cut short with an ellipsis)."""
        room = self.width - 2 * self.pad
        lines, line = [], ""
        for word in text.split():
            candidate = f"{line} {word}" if line else word
            if line and self._text_width(candidate) > room:
                lines.append(line)
                line = word
            else:
                line = candidate
        if line:
            lines.append(line)
        if len(lines) > _CAPTION_LINES:
            lines = lines[:_CAPTION_LINES]
            last = lines[-1]
            while last and self._text_width(last + " \u2026") > room:
                last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
            lines[-1] = last + " \u2026"
        return lines

    def band(self, text):
        """The band for ``text`` as an ``(height, width, 4)`` uint8 array (kept for the next frames)."""
        band = self._bands.get(text)
        if band is None:
            band = np.empty((self.height, self.width, 4), np.uint8)
            band[:, :, :3] = _CAPTION_BACKGROUND
            band[:, :, 3] = 255
            band[-self.scale:, :, :3] = 0xD8            # a thin rule between the band and the picture
            fig = self.fig
            fig.set_size_inches(self.width / fig.dpi, self.height / fig.dpi)
            fig.clear()
            fig.patch.set_alpha(0)
            for k, line in enumerate(self.wrap(text)):
                top = self.pad + k * self.line
                fig.text(self.pad / self.width, 1 - top / self.height, line, fontproperties=self.font,
                         color=INK, va="top", ha="left", parse_math=False)
            self.canvas.draw()
            ink = np.asarray(self.canvas.buffer_rgba())
            alpha = ink[:, :, 3:4].astype(np.uint16)
            band[:, :, :3] = (ink[:, :, :3] * alpha + band[:, :, :3] * (255 - alpha) + 127) // 255
            self._bands[text] = band
        return band


# ================================================================================ the HTML
def export_html(target, path, start=None, end=None, max_frames=240, title=None):
    """Write a self-contained HTML file that replays the run offline; return its path.

    The file needs no server, no kernel and no network: every frame is a
    palette PNG in a ``data:`` URI (a picture that repeats is stored once)
    and the player is a few lines of plain JavaScript.  It has Play/Pause,
    one frame back and forward, a slider to scrub, a speed menu (frames a
    second), and keys: space plays or pauses, the left and right arrows
    step, Home and End go to the first and last frame.  Each frame shows its
    narration above the picture and a status line ``step S · t = T``.

    Parameters
    ----------
    target : ClusterView, front door or Simulation
    path : str or pathlib.Path
    start, end : int, optional
        Steps of the recorded timeline (default: all of it).
    max_frames : int
        At most this many frames (2 to 5000).
    title : str, optional
        The page's title (default: the algorithm's name and "replay").

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run(until=40)
    >>> path = export_html(cluster, pathlib.Path(tempfile.mkdtemp()) / "run.html", max_frames=5)
    >>> text = path.read_text(encoding="utf-8")
    >>> text.count("data:image/png;base64,"), "http" in text
    (4, False)
    """
    sim, picture = _sim_and_picture(target)
    path = _output_path(path)
    start, end = _step_range(sim, start, end)
    _whole("max_frames", max_frames, 2, MAX_FRAMES)
    if title is not None and not isinstance(title, str):
        raise BadParameter(f"title must be text; got {title!r}")
    picture = picture or ClusterPicture(sim)
    images, image_index, narrations, narration_index, frames = [], {}, [], {}, []
    for frame in _frames(sim, picture, start, end, max_frames):
        png = _png(quantize(frame.rgba))
        if png not in image_index:
            image_index[png] = len(images)
            images.append("data:image/png;base64," + base64.b64encode(png).decode("ascii"))
        text = frame.narration
        if text not in narration_index:
            narration_index[text] = len(narrations)
            narrations.append(text)
        frames.append([image_index[png], frame.step, frame.tick, narration_index[text]])
    data = {"images": images, "frames": frames, "narrations": narrations}
    page = _page(sim, picture, title or f"{sim.name} replay", data, start, end)
    return _write(path, page.encode("utf-8"))


def _page(sim, picture, title, data, start, end):
    width, height = picture.width, picture.height       # CSS pixels: sharp at any scale
    frames = data["frames"]
    bugs = ", ".join(sim.bugs) if sim.bugs else "none"
    facts = (f"algorithm {sim.name} \u00b7 seed {sim.seed} \u00b7 bugs: {bugs} \u00b7 "
             f"{len(sim.ids)} nodes \u00b7 steps {start}\u2013{end}, t = {frames[0][2]}\u2013{frames[-1][2]} "
             f"\u00b7 {len(frames)} frames")
    first, *rest = data["images"]
    payload = json.dumps(dict(data, images=rest), separators=(",", ":")).replace("<", "\\u003c")
    esc = html.escape
    return _TEMPLATE.format(title=esc(title), facts=esc(facts), width=width, height=height, first=first,
                            last=len(frames) - 1, data=payload, script=_PLAYER,
                            style=_STYLE.replace("{width}", str(width)))


_STYLE = """
body { margin: 16px; font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 2px; }
.facts { margin: 0 0 10px; color: #555; font-size: 14px; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 0 0 6px; }
.controls button { font-size: 14px; min-width: 44px; padding: 4px 10px; }
#ftt-play { min-width: 76px; }
#ftt-scrub { flex: 1 1 240px; max-width: 520px; }
.status { font: 600 14px ui-monospace, "DejaVu Sans Mono", monospace; margin: 0 0 6px; }
.status .count { color: #777; font-weight: 400; margin-left: 12px; }
.narration { box-sizing: border-box; max-width: {width}px; margin: 0 0 8px; padding: 6px 10px;
             background: #F4F1E8; border-left: 4px solid #E69F00; font-size: 15px; line-height: 1.4; }
.keys { color: #777; font-size: 12px; margin: 6px 0 0; }
#ftt-frame { display: block; max-width: none; image-rendering: auto; border: 1px solid #DDD; }
"""

# Plain ES5, no library.  Frames are [image, step, tick, narration]; the images are data: URIs.
_PLAYER = """
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var data = JSON.parse($("ftt-data").textContent);
  var img = $("ftt-frame"), step = $("ftt-step"), count = $("ftt-count"), told = $("ftt-narration");
  /* the first picture is the img's own src, so that it shows even without JavaScript */
  var images = [img.getAttribute("src")].concat(data.images);
  var frames = data.frames, narrations = data.narrations;
  var play = $("ftt-play"), back = $("ftt-back"), forward = $("ftt-forward");
  var scrub = $("ftt-scrub"), speed = $("ftt-speed");
  var index = -1, timer = null;

  function show(i) {
    i = Math.max(0, Math.min(frames.length - 1, i));
    if (i === index) { return; }
    index = i;
    var f = frames[i], text = narrations[f[3]];
    img.src = images[f[0]];
    step.textContent = "step " + f[1] + " \\u00b7 t = " + f[2];
    count.textContent = "frame " + (i + 1) + " of " + frames.length;
    if (told.textContent !== text) { told.textContent = text; }
    told.style.visibility = text ? "visible" : "hidden";
    scrub.value = String(i);
  }
  /* room for the longest narration, so that the picture stays put while it plays */
  function reserve() {
    var most = 0, shown = told.textContent;
    told.style.minHeight = "";
    narrations.forEach(function (text) {
      if (text) { told.textContent = text; most = Math.max(most, told.offsetHeight); }
    });
    told.textContent = shown;
    told.style.minHeight = most + "px";
    told.style.display = most ? "" : "none";
  }
  function playing() { return timer !== null; }
  function pause() {
    if (playing()) { clearInterval(timer); timer = null; }
    play.textContent = "Play";
    play.setAttribute("aria-pressed", "false");
  }
  function next() {
    if (index >= frames.length - 1) { pause(); } else { show(index + 1); }
  }
  function start() {
    if (playing()) { clearInterval(timer); }
    if (index >= frames.length - 1) { show(0); }
    timer = setInterval(next, 1000 / Number(speed.value));
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
  }
  function toggle() { if (playing()) { pause(); } else { start(); } }
  function by(delta) { pause(); show(index + delta); }

  play.addEventListener("click", toggle);
  back.addEventListener("click", function () { by(-1); });
  forward.addEventListener("click", function () { by(1); });
  scrub.addEventListener("input", function () { pause(); show(Number(scrub.value)); });
  speed.addEventListener("change", function () { if (playing()) { start(); } speed.blur(); });
  /* a click on a button leaves the keyboard focus where it was, so the keys keep working */
  [play, back, forward].forEach(function (b) {
    b.addEventListener("mousedown", function (e) { e.preventDefault(); });
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target, tag = t && t.tagName;
    if (e.altKey || e.ctrlKey || e.metaKey || tag === "SELECT") { return; }
    if (tag === "BUTTON" && (e.key === " " || e.key === "Enter")) { return; }
    if (t === scrub && e.key !== " ") { return; }
    if (e.key === " ") { toggle(); }
    else if (e.key === "ArrowLeft") { by(-1); }
    else if (e.key === "ArrowRight") { by(1); }
    else if (e.key === "Home") { pause(); show(0); }
    else if (e.key === "End") { pause(); show(frames.length - 1); }
    else { return; }
    e.preventDefault();
  });
  window.addEventListener("resize", reserve);
  show(0);
  reserve();
}());
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<h1>{title}</h1>
<p class="facts">{facts}</p>
<div class="controls" role="toolbar" aria-label="replay controls">
<button id="ftt-back" type="button" title="back one frame (left arrow)" aria-label="back one frame">&#9664;</button>
<button id="ftt-play" type="button" title="play or pause (space)" aria-pressed="false">Play</button>
<button id="ftt-forward" type="button" title="forward one frame (right arrow)"
 aria-label="forward one frame">&#9654;</button>
<input id="ftt-scrub" type="range" min="0" max="{last}" value="0" step="1" aria-label="frame">
<label>speed <select id="ftt-speed" title="frames a second">
<option value="1">1 frame/s</option><option value="2">2 frames/s</option><option value="5">5 frames/s</option>
<option value="10" selected>10 frames/s</option><option value="20">20 frames/s</option>
<option value="30">30 frames/s</option></select></label>
</div>
<div class="status" aria-live="off"><span id="ftt-step"></span><span class="count" id="ftt-count"></span></div>
<p id="ftt-narration" class="narration"></p>
<img id="ftt-frame" width="{width}" height="{height}" src="{first}"
 alt="the cluster and its space-time diagram at this moment">
<noscript><p>Only the first picture shows: the player needs JavaScript.</p></noscript>
<p class="keys">Keys: space plays or pauses; &larr; and &rarr; step one frame; Home and End go to the first and
the last frame.</p>
<script id="ftt-data" type="application/json">{data}</script>
<script>{script}</script>
</body>
</html>
"""
