"""The simulated network: partitions, clogs, per-link settings, FIFO, loss, duplication, skew.

Each test drives a tiny protocol written here, so that what it checks is the
network and not a protocol's reaction to it.  A client ``Order(to, k)`` makes a
node send ``Blip(k)`` to ``to``; a node records every ``Blip`` it receives.
"""

import collections

import networkx as nx
import pytest

from fttoolkit.core import BadParameter, Message, Node, Timer
from fttoolkit.sim import Simulation


class Order(Message):
    """Client -> node: send ``Blip(k)`` to ``to``."""

    to: str
    k: int


class Blip(Message):
    """The payload whose journey through the network the tests follow."""

    k: int


class Wake(Timer):
    """A one-shot timer."""


class Relay(Node):
    """Sends on order; records what it receives.

    At start, node ``blaster`` sends ``Blip(0) .. Blip(blast - 1)`` to each of
    ``targets``, and every node arms ``Wake`` after ``wait`` ticks (if > 0).
    """

    params = {"blast": 0, "targets": (), "wait": 0, "blaster": "n1"}

    def on_start(self, records):
        self.got = []
        self.woke_at = []
        for k in range(self.params["blast"] if self.id == self.params["blaster"] else 0):
            for target in self.params["targets"]:
                self.send(target, Blip(k))
        if self.params["wait"]:
            self.set_timer(Wake(), self.params["wait"])

    def on_order(self, msg, sender):
        self.send(msg.to, Blip(msg.k))

    def on_blip(self, msg, sender):
        self.got.append((sender, msg.k))

    def on_wake(self, timer):
        self.woke_at.append(self.now)


# ----------------------------------------------------------------------------- helpers
def order(sim, src, dst, k):
    """Make ``src`` send ``Blip(k)`` to ``dst`` now; return the ``sent`` event."""
    sim.request(src, Order(dst, k))
    events = sim.execute(src)
    (sent,) = [e for e in events if e.kind == "sent"]
    assert sent["msg"] == Blip(k)
    return sent


def events_for(sim, kind, mid):
    return [e for e in sim.trace.filter(kind) if e.get("mid") == mid]


def fate(sim, mid):
    """'delivered', 'dropped:<reason>', 'held' or 'in flight' for message ``mid``."""
    if events_for(sim, "delivered", mid):
        return "delivered"
    dropped = events_for(sim, "dropped", mid)
    if dropped:
        return "dropped:" + dropped[-1]["reason"]
    if events_for(sim, "held", mid):
        return "held"
    return "in flight"


def make(topology=3, seed=1, **network):
    network.setdefault("delay", 5)
    return Simulation(Relay, topology=topology, seed=seed, network=network)


# -------------------------------------------------------------------------- partitions
def test_symmetric_partition_drops_both_directions_and_heal_restores():
    sim = make(3)
    sim.partition(["n1"], ["n2", "n3"])
    across_12 = order(sim, "n1", "n2", 1)
    across_21 = order(sim, "n2", "n1", 2)
    across_31 = order(sim, "n3", "n1", 3)
    inside_23 = order(sim, "n2", "n3", 4)
    sim.run()
    for sent in (across_12, across_21, across_31):
        assert fate(sim, sent["mid"]) == "dropped:partition"
    assert fate(sim, inside_23["mid"]) == "delivered"
    assert sim.nodes["n1"].got == []
    assert sim.nodes["n3"].got == [("n2", 4)]

    sim.heal()
    again = [order(sim, a, b, 10 + i) for i, (a, b) in enumerate([("n1", "n2"), ("n2", "n1"), ("n3", "n1")])]
    sim.run()
    assert [fate(sim, s["mid"]) for s in again] == ["delivered"] * 3
    assert sim.nodes["n1"].got == [("n2", 11), ("n3", 12)]
    assert sim.nodes["n2"].got == [("n1", 10)]


