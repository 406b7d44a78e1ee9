"""Crash recovery of one node: a key-value store with a write-ahead log and checkpoints.

Each node is an independent key-value server (there is no replication here:
that is primary-backup's job).  Its store lives in volatile memory; what
survives a crash is what it wrote to stable storage, which in the simulator
is an append-only list of records.

Write path (the WAL rule)
    A client sends :class:`Put` ``(op, key, value)`` or :class:`Append` ``(op,
    key, suffix)``; ``op`` is the request's unique id (``"w3"``).  The node
    gives the write the next **log sequence number** (LSN), builds a
    :class:`LogRecord` carrying the LSN, the op id, the write and a
    **checksum** (CRC-32 of a canonical encoding of the other fields), *forces*
    it to stable storage (:meth:`~fttoolkit.core.Node.persist`), applies it to
    the store, and **only then** acknowledges with :class:`Ack` ``(op, lsn)``.
    A :class:`Get` is answered at once with :class:`Value` from the store.
    With ``group_commit_ticks > 0`` writes wait in a volatile buffer for up to
    that many ticks and are forced together in one storage write (group
    commit), then acknowledged together.

Checkpoints
    After every ``checkpoint_every`` log records (0: never on its own; a
    :class:`TakeCheckpoint` request forces one) the node writes a
    :class:`Checkpoint`: a snapshot of the store, the LSN it reflects, and its
    own checksum.  Storage is append-only, so the log before a checkpoint is
    never erased; a checkpoint only bounds how much must be replayed.

Recovery (:func:`plan_recovery`, :func:`redo_step`)
    At boot the node reads every record.  A record whose checksum does not
    verify -- a :class:`~fttoolkit.core.Torn` record, cut by a crash in the
    middle of its write -- is **discarded**.  The latest valid checkpoint gives
    the starting store and LSN; the valid log records with a higher LSN are
    **redone** in log order, one every ``replay_ticks`` (0: all at once), each
    only if its LSN is above the LSN the store already reflects (idempotent
    redo).  Meanwhile the node is ``"recovering"`` and defers client requests;
    then it notes ``recovered`` and serves (``"serving"``).  Recovery writes
    nothing, so a crash during recovery leaves the disk as it was and the next
    recovery simply starts over.

Only the last record of a write can be torn: a crash cuts the write it
interrupts, and nothing after it is written.  A real log would be truncated
at the torn record before new records are appended; the simulator's storage
cannot be truncated, so records a node writes after its restart follow the
torn one, and recovery skips every record whose checksum fails wherever it
is.  (An LSN lost with a torn or unwritten record is given to the next write.)

State
-----
``role`` ("recovering" or "serving"), ``store`` (key -> value, strings),
``applied_lsn`` (the LSN the store reflects), ``next_lsn``,
``checkpoint_lsn`` (LSN of the latest checkpoint written or recovered from, 0
if none), ``since_checkpoint`` (log records since it), ``buffer`` (group
commit: ``(record, client, acked)`` not yet forced), ``waiting`` (requests
deferred during recovery), ``redo`` (log records still to replay), ``report``
(what the latest recovery found: see :meth:`WalNode.on_start`).  Notes:
``recovery`` (at a boot with records on disk: ``records``, ``checkpoint``,
``redo`` and ``discarded``), ``redo`` (each record replayed: ``lsn``, ``op``),
and ``recovered`` (at every boot, once recovery is done: ``lsn``,
``checkpoint``, ``replayed``, ``discarded`` and the recovered ``store``,
which the checkers judge).

Bug zoo
-------
``ack-before-force``
    the acknowledgement is sent before the log record is forced (with group
    commit: as soon as the write arrives), so a crash can lose an acknowledged
    write;
``no-checksum``
    recovery does not verify checksums: a torn record is read as whole, its
    missing bytes as garbage (``'?'``);
``redo-not-idempotent``
    recovery replays the whole log on top of the checkpoint without comparing
    LSNs, so the writes the checkpoint already reflects are applied again
    (a put is idempotent and survives that; an append is not).

Examples
--------
>>> node = WalNode("n1")
>>> _ = node.start([])
>>> node.role
'serving'
>>> out = node.handle_message(Append("w1", "x", "ab"), "client")
>>> [type(i).__name__ for i in out]
['Persist', 'Send']
>>> record = out[0].records[0]
>>> record.lsn, record.valid, out[1].msg
(1, True, Ack(w1, lsn=1))
>>> plan = plan_recovery([record, Torn(LogRecord.sealed(2, "w2", "append", "x", "cd"))])
>>> [r.lsn for r in plan.redo], len(plan.discarded)
([1], 1)
>>> recover([record, Torn(LogRecord.sealed(2, "w2", "append", "x", "cd"))])
({'x': 'ab'}, 1)

Notes
-----
Write-ahead logging and the force-at-commit rule: Haerder & Reuter,
"Principles of Transaction-Oriented Database Recovery" (ACM Computing
Surveys, 1983); checkpoints and LSN-based idempotent redo: Mohan, Haderle,
Lindsay, Pirahesh & Schwarz, "ARIES: A Transaction Recovery Method Supporting
Fine-Granularity Locking and Partial Rollbacks Using Write-Ahead Logging"
(ACM TODS, 1992), §6 (the redo pass compares each record's LSN with the page
LSN); group commit: DeWitt, Katz, Olken, Shapiro, Stonebraker & Wood,
"Implementation Techniques for Main Memory Database Systems" (SIGMOD, 1984);
torn writes and checksums: Pillai et al., "All File Systems Are Not Created
Equal: On the Complexity of Crafting Crash-Consistent Applications" (OSDI,
2014).
"""

