"""Primary-backup replication with failover: epochs, fencing, leases and catching up.

One **coordination service** node (``zk``, standing in for ZooKeeper or etcd)
and replicas ``n1 .. nk``.  The coordinator owns the *configuration*: the
**epoch** (a generation number, Viewstamped Replication's view number), the
primary of that epoch and the **members** whose copy a synchronous write
needs.  It is a single simulated node that writes every configuration to its
stable storage *before* announcing it, so it survives its own crash and never
hands out an epoch twice.  (A real ZooKeeper or etcd is itself replicated by
consensus, ZAB or Raft; here one node keeps the picture small.  A majority of
the replicas could play this part instead, as in Viewstamped Replication, at
the price of a consensus round in every failover.)

Writes.  A client sends :class:`Write` to the primary.  The primary appends an
:class:`Entry` ``(epoch, lsn)`` to its log, forces it (``("entry", epoch,
entry)``: every storage write carries the epoch of the primary that made it),
and ships it with :class:`Replicate` to the members and to any replica
catching up.  A backup checks the epoch (fencing,
:meth:`PrimaryBackupNode.accepts_epoch`), checks that its log holds the entry
just before the new ones (``prev``), stores them and answers :class:`Stored`.

* ``replication="sync"``: the primary acknowledges the write
  (:class:`WriteReply`) only once **every member** of the configuration has
  stored it.  The cost: one slow or crashed backup stalls every write until
  the coordinator removes it from the configuration (``suspect_ticks``).
* ``replication="async"``: the primary acknowledges right after its own force
  and replicates in the background; a failover can lose acknowledged writes.

Failure detection and failover.  Every replica sends :class:`Heartbeat` to the
coordinator every ``heartbeat_ticks``.  A replica silent for ``suspect_ticks``
is suspected: a timeout, which can be wrong when the replica is only slow or
cut off (Chandra & Toueg 1996: no detector is both complete and accurate in an
asynchronous system).  A suspected backup is removed from the members; a
suspected primary is replaced: the coordinator picks the live member whose
last heartbeat reported the most complete log, writes the new configuration
(epoch + 1) to its disk, then broadcasts :class:`Configuration`.  The new
primary *takes over*: it brings every member's log in line with its own before
it serves reads (it is *ready*).

Fencing.  A replica that has adopted epoch ``e`` (written ``("epoch", e)``
first) refuses anything from an older epoch and answers :class:`StaleEpoch`;
a primary that learns of a newer epoch steps down.  A deposed primary that
still believes in itself therefore cannot get a synchronous write stored on
the members any more.

Catching up.  A returning (or lagging) replica sends :class:`CatchUpRequest`
with a summary of its log.  The primary finds the last LSN where both logs
agree (:meth:`PrimaryBackupNode.match_point`) and chooses
(:meth:`PrimaryBackupNode.catch_up_plan`) between **log shipping** (the entries
after that point; the replica discards its divergent suffix) and **state
transfer** (a :class:`Snapshot`, when the entries were compacted away or more
than ``ship_limit`` committed entries are missing).  A replica outside the
configuration is added back (:class:`AddMember`) only once it holds the
primary's whole log; it serves nothing before.  Replicas compact their
committed prefix into a checkpoint beyond ``2 * retain_entries`` applied
entries.

Reads go to the primary and return its committed state.  Without leases, a
primary cut off from the others keeps answering: stale reads.  With
``leases=True`` the primary serves (reads and write acknowledgements) only
while it holds a lease granted by the coordinator (:class:`LeaseGrant`, valid
``lease_ticks`` of the primary's clock from when it *sent* the heartbeat), and
the coordinator waits out the last grant, stretched by the drift bound
``drift_bound``, before it promotes anyone: ``ceil((lease_ticks + 1) * (1 + d)
/ (1 - d)) + 2`` ticks of its own clock (:func:`lease_wait_ticks`).  A
restarted coordinator does not know when it last granted one: it waits that
long from its restart.  The door's ``drift`` parameter sets the clocks' real
drift; beyond ``drift_bound`` the wait is too short.

State
-----
Replica: ``role`` ("primary", "backup" when a member, "recovering" when not),
``epoch``, ``version``, ``primary``, ``members``, ``log`` (lsn -> Entry, after
the checkpoint ``base_lsn``/``base_epoch``), ``commit_lsn``, ``kv`` (key ->
``(value, lsn, wid)``, the committed state), ``ready``, ``lease_until``; the
primary also ``match``/``next`` (per replica: the last LSN known to be held, the
next to send; ``None``: unknown), ``followers`` (the replicas it ships to: the
members and those catching up), ``pending`` (lsn -> (client, wid)),
``pending_adds`` (replica -> the configuration version it asked to add it to),
``takeover_lsn`` (its log's end when it became primary; it is *ready* once that
is committed).  Coordinator: ``epoch``, ``version``, ``primary``,
``members``, ``heard`` (replica -> last heartbeat, local ticks), ``positions``
(replica -> last reported (epoch, lsn)), ``last_grant``.

Bug zoo
-------
``no-fencing``
    replicas accept replication from a stale epoch (and store it), so a deposed
    primary still gets writes acknowledged: split brain;
``serve-before-catch-up``
    a returning replica acknowledges new entries without the ones it missed, so it
    is counted (and re-admitted) as in sync before it has caught up;
``promote-stale-backup``
    the coordinator promotes the first live replica by id, even one outside the
    configuration that missed acknowledged writes;
``volatile-epoch``
    the coordinator keeps its configuration in memory only: after a crash it starts
    again from epoch 1 and hands out epochs a second time;
``lease-without-margin``
    the coordinator waits only ``lease_ticks`` after its last grant, ignoring clock
    drift.

Examples
--------
>>> zk = PrimaryBackupNode("zk", peers=("n1", "n2"))
>>> zk.start([])[:2]
[Persist(('config', 1, 0, 'n1', ('n1', 'n2'))),
 Note('configuration', epoch=1, version=0, primary='n1', members=('n1', 'n2'))]
>>> n2 = PrimaryBackupNode("n2", peers=("n1", "zk"))
>>> _ = n2.start([])
>>> _ = n2.handle_message(Configuration(1, 0, "n1", ("n1", "n2")), "zk")
>>> n2.role, n2.epoch
('backup', 1)
>>> n2.handle_message(Replicate(1, 0, 0, (Entry(1, 1, "w1", "x", 5),), 0, 1), "n1")
[Persist(('entry', 1, 1/1 w1 x=5)), Send(->n1 Stored(e1, lsn=1))]
>>> n2.handle_message(Replicate(0, 1, 1, (), 0, 1), "n1")     # a stale epoch: fenced
[Note('refused stale epoch', epoch=0, current=1), Send(->n1 StaleEpoch(e1, primary=n1))]
"""

import math
from dataclasses import dataclass

from ..core.errors import BadParameter
from ..core.ids import id_key, sorted_ids
from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["PrimaryBackupNode", "Entry", "Write", "Read", "WriteReply", "ReadReply", "Configuration",
           "Heartbeat", "LeaseGrant", "AddMember", "Replicate", "Stored", "StaleEpoch", "CatchUpRequest",
           "Snapshot", "HeartbeatDue", "CheckDue", "RetransmitDue", "lease_wait_ticks", "check_params",
           "invariants_for", "INVARIANTS", "LIVENESS", "REPLICATION_MODES"]

REPLICATION_MODES = ("sync", "async")


