"""Multi-Paxos: a replicated state machine agreed on slot by slot under a distinguished leader.

The code follows Lamport, "Paxos Made Simple" (2001), section 3 ("Implementing a
State Machine"), with the roles and message names of van Renesse & Altinbuken,
"Paxos Made Moderately Complex" (2015).  Every node plays every role: acceptor,
learner, replica, and proposer (leader) when it wins phase 1.

How it runs
-----------
Phase 1, once per leadership (Lamport §3, "phase 1 for infinitely many
instances"): a node that suspects the leader (no ``Heartbeat`` for
``lease_ticks`` plus a random jitter drawn from ``self.rng``) becomes a
*candidate* with a ballot higher than any it has seen and sends
``Prepare(ballot)``.  An acceptor that has promised nothing higher promises,
writes the promise down, and answers ``Promise(ballot, accepted)`` with
*every* slot it has accepted: ``accepted`` maps slot -> ``(ballot, value)``
(a tuple of pairs, ``dict(msg.accepted)`` gives the map).

On promises from a majority the candidate becomes the *leader*.  For every slot
up to the highest one mentioned, it re-proposes the value with the highest
ballot among the promises, and **fills gaps with no-ops** (a slot nobody in the
majority accepted could not have been chosen: a no-op is safe, and without it
the replicas, which apply in slot order, would wait forever).

Phase 2, one round trip per command: the leader puts a client's command in the
next free slot and sends ``Accept(ballot, slot, value)``; an acceptor that has
promised nothing higher accepts, writes it down, and answers
``Accepted(ballot, slot, value)`` to the leader.  A refusal is ``Nack(ballot,
promised)``: the leader (or candidate) learns of a higher ballot and steps down.

Learning (our choice of the two in the brief): acceptors answer the leader only;
once a majority accepted a slot in its ballot, the leader knows the value is
chosen and **broadcasts** ``Decide(slot, value)``.  A ``Decide`` may be lost:
the leader's ``Heartbeat(ballot, applied)`` says how far it has applied, and a
follower that is behind asks ``CatchUp(slot)``; the leader answers with the
``Decide`` messages from that slot on (at most ``max_batch``).  The leader
also re-sends ``Accept`` for its slots not yet chosen at every heartbeat, so a
lost message only delays a slot.

Clients: ``Request(command)``.  A node that is not the leader does not forward:
it **redirects**, answering ``Reply(accepted=False, leader=<who it follows>,
slot=0)``; the leader answers ``Reply(True, <itself>, slot)`` once the command
has a slot (not once it is chosen).

Replicas apply chosen commands **in slot order** to a small key-value store:
``("put", key, value)``, ``("append", key, text)``, ``("noop",)``.  A slot chosen
early waits for every slot before it.

Ballots are ``Ballot(round, node)``, ordered by round then node id in natural
order (:func:`fttoolkit.core.ids.id_key`: ``n9`` before ``n10``).

State
-----
Stable (written before any reply that depends on it): ``promised`` and
``accepted``, as records ``("promise", ballot)`` and ``("accept", slot,
ballot, value)`` (an accept also raises the promise).  Volatile: ``role``
(``"follower"``, ``"candidate"``, ``"leader"``), ``ballot`` (the one this node
leads or tries to lead with, else ``None``), ``leader``, ``chosen`` (slot ->
value known chosen), ``applied`` (slots 1..applied are applied), ``kv``; on a
leader ``proposals`` (slot -> value it proposes), ``votes`` (slot -> the
acceptors that accepted it) and ``proposed_at`` (when it last sent the slot's
Accepts); on a candidate ``promises``.

Bug zoo
-------
``ignore-promises``
    a new leader ignores the values reported in the promises and fills every slot
    it does not know chosen with a no-op: a value already chosen can be replaced
    (Agreement breaks);
``no-gap-fill``
    a new leader re-proposes the reported values but leaves the gaps empty: the
    replicas wait forever for a slot nobody proposes (liveness breaks);
``accept-below-promise``
    an acceptor accepts any ballot, even one below its promise (Promise kept breaks).

Examples
--------
>>> node = MultiPaxosNode("n1", peers=("n2", "n3"))
>>> _ = node.start([])
>>> node.role, node.ballot, node.promised, node.applied
('follower', None, None, 0)
>>> out = node.handle_timer(LeaderTimeout())
>>> node.role, node.ballot, out[0]
('candidate', (1, n1), Persist(('promise', (1, n1))))
>>> node.handle_message(Promise(Ballot(1, "n1"), ()), "n2")[1:3]
[Note('became leader', ballot=(1, n1)), Send(->n2 Heartbeat(ballot=(1, n1), applied=0))]
>>> node.role
'leader'

Notes
-----
Lamport, "Paxos Made Simple", ACM SIGACT News 32(4), 2001, §2 (the synod
algorithm: P1a/P1b/P2a/P2b) and §3 (a leader, phase 1 once for all instances,
no-ops for gaps).  R. van Renesse and D. Altinbuken, "Paxos Made Moderately
Complex", ACM Computing Surveys 47(3), 2015 (leader, scout, commander, replica;
``pvalues`` in the P1b reply).
"""

