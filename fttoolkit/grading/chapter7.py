"""Chapter 7's exercises, on checking: invariants, scenario scripts and linearizability.

* 7.1 **An invariant that catches a bug**: a plain function ``atomicity(nodes)`` over the states of the
  running two-phase-commit nodes (what :class:`~fttoolkit.core.invariants.Invariant` takes: ``None`` or
  ``[]`` when the rule holds, a :class:`~fttoolkit.core.invariants.Violation` or a list of them when it
  is broken).  It is graded as an invariant of :class:`~fttoolkit.doors.transactions.DistributedTransaction`:
  on the correct protocol (the presets, the scripted runs with the bug switched off, fuzzed schedules)
  it must never fire; with the bugs ``abort-after-yes`` and ``decide-before-log`` it must fire on every
  run where the course's own Atomicity breaks (a scripted run, and fuzzed seeds on which it does).
* 7.2 **A scenario script that breaks a buggy protocol**: the text of a script in the course's script
  language in which single-decree Paxos with ``forget-promise`` switched on breaks Agreement; replayed
  once with the bug (Agreement must break) and once without (it must not: a schedule that breaks even
  the correct protocol, say by wiping a disk, shows nothing about the bug).
* 7.3 **Deciding linearizability**: ``is_linearizable(history)`` for a single register (read, write,
  compare-and-set, operations that never returned), graded against
  :func:`fttoolkit.check.linearizability.check` on hand-made histories and seeded random ones.

Student code that raises is reported with the line it came from; a loop is stopped by the exercise's
time limit.  Every failing run carries its seed and a scenario script that replays it
(:func:`replay_script` replays one with a student's invariant), and the run itself for ``show_run``; a
misjudged history is printed, and ``show_run("7.3")`` draws it.

Notes
-----
Two-phase commit and its atomicity: Gray, "Notes on Data Base Operating Systems", 1978, §5.8.3, and
Gray & Lamport, "Consensus on Transaction Commit", 2006.  Paxos's promises on stable storage: Lamport,
"Paxos Made Simple", 2001, §2.2 and §2.5.  Linearizability: Herlihy & Wing, "Linearizability: A
Correctness Condition for Concurrent Objects", 1990; the search the students write is Wing & Gong's,
"Testing and Verifying Concurrent Objects", 1993.  An operation that never returned may take effect or
not, as in Jepsen's ``:info`` results.
"""

import dataclasses
import random

from ..algorithms.twopc import INVARIANTS as TWOPC_INVARIANTS
from ..check.fuzz import execute, run_seed, shrink
from ..check.linearizability import check as course_check
from ..check.linearizability import describe_operation
from ..core.errors import FtError
from ..core.history import Operation
from ..core.ids import sorted_ids
from ..core.invariants import Invariant, Violation
from ..doors.paxos import Paxos
from ..doors.transactions import DistributedTransaction
from ..scenario import ScriptError, parse, replay, schedule_to_script, with_bugs
from .chapter4 import _readable
from .model import Case, Exercise, Fail, TimeLimit, describe_error, register
from .refereed import build_door, names_read, pass_time_limits

__all__ = ["RULES", "YOURS", "invariant_door", "replay_script", "judge_script", "random_history",
           "format_history", "HistoryView", "ScriptVerdict", "BUG_SEEDS", "SCRIPT_BUG", "SCRIPT_INVARIANT"]

# ---------------------------------------------------------------------------------- the rules
CONTRACT = "Return the violations found, as an Invariant's check does"
NO_FALSE_ALARM = "No false alarm on the correct protocol"
CATCH = "Fire wherever the course's Atomicity breaks"
SCRIPT = "A Paxos script with forget-promise, that runs"
BREAKS = "Break Agreement with the bug on"
THE_BUG = "Keep Agreement with the bug off: the bug, not the schedule"
VERDICT = "Answer True or False"
REAL_TIME = "Respect real-time order (Herlihy & Wing 1990)"
TIES = "Equal times overlap"
PENDING = "An unfinished operation takes effect once, or never (Herlihy & Wing 1990)"
REGISTER = "Follow the register's sequential specification"

