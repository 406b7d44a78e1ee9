"""Primary-backup replication with failover, epochs, fencing, leases and catch-up.

Checked against Budhiraja, Marzullo, Schneider & Toueg, "The Primary-Backup Approach" (1993), Lin et
al., "PacificA" (2008: configuration manager, reconfiguration, catch-up), Oki & Liskov, "Viewstamped
Replication" (1988: view numbers fence an old primary) and Gray & Cheriton, "Leases" (1989).

Unless a test says otherwise: replicas n1..n3, the coordination service zk, every message takes 10 ticks.
"""

import pytest

from fttoolkit import BadParameter, InvalidAction, PrimaryBackup, UnknownNode
from fttoolkit.algorithms.primary_backup import (CatchUpRequest, Configuration, Entry, Heartbeat, PrimaryBackupNode,
                                                 ReadReply, Replicate, Snapshot, StaleEpoch, Stored, Write,
                                                 WriteReply, invariants_for, lease_wait_ticks)
from fttoolkit.check.fuzz import fuzz
from fttoolkit.scenario import ScriptError, preset_failures, replay, with_bugs


def cluster(**kw):
    kw.setdefault("delay", 10)
    return PrimaryBackup(nodes=kw.pop("nodes", 3), seed=kw.pop("seed", 1), **kw)


def started(**kw):
    c = cluster(**kw)
    c.run(until=20)             # zk's first configuration has arrived: n1 is primary
    return c


def events(c, kind, node=None):
    return [e for e in c.trace if e.kind == kind and (node is None or e.node == node)]


def notes(c, text, node=None):
    return [e for e in events(c, "note", node) if e["text"] == text]


def broken(c):
    return {v["invariant"] for v in c.violations}


def assert_safe(c):
    assert not c.violations, [v.describe() for v in c.violations]


def preset(name, bugs=None):
    """A preset's run; ``bugs=[]`` replays it with its bug line removed."""
    text = PrimaryBackup.presets()[name]
    return replay(text if bugs is None else with_bugs(text, bugs)).door


# ------------------------------------------------------------------------------ the protocol
def test_messages_read_like_a_transcript():
    e = Entry(2, 3, "w3", "x", 1)
    assert repr(e) == "3/2 w3 x=1"
    assert repr(Replicate(2, 2, 1, (e,), 2, 3)) == "Replicate(e2, after 2/1, [3/2 w3 x=1], commit=2)"
    assert repr(Configuration(2, 1, "n2", ("n2", "n3"))) == "Configuration(e2 v1, primary=n2, members=n2,n3)"
    assert repr(StaleEpoch(3, "n2")) == "StaleEpoch(e3, primary=n2)"
    assert repr(Stored(2, 3)) == "Stored(e2, lsn=3)"
    assert repr(WriteReply("w1", True, 1, 1)) == "WriteReply(w1 ok, e1, lsn=1)"
    assert repr(Heartbeat(1, 0, True, 1, 4, 80)) == "Heartbeat(e1 v0 primary, log 4/1, sent 80)"
    assert repr(CatchUpRequest(2, 0, 0, ((1, 1, 2), (2, 3, 3)))) == \
        "CatchUpRequest(e2, checkpoint 0/0, log 1-2/1 3-3/2)"


def test_the_coordinator_writes_each_configuration_down_before_announcing_it():
    c = started()
    c.crash("n1")
    c.run(until=400)
    configs = [e for e in events(c, "stored", "zk") if e["records"][0][0] == "config"]
    assert [e["records"][0][1] for e in configs] == [1, 2]            # epochs 1 then 2, each once
    for e in configs:
        epoch = e["records"][0][1]
        announced = [s for s in events(c, "sent", "zk")
                     if isinstance(s["msg"], Configuration) and s["msg"].epoch == epoch]
        assert announced and all(e.seq < s.seq for s in announced)


