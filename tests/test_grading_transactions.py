"""Chapter 4's graded two-phase-commit exercises: the solutions score full points; wrong versions lose the case
that exposes them, with the rule they break, the seed, and a script that replays to the same violation."""

import functools

import pytest

from fttoolkit import DistributedTransaction
from fttoolkit.algorithms.twopc import INVARIANTS, DecisionTimeout, TwoPCNode, Vote
from fttoolkit.check.fuzz import run_seed
from fttoolkit.grading import check, feedback, show_run
from fttoolkit.grading.chapter4 import (ABORT_ON_TIMEOUT, FORCE_DECISION, FORCE_PREPARED, METHODS, RECOVER_ASK,
                                        RECOVER_REDO, REFEREE, RULES, UNANIMOUS, VOTE_NO, CoordinatorNode,
                                        _readable, _recovering, _refereed_vote, reference_recover, replay_script)

import grading_support as support

NOTEBOOK = "04_transactions.ipynb"
POINTS = {"4.1": 6, "4.2": 5, "4.3": 5}


solved = support.solved_fixture(NOTEBOOK)
graded = support.grader({ex_id: METHODS[ex_id][0] for ex_id in POINTS})
assert_replayable = functools.partial(support.assert_replayable, replay_script)


# ------------------------------------------------------------------------------ the solutions
def test_the_solutions_get_full_points(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    stubs = support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS).values()
    assert all(s.count("raise NotImplementedError(") == 1 for s in stubs)
    assert [s.count("Exercise 4.") for s in stubs] == [1, 1, 1]


def test_every_rule_is_stated():
    for name in (FORCE_PREPARED, VOTE_NO, UNANIMOUS, ABORT_ON_TIMEOUT, FORCE_DECISION, RECOVER_ASK, RECOVER_REDO,
                 "Atomicity", "Commit needs unanimity", "Durability", "Termination"):
        assert len(RULES[name]) > 30


def test_the_referee_accepts_the_course_own_two_phase_commit_under_the_fuzzer():
    # The course's participant and recovery, judged call by call: no rule may be reported on correct code.
    for node_class in (_refereed_vote(TwoPCNode), _recovering(reference_recover)):
        door_class = type("Reference", (DistributedTransaction,), {
            "node_class": node_class, "invariants": [REFEREE] + list(INVARIANTS),
            "fuzz_params": {"cooperative": (False, True)}})
        for profile in ("crash", "chaos"):
            for seed in range(20, 40):
                result = run_seed(door_class, seed, nodes=4, profile=profile)
                assert not result.failed, (node_class, profile, seed, result.violations)


def test_scripts_written_from_runs_read_as_the_doors_commands_and_replay():
    text = ("at 5 request n1 Begin(txn='T1', writes=(('n2', (('x', 1), ('y', 'a'))), ('n3', (('z', 'w'),))))\n"
            "request n1 Begin(txn='T2', writes=(('n2', (('x', 'two words'),)),))\n"
            "request n2 Refuse(txn='T3')\nrun 10\n")
    assert _readable(text) == ("at 5 begin T1 n2:x=1,y=a n3:z=w\n"
                               "request n1 Begin(txn='T2', writes=(('n2', (('x', 'two words'),)),))\n"   # kept: it has a space
                               "refuse n2 T3\nrun 10\n")
    from fttoolkit.scenario import replay
    door = DistributedTransaction(nodes=4, seed=2)
    door.begin("T1", {"n2": {"x": 1}, "n3": {"y": "a b"}})
    door.refuse("n3", "T2")
    door.begin("T2", {"n2": {"x": 2}, "n3": {"y": "3"}}, at=40)      # the string "3", not the number
    door.run(until=300)
    assert replay(_readable(door.to_script())).door.trace.to_jsonl() == door.trace.to_jsonl()


# ------------------------------------------------------------------------------ 4.1 the vote
class _Vote(TwoPCNode):
    """A participant's Prepare handler with one rule left out (``mistake``)."""

    mistake = None

    def on_prepare(self, msg, sender):
        txn = msg.txn
        if self.txns.get(txn) is not None:
            return
        self.writes[txn] = msg.writes
        mine = self.mine(txn)
        busy = any(k in self.locks for k, _ in mine) and self.mistake != "ignore locks"
        if busy or txn in self.refused:
            self.txns[txn] = "aborted"
            self.send(sender, Vote(txn, False))
            return
        for key, _ in mine:
            self.locks[key] = txn
        self.txns[txn] = "prepared"
        if self.mistake == "vote first":
            self.send(sender, Vote(txn, True))
            self.persist(("prepared", txn, msg.writes))
        else:
            self.persist(("prepared", txn, msg.writes))
            self.send(sender, Vote(txn, True))
        self.set_timer(DecisionTimeout(txn), self.params["timeout_ticks"])


