"""Failure detection: fixed-timeout heartbeats, and the φ accrual detector.

A *monitor* watches *members*.  It cannot see a crash; it sees messages, or
their absence, and turns that into a suspicion which may be wrong (the member
is only slow, or its messages are lost).  Chandra & Toueg (1996) name the two
properties a detector trades against each other: *completeness* (every crashed
member is eventually suspected, for good) and *accuracy* (live members are not
suspected).  Chen, Toueg & Aguilera (2002) measure the trade-off (see
:func:`fttoolkit.doors.detection.qos`).

Who talks to whom (parameters ``mode`` and ``topology``):

* ``mode="push"``: every member sends ``Heartbeat(seq)`` every ``interval_ticks``;
* ``mode="pull"``: every monitor sends ``Ping(seq)`` to its members every
  ``interval_ticks``; a member answers ``Pong(seq)`` with the same ``seq``;
* ``topology="all"``: every node monitors every other node;
  ``topology="monitor"``: the node ``monitor`` (``"n1"``) monitors the others,
  which monitor nobody.

``seq`` is the sending monitor's or member's clock reading when it was sent:
it grows across restarts (no stable storage needed), so a monitor recognises a
duplicate or an overtaken copy (``seq`` not above the last one it took) and
ignores it.

:class:`HeartbeatNode`, the fixed timeout
    a monitor suspects a member when no fresh heartbeat (or pong) arrived for
    ``timeout_ticks``, **measured from the arrival of the last one** (a per-member
    timer ``Silence(member)`` re-armed at each arrival; the boot counts as an
    arrival), and trusts it again as soon as one arrives.  Derived bound
    (completeness): a member that crashes at ``t`` sent its last heartbeat (or
    pong) at ``t`` at the latest, which arrives by ``t + D`` (``D`` the largest
    one-way delay); so every monitor running since suspects it by
    ``t + D + timeout_ticks``, in push and in pull mode alike (a monitor that
    (re)boots at ``b > t + D``: by ``b + timeout_ticks``).  With no loss and delays
    in ``[d, D]``, push mode makes no mistake when ``timeout_ticks > interval_ticks
    + D - d``, pull mode when ``timeout_ticks > interval_ticks + 2 D - 2 d``.

:class:`PhiNode`, the φ accrual detector (Hayashibara, Défago, Yared & Katayama, 2004)
    keeps, per member, the ``window`` most recent inter-arrival times, fits a
    normal distribution (mean μ, standard deviation σ, at least ``min_std_ticks``)
    and outputs the suspicion level ``φ(now) = -log10(P_later(now - last))``,
    where ``P_later(Δ) = 1 - F(Δ)`` is the probability that the next heartbeat
    comes more than Δ after the last one.  The member is suspected when
    ``φ >= threshold``, that is when ``Δ >= μ + z σ`` with ``z = Φ⁻¹(1 - 10^-threshold)``
    (φ = 1: a 10% chance of a mistake, φ = 8: 10⁻⁸); the monitor arms its timer
    for that instant.  The window starts with one sample, ``interval_ticks``
    (the expected period; Akka's detector bootstraps the same way).  Derived
    bound: if ``G`` is the largest interval in the window at the last arrival,
    then μ <= G and σ <= G / 2 (values in [0, G]), so suspicion comes at most
    ``G + z max(G / 2, min_std_ticks)`` (+1 tick of rounding) after the last
    arrival, so by ``t + D + G + z max(G/2, min_std_ticks) + 1`` after a crash at
    ``t``.  With no loss and delays in ``[d, D]``, ``G <= interval_ticks + D - d``.

State
-----
``status`` (member -> "alive" | "suspected"; "dead" is not used here),
``last_heard`` (member -> local tick of the last fresh arrival, or of the
boot), ``seq_heard`` (member -> the last ``seq`` taken), and for
:class:`PhiNode` ``intervals`` (member -> the recent inter-arrival ticks).
All volatile: a rebooted monitor trusts everyone and starts counting again.
``role`` is "monitor" for a node that watches somebody, else "member".

Notes: ``suspect`` and ``trust``, with ``member=``.

Bug zoo
-------
``timeout-below-interval``
    (heartbeat) the timeout is half the heartbeat interval, whatever
    ``timeout_ticks`` says: a monitor suspects every member between any two
    heartbeats (constant false suspicions; measured by the query accuracy P_A).

Examples
--------
>>> node = HeartbeatNode("n1", peers=("n2", "n3"))
>>> node.start([])
[Send(->n2 Heartbeat(seq=0)), Send(->n3 Heartbeat(seq=0)), SetTimer(Beat() in 50), SetTimer(Silence(member='n2') in 150), SetTimer(Silence(member='n3') in 150)]
>>> node.now = 150
>>> node.handle_timer(Silence("n2"))
[Note('suspect', member='n2')]
>>> node.status
{'n2': 'suspected', 'n3': 'alive'}
"""

