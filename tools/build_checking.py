"""Write notebooks/07_checking.ipynb from the cells below: Chapter 7 (run: python tools/build_checking.py).

The chapter is kept as Python source so that its diffs are readable; the notebook is committed
without outputs.  tools/chapters.py appends the closing "Where next" cell.
"""

import pathlib
import sys

from nbformat.v4 import new_code_cell as code
from nbformat.v4 import new_markdown_cell as md

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import write  # noqa: E402

cells = []
cells.append(md(r"""# Chapter 7 — Checking: invariants, the bug zoo, model checking and linearizability

Every chapter so far made the same claim: *this protocol is correct*. This chapter is about how to
believe it. A demo shows that one run went well; the tools here look for the run that goes badly — by
stating what must always hold, by throwing thousands of random fault schedules at the protocol, by
visiting every reachable state of a small configuration, and by asking whether what clients saw could
have come from a single, correct copy.

Sources:
- Leslie Lamport, *Proving the Correctness of Multiprocess Programs* (1977), and Bowen Alpern and Fred B.
  Schneider, *Defining Liveness* (1985): safety and liveness;
- Yuan Yu, Panagiotis Manolios and Leslie Lamport, *Model Checking TLA+ Specifications* (1999): TLC;
- Daniel Jackson, *Software Abstractions* (2006): the small scope hypothesis; Ding Yuan et al., *Simple
  Testing Can Prevent Most Critical Failures* (2014);
- Maurice Herlihy and Jeannette Wing, *Linearizability: A Correctness Condition for Concurrent Objects*
  (1990); Jeannette Wing and Chun Gong, *Testing and Verifying Concurrent Objects* (1993); Gavin Lowe,
  *Testing for Linearizability* (2017);
- Kyle Kingsbury, *Jepsen: etcd and Consul* (2014).

**You will learn to:**
- tell safety from liveness, and write a safety property as an invariant over the nodes' states;
- read the course's **bug zoo (缺陷动物园)**: every classic mistake, the rule it breaks and the invariant
  that catches it;
- find a bug with **fuzzing (模糊测试)** and cut the failing run down by **shrinking (缩减)**;
- explore every state of a small configuration with a **model checking (模型检测)** tool that agrees with
  TLC, and read its shortest **counterexample (反例)**;
- decide whether a history of client operations is **linearizable (线性一致)**, and catch the stale read
  Jepsen found in etcd.

*Estimated time: 75 minutes.* Key terms are listed in English and Chinese in the
[glossary (术语表)](glossary.md).
"""))

cells.append(md(r"""## Safety and liveness

A property of a distributed system is one of two kinds (Lamport 1977; Alpern & Schneider 1985):

- **safety (安全性)**: *nothing bad ever happens* — two leaders in one term, a participant committing while
  another aborts, an acknowledged write lost. If it is violated, it is violated at a particular step, and
  a finite run shows it.
- **liveness (活性)**: *something good eventually happens* — a leader is elected, a transaction ends, a
  write is acknowledged. No finite run can violate it: the good thing might still come. FLP (Chapter 5)
  says consensus cannot guarantee it in an asynchronous system.

So the course checks them differently. Safety properties are **invariants (不变量)**: predicates over the
nodes' states (and what they have done so far), checked after every step. Liveness is checked once the
faults stop: the fuzzer heals the network, restarts every node, and gives the protocol a bounded time to
make progress.
"""))

