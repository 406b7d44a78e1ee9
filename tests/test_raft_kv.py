"""The linearizable key-value store on Raft (Ongaro's thesis, 2014, §6.3 client sessions, §6.4 ReadIndex).

Each behaviour is checked on runs: what the servers applied, what the clients were answered and
when, and what the linearizability checker (Herlihy & Wing 1990) says about the recorded history.
The two named bugs, ``stale-read`` (Kingsbury, "Jepsen: etcd and Consul", 2014) and
``no-sessions``, must each be caught: by a scripted scenario and by the fuzzer.
"""

import importlib
import pathlib

import pytest

from fttoolkit import BadParameter, InvalidAction, RaftKV, UnknownNode
from fttoolkit.algorithms.raft import ElectionTimeout
from fttoolkit.algorithms.raft_kv import (NOT_LEADER, OK, ClientCommand, ClientHistory, ClientQuery,
                                          ClientResponse, KVClient, RaftKVNode, ReadIndexHeartbeat,
                                          ReadIndexHeartbeatReply)
from fttoolkit.check.fuzz import execute, fuzz, run_seed
from fttoolkit.core.history import Operation
from fttoolkit.scenario import ScriptError, preset_failures, replay, schedule_to_script

PRESETS = pathlib.Path(__file__).resolve().parent.parent / "fttoolkit" / "presets" / "raft-kv"


def preset(name, bugs=None):
    text = RaftKV.presets()[name]
    if bugs is not None:
        from fttoolkit.scenario import with_bugs
        text = with_bugs(text, bugs)
    return replay(text)


def events(door, kind, node=None):
    return [e for e in door.trace if e.kind == kind and (node is None or e.node == node)]


def replies(door, client=None, status=None):
    return [e for e in events(door, "reply") if isinstance(e["msg"], ClientResponse)
            and (client is None or e["client"] == client) and (status is None or e["msg"].status == status)]


def notes(door, text, node=None):
    return [e for e in events(door, "note", node) if e["text"] == text]


def broken(door):
    return [v["invariant"] for v in door.violations]


def single_leader(bugs=()):
    """A one-server cluster, by hand: it elects itself at once."""
    node = RaftKVNode("n1", peers=(), bugs=bugs)
    node.start([])
    node.handle_timer(ElectionTimeout())
    assert node.role == "leader" and node.commit_index == 1
    return node


def sends(intentions):
    return [i.msg for i in intentions if type(i).__name__ == "Send"]


# ------------------------------------------------------------------------- sessions (§6.3)
def test_a_retried_command_is_applied_once_and_answered_the_same():
    node = single_leader()
    first = sends(node.handle_message(ClientCommand("c1", 1, ("append", "x", "a")), "c1"))
    again = sends(node.handle_message(ClientCommand("c1", 1, ("append", "x", "a")), "c1"))
    assert node.kv == {"x": "a"} and node.sessions == {"c1": (1, None)}
    assert first == again == [ClientResponse("c1", 1, OK, None, "n1")]
    assert node.last_index == 2                    # no second entry: the session answered
    sends(node.handle_message(ClientCommand("c1", 2, ("append", "x", "b")), "c1"))
    assert node.kv == {"x": "ab"}
    assert sends(node.handle_message(ClientCommand("c1", 1, ("append", "x", "a")), "c1")) == []   # given up


def test_without_sessions_the_retry_applies_twice():
    node = single_leader(bugs=("no-sessions",))
    for _ in range(2):
        node.handle_message(ClientCommand("c1", 1, ("append", "x", "a")), "c1")
    assert node.kv == {"x": "aa"} and node.sessions == {}


def test_session_dedup_preset_applies_the_append_once_everywhere():
    result = preset("session_dedup")
    door = result.door
    assert result.ok and not door.violations
    # the command is in the log twice (index 2, then the retry at 4), applied once on every running server
    leader = door.leader()
    copies = [i + 1 for i, e in enumerate(door.nodes[leader].log) if e.command[3:] == ("c1", 1)]
    assert copies == [2, 4]
    running = [i for i in door.ids if door.sim.up[i]]
    assert {i: door.nodes[i].kv for i in running} == {i: {"log": "A"} for i in running}
    assert sorted(e.node for e in notes(door, "duplicate")) == sorted(running)
    # the retry went to other servers with the same number; c1 got one OK
    attempts = [(e.node, e["msg"].sequence_num) for e in events(door, "request") if e["client"] == "c1"]
    assert {n for n, _ in attempts} > {"n1"} and {s for _, s in attempts} == {1}
    assert [e["msg"].status for e in replies(door, "c1", OK)] == [OK]
    assert [op.output for op in door.history() if op.kind == "get"] == ["A"]
    assert door.check_history().ok


