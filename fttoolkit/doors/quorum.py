"""``fttoolkit.QuorumStore``: a quorum-replicated key-value store on a simulated cluster (Chapter 1).

The front door records every client operation as an
:class:`fttoolkit.core.Operation`, and the three experiments the chapter plots
are pure functions of their seed and parameters:

* :func:`stale_read_experiment`: stale reads counted for an (N, R, W);
* :func:`cap_experiment`: a partition, and what each side answers in ``cp``
  and ``ap`` mode, with the conflicts left when it heals;
* :func:`availability_experiment`: replicas crash and are repaired at random
  (exponential times), and the store answers only while a quorum is up.
"""

import math
import random

from ..algorithms.quorum_kv import (INVARIANTS, MODES, NEVER, Get, GetOk, Put, PutOk, QuorumNode, Refused,
                                    concurrent_puts, lost_puts, majority, stale_read)
from ..core.errors import BadParameter
from ..core.history import Operation
from ..core.ids import id_key, node_ids, sorted_ids
from .base import FrontDoor, register

__all__ = ["QuorumStore", "stale_read_experiment", "cap_experiment", "availability_experiment"]


def _whole(name, value, minimum, hint=""):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadParameter(f"{name} must be a whole number >= {minimum}{hint}; got {value!r}")
    return value


def _count(nodes):
    """The cluster size a ``nodes`` argument describes (a count, ids or a graph)."""
    if isinstance(nodes, int) and not isinstance(nodes, bool):
        return nodes
    try:
        return len(nodes)
    except TypeError:
        return None


