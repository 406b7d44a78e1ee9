"""Chapter 3's exercises, on failure recovery: log replay, fencing with epochs, and catching up.

Each exercise plugs the student's code into one of the course's nodes; the rest of the node is the
course's own:

* 3.1 **Log replay after a crash**: a plain function ``replay_log(records)`` returning ``(store, lsn)``,
  which the course's key-value node with a write-ahead log (:class:`ReplayNode`, a
  :class:`~fttoolkit.algorithms.wal.WalNode`) calls at every boot with the records on its stable storage,
  torn ones included (Haerder & Reuter 1983; Mohan et al., "ARIES", 1992, §6);
* 3.2 **The epoch check that fences a stale primary**: ``accepts_epoch(msg)`` and ``on_stale_epoch(msg,
  sender)`` of ``FenceNode`` (a subclass of the course's :class:`EpochNode`, a
  :class:`~fttoolkit.algorithms.primary_backup.PrimaryBackupNode`): a replica refuses replication from an
  older epoch, and a primary told of a newer epoch adopts it and steps down (Oki & Liskov, "Viewstamped
  Replication", 1988);
* 3.3 **The catch-up decisions of a returning node**: ``holds(lsn, epoch)`` (may a replica append entries
  that follow LSN ``lsn`` of ``epoch``, or must it catch up first?) and ``catch_up_plan(match_lsn)`` (log
  shipping or state transfer?) of ``CatchUpNode`` (a subclass of the course's :class:`ReturningNode`) (Lin
  et al., "PacificA", 2008, §3.3; Ongaro & Ousterhout, "In Search of an Understandable Consensus
  Algorithm", 2014, §7).

The student's code runs in the real simulator, under the protocol's invariants (``WriteAheadLog``'s
Durability and Exactly once; ``PrimaryBackup``'s Durability, Split brain, Stale epoch, One primary per epoch,
and with leases Lease safety and Monotonic reads; the liveness checks once calm) and a *referee*: a subclass
that watches every call of the student's code, computes what the course's reference does from the state
before the call and, if the call did otherwise, reports a violation named after the rule (``Refuse a stale
epoch (Oki & Liskov 1988)``...) at the step of that call.  Every failure carries the seed and the scenario
script of the run, and the run itself for ``show_run``; :func:`replay_script` replays such a script with a
student's code.
"""

import functools

from ..algorithms.primary_backup import (INVARIANTS as PB_INVARIANTS, LIVENESS as PB_LIVENESS, Configuration, Entry,
                                         PrimaryBackupNode, Replicate, Snapshot, StaleEpoch, invariants_for)
from ..algorithms.wal import (INVARIANTS as WAL_INVARIANTS, LIVENESS as WAL_LIVENESS, Checkpoint, LogRecord, WalNode,
                              apply_write, read_record, recover)
from ..check.monitor import Monitor
from ..core.intentions import Persist, Send, Torn
from ..core.invariants import Invariant, Violation
from ..doors.primary_backup import PrimaryBackup
from ..doors.recovery import WriteAheadLog
from ..scenario import with_bugs
from .model import Case, Exercise, Fail, expect, register
from .refereed import READS, Scenario, fail_for, fuzz_check, names_read, replay_with, scenario_check

__all__ = ["RULES", "METHODS", "ReplayNode", "EpochNode", "ReturningNode", "student_door", "replay_script",
           "judge_replay", "reference_replay", "show_disk"]

#: Exercise id -> (the name the student defines, the methods it provides).
METHODS = {"3.1": ("replay_log", ("replay_log",)), "3.2": ("FenceNode", ("accepts_epoch", "on_stale_epoch")),
           "3.3": ("CatchUpNode", ("holds", "catch_up_plan"))}

# ---------------------------------------------------------------------------------- the rules
DISCARD = "Discard a record whose checksum fails (Pillai et al. 2014)"
KEEP_READING = "Skip only the damaged records, keep reading"
REDO_AFTER = "Redo the valid records after the checkpoint (ARIES §6)"
IDEMPOTENT = "Redo only what the store does not reflect (ARIES §6)"
LSN = "Return the LSN the store reflects (ARIES §6)"
REBUILD = "Rebuild exactly what the valid records say (Haerder & Reuter 1983)"
STALE = "Refuse a stale epoch (Oki & Liskov 1988)"
CURRENT = "Accept the current epoch (Oki & Liskov 1988)"
NEWER = "Accept a newer epoch (Oki & Liskov 1988)"
ONLY_ANSWER = "A question changes nothing"
ADOPT = "Adopt a newer epoch and step down (Oki & Liskov 1988)"
FORCE_EPOCH = "Write the new epoch down before acting on it"
ONLY_NEWER = "An epoch never goes back"
IN_LINE = "Catch up before taking later entries (PacificA §3.3)"
FOLLOWS = "Take entries that follow your log (PacificA §3.3)"
SNAPSHOT_GONE = "State transfer when the entries are gone (Raft §7)"
SNAPSHOT_FAR = "State transfer when far behind (ship_limit)"
SHIP_LOG = "Log shipping when the log is there and the gap small"
STATE = "Return the kind of value asked for"

#: Rule name -> what it says (the "expected" line of a failure).
RULES = {
    DISCARD: "a record whose checksum does not verify (read_record(raw).valid is False: a write a crash cut "
             "short, or bytes the disk damaged) is garbage: recovery ignores it, be it a log record or a "
             "checkpoint",
    KEEP_READING: "a record whose checksum fails is skipped, and reading goes on: on this append-only disk the "
                  "records after a torn one are the writes made after the restart, acknowledged ones among them",
    REDO_AFTER: "after the checkpoint, every valid log record with a higher LSN is redone, in log order",
    IDEMPOTENT: "a log record is redone only if its LSN is above the LSN the store already reflects (the "
                "checkpoint's, then the last redone): a checkpoint already holds the writes up to its LSN, and "
                "an append redone twice is applied twice",
    LSN: "replay_log returns (store, lsn), lsn being the LSN of the last write the store reflects: the highest "
         "LSN among the valid records (0 for an empty disk); the next write gets lsn + 1",
    REBUILD: "the store is exactly what the valid records give: the latest valid checkpoint, then the valid log "
             "records above its LSN, each applied once, in log order",
    STALE: "a replica refuses (accepts_epoch returns False) a Replicate or Snapshot whose epoch is older than "
           "self.epoch, the newest epoch it has adopted: its sender is a deposed primary",
    CURRENT: "a message of the replica's own epoch (msg.epoch == self.epoch) comes from the primary of that "
             "epoch: accepts_epoch returns True",
    NEWER: "a message of a newer epoch (msg.epoch > self.epoch) comes from a newer primary: accepts_epoch "
           "returns True, and the course's node then adopts that epoch",
    ONLY_ANSWER: "accepts_epoch, holds and catch_up_plan answer a question: they change no state and record no "
                 "intention (the course's node sends, stores and adopts)",
    ADOPT: "a replica told StaleEpoch(epoch) of an epoch newer than its own adopts it and stops acting as "
           "primary: self.adopt(msg.epoch, msg.primary), then self.ask_catch_up()",
    FORCE_EPOCH: "the new epoch reaches stable storage (the record ('epoch', e), which self.adopt writes) before "
                 "anything else is done in it: a replica that forgets its epoch in a crash accepts the deposed "
                 "primary again",
    ONLY_NEWER: "a StaleEpoch whose epoch is not newer than the replica's own (a late or repeated one) changes "
                "nothing: epochs only grow",
    IN_LINE: "a replica appends a Replicate's entries only if its log holds the entry just before them "
             "(holds(msg.prev_lsn, msg.prev_epoch)); otherwise it asks to catch up and acknowledges nothing, so "
             "that the primary never counts it as holding entries it lacks",
    FOLLOWS: "holds(lsn, epoch) is True when the log holds LSN lsn from that epoch (the same entry, and by one "
             "primary per epoch the same prefix), and for any LSN inside the checkpoint (lsn < self.base_lsn: "
             "committed, the same everywhere)",
    SNAPSHOT_GONE: "when the two logs agree nowhere the primary still has entries for (match_lsn is None: the "
                   "entries the replica lacks were folded into the checkpoint), only the state can help: "
                   "'snapshot'",
    SNAPSHOT_FAR: "when the replica lacks more than ship_limit committed entries (self.commit_lsn - match_lsn > "
                  "self.params['ship_limit']), the state is cheaper to send: 'snapshot'",
    SHIP_LOG: "when the primary still has the entries after match_lsn and the replica lacks at most ship_limit "
              "committed ones, it ships them: 'log'",
    STATE: "replay_log returns (store, lsn), a dict and a whole number; accepts_epoch and holds return True or "
           "False; catch_up_plan returns 'log' or 'snapshot'",
}


