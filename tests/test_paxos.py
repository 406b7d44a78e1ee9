"""Single-decree Paxos, checked against Lamport's "Paxos Made Simple" (2001).

Each test names the section it checks: §2.2 the two phases and the rule P2c, §2.3 learning, §2.4
progress (dueling proposers), §2.5 stable storage and distinct proposal numbers.
"""

import pytest

from fttoolkit import BadParameter, Paxos, UnknownNode
from fttoolkit.algorithms.paxos import Accept, Ballot, Nack, PaxosNode, Prepare, Promise, Propose, Retry
from fttoolkit.check.fuzz import fuzz, run_seed
from fttoolkit.scenario import ScriptError, preset_failures, replay, schedule_to_script


def assert_safe(cluster):
    assert not cluster.violations, [v.describe() for v in cluster.violations]


def sent(events):
    """The messages in ``events`` as transcript lines ``src->dst Msg(...)``."""
    return [f"{e['src']}->{e['dst']} {e['msg']!r}" for e in events if e.kind == "sent"]


def deliver(cluster, src, dst, kind):
    """Deliver the first message ``kind`` in flight from ``src`` to ``dst``; return what it sent."""
    item = next(i for i in cluster.pending() if i.kind == "message" and i.src == src and i.dst == dst
                and type(i.msg).__name__ == kind)
    return sent(cluster.deliver(item))


def notes(cluster, text):
    return [(e.tick, e.node, e["fields"]["value"]) for e in cluster.trace if e.kind == "note" and e["text"] == text]


# ------------------------------------------------------------------------ ballots and messages
def test_ballots_order_by_round_then_node_in_natural_order():
    assert Ballot(1, "n9") < Ballot(1, "n10") < Ballot(2, "n1")      # plain strings would put n10 first
    assert max([Ballot(3, "n2"), Ballot(3, "n10"), Ballot(2, "n99")]) == Ballot(3, "n10")
    assert repr(Ballot(2, "n3")) == "b2.n3"
    assert repr(Promise(Ballot(2, "n3"), (Ballot(1, "n1"), "x"))) == "Promise(b2.n3, accepted=(b1.n1, 'x'))"
    assert repr(Nack(Ballot(1, "n1"), Ballot(2, "n3"))) == "Nack(b1.n1, promised=b2.n3)"


# ------------------------------------------------------------------------ §2.2: the two phases
def test_the_two_phases_by_hand_on_three_nodes():
    cluster = Paxos(nodes=3, seed=1, delay=10)
    cluster.propose("n1", "x")
    first = len(cluster.trace)
    while any(i.kind == "intention" for i in cluster.pending()):
        cluster.execute("n1")
    assert sent(cluster.trace[first:]) == ["n1->n1 Prepare(b1.n1)", "n1->n2 Prepare(b1.n1)",
                                           "n1->n3 Prepare(b1.n1)"]
    n1, n2 = cluster.node("n1"), cluster.node("n2")
    assert (n1.phase, n1.role, n1.ballot, n1.proposal) == ("prepare", "proposer", Ballot(1, "n1"), "x")

    # Phase 1: each acceptor promises, having stored the promise first (§2.5).
    assert deliver(cluster, "n1", "n1", "Prepare") == ["n1->n1 Promise(b1.n1, accepted=None)"]
    assert deliver(cluster, "n1", "n1", "Promise") == []
    assert n1.promises == {"n1": None} and n1.phase == "prepare"       # 1 of 3: not yet a majority
    events = cluster.deliver(next(i for i in cluster.pending() if i.kind == "message" and i.dst == "n2"))
    assert [e.kind for e in events if e.kind in ("stored", "sent")] == ["stored", "sent"]
    assert sent(events) == ["n2->n1 Promise(b1.n1, accepted=None)"] and n2.promised == Ballot(1, "n1")

    # Phase 2: a majority of promises, none with an accepted value: n1 proposes its own value.
    assert deliver(cluster, "n2", "n1", "Promise") == ["n1->n1 Accept(b1.n1, 'x')", "n1->n2 Accept(b1.n1, 'x')",
                                                       "n1->n3 Accept(b1.n1, 'x')"]
    assert n1.phase == "accept" and n1.proposal == "x"
    assert cluster.chosen() is None
    assert deliver(cluster, "n1", "n2", "Accept") == ["n2->n1 Accepted(b1.n1, 'x')", "n2->n2 Accepted(b1.n1, 'x')",
                                                      "n2->n3 Accepted(b1.n1, 'x')"]
    assert n2.accepted == (Ballot(1, "n1"), "x") and cluster.chosen() is None      # one acceptor only
    deliver(cluster, "n1", "n1", "Accept")
    assert cluster.chosen() == "x"                        # n1 and n2 accepted b1.n1: a majority

    # §2.3: learners learn from a majority of Accepted messages for one ballot.
    deliver(cluster, "n1", "n1", "Accepted")
    assert n1.learned is None and n1.accepts == {"n1"}
    deliver(cluster, "n2", "n1", "Accepted")
    assert n1.learned == "x" and n1.phase == "done" and n1.role == "acceptor"
    assert notes(cluster, "chosen") == [(40, "n1", "x")]     # delivering waits for the due tick
    _ = cluster.run(until=100)
    assert cluster.learned() == {"n1": "x", "n2": "x", "n3": "x"}
    assert_safe(cluster)