cells.append(md(r"""## Invariants as predicates

An invariant is a named function of the running nodes' states, called after every step; it returns
`None` when all is well, or a `Violation` naming the nodes involved. Here is one written from scratch for
two-phase commit (Chapter 4): no transaction commits at one node and aborts at another. A `Monitor`
attached to the simulator checks it; the coordinator crashes at a random point of the protocol in each run:"""))
cells.append(code(r"""import random
from fttoolkit import DistributedTransaction
from fttoolkit.check.monitor import Monitor
from fttoolkit.core.invariants import Invariant, Violation

def all_or_nothing(nodes):
    outcome = {}
    for node_id, node in sorted(nodes.items()):
        for txn, state in node.txns.items():
            if state in ("committed", "aborted"):
                outcome.setdefault(txn, {}).setdefault(state, []).append(node_id)
    for txn, states in sorted(outcome.items()):
        if len(states) == 2:
            return Violation("All or nothing", tuple(states["committed"] + states["aborted"]),
                             f"{txn} committed at {states['committed']} and aborted at {states['aborted']}")
    return None

ALL_OR_NOTHING = Invariant("All or nothing: no transaction commits at one node and aborts at another",
                           all_or_nothing)

def runs_where_it_fires(bugs, seeds=range(30)):
    fired = []
    for seed in seeds:
        rng = random.Random(seed)
        c = DistributedTransaction(nodes=4, seed=seed, bugs=bugs, check=False, delay=(5, 15))
        Monitor.attach(c.sim, [ALL_OR_NOTHING])
        c.begin("T1", {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}})
        c.crash("n1", after=rng.randrange(1, 8), at=rng.randrange(10, 40))   # the coordinator fails mid-protocol
        c.run(until=600)
        if c.violations:
            fired.append(c.violations[0])
    return fired

print("correct 2PC:         fires in", len(runs_where_it_fires([])), "of 30 runs")
caught = runs_where_it_fires(["abort-after-yes"])
print("bug abort-after-yes: fires in", len(caught), "of 30 runs, e.g.", caught[0].describe())"""))
cells.append(md(r"""Two checks make an invariant trustworthy, and the course applies both to every invariant it ships:

1. it never fires on the correct protocol (no false alarm) — over many fuzzed runs;
2. it fires on a protocol with a real, named bug — a checker that was never seen to fail may be checking
   nothing.

Exercise 7.1 asks you to write one and grades it exactly this way."""))

cells.append(md(r"""## The bug zoo

Every algorithm in the course can be built with classic mistakes switched on. Each bug breaks one rule
from the papers, an invariant catches it, and a narrated preset shows the shortest story. The whole
table, generated from the code, is the [bug zoo page](bug_zoo.md); here it is by algorithm:"""))
cells.append(code(r"""from collections import Counter
from fttoolkit.zoo import bug_zoo

zoo = bug_zoo()
print(len(zoo), "bugs in", len({b["algorithm"] for b in zoo}), "algorithms")
for algorithm, count in sorted(Counter(b["algorithm"] for b in zoo).items()):
    print(f"  {algorithm:15} {count}")"""))
cells.append(code(r"""for bug in zoo:
    if bug["algorithm"] in ("raft", "2pc", "wal"):
        print(f"{bug['algorithm']:5} {bug['bug']:22} {', '.join(bug['invariants']):32} preset: {bug['preset']}")"""))
cells.append(md(r"""Open any of them in the cluster view: the preset replays with the bug on, the story line tells what
happens, and the view stops where the invariant breaks. Raft's `figure8` (a leader that counts replicas of
an entry from an older term as committed, §5.4.2) on the Figure 8 schedule:"""))
cells.append(code(r"""from fttoolkit import Raft

fig8 = Raft()
fig8.load_preset("figure8_d", ["figure8"])
print(fig8.violations[0].describe())
fig8.show()"""))

cells.append(md(r"""## Fuzzing and shrinking

A preset is one schedule someone thought of. The **fuzzer** tries many schedules nobody thought of: each
seed picks fault rates (swarm testing: some runs crash a lot, some lose many messages, some partition),
then crashes nodes at any point between their intentions, tears storage writes, loses, duplicates and
reorders messages, and cuts the network — and then stops the faults so that liveness can be checked.
The same seed always gives the same run, so a failing seed is a bug report.

A failing run is long and mostly noise. **Shrinking** removes scheduled faults and requests one at a
time, keeping each removal only if the same invariant still breaks, until nothing more can go (the idea
of delta debugging, Zeller & Hildebrandt, 2002). Here the fuzzer hunts the `no-fencing` bug of Chapter 3:"""))
cells.append(code(r"""from fttoolkit import PrimaryBackup
from fttoolkit.check.fuzz import fuzz
from fttoolkit.scenario import schedule_to_script

report = fuzz(PrimaryBackup, 40, nodes=3, bugs=["no-fencing"], profile="partition", stop_at_first=True)
first = report.failures[0]
print(f"seed {first.seed} broke {first.violations[0].invariant} after {report.schedules} schedules")
print(f"shrunk from {len(first.schedule.actions)} to {len(first.shrunk.actions)} scheduled actions:")
print(schedule_to_script(first.shrunk, ["shrunk by the fuzzer"]).render())"""))
cells.append(md(r"""The same campaign on the correct protocol finds nothing (the course's own figure: 0 violations in 1000
schedules, for every algorithm). From a terminal:
`python -m fttoolkit fuzz primary-backup --seeds 1000` and, to hunt a bug,
`python -m fttoolkit fuzz primary-backup --faults partition --bug no-fencing --save found.txt`."""))
cells.append(code(r"""clean = fuzz(PrimaryBackup, 40, nodes=3, profile="partition")
print("correct protocol:", clean.violations, "violations in", clean.schedules, "schedules")"""))