def _titles(*groups):
    return {inv.name: inv.title.split(":", 1)[1].strip() for group in groups for inv in group}


#: Exercise id -> rule or invariant name -> what it says.
_EXPECTED = {"3.1": dict(RULES, **_titles(WAL_INVARIANTS, WAL_LIVENESS)),
             "3.2": dict(RULES, **_titles(PB_INVARIANTS, PB_LIVENESS)),
             "3.3": dict(RULES, **_titles(PB_INVARIANTS, PB_LIVENESS))}
for _rules in (_EXPECTED["3.2"], _EXPECTED["3.3"]):
    _rules["Progress"] = "once calm, a write submitted to the primary is acknowledged"


# ---------------------------------------------------------------------------------- the referee
def _report(node, found):
    """Keep a verdict for the REFEREE check that runs right after this step (a few per node at most)."""
    if found:
        verdicts = getattr(node, "_verdicts", ())
        if len(verdicts) < 10:
            node._verdicts = verdicts + (found,)


def _verdicts(nodes):
    """The referee's verdicts on the running nodes (the monitor reports each one once)."""
    return [Violation(rule, (node_id,), detail) for node_id, node in nodes.items()
            for rule, detail in getattr(node, "_verdicts", ())]


#: Checked first, after every step: a broken rule shows before the invariant it breaks next.
REFEREE = Invariant("Chapter 3: each call does what recovery, fencing and catch-up require", check=_verdicts)


# ---------------------------------------------------------------------------------- 3.1 log replay
def _show_record(raw):
    """One record as recovery reads it, its checksum elided: ``LogRecord(lsn=3, w3: x+='?', crc=missing) (torn)``."""
    record = read_record(raw)
    if record is None:
        return f"{raw!r} (unreadable)"
    text = repr(record)
    if record.crc is not None:
        text = text.replace(f"crc={record.crc:08x}", "crc=...")
    if isinstance(raw, Torn):
        return f"{text} (torn: its checksum fails)"
    return text + ("" if record.valid else " (damaged: its checksum fails)")


def show_disk(records):
    """The records of a disk, numbered, as recovery reads them.

    >>> show_disk([LogRecord.sealed(1, "w1", "put", "x", "a"), Torn(LogRecord.sealed(2, "w2", "put", "x", "bc"))])
    "#0 LogRecord(lsn=1, w1: x='a', crc=...), #1 LogRecord(lsn=2, w2: x='b?', crc=missing) (torn: its checksum fails)"
    """
    return ", ".join(f"#{index} {_show_record(raw)}" for index, raw in enumerate(records)) or "an empty disk"


def _store_text(store):
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(store.items(), key=lambda kv: str(kv[0]))) + "}"


def reference_replay(records):
    """What recovery rebuilds from ``records``: ``(store, lsn)`` (:func:`fttoolkit.algorithms.wal.recover`).

    >>> reference_replay([LogRecord.sealed(1, "w1", "append", "x", "a"), Checkpoint.sealed(1, {"x": "a"}),
    ...                   LogRecord.sealed(2, "w2", "append", "x", "b")])
    ({'x': 'ab'}, 2)
    """
    return recover(list(records))


def _replay(records, check_logs=True, check_checkpoints=True, stop_at_bad=False, idempotent=True, redo=True):
    """Recovery with one rule left out (the mistakes :func:`judge_replay` recognises)."""
    logs, point = [], None
    for raw in records:
        record = read_record(raw)
        if not isinstance(record, (LogRecord, Checkpoint)):
            continue
        is_point = isinstance(record, Checkpoint)
        if not record.valid and (check_checkpoints if is_point else check_logs):
            if stop_at_bad:
                break
            continue
        if is_point:
            if point is None or record.lsn >= point.lsn:
                point = record
        else:
            logs.append(record)
    store = dict(point.store) if point is not None else {}
    lsn = point.lsn if point is not None else 0
    if redo:
        for record in logs:
            if idempotent and record.lsn <= lsn:
                continue
            store[record.key] = apply_write(store.get(record.key), record.kind, record.arg)
            lsn = max(lsn, record.lsn)
    return store, lsn


def _first_bad(records, kinds):
    for index, raw in enumerate(records):
        record = read_record(raw)
        if isinstance(record, kinds) and not record.valid:
            return index, raw
    return None


def _diagnose(records, store, want):
    """(rule, why) for a wrong store, from the typical mistakes; ``None`` if none of them explains it."""
    point = max((read_record(r) for r in records if isinstance(read_record(r), Checkpoint) and read_record(r).valid),
                key=lambda c: c.lsn, default=None)

    def bad(kinds):
        found = _first_bad(records, kinds)
        return f"#{found[0]} {_show_record(found[1])}" if found else "a record"

    models = [
        (DISCARD, lambda: _replay(records, check_checkpoints=False),
         lambda: f"it started from {bad(Checkpoint)}: a crash cut the checkpoint's write short; the "
                 "latest VALID checkpoint is "
                 + (f"the one at LSN {point.lsn}" if point is not None else "none (start from an empty store)")),
        (DISCARD, lambda: _replay(records, check_logs=False),
         lambda: f"it replayed {bad(LogRecord)}: a crash cut that write short (or the disk damaged it), and "
                 "what it holds is garbage"),
        (DISCARD, lambda: _replay(records, check_logs=False, check_checkpoints=False),
         lambda: f"it replayed {bad((LogRecord, Checkpoint))}: a crash cut that write short (or the disk "
                 "damaged it), and what it holds is garbage"),
        (KEEP_READING, lambda: _replay(records, stop_at_bad=True),
         lambda: f"it stopped reading at {bad((LogRecord, Checkpoint))} and missed the valid records after "
                 "it: on this disk they are the writes made after the restart"),
        (KEEP_READING, lambda: _replay(records, check_checkpoints=False, stop_at_bad=True),
         lambda: f"it stopped reading at {bad(LogRecord)} and missed the valid records after it: on this "
                 "disk they are the writes made after the restart"),
        (IDEMPOTENT, lambda: _replay(records, idempotent=False),
         lambda: f"it redid log records with an LSN of at most {point.lsn if point else 0}, which the checkpoint "
                 "already reflects: their appends are applied twice"),
        (REDO_AFTER, lambda: _replay(records, redo=False),
         lambda: "it returned the checkpoint's store without redoing the valid log records after it (LSN "
                 + ", ".join(str(r.lsn) for r in (read_record(x) for x in records)
                             if isinstance(r, LogRecord) and r.valid and r.lsn > (point.lsn if point else 0))
                 + ")"),
    ]
    for rule, model, why in models:
        got = model()[0]
        if got != want and got == store:
            return rule, why()
    if point is not None and store == dict(point.store):
        return REDO_AFTER, "it returned the latest checkpoint's store without the log records after it"
    return None


