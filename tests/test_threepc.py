"""Three-phase commit, checked against Skeen, "Nonblocking Commit Protocols" (SIGMOD 1981).

The three rounds (votes, pre-commit, commit), the termination protocol run by the participants when
the coordinator crashes (some site precommitted -> commit; none -> abort), recovery (a restarted site
asks and follows), the crash-only fuzzer finding nothing, and the known violation under a partition.
"""

import pytest

from fttoolkit import BadParameter, ThreePhaseCommit, UnknownNode
from fttoolkit.algorithms.threepc import (Abort, CanCommit, DoCommit, PreAck, PreCommit, StateReply, ThreePCNode,
                                          Vote, termination_rule)
from fttoolkit.check.fuzz import fuzz
from fttoolkit.scenario import ScriptError, preset_failures, replay

T1 = {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}


def sent(cluster, kind, start=0, end=None):
    """The messages of type ``kind`` sent in ticks [start, end), as (src, dst)."""
    return [(e.node, e["dst"]) for e in cluster.trace
            if e.kind == "sent" and type(e["msg"]).__name__ == kind and start <= e.tick < (end or 10 ** 9)]


def notes(cluster, text):
    return [(e.tick, e.node) for e in cluster.trace if e.kind == "note" and e["text"] == text]


def clean(**kw):
    cluster = ThreePhaseCommit(nodes=4, seed=1, delay=10, **kw)
    cluster.begin("t1", T1)
    return cluster


