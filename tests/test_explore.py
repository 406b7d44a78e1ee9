"""The explorer agrees with TLC, finds the shortest counterexample, and its command line works.

TLC's figures come from tests/data/tlc_figures.md (commands recorded there; re-run them with
``bench/explore_tlc.py --figures``).  TLC itself only runs in that bench.
"""

import pathlib
import re

import pytest

from fttoolkit.check.explore import (DEADLOCK, INITIAL, SYSTEMS, Counterexample, Option, Spec, explore,
                                     parse_options, register_system, run_cli, system_for, systems)
from fttoolkit.check.specs import PaxosSpec, TCommit, TwoPhase
from fttoolkit.cli import main
from fttoolkit.core.errors import BadParameter
from fttoolkit.core.invariants import Invariant, Violation

FIGURES = pathlib.Path(__file__).resolve().parent / "data" / "tlc_figures.md"


def tlc_rows():
    """The rows of tlc_figures.md: (command, invariants or [], (distinct, generated, depth) or (name, length))."""
    rows = []
    for line in FIGURES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[3].isdigit() and cells[3] != "-" or cells[0] == "explore":
            continue
        command, _, invariants, distinct, generated, depth, violation = cells
        invariants = [] if invariants == "-" else invariants.split()
        if distinct != "-":
            expected = ("complete", int(distinct), int(generated), int(depth))
        else:
            name, length = re.fullmatch(r"(\w+), (\d+) states", violation).groups()
            expected = ("violation", name, int(length))
        rows.append((command, invariants, expected))
    return rows


ROWS = tlc_rows()


def spec_for(command):
    name, *tokens = command.split()
    system = system_for(name)
    values, _ = parse_options(system, tokens)
    return system.factory(**values)


def test_the_figures_file_holds_the_four_reference_models_and_more():
    commands = [c for c, _, _ in ROWS]
    assert len(ROWS) >= 20
    for reference in ("twophase --rm 3", "tcommit --rm 3", "paxos-spec --acceptors 3 --values 2 --max-ballot 1",
                      "paxos-spec --acceptors 3 --values 2 --max-ballot 2"):
        assert reference in commands
    assert ("twophase --rm 3", ["TPTypeOK"], ("complete", 288, 1146, 11)) in ROWS
    assert ("paxos-spec --acceptors 3 --values 2 --max-ballot 1", ["Inv1", "Inv2", "Inv3", "Inv4", "Agreement"],
            ("complete", 3921, 23563, 17)) in ROWS


@pytest.mark.parametrize("command, invariants, expected", [
    pytest.param(c, i, e, id=f"{c} [{' '.join(i) or 'no invariant'}]") for c, i, e in ROWS])
def test_explorer_equals_tlc(command, invariants, expected):
    # Paxos with ballots 0..2 (185,369 states) takes about 3 s here: kept in the default run.
    result = explore(spec_for(command), invariants=invariants)
    if expected[0] == "complete":
        assert (result.distinct, result.generated, result.depth) == expected[1:]
        assert result.complete and result.ok and result.left == 0
    else:
        _, name, length = expected
        assert not result.complete and result.stopped_by == "violation"
        assert [(v.invariant, len(v)) for v in result.violations] == [(name, length)]


# ------------------------------------------------------------------------- counterexamples
def replays(spec, counterexample):
    """Every step of the counterexample is a transition of the spec with that label."""
    label, state = counterexample.steps[0]
    assert label == INITIAL and state in list(spec.initial_states())
    for (_, before), (label, after) in zip(counterexample.steps, counterexample.steps[1:]):
        assert (label, after) in list(spec.next_states(before))
    return True


