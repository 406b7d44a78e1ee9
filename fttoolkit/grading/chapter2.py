"""Chapter 2's exercises, on failure detection (heartbeats, φ accrual, SWIM).

* 2.1 **φ from a window of arrivals** (Hayashibara, Défago, Yared & Katayama, "The φ Accrual Failure
  Detector", 2004): a plain function ``phi(intervals, elapsed, min_std)``, the same computation as the
  course's ``phi_of(elapsed, *normal_stats(intervals, min_std))`` in
  :mod:`fttoolkit.algorithms.heartbeat`; graded on hand-made windows, edge cases, and plugged into
  :class:`~fttoolkit.algorithms.heartbeat.PhiNode` (its ``phi`` method) under
  :func:`fttoolkit.doors.detection.qos` and the completeness invariant.
* 2.2 **A timeout chooser**: ``choose_timeout(interval, delay_low, delay_high, target)``, the smallest
  whole timeout whose false-suspicion probability per heartbeat is at most ``target`` (delays uniform,
  no loss); graded by the formula, and by measuring :class:`~fttoolkit.doors.detection.HeartbeatDetection`
  with that timeout.
* 2.3 **SWIM's indirect probe** (Das, Gupta & Motivala, "SWIM", 2002, §3.1): the relay's
  ``on_ping_req`` in a subclass of :class:`~fttoolkit.algorithms.swim.SwimNode` (the course's
  ``on_ack`` relays the target's Ack back); graded in the simulator with a clogged direct link, a crashed
  target, and fuzzed schedules under SWIM's completeness invariant.  Every failing run carries its seed
  and a scenario script; :func:`replay_script` replays one with the student's code.
"""

import math

from ..algorithms.heartbeat import PhiNode, normal_stats, phi_of, suspicion_delay
from ..algorithms.swim import Ack, Ping, SwimNode
from ..check.fuzz import run_seed
from ..core.errors import FtError, HandlerError
from ..core.intentions import Send
from ..core.invariants import Invariant, Violation
from ..doors.detection import PhiDetection, qos
from ..doors.swim import SwimDetection
from ..scenario import parse, replay
from .model import Case, Exercise, Fail, TimeLimit, describe_error, register

__all__ = ["RULES", "false_suspicion", "reference_timeout", "phi_door", "student_door", "replay_script"]

# ---------------------------------------------------------------------------------- the rules
NORMAL = "Fit a normal distribution (Hayashibara et al. 2004)"
LOG = "φ = -log10(P_later) (Hayashibara et al. 2004)"
FLOOR = "Floor the standard deviation (min_std)"
INFINITY = "φ is infinite once P_later is 0"
DETECT = "Completeness: a crashed member is suspected within the bound"
SMALLEST = "The smallest timeout meeting the target"
MEASURED = "The measured mistakes meet the target"
RELAY = "Probe the target for the requester (SWIM §3.1)"
VOUCH = "A live target reachable through relays is not suspected (SWIM §3.1)"
NO_FALSE_ACK = "Never vouch for a target that did not answer (SWIM §3.1)"

RULES = {
    NORMAL: "μ is the mean of the window and σ its population standard deviation, the square root of the "
            "variance (not the variance itself); P_later(Δ) = 1 - F(Δ) for the normal distribution N(μ, σ²)",
    LOG: "φ(Δ) = -log10(P_later(Δ)): φ = 1 means a 10% chance that suspecting now is a mistake, φ = 3 a 0.1% "
         "chance (base-10 logarithm, minus sign, of the probability, not the probability itself)",
    FLOOR: "σ = max(standard deviation, min_std): a window of equal intervals has σ = 0, which would make φ "
           "jump from 0 to infinity; the floor keeps it finite and smooth",
    INFINITY: "when P_later underflows to 0.0 (a silence of many σ), φ is math.inf, as phi_of returns; no "
              "exception (log10(0) raises ValueError)",
    DETECT: "with your φ in PhiNode, every monitor suspects a crashed member within D + G + z·max(G/2, "
            "min_std) + 1 ticks of the crash (fttoolkit.algorithms.heartbeat)",
    SMALLEST: "the smallest whole T with P(gap > T) <= target, where P(gap > T) = (w - x)² / (2 w²) for "
              "x = T - interval in [0, w], w = delay_high - delay_low (0 beyond w, and 1 - (w + x)² / (2 w²) "
              "for x in [-w, 0])",
    MEASURED: "HeartbeatDetection with your timeout makes at most about `target` mistakes per heartbeat per "
              "pair (interval / T_MR from qos), and a timeout a few ticks shorter makes more",
    RELAY: "on PingReq(target, seq, updates) the relay absorbs the updates, pings the target itself with a "
           "fresh seq of its own (self.seq += 1), and remembers in self.relays[seq] = (requester, msg.seq, "
           "target, self.round) whom to answer; it sends no Ack before the target's arrives",
    VOUCH: "with the prober's direct link to a live target clogged and the relays working, the target is "
           "never suspected by a failed probe",
    NO_FALSE_ACK: "a crashed target is suspected, then confirmed dead, by every live member within "
                  "completeness_bound(n, period, suspect timeout) ticks: a relay never acks on its behalf",
}


