"""Two-phase commit, checked against Gray, "Notes on Data Base Operating Systems" (1978, §5.8.3), and
Gray & Lamport, "Consensus on Transaction Commit" (2006, §2-3: blocking, cooperative termination).

Unless a test says otherwise: n1 is the coordinator, n2..n4 participants, every message takes 10 ticks.
"""

import pytest

from fttoolkit import BadParameter, DistributedTransaction, UnknownNode
from fttoolkit.algorithms.twopc import (LIVENESS, Abort, Begin, Commit, DecisionRequest, Prepare, TwoPCNode, Vote,
                                        as_writes)
from fttoolkit.check.fuzz import fuzz
from fttoolkit.scenario import ScriptError, preset_failures, replay

T1 = {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}


def cluster(**kw):
    kw.setdefault("delay", 10)
    return DistributedTransaction(nodes=kw.pop("nodes", 4), seed=kw.pop("seed", 1), **kw)


def assert_safe(c):
    assert not c.violations, [v.describe() for v in c.violations]


def events(c, kind, node=None):
    return [e for e in c.trace if e.kind == kind and (node is None or e.node == node)]


def sent(c, cls=None):
    return [e for e in events(c, "sent") if cls is None or isinstance(e["msg"], cls)]


def broken(c):
    return {v["invariant"] for v in c.violations}


# ------------------------------------------------------------------------ the protocol (Gray §5.8.3)
def test_messages_read_like_a_transcript():
    w = as_writes({"n3": {"y": 2}, "n2": {"x": 1}})
    assert repr(Begin("T1", w)) == "Begin(T1, n2:x=1 n3:y=2)"
    assert repr(Vote("T1", True)) == "Vote(T1, yes)" and repr(Vote("T1", False)) == "Vote(T1, no)"
    assert [repr(m("T1")) for m in (Commit, Abort, DecisionRequest)] == \
        ["Commit(T1)", "Abort(T1)", "DecisionRequest(T1)"]


def test_a_clean_commit_takes_4n_messages_and_2n_plus_2_writes():
    c = cluster()
    c.begin("T1", T1)
    c.run(until=200)
    assert_safe(c)
    n = 3
    kinds = [type(e["msg"]).__name__ for e in sent(c)]
    assert len(kinds) == 4 * n
    assert {k: kinds.count(k) for k in kinds} == {"Prepare": n, "Vote": n, "Commit": n, "Ack": n}
    stored = [(e.node, e["records"][0][0]) for e in events(c, "stored")]
    assert len(stored) == 2 * n + 2          # n prepared, 1 decision, n commit, 1 end
    assert stored.count(("n1", "commit")) == 1 and stored.count(("n1", "end")) == 1
    assert c.outcome("T1") == {"n1": "ended", "n2": "committed", "n3": "committed", "n4": "committed"}
    assert c.stores() == {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}
    assert c.locks() == {"n2": {}, "n3": {}, "n4": {}}


def test_every_vote_follows_its_forced_record_and_every_decision_follows_the_log():
    c = cluster()
    c.begin("T1", T1)
    c.run(until=200)
    for e in sent(c, Vote):
        prepared = [s for s in events(c, "stored", e.node) if s["records"][0][0] == "prepared"]
        assert prepared and prepared[0].seq < e.seq
    decision = next(s for s in events(c, "stored", "n1") if s["records"][0][0] == "commit")
    assert all(decision.seq < e.seq for e in sent(c, Commit))


def test_the_participant_is_uncertain_and_holds_its_lock_after_voting_yes():
    node = TwoPCNode("n2", peers=("n1", "n3"))
    node.start([])
    out = node.handle_message(Prepare("T1", as_writes({"n2": {"x": 1}, "n3": {"y": 2}})), "n1")
    assert [type(i).__name__ for i in out[:2]] == ["Persist", "Send"]
    assert node.role == "participant" and node.txns == {"T1": "prepared"}
    assert node.locks == {"x": "T1"} and node.uncertain == ["T1"] and node.kv == {}


def test_one_no_vote_aborts_everywhere():
    c = cluster()
    c.refuse("n3", "T1")
    c.begin("T1", T1)
    c.run(until=200)
    assert_safe(c)
    assert [repr(e["msg"]) for e in sent(c, Vote)] == ["Vote(T1, yes)", "Vote(T1, no)", "Vote(T1, yes)"]
    assert c.outcome("T1") == {"n1": "ended", "n2": "aborted", "n3": "aborted", "n4": "aborted"}
    assert c.stores() == {"n2": {}, "n3": {}, "n4": {}}
    assert not sent(c, Commit)


