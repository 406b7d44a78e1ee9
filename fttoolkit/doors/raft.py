"""``fttoolkit.Raft``: the Raft consensus algorithm on a simulated cluster (Chapter 6)."""

from ..algorithms.raft import INVARIANTS, LIVENESS, ClientRequest, RaftNode
from ..core.errors import BadParameter
from .base import FrontDoor, register

__all__ = ["Raft"]


@register
class Raft(FrontDoor):
    """A Raft cluster with a small key-value state machine.

    Parameters (besides those of every front door): ``election_ticks`` (timeouts
    are drawn from ``[T, 2T]``), ``heartbeat_ticks``, ``max_batch``, ``prevote``.

    Examples
    --------
    >>> cluster = Raft(nodes=3, seed=1)
    >>> _ = cluster.run(until=600)
    >>> leader = cluster.leader()
    >>> cluster.agree(("put", "x", "1"))
    2
    >>> [cluster.nodes[i].kv for i in cluster.ids]
    [{'x': '1'}, {'x': '1'}, {'x': '1'}]
    """

    name = "raft"
    node_class = RaftNode
    summary = "Raft consensus: elections, log replication, commitment (Chapter 6)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"submit": "submit NODE COMMAND", "campaign": "campaign NODE"}
    fuzz_ticks = 2000
    fuzz_requests = 20
    fuzz_prefer_role = "leader"
    fuzz_params = {"max_batch": (1, 64), "noop": (True, False)}

    # ---- clients ------------------------------------------------------------------------
    def submit(self, command, to=None, at=None, client="client", hops=3):
        """A client hands ``command`` to node ``to``, following redirects to the leader.

        With ``at``, the request is scheduled for that tick and sent to ``to``
        only.  Otherwise it is made now: a node that is not the leader answers
        with who it thinks leads, and the client asks that node instead (up to
        ``hops`` times).  Returns the last :class:`ClientReply` (``accepted``,
        ``index``, ``term``), or ``None`` if nobody answered (a crashed node).
        """
        try:
            hash(command)
        except TypeError:
            raise BadParameter(f"a command must be immutable, for example a tuple; got {command!r}") from None
        sim = self.sim
        sim._ensure_started()
        to = to or self.leader() or self.ids[0]
        if at is not None:
            return self._now_or_later(at, "request", to, ClientRequest(command), client=client)
        reply = None
        for _ in range(hops + 1):
            first = len(sim.trace)
            sim.request(to, ClientRequest(command), client=client)
            while any(item.kind == "intention" and item.node == to for item in sim.pending()):
                sim.execute(to)
            replies = [e for e in sim.trace[first:] if e.kind == "reply" and e.node == to]
            if not replies:
                return None
            reply = replies[-1]["msg"]
            if reply.accepted or reply.leader in (None, to):
                return reply
            to = reply.leader
        return reply

    def agree(self, command, expected=None, within_ticks=2000, retry_ticks=100):
        """Submit ``command`` until a leader takes it, then run until ``expected`` nodes commit it.

        The course's version of the 6.5840 tests' ``one()``: returns the log
        index, or ``None`` if that did not happen within ``within_ticks``.
        ``expected`` defaults to every node.
        """
        expected = len(self.ids) if expected is None else expected
        deadline = self.now + within_ticks
        while self.now < deadline and self.sim.halted is None:     # a halted run no longer moves on
            for node_id in [self.leader()] + list(self.ids):
                if node_id is None or not self.sim.up[node_id]:
                    continue
                reply = self.submit(command, to=node_id, hops=0)
                if reply is not None and reply.accepted:
                    index = reply.index   # wait a while for it; if a new leader dropped it, submit again
                    stop = min(deadline, self.now + 4 * self._param("election_ticks"))
                    self.run_until(lambda s: self.committed(index)[0] >= expected, limit_ticks=stop)
                    count, got = self.committed(index)
                    if count >= expected and got == command:
                        return index
                    break
            self.run(until=min(deadline, self.now + retry_ticks))
        return None

    # ---- liveness -----------------------------------------------------------------------
    #: Ticks a command submitted once the faults have stopped may take to commit on a majority.
    probe_ticks = 1500

    def check_liveness(self):
        """The state checks, then a probe: on a copy of the cluster, a new command must commit.

        Once the network is whole and every node is up, a leader must appear and a command
        submitted now must commit on every node within :attr:`probe_ticks` (this run is untouched).
        """
        found = super().check_liveness()
        if found:
            return found
        probe = self._probe_copy()
        if probe.agree(("probe",), expected=len(self.ids), within_ticks=self.probe_ticks) is None:
            from ..core.invariants import Violation
            terms = probe.terms()
            return [Violation("Progress", tuple(self.ids),
                              f"a command submitted at t={self.now} did not commit on every node within "
                              f"{self.probe_ticks} ticks (leader: {probe.leader()}, terms: {terms})")]
        return []

    def _param(self, name):
        return self.sim.params.get(name, self.node_class.params[name])

    # ---- looking ------------------------------------------------------------------------
    def leader(self):
        """The running node that is leader in the highest term, or ``None``."""
        self.sim._ensure_started()
        best = None
        for node_id in self.ids:
            node = self.sim.nodes[node_id]
            if self.sim.up[node_id] and node.role == "leader":
                if best is None or node.current_term > self.sim.nodes[best].current_term:
                    best = node_id
        return best

    def committed(self, index):
        """How many running nodes have committed ``index``, and its command (``(0, None)`` if none).

        Raises :class:`AssertionError` if two nodes committed different commands there.
        """
        self.sim._ensure_started()
        count, command = 0, None
        for node_id in self.ids:
            node = self.sim.nodes[node_id]
            if self.sim.up[node_id] and node.commit_index >= index:
                here = node.log[index - 1].command
                if count and here != command:
                    raise AssertionError(f"index {index} committed as {command!r} and as {here!r}")
                count, command = count + 1, here
        return count, command

    def terms(self):
        """Node id -> current term (``None`` for a crashed node)."""
        return {i: (self.sim.nodes[i].current_term if self.sim.up[i] else None) for i in self.ids}

    # ---- scripts and fuzzing ------------------------------------------------------------
    def campaign(self, node_id):
        """Make ``node_id``'s election timer go off now (as etcd's tests say, ``campaign``).

        Recorded as firing that timer, so a script of the run replays it exactly.
        """
        return self.fire_now(node_id, "ElectionTimeout",
                             f"{node_id} has no election timer armed (is it the leader, or crashed?)")

    def script_command(self, name, args, line, at=None):
        """``submit NODE COMMAND`` (COMMAND is a Python literal such as ``("put", "x", 1)``); ``campaign NODE``."""
        from ..scenario import ScriptError, _value
        if name == "campaign":
            if len(args) != 1 or at is not None:
                raise ScriptError(f"line {line}: usage: campaign NODE (now, not with at)")
            self.campaign(args[0])
            return
        if len(args) < 2:
            raise ScriptError(f"line {line}: usage: submit NODE COMMAND")
        self.submit(_value(" ".join(args[1:])), to=args[0], at=at if at is not None else self.now)

    def workload(self, until, requests=3):
        """Schedule ``requests`` client commands to random nodes at random ticks before ``until``."""
        rng = self.sim.streams.workload
        latest = max(until, 0)
        plan = sorted((rng.randint(0, latest), rng.choice(self.ids)) for _ in range(requests))
        for k, (tick, node_id) in enumerate(plan, start=1):
            self.submit(("put", f"k{k % 3}", f"v{k}"), to=node_id, at=max(tick, self.now))


