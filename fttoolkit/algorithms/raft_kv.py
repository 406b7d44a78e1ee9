"""A linearizable key-value store replicated by Raft: client sessions and ReadIndex reads.

The servers are the course's Raft nodes (:class:`~fttoolkit.algorithms.raft.RaftNode`),
extended, not copied, with what Ongaro's thesis ("Consensus: Bridging Theory
and Practice", Stanford, 2014) says a replicated state machine needs so that
its *clients* see a linearizable object (chapter 6):

* **Client sessions (§6.3).**  Each client has an id and numbers its
  commands 1, 2, 3...; it has one operation outstanding at a time and retries
  it, with the *same* number, until some server answers.  The state machine
  keeps, per client, the last number it applied and that command's answer
  (``sessions``): a command whose number it has seen is not applied again,
  its earlier answer is returned instead.  Sessions are part of the
  replicated state, so every server (and a new leader) knows them.
* **Linearizable reads without the log: ReadIndex (§6.4).**  The leader
  (1) waits until it has committed an entry of its own term (the no-op it
  appends when elected), (2) records its commit index as the read's
  ``read_index``, (3) sends a round of :class:`ReadIndexHeartbeat` and waits
  for a majority to acknowledge it, which proves that nobody had replaced it
  when the read arrived, (4) waits until it has applied up to ``read_index``,
  then (5) answers from its state machine.

Writes (``put``, ``append``) go through the log as
``(op, key, value, client_id, sequence_num)``; the leader answers a client
once the entry is applied.  A server that is not the leader answers
``NOT_LEADER`` with a hint of who leads.  A ``get`` of a missing key returns
``""``.

The clients are :class:`KVClient` objects (sans-I/O, outside the cluster):
the front door :class:`fttoolkit.RaftKV` carries their requests to the
servers and their answers back.  :class:`ClientHistory` turns the requests
and answers of a trace into a history of
:class:`~fttoolkit.core.history.Operation` records for the linearizability
checker.

Bug zoo (besides Raft's own)
----------------------------
``stale-read``
    a leader answers a read from its own state at once, without confirming
    that it still leads: a leader cut off by a partition, already replaced,
    returns stale values (the bug Kingsbury reported in etcd and Consul:
    "Jepsen: etcd and Consul", 2014);
``no-sessions``
    no duplicate detection: a command retried after a lost answer is applied
    twice (an append shows its value twice).

Examples
--------
>>> leader = RaftKVNode("n1", peers=())
>>> _ = leader.start([])
>>> _ = leader.handle_timer(ElectionTimeout())            # a cluster of one elects itself
>>> out = leader.handle_message(ClientCommand("c1", 1, ("append", "x", "a")), "c1")
>>> out = leader.handle_message(ClientCommand("c1", 1, ("append", "x", "a")), "c1")   # a retry
>>> leader.kv, leader.sessions
({'x': 'a'}, {'c1': (1, None)})
>>> [i for i in out if type(i).__name__ == "Send"]
[Send(->c1 ClientResponse(c1 #1 OK None))]
"""

from typing import NamedTuple

from ..core.errors import BadParameter
from ..core.history import Operation
from ..core.messages import Message
from .raft import ClientRequest, ElectionTimeout, Entry, RaftNode  # noqa: F401  (scripts name ClientRequest)

__all__ = ["RaftKVNode", "ClientCommand", "ClientQuery", "ClientResponse", "ReadIndexHeartbeat",
           "ReadIndexHeartbeatReply", "PendingRead", "KVClient", "ClientHistory", "apply_kv", "OK",
           "NOT_LEADER", "WRITES"]

#: Status of a request that was carried out.
OK = "OK"
#: Status of a request sent to a server that is not the leader (``leader_hint`` says who may be).
NOT_LEADER = "NOT_LEADER"
#: The operations that go through the log.
WRITES = ("put", "append")


def _check_client(client_id, sequence_num, what):
    if not isinstance(client_id, str) or not client_id:
        raise BadParameter(f"{what}: client_id must be a non-empty string; got {client_id!r}")
    if isinstance(sequence_num, bool) or not isinstance(sequence_num, int) or sequence_num < 1:
        raise BadParameter(f"{what}: sequence_num must be a whole number >= 1; got {sequence_num!r}")


