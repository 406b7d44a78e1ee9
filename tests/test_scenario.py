"""Scenario scripts: parse, replay, expected transcripts, rewrite, save and load back."""

import pytest

from fttoolkit import Broadcast
from fttoolkit.cli import main
from fttoolkit.scenario import ScriptError, parse, replay, rewrite

PARTITION = """\
# Two halves cannot hear each other until the partition heals.
algorithm broadcast
nodes 4
seed 7
network delay=5..15 loss=0.1

partition n1,n2 | n3,n4
broadcast n1 hello
run 300
# n3 and n4 have not heard anything yet.
heal
run
"""


def test_a_hand_written_script_runs_and_narration_is_kept():
    script = parse(PARTITION)
    assert script.description == ["Two halves cannot hear each other until the partition heals."]
    assert [c.text for c in script.commands] == ["partition n1,n2 | n3,n4", "broadcast n1 hello", "run 300",
                                                 "heal", "run"]
    assert script.commands[3].narration == ["n3 and n4 have not heard anything yet."]
    result = replay(script)
    assert result.ok
    after_run = dict(result.outputs)[script.commands[2]]
    assert any("(partition)" in line for line in after_run)
    assert result.door.delivered() == {n: ["n1:1"] for n in ("n1", "n2", "n3", "n4")}


def test_replay_is_deterministic_and_equals_the_api():
    a, b = replay(PARTITION).door, replay(PARTITION).door
    assert a.trace.to_jsonl() == b.trace.to_jsonl()
    c = Broadcast(nodes=4, seed=7, delay=(5, 15), loss=0.1)
    c.partition(["n1", "n2"], ["n3", "n4"])
    c.broadcast("n1", "hello")
    c.run(until=300)
    c.heal()
    c.run()
    assert c.trace.to_jsonl() == a.trace.to_jsonl()


def test_rewrite_records_expectations_that_then_match_and_catch_a_change():
    text = rewrite(PARTITION)
    assert text.count("----") == 5
    assert replay(text).ok
    changed = text.replace("seed 7", "seed 8")
    result = replay(changed)
    assert result.mismatches and not result.violations
    assert "run 300" in [command.text for command, _, _ in result.mismatches]


def test_a_run_with_manual_choices_saves_and_replays_to_the_same_trace():
    c = Broadcast(nodes=3, seed=2, loss=0.2)
    c.broadcast("n1", "x")
    c.run(until=0)
    first = next(p for p in c.pending() if p.kind == "message")
    c.deliver(first, settle=False)          # stop between the receiver's intentions...
    c.crash(first.dst)                      # ...and crash it there
    c.restart(first.dst, at=200)
    c.drop(next(p for p in c.pending() if p.kind == "message"))
    c.run(until=600)
    text = c.to_script(["a manual run"])
    assert "deliver m1 hold" in text and f"crash {first.dst}" in text and "at 200 restart" in text
    again = replay(text).door
    assert again.trace.to_jsonl() == c.trace.to_jsonl()


def test_scheduled_crash_points_and_requests_round_trip():
    text = """algorithm broadcast
nodes 3
seed 4
bugs deliver-before-persist

at 0 request n1 BroadcastRequest(value='v')
at 5 crash n2 after=1
at 200 restart n2
run 600
"""
    result = replay(text)
    assert [v.describe() for v in result.violations] == ["Integrity at n2: n2 delivered n1:1 2 times"]
    crash = next(e for e in result.door.trace if e.kind == "crashed")
    assert crash.node == "n2" and crash["lost_intentions"] > 0
    assert replay(result.door.to_script()).door.trace.to_jsonl() == result.door.trace.to_jsonl()


