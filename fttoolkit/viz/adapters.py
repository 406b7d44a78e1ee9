"""View adapters: how each algorithm's nodes look in the cluster view.

The protocol code knows nothing about pictures.  An adapter reads a node's
state and says how to draw it: its fill and shape (usually by role), a short
caption under it, a badge for what it is collecting (votes, acknowledgements),
and the full state for the detail panel.  One small class per algorithm,
registered for its node class.

Examples
--------
>>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
>>> adapter = adapter_for(BroadcastNode)
>>> type(adapter).__name__, adapter.message_types
('BroadcastView', ('BroadcastRequest', 'Rumor', 'Ack'))
>>> node = BroadcastNode("n1", peers=("n2", "n3"))
>>> _ = node.start([]); _ = node.handle_message(BroadcastRequest("hi"), "client")
>>> adapter.caption(node), adapter.badge(node)
('delivered 1', 'waits for 2 acks')
"""

import inspect

from ..algorithms.broadcast import BroadcastNode
from ..algorithms.heartbeat import HeartbeatNode
from ..algorithms.multipaxos import MultiPaxosNode
from ..algorithms.paxos import PaxosNode
from ..algorithms.primary_backup import PrimaryBackupNode, WriteReply
from ..algorithms.quorum_kv import QuorumNode
from ..algorithms.raft import RaftNode
from ..algorithms.swim import SwimNode
from ..algorithms.threepc import ThreePCNode
from ..algorithms.twopc import TwoPCNode
from ..algorithms.wal import Ack as WalAck, Checkpoint, LogRecord, WalNode, read_record
from ..core.intentions import Torn
from ..core.messages import Message
from .style import ROLE_COLOURS

__all__ = ["ViewAdapter", "BroadcastView", "RaftView", "PaxosView", "MultiPaxosView", "TransactionView",
           "TwoPhaseCommitView", "ThreePhaseCommitView", "DetectorView", "HeartbeatView", "SwimView", "WalView", "QuorumView", "PrimaryBackupView", "Table", "Cell",
           "adapter_for", "register_adapter"]

_ADAPTERS = {}


class Cell:
    """One cell of a :class:`Table`: its text, a mark that says how to show it, and a tooltip.

    Marks: ``""`` (plain), ``"good"`` (done: committed, delivered), ``"odd"``
    (disagrees with another node), ``"faded"`` (a crashed node's state).
    """

    __slots__ = ("text", "mark", "tip")

    def __init__(self, text, mark="", tip=""):
        self.text, self.mark, self.tip = str(text), mark, str(tip)

    def __repr__(self):
        return f"{self.text}[{self.mark}]" if self.mark else self.text


class Table:
    """An algorithm's own table for the view (Raft logs, 2PC logs, acceptor state...).

    Attributes
    ----------
    title : str
    columns : list of str
        Column headers; the first column holds the row names.
    rows : list of list
        One list of cells (:class:`Cell` or plain text) per row, first the row name.
    legend : str
        One line saying what the marks mean.
    """

    def __init__(self, title, columns, rows, legend=""):
        self.title, self.columns, self.rows, self.legend = title, list(columns), [list(r) for r in rows], legend

    def cell(self, row, column):
        """The cell in the row named ``row`` under the header ``column`` (a :class:`Cell`)."""
        k = self.columns.index(column)
        for cells in self.rows:
            name = cells[0].text if isinstance(cells[0], Cell) else str(cells[0])
            if name == row:
                value = cells[k]
                return value if isinstance(value, Cell) else Cell(value)
        raise KeyError(row)

    def __repr__(self):
        return f"<Table {self.title!r}: {len(self.rows)} rows x {len(self.columns)} columns>"


def register_adapter(node_class):
    """Class decorator: use this adapter for ``node_class`` and its subclasses."""
    def decorate(adapter_class):
        _ADAPTERS[node_class] = adapter_class
        return adapter_class
    return decorate


def adapter_for(node_class):
    """Return an adapter instance for ``node_class`` (the generic one if none is registered)."""
    for cls in node_class.__mro__:
        if cls in _ADAPTERS:
            return _ADAPTERS[cls](node_class)
    return ViewAdapter(node_class)