def judge_replay(records, answer):
    """3.1: compare ``replay_log(records)``'s answer with recovery's; return (rule, detail) or None.

    >>> disk = [LogRecord.sealed(1, "w1", "put", "x", "a"), Torn(LogRecord.sealed(2, "w2", "put", "x", "bc"))]
    >>> judge_replay(disk, ({"x": "a"}, 1)) is None
    True
    >>> judge_replay(disk, ({"x": "b?"}, 2))[0]
    'Discard a record whose checksum fails (Pillai et al. 2014)'
    """
    want_store, want_lsn = reference_replay(records)
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and isinstance(answer[0], dict)
            and isinstance(answer[1], int) and not isinstance(answer[1], bool)):
        return STATE, f"replay_log returned {answer!r}; it returns a pair (store, lsn): a dict and a whole number"
    store, lsn = answer
    if store != want_store:
        found = _diagnose(records, store, want_store)
        rule, why = found if found else (REBUILD, "the valid records do not give that")
        return rule, (f"rebuilt {_store_text(store)}, but {why}; the valid records give "
                      f"{_store_text(want_store)}")
    if lsn != want_lsn:
        torn_top = max([read_record(r).lsn for r in records if isinstance(read_record(r), (LogRecord, Checkpoint))],
                       default=0)
        point = max((read_record(r).lsn for r in records
                     if isinstance(read_record(r), Checkpoint) and read_record(r).valid), default=None)
        why = ""
        if lsn == torn_top and lsn > want_lsn:
            why = (f" (LSN {lsn} belongs to a record whose checksum fails: it never became durable, and the next "
                   "write gets that number again)")
        elif point is not None and lsn == point and lsn < want_lsn:
            why = " (that is the checkpoint's LSN: the log records redone after it count too)"
        elif lsn == len(records) != want_lsn:
            why = " (that is the number of records on the disk, not an LSN)"
        return LSN, (f"rebuilt the right store {_store_text(store)}, but returned lsn={lsn}; the store reflects "
                     f"the writes up to LSN {want_lsn}{why}")
    return None


def _as_answer(answer):
    """``(store, lsn)`` from ``replay_log``'s answer; a clear error for any other shape."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and isinstance(answer[0], dict)
            and isinstance(answer[1], int) and not isinstance(answer[1], bool)):
        raise ValueError(f"replay_log(records) returned {answer!r}; it returns a pair (store, lsn): a dict and a "
                         "whole number")
    return dict(answer[0]), answer[1]


class ReplayNode(WalNode):
    """The course's key-value node with a write-ahead log, whose recovery is ``replay_log(records)``.

    At every boot it calls ``replay_log`` with the records of its stable storage (a list, in the
    order written: :class:`~fttoolkit.algorithms.wal.LogRecord`, :class:`~fttoolkit.algorithms.wal.Checkpoint`
    and :class:`~fttoolkit.core.Torn` ones), and serves the store it returns, the next write getting LSN
    ``lsn + 1``.  Replay takes ``replay_ticks`` per log record to redo, as in the course's node; the node
    defers requests meanwhile, and a crash in that time starts recovery over.
    """

    replay_log = None

    def on_start(self, records):
        answer = type(self).replay_log(list(records))
        self._judged(records, answer)
        self._rebuilt = _as_answer(answer)
        super().on_start(records)          # the course's bookkeeping: the plan's timing, the report, the notes

    def _redo_next(self):                  # only the time a replay takes: the store is the student's
        record = self.redo.pop(0)
        self.report["replayed"].append(record.lsn)
        self.note("redo", lsn=record.lsn, op=record.op)

    def _finish_recovery(self):
        store, lsn = self._rebuilt
        self.store, self.applied_lsn, self.next_lsn = dict(store), lsn, lsn + 1
        super()._finish_recovery()

    def _judged(self, records, answer):
        pass


def _replaying(function):
    def judged(self, records, answer):
        found = judge_replay(records, answer)
        if found:
            found = (found[0], f"{self.id} restarted with {len(records)} records on disk "
                               f"({show_disk(records)}): {found[1]}")
        _report(self, found)
    return type("StudentReplay", (ReplayNode,), {"replay_log": staticmethod(function), "_judged": judged,
                                                "__module__": WalNode.__module__})


# ---------------------------------------------------------------------------------- 3.2 fencing
class EpochNode(PrimaryBackupNode):
    """The course's replica (and coordination service), with two helpers for exercise 3.2.

    ``accepts_epoch(msg)`` is asked by the course's ``on_replicate`` and ``on_snapshot`` before anything
    else: on ``False`` the node notes "refused stale epoch" and answers ``StaleEpoch(self.epoch,
    self.primary)``; on ``True`` it adopts a newer epoch, then stores what it got.  ``on_stale_epoch(msg,
    sender)`` runs on the replica that gets such an answer.
    """

    def adopt(self, epoch, primary=None):
        """Enter the newer ``epoch``: write ``("epoch", epoch)`` to stable storage first, then step down
        if this replica acts as primary (its pending writes are answered "outcome unknown"); it is then
        ``"recovering"`` until it has caught up."""
        self._adopt(epoch, primary)

    def ask_catch_up(self):
        """Send the primary of this replica's epoch a ``CatchUpRequest`` summarising its log."""
        self._ask_catch_up()


class _Before:
    """What a replica held before the student's method ran."""

    def __init__(self, node):
        self.epoch = node.epoch
        self.role = node.role
        self.primary = node.primary
        self.last_epoch = node.last_epoch if node.role != "coordinator" else None
        self.version = node.version


def _judge_accepts(node, before, msg, got, made):
    """3.2: compare ``accepts_epoch(msg)`` with fencing; return (rule, detail) or None."""
    what = (f"{node.id} ({before.role}, epoch {before.epoch}) was asked accepts_epoch({type(msg).__name__} of "
            f"epoch {msg.epoch})")
    if not isinstance(got, bool):
        return STATE, f"{what}: it returned {got!r}; it returns True or False"
    if made or node.epoch != before.epoch or node.role != before.role:
        did = ", ".join(f"{type(i).__name__.lower()} {getattr(i, 'msg', getattr(i, 'records', ''))!r}"
                        for i in made) or f"epoch {before.epoch} -> {node.epoch}, role {before.role} -> {node.role}"
        return ONLY_ANSWER, (f"{what}: it did something besides answering ({did}); the course's node refuses, "
                             "answers StaleEpoch and adopts a newer epoch itself")
    want = msg.epoch >= before.epoch
    if got == want:
        return None
    hint = ""
    if before.last_epoch is not None and before.last_epoch != before.epoch and got == (msg.epoch >= before.last_epoch):
        hint = (f" (compare with self.epoch = {before.epoch}, the newest epoch it has adopted, not with "
                f"self.last_epoch = {before.last_epoch}, the epoch of its last log entry)")
    if got:
        return STALE, (f"{what}: it accepted, but epoch {msg.epoch} is older than its own epoch {before.epoch}: "
                       f"the sender is a deposed primary, which must not get writes stored any more{hint}")
    if msg.epoch == before.epoch:
        return CURRENT, (f"{what}: it refused, but epoch {msg.epoch} is its own: the sender is the primary of "
                         f"its epoch, and a backup that refuses it stalls every synchronous write{hint}")
    return NEWER, (f"{what}: it refused, but epoch {msg.epoch} is newer than its own epoch {before.epoch}: the "
                   f"sender is a newer primary, to follow (the course's node adopts its epoch){hint}")