import json
import zlib
from dataclasses import dataclass

from ..core.errors import BadParameter
from ..core.ids import sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["WalNode", "Put", "Append", "Get", "TakeCheckpoint", "Ack", "Value", "Flush", "Redo",
           "LogRecord", "Checkpoint", "Write", "RecoveryPlan", "checksum", "read_record", "apply_write",
           "plan_recovery", "redo_step", "recover", "as_write", "explained", "INVARIANTS", "LIVENESS"]


# ------------------------------------------------------------------------------- checksums
def checksum(*fields):
    """CRC-32 of the canonical encoding of ``fields`` (JSON, UTF-8): what a record stores.

    >>> checksum("log", 1, "w1", "put", "x", "a") == checksum("log", 1, "w1", "put", "x", "a")
    True
    >>> checksum("log", 1, "w1", "put", "x", "a") == checksum("log", 1, "w1", "put", "x", "b")
    False
    """
    data = json.dumps(list(fields), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return zlib.crc32(data)


def _garble(text):
    """What a torn write leaves of ``text``: its first half, then garbage where the rest was not written."""
    keep = len(text) // 2
    return text[:keep] + "?" * max(len(text) - keep, 1)


def _crc_text(crc):
    return "missing" if crc is None else f"{crc:08x}"


# ------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class LogRecord:
    """One write in the log: ``lsn``, the request ``op``, ``kind`` ("put" or "append"), ``key``,
    ``arg`` (the value or the suffix) and ``crc``, the checksum of the other fields.

    Build one with :meth:`sealed`; ``crc`` is ``None`` when the record was torn before its
    checksum was written (see :func:`read_record`).
    """

    lsn: int
    op: str
    kind: str
    key: str
    arg: str
    crc: object = None

    @classmethod
    def sealed(cls, lsn, op, kind, key, arg):
        """The record with its checksum computed.

        >>> LogRecord.sealed(1, "w1", "put", "x", "a").valid
        True
        """
        return cls(lsn, op, kind, key, arg, checksum("log", lsn, op, kind, key, arg))

    @property
    def valid(self):
        """Whether the stored checksum matches the fields (a torn record's does not)."""
        return self.crc is not None and self.crc == checksum("log", self.lsn, self.op, self.kind, self.key, self.arg)

    @property
    def write(self):
        """The client write this record carries (:class:`Write`)."""
        return Write(self.op, self.kind, self.key, self.arg)

    def torn(self):
        """What a torn copy of this record reads as: the payload's tail garbled, no checksum."""
        return LogRecord(self.lsn, self.op, self.kind, self.key, _garble(self.arg), None)

    def __repr__(self):
        return f"LogRecord(lsn={self.lsn}, {self.op}: {_write_text(self.kind, self.key, self.arg)}, " \
               f"crc={_crc_text(self.crc)})"


@dataclass(frozen=True)
class Checkpoint:
    """A snapshot of the store (``((key, value), ...)``, sorted) that reflects the log up to ``lsn``."""

    lsn: int
    store: tuple
    crc: object = None

    @classmethod
    def sealed(cls, lsn, store):
        """The checkpoint of ``store`` (a dict or pairs) at ``lsn``, with its checksum.

        >>> Checkpoint.sealed(2, {"x": "ab"})   # doctest: +ELLIPSIS
        Checkpoint(lsn=2, {x='ab'}, crc=...)
        """
        pairs = tuple(sorted(dict(store).items()))
        return cls(lsn, pairs, checksum("checkpoint", lsn, [list(p) for p in pairs]))

    @property
    def valid(self):
        """Whether the stored checksum matches the snapshot."""
        return self.crc is not None and self.crc == checksum("checkpoint", self.lsn, [list(p) for p in self.store])

    def torn(self):
        """What a torn copy reads as: the first half of the entries whole, the rest garbled, no checksum."""
        keep = len(self.store) // 2
        pairs = self.store[:keep] + tuple((k, _garble(v)) for k, v in self.store[keep:])
        return Checkpoint(self.lsn, pairs, None)

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.store)
        return f"Checkpoint(lsn={self.lsn}, {{{inner}}}, crc={_crc_text(self.crc)})"


