"""The node base class: a sans-I/O state machine.

A protocol is a subclass of :class:`Node`.  Messages and timers go in through
handlers; intentions come out.  Handlers follow one naming convention:

* a message ``Foo`` from another node is handled by ``on_foo(self, msg, sender)``;
* a timer ``Bar`` is handled by ``on_bar(self, timer)``;
* ``on_start(self, records)`` runs when the node boots, with the records that
  survived on its stable storage (empty at first boot).

Inside a handler, use :meth:`Node.send`, :meth:`Node.set_timer`,
:meth:`Node.cancel_timer`, :meth:`Node.persist` and :meth:`Node.note`.  They
only record intentions; the simulator carries them out afterwards, one at a
time, in order.  Everything else a handler touches is the node's own
*volatile* state, which a crash wipes out.

Examples
--------
>>> from fttoolkit.core.messages import Message
>>> class Ping(Message):
...     seq: int
>>> class Echo(Node):
...     def on_ping(self, msg, sender):
...         self.send(sender, Ping(msg.seq + 1))
>>> node = Echo("n1", peers=("n2",))
>>> node.handle_message(Ping(1), "n2")
[Send(->n2 Ping(seq=2))]
"""

import random

from .errors import BadParameter, HandlerError, NoHandler
from .intentions import CancelTimer, Note, Persist, Send, SetTimer
from .messages import Message, Timer

__all__ = ["Node"]

# Attributes owned by the framework; everything else a node sets is protocol state.
_FRAMEWORK = frozenset({"id", "peers", "neighbors", "params", "bugs", "rng", "now"})


def _check_immutable(node_id, what, value):
    """Refuse mutable values: a list sent or stored could later be changed through the node's memory."""
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"{node_id}: {what} must be immutable (numbers, strings, tuples, frozensets, frozen "
            f"dataclasses), so that changing the node's memory later cannot change it; got {value!r}"
        ) from None