def test_a_synchronous_write_is_acknowledged_once_every_member_stored_it():
    c = started()
    wid = c.write("x", 1)
    c.run(until=100)
    reply = next(e for e in events(c, "reply") if e["msg"].wid == wid)
    stores = [e for e in events(c, "stored") if e["records"][0][0] == "entry"]
    assert sorted(e.node for e in stores) == ["n1", "n2", "n3"]
    assert all(e.seq < reply.seq for e in stores)
    assert reply.tick == 40                                         # a round trip after the write at t=20
    assert [(a.wid, a.epoch, a.lsn) for a in c.acknowledged()] == [(wid, 1, 1)]


def test_an_asynchronous_write_is_acknowledged_after_the_primarys_own_force():
    c = started(replication="async")
    wid = c.write("x", 1)
    c.run(until=100)
    reply = next(e for e in events(c, "reply") if e["msg"].wid == wid)
    own = next(e for e in events(c, "stored", "n1") if e["records"][0][0] == "entry")
    backups = [e for e in events(c, "stored") if e.node != "n1" and e["records"][0][0] == "entry"]
    assert reply.tick == 20 and own.seq < reply.seq
    assert len(backups) == 2 and all(reply.seq < e.seq for e in backups)   # replicated in the background


def test_synchronous_writes_stall_until_a_crashed_backup_is_removed():
    c = started()
    c.crash("n3", at=30)
    c.run(until=60)
    wid = c.write("x", 1)
    c.run(until=400)
    removed = notes(c, "removed", "zk")
    assert removed and removed[0]["fields"]["nodes"] == ("n3",)
    reply = next(e for e in events(c, "reply") if e["msg"].wid == wid)
    assert reply.tick > removed[0].tick > 30 + 100 and reply.tick > 60 + 20   # the availability cost of "sync"
    assert c.configuration()["members"] == ["n1", "n2"]


def test_failover_preserves_acknowledged_writes():
    c = preset("primary_crash_failover")
    assert_safe(c)
    assert c.primary() == "n2" and c.epochs()["n2"] == 2
    acked = [a.wid for a in c.acknowledged()]
    assert acked == ["w1", "w2", "w3"]
    assert [e.wid for e in c.logs()["n2"]] == acked and c.lost_writes() == []
    suspected = notes(c, "suspected", "zk")[0]
    assert suspected["fields"]["node"] == "n1" and suspected.tick - 70 > 100   # silent for longer than 100


def test_the_most_complete_member_is_promoted():
    c = started()
    c.write("x", 1)
    c.run(until=60)
    c.crash("n2")                           # n3 will hear one more write than n2
    c.write("x", 2)
    c.run(until=100)
    c.crash("n1")
    c.restart("n2")
    c.run(until=400)
    assert_safe(c)
    promoted = notes(c, "promoting", "zk")[-1]["fields"]["node"]
    assert promoted == "n3" and c.primary() == "n3"


def test_epochs_are_unique_across_several_failovers_and_a_coordinator_crash():
    c = started()
    for victim, at in (("n1", 50), ("n2", 400)):
        c.crash(victim, at=at)
        c.restart(victim, at=at + 150)
    c.crash("zk", at=300)
    c.restart("zk", at=320)
    c.workload(until=700, requests=12)
    c.run(until=1200)
    assert_safe(c)
    became = [(e["fields"]["epoch"], e.node) for e in notes(c, "became primary")]
    epochs = [epoch for epoch, _ in became]
    assert len(set(epochs)) == len(epochs) and len(epochs) >= 3
    assert c.configuration()["epoch"] == max(epochs)


# ------------------------------------------------------------------------------ fencing
def test_a_replica_refuses_a_stale_epoch_and_names_the_newer_one():
    node = PrimaryBackupNode("n2", peers=("n1", "n3", "zk"))
    node.start([])
    node.handle_message(Configuration(2, 0, "n3", ("n2", "n3")), "zk")
    out = node.handle_message(Replicate(1, 0, 0, (Entry(1, 1, "w1", "x", 1),), 0, 1), "n1")
    assert out[-1].to == "n1" and out[-1].msg == StaleEpoch(2, "n3")
    assert node.log == {} and not any(type(i).__name__ == "Persist" for i in out)
    assert node.accepts_epoch(Snapshot(1, 0, 0, (), (), 0)) is False


