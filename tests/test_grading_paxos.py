"""Chapter 5's graded Paxos exercises: the solutions score full points; wrong versions lose the case that
exposes them, with the rule they break, the seed, and a script that replays to the same violation."""

import functools

import pytest

from fttoolkit import Paxos
from fttoolkit.algorithms.paxos import INVARIANTS, Accepted, Nack, PaxosNode, Promise, highest_accepted
from fttoolkit.check.fuzz import run_seed
from fttoolkit.grading import check, feedback, show_run
from fttoolkit.grading.chapter5 import (ACCEPT, HIGHEST, KEEP, METHODS, PERSIST, PROMISE_HIGHER, REFEREE, REPORT,
                                        RULES, TELL, _chooser, _refereed, replay_script)

import grading_support as support

NOTEBOOK = "05_paxos.ipynb"
POINTS = {"5.1": 4, "5.2": 4, "5.3": 4}


solved = support.solved_fixture(NOTEBOOK)
graded = support.grader({ex_id: METHODS[ex_id][0] for ex_id in POINTS})
assert_replayable = functools.partial(support.assert_replayable, replay_script)


# ------------------------------------------------------------------------------ the solutions
def test_the_solutions_get_full_points(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    stubs = support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS).values()
    assert all(s.count("raise NotImplementedError('Exercise 5.") == 1 for s in stubs)


def test_every_rule_is_stated():
    for name in (PROMISE_HIGHER, REPORT, KEEP, ACCEPT, PERSIST, HIGHEST, TELL, "Agreement", "Promise kept",
                 "Progress"):
        assert len(RULES[name]) > 30


def test_the_referee_accepts_the_course_own_paxos_under_the_fuzzer():
    # The course's PaxosNode, judged call by call: no rule may be reported on correct code.
    def reference_choice(promises, own_value):
        highest = highest_accepted(promises)
        return own_value if highest is None else highest[1]

    classes = [_refereed(PaxosNode, "on_prepare"), _refereed(PaxosNode, "on_accept"), _chooser(reference_choice)]
    for node_class in classes:
        door_class = type("Reference", (Paxos,), {"node_class": node_class,
                                                  "invariants": [REFEREE] + list(INVARIANTS)})
        for profile in ("chaos", "lossy", "crash"):
            for seed in range(30, 45):
                result = run_seed(door_class, seed, profile=profile)
                assert not result.failed, (node_class, profile, seed, result.violations)


# ------------------------------------------------------------------------------ 5.1 Prepare
class _Prepare(PaxosNode):
    """A Prepare handler with one rule left out (``mistake``)."""

    mistake = None

    def on_prepare(self, msg, sender):
        self.round = max(self.round, msg.ballot.round)
        if self.mistake == "rounds only":          # b1.n1 looks as high as b1.n3
            lower = self.promised is not None and msg.ballot.round < self.promised.round
        else:
            lower = self.promised is not None and msg.ballot < self.promised
        if lower and self.mistake != "no check":
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        self.promised = msg.ballot
        accepted = None if self.mistake == "no report" else self.accepted
        if self.mistake == "reply first":
            self.send(sender, Promise(msg.ballot, accepted))
            self.save_acceptor()
            return
        if self.mistake != "no persist":
            self.save_acceptor()
        self.send(sender, Promise(msg.ballot, accepted))


def prepare(mistake):
    return type(f"PromiseNode_{mistake.replace(' ', '_')}", (_Prepare,), {"mistake": mistake})


def test_the_plain_prepare_handler_gets_full_points():
    result, failed = graded("5.1", prepare("none"))
    assert result.points == POINTS["5.1"] and not failed, feedback(result)


@pytest.mark.parametrize("mistake, case, rule, says", [
    ("no check", "a lower ballot after a higher one, and a crash", PROMISE_HIGHER,
     "promised b1.n1, lower than its promise b1.n3"),
    ("rounds only", "a lower ballot after a higher one, and a crash", PROMISE_HIGHER,
     "promised b1.n1, lower than its promise b1.n3"),
    ("no report", "promises report the accepted proposal (partial_accept)", REPORT,
     "its Promise reports accepted=None, but it had accepted (b1.n1, 'apple')"),
    ("reply first", "calm runs", PERSIST, "reached stable storage only after the reply had left"),
    ("no persist", "calm runs", PERSIST, "was never written to stable storage"),
])
def test_wrong_prepare_handlers_fail_with_the_rule_they_break(mistake, case, rule, says):
    cls = prepare(mistake)
    result, failed = graded("5.1", cls)
    assert case in failed and result.points < POINTS["5.1"], feedback(result)
    failure = failed[case].failure
    assert f"{rule} broken (seed {failure.seed})" in failure.message
    assert failure.expected == RULES[rule] and says in failure.got, failure.got
    assert_replayable("5.1", cls, failure)


def test_a_promise_without_the_accepted_value_leads_to_two_chosen_values():
    _, failed = graded("5.1", prepare("no report"))
    failure = failed["promises report the accepted proposal (partial_accept)"].failure
    assert "Agreement broke: two values chosen" in failure.got


# ------------------------------------------------------------------------------ 5.2 Accept
class _Accept(PaxosNode):
    """An Accept handler with one rule left out (``mistake``)."""

    mistake = None

    def on_accept(self, msg, sender):
        self.round = max(self.round, msg.ballot.round)
        if self.mistake == "rounds only":
            lower = self.promised is not None and msg.ballot.round < self.promised.round
        else:
            lower = self.promised is not None and msg.ballot < self.promised
        if lower and self.mistake != "no check":
            self.send(sender, Nack(msg.ballot, self.promised))
            return
        if self.promised is None or msg.ballot > self.promised:
            self.promised = msg.ballot
        self.accepted = (msg.ballot, msg.value)
        if self.mistake != "no persist":
            self.save_acceptor()
        to = [sender] if self.mistake == "proposer only" else sorted(set(self.learners) | {sender})
        for node in to:
            self.send(node, Accepted(msg.ballot, msg.value))


