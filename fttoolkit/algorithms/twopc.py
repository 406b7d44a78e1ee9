"""Two-phase commit: a transaction commits at every participant, or at none.

The code follows Gray, "Notes on Data Base Operating Systems" (1978, §5.8.3
"Two-phase commit"), with the presumed-abort rule for a coordinator that
recovers without a decision, and the cooperative termination protocol
discussed in Gray & Lamport, "Consensus on Transaction Commit" (2006, §3).

One node is the **coordinator** (``n1`` unless the parameter ``coordinator``
says otherwise); every other node is a **participant** holding a small
key-value store.  A client asks the coordinator to run a transaction
(:class:`Begin`); then

* phase 1: the coordinator sends :class:`Prepare` to every participant the
  transaction writes to.  A participant that can commit locks the keys,
  *forces* a prepared record ``("prepared", txn, writes)`` to stable storage
  and only then votes :class:`Vote` ``yes``; from then on it is *uncertain*: it
  may neither commit nor abort on its own.  One that cannot (a key locked by
  another transaction, or a refusal injected with :class:`Refuse`) writes an
  abort record and votes no;
* phase 2: with every vote yes, the coordinator forces ``("commit", txn,
  participants)`` to its log and sends :class:`Commit`; with a no vote (or when
  votes are missing after ``timeout_ticks``) it forces ``("abort", txn,
  participants)`` and sends :class:`Abort`.  The decision is taken at the
  instant the record reaches the log.  Participants write ``("commit", txn)``
  (applying the writes) or ``("abort", txn)``, release their locks and reply
  :class:`Ack`; with every ack in, the coordinator writes ``("end", txn)``.

Recovery: a participant restarted with a prepared record and no decision is
uncertain again, holds its locks again, and asks with
:class:`DecisionRequest` (the coordinator, and with ``cooperative=True`` every
other participant, any of which that knows the outcome, or has not voted and
so can still abort, answers).  A restarted coordinator re-sends every logged
decision not yet ended, and answers *abort* for a transaction it has no
decision for (presumed abort; it logs that answer first).

State
-----
Every node: ``role`` ("coordinator" or "participant").  Participant: ``txns``
(txn -> "working", "prepared", "committed" or "aborted"), ``locks`` (key ->
txn), ``kv`` (the store), ``writes`` (txn -> the whole transaction's writes,
from its Prepare), ``applied`` (committed txns, in the order applied),
``refused`` (txns a client told it to refuse), and the property
``uncertain``.  Coordinator: ``txns`` (txn -> "collecting", "committed",
"aborted", "ended"), ``votes`` (txn -> {participant: True/False}),
``decisions`` (txn -> "committed"/"aborted"), ``writes``, ``acks``.

Bug zoo
-------
``vote-before-force``
    a participant sends its yes vote before writing its prepared record;
``abort-after-yes``
    a participant that voted yes aborts on its own when its timeout fires;
``decide-before-log``
    the coordinator sends its decision before writing it to its log;
``commit-on-timeout``
    a coordinator whose votes do not all arrive in time commits instead of aborting.

Examples
--------
>>> node = TwoPCNode("n1", peers=("n2", "n3"))
>>> _ = node.start([])
>>> node.handle_message(Begin("T1", as_writes({"n2": {"x": 1}, "n3": {"y": 2}})), "client")
[Send(->n2 Prepare(T1, n2:x=1 n3:y=2)), Send(->n3 Prepare(T1, n2:x=1 n3:y=2)), SetTimer(VoteTimeout(T1) in 100)]
>>> p = TwoPCNode("n2", peers=("n1", "n3"))
>>> _ = p.start([])
>>> p.handle_message(Prepare("T1", as_writes({"n2": {"x": 1}, "n3": {"y": 2}})), "n1")[:2]
[Persist(('prepared', 'T1', (('n2', (('x', 1),)), ('n3', (('y', 2),))))), Send(->n1 Vote(T1, yes))]
>>> p.txns, p.locks, p.uncertain
({'T1': 'prepared'}, {'x': 'T1'}, ['T1'])
"""

