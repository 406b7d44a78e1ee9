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
"""

__all__ = ["MESSAGE_COLOURS", "MESSAGE_MARKERS", "WRONG", "CRASHED", "INK", "GRID", "TypeStyles",
           "ROLE_COLOURS"]

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