class ViewAdapter:
    """The generic look: one shape, fill by role, no caption or badge.

    Subclasses override what they need.  Every method receives a running
    node's object; the view draws crashed nodes itself.

    Parameters
    ----------
    node_class : type
        The protocol's node class.
    """

    #: Message type names in legend order (default: the module's Message classes).
    message_types = ()
    #: role -> (fill colour, marker); roles not listed get colours in order of appearance.
    role_styles = {}
    #: Marker of a node whose role has no style of its own.
    default_marker = "o"

    def __init__(self, node_class):
        self.node_class = node_class
        if not self.message_types:
            module = inspect.getmodule(node_class)
            found = [obj.__name__ for obj in vars(module).values()
                     if isinstance(obj, type) and issubclass(obj, Message) and obj is not Message
                     and obj.__module__ == module.__name__]
            self.message_types = tuple(found)
        self._roles = dict(self.role_styles)

    def role(self, node):
        """The node's role, or ``None``."""
        return node.role

    def style(self, node):
        """``(fill colour, marker)`` of a running node."""
        role = self.role(node)
        style = self._roles.get(role)
        if style is None:
            style = (ROLE_COLOURS[len(self._roles) % len(ROLE_COLOURS)], self.default_marker)
            self._roles[role] = style
        return style

    def caption(self, node):
        """A short line under the node (its role, by default)."""
        role = self.role(node)
        return None if role is None else str(role)

    def badge(self, node):
        """A short count of what the node is collecting (votes, acks), or ``None``."""
        return None

    def details(self, node):
        """The node's full state for the detail panel: name -> value."""
        return node.state()

    def progress(self, node, timers, now):
        """How far a timer that matters is from going off, as a fraction from 0 to 1, or ``None``.

        ``timers`` are the node's armed timers (``timer``, ``set_at``, ``due``); the
        view draws the fraction as a ring filling up around the node.
        """
        return None

    def table(self, sim):
        """The algorithm's own table of the whole cluster now (a :class:`Table`), or ``None``.

        Crashed nodes keep the state they had when they crashed (``sim.nodes``);
        show it faded.
        """
        return None


@register_adapter(BroadcastNode)
class BroadcastView(ViewAdapter):
    """Flooding broadcast: how many messages each node delivered, and the acks it waits for."""

    message_types = ("BroadcastRequest", "Rumor", "Ack")

    def caption(self, node):
        return f"delivered {len(node.delivered)}"

    def badge(self, node):
        waiting = sum(len(targets) for targets in node.unacked.values())
        if not waiting:
            return None
        return f"waits for {waiting} ack{'s' if waiting != 1 else ''}"

    def table(self, sim, limit=16):
        """Messages (columns, by id) by node: delivered (good), or still waiting for acks."""
        ids = sorted({m for i in sim.ids for m in sim.nodes[i].seen}, key=_message_order)[-limit:]
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            row = [Cell(node_id, "" if up else "faded", "" if up else "crashed")]
            for m in ids:
                if m in node.delivered:
                    waiting = len(node.unacked.get(m, ()))
                    text = f"{node.seen[m]}" + (f" ({waiting})" if waiting else "")
                    row.append(Cell(text, "good" if up else "faded",
                                    f"delivered; waits for {waiting} acks" if waiting else "delivered"))
                else:
                    row.append(Cell("·", "faded" if not up else ""))
            rows.append(row)
        return Table("Delivered messages by node", ["node"] + ids, rows,
                     "value delivered (acks still awaited) · · not yet")


