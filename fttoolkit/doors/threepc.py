"""``fttoolkit.ThreePhaseCommit``: three-phase commit on a simulated cluster (Skeen, SIGMOD 1981)."""

from ..algorithms.threepc import FINAL, INVARIANTS, LIVENESS, Begin, ThreePCNode, decisions_in
from ..core.errors import BadParameter
from .base import FrontDoor, register

__all__ = ["ThreePhaseCommit"]


def _immutable(what, value):
    try:
        hash(value)
    except TypeError:
        raise BadParameter(f"{what} must be immutable (a number, string or tuple); got {value!r}") from None


@register
class ThreePhaseCommit(FrontDoor):
    """Three-phase commit: a coordinator and participants with key-value stores.

    The coordinator is ``n1`` unless the parameter ``coordinator`` names another
    node; every other node is a participant with a small key-value store.
    Parameters (besides those of every front door): ``coordinator``,
    ``delay_bound_ticks`` (the delay bound the timeouts assume; see
    :class:`fttoolkit.algorithms.threepc.ThreePCNode`).

    Examples
    --------
    >>> cluster = ThreePhaseCommit(nodes=4, seed=1, delay=10)
    >>> cluster.begin("t1", {"n2": {"x": 1}, "n3": {"y": 2}})
    >>> _ = cluster.run(until=200)
    >>> cluster.outcome("t1")
    'committed'
    >>> cluster.stores()
    {'n1': {}, 'n2': {'x': 1}, 'n3': {'y': 2}, 'n4': {}}

    Notes
    -----
    Skeen, "Nonblocking Commit Protocols" (SIGMOD 1981): with a pre-commit round
    between the votes and the commit, operational sites can always finish a
    transaction among themselves when the others crash, provided that a timeout
    reliably means a crash (bounded delays).  Under a partition that premise
    fails, and one side may commit while the other aborts (``preset("partition")``).
    """

    name = "3pc"
    node_class = ThreePCNode
    summary = "three-phase commit: votes, pre-commit, commit; nonblocking termination protocol (Skeen 1981)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"begin": "begin TXN NODE:key=value,... NODE:key=value"}
    fuzz_ticks = 3000
    fuzz_requests = 5
    fuzz_prefer_role = "coordinator"

    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, **params):
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=check, halt=halt, **params)
        if self.coordinator not in self.ids:
            raise BadParameter(f"the coordinator {self.coordinator!r} is not a node of the cluster "
                               f"({', '.join(self.ids)})")

    # ---- clients ------------------------------------------------------------------------
    def normalize(self, txn, writes):
        """Check a transaction and return its writes as ``((participant, ((key, value), ...)), ...)``."""
        if not isinstance(txn, str) or not txn or " " in txn:
            raise BadParameter(f"a transaction id is a word such as 't1'; got {txn!r}")
        if not isinstance(writes, dict) or not writes:
            raise BadParameter(f"writes maps participants to {{key: value}}, for at least one participant; "
                               f"got {writes!r}")
        coordinator = self.coordinator
        out = []
        for participant in sorted(writes, key=lambda p: self.ids.index(p) if p in self.ids else -1):
            self.sim.network.check_node(participant)
            if participant == coordinator:
                raise BadParameter(f"{participant} is the coordinator; participants are the other nodes")
            pairs = writes[participant]
            if isinstance(pairs, dict):
                pairs = tuple(pairs.items())
            if not pairs:
                raise BadParameter(f"{participant} has nothing to write in {txn}")
            for key, value in pairs:
                _immutable("a key", key)
                _immutable("a value", value)
            out.append((participant, tuple(pairs)))
        return tuple(out)

    def begin(self, txn, writes, at=None, client="client"):
        """A client asks the coordinator to run ``txn``, now or at tick ``at``.

        ``writes`` maps each participant to ``{key: value}``.  Raises
        :class:`fttoolkit.BadParameter` for a malformed transaction (or the
        coordinator as a participant) and :class:`fttoolkit.UnknownNode` for a
        node that is not in the cluster.
        """
        self.sim._ensure_started()
        msg = Begin(txn, self.normalize(txn, writes))
        return self._now_or_later(at, "request", self.coordinator, msg, client=client)

    @property
    def coordinator(self):
        """The coordinator's id."""
        return self.sim.params.get("coordinator", ThreePCNode.params["coordinator"])

    # ---- looking ------------------------------------------------------------------------
    def transactions(self):
        """The transaction ids clients started, in order."""
        return list(dict.fromkeys(e["msg"].txn for e in self.trace
                                  if e.kind == "request" and isinstance(e["msg"], Begin)))

    def outcome(self, txn):
        """"committed", "aborted", "undecided" or "split" (committed somewhere, aborted elsewhere).

        Read from the decisions logged during the run (crashes do not erase them).
        """
        self.sim._ensure_started()
        if txn not in self.transactions():
            raise BadParameter(f"no transaction {txn!r} was started; started: {', '.join(self.transactions()) or 'none'}")
        d = decisions_in(self.trace).get(txn, {"committed": set(), "aborted": set()})
        if d["committed"] and d["aborted"]:
            return "split"
        return "committed" if d["committed"] else "aborted" if d["aborted"] else "undecided"

    def txn_states(self, txn):
        """Node id -> its state for ``txn`` (``None`` if it does not know it, or is crashed)."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].txns.get(txn) if self.sim.up[i] else None) for i in self.ids}

    def stores(self):
        """Node id -> its key-value store (``None`` if crashed)."""
        self.sim._ensure_started()
        return {i: (dict(self.sim.nodes[i].kv) if self.sim.up[i] else None) for i in self.ids}

    def finished(self):
        """Whether every running site has decided every transaction it knows of."""
        self.sim._ensure_started()
        return all(s in FINAL for i in self.ids if self.sim.up[i] for s in self.sim.nodes[i].txns.values())

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``begin TXN NODE:key=value,... NODE:key=value`` (values are Python literals, or else words)."""
        from ..scenario import ScriptError, _value
        usage = f"line {line}: usage: begin TXN NODE:key=value,... NODE:key=value"
        if len(args) < 2:
            raise ScriptError(usage)
        writes = {}
        for word in args[1:]:
            node, sep, rest = word.partition(":")
            if not sep or not node or not rest:
                raise ScriptError(f"{usage} (got {word!r})")
            pairs = {}
            for item in rest.split(","):
                key, eq, value = item.partition("=")
                if not eq or not key:
                    raise ScriptError(f"{usage} (got {item!r} in {word!r})")
                pairs[key] = _value(value)
            writes[node] = pairs
        self.begin(args[0], writes, at=at)

    def workload(self, until, requests=3):
        """Schedule ``requests`` transactions at random ticks before ``until``.

        Each writes keys ``x``, ``y`` or ``z`` on 2 or 3 random participants; transactions that
        overlap in time and keys find them locked and are aborted (a participant votes no).
        """
        rng = self.sim.streams.workload
        participants = [i for i in self.ids if i != self.coordinator]
        latest = max(until // 2, 0)
        ticks = sorted(rng.randint(0, latest) for _ in range(requests))
        for k, tick in enumerate(ticks, start=1):
            chosen = sorted(rng.sample(participants, min(len(participants), rng.choice([2, 3]))),
                            key=self.ids.index)
            writes = {p: {rng.choice("xyz"): k} for p in chosen}
            self.begin(f"t{k}", writes, at=max(tick, self.now))
