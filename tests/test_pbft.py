"""PBFT's normal case in one view, checked against Castro & Liskov, "Practical Byzantine Fault Tolerance"
(1999, §4.2: pre-prepare, prepare, commit; the prepared and committed-local predicates; §4.1: the client
waits for f + 1 matching replies).  View changes (§4.4) are not modelled.

Unless a test says otherwise: 4 replicas (f = 1, quorums of 3), n1 the primary, every message takes 10 ticks.
"""

import itertools

import pytest

from fttoolkit import BadParameter, ByzantineAgreement
from fttoolkit.algorithms.pbft import (BEHAVIOURS, Commit, PbftNode, PrePrepare, Prepare, Request, digest, forged,
                                       max_faulty, parse_byzantine, quorum_size)
from fttoolkit.check.fuzz import fuzz
from fttoolkit.doors.pbft import PbftView
from fttoolkit.scenario import ScriptError, preset_failures, replay


def cluster(**kw):
    kw.setdefault("delay", 10)
    return ByzantineAgreement(nodes=kw.pop("nodes", 4), seed=kw.pop("seed", 1), **kw)


def broken(c):
    return sorted({v["invariant"].split(":")[0] for v in c.violations})


def sent(c, cls):
    return [e for e in c.trace if e.kind == "sent" and isinstance(e["msg"], cls)]


def committed_at(c):
    """Honest replica -> (tick, value) of its 'committed' note for seq 1."""
    return {e.node: (e.tick, e["fields"]["value"]) for e in c.trace
            if e.kind == "note" and e["text"] == "committed" and e["fields"]["seq"] == 1}


# ------------------------------------------------------------------------ quorum arithmetic
def test_two_quorums_share_an_honest_replica_and_small_quorums_do_not():
    for n in range(1, 30):
        f, q = max_faulty(n), quorum_size(n)
        assert 3 * f + 1 <= n < 3 * (f + 1) + 1
        assert q <= n - f                          # the honest replicas alone form a quorum (liveness)
        assert 2 * q - n >= f + 1                  # two quorums intersect in f + 1: one honest (safety)
        if n == 3 * f + 1:
            assert q == 2 * f + 1
    for n in (4, 7, 10):                           # f + 1 replicas: two quorums may share nobody honest
        f = max_faulty(n)
        assert 2 * (f + 1) - n < f + 1


def test_the_intersection_argument_by_brute_force():
    n, q = 4, quorum_size(4)
    for a, b in itertools.combinations(itertools.combinations(range(n), q), 2):
        assert len(set(a) & set(b)) >= max_faulty(n) + 1


# ------------------------------------------------------------------------ the normal case (§4.2)
def test_messages_read_like_a_transcript():
    r = Request("x")
    assert repr(PrePrepare(0, 1, digest(r), r)) == "PrePrepare(v0, #1, d=b0b8fa, 'x')"
    assert repr(Prepare(0, 1, "b0b8fa")) == "Prepare(v0, #1, d=b0b8fa)"
    assert repr(Commit(2, 3, "b0b8fa")) == "Commit(v2, #3, d=b0b8fa)"
    assert digest(forged(r)) != digest(r) and digest(Request("x", "bob")) != digest(r)


def test_a_clean_run_commits_everywhere_in_three_message_delays():
    c = cluster()
    c.submit("x")
    c.run(until=200)
    assert not c.violations
    assert committed_at(c) == {i: (30, "x") for i in c.ids}
    n = 4
    assert len(sent(c, PrePrepare)) == n - 1
    assert len(sent(c, Prepare)) == (n - 1) * (n - 1)     # backups to every other replica
    assert len(sent(c, Commit)) == n * (n - 1)
    assert c.replies() == {i: "x" for i in c.ids} and c.result() == "x"


def test_prepared_needs_2f_matching_prepares_and_committed_needs_2f_plus_1_commits():
    node = PbftNode("n2", peers=("n1", "n3", "n4"))
    node.start([])
    r = Request("x")
    d = digest(r)
    node.handle_message(Commit(0, 1, d), "n3")                 # early commits are kept for later
    out = node.handle_message(PrePrepare(0, 1, d, r), "n1")
    assert out[0].records == (("pre-prepare", 0, 1, d, r),)    # logged before the Prepare goes out
    assert node.phase == {1: "pre-prepared"}
    node.handle_message(Prepare(0, 1, "other"), "n3")          # not matching
    node.handle_message(Prepare(0, 1, d), "n1")                # the primary's Prepare does not count
    assert node.phase == {1: "pre-prepared"}
    node.handle_message(Prepare(0, 1, d), "n4")
    assert node.phase == {1: "prepared"}                       # own + n4 = 2f
    node.handle_message(Commit(0, 1, d), "n3")                 # a duplicate
    assert node.phase == {1: "prepared"}                       # own + n3 = 2 < 2f + 1
    node.handle_message(Commit(0, 1, d), "n4")
    assert node.phase == {1: "committed"} and node.executed == {1: "x"}


