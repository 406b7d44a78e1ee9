"""Chapter 6's graded Raft exercises: the solutions score full points; wrong versions lose the case that
exposes them, with the rule they break, the seed, and a script that replays to the same violation."""

import functools

import pytest

from fttoolkit import Raft
from fttoolkit.algorithms.raft import INVARIANTS, AppendEntriesReply, RaftNode, RequestVoteReply
from fttoolkit.check.fuzz import run_seed
from fttoolkit.grading import check, feedback, run_exercise, show_run
from fttoolkit.grading.chapter6 import (CHECK, CURRENT_TERM, FOLLOWER_COMMIT, HIGHEST, MAJORITY, METHODS, ONE_VOTE,
                                        PERSIST, REFEREE, RULES, TRUNCATE, UP_TO_DATE, _refereed, replay_script)
from fttoolkit.grading.model import exercise

import grading_support as support

NOTEBOOK = "06_raft.ipynb"
POINTS = {"6.1": 4, "6.2": 5, "6.3": 5}


solved = support.solved_fixture(NOTEBOOK)
graded = support.grader({ex_id: METHODS[ex_id][0] for ex_id in POINTS})
assert_replayable = functools.partial(support.assert_replayable, replay_script)


# ------------------------------------------------------------------------------ the solutions
def test_the_solutions_get_full_points(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    stubs = support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS).values()
    assert all(s.count("raise NotImplementedError('Exercise 6.") == 1 for s in stubs)


def test_every_rule_is_stated():
    for name in (ONE_VOTE, UP_TO_DATE, PERSIST, TRUNCATE, CHECK, FOLLOWER_COMMIT, CURRENT_TERM, MAJORITY,
                 "Election Safety", "Leader Completeness", "Progress"):
        assert len(RULES[name]) > 30


@pytest.mark.parametrize("ex_id", sorted(POINTS))
def test_the_referee_accepts_the_course_own_raft_under_the_fuzzer(ex_id):
    # The course's RaftNode, judged call by call: no rule may be reported on correct code.
    method = METHODS[ex_id][1]
    door_class = type("Reference", (Raft,), {"node_class": _refereed(RaftNode, method),
                                             "invariants": [REFEREE] + list(INVARIANTS)})
    for profile in ("chaos", "lossy"):
        for seed in range(30, 45):
            result = run_seed(door_class, seed, profile=profile)
            assert not result.failed, (profile, seed, result.violations)


# ------------------------------------------------------------------------------ 6.1 RequestVote
class _Vote(RaftNode):
    """A RequestVote handler with one rule left out (``mistake``)."""

    mistake = None

    def on_request_vote(self, msg, sender):
        self.observe_term(msg.term)
        mine, theirs = (self.last_term, self.last_index), (msg.last_term, msg.last_index)
        if self.mistake == "index first":
            log_ok = (msg.last_index, msg.last_term) >= (self.last_index, self.last_term)
        else:
            log_ok = self.mistake == "no log check" or theirs >= mine
        free = self.mistake == "two votes" or self.voted_for in (None, sender)
        granted = msg.term == self.current_term and free and log_ok
        if granted and self.mistake != "reply first":
            self.save_term(self.current_term, sender)
        if granted:
            self.reset_election_timer()
        self.send(sender, RequestVoteReply(self.current_term, granted))
        if granted and self.mistake == "reply first":
            self.save_term(self.current_term, sender)


def vote(mistake):
    return type(f"VoteNode_{mistake.replace(' ', '_')}", (_Vote,), {"mistake": mistake})


@pytest.mark.parametrize("mistake, case, rule, consequence", [
    ("two votes", "two candidates in one term", ONE_VOTE, "Election Safety broke"),
    ("no log check", "only an up-to-date candidate", UP_TO_DATE, "Leader Completeness broke"),
    ("index first", "only an up-to-date candidate", UP_TO_DATE, "Leader Completeness broke"),
    ("reply first", "two candidates in one term", PERSIST, "only after the reply had left"),
])
def test_wrong_vote_handlers_fail_with_the_rule_they_break(mistake, case, rule, consequence):
    cls = vote(mistake)
    result, failed = graded("6.1", cls)
    assert case in failed and result.points < POINTS["6.1"]
    failure = failed[case].failure
    assert f"{rule} broken (seed {failure.seed})" in failure.message
    assert failure.expected == RULES[rule] and consequence in failure.got
    assert_replayable("6.1", cls, failure)


