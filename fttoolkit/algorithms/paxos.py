"""Single-decree Paxos: a cluster chooses one value, once and for all.

The code follows Lamport, "Paxos Made Simple" (2001), section by section.
Every node plays the paper's three roles, which are kept apart in the code
and in the state:

* an **acceptor** (§2.2) promises not to accept ballots below the highest
  Prepare it has answered, and accepts the proposals that respect that promise;
* a **proposer** (§2.2, §2.4) is any node a client asks to propose a value:
  phase 1 (Prepare / Promise) reserves a ballot with a majority of acceptors,
  phase 2 (Accept / Accepted) asks them to accept a value, which must be the
  value of the highest-numbered proposal reported in the promises;
* a **learner** (§2.3) learns that a value is chosen once a majority of
  acceptors tells it that they accepted the same ballot.

Ballots (the paper's "proposal numbers") are pairs :class:`Ballot` ``(round,
node)``: two proposers never use the same one, and every proposer can always
find a higher one (§2.5).

State
-----
Acceptor: ``promised`` (a Ballot or None), ``accepted`` (None or ``(ballot,
value)``), written to stable storage as ``("acceptor", promised, accepted)``
*before* the reply that depends on them (§2.5).  Proposer: ``ballot``,
``proposal``, ``phase`` ("idle", "prepare", "accept", "done"), ``promises``
(acceptor id -> its accepted proposal or None), ``accepts`` (the acceptors
that accepted the current ballot), ``asked`` (the value a client asked for),
``round`` (the highest round seen; the rounds this node used are stored as
``("round", r)`` so that it never reuses a ballot after a crash, §2.5).
Learner: ``learned`` and ``tally`` (ballot -> acceptors that accepted it).
``role`` is "proposer" while a proposal is in progress, else "acceptor".

Bug zoo
-------
``ignore-promises``
    a proposer proposes its own value even when promises report accepted values;
``accept-below-promise``
    an acceptor accepts a ballot lower than one it promised;
``forget-promise``
    promises are not written to stable storage: a crash forgets them;
``minority-quorum``
    quorums of ``n // 2`` acceptors instead of majorities: two quorums may not meet.

Examples
--------
>>> node = PaxosNode("n1", peers=("n2", "n3"))
>>> _ = node.start([])
>>> node.handle_message(Propose("x"), "client")
[Persist(('round', 1)), Send(->n1 Prepare(b1.n1)), Send(->n2 Prepare(b1.n1)), Send(->n3 Prepare(b1.n1)), SetTimer(Retry() in 100)]
>>> node.phase, node.role, node.ballot
('prepare', 'proposer', b1.n1)
"""

from typing import NamedTuple

from ..core.ids import id_key, sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["PaxosNode", "Ballot", "Prepare", "Promise", "Accept", "Accepted", "Nack", "Propose", "Retry",
           "highest_accepted", "chosen_in", "chosen_history", "INVARIANTS", "LIVENESS"]


class Ballot(NamedTuple):
    """A proposal number: ``(round, node)``, ordered by round, then by node id in natural order.

    Examples
    --------
    >>> Ballot(2, "n3")
    b2.n3
    >>> Ballot(1, "n9") < Ballot(1, "n10") < Ballot(2, "n1")
    True
    >>> max([Ballot(3, "n2"), Ballot(3, "n10")])
    b3.n10
    """

    round: int
    node: str

    def __repr__(self):
        return f"b{self.round}.{self.node}"

    @property
    def key(self):
        """The sort key: ``n10`` ranks above ``n9`` (plain string order would not)."""
        return (self.round, id_key(self.node))

    def __lt__(self, other):
        return self.key < other.key

    def __le__(self, other):
        return self.key <= other.key

    def __gt__(self, other):
        return self.key > other.key

    def __ge__(self, other):
        return self.key >= other.key


