"""Chapter 1's exercises, on the concepts: availability, quorums, and consistent hashing.

* 1.1 **Availability calculations**: ``availability(mttf, mttr)``, ``series(*a)``, ``parallel(*a)`` and
  ``majority(n, a)``, graded against :mod:`fttoolkit.algorithms.availability` on hand-made and seeded
  random inputs, with the usual mistakes named (the formula inverted, series and parallel swapped, a tie
  counted as a majority...).
* 1.2 **A quorum configuration checker**: ``check_quorum(n, r, w)`` returns whether every read quorum
  meets every write quorum (R + W > N), whether any two write quorums meet (2W > N), and how many crashed
  replicas reads and writes each survive (N - R, N - W); impossible configurations raise ``ValueError``.
  A wrong answer comes with two concrete quorums that show it (Gifford, "Weighted Voting for Replicated
  Data", 1979).
* 1.3 **A consistent-hashing ring with virtual nodes** (Karger et al. 1997; DeCandia et al., Dynamo,
  2007): ``add``, ``remove`` and ``lookup`` of a small class ``Ring``, graded against
  :class:`~fttoolkit.algorithms.hashing.HashRing` key by key, by the keys moved on a join and a leave
  against the theory, and by the balance virtual nodes buy.

These exercises run no simulator: a failure names the rule and shows the inputs that expose it.
"""

import bisect
import math
import random

from ..algorithms import availability as reference
from ..algorithms.hashing import HashRing, ModuloHashing, imbalance, point, vnode_label
from .model import Case, Exercise, Fail, register
from .refereed import pass_time_limits

__all__ = ["RULES", "reference_quorum", "disjoint_quorums", "QUORUM_KEYS"]

# ---------------------------------------------------------------------------------- the rules
AVAIL = "Availability is MTTF / (MTTF + MTTR)"
SERIES = "Series: all components must be up"
PARALLEL = "Parallel: one component up is enough"
MAJORITY = "Majority: strictly more than n/2 replicas up"
READ_WRITE = "Reads see the latest write iff R + W > N"
WRITE_WRITE = "Two writes cannot both succeed apart iff 2W > N"
TOLERATE = "A quorum of Q among N survives N - Q crashes"
VALID = "1 <= R, W <= N"
SUCCESSOR = "A key belongs to the first point clockwise"
VNODES = "Every node has vnodes points"
WRAP = "The ring wraps around"
MOVES = "Only the joiner's and the leaver's keys move"
BALANCE = "Virtual nodes even out the load"

#: Rule name -> what it says (the "expected" line of a failure).
RULES = {
    AVAIL: "A = MTTF / (MTTF + MTTR): the fraction of each failure-and-repair cycle spent up (MTTR / (MTTF + "
           "MTTR) is the fraction spent down, the unavailability)",
    SERIES: "A = A1 x A2 x ... x An: the system is up only when every component is up (independent failures)",
    PARALLEL: "A = 1 - (1 - A1)(1 - A2)...(1 - An): the system is down only when every component is down",
    MAJORITY: "sum over k > n/2 of C(n, k) a^k (1 - a)^(n - k): at least n//2 + 1 replicas up (3 of 4, 3 of 5); "
              "C(n, k) counts the ways to choose which k are up",
    READ_WRITE: "every read quorum shares a replica with every write quorum exactly when R + W > N; with R + W "
                "<= N a read can miss the latest write entirely",
    WRITE_WRITE: "any two write quorums share a replica exactly when 2W > N; otherwise two conflicting writes "
                 "can both succeed on disjoint replicas",
    TOLERATE: "reads still succeed with N - R replicas down (R are left), writes with N - W down",
    VALID: "a quorum needs at least one replica and cannot be larger than N: raise ValueError for R or W outside "
           "1..N (or N < 1)",
    SUCCESSOR: "lookup(key) is the node of the first point at or after point(key), going clockwise (the "
               "smallest position >= point(key)), where the points are point(vnode_label(node, i))",
    VNODES: "add(node) puts vnodes points on the ring, point(vnode_label(node, i)) for i in range(vnodes)",
    WRAP: "a key after the last point belongs to the first point of the ring (the smallest position)",
    MOVES: "after add(new), a key either stays or moves to new (about 1/(n+1) of them move); after "
           "remove(old), only old's keys move",
    BALANCE: "with many virtual nodes each node's share of the keys is close to 1/n (max/mean load near 1)",
}