from typing import NamedTuple

from ..core.ids import id_key
from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["MultiPaxosNode", "Ballot", "NOOP", "Prepare", "Promise", "Accept", "Accepted", "Nack", "Decide",
           "Heartbeat", "CatchUp", "Request", "Reply", "LeaderTimeout", "HeartbeatTick", "apply_command",
           "check_command", "INVARIANTS", "LIVENESS"]

#: The command a new leader proposes for a slot nobody reported (a gap).
NOOP = ("noop",)


class Ballot(NamedTuple):
    """A ballot number ``(round, node)``: higher round first, then node id in natural order.

    >>> Ballot(1, "n9") < Ballot(1, "n10") < Ballot(2, "n1")
    True
    """

    round: int
    node: str

    @property
    def key(self):
        return (self.round, id_key(self.node))

    def __lt__(self, other):
        return self.key < other.key

    def __le__(self, other):
        return self.key <= other.key

    def __gt__(self, other):
        return self.key > other.key

    def __ge__(self, other):
        return self.key >= other.key

    def __repr__(self):
        return f"({self.round}, {self.node})"


def _at_least(ballot, promised):
    """``ballot >= promised``, where ``promised`` may be ``None`` (nothing promised yet)."""
    return promised is None or ballot >= promised


def _command(value):
    if isinstance(value, tuple):
        return " ".join(str(part) for part in value)
    return repr(value)


# ---------------------------------------------------------------------------- messages
class Prepare(Message):
    """P1a, candidate -> acceptors: promise to accept nothing below ``ballot``, for every slot."""

    ballot: Ballot


class Promise(Message):
    """P1b: the promise, with every slot this acceptor accepted: pairs ``(slot, (ballot, value))``."""

    ballot: Ballot
    accepted: tuple

    def __repr__(self):
        inner = ", ".join(f"{s}: {b}/{_command(v)}" for s, (b, v) in self.accepted)
        return f"Promise(ballot={self.ballot}, accepted={{{inner}}})"


class Accept(Message):
    """P2a, leader -> acceptors: accept ``value`` for ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: int
    value: object

    def __repr__(self):
        return f"Accept(ballot={self.ballot}, slot={self.slot}, {_command(self.value)})"


class Accepted(Message):
    """P2b, acceptor -> leader: I accepted ``value`` for ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: int
    value: object

    def __repr__(self):
        return f"Accepted(ballot={self.ballot}, slot={self.slot}, {_command(self.value)})"


class Nack(Message):
    """A refusal of ``ballot`` (a Prepare, an Accept or a Heartbeat): I promised ``promised``."""

    ballot: Ballot
    promised: Ballot


class Decide(Message):
    """Leader -> everybody: ``value`` is chosen for ``slot`` (a majority accepted it in one ballot)."""

    slot: int
    value: object

    def __repr__(self):
        return f"Decide(slot={self.slot}, {_command(self.value)})"


class Heartbeat(Message):
    """Leader -> followers, every ``heartbeat_ticks``: I lead with ``ballot``; I applied slots 1..``applied``."""

    ballot: Ballot
    applied: int


class CatchUp(Message):
    """Follower -> leader: send me the decisions from ``slot`` on (I missed some ``Decide``)."""

    slot: int


class Request(Message):
    """A client asks the cluster to run ``command``."""

    command: object

    def __repr__(self):
        return f"Request({_command(self.command)})"


