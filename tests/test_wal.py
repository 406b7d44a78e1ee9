"""Crash recovery with a write-ahead log, checked against Haerder & Reuter, "Principles of
Transaction-Oriented Database Recovery" (1983: force the log record before acknowledging) and Mohan et
al., "ARIES" (1992, §6: redo from the checkpoint, comparing LSNs, so that redo is idempotent).

Unless a test says otherwise the cluster is one node, n1.
"""

import pytest

from fttoolkit import BadParameter, UnknownNode, WriteAheadLog
from fttoolkit.algorithms.wal import (INVARIANTS, Ack, Append, Checkpoint, Get, LogRecord, Put, Value, WalNode, Write,
                                      checksum, explained, plan_recovery, read_record, recover, redo_step)
from fttoolkit.check.fuzz import execute, fuzz
from fttoolkit.cli import main
from fttoolkit.core import Torn
from fttoolkit.scenario import ScriptError, preset_failures, replay, schedule_to_script, with_bugs


def wal(**kw):
    return WriteAheadLog(nodes=kw.pop("nodes", 1), seed=kw.pop("seed", 1), **kw)


def broken(door):
    return {v["invariant"] for v in door.violations}


def events(door, kind, node=None):
    return [e for e in door.trace if e.kind == kind and (node is None or e.node == node)]


def notes(door, text):
    return [e for e in events(door, "note") if e["text"] == text]


# ------------------------------------------------------------------------------ records and checksums
def test_messages_and_records_read_like_a_transcript():
    assert repr(Put("w1", "x", "a")) == "Put(w1, x='a')"
    assert repr(Append("w2", "x", "b")) == "Append(w2, x+='b')"
    assert repr(Get("r1", "x")) == "Get(r1, x)"
    assert repr(Ack("w1", 3)) == "Ack(w1, lsn=3)" and repr(Value("r1", "x", None)) == "Value(r1, x=None)"
    record = LogRecord.sealed(3, "w3", "append", "x", "c")
    assert repr(record) == f"LogRecord(lsn=3, w3: x+='c', crc={record.crc:08x})"
    assert repr(Checkpoint.sealed(2, {"y": "b", "x": "a"})).startswith("Checkpoint(lsn=2, {x='a', y='b'}, crc=")
    assert repr(Write("w1", "put", "x", "a")) == "w1 x='a'"


def test_a_checksum_covers_every_field_and_a_torn_record_never_verifies():
    record = LogRecord.sealed(3, "w3", "append", "x", "abcd")
    assert record.valid and record.crc == checksum("log", 3, "w3", "append", "x", "abcd")
    for changed in (LogRecord(4, "w3", "append", "x", "abcd", record.crc),
                    LogRecord(3, "w3", "put", "x", "abcd", record.crc),
                    LogRecord(3, "w3", "append", "y", "abcd", record.crc),
                    LogRecord(3, "w3", "append", "x", "abce", record.crc)):
        assert not changed.valid
    torn = read_record(Torn(record))
    assert not torn.valid and torn.crc is None and torn.arg == "ab??" and torn.lsn == 3
    for text in ("", "?", "??"):          # even garbage that equals the original cannot verify
        assert not read_record(Torn(LogRecord.sealed(1, "w1", "put", "x", text))).valid
    point = Checkpoint.sealed(4, {"x": "ab", "y": "cd"})
    assert point.valid and not Checkpoint(5, point.store, point.crc).valid
    torn_point = read_record(Torn(point))
    assert not torn_point.valid and torn_point.store == (("x", "ab"), ("y", "c?"))


# ------------------------------------------------------------------------------ the write path
@pytest.mark.parametrize("group", [0, 5])
def test_every_ack_follows_the_forced_log_record_of_its_write(group):
    w = wal(group_commit_ticks=group, checkpoint_every=2)
    for k in range(5):
        w.append("n1", "x", str(k))
    w.put("n1", "y", "v")
    w.run(until=50)
    acks = [e for e in events(w, "reply") if isinstance(e["msg"], Ack)]
    assert [e["msg"].op for e in acks] == ["w1", "w2", "w3", "w4", "w5", "w6"]
    for ack in acks:
        forced = [s for s in events(w, "stored") if any(getattr(r, "op", None) == ack["msg"].op for r in s["records"])]
        assert forced and forced[0].seq < ack.seq
    if group:     # one storage write for the whole burst
        assert len(events(w, "stored")[0]["records"]) == 6
    assert w.store("n1") == {"x": "01234", "y": "v"} and not w.violations


