"""Write notebooks/ from the cells below: Chapter 5 (run: python tools/build_paxos.py).

The chapter is kept as Python source so that its diffs are readable; the notebook is committed
without outputs.  tools/chapters.py appends the closing "Where next" cell.
"""

import pathlib
import sys

from nbformat.v4 import new_markdown_cell as md, new_code_cell as code

cells = []
cells.append(md(r"""# Chapter 5 — Paxos

**Paxos** is the classic **consensus algorithm (共识算法)**. A group of servers must agree on one value:
which command comes next, who holds a lock, whether a transaction commits. Messages may be lost, delayed
or reordered, and servers may crash and restart. Leslie Lamport described Paxos in *The Part-Time
Parliament* (1998), and again, without the allegory, in **"Paxos Made Simple" (2001)**. This chapter
follows the 2001 paper; section numbers like §2.2 refer to it. For **Multi-Paxos** we follow van Renesse
and Altinbuken, *Paxos Made Moderately Complex* (2015).

**You will learn to:**
- state the consensus problem: what must always hold (safety), and what should eventually happen
  (liveness);
- explain why any two majorities share an acceptor, and why that is the whole trick;
- run the two phases by hand: `Prepare`/`Promise`, then `Accept`/`Accepted`;
- see why a proposer must adopt a value that may already be chosen, by switching that rule off;
- watch two proposers duel forever, and learn why no protocol can rule that out (FLP);
- see how Multi-Paxos turns one decision into a replicated log, and how Paxos relates to Raft.

Each section has a live cluster view with a **preset**, a scenario told step by step above the
picture. The table under the picture shows each acceptor's promise and accepted proposal.

*Estimated time: 60 minutes.* Key terms are listed in English and Chinese in the [glossary (术语表)](glossary.md).
"""))
cells.append(md(r"""## What the seed article got wrong

The seed says Paxos starts with an election in which *each node randomly picks a candidate*, who then
starts a vote. Paxos has no such phase. No one is elected, and no one picks anyone at random. Any server
may act as a **proposer (提议者)** at any time. It chooses a **ballot number (提案编号)** higher than any
it has used, and asks the **acceptors (接受者)** to promise to ignore lower ballots. Safety comes from
three things: ballot numbers, the promises, and the rule that a proposer must re-propose any value that
might already be chosen. A leader appears only in Multi-Paxos, and even there it serves liveness, not
safety.

The seed's `Paxos` class is the front door of `fttoolkit`: `fttoolkit.Paxos(nodes=5)` runs single-decree
Paxos, and `fttoolkit.MultiPaxos(nodes=5)` runs the replicated log built from it.
"""))
cells.append(code(r"""import itertools

import matplotlib.pyplot as plt

from fttoolkit import MultiPaxos, Paxos"""))

# ------------------------------------------------------------ the problem
cells.append(md(r"""## The consensus problem

Some servers may **propose (提议)** values, and all servers must **learn (学习)** the single value that
is **chosen (选定)**. Lamport states the requirements (§2.1):

- **Agreement (一致性)**, a safety property: at most one value is chosen, so no two learners learn different
  values;
- **Validity (有效性)**, a safety property: only a value that was proposed can be chosen;
- **Termination (终止性)**, a liveness property: some proposed value is eventually chosen and learned,
  *if* enough servers run and can talk for long enough.

Safety must hold in every run: with crashes, lost messages, any delays. Liveness can only be asked for
once things calm down. As we will see, even then no protocol can promise it outright.

The servers play three roles. A **proposer (提议者)** tries to get a value chosen. An **acceptor (接受者)**
votes. A **learner (学习者)** finds out what was chosen. In `fttoolkit` every node is an acceptor and a
learner, and any node a client asks becomes a proposer for that value.
"""))

# ------------------------------------------------------------ majorities
cells.append(md(r"""## Why majorities intersect

A value is chosen when a **majority (多数派)** of the acceptors has accepted it in the same ballot. Why a
majority? Any two majorities of $n$ acceptors share at least one acceptor, because
$$|Q_1| + |Q_2| \;\ge\; 2\left(\left\lfloor \tfrac{n}{2} \right\rfloor + 1\right) \;>\; n .$$
That shared acceptor is the memory of the system. Whatever one majority did, the next majority includes
someone who saw it. Here it is checked exhaustively for 5 acceptors, and for "quorums" of size 2, which
are not majorities:
"""))
cells.append(code(r"""acceptors = ["n1", "n2", "n3", "n4", "n5"]
for size in (3, 2):
    quorums = list(itertools.combinations(acceptors, size))
    disjoint = [(a, b) for a, b in itertools.combinations(quorums, 2) if not set(a) & set(b)]
    print(f"quorums of {size}: {len(quorums)} of them, {len(disjoint)} pairs share no acceptor"
          + (f", e.g. {disjoint[0]}" if disjoint else ""))"""))