def _pass_limits(error):
    chain = error
    while chain is not None:
        if isinstance(chain, (TimeLimit, NotImplementedError)):
            raise error
        chain = chain.__cause__ or chain.__context__


# ================================================================================== 2.1 φ
#: (what, intervals, elapsed, min_std): the windows the direct case asks about.
_WINDOWS = [
    ("the mean of the window", [40, 50, 60], 50, 1),
    ("one σ above the mean", [40, 50, 60], 58, 1),
    ("a spread window, well above the mean", [30, 45, 50, 55, 70, 50], 85, 1),
    ("three σ above the mean", [90, 110, 100, 95, 105], 115, 1),
    ("below the mean", [80, 100, 120], 60, 2),
]


def _course_phi(intervals, elapsed, min_std):
    return phi_of(elapsed, *normal_stats(intervals, min_std))


def _call_phi(f, intervals, elapsed, min_std):
    got = f(list(intervals), elapsed, min_std)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise Fail(f"phi({intervals}, {elapsed}, {min_std}) must return a number", expected="a float",
                   got=repr(got))
    return float(got)


def _close(got, want):
    if math.isinf(want) or math.isinf(got):
        return got == want
    return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)


def _diagnose_phi(intervals, elapsed, min_std, got):
    """Which rule a wrong φ breaks, from the usual mistakes."""
    n = len(intervals)
    mean = sum(intervals) / n
    var = sum((x - mean) ** 2 for x in intervals) / n
    std = max(math.sqrt(var), min_std)
    p = 0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2)))
    if p > 0 and (_close(got, p) or _close(got, -math.log(p)) or _close(got, math.log10(p)) or _close(got, 1 - p)):
        return LOG
    if var > 0 and _close(got, phi_of(elapsed, mean, max(var, min_std))):
        return NORMAL
    if var == 0 or math.sqrt(var) < min_std:
        return FLOOR
    return NORMAL


def _phi_windows(ns):
    f = ns["phi"]
    for what, intervals, elapsed, min_std in _WINDOWS:
        want = _course_phi(intervals, elapsed, min_std)
        got = _call_phi(f, intervals, elapsed, min_std)
        if not _close(got, want):
            rule = _diagnose_phi(intervals, elapsed, min_std, got)
            raise Fail(f"{what}: {rule} broken", expected=f"phi({intervals}, {elapsed}, {min_std}) == {want!r} "
                       f"({RULES[rule]})", got=repr(got))
    return f"{len(_WINDOWS)} windows agree with phi_of(elapsed, *normal_stats(intervals, min_std))"


_EDGES = [
    ("one sample (the bootstrap window)", [50], 50, 5, FLOOR),
    ("one sample, later", [50], 62, 5, FLOOR),
    ("equal intervals (zero variance)", [50, 50, 50, 50], 60, 5, FLOOR),
    ("a spread below the floor", [49, 50, 51], 58, 4, FLOOR),
    ("a very long silence", [50, 50, 52, 48], 100_000, 5, INFINITY),
]


def _phi_edges(ns):
    f = ns["phi"]
    for what, intervals, elapsed, min_std, rule in _EDGES:
        want = _course_phi(intervals, elapsed, min_std)
        try:
            got = _call_phi(f, intervals, elapsed, min_std)
        except (ValueError, ZeroDivisionError, OverflowError) as error:
            _pass_limits(error)
            raise Fail(f"{what}: {rule} broken", expected=f"phi({intervals}, {elapsed}, {min_std}) == {want!r} "
                       f"({RULES[rule]})", got=describe_error(error)) from None
        if not _close(got, want):
            if rule != INFINITY:
                rule = _diagnose_phi(intervals, elapsed, min_std, got)
                rule = FLOOR if rule == NORMAL else rule
            raise Fail(f"{what}: {rule} broken", expected=f"phi({intervals}, {elapsed}, {min_std}) == {want!r} "
                       f"({RULES[rule]})", got=repr(got))
    return f"{len(_EDGES)} edge cases (one sample, zero variance, the floor, infinity)"


