"""SWIM (Das, Gupta & Motivala 2002): probing, indirect probes, suspicion, incarnations, gossip, bugs."""

import math

import pytest

from fttoolkit.algorithms.swim import Ack, Ping, PingReq, SwimNode
from fttoolkit.check.fuzz import fuzz
from fttoolkit.core.errors import BadParameter
from fttoolkit.doors.swim import SwimDetection


def sends(door, kind, src=None, dst=None):
    return [e for e in door.trace if e.kind == "sent" and type(e.data["msg"]) is kind
            and (src is None or e.node == src) and (dst is None or e.data["dst"] == dst)]


def own_suspicions(door):
    return [e for e in door.trace if e.kind == "note" and e.data["text"] == "suspect"
            and e.data["fields"]["source"] == "probe"]


def test_one_target_per_period_and_round_robin_covers_everyone():
    n = 6
    g = SwimDetection(nodes=n, seed=3, delay=1)
    g.run(until=100 * 3 * n)
    pings = [e for e in sends(g, Ping, src="n1")]
    periods = {}
    for e in pings:
        periods.setdefault(e.tick // 100, []).append(e.data["dst"])
    # every direct Ping of n1 is its period's only one (no loss: no PingReq helpers ping for it)
    ticks = [e.tick for e in pings]
    assert all(b - a == 100 for a, b in zip(ticks, ticks[1:]))
    targets = [e.data["dst"] for e in pings]
    for start in range(0, len(targets) - (n - 1) + 1, n - 1):   # each round: everyone once
        assert sorted(targets[start:start + n - 1]) == sorted(g.node("n1").peers)
    assert not own_suspicions(g)


def test_indirect_probe_relays_the_ack():
    g = SwimDetection(nodes=4, seed=1, delay=2)
    g.set_link("n1", "n2", loss=1.0)            # n1's Pings to n2 are lost, the other links work
    g.run(until=600)
    assert sends(g, PingReq, src="n1")
    helpers = {e.data["dst"] for e in sends(g, PingReq, src="n1") if e.data["msg"].target == "n2"}
    relayed = [e for e in sends(g, Ack, dst="n1") if e.node in helpers and e.data["msg"].member == "n2"]
    assert relayed
    assert not [e for e in own_suspicions(g) if e.node == "n1"]
    assert g.statuses()["n1"]["n2"] == "alive"


def test_suspicion_is_refuted_with_a_higher_incarnation():
    node = SwimNode("n1", peers=("n2", "n3"))
    node.start([])
    out = node.handle_message(Ping(1, (("suspect", "n1", 0),)), "n2")
    assert node.incarnation == 1
    assert out[-1].msg.updates[0] == ("alive", "n1", 1)
    other = SwimNode("n2", peers=("n1", "n3"))
    other.start([])
    other.handle_message(Ack("n3", 5, (("suspect", "n1", 0),)), "n3")
    assert other.status["n1"] == "suspected"
    other.handle_message(Ack("n3", 5, (("alive", "n1", 1),)), "n3")
    assert other.status["n1"] == "alive" and other.incarnations["n1"] == 1
    # a stale suspicion (incarnation 0) does not override the refutation
    other.handle_message(Ack("n3", 5, (("suspect", "n1", 0),)), "n3")
    assert other.status["n1"] == "alive"


def test_bug_no_incarnation_lets_a_stale_suspicion_win():
    node = SwimNode("n2", peers=("n1", "n3"), bugs=["no-incarnation"])
    node.start([])
    for update in (("suspect", "n1", 0), ("alive", "n1", 1), ("suspect", "n1", 0)):
        node.handle_message(Ack("n3", 5, (update,)), "n3")
    assert node.status["n1"] == "suspected"


def test_crash_is_suspected_then_confirmed_by_everyone_in_the_bound():
    g = SwimDetection(nodes=5, seed=2)
    g.run(until=300)
    g.crash("n4")
    crashed_at = g.now
    g.run(until=crashed_at + g.completeness_bound())
    assert all(s["n4"] == "dead" for i, s in g.statuses().items() if s is not None)
    suspected = {node for _, node, m in g.notes("suspect") if m == "n4"}
    confirms = [(t, node) for t, node, m in g.notes("confirm") if m == "n4"]
    assert suspected == {"n1", "n2", "n3", "n5"}
    first_suspect = min(t for t, _, m in g.notes("suspect") if m == "n4")
    assert min(t for t, _ in confirms) >= first_suspect + 5 * 100     # suspect_timeout_periods
    assert not g.violations


def test_updates_only_piggyback():
    g = SwimDetection(nodes=6, seed=4, loss=0.1)
    g.run(until=2000)
    g.crash("n2")
    g.run(until=5000)
    kinds = {type(e.data["msg"]).__name__ for e in g.trace if e.kind == "sent"}
    assert kinds <= {"Ping", "Ack", "PingReq"}
    assert any(e.data["msg"].updates for e in g.trace if e.kind == "sent")


def test_no_indirect_multiplies_false_suspicions_under_loss():
    def false_suspicions(bugs):
        return sum(len(own_suspicions(g)) for g in
                   [SwimDetection(nodes=8, seed=s, loss=0.2, bugs=bugs) for s in range(3)]
                   if g.run(until=3000) is not None)
    correct, buggy = false_suspicions([]), false_suspicions(["no-indirect"])
    assert buggy > 1.6 * correct, (correct, buggy)


def test_fuzz_seeds_find_no_completeness_violation():
    report = fuzz(SwimDetection, 15, nodes=6)
    assert report.violations == 0


def test_mean_first_probe_close_to_e_over_e_minus_1():
    periods = SwimDetection.first_probe_periods(100, nodes=50)
    mean = sum(periods) / len(periods)
    assert abs(mean - math.e / (math.e - 1)) < 0.25, mean


def test_deterministic():
    def run():
        g = SwimDetection(nodes=5, seed=9, loss=0.1)
        g.run(until=1500)
        g.crash("n3")
        g.run(until=3000)
        return [(e.tick, e.kind, e.node) for e in g.trace], g.statuses()
    assert run() == run()


def test_messages_per_member_per_period_is_constant():
    rates = []
    for n in (10, 40):
        g = SwimDetection(nodes=n, seed=1, check=False)
        g.run(until=2000)
        rates.append(g.messages_per_member_per_period(start=100))
    assert rates == [2.0, 2.0]


@pytest.mark.parametrize("params, text", [
    ({"period_ticks": 0}, "period_ticks must be a whole number >= 1"),
    ({"ack_timeout_ticks": 200}, "must be shorter than period_ticks"),
    ({"k": -1}, "k must be a whole number >= 0"),
    ({"piggyback_lambda": 0}, "piggyback_lambda must be a number > 0"),
    ({"tempo": 3}, "has no parameter 'tempo'"),
])
def test_bad_input(params, text):
    with pytest.raises(BadParameter, match=text):
        SwimDetection(nodes=3, **params)


def test_bad_bug_and_range():
    with pytest.raises(BadParameter, match="no bug 'no-gossip'"):
        SwimDetection(nodes=3, bugs=["no-gossip"])
    with pytest.raises(BadParameter, match="need end > start"):
        SwimDetection(nodes=3).messages_per_member_per_period(start=10, end=5)