def test_the_node_forces_then_applies_then_acknowledges():
    node = WalNode("n1", params={"checkpoint_every": 2})
    node.start([])
    first = node.handle_message(Put("w1", "x", "a"), "c")
    assert [type(i).__name__ for i in first] == ["Persist", "Send"]
    second = node.handle_message(Append("w2", "x", "b"), "c")
    assert [type(i).__name__ for i in second] == ["Persist", "Send", "Persist"]      # then a checkpoint
    assert second[2].records == (Checkpoint.sealed(2, {"x": "ab"}),)
    assert node.store == {"x": "ab"} and node.applied_lsn == 2 and node.checkpoint_lsn == 2


def test_ack_before_force_sends_the_ack_first():
    node = WalNode("n1", bugs=["ack-before-force"])
    node.start([])
    assert [type(i).__name__ for i in node.handle_message(Put("w1", "x", "a"), "c")] == ["Send", "Persist"]


# ------------------------------------------------------------------------------ recovery
def test_replay_after_a_crash_starts_from_the_checkpoint():
    w = wal().load_preset("crash_and_replay")
    assert not w.violations
    report = w.recovery_report("n1")
    assert report["checkpoint"] == 3 and report["redo"] == [4, 5] and report["replayed"] == [4, 5]
    assert report["discarded"] == [] and report["began"] == 30 and report["finished"] == 40
    assert report["recovery_ticks"] == 10 and not report["recovering"]
    assert w.store("n1") == {"x": "abcd", "y": "hello"}
    assert [repr(x) for x in w.recovered("n1")] == ["w1 x='a'", "w2 x+='b'", "w3 x+='c'", "w4 x+='d'", "w5 y='hello'"]
    values = [e["msg"] for e in events(w, "reply") if isinstance(e["msg"], Value)]
    assert values == [Value("r1", "x", "abcd"), Value("r2", "y", "hello")]
    assert [e["index"] for e in w.checkpoints("n1")] == [3]


def test_a_torn_record_is_discarded_and_its_lsn_reused():
    w = wal().load_preset("torn_record")
    assert not w.violations
    log = w.log("n1")
    torn = log[2]
    assert torn["torn"] and not torn["valid"] and torn["lsn"] == 3 and torn["op"] == "w3" and torn["arg"] == "?"
    assert all(e["valid"] for i, e in enumerate(log) if i != 2)
    assert w.recovery_report("n1")["discarded"] == [2]
    assert [w_.op for w_ in w.acknowledged()] == ["w1", "w2", "w4"]
    assert [w_.op for w_ in w.submitted()] == ["w1", "w2", "w3", "w4"]
    assert log[3]["lsn"] == 3 and log[3]["op"] == "w4" and w.store("n1") == {"x": "abc"}


def test_group_commit_torn_after_its_first_record():
    w = wal().load_preset("group_commit")
    assert not w.violations
    torn_write = [e for e in events(w, "stored") if e.get("torn")][0]
    assert len(torn_write["records"]) == 2 and isinstance(torn_write["records"][1], Torn)
    assert w.recovery_report("n1")["replayed"] == [1, 2, 3] and w.store("n1") == {"x": "abc"}
    assert [x.op for x in w.acknowledged()] == ["w1", "w2"]     # w3 survived unacknowledged: allowed


def test_a_crash_during_checkpointing_falls_back_to_the_previous_checkpoint():
    w = wal().load_preset("crash_during_checkpoint")
    assert not w.violations
    points = w.checkpoints("n1")
    assert [(p["lsn"], p["valid"], p["torn"]) for p in points] == [(2, True, False), (4, False, True)]
    report = w.recovery_report("n1")
    assert report["checkpoint"] == 2 and report["discarded"] == [5] and report["replayed"] == [3, 4]
    assert w.store("n1") == {"x": "abcd"}