def vote(mistake):
    return type(f"VoteNode_{mistake.replace(' ', '_')}", (_Vote,), {"mistake": mistake})


def test_a_plain_vote_handler_gets_full_points():
    result, failed = graded("4.1", vote("none"))
    assert result.points == POINTS["4.1"] and not failed, feedback(result)


def test_voting_before_forcing_fails_the_crash_scenario_with_a_replayable_script(capsys):
    cls = vote("vote first")
    result, failed = graded("4.1", cls)
    case = "a crash between the vote and the write"
    assert case in failed and result.points == 0, feedback(result)
    failure = failed[case].failure
    assert f"{FORCE_PREPARED} broken (seed 4)" in failure.message and failure.expected == RULES[FORCE_PREPARED]
    assert failure.seed == 4 and "crash n3 after=1" in failure.script
    assert "sent Vote(T1, yes) before forcing its prepared record" in failure.got
    assert "Durability broke: n3 committed T1 but its store has y='nothing', not 2" in failure.got
    door = assert_replayable("4.1", cls, failure)
    assert {"Durability"} <= {v["invariant"] for v in door.violations}
    check("4.1", {"VoteNode": cls})
    out = capsys.readouterr().out
    assert "seed:     4" in out and 'show_run("4.1")' in out and "crash n3 after=1" in out
    view = show_run("4.1")                       # the failing run, in the cluster view
    assert view.cluster.violations[0]["invariant"] == FORCE_PREPARED


def test_ignoring_lock_conflicts_fails_with_the_conflict():
    cls = vote("ignore locks")
    result, failed = graded("4.1", cls)
    case = "a lock conflict and a refusal"
    assert set(failed) == {case, "crashes and restarts (fuzzed)"} and result.points == 3, feedback(result)
    failure = failed[case].failure
    assert f"{VOTE_NO} broken (seed 2)" in failure.message and failure.expected == RULES[VOTE_NO]
    assert "got Prepare(T2, n2:x=5 n4:z=6) from n1: voted yes, but its key x is locked by T1" in failure.got
    assert_replayable("4.1", cls, failure)
    fuzzed = failed["crashes and restarts (fuzzed)"].failure   # a shrunk random schedule that replays too
    assert "shrunk to the faults that matter" in fuzzed.script and " begin T" in fuzzed.script
    assert_replayable("4.1", cls, fuzzed)


# ------------------------------------------------------------------------------ 4.2 the decision
class _Decide(CoordinatorNode):
    """A decision rule with one rule left out (``mistake``)."""

    mistake = None

    def decide(self, txn, timed_out):
        votes, members = self.votes[txn], self.members[txn]
        if False in votes.values() or (timed_out and self.mistake != "commit on timeout"):
            outcome = "aborted"
        elif all(votes.get(p) for p in members) or timed_out:
            outcome = "committed"
        elif self.mistake == "count the votes in" and len(votes) == len(members) - 1:
            outcome = "committed"
        else:
            return
        self.txns[txn] = self.decisions[txn] = outcome
        record = ("commit" if outcome == "committed" else "abort", txn, members)
        if self.mistake == "send first":
            self.send_decision(txn)
            self.persist(record)
        else:
            self.persist(record)
            self.send_decision(txn)


def decide(mistake):
    return type(f"DecideNode_{mistake.replace(' ', '_')}", (_Decide,), {"mistake": mistake})


def test_a_plain_decision_rule_gets_full_points():
    result, failed = graded("4.2", decide("none"))
    assert result.points == POINTS["4.2"] and not failed, feedback(result)