class Reply(Message):
    """To a client: ``accepted`` with the ``slot`` given to the command; otherwise ``leader`` is who to ask."""

    accepted: bool
    leader: object
    slot: int


class LeaderTimeout(Timer):
    """No word from a leader for a while (the lease ran out): run phase 1."""


class HeartbeatTick(Timer):
    """Leader: time to send heartbeats and to re-send the Accepts of slots not yet chosen."""


# ---------------------------------------------------------------------------- state machine
_SHAPES = {"put": 3, "append": 3, "noop": 1}


def check_command(command):
    """Return ``None`` if ``command`` is a command of the key-value store, else why not (a string).

    >>> check_command(("put", "x", 1)) is None, check_command(("get", "x"))
    (True, "unknown command 'get': commands are ('put', key, value), ('append', key, text), ('noop',)")
    """
    if not isinstance(command, tuple) or not command:
        return f"a command is a tuple such as ('put', 'x', 1); got {command!r}"
    op = command[0]
    if op not in _SHAPES:
        return (f"unknown command {op!r}: commands are ('put', key, value), ('append', key, text), "
                f"('noop',)")
    if len(command) != _SHAPES[op]:
        return f"{op!r} takes {_SHAPES[op] - 1} argument(s); got {command!r}"
    try:
        hash(command)
    except TypeError:
        return f"a command must be immutable; got {command!r}"
    return None


def apply_command(kv, command):
    """Apply one chosen command to the key-value store ``kv`` (a dict).

    >>> kv = {}
    >>> apply_command(kv, ("put", "x", "a")); apply_command(kv, ("append", "x", "b")); apply_command(kv, NOOP)
    >>> kv
    {'x': 'ab'}
    """
    if not isinstance(command, tuple) or not command:
        return
    if command[0] == "put":
        kv[command[1]] = command[2]
    elif command[0] == "append":
        kv[command[1]] = str(kv.get(command[1], "")) + str(command[2])


