"""Messages and timers: small frozen values whose ``repr`` reads like a transcript.

Subclass :class:`Message` or :class:`Timer` and list the fields with type
annotations; the class becomes a frozen dataclass automatically.  Each class
also learns the name of the handler that receives it, derived from its own
name: ``RequestVote`` is handled by ``on_request_vote``.

Examples
--------
>>> class RequestVote(Message):
...     term: int
...     last_index: int
>>> RequestVote(term=2, last_index=3)
RequestVote(term=2, last_index=3)
>>> RequestVote.handler_name
'on_request_vote'
>>> class ElectionTimeout(Timer):
...     term: int
>>> ElectionTimeout(term=2).handler_name
'on_election_timeout'
"""

import dataclasses
import re

__all__ = ["Message", "Timer", "handler_name_for", "fields_of"]

_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


def handler_name_for(class_name):
    """Return the handler method name for a message or timer class name.

    Examples
    --------
    >>> handler_name_for("RequestVote")
    'on_request_vote'
    >>> handler_name_for("PingReq")
    'on_ping_req'
    >>> handler_name_for("P1a")
    'on_p1a'
    """
    snake = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", class_name)).lower()
    return "on_" + snake


def fields_of(value):
    """Return a message's or timer's fields as an ordered dict."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _check_hashable(self):
    """Refuse mutable field values: a list sent or stored could later change under the receiver."""
    try:
        hash(self)
    except TypeError:
        raise TypeError(
            f"{type(self).__name__}: a message or timer must be immutable (numbers, strings, tuples, "
            f"frozensets, frozen dataclasses), so that changing the sender's memory later cannot "
            f"change it; got {[getattr(self, f.name) for f in dataclasses.fields(self)]!r}") from None


class _Value:
    """Common behaviour of messages and timers."""

    __slots__ = ()
    handler_name = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__annotations__" not in cls.__dict__:
            cls.__annotations__ = {}
        if "__post_init__" not in cls.__dict__:
            cls.__post_init__ = _check_hashable
        dataclasses.dataclass(cls, frozen=True, repr=False, eq=True)
        cls.handler_name = handler_name_for(cls.__name__)
        cls._field_names = tuple(f.name for f in dataclasses.fields(cls))

    def __repr__(self):
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._field_names)
        return f"{type(self).__name__}({inner})"

    # Immutable values: a copy (a time-travel snapshot, a fork) shares them.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class Message(_Value):
    """Base class of every protocol message (sent between nodes)."""

    __slots__ = ()


class Timer(_Value):
    """Base class of every timer a node can set.

    A timer carries its context (for example the term in which it was set),
    so that a handler can recognise and ignore a stale one.
    """

    __slots__ = ()
