"""The explorer on the course's own Raft, Paxos and 2PC code: correct code passes, every bug is found.

Each bug's shortest counterexample is found by breadth-first search; its length (states, the
initial one included) is checked against a count argued by hand in a comment, and the
counterexample, written as a scenario script, is replayed on the simulator to the same broken
invariant.  Random walks through the explored graph are replayed on the simulator too, and every
node's state, timers and disk, and the messages in flight, must agree: the explorer runs the same
node code with the same semantics as the simulator driven by hand.
"""

import collections
import os
import random
import subprocess
import sys

import pytest

from fttoolkit import DistributedTransaction, Paxos, Raft
from fttoolkit.check.explore import explore, run_cli, system_for
from fttoolkit.cli import main
from fttoolkit.core.errors import BadParameter
from fttoolkit.doors.exploring import BUG_TABLE, CORRECT_TABLE, PREFIXES, SPECS, paxos_spec, raft_spec, twopc_spec
from fttoolkit.scenario import replay

DOORS = {"raft": Raft, "paxos": Paxos, "2pc": DistributedTransaction}


def _first(spec):
    result = explore(spec)
    assert result.violations, "no violation found"
    return result, result.violations[0]


def _replays_to(spec, violation):
    """The counterexample as a script: replayed, it breaks the same invariant (and only as expected)."""
    text = spec.scenario_script(violation)
    result = replay(text)
    assert violation.invariant in {e["invariant"] for e in result.violations}
    assert result.ok          # its expect header names the invariant it breaks
    return text


# ------------------------------------------------------------------------------ correct code passes
@pytest.mark.parametrize("system, options", [
    ("raft", {"max_term": 1, "max_log": 1, "requests": 0, "in_flight": 2}),
    ("raft", {"max_term": 2, "max_log": 1, "requests": 0, "in_flight": 2}),
    ("paxos", {"max_ballot": 1, "requests": 2, "crashes": 0, "in_flight": 3}),
    ("2pc", {"requests": 1, "crashes": 0, "in_flight": 4}),
    ("2pc", {"requests": 1, "crashes": 1, "in_flight": 3}),
])
def test_the_correct_code_passes_every_state_of_a_small_configuration(system, options):
    result = explore(SPECS[system](**options))
    assert result.ok and result.complete and result.stopped_by == ""
    assert result.distinct > 1000 and result.generated > result.distinct and result.depth > 15


@pytest.mark.slow
@pytest.mark.parametrize("system, options, distinct, generated, depth, seconds", CORRECT_TABLE)
def test_the_correct_code_passes_the_documented_bounds(system, options, distinct, generated, depth, seconds):
    result = explore(SPECS[system](**options))
    assert result.ok and result.complete
    assert (result.distinct, result.generated, result.depth) == (distinct, generated, depth)


def test_each_bound_cuts_the_state_space():
    # Raising a bound explores more (and the correct code still passes): the bounds are real.
    small = explore(twopc_spec(crashes=0, requests=1, in_flight=2))
    for more in ({"crashes": 1}, {"duplicates": 1}, {"drops": 1}, {"in_flight": 3}):
        options = {"crashes": 0, "requests": 1, "in_flight": 2, **more}
        bigger = explore(twopc_spec(**options))
        assert bigger.ok and bigger.complete and bigger.distinct > small.distinct, more
    base = explore(raft_spec(max_term=1, max_log=1, requests=0, in_flight=2))
    assert explore(raft_spec(max_term=1, max_log=1, requests=1, in_flight=2)).distinct == base.distinct
    assert explore(raft_spec(max_term=1, max_log=2, requests=1, in_flight=2)).distinct > base.distinct
    assert explore(raft_spec(max_term=2, max_log=1, requests=0, in_flight=1)).distinct > \
        explore(raft_spec(max_term=1, max_log=1, requests=0, in_flight=1)).distinct
    assert explore(paxos_spec(max_ballot=1, requests=1, crashes=0)).distinct < \
        explore(paxos_spec(max_ballot=2, requests=1, crashes=0)).distinct