from ..core.ids import sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["TwoPCNode", "Begin", "Refuse", "Prepare", "Vote", "Commit", "Abort", "Ack", "DecisionRequest",
           "VoteTimeout", "DecisionTimeout", "DecisionRetry", "WorkDone", "as_writes", "format_writes",
           "INVARIANTS", "LIVENESS"]


def as_writes(mapping):
    """Canonical, immutable form of a transaction's writes: ``((participant, ((key, value), ...)), ...)``.

    ``mapping`` maps participant ids to a dict (or pairs) of key -> value; both levels are sorted.

    >>> as_writes({"n3": {"y": 2}, "n2": [("x", 1)]})
    (('n2', (('x', 1),)), ('n3', (('y', 2),)))
    """
    items = mapping.items() if isinstance(mapping, dict) else mapping
    out = []
    for node, pairs in items:
        pairs = pairs.items() if isinstance(pairs, dict) else pairs
        out.append((node, tuple(sorted((k, v) for k, v in pairs))))
    order = {n: i for i, n in enumerate(sorted_ids([n for n, _ in out]))}
    return tuple(sorted(out, key=lambda item: order[item[0]]))


def format_writes(writes):
    """``n2:x=1 n3:y=2,z='a'`` (as in transcripts).

    >>> format_writes(as_writes({"n2": {"x": 1, "y": "a"}}))
    "n2:x=1,y='a'"
    """
    return " ".join(f"{node}:" + ",".join(f"{k}={v!r}" for k, v in pairs) for node, pairs in writes)


def participants_of(writes):
    """The participants a transaction writes to, in natural order."""
    return tuple(node for node, _ in writes)


# ------------------------------------------------------------------------------- messages
class Begin(Message):
    """A client asks the coordinator to run transaction ``txn`` (``writes``: see :func:`as_writes`)."""

    txn: str
    writes: tuple

    def __repr__(self):
        return f"Begin({self.txn}, {format_writes(self.writes)})"


class Refuse(Message):
    """A client tells a participant to vote no on ``txn`` (an application-level refusal)."""

    txn: str

    def __repr__(self):
        return f"Refuse({self.txn})"


class Prepare(Message):
    """Phase 1: can you commit ``txn``?  Carries the whole transaction's writes (so every
    participant knows the others, for cooperative termination)."""

    txn: str
    writes: tuple

    def __repr__(self):
        return f"Prepare({self.txn}, {format_writes(self.writes)})"


class Vote(Message):
    """Phase 1: a participant's vote; ``yes`` is a promise to commit if told to."""

    txn: str
    yes: bool

    def __repr__(self):
        return f"Vote({self.txn}, {'yes' if self.yes else 'no'})"


class _Txn(Message):
    txn: str

    def __repr__(self):
        return f"{type(self).__name__}({self.txn})"


class Commit(_Txn):
    """Phase 2: the outcome is commit (from the coordinator, or from a participant that knows)."""


class Abort(_Txn):
    """Phase 2: the outcome is abort."""


class Ack(_Txn):
    """A participant wrote the outcome down: the coordinator may forget the transaction."""


class DecisionRequest(_Txn):
    """An uncertain participant asks for the outcome (the coordinator, or its peers if cooperative)."""


class _TxnTimer(Timer):
    txn: str

    def __repr__(self):
        return f"{type(self).__name__}({self.txn})"


class VoteTimeout(_TxnTimer):
    """Coordinator: the votes for ``txn`` did not all arrive in time: abort."""


class DecisionTimeout(_TxnTimer):
    """Participant: no outcome yet.  Not voted: may abort.  Voted yes: must ask, and wait."""


class DecisionRetry(_TxnTimer):
    """Coordinator: some participants have not acknowledged the decision: send it again."""


class WorkDone(_TxnTimer):
    """Participant: its part of the work (``work_ticks``) is done; it can now vote."""


