"""Multi-Paxos (Lamport, "Paxos Made Simple" 2001, §3; van Renesse & Altinbuken 2015).

Phase 1 once per leadership, phase 2 per slot, slot-ordered application, no-ops for gaps after a
failover, stable storage, the checkers against the named bugs, the presets' claims, liveness,
determinism and errors.
"""

import functools

import pytest

from fttoolkit import BadParameter, InvalidAction, MultiPaxos, UnknownNode
from fttoolkit.algorithms.multipaxos import (NOOP, Accept, Accepted, Ballot, Decide, Heartbeat, LeaderTimeout,
                                             MultiPaxosNode, Nack, Prepare, Promise, Reply, Request)
from fttoolkit.check.fuzz import fuzz, run_seed
from fttoolkit.core.intentions import Persist, Send, Torn
from fttoolkit.doors import door_for
from fttoolkit.scenario import ScriptError, replay


# ------------------------------------------------------------------------------------ helpers
@functools.lru_cache(maxsize=None)
def preset(name):
    return replay(MultiPaxos.presets()[name]).door


def notes(door, text, node=None):
    return [e for e in door.trace if e.kind == "note" and e["text"] == text and (node is None or e.node == node)]


def sent(door, kind):
    return [e for e in door.trace if e.kind == "sent" and type(e["msg"]).__name__ == kind]


def started(nodes=3, seed=1, leader="n1", **kw):
    cluster = MultiPaxos(nodes=nodes, seed=seed, delay=10, **kw)
    cluster.campaign(leader)
    cluster.run(until=cluster.now + 30)
    assert cluster.leader() == leader
    return cluster


def fresh(node_id="n1", peers=("n2", "n3"), records=(), **kw):
    node = MultiPaxosNode(node_id, peers=peers, **kw)
    node.start(list(records))
    return node


# ------------------------------------------------------------------------------------ ballots
def test_ballots_order_by_round_then_natural_node_id():
    assert Ballot(1, "n9") < Ballot(1, "n10") < Ballot(2, "n1")
    assert max([Ballot(3, "n10"), Ballot(3, "n9"), Ballot(2, "n99")]) == Ballot(3, "n10")
    assert repr(Ballot(2, "n5")) == "(2, n5)"


# ------------------------------------------------------------------------------------ phase 1 once
def test_phase1_runs_once_per_leadership_not_per_command():
    cluster = started(nodes=3)
    slots = [cluster.agree(("put", f"k{i}", str(i))) for i in range(12)]
    assert slots == list(range(1, 13))
    assert len(notes(cluster, "phase 1")) == 1
    assert len(sent(cluster, "Prepare")) == 2          # one Prepare to each peer, for all 12 slots
    assert len(sent(cluster, "Accept")) == 2 * 12       # then one round trip per command
    assert cluster.applied() == {"n1": 12, "n2": 12, "n3": 12}
    assert all(cluster.nodes[i].kv == {f"k{j}": str(j) for j in range(12)} for i in cluster.ids)


def test_a_new_leadership_runs_phase1_again_with_a_higher_ballot():
    cluster = started(nodes=3)
    assert cluster.agree(("put", "x", "1")) == 1
    cluster.crash("n1")
    assert cluster.run_until(lambda sim: any(sim.up[i] and sim.nodes[i].role == "leader" for i in sim.ids),
                             limit_ticks=cluster.now + 2000)
    new = cluster.leader()
    assert new != "n1" and cluster.nodes[new].ballot > Ballot(1, "n1")
    assert cluster.agree(("put", "x", "2"), expected=2) == 2
    assert len(notes(cluster, "became leader")) == 2


# ------------------------------------------------------------------------------------ replicas
def test_replicas_apply_in_slot_order_a_later_slot_waits_for_the_gap():
    node = fresh()
    node.handle_message(Decide(2, ("append", "x", "b")), "n2")
    node.handle_message(Decide(3, ("put", "y", "c")), "n2")
    assert node.chosen == {2: ("append", "x", "b"), 3: ("put", "y", "c")}
    assert node.applied == 0 and node.kv == {}               # slot 1 is missing: slots 2 and 3 wait
    out = node.handle_message(Decide(1, ("put", "x", "a")), "n2")
    assert node.applied == 3 and node.kv == {"x": "ab", "y": "c"}
    assert [n.fields for n in out if type(n).__name__ == "Note"] == [
        (("slot", 1), ("command", ("put", "x", "a"))), (("slot", 2), ("command", ("append", "x", "b"))),
        (("slot", 3), ("command", ("put", "y", "c")))]