def _proposer_after_promising(ballot, bugs=()):
    node = PaxosNode("n1", peers=("n2", "n3", "n4", "n5"), bugs=bugs)
    node.start([])
    node.handle_message(Prepare(ballot), "n5")           # as an acceptor, it has seen round ballot.round
    node.handle_message(Propose("mine"), "client")
    return node


def test_the_proposer_adopts_the_value_of_the_highest_accepted_proposal():
    node = _proposer_after_promising(Ballot(2, "n5"))
    assert node.ballot == Ballot(3, "n1")                # higher than any ballot it has seen (§2.5)
    node.handle_message(Promise(Ballot(3, "n1"), None), "n1")
    node.handle_message(Promise(Ballot(3, "n1"), (Ballot(1, "n2"), "a")), "n2")
    out = node.handle_message(Promise(Ballot(3, "n1"), (Ballot(2, "n5"), "b")), "n3")
    assert node.proposal == "b" and node.phase == "accept"           # P2c: b2.n5 > b1.n2
    assert [i.msg for i in out if type(i).__name__ == "Send"] == [Accept(Ballot(3, "n1"), "b")] * 5
    # With the bug, the promises are ignored and the proposer insists on its own value.
    buggy = _proposer_after_promising(Ballot(2, "n5"), bugs=["ignore-promises"])
    for sender, accepted in (("n1", None), ("n2", (Ballot(1, "n2"), "a")), ("n3", (Ballot(2, "n5"), "b"))):
        buggy.handle_message(Promise(Ballot(3, "n1"), accepted), sender)
    assert buggy.proposal == "mine"


def test_a_nack_makes_the_proposer_retry_with_a_higher_ballot_after_a_random_wait():
    node = _proposer_after_promising(Ballot(1, "n2"))
    assert node.ballot == Ballot(2, "n1")
    old_promise = node.handle_message(Promise(Ballot(1, "n1"), None), "n2")        # a stale ballot: ignored
    assert old_promise == [] and node.promises == {}
    out = node.handle_message(Nack(Ballot(2, "n1"), Ballot(4, "n3")), "n3")
    assert node.ballot is None and node.round == 4 and node.phase == "prepare"
    (timer,) = out
    assert timer.timer == Retry() and 1 <= timer.after_ticks <= 2 * node.params["backoff_ticks"]
    out = node.handle_timer(Retry())
    assert node.ballot == Ballot(5, "n1")
    assert [i.msg for i in out if type(i).__name__ == "Send"][0] == Prepare(Ballot(5, "n1"))
    assert out[0].records == (("round", 5),)              # the round is on disk before the Prepare leaves