# ------------------------------------------------------------------------------ every bug is found
# Hand counts of the shortest counterexamples (states = steps + 1).  A step is one input (a
# delivery, a timer, a request, a restart, a crash) with all its handler's intentions, or with a
# crash at one of its crash points.
#
# raft forget-vote, 8: a leader needs its own vote and one more delivered: fire, deliver
#   RequestVote, deliver the reply (3); the voter must forget, crash and restart (the crash rides on
#   a step as a crash point, the restart is 1); the second candidate needs fire, deliver, deliver
#   (3).  7 steps.
# raft no-log-check, 9: an election (3), a committed entry needs one AppendEntries and its reply
#   delivered (2), a second election in which the voter does not check logs (3).  8 steps.
# raft ack-before-persist, 10: an election (3), AppendEntries acknowledged, the follower crashing
#   before writing (1), the ack delivered (1), the restart (1) (the second leader needs the
#   forgetful follower's vote: the leader itself would refuse), the second election (3).  9 steps.
# raft figure8, 10 after the prefix: n3's vote and its delivery (2); the first AppendEntries of
#   term 3 ends after n1's log and is refused by n3 (2), the backed-off one with (1, t1) and its ack
#   commit it by counting replicas (2); n2 times out and wins term 4 with one vote (3).  9 steps.
# paxos ignore-promises, 16: each value chosen needs a request, two Prepares, two Promises and two
#   Accepts delivered (7 + 7); with at most 4 messages in flight one more delivery (an Accepted) is
#   needed to make room (with --in-flight 5 it is 15: see the slow test).  15 steps.
# paxos accept-below-promise, 9: a request and a majority of Prepares and Promises delivered (5),
#   a second request and its Prepare delivered to an acceptor (2), the old Accept delivered (1).
# paxos forget-promise, 10: the same 8 steps with a crash point before the Accept reaches its
#   acceptor, and the restart (1).  9 steps.
# paxos minority-quorum, 11: quorums of one: each of two proposals needs a request and its Prepare,
#   Promise, Accept and Accepted delivered (5 + 5).  10 steps.
# 2pc vote-before-force, 8: Begin, two Prepares (one with a crash after the vote, before the
#   write), two Votes, the restart, the Commit delivered.  7 steps.
# 2pc abort-after-yes, 8: Begin, two Prepares, two Votes, one Commit delivered, the other
#   participant's timeout.  7 steps.
# 2pc decide-before-log, 11: Begin, two Prepares, two Votes (the last with the coordinator
#   crashing after one Commit left, before its log write), that Commit delivered, the other
#   participant's timeout, the coordinator's restart, its DecisionRequest and the presumed Abort
#   delivered.  10 steps.
# 2pc commit-on-timeout, 3: Begin and the coordinator's vote timeout.  2 steps.
HAND_COUNTS = {"forget-vote": 8, "no-log-check": 9, "ack-before-persist": 10, "figure8": 10,
               "ignore-promises": 16, "accept-below-promise": 9, "forget-promise": 10, "minority-quorum": 11,
               "vote-before-force": 8, "abort-after-yes": 8, "decide-before-log": 11, "commit-on-timeout": 3}


def test_the_bug_table_covers_every_named_bug_but_the_timing_one():
    listed = {(system, bug) for system, bug, *_ in BUG_TABLE}
    zoo = {(system, bug) for system, door in DOORS.items() for bug in door.node_class.bugs}
    assert zoo - listed == {("raft", "fixed-timeout")}
    assert listed <= zoo
    assert set(HAND_COUNTS) == {bug for _, bug, *_ in BUG_TABLE}


def _rows(big):
    """The bug table's rows, the quick ones (under 100,000 states) or the others (slow)."""
    rows = [pytest.param(*row, id=row[1]) for row in BUG_TABLE if (row[5] >= 100_000) == big]
    return [pytest.param(*p.values, id=p.id, marks=pytest.mark.slow) for p in rows] if big else rows


@pytest.mark.parametrize("system, bug, options, invariant, length, distinct, seconds", _rows(False) + _rows(True))
def test_each_bug_is_found_with_its_shortest_counterexample_which_replays(system, bug, options, invariant, length,
                                                                         distinct, seconds):
    spec = SPECS[system](bug=(bug,), **options)
    result, violation = _first(spec)
    assert violation.invariant == invariant
    assert len(violation) == length == HAND_COUNTS[bug]
    assert result.distinct == distinct
    _replays_to(spec, violation)


@pytest.mark.slow
@pytest.mark.parametrize("system, bug, options, invariant, length, distinct, seconds", BUG_TABLE,
                         ids=[row[1] for row in BUG_TABLE])
def test_without_the_bug_the_same_bounds_break_nothing_as_deep(system, bug, options, invariant, length, distinct,
                                                               seconds):
    # every state up to the counterexample's depth: the bug, not the bounds, breaks the invariant
    result = explore(SPECS[system](**options), max_depth=length)
    assert result.ok and result.depth == length


@pytest.mark.slow
def test_with_one_more_message_in_flight_ignore_promises_needs_one_step_less():
    spec = paxos_spec(bug=("ignore-promises",), max_ballot=1, requests=2, crashes=0, in_flight=5)
    _, violation = _first(spec)
    assert (violation.invariant, len(violation)) == ("Agreement", 15)   # 7 + 7 steps, nothing to make room for


