"""Write notebooks/01_concepts.ipynb from the cells below: Chapter 1 (run: python tools/build_concepts.py).

Chapter 1 takes the seed article's section 2 (consistency, availability, scalability, fault tolerance)
and makes each idea concrete with a live experiment and the formulas the seed promised but never gave.
Keeping the chapter as Python source makes its diffs readable; the notebook is committed without
outputs.  tools/chapters.py appends the closing "Where next" cell.

Chapters still being written are named without a link; run this script again once they exist and the
links appear.
"""

import pathlib
import sys

import nbformat as nbf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import ch, write  # noqa: E402

MD, CODE = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell


cells = []
cells.append(MD(r"""# Chapter 1 — Concepts

The seed article opens with four words: **consistency (一致性)**, **availability (可用性)**, **scalability
(可扩展性)** and **fault tolerance (容错性)**. It defines each in one circular sentence ("consistency is
keeping the data consistent") and promises "mathematical model formulas" that never come. This chapter
gives each word a precise meaning, a formula where there is one, and a live experiment on a simulated
cluster that you can rerun and change.

Sources (cited by author and year below):
- Flaviu Cristian, *Understanding Fault-Tolerant Distributed Systems* (1991), for failure models;
- David Gifford, *Weighted Voting for Replicated Data* (1979), and Giuseppe DeCandia et al., *Dynamo:
  Amazon's Highly Available Key-value Store* (2007), for quorums;
- Eric Brewer, *Towards Robust Distributed Systems* (2000); Seth Gilbert and Nancy Lynch, *Brewer's
  Conjecture and the Feasibility of Consistent, Available, Partition-Tolerant Web Services* (2002);
  Daniel Abadi, *Consistency Tradeoffs in Modern Distributed Database System Design* (2012);
- Jim Gray and Daniel Siewiorek, *High-Availability Computer Systems* (1991), for availability;
- David Karger et al., *Consistent Hashing and Random Trees* (1997); Yossi Azar, Andrei Broder, Anna
  Karlin and Eli Upfal, *Balanced Allocations* (1994); Michael Mitzenmacher, *The Power of Two Choices
  in Randomized Load Balancing* (2001);
- Maurice Herlihy and Jeannette Wing, *Linearizability: A Correctness Condition for Concurrent Objects*
  (1990); Leslie Lamport, *How to Make a Multiprocessor Computer That Correctly Executes Multiprocess
  Programs* (1979); Mustaque Ahamad et al., *Causal Memory* (1995); Werner Vogels, *Eventually
  Consistent* (2009);
- Michael Fischer, Nancy Lynch and Michael Paterson, *Impossibility of Distributed Consensus with One
  Faulty Process* (1985).

**You will learn to:**
- name the failure models — crash-stop, crash-recovery, omission, Byzantine — and say what each
  demands of a protocol;
- define consistency, availability, scalability and fault tolerance precisely;
- choose N, R and W for a quorum-replicated store, and predict (then count) its stale reads;
- run CAP live: partition a store and watch it refuse (consistency) or diverge (availability);
- compute availability from MTTF and MTTR, for series, parallel and majority-quorum systems, and check
  the formulas against a cluster with random crashes and repairs;
- spread a distributed cache with consistent hashing and virtual nodes, and balance load with two
  random choices;
- tell linearizable, sequential, causal and eventual consistency apart on small histories;
- state what the FLP impossibility result forbids.

*Estimated time: 75 minutes.* Key terms are listed in English and Chinese in the
[glossary (术语表)](glossary.md). Chapter 0 taught happened-before and logical clocks; this chapter uses
them in the section on causal consistency.
"""))
cells.append(CODE(r"""import math
import random

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from fttoolkit import QuorumStore
from fttoolkit.algorithms.availability import (availability, downtime_minutes_per_year, majority, mttr_for,
                                               nines, parallel, series)
from fttoolkit.algorithms.hashing import HashRing, rebalance_experiment
from fttoolkit.check.linearizability import check
from fttoolkit.core.history import Operation
from fttoolkit.doors.quorum import availability_experiment, cap_experiment, stale_read_experiment
from fttoolkit.viz.history import plot_history

BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"


def table(header, rows):
    '''Show rows as a Markdown table.'''
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    display(Markdown("\n".join(lines)))"""))

# ------------------------------------------------------------------------------------------ seed
cells.append(MD(r"""## What the seed article says, and what is missing

The seed's section 2 lists four core concepts:

| seed | what it says | what is wrong or missing |
|---|---|---|
| 一致性 consistency | "the system keeps the data consistent when failures occur", via primary-backup replication or distributed transactions | circular; says nothing about *which* answers a reader may get. There is a whole range of **consistency models (一致性模型)**, each a precise promise. |
| 可用性 availability | "the system keeps running when failures occur", via failover and load balancing | this is fault tolerance again; availability is a *number*, the fraction of time (or of requests) the service answers |
| 可扩展性 scalability | "the system can be extended as needed", via distributed caches and file systems | no mechanism; the two real ones are **partitioning (分片)** and **replication (复制)** |
| 容错性 fault tolerance | "the system recovers automatically and keeps running", via failure detection and recovery | no statement of *which* faults, or *how many*; a fault-tolerant system is tolerant of a stated **failure model (故障模型)** up to a stated number of faults |

The four ideas do depend on each other, as the seed says, but in specific ways. Replication buys
fault tolerance and availability, and it creates the consistency problem. During a network partition,
consistency and availability cannot both be had (CAP). Partitioning buys scalability, and it turns
every multi-key update into a distributed transaction. The rest of the chapter makes each of these
statements precise and shows it happening.
"""))