@pytest.mark.parametrize("spec, invariant, length", [
    (TwoPhase(3, bugs=["commit-without-all-prepared"]), "TCConsistent", 6),
    (TwoPhase(3, bugs=["abort-after-prepared"]), "TCConsistent", 10),
    (TCommit(3, bugs=["commit-alone"]), "TCConsistent", 4),
    (PaxosSpec(bugs=["ignore-promised-values"]), "Agreement", 13),
])
def test_broken_variants_give_a_shortest_counterexample_that_replays(spec, invariant, length):
    result = explore(spec, invariants=[invariant])
    (found,) = result.violations
    assert (found.invariant, len(found), found.kind) == (invariant, length, "invariant")
    assert replays(spec, found)
    assert not spec.invariants[invariant](found.state)
    assert all(spec.invariants[invariant](s) for _, s in found.steps[:-1])
    shallower = explore(spec, invariants=[invariant], max_depth=length - 1)   # nothing shorter exists
    assert shallower.ok and shallower.stopped_by == "max_depth" and shallower.depth == length - 1


def test_the_correct_specs_pass_every_invariant():
    for spec in (TwoPhase(3), TCommit(3), PaxosSpec(2, 2, 1)):
        result = explore(spec)
        assert result.ok and result.complete
        assert set(spec.invariants) >= {"TPTypeOK", "TCConsistent"} or set(spec.invariants) >= {
            "TCTypeOK", "TCConsistent"} or set(spec.invariants) == {"Inv1", "Inv2", "Inv3", "Inv4", "Agreement"}


def test_twophase_commit_early_trace_reads_like_the_bug():
    spec = TwoPhase(3, bugs=["commit-without-all-prepared"])
    found = explore(spec).violations[0]
    assert [label for label, _ in found.steps] == [INITIAL, "RMPrepare(r1)", "TMRcvPrepared(r1)", "TMCommit",
                                                   "RMRcvCommitMsg(r1)", "RMChooseToAbort(r2)"]
    assert found.state.rmState == ("committed", "aborted", "working")
    text = "\n".join(found.lines(spec.describe))
    assert text.startswith("violation: invariant TCConsistent is violated (6 states)\n  1. Initial predicate")
    assert "  4. TMCommit\n       rmState: r1=prepared, r2=working, r3=working\n" in text


def test_stop_at_first_false_keeps_the_shortest_counterexample_of_each_invariant():
    spec = PaxosSpec(bugs=["ignore-promised-values"])
    result = explore(spec, stop_at_first=False)
    assert [(v.invariant, len(v)) for v in result.violations] == [("Inv3", 10), ("Inv4", 11), ("Agreement", 13)]
    assert result.complete and result.distinct == 5329 and not result.ok
    assert all(replays(spec, v) for v in result.violations)


# ------------------------------------------------------------------------- every checker catches a bug
def test_each_paxos_invariant_catches_a_broken_state():
    spec = PaxosSpec(3, 2, 1)
    init = spec.initial_states()[0]
    assert all(check(init) for check in spec.invariants.values())
    top = spec.acc_bits
    # Inv2: a1 claims a vote (0, v1) that no 2b message records
    claims = init - spec.code(-1, -1, 0) + spec.code(0, 0, 1)
    assert not spec.inv2(claims) and spec.inv1(claims)
    assert spec.inv2(claims | 1 << (top + spec.bit_2b(0, 0, 0)))
    # Inv1 (TypeOK): a message outside the universe, or an acceptor code out of range
    assert not spec.inv1(init | 1 << (top + spec.nbits))
    assert not spec.inv1(init + (spec.ncodes - spec.code(-1, -1, 0)))
    # Inv3: a 1b message promising ballot 1 while maxBal[a1] = -1
    assert not spec.inv3(init | 1 << (top + spec.bit_1b(0, 1, -1, 0)))
    # Inv3: a 2a message for ballot 1 with no quorum's promise
    assert not spec.inv3(init | 1 << (top + spec.bit_2a(1, 0)))
    # Inv4 and Agreement: v1 chosen in ballot 0 by {a1, a2}, v2 in ballot 1 by {a2, a3}
    votes = [(0, 0, 0), (1, 0, 0), (1, 1, 1), (2, 1, 1)]
    split = init
    for a, b, v in votes:
        split |= 1 << (top + spec.bit_2b(a, b, v))
    assert sorted(spec.chosen(split)) == ["v1", "v2"]
    assert not spec.agreement(split) and not spec.inv4(split)


