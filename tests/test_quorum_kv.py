"""The quorum-replicated key-value store, checked against Gifford, "Weighted Voting for Replicated Data"
(1979: R + W > N makes every read quorum meet every write quorum), DeCandia et al., "Dynamo" (2007:
R, W, sloppy quorums, read repair), and Gilbert & Lynch (2002: under a partition, consistency or
availability).

Unless a test says otherwise: N = 3 replicas, majority quorums, cp mode, every message takes 10 ticks.
"""

import math

import pytest

from fttoolkit import BadParameter, QuorumStore, UnknownNode
from fttoolkit.algorithms.quorum_kv import (INVARIANTS, NEVER, Get, GetOk, Put, PutOk, QuorumNode, Read, ReadReply,
                                            Refused, Write, WriteAck, concurrent_puts, lost_puts, stale_read,
                                            stale_reads)
from fttoolkit.check.fuzz import fuzz
from fttoolkit.core.history import Operation
from fttoolkit.core.intentions import Persist, Send, Torn
from fttoolkit.doors.quorum import availability_experiment, cap_experiment, stale_read_experiment
from fttoolkit.scenario import ScriptError, preset_failures, replay


def store(**kw):
    kw.setdefault("delay", 10)
    return QuorumStore(n=kw.pop("n", 3), seed=kw.pop("seed", 1), **kw)


def broken(kv):
    return [v["invariant"] for v in kv.violations]


def op(records, op_id):
    return next(r for r in records if r["op"] == op_id)


# ------------------------------------------------------------------------ the protocol
def test_messages_read_like_a_transcript():
    assert repr(Put("x", 1, "op1")) == "Put(op1, x=1)" and repr(Get("x", "op2")) == "Get(op2, x)"
    assert repr(ReadReply("op1", "x", (2, "n3"), "b")) == "ReadReply(op1, x='b', 2/n3)"
    assert repr(Write("op1", "x", (3, "n1"), 1)) == "Write(op1, x=1, 3/n1)"
    assert repr(PutOk("op1", (3, "n1"), NEVER)) == "PutOk(op1, 3/n1, after 0)"
    assert repr(Refused("op1", "no quorum")) == "Refused(op1, 'no quorum')"


def test_a_get_answers_with_the_newest_of_r_copies():
    node = QuorumNode("n1", peers=("n2", "n3", "n4", "n5"))          # N = 5, R = 3
    node.start([("put", "x", (1, "n2"), "old")])
    out = node.handle_message(Get("x", "op1"), "c1")
    assert [i.to for i in out if isinstance(i, Send)] == ["n2", "n3", "n4", "n5"]
    assert node.handle_message(ReadReply("op1", "x", (4, "n3"), "new"), "n3") == []      # 2 copies of 3
    out = node.handle_message(ReadReply("op1", "x", (1, "n2"), "old"), "n2")
    assert out[0] == Send("c1", GetOk("op1", "new", (4, "n3")))
    # read repair: its own copy (installed and forced) and n2's, both older than 4/n3
    assert Persist((("put", "x", (4, "n3"), "new"),)) in out
    assert any(isinstance(i, Send) and i.to == "n2" and type(i.msg).__name__ == "Repair" for i in out)


def test_a_put_reads_versions_then_writes_one_higher_forced_before_it_is_sent():
    node = QuorumNode("n1", peers=("n2", "n3"))
    node.start([])
    node.handle_message(Put("x", 7, "op1"), "c1")
    out = node.handle_message(ReadReply("op1", "x", (5, "n3"), "v"), "n3")       # R = 2 copies: phase 2
    io = [i for i in out if isinstance(i, (Persist, Send))]
    assert [type(i).__name__ for i in io] == ["Persist", "Send", "Send"]           # own copy forced first
    assert io[0] == Persist((("put", "x", (6, "n1"), 7),)) and io[1].msg == Write("op1", "x", (6, "n1"), 7)
    out = node.handle_message(WriteAck("op1", (6, "n1")), "n2")                    # W = 2 copies
    assert Send("c1", PutOk("op1", (6, "n1"), (5, "n3"))) in out