#: Rule name -> what it asks (the "expected" line of a failure).
RULES = {
    CONTRACT: "atomicity(nodes) returns None or [] when the rule holds, and a Violation(name, nodes, detail) "
              "(or a list of them) when it is broken; nodes maps each RUNNING node's id to the node",
    NO_FALSE_ALARM: "two-phase commit without bugs keeps atomicity in every run, crashes, losses and partitions "
                    "included: a correct invariant never fires on it (a transient state such as one participant "
                    "committed while another is still prepared is not a violation)",
    CATCH: "with the bug switched on, whenever the course's Atomicity (a history check) breaks, your predicate "
           "over the states fires too, at that step or later in the run: one participant's txns[txn] is "
           "'committed' while another's is 'aborted'",
    SCRIPT: "the script parses (fttoolkit.scenario.parse), starts with 'algorithm paxos', switches on "
            "'bugs forget-promise' and no other bug, and every command can be carried out",
    BREAKS: "replayed with forget-promise on, the run breaks Agreement: two different values each accepted by a "
            "majority of acceptors in one ballot",
    THE_BUG: "the same script with the bug off (the 'bugs' line removed) does not break Agreement: Paxos is safe "
             "under any crash-recovery schedule, so the schedule alone must not be enough (a crash with 'disk' "
             "wipes stable storage, which the fault model does not allow)",
    VERDICT: "is_linearizable(history) returns True (linearizable) or False (not)",
    REAL_TIME: "if an operation returned before another was invoked (a.ret < b.call), it comes first in every "
               "linearization; operations whose intervals overlap may come in either order",
    TIES: "an operation that returns at tick t and one invoked at tick t overlap: either may come first "
          "(only a.ret < b.call orders a before b)",
    PENDING: "an operation that never returned (ret is None) may take effect at one instant after its call, or "
             "never; a read that never returned constrains nothing",
    REGISTER: "the register starts as None; write(v) sets it to v; read returns it; cas (old, new) sets it to "
              "new and returns True if it holds old, else changes nothing and returns False",
}

#: The name the student's violations carry in the runs (whatever name the student gives them).
YOURS = "Your invariant"


def _function(ns, name, signature):
    f = ns[name]
    if not callable(f) or isinstance(f, type):
        raise Fail(f"{name} must be a function", expected=f"def {name}{signature}: ...", got=repr(f))
    return f


# ================================================================================ 7.1 the invariant
class _PredicateError(Exception):
    """The student's predicate raised (carried out of the simulator, to be reported with the run)."""

    def __init__(self, error):
        super().__init__(f"atomicity(nodes) raised {type(error).__name__}: {error}")
        self.error = error


class _BadResult(Exception):
    """The student's predicate returned something an invariant does not return."""


def _as_list(got):
    """The student's answer as a list of Violations, or :class:`_BadResult`."""
    if got is None:
        return []
    if isinstance(got, Violation):
        return [got]
    if isinstance(got, (list, tuple)) and all(isinstance(v, Violation) for v in got):
        return list(got)
    hint = (" (True/False: an invariant does not answer yes or no, it returns what it found broken)"
            if isinstance(got, bool) else "")
    raise _BadResult(f"atomicity(nodes) returned {got!r}{hint}")


class _Watch:
    """What the student's predicate said first in one run: the states then, and its violation."""

    def __init__(self):
        self.first = None

    def seen(self, nodes, found):
        if self.first is None:
            self.first = (_states(nodes), found[0])


def _states(nodes):
    """``"n1 (coordinator) T1 committed; n2 T1 committed; ..."``: each running node's transactions."""
    parts = []
    for node_id in sorted_ids(nodes):
        node = nodes[node_id]
        txns = getattr(node, "txns", {})
        role = " (coordinator)" if getattr(node, "role", None) == "coordinator" else ""
        shown = ", ".join(f"{t} {s}" for t, s in sorted(txns.items())) or "nothing"
        parts.append(f"{node_id}{role} {shown}")
    return "; ".join(parts)


def _invariant(predicate, watch):
    def check(nodes):
        try:
            found = _as_list(predicate(nodes))
        except (TimeLimit, NotImplementedError, _BadResult):
            raise
        except Exception as error:         # noqa: BLE001 - the student's code: reported with the run
            pass_time_limits(error)
            raise _PredicateError(error) from error
        if found and watch is not None:
            watch.seen(nodes, found)
        return [Violation(YOURS, tuple(v.nodes), v.detail) for v in found]
    return Invariant(f"{YOURS}: the predicate you wrote, over the running nodes' states", check=check)


def invariant_door(predicate, watch=None, course=False):
    """The two-phase-commit door checking ``predicate(nodes)`` as an invariant (with the course's too if ``course``).

    The course's liveness checks stay (they fix the length of the fuzzer's calm phase), so a seed gives
    the same run with this door as with :class:`DistributedTransaction`.

    >>> door = invariant_door(lambda nodes: None)(nodes=3, seed=1)
    >>> [inv.name for inv in door.invariants]
    ['Your invariant']
    """
    invariants = [_invariant(predicate, watch)] + (list(TWOPC_INVARIANTS) if course else [])

    def __init__(self, *args, **kwargs):
        DistributedTransaction.__init__(self, *args, **kwargs)
        type(self).last = self          # the fuzzer builds its own: keep it, for the failure's script

    return type("InvariantTxn", (DistributedTransaction,), {"invariants": invariants, "__init__": __init__,
                                                            "last": None, "__module__": __name__})


def replay_script(predicate, script, halt=False):
    """Replay a two-phase-commit ``script`` (text) with ``predicate`` as an invariant beside the course's.

    Returns the door: ``door.violations`` lists what your predicate (``Your invariant``) and the course's
    invariants saw, and ``door.show()`` opens the run.

    >>> text = DistributedTransaction.presets()["clean_commit"]
    >>> [v["invariant"] for v in replay_script(lambda nodes: None, text).violations]
    []
    """
    parsed = parse(script)
    if parsed.header["algorithm"] != DistributedTransaction.name:
        raise ScriptError(f"exercise 7.1 replays {DistributedTransaction.name!r} scripts; this one is for "
                          f"{parsed.header['algorithm']!r}")
    door = build_door(invariant_door(predicate, course=True), parsed, halt)
    replay(parsed, door=door)
    return door


