"""Chapter 7's graded checking exercises: the solutions score full points; typical wrong answers lose the case
that exposes them, with the rule, the seed and a script (or the misjudged history) that shows it again."""

import nbformat
import pytest

from fttoolkit import DistributedTransaction
from fttoolkit.check.fuzz import run_seed
from fttoolkit.check.linearizability import check as lincheck
from fttoolkit.core.invariants import Violation
from fttoolkit.grading import check, feedback, show_run
from fttoolkit.grading.chapter7 import (BREAKS, BUG_SEEDS, CATCH, CONTRACT, NO_FALSE_ALARM, PENDING, REAL_TIME,
                                        RULES, SCRIPT, THE_BUG, TIES, YOURS, _HAND, _PENDING, _RANDOM_SEEDS,
                                        format_history, judge_script, random_history, replay_script)
from fttoolkit.grading.notebooks import EXERCISES, make_exercises
from fttoolkit.scenario import parse, replay, with_bugs

import grading_support as support

NOTEBOOK = "07_checking.ipynb"
POINTS = {"7.1": 4, "7.2": 4, "7.3": 4}
NAMES = {"7.1": "atomicity", "7.2": "breaking_script", "7.3": "is_linearizable"}


solved = support.solved_fixture(NOTEBOOK)
graded = support.grader(NAMES)


# ------------------------------------------------------------------------------ the solutions
def test_the_solutions_get_full_points_quickly(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys, seconds=3)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    made = make_exercises(write=False)[NOTEBOOK]
    assert nbformat.read(EXERCISES / NOTEBOOK, as_version=4) == made
    stubs = list(support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS).values())
    assert [s.count("raise NotImplementedError(") for s in stubs] == [1, 1, 1]
    assert "algorithm paxos" in stubs[1] and "bugs forget-promise" in stubs[1]     # the template's header


def test_every_rule_is_stated():
    for name in (CONTRACT, NO_FALSE_ALARM, CATCH, SCRIPT, BREAKS, THE_BUG, REAL_TIME, TIES, PENDING):
        assert len(RULES[name]) > 40


# ------------------------------------------------------------------------------ 7.1
@pytest.mark.parametrize("bug", sorted(BUG_SEEDS))
def test_the_bug_runs_still_break_the_course_atomicity_and_only_with_the_bug(bug):
    text, seeds = BUG_SEEDS[bug]
    broken = replay(text).door.violations
    assert [v["invariant"] for v in broken][:1] == ["Atomicity"]
    assert replay(with_bugs(text, [])).door.violations == []
    for seed in seeds:
        result = run_seed(DistributedTransaction, seed, nodes=4, bugs=[bug], profile="crash")
        assert any(v.invariant == "Atomicity" for v in result.violations), (bug, seed)


def never(nodes):
    return []


def same_state(nodes):
    """Flags every transaction whose participants are not all in the same state: transient states too."""
    states = {}
    for node_id, node in nodes.items():
        if node.role == "participant":
            for txn, state in node.txns.items():
                states.setdefault(txn, set()).add(state)
    return [Violation("Atomicity", (), f"{txn} is {sorted(s)}") for txn, s in sorted(states.items()) if len(s) > 1]


def two_nodes_only(nodes):
    """Right, but only looks at n2 and n3: misses a commit or an abort at n4."""
    seen = {}
    for node_id in ("n2", "n3"):
        if node_id in nodes:
            for txn, state in nodes[node_id].txns.items():
                seen.setdefault(txn, set()).add(state)
    return [Violation("Atomicity", (), txn) for txn, s in sorted(seen.items()) if {"committed", "aborted"} <= s]


def test_an_invariant_that_never_fires_misses_both_bugs_with_a_script():
    result, failed = graded("7.1", never)
    assert result.points == 2 and set(failed) == {"catches abort-after-yes", "catches decide-before-log"}
    f = failed["catches abort-after-yes"].failure
    assert "went unnoticed" in failed["catches abort-after-yes"].reason and f.expected == RULES[CATCH]
    assert f.seed == 1 and "bugs abort-after-yes" in f.script and "your invariant never fired" in f.got
    door = replay_script(never, f.script)                 # the course's Atomicity breaks, yours stays silent
    assert [v["invariant"] for v in door.violations][:1] == ["Atomicity"]
    assert not [v for v in door.violations if v["invariant"] == YOURS]


def test_an_invariant_that_misses_some_nodes_is_caught_on_a_fuzzed_seed():
    result, failed = graded("7.1", two_nodes_only)
    assert "catches abort-after-yes" in failed or "catches decide-before-log" in failed, feedback(result)
    case = next(failed[t] for t in ("catches abort-after-yes", "catches decide-before-log") if t in failed)
    f = case.failure
    assert "random schedule" in case.reason and f.seed in BUG_SEEDS[case.case.title.split()[-1]][1]
    header = parse(f.script).header
    assert header["seed"] == f.seed and header["bugs"] == [case.case.title.split()[-1]]
    door = replay_script(two_nodes_only, f.script)
    assert any(v["invariant"] == "Atomicity" for v in door.violations)
    assert not [v for v in door.violations if v["invariant"] == YOURS]


