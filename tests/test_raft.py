"""Raft, tested the way the MIT 6.5840 Raft lab tests it, rewritten for the simulator.

Each test names the lab test it follows (2A elections, 2B agreement, 2C persistence) and the paper
section it checks (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014).
Every run is checked by Raft's five invariants after every step; ``assert_safe`` makes that explicit.
"""

import pathlib
import random

import pytest

from fttoolkit import Raft
from fttoolkit.algorithms.raft import AppendEntries, Entry, RaftNode, RequestVote
from fttoolkit.check.fuzz import fuzz, run_seed
from fttoolkit.scenario import preset_failures, replay

PRESETS = pathlib.Path(__file__).resolve().parent.parent / "fttoolkit" / "presets" / "raft"
ELECTION = 300          # the longest election timeout (2 x election_ticks)


def assert_safe(cluster):
    assert not cluster.violations, [v.describe() for v in cluster.violations]


def one_leader(cluster, within=5 * ELECTION):
    """Run until exactly one running node leads the highest term; return it (6.5840: checkOneLeader)."""
    assert cluster.run_until(lambda sim: cluster.leader() is not None, limit_ticks=cluster.now + within), \
        f"no leader within {within} ticks: terms {cluster.terms()}"
    leader = cluster.leader()
    top = max(t for t in cluster.terms().values() if t is not None)
    assert cluster.nodes[leader].current_term == top
    return leader


def messages(cluster, kind=None, since=0):
    return sum(1 for e in cluster.trace[since:] if e.kind == "sent" and (kind is None or type(e["msg"]) is kind))


# ------------------------------------------------------------------------------- 2A: elections
def test_initial_election():
    cluster = Raft(nodes=3, seed=1)
    leader = one_leader(cluster)
    term = cluster.nodes[leader].current_term
    cluster.run(until=cluster.now + 4 * ELECTION)          # no failure: no new election (§5.2)
    assert cluster.leader() == leader and cluster.nodes[leader].current_term == term
    assert_safe(cluster)


def test_reelection():
    cluster = Raft(nodes=3, seed=2)
    first = one_leader(cluster)
    cluster.crash(first)
    second = one_leader(cluster)
    assert second != first
    cluster.restart(first)                                 # the old leader rejoins as a follower
    cluster.run(until=cluster.now + ELECTION)
    assert one_leader(cluster) == second
    others = [i for i in cluster.ids if i != second]
    cluster.crash(second)
    cluster.crash(others[0])                               # no majority: nobody can be elected
    cluster.run(until=cluster.now + 4 * ELECTION)
    assert cluster.leader() is None
    cluster.restart(others[0])
    one_leader(cluster)
    assert_safe(cluster)


def test_many_elections_seven_nodes():
    cluster = Raft(nodes=7, seed=3)
    rng = random.Random(3)
    one_leader(cluster)
    for _ in range(10):
        down = rng.sample(cluster.ids, 3)
        for node_id in down:
            cluster.crash(node_id)
        one_leader(cluster)                                # 4 of 7 up: still a majority
        for node_id in down:
            cluster.restart(node_id)
    one_leader(cluster)
    assert_safe(cluster)


def test_prevote_keeps_a_rejoining_node_from_deposing_the_leader():
    def rejoin(prevote):
        cluster = Raft(nodes=5, seed=4, prevote=prevote)
        leader = one_leader(cluster)
        loner = next(i for i in cluster.ids if i != leader)
        cluster.partition([loner])
        cluster.run(until=cluster.now + 6 * ELECTION)      # cut off, it keeps timing out
        term_then = cluster.nodes[leader].current_term
        cluster.heal()
        cluster.run(until=cluster.now + ELECTION)
        return cluster.nodes[loner].current_term, term_then, cluster.leader() == leader

    without = rejoin(False)
    assert without[0] > without[1] and not without[2]      # its higher term deposes the leader
    loner_term, leader_term, kept = rejoin(True)
    assert loner_term == leader_term and kept              # PreVote: it never even raised its term


# ---------------------------------------------------------------------------- 2B: agreement
def test_basic_agreement():
    cluster = Raft(nodes=3, seed=5)
    one_leader(cluster)
    first = None
    for k in range(3):
        index = cluster.agree(("put", "x", k))
        assert index is not None
        first = first or index
        assert index == first + k
    assert all(cluster.nodes[i].kv == {"x": 2} for i in cluster.ids)
    assert_safe(cluster)


