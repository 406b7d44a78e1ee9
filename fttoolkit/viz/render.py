"""Turning scenes into pixels: the cluster picture and the space-time diagram.

:class:`ClusterPicture` draws frames of a fixed pixel size, fast enough to
animate: the parts that never change are drawn once and kept as a
background; each frame restores it, draws the moving parts (collections,
one per kind of mark) on the Agg canvas, stamps the text labels from a cache
of pre-rendered sprites, and encodes a PNG.  :func:`spacetime` draws a
standalone Lamport diagram of any window of a trace as an ordinary
matplotlib figure.  Both take a ``theme`` (:class:`~fttoolkit.viz.style.Theme`,
``"default"`` or ``"lecture"``) that carries every size and colour.

Examples
--------
>>> from fttoolkit import Broadcast
>>> cluster = Broadcast(nodes=3, seed=1)
>>> cluster.broadcast("n1", "hi")
>>> _ = cluster.run(until=8)
>>> picture = ClusterPicture(cluster.sim)
>>> png = picture.render_png()
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", picture.size
(True, (900, 780))
"""

import gc
import math
import struct
import zlib

import numpy as np
from matplotlib import patheffects, rcParams
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.transforms import IdentityTransform

from ..core.errors import BadParameter
from .adapters import adapter_for
from .scene import TraceIndex, diagram_of, scene_of
from .style import INK, TypeStyles, theme_for

__all__ = ["ClusterPicture", "spacetime", "encode_png", "SpriteCache"]

_LINK_STYLES = {   # state -> (the theme's colour for it, linestyle, width in points of the default look)
    "ok": ("link", "solid", 1.6),
    "down": ("link_down", (0, (1, 3)), 1.4),
    "cut": ("wrong", (0, (6, 4)), 1.6),
    "oneway": ("wrong", (0, (6, 3, 1, 3)), 1.6),
    "clogged": ("clogged", (0, (1, 2)), 3.2),
}
_DIAGRAM_LINES = {   # message status -> linestyle in the space-time diagram
    "delivered": "solid", "copy": (0, (5, 2, 1, 2)), "lost": (0, (4, 3)), "in flight": (0, (1, 2)),
}
_LOSS_WORDS = {"loss": "lost", "partition": "cut", "crashed": "to crashed", "manual": "dropped",
               "no link": "no link"}


def _link_styles(theme):
    """Link state -> (colour, linestyle, width in points) in ``theme``."""
    return {state: (getattr(theme, colour), style, theme.line(width))
            for state, (colour, style, width) in _LINK_STYLES.items()}


def encode_png(rgba, compress_level=1):
    """Encode an ``(h, w, 4)`` uint8 RGBA array as a PNG, fast: no filtering, zlib level 1.

    Keeping the alpha channel costs a little more compression but saves the
    slow strided copy that dropping it would need.

    Examples
    --------
    >>> png = encode_png(np.full((2, 3, 4), 255, np.uint8))
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", struct.unpack(">II", png[16:24])
    (True, (3, 2))
    """
    h, w = rgba.shape[:2]
    raw = np.empty((h, w * 4 + 1), np.uint8)
    raw[:, 0] = 0                               # filter type "none" on every row
    raw[:, 1:] = rgba.reshape(h, w * 4)

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, compress_level)) + chunk(b"IEND", b""))


class SpriteCache:
    """Text labels rendered once by Agg and kept as small RGBA images.

    Drawing a text artist costs about half a millisecond; stamping a cached
    sprite costs a few microseconds, and the pixels are the same.
    """

    def __init__(self, dpi=100, limit=4000, inches=(8, 1.2)):
        self.dpi = dpi
        self.limit = limit
        self._cache = {}
        self._fig = Figure(figsize=inches, dpi=dpi)     # a label's widest sprite: what fits in there
        self._fig.patch.set_alpha(0)
        self._canvas = FigureCanvasAgg(self._fig)

    def get(self, text, size=11, colour=INK, weight="normal", box=None, line=False, box_width=1, halo=None):
        """Return the RGBA sprite (an ``(h, w, 4)`` array) for a label; ``box`` is a fill colour.

        With ``line=True`` the sprite keeps the full height of a line of that
        font, so that pieces stamped side by side share one baseline.
        ``box_width`` is the width of the box's outline in points; ``halo``
        ``(width in points, colour)`` outlines the letters, to keep them
        readable over lines.
        """
        key = (text, size, colour, weight, box, line, box_width, halo)
        sprite = self._cache.get(key)
        if sprite is None:
            if len(self._cache) >= self.limit:
                self._cache.clear()
            rgba = self._render(text, size, colour, weight, box, box_width, halo)
            rows = (self._line_rows(size, weight) if line
                    else np.flatnonzero(rgba[:, :, 3].any(axis=1)))
            cols = np.flatnonzero(rgba[:, :, 3].any(axis=0))
            sprite = (rgba[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].copy() if len(cols)
                      else np.zeros((1, 1, 4), np.uint8))
            self._cache[key] = sprite
        return sprite

    def _render(self, text, size, colour, weight, box, box_width=1, halo=None):
        bbox = None if box is None else dict(boxstyle="round,pad=0.25", fc=box, ec=colour, lw=box_width)
        artist = self._fig.text(0.01, 0.5, text, fontsize=size, color=colour, weight=weight,
                                va="baseline", ha="left", bbox=bbox, path_effects=_halo(halo))
        self._canvas.draw()
        artist.remove()
        return np.asarray(self._canvas.buffer_rgba()).copy()

    def _line_rows(self, size, weight):
        key = ("\0line", size, weight)
        rows = self._cache.get(key)
        if rows is None:
            rgba = self._render("\u00c5gjpq|0", size, INK, weight, None)
            rows = np.flatnonzero(rgba[:, :, 3].any(axis=1))
            rows = np.arange(rows[0], rows[-1] + 1)
            self._cache[key] = rows
        return rows


def _halo(halo):
    """Path effects that outline letters: ``halo`` is ``(width in points, colour)`` or None."""
    if halo is None:
        return []
    width, colour = halo
    return [patheffects.withStroke(linewidth=width, foreground=colour)]


def _stamp(frame, sprite, x, y, ha="center", va="center"):
    """Alpha-blend ``sprite`` into ``frame`` (an RGBA array, rows from the top) at pixel (x, y)."""
    h, w = sprite.shape[:2]
    x0 = int(round(x - (w / 2 if ha == "center" else w if ha == "right" else 0)))
    y0 = int(round(y - (h / 2 if va == "center" else h if va == "bottom" else 0)))
    H, W = frame.shape[:2]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(W, x0 + w), min(H, y0 + h)
    x0, y0 = max(x0, 0), max(y0, 0)
    if x1 <= x0 or y1 <= y0:
        return
    src = sprite[sy0:sy0 + (y1 - y0), sx0:sx0 + (x1 - x0)]
    dst = frame[y0:y1, x0:x1, :3]
    alpha = src[:, :, 3:4].astype(np.uint16)
    dst[...] = (src[:, :, :3] * alpha + dst * (255 - alpha) + 127) // 255


