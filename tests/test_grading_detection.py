"""Chapter 2's graded failure-detection exercises: the solutions score full points; wrong versions lose the
case that exposes them, with the rule they break (and, in the simulator, a seed and a replayable script)."""

import math

import pytest

from fttoolkit.algorithms.swim import Ack, SwimNode
from fttoolkit.grading import check, feedback, show_run
from fttoolkit.grading.chapter2 import (FLOOR, INFINITY, LOG, NO_FALSE_ACK, NORMAL, RELAY, SMALLEST, false_suspicion,
                                        probe_suspicions, reference_timeout, replay_script)
from fttoolkit.scenario import parse

import grading_support as support

NOTEBOOK = "02_failure_detection.ipynb"
POINTS = {"2.1": 4, "2.2": 4, "2.3": 4}
NAMES = {"2.1": "phi", "2.2": "choose_timeout", "2.3": "RelayNode"}


solved = support.solved_fixture(NOTEBOOK)
graded = support.grader(NAMES)


def test_the_solutions_get_full_points(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys, seconds=3)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS)


# ------------------------------------------------------------------------------ 2.1
def _phi(std_of=lambda var: math.sqrt(var), floor=True, out=lambda p: -math.log10(p)):
    def phi(intervals, elapsed, min_std=5):
        n = len(intervals)
        mean = sum(intervals) / n
        std = std_of(sum((x - mean) ** 2 for x in intervals) / n)
        if floor:
            std = max(std, min_std)
        p = 0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2)))
        return math.inf if p <= 0 else out(p)
    return phi


@pytest.mark.parametrize("student, case, rule", [
    (_phi(out=lambda p: p), "hand-made windows, against phi_of and normal_stats", LOG),
    (_phi(out=lambda p: -math.log(p)), "hand-made windows, against phi_of and normal_stats", LOG),
    (_phi(std_of=lambda var: var), "hand-made windows, against phi_of and normal_stats", NORMAL),
    (_phi(floor=False), "edge cases: one sample, zero variance, the floor, a long silence", FLOOR),
])
def test_wrong_phis_fail_with_the_rule_they_break(student, case, rule):
    result, failed = graded("2.1", student)
    assert case in failed and rule in failed[case].reason, feedback(result)


def test_a_phi_that_raises_on_a_long_silence_is_reported():
    def phi(intervals, elapsed, min_std=5):
        n = len(intervals)
        mean = sum(intervals) / n
        std = max(math.sqrt(sum((x - mean) ** 2 for x in intervals) / n), min_std)
        return -math.log10(0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2))))
    result, failed = graded("2.1", phi)
    case = failed["edge cases: one sample, zero variance, the floor, a long silence"]
    assert INFINITY in case.reason and "ValueError" in case.failure.got


# ------------------------------------------------------------------------------ 2.2
def test_the_reference_timeout_meets_the_triangular_tail():
    assert false_suspicion(55, 50, 5, 15) == 0.125
    for args in [(50, 5, 15, 0.01), (100, 10, 30, 0.001), (30, 0, 60, 0.1)]:
        t = reference_timeout(*args)
        assert false_suspicion(t, *args[:3]) <= args[3] < false_suspicion(t - 1, *args[:3])


@pytest.mark.parametrize("student, says", [
    (lambda interval, low, high, target: interval, "too short"),                       # ignores the jitter
    (lambda interval, low, high, target: interval + high - low, "is not the smallest"),  # w, not the tail
])
def test_wrong_timeouts_fail_by_the_formula(student, says):
    result, failed = graded("2.2", student)
    case = failed["the smallest timeout, by the formula"]
    assert SMALLEST in case.reason and says in case.failure.got, feedback(result)


def test_ignoring_the_jitter_also_fails_in_the_simulator():
    result, failed = graded("2.2", lambda interval, low, high, target: interval)
    case = failed["the timeout, measured in HeartbeatDetection"]
    assert "measured mistakes" in case.reason and "measured 0." in case.failure.got


# ------------------------------------------------------------------------------ 2.3
class Ignoring(SwimNode):
    def on_ping_req(self, msg, sender):
        if msg.updates:
            self.absorb(msg.updates)


class SelfAcking(SwimNode):
    def on_ping_req(self, msg, sender):
        self.send(sender, Ack(msg.target, msg.seq, self.piggyback(sender)))


def test_a_relay_that_ignores_pingreq_fails_with_a_replayable_script(capsys):
    result, failed = graded("2.3", Ignoring)
    assert result.points == 0, feedback(result)
    case = failed["a clogged direct link: relays vouch for a live target"]
    f = case.failure
    assert RELAY in case.reason and f.seed == 1 and parse(f.script).header["seed"] == f.seed
    shown = probe_suspicions(f.run)
    assert any(p == "n1" and m == "n2" for _, p, m in shown)       # the live n2 is suspected by n1
    again = replay_script(Ignoring, f.script)
    assert probe_suspicions(again) == shown
    assert (again.violations[0]["detail"], again.violations[0].tick) == (f.run.violations[0]["detail"],
                                                                         f.run.violations[0].tick)
    check("2.3", {"RelayNode": Ignoring})
    assert "seed:     1" in capsys.readouterr().out
    assert show_run.__name__ == "show_run"


def test_a_relay_that_acks_for_the_target_fails():
    result, failed = graded("2.3", SelfAcking)
    assert result.points == 0
    case = failed["a crashed target: no relay vouches for it"]
    assert NO_FALSE_ACK in case.reason and "before n5 answered" in case.failure.got


def test_code_that_raises_or_loops_is_reported_not_fatal():
    class Raising(SwimNode):
        def on_ping_req(self, msg, sender):
            return {}[msg.target]

    def looping(interval, low, high, target):
        while True:
            pass

    result, failed = graded("2.3", Raising)
    assert result.points == 0 and "KeyError" in failed["a clogged direct link: relays vouch for a live target"].failure.got
    result, failed = graded("2.2", looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())
    assert "must be a class that extends SwimNode" in graded("2.3", object)[0].reason
    assert "does not define on_ping_req" in graded("2.3", type("Empty", (SwimNode,), {}))[0].reason
    result, failed = graded("2.1", lambda intervals, elapsed, min_std=5: "high")
    assert result.points == 0 and "must return a number" in result.reason