def test_a_follower_redirects_clients_to_its_leader():
    cluster = started(nodes=3)
    cluster.run(until=cluster.now + 20)
    assert cluster.submit(("put", "x", "1"), to="n2", hops=0) == Reply(False, "n1", 0)
    assert cluster.submit(("put", "x", "1"), to="n2") == Reply(True, "n1", 1)


# ------------------------------------------------------------------------------------ acceptor rules
def test_acceptor_promises_once_and_refuses_lower_ballots():
    node = fresh("n2", peers=("n1", "n3"))
    out = node.handle_message(Prepare(Ballot(2, "n1")), "n1")
    assert out[0] == Persist((("promise", Ballot(2, "n1")),))     # written down before the reply
    assert out[-1] == Send("n1", Promise(Ballot(2, "n1"), ()))
    assert node.handle_message(Prepare(Ballot(1, "n3")), "n3") == [Send("n3", Nack(Ballot(1, "n3"), Ballot(2, "n1")))]
    assert node.handle_message(Accept(Ballot(1, "n3"), 1, ("put", "x", 1)), "n3") == [
        Send("n3", Nack(Ballot(1, "n3"), Ballot(2, "n1")))]
    assert node.accepted == {}
    out = node.handle_message(Accept(Ballot(2, "n1"), 1, ("put", "x", 1)), "n1")
    assert Persist((("accept", 1, Ballot(2, "n1"), ("put", "x", 1)),)) in out
    assert out[-1] == Send("n1", Accepted(Ballot(2, "n1"), 1, ("put", "x", 1)))
    out = node.handle_message(Prepare(Ballot(3, "n3")), "n3")
    assert out[-1] == Send("n3", Promise(Ballot(3, "n3"), ((1, (Ballot(2, "n1"), ("put", "x", 1))),)))


def test_a_new_leader_reproposes_the_highest_ballot_value_and_fills_gaps():
    node = fresh("n3", peers=("n1", "n2", "n4", "n5"))
    node.handle_timer(LeaderTimeout())
    b = node.ballot
    node.handle_message(Promise(b, ((1, (Ballot(1, "n1"), ("put", "x", 1))), (3, (Ballot(1, "n1"), ("put", "y", 3))))), "n1")
    out = node.handle_message(Promise(b, ((3, (Ballot(2, "n2"), ("put", "y", 9))),)), "n2")
    assert node.role == "leader" and node.next_slot == 4
    accepts = {(m.msg.slot, m.msg.value) for m in out if isinstance(m, Send) and isinstance(m.msg, Accept)}
    assert accepts == {(1, ("put", "x", 1)), (2, NOOP), (3, ("put", "y", 9))}   # (2, n2) beats (1, n1)


# ------------------------------------------------------------------------------------ persistence
def test_acceptor_state_survives_a_restart_volatile_state_does_not():
    node = fresh("n2", peers=("n1", "n3"))
    records = []
    for msg in (Prepare(Ballot(1, "n1")), Accept(Ballot(1, "n1"), 1, ("put", "x", 1)), Decide(1, ("put", "x", 1)),
                Prepare(Ballot(4, "n3"))):
        records += [r for i in node.handle_message(msg, msg.ballot.node if hasattr(msg, "ballot") else "n1")
                    if isinstance(i, Persist) for r in i.records]
    assert node.applied == 1
    back = fresh("n2", peers=("n1", "n3"), records=records + [Torn(("promise", Ballot(9, "n1")))])
    assert back.promised == Ballot(4, "n3")                 # the torn write never happened
    assert back.accepted == {1: (Ballot(1, "n1"), ("put", "x", 1))}
    assert (back.chosen, back.applied, back.kv, back.role, back.leader) == ({}, 0, {}, "follower", None)


def test_a_restarted_node_keeps_its_promise_and_catches_up():
    cluster = started(nodes=3)
    for i in range(3):
        cluster.agree(("put", "x", str(i)))
    cluster.crash("n3")
    cluster.agree(("put", "y", "9"), expected=2)
    cluster.restart("n3")
    assert cluster.nodes["n3"].promised == Ballot(1, "n1") and len(cluster.nodes["n3"].accepted) == 3
    assert cluster.run_until(lambda sim: sim.nodes["n3"].applied == 4, limit_ticks=cluster.now + 200)
    assert cluster.nodes["n3"].kv == {"x": "2", "y": "9"}
    assert cluster.violations == []


