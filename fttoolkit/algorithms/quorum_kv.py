"""A quorum-replicated key-value store: N replicas, reads from R of them, writes to W.

The store follows Gifford, "Weighted Voting for Replicated Data" (SOSP 1979),
with one vote per replica, as Amazon's Dynamo uses it (DeCandia et al.,
"Dynamo: Amazon's Highly Available Key-value Store", SOSP 2007, §4.5): every
copy carries a version; a read collects R copies and keeps the newest; a write
installs a new version on W copies.  When **R + W > N** every read quorum
meets every write quorum, so a read sees the latest completed write.

To keep the model small, **every node is a replica of every key** (N is the
cluster size).  Dynamo places each key on a *preference list* of N nodes
along a consistent-hashing ring; that placement is taught separately (Chapter
1, consistent hashing) and changes nothing below.

Any node can *coordinate* a client's request (:class:`Get` or :class:`Put`):

* **get**: the coordinator reads its own copy and sends :class:`Read` to the
  other replicas; with R copies in (its own counts), it answers
  :class:`GetOk` with the value of the highest version.  With
  ``read_repair`` it then sends the newest copy (:class:`Repair`) to every
  replica that answered with an older one (Dynamo §5, "read repair").
* **put** runs in two phases, as the multi-writer register of Attiya,
  Bar-Noy & Dolev ("Sharing Memory Robustly in Message-Passing Systems",
  1995) does: (1) read the versions of R replicas, as for a get; (2) choose a
  version higher than any seen, write it to the coordinator's own copy
  (forced to stable storage first), send :class:`Write` to the others and
  answer :class:`PutOk` once W copies acknowledged (:class:`WriteAck`; its
  own counts).

Versions
--------
A version is a pair ``(counter, writer)`` compared as a tuple: the counter
first, then the writer's id (as text) to break ties.  ``(0, "")`` means "never
written".  Why read before writing?  A new version must be *greater than the
version of every put that completed before this one began*, or a later read
would prefer the older value.  Phase 1 reads R replicas; with R + W > N they
include a copy of every completed put, so ``max(seen) + 1`` is enough.  The
coordinator also keeps a Lamport clock (``clock``: the highest counter it has
seen or used) and takes ``clock + 1``, so that it never issues the same
version twice, even after a crash: its own copy, forced to disk before any
Write leaves, records every counter it has used.  Conflicting concurrent
versions are resolved by **last writer wins** (the highest version); no
siblings are kept.  With scalar versions the store cannot tell two concurrent
puts from two ordered ones; :func:`concurrent_puts` and :func:`lost_puts`
find them from the ``based_on`` version each put reports: the version it
read, hence the one put it was written after.

CAP: ``mode``
-------------
``"cp"`` (the default): an operation that has not reached its quorum after
``timeout_ticks`` is **refused** (:class:`Refused`); under a partition the
minority side refuses everything, the majority side goes on.  A refused put
may still have been written on some replicas (like Jepsen's ``:info``, it
may take effect later).  ``"ap"``: the coordinator accepts with whatever
replicas it reached by the timeout (a *sloppy* quorum, at least itself), so
both sides of a partition answer, and their writes conflict when it heals.
Dynamo's hinted handoff (writing to stand-in nodes) and Merkle-tree
anti-entropy are left out: replicas converge through read repair only.

Which guarantee?
----------------
With R + W > N, in ``cp`` mode, every get behaves as a read of a **regular
register** per key (Lamport, "On Interprocess Communication", 1986): it
returns the value of the last put that completed before it began, or of a put
concurrent with it.  It is not *atomic* (linearizable): read repair does not
wait, so two gets in sequence during a put may see the new value, then the old
one.  :data:`INVARIANTS` checks the regular property, from the clients' point
of view only.

State
-----
Replica: ``store`` (key -> ``(version, value)``), ``clock``.  Coordinator:
``pending`` (op id -> the operation in progress: kind, key, client, phase,
replies, acks, version, based_on).  Stable storage: ``("put", key, version,
value)`` records, one per copy installed.

Bug zoo
-------
``read-one``
    the coordinator answers a get from its own copy alone, ignoring R;
``local-version``
    a put skips phase 1: the coordinator versions it from its own copy of the
    key (one more than that copy's counter), so a node that missed a write
    gives a newer put an older version, and reads keep returning the old value.

Examples
--------
>>> n1 = QuorumNode("n1", peers=("n2", "n3"))
>>> _ = n1.start([])
>>> n1.handle_message(Get("x", "op1"), "c1")
[Send(->n2 Read(op1, x)), Send(->n3 Read(op1, x)), SetTimer(QuorumTimeout(op1, read) in 100)]
>>> n1.handle_message(ReadReply("op1", "x", (2, "n3"), "b"), "n2")     # R = 2 copies: answer, repair its own
[Send(->c1 GetOk(op1, 'b', 2/n3)), Persist(('put', 'x', (2, 'n3'), 'b'))]
>>> n1.handle_message(ReadReply("op1", "x", (0, ""), None), "n3")      # a late, older copy: repair it
[Send(->n3 Repair(x='b', 2/n3)), CancelTimer(QuorumTimeout(op1, read))]
"""

