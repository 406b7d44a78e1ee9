"""What a picture of a simulation shows, as plain data (no drawing here).

:func:`scene_of` reads a simulation at its current tick and says where every
node is, how it looks, which links are cut, where each message in flight is
along its link, which messages were just lost, and which invariants are
broken.  :func:`diagram_of` reads a window of the trace for a space-time
diagram.  The renderer only turns these into pixels, so tests can check that
a picture is exactly what the simulator did without looking at pixels.

Examples
--------
>>> from fttoolkit import Broadcast
>>> cluster = Broadcast(nodes=3, seed=1, delay=10)
>>> cluster.broadcast("n1", "hi")
>>> _ = cluster.run(until=4)
>>> scene = scene_of(cluster.sim)
>>> [(m.src, m.dst, m.type, m.f) for m in scene.messages]
[('n1', 'n2', 'Rumor', 0.4), ('n1', 'n3', 'Rumor', 0.4)]
"""

import bisect
import math

from ..core.ids import id_key
from .adapters import adapter_for

__all__ = ["NodeLook", "LinkLook", "MessageLook", "DropLook", "Scene", "scene_of", "layout",
           "DiagramData", "diagram_of", "TraceIndex"]


class NodeLook:
    """One node: position, running or crashed, fill and marker, caption, badge, timer progress, broken invariants."""

    __slots__ = ("id", "x", "y", "up", "fill", "marker", "role", "caption", "badge", "progress", "broken")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self):
        state = "up" if self.up else "CRASHED"
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("role", "caption", "badge", "broken")
                        if getattr(self, k))
        return f"<node {self.id} {state}{extra}>"


class LinkLook:
    """A link between two nodes; ``state`` is ``ok``, ``cut``, ``oneway``, ``clogged`` or ``down``.

    ``down`` means an end is crashed; ``oneway`` means only ``a -> b`` is cut.
    """

    __slots__ = ("a", "b", "state")

    def __init__(self, a, b, state):
        self.a, self.b, self.state = a, b, state

    def __repr__(self):
        return f"<link {self.a}-{self.b} {self.state}>"


class MessageLook:
    """A message in flight, ``f`` of the way from ``src`` to ``dst`` (0 = just sent, 1 = due now)."""

    __slots__ = ("name", "type", "src", "dst", "f", "copy_of", "held", "msg")

    def __init__(self, name, type, src, dst, f, copy_of, held, msg):
        self.name, self.type, self.src, self.dst, self.f = name, type, src, dst, f
        self.copy_of, self.held, self.msg = copy_of, held, msg

    def __repr__(self):
        extra = (f" copy of m{self.copy_of}" if self.copy_of else "") + (" held" if self.held else "")
        return f"<{self.name} {self.src}->{self.dst} {self.type} at {self.f:.2f}{extra}>"


class DropLook:
    """A message lost recently, where it was lost: ``f`` of the way along its link."""

    __slots__ = ("type", "src", "dst", "f", "reason", "tick")

    def __init__(self, type, src, dst, f, reason, tick):
        self.type, self.src, self.dst, self.f, self.reason, self.tick = type, src, dst, f, reason, tick

    def __repr__(self):
        return f"<lost {self.src}->{self.dst} {self.type} ({self.reason}) t={self.tick}>"


class Scene:
    """Everything one frame of the cluster view shows.

    Attributes
    ----------
    now, steps : int
        Tick and step count of the frame.
    nodes : dict
        Node id -> :class:`NodeLook`.
    links : list of LinkLook
    messages : list of MessageLook
        In flight now (loopback messages, which never travel, are left out).
    drops : list of DropLook
        Lost within the last ``fade_ticks`` ticks (the latest loss per link, direction and reason).
    groups : list of tuple
        The sides of the current partition (empty when there is none).
    violations : list of dict
        Every invariant broken so far: ``invariant``, ``name`` (its short
        name), ``nodes``, ``detail``, ``tick``, ``step``.
    """

    def __init__(self, now, steps):
        self.now = now
        self.steps = steps
        self.nodes = {}
        self.links = []
        self.messages = []
        self.drops = []
        self.groups = []
        self.violations = []