def phi_door(function):
    """A :class:`PhiDetection` whose nodes compute φ with ``function(intervals, elapsed, min_std)``."""
    def student_phi(self, member, now):
        return function(list(self.intervals[member]), now - self.last_heard[member], self.params["min_std_ticks"])
    node = type("StudentPhiNode", (PhiNode,), {"phi": student_phi, "__module__": PhiNode.__module__})
    return type("StudentPhiDetection", (PhiDetection,), {"node_class": node, "__module__": __name__})


def _phi_in_the_detector(ns):
    f = ns["phi"]
    door_class = phi_door(f)
    low, high, interval, min_std, threshold = 5, 15, 50, 5, 8.0
    g = interval + high - low
    bound = high + g + suspicion_delay(0, max(g / 2, min_std), threshold) + 1
    settings = dict(nodes=3, until=1600, crash_at=1000, interval_ticks=interval, window=10,
                    threshold=threshold, min_std_ticks=min_std, delay=(low, high))
    try:
        rows = qos(door_class, range(1, 4), **settings)
    except HandlerError as error:
        _pass_limits(error)
        cause = error.__cause__ or error
        raise Fail(f"{DETECT} broken: your phi raised inside PhiNode", expected="no exception",
                   got=describe_error(cause)) from error
    for row in rows:
        seed = row["seed"]
        if row["T_D_max"] is None or row["T_D_max"] > bound:
            door = door_class(nodes=3, seed=seed, interval_ticks=interval, window=10, threshold=threshold,
                              min_std_ticks=min_std, delay=(low, high))
            door.crash(door.ids[-1], at=1000)
            door.run(until=1600)
            got = ("no monitor suspected n3 for good" if row["T_D_max"] is None
                   else f"detection took {row['T_D_max']} ticks (bound {bound:.0f})")
            raise Fail(f"{DETECT} broken (seed {seed})", expected=RULES[DETECT], got=got, seed=seed,
                       script=door.to_script(["exercise 2.1: n3 crashes at t=1000; your phi in PhiNode"]), run=door)
    worst = max(r["T_D_max"] for r in rows)
    return f"3 seeds: n3 detected within {worst} ticks (bound {bound:.0f})"


register(Exercise(
    "2.1", "φ from a window of arrivals", needs=["phi"],
    hint="mean μ = sum/n; σ = max(sqrt(sum((x - μ)²)/n), min_std); P_later = 0.5 * math.erfc((elapsed - μ) / "
         "(σ * math.sqrt(2))); return math.inf if P_later == 0 else -math.log10(P_later)",
    cases=[
        Case("hand-made windows, against phi_of and normal_stats", _phi_windows, points=2),
        Case("edge cases: one sample, zero variance, the floor, a long silence", _phi_edges, points=1),
        Case("plugged into PhiNode: crashes still detected within the bound", _phi_in_the_detector, points=1),
    ]))


# ================================================================================== 2.2 the timeout
def false_suspicion(timeout, interval, delay_low, delay_high):
    """P(gap > timeout) for heartbeats every ``interval`` with delays uniform on [delay_low, delay_high].

    >>> false_suspicion(50, 50, 5, 15), false_suspicion(60, 50, 5, 15)
    (0.5, 0.0)
    >>> round(false_suspicion(55, 50, 5, 15), 3)
    0.125
    """
    w = delay_high - delay_low
    x = timeout - interval
    if w == 0:
        return 0.0 if x >= 0 else 1.0
    if x >= w:
        return 0.0
    if x >= 0:
        return (w - x) ** 2 / (2 * w * w)
    if x >= -w:
        return 1 - (w + x) ** 2 / (2 * w * w)
    return 1.0


def reference_timeout(interval, delay_low, delay_high, target):
    """The smallest whole timeout with :func:`false_suspicion` at most ``target``.

    >>> reference_timeout(50, 5, 45, 0.01)
    85
    """
    t = interval - (delay_high - delay_low) - 1
    while false_suspicion(t, interval, delay_low, delay_high) > target + 1e-12:
        t += 1
    return t