cells.append(md(r"""The bug `minority-quorum` makes proposers settle for $\lfloor n/2 \rfloor$ acceptors. Two
proposers can then reach disjoint quorums and get different values chosen. The fuzzer finds such a run
in a few tries and shrinks it to a short script:
"""))
cells.append(code(r"""from fttoolkit.check.fuzz import fuzz
from fttoolkit.scenario import schedule_to_script

report = fuzz(Paxos, 100, bugs=["minority-quorum"], stop_at_first=True)
found = report.failures[0]
print(f"schedule {found.seed} broke: {found.violations[0].invariant}")
print(schedule_to_script(found.shrunk, ["minority-quorum, shrunk"]).render())"""))

# ------------------------------------------------------------ the two phases
cells.append(md(r"""## The two phases, step by step

A ballot is a pair (round, proposer id), compared round first, so two proposers never share one. We
write it `b2.n3`: round 2 of proposer `n3`.

**Phase 1, prepare (准备阶段)** (§2.2):
- *1a.* The proposer picks a ballot $b$ higher than any it has used, and sends `Prepare(b)` to the
  acceptors.
- *1b.* An acceptor that has promised nothing higher than $b$ **promises (承诺)** never again to accept a
  ballot lower than $b$. It writes the promise to stable storage *before* it replies
  `Promise(b, accepted)`, where `accepted` is the highest-ballot proposal it has accepted so far, if any.
  Otherwise it answers `Nack`.

**Phase 2, accept (接受阶段)**:
- *2a.* With promises from a majority, the proposer picks a value $v$. It must be the value of the
  highest-ballot proposal among those promises; only if none of them carries one may it use its own
  value. It then sends `Accept(b, v)`.
- *2b.* An acceptor that has not promised a higher ballot accepts: it stores $(b, v)$, then replies
  `Accepted(b, v)` to the proposer and the learners.

A learner that hears `Accepted(b, v)` from a majority for the same $b$ knows that $v$ is chosen.

Below, one proposer runs on three nodes, and every message is delivered by hand (`deliver`), so each
step shows on its own line of the trace.
"""))
cells.append(code(r"""cluster = Paxos(nodes=3, seed=1)
cluster.propose("n1", "x")
first = len(cluster.trace)
while cluster.chosen() is None:
    item = next(p for p in cluster.pending() if p.kind in ("message", "intention"))
    if item.kind == "message":
        cluster.deliver(item)
    else:
        cluster.sim.execute(item.node)
for event in cluster.trace[first:]:
    if event.kind in ("sent", "stored", "note"):
        print(event)
print("chosen:", cluster.chosen())"""))
cells.append(code(r"""view = Paxos(nodes=5).show()
view.load_preset("clean_run")
view"""))

# ------------------------------------------------------------ adopt the value
cells.append(md(r"""## Why the proposer must adopt an accepted value

Rule 2a is the heart of Paxos. Suppose a proposer crashed halfway through phase 2: some acceptors
accepted its value $v$, perhaps a majority, so $v$ may be chosen, and nobody knows yet. A second
proposer now runs phase 1 with a higher ballot. Its majority of promises includes at least one acceptor
that accepted $v$: majorities intersect. Rule 2a makes it propose $v$ again, never its own value. By
induction over ballots, once a value is chosen, every higher ballot proposes that same value (§2.2,
invariant P2c).

The preset `partial_accept` tells this story. Load it normally, then with the bug `ignore-promises`,
where a proposer always proposes its own value:
"""))
cells.append(code(r"""for bugs in ([], ["ignore-promises"]):
    run = Paxos(nodes=5).load_preset("partial_accept", bugs)
    broken = sorted({v["invariant"].split(":")[0] for v in run.violations})
    print(f"bugs={bugs}: learned {run.learned()}, invariants broken: {broken or 'none'}")"""))
