"""Chapter 0 and 1 building blocks: availability mathematics, consistent hashing, and logical clocks.

The formulas are checked against brute force (every up/down state of n replicas, the ring searched point by
point, happened-before as reachability in the run's event graph) and against a simulation of independent
failures and repairs."""

import itertools
import math
import random
import subprocess
import sys

import pytest

from fttoolkit import Broadcast
from fttoolkit.algorithms.availability import (MINUTES_PER_YEAR, availability, downtime_minutes_per_year, from_nines,
                                               k_of_n, majority, mttr_for, nines, parallel, series, unavailability)
from fttoolkit.algorithms.hashing import (RING_SIZE, HashRing, ModuloHashing, imbalance, load, moved, point,
                                          rebalance_experiment, vnode_label)
from fttoolkit.check.clocks import (BUGS, VectorClock, clock_condition, concurrent, happened_before, lamport_clocks,
                                    vector_clocks)
from fttoolkit.core.errors import BadParameter, InvalidAction, UnknownNode


# =============================================================================== availability
def test_availability_nines_and_downtime():
    assert availability(999, 1) == 0.999 and availability(0, 5) == 0.0 and availability(5, 0) == 1.0
    assert nines(0.999) == 3.0 and nines(0.99999) == 5.0 and nines(1.0) == math.inf
    assert nines(from_nines(4)) == 4.0 and round(nines(0.9995), 3) == 3.301
    assert MINUTES_PER_YEAR == 525_960
    assert round(downtime_minutes_per_year(0.99999), 2) == 5.26             # five nines: about 5 minutes a year
    assert round(downtime_minutes_per_year(0.999) / 60, 2) == 8.77           # three nines: about 8.8 hours
    assert downtime_minutes_per_year(0.0) == MINUTES_PER_YEAR and downtime_minutes_per_year(1.0) == 0.0
    assert round(unavailability(0.75), 12) == 0.25
    for target in (0.9, 0.999, 0.99999):
        assert math.isclose(availability(500, mttr_for(target, 500)), target, rel_tol=1e-12)


def brute_force_at_least(k, avail):
    """P(at least k up) by summing over all 2**n up/down states of independent components."""
    total = 0.0
    for state in itertools.product((True, False), repeat=len(avail)):
        if sum(state) >= k:
            total += math.prod(a if up else 1 - a for up, a in zip(state, avail))
    return total


@pytest.mark.parametrize("n", range(1, 8))
def test_k_of_n_and_majority_match_every_state(n):
    rng = random.Random(n)
    for a in (0.0, 0.5, 0.9, 0.999, 1.0, rng.random()):
        for k in range(0, n + 1):
            assert math.isclose(k_of_n(k, n, a), brute_force_at_least(k, [a] * n), rel_tol=1e-12, abs_tol=1e-15)
        # the course's formula: sum over k > n/2 of C(n,k) a^k (1-a)^(n-k)
        formula = sum(math.comb(n, k) * a ** k * (1 - a) ** (n - k) for k in range(n + 1) if k > n / 2)
        assert math.isclose(majority(n, a), formula, rel_tol=1e-12, abs_tol=1e-15)