def _check_hashable(msg):
    try:
        hash(msg)
    except TypeError:
        raise BadParameter(f"{type(msg).__name__}: keys and values must be immutable (strings, numbers, "
                           f"tuples); got {msg!r}") from None


# ---------------------------------------------------------------------------------- messages
class ClientCommand(Message):
    """Client -> server: run ``command`` (``("put", key, value)`` or ``("append", key, value)``),
    number ``sequence_num`` of client ``client_id`` (thesis Figure 6.1, ClientRequest with a session)."""

    client_id: str
    sequence_num: int
    command: tuple

    def __post_init__(self):
        _check_client(self.client_id, self.sequence_num, "ClientCommand")
        command = self.command
        if not (isinstance(command, tuple) and len(command) == 3 and command[0] in WRITES
                and isinstance(command[2], str)):
            raise BadParameter(f"ClientCommand: command must be ('put' or 'append', key, value) with a "
                               f"string value; got {command!r}")
        _check_hashable(self)

    def __repr__(self):
        op, key, value = self.command
        return f"ClientCommand({self.client_id} #{self.sequence_num} {op} {key} {value!r})"


class ClientQuery(Message):
    """Client -> server: read ``key`` (thesis Figure 6.1, ClientQuery); numbered like commands so
    that the answer can be matched to the operation it belongs to."""

    client_id: str
    sequence_num: int
    key: object

    def __post_init__(self):
        _check_client(self.client_id, self.sequence_num, "ClientQuery")
        _check_hashable(self)

    def __repr__(self):
        return f"ClientQuery({self.client_id} #{self.sequence_num} get {self.key})"


class ClientResponse(Message):
    """Server -> client: ``status`` is :data:`OK` (with the ``response``) or :data:`NOT_LEADER`
    (with ``leader_hint``, who the server believes leads, or ``None``)."""

    client_id: str
    sequence_num: int
    status: str
    response: object
    leader_hint: object

    def __repr__(self):
        if self.status == OK:
            return f"ClientResponse({self.client_id} #{self.sequence_num} OK {self.response!r})"
        return f"ClientResponse({self.client_id} #{self.sequence_num} {self.status} hint={self.leader_hint})"


class ReadIndexHeartbeat(Message):
    """Leader -> all: do you still follow me in ``term``?  Round ``round`` of ReadIndex (§6.4, step 3)."""

    term: int
    round: int


class ReadIndexHeartbeatReply(Message):
    """Follower -> leader: my term (the leader's, if I still follow it), for round ``round``."""

    term: int
    round: int


class PendingRead(NamedTuple):
    """A read the leader holds until ReadIndex lets it answer."""

    client: str             # where the answer goes
    client_id: str
    sequence_num: int
    key: object
    round: int              # the heartbeat round that must be acknowledged by a majority
    read_index: object      # the commit index to reach; None until an entry of this term committed


# ----------------------------------------------------------------------------- state machine
def apply_kv(kv, op, key, value=None):
    """Apply one operation to the key-value map ``kv`` (a dict); return its answer.

    ``put`` sets, ``append`` adds text at the end, ``get`` reads (``""`` for a
    missing key); writes answer ``None``.

    >>> kv = {}
    >>> apply_kv(kv, "put", "x", "1"), apply_kv(kv, "append", "x", "2"), apply_kv(kv, "get", "x")
    (None, None, '12')
    >>> apply_kv(kv, "get", "y")
    ''
    """
    if op == "put":
        kv[key] = value
    elif op == "append":
        kv[key] = kv.get(key, "") + str(value)
    elif op == "get":
        return kv.get(key, "")
    else:
        raise BadParameter(f"unknown key-value operation {op!r}; allowed: put, append, get")
    return None


