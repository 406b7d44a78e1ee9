"""The demo protocol, reliable flooding broadcast, on a faulty simulated network.

Properties (Hadzilacos & Toueg 1994): integrity (each node delivers each
message at most once) and validity/agreement (every node delivers every
broadcast once the network lets messages through).  Deliveries are observed
as ``note`` events with text ``"deliver"``, as a checker would.
"""

import collections

import networkx as nx
import pytest

from fttoolkit import Broadcast
from fttoolkit.core import Torn


def deliveries(door):
    """(node, message id) -> how many times it was delivered, from the trace."""
    return collections.Counter((e.node, e["fields"]["id"]) for e in door.trace.filter("note")
                               if e["text"] == "deliver")


def broadcast_ids(door):
    """The ids the origin nodes gave to the client broadcasts (their first deliver note)."""
    return {e["fields"]["id"] for e in door.trace.filter("note")
            if e["text"] == "deliver" and e["fields"]["id"].startswith(e.node + ":")}


def assert_exactly_once_everywhere(door, expected_ids):
    counts = deliveries(door)
    assert broadcast_ids(door) == set(expected_ids)
    assert counts == {(node_id, msg_id): 1 for node_id in door.ids for msg_id in expected_ids}
    assert door.delivered() == {node_id: sorted(expected_ids) for node_id in door.ids}


# ----------------------------------------------------------------------- lossy networks
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_node_delivers_every_broadcast_exactly_once_despite_loss_and_duplication(seed):
    door = Broadcast(nodes=5, seed=seed, loss=0.3, duplicate=0.2)
    door.broadcast("n1", "a")
    door.broadcast("n3", "b")
    door.broadcast("n5", "c", at=40)
    door.broadcast("n1", "d", at=41)
    steps = door.run(max_steps=100_000)  # returns: the run goes idle
    assert steps > 0 and door.sim.next_due() is None
    assert_exactly_once_everywhere(door, {"n1:1", "n3:1", "n5:1", "n1:2"})
    reasons = collections.Counter(e["reason"] for e in door.trace.filter("dropped"))
    assert reasons["loss"] > 10  # the faults really happened
    assert len(door.trace.filter("duplicated")) > 5
    assert all(not n.unacked for n in door.nodes.values())  # everything was acknowledged


@pytest.mark.parametrize("make", [nx.path_graph, nx.cycle_graph], ids=["path", "ring"])
@pytest.mark.parametrize("seed", [4, 5])
def test_sparse_topologies_deliver_everything_exactly_once(make, seed):
    door = Broadcast(nodes=make(5), seed=seed, loss=0.3, duplicate=0.2)
    assert door.ids == ["n0", "n1", "n2", "n3", "n4"]
    door.broadcast("n0", "a")
    door.broadcast("n4", "b", at=10)
    door.broadcast("n2", "c", at=20)
    door.run(max_steps=100_000)
    assert door.sim.next_due() is None
    assert_exactly_once_everywhere(door, {"n0:1", "n4:1", "n2:1"})
    # Flooding uses links only: nothing was ever sent across a missing one.
    assert not [e for e in door.trace.filter("dropped") if e["reason"] == "no link"]
    for e in door.trace.filter("sent"):
        assert door.sim.graph.has_edge(e["src"], e["dst"])


def test_a_lossless_run_needs_no_retransmission():
    door = Broadcast(nodes=4, seed=0)
    door.broadcast("n2", "x")
    door.run()
    assert_exactly_once_everywhere(door, {"n2:1"})
    rumors = [e for e in door.trace.filter("sent") if e["msg"].__class__.__name__ == "Rumor"]
    # n2 floods to 3 peers, each of them forwards to the 2 others: 3 + 3 * 2.
    assert len(rumors) == 9
    assert not door.trace.filter("dropped")


