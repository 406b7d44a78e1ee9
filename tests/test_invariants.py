"""Named invariants and the Monitor: each broadcast property catches a broken run and
stays silent on the correct protocol under the same schedule.

Properties from Hadzilacos & Toueg (1994), "A Modular Approach to Fault-Tolerant
Broadcasts": Integrity (deliver at most once, only what was broadcast) is split
into ``Integrity`` and ``No creation``; ``One value per id`` guards the message
ids the protocol invents; ``Agreement`` is the liveness side.
"""

import networkx as nx
import pytest

import fttoolkit
from fttoolkit.algorithms.broadcast import INVARIANTS, LIVENESS, BroadcastNode, BroadcastRequest
from fttoolkit.check.monitor import Monitor, check_liveness
from fttoolkit.core import Message, Node
from fttoolkit.core.invariants import Invariant, Liveness, Violation, as_violations
from fttoolkit.sim import Simulation
from fttoolkit.sim.trace import Event

BY_NAME = {inv.name: inv for inv in INVARIANTS}


def names(sim):
    return [v["invariant"] for v in sim.violations]


def test_the_broadcast_declares_its_properties_by_name():
    assert list(BY_NAME) == ["Integrity", "No creation", "One value per id"]
    assert all(inv.uses_history and not inv.uses_state for inv in INVARIANTS)
    assert [c.name for c in LIVENESS] == ["Agreement"] and LIVENESS[0].within_ticks > 0


# ------------------------------------------------------------------ Integrity
def _dedup_run(bugs, halt=False):
    sim = Simulation(BroadcastNode, topology=3, seed=1, bugs=bugs, network={"duplicate": 0.5})
    monitor = Monitor.attach(sim, INVARIANTS, halt=halt)
    sim.request("n1", BroadcastRequest("x"))
    sim.run(until=500)
    return sim, monitor


def test_integrity_catches_no_dedup_and_is_silent_on_the_correct_protocol():
    sim, _ = _dedup_run(["no-dedup"])
    assert sim.violations and set(names(sim)) == {"Integrity"}
    first = sim.violations[0]
    assert first.kind == "violation"
    assert first["nodes"] == [first.node] and first.node in ("n2", "n3")
    assert first["detail"] == f"{first.node} delivered n1:1 2 times"
    # it is reported in the very step of the second "deliver" note
    notes = [e for e in sim.trace.filter("note", node=first.node) if e["text"] == "deliver"]
    assert notes[1].seq == first.seq - 1
    correct, _ = _dedup_run([])
    assert correct.violations == []
    # same schedule: the correct run saw the duplicated messages too
    assert correct.trace.filter("duplicated")


def _crash_between_deliver_and_persist(bugs):
    sim = Simulation(BroadcastNode, topology=2, seed=3, network={"delay": 10}, bugs=bugs)
    Monitor.attach(sim, INVARIANTS)
    sim.crash("n2", after=1)            # n2's next handler: the Rumor's receipt
    sim.schedule(30, "restart", "n2")
    sim.request("n1", BroadcastRequest("x"))
    sim.run(until=400)
    return sim


def test_integrity_catches_deliver_before_persist_across_a_crash():
    sim = _crash_between_deliver_and_persist(["deliver-before-persist"])
    (v,) = sim.violations
    assert (v["invariant"], v["nodes"], v["detail"]) == ("Integrity", ["n2"], "n2 delivered n1:1 2 times")
    crashed = sim.trace.filter("crashed")[0]
    assert crashed.seq < v.seq
    ok = _crash_between_deliver_and_persist([])
    assert ok.trace.filter("crashed") and ok.violations == []
    assert all("n1:1" in n.delivered for n in ok.nodes.values())


# ----------------------------------------------------------------- No creation
class Liar(BroadcastNode):
    """Delivers (and spreads) a value no client asked for."""

    def on_broadcast_request(self, msg, sender):
        self.counter += 1
        self.accept(f"{self.id}:{self.counter}", f"forged {msg.value}")


@pytest.mark.parametrize("node_class", [Liar, BroadcastNode])
def test_no_creation_catches_a_node_that_makes_values_up(node_class):
    sim = Simulation(node_class, topology=3, seed=2, network={"delay": 5})
    Monitor.attach(sim, INVARIANTS)
    sim.request("n2", BroadcastRequest("v"))
    sim.run()
    if node_class is BroadcastNode:
        assert sim.violations == []
        return
    found = {(v["invariant"], tuple(v["nodes"])) for v in sim.violations}
    assert found == {("No creation", ("n1",)), ("No creation", ("n2",)), ("No creation", ("n3",))}
    assert sim.violations[0]["detail"] == "n2 delivered 'forged v', which no client broadcast"