cells.append(md(r"""## Exhaustive exploration of small configurations

Random search can miss a schedule that needs five precise steps in a row. A **model checker** does not
guess: it visits every reachable state of a finite system, breadth first, checks the invariants in each,
and when one fails it returns a *shortest* path to it. The price is the **state space (状态空间)**, which
grows exponentially with the configuration — so we check small ones. That finds most bugs in practice:
Jackson's *small scope hypothesis* (2006), and Yuan et al. (2014) found that almost all catastrophic
failures in real distributed systems could be reproduced with three nodes or fewer.

`fttoolkit.check.explore` counts states exactly as TLC, the TLA+ model checker, counts them. Here is
Lamport's two-phase commit specification (`TwoPhase.tla`, ported line for line) with three resource
managers:"""))
cells.append(code(r"""from fttoolkit.check.explore import explore, system_for

def build(name, **options):      # a registered system's spec, with the defaults of the options not given
    system = system_for(name)
    return system.factory(**{**{o.keyword: o.default for o in system.options}, **options})

twophase = build("twophase", rm=3)
result = explore(twophase)
print("distinct states:", result.distinct, "| states generated:", result.generated, "| depth:", result.depth,
      "| invariants hold:", result.ok)"""))
cells.append(md(r"""The same figures from TLC itself, for every model the course checks (TLC 2.15, one worker, breadth
first; commands in `tests/data/tlc_figures.md`), side by side with the explorer's, computed now:"""))
cells.append(code(r"""import pathlib, time

rows = []
for line in pathlib.Path("../tests/data/tlc_figures.md").read_text().splitlines():
    cells_ = [c.strip() for c in line.strip("|").split("|")]
    if len(cells_) == 7 and cells_[0].startswith(("twophase", "tcommit", "paxos-spec")) and cells_[3].isdigit():
        rows.append((cells_[0], int(cells_[3]), int(cells_[4]), int(cells_[5])))

def run_command(command):
    words = command.split()
    options = {}
    for name, value in zip(words[1::2], words[2::2]):
        options[name.lstrip("-").replace("-", "_")] = value
    system = system_for(words[0])
    kinds = {o.keyword: o for o in system.options}
    values = {k: (v if kinds[k].type is str else int(v)) for k, v in options.items() if k != "bug"}
    if "bug" in options:
        values["bug"] = (options["bug"],)
    return explore(system.factory(**{**{o.keyword: o.default for o in system.options}, **values}),
                   stop_at_first=False)

print(f"{'model':52} {'TLC distinct':>12} {'ours':>8} {'TLC generated':>13} {'ours':>9} {'depth':>5} {'ours':>4} {'s':>5}")
for command, distinct, generated, depth in rows:
    if "--max-ballot 2" in command:
        continue            # the 185,369-state model takes a few seconds: try it from a terminal
    start = time.perf_counter()
    r = run_command(command)
    print(f"{command:52} {distinct:12,} {r.distinct:8,} {generated:13,} {r.generated:9,} {depth:5} {r.depth:4} "
          f"{time.perf_counter() - start:5.2f}")"""))
cells.append(md(r"""Every row agrees exactly: the same transition system, explored the same way. (From a terminal,
`python -m fttoolkit explore paxos-spec --acceptors 3 --values 2 --max-ballot 2` visits TLC's 185,369
states; `bench/explore_tlc.py` times both: the explorer runs it about ten times faster than TLC here,
thanks to a compact encoding of Paxos' message set.)

How fast does the space grow? Two-phase commit with more resource managers:"""))
cells.append(code(r"""import matplotlib.pyplot as plt

sizes = [2, 3, 4, 5]
counts = [explore(build("twophase", rm=n)).distinct for n in sizes]
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.semilogy(sizes, counts, "o-", color="#0072B2")
for n, c in zip(sizes, counts):
    ax.annotate(f"{c:,}", (n, c), textcoords="offset points", xytext=(6, -12))
ax.set_xlabel("resource managers")
ax.set_ylabel("distinct states (log scale)")
ax.set_title("TwoPhase: the state space grows exponentially")
ax.set_xticks(sizes)
fig.tight_layout()"""))
cells.append(md(r"""When an invariant fails, the explorer prints the shortest run that breaks it. Switch on a bug in the
Paxos specification — an acceptor that votes in a ballot without respecting its promise — and ask for
Agreement (no two values chosen):"""))
cells.append(code(r"""spec = build("paxos-spec", bug=("vote-ignoring-promise",))
found = explore(spec, invariants=["Agreement"])
counterexample = found.violations[0]
print(f"{counterexample.invariant} broken after {len(counterexample) - 1} steps "
      f"({found.distinct:,} states explored):")
for number, (label, _) in enumerate(counterexample.steps):
    print(f"  {number:2}. {label}")
print("the last state:")
print(spec.describe(counterexample.state))"""))
cells.append(md(r"""TLC, given the same buggy specification, reports the same invariant with a trace of the same length
(13 states): the two checkers agree on counterexamples too."""))