@pytest.mark.parametrize("mistake, case, rule, seed, says, then", [
    ("commit on timeout", "a missing vote at the timeout", UNANIMOUS, 5,
     "{n2: yes, n3: yes, n4: -}) at the vote timeout: decided commit, but no vote from n4",
     "Commit needs unanimity broke: T1 was committed without a yes vote from n4"),
    ("count the votes in", "calm runs: a commit and a no vote", UNANIMOUS, 1,
     "after a vote: decided commit, but no vote from n4", None),
    ("send first", "a crash between the decision and its record", FORCE_DECISION, 6,
     "sent Commit(T1) to n2 before forcing its decision record",
     "Atomicity broke: T1 committed at n2 but aborted at n3"),
])
def test_wrong_decision_rules_fail_with_the_rule_they_break(mistake, case, rule, seed, says, then):
    cls = decide(mistake)
    result, failed = graded("4.2", cls)
    assert case in failed and result.points < POINTS["4.2"], feedback(result)
    failure = failed[case].failure
    assert f"{rule} broken (seed {seed})" in failure.message and failure.seed == seed
    assert failure.expected == RULES[rule] and says in failure.got, failure.got
    if then:
        assert then in failure.got
    assert_replayable("4.2", cls, failure)


# ------------------------------------------------------------------------------ 4.3 recovery
def abort_when_in_doubt(records, txn):
    answer = reference_recover(records, txn)
    return "abort" if answer == "ask" else answer


def commit_when_in_doubt(records, txn):
    answer = reference_recover(records, txn)
    return "commit" if answer == "ask" else answer


def ask_always(records, txn):
    return "ask"


@pytest.mark.parametrize("student, case, rule, seed, says, then", [
    (abort_when_in_doubt, "participant_recovery: prepared, the coordinator committed", RECOVER_ASK, 1,
     "n3 restarted: with the log holding [('prepared', 'T1')] for T1, recover returned 'abort'",
     "Atomicity broke: T1 committed at n2, n4 but aborted at n3"),
    (commit_when_in_doubt, "prepared, the coordinator never decided", RECOVER_ASK, 7,
     "recover returned 'commit', but the outcome is not in the log",
     "Atomicity broke: T1 committed at n3 but aborted at n2"),
    (ask_always, "the outcome is in the log", RECOVER_REDO, 8,
     "recover returned 'ask', but the log holds the outcome: 'commit'", None),
])
def test_wrong_recoveries_fail_with_the_rule_they_break(student, case, rule, seed, says, then):
    result, failed = graded("4.3", student)
    assert case in failed and "the rule on given logs" in failed and result.points < POINTS["4.3"]
    assert rule in failed["the rule on given logs"].reason
    failure = failed[case].failure
    assert f"{rule} broken (seed {seed})" in failure.message and failure.expected == RULES[rule]
    assert says in failure.got, failure.got
    if then:
        assert then in failure.got
    assert_replayable("4.3", student, failure)


# ------------------------------------------------------------------------------ robustness
def test_code_that_raises_or_loops_is_reported_not_fatal():
    class Raising(TwoPCNode):
        def on_prepare(self, msg, sender):
            return {}[msg.txn]

    def looping(records, txn):
        while True:
            pass

    result, failed = graded("4.1", Raising)
    assert result.points == 0 and len(failed) == len(result.cases)
    first = failed["calm commits"]
    assert "KeyError: 'T1'" in first.failure.got and "your code raised an exception in n" in first.reason
    assert first.failure.seed == 1 and "algorithm 2pc" in first.failure.script
    result, failed = graded("4.3", looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())
    assert "recover must return 'commit', 'abort' or 'ask'" in graded("4.3", lambda records, txn: "maybe")[0].reason
    assert "does not define decide" in graded("4.2", type("Empty", (CoordinatorNode,), {}))[0].reason
    assert "must be a class that extends TwoPCNode" in graded("4.1", object)[0].reason
    assert "recover must be a function" in graded("4.3", "ask")[0].reason

    class Delegating(TwoPCNode):
        def on_prepare(self, msg, sender):
            super().on_prepare(msg, sender)
    assert "write it yourself" in graded("4.1", Delegating)[0].reason


def test_each_exercise_checks_in_a_few_seconds(solved):
    support.assert_each_checks_within(solved, POINTS, 3)


def test_the_grader_grades_chapter_4(tmp_path):
    rows = support.grade_ana_and_ben(tmp_path, NOTEBOOK, "4.3",
                                     lambda source: "def recover(records, txn):\n    return 'abort'\n")
    assert [rows[("ana", e)].points for e in POINTS] == [6, 5, 5]
    ben = rows[("ben", "4.3")]
    assert ben.points == 0 and RECOVER_ASK in ben.reason
    assert [rows[("ben", e)].points for e in ("4.1", "4.2")] == [6, 5]