def read_record(raw):
    """A record as recovery reads it back: a :class:`~fttoolkit.core.Torn` one comes back garbled and
    without its checksum (so it does not verify); anything else as stored.

    >>> r = LogRecord.sealed(3, "w3", "append", "x", "abcd")
    >>> read_record(Torn(r))
    LogRecord(lsn=3, w3: x+='ab??', crc=missing)
    >>> read_record(r) is r, read_record(Torn(r)).valid
    (True, False)
    """
    if isinstance(raw, Torn):
        inner = raw.record
        return inner.torn() if isinstance(inner, (LogRecord, Checkpoint)) else None
    return raw


def _write_text(kind, key, arg):
    return f"{key}+={arg!r}" if kind == "append" else f"{key}={arg!r}"


# ------------------------------------------------------------------------------- writes
@dataclass(frozen=True)
class Write:
    """A client write as the checkers and the front door see it: ``op`` id, ``kind``, ``key``, ``arg``."""

    op: str
    kind: str
    key: str
    arg: str

    def __repr__(self):
        return f"{self.op} {_write_text(self.kind, self.key, self.arg)}"


def apply_write(value, kind, arg):
    """The value of a key after a write: a put replaces it, an append adds to its end (absent = ``''``).

    >>> apply_write(None, "append", "a"), apply_write("a", "append", "b"), apply_write("ab", "put", "c")
    ('a', 'ab', 'c')
    """
    return arg if kind == "put" else (value or "") + arg


# ------------------------------------------------------------------------------- messages
def _check_request(msg, **texts):
    """A client request's fields are strings: ``op`` and ``key`` non-empty, as the checkers assume."""
    for name, (value, empty) in texts.items():
        if not isinstance(value, str) or (not empty and not value):
            need = "a string" if empty else "a non-empty string"
            raise BadParameter(f"{type(msg).__name__}: {name} must be {need}; got {value!r}")