# ----------------------------------------------------------------------------- messages (§2.2)
class Propose(Message):
    """A client asks a node to get ``value`` chosen (it becomes a proposer)."""

    value: object


class Prepare(Message):
    """Phase 1a: promise me not to accept any ballot below ``ballot``."""

    ballot: Ballot

    def __repr__(self):
        return f"Prepare({self.ballot!r})"


class Promise(Message):
    """Phase 1b: promised; ``accepted`` is my highest accepted ``(ballot, value)``, or None."""

    ballot: Ballot
    accepted: object

    def __repr__(self):
        return f"Promise({self.ballot!r}, accepted={self.accepted!r})"


class Accept(Message):
    """Phase 2a: please accept ``value`` in ``ballot``."""

    ballot: Ballot
    value: object

    def __repr__(self):
        return f"Accept({self.ballot!r}, {self.value!r})"


class Accepted(Message):
    """Phase 2b: I accepted ``value`` in ``ballot`` (to the proposer and to every learner)."""

    ballot: Ballot
    value: object

    def __repr__(self):
        return f"Accepted({self.ballot!r}, {self.value!r})"


class Nack(Message):
    """Refused: I already promised ``promised``, higher than your ``ballot`` (retry higher)."""

    ballot: Ballot
    promised: Ballot

    def __repr__(self):
        return f"Nack({self.ballot!r}, promised={self.promised!r})"


class Retry(Timer):
    """Proposer: no decision yet (messages lost, or preempted): start again with a higher ballot."""


def highest_accepted(promises):
    """The highest-numbered accepted proposal among promises (``(ballot, value)``), or None.

    ``promises`` maps acceptor ids to what each reported (None or ``(ballot, value)``).

    >>> highest_accepted({"n1": None, "n2": (Ballot(1, "n3"), "x"), "n3": (Ballot(2, "n1"), "y")})
    (b2.n1, 'y')
    >>> highest_accepted({"n1": None}) is None
    True
    """
    found = [a for a in promises.values() if a is not None]
    return max(found, key=lambda a: a[0].key) if found else None


def chosen_in(accepted, majority):
    """The value accepted in one ballot by at least ``majority`` acceptors, or None.

    ``accepted`` maps acceptor ids to None or ``(ballot, value)``.

    >>> b = Ballot(1, "n1")
    >>> chosen_in({"n1": (b, "x"), "n2": (b, "x"), "n3": None}, 2)
    'x'
    >>> chosen_in({"n1": (b, "x"), "n2": None, "n3": None}, 2) is None
    True
    """
    count = {}
    for proposal in accepted.values():
        if proposal is not None:
            count[proposal] = count.get(proposal, 0) + 1
    best = [p for p, k in count.items() if k >= majority]
    return max(best, key=lambda p: p[0].key)[1] if best else None


def _above(ballot, than):
    """``ballot >= than``, where ``than`` may be None (nothing promised yet)."""
    return than is None or ballot >= than