def test_a_lock_conflict_votes_no():
    c = cluster()
    c.begin("T1", {"n2": {"x": 1}, "n3": {"y": 1}})
    c.begin("T2", {"n2": {"x": 2}, "n4": {"z": 2}})
    c.run(until=300)
    assert_safe(c)
    votes = {(e.node, e["msg"].txn): e["msg"].yes for e in sent(c, Vote)}
    assert votes[("n2", "T1")] is True and votes[("n2", "T2")] is False     # x is locked by T1
    assert c.outcome("T1")["n2"] == "committed" and c.outcome("T2")["n4"] == "aborted"
    assert c.stores()["n2"] == {"x": 1} and c.stores()["n4"] == {}


# ------------------------------------------------------------------------ timeouts
def test_a_participant_that_has_not_voted_may_abort_on_its_own():
    c = cluster(work_ticks=200, timeout_ticks=50)
    c.begin("T1", T1)
    c.run(until=15)
    assert c.outcome("T1")["n2"] == "working" and c.locks()["n2"] == {"x": "T1"}
    c.run(until=300)
    assert_safe(c)
    assert [e["fields"]["why"] for e in events(c, "note", "n2") if e["text"] == "aborted"] == \
        ["timeout before voting"]
    assert c.outcome("T1") == {"n1": "ended", "n2": "aborted", "n3": "aborted", "n4": "aborted"}


def test_a_participant_that_voted_yes_waits_while_the_coordinator_is_down():
    c = cluster()
    c.begin("T1", T1)
    c.crash("n1", at=15)
    c.run(until=1000)
    assert_safe(c)
    assert c.uncertain() == {"n2": ["T1"], "n3": ["T1"], "n4": ["T1"]}
    assert c.locks() == {"n2": {"x": "T1"}, "n3": {"y": "T1"}, "n4": {"z": "T1"}}
    asked = [e.tick for e in sent(c, DecisionRequest) if e.node == "n2"]
    assert asked == [110, 210, 310, 410, 510, 610, 710, 810, 910]
    assert LIVENESS[0].evaluate({i: c.nodes[i] for i in ("n2", "n3", "n4")})   # not finished: blocked


# ------------------------------------------------------------------------ recovery
def test_a_restarted_participant_that_knows_the_outcome_rebuilds_its_store():
    c = cluster()
    c.begin("T1", T1)
    c.run(until=100)
    c.crash("n2")
    c.restart("n2")
    c.run(until=200)
    assert c.outcome("T1")["n2"] == "committed" and c.stores()["n2"] == {"x": 1}
    assert not [e for e in sent(c, DecisionRequest)]


def test_participant_recovery_asks_and_commits():
    c = cluster().load_preset("participant_recovery")
    assert_safe(c)
    assert [(e.tick, e["dst"]) for e in sent(c, DecisionRequest)] == [(50, "n1")]
    assert [e.tick for e in events(c, "note", "n3") if e["text"] == "committed"] == [70]
    assert c.stores()["n3"] == {"y": 2}


def test_coordinator_crash_before_decision_presumes_abort():
    c = cluster().load_preset("coordinator_crash_before_decision")
    assert_safe(c)
    assert [(e.tick, e["records"]) for e in events(c, "stored", "n1")] == [(220, (("abort", "T1", ()),))]
    assert c.outcome("T1") == {"n1": "aborted", "n2": "aborted", "n3": "aborted", "n4": "aborted"}
    assert {e.tick for e in events(c, "note") if e["text"] == "aborted"} == {230}


def test_coordinator_crash_after_decision_resends_it():
    c = cluster().load_preset("coordinator_crash_after_decision")
    assert_safe(c)
    assert [(e.tick, e["dst"]) for e in sent(c, Commit)] == [(20, "n2"), (50, "n2"), (50, "n3"), (50, "n4")]
    assert c.outcome("T1") == {"n1": "ended", "n2": "committed", "n3": "committed", "n4": "committed"}
    assert [e.tick for e in events(c, "stored", "n1") if e["records"][0][0] == "end"] == [70]


