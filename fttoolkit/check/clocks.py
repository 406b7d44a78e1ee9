"""Happened-before from a run's trace: Lamport clocks and vector clocks, as an observer computes them.

The events of a process are the marks on its line in the space-time diagram
(:func:`fttoolkit.viz.scene.diagram_of`): a **send** (trace kind ``sent``, at
the sender) and a **receive** (``delivered``: the network hands the message to
the receiver, whatever the protocol then does with it), matched by the
message's id ``mid``.  A copy made by the network (``duplicated``, with
``of`` = the original's mid) carries the timestamp of the original send.  A
message that is lost still has its send event; it has no receive.  Messages
a node sends to itself are not drawn in the diagram and are skipped unless
``loopback=True``; ``local=`` adds local events, such as ``"timer_fired"``
or ``"request"`` (a client's request arriving).

Event ``a`` **happened before** ``b`` (a -> b) when they are on one process
with ``a`` first, or ``a`` sends a message that ``b`` receives, or through a
chain of such steps; otherwise, unless they are the same event, they are
**concurrent**.  Lamport clocks satisfy the clock condition (a -> b implies
C(a) < C(b)), but not its converse; vector clocks characterise -> exactly:
a -> b if and only if V(a) < V(b).

The clocks are computed here, from the trace, by an observer; the nodes
know nothing of them.  A crashed and restarted node keeps its line (and its
clock) in the diagram, as if its clock were on stable storage.

Examples
--------
>>> from fttoolkit import Broadcast
>>> cluster = Broadcast(nodes=3, seed=1, delay=10)
>>> cluster.broadcast("n1", "hi")
>>> _ = cluster.run(until=25)
>>> events = vector_clocks(cluster)
>>> events[:3]
[n1 send Rumor->n2 C=[1 0 0], n1 send Rumor->n3 C=[2 0 0], n2 receive Rumor<-n1 C=[1 1 0]]
>>> happened_before(events[0], events[2]), concurrent(events[1], events[2])
(True, True)
>>> [e.clock for e in lamport_clocks(cluster)[:3]]
[1, 2, 2]

Notes
-----
Lamport, "Time, Clocks, and the Ordering of Events in a Distributed System"
(CACM 21(7), 1978): the happened-before relation, rules IR1 and IR2, the
clock condition.  Fidge, "Timestamps in Message-Passing Systems That Preserve
the Partial Ordering" (1988) and Mattern, "Virtual Time and Global States of
Distributed Systems" (1989): vector clocks.
"""

from dataclasses import dataclass, field

from ..core.errors import BadParameter
from ..core.ids import id_key, sorted_ids
from ..core.invariants import Violation

__all__ = ["ClockEvent", "VectorClock", "LOCAL_KINDS", "BUGS", "lamport_clocks", "vector_clocks",
           "happened_before", "concurrent", "clock_condition"]

#: Trace kinds that may count as local events (``local=``).
LOCAL_KINDS = ("timer_fired", "request", "reply", "note", "stored", "role", "start", "crashed", "restarted")

#: Named mistakes the clocks can be computed with, for the course to show what the rules are for.
BUGS = {
    "ignore-timestamp": "on receipt, the receiver only ticks its own clock and ignores the timestamp the "
                        "message carries (Lamport's IR2, the max with the message's time, is missing)",
}


@dataclass(frozen=True, eq=True, order=False)
class VectorClock:
    """A vector timestamp: one counter per process, in the order of ``ids``.

    Compared with the partial order of vector clocks: ``u <= v`` when every
    component of u is at most v's; ``u < v`` when also u != v.  Two clocks
    neither of which is below the other belong to concurrent events.

    Examples
    --------
    >>> u = VectorClock(("n1", "n2"), (1, 0))
    >>> v = VectorClock(("n1", "n2"), (1, 2))
    >>> u < v, v < u, u["n2"], u
    (True, False, 0, [1 0])
    >>> w = VectorClock(("n1", "n2"), (0, 1))
    >>> u < w or w < u
    False
    """

    ids: tuple
    counts: tuple

    def __getitem__(self, node_id):
        try:
            return self.counts[self.ids.index(node_id)]
        except ValueError:
            raise BadParameter(f"{node_id!r} is not a process of this clock ({', '.join(self.ids)})") from None

    def as_dict(self):
        """Node id -> counter."""
        return dict(zip(self.ids, self.counts))

    def _same(self, other):
        if not isinstance(other, VectorClock):
            return NotImplemented
        if other.ids != self.ids:
            raise BadParameter(f"vector clocks over different processes cannot be compared: {self.ids} and {other.ids}")
        return True

    def __le__(self, other):
        if self._same(other) is NotImplemented:
            return NotImplemented
        return all(a <= b for a, b in zip(self.counts, other.counts))

    def __lt__(self, other):
        if self._same(other) is NotImplemented:
            return NotImplemented
        return self.counts != other.counts and self <= other

    def __ge__(self, other):
        if self._same(other) is NotImplemented:
            return NotImplemented
        return other <= self

    def __gt__(self, other):
        if self._same(other) is NotImplemented:
            return NotImplemented
        return other < self

    def __repr__(self):
        return "[" + " ".join(str(c) for c in self.counts) + "]"


