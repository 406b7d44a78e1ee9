"""Crashes and restarts: what a crash loses, what survives, and where it can fall.

The first tests use a tiny protocol written here (``Keeper``); the last ones
show that two named bugs of the broadcast demo really break it when the crash
falls at the wrong place, while the correct protocol survives the same schedule.
"""

import collections

import networkx as nx
import pytest

from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest, Rumor
from fttoolkit.core import BadParameter, FtError, InvalidAction, Message, Node, Timer, Torn
from fttoolkit.core.intentions import Note, Persist, Send
from fttoolkit.sim import Simulation


class Put(Message):
    """Client -> node: write ``records`` to stable storage in one write."""

    records: tuple


class Order(Message):
    """Client -> node: send ``Blip(k)`` to ``to``."""

    to: str
    k: int


class Script(Message):
    """Client -> node: persist, send, note, persist, send (five intentions)."""


class Blip(Message):
    k: int


class Beat(Timer):
    """A timer armed at every boot."""


class Keeper(Node):
    """Keeps volatile state, a timer and whatever it is told to store."""

    params = {"beat_ticks": 50}

    def on_start(self, records):
        self.boot_records = list(records)
        self.mood = "fresh"
        self.got = []
        self.set_timer(Beat(), self.params["beat_ticks"])

    def on_put(self, msg, sender):
        self.mood = "changed"
        self.persist(*msg.records)
        self.note("put done")

    def on_order(self, msg, sender):
        self.send(msg.to, Blip(msg.k))

    def on_script(self, msg, sender):
        self.persist(("x", 1))
        self.send("n2", Blip(1))
        self.note("middle")
        self.persist(("x", 2))
        self.send("n2", Blip(2))

    def on_blip(self, msg, sender):
        self.got.append(msg.k)
        if msg.k == 100:  # a Blip(100) makes the receiver run the script itself
            self.on_script(Script(), sender)

    def on_beat(self, timer):
        self.note("beat")


def keeper(nodes=2, seed=0):
    return Simulation(Keeper, topology=nodes, seed=seed, network={"delay": 5})


def settle_all(sim):
    """Carry out every queued intention (and nothing else)."""
    while any(p.kind == "intention" for p in sim.pending()):
        sim.step()


# ------------------------------------------------------------------ what a crash loses
def test_crash_loses_volatile_state_queued_intentions_and_timers_but_keeps_storage():
    sim = keeper()
    sim.request("n1", Put((("a", 1), ("b", 2))))
    sim.run(until=10)
    assert sim.disks["n1"] == [("a", 1), ("b", 2)]
    assert sim.nodes["n1"].mood == "changed"
    before = sim.nodes["n1"]

    sim.request("n1", Put((("c", 3),)))  # queued, not yet carried out
    assert [p.name for p in sim.pending() if p.kind == "intention"] == ["i:n1"]
    sim.crash("n1")
    (crashed,) = sim.trace.filter("crashed")
    assert crashed["lost_intentions"] == 2
    assert not sim.up["n1"]
    assert sim.disks["n1"] == [("a", 1), ("b", 2)]  # the queued write never happened
    assert not [p for p in sim.pending() if getattr(p, "node", None) == "n1"]  # timer cancelled

    sim.run(until=120)
    assert [e.node for e in sim.trace.filter("timer_fired")] == ["n2"]  # n1 never fires
    assert [e["text"] for e in sim.trace.filter("note", node="n1")] == ["put done"]  # the first put only

    sim.restart("n1")
    node = sim.nodes["n1"]
    assert node is not before
    assert node.mood == "fresh"
    assert node.boot_records == [("a", 1), ("b", 2)]
    (restarted,) = sim.trace.filter("restarted")
    assert restarted["records"] == 2
    sim.run(until=200)
    fired_n1 = [e.tick for e in sim.trace.filter("timer_fired") if e.node == "n1"]
    assert fired_n1 == [170]  # a fresh timer, armed at the restart (tick 120 + 50)