def layout(ids, groups=(), positions=None):
    """Node positions on a circle (``n1`` at the top, clockwise), each partition side together.

    When the network is partitioned, the nodes of each side sit next to each
    other with a gap between the sides, so the groups are apparent.  Explicit
    ``positions`` (id -> (x, y), e.g. a graph's ``pos`` attributes) win.

    Examples
    --------
    >>> pos = layout(["n1", "n2", "n3", "n4"])
    >>> [tuple(round(c, 2) for c in pos[i]) for i in ["n1", "n2"]]
    [(0.0, 1.0), (1.0, 0.0)]
    """
    if positions:
        return dict(positions)
    order = []
    if groups:
        placed = set()
        for group in groups:
            order.extend(i for i in group if i not in placed)
            order.append(None)            # a gap between the sides
            placed.update(group)
        rest = [i for i in ids if i not in placed]
        order.extend(rest)
        if not rest:
            order.pop()
        if len(groups) + bool(rest) < 2:
            order = [i for i in order if i is not None]
        else:
            order.append(None)
    else:
        order = list(ids)
    slots = len(order)
    pos = {}
    for k, node_id in enumerate(order):
        if node_id is not None:
            angle = 2 * math.pi * k / slots
            pos[node_id] = (round(math.sin(angle), 12), round(math.cos(angle), 12))
    if len(ids) == 1:
        pos[ids[0]] = (0.0, 0.0)
    return pos


class TraceIndex:
    """Incremental facts about a growing trace, each event read once: broken invariants and faults.

    Call :meth:`update` before reading; it notices a trace that shrank or was
    replaced (a rewind, a reset) and starts over.
    """

    _FAULTS = ("crashed", "restarted", "partitioned", "healed")

    def __init__(self):
        self._trace = None
        self._scanned = 0
        self.violations = []
        self.faults = []      # crash, restart, partition and heal events, in order

    def update(self, trace):
        events = trace._events
        if trace is not self._trace or len(events) < self._scanned or (
                self._scanned and events[self._scanned - 1] is not self._last):
            self._trace, self._scanned, self.violations, self.faults = trace, 0, [], []
        for event in events[self._scanned:]:
            kind = event.kind
            if kind == "violation":
                d = event.data
                self.violations.append({
                    "invariant": d["invariant"], "name": d["invariant"].split(":")[0],
                    "nodes": list(d["nodes"]), "detail": d["detail"], "tick": event.tick,
                    "step": d.get("step"), "seq": event.seq})
            elif kind in self._FAULTS:
                self.faults.append(event)
        self._scanned = len(events)
        self._last = events[-1] if events else None
        return self


def _fraction(now, sent, due):
    if due <= sent:
        return 1.0
    return min(max((now - sent) / (due - sent), 0.0), 1.0)


def _first_at(events, tick):
    """Index of the first event at or after ``tick`` (events are in tick order)."""
    return bisect.bisect_left(events, tick, key=lambda e: e.tick)