def test_no_sessions_duplicate_append_is_caught_by_the_checker():
    result = preset("duplicate_append")
    door = result.door
    assert result.ok and broken(door) == ["Linearizability"]     # expected by the script's header
    assert door.nodes[door.leader()].kv == {"log": "AA"}
    assert not door.check_history().ok
    violation = door.violations[0]
    read = next(op for op in door.history() if op.kind == "get")
    assert read.output == "AA" and violation.tick == read.ret       # flagged as the read returns


# ----------------------------------------------------------------------------- reads (§6.4)
def test_read_index_preset_waits_for_a_majority_and_returns_the_latest_value():
    result = preset("read_index")
    door = result.door
    assert result.ok and not door.violations
    read = next(op for op in door.history() if op.kind == "get")
    assert (read.client, read.output, read.call) == ("c1", "2", 350)
    # the deposed leader n1 never answered the read with a value
    assert [e for e in replies(door, "c1", OK) if e.node == "n1" and e["msg"].sequence_num == 2] == []
    # n3 answered only after a majority (itself, n4, n5) acknowledged its round
    answer = next(e for e in replies(door, "c1", OK) if e["msg"].sequence_num == 2)
    assert answer.node == "n3"
    acks = {e["src"] for e in events(door, "delivered", "n3")
            if isinstance(e["msg"], ReadIndexHeartbeatReply) and e.seq < answer.seq and e["msg"].term == 2}
    assert len(acks | {"n3"}) >= 3
    # the same request (same number) went to n1, n2 and n3 in turn, after timeouts
    tried = [(e.tick, e.node) for e in events(door, "request") if e["client"] == "c1" and e["msg"].sequence_num == 2]
    assert [n for _, n in tried] == ["n1", "n2", "n1", "n3"] and tried[-1][0] - tried[0][0] >= 2 * RaftKV.retry_ticks
    assert door.check_history().ok


def test_stale_read_preset_is_flagged_at_the_stale_answer():
    result = preset("stale_read")
    door = result.door
    assert result.ok and broken(door) == ["Linearizability"]
    stale = next(op for op in door.history() if op.kind == "get")
    put2 = next(op for op in door.history() if op.value == "2")
    assert stale.output == "1" and put2.ret < stale.call            # the write had finished before
    assert door.violations[0].node == "n1" and door.violations[0].tick == stale.ret
    result = door.check_history()
    assert result.verdict == "not linearizable" and stale in result.failing


def test_the_same_schedule_with_either_bug_off_or_on():
    assert preset_failures(RaftKV) == []
    assert [name for name, _, _ in preset_failures(RaftKV, ["stale-read"])] == ["read_index"]
    assert [name for name, _, _ in preset_failures(RaftKV, ["no-sessions"])] == ["session_dedup"]


def test_a_new_leader_answers_reads_only_after_committing_an_entry_of_its_term():
    door = RaftKV(nodes=3, seed=4, delay=10)
    door.campaign("n1")
    door.run_until(lambda s: s.nodes["n1"].role == "leader")
    assert door.nodes["n1"].commit_index == 0
    op = door.get("x", client="c1", to="n1")
    noop_committed = notes(door, "commit", "n1")[0].tick
    assert op.output == "" and op.ret >= noop_committed > op.call


def test_a_leader_cut_off_from_the_majority_never_answers_a_read():
    door = RaftKV(nodes=3, seed=1, delay=10)
    door.campaign("n1")
    door.put("x", "1", client="c1")
    door.partition(["n1"], ["n2", "n3"])
    request = ClientQuery("c9", 1, "x")
    door.sim.request("n1", request, client="c9")
    door.run(until=door.now + 1000)
    assert [e for e in replies(door, "c9") if e.node == "n1"] == []
    stale = RaftKV(nodes=3, seed=1, delay=10, bugs=["stale-read"])
    stale.campaign("n1")
    stale.put("x", "1", client="c1")
    stale.partition(["n1"], ["n2", "n3"])
    stale.sim.request("n1", request, client="c9")
    asked = stale.now
    stale.run(until=asked)
    assert [(e.tick, e["msg"].response) for e in replies(stale, "c9", OK)] == [(asked, "1")]   # unconfirmed


