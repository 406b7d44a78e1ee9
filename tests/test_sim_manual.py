"""Driving a cluster by hand: list what is pending, then make one chosen thing happen."""

import random
import re

import pytest

from fttoolkit import Broadcast
from fttoolkit.core import InvalidAction, Message, Node, Timer, UnknownNode
from fttoolkit.sim import Simulation


class Order(Message):
    """Client -> node: send ``Blip(k)`` to ``to``."""

    to: str
    k: int


class Blip(Message):
    k: int


class Wake(Timer):
    n: int


class Hand(Node):
    """Arms ``Wake(0)`` at boot; sends on order; records blips and wake-ups."""

    params = {"wait": 20}

    def on_start(self, records):
        self.got = []
        self.woke = []
        self.set_timer(Wake(0), self.params["wait"])

    def on_order(self, msg, sender):
        self.send(msg.to, Blip(msg.k))

    def on_blip(self, msg, sender):
        self.got.append((sender, msg.k))

    def on_wake(self, timer):
        self.woke.append((timer.n, self.now))
        self.note("woke", n=timer.n)


def hand(nodes=3, seed=0, **network):
    network.setdefault("delay", 20)
    return Simulation(Hand, topology=nodes, seed=seed, network=network)


def settle_all(sim):
    while any(p.kind == "intention" for p in sim.pending()):
        sim.step()


def send(sim, src, dst, k):
    """Make ``src`` send ``Blip(k)`` now; return the pending message."""
    sim.request(src, Order(dst, k))
    sim.execute(src)
    (item,) = [p for p in sim.pending() if p.kind == "message" and p.msg == Blip(k)]
    return item


# --------------------------------------------------------------------------- pending()
def test_pending_lists_intentions_first_then_timers_and_messages_by_due_tick():
    sim = hand(3)
    items = sim.pending()  # the start-up SetTimer of every node, nothing else yet
    assert [(p.kind, p.name) for p in items] == [("intention", "i:n1"), ("intention", "i:n2"),
                                                 ("intention", "i:n3")]
    settle_all(sim)
    timers = sim.pending()
    assert [p.kind for p in timers] == ["timer"] * 3
    assert sorted(p.node for p in timers) == ["n1", "n2", "n3"]

    sim.set_link("n1", "n3", delay=5)
    early = send(sim, "n1", "n3", 1)      # due 5
    tie = send(sim, "n1", "n2", 2)        # due 20, same tick as the timers
    sim.request("n2", Order("n1", 3))     # leaves an intention queued at n2
    items = sim.pending()
    assert items[0].kind == "intention" and items[0].name == "i:n2"
    assert items[0].due == sim.now
    rest = items[1:]
    assert rest[0] is early
    assert [p.due for p in rest] == sorted(p.due for p in rest)
    at_20 = [p for p in rest if p.due == 20]
    assert [p.kind for p in at_20] == ["timer", "timer", "timer", "message"]  # timers first
    assert at_20[-1] is tie
    for p in rest:
        pattern = r"m\d+" if p.kind == "message" else r"t\d+"
        assert re.fullmatch(pattern, p.name)
    assert len({p.name for p in items}) == len(items)


def test_pending_item_shows_how_many_intentions_remain():
    class Chatty(Hand):
        def on_order(self, msg, sender):
            for k in range(3):
                self.send(msg.to, Blip(k))

    sim = Simulation(Chatty, topology=2, seed=0)
    settle_all(sim)
    sim.request("n1", Order("n2", 0))
    assert sim.pending()[0].remaining == 3
    events = sim.execute("n1")
    assert [e.kind for e in events] == ["sent"]  # exactly one intention carried out
    assert events[0]["msg"] == Blip(0)
    assert sim.pending()[0].remaining == 2
    sim.execute("n1")
    sim.execute("n1")
    assert not [p for p in sim.pending() if p.kind == "intention"]
    assert [p.msg.k for p in sim.pending() if p.kind == "message"] == [0, 1, 2]