# ---------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class Entry:
    """One write in a replica's log: made by the primary of ``epoch`` at position ``lsn``."""

    epoch: int
    lsn: int
    wid: str
    key: str
    value: object

    def __repr__(self):
        return f"{self.lsn}/{self.epoch} {self.wid} {self.key}={self.value!r}"


def lease_wait_ticks(lease_ticks, drift_bound):
    """Ticks of the coordinator's clock to wait after its last grant before a new primary may serve.

    A lease runs ``lease_ticks`` of the holder's clock from when the holder sent the request,
    which came before the grant.  A clock drifting by at most ``d`` (rate in ``[1 - d, 1 + d]``)
    makes that last at most ``(L + 1) / (1 - d)`` real ticks (one for the clock's rounding); the
    coordinator's own wait of ``W`` ticks lasts at least ``(W - 1) / (1 + d)``.  So
    ``W = ceil((L + 1)(1 + d) / (1 - d)) + 2`` is enough.

    Examples
    --------
    >>> lease_wait_ticks(120, 0.0)
    123
    >>> lease_wait_ticks(120, 0.05)
    136

    Notes
    -----
    Gray & Cheriton, "Leases: An Efficient Fault-Tolerant Mechanism for Distributed File
    Cache Consistency" (1989), §2: leases tolerate clock *drift* (rates), not skew, as long
    as the drift is bounded and the bound is built into the wait.
    """
    d = drift_bound
    return math.ceil((lease_ticks + 1) * (1 + d) / (1 - d)) + 2


# ---------------------------------------------------------------------------------- messages
class Write(Message):
    """A client's write of ``key = value``; ``wid`` names it (``w1``, ``w2``...)."""

    wid: str
    key: str
    value: object

    def __repr__(self):
        return f"Write({self.wid}, {self.key}={self.value!r})"


class Read(Message):
    """A client's read of ``key``; ``rid`` names it."""

    rid: str
    key: str

    def __repr__(self):
        return f"Read({self.rid}, {self.key})"


class WriteReply(Message):
    """The answer to a :class:`Write`: ``ok`` is an acknowledgement (durable as promised), else ``reason``."""

    wid: str
    ok: bool
    epoch: int
    lsn: int
    reason: str = ""

    def __repr__(self):
        if self.ok:
            return f"WriteReply({self.wid} ok, e{self.epoch}, lsn={self.lsn})"
        return f"WriteReply({self.wid} refused: {self.reason})"


class ReadReply(Message):
    """The answer to a :class:`Read`: ``value`` as last written at ``lsn`` (0: never written)."""

    rid: str
    key: str
    ok: bool
    value: object
    lsn: int
    epoch: int
    reason: str = ""

    def __repr__(self):
        if self.ok:
            return f"ReadReply({self.rid} {self.key}={self.value!r} @lsn {self.lsn}, e{self.epoch})"
        return f"ReadReply({self.rid} refused: {self.reason})"


class Configuration(Message):
    """Coordinator -> replicas: epoch ``epoch`` (change ``version``), its ``primary`` and ``members``."""

    epoch: int
    version: int
    primary: str
    members: tuple

    def __repr__(self):
        return (f"Configuration(e{self.epoch} v{self.version}, primary={self.primary}, "
                f"members={','.join(self.members)})")


class Heartbeat(Message):
    """Replica -> coordinator: I am alive; my view, whether I act as primary, my log's end."""

    epoch: int
    version: int
    acting: bool
    last_epoch: int
    last_lsn: int
    sent_at: int

    def __repr__(self):
        role = " primary" if self.acting else ""
        return (f"Heartbeat(e{self.epoch} v{self.version}{role}, log {self.last_lsn}/{self.last_epoch}, "
                f"sent {self.sent_at})")


class LeaseGrant(Message):
    """Coordinator -> primary: you hold the lease for ``lease_ticks`` from ``sent_at`` (your clock)."""

    epoch: int
    sent_at: int

    def __repr__(self):
        return f"LeaseGrant(e{self.epoch}, from {self.sent_at})"


class AddMember(Message):
    """Primary -> coordinator: ``node`` holds my whole log; add it to configuration ``version``."""

    epoch: int
    version: int
    node: str

    def __repr__(self):
        return f"AddMember(e{self.epoch} v{self.version}, {self.node})"


class Replicate(Message):
    """Primary -> replica: ``entries`` follow ``prev_lsn``/``prev_epoch``; my commit point and log end."""

    epoch: int
    prev_lsn: int
    prev_epoch: int
    entries: tuple
    commit: int
    last_lsn: int

    def __repr__(self):
        shown = ", ".join(repr(e) for e in self.entries)
        return (f"Replicate(e{self.epoch}, after {self.prev_lsn}/{self.prev_epoch}, [{shown}], "
                f"commit={self.commit})")


class Stored(Message):
    """Replica -> primary of ``epoch``: my log holds yours up to ``lsn`` (the acknowledgement)."""

    epoch: int
    lsn: int

    def __repr__(self):
        return f"Stored(e{self.epoch}, lsn={self.lsn})"


class StaleEpoch(Message):
    """Fencing: your epoch is stale; the current one is ``epoch`` (with ``primary``, if known)."""

    epoch: int
    primary: object

    def __repr__(self):
        return f"StaleEpoch(e{self.epoch}, primary={self.primary})"


class CatchUpRequest(Message):
    """Replica -> primary: where do our logs agree?  My checkpoint and my log as runs of one epoch.

    ``runs`` is ``((epoch, first_lsn, last_lsn), ...)``.
    """

    epoch: int
    base_lsn: int
    base_epoch: int
    runs: tuple

    def __repr__(self):
        shown = " ".join(f"{a}-{b}/{e}" for e, a, b in self.runs) or "empty"
        return f"CatchUpRequest(e{self.epoch}, checkpoint {self.base_lsn}/{self.base_epoch}, log {shown})"


class Snapshot(Message):
    """State transfer: the primary's committed state at ``lsn`` (``state``: (key, (value, lsn, wid)) pairs;
    ``wids``: the writes it contains, in order, which a replica needs to recognise a repeated write)."""

    epoch: int
    lsn: int
    last_epoch: int
    state: tuple
    wids: tuple
    commit: int

    def __repr__(self):
        return f"Snapshot(e{self.epoch}, at {self.lsn}/{self.last_epoch}, {len(self.state)} keys)"


class HeartbeatDue(Timer):
    """Replica: time to send the next heartbeat."""

    def __repr__(self):
        return "HeartbeatDue()"


class CheckDue(Timer):
    """Coordinator: time to look for silent replicas."""

    def __repr__(self):
        return "CheckDue()"


class RetransmitDue(Timer):
    """Primary of ``epoch``: ship again to every replica that is behind (a stale one ignores itself)."""

    epoch: int

    def __repr__(self):
        return f"RetransmitDue(e{self.epoch})"