@register_adapter(RaftNode)
class RaftView(ViewAdapter):
    """Raft: role as fill and shape, the term under each node, votes or the commit index as a badge."""

    message_types = ("RequestVote", "RequestVoteReply", "AppendEntries", "AppendEntriesReply", "PreVote",
                     "PreVoteReply", "ClientRequest", "ClientReply")
    role_styles = {"follower": ("#DCEBF7", "o"), "pre-candidate": ("#FFF4C2", "D"),
                   "candidate": ("#FBE3C0", "D"), "leader": ("#BFE6D4", "s")}

    def caption(self, node):
        return f"term {node.current_term} \u00b7 log {node.last_index}"

    def badge(self, node):
        if node.role in ("candidate", "pre-candidate"):
            return f"votes {len(node.votes)}/{node.majority}"
        if node.role == "leader":
            return f"commit {node.commit_index}"
        return None

    def progress(self, node, timers, now):
        """The election timer of a follower or candidate: the ring closes when it goes off (§5.2)."""
        if node.role == "leader":
            return None
        for armed in timers:
            if type(armed.timer).__name__ == "ElectionTimeout" and armed.due > armed.set_at:
                return min(max((now - armed.set_at) / (armed.due - armed.set_at), 0.0), 1.0)
        return None

    def table(self, sim, limit=18):
        """The logs: one row per node, one column per index; committed entries marked.

        A cell shows the entry's term; it is marked ``good`` when the node knows it
        committed, ``odd`` when another node holds a different entry at that index
        (what a new leader will overwrite, Raft §5.3).  The latest ``limit``
        indexes are shown.
        """
        logs = {i: sim.nodes[i].log for i in sim.ids}
        last = max((len(log) for log in logs.values()), default=0)
        first = max(1, last - limit + 1)
        columns = ["node", "term", "commit"] + [str(k) for k in range(first, last + 1)]
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            log = logs[node_id]
            commit = node.commit_index if up else "–"
            row = [Cell(node_id, "" if up else "faded", "" if up else "crashed: its log is on its disk"),
                   Cell(node.current_term, "" if up else "faded"), Cell(commit, "" if up else "faded")]
            for k in range(first, last + 1):
                if k > len(log):
                    row.append(Cell(""))
                    continue
                entry = log[k - 1]
                differs = any(len(other) >= k and other[k - 1] != entry for other in logs.values())
                mark = "faded" if not up else "good" if k <= node.commit_index else "odd" if differs else ""
                row.append(Cell(entry.term, mark, repr(entry)))
            rows.append(row)
        return Table("Logs by index (cell = entry's term)", columns, rows,
                     "green: committed (as this node knows) · orange: differs from another node's entry "
                     "· grey: crashed")


def _ballot(ballot):
    """A ballot ``(round, node)`` as ``b2.n3``."""
    return f"b{ballot[0]}.{ballot[1]}"


def _short_value(value, limit=10):
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, tuple) and value and value[0] == "noop":
        text = "noop"
    elif isinstance(value, tuple):
        text = " ".join(str(v) for v in value)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


@register_adapter(PaxosNode)
class PaxosView(ViewAdapter):
    """Single-decree Paxos: each acceptor's promise and accepted proposal, each proposer's phase and
    counts, and the value once it is learned (Lamport, "Paxos Made Simple", 2001)."""

    message_types = ("Propose", "Prepare", "Promise", "Accept", "Accepted", "Nack")
    role_styles = {"acceptor": ("#DCEBF7", "o"), "proposer": ("#FBE3C0", "D")}

    def style(self, node):
        fill, marker = super().style(node)
        return ("#BFE6D4", marker) if node.learned is not None else (fill, marker)

    def caption(self, node):
        if node.accepted is None:
            return "promised nothing" if node.promised is None else f"promised {_ballot(node.promised)}"
        ballot, value = node.accepted
        text = f"accepted {_short_value(value)}@{_ballot(ballot)}"
        if node.promised is not None and node.promised != ballot:
            text = f"{_short_value(value)}@{_ballot(ballot)}, promised {_ballot(node.promised)}"
        return text

    def badge(self, node):
        if node.phase == "prepare":
            return f"{_short_value(node.proposal)}: promises {len(node.promises)}/{node.majority}"
        if node.phase == "accept":
            return f"{_short_value(node.proposal)}: accepts {len(node.accepts)}/{node.majority}"
        if node.learned is not None:
            return f"learned {_short_value(node.learned)}"
        return None

    def table(self, sim):
        """Acceptors' promises and accepted proposals, proposers' phases, learners' values."""
        rows = []
        learned = {sim.nodes[i].learned for i in sim.ids if sim.nodes[i].learned is not None}
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            faded = "" if up else "faded"
            accepted = node.accepted
            value_mark = faded or ("good" if accepted is not None and accepted[1] in learned else "")
            rows.append([
                Cell(node_id, faded, "" if up else "crashed: promise and accepted proposal are on its disk"),
                Cell("-" if node.promised is None else _ballot(node.promised), faded),
                Cell("-" if accepted is None else _ballot(accepted[0]), faded),
                Cell("-" if accepted is None else _short_value(accepted[1], 16), value_mark),
                Cell(node.phase if up else "\u2013", faded),
                Cell("-" if node.ballot is None or not up else _ballot(node.ballot), faded),
                Cell("-" if node.proposal is None or not up else _short_value(node.proposal, 16), faded),
                Cell("-" if node.learned is None or not up else _short_value(node.learned, 16),
                     faded or ("good" if node.learned is not None else "")),
            ])
        return Table("Acceptors, proposers and learners",
                     ["node", "promised", "accepted ballot", "accepted value", "phase", "ballot", "proposing",
                      "learned"], rows, "green: the value learned \u00b7 grey: crashed")