def accept(mistake):
    return type(f"AcceptNode_{mistake.replace(' ', '_')}", (_Accept,), {"mistake": mistake})


def test_the_plain_accept_handler_gets_full_points():
    result, failed = graded("5.2", accept("none"))
    assert result.points == POINTS["5.2"] and not failed, feedback(result)


@pytest.mark.parametrize("mistake, case, rule, says", [
    ("no check", "an Accept below the promise", KEEP, "accepted b1.n1 after promising b1.n5"),
    ("rounds only", "an Accept below the promise", KEEP, "accepted b1.n1 after promising b1.n5"),
    ("no persist", "calm runs", PERSIST, "was never written to stable storage"),
    ("proposer only", "calm runs", TELL, "the proposer and the learners"),
])
def test_wrong_accept_handlers_fail_with_the_rule_they_break(mistake, case, rule, says):
    cls = accept(mistake)
    result, failed = graded("5.2", cls)
    assert case in failed and result.points < POINTS["5.2"], feedback(result)
    failure = failed[case].failure
    assert f"{rule} broken (seed {failure.seed})" in failure.message
    assert failure.expected == RULES[rule] and says in failure.got, failure.got
    assert_replayable("5.2", cls, failure)


# ------------------------------------------------------------------------------ 5.3 the value
def own_value_only(promises, own_value):
    return own_value


def lowest_ballot(promises, own_value):
    found = [p for p in promises.values() if p is not None]
    return min(found, key=lambda p: p[0])[1] if found else own_value


def first_promise(promises, own_value):
    for p in promises.values():
        if p is not None:
            return p[1]
    return own_value


def test_ignoring_the_promises_fails_on_partial_accept_with_a_replayable_script(capsys):
    result, failed = graded("5.3", own_value_only)
    case = "partial_accept: the next proposer finishes the first one's job"
    assert case in failed and result.points == 0, feedback(result)
    failure = failed[case].failure
    assert failure.seed == 1 and "algorithm paxos" in failure.script and "propose n5 banana" in failure.script
    assert f"{HIGHEST} broken (seed 1)" in failure.message and failure.expected == RULES[HIGHEST]
    assert "it proposed its own value, but a promise reports an accepted proposal: the highest-numbered one, " \
           "b1.n1, carries 'apple'" in failure.got
    assert "Agreement broke: two values chosen" in failure.got
    door = assert_replayable("5.3", own_value_only, failure)
    assert {"Agreement", "Learners agree"} <= {v["invariant"] for v in door.violations}
    check("5.3", {"choose_value": own_value_only})
    out = capsys.readouterr().out
    assert "seed:     1" in out and 'show_run("5.3")' in out and "propose n5 banana" in out
    view = show_run("5.3")                       # the failing run, in the cluster view
    assert view.cluster.violations and view.cluster.violations[0]["invariant"] == HIGHEST


@pytest.mark.parametrize("student, says", [
    (lowest_ballot, "(the value of the LOWEST-numbered one)"),
    (first_promise, "(the value of the first promise)"),
])
def test_wrong_choices_fail_with_the_promise_set_that_shows_it(student, says):
    result, failed = graded("5.3", student)
    failure = failed["the rule on given promise sets"].failure
    assert f"{HIGHEST} broken" in failure.message and says in failure.got and failure.expected == "'c'"
    assert "three different proposals" in failure.message


def test_the_choice_is_the_student_own():
    def lazy(promises, own_value):
        highest = highest_accepted(promises)
        return own_value if highest is None else highest[1]

    assert "do not call highest_accepted" in graded("5.3", lazy)[0].reason
    assert "choose_value must be a function" in graded("5.3", "apple")[0].reason


# ------------------------------------------------------------------------------ robustness
def test_code_that_raises_or_loops_is_reported_not_fatal():
    class Raising(PaxosNode):
        def on_accept(self, msg, sender):
            return {}[msg.value]

    def looping(promises, own_value):
        while True:
            pass

    result, failed = graded("5.2", Raising)
    assert result.points == 0 and len(failed) == len(result.cases)
    first = failed["calm runs"]
    assert "KeyError: 'apple'" in first.failure.got and "your code raised an exception in n" in first.reason
    assert first.failure.seed == 1 and "algorithm paxos" in first.failure.script
    result, failed = graded("5.3", looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())
    assert "does not define on_prepare" in graded("5.1", type("Empty", (PaxosNode,), {}))[0].reason
    assert "must be a class that extends PaxosNode" in graded("5.1", object)[0].reason

    class Delegating(PaxosNode):
        def on_prepare(self, msg, sender):
            super().on_prepare(msg, sender)
    assert "write it yourself" in graded("5.1", Delegating)[0].reason


def test_each_exercise_checks_in_a_few_seconds(solved):
    support.assert_each_checks_within(solved, POINTS, 3)


def test_the_grader_grades_chapter_5(tmp_path):
    rows = support.grade_ana_and_ben(tmp_path, NOTEBOOK, "5.3",
                                     lambda source: "def choose_value(promises, own_value):\n    return own_value\n")
    assert [rows[("ana", e)].points for e in POINTS] == [4, 4, 4]
    ben = rows[("ben", "5.3")]
    assert ben.points == 0 and HIGHEST in ben.reason
    assert [rows[("ben", e)].points for e in ("5.1", "5.2")] == [4, 4]