# ------------------------------------------------------------------------------- the node
class TwoPCNode(Node):
    """A two-phase-commit node: the coordinator or a participant (module docstring).

    Parameters (``params``): ``coordinator`` (its id), ``timeout_ticks`` (the
    coordinator's wait for votes; a participant's wait for an outcome before it
    aborts, if it has not voted, or asks, if it has), ``retry_ticks`` (between
    two DecisionRequests, or two rounds of re-sent decisions), ``work_ticks``
    (a participant works this long after a Prepare before it votes, in state
    "working"; 0: it votes at once), ``cooperative`` (an uncertain participant
    also asks the other participants).

    Notes
    -----
    Gray (1978) §5.8.3.3: the participant's prepared record and the
    coordinator's commit record must be forced *before* the message that
    depends on them.  Gray & Lamport (2006) §3: two-phase commit blocks when
    the coordinator fails after participants voted yes; cooperative
    termination helps only if some participant knows the outcome or has not
    voted.
    """

    params = {"coordinator": "n1", "timeout_ticks": 100, "retry_ticks": 100, "work_ticks": 0,
              "cooperative": False}
    bugs = {
        "vote-before-force": "a participant votes yes before forcing its prepared record to stable storage",
        "abort-after-yes": "a participant that voted yes aborts on its own when its timeout fires",
        "decide-before-log": "the coordinator sends its decision before forcing it to its log",
        "commit-on-timeout": "a coordinator missing votes at its timeout commits instead of aborting",
    }

    # ---------------------------------------------------------------------------- boot
    def on_start(self, records):
        records = [r for r in records if not isinstance(r, Torn)]   # a torn write never happened
        if self.id == self.params["coordinator"]:
            self._start_coordinator(records)
        else:
            self._start_participant(records)

    def _start_coordinator(self, records):
        self.role = "coordinator"
        self.txns, self.votes, self.decisions = {}, {}, {}
        self.writes, self.acks, self.members = {}, {}, {}
        for record in records:
            if record[0] in ("commit", "abort"):
                _, txn, members = record
                self.decisions[txn] = self.txns[txn] = "committed" if record[0] == "commit" else "aborted"
                self.members[txn] = members
            elif record[0] == "end":
                self.txns[record[1]] = "ended"
        for txn in sorted(self.txns):
            if self.txns[txn] != "ended" and self.members[txn]:
                self.note("re-sending decision", txn=txn, outcome=self.decisions[txn])
                self.acks[txn] = set()
                self._send_decision(txn)

    def _start_participant(self, records):
        self.role = "participant"
        self.coordinator = self.params["coordinator"]
        self.txns, self.locks, self.kv, self.writes = {}, {}, {}, {}
        self.applied, self.refused = [], set()
        for record in records:
            kind, txn = record[0], record[1]
            if kind == "prepared":
                self.txns[txn] = "prepared"
                self.writes[txn] = record[2]
            elif kind == "commit":
                self.txns[txn] = "committed"
                self._apply(txn)
            elif kind == "abort":
                self.txns[txn] = "aborted"
        for txn in self.uncertain:                  # prepared, no outcome: lock again and ask
            for key, _ in self.mine(txn):
                self.locks[key] = txn
            self.note("uncertain", txn=txn)
            self._ask(txn)

    # ---------------------------------------------------------------------------- helpers
    @property
    def uncertain(self):
        """Participant: the transactions it voted yes for and whose outcome it does not know."""
        return [t for t, s in self.txns.items() if s == "prepared"] if self.role == "participant" else []

    def mine(self, txn):
        """Participant: its own part of ``txn``'s writes, ``((key, value), ...)``."""
        return dict(self.writes.get(txn, ())).get(self.id, ())

    def _apply(self, txn):
        for key, value in self.mine(txn):
            self.kv[key] = value
        self.applied.append(txn)

    def _release(self, txn):
        for key in [k for k, t in self.locks.items() if t == txn]:
            del self.locks[key]

    def _ask(self, txn):
        """Ask the coordinator (and the other participants, if cooperative) for the outcome."""
        self.send(self.coordinator, DecisionRequest(txn))
        if self.params["cooperative"]:
            for peer in participants_of(self.writes.get(txn, ())):
                if peer != self.id:
                    self.send(peer, DecisionRequest(txn))
        self.set_timer(DecisionTimeout(txn), self.params["retry_ticks"])

    # ============================================================================ coordinator
    def on_begin(self, msg, sender):
        if self.role != "coordinator":
            self.note("not the coordinator", txn=msg.txn)
            return
        if msg.txn in self.txns:
            self.note("duplicate Begin ignored", txn=msg.txn)
            return
        txn = msg.txn
        self.txns[txn], self.votes[txn], self.writes[txn] = "collecting", {}, msg.writes
        self.members[txn] = participants_of(msg.writes)
        for node in self.members[txn]:
            self.send(node, Prepare(txn, msg.writes))
        self.set_timer(VoteTimeout(txn), self.params["timeout_ticks"])

    def on_vote(self, msg, sender):
        txn = msg.txn
        state = self.txns.get(txn)
        if state is None:                            # forgotten in a crash: presumed abort
            if msg.yes:
                self._presume_abort(txn, sender)
            return
        if state != "collecting":
            return                                   # decided: the decision reaches it anyway
        self.votes[txn][sender] = msg.yes
        if not msg.yes:
            self._decide(txn, "aborted")
        elif all(self.votes[txn].get(p) for p in self.members[txn]):
            self._decide(txn, "committed")

    def on_vote_timeout(self, timer):
        txn = timer.txn
        if self.txns.get(txn) == "collecting":
            missing = [p for p in self.members[txn] if p not in self.votes[txn]]
            self.note("votes missing", txn=txn, missing=tuple(missing))
            self._decide(txn, "committed" if "commit-on-timeout" in self.bugs else "aborted")

    def _decide(self, txn, outcome):
        """Force the decision record to the log, THEN tell the participants (Gray §5.8.3.3)."""
        self.txns[txn] = self.decisions[txn] = outcome
        self.acks[txn] = set()
        record = ("commit" if outcome == "committed" else "abort", txn, self.members[txn])
        self.note("decided", txn=txn, outcome=outcome)
        if "decide-before-log" in self.bugs:
            self._send_decision(txn)
            self.persist(record)
        else:
            self.persist(record)
            self._send_decision(txn)
        self.cancel_timer(VoteTimeout(txn))

    def _send_decision(self, txn):
        cls = Commit if self.decisions[txn] == "committed" else Abort
        for node in self.members[txn]:
            if node not in self.acks[txn]:
                self.send(node, cls(txn))
        self.set_timer(DecisionRetry(txn), self.params["retry_ticks"])

    def _presume_abort(self, txn, sender):
        """No decision on the log for ``txn``: it never committed.  Log the abort, then answer."""
        self.note("presumed abort", txn=txn)
        self.txns[txn] = self.decisions[txn] = "aborted"
        self.members[txn] = ()
        self.persist(("abort", txn, ()))
        self.send(sender, Abort(txn))

    def on_decision_retry(self, timer):
        if self.txns.get(timer.txn) in ("committed", "aborted"):
            self._send_decision(timer.txn)

    def on_ack(self, msg, sender):
        txn = msg.txn
        if self.txns.get(txn) not in ("committed", "aborted") or not self.members.get(txn):
            return
        self.acks[txn].add(sender)
        if set(self.members[txn]) <= self.acks[txn]:
            self.txns[txn] = "ended"
            self.cancel_timer(DecisionRetry(txn))
            self.persist(("end", txn))

    # ============================================================================ participant
    def on_refuse(self, msg, sender):
        if self.role != "participant":
            self.note("not a participant", txn=msg.txn)
            return
        self.refused.add(msg.txn)
        state = self.txns.get(msg.txn)
        if state == "working":
            self._abort_alone(msg.txn, "refused")
        elif state is not None:
            self.note("too late to refuse", txn=msg.txn, state=state)

    def on_prepare(self, msg, sender):
        txn = msg.txn
        state = self.txns.get(txn)
        if state == "prepared":                     # a duplicate: vote again
            self.send(sender, Vote(txn, True))
            return
        if state == "aborted":
            self.send(sender, Vote(txn, False))
            return
        if state is not None:                       # working, or (under a bug) already committed
            return
        self.writes[txn] = msg.writes
        mine = self.mine(txn)
        busy = sorted({self.locks[k] for k, _ in mine if k in self.locks})
        if txn in self.refused or busy:
            self.txns[txn] = "aborted"
            self.persist(("abort", txn))
            self.note("aborted", txn=txn, why=f"locked by {', '.join(busy)}" if busy else "refused")
            self.send(sender, Vote(txn, False))
            return
        for key, _ in mine:
            self.locks[key] = txn
        if self.params["work_ticks"] > 0:
            self.txns[txn] = "working"
            self.set_timer(WorkDone(txn), self.params["work_ticks"])
            self.set_timer(DecisionTimeout(txn), self.params["timeout_ticks"])
        else:
            self._vote_yes(txn)

    def on_work_done(self, timer):
        if self.txns.get(timer.txn) == "working":
            self._vote_yes(timer.txn)

    def _vote_yes(self, txn):
        """Force ``("prepared", txn, writes)``, THEN vote yes: from now on this node is uncertain."""
        self.txns[txn] = "prepared"
        record = ("prepared", txn, self.writes[txn])
        if "vote-before-force" in self.bugs:
            self.send(self.coordinator, Vote(txn, True))
            self.persist(record)
        else:
            self.persist(record)
            self.send(self.coordinator, Vote(txn, True))
        self.set_timer(DecisionTimeout(txn), self.params["timeout_ticks"])

    def _abort_alone(self, txn, why):
        """Unilateral abort: allowed only before voting yes."""
        self.txns[txn] = "aborted"
        self._release(txn)
        self.cancel_timer(WorkDone(txn))
        self.cancel_timer(DecisionTimeout(txn))
        self.persist(("abort", txn))
        self.note("aborted", txn=txn, why=why)
        self.send(self.coordinator, Vote(txn, False))

    def on_decision_timeout(self, timer):
        txn = timer.txn
        state = self.txns.get(txn)
        if state == "working":
            self._abort_alone(txn, "timeout before voting")
        elif state == "prepared":
            if "abort-after-yes" in self.bugs:
                self._abort_alone(txn, "timeout after voting yes")
            else:
                self.note("uncertain", txn=txn)     # voted yes: must not decide alone; ask and wait
                self._ask(txn)

    def on_commit(self, msg, sender):
        txn = msg.txn
        state = self.txns.get(txn)
        if state == "aborted":
            self.note("commit after abort ignored", txn=txn)
        elif state != "committed":
            self.txns[txn] = "committed"
            self.persist(("commit", txn))
            self.note("committed", txn=txn)
            self._apply(txn)
            self._release(txn)
            self.cancel_timer(DecisionTimeout(txn))
            self.cancel_timer(WorkDone(txn))
        if sender == self.coordinator:
            self.send(sender, Ack(txn))

    def on_abort(self, msg, sender):
        txn = msg.txn
        state = self.txns.get(txn)
        if state == "committed":
            self.note("abort after commit ignored", txn=txn)
        elif state is None:
            self.txns[txn] = "aborted"               # never prepared it: nothing to undo
            self.note("aborted", txn=txn)
        elif state != "aborted":
            self.txns[txn] = "aborted"
            self.persist(("abort", txn))
            self.note("aborted", txn=txn)
            self._release(txn)
            self.cancel_timer(DecisionTimeout(txn))
            self.cancel_timer(WorkDone(txn))
        if sender == self.coordinator:
            self.send(sender, Ack(txn))

    def on_decision_request(self, msg, sender):
        txn = msg.txn
        if self.role == "coordinator":
            state = self.txns.get(txn)
            if state is None:
                self._presume_abort(txn, sender)
            elif state != "collecting":
                self.send(sender, (Commit if self.decisions[txn] == "committed" else Abort)(txn))
            return
        # cooperative termination: a peer asks
        state = self.txns.get(txn)
        if state == "committed":
            self.send(sender, Commit(txn))
        elif state == "aborted":
            self.send(sender, Abort(txn))
        elif state == "working":
            self._abort_alone(txn, f"{sender} asked before this node voted")
            self.send(sender, Abort(txn))
        elif state is None:                          # not voted yet: abort, and remember it
            self.txns[txn] = "aborted"
            self.persist(("abort", txn))
            self.note("aborted", txn=txn, why=f"{sender} asked before this node voted")
            self.send(sender, Abort(txn))
        # prepared: uncertain too, cannot help