# ------------------------------------------------------------------------------------------ failure models
cells.append(MD(rf"""## Failure models

A protocol can only be fault tolerant *with respect to* a **failure model (故障模型)**: a statement of
what a faulty component may do. Cristian (1991) orders them from benign to malicious:

| failure model | a faulty node… | what protocols need | in the course |
|---|---|---|---|
| **crash-stop (崩溃停止)** | halts and never returns | $2f+1$ replicas to survive $f$ crashes with majority quorums; a way to notice the crash | {ch(2)}, {ch(5)} |
| **crash-recovery (崩溃恢复)** | halts, and may restart with its **stable storage (稳定存储)** but without its memory | everything a node promised must be on disk before it answers (Raft's vote and log, 2PC's prepared record, a write-ahead log) | {ch(3)}, {ch(4)}, {ch(6)} |
| **omission fault (遗漏故障)** | (or its link) silently drops some messages | acknowledgements, retransmission, **idempotent (幂等)** handlers; timeouts that tolerate a lost heartbeat | {ch(0)}, {ch(2)} |
| **Byzantine fault (拜占庭故障)** | may do anything: lie, send different values to different nodes | $3f+1$ replicas and quorums of $2f+1$ to survive $f$ liars (Lamport, Shostak & Pease, *The Byzantine Generals Problem*, 1982) | {ch(8)} |

Each model includes the ones above it: a Byzantine node may also crash, and a crash is an omission of
every later message. The network has its own failures: messages are delayed, reordered, duplicated or
lost, and a **network partition (网络分区)** cuts the nodes into groups that cannot talk to each other.

A second axis is *timing*. In a **synchronous system (同步系统)** every message arrives and every step
finishes within a known bound, so a silent node has surely crashed. In an **asynchronous system
(异步系统)** there is no bound, so a crashed node cannot be told apart from a slow one. Real networks are
in between. Dwork, Lynch and Stockmeyer's **partial synchrony (部分同步)** (*Consensus in the Presence of
Partial Synchrony*, 1988) says that bounds exist but are unknown, or hold only eventually. Paxos and
Raft are built for it: always safe, and live once the network behaves (see FLP at the end of this
chapter).

The course's store is built for crash-recovery and omission faults. Below, the same seeded workload of
40 requests runs on a 3-replica `QuorumStore` (majority quorums) under each model, ten seeds each. A
request can be answered, refused (no quorum within the timeout), or get no reply (the client sent it
to a crashed node; a real client would time out and retry elsewhere, as {ch(2)} discusses).
"""))
cells.append(CODE(r"""def one_run(model, seed):
    kv = QuorumStore(n=3, seed=seed, delay=(5, 15), loss=0.2 if model == "omission (20% loss)" else 0.0,
                     check=False)
    kv.workload(until=3000, requests=40)
    if model != "no faults" and not model.startswith("omission"):
        kv.crash("n3", at=500)
    if model == "crash-recovery":
        kv.restart("n3", at=1500)
    if model == "two of three crash":
        kv.crash("n2", at=500)
    kv.run(until=4000)
    status = [r["status"] for r in kv.results()]
    return (status.count("ok"), status.count("refused"), status.count("unreachable"), len(kv.stale_reads()))

rows = []
for model in ("no faults", "crash-stop", "crash-recovery", "omission (20% loss)", "two of three crash"):
    totals = [sum(column) for column in zip(*(one_run(model, seed) for seed in range(10)))]
    rows.append([model, 400, *totals])
table(["failure model", "requests", "answered", "refused", "no reply", "stale reads"], rows)"""))
cells.append(MD(rf"""What to notice:

- **Crash-stop:** one replica of three down costs nothing but the requests sent to it: the other two
  are still a majority.
- **Crash-recovery:** `n3` comes back at tick 1500 with its disk, catches up by read repair, and serves
  again.
- **Omission:** lost messages make some requests miss their quorum in time; the store *refuses* them
  rather than guess. Nothing wrong is ever returned.
- **Two of three crash:** no majority is left. Requests are refused (or go unanswered) until the
  replicas return. That is the price of consistency, and the subject of CAP below.
- In every row the store returned **no stale read**: a crash or a lost message never makes it lie.
  That holds only as long as the faults stay inside its failure model. One Byzantine replica that
  claims a huge version number would win every read. Tolerating that needs $3f+1$ replicas, as in
  {ch(8)}.

## The four properties, defined

| property | definition | measured by | shown in |
|---|---|---|---|
| **consistency (一致性)** | a contract between a replicated store and its clients about which values a read may return; the strongest, **linearizability (线性一致性)**, makes the replicas look like one copy | whether a history satisfies the model (a checker) | [quorums](#Replication-and-quorums), [CAP](#CAP-live), [consistency models](#Consistency-models); {ch(5)}, {ch(6)}, {ch(7)} |
| **availability (可用性)** | the long-run fraction of time (or of requests) the service answers correctly; Gilbert & Lynch: every request to a non-failed node gets an answer | $A = \mathrm{{MTTF}}/(\mathrm{{MTTF}}+\mathrm{{MTTR}})$, "nines", downtime per year | [availability mathematics](#Availability-mathematics); {ch(3)} |
| **scalability (可扩展性)** | serving more load (more data, more requests) by adding machines, with throughput growing about in proportion and response time staying flat | throughput per machine, load imbalance, data moved when machines join | [scalability](#Scalability); {ch(8)} |
| **fault tolerance (容错性)** | meeting the specification — safety always, liveness when the stated conditions hold — despite up to $f$ faults of a stated failure model | $f$, and the failure model | every chapter; detection in {ch(2)}, recovery in {ch(3)} |

Note the word "consistency" means other things elsewhere. In ACID transactions ({ch(4)}) it means
that a transaction keeps the application's invariants. In consensus ({ch(5)}) the property that all
nodes decide the same value is called *agreement*. Here it is always about replicas and reads.
"""))