def _mine(violations):
    return [v for v in violations if (v["invariant"] if not isinstance(v, Violation) else v.invariant) == YOURS]


def _raised(error, title, seed, script, door):
    """The failure for a predicate that raised or returned something else."""
    if isinstance(error, _BadResult):
        return Fail(f"{title}: your atomicity returned something an invariant does not (seed {seed})",
                    expected=RULES[CONTRACT], got=str(error),
                    seed=seed, script=script, run=door)
    cause = error.error
    return Fail(f"{title}: your atomicity raised an exception (seed {seed})", expected="no exception: "
                + RULES[CONTRACT], got=describe_error(cause), seed=seed, script=script, run=door)


def _false_alarm(title, seed, script, door, watch):
    fired = _mine(door.violations)
    tick = fired[0].tick if fired else door.now
    states, detail = (watch.first[0], watch.first[1].detail) if watch.first else (_states(_running(door)), "")
    return Fail(f"{title}: a false alarm on the correct protocol (seed {seed})", expected=RULES[NO_FALSE_ALARM],
                got=f"at t={tick} your invariant fired ({detail or 'no detail'}) with the states {states}",
                seed=seed, script=script, run=door)


# ---------------------------------------------------------------------------------- scripted runs
_AFTER_YES = """\
algorithm 2pc
nodes 4
seed 1
bugs abort-after-yes
network delay=10

# Exercise 7.1: T1 writes at n2, n3 and n4; every message takes 10 ticks. At t=10 the three participants
# vote yes. At t=20 the coordinator n1 decides commit, forces its record, and crashes after sending
# Commit to n2 only (3 intentions: the note, the record, one Commit).
begin T1 n2:x=1 n3:y=2 n4:z=3
run 10
crash n1 after=3
run 150
# t=30: n2 commits. t=110: n3 and n4, uncertain, time out. With abort-after-yes they abort on their own:
# T1 is committed at n2 and aborted at n3 and n4. Without the bug they ask, wait, and commit once n1
# is back and re-sends its decision.
restart n1
run 400
"""

_BEFORE_LOG = """\
algorithm 2pc
nodes 4
seed 1
bugs decide-before-log
network delay=10

# Exercise 7.1: every participant votes yes at t=10; at t=20 the coordinator n1 decides commit. With
# decide-before-log it sends Commit before forcing its decision record, and crashes after 2 intentions
# (the note and the Commit to n2): n2 commits, the decision never reached n1's log.
begin T1 n2:x=1 n3:y=2 n4:z=3
run 10
crash n1 after=2
run 50
# n1 restarts with no record of T1: asked by n3 and n4, it presumes abort. Without the bug its commit
# record is on disk first, and it re-sends Commit.
restart n1
run 400
"""

#: bug -> (the scripted run, the seeds of the crash profile (4 nodes) on which the course's Atomicity
#: breaks with it).  tests/test_grading_checking.py checks that it still does on each.
BUG_SEEDS = {
    "abort-after-yes": (_AFTER_YES, (41, 111, 199, 216)),
    "decide-before-log": (_BEFORE_LOG, (94, 189, 223, 276)),
}
_NODES = 4
_PROFILE = "crash"
#: (profile, seeds) of the correct protocol's fuzzed runs.
_CLEAN_SEEDS = (("crash", range(20)), ("chaos", range(20)))


def _replay_scripted(predicate, title, text, bugs):
    """Replay a script with ``bugs``; return (door, script, watch) or raise Fail if the predicate raised."""
    script = with_bugs(text, bugs)
    parsed = parse(script)
    seed = parsed.header.get("seed", 0)
    watch = _Watch()
    door = build_door(invariant_door(predicate, watch, course=bool(bugs)), parsed)
    try:
        replay(parsed, door=door)
    except (_PredicateError, _BadResult) as error:
        raise _raised(error, title, seed, script, door) from None
    return door, script, watch


def _without_expect(text):
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("expect ")) + "\n"


def _clean_corpus():
    """(title, script) of the correct protocol's scripted runs: the bug scripts and the presets, bugs off."""
    runs = [(f"the scripted run of {bug}, with the bug off", with_bugs(text, []))
            for bug, (text, _) in sorted(BUG_SEEDS.items())]
    for name, text in sorted(DistributedTransaction.presets().items()):
        header = parse(text).header
        if header.get("expect") and not header.get("bugs"):
            continue                     # a limit of the correct protocol, shown on purpose: none in 2PC today
        note = f"the preset {name}" + (f" with {', '.join(header['bugs'])} switched off" if header.get("bugs") else "")
        runs.append((note, _without_expect(with_bugs(f"# Exercise 7.1: {note}\n" + text, []))))
    return runs


