"""Three-phase commit: atomic commitment that does not block when sites only crash.

The code follows Skeen, "Nonblocking Commit Protocols" (SIGMOD 1981), with the
termination and recovery protocols of Skeen & Stonebraker, "A Formal Model of
Crash Recovery in a Distributed System" (IEEE TSE, 1983).

A coordinator (``n1`` by default, the parameter ``coordinator``) runs each
transaction a client starts with ``Begin(txn, writes)``; ``writes`` lists, for
each participant, the keys and values it must write.  The other nodes are
participants with a small key-value store.  Three rounds:

1. **votes**: ``CanCommit(txn, writes)`` -> ``Vote(txn, yes)``.  A participant
   votes yes only after forcing a *prepared* record (with its writes) to its
   log and locking its keys; it votes no if a key is locked by another
   transaction, and then aborts on its own.
2. **pre-commit**: if every vote is yes, the coordinator logs *precommitting*
   and sends ``PreCommit(txn)``; each participant logs *precommitted* and
   answers ``PreAck(txn)``.  Any no vote, or a vote that does not arrive in
   time, and the coordinator logs *aborted* and sends ``Abort(txn)``.
3. **commit**: once every participant acknowledged (or the acknowledgement
   timeout expired: a silent participant has crashed), the coordinator logs
   *committed* and sends ``DoCommit(txn)``; participants apply their writes
   and answer ``HaveCommitted(txn)``.

Why a third round (Skeen 1981, the nonblocking theorem): in two-phase commit a
participant that voted yes is *uncertain*; some other site may already have
committed, or may still abort, so it must wait for the coordinator.  In 3PC no
state is adjacent to both commit and abort: nobody commits before every
operational participant is precommitted, so a participant that is still
merely prepared knows that nobody has committed, and a precommitted one knows
that nobody has aborted.

**Termination protocol** (Skeen 1981 §5; Skeen & Stonebraker 1983).  A
participant that waited too long for the coordinator sends ``StateReq(txn)``
to the other participants, and each answers ``StateReply(txn, state,
recovering)``.  The lowest-id *operational* participant that answered (or the
asker itself) becomes the backup coordinator (its ``role`` becomes
"coordinator" until it decides) and applies the rule:

* some site committed -> commit; some site aborted -> abort;
* some site (itself included) precommitted -> ``PreCommit`` to the others,
  then commit;
* only prepared (uncertain) sites -> abort.

The timeouts act as the failure detector.  With message delays bounded by
``delay_bound_ticks`` and sites that only crash, a timeout means a crash:
the detector is *perfect*, the operational sites agree on who is up, and the
rule is safe.  Under a network **partition** the detector lies: each side
takes the other for crashed, runs the rule on its own, and a side holding a
precommitted site commits while a side of prepared sites aborts.  3PC then
breaks atomicity (``presets/3pc/partition.txt``).

**Recovery.**  A site that restarts with an undecided transaction in its log
does not decide on its own and takes no part in the termination protocol as
an operational site: it asks every site (``StateReq``) and follows the
outcome (committed or aborted) someone reports.  Only after a *total failure*
(every site of the transaction answers, and every one of them is recovering)
does the lowest-id site decide, with the whole picture in hand.

State
-----
``role`` ("coordinator" or "participant"; a participant running the
termination protocol as the backup coordinator is "coordinator" meanwhile),
``txns`` (txn -> state: a participant's "working", "prepared",
"precommitted", "committed", "aborted"; the coordinator's "collecting",
"precommitting", "committed", "aborted"), ``locks`` (key -> txn), ``kv``
(key -> value), ``recovering`` (the txns this node is recovering: it asks and
waits), plus per-transaction bookkeeping (``votes``, ``acks``, ``replies``).

Bug zoo
-------
``skip-precommit``
    no pre-commit round: the coordinator commits right after the votes, as in
    2PC, and the termination protocol then aborts sites that are only
    prepared although some site may have committed;
``presume-yes``
    a coordinator whose votes do not all arrive in time treats the missing
    ones as yes;
``recover-alone``
    a restarted site decides on its own: commit if its log says precommitted,
    abort if it says prepared.

Examples
--------
>>> node = ThreePCNode("n2", peers=("n1", "n3"))
>>> _ = node.start([])
>>> node.handle_message(CanCommit("t1", (("n2", (("x", 1),)), ("n3", (("y", 2),)))), "n1")
[Persist(('prepared', 't1', 'n1', ('n2', 'n3'), (('x', 1),))), Send(->n1 Vote(t1, yes)), SetTimer(WaitTimeout(txn='t1') in 60)]
>>> node.txns, node.locks
({'t1': 'prepared'}, {'x': 't1'})
"""