class _Labels:
    """Where labels go: queued as sprites (live frames) or made text artists (static figures)."""

    def __init__(self, ax, sprites=None, scale=1, box_width=1, halo=None):
        self.ax = ax
        self.sprites = sprites
        self.scale = scale         # device pixels per layout pixel (offsets are given in layout pixels)
        self.box_width = box_width  # outline of boxed labels, in points
        self.halo = halo           # (width, colour) of the outline of labels added with halo=True
        self.queue = []
        self.artists = []

    def clear(self):
        self.queue = []
        for artist in self.artists:
            artist.remove()
        self.artists = []

    def add(self, x, y, text, coords="data", size=11, colour=INK, weight="normal", box=None,
            ha="center", va="center", dx=0, dy=0, halo=False):
        """A label at (x, y) in data or axes coordinates, shifted by (dx, dy) pixels (dy up).

        ``halo``: outline the letters as this layer says (keeps them readable over lines).
        """
        halo = self.halo if halo else None
        if self.sprites is not None:
            transform = self.ax.transData if coords == "data" else self.ax.transAxes
            px, py = transform.transform((x, y))
            self.queue.append((px + dx * self.scale, py + dy * self.scale, text, size, colour, weight, box, ha, va,
                               halo))
        else:
            from matplotlib.transforms import offset_copy
            base = self.ax.transData if coords == "data" else self.ax.transAxes
            transform = offset_copy(base, fig=self.ax.figure, x=dx, y=dy, units="dots") if dx or dy else base
            bbox = None if box is None else dict(boxstyle="round,pad=0.25", fc=box, ec=colour, lw=self.box_width)
            self.artists.append(self.ax.text(x, y, text, fontsize=size, color=colour, weight=weight,
                                             ha=ha, va=va, bbox=bbox, transform=transform, clip_on=False,
                                             path_effects=_halo(halo)))

    def add_run(self, x, y, pieces, coords="data", size=11, colour=INK, weight="normal"):
        """A one-line label made of ``pieces``, left-aligned, its top at (x, y).

        Numbers are stamped digit by digit in equal cells, so a counter that
        changes every frame (a tick, a step) needs no new sprite.
        """
        if self.sprites is None:
            self.add(x, y, "".join(pieces), coords, size, colour, weight, ha="left", va="top")
            return
        transform = self.ax.transData if coords == "data" else self.ax.transAxes
        px, py = transform.transform((x, y))
        self.queue.append((px, py, tuple(pieces), size, colour, weight, None, "run", "top", None))

    def _stamp_run(self, frame, px, top, pieces, size, colour, weight):
        get = self.sprites.get
        cell = max(get(d, size, colour, weight, line=True).shape[1] for d in "0123456789") + 1
        x = px
        for piece in pieces:
            if piece.isdigit():
                for digit in piece:
                    sprite = get(digit, size, colour, weight, line=True)
                    _stamp(frame, sprite, x + cell / 2, top, "center", "top")
                    x += cell
            else:                   # sprites are cropped to their ink: add the spaces back
                word = piece.strip(" ")
                x += (len(piece) - len(piece.lstrip(" "))) * cell * 0.5
                if word:
                    sprite = get(word, size, colour, weight, line=True)
                    _stamp(frame, sprite, x, top, "left", "top")
                    x += sprite.shape[1] + 1
                x += (len(piece) - len(piece.rstrip(" "))) * cell * 0.5

    def stamp(self, frame):
        """Blend the queued sprites into ``frame`` (rows from the top)."""
        height = frame.shape[0]
        for px, py, text, size, colour, weight, box, ha, va, halo in self.queue:
            if ha == "run":
                self._stamp_run(frame, px, height - py, text, size, colour, weight)
                continue
            sprite = self.sprites.get(text, size, colour, weight, box, box_width=self.box_width, halo=halo)
            # matplotlib's y runs up, the frame's rows run down; "top" keeps its meaning
            _stamp(frame, sprite, px, height - py, ha, va)