# ------------------------------------------------------------------------------------------ quorums
cells.append(MD(r"""## Replication and quorums

A **replica (副本)** is one copy of the data. Keeping $N$ replicas of every key survives crashes, but
waiting for all $N$ on every request would make one slow or crashed replica stop the whole store.
Gifford (1979) showed that it is enough to read from $R$ replicas and write to $W$. A **quorum
(法定人数)** is such a set of replicas. Each copy carries a version, and a read keeps the newest version
among the $R$ copies it collects.

`QuorumStore(n, r, w)` is such a store, as Dynamo runs it (DeCandia et al. 2007): any node can
coordinate a request. A put first reads the versions of $R$ replicas, picks a higher version, writes it
to $W$ replicas, and only then answers. A get collects $R$ copies, returns the newest, and sends it to
the replicas that answered with an older one (**read repair (读修复)**).

**Read–write intersection.** A read quorum and a write quorum share at least $R + W - N$ replicas. So
when

$$R + W > N$$

every read quorum contains at least one replica that holds the latest completed write, and the read
returns it (or something newer). When $R + W \le N$, a read can land entirely on replicas that the
write has not reached yet: a **stale read (陈旧读)**.

**Write–write intersection.** Two write quorums share a replica when

$$2W > N .$$

Two writes then never complete on disjoint sets of replicas: some replica sees both and orders them.
Consensus protocols rely on the same fact for their decisions.

**Majorities.** With $N = 2f + 1$ replicas and $R = W = f + 1$, a **majority (多数派)**, both conditions
hold ($2f + 2 > 2f + 1$), and any $f$ replicas may crash: $f + 1$ are left, still a quorum. In general
reads survive $N - R$ crashes and writes survive $N - W$. $R = 1, W = N$ gives fast reads and fragile
writes; $R = N, W = 1$ the opposite.

First, a stale read in slow motion. The preset `stale_read` runs $N = 3$, $R = W = 1$. Press **Play**
in the view. It stops at each line of the story above the picture.
"""))
cells.append(CODE(r"""view = QuorumStore().show()
view.load_preset("stale_read")
view"""))
cells.append(MD(r"""The same scenario with $R = W = 2$ is the preset `quorum_read`. The read now asks two replicas, and
any two of the three include one that holds the write. The link `n1`–`n3` is slow on purpose, so `n3`
lags behind, but the read through `n3` still returns the new value.
"""))
cells.append(CODE(r"""view = QuorumStore().show()
view.load_preset("quorum_read")
view"""))
cells.append(MD(r"""### Counting stale reads

`stale_read_experiment(n, r, w)` repeats *write, wait, read*: a writer puts a fresh value through a
random node; once the put is acknowledged and `after_ticks` more ticks have passed, a reader gets the
key through a random node. Every message takes a random delay of 1–30 ticks, and there are no faults.
A read is stale when it misses the value just written. (The read starts at least one tick after the
write's answer: at the same tick the two would count as concurrent, and then either value is allowed.)

Here is every $(R, W)$ for $N = 3$ and $N = 5$, 60 reads each. The black staircase separates
$R + W \le N$ (lower left) from $R + W > N$.
"""))
cells.append(CODE(r"""runs = {(n, r, w): stale_read_experiment(n, r, w, seeds=range(2), trials=30)
        for n in (3, 5) for r in range(1, n + 1) for w in range(1, n + 1)}
grids = {n: [[runs[n, r, w]["stale_fraction"] for w in range(1, n + 1)] for r in range(1, n + 1)] for n in (3, 5)}

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 5]})
for ax, n in zip(axes, (3, 5)):
    image = ax.imshow(grids[n], cmap="Oranges", vmin=0, vmax=0.8)
    for r in range(1, n + 1):
        for w in range(1, n + 1):
            value = grids[n][r - 1][w - 1]
            ax.text(w - 1, r - 1, f"{100 * value:.0f}%", ha="center", va="center", fontsize=10,
                    color="white" if value > 0.45 else "black")
    xs, ys = [], []
    for r in range(1, n + 1):            # the boundary between R + W = N and R + W = N + 1
        xs += [n - r - 0.5, n - r - 0.5]
        ys += [r - 1.5, r - 0.5]
    ax.plot(xs, ys, color="black", linewidth=2.5)
    ax.set_xticks(range(n), range(1, n + 1))
    ax.set_yticks(range(n), range(1, n + 1))
    ax.set_xlabel("W (write quorum)")
    ax.set_ylabel("R (read quorum)")
    ax.set_title(f"N = {n}: stale reads (of 60 per cell)")
fig.colorbar(image, ax=axes, shrink=0.8, label="fraction of reads that were stale")
plt.show()
for n in (3, 5):
    safe = [run for (m, r, w), run in runs.items() if m == n and r + w > n]
    print(f"N = {n}: {len(safe)} configurations with R + W > N, {sum(run['reads'] for run in safe)} reads, "
          f"{sum(run['stale'] for run in safe)} stale")"""))
cells.append(MD(r"""Every configuration above the staircase has no stale read at all. Below it, stale reads are common
when $R = W = 1$ and rare when $R + W = N$: the read then misses the write only if it lands on exactly
the replicas the write had not reached yet.

How long does a write stay invisible? Sweep the wait between the write's answer and the read. Bailis et
al. (*Probabilistically Bounded Staleness for Practical Partial Quorums*, 2012) call this
**t-visibility**: the probability that a read $t$ after a write still misses it.
"""))
cells.append(CODE(r"""waits = [1, 5, 10, 15, 20, 30, 40]
configs = [(3, 1, 1, BLUE, "o"), (5, 1, 1, VERMILLION, "s"), (5, 2, 2, PURPLE, "D"), (3, 2, 2, GREEN, "v")]
fig, ax = plt.subplots(figsize=(8, 3.8))
for n, r, w, colour, marker in configs:
    stale = [stale_read_experiment(n, r, w, seeds=range(2), trials=30, after_ticks=t)["stale_fraction"]
             for t in waits]
    kind = "R + W > N" if r + w > n else "R + W <= N"
    ax.plot(waits, stale, marker=marker, color=colour, label=f"N={n}, R={r}, W={w} ({kind})")
ax.set_xlabel("ticks between the write's answer and the read (message delays: 1-30 ticks)")
ax.set_ylabel("fraction of reads that were stale")
ax.set_title("How long a completed write stays invisible")
ax.set_ylim(-0.03, 0.8)
ax.legend(fontsize=9)
plt.show()"""))
cells.append(MD(r"""With $R + W \le N$ the store is **eventually consistent (最终一致性)**: once the last message of the
write has arrived (30 ticks at most here, with no faults), every read sees it. Before that, a read is a gamble.
With $R + W > N$ the curve is flat at zero from the first tick.
"""))