@register_adapter(MultiPaxosNode)
class MultiPaxosView(ViewAdapter):
    """Multi-Paxos: the leader and its ballot, and a slot table (what each acceptor accepted per slot)."""

    message_types = ("Request", "Reply", "Prepare", "Promise", "Accept", "Accepted", "Nack", "Decide", "Heartbeat",
                     "CatchUp")
    role_styles = {"follower": ("#DCEBF7", "o"), "candidate": ("#FBE3C0", "D"), "leader": ("#BFE6D4", "s")}

    def caption(self, node):
        promised = "no promise" if node.promised is None else _ballot(node.promised)
        return f"{promised} \u00b7 applied {node.applied}"

    def badge(self, node):
        if node.role == "leader":
            return f"chosen {len(node.chosen)}"
        return None

    def table(self, sim, limit=16):
        """Slots (columns) by node: the value each accepted; green once that node knows it chosen,
        orange where two nodes accepted different values in a slot."""
        slots = sorted({s for i in sim.ids for s in sim.nodes[i].accepted} |
                       {s for i in sim.ids for s in sim.nodes[i].chosen})[-limit:]
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            row = [Cell(node_id, "" if up else "faded", "" if up else "crashed"),
                   Cell(node.applied if up else "\u2013", "" if up else "faded")]
            for slot in slots:
                got = node.accepted.get(slot)
                if got is None:
                    row.append(Cell(_short_value(node.chosen[slot]) if slot in node.chosen else "",
                                    "good" if up and slot in node.chosen else "faded" if not up else ""))
                    continue
                ballot, value = got
                differs = any(sim.nodes[o].accepted.get(slot, (None, value))[1] != value for o in sim.ids)
                mark = "faded" if not up else "good" if slot in node.chosen else "odd" if differs else ""
                row.append(Cell(_short_value(value), mark, f"slot {slot}: {value!r}, accepted in ballot {_ballot(ballot)}"))
            rows.append(row)
        return Table("Slots (cell = accepted value)", ["node", "applied"] + [str(s) for s in slots], rows,
                     "green: known chosen \u00b7 orange: differs from another acceptor \u00b7 grey: crashed")


_TXN_FILLS = {"working": "#DCEBF7", "collecting": "#DCEBF7", "prepared": "#FBE3C0", "precommitted": "#FFF4C2",
              "precommitting": "#FFF4C2", "committed": "#BFE6D4", "ended": "#BFE6D4", "aborted": "#E6E6E6"}


def _latest(txns):
    """The most recent transaction a node knows of, and its state (``(None, None)`` if none)."""
    if not txns:
        return None, None
    txn = max(txns, key=lambda t: (len(str(t)), str(t)))
    return txn, txns[txn]