# ------------------------------------------------------------------------------------ presets
def test_clean_run_preset_claims():
    door = preset("clean_run")
    assert door.violations == []
    assert [(e.tick, e.node) for e in notes(door, "phase 1")] == [(0, "n1")]
    assert {e.tick for e in sent(door, "Prepare")} == {0}
    assert [e.tick for e in notes(door, "became leader")] == [20]
    assert [(e.tick, e["fields"]["slot"]) for e in notes(door, "chosen")] == [(60, 1), (100, 2), (140, 3)]
    applied_everywhere = {s: max(e.tick for e in notes(door, "apply") if e["fields"]["slot"] == s) for s in (1, 2, 3)}
    assert applied_everywhere == {1: 70, 2: 110, 3: 150}
    assert all(door.nodes[i].kv == {"x": "12", "y": "3"} for i in door.ids)


def test_leader_failover_preset_claims():
    door = preset("leader_failover")
    assert door.violations == []
    # slot 2: only n1 accepted append x 2 (its Accepts were lost in the partition)
    accepts = [e for e in door.trace if e.kind == "stored" and any(r[0] == "accept" and r[1] == 2 and r[3] != NOOP
                                                                   for r in e["records"])]
    assert [e.node for e in accepts] == ["n1"]
    # slot 3 was accepted by all four others before the crash at t=115, and no Decide for it was sent
    assert {e.node for e in door.trace if e.kind == "stored" and e.tick == 110} == {"n2", "n3", "n4", "n5"}
    assert [e.tick for e in door.trace if e.kind == "crashed"] == [115]
    assert not [e for e in sent(door, "Decide") if e.tick < 115 and e["msg"].slot == 3]
    # n5 suspects first (t=316), n4 at t=326 steps down to (2, n5); n5 leads from t=336
    assert [(e.tick, e.node, e["fields"]["ballot"]) for e in notes(door, "phase 1")][1:] == [
        (316, "n5", Ballot(2, "n5")), (326, "n4", Ballot(2, "n4"))]
    assert [(e.tick, e.node) for e in notes(door, "step down")] == [(326, "n4")]
    assert {(e.tick, e.node) for e in sent(door, "Nack")} == {(336, "n2"), (336, "n3"), (336, "n5")}
    assert [(e.tick, e.node) for e in notes(door, "became leader")] == [(20, "n1"), (336, "n5")]
    promises = [e["msg"] for e in sent(door, "Promise") if e["msg"].ballot == Ballot(2, "n5")]
    assert promises and all(dict(p.accepted) == {1: (Ballot(1, "n1"), ("put", "x", "1")),
                                                 3: (Ballot(1, "n1"), ("put", "y", "3"))} for p in promises)
    assert [(e.node, e["fields"]["slot"]) for e in notes(door, "fill gap")] == [("n5", 2)]
    assert [(e.node, e["fields"]["slot"], e["fields"]["value"]) for e in notes(door, "re-propose")] == [
        ("n5", 3, ("put", "y", "3"))]
    chosen = [(e.tick, e["fields"]["slot"], e["fields"]["value"]) for e in notes(door, "chosen") if e.node == "n5"]
    assert chosen == [(356, 2, NOOP), (356, 3, ("put", "y", "3")), (420, 4, ("put", "z", "4"))]
    assert len(sent(door, "Prepare")) == 3 * 4            # n1, then n5 and n4: once per attempt, not per slot
    # n1 restarts at t=450, catches up, applies slots 1..4 at t=516; its stale slot 2 stays on disk
    n1 = door.nodes["n1"]
    assert [e.tick for e in notes(door, "apply", node="n1") if e.tick > 450] == [516] * 4
    assert n1.accepted[2] == (Ballot(1, "n1"), ("append", "x", "2"))
    assert door.chosen() == {1: ("put", "x", "1"), 2: NOOP, 3: ("put", "y", "3"), 4: ("put", "z", "4")}
    assert door.applied() == {i: 4 for i in door.ids}
    assert all(door.nodes[i].kv == {"x": "1", "y": "3", "z": "4"} for i in door.ids)
    assert door.leader() == "n5" and door.check_liveness() == []


# ------------------------------------------------------------------------------------ bugs
def test_ignore_promises_is_caught_by_agreement():
    door = MultiPaxos(nodes=5).load_preset("leader_failover", bugs=["ignore-promises"])
    names = {v["invariant"] for v in door.violations}
    assert "Agreement" in names
    first = door.violations[0]
    assert first["invariant"] == "Agreement" and "slot 3" in first["detail"]