@dataclass(frozen=True)
class ClockEvent:
    """An event on a process's line, with its timestamp.

    Attributes
    ----------
    seq : int
        The trace event's sequence number.
    tick : int
        Its simulated time (where it sits in the space-time diagram).
    node : str
        The process it happened at.
    kind : str
        ``"send"``, ``"receive"``, or the trace kind of a local event.
    mid : int or None
        The message's id, the same for a send and its receive (a copy the
        network made is received under its original's id, so one send can
        have two receives).
    peer : str or None
        The receiver of a send, the sender of a receive.
    message : str or None
        The message's type (``"Rumor"``).
    clock : int or VectorClock
        Its Lamport clock or its vector clock.
    """

    seq: int
    tick: int
    node: str
    kind: str
    mid: object = None
    peer: object = None
    message: object = None
    clock: object = field(default=None, compare=False)

    def __repr__(self):
        if self.kind == "send":
            what = f"send {self.message}->{self.peer}"
        elif self.kind == "receive":
            what = f"receive {self.message}<-{self.peer}"
        else:
            what = self.kind
        return f"{self.node} {what} C={self.clock!r}"


def _trace_and_ids(source, ids):
    trace = getattr(source, "trace", source)
    if not hasattr(trace, "filter") or not hasattr(trace, "__iter__"):
        raise BadParameter(f"expected a trace (cluster.trace) or a cluster; got {source!r}")
    if ids is None:
        ids = getattr(source, "ids", None)
    return trace, ids


def _check_options(local, bugs):
    local = (local,) if isinstance(local, str) else tuple(local)
    for kind in local:
        if kind not in LOCAL_KINDS:
            raise BadParameter(f"{kind!r} cannot be a local event; choose from {', '.join(LOCAL_KINDS)}")
    bugs = (bugs,) if isinstance(bugs, str) else tuple(bugs)
    for bug in bugs:
        if bug not in BUGS:
            raise BadParameter(f"unknown bug {bug!r}; known: {', '.join(BUGS)}")
    return frozenset(local), frozenset(bugs)


def _events(trace, local, loopback):
    """Yield (event, kind, mid, peer, message type): the process events, in trace order.

    A receive's ``mid`` is that of the send it matches (a copy's original).
    """
    original = {}
    for e in trace:
        kind = e.kind
        if kind == "sent":
            d = e.data
            if d["src"] == d["dst"] and not loopback:
                continue
            yield e, "send", d["mid"], d["dst"], type(d["msg"]).__name__
        elif kind == "duplicated":
            original[e.data["mid"]] = original.get(e.data["of"], e.data["of"])
        elif kind == "delivered":
            d = e.data
            if d["src"] == d["dst"] and not loopback:
                continue
            yield e, "receive", original.get(d["mid"], d["mid"]), d["src"], type(d["msg"]).__name__
        elif kind in local and e.node is not None:
            yield e, kind, None, None, None


def lamport_clocks(trace, local=(), loopback=False, bugs=()):
    """Lamport clocks of every event of a run, in trace order.

    Parameters
    ----------
    trace : Trace or front door
        A run's trace (``cluster.trace``), or the cluster itself.
    local : iterable of str
        Trace kinds to count as local events too (see :data:`LOCAL_KINDS`);
        none by default, so the events are the diagram's sends and receives.
    loopback : bool
        Count messages a node sends to itself.
    bugs : iterable of str
        Named mistakes from :data:`BUGS` (``"ignore-timestamp"``).

    Returns
    -------
    list of ClockEvent
        ``clock`` is an int >= 1.

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=2, seed=1, delay=10)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run()
    >>> lamport_clocks(cluster)
    [n1 send Rumor->n2 C=1, n2 receive Rumor<-n1 C=2, n2 send Ack->n1 C=3, n1 receive Ack<-n2 C=4]

    Notes
    -----
    Lamport (1978), IR1: a process increments its clock between any two
    of its events; IR2: a message carries its send's timestamp Tm, and the
    receiver sets its clock to max(its clock, Tm) + 1.
    """
    trace, _ = _trace_and_ids(trace, None)
    local, bugs = _check_options(local, bugs)
    clock = {}
    sent = {}
    out = []
    for e, kind, mid, peer, message in _events(trace, local, loopback):
        c = clock.get(e.node, 0)
        if kind == "receive" and "ignore-timestamp" not in bugs:
            c = max(c, sent.get(mid, 0))      # a send missing from the trace counts as time 0
        c += 1
        clock[e.node] = c
        if kind == "send":
            sent[mid] = c
        out.append(ClockEvent(e.seq, e.tick, e.node, kind, mid, peer, message, c))
    return out