def test_blocking_window_preset():
    c = cluster()
    c.load_preset("blocking_window")
    assert_safe(c)
    c.rewind(c.sim.steps_until(349))
    assert c.uncertain() == {"n2": ["T1"], "n3": ["T1"], "n4": ["T1"]}
    assert c.locks() == {"n2": {"x": "T1"}, "n3": {"y": "T1"}, "n4": {"z": "T1"}}
    assert not [e for e in sent(c) if isinstance(e["msg"], (Commit, Abort))]   # nobody could answer
    c.rewind(c.sim.total_steps)
    assert {e.tick for e in events(c, "note") if e["text"] == "committed"} == {360}
    assert c.stores() == {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}


@pytest.mark.parametrize("cooperative", [False, True])
def test_cooperative_termination_resolves_uncertainty_while_the_coordinator_is_down(cooperative):
    c = cluster(cooperative=cooperative)
    c.begin("T1", T1)
    c.run(until=10)
    c.crash("n1", after=3)          # note, commit record, Commit to n2; then down
    c.run(until=300)
    assert_safe(c)
    assert not c.sim.up["n1"]
    if cooperative:                 # n3 and n4 ask n2, which knows: commit without the coordinator
        assert c.outcome("T1") == {"n1": None, "n2": "committed", "n3": "committed", "n4": "committed"}
        assert c.stores() == {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}
    else:
        assert c.uncertain() == {"n2": [], "n3": ["T1"], "n4": ["T1"]}


def test_a_peer_that_has_not_voted_aborts_when_asked():
    c = cluster(cooperative=True, work_ticks=500, timeout_ticks=100)
    c.begin("T1", {"n2": {"x": 1}, "n3": {"y": 2}})
    c.run(until=10)
    assert c.outcome("T1")["n3"] == "working"
    c.refuse("n2", "T1")            # n2 aborts on its own: it has not voted
    c.run(until=400)
    assert_safe(c)
    assert c.outcome("T1") == {"n1": "ended", "n2": "aborted", "n3": "aborted", "n4": None}


# ------------------------------------------------------------------------ bugs and invariants
def test_vote_before_force_breaks_durability():
    c = cluster(bugs=["vote-before-force"])
    c.begin("T1", T1)
    c.crash("n3", after=1)          # its vote leaves, its prepared record never reaches the disk
    c.run(until=50)
    c.restart("n3")
    c.run(until=400)
    assert "Durability" in broken(c)
    clean = cluster()
    clean.begin("T1", T1)
    clean.crash("n3", after=1)
    clean.run(until=50)
    clean.restart("n3")
    clean.run(until=400)
    assert_safe(clean)
    assert clean.nodes["n1"].decisions == {"T1": "aborted"}    # no yes vote from n3: abort at the timeout


def test_abort_after_yes_breaks_atomicity():
    c = cluster(bugs=["abort-after-yes"])
    c.begin("T1", T1)
    c.run(until=10)
    c.crash("n1", after=3)          # Commit reaches n2 only
    c.run(until=300)
    assert broken(c) == {"Atomicity"}
    assert "T1 committed at n2 but aborted at n3" == c.violations[0]["detail"]


def test_decide_before_log_breaks_atomicity():
    c = cluster(bugs=["decide-before-log"])
    c.begin("T1", T1)
    c.run(until=10)
    c.crash("n1", after=2)          # note, Commit to n2; the decision never reaches the log
    c.run(until=50)
    c.restart("n1")
    c.run(until=400)
    assert broken(c) == {"Atomicity"}
    assert [e.tick for e in events(c, "note", "n1") if e["text"] == "presumed abort"] == [120]


def test_commit_on_timeout_breaks_unanimity():
    c = cluster(bugs=["commit-on-timeout"])
    c.crash("n4")
    c.begin("T1", T1)
    c.run(until=300)
    assert "Commit needs unanimity" in broken(c)
    assert c.violations[0]["nodes"] == ["n4"]


@pytest.mark.parametrize("bug, invariant", [
    ("vote-before-force", {"Durability", "Atomicity"}),
    ("abort-after-yes", {"Atomicity"}),
    ("decide-before-log", {"Atomicity"}),
    ("commit-on-timeout", {"Commit needs unanimity"}),
])
def test_the_fuzzer_catches_each_bug(bug, invariant):
    report = fuzz(DistributedTransaction, seeds=300, bugs=[bug], profile="crash", stop_at_first=True,
                  shrink_first=False)
    assert report.failures, f"{bug}: nothing in 300 seeds"
    assert report.failures[0].violations[0].invariant in invariant