def test_a_vote_forgotten_in_a_restart_breaks_election_safety():
    class Forgetful(RaftNode):          # keeps the vote in memory only: the referee names the missing write
        def on_request_vote(self, msg, sender):
            self.observe_term(msg.term)
            granted = (msg.term == self.current_term and self.voted_for in (None, sender)
                       and (msg.last_term, msg.last_index) >= (self.last_term, self.last_index))
            if granted:
                self.voted_for = sender
                self.reset_election_timer()
            self.send(sender, RequestVoteReply(self.current_term, granted))

    _, failed = graded("6.1", Forgetful)
    assert "were never written to stable storage" in failed["two candidates in one term"].failure.got


def test_the_comparison_is_the_student_own():
    class Lazy(RaftNode):
        def on_request_vote(self, msg, sender):
            self.observe_term(msg.term)
            granted = (msg.term == self.current_term and self.voted_for in (None, sender)
                       and self.up_to_date(msg.last_index, msg.last_term))
            self.send(sender, RequestVoteReply(self.current_term, granted))

    class Delegating(RaftNode):
        def on_request_vote(self, msg, sender):
            super().on_request_vote(msg, sender)

    assert "do not call self.up_to_date" in graded("6.1", Lazy)[0].reason
    own = {}             # a helper of the student's own may have that name
    exec("from fttoolkit.algorithms.raft import RaftNode, RequestVoteReply\n"
         "def up_to_date(node, msg):\n"
         "    return msg.last_term > node.last_term or (msg.last_term == node.last_term\n"
         "                                              and msg.last_index >= node.last_index)\n"
         "class VoteNode(RaftNode):\n"
         "    def on_request_vote(self, msg, sender):\n"
         "        self.observe_term(msg.term)\n"
         "        granted = msg.term == self.current_term and self.voted_for in (None, sender) and up_to_date(self, msg)\n"
         "        if granted:\n"
         "            self.save_term(self.current_term, sender)\n"
         "            self.reset_election_timer()\n"
         "        self.send(sender, RequestVoteReply(self.current_term, granted))\n", own)
    assert run_exercise(exercise("6.1"), own).points == POINTS["6.1"]
    assert "write it yourself" in graded("6.1", Delegating)[0].reason
    assert "does not define on_request_vote" in graded("6.1", type("Empty", (RaftNode,), {}))[0].reason
    assert "must be a class that extends RaftNode" in graded("6.1", object)[0].reason


# ------------------------------------------------------------------------------ 6.2 AppendEntries
class _Append(RaftNode):
    """An AppendEntries handler with one rule left out (``mistake``); refusals use the simple form."""

    mistake = None

    def on_append_entries(self, msg, sender):
        self.observe_term(msg.term)
        if msg.term < self.current_term:
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, None, 0))
            return
        if self.role != "follower":
            self.become("follower")
        else:
            self.reset_election_timer()
        self.leader = sender
        if self.mistake == "no prev_term":
            ok = msg.prev_index <= self.last_index
        else:
            ok = self.term_at(msg.prev_index) == msg.prev_term
        if not ok:
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, None, 0))
            return
        if self.mistake == "truncate matching":
            self.save_entries(msg.prev_index + 1, msg.entries)       # cuts whatever followed, matching or not
        else:
            for k, entry in enumerate(msg.entries):
                if self.term_at(msg.prev_index + 1 + k) != entry.term:
                    self.save_entries(msg.prev_index + 1 + k, msg.entries[k:])
                    break
        last_new = msg.prev_index + len(msg.entries)
        if self.mistake == "commit to last index" and msg.commit > self.commit_index:
            self.commit_to(min(msg.commit, self.last_index))
        elif self.mistake != "no commit" and msg.commit > self.commit_index:
            self.commit_to(min(msg.commit, last_new))
        self.send(sender, AppendEntriesReply(self.current_term, True, last_new, None, 0))


def append(mistake):
    return type(f"AppendNode_{mistake.replace(' ', '_')}", (_Append,), {"mistake": mistake})


def test_the_simple_refusal_converges():
    result, failed = graded("6.2", append("none"))
    assert result.points == POINTS["6.2"] and not failed, feedback(result)


@pytest.mark.parametrize("mistake, case, rule, says", [
    ("truncate matching", "a delayed, older AppendEntries", TRUNCATE, "did not conflict with the new ones"),
    ("no prev_term", "a follower behind, a follower with conflicting entries", CHECK, "Log Matching broke"),
    ("no commit", "replication on a calm network", FOLLOWER_COMMIT, "it is 0"),
    ("commit to last index", "a follower behind, a follower with conflicting entries", FOLLOWER_COMMIT,
     "State Machine Safety broke"),
])
def test_wrong_append_handlers_fail_with_the_rule_they_break(mistake, case, rule, says):
    cls = append(mistake)
    result, failed = graded("6.2", cls)
    assert case in failed and result.points < POINTS["6.2"]
    failure = failed[case].failure
    assert f"{rule} broken (seed {failure.seed})" in failure.message and says in failure.got
    assert_replayable("6.2", cls, failure)