def test_series_and_parallel_are_the_extremes_of_k_of_n():
    rng = random.Random(7)
    for _ in range(50):
        avail = [rng.random() for _ in range(rng.randint(1, 5))]
        assert math.isclose(series(*avail), brute_force_at_least(len(avail), avail), rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(parallel(*avail), brute_force_at_least(1, avail), rel_tol=1e-12, abs_tol=1e-15)
        assert series(*avail) <= min(avail) <= max(avail) <= parallel(*avail)
        assert series(avail) == series(*avail) and parallel(tuple(avail)) == parallel(*avail)
    a = 0.9
    assert k_of_n(1, 3, a) == pytest.approx(parallel(a, a, a)) and k_of_n(3, 3, a) == pytest.approx(series(a, a, a))


def test_majority_facts_the_chapter_states():
    a = 0.99
    assert majority(3, a) > a > series(a, a)                           # 3 replicas beat one; two in series lose
    assert majority(4, a) < majority(3, a)                             # an even n needs more, tolerates no more
    assert majority(5, a) > majority(3, a) > majority(1, a) == a
    assert majority(3, 0.4) < 0.4                                      # below 1/2, a majority makes things worse
    assert round(majority(3, 0.99), 6) == 0.999702 and round(nines(majority(5, 0.99)), 2) == 5.01


@pytest.mark.parametrize("call, says", [
    (lambda: availability(-1, 1), "mttf must be a finite time >= 0"),
    (lambda: availability(1, -0.5), "mttr must be a finite time >= 0"),
    (lambda: availability(0, 0), "cannot both be 0"),
    (lambda: availability("10", 1), "must be a number"),
    (lambda: availability(math.inf, 1), "finite"),
    (lambda: nines(1.2), "between 0 and 1"),
    (lambda: downtime_minutes_per_year(-0.1), "between 0 and 1"),
    (lambda: series(0.9, 1.5), "between 0 and 1"),
    (lambda: parallel(), "at least one availability"),
    (lambda: k_of_n(4, 3, 0.9), "cannot exceed n"),
    (lambda: k_of_n(-1, 3, 0.9), "k must be at least 0"),
    (lambda: k_of_n(1, 3, float("nan")), "NaN"),
    (lambda: majority(0, 0.9), "n must be at least 1"),
    (lambda: majority(2.5, 0.9), "whole number"),
    (lambda: majority(True, 0.9), "whole number"),
    (lambda: mttr_for(0, 10), "target must be > 0"),
])
def test_bad_inputs_say_what_is_allowed(call, says):
    with pytest.raises(BadParameter, match=says):
        call()


def simulate_up_fraction(n, mttf, mttr, horizon, rng, need):
    """Fraction of time at least ``need`` of ``n`` independent components are up (exponential up/down times)."""
    changes = []
    for c in range(n):
        t, up = 0.0, True
        while t < horizon:
            t += rng.expovariate(1 / (mttf if up else mttr))
            up = not up
            changes.append((min(t, horizon), c, up))
    changes.sort()
    state = [True] * n
    last, good = 0.0, 0.0
    for t, c, up in changes:
        if sum(state) >= need:
            good += t - last
        last = t
        state[c] = up
    return good / horizon


def test_the_formulas_match_a_simulation_of_independent_failures_and_repairs():
    rng = random.Random(2024)
    mttf, mttr = 90.0, 10.0
    a = availability(mttf, mttr)                                       # 0.9
    one = simulate_up_fraction(1, mttf, mttr, 200_000, rng, 1)
    three = simulate_up_fraction(3, mttf, mttr, 200_000, rng, 2)
    assert abs(one - a) < 0.01
    assert abs(three - majority(3, a)) < 0.01 and three > one
    assert abs(simulate_up_fraction(2, mttf, mttr, 200_000, rng, 2) - series(a, a)) < 0.015


# ================================================================================== hashing
def successor_by_search(ring_points, key):
    """The node of the first point at or after the key's, wrapping around: searched point by point."""
    p = point(key)
    at_or_after = [(q, node) for q, node in ring_points if q >= p]
    return min(at_or_after or ring_points)[1]


def test_point_is_md5_based_and_the_same_in_every_process():
    assert point("n1#0") == 14382606119453365543 and 0 <= point("x") < RING_SIZE
    assert vnode_label("n3", 7) == "n3#7" and point(5) == point("5") and point(b"5") == point("5")
    code = ("from fttoolkit.algorithms.hashing import HashRing; r = HashRing(['n1','n2','n3'], vnodes=20); "
            "print([r.lookup(f'k{i}') for i in range(30)])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")}
    ring = HashRing(["n1", "n2", "n3"], vnodes=20)
    assert outs == {str([ring.lookup(f"k{i}") for i in range(30)]) + "\n"}


@pytest.mark.parametrize("vnodes", [1, 3, 40])
def test_lookup_is_the_successor_on_the_ring(vnodes):
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    ring = HashRing(nodes, vnodes=vnodes)
    everything = [(point(vnode_label(node, i)), node) for node in nodes for i in range(vnodes)]
    assert len(ring.points()) == len(everything)
    for i in range(500):
        key = f"user:{i}"
        assert ring.lookup(key) == successor_by_search(everything, key)
        prefs = ring.preference_list(key, 3)
        assert prefs[0] == ring.lookup(key) and len(set(prefs)) == 3
    top = max(everything)
    beyond = next(f"w{i}" for i in itertools.count() if point(f"w{i}") > top[0])   # past the last point: wraps
    assert ring.lookup(beyond) == min(everything)[1]


