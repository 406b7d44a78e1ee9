"""``fttoolkit.RaftKV``: a linearizable key-value store on Raft, with its clients (Chapter 7).

The servers are :class:`~fttoolkit.algorithms.raft_kv.RaftKVNode` (the
course's Raft, with client sessions and ReadIndex reads).  The clients are
:class:`~fttoolkit.algorithms.raft_kv.KVClient` objects outside the cluster:
a client's request reaches a server at once and its answer comes back at
once (the simulator's client requests), so the faults that matter happen
between the servers.  Each client has one operation outstanding at a time,
sends it to the server it believes leads, follows ``NOT_LEADER`` hints, and
after ``retry_ticks`` without an answer tries another server with the same
sequence number.

Every request and answer is in the trace, so the history of operations
(:meth:`RaftKV.history`) is rebuilt from it, and the invariant
*Linearizability* checks it during the run: after every answered ``get``, the
history of that key must be linearizable (Herlihy & Wing 1990), decided by
:func:`fttoolkit.check.linearizability.check`.  Checking each read as it
returns is enough: a history whose reads all passed is linearizable, since a
write can always take effect just before it returns.  A check that exceeds
its search budget is reported as the distinct violation *Linearizability
unknown*, never as a pass.

Notes
-----
Herlihy & Wing, "Linearizability: A Correctness Condition for Concurrent
Objects" (1990); Ongaro, "Consensus: Bridging Theory and Practice" (thesis,
2014), chapter 6; Kingsbury, "Jepsen: etcd and Consul" (2014).
"""

from ..algorithms.raft import INVARIANTS as RAFT_INVARIANTS
from ..algorithms.raft import LIVENESS
from ..algorithms.raft_kv import (ClientCommand, ClientHistory, ClientQuery, ClientResponse, KVClient,
                                  RaftKVNode)
from ..check.linearizability import check, describe_operation
from ..core.errors import BadParameter, InvalidAction
from ..core.invariants import Invariant, Violation
from .base import register
from .raft import Raft

__all__ = ["RaftKV", "INVARIANTS", "LINEARIZABILITY"]

_KINDS = ("get", "put", "append")


# ---------------------------------------------------------------------------- the clients, run
class _Clients:
    """The store's clients, as a checker of the simulation (part of the run's state).

    It follows the trace: a request tells a client what it sent, an answer
    what came back; after every step it sends the requests its clients decided
    to send (redirects, retries after a timeout).  Those requests are made
    inside steps, so a replay or a rewind makes them again by itself.

    A client must act at its deadline even when nothing else happens then, so
    each deadline also gets a wake-up: an internal scheduled action that does
    nothing (not a recorded input), whose step gives :meth:`after_step` its turn.
    """

    def __init__(self, retry_ticks, backoff_ticks, max_hops):
        self.settings = (retry_ticks, backoff_ticks, max_hops)
        self.clients = {}
        self.history = ClientHistory()
        self.outbox = []          # (client id, server): to send after this step
        self.alarms = set()       # ticks with a wake-up scheduled

    def client(self, client_id, servers):
        found = self.clients.get(client_id)
        if found is None:
            retry, backoff, hops = self.settings
            found = self.clients[client_id] = KVClient(client_id, servers, retry, backoff, hops)
            self.clients = dict(sorted(self.clients.items()))
        return found

    def on_event(self, sim, event):
        kind = event.kind
        if kind == "request":
            msg = event.data["msg"]
            if type(msg) is ClientCommand or type(msg) is ClientQuery:
                self.history.follow(event)
                client = self.client(msg.client_id, sim.ids)
                client.sent(event.tick, event.node, msg)
                self._wake(sim, client)
        elif kind == "reply":
            msg = event.data["msg"]
            if type(msg) is ClientResponse:
                self.history.follow(event)
                client = self.clients.get(msg.client_id)
                if client is not None:
                    target = client.received(event.tick, event.node, msg)
                    if target is not None:
                        self.outbox.append((client.id, target))
                    self._wake(sim, client)
        elif kind == "dropped":
            self.history.follow(event)

    def after_step(self, sim):
        if self.outbox:
            outbox, self.outbox = self.outbox, []
            for client_id, server in outbox:
                self._send(sim, client_id, server)
        now = sim.now
        for client in self.clients.values():
            if client.deadline is not None and now >= client.deadline:
                target = client.due(now)
                if target is not None:
                    self._send(sim, client.id, target)
        if self.alarms and min(self.alarms) <= now:
            self.alarms = {tick for tick in self.alarms if tick > now}

    def _wake(self, sim, client):
        deadline = client.deadline
        if deadline is not None and deadline > sim.now and deadline not in self.alarms:
            self.alarms.add(deadline)
            sim._schedule_internal(deadline, "_ensure_started")     # does nothing: a wake-up

    def _send(self, sim, client_id, server):
        pending = self.clients[client_id].pending
        if pending is not None:
            sim.request(server, pending, client=client_id)