def test_a_replica_forces_a_new_epoch_before_acting_on_it():
    node = PrimaryBackupNode("n2", peers=("n1", "n3", "zk"))
    node.start([])
    out = node.handle_message(Configuration(3, 0, "n1", ("n1", "n2")), "zk")
    assert repr(out[0]) == "Persist(('epoch', 3))"
    restarted = PrimaryBackupNode("n2", peers=("n1", "n3", "zk"))
    restarted.start([("epoch", 3)])
    assert restarted.epoch == 3 and not restarted.accepts_epoch(Replicate(2, 0, 0, (), 0, 0))


def test_a_partitioned_old_primary_is_fenced_steps_down_and_catches_up():
    c = preset("partition_fenced")
    assert_safe(c)
    refused = notes(c, "refused stale epoch")
    assert {e.node for e in refused} == {"n2", "n3"} and all(e["fields"]["epoch"] == 1 for e in refused)
    down = notes(c, "stepped down", "n1")[0]
    assert down["fields"] == {"epoch": 1, "new_epoch": 2} and down.tick == 390
    w2 = next(e["msg"] for e in events(c, "reply", "n1") if e["msg"].wid == "w2")
    assert not w2.ok and "unknown" in w2.reason                     # never acknowledged
    assert notes(c, "discarded divergent suffix", "n1")[0]["fields"]["entries"] == (2,)
    assert c.logs()["n1"] == c.logs()["n2"] == c.logs()["n3"] and c.divergent() == {}
    assert c.roles()["n1"] == "backup" and c.configuration()["members"] == ["n1", "n2", "n3"]


def test_a_partition_makes_the_logs_diverge_until_the_old_primary_is_fenced():
    c = started()
    c.write("x", 1)
    c.run(until=100)
    c.partition(["n1"], ["n2", "n3", "zk"])
    c.write("x", 2, to="n1")
    c.run(until=300)
    c.write("x", 3, to="n2")
    c.run(until=340)
    assert c.roles()["n1"] == c.roles()["n2"] == "primary"          # two believe, in different epochs
    assert c.divergent() == {2: {"n1": (1, "w2"), "n2": (2, "w3"), "n3": (2, "w3")}}
    c.heal()
    c.run(until=700)
    assert c.divergent() == {} and c.primary() == "n2"
    assert_safe(c)


def test_split_brain_without_fencing_is_caught():
    c = preset("split_brain")
    assert {"Split brain", "Durability", "Stale epoch"} <= broken(c)
    acks = {(a.lsn, a.wid, a.node) for a in c.acknowledged()}
    assert {(2, "w3", "n2"), (2, "w2", "n1")} <= acks                # two writes acknowledged at LSN 2
    assert c.lost_writes() == ["w3"]
    assert preset("split_brain", bugs=[]).violations == []           # the same run, fenced


def test_a_subclass_that_accepts_every_epoch_is_caught():
    class Unfenced(PrimaryBackupNode):          # what a student's wrong accepts_epoch does
        def accepts_epoch(self, msg):
            return True

    class Door(PrimaryBackup):
        node_class = Unfenced

    c = Door(nodes=3, seed=1, delay=10)
    c.run(until=20)
    c.write("x", 1)
    c.run(until=100)
    c.partition(["n1"], ["n2", "n3", "zk"])
    c.write("x", 2, to="n1")
    c.run(until=300)
    c.write("x", 3, to="n2")
    c.run(until=361)
    c.heal()
    c.run(until=700)
    assert {"Stale epoch", "Split brain", "Durability"} <= broken(c)


# ------------------------------------------------------------------------------ catching up
def test_match_point_and_catch_up_plan():
    node = PrimaryBackupNode("n1", params={"ship_limit": 3})
    node.start([])
    node.log = {k: Entry(1 if k <= 3 else 2, k, f"w{k}", "x", k) for k in range(1, 9)}
    node.commit_lsn = 8
    assert node.match_point(0, 0, ((1, 1, 3), (2, 4, 6))) == 6      # a prefix of this log
    assert node.match_point(0, 0, ((1, 1, 5),)) == 3                # 4 and 5 from a deposed epoch 1 primary
    assert node.match_point(0, 0, ()) == 0
    assert node.catch_up_plan(6) == "log" and node.catch_up_plan(3) == "snapshot"
    assert node.catch_up_plan(5) == "log" and node.catch_up_plan(None) == "snapshot"
    node.base_lsn, node.base_epoch = 4, 2                           # LSN 1-4 folded into a checkpoint
    node.log = {k: v for k, v in node.log.items() if k > 4}
    assert node.match_point(0, 0, ((1, 1, 3),)) is None              # nothing left to ship from