#: (interval, delay_low, delay_high, target)
_TIMEOUTS = [(50, 5, 15, 0.01), (50, 5, 45, 0.01), (100, 10, 30, 0.001), (40, 10, 30, 0.05), (50, 10, 10, 0.01),
             (30, 0, 60, 0.1), (200, 20, 120, 1e-4)]


def _call_timeout(f, args):
    got = f(*args)
    if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
        raise Fail(f"choose_timeout{args} must return a whole number of ticks", expected="an int", got=repr(got))
    return int(got)


def _timeouts_formula(ns):
    f = ns["choose_timeout"]
    for args in _TIMEOUTS:
        want = reference_timeout(*args)
        got = _call_timeout(f, args)
        if got != want:
            interval, low, high, target = args
            p = false_suspicion(got, interval, low, high)
            why = (f"P(gap > {got}) = {p:.4g} > target {target}: too short" if p > target + 1e-12 else
                   f"P(gap > {got - 1}) = {false_suspicion(got - 1, interval, low, high):.4g} <= target "
                   f"{target} already: {got} is not the smallest")
            raise Fail(f"choose_timeout{args}: {SMALLEST} broken", expected=f"{want} ({RULES[SMALLEST]})",
                       got=f"{got}: {why}")
    return f"{len(_TIMEOUTS)} settings agree with the triangular tail"


def _mistakes_per_heartbeat(timeout, interval, low, high, seeds=range(2)):
    rows = qos("heartbeat", seeds, nodes=3, until=20000, crash_at=None, interval_ticks=interval,
               timeout_ticks=timeout, delay=(low, high))
    pairs = sum(r["mistakes"] for r in rows)
    heartbeats = len(rows) * 3 * 2 * 20000 / interval        # per pair: 20000 / interval heartbeats
    return pairs / heartbeats


def _timeouts_measured(ns):
    f = ns["choose_timeout"]
    notes = []
    for args in [(50, 5, 45, 0.01), (40, 10, 30, 0.05)]:
        interval, low, high, target = args
        t = _call_timeout(f, args)
        if t < 1:
            raise Fail(f"choose_timeout{args}: {MEASURED} broken", expected=RULES[MEASURED],
                       got=f"{t}: a timeout is at least 1 tick")
        rate = _mistakes_per_heartbeat(t, interval, low, high)
        allowed = 1.5 * target + 0.005          # whole-tick delays and timers make the run a bit worse
        if rate > allowed:
            raise Fail(f"choose_timeout{args}: {MEASURED} broken", expected=f"at most {allowed:.4f} mistakes per "
                       f"heartbeat per pair ({RULES[MEASURED]})",
                       got=f"timeout_ticks={t} measured {rate:.4f} (2 seeds x 20000 ticks, 3 nodes, "
                           f"delay=({low}, {high}))", seed=0)
        shorter = max(1, t - 4)
        worse = _mistakes_per_heartbeat(shorter, interval, low, high)
        if worse <= rate:
            raise Fail(f"choose_timeout{args}: {MEASURED} broken", expected=RULES[MEASURED],
                       got=f"timeout_ticks={shorter} measured {worse:.4f}, no worse than {t} ({rate:.4f})")
        notes.append(f"T={t}: {rate:.4f} (T={shorter}: {worse:.4f})")
    return "mistakes per heartbeat " + ", ".join(notes)


register(Exercise(
    "2.2", "A timeout chooser", needs=["choose_timeout"],
    hint="w = delay_high - delay_low; with x = T - interval in [0, w], P(gap > T) = (w - x)**2 / (2 w**2); "
         "solve P <= target for x (x >= w (1 - sqrt(2 target)) when target <= 1/2), round UP to a whole tick; "
         "w = 0 means no jitter: T = interval",
    cases=[
        Case("the smallest timeout, by the formula", _timeouts_formula, points=2),
        Case("the timeout, measured in HeartbeatDetection", _timeouts_measured, points=2),
    ]))