cells.append(code(r"""view = Paxos(nodes=5).show()
view.load_preset("partial_accept", "ignore-promises")
view"""))

# ------------------------------------------------------------ crashes
cells.append(md(r"""## Crashes and stable storage

Paxos stays safe and live while a majority of acceptors runs. An acceptor that crashes and restarts must
remember two things: its promise and its accepted proposal. It writes them to **stable storage
(稳定存储)** before it answers. Otherwise it could promise ballot 5, crash, restart, and accept ballot 3.
Two different values could then each gather a majority. The preset `acceptor_crash` crashes two of five
acceptors and still reaches a decision. The fuzzer finds the bug `forget-promise` (promises kept in
memory only) by itself:
"""))
cells.append(code(r"""view = Paxos(nodes=5).show()
view.load_preset("acceptor_crash")
view"""))
cells.append(code(r"""report = fuzz(Paxos, 200, bugs=["forget-promise"], profile="crash", stop_at_first=True)
print(f"{report.schedules} schedules tried; broke: "
      f"{report.failures[0].violations[0].invariant if report.failures else 'nothing'}")"""))

# ------------------------------------------------------------ duels and FLP
cells.append(md(r"""## Dueling proposers, and FLP

Safety never depends on timing. Progress does. Two proposers can preempt each other forever. $P_1$
finishes phase 1 with ballot 1; $P_2$ then finishes phase 1 with ballot 2, so the acceptors refuse
$P_1$'s `Accept`. $P_1$ retries with ballot 3, which makes $P_2$'s `Accept` fail, and so on. Nothing
wrong is ever chosen, but nothing is chosen at all. This is a **livelock (活锁)**. Our proposers wait a
**random backoff (随机退避)** before each retry, drawn from their own seeded stream, so sooner or later one
of them finishes both phases while the other waits. Multi-Paxos goes further and lets a single
distinguished proposer, the leader, do all the proposing.
"""))
cells.append(code(r"""view = Paxos(nodes=5).show()
view.load_preset("dueling_proposers")
view"""))
cells.append(md(r"""How long do duels last? A second proposer starts 0 to 29 ticks after the first (a seeded random
offset per run) on a 5-node cluster with 10-tick messages. We count the ballots started before a value is
chosen, for three backoff windows (`backoff_ticks`):
"""))
cells.append(code(r"""import random
import statistics

def duel(seed, backoff, offset):
    c = Paxos(nodes=5, seed=seed, delay=10, backoff_ticks=backoff, check=False)
    c.propose("n1", "a")
    c.propose("n2", "b", at=offset)
    c.run_until(lambda sim: c.chosen() is not None, limit_ticks=50_000)
    ballots = {e["msg"].ballot for e in c.trace if e.kind == "sent" and type(e["msg"]).__name__ == "Prepare"}
    return len(ballots), c.now

offsets = [random.Random(k).randrange(30) for k in range(150)]     # seeded: the same offsets every time
fig, ax = plt.subplots(figsize=(7, 3))
for k, (backoff, colour) in enumerate(((2, "#D55E00"), (10, "#E69F00"), (40, "#0072B2"))):
    results = [duel(seed, backoff, offsets[seed]) for seed in range(150)]
    counts = [b for b, _ in results]
    xs = range(1, max(counts) + 1)
    ax.bar([x - 0.27 + 0.27 * k for x in xs], [counts.count(x) for x in xs], width=0.25, color=colour,
           label=f"backoff_ticks={backoff}")
    print(f"backoff_ticks={backoff:>2}: {statistics.mean(counts):.2f} ballots on average, at most {max(counts)}; "
          f"chosen by t={statistics.mean(t for _, t in results):.0f} on average")
ax.set_xlabel("ballots started before a value was chosen")
ax.set_xticks(range(1, 6))
ax.set_ylabel("runs (of 150)")
ax.set_title("Two proposers, 5 acceptors, randomized backoff")
ax.legend()
plt.show()"""))
cells.append(md(r"""Duels end within a few ballots here, and a wider backoff window ends them sooner. Raising the
message delay or shrinking the window makes them last longer; the preset above needed a 5-tick window to
show a long duel. Randomness makes a long duel unlikely, but never impossible.
"""))
cells.append(md(r"""**FLP in one paragraph.** Fischer, Lynch and Paterson proved in *Impossibility of Distributed
Consensus with One Faulty Process* (1985) that in a fully **asynchronous (异步)** system, where messages
take arbitrarily long and there are no clocks, no *deterministic* protocol can guarantee that consensus
terminates if even one process may crash. The dueling proposers show the shape of the proof. There is
always a schedule of message deliveries that keeps the system undecided. Paxos accepts this. It never
gives up safety, and it makes progress once timing behaves for long enough: one proposer is left alone
long enough to finish (random backoff, a leader, timeouts). That is the usual way out, and Raft takes
it too.
"""))