def _persist_index(made, match):
    return next((k for k, i in enumerate(made) if type(i) is Persist
                 and any(isinstance(r, tuple) and r and match(r) for r in i.records)), None)


def _judge_stale(node, before, msg, sender, made):
    """3.2: compare ``on_stale_epoch(msg, sender)`` with Viewstamped Replication; return (rule, detail) or None."""
    what = f"{node.id} ({before.role}, epoch {before.epoch}) got StaleEpoch(e{msg.epoch}) from {sender}"
    written = _persist_index(made, lambda r: r[0] == "epoch")
    if msg.epoch > before.epoch:
        if node.epoch != msg.epoch:
            return ADOPT, (f"{what}: it is still at epoch {node.epoch}; epoch {msg.epoch} exists, so it must adopt "
                           f"it (self.adopt(msg.epoch, msg.primary))"
                           + (" and stop acting as primary" if before.role == "primary" else ""))
        if node.role == "primary":
            return ADOPT, (f"{what}: it adopted epoch {msg.epoch} but still acts as primary of it: the coordinator "
                           f"made {msg.primary or 'another replica'} primary; step down (self.adopt does)")
        epoch_written = _persist_index(made, lambda r: r[0] == "epoch" and len(r) > 1 and r[1] == msg.epoch)
        if epoch_written is None:
            return FORCE_EPOCH, (f"{what}: it took epoch {msg.epoch} without writing ('epoch', {msg.epoch}) to "
                                 f"stable storage; after a crash it would come back in epoch {before.epoch} and "
                                 "accept the deposed primary's messages again (self.adopt writes it)")
        sent = next((k for k, i in enumerate(made) if type(i) is Send), None)
        if sent is not None and sent < epoch_written:
            return FORCE_EPOCH, (f"{what}: it sent {made[sent].msg!r} to {made[sent].to} before writing ('epoch', "
                                 f"{msg.epoch}) to stable storage")
        return None
    changed = []
    if node.epoch != before.epoch:
        changed.append(f"its epoch went from {before.epoch} to {node.epoch}")
    if node.role != before.role:
        changed.append(f"its role went from {before.role} to {node.role}")
    if written is not None:
        changed.append(f"it wrote {[r for r in made[written].records]!r}")
    if changed:
        return ONLY_NEWER, (f"{what}: epoch {msg.epoch} is not newer than its own, so nothing should change, but "
                            + "; ".join(changed) + " (a late or repeated StaleEpoch must be ignored)")
    return None


def _refereed_fence(cls):
    """A subclass of the student's ``cls`` whose ``accepts_epoch`` and ``on_stale_epoch`` are judged at every call."""
    accepts, stale = cls.accepts_epoch, cls.on_stale_epoch

    def accepts_epoch(self, msg):
        before, start = _Before(self), len(self._intentions)
        got = accepts(self, msg)
        try:
            found = _judge_accepts(self, before, msg, got, self._intentions[start:])
        except Exception as error:      # noqa: BLE001 - the student's state is not what the node keeps
            found = (STATE, f"{self.id}: the referee could not read the node's state ({type(error).__name__}: "
                            f"{error})")
        _report(self, found)
        return got

    def on_stale_epoch(self, msg, sender):
        before, start = _Before(self), len(self._intentions)
        stale(self, msg, sender)
        if before.role == "coordinator":
            return
        try:
            found = _judge_stale(self, before, msg, sender, self._intentions[start:])
        except Exception as error:      # noqa: BLE001
            found = (STATE, f"{self.id}: the referee could not read the node's state ({type(error).__name__}: "
                            f"{error})")
        _report(self, found)
    return type(cls.__name__, (cls,), {"accepts_epoch": accepts_epoch, "on_stale_epoch": on_stale_epoch,
                                      "__module__": PrimaryBackupNode.__module__, "__qualname__": cls.__qualname__})


# ---------------------------------------------------------------------------------- 3.3 catching up
class ReturningNode(PrimaryBackupNode):
    """The course's replica, whose two catch-up decisions are exercise 3.3's.

    ``holds(lsn, epoch)`` is asked by the course's ``on_replicate`` with the entry just before the new
    ones (``msg.prev_lsn``, ``msg.prev_epoch``): on ``True`` it stores them and answers ``Stored``; on
    ``False`` it answers a ``CatchUpRequest`` instead.  ``catch_up_plan(match_lsn)`` is asked by the
    primary each time it ships to a replica (see
    :meth:`~fttoolkit.algorithms.primary_backup.PrimaryBackupNode.catch_up_plan`).
    """

    def holds(self, lsn, epoch):
        """Exercise 3.3: whether this replica's log holds LSN ``lsn`` from ``epoch`` (entries after it may follow)."""
        raise NotImplementedError("exercise 3.3: write holds in a subclass of ReturningNode")

    def _has(self, lsn, epoch):
        return self.holds(lsn, epoch)


def _show_log(node):
    """``checkpoint 4/1, 5-6/2``: a replica's checkpoint and its log as runs of one epoch."""
    base_lsn, base_epoch, runs = node.summary()
    parts = [f"checkpoint {base_lsn}/{base_epoch}"] if base_lsn else []
    parts += [f"{a}/{e}" if a == b else f"{a}-{b}/{e}" for e, a, b in runs]
    return ", ".join(parts) or "empty"


def _judge_holds(node, lsn, epoch, got, made):
    """3.3: compare ``holds(lsn, epoch)`` with the log; return (rule, detail) or None."""
    what = (f"{node.id} (log {_show_log(node)}) was asked holds({lsn}, {epoch}): may entries after LSN "
            f"{lsn}/{epoch} follow")
    if not isinstance(got, bool):
        return STATE, f"{what}: it returned {got!r}; it returns True or False"
    if made:
        return ONLY_ANSWER, f"{what}: it recorded {made[0]!r} besides answering"
    want = PrimaryBackupNode._has(node, lsn, epoch)
    if got == want:
        return None
    mine = node.epoch_at(lsn)
    if got:
        if mine is None:
            why = (f"its log ends at LSN {node.last_lsn}: it lacks LSN {node.last_lsn + 1}..{lsn}, and a Stored "
                   "for the entries after them would make the primary count it as holding everything; it must "
                   "ask to catch up first") if lsn > node.last_lsn else f"it has no entry at LSN {lsn}"
        else:
            why = (f"its LSN {lsn} is from epoch {mine}, not {epoch}: the logs diverged there (an entry of a deposed "
                   "primary), and entries stored after it would sit on a wrong prefix")
        return IN_LINE, f"{what}: it said yes, but {why}"
    if lsn < node.base_lsn:
        why = f"LSN {lsn} is inside its checkpoint (LSN 1..{node.base_lsn}): committed, the same on every replica"
    elif lsn == 0:
        why = "LSN 0, the empty prefix, is in every log"
    else:
        why = (f"its LSN {lsn} is from epoch {epoch}" + (" (the checkpoint's last entry)" if lsn == node.base_lsn
                                                          else "") +
               ": it holds that entry and, one primary per epoch, everything before it")
    return FOLLOWS, f"{what}: it said no, but {why}; it would ask to catch up for nothing, again and again"