def _event(seq, kind, node, **data):
    return Event(seq, 0, kind, node, data)


def test_no_creation_on_hand_made_events():
    observe = BY_NAME["No creation"].observer()
    deliver = lambda seq, value: _event(seq, "note", "n2", text="deliver", fields={"id": "n1:1", "value": value})
    assert observe(_event(0, "request", "n1", client="c", msg=BroadcastRequest("a"))) is None
    assert observe(deliver(1, "a")) is None
    assert observe(_event(2, "note", "n2", text="hello", fields={})) is None
    assert observe(deliver(3, "b")) == Violation("No creation", ("n2",), "n2 delivered 'b', which no client broadcast")
    # each observer has its own history
    assert BY_NAME["No creation"].observer()(deliver(0, "a")) is not None


def test_integrity_and_one_value_per_id_on_hand_made_events():
    once = BY_NAME["Integrity"].observer()
    note = _event(0, "note", "n1", text="deliver", fields={"id": "n1:1", "value": "a"})
    assert once(note) is None
    assert once(_event(1, "note", "n2", text="deliver", fields={"id": "n1:1", "value": "a"})) is None
    assert once(note) == Violation("Integrity", ("n1",), "n1 delivered n1:1 2 times")
    one = BY_NAME["One value per id"].observer()
    assert as_violations(one(_event(0, "stored", "n1", records=(("msg", "n1:1", "a"),), index=0))) == []
    assert as_violations(one(_event(1, "stored", "n2", records=(("msg", "n1:1", "a"),), index=0))) == []
    assert as_violations(one(_event(2, "stored", "n3", records=(("msg", "n1:1", "b"),), index=0))) == [
        Violation("One value per id", ("n1", "n3"), "n1:1 is 'a' at n1 but 'b' at n3")]


# ------------------------------------------------------------ One value per id
def _restart_and_broadcast_again(bugs):
    sim = Simulation(BroadcastNode, topology=3, seed=1, bugs=bugs, network={"delay": 5})
    Monitor.attach(sim, INVARIANTS)
    sim.partition(["n1"])                # the others never hear "a"
    sim.request("n1", BroadcastRequest("a"))
    sim.run(until=20)
    sim.crash("n1")
    sim.restart("n1")
    sim.request("n1", BroadcastRequest("b"))
    sim.heal()
    sim.run(until=400)
    return sim


def test_one_value_per_id_catches_forget_counter_and_names_both_nodes():
    sim = _restart_and_broadcast_again(["forget-counter"])
    one = [v for v in sim.violations if v["invariant"] == "One value per id"]
    assert [(v.node, v["nodes"]) for v in one] == [("n1", ["n1"]), (None, ["n1", "n2"]), (None, ["n1", "n3"])]
    assert one[0]["detail"] == "n1:1 is 'a' at n1 but 'b' at n1"
    assert one[1]["detail"] == "n1:1 is 'a' at n1 but 'b' at n2"
    ok = _restart_and_broadcast_again([])
    assert ok.violations == []
    assert all(n.seen == {"n1:1": "a", "n1:2": "b"} for n in ok.nodes.values())


# ------------------------------------------------------------------- Agreement
def _path_with_crash_after_first_intention(bugs):
    sim = Simulation(BroadcastNode, topology=nx.path_graph(["n1", "n2", "n3"]), seed=5, bugs=bugs,
                     network={"delay": 10})
    Monitor.attach(sim, INVARIANTS)
    sim.crash("n2", after=1)             # n2 carries out one intention of the Rumor's receipt
    sim.schedule(100, "restart", "n2")
    sim.request("n1", BroadcastRequest("x"))
    sim.run(until=100 + LIVENESS[0].within_ticks)   # faults over, then a calm phase
    return sim


def test_agreement_catches_ack_before_persist_on_a_path():
    sim = _path_with_crash_after_first_intention(["ack-before-persist"])
    assert sim.violations == []          # no safety property is broken: only progress is lost
    found = check_liveness(sim, LIVENESS)
    assert found == [Violation("Agreement", ("n2",), "n2 never delivered n1:1"),
                     Violation("Agreement", ("n3",), "n3 never delivered n1:1")]
    ok = _path_with_crash_after_first_intention([])
    assert ok.trace.filter("crashed")
    assert check_liveness(ok, LIVENESS) == [] and ok.violations == []


