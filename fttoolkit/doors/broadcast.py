"""``fttoolkit.Broadcast``: reliable flooding broadcast, the demo protocol of Chapter 0."""

from ..algorithms.broadcast import INVARIANTS, LIVENESS, BroadcastNode, BroadcastRequest
from ..core.errors import BadParameter
from .base import FrontDoor, register

__all__ = ["Broadcast"]


@register
class Broadcast(FrontDoor):
    """Reliable broadcast by flooding, on any topology.

    Examples
    --------
    >>> b = Broadcast(nodes=4, seed=1)
    >>> b.broadcast("n1", "hello")
    >>> steps = b.run()
    >>> b.delivered()
    {'n1': ['n1:1'], 'n2': ['n1:1'], 'n3': ['n1:1'], 'n4': ['n1:1']}
    """

    name = "broadcast"
    node_class = BroadcastNode
    summary = "reliable flooding broadcast with acks and retransmission (Chapter 0 demo)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"broadcast": "broadcast NODE VALUE"}
    fuzz_topologies = ("complete", "ring", "path")

    def broadcast(self, node_id, value, at=None, client="client"):
        """Ask ``node_id`` to broadcast ``value``, now or at tick ``at``."""
        try:
            hash(value)
        except TypeError:
            raise BadParameter(f"a broadcast value must be immutable (a number, string or tuple); "
                               f"got {value!r}") from None
        return self._now_or_later(at, "request", node_id, BroadcastRequest(value), client=client)

    def script_command(self, name, args, line, at=None):
        """``broadcast NODE VALUE`` (the value is a Python literal, or else a word)."""
        from ..scenario import ScriptError, _value
        if len(args) != 2:
            raise ScriptError(f"line {line}: usage: broadcast NODE VALUE")
        self.broadcast(args[0], _value(args[1]), at=at)

    def delivered(self):
        """Node id -> the message ids it has delivered (``None`` for a crashed node)."""
        self.sim._ensure_started()
        return {i: (sorted(self.sim.nodes[i].delivered) if self.sim.up[i] else None) for i in self.ids}

    def workload(self, until, requests=3):
        """Schedule ``requests`` broadcasts from random nodes at random ticks before ``until``.

        Times, nodes and values come from the workload stream only.
        """
        rng = self.sim.streams.workload
        latest = max(until // 2, 0)
        plan = sorted((rng.randint(0, latest), rng.choice(self.ids)) for _ in range(requests))
        for k, (tick, node_id) in enumerate(plan, start=1):
            self.broadcast(node_id, f"v{k}", at=max(tick, self.now))