def scene_of(sim, adapter=None, fade_ticks=None, index=None, positions=None, at=None):
    """Describe the current frame of ``sim`` (see :class:`Scene`).

    Parameters
    ----------
    sim : fttoolkit.sim.Simulation
    adapter : ViewAdapter, optional
        Default: the one registered for the protocol.
    fade_ticks : int, optional
        How long a lost message stays marked (default: the longest delay, at least 10).
    index : TraceIndex, optional
        Kept between frames so the whole trace is not scanned every time.
    positions : dict, optional
        Fixed node positions (default: :func:`layout`).
    at : int, optional
        Draw the moment ``at`` (a tick from now up to, not including, the next
        step's tick) instead of now: messages in flight glide on, nothing else
        changes.  This is how a replay shows the time between two recorded steps.
    """
    adapter = adapter or adapter_for(sim.node_class)
    sim._ensure_started()
    now = sim.now if at is None else max(at, sim.now)
    net = sim.network
    if fade_ticks is None:
        fade_ticks = max(10, net.defaults.delay[1])
    scene = Scene(now, sim.steps)
    ids = sim.ids
    if net.cuts:
        groups = [tuple(g) for g in net.partition_groups]
        named = {i for g in groups for i in g}
        rest = tuple(i for i in ids if i not in named)
        scene.groups = groups + ([rest] if rest else [])
    pos = layout(ids, scene.groups, positions)
    index = (index or TraceIndex()).update(sim.trace)
    scene.violations = list(index.violations)
    broken = {}
    for v in scene.violations:
        for node_id in v["nodes"]:
            broken.setdefault(node_id, []).append(v["name"])
    for node_id in ids:
        x, y = pos[node_id]
        node = sim.nodes[node_id]
        if sim.up[node_id]:
            fill, marker = adapter.style(node)
            look = NodeLook(id=node_id, x=x, y=y, up=True, fill=fill, marker=marker, role=adapter.role(node),
                            caption=adapter.caption(node), badge=adapter.badge(node),
                            progress=adapter.progress(node, sim.timers(node_id), now))
        else:
            look = NodeLook(id=node_id, x=x, y=y, up=False, caption="crashed")
        look.broken = sorted(set(broken.get(node_id, ())))
        scene.nodes[node_id] = look
    cuts, clogged = net.cuts, net.clogged
    seen = set()
    for a, b in sorted(sim.graph.edges(), key=lambda e: (id_key(e[0]), id_key(e[1]))):
        if a == b or (b, a) in seen:
            continue
        seen.add((a, b))
        a, b = sorted((a, b), key=id_key)
        if (a, b) in cuts and (b, a) in cuts:
            state = "cut"
        elif (a, b) in cuts or (b, a) in cuts:
            state = "oneway"
            if (b, a) in cuts:
                a, b = b, a
        elif (a, b) in clogged or (b, a) in clogged:
            state = "clogged"
        elif not (sim.up[a] and sim.up[b]):
            state = "down"
        else:
            state = "ok"
        scene.links.append(LinkLook(a, b, state))
    for m, held in sim.in_flight():
        if m.src == m.dst:
            continue
        f = 0.85 if held else _fraction(now, m.sent_at, m.due)
        scene.messages.append(MessageLook(m.name, type(m.msg).__name__, m.src, m.dst, f, m.copy_of, held, m.msg))
    events = sim.trace._events
    start = _first_at(events, now - fade_ticks)
    lost = [e for e in events[start:] if e.kind == "dropped" and e.data["src"] in pos and e.data["src"] != e.data["dst"]]
    if lost:
        sent = {}
        look_from = _first_at(events, now - fade_ticks - 4 * net.defaults.delay[1] - 1)
        for e in events[look_from:]:
            if e.kind in ("sent", "duplicated"):
                sent[e.data["mid"]] = (e.tick, e.data["due"])
        latest = {}                           # one mark per link, direction and reason: the latest
        for e in lost:
            latest[(e.data["src"], e.data["dst"], e.data["reason"], e.node)] = e
        for e in sorted(latest.values(), key=lambda e: e.seq):
            d = e.data
            if e.node == d["dst"]:            # lost on arrival: crashed receiver, or a cut
                f = 1.0
            elif d["reason"] == "manual" and d["mid"] in sent:
                f = _fraction(e.tick, *sent[d["mid"]])
            else:                             # lost as it left: loss, a cut, no link
                f = 0.0
            scene.drops.append(DropLook(type(d["msg"]).__name__, d["src"], d["dst"], f, d["reason"], e.tick))
    return scene


# ================================================================ space-time diagram data
class DiagramData:
    """What a space-time diagram of ticks ``start .. end`` shows.

    Attributes
    ----------
    messages : list of tuple
        ``(type, src, dst, t_sent, t_end, f_end, status)``: the arrow goes from
        ``(t_sent, src)`` to ``t_end``, ``f_end`` of the way to ``dst``
        (1.0 for a delivery).  ``status`` is ``delivered``, ``lost``,
        ``in flight`` or ``copy`` (a duplicate that was delivered).
    crashes, restarts : list of (node, tick)
    down : list of (node, from_tick, to_tick)
        Intervals when a node was crashed.
    partitions : list of (from_tick, to_tick)
    violations : list of (tick, name, nodes)
    """

    def __init__(self, ids, start, end, now):
        self.ids, self.start, self.end, self.now = list(ids), start, end, now
        self.messages = []
        self.crashes = []
        self.restarts = []
        self.down = []
        self.partitions = []
        self.violations = []