def test_each_commit_invariant_catches_a_broken_state():
    tc, tp = TCommit(3), TwoPhase(3)
    assert not tc.type_ok(("working", "done", "working")) and not tc.consistent(("committed", "aborted", "working"))
    state = tp.initial_states()[0]
    assert not tp.type_ok(state._replace(tmState="limbo")) and not tp.type_ok(state._replace(msgs=frozenset({("Go",)})))
    assert not tp.consistent(state._replace(rmState=("aborted", "committed", "working")))


def naive_invariants(spec, state):
    """The MCPaxos3_inv.cfg invariants, evaluated as written in Paxos.tla and Voting.tla over plain records."""
    var = spec.variables(state)
    acc, values, ballots = spec.acceptor_names, spec.value_names, range(spec.max_ballot + 1)
    quorums = [{acc[i] for i in q} for q in spec.quorums]
    max_bal, max_vbal, max_val, msgs = var["maxBal"], var["maxVBal"], var["maxVal"], var["msgs"]
    votes = {a: {(m[2], m[3]) for m in msgs if m[0] == "2b" and m[1] == a} for a in acc}
    voted_for = lambda a, b, v: (b, v) in votes[a]                                     # noqa: E731
    did_not_vote_at = lambda a, b: all(not voted_for(a, b, v) for v in values)          # noqa: E731
    cannot_vote_at = lambda a, b: max_bal[a] > b and did_not_vote_at(a, b)             # noqa: E731
    none_other = lambda b, v: any(all(voted_for(a, b, v) or cannot_vote_at(a, b) for a in q) for q in quorums)  # noqa
    safe_at = lambda b, v: all(none_other(c, v) for c in range(b))                     # noqa: E731

    def shows_safe_at(q, b, v):
        return all(max_bal[a] >= b for a in q) and any(
            (c == -1 or any(voted_for(a, c, v) for a in q))
            and all(did_not_vote_at(a, d) for d in range(c + 1, b) for a in q) for c in range(-1, b))

    type_ok = all(-1 <= max_bal[a] <= spec.max_ballot and -1 <= max_vbal[a] <= spec.max_ballot
                  and max_val[a] in values + (None,) for a in acc)
    inv2 = all(max_val[a] is None if max_vbal[a] == -1 else (max_vbal[a], max_val[a]) in votes[a] for a in acc)
    inv3 = True
    for m in msgs:
        if m[0] == "1b":
            inv3 &= max_bal[m[1]] >= m[2] and (m[3] < 0 or (m[3], m[4]) in votes[m[1]])
        if m[0] == "2a":
            inv3 &= any(shows_safe_at(q, m[1], m[2]) for q in quorums) and all(
                mm[2] == m[2] for mm in msgs if mm[0] == "2a" and mm[1] == m[1])
    votes_safe = all(safe_at(b, v) for a in acc for b in ballots for v in values if voted_for(a, b, v))
    one_value = all(v1 == v2 for a1 in acc for a2 in acc for b in ballots for v1 in values for v2 in values
                    if voted_for(a1, b, v1) and voted_for(a2, b, v2))
    chosen = {v for v in values for b in ballots if any(all(voted_for(a, b, v) for a in q) for q in quorums)}
    return {"Inv1": type_ok, "Inv2": inv2, "Inv3": bool(inv3), "Inv4": votes_safe and one_value,
            "Agreement": len(chosen) <= 1}


def reachable(spec):
    seen, level = set(spec.initial_states()), list(spec.initial_states())
    while level:
        level = [t for s in level for _, t in spec.next_states(s) if not (t in seen or seen.add(t))]
    return sorted(seen)