def _judge_plan(node, match, got, made):
    """3.3: compare ``catch_up_plan(match)`` with the course's rule; return (rule, detail) or None."""
    limit = node.params["ship_limit"]
    agree = ("nowhere it still has entries for (match_lsn=None)" if match is None else f"LSN {match}")
    what = (f"{node.id}, primary of epoch {node.epoch} (log {_show_log(node)}, commit LSN {node.commit_lsn}, "
            f"ship_limit {limit}), chose {got!r} to catch up a replica whose log agrees with its own up to {agree}")
    if got not in ("log", "snapshot"):
        return STATE, f"{what}; catch_up_plan returns 'log' or 'snapshot'"
    if made:
        return ONLY_ANSWER, f"{what}: it recorded {made[0]!r} besides answering"
    want = PrimaryBackupNode.catch_up_plan(node, match)
    if got == want:
        return None
    if want == "snapshot" and match is None:
        return SNAPSHOT_GONE, (f"{what}: the entries the replica lacks were folded into the checkpoint at LSN "
                               f"{node.base_lsn}; there is no log left to ship from, and the replica would never "
                               "catch up: only the state can help")
    if want == "snapshot":
        return SNAPSHOT_FAR, (f"{what}: the replica lacks {node.commit_lsn - match} committed entries, more than "
                              f"ship_limit = {limit}: the state is cheaper to send")
    return SHIP_LOG, (f"{what}: the primary still has the entries after LSN {match}, and the replica lacks "
                      f"{max(node.commit_lsn - match, 0)} committed ones, at most ship_limit = {limit}: ship the log "
                      "(a snapshot holds only committed state, so the newest entries would never reach it)")


def _refereed_catch_up(cls):
    """A subclass of the student's ``cls`` whose ``holds`` and ``catch_up_plan`` are judged at every call."""
    holds, plan = cls.holds, cls.catch_up_plan

    def judged(self, judge, *args):
        try:
            found = judge(self, *args)
        except Exception as error:      # noqa: BLE001
            found = (STATE, f"{self.id}: the referee could not read the node's state ({type(error).__name__}: "
                            f"{error})")
        _report(self, found)

    def holds_(self, lsn, epoch):
        start = len(self._intentions)
        got = holds(self, lsn, epoch)
        judged(self, _judge_holds, lsn, epoch, got, self._intentions[start:])
        return got

    def catch_up_plan(self, match_lsn):
        start = len(self._intentions)
        got = plan(self, match_lsn)
        judged(self, _judge_plan, match_lsn, got, self._intentions[start:])
        return got
    holds_.__name__ = "holds"
    return type(cls.__name__, (cls,), {"holds": holds_, "catch_up_plan": catch_up_plan,
                                      "__module__": PrimaryBackupNode.__module__, "__qualname__": cls.__qualname__})


# ---------------------------------------------------------------------------------- doors
#: Exercise id -> method -> names of the course's code that would do the exercise for the student.
_FORBIDDEN = {"3.1": {"replay_log": ("plan_recovery", "recover", "redo_step", "reference_replay")},
              "3.2": {"accepts_epoch": ("accepts_epoch",), "on_stale_epoch": ("on_stale_epoch",)},
              "3.3": {"holds": ("_has", "holds"), "catch_up_plan": ("catch_up_plan",)}}
#: Exercise id -> the course's class the student's extends.
_BASES = {"3.2": EpochNode, "3.3": ReturningNode}
_SIGNATURES = {"accepts_epoch": "msg", "on_stale_epoch": "msg, sender", "holds": "lsn, epoch",
               "catch_up_plan": "match_lsn"}


def _wal_door(node_class):
    def __init__(self, *args, **kwargs):
        WriteAheadLog.__init__(self, *args, **kwargs)
        type(self).last = self           # the fuzzer builds its own: keep it, for the failure's script

    return type("StudentWal", (WriteAheadLog,), {"node_class": node_class,
                                                 "invariants": [REFEREE] + list(WAL_INVARIANTS),
                                                 "__init__": __init__, "last": None, "__module__": __name__})


def _pb_door(node_class):
    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, **kwargs):
        PrimaryBackup.__init__(self, nodes=nodes, seed=seed, bugs=bugs, check=False, halt=halt, **kwargs)
        self.invariants = [REFEREE] + invariants_for(self.sim.params)
        if check:
            Monitor.attach(self.sim, self.invariants, halt=halt)
        type(self).last = self

    return type("StudentPrimaryBackup", (PrimaryBackup,), {"node_class": node_class, "__init__": __init__,
                                                           "last": None, "__module__": __name__})


def student_door(exercise_id, student):
    """The front door that runs exercise ``exercise_id``'s code ``student`` under the invariants and the referee."""
    name, methods = METHODS[exercise_id]
    if exercise_id == "3.1":
        if not callable(student) or isinstance(student, type):
            raise Fail("replay_log must be a function", expected="def replay_log(records): ...", got=repr(student))
        bodies = {"replay_log": student}
    else:
        base = _BASES[exercise_id]
        if not (isinstance(student, type) and issubclass(student, base)):
            raise Fail(f"{name} must be a class that extends {base.__name__}",
                       expected=f"class {name}({base.__name__}): ...", got=repr(student))
        bodies = {}
        for method in methods:
            mine = getattr(student, method)
            if mine is getattr(PrimaryBackupNode, method, None) or mine is getattr(base, method):
                raise Fail(f"{name} does not define {method}: write it in the class",
                           expected=f"def {method}(self, {_SIGNATURES[method]}): ...",
                           got=f"{name} inherits the course's {method}")
            bodies[method] = mine
    for method, body in bodies.items():
        used = [n for n in _FORBIDDEN[exercise_id][method] if n in names_read(body, READS + ("IMPORT_FROM",))]
        if used:
            raise Fail(f"{name}{'.' + method if exercise_id != '3.1' else ''} calls the course's {used[0]}: "
                       "write it yourself", expected="your own code", got=f"a call of {used[0]}")
    if exercise_id == "3.1":
        return _wal_door(_replaying(student))
    if exercise_id == "3.2":
        return _pb_door(_refereed_fence(student))
    return _pb_door(_refereed_catch_up(student))


def replay_script(exercise_id, student, script, halt=False):
    """Replay a scenario ``script`` (text) with ``student``'s code as exercise ``exercise_id`` runs it; return the door.

    >>> def replay_log(records):                 # no checksum: a torn record is replayed as garbage
    ...     store, lsn = {}, 0
    ...     for raw in records:
    ...         record = read_record(raw)
    ...         store[record.key] = apply_write(store.get(record.key), record.kind, record.arg)
    ...         lsn = record.lsn
    ...     return store, lsn
    >>> door = replay_script("3.1", replay_log, WriteAheadLog.presets()["torn_record"])
    >>> [(v["invariant"], v.tick) for v in door.violations][:2]
    [('Discard a record whose checksum fails (Pillai et al. 2014)', 20), ('Durability', 30)]
    """
    return replay_with(student_door(exercise_id, student), script, halt)


# ---------------------------------------------------------------------------------- running cases
def _fail_for(exercise_id, title, seed, script, door, violation, later=()):
    """The failure for a broken rule or invariant (see :func:`fttoolkit.grading.refereed.fail_for`)."""
    invariants = WAL_INVARIANTS if exercise_id == "3.1" else PB_INVARIANTS
    return fail_for(title, seed, script, door, violation, later, invariants, _EXPECTED[exercise_id])