def _bug_corpus(bug):
    """(title, script) of the runs that show ``bug``: the exercise's script, and the presets that switch it on."""
    runs = [(f"the scripted run of {bug}", BUG_SEEDS[bug][0])]
    for name, text in sorted(DistributedTransaction.presets().items()):
        if parse(text).header.get("bugs") == [bug]:
            runs.append((f"the preset {name}", text))
    return runs


def _clean_scripts(ns):
    predicate = _function(ns, "atomicity", "(nodes)")
    runs = _clean_corpus()
    for title, text in runs:
        door, script, watch = _replay_scripted(predicate, title, text, [])
        if watch.first is not None:
            raise _false_alarm(title, parse(script).header.get("seed", 0), script, door, watch)
    return f"{len(BUG_SEEDS)} scripted runs and {len(runs) - len(BUG_SEEDS)} presets, bugs off: no false alarm"


def _fuzzed_script(schedule, title):
    return _readable(schedule_to_script(schedule, [f"exercise 7.1: {title}"]).render())


def _clean_fuzzed(ns):
    predicate = _function(ns, "atomicity", "(nodes)")
    count = 0
    for profile, seeds in _CLEAN_SEEDS:
        for seed in seeds:
            count += 1
            title = f"random schedule {seed} ({profile} profile), correct protocol"
            watch = _Watch()
            door_class = invariant_door(predicate, watch)
            try:
                result = run_seed(door_class, seed, nodes=_NODES, profile=profile)
            except (_PredicateError, _BadResult) as error:
                door = door_class.last
                script = _readable(door.to_script([f"exercise 7.1: {title}"])) if door is not None else None
                raise _raised(error, title, seed, script, door) from None
            if not _mine(result.violations):
                continue
            schedule = result.schedule
            try:
                schedule = shrink(schedule, YOURS, budget=30)
            except (_PredicateError, _BadResult):
                pass
            script = _fuzzed_script(schedule, title + ", shrunk to the faults that matter")
            watch = _Watch()
            door = build_door(invariant_door(predicate, watch, course=True), parse(script), halt=True)
            try:
                replay(parse(script), door=door)
            except (_PredicateError, _BadResult) as error:
                raise _raised(error, title, seed, script, door) from None
            if watch.first is None:                      # not reproduced: give the whole schedule
                script = _fuzzed_script(result.schedule, title)
                watch = _Watch()
                door = build_door(invariant_door(predicate, watch, course=True), parse(script), halt=True)
                try:
                    replay(parse(script), door=door)
                except (_PredicateError, _BadResult) as error:
                    raise _raised(error, title, seed, script, door) from None
            raise _false_alarm(title, seed, script, door, watch)
    return f"{count} random schedules ({', '.join(p for p, _ in _CLEAN_SEEDS)}): no false alarm"


def _course_violation(violations):
    return next((v for v in violations if (v.invariant if isinstance(v, Violation) else v["invariant"])
                 == "Atomicity"), None)


def _catches(bug):
    seeds = BUG_SEEDS[bug][1]

    def check(ns):
        predicate = _function(ns, "atomicity", "(nodes)")
        shown = 0
        for title, text in _bug_corpus(bug):
            door, script, watch = _replay_scripted(predicate, title, text, [bug])
            course = _course_violation(door.violations)
            if course is None:
                continue                 # a preset of this bug that shows another invariant breaking
            shown += 1
            if watch.first is None:
                seed = parse(script).header.get("seed", 0)
                raise Fail(f"{title}: the bug went unnoticed (seed {seed})", expected=RULES[CATCH],
                           got=f"the course's Atomicity broke at t={course.tick} ({course['detail']}), and your "
                               f"invariant never fired (at t={door.now}: {_states(_running(door))})",
                           seed=seed, script=script, run=door)
        for seed in seeds:
            title = f"random schedule {seed} ({_PROFILE} profile) with {bug}"
            theirs = run_seed(DistributedTransaction, seed, nodes=_NODES, bugs=[bug], profile=_PROFILE)
            course = _course_violation(theirs.violations)
            if course is None:           # the protocol changed: tests/test_grading_checking.py says so
                continue
            watch = _Watch()
            door_class = invariant_door(predicate, watch)
            try:
                mine = run_seed(door_class, seed, nodes=_NODES, bugs=[bug], profile=_PROFILE)
            except (_PredicateError, _BadResult) as error:
                door = door_class.last
                script = _readable(door.to_script([f"exercise 7.1: {title}"])) if door is not None else None
                raise _raised(error, title, seed, script, door) from None
            if _mine(mine.violations):
                continue
            raise _missed(predicate, title, seed, theirs.schedule, course)
        return (f"{bug}: {shown} scripted run{'s' * (shown != 1)} and {len(seeds)} random schedules (seeds "
                f"{', '.join(map(str, seeds))})")
    return check


def _running(door):
    return {i: door.sim.nodes[i] for i in door.ids if door.sim.up[i]}