# ------------------------------------------------------------------------------------ server
class RaftKVNode(RaftNode):
    """A Raft server whose state machine is a key-value map with client sessions.

    State, besides Raft's (see :mod:`fttoolkit.algorithms.raft`): ``kv``,
    ``sessions`` (client id -> (last sequence number applied, its answer)),
    both replicated; on the leader, ``waiting`` (log index -> the client to
    answer when it is applied), ``reads`` (:class:`PendingRead`, in arrival
    order), ``read_round`` (the last heartbeat round started),
    ``read_acks`` (round -> who acknowledged it) and ``confirmed_round``.

    Notes
    -----
    Ongaro, "Consensus: Bridging Theory and Practice", PhD thesis, Stanford,
    2014: §6.3 (sessions, duplicate detection), §6.4 (ReadIndex, the no-op of
    a new leader).  Sessions never expire here and clients need not register
    (§6.3.1-6.3.2 discuss both); the log is never compacted, so a restarted
    server rebuilds ``kv`` and ``sessions`` by applying the log again.
    """

    bugs = {
        **RaftNode.bugs,
        "stale-read": "a leader answers reads from its own state without confirming it still leads "
                      "(stale reads from a deposed leader, Jepsen 2014)",
        "no-sessions": "no duplicate detection: a retried command is applied twice",
    }

    def on_start(self, records):
        super().on_start(records)
        self.sessions = {}
        self.waiting = {}
        self.reads = ()
        self.read_round = 0
        self.read_acks = {}
        self.confirmed_round = 0

    # ---- answering clients -------------------------------------------------------------
    def answer(self, client, request, status, response=None):
        """Send ``client`` the answer to ``request`` (a command, a query or a pending read)."""
        hint = self.id if status == OK else self.leader
        self.send(client, ClientResponse(request.client_id, request.sequence_num, status, response, hint))

    def become(self, role):
        if self.role == "leader" and role != "leader":
            self.release_clients()
        super().become(role)

    def release_clients(self):
        """A leader steps down: the reads it holds will not be answered here; tell their clients.

        The clients whose commands it appended get no answer: those entries
        may still commit under the next leader, or be overwritten.  Their
        clients time out and ask again, with the same number (§6.3).
        """
        for read in self.reads:
            self.answer(read.client, read, NOT_LEADER)
        self.waiting, self.reads, self.read_acks = {}, (), {}

    # ---- writes (§6.3) -----------------------------------------------------------------
    def on_client_command(self, msg, sender):
        """Append a client's command to the log, unless its session shows it was applied already."""
        if self.role != "leader":
            self.answer(sender, msg, NOT_LEADER)
            return
        if "no-sessions" not in self.bugs:
            last = self.sessions.get(msg.client_id)
            if last is not None and msg.sequence_num <= last[0]:
                if msg.sequence_num == last[0]:
                    self.answer(sender, msg, OK, last[1])       # a retry: the same answer again
                return          # older than the last one applied: the client has given up on it
        index = self.last_index + 1
        self.waiting[index] = (sender, msg.client_id, msg.sequence_num)
        self.save_entries(index, [Entry(self.current_term, msg.command + (msg.client_id, msg.sequence_num))])
        for peer in self.peers:
            if self.next_index[peer] == index:         # up to date so far: send the new entry now
                self.send_append(peer)
        self.advance_commit()

    def apply_entry(self, command):
        """Apply one committed command to ``kv`` (through ``sessions`` for a client's command); return the answer."""
        if not isinstance(command, tuple) or not command:
            return None
        op = command[0]
        if op in WRITES and len(command) == 5:
            _, key, value, client_id, sequence_num = command
            if "no-sessions" not in self.bugs:
                last = self.sessions.get(client_id)
                if last is not None and sequence_num <= last[0]:
                    self.note("duplicate", client=client_id, seq=sequence_num)
                    return last[1] if sequence_num == last[0] else None
            response = apply_kv(self.kv, op, key, value)
            if "no-sessions" not in self.bugs:
                self.sessions[client_id] = (sequence_num, response)
            return response
        if op in WRITES and len(command) >= 3:       # a plain command (Raft's submit), no session
            return apply_kv(self.kv, op, command[1], command[2])
        if op == "get" and len(command) >= 2:
            return apply_kv(self.kv, "get", command[1])
        return None                                  # the no-op, probes

    def apply_committed(self):
        """Apply committed entries in order (Figure 2); the leader answers the clients waiting for them."""
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            index = self.last_applied
            entry = self.log[index - 1]
            response = self.apply_entry(entry.command)
            self.note("apply", index=index, term=entry.term, command=entry.command)
            waiting = self.waiting.pop(index, None)
            if waiting is not None and self.role == "leader" and entry.command[3:] == waiting[1:]:
                client, client_id, sequence_num = waiting
                self.send(client, ClientResponse(client_id, sequence_num, OK, response, self.id))
        if self.role == "leader":
            self.serve_reads()

    # ---- reads (§6.4) ------------------------------------------------------------------
    def on_client_query(self, msg, sender):
        """ReadIndex: hold the read, start a heartbeat round, answer once a majority confirms."""
        if self.role != "leader":
            self.answer(sender, msg, NOT_LEADER)
            return
        if "stale-read" in self.bugs:                # BUG: no check that this node still leads
            self.answer(sender, msg, OK, apply_kv(self.kv, "get", msg.key))
            return
        self.read_round += 1
        own_term = self.term_at(self.commit_index) == self.current_term
        self.reads += (PendingRead(sender, msg.client_id, msg.sequence_num, msg.key, self.read_round,
                                   self.commit_index if own_term else None),)
        self.read_acks[self.read_round] = frozenset({self.id})
        self.broadcast(ReadIndexHeartbeat(self.current_term, self.read_round))
        self.check_round(self.read_round)         # a cluster of one needs nobody else

    def on_read_index_heartbeat(self, msg, sender):
        """A follower acknowledges a leader of its term (and treats the message as a heartbeat)."""
        self.observe_term(msg.term)
        if msg.term == self.current_term:
            self.follow(sender)
        self.send(sender, ReadIndexHeartbeatReply(self.current_term, msg.round))

    def on_read_index_heartbeat_reply(self, msg, sender):
        if self.observe_term(msg.term) or self.role != "leader" or msg.term != self.current_term:
            return
        acks = self.read_acks.get(msg.round)
        if acks is not None:
            self.read_acks[msg.round] = acks | {sender}
            self.check_round(msg.round)

    def check_round(self, round_):
        """A round acknowledged by a majority confirms every read of that round and earlier ones."""
        if len(self.read_acks.get(round_, ())) < self.majority:
            return
        self.confirmed_round = max(self.confirmed_round, round_)
        for r in [r for r in self.read_acks if r <= round_]:
            del self.read_acks[r]
        self.serve_reads()

    def serve_reads(self):
        """Answer every read whose round is confirmed once ``last_applied`` reaches its read index."""
        if not self.reads:
            return
        own_term = self.term_at(self.commit_index) == self.current_term
        kept = []
        for read in self.reads:
            if read.read_index is None and own_term:      # step 1 done: record the read index now
                read = read._replace(read_index=self.commit_index)
            if (read.read_index is not None and read.round <= self.confirmed_round
                    and self.last_applied >= read.read_index):
                self.answer(read.client, read, OK, apply_kv(self.kv, "get", read.key))
            else:
                kept.append(read)
        self.reads = tuple(kept)


