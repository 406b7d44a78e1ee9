"""SWIM: failure detection and membership by probing and gossip.

The code follows Das, Gupta & Motivala, "SWIM: Scalable Weakly-consistent
Infection-style Process Group Membership Protocol" (DSN 2002).  Every member
runs the same code; the membership is the static set ``peers`` (joins and
voluntary leaves are left out).

Failure detection (§3.1, §4.3)
    Each protocol period (``period_ticks``) a member pings **one** target, chosen
    round-robin over a list of the other members shuffled with ``self.rng`` and
    reshuffled after each full round (§4.3: every member is probed within
    ``2(n - 1) - 1`` periods of any moment).  The target answers ``Ack``.  With no
    Ack within ``ack_timeout_ticks``, the member asks ``k`` other members chosen at
    random to probe the target for it (``PingReq``): each pings the target and
    relays its Ack (*indirect probes*, against lossy links and congested paths).
    With still no Ack at the end of the period the target is **suspected**.

Suspicion and incarnations (§4.2)
    ``Suspect(m, i)`` spreads; a member that hears it suspected refutes with
    ``Alive(m, i + 1)`` (its incarnation number, kept on stable storage).  An
    ``Alive`` with a higher incarnation clears a suspicion; a ``Suspect`` with an
    incarnation at least the known one overrides ``Alive``; a suspicion that is
    not refuted within ``suspect_timeout_periods`` periods becomes
    ``Confirm(m, i)``: the member is dead for good (it would rejoin under a new
    identity, left out here).

Dissemination (§4.1)
    No message is sent for membership alone: updates ride **piggybacked** on
    Ping, Ack and PingReq (infection style).  Each update is piggybacked at most
    ``ceil(piggyback_lambda * log10(n + 1))`` times by each member that learned it
    (the paper's λ·log n), at most ``max_piggyback`` per message: news about the
    recipient first, then those sent fewest times.

State
-----
``status`` (member -> "alive" | "suspected" | "dead", the other members only),
``incarnation`` (own), ``incarnations`` (member -> known incarnation), ``target``
(the current period's probe target or None), ``acked`` (whether it answered,
directly or through a PingReq), ``updates`` (the piggyback buffer: member ->
``[(kind, member, incarnation), times sent]``), ``probe_order`` / ``probe_index``
(the round-robin list), ``seq`` (probe sequence numbers), ``relays`` (PingReq
probes in progress for other members: seq -> (requester, their seq, target,
round)), ``round`` (periods so far).  Notes: "joined" (at boot, with the
parameters the completeness checker needs), "suspect", "refute", "confirm" and
"cleared" (a suspicion lifted by a refutation), each with the ``member``.

Bug zoo
-------
``no-indirect``
    no PingReq: one lost Ping or Ack is enough to suspect a live member;
``no-incarnation``
    incarnation numbers are ignored: whichever of Suspect and Alive arrives last
    wins, so a stale suspicion overrides a refutation.

Examples
--------
>>> node = SwimNode("n1", peers=("n2", "n3"))
>>> _ = node.start([])
>>> node.status, node.incarnation, node.target
({'n2': 'alive', 'n3': 'alive'}, 0, None)
>>> out = node.handle_timer(ProtocolPeriod())
>>> node.target in ("n2", "n3"), [type(i).__name__ for i in out]
(True, ['Send', 'SetTimer', 'SetTimer'])
>>> node.handle_message(Ping(seq=7, updates=(("suspect", "n1", 0),)), "n2")
[Persist(('incarnation', 1)), Note('refute', member='n1', incarnation=1), Send(->n2 Ack(member='n1', seq=7, updates=(('alive', 'n1', 1),)))]
"""

import math

from ..core.errors import BadParameter
from ..core.ids import sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["SwimNode", "Ping", "Ack", "PingReq", "ProtocolPeriod", "AckTimeout", "SuspectTimeout",
           "retransmit_limit", "completeness_bound", "INVARIANTS", "LIVENESS"]


# ----------------------------------------------------------------------------- messages
class Ping(Message):
    """Are you alive?  (``updates``: piggybacked membership updates.)"""

    seq: int
    updates: tuple = ()


class Ack(Message):
    """``member`` answered the probe ``seq`` (sent by the target, or relayed by a PingReq helper)."""

    member: str
    seq: int
    updates: tuple = ()


class PingReq(Message):
    """Please ping ``target`` for me and relay its Ack for my probe ``seq`` (indirect probe)."""

    target: str
    seq: int
    updates: tuple = ()


class ProtocolPeriod(Timer):
    """A new protocol period: judge the last target, probe the next one."""