# ------------------------------------------------------------------------------------------ CAP
cells.append(MD(r"""## CAP live

Brewer (2000) conjectured that a distributed service cannot be at once **C**onsistent, **A**vailable and
**P**artition tolerant. Gilbert and Lynch (2002) made it a theorem. In an asynchronous network that can
lose messages, no read/write register guarantees both **linearizability** (C) and that *every request
to a node that has not crashed gets an answer* (A). The argument fits in two lines. Cut the network in
two. A write on one side cannot reach the other side, so a read on the other side either waits or
refuses (it gives up A), or it answers with the old value (it gives up C).

So the **CAP theorem (CAP 定理)** is a choice made *during* a partition. Without one, a store can have
both. `QuorumStore` offers the two choices as `mode`:

- `mode="cp"`: a request without a quorum within `timeout_ticks` is **refused**. Only the side with a
  majority can answer.
- `mode="ap"`: the coordinator answers with whatever replicas it reached (a *sloppy quorum*, Dynamo
  §4.6). Both sides answer. Their writes conflict, and when the partition heals, **last writer wins
  (最后写入者胜出)** keeps one of them. The other write is lost, although its client was told it
  succeeded.

The two presets tell the story step by step on five replicas cut into $\{n1, n2\}$ and
$\{n3, n4, n5\}$. First consistency:
"""))
cells.append(CODE(r"""view = QuorumStore().show()
view.load_preset("cap_consistency")
view"""))
cells.append(MD(r"""Then availability, on the same partition:"""))
cells.append(CODE(r"""view = QuorumStore().show()
view.load_preset("cap_availability")
view"""))
cells.append(MD(r"""Now measure it. `cap_experiment(mode)` splits five replicas into a minority of two and a majority of
three, sends ten requests to each side (puts and gets, alternately), heals, and then reads every key
through every node. Five seeds per mode:
"""))
cells.append(CODE(r"""runs = {mode: [cap_experiment(mode, n=5, seed=seed) for seed in range(5)] for mode in ("cp", "ap")}

def total(mode, *path):
    out = 0
    for run in runs[mode]:
        value = run
        for step in path:
            value = value[step]
        out += value
    return out

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
bars = [(mode, side) for mode in ("cp", "ap") for side in ("minority", "majority")]
x = range(len(bars))
answered = [total(mode, "sides", side, "answered") for mode, side in bars]
refused = [total(mode, "sides", side, "refused") for mode, side in bars]
left.bar(x, answered, color=GREEN, label="answered")
left.bar(x, refused, bottom=answered, color=VERMILLION, hatch="//", label="refused")
left.set_xticks(list(x), [f"{side}\n(mode {mode})" for mode, side in bars])
left.set_ylabel("requests during the partition (of 50)")
left.set_title("What each side of the partition answers")
left.legend(loc="upper right", fontsize=9, framealpha=1)
left.set_ylim(0, 62)

what = ["conflicts", "lost_writes", "stale_reads"]
names = ["conflicting\nwrite pairs", "acknowledged\nwrites lost", "stale\nreads"]
for k, (mode, colour) in enumerate((("cp", BLUE), ("ap", ORANGE))):
    values = [total(mode, w) for w in what]
    positions = [j + (k - 0.5) * 0.38 for j in range(len(what))]
    right.bar(positions, values, width=0.38, color=colour, label=f"mode {mode}")
    for p, v in zip(positions, values):
        right.text(p, v + 0.5, str(v), ha="center", fontsize=9)
right.set_xticks(range(len(what)), names)
right.set_ylabel("count over 5 runs")
right.set_ylim(0, 1.15 * max(total("ap", w) for w in what))
right.set_title("The price of answering on both sides")
right.legend(fontsize=9)
plt.show()

for mode in ("cp", "ap"):
    latency = [run["sides"]["minority"]["mean_latency_ticks"] for run in runs[mode]]
    latency = [t for t in latency if t is not None]
    shown = f"{sum(latency) / len(latency):.0f} ticks" if latency else "nothing answered"
    converged = all(run["converged"] for run in runs[mode])
    print(f"mode {mode}: minority side's mean latency {shown}; replicas converged after healing: {converged}")"""))
cells.append(MD(r"""In `cp` mode the minority side refused everything and nothing went wrong. In `ap` mode both sides
answered, at a price. Writes conflicted, some acknowledged writes were silently lost, and some reads
were stale. The replicas converged once the partition healed, so the store was eventually consistent,
but never linearizable. Note also the minority's latency in `ap` mode: it answers only after its
quorum timeouts expire (`timeout_ticks` = 100 per phase: one phase for a get, two for a put), waiting
for replicas that cannot answer.

**PACELC** (Abadi 2012) completes the picture in one sentence. If there is a **P**artition, choose
**A**vailability or **C**onsistency; **E**lse, choose **L**atency or **C**onsistency. Even with no
partition, a smaller $R$ or $W$ answers sooner and risks stale reads, as the grid above showed. {ch8}
measures that latency across continents.
""".replace("{ch8}", ch(8))))

# ------------------------------------------------------------------------------------------ availability
cells.append(MD(r"""## Availability mathematics

A component runs, fails, is repaired, and runs again. Call the mean up time the **mean time to failure
(平均无故障时间)** (MTTF), and the mean down time the **mean time to repair (平均修复时间)** (MTTR). Over a
long time it is up a fraction

$$A = \frac{\mathrm{MTTF}}{\mathrm{MTTF} + \mathrm{MTTR}}$$

of the time (Gray & Siewiorek 1991). Availability is quoted in **nines (几个九)**: $A = 0.999$ is "three
nines", and $k$ nines means $1 - A = 10^{-k}$. Each nine cuts the expected **downtime (停机时间)** per
year, $(1 - A) \times 525\,960$ minutes, by ten:
"""))
cells.append(CODE(r"""def duration(minutes):
    if minutes > 2 * 24 * 60:
        return f"{minutes / 60 / 24:.1f} days"
    return f"{minutes / 60:.1f} hours" if minutes > 120 else f"{minutes:.1f} minutes"

rows = []
for a in (0.9, 0.99, 0.999, 0.9999, 0.99999):
    minutes = downtime_minutes_per_year(a)
    rows.append([f"{100 * a:g}%", f"{nines(a):g}", duration(minutes), duration(minutes / 12)])
table(["availability", "nines", "downtime per year", "per month"], rows)
print("A component failing every 1000 hours and repaired in 1 hour:", round(availability(1000, 1), 5),
      f"({nines(availability(1000, 1)):.2f} nines)")"""))