def test_a_crash_during_recovery_is_harmless_and_requests_wait_for_recovery():
    w = wal().load_preset("crash_during_recovery")
    assert not w.violations
    first, second = notes(w, "recovery")
    assert first["fields"] == second["fields"]                 # the same disk, the same plan
    assert [n.tick for n in notes(w, "redo")] == [20, 30, 50, 60, 70]
    done = notes(w, "recovered")[-1]
    assert done.tick == 70 and dict(done["fields"]["store"]) == {"x": "abcdefg"}
    reply = [e for e in events(w, "reply")][-1]
    assert reply.tick == 70 and reply["msg"] == Value("r1", "x", "abcdefg")   # asked at t=45, deferred


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_redo_is_idempotent_on_every_prefix_of_a_real_disk(seed):
    # Whatever point a crash cuts the disk at, recovering twice (or from a checkpoint of a recovery)
    # gives the same state: the whole log records, each applied once.
    w = wal(seed=seed, checkpoint_every=3, group_commit_ticks=4)
    w.workload(until=400, requests=80)
    w.sim.inject_faults(crash=0.1, crash_point=0.1, tear=0.8, period_ticks=20, restart_ticks=(5, 20), stop_at=400,
                        max_down=1)
    w.run(until=600)
    disk = list(w.sim.disks["n1"])
    assert any(isinstance(r, Torn) for r in disk) and any(isinstance(r, Checkpoint) for r in disk)
    for end in range(len(disk) + 1):
        prefix = disk[:end]
        expected = {}
        for record in prefix:
            if isinstance(record, LogRecord):
                expected[record.key] = (expected.get(record.key) or "") + record.arg if record.kind == "append" \
                    else record.arg
        store, lsn = recover(prefix)
        assert store == expected, end
        again, _ = recover(prefix + [Checkpoint.sealed(lsn, store)])
        assert again == expected
    assert not w.violations


def test_redo_step_compares_lsns():
    store = {"x": "ab"}
    assert redo_step(store, 2, LogRecord.sealed(1, "w1", "append", "x", "a")) == (2, False)
    assert redo_step(store, 2, LogRecord.sealed(1, "w1", "append", "x", "a"), idempotent=False) == (2, True)
    assert store == {"x": "aba"}


def test_recovery_plan_from_the_latest_valid_checkpoint():
    log = [LogRecord.sealed(k, f"w{k}", "append", "x", c) for k, c in enumerate("abcd", start=1)]
    disk = log[:2] + [Checkpoint.sealed(2, {"x": "ab"})] + log[2:] + [Torn(Checkpoint.sealed(4, {"x": "abcd"}))]
    plan = plan_recovery(disk)
    assert plan.checkpoint.lsn == 2 and plan.checkpoint_index == 2
    assert [r.lsn for r in plan.redo] == [3, 4] and [i for i, _ in plan.discarded] == [5] and plan.next_lsn == 5
    assert plan_recovery([]).next_lsn == 1 and recover([]) == ({}, 0)
    assert [i for i, _ in plan_recovery(disk, bugs=["no-checksum"]).discarded] == []
    assert recover(disk, bugs=["no-checksum"])[0] == {"x": "ab??"}       # the torn checkpoint, taken as whole


# ------------------------------------------------------------------------------ the durability check
def test_explained_judges_acknowledged_recovered_submitted():
    ws = [Write("w1", "put", "x", "a"), Write("w2", "append", "x", "b"), Write("w3", "append", "x", "c"),
          Write("w4", "put", "y", "z")]
    assert explained(ws, {"w1", "w2", "w3", "w4"}, {"x": "abc", "y": "z"}) is None
    assert explained(ws, {"w1"}, {"x": "ac"}) is None                 # w2 lost: never acknowledged
    assert explained(ws, {"w1", "w3"}, {"x": "ab"}) == "x"            # acknowledged w3 lost
    assert explained(ws, {"w1"}, {"x": "acb"}) == "x"                 # out of submission order
    assert explained(ws, {"w1"}, {"x": "abb"}) == "x"                 # w2 twice
    assert explained(ws, set(), {"x": "a", "q": "1"}) == "q"          # never submitted
    assert explained(ws, {"w4"}, {"x": "abc"}) == "y"                 # acknowledged w4 lost
    assert explained(ws, set(), {}) is None                           # nothing acknowledged: all may be lost


# ------------------------------------------------------------------------------ the bugs, scripted
BUG_PRESETS = [("ack-before-force", "ack_before_force", {"Durability"}),
               ("no-checksum", "no_checksum", {"Durability", "Exactly once"}),
               ("redo-not-idempotent", "redo_not_idempotent", {"Durability", "Exactly once"})]


@pytest.mark.parametrize("bug, preset, invariants", BUG_PRESETS)
def test_each_bug_preset_breaks_its_invariants_and_is_clean_without_the_bug(bug, preset, invariants):
    text = WriteAheadLog.presets()[preset]
    result = replay(text)
    assert result.ok and result.expected == sorted(invariants) and {
        v["invariant"] for v in result.violations} == invariants
    assert wal().load_preset(preset).sim.bugs == (bug,)
    assert not replay(with_bugs(text, [])).violations