class Put(Message):
    """A client sets ``key`` to ``value``; ``op`` is the request's id, unique in the run (the front
    door numbers them ``w1``, ``w2``...; the checkers tell writes apart by it)."""

    op: str
    key: str
    value: str

    def __post_init__(self):
        _check_request(self, op=(self.op, False), key=(self.key, False), value=(self.value, True))

    def __repr__(self):
        return f"Put({self.op}, {self.key}={self.value!r})"


class Append(Message):
    """A client appends ``suffix`` to the value of ``key`` (not idempotent: twice is not once)."""

    op: str
    key: str
    suffix: str

    def __post_init__(self):
        _check_request(self, op=(self.op, False), key=(self.key, False), suffix=(self.suffix, False))

    def __repr__(self):
        return f"Append({self.op}, {self.key}+={self.suffix!r})"


class Get(Message):
    """A client reads ``key``."""

    op: str
    key: str

    def __post_init__(self):
        _check_request(self, op=(self.op, False), key=(self.key, False))

    def __repr__(self):
        return f"Get({self.op}, {self.key})"


class TakeCheckpoint(Message):
    """An operator asks for a checkpoint now."""

    def __repr__(self):
        return "TakeCheckpoint()"


class Ack(Message):
    """The write ``op`` is durable: its log record, with LSN ``lsn``, is on stable storage."""

    op: str
    lsn: int

    def __repr__(self):
        return f"Ack({self.op}, lsn={self.lsn})"


class Value(Message):
    """The answer to the read ``op``: ``key`` has ``value`` (``None``: absent)."""

    op: str
    key: str
    value: object

    def __repr__(self):
        return f"Value({self.op}, {self.key}={self.value!r})"


class Flush(Timer):
    """Group commit: force the buffered log records now."""

    def __repr__(self):
        return "Flush()"


class Redo(Timer):
    """Recovery: replay the next log record."""

    def __repr__(self):
        return "Redo()"


def as_write(msg):
    """The :class:`Write` a request makes, or ``None`` for a read or anything else.

    >>> as_write(Append("w2", "x", "b")), as_write(Get("r1", "x"))
    (w2 x+='b', None)
    """
    if isinstance(msg, Put):
        return Write(msg.op, "put", msg.key, msg.value)
    if isinstance(msg, Append):
        return Write(msg.op, "append", msg.key, msg.suffix)
    return None


# ------------------------------------------------------------------------------- recovery
@dataclass(frozen=True)
class RecoveryPlan:
    """What recovery found on disk (see :func:`plan_recovery`).

    ``checkpoint`` is the checkpoint recovery starts from (``None``: from an empty store) and
    ``checkpoint_index`` its position on disk; ``store`` and ``lsn`` the state it gives;
    ``redo`` the log records to replay, in log order; ``discarded`` the ``(index, record as
    read)`` pairs that failed their checksum; ``next_lsn`` the LSN of the next write.
    """

    checkpoint: object
    checkpoint_index: object
    store: tuple
    lsn: int
    redo: tuple
    discarded: tuple
    next_lsn: int