cells.append(MD(r"""### Systems of components

**Everything below assumes that components fail independently (独立故障).** Real failures are often
**correlated (相关故障)**: a shared power supply, a rack switch, one bad software release deployed
everywhere, an operator's mistake. Then these formulas are upper bounds for redundant systems, and
often far too optimistic.

With component availabilities $A_1, \dots, A_n$:

- **in series (串联)**, every component is needed: $\quad A = \prod_i A_i$;
- **in parallel (并联)**, one working component is enough: $\quad A = 1 - \prod_i (1 - A_i)$;
- a **majority quorum** of $n$ replicas, each up with probability $A$, is available when more than
  $n/2$ of them are up:

$$A_{\text{maj}}(n) = \sum_{k > n/2} \binom{n}{k} A^k (1 - A)^{n-k} .$$

A small web service as an example: a load balancer (99.99%), two application servers in parallel
(99% each), and one database (99.9%), all in series:
"""))
cells.append(CODE(r"""lb, app, db = 0.9999, 0.99, 0.999
service = series(lb, parallel(app, app), db)
print(f"two app servers in parallel: {parallel(app, app):.6f}")
print(f"the whole service:           {service:.6f} ({nines(service):.2f} nines, "
      f"{downtime_minutes_per_year(service) / 60:.1f} hours down a year)")
print(f"with a 3-replica majority database instead: {series(lb, parallel(app, app), majority(3, db)):.6f}")
rack = 0.9995
print(f"... but all three in one rack that is up {rack}: {series(lb, parallel(app, app), rack, majority(3, db)):.6f}")"""))
cells.append(MD(r"""The database is the weakest link of the chain, so replicating it helps most. The last line shows a
correlated failure: once the three replicas share a rack, the rack's own availability caps the whole
chain.

Now plot a majority of $n$ replicas against the availability $A$ of one replica. Note the crossing at
$A = 0.5$. Below it, more replicas make things *worse*, because a majority is then unlikely to be up.
The right panel shows unavailability on log scales. Near $A = 1$ a majority of $2f + 1$ is down only
when $f + 1$ replicas are down at once, so its unavailability falls like $(1 - A)^{f+1}$: every two
extra replicas add roughly one more factor of $(1 - A)$.
"""))
cells.append(CODE(r"""ns = [(1, "black", "-"), (3, BLUE, "-"), (5, ORANGE, "--"), (7, GREEN, "-.")]
grid = [0.5 + 0.5 * k / 200 for k in range(201)]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for n, colour, style in ns:
    left.plot(grid, [majority(n, a) for a in grid], color=colour, linestyle=style, label=f"n = {n}")
left.set_xlabel("availability A of one replica")
left.set_ylabel("availability of a majority")
left.set_title("Majority quorum of n independent replicas")
left.legend(loc="lower right")

down = [10 ** (-3 + 2.7 * k / 100) for k in range(101)]        # per-replica unavailability 0.001 .. 0.5
for n, colour, style in ns:
    right.loglog(down, [max(1 - majority(n, 1 - u), 1e-16) for u in down], color=colour, linestyle=style,
                 label=f"n = {n}")
right.set_xlabel("unavailability 1 - A of one replica")
right.set_ylabel("unavailability of a majority")
right.set_title("The same, on log scales")
right.set_ylim(1e-12, 1)
right.legend(loc="lower right")
plt.show()"""))
cells.append(MD(r"""### Checking the formula on a cluster that crashes

`availability_experiment(n, mttf_ticks, mttr_ticks, until_ticks, seed)` runs a `QuorumStore` of $n$
replicas in which each replica stays up for an exponentially distributed time (mean MTTF), then stays
down for an exponentially distributed time (mean MTTR), independently of the others. Meanwhile a
client sends a request every 250 ticks. It measures the fraction of time a majority was up, with a
standard error from 20 batches, and the fraction of requests answered. Here MTTF = 900 and MTTR = 100
ticks ($A = 0.9$), then MTTF = 700 and MTTR = 300 ($A = 0.7$), over 200 000 ticks: 200 failures per
replica for $A = 0.9$, and two hundred thousand simulated ticks per run:
"""))
cells.append(CODE(r"""measured = {}
rows = []
for mttf, mttr in ((900, 100), (700, 300)):
    a = availability(mttf, mttr)
    for n in (1, 3, 5):
        run = availability_experiment(n, mttf_ticks=mttf, mttr_ticks=mttr, until_ticks=200_000, seed=n)
        measured[(a, n)] = run
        rows.append([f"{a:.1f}", n, f"{majority(n, a):.4f}", f"{run['node_up_fraction']:.3f}",
                     f"{majority(n, run['node_up_fraction']):.4f}",
                     f"**{run['majority_up_fraction']:.4f}** ± {run['majority_up_stderr']:.4f}",
                     f"{run['success_fraction']:.4f} ± {run['success_stderr']:.4f}"])
table(["A", "n", "majority up: formula", "one replica up: measured", "formula at the measured A",
       "majority up: measured", "requests answered"], rows)"""))
cells.append(MD(r"""The measured time with a majority up agrees with the formula within about two standard errors
(the "±" column). Most of the difference comes from the replicas themselves: in a finite run a replica
is up a little more or less than $A$ of the time. The majority formula evaluated at the *measured* $A$
is closer still. The requests answered are a little lower, by roughly the chance that the
coordinator crashes while a request is in flight: a request takes about 10 ticks and a replica fails
every 900 on average, so about 1% of requests lose their coordinator. The same points on the curve:
"""))
cells.append(CODE(r"""fig, ax = plt.subplots(figsize=(7, 3.8))
fine = [0.6 + 0.4 * k / 100 for k in range(101)]
for shift, (n, colour, style) in zip((-0.006, 0, 0.006), ns[:3]):   # shifted a little, to keep the bars apart
    ax.plot(fine, [majority(n, a) for a in fine], color=colour, linestyle=style, label=f"formula, n = {n}")
    points = [(a, run) for (a, m), run in measured.items() if m == n]
    ax.errorbar([a + shift for a, _ in points], [run["majority_up_fraction"] for _, run in points],
                yerr=[2 * run["majority_up_stderr"] for _, run in points], fmt="o", color=colour,
                capsize=4, markersize=5)
ax.plot([], [], "o", color="grey", label="simulated (± 2 standard errors)")
ax.set_xlabel("availability A of one replica")
ax.set_ylabel("fraction of time a majority is up")
ax.set_title("Formula against a simulated cluster")
ax.legend(fontsize=9)
plt.show()"""))
cells.append(MD(r"""### Repair time matters as much as failure rate

$A = \mathrm{MTTF}/(\mathrm{MTTF} + \mathrm{MTTR})$ depends only on the ratio of the two times. Halving the
repair time buys as much as doubling the time between failures, and repair is usually the part an
engineer can change. Fast detection and fast recovery shrink MTTR. That is the subject of {ch2} and
{ch3}. (Twelve nines in the plot below is what the formula says, not what anyone gets: at that level
correlated failures dominate.)
""".replace("{ch2}", ch(2)).replace("{ch3}", ch(3))))
cells.append(CODE(r"""mttf_hours = 2000
for target in (0.999, 0.9999, 0.99999):
    print(f"one server failing every {mttf_hours} h must be repaired within {60 * mttr_for(target, mttf_hours):7.1f} "
          f"minutes for {100 * target:g}%")
repairs = [0.1 * 1.25 ** k for k in range(31)]
fig, ax = plt.subplots(figsize=(7, 3.6))
for n, colour, style in ns[:3]:
    ax.semilogx(repairs, [nines(majority(n, availability(mttf_hours, m))) for m in repairs], color=colour,
                linestyle=style, label=f"majority of {n}")
ax.set_xlabel(f"MTTR (hours), MTTF = {mttf_hours} hours")
ax.set_ylabel("nines of availability")
ax.set_title("Faster repair adds nines, and more so with replicas")
ax.legend()
plt.show()"""))