class PaxosNode(Node):
    """One Paxos node: acceptor and learner always, proposer when a client asks (module docstring).

    Parameters (``params``): ``timeout_ticks`` (a round not decided by then starts
    again), ``backoff_ticks`` (after a Nack, wait a random time up to
    ``backoff_ticks * 2**k`` at the k-th attempt, at most ``2**4``).
    """

    params = {"timeout_ticks": 100, "backoff_ticks": 40}
    bugs = {
        "ignore-promises": "a proposer proposes its own value even when promises carry accepted values",
        "accept-below-promise": "an acceptor accepts a ballot lower than one it promised",
        "forget-promise": "promises are not written to stable storage: a crash forgets them",
        "minority-quorum": "quorums of n // 2 acceptors instead of majorities",
    }

    # ------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.promised = None
        self.accepted = None
        self.round = 0
        for record in records:
            if isinstance(record, Torn):            # a write cut short by a crash: never happened
                continue
            if record[0] == "acceptor":
                _, self.promised, self.accepted = record
            elif record[0] == "round":
                self.round = max(self.round, record[1])
        if self.accepted is not None and not _above(self.promised, self.accepted[0]):
            self.promised = self.accepted[0]        # accepting b promised b (needed if promises are not stored)
        if self.promised is not None:
            self.round = max(self.round, self.promised.round)
        # proposer (volatile: a client asks again after a crash)
        self.asked = None
        self.proposal = None
        self.ballot = None
        self.promises = {}
        self.accepts = set()
        self.attempts = 0
        self.phase = "idle"
        self.role = "acceptor"
        # learner (volatile)
        self.learned = None
        self.tally = {}

    # ------------------------------------------------------------------------- helpers
    @property
    def acceptors(self):
        """Every node is an acceptor, in natural order (this one included)."""
        return tuple(sorted_ids(self.peers + (self.id,)))

    @property
    def learners(self):
        """Every node is a learner as well."""
        return self.acceptors

    @property
    def majority(self):
        """How many acceptors make a quorum: a majority (``n // 2`` with the bug ``minority-quorum``)."""
        n = len(self.acceptors)
        return n // 2 if "minority-quorum" in self.bugs else n // 2 + 1

    def set_phase(self, phase):
        self.phase = phase
        self.role = "proposer" if phase in ("prepare", "accept") else "acceptor"

    def save_acceptor(self):
        """§2.5: the acceptor's promise and accepted proposal reach stable storage before the reply."""
        self.persist(("acceptor", self.promised, self.accepted))

    # ------------------------------------------------------------------------- proposer (§2.2, §2.4)
    def on_propose(self, msg, sender):
        self.asked = msg.value
        if self.phase in ("prepare", "accept"):
            return                                  # a proposal is in progress: it will finish first
        self.attempts = 0
        self.start_round()

    def start_round(self):
        """Phase 1a: a ballot higher than any seen, remembered on disk (§2.5), sent to every acceptor."""
        self.round += 1
        self.ballot = Ballot(self.round, self.id)
        self.proposal = self.asked
        self.promises = {}
        self.accepts = set()
        self.set_phase("prepare")
        self.persist(("round", self.round))
        for acceptor in self.acceptors:
            self.send(acceptor, Prepare(self.ballot))
        self.set_timer(Retry(), self.params["timeout_ticks"])

    def on_promise(self, msg, sender):
        if self.phase != "prepare" or msg.ballot != self.ballot:
            return                                  # an old ballot's promise
        self.promises[sender] = msg.accepted
        if len(self.promises) >= self.majority:
            self.begin_accept()

    def begin_accept(self):
        """Phase 2a: propose the value of the highest-numbered accepted proposal (§2.2, P2c), or our own."""
        highest = highest_accepted(self.promises)
        if highest is not None and "ignore-promises" not in self.bugs:
            if highest[1] != self.asked:
                self.note("adopted", value=highest[1], ballot=highest[0])
            self.proposal = highest[1]
        else:
            self.proposal = self.asked
        self.set_phase("accept")
        for acceptor in self.acceptors:
            self.send(acceptor, Accept(self.ballot, self.proposal))
        self.set_timer(Retry(), self.params["timeout_ticks"])

    def on_nack(self, msg, sender):
        self.round = max(self.round, msg.promised.round)
        if self.phase not in ("prepare", "accept") or msg.ballot != self.ballot:
            return
        # Preempted (§2.4): give this ballot up and wait a random while, so that two dueling
        # proposers stop preempting each other once one of them waits longer than the other.
        self.ballot = None
        self.promises = {}
        self.accepts = set()
        self.attempts += 1
        limit = self.params["backoff_ticks"] * 2 ** min(self.attempts, 4)
        self.set_timer(Retry(), self.rng.randint(1, limit))

    def on_retry(self, timer):
        if self.phase in ("prepare", "accept"):
            self.start_round()

    def decided(self, value, ballot):
        """The proposer sees ``value`` chosen in ``ballot``: its job is done (the value may not be its own)."""
        if self.phase in ("prepare", "accept"):
            self.note("chosen", value=value, ballot=ballot)
            self.set_phase("done")
            self.cancel_timer(Retry())

    # ------------------------------------------------------------------------- acceptor (§2.2, §2.5)
    def on_prepare(self, msg, sender):
        self.round = max(self.round, msg.ballot.round)
        if not _above(msg.ballot, self.promised):
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        if msg.ballot != self.promised:
            self.promised = msg.ballot
            if "forget-promise" not in self.bugs:
                self.save_acceptor()
        self.send(sender, Promise(msg.ballot, self.accepted))

    def on_accept(self, msg, sender):
        self.round = max(self.round, msg.ballot.round)
        if not _above(msg.ballot, self.promised) and "accept-below-promise" not in self.bugs:
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        proposal = (msg.ballot, msg.value)
        if proposal != self.accepted or msg.ballot != self.promised:
            if _above(msg.ballot, self.promised):
                self.promised = msg.ballot
            self.accepted = proposal
            self.save_acceptor()
        for learner in sorted_ids(set(self.learners) | {sender}):
            self.send(learner, Accepted(msg.ballot, msg.value))

    # ------------------------------------------------------------------------- learner (§2.3)
    def on_accepted(self, msg, sender):
        voters = self.tally.get(msg.ballot, frozenset()) | {sender}
        self.tally[msg.ballot] = voters
        if len(voters) >= self.majority:
            if self.learned is None:
                self.learned = msg.value
                self.note("learned", value=msg.value, ballot=msg.ballot)
            self.decided(msg.value, msg.ballot)
        # proposer side: count the acceptors of the current ballot
        if self.phase == "accept" and msg.ballot == self.ballot:
            self.accepts.add(sender)
            if len(self.accepts) >= self.majority:
                self.decided(msg.value, msg.ballot)


