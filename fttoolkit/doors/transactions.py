"""``fttoolkit.DistributedTransaction``: two-phase commit on a simulated cluster (Gray, 1978)."""

import re

from ..algorithms.twopc import INVARIANTS, LIVENESS, Begin, Refuse, TwoPCNode, as_writes
from ..core.errors import BadParameter
from .base import FrontDoor, register

__all__ = ["DistributedTransaction"]


@register
class DistributedTransaction(FrontDoor):
    """Atomic commitment with two-phase commit: one coordinator, participants with key-value stores.

    The coordinator is ``n1`` unless ``coordinator="nK"`` is given; every other
    node is a participant.  Parameters (besides those of every front door):
    ``coordinator``, ``timeout_ticks``, ``retry_ticks``, ``work_ticks``,
    ``cooperative`` (see :class:`fttoolkit.algorithms.twopc.TwoPCNode`).

    Script commands: ``begin TXN NODE:KEY=VALUE[,KEY=VALUE...] [NODE:KEY=VALUE...]``
    (values are Python literals, or else words) and ``refuse NODE TXN``.

    Examples
    --------
    >>> cluster = DistributedTransaction(nodes=3, seed=1, delay=10)
    >>> cluster.begin("T1", {"n2": {"x": 1}, "n3": {"y": 2}})
    >>> _ = cluster.run(until=100)
    >>> cluster.outcome("T1")
    {'n1': 'ended', 'n2': 'committed', 'n3': 'committed'}
    >>> cluster.stores()
    {'n2': {'x': 1}, 'n3': {'y': 2}}

    Notes
    -----
    Gray, "Notes on Data Base Operating Systems" (1978), §5.8.3; Gray & Lamport,
    "Consensus on Transaction Commit" (2006), §2-3: two-phase commit is a
    consensus protocol that blocks when its coordinator fails at the wrong time.
    """

    name = "2pc"
    node_class = TwoPCNode
    summary = "two-phase commit: a coordinator, participants with stores, presumed abort (Gray 1978)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"begin": "begin TXN NODE:KEY=VALUE[,KEY=VALUE] [NODE:KEY=VALUE ...]",
                       "refuse": "refuse NODE TXN"}
    fuzz_ticks = 3000
    fuzz_requests = 6
    fuzz_prefer_role = "coordinator"
    fuzz_params = {"cooperative": (False, True), "work_ticks": (0, 0, 30)}

    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, **params):
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=check, halt=halt, **params)
        coordinator = self.coordinator
        if coordinator not in self.ids:
            raise BadParameter(f"the coordinator {coordinator!r} is not a node of the cluster "
                               f"({', '.join(self.ids)})")

    @property
    def coordinator(self):
        """The coordinator's id."""
        return self.sim.params.get("coordinator", TwoPCNode.params["coordinator"])

    @property
    def participants(self):
        """The participants' ids, in natural order."""
        return [i for i in self.ids if i != self.coordinator]

    # ---- clients ------------------------------------------------------------------------
    def begin(self, txn, writes, at=None, client="client"):
        """A client asks the coordinator to run ``txn``, which writes ``writes`` (now, or at tick ``at``).

        ``writes`` maps participant ids to a dict of key -> value (immutable values), for
        example ``{"n2": {"x": 1}, "n3": {"y": 2}}``.  Raises :class:`fttoolkit.BadParameter`
        for an empty transaction, the coordinator as a participant, or a mutable value, and
        :class:`fttoolkit.UnknownNode` for a node that is not in the cluster.
        """
        if not isinstance(txn, str) or not txn:
            raise BadParameter(f"a transaction id must be a non-empty string such as 'T1'; got {txn!r}")
        if not isinstance(writes, dict) or not writes:
            raise BadParameter(f"writes must map participants to {{key: value}}, e.g. {{'n2': {{'x': 1}}}}; "
                               f"got {writes!r}")
        self.sim._ensure_started()
        for node, pairs in writes.items():
            self.sim.network.check_node(node)
            if node == self.coordinator:
                raise BadParameter(f"{node} is the coordinator, not a participant; participants: "
                                   f"{', '.join(self.participants)}")
            if not isinstance(pairs, dict) or not pairs:
                raise BadParameter(f"the writes at {node} must be a non-empty dict of key -> value; got {pairs!r}")
            for key, value in pairs.items():
                try:
                    hash(value)
                except TypeError:
                    raise BadParameter(f"a written value must be immutable (a number, string or tuple); "
                                       f"got {value!r} for {node}:{key}") from None
        return self._now_or_later(at, "request", self.coordinator, Begin(txn, as_writes(writes)), client=client)

    def refuse(self, node_id, txn, at=None, client="client"):
        """Tell participant ``node_id`` to vote no on ``txn`` (or to abort it, if it is still working)."""
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        if node_id == self.coordinator:
            raise BadParameter(f"{node_id} is the coordinator; only a participant can refuse a transaction")
        return self._now_or_later(at, "request", node_id, Refuse(txn), client=client)

    # ---- looking ------------------------------------------------------------------------
    def outcome(self, txn):
        """Node id -> the state of ``txn`` there (``None``: crashed, or never heard of it)."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].txns.get(txn) if self.sim.up[i] else None) for i in self.ids}

    def stores(self):
        """Participant id -> a copy of its key-value store (``None`` if crashed)."""
        self.sim._ensure_started()
        return {i: (dict(self.sim.nodes[i].kv) if self.sim.up[i] else None) for i in self.participants}

    def uncertain(self):
        """Participant id -> the transactions it voted yes for without knowing the outcome (crashed: ``None``)."""
        self.sim._ensure_started()
        return {i: (list(self.sim.nodes[i].uncertain) if self.sim.up[i] else None) for i in self.participants}

    def locks(self):
        """Participant id -> its locks (key -> txn); ``None`` if crashed."""
        self.sim._ensure_started()
        return {i: (dict(self.sim.nodes[i].locks) if self.sim.up[i] else None) for i in self.participants}

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``begin TXN NODE:KEY=VALUE[,KEY=VALUE] ...`` and ``refuse NODE TXN``."""
        from ..scenario import ScriptError, _value
        if name == "refuse":
            if len(args) != 2:
                raise ScriptError(f"line {line}: usage: refuse NODE TXN")
            self.refuse(args[0], args[1], at=at)
            return
        if len(args) < 2:
            raise ScriptError(f"line {line}: usage: {self.script_commands['begin']}")
        writes = {}
        for word in args[1:]:
            node, sep, rest = word.partition(":")
            if not sep or not rest:
                raise ScriptError(f"line {line}: expected NODE:KEY=VALUE[,KEY=VALUE], got {word!r}")
            for item in re.split(r",(?=[A-Za-z_][\w.-]*=)", rest):     # a comma before the next KEY=
                key, eq, text = item.partition("=")
                if not eq or not key:
                    raise ScriptError(f"line {line}: expected KEY=VALUE in {word!r}, got {item!r}")
                writes.setdefault(node, {})[key] = _value(text)
        self.begin(args[0], writes, at=at)

    def workload(self, until, requests=3):
        """Schedule ``requests`` transactions T1, T2... at random ticks before ``until``.

        Each writes one key (among x, y, z) at 2 or 3 random participants; half of them start
        within 20 ticks of the previous one, so overlapping transactions sometimes conflict on a
        lock and one of them aborts.
        """
        rng = self.sim.streams.workload
        parts = self.participants
        latest = max(until, 0)
        ticks = []
        for _ in range(requests):          # half of them start close to the previous one: they overlap
            near = ticks and rng.random() < 0.5
            ticks.append(min(latest, ticks[-1] + rng.randint(0, 20)) if near else rng.randint(0, latest))
        ticks.sort()
        for k, tick in enumerate(ticks, start=1):
            chosen = rng.sample(parts, min(len(parts), rng.choice([2, 3])))
            writes = {p: {rng.choice("xyz"): k} for p in chosen}
            self.begin(f"T{k}", writes, at=max(tick, self.now))