def test_a_replica_forces_a_write_before_acknowledging_it_and_keeps_the_newer_copy():
    node = QuorumNode("n2", peers=("n1", "n3"))
    node.start([])
    out = node.handle_message(Write("op1", "x", (2, "n1"), "a"), "n1")
    assert out == [Persist((("put", "x", (2, "n1"), "a"),)), Send("n1", WriteAck("op1", (2, "n1")))]
    out = node.handle_message(Write("op2", "x", (1, "n3"), "b"), "n3")            # older: kept out
    assert out == [Send("n3", WriteAck("op2", (2, "n1")))] and node.local("x") == ((2, "n1"), "a")


def test_a_restarted_replica_rebuilds_its_copies_and_never_reuses_a_version():
    records = [("put", "x", (1, "n1"), "a"), ("put", "y", (4, "n2"), "b"), ("put", "x", (3, "n3"), "c"),
               Torn(("put", "x", (9, "n1"), "torn"))]
    node = QuorumNode("n1", peers=("n2", "n3"), params={"r": 1, "w": 1})
    node.start(records)
    assert node.store == {"x": ((3, "n3"), "c"), "y": ((4, "n2"), "b")} and node.clock == 4
    out = node.handle_message(Put("x", "d", "op1"), "c1")
    assert out[0] == Persist((("put", "x", (5, "n1"), "d"),))   # above every counter on its disk


def test_versions_of_completed_puts_grow_and_every_replica_converges():
    kv = store(n=5)
    for k, via in enumerate(["n1", "n4", "n2", "n5", "n3"], start=1):
        kv.put("x", k, via=via, at=100 * k)
    kv.run(until=1000)
    puts = [r for r in kv.results() if r["kind"] == "put"]
    versions = [r["version"] for r in puts]
    assert all(r["status"] == "ok" for r in puts) and versions == sorted(versions)
    assert [r["based_on"] for r in puts[1:]] == versions[:-1]     # each saw the one before
    assert set(kv.replicas("x").values()) == {(versions[-1], 5)}
    assert kv.stale_reads() == [] and kv.conflicts() == [] and not kv.violations


# ------------------------------------------------------------------------ stale reads: R + W vs N
def test_stale_read_preset_shows_a_stale_read_when_r_plus_w_is_at_most_n():
    result = replay(QuorumStore.presets()["stale_read"])
    kv = result.door
    assert result.ok and result.expected == ["No stale read"] and (kv.r, kv.w, kv.n) == (1, 1, 3)
    [stale] = kv.stale_reads()
    assert (stale["via"], stale["output"], stale["call"]) == ("n3", None, 5)
    assert (stale["missed"]["value"], stale["missed"]["ret"]) == (1, 0)
    assert broken(kv) == ["No stale read"]


def test_quorum_read_preset_reads_the_write_through_a_lagging_replica():
    kv = replay(QuorumStore.presets()["quorum_read"]).door
    assert not kv.violations and kv.stale_reads() == []
    get = [r for r in kv.results() if r["kind"] == "get"][0]
    assert (get["via"], get["output"], get["ret"]) == ("n3", 1, 70)
    assert kv.replicas("x")["n3"] == ((1, "n1"), 1)          # read repair of its own copy


def test_the_same_script_with_a_read_quorum_of_one_misses_the_write():
    text = QuorumStore.presets()["quorum_read"].replace("param r=2 w=2", "param r=1 w=2")
    kv = replay(text).door
    assert broken(kv) == ["No stale read"] and len(kv.stale_reads()) == 1


@pytest.mark.parametrize("n, r, w", [(3, 2, 2), (3, 1, 3), (3, 3, 1), (5, 3, 3), (5, 2, 4), (5, 4, 2)])
def test_no_stale_read_when_quorums_intersect(n, r, w):
    result = stale_read_experiment(n, r, w, seeds=range(4), trials=40, after_ticks=5)
    assert result["reads"] == 160 and result["stale"] == 0


@pytest.mark.parametrize("n, r, w", [(3, 1, 1), (3, 2, 1), (5, 2, 2), (5, 1, 3)])
def test_stale_reads_appear_with_random_delays_when_quorums_need_not_meet(n, r, w):
    result = stale_read_experiment(n, r, w, seeds=range(4), trials=60, after_ticks=1)
    assert result["reads"] == 240 and result["stale"] > 0
    assert result["stale"] == sum(s["stale"] for s in result["per_seed"])


def test_stale_reads_fade_with_the_time_since_the_write():
    soon, later = (stale_read_experiment(3, 1, 1, seeds=range(3), trials=50, after_ticks=t)["stale_fraction"]
                   for t in (1, 25))
    assert soon > 0.4 and later < soon / 4      # delays are 1..30 ticks: after 25 most writes have landed