from ..core.ids import id_key, sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["ThreePCNode", "Begin", "CanCommit", "Vote", "PreCommit", "PreAck", "DoCommit", "HaveCommitted",
           "Abort", "StateReq", "StateReply", "Done", "VoteTimeout", "AckTimeout", "WaitTimeout", "Collect",
           "AskAgain", "termination_rule", "format_writes", "decision_of", "decisions_in", "INVARIANTS",
           "LIVENESS", "FINAL"]

#: The states in which a transaction is over at a site.
FINAL = ("committed", "aborted")


def format_writes(writes):
    """``(("n2", (("x", 1),)), ...)`` as ``n2:x=1 ...`` (the script syntax).

    >>> format_writes((("n2", (("x", 1), ("y", "b"))), ("n3", (("z", 3),))))
    "n2:x=1,y='b' n3:z=3"
    """
    return " ".join(f"{p}:" + ",".join(f"{k}={v!r}" for k, v in kv) for p, kv in writes)


# ----------------------------------------------------------------------------- messages
class Begin(Message):
    """A client asks the coordinator to run transaction ``txn``: ``writes`` = ((participant, ((key, value), ...)), ...).

    Its ``repr`` is a Python call (a script's ``request`` line reads it back).
    """

    txn: str
    writes: tuple


class CanCommit(Message):
    """Round 1: can you commit ``txn``?  (Carries every participant's writes.)"""

    txn: str
    writes: tuple

    def __repr__(self):
        return f"CanCommit({self.txn}, {format_writes(self.writes)})"


class Vote(Message):
    """Round 1 answer: yes (prepared record forced to the log) or no."""

    txn: str
    yes: bool

    def __repr__(self):
        return f"Vote({self.txn}, {'yes' if self.yes else 'no'})"


class _TxnOnly(Message):
    txn: str

    def __repr__(self):
        return f"{type(self).__name__}({self.txn})"


class PreCommit(_TxnOnly):
    """Round 2: everyone voted yes; get ready to commit (the coordinator or a backup sends it)."""


class PreAck(_TxnOnly):
    """Round 2 answer: precommitted record written."""


class DoCommit(_TxnOnly):
    """Round 3: commit."""


class HaveCommitted(_TxnOnly):
    """Round 3 answer: committed and applied."""


class Abort(_TxnOnly):
    """Abort ``txn`` (the coordinator, a backup coordinator, or a site that knows the outcome)."""


class StateReq(_TxnOnly):
    """Termination and recovery: what is your state for ``txn``?"""


class StateReply(Message):
    """My state for ``txn``; ``recovering``: I restarted with it undecided (I only follow, never lead)."""

    txn: str
    state: str
    recovering: bool

    def __repr__(self):
        return f"StateReply({self.txn}, {self.state}{', recovering' if self.recovering else ''})"


class Done(Message):
    """To the client: the outcome of ``txn``."""

    txn: str
    outcome: str

    def __repr__(self):
        return f"Done({self.txn}, {self.outcome})"


class VoteTimeout(Timer):
    """Coordinator: the votes did not all arrive in time."""

    txn: str


class AckTimeout(Timer):
    """Coordinator or backup: the pre-commit acknowledgements did not all arrive in time."""

    txn: str


class WaitTimeout(Timer):
    """Participant: no word from the coordinator (or the backup) in time: start the termination protocol."""

    txn: str


class Collect(Timer):
    """Participant: the state replies had time to arrive; elect the backup and decide."""

    txn: str


class AskAgain(Timer):
    """Recovering site: no outcome yet; ask again (and decide after a total failure)."""

    txn: str


# ---------------------------------------------------------------------------- the rule
def termination_rule(states):
    """Skeen's termination rule: "commit", "abort" or "precommit" (then commit) from the collected states.

    ``states`` is an iterable of site states ("working", "prepared", "precommitted",
    "committed", "aborted", or a coordinator's).

    >>> termination_rule(["prepared", "precommitted", "prepared"])
    'precommit'
    >>> termination_rule(["prepared", "prepared"])
    'abort'
    >>> termination_rule(["precommitted", "committed"])
    'commit'
    >>> termination_rule(["precommitted", "aborted"])
    'abort'
    """
    states = set(states)
    if "committed" in states:
        return "commit"
    if "aborted" in states:
        return "abort"
    if "precommitted" in states:
        return "precommit"
    return "abort"


