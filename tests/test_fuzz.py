"""Fuzzing: swarm profiles, every invariant checked, shrinking to a short script that replays."""

import re

import pytest

from fttoolkit import Broadcast
from fttoolkit.check import PROFILES, execute, fuzz, run_seed, shrink
from fttoolkit.check.fuzz import choose_config
from fttoolkit.cli import main
from fttoolkit.scenario import replay, schedule_to_script


def test_correct_broadcast_survives_every_profile():
    for profile in PROFILES:
        report = fuzz(Broadcast, 25, profile=profile)
        assert report.violations == 0, (profile, report.failures[:1])


def test_the_seed_chooses_the_configuration_within_the_profile():
    configs = [choose_config("chaos", seed, 3000, 1500, ("complete", "ring")) for seed in range(30)]
    losses = {network["loss"] for _, network, _, _ in configs}
    crashes = {faults["crash"] for _, _, faults, _ in configs}
    assert len(losses) > 20 and len(crashes) > 20                 # swarm: rates differ per seed
    assert all(0 <= network["loss"] <= 0.3 for _, network, _, _ in configs)
    assert {topology for topology, _, _, _ in configs} == {"complete", "ring"}
    assert choose_config("chaos", 5, 3000, 1500) == choose_config("chaos", 5, 3000, 1500)
    topology, network, faults, _ = choose_config("crash", 5, 3000, 1500)
    assert network == {} and "partition" not in faults and faults["crash"] > 0
    topology, network, faults, _ = choose_config("lossy", 5, 3000, 1500)
    assert faults == {} and network["loss"] >= 0
    assert choose_config("none", 5, 3000, 1500)[1:3] == ({}, {})


@pytest.mark.parametrize("bug, invariant", [
    ("no-dedup", "Integrity"),
    ("deliver-before-persist", "Integrity"),
    ("forget-counter", "One value per id"),
])
def test_each_bug_is_caught_shrunk_and_replayed(bug, invariant):
    report = fuzz(Broadcast, 60, bugs=[bug])
    assert report.violations > 0
    first = report.failures[0]
    assert first.violations[0].invariant == invariant
    assert len(first.shrunk.actions) <= len(first.schedule.actions)
    assert len(first.shrunk.actions) <= 6                      # a handful of commands tells the story
    # The shrunk schedule, written as a script, replays to the same broken invariant...
    result = replay(schedule_to_script(first.shrunk).render())
    assert invariant in [e["invariant"] for e in result.violations]
    # ...and the correct protocol under the very same script breaks nothing.
    fixed = schedule_to_script(first.shrunk).render().replace(f"bugs {bug}\n", "")
    assert replay(fixed).ok


def test_the_recorded_schedule_reproduces_the_original_run():
    result = run_seed(Broadcast, 11, bugs=["deliver-before-persist"])
    assert result.failed
    again = execute(result.schedule)
    assert [v.invariant for v in again] == [v.invariant for v in result.violations]


def test_shrinking_keeps_the_invariant_and_removes_noise():
    result = run_seed(Broadcast, 11, bugs=["deliver-before-persist"])
    small = shrink(result.schedule, "Integrity")
    assert len(small.actions) < len(result.schedule.actions)
    assert any(v.invariant == "Integrity" for v in execute(small))


def test_cli_fuzz_reports_and_saves_a_replayable_script(tmp_path, capsys):
    path = tmp_path / "found.txt"
    status = main(["fuzz", "broadcast", "--seeds", "40", "--bug", "deliver-before-persist", "--no-presets",
                   "--save", str(path)])
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"^seed \d+: Integrity at n\d+: ", out, re.M)
    assert "invariant: Integrity" in out
    assert re.search(r"^broadcast: 40 schedules, [1-9]\d* violations$", out.splitlines()[-1])
    assert path.read_text() in out
    assert main(["replay", str(path)]) == 1
    assert "invariant violation(s): Integrity" in capsys.readouterr().out


def test_cli_fuzz_clean_run_and_arguments(capsys):
    assert main(["fuzz", "broadcast", "--seeds", "20", "--first-seed", "100", "--faults", "crash",
                 "--nodes", "4", "--param", "retry_ticks=40", "--no-presets"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "broadcast: 20 schedules, 0 violations"
    assert main(["fuzz", "broadcast", "--seeds", "3", "--faults", "storm"]) == 2
    assert "unknown fault profile 'storm'; profiles: none, crash, lossy, partition, chaos" in capsys.readouterr().err
    assert main(["fuzz", "broadcast", "--seeds", "3", "--bug", "typo"]) == 2
    assert "unknown bug 'typo' for broadcast; known bugs: ack-before-persist" in capsys.readouterr().err
    assert main(["fuzz", "broadcast", "--seeds", "3", "--param", "retry_tiks=3"]) == 2
    assert "no parameter 'retry_tiks'" in capsys.readouterr().err
    assert main(["fuzz", "broadcast", "--seeds", "0"]) == 2


def test_cli_bugs_lists_one_per_line(capsys):
    assert main(["bugs", "broadcast"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == sorted(Broadcast.bug_list())
    assert all(len(line.split("  ", 1)[1]) > 10 for line in lines)


def test_a_crash_point_in_a_boot_handler_replays_exactly(monkeypatch):
    # Raft seed 19 crashes n3 and n4 inside their boot handlers at tick 0; the replay without the
    # injector must arm those crash points before the nodes boot, or the run diverges at once.
    import importlib
    fuzz_module = importlib.import_module("fttoolkit.check.fuzz")   # the package exports a function of that name
    from fttoolkit import Raft
    made = []
    original = fuzz_module._make

    def keep(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(fuzz_module, "_make", keep)
    result = fuzz_module.run_seed(Raft, 19, ticks=3000)
    boot_points = [a for a in result.schedule.actions if a[0] == 0 and a[1] == "crash" and "after" in a[3]]
    assert boot_points, "this seed no longer crashes a node during boot: pick another"
    fuzz_module.execute(result.schedule)
    assert made[1].trace.transcript() == made[0].trace.transcript()
