"""Failure detection: heartbeats with a fixed timeout, the φ accrual detector, completeness, QoS."""

import math

import pytest

import fttoolkit
from fttoolkit import BadParameter
from fttoolkit.algorithms.heartbeat import HeartbeatNode, PhiNode, normal_stats, phi_of
from fttoolkit.check.fuzz import run_seed
from fttoolkit.doors.base import register, REGISTRY
from fttoolkit.doors.detection import FailureDetection, HeartbeatDetection, PhiDetection, qos, summarize, sweep

SHAPES = [(m, t) for m in ("push", "pull") for t in ("all", "monitor")]
DELAY = (5, 15)


def suspected_at(door, monitor, member):
    """The tick of the last 'suspect' note of monitor about member (None if it trusts it now)."""
    tick = None
    for e in door.trace.filter("note", node=monitor):
        if e.data["fields"].get("member") == member:
            tick = e.tick if e.data["text"] == "suspect" else None
    return tick


@pytest.mark.parametrize("mode,topology", SHAPES)
def test_heartbeat_suspects_a_crash_within_the_bound_and_trusts_again(mode, topology):
    d = HeartbeatDetection(nodes=4, seed=3, delay=DELAY, mode=mode, topology=topology)
    d.crash("n3", at=400)
    d.run(until=700)
    monitors = ["n1", "n2", "n4"] if topology == "all" else ["n1"]
    bound = d.settings["timeout_ticks"] + DELAY[1]          # timeout + largest delay
    for q in monitors:
        t = suspected_at(d, q, "n3")
        assert t is not None and 400 <= t <= 400 + bound
    assert d.suspects()["n1"] == ["n3"]
    d.restart("n3")
    d.run(until=1000)
    assert all(s == "alive" for s in d.status()["n1"].values())
    assert d.violations == []


@pytest.mark.parametrize("mode,topology", SHAPES)
def test_phi_suspects_a_crash_within_the_bound_and_trusts_again(mode, topology):
    d = PhiDetection(nodes=4, seed=3, delay=DELAY, mode=mode, topology=topology)
    d.crash("n3", at=600)
    d.run(until=900)
    s = d.settings
    jitter = DELAY[1] - DELAY[0] if mode == "push" else 2 * (DELAY[1] - DELAY[0])
    big = s["interval_ticks"] + jitter                     # largest inter-arrival with no loss
    z = 5.612                                              # Φ⁻¹(1 - 1e-8)
    bound = DELAY[1] + big + z * max(big / 2, s["min_std_ticks"]) + 1
    t = suspected_at(d, "n1", "n3")
    assert t is not None and 600 <= t <= 600 + bound
    d.restart("n3")
    d.run(until=1200)
    assert d.suspects()["n1"] == []
    assert d.violations == []


def test_phi_matches_a_hand_computation():
    node = PhiNode("n1", peers=("n2",), params={"window": 3, "min_std_ticks": 1})
    node.start([])
    for t in (45, 100, 150, 210):              # intervals 45 55 50 60 -> window keeps 55 50 60
        node.now = t
        node.handle_message(fttoolkit.algorithms.heartbeat.Heartbeat(t), "n2")
    assert node.intervals["n2"] == [55, 50, 60]
    mean, std = 55.0, math.sqrt(50 / 3)
    assert node.stats("n2") == pytest.approx((mean, std))
    # φ(Δ) = -log10(1 - Φ((Δ - μ) / σ)), Δ = 80 after the last arrival
    p_later = 1 - 0.5 * (1 + math.erf((80 - mean) / (std * math.sqrt(2))))
    assert node.phi("n2", 290) == pytest.approx(-math.log10(p_later), rel=1e-6)
    assert node.phi("n2", 210 + 55) == pytest.approx(math.log10(2))
    assert phi_of(10_000, 50, 5) == math.inf
    assert normal_stats([50, 50], 5) == (50.0, 5)


def test_the_bug_makes_many_false_suspicions_and_the_right_setting_none():
    good = summarize(qos("heartbeat", 2, nodes=4, until=1500, crash_at=None))
    bad = summarize(qos("heartbeat", 2, nodes=4, until=1500, crash_at=None, bugs=["timeout-below-interval"]))
    assert good["P_A"] == 1.0 and good["mistakes"] == 0
    assert bad["P_A"] < 0.7 and bad["mistakes"] > 50