from ..core.history import Operation
from ..core.ids import sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["QuorumNode", "Get", "Put", "Read", "ReadReply", "Write", "WriteAck", "Repair", "GetOk", "PutOk",
           "Refused", "QuorumTimeout", "NEVER", "MODES", "format_version", "majority", "stale_read",
           "stale_reads", "concurrent_puts", "lost_puts", "INVARIANTS"]

#: The version of a key that was never written.
NEVER = (0, "")

#: The two CAP choices: refuse without a quorum, or accept with whatever replicas answer.
MODES = ("cp", "ap")


def format_version(version):
    """A version as transcripts show it: ``3/n2`` (counter 3, written by n2); ``0`` if never written.

    >>> format_version((3, "n2")), format_version(NEVER)
    ('3/n2', '0')
    """
    return "0" if version == NEVER else f"{version[0]}/{version[1]}"


def majority(n):
    """The smallest majority of ``n`` replicas, ``n // 2 + 1``.

    >>> [majority(n) for n in (1, 2, 3, 4, 5)]
    [1, 2, 2, 3, 3]
    """
    return n // 2 + 1


# ------------------------------------------------------------------------------- messages
class Get(Message):
    """A client asks the coordinator for the value of ``key`` (``op`` names the request)."""

    key: str
    op: str

    def __repr__(self):
        return f"Get({self.op}, {self.key})"


class Put(Message):
    """A client asks the coordinator to set ``key`` to ``value``."""

    key: str
    value: object
    op: str

    def __repr__(self):
        return f"Put({self.op}, {self.key}={self.value!r})"


class Read(Message):
    """Coordinator to replica: send me your copy of ``key`` (phase 1 of a put, or a get)."""

    op: str
    key: str

    def __repr__(self):
        return f"Read({self.op}, {self.key})"


class ReadReply(Message):
    """Replica to coordinator: my copy of ``key`` is ``value`` at ``version``."""

    op: str
    key: str
    version: tuple
    value: object

    def __repr__(self):
        return f"ReadReply({self.op}, {self.key}={self.value!r}, {format_version(self.version)})"


class Write(Message):
    """Coordinator to replica: install ``value`` at ``version`` unless you have a newer copy."""

    op: str
    key: str
    version: tuple
    value: object

    def __repr__(self):
        return f"Write({self.op}, {self.key}={self.value!r}, {format_version(self.version)})"


class WriteAck(Message):
    """Replica to coordinator: I hold ``version`` of the key, or a newer one, on stable storage."""

    op: str
    version: tuple

    def __repr__(self):
        return f"WriteAck({self.op}, {format_version(self.version)})"


class Repair(Message):
    """Read repair: a newer copy for a replica that answered a get with an older one (no answer expected)."""

    key: str
    version: tuple
    value: object

    def __repr__(self):
        return f"Repair({self.key}={self.value!r}, {format_version(self.version)})"


class GetOk(Message):
    """Coordinator to client: the value of the newest copy among those read."""

    op: str
    value: object
    version: tuple

    def __repr__(self):
        return f"GetOk({self.op}, {self.value!r}, {format_version(self.version)})"


class PutOk(Message):
    """Coordinator to client: the put is installed as ``version``; it was based on ``based_on``,
    the newest version phase 1 saw (what this put knew of earlier puts)."""

    op: str
    version: tuple
    based_on: tuple

    def __repr__(self):
        return f"PutOk({self.op}, {format_version(self.version)}, after {format_version(self.based_on)})"


class Refused(Message):
    """Coordinator to client (``cp`` mode): no quorum in time; the request is refused.

    A put refused in its write phase was written on some replicas (at least the
    coordinator's): ``version`` and ``based_on`` say what, as in :class:`PutOk`;
    otherwise they are :data:`NEVER`.
    """

    op: str
    reason: str
    version: tuple = NEVER
    based_on: tuple = NEVER

    def __repr__(self):
        return f"Refused({self.op}, {self.reason!r})"