class TransactionView(ViewAdapter):
    """Atomic commitment (2PC, 3PC): each node coloured by the state of its latest transaction; the
    coordinator's votes; a participant's uncertainty and the locks it holds (the blocking window)."""

    role_styles = {"coordinator": ("#E8E0F0", "s"), "participant": ("#DCEBF7", "o")}

    def style(self, node):
        _, marker = super().style(node)
        _, state = _latest(node.txns)
        return _TXN_FILLS.get(state, "#DCEBF7"), marker

    def caption(self, node):
        txn, state = _latest(node.txns)
        if txn is None:
            return node.role
        locks = len(getattr(node, "locks", {}) or {})
        return f"{txn}: {state}" + (f" \u00b7 {locks} lock{'s' if locks != 1 else ''}" if locks else "")

    def badge(self, node):
        txn, state = _latest(node.txns)
        if node.role == "coordinator" and state == "collecting":
            votes = getattr(node, "votes", {}).get(txn, {})
            yes = sum(1 for v in votes.values() if v)
            # out of the transaction's participants (2PC calls them members, 3PC sites)
            asked = getattr(node, "members", {}).get(txn) or getattr(node, "sites", {}).get(txn) or votes
            return f"votes {yes} yes/{len(asked)}"
        uncertain = [t for t, s in node.txns.items() if s in ("prepared", "precommitted")]
        if node.role == "participant" and uncertain:
            return f"uncertain: {', '.join(map(str, uncertain[:2]))}"
        return None

    def table(self, sim, limit=8):
        """Transactions (columns) by node: the state each node knows; orange while uncertain."""
        txns = sorted({t for i in sim.ids for t in sim.nodes[i].txns}, key=lambda t: (len(str(t)), str(t)))[-limit:]
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            faded = "" if up else "faded"
            row = [Cell(node_id, faded, "" if up else "crashed: its log is on its disk")]
            for txn in txns:
                state = node.txns.get(txn, "")
                mark = faded or {"committed": "good", "ended": "good", "prepared": "odd",
                                 "precommitted": "odd"}.get(state, "")
                row.append(Cell(state, mark))
            locks = getattr(node, "locks", {}) or {}
            row.append(Cell(", ".join(f"{k}:{t}" for k, t in sorted(locks.items())) or "-", faded))
            disk = sim.disks.get(node_id, [])
            row.append(Cell(_short_value(disk[-1], 28) if disk else "-", faded, f"{len(disk)} log records"))
            rows.append(row)
        return Table("Transactions by node", ["node"] + [str(t) for t in txns] + ["locks", "last log record"], rows,
                     "green: committed \u00b7 orange: voted yes, uncertain (blocking if the coordinator is down) "
                     "\u00b7 grey: crashed")


@register_adapter(TwoPCNode)
class TwoPhaseCommitView(TransactionView):
    """Two-phase commit (Gray 1978)."""

    message_types = ("Begin", "Prepare", "Vote", "Commit", "Abort", "Ack", "DecisionRequest", "Refuse")


@register_adapter(ThreePCNode)
class ThreePhaseCommitView(TransactionView):
    """Three-phase commit (Skeen 1981): a precommitted participant is still uncertain, in orange."""

    message_types = ("Begin", "CanCommit", "Vote", "PreCommit", "PreAck", "DoCommit", "HaveCommitted", "Abort",
                     "StateReq", "StateReply", "Done")


_STATUS_MARKS = {"alive": "good", "suspected": "odd", "dead": "faded"}


class DetectorView(ViewAdapter):
    """Failure detectors: each node's view of the others (alive / suspected / dead) and, for the φ
    detector, φ per monitored node."""

    role_styles = {None: ("#DCEBF7", "o"), "monitor": ("#E8E0F0", "s"), "member": ("#DCEBF7", "o")}

    def role(self, node):
        return getattr(node, "role", None)

    def style(self, node):
        fill, marker = super().style(node)
        suspected = [m for m, s in node.status.items() if s != "alive"]
        return ("#FBE3C0" if suspected else fill), marker

    def caption(self, node):
        suspected = sorted((m for m, s in node.status.items() if s == "suspected"), key=_id_order)
        dead = sorted((m for m, s in node.status.items() if s == "dead"), key=_id_order)
        parts = []
        if suspected:
            parts.append("suspects " + ",".join(suspected[:3]) + ("\u2026" if len(suspected) > 3 else ""))
        if dead:
            parts.append("dead " + ",".join(dead[:3]) + ("\u2026" if len(dead) > 3 else ""))
        return " \u00b7 ".join(parts) or "trusts all"

    def _cell(self, sim, observer, member, now):
        node = sim.nodes[observer]
        state = node.status.get(member)
        if state is None:
            return Cell("")
        text = {"alive": "ok", "suspected": "susp", "dead": "dead"}.get(state, state)
        phi = getattr(node, "phi", None)
        if callable(phi) and getattr(node, "intervals", {}).get(member):
            value = phi(member, now)
            text = "\u221e" if value == float("inf") else f"{value:.1f}"
        return Cell(text, _STATUS_MARKS.get(state, "") if sim.up[observer] else "faded", f"{observer} sees {member}: {state}")

    def table(self, sim, limit=12):
        """Rows: observers; columns: members; each cell is what that observer believes (φ for the φ detector)."""
        members = list(sim.ids)[:limit]
        rows = []
        for observer in sim.ids[:limit]:
            up = sim.up[observer]
            row = [Cell(observer, "" if up else "faded", "" if up else "crashed")]
            for member in members:
                row.append(Cell("\u00b7") if member == observer else self._cell(sim, observer, member, sim.now))
            rows.append(row)
        return Table("What each node believes about the others (rows observe columns)", ["observer"] + members, rows,
                     "green: alive \u00b7 orange: suspected \u00b7 grey: dead or crashed observer \u00b7 numbers: \u03c6")