def test_a_delayed_old_append_entries_erases_a_committed_entry():
    cls = append("truncate matching")
    _, failed = graded("6.2", cls)
    failure = failed["a delayed, older AppendEntries"].failure
    assert "deleted entries 3..3 [..., 3:t1:put y 2]" in failure.got
    assert "Leader Completeness broke" in failure.got      # the entry was committed on n1 and n2
    fuzzed = failed["lossy, duplicating, reordering networks (fuzzed)"].failure
    assert "shrunk" in fuzzed.script.splitlines()[0] and f"{TRUNCATE} broken" in fuzzed.message
    assert_replayable("6.2", cls, fuzzed)


# ------------------------------------------------------------------------------ 6.3 the commit rule
class _Commit(RaftNode):
    mistake = None

    def advance_commit(self):
        for n in range(self.last_index, self.commit_index, -1):
            stored = sum(1 for p in self.peers if self.match_index[p] >= n)
            if self.mistake != "without the leader":
                stored += 1
            need = len(self.peers) // 2 if self.mistake == "no majority" else self.majority
            if stored < need:
                continue
            if self.mistake != "figure 8" and self.log[n - 1].term != self.current_term:
                break
            self.commit_to(n)
            break


def commit(mistake):
    return type(f"CommitNode_{mistake.replace(' ', '_')}", (_Commit,), {"mistake": mistake})


def test_the_figure8_rule_fails_on_figure8_with_a_replayable_script(capsys):
    cls = commit("figure 8")
    result, failed = graded("6.3", cls)
    assert "commits on a calm cluster" not in failed            # on a calm cluster it looks fine
    failure = failed["Figure 8 (d): an old entry on a majority is not committed"].failure
    assert failure.seed == 1 and "algorithm raft" in failure.script and "(d) n1 crashes" in failure.script
    assert f"{CURRENT_TERM} broken (seed 1)" in failure.message
    assert "an entry of term 1, because 3 of 5 servers store it" in failure.got
    assert "Leader Completeness broke: n5 became leader of term 5 without the entry committed at index 2" \
        in failure.got
    door = assert_replayable("6.3", cls, failure)
    names = [v["invariant"] for v in door.violations]
    assert {"Leader Completeness", "State Machine Safety"} <= set(names)
    check("6.3", {"CommitNode": cls})
    out = capsys.readouterr().out
    assert "seed:     1" in out and 'show_run("6.3")' in out and "Figure 8 of Ongaro & Ousterhout" in out
    view = show_run("6.3")                       # the failing run, in the cluster view
    assert view.cluster.violations and view.cluster.violations[0]["invariant"] == CURRENT_TERM


@pytest.mark.parametrize("mistake, rule, says", [
    ("without the leader", HIGHEST, "the leader stores it too and counts itself"),
    ("no majority", MAJORITY, "a majority of 3 is 2"),
])
def test_wrong_commit_rules_fail_on_a_calm_cluster(mistake, rule, says):
    cls = commit(mistake)
    result, failed = graded("6.3", cls)
    failure = failed["commits on a calm cluster"].failure
    assert f"{rule} broken" in failure.message and says in failure.got
    assert_replayable("6.3", cls, failure)


# ------------------------------------------------------------------------------ robustness
def test_code_that_raises_or_loops_is_reported_not_fatal():
    class Raising(RaftNode):
        def on_append_entries(self, msg, sender):
            return {}[msg.term]

    class Looping(RaftNode):
        def advance_commit(self):
            while True:
                pass

    result, failed = graded("6.2", Raising)
    assert result.points == 0 and len(failed) == len(result.cases)
    first = failed["replication on a calm network"]
    assert "KeyError: 1" in first.failure.got and "your code raised an exception in n" in first.reason
    assert first.failure.seed == 1 and "algorithm raft" in first.failure.script
    result, failed = graded("6.3", Looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())


def test_each_exercise_checks_in_a_few_seconds(solved):
    support.assert_each_checks_within(solved, POINTS, 3)


def test_the_grader_grades_chapter_6(tmp_path):
    # ben counts replicas of entries of earlier terms too
    rows = support.grade_ana_and_ben(tmp_path, NOTEBOOK, "6.3", lambda source: source.replace(
        "break               # older entries", "pass  # Figure 8: older entries"))
    assert [rows[("ana", e)].points for e in POINTS] == [4, 5, 5]
    ben = rows[("ben", "6.3")]
    assert ben.points < 5 and CURRENT_TERM in ben.reason
    assert [rows[("ben", e)].points for e in ("6.1", "6.2")] == [4, 5]