def test_follower_failure():
    cluster = Raft(nodes=3, seed=6)
    leader = one_leader(cluster)
    assert cluster.agree(101) is not None
    follower = next(i for i in cluster.ids if i != leader)
    cluster.crash(follower)
    assert cluster.agree(102, expected=2) is not None      # 2 of 3 still commit
    for node_id in cluster.ids:
        if cluster.sim.up[node_id] and node_id != cluster.leader():
            cluster.crash(node_id)                          # now the leader is alone
    reply = cluster.submit(103)
    assert reply is not None and reply.accepted
    cluster.run(until=cluster.now + 2 * ELECTION)
    assert cluster.committed(reply.index)[0] == 0          # no majority, no commit
    assert_safe(cluster)


def test_leader_failure():
    cluster = Raft(nodes=3, seed=7)
    first = one_leader(cluster)
    assert cluster.agree(101) is not None
    cluster.crash(first)
    assert cluster.agree(102, expected=2) is not None
    assert_safe(cluster)


def test_fail_agree_then_catch_up():
    cluster = Raft(nodes=3, seed=8)
    leader = one_leader(cluster)
    assert cluster.agree(101) is not None
    away = next(i for i in cluster.ids if i != leader)
    cluster.partition([away])
    for command in (102, 103, 104):
        assert cluster.agree(command, expected=2) is not None
    cluster.heal()
    index = cluster.agree(105)                             # the follower catches up: all 3 commit
    assert index is not None and cluster.nodes[away].commit_index >= index
    assert_safe(cluster)


def test_fail_no_agree():
    cluster = Raft(nodes=5, seed=9)
    leader = one_leader(cluster)
    assert cluster.agree(10) is not None
    followers = [i for i in cluster.ids if i != leader][:3]
    for node_id in followers:
        cluster.crash(node_id)
    reply = cluster.submit(20, to=leader)
    assert reply.accepted
    cluster.run(until=cluster.now + 2 * ELECTION)
    assert cluster.committed(reply.index)[0] == 0
    for node_id in followers:
        cluster.restart(node_id)
    assert cluster.agree(1000) is not None                 # a leader (maybe a new one) commits again
    assert_safe(cluster)


def test_concurrent_submissions():
    cluster = Raft(nodes=3, seed=10)
    leader = one_leader(cluster)
    replies = [cluster.submit(("put", f"k{k}", k), to=leader) for k in range(5)]
    assert [r.accepted for r in replies] == [True] * 5
    indexes = [r.index for r in replies]
    assert indexes == list(range(indexes[0], indexes[0] + 5))
    cluster.run(until=cluster.now + ELECTION)
    assert all(cluster.committed(i)[0] == 3 for i in indexes)
    assert_safe(cluster)


def test_rejoin_of_partitioned_leader():
    cluster = Raft(nodes=3, seed=11)
    old = one_leader(cluster)
    assert cluster.agree(101) is not None
    cluster.partition([old])
    for command in (102, 103, 104):                        # the old leader takes commands it cannot commit
        assert cluster.submit(command, to=old, hops=0).accepted
    assert cluster.agree(103, expected=2) is not None       # the others elect a new leader and go on
    new = cluster.leader()
    cluster.partition([new])                               # new leader away, old one back
    assert cluster.agree(104, expected=2) is not None
    cluster.heal()
    assert cluster.agree(105) is not None
    logs = {cluster.nodes[i].log for i in cluster.ids}
    assert len(logs) == 1                                   # the old leader's uncommitted entries are gone
    assert 102 not in [e.command for e in next(iter(logs))]
    assert_safe(cluster)


def test_fast_backup_over_many_conflicting_entries():
    cluster = Raft(nodes=5, seed=12)
    leader = one_leader(cluster)
    assert cluster.agree(("put", "a", 0)) is not None
    others = [i for i in cluster.ids if i != leader]
    cluster.partition([leader, others[0]], others[1:])     # leader + one follower: a minority
    for k in range(50):
        cluster.submit(("lost", k), to=leader, hops=0)
    cluster.run(until=cluster.now + 100)
    for k in range(50):                                     # the majority side commits 50 others
        assert cluster.agree(("kept", k), expected=3, within_ticks=3000) is not None
    cluster.heal()
    start = len(cluster.trace)
    assert cluster.agree(("put", "b", 1)) is not None
    failed = sum(1 for e in cluster.trace[start:] if e.kind == "delivered" and type(e["msg"]).__name__
                 == "AppendEntriesReply" and not e["msg"].success)
    assert failed <= 6          # one rejection per conflicting term, not one per entry (§5.3)
    assert len({cluster.nodes[i].log for i in cluster.ids}) == 1
    assert_safe(cluster)