def test_the_invariant_and_the_history_agree_on_a_random_workload():
    for r, w, expect in ((1, 1, True), (2, 2, False)):
        kv = store(r=r, w=w, delay=(1, 30), seed=3)
        kv.workload(until=1500, requests=60)
        kv.run()
        assert bool(kv.stale_reads()) is expect
        assert len(kv.violations) == len(kv.stale_reads())


def test_reads_are_regular_not_atomic():
    # A put whose coordinator crashes after forcing its own copy never completes, so it is concurrent
    # with every later get: a regular register may return its value or the old one, in any order.
    # Here a get returns the new value, and a get that begins after it returns the old one: allowed
    # for a regular register, not for an atomic (linearizable) one, which read repair does not make it.
    kv = store(delay=5)
    kv.set_link("n1", "n2", delay=30)
    kv.set_link("n1", "n3", delay=100)
    kv.put("x", 1, via="n3")
    kv.run(until=300)
    kv.put("x", 2, via="n1")
    kv.crash("n1", after=2)            # its next handler opens phase 2: cancel a timer, force x=2, crash
    kv.run(until=400)
    kv.restart("n1")
    first = kv.get("x", via="n1")
    kv.run_until(lambda sim: op(kv.results(), first)["status"] == "ok")
    second = kv.get("x", via="n3", at=kv.now + 1)
    kv.run(until=1000)
    records = kv.results()
    assert op(records, "op2")["status"] == "pending"
    a, b = op(records, first), op(records, second)
    assert (a["output"], b["output"]) == (2, 1) and a["ret"] < b["call"]
    assert not kv.violations and kv.stale_reads() == []


# ------------------------------------------------------------------------ the invariant on its own
def test_stale_read_judges_only_what_clients_saw():
    p1 = Operation("c1", "put", "x", 1, None, 0, 10)
    p2 = Operation("c1", "put", "x", 2, None, 12, 20)
    refused = Operation("c3", "put", "x", 3, None, 1, None)        # never returned: may take effect
    assert stale_read(Operation("c2", "get", "x", None, 1, 25, 30), [p1, p2]) == p2
    assert stale_read(Operation("c2", "get", "x", None, 1, 15, 30), [p1, p2]) is None     # concurrent
    assert stale_read(Operation("c2", "get", "x", None, 2, 25, 30), [p1, p2]) is None
    assert stale_read(Operation("c2", "get", "x", None, None, 11, 12), [p1, p2]) == p1    # nothing, after p1
    assert stale_read(Operation("c2", "get", "x", None, 3, 25, 30), [p1, p2, refused]) is None
    assert stale_read(Operation("c2", "get", "x", None, 1, 20, 30), [p1, p2]) is None      # same tick: concurrent
    history = [p1, p2, Operation("c2", "get", "x", None, 1, 25, 30), Operation("c2", "get", "y", None, None, 25, 30)]
    assert [(g.output, p.value) for g, p in stale_reads(history)] == [(1, 2)]


def test_concurrent_puts_are_those_that_did_not_know_each_other():
    puts = [("a", "x", (1, "n1"), NEVER, True), ("b", "x", (2, "n2"), (1, "n1"), True),     # b read a
            ("c", "x", (2, "n5"), (1, "n1"), True), ("d", "y", (1, "n1"), NEVER, True),     # c read a, not b
            ("e", "x", (3, "n2"), (2, "n2"), False)]                                       # refused, read b
    assert concurrent_puts(puts) == [("c", "b", "x")]
    # e (written on some replicas, though refused) has the highest version: its ancestors b and a
    # survive, c is overwritten by a put that never read it
    assert lost_puts(puts) == ["c"]
    assert lost_puts(puts[:4]) == ["b"]


# ------------------------------------------------------------------------ the bugs, caught
def test_read_one_answers_from_the_coordinators_copy_and_is_caught():
    def run(bugs):
        kv = store(bugs=bugs)
        kv.set_link("n1", "n3", delay=100)           # n3 lags behind n1's writes
        kv.put("x", 1, via="n1")
        kv.get("x", via="n3", at=50)                 # the put completed at t=40
        kv.run(until=400)
        return kv
    good, bad = run([]), run(["read-one"])
    assert not good.violations and [r["output"] for r in good.results()] == [None, 1]
    assert broken(bad) == ["No stale read"] and [r["output"] for r in bad.results()] == [None, None]