def test_partition_leaves_unnamed_nodes_in_a_group_of_their_own():
    sim = make(3)
    sim.partition(["n1"])  # n2 and n3 form the other group
    a = order(sim, "n2", "n3", 1)
    b = order(sim, "n3", "n1", 2)
    sim.run()
    assert fate(sim, a["mid"]) == "delivered"
    assert fate(sim, b["mid"]) == "dropped:partition"


def test_one_way_partition_drops_only_the_named_direction():
    sim = make(3)
    sim.partition(["n1"], ["n2"], oneway=True)
    forward = order(sim, "n1", "n2", 1)
    backward = order(sim, "n2", "n1", 2)
    other_out = order(sim, "n1", "n3", 3)
    other_in = order(sim, "n3", "n2", 4)
    sim.run()
    assert fate(sim, forward["mid"]) == "dropped:partition"
    assert fate(sim, backward["mid"]) == "delivered"
    assert fate(sim, other_out["mid"]) == "delivered"
    assert fate(sim, other_in["mid"]) == "delivered"
    assert sim.nodes["n2"].got == [("n3", 4)]
    assert sim.nodes["n1"].got == [("n2", 2)]


def test_one_way_partition_with_one_group_cuts_it_off_from_everybody_else():
    sim = make(3)
    sim.partition(["n1"], oneway=True)
    outgoing = [order(sim, "n1", b, i) for i, b in enumerate(["n2", "n3"])]
    incoming = [order(sim, a, "n1", 10 + i) for i, a in enumerate(["n2", "n3"])]
    sim.run()
    assert [fate(sim, s["mid"]) for s in outgoing] == ["dropped:partition"] * 2
    assert [fate(sim, s["mid"]) for s in incoming] == ["delivered"] * 2


def test_message_in_flight_when_partition_starts_is_dropped_on_arrival():
    sim = make(2, delay=10)
    sent = order(sim, "n1", "n2", 1)
    assert sent["due"] == 10
    sim.run(until=4)
    assert fate(sim, sent["mid"]) == "in flight"
    sim.partition(["n1"], ["n2"])
    sim.run()
    (dropped,) = events_for(sim, "dropped", sent["mid"])
    assert dropped["reason"] == "partition"
    assert dropped.tick == 10  # on arrival, not when the partition started
    assert sim.nodes["n2"].got == []


def test_message_sent_before_partition_and_arriving_after_heal_is_delivered():
    sim = make(2, delay=10)
    sent = order(sim, "n1", "n2", 1)
    sim.run(until=3)
    sim.partition(["n1"], ["n2"])
    sim.run(until=6)
    sim.heal()
    sim.run()
    assert fate(sim, sent["mid"]) == "delivered"
    assert sim.nodes["n2"].got == [("n1", 1)]


# ------------------------------------------------------------------------------- clogs
def test_clog_holds_messages_and_unclog_releases_them_in_order():
    sim = make(3, delay=(2, 9))
    sim.clog("n1", "n2")
    sent = []
    for k in range(4):
        sent.append(order(sim, "n1", "n2", k))
        sim.run(until=sim.now + 1)
    back = order(sim, "n2", "n1", 99)
    free = order(sim, "n1", "n3", 50)
    sim.run()
    held = sim.trace.filter("held")
    assert sorted(e["mid"] for e in held) == sorted([s["mid"] for s in sent] + [back["mid"]])
    assert [e["mid"] for e in held if e["src"] == "n1"] == [s["mid"] for s in sent]  # FIFO held
    assert not [e for e in sim.trace.filter("delivered") if e["mid"] != free["mid"]]
    assert fate(sim, free["mid"]) == "delivered"  # other links are not affected
    assert sim.nodes["n2"].got == []

    sim.run(until=100)
    first_release = len(sim.trace)
    sim.unclog("n1", "n2")
    released = sim.trace.filter("released")
    assert sorted(e["mid"] for e in released) == sorted([s["mid"] for s in sent] + [back["mid"]])
    assert [e["mid"] for e in released if e["src"] == "n1"] == [s["mid"] for s in sent]
    assert all(e.seq > first_release for e in released)
    assert all(e.tick == 100 for e in released)
    sim.run()
    for s in sent + [back]:
        (rel,) = events_for(sim, "released", s["mid"])
        (dlv,) = events_for(sim, "delivered", s["mid"])
        assert rel.seq < dlv.seq
        assert dlv.tick == 100  # held messages arrive at once
    assert sim.nodes["n2"].got == [("n1", k) for k in range(4)]
    assert sim.nodes["n1"].got == [("n2", 99)]
    assert sim.nodes["n3"].got == [("n1", 50)]