# ------------------------------------------------------------------------------------------ scalability
cells.append(MD(r"""## Scalability

There are two ways to spread work over more machines, and real systems use both:

| | **partitioning (分片)** | **replication (复制)** |
|---|---|---|
| each machine holds | a part of the data | all of it (of its partition) |
| scales | data size and write throughput | read throughput |
| fault tolerance | none by itself: a lost partition is lost | yes: $f$ crashes with $2f + 1$ replicas |
| costs | multi-partition updates need distributed transactions ({ch4}) | keeping replicas consistent (this chapter) |

### Consistent hashing for a distributed cache

A **distributed cache (分布式缓存)** spreads its keys over $n$ servers. The obvious rule, **modulo hashing
(取模哈希)**, puts key $k$ on server $\mathrm{hash}(k) \bmod n$. It is balanced, but when $n$ changes almost
every key moves: on a join, a key stays only if $\mathrm{hash}(k) \bmod n = \mathrm{hash}(k) \bmod (n+1)$,
about $1/(n+1)$ of them. For a cache, that means almost every lookup misses at once.

**Consistent hashing (一致性哈希)** (Karger et al. 1997) puts servers and keys on one circle of hash values.
A key belongs to the first server point clockwise from it. A joining server takes keys only from its
neighbours, about $1/(n+1)$ of all keys, and a leaving server hands only its own keys to them. With one
point per server the arcs are very uneven, so each server gets many **virtual nodes (虚拟节点)**: $v$
points each. A server's share is then a sum of $v$ random arcs, and its spread shrinks like
$1/\sqrt{v}$ (Dynamo §4.2 and §6.2 does exactly this).

Four servers on the ring, with 1 and with 8 virtual nodes each:
""".replace("{ch4}", ch(4))))
cells.append(CODE(r"""colours = {"n1": BLUE, "n2": ORANGE, "n3": GREEN, "n4": PURPLE}
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), subplot_kw={"projection": "polar"})
for ax, v in zip(axes, (1, 8)):
    ring = HashRing(list(colours), vnodes=v)
    points = ring.points()
    previous = points[-1][0] - 1
    for position, node, _ in points:       # each point owns the arc from the previous point up to it
        start, end = 2 * math.pi * previous, 2 * math.pi * position
        ax.bar((start + end) / 2, 1, width=end - start, bottom=0.6, color=colours[node], edgecolor="white",
               linewidth=0.5)
        ax.plot([end, end], [0.55, 1.65], color="black", linewidth=0.8)
        previous = position
    shares = ring.ownership()
    for node in colours:
        ax.bar(0, 0, color=colours[node], label=f"{node}: {100 * shares[node]:.0f}% of the ring")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_ylim(0, 1.7)
    ax.set_title(f"{v} virtual node{'s' * (v > 1)} per server", pad=12)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=2, fontsize=9, frameon=False)
plt.show()"""))
cells.append(MD(r"""Eight points per server are not yet enough: the shares still range from 16% to 35%. Now measure it
with `rebalance_experiment`: ten servers, 4000 keys, three independent rings per setting (averaged). The **load imbalance** is the busiest server's load over the mean load (1.0 is perfect).
"Moved" is the fraction of keys whose server changes when an eleventh server joins, or when the first
one leaves:
"""))
cells.append(CODE(r"""vnode_counts = [1, 2, 5, 10, 20, 50, 100, 200]
rows = rebalance_experiment(n_nodes=10, vnodes=vnode_counts, keys=4000, trials=3)
ring_rows = [r for r in rows if r["scheme"] == "ring"]
modulo_row = next(r for r in rows if r["scheme"] == "modulo")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.semilogx(vnode_counts, [r["imbalance"] for r in ring_rows], "o-", color=BLUE, label="consistent hashing")
left.axhline(modulo_row["imbalance"], color=VERMILLION, linestyle="--", label="modulo hashing")
left.axhline(1, color="grey", linewidth=0.8)
left.set_xlabel("virtual nodes per server")
left.set_ylabel("max load / mean load")
left.set_title("Balance: 10 servers, 4000 keys")
left.legend()

right.semilogx(vnode_counts, [r["moved_join"] for r in ring_rows], "o-", color=BLUE, label="ring: a server joins")
right.semilogx(vnode_counts, [r["moved_leave"] for r in ring_rows], "s-", color=SKY, label="ring: a server leaves")
right.axhline(modulo_row["moved_join"], color=VERMILLION, linestyle="--", label="modulo: a server joins")
right.axhline(modulo_row["moved_leave"], color=ORANGE, linestyle=":", label="modulo: a server leaves")
right.text(200, modulo_row["moved_join"] - 0.06, "n/(n+1) and (n-1)/n", fontsize=9, ha="right")
right.axhline(1 / 11, color="black", linewidth=0.8)
right.text(200, 1 / 11 + 0.03, "1/(n+1)", fontsize=9, ha="right")
right.set_xlabel("virtual nodes per server")
right.set_ylabel("fraction of keys moved")
right.set_ylim(0, 1.05)
right.set_title("Keys moved when the membership changes")
right.legend(fontsize=8, loc="center left")
plt.show()
hundred = ring_rows[vnode_counts.index(100)]
print(f"modulo hashing: {modulo_row['moved_join']:.0%} of keys move on a join (theory {modulo_row['expected_join']:.0%}); "
      f"ring with 100 vnodes: {hundred['moved_join']:.1%} (theory {hundred['expected_join']:.1%})")
print("imbalance:", ", ".join(f"{r['vnodes']} vnodes {r['imbalance']:.2f}" for r in ring_rows),
      f"| modulo {modulo_row['imbalance']:.2f}")"""))
cells.append(MD(r"""With one point per server the busiest server holds about twice its share. A hundred virtual nodes
bring that down to about 1.2 times, two hundred a little lower. Even modulo hashing, which splits the
hash space exactly, shows about 1.07: that is the sampling noise of 4000 random keys. A ring always moves
about $1/(n+1)$ of the keys on a join; modulo hashing moves about $n/(n+1)$ of them, and almost the
whole cache is cold at once.

### Load balancing

**Load balancing (负载均衡)** spreads *requests* (not keys) over servers that can all serve them. Four
classic policies:

- **round robin (轮询)**: server 1, 2, …, n, 1, 2, … Perfect for equal requests from one dispatcher, but
  blind to how busy each server really is;
- **least loaded (最小负载)**: send to the server with the fewest requests. Best in theory, but it needs
  fresh global knowledge. Many dispatchers acting on stale load figures all pick the same "least loaded"
  server at once and overload it (herding);
- **random**: no state at all, but unlucky. With $n$ requests on $n$ servers the busiest gets about
  $\ln n / \ln \ln n$ of them;
- **power of two choices (两个随机选择)**: pick two servers at random and send to the less loaded one.
  The busiest server then gets only about $\ln \ln n / \ln 2 + O(1)$ (Azar, Broder, Karlin & Upfal
  1994; Mitzenmacher 2001): an exponential improvement for one extra probe.

A seeded simulation of $n$ requests on $n$ servers, five trials for each $n$:
"""))
cells.append(CODE(r"""def max_load(n, choices, rng):
    load = [0] * n
    for _ in range(n):
        picks = [rng.randrange(n) for _ in range(choices)]
        best = min(picks, key=lambda s: load[s])
        load[best] += 1
    return max(load)

sizes = [10, 30, 100, 300, 1000, 3000, 10000]
rng = random.Random(2024)
one = [sum(max_load(n, 1, rng) for _ in range(5)) / 5 for n in sizes]
two = [sum(max_load(n, 2, rng) for _ in range(5)) / 5 for n in sizes]

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.semilogx(sizes, one, "o-", color=VERMILLION, label="random (one choice): measured")
ax.semilogx(sizes, [math.log(n) / math.log(math.log(n)) for n in sizes], ":", color=VERMILLION,
            label="ln n / ln ln n")
ax.semilogx(sizes, two, "s-", color=BLUE, label="power of two choices: measured")
ax.semilogx(sizes, [math.log(math.log(n)) / math.log(2) for n in sizes], ":", color=BLUE,
            label="ln ln n / ln 2")
ax.axhline(1, color=GREEN, linestyle="--", label="round robin / least loaded (equal requests)")
ax.set_xlabel("servers n (and requests: n)")
ax.set_ylabel("requests on the busiest server")
ax.set_title("Max load: n requests on n servers (mean of 5 trials)")
ax.set_ylim(0, 8)
ax.legend(fontsize=8, loc="upper left")
plt.show()
print("n = 10000: random", one[-1], " two choices", two[-1])"""))
cells.append(MD(r"""The theory curves give the growth rate, not the constant, so they sit a little off the measured
points. The shapes are the lesson: the random curve keeps climbing, while two choices stays nearly
flat.
"""))