# ---------------------------------------------------------------------------- bug zoo
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_dedup_delivers_a_duplicated_message_twice(seed):
    def run(bugs, duplicate):
        door = Broadcast(nodes=2, seed=seed, bugs=bugs, duplicate=duplicate)
        door.broadcast("n1", "x")
        door.run()
        return deliveries(door)

    assert run(["no-dedup"], 1.0)[("n2", "n1:1")] == 2  # the copy is delivered again
    assert run(["no-dedup"], 0.0)[("n2", "n1:1")] == 1  # no copy, no harm
    assert run([], 1.0)[("n2", "n1:1")] == 1            # the correct protocol dedups


def test_no_dedup_delivers_twice_in_a_lossy_duplicating_cluster():
    door = Broadcast(nodes=4, seed=3, bugs="no-dedup", loss=0.2, duplicate=0.3)
    door.broadcast("n1", "x")
    door.run()
    assert max(deliveries(door).values()) >= 2


# ------------------------------------------------------------------- crash and restart
def test_restart_rebuilds_seen_and_delivered_from_storage():
    door = Broadcast(nodes=3, seed=2, loss=0.1)
    door.broadcast("n1", "a")
    door.broadcast("n2", "b")
    door.broadcast("n1", "c", at=5)
    door.run()
    before = door.node("n1").state()
    assert before["seen"] == {"n1:1": "a", "n2:1": "b", "n1:2": "c"}
    assert sorted(door.sim.disks["n1"]) == [("msg", "n1:1", "a"), ("msg", "n1:2", "c"), ("msg", "n2:1", "b")]

    door.crash("n1")
    door.restart("n1")
    node = door.node("n1")
    assert node.seen == before["seen"]
    assert node.delivered == {"n1:1", "n2:1", "n1:2"}
    assert node.counter == 2
    door.run()
    # A restart does not deliver anything again...
    assert_exactly_once_everywhere(door, {"n1:1", "n2:1", "n1:2"})
    # ...and the next broadcast gets a fresh id, not a reused one.
    door.broadcast("n1", "d")
    door.run()
    assert_exactly_once_everywhere(door, {"n1:1", "n2:1", "n1:2", "n1:3"})


def test_restart_offers_what_it_knows_to_a_node_that_missed_it():
    # n3 is crashed while n1 broadcasts and n1 is crashed before n3 comes back:
    # the restarted n2 is what brings n3 up to date.
    door = Broadcast(nodes=3, seed=1)
    door.crash("n3")
    door.broadcast("n1", "a")
    door.run(until=30)
    door.crash("n1")
    door.crash("n2")
    door.restart("n3")
    door.restart("n2")
    door.run(until=200)  # n2 keeps offering to the crashed n1, so the run is not idle yet
    assert "n1:1" in door.node("n3").delivered
    (got,) = [e for e in door.trace.filter("delivered") if e["dst"] == "n3"
              and type(e["msg"]).__name__ == "Rumor"]
    assert got["src"] == "n2"
    door.restart("n1")
    door.run()
    assert_exactly_once_everywhere(door, {"n1:1"})


def test_torn_record_is_discarded_on_restart():
    door = Broadcast(nodes=3, seed=0)
    door.broadcast("n1", "a")
    door.run()
    door.broadcast("n1", "b")  # its first intention is the write of ("msg", "n1:2", "b")
    door.crash("n1", tear=0)
    assert door.sim.disks["n1"] == [("msg", "n1:1", "a"), Torn(("msg", "n1:2", "b"))]
    door.restart("n1")
    door.run(until=door.now)  # carry out what on_start asked for
    (note,) = [e for e in door.trace.filter("note", node="n1") if e["text"] == "discarded torn record"]
    assert note["fields"]["record"] == ("msg", "n1:2", "b")
    node = door.node("n1")
    assert node.seen == {"n1:1": "a"}
    assert node.delivered == {"n1:1"}
    assert node.counter == 1
    door.run()
    # The torn broadcast never happened; the intact one is still delivered exactly once.
    assert_exactly_once_everywhere(door, {"n1:1"})