class AckTimeout(Timer):
    """No Ack yet for probe ``seq``: ask ``k`` members for indirect probes."""

    seq: int


class SuspectTimeout(Timer):
    """A suspicion of ``member`` at ``incarnation`` was not refuted in time: confirm it dead."""

    member: str
    incarnation: int


def retransmit_limit(members, lam):
    """How many times a member piggybacks one update: ``ceil(lam * log10(members + 1))``, at least 1.

    >>> retransmit_limit(8, 3), retransmit_limit(1000, 3)
    (3, 10)
    """
    return max(1, math.ceil(lam * math.log10(members + 1)))


def completeness_bound(members, period_ticks, suspect_timeout_periods):
    """Ticks within which every live member confirms a crashed member dead (see ``INVARIANTS``).

    Derivation, counted from the crash (or from the observer's boot, or from the last stale
    refutation it accepted, whichever is latest): round-robin probing reaches any member within
    ``2(n - 1) - 1`` periods (worst case: first in one shuffled round, last in the next) plus the
    period in progress; that probe fails, so the target is suspected at the end of its period (+1);
    the suspicion is confirmed ``suspect_timeout_periods`` later; one more period of slack covers
    timer and message ordering at the boundaries.  The observer needs no gossip for this (gossip
    only makes it faster), so loss and partitions cannot delay it.

    >>> completeness_bound(5, 100, 3)
    1300
    """
    return (2 * (members - 1) + 1 + suspect_timeout_periods + 1) * period_ticks