def test_after_unclog_new_messages_flow_normally():
    sim = make(2, delay=5)
    sim.clog("n1", "n2")
    order(sim, "n1", "n2", 1)
    sim.run(until=20)
    sim.unclog("n1", "n2")
    sim.run()
    later = order(sim, "n1", "n2", 2)
    sim.run()
    assert fate(sim, later["mid"]) == "delivered"
    assert not events_for(sim, "held", later["mid"])
    assert sim.nodes["n2"].got == [("n1", 1), ("n1", 2)]


# ---------------------------------------------------------------------- link settings
def test_set_link_changes_the_delay_of_one_link_in_both_directions():
    sim = make(3, delay=5)
    sim.set_link("n1", "n2", delay=40)
    sim.run(until=7)
    a = order(sim, "n1", "n2", 1)
    b = order(sim, "n2", "n1", 2)
    c = order(sim, "n1", "n3", 3)
    assert (a["due"], b["due"], c["due"]) == (47, 47, 12)
    sim.run()
    assert events_for(sim, "delivered", a["mid"])[0].tick == 47
    assert events_for(sim, "delivered", c["mid"])[0].tick == 12


def test_set_link_loss_one_loses_everything_on_that_link_only():
    sim = make(3, delay=5)
    sim.set_link("n2", "n3", loss=1.0)
    lost = [order(sim, "n2", "n3", k) for k in range(5)] + [order(sim, "n3", "n2", 9)]
    kept = [order(sim, "n1", "n3", k) for k in range(5)]
    sim.run()
    assert {fate(sim, s["mid"]) for s in lost} == {"dropped:loss"}
    assert {fate(sim, s["mid"]) for s in kept} == {"delivered"}


def test_networkx_edge_attributes_set_link_delay_and_loss():
    graph = nx.path_graph(3)  # labels 0, 1, 2 become n0, n1, n2
    graph.edges[0, 1]["delay"] = 25
    graph.edges[0, 1]["weight"] = 7  # not a link setting: ignored
    graph.edges[1, 2]["loss"] = 1.0
    sim = Simulation(Relay, topology=graph, seed=3, network={"delay": 3})
    a = order(sim, "n0", "n1", 1)
    b = order(sim, "n1", "n0", 2)
    c = order(sim, "n1", "n2", 3)
    d = order(sim, "n2", "n1", 4)
    assert (a["due"], b["due"]) == (25, 25)
    assert (c["due"], d["due"]) == (3, 3)  # the lossy link keeps the default delay
    sim.run()
    assert fate(sim, a["mid"]) == fate(sim, b["mid"]) == "delivered"
    assert fate(sim, c["mid"]) == fate(sim, d["mid"]) == "dropped:loss"


def test_networkx_edge_attribute_with_a_bad_value_is_rejected():
    graph = nx.path_graph(2)
    graph.edges[0, 1]["loss"] = 1.5
    with pytest.raises(BadParameter):
        Simulation(Relay, topology=graph, seed=0)


def test_send_across_a_missing_link_is_dropped_with_reason_no_link():
    sim = Simulation(Relay, topology=nx.path_graph(3), seed=0, network={"delay": 4})
    far = order(sim, "n0", "n2", 1)
    near = order(sim, "n0", "n1", 2)
    sim.run()
    assert fate(sim, far["mid"]) == "dropped:no link"
    assert fate(sim, near["mid"]) == "delivered"
    assert sim.nodes["n2"].got == []
    assert sim.nodes["n1"].got == [("n0", 2)]