def test_fixed_timeout_is_invisible_without_time():
    # The bug only changes how long timers run; the explorer has no time, so the state graph is the
    # correct code's, state for state: a liveness bug, for the fuzzer's calm phase, not for this.
    options = {"max_term": 2, "max_log": 1, "requests": 0, "in_flight": 1}
    correct = explore(raft_spec(**options))
    buggy = explore(raft_spec(bug=("fixed-timeout",), **options))
    assert buggy.ok and buggy.complete
    assert (buggy.distinct, buggy.generated, buggy.depth) == (correct.distinct, correct.generated, correct.depth)


def test_the_figure8_prefix_sets_up_figure_8_and_the_correct_code_survives_the_rest():
    door = Raft().load(PREFIXES["raft"]["figure8"])
    nodes = door.nodes
    assert [(nodes[i].role, nodes[i].current_term, [e.term for e in nodes[i].log]) for i in door.ids] == [
        ("candidate", 3, [1]), ("follower", 3, [2]), ("follower", 2, [])]
    assert [(m.src, m.dst, type(m.msg).__name__) for m, _ in door.sim.in_flight()] == [("n1", "n3", "RequestVote")]
    assert not door.violations
    # the correct code from the same point, within the same bounds as the bug, for 20,000 states
    options = dict(prefix="figure8", noop=0, max_batch=1, max_term=4, max_log=1, requests=0, in_flight=4)
    assert explore(raft_spec(**options), max_states=20_000).ok


# ------------------------------------------------------------------------- the same semantics as the simulator
def _walk(spec, steps, seed):
    rng = random.Random(seed)
    state = spec.initial_states()[0]
    actions = []
    for _ in range(steps):
        successors = spec.next_states(state)
        if not successors:
            break
        action, state = successors[rng.randrange(len(successors))]
        actions.append(action)
    return actions, state


@pytest.mark.parametrize("system, options", [
    ("raft", dict(crashes=2, in_flight=50, max_term=3, max_log=3, requests=2, duplicates=1, drops=1)),
    ("paxos", dict(crashes=1, in_flight=50, max_ballot=3, requests=2, duplicates=1, drops=1)),
    ("2pc", dict(crashes=2, in_flight=50, requests=2, duplicates=1, drops=1)),
])
def test_random_walks_replay_on_the_simulator_state_for_state(system, options):
    spec = SPECS[system](**options)
    kinds = collections.Counter()
    for seed in range(6):
        actions, state = _walk(spec, 40, seed)
        kinds.update(a.kind + ("+crash" if a.crash is not None else "") for a in actions)
        sim = spec.replay_door(actions, narrate=False).sim
        for node_id in spec.ids:
            mine = spec.node_state(state, node_id)
            assert sim.up[node_id] == (mine is not None)
            assert tuple(sim.disks[node_id]) == spec.disk(state, node_id)
            if mine is None:
                continue
            theirs = sim.nodes[node_id].state()
            theirs.pop("heard_at", None)              # a clock reading: not part of the explorer's states
            assert {k: v for k, v in mine.items() if k in theirs} == theirs
            assert {t.timer for t in sim.timers(node_id)} == set(spec.timers(state, node_id))
        in_sim = collections.Counter((m.src, m.dst, m.msg) for m, _ in sim.in_flight())
        assert in_sim == collections.Counter(spec.messages(state))
    assert kinds["deliver"] > 20 and kinds["request"] >= 2


def test_the_exploration_is_the_same_whatever_python_hash_seed():
    code = ("from fttoolkit.check.explore import explore\n"
            "from fttoolkit.doors.exploring import paxos_spec\n"
            "r = explore(paxos_spec(bug=('minority-quorum',), max_ballot=1, requests=2, crashes=0, in_flight=4))\n"
            "print(r.distinct, r.generated, [str(a) for a, _ in r.violations[0].steps])\n")
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1


def test_states_are_canonical_and_the_view_is_what_core_invariants_read():
    spec = raft_spec(max_term=1, max_log=1, requests=0, in_flight=2)
    state = spec.initial_states()[0]
    successors = spec.next_states(state)
    assert len({s for _, s in successors}) == len(successors)          # distinct branches, distinct states
    again = spec.next_states(state)
    assert [a for a, _ in again] == [a for a, _ in successors] and [s for _, s in again] == [s for _, s in successors]
    view = spec.invariant_view(successors[0][1])
    assert sorted(view) == ["n1", "n2", "n3"] and view["n1"].id == "n1"
    assert spec.invariants["Log Matching"].evaluate(view) == []