def _missed(predicate, title, seed, schedule, course):
    """The failure for a run where the course's Atomicity broke and the student's invariant never fired.

    The schedule is shrunk for Atomicity, and kept shrunk if the student's invariant still never fires on
    it, run to the fuzzer's full length (it may fire later than the history check does).
    """
    full = dataclasses.replace(schedule, until=DistributedTransaction.fuzz_ticks)
    shown = full
    try:
        shrunk = dataclasses.replace(shrink(schedule, "Atomicity", budget=30), until=full.until)
        found = execute(dataclasses.replace(shrunk, door_class=invariant_door(predicate)))
        if found is not None and not _mine(found):
            shown = shrunk
    except (_PredicateError, _BadResult):
        pass
    script = _fuzzed_script(shown, title + (", shrunk to the faults that matter" if shown is not full else ""))
    door = build_door(invariant_door(predicate, course=True), parse(script))
    try:
        replay(parse(script), door=door)
    except (_PredicateError, _BadResult):
        pass
    seen = _course_violation(door.violations)
    got = (f"the course's Atomicity broke at t={seen.tick} ({seen['detail']})" if seen is not None else
           f"the course's Atomicity broke ({course.detail})")
    return Fail(f"{title}: the bug went unnoticed (seed {seed})", expected=RULES[CATCH],
                got=f"{got}, and your invariant never fired in the whole run (to t={door.now})",
                seed=seed, script=script, run=door)


register(Exercise(
    "7.1", "An invariant that catches a bug", needs=["atomicity"],
    hint="look only at participants (node.role == 'participant'); collect, for each txn, the ids whose "
         "node.txns[txn] is 'committed' and those whose is 'aborted'; return a Violation('Atomicity', ids, "
         "detail) for each txn with both, and [] otherwise ('prepared' next to 'committed' is normal)",
    cases=[
        Case("no false alarm: the presets and the scripted runs, bug off", _clean_scripts),
        Case("no false alarm: random schedules of the correct protocol", _clean_fuzzed),
        Case("catches abort-after-yes", _catches("abort-after-yes")),
        Case("catches decide-before-log", _catches("decide-before-log")),
    ]))


# ================================================================================ 7.2 the script
#: The protocol, the bug and the invariant of exercise 7.2.
SCRIPT_BUG = "forget-promise"
SCRIPT_INVARIANT = "Agreement"


def _script_text(ns):
    f = ns["breaking_script"]
    text = f() if callable(f) else f
    if not isinstance(text, str):
        raise Fail("breaking_script() must return the script as text", expected="a str: 'algorithm paxos\\n...'",
                   got=repr(text))
    return text


class ScriptVerdict:
    """What :func:`judge_script` found: the first rule broken (``None``: none), what happened, and the runs."""

    def __init__(self, rule, detail, script, seed=None, run=None, broke=None):
        self.rule = rule            # a key of RULES, or None when the script does everything asked
        self.detail = detail        # what happened, in a sentence
        self.script = script        # the script as replayed last (the bug switched on or off)
        self.seed = seed
        self.run = run              # the door of that replay, for show_run
        self.broke = broke          # with the bug on: the first violation of the named invariant

    def __repr__(self):
        return f"<ScriptVerdict {self.rule or 'ok'}: {self.detail}>"


def judge_script(text):
    """Judge an exercise 7.2 script (text): replay it with the bug on, then off; return a :class:`ScriptVerdict`.

    >>> judge_script("algorithm paxos\\nnodes 3\\nbugs forget-promise\\n\\nrun 10\\n").detail
    'nothing broke; at t=10 the acceptors hold: n1 nothing accepted, n2 nothing accepted, n3 nothing accepted'
    """
    try:
        parsed = parse(text)
    except ScriptError as error:
        return ScriptVerdict(SCRIPT, f"it does not parse: {error}", text)
    h = parsed.header
    seed = h.get("seed", 0)
    if h["algorithm"] != Paxos.name:
        return ScriptVerdict(SCRIPT, f"it is a script for {h['algorithm']!r}, not {Paxos.name!r}", text, seed)
    others = [b for b in h.get("bugs", []) if b != SCRIPT_BUG]
    if others:
        return ScriptVerdict(SCRIPT, f"it switches on {', '.join(others)}: only {SCRIPT_BUG} may be on (Paxos's "
                             f"bugs: {', '.join(Paxos.bug_list())})", text, seed)
    script = with_bugs(text, [SCRIPT_BUG])         # what is shown; the replay keeps the student's line numbers
    on = _replay_paxos(text, [SCRIPT_BUG])
    if isinstance(on, str):
        return ScriptVerdict(SCRIPT, on, script, seed)
    broke = [v for v in on.violations if v["invariant"] == SCRIPT_INVARIANT]
    if not broke:
        seen = "; ".join(f"{v['invariant']} broke at t={v.tick} ({v['detail']})" for v in on.violations[:3])
        accepted = ", ".join(f"{i} {_accepted(on, i)}" for i in on.ids)
        what = f"{seen}, but not {SCRIPT_INVARIANT}" if seen else "nothing broke"
        return ScriptVerdict(BREAKS, f"{what}; at t={on.now} the acceptors hold: {accepted}", script, seed, on)
    off_script = with_bugs(text, [])
    off = _replay_paxos(text, [])
    if isinstance(off, str):
        return ScriptVerdict(THE_BUG, f"without the bug the script cannot run: {off}", off_script, seed)
    again = [v for v in off.violations if v["invariant"] == SCRIPT_INVARIANT]
    if again:
        wipes = any("crash" in c.words and "disk" in c.words for c in parsed.commands)
        why = (" ('crash ... disk' wipes a node's stable storage: even correct Paxos cannot keep a promise it "
               "lost)" if wipes else "")
        return ScriptVerdict(THE_BUG, f"with the bug off, {SCRIPT_INVARIANT} broke too, at t={again[0].tick} "
                             f"({again[0]['detail']}): the schedule, not the bug, breaks it{why}", off_script, seed,
                             off, broke[0])
    return ScriptVerdict(None, f"{SCRIPT_INVARIANT} broke at t={broke[0].tick} ({broke[0]['detail']}), and "
                         "not without the bug", script, seed, on, broke[0])