def decision_of(record):
    """The ``(txn, "committed" | "aborted")`` a log record decides, or None.

    >>> decision_of(("committed", "t1")), decision_of(("coordinator", "t2", "aborted", ("n2",)))
    (('t1', 'committed'), ('t2', 'aborted'))
    >>> decision_of(("prepared", "t1", "n1", ("n2",), ())) is None
    True
    """
    if isinstance(record, Torn) or not isinstance(record, tuple) or not record:
        return None
    if record[0] in FINAL:
        return (record[1], record[0])
    if record[0] == "coordinator" and record[2] in FINAL:
        return (record[1], record[2])
    return None


class ThreePCNode(Node):
    """One site: the coordinator (``params["coordinator"]``) or a participant (module docstring).

    Parameters (``params``): ``coordinator`` (its id), ``delay_bound_ticks``
    (the assumed bound on message delays: every timeout is derived from it, and
    the failure detector is perfect only if the network keeps to it).
    """

    params = {"coordinator": "n1", "delay_bound_ticks": 15}
    bugs = {
        "skip-precommit": "no pre-commit round: commit right after the votes (2PC with 3PC's termination rule)",
        "presume-yes": "a coordinator treats the votes that did not arrive in time as yes",
        "recover-alone": "a restarted site decides on its own from its log (precommitted -> commit, else abort)",
    }

    # ------------------------------------------------------------------------- timeouts (all from D)
    @property
    def d(self):
        return self.params["delay_bound_ticks"]

    @property
    def round_ticks(self):
        """A request and its answer, with a margin: ``2D + 2``."""
        return 2 * self.d + 2

    @property
    def wait_ticks(self):
        """A participant waits ``4D`` for the next round (the coordinator's round trip plus its timeout)."""
        return 4 * self.d

    # ------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.role = "coordinator" if self.id == self.params["coordinator"] else "participant"
        self.txns = {}
        self.locks = {}
        self.kv = {}
        self.recovering = set()
        self.writes = {}        # txn -> my writes (participant) or everyone's (coordinator)
        self.sites = {}         # txn -> participants
        self.votes = {}         # coordinator: txn -> {participant: yes}
        self.acks = {}          # coordinator or backup: txn -> participants that acknowledged
        self.waiting = {}       # coordinator or backup: txn -> participants whose PreAck it waits for
        self.replies = {}       # txn -> {site: (state, recovering)} in the current query
        self.clients = {}       # coordinator: txn -> client to answer
        self.leading = set()    # txns this participant runs the termination protocol for
        for record in records:
            if isinstance(record, Torn):
                continue
            kind, txn = record[0], record[1]
            if kind == "prepared":
                _, _, coordinator, sites, mine = record
                self.txns[txn] = "prepared"
                self.sites[txn] = sites
                self.writes[txn] = mine
            elif kind == "coordinator":
                self.txns[txn] = record[2]
                self.sites[txn] = record[3]
            elif kind in ("precommitted", "committed", "aborted"):
                self.txns[txn] = kind
                if kind == "committed":
                    self.apply(txn)
        for txn in sorted(self.txns):
            state = self.txns[txn]
            if state in ("prepared", "precommitted"):
                for key, _ in self.writes.get(txn, ()):
                    self.locks[key] = txn
            if state in FINAL:
                self.announce(txn)              # tell the others again: the message may have been lost
            elif "recover-alone" in self.bugs and self.role == "participant":
                self.decide(txn, "committed" if state == "precommitted" else "aborted")
            else:
                self.recovering.add(txn)
                self.note("recovering", txn=txn, state=state)
                self.ask(txn)

    # ------------------------------------------------------------------------- helpers
    def others(self, txn):
        """Every other site of ``txn`` (coordinator and participants), in natural order."""
        return [s for s in sorted_ids(set(self.sites.get(txn, ())) | {self.params["coordinator"]}) if s != self.id]

    def apply(self, txn):
        if self.id == self.params["coordinator"]:
            return                                   # the coordinator stores nothing (writes: everyone's)
        for key, value in self.writes.get(txn, ()):
            self.kv[key] = value

    def release(self, txn):
        for key in [k for k, t in self.locks.items() if t == txn]:
            del self.locks[key]

    def decide(self, txn, outcome, tell=True):
        """Log the outcome (before telling anyone), apply it, and (``tell``) send it to every other site."""
        if self.txns.get(txn) == outcome:
            return
        self.txns[txn] = outcome
        self.recovering.discard(txn)
        self.leading.discard(txn)
        self.waiting.pop(txn, None)
        if self.id == self.params["coordinator"]:
            self.persist(("coordinator", txn, outcome, self.sites.get(txn, ())))
        else:
            self.persist((outcome, txn))
            self.role = "participant"
        if outcome == "committed":
            self.apply(txn)
        self.release(txn)
        for name in ("VoteTimeout", "AckTimeout", "WaitTimeout", "Collect", "AskAgain"):
            self.cancel_timer(globals()[name](txn))
        self.note(outcome, txn=txn)
        if tell:
            self.announce(txn)
        client = self.clients.pop(txn, None)
        if client is not None:
            self.send(client, Done(txn, outcome))

    def announce(self, txn):
        """Send the decision on ``txn`` to every other site."""
        msg = DoCommit(txn) if self.txns[txn] == "committed" else Abort(txn)
        for site in self.others(txn):
            self.send(site, msg)

    def ask(self, txn):
        """Recovery: ask every other site for its state; look at the answers after one round trip."""
        self.replies[txn] = {}
        for site in self.others(txn):
            self.send(site, StateReq(txn))
        self.set_timer(AskAgain(txn), self.round_ticks)

    def adopt(self, txn, state):
        """Someone reports a decision: follow it (it is final everywhere)."""
        if state in FINAL and self.txns.get(txn) not in FINAL:
            self.decide(txn, state, tell=False)

    # ------------------------------------------------------------------------- coordinator
    def on_begin(self, msg, sender):
        txn = msg.txn
        if txn in self.txns:
            return                                   # a transaction id is used once
        self.txns[txn] = "collecting"
        self.clients[txn] = sender
        self.writes[txn] = msg.writes
        self.sites[txn] = tuple(p for p, _ in msg.writes)
        self.votes[txn] = {}
        for participant in self.sites[txn]:
            self.send(participant, CanCommit(txn, msg.writes))
        self.set_timer(VoteTimeout(txn), self.round_ticks)

    def on_vote(self, msg, sender):
        txn = msg.txn
        if self.txns.get(txn) != "collecting":
            return
        self.votes[txn][sender] = msg.yes
        if not msg.yes:
            self.decide(txn, "aborted")
        elif len(self.votes[txn]) == len(self.sites[txn]):
            self.cancel_timer(VoteTimeout(txn))
            self.precommit(txn)

    def on_vote_timeout(self, timer):
        txn = timer.txn
        if self.txns.get(txn) != "collecting":
            return
        if "presume-yes" in self.bugs:
            self.precommit(txn)
        else:
            self.decide(txn, "aborted")

    def precommit(self, txn):
        """Round 2: log *precommitting* first, then PreCommit to every participant."""
        if "skip-precommit" in self.bugs:
            self.decide(txn, "committed")
            return
        self.txns[txn] = "precommitting"
        self.persist(("coordinator", txn, "precommitting", self.sites[txn]))
        self.acks[txn] = set()
        self.waiting[txn] = set(self.sites[txn])
        for participant in self.sites[txn]:
            self.send(participant, PreCommit(txn))
        self.set_timer(AckTimeout(txn), self.round_ticks)

    def on_pre_ack(self, msg, sender):
        txn = msg.txn
        if txn not in self.waiting or self.txns.get(txn) in FINAL or txn in self.recovering:
            return
        self.acks[txn].add(sender)
        if self.waiting.get(txn, set()) <= self.acks[txn]:
            self.decide(txn, "committed")

    def on_ack_timeout(self, timer):
        """Skeen: a participant that does not acknowledge has crashed; it will learn the outcome when it recovers."""
        txn = timer.txn
        if txn in self.waiting and self.txns.get(txn) in ("precommitting", "precommitted") \
                and txn not in self.recovering:
            self.decide(txn, "committed")

    def on_have_committed(self, msg, sender):
        pass                                         # nothing more to do: the transaction is over

    # ------------------------------------------------------------------------- participant
    def on_can_commit(self, msg, sender):
        txn = msg.txn
        if txn in self.txns:
            if self.txns[txn] in ("prepared", "precommitted", "committed"):
                self.send(sender, Vote(txn, True))
            else:
                self.send(sender, Vote(txn, False))
            return
        mine = dict(msg.writes).get(self.id, ())
        self.sites[txn] = tuple(p for p, _ in msg.writes)
        self.writes[txn] = mine
        self.txns[txn] = "working"
        if any(self.locks.get(key, txn) != txn for key, _ in mine):
            self.txns[txn] = "aborted"              # a key is busy: vote no, abort unilaterally
            self.persist(("aborted", txn))
            self.note("aborted", txn=txn)
            self.send(sender, Vote(txn, False))
            return
        for key, _ in mine:
            self.locks[key] = txn
        self.txns[txn] = "prepared"
        self.persist(("prepared", txn, sender, self.sites[txn], mine))
        self.send(sender, Vote(txn, True))
        self.set_timer(WaitTimeout(txn), self.wait_ticks)

    def on_pre_commit(self, msg, sender):
        txn = msg.txn
        if txn in self.recovering or self.txns.get(txn) not in ("prepared", "precommitted"):
            return                                   # a recovering site only follows a decision
        if self.txns[txn] == "prepared":
            self.txns[txn] = "precommitted"
            self.persist(("precommitted", txn))
        self.send(sender, PreAck(txn))
        self.set_timer(WaitTimeout(txn), self.wait_ticks)

    def on_do_commit(self, msg, sender):
        txn = msg.txn
        if self.txns.get(txn) != "aborted":
            self.adopt(txn, "committed")
        if self.txns.get(txn) == "committed" and self.id != self.params["coordinator"]:
            self.send(sender, HaveCommitted(txn))

    def on_abort(self, msg, sender):
        txn = msg.txn
        if self.txns.get(txn) == "committed":
            return
        if txn not in self.txns:                     # never voted: remember, so that a late CanCommit gets a no
            self.txns[txn] = "aborted"
            self.persist(("aborted", txn))
            return
        self.adopt(txn, "aborted")

    # ------------------------------------------------------------------------- termination protocol
    def on_wait_timeout(self, timer):
        txn = timer.txn
        if self.txns.get(txn) not in ("prepared", "precommitted") or txn in self.recovering:
            return
        self.note("coordinator suspected", txn=txn)
        self.replies[txn] = {}
        for site in self.sites[txn]:
            if site != self.id:
                self.send(site, StateReq(txn))
        self.set_timer(Collect(txn), self.round_ticks)

    def on_state_req(self, msg, sender):
        txn = msg.txn
        if txn not in self.txns:
            if self.id == self.params["coordinator"]:
                self.send(sender, StateReply(txn, "unknown", True))     # restarted before logging anything
                return
            # Never voted (or lost the CanCommit): abort now, so that a late CanCommit gets a no.
            self.txns[txn] = "aborted"
            self.persist(("aborted", txn))
        self.send(sender, StateReply(txn, self.txns[txn], txn in self.recovering))

    def on_state_reply(self, msg, sender):
        txn = msg.txn
        if msg.state in FINAL:
            self.adopt(txn, msg.state)
            return
        if txn in self.replies:
            self.replies[txn][sender] = (msg.state, msg.recovering)

    def asked(self, txn):
        """The operational participants that answered the backup's query (the backup included)."""
        return [s for s, (_, rec) in self.replies.get(txn, {}).items() if not rec] + [self.id]

    def on_collect(self, timer):
        txn = timer.txn
        state = self.txns.get(txn)
        if state not in ("prepared", "precommitted") or txn in self.recovering:
            return
        operational = self.asked(txn)
        if min(operational, key=id_key) != self.id:
            self.set_timer(WaitTimeout(txn), self.wait_ticks + self.round_ticks)   # the backup is lower: wait for it
            return
        self.role = "coordinator"
        self.leading.add(txn)
        states = [state] + [s for s, rec in self.replies[txn].values() if not rec]
        rule = termination_rule(states)
        if "skip-precommit" in self.bugs and rule == "precommit":
            rule = "commit"
        self.note("backup coordinator", txn=txn, rule=rule)
        if rule == "commit":
            self.decide(txn, "committed")
        elif rule == "abort":
            self.decide(txn, "aborted")
        else:
            if state == "prepared":
                self.txns[txn] = "precommitted"
                self.persist(("precommitted", txn))
            self.acks[txn] = set()
            self.waiting[txn] = set(operational) - {self.id}
            for site in operational:
                if site != self.id:
                    self.send(site, PreCommit(txn))
            if len(operational) == 1:
                self.decide(txn, "committed")
            else:
                self.set_timer(AckTimeout(txn), self.round_ticks)

    # ------------------------------------------------------------------------- recovery
    def on_ask_again(self, timer):
        txn = timer.txn
        if txn not in self.recovering:
            return
        replies = self.replies.get(txn, {})
        everyone = self.others(txn)
        if set(replies) >= set(everyone) and all(rec for _, rec in replies.values()):
            # Total failure: every site answered and every one restarted with the outcome unknown.
            # Nobody can be running the termination protocol; the lowest-id site that knows the
            # transaction (a coordinator that restarted before logging anything does not) decides for all.
            knowing = [s for s, (state, _) in replies.items() if state != "unknown"] + [self.id]
            if min(knowing, key=id_key) == self.id:
                states = [self.txns[txn]] + [s for s, _ in replies.values()]
                rule = termination_rule(states)
                self.note("total failure", txn=txn, rule=rule)
                self.decide(txn, "aborted" if rule == "abort" else "committed")
                return
        self.ask(txn)