class DiagramPainter:
    """Draws :class:`~fttoolkit.viz.scene.DiagramData` on an axes (one line per node, time to the right)."""

    def __init__(self, ax, ids, styles, labels, animated=False, theme=None):
        self.ax = ax
        self.ids = list(ids)
        self.styles = styles
        self.labels = labels
        self.theme = theme = theme_for(theme)
        self.row = {node_id: k for k, node_id in enumerate(self.ids)}
        n = len(self.ids)
        ax.set_ylim(n - 0.4, -0.6)
        ax.set_yticks([])
        ax.set_xticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.spines["bottom"].set_color(theme.link)
        ax.spines["bottom"].set_linewidth(theme.line(ax.spines["bottom"].get_linewidth()))
        kw = dict(animated=animated)
        # process lines and names do not move: they belong to the background
        ax.add_collection(LineCollection([[(0, k), (1, k)] for k in range(n)], colors=theme.link,
                                         linewidths=theme.line(1.2), transform=ax.get_yaxis_transform(), zorder=1))
        base = 11 if n <= 12 else 8
        # names grow with the theme as far as the rows leave room (never below the default size)
        pitch = ax.bbox.height / max(n, 1) * 72 / ax.figure.dpi      # points between rows
        size = max(base, min(theme.font(base), (pitch - 2) / 0.75))
        every = max(1, math.ceil(n / 16))        # label every row while they fit, else every few
        for node_id, k in self.row.items():
            if k % every and k != n - 1:
                continue
            ax.text(-0.008, k, node_id, transform=ax.get_yaxis_transform(), ha="right", va="center",
                    fontsize=size, color=theme.ink, weight="bold")
        self.bands = PolyCollection([], facecolors=theme.partition_band, edgecolors="none", zorder=0, **kw)
        self.grid = LineCollection([], colors=theme.grid, linewidths=theme.line(1), zorder=0.5, **kw)
        self.down = LineCollection([], colors=theme.down_line, linewidths=theme.line(5), zorder=1.5, **kw)
        self.animated = animated
        self.max_messages = 400
        self.line_sets = {}    # (colour, status) -> one Line2D for all those messages (NaN-separated)
        self.head_sets = {}    # colour -> one PathPatch of all those arrowheads, in pixels
        self.lost = ax.scatter([], [], marker="x", s=theme.area(60), c=theme.wrong, linewidths=theme.line(2.2),
                               zorder=4, **kw)
        edge = theme.line(rcParams["patch.linewidth"])      # what scatter gives filled markers by default
        self.crashes = ax.scatter([], [], marker="X", s=theme.area(120), c=theme.ink, linewidths=edge, zorder=4, **kw)
        self.restarts = ax.scatter([], [], marker="^", s=theme.area(80), c=theme.restart, edgecolors=theme.ink,
                                   linewidths=edge, zorder=4, **kw)
        self.marks = LineCollection([], colors=theme.wrong, linewidths=theme.line(2.5), zorder=3.5, **kw)
        self.now = LineCollection([], colors=theme.ink, linewidths=theme.line(1), linestyles=(0, (2, 2)),
                                  zorder=3, **kw)
        for artist in (self.bands, self.grid, self.down, self.marks, self.now):
            ax.add_collection(artist)

    @property
    def artists(self):
        """Everything that changes from frame to frame, in drawing order."""
        # in a fixed order (not the order the sets first appeared in), so that a frame does not depend on
        # the picture's history or on the hash seed: where lines cross, the same one is on top
        lines = [self.line_sets[key] for key in sorted(self.line_sets, key=_line_order)]
        heads = [self.head_sets[key] for key in sorted(self.head_sets)]
        return [self.bands, self.grid, self.down, *lines, *heads, self.lost,
                self.crashes, self.restarts, self.marks, self.now]

    def update(self, data):
        """Point every artist at ``data`` (labels are added to the label layer)."""
        ax, row = self.ax, self.row
        start, end = data.start, max(data.end, data.start + 1)
        ax.set_xlim(start, end + (end - start) * 0.02)
        top, bottom = -0.6, len(self.ids) - 0.4
        self.bands.set_verts([[(a, top), (b, top), (b, bottom), (a, bottom)] for a, b in data.partitions])
        step = _nice_step((end - start) / 6)
        first = math.ceil(start / step) * step
        ticks = list(range(int(first), int(end) + 1, int(step)))
        self.grid.set_segments([[(t, top), (t, bottom)] for t in ticks])
        theme = self.theme
        small = theme.font(9)
        for t in ticks:
            self.labels.add(t, bottom, f"{t}", size=small, colour=theme.secondary, va="top", dy=-4 * theme.font_scale)
        self.labels.add(1.0, 0.0, "time (ticks) \u2192", coords="axes", size=small, colour=theme.secondary,
                        ha="right", va="top", dy=-18 * theme.font_scale)
        self.down.set_segments([[(a, row[n]), (b, row[n])] for n, a, b in data.down if n in row])
        messages = [m for m in data.messages if m[1] in row and m[2] in row]
        shown = messages[-self.max_messages:] if len(messages) > self.max_messages else messages
        if len(shown) < len(messages):
            self.labels.add(1.0, 1.0, f"showing the latest {len(shown)} of {len(messages)} messages",
                            coords="axes", size=small, colour=theme.secondary, ha="right", va="bottom",
                            dy=4 * theme.font_scale)
        groups = {}                   # (colour, status) -> list of (t0, y0, t1, y1)
        heads = {}                    # colour -> list of (t0, y0, t1, y1)
        lost = []
        for kind, src, dst, t0, t1, f, status in shown:
            y0 = row[src]
            y1 = y0 + (row[dst] - y0) * f
            colour = self.styles[kind][0]
            groups.setdefault((colour, status), []).append((t0, y0, t1, y1))
            if status == "lost":
                lost.append((t1, y1))
            elif status != "in flight":
                heads.setdefault(colour, []).append((t0, y0, t1, y1))
        for key in sorted(set(self.line_sets) | set(groups), key=_line_order):
            line = self.line_sets.get(key)
            if line is None:
                colour, status = key
                line = Line2D([], [], color=colour, lw=theme.line(1.6), ls=_DIAGRAM_LINES[status], zorder=2,
                              animated=self.animated)
                ax.add_line(line)
                self.line_sets[key] = line
            pieces = groups.get(key)
            if pieces:
                a = np.array(pieces, float)
                xs = np.column_stack([a[:, 0], a[:, 2], np.full(len(a), np.nan)]).ravel()
                ys = np.column_stack([a[:, 1], a[:, 3], np.full(len(a), np.nan)]).ravel()
                line.set_data(xs, ys)
            else:
                line.set_data([], [])
        to_px = ax.transData.transform
        for colour in sorted(set(self.head_sets) | set(heads)):
            patch = self.head_sets.get(colour)
            if patch is None:
                patch = PathPatch(Path(np.zeros((1, 2))), facecolor=colour, edgecolor="none", zorder=3,
                                  transform=IdentityTransform(), animated=self.animated)
                ax.add_patch(patch)
                self.head_sets[colour] = patch
            pieces = heads.get(colour)
            if pieces:
                a = np.array(pieces, float)
                p0, p1 = to_px(a[:, 0:2]), to_px(a[:, 2:4])
                patch.set_path(_arrowheads(p0, p1, theme.marker(9.0), theme.marker(4.0)))
                patch.set_visible(True)
            else:
                patch.set_visible(False)
        self.lost.set_offsets(lost or np.zeros((0, 2)))
        self.crashes.set_offsets([(t, row[n]) for n, t in data.crashes if n in row] or np.zeros((0, 2)))
        self.restarts.set_offsets([(t, row[n]) for n, t in data.restarts if n in row] or np.zeros((0, 2)))
        self.marks.set_segments([[(t, top), (t, bottom)] for t, _, _ in data.violations])
        last_px = None
        for t, name, _ in data.violations:      # a name per mark, unless marks crowd together
            px = ax.transData.transform((t, top))[0]
            if last_px is None or px - last_px > 90 * theme.font_scale:
                self.labels.add(t, top, name, size=small, colour=theme.wrong_text, weight="bold", ha="left",
                                va="top", dx=4, dy=-2, box=theme.label_box)
                last_px = px
        self.now.set_segments([[(data.now, top), (data.now, bottom)]] if start <= data.now <= end else [])


def _line_order(key):
    """Drawing order of the diagram's message lines: (colour, status) by status, then colour."""
    colour, status = key
    return (list(_DIAGRAM_LINES).index(status), colour)


