"""PBFT in brief: agreement on one request among 3f+1 replicas, f of which may lie.

The normal-case protocol of Castro & Liskov, "Practical Byzantine Fault
Tolerance" (OSDI 1999, §4.2), for requests ordered in ONE view.  The primary of
view ``v`` is replica ``v mod n`` (``n1`` in view 0); the others are backups.

* A client sends :class:`Request` to the primary.
* **Pre-prepare**: the primary gives the request a sequence number ``seq`` and
  sends ``PrePrepare(view, seq, digest, request)`` to every backup.  A backup
  accepts it if it comes from the primary of its view, the digest is the
  request's, and it has not accepted a *different* digest for ``(view, seq)``.
* **Prepare**: a backup that accepts sends ``Prepare(view, seq, digest)`` to
  every other replica.  A replica is **prepared** once it holds the PrePrepare
  and ``q - 1`` matching Prepares from different backups (its own included);
  ``q`` is the quorum size, ``2f + 1`` when ``n = 3f + 1``.
* **Commit**: a prepared replica sends ``Commit(view, seq, digest)`` to every
  other replica; it **commits** (executes the request and sends a
  :class:`Reply` to the client) once it is prepared and holds ``q`` matching
  Commits, its own included.  The client accepts a result when ``f + 1``
  replicas reply with it: at least one of them is honest.

With ``n`` replicas of which at most ``f = (n - 1) // 3`` are faulty, a quorum
has ``q = ceil((n + f + 1) / 2)`` replicas, so two quorums share at least
``2q - n >= f + 1`` replicas: at least one honest replica, which never
prepares two digests for one ``(view, seq)``.  Hence no two honest replicas
prepare, and so commit, different requests at the same ``(view, seq)``.

Byzantine replicas
------------------
The parameter ``byzantine`` names the faulty replicas and how they misbehave,
as ``"n1:equivocate,n4:lie"`` (see :data:`BEHAVIOURS`).  The faulty replicas
collude: they know one another and split the honest replicas into two halves,
telling the first half (the larger, when it is odd) the true request and the
second half a forged one (:func:`forged`).  In PBFT requests are signed by
their clients, so a forged request stands for another client's genuine request
that a faulty primary orders in the same slot.

Not modelled (this is an illustration): view changes, which replace a faulty
or silent primary (§4.4); checkpoints and garbage collection (§4.3);
retransmission; message authentication (channels are assumed authenticated:
the receiver knows the sender); execution in sequence-number order.

Bug zoo
-------
``small-quorum``
    quorums of ``f + 1`` instead of ``ceil((n + f + 1) / 2)``: two quorums may
    then share only faulty replicas.

Examples
--------
>>> quorum_size(4), quorum_size(7), quorum_size(5)
(3, 5, 4)
>>> backup = PbftNode("n2", peers=("n1", "n3", "n4"))
>>> _ = backup.start([])
>>> request = Request("x")
>>> out = backup.handle_message(PrePrepare(0, 1, digest(request), request), "n1")
>>> out[-1]
Send(->n4 Prepare(v0, #1, d=b0b8fa))
>>> _ = backup.handle_message(Prepare(0, 1, digest(request)), "n3")
>>> backup.phase
{1: 'prepared'}
"""

import hashlib

from ..core.errors import BadParameter
from ..core.ids import sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Violation
from ..core.messages import Message
from ..core.node import Node

__all__ = ["PbftNode", "Request", "PrePrepare", "Prepare", "Commit", "Reply", "BEHAVIOURS", "digest",
           "forged", "max_faulty", "quorum_size", "parse_byzantine", "format_byzantine", "INVARIANTS"]

#: What a Byzantine replica does, by name.
BEHAVIOURS = {
    "equivocate": "tells one half of the honest replicas the true request and the other half a forged one "
                  "(PrePrepare as the primary; Prepare and Commit as a backup, and as the primary)",
    "silent": "sends nothing at all",
    "lie": "sends messages for a forged request to everyone: as the primary a PrePrepare, as a backup "
           "Prepare and Commit",
}


def max_faulty(n):
    """The number of faulty replicas ``n`` replicas tolerate: ``f = (n - 1) // 3``.

    >>> [max_faulty(n) for n in (1, 3, 4, 6, 7)]
    [0, 0, 1, 1, 2]
    """
    return (n - 1) // 3