def test_the_old_primary_returns_and_catches_up_by_log_shipping():
    c = preset("old_primary_returns")
    assert_safe(c)
    plan = notes(c, "catch-up", "n2")
    assert plan[-1]["fields"] == {"node": "n1", "match": 1, "plan": "log"}
    assert notes(c, "discarded divergent suffix", "n1")[0]["fields"]["entries"] == (2,)
    assert [e.wid for e in c.logs()["n1"]] == ["w1", "w3", "w4"] == [e.wid for e in c.logs()["n2"]]
    assert c.roles()["n1"] == "backup" and "n1" in c.configuration()["members"]
    assert not notes(c, "installed snapshot")


def test_a_replica_that_missed_too_much_gets_a_snapshot():
    c = preset("catch_up_by_snapshot")
    assert_safe(c)
    plans = [e["fields"] for e in notes(c, "catch-up", "n1") if e["fields"]["node"] == "n3" and e.tick >= 300]
    assert plans[0] == {"node": "n3", "match": None, "plan": "snapshot"}
    assert notes(c, "installed snapshot", "n3")[0]["fields"] == {"lsn": 7}
    assert c.stores()["n3"] == c.stores()["n1"] == {"x": 5, "y": 6, "z": 7}
    assert c.checkpoints()["n3"] == (7, 1) and c.checkpoints()["n1"][0] > 0
    assert c.configuration()["members"] == ["n1", "n2", "n3"]


def test_a_returning_replica_is_not_a_member_and_serves_nothing_before_it_caught_up():
    c = started()
    c.crash("n3", at=30)
    c.run(until=200)
    for k in range(4):
        c.write("x", k)
    c.run(until=300)
    c.restart("n3")
    c.run_until(lambda sim: any(e.kind == "note" and e["text"] == "catch-up" for e in sim.trace[-20:]),
                limit_ticks=400)
    assert c.roles()["n3"] == "recovering" and "n3" not in c.configuration()["members"]
    assert c.read("x", to="n3").reason.startswith("not the primary")
    c.run(until=500)
    assert c.roles()["n3"] == "backup" and [e.wid for e in c.logs()["n3"]] == [e.wid for e in c.logs()["n1"]]


def test_a_new_primary_serves_reads_only_once_it_has_taken_over():
    c = started()
    c.write("x", 1)
    c.run(until=60)
    c.crash("n1")
    c.run_until(lambda sim: sim.nodes["n2"].role == "primary", limit_ticks=400)
    assert not c.sim.nodes["n2"].ready
    assert c.read("x", to="n2").reason == "taking over: not caught up yet"
    c.run(until=c.now + 40)
    assert c.read("x", to="n2").value == 1


# ------------------------------------------------------------------------------ asynchronous loss
def test_asynchronous_replication_loses_acknowledged_writes_and_counts_them():
    c = preset("async_loses_writes")
    assert_safe(c)                                                  # durability is not promised
    assert "Durability" not in {inv.name for inv in c.invariants}
    assert c.lost_writes() == ["w2"]
    assert [a.wid for a in c.acknowledged()] == ["w1", "w2", "w3"]
    assert [e.wid for e in c.logs()["n1"]] == ["w1", "w3"]           # discarded on its return
    first_read = c.reads()[0]
    assert first_read[3] == 1 and len(c.stale_reads()) == 1


def test_the_same_crash_loses_nothing_with_synchronous_replication():
    c = replay(PrimaryBackup.presets()["async_loses_writes"].replace("param replication=async\n", "")).door
    assert_safe(c)
    assert c.lost_writes() == [] and "w2" not in [a.wid for a in c.acknowledged()]