def test_message_counts_are_bounded():
    cluster = Raft(nodes=3, seed=13)
    one_leader(cluster)
    assert messages(cluster, RequestVote) <= 6 and messages(cluster) <= 30   # 6.5840: initial election
    start = len(cluster.trace)
    for k in range(10):
        assert cluster.agree(k) is not None
    appends = messages(cluster, AppendEntries, start)
    heartbeats = 2 * (cluster.now - cluster.trace[start].tick) // 50 + 2
    assert appends <= 3 * 10 * 2 + heartbeats           # about one round per command, plus heartbeats
    assert_safe(cluster)


# -------------------------------------------------------------------------- 2C: persistence
def test_persistence_across_restarts():
    cluster = Raft(nodes=3, seed=14)
    one_leader(cluster)
    assert cluster.agree(11) is not None
    for node_id in cluster.ids:                            # everybody crashes and restarts
        cluster.crash(node_id)
    for node_id in cluster.ids:
        cluster.restart(node_id)
    assert all(11 in [e.command for e in cluster.nodes[i].log] for i in cluster.ids)
    assert cluster.agree(12) is not None
    leader = cluster.leader()
    cluster.crash(leader)
    cluster.restart(leader)
    assert cluster.agree(13) is not None
    assert_safe(cluster)


def leader_crashes(cluster, rng, rounds, up_at_least):
    """6.5840's Figure 8 tests: submit, wait a random while, crash the leader, restart someone.

    Returns how many times a leader was crashed.
    """
    crashed = 0
    for k in range(rounds):
        leader = cluster.leader()
        if leader is not None:
            cluster.submit(("cmd", k), to=leader, hops=0)
        cluster.run(until=cluster.now + (rng.randint(0, 500) if rng.random() < 0.1 else rng.randint(0, 13)))
        leader = cluster.leader()
        if leader is not None:
            cluster.crash(leader)
            crashed += 1
        down = [i for i in cluster.ids if not cluster.sim.up[i]]
        if len(cluster.ids) - len(down) < up_at_least:
            cluster.restart(rng.choice(down))
    for node_id in cluster.ids:
        if not cluster.sim.up[node_id]:
            cluster.restart(node_id)
    return crashed


def test_figure8_many_leader_crashes():
    cluster = Raft(nodes=5, seed=15)
    rng = random.Random(15)
    one_leader(cluster)
    assert leader_crashes(cluster, rng, rounds=400, up_at_least=3) >= 20
    cluster.heal()
    assert cluster.agree(("final",), within_ticks=5000) is not None
    assert_safe(cluster)


def test_unreliable_agreement():
    cluster = Raft(nodes=5, seed=16, loss=0.1, delay=(5, 50), reorder=0.5, duplicate=0.05)
    for k in range(20):                                   # fire-and-forget submissions, interleaved ...
        cluster.submit(("put", f"k{k % 4}", k))
        cluster.run(until=cluster.now + 20)
    for k in range(10):                                   # ... then each of these must commit everywhere
        assert cluster.agree(("append", "u", k), within_ticks=5000) is not None
    assert len({repr(sorted(cluster.nodes[i].kv.items())) for i in cluster.ids}) == 1
    assert_safe(cluster)


def test_figure8_unreliable():
    cluster = Raft(nodes=5, seed=17, loss=0.1, delay=(5, 40), reorder=0.5)
    rng = random.Random(17)
    assert leader_crashes(cluster, rng, rounds=300, up_at_least=3) >= 10
    assert cluster.agree(("final",), within_ticks=8000) is not None
    assert_safe(cluster)


def test_churn_with_clients():
    cluster = Raft(nodes=5, seed=18, loss=0.05)
    rng = random.Random(18)
    for k in range(60):
        cluster.submit(("append", "log", k), to=rng.choice(cluster.ids))
        node = rng.choice(cluster.ids)
        up = [i for i in cluster.ids if cluster.sim.up[i]]
        if cluster.sim.up[node] and len(up) > 3 and rng.random() < 0.2:
            cluster.crash(node)
        elif not cluster.sim.up[node] and rng.random() < 0.5:
            cluster.restart(node)
        cluster.run(until=cluster.now + rng.randint(10, 120))
    for node_id in cluster.ids:
        if not cluster.sim.up[node_id]:
            cluster.restart(node_id)
    assert cluster.agree(("final",), within_ticks=5000) is not None
    kvs = {repr(sorted(cluster.nodes[i].kv.items())) for i in cluster.ids}
    assert len(kvs) == 1                                   # every replica's state machine agrees
    assert_safe(cluster)


# -------------------------------------------------------------------- Figure 8 as scripts (§5.4.2)
def figure8(name, bug):
    text = (PRESETS / f"figure8_{name}.txt").read_text()
    if bug:
        text = text.replace("network delay=10\n", "network delay=10\nbugs figure8\n")
    return replay(text).door