def test_an_acceptor_refuses_ballots_below_its_promise():
    node = PaxosNode("n2", peers=("n1", "n3"))
    node.start([])
    node.handle_message(Prepare(Ballot(2, "n3")), "n3")
    assert [i.msg for i in node.handle_message(Prepare(Ballot(1, "n1")), "n1")] == [Nack(Ballot(1, "n1"), Ballot(2, "n3"))]
    assert [i.msg for i in node.handle_message(Accept(Ballot(1, "n1"), "x"), "n1")] == [Nack(Ballot(1, "n1"), Ballot(2, "n3"))]
    assert node.accepted is None
    node.handle_message(Accept(Ballot(3, "n1"), "y"), "n1")              # higher than promised: accepted
    assert node.accepted == (Ballot(3, "n1"), "y") and node.promised == Ballot(3, "n1")


# ------------------------------------------------------------------------ §2.5: stable storage
def test_promises_and_accepted_values_survive_a_crash():
    cluster = Paxos(nodes=3, seed=2, delay=10)
    cluster.propose("n1", "x")
    cluster.run(until=15)                                  # n2 and n3 promised b1.n1 at t=10
    cluster.crash("n2")
    cluster.restart("n2")
    assert cluster.node("n2").promised == Ballot(1, "n1") and cluster.node("n2").accepted is None
    cluster.run(until=35)                                  # n2 accepted at t=30
    cluster.crash("n2")
    cluster.restart("n2")
    assert cluster.node("n2").accepted == (Ballot(1, "n1"), "x")
    assert cluster.node("n2").learned is None              # a learner's knowledge is volatile
    cluster.crash("n1")                                    # the proposer's round is on disk: no reused ballot
    cluster.restart("n1")
    cluster.propose("n1", "y")
    assert cluster.node("n1").ballot == Ballot(2, "n1")
    cluster.run(until=200)
    # n1's old Accepted messages were still in flight: its learner learned 'x' and its new proposal
    # stopped there.  n2 restarted after most of them: it learns when it runs a proposal itself (§2.3).
    assert cluster.chosen() == "x" and cluster.learned() == {"n1": "x", "n2": None, "n3": "x"}
    cluster.propose("n2", "z")
    cluster.run(until=300)
    assert set(cluster.learned().values()) == {"x"}
    assert_safe(cluster)


def test_every_acceptor_reply_follows_the_write_it_depends_on():
    cluster = Paxos(nodes=5, seed=3, delay=(5, 15), loss=0.1)
    cluster.workload(300, requests=6)
    cluster.run(until=1500)
    on_disk = {}
    for e in cluster.trace:
        if e.kind == "stored":
            for record in e["records"]:
                if record[0] == "acceptor":
                    on_disk[e.node] = record
        elif e.kind == "sent" and type(e["msg"]).__name__ in ("Promise", "Accepted"):
            _, promised, accepted = on_disk[e.node]
            assert promised >= e["msg"].ballot
            if type(e["msg"]).__name__ == "Accepted":
                assert accepted == (e["msg"].ballot, e["msg"].value)
    assert_safe(cluster)


def test_forgetting_promises_breaks_promise_kept():
    script = """algorithm paxos
nodes 3
seed 1
network delay=10

# n1 prepares b1.n1; n3 prepares b1.n3 at t=5, before it has heard of b1.n1.  n2 promises b1.n1 at t=10,
# then b1.n3 at t=15.  n2 crashes and restarts before n1's Accept(b1.n1) reaches it at t=30.
propose n1 apple
run 5
propose n3 banana
run 20
crash n2
restart n2
run 100
"""
    good = replay(script).door
    assert_safe(good)
    assert good.node("n2").promised >= Ballot(1, "n3")
    bad = replay(script.replace("seed 1", "seed 1\nbugs forget-promise")).door
    assert bad.violations[0]["invariant"] == "Promise kept"
    assert "n2 accepted b1.n1 ('apple') after promising b1.n3" in bad.violations[0].describe()


def test_minority_quorums_let_both_sides_of_a_partition_decide():
    script = """algorithm paxos
nodes 5
seed 1
network delay=10

partition n1,n2 | n3,n4,n5
propose n1 apple
propose n5 banana
run 200
"""
    good = replay(script).door
    assert_safe(good)
    assert good.chosen() == "banana" and good.learned()["n1"] is None     # only the majority side decides
    bad = replay(script.replace("seed 1", "seed 1\nbugs minority-quorum")).door
    assert bad.violations[0]["invariant"] == "Learners agree"


