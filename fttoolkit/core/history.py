"""Client histories: what clients asked a replicated object and what it answered.

A history is a list of :class:`Operation` values.  It is what a
linearizability checker (:mod:`fttoolkit.check.linearizability`) judges, what
the history view draws, and what a key-value store on a simulated cluster
records.  It lives in ``core`` so that protocol code, the simulator, the
checkers and the views can all speak it without importing each other.

>>> w = Operation(client="c1", kind="write", key=None, value=1, output=None, call=0, ret=3)
>>> r = Operation(client="c2", kind="read", key=None, value=None, output=1, call=4, ret=6)
>>> [op.kind for op in sorted([r, w], key=Operation.order)]
['write', 'read']
>>> w.completed, Operation("c3", "write", None, 2, None, 5, None).completed
(True, False)

Notes
-----
Times are simulated ticks (or, for histories read from files, the position
of the event in the file: only their order matters).  An operation whose
``ret`` is ``None`` never returned (Jepsen's ``:info``): it may have taken
effect at any moment after ``call``, or never.  An operation that definitely
did not take effect (Jepsen's ``:fail``) is simply left out of the history.
"""

from dataclasses import dataclass

from .errors import BadParameter

__all__ = ["Operation", "KINDS"]

#: The operation kinds the course's objects understand.  A register has
#: ``read``, ``write`` and ``cas`` (value is the pair ``(old, new)``, output
#: ``True``/``False``); a key-value map has ``get``, ``put`` and ``append``.
KINDS = ("read", "write", "cas", "get", "put", "append")


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation, from its invocation to its response.

    Parameters
    ----------
    client : str or int
        Who issued it.  A client has at most one operation outstanding.
    kind : str
        One of :data:`KINDS`.
    key : object or None
        The key, for a key-value map; ``None`` for a single register.
    value : object
        The argument: the value written, put or appended, or ``(old, new)``
        for ``cas``; ``None`` for reads.
    output : object
        What the object answered: the value read, ``True``/``False`` for
        ``cas``; ``None`` for writes, puts and appends, and for an operation
        that never returned.
    call, ret : int or None
        Invocation and response times; ``ret`` is ``None`` if the operation
        never returned.
    """

    client: object
    kind: str
    key: object
    value: object
    output: object
    call: int
    ret: object = None

    @property
    def completed(self):
        """True if a response came back."""
        return self.ret is not None

    def order(self):
        """Sort key: by invocation time, then client (deterministic)."""
        return (self.call, str(self.client))

    def __post_init__(self):
        if self.kind not in KINDS:
            raise BadParameter(f"unknown operation kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.ret is not None and self.ret < self.call:
            raise BadParameter(f"operation {self.kind} by {self.client!r} returns at {self.ret}, "
                             f"before its invocation at {self.call}")