# ---------------------------------------------------------------------------------- checkers
class _Atomicity:
    """Participants' outcomes, from their notes: no txn both committed and aborted."""

    def __init__(self):
        self.outcomes = {}      # txn -> {"committed": {nodes}, "aborted": {nodes}}

    def __call__(self, event):
        if event.kind != "note" or event.data["text"] not in ("committed", "aborted"):
            return None
        txn = event.data["fields"].get("txn")
        seen = self.outcomes.setdefault(txn, {"committed": set(), "aborted": set()})
        seen[event.data["text"]].add(event.node)
        if seen["committed"] and seen["aborted"]:
            c, a = sorted_ids(seen["committed"]), sorted_ids(seen["aborted"])
            return Violation("Atomicity", tuple(sorted_ids(set(c) | set(a))),
                             f"{txn} committed at {', '.join(c)} but aborted at {', '.join(a)}")
        return None


class _Unanimity:
    """Commit decisions (the coordinator's commit record or Commit messages) against the yes votes sent."""

    def __init__(self):
        self.members = {}       # txn -> participants (from the client's Begin)
        self.yes = {}           # txn -> participants that sent Vote yes
        self.coordinators = set()

    def __call__(self, event):
        kind = event.kind
        if kind == "request" and isinstance(event.data["msg"], Begin):
            self.members.setdefault(event.data["msg"].txn, participants_of(event.data["msg"].writes))
            return None
        txn = None
        if kind == "sent":
            msg = event.data["msg"]
            if isinstance(msg, Prepare):
                self.coordinators.add(event.node)
            elif isinstance(msg, Vote) and msg.yes:
                self.yes.setdefault(msg.txn, set()).add(event.node)
            elif isinstance(msg, Commit) and event.node in self.coordinators:
                txn = msg.txn
        elif kind == "stored":
            for record in event.data["records"]:
                if not isinstance(record, Torn) and record[0] == "commit" and len(record) == 3:
                    txn = record[1]
        if txn is None:
            return None
        missing = [p for p in self.members.get(txn, ()) if p not in self.yes.get(txn, ())]
        if missing:
            return Violation("Commit needs unanimity", tuple(missing),
                             f"{txn} was committed without a yes vote from {', '.join(missing)}")
        return None


