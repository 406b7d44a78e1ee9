"""Colours, marker shapes and sizes shared by every picture of the course.

Message types are told apart by colour *and* shape, so that nothing depends
on seeing colour: the colours are the Okabe–Ito palette (Okabe & Ito, "Color
Universal Design", 2008), chosen to stay distinct for the common forms of
colour blindness.  Vermillion is kept for what went wrong (losses, broken
invariants), black and grey for crashed nodes.

Examples
--------
>>> styles = TypeStyles(["Rumor", "Ack"])
>>> styles["Rumor"], styles["Ack"]
(('#0072B2', 'o'), ('#E69F00', 's'))
>>> styles["Surprise"]          # a type nobody declared still gets a fixed style
('#009E73', '^')

A :class:`Theme` carries every size and colour of the cluster picture;
``LECTURE`` is the projector look (large text and nodes, thick lines, high
contrast):

>>> theme_for("lecture").font(10), theme_for(None) is DEFAULT
(15.0, True)
"""

from dataclasses import dataclass

from ..core.errors import BadParameter

__all__ = ["MESSAGE_COLOURS", "MESSAGE_MARKERS", "WRONG", "CRASHED", "INK", "GRID", "TypeStyles",
           "ROLE_COLOURS", "Theme", "DEFAULT", "LECTURE", "THEMES", "theme_for"]

#: Okabe–Ito colours for message types, in order of use (vermillion is kept for errors).
MESSAGE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: Marker shapes, paired with the colours above (every pair distinct for the first 56 types).
MESSAGE_MARKERS = ("o", "s", "^", "D", "v", "P", "h", "*")
#: Losses, broken invariants, errors.
WRONG = "#D55E00"
#: Crashed nodes.
CRASHED = "#9A9A9A"
#: Text and outlines.
INK = "#1A1A1A"
#: Links, process lines and other scaffolding.
GRID = "#B8B8B8"
#: Node fill by role, for adapters that do not choose their own.
ROLE_COLOURS = ("#DCEBF7", "#FBE3C0", "#D4EFE6", "#F2DDEA", "#E6E6E6")