class SwimNode(Node):
    """One SWIM member (module docstring).

    Parameters (``params``): ``period_ticks`` (protocol period), ``ack_timeout_ticks`` (wait
    for a direct Ack before asking for indirect probes; must leave time for the 4 hops of an
    indirect probe within the period), ``k`` (indirect probers), ``suspect_timeout_periods``,
    ``piggyback_lambda`` (λ of the λ·log n retransmissions), ``max_piggyback`` (updates per message).
    """

    params = {"period_ticks": 100, "ack_timeout_ticks": 35, "k": 3, "suspect_timeout_periods": 5,
              "piggyback_lambda": 4, "max_piggyback": 8}
    bugs = {
        "no-indirect": "no PingReq: a single lost Ping or Ack makes a live member suspected",
        "no-incarnation": "incarnations ignored: the last of Suspect/Alive to arrive wins, so a stale "
                          "suspicion overrides a refutation",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.params
        for key in ("period_ticks", "ack_timeout_ticks", "suspect_timeout_periods", "max_piggyback"):
            value = p[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadParameter(f"{key} must be a whole number >= 1; got {value!r}")
        if isinstance(p["k"], bool) or not isinstance(p["k"], int) or p["k"] < 0:
            raise BadParameter(f"k must be a whole number >= 0; got {p['k']!r}")
        if p["ack_timeout_ticks"] >= p["period_ticks"]:
            raise BadParameter(f"ack_timeout_ticks ({p['ack_timeout_ticks']}) must be shorter than "
                             f"period_ticks ({p['period_ticks']})")
        if not isinstance(p["piggyback_lambda"], (int, float)) or p["piggyback_lambda"] <= 0:
            raise BadParameter(f"piggyback_lambda must be a number > 0; got {p['piggyback_lambda']!r}")

    # ------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.incarnation = 0
        for record in records:
            if not isinstance(record, Torn) and record[0] == "incarnation":
                self.incarnation = max(self.incarnation, record[1])
        self.status = {m: "alive" for m in self.peers}
        self.incarnations = {m: 0 for m in self.peers}
        self.target = None
        self.acked = False
        self.updates = {}
        self.probe_order = []
        self.probe_index = 0
        self.seq = 0
        self.probe_seq = None
        self.relays = {}
        self.round = 0
        n = len(self.peers) + 1
        self._limit = retransmit_limit(n, self.params["piggyback_lambda"])
        self._noinc = "no-incarnation" in self.bugs
        self.note("joined", incarnation=self.incarnation, members=n, period_ticks=self.params["period_ticks"],
                  suspect_timeout_periods=self.params["suspect_timeout_periods"])
        if self.peers:
            self.set_timer(ProtocolPeriod(), self.rng.randint(1, self.params["period_ticks"]))

    # ------------------------------------------------------------------------- dissemination
    def queue(self, update):
        """Put an update in the piggyback buffer (it supersedes older news of the same member)."""
        self.updates[update[1]] = [update, 0]

    def piggyback(self, to):
        """The updates to carry on the next message to ``to`` (fewest times sent first); count them.

        News about the recipient itself goes first: a suspected member learns of the suspicion
        as soon as anyone who knows it talks to it, and can refute it in time.
        """
        buffer = self.updates
        if not buffer:
            return ()
        chosen = sorted(buffer.values(), key=lambda e: (e[0][1] != to, e[1]))[:self.params["max_piggyback"]]
        out = []
        for entry in chosen:
            out.append(entry[0])
            entry[1] += 1
            if entry[1] >= self._limit:
                del buffer[entry[0][1]]
        return tuple(out)

    def absorb(self, updates):
        """Apply piggybacked updates (§4.2's rules); re-gossip the ones that taught us something."""
        for update in updates:
            kind, member, inc = update
            if member == self.id:
                if kind == "suspect" and (inc >= self.incarnation or self._noinc):
                    self.refute(inc)
                continue                          # "confirm" of oneself: nothing to do (rejoining left out)
            status = self.status.get(member)
            if status is None or status == "dead":
                continue                          # unknown member, or dead for good
            known = self.incarnations[member]
            if kind == "alive":
                if self._noinc:
                    newer = status == "suspected"
                else:
                    newer = inc > known
                if newer:
                    self.incarnations[member] = max(inc, known)
                    if status == "suspected":
                        self.status[member] = "alive"
                        self.note("cleared", member=member, incarnation=inc)
                    self.queue(update)
            elif kind == "suspect":
                if self._noinc:
                    newer = status == "alive"
                else:
                    newer = inc > known or (inc == known and status == "alive")
                if newer:
                    self.suspect(member, max(inc, known), "gossip")
            elif kind == "confirm":
                self.confirm(member, inc)

    def refute(self, inc):
        """Someone suspects us: a higher incarnation (stored, so a restart keeps it), announced."""
        if not self._noinc:
            self.incarnation = max(self.incarnation, inc) + 1
            self.persist(("incarnation", self.incarnation))
        self.note("refute", member=self.id, incarnation=self.incarnation)
        self.queue(("alive", self.id, self.incarnation))

    def suspect(self, member, inc, source):
        """Suspect ``member`` at ``inc``; ``source`` is "probe" (our own failed probe) or "gossip"."""
        self.status[member] = "suspected"
        self.incarnations[member] = inc
        self.note("suspect", member=member, incarnation=inc, source=source)
        self.queue(("suspect", member, inc))
        self.set_timer(SuspectTimeout(member, inc),
                       self.params["suspect_timeout_periods"] * self.params["period_ticks"])

    def confirm(self, member, inc):
        self.status[member] = "dead"
        self.note("confirm", member=member, incarnation=inc)
        self.queue(("confirm", member, inc))

    # ------------------------------------------------------------------------- failure detector
    def next_target(self):
        """Round-robin over a shuffled list of the members not known dead; reshuffle after each round."""
        status = self.status
        while True:
            if self.probe_index >= len(self.probe_order):
                order = [m for m in self.peers if status[m] != "dead"]
                if not order:
                    return None
                self.rng.shuffle(order)
                self.probe_order, self.probe_index = order, 0
            member = self.probe_order[self.probe_index]
            self.probe_index += 1
            if status[member] != "dead":
                return member

    def on_protocol_period(self, timer):
        target = self.target
        if target is not None and not self.acked and self.status[target] == "alive":
            self.suspect(target, self.incarnations[target], "probe")     # no Ack, direct or indirect, all period
        self.round += 1
        if self.relays:
            old = self.round - 2
            self.relays = {s: r for s, r in self.relays.items() if r[3] > old}
        self.target = target = self.next_target()
        self.acked = False
        period = self.params["period_ticks"]
        if target is None:
            self.set_timer(ProtocolPeriod(), period)
            return
        self.seq += 1
        self.probe_seq = self.seq
        self.send(target, Ping(self.seq, self.piggyback(target)))
        self.set_timer(AckTimeout(self.seq), self.params["ack_timeout_ticks"])
        self.set_timer(ProtocolPeriod(), period)

    def on_ack_timeout(self, timer):
        if timer.seq != self.probe_seq or self.acked or self.target is None or "no-indirect" in self.bugs:
            return
        target = self.target
        helpers = [m for m in self.peers if m != target and self.status[m] == "alive"]
        k = self.params["k"]
        if len(helpers) > k:
            helpers = self.rng.sample(helpers, k)
        for helper in helpers:
            self.send(helper, PingReq(target, self.probe_seq, self.piggyback(helper)))

    def on_suspect_timeout(self, timer):
        member = timer.member
        if self.status.get(member) == "suspected" and (self._noinc or self.incarnations[member] == timer.incarnation):
            self.confirm(member, self.incarnations[member])

    # ------------------------------------------------------------------------- messages
    def on_ping(self, msg, sender):
        if msg.updates:
            self.absorb(msg.updates)
        self.send(sender, Ack(self.id, msg.seq, self.piggyback(sender)))

    def on_ping_req(self, msg, sender):
        if msg.updates:
            self.absorb(msg.updates)
        self.seq += 1
        self.relays[self.seq] = (sender, msg.seq, msg.target, self.round)
        self.send(msg.target, Ping(self.seq, self.piggyback(msg.target)))

    def on_ack(self, msg, sender):
        if msg.updates:
            self.absorb(msg.updates)
        if msg.seq == self.probe_seq and msg.member == self.target:
            self.acked = True
            return
        relay = self.relays.pop(msg.seq, None)
        if relay is not None and relay[2] == msg.member:
            self.send(relay[0], Ack(msg.member, relay[1], self.piggyback(relay[0])))


# ---------------------------------------------------------------------------------- checkers
class _Completeness:
    """Follows crashes, boots and the members' notes; flags a live member that is late confirming.

    Obligation ``(o, m)``: member ``m`` is crashed and ``o`` runs.  It starts at the latest of m's
    crash, o's boot and the last time o lifted a suspicion of m ("cleared": a stale refutation,
    gossiped before the crash), and is met when o notes "confirm" for m (or had already
    confirmed it).  Its deadline is :func:`completeness_bound` ticks later.
    """

    def __init__(self):
        self.up = set()
        self.known = set()          # every member that ever booted
        self.dead = set()           # (o, m): o confirmed m dead (until o restarts)
        self.since = {}             # (o, m) -> tick the obligation started
        self.setting = None         # (members, period_ticks, suspect_timeout_periods)
        self.next_deadline = None

    def _open(self, o, m, tick):
        if (o, m) not in self.dead:
            self.since[(o, m)] = tick
            self._refresh()

    def _refresh(self):
        if self.since and self.setting is not None:
            self.next_deadline = min(self.since.values()) + completeness_bound(*self.setting)
        else:
            self.next_deadline = None

    def __call__(self, event):
        kind, node, tick = event.kind, event.node, event.tick
        if kind in ("start", "restarted"):
            self.known.add(node)
            self.up.add(node)
            self.dead = {(o, m) for o, m in self.dead if o != node}
            self.since = {k: v for k, v in self.since.items() if k[0] != node}
            for m in self.crashed:
                self._open(node, m, tick)
            for o in self.up:
                self.since.pop((o, node), None)     # a restarted member is owed nothing
            self._refresh()
        elif kind == "crashed":
            self.up.discard(node)
            self.since = {k: v for k, v in self.since.items() if k[0] != node and k[1] != node}
            for o in self.up:
                self._open(o, node, tick)
            self._refresh()
        elif kind == "note":
            text, fields = event.data["text"], event.data["fields"]
            if text == "joined" and self.setting is None:
                self.setting = (fields["members"], fields["period_ticks"], fields["suspect_timeout_periods"])
                self._refresh()
            elif text == "confirm":
                self.dead.add((node, fields["member"]))
                if self.since.pop((node, fields["member"]), None) is not None:
                    self._refresh()
            elif text == "cleared" and (node, fields["member"]) in self.since:
                self.since[(node, fields["member"])] = tick
                self._refresh()
        if self.next_deadline is not None and tick > self.next_deadline:
            bound = completeness_bound(*self.setting)
            late = sorted((v, o, m) for (o, m), v in self.since.items() if tick > v + bound)
            since, o, m = late[0]
            self.since.pop((o, m))          # report each late pair once
            self._refresh()
            return Violation("Completeness", (o, m), f"{m} crashed (or {o} booted, or last lifted its "
                                                     f"suspicion) at t={since}, but {o} has not confirmed it "
                                                     f"dead {bound} ticks later (t={tick})")
        return None

    @property
    def crashed(self):
        return sorted_ids(self.known - self.up)


#: Completeness (SWIM §3, §4.3): checked after every step, against a derived worst-case deadline.
INVARIANTS = [
    Invariant("Completeness: every crashed member is suspected, then confirmed dead, by every live member "
              "within completeness_bound(n, period, suspect timeout) ticks", observe=_Completeness),
]

#: No liveness check: accuracy is probabilistic in SWIM (false confirmations under heavy loss are final).
LIVENESS = []