def test_crash_with_lose_disk_wipes_stable_storage():
    sim = keeper()
    sim.request("n1", Put((("a", 1),)))
    sim.run(until=10)
    sim.crash("n1", lose_disk=True)
    assert sim.disks["n1"] == []
    assert sim.trace.filter("crashed")[0]["disk_lost"] is True
    sim.restart("n1")
    assert sim.nodes["n1"].boot_records == []
    assert sim.disks["n2"] == []  # nobody else's disk is touched


def test_messages_to_a_crashed_node_are_dropped_with_reason_crashed():
    sim = keeper()
    sim.request("n1", Order("n2", 7))
    sim.run(until=1)
    (sent,) = sim.trace.filter("sent")
    sim.crash("n2")
    sim.run(until=20)
    (dropped,) = sim.trace.filter("dropped")
    assert (dropped["mid"], dropped["reason"], dropped.tick) == (sent["mid"], "crashed", sent["due"])
    assert not sim.trace.filter("delivered")

    sim.restart("n2")
    sim.request("n1", Order("n2", 8))
    sim.run(until=40)
    assert sim.nodes["n2"].got == [8]


def test_message_sent_before_a_crash_reaches_the_node_if_it_restarted_meanwhile():
    sim = keeper()
    sim.request("n1", Order("n2", 7))
    sim.run(until=1)
    sim.crash("n2")
    sim.restart("n2")
    sim.run(until=20)
    assert sim.nodes["n2"].got == [7]


def test_restart_of_a_running_node_is_an_error_and_so_is_crashing_a_crashed_one():
    sim = keeper()
    with pytest.raises(InvalidAction):
        sim.restart("n1")
    sim.crash("n1")
    with pytest.raises(InvalidAction):
        sim.crash("n1")
    sim.restart("n1")
    with pytest.raises(InvalidAction):
        sim.restart("n1")
    assert [e.kind for e in sim.trace if e.node == "n1"][-2:] == ["crashed", "restarted"]


# ---------------------------------------------------------- crashes between intentions
SCRIPT_EFFECTS = [("disk", ("x", 1)), ("blip", 1), ("note", "middle"), ("disk", ("x", 2)), ("blip", 2)]


def _effects(sim):
    out = [("disk", r) for r in sim.disks["n1"]]
    out += [("blip", k) for k in sim.nodes["n2"].got]
    out += [("note", e["text"]) for e in sim.trace.filter("note", node="n1") if e["text"] == "middle"]
    order = {effect: i for i, effect in enumerate(SCRIPT_EFFECTS)}
    return sorted(out, key=order.__getitem__)


@pytest.mark.parametrize("k", range(len(SCRIPT_EFFECTS) + 1))
def test_crash_after_k_steps_leaves_exactly_the_first_k_intentions_carried_out(k):
    sim = keeper()
    sim.start()
    settle_all(sim)
    sim.request("n1", Script())
    for _ in range(k):
        assert sim.pending()[0].name == "i:n1"
        sim.step()  # one intention per step
    sim.crash("n1")
    assert sim.trace.filter("crashed")[0]["lost_intentions"] == len(SCRIPT_EFFECTS) - k
    sim.run(until=40)
    assert _effects(sim) == SCRIPT_EFFECTS[:k]


@pytest.mark.parametrize("k", [0, 2, 5])
def test_crash_between_intentions_of_a_delivered_message(k):
    # The script runs in n1's handler for a message delivered by hand, left unsettled.
    sim = keeper()
    sim.start()
    settle_all(sim)
    sim.request("n2", Order("n1", 100))
    sim.execute("n2")
    (msg,) = [p for p in sim.pending() if p.kind == "message"]
    sim.deliver(msg, settle=False)
    assert sim.nodes["n1"].got == [100]
    for _ in range(k):
        sim.execute("n1")
    sim.crash("n1")
    sim.run(until=40)
    assert _effects(sim) == SCRIPT_EFFECTS[:k]


# ----------------------------------------------------------------------------- torn writes
RECORDS = (("r", 0), ("r", 1), ("r", 2))