def test_reads_and_writes_see_each_other_through_the_door():
    door = RaftKV(nodes=5, seed=2)
    assert door.put("k", "a", client="c1").completed
    assert door.append("k", "b", client="c2").completed
    assert door.get("k", client="c3").output == "ab"
    assert door.get("missing", client="c3").output == ""
    history = door.history()
    assert [(op.client, op.kind, op.output) for op in history] == [
        ("c1", "put", None), ("c2", "append", None), ("c3", "get", "ab"), ("c3", "get", "")]
    requests = {}                   # first attempt of each (client, number): the invocation
    for e in events(door, "request"):
        requests.setdefault((e["msg"].client_id, e["msg"].sequence_num), e.tick)
    answers = {(e["msg"].client_id, e["msg"].sequence_num): e.tick for e in replies(door, status=OK)}
    assert [(op.call, op.ret) for op in history] == [(requests[k], answers[k]) for k in
                                                     [("c1", 1), ("c2", 1), ("c3", 1), ("c3", 2)]]
    assert door.check_history().ok


# ------------------------------------------------------------------------------ the clients
def test_a_client_follows_hints_backs_off_and_rotates_after_timeouts():
    c = KVClient("c1", ["n1", "n2", "n3"], retry_ticks=100, backoff_ticks=20, max_hops=1)
    q = ClientQuery("c1", 1, "x")
    c.sent(0, "n1", q)
    assert c.received(0, "n1", ClientResponse("c1", 1, NOT_LEADER, None, "n3")) == "n3"
    c.sent(0, "n3", q)
    assert c.received(0, "n2", ClientResponse("c1", 1, NOT_LEADER, None, None)) is None   # not the latest try
    assert c.received(0, "n3", ClientResponse("c1", 1, NOT_LEADER, None, None)) is None   # hops used: wait
    assert c.deadline == 20 and c.due(19) is None
    target = c.due(20)
    c.sent(20, target, q)
    assert target != "n3" and c.due(119) is None and c.due(120) not in (None, target)
    c.received(130, "n2", ClientResponse("c1", 1, OK, "v", "n2"))
    assert c.pending is None and c.leader == "n2" and c.target() == "n2"


def test_history_keeps_ambiguous_writes_and_drops_certain_failures():
    from types import SimpleNamespace as E

    def ev(kind, tick, node, msg, **data):
        return E(kind=kind, tick=tick, node=node, data={"msg": msg, **data})

    h = ClientHistory()
    w1, w2 = ClientCommand("c1", 1, ("put", "x", "a")), ClientCommand("c2", 1, ("put", "x", "b"))
    h.follow(ev("request", 1, "n1", w1))                     # reached n1, never answered: maybe applied
    h.follow(ev("request", 2, "n2", w2))
    h.follow(ev("reply", 2, "n2", ClientResponse("c2", 1, NOT_LEADER, None, "n1")))
    h.follow(ev("request", 3, "n3", w2))
    h.follow(ev("dropped", 3, "n3", w2, src="c2", dst="n3", reason="crashed"))
    assert [op.client for op in h.operations()] == ["c1"] and h.operations()[0].ret is None
    assert [op.client for op in h.operations(failed=True)] == ["c1", "c2"]
    h.follow(ev("request", 5, "n1", ClientCommand("c1", 2, ("put", "x", "c"))))    # c1 gives #1 up
    done = h.follow(ev("reply", 9, "n1", ClientResponse("c1", 2, OK, None, "n1")))
    assert done == Operation("c1", "put", "x", "c", None, 5, 9)
    assert [(op.value, op.ret) for op in h.operations()] == [("a", None), ("c", 9)]


# --------------------------------------------------------------------------------- fuzzing
@pytest.mark.parametrize("bug", ["stale-read", "no-sessions"])
def test_the_fuzzer_catches_each_bug_and_shrinks_it_to_a_replayable_script(bug):
    report = fuzz(RaftKV, 20, bugs=[bug], stop_at_first=True)
    assert report.failures, f"{bug} not caught in 20 seeds"
    first = report.failures[0]
    assert first.violations[0].invariant == "Linearizability"
    assert len(first.shrunk.actions) < len(first.schedule.actions)
    again = replay(schedule_to_script(first.shrunk).render())
    assert broken(again.door)[:1] == ["Linearizability"]