def _nice_step(raw):
    """A round step (1, 2, 5 x 10^k ticks) near ``raw``."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for k in (1, 2, 5, 10):
        if k * power >= raw:
            return k * power
    return 10 * power


def _arrowheads(p0, p1, length=9.0, width=4.0):
    """One path of filled triangles (in pixels) at the ``p1`` ends of the segments ``p0 -> p1``."""
    d = p1 - p0
    norm = np.hypot(d[:, 0], d[:, 1])
    norm[norm == 0] = 1.0
    u = d / norm[:, None]
    n = np.column_stack([-u[:, 1], u[:, 0]])
    base = p1 - u * length
    verts = np.stack([p1, base + n * width, base - n * width, p1], axis=1).reshape(-1, 2)
    codes = np.tile([Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], len(p0))
    return Path(verts, codes)


class ClusterPicture:
    """Frames of one simulation: the cluster graph on top, the space-time diagram below.

    Parameters
    ----------
    sim : fttoolkit.sim.Simulation
        The run to draw (a front door's ``.sim``).
    adapter : ViewAdapter, optional
        How nodes look (default: the one registered for the protocol).
    width, graph_height, diagram_height : int
        Pixel sizes; ``diagram_height=0`` leaves the diagram out.
    scale : int
        Pixels per layout pixel (2 for sharp pictures on high-density screens).
    diagram_ticks : int, optional
        Width of the diagram's time window (default: about 12 message delays).
    theme : {"default", "lecture"} or Theme
        Sizes and colours (see :class:`~fttoolkit.viz.style.Theme`); ``"lecture"``
        is the projector look: large text and nodes, thick lines, high contrast.
        The frame keeps the pixel size asked for.

    Notes
    -----
    The frame is fixed in size, so it is never scaled (and never blurred) in
    the browser.  Text is stamped from pre-rendered sprites, which is what
    makes a frame cost a few milliseconds instead of tens.
    """

    def __init__(self, sim, adapter=None, width=900, graph_height=520, diagram_height=260, scale=1,
                 diagram_ticks=None, positions=None, theme="default"):
        self.theme = theme_for(theme)
        for name, value, low in (("width", width, 300), ("graph_height", graph_height, 200),
                                 ("diagram_height", diagram_height, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BadParameter(f"{name} must be a whole number of pixels >= {low}; got {value!r}")
        self.sim = sim
        self.adapter = adapter or adapter_for(sim.node_class)
        self.styles = TypeStyles(self.adapter.message_types)
        self.index = TraceIndex()
        self.positions = positions
        self.diagram_ticks = diagram_ticks
        self.width, self.height = width, graph_height + diagram_height
        self.scale = scale
        self.max_diagram_events = 6000
        self._layout = (width, graph_height, diagram_height)
        self._build()

    @property
    def size(self):
        """``(width, height)`` of a frame in pixels."""
        return (self.width * self.scale, self.height * self.scale)

    # ---- the static part --------------------------------------------------------------
    def _build(self):
        width, gh, dh = self._layout
        dpi = 100 * self.scale
        self.ids = list(self.sim.ids)
        theme = self.theme
        self.fig = Figure(figsize=(width / 100, (gh + dh) / 100), dpi=dpi, facecolor=theme.background)
        self.canvas = FigureCanvasAgg(self.fig)
        self.sprites = SpriteCache(dpi=dpi, inches=(8 * theme.font_scale, 1.2 * theme.font_scale))
        H = gh + dh
        strip = theme.header_px         # the header: time and step, then a broken invariant
        head = self.fig.add_axes([0, (H - strip) / H, 1, strip / H])
        head.set_axis_off()
        box_width = theme.line(1)
        self.head_labels = _Labels(head, self.sprites, self.scale, box_width)
        graph_h = gh - strip
        # the legend gets a column of its own if the graph keeps room for its circle, else it floats over it
        self.legend_px = theme.legend_px if width - theme.legend_px >= graph_h else 0
        graph_w = width - self.legend_px
        ax = self.fig.add_axes([0, dh / H, graph_w / width, graph_h / H])
        ax.set_axis_off()
        half_h = theme.graph_half
        half_w = half_h * graph_w / graph_h
        ax.set_xlim(-half_w, half_w)
        ax.set_ylim(-half_h - theme.graph_shift, half_h - theme.graph_shift)
        self.ax = ax
        self.px_per_unit = graph_h / (2 * half_h)
        n = max(len(self.ids), 1)
        base_px = max(20.0, min(46.0, 2 * math.pi * self.px_per_unit / n * 0.55))
        self.node_px = base_px * theme.node_scale
        self.id_size = 13 if base_px >= 36 else 10 if base_px >= 26 else 8    # in the default look
        self.links_style = _link_styles(theme)
        self.labels = _Labels(ax, self.sprites, self.scale, box_width,
                              halo=(theme.halo, theme.background) if theme.halo else None)
        kw = dict(animated=True)
        self.hulls = PolyCollection([], linewidths=self.node_px * 1.9 * 72 / 100, joinstyle="round",
                                    capstyle="round", zorder=0, **kw)
        self.links = LineCollection([], zorder=1, **kw)
        for artist in (self.hulls, self.links):
            ax.add_collection(artist)
        s_node = (self.node_px * 72 / 100) ** 2
        self.s_node = s_node
        self.node_sets = {}        # marker -> scatter of running nodes with that marker
        self.crashed = ax.scatter([], [], s=s_node, c=[theme.crashed_fill], edgecolors=theme.crashed_edge,
                                  linewidths=theme.line(2), zorder=3, **kw)
        self.crash_marks = ax.scatter([], [], s=s_node * 1.3, marker="x", c=[theme.ink], linewidths=theme.line(3),
                                      zorder=4, **kw)
        self.broken = ax.scatter([], [], s=s_node * 1.9, facecolors="none", edgecolors=theme.wrong,
                                 linewidths=theme.line(4), zorder=2.5, **kw)
        self.ring_px = self.node_px * math.sqrt(1.9) + theme.line(4) * 100 / 72    # its outer diameter
        # a timer's progress (Raft's election timer): an arc closing clockwise around the node
        self.timer_arcs = LineCollection([], colors=theme.secondary, linewidths=theme.line(2.4), capstyle="round",
                                         zorder=2.7, **kw)
        ax.add_collection(self.timer_arcs)
        m_px = theme.marker(11 if n <= 12 else 9)
        self.s_msg = (m_px * 72 / 100) ** 2
        self.msg_sets = {}         # type name -> scatter
        self.copies = ax.scatter([], [], s=self.s_msg * 3.2, facecolors="none", edgecolors=theme.ink,
                                 linewidths=theme.line(1.5), zorder=5, **kw)
        self.helds = ax.scatter([], [], s=self.s_msg * 3.2, marker="s", facecolors="none", edgecolors=theme.clogged,
                                linewidths=theme.line(2), zorder=5, **kw)
        self.drops = ax.scatter([], [], s=self.s_msg * 2.2, marker="X", c=[theme.wrong], edgecolors=theme.background,
                                linewidths=theme.line(0.8), zorder=6, **kw)
        self._legend()
        if dh:
            left, bottom, top = theme.diagram_left_px, theme.diagram_bottom_px, theme.diagram_top_px
            dax = self.fig.add_axes([left / width, bottom / H, 1 - (left + 20) / width, (dh - bottom - top) / H])
            self.diagram_labels = _Labels(dax, self.sprites, self.scale, box_width)
            self.diagram = DiagramPainter(dax, self.ids, self.styles, self.diagram_labels, animated=True,
                                          theme=theme)
            self.fig.text(8 / width, (dh - 8) / H, "space-time diagram (Lamport)", fontsize=theme.font(10),
                          color=theme.secondary, va="top", weight="bold")
        else:
            self.diagram = None
            self.diagram_labels = None
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _legend(self):
        theme = self.theme
        size, line = theme.marker, theme.line
        plain = line(rcParams["lines.markeredgewidth"])        # what Line2D takes by default
        handles = []
        for name in self.styles.names():
            colour, marker = self.styles[name]
            handles.append(Line2D([], [], ls="none", marker=marker, color=colour, markersize=size(9),
                                  markeredgecolor=theme.ink, markeredgewidth=line(0.6), label=name))
        handles += [
            Line2D([], [], ls="none", marker="o", markersize=size(13), markerfacecolor="none",
                   markeredgecolor=theme.ink, markeredgewidth=plain, label="duplicate copy"),
            Line2D([], [], ls="none", marker="X", markersize=size(10), color=theme.wrong, markeredgewidth=plain,
                   label="message lost"),
            Line2D([], [], color=theme.wrong, ls=(0, (6, 4)), lw=line(rcParams["lines.linewidth"]),
                   label="link cut (partition)"),
            Line2D([], [], ls="none", marker="o", markersize=size(12), markerfacecolor=theme.crashed_sample,
                   markeredgecolor=theme.crashed_edge, markeredgewidth=plain, label="crashed node"),
            Line2D([], [], ls="none", marker="o", markersize=size(14), markerfacecolor="none",
                   markeredgecolor=theme.wrong, markeredgewidth=line(2.5), label="invariant broken"),
        ]
        width = self._layout[0]
        where = (dict(loc="lower right") if not self.legend_px      # over the graph, in its corner
                 else dict(loc="center right", bbox_to_anchor=(width / (width - self.legend_px), 0.5)))  # its column
        legend = self.ax.legend(handles=handles, fontsize=theme.font(9), frameon=True, framealpha=0.9,
                                edgecolor=theme.legend_edge, borderpad=0.6, labelspacing=0.5, **where)
        frame = legend.get_frame()
        frame.set_linewidth(line(frame.get_linewidth()))

    def _scatter_for(self, table, key, **style):
        artist = table.get(key)
        if artist is None:
            artist = self.ax.scatter([], [], animated=True, **style)
            table[key] = artist
        return artist

    # ---- one frame ---------------------------------------------------------------------
    def scene(self, at=None):
        """The :class:`~fttoolkit.viz.scene.Scene` of the current moment (or of tick ``at``, see ``scene_of``)."""
        return scene_of(self.sim, self.adapter, index=self.index, positions=self.positions, at=at)

    def window(self, now=None):
        """The diagram's time window ``(start, end)`` for the current moment.

        It grows with the run (a little ahead of now) until it is
        ``diagram_ticks`` wide (default: 12 of the longest message delays), then follows now.
        """
        high = self.sim.network.defaults.delay[1]
        span = self.diagram_ticks or max(100, 12 * high)
        now = self.sim.now if now is None else now
        if now >= span:
            return now - span, now
        return 0, min(span, max(int(now * 1.15) + 1, 5 * high, 50))

    def draw(self, scene=None, at=None):
        """Draw the current moment on the canvas; return the frame as an ``(h, w, 4)`` array.

        ``at``: a tick between now and the next step to draw instead (see ``scene_of``).
        """
        # A frame makes many small objects; a full collection would rescan the whole trace.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._draw(scene, at)
        finally:
            if enabled:
                gc.enable()

    def _draw(self, scene, at):
        sim = self.sim
        if list(sim.ids) != self.ids:          # nodes were added: start the layout over
            self._build()
        scene = scene or self.scene(at)
        now = scene.now
        self.last_scene = scene          # what the view's status line counts, without a second scan
        self.labels.clear()
        theme = self.theme
        pos = {i: (look.x, look.y) for i, look in scene.nodes.items()}
        # partition sides
        hulls, tints = [], []
        for k, group in enumerate(scene.groups):
            points = [pos[i] for i in group if i in pos]
            if points:
                hulls.append(_hull(points))
                tints.append(theme.partition_tints[k % len(theme.partition_tints)])
        self.hulls.set_verts(hulls)
        self.hulls.set_facecolors(tints or ["none"])
        self.hulls.set_edgecolors(tints or ["none"])
        # links
        segs, colours, styles, widths = [], [], [], []
        for link in scene.links:
            colour, style, width = self.links_style[link.state]
            segs.append([pos[link.a], pos[link.b]])
            colours.append(colour)
            styles.append(style)
            widths.append(width)
        self.links.set_segments(segs)
        self.links.set_colors(colours or [theme.link])
        self.links.set_linestyles(styles or ["solid"])
        self.links.set_linewidths(widths or [1])
        # nodes
        by_marker = {}
        crashed, broken = [], []
        many = len(self.ids) > 12
        for node_id, look in scene.nodes.items():
            xy = (look.x, look.y)
            if look.up:
                by_marker.setdefault(look.marker, ([], []))
                by_marker[look.marker][0].append(xy)
                by_marker[look.marker][1].append(look.fill)
            else:
                crashed.append(xy)
            if look.broken:
                broken.append(xy)
        # node labels: captions are placed before badges, which give way to them; queued node by node
        placer = _Placer(self, scene.nodes.values())
        captions, badges = {}, {}
        for node_id, look in scene.nodes.items():
            if look.caption and (len(self.ids) <= 16 or not look.up):
                colour, weight = (theme.caption, "normal") if look.up else (theme.wrong_text, "bold")
                captions[node_id] = (colour, weight) + placer.caption(look, look.caption, 8 if many else 10, colour,
                                                                      weight, -self.node_px / 2 - 4)
        corner = self.node_px * 0.35
        for node_id, look in scene.nodes.items():
            if look.badge and (len(self.ids) <= 12 or len(look.badge) <= 4):
                badges[node_id] = placer.badge(look, look.badge, 9, theme.ink, theme.badge, corner)
        for node_id, look in scene.nodes.items():
            box = None if look.up else theme.label_box
            size = placer.inside(node_id, self.id_size, theme.ink, "bold", box)
            self.labels.add(look.x, look.y, node_id, size=size, weight="bold", colour=theme.ink, box=box)
            if node_id in captions:
                colour, weight, size, lines = captions[node_id]
                for text, dx, dy, ha, va in lines:
                    self.labels.add(look.x, look.y, text, size=size, colour=colour, weight=weight, ha=ha, va=va,
                                    dx=dx, dy=dy, halo=True)
            if node_id in badges:
                size, dx, dy, ha = badges[node_id]
                self.labels.add(look.x, look.y, look.badge, size=size, colour=theme.ink, box=theme.badge,
                                ha=ha, va="bottom", dx=dx, dy=corner + dy)
        for marker in sorted(set(self.node_sets) | set(by_marker)):
            artist = self._scatter_for(self.node_sets, marker, marker=marker, s=self.s_node, edgecolors=theme.ink,
                                       linewidths=theme.line(1.8), zorder=3)
            points, fills = by_marker.get(marker, ([], []))
            artist.set_offsets(points or np.zeros((0, 2)))
            artist.set_facecolors(fills or ["none"])
        self.crashed.set_offsets(crashed or np.zeros((0, 2)))
        self.crash_marks.set_offsets(crashed or np.zeros((0, 2)))
        self.broken.set_offsets(broken or np.zeros((0, 2)))
        self.timer_arcs.set_segments([self._arc(look.x, look.y, look.progress) for look in scene.nodes.values()
                                      if look.up and look.progress])
        # messages in flight, lost ones
        per_type, copies, helds = {}, [], []
        if scene.messages:
            xy = self._along_many([pos[m.src] for m in scene.messages], [pos[m.dst] for m in scene.messages],
                                  [m.f for m in scene.messages])
            for k, m in enumerate(scene.messages):
                per_type.setdefault(m.type, []).append(k)
                if m.copy_of:
                    copies.append(k)
                if m.held:
                    helds.append(k)
            per_type = {name: xy[ks] for name, ks in per_type.items()}
            copies, helds = xy[copies], xy[helds]
        for name in sorted(set(self.msg_sets) | set(per_type)):
            colour, marker = self.styles[name]
            artist = self._scatter_for(self.msg_sets, name, marker=marker, s=self.s_msg * (1.6 if marker == "*" else 1),
                                       c=[colour], edgecolors=theme.ink, linewidths=theme.line(0.6), zorder=5)
            points = per_type.get(name)
            artist.set_offsets(points if points is not None else np.zeros((0, 2)))
        self.copies.set_offsets(copies if len(copies) else np.zeros((0, 2)))
        self.helds.set_offsets(helds if len(helds) else np.zeros((0, 2)))
        drops, labelled = [], []
        for d in scene.drops:
            xy = self._along(pos[d.src], pos[d.dst], d.f)
            drops.append(xy)
            crowded = any(math.hypot(xy[0] - x, xy[1] - y) * self.px_per_unit < 70 * theme.font_scale
                          for x, y in labelled)
            # one word per spot (the legend says the rest); none at a crashed node, which says "crashed"
            if len(scene.drops) <= 6 and not crowded and d.reason != "crashed":
                labelled.append(xy)
                word = _LOSS_WORDS.get(d.reason, d.reason)
                size, ha, va, dx, dy = placer.word(xy, word, 8, theme.wrong_text, theme.marker(8))
                self.labels.add(xy[0], xy[1], word, size=size, colour=theme.wrong_text, weight="bold", ha=ha, va=va,
                                dx=dx, dy=dy, halo=True)
        self.drops.set_offsets(drops or np.zeros((0, 2)))
        # captions of the whole frame
        head = self.head_labels
        head.clear()
        head.add_run(0.012, 0.9, ("t = ", str(now), "   step ", str(sim.steps)), coords="axes",
                     size=theme.font(12), colour=theme.ink, weight="bold")
        if scene.violations:
            v = scene.violations[-1]
            more = f"   (+{len(scene.violations) - 1} more)" if len(scene.violations) > 1 else ""
            when = f"step {v['step']}, t = {v['tick']}" if v.get("step") else f"t = {v['tick']}"
            head.add(0.012, 0.42, _shorten(f"\u2717 {v['name']} broken at {when}: {v['detail']}{more}",
                                           theme.header_chars),
                     coords="axes", size=theme.font(11), colour=theme.wrong_text, weight="bold", ha="left", va="top")
        # draw
        canvas = self.canvas
        canvas.restore_region(self.background)
        fig = self.fig
        nodes = [self.node_sets[key] for key in sorted(self.node_sets)]
        messages = [self.msg_sets[key] for key in sorted(self.msg_sets)]
        for artist in (self.hulls, self.links, self.broken, self.timer_arcs, *nodes, self.crashed,
                       self.crash_marks, *messages, self.copies, self.helds, self.drops):
            fig.draw_artist(artist)
        if self.diagram is not None:
            start, end = self.window(now)
            events = sim.trace._events
            if len(events) > self.max_diagram_events:    # crowded: narrow the window to its latest events
                start = max(start, events[-self.max_diagram_events].tick)
            self.diagram_labels.clear()
            self.diagram.update(diagram_of(sim.trace, self.ids, start, end, now, index=self.index))
            for artist in self.diagram.artists:
                fig.draw_artist(artist)
        frame = np.asarray(canvas.buffer_rgba())
        self.labels.stamp(frame)
        self.head_labels.stamp(frame)
        if self.diagram_labels is not None:
            self.diagram_labels.stamp(frame)
        return frame

    def _arc(self, x, y, fraction):
        """Points of an arc around a node from 12 o'clock, clockwise, ``fraction`` of a full turn."""
        radius = (self.node_px * 0.58 + 3) / self.px_per_unit
        count = max(2, int(64 * fraction) + 1)
        angles = math.pi / 2 - 2 * math.pi * fraction * np.linspace(0.0, 1.0, count)
        return np.column_stack([x + radius * np.cos(angles), y + radius * np.sin(angles)])

    def _along(self, a, b, f):
        """Point ``f`` of the way from node a to node b, between their rims, on its own side of the link."""
        return tuple(self._along_many([a], [b], [f])[0])

    def _along_many(self, a, b, f):
        """Points ``f`` of the way from nodes ``a`` to nodes ``b`` (arrays), between their rims.

        Messages going each way travel on their own side of the link, so they never hide each other.
        """
        a, b, f = np.asarray(a, float), np.asarray(b, float), np.asarray(f, float)
        d = b - a
        length = np.hypot(d[:, 0], d[:, 1])
        length[length == 0] = 1.0
        rim = np.minimum(0.45, (self.node_px / 2 + self.theme.marker(6)) / self.px_per_unit / length)
        g = rim + (1 - 2 * rim) * f
        side = self.theme.marker(7) / self.px_per_unit
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / length[:, None] * side
        return a + d * g[:, None] + normal

    def render_png(self, at=None):
        """Draw the current moment (or tick ``at``) and return it as PNG bytes."""
        return encode_png(self.draw(at=at))


def _hull(points):
    """The convex outline of ``points`` (any order); a tiny square around a single point."""
    if len(points) == 1:
        (x, y), e = points[0], 1e-3
        return [(x - e, y - e), (x + e, y - e), (x + e, y + e), (x - e, y + e)]
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    ordered = sorted(points, key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    hull = []
    for p in ordered + ordered[:2]:          # drop points that make a dent (Graham scan on sorted angles)
        while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1])
                                  - (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0])) <= 0:
            hull.pop()
        hull.append(p)
    return hull[:-2] if len(hull) > 2 else hull