# ------------------------------------------------------------------------ the three rounds
def test_three_rounds_step_by_step_with_message_counts():
    cluster = clean()
    cluster.run(until=10)
    assert sent(cluster, "CanCommit") == [("n1", "n2"), ("n1", "n3"), ("n1", "n4")]
    cluster.run(until=20)
    assert len(sent(cluster, "Vote")) == 3
    assert cluster.txn_states("t1") == {"n1": "precommitting", "n2": "prepared", "n3": "prepared", "n4": "prepared"}
    assert len(sent(cluster, "PreCommit")) == 3 and not sent(cluster, "DoCommit")   # no commit after the votes
    cluster.run(until=30)
    assert len(sent(cluster, "PreAck")) == 3
    assert set(cluster.txn_states("t1").values()) == {"precommitting", "precommitted"}
    cluster.run(until=100)
    assert len(sent(cluster, "DoCommit")) == 3 and len(sent(cluster, "HaveCommitted")) == 3
    assert cluster.outcome("t1") == "committed"
    assert cluster.stores() == {"n1": {}, "n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}
    assert all(not cluster.node(i).locks for i in cluster.ids)
    replies = [e["msg"] for e in cluster.trace if e.kind == "reply"]
    assert repr(replies) == "[Done(t1, committed)]"
    assert not cluster.violations


def test_a_participant_forces_prepared_before_its_yes_vote():
    node = ThreePCNode("n2", peers=("n1", "n3"))
    node.start([])
    out = node.handle_message(CanCommit("t1", (("n2", (("x", 1),)), ("n3", (("y", 2),)))), "n1")
    assert type(out[0]).__name__ == "Persist" and out[0].records[0][0] == "prepared"
    assert out[1].msg == Vote("t1", True)
    out = node.handle_message(PreCommit("t1"), "n1")
    assert out[0].records == (("precommitted", "t1"),) and out[1].msg == PreAck("t1")
    assert node.txns == {"t1": "precommitted"}


def test_a_locked_key_means_a_no_vote_and_the_transaction_aborts():
    cluster = ThreePhaseCommit(nodes=4, seed=1, delay=10)
    cluster.begin("t1", {"n2": {"x": 1}, "n3": {"y": 2}})
    cluster.begin("t2", {"n2": {"x": 9}, "n4": {"z": 9}}, at=5)
    cluster.run(until=200)
    assert cluster.outcome("t1") == "committed" and cluster.outcome("t2") == "aborted"
    assert repr(sent_votes(cluster, "n2", "t2")) == "[Vote(t2, no)]"
    assert cluster.stores()["n2"] == {"x": 1} and cluster.stores()["n4"] == {}


def sent_votes(cluster, node, txn):
    return [e["msg"] for e in cluster.trace if e.kind == "sent" and e.node == node and isinstance(e["msg"], Vote)
            and e["msg"].txn == txn]


def test_message_reprs_read_like_a_transcript():
    assert repr(CanCommit("t1", (("n2", (("x", 1),)),))) == "CanCommit(t1, n2:x=1)"
    assert repr(Vote("t1", False)) == "Vote(t1, no)"
    assert repr(StateReply("t1", "prepared", True)) == "StateReply(t1, prepared, recovering)"
    assert repr(Abort("t1")) == "Abort(t1)" and repr(DoCommit("t1")) == "DoCommit(t1)"


# ------------------------------------------------------------------------ termination protocol
def test_termination_rule_table():
    assert termination_rule(["prepared", "precommitted"]) == "precommit"
    assert termination_rule(["prepared", "prepared"]) == "abort"
    assert termination_rule(["working"]) == "abort"
    assert termination_rule(["precommitted", "committed"]) == "commit"
    assert termination_rule(["precommitted", "aborted"]) == "abort"


def test_coordinator_crash_after_some_precommitted_the_backup_commits():
    cluster = clean()
    cluster.crash("n1", after=3)             # at t=20: cancel timer, log, PreCommit to n2 only
    cluster.run(until=300)
    assert sent(cluster, "PreCommit", 0, 30) == [("n1", "n2")]
    assert notes(cluster, "backup coordinator") == [(122, "n2")]
    assert cluster.outcome("t1") == "committed"
    assert all(cluster.txn_states("t1")[i] == "committed" for i in ("n2", "n3", "n4"))
    assert not cluster.sim.up["n1"]          # decided with the coordinator still down: no blocking
    assert not cluster.violations


def test_coordinator_crash_before_any_precommit_the_backup_aborts():
    cluster = clean()
    cluster.crash("n1", after=2)             # logs "precommitting", crashes before any PreCommit
    cluster.run(until=300)
    assert not sent(cluster, "PreCommit")
    backup = [e for e in cluster.trace if e.kind == "note" and e["text"] == "backup coordinator"]
    assert [(e.node, e["fields"]["rule"]) for e in backup] == [("n2", "abort")]
    assert cluster.outcome("t1") == "aborted"
    cluster.restart("n1")                     # it logged precommitting: it asks, and follows
    cluster.run(until=500)
    assert cluster.txn_states("t1")["n1"] == "aborted"
    assert not cluster.violations


def test_a_restarted_participant_asks_and_follows():
    cluster = clean()
    cluster.crash("n4", at=25)               # prepared, PreCommit on its way
    cluster.run(until=200)
    assert cluster.outcome("t1") == "committed"    # the coordinator's ack timeout: n4 has crashed
    cluster.restart("n4")
    cluster.run(until=400)
    assert ("n4" in {n for _, n in notes(cluster, "recovering")})
    assert cluster.txn_states("t1")["n4"] == "committed" and cluster.stores()["n4"] == {"z": 3}
    assert not cluster.violations


# ------------------------------------------------------------------------ fuzzing
def test_crash_only_fuzzing_finds_nothing_and_liveness_holds():
    report = fuzz(ThreePhaseCommit, 150, profile="crash")
    assert report.violations == 0, [f.violations for f in report.failures[:3]]


def test_partition_fuzzing_finds_the_known_atomicity_violation():
    """Expected: 3PC is not safe under partitions (the failure detector is no longer perfect)."""
    report = fuzz(ThreePhaseCommit, 60, profile="partition", stop_at_first=True, shrink_first=False)
    assert report.failures and report.failures[0].violations[0].invariant == "Atomicity"


@pytest.mark.parametrize("bug, invariant", [("skip-precommit", "Atomicity"), ("presume-yes", "Commit needs unanimity"),
                                            ("recover-alone", "Atomicity")])
def test_each_bug_is_caught_by_crash_fuzzing(bug, invariant):
    report = fuzz(ThreePhaseCommit, 150, profile="crash", bugs=[bug], stop_at_first=True, shrink_first=False)
    assert report.failures, bug
    assert report.failures[0].violations[0].invariant.startswith(invariant)


# ------------------------------------------------------------------------ presets
def test_presets_replay_as_narrated():
    presets = ThreePhaseCommit.presets()
    assert ThreePhaseCommit.story_presets() == {"clean_commit", "coordinator_crash", "partition"}
    for name, text in presets.items():
        assert replay(text).ok, name
    assert preset_failures(ThreePhaseCommit) == []          # the partition preset is an expected violation


def test_coordinator_crash_preset_claims():
    door = replay(ThreePhaseCommit.presets()["coordinator_crash"]).door
    assert [e.tick for e in door.trace if e.kind == "crashed"] == [20]
    assert notes(door, "coordinator suspected") == [(70, "n3"), (70, "n4"), (90, "n2")]
    assert notes(door, "backup coordinator") == [(122, "n2")]
    assert sent(door, "PreCommit", 100) == [("n2", "n3"), ("n2", "n4")]
    committed = notes(door, "committed")
    assert committed[:3] == [(142, "n2"), (152, "n3"), (152, "n4")] and committed[3] == (320, "n1")
    assert door.outcome("t1") == "committed"


def test_partition_preset_claims():
    result = replay(ThreePhaseCommit.presets()["partition"])
    door = result.door
    assert result.expected == ["Atomicity"] and result.ok
    assert door.outcome("t1") == "split"
    assert notes(door, "committed") == [(52, "n1"), (62, "n2")]
    assert notes(door, "aborted") == [(102, "n3"), (112, "n4")]
    assert door.violations[0]["invariant"].startswith("Atomicity")


def test_partition_preset_without_the_partition_commits_everywhere():
    text = ThreePhaseCommit.presets()["partition"].replace("partition n1,n2 | n3,n4", "").replace("heal\n", "")
    text = text.replace("expect Atomicity\n", "")
    door = replay(text).door
    assert door.outcome("t1") == "committed" and not door.violations


# ------------------------------------------------------------------------ determinism and errors
def test_same_seed_same_run():
    def run():
        cluster = ThreePhaseCommit(nodes=5, seed=7)
        cluster.sim.start()
        cluster.workload(1000, requests=4)
        cluster.sim.inject_faults(crash=0.3, stop_at=1000)
        cluster.run(until=2000)
        return [str(e) for e in cluster.trace]
    assert run() == run()


def test_script_command_and_bad_input():
    text = "algorithm 3pc\nnodes 3\nseed 1\n\nbegin t1 n2:x=1,y='b' n3:z=3\nrun 200\n"
    door = replay(text).door
    assert door.stores()["n2"] == {"x": 1, "y": "b"} and door.outcome("t1") == "committed"
    with pytest.raises(ScriptError, match="line 5"):
        replay("algorithm 3pc\nnodes 3\n\nbegin t1 n2\n".replace("\n\nbegin", "\n\n\nbegin"))
    cluster = ThreePhaseCommit(nodes=3)
    with pytest.raises(BadParameter, match="coordinator"):
        cluster.begin("t1", {"n1": {"x": 1}})
    with pytest.raises(UnknownNode):
        cluster.begin("t1", {"n9": {"x": 1}})
    with pytest.raises(BadParameter, match="writes"):
        cluster.begin("t1", {})
    with pytest.raises(BadParameter, match="immutable"):
        cluster.begin("t1", {"n2": {"x": [1]}})
    with pytest.raises(BadParameter, match="transaction id"):
        cluster.begin("t 1", {"n2": {"x": 1}})
    with pytest.raises(BadParameter, match="no transaction"):
        cluster.outcome("t7")
    with pytest.raises(BadParameter, match="not a node"):
        ThreePhaseCommit(nodes=3, coordinator="n7")
    with pytest.raises(BadParameter, match="no bug"):
        ThreePhaseCommit(nodes=3, bugs=["nope"])