class TypeStyles:
    """Message type name -> ``(colour, marker)``, fixed for the life of a view.

    Declared types take the first styles in order; a type seen later takes the
    next free one, so a style never changes once given.
    """

    def __init__(self, declared=()):
        self._styles = {}
        for name in declared:
            self[name]

    def __getitem__(self, name):
        style = self._styles.get(name)
        if style is None:
            k = len(self._styles)
            colours, markers = MESSAGE_COLOURS, MESSAGE_MARKERS
            style = (colours[(k + k // len(markers)) % len(colours)], markers[k % len(markers)])
            self._styles[name] = style
        return style

    def names(self):
        """The type names styled so far, in the order they got their style."""
        return list(self._styles)


@dataclass(frozen=True)
class Theme:
    """Sizes and colours of the cluster picture and the space-time diagram.

    The renderer's sizes are those of the default look; a theme multiplies
    them (``font_scale`` for text, ``node_scale`` for nodes, ``line_scale``
    for strokes, ``marker_scale`` for message markers and arrowheads) and
    names every colour.  Message types keep their Okabe–Ito colours and
    marker shapes in every theme.
    """

    name: str = "custom"
    font_scale: float = 1.0
    node_scale: float = 1.0
    line_scale: float = 1.0
    marker_scale: float = 1.0
    # -- colours
    background: str = "#FFFFFF"
    ink: str = INK                        #: text, outlines, the crosses on crashed nodes
    secondary: str = "#555555"            #: titles, axis ticks
    caption: str = "#333333"              #: the line under a running node
    link: str = GRID                      #: working links, the diagram's process lines and axis
    link_down: str = "#D8D8D8"            #: links to a crashed node
    clogged: str = "#E69F00"              #: clogged links and held messages
    grid: str = "#EDEDED"                 #: the diagram's time grid
    wrong: str = WRONG                    #: marks of what went wrong: losses, cut links, broken invariants
    wrong_text: str = WRONG               #: words about it ("crashed", "lost", a broken invariant)
    crashed_fill: str = "#D9D9D9"
    crashed_edge: str = CRASHED
    crashed_sample: str = "#EDEDED"       #: fill of the crashed node in the legend
    down_line: str = CRASHED              #: a crashed node's down time in the diagram
    restart: str = "#009E73"              #: restarts in the diagram
    label_box: str = "#FFFFFF"            #: box behind a crashed node's id and a broken invariant's name
    badge: str = "#FFF4C2"                #: box of a node's badge ("commit 2")
    partition_tints: tuple = ("#E8F1FA", "#FCF0DC", "#E3F4EE", "#F7E8F1", "#EFEFEF")
    partition_band: str = "#FBE3D6"       #: a partition's time span in the diagram
    legend_edge: str = "#DDDDDD"
    halo: float = 0                       #: width (points) of a background-coloured outline around captions (0: none)
    # -- layout, in layout pixels unless said otherwise (the header line is for a 900-pixel-wide frame)
    header_px: int = 50                   #: the strip above the graph: time and step, a broken invariant
    graph_half: float = 1.22              #: half the graph's height in layout units (the circle has radius 1)
    graph_shift: float = 0.08             #: the circle's centre above the graph's middle, in layout units
    header_chars: int = 90                #: a broken invariant's line in the header is cut to this length (sprites are 800 px wide)
    legend_px: int = 0                    #: a column on the right kept for the legend (0: over the graph)
    diagram_left_px: int = 60             #: room for the node names left of the diagram
    diagram_bottom_px: int = 30           #: room for the time axis under the diagram
    diagram_top_px: int = 26              #: room for the title above the diagram

    def font(self, size):
        """A font size of the default look, in this theme (points)."""
        return size * self.font_scale

    def line(self, width):
        """A line width of the default look, in this theme (points, or pixels where the caller says so)."""
        return width * self.line_scale

    def marker(self, size):
        """A marker size or length of the default look, in this theme."""
        return size * self.marker_scale

    def area(self, s):
        """A scatter marker area (points squared) of the default look, in this theme."""
        return s * self.marker_scale ** 2


#: Today's look, for a screen at arm's length.
DEFAULT = Theme(name="default")

#: For a projector: text 1.5x, nodes 1.4x, lines 1.7x, message markers 1.5x; black on white, dark links.
LECTURE = Theme(
    name="lecture", font_scale=1.5, node_scale=1.4, line_scale=1.7, marker_scale=1.5,
    ink="#000000", secondary="#333333", caption="#000000",
    link="#5C5C5C", link_down="#8C8C8C", grid="#C8C8C8",
    wrong_text="#A33F00",
    crashed_fill="#9E9E9E", crashed_edge="#3A3A3A", crashed_sample="#9E9E9E", down_line="#6E6E6E",
    badge="#FFE680",
    partition_tints=("#BCD7EE", "#F8D49A", "#CFE8B0", "#EDC3DA", "#E6E6E6"),
    partition_band="#F6C5A8", legend_edge="#555555", halo=3.5,
    header_px=74, graph_half=1.34, graph_shift=0.01, header_chars=64, legend_px=270,
    diagram_left_px=72, diagram_bottom_px=48, diagram_top_px=36,
)

#: The themes by name.
THEMES = {"default": DEFAULT, "lecture": LECTURE}


def theme_for(theme):
    """The :class:`Theme` for ``theme``: a name in :data:`THEMES`, a Theme, or ``None`` (the default)."""
    if theme is None:
        return DEFAULT
    if isinstance(theme, Theme):
        return theme
    if isinstance(theme, str) and theme.strip().lower() in THEMES:
        return THEMES[theme.strip().lower()]
    raise BadParameter(f"unknown theme {theme!r}; the themes are: {', '.join(THEMES)} (or a Theme object)")
