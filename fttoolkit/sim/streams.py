"""Seeded random streams: one master seed split into independent streams.

The network, the fault injector, the workload and every node each draw from
their own :class:`random.Random`, seeded from the master seed and the
stream's name.  Adding a fault therefore does not reshuffle message delays,
and adding a node does not change the other nodes' random choices.

Examples
--------
>>> a, b = Streams(7), Streams(7)
>>> a.network.random() == b.network.random()
True
>>> a.node("n1").random() == a.node("n2").random()
False
"""

import random

from ..core.errors import BadParameter

__all__ = ["Streams", "check_seed"]


def check_seed(seed):
    """Return ``seed`` if it is a whole number >= 0, else raise :class:`BadParameter`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadParameter(f"seed must be a whole number >= 0; got {seed!r}")
    return seed


class Streams:
    """The named random streams of one run.

    Parameters
    ----------
    seed : int
        The master seed.

    Notes
    -----
    Each stream is ``random.Random("fttoolkit/<seed>/<name>")``; Python seeds a
    ``Random`` from a string through SHA-512, so the streams are the same on
    every machine and every Python process (they do not depend on
    ``PYTHONHASHSEED``).
    """

    def __init__(self, seed):
        self.seed = check_seed(seed)
        self.network = self._make("network")
        self.faults = self._make("faults")
        self.workload = self._make("workload")
        self._nodes = {}

    def _make(self, name):
        return random.Random(f"fttoolkit/{self.seed}/{name}")

    def __deepcopy__(self, memo):
        # Copy each generator through its state tuple (fast, and the tuple is immutable),
        # and tell the memo, so that the nodes' references to their stream follow.
        other = object.__new__(type(self))
        memo[id(self)] = other

        def clone(rng):
            new = random.Random()
            new.setstate(rng.getstate())
            memo[id(rng)] = new
            return new

        other.seed = self.seed
        other.network, other.faults, other.workload = clone(self.network), clone(self.faults), clone(self.workload)
        other._nodes = {k: clone(v) for k, v in self._nodes.items()}
        return other

    def node(self, node_id):
        """Return node ``node_id``'s own stream (the same object across restarts)."""
        rng = self._nodes.get(node_id)
        if rng is None:
            rng = self._nodes[node_id] = self._make(f"node/{node_id}")
        return rng
