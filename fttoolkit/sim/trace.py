"""The trace: every event of a run, numbered, timed and exportable.

Events are appended by the simulator and pushed to subscribed observers (a
widget, a logger, an invariant checker).  A trace exports to JSON Lines; the
same seed and the same inputs give a byte-identical file.

Event kinds
-----------
``start``, ``restarted``, ``crashed``
    a node booted, rebooted from its stable storage, or crashed.
``sent``, ``delivered``, ``dropped``, ``duplicated``, ``held``, ``released``
    a message's life in the network (``held`` = stuck on a clogged link).
``timer_set``, ``timer_cancelled``, ``timer_fired``
    a node's timers.
``stored``
    records appended to a node's stable storage (``torn`` when a crash cut it).
``note``, ``role``
    annotations recorded by the protocol; a change of a node's ``role``.
``request``, ``reply``
    a client's request into the cluster and a node's reply to a client.
``partitioned``, ``healed``, ``clogged``, ``unclogged``, ``network``, ``link``, ``clock``
    faults and changes of the network or of a node's clock rate.
``violation``
    an invariant broke (reported by a checker such as :class:`fttoolkit.check.Monitor`).
"""

import dataclasses
import io
import json

__all__ = ["Event", "Trace", "jsonable"]


def jsonable(value):
    """Convert ``value`` to plain JSON data, deterministically.

    Messages, timers and other dataclasses become objects with a ``type`` key;
    tuples become lists, sets become sorted lists.

    Examples
    --------
    >>> jsonable((1, frozenset({"b", "a"}), {"k": None}))
    [1, ['a', 'b'], {'k': None}]
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = jsonable(getattr(value, f.name))
        return out
    return repr(value)


class Event:
    """One thing that happened, at simulated time ``tick``.

    Attributes
    ----------
    seq : int
        Position in the trace, from 0.
    tick : int
        Simulated time (1 tick = 1 ms of simulated time).
    kind : str
        What happened (see the module docstring for the list).
    node : str or None
        The node it happened at: the sender for ``sent``, ``duplicated``,
        ``held``, ``released`` and losses on the way; the receiver for
        ``delivered`` and for drops on arrival (crashed receiver, partition).
    data : dict
        The details, depending on ``kind``.
    """

    __slots__ = ("seq", "tick", "kind", "node", "data")

    def __init__(self, seq, tick, kind, node, data):
        self.seq = seq
        self.tick = tick
        self.kind = kind
        self.node = node
        self.data = data

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        """Return ``data[key]``, or ``default`` if the event has no such detail."""
        return self.data.get(key, default)

    def to_dict(self):
        """Return the event as plain JSON data."""
        out = {"seq": self.seq, "tick": self.tick, "kind": self.kind, "node": self.node}
        for key, value in self.data.items():
            out[key] = jsonable(value)
        return out

    def describe(self):
        """Return the event's body as a transcript fragment (without seq and tick)."""
        d = self.data
        kind = self.kind
        if kind in ("sent", "delivered", "duplicated", "held", "released"):
            body = f"{d['src']}->{d['dst']} {d['msg']!r}"
            if kind == "duplicated":
                body += f" (copy of m{d['of']})"
            return body
        if kind == "dropped":
            return f"{d['src']}->{d['dst']} {d['msg']!r} ({d['reason']})"
        if kind in ("timer_set", "timer_cancelled", "timer_fired"):
            when = f" (due t={d['due']})" if kind == "timer_set" else ""
            return f"{self.node} {d['timer']!r}{when}"
        if kind == "stored":
            return f"{self.node} " + ", ".join(repr(r) for r in d["records"])
        if kind == "note":
            extra = "".join(f" {k}={v!r}" for k, v in d["fields"].items())
            return f"{self.node} {d['text']}{extra}"
        if kind == "role":
            return f"{self.node} {d['old']} -> {d['new']}"
        if kind == "violation":
            where = f" at {', '.join(d['nodes'])}" if d["nodes"] else ""
            return f"{d['invariant']}{where}: {d['detail']}"
        if kind == "request":
            return f"{d['client']}->{self.node} {d['msg']!r}"
        if kind == "reply":
            return f"{self.node}->{d['client']} {d['msg']!r}"
        extra = " ".join(f"{k}={v!r}" for k, v in d.items())
        return f"{self.node or ''} {extra}".strip()

    def __repr__(self):
        return f"#{self.seq} t={self.tick} {self.kind} {self.describe()}"


class Trace:
    """The ordered list of events of one run, with observers.

    Examples
    --------
    >>> t = Trace()
    >>> seen = []
    >>> t.subscribe(seen.append)
    >>> t.append(0, "note", "n1", {"text": "hello", "fields": {}})
    #0 t=0 note n1 hello
    >>> len(t), seen[0].kind
    (1, 'note')
    """

    def __init__(self):
        self._events = []
        self._observers = []
        self.header = {}
        self.muted = False   # True while a rewind replays events the observers have seen

    # ---- recording ----------------------------------------------------------------------
    def append(self, tick, kind, node, data):
        """Record a new event and pass it to every observer."""
        events = self._events
        event = Event(len(events), tick, kind, node, data)
        events.append(event)
        if self._observers and not self.muted:
            for observer in self._observers:
                observer(event)
        return event

    def subscribe(self, observer):
        """Call ``observer(event)`` for every event appended from now on."""
        self._observers.append(observer)

    def unsubscribe(self, observer):
        """Stop calling ``observer``."""
        self._observers.remove(observer)

    # ---- reading ------------------------------------------------------------------------
    def __len__(self):
        return len(self._events)

    def __iter__(self):
        return iter(self._events)

    def __getitem__(self, index):
        return self._events[index]

    def filter(self, kind=None, node=None):
        """Return the events of the given kind(s) and/or node, in order."""
        kinds = {kind} if isinstance(kind, str) else (set(kind) if kind else None)
        return [e for e in self._events
                if (kinds is None or e.kind in kinds) and (node is None or e.node == node)]

    def counts(self):
        """Return how many events of each kind the trace holds."""
        out = {}
        for e in self._events:
            out[e.kind] = out.get(e.kind, 0) + 1
        return dict(sorted(out.items()))

    # ---- export -------------------------------------------------------------------------
    def write_jsonl(self, fp):
        """Write the header line (if any), then one JSON object per event."""
        dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        if self.header:
            fp.write(dump({"fttoolkit": jsonable(self.header)}) + "\n")
        for event in self._events:
            fp.write(dump(event.to_dict()) + "\n")

    def to_jsonl(self):
        """Return the JSON Lines export as a string."""
        buf = io.StringIO()
        self.write_jsonl(buf)
        return buf.getvalue()

    def transcript(self, start=0, stop=None):
        """Return a readable transcript, one line per event."""
        return "\n".join(f"{e.seq:>6}  t={e.tick:<6} {e.kind:<15} {e.describe()}"
                         for e in self._events[start:stop])

    def __repr__(self):
        return f"<Trace: {len(self._events)} events>"
