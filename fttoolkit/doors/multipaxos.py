"""``fttoolkit.MultiPaxos``: Multi-Paxos, a replicated key-value store agreed on slot by slot."""

from ..algorithms.multipaxos import INVARIANTS, LIVENESS, MultiPaxosNode, Request, check_command
from ..core.errors import BadParameter
from ..core.invariants import Violation
from .base import FrontDoor, register

__all__ = ["MultiPaxos"]


@register
class MultiPaxos(FrontDoor):
    """A Multi-Paxos cluster: a distinguished leader, phase 1 once, phase 2 per slot.

    Parameters (besides those of every front door): ``lease_ticks`` (a follower
    suspects the leader after a silence drawn from ``[T, 2T]``), ``heartbeat_ticks``,
    ``max_batch`` (decisions per catch-up, Accepts re-sent per heartbeat).

    Examples
    --------
    >>> cluster = MultiPaxos(nodes=3, seed=1)
    >>> _ = cluster.campaign("n1")
    >>> _ = cluster.run(until=cluster.now + 30)
    >>> cluster.leader()
    'n1'
    >>> cluster.agree(("put", "x", "1"))
    1
    >>> cluster.chosen(), cluster.applied()
    ({1: ('put', 'x', '1')}, {'n1': 1, 'n2': 1, 'n3': 1})

    Notes
    -----
    Lamport, "Paxos Made Simple" (2001), §3; van Renesse & Altinbuken, "Paxos Made
    Moderately Complex" (2015).  See :mod:`fttoolkit.algorithms.multipaxos`.
    """

    name = "multipaxos"
    node_class = MultiPaxosNode
    summary = "Multi-Paxos: a leader, phase 1 once, one slot per command, no-ops for gaps"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"submit": "submit NODE COMMAND", "campaign": "campaign NODE"}
    fuzz_ticks = 2000
    fuzz_requests = 60
    fuzz_prefer_role = "leader"

    # ---- clients ------------------------------------------------------------------------
    def submit(self, command, to=None, at=None, client="client", hops=3):
        """A client hands ``command`` to node ``to``, following redirects to the leader.

        Parameters
        ----------
        command : tuple
            ``("put", key, value)``, ``("append", key, text)`` or ``("noop",)``.
        to : str, optional
            The node asked first (default: the leader, else the first node).
        at : int, optional
            Schedule the request for that tick, sent to ``to`` only (no redirects followed).
        hops : int
            How many redirects to follow.

        Returns
        -------
        Reply or None
            The last reply (``accepted``, ``leader``, ``slot``); ``None`` if nobody answered
            (a crashed node) or if the request was scheduled for later.

        Raises
        ------
        BadParameter
            For a command the key-value store does not know.

        Examples
        --------
        >>> cluster = MultiPaxos(nodes=3, seed=1)
        >>> cluster.submit(("get", "x"))
        Traceback (most recent call last):
        ...
        fttoolkit.core.errors.BadParameter: unknown command 'get': commands are ('put', key, value), ('append', key, text), ('noop',)
        >>> cluster.submit(("put", "x", 1), to="n2")
        Reply(accepted=False, leader=None, slot=0)
        """
        problem = check_command(command)
        if problem is not None:
            raise BadParameter(problem)
        sim = self.sim
        sim._ensure_started()
        to = to or self.leader() or self.ids[0]
        sim.network.check_node(to)
        if at is not None:
            return self._now_or_later(at, "request", to, Request(command), client=client)
        reply = None
        for _ in range(hops + 1):
            first = len(sim.trace)
            sim.request(to, Request(command), client=client)
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
        """Submit ``command`` until a leader gives it a slot, then run until ``expected`` nodes applied it.

        Returns the slot, or ``None`` if that did not happen within ``within_ticks``
        (``expected`` defaults to every node).
        """
        expected = len(self.ids) if expected is None else expected
        deadline = self.now + within_ticks
        while self.now < deadline and self.sim.halted is None:
            for node_id in [self.leader()] + list(self.ids):
                if node_id is None or not self.sim.up[node_id]:
                    continue
                reply = self.submit(command, to=node_id, hops=0)
                if reply is not None and reply.accepted:
                    slot = reply.slot     # wait a while; if a new leader filled it with a no-op, submit again
                    stop = min(deadline, self.now + 4 * self._param("lease_ticks"))
                    self.run_until(lambda s: self.applied_at(slot)[0] >= expected, limit_ticks=stop)
                    count, got = self.applied_at(slot)
                    if count >= expected and got == command:
                        return slot
                    break
            self.run(until=min(deadline, self.now + retry_ticks))
        return None

    def _param(self, name):
        return self.sim.params.get(name, self.node_class.params[name])

    # ---- liveness -----------------------------------------------------------------------
    #: Ticks a command submitted once the faults have stopped may take to be applied everywhere.
    probe_ticks = 1500

    def check_liveness(self):
        """The state checks, then a probe: on a copy of the cluster, a new command must be applied everywhere."""
        found = super().check_liveness()
        if found:
            return found
        probe = self._probe_copy()
        command = ("put", "probe", f"t{self.now}")
        try:
            slot = probe.agree(command, within_ticks=self.probe_ticks)
        except AssertionError as exc:         # replicas diverged in the probe (checkers are off there)
            return [Violation("State machine safety", tuple(self.ids), f"after t={self.now}: {exc}")]
        if slot is None:
            return [Violation("Progress", tuple(self.ids),
                              f"a command submitted at t={self.now} was not applied on every node within "
                              f"{self.probe_ticks} ticks (leader: {probe.leader()}, applied: {probe.applied()})")]
        return []

    # ---- looking ------------------------------------------------------------------------
    def leader(self):
        """The running node that leads with the highest ballot, or ``None``."""
        self.sim._ensure_started()
        best = None
        for node_id in self.ids:
            node = self.sim.nodes[node_id]
            if self.sim.up[node_id] and node.role == "leader":
                if best is None or node.ballot > self.sim.nodes[best].ballot:
                    best = node_id
        return best

    def chosen(self, node=None):
        """Slot -> value known chosen: by ``node``, or by any running node (sorted by slot)."""
        self.sim._ensure_started()
        if node is not None:
            return dict(sorted(self.node(node).chosen.items()))
        out = {}
        for node_id in self.ids:
            if self.sim.up[node_id]:
                out.update(self.sim.nodes[node_id].chosen)
        return dict(sorted(out.items()))

    log = chosen

    def applied(self):
        """Node id -> number of slots applied (slots 1..n, in order); ``None`` for a crashed node."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].applied if self.sim.up[i] else None) for i in self.ids}

    def applied_at(self, slot):
        """How many running nodes applied ``slot``, and its command (``(0, None)`` if none).

        Raises :class:`AssertionError` if two nodes applied different commands there.
        """
        self.sim._ensure_started()
        count, command = 0, None
        for node_id in self.ids:
            node = self.sim.nodes[node_id]
            if self.sim.up[node_id] and node.applied >= slot:
                here = node.chosen[slot]
                if count and here != command:
                    raise AssertionError(f"slot {slot} applied as {command!r} and as {here!r}")
                count, command = count + 1, here
        return count, command

    def ballots(self):
        """Node id -> highest ballot promised (``None`` for a crashed node)."""
        return {i: (self.sim.nodes[i].promised if self.sim.up[i] else None) for i in self.ids}

    # ---- scripts and fuzzing ------------------------------------------------------------
    def campaign(self, node_id):
        """Make ``node_id``'s leader timeout go off now: it runs phase 1 with a higher ballot.

        Recorded as firing that timer, so a script of the run replays it exactly.
        """
        return self.fire_now(node_id, "LeaderTimeout",
                             f"{node_id} has no leader timeout armed (is it the leader, or crashed?)")

    def script_command(self, name, args, line, at=None):
        """``submit NODE COMMAND`` (COMMAND a Python literal such as ``("put", "x", 1)``); ``campaign NODE``."""
        from ..scenario import ScriptError, _value
        if name == "campaign":
            if len(args) != 1 or at is not None:
                raise ScriptError(f"line {line}: usage: campaign NODE (now, not with at)")
            self.campaign(args[0])
            return
        if len(args) < 2:
            raise ScriptError(f"line {line}: usage: submit NODE COMMAND")
        try:
            self.submit(_value(" ".join(args[1:])), to=args[0], at=at if at is not None else self.now)
        except BadParameter as exc:
            raise ScriptError(f"line {line}: {exc}") from None

    def workload(self, until, requests=3):
        """Schedule ``requests`` client commands to random nodes at random ticks before ``until``."""
        rng = self.sim.streams.workload
        latest = max(until, 0)
        plan = sorted((rng.randint(0, latest), rng.choice(self.ids)) for _ in range(requests))
        for k, (tick, node_id) in enumerate(plan, start=1):
            op = "append" if k % 2 else "put"
            self.submit((op, f"k{k % 3}", f"v{k}"), to=node_id, at=max(tick, self.now))