def _id_order(node_id):
    digits = "".join(c for c in str(node_id) if c.isdigit())
    return (int(digits) if digits else 0, str(node_id))


@register_adapter(HeartbeatNode)
class HeartbeatView(DetectorView):
    """Heartbeat and φ accrual detectors: arrivals as arrows, suspicions on the nodes, φ in the table."""

    message_types = ("Heartbeat", "Ping", "Pong")


@register_adapter(SwimNode)
class SwimView(DetectorView):
    """SWIM: probe (Ping), indirect probe (PingReq) and Ack arrows; each member's incarnation, the
    updates it is gossiping, and what it believes about the others."""

    message_types = ("Ping", "PingReq", "Ack")

    def caption(self, node):
        return f"inc {node.incarnation} \u00b7 " + super().caption(node)

    def badge(self, node):
        if node.target is not None:
            return f"probes {node.target}"
        return None

    def details(self, node):
        out = dict(node.state())
        out["gossip (piggybacked)"] = list(node.updates)[:8] if node.updates else []
        return out


def _message_order(msg_id):
    origin, _, number = str(msg_id).partition(":")
    return (int(number) if number.isdigit() else 0, origin)


# ---------------------------------------------------------------------------------- failure recovery
def _wal_record_cell(record, node, up):
    """One record of a write-ahead log on disk as a table cell (see :class:`WalView`)."""
    parsed = read_record(record)
    if isinstance(record, Torn) or not getattr(parsed, "valid", False):
        what = "torn" if isinstance(record, Torn) else "bad checksum"
        return Cell(f"{what}", "odd", f"{what}: recovery discards it ({_short_value(record, 60)})")
    if isinstance(parsed, Checkpoint):
        return Cell(f"CKPT \u2264{parsed.lsn}", "faded" if not up else "",
                    f"checkpoint of the store up to LSN {parsed.lsn}: {_short_value(dict(parsed.store), 60)}")
    if isinstance(parsed, LogRecord):
        op = "=" if parsed.kind == "put" else "+="
        text = f"{parsed.lsn} {parsed.key}{op}{_short_value(parsed.arg, 6)}"
        tip = f"LSN {parsed.lsn}: {parsed.kind} {parsed.key} {parsed.arg!r} (client op {parsed.op})"
        if not up:
            return Cell(text, "faded", tip)
        if parsed.lsn <= node.checkpoint_lsn:
            return Cell(text, "faded", tip + "; covered by the checkpoint")
        if parsed.lsn <= node.applied_lsn:
            return Cell(text, "good", tip + "; applied")
        return Cell(text, "", tip + "; still to redo")
    return Cell(_short_value(record, 10), "faded")


