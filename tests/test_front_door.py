"""The front-door shape, proved on the demo protocol (fttoolkit.Broadcast)."""

import networkx as nx
import pytest

import fttoolkit
from fttoolkit.core.errors import BadParameter
from fttoolkit import Broadcast


def delivered_notes(cluster):
    return [(e.node, e["fields"]["id"]) for e in cluster.trace.filter("note") if e["text"] == "deliver"]


def test_add_node_before_the_run_joins_the_cluster():
    c = Broadcast(nodes=3, seed=2)
    assert c.add_node() == "n4"
    assert c.add_node("edge", links=["n1"]) == "edge"
    c.broadcast("n2", "x")
    c.run()
    assert c.ids == ["edge", "n1", "n2", "n3", "n4"]
    assert all(ids == ["n2:1"] for ids in c.delivered().values())
    assert c.node("edge").neighbors == ("n1",)
    assert c.node("n4").peers == ("edge", "n1", "n2", "n3")


def test_actions_can_be_scheduled_for_a_later_tick():
    c = Broadcast(nodes=3, seed=4)
    c.crash("n3", at=0)
    c.broadcast("n1", "a", at=5)
    c.restart("n3", at=200)
    c.run(until=199)
    assert c.delivered()["n3"] is None and c.delivered()["n2"] == ["n1:1"]
    c.run()
    assert c.delivered()["n3"] == ["n1:1"]        # retransmission reached it after the restart
    kinds = [e.kind for e in c.trace if e.kind in ("crashed", "request", "restarted")]
    assert kinds == ["crashed", "request", "restarted"]
    assert [e.tick for e in c.trace.filter(["crashed", "request", "restarted"])] == [0, 5, 200]


def test_run_until_a_predicate():
    c = Broadcast(nodes=5, seed=9)
    c.broadcast("n1", "hello")
    everyone = lambda sim: all("n1:1" in sim.nodes[i].delivered for i in sim.ids)
    assert c.run_until(everyone) is True
    assert c.now < 100                       # a few one-way delays of 5-15 ticks
    assert c.run_until(lambda sim: False, limit_ticks=c.now + 500) is False


def test_partition_then_heal_gets_everyone_there():
    c = Broadcast(nodes=4, seed=5)
    c.partition(["n1", "n2"], ["n3", "n4"])
    c.broadcast("n1", "v")
    c.run(until=300)
    assert c.delivered() == {"n1": ["n1:1"], "n2": ["n1:1"], "n3": [], "n4": []}
    c.heal()
    c.run()
    assert all(v == ["n1:1"] for v in c.delivered().values())
    assert sorted(delivered_notes(c)) == [(n, "n1:1") for n in ("n1", "n2", "n3", "n4")]


def test_states_and_repr():
    c = Broadcast(nodes=2, seed=0)
    c.crash("n2")
    states = c.states()
    assert states["n2"] is None
    assert set(states["n1"]) == {"seen", "delivered", "unacked", "counter", "retransmit_armed"}
    assert repr(c).startswith("<Broadcast BroadcastNode: 2 nodes, seed 0, t=0")
    assert "crashed: n2" in repr(c)


def test_workload_comes_from_its_own_stream():
    def requests(loss):
        c = Broadcast(nodes=4, seed=3, loss=loss)
        c.workload(1000, requests=5)
        c.run(until=1000)
        return [(e.tick, e.node, e["msg"].value) for e in c.trace.filter("request")]

    plan = requests(0.0)
    assert len(plan) == 5 and [v for _, _, v in plan] == ["v1", "v2", "v3", "v4", "v5"]
    assert requests(0.4) == plan            # network faults do not move the workload


def test_topology_from_networkx_graph():
    ring = nx.cycle_graph(6)
    c = Broadcast(nodes=ring, seed=1)
    assert c.ids == [f"n{i}" for i in range(6)]
    assert c.node("n0").neighbors == ("n1", "n5")
    c.broadcast("n0", "around")
    c.run()
    hops = {e.node: e.tick for e in c.trace.filter("note")}
    assert hops["n3"] > hops["n1"]           # the far side hears it last


def test_package_exports_the_front_door_lazily():
    assert fttoolkit.Broadcast is Broadcast
    assert "Broadcast" in dir(fttoolkit)
    assert fttoolkit.REGISTRY["broadcast"] is Broadcast


def test_reset_builds_the_same_experiment_again_with_another_seed():
    cluster = Broadcast(nodes=4, seed=1, loss=0.2, bugs=["no-dedup"], duplicate=0.3)
    cluster.add_node("n9")
    cluster.broadcast("n1", "x")
    cluster.crash("n3", at=40)
    seen = []
    cluster.subscribe(seen.append)
    cluster.run(until=300)
    first = cluster.trace.to_jsonl()
    assert cluster.violations
    cluster.reset(2)
    assert cluster.seed == 2 and cluster.now == 0 and cluster.steps == 0 and not cluster.violations
    assert cluster.ids == ["n1", "n2", "n3", "n4", "n9"]
    cluster.run(until=300)
    assert cluster.trace.to_jsonl() != first
    count = len(seen)
    cluster.reset(1)                    # back to the first seed: the very same run, checkers included
    cluster.run(until=300)
    assert cluster.trace.to_jsonl() == first
    assert len(seen) > count            # observers stay subscribed


def test_reset_refuses_a_bad_seed():
    cluster = Broadcast(nodes=3)
    with pytest.raises(BadParameter, match="seed"):
        cluster.reset(-4)