@register
class QuorumStore(FrontDoor):
    """A Dynamo-style key-value store: N replicas, gets from R of them, puts to W.

    Every node is a replica of every key (N is the cluster size) and any node
    can coordinate a request.  Parameters (besides those of every front door):

    nodes or n : int
        N, the number of replicas (default 3).
    r, w : int, optional
        Read and write quorums, each from 1 to N (default: a majority, ``N // 2 + 1``).
    mode : {"cp", "ap"}
        Without a quorum after ``timeout_ticks``: refuse (``cp``), or answer with
        the replicas reached, at least the coordinator (``ap``, a sloppy quorum).
    timeout_ticks : int
        How long each phase of a request waits for its quorum (default 100).
    read_repair : bool
        After a get, send the newest copy to the replicas that answered with an
        older one (default ``True``).

    Script commands: ``put NODE KEY VALUE [as CLIENT]`` and ``get NODE KEY [as CLIENT]``.

    Examples
    --------
    >>> kv = QuorumStore(n=3, r=1, w=1, seed=1, delay=10)
    >>> kv.put("x", 1, via="n1")
    'op1'
    >>> _ = kv.run(until=5)
    >>> kv.get("x", via="n3")         # the Write to n3 is still on its way: R + W <= N
    'op2'
    >>> _ = kv.run(until=100)
    >>> [(op.kind, op.value, op.output, op.call, op.ret) for op in kv.history()]
    [('put', 1, None, 0, 0), ('get', None, None, 5, 5)]
    >>> len(kv.stale_reads()), kv.replicas("x")
    (1, {'n1': ((1, 'n1'), 1), 'n2': ((1, 'n1'), 1), 'n3': ((1, 'n1'), 1)})

    Notes
    -----
    Gifford, "Weighted Voting for Replicated Data" (1979); DeCandia et al.,
    "Dynamo: Amazon's Highly Available Key-value Store" (2007), §4.5 (R, W and
    sloppy quorums), §5 (read repair); Gilbert & Lynch, "Brewer's Conjecture and
    the Feasibility of Consistent, Available, Partition-Tolerant Web Services"
    (2002) for the ``cp``/``ap`` choice.  See :mod:`fttoolkit.algorithms.quorum_kv`.
    """

    name = "quorum-kv"
    node_class = QuorumNode
    summary = "quorum-replicated key-value store: N, R, W, cp/ap under partitions (Gifford 1979, Dynamo 2007)"
    invariants = INVARIANTS
    liveness = ()
    script_commands = {"put": "put NODE KEY VALUE [as CLIENT]", "get": "get NODE KEY [as CLIENT]"}
    fuzz_ticks = 1500
    fuzz_requests = 24
    fuzz_params = {"read_repair": (True, False), "timeout_ticks": (50, 100, 200)}

    def __init__(self, nodes=None, seed=0, bugs=(), check=True, halt=False, n=None, **params):
        if n is not None and nodes is not None and _count(nodes) != n:
            raise BadParameter(f"give the number of replicas once: n={n!r} but nodes={nodes!r}")
        if nodes is None:
            nodes = 3 if n is None else _whole("n", n, 1, " (the number of replicas)")
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=check, halt=halt, **params)
        self._check_params(self.sim.params, len(self.ids))
        self._issued = {}        # op id -> client, for every request made through put() and get()
        self._next_op = 1
        self._cache = None       # (events list, events scanned, {op: record})

    def fork(self):
        """An independent copy of this store at this point (see :meth:`FrontDoor.fork`)."""
        other = super().fork()
        other._issued = dict(self._issued)
        other._cache = None
        return other

    @staticmethod
    def _check_params(params, n):
        mode = params.get("mode", "cp")
        if mode not in MODES:
            raise BadParameter(f"mode must be 'cp' (refuse without a quorum) or 'ap' (answer anyway); got {mode!r}")
        for name in ("r", "w"):
            value = params.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= n:
                raise BadParameter(f"{name.upper()} must be a whole number from 1 to N = {n} (the number of "
                                   f"replicas); got {name}={value!r}")
        _whole("timeout_ticks", params.get("timeout_ticks", 100), 1)
        if not isinstance(params.get("read_repair", True), bool):
            raise BadParameter(f"read_repair must be True or False; got {params['read_repair']!r}")

    # ---- the configuration ----------------------------------------------------------------
    @property
    def n(self):
        """N, the number of replicas."""
        return len(self.ids)

    @property
    def r(self):
        """R, the read quorum."""
        return self.sim.params.get("r") or majority(self.n)

    @property
    def w(self):
        """W, the write quorum."""
        return self.sim.params.get("w") or majority(self.n)

    @property
    def mode(self):
        """``"cp"`` or ``"ap"``."""
        return self.sim.params.get("mode", "cp")

    @property
    def intersecting(self):
        """Whether every read quorum meets every write quorum: R + W > N."""
        return self.r + self.w > self.n

    # ---- clients ------------------------------------------------------------------------
    def put(self, key, value, via=None, client=None, at=None):
        """A client asks node ``via`` (default: the first node) to set ``key`` to ``value``; returns the op id.

        ``value`` must be immutable and not ``None`` (``None`` means "never
        written"); give distinct values to a key's puts so that a read can be
        traced back to its put.  ``client`` defaults to the first of ``c1, c2,
        ...`` with no operation outstanding.  With ``at`` the request is made at
        that tick.
        """
        if value is None:
            raise BadParameter("a put needs a value; None is what a get returns for a key never written")
        try:
            hash(value)
        except TypeError:
            raise BadParameter(f"a value must be immutable (a number, string or tuple); got {value!r}") from None
        return self._request("put", key, value, via, client, at)

    def get(self, key, via=None, client=None, at=None):
        """A client asks node ``via`` (default: the first node) for ``key``; returns the op id."""
        return self._request("get", key, None, via, client, at)

    def _request(self, kind, key, value, via, client, at):
        if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
            raise BadParameter(f"a key must be a non-empty string (or a whole number); got {key!r}")
        self.sim._ensure_started()
        via = self.ids[0] if via is None else via
        self.sim.network.check_node(via)
        if client is None:
            client = self._free_client()
        elif not isinstance(client, str) or not client or client in self.ids:
            raise BadParameter(f"a client is a name that is not a node id, such as 'c1'; got {client!r}")
        op = self._new_op()
        msg = Put(key, value, op) if kind == "put" else Get(key, op)
        self._issued[op] = client
        self._now_or_later(at, "request", via, msg, client=client)
        return op

    def _new_op(self):
        taken = self._records()
        while f"op{self._next_op}" in taken or f"op{self._next_op}" in self._issued:
            self._next_op += 1
        op = f"op{self._next_op}"
        self._next_op += 1
        return op

    def _free_client(self):
        records = self._records()
        busy = {client for op, client in self._issued.items()
                if op not in records or records[op]["status"] == "pending"}
        k = 1
        while f"c{k}" in busy:
            k += 1
        return f"c{k}"

    # ---- what happened --------------------------------------------------------------------
    def _records(self):
        """Op id -> what became of it, read from the trace (incrementally)."""
        events = self.sim.trace._events
        cache = self._cache
        if cache is None or cache[0] is not events or cache[1] > len(events):
            cache = self._cache = [events, 0, {}]
        records = cache[2]
        for event in events[cache[1]:]:
            kind = event.kind
            if kind == "request":
                msg = event.data["msg"]
                if isinstance(msg, (Get, Put)) and msg.op not in records:
                    put = isinstance(msg, Put)
                    records[msg.op] = {
                        "op": msg.op, "client": event.data["client"], "kind": "put" if put else "get",
                        "key": msg.key, "value": msg.value if put else None, "via": event.node,
                        "call": event.tick, "ret": None, "status": "pending", "output": None,
                        "version": None, "based_on": None, "reason": None}
            elif kind == "reply":
                msg = event.data["msg"]
                record = records.get(getattr(msg, "op", None))
                if record is None or record["status"] != "pending":
                    continue
                record["ret"] = event.tick
                if isinstance(msg, Refused):
                    record.update(status="refused", reason=msg.reason)
                    if msg.version != NEVER:          # refused in its write phase: some copies hold it
                        record.update(version=msg.version, based_on=msg.based_on)
                elif isinstance(msg, GetOk):
                    record.update(status="ok", output=msg.value, version=msg.version)
                elif isinstance(msg, PutOk):
                    record.update(status="ok", version=msg.version, based_on=msg.based_on)
            elif kind == "dropped" and event.data["mid"] is None:     # a request to a crashed node
                record = records.get(getattr(event.data["msg"], "op", None))
                if record is not None and record["status"] == "pending":
                    record.update(status="unreachable", reason=f"{event.node} is down: no reply")
        cache[1] = len(events)
        return records

    def results(self):
        """Every request so far, one dict each, in the order they were made.

        Keys: ``op``, ``client``, ``kind`` ("put"/"get"), ``key``, ``value``,
        ``via`` (the coordinator), ``call`` and ``ret`` (ticks; ``ret`` is
        ``None`` unless answered), ``status`` ("ok", "refused", "pending", or
        "unreachable": sent to a crashed node, which never answers),
        ``output`` (a get's value), ``version`` and ``based_on`` (a put's new
        version and the newest version it saw first), ``reason`` (a refusal's).
        """
        return [dict(r) for r in sorted(self._records().values(), key=lambda r: (r["call"], id_key(r["op"])))]

    def history(self):
        """The clients' history: a list of :class:`fttoolkit.core.Operation`, by invocation.

        A completed put or get has ``ret``; a pending one has ``ret=None``.  A
        refused put is kept with ``ret=None`` too: it may have been written on
        some replicas and take effect later.  A refused get is left out (it
        had no effect), and so is a request sent to a crashed node.  This is
        what a linearizability checker judges.
        """
        out = []
        for r in self.results():
            if r["status"] == "unreachable" or (r["status"] == "refused" and r["kind"] == "get"):
                continue
            ret = r["ret"] if r["status"] == "ok" else None
            out.append(Operation(r["client"], r["kind"], r["key"], r["value"],
                                 r["output"] if r["kind"] == "get" else None, r["call"], ret))
        return sorted(out, key=Operation.order)

    def refused(self):
        """The refused requests (as in :meth:`results`): no quorum in time, in ``cp`` mode."""
        return [r for r in self.results() if r["status"] == "refused"]

    def stale_reads(self):
        """The gets that returned a value already overwritten by a put completed before they began.

        Judged on the clients' view only, in real (simulated) time: see
        :func:`fttoolkit.algorithms.quorum_kv.stale_read`.  Returns one dict per
        stale get: its record (as in :meth:`results`) with ``missed``, the
        record of the latest-starting put it should have seen.  Their number is
        ``len(kv.stale_reads())``.
        """
        return _stale_records(self.results())

    def conflicts(self):
        """Pairs of acknowledged puts on one key of which neither knew the other.

        A put's ``based_on`` is the version it read as the newest, hence the
        put it was written after; put A knew put B if B comes before A along
        that chain (see :func:`fttoolkit.algorithms.quorum_kv.concurrent_puts`).
        Puts acknowledged on the two sides of a partition in ``ap`` mode do not
        know each other.  Returns dicts ``{"key", "winner", "loser"}`` (op ids;
        the winner has the higher version, which last writer wins keeps).
        """
        return [{"key": key, "winner": winner, "loser": loser}
                for winner, loser, key in concurrent_puts(_versioned_puts(self.results()))]

    def lost_writes(self):
        """Acknowledged puts that last writer wins drops without any later put having read them, as records.

        See :func:`fttoolkit.algorithms.quorum_kv.lost_puts`: once the replicas
        converge on each key's highest version, these values are gone, though
        their clients were told the put succeeded.
        """
        lost = set(lost_puts(_versioned_puts(self.results())))
        return [r for r in self.results() if r["op"] in lost]

    def replicas(self, key):
        """Node id -> its copy of ``key``, ``(version, value)`` (``((0, ''), None)``: none); ``None`` if crashed."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].local(key) if self.sim.up[i] else None) for i in self.ids}

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``put NODE KEY VALUE [as CLIENT]`` and ``get NODE KEY [as CLIENT]`` (VALUE: a Python literal, or a word)."""
        from ..scenario import ScriptError, _value
        client = None
        if len(args) >= 2 and args[-2] == "as":
            client, args = args[-1], args[:-2]
        if (name == "put" and len(args) < 3) or (name == "get" and len(args) != 2):
            raise ScriptError(f"line {line}: usage: {self.script_commands[name]}")
        if name == "put":
            self.put(args[1], _value(" ".join(args[2:])), via=args[0], client=client, at=at)
        else:
            self.get(args[1], via=args[0], client=client, at=at)

    def workload(self, until, requests=3):
        """Schedule ``requests`` puts and gets (half each; key x twice as often as y) at random ticks before ``until``.

        Each goes to a random node from its own client; every put writes a
        distinct value.  Four in five come 20 to 80 ticks after the previous
        one: about when that one completes, while its last messages are still
        on their way, which is when a read can miss a write.
        """
        rng = self.sim.streams.workload
        latest = max(until, 0)
        ticks = []
        for _ in range(requests):
            near = ticks and rng.random() < 0.8
            ticks.append(min(latest, ticks[-1] + rng.randint(20, 80)) if near else rng.randint(0, latest))
        ticks.sort()
        for k, tick in enumerate(ticks, start=1):
            key, via, put = rng.choice("xxy"), rng.choice(self.ids), rng.random() < 0.5
            at = max(tick, self.now)
            if put:
                self.put(key, k, via=via, client=f"w{k}", at=at)
            else:
                self.get(key, via=via, client=f"w{k}", at=at)