import functools
import math
from statistics import NormalDist

from ..core.errors import BadParameter
from ..core.invariants import Invariant, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["HeartbeatNode", "PhiNode", "Heartbeat", "Ping", "Pong", "Beat", "Silence", "phi_of",
           "normal_stats", "suspicion_delay", "completeness", "invariants_for"]


# ----------------------------------------------------------------------------- messages and timers
class Heartbeat(Message):
    """Push mode: I am alive (``seq``: my clock when I sent this)."""

    seq: int


class Ping(Message):
    """Pull mode: are you alive? (``seq``: the monitor's clock when it asked)."""

    seq: int


class Pong(Message):
    """Pull mode: I am alive, answering the Ping ``seq``."""

    seq: int


class Beat(Timer):
    """Every ``interval_ticks``: send the heartbeats (push) or the pings (pull)."""


class Silence(Timer):
    """No fresh heartbeat from ``member`` for the timeout (or φ reached the threshold)."""

    member: str


# ----------------------------------------------------------------------------- φ, as pure functions
def normal_stats(intervals, min_std):
    """Mean and standard deviation (population, floored at ``min_std``) of the inter-arrival times.

    >>> normal_stats([40, 50, 60], 1)
    (50.0, 8.16496580927726)
    >>> normal_stats([50, 50], 5)
    (50.0, 5)
    """
    n = len(intervals)
    mean = sum(intervals) / n
    var = sum((x - mean) ** 2 for x in intervals) / n
    return mean, max(math.sqrt(var), min_std)


def phi_of(delta, mean, std):
    """φ = -log10(P_later(delta)) for a normal distribution (inf once P_later underflows).

    >>> round(phi_of(50, 50, 10), 4)       # the mean: P_later = 1/2
    0.301
    >>> round(phi_of(50 + 10 * 3.0902323061678132, 50, 10), 3)    # 3.09 std above: P_later = 1e-3
    3.0
    """
    p_later = 0.5 * math.erfc((delta - mean) / (std * math.sqrt(2)))
    return math.inf if p_later <= 0 else -math.log10(p_later)


def _z(threshold):
    """The number of standard deviations above the mean at which φ reaches ``threshold``."""
    return -NormalDist().inv_cdf(10.0 ** -threshold)


def suspicion_delay(mean, std, threshold):
    """Ticks after the last arrival at which φ reaches ``threshold``: ``mean + z std`` (a float)."""
    return mean + _z(threshold) * std