def quorum_size(n, f=None):
    """``ceil((n + f + 1) / 2)``: any two quorums share ``f + 1`` replicas (``2f + 1`` when ``n = 3f + 1``).

    >>> quorum_size(4), quorum_size(10)
    (3, 7)
    """
    f = max_faulty(n) if f is None else f
    return (n + f) // 2 + 1


def digest(request):
    """A short digest of a request, from SHA-256 (never Python's salted ``hash``).

    >>> digest(Request("x"))
    'b0b8fa'
    """
    text = repr((request.operation, request.client))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def forged(request):
    """The request a faulty replica substitutes: the same client, the operation primed.

    >>> forged(Request("x"))
    Request("x'")
    """
    op = request.operation
    return Request(f"{op}'" if isinstance(op, str) else (op, "'"), request.client)


def parse_byzantine(spec, ids=None):
    """``"n1:equivocate,n4:lie"`` (or a dict) -> ``{"n1": "equivocate", "n4": "lie"}``.

    Raises :class:`BadParameter` for an unknown behaviour, a malformed item, or
    (when ``ids`` is given) a replica that is not in the cluster.

    >>> parse_byzantine("n4:lie,n1:equivocate")
    {'n1': 'equivocate', 'n4': 'lie'}
    >>> parse_byzantine("")
    {}
    """
    if isinstance(spec, dict):
        items = list(spec.items())
    elif isinstance(spec, str):
        items = []
        for word in (w.strip() for w in spec.split(",")):
            node, sep, how = word.partition(":")
            if word and (not sep or not node or not how):
                raise BadParameter(f"byzantine is written 'n1:equivocate,n4:lie'; got item {word!r}")
            if word:
                items.append((node.strip(), how.strip()))
    else:
        raise BadParameter(f"byzantine is a string such as 'n1:equivocate,n4:lie'; got {spec!r}")
    out = {}
    for node, how in items:
        if how not in BEHAVIOURS:
            raise BadParameter(f"unknown Byzantine behaviour {how!r} for {node}; behaviours: "
                               f"{', '.join(sorted(BEHAVIOURS))}")
        if ids is not None and node not in ids:
            raise BadParameter(f"byzantine names {node!r}, which is not a replica ({', '.join(ids)})")
        out[node] = how
    return {node: out[node] for node in sorted_ids(out)}


def format_byzantine(faulty):
    """The inverse of :func:`parse_byzantine`.

    >>> format_byzantine({"n4": "lie", "n1": "silent"})
    'n1:silent,n4:lie'
    """
    return ",".join(f"{node}:{faulty[node]}" for node in sorted_ids(faulty))


# ------------------------------------------------------------------------------- messages
class Request(Message):
    """A client's request ``<REQUEST, o, t, c>``: the operation ``o`` and the client ``c``."""

    operation: object
    client: str = "client"

    def __repr__(self):
        return f"Request({self.operation!r})" if self.client == "client" else \
            f"Request({self.operation!r}, client={self.client})"


class PrePrepare(Message):
    """Phase 1: the primary assigns sequence number ``seq`` to the request with ``digest``."""

    view: int
    seq: int
    digest: str
    request: Request

    def __repr__(self):
        return f"PrePrepare(v{self.view}, #{self.seq}, d={self.digest}, {self.request.operation!r})"


class _Vote(Message):
    view: int
    seq: int
    digest: str

    def __repr__(self):
        return f"{type(self).__name__}(v{self.view}, #{self.seq}, d={self.digest})"


class Prepare(_Vote):
    """Phase 2: a backup agrees to the primary's assignment of ``seq`` to ``digest``."""


class Commit(_Vote):
    """Phase 3: a prepared replica is ready to execute the request at ``seq``."""


class Reply(Message):
    """A replica executed the request at ``seq``; ``result`` is the operation it executed."""

    view: int
    seq: int
    result: object

    def __repr__(self):
        return f"Reply(v{self.view}, #{self.seq}, {self.result!r})"


