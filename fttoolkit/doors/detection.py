"""``fttoolkit.FailureDetection``: heartbeat and φ accrual failure detectors, and their quality of service.

The doors :class:`HeartbeatDetection` ("heartbeat") and :class:`PhiDetection`
("phi") run :mod:`fttoolkit.algorithms.heartbeat`; :func:`FailureDetection`
picks one by name (``"swim"`` too, from :mod:`fttoolkit.doors.swim`).

:func:`qos` measures a detector as Chen, Toueg & Aguilera ("On the Quality of
Service of Failure Detectors", 2002) do, per pair (monitor, member):

``T_D``  detection time: from the member's crash to the monitor's *permanent* suspicion;
``T_MR`` mistake recurrence time: time between two mistakes (estimated as the
         observed pair-time divided by the number of mistakes; ``inf`` with none);
``T_M``  mistake duration: how long a wrong suspicion lasts (``None`` with none);
``P_A``  query accuracy probability: the fraction of time a live member is trusted.

Everything is computed from the trace of seeded runs: no wall clock.
"""

import math

from ..algorithms.heartbeat import Heartbeat, HeartbeatNode, PhiNode, Ping, Pong, _check_params, invariants_for
from ..check.monitor import Monitor
from ..core.errors import BadParameter
from .base import FrontDoor, register

__all__ = ["HeartbeatDetection", "PhiDetection", "FailureDetection", "DETECTORS", "qos", "sweep", "summarize"]


class _Detection(FrontDoor):
    """Shared by the detector doors: looking at suspicions; the completeness check."""

    fuzz_ticks = 2000
    fuzz_requests = 0
    #: The fuzzer varies the mode; the topology ("all" by default) is chosen with ``--param topology=monitor``
    #: (a fuzz parameter may not be called ``topology``: that name is the fuzzer's own).
    fuzz_params = {"mode": ("push", "pull")}

    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, **params):
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=False, halt=halt, **params)
        merged = dict(self.node_class.params, **self.sim.params)
        _check_params(self.node_class, merged)
        if merged["topology"] == "monitor" and merged["monitor"] not in self.ids:
            raise BadParameter(f"the monitor {merged['monitor']!r} is not in the cluster ({', '.join(self.ids)})")
        self.invariants = invariants_for(self.node_class, self.sim.params, self.sim.bugs)
        if check:
            Monitor.attach(self.sim, self.invariants, halt=halt)

    @property
    def settings(self):
        """The protocol parameters in force (defaults included)."""
        return dict(self.node_class.params, **self.sim.params)

    def status(self):
        """Monitor -> {member: "alive" | "suspected"} (``None`` for a crashed node; {} for a non-monitor)."""
        self.sim._ensure_started()
        return {i: (dict(self.sim.nodes[i].status) if self.sim.up[i] else None) for i in self.ids}

    def suspects(self):
        """Running monitor -> the members it suspects, in natural order (crashed nodes left out)."""
        from ..core.ids import sorted_ids
        return {i: sorted_ids(m for m, s in st.items() if s == "suspected")
                for i, st in self.status().items() if st is not None and (st or self.sim.nodes[i].members)}

    def workload(self, until, requests=0):
        """Failure detectors take no client requests: nothing to schedule."""
        return None


@register
class HeartbeatDetection(_Detection):
    """Fixed-timeout heartbeats, push or pull, all-to-all or to one monitor.

    Parameters: ``interval_ticks``, ``timeout_ticks``, ``mode``, ``topology``, ``monitor``
    (see :class:`fttoolkit.algorithms.heartbeat.HeartbeatNode`).

    >>> d = HeartbeatDetection(nodes=3, seed=1)
    >>> d.crash("n3", at=200)
    >>> _ = d.run(until=400)
    >>> d.suspects()
    {'n1': ['n3'], 'n2': ['n3']}
    """

    name = "heartbeat"
    node_class = HeartbeatNode
    summary = "failure detection by heartbeats and a fixed timeout (push or pull)"