def _scenarios(exercise_id, scenarios):
    return scenario_check(exercise_id, METHODS[exercise_id][0], scenarios, student_door,
                          functools.partial(_fail_for, exercise_id), _EXPECTED[exercise_id])


def _fuzzed(exercise_id, profile, seeds, nodes):
    """Random schedules of the fuzzer (a fault ``profile``), shrunk and written as a script on failure."""
    return fuzz_check(exercise_id, METHODS[exercise_id][0], profile, seeds, nodes, student_door,
                      functools.partial(_fail_for, exercise_id))


def _preset(door_class, name, note, bugs=None):
    text = door_class.presets()[name]
    if bugs is not None:               # a bug's schedule, run with the student's code instead of the bug
        text = "\n".join(line for line in with_bugs(text, bugs).splitlines() if not line.startswith("expect "))
    return f"# Exercise 3: {note}\n" + text + ("\n" if not text.endswith("\n") else "")


# ---------------------------------------------------------------------------------- 3.1 log replay
def _log(lsn, op, kind, key, arg):
    return LogRecord.sealed(lsn, op, kind, key, arg)


def _damaged(record, arg):
    """``record`` with its payload changed after it was written (its checksum no longer verifies)."""
    return LogRecord(record.lsn, record.op, record.kind, record.key, arg, record.crc)


_L1, _L2, _L3 = _log(1, "w1", "put", "x", "a"), _log(2, "w2", "append", "x", "b"), _log(3, "w3", "append", "x", "c")
_L4, _L5 = _log(4, "w4", "put", "y", "hello"), _log(5, "w5", "append", "x", "d")

#: (what, records): the disks the direct case asks about.
_DISKS = [
    ("an empty disk (the first boot)", []),
    ("a clean log, no checkpoint", [_L1, _L2, _L3]),
    ("a torn last record", [_L1, _L2, Torn(_L3)]),
    ("a checkpoint, then more log", [_L1, _L2, _L3, Checkpoint.sealed(3, {"x": "abc"}), _L4, _L5]),
    ("the checkpoint already reflects appends (idempotent redo)",
     [_log(1, "w1", "append", "x", "a"), _log(2, "w2", "append", "x", "b"), Checkpoint.sealed(2, {"x": "ab"}),
      _log(3, "w3", "append", "x", "c")]),
    ("a crash during a checkpoint (the checkpoint is torn)",
     [_L1, _L2, Checkpoint.sealed(2, {"x": "ab"}), _L3, _log(4, "w4", "append", "x", "d"),
      Torn(Checkpoint.sealed(4, {"x": "abcd"}))]),
    ("a torn record, then the writes made after the restart",
     [_L1, _L2, Torn(_L3), _log(3, "w4", "append", "x", "C"), _log(4, "w5", "put", "y", "v")]),
    ("a record damaged on the disk (not torn: its bytes changed)", [_L1, _damaged(_L2, "B"), _L3]),
    ("two checkpoints, a torn record between them",
     [_L1, Checkpoint.sealed(1, {"x": "a"}), Torn(_L2), _log(2, "w3", "append", "x", "e"),
      Checkpoint.sealed(2, {"x": "ae"}), _log(3, "w4", "append", "x", "f")]),
    ("only a torn record", [Torn(_L1)]),
]


def _direct_replay(ns):
    replay_log = ns["replay_log"]
    student_door("3.1", replay_log)          # the same complaints as in a run (not a function ...)
    for what, records in _DISKS:
        got = replay_log(list(records))
        problem = judge_replay(records, got)
        if problem:
            rule, detail = problem
            raise Fail(f"{what}: {rule} broken", expected=repr(reference_replay(records)),
                       got=f"replay_log([{show_disk(records)}]) returned {got!r}: {detail}")
        again = replay_log(list(records))    # a crash during recovery: the same disk is replayed again
        if judge_replay(records, again):
            raise Fail(f"{what}, replayed a second time (a crash during recovery): {IDEMPOTENT} broken",
                       expected=repr(reference_replay(records)),
                       got=f"the first replay returned the right answer, the second {again!r}: recovery must "
                           "start from the disk alone, not from what an earlier replay left in memory (a crash "
                           "during recovery loses that memory; a second replay of the same disk gives the same "
                           "store)")
    return expect(len(_DISKS), len(_DISKS), "disks replayed right, twice")


def _wal_stores(expected):
    def judge(door):
        got = door.stores()
        if got != expected:
            return "Exactly once", f"the stores are {got}, not {expected}"
        return None
    return judge


_DAMAGE = """\
algorithm wal
nodes 1
seed 1
param checkpoint_every=0 replay_ticks=5

# Exercise 3.1: n1 puts x='hello' (w1), forced and acknowledged.  Then a crash point tears its next storage
# write: the record of w2 (put x='world') is only partly written, and no Ack leaves.
put n1 x hello
run 10
crash n1 after=0 tear=0
put n1 x world
run 20
# t=20: n1 restarts.  The torn record reads back as 'wo???' with no checksum: recovery must discard it and
# rebuild x='hello'.  Replaying it would put a value no client ever wrote.
restart n1
run 30
get n1 x
run 35
"""

_APPENDS_TWICE = """\
algorithm wal
nodes 1
seed 1
param checkpoint_every=2 replay_ticks=5

# Exercise 3.1: three appends; after the second, n1 writes Checkpoint(lsn=2, {x='ab'}).
append n1 x a
append n1 x b
append n1 x c
run 10
crash n1
run 20
# t=20: n1 restarts.  The checkpoint already reflects LSN 1 and 2: only LSN 3 is redone, and x='abc'.
# Redoing the whole log on top of the checkpoint would make it 'ababc'.
restart n1
run 40
get n1 x
run 45
"""

_AFTER_THE_TORN = """\
algorithm wal
nodes 1
seed 2
param checkpoint_every=0 replay_ticks=2

# Exercise 3.1: two writes, then a crash point tears the record of w3.
put n1 x a
append n1 x b
run 10
crash n1 after=0 tear=0
append n1 x c
run 20
# t=20: n1 restarts, discards the torn record (LSN 3), and serves.  Two more writes are acknowledged: LSN 3
# (reused) and LSN 4, written on the disk AFTER the torn record (the simulator's disk cannot be truncated).
restart n1
run 30
append n1 x C
put n1 y v
run 40
# t=40: n1 crashes again.  Recovery must skip the torn record and keep reading: w4 and w5 were acknowledged.
crash n1
restart n1
run 60
get n1 x
run 65
"""