# ---------------------------------------------------------------------------- the node
class MultiPaxosNode(Node):
    """One Multi-Paxos server: acceptor, learner, replica, and leader when it wins phase 1."""

    params = {"lease_ticks": 150, "heartbeat_ticks": 50, "max_batch": 64}
    bugs = {
        "ignore-promises": "a new leader ignores the accepted values in the promises and fills unknown "
                           "slots with no-ops",
        "no-gap-fill": "a new leader does not fill the gaps with no-ops: the replicas wait forever",
        "accept-below-promise": "an acceptor accepts a ballot below the one it promised",
    }

    # ------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.promised = None
        self.accepted = {}
        for record in records:
            if isinstance(record, Torn):        # a write cut short by a crash: it never happened
                continue
            if record[0] == "promise":
                self.raise_promise(record[1])
            elif record[0] == "accept":
                _, slot, ballot, value = record
                self.accepted[slot] = (ballot, value)
                self.raise_promise(ballot)
        self.top_round = self.promised.round if self.promised else 0
        self.chosen = {}
        self.applied = 0
        self.kv = {}
        self.leader = None
        self.ballot = None
        self.promises = {}
        self.proposals = {}
        self.votes = {}
        self.proposed_at = {}
        self.next_slot = 1
        self.become_follower()

    # ------------------------------------------------------------------------- helpers
    @property
    def majority(self):
        return (len(self.peers) + 1) // 2 + 1

    def raise_promise(self, ballot):
        if self.promised is None or ballot > self.promised:
            self.promised = ballot

    def seen(self, ballot):
        """Remember the highest round seen, so that the next ballot of this node is higher."""
        if ballot is not None and ballot.round > self.top_round:
            self.top_round = ballot.round

    def arm_lease(self):
        """Suspect the leader after ``lease_ticks`` plus a random jitter (so that suspicions rarely tie)."""
        base = self.params["lease_ticks"]
        self.set_timer(LeaderTimeout(), base + self.rng.randint(0, base))

    def become_follower(self, leader=None):
        if self.role == "leader":
            self.cancel_timer(HeartbeatTick())
        self.role = "follower"
        self.ballot = None
        self.leader = leader
        self.promises, self.proposals, self.votes, self.proposed_at = {}, {}, {}, {}
        self.arm_lease()

    def outranked(self, ballot):
        """A higher ballot was seen: a leader or candidate with a lower one steps down."""
        self.seen(ballot)
        if self.role != "follower" and ballot > self.ballot:
            self.note("step down", ballot=self.ballot, seen=ballot)
            self.become_follower()

    # ------------------------------------------------------------------------- phase 1: candidate
    def on_leader_timeout(self, timer):
        if self.role != "leader":
            self.start_phase1()

    def start_phase1(self):
        self.seen(self.promised)
        self.ballot = Ballot(self.top_round + 1, self.id)
        self.seen(self.ballot)
        self.role = "candidate"
        self.leader = None
        self.proposals, self.votes, self.proposed_at = {}, {}, {}
        self.promised = self.ballot                      # promise to myself, durably, before asking
        self.persist(("promise", self.ballot))
        self.promises = {self.id: dict(self.accepted)}
        self.note("phase 1", ballot=self.ballot)
        self.arm_lease()                                 # no majority in time: try again, higher
        self.broadcast(Prepare(self.ballot))
        self.check_promises()

    def on_promise(self, msg, sender):
        if self.role != "candidate" or msg.ballot != self.ballot:
            return                                       # stale: an old phase 1, or already leader
        self.promises[sender] = dict(msg.accepted)
        self.check_promises()

    def check_promises(self):
        if self.role == "candidate" and len(self.promises) >= self.majority:
            self.become_leader()

    def become_leader(self):
        if self.role != "candidate":
            raise RuntimeError(f"{self.id}: only a candidate can become leader (role {self.role})")
        self.role = "leader"
        self.leader = self.id
        self.cancel_timer(LeaderTimeout())
        self.note("became leader", ballot=self.ballot)
        # Lamport §3: for each slot, the value with the highest ballot among the promises (or a no-op)
        best = {}
        for reported in self.promises.values():
            for slot, (ballot, value) in reported.items():
                if slot not in best or ballot > best[slot][0]:
                    best[slot] = (ballot, value)
        self.promises = {}
        top = max(list(best) + list(self.chosen), default=0)
        self.next_slot = top + 1
        self.heartbeat()
        for slot in range(1, top + 1):
            if slot in self.chosen:
                continue
            if slot in best and "ignore-promises" not in self.bugs:
                self.note("re-propose", slot=slot, value=best[slot][1], was=best[slot][0])
                self.propose(slot, best[slot][1])
            elif "no-gap-fill" not in self.bugs:
                self.note("fill gap", slot=slot)
                self.propose(slot, NOOP)

    # ------------------------------------------------------------------------- phase 2: leader
    def on_request(self, msg, sender):
        if self.role != "leader":
            self.send(sender, Reply(False, self.leader, 0))      # redirect: the client asks the leader
            return
        slot = self.next_slot
        self.next_slot += 1
        self.send(sender, Reply(True, self.id, slot))
        self.propose(slot, msg.command)

    def propose(self, slot, value):
        """Phase 2 for ``slot``: accept it myself (durably), then ask every acceptor."""
        self.proposals[slot] = value
        self.proposed_at[slot] = self.now
        self.accept_here(slot, self.ballot, value)
        self.votes[slot] = frozenset({self.id})
        self.broadcast(Accept(self.ballot, slot, value))
        self.check_chosen(slot)

    def on_accepted(self, msg, sender):
        if self.role != "leader" or msg.ballot != self.ballot or msg.slot not in self.votes:
            return
        self.votes[msg.slot] = self.votes[msg.slot] | {sender}
        self.check_chosen(msg.slot)

    def check_chosen(self, slot):
        if slot in self.chosen or len(self.votes[slot]) < self.majority:
            return
        value = self.proposals[slot]
        self.note("chosen", slot=slot, value=value, ballot=self.ballot)
        self.broadcast(Decide(slot, value))
        self.learn(slot, value)

    def on_nack(self, msg, sender):
        if self.role != "follower" and msg.ballot == self.ballot:
            self.outranked(msg.promised)
        else:
            self.seen(msg.promised)

    def heartbeat(self):
        self.broadcast(Heartbeat(self.ballot, self.applied))
        self.set_timer(HeartbeatTick(), self.params["heartbeat_ticks"])

    def on_heartbeat_tick(self, timer):
        if self.role != "leader":
            return
        self.heartbeat()
        due = self.now - self.params["heartbeat_ticks"]
        waiting = [s for s in sorted(self.proposals)
                   if s not in self.chosen and self.proposed_at[s] <= due][:self.params["max_batch"]]
        for slot in waiting:                      # no majority after a whole heartbeat: a message was lost
            missing = [p for p in self.peers if p not in self.votes[slot]]
            self.broadcast(Accept(self.ballot, slot, self.proposals[slot]), to=missing)
            self.proposed_at[slot] = self.now

    def on_catch_up(self, msg, sender):
        if self.role != "leader":
            return
        known = [s for s in sorted(self.chosen) if s >= msg.slot][:self.params["max_batch"]]
        for slot in known:
            self.send(sender, Decide(slot, self.chosen[slot]))

    # ------------------------------------------------------------------------- acceptor
    def on_prepare(self, msg, sender):
        self.seen(msg.ballot)
        if self.promised is not None and msg.ballot < self.promised:
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        if msg.ballot != self.promised:
            self.outranked(msg.ballot)
            self.promised = msg.ballot
            self.persist(("promise", msg.ballot))         # stable storage before the reply
            self.leader = None
            self.arm_lease()                               # give the candidate time to finish phase 1
        self.send(sender, Promise(msg.ballot, tuple(sorted(self.accepted.items()))))

    def accept_here(self, slot, ballot, value):
        self.accepted[slot] = (ballot, value)
        self.raise_promise(ballot)
        self.persist(("accept", slot, ballot, value))

    def on_accept(self, msg, sender):
        self.seen(msg.ballot)
        if not _at_least(msg.ballot, self.promised) and "accept-below-promise" not in self.bugs:
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        if sender != self.id and self.role != "follower" and msg.ballot > self.ballot:
            self.outranked(msg.ballot)
        if self.role == "follower" and _at_least(msg.ballot, self.promised):
            self.leader = sender
            self.arm_lease()
        if self.accepted.get(msg.slot) != (msg.ballot, msg.value):    # not a duplicate: write it down
            self.accept_here(msg.slot, msg.ballot, msg.value)
        self.send(sender, Accepted(msg.ballot, msg.slot, msg.value))

    # ------------------------------------------------------------------------- learner and replica
    def on_heartbeat(self, msg, sender):
        self.seen(msg.ballot)
        if not _at_least(msg.ballot, self.promised):
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        if self.role != "follower" and msg.ballot > self.ballot:
            self.outranked(msg.ballot)
        if self.role == "follower":
            self.leader = sender
            self.arm_lease()
            if self.applied < msg.applied:
                self.send(sender, CatchUp(self.applied + 1))

    def on_decide(self, msg, sender):
        self.learn(msg.slot, msg.value)

    def learn(self, slot, value):
        if slot not in self.chosen:
            self.chosen[slot] = value
            self.apply_chosen()

    def apply_chosen(self):
        """Apply the chosen commands in slot order; stop at the first slot not yet chosen (Lamport §3)."""
        while self.applied + 1 in self.chosen:
            self.applied += 1
            command = self.chosen[self.applied]
            apply_command(self.kv, command)
            self.note("apply", slot=self.applied, command=command)