@register_adapter(WalNode)
class WalView(ViewAdapter):
    """Crash recovery with a write-ahead log: each node's role (recovering or serving), how far its
    store reflects the log (applied LSN), and its disk: the log tail with the checkpoint mark, torn
    records in orange, and the writes the client saw acknowledged."""

    role_styles = {"serving": ("#DCEBF7", "o"), "recovering": ("#FBE3C0", "o")}
    message_types = ("Put", "Append", "Get", "TakeCheckpoint", "Ack", "Value")

    def caption(self, node):
        if node.role == "recovering":
            left = len(node.redo)
            return f"recovering \u00b7 {left} to redo" if left else "recovering"
        return f"serving \u00b7 LSN {node.applied_lsn}"

    def badge(self, node):
        if node.buffer:
            return f"{len(node.buffer)} in group commit"
        if node.checkpoint_lsn:
            return f"checkpoint \u2264{node.checkpoint_lsn}"
        return None

    def table(self, sim, limit=8):
        """Rows: nodes. Columns: role, applied LSN, acknowledged writes, then the last records on disk."""
        acked = {}
        for event in sim.trace:
            if event.kind == "reply" and isinstance(event["msg"], WalAck):
                acked[event.node] = acked.get(event.node, 0) + 1
        width = min(limit, max((len(sim.disks.get(i, [])) for i in sim.ids), default=0))
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            faded = "" if up else "faded"
            disk = sim.disks.get(node_id, [])
            row = [Cell(node_id, faded, "" if up else "crashed: memory lost, the disk survives"),
                   Cell(node.role if up else "crashed", faded or ("odd" if node.role == "recovering" else "")),
                   Cell(str(node.applied_lsn) if up else "-", faded, "the last LSN the store reflects"),
                   Cell(str(acked.get(node_id, 0)), faded, "writes acknowledged to clients")]
            tail = disk[-width:] if width else []
            row += [Cell("")] * (width - len(tail)) + [_wal_record_cell(r, node, up) for r in tail]
            rows.append(row)
        first = max((len(sim.disks.get(i, [])) for i in sim.ids), default=0) - width
        columns = ["node", "role", "applied", "acked"] + [f"#{first + k}" for k in range(width)]
        return Table("Each node's disk: the tail of its write-ahead log", columns, rows,
                     "green: applied to the store \u00b7 grey: covered by the checkpoint (or crashed) \u00b7 "
                     "white: still to redo \u00b7 orange: torn or bad checksum, discarded")


# ---------------------------------------------------------------------------------- quorum store
def _version_text(version):
    counter, writer = version
    return f"{counter}.{writer}"


@register_adapter(QuorumNode)
class QuorumView(ViewAdapter):
    """A quorum-replicated store: what each coordinator is collecting (replies out of R, acks out of W),
    and a table of every replica's version of every key, stale copies in orange."""

    role_styles = {"replica": ("#DCEBF7", "o")}
    message_types = ("Get", "Put", "Read", "ReadReply", "Write", "WriteAck", "Repair", "GetOk", "PutOk", "Refused")

    def caption(self, node):
        return f"{len(node.store)} key{'s' if len(node.store) != 1 else ''} \u00b7 clock {node.clock}"

    def badge(self, node):
        busy = [(op, p) for op, p in node.pending.items() if not p["answered"]]
        if not busy:
            return None
        op, p = busy[-1]
        if p["phase"] == "read":
            return f"{p['kind']} {p['key']}: {len(p['replies'])}/{node.r} replies"
        return f"put {p['key']}: {len(p['acks'])}/{node.w} acks"

    def table(self, sim, limit=10):
        """Rows: replicas; columns: keys; each cell the value and its version (counter.writer)."""
        keys = sorted({k for i in sim.ids for k in sim.nodes[i].store}, key=str)[:limit]
        newest = {k: max((sim.nodes[i].store[k][0] for i in sim.ids if k in sim.nodes[i].store), default=None)
                  for k in keys}
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            row = [Cell(node_id, "" if up else "faded", "" if up else "crashed: its copies are on its disk")]
            for key in keys:
                if key not in node.store:
                    row.append(Cell("-", "faded" if not up else "odd", f"{node_id} has no copy of {key}"))
                    continue
                version, value = node.store[key]
                fresh = version == newest[key]
                mark = "faded" if not up else ("good" if fresh else "odd")
                row.append(Cell(f"{_short_value(value, 8)} @{_version_text(version)}", mark,
                                f"{key} = {value!r}, version {version}" + ("" if fresh else " (stale copy)")))
            rows.append(row)
        return Table("Each replica's copy of each key (value @ version)", ["replica"] + [str(k) for k in keys], rows,
                     "green: the newest version of that key \u00b7 orange: stale or missing copy \u00b7 grey: crashed")