def diagram_of(trace, ids, start, end, now=None, lookback=None, index=None):
    """Read the window ``start .. end`` of ``trace`` for a space-time diagram.

    Messages sent up to ``lookback`` ticks before the window (default: its
    length) and still travelling inside it are included.  ``index`` (a
    :class:`TraceIndex` kept between calls) saves rereading the whole trace.

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1, delay=10)
    >>> cluster.broadcast("n1", "hi")
    >>> _ = cluster.run(until=15)
    >>> data = diagram_of(cluster.trace, cluster.ids, 0, 15)
    >>> sorted(m[:6] + (m[6],) for m in data.messages)[:2]
    [('Ack', 'n2', 'n1', 10, 15, 0.5, 'in flight'), ('Ack', 'n3', 'n1', 10, 15, 0.5, 'in flight')]
    """
    now = end if now is None else now
    data = DiagramData(ids, start, end, now)
    events = trace._events
    lookback = (end - start) if lookback is None else lookback
    first = _first_at(events, start - lookback)
    last = bisect.bisect_right(events, end, key=lambda e: e.tick)
    flying = {}            # mid -> [type, src, dst, t_sent, due, copy]
    down_since = {}
    cut_since = None
    # What was true when the window opened: nodes already down, a partition already on.
    index = (index or TraceIndex()).update(trace)
    for e in index.faults:
        if e.seq >= first:
            break
        if e.kind == "crashed":
            down_since[e.node] = e.tick
        elif e.kind == "restarted":
            down_since.pop(e.node, None)
        elif e.kind == "partitioned":
            cut_since = e.tick if cut_since is None else cut_since
        else:
            cut_since = None
    for e in events[first:last]:
        kind = e.kind
        if kind in ("sent", "duplicated"):
            d = e.data
            if d["src"] != d["dst"]:
                flying[d["mid"]] = [type(d["msg"]).__name__, d["src"], d["dst"], e.tick, d["due"],
                                    kind == "duplicated"]
        elif kind == "delivered":
            m = flying.pop(e.data["mid"], None)
            if m is not None and e.tick >= start:
                data.messages.append((m[0], m[1], m[2], m[3], e.tick, 1.0, "copy" if m[5] else "delivered"))
        elif kind == "dropped":
            m = flying.pop(e.data["mid"], None)
            if m is not None and e.tick >= start:
                f = 1.0 if e.node == m[2] else _fraction(e.tick, m[3], m[4])
                data.messages.append((m[0], m[1], m[2], m[3], e.tick, f, "lost"))
        elif kind == "crashed":
            down_since[e.node] = e.tick
            if e.tick >= start:
                data.crashes.append((e.node, e.tick))
        elif kind == "restarted":
            since = down_since.pop(e.node, None)
            if e.tick >= start:
                data.restarts.append((e.node, e.tick))
                if since is not None:
                    data.down.append((e.node, max(since, start), e.tick))
        elif kind == "partitioned":
            cut_since = e.tick if cut_since is None else cut_since
        elif kind == "healed":
            if cut_since is not None and e.tick >= start:
                data.partitions.append((max(cut_since, start), e.tick))
            cut_since = None
        elif kind == "violation" and e.tick >= start:
            data.violations.append((e.tick, e.data["invariant"].split(":")[0], list(e.data["nodes"])))
    for m in flying.values():
        if m[3] <= end and m[4] >= start:
            data.messages.append((m[0], m[1], m[2], m[3], min(now, end), _fraction(min(now, end), m[3], m[4]),
                                  "in flight"))
    for node_id, since in down_since.items():
        data.down.append((node_id, max(since, start), min(now, end)))
    if cut_since is not None:
        data.partitions.append((max(cut_since, start), min(now, end)))
    return data