# ---------------------------------------------------------------------------------- checkers
def _note(event, text):
    return event.kind == "note" and event.data["text"] == text


def _accept_records(event):
    if event.kind == "stored":
        for record in event.data["records"]:
            if not isinstance(record, Torn) and record[0] == "accept":
                yield record


class _Agreement:
    """Chosen = a majority of acceptors accepted one ballot for a slot, rebuilt from their stored records."""

    def __init__(self):
        self.nodes = set()
        self.voters = {}         # (slot, ballot) -> (value, frozenset of acceptors)
        self.chosen = {}         # slot -> (value, ballot) first chosen

    def __call__(self, event):
        if event.kind == "start":
            self.nodes.add(event.node)
        found = []
        for _, slot, ballot, value in _accept_records(event):
            old_value, voters = self.voters.get((slot, ballot), (value, frozenset()))
            if old_value != value:
                found.append(Violation("Agreement", (event.node,),
                                       f"slot {slot}: ballot {ballot} carries both {old_value!r} and {value!r}"))
            voters = voters | {event.node}
            self.voters[(slot, ballot)] = (value, voters)
            if len(voters) >= len(self.nodes) // 2 + 1:
                first, at = self.chosen.setdefault(slot, (value, ballot))
                if first != value:
                    found.append(Violation("Agreement", tuple(sorted(voters, key=id_key)),
                                           f"slot {slot}: {first!r} was chosen in ballot {at}, then {value!r} "
                                           f"in ballot {ballot}"))
        if _note(event, "chosen"):
            f = event.data["fields"]
            truth = self.chosen.get(f["slot"])
            if truth is None or truth[0] != f["value"]:
                found.append(Violation("Agreement", (event.node,),
                                       f"slot {f['slot']}: {event.node} learned {f['value']!r} but the acceptors "
                                       f"chose {truth[0] if truth else 'nothing'!r}"))
        return found or None