def vector_clocks(trace, ids=None, local=(), loopback=False, bugs=()):
    """Vector clocks of every event of a run, in trace order.

    Parameters
    ----------
    trace : Trace or front door
        A run's trace, or the cluster itself (which also gives ``ids``).
    ids : list of str, optional
        The processes, in the order of the vector's components (default: the
        cluster's ids, or every node the trace mentions, in natural order).
    local, loopback, bugs
        As for :func:`lamport_clocks`.

    Returns
    -------
    list of ClockEvent
        ``clock`` is a :class:`VectorClock`.

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=2, seed=1, delay=10)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run()
    >>> vector_clocks(cluster)
    [n1 send Rumor->n2 C=[1 0], n2 receive Rumor<-n1 C=[1 1], n2 send Ack->n1 C=[1 2], n1 receive Ack<-n2 C=[2 2]]

    Notes
    -----
    Fidge (1988), Mattern (1989): process i increments component i at each
    of its events; a message carries the sender's vector; a receiver first
    takes the component-wise maximum with it.
    """
    trace, ids = _trace_and_ids(trace, ids)
    local, bugs = _check_options(local, bugs)
    events = list(_events(trace, local, loopback))
    if ids is None:
        ids = sorted_ids({e.node for e in trace if e.node is not None and e.kind in ("start", "sent", "delivered")}
                         | {item[0].node for item in events})
    ids = tuple(ids)
    position = {node: k for k, node in enumerate(ids)}
    missing = sorted({item[0].node for item in events if item[0].node not in position}, key=id_key)
    if missing:
        raise BadParameter(f"the trace has events at {', '.join(missing)}, which are not in ids ({', '.join(ids)})")
    zero = (0,) * len(ids)
    clock = {}
    sent = {}
    out = []
    for e, kind, mid, peer, message in events:
        v = list(clock.get(e.node, zero))
        if kind == "receive" and "ignore-timestamp" not in bugs:
            v = [max(a, b) for a, b in zip(v, sent.get(mid, zero))]
        v[position[e.node]] += 1
        v = tuple(v)
        clock[e.node] = v
        if kind == "send":
            sent[mid] = v
        out.append(ClockEvent(e.seq, e.tick, e.node, kind, mid, peer, message, VectorClock(ids, v)))
    return out


def _vector(x):
    clock = x.clock if isinstance(x, ClockEvent) else x
    if not isinstance(clock, VectorClock):
        raise BadParameter(f"happened_before and concurrent compare vector clocks (from vector_clocks); got {x!r}")
    return clock


def happened_before(a, b):
    """Whether event ``a`` happened before event ``b``: V(a) < V(b).

    Parameters
    ----------
    a, b : ClockEvent or VectorClock
        Events from :func:`vector_clocks` (or their clocks).

    Examples
    --------
    >>> ids = ("n1", "n2")
    >>> happened_before(VectorClock(ids, (1, 0)), VectorClock(ids, (1, 1)))
    True

    Notes
    -----
    Exact for vector clocks (Mattern 1989, Theorem 10); a Lamport clock only
    gives the one direction a -> b => C(a) < C(b) (Lamport 1978).
    """
    return _vector(a) < _vector(b)


def concurrent(a, b):
    """Whether ``a`` and ``b`` are concurrent: neither happened before the other, and they are different events.

    >>> ids = ("n1", "n2")
    >>> concurrent(VectorClock(ids, (1, 0)), VectorClock(ids, (0, 1)))
    True
    """
    u, v = _vector(a), _vector(b)
    return u != v and not u < v and not v < u


def clock_condition(events):
    """The places where a list of stamped events breaks the clock condition (a -> b implies C(a) < C(b)).

    It checks the two generating steps of ->: consecutive events of one
    process, and a message's send and its receives; since < is transitive,
    that covers every chain.

    Parameters
    ----------
    events : list of ClockEvent
        From :func:`lamport_clocks` or :func:`vector_clocks`, in trace order.

    Returns
    -------
    list of Violation
        Empty when the condition holds.

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1, delay=10)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run()
    >>> clock_condition(lamport_clocks(cluster))
    []
    >>> clock_condition(lamport_clocks(cluster, bugs=["ignore-timestamp"]))[0]
    Violation('Clock condition', nodes=('n1', 'n2'), detail='n1 send Rumor->n2 C=1 at t=0 happened before n2 receive Rumor<-n1 C=1 at t=10, but its clock is not smaller')

    Notes
    -----
    The clock condition is Lamport's (1978, §2): C1, for two events of one
    process, and C2, for a send and its receipt.
    """
    found = []
    last = {}
    sends = {}

    def broken(a, b):
        if not a.clock < b.clock:
            found.append(Violation("Clock condition", (a.node, b.node) if a.node != b.node else (a.node,),
                                   f"{a!r} at t={a.tick} happened before {b!r} at t={b.tick}, "
                                   "but its clock is not smaller"))

    for e in events:
        before = last.get(e.node)
        if before is not None:
            broken(before, e)
        last[e.node] = e
        if e.kind == "send":
            sends[e.mid] = e
        elif e.kind == "receive":
            send = sends.get(e.mid)
            if send is not None:
                broken(send, e)
    return found