def _versioned_puts(records):
    return [(r["op"], r["key"], r["version"], r["based_on"], r["status"] == "ok") for r in records
            if r["kind"] == "put" and r["version"] is not None]


def _stale_records(records):
    """The stale gets among ``records`` (see :meth:`QuorumStore.stale_reads`)."""
    puts = {}
    for r in records:
        if r["kind"] == "put":
            ret = r["ret"] if r["status"] == "ok" else None
            puts.setdefault(r["key"], []).append(
                (Operation(r["client"], "put", r["key"], r["value"], None, r["call"], ret), r))
    found = []
    for r in records:
        if r["kind"] != "get" or r["status"] != "ok":
            continue
        pairs = puts.get(r["key"], [])
        get = Operation(r["client"], "get", r["key"], None, r["output"], r["call"], r["ret"])
        missed = stale_read(get, [op for op, _ in pairs])
        if missed is not None:
            found.append(dict(r, missed=dict(next(rec for op, rec in pairs if op is missed))))
    return found


# ====================================================================================== experiments
def _delay_range(delay):
    from ..sim.network import check_delay
    return check_delay(delay)


def _status_counts(records):
    out = {"attempted": len(records), "answered": 0, "refused": 0, "unanswered": 0}
    for r in records:
        out[{"ok": "answered", "refused": "refused"}.get(r["status"], "unanswered")] += 1
    return out