cells.append(md(r"""### Exploring the course's own code

The specifications above are models. The same explorer also runs the course's *implementations*: the
very `RaftNode`, `PaxosNode` and `TwoPCNode` classes of the earlier chapters, on a cluster where every
delivery, timer, client request, crash point and restart is a branch. Time is abstracted away — a timer
may fire at any moment and messages arrive in any order — which covers every timed run, so nothing is
lost for safety. Bounds keep it finite (terms, log length, requests, crashes, messages in flight).

The correct Raft passes with terms up to 2 and logs of 2 entries (263,283 states). With the bug
`forget-vote` (a server that forgets, after a crash, whom it voted for in the current term) the explorer
finds the shortest way to two leaders in one term:"""))
cells.append(code(r"""from fttoolkit.doors.exploring import raft_spec, BUG_TABLE

spec = raft_spec(max_term=1, max_log=1, requests=0, crashes=1, in_flight=4, bug=("forget-vote",))
found = explore(spec)
counterexample = found.violations[0]
print(f"{counterexample.invariant} broken after {len(counterexample) - 1} steps ({found.distinct:,} states):")
for number, (label, _) in enumerate(counterexample.steps[1:], 1):
    print(f"  {number}. {label}")"""))
cells.append(md(r"""The counterexample is a scenario script away from the cluster view (`explore raft ... --save FILE` on the
command line does the same):"""))
cells.append(code(r"""script = spec.scenario_script(counterexample)
two_leaders = Raft()
two_leaders.load(script)
print(two_leaders.violations[0].describe())
two_leaders.show()"""))
cells.append(code(r"""print(f"{'system':7} {'bug':22} {'invariant':24} {'states on the path':>18} {'explored':>9}")
for system, bug, bounds, invariant, length, distinct, seconds in BUG_TABLE:
    print(f"{system:7} {bug:22} {invariant:24} {length:18} {distinct:9,}")"""))