@pytest.mark.parametrize("tear", [0, 1, 2])
def test_tear_writes_the_first_records_then_a_torn_one(tear):
    sim = keeper()
    sim.request("n1", Put((("old", 0),)))
    sim.run(until=5)
    sim.request("n1", Put(RECORDS))
    sim.crash("n1", tear=tear)
    expected = [("old", 0)] + list(RECORDS[:tear]) + [Torn(RECORDS[tear])]
    assert sim.disks["n1"] == expected
    torn_write = sim.trace.filter("stored")[-1]
    assert torn_write["torn"] is True and torn_write["index"] == 1
    assert list(torn_write["records"]) == expected[1:]
    assert sim.trace.filter("crashed")[0]["torn"] is True
    assert [e["text"] for e in sim.trace.filter("note")] == ["put done"]  # the second note is lost
    sim.restart("n1")
    assert sim.nodes["n1"].boot_records == expected
    assert isinstance(sim.nodes["n1"].boot_records[-1], Torn)


def test_tear_needs_a_queued_storage_write_as_the_next_intention():
    sim = keeper()
    sim.start()
    settle_all(sim)
    with pytest.raises(InvalidAction):
        sim.crash("n1", tear=0)  # nothing queued at all
    sim.request("n1", Order("n2", 1))  # next intention: a Send
    with pytest.raises(InvalidAction):
        sim.crash("n1", tear=0)
    assert sim.up["n1"] and sim.pending()[0].name == "i:n1"  # the failed crash changed nothing
    sim.execute("n1")
    sim.request("n1", Script())
    sim.execute("n1")  # carries out the first Persist; next is a Send
    assert type(sim.pending()[0].intention) is Send
    with pytest.raises(InvalidAction):
        sim.crash("n1", tear=0)
    assert sim.disks["n1"] == [("x", 1)]


@pytest.mark.parametrize("tear", [3, -1, 10, True, 1.0, "1"])
def test_tear_out_of_range_is_an_error_and_changes_nothing(tear):
    sim = keeper()
    sim.start()
    settle_all(sim)
    sim.request("n1", Put(RECORDS))
    with pytest.raises(FtError):
        sim.crash("n1", tear=tear)
    assert sim.up["n1"]
    assert sim.disks["n1"] == []
    assert not sim.trace.filter("crashed")
    head = sim.pending()[0]
    assert head.name == "i:n1" and type(head.intention) is Persist
    sim.run(until=5)
    assert sim.disks["n1"] == list(RECORDS)


def test_tear_of_a_single_record_write_leaves_only_a_torn_record():
    sim = keeper()
    sim.start()
    settle_all(sim)
    sim.request("n1", Put((("only", 1),)))
    with pytest.raises(BadParameter):
        sim.crash("n1", tear=1)  # 1 record: only tear=0 is possible
    sim.crash("n1", tear=0)
    assert sim.disks["n1"] == [Torn(("only", 1))]


# ------------------------------------------------------------------- broadcast bug zoo
def _deliver_notes(sim, node_id, msg_id="n1:1"):
    return [e for e in sim.trace.filter("note", node=node_id)
            if e["text"] == "deliver" and e["fields"]["id"] == msg_id]


def _rumor_arrives_unsettled(sim, dst):
    """Broadcast from n1 and deliver its Rumor to ``dst``, leaving dst's intentions queued."""
    sim.request("n1", BroadcastRequest("x"))
    settle_all(sim)
    (rumor,) = [p for p in sim.pending() if p.kind == "message" and p.dst == dst]
    assert isinstance(rumor.msg, Rumor)
    sim.deliver(rumor, settle=False)
    head = sim.pending()[0]
    assert head.name == f"i:{dst}"
    return head.remaining


def _crash_after(sim, node_id, k):
    for _ in range(k):
        sim.execute(node_id)
    sim.crash(node_id)
    sim.restart(node_id)
    sim.run(max_steps=10_000)


def test_deliver_before_persist_delivers_twice_after_a_crash_between_the_two():
    sim = Simulation(BroadcastNode, topology=2, seed=3, network={"delay": 10},
                     bugs=["deliver-before-persist"])
    _rumor_arrives_unsettled(sim, "n2")
    head = sim.pending()[0].intention
    assert type(head) is Note and head.text == "deliver"
    _crash_after(sim, "n2", 1)  # crash after the deliver note, before the persist
    notes = _deliver_notes(sim, "n2")
    assert len(notes) == 2
    assert notes[0].seq < sim.trace.filter("crashed")[0].seq < notes[1].seq
    rumors_in = [e for e in sim.trace.filter("delivered") if e["dst"] == "n2"]
    assert len(rumors_in) == 2  # n1 retransmitted: the ack never came