# ---------------------------------------------------------------------------------- checkers
class _History:
    """Follows the transactions of a run from its trace: participants, yes votes, logged decisions."""

    def __init__(self):
        self.participants = {}      # txn -> participants (from the client's Begin)
        self.yes = {}               # txn -> participants that sent Vote(yes)
        self.decided = {}           # txn -> {"committed": set of sites, "aborted": set of sites}

    def follow(self, event):
        """Return the decisions logged in ``event``: ``[(txn, outcome, node)]``."""
        kind = event.kind
        if kind == "request" and isinstance(event.data["msg"], Begin):
            msg = event.data["msg"]
            self.participants.setdefault(msg.txn, tuple(p for p, _ in msg.writes))
        elif kind == "sent" and isinstance(event.data["msg"], Vote) and event.data["msg"].yes:
            self.yes.setdefault(event.data["msg"].txn, set()).add(event.node)
        elif kind == "stored":
            found = []
            for record in event.data["records"]:
                decision = decision_of(record)
                if decision is not None:
                    txn, outcome = decision
                    self.decided.setdefault(txn, {"committed": set(), "aborted": set()})[outcome].add(event.node)
                    found.append((txn, outcome, event.node))
            return found
        return []


def decisions_in(events):
    """txn -> {"committed": sites, "aborted": sites}, the decisions logged in a run (crashes do not erase them)."""
    history = _History()
    for event in events:
        history.follow(event)
    return {t: {k: set(v) for k, v in d.items()} for t, d in history.decided.items()}