# ------------------------------------------------------------------------------- the node
class PbftNode(Node):
    """A PBFT replica, honest or Byzantine (module docstring).

    Parameters (``params``): ``view`` (the view number; its primary is replica
    ``view mod n`` in natural order), ``byzantine`` (the faulty replicas and
    their :data:`BEHAVIOURS`, e.g. ``"n1:equivocate"``).

    State: ``accepted`` (seq -> (digest, request) of the PrePrepare accepted),
    ``prepares`` and ``commits`` (seq -> digest -> senders), ``phase`` (seq ->
    "pre-prepared", "prepared" or "committed"), ``executed`` (seq -> operation),
    ``behaviour`` (``None`` when honest).

    Notes
    -----
    Castro & Liskov, "Practical Byzantine Fault Tolerance" (1999), §4.2: the
    predicates *prepared* (PrePrepare plus 2f matching Prepares from different
    backups) and *committed-local* (prepared plus 2f + 1 matching Commits).
    An honest replica persists the PrePrepare it accepted before it sends its
    Prepare, so that after a restart it cannot accept another digest for the
    same slot.
    """

    params = {"view": 0, "byzantine": ""}
    bugs = {"small-quorum": "quorums of f+1 replicas instead of 2f+1 (of ceil((n+f+1)/2) in general)"}

    def on_start(self, records):
        ids = sorted_ids((self.id,) + self.peers)
        self.n, self.f = len(ids), max_faulty(len(ids))
        self.quorum = self.f + 1 if "small-quorum" in self.bugs else quorum_size(self.n, self.f)
        self.view = self.params["view"]
        self.primary = ids[self.view % self.n]
        self.role = "primary" if self.id == self.primary else "backup"
        self.faulty = parse_byzantine(self.params["byzantine"], ids)
        self.behaviour = self.faulty.get(self.id)
        honest = [i for i in ids if i not in self.faulty]
        half = (len(honest) + 1) // 2
        self.sides = (tuple(honest[:half]), tuple(honest[half:]))   # who hears the truth, who the forgery
        self.accepted, self.prepares, self.commits, self.phase, self.executed = {}, {}, {}, {}, {}
        self.next_seq = 1
        for record in (r for r in records if not isinstance(r, Torn)):     # a torn write never happened
            if record[0] == "pre-prepare":
                _, view, seq, d, request = record
                self.accepted[seq], self.phase[seq] = (d, request), "pre-prepared"
                self.next_seq = max(self.next_seq, seq + 1)
            elif record[0] == "executed":
                self.phase[record[2]], self.executed[record[2]] = "committed", record[3]

    # ---------------------------------------------------------------------------- honest
    def on_request(self, msg, sender):
        if self.behaviour is not None:
            return self._byzantine_request(msg)
        if self.id != self.primary:
            self.note("not the primary: request ignored", primary=self.primary)
            return
        seq, d = self.next_seq, digest(msg)
        self.next_seq += 1
        self._accept(seq, d, msg)
        self.broadcast(PrePrepare(self.view, seq, d, msg))

    def on_pre_prepare(self, msg, sender):
        if self.behaviour is not None:
            return self._byzantine_pre_prepare(msg)
        if sender != self.primary or msg.view != self.view:
            self.note("PrePrepare ignored: not from the primary of this view", seq=msg.seq, sender=sender)
        elif digest(msg.request) != msg.digest:
            self.note("PrePrepare ignored: wrong digest", seq=msg.seq)
        elif msg.seq in self.accepted:
            if self.accepted[msg.seq][0] != msg.digest:
                self.note("conflicting PrePrepare ignored", seq=msg.seq, kept=self.accepted[msg.seq][0],
                          got=msg.digest)
        else:
            self._accept(msg.seq, msg.digest, msg.request)
            self.prepares.setdefault(msg.seq, {}).setdefault(msg.digest, set()).add(self.id)
            self.broadcast(Prepare(self.view, msg.seq, msg.digest))
            self._advance(msg.seq)

    def on_prepare(self, msg, sender):
        if self.behaviour is None and msg.view == self.view and sender != self.primary:
            self.prepares.setdefault(msg.seq, {}).setdefault(msg.digest, set()).add(sender)
            self._advance(msg.seq)

    def on_commit(self, msg, sender):
        if self.behaviour is None and msg.view == self.view:
            self.commits.setdefault(msg.seq, {}).setdefault(msg.digest, set()).add(sender)
            self._advance(msg.seq)

    def on_reply(self, msg, sender):
        """Replicas do not expect replies (a Byzantine one might send one anyway): ignored."""

    def _accept(self, seq, d, request):
        """Log the PrePrepare durably, THEN act on it (no other digest for this slot, even after a crash)."""
        self.persist(("pre-prepare", self.view, seq, d, request))
        self.accepted[seq], self.phase[seq] = (d, request), "pre-prepared"

    def _advance(self, seq):
        """Check the prepared and committed-local predicates for ``seq`` (§4.2)."""
        if seq not in self.accepted:
            return
        d, request = self.accepted[seq]
        if self.phase[seq] == "pre-prepared" and len(self.prepares.get(seq, {}).get(d, ())) >= self.quorum - 1:
            self.phase[seq] = "prepared"
            self.note("prepared", view=self.view, seq=seq, digest=d, value=request.operation)
            self.commits.setdefault(seq, {}).setdefault(d, set()).add(self.id)
            self.broadcast(Commit(self.view, seq, d))
        if self.phase[seq] == "prepared" and len(self.commits.get(seq, {}).get(d, ())) >= self.quorum:
            self.phase[seq], self.executed[seq] = "committed", request.operation
            self.persist(("executed", self.view, seq, request.operation))
            self.note("committed", view=self.view, seq=seq, digest=d, value=request.operation)
            self.send(request.client, Reply(self.view, seq, request.operation))

    # ---------------------------------------------------------------------------- Byzantine
    def _story(self, request, to):
        """What the colluding faulty replicas tell replica ``to`` about ``request``."""
        if self.behaviour == "lie" or (self.behaviour == "equivocate" and to in self.sides[1]):
            return forged(request)
        return request

    def _byzantine_request(self, msg):
        if self.behaviour == "silent" or self.id != self.primary:
            return
        seq = self.next_seq
        self.next_seq += 1
        self.note("lies" if self.behaviour == "lie" else "equivocates", seq=seq)
        for peer in self.peers:
            told = msg if peer in self.faulty else self._story(msg, peer)
            self.send(peer, PrePrepare(self.view, seq, digest(told), told))
        if self.behaviour == "equivocate":          # and backs each half's story with its own Commit
            self._vote(Commit, seq, msg)

    def _byzantine_pre_prepare(self, msg):
        if self.behaviour == "silent" or msg.seq in self.accepted:
            return
        self.accepted[msg.seq] = (msg.digest, msg.request)
        self.note("lies" if self.behaviour == "lie" else "equivocates", seq=msg.seq)
        self._vote(Prepare, msg.seq, msg.request)
        self._vote(Commit, msg.seq, msg.request)

    def _vote(self, cls, seq, request):
        for peer in self.peers:
            if peer not in self.faulty:
                self.send(peer, cls(self.view, seq, digest(self._story(request, peer))))