@pytest.mark.parametrize("bug, preset, invariants", [
    ("no-checksum", "torn_record", {"Durability", "Exactly once"}),
    ("no-checksum", "crash_during_checkpoint", {"Durability", "Exactly once"}),
    ("ack-before-force", "group_commit", {"Durability"}),       # acknowledged on arrival, torn at the flush
    ("ack-before-force", "crash_during_checkpoint", set()),       # its crash falls after the force
])
def test_the_clean_presets_catch_the_bugs_they_are_about(bug, preset, invariants):
    assert broken(wal().load_preset(preset, [bug])) == invariants


def test_the_clean_presets_are_clean():
    assert set(WriteAheadLog.presets()) == {
        "crash_and_replay", "crash_during_checkpoint", "torn_record", "group_commit", "crash_during_recovery",
        "ack_before_force", "no_checksum", "redo_not_idempotent"}
    assert preset_failures(WriteAheadLog) == []
    for name, text in WriteAheadLog.presets().items():
        result = replay(text)
        assert result.ok, name
        assert text.count("\n# ") >= 3, name          # narrated


# ------------------------------------------------------------------------------ the bugs, fuzzed
def only(*names):
    """The door with only the named invariants, to show that each one alone catches a bug."""
    invariants = [inv for inv in INVARIANTS if inv.name in names]
    return type("Only" + "".join(n.title().replace(" ", "") for n in names), (WriteAheadLog,),
                {"invariants": invariants, "name": "wal"})


@pytest.mark.parametrize("bug, invariant", [
    ("ack-before-force", "Durability"),
    ("no-checksum", "Durability"), ("no-checksum", "Exactly once"),
    ("redo-not-idempotent", "Durability"), ("redo-not-idempotent", "Exactly once"),
])
def test_each_invariant_alone_catches_each_bug_it_should_under_the_fuzzer(bug, invariant):
    report = fuzz(only(invariant), seeds=60, bugs=[bug], profile="crash", stop_at_first=True)
    assert report.failures, f"{invariant} did not catch {bug}"
    first = report.failures[0]
    assert first.violations[0].invariant == invariant
    shrunk = first.shrunk
    assert len(shrunk.actions) <= len(first.schedule.actions)
    assert any(v.invariant == invariant for v in execute(shrunk))
    again = replay(schedule_to_script(shrunk).render())          # the shrunk script replays the violation
    assert invariant in {v["invariant"] for v in again.violations}


def test_exactly_once_does_not_blame_a_lost_acknowledgement():
    # ack-before-force loses a write that never reached the disk: the disk is replayed correctly.
    assert broken(wal().load_preset("ack_before_force")) == {"Durability"}
    report = fuzz(only("Exactly once"), seeds=40, bugs=["ack-before-force"], profile="crash", shrink_first=False)
    assert report.failures == []


def test_the_correct_protocol_survives_the_fuzzer():
    assert fuzz(WriteAheadLog, seeds=150, shrink_first=False).failures == []
    assert fuzz(WriteAheadLog, seeds=100, profile="crash", shrink_first=False).failures == []


def test_the_command_line_fuzzes_wal(capsys):
    assert main(["fuzz", "wal", "--seeds", "20", "--no-presets"]) == 0
    assert "wal: 20 schedules, 0 violations" in capsys.readouterr().out
    assert main(["fuzz", "wal", "--seeds", "20", "--no-presets", "--bug", "ack-before-force",
                 "--faults", "crash"]) == 1
    out = capsys.readouterr().out
    assert "invariant: Durability" in out and "algorithm wal" in out


# ------------------------------------------------------------------------------ liveness
class _StuckNode(WalNode):
    """Forgets to arm the next Redo timer: recovery never ends."""

    def on_redo(self, timer):
        self._redo_next()


class _SilentNode(WalNode):
    """Serves, but never answers a put."""

    def on_put(self, msg, sender):
        pass


@pytest.mark.parametrize("node_class, what", [(_StuckNode, "still recovering"), (_SilentNode, "not acknowledged")])
def test_liveness_catches_a_node_that_never_serves(node_class, what):
    door_class = type("Broken", (WriteAheadLog,), {"node_class": node_class, "name": "wal"})
    w = door_class(seed=1, replay_ticks=5)
    w.append("n1", "x", "a")
    w.append("n1", "x", "b")
    w.run(until=10)
    w.crash("n1")
    w.restart("n1")
    w.run(until=400)
    found = w.check_liveness()
    assert found and found[0].invariant == "Serving" and what in found[0].detail
    good = wal(replay_ticks=5)
    good.append("n1", "x", "a")
    good.run(until=10)
    good.crash("n1")
    good.restart("n1")
    good.run(until=400)
    assert good.check_liveness() == []