# ------------------------------------------------------------------------ presets: the stories
def test_clean_run_story():
    door = Paxos(nodes=3).load_preset("clean_run")
    assert door.chosen() == "apple"
    assert notes(door, "learned") == [(30, "n2", "apple"), (30, "n3", "apple"), (40, "n1", "apple")]
    assert notes(door, "chosen") == [(40, "n1", "apple")]
    first_accept = next(e.tick for e in door.trace if e.kind == "sent" and type(e["msg"]).__name__ == "Accept")
    assert first_accept == 20
    assert_safe(door)


def test_acceptor_crash_story():
    door = Paxos().load_preset("acceptor_crash")
    accepted_b1 = sorted({e.node for e in door.trace if e.kind == "stored" and e["records"][0][0] == "acceptor"
                          and e["records"][0][2] == (Ballot(1, "n1"), "apple")})
    assert accepted_b1 == ["n1", "n3", "n4"]                # a bare majority, with n2 and n5 down
    assert [e for e in door.trace if e.kind == "restarted" and e.node == "n2"][0]["records"] == 1
    assert notes(door, "adopted") == [(170, "n5", "apple")]
    assert door.chosen() == "apple" and set(door.learned().values()) == {"apple"}
    assert max(t for t, _, _ in notes(door, "learned")) == 190
    assert_safe(door)


def test_dueling_proposers_story():
    door = Paxos().load_preset("dueling_proposers")
    rounds = [(e.tick, e.node, e["records"][0][1]) for e in door.trace
              if e.kind == "stored" and e["records"][0][0] == "round"]
    assert rounds == [(0, "n1", 1), (10, "n3", 2), (17, "n1", 3), (32, "n3", 4), (47, "n1", 5), (75, "n3", 6)]
    nacked_own = [(e.tick, e["msg"].ballot) for e in door.trace if e.kind == "sent"
                  and type(e["msg"]).__name__ == "Nack" and e["src"] == e["dst"]]
    assert [b for _, b in nacked_own[:3]] == [Ballot(1, "n1"), Ballot(2, "n3"), Ballot(3, "n1")]
    assert door.chosen() == "apple"
    chosen_at = next(e.tick for e in door.trace if e.kind == "stored" and e.node == "n2"
                     and e["records"][0][2] == (Ballot(5, "n1"), "apple"))
    assert chosen_at == 71
    assert notes(door, "learned") == [(75, "n2", "apple"), (76, "n3", "apple"), (83, "n1", "apple")]
    banana = {e.node for e in door.trace if e.kind == "stored" and e["records"][0][0] == "acceptor"
              and e["records"][0][2] is not None and e["records"][0][2][1] == "banana"}
    assert banana == {"n3"}                                 # accepted by one acceptor of three: never chosen
    assert_safe(door)


def test_partial_accept_story():
    door = Paxos().load_preset("partial_accept")
    accepted = [(e.tick, e.node, e["records"][0][2]) for e in door.trace      # the writes of an Accept
                if e.kind == "stored" and e["records"][0][0] == "acceptor" and e["records"][0][2] is not None
                and e["records"][0][2][0] == e["records"][0][1]]
    assert accepted[0] == (30, "n2", (Ballot(1, "n1"), "apple"))
    assert [a for a in accepted if a[2][0] == Ballot(1, "n1")] == [accepted[0]]   # one acceptor only
    assert notes(door, "adopted") == [(70, "n5", "apple"), (190, "n1", "apple")]
    assert {value for _, _, (_, value) in accepted} == {"apple"}                   # never banana, never cherry
    nacks = [e.tick for e in door.trace if e.kind == "delivered" and type(e["msg"]).__name__ == "Nack"]
    assert nacks == [140] * 4
    assert door.node("n1").ballot == Ballot(3, "n1") and notes(door, "learned")[-1] == (210, "n1", "apple")
    assert set(door.learned().values()) == {"apple"}
    assert_safe(door)


