"""Chapter 1's graded exercises: the solutions score full points; the classic wrong answers lose the case that
exposes them, with the rule they break and the inputs (or two quorums) that show it; code that raises or loops
is reported, never fatal; the untouched exercise notebook says "not done yet"."""

import bisect
import math

import pytest

from fttoolkit.algorithms import availability as course
from fttoolkit.algorithms.hashing import HashRing, point, vnode_label
from fttoolkit.grading import feedback
from fttoolkit.grading.chapter1 import (AVAIL, BALANCE, MAJORITY, MOVES, PARALLEL, READ_WRITE, SERIES, SUCCESSOR,
                                        TOLERATE, VALID, VNODES, WRAP, WRITE_WRITE, disjoint_quorums,
                                        reference_quorum)
from fttoolkit.grading.grader import grade_notebook
from fttoolkit.grading.notebooks import EXERCISES, SOLUTIONS

import grading_support as support

NOTEBOOK = "01_concepts.ipynb"
POINTS = {"1.1": 4, "1.2": 4, "1.3": 4}


solved = support.solved_fixture(NOTEBOOK)


def graded(ex_id, ns, timeout=10, **changes):
    return support.run_graded(ex_id, dict(ns, **changes), timeout)


def test_the_solutions_get_full_points(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys, seconds=2)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS)
    assert "NotImplementedError" in (EXERCISES / NOTEBOOK).read_text()


def test_the_grader_gives_the_solution_full_marks_and_the_stubs_none(tmp_path):
    rows = grade_notebook("solver", SOLUTIONS / NOTEBOOK, timeout=5)
    assert [(r.exercise, r.points, r.out_of) for r in rows] == [("1.1", 4, 4), ("1.2", 4, 4), ("1.3", 4, 4)]
    rows = grade_notebook("idle", EXERCISES / NOTEBOOK, timeout=5)
    assert [r.points for r in rows] == [0, 0, 0] and all("not done yet" in r.reason for r in rows)