@pytest.mark.parametrize("text, message", [
    ("nodes 3\n", "line 1: a script starts with 'algorithm NAME'"),
    ("algorithm raftt\n", "line 1: unknown algorithm 'raftt'"),
    ("algorithm broadcast\nseed x\n", "line 2: usage: seed S"),
    ("algorithm broadcast\nnetwork loss\n", "line 2: expected KEY=VALUE, got 'loss'"),
    ("algorithm broadcast\n\nfly n1\n", "line 3: unknown command 'fly'; commands: run, tick"),
    ("algorithm broadcast\nrun ten\n", "line 2: the tick must be a whole number >= 0; got 'ten'"),
    ("algorithm broadcast\ncrash n1 tear\n", "line 2: crash takes tear=K, after=K, skip=K and disk; got 'tear'"),
    ("algorithm broadcast\ncrash n9\n", "line 2: crash n9: unknown node 'n9'"),
    ("algorithm broadcast\nrequest n1 Nope(1)\n", "line 2: unknown message 'Nope'; broadcast knows: Ack, "),
    ("algorithm broadcast\nrequest n1 BroadcastRequest(value=[1])\n", "line 2: bad message"),
    ("algorithm broadcast\nat 5 step\n", "line 2: 'at' cannot schedule 'step'"),
    ("algorithm broadcast\nrestart n1\n", "line 2: restart n1: n1 is running"),
    ("----\n", "line 1: '----' must follow a command"),
    ("algorithm broadcast\ndeliver m7\n", "line 2: deliver m7: 'm7' is not a message in flight"),
    ("algorithm broadcast\ncheck liveness\n", None),
])
def test_malformed_lines_are_reported_with_their_line_number(text, message):
    if message is None:        # allowed: liveness can be checked on a calm cluster
        assert replay(text).ok
        return
    with pytest.raises(ScriptError) as info:
        replay(text)
    assert message in str(info.value)


def test_cli_replay_prints_the_transcript_and_exit_status(tmp_path, capsys):
    good = tmp_path / "good.txt"
    good.write_text(PARTITION)
    assert main(["replay", str(good)]) == 0
    out = capsys.readouterr().out
    assert "partitioned" in out and out.rstrip().splitlines()[-1].startswith("# broadcast: 5 commands")

    bad = tmp_path / "bad.txt"
    bad.write_text("algorithm broadcast\nnodes 3\nbugs no-dedup\nnetwork duplicate=0.9\n\nbroadcast n1 x\nrun 500\n")
    assert main(["replay", str(bad)]) == 1
    assert "invariant violation(s): Integrity" in capsys.readouterr().out

    broken = tmp_path / "broken.txt"
    broken.write_text("algorithm broadcast\n\nexplode n1\n")
    assert main(["replay", str(broken)]) == 2
    assert "line 3: unknown command 'explode'" in capsys.readouterr().err


def test_cli_replay_rewrite_then_check(tmp_path, capsys):
    path = tmp_path / "s.txt"
    path.write_text(PARTITION)
    assert main(["replay", str(path), "--rewrite"]) == 0
    assert path.read_text().count("----") == 5
    assert main(["replay", str(path)]) == 0
    path.write_text(path.read_text().replace("seed 7", "seed 9"))
    assert main(["replay", str(path)]) == 1
    assert "the transcript differs from the expected one" in capsys.readouterr().out


def test_a_script_can_expect_a_violation_it_demonstrates():
    text = """algorithm broadcast
nodes 3
seed 1
bugs no-dedup
network duplicate=0.5
expect Integrity

broadcast n1 x
run 400
"""
    result = replay(text)
    assert result.violations and result.expected == ["Integrity"]
    assert result.unexpected == [] and result.ok
    assert "expect Integrity" in parse(text).render()
    quiet = replay(text.replace("bugs no-dedup\n", ""))
    assert not quiet.ok                     # the expected violation did not happen: not a demonstration
    other = replay(text.replace("expect Integrity", "expect No creation"))
    assert not other.ok and other.unexpected


@pytest.mark.parametrize("name", ["broadcast", "raft", "paxos", "multipaxos", "2pc", "3pc"])
def test_every_algorithms_client_requests_write_down_and_replay_exactly(name):
    # A message's repr is for people (Begin(T1, n2:x=1)); scripts use a form that reads back.
    from fttoolkit.doors import door_for
    door = door_for(name)(nodes=4, seed=3)
    door.workload(until=300, requests=4)
    door.run(until=700)
    text = door.to_script()
    assert "request" in text
    assert replay(text).door.trace.to_jsonl() == door.trace.to_jsonl()
