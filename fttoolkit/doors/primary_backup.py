"""``fttoolkit.PrimaryBackup``: primary-backup replication with failover, fencing and leases (Chapter 3)."""

import random
from collections import namedtuple

import networkx as nx

from ..algorithms.primary_backup import (INVARIANTS, LIVENESS, PrimaryBackupNode, Read, ReadReply, Write, WriteReply,
                                         check_params, invariants_for)
from ..check.monitor import Monitor
from ..core.errors import BadParameter
from ..core.ids import node_ids
from ..core.invariants import Violation
from .base import FrontDoor, register

__all__ = ["PrimaryBackup", "Ack", "StaleRead", "Submission"]

#: An acknowledged write, as the client saw it.
Ack = namedtuple("Ack", "wid key value epoch lsn node tick")
#: A submitted write.
Submission = namedtuple("Submission", "wid key value node tick")
#: A read that returned an older version than the newest acknowledged write of its key.
StaleRead = namedtuple("StaleRead", "rid key value lsn newest_wid newest_value newest_lsn node tick")


@register
class PrimaryBackup(FrontDoor):
    """Primary-backup replication: a coordination service ``zk`` and replicas ``n1 .. nN``.

    ``nodes`` is the number of replicas (or their ids); the coordination service
    (``coordinator``, ``"zk"``) is added to them.  ``n1`` is the first primary.

    Parameters (besides those of every front door): ``replication`` (``"sync"`` or
    ``"async"``), ``leases`` (``True``/``False``), ``heartbeat_ticks``, ``suspect_ticks``,
    ``lease_ticks``, ``drift_bound``, ``retransmit_ticks``, ``retain_entries``,
    ``ship_limit``, ``coordinator`` (see
    :class:`fttoolkit.algorithms.primary_backup.PrimaryBackupNode`), and ``drift``: how
    far each node's clock rate is off (each clock runs at ``1 - drift`` or ``1 + drift``,
    chosen per node by the seed; 0, the default, means perfect clocks).  Fencing is on
    unless the bug ``no-fencing`` is switched on.

    Script commands: ``write NODE KEY VALUE [as CLIENT]`` and ``read NODE KEY [as CLIENT]``.

    Each run is checked against the invariants its parameters promise
    (:func:`fttoolkit.algorithms.primary_backup.invariants_for`): Durability and Split
    brain with synchronous replication only, Lease safety and Monotonic reads with leases
    only; Stale epoch and One primary per epoch always.

    Fuzzing: ``fuzz primary-backup`` varies ``leases``, ``retain_entries``, ``ship_limit``
    and ``drift`` (0 or 0.05, within the default ``drift_bound``) per seed.  The fuzzer
    crashes and partitions ``zk`` like any other node: it writes every configuration to
    its disk before announcing it, so its crash loses nothing; while it is down or cut
    off nobody is promoted and, with leases, the primary stops serving once its lease runs
    out (the price of a single coordinator; a real ZooKeeper or etcd is itself replicated).

    Examples
    --------
    >>> c = PrimaryBackup(nodes=3, seed=1, delay=10)
    >>> _ = c.run(until=30)
    >>> c.write("x", 1)
    'w1'
    >>> _ = c.run(until=60)
    >>> [(a.wid, a.lsn) for a in c.acknowledged()], c.stores()
    ([('w1', 1)], {'n1': {'x': 1}, 'n2': {}, 'n3': {}})
    >>> c.read("x").value
    1

    Notes
    -----
    Budhiraja, Marzullo, Schneider & Toueg, "The Primary-Backup Approach" (1993); Lin et al.,
    "PacificA" (2008); Gray & Cheriton, "Leases" (1989); Chandra & Toueg (1996) on why the
    coordinator's timeout can suspect a live primary.
    """

    name = "primary-backup"
    node_class = PrimaryBackupNode
    summary = "primary-backup replication: failover with epochs, fencing, leases, catch-up (Chapter 3)"
    invariants = INVARIANTS  # each run is checked against those its parameters promise (invariants_for)
    liveness = LIVENESS
    script_commands = {"write": "write NODE KEY VALUE [as CLIENT]", "read": "read NODE KEY [as CLIENT]"}
    fuzz_ticks = 2500
    fuzz_requests = 60
    fuzz_prefer_role = "primary"
    fuzz_params = {"leases": (False, True), "retain_entries": (4, 16), "ship_limit": (2, 8),
                   "drift": (0.0, 0.05)}
    #: Ticks a write submitted once calm may take to be acknowledged (the liveness probe).
    probe_ticks = 1500

    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, drift=0.0, **params):
        if isinstance(drift, bool) or not isinstance(drift, (int, float)) or not 0 <= drift < 1:
            raise BadParameter(f"drift must be a number in [0, 1) (0.1: clocks 10% fast or slow); got {drift!r}")
        coordinator = params.get("coordinator", PrimaryBackupNode.params["coordinator"])
        check_params({k: v for k, v in params.items() if k in PrimaryBackupNode.params})
        super().__init__(nodes=self._with_coordinator(nodes, coordinator), seed=seed, bugs=bugs, check=False,
                         halt=halt, **params)
        self.drift = drift
        self.invariants = invariants_for(self.sim.params)
        if check:
            Monitor.attach(self.sim, self.invariants, halt=halt)
        if drift:
            rng = random.Random(f"fttoolkit/{seed}/clocks")
            for node_id in self.ids:
                self.sim.set_clock_rate(node_id, 1 + drift * rng.choice((-1, 1)))

    @staticmethod
    def _with_coordinator(nodes, coordinator):
        """The topology: the replicas given, plus the coordination service linked to every one."""
        if isinstance(nodes, bool):
            raise BadParameter(f"nodes must be a number of replicas, a list of ids or a graph; got {nodes!r}")
        if isinstance(nodes, int):
            if nodes < 1:
                raise BadParameter(f"primary-backup needs at least 1 replica; got nodes={nodes}")
            return node_ids(nodes) + [coordinator]
        if isinstance(nodes, (nx.Graph, nx.DiGraph)):
            if coordinator in nodes:
                return nodes
            graph = nodes.copy()
            for other in list(graph.nodes):
                graph.add_edge(coordinator, other)
                if graph.is_directed():
                    graph.add_edge(other, coordinator)
            return graph
        ids = list(nodes)
        if not [i for i in ids if i != coordinator]:
            raise BadParameter(f"primary-backup needs at least 1 replica besides the coordinator; got {ids!r}")
        return ids if coordinator in ids else ids + [coordinator]

    # ---- who is who -------------------------------------------------------------------
    def _param(self, name):
        return self.sim.params.get(name, PrimaryBackupNode.params[name])

    @property
    def coordinator(self):
        """The coordination service's id (``"zk"``)."""
        return self._param("coordinator")

    @property
    def replicas(self):
        """The replicas' ids, in natural order."""
        return [i for i in self.ids if i != self.coordinator]

    @property
    def settings(self):
        """The protocol parameters in force (defaults included), and ``drift``."""
        return dict(PrimaryBackupNode.params, **self.sim.params, drift=self.drift)

    def _running(self, node_id):
        return self.sim.up[node_id]

    def primary(self):
        """The running replica acting as primary in the newest epoch, or ``None``."""
        self.sim._ensure_started()
        best = None
        for node_id in self.replicas:
            node = self.sim.nodes[node_id]
            if self._running(node_id) and node.role == "primary":
                if best is None or node.epoch > self.sim.nodes[best].epoch:
                    best = node_id
        return best

    def _per_node(self, fn, nodes=None):
        self.sim._ensure_started()
        return {i: (fn(self.sim.nodes[i]) if self._running(i) else None) for i in (nodes or self.ids)}

    def roles(self):
        """Node id -> role ("primary", "backup", "recovering", "coordinator"; ``None``: crashed)."""
        return self._per_node(lambda n: n.role)

    def epochs(self):
        """Node id -> the newest epoch it has adopted (the coordinator's: the current one)."""
        return self._per_node(lambda n: n.epoch)

    def configuration(self):
        """The coordinator's configuration: ``{"epoch", "version", "primary", "members"}`` (``None``: crashed)."""
        return self._per_node(lambda n: {"epoch": n.epoch, "version": n.version, "primary": n.primary,
                                          "members": list(n.members)}, [self.coordinator])[self.coordinator]

    def logs(self):
        """Replica -> its log after its checkpoint: entries with ``lsn``, ``epoch``, ``wid``, ``key``, ``value``."""
        return self._per_node(lambda n: [n.log[k] for k in sorted(n.log)], self.replicas)

    def checkpoints(self):
        """Replica -> ``(lsn, epoch)`` of its checkpoint (``(0, 0)``: none yet)."""
        return self._per_node(lambda n: (n.base_lsn, n.base_epoch), self.replicas)

    def commits(self):
        """Replica -> the last LSN it knows to be committed (and has applied)."""
        return self._per_node(lambda n: n.commit_lsn, self.replicas)

    def stores(self):
        """Replica -> its committed key-value state, ``{key: value}``."""
        return self._per_node(lambda n: {k: v[0] for k, v in sorted(n.kv.items())}, self.replicas)

    def leases(self):
        """Replica -> the local tick its lease runs to (``None``: it holds none, or is crashed)."""
        return self._per_node(lambda n: n.lease_until if n.role == "primary" else None, self.replicas)

    def ready(self):
        """Replica -> whether it is a primary that has taken over (it serves reads)."""
        return self._per_node(lambda n: n.role == "primary" and n.ready, self.replicas)

    # ---- history, from the trace --------------------------------------------------------
    def submitted(self):
        """The writes clients submitted, in order: ``Submission(wid, key, value, node, tick)``."""
        return [Submission(e["msg"].wid, e["msg"].key, e["msg"].value, e.node, e.tick)
                for e in self.trace if e.kind == "request" and isinstance(e["msg"], Write)]

    def acknowledged(self):
        """The acknowledged writes, in the order acknowledged: ``Ack(wid, key, value, epoch, lsn, node, tick)``."""
        writes = {s.wid: s for s in self.submitted()}
        out, seen = [], set()
        for e in self.trace:
            if e.kind == "reply" and isinstance(e["msg"], WriteReply) and e["msg"].ok and e["msg"].wid not in seen:
                msg = e["msg"]
                seen.add(msg.wid)
                sub = writes.get(msg.wid)
                out.append(Ack(msg.wid, sub.key if sub else None, sub.value if sub else None, msg.epoch, msg.lsn,
                               e.node, e.tick))
        return out

    def reads(self):
        """Every read answered, in order: ``(rid, key, ok, value, lsn, epoch, node, tick, client)``."""
        return [(m.rid, m.key, m.ok, m.value, m.lsn, m.epoch, e.node, e.tick, e["client"])
                for e in self.trace if e.kind == "reply" and isinstance(m := e["msg"], ReadReply)]

    def _reference(self):
        """The replica whose log is the system's truth now: the primary, else the most complete running one."""
        primary = self.primary()
        if primary is not None:
            return primary
        running = [i for i in self.replicas if self._running(i)]
        if not running:
            return None
        return max(running, key=lambda i: (self.sim.nodes[i].epoch, self.sim.nodes[i].last_lsn))

    def lost_writes(self):
        """Acknowledged writes missing from the log of the primary (or, with none, the most complete replica).

        With synchronous replication this is empty (the Durability invariant); with
        asynchronous replication a failover can lose writes the old primary acknowledged.
        Returns the write ids, in acknowledgement order.
        """
        ref = self._reference()
        if ref is None:
            return []
        node = self.sim.nodes[ref]
        have = {}
        for lsn, wid in enumerate(node.base_wids, start=1):
            have[lsn] = wid
        for lsn, entry in node.log.items():
            have[lsn] = entry.wid
        return [a.wid for a in self.acknowledged() if have.get(a.lsn) != a.wid]

    def stale_reads(self):
        """Reads that returned an older version of their key than the newest write acknowledged before.

        Returns ``StaleRead(rid, key, value, lsn, newest_wid, newest_value, newest_lsn, node, tick)``
        for each.  Without leases a deposed primary that is cut off keeps answering reads: these.
        """
        writes = {s.wid: s for s in self.submitted()}
        newest = {}            # key -> (lsn, wid, value)
        out = []
        for e in self.trace:
            if e.kind != "reply":
                continue
            msg = e["msg"]
            if isinstance(msg, WriteReply) and msg.ok and msg.wid in writes:
                sub = writes[msg.wid]
                if msg.lsn >= newest.get(sub.key, (0,))[0]:
                    newest[sub.key] = (msg.lsn, msg.wid, sub.value)
            elif isinstance(msg, ReadReply) and msg.ok:
                best = newest.get(msg.key)
                if best is not None and msg.lsn < best[0]:
                    out.append(StaleRead(msg.rid, msg.key, msg.value, msg.lsn, best[1], best[2], best[0],
                                         e.node, e.tick))
        return out

    def divergent(self):
        """LSN -> {replica: (epoch, wid)} wherever the running replicas' logs disagree."""
        self.sim._ensure_started()
        table = {}
        for node_id in self.replicas:
            if not self._running(node_id):
                continue
            for lsn, entry in self.sim.nodes[node_id].log.items():
                table.setdefault(lsn, {})[node_id] = (entry.epoch, entry.wid)
        return {lsn: table[lsn] for lsn in sorted(table) if len(set(table[lsn].values())) > 1}

    def disk(self, node_id):
        """The records on ``node_id``'s stable storage (torn ones shown as :class:`fttoolkit.core.Torn`)."""
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        return list(self.sim.disks[node_id])

    # ---- clients ------------------------------------------------------------------------
    def _target(self, to):
        self.sim._ensure_started()
        if to is None:
            to = self.primary()
            if to is None:
                config = self.configuration()
                to = config["primary"] if config and config["primary"] else self.replicas[0]
        self.sim.network.check_node(to)
        if to == self.coordinator:
            raise BadParameter(f"{to} is the coordination service; clients talk to the replicas "
                               f"({', '.join(self.replicas)})")
        return to

    def _next_id(self, prefix, cls):
        highest = 0
        for entry in self.sim._log:
            msg = None
            if entry.name == "request":
                msg = entry.args[1] if len(entry.args) > 1 else entry.kwargs.get("msg")
            elif entry.name == "schedule" and len(entry.args) > 3 and entry.args[1] == "request":
                msg = entry.args[3]
            if isinstance(msg, cls):
                name = msg.wid if cls is Write else msg.rid
                if name.startswith(prefix) and name[len(prefix):].isdigit():
                    highest = max(highest, int(name[len(prefix):]))
        return f"{prefix}{highest + 1}"

    @staticmethod
    def _check_client(client):
        if not isinstance(client, str) or not client:
            raise BadParameter(f"client must be a non-empty name such as 'client'; got {client!r}")

    def write(self, key, value, to=None, at=None, client="client"):
        """A client writes ``key = value`` at ``to`` (default: the current primary), now or at tick ``at``.

        Returns the write's id (``"w1"``...); :meth:`acknowledged` tells when it was
        acknowledged.  ``value`` must be immutable (a number, a string, a tuple).
        """
        if not isinstance(key, str) or not key:
            raise BadParameter(f"a key must be a non-empty string such as 'x'; got {key!r}")
        try:
            hash(value)
        except TypeError:
            raise BadParameter(f"a value must be immutable (a number, string or tuple); got {value!r}") from None
        self._check_client(client)
        to = self._target(to)
        wid = self._next_id("w", Write)
        self._now_or_later(at, "request", to, Write(wid, key, value), client=client)
        return wid

    def read(self, key, to=None, at=None, client="client"):
        """A client reads ``key`` at ``to`` (default: the current primary), now or at tick ``at``.

        Made now, the answer comes at once: returns the :class:`ReadReply` (``ok``,
        ``value``, ``lsn``: the version, ``reason`` when refused), or ``None`` if ``to``
        is crashed.  Scheduled, returns ``None``.
        """
        if not isinstance(key, str) or not key:
            raise BadParameter(f"a key must be a non-empty string such as 'x'; got {key!r}")
        self._check_client(client)
        to = self._target(to)
        msg = Read(self._next_id("r", Read), key)
        if at is not None:
            self._now_or_later(at, "request", to, msg, client=client)
            return None
        sim = self.sim
        first = len(sim.trace)
        sim.request(to, msg, client=client)
        while any(item.kind == "intention" and item.node == to for item in sim.pending()):
            sim.execute(to)
        for e in sim.trace[first:]:
            if e.kind == "reply" and isinstance(e["msg"], ReadReply) and e["msg"].rid == msg.rid:
                return e["msg"]
        return None

    # ---- liveness -----------------------------------------------------------------------
    def check_liveness(self, grace_ticks=None):
        """The state checks (a ready primary, everyone back), then a probe on a copy of the cluster:
        a write submitted to the serving primary must be acknowledged within :attr:`probe_ticks`.

        A write refused (a false suspicion can still depose a primary: a timeout is only a guess)
        is submitted again to the next primary, as a client would.
        """
        found = super().check_liveness(grace_ticks)
        if found:
            return found
        probe = self._probe_copy()
        if probe._probe_write(probe.now + self.probe_ticks):
            return []
        return [Violation("Progress", tuple(self.ids),
                          f"a write submitted at t={self.now} to the primary was not acknowledged within "
                          f"{self.probe_ticks} ticks (primary: {probe.primary()}, roles: {probe.roles()})")]

    def _probe_write(self, deadline):
        leases = self._param("leases")

        def serving(sim):
            p = self.primary()
            return p is not None and sim.nodes[p].ready and (not leases or sim.nodes[p].has_lease())
        while self.now < deadline:
            if not self.run_until(serving, limit_ticks=deadline):
                return False
            wid = self.write("probe", 1, to=self.primary(), client="probe")
            seen = [len(self.trace)]
            outcome = []

            def answered(sim):
                events = sim.trace[seen[0]:]
                seen[0] += len(events)
                outcome.extend(e["msg"].ok for e in events if e.kind == "reply"
                               and isinstance(e["msg"], WriteReply) and e["msg"].wid == wid)
                return bool(outcome)
            if self.run_until(answered, limit_ticks=deadline) and outcome[0]:
                return True
            self.run(until=min(deadline, self.now + 1))
        return False

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``write NODE KEY VALUE [as CLIENT]`` (VALUE a Python literal or a word); ``read NODE KEY [as CLIENT]``."""
        from ..scenario import ScriptError, _value
        client = "client"
        if len(args) >= 2 and args[-2] == "as":
            client, args = args[-1], args[:-2]
        if name == "write":
            if len(args) < 3:
                raise ScriptError(f"line {line}: usage: {self.script_commands['write']}")
            self.write(args[1], _value(" ".join(args[2:])), to=args[0], at=at, client=client)
            return
        if len(args) != 2:
            raise ScriptError(f"line {line}: usage: {self.script_commands['read']}")
        self.read(args[1], to=args[0], at=at, client=client)

    def workload(self, until, requests=3):
        """Schedule ``requests`` client operations at random ticks before ``until``.

        Two thirds are writes (of ``k0``, ``k1`` or ``k2``), one third reads, from client ``c1``
        or ``c2``.  Half of them go to the first primary, the others to a random replica (a
        replica that is not the primary refuses them): a scheduled request cannot follow a
        redirect.
        """
        rng = self.sim.streams.workload
        latest = max(until, 0)
        first = self.replicas[0]
        plan = sorted((rng.randint(0, latest), rng.random(), first if rng.random() < 0.5 else rng.choice(self.replicas),
                       rng.choice(("c1", "c2")), rng.randrange(3)) for _ in range(requests))
        for k, (tick, draw, to, client, key) in enumerate(plan, start=1):
            at = max(tick, self.now)
            if draw < 2 / 3:
                self.write(f"k{key}", f"v{k}", to=to, at=at, client=client)
            else:
                self.read(f"k{key}", to=to, at=at, client=client)