def test_local_version_gives_a_newer_put_an_older_version_and_is_caught():
    def run(bugs):
        kv = store(bugs=bugs)
        kv.set_link("n1", "n3", delay=100)           # n1 will not have heard of n3's put
        kv.put("x", 1, via="n3")                     # version 1/n3, completed at t=40 (n3 and n2)
        kv.put("x", 2, via="n1", at=50)
        kv.get("x", via="n2", at=120)
        kv.run(until=600)
        return kv
    good, bad = run([]), run(["local-version"])
    assert not good.violations and op(good.results(), "op3")["output"] == 2
    assert op(good.results(), "op2")["version"] == (2, "n1")
    assert op(bad.results(), "op2")["version"] == (1, "n1") < op(bad.results(), "op1")["version"]
    assert op(bad.results(), "op3")["output"] == 1 and broken(bad) == ["No stale read"]


@pytest.mark.parametrize("bug, profile", [("read-one", "chaos"), ("local-version", "crash")])
def test_the_fuzzer_catches_each_bug(bug, profile):
    report = fuzz(QuorumStore, seeds=200, bugs=[bug], profile=profile, stop_at_first=True, shrink_first=False)
    assert report.failures and report.failures[0].violations[0].invariant == "No stale read"


def test_the_fuzzer_finds_nothing_with_intersecting_quorums_and_stale_reads_without():
    assert fuzz(QuorumStore, seeds=60, shrink_first=False).failures == []
    assert fuzz(QuorumStore, seeds=40, nodes=3, profile="crash", shrink_first=False).failures == []
    loose = fuzz(QuorumStore, seeds=20, params={"r": 1, "w": 1}, shrink_first=False)
    assert loose.violations >= 10
    assert {f.violations[0].invariant for f in loose.failures} == {"No stale read"}


def test_presets_demonstrate_only_what_they_expect():
    assert QuorumStore.story_presets() == {"stale_read", "quorum_read", "cap_consistency", "cap_availability"}
    assert preset_failures(QuorumStore) == []
    for text in QuorumStore.presets().values():
        assert replay(text).ok


# ------------------------------------------------------------------------ CAP
def test_cp_the_minority_refuses_and_the_majority_goes_on():
    kv = replay(QuorumStore.presets()["cap_consistency"]).door
    assert not kv.violations and kv.mode == "cp"
    refused = kv.refused()
    assert [(r["kind"], r["via"], r["ret"]) for r in refused] == [("put", "n1", 150), ("get", "n2", 300)]
    assert "read quorum R is 3" in refused[0]["reason"]
    answered = [(r["via"], r["output"]) for r in kv.results() if r["kind"] == "get" and r["status"] == "ok"]
    assert answered == [("n5", 3), ("n1", 3)]
    assert kv.conflicts() == [] and set(kv.replicas("x").values()) == {((2, "n4"), 3)}
    # the refused put is in the history as "may have taken effect"; the refused get is not
    assert [(o.kind, o.value, o.ret) for o in kv.history()] == [
        ("put", 1, 40), ("put", 2, None), ("put", 3, 90), ("get", None, 220), ("get", None, 420)]


def test_ap_both_sides_accept_then_conflict_and_a_write_is_lost():
    result = replay(QuorumStore.presets()["cap_availability"])
    kv = result.door
    assert result.ok and kv.refused() == []
    assert [(r["via"], r["status"]) for r in kv.results() if r["kind"] == "put"] == [
        ("n3", "ok"), ("n1", "ok"), ("n4", "ok")]
    assert kv.conflicts() == [{"key": "x", "winner": "op3", "loser": "op2"}]
    assert [r["value"] for r in kv.lost_writes()] == [2]
    assert set(kv.replicas("x").values()) == {((2, "n4"), 3)}       # last writer wins, after read repair
    assert [(s["via"], s["output"]) for s in kv.stale_reads()] == [("n2", 2)]