# ------------------------------------------------------------------------------------------ consistency models
cells.append(MD(r"""## Consistency models

A **consistency model (一致性模型)** says which **histories (历史)** a store may produce. A history is what
clients saw: each operation's call time, return time and answer. Each model below asks the same
question with a different constraint: *is there one order of the operations in which every read returns
the latest write before it, and which respects …?*

| model | the order must respect | source |
|---|---|---|
| **linearizable (线性一致)** | real time: an operation that returned before another was called comes first | Herlihy & Wing 1990 |
| **sequential consistency (顺序一致性)** | each client's own order only; one order for everybody | Lamport 1979 |
| **causal consistency (因果一致性)** | happened-before only; each client may see *concurrent* writes in its own order | Ahamad et al. 1995 |
| **eventual consistency (最终一致性)** | nothing, except that replicas agree once writes stop | Vogels 2009 |

Each model allows everything the one above it allows, and more. The examples below are histories of
one **register (寄存器)**, with `write(v)` and `read→v` (`nil` is the value before any write). Each bar
spans an operation from its call to its return. `check` (Wing & Gong's search, from {ch7}) decides
linearizability. The two small functions below decide the other two models by trying every order, which
is fine for a handful of operations.
""".replace("{ch7}", ch(7))))
cells.append(CODE(r"""def legal_order(ops, before):
    '''An order of ops that respects `before` (pairs (a, b): a first) in which each read returns the
    latest write before it; None if there is none.  Depth-first search over the orders.'''
    def extend(order, current, left):
        if not left:
            return order
        for op in left:
            if any((a, op) in before for a in left):
                continue                                    # something that must come first is still left
            if op.kind == "read" and op.output != current:
                continue                                    # this read cannot come here
            found = extend(order + [op], op.value if op.kind == "write" else current, [o for o in left if o is not op])
            if found is not None:
                return found
        return None
    return extend([], None, list(ops))

def program_order(history):
    return {(a, b) for a in history for b in history if a.client == b.client and a.call < b.call}

def sequential(history):
    '''One order for all clients, respecting each client's own order.'''
    return legal_order(history, program_order(history))

def causal(history):
    '''Each client's own order of all writes and its own reads, respecting happened-before: program order,
    plus "a read comes after the write it read from", closed transitively.'''
    before = program_order(history)
    writer = {op.value: op for op in history if op.kind == "write"}
    before |= {(writer[op.output], op) for op in history if op.kind == "read" and op.output in writer}
    while True:                                             # transitive closure
        more = {(a, d) for (a, b) in before for (c, d) in before if b is c} - before
        if not more:
            break
        before |= more
    orders = {}
    for client in sorted({op.client for op in history}):
        mine = [op for op in history if op.kind == "write" or op.client == client]
        orders[client] = legal_order(mine, before)
        if orders[client] is None:
            return None
    return orders

def verdicts(history):
    return {"linearizable": check(history, model="register").verdict == "linearizable",
            "sequential": sequential(history) is not None, "causal": causal(history) is not None}

def W(client, value, call, ret):
    return Operation(client, "write", None, value, None, call, ret)

def R(client, output, call, ret):
    return Operation(client, "read", None, None, output, call, ret)"""))