# ------------------------------------------------------------------ deliver, drop, copy
def test_deliver_out_of_order_advances_time_to_the_chosen_message():
    sim = hand(3)
    settle_all(sim)
    sim.set_link("n1", "n2", delay=5)
    sim.set_link("n3", "n2", delay=30)
    soon = send(sim, "n1", "n2", 1)
    late = send(sim, "n3", "n2", 2)
    assert (soon.due, late.due) == (5, 30)

    events = sim.deliver(late.name)
    assert sim.now == 30
    assert [e.kind for e in events] == ["delivered"] and events[0].tick == 30
    assert late not in sim.pending()
    events = sim.deliver(soon)  # the item itself works as well as its name
    assert sim.now == 30  # time never goes back: max(now, due)
    assert events[0].tick == 30
    assert sim.nodes["n2"].got == [("n3", 2), ("n1", 1)]


def test_deliver_skips_over_earlier_timers_which_then_fire_late():
    sim = hand(2, delay=50)
    settle_all(sim)  # timers due at 20
    msg = send(sim, "n1", "n2", 1)
    sim.deliver(msg)
    assert sim.now == 50
    assert not sim.trace.filter("timer_fired")
    sim.run()
    fired = sim.trace.filter("timer_fired")
    assert len(fired) == 2 and all(e.tick == 50 for e in fired)


def test_drop_loses_the_chosen_message():
    sim = hand(2)
    settle_all(sim)
    a = send(sim, "n1", "n2", 1)
    b = send(sim, "n1", "n2", 2)
    events = sim.drop(a.name)
    assert [(e.kind, e["mid"], e["reason"]) for e in events] == [("dropped", a.mid, "manual")]
    assert a not in sim.pending() and b in sim.pending()
    sim.run()
    assert sim.nodes["n2"].got == [("n1", 2)]
    with pytest.raises(InvalidAction):
        sim.deliver(a.name)


def test_duplicate_puts_a_second_copy_in_flight():
    sim = hand(2)
    settle_all(sim)
    a = send(sim, "n1", "n2", 1)
    events = sim.duplicate(a.name)
    (dup,) = events
    assert dup.kind == "duplicated" and dup["of"] == a.mid and dup["msg"] == Blip(1)
    copies = [p for p in sim.pending() if p.kind == "message"]
    assert len(copies) == 2 and {p.name for p in copies} == {a.name, f"m{dup['mid']}"}
    assert sim.find(f"m{dup['mid']}").copy_of == a.mid
    sim.run()
    assert sim.nodes["n2"].got == [("n1", 1), ("n1", 1)]


def test_fire_a_timer_early_by_hand():
    sim = hand(2)
    settle_all(sim)
    t = next(p for p in sim.pending() if p.kind == "timer" and p.node == "n2")
    assert re.fullmatch(r"t\d+", t.name) and t.due == 20
    events = sim.fire(t.name)
    assert [e.kind for e in events] == ["timer_fired", "note"]  # settled at once
    assert sim.now == 20
    assert sim.nodes["n2"].woke == [(0, 20)]
    assert t not in sim.pending()
    with pytest.raises(InvalidAction):
        sim.fire(t.name)  # a timer fires once


def test_fire_without_settle_leaves_the_handler_intentions_queued():
    sim = hand(2)
    settle_all(sim)
    t = next(p for p in sim.pending() if p.kind == "timer" and p.node == "n1")
    events = sim.fire(t, settle=False)
    assert [e.kind for e in events] == ["timer_fired"]
    assert sim.pending()[0].name == "i:n1"
    assert [e.kind for e in sim.execute("n1")] == ["note"]