@register
class PhiDetection(_Detection):
    """The φ accrual failure detector (Hayashibara et al. 2004).

    Parameters: ``interval_ticks``, ``window``, ``threshold``, ``min_std_ticks``, ``mode``,
    ``topology``, ``monitor`` (see :class:`fttoolkit.algorithms.heartbeat.PhiNode`).

    >>> d = PhiDetection(nodes=3, seed=1)
    >>> d.crash("n3", at=500)
    >>> _ = d.run(until=700)
    >>> d.suspects()
    {'n1': ['n3'], 'n2': ['n3']}
    >>> d.phi("n1", "n2") < 1
    True
    """

    name = "phi"
    node_class = PhiNode
    summary = "the phi accrual failure detector: suspicion level from inter-arrival statistics"

    def phi(self, monitor, member):
        """φ of ``member`` as seen by the running ``monitor``, now (on the monitor's clock)."""
        self.sim._ensure_started()
        self.sim.network.check_node(monitor)
        node = self.sim.nodes[monitor]
        if not self.sim.up[monitor]:
            raise BadParameter(f"{monitor} is crashed: it has no φ to give")
        if member not in node.status:
            raise BadParameter(f"{monitor} does not monitor {member!r}; it monitors: {', '.join(node.members) or 'nobody'}")
        return node.phi(member, self.sim.local_time(monitor))


#: ``FailureDetection(detector=...)`` names.
DETECTORS = ("heartbeat", "phi", "swim")


def _door_class(detector):
    if isinstance(detector, type) and issubclass(detector, FrontDoor):
        return detector
    if detector == "heartbeat":
        return HeartbeatDetection
    if detector == "phi":
        return PhiDetection
    if detector == "swim":
        try:
            from .swim import SwimDetection
        except ImportError as exc:
            raise BadParameter(f"the SWIM detector is not available yet ({exc}); "
                               f"use detector='heartbeat' or 'phi'") from None
        return SwimDetection
    raise BadParameter(f"unknown detector {detector!r}; detectors: {', '.join(DETECTORS)}")


def FailureDetection(detector="heartbeat", **kwargs):
    """The seed's front door: a failure-detection cluster (``detector``: "heartbeat", "phi" or "swim").

    Returns a :class:`HeartbeatDetection`, :class:`PhiDetection` or ``SwimDetection``
    built with ``kwargs`` (``nodes``, ``seed``, network settings, parameters).

    >>> FailureDetection("phi", nodes=4, seed=2).name
    'phi'
    """
    return _door_class(detector)(**kwargs)


FailureDetection.detectors = DETECTORS


# ----------------------------------------------------------------------------------- QoS
_TRAFFIC = (Heartbeat, Ping, Pong)


def _pair_timelines(trace, end):
    """(monitor, member) -> list of (start, stop) suspicion intervals before ``end`` (from the notes)."""
    open_, spans = {}, {}
    for e in trace:
        if e.tick >= end:
            break
        if e.kind == "note" and e.data["text"] in ("suspect", "trust"):
            pair = (e.node, e.data["fields"]["member"])
            if e.data["text"] == "suspect" and pair not in open_:
                open_[pair] = e.tick
            elif e.data["text"] == "trust" and pair in open_:
                spans.setdefault(pair, []).append((open_.pop(pair), e.tick))
    for pair, start in open_.items():
        spans.setdefault(pair, []).append((start, end))
    return spans