# ---------------------------------------------------------------------------------- parameters
def _whole(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadParameter(f"{name} must be a whole number >= {low}; got {value!r}")


def check_params(params):
    """Raise :class:`BadParameter` for a parameter value outside its range; return ``params``.

    >>> check_params({"replication": "sync"})["replication"]
    'sync'
    >>> check_params({"replication": "semi"})
    Traceback (most recent call last):
    ...
    fttoolkit.core.errors.BadParameter: replication must be 'sync' or 'async'; got 'semi'
    """
    merged = dict(PrimaryBackupNode.params, **params)
    if merged["replication"] not in REPLICATION_MODES:
        raise BadParameter(f"replication must be 'sync' or 'async'; got {merged['replication']!r}")
    if not isinstance(merged["leases"], bool):
        raise BadParameter(f"leases must be True or False; got {merged['leases']!r}")
    for name in ("heartbeat_ticks", "suspect_ticks", "lease_ticks", "retransmit_ticks", "retain_entries"):
        _whole(name, merged[name], 1)
    _whole("ship_limit", merged["ship_limit"], 0)
    bound = merged["drift_bound"]
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 <= bound < 1:
        raise BadParameter(f"drift_bound must be a number in [0, 1) (0.05: clocks within 5%); got {bound!r}")
    if not isinstance(merged["coordinator"], str) or not merged["coordinator"]:
        raise BadParameter(f"coordinator must be a node id such as 'zk'; got {merged['coordinator']!r}")
    return params


# ---------------------------------------------------------------------------------- the node
class PrimaryBackupNode(Node):
    """A replica, or the coordination service (the node named by the ``coordinator`` parameter).

    Parameters (``params``): ``coordinator`` (its id, ``"zk"``), ``replication``
    (``"sync"`` or ``"async"``), ``leases``, ``heartbeat_ticks``, ``suspect_ticks``
    (the coordinator's timeout), ``lease_ticks``, ``drift_bound`` (the clock drift
    the coordinator's lease wait allows for), ``retransmit_ticks``, ``retain_entries``
    (committed entries kept after a checkpoint), ``ship_limit`` (a replica missing
    more committed entries than this gets a snapshot).

    The two decisions the course's exercises reimplement are small methods:
    :meth:`accepts_epoch` (fencing) and :meth:`catch_up_plan` (log shipping or state
    transfer).

    Notes
    -----
    Alsberg & Day, "A Principle for Resilient Sharing of Distributed Resources" (1976), and
    Budhiraja, Marzullo, Schneider & Toueg, "The Primary-Backup Approach" (1993): primary-backup
    replication.  Oki & Liskov, "Viewstamped Replication" (1988): a view (epoch) number in every
    message, so that a replica ignores an old primary.  Lin et al., "PacificA: Replication in
    Log-Based Distributed Storage Systems" (2008): a configuration manager that removes silent
    replicas and promotes a backup, leases against a deposed primary, catch-up before a replica
    is re-admitted.  van Renesse & Schneider, "Chain Replication" (2004): a master that
    reconfigures.  Hunt et al., "ZooKeeper" (2010): the coordination service.  Chandra & Toueg,
    "Unreliable Failure Detectors for Reliable Distributed Systems" (1996): timeouts can suspect a
    live primary, which is why fencing is needed at all.
    """

    params = {"coordinator": "zk", "replication": "sync", "leases": False, "heartbeat_ticks": 20,
              "suspect_ticks": 100, "lease_ticks": 120, "drift_bound": 0.05, "retransmit_ticks": 40,
              "retain_entries": 16, "ship_limit": 8}
    bugs = {
        "no-fencing": "replicas accept replication from a stale epoch, so a deposed primary still gets "
                      "writes acknowledged (split brain)",
        "serve-before-catch-up": "a returning replica acknowledges new entries without those it missed, "
                                 "and is counted as in sync before it has caught up",
        "promote-stale-backup": "the coordinator promotes the first live replica by id, even one outside "
                                "the configuration that missed acknowledged writes",
        "volatile-epoch": "the coordinator keeps its configuration in memory only and hands out epochs "
                          "again after a crash",
        "lease-without-margin": "the coordinator waits only lease_ticks after its last grant, ignoring "
                                "clock drift",
    }

    # ============================================================================== boot
    def on_start(self, records):
        records = [r for r in records if not isinstance(r, Torn)]   # a torn write never happened (checksum)
        if self.id == self.params["coordinator"]:
            self._start_coordinator(records)
        else:
            self._start_replica(records)

    @property
    def replicas(self):
        """The replicas' ids, in natural order (every node but the coordinator)."""
        return tuple(i for i in sorted_ids(self.peers + (self.id,)) if i != self.params["coordinator"])

    @property
    def is_coordinator(self):
        return self.id == self.params["coordinator"]

    # ============================================================================== coordinator
    def _start_coordinator(self, records):
        self.role = "coordinator"
        self.epoch, self.version, self.primary, self.members = 0, 0, None, ()
        if "volatile-epoch" not in self.bugs:
            for record in records:
                if record[0] == "config":
                    _, self.epoch, self.version, self.primary, self.members = record
        self.heard = {r: self.now for r in self.replicas}       # a fresh grace period for everyone
        self.positions = {r: (0, 0) for r in self.replicas}
        self.last_grant = self.now      # after a restart: some lease may still run; wait it out
        self.suspected = False
        self.waiting_note = False
        if self.epoch == 0:
            replicas = self.replicas
            if replicas:
                self._set_config(1, 0, replicas[0], replicas)
        else:
            self._announce()
        self.set_timer(CheckDue(), self.params["heartbeat_ticks"])

    def _set_config(self, epoch, version, primary, members):
        """Write the configuration down, THEN announce it: an epoch is never handed out twice."""
        self.epoch, self.version, self.primary, self.members = epoch, version, primary, tuple(sorted_ids(members))
        if "volatile-epoch" not in self.bugs:
            self.persist(("config", self.epoch, self.version, self.primary, self.members))
        self.note("configuration", epoch=self.epoch, version=self.version, primary=self.primary,
                  members=self.members)
        self._announce()

    def _announce(self, to=None):
        msg = Configuration(self.epoch, self.version, self.primary, self.members)
        for replica in (self.replicas if to is None else to):
            self.send(replica, msg)

    def _alive(self, replica):
        return self.now - self.heard.get(replica, self.now) <= self.params["suspect_ticks"]

    def on_heartbeat(self, msg, sender):
        if not self.is_coordinator or sender not in self.heard:
            self.note("unexpected Heartbeat", sender=sender)
            return
        acting = msg.acting and msg.epoch == self.epoch and sender == self.primary
        if sender != self.primary or acting:        # the primary is alive only while it acts as primary
            self.heard[sender] = self.now
        self.positions[sender] = (msg.last_epoch, msg.last_lsn)
        if acting:
            self.suspected = False
            self.waiting_note = False
            if self.params["leases"]:
                self.last_grant = self.now
                self.send(sender, LeaseGrant(self.epoch, msg.sent_at))
        if (msg.epoch, msg.version) != (self.epoch, self.version):
            self._announce([sender])
        if msg.epoch == 0 and self.epoch > 0 and sender in self.members and sender != self.primary:
            # an empty replica (its disk was lost): it holds none of the acknowledged writes
            self.note("member lost its log", node=sender)
            self._set_config(self.epoch, self.version + 1, self.primary,
                             [m for m in self.members if m != sender])

    def on_check_due(self, timer):
        if not self.is_coordinator:
            return
        self.set_timer(CheckDue(), self.params["heartbeat_ticks"])
        if self.primary is None:
            return
        if not self._alive(self.primary):
            if not self.suspected:
                self.suspected = True
                self.note("suspected", node=self.primary)
            safe_at = self.last_grant + self.lease_wait()
            if self.params["leases"] and self.now < safe_at:
                if not self.waiting_note:
                    self.waiting_note = True
                    self.note("waiting out the lease", until=safe_at)
                return
            self._promote()
            return
        silent = [m for m in self.members if m != self.primary and not self._alive(m)]
        if silent:
            self.note("removed", nodes=tuple(silent))
            self._set_config(self.epoch, self.version + 1, self.primary,
                             [m for m in self.members if m not in silent])

    def lease_wait(self):
        """Ticks the coordinator waits after its last lease grant before promoting a new primary."""
        if "lease-without-margin" in self.bugs:
            return self.params["lease_ticks"]
        return lease_wait_ticks(self.params["lease_ticks"], self.params["drift_bound"])

    def promotion_candidates(self):
        """The replicas that may become primary, best first: live members, most complete log first."""
        old = self.primary
        if "promote-stale-backup" in self.bugs:
            return [r for r in self.replicas if r != old and self._alive(r)]
        live = [m for m in self.members if m != old and self._alive(m)]
        return sorted(live, key=lambda m: (-self.positions[m][0], -self.positions[m][1], id_key(m)))

    def _promote(self):
        candidates = self.promotion_candidates()
        if not candidates:
            return
        winner = candidates[0]
        members = [m for m in self.members if m != self.primary and self._alive(m)]
        if winner not in members:
            members.append(winner)
        self.note("promoting", node=winner, old=self.primary)
        self.suspected = False
        self.waiting_note = False
        self.heard[winner] = self.now          # give it time to start acting as primary
        self._set_config(self.epoch + 1, 0, winner, members)

    def on_add_member(self, msg, sender):
        if not self.is_coordinator:
            self.note("unexpected AddMember", sender=sender)
            return
        if sender != self.primary or msg.epoch != self.epoch:
            self.note("AddMember from a stale primary ignored", sender=sender, epoch=msg.epoch)
            return
        if msg.version != self.version or msg.node in self.members:
            self._announce([sender])           # its view is old: it will retry with this one
            return
        if self._alive(msg.node):
            self._set_config(self.epoch, self.version + 1, self.primary, self.members + (msg.node,))
        else:                                  # refuse, and make the request void (a newer version)
            self._set_config(self.epoch, self.version + 1, self.primary, self.members)

    # ============================================================================== replica: boot
    def _start_replica(self, records):
        self.role = "recovering"
        self.epoch, self.version, self.primary, self.members = 0, -1, None, ()
        self.base_lsn, self.base_epoch, self.base_state, self.base_wids = 0, 0, (), ()
        self.log = {}
        for record in records:
            kind = record[0]
            if kind == "epoch":
                self.epoch = max(self.epoch, record[1])
            elif kind == "entry":
                entry = record[2]
                if entry.lsn > self.base_lsn:
                    self.log[entry.lsn] = entry
            elif kind == "truncate":
                self._drop_after(record[2])
            elif kind in ("checkpoint", "snapshot"):
                _, _, lsn, last_epoch, state, wids = record
                self.base_lsn, self.base_epoch, self.base_state, self.base_wids = lsn, last_epoch, state, wids
                if kind == "snapshot":
                    self.log = {}
                else:
                    self.log = {k: v for k, v in self.log.items() if k > lsn}
        self.commit_lsn = self.applied_lsn = self.base_lsn
        self.kv = dict(self.base_state)
        self.ready, self.lease_until = False, None
        self.match, self.next, self.pending, self.pending_adds = {}, {}, {}, {}
        self.takeover_lsn = 0
        self._add_asked, self.followers = {}, set()
        self._heard_primary = False
        self.set_timer(HeartbeatDue(), self.params["heartbeat_ticks"])
        if self.epoch > 0:                     # a returning replica: tell the coordinator at once
            self._heartbeat()

    # ============================================================================== replica: the log
    @property
    def last_lsn(self):
        """The LSN of the last entry in the log (the checkpoint's if the log is empty)."""
        return max(self.log) if self.log else self.base_lsn

    @property
    def last_epoch(self):
        """The epoch of the last entry."""
        return self.epoch_at(self.last_lsn)

    def epoch_at(self, lsn):
        """The epoch of this replica's entry at ``lsn``; ``None`` if it has none (or compacted it)."""
        if lsn == self.base_lsn:
            return self.base_epoch
        if lsn == 0:
            return 0 if self.base_lsn == 0 else None
        entry = self.log.get(lsn)
        return entry.epoch if entry is not None else None

    def wids(self):
        """The writes in this replica's log, in LSN order (the checkpoint's first)."""
        return list(self.base_wids) + [self.log[k].wid for k in sorted(self.log)]

    def summary(self):
        """``(base_lsn, base_epoch, runs)``: the log as runs of consecutive entries of one epoch."""
        runs = []
        for lsn in sorted(self.log):
            epoch = self.log[lsn].epoch
            if runs and runs[-1][0] == epoch and runs[-1][2] == lsn - 1:
                runs[-1][2] = lsn
            else:
                runs.append([epoch, lsn, lsn])
        return self.base_lsn, self.base_epoch, tuple(tuple(r) for r in runs)

    def _has(self, lsn, epoch):
        """Whether this log holds ``lsn`` from ``epoch`` (then, by induction, the same prefix)."""
        if lsn < self.base_lsn:
            return True                        # inside the checkpoint: a committed prefix
        return self.epoch_at(lsn) == epoch

    def _drop_after(self, lsn):
        for k in [k for k in self.log if k > lsn]:
            del self.log[k]

    def _apply_to(self, lsn):
        """Apply committed entries up to ``lsn`` to the store (rebuilding it if the log was cut)."""
        lsn = min(lsn, self.last_lsn)
        if lsn < self.applied_lsn:
            self.kv = dict(self.base_state)
            self.applied_lsn = self.base_lsn
        for k in range(self.applied_lsn + 1, lsn + 1):
            entry = self.log.get(k)
            if entry is not None:
                self.kv[entry.key] = (entry.value, entry.lsn, entry.wid)
        self.applied_lsn = max(self.applied_lsn, lsn)

    def _set_commit(self, lsn):
        if lsn > self.commit_lsn:
            self.commit_lsn = lsn
            self._apply_to(lsn)
            self._compact()

    def _wids_until(self, lsn):
        """The ids of the writes up to ``lsn`` (>= the checkpoint), in LSN order."""
        return self.base_wids + tuple(self.log[k].wid for k in range(self.base_lsn + 1, lsn + 1) if k in self.log)

    def _state_at(self, lsn):
        """The store's contents after applying the log up to ``lsn`` (>= the checkpoint)."""
        kv = dict(self.base_state)
        for k in range(self.base_lsn + 1, lsn + 1):
            entry = self.log.get(k)
            if entry is not None:
                kv[entry.key] = (entry.value, entry.lsn, entry.wid)
        return kv

    def _compact(self):
        """Fold committed entries into a checkpoint, keeping the last ``retain_entries`` of them."""
        keep = self.params["retain_entries"]
        if self.applied_lsn - self.base_lsn <= 2 * keep:
            return
        lsn = self.applied_lsn - keep
        if self.log.get(lsn) is None:
            return                             # a hole (only with a bug): keep the log as it is
        state = tuple(sorted(self._state_at(lsn).items()))
        wids = self._wids_until(lsn)
        self.base_lsn, self.base_epoch, self.base_state, self.base_wids = lsn, self.log[lsn].epoch, state, wids
        self._drop_until(lsn)
        self.persist(("checkpoint", self.epoch, lsn, self.base_epoch, state, wids))

    def _drop_until(self, lsn):
        for k in [k for k in self.log if k <= lsn]:
            del self.log[k]

    # ============================================================================== replica: epochs
    def accepts_epoch(self, msg):
        """Fencing: may this replica act on ``msg`` (a :class:`Replicate` or :class:`Snapshot`)?

        Only if ``msg.epoch`` is not older than the newest epoch this replica has adopted.

        Examples
        --------
        >>> node = PrimaryBackupNode("n2", peers=("n1", "zk")); _ = node.start([("epoch", 3)])
        >>> node.accepts_epoch(Replicate(2, 0, 0, (), 0, 0)), node.accepts_epoch(Replicate(3, 0, 0, (), 0, 0))
        (False, True)
        """
        if "no-fencing" in self.bugs:
            return True
        return msg.epoch >= self.epoch

    def _adopt(self, epoch, primary=None):
        """Enter a newer epoch: write it down first (fencing must survive a crash), step down if primary."""
        self.persist(("epoch", epoch))
        self.note("adopted epoch", epoch=epoch)
        old = self.epoch
        self.epoch, self.version, self.primary, self.members = epoch, -1, primary, ()
        if self.role == "primary":
            self._step_down(old)
        self.role = "recovering"

    def _step_down(self, old_epoch):
        self.note("stepped down", epoch=old_epoch, new_epoch=self.epoch)
        for lsn in sorted(self.pending):
            client, wid = self.pending[lsn]
            self.send(client, WriteReply(wid, False, old_epoch, lsn, "deposed: outcome unknown"))
        self.pending, self.match, self.next, self.pending_adds = {}, {}, {}, {}
        self.followers = set()
        self.ready, self.lease_until = False, None
        self.role = "backup"
        self.cancel_timer(RetransmitDue(old_epoch))

    def on_configuration(self, msg, sender):
        if self.is_coordinator:
            return
        if msg.epoch < self.epoch:
            self.note("stale configuration ignored", epoch=msg.epoch, current=self.epoch)
            return
        if msg.epoch == self.epoch and msg.version <= self.version:
            return
        new_epoch = msg.epoch > self.epoch
        was_primary = self.role == "primary"
        if new_epoch:
            self.persist(("epoch", msg.epoch))
            self.note("adopted epoch", epoch=msg.epoch)
        old = self.epoch
        old_primary = self.primary
        self.epoch, self.version, self.primary, self.members = msg.epoch, msg.version, msg.primary, msg.members
        if msg.primary == self.id:
            if was_primary and not new_epoch:
                self._members_changed()
                return
            if was_primary:
                self._step_down(old)           # primary again, in a new epoch: start afresh
            self._become_primary()
            return
        if was_primary:
            self._step_down(old)
        self.role = "backup" if self.id in self.members else "recovering"
        if new_epoch or old_primary != self.primary:
            self._ask_catch_up()

    def _ask_catch_up(self):
        if self.primary is not None and self.primary != self.id:
            base_lsn, base_epoch, runs = self.summary()
            self.send(self.primary, CatchUpRequest(self.epoch, base_lsn, base_epoch, runs))

    def on_stale_epoch(self, msg, sender):
        if self.is_coordinator or msg.epoch <= self.epoch:
            return
        self._adopt(msg.epoch, msg.primary)
        self._ask_catch_up()

    # ============================================================================== replica: backup side
    def on_replicate(self, msg, sender):
        if self.is_coordinator:
            return
        if not self.accepts_epoch(msg):
            self.note("refused stale epoch", epoch=msg.epoch, current=self.epoch)
            self.send(sender, StaleEpoch(self.epoch, self.primary))
            return
        if msg.epoch > self.epoch:
            self._adopt(msg.epoch, sender)
        elif msg.epoch == self.epoch and self.primary is None:
            self.primary = sender
        self._heard_primary = True
        if not self._has(msg.prev_lsn, msg.prev_epoch) and "serve-before-catch-up" not in self.bugs:
            base_lsn, base_epoch, runs = self.summary()
            self.send(sender, CatchUpRequest(msg.epoch, base_lsn, base_epoch, runs))
            return
        records = []
        for entry in msg.entries:
            if entry.lsn <= self.base_lsn:
                continue                       # inside the checkpoint already
            mine = self.log.get(entry.lsn)
            if mine is not None and mine.epoch == entry.epoch:
                continue                       # the same entry (one primary per epoch, one entry per LSN)
            if mine is not None:               # a divergent suffix: discard it
                self._truncate(entry.lsn - 1, msg.epoch, records)
            self.log[entry.lsn] = entry
            records.append(("entry", msg.epoch, entry))
        stale = [k for k in self.log if k > msg.last_lsn and self.log[k].epoch < msg.epoch]
        if stale:                              # old-epoch entries beyond the primary's log: divergent too
            self._truncate(min(stale) - 1, msg.epoch, records)
        if records:
            self.persist(*records)
        end = msg.prev_lsn + len(msg.entries)
        self._set_commit(min(msg.commit, end))
        self.send(sender, Stored(msg.epoch, end))

    def _truncate(self, lsn, epoch, records):
        self.note("discarded divergent suffix", after=lsn, entries=tuple(k for k in sorted(self.log) if k > lsn))
        self._drop_after(lsn)
        records.append(("truncate", epoch, lsn))
        if self.applied_lsn > lsn:
            self._apply_to(lsn)
        self.commit_lsn = min(self.commit_lsn, max(lsn, self.base_lsn))

    def on_snapshot(self, msg, sender):
        if self.is_coordinator:
            return
        if not self.accepts_epoch(msg):
            self.note("refused stale epoch", epoch=msg.epoch, current=self.epoch)
            self.send(sender, StaleEpoch(self.epoch, self.primary))
            return
        if msg.epoch > self.epoch:
            self._adopt(msg.epoch, sender)
        self._heard_primary = True
        in_line = self.epoch_at(msg.lsn) == msg.last_epoch and msg.lsn >= self.base_lsn
        folded = msg.lsn < self.base_lsn and self.params["replication"] == "sync"
        if not (in_line or folded):            # install: the whole state replaces the log
            self.base_lsn, self.base_epoch, self.base_state, self.base_wids = \
                msg.lsn, msg.last_epoch, msg.state, msg.wids
            self.log = {}
            self.kv = dict(msg.state)
            self.applied_lsn = self.commit_lsn = msg.lsn
            self.persist(("snapshot", msg.epoch, msg.lsn, msg.last_epoch, msg.state, msg.wids))
            self.note("installed snapshot", lsn=msg.lsn)
        self._set_commit(min(msg.commit, msg.lsn))
        self.send(sender, Stored(msg.epoch, msg.lsn))

    # ============================================================================== replica: primary side
    def _become_primary(self):
        self.role = "primary"
        self.ready = False
        self.lease_until = None
        self.takeover_lsn = self.last_lsn
        others = [r for r in self.replicas if r != self.id]
        self.match = {r: None for r in others}
        self.next = {r: None for r in others}
        self.pending, self.pending_adds, self._add_asked = {}, {}, {}
        self.followers = {m for m in self.members if m != self.id}
        self.note("became primary", epoch=self.epoch, replication=self.params["replication"],
                  log=self.last_lsn)
        self._heartbeat()                      # ask for a lease at once
        for replica in sorted_ids(self.followers):
            self._ship(replica)                # the others ask to catch up when they hear of this epoch
        self.set_timer(RetransmitDue(self.epoch), self.params["retransmit_ticks"])
        self._advance()

    def _members_changed(self):
        for node in list(self.pending_adds):
            if node in self.members or self.version > self.pending_adds[node]:
                del self.pending_adds[node]    # added, or the request can no longer succeed
        self._advance()

    def ack_set(self):
        """The replicas whose copy a synchronous write waits for: the members, and those being added."""
        return sorted_ids({m for m in self.members if m != self.id} | set(self.pending_adds))

    def has_lease(self):
        """Whether this primary may serve now (always, without leases)."""
        if not self.params["leases"]:
            return True
        return self.lease_until is not None and self.now < self.lease_until

    def _advance(self):
        """Move the commit point, apply, acknowledge what is committed, and note readiness."""
        if self.role != "primary":
            return
        if self.params["replication"] == "async":
            target = self.last_lsn
        else:
            target = min([self.last_lsn] + [self.match.get(r) or 0 for r in self.ack_set()])
        self._set_commit(target)
        if not self.ready and self.commit_lsn >= self.takeover_lsn:
            self.ready = True
            self.note("ready", epoch=self.epoch, commit=self.commit_lsn)
        self._acknowledge()

    def _acknowledge(self):
        if not self.has_lease():
            return                             # held until the lease is renewed
        for lsn in sorted(self.pending):
            if lsn > self.commit_lsn:
                break
            client, wid = self.pending.pop(lsn)
            entry = self.log.get(lsn)
            if (entry is not None and entry.wid == wid) or lsn <= self.base_lsn:
                self.send(client, WriteReply(wid, True, self.epoch, lsn))
            else:
                self.send(client, WriteReply(wid, False, self.epoch, lsn, "overwritten"))

    def catch_up_plan(self, match_lsn):
        """How to bring a replica whose log agrees with this primary's up to ``match_lsn`` up to date.

        Returns ``"log"`` (ship the entries after ``match_lsn``: log shipping) or
        ``"snapshot"`` (send the committed state: state transfer, the entries after
        the commit point following by log shipping).  ``match_lsn`` is ``None`` when
        the two logs share nothing this primary still has (it compacted the entries
        the replica lacks): only a snapshot can help then.  Otherwise log shipping is
        chosen unless the replica lacks more than ``ship_limit`` committed entries.

        Examples
        --------
        >>> node = PrimaryBackupNode("n1", params={"ship_limit": 4}); _ = node.start([])
        >>> node.log = {k: Entry(1, k, f"w{k}", "x", k) for k in range(1, 11)}
        >>> node.commit_lsn = 10
        >>> node.catch_up_plan(8), node.catch_up_plan(2), node.catch_up_plan(None)
        ('log', 'snapshot', 'snapshot')
        """
        if match_lsn is None:
            return "snapshot"
        if self.commit_lsn - match_lsn > self.params["ship_limit"]:
            return "snapshot"
        return "log"

    def match_point(self, base_lsn, base_epoch, runs):
        """The last LSN at which a replica's log (its checkpoint and ``runs``) agrees with this one.

        Two logs that hold an entry of the same epoch at the same LSN hold the same
        entries up to it (one primary per epoch, which appends each LSN once).
        Returns ``None`` when they agree nowhere this primary still has entries for.

        Examples
        --------
        >>> node = PrimaryBackupNode("n1"); _ = node.start([])
        >>> node.log = {1: Entry(1, 1, "w1", "x", 1), 2: Entry(1, 2, "w2", "x", 2), 3: Entry(2, 3, "w4", "y", 4)}
        >>> node.match_point(0, 0, ((1, 1, 3),))     # its entry 3 is from epoch 1: diverged after 2
        2
        """
        def theirs(lsn):
            if lsn == base_lsn:
                return base_epoch
            if lsn == 0:
                return 0
            for epoch, first, last in runs:
                if first <= lsn <= last:
                    return epoch
            return None
        their_last = max([base_lsn] + [last for _, _, last in runs])
        for lsn in range(min(their_last, self.last_lsn), self.base_lsn - 1, -1):
            mine = self.epoch_at(lsn)
            if mine is not None and theirs(lsn) == mine:
                return lsn
        return None

    def _ship(self, replica):
        """Send ``replica`` what it lacks (a probe if unknown; entries or a snapshot otherwise)."""
        nxt = self.next.get(replica)
        last = self.last_lsn
        if nxt is None:
            self.send(replica, Replicate(self.epoch, last, self.last_epoch, (), self.commit_lsn, last))
            return
        shared = nxt - 1
        if shared < self.base_lsn or self.epoch_at(shared) is None:
            shared = None
        plan = self.catch_up_plan(shared)
        if plan not in ("log", "snapshot"):
            raise ValueError(f"catch_up_plan() must return 'log' or 'snapshot'; got {plan!r}")
        if plan == "snapshot":
            lsn = self.applied_lsn
            state = tuple(sorted(self._state_at(lsn).items()))
            self.send(replica, Snapshot(self.epoch, lsn, self.epoch_at(lsn), state, self._wids_until(lsn),
                                        self.commit_lsn))
            self.next[replica] = lsn + 1
            return
        if shared is None:                     # "log" with nothing to ship from: start at the checkpoint
            shared = nxt = self.base_lsn       # (the replica will not match, and ask again)
            nxt += 1
        if nxt > last and self.match.get(replica) == last:
            return                             # nothing to send
        entries = tuple(self.log[k] for k in range(nxt, last + 1) if k in self.log)
        self.send(replica, Replicate(self.epoch, shared, self.epoch_at(shared), entries, self.commit_lsn, last))
        self.next[replica] = last + 1

    def on_write(self, msg, sender):
        if self.role != "primary":
            hint = f" (primary: {self.primary})" if self.primary not in (None, self.id) else ""
            what = "the coordination service takes no writes" if self.is_coordinator else f"not the primary{hint}"
            self.send(sender, WriteReply(msg.wid, False, self.epoch, 0, what))
            return
        known = [k for k, e in self.log.items() if e.wid == msg.wid]
        if known or msg.wid in self.base_wids:
            lsn = known[0] if known else self.base_wids.index(msg.wid) + 1
            self.note("repeated write", wid=msg.wid, lsn=lsn)
            self.pending[lsn] = (sender, msg.wid)
            self._acknowledge()
            return
        lsn = self.last_lsn + 1
        entry = Entry(self.epoch, lsn, msg.wid, msg.key, msg.value)
        self.log[lsn] = entry
        self.persist(("entry", self.epoch, entry))       # force it first
        self.pending[lsn] = (sender, msg.wid)
        if self.params["replication"] == "async":
            self._advance()                              # acknowledged after the local force only
        for replica in self.next:
            if self.next[replica] is not None:
                self._ship(replica)
        self._advance()

    def on_read(self, msg, sender):
        reason = self.read_refusal()
        if reason is not None:
            self.send(sender, ReadReply(msg.rid, msg.key, False, None, 0, self.epoch, reason))
            return
        value, lsn, _ = self.kv.get(msg.key, (None, 0, None))
        self.send(sender, ReadReply(msg.rid, msg.key, True, value, lsn, self.epoch))

    def read_refusal(self):
        """Why this node may not serve a read now (``None``: it may)."""
        if self.is_coordinator:
            return "the coordination service takes no reads"
        if self.role != "primary":
            return "not the primary" + (f" (primary: {self.primary})" if self.primary not in (None, self.id) else "")
        if not self.ready:
            return "taking over: not caught up yet"
        if not self.has_lease():
            return "no lease"
        return None

    def on_stored(self, msg, sender):
        if self.is_coordinator:
            return
        if msg.epoch > self.epoch:
            self._adopt(msg.epoch)
            return
        if self.role != "primary" or msg.epoch != self.epoch or sender not in self.match:
            return
        self.followers.add(sender)
        self.match[sender] = max(self.match[sender] or 0, msg.lsn)
        self.next[sender] = max(self.next[sender] or 0, self.match[sender] + 1)
        self._maybe_add(sender)
        self._advance()

    def _maybe_add(self, replica):
        """A replica outside the configuration holds the whole log: ask the coordinator to add it."""
        if replica in self.members or replica in self.pending_adds or self.match.get(replica) != self.last_lsn:
            return
        asked = self._add_asked.get(replica)
        if asked is not None and self.now - asked < self.params["suspect_ticks"]:
            return
        self._add_asked[replica] = self.now
        self.pending_adds[replica] = self.version        # counted from now on, until refused
        self.note("caught up", node=replica, lsn=self.last_lsn)
        self.send(self.params["coordinator"], AddMember(self.epoch, self.version, replica))

    def on_catch_up_request(self, msg, sender):
        if self.is_coordinator:
            return
        if msg.epoch > self.epoch:
            self._adopt(msg.epoch)
            return
        if msg.epoch < self.epoch:
            self.send(sender, StaleEpoch(self.epoch, self.primary))
            return
        if self.role != "primary" or sender not in self.match:
            return
        point = self.match_point(msg.base_lsn, msg.base_epoch, msg.runs)
        if sender in self.followers and point == self.match[sender] == self.last_lsn:
            return                             # a repeated request from a replica that holds everything
        self.followers.add(sender)
        self.match[sender] = point
        self.next[sender] = point + 1 if point is not None else 0
        self.note("catch-up", node=sender, match=point, plan=self.catch_up_plan(point))
        self._ship(sender)

    def on_lease_grant(self, msg, sender):
        if self.role != "primary" or msg.epoch != self.epoch:
            return
        until = msg.sent_at + self.params["lease_ticks"]
        if self.lease_until is None or until > self.lease_until:
            self.lease_until = until
        self._acknowledge()

    def on_retransmit_due(self, timer):
        if self.role != "primary" or timer.epoch != self.epoch:
            return
        last = self.last_lsn
        self.followers |= {m for m in self.members if m != self.id} | set(self.pending_adds)
        for replica in sorted_ids(self.followers):
            known = self.match[replica]
            if known is None or known < last:
                self.next[replica] = None if known is None else known + 1
                self._ship(replica)
            else:
                self._maybe_add(replica)
        for node in list(self.pending_adds):             # ask again (the request may have been lost)
            self.send(self.params["coordinator"], AddMember(self.epoch, self.pending_adds[node], node))
        self.set_timer(RetransmitDue(self.epoch), self.params["retransmit_ticks"])

    # ============================================================================== replica: heartbeats
    def _heartbeat(self):
        self.send(self.params["coordinator"],
                  Heartbeat(self.epoch, self.version, self.role == "primary", self.last_epoch or 0,
                            self.last_lsn, self.now))

    def on_heartbeat_due(self, timer):
        if self.is_coordinator:
            return
        self._heartbeat()
        if self.role == "recovering" and not self._heard_primary:
            self._ask_catch_up()               # nothing from the primary lately: ask (again) to catch up
        self._heard_primary = False
        self.set_timer(HeartbeatDue(), self.params["heartbeat_ticks"])


# ---------------------------------------------------------------------------------- checkers
def _msg(event):
    return event.data.get("msg")


class _LogImage:
    """A replica's log as its stable storage holds it, rebuilt from ``stored`` events."""

    __slots__ = ("base_lsn", "base_wids", "entries")

    def __init__(self):
        self.base_lsn, self.base_wids, self.entries = 0, (), {}

    def apply(self, record):
        kind = record[0]
        if kind == "entry":
            entry = record[2]
            if entry.lsn > self.base_lsn:
                self.entries[entry.lsn] = entry
        elif kind == "truncate":
            self.entries = {k: v for k, v in self.entries.items() if k <= record[2]}
        elif kind in ("checkpoint", "snapshot"):
            self.base_lsn, self.base_wids = record[2], record[5]
            self.entries = {} if kind == "snapshot" else {k: v for k, v in self.entries.items() if k > record[2]}

    def wid_at(self, lsn):
        if lsn <= self.base_lsn:
            return self.base_wids[lsn - 1] if 0 < lsn <= len(self.base_wids) else None
        entry = self.entries.get(lsn)
        return entry.wid if entry is not None else None

    def sequence(self):
        return list(self.base_wids) + [self.entries[k].wid for k in sorted(self.entries)]


def _records(event):
    return [r for r in event.data["records"] if not isinstance(r, Torn)]


class _Durability:
    """Acknowledged writes against the newest primary's log; that log against the submissions."""

    def __init__(self):
        self.submitted = {}     # wid -> position among submissions
        self.acked = {}         # wid -> lsn
        self.logs = {}          # node -> _LogImage
        self.current = None     # (epoch, node): the newest primary

    def __call__(self, event):
        kind = event.kind
        if kind == "request" and isinstance(_msg(event), Write):
            self.submitted.setdefault(_msg(event).wid, len(self.submitted))
            return None
        if kind == "reply" and isinstance(_msg(event), WriteReply) and _msg(event).ok:
            self.acked.setdefault(_msg(event).wid, _msg(event).lsn)
            return self._check()
        if kind == "stored":
            image = self.logs.setdefault(event.node, _LogImage())
            for record in _records(event):
                image.apply(record)
            return self._check() if self.current and self.current[1] == event.node else None
        if kind == "crashed" and event.data.get("disk_lost"):
            self.logs[event.node] = _LogImage()
            return None
        if kind == "note" and event.data["text"] == "became primary":
            epoch = event.data["fields"]["epoch"]
            if self.current is None or epoch >= self.current[0]:
                self.current = (epoch, event.node)
                return self._check()
        return None

    def _check(self):
        if self.current is None:
            return None
        epoch, node = self.current
        image = self.logs.setdefault(node, _LogImage())
        for wid, lsn in self.acked.items():
            there = image.wid_at(lsn)
            if there != wid:
                held = f"{there} there" if there else "nothing there"
                return Violation("Durability", (node,),
                                 f"acknowledged write {wid} (LSN {lsn}) is not in the log of {node}, the "
                                 f"primary of epoch {epoch}: it has {held}")
        last = -1
        seen = set()
        for wid in image.sequence():
            where = self.submitted.get(wid)
            if where is None or wid in seen or where < last:
                why = ("was never submitted" if where is None else "appears twice" if wid in seen
                       else "comes before a write submitted earlier")
                return Violation("Durability", (node,), f"the log of {node} (primary of epoch {epoch}) is "
                                                        f"not the submissions in order: {wid} {why}")
            seen.add(wid)
            last = where
        return None


class _SplitBrain:
    """Two different writes acknowledged at one LSN."""

    def __init__(self):
        self.at = {}            # lsn -> (wid, node, epoch)

    def __call__(self, event):
        if event.kind != "reply" or not isinstance(_msg(event), WriteReply) or not _msg(event).ok:
            return None
        msg = _msg(event)
        first = self.at.setdefault(msg.lsn, (msg.wid, event.node, msg.epoch))
        if first[0] != msg.wid:
            nodes = tuple(sorted_ids({first[1], event.node}))
            return Violation("Split brain", nodes,
                             f"LSN {msg.lsn} acknowledged as {first[0]} by {first[1]} (epoch {first[2]}) and "
                             f"as {msg.wid} by {event.node} (epoch {msg.epoch})")
        return None


class _StaleEpoch:
    """Storage writes and acknowledgements against the newest epoch each replica adopted."""

    _SHIPPED = ("entry", "truncate", "checkpoint", "snapshot")

    def __init__(self):
        self.adopted = {}       # node -> newest epoch on its disk

    def __call__(self, event):
        kind, node = event.kind, event.node
        if kind == "stored":
            stale = []
            for record in _records(event):
                if record[0] == "epoch":
                    self.adopted[node] = max(self.adopted.get(node, 0), record[1])
                elif record[0] in self._SHIPPED and record[1] < self.adopted.get(node, 0):
                    stale.append(record)
            if stale:
                record = next((r for r in stale if r[0] == "entry"), stale[0])
                what = f"write {record[2].wid}" if record[0] == "entry" else f"{record[0]} record"
                return Violation("Stale epoch", (node,),
                                 f"{node} stored a {what} from epoch {record[1]} after adopting epoch "
                                 f"{self.adopted[node]}")
        elif kind == "crashed" and event.data.get("disk_lost"):
            self.adopted.pop(node, None)
        elif kind == "reply" and isinstance(_msg(event), WriteReply) and _msg(event).ok:
            msg = _msg(event)
            if msg.epoch < self.adopted.get(node, 0):
                return Violation("Stale epoch", (node,),
                                 f"{node} acknowledged {msg.wid} in epoch {msg.epoch} after adopting epoch "
                                 f"{self.adopted[node]}")
        return None


class _OnePrimary:
    """Who became primary in each epoch."""

    def __init__(self):
        self.primary = {}       # epoch -> node

    def __call__(self, event):
        if event.kind != "note" or event.data["text"] != "became primary":
            return None
        epoch = event.data["fields"]["epoch"]
        first = self.primary.setdefault(epoch, event.node)
        if first != event.node:
            return Violation("One primary per epoch", tuple(sorted_ids({first, event.node})),
                             f"{first} and {event.node} both became primary of epoch {epoch}")
        return None


class _LeaseSafety:
    """Once the coordinator has written a newer epoch down, nobody serves in an older one."""

    def __init__(self):
        self.newest = 0

    def __call__(self, event):
        if event.kind == "stored":
            for record in _records(event):
                if record[0] == "config":
                    self.newest = max(self.newest, record[1])
            return None
        if event.kind == "reply":
            msg = _msg(event)
            if isinstance(msg, (WriteReply, ReadReply)) and msg.ok and msg.epoch < self.newest:
                what = f"acknowledged {msg.wid}" if isinstance(msg, WriteReply) else f"served {msg.rid} ({msg.key})"
                return Violation("Lease safety", (event.node,),
                                 f"{event.node} {what} in epoch {msg.epoch} after epoch {self.newest} began")
        return None


class _MonotonicReads:
    """Per client and key: the newest version it has seen (its acknowledged writes, its reads)."""

    def __init__(self):
        self.keys = {}          # wid -> key
        self.seen = {}          # (client, key) -> (lsn, how)

    def __call__(self, event):
        msg = _msg(event)
        if event.kind == "request" and isinstance(msg, Write):
            self.keys[msg.wid] = msg.key
            return None
        if event.kind != "reply" or not getattr(msg, "ok", False):
            return None
        client = event.data["client"]
        if isinstance(msg, WriteReply):
            key = self.keys.get(msg.wid)
            slot = (client, key)
            if msg.lsn > self.seen.get(slot, (0, ""))[0]:
                self.seen[slot] = (msg.lsn, f"its write {msg.wid} acknowledged at LSN {msg.lsn}")
            return None
        if isinstance(msg, ReadReply):
            slot = (client, msg.key)
            before = self.seen.get(slot, (0, ""))
            if msg.lsn < before[0]:
                return Violation("Monotonic reads", (event.node,),
                                 f"{client} read {msg.key}={msg.value!r} (LSN {msg.lsn}) from {event.node} after "
                                 f"{before[1]}")
            self.seen[slot] = (msg.lsn, f"reading {msg.key}={msg.value!r} (LSN {msg.lsn})")
        return None


DURABILITY = Invariant("Durability: with synchronous replication every acknowledged write is in the newest "
                       "primary's log at its LSN, and that log holds submitted writes only, each once, in "
                       "submission order", observe=_Durability)
SPLIT_BRAIN = Invariant("Split brain: with synchronous replication no two different writes are acknowledged "
                        "at the same LSN", observe=_SplitBrain)
STALE_EPOCH = Invariant("Stale epoch: a replica never stores, and never acknowledges, a write from an epoch "
                        "older than the newest it has adopted", observe=_StaleEpoch)
ONE_PRIMARY = Invariant("One primary per epoch: no two replicas become primary of the same epoch",
                        observe=_OnePrimary)
LEASE_SAFETY = Invariant("Lease safety: with leases, no primary serves a read or acknowledges a write in an "
                         "epoch older than the newest the coordinator has written down", observe=_LeaseSafety)
MONOTONIC_READS = Invariant("Monotonic reads: with leases and synchronous replication a client never reads an "
                            "older version of a key than one it has seen", observe=_MonotonicReads)

#: Every invariant (:func:`invariants_for` picks those a run's parameters promise).
INVARIANTS = [DURABILITY, SPLIT_BRAIN, STALE_EPOCH, ONE_PRIMARY, LEASE_SAFETY, MONOTONIC_READS]


def invariants_for(params):
    """The invariants a run with ``params`` is checked against.

    Asynchronous replication promises no durability (its losses are counted, not
    checked); only leases promise that a deposed primary stops serving.

    >>> [inv.name for inv in invariants_for({})]
    ['Durability', 'Split brain', 'Stale epoch', 'One primary per epoch']
    >>> [inv.name for inv in invariants_for({"replication": "async", "leases": True})]
    ['Stale epoch', 'One primary per epoch', 'Lease safety']
    """
    merged = dict(PrimaryBackupNode.params, **params)
    sync, leases = merged["replication"] == "sync", merged["leases"]
    out = [DURABILITY, SPLIT_BRAIN] if sync else []
    out += [STALE_EPOCH, ONE_PRIMARY]
    if leases:
        out.append(LEASE_SAFETY)
        if sync:
            out.append(MONOTONIC_READS)
    return out


def _ready_primary(nodes):
    """Once calm: the coordinator's primary runs, acts as primary of its epoch and has taken over."""
    coordinators = [n for n in nodes.values() if n.role == "coordinator"]
    if not coordinators:
        return Violation("Primary", (), "the coordination service is not running")
    zk = coordinators[0]
    node = nodes.get(zk.primary)
    if node is None:
        return Violation("Primary", (zk.id,), f"the primary {zk.primary} of epoch {zk.epoch} is not running")
    if node.role != "primary" or node.epoch != zk.epoch or not node.ready:
        return Violation("Primary", (node.id,), f"{node.id} is not yet the ready primary of epoch {zk.epoch} "
                                                f"(role {node.role}, epoch {node.epoch}, ready {node.ready})")
    return None


def _rejoined(nodes):
    """Once calm: every replica is back in the configuration."""
    coordinators = [n for n in nodes.values() if n.role == "coordinator"]
    if not coordinators:
        return None
    zk = coordinators[0]
    missing = [r for r in zk.replicas if r not in zk.members]
    if missing:
        return Violation("Rejoined", tuple(missing), f"{', '.join(missing)} not back in the configuration "
                                                     f"(members: {', '.join(zk.members)})")
    return None


#: Liveness: once faults stop, a primary takes over and every replica catches up and rejoins.
LIVENESS = [
    Liveness("Primary: once calm, the coordinator's primary runs and has taken over (it serves)",
             check=_ready_primary, within_ticks=800),
    Liveness("Rejoined: once calm, every replica has caught up and is back in the configuration",
             check=_rejoined, within_ticks=800),
]