def test_liveness_only_looks_at_running_nodes():
    sim = Simulation(BroadcastNode, topology=3, seed=0, network={"delay": 5})
    sim.crash("n3")
    sim.request("n1", BroadcastRequest("x"))
    sim.run(until=50)
    assert check_liveness(sim, LIVENESS) == []
    sim.restart("n3")                    # back, but with nothing yet
    sim.crash("n2")
    assert [v.nodes for v in check_liveness(sim, LIVENESS)] == [("n3",)]


# --------------------------------------------------------------- halting, reporting once
def test_halt_stops_the_run_at_the_first_violation():
    sim, _ = _dedup_run(["no-dedup"], halt=True)
    assert sim.halted == f"Integrity broken at tick {sim.violations[0].tick}"
    assert len(sim.violations) == 1
    assert sim.trace[-1].kind == "violation"          # nothing happened after it
    length, now = len(sim.trace), sim.now
    assert sim.run(until=1000) == 0 and len(sim.trace) == length and sim.now == now
    assert sim.run_until(lambda s: False, limit_ticks=1000) is False
    free, _ = _dedup_run(["no-dedup"])
    assert len(free.violations) > 1                   # without halt the run goes on
    assert free.violations[0].to_dict() == sim.violations[0].to_dict()


def test_the_front_door_checks_and_halts():
    b = fttoolkit.Broadcast(nodes=3, seed=1, bugs=["no-dedup"], duplicate=0.5, halt=True)
    b.broadcast("n1", "x")
    b.run(until=500)
    assert b.sim.halted.startswith("Integrity broken at tick ")
    assert [v["invariant"] for v in b.violations] == ["Integrity"]
    quiet = fttoolkit.Broadcast(nodes=3, seed=1, bugs=["no-dedup"], duplicate=0.5, check=False)
    quiet.broadcast("n1", "x")
    quiet.run(until=500)
    assert quiet.violations == [] and quiet.sim.halted is None


class _Always:
    """A history observer that complains about the same thing at every event."""

    def __call__(self, event):
        return [Violation("Always", ("n1",), "same"), Violation("Always", ("n1",), "same")]


def test_each_distinct_violation_is_reported_once():
    sim = Simulation(BroadcastNode, topology=3, seed=0)
    Monitor.attach(sim, [Invariant("Always: complains", observe=_Always)])
    sim.request("n1", BroadcastRequest("x"))
    sim.run()
    assert len(sim.trace) > 10
    (v,) = sim.violations
    assert (v.node, v["invariant"], v["nodes"], v["detail"]) == ("n1", "Always", ["n1"], "same")


# ----------------------------------------------------------------- rewind and fork
def _stepped_to_first_violation(sim):
    while not sim.violations:
        assert sim.step(), "the run went idle without a violation"
    return sim.steps


@pytest.mark.parametrize("halt", [False, True])
def test_the_monitor_follows_rewind(halt):
    sim = Simulation(BroadcastNode, topology=3, seed=1, bugs=["no-dedup"], network={"duplicate": 0.5})
    sim.snapshot_every = 5
    Monitor.attach(sim, INVARIANTS, halt=halt)
    seen = []
    sim.subscribe(lambda e: seen.append(e.seq) if e.kind == "violation" else None)
    sim.request("n1", BroadcastRequest("x"))
    at = _stepped_to_first_violation(sim)
    sim.run(until=500)
    original = [v.to_dict() for v in sim.violations]
    assert len(original) == (1 if halt else 4)
    end, now = sim.trace.to_jsonl(), sim.now
    total = sim.total_steps
    sim.rewind(at - 1)
    assert sim.violations == [] and sim.halted is None
    sim.rewind(at)
    assert [v.to_dict() for v in sim.violations] == original[:1]
    assert (sim.halted is not None) == halt
    sim.rewind(total)
    assert [v.to_dict() for v in sim.violations] == original
    assert sim.trace.to_jsonl() == end and sim.now == now    # a halted run is not run on to until=500
    assert seen == [v["seq"] for v in original]              # observers are not told twice
    # going forward again by new inputs (not a replay): the same violations, reported afresh
    sim.rewind(at - 1)
    sim.run(until=500)
    assert [v.to_dict() for v in sim.violations] == original


def test_a_fork_has_its_own_monitor():
    sim = Simulation(BroadcastNode, topology=3, seed=1, bugs=["no-dedup"], network={"duplicate": 0.5})
    Monitor.attach(sim, INVARIANTS, halt=True)
    sim.request("n1", BroadcastRequest("x"))
    at = _stepped_to_first_violation(sim)
    sim.rewind(at - 1)
    fork = sim.fork()
    fork.run(until=500)
    assert [v["invariant"] for v in fork.violations] == ["Integrity"] and fork.halted
    assert sim.violations == [] and sim.halted is None
    sim.crash("n2")                       # a different choice in the original: n2 never double-delivers
    sim.crash("n3")
    sim.run(until=500)
    assert sim.violations == [] and sim.halted is None