def test_cap_experiment_measures_both_choices():
    cp, ap = cap_experiment("cp", ops_per_side=8), cap_experiment("ap", ops_per_side=8)
    assert cp["sides"]["minority"]["nodes"] == ["n1", "n2"] and cp["sides"]["majority"]["nodes"] == ["n3", "n4", "n5"]
    assert (cp["sides"]["minority"]["answered"], cp["sides"]["minority"]["refused"]) == (0, 8)
    assert (cp["sides"]["majority"]["answered"], cp["sides"]["majority"]["refused"]) == (8, 0)
    assert cp["conflicts"] == cp["lost_writes"] == cp["stale_reads"] == 0 and cp["converged"]
    for side in ("minority", "majority"):
        assert ap["sides"][side]["answered"] == 8 and ap["sides"][side]["puts_acknowledged"] == 4
    # two puts per key on each side, none of which saw the other side's: 2 x 2 pairs per key, and
    # once the replicas converge, the losing side's two puts per key are gone
    assert (ap["conflicts"], ap["conflicting_writes"], ap["keys_in_conflict"], ap["lost_writes"]) == (8, 8, 2, 4)
    assert ap["converged"]
    # availability costs latency on the minority side: each phase waits for its timeout
    assert ap["sides"]["minority"]["mean_latency_ticks"] >= 100 > ap["sides"]["majority"]["mean_latency_ticks"]


def test_ap_without_a_partition_still_reads_its_writes():
    assert stale_read_experiment(3, 2, 2, mode="ap", seeds=range(2), trials=30)["stale"] == 0