# ---------------------------------------------------------------------------------- checkers
class _Acceptances:
    """Follows what each acceptor promised and accepted, from the trace.

    An acceptor *promised* a ballot when it stored that promise or sent a Promise for it; it
    *accepted* a proposal when it stored it or sent Accepted for it (whichever comes first), so
    the checkers do not depend on the protocol's own bookkeeping.
    """

    def __init__(self):
        self.nodes = set()
        self.promised = {}      # acceptor -> highest ballot promised so far
        self.last = {}          # acceptor -> last proposal accepted
        self.votes = {}         # (ballot, value) -> acceptors that accepted it
        self.chosen = {}        # value -> ballot in which it was first chosen
        self.proposed = set()   # values clients asked for

    @property
    def majority(self):
        return len(self.nodes) // 2 + 1

    def follow(self, event):
        """Return the new acceptances in ``event``: ``[(acceptor, ballot, value, promised before)]``."""
        kind = event.kind
        found = []
        if kind == "start":
            self.nodes.add(event.node)
        elif kind == "request" and isinstance(event.data["msg"], Propose):
            self.proposed.add(event.data["msg"].value)
        elif kind == "sent":
            msg, node = event.data["msg"], event.node
            if isinstance(msg, Promise):
                self._promise(node, msg.ballot)
            elif isinstance(msg, Accepted):
                found += self._accept(node, (msg.ballot, msg.value))
        elif kind == "stored":
            for record in event.data["records"]:
                if isinstance(record, Torn) or record[0] != "acceptor":
                    continue
                if record[2] is not None:
                    found += self._accept(event.node, record[2])
                if record[1] is not None:
                    self._promise(event.node, record[1])
        elif kind == "crashed" and event.data.get("disk_lost"):
            self.last.pop(event.node, None)
        return found

    def _promise(self, node, ballot):
        if _above(ballot, self.promised.get(node)):
            self.promised[node] = ballot

    def _accept(self, node, proposal):
        if self.last.get(node) == proposal:
            return []
        self.last[node] = proposal
        before = self.promised.get(node)
        voters = self.votes.setdefault(proposal, set())
        voters.add(node)
        if len(voters) >= self.majority and proposal[1] not in self.chosen:
            self.chosen[proposal[1]] = proposal[0]
        return [(node, proposal[0], proposal[1], before)]