def _own_code(value, name):
    module = getattr(value, "__module__", "") or ""
    if module.startswith("fttoolkit"):
        raise Fail(f"{name} is the course's own ({module}): write it yourself", expected="your own code",
                   got=repr(value))


def _number(got, call):
    if isinstance(got, (bool, str, bytes)) or not isinstance(got, (int, float)):
        try:
            if isinstance(got, (bool, str, bytes)):
                raise TypeError
            return float(got)          # numpy scalars
        except (TypeError, ValueError):
            raise Fail(f"{call} must return a number", expected="a float", got=repr(got)) from None
    return float(got)


def _close(got, want):
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def _which(got, variants):
    """The name of the first wrong variant ``got`` matches, or None."""
    for name, value in variants:
        try:
            v = value()
        except (ArithmeticError, ValueError):
            continue
        if _close(got, v):
            return name
    return None


# ================================================================================== 1.1 availability
_MTTF_MTTR = [(999, 1), (90, 10), (1, 0), (0, 5), (8760, 4), (720, 0.5)]


def _random_times(seed, count):
    rng = random.Random(seed)
    return [(round(rng.uniform(1, 10_000), 3), round(rng.uniform(0.01, 100), 3)) for _ in range(count)]


def _availability(ns):
    f = ns["availability"]
    _own_code(f, "availability")
    cases = _MTTF_MTTR + _random_times(11, 25)
    for mttf, mttr in cases:
        call = f"availability({mttf}, {mttr})"
        want = reference.availability(mttf, mttr)
        got = _number(f(mttf, mttr), call)
        if not _close(got, want):
            why = _which(got, [
                ("inverted: that is MTTR / (MTTF + MTTR), the fraction of time DOWN", lambda: mttr / (mttf + mttr)),
                ("MTTF / MTTR is a ratio of times, not a fraction of time", lambda: mttf / mttr),
                ("1 - MTTR / MTTF is only an approximation for a small MTTR", lambda: 1 - mttr / mttf),
                ("that is a percentage; return a fraction between 0 and 1", lambda: 100 * want),
            ])
            raise Fail(f"{call}: {AVAIL} broken" + (f" ({why})" if why else ""), expected=f"{want!r} ({RULES[AVAIL]})",
                       got=repr(got))
    return f"{len(cases)} (MTTF, MTTR) pairs, hand-made and random"


_COMBINATIONS = [(0.9, 0.9), (0.99,), (0.9, 0.99, 0.999), (0.5, 0.5, 0.5, 0.5), (1.0, 0.3), (0.0, 0.8)]


def _random_availabilities(seed, count):
    rng = random.Random(seed)
    return [tuple(round(rng.uniform(0.5, 1.0), 6) for _ in range(rng.randint(1, 5))) for _ in range(count)]


def _series_parallel(ns):
    s, p = ns["series"], ns["parallel"]
    _own_code(s, "series")
    _own_code(p, "parallel")
    combos = _COMBINATIONS + _random_availabilities(12, 25)
    for values in combos:
        product = math.prod(values)
        down = math.prod(1 - a for a in values)
        for name, f, want, rule, variants in [
            ("series", s, reference.series(*values), SERIES,
             [("that is the parallel formula", lambda: 1 - down),
              ("the product of the unavailabilities is the chance that all are DOWN", lambda: down),
              ("the weakest link alone is not enough: every component's failures count", lambda: min(values))]),
            ("parallel", p, reference.parallel(*values), PARALLEL,
             [("that is the series formula", lambda: product),
              ("1 - product of the availabilities is the chance that SOME component is down", lambda: 1 - product),
              ("the product of the unavailabilities is the chance that all are down: take 1 minus it",
               lambda: down),
              ("the best component alone ignores the others", lambda: max(values))])]:
            call = f"{name}{values if len(values) > 1 else f'({values[0]})'}"
            got = _number(f(*values), call)
            if not _close(got, want):
                why = _which(got, variants)
                raise Fail(f"{call}: {rule} broken" + (f" ({why})" if why else ""),
                           expected=f"{want!r} ({RULES[rule]})", got=repr(got))
    return f"{len(combos)} combinations of 1 to 5 components"


_MAJORITIES = [(1, 0.9), (2, 0.9), (3, 0.9), (3, 0.99), (4, 0.9), (5, 0.99), (6, 0.8), (7, 0.95), (3, 0.4),
               (5, 0.0), (4, 1.0)]