class QuorumTimeout(Timer):
    """Coordinator: phase ``phase`` ("read" or "write") of ``op`` has waited ``timeout_ticks``."""

    op: str
    phase: str

    def __repr__(self):
        return f"QuorumTimeout({self.op}, {self.phase})"


# ------------------------------------------------------------------------------- the node
class QuorumNode(Node):
    """A replica of every key that also coordinates clients' gets and puts (module docstring).

    Parameters (``params``): ``r`` and ``w`` (read and write quorums; ``None``:
    a majority of the N nodes), ``mode`` ("cp" or "ap"), ``timeout_ticks``
    (how long a phase waits for its quorum), ``read_repair``.

    Notes
    -----
    Gifford (1979) §3: with r + w > n votes, "every read quorum contains a
    current version".  DeCandia et al. (2007) §4.5: Dynamo's R and W, sloppy
    quorums and hinted handoff (here reduced to "answer with whoever
    answered"), §5 read repair.  Attiya, Bar-Noy & Dolev (1995): the query
    phase before a write in a multi-writer register.
    """

    params = {"r": None, "w": None, "mode": "cp", "timeout_ticks": 100, "read_repair": True}
    bugs = {
        "read-one": "the coordinator answers a get from its own copy alone, ignoring R",
        "local-version": "a put skips its read phase: its version is one more than the coordinator's own copy's",
    }

    # ---------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.role = "replica"
        self.store = {}
        self.clock = 0
        self.pending = {}
        store = self.store
        for record in records:
            if isinstance(record, Torn) or record[0] != "put":
                continue                              # a torn write never happened
            _, key, version, value = record
            if key not in store or version > store[key][0]:
                store[key] = (version, value)
        self.clock = max((version[0] for version, _ in store.values()), default=0)

    # ---------------------------------------------------------------------------- helpers
    @property
    def n(self):
        """N: the number of replicas (every node of the cluster)."""
        return len(self.peers) + 1

    @property
    def r(self):
        """The read quorum R."""
        return self.params["r"] or majority(self.n)

    @property
    def w(self):
        """The write quorum W."""
        return self.params["w"] or majority(self.n)

    def local(self, key):
        """This replica's copy of ``key``: ``(version, value)``, ``(NEVER, None)`` if it has none."""
        return self.store.get(key, (NEVER, None))

    def _see(self, version):
        """Lamport's rule: the clock is at least every counter seen."""
        if version[0] > self.clock:
            self.clock = version[0]

    def _install(self, key, version, value):
        """Keep ``value`` at ``version`` if it is newer than this copy, and force it to stable storage."""
        self._see(version)
        if version <= self.local(key)[0]:
            return False
        self.store[key] = (version, value)
        self.persist(("put", key, version, value))
        return True

    # ============================================================================ coordinator
    def on_get(self, msg, client):
        if msg.op in self.pending:
            return                                    # a duplicate request
        if "read-one" in self.bugs:
            version, value = self.local(msg.key)
            self.send(client, GetOk(msg.op, value, version))
            return
        self._begin(msg.op, "get", msg.key, None, client)

    def on_put(self, msg, client):
        if msg.op in self.pending:
            return
        if "local-version" in self.bugs:
            self.pending[msg.op] = self._record("put", msg.key, msg.value, client)
            self._write_phase(msg.op, self.local(msg.key)[0], local_only=True)
            return
        self._begin(msg.op, "put", msg.key, msg.value, client)

    @staticmethod
    def _record(kind, key, value, client):
        return {"kind": kind, "key": key, "value": value, "client": client, "phase": "read",
                "replies": {}, "acks": set(), "answered": False, "repaired": set(),
                "version": None, "based_on": None}

    def _begin(self, op, kind, key, value, client):
        """Phase 1 (read): own copy at once, the others by message (a put with R = 1 needs no others)."""
        p = self.pending[op] = self._record(kind, key, value, client)
        p["replies"][self.id] = self.local(key)
        if kind == "put" and self.r == 1:
            self._write_phase(op, p["replies"][self.id][0])
            return
        for peer in self.peers:
            self.send(peer, Read(op, key))
        self.set_timer(QuorumTimeout(op, "read"), self.params["timeout_ticks"])
        self._progress(op)

    def _progress(self, op):
        p = self.pending[op]
        if p["answered"]:
            return
        if p["phase"] == "read" and len(p["replies"]) >= self.r:
            self._read_done(op)
        elif p["phase"] == "write" and len(p["acks"]) >= self.w:
            self._write_done(op)

    def _newest(self, replies):
        return max(replies.values(), key=lambda copy: copy[0])

    def _read_done(self, op):
        p = self.pending[op]
        version, value = self._newest(p["replies"])
        if p["kind"] == "put":
            self.cancel_timer(QuorumTimeout(op, "read"))
            self._write_phase(op, version)
            return
        p["answered"] = True
        p["version"], p["value"] = version, value
        self.send(p["client"], GetOk(op, value, version))
        if self.params["read_repair"]:
            for replica in sorted_ids(p["replies"]):
                self._repair(op, replica)
        self._finish_if_complete(op)

    def _repair(self, op, replica):
        """Send the newest copy to a replica that answered with an older one."""
        p = self.pending[op]
        if p["replies"][replica][0] < p["version"] and replica not in p["repaired"]:
            p["repaired"].add(replica)
            if replica == self.id:                    # its own copy: install it here (forced)
                self._install(p["key"], p["version"], p["value"])
            else:
                self.send(replica, Repair(p["key"], p["version"], p["value"]))

    def _write_phase(self, op, seen, local_only=False):
        """Phase 2 (write): a version above everything seen; own copy first (forced), then the others."""
        p = self.pending[op]
        if local_only:                                # the bug: the Lamport clock and phase 1 ignored
            version = (seen[0] + 1, self.id)
            self.clock = max(self.clock, version[0])
        else:
            self.clock = max(self.clock, seen[0]) + 1
            version = (self.clock, self.id)
        p.update(phase="write", version=version, based_on=seen)
        self._install(p["key"], version, p["value"])
        p["acks"] = {self.id}
        for peer in self.peers:
            self.send(peer, Write(op, p["key"], version, p["value"]))
        self.set_timer(QuorumTimeout(op, "write"), self.params["timeout_ticks"])
        self._progress(op)

    def _write_done(self, op):
        p = self.pending.pop(op)
        self.send(p["client"], PutOk(op, p["version"], p["based_on"]))
        self.cancel_timer(QuorumTimeout(op, "write"))

    def _finish_if_complete(self, op):
        """A get stays open after its answer until every replica replied (for read repair) or time is up."""
        p = self.pending[op]
        if not self.params["read_repair"] or len(p["replies"]) == self.n:
            del self.pending[op]
            self.cancel_timer(QuorumTimeout(op, "read"))

    def on_read_reply(self, msg, sender):
        self._see(msg.version)
        p = self.pending.get(msg.op)
        if p is None or p["phase"] != "read" or sender in p["replies"]:
            return                                    # late, for a finished phase, or a duplicate
        p["replies"][sender] = (msg.version, msg.value)
        if p["answered"]:                             # a get already answered: repair a late replica
            self._repair(msg.op, sender)
            self._finish_if_complete(msg.op)
        else:
            self._progress(msg.op)

    def on_write_ack(self, msg, sender):
        p = self.pending.get(msg.op)
        if p is None or p["phase"] != "write":
            return
        p["acks"].add(sender)
        self._progress(msg.op)

    def on_quorum_timeout(self, timer):
        p = self.pending.get(timer.op)
        if p is None or p["phase"] != timer.phase:
            return
        if p["answered"]:                             # a get answered long ago: stop waiting for the rest
            del self.pending[timer.op]
            return
        have = len(p["replies"]) if timer.phase == "read" else len(p["acks"])
        need = self.r if timer.phase == "read" else self.w
        if self.params["mode"] == "ap":
            self.note("sloppy quorum", op=timer.op, phase=timer.phase, replicas=have, needed=need)
            if timer.phase == "read":
                self._read_done(timer.op)
                if p["kind"] == "get":
                    self.pending.pop(timer.op, None)  # no more waiting: the time is up
            else:
                self._write_done(timer.op)
            return
        quorum = "read quorum R" if timer.phase == "read" else "write quorum W"
        reason = f"{have} of {self.n} replicas answered in time; the {quorum} is {need}"
        del self.pending[timer.op]
        self.note("refused", op=timer.op, reason=reason)
        if timer.phase == "write":                    # its own copy (and maybe others) hold it already
            self.send(p["client"], Refused(timer.op, reason, p["version"], p["based_on"]))
        else:
            self.send(p["client"], Refused(timer.op, reason))

    # ============================================================================ replica
    def on_read(self, msg, sender):
        version, value = self.local(msg.key)
        self.send(sender, ReadReply(msg.op, msg.key, version, value))

    def on_write(self, msg, sender):
        self._install(msg.key, msg.version, msg.value)      # forced before the ack below
        self.send(sender, WriteAck(msg.op, self.local(msg.key)[0]))

    def on_repair(self, msg, sender):
        if self._install(msg.key, msg.version, msg.value):
            self.note("repaired", key=msg.key, version=format_version(msg.version))