def test_the_correct_protocol_survives_the_fuzzer():
    assert fuzz(DistributedTransaction, seeds=150, shrink_first=False).failures == []
    assert fuzz(DistributedTransaction, seeds=100, profile="crash", shrink_first=False).failures == []


def test_liveness_after_calm():
    c = DistributedTransaction(nodes=5, seed=4, loss=0.2, cooperative=True)
    c.workload(400, requests=6)
    c.crash("n1", at=30)
    c.restart("n1", at=500)
    c.crash("n3", at=60)
    c.restart("n3", at=200)
    c.run(until=2000)
    assert_safe(c)
    assert c.check_liveness() == []
    assert all(s in ("committed", "aborted", None) for t in ("T1", "T2", "T3")
               for i, s in c.outcome(t).items() if i != "n1")


# ------------------------------------------------------------------------ presets, scripts, errors
def test_presets_are_clean():
    assert DistributedTransaction.story_presets() == {
        "clean_commit", "no_vote_abort", "coordinator_crash_before_decision",
        "coordinator_crash_after_decision", "participant_recovery", "blocking_window"}
    assert preset_failures(DistributedTransaction) == []
    for text in DistributedTransaction.presets().values():
        assert "Gray" in text


def test_clean_commit_preset_claims():
    c = cluster().load_preset("clean_commit")
    assert len(sent(c)) == 12 and len(events(c, "stored")) == 8
    assert [e.tick for e in events(c, "stored", "n1")] == [20, 40]


def test_script_commands():
    script = """algorithm 2pc
nodes 4
seed 1
network delay=10
refuse n4 T2
begin T1 n2:x=1,y=two n3:z=(1,2)
begin T2 n4:k=5
run 200
"""
    c = replay(script).door
    assert c.stores() == {"n2": {"x": 1, "y": "two"}, "n3": {"z": (1, 2)}, "n4": {}}
    assert c.outcome("T2")["n4"] == "aborted"
    with pytest.raises(ScriptError, match="NODE:KEY=VALUE"):
        replay(script.replace("n3:z=(1,2)", "n3"))


def test_same_seed_same_trace():
    def run():
        c = DistributedTransaction(nodes=5, seed=9, loss=0.1, delay=(5, 20), cooperative=True)
        c.workload(300, requests=5)
        c.crash("n1", at=40)
        c.restart("n1", at=250)
        c.run(until=1500)
        return [f"{e.tick} {e.kind} {e.describe()}" for e in c.trace]
    assert run() == run()


def test_bad_input_errors_are_clear():
    c = cluster()
    with pytest.raises(BadParameter, match="coordinator, not a participant"):
        c.begin("T1", {"n1": {"x": 1}})
    with pytest.raises(UnknownNode):
        c.begin("T1", {"n9": {"x": 1}})
    with pytest.raises(BadParameter, match="immutable"):
        c.begin("T1", {"n2": {"x": [1]}})
    with pytest.raises(BadParameter, match="writes must map"):
        c.begin("T1", {})
    with pytest.raises(BadParameter, match="transaction id"):
        c.begin(1, T1)
    with pytest.raises(BadParameter, match="only a participant"):
        c.refuse("n1", "T1")
    with pytest.raises(BadParameter, match="not a node"):
        DistributedTransaction(nodes=3, coordinator="n7")
    with pytest.raises(BadParameter, match="no bug"):
        DistributedTransaction(nodes=3, bugs=["no-such-bug"])
    with pytest.raises(BadParameter, match="no parameter"):
        DistributedTransaction(nodes=3, cooperate=True)


def test_another_coordinator():
    c = cluster(coordinator="n4")
    c.begin("T1", {"n1": {"x": 1}, "n2": {"y": 2}})
    c.run(until=100)
    assert_safe(c)
    assert c.nodes["n4"].role == "coordinator" and c.participants == ["n1", "n2", "n3"]
    assert c.outcome("T1") == {"n1": "committed", "n2": "committed", "n3": None, "n4": "ended"}