cells.append(md(r"""Every safety bug of these three algorithms is found this way, each with a shortest counterexample of 3
to 16 states. Two limits are worth knowing. Raft's `figure8` needs about 19 steps from boot, too deep
for a blind search (some 10⁸ states), so the explorer starts from a scripted prefix that elects the first
two leaders and finds the remaining steps itself. And `fixed-timeout` is invisible without time: it only
changes how long timers wait, so its state graph is identical to the correct one's — the fuzzer's liveness
phase catches it instead."""))
cells.append(md(r"""## Linearizability

Invariants look inside the nodes. A client sees only its own calls and their answers. The strongest
thing it can ask of a replicated object is **linearizability (线性一致性)** (Herlihy & Wing 1990): every
operation seems to take effect at one instant — its **linearization point (线性化点)** — between its call
and its return, and the results are those of a single copy applying the operations in that order.

Checking it is a search: pick an operation that could take effect first (one whose call came before every
other pending operation's return), apply it to a model of the object, and recurse; backtrack when a result
does not match (Wing & Gong 1993). Lowe (2017) made it practical by remembering every (set of operations
done, state of the object) pair already tried. `fttoolkit.check.linearizability` does this for a register
and for a key-value map, and splits a key-value **history (历史)** into one part per key."""))
cells.append(code(r"""from fttoolkit.core.history import Operation
from fttoolkit.check.linearizability import check
from fttoolkit.viz.history import plot_history

history = [
    Operation("c1", "write", None, 1, None, call=0, ret=10),
    Operation("c2", "read", None, None, 1, call=2, ret=6),      # overlaps the write: may see 1
    Operation("c3", "read", None, None, 0, call=12, ret=16),    # after the write returned: must see 1
]
result = check(history, model="register")
print(result.verdict)
print(result.explain())
plot_history(history, result)"""))
cells.append(md(r"""The last read started after the write had returned, so it must see 1; it saw the old value 0. Change
its output to 1 and the history is linearizable, with the points drawn inside each interval:"""))
cells.append(code(r"""fixed = history[:2] + [Operation("c3", "read", None, None, 1, call=12, ret=16)]
fixed_result = check(fixed, model="register")
print(fixed_result.verdict, "in the order", [f"{op.client}:{op.kind}" for op in fixed_result.order[None]])
plot_history(fixed, fixed_result)"""))
cells.append(md(r"""Real histories are longer. Jepsen recorded 103 histories against etcd in 2014, some with operations
whose outcome is unknown (a timeout: the write may or may not have happened, at any time after its call).
The checker decides every one of them; a copy of the files is in `tests/data/oracles/`:"""))
cells.append(code(r"""from fttoolkit.check.linearizability import read_history

root = pathlib.Path("../tests/data/oracles/linearizability")
verdicts = Counter()
start = time.perf_counter()
for path in sorted((root / "jepsen").glob("etcd_*.log")):
    model, ops = read_history(path)
    verdicts[check(ops, model=model).verdict] += 1
print(dict(verdicts), f"in {time.perf_counter() - start:.1f} s")
for path in sorted((root / "kv").glob("c*.txt")):
    model, ops = read_history(path)
    print(f"{path.name:12} {len(ops):5} operations: {check(ops, model=model, timeout_s=30).verdict}")"""))
cells.append(md(r"""From a terminal: `python -m fttoolkit lincheck FILE... --timeout 10` prints one verdict per file.

### The etcd stale read, on the course's Raft

Jepsen's finding (Kingsbury 2014): etcd answered reads from the leader's local state without checking that
it was still the leader. A leader cut off by a partition does not know it has been replaced, so it kept
answering with old values while the new leader accepted writes. Raft's fix (Ongaro's thesis, §6.4,
*ReadIndex*): before answering a read, the leader confirms with a round of heartbeats that a majority
still follows it.

`RaftKV` is a key-value store on the course's Raft, with client sessions (a retried command applies once,
§6.3) and ReadIndex reads; its bug `stale-read` answers from local state. Every history it records is
checked for linearizability as the run goes. The preset cuts the leader off, writes through the new
leader, and reads from the old one:"""))
cells.append(code(r"""from fttoolkit import RaftKV

stale = RaftKV()
stale.load_preset("stale_read")
print(stale.violations[0].describe()[:300])
verdict = stale.check_history()
print("checker:", verdict.verdict)
plot_history(stale.history(), verdict)"""))
cells.append(code(r"""safe = RaftKV()
safe.load_preset("read_index")
verdict = safe.check_history()
print("with ReadIndex:", verdict.verdict, "| violations:", len(safe.violations))
plot_history(safe.history(), verdict)"""))
cells.append(md(r"""With ReadIndex the old leader cannot gather a majority, so its read waits (and the client retries
elsewhere): the history is linearizable. The fuzzer runs the store under every kind of fault and checks
each history (`python -m fttoolkit fuzz raft-kv --seeds 300`: 0 violations; with `--bug stale-read` or
`--bug no-sessions` it finds and shrinks a counterexample)."""))

cells.append(md(r"""## Exercises

`exercises/07_checking.ipynb`:

- **7.1** write an invariant that catches a given bug — graded against the correct protocol (it must
  never fire) and the buggy one (it must fire);
- **7.2** write a scenario script that breaks a buggy protocol — graded by replaying it with and without
  the bug;
- **7.3** decide whether small register histories are linearizable — graded against the course's checker.

## Summary

- Safety: nothing bad ever happens — invariants checked after every step. Liveness: something good
  eventually happens — checked once the faults stop.
- Trust a checker only after seeing it fail: every invariant in the course is shown to catch a named bug.
- Fuzzing finds schedules nobody imagined, and shrinking turns them into short stories.
- Model checking visits every state of a small configuration and returns the shortest counterexample; the
  course's explorer agrees with TLC state for state.
- Linearizability judges a replicated object by what its clients saw; the checker caught the stale read
  that Jepsen found in etcd.
"""))

write(7, cells)