def stale_read_experiment(n=3, r=1, w=1, seeds=range(5), trials=100, after_ticks=1, delay=(1, 30), mode="cp",
                          timeout_ticks=200):
    """Write, wait, read: how often does an (N, R, W) store return the value before the write?

    Each trial, a writer puts a fresh value through a random node; once the put
    is acknowledged and ``after_ticks`` more have passed, a reader gets the key
    through a random node; then the store goes quiet before the next trial.
    Every message takes a random delay in ``delay``; there are no faults.  The
    get is stale when it does not return the value just written (see
    :meth:`QuorumStore.stale_reads`).  Sweeping ``after_ticks`` gives the
    probability of a stale read as a function of the time since the write
    (Bailis et al.'s t-visibility).

    Returns a dict: ``n``, ``r``, ``w``, ``after_ticks``, ``reads`` (gets
    answered), ``stale`` (stale reads among them), ``stale_fraction``,
    ``writes`` (puts acknowledged), ``refused``, and ``per_seed``
    (``[{"seed", "reads", "stale"}, ...]``).

    Examples
    --------
    >>> stale_read_experiment(3, 2, 2, seeds=[0], trials=30)["stale"]
    0
    >>> stale_read_experiment(3, 1, 1, seeds=[0], trials=30)["stale"] > 0
    True

    Notes
    -----
    With R + W > N every read quorum meets every write quorum (Gifford 1979),
    so no stale read can occur; with R + W <= N a read may miss every replica
    the write had reached when it was acknowledged.  Bailis, Venkataraman,
    Franklin, Hellerstein & Stoica, "Probabilistically Bounded Staleness for
    Practical Partial Quorums" (VLDB 2012), measure the same thing on Dynamo-
    style stores.
    """
    seeds = list(seeds)
    if not seeds:
        raise BadParameter("seeds must name at least one seed, e.g. range(5)")
    _whole("trials", trials, 1)
    _whole("after_ticks", after_ticks, 0)
    total = {"n": n, "r": r, "w": w, "after_ticks": after_ticks, "reads": 0, "stale": 0, "writes": 0,
             "refused": 0, "per_seed": []}
    for seed in seeds:
        kv = QuorumStore(n=n, r=r, w=w, mode=mode, timeout_ticks=timeout_ticks, seed=seed, check=False,
                         delay=_delay_range(delay))
        kv.sim.snapshot_every = None
        rng = random.Random(f"fttoolkit/quorum/stale/{seed}")
        for k in range(1, trials + 1):
            put = kv.put("x", k, via=rng.choice(kv.ids), client="writer")
            kv.run_until(lambda sim: kv._records()[put]["status"] != "pending")
            kv.get("x", via=rng.choice(kv.ids), client="reader", at=kv.now + after_ticks)
            kv.run()
        records = kv.results()
        reads = sum(1 for x in records if x["kind"] == "get" and x["status"] == "ok")
        stale = len(_stale_records(records))
        total["reads"] += reads
        total["stale"] += stale
        total["writes"] += sum(1 for x in records if x["kind"] == "put" and x["status"] == "ok")
        total["refused"] += sum(1 for x in records if x["status"] == "refused")
        total["per_seed"].append({"seed": seed, "reads": reads, "stale": stale})
    total["stale_fraction"] = total["stale"] / total["reads"] if total["reads"] else 0.0
    return total