def qos(door_class, seeds, nodes=5, until=3000, crash_at=2000, crash=None, warmup=0, **params):
    """Measure a detector's quality of service; return one row (a dict) per seed.

    Each seed runs ``door_class`` (a door class or "heartbeat" / "phi") with ``nodes`` nodes
    and ``params`` (protocol parameters and network settings: ``delay``, ``loss``...) until
    tick ``until``; the member ``crash`` (default: the last node) crashes at ``crash_at``
    (``None``: no crash).  Accuracy is measured over ``[warmup, crash_at)`` (or ``until``) on
    every (monitor, member) pair; detection time on every (monitor, crashed member) pair.

    Columns: ``detector, seed, nodes`` and the parameters given, then ``T_D`` (mean detection
    time over the monitors, ``None`` if one never suspected for good or no crash), ``T_D_max``,
    ``T_MR``, ``T_M``, ``P_A``, ``mistakes`` (wrong suspicions), ``msgs_per_member_period``
    (heartbeats, pings and pongs sent per member per ``interval_ticks``, before the crash).
    """
    cls = _door_class(door_class)
    if isinstance(seeds, int):
        seeds = range(seeds)
    if crash_at is not None and not 0 < crash_at < until:
        raise BadParameter(f"crash_at must be between 0 and until={until}; got {crash_at!r}")
    if not 0 <= warmup < (crash_at if crash_at is not None else until):
        raise BadParameter(f"warmup must be >= 0 and before the crash (or the end); got {warmup!r}")
    rows = []
    for seed in seeds:
        door = cls(nodes=nodes, seed=seed, check=False, **params)
        victim = crash if crash is not None else door.ids[-1]
        settings = door.settings
        if settings["topology"] == "monitor" and victim == settings["monitor"]:
            raise BadParameter(f"the crashed member {victim!r} is the only monitor; crash another node")
        if crash_at is not None:
            door.crash(victim, at=crash_at)
        door.sim.snapshot_every = None
        door.run(until=until)
        end = crash_at if crash_at is not None else until
        spans = _pair_timelines(door.trace, end)
        pairs = [(q, p) for q in door.ids for p in door.sim.nodes[q].members] \
            if all(door.sim.up.values()) else None
        if pairs is None:       # the victim is down: its node object is gone, rebuild its monitoring
            from ..algorithms.heartbeat import _watches
            pairs = [(q, p) for q in door.ids for p in _watches(settings, q, [i for i in door.ids if i != q])]
        span = end - warmup
        mistakes, wrong = 0, 0
        for pair in pairs:
            for start, stop in spans.get(pair, []):
                if stop > warmup:
                    mistakes += start >= warmup
                    wrong += stop - max(start, warmup)
        pair_time = span * len(pairs)
        sent = sum(1 for e in door.trace if e.kind == "sent" and e.tick < end and isinstance(e.data["msg"], _TRAFFIC))
        periods = end / settings["interval_ticks"]
        row = {"detector": cls.name, "seed": seed, "nodes": len(door.ids)}
        row.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(params.items())})
        detect = []
        if crash_at is not None:
            for q in door.ids:
                if q == victim or (q, victim) not in pairs:
                    continue
                final = None         # the start of the suspicion that lasts (0 if it began before the crash)
                for e in door.trace:
                    if e.kind == "note" and e.node == q and e.data["fields"].get("member") == victim:
                        final = max(e.tick, crash_at) if e.data["text"] == "suspect" else None
                detect.append(None if final is None else final - crash_at)
        ok = detect and None not in detect
        row.update({
            "T_D": (sum(detect) / len(detect)) if ok else None,
            "T_D_max": max(detect) if ok else None,
            "T_MR": (pair_time / mistakes) if mistakes else math.inf,
            "T_M": (wrong / mistakes) if mistakes else None,
            "P_A": 1 - wrong / pair_time if pair_time else None,
            "mistakes": mistakes,
            "msgs_per_member_period": sent / len(door.ids) / periods,
        })
        rows.append(row)
    return rows


_MEASURES = ("T_D", "T_D_max", "T_MR", "T_M", "P_A", "mistakes", "msgs_per_member_period")


def summarize(rows):
    """Average the measures of per-seed rows into one row (``None`` values are left out of a mean)."""
    if not rows:
        raise BadParameter("summarize() needs at least one row")
    out = {k: v for k, v in rows[0].items() if k not in _MEASURES and k != "seed"}
    out["seeds"] = len(rows)
    for key in _MEASURES:
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = sum(values) / len(values) if values else None
    return out


def sweep(door_class, name, values, seeds=5, **kwargs):
    """:func:`qos` for each value of the parameter ``name`` (a protocol parameter, or ``nodes``,
    ``delay``, ``loss``...); one averaged row per value (see :func:`summarize`)."""
    if not values:
        raise BadParameter("sweep() needs at least one value")
    out = []
    for value in values:
        out.append(summarize(qos(door_class, seeds, **dict(kwargs, **{name: value}))))
    return out