# ------------------------------------------------------------------------------ determinism, scripts, API
def test_same_seed_same_trace():
    def run(seed):
        w = WriteAheadLog(nodes=3, seed=seed, group_commit_ticks=4)
        w.workload(until=500, requests=30)
        w.sim.inject_faults(crash=0.3, crash_point=0.05, period_ticks=30, stop_at=500)
        w.run(until=800)
        return w.trace.to_jsonl()
    assert run(5) == run(5)
    assert run(5) != run(6)


def test_a_saved_run_replays_exactly_and_new_ops_get_fresh_ids():
    w = WriteAheadLog(nodes=2, seed=3)
    w.workload(until=200, requests=8)
    w.run(until=100)
    w.crash("n2", after=1)
    w.put("n2", "k", "v")
    w.run(until=150)
    w.restart("n2")
    w.run(until=300)
    text = w.to_script()
    assert "request n1 Put(op=" in text or "request n1 Append(op=" in text
    again = replay(text).door
    assert again.trace.to_jsonl() == w.trace.to_jsonl()
    used = {x.op for x in again.submitted()}
    assert again.put("n1", "k", "new") not in used


def test_nodes_are_independent_servers():
    w = wal(nodes=3)
    w.put("n1", "x", "1")
    w.put("n2", "x", "2")
    w.append("n3", "y", "3")
    r = w.get("n2", "x")
    w.run(until=10)
    assert w.stores() == {"n1": {"x": "1"}, "n2": {"x": "2"}, "n3": {"y": "3"}}
    assert [x.op for x in w.submitted("n2")] == ["w2"] and r == "r1"
    history = w.history("n2")
    assert [(op.kind, op.key, op.value, op.output) for op in history] == [("put", "x", "2", None),
                                                                          ("get", "x", None, "2")]
    w.crash("n3")
    assert w.store("n3") is None and w.recovery_report("n3") is None and w.role("n3") is None
    assert w.recovered("n3") is None and w.role("n1") == "serving"


def test_script_commands_and_checkpoint_on_request():
    script = ("algorithm wal\nnodes 1\nseed 1\nparam checkpoint_every=0\n\n"
              "put n1 x a\nappend n1 x b\ncheckpoint n1\nat 20 get n1 x\nrun 30\n")
    w = replay(script).door
    assert [e["lsn"] for e in w.checkpoints("n1")] == [2]
    assert events(w, "reply")[-1].tick == 20 and events(w, "reply")[-1]["msg"] == Value("r1", "x", "ab")
    for bad in ("put n1 x", "append n1 x a b", "get n1", "checkpoint"):
        with pytest.raises(ScriptError, match="usage"):
            replay(f"algorithm wal\nnodes 1\n\n{bad}\n")


def test_bad_input_errors_are_clear():
    for params, word in [({"checkpoint_every": -1}, "checkpoint_every"), ({"replay_ticks": 1.5}, "replay_ticks"),
                         ({"group_commit_ticks": True}, "group_commit_ticks"), ({"window": 3}, "no parameter")]:
        with pytest.raises(BadParameter, match=word):
            wal(**params)
    with pytest.raises(BadParameter, match="known bugs: ack-before-force, no-checksum, redo-not-idempotent"):
        wal(bugs=["lose-everything"])
    w = wal()
    with pytest.raises(UnknownNode):
        w.put("n9", "x", "a")
    with pytest.raises(UnknownNode):
        w.store("n9")
    with pytest.raises(BadParameter, match="a value must be a string"):
        w.put("n1", "x", 1)
    with pytest.raises(BadParameter, match="non-empty"):
        w.append("n1", "x", "")
    with pytest.raises(BadParameter, match="a key"):
        w.get("n1", "")
    with pytest.raises(BadParameter, match="unknown preset"):
        w.load_preset("nope")
    with pytest.raises(ScriptError, match="value must be a string"):
        replay("algorithm wal\nnodes 1\n\nrequest n1 Put(op='w1', key='x', value=5)\n")
    with pytest.raises(BadParameter, match="op must be a non-empty string"):
        Get("", "x")


def test_time_travel_retraces_a_recovery():
    w = wal().load_preset("redo_not_idempotent")
    full, total = w.trace.to_jsonl(), w.steps
    w.rewind(0)
    assert w.sim.disks["n1"] == [] and not w.violations       # requests handled, nothing forced yet
    w.rewind(total)
    assert w.trace.to_jsonl() == full and broken(w) == {"Durability", "Exactly once"}