class _Atomicity(_History):
    def __call__(self, event):
        for txn, _, _ in self.follow(event):
            d = self.decided[txn]
            if d["committed"] and d["aborted"]:
                c, a = sorted_ids(d["committed"]), sorted_ids(d["aborted"])
                return Violation("Atomicity", tuple(sorted_ids(set(c) | set(a))),
                                 f"{txn} committed at {', '.join(c)} but aborted at {', '.join(a)}")
        return None


class _Unanimity(_History):
    def __call__(self, event):
        for txn, outcome, node in self.follow(event):
            if outcome != "committed" or txn not in self.participants:
                continue
            missing = [p for p in self.participants[txn] if p not in self.yes.get(txn, set())]
            if missing:
                return Violation("Commit needs unanimity", (node,) + tuple(missing),
                                 f"{node} committed {txn}, but {', '.join(missing)} never voted yes")
        return None


def _finished(nodes):
    """Once calm, every transaction a running site knows of is decided there."""
    found = []
    for node_id in sorted_ids(nodes):
        node = nodes[node_id]
        open_ = sorted(t for t, s in node.txns.items() if s not in FINAL)
        if open_:
            found.append(Violation("Termination", (node_id,),
                                   f"{node_id} has not decided {', '.join(f'{t} ({node.txns[t]})' for t in open_)}"))
    return found


#: Safety (Skeen 1981 §2: the atomic commitment problem): checked after every step.
INVARIANTS = [
    Invariant("Atomicity: no transaction is committed at one site and aborted at another", observe=_Atomicity),
    Invariant("Commit needs unanimity: a transaction commits only if every participant voted yes",
              observe=_Unanimity),
]

#: Liveness (Skeen 1981: nonblocking): once the sites are up and the network calm, every transaction ends.
LIVENESS = [
    Liveness("Termination: every transaction is decided at every running site", check=_finished,
             within_ticks=800),
]