cells.append(MD(r"""### Linearizable

`c1` writes 1 over a long interval. `c3` reads `nil` and `c2` reads 1 while the write is in progress,
and `c2` reads 1 again afterwards. Both early reads overlap the write, so each may fall on either side
of it. The dots are linearization points (one instant inside each bar), joined in order: the history
behaves like a single copy.
"""))
cells.append(CODE(r"""linearizable_history = [W("c1", 1, 0, 10), R("c3", None, 1, 4), R("c2", 1, 3, 6), R("c2", 1, 11, 13)]
result = check(linearizable_history, model="register")
print(result.explain())
display(plot_history(linearizable_history, result))"""))
cells.append(MD(r"""**Is the quorum store linearizable when $R + W > N$?** No, though it has no stale reads. Each get
returns the value of the last put that completed before it, or of a put still in progress. That makes
each key a *regular* register (Lamport, *On Interprocess Communication*, 1986). But two gets *in
sequence*, both during a slow put, may see the new value and then the old one. Read repair sends the
new value on but does not wait for it. Here is that case on five replicas with $R = W = 3$, with slow
links set by hand: the put of 2 reaches only `n1` and `n2` for a long time.
"""))
cells.append(CODE(r"""kv = QuorumStore(n=5, seed=1, delay=10, timeout_ticks=1000)
for far in ("n3", "n4", "n5"):
    kv.set_link("n1", far, delay=100)         # n1's messages to n3, n4, n5 are slow
    kv.set_link("n2", far, delay=30)
kv.put("x", 1, via="n3", client="c1")        # x = 1 everywhere by tick 300
kv.put("x", 2, via="n1", client="c1", at=300)  # slow: its Writes to n3..n5 take 100 ticks
kv.get("x", via="n2", client="c2", at=520)     # reads n2 and n1 (new) and one old copy: returns 2 at 580
kv.get("x", via="n5", client="c3", at=581)     # reads n5, n3, n4 before any repair arrives: returns 1
kv.run()
result = check(kv.history(), model="kv")
print(result.explain())
print("stale reads (a read that missed a put completed before it began):", len(kv.stale_reads()))
display(plot_history(kv.history(), result))"""))
cells.append(MD(r"""Linearizability fails: after `c2` read 2, `c3` read 1. Yet there is no stale read, because the put
of 2 had not completed when `c3` began. Attiya, Bar-Noy and Dolev's algorithm (*Sharing Memory Robustly
in Message-Passing Systems*, 1995) closes the gap: before answering, a read *writes back* the value it
returns to a write quorum. A linearizable store built on consensus comes in {ch6} (the `raft-kv` door).

### Sequential but not linearizable

`c1` writes 1, then 2. Later, `c2` reads 1, then 2: it lags behind, as a client reading from an
asynchronous **replica** would. No order respecting real time exists, since the read of 1 starts after
the write of 2 has returned. But the order `write 1, read→1, write 2, read→2` respects each client's own
order, so the history is sequentially consistent.
""".replace("{ch6}", ch(6))))
cells.append(CODE(r"""sequential_history = [W("c1", 1, 0, 3), W("c1", 2, 4, 7), R("c2", 1, 9, 11), R("c2", 2, 12, 14)]
print(verdicts(sequential_history))
print("one order for everybody:", [f"{op.client}:{op.kind}" + (f"({op.value})" if op.kind == "write" else f"->{op.output}")
                                  for op in sequential(sequential_history)])
display(plot_history(sequential_history, check(sequential_history, model="register")))"""))
cells.append(MD(r"""In red, the linearizability checker's view: the open dots are the longest prefix it could order, and
the outlined read cannot come next.

### Causal but not sequential

`c1` writes 1 and `c2` writes 2 at the same time. Neither write **happened before (先发生于)** the other
(Chapter 0): they are **concurrent (并发)**. `c3` reads 1 then 2; `c4` reads 2 then 1. Sequential
consistency needs *one* order of the two writes for everybody, and there is none. Causal consistency
lets every client order concurrent writes its own way.
"""))
cells.append(CODE(r"""causal_history = [W("c1", 1, 0, 2), W("c2", 2, 0, 2),
                  R("c3", 1, 4, 6), R("c3", 2, 7, 9), R("c4", 2, 4, 6), R("c4", 1, 7, 9)]
print(verdicts(causal_history))
for client, order in causal(causal_history).items():
    if client in ("c3", "c4"):
        print(f"{client} sees the writes in the order", [op.value for op in order if op.kind == "write"])
display(plot_history(causal_history, check(causal_history, model="register")))"""))
cells.append(MD(r"""For contrast, a history that is not even causal. `c2` reads 1 and *then* writes 2, so the write of 1
happened before the write of 2. Anyone who sees 2 must not see 1 after it, yet `c3` does.
"""))
cells.append(CODE(r"""not_causal = [W("c1", 1, 0, 2), R("c2", 1, 3, 5), W("c2", 2, 6, 8), R("c3", 2, 9, 11), R("c3", 1, 12, 14)]
print(verdicts(not_causal))"""))
cells.append(MD(r"""### Eventual

Eventual consistency promises only that replicas *converge* once writes stop; in between, reads may
return anything that was written. The `ap` store under a partition is the example. Here is the history
of the `cap_availability` preset, seen above in the view:
"""))
cells.append(CODE(r"""kv = QuorumStore().load_preset("cap_availability")
result = check(kv.history(), model="kv")
print(result.explain())
print("stale reads:", len(kv.stale_reads()), "  acknowledged writes lost:", [r["value"] for r in kv.lost_writes()])
print("replicas at the end:", {node: copy[1] for node, copy in kv.replicas("x").items()})
display(plot_history(kv.history(), result))"""))
cells.append(MD(r"""All five replicas hold the same value at the end, so the store converged. It is eventually consistent.
On the way it served a stale read and lost an acknowledged write, so it is nowhere near linearizable.
Dynamo keeps both conflicting versions (with vector clocks, Chapter 0) and lets the application merge
them, instead of silently keeping the last writer.

## FLP: why consensus can stall

Every strong guarantee above (linearizable writes, a single order of updates, failover without split
brain) comes down to **consensus (共识)**: nodes agreeing on one value. Fischer, Lynch and Paterson
(*Impossibility of Distributed Consensus with One Faulty Process*, 1985) proved the **FLP impossibility
(FLP 不可能性)**. In an asynchronous system where even one process may crash, no deterministic protocol
can guarantee that every correct process eventually decides while agreement and validity always hold.
The reason is the one met under failure models: a crashed process cannot be told apart from a slow
one, so there is always a run in which the protocol waits forever or must risk disagreeing. FLP does
not make consensus useless. Paxos and Raft keep **safety (安全性)** always and guarantee **liveness
(活性)** only when the network behaves for long enough (partial synchrony), using timeouts and
randomization. {ch5} shows the shape of FLP's argument: two dueling proposers that keep pre-empting
each other, and could do so forever.

## Exercises

[`exercises/01_concepts.ipynb`](../exercises/01_concepts.ipynb) has three graded exercises on this
chapter:

- **1.1 Availability:** write `availability`, `series`, `parallel` and `majority`, and compare them with
  the formulas above;
- **1.2 A quorum checker:** given N, R and W, say whether reads see the latest write, whether writes
  intersect, and how many crashes reads and writes survive;
- **1.3 A consistent-hashing ring:** build a ring with virtual nodes, and measure its balance and the
  keys that move on a join and a leave.

Each is checked as soon as you run its `check(...)` cell.

## Summary

- Fault tolerance is always relative to a failure model (crash-stop, crash-recovery, omission,
  Byzantine) and a number of faults $f$. Majorities of $2f + 1$ survive $f$ crashes; $3f + 1$ replicas
  are needed for $f$ Byzantine ones.
- Quorums: $R + W > N$ means no stale reads, $2W > N$ means writes intersect. Smaller quorums are faster
  and only eventually consistent.
- CAP: during a partition a store refuses (C) or diverges (A). PACELC: otherwise it trades latency for
  consistency.
- $A = \mathrm{MTTF}/(\mathrm{MTTF}+\mathrm{MTTR})$; series multiply availabilities, parallel multiply
  unavailabilities, and a majority of $n$ is a binomial tail. All of this assumes independent failures.
- Consistent hashing with virtual nodes moves about $1/(n+1)$ of the keys on a join and balances load.
  Two random choices cut the maximum load from $\ln n/\ln\ln n$ to $\ln\ln n/\ln 2$.
- Linearizable ⊂ sequential ⊂ causal ⊂ eventual: each model allows more histories than the one before.
- FLP: consensus in an asynchronous system can be safe always, but live only when the network behaves.
""".replace("{ch5}", ch(5))))

write(1, cells)