def _check_params(cls, params):
    """Clear errors for parameter values that make no sense (names are checked by Node)."""
    def whole(name, low=1):
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise BadParameter(f"{cls.__name__}: {name} must be a whole number >= {low}; got {value!r}")
    whole("interval_ticks")
    if "timeout_ticks" in params:
        whole("timeout_ticks")
    if params["mode"] not in ("push", "pull"):
        raise BadParameter(f"{cls.__name__}: mode must be 'push' or 'pull'; got {params['mode']!r}")
    if params["topology"] not in ("all", "monitor"):
        raise BadParameter(f"{cls.__name__}: topology must be 'all' or 'monitor'; got {params['topology']!r}")
    if not isinstance(params["monitor"], str):
        raise BadParameter(f"{cls.__name__}: monitor must be a node id such as 'n1'; got {params['monitor']!r}")
    if "window" in params:
        whole("window")
        t, s = params["threshold"], params["min_std_ticks"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 300:
            raise BadParameter(f"{cls.__name__}: threshold must be a number in (0, 300]; got {t!r}")
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not s > 0:
            raise BadParameter(f"{cls.__name__}: min_std_ticks must be a number > 0; got {s!r}")


def _watches(params, node_id, ids):
    """The members ``node_id`` monitors, among ``ids`` (the other nodes)."""
    if params["topology"] == "all":
        return tuple(ids)
    return tuple(ids) if node_id == params["monitor"] else ()


# ----------------------------------------------------------------------------- the nodes
class HeartbeatNode(Node):
    """A node that sends heartbeats and (as a monitor) suspects silent members after a fixed timeout.

    Parameters (``params``): ``interval_ticks`` (period of the heartbeats or pings),
    ``timeout_ticks`` (silence, since the last arrival, before suspecting), ``mode``
    ("push" or "pull"), ``topology`` ("all" or "monitor"), ``monitor`` (the monitor's id
    with ``topology="monitor"``).  See the module docstring.
    """

    params = {"interval_ticks": 50, "timeout_ticks": 150, "mode": "push", "topology": "all", "monitor": "n1"}
    bugs = {
        "timeout-below-interval": "the timeout is half the heartbeat interval: constant false suspicions",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _check_params(type(self), self.params)

    # ------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.members = _watches(self.params, self.id, self.peers)
        self.role = "monitor" if self.members else "member"
        self.status = {m: "alive" for m in self.members}
        self.last_heard = {m: self.now for m in self.members}
        self.seq_heard = {m: -1 for m in self.members}
        self.beat()
        for member in self.members:
            self.arm(member)

    @property
    def targets(self):
        """Whom this node sends heartbeats to (push mode)."""
        if self.params["topology"] == "all":
            return self.peers
        monitor = self.params["monitor"]
        return (monitor,) if monitor != self.id and monitor in self.peers else ()

    @property
    def timeout(self):
        """The timeout in force (half the interval with the bug ``timeout-below-interval``)."""
        if "timeout-below-interval" in self.bugs:
            return max(1, self.params["interval_ticks"] // 2)
        return self.params["timeout_ticks"]

    # ------------------------------------------------------------------------- sending
    def beat(self):
        if self.params["mode"] == "push":
            for target in self.targets:
                self.send(target, Heartbeat(self.now))
        else:
            for member in self.members:
                self.send(member, Ping(self.now))
        self.set_timer(Beat(), self.params["interval_ticks"])

    def on_beat(self, timer):
        self.beat()

    def on_ping(self, msg, sender):
        self.send(sender, Pong(msg.seq))

    # ------------------------------------------------------------------------- monitoring
    def on_heartbeat(self, msg, sender):
        self.heard(sender, msg.seq)

    def on_pong(self, msg, sender):
        self.heard(sender, msg.seq)

    def heard(self, member, seq):
        """A fresh sign of life from ``member``: trust it, and count the silence from now."""
        if member not in self.status or seq <= self.seq_heard[member]:
            return                                  # not watched, or a duplicate / overtaken copy
        self.seq_heard[member] = seq
        self.arrived(member)
        self.last_heard[member] = self.now
        if self.status[member] != "alive":
            self.status[member] = "alive"
            self.note("trust", member=member)
        self.arm(member)

    def arrived(self, member):
        """Hook called on a fresh arrival, before ``last_heard`` moves (φ records the interval)."""

    def arm(self, member):
        self.set_timer(Silence(member), self.wait(member))

    def wait(self, member):
        """Ticks from now until ``member`` is to be suspected if nothing arrives."""
        return self.timeout

    def on_silence(self, timer):
        member = timer.member
        if self.status.get(member) == "alive":
            self.status[member] = "suspected"
            self.note("suspect", member=member)


class PhiNode(HeartbeatNode):
    """The φ accrual detector: suspects a member when φ reaches ``threshold`` (module docstring).

    Parameters: ``interval_ticks``, ``mode``, ``topology``, ``monitor`` as for
    :class:`HeartbeatNode`; ``window`` (inter-arrival times kept per member),
    ``threshold`` (φ at which to suspect), ``min_std_ticks`` (floor of σ).

    >>> node = PhiNode("n1", peers=("n2",), params={"window": 4})
    >>> _ = node.start([])
    >>> for t in (40, 100, 150):
    ...     node.now = t
    ...     _ = node.handle_message(Heartbeat(t), "n2")
    >>> node.intervals["n2"]
    [50, 40, 60, 50]
    >>> round(node.phi("n2", 200), 3)    # Δ = 50 = μ
    0.301
    """

    params = {"interval_ticks": 50, "window": 20, "threshold": 8.0, "min_std_ticks": 5,
              "mode": "push", "topology": "all", "monitor": "n1"}
    bugs = {}

    def on_start(self, records):
        self.intervals = {m: [self.params["interval_ticks"]]
                          for m in _watches(self.params, self.id, self.peers)}
        super().on_start(records)

    def arrived(self, member):
        window = self.intervals[member]
        window.append(self.now - self.last_heard[member])
        del window[:-self.params["window"]]

    def stats(self, member):
        """(μ, σ) of ``member``'s inter-arrival window (σ floored at ``min_std_ticks``)."""
        return normal_stats(self.intervals[member], self.params["min_std_ticks"])

    def phi(self, member, now):
        """The suspicion level φ of ``member`` at local tick ``now`` (pure: changes nothing)."""
        mean, std = self.stats(member)
        return phi_of(now - self.last_heard[member], mean, std)

    def wait(self, member):
        mean, std = self.stats(member)
        due = self.last_heard[member] + math.ceil(suspicion_delay(mean, std, self.params["threshold"]))
        return max(1, due - self.now)

    def on_silence(self, timer):
        member = timer.member
        if self.status.get(member) != "alive":
            return
        if self.phi(member, self.now) >= self.params["threshold"]:
            self.status[member] = "suspected"
            self.note("suspect", member=member)
        else:                                   # rounding left φ a hair below: look again next tick
            self.set_timer(Silence(member), 1)


# ----------------------------------------------------------------------------- completeness
class _Completeness:
    """Follows the trace: which monitors run, what they heard fresh and when, what they suspect.

    The deadline of a pair (monitor q, crashed member p) is computed from the trace alone (the
    arrivals q took, not q's own variables), so a detector that forgets to suspect is caught.
    """

    def __init__(self, spec):
        self.spec = spec
        self.boot = {}        # running node -> tick it (re)booted
        self.down = {}        # crashed node -> tick it crashed
        self.view = {}        # (q, p) -> "suspected" while q suspects p
        self.last = {}        # (q, p) -> tick of q's last fresh arrival from p
        self.seq = {}         # (q, p) -> last seq q took from p
        self.gaps = {}        # (q, p) -> recent inter-arrival ticks (φ)

    def watches(self, q, p):
        return p != q and (self.spec["topology"] == "all" or q == self.spec["monitor"])

    def allowance(self, pair):
        """Ticks after the last arrival by which the member must be suspected."""
        spec = self.spec
        if spec["kind"] == "heartbeat":
            return spec["timeout"]
        gaps = self.gaps.get(pair, [spec["interval"]])
        big = max(gaps)
        return math.ceil(big + _z(spec["threshold"]) * max(big / 2, spec["min_std"])) + 1

    def __call__(self, event):
        kind, node = event.kind, event.node
        if kind in ("start", "restarted"):
            self.boot[node] = event.tick
            self.down.pop(node, None)
            for table in (self.last, self.seq, self.gaps, self.view):
                for key in [k for k in table if k[0] == node]:
                    del table[key]
        elif kind == "crashed":
            self.boot.pop(node, None)
            self.down[node] = event.tick
        elif kind == "note" and event.data["text"] in ("suspect", "trust"):
            pair = (node, event.data["fields"]["member"])
            if event.data["text"] == "suspect":
                self.view[pair] = "suspected"
            else:
                self.view.pop(pair, None)
        elif kind == "delivered":
            msg = event.data["msg"]
            wanted = Heartbeat if self.spec["mode"] == "push" else Pong
            pair = (node, event.data["src"])
            if type(msg) is wanted and self.watches(*pair) and msg.seq > self.seq.get(pair, -1):
                self.seq[pair] = msg.seq
                last = self.last.get(pair, self.boot.get(node, event.tick))
                if self.spec["kind"] == "phi":
                    gaps = self.gaps.setdefault(pair, [self.spec["interval"]])
                    gaps.append(event.tick - last)
                    del gaps[:-self.spec["window"]]
                self.last[pair] = event.tick
        if not self.down:
            return None
        found = []
        for p, crashed_at in self.down.items():
            for q, booted in self.boot.items():
                if not self.watches(q, p) or self.view.get((q, p)) == "suspected":
                    continue
                last = self.last.get((q, p), booted)
                deadline = last + self.allowance((q, p))
                if event.tick > deadline:
                    found.append(Violation("Completeness", (q, p),
                                           f"{p} crashed at t={crashed_at}, {q} last heard from it at t={last}, "
                                           f"but still trusts it after t={deadline}"))
        return found or None


def completeness(node_class, params, bugs=()):
    """The completeness invariant for a detector node class with these parameters and bugs.

    "Every crashed member is suspected by every running monitor within the derived bound
    (module docstring), counted from the last fresh heartbeat (or pong) the monitor took from it,
    or from the monitor's boot."  Checked at every trace event; accuracy is measured, not asserted.
    """
    merged = dict(node_class.params, **params)
    phi = issubclass(node_class, PhiNode)
    timeout = None
    if not phi:
        timeout = max(1, merged["interval_ticks"] // 2) if "timeout-below-interval" in bugs else merged["timeout_ticks"]
    spec = {"kind": "phi" if phi else "heartbeat", "mode": merged["mode"], "topology": merged["topology"],
            "monitor": merged["monitor"], "interval": merged["interval_ticks"], "timeout": timeout,
            "window": merged.get("window"), "threshold": merged.get("threshold"),
            "min_std": merged.get("min_std_ticks")}
    bound = ("timeout_ticks" if not phi else "G + z max(G/2, min_std_ticks) + 1")
    return Invariant(f"Completeness: every crashed member is suspected by every running monitor within "
                     f"{bound} of the last heartbeat it took (so within that + the largest delay of the crash)",
                     observe=functools.partial(_Completeness, spec))


def invariants_for(node_class, params, bugs=()):
    """The invariants a detector run is checked against (completeness; accuracy is measured)."""
    return [completeness(node_class, params, bugs)]