def test_the_front_door_rewind_follows_violations():
    b = fttoolkit.Broadcast(nodes=3, seed=1, bugs=["no-dedup"], duplicate=0.5)
    b.broadcast("n1", "x")
    b.run(until=500)
    first = b.violations[0]
    step_of_first = next(s for s in range(b.steps + 1) if (b.rewind(s), b.violations)[1])
    assert b.violations[0].to_dict() == first.to_dict()
    b.rewind(step_of_first - 1)
    assert b.violations == []


# ------------------------------------------------------------------ state invariants
class Take(Message):
    amount: int


class Order(Message):
    """Client -> node: send ``Take(amount)`` to ``to``."""

    to: str
    amount: int


class Stock(Node):
    """Hands out items; the ``overdraw`` bug forgets to check there are enough."""

    bugs = {"overdraw": "hands out more than it has"}

    def on_start(self, records):
        self.stock = 3

    def on_order(self, msg, sender):
        self.send(msg.to, Take(msg.amount))

    def on_take(self, msg, sender):
        if msg.amount <= self.stock or "overdraw" in self.bugs:
            self.stock -= msg.amount
            self.note("took", amount=msg.amount)
        else:
            self.note("refused", amount=msg.amount)


CALLS = []


def _non_negative(nodes):
    CALLS.append({i: n.stock for i, n in nodes.items()})
    return [Violation("Non-negative", (i,), f"stock {n.stock}") for i, n in nodes.items() if n.stock < 0]


NON_NEGATIVE = Invariant("Non-negative: a node never hands out more than it has", check=_non_negative)


def _stock_run(bugs):
    CALLS.clear()
    sim = Simulation(Stock, topology=2, seed=0, bugs=bugs, network={"delay": 4})
    Monitor.attach(sim, [NON_NEGATIVE])
    sim.request("n2", Order("n1", 2))
    sim.request("n2", Order("n1", 2))
    sim.run()
    return sim


def test_a_state_invariant_catches_a_broken_toy_protocol_right_after_the_handler():
    assert NON_NEGATIVE.uses_state and not NON_NEGATIVE.uses_history and NON_NEGATIVE.name == "Non-negative"
    sim = _stock_run(["overdraw"])
    (v,) = sim.violations
    assert (v.node, v["invariant"], v["nodes"], v["detail"]) == ("n1", "Non-negative", ["n1"], "stock -1")
    takes = [e for e in sim.trace.filter("delivered") if isinstance(e["msg"], Take)]
    assert takes[1].seq == v.seq - 1      # evaluated right after the handler that broke it
    assert sim.trace[v.seq + 1].kind == "note"   # ... before its intentions are carried out
    assert sim.nodes["n1"].stock == -1
    # the states were looked at after handler steps only, not after every step
    assert {"n1": -1, "n2": 3} in CALLS and len(CALLS) < sim.steps
    ok = _stock_run([])
    assert ok.violations == [] and ok.nodes["n1"].stock == 1
    assert [e["text"] for e in ok.trace.filter("note")] == ["took", "refused"]


def test_a_state_violation_that_persists_is_reported_once_and_crashed_nodes_are_not_checked():
    sim = _stock_run(["overdraw"])
    sim.request("n2", Order("n1", 1))     # stock -2: a new, distinct violation
    sim.run()
    assert [v["detail"] for v in sim.violations] == ["stock -1", "stock -2"]
    before = len(CALLS)
    sim.crash("n1")
    sim.request("n2", Order("n1", 1))
    sim.run()
    assert sim.trace[-1].kind == "dropped" and sim.trace[-1]["reason"] == "crashed"
    assert CALLS[before:] and all(c == {"n2": 3} for c in CALLS[before:])
    assert len(sim.violations) == 2


def test_invariant_and_liveness_objects():
    inv = Invariant("Short: the rule in words")
    assert inv.name == "Short" and inv.evaluate({}) == [] and inv.observer() is None
    assert not inv.uses_state and not inv.uses_history
    live = Liveness("Progress: something happens", check=lambda nodes: None, within_ticks=10)
    assert live.name == "Progress" and live.evaluate({}) == []
    v = Violation("Short", ("n1", "n2"), "bad")
    assert str(v) == "Short at n1, n2: bad"
    assert as_violations(None) == [] and as_violations(v) == [v] and as_violations((v, v)) == [v, v]