def test_an_invariant_that_fires_on_transient_states_is_a_false_alarm():
    result, failed = graded("7.1", same_state)
    assert set(failed) == {"no false alarm: the presets and the scripted runs, bug off",
                           "no false alarm: random schedules of the correct protocol"}, feedback(result)
    scripted = failed["no false alarm: the presets and the scripted runs, bug off"].failure
    assert "false alarm on the correct protocol" in failed[
        "no false alarm: the presets and the scripted runs, bug off"].reason
    assert "committed" in scripted.got and "prepared" in scripted.got and "bugs" not in parse(scripted.script).header
    fuzzed = failed["no false alarm: random schedules of the correct protocol"].failure
    assert fuzzed.seed is not None and parse(fuzzed.script).header["seed"] == fuzzed.seed
    again = replay_script(same_state, fuzzed.script)     # the shrunk script replays to the same false alarm
    mine = [v for v in again.violations if v["invariant"] == YOURS]
    assert mine and f"at t={mine[0].tick}" in fuzzed.got
    assert [v for v in again.violations if v["invariant"] != YOURS] == []


def test_predicates_that_raise_loop_or_answer_true_are_reported():
    result, failed = graded("7.1", lambda nodes: True)
    assert result.points == 0 and all("returned True" in c.failure.got for c in failed.values())
    assert "does not" in next(iter(failed.values())).reason

    def raising(nodes):
        return [Violation("Atomicity", (), str(n.decisions)) for n in nodes.values()]   # participants have none
    result, failed = graded("7.1", raising)
    case = failed["no false alarm: the presets and the scripted runs, bug off"]
    assert result.points == 0 and "raised an exception" in case.reason
    assert "AttributeError" in case.failure.got and case.failure.script and case.failure.seed == 1

    def looping(nodes):
        while True:
            pass
    result, failed = graded("7.1", looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())
    assert "must be a function" in graded("7.1", "Atomicity")[0].reason


# ------------------------------------------------------------------------------ 7.2
def solution_script(solved):
    return solved["breaking_script"]()


def test_the_solution_script_breaks_agreement_only_with_the_bug(solved):
    text = solution_script(solved)
    verdict = judge_script(text)
    assert verdict.rule is None and verdict.broke["invariant"] == "Agreement"
    assert not [v for v in replay(with_bugs(text, [])).door.violations]
    unmarked = with_bugs(text, [])                        # without the bugs line the grader switches it on
    result, failed = graded("7.2", lambda: unmarked)
    assert result.points == 4 and "switched on by the grader" in result.cases[0].note


def test_a_script_that_breaks_even_without_the_bug_is_refused(solved):
    disk = solution_script(solved).replace("crash n2\n", "crash n2 disk\n")
    assert disk != solution_script(solved)
    result, failed = graded("7.2", lambda: disk)
    assert result.points == 3 and list(failed) == ["the bug, not the schedule: Agreement holds with the bug off"]
    f = failed["the bug, not the schedule: Agreement holds with the bug off"].failure
    assert "Agreement broke too" in f.got and "crash ... disk" in f.got and f.expected == RULES[THE_BUG]
    assert "bugs" not in parse(f.script).header and f.run.violations[0]["invariant"] == "Promise kept"


def test_a_script_that_breaks_only_promise_kept_is_not_enough(solved):
    no_clog = solution_script(solved).replace("clog n1 n3\n", "")
    result, failed = graded("7.2", lambda: no_clog)
    assert result.points == 1, feedback(result)
    f = failed["Agreement breaks with forget-promise on"].failure
    assert "Promise kept broke at t=30" in f.got and "but not Agreement" in f.got and "n2 accepted" in f.got
    assert f.seed == 1 and "bugs forget-promise" in f.script and f.run is not None
    assert "first make Agreement break" in failed["the bug, not the schedule: Agreement holds with the bug off"].reason


@pytest.mark.parametrize("script, says", [
    ("algorithm raft\nnodes 3\n\nrun 100\n", "a script for 'raft', not 'paxos'"),
    ("algorithm paxos\nnodes 3\nbugs forget-promise minority-quorum\n\nrun 10\n", "only forget-promise may be on"),
    ("algorithm paxos\nnodes 3\n\npropose n9 apple\n", "line 4"),
    ("nodes 3\nrun 10\n", "does not parse"),
])
def test_a_script_that_does_not_run_is_reported_with_why(script, says):
    result, failed = graded("7.2", lambda: script)
    assert result.points == 0
    first = failed["the script parses and runs, for paxos with forget-promise"]
    assert says in first.failure.got and first.failure.expected == RULES[SCRIPT]
    assert all("does not run yet" in c.reason for t, c in failed.items() if t != first.case.title)