# ------------------------------------------------------------------------ FIFO, reorder
def _blast(reorder, seed=5, count=40):
    sim = Simulation(Relay, topology=2, seed=seed,
                     params={"blast": count, "targets": ("n2",)},
                     network={"delay": (1, 30), "reorder": reorder})
    sim.run()
    sent = [e for e in sim.trace.filter("sent") if e["src"] == "n1"]
    assert len(sent) == count
    return sim, sent


def test_fifo_links_never_let_a_message_overtake_when_reorder_is_zero():
    for seed in (1, 2, 3):
        sim, sent = _blast(0.0, seed)
        dues = [e["due"] for e in sent]
        assert dues == sorted(dues)
        assert len(set(dues)) > 1  # the delays are random, FIFO is not a constant delay
        assert [k for _, k in sim.nodes["n2"].got] == list(range(40))


def test_messages_can_overtake_when_reorder_is_one():
    sim, sent = _blast(1.0)
    dues = [e["due"] for e in sent]
    assert dues != sorted(dues)
    received = [k for _, k in sim.nodes["n2"].got]
    assert sorted(received) == list(range(40))
    assert received != list(range(40))
    # Each message still arrives exactly at its own due tick.
    ticks = {e["mid"]: e.tick for e in sim.trace.filter("delivered")}
    assert all(ticks[e["mid"]] == e["due"] for e in sent)


# --------------------------------------------------------------------- loss, duplicates
@pytest.mark.parametrize("loss", [0.0, 0.3, 1.0])
def test_loss_rate_roughly_matches_the_setting(loss):
    count = 1500
    sim = Simulation(Relay, topology=2, seed=11, params={"blast": count, "targets": ("n2",)},
                     network={"delay": 1, "loss": loss})
    sim.run()
    dropped = [e for e in sim.trace.filter("dropped") if e["reason"] == "loss"]
    assert len(sim.trace.filter("sent")) == count
    assert len(dropped) + len(sim.trace.filter("delivered")) == count
    assert abs(len(dropped) / count - loss) < 0.04
    assert len(sim.nodes["n2"].got) == count - len(dropped)


def test_duplicate_creates_duplicated_events_and_two_deliveries():
    count = 6
    sim = Simulation(Relay, topology=2, seed=2, params={"blast": count, "targets": ("n2",)},
                     network={"delay": (1, 10), "duplicate": 1.0})
    sim.run()
    sent = sim.trace.filter("sent")
    dups = sim.trace.filter("duplicated")
    assert len(dups) == count
    assert sorted(e["of"] for e in dups) == sorted(e["mid"] for e in sent)
    assert not {e["mid"] for e in dups} & {e["mid"] for e in sent}  # a copy has its own id
    for d in dups:
        original = next(e for e in sent if e["mid"] == d["of"])
        assert d["msg"] == original["msg"]
        assert d.seq > original.seq
    assert len(sim.trace.filter("delivered")) == 2 * count
    assert collections.Counter(k for _, k in sim.nodes["n2"].got) == {k: 2 for k in range(count)}


def test_duplication_rate_roughly_matches_the_setting():
    count = 1000
    sim = Simulation(Relay, topology=2, seed=4, params={"blast": count, "targets": ("n2",)},
                     network={"delay": 1, "duplicate": 0.25})
    sim.run()
    assert abs(len(sim.trace.filter("duplicated")) / count - 0.25) < 0.05


# ---------------------------------------------------------------------------- clock skew
def test_fast_clock_fires_timers_after_half_the_real_ticks():
    sim = Simulation(Relay, topology=2, seed=0, params={"wait": 40})
    sim.set_clock_rate("n1", 2)  # before the start-up SetTimer intentions are carried out
    sim.run(until=25)
    fired = {e.node: e.tick for e in sim.trace.filter("timer_fired")}
    assert fired == {"n1": 20}
    sim.run(until=100)
    fired = {e.node: e.tick for e in sim.trace.filter("timer_fired")}
    assert fired == {"n1": 20, "n2": 40}
    # Each node's handler sees its own clock: both think 40 ticks have passed.
    assert sim.nodes["n1"].woke_at == [40]
    assert sim.nodes["n2"].woke_at == [40]
    assert sim.local_time("n1") == 200
    assert sim.local_time("n2") == 100