# ------------------------------------------------------------------------------ 1.1
@pytest.mark.parametrize("name, wrong, case, rule, says", [
    ("availability", lambda mttf, mttr: mttr / (mttf + mttr), "availability(mttf, mttr)", AVAIL, "inverted"),
    ("availability", lambda mttf, mttr: mttf / mttr if mttr else 1.0, "availability(mttf, mttr)", AVAIL,
     "ratio of times"),
    ("series", lambda *a: 1 - math.prod(1 - x for x in a), "series(*a) and parallel(*a)", SERIES,
     "the parallel formula"),
    ("parallel", lambda *a: math.prod(a), "series(*a) and parallel(*a)", PARALLEL, "the series formula"),
    ("parallel", lambda *a: math.prod(1 - x for x in a), "series(*a) and parallel(*a)", PARALLEL,
     "take 1 minus it"),
    ("majority", lambda n, a: course.k_of_n(n // 2, n, a), "majority(n, a) for odd and even n", MAJORITY,
     "for n = 1 you need 1 up, not 0"),
    ("majority", lambda n, a: sum(math.comb(n, k) * a ** k * (1 - a) ** (n - k) for k in range(n + 1) if k >= n / 2),
     "majority(n, a) for odd and even n", MAJORITY, "a tie is not a majority"),
    ("majority", lambda n, a: sum(a ** k * (1 - a) ** (n - k) for k in range(n // 2 + 1, n + 1)),
     "majority(n, a) for odd and even n", MAJORITY, "binomial coefficient"),
])
def test_wrong_availability_answers_fail_with_the_rule_they_break(solved, name, wrong, case, rule, says):
    result, failed = graded("1.1", solved, **{name: wrong})
    assert set(failed) == {case}, feedback(result)
    assert rule in failed[case].reason and says in failed[case].reason, feedback(result)
    assert "expected" in feedback(result) and "hint:" in feedback(result)


def test_the_course_functions_do_not_count_as_an_answer(solved):
    result, failed = graded("1.1", solved, availability=course.availability)
    assert "write it yourself" in failed["availability(mttf, mttr)"].reason


# ------------------------------------------------------------------------------ 1.2
def quorum(read_write=lambda n, r, w: r + w > n, write_write=lambda n, r, w: 2 * w > n,
           read=lambda n, r, w: n - r, write=lambda n, r, w: n - w, validate=True):
    def check_quorum(n, r, w):
        if validate and (n < 1 or not 1 <= r <= n or not 1 <= w <= n):
            raise ValueError("impossible")
        return {"read_write_overlap": read_write(n, r, w), "write_write_overlap": write_write(n, r, w),
                "read_tolerates": read(n, r, w), "write_tolerates": write(n, r, w)}
    return check_quorum


def test_r_plus_w_at_least_n_fails_with_two_disjoint_quorums(solved):
    result, failed = graded("1.2", solved, check_quorum=quorum(read_write=lambda n, r, w: r + w >= n))
    assert set(failed) == {"reads meet writes: R + W > N"}, feedback(result)
    case = failed["reads meet writes: R + W > N"]
    assert READ_WRITE in case.reason and "check_quorum(2, 1, 1)" in case.reason
    assert "a write to {n1} and a read from {n2} share no replica" in case.failure.got and "strict" in case.failure.got


def test_two_w_at_least_n_and_a_too_strict_rule_fail(solved):
    result, failed = graded("1.2", solved, check_quorum=quorum(write_write=lambda n, r, w: 2 * w >= n))
    case = failed["writes meet writes: 2W > N"]
    assert WRITE_WRITE in case.reason and "share no replica" in case.failure.got
    result, failed = graded("1.2", solved, check_quorum=quorum(read_write=lambda n, r, w: r + w > n + 1))
    case = failed["reads meet writes: R + W > N"]
    assert "share at least 1 replica(s)" in case.failure.got


@pytest.mark.parametrize("wrong, says", [
    (quorum(read=lambda n, r, w: n - r - 1), "off by one"),
    (quorum(write=lambda n, r, w: (n - 1) // 2), "what a majority quorum survives"),
    (quorum(read=lambda n, r, w: r), "the quorum's size"),
])
def test_wrong_crash_counts_fail(solved, wrong, says):
    result, failed = graded("1.2", solved, check_quorum=wrong)
    case = failed["crashes tolerated: N - R and N - W"]
    assert TOLERATE in case.reason and says in case.failure.got, feedback(result)


def test_impossible_configurations_must_raise_value_error(solved):
    result, failed = graded("1.2", solved, check_quorum=quorum(validate=False))
    case = failed["impossible configurations raise ValueError"]
    assert VALID in case.reason and "returned {" in case.failure.got
    assert set(failed) == {"impossible configurations raise ValueError"}

    def raises_key_error(n, r, w):
        raise KeyError(n)
    result, failed = graded("1.2", solved, check_quorum=raises_key_error)
    assert "KeyError" in failed["impossible configurations raise ValueError"].failure.got


def test_malformed_answers_are_named(solved):
    result, _ = graded("1.2", solved, check_quorum=lambda n, r, w: (r + w > n, 2 * w > n, n - r, n - w))
    assert result.points == 0 and "must return a dict" in result.reason
    result, _ = graded("1.2", solved, check_quorum=lambda n, r, w: {"read_write_overlap": int(r + w > n)})
    assert "has no 'write_write_overlap'" in result.reason
    result, _ = graded("1.2", solved, check_quorum=quorum(read_write=lambda n, r, w: int(r + w > n)))
    assert "must be True or False" in result.reason


def test_the_reference_quorum_rules():
    for n in range(1, 8):
        for r in range(1, n + 1):
            for w in range(1, n + 1):
                answer = reference_quorum(n, r, w)
                assert answer["read_write_overlap"] == (disjoint_quorums(n, w, r) is None)
                assert answer["write_write_overlap"] == (disjoint_quorums(n, w, w) is None)
    write, read = disjoint_quorums(5, 3, 2)
    assert not set(write) & set(read) and len(write) == 3 and len(read) == 2
    with pytest.raises(ValueError):
        reference_quorum(3, 4, 1)


# ------------------------------------------------------------------------------ 1.3
class Modulo:
    def __init__(self, vnodes=100):
        self.vnodes = vnodes
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)

    def remove(self, node):
        self.nodes.remove(node)

    def lookup(self, key):
        return self.nodes[point(key) % len(self.nodes)]


class Sorted:
    """The solution's shape, with switches for the classic mistakes."""

    one_point = False
    clockwise = True
    wrap = True
    keep_on_remove = False

    def __init__(self, vnodes=100):
        self.vnodes = vnodes
        self.points = []

    def add(self, node):
        for i in range(1 if self.one_point else self.vnodes):
            bisect.insort(self.points, (point(vnode_label(node, i)), node))

    def remove(self, node):
        if self.keep_on_remove:
            self.points.remove(next(p for p in self.points if p[1] == node))    # only one of its points
        else:
            self.points = [p for p in self.points if p[1] != node]

    def lookup(self, key):
        if not self.clockwise:
            return self.points[bisect.bisect_right(self.points, (point(key), "\uffff")) - 1][1]
        i = bisect.bisect_left(self.points, (point(key), ""))
        return self.points[i % len(self.points) if self.wrap else i][1]


def variant(**switches):
    return type("Ring", (Sorted,), switches)


def test_the_mistake_free_variant_passes(solved):
    result, failed = graded("1.3", solved, Ring=variant())
    assert result.points == 4, feedback(result)


@pytest.mark.parametrize("ring, rule, says, points", [
    (Modulo, SUCCESSOR, "modulo hashing", 0),
    (variant(one_point=True), VNODES, "virtual nodes are missing", 0),
    (variant(clockwise=False), SUCCESSOR, "counter-clockwise", 2),         # consistent and balanced, though
    (variant(wrap=False), WRAP, "IndexError", 0),
])
def test_wrong_rings_fail_with_the_rule_they_break(solved, ring, rule, says, points):
    result, failed = graded("1.3", solved, Ring=ring)
    case = failed["lookup agrees with HashRing, key by key"]
    assert rule in case.reason and says in case.reason + (case.failure.got or ""), feedback(result)
    assert result.points == points, feedback(result)


def test_modulo_placement_moves_keys_between_old_nodes_and_forgotten_vnodes_do_not_balance(solved):
    _, failed = graded("1.3", solved, Ring=Modulo)
    case = failed["add and remove move only the keys they must"]
    assert MOVES in case.reason and "moved between old nodes" in case.failure.got
    _, failed = graded("1.3", solved, Ring=variant(one_point=True))
    case = failed["virtual nodes even out the load"]
    assert BALANCE in case.reason and "(the same: are the vnodes points added?)" in case.failure.got


def test_a_remove_that_leaves_points_behind_fails(solved):
    result, failed = graded("1.3", solved, Ring=variant(keep_on_remove=True))
    assert set(failed) == {"add and remove move only the keys they must"}, feedback(result)
    assert "still returns 'n3'" in failed["add and remove move only the keys they must"].failure.got


def test_the_course_ring_does_not_count_as_an_answer(solved):
    result, _ = graded("1.3", solved, Ring=type("Ring", (HashRing,), {}))
    assert result.points == 0 and "write it yourself" in result.reason


# ------------------------------------------------------------------------------ robustness
def test_code_that_raises_or_loops_is_reported_not_fatal(solved):
    def looping(n, a):
        while True:
            pass

    result, failed = graded("1.1", solved, majority=looping, timeout=0.3)
    assert result.points == 2 and "ran for more than 0.3 s" in failed["majority(n, a) for odd and even n"].reason

    class Raising(Sorted):
        def lookup(self, key):
            return {}[key]
    result, failed = graded("1.3", solved, Ring=Raising)
    assert result.points == 0 and "KeyError" in result.reason

    for answer in ("high", "0.999", True):
        result, _ = graded("1.1", solved, availability=lambda mttf, mttr: answer)
        assert "must return a number" in result.reason
    result, _ = graded("1.3", solved, Ring=lambda vnodes=1: None)
    assert "Ring must be a class" in result.reason
    result, _ = graded("1.2", {})
    assert "check_quorum is not defined" in result.reason