class _Validity:
    """Only a command some client proposed, or a no-op, can be accepted (hence chosen)."""

    def __init__(self):
        self.proposed = {NOOP}

    def __call__(self, event):
        if event.kind == "request" and isinstance(event.data["msg"], Request):
            self.proposed.add(event.data["msg"].command)
        for _, slot, _, value in _accept_records(event):
            if value not in self.proposed:
                return Violation("Validity", (event.node,), f"slot {slot}: {value!r} was never proposed")
        return None


class _PromiseKept:
    """An acceptor never accepts a ballot below the one it promised (checked on its stored records)."""

    def __init__(self):
        self.promised = {}

    def __call__(self, event):
        if event.kind == "crashed" and event.data.get("disk_lost"):
            self.promised.pop(event.node, None)
        if event.kind != "stored":
            return None
        found = None
        for record in event.data["records"]:
            if isinstance(record, Torn):
                continue
            ballot = record[1] if record[0] == "promise" else record[2] if record[0] == "accept" else None
            if ballot is None:
                continue
            before = self.promised.get(event.node)
            if record[0] == "accept" and before is not None and ballot < before:
                found = Violation("Promise kept", (event.node,),
                                  f"{event.node} accepted slot {record[1]} in ballot {ballot} after promising {before}")
            if before is None or ballot > before:
                self.promised[event.node] = ballot
        return found


class _SameAppliedEverywhere:
    def __init__(self):
        self.applied = {}        # slot -> (node, command) applied first

    def __call__(self, event):
        if _note(event, "apply"):
            f = event.data["fields"]
            node, command = self.applied.setdefault(f["slot"], (event.node, f["command"]))
            if command != f["command"]:
                return Violation("State machine safety", tuple(dict.fromkeys((node, event.node))),
                                 f"slot {f['slot']}: {node} applied {command!r} but {event.node} "
                                 f"applied {f['command']!r}")
        return None


def _progress(nodes):
    """Once calm: a leader holds the highest ballot, and every running node applied all it proposed."""
    if not nodes:
        return []
    promised = [n.promised for n in nodes.values() if n.promised is not None]
    top = max(promised) if promised else None
    leaders = [n for n in nodes.values() if n.role == "leader" and n.ballot == top]
    if not leaders:
        return [Violation("Progress", tuple(nodes), f"no leader with the highest ballot {top}")]
    lead = leaders[0]
    behind = [i for i, n in nodes.items() if n.applied < lead.next_slot - 1]
    if behind:
        return [Violation("Progress", tuple(behind),
                          f"leader {lead.id} proposed slots 1..{lead.next_slot - 1}; "
                          + ", ".join(f"{i} applied {nodes[i].applied}" for i in behind))]
    return []


#: Safety, checked after every step.
INVARIANTS = [
    Invariant("Agreement: at most one value is chosen per slot (a majority accepted it in one ballot)",
              observe=_Agreement),
    Invariant("Validity: only a command a client proposed, or a no-op, is chosen", observe=_Validity),
    Invariant("Promise kept: an acceptor never accepts a ballot below its promise", observe=_PromiseKept),
    Invariant("State machine safety: every replica applies the same command at each slot",
              observe=_SameAppliedEverywhere),
]

#: Liveness: once calm, a single leader with the highest ballot, and every slot it proposed applied everywhere.
LIVENESS = [
    Liveness("Progress: a leader is in place and every running node applied every slot it proposed",
             check=_progress, within_ticks=1000),
]