def test_a_backup_refuses_a_second_digest_a_wrong_digest_and_a_non_primary():
    node = PbftNode("n2", peers=("n1", "n3", "n4"))
    node.start([])
    r, other = Request("x"), Request("y")
    node.handle_message(PrePrepare(0, 1, digest(r), r), "n3")          # not the primary
    node.handle_message(PrePrepare(0, 1, "bad", r), "n1")              # digest does not match
    assert node.accepted == {}
    node.handle_message(PrePrepare(0, 1, digest(r), r), "n1")
    out = node.handle_message(PrePrepare(0, 1, digest(other), other), "n1")
    assert node.accepted == {1: (digest(r), r)}
    assert [i.text for i in out] == ["conflicting PrePrepare ignored"]


def test_a_restarted_replica_keeps_the_pre_prepare_it_accepted():
    r, other = Request("x"), Request("y")
    node = PbftNode("n2", peers=("n1", "n3", "n4"))
    node.start([("pre-prepare", 0, 1, digest(r), r)])
    node.handle_message(PrePrepare(0, 1, digest(other), other), "n1")
    assert node.accepted == {1: (digest(r), r)}
    c = cluster()
    c.submit("x")
    c.run(until=15)
    c.crash("n3")
    c.restart("n3")
    assert c.nodes["n3"].accepted[1][1] == Request("x")
    primary = PbftNode("n1", peers=("n2", "n3", "n4"))
    primary.start([("pre-prepare", 0, 1, digest(r), r)])
    assert primary.next_seq == 2                                       # never reuses #1


def test_several_requests_get_consecutive_sequence_numbers():
    c = cluster()
    for k, value in enumerate(("a", "b", "c")):
        c.submit(value, at=k * 5)
    c.run(until=300)
    assert not c.violations
    assert [c.committed_values(seq) for seq in (1, 2, 3)] == [["a"], ["b"], ["c"]]
    assert all(c.phases(seq) == {i: "committed" for i in c.ids} for seq in (1, 2, 3))


# ------------------------------------------------------------------------ Byzantine replicas
@pytest.mark.parametrize("who", ["n1", "n2", "n3", "n4"])
@pytest.mark.parametrize("how", sorted(BEHAVIOURS))
def test_one_faulty_replica_of_four_never_breaks_agreement(who, how):
    c = cluster(byzantine=f"{who}:{how}")
    c.submit("x")
    c.run(until=200)
    assert not c.violations
    values = c.committed_values()
    honest = c.honest
    if who != "n1":                                 # an honest primary: every honest replica commits 'x'
        assert values == ["x"] and c.result() == "x"
        assert all(c.phases()[i] == "committed" for i in honest)
    elif how == "silent":                           # nothing happens: a view change would be needed (§4.4)
        assert values == [] and c.phases() == {"n1": "byzantine", "n2": "idle", "n3": "idle", "n4": "idle"}
    else:
        assert len(values) == 1


def test_an_equivocating_primary_leaves_one_replica_behind_but_not_disagreeing():
    c = ByzantineAgreement(nodes=4).load_preset("equivocating_primary")
    assert not c.violations
    assert c.phases() == {"n1": "byzantine", "n2": "committed", "n3": "committed", "n4": "pre-prepared"}
    assert c.nodes["n4"].accepted[1][1] == Request("x'")          # it was told another story
    assert c.result() == "x"


@pytest.mark.parametrize("spec", ["n1:equivocate,n5:lie", "n1:equivocate,n2:equivocate", "n3:lie,n6:equivocate"])
def test_f_faulty_of_3f_plus_1_with_random_delays(spec):
    for seed in range(6):
        c = ByzantineAgreement(nodes=7, seed=seed, delay=(5, 40), byzantine=spec)
        for k in range(3):
            c.submit(f"v{k}", at=k * 7)
        c.run(until=400)
        assert not c.violations, (spec, seed, c.violations)
        assert all(len(c.committed_values(seq)) <= 1 for seq in (1, 2, 3))


# ------------------------------------------------------------------------ the checkers catch real bugs
def test_small_quorum_lets_honest_replicas_disagree():
    c = ByzantineAgreement(nodes=4).load_preset("equivocating_primary", bugs=["small-quorum"])
    assert broken(c) == ["Agreement", "Prepared agreement"]
    agreement = next(v for v in c.violations if v["invariant"].startswith("Agreement"))
    assert agreement["nodes"] == ["n2", "n3", "n4"] and "\"x'\" at n4" in agreement["detail"]
    assert c.committed_values() == ["x", "x'"]