def test_invariants_follow_the_parameters():
    names = lambda **p: [inv.name for inv in invariants_for(p)]     # noqa: E731
    assert names() == ["Durability", "Split brain", "Stale epoch", "One primary per epoch"]
    assert names(leases=True) == names() + ["Lease safety", "Monotonic reads"]
    assert names(replication="async") == ["Stale epoch", "One primary per epoch"]
    assert [inv.name for inv in cluster(leases=True).invariants] == names(leases=True)


# ------------------------------------------------------------------------------ reads and leases
def test_lease_wait_covers_the_drift_bound():
    assert lease_wait_ticks(120, 0.0) == 123
    assert lease_wait_ticks(120, 0.05) == 136
    for lease, bound in ((120, 0.05), (300, 0.1), (50, 0.3)):
        wait = lease_wait_ticks(lease, bound)
        # the holder's lease in real ticks at its slowest, against the coordinator's wait at its fastest
        assert (wait - 1) / (1 + bound) >= (lease + 1) / (1 - bound)


def test_a_partitioned_primary_serves_stale_reads_without_a_lease():
    c = preset("stale_read_without_lease")
    assert_safe(c)
    stale = c.stale_reads()
    assert [(s.node, s.value, s.newest_value) for s in stale] == [("n1", 1, 2)]
    assert "Monotonic reads" not in {inv.name for inv in c.invariants}


def test_a_lease_prevents_the_stale_read_within_the_drift_bound():
    c = preset("lease_prevents_stale_read")
    assert_safe(c)
    assert c.stale_reads() == []
    reads = {r[0]: r for r in c.reads()}
    assert reads["r1"][2] and reads["r1"][3] == 1                   # t=150: still its lease
    assert not reads["r2"][2] and not reads["r3"][2]                # t=210, t=330: refused
    assert all(e["msg"].reason == "no lease" for e in events(c, "reply", "n1") if isinstance(e["msg"], ReadReply)
               and not e["msg"].ok)
    wait = notes(c, "waiting out the lease", "zk")[0]
    assert wait["fields"]["until"] == 90 + lease_wait_ticks(120, 0.05)
    assert notes(c, "promoting", "zk")[0].tick >= wait["fields"]["until"]


def test_drift_beyond_the_bound_breaks_the_lease():
    c = preset("lease_broken_by_drift")
    assert {"Lease safety", "Monotonic reads"} == broken(c)
    assert [(s.node, s.value) for s in c.stale_reads()] == [("n1", 1)]
    quiet = replay(PrimaryBackup.presets()["lease_broken_by_drift"].replace("clock n1 0.8", "clock n1 0.96")
                   .replace("clock zk 1.2", "clock zk 1.04")).door            # 4% drift: within the bound
    assert quiet.violations == [] and quiet.stale_reads() == []


def test_clock_drift_parameter_sets_each_clock_at_the_bound():
    c = cluster(drift=0.05, leases=True)
    rates = [e["rate"] for e in events(c, "clock")]
    assert len(rates) == 4 and set(rates) <= {0.95, 1.05}
    assert cluster(drift=0.05, leases=True).trace.to_jsonl() == c.trace.to_jsonl()


def test_leases_hold_under_the_fuzzer_with_drift_within_the_bound():
    report = fuzz(PrimaryBackup, seeds=25, params={"leases": True, "drift": 0.05, "lease_ticks": 300},
                  profile="partition", shrink_first=False)
    assert report.failures == []


# ------------------------------------------------------------------------------ the bug zoo
@pytest.mark.parametrize("name, invariants", [
    ("split_brain", {"Split brain", "Durability", "Stale epoch"}),
    ("serve_before_catch_up", {"Durability"}),
    ("coordinator_forgets_epoch", {"One primary per epoch", "Durability"}),
    ("lease_broken_by_drift", {"Lease safety", "Monotonic reads"}),
])
def test_each_demonstration_preset_breaks_what_it_expects(name, invariants):
    result = replay(PrimaryBackup.presets()[name])
    assert result.ok and set(result.expected) == invariants == broken(result.door)