def _majority(ns):
    f = ns["majority"]
    _own_code(f, "majority")
    rng = random.Random(13)
    cases = _MAJORITIES + [(rng.randint(1, 9), round(rng.uniform(0.5, 1.0), 4)) for _ in range(20)]
    for n, a in cases:
        call = f"majority({n}, {a})"
        want = reference.majority(n, a)
        got = _number(f(n, a), call)
        if not _close(got, want):
            why = _which(got, [
                (f"a tie is not a majority: for n = {n} you need {n // 2 + 1} up, not {n // 2}"
                 if n % 2 == 0 else f"for n = {n} you need {n // 2 + 1} up, not {n // 2}",
                 lambda: reference.k_of_n(n // 2, n, a)),
                ("the binomial coefficient C(n, k) is missing: it counts which k replicas are up",
                 lambda: math.fsum(a ** k * (1 - a) ** (n - k) for k in range(n // 2 + 1, n + 1))),
                (f"that is exactly {n // 2 + 1} up; more than that is a majority too",
                 lambda: math.comb(n, n // 2 + 1) * a ** (n // 2 + 1) * (1 - a) ** (n - n // 2 - 1)),
                ("that is all n up (series), not a majority", lambda: a ** n),
                ("that is at least one up (parallel), not a majority", lambda: 1 - (1 - a) ** n),
            ])
            raise Fail(f"{call}: {MAJORITY} broken" + (f" ({why})" if why else ""),
                       expected=f"{want!r} ({RULES[MAJORITY]})", got=repr(got))
    return f"{len(cases)} cases, n from 1 to 9 (odd and even)"


register(Exercise(
    "1.1", "Availability calculations", needs=["availability", "series", "parallel", "majority"],
    hint="availability = mttf / (mttf + mttr); series = product of the a_i; parallel = 1 - product of (1 - a_i); "
         "majority = sum over k from n//2 + 1 to n of math.comb(n, k) * a**k * (1 - a)**(n - k)",
    cases=[
        Case("availability(mttf, mttr)", _availability, points=1),
        Case("series(*a) and parallel(*a)", _series_parallel, points=1),
        Case("majority(n, a) for odd and even n", _majority, points=2),
    ]))


# ================================================================================== 1.2 quorums
#: The keys ``check_quorum`` returns.
QUORUM_KEYS = ("read_write_overlap", "write_write_overlap", "read_tolerates", "write_tolerates")


def reference_quorum(n, r, w):
    """What a configuration of N replicas, read quorum R and write quorum W guarantees.

    >>> reference_quorum(3, 2, 2)
    {'read_write_overlap': True, 'write_write_overlap': True, 'read_tolerates': 1, 'write_tolerates': 1}
    >>> reference_quorum(4, 2, 2)["read_write_overlap"]
    False
    """
    for name, value in (("n", n), ("r", r), ("w", w)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number; got {value!r}")
    if n < 1 or not 1 <= r <= n or not 1 <= w <= n:
        raise ValueError(f"need 1 <= r, w <= n; got n={n}, r={r}, w={w}")
    return {"read_write_overlap": r + w > n, "write_write_overlap": 2 * w > n,
            "read_tolerates": n - r, "write_tolerates": n - w}


def disjoint_quorums(n, a, b):
    """Two quorums of sizes ``a`` and ``b`` among ``n1 .. n<n>`` that share no replica, or None if none exist.

    >>> disjoint_quorums(4, 2, 2)
    (['n1', 'n2'], ['n3', 'n4'])
    >>> disjoint_quorums(3, 2, 2) is None
    True
    """
    if a + b > n:
        return None
    return [f"n{i}" for i in range(1, a + 1)], [f"n{i}" for i in range(n - b + 1, n + 1)]


def _quorum_answer(f, n, r, w):
    call = f"check_quorum({n}, {r}, {w})"
    got = f(n, r, w)
    if not isinstance(got, dict):
        raise Fail(f"{call} must return a dict", expected="{" + ", ".join(f"{k!r}: ..." for k in QUORUM_KEYS) + "}",
                   got=repr(got))
    missing = [k for k in QUORUM_KEYS if k not in got]
    if missing:
        raise Fail(f"{call} has no {', '.join(repr(k) for k in missing)}", expected=f"the keys {list(QUORUM_KEYS)}",
                   got=repr(got))
    for key in QUORUM_KEYS[:2]:
        if not (got[key] is True or got[key] is False or type(got[key]).__name__ == "bool_"):
            raise Fail(f"{call}[{key!r}] must be True or False", expected="a bool", got=repr(got[key]))
    for key in QUORUM_KEYS[2:]:
        value = got[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise Fail(f"{call}[{key!r}] must be a whole number of crashes", expected="an int", got=repr(value))
    return call, got


def _configs():
    return [(n, r, w) for n in range(1, 8) for r in range(1, n + 1) for w in range(1, n + 1)]


def _overlap_case(key, sizes, rule):
    def check(ns):
        f = ns["check_quorum"]
        _own_code(f, "check_quorum")
        for n, r, w in _configs():
            call, got = _quorum_answer(f, n, r, w)
            want = reference_quorum(n, r, w)[key]
            if bool(got[key]) == want:
                continue
            a, b, what, (one, other) = sizes(n, r, w)
            if want:
                why = (f"any {what} share at least {a + b - n} replica(s): {a} + {b} > {n}, so there are not "
                       f"enough replicas for them to be apart")
            else:
                first, second = disjoint_quorums(n, a, b)
                why = (f"they can be apart: {one} {{{', '.join(first)}}} and {other} {{{', '.join(second)}}} share "
                       "no replica"
                       + (f" ({a} + {b} = {n} is not enough: the inequality is strict)" if a + b == n else ""))
            raise Fail(f"{call}[{key!r}]: {rule} broken", expected=f"{want} ({RULES[rule]})",
                       got=f"{got[key]!r}: {why}")
        return f"{len(_configs())} configurations, N from 1 to 7"
    return check


def _tolerates(ns):
    f = ns["check_quorum"]
    _own_code(f, "check_quorum")
    answers = {(n, r, w): _quorum_answer(f, n, r, w) for n, r, w in _configs()}
    for key, op, size in (("read_tolerates", "read", lambda n, r, w: r), ("write_tolerates", "write",
                                                                          lambda n, r, w: w)):
        wrong = [(config, call, got[key]) for config, (call, got) in answers.items()
                 if got[key] != reference_quorum(*config)[key]]
        if not wrong:
            continue
        patterns = [  # the usual mistakes, recognised when they explain every answer
            (lambda n, q: n - q - 1, lambda n, q: f"off by one: with {n - q} down, {q} replicas are left, enough "
                                                  f"for a {op}"),
            (lambda n, q: (n - 1) // 2, lambda n, q: f"(N - 1) // 2 is what a majority quorum survives; this {op} "
                                                     f"quorum has {q}"),
            (lambda n, q: q, lambda n, q: f"that is the quorum's size; the replicas that may be down are the "
                                          f"other {n - q}"),
        ]
        (n, r, w), call, value = wrong[0]
        q = size(n, r, w)
        why = f"{q} replicas must be left for a {op}, so {n - q} may be down"
        for pattern, explain in patterns:
            if all(got[key] == pattern(c[0], size(*c)) for c, (_, got) in answers.items()):
                why = explain(n, q)
                break
        raise Fail(f"{call}[{key!r}]: {TOLERATE} broken", expected=f"{n - q} ({RULES[TOLERATE]})",
                   got=f"{value!r}: {why}")
    return "N - R and N - W for every configuration"


_INVALID = [(3, 0, 2), (3, 2, 0), (3, 4, 1), (3, 2, 5), (0, 1, 1), (5, -1, 3)]


def _rejects(ns):
    f = ns["check_quorum"]
    _own_code(f, "check_quorum")
    for n, r, w in _INVALID:
        call = f"check_quorum({n}, {r}, {w})"
        try:
            got = f(n, r, w)
        except ValueError:
            continue
        except Exception as error:      # noqa: BLE001 - the student's code raised something else: reported
            pass_time_limits(error)
            raise Fail(f"{call}: {VALID} broken", expected=f"ValueError ({RULES[VALID]})",
                       got=f"{type(error).__name__}: {error}") from None
        raise Fail(f"{call}: {VALID} broken", expected=f"ValueError ({RULES[VALID]})", got=f"returned {got!r}")
    return f"{len(_INVALID)} impossible configurations raise ValueError"


register(Exercise(
    "1.2", "A quorum configuration checker", needs=["check_quorum"],
    hint="raise ValueError unless 1 <= r <= n and 1 <= w <= n; a read and a write quorum always share a replica "
         "only if R + W > N (strictly), two write quorums only if 2W > N; a quorum of Q replicas among N survives "
         "N - Q crashes; return a dict with the keys read_write_overlap, write_write_overlap, read_tolerates, "
         "write_tolerates",
    cases=[
        Case("reads meet writes: R + W > N", _overlap_case(
            "read_write_overlap", lambda n, r, w: (w, r, "write quorum and read quorum", ("a write to", "a read from")),
            READ_WRITE), points=1),
        Case("writes meet writes: 2W > N", _overlap_case(
            "write_write_overlap", lambda n, r, w: (w, w, "two write quorums", ("one write to", "another to")),
            WRITE_WRITE), points=1),
        Case("crashes tolerated: N - R and N - W", _tolerates, points=1),
        Case("impossible configurations raise ValueError", _rejects, points=1),
    ]))


# ================================================================================== 1.3 the ring
_KEYS = [f"user:{i}" for i in range(1500)]
_RINGS = [(["n1", "n2", "n3"], 1), (["n1", "n2", "n3", "n4", "n5"], 8), (["a", "b", "c", "d"], 50)]


def _student_ring(ns, vnodes, nodes):
    cls = ns["Ring"]
    if not isinstance(cls, type):
        raise Fail("Ring must be a class", expected="class Ring: ...", got=repr(cls))
    if issubclass(cls, (HashRing, ModuloHashing)):
        raise Fail("Ring extends the course's own placement: write it yourself", expected="class Ring: ...",
                   got=f"class Ring({cls.__bases__[0].__name__})")
    ring = cls(vnodes=vnodes)
    for node in nodes:
        ring.add(node)
    return ring


def _lookups(ring, keys, what):
    out = []
    for key in keys:
        try:
            out.append(ring.lookup(key))
        except IndexError as error:
            pass_time_limits(error)
            raise Fail(f"{what}: {WRAP} broken (lookup({key!r}) raised IndexError)",
                       expected=RULES[WRAP], got=f"IndexError: {error} for point({key!r}) = {point(key)}, "
                                                  "past the last point of the ring") from None
    return out


def _ring_points(nodes, vnodes):
    return sorted((point(vnode_label(node, i)), node) for node in nodes for i in range(vnodes))


def _predecessor(nodes, vnodes):
    """The mistake of taking the last point before the key (counter-clockwise)."""
    points = _ring_points(nodes, vnodes)
    positions = [p for p, _ in points]
    return lambda key: points[bisect.bisect_right(positions, point(key)) - 1][1]


def _clamped(nodes, vnodes):
    """The mistake of sending keys past the last point to the last point instead of wrapping around."""
    points = _ring_points(nodes, vnodes)
    positions = [p for p, _ in points]
    return lambda key: points[min(bisect.bisect_left(positions, point(key)), len(points) - 1)][1]


def _diagnose_ring(got, nodes, vnodes, keys):
    """Which rule a student's placement breaks: the usual mistake it matches on every key, if any."""
    variants = [("that is modulo hashing (point(key) % n), not the ring", SUCCESSOR, ModuloHashing(nodes).lookup)]
    if vnodes > 1:
        variants.append(("only one point per node: the virtual nodes are missing", VNODES,
                         HashRing(nodes, vnodes=1).lookup))
    variants.append(("counter-clockwise: that is the point before the key, not the first at or after it",
                     SUCCESSOR, _predecessor(nodes, vnodes)))
    variants.append(("keys past the last point go to the last point; they wrap around to the first", WRAP,
                     _clamped(nodes, vnodes)))
    for why, rule, lookup in variants:
        if all(lookup(k) == g for k, g in zip(keys, got)):
            return why, rule
    return None, SUCCESSOR


def _agrees(ns):
    for nodes, vnodes in _RINGS:
        ring = _student_ring(ns, vnodes, nodes)
        what = f"Ring(vnodes={vnodes}) with {', '.join(nodes)}"
        got = _lookups(ring, _KEYS, what)
        want = HashRing(nodes, vnodes=vnodes)
        wrong = [(k, g) for k, g in zip(_KEYS, got) if g != want.lookup(k)]
        if wrong:
            why, rule = _diagnose_ring(got, nodes, vnodes, _KEYS)
            key, node = wrong[0]
            raise Fail(f"{what}: {rule} broken" + (f" ({why})" if why else ""), expected=RULES[rule],
                       got=f"{len(wrong)} of {len(_KEYS)} keys on the wrong node; lookup({key!r}) returned "
                           f"{node!r}, the ring's owner is {want.lookup(key)!r} (point {point(key)})")
    return f"{len(_RINGS)} rings (vnodes 1, 8, 50): all {len(_KEYS)} keys on the same node as HashRing"


def _moves(ns):
    nodes = [f"n{i}" for i in range(1, 9)]
    vnodes = 50
    ring = _student_ring(ns, vnodes, nodes)
    before = _lookups(ring, _KEYS, "before the join")
    ring.add("n9")
    after = _lookups(ring, _KEYS, "after add('n9')")
    elsewhere = [(k, a, b) for k, a, b in zip(_KEYS, before, after) if a != b and b != "n9"]
    if elsewhere:
        key, a, b = elsewhere[0]
        raise Fail(f"add('n9'): {MOVES} broken", expected=RULES[MOVES],
                   got=f"{len(elsewhere)} keys moved between old nodes, e.g. {key!r} from {a!r} to {b!r}")
    joined = sum(1 for a, b in zip(before, after) if a != b) / len(_KEYS)
    ring.remove("n3")
    gone = _lookups(ring, _KEYS, "after remove('n3')")
    if "n3" in gone:
        raise Fail(f"remove('n3'): {MOVES} broken", expected=RULES[MOVES],
                   got=f"lookup({_KEYS[gone.index('n3')]!r}) still returns 'n3': remove must take away all "
                       "of its points")
    changed = [(k, a, b) for k, a, b in zip(_KEYS, after, gone) if a != b and a != "n3"]
    if changed:
        raise Fail(f"remove('n3'): {MOVES} broken", expected=RULES[MOVES],
                   got=f"{changed[0][0]!r} moved from {changed[0][1]!r} to {changed[0][2]!r}")
    left = sum(1 for a, b in zip(after, gone) if a != b) / len(_KEYS)
    if abs(joined - 1 / 9) > 0.05 or abs(left - 1 / 9) > 0.06:
        raise Fail(f"Ring(vnodes={vnodes}) with n1 .. n8: {MOVES} broken",
                   expected=f"about 1/9 of the keys move when n9 joins, and n3's share (about 1/9) when it leaves "
                            f"({RULES[MOVES]}; with {vnodes} points per node the shares are close to even)",
                   got=f"{joined:.3f} moved on the join, {left:.3f} on the leave")
    return f"join moved {joined:.1%} of the keys (theory 1/9 = 11.1%), leave {left:.1%} (n3's share)"


def _balance(ns):
    nodes = [f"n{i}" for i in range(1, 11)]
    keys = [f"item{i}" for i in range(4000)]
    loads = {}
    for vnodes in (1, 200):
        ring = _student_ring(ns, vnodes, nodes)
        counts = {node: 0 for node in nodes}
        for node in _lookups(ring, keys, f"Ring(vnodes={vnodes})"):
            if node not in counts:
                raise Fail(f"Ring(vnodes={vnodes}): lookup returned {node!r}, not a node", expected=f"one of {nodes}",
                           got=repr(node))
            counts[node] += 1
        loads[vnodes] = imbalance(counts)
    if not loads[200] < 1.25 or not loads[200] < loads[1]:
        raise Fail(f"{BALANCE} broken", expected=f"max/mean load under 1.25 with vnodes=200 ({RULES[BALANCE]})",
                   got=f"{loads[200]:.2f} with vnodes=200, {loads[1]:.2f} with vnodes=1"
                       + (" (the same: are the vnodes points added?)" if math.isclose(loads[1], loads[200]) else ""))
    return f"max/mean load {loads[1]:.2f} with 1 point per node, {loads[200]:.2f} with 200"


register(Exercise(
    "1.3", "A consistent-hashing ring with virtual nodes", needs=["Ring"],
    hint="add: bisect.insort the pair (point(vnode_label(node, i)), node) for each i in range(self.vnodes); "
         "remove: keep only the other nodes' pairs; lookup: bisect.bisect_left(self.points, (point(key), '')) "
         "is the first point at or after the key, and an index past the end wraps around to 0",
    cases=[
        Case("lookup agrees with HashRing, key by key", _agrees, points=2),
        Case("add and remove move only the keys they must", _moves, points=1),
        Case("virtual nodes even out the load", _balance, points=1),
    ]))