def _durability(nodes):
    """Each running participant's store holds the writes of the transactions it committed.

    The writes a transaction should have made come from any running node that knows them
    (the coordinator, or any participant that prepared it), not from the participant checked.
    """
    truth = {}
    for node in nodes.values():
        for txn, writes in getattr(node, "writes", {}).items():
            truth.setdefault(txn, writes)
    found = []
    for node_id in sorted_ids(nodes):
        node = nodes[node_id]
        if node.role != "participant":
            continue
        expected = {}
        for txn in node.applied:
            for key, value in dict(truth.get(txn, ())).get(node_id, ()):
                expected[key] = (value, txn)
        for key, (value, txn) in sorted(expected.items()):
            if node.kv.get(key, _MISSING) != value:
                found.append(Violation("Durability", (node_id,),
                                       f"{node_id} committed {txn} but its store has {key}="
                                       f"{node.kv.get(key, 'nothing')!r}, not {value!r}"))
                break
    return found


_MISSING = object()


def _termination(nodes):
    """Once calm: no participant is working or uncertain; the coordinator collects nothing."""
    found = []
    for node_id in sorted_ids(nodes):
        node = nodes[node_id]
        open_ = sorted(t for t, s in node.txns.items() if s in ("working", "prepared", "collecting"))
        if node.role == "coordinator":
            open_ += sorted(t for t, s in node.txns.items() if s == "committed")
        if open_:
            found.append(Violation("Termination", (node_id,),
                                   f"{node_id} has unfinished transactions: "
                                   + ", ".join(f"{t} ({node.txns[t]})" for t in open_)))
    return found


#: Safety (Gray 1978 §5.8.3; Gray & Lamport 2006 §2): checked after every step.
INVARIANTS = [
    Invariant("Atomicity: no transaction commits at one participant and aborts at another",
              observe=_Atomicity),
    Invariant("Commit needs unanimity: a transaction commits only if every participant voted yes",
              observe=_Unanimity),
    Invariant("Durability: a running participant's store holds the writes of every transaction it "
              "committed, crashes and recoveries included", check=_durability),
]

#: Liveness: once the coordinator is back and the network calm, every transaction finishes.
LIVENESS = [
    Liveness("Termination: every participant learns the outcome and the coordinator ends every commit",
             check=_termination, within_ticks=600),
]
