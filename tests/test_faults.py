"""The random fault injector: seeded crashes, crash points between intentions, partitions."""

from collections import Counter

import pytest

from fttoolkit import BadParameter, InvalidAction
from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
from fttoolkit.sim import FaultPlan, Simulation

CHAOS = dict(crash=0.4, crash_point=0.05, tear=0.7, partition=0.3, oneway=0.3, stop_at=1500)


def chaos_run(seed, bugs=(), nodes=5, **plan):
    sim = Simulation(BroadcastNode, topology=nodes, seed=seed, bugs=bugs, network={"loss": 0.05})
    sim.inject_faults(**{**CHAOS, **plan})
    for k in range(8):
        sim.schedule(60 * k, "request", f"n{1 + k % nodes}", BroadcastRequest(f"v{k}"))
    sim.run(until=4000)
    return sim


def deliveries(sim):
    return Counter((e.node, e["fields"]["id"]) for e in sim.trace.filter("note") if e["text"] == "deliver")


def test_same_seed_same_faults():
    assert chaos_run(5).trace.to_jsonl() == chaos_run(5).trace.to_jsonl()
    assert chaos_run(5).trace.to_jsonl() != chaos_run(6).trace.to_jsonl()


def test_crash_points_fall_between_the_intentions_of_one_handler():
    found = 0
    for seed in range(6):
        sim = chaos_run(seed, crash=0.0, partition=0.0, crash_point=0.2)
        events = list(sim.trace)
        for i, e in enumerate(events):
            if e.kind == "crashed" and e["lost_intentions"] > 0:
                before = events[i - 1]
                # the node had already carried out part of the same handler's intentions
                if before.node == e.node and before.kind in ("sent", "stored", "note", "timer_set"):
                    found += 1
    assert found >= 3


def test_torn_writes_happen_and_are_discarded_on_restart():
    torn = discarded = 0
    for seed in range(12):
        sim = chaos_run(seed, crash=0.0, partition=0.0, crash_point=0.3, tear=1.0)
        torn += sum(1 for e in sim.trace.filter("stored") if e.get("torn"))
        discarded += sum(1 for e in sim.trace.filter("note") if e["text"] == "discarded torn record")
    assert torn >= 1 and discarded >= 1


@pytest.mark.parametrize("seed", range(4))
def test_at_most_max_down_nodes_are_crashed_at_once(seed):
    sim = chaos_run(seed, crash=0.9, crash_point=0.1, max_down=1)
    down = peak = 0
    for e in sim.trace:
        down += {"crashed": 1, "restarted": -1}.get(e.kind, 0)
        peak = max(peak, down)
    assert peak == 1


@pytest.mark.parametrize("seed", range(4))
def test_after_stop_at_everything_heals_restarts_and_agrees(seed):
    sim = chaos_run(seed)
    late = [e for e in sim.trace.filter(["crashed", "partitioned"]) if e.tick >= CHAOS["stop_at"]]
    assert late == []
    assert all(sim.up.values()) and not sim.network.cuts
    # Liveness after the faults stop: every node delivered every message some node delivered.
    ids = {m for (_, m) in deliveries(sim)}
    assert all(sim.nodes[n].delivered == ids for n in sim.ids)


def test_correct_broadcast_never_delivers_twice_under_faults():
    for seed in range(10):
        assert max(deliveries(chaos_run(seed, crash_point=0.1)).values()) == 1


def test_the_injector_finds_the_deliver_before_persist_bug():
    # The bug only shows when a crash falls between "deliver" and "persist":
    # exactly what crash points are for.
    caught = [seed for seed in range(10)
              if max(deliveries(chaos_run(seed, bugs=["deliver-before-persist"], crash_point=0.1)).values()) > 1]
    assert caught


def test_plan_settings_are_checked():
    with pytest.raises(BadParameter, match=r"crash is a probability and must lie in \[0, 1\]"):
        FaultPlan(crash=2)
    with pytest.raises(BadParameter, match="restart_ticks must be a"):
        FaultPlan(restart_ticks=(9, 3))
    with pytest.raises(BadParameter, match="period_ticks must be a whole number >= 1"):
        FaultPlan(period_ticks=0)
    sim = Simulation(BroadcastNode, 3)
    with pytest.raises(BadParameter, match="unknown fault setting 'crashes'; allowed: period_ticks"):
        sim.inject_faults(crashes=0.1)
    sim.inject_faults(crash=0.1)
    with pytest.raises(InvalidAction, match="already has a fault injector"):
        sim.inject_faults(crash=0.1)