def _accepted(door, node_id):
    if not door.sim.up[node_id]:
        return "(down)"
    accepted = getattr(door.sim.nodes[node_id], "accepted", None)
    return "nothing accepted" if accepted is None else f"accepted {accepted[0]} {accepted[1]!r}"


def _replay_paxos(text, bugs):
    """Replay a Paxos script with ``bugs``; return the door, or a sentence saying why it could not run."""
    parsed = parse(text)
    parsed.header["bugs"] = list(bugs)
    try:
        return replay(parsed, check=True).door
    except ScriptError as error:
        return f"a command cannot be carried out: {error}"
    except FtError as error:
        return f"it cannot be built: {error}"


def _verdict(ns):
    return judge_script(_script_text(ns))


def _script_runs(ns):
    text = _script_text(ns)
    v = judge_script(text)
    if v.rule == SCRIPT:
        raise Fail(f"the script: {v.detail}", expected=RULES[SCRIPT], got=v.detail, seed=v.seed, script=v.script)
    switched = "" if SCRIPT_BUG in parse(text).header.get("bugs", []) else f" ({SCRIPT_BUG} switched on by the grader)"
    return f"a paxos script that runs{switched}"


def _not_yet(v):
    """Cases 2 and 3 on a script that does not run: point to the first case."""
    if v.rule == SCRIPT:
        raise Fail("the script does not run yet (see the first test)", expected=RULES[SCRIPT], got=v.detail)


def _script_breaks(ns):
    v = _verdict(ns)
    _not_yet(v)
    if v.rule == BREAKS:
        raise Fail(f"{BREAKS}: it did not break (seed {v.seed})", expected=RULES[BREAKS], got=v.detail, seed=v.seed,
                   script=v.script, run=v.run)
    return f"{SCRIPT_INVARIANT} broke at t={v.broke.tick} with {SCRIPT_BUG}: {v.broke['detail']}"


def _script_is_the_bug(ns):
    v = _verdict(ns)
    _not_yet(v)
    if v.rule == BREAKS:
        raise Fail(f"first make {SCRIPT_INVARIANT} break with the bug on (see the test above)",
                   expected=RULES[BREAKS], got=v.detail)
    if v.rule == THE_BUG:
        raise Fail(f"{THE_BUG} broken (seed {v.seed})", expected=RULES[THE_BUG], got=v.detail, seed=v.seed,
                   script=v.script, run=v.run)
    return f"without {SCRIPT_BUG}, the same schedule keeps {SCRIPT_INVARIANT}"


register(Exercise(
    "7.2", "A scenario script that breaks a buggy protocol", needs=["breaking_script"],
    hint="use two proposers, n1 (ballot b1.n1) and n3 (b1.n3), that can reach each other only through n2 "
         "('clog n1 n3'); let n2 promise b1.n1, then b1.n3; crash and restart n2 before n1's Accept(b1.n1) "
         "arrives: what does an acceptor that forgot its promise do with it, and then with n3's Accept?",
    cases=[
        Case("the script parses and runs, for paxos with forget-promise", _script_runs),
        Case("Agreement breaks with forget-promise on", _script_breaks, points=2),
        Case("the bug, not the schedule: Agreement holds with the bug off", _script_is_the_bug),
    ]))


# ================================================================================ 7.3 linearizability
def _op(client, kind, value, output, call, ret):
    return Operation(client, kind, None, value, output, call, ret)


def _w(client, value, call, ret):
    return _op(client, "write", value, None, call, ret)


def _r(client, output, call, ret):
    return _op(client, "read", None, None if ret is None else output, call, ret)


def _cas(client, old, new, output, call, ret):
    return _op(client, "cas", (old, new), None if ret is None else output, call, ret)