def test_preference_list_walks_clockwise_over_distinct_nodes():
    ring = HashRing(["n1", "n2", "n3", "n4"], vnodes=8)
    for i in range(200):
        key = f"k{i}"
        prefs = ring.preference_list(key, 4)
        assert sorted(prefs) == ["n1", "n2", "n3", "n4"]
        # removing the owner hands the key to the second node of its list, and so on
        smaller = ring.copy()
        smaller.remove(prefs[0])
        assert smaller.preference_list(key, 3) == prefs[1:]


def test_ownership_is_the_share_of_the_ring_and_of_the_keys():
    ring = HashRing(["n1", "n2", "n3"], vnodes=1)
    arcs = ring.ownership()
    assert math.isclose(sum(arcs.values()), 1.0, rel_tol=1e-12)
    keys = [f"key{i}" for i in range(20000)]
    counts = load(ring, keys)
    for node, share in arcs.items():
        assert abs(counts[node] / len(keys) - share) < 0.015
    assert ModuloHashing(["a", "b", "c"]).ownership()["a"] == pytest.approx(1 / 3)


def test_a_join_moves_keys_only_to_the_joiner_and_a_leave_only_from_the_leaver():
    keys = [f"key{i}" for i in range(5000)]
    ring = HashRing([f"n{i}" for i in range(1, 11)], vnodes=100)
    bigger = ring.copy()
    bigger.add("n11")
    changed = [k for k in keys if ring.lookup(k) != bigger.lookup(k)]
    assert all(bigger.lookup(k) == "n11" for k in changed)
    assert abs(len(changed) / len(keys) - 1 / 11) < 0.03
    smaller = ring.copy()
    smaller.remove("n4")
    changed = [k for k in keys if ring.lookup(k) != smaller.lookup(k)]
    assert changed == [k for k in keys if ring.lookup(k) == "n4"]
    assert abs(len(changed) / len(keys) - 1 / 10) < 0.03
    assert "n4" in ring and "n4" not in smaller and len(smaller) == 9     # copies are independent
    # modulo hashing reshuffles almost everything
    modulo = moved(ModuloHashing(ring.nodes), ModuloHashing(bigger.nodes), keys)
    assert abs(modulo - 10 / 11) < 0.02


def test_virtual_nodes_even_out_the_load():
    rows = rebalance_experiment(n_nodes=10, vnodes=[1, 10, 100, 400], keys=4000, trials=3)
    ring = {r["vnodes"]: r for r in rows if r["scheme"] == "ring"}
    modulo = [r for r in rows if r["scheme"] == "modulo"]
    shares = [ring[v]["share_imbalance"] for v in (1, 10, 100, 400)]
    assert shares == sorted(shares, reverse=True) and shares[0] > 1.6 and shares[-1] < 1.15
    assert ring[400]["imbalance"] < ring[1]["imbalance"]
    for v in (100, 400):
        assert abs(ring[v]["moved_join"] - 1 / 11) < 0.025 and abs(ring[v]["moved_leave"] - 1 / 10) < 0.025
    assert all(abs(r["moved_join"] - 10 / 11) < 0.02 and abs(r["moved_leave"] - 9 / 10) < 0.02 for r in modulo)
    assert {(r["expected_join"], r["expected_leave"]) for r in modulo} == {(10 / 11, 9 / 10)}
    assert ring[1]["expected_join"] == 1 / 11 and all(r["trials"] == 3 and r["keys"] == 4000 for r in rows)


def test_a_bigger_node_gets_a_bigger_share():
    ring = HashRing(["n1", "n2"], vnodes=200)
    ring.add("big", vnodes=400)
    shares = ring.ownership()
    assert abs(shares["big"] - 0.5) < 0.06 and abs(shares["n1"] - 0.25) < 0.06


def test_load_imbalance_and_moved_helpers():
    assert imbalance({"a": 10, "b": 10}) == 1.0 and imbalance({"a": 30, "b": 0, "c": 0}) == 3.0
    assert load(lambda k: "x", ["a", "b"]) == {"x": 2}
    assert moved(lambda k: "x", lambda k: "y", ["a", "b"]) == 1.0


