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
    """Base class of the five kinds of intention."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, repr=False)
class Send(Intention):
    """Send ``msg`` to node (or client) ``to``."""

    to: str
    msg: Message

    def __repr__(self):
        return f"Send(->{self.to} {self.msg!r})"


@dataclass(frozen=True, slots=True, repr=False)
class SetTimer(Intention):
    """Arm ``timer`` to fire after ``after_ticks`` ticks of the node's own clock.

    An equal timer that is already armed is replaced (its countdown restarts).
    """

    timer: Timer
    after_ticks: int

    def __repr__(self):
        return f"SetTimer({self.timer!r} in {self.after_ticks})"


@dataclass(frozen=True, slots=True, repr=False)
class CancelTimer(Intention):
    """Disarm every armed timer equal to ``timer`` (nothing happens if none is)."""

    timer: Timer

    def __repr__(self):
        return f"CancelTimer({self.timer!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Persist(Intention):
    """Append ``records`` to the node's stable storage, in order.

    A crash in the middle of a multi-record write can leave the last record
    torn: see :class:`Torn`.
    """

    records: tuple

    def __repr__(self):
        return "Persist(" + ", ".join(repr(r) for r in self.records) + ")"


@dataclass(frozen=True, slots=True, repr=False)
class Note(Intention):
    """An annotation for the trace and the viewers (``"became leader"``)."""

    text: str
    fields: tuple = ()

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