#: (what, history): the histories the first case asks about (verdicts from the course's checker).
_HAND = [
    ("a write, then a read of it", [_w("a", 1, 0, 2), _r("b", 1, 3, 4)]),
    ("a stale read: the write returned before the read began", [_w("a", 1, 0, 2), _r("b", None, 3, 4)]),
    ("a read during a write may see the old value", [_w("a", 1, 0, 5), _r("b", None, 1, 2)]),
    ("a read during a write may see the new value", [_w("a", 1, 0, 5), _r("b", 1, 1, 2)]),
    ("once a read saw the new value, a later read cannot see the old one",
     [_w("a", 1, 0, 9), _r("b", 1, 1, 2), _r("c", None, 3, 4)]),
    ("two overlapping writes, then two reads in opposite orders",
     [_w("a", 1, 0, 3), _w("b", 2, 1, 4), _r("c", 2, 5, 6), _r("a", 1, 7, 8)]),
    ("two overlapping writes, then two reads that agree",
     [_w("a", 1, 0, 3), _w("b", 2, 1, 4), _r("c", 1, 5, 6), _r("a", 1, 7, 8)]),
    ("a client's own operations are ordered", [_w("a", 1, 0, 1), _w("a", 2, 2, 3), _r("b", 1, 4, 5)]),
    ("a compare-and-set that swapped", [_w("a", 1, 0, 1), _cas("b", 1, 2, True, 2, 3), _r("c", 2, 4, 5)]),
    ("a failed compare-and-set changes nothing", [_w("a", 1, 0, 1), _cas("b", 2, 3, False, 2, 3), _r("c", 1, 4, 5)]),
    ("a compare-and-set cannot swap a value that is not there", [_w("a", 1, 0, 1), _cas("b", 2, 3, True, 2, 3)]),
    ("returning at t and being invoked at t overlap", [_w("a", 1, 0, 3), _r("b", None, 3, 4)]),
    ("the empty history", []),
]

#: (what, history): operations that never returned (``ret`` None).
_PENDING = [
    ("a write that never returned, seen by a later read", [_w("a", 1, 0, None), _r("b", 1, 5, 6)]),
    ("a write that never returned, never seen", [_w("a", 1, 0, None), _r("b", None, 5, 6), _r("c", None, 7, 8)]),
    ("a write that never returned takes effect once: seen, then unseen",
     [_w("a", 1, 0, 1), _w("b", 2, 2, None), _r("c", 2, 3, 4), _r("a", 1, 5, 6)]),
    ("a write that never returned cannot take effect before its call",
     [_w("a", 1, 0, 1), _r("b", 2, 2, 3), _w("c", 2, 4, None)]),
    ("a read that never returned constrains nothing", [_w("a", 1, 0, 1), _r("b", 5, 2, None), _r("c", 1, 3, 4)]),
    ("a compare-and-set that never returned may have swapped",
     [_w("a", 1, 0, 1), _cas("b", 1, 2, None, 2, None), _r("c", 1, 5, 6), _r("a", 2, 7, 8)]),
    ("an unfinished write among finished ones",
     [_w("a", 1, 0, 2), _w("b", 2, 1, None), _r("c", 1, 3, 4), _r("c", 2, 5, 6), _r("c", 1, 7, 8)]),
]

#: Seeds of the random histories the third case asks about.
_RANDOM_SEEDS = range(40)


def random_history(seed, clients=3, values=3):
    """A small random register history (at most 6 operations), the same for the same seed.

    Each client runs its operations one after the other (1 to 3 of them); an operation sometimes never
    returns, and then it is the client's last.  Reads and compare-and-sets answer values that were
    written, or ``None``, so both verdicts come up.

    >>> print(format_history(random_history(19)))
      b: read→nil         1..3
      c: write(1)         1..3
      b: cas(nil,2)→true  4..7
      b: read             8..∞ (never returned)
    >>> random_history(19) == random_history(19)
    True
    """
    rng = random.Random(f"fttoolkit/grading/7.3/{seed}")
    names = ["a", "b", "c", "d"][:max(1, min(clients, 4))]
    count = rng.randint(2, min(6, 2 * len(names)))
    per = {name: 0 for name in names}
    for _ in range(count):
        per[rng.choice(names)] += 1
    ops, written = [], 0
    for name in names:
        t = rng.randint(0, 3)
        for k in range(per[name]):
            call, ret = t, t + rng.randint(0, 4)
            pending = rng.random() < 0.15
            kind = rng.choice(["write", "write", "read", "read", "cas"])
            seen = [None] + list(range(1, min(written, values) + 1))
            if kind == "write":
                written += 1
                ops.append(_w(name, (written - 1) % values + 1, call, None if pending else ret))
            elif kind == "read":
                ops.append(_r(name, rng.choice(seen), call, None if pending else ret))
            else:
                old, new = rng.choice(seen), rng.randint(1, values)
                ops.append(_cas(name, old, new, rng.random() < 0.6, call, None if pending else ret))
            if pending:
                break
            t = ret + rng.randint(1, 2)         # a client's next call comes strictly after its last return
    return ops


