"""``fttoolkit.Paxos``: single-decree Paxos on a simulated cluster (Lamport, "Paxos Made Simple", 2001)."""

from ..algorithms.paxos import INVARIANTS, LIVENESS, PaxosNode, Propose, chosen_history
from ..check.monitor import check_liveness
from ..core.errors import BadParameter
from ..core.invariants import Violation
from .base import FrontDoor, register

__all__ = ["Paxos"]


@register
class Paxos(FrontDoor):
    """A Paxos cluster that chooses a single value.

    Every node is an acceptor and a learner; a node becomes a proposer when a
    client asks it to propose a value (:meth:`propose`).  Parameters (besides
    those of every front door): ``timeout_ticks``, ``backoff_ticks`` (see
    :class:`fttoolkit.algorithms.paxos.PaxosNode`).

    Examples
    --------
    >>> cluster = Paxos(nodes=3, seed=1, delay=10)
    >>> cluster.propose("n1", "apple")
    >>> _ = cluster.run(until=100)
    >>> cluster.chosen()
    'apple'
    >>> cluster.learned()
    {'n1': 'apple', 'n2': 'apple', 'n3': 'apple'}

    Notes
    -----
    A value is *chosen* when a majority of acceptors accepted it in one ballot
    ("Paxos Made Simple" §2.2); :meth:`chosen` reads that from the history of
    the acceptors' states, not from the learners, which may not know yet (§2.3).
    """

    name = "paxos"
    node_class = PaxosNode
    summary = "single-decree Paxos: proposers, acceptors, learners; one value chosen (Paxos Made Simple)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"propose": "propose NODE VALUE"}
    fuzz_ticks = 2000
    fuzz_requests = 8
    fuzz_prefer_role = "proposer"
    fuzz_params = {"backoff_ticks": (10, 40, 80)}
    #: Ticks a probe proposal made once the faults have stopped may take to be chosen and learned.
    probe_ticks = 1500
    #: Ticks the probe waits after its proposer finished, for the Accepted messages still in flight.
    settle_ticks = 40

    # ---- clients ------------------------------------------------------------------------
    def propose(self, node_id, value, at=None, client="client"):
        """A client asks ``node_id`` to propose ``value`` (any immutable value), now or at tick ``at``.

        Raises :class:`fttoolkit.BadParameter` for a mutable value, and
        :class:`fttoolkit.UnknownNode` for a node that is not in the cluster.
        """
        try:
            hash(value)
        except TypeError:
            raise BadParameter(f"a proposed value must be immutable (a number, string or tuple); "
                               f"got {value!r}") from None
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        return self._now_or_later(at, "request", node_id, Propose(value), client=client)

    # ---- looking ------------------------------------------------------------------------
    def chosen(self):
        """The chosen value (accepted by a majority of acceptors in one ballot, at any time), or ``None``.

        Read from the history of the acceptors' states (what they stored or announced), so a
        value stays chosen after its acceptors move on to higher ballots or crash.  If a bug let
        two values be chosen, returns the first.
        """
        self.sim._ensure_started()
        return next(iter(chosen_history(self.trace)), None)

    def learned(self):
        """Node id -> the value its learner learned (``None`` if none yet, or crashed)."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].learned if self.sim.up[i] else None) for i in self.ids}

    def phases(self):
        """Node id -> its proposer's phase ("idle", "prepare", "accept", "done"; ``None`` if crashed)."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].phase if self.sim.up[i] else None) for i in self.ids}

    # ---- liveness -----------------------------------------------------------------------
    def check_liveness(self):
        """The state check, then a probe: on a copy of the cluster, one proposal must finish.

        Learners find out about a chosen value only through Accepted messages; one that missed
        them (lost, or it crashed) learns when some proposer runs a ballot again ("Paxos Made
        Simple" §2.3: a learner can ask a proposer to issue a proposal).  So if not every running
        node has learned, on a copy of this run a single proposer (the first running node that has
        not learned) proposes, and proposes again each time its proposal finishes while some node
        has not learned; a value must be chosen and learned everywhere within :attr:`probe_ticks`
        (this run is untouched).  A safety violation during the probe is reported as well.
        """
        if not check_liveness(self.sim, self.liveness):
            return []
        probe = self.fork()               # keeps the safety checkers: a violation during the probe counts
        probe.sim.halted = None
        known = len(probe.violations)
        deadline = probe.now + self.probe_ticks
        ok = lambda sim: not check_liveness(sim, self.liveness)      # noqa: E731
        while probe.now < deadline and probe.sim.halted is None:
            learned = probe.learned()
            behind = [i for i in self.ids if probe.sim.up[i] and learned[i] is None]
            proposer = behind[0] if behind else self.ids[0]
            probe.propose(proposer, ("probe",))
            busy = lambda sim: sim.nodes[proposer].phase in ("prepare", "accept")    # noqa: E731
            probe.run_until(lambda sim: ok(sim) or not busy(sim), limit_ticks=deadline)
            probe.run(until=min(deadline, probe.now + self.settle_ticks))   # its Accepted messages land
            if ok(probe.sim):
                break
        if len(probe.violations) > known:
            return [Violation(e["invariant"], tuple(e["nodes"]), f"during a liveness probe: {e['detail']}")
                    for e in probe.violations[known:]]
        found = check_liveness(probe.sim, self.liveness)
        return [Violation("Progress", found[0].nodes,
                          f"proposals made from t={self.now} on did not finish within {self.probe_ticks} ticks: "
                          f"{found[0].detail} (phases: {probe.phases()})")] if found else []

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``propose NODE VALUE`` (VALUE is a Python literal, or else a word)."""
        from ..scenario import ScriptError, _value
        if len(args) < 2:
            raise ScriptError(f"line {line}: usage: propose NODE VALUE")
        self.propose(args[0], _value(" ".join(args[1:])), at=at)

    def workload(self, until, requests=3):
        """Schedule ``requests`` proposals from 2 or 3 different nodes at random ticks before ``until``.

        Proposals that overlap make proposers duel; later ones must adopt the value already chosen.
        """
        rng = self.sim.streams.workload
        proposers = rng.sample(self.ids, min(len(self.ids), rng.choice([2, 3])))
        latest = max(until, 0)
        plan = sorted((rng.randint(0, latest), rng.choice(proposers)) for _ in range(requests))
        for k, (tick, node_id) in enumerate(plan, start=1):
            self.propose(node_id, f"v{k}", at=max(tick, self.now))