@pytest.mark.parametrize("call, error, says", [
    (lambda: HashRing(["n1", "n1"]), InvalidAction, "on the ring already"),
    (lambda: HashRing(["n1"]).remove("n2"), UnknownNode, "'n2' is not on the ring; nodes: n1"),
    (lambda: HashRing(vnodes=0), BadParameter, "vnodes"),
    (lambda: HashRing().lookup("k"), InvalidAction, "no nodes"),
    (lambda: HashRing(["n1"]).lookup(1.5), BadParameter, "strings, integers or bytes"),
    (lambda: HashRing([3]), BadParameter, "non-empty string"),
    (lambda: HashRing(["n1", "n2"]).preference_list("k", 3), BadParameter, "from 1 to the number of nodes"),
    (lambda: ModuloHashing().lookup("k"), InvalidAction, "no nodes"),
    (lambda: ModuloHashing(["a"]).remove("b"), UnknownNode, "not placed"),
    (lambda: imbalance({"a": 0}), BadParameter, "no keys"),
    (lambda: moved(lambda k: 1, lambda k: 1, []), BadParameter, "at least one key"),
    (lambda: rebalance_experiment(n_nodes=1), BadParameter, "n_nodes"),
    (lambda: rebalance_experiment(vnodes=[]), BadParameter, "non-empty"),
    (lambda: rebalance_experiment(keys=0), BadParameter, "keys must be at least 1"),
])
def test_hashing_errors_say_what_is_allowed(call, error, says):
    with pytest.raises(error, match=says):
        call()


# =================================================================================== clocks
def happened_before_by_reachability(trace):
    """The process events of a run and, for each, the set of events that happened before it.

    Independent of the clocks: the graph of process order and message edges, closed transitively.
    """
    events, original = [], {}
    for e in trace:
        if e.kind == "duplicated":
            original[e["mid"]] = original.get(e["of"], e["of"])
        if e.kind in ("sent", "delivered") and e["src"] != e["dst"]:
            events.append(e)
    index = {e.seq: k for k, e in enumerate(events)}
    before = [0] * len(events)                   # bitsets of predecessors
    last, sends = {}, {}
    for k, e in enumerate(events):
        node = e["src"] if e.kind == "sent" else e["dst"]
        if node in last:
            j = last[node]
            before[k] |= before[j] | (1 << j)
        last[node] = k
        if e.kind == "sent":
            sends[e["mid"]] = k
        else:
            j = sends.get(original.get(e["mid"], e["mid"]))
            if j is not None:
                before[k] |= before[j] | (1 << j)
    return events, index, before


def runs():
    """Broadcast runs with loss, duplication, reordering, a crash and a restart."""
    calm = Broadcast(nodes=3, seed=1)
    calm.broadcast("n1", "a")
    calm.broadcast("n3", "b", at=4)
    calm.run(until=400)
    yield "calm", calm
    rough = Broadcast(nodes=4, seed=5, loss=0.2, duplicate=0.3, reorder=0.5, delay=(2, 30))
    rough.broadcast("n1", "x")
    rough.broadcast("n2", "y", at=3)
    rough.crash("n3", at=20)
    rough.restart("n3", at=150)
    rough.broadcast("n4", "z", at=160)
    rough.run(until=700)
    assert rough.trace.counts().get("duplicated", 0) > 0 and rough.trace.counts().get("dropped", 0) > 0
    yield "rough", rough


@pytest.mark.parametrize("name, cluster", list(runs()), ids=lambda x: x if isinstance(x, str) else "")
def test_vector_clocks_characterise_happened_before_and_lamport_clocks_respect_it(name, cluster):
    events, index, before = happened_before_by_reachability(cluster.trace)
    vector = vector_clocks(cluster)
    lamport = lamport_clocks(cluster)
    assert [e.seq for e in vector] == [e.seq for e in lamport] == [e.seq for e in events]
    assert 30 < len(events) < 400
    lamport_converse_fails = False
    for a, b in itertools.permutations(range(len(events)), 2):
        hb = bool(before[b] >> a & 1)
        assert happened_before(vector[a], vector[b]) == hb                  # exactly
        assert concurrent(vector[a], vector[b]) == (not hb and not (before[a] >> b & 1))
        if hb:
            assert lamport[a].clock < lamport[b].clock                      # the clock condition
        elif lamport[a].clock < lamport[b].clock:
            lamport_converse_fails = True                                   # but not its converse
    assert lamport_converse_fails
    assert clock_condition(vector) == [] and clock_condition(lamport) == []