class _Placer:
    """Sizes and places of the node labels of one frame, for themes larger than the default look.

    Captions, then badges, are placed one by one; each takes the largest
    size (from the theme's down to the default look's) at which its box
    stays in the graph and touches no other node and no label placed before
    it: under the node (on one line, else two), else on the node's outer
    side.  Labels that fit nowhere stay where the default look puts them.
    When the theme's sizes are the default's there is nothing to choose and
    nothing is measured.
    """

    def __init__(self, picture, looks):
        self.picture = picture
        self.theme = picture.theme
        self.ppu = ppu = picture.px_per_unit
        self.scale = picture.scale
        # each node's half size (its marker's, or its ring's), with a little air around it
        self.half = {look.id: max(picture.node_px * _marker_reach(look.marker if look.up else "o"),
                                  picture.ring_px / 2 if look.broken else 0) + 2 for look in looks}
        self.discs = [(look.id, look.x * ppu, look.y * ppu, self.half[look.id]) for look in looks]
        self.taken = []                                # boxes (x0, y0, x1, y1) in layout pixels, y up
        (x0, x1), (y0, y1) = picture.ax.get_xlim(), picture.ax.get_ylim()
        edge = 4                                       # labels may reach this far past the graph's edges
        self.bounds = (x0 * ppu - edge, y0 * ppu - edge, x1 * ppu + edge, y1 * ppu + edge)

    def _sizes(self, base):
        """Candidate sizes, largest first, from the theme's down to ``base`` (empty if they are the same)."""
        top = self.theme.font(base)
        if top <= base:
            return []
        sizes = [top]
        while sizes[-1] - 1.5 > base:
            sizes.append(sizes[-1] - 1.5)
        return sizes + [base]

    def _extent(self, text, size, colour, weight, box=None, halo=False):
        sprite = self.picture.sprites.get(text, size, colour, weight, box, box_width=self.theme.line(1),
                                          halo=self.picture.labels.halo if halo else None)
        return sprite.shape[1] / self.scale, sprite.shape[0] / self.scale

    def _free(self, node_id, x0, y0, x1, y1):
        bx0, by0, bx1, by1 = self.bounds
        if x0 < bx0 or y0 < by0 or x1 > bx1 or y1 > by1:
            return False
        for other, cx, cy, r in self.discs:
            if other != node_id and x0 < cx + r and cx - r < x1 and y0 < cy + r and cy - r < y1:
                return False
        return all(x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0 for a0, b0, a1, b1 in self.taken)

    def inside(self, node_id, base, colour, weight, box):
        """The size of a node's id: as large as the theme says while it stays about inside the node."""
        sizes = self._sizes(base)
        if not sizes:
            return self.theme.font(base)
        room = self.picture.node_px + 2
        width, _ = self._extent(node_id, sizes[0], colour, weight, box)
        return next((s for s in sizes if width * s / sizes[0] <= room), base)

    def caption(self, look, text, base, colour, weight, below):
        """``(size, [(line, dx, dy, ha, va), ...])`` for a caption; ``below``: the default offset of its top."""
        sizes = self._sizes(base)
        if not sizes:
            return self.theme.font(base), [(text, 0, below, "center", "top")]
        x, y = look.x * self.ppu, look.y * self.ppu
        gap = -below - self.picture.node_px / 2              # between the node and its caption
        below = -self.half[look.id] - gap + 2                # clear of the node's marker and ring
        out = -below
        top_size = sizes[0]
        forms = [((text,), self._extent(text, top_size, colour, weight, halo=True))]   # lines, (width, last height)
        lines = _two_lines(text)
        if len(lines) == 2:
            extents = [self._extent(line, top_size, colour, weight, halo=True) for line in lines]
            forms.append((lines, (max(w for w, _ in extents), extents[-1][1])))
        outer = 1 if look.x >= 0 else -1                      # the side away from the circle's centre
        places = [(form, where) for where in ("below", outer) for form in forms] + [(form, -outer) for form in forms]
        for size in sizes:
            f = size / top_size
            step = size * 1.2 * 100 / 72                   # from one line's top to the next's
            for (form, (w, h)), where in places:
                w, h = w * f, h * f + step * (len(form) - 1)
                if where == "below":
                    box = (x - w / 2, y + below - h, x + w / 2, y + below)
                elif where > 0:
                    box = (x + out, y - h / 2, x + out + w, y + h / 2)
                else:
                    box = (x - out - w, y - h / 2, x - out, y + h / 2)
                if not self._free(look.id, *box):
                    continue
                self.taken.append(box)
                if where == "below":
                    return size, [(line, 0, below - k * step, "center", "top") for k, line in enumerate(form)]
                ha = "left" if where > 0 else "right"
                return size, [(line, where * out, h / 2 - k * step, ha, "top") for k, line in enumerate(form)]
        return base, [(text, 0, below, "center", "top")]

    def badge(self, look, text, base, colour, fill, corner):
        """``(size, dx, dy, ha)`` of a badge: its lower corner ``corner`` pixels up and right of the node's centre,
        else up and left, else centred over the node (``dy`` is added to ``corner``)."""
        sizes = self._sizes(base)
        if not sizes:
            return self.theme.font(base), corner, 0, "left"
        x, y = look.x * self.ppu, look.y * self.ppu + corner
        w, h = self._extent(text, sizes[0], colour, "normal", fill)
        for size in sizes:
            f = size / sizes[0]
            above = self.picture.node_px / 2 + 2 - corner         # over the node, clear of its disc
            for dx, dy, ha, x0 in ((corner, 0, "left", x + corner), (-corner, 0, "right", x - corner - w * f),
                                   (0, above, "center", x - w * f / 2)):
                box = (x0, y + dy, x0 + w * f, y + dy + h * f)
                if self._free(look.id, *box):
                    self.taken.append(box)
                    return size, dx, dy, ha
        return base, corner, 0, "left"

    def word(self, xy, text, base, colour, gap):
        """``(size, ha, va, dx, dy)`` of a bold word ``gap`` pixels over the point ``xy`` (data), else under,
        right or left of it; where nothing is free, over it at the theme's size."""
        sizes = self._sizes(base)
        if not sizes:
            return self.theme.font(base), "center", "bottom", 0, gap
        x, y = xy[0] * self.ppu, xy[1] * self.ppu
        w0, h0 = self._extent(text, sizes[0], colour, "bold", halo=True)
        for size in sizes:
            f = size / sizes[0]
            w, h = w0 * f, h0 * f
            for ha, va, dx, dy, box in (
                    ("center", "bottom", 0, gap, (x - w / 2, y + gap, x + w / 2, y + gap + h)),
                    ("center", "top", 0, -gap, (x - w / 2, y - gap - h, x + w / 2, y - gap)),
                    ("left", "center", gap, 0, (x + gap, y - h / 2, x + gap + w, y + h / 2)),
                    ("right", "center", -gap, 0, (x - gap - w, y - h / 2, x - gap, y + h / 2))):
                if self._free(None, *box):
                    self.taken.append(box)
                    return size, ha, va, dx, dy
        return sizes[0], "center", "bottom", 0, gap