def cap_experiment(mode="cp", n=5, minority=None, seed=0, ops_per_side=10, gap_ticks=40, timeout_ticks=100,
                   delay=(5, 15), keys=("x", "y")):
    """Partition the store, keep both sides busy, heal, and count what each side answered.

    At t=0 every key is written once (through the majority side).  At t=200
    the network splits into ``minority`` (default: the first ``(n - 1) // 2``
    nodes) and the rest.  Each side then receives ``ops_per_side`` requests,
    one every ``gap_ticks``, alternately a put (a fresh value) and a get of
    the same key, the keys in turn, each to a random node of that side.  Then the partition heals,
    and every key is read once through every node (read repair brings the
    replicas together).

    Returns a dict: ``mode``, ``n``, ``sides`` (``{"minority": {...}, "majority":
    {...}}``, each with ``nodes``, ``attempted``, ``answered``, ``refused``,
    ``unanswered``, ``puts_acknowledged``, ``mean_latency_ticks`` of the
    answered requests), ``conflicts`` (pairs of acknowledged puts on one key
    that did not know each other, see :meth:`QuorumStore.conflicts`),
    ``conflicting_writes`` (acknowledged puts in at least one such pair),
    ``keys_in_conflict``, ``lost_writes`` (acknowledged puts that no later put
    read, dropped by last writer wins, see :meth:`QuorumStore.lost_writes`), ``stale_reads``
    (during the whole run) and ``converged`` (every replica holds the same copy
    of every key at the end).

    Examples
    --------
    >>> cp = cap_experiment("cp", ops_per_side=4)
    >>> cp["sides"]["minority"]["answered"], cp["sides"]["majority"]["refused"], cp["conflicts"]
    (0, 0, 0)
    >>> ap = cap_experiment("ap", ops_per_side=4)
    >>> ap["sides"]["minority"]["refused"], ap["conflicts"] > 0
    (0, True)

    Notes
    -----
    Gilbert & Lynch (2002): under a partition a replicated register can stay
    consistent (atomic) or available, not both.  In ``cp`` mode the minority
    refuses; in ``ap`` mode (Dynamo's sloppy quorums, DeCandia et al. 2007 §4.6)
    both sides accept and their writes conflict.
    """
    if mode not in MODES:
        raise BadParameter(f"mode must be 'cp' or 'ap'; got {mode!r}")
    _whole("n", n, 2, " (a partition needs two sides)")
    _whole("ops_per_side", ops_per_side, 1)
    _whole("gap_ticks", gap_ticks, 1)
    ids = node_ids(n)
    if minority is None:
        minority = ids[:max((n - 1) // 2, 1)]
    minority = sorted_ids(minority)
    for node in minority:
        if node not in ids:
            raise BadParameter(f"{node!r} is not a node of the cluster ({', '.join(ids)})")
    majority_side = [i for i in ids if i not in minority]
    if not minority or not majority_side:
        raise BadParameter(f"minority must leave nodes on both sides of the partition; got {minority!r}")
    kv = QuorumStore(n=n, mode=mode, timeout_ticks=timeout_ticks, seed=seed, check=False, delay=_delay_range(delay))
    kv.sim.snapshot_every = None
    rng = random.Random(f"fttoolkit/quorum/cap/{seed}")
    keys = list(keys)
    value = 0
    for key in keys:
        value += 1
        kv.put(key, value, via=majority_side[0], client="setup", at=0)
    split_at = 200
    kv.partition(minority, majority_side, at=split_at)
    sides = {"minority": minority, "majority": majority_side}
    ops = {"minority": [], "majority": []}
    for k in range(ops_per_side):
        at = split_at + 10 + k * gap_ticks
        for side, nodes in sides.items():
            key, via = keys[(k // 2) % len(keys)], rng.choice(nodes)
            client = f"{side}-{k + 1}"
            if k % 2 == 0:
                value += 1
                ops[side].append(kv.put(key, value, via=via, client=client, at=at))
            else:
                ops[side].append(kv.get(key, via=via, client=client, at=at))
    heal_at = split_at + 10 + ops_per_side * gap_ticks + 3 * timeout_ticks
    kv.heal(at=heal_at)
    for j, node in enumerate(ids):
        for key in keys:
            kv.get(key, via=node, client=f"after-{node}-{key}", at=heal_at + 50 + 40 * j)
    kv.run()
    records = {x["op"]: x for x in kv.results()}
    out = {"mode": mode, "n": n, "sides": {}}
    for side, nodes in sides.items():
        mine = [records[op] for op in ops[side]]
        counts = _status_counts(mine)
        counts["puts_acknowledged"] = sum(1 for x in mine if x["kind"] == "put" and x["status"] == "ok")
        answered = [x["ret"] - x["call"] for x in mine if x["status"] == "ok"]
        counts["mean_latency_ticks"] = sum(answered) / len(answered) if answered else None
        out["sides"][side] = dict(nodes=list(nodes), **counts)
    conflicts = kv.conflicts()
    out["conflicts"] = len(conflicts)
    out["conflicting_writes"] = len({c["loser"] for c in conflicts} | {c["winner"] for c in conflicts})
    out["keys_in_conflict"] = len({c["key"] for c in conflicts})
    out["lost_writes"] = len(kv.lost_writes())
    out["stale_reads"] = len(kv.stale_reads())
    out["converged"] = all(len(set(kv.replicas(key).values())) == 1 for key in keys)
    return out


def _up_intervals(rng, mttf_ticks, mttr_ticks, until_ticks):
    """Alternating up and down times (exponential), as a list of ``(crash tick, restart tick)``."""
    downs = []
    t = 0
    while True:
        t += max(1, round(rng.expovariate(1 / mttf_ticks)))
        if t >= until_ticks:
            return downs
        back = t + max(1, round(rng.expovariate(1 / mttr_ticks)))
        downs.append((t, back))
        t = back


def availability_experiment(n=3, mttf_ticks=5000, mttr_ticks=500, until_ticks=1_000_000, seed=0, r=None, w=None,
                            op_every_ticks=250, timeout_ticks=50, delay=(1, 5), batches=20):
    """Crash and repair replicas at random and measure how often the store answers.

    Each replica stays up for an exponential time of mean ``mttf_ticks``, then
    down (crashed, its disk kept) for an exponential time of mean
    ``mttr_ticks``, independently of the others (one seeded stream per
    replica), until ``until_ticks``; crashes and restarts are scheduled
    actions of the simulator.  Every ``op_every_ticks`` a client sends a put or
    a get (alternately) to a replica that is up (chosen at random; if none is,
    the request fails), in ``cp`` mode.

    Returns a dict: the parameters (``n``, ``r``, ``w``, ``mttf_ticks``,
    ``mttr_ticks``, ``until_ticks``, ``seed``), ``node_up_fraction`` (the
    fraction of time a replica was up, averaged over replicas: an estimate of
    A = MTTF / (MTTF + MTTR)), ``majority_up_fraction`` (time with more than
    n/2 replicas up), ``quorum_up_fraction`` (time with at least max(R, W)
    up), ``majority_up_stderr`` (standard error of ``majority_up_fraction``
    from ``batches`` batch means), ``ops``, ``ops_ok``, ``ops_refused``,
    ``ops_lost`` (no reply: the coordinator crashed, or no replica was up),
    ``success_fraction``, ``success_stderr`` (batch means), ``crashes``, and
    ``events`` (trace events simulated).

    Examples
    --------
    >>> a = availability_experiment(n=3, mttf_ticks=900, mttr_ticks=100, until_ticks=20_000, seed=1)
    >>> 0.9 < a["majority_up_fraction"] <= 1 and abs(a["success_fraction"] - a["majority_up_fraction"]) < 0.05
    True

    Notes
    -----
    Assumes independent failures, as the formulas it is compared with do:
    A = MTTF / (MTTF + MTTR) for one replica, and for a majority of n,
    sum over k > n/2 of C(n, k) A^k (1 - A)^(n - k).  The fractions are time
    averages of one run; their uncertainty comes from the number of
    failure-repair cycles (about ``until_ticks / (mttf_ticks + mttr_ticks)``
    per replica), which the batch-means standard errors estimate.
    """
    _whole("n", n, 1)
    for name, value in (("mttf_ticks", mttf_ticks), ("mttr_ticks", mttr_ticks), ("until_ticks", until_ticks),
                        ("op_every_ticks", op_every_ticks), ("batches", batches)):
        _whole(name, value, 1)
    if until_ticks < batches * op_every_ticks:
        raise BadParameter(f"until_ticks ({until_ticks}) is too short for {batches} batches of requests "
                           f"every {op_every_ticks} ticks")
    kv = QuorumStore(n=n, r=r, w=w, mode="cp", timeout_ticks=timeout_ticks, seed=seed, check=False,
                     delay=_delay_range(delay))
    kv.sim.snapshot_every = None
    ids = kv.ids
    downs = {i: _up_intervals(random.Random(f"fttoolkit/quorum/availability/{seed}/{i}"), mttf_ticks, mttr_ticks,
                              until_ticks) for i in ids}
    for node in ids:
        for crash, back in downs[node]:
            kv.crash(node, at=crash)
            if back < until_ticks:
                kv.restart(node, at=back)
    # The number of replicas up, as a step function of time, from the schedule.
    changes = sorted([(c, -1) for i in ids for c, _ in downs[i]] +
                     [(b, +1) for i in ids for _, b in downs[i] if b < until_ticks])
    need = max(kv.r, kv.w)
    width = until_ticks / batches
    majority_time = [0.0] * batches
    quorum_time = 0.0
    up_time = 0.0
    count, last = n, 0

    def credit(start, end, count):
        nonlocal quorum_time, up_time
        up_time += count * (end - start)
        if count >= need:
            quorum_time += end - start
        if count > n / 2:
            b = int(start // width)
            while start < end:                # split the interval at batch boundaries
                stop = min(end, (b + 1) * width)
                majority_time[min(b, batches - 1)] += stop - start
                start, b = stop, b + 1

    for tick, delta in changes:
        credit(last, tick, count)
        count, last = count + delta, tick
    credit(last, until_ticks, count)
    rng = random.Random(f"fttoolkit/quorum/availability/clients/{seed}")
    requests = []
    position = {i: 0 for i in ids}          # each replica's first down interval not yet over
    for k, tick in enumerate(range(op_every_ticks, until_ticks, op_every_ticks), start=1):
        running = []
        for i in ids:
            mine = downs[i]
            while position[i] < len(mine) and mine[position[i]][1] <= tick:
                position[i] += 1
            if position[i] == len(mine) or tick < mine[position[i]][0]:
                running.append(i)
        if not running:
            requests.append((tick, None))
            continue
        via = rng.choice(running)
        op = (kv.put("x", k, via=via, client=f"a{k}", at=tick) if k % 2 else
              kv.get("x", via=via, client=f"a{k}", at=tick))
        requests.append((tick, op))
    kv.run(until=until_ticks + 4 * timeout_ticks)
    records = kv._records()
    ok = [0] * batches
    made = [0] * batches
    refused = lost = 0
    for tick, op in requests:
        b = min(int(tick // width), batches - 1)
        made[b] += 1
        status = records[op]["status"] if op is not None and op in records else "pending"
        if status == "ok":
            ok[b] += 1
        elif status == "refused":
            refused += 1
        else:
            lost += 1
    total_ok = sum(ok)
    return {
        "n": n, "r": kv.r, "w": kv.w, "mttf_ticks": mttf_ticks, "mttr_ticks": mttr_ticks,
        "until_ticks": until_ticks, "seed": seed,
        "node_up_fraction": up_time / (n * until_ticks),
        "majority_up_fraction": sum(majority_time) / until_ticks,
        "quorum_up_fraction": quorum_time / until_ticks,
        "majority_up_stderr": _batch_stderr([t / width for t in majority_time]),
        "ops": len(requests), "ops_ok": total_ok, "ops_refused": refused, "ops_lost": lost,
        "success_fraction": total_ok / len(requests) if requests else 0.0,
        "success_stderr": _batch_stderr([o / m for o, m in zip(ok, made) if m]),
        "crashes": sum(len(d) for d in downs.values()),
        "events": len(kv.trace),
    }


def _batch_stderr(means):
    """Standard error of the overall mean from batch means (the batches taken as independent)."""
    k = len(means)
    if k < 2:
        return float("nan")
    mean = sum(means) / k
    return math.sqrt(sum((m - mean) ** 2 for m in means) / (k - 1) / k)