def test_no_gap_fill_is_caught_by_liveness():
    door = MultiPaxos(nodes=5).load_preset("leader_failover", bugs=["no-gap-fill"])
    assert door.violations == []                          # nothing unsafe...
    assert door.applied() == {i: 1 for i in door.ids}     # ...but slot 2 is never chosen: everybody waits
    found = door.check_liveness()
    assert found and found[0].invariant == "Progress"


def test_accept_below_promise_is_caught_by_promise_kept():
    result = run_seed(MultiPaxos, 21, bugs=["accept-below-promise"])
    assert [v.invariant for v in result.violations][:1] == ["Promise kept"]


def test_fuzz_finds_the_bugs():
    report = fuzz(MultiPaxos, 20, bugs=["ignore-promises"], shrink_first=False, stop_at_first=True)
    assert report.violations == 1 and report.failures[0].violations[0].invariant == "Agreement"


# ------------------------------------------------------------------------------------ liveness, fuzz
def test_liveness_after_calm():
    cluster = started(nodes=5, seed=3)
    cluster.agree(("put", "a", "1"))
    cluster.crash("n1")
    cluster.partition(["n2"], ["n3", "n4", "n5"])
    cluster.run(until=cluster.now + 700)
    cluster.restart("n1")
    cluster.heal()
    cluster.run(until=cluster.now + 1000)
    assert cluster.check_liveness() == []
    slot = cluster.agree(("put", "b", "2"), within_ticks=500)
    assert slot is not None and all(cluster.nodes[i].kv == {"a": "1", "b": "2"} for i in cluster.ids)


def test_fuzz_finds_nothing_on_the_correct_protocol():
    report = fuzz(MultiPaxos, 40)
    assert report.violations == 0


def test_determinism():
    def run():
        result = run_seed(MultiPaxos, 7)
        return result.config, [a[:3] for a in result.schedule.actions]
    assert run() == run()
    a, b = preset("leader_failover"), replay(MultiPaxos.presets()["leader_failover"]).door
    assert [(e.tick, e.kind, e.node, repr(e.data)) for e in a.trace] == \
        [(e.tick, e.kind, e.node, repr(e.data)) for e in b.trace]


# ------------------------------------------------------------------------------------ front door, errors
def test_front_door_registry_and_script_commands():
    assert door_for("multipaxos") is MultiPaxos
    assert set(MultiPaxos.script_commands) == {"submit", "campaign"}
    assert MultiPaxos.fuzz_prefer_role == "leader"
    assert set(MultiPaxos.bug_list()) == {"ignore-promises", "no-gap-fill", "accept-below-promise"}
    cluster = started()
    assert cluster.log() == cluster.chosen() == {}
    cluster.agree(("put", "x", "1"))
    assert cluster.chosen("n2") == {1: ("put", "x", "1")}


@pytest.mark.parametrize("command, words", [
    (("get", "x"), "unknown command 'get'"),
    (["put", "x", 1], "a command is a tuple"),
    (("put", "x"), "'put' takes 2 argument(s)"),
    (("put", "x", [1]), "immutable"),
])
def test_bad_commands_are_refused_clearly(command, words):
    with pytest.raises(BadParameter, match=words.replace("(", r"\(").replace(")", r"\)")):
        MultiPaxos(nodes=3).submit(command)


def test_other_bad_inputs():
    with pytest.raises(UnknownNode):
        MultiPaxos(nodes=3).submit(("put", "x", 1), to="n9")
    with pytest.raises(BadParameter, match="no bug 'nope'"):
        MultiPaxos(nodes=3, bugs=["nope"])
    with pytest.raises(BadParameter, match="no parameter 'election_ticks'"):
        MultiPaxos(nodes=3, election_ticks=5)
    cluster = started()
    with pytest.raises(InvalidAction, match="n1 has no leader timeout armed"):
        cluster.campaign("n1")
    header = "algorithm multipaxos\nnodes 3\n\n"
    with pytest.raises(ScriptError, match="usage: submit NODE COMMAND"):
        replay(header + "submit n1\n")
    with pytest.raises(ScriptError, match="unknown command 'get'"):
        replay(header + 'submit n1 ("get", "x")\n')
    with pytest.raises(ScriptError, match="usage: campaign NODE"):
        replay(header + "campaign\n")


def test_heartbeat_from_an_old_leader_is_refused():
    node = fresh("n2", peers=("n1", "n3"))
    node.handle_message(Prepare(Ballot(2, "n3")), "n3")
    assert node.handle_message(Heartbeat(Ballot(1, "n1"), 0), "n1") == [
        Send("n1", Nack(Ballot(1, "n1"), Ballot(2, "n3")))]
    assert Request(("noop",)).command == NOOP