def test_serve_before_catch_up_leaves_a_member_with_a_hole():
    c = preset("serve_before_catch_up")
    assert [e.lsn for e in c.logs()["n3"]] == [1, 3] and c.lost_writes() == ["w2"]
    fixed = preset("serve_before_catch_up", bugs=[])
    assert fixed.violations == [] and [e.lsn for e in fixed.logs()["n3"]] == [1, 2, 3]


def test_promoting_a_stale_backup_loses_acknowledged_writes():
    script = """algorithm primary-backup
nodes 3
seed 1
bugs promote-stale-backup
network delay=10
run 20
crash n3
run 200
write n1 x 1
run 300
restart n3
crash n1
crash n2
run 600
"""
    c = replay(script).door
    assert broken(c) == {"Durability"} and c.primary() == "n3" and c.lost_writes() == ["w1"]
    correct = replay(script.replace("bugs promote-stale-backup\n", "")).door
    assert correct.violations == [] and correct.primary() is None     # n3 is no member: nobody to promote
    config = correct.configuration()
    assert config["epoch"] == 1 and config["primary"] == "n1" and "n3" not in config["members"]


@pytest.mark.parametrize("bug, params, profile, invariants", [
    ("no-fencing", {}, "partition", {"Stale epoch", "Durability", "Split brain"}),
    ("serve-before-catch-up", {}, "chaos", {"Durability"}),
    ("promote-stale-backup", {}, "chaos", {"Durability"}),
    ("volatile-epoch", {}, "chaos", {"One primary per epoch", "Durability", "Split brain", "Primary",
                                      "Rejoined", "Progress"}),
    ("lease-without-margin", {"leases": True, "drift": 0.25, "drift_bound": 0.25, "lease_ticks": 200},
     "partition", {"Lease safety", "Monotonic reads"}),
])
def test_the_fuzzer_catches_each_bug(bug, params, profile, invariants):
    report = fuzz(PrimaryBackup, seeds=60, bugs=[bug], params=params, profile=profile, stop_at_first=True,
                  shrink_first=False)
    assert report.failures, f"{bug}: nothing in 60 seeds"
    assert report.failures[0].violations[0].invariant in invariants
    clean = fuzz(PrimaryBackup, seeds=report.schedules, params=params, profile=profile, shrink_first=False)
    assert clean.failures == []                   # the same seeds without the bug


def test_the_correct_protocol_survives_the_fuzzer():
    assert fuzz(PrimaryBackup, seeds=40, shrink_first=False).failures == []
    assert fuzz(PrimaryBackup, seeds=20, profile="crash", shrink_first=False,
                params={"replication": "async"}).failures == []


def test_presets_are_clean_without_their_bugs():
    assert PrimaryBackup.story_presets() | {"split_brain", "serve_before_catch_up", "coordinator_forgets_epoch"} == {
        "primary_crash_failover", "partition_fenced", "split_brain", "old_primary_returns",
        "catch_up_by_snapshot", "async_loses_writes", "stale_read_without_lease", "lease_prevents_stale_read",
        "lease_broken_by_drift", "serve_before_catch_up", "coordinator_forgets_epoch"}
    assert preset_failures(PrimaryBackup) == []
    for name, text in PrimaryBackup.presets().items():
        assert text.count("\n#") >= 3, name                         # narrated
        result = replay(text)
        assert result.ok, (name, [v.describe() for v in result.door.violations])


# ------------------------------------------------------------------------------ liveness, determinism
def test_liveness_after_the_faults_stop():
    c = cluster(nodes=4, seed=4, loss=0.1)
    c.workload(600, requests=20)
    c.crash("n1", at=100)
    c.restart("n1", at=400)
    c.partition(["n2"], ["n1", "n3", "n4", "zk"], at=500)
    c.heal(at=700)
    c.crash("zk", at=750)
    c.restart("zk", at=800)
    c.run(until=2000)
    assert_safe(c)
    assert c.check_liveness() == []
    assert c.configuration()["members"] == ["n1", "n2", "n3", "n4"]