# ------------------------------------------------------------ multi-paxos
cells.append(md(r"""## Multi-Paxos: a replicated log

To replicate a state machine we need a *sequence* of decisions: one Paxos instance per **slot (槽位)** of
a log (§3). Running both phases for every slot wastes messages. Phase 1 does not depend on the value,
so a **leader (领导者)** runs it once, for all slots at once. Its `Promise` replies carry every slot the
acceptor has accepted. After that, each command costs a single round trip of phase 2: `Accept(ballot,
slot, value)` and `Accepted`. Replicas apply chosen commands **in slot order**. A slot chosen early waits
until every slot before it is chosen.

When the leader fails, another server runs phase 1 with a higher ballot. From the promises it learns,
for every slot, the value with the highest accepted ballot, and proposes it again (rule 2a, slot by
slot). A slot that no acceptor in its majority accepted is a **gap (空洞)**: it fills it with a
**no-op**, so the slots after it can be applied. The preset shows a leader failover; the table has one
column per slot.
"""))
cells.append(code(r"""view = MultiPaxos(nodes=5).show()
view.load_preset("leader_failover")
view"""))
cells.append(code(r"""cluster = MultiPaxos(nodes=5, seed=2)
cluster.run(until=600)
for k in range(20):
    cluster.submit(("put", f"k{k}", k))
cluster.run(until=cluster.now + 1500)
sent = [type(e["msg"]).__name__ for e in cluster.trace if e.kind == "sent"]
print("leader:", cluster.leader(), "| slots chosen:", len(cluster.chosen()))
print({name: sent.count(name) for name in ("Prepare", "Promise", "Accept", "Accepted")})"""))
cells.append(md(r"""Twenty commands, and `Prepare` went out only for the leader's one phase 1. Each command cost one
`Accept` per acceptor, and one `Accepted` back from each.

## How Paxos relates to Raft

Raft (Chapter 6) is a Multi-Paxos-style protocol, designed to be easy to understand. The correspondences:

| | Multi-Paxos | Raft |
|---|---|---|
| leadership number | ballot (round, proposer) | term |
| becoming leader | phase 1 with a higher ballot; promises carry accepted values | `RequestVote`; votes go only to an up-to-date log |
| what a new leader must do | re-propose the highest accepted value of every slot; no-ops in gaps | nothing: its log already holds every committed entry (§5.4.1) |
| holes in the log | allowed; filled later | never: entries are appended in order (Log Matching) |
| commit rule | a majority accepted the slot in one ballot | a majority stores it **and** it is from the current term (Figure 8) |
| membership, snapshots | outside the core algorithm | described in the paper |

In Paxos a leader may hold a log with gaps, and it learns the past from its promises. Raft elects only
a candidate whose log is complete. Raft trades a little flexibility for one strong invariant: a leader
never needs to learn anything from the others.

## Exercises

`exercises/05_paxos.ipynb` asks you to write the acceptor's `Prepare` and `Accept` handlers and the
proposer's choice of value from a set of promises. They run in the simulator under the invariants. A
proposer that ignores the promises fails on the `partial_accept` scenario with a seed you can replay.

## Summary

- Consensus needs Agreement and Validity always, and Termination once things calm down.
- Any two majorities intersect. The acceptor they share carries the past forward.
- Phase 1 gathers promises and learns what may already be chosen. Phase 2 proposes that value, or the
  proposer's own value when nothing was accepted.
- Promises and accepted proposals go to stable storage before the reply.
- Dueling proposers can livelock. FLP says no deterministic protocol avoids that in an asynchronous
  system; randomized backoff and a leader make it unlikely.
- Multi-Paxos runs phase 1 once per leader, then one round trip per command, and fills gaps with no-ops.
"""))


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import write  # noqa: E402

write(5, cells)