def test_qos_behaves_with_the_timeout():
    rows = sweep("heartbeat", "timeout_ticks", [40, 80, 160], seeds=2, nodes=4, until=1800, crash_at=1200,
                 delay=(5, 40), loss=0.05)
    t_d = [r["T_D"] for r in rows]
    p_a = [r["P_A"] for r in rows]
    assert t_d == sorted(t_d) and t_d[0] < t_d[-1]
    assert p_a == sorted(p_a) and p_a[0] < p_a[-1]
    assert rows[0]["T_MR"] < rows[-1]["T_MR"]
    assert rows[0]["msgs_per_member_period"] == pytest.approx(3, rel=0.05)   # push, all: n - 1


def test_qos_phi_threshold_and_columns():
    low, high = sweep("phi", "threshold", [0.5, 8], seeds=2, nodes=4, until=2000, crash_at=1500,
                      delay=(5, 40), loss=0.1)
    assert low["T_D"] < high["T_D"] and low["P_A"] < high["P_A"]
    row = qos(PhiDetection, [7], nodes=3, until=1000, crash_at=700)[0]
    assert set(row) >= {"detector", "seed", "nodes", "T_D", "T_D_max", "T_MR", "T_M", "P_A", "mistakes",
                        "msgs_per_member_period"}


@pytest.mark.parametrize("door", [HeartbeatDetection, PhiDetection])
@pytest.mark.parametrize("profile", ["crash", "chaos"])
def test_completeness_holds_on_fuzz_seeds(door, profile):
    for seed in range(4):
        for topology in ("all", "monitor"):
            result = run_seed(door, seed, profile=profile, params={"topology": topology}, ticks=1200)
            assert not result.failed, result.violations


class _NeverSuspects(HeartbeatNode):
    def on_silence(self, timer):
        pass


@register
class _Deaf(HeartbeatDetection):
    name = "_test-never-suspects"
    node_class = _NeverSuspects


def test_completeness_catches_a_detector_that_never_suspects():
    try:
        d = _Deaf(nodes=3, seed=1)
        d.crash("n2", at=100)
        d.run(until=400)
        assert d.violations and d.violations[0]["invariant"] == "Completeness"
        found = [run_seed(_Deaf, s, profile="crash", ticks=1000) for s in range(3)]
        assert any(r.failed and r.violations[0].invariant == "Completeness" for r in found)
    finally:
        REGISTRY.pop(_Deaf.name, None)


def test_determinism():
    a = qos("phi", [5], nodes=4, until=1000, crash_at=600, delay=(5, 30), loss=0.05)
    b = qos("phi", [5], nodes=4, until=1000, crash_at=600, delay=(5, 30), loss=0.05)
    assert a == b
    one, two = (HeartbeatDetection(nodes=3, seed=9, loss=0.2) for _ in range(2))
    one.run(until=500)
    two.run(until=500)
    assert [e.to_dict() for e in one.trace] == [e.to_dict() for e in two.trace]


def test_front_door_and_bad_inputs():
    assert isinstance(fttoolkit.FailureDetection("phi", nodes=3), PhiDetection)
    assert isinstance(FailureDetection(nodes=3), HeartbeatDetection)
    with pytest.raises(BadParameter, match="unknown detector 'gossip'"):
        FailureDetection("gossip")
    with pytest.raises(BadParameter, match="mode must be 'push' or 'pull'"):
        HeartbeatDetection(mode="poll")
    with pytest.raises(BadParameter, match="topology must be 'all' or 'monitor'"):
        PhiDetection(topology="ring")
    with pytest.raises(BadParameter, match="timeout_ticks must be a whole number >= 1"):
        HeartbeatDetection(timeout_ticks=0)
    with pytest.raises(BadParameter, match="threshold must be a number"):
        PhiDetection(threshold=-1)
    with pytest.raises(BadParameter, match="no parameter 'timeout_ticks'"):
        PhiDetection(timeout_ticks=10)
    with pytest.raises(BadParameter, match="monitor 'n9' is not in the cluster"):
        HeartbeatDetection(nodes=3, topology="monitor", monitor="n9")
    with pytest.raises(BadParameter, match="crash_at must be between"):
        qos("heartbeat", 1, until=100, crash_at=200)
    with pytest.raises(BadParameter, match="only monitor"):
        qos("heartbeat", 1, until=300, crash_at=100, crash="n1", topology="monitor")
    d = PhiDetection(nodes=3, topology="monitor")
    with pytest.raises(BadParameter, match="does not monitor"):
        d.phi("n1", "n1")
    d.run(until=10)
    assert d.suspects() == {"n1": []}