@pytest.mark.parametrize("bugs", [(), ("ignore-promised-values",)])
def test_paxos_invariants_equal_a_literal_reading_of_the_tla_in_every_reachable_state(bugs):
    spec = PaxosSpec(3, 2, 1, bugs=bugs)
    outcomes = {name: set() for name in spec.invariants}
    for state in reachable(spec):
        expected = naive_invariants(spec, state)
        for name, check in spec.invariants.items():
            assert bool(check(state)) == expected[name], (name, spec.describe(state))
            outcomes[name].add(expected[name])
    if bugs:
        assert outcomes["Inv3"] == outcomes["Inv4"] == outcomes["Agreement"] == {True, False}


def test_paxos_messages_round_trip_and_quorums_are_checked():
    spec = PaxosSpec(3, 2, 1)
    state = spec.initial_states()[0]
    for bit in (spec.bit_1b(2, 1, 0, 2), spec.bit_2a(1, 1), spec.bit_2b(1, 0, 0)):
        state |= 1 << (spec.acc_bits + bit)
    assert spec.messages(state) == [("2a", 1, "v2"), ("2b", "a2", 0, "v1"), ("1b", "a3", 1, 0, "v2")]
    with pytest.raises(BadParameter, match="intersect"):
        PaxosSpec(3, 2, 1, quorums=[(0,), (1, 2)])
    with pytest.raises(BadParameter, match="acceptors must be a whole number from 1 to 5"):
        PaxosSpec(acceptors=0)
    with pytest.raises(BadParameter, match="unknown bug 'nope'"):
        TwoPhase(3, bugs=["nope"])
    assert explore(PaxosSpec(3, 2, 1, quorums=[(0, 1), (1, 2)])).distinct < 3921   # fewer quorums, fewer states


# ------------------------------------------------------------------------- engine semantics
class Ring(Spec):
    """0 -> 1 -> ... -> n-1, each state also stuttering; the last state has no successor."""

    name = "ring"

    def __init__(self, n=4, dead_end=True):
        self.n, self.dead_end = n, dead_end
        self.invariants = {}

    def initial_states(self):
        return [0, 0]                 # a duplicate initial state is generated, not distinct

    def next_states(self, s):
        if s == self.n - 1:
            return [] if self.dead_end else [("Wrap", 0)]
        return [("Stay", s), ("Next", s + 1)]


def test_counts_follow_tlc_duplicates_included():
    result = explore(Ring(4))
    assert (result.distinct, result.generated, result.depth) == (4, 2 + 3 * 2, 4)
    assert result.complete and result.ok


def test_deadlock_is_reported_only_when_asked():
    assert explore(Ring(4)).ok
    result = explore(Ring(4), check_deadlock=True)
    (dead,) = result.violations
    assert dead.invariant == DEADLOCK and dead.kind == "deadlock" and dead.state == 3
    assert [label for label, _ in dead.steps] == [INITIAL, "Next", "Next", "Next"]
    assert explore(Ring(4, dead_end=False), check_deadlock=True).ok
    tcommit = explore(TCommit(3), check_deadlock=True).violations[0]
    assert len(tcommit) == 4 and not TCommit(3).next_states(tcommit.state)
    assert tcommit.lines()[0] == "violation: deadlock reached (4 states)"


def test_bounds_make_the_search_incomplete():
    capped = explore(PaxosSpec(3, 2, 1), max_states=1000)
    assert (capped.distinct, capped.complete, capped.stopped_by) == (1000, False, "max_states")
    assert capped.left > 0 and capped.ok
    exact = explore(PaxosSpec(3, 2, 1), max_states=3921)
    assert exact.complete and exact.distinct == 3921
    shallow = explore(TwoPhase(3), max_depth=5)
    assert (shallow.depth, shallow.complete, shallow.stopped_by) == (5, False, "max_depth")
    assert explore(TwoPhase(3), max_depth=11).complete
    for bad in (0, -3, 2.5):
        with pytest.raises(BadParameter, match="max_states"):
            explore(TwoPhase(3), max_states=bad)


