"""``fttoolkit.WriteAheadLog``: crash recovery of a key-value node from a write-ahead log and checkpoints."""

from ..algorithms.wal import (INVARIANTS, LIVENESS, Ack, Append, Checkpoint, Get, LogRecord, Put, TakeCheckpoint,
                              WalNode, as_write, read_record)
from ..core.errors import BadParameter
from ..core.history import Operation
from ..core.intentions import Torn
from .base import FrontDoor, register
from .primary_backup import PrimaryBackup

__all__ = ["WriteAheadLog", "FailureRecovery", "MODELS"]


@register
class WriteAheadLog(FrontDoor):
    """Key-value nodes that survive crashes with a write-ahead log, checkpoints and idempotent redo.

    Every node is an independent key-value server with its own log (one node
    unless ``nodes`` says otherwise; clients are not nodes).  Parameters
    (besides those of every front door): ``checkpoint_every``,
    ``group_commit_ticks``, ``replay_ticks`` (see
    :class:`fttoolkit.algorithms.wal.WalNode`).  Bugs: ``ack-before-force``,
    ``no-checksum``, ``redo-not-idempotent``.

    Script commands: ``put NODE KEY VALUE``, ``append NODE KEY SUFFIX``,
    ``get NODE KEY`` and ``checkpoint NODE`` (values are taken as text).

    The invariants judge each node after every recovery.  A crash that loses
    the disk (``crash(node, lose_disk=True)``) loses acknowledged writes, and
    Durability says so: one disk is not enough, hence replication.  The
    fuzzer keeps a majority of the nodes up, so it crashes nothing in a
    one-node cluster: ``fuzz wal`` runs five independent nodes (its default).

    Examples
    --------
    >>> wal = WriteAheadLog(seed=1, checkpoint_every=2)
    >>> wal.put("n1", "x", "a"), wal.append("n1", "x", "b"), wal.append("n1", "x", "c")
    ('w1', 'w2', 'w3')
    >>> _ = wal.run(until=10)
    >>> wal.store("n1"), [w.op for w in wal.acknowledged()]
    ({'x': 'abc'}, ['w1', 'w2', 'w3'])
    >>> [(e["lsn"], e["type"]) for e in wal.log("n1")]
    [(1, 'log'), (2, 'log'), (2, 'checkpoint'), (3, 'log')]
    >>> wal.crash("n1"); wal.restart("n1"); _ = wal.run(until=20)
    >>> wal.store("n1"), wal.recovery_report("n1")["checkpoint"], wal.recovery_report("n1")["replayed"]
    ({'x': 'abc'}, 2, [3])

    Notes
    -----
    Haerder & Reuter, "Principles of Transaction-Oriented Database Recovery"
    (1983): write-ahead logging, force at commit; Mohan et al., "ARIES" (ACM
    TODS, 1992), §6: checkpoints and LSN-based idempotent redo.
    """

    name = "wal"
    node_class = WalNode
    summary = "crash recovery: write-ahead log, checkpoints, torn records, idempotent redo (ARIES)"
    invariants = INVARIANTS
    liveness = LIVENESS
    script_commands = {"put": "put NODE KEY VALUE", "append": "append NODE KEY SUFFIX", "get": "get NODE KEY",
                       "checkpoint": "checkpoint NODE"}
    fuzz_ticks = 1500
    fuzz_requests = 40
    fuzz_params = {"checkpoint_every": (2, 3, 5), "group_commit_ticks": (0, 0, 10), "replay_ticks": (0, 2, 5)}
    #: Ticks within which a write made once the faults have stopped must be acknowledged (liveness probe).
    probe_ticks = 300

    def __init__(self, nodes=1, seed=0, bugs=(), check=True, halt=False, **params):
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=check, halt=halt, **params)

    # ---- clients ------------------------------------------------------------------------
    def _next_op(self, prefix):
        """A fresh request id (``w3``, ``r2``): one more than any id with ``prefix`` in this run's inputs."""
        top = 0
        for entry in self.sim.log:
            args = entry.args
            if entry.name == "schedule" and len(args) > 1 and args[1] == "request":
                args = args[2:]
            elif entry.name != "request":
                continue
            msg = args[1] if len(args) > 1 else entry.kwargs.get("msg")
            op = getattr(msg, "op", "")
            if isinstance(op, str) and op.startswith(prefix) and op[len(prefix):].isdigit():
                top = max(top, int(op[len(prefix):]))
        return f"{prefix}{top + 1}"

    def _check_text(self, what, value, empty=True):
        if not isinstance(value, str) or (not empty and not value):
            need = "a string" if empty else "a non-empty string"
            raise BadParameter(f"{what} must be {need}; got {value!r}")

    def _send(self, node_id, make, prefix, at, client):
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        op = self._next_op(prefix)
        self._now_or_later(at, "request", node_id, make(op), client=client)
        return op

    def put(self, node_id, key, value, at=None, client="client"):
        """A client sets ``key`` to ``value`` (strings) on node ``node_id``, now or at tick ``at``; returns the op id."""
        self._check_text("a key", key, empty=False)
        self._check_text("a value", value)
        return self._send(node_id, lambda op: Put(op, key, value), "w", at, client)

    def append(self, node_id, key, suffix, at=None, client="client"):
        """A client appends ``suffix`` (a non-empty string) to ``key`` on ``node_id``; returns the op id."""
        self._check_text("a key", key, empty=False)
        self._check_text("an appended suffix", suffix, empty=False)
        return self._send(node_id, lambda op: Append(op, key, suffix), "w", at, client)

    def get(self, node_id, key, at=None, client="client"):
        """A client reads ``key`` on ``node_id``; returns the op id (the answer is a ``Value`` reply)."""
        self._check_text("a key", key, empty=False)
        return self._send(node_id, lambda op: Get(op, key), "r", at, client)

    def checkpoint(self, node_id, at=None, client="operator"):
        """An operator asks ``node_id`` to write a checkpoint now (or at tick ``at``)."""
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        return self._now_or_later(at, "request", node_id, TakeCheckpoint(), client=client)

    # ---- looking ------------------------------------------------------------------------
    def _running(self, node_id):
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        return self.sim.up[node_id]

    def store(self, node_id):
        """A copy of ``node_id``'s key-value store (``None`` while it is crashed)."""
        return dict(self.sim.nodes[node_id].store) if self._running(node_id) else None

    def stores(self):
        """Node id -> :meth:`store`."""
        return {i: self.store(i) for i in self.ids}

    def log(self, node_id):
        """Every record on ``node_id``'s stable storage, in order, torn ones included, as dicts.

        Keys: ``index`` (position on disk), ``type`` ("log", "checkpoint" or "other"), ``lsn``,
        ``record`` (as stored: a torn one is a :class:`fttoolkit.core.Torn`), ``torn``, ``valid``
        (whether its checksum verifies), and for a log record ``op``, ``kind``, ``key``, ``arg``;
        for a checkpoint ``store`` (a dict, as read back: garbled if torn).
        """
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        out = []
        for index, raw in enumerate(self.sim.disks[node_id]):
            record = read_record(raw)
            entry = {"index": index, "record": raw, "torn": isinstance(raw, Torn),
                     "valid": bool(getattr(record, "valid", False))}
            if isinstance(record, LogRecord):
                entry.update(type="log", lsn=record.lsn, op=record.op, kind=record.kind, key=record.key,
                             arg=record.arg)
            elif isinstance(record, Checkpoint):
                entry.update(type="checkpoint", lsn=record.lsn, store=dict(record.store))
            else:
                entry.update(type="other", lsn=None)
            out.append(entry)
        return out

    def checkpoints(self, node_id):
        """The checkpoint records on ``node_id``'s disk (entries of :meth:`log`), torn ones included."""
        return [e for e in self.log(node_id) if e["type"] == "checkpoint"]

    def role(self, node_id):
        """``"recovering"``, ``"serving"``, or ``None`` while crashed."""
        return self.sim.nodes[node_id].role if self._running(node_id) else None

    def recovery_report(self, node_id):
        """What ``node_id``'s latest recovery found (``None`` while it is crashed), as a dict.

        ``records`` (on disk at boot), ``checkpoint`` (the LSN of the checkpoint used, or
        ``None``) and ``checkpoint_index``, ``discarded`` (disk indexes of records whose checksum
        failed), ``redo`` (LSNs to replay), ``replayed``, ``skipped`` (LSNs already reflected),
        ``lsn`` (reached so far), ``began``, ``finished`` (tick, ``None`` while recovering),
        ``recovery_ticks`` (``finished - began``, or ``None``), ``recovering`` (bool) and
        ``reflected`` (the :class:`fttoolkit.algorithms.wal.Write` values the recovered store
        reflects, in log order).
        """
        if not self._running(node_id):
            return None
        node = self.sim.nodes[node_id]
        report = {k: (list(v) if isinstance(v, list) else v) for k, v in node.report.items()}
        report["recovering"] = node.role == "recovering"
        report["recovery_ticks"] = None if report["finished"] is None else report["finished"] - report["began"]
        return report

    def recovered(self, node_id):
        """The writes ``node_id``'s store reflected when its latest recovery ended, in log order
        (``None`` while crashed or still recovering)."""
        report = self.recovery_report(node_id)
        return None if report is None or report["recovering"] else list(report["reflected"])

    def _writes(self, node_id=None):
        if node_id is not None:
            self.sim._ensure_started()
            self.sim.network.check_node(node_id)
        out = []
        for event in self.trace:
            if event.kind == "request" and (node_id is None or event.node == node_id):
                write = as_write(event["msg"])
                if write is not None:
                    out.append((event.node, write))
        return out

    def submitted(self, node_id=None):
        """The writes clients submitted (to ``node_id``, or to any node), in submission order."""
        return [w for _, w in self._writes(node_id)]

    def acknowledged(self, node_id=None):
        """The submitted writes that were acknowledged, in submission order."""
        acked = {(e.node, e["msg"].op) for e in self.trace if e.kind == "reply" and isinstance(e["msg"], Ack)}
        return [w for n, w in self._writes(node_id) if (n, w.op) in acked]

    def history(self, node_id=None):
        """The clients' operations as :class:`fttoolkit.core.Operation` (``put``, ``append``, ``get``),
        by invocation; ``ret`` is ``None`` for one never answered."""
        calls, out = {}, []
        for event in self.trace:
            if event.kind == "request" and (node_id is None or event.node == node_id):
                msg = event["msg"]
                if isinstance(msg, (Put, Append, Get)):
                    calls[(event.node, msg.op)] = len(out)
                    write = as_write(msg)
                    kind, value = (write.kind, write.arg) if write else ("get", None)
                    out.append(Operation(event["client"], kind, msg.key, value, None, event.tick, None))
            elif event.kind == "reply" and (event.node, getattr(event["msg"], "op", None)) in calls:
                k = calls.pop((event.node, event["msg"].op))
                op = out[k]
                output = event["msg"].value if op.kind == "get" else None
                out[k] = Operation(op.client, op.kind, op.key, op.value, output, op.call, event.tick)
        return out

    # ---- liveness -----------------------------------------------------------------------
    def check_liveness(self):
        """The state checks, then a probe: on a copy of the cluster, a write to every node must be
        acknowledged within :attr:`probe_ticks` (this run is untouched)."""
        found = super().check_liveness()
        if found:
            return found
        probe = self._probe_copy()
        first = len(probe.trace)
        ops = {node_id: probe.put(node_id, "probe", "p", client="prober") for node_id in self.ids}
        probe.run(until=probe.now + self.probe_ticks)
        answered = {(e.node, e["msg"].op) for e in probe.trace[first:] if e.kind == "reply"}
        missing = [n for n, op in ops.items() if (n, op) not in answered]
        if missing:
            from ..core.invariants import Violation
            return [Violation("Serving", tuple(missing),
                              f"a write made at t={self.now} was not acknowledged within {self.probe_ticks} ticks "
                              f"by {', '.join(missing)}")]
        return []

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``put NODE KEY VALUE``, ``append NODE KEY SUFFIX``, ``get NODE KEY``, ``checkpoint NODE``."""
        from ..scenario import ScriptError
        arity = {"put": 3, "append": 3, "get": 2, "checkpoint": 1}[name]
        if len(args) != arity:
            raise ScriptError(f"line {line}: usage: {self.script_commands[name]}")
        getattr(self, name)(*args, at=at)

    def workload(self, until, requests=3):
        """Schedule ``requests`` client operations at random ticks before ``until``, on random nodes.

        Half are appends, a third puts, the rest reads, on the keys x, y and z.  Every value is
        unique (``v7``, ``+7``), so a write applied twice or a garbled one shows in the store.
        Half of the operations come in bursts (within 3 ticks of the previous one, on the same
        node), so that group commit gathers several writes into one storage write.
        """
        rng = self.sim.streams.workload
        latest = max(until, 0)
        plan = []
        for _ in range(requests):
            if plan and rng.random() < 0.5:
                tick, node_id = min(latest, plan[-1][0] + rng.randint(0, 3)), plan[-1][1]
            else:
                tick, node_id = rng.randint(0, latest), rng.choice(self.ids)
            plan.append((tick, node_id, rng.random(), rng.choice("xyz")))
        plan.sort(key=lambda item: item[0])
        for k, (tick, node_id, draw, key) in enumerate(plan, start=1):
            at = max(tick, self.now)
            if draw < 0.5:
                self.append(node_id, key, f"+{k}", at=at)
            elif draw < 0.83:
                self.put(node_id, key, f"v{k}", at=at)
            else:
                self.get(node_id, key, at=at)



#: ``FailureRecovery(model=...)`` names: the two models of Chapter 3.
MODELS = ("wal", "primary-backup")


def FailureRecovery(model="wal", **kwargs):
    """The seed's front door for failure recovery: ``model`` is "wal" or "primary-backup".

    Returns a :class:`WriteAheadLog` (one node that survives crashes with a write-ahead
    log, checkpoints and idempotent redo) or a
    :class:`~fttoolkit.doors.primary_backup.PrimaryBackup` (replicas with failover,
    epochs, fencing, leases and catch-up), built with ``kwargs`` (``nodes``, ``seed``,
    network settings, parameters).  Raises :class:`fttoolkit.BadParameter` for another
    model.

    Examples
    --------
    >>> FailureRecovery("primary-backup", nodes=3, seed=1).name
    'primary-backup'
    >>> FailureRecovery(seed=1).name
    'wal'

    Notes
    -----
    The seed article's ``FailureRecovery`` "discovers, recovers and reconnects" a failed
    node; Chapter 3 does each properly: detection (Chapter 2), recovery from stable
    storage (Haerder & Reuter 1983; Mohan et al., "ARIES", 1992), and reconnection with
    epochs, fencing and catch-up (Budhiraja et al., "The Primary-Backup Approach", 1993).
    """
    if model == "wal":
        return WriteAheadLog(**kwargs)
    if model == "primary-backup":
        return PrimaryBackup(**kwargs)
    raise BadParameter(f"unknown recovery model {model!r}; models: {', '.join(MODELS)}")


FailureRecovery.models = MODELS