# ---------------------------------------------------------------------------------- the history
def stale_read(get, puts):
    """The put that makes ``get`` stale, or ``None`` (regular-register check, one key).

    ``get`` is a completed :class:`fttoolkit.core.Operation` of kind ``"get"``;
    ``puts`` are the put operations on the same key.  The get is *stale* when
    some put P completed before the get began, and every put that wrote the
    value the get returned (the initial state, for ``None``) had completed
    before P began: that value was overwritten for good before the read.  A
    put that never returned (or was refused: it may have taken effect) is
    never counted as overwritten.  Returns the latest-starting such P.

    >>> from fttoolkit.core.history import Operation
    >>> p1 = Operation("c1", "put", "x", 1, None, 0, 10)
    >>> p2 = Operation("c1", "put", "x", 2, None, 12, 20)
    >>> stale_read(Operation("c2", "get", "x", None, 1, 25, 30), [p1, p2]) == p2
    True
    >>> stale_read(Operation("c2", "get", "x", None, 1, 15, 30), [p1, p2]) is None   # concurrent with p2
    True

    Notes
    -----
    Lamport, "On Interprocess Communication" (1986), Part II: a regular
    register's read returns the value of the last write that precedes it or of
    a write concurrent with it.  Only the clients' view is used (values and
    times), as Jepsen would see it; values should be unique per key.
    """
    before = [p for p in puts if p.ret is not None and p.ret < get.call]
    if not before:
        return None
    latest = max(before, key=lambda p: (p.call, p.ret))
    if get.output is None:
        return latest                           # the initial state precedes every put
    writers = [p for p in puts if p.value == get.output]
    if not writers:
        return None                             # a value nobody wrote: not this check's business
    if all(q.ret is not None and q.ret < latest.call for q in writers):
        return latest
    return None