register(Exercise(
    "3.1", "Log replay after a crash", needs=["replay_log"],
    hint="read each record with record = read_record(raw) and skip it (then keep reading) unless record.valid; "
         "start from the valid Checkpoint with the highest lsn (dict(cp.store), cp.lsn), or from {} and LSN 0; "
         "then, in disk order, redo each valid LogRecord whose lsn is above the LSN reached so far: "
         "store[r.key] = apply_write(store.get(r.key), r.kind, r.arg), lsn = r.lsn; return (store, lsn)",
    cases=[
        Case("the replay on given disks", _direct_replay, points=2),
        Case("crash and replay, a torn record", _scenarios("3.1", [
            Scenario("crash_and_replay", _preset(WriteAheadLog, "crash_and_replay", "the preset crash_and_replay"),
                     _wal_stores({"n1": {"x": "abcd", "y": "hello"}})),
            Scenario("torn_record", _preset(WriteAheadLog, "torn_record", "the preset torn_record"),
                     _wal_stores({"n1": {"x": "abc"}})),
            Scenario("a torn write of garbage", _DAMAGE, _wal_stores({"n1": {"x": "hello"}})),
        ])),
        Case("checkpoints: a torn one, one that reflects appends", _scenarios("3.1", [
            Scenario("crash_during_checkpoint", _preset(WriteAheadLog, "crash_during_checkpoint",
                                                        "the preset crash_during_checkpoint"),
                     _wal_stores({"n1": {"x": "abcd"}})),
            Scenario("appends already in the checkpoint", _APPENDS_TWICE, _wal_stores({"n1": {"x": "abc"}})),
        ])),
        Case("a crash during recovery, writes after a torn record", _scenarios("3.1", [
            Scenario("crash_during_recovery", _preset(WriteAheadLog, "crash_during_recovery",
                                                      "the preset crash_during_recovery"),
                     _wal_stores({"n1": {"x": "abcdefg"}})),
            Scenario("writes after a torn record", _AFTER_THE_TORN, _wal_stores({"n1": {"x": "abC", "y": "v"}})),
            Scenario("group_commit", _preset(WriteAheadLog, "group_commit", "the preset group_commit"),
                     _wal_stores({"n1": {"x": "abc"}})),
        ])),
        Case("crashes and torn writes (fuzzed)", _fuzzed("3.1", "crash", range(1, 25), nodes=5)),
    ]))


# ---------------------------------------------------------------------------------- 3.2 fencing
def _replica(cls, node_id, records=(), config=None):
    """A replica of class ``cls`` booted from ``records``, then told ``config`` (a Configuration) by zk."""
    node = cls(node_id, peers=tuple(i for i in ("n1", "n2", "n3", "zk") if i != node_id))
    node.start(list(records))
    if config is not None:
        node.handle_message(config, "zk")
    return node


_W1 = Entry(1, 1, "w1", "x", 1)


def _direct_fence(ns):
    cls = ns["FenceNode"]
    student_door("3.2", cls)
    asked = 0
    # A backup that adopted epoch 2 (its log's last entry is still from epoch 1).
    for msg, sender in [(Replicate(2, 1, 1, (), 1, 1), "n3"), (Replicate(1, 1, 1, (Entry(1, 2, "w2", "x", 2),), 1, 2),
                                                               "n1"),
                        (Replicate(3, 1, 1, (), 1, 1), "n1"), (Snapshot(1, 1, 1, (), ("w1",), 1), "n1"),
                        (Snapshot(2, 1, 1, (), ("w1",), 1), "n3")]:
        node = _replica(cls, "n2", [("epoch", 1), ("entry", 1, _W1)], Configuration(2, 0, "n3", ("n2", "n3")))
        before, start = _Before(node), len(node._intentions)
        got = cls.accepts_epoch(node, msg)
        problem = _judge_accepts(node, before, msg, got, node._intentions[start:])
        asked += 1
        if problem:
            rule, detail = problem
            raise Fail(f"a backup of epoch 2 asked about {type(msg).__name__}(epoch {msg.epoch}): {rule} broken",
                       expected=f"accepts_epoch returns {msg.epoch >= 2}", got=detail)
    # The primary of epoch 1 is told of epoch 2, twice; a replica of epoch 3 gets a late StaleEpoch(2).
    primary = _replica(cls, "n1", [], Configuration(1, 0, "n1", ("n1", "n2", "n3")))
    late = _replica(cls, "n3", [("epoch", 3)], Configuration(3, 0, "n2", ("n2", "n3")))
    for node, msg, sender in [(primary, StaleEpoch(2, "n2"), "n2"), (primary, StaleEpoch(2, "n2"), "n3"),
                              (late, StaleEpoch(2, "n2"), "n1")]:
        before = _Before(node)
        made = node.handle_message(msg, sender)
        problem = _judge_stale(node, before, msg, sender, made)
        asked += 1
        if problem:
            rule, detail = problem
            want = ("adopts epoch 2 (written first) and steps down" if msg.epoch > before.epoch
                    else "nothing changes")
            who = {"primary": "the primary", "backup": "a backup"}.get(before.role, "a replica")
            raise Fail(f"{who} of epoch {before.epoch} told StaleEpoch(e{msg.epoch}): {rule} broken",
                       expected=want, got=detail)
    return expect(asked, 8, "questions answered right")


def _pb_preset(name, note, bugs=None):
    return _preset(PrimaryBackup, name, note, bugs)


def _stepped_down(node_id, epoch):
    """At the end, ``node_id`` is a backup of ``epoch`` again and every replica's log is the same."""
    def judge(door):
        roles, epochs = door.roles(), door.epochs()
        if roles[node_id] != "backup" or epochs[node_id] != epoch:
            return ADOPT, (f"{node_id} ends as {roles[node_id]} of epoch {epochs[node_id]}, not a backup of epoch "
                           f"{epoch} (roles: {roles})")
        if door.divergent():
            return "Durability", f"the replicas' logs still differ: {door.divergent()}"
        return None
    return judge


_HEALED_EARLY = """\
algorithm primary-backup
nodes 3
seed 2
network delay=10

# Exercise 3.2: w1 (x=1) is acknowledged on all three replicas.  At t=100 a partition cuts n1, the primary of
# epoch 1, off; it logs w2 (x=2) at LSN 2 of epoch 1 but cannot replicate it.
run 20
write n1 x 1
run 100
partition n1 | n2,n3,zk
write n1 x 2
run 230
# t=200: zk suspects n1 and promotes n2 (epoch 2, members n2, n3).  n2 and n3 adopt epoch 2, but nobody has
# written anything in it yet: their logs still end with w1, of epoch 1.  The partition heals at t=230.
heal
run 600
# t=250: n1 ships w2 again (epoch 1).  n2 and n3 must refuse it: epoch 1 is older than the epoch they
# adopted (comparing with the epoch of their last log entry would let it in).  n1 learns of epoch 2, steps
# down and catches up; w2, never acknowledged, is discarded.
"""

_NEWER_FIRST = """\
algorithm primary-backup
nodes 3
seed 3
network delay=10

# Exercise 3.2: w1 (x=1) is acknowledged at t=40.  At t=150 the link between zk and n3 becomes slow (60 ticks
# each way), and n1, the primary of epoch 1, crashes.
run 20
write n1 x 1
run 150
link zk n3 delay=60
crash n1
run 400
# t=260: zk suspects n1 and promotes n2 (epoch 2, members n2, n3).  n2 hears it at t=270 and takes over at
# once: its first Replicate of epoch 2 reaches n3 at t=280, while zk's announcement reaches n3 only at t=320.
# n3, still in epoch 1, must accept it (a newer epoch: the course's node adopts it) and follow n2.  At t=400
# a write at n2 is acknowledged once n3 has stored it.
write n2 y 2
run 700
"""