def test_script_functions_that_raise_loop_or_return_no_text_are_reported():
    result, failed = graded("7.2", lambda: 42)
    assert result.points == 0 and all("must return the script as text" in c.reason for c in failed.values())
    result, failed = graded("7.2", lambda: {}["script"])
    assert result.points == 0 and all("KeyError" in c.reason for c in failed.values())

    def looping():
        while True:
            pass
    result, failed = graded("7.2", looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())


# ------------------------------------------------------------------------------ 7.3
def make_checker(real_time=True, unfinished_writes=True, ties_overlap=True):
    """A brute-force checker with one of the typical mistakes switched on."""
    def is_linearizable(history):
        ops = [op for op in history if op.ret is not None or (unfinished_writes and op.kind != "read")]

        def step(value, op):
            if op.kind == "write":
                return True, op.value
            if op.kind == "read":
                return op.output == value, value
            old, new = op.value
            swapped = value == old
            return (op.ret is None or op.output == swapped), (new if swapped else value)

        def before(a, b):
            if not real_time or a.ret is None:
                return False
            return a.ret < b.call if ties_overlap else a.ret <= b.call

        def search(left, value):
            if all(ops[i].ret is None for i in left):
                return True
            return any(search(left - {i}, new) for i in left
                       if not any(before(ops[j], ops[i]) for j in left if j != i)
                       for legal, new in [step(value, ops[i])] if legal)
        return search(frozenset(range(len(ops))), None)
    return is_linearizable


def test_the_histories_cover_both_verdicts_unfinished_operations_and_ties():
    hand = [lincheck(h, model="register").ok for _, h in _HAND]
    pending = [lincheck(h, model="register").ok for _, h in _PENDING]
    rand = [lincheck(random_history(s), model="register").ok for s in _RANDOM_SEEDS]
    assert 0 < sum(hand) < len(hand) and 0 < sum(pending) < len(pending) and 10 < sum(rand) < len(rand) - 10
    histories = [random_history(s) for s in _RANDOM_SEEDS]
    assert sum(any(op.ret is None for op in h) for h in histories) >= 10
    assert sum(any(a.ret == b.call for a in h for b in h if a is not b) for h in histories) >= 10
    assert max(len(h) for h in histories) <= 6 and random_history(5) == random_history(5)
    assert make_checker()(random_history(19)) is False     # the mistake-free brute force agrees


@pytest.mark.parametrize("mistake, case, rule", [
    (dict(real_time=False), "hand-made histories: real time and the register", REAL_TIME),
    (dict(unfinished_writes=False), "operations that never returned", PENDING),
    (dict(ties_overlap=False), "hand-made histories: real time and the register", TIES),
])
def test_wrong_checkers_fail_with_the_history_they_misjudged(mistake, case, rule):
    student = make_checker(**mistake)
    result, failed = graded("7.3", student)
    assert case in failed and rule in failed[case].reason, feedback(result)
    f = failed[case].failure
    history = f.run.history                                  # show_run draws this one
    assert student(history) != lincheck(history, model="register").ok
    assert format_history(history, " " * 16).strip() in f.got
    assert "random small histories, against the course's checker" in failed     # random histories catch it too
    assert failed["random small histories, against the course's checker"].failure.seed in _RANDOM_SEEDS


def test_the_misjudged_history_is_drawn_by_show_run(capsys):
    check("7.3", {"is_linearizable": make_checker(real_time=False)})
    assert 'show_run("7.3")' in capsys.readouterr().out
    figure = show_run("7.3")                 # the stale read of the hand-made histories, with the verdict
    assert figure.axes[0].get_title(loc="left").startswith("Not linearizable: the 2 operations")
    import matplotlib.pyplot as plt
    plt.close(figure)


def test_checkers_that_answer_other_things_raise_loop_or_call_the_course_are_reported():
    result, failed = graded("7.3", lambda history: "yes")
    assert result.points == 0 and all("must answer True or False" in c.reason for c in failed.values())
    result, failed = graded("7.3", lambda history: history[9].output == 1)
    assert result.points == 0 and "IndexError" in failed["hand-made histories: real time and the register"].reason

    def looping(history):
        while True:
            pass
    result, failed = graded("7.3", looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())

    def borrowed(history):
        return lincheck(history, model="register").ok
    result, failed = graded("7.3", borrowed)
    assert result.points == 0 and all("calls the course's checker" in c.reason for c in failed.values())


# ------------------------------------------------------------------------------ the grader
def test_the_grader_grades_chapter_7(tmp_path):
    rows = support.grade_ana_and_ben(tmp_path, NOTEBOOK, "7.2",
                                     lambda source: source.replace("crash n2\n", "crash n2 disk\n"))
    assert [rows[("ana", e)].points for e in POINTS] == [4, 4, 4]
    assert [rows[("ben", e)].points for e in POINTS] == [4, 3, 4]
    assert THE_BUG in rows[("ben", "7.2")].reason