def test_each_receive_matches_its_send_even_for_a_duplicate():
    cluster = dict(runs())["rough"]
    events = vector_clocks(cluster)
    sends = {e.mid: e for e in events if e.kind == "send"}
    receives = [e for e in events if e.kind == "receive"]
    copies = {e["mid"]: e["of"] for e in cluster.trace.filter("duplicated")}
    assert any(e.mid in copies.values() for e in receives)
    by_mid = {}
    for e in receives:
        send = sends[e.mid]
        assert (send.node, send.peer, send.message) == (e.peer, e.node, e.message)
        assert happened_before(send, e) and e.clock[e.node] > send.clock[e.node]
        assert all(e.clock[i] >= send.clock[i] for i in cluster.ids)
        by_mid.setdefault(e.mid, []).append(e)
    assert any(len(r) > 1 for r in by_mid.values())           # one send, two receives: the copy


def test_the_ignore_timestamp_bug_breaks_the_clock_condition_and_is_caught():
    cluster = dict(runs())["calm"]
    events, index, before = happened_before_by_reachability(cluster.trace)
    for stamp in (lamport_clocks, vector_clocks):
        broken = stamp(cluster, bugs=["ignore-timestamp"])
        found = clock_condition(broken)
        assert found and found[0].invariant == "Clock condition" and "happened before" in found[0].detail
        receive = next(e for e in broken if e.kind == "receive")
        assert any(v.nodes == (receive.peer, receive.node) for v in found)
    vector = vector_clocks(cluster, bugs="ignore-timestamp")
    assert any(bool(before[b] >> a & 1) and not happened_before(vector[a], vector[b])
               for a, b in itertools.permutations(range(len(events)), 2))
    assert set(BUGS) == {"ignore-timestamp"}


def test_local_events_and_loopback_join_the_process_lines():
    cluster = dict(runs())["calm"]
    plain = lamport_clocks(cluster)
    more = lamport_clocks(cluster, local=["request", "timer_fired"])
    kinds = {e.kind for e in more}
    assert {"request", "timer_fired", "send", "receive"} <= kinds and len(more) > len(plain)
    assert clock_condition(more) == [] and clock_condition(vector_clocks(cluster, local="timer_fired")) == []
    first = more[0]
    assert first.kind == "request" and first.clock == 1 and first.node == "n1"
    # a node's own events get increasing clocks
    for node in cluster.ids:
        mine = [e.clock for e in more if e.node == node]
        assert mine == sorted(set(mine))


def test_clocks_read_off_the_diagram():
    cluster = Broadcast(nodes=3, seed=1, delay=10)
    cluster.broadcast("n1", "hi")
    cluster.run()
    vector = vector_clocks(cluster)
    first = vector[0]
    assert (first.node, first.kind, first.tick, first.peer, first.message) == ("n1", "send", 0, "n2", "Rumor")
    assert first.clock.as_dict() == {"n1": 1, "n2": 0, "n3": 0} and repr(first) == "n1 send Rumor->n2 C=[1 0 0]"
    assert [e.clock for e in lamport_clocks(cluster.trace)] == [e.clock for e in lamport_clocks(cluster)]
    assert vector_clocks(cluster.trace)[5].clock.ids == ("n1", "n2", "n3")


@pytest.mark.parametrize("call, says", [
    (lambda c: lamport_clocks(c, local=["sent"]), "cannot be a local event"),
    (lambda c: lamport_clocks(c, bugs=["no-such-bug"]), "unknown bug"),
    (lambda c: vector_clocks(c, ids=["n1", "n2"]), "not in ids"),
    (lambda c: lamport_clocks(42), "expected a trace"),
    (lambda c: happened_before(lamport_clocks(c)[0], lamport_clocks(c)[1]), "compare vector clocks"),
    (lambda c: VectorClock(("n1",), (1,)) < VectorClock(("n2",), (2,)), "different processes"),
    (lambda c: VectorClock(("n1",), (1,))["n9"], "not a process"),
])
def test_clock_errors_say_what_is_allowed(call, says):
    cluster = Broadcast(nodes=3, seed=1)
    cluster.broadcast("n1", "hi")
    cluster.run(until=100)
    with pytest.raises(BadParameter, match=says):
        call(cluster)