# ------------------------------------------------------------------------------------ client
class KVClient:
    """One client of the store: one operation at a time, retried with the same number (§6.3).

    Sans-I/O: the front door tells it what it sent (:meth:`sent`) and what came
    back (:meth:`received`), and asks it, as time passes, whether to try again
    (:meth:`due`); those return the server to send the pending request to, or
    ``None``.

    Parameters
    ----------
    client_id : str
    servers : sequence of str
        The servers, in natural order.
    retry_ticks : int
        How long to wait for an answer before trying another server.
    backoff_ticks : int
        How long to wait when no server knows a leader.
    max_hops : int
        Redirects followed at once (then wait ``backoff_ticks``).

    Examples
    --------
    >>> c = KVClient("c1", ["n1", "n2", "n3"], retry_ticks=100)
    >>> c.sent(0, "n1", ClientQuery("c1", 1, "x"))
    >>> c.received(5, "n1", ClientResponse("c1", 1, NOT_LEADER, None, "n2"))   # go to n2
    'n2'
    >>> c.sent(5, "n2", ClientQuery("c1", 1, "x"))
    >>> c.due(50), c.due(105)              # no answer from n2 by t=105: try the next server
    (None, 'n3')

    Notes
    -----
    Ongaro (thesis, 2014), §6.2: a client that does not know the leader
    asks any server, which redirects it; after a timeout it tries another
    server.  §6.3: the retry carries the same sequence number, so that the
    state machine can recognise it.
    """

    def __init__(self, client_id, servers, retry_ticks=100, backoff_ticks=20, max_hops=3):
        self.id = client_id
        self.servers = tuple(servers)
        self.retry_ticks = retry_ticks
        self.backoff_ticks = backoff_ticks
        self.max_hops = max_hops
        self.leader = None          # who it believes leads
        self.seq = 0                # the last sequence number it used
        self.pending = None         # the request it waits an answer for
        self.server = None          # where that request went last
        self.deadline = None        # when to try again
        self.hops = 0               # redirects followed since the last timeout
        self.resend_to = None       # where to send once a backoff is over
        self.rotation = 0           # position in the round of servers tried after a timeout

    def __repr__(self):
        busy = f"waiting for #{self.pending.sequence_num} from {self.server}" if self.pending else "idle"
        return f"<KVClient {self.id}: {busy}, believes {self.leader} leads>"

    def target(self):
        """Where a new operation goes: the believed leader, else the next server in turn."""
        return self.leader or self.servers[self.rotation % len(self.servers)]

    def sent(self, now, server, request):
        """``request`` of this client was handed to ``server`` at ``now``."""
        if request.sequence_num > self.seq:      # a new operation (one still pending is given up)
            self.seq = request.sequence_num
            self.pending = request
            self.hops = 0
        elif self.pending is None or request.sequence_num != self.pending.sequence_num:
            return
        self.server = server
        self.deadline = now + self.retry_ticks
        self.resend_to = None

    def received(self, now, server, response):
        """``server`` answered; return where to send the request again now, or ``None``."""
        if self.pending is None or response.sequence_num != self.pending.sequence_num:
            return None                           # the answer to an operation already finished
        if response.status == OK:
            self.pending, self.deadline, self.leader = None, None, server
            return None
        if server != self.server:
            return None                           # an earlier attempt's refusal; the latest is under way
        hint = response.leader_hint
        if hint is not None and hint != server:
            self.leader = target = hint
        else:
            target = self.next_server()
        if self.hops < self.max_hops:
            self.hops += 1
            return target
        self.resend_to = target                   # nobody seems to know: wait a little
        self.deadline = now + self.backoff_ticks
        return None

    def due(self, now):
        """Time passed: return where to send the pending request again, or ``None``."""
        if self.pending is None or self.deadline is None or now < self.deadline:
            return None
        if self.resend_to is not None:
            target = self.resend_to
        else:                                     # no answer in time: try the next server in turn
            if self.leader == self.server:
                self.leader = None
            target = self.next_server()
        self.hops = 0
        return target

    def next_server(self):
        """The next server in turn (a round that goes on across timeouts), skipping the one just tried."""
        n = len(self.servers)
        self.rotation = (self.rotation + 1) % n
        if n > 1 and self.servers[self.rotation] == self.server:
            self.rotation = (self.rotation + 1) % n
        return self.servers[self.rotation]


