"""python -m fttoolkit: commands, output, byte-identical traces and exit codes."""

import json
import os
import subprocess
import sys

import pytest

from fttoolkit import Raft
from fttoolkit.cli import main


def cli(*args, env=None):
    """Run the real command in a fresh process."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "fttoolkit", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_help_lists_commands_and_algorithms():
    out = cli("--help")
    assert out.returncode == 0
    for word in ("run", "algorithms", "broadcast", "reliable flooding broadcast"):
        assert word in out.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_algorithms_command(capsys):
    assert main(["algorithms"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.strip().splitlines()]
    assert names == sorted(names) and {"broadcast", "raft", "paxos", "2pc"} <= set(names)


def test_run_prints_a_transcript_ending_in_a_summary(capsys):
    assert main(["run", "broadcast", "--nodes", "4", "--seed", "3", "--until", "400"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"# broadcast: 4 nodes, seed 3, {len(lines) - 1} events, t=400"
    assert any(" delivered " in line and "Rumor(" in line for line in lines)
    assert sum(" note " in line and " deliver " in line for line in lines) == 4 * 3   # 3 requests, 4 nodes


def test_trace_file_is_json_lines_and_byte_identical_across_processes(tmp_path):
    args = ["run", "broadcast", "--nodes", "5", "--seed", "11", "--until", "600", "--loss", "0.2"]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first = cli(*args, "--trace", str(a), env={"PYTHONHASHSEED": "1"})
    second = cli(*args, "--trace", str(b), env={"PYTHONHASHSEED": "2"})
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text().splitlines()
    header = json.loads(lines[0])["fttoolkit"]
    assert header["algorithm"] == "broadcast" and header["seed"] == 11 and header["network"]["loss"] == 0.2
    events = [json.loads(line) for line in lines[1:]]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert all(e1["tick"] <= e2["tick"] for e1, e2 in zip(events, events[1:]))
    assert any(e["kind"] == "dropped" and e["reason"] == "loss" for e in events)
    assert f"{len(events)} events written to {a}" in first.stdout


def test_another_seed_gives_another_trace(tmp_path):
    paths = []
    for seed in (1, 2):
        path = tmp_path / f"{seed}.jsonl"
        assert main(["run", "broadcast", "--seed", str(seed), "--until", "300", "--trace", str(path)]) == 0
        paths.append(path)
    assert paths[0].read_bytes() != paths[1].read_bytes()


@pytest.mark.parametrize("args, message", [
    (["run", "raftt", "--until", "10"], "unknown algorithm 'raftt'; available: "),
    (["run", "broadcast", "--until", "10", "--loss", "1.5"], "loss is a probability and must lie in [0, 1]"),
    (["run", "broadcast", "--until", "10", "--nodes", "0"], "--nodes must be at least 1"),
    (["run", "broadcast", "--until", "-1"], "--until must be a tick >= 0"),
    (["run", "broadcast", "--until", "10", "--seed", "-2"], "seed must be a whole number >= 0"),
    (["run", "broadcast", "--until", "10", "--trace", "/nonexistent/dir/t.jsonl"], "cannot write the trace"),
    (["run", "broadcast"], "the following arguments are required: --until"),
    (["run", "broadcast", "--until", "ten"], "invalid int value: 'ten'"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_user_mistakes_exit_2_with_one_clear_line(args, message):
    out = cli(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"fttoolkit: error: " in out.stderr and message in out.stderr


def test_fuzz_replays_the_presets_first(capsys):
    assert main(["fuzz", "raft", "--seeds", "5", "--bug", "figure8"]) == 1
    out = capsys.readouterr().out
    assert "preset figure8_d: Leader Completeness" in out and "bugs figure8" in out
    presets = len(Raft.presets())
    assert presets >= 2
    assert out.splitlines()[-1] == f"raft: {presets} preset scenarios and 5 schedules, 1 violations"
    assert main(["fuzz", "raft", "--seeds", "5", "--bug", "figure8", "--no-presets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "raft: 5 schedules, 0 violations"