def test_fuzzing_the_correct_store_finds_nothing():
    report = fuzz(RaftKV, 12)
    assert report.violations == 0
    report = fuzz(RaftKV, 6, profile="partition", first_seed=100)
    assert report.violations == 0


def test_a_fuzzed_run_records_a_checked_client_history():
    fuzz_module = importlib.import_module("fttoolkit.check.fuzz")
    made = []
    original = fuzz_module._make

    def keep(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    fuzz_module._make = keep
    try:
        result = run_seed(RaftKV, 3)
    finally:
        fuzz_module._make = original
    door = made[0]
    history = door.history(failed=True)
    assert not result.violations and len(history) == RaftKV.fuzz_requests + 3 * 2   # + the final reads
    appended = [op.value for op in history if op.kind != "get"]
    assert len(set(appended)) == len(appended)                   # unique values: duplicates would show
    assert sum(op.completed for op in history) >= 10
    assert door.check_history().ok


def test_determinism_same_seed_same_run_and_the_schedule_replays():
    a, b = run_seed(RaftKV, 5, bugs=["stale-read"]), run_seed(RaftKV, 5, bugs=["stale-read"])
    assert a.schedule.actions == b.schedule.actions and a.violations == b.violations
    assert execute(a.schedule) == a.violations
    one = RaftKV(nodes=3, seed=9)
    two = RaftKV(nodes=3, seed=9)
    for door in (one, two):
        door.workload(800, requests=9)
        door.run(until=1500)
    assert [repr(e) for e in one.trace] == [repr(e) for e in two.trace]
    assert one.history() == two.history()
    again = replay(one.to_script())
    assert [repr(e) for e in again.door.trace] == [repr(e) for e in one.trace]
    steps = one.steps
    one.rewind(steps // 2)
    one.rewind(steps)
    assert one.history() == two.history()


def test_an_unknown_verdict_is_reported_distinctly(monkeypatch):
    from fttoolkit.doors import raft_kv
    monkeypatch.setattr(raft_kv._Linearizable, "max_steps", 1)
    door = RaftKV(nodes=3, seed=1)
    door.append("x", "a", client="c1")
    door.append("x", "b", client="c2", wait=False)
    door.get("x", client="c3")
    assert broken(door) == ["Linearizability unknown"]
    assert "gave up" in door.violations[0]["detail"]


# ---------------------------------------------------------------------------------- errors
def test_clear_errors():
    door = RaftKV(nodes=3, seed=1)
    with pytest.raises(BadParameter, match="string value"):
        door.put("x", 1)
    with pytest.raises(BadParameter, match="non-empty string"):
        door.get("")
    with pytest.raises(BadParameter, match="not a node id"):
        door.get("x", client="n2")
    with pytest.raises(UnknownNode):
        door.get("x", to="n9")
    with pytest.raises(BadParameter, match="cannot wait"):
        door.get("x", at=50)
    with pytest.raises(BadParameter, match="unknown operation"):
        door.invoke("cas", "x", "1")
    door.get("x", client="c1", wait=False)
    with pytest.raises(InvalidAction, match="one operation outstanding"):
        door.put("x", "1", client="c1")
    with pytest.raises(BadParameter, match="no client"):
        door.client("zed")
    with pytest.raises(BadParameter, match="command must be"):
        ClientCommand("c1", 1, ("get", "x"))
    with pytest.raises(BadParameter, match="sequence_num"):
        ClientQuery("c1", 0, "x")
    with pytest.raises(ScriptError, match="usage: put CLIENT KEY VALUE"):
        replay("algorithm raft-kv\nnodes 3\nput c1 x\n")
    with pytest.raises(BadParameter, match="has no bug"):
        RaftKV(bugs=["stale-reads"])


def test_script_commands_invoke_now_or_later():
    result = replay("algorithm raft-kv\nnodes 3\nseed 1\nput c1 x 1\nat 400 get c2 x to n2\nrun 900\n")
    ops = result.door.history()
    assert [(op.kind, op.call, op.output) for op in ops] == [("put", 0, None), ("get", 400, "1")]


def test_presets_are_narrated_and_declare_their_bug():
    for path in sorted(PRESETS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        assert text.count("\n#") >= 5, path.name
        has_bug = "\nbugs " in text
        assert has_bug == ("\nexpect Linearizability" in text), path.name