# ---------------------------------------------------------------------------------- primary-backup
@register_adapter(PrimaryBackupNode)
class PrimaryBackupView(ViewAdapter):
    """Primary-backup replication with failover: each node's role and epoch, the coordinator's
    configuration, the primary's lease, and a table of every replica's log by LSN with the writes
    the clients saw acknowledged, divergent entries in orange."""

    role_styles = {"primary": ("#BFE6D4", "s"), "backup": ("#DCEBF7", "o"),
                   "recovering": ("#FBE3C0", "o"), "coordinator": ("#E8E0F0", "D")}
    message_types = ("Write", "Read", "WriteReply", "ReadReply", "Replicate", "Stored", "StaleEpoch",
                     "Configuration", "Heartbeat", "LeaseGrant", "AddMember", "CatchUpRequest", "Snapshot")

    def caption(self, node):
        if node.is_coordinator:
            return f"epoch {node.epoch} \u00b7 primary {node.primary or '-'}"
        return f"{node.role} \u00b7 e{node.epoch} \u00b7 LSN {node.last_lsn}"

    def badge(self, node):
        if node.is_coordinator:
            if node.waiting_note:
                return "waits out the lease"
            return "suspects the primary" if node.suspected else None
        if node.role == "primary":
            if not node.ready:
                return "taking over"
            return "holds a lease" if node.lease_until is not None else None
        if node.role == "recovering":
            return "catching up"
        return None

    def table(self, sim, limit=10):
        """Rows: replicas; columns: role, epoch, commit point, acknowledged writes, then log entries by LSN."""
        replicas = [i for i in sim.ids if not sim.nodes[i].is_coordinator]
        acked, epochs_acked = {}, {}
        for event in sim.trace:
            msg = event["msg"] if event.kind == "reply" else None
            if isinstance(msg, WriteReply) and msg.ok:
                acked[msg.lsn] = acked.get(msg.lsn, set()) | {msg.wid}
                epochs_acked[msg.wid] = msg.epoch
        top = max((sim.nodes[i].last_lsn for i in replicas), default=0)
        lsns = list(range(max(1, top - limit + 1), top + 1))
        at = {lsn: {(sim.nodes[i].log[lsn].epoch, sim.nodes[i].log[lsn].wid)
                    for i in replicas if lsn in sim.nodes[i].log} for lsn in lsns}
        rows = []
        for node_id in replicas:
            node, up = sim.nodes[node_id], sim.up[node_id]
            faded = "" if up else "faded"
            row = [Cell(node_id, faded, "" if up else "crashed: its log is on its disk"),
                   Cell(node.role if up else "crashed", faded), Cell(str(node.epoch), faded),
                   Cell(str(node.commit_lsn), faded, "entries up to here are committed")]
            for lsn in lsns:
                entry = node.log.get(lsn)
                if entry is None:
                    text = "snap" if lsn <= node.base_lsn else ""
                    row.append(Cell(text, "faded" if text else "", "in its checkpoint or snapshot" if text else ""))
                    continue
                tip = f"LSN {lsn}, epoch {entry.epoch}: {entry.wid} {entry.key}={entry.value!r}"
                if entry.wid in acked.get(lsn, ()):
                    tip += " (acknowledged to the client)"
                if not up:
                    mark = "faded"
                elif len(at[lsn]) > 1:
                    mark, tip = "odd", tip + "; replicas disagree at this LSN"
                elif lsn <= node.commit_lsn:
                    mark = "good"
                else:
                    mark = ""
                row.append(Cell(f"{entry.key}={_short_value(entry.value, 5)} e{entry.epoch}", mark, tip))
            rows.append(row)
        ack_row = [Cell("clients"), Cell("acked"), Cell(""), Cell("")]
        for lsn in lsns:
            wids = sorted(acked.get(lsn, ()))
            held = {wid for _, wid in at[lsn]}
            lost = [w for w in wids if w not in held]
            tip = "writes acknowledged to clients at this LSN"
            if len(wids) > 1:
                tip += "; by two primaries: split brain"
            if lost:
                tip += f"; no replica holds {', '.join(lost)} any more: lost"
            ack_row.append(Cell(",".join(wids), "odd" if len(wids) > 1 or lost else ("good" if wids else ""), tip))
        rows.append(ack_row)
        return Table("Each replica's log by LSN (key=value, epoch), and what the clients saw acknowledged",
                     ["node", "role", "epoch", "commit"] + [str(lsn) for lsn in lsns], rows,
                     "green: committed \u00b7 orange: replicas disagree, or an acknowledged write is lost or doubled "
                     "\u00b7 grey: crashed, or in a snapshot")