def chosen_history(events):
    """The values chosen in a run, from its trace events: value -> ballot in which it was first chosen.

    A value is chosen once a majority of acceptors accepted it in one ballot (§2.2); the history
    shows it even after the acceptors moved on to higher ballots.
    """
    history = _Acceptances()
    for event in events:
        history.follow(event)
    return dict(history.chosen)


class _Agreement(_Acceptances):
    def __call__(self, event):
        if not self.follow(event) or len(self.chosen) < 2:
            return None
        (v1, b1), (v2, b2) = list(self.chosen.items())[:2]
        nodes = tuple(sorted_ids(self.votes[(b1, v1)] | self.votes[(b2, v2)]))
        return Violation("Agreement", nodes, f"two values chosen: {v1!r} in {b1!r} and {v2!r} in {b2!r} "
                                             f"(each accepted by a majority)")


class _Validity(_Acceptances):
    def __call__(self, event):
        if not self.follow(event):
            return None
        for value, ballot in self.chosen.items():
            if value not in self.proposed:
                return Violation("Validity", tuple(sorted_ids(self.votes[(ballot, value)])),
                                 f"{value!r} was chosen in {ballot!r}, but no client proposed it")
        return None


class _PromiseKept(_Acceptances):
    def __call__(self, event):
        for node, ballot, value, before in self.follow(event):
            if before is not None and ballot < before:
                return Violation("Promise kept", (node,), f"{node} accepted {ballot!r} ({value!r}) after "
                                                          f"promising {before!r}")
        return None


class _LearnersAgree:
    def __init__(self):
        self.first = None       # (node, value)

    def __call__(self, event):
        if event.kind == "note" and event.data["text"] == "learned":
            value = event.data["fields"]["value"]
            if self.first is None:
                self.first = (event.node, value)
            elif value != self.first[1]:
                node = self.first[0]
                return Violation("Learners agree", tuple(dict.fromkeys((node, event.node))),
                                 f"{node} learned {self.first[1]!r} but {event.node} learned {value!r}")
        return None


def _progress(nodes):
    """Once calm, a value is accepted by a majority in one ballot and every running node learned it."""
    if not nodes:
        return []
    some = next(iter(nodes.values()))
    value = chosen_in({i: n.accepted for i, n in nodes.items()}, len(some.acceptors) // 2 + 1)
    if value is None:
        return [Violation("Progress", tuple(sorted_ids(nodes)), "no value is accepted by a majority in one ballot")]
    behind = [i for i in sorted_ids(nodes) if nodes[i].learned != value]
    if behind:
        return [Violation("Progress", tuple(behind), f"{', '.join(behind)} did not learn the chosen {value!r}")]
    return []


#: Safety ("Paxos Made Simple" §2.1 and §2.2): checked after every step.
INVARIANTS = [
    Invariant("Agreement: at most one value is chosen (accepted by a majority of acceptors in one ballot)",
              observe=_Agreement),
    Invariant("Validity: only a value that a client proposed can be chosen", observe=_Validity),
    Invariant("Promise kept: an acceptor never accepts a ballot lower than one it promised",
              observe=_PromiseKept),
    Invariant("Learners agree: no two learners learn different values", observe=_LearnersAgree),
]

#: Liveness (§2.4): once the network is calm and one proposer is active, a value is chosen and learned.
LIVENESS = [
    Liveness("Progress: a value is chosen and every running node learns it", check=_progress,
             within_ticks=1000),
]
