"""Intentions: what a handler asks the world to do.

A handler never performs I/O.  It changes its node's own state and records
intentions; the simulator carries them out afterwards, **one at a time and in
the order recorded**.  A crash can fall between any two of them, which is how
the course shows bugs such as "acknowledge before forcing the log".

Examples
--------
>>> Persist(records=(("vote", 2, "n3"),))
Persist(('vote', 2, 'n3'))
"""

from dataclasses import dataclass

from .messages import Message, Timer

__all__ = ["Intention", "Send", "SetTimer", "CancelTimer", "Persist", "Note", "Torn"]


class Intention:
    """Base class of the five kinds of intention (small values compared by their fields)."""

    __slots__ = ()
    _fields = ()

    def _values(self):
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other):
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self):
        return hash((type(self).__name__,) + self._values())

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):   # never changed once recorded: copies share it
        return self


class Send(Intention):
    """Send ``msg`` to node (or client) ``to``."""

    __slots__ = _fields = ("to", "msg")

    def __init__(self, to, msg):
        self.to = to
        self.msg = msg

    def __repr__(self):
        return f"Send(->{self.to} {self.msg!r})"


class SetTimer(Intention):
    """Arm ``timer`` to fire after ``after_ticks`` ticks of the node's own clock.

    An equal timer that is already armed is replaced (its countdown restarts).
    """

    __slots__ = _fields = ("timer", "after_ticks")

    def __init__(self, timer, after_ticks):
        self.timer = timer
        self.after_ticks = after_ticks

    def __repr__(self):
        return f"SetTimer({self.timer!r} in {self.after_ticks})"


class CancelTimer(Intention):
    """Disarm every armed timer equal to ``timer`` (nothing happens if none is)."""

    __slots__ = _fields = ("timer",)

    def __init__(self, timer):
        self.timer = timer

    def __repr__(self):
        return f"CancelTimer({self.timer!r})"


class Persist(Intention):
    """Append ``records`` to the node's stable storage, in order.

    A crash in the middle of a multi-record write can leave the last record
    torn: see :class:`Torn`.
    """

    __slots__ = _fields = ("records",)

    def __init__(self, records):
        self.records = records

    def __repr__(self):
        return "Persist(" + ", ".join(repr(r) for r in self.records) + ")"


class Note(Intention):
    """An annotation for the trace and the viewers (``"became leader"``)."""

    __slots__ = _fields = ("text", "fields")

    def __init__(self, text, fields=()):
        self.text = text
        self.fields = fields

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.fields)
        return f"Note({self.text!r}{extra})"


@dataclass(frozen=True, slots=True, repr=False)
class Torn:
    """A record that was only partly written when its node crashed.

    Real systems detect such a record with a checksum; in the simulator the
    recovery code sees a ``Torn`` object and must discard it.
    """

    record: object

    def __repr__(self):
        return f"Torn({self.record!r})"