# ---------------------------------------------------------------------------- elections, measured
def contested_probability(nodes, window_ticks, delay_ticks):
    """The chance that a first election round is *contested*: a second node times out before the
    first candidate's ``RequestVote`` reaches it.

    ``nodes`` followers wait with timeouts drawn uniformly from a window of ``window_ticks``
    (Raft's ``[T, 2T]``: the window is ``T``); a message takes ``delay_ticks``.  The gap between
    the earliest and the second earliest of ``n`` uniform draws is shorter than ``d`` with
    probability :math:`1 - (1 - d/W)^n` (spacings of uniform order statistics).

    Examples
    --------
    >>> round(contested_probability(5, 150, 10), 3)
    0.292
    >>> contested_probability(5, 150, 150)
    1.0

    Notes
    -----
    A contested round is not always lost: with an odd number of nodes and two candidates, the
    voters' choices still give one of them a majority.  Ongaro & Ousterhout (2014, §9.3) measure the
    same trade-off: a wider window makes split votes rarer but elections slower.
    """
    n, w, d = int(nodes), float(window_ticks), float(delay_ticks)
    if n < 1 or w <= 0 or d < 0:
        raise BadParameter(f"need nodes >= 1, window_ticks > 0 and delay_ticks >= 0; got {nodes}, "
                           f"{window_ticks}, {delay_ticks}")
    return 1.0 - max(0.0, 1.0 - d / w) ** n


def expected_first_leader_ticks(nodes, election_ticks, delay_ticks):
    """Expected tick of the first leader of a fresh cluster when its first round is not contested.

    The earliest of ``n`` timeouts uniform on ``[T, 2T]`` comes at :math:`T + T/(n+1)` on average;
    its ``RequestVote`` and the replies take two message delays: :math:`T + \\frac{T}{n+1} + 2d`.

    >>> expected_first_leader_ticks(5, 150, 10)
    195.0
    """
    n, t, d = int(nodes), float(election_ticks), float(delay_ticks)
    return t + t / (n + 1) + 2 * d


def first_election(seed, nodes=5, election_ticks=150, delay=10, limit_ticks=20_000):
    """Start a fresh cluster and run it until its first leader; describe that election.

    Returns a dict: ``leader_tick`` (when the first leader appeared), ``term`` (its term),
    ``candidates`` (how many nodes stood in term 1), ``lost_rounds`` (terms before the winning
    one that elected nobody).

    >>> first_election(1)
    {'leader_tick': 222, 'term': 1, 'candidates': 3, 'lost_rounds': 0}
    """
    cluster = Raft(nodes=nodes, seed=seed, election_ticks=election_ticks, delay=delay, check=False)
    if not cluster.run_until(lambda sim: any(sim.up[i] and sim.nodes[i].role == "leader" for i in sim.ids),
                             limit_ticks=limit_ticks):
        raise BadParameter(f"no leader within {limit_ticks} ticks (seed {seed})")
    leader = cluster.leader()
    term = cluster.sim.nodes[leader].current_term
    stood = sum(1 for e in cluster.trace if e.kind == "note" and e.data["text"] == "election"
                and e.data["fields"]["term"] == 1)
    return {"leader_tick": cluster.now, "term": term, "candidates": stood, "lost_rounds": term - 1}