def applied_at(cluster, index):
    return {(e.node, e["fields"]["term"]) for e in cluster.trace
            if e.kind == "note" and e["text"] == "apply" and e["fields"]["index"] == index}


def test_figure8_d_nobody_applies_the_entry_that_is_overwritten():
    cluster = figure8("d", bug=False)
    n1 = cluster.nodes["n1"]
    assert [e.term for e in n1.log] == [1, 2, 4] and n1.commit_index <= 1    # (c): on a majority, not committed
    assert {t for _, t in applied_at(cluster, 2)} == {3}                     # (d): (2, t3) everywhere
    assert_safe(cluster)


def test_figure8_d_with_the_bug_breaks_state_machine_safety():
    cluster = figure8("d", bug=True)
    names = {v["invariant"].split(":")[0] for v in cluster.violations}
    assert {"Leader Completeness", "State Machine Safety"} <= names
    assert ("n1", 2) in applied_at(cluster, 2) and ("n5", 3) in applied_at(cluster, 2)


@pytest.mark.parametrize("bug", [False, True])
def test_figure8_e_commits_the_old_entry_with_the_new_one(bug):
    cluster = figure8("e", bug)
    assert {t for _, t in applied_at(cluster, 2)} == {2} and len(applied_at(cluster, 2)) == 5
    assert cluster.leader() != "n5" and cluster.nodes["n5"].log[1].term == 2   # n5 never led again
    assert_safe(cluster)


# --------------------------------------------------------------------------------- bug zoo
@pytest.mark.parametrize("bug, caught_by", [
    ("forget-vote", "Election Safety"),
    ("no-log-check", "Leader Completeness"),
    ("fixed-timeout", "Progress"),
    ("ack-before-persist", "Progress"),
])
def test_random_schedules_catch_these_bugs(bug, caught_by):
    report = fuzz(Raft, seeds=400, bugs=[bug], shrink_first=False, stop_at_first=True)
    assert report.failures, f"{bug}: no violation in 400 seeds"
    assert any(v.invariant == caught_by for f in report.failures for v in f.violations)


def test_the_figure8_bug_is_caught_from_the_preset_corpus():
    # Random schedules almost never line up Figure 8's three elections; the fuzzer replays the presets first.
    assert preset_failures(Raft) == []
    found = preset_failures(Raft, ["figure8"])
    assert [name for name, _, _ in found] == ["figure8_d"]
    assert found[0][2]["invariant"].startswith(("Leader Completeness", "State Machine Safety"))
    assert set(Raft.bug_list()) == {"figure8", "forget-vote", "no-log-check", "fixed-timeout", "ack-before-persist"}


def test_the_correct_protocol_survives_the_fuzzer():
    assert fuzz(Raft, seeds=150).failures == []


# ------------------------------------------------------ each checker against a broken variant
class NoConsistencyCheck(RaftNode):
    """Appends whatever arrives, without comparing prev_index/prev_term (breaks Log Matching)."""

    def on_append_entries(self, msg, sender):
        if msg.term >= self.current_term and msg.entries:
            self.observe_term(msg.term)
            self.leader = sender
            self.save_entries(self.last_index + 1, msg.entries)     # appends at its own end, wherever that is
            self.send(sender, AppendEntriesReply(self.current_term, True, msg.prev_index + len(msg.entries),
                                                 None, 0))
        else:
            super().on_append_entries(msg, sender)


class ForgetfulLeader(RaftNode):
    """A new leader drops its last entry (breaks Leader Append-Only)."""

    def on_client_request(self, msg, sender):
        super().on_client_request(msg, sender)
        if self.role == "leader" and len(self.log) >= 2:
            self.save_entries(len(self.log), [Entry(self.current_term, ("rewritten",))])


from fttoolkit.algorithms.raft import AppendEntriesReply  # noqa: E402  (used by the variant above)


@pytest.mark.parametrize("variant, invariant", [(NoConsistencyCheck, "Log Matching"),
                                                 (ForgetfulLeader, "Leader Append-Only")])
def test_each_invariant_catches_a_broken_variant(variant, invariant):
    door_class = type("Broken", (Raft,), {"node_class": variant})
    for seed in range(40):
        result = run_seed(door_class, seed, profile="lossy")
        if any(v.invariant == invariant for v in result.violations):
            return
    pytest.fail(f"{invariant} never caught {variant.__name__}")


def test_agree_gives_up_on_a_halted_run_instead_of_waiting_forever():
    from fttoolkit.scenario import replay, with_bugs
    door = replay(with_bugs(Raft.presets()["figure8_d"], ["figure8"]), halt=True).door
    assert door.sim.halted is not None
    assert door.agree(("put", "y", 1), within_ticks=500) is None