register(Exercise(
    "3.2", "The epoch check that fences a stale primary", needs=["FenceNode"],
    hint="accepts_epoch: compare msg.epoch with self.epoch (the newest epoch this replica adopted; not "
         "self.last_epoch, the epoch of its last log entry): older -> False; the same or newer -> True; change "
         "nothing.  on_stale_epoch: only if msg.epoch > self.epoch, call self.adopt(msg.epoch, msg.primary) (it "
         "writes the epoch down first, then steps down), then self.ask_catch_up(); otherwise do nothing",
    cases=[
        Case("the check on given epochs", _direct_fence, points=2),
        Case("a failover: the current epoch, then a newer one", _scenarios("3.2", [
            Scenario("primary_crash_failover", _pb_preset("primary_crash_failover", "the preset "
                                                                                    "primary_crash_failover")),
            Scenario("a newer primary heard before the coordinator", _NEWER_FIRST),
        ])),
        Case("a partitioned old primary is fenced", _scenarios("3.2", [
            Scenario("partition_fenced", _pb_preset("partition_fenced", "the preset partition_fenced"),
                     _stepped_down("n1", 2)),
            Scenario("split_brain's schedule, with your fencing",
                     _pb_preset("split_brain", "the schedule of the preset split_brain, with your fencing instead "
                                               "of the bug no-fencing: no split brain may happen", bugs=[]),
                     _stepped_down("n1", 2)),
            Scenario("healed before the new primary writes", _HEALED_EARLY, _stepped_down("n1", 2)),
        ]), points=2),
        Case("partitions, crashes, lost and reordered messages (fuzzed)", lambda ns: "; ".join([
            _fuzzed("3.2", "partition", range(1, 21), nodes=3)(ns),
            _fuzzed("3.2", "chaos", range(1, 13), nodes=3)(ns)])),
    ]))


# ---------------------------------------------------------------------------------- 3.3 catching up
def _entries(*spec):
    """Log records for a replica's disk: ``(epoch, lsn)`` pairs."""
    return [("entry", e, Entry(e, lsn, f"w{lsn}", "x", lsn)) for e, lsn in spec]


def _direct_catch_up(ns):
    cls = ns["CatchUpNode"]
    student_door("3.3", cls)
    asked = 0
    # A returning replica: LSN 1-2 of epoch 1; and one with a checkpoint at LSN 4 (epoch 1), then LSN 5-6/2.
    plain = [("epoch", 1)] + _entries((1, 1), (1, 2))
    state = tuple((f"k{k}", (k, k, f"w{k}")) for k in range(1, 5))
    folded = [("epoch", 2), ("checkpoint", 2, 4, 1, state, ("w1", "w2", "w3", "w4"))] + _entries((2, 5), (2, 6))
    for records, questions in [(plain, [(2, 1), (1, 1), (0, 0), (2, 2), (3, 2), (3, 1)]),
                               (folded, [(4, 1), (2, 1), (6, 2), (5, 2), (4, 2), (5, 1), (7, 2)])]:
        for lsn, epoch in questions:
            node = _replica(cls, "n3", records)
            start = len(node._intentions)
            got = cls.holds(node, lsn, epoch)
            problem = _judge_holds(node, lsn, epoch, got, node._intentions[start:])
            asked += 1
            if problem:
                rule, detail = problem
                raise Fail(f"a replica with log {_show_log(node)} asked holds({lsn}, {epoch}): {rule} broken",
                           expected=f"holds({lsn}, {epoch}) returns {PrimaryBackupNode._has(node, lsn, epoch)}",
                           got=detail)
    # A primary whose log holds LSN 1-10 (commit 10), then one that folded LSN 1-6 into a checkpoint.
    for base, commit, limit, matches in [(0, 10, 4, [10, 8, 6, 5, 0, None]), (6, 10, 8, [None, 6, 9]),
                                         (0, 7, 4, [5, 2])]:
        node = _replica(cls, "n1", [], Configuration(1, 0, "n1", ("n1", "n2", "n3")))
        node.params = dict(node.params, ship_limit=limit)
        node.log = {k: Entry(1, k, f"w{k}", "x", k) for k in range(base + 1, 11)}
        if base:
            node.base_lsn, node.base_epoch = base, 1
        node.commit_lsn = commit
        for match in matches:
            start = len(node._intentions)
            got = cls.catch_up_plan(node, match)
            problem = _judge_plan(node, match, got, node._intentions[start:])
            asked += 1
            if problem:
                rule, detail = problem
                raise Fail(f"a primary with log {_show_log(node)} (commit {commit}, ship_limit {limit}) asked "
                           f"catch_up_plan({match}): {rule} broken",
                           expected=f"catch_up_plan({match}) returns "
                                    f"{PrimaryBackupNode.catch_up_plan(node, match)!r}", got=detail)
    return expect(asked, 24, "questions answered right")


def _caught_up(node_id, store=None):
    """At the end, ``node_id`` is back in the configuration with the primary's log (and ``store``)."""
    def judge(door):
        config = door.configuration()
        if node_id not in config["members"]:
            return "Rejoined", f"{node_id} is not back in the configuration (members: {config['members']})"
        primary = door.primary()
        mine, theirs = door.stores()[node_id], door.stores()[primary]
        if door.commits()[node_id] == door.commits()[primary] and mine != theirs:
            return "Durability", f"{node_id}'s store {mine} differs from the primary {primary}'s {theirs}"
        if store is not None and mine != store:
            return "Durability", f"{node_id}'s store is {mine}, not {store}"
        return None
    return judge


_MISSED_ONE = """\
algorithm primary-backup
nodes 3
seed 1
network delay=10

# Exercise 3.3: the schedule of the preset serve_before_catch_up, with your code instead of the bug.
# w1 is acknowledged on n1, n2, n3.  n3 crashes at t=60, while still a member; w2 (y=2, LSN 2) waits for it.
run 20
write n1 x 1
run 60
crash n3
run 70
write n1 y 2
run 101
# t=101: n3 restarts with w1 only, and w3 (LSN 3) is shipped to it at once, after LSN 2, which it lacks.  It
# must not store and acknowledge LSN 3 on top of that gap: it asks to catch up, gets LSN 2 and 3, and only
# then counts.
restart n3
write n1 z 3
run 150
# t=150: n1 and n2 crash; zk promotes n3, the only live member: it holds every acknowledged write.
crash n1
crash n2
run 400
"""

register(Exercise(
    "3.3", "The catch-up decisions of a returning node", needs=["CatchUpNode"],
    hint="holds(lsn, epoch): True if lsn < self.base_lsn (inside the checkpoint: committed), otherwise "
         "self.epoch_at(lsn) == epoch (epoch_at gives None where the log has no entry); catch_up_plan(match_lsn): "
         "'snapshot' if match_lsn is None (the entries are gone) or self.commit_lsn - match_lsn > "
         "self.params['ship_limit'], otherwise 'log'",
    cases=[
        Case("the decisions on given logs", _direct_catch_up, points=2),
        Case("the old primary returns: log shipping", _scenarios("3.3", [
            Scenario("old_primary_returns", _pb_preset("old_primary_returns", "the preset old_primary_returns"),
                     _caught_up("n1", {"x": 1, "y": 3, "z": 4})),
        ])),
        Case("a replica that missed too much: state transfer", _scenarios("3.3", [
            Scenario("catch_up_by_snapshot", _pb_preset("catch_up_by_snapshot", "the preset catch_up_by_snapshot"),
                     _caught_up("n3", {"x": 5, "y": 6, "z": 7})),
        ])),
        Case("no acknowledgement before catching up", _scenarios("3.3", [
            Scenario("serve_before_catch_up's schedule", _MISSED_ONE),
        ])),
        Case("crashes, restarts, partitions and lost messages (fuzzed)", lambda ns: "; ".join([
            _fuzzed("3.3", "crash", range(1, 17), nodes=3)(ns), _fuzzed("3.3", "chaos", range(1, 17), nodes=3)(ns)])),
    ]))