# ------------------------------------------------------------------------ availability
def majority_formula(n, a):
    return sum(math.comb(n, k) * a ** k * (1 - a) ** (n - k) for k in range(n // 2 + 1, n + 1))


def test_availability_experiment_agrees_with_the_formula():
    # 3 replicas, MTTF 5000, MTTR 500: A = 10/11, majority 0.9767.  One run of 10^6 ticks holds about
    # 180 failure-repair cycles per replica.  Two replicas down at once lasts about MTTR/2 = 250 ticks
    # and covers 2.3% of the time, so the time average has a standard deviation near
    # sqrt(2 * 0.023 * 250 / 10^6) = 0.0034: the batch-means estimate must agree, and the
    # measurement must lie within 4 of them of the formula.
    a = availability_experiment(n=3, seed=0)
    expected = majority_formula(3, 5000 / 5500)
    assert 0.002 < a["majority_up_stderr"] < 0.006
    assert abs(a["majority_up_fraction"] - expected) < 4 * a["majority_up_stderr"]
    assert abs(a["node_up_fraction"] - 5000 / 5500) < 0.02
    # a request also needs its coordinator to survive it (a few ticks): success sits just below
    assert a["success_fraction"] <= a["majority_up_fraction"] + 0.002
    assert abs(a["success_fraction"] - expected) < 4 * a["success_stderr"] + 0.005
    assert a["ops"] == 3999 and a["ops_ok"] + a["ops_refused"] + a["ops_lost"] == a["ops"] and a["crashes"] > 400


def test_availability_with_quorums_of_one_is_that_of_any_replica():
    a = availability_experiment(n=3, r=1, w=1, seed=2, until_ticks=300_000)
    assert a["quorum_up_fraction"] > 0.998 and a["quorum_up_fraction"] > a["majority_up_fraction"]
    assert a["success_fraction"] > 0.99


# ------------------------------------------------------------------------ determinism, scripts, errors
def test_same_seed_same_results():
    assert stale_read_experiment(3, 1, 2, seeds=[4], trials=30) == stale_read_experiment(3, 1, 2, seeds=[4], trials=30)
    assert cap_experiment("ap", seed=3) == cap_experiment("ap", seed=3)
    kw = dict(n=3, seed=5, until_ticks=100_000)
    assert availability_experiment(**kw) == availability_experiment(**kw)
    a, b = (store(seed=9, delay=(1, 30)) for _ in range(2))
    for kv in (a, b):
        kv.workload(until=500, requests=20)
        kv.run()
    assert a.trace.to_jsonl() == b.trace.to_jsonl()
    other = store(seed=10, delay=(1, 30))
    other.workload(until=500, requests=20)
    other.run()
    assert other.trace.to_jsonl() != a.trace.to_jsonl()


def test_script_commands_and_a_saved_run_replay_exactly():
    kv = store()
    kv.script_command("put", ["n2", "x", "'hello", "world'"], 1)
    kv.script_command("get", ["n3", "x", "as", "reader"], 2, at=60)
    kv.run(until=200)
    assert [(r["client"], r["value"], r["output"]) for r in kv.results()] == [
        ("c1", "hello world", None), ("reader", None, "hello world")]
    again = replay(kv.to_script()).door
    assert again.trace.to_jsonl() == kv.trace.to_jsonl() and again.results() == kv.results()
    with pytest.raises(ScriptError, match="usage: get NODE KEY"):
        kv.script_command("get", ["n1"], 7)


def test_default_clients_have_one_operation_outstanding_each():
    kv = store()
    assert [kv.put("x", 1), kv.get("x", via="n2")] == ["op1", "op2"]
    assert [r["client"] for r in kv.results()] == ["c1", "c2"]       # c1 is busy with op1
    kv.run(until=100)
    kv.get("x", via="n3")
    assert kv.results()[-1]["client"] == "c1"


def test_a_request_to_a_crashed_node_gets_no_answer():
    kv = store()
    kv.crash("n2")
    kv.get("x", via="n2")
    kv.put("x", 1, via="n2")
    kv.run(until=300)
    assert [r["status"] for r in kv.results()] == ["unreachable", "unreachable"] and kv.history() == []


def test_bad_input_errors_are_clear():
    cases = [
        (lambda: QuorumStore(n=3, r=4), "R must be a whole number from 1 to N = 3"),
        (lambda: QuorumStore(n=3, w=0), "W must be a whole number from 1 to N = 3"),
        (lambda: QuorumStore(n=3, r=1.5), "R must be a whole number"),
        (lambda: QuorumStore(mode="ca"), "mode must be 'cp'"),
        (lambda: QuorumStore(n=3, nodes=5), "give the number of replicas once"),
        (lambda: QuorumStore(n=0), "n must be a whole number >= 1"),
        (lambda: QuorumStore(timeout_ticks=0), "timeout_ticks must be a whole number >= 1"),
        (lambda: QuorumStore(read_repair="yes"), "read_repair must be True or False"),
        (lambda: QuorumStore(quorum=2), "has no parameter 'quorum'"),
        (lambda: QuorumStore(bugs=["read-all"]), "known bugs: local-version, read-one"),
        (lambda: store().put("x", None), "a put needs a value"),
        (lambda: store().put("x", [1]), "a value must be immutable"),
        (lambda: store().get("", via="n1"), "a key must be a non-empty string"),
        (lambda: store().get("x", client="n2"), "a client is a name that is not a node id"),
        (lambda: stale_read_experiment(3, 4, 1, seeds=[0]), "R must be a whole number from 1 to N = 3"),
        (lambda: stale_read_experiment(seeds=[]), "seeds must name at least one seed"),
        (lambda: cap_experiment("ca"), "mode must be 'cp' or 'ap'"),
        (lambda: cap_experiment(n=3, minority=["n1", "n2", "n3"]), "both sides"),
        (lambda: cap_experiment(n=3, minority=["n7"]), "'n7' is not a node"),
        (lambda: availability_experiment(mttr_ticks=0), "mttr_ticks must be a whole number >= 1"),
        (lambda: availability_experiment(until_ticks=100), "too short"),
    ]
    for make, message in cases:
        with pytest.raises(BadParameter, match=message.replace("(", r"\(").replace(")", r"\)")):
            make()
    with pytest.raises(UnknownNode):
        store().put("x", 1, via="n9")


def test_the_invariant_is_named_and_configuration_is_visible():
    assert [inv.name for inv in INVARIANTS] == ["No stale read"]
    kv = QuorumStore(n=5)
    assert (kv.n, kv.r, kv.w, kv.mode, kv.intersecting) == (5, 3, 3, "cp", True)
    assert not QuorumStore(n=5, r=2, w=3).intersecting
    assert QuorumStore.bug_list() == QuorumNode.bugs
    read = [i for i in QuorumNode("n1", peers=("n2",)).start([])]
    assert read == [] and Read("op1", "x").handler_name == "on_read"


def test_results_follow_rewinds_and_forks():
    kv = store()
    kv.put("x", 1, via="n1")
    kv.get("x", via="n2", at=60)
    kv.run(until=200)
    done = kv.results()
    end = kv.steps
    kv.rewind(3)
    assert [r["status"] for r in kv.results()] == ["pending"]
    kv.rewind(end)
    assert kv.results() == done
    fork = kv.fork()
    fork.put("x", 2, via="n3")
    fork.run(until=400)
    assert len(fork.results()) == 3 and kv.results() == done