_REACH = {}


def _marker_reach(marker):
    """How far a scatter marker of size 1 reaches from its centre, across or up (0.5 for a circle)."""
    reach = _REACH.get(marker)
    if reach is None:
        style = MarkerStyle(marker)
        box = style.get_path().transformed(style.get_transform()).get_extents()
        reach = _REACH[marker] = float(max(abs(box.x0), abs(box.x1), abs(box.y0), abs(box.y1)))
    return reach


def _two_lines(text):
    """``text`` broken in two at the " \u00b7 " (else the space) nearest its middle; ``(text,)`` if it cannot be."""
    for sep in (" \u00b7 ", " "):
        cuts = [k for k in range(len(text)) if text.startswith(sep, k)]
        if cuts:
            k = min(cuts, key=lambda k: abs(2 * k + len(sep) - len(text)))
            return text[:k], text[k + len(sep):]
    return (text,)


def _shorten(text, limit):
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


class DiagramFigure(Figure):
    """A matplotlib figure that a notebook shows as a PNG of its exact pixel size."""

    def _repr_png_(self):
        import io
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def spacetime(cluster, start=None, end=None, width=900, height=None, ax=None, theme="default", clocks=None):
    """Draw a space-time (Lamport) diagram of ticks ``start .. end`` of a run; return the figure.

    One horizontal line per node, time to the right; an arrow per message
    from its send to its delivery, coloured by message type; lost messages
    dashed and ending in a cross, duplicates dash-dotted, messages still in
    flight dotted; crashes as black crosses, restarts as green triangles,
    down time as a thick grey line; partitions shaded; broken invariants as
    vermillion lines.

    Parameters
    ----------
    cluster : front door or Simulation
    start, end : int, optional
        The window (default: the whole run so far).
    width, height : int
        Pixel size of the figure (height default: 40 pixels per node + 80).
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    theme : {"default", "lecture"} or Theme
        Sizes and colours (see :class:`~fttoolkit.viz.style.Theme`).
    clocks : {None, "lamport", "vector"}
        Label every send and receive with its Lamport clock or vector clock
        (computed by :mod:`fttoolkit.check.clocks`), so that happened-before can
        be read off the picture.

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run(until=100)
    >>> fig = spacetime(cluster, clocks="vector")
    >>> [round(v) for v in fig.get_size_inches() * fig.dpi]
    [900, 200]
    """
    theme = theme_for(theme)
    sim = getattr(cluster, "sim", cluster)
    sim._ensure_started()
    start = 0 if start is None else start
    end = sim.now if end is None else end
    if isinstance(start, bool) or not isinstance(start, int) or isinstance(end, bool) or not isinstance(end, int) \
            or not 0 <= start < end:
        raise BadParameter(f"the window must be whole ticks with 0 <= start < end; got start={start!r}, end={end!r}")
    ids = list(sim.ids)
    styles = TypeStyles(adapter_for(sim.node_class).message_types)
    data = diagram_of(sim.trace, ids, start, end, min(sim.now, end))
    kinds = {m[0] for m in data.messages}
    columns = min(len(kinds), 4)
    above = bool(theme.legend_px and kinds and ax is None)   # a theme that keeps the legend off the drawing
    if ax is None:
        top = 20 + (math.ceil(len(kinds) / columns) * theme.font(8) * 100 / 72 * 1.6 + 8 if above else 0)
        height = height or 40 * len(ids) + 60 + top
        fig = DiagramFigure(figsize=(width / 100, height / 100), dpi=100, facecolor=theme.background)
        FigureCanvasAgg(fig)
        left, bottom = theme.diagram_left_px, theme.diagram_bottom_px + 10
        ax = fig.add_axes([left / width, bottom / height, 1 - (left + 20) / width, 1 - (bottom + top) / height])
    if clocks not in (None, "lamport", "vector"):
        raise BadParameter(f"clocks must be None, 'lamport' or 'vector'; got {clocks!r}")
    labels = _Labels(ax, box_width=theme.line(1))
    painter = DiagramPainter(ax, ids, styles, labels, theme=theme)
    painter.update(data)
    if clocks:
        _label_clocks(ax, sim, ids, start, end, clocks, theme)
    used = sorted(kinds, key=lambda n: styles.names().index(n))      # in the order the painter styled them
    if used:
        handles = [Line2D([], [], color=styles[n][0], lw=theme.line(2), label=n) for n in used]
        where = dict(loc="lower right", bbox_to_anchor=(1, 1), borderaxespad=0.3) if above else dict(loc="upper right")
        legend = ax.legend(handles=handles, fontsize=theme.font(8), framealpha=0.9, ncols=columns, **where)
        frame = legend.get_frame()
        frame.set_linewidth(theme.line(frame.get_linewidth()))
    return ax.figure


def _label_clocks(ax, sim, ids, start, end, kind, theme):
    """Write each send's and receive's clock beside its mark (sends above the line, receives below)."""
    from ..check.clocks import lamport_clocks, vector_clocks
    events = (lamport_clocks if kind == "lamport" else vector_clocks)(sim.trace)
    row = {node_id: k for k, node_id in enumerate(ids)}
    seen = {}
    for event in events:
        if not start <= event.tick <= end or event.node not in row:
            continue
        text = str(event.clock) if kind == "lamport" else "[" + " ".join(map(str, event.clock.counts)) + "]"
        above = event.kind == "send"
        # several events of one node at one tick: stack their labels instead of overprinting them
        slot = seen.setdefault((event.node, event.tick, above), 0)
        seen[(event.node, event.tick, above)] += 1
        dy = (-0.16 - 0.2 * slot) if above else (0.2 + 0.2 * slot)
        ax.text(event.tick, row[event.node] + dy, text, ha="center", va="center", fontsize=theme.font(7),
                color=theme.ink, zorder=6, bbox=dict(boxstyle="round,pad=0.1", fc=theme.background,
                                                     ec="none", alpha=0.85))