def stale_reads(history):
    """Every stale get of a history, as ``(get, put it missed)`` pairs, in invocation order.

    ``history`` is a list of :class:`fttoolkit.core.Operation` (kinds ``get``
    and ``put``); see :func:`stale_read`.

    >>> from fttoolkit.core.history import Operation
    >>> h = [Operation("c1", "put", "x", 1, None, 0, 10), Operation("c2", "get", "x", None, None, 11, 15)]
    >>> [(g.output, p.value) for g, p in stale_reads(h)]
    [(None, 1)]
    """
    puts = {}
    for op in history:
        if op.kind == "put":
            puts.setdefault(op.key, []).append(op)
    found = []
    for op in sorted(history, key=lambda o: o.order()):
        if op.kind == "get" and op.ret is not None:
            missed = stale_read(op, puts.get(op.key, []))
            if missed is not None:
                found.append((op, missed))
    return found


def _lineages(puts):
    """Per key: version -> op, op -> parent op (the put whose version it read; ``None``: none known)."""
    by_version, parent = {}, {}
    for op, key, version, based_on, _ in puts:
        by_version.setdefault(key, {})[version] = op
    for op, key, version, based_on, _ in puts:
        parent[op] = by_version[key].get(based_on)
    return by_version, parent


def _ancestors(op, parent):
    seen = set()
    while op is not None and op not in seen:
        seen.add(op)
        op = parent.get(op)
    return seen