# ----------------------------------------------------------------------------------- history
class ClientHistory:
    """The history of the clients' operations, followed from trace events.

    An operation is *invoked* by the first request with a new sequence number
    (retries do not count), and *returns* with the first ``OK`` answer to that
    number.  A client that invokes a new operation while one is pending gives
    the old one up.  An operation without an answer is kept with ``ret=None``
    (Jepsen's ``:info``: it may have taken effect, or not) if some attempt of
    it may have been carried out, and left out (Jepsen's ``:fail``) if every
    attempt was refused (``NOT_LEADER``) or lost at a crashed server: then it
    certainly did not take effect.

    Examples
    --------
    >>> from types import SimpleNamespace as E
    >>> h = ClientHistory()
    >>> h.follow(E(kind="request", tick=3, node="n1", data={"msg": ClientQuery("c1", 1, "x")}))
    >>> h.follow(E(kind="reply", tick=9, node="n1", data={"msg": ClientResponse("c1", 1, OK, "", "n1")}))
    Operation(client='c1', kind='get', key='x', value=None, output='', call=3, ret=9)
    >>> put = ClientCommand("c2", 1, ("put", "x", "a"))
    >>> h.follow(E(kind="request", tick=10, node="n2", data={"msg": put}))
    >>> h.follow(E(kind="reply", tick=10, node="n2", data={"msg": ClientResponse("c2", 1, NOT_LEADER, None, None)}))
    >>> len(h), len(h.operations())             # refused everywhere so far: certainly not applied
    (2, 1)

    Notes
    -----
    The ``:ok`` / ``:info`` / ``:fail`` distinction is Jepsen's (Kingsbury,
    "Jepsen: etcd and Consul", 2014); the history is what Herlihy & Wing's
    definition ("Linearizability: a correctness condition for concurrent
    objects", 1990) is about: invocations and responses in real time.
    """

    # record: [client, kind, key, value, output, call, ret, sequence_num, open attempts {server: n}]
    def __init__(self):
        self._ops = []
        self._open = {}       # client -> position of its pending operation
        self._last = {}       # client -> the last sequence number invoked

    def follow(self, event):
        """Follow one trace event; return the :class:`Operation` it completed, if any."""
        kind = event.kind
        if kind == "request":
            msg = event.data["msg"]
            cls = type(msg)
            if cls is ClientCommand or cls is ClientQuery:
                client = msg.client_id
                if msg.sequence_num > self._last.get(client, 0):
                    self._last[client] = msg.sequence_num
                    self._open[client] = len(self._ops)
                    if cls is ClientQuery:
                        op, key, value = "get", msg.key, None
                    else:
                        op, key, value = msg.command
                    self._ops.append([client, op, key, value, None, event.tick, None, msg.sequence_num, {}])
                record = self._pending(client, msg.sequence_num)
                if record is not None:
                    record[8][event.node] = record[8].get(event.node, 0) + 1
        elif kind == "reply":
            msg = event.data["msg"]
            if type(msg) is ClientResponse:
                record = self._pending(msg.client_id, msg.sequence_num)
                if record is None:
                    return None
                if msg.status != OK:
                    self._closed(record, event.node)
                    return None
                del self._open[msg.client_id]
                record[4] = msg.response if record[1] == "get" else None
                record[6] = event.tick
                return Operation(*record[:7])
        elif kind == "dropped" and event.data.get("reason") == "crashed":
            msg = event.data["msg"]
            if type(msg) is ClientCommand or type(msg) is ClientQuery:    # never reached the server
                record = self._pending(msg.client_id, msg.sequence_num)
                if record is not None:
                    self._closed(record, event.data["dst"])
        return None

    def _pending(self, client, sequence_num):
        at = self._open.get(client)
        if at is not None and self._ops[at][7] == sequence_num:
            return self._ops[at]
        return None

    @staticmethod
    def _closed(record, server):
        attempts = record[8]
        if attempts.get(server, 0) > 0:
            attempts[server] -= 1

    @staticmethod
    def _kept(record):
        return record[6] is not None or any(record[8].values())

    def operations(self, key=None, failed=False):
        """The history so far (of ``key`` only, if given), in invocation order.

        Operations that certainly did not take effect are left out, unless ``failed``.
        """
        return [Operation(*r[:7]) for r in self._ops
                if (key is None or r[2] == key) and (failed or self._kept(r))]

    def find(self, client, sequence_num):
        """The operation ``sequence_num`` of ``client``, or ``None``."""
        for r in reversed(self._ops):
            if r[0] == client and r[7] == sequence_num:
                return Operation(*r[:7])
        return None

    def __len__(self):
        return len(self._ops)