# ------------------------------------------------------------------------------ the command line
def test_save_writes_a_script_that_replay_and_the_cluster_view_open(tmp_path, capsys):
    path = tmp_path / "cex.txt"
    status = main(["explore", "2pc", "--bug", "abort-after-yes", "--crashes", "0", "--save", str(path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "distinct states: " in out and "violation: invariant Atomicity is violated (8 states)" in out
    assert f"saved to {path}" in out
    text = path.read_text(encoding="utf-8")
    assert "expect Atomicity" in text and "bugs abort-after-yes" in text and "# Step 8: fire n3" in text
    assert main(["replay", str(path)]) == 1
    assert "Atomicity at n2, n3: T1 committed at n2 but aborted at n3" in capsys.readouterr().out
    door = DistributedTransaction().load(text)
    assert [e["invariant"] for e in door.violations] == ["Atomicity"]
    assert door.outcome("T1") == {"n1": "committed", "n2": "committed", "n3": "aborted"}


def test_save_with_a_prefix_replays_the_prefix_too(tmp_path, capsys):
    path = tmp_path / "figure8.txt"
    assert main(["explore", "raft", "--prefix", "figure8", "--noop", "0", "--max-batch", "1", "--max-term", "4",
                 "--max-log", "1", "--requests", "0", "--in-flight", "4", "--bug", "figure8",
                 "--save", str(path)]) == 1
    capsys.readouterr()
    text = path.read_text(encoding="utf-8")
    assert "n1 leads term 1" in text and "expect Leader Completeness" in text
    result = replay(text)
    assert result.ok and [e["invariant"] for e in result.violations] == ["Leader Completeness"]


def test_the_command_line_runs_a_correct_system_to_completion(capsys):
    assert run_cli("paxos", ["--requests", "1", "--crashes", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("distinct states: ") and int(lines[0].split(": ")[1]) > 100
    assert lines[1].startswith("states generated: ") and lines[2].startswith("depth: ")
    assert len(lines) == 3                  # complete, nothing broken


def test_the_systems_are_registered_with_their_documented_options():
    for name in ("raft", "paxos", "2pc"):
        system = system_for(name)
        assert system.saves
        options = {opt.name: opt for opt in system.options}
        assert {"nodes", "crashes", "requests", "in-flight", "duplicates", "drops", "prefix", "bug"} <= set(options)
        assert options["bug"].choices == tuple(sorted(DOORS[name].node_class.bugs))
    assert {"max-term", "max-log", "noop", "max-batch"} <= {o.name for o in system_for("raft").options}
    assert "max-ballot" in {o.name for o in system_for("paxos").options}


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("system, tokens, message", [
    ("raft", ["--bug", "nope"], "--bug must be one of ack-before-persist, figure8, fixed-timeout, forget-vote"),
    ("paxos", ["--max-ballot", "99"], "--max-ballot must be a whole number from 1 to 8; got 99"),
    ("2pc", ["--nodes", "1"], "--nodes must be a whole number from 2 to 7; got 1"),
    ("raft", ["--in-flight", "0"], "--in-flight must be a whole number from 1 to 50; got 0"),
    ("raft", ["--noop", "2"], "--noop must be a whole number from 0 to 1; got 2"),
    ("raft", ["--max-term", "x"], "--max-term takes a whole number; got 'x'"),
    ("raft", ["--prefix", "/no/such/file"], "cannot read the prefix script '/no/such/file'"),
    ("raft", ["--prefix", "figure8"], "sets the parameters {'max_batch': 1, 'noop': False}"),
])
def test_bad_options_say_what_is_allowed(system, tokens, message):
    with pytest.raises(BadParameter, match=None) as info:
        run_cli(system, tokens)
    assert message in str(info.value)


def test_bad_arguments_in_python_say_what_is_allowed(tmp_path):
    with pytest.raises(BadParameter, match="known bugs: accept-below-promise, forget-promise, ignore-promises"):
        paxos_spec(bug=("nope",))
    with pytest.raises(BadParameter, match="--crashes must be a whole number from 0 to 10; got -1"):
        twopc_spec(crashes=-1)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("algorithm paxos\nnodes 3\n\npropose n1 x\n", encoding="utf-8")
    with pytest.raises(BadParameter, match="is a script for 'paxos', not 'raft'"):
        raft_spec(prefix=str(wrong))
    busy = tmp_path / "busy.txt"
    busy.write_text("algorithm paxos\nnodes 3\n\nrequest n1 Propose(value='x')\n", encoding="utf-8")
    with pytest.raises(BadParameter, match="ends with intentions still queued"):
        paxos_spec(prefix=str(busy))
    cut = tmp_path / "cut.txt"
    cut.write_text("algorithm 2pc\nnodes 3\n\npartition n1 | n2 n3\n", encoding="utf-8")
    with pytest.raises(BadParameter, match="ends with a partition or a clogged link"):
        twopc_spec(prefix=str(cut))
    small = tmp_path / "small.txt"
    small.write_text("algorithm 2pc\nnodes 2\n", encoding="utf-8")
    with pytest.raises(BadParameter, match="must run on a complete graph of --nodes 3 nodes"):
        twopc_spec(prefix=str(small))