@pytest.mark.parametrize("bugs", [(), ("deliver-before-persist",)])
def test_crash_at_any_point_of_the_receipt(bugs):
    # The correct protocol never delivers twice wherever the crash falls; the buggy one
    # does for exactly one crash point (after the deliver note, before the persist).
    double = []
    sim = Simulation(BroadcastNode, topology=2, seed=3, network={"delay": 10}, bugs=bugs)
    count = _rumor_arrives_unsettled(sim, "n2")
    for k in range(count + 1):
        sim = Simulation(BroadcastNode, topology=2, seed=3, network={"delay": 10}, bugs=bugs)
        _rumor_arrives_unsettled(sim, "n2")
        _crash_after(sim, "n2", k)
        assert "n1:1" in sim.nodes["n2"].delivered
        assert sim.disks["n2"].count(("msg", "n1:1", "x")) == 1
        if len(_deliver_notes(sim, "n2")) > 1:
            double.append(k)
    assert double == ([] if not bugs else [1])


def _path():
    return nx.Graph([("n1", "n2"), ("n2", "n3")])


def test_ack_before_persist_loses_a_message_on_a_path_after_a_crash_between_the_two():
    sim = Simulation(BroadcastNode, topology=_path(), seed=5, network={"delay": 10},
                     bugs=["ack-before-persist"])
    _rumor_arrives_unsettled(sim, "n2")
    head = sim.pending()[0].intention
    assert type(head) is Send and head.to == "n1" and type(head.msg).__name__ == "Ack"
    _crash_after(sim, "n2", 1)  # crash after the Ack left, before the persist
    assert sim.next_due() is None  # idle: nobody will ever try again
    assert sim.nodes["n1"].unacked == {}  # the sender believes n2 has it
    for node_id in ("n2", "n3"):
        assert "n1:1" not in sim.nodes[node_id].delivered
        assert not _deliver_notes(sim, node_id)
    assert sim.disks["n2"] == [] and sim.disks["n3"] == []


@pytest.mark.parametrize("bugs", [(), ("ack-before-persist",)])
def test_crash_at_any_point_of_the_forwarding_node(bugs):
    lost = []
    sim = Simulation(BroadcastNode, topology=_path(), seed=5, network={"delay": 10}, bugs=bugs)
    count = _rumor_arrives_unsettled(sim, "n2")
    for k in range(count + 1):
        sim = Simulation(BroadcastNode, topology=_path(), seed=5, network={"delay": 10}, bugs=bugs)
        _rumor_arrives_unsettled(sim, "n2")
        _crash_after(sim, "n2", k)
        if not all("n1:1" in sim.nodes[n].delivered for n in sim.ids):
            lost.append(k)
        else:
            assert len(_deliver_notes(sim, "n3")) == 1
    assert lost == ([] if not bugs else [1])


def test_broadcast_delivery_counts_survive_crashes_in_the_correct_protocol():
    # Integrity, crashes included: crash every node once in the middle of a lossy run.
    for seed in (1, 2):
        sim = Simulation(BroadcastNode, topology=4, seed=seed,
                         network={"loss": 0.2, "duplicate": 0.2})
        sim.request("n1", BroadcastRequest("a"))
        sim.request("n3", BroadcastRequest("b"))
        for i, node_id in enumerate(sim.ids):
            sim.schedule(7 + 11 * i, "crash", node_id)
            sim.schedule(30 + 11 * i, "restart", node_id)
        sim.run(max_steps=50_000)
        counts = collections.Counter((e.node, e["fields"]["id"]) for e in sim.trace.filter("note")
                                     if e["text"] == "deliver")
        assert max(counts.values()) == 1
        for node_id in sim.ids:
            assert sim.nodes[node_id].delivered == {"n1:1", "n3:1"}