def format_history(history, indent="  "):
    """A history as text, one operation a line, in invocation order.

    >>> print(format_history([_w("a", 1, 0, 2), _r("b", 1, 1, None)]))
      a: write(1)  0..2
      b: read      1..∞ (never returned)
    """
    ops = sorted(history, key=Operation.order)
    if not ops:
        return f"{indent}(no operations)"
    labels = [describe_operation(op).replace("→?", "") for op in ops]
    width = max(len(label) for label in labels)
    lines = []
    for op, label in zip(ops, labels):
        end = "∞ (never returned)" if op.ret is None else str(op.ret)
        lines.append(f"{indent}{op.client}: {label.ljust(width)}  {op.call}..{end}")
    return "\n".join(lines)


class HistoryView:
    """A misjudged history, for ``show_run("7.3")``: ``show()`` draws it with the course's verdict."""

    def __init__(self, history, result):
        self.history = list(history)
        self.result = result

    def show(self, **options):
        """Draw the history (:func:`fttoolkit.viz.history.plot_history`) with the linearization or the failing part."""
        from ..viz.history import plot_history
        return plot_history(self.history, self.result, **options)


def _strict_ties(ops):
    """The history with every tie (a return and an invocation at the same tick) broken: the return first."""
    calls = {op.call for op in ops}
    out = []
    for op in ops:
        call, ret = 2 * op.call, None if op.ret is None else 2 * op.ret
        if ret is not None and op.ret in calls and op.ret > op.call:
            ret -= 1
        out.append(dataclasses.replace(op, call=call, ret=ret))
    return out


def _diagnose(history, want):
    """Which rule a wrong verdict on ``history`` most likely breaks (``want``: the right verdict)."""
    ops = list(history)
    pending = any(op.ret is None for op in ops)
    if want is False:          # said linearizable, is not
        spread = max([op.ret for op in ops if op.ret is not None] + [op.call for op in ops] + [0]) + 1
        loose = [dataclasses.replace(op, call=0, ret=None if op.ret is None else spread) for op in ops]
        if course_check(loose, model="register").ok:
            return REAL_TIME
        return PENDING if pending else REGISTER
    if not course_check(_strict_ties(ops), model="register").ok:
        return TIES
    if pending:
        return PENDING
    return REGISTER if any(op.kind == "cas" for op in ops) else REAL_TIME


def _judge_history(f, what, history, seed=None):
    want = course_check(history, model="register")
    got = f(list(history))
    shown = format_history(history, " " * 16)
    if not isinstance(got, bool):
        raise Fail(f"{what}: is_linearizable must answer True or False", expected=RULES[VERDICT],
                   got=f"is_linearizable returned {got!r} for\n{shown}", seed=seed, run=HistoryView(history, want))
    if got == want.ok:
        return want.ok
    rule = _diagnose(history, want.ok)
    if want.ok:
        order = want.order.get(None, [])
        why = ("linearizable, for example in the order " + ", ".join(f"{describe_operation(op)} by {op.client}"
                                                                   for op in order)) if order else \
            "linearizable: nothing in it has to take effect"
    else:
        why = want.explain().replace("\n", " ").rstrip(".")
    raise Fail(f"{what}: misjudged ({rule} broken)", expected=f"{want.ok} ({why}). The rule: {RULES[rule]}",
               got=f"{got} for the history\n{shown}", seed=seed, run=HistoryView(history, want))


def _linearizable_function(ns):
    f = _function(ns, "is_linearizable", "(history)")
    if {"linearizability", "course_check"} & names_read(f) or any(
            f.__globals__.get(name) is course_check for name in names_read(f)):
        raise Fail("is_linearizable calls the course's checker: write the search yourself",
                   expected="your own search", got="a call of fttoolkit.check.linearizability.check")
    return f


def _histories(cases, title):
    def check(ns):
        f = _linearizable_function(ns)
        verdicts = [_judge_history(f, what, history) for what, history in cases]
        return f"{len(cases)} {title} ({sum(verdicts)} linearizable, {len(verdicts) - sum(verdicts)} not)"
    return check


def _random_histories(ns):
    f = _linearizable_function(ns)
    verdicts = [_judge_history(f, f"random history {seed}", random_history(seed), seed) for seed in _RANDOM_SEEDS]
    return (f"{len(verdicts)} random histories (random_history(seed) for seed in range({len(verdicts)})): "
            f"{sum(verdicts)} linearizable, {len(verdicts) - sum(verdicts)} not")


register(Exercise(
    "7.3", "Deciding linearizability of small histories", needs=["is_linearizable"],
    hint="search for an order: an operation may come next if no other operation still to place returned "
         "before it was invoked (other.ret < op.call) and the register gives its recorded answer; recurse on "
         "the rest with the new value; operations that never returned may also be left out (True once only "
         "they remain); leave out reads that never returned",
    cases=[
        Case("hand-made histories: real time and the register", _histories(_HAND, "hand-made histories"), points=2),
        Case("operations that never returned", _histories(_PENDING, "histories with unfinished operations")),
        Case("random small histories, against the course's checker", _random_histories),
    ]))