def test_progress_is_reported_level_by_level():
    levels = []
    result = explore(TwoPhase(3), progress=lambda *figures: levels.append(figures))
    assert [depth for depth, *_ in levels] == list(range(1, 12)) + [11]
    assert levels[-1][:3] == (11, 288, 1146) and levels[-1][3] == 0
    assert all(a[1] <= b[1] and a[2] <= b[2] for a, b in zip(levels, levels[1:]))
    assert result.distinct == 288


def test_core_invariant_objects_are_accepted_with_their_detail():
    class Counter(Spec):
        name = "counter"
        invariants = {"Small": Invariant("Small: below 3",
                                         check=lambda view: [Violation("Small", ("n1",), f"value {view['n1']}")]
                                         if view["n1"] >= 3 else None)}

        def initial_states(self):
            return [0]

        def next_states(self, n):
            return [("Inc", n + 1)] if n < 5 else []

        def invariant_view(self, n):
            return {"n1": n}

    (found,) = explore(Counter()).violations
    assert (found.invariant, len(found), found.detail) == ("Small", 4, "Small at n1: value 3")
    assert "  Small at n1: value 3" in found.lines()
    with pytest.raises(BadParameter, match="unknown invariant 'Big' for counter; invariants: Small"):
        explore(Counter(), invariants=["Big"])


def test_exploration_is_deterministic():
    first = explore(PaxosSpec(bugs=["vote-ignoring-promise"]), invariants=["Agreement"])
    second = explore(PaxosSpec(bugs=["vote-ignoring-promise"]), invariants=["Agreement"])
    assert first == second and isinstance(first.violations[0], Counterexample)