# ================================================================================== 2.3 SWIM's relay
def _judge_relay(node, msg, sender, made, seq_before):
    """2.3's referee: the relay pings the target with a fresh seq and remembers the requester."""
    what = f"{node.id} got PingReq(target={msg.target!r}, seq={msg.seq}) from {sender}"
    acks = [i for i in made if type(i) is Send and isinstance(i.msg, Ack)]
    if acks:
        return NO_FALSE_ACK, (f"{what}: sent {acks[0].msg!r} to {acks[0].to} before {msg.target} answered; "
                              "only the target's own Ack may be relayed")
    pings = [i for i in made if type(i) is Send and isinstance(i.msg, Ping)]
    if len(pings) != 1 or pings[0].to != msg.target:
        got = ", ".join(f"{i.msg!r} to {i.to}" for i in pings) or "no Ping"
        return RELAY, f"{what}: expected one Ping to {msg.target}, sent {got}"
    seq = pings[0].msg.seq
    relay = getattr(node, "relays", {}).get(seq)
    if seq <= seq_before or relay is None or tuple(relay[:3]) != (sender, msg.seq, msg.target):
        return RELAY, (f"{what}: pinged {msg.target} with seq={seq}, but self.relays[{seq}] is {relay!r} "
                       f"(self.seq was {seq_before}); expected {(sender, msg.seq, msg.target, node.round)!r} "
                       "with a fresh seq, so that the course's on_ack relays the answer")
    return None


def _refereed(cls):
    student = cls.on_ping_req

    def on_ping_req(self, msg, sender):
        start, seq_before = len(self._intentions), self.seq
        student(self, msg, sender)
        try:
            found = _judge_relay(self, msg, sender, self._intentions[start:], seq_before)
        except Exception as error:    # noqa: BLE001 - the student's state is not what SWIM keeps
            found = (RELAY, f"{self.id}: the referee could not read the relay's state "
                            f"({type(error).__name__}: {error})")
        if found:
            self._verdicts = getattr(self, "_verdicts", ()) + (found,)
    return type(cls.__name__, (cls,), {"on_ping_req": on_ping_req, "__module__": SwimNode.__module__,
                                      "__qualname__": cls.__qualname__})


def _verdicts(nodes):
    found = []
    for node_id, node in nodes.items():
        verdicts = getattr(node, "_verdicts", ())
        if verdicts:
            node._verdicts = ()
            found += [Violation(rule, (node_id,), detail) for rule, detail in verdicts]
    return found


REFEREE = Invariant("SWIM §3.1: a relay probes the target for the requester", check=_verdicts)


def student_door(student):
    """The SWIM door whose nodes are ``student`` (a SwimNode subclass), under the referee and completeness."""
    if not (isinstance(student, type) and issubclass(student, SwimNode)):
        raise Fail("RelayNode must be a class that extends SwimNode", expected="class RelayNode(SwimNode): ...",
                   got=repr(student))
    if student.on_ping_req is SwimNode.on_ping_req:
        raise Fail("RelayNode does not define on_ping_req: write it in the class",
                   expected="def on_ping_req(self, msg, sender): ...", got="the course's on_ping_req, inherited")
    code = student.on_ping_req.__code__
    if "on_ping_req" in code.co_names:
        raise Fail("RelayNode.on_ping_req calls the course's on_ping_req: write it yourself",
                   expected="your own code", got="a call of on_ping_req")
    node_class = _refereed(student)

    def __init__(self, *args, **kwargs):
        SwimDetection.__init__(self, *args, **kwargs)
        type(self).last = self

    return type("StudentSwim", (SwimDetection,), {"node_class": node_class, "__init__": __init__, "last": None,
                                                  "invariants": [REFEREE] + list(SwimDetection.invariants),
                                                  "__module__": __name__})


def replay_script(student, script, halt=False):
    """Replay a scenario ``script`` (text) with ``student``'s RelayNode as exercise 2.3 runs it; return the door."""
    parsed = parse(script)
    h = parsed.header
    kwargs = dict(h.get("params", {}))
    kwargs.update(h.get("network", {}))
    door = student_door(student)(nodes=h.get("nodes", 5), seed=h.get("seed", 0), bugs=h.get("bugs", []),
                                 check=True, halt=halt, **kwargs)
    replay(parsed, door=door)
    return door


def probe_suspicions(door):
    """(tick, prober, member) of every suspicion that came from a failed probe."""
    return [(e.tick, e.node, e.data["fields"]["member"]) for e in door.trace
            if e.kind == "note" and e.data["text"] == "suspect" and e.data["fields"].get("source") == "probe"]


_CLOGGED = """\
algorithm swim
nodes 5
seed {seed}
network delay=5..15

# Exercise 2.3: the link n1-n2 holds every message (both ways), the rest of the network works.
# n1's direct Pings to n2 (and n2's to n1) never arrive: only indirect probes through n3, n4, n5 can
# show that n2 (and n1) are alive. Nobody may be suspected.
clog n1 n2
run 2500
"""