def plan_recovery(records, bugs=()):
    """Read the records of a node's stable storage and plan its recovery (a pure function).

    Records whose checksum fails are discarded; the latest valid checkpoint gives the starting
    store and LSN; the valid log records with a higher LSN are to be redone, in log order.
    With the bug ``no-checksum`` nothing is discarded (a torn record is read garbled); with
    ``redo-not-idempotent`` every valid log record is to be redone, from the first.

    >>> log = [LogRecord.sealed(1, "w1", "append", "x", "a"), LogRecord.sealed(2, "w2", "append", "x", "b")]
    >>> disk = log + [Checkpoint.sealed(2, {"x": "ab"}), LogRecord.sealed(3, "w3", "append", "x", "c")]
    >>> plan = plan_recovery(disk)
    >>> plan.checkpoint.lsn, plan.store, [r.lsn for r in plan.redo], plan.next_lsn
    (2, (('x', 'ab'),), [3], 4)
    >>> [r.lsn for r in plan_recovery(disk, bugs=["redo-not-idempotent"]).redo]
    [1, 2, 3]
    """
    check = "no-checksum" not in bugs
    logs, discarded = [], []
    checkpoint, checkpoint_index, top = None, None, 0
    for index, raw in enumerate(records):
        record = read_record(raw)
        if not isinstance(record, (LogRecord, Checkpoint)):
            discarded.append((index, raw))          # not a record of this protocol: unreadable
            continue
        if check and not record.valid:
            discarded.append((index, record))
            continue
        top = max(top, record.lsn)
        if isinstance(record, Checkpoint):
            if checkpoint is None or record.lsn >= checkpoint.lsn:
                checkpoint, checkpoint_index = record, index
        else:
            logs.append(record)
    start = checkpoint.lsn if checkpoint is not None else 0
    if "redo-not-idempotent" in bugs:
        redo = tuple(logs)
    else:
        redo = tuple(r for r in logs if r.lsn > start)
    store = checkpoint.store if checkpoint is not None else ()
    return RecoveryPlan(checkpoint, checkpoint_index, store, start, redo, tuple(discarded), top + 1)


def redo_step(store, applied_lsn, record, idempotent=True):
    """Redo one log record on ``store`` (a dict, changed in place); return the new applied LSN
    and whether the record was applied.

    Idempotent redo applies a record only if its LSN is above ``applied_lsn``, the LSN the store
    already reflects (ARIES compares with the page LSN the same way).

    >>> store = {"x": "ab"}
    >>> redo_step(store, 2, LogRecord.sealed(2, "w2", "append", "x", "b")), store
    ((2, False), {'x': 'ab'})
    >>> redo_step(store, 2, LogRecord.sealed(3, "w3", "append", "x", "c")), store
    ((3, True), {'x': 'abc'})
    """
    if idempotent and record.lsn <= applied_lsn:
        return applied_lsn, False
    store[record.key] = apply_write(store.get(record.key), record.kind, record.arg)
    return max(applied_lsn, record.lsn), True


def recover(records, bugs=()):
    """The store and LSN that recovery rebuilds from ``records`` (all at once): ``(store, lsn)``.

    >>> recover([LogRecord.sealed(1, "w1", "put", "x", "a"), Torn(LogRecord.sealed(2, "w2", "put", "x", "b"))])
    ({'x': 'a'}, 1)
    """
    plan = plan_recovery(records, bugs)
    store, lsn = dict(plan.store), plan.lsn
    for record in plan.redo:
        lsn, _ = redo_step(store, lsn, record, idempotent="redo-not-idempotent" not in bugs)
    return store, lsn