# ---------------------------------------------------------------------------------- checkers
class _SameValue:
    """Honest replicas' notes ``text`` (prepared / committed): one value per (view, seq)."""

    text = name = None

    def __init__(self):
        self.seen = {}        # (view, seq) -> {value repr: (value, {nodes})}

    def __call__(self, event):
        if event.kind != "note" or event.data["text"] != self.text:
            return None
        fields = event.data["fields"]
        slot = self.seen.setdefault((fields["view"], fields["seq"]), {})
        slot.setdefault(repr(fields["value"]), (fields["value"], set()))[1].add(event.node)
        if len(slot) < 2:
            return None
        parts = [f"{value!r} at {', '.join(sorted_ids(nodes))}" for value, nodes in slot.values()]
        nodes = sorted_ids(set().union(*(nodes for _, nodes in slot.values())))
        return Violation(self.name, tuple(nodes), f"view {fields['view']}, seq {fields['seq']}: "
                         f"{self.text} " + " but ".join(parts))


class _PreparedAgreement(_SameValue):
    text, name = "prepared", "Prepared agreement"


class _Agreement(_SameValue):
    text, name = "committed", "Agreement"


#: Safety (Castro & Liskov 1999, §4.2): only honest replicas note "prepared" and "committed".
INVARIANTS = [
    Invariant("Prepared agreement: no two honest replicas are prepared with different requests for the same "
              "(view, seq)", observe=_PreparedAgreement),
    Invariant("Agreement: no two honest replicas commit different requests for the same (view, seq)",
              observe=_Agreement),
]