def test_slow_clock_and_changing_the_rate_keeps_local_time_continuous():
    sim = Simulation(Relay, topology=2, seed=0, params={"wait": 10})
    sim.set_clock_rate("n2", 0.5)
    sim.run(until=30)
    assert {e.node: e.tick for e in sim.trace.filter("timer_fired")} == {"n1": 10, "n2": 20}
    assert sim.local_time("n2") == 15
    sim.set_clock_rate("n2", 2)
    assert sim.local_time("n2") == 15  # a rate change does not jump the clock
    sim.run(until=35)
    assert sim.local_time("n2") == 25
    assert sim.local_time("n1") == 35


# -------------------------------------------------------------- random-stream discipline
def _sends(loss, duplicate=0.0, delay=(1, 50), seed=8):
    """Return, in send order, ``(due, survived)`` for every original send of a blast."""
    sim = Simulation(Relay, topology=3, seed=seed,
                     params={"blast": 30, "targets": ("n2", "n3")},
                     network={"delay": delay, "loss": loss, "duplicate": duplicate, "reorder": 0.5})
    sim.run()
    dropped = {e["mid"] for e in sim.trace.filter("dropped")}
    delivered = {e["mid"]: e.tick for e in sim.trace.filter("delivered")}
    out = []
    for e in sim.trace.filter("sent"):  # only originals: copies are "duplicated" events
        survived = e["mid"] not in dropped
        if survived:
            assert delivered[e["mid"]] == e["due"]
        out.append((e["due"], survived))
    assert len(out) == 60
    return out


def _compare_survivors(reference, lossy):
    survivors = [i for i, (_, ok) in enumerate(lossy) if ok]
    assert 10 < len(survivors) < 50  # some lost, some kept: the comparison is not vacuous
    assert [lossy[i][0] for i in survivors] == [reference[i][0] for i in survivors]


def test_network_draws_do_not_depend_on_the_loss_setting():
    reference = _sends(loss=0.0)
    assert all(ok for _, ok in reference)
    _compare_survivors(reference, _sends(loss=0.5))


def test_which_messages_are_lost_does_not_depend_on_the_delay_setting():
    short = [ok for _, ok in _sends(loss=0.5, delay=(1, 50))]
    long = [ok for _, ok in _sends(loss=0.5, delay=7)]
    assert not all(short) and short == long


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_network_draws_do_not_depend_on_the_loss_setting_when_duplication_is_on(seed):
    # A copy is made only of a message that survived; its delay must not come from
    # draws that a lost message would not have made, nor shift the link's FIFO order.
    reference = _sends(loss=0.0, duplicate=0.3, seed=seed)
    _compare_survivors(reference, _sends(loss=0.5, duplicate=0.3, seed=seed))


# ------------------------------------------------------------------- review follow-ups
def test_a_rate_change_re_times_timers_that_are_already_armed():
    sim = Simulation(Relay, topology=2, seed=1, params={"wait": 100})
    sim.run(until=20)                       # both Wake timers armed at 0, due at 100
    sim.set_clock_rate("n2", 2)             # n2's clock now runs twice as fast
    sim.run(until=200)
    fired = {e.node: e.tick for e in sim.trace.filter("timer_fired")}
    assert fired == {"n1": 100, "n2": 60}    # 80 local ticks left at double speed = 40 real ticks
    assert sim.nodes["n2"].woke_at == [100]  # ... and n2's own clock reads its deadline


def test_set_link_overrides_only_the_settings_it_names():
    sim = make(3)
    sim.set_link("n1", "n2", delay=40)
    sim.set_network(loss=1.0)               # later defaults still reach the overridden link
    sent = order(sim, "n1", "n2", 1)
    sim.run()
    assert fate(sim, sent["mid"]) == "dropped:loss"
    sim.set_network(loss=0.0)
    sent = order(sim, "n1", "n2", 2)
    assert sent["due"] - sent.tick == 40     # its own delay still wins