def test_same_seed_same_trace_and_scripts_replay_exactly():
    def run():
        c = PrimaryBackup(nodes=4, seed=9, loss=0.1, delay=(5, 20), leases=True, drift=0.05)
        c.workload(500, requests=15)
        c.crash("n1", at=120)
        c.restart("n1", at=420)
        c.run(until=900)
        return c
    a, b = run(), run()
    assert a.trace.to_jsonl() == b.trace.to_jsonl()
    assert replay(a.to_script()).door.trace.to_jsonl() == a.trace.to_jsonl()
    other = PrimaryBackup(nodes=4, seed=10, loss=0.1, delay=(5, 20))
    other.workload(500, requests=15)
    other.run(until=900)
    assert other.trace.to_jsonl() != a.trace.to_jsonl()


def test_script_commands():
    script = """algorithm primary-backup
nodes 3
seed 1
network delay=10
run 20
write n1 x 5
write n1 name ada as bob
run 60
read n1 x as bob
"""
    c = replay(script).door
    assert c.stores()["n1"] == {"x": 5, "name": "ada"}
    assert c.reads()[0][3] == 5 and c.reads()[0][8] == "bob"
    assert [s.wid for s in c.submitted()] == ["w1", "w2"]
    with pytest.raises(ScriptError, match="usage: write NODE KEY VALUE"):
        replay(script.replace("write n1 x 5", "write n1 x"))
    with pytest.raises(ScriptError, match="usage: read NODE KEY"):
        replay(script.replace("read n1 x as bob", "read n1"))


def test_write_ids_stay_unique_across_scripted_and_helper_writes():
    c = started()
    c.sim.request("n1", Write("w7", "x", 1))
    assert c.write("y", 2) == "w8"
    assert c.read("y").rid == "r1"


# ------------------------------------------------------------------------------ bad input
def test_clear_errors_for_bad_input():
    with pytest.raises(BadParameter, match="replication must be 'sync' or 'async'"):
        cluster(replication="semi")
    with pytest.raises(BadParameter, match="suspect_ticks must be a whole number >= 1"):
        cluster(suspect_ticks=-5)
    with pytest.raises(BadParameter, match="drift must be a number in"):
        cluster(drift=1.5)
    with pytest.raises(BadParameter, match="drift_bound"):
        cluster(drift_bound=1)
    with pytest.raises(BadParameter, match="leases must be True or False"):
        cluster(leases="yes")
    with pytest.raises(BadParameter, match="at least 1 replica"):
        cluster(nodes=0)
    with pytest.raises(BadParameter, match="no parameter 'fencing'"):
        cluster(fencing=False)
    with pytest.raises(BadParameter, match="no bug 'split-brain'"):
        cluster(bugs=["split-brain"])
    c = started()
    with pytest.raises(UnknownNode):
        c.write("x", 1, to="n9")
    with pytest.raises(BadParameter, match="coordination service"):
        c.read("x", to="zk")
    with pytest.raises(BadParameter, match="immutable"):
        c.write("x", [1, 2])
    with pytest.raises(BadParameter, match="non-empty string"):
        c.write("", 1)
    with pytest.raises(InvalidAction):
        c.restart("n1")


def test_a_wrong_catch_up_plan_is_visible_not_a_crash():
    class AlwaysLog(PrimaryBackupNode):        # a student's plan that ignores the checkpoint
        def catch_up_plan(self, match_lsn):
            return "log"

    class Door(PrimaryBackup):
        node_class = AlwaysLog

    c = Door(nodes=3, seed=1, delay=10, retain_entries=2, ship_limit=2)
    c.run(until=20)
    c.write("x", 1)
    c.run(until=60)
    c.crash("n3")
    c.run(until=200)
    for k in range(6):
        c.write("x", k)
    c.run(until=300)
    c.restart("n3")
    c.run(until=800)
    assert_safe(c)
    assert c.roles()["n3"] == "recovering"                          # it never catches up
    assert "n3" not in c.configuration()["members"]

    class Nonsense(PrimaryBackupNode):
        def catch_up_plan(self, match_lsn):
            return "both"

    class Door2(PrimaryBackup):
        node_class = Nonsense

    with pytest.raises(Exception, match="must return 'log' or 'snapshot'"):
        Door2(nodes=3, seed=1, delay=10).run(until=40)