# ------------------------------------------------------------------------- command line
def test_cli_prints_tlc_figures_and_exits_0(capsys):
    assert main(["explore", "twophase", "--rm", "3"]) == 0
    assert capsys.readouterr().out == "distinct states: 288\nstates generated: 1146\ndepth: 11\n"
    assert main(["explore", "paxos-spec", "--acceptors", "3", "--values", "2", "--max-ballot", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["distinct states: 3921", "states generated: 23563", "depth: 17"]
    assert main(["explore", "tcommit", "--rm=4"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == ["distinct states: 96", "states generated: 357", "depth: 9"]


def test_cli_prints_each_violation_with_numbered_steps_and_exits_1(capsys):
    assert main(["explore", "tcommit", "--rm", "3", "--bug", "commit-alone"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[3].startswith("search incomplete: stopped by violation")
    assert out[4:] == ["violation: invariant TCConsistent is violated (4 states)",
                       "  1. Initial predicate", "       rmState: r1=working, r2=working, r3=working",
                       "  2. Prepare(r1)", "       rmState: r1=prepared, r2=working, r3=working",
                       "  3. Decide(r2)", "       rmState: r1=prepared, r2=aborted, r3=working",
                       "  4. Decide(r1)", "       rmState: r1=committed, r2=aborted, r3=working"]
    assert main(["explore", "tcommit", "--deadlock"]) == 1
    assert "violation: deadlock reached (4 states)" in capsys.readouterr().out
    assert main(["explore", "paxos-spec", "--bug", "vote-ignoring-promise", "--all", "--invariant", "Inv4",
                 "--invariant", "Agreement"]) == 1
    out = capsys.readouterr().out
    assert "distinct states: 90817\n" in out
    assert re.findall(r"violation: invariant (\w+) is violated \((\d+) states\)", out) == [("Inv4", "11"),
                                                                                           ("Agreement", "13")]


@pytest.mark.parametrize("argv, message", [
    (["explore", "raft-typo"], "unknown system 'raft-typo'; systems: 2pc, paxos, paxos-spec, raft, tcommit, twophase"),
    (["explore", "twophase", "--nodes", "3"], "unknown option '--nodes' for twophase; options: --all, --bug, "
                                               "--deadlock, --invariant, --max-depth, --max-states, --rm, --save"),
    (["explore", "twophase", "extra"], "unknown argument 'extra' for twophase"),
    (["explore", "twophase", "--rm"], "--rm needs a value"),
    (["explore", "twophase", "--rm", "three"], "--rm takes a whole number; got 'three'"),
    (["explore", "twophase", "--rm", "11"], "rm must be a whole number from 1 to 10; got 11"),
    (["explore", "paxos-spec", "--bug", "late"], "--bug must be one of ignore-promised-values, vote-ignoring-promise"),
    (["explore", "twophase", "--max-states", "0"], "max_states must be a whole number of at least 1"),
    (["explore", "twophase", "--invariant", "Nope"], "unknown invariant 'Nope' for twophase"),
    (["explore", "twophase", "--deadlock=yes"], "--deadlock takes no value"),
    (["explore", "twophase", "--save", "x.txt"], "twophase cannot save a counterexample as a scenario script"),
])
def test_cli_errors_are_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fttoolkit: error: ") and message in err and "Traceback" not in err


def test_cli_help_lists_the_systems_and_their_options(capsys):
    assert main(["explore", "paxos-spec", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--max-ballot N  ballots are 0..N" in out and "--deadlock" in out and "--save FILE" in out
    with pytest.raises(SystemExit):
        main(["explore", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("twophase", "tcommit", "paxos-spec", "--max-states N"))


def test_registry_hook_for_other_systems(tmp_path, capsys):
    saved = []

    class Pair(Spec):
        name = "pair"

        def __init__(self, limit, bug):
            self.limit, self.bug = limit, bug
            self.invariants = {"Below": lambda s: s[0] + s[1] < limit + (0 if bug else 99)}

        def initial_states(self):
            return [(0, 0)]

        def next_states(self, s):
            return [(f"Bump({i})", s[:i] + (s[i] + 1,) + s[i + 1:]) for i in range(2) if s[i] < self.limit]

        def scenario_script(self, counterexample):
            saved.append(counterexample)
            return "".join(f"# {label}\n" for label, _ in counterexample.steps)

    register_system("pair-test", "two counters", lambda limit, bug: Pair(limit, bug),
                    (Option("limit", 2, "how far each counter goes"),
                     Option("bug", False, "switch the bug on", bool)), saves=True)
    try:
        assert "pair-test" in systems()
        assert run_cli("pair-test", []) == 0
        assert capsys.readouterr().out == "distinct states: 9\nstates generated: 13\ndepth: 5\n"
        target = tmp_path / "found.txt"
        assert run_cli("pair-test", ["--limit", "3", "--bug", "--save", str(target)]) == 1
        assert target.read_text() == "# Initial predicate\n# Bump(0)\n# Bump(0)\n# Bump(0)\n"
        assert capsys.readouterr().out.endswith(f"saved to {target}\n") and len(saved) == 1
    finally:
        del SYSTEMS["pair-test"]
    assert "pair-test" not in systems()


def test_counterexample_lines_number_every_state():
    spec = TwoPhase(2, bugs=["abort-after-prepared"])
    found = explore(spec).violations[0]
    lines = found.lines(spec.describe)
    assert sum(1 for line in lines if re.match(r"  \d+\. ", line)) == len(found)
    assert lines[0] == f"violation: invariant TCConsistent is violated ({len(found)} states)"


def test_ports_enumerate_actions_as_tla_writes_them():
    init = TwoPhase(2).initial_states()[0]
    assert [label for label, _ in TwoPhase(2).next_states(init)] == [
        "TMAbort", "RMPrepare(r1)", "RMChooseToAbort(r1)", "RMPrepare(r2)", "RMChooseToAbort(r2)"]
    assert [label for label, _ in PaxosSpec(3, 2, 1).next_states(PaxosSpec(3, 2, 1).initial_states()[0])] == [
        "Phase1a(0)", "Phase1a(1)"]