class Node:
    """Base class of a protocol node.

    Parameters
    ----------
    node_id : str
        This node's id, for example ``"n1"``.
    peers : tuple of str
        The ids of every *other* node in the cluster, in natural order.
    neighbors : tuple of str, optional
        The ids of the nodes this one has a direct link to (defaults to ``peers``).
    params : dict, optional
        Protocol parameters; defaults come from the class attribute ``params``.
    bugs : iterable of str, optional
        Names of classic mistakes to switch on (from the class attribute ``bugs``).
    rng : random.Random, optional
        This node's own seeded random stream.

    Notes
    -----
    Class attributes a protocol may set:

    ``params``
        dict of parameter name to default value.
    ``bugs``
        dict of bug name to a one-line description.
    ``role``
        the node's role (for example ``"follower"``); the simulator records a
        trace event whenever it changes.
    """

    params = {}
    bugs = {}
    role = None
    _handlers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The dispatch table, built once per class: handler name -> function.
        table = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if name.startswith("on_") and callable(value):
                    table[name] = value
        cls._handlers = table

    def __init__(self, node_id, peers=(), neighbors=None, params=None, bugs=(), rng=None):
        self.id = node_id
        self.peers = tuple(peers)
        self.neighbors = self.peers if neighbors is None else tuple(neighbors)
        merged = dict(type(self).params)
        for key, value in (params or {}).items():
            if key not in merged:
                allowed = ", ".join(sorted(merged)) or "none"
                raise BadParameter(f"{type(self).__name__} has no parameter {key!r}; allowed: {allowed}")
            merged[key] = value
        self.params = merged
        unknown = sorted(set(bugs) - set(type(self).bugs))
        if unknown:
            allowed = ", ".join(sorted(type(self).bugs)) or "none"
            raise BadParameter(f"{type(self).__name__} has no bug {unknown[0]!r}; known bugs: {allowed}")
        self.bugs = frozenset(bugs)
        self.rng = rng if rng is not None else random.Random(f"{node_id}")
        self.now = 0
        self._intentions = []

    # ---- intentions -------------------------------------------------------------------
    def send(self, to, msg):
        """Record the intention to send ``msg`` to ``to``."""
        if not isinstance(msg, Message):
            raise TypeError(f"{self.id}: send() needs a Message, got {msg!r}")
        self._intentions.append(Send(to, msg))   # messages are immutable by construction

    def broadcast(self, msg, to=None):
        """Send ``msg`` to every peer (or to each id in ``to``), in natural order."""
        for peer in (self.peers if to is None else to):
            self.send(peer, msg)

    def set_timer(self, timer, after_ticks):
        """Record the intention to arm ``timer`` after ``after_ticks`` ticks of the local clock."""
        if not isinstance(timer, Timer):
            raise TypeError(f"{self.id}: set_timer() needs a Timer, got {timer!r}")
        if not isinstance(after_ticks, int) or after_ticks < 0:
            raise BadParameter(f"{self.id}: a timer needs a whole number of ticks >= 0; got {after_ticks!r}")
        self._intentions.append(SetTimer(timer, after_ticks))

    def cancel_timer(self, timer):
        """Record the intention to disarm every armed timer equal to ``timer``."""
        self._intentions.append(CancelTimer(timer))

    def persist(self, *records):
        """Record the intention to append ``records`` to stable storage (one write)."""
        if not records:
            raise BadParameter(f"{self.id}: persist() needs at least one record")
        for record in records:
            _check_immutable(self.id, "a stored record", record)
        self._intentions.append(Persist(tuple(records)))

    def note(self, text, **fields):
        """Record an annotation for the trace (``self.note("became leader", term=3)``)."""
        self._intentions.append(Note(text, tuple(fields.items())))

    # ---- hooks --------------------------------------------------------------------------
    def on_start(self, records):
        """Boot (or reboot) from ``records``, the contents of stable storage."""

    # ---- dispatch (called by the simulator) ---------------------------------------------
    def _run(self, name, args, what):
        fn = self._handlers.get(name)
        if fn is None:
            kind = "timer" if isinstance(what, Timer) else "message"
            extra = ", sender" if kind == "message" else ""
            arg = "timer" if kind == "timer" else "msg"
            raise NoHandler(
                f"{type(self).__name__} has no handler for the {kind} {type(what).__name__}: "
                f"define {name}(self, {arg}{extra})")
        try:
            fn(self, *args)
        except Exception as exc:
            raise self._failed(name, what, exc) from exc
        out, self._intentions = self._intentions, []
        return out

    def _failed(self, name, what, exc):
        """A bug in protocol code: forget the half-recorded intentions and say where it happened."""
        self._intentions = []
        return HandlerError(f"{self.id}.{name}({what!r}) raised {type(exc).__name__}: {exc} "
                            f"(local time {self.now})")

    def handle_message(self, msg, sender):
        """Run the handler for ``msg`` and return the intentions it recorded."""
        fn = self._handlers.get(msg.handler_name)
        if fn is None:
            return self._run(msg.handler_name, (msg, sender), msg)   # raises NoHandler
        try:
            fn(self, msg, sender)     # the common path, without _run's indirection
        except Exception as exc:
            raise self._failed(msg.handler_name, msg, exc) from exc
        out, self._intentions = self._intentions, []
        return out

    def handle_timer(self, timer):
        """Run the handler for ``timer`` and return the intentions it recorded."""
        return self._run(timer.handler_name, (timer,), timer)

    def start(self, records):
        """Run :meth:`on_start` and return the intentions it recorded."""
        self._intentions = []
        try:
            self.on_start(tuple(records))
        except Exception as exc:
            self._intentions = []
            raise HandlerError(f"{self.id}.on_start raised {type(exc).__name__}: {exc}") from exc
        out, self._intentions = self._intentions, []
        return out

    # ---- inspection ---------------------------------------------------------------------
    def state(self):
        """Return the node's protocol state (its public attributes) as a dict.

        Examples
        --------
        >>> class Counter(Node):
        ...     def on_start(self, records):
        ...         self.count = len(records)
        >>> n = Counter("n1")
        >>> _ = n.start([1, 2])
        >>> n.state()
        {'count': 2}
        """
        return {k: v for k, v in vars(self).items()
                if not k.startswith("_") and k not in _FRAMEWORK}

    def __repr__(self):
        role = f" {self.role}" if self.role is not None else ""
        return f"<{type(self).__name__} {self.id}{role}>"
