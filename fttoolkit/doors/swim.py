"""``fttoolkit.SwimDetection``: SWIM failure detection and membership (Das, Gupta & Motivala, 2002)."""

from ..algorithms.swim import INVARIANTS, LIVENESS, Ping, SwimNode, completeness_bound
from ..core.errors import BadParameter
from .base import FrontDoor, register

__all__ = ["SwimDetection"]


@register
class SwimDetection(FrontDoor):
    """A SWIM group: every member probes one other per period and gossips membership updates.

    Parameters (besides those of every front door): ``period_ticks``, ``ack_timeout_ticks``,
    ``k``, ``suspect_timeout_periods``, ``piggyback_lambda``, ``max_piggyback`` (see
    :class:`fttoolkit.algorithms.swim.SwimNode`).  No client requests: crash members and watch.

    Examples
    --------
    >>> group = SwimDetection(nodes=4, seed=1)
    >>> _ = group.run(until=300)
    >>> group.crash("n3")
    >>> _ = group.run(until=2000)
    >>> group.statuses()["n1"]
    {'n2': 'alive', 'n3': 'dead', 'n4': 'alive'}
    >>> group.suspects()
    {'n1': [], 'n2': [], 'n3': None, 'n4': []}
    """

    name = "swim"
    node_class = SwimNode
    summary = "SWIM failure detection: round-robin probes, indirect probes, suspicion, piggybacked gossip"
    invariants = INVARIANTS
    liveness = LIVENESS
    fuzz_ticks = 4000
    fuzz_requests = 0
    fuzz_params = {"suspect_timeout_periods": (2, 3, 5), "k": (1, 3)}

    # ---- looking ------------------------------------------------------------------------
    def statuses(self):
        """Observer -> {member: "alive" | "suspected" | "dead"} (``None`` for a crashed observer)."""
        self.sim._ensure_started()
        return {i: (dict(self.sim.nodes[i].status) if self.sim.up[i] else None) for i in self.ids}

    def suspects(self):
        """Observer -> the members it suspects now, in natural order (``None`` for a crashed observer)."""
        return {i: (None if s is None else [m for m, v in s.items() if v == "suspected"])
                for i, s in self.statuses().items()}

    def dead(self):
        """Observer -> the members it confirmed dead (``None`` for a crashed observer)."""
        return {i: (None if s is None else [m for m, v in s.items() if v == "dead"])
                for i, s in self.statuses().items()}

    def incarnations(self):
        """Member -> its own incarnation number (``None`` if crashed)."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].incarnation if self.sim.up[i] else None) for i in self.ids}

    def completeness_bound(self):
        """Ticks within which every live member confirms a crash (see :func:`completeness_bound`)."""
        p = dict(SwimNode.params, **self.sim.params)
        return completeness_bound(len(self.ids), p["period_ticks"], p["suspect_timeout_periods"])

    def notes(self, text):
        """The trace's notes ``text`` ("suspect", "refute", "confirm", "cleared") as ``(tick, node, member)``."""
        return [(e.tick, e.node, e.data["fields"].get("member")) for e in self.trace
                if e.kind == "note" and e.data["text"] == text]

    def messages_per_member_per_period(self, start=0, end=None):
        """Messages sent in ticks ``[start, end)`` (default: the whole run) per member per period."""
        end = self.now if end is None else end
        period = dict(SwimNode.params, **self.sim.params)["period_ticks"]
        if end <= start:
            raise BadParameter(f"need end > start; got start={start}, end={end}")
        sent = sum(1 for e in self.trace if e.kind == "sent" and start <= e.tick < end)
        return sent / (len(self.ids) * (end - start) / period)

    # ---- the e/(e-1) experiment ------------------------------------------------------------
    @classmethod
    def first_probe_periods(cls, seeds, nodes=50, crashed="n1", warmup_periods=3, **params):
        """For each seed: periods from a crash until some member first pings the crashed member.

        ``seeds`` is a count or an iterable of seeds.  The member crashes at the start of period
        ``warmup_periods + 1``; the result counts 1 if it is pinged within the next period, 2 within
        the one after, and so on.  SWIM §3.1 (with uniformly random targets) gives a mean of
        ``1 / (1 - (1 - 1/(n-1))**(n-1))``, which tends to e/(e-1) ≈ 1.58 as n grows; round-robin
        over shuffled lists gives about the same mean for the first detection.
        """
        if isinstance(seeds, int):
            seeds = range(seeds)
        out = []
        for seed in seeds:
            door = cls(nodes=nodes, seed=seed, check=False, **params)
            door.sim.snapshot_every = None
            period = dict(SwimNode.params, **door.sim.params)["period_ticks"]
            crash_at = warmup_periods * period
            door.run(until=crash_at)
            door.crash(crashed)
            seen = len(door.trace)
            k = 0
            while True:
                k += 1
                door.run(until=crash_at + k * period - 1, max_steps=10_000_000)
                events = door.trace._events
                if any(e.kind == "sent" and e.data["dst"] == crashed and type(e.data["msg"]) is Ping
                       for e in events[seen:]):
                    out.append(k)
                    break
                seen = len(events)
                if k > 4 * nodes:       # pragma: no cover - round robin forbids this
                    raise RuntimeError(f"seed {seed}: {crashed} never probed")
        return out

    # ---- scripts and fuzzing ------------------------------------------------------------
    def workload(self, until, requests=3):
        """No client workload: SWIM runs by itself (the fuzzer's crashes are the test)."""