# --------------------------------------------------------------------------- mistakes
def test_asking_for_something_not_pending_names_what_is():
    sim = hand(2)
    settle_all(sim)
    a = send(sim, "n1", "n2", 1)
    timers = sorted(p.name for p in sim.pending() if p.kind == "timer")
    before = ([p.name for p in sim.pending()], len(sim.trace), sim.now)

    with pytest.raises(InvalidAction) as info:
        sim.deliver("m999")
    assert "m999" in str(info.value) and a.name in str(info.value)

    with pytest.raises(InvalidAction) as info:
        sim.deliver(timers[0])  # a timer is not a message
    assert a.name in str(info.value)

    with pytest.raises(InvalidAction) as info:
        sim.fire(a.name)  # a message is not a timer
    assert all(name in str(info.value) for name in timers)

    with pytest.raises(InvalidAction) as info:
        sim.execute("n1")  # nothing queued
    assert "i:n1" in str(info.value)

    with pytest.raises(InvalidAction):
        sim.drop("t1")
    with pytest.raises(InvalidAction):
        sim.duplicate("nonsense")
    with pytest.raises(UnknownNode):
        sim.execute("n7")
    # None of the failed requests changed anything.
    assert ([p.name for p in sim.pending()], len(sim.trace), sim.now) == before


# ------------------------------------------------------------------------ reproducible
def _manual_run(seed, choices_seed):
    """Drive a lossy broadcast entirely by hand with pseudo-random (but fixed) choices."""
    door = Broadcast(nodes=4, seed=seed, loss=0.2, duplicate=0.2)
    door.broadcast("n1", "a")
    door.broadcast("n3", "b")
    chooser = random.Random(choices_seed)
    crashed = None
    for step in range(150):
        items = door.pending()
        if not items:
            break
        item = items[0] if items[0].kind == "intention" else chooser.choice(items)
        roll = chooser.random()
        if item.kind == "intention":
            door.execute(item.node)
        elif item.kind == "timer":
            door.fire(item.name)
        elif roll < 0.1:
            door.drop(item.name)
        elif roll < 0.15:
            door.duplicate(item.name)
        else:
            door.deliver(item.name, settle=roll < 0.6)
        if step == 40:
            crashed = chooser.choice(door.ids)
            door.crash(crashed)
        if step == 80:
            door.restart(crashed)
    return door.trace.to_jsonl()


def test_a_run_driven_by_hand_is_reproducible():
    first = _manual_run(seed=4, choices_seed=99)
    assert first == _manual_run(seed=4, choices_seed=99)
    assert first.count("\n") > 100
    for kind in ("delivered", "dropped", "duplicated", "crashed", "restarted"):
        assert f'"kind":"{kind}"' in first
    assert first != _manual_run(seed=4, choices_seed=100)


def test_held_messages_are_listed_and_can_be_dropped():
    sim = hand(2)
    settle_all(sim)
    sim.clog("n1", "n2")
    sim.request("n1", Order("n2", 7))
    sim.execute("n1")
    sim.run(until=100)                           # arrives at the clog and is held
    held = [p for p in sim.pending() if p.kind == "message" and sim.is_held(p)]
    assert len(held) == 1 and held[0].msg == Blip(7)
    sim.deliver(held[0])                         # trying again while clogged: still held
    assert sim.is_held(held[0])
    sim.drop(held[0])
    assert not any(sim.is_held(p) for p in sim.pending())
    sim.unclog("n1", "n2")
    sim.run()
    assert not [e for e in sim.trace.filter("delivered") if e["msg"] == Blip(7)]


def test_a_manual_duplicate_does_not_shift_later_network_delays():
    def later_dues(extra_copy):
        sim = hand(2, delay=(5, 50), reorder=1.0)   # no FIFO: compare the random draws alone
        settle_all(sim)
        sim.request("n1", Order("n2", 1))
        sim.execute("n1")
        if extra_copy:
            sim.duplicate(next(p for p in sim.pending() if p.kind == "message"))
        for k in range(2, 6):
            sim.request("n1", Order("n2", k))
            sim.execute("n1")
        return [e["due"] for e in sim.trace.filter("sent")]

    assert later_dues(False) == later_dues(True)