# ------------------------------------------------------------------------ the invariant
class _Linearizable:
    """History observer: after each answered ``get``, is the history of its key linearizable?"""

    #: Search steps allowed per check (a budget that does not depend on the machine: deterministic).
    max_steps = 200_000

    def __init__(self):
        self.history = ClientHistory()
        self.done = set()         # keys already found broken (a broken history stays broken)

    def __call__(self, event):
        if event.kind != "reply" and event.kind != "request" and event.kind != "dropped":
            return None
        op = self.history.follow(event)
        if op is None or op.kind != "get" or op.key in self.done:
            return None
        ops = self.history.operations(key=op.key)
        result = check(ops, model="kv", max_steps=self.max_steps)
        if result.ok:
            return None
        self.done.add(op.key)
        read = f"{describe_operation(op)} by {op.client} (t={op.call}..{op.ret})"
        if result.verdict == "unknown":
            return Violation("Linearizability unknown", (event.node,),
                             f"after {read}: the checker gave up on the {len(ops)} operations on key "
                             f"{op.key!r} ({result.limit}); neither verdict can be given")
        return Violation("Linearizability", (event.node,),
                         f"{read}: the {len(result.failing)} operations on key {op.key!r} have no "
                         f"linearization (the longest linearizable prefix orders {len(result.partial)})")


#: Every client operation appears to take effect at one instant between its invocation and its response.
LINEARIZABILITY = Invariant(
    "Linearizability: every operation takes effect at one instant between its invocation and its response",
    observe=_Linearizable)

#: Raft's five properties, and linearizability of what the clients saw.
INVARIANTS = list(RAFT_INVARIANTS) + [LINEARIZABILITY]


def _driver(sim):
    for checker in sim.checkers:
        if type(checker) is _Clients:
            return checker
    raise InvalidAction("this copy of the cluster has no clients (a liveness probe?)")