_CRASHED = """\
algorithm swim
nodes 5
seed {seed}
network delay=5..15

# Exercise 2.3: n5 crashes at t=300. Every PingReq about n5 must stay unanswered: each live member
# must suspect n5 and confirm it dead within completeness_bound(5, 100, 5) = 1500 ticks.
run 300
crash n5
run 2400
"""


def _run_script(student, title, text, seed):
    script = text.format(seed=seed)
    door_class = student_door(student)
    parsed = parse(script)
    door = door_class(nodes=5, seed=seed, check=True, delay=(5, 15))
    try:
        replay(parsed, door=door)
    except HandlerError as error:
        if not door.violations:
            _pass_limits(error)
            cause = error.__cause__ or error
            raise Fail(f"{title}: your code raised an exception (seed {seed})", expected="no exception",
                       got=describe_error(cause), seed=seed, script=script, run=door) from error
    except FtError as error:
        raise Fail(f"{title}: the scenario could not go on (seed {seed})", expected="the scenario's run",
                   got=str(error), seed=seed, script=script, run=door) from error
    if door.violations:
        v = door.violations[0]
        rule = v["invariant"]
        rule = NO_FALSE_ACK if rule.startswith("Completeness") else rule
        raise Fail(f"{title}: {rule} broken (seed {seed})", expected=RULES.get(rule, rule),
                   got=f"at t={v.tick}: {v['detail']}", seed=seed, script=script, run=door)
    return door, script


def _clogged(ns):
    student = ns["RelayNode"]
    for seed in (1, 2, 3):
        title = "a clogged direct link"
        door, script = _run_script(student, title, _CLOGGED, seed)
        wrong = probe_suspicions(door)
        if wrong:
            tick, prober, member = wrong[0]
            raise Fail(f"{title}: {VOUCH} broken (seed {seed})", expected=RULES[VOUCH],
                       got=f"at t={tick}: {prober} suspected {member} after a failed probe, though {member} is "
                           f"alive and n3, n4, n5 could reach it", seed=seed, script=script, run=door)
    return "3 seeds: the live members behind the clogged link were never suspected"


def _crashed(ns):
    student = ns["RelayNode"]
    for seed in (1, 2):
        door, script = _run_script(student, "a crashed target", _CRASHED, seed)
        alive = [i for i in door.ids if i != "n5"]
        late = [i for i in alive if door.dead()[i] != ["n5"]]
        if late:
            raise Fail(f"a crashed target: {NO_FALSE_ACK} broken (seed {seed})", expected=RULES[NO_FALSE_ACK],
                       got=f"at t={door.now}: {', '.join(late)} did not confirm n5 dead (dead: {door.dead()})",
                       seed=seed, script=script, run=door)
    return "2 seeds: every live member confirmed the crashed n5 dead"


def _fuzzed(ns):
    student = ns["RelayNode"]
    door_class = student_door(student)
    seeds = (1, 2, 3)
    for seed in seeds:
        title = f"random schedule {seed} (crash profile)"
        try:
            result = run_seed(door_class, seed, nodes=5, profile="crash", ticks=2500)
        except HandlerError as error:
            _pass_limits(error)
            door = door_class.last
            raise Fail(f"{title}: your code raised an exception (seed {seed})", expected="no exception",
                       got=describe_error(error.__cause__ or error), seed=seed,
                       script=door.to_script([f"exercise 2.3: {title}"]) if door is not None else None,
                       run=door) from error
        if result.failed:
            door = door_class.last
            v = result.violations[0]
            rule = NO_FALSE_ACK if v.invariant.startswith("Completeness") else v.invariant
            raise Fail(f"{title}: {rule} broken (seed {seed})", expected=RULES.get(rule, rule), got=v.detail,
                       seed=seed, script=door.to_script([f"exercise 2.3: {title}"]) if door is not None else None,
                       run=door)
    return f"{len(seeds)} random schedules with crashes"


register(Exercise(
    "2.3", "SWIM's indirect probe", needs=["RelayNode"],
    hint="in on_ping_req: absorb msg.updates (self.absorb), take a fresh seq (self.seq += 1), remember "
         "self.relays[self.seq] = (sender, msg.seq, msg.target, self.round), and send Ping(self.seq, "
         "self.piggyback(msg.target)) to msg.target; the course's on_ack relays the target's Ack to the requester",
    cases=[
        Case("a clogged direct link: relays vouch for a live target", _clogged, points=2),
        Case("a crashed target: no relay vouches for it", _crashed, points=1),
        Case("crashes (fuzzed): completeness still holds", _fuzzed, points=1),
    ]))