def concurrent_puts(puts):
    """Pairs of acknowledged puts on the same key of which neither knew the other.

    ``puts`` is a list of ``(op, key, version, based_on, acknowledged)``, one
    per put that got a version (acknowledged, or refused after writing some
    replicas).  Versions are unique, so a put's ``based_on`` names the one put
    whose value it read as the newest: its parent.  Put A *knew* put B if B is
    A's parent, or its parent's parent, and so on.  Two puts that did not know
    each other are concurrent: siblings for Dynamo's vector clocks, one of them
    silently dropped for last writer wins.  Returns ``(winner, loser, key)``
    triples for acknowledged pairs (the winner has the higher version), sorted.

    >>> puts = [("a", "x", (1, "n1"), (0, ""), True), ("b", "x", (1, "n3"), (0, ""), True),
    ...         ("c", "x", (2, "n3"), (1, "n3"), True)]           # c was written after b
    >>> concurrent_puts(puts)
    [('b', 'a', 'x'), ('c', 'a', 'x')]
    """
    _, parent = _lineages(puts)
    known = {op: _ancestors(op, parent) for op, *_ in puts}
    by_key = {}
    for op, key, version, _, acknowledged in puts:
        if acknowledged:
            by_key.setdefault(key, []).append((version, op))
    found = []
    for key in sorted(by_key, key=str):
        group = sorted(by_key[key])
        for i, (_, a) in enumerate(group):
            for _, b in group[i + 1:]:
                if a not in known[b] and b not in known[a]:
                    found.append((b, a, key))
    return sorted(found, key=lambda t: (str(t[2]), str(t[1]), str(t[0])))


def lost_puts(puts):
    """The acknowledged puts that last writer wins drops for good, without any later put having read them.

    Once the replicas converge, each key holds its highest version.  An
    acknowledged put survives if it is that put or one of its ancestors (see
    :func:`concurrent_puts`): a later put read it and built on it.  Every other
    acknowledged put is *lost*: its client was told "ok", and its value is
    overwritten by a put that never saw it.  Returns the op ids, sorted.

    >>> lost_puts([("a", "x", (1, "n1"), (0, ""), True), ("b", "x", (1, "n3"), (0, ""), True),
    ...            ("c", "x", (2, "n3"), (1, "n3"), True)])
    ['a']
    """
    by_version, parent = _lineages(puts)
    lost = []
    for key, versions in by_version.items():
        survivors = _ancestors(versions[max(versions)], parent)
        lost += [op for op, k, _, _, acknowledged in puts if k == key and acknowledged and op not in survivors]
    return sorted(lost, key=str)


# ---------------------------------------------------------------------------------- checkers
class _NoStaleRead:
    """Follows clients' requests and replies in the trace; judges each get as it returns."""

    def __init__(self):
        self.calls = {}       # op -> (client, kind, key, value, call tick, coordinator)
        self.puts = {}        # key -> [Operation]
        self.put_index = {}   # op -> index in self.puts[key]

    def __call__(self, event):
        kind = event.kind
        if kind == "request":
            msg = event.data["msg"]
            if isinstance(msg, (Get, Put)) and msg.op not in self.calls:
                value = msg.value if isinstance(msg, Put) else None
                op_kind = "put" if isinstance(msg, Put) else "get"
                self.calls[msg.op] = (event.data["client"], op_kind, msg.key, value, event.tick, event.node)
                if op_kind == "put":
                    record = _operation(self.calls[msg.op], None, None)
                    bucket = self.puts.setdefault(msg.key, [])
                    self.put_index[msg.op] = len(bucket)
                    bucket.append(record)
            return None
        if kind != "reply":
            return None
        msg = event.data["msg"]
        call = self.calls.get(getattr(msg, "op", None))
        if call is None:
            return None
        if isinstance(msg, PutOk) and call[1] == "put":
            bucket = self.puts[call[2]]
            index = self.put_index[msg.op]
            if bucket[index].ret is None:
                bucket[index] = _operation(call, None, event.tick)
            return None
        if not isinstance(msg, GetOk) or call[1] != "get":
            return None
        get = _operation(call, msg.value, event.tick)
        missed = stale_read(get, self.puts.get(call[2], []))
        if missed is None:
            return None
        why = ("" if get.output is None else
               f", and after every put of {get.output!r} had completed")
        got = "nothing (None)" if get.output is None else repr(get.output)
        return Violation("No stale read", (call[5],),
                         f"get {call[2]} by {call[0]} via {call[5]} (t={get.call}..{get.ret}) returned {got}, "
                         f"but put {call[2]}={missed.value!r} by {missed.client} had completed at t={missed.ret}, "
                         f"before the get began{why}")


def _operation(call, output, ret):
    client, kind, key, value, tick, _ = call
    return Operation(client, kind, key, value, output, tick, ret)


#: Safety: checked on the clients' requests and replies as they happen.  Holds with R + W > N in
#: ``cp`` mode; breaks with R + W <= N, under the named bugs, and in ``ap`` mode under a partition.
INVARIANTS = [
    Invariant("No stale read: a get never returns a value older than a put that completed before the get "
              "began (a regular register per key)", observe=_NoStaleRead),
]