def test_too_many_faulty_replicas_break_agreement_and_the_preset_says_so():
    result = replay(ByzantineAgreement.presets()["too_many_faulty"])
    assert result.ok and result.expected == ["Prepared agreement", "Agreement"]
    c = result.door
    assert broken(c) == ["Agreement", "Prepared agreement"]
    assert {i: c.nodes[i].executed for i in c.honest} == {"n3": {1: "x"}, "n4": {1: "x'"}}


def test_the_fuzzer_finds_small_quorum_and_too_many_faulty_and_nothing_else():
    ok = fuzz(ByzantineAgreement, 25, nodes=4, params={"byzantine": "n1:equivocate"}, shrink_first=False)
    assert not ok.failures
    bug = fuzz(ByzantineAgreement, 25, nodes=4, bugs=["small-quorum"], params={"byzantine": "n1:equivocate"},
               stop_at_first=True)
    assert bug.failures and bug.failures[0].violations[0].invariant.split(":")[0] in (
        "Prepared agreement", "Agreement")
    many = fuzz(ByzantineAgreement, 25, nodes=4, params={"byzantine": "n1:equivocate,n2:equivocate"},
                stop_at_first=True, shrink_first=False)
    assert many.failures


def test_presets_replay_as_narrated_and_only_small_quorum_breaks_them():
    presets = ByzantineAgreement.presets()
    assert set(presets) == {"clean_run", "lying_backup", "silent_primary", "equivocating_primary",
                            "too_many_faulty"}
    for text in presets.values():
        assert replay(text).ok
    assert [name for name, _, _ in preset_failures(ByzantineAgreement)] == []
    assert [name for name, _, _ in preset_failures(ByzantineAgreement, ["small-quorum"])] == ["equivocating_primary"]


# ------------------------------------------------------------------------ the door
def test_script_commands_and_round_trip():
    c = cluster(byzantine={"n4": "lie"}, delay=(5, 30))
    c.submit("x")
    c.submit(("put", "k", 1), at=20)
    c.run(until=300)
    script = c.to_script()
    assert "param byzantine=n4:lie" in script
    assert replay(script).door.trace.to_jsonl() == c.trace.to_jsonl()
    with pytest.raises(ScriptError, match="usage: submit VALUE"):
        replay("algorithm pbft\nnodes 4\nsubmit\n")


def test_same_seed_same_trace():
    def run(seed):
        c = ByzantineAgreement(nodes=4, seed=seed, delay=(1, 50), byzantine="n1:equivocate")
        c.workload(100, requests=3)
        c.run(until=400)
        return c.trace.to_jsonl()
    assert run(3) == run(3) and run(3) != run(4)


def test_bad_input_errors_are_clear():
    with pytest.raises(BadParameter, match="unknown Byzantine behaviour 'lies' for n2; behaviours: equivocate, lie"):
        ByzantineAgreement(nodes=4, byzantine="n2:lies")
    with pytest.raises(BadParameter, match=r"byzantine names 'n9', which is not a replica \(n1, n2, n3, n4\)"):
        ByzantineAgreement(nodes=4, byzantine="n9:silent")
    with pytest.raises(BadParameter, match="written 'n1:equivocate,n4:lie'; got item 'n2'"):
        ByzantineAgreement(nodes=4, byzantine="n2")
    with pytest.raises(BadParameter, match="view must be a whole number"):
        ByzantineAgreement(nodes=4, view=-1)
    with pytest.raises(BadParameter, match="an operation must be immutable"):
        cluster().submit(["x"])
    with pytest.raises(BadParameter, match="has no bug 'tiny-quorum'"):
        cluster(bugs=["tiny-quorum"]).run(until=1)
    assert parse_byzantine({"n3": "lie", "n1": "silent"}) == {"n1": "silent", "n3": "lie"}


def test_another_view_has_another_primary():
    c = cluster(view=1)
    assert c.primary == "n2"
    c.submit("x")
    c.run(until=200)
    assert c.committed_values() == ["x"] and sent(c, PrePrepare)[0].node == "n2"


def test_the_view_shows_phases_quorums_and_the_replica_left_behind():
    c = ByzantineAgreement(nodes=4).load_preset("equivocating_primary")
    view = PbftView(PbftNode)
    n1, n2, n4 = (c.nodes[i] for i in ("n1", "n2", "n4"))
    assert view.caption(n1) == "Byzantine: equivocates" and view.style(n1)[1] == "s"
    assert view.caption(n2) == "#1 committed x" and view.caption(n4) == "#1 pre-prepared x'"
    assert view.badge(n4) == "prepares 1/2" and view.badge(n2) is None
    table = view.table(c.sim)
    assert table.cell("n2", "#1").mark == "good" and table.cell("n4", "#1").mark == "odd"
    assert table.cell("n1", "behaviour").text == "equivocate"
    c.rewind(0)
    assert view.caption(c.nodes["n2"]) == "backup" and view.badge(c.nodes["n2"]) is None