# ------------------------------------------------------------------------------- the node
class WalNode(Node):
    """A key-value server with a write-ahead log and checkpoints (module docstring).

    Parameters (``params``): ``checkpoint_every`` (log records between two
    checkpoints; 0: only when asked with :class:`TakeCheckpoint`),
    ``group_commit_ticks`` (0: force each write at once; otherwise buffer writes
    up to this long and force them together), ``replay_ticks`` (recovery redoes
    one record every this many ticks; 0: all at once, at boot).

    Notes
    -----
    Haerder & Reuter (1983): under WAL a write is committed only once its log
    record is on stable storage, so the acknowledgement must wait for the
    force.  ARIES (Mohan et al. 1992, §6): redo starts from the checkpoint and
    compares LSNs, so that repeating it -- after a crash during recovery -- is
    harmless.
    """

    params = {"checkpoint_every": 4, "group_commit_ticks": 0, "replay_ticks": 2}
    bugs = {
        "ack-before-force": "the acknowledgement is sent before the log record is forced to stable storage",
        "no-checksum": "recovery does not verify checksums, so a torn record is replayed as if whole",
        "redo-not-idempotent": "recovery replays the whole log on top of the checkpoint without comparing "
                               "LSNs, so appends the checkpoint reflects apply twice",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("checkpoint_every", "group_commit_ticks", "replay_ticks"):
            value = self.params[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadParameter(f"{name} must be a whole number >= 0; got {value!r}")

    # ---------------------------------------------------------------------------- boot
    def on_start(self, records):
        """Plan recovery from ``records``; redo at once (``replay_ticks=0``) or one record at a time.

        ``report`` says what recovery found: ``records`` (how many on disk),
        ``checkpoint`` (its LSN, or ``None``) and ``checkpoint_index``, ``discarded``
        (disk indexes of records whose checksum failed), ``redo`` (LSNs to
        replay), ``replayed`` and ``skipped`` (LSNs redone, and passed over as
        already reflected), ``lsn`` (the LSN reached), ``began`` and ``finished``
        (local ticks; ``finished`` is ``None`` while recovering) and
        ``reflected`` (the writes the recovered store reflects, in log order).
        """
        plan = plan_recovery(records, self.bugs)
        self.role = "recovering"
        self.store = dict(plan.store)
        self.applied_lsn = plan.lsn
        self.checkpoint_lsn = plan.lsn
        self.next_lsn = plan.next_lsn
        self.since_checkpoint = sum(1 for r in plan.redo if r.lsn > plan.lsn)
        self.buffer, self.waiting = [], []
        self.redo = list(plan.redo)
        covered = [read_record(r).write for r in records
                   if isinstance(r, LogRecord) and r.valid and r.lsn <= plan.lsn]
        self.report = {"records": len(records), "checkpoint": plan.checkpoint.lsn if plan.checkpoint else None,
                       "checkpoint_index": plan.checkpoint_index,
                       "discarded": [index for index, _ in plan.discarded],
                       "redo": [r.lsn for r in plan.redo], "replayed": [], "skipped": [],
                       "lsn": plan.lsn, "began": self.now, "finished": None, "reflected": covered}
        if records:
            self.note("recovery", records=len(records), checkpoint=self.report["checkpoint"],
                      redo=tuple(self.report["redo"]), discarded=tuple(self.report["discarded"]))
        if self.redo and self.params["replay_ticks"] > 0:
            self.set_timer(Redo(), self.params["replay_ticks"])
            return
        while self.redo:
            self._redo_next()
        self._finish_recovery()

    def on_redo(self, timer):
        if self.role != "recovering":
            return
        self._redo_next()
        if self.redo:
            self.set_timer(Redo(), self.params["replay_ticks"])
        else:
            self._finish_recovery()

    def _redo_next(self):
        record = self.redo.pop(0)
        self.applied_lsn, applied = redo_step(self.store, self.applied_lsn, record,
                                              idempotent="redo-not-idempotent" not in self.bugs)
        self.report["replayed" if applied else "skipped"].append(record.lsn)
        if applied:
            self.report["reflected"].append(record.write)
            self.note("redo", lsn=record.lsn, op=record.op)
        else:
            self.note("already reflected", lsn=record.lsn, op=record.op)

    def _finish_recovery(self):
        self.role = "serving"
        report = self.report
        report["lsn"], report["finished"] = self.applied_lsn, self.now
        self.note("recovered", lsn=self.applied_lsn, checkpoint=report["checkpoint"],
                  replayed=len(report["replayed"]), discarded=len(report["discarded"]),
                  store=tuple(sorted(self.store.items())))
        waiting, self.waiting = self.waiting, []
        for msg, client in waiting:            # requests that arrived during recovery, in order
            self._handlers[msg.handler_name](self, msg, client)

    # ---------------------------------------------------------------------------- clients
    def on_put(self, msg, sender):
        self._write(msg, sender, "put", msg.value)

    def on_append(self, msg, sender):
        self._write(msg, sender, "append", msg.suffix)

    def on_get(self, msg, sender):
        if self.role == "recovering":
            self.waiting.append((msg, sender))
            return
        self.send(sender, Value(msg.op, msg.key, self.store.get(msg.key)))

    def on_take_checkpoint(self, msg, sender):
        if self.role == "recovering":
            self.note("no checkpoint while recovering")
            return
        self._checkpoint()

    def _write(self, msg, sender, kind, arg):
        if self.role == "recovering":
            self.waiting.append((msg, sender))
            return
        record = LogRecord.sealed(self.next_lsn, msg.op, kind, msg.key, arg)
        self.next_lsn += 1
        early = "ack-before-force" in self.bugs
        if early:
            self.send(sender, Ack(msg.op, record.lsn))          # the bug: acknowledged, not yet durable
        if self.params["group_commit_ticks"] > 0:
            self.buffer.append((record, sender, early))
            if len(self.buffer) == 1:
                self.set_timer(Flush(), self.params["group_commit_ticks"])
        else:
            self._force([(record, sender, early)])

    def on_flush(self, timer):
        batch, self.buffer = self.buffer, []
        if batch:
            self._force(batch)

    def _force(self, batch):
        """Force the batch's records (one storage write), THEN apply them and acknowledge."""
        self.persist(*(record for record, _, _ in batch))
        for record, client, acked in batch:
            self.applied_lsn, _ = redo_step(self.store, self.applied_lsn, record)
            if not acked:
                self.send(client, Ack(record.op, record.lsn))
        self.since_checkpoint += len(batch)
        every = self.params["checkpoint_every"]
        if every and self.since_checkpoint >= every:
            self._checkpoint()

    def _checkpoint(self):
        self.persist(Checkpoint.sealed(self.applied_lsn, self.store))
        self.checkpoint_lsn = self.applied_lsn
        self.since_checkpoint = 0


# ---------------------------------------------------------------------------------- checkers
def explained(writes, acknowledged, store, limit=20_000):
    """Whether ``store`` is what some selection of ``writes`` gives: every acknowledged write, any of
    the others, each applied once, in submission order.  Returns ``None`` if so, otherwise the first
    key (in sorted order) that no such selection explains.

    ``writes`` is the list of :class:`Write` in submission order, ``acknowledged`` the set of their
    op ids that were acknowledged, ``store`` the recovered key -> value.  Keys are independent, so
    each is searched alone, keeping the values reachable so far (at most ``limit`` of them; past
    that the key counts as explained).

    >>> ws = [Write("w1", "append", "x", "a"), Write("w2", "append", "x", "b"), Write("w3", "append", "x", "c")]
    >>> explained(ws, {"w1", "w3"}, {"x": "ac"}) is None     # w2 was never acknowledged: it may be lost
    True
    >>> explained(ws, {"w1", "w3"}, {"x": "ab"})             # w3 was acknowledged, yet it is missing
    'x'
    >>> explained(ws, {"w1"}, {"x": "aa"})                   # w1 twice: never submitted twice
    'x'
    """
    by_key = {}
    for write in writes:
        by_key.setdefault(write.key, []).append(write)
    for key in sorted(set(by_key) | set(store)):
        target = store.get(key)
        ops = by_key.get(key, [])
        puts_after = [False] * (len(ops) + 1)
        for i in range(len(ops) - 1, -1, -1):
            puts_after[i] = puts_after[i + 1] or ops[i].kind == "put"
        states = {None}
        for i, write in enumerate(ops):
            after = set()
            for value in states:
                new = apply_write(value, write.kind, write.arg)
                after.add(new)
                if write.op not in acknowledged:
                    after.add(value)
            if not puts_after[i + 1]:     # only appends may follow: keep what can still grow into target
                after = {v for v in after
                         if (v is None) or (target is not None and target.startswith(v))}
            states = after
            if len(states) > limit:
                break
        else:
            if target not in states:
                return key
    return None


class _Durability:
    """Per node: the writes submitted, acknowledged and whole on disk; judged at each ``recovered`` note."""

    def __init__(self):
        self.writes = {}     # node -> [Write], in submission order
        self.acked = {}      # node -> {op: tick of the acknowledgement}
        self.on_disk = {}    # node -> {op ids whose log record is whole on stable storage}

    def __call__(self, event):
        kind, node = event.kind, event.node
        if kind == "request":
            write = as_write(event.data["msg"])
            if write is not None:
                self.writes.setdefault(node, []).append(write)
        elif kind == "reply":
            msg = event.data["msg"]
            if isinstance(msg, Ack):
                self.acked.setdefault(node, {}).setdefault(msg.op, event.tick)
        elif kind == "stored":
            disk = self.on_disk.setdefault(node, set())
            disk.update(r.op for r in event.data["records"] if isinstance(r, LogRecord))
        elif kind == "crashed" and event.data.get("disk_lost"):
            self.on_disk[node] = set()
        elif kind == "note" and event.data["text"] == "recovered":
            return self._judge(node, dict(event.data["fields"]["store"]))
        return None

    def _judge(self, node, store):
        writes = self.writes.get(node, [])
        acked = self.acked.get(node, {})
        key = explained(writes, set(acked), store)
        if key is None:
            return None
        mine = [w for w in writes if w.key == key]
        lost = [w for w in mine if w.op in acked and w.op not in self.on_disk.get(node, set())]
        detail = f"after recovery {key}={store.get(key)!r}, which no choice of the unacknowledged writes " \
                 f"gives with every acknowledged one ({', '.join(w.op for w in mine if w.op in acked) or 'none'}) " \
                 f"applied once, in submission order"
        if lost:
            detail += "; " + ", ".join(f"{w!r} was acknowledged at t={acked[w.op]}" for w in lost) \
                      + " but its log record never reached the disk"
        return Violation("Durability", (node,), detail)


class _ExactlyOnce:
    """Per node: the log records whole on disk; at each ``recovered`` note, the store must be them, applied once."""

    def __init__(self):
        self.disk = {}       # node -> [LogRecord whole on disk], in disk order

    def __call__(self, event):
        kind, node = event.kind, event.node
        if kind == "stored":
            self.disk.setdefault(node, []).extend(r for r in event.data["records"] if isinstance(r, LogRecord))
        elif kind == "crashed" and event.data.get("disk_lost"):
            self.disk[node] = []
        elif kind == "note" and event.data["text"] == "recovered":
            store = dict(event.data["fields"]["store"])
            expected = {}
            for record in self.disk.get(node, []):
                expected[record.key] = apply_write(expected.get(record.key), record.kind, record.arg)
            if store != expected:
                keys = sorted(k for k in set(store) | set(expected) if store.get(k) != expected.get(k))
                diff = ", ".join(f"{k}={store.get(k)!r} instead of {expected.get(k)!r}" for k in keys)
                return Violation("Exactly once", (node,),
                                 f"recovery rebuilt {diff} (the whole log records on disk, each applied once)")
        return None


def _serving(nodes):
    """Once calm: every node has finished recovery and holds no request it has not answered."""
    found = []
    for node_id in sorted_ids(nodes):
        node = nodes[node_id]
        if node.role != "serving":
            found.append(Violation("Serving", (node_id,),
                                   f"{node_id} is still {node.role} ({len(node.redo)} records left to redo)"))
        elif node.waiting or node.buffer:
            found.append(Violation("Serving", (node_id,),
                                   f"{node_id} holds {len(node.waiting)} deferred request(s) and "
                                   f"{len(node.buffer)} unforced write(s)"))
    return found


#: Safety (Haerder & Reuter 1983; ARIES, Mohan et al. 1992): judged after every recovery.
INVARIANTS = [
    Invariant("Durability: after recovery every acknowledged write is reflected and nothing that was "
              "never submitted is, each applied once, in submission order", observe=_Durability),
    Invariant("Exactly once: recovery rebuilds the whole log records on disk, each applied once in log "
              "order, and nothing else", observe=_ExactlyOnce),
]

#: Liveness: once the faults stop, every node recovers and answers what it holds.
LIVENESS = [
    Liveness("Serving: every node finishes recovery and answers the requests it deferred or buffered",
             check=_serving, within_ticks=300),
]