@register
class RaftKV(Raft):
    """A key-value store replicated by Raft, with clients: ``put``, ``append``, ``get``.

    Parameters are those of :class:`fttoolkit.Raft`; the bugs are Raft's and
    ``stale-read`` (a leader answers reads without confirming it still leads)
    and ``no-sessions`` (no duplicate detection).  Clients are named by
    strings that are not node ids (``"c1"``, ``"alice"``); each has one
    operation outstanding at a time.  Raft's ``submit`` and ``agree`` still
    work, with plain commands outside any session (not in the history).

    Examples
    --------
    >>> kv = RaftKV(nodes=3, seed=1)
    >>> kv.put("x", "1", client="c1").ret is not None
    True
    >>> _ = kv.append("x", "2", client="c2")
    >>> kv.get("x", client="c1").output
    '12'
    >>> [(op.client, op.kind, op.output) for op in kv.history()]
    [('c1', 'put', None), ('c2', 'append', None), ('c1', 'get', '12')]
    >>> kv.check_history().verdict
    'linearizable'

    Notes
    -----
    Ongaro, "Consensus: Bridging Theory and Practice" (thesis, 2014), §6.3
    (client sessions) and §6.4 (ReadIndex); Herlihy & Wing, "Linearizability:
    A Correctness Condition for Concurrent Objects" (1990); Kingsbury,
    "Jepsen: etcd and Consul" (2014) for the stale reads.
    """

    name = "raft-kv"
    node_class = RaftKVNode
    summary = "a linearizable key-value store on Raft: client sessions, ReadIndex reads (Chapter 7)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"put": "put CLIENT KEY VALUE [to NODE]", "append": "append CLIENT KEY VALUE [to NODE]",
                       "get": "get CLIENT KEY [to NODE]", "campaign": "campaign NODE"}
    fuzz_ticks = 3000
    fuzz_requests = 30
    fuzz_params = {"max_batch": (1, 64)}

    #: Ticks a client waits for an answer before it tries another server with the same number.
    retry_ticks = 100
    #: Ticks a client waits when no server it asked knows a leader.
    backoff_ticks = 20
    #: Redirects a client follows at once before it waits ``backoff_ticks``.
    max_hops = 3

    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, **params):
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=check, halt=halt, **params)
        # First among the checkers, so that the invariants see the state its requests change.
        self.sim.checkers.insert(0, _Clients(self.retry_ticks, self.backoff_ticks, self.max_hops))
        self._reserved = {}       # client -> the last sequence number scheduled for later

    # ---- clients ------------------------------------------------------------------------
    def put(self, key, value, client="c1", to=None, wait=True, within_ticks=2000, at=None):
        """Client ``client`` sets ``key`` to ``value`` (a string); see :meth:`invoke`."""
        return self.invoke("put", key, value, client, to, wait, within_ticks, at)

    def append(self, key, value, client="c1", to=None, wait=True, within_ticks=2000, at=None):
        """Client ``client`` appends ``value`` (a string) to ``key``; see :meth:`invoke`."""
        return self.invoke("append", key, value, client, to, wait, within_ticks, at)

    def get(self, key, client="c1", to=None, wait=True, within_ticks=2000, at=None):
        """Client ``client`` reads ``key`` (``""`` if it was never written); see :meth:`invoke`."""
        return self.invoke("get", key, None, client, to, wait, within_ticks, at)

    def invoke(self, kind, key, value=None, client="c1", to=None, wait=True, within_ticks=2000, at=None):
        """Client ``client`` invokes one operation; return its :class:`~fttoolkit.core.history.Operation`.

        The request goes to ``to``, by default the server the client believes
        leads (the first server if it has no idea yet); from there the client
        follows redirects and retries by itself.  With ``wait`` the cluster runs
        until the answer arrives or ``within_ticks`` have passed, and the
        operation is returned as it then stands (``ret`` is ``None`` if no
        answer came; ``output`` is the value read by a ``get``).  With
        ``at=TICK`` the invocation is scheduled for that tick instead (and
        ``None`` is returned; a client still busy then gives its earlier
        operation up).
        """
        self._check_op(kind, key, value, client)
        sim = self.sim
        sim._ensure_started()
        driver = _driver(sim)
        known = driver.clients.get(client)
        if to is None:
            to = known.target() if known is not None else self.ids[0]
        sim.network.check_node(to)
        seq = self._next_seq(client)
        msg = ClientQuery(client, seq, key) if kind == "get" else ClientCommand(client, seq, (kind, key, value))
        if at is not None:
            if wait:
                raise BadParameter("an operation scheduled with at= cannot wait; pass wait=False")
            self._reserved[client] = seq
            sim.schedule(at, "request", to, msg, client=client)
            return None
        if known is not None and known.pending is not None:
            busy = driver.history.find(client, known.pending.sequence_num)
            raise InvalidAction(f"client {client} is still waiting for {describe_operation(busy)} (invoked at "
                                f"t={busy.call}); a client has one operation outstanding at a time: run "
                                f"the cluster until it is answered, or use another client")
        if isinstance(within_ticks, bool) or not isinstance(within_ticks, int) or within_ticks < 0:
            raise BadParameter(f"within_ticks must be a whole number >= 0; got {within_ticks!r}")
        sim.request(to, msg, client=client)
        if wait:
            self.run_until(lambda s: _driver(s).clients[client].pending is None or
                           _driver(s).clients[client].seq != seq, limit_ticks=self.now + within_ticks)
        return _driver(self.sim).history.find(client, seq)

    def _next_seq(self, client):
        known = _driver(self.sim).clients.get(client)
        return max(known.seq if known is not None else 0, self._reserved.get(client, 0)) + 1

    def _check_op(self, kind, key, value, client):
        if kind not in _KINDS:
            raise BadParameter(f"unknown operation {kind!r}; allowed: {', '.join(_KINDS)}")
        if not isinstance(key, str) or not key:
            raise BadParameter(f"a key is a non-empty string; got {key!r}")
        if kind != "get" and not isinstance(value, str):
            raise BadParameter(f"{kind} needs a string value (the history is checked as text); got {value!r}")
        if not isinstance(client, str) or not client or client in self.sim.graph:
            raise BadParameter(f"a client is named by a non-empty string that is not a node id "
                               f"({', '.join(self.ids)}); got {client!r}")

    def client(self, client_id):
        """The :class:`~fttoolkit.algorithms.raft_kv.KVClient` named ``client_id`` (its beliefs, its pending request)."""
        self.sim._ensure_started()
        found = _driver(self.sim).clients.get(client_id)
        if found is None:
            known = ", ".join(_driver(self.sim).clients) or "none yet"
            raise BadParameter(f"no client {client_id!r} has sent anything; clients: {known}")
        return found

    # ---- the history ----------------------------------------------------------------------
    def history(self, failed=False):
        """The clients' operations so far (:class:`~fttoolkit.core.history.Operation`), in invocation order.

        ``call`` is the tick a client invoked the operation, ``ret`` the tick
        its answer arrived (``None``: no answer, or given up: it may have taken
        effect).  An operation that certainly did not take effect (every
        attempt refused, or lost at a crashed server) is left out, as Jepsen
        leaves out ``:fail``, unless ``failed``.
        """
        self.sim._ensure_started()
        return _driver(self.sim).history.operations(failed=failed)

    def check_history(self, timeout_s=None):
        """Check :meth:`history` for linearizability (see :func:`fttoolkit.check.linearizability.check`)."""
        return check(self.history(), model="kv", timeout_s=timeout_s)

    # ---- scripts and fuzzing --------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``put CLIENT KEY VALUE [to NODE]``, ``append ...``, ``get CLIENT KEY [to NODE]`` (invoked, not
        waited for: ``run`` or ``tick`` next), and Raft's ``campaign NODE``."""
        from ..scenario import ScriptError
        if name == "campaign":
            return super().script_command(name, args, line, at)
        to = None
        if len(args) >= 2 and args[-2] == "to":
            to, args = args[-1], args[:-2]
        if len(args) != (2 if name == "get" else 3):
            raise ScriptError(f"line {line}: usage: {self.script_commands[name]}")
        value = None if name == "get" else args[2]
        self.invoke(name, args[1], value, client=args[0], to=to, wait=False, at=at)
        return None

    def workload(self, until, requests=3, clients=3, keys=("x", "y"), final_reads=True):
        """Schedule ``requests`` operations by ``clients`` clients on ``keys``, before tick ``until``.

        Each client's operations are spread evenly over ``[now, until]``, with
        jitter; each is a ``get`` (45%), an ``append`` (45%) or a ``put`` (10%)
        of a random key, first sent to a random server.  Written values are
        unique (``"c2.7;"``: client and sequence number), so an append applied
        twice shows in later reads.  With ``final_reads``, every client then
        reads every key once more, from ``until + 400`` on (once the fuzzer's
        faults have stopped: Jepsen's final reads).
        """
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
            raise BadParameter(f"requests must be a whole number >= 0; got {requests!r}")
        if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
            raise BadParameter(f"clients must be a whole number >= 1; got {clients!r}")
        keys = list(keys)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise BadParameter(f"keys must be non-empty strings, at least one; got {keys!r}")
        self.sim._ensure_started()
        rng = self.sim.streams.workload
        names = [f"c{k}" for k in range(1, min(clients, max(requests, 1)) + 1)]
        latest = max(until, self.now)
        for k, name in enumerate(names):
            count = requests // len(names) + (1 if k < requests % len(names) else 0)
            gap = max((latest - self.now) // max(count, 1), 2)
            for i in range(count):
                tick = self.now + i * gap + rng.randint(0, gap // 2)
                draw = rng.random()
                kind = "get" if draw < 0.45 else "append" if draw < 0.9 else "put"
                key, to = rng.choice(keys), rng.choice(self.ids)
                seq = self._next_seq(name)          # the number invoke() gives it
                self.invoke(kind, key, None if kind == "get" else f"{name}.{seq};", client=name, to=to,
                            wait=False, at=tick)
        if final_reads and requests:
            for j, key in enumerate(keys):
                for k, name in enumerate(names):
                    self.invoke("get", key, client=name, to=rng.choice(self.ids), wait=False,
                                at=latest + 400 + 100 * j + 10 * k)