def test_presets_are_clean_and_catch_their_bugs():
    assert Paxos.story_presets() == {"clean_run", "acceptor_crash", "dueling_proposers", "partial_accept"}
    assert preset_failures(Paxos) == []
    caught = {bug: {name: v["invariant"] for name, _, v in preset_failures(Paxos, [bug])}
              for bug in ("ignore-promises", "accept-below-promise")}
    assert caught["ignore-promises"] == {"acceptor_crash": "Agreement", "partial_accept": "Agreement"}
    assert caught["accept-below-promise"] == {"dueling_proposers": "Promise kept"}


# ------------------------------------------------------------------------ fuzzing
@pytest.mark.parametrize("bug, invariant", [
    ("ignore-promises", "Agreement"),
    ("accept-below-promise", "Promise kept"),
    ("forget-promise", "Promise kept"),
    ("minority-quorum", "Learners agree"),
])
def test_random_schedules_catch_each_bug_with_a_short_script(bug, invariant):
    report = fuzz(Paxos, seeds=60, bugs=[bug], stop_at_first=True)
    assert report.failures, f"{bug}: no violation in 60 seeds"
    first = report.failures[0]
    assert first.violations[0].invariant == invariant
    assert len(first.shrunk.actions) <= 10
    script = schedule_to_script(first.shrunk).render()
    assert any(v["invariant"] == invariant for v in replay(script).door.violations)


def test_the_correct_protocol_survives_the_fuzzer():
    assert fuzz(Paxos, seeds=100).failures == []


def test_liveness_after_calm():
    cluster = Paxos(nodes=5, seed=4, loss=0.2)
    cluster.workload(400, requests=5)
    cluster.crash("n2", at=100)
    cluster.restart("n2", at=300)
    cluster.partition(["n1", "n3"], ["n2", "n4", "n5"], at=350)
    cluster.heal(at=450)
    cluster.run(until=1500)
    assert cluster.check_liveness() == []
    assert_safe(cluster)


class Silent(PaxosNode):
    """A proposer that never retries (breaks progress when messages are lost)."""

    def on_retry(self, timer):
        pass

    def on_nack(self, msg, sender):
        pass


class MadeUp(PaxosNode):
    """A proposer that proposes a value no client asked for (breaks Validity)."""

    def begin_accept(self):
        self.asked = ("made up",)
        super().begin_accept()


def test_each_invariant_catches_a_broken_variant():
    door = type("Broken", (Paxos,), {"node_class": MadeUp})(nodes=3, seed=1)
    door.propose("n1", "x")
    door.run(until=200)
    assert door.violations[0]["invariant"] == "Validity"
    silent = type("Stuck", (Paxos,), {"node_class": Silent})
    found = [run_seed(silent, seed, profile="lossy").violations for seed in range(20)]
    assert any(v and v[0].invariant == "Progress" for v in found)


def test_same_seed_same_trace():
    def lines(seed):
        return [str(e) for e in run_seed(Paxos, seed).schedule.actions] + \
               [repr(v) for v in run_seed(Paxos, seed).violations]

    def trace(seed):
        cluster = Paxos(nodes=5, seed=seed, loss=0.1, duplicate=0.1)
        cluster.workload(300, requests=4)
        cluster.run(until=800)
        return [str(e) for e in cluster.trace]

    assert trace(7) == trace(7) and trace(7) != trace(8)
    assert lines(3) == lines(3)


# ------------------------------------------------------------------------ bad input
def test_bad_input_errors_are_clear():
    cluster = Paxos(nodes=3)
    with pytest.raises(UnknownNode, match="n9"):
        cluster.propose("n9", "x")
    with pytest.raises(BadParameter, match="immutable"):
        cluster.propose("n1", ["a", "list"])
    with pytest.raises(BadParameter, match="no bug 'typo'"):
        Paxos(bugs=["typo"])
    with pytest.raises(ScriptError, match="usage: propose NODE VALUE"):
        replay("algorithm paxos\nnodes 3\n\npropose n1\n")
