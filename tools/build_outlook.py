"""Write notebooks/08_outlook_faq.ipynb from the cells below (run: python tools/build_outlook.py).

Chapter 8 answers the seed article's section 5 (future trends: scale, performance, security and
privacy) and section 6 (its five FAQ questions) properly, with live demos.  Keeping the chapter as
Python source makes its diffs readable; the notebook is committed without outputs.

Chapters still being written are named without a link; run this script again once they exist and
the links appear.
"""

import pathlib
import sys

import nbformat as nbf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import ch, write  # noqa: E402

MD, CODE = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell


cells = [
    MD(f"""# Chapter 8 — Outlook and FAQ

The seed article ends with two sections that stay vague. Its section 5, on future trends, says that
systems grow, that performance and availability demands rise, and that security and privacy matter
more, and stops there. Its section 6, an FAQ, asks five good questions and answers each with the same
sentence: "they are closely related". This chapter gives the answers the questions deserve, with
numbers, formulas and live runs.

*Estimated time: 45 minutes.*

**You will learn to:**
- estimate the round-trip time between two regions from the speed of light in fibre, and the commit
  latency of a consensus group spread over regions; state PACELC;
- explain what batching buys a leader-based protocol, and which read paths avoid a round of consensus;
- say what a **Byzantine fault (拜占庭故障)** is, and derive why tolerating $f$ of them takes
  $3f+1$ replicas;
- follow PBFT's three phases on a live cluster whose primary lies, and watch quorums that are too
  small let honest replicas disagree;
- answer the seed's five questions — fault tolerance and consistency, distributed transactions,
  failure detection, failure recovery, and the methods — each with the chapter and demo that shows it.

Terms in Chinese are in the [glossary (术语表)](glossary.md). Chapters this one builds on:
{ch(1)}, {ch(2)}, {ch(3)}, {ch(4)}, {ch(5)}, {ch(6)} and {ch(7)}."""),
    CODE("""import math

import matplotlib.pyplot as plt

from fttoolkit import ByzantineAgreement, DistributedTransaction, FailureDetection, Raft, ThreePhaseCommit
from fttoolkit.algorithms.pbft import max_faulty, quorum_size"""),

    # ------------------------------------------------------------------ trend 1: scale
    MD(f"""## Trend 1: scale

### Partitioning and replication

A system grows past one machine in two ways, and real systems use both.

- **Partitioning (分片)** splits the data: each server holds some of the keys. It adds capacity, but
  not fault tolerance: the keys of a crashed server are unavailable until it returns.
- **Replication (复制)** copies each partition to several servers. It adds fault tolerance and read
  capacity, and brings in everything this course is about: keeping the copies consistent.

Which server holds a key? With `hash(key) mod n`, going from $n$ to $n+1$ servers moves a key unless
its hash has the same remainder modulo $n$ and $n+1$, so a fraction $\\frac{{n}}{{n+1}}$ of all keys move.
**Consistent hashing (一致性哈希)** (Karger et al., *Consistent Hashing and Random Trees*, 1997) places
servers and keys on a ring; a new server takes keys only from its neighbours, about $\\frac{{1}}{{n+1}}$
of them. **Virtual nodes (虚拟节点)** — many ring positions per server — even out the load.
{ch(1)} measures both, and has the exercise on a ring with virtual nodes."""),
    MD(r"""### Geo-replication and the speed of light

**Geo-replication (异地复制)** puts replicas in several regions, so that a whole data centre can fail
(power, fibre cut, a fire, an operator's mistake) without losing data or service. The price is
**latency (延迟)**. Light in optical fibre travels at about $c/1.47 \approx 204$ km per millisecond, and
cables do not follow great circles, so the **round-trip time (往返时延)** between two places at distance
$d$ obeys

$$\mathrm{RTT} \;\ge\; \frac{2d}{c / n_{\text{fibre}}} \;\approx\; \frac{d}{102\ \text{km/ms}} .$$

Here is that lower bound between nine places where cloud regions sit (great-circle distances from
their coordinates). Measured round trips are larger, often by half or more, because of cable routes,
routers and queues, but no engineering removes this floor."""),
    CODE("""PLACES = {"Virginia": (39.04, -77.49), "Oregon": (45.84, -119.70), "Sao Paulo": (-23.55, -46.63),
          "London": (51.51, -0.13), "Frankfurt": (50.11, 8.68), "Mumbai": (19.08, 72.88),
          "Singapore": (1.35, 103.82), "Tokyo": (35.68, 139.69), "Sydney": (-33.87, 151.21)}
FIBRE_KM_PER_MS = 299_792.458 / 1.468 / 1000          # light in glass: about 204 km per ms


def distance_km(a, b):
    # great-circle distance (haversine formula) on a sphere of radius 6371 km
    (lat1, lon1), (lat2, lon2) = (map(math.radians, PLACES[a]), map(math.radians, PLACES[b]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def rtt_ms(a, b):
    return 2 * distance_km(a, b) / FIBRE_KM_PER_MS


names = list(PLACES)
rtt = [[rtt_ms(a, b) for b in names] for a in names]
fig, ax = plt.subplots(figsize=(7.2, 5.6))
ax.imshow(rtt, cmap="YlOrRd")
ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
ax.set_yticks(range(len(names)), names)
for i in range(len(names)):
    for j in range(len(names)):
        ax.text(j, i, f"{rtt[i][j]:.0f}", ha="center", va="center", fontsize=9,
                color="white" if rtt[i][j] > 120 else "black")
ax.set_title("Lower bound on the round-trip time (ms), light in fibre")
fig.tight_layout()
plt.show()"""),
    MD(r"""### Consensus across regions

A leader-based consensus protocol (Multi-Paxos, Raft) commits a command once a **majority (多数派)**
stores it. The leader counts itself, so with $n$ replicas it waits for the $\lfloor n/2 \rfloor$
fastest acknowledgements: the commit latency seen by a client next to the leader is

$$T_{\text{commit}} \;\approx\; \mathrm{RTT}_{(\lfloor n/2 \rfloor)} \quad\text{(the } \lfloor n/2\rfloor\text{-th smallest RTT from the leader to the others),}$$

plus one more round trip for a client far from the leader. The live check below spreads a five-server
Raft group over Virginia, Oregon, London, Frankfurt and Tokyo, sets every link's one-way delay to half
the fibre round trip (1 tick = 1 ms), makes each region the leader in turn, and times one command from
submission to commitment."""),
    CODE("""GROUP = ["Virginia", "Oregon", "London", "Frankfurt", "Tokyo"]


def formula_commit_ms(leader, group=GROUP):
    others = sorted(rtt_ms(leader, b) for b in group if b != leader)
    return others[len(group) // 2 - 1]


def measured_commit_ms(leader, group=GROUP):
    ids = {place: f"n{k}" for k, place in enumerate(group, start=1)}
    cluster = Raft(nodes=len(group), seed=1, election_ticks=1500, heartbeat_ticks=200, check=False)
    for k, a in enumerate(group):
        for b in group[k + 1:]:
            cluster.set_link(ids[a], ids[b], delay=round(rtt_ms(a, b) / 2))
    cluster.campaign(ids[leader])
    node = cluster.nodes[ids[leader]]
    cluster.run_until(lambda sim: node.role == "leader" and node.commit_index >= 1, limit_ticks=20_000)
    start = cluster.now
    index = cluster.submit(("put", "x", 1), to=ids[leader]).index
    cluster.run_until(lambda sim: node.commit_index >= index, limit_ticks=20_000)
    return cluster.now - start


measured = [measured_commit_ms(p) for p in GROUP]
predicted = [formula_commit_ms(p) for p in GROUP]
fig, ax = plt.subplots(figsize=(7.5, 3.2))
x = range(len(GROUP))
ax.bar([k - 0.2 for k in x], measured, width=0.4, color="#0072B2", label="measured in the simulator")
ax.bar([k + 0.2 for k in x], predicted, width=0.4, color="#E69F00", label="formula: 2nd smallest RTT")
ax.set_xticks(list(x), [f"leader in\\n{p}" for p in GROUP])
ax.set_ylabel("commit latency (ms)")
ax.set_title("One Raft command, 5 replicas in 5 regions")
ax.legend(loc="upper left", fontsize=9)
fig.tight_layout()
plt.show()
for place, m, p in zip(GROUP, measured, predicted):
    print(f"leader in {place:>9}: measured {m:3d} ms, formula {p:5.1f} ms")"""),
    MD(r"""The best placement costs 58 ms per write, every write, even though nothing failed — a hundred
times a round trip inside one data centre. That is why geo-replicated systems work hard on
placement: they put the leader (or each partition's leader) near its users and the majority in
nearby regions, use protocols with no single leader such as EPaxos (Moraru, Andersen & Kaminsky,
*There Is More Consensus in Egalitarian Parliaments*, 2013), or keep consensus inside one region
and copy data to the others asynchronously, which loses the last writes when a region fails.

**PACELC (Abadi, *Consistency Tradeoffs in Modern Distributed Database System Design*, 2012).**
CAP speaks only of partitions. Abadi adds the everyday case: *if* there is a **P**artition, choose
**A**vailability or **C**onsistency; **E**lse, choose **L**atency or **C**onsistency. A
geo-replicated Raft group is PC/EC: it refuses service on the minority side of a partition, and it
pays the cross-region round trip on every write even when the network is fine. A store that answers
from the nearest replica and reconciles later is PA/EL. The partition half is shown live in
""" + ch(1) + r"""; the latency half is the chart above."""),

    # ------------------------------------------------------------------ trend 2: performance
    MD(r"""## Trend 2: performance

### Batching and pipelining

One round of consensus costs a round trip whether it carries one command or a hundred. A leader that
sends each follower one `AppendEntries` at a time and waits for its answer before sending the next
(stop-and-wait) commits at most $b$ commands per round trip, where $b$ is the largest **batch
(批处理)** it puts in one message:

$$\text{throughput} \;\le\; \frac{b}{\mathrm{RTT}} .$$

The course's Raft works exactly this way, with `max_batch` = $b$. We measure it between two regions
100 ms apart (3 servers, 50 ms each way): 48 client commands arrive within 48 ms; the first goes out
alone, the rest in batches, so all are committed after $\left(1 + \lceil 47/b \rceil\right)$ round trips."""),
    CODE("""def batch_throughput(max_batch, one_way_ms=50, commands=48):
    cluster = Raft(nodes=3, seed=1, delay=one_way_ms, election_ticks=1000, heartbeat_ticks=100,
                   max_batch=max_batch, check=False)
    cluster.campaign("n1")
    leader = cluster.nodes["n1"]
    cluster.run_until(lambda sim: leader.role == "leader" and leader.commit_index >= 1, limit_ticks=10_000)
    start, base = cluster.now, leader.last_index
    for k in range(commands):
        cluster.submit(("put", "k", k), to="n1", at=start + k)        # one command per ms
    cluster.run_until(lambda sim: leader.commit_index >= base + commands, limit_ticks=100_000)
    return 1000 * commands / (cluster.now - start)                    # commands per second


batches = [1, 2, 4, 8, 16, 32, 64]
rates = [batch_throughput(b) for b in batches]
exact = [1000 * 48 / ((1 + math.ceil(47 / b)) * 100) for b in batches]
fig, ax = plt.subplots(figsize=(7, 3.4))
ax.plot(batches, rates, "o", color="#0072B2", markersize=8, label="measured in the simulator")
ax.plot(batches, exact, "-", color="#E69F00", label="48 / ((1 + ceil(47/b)) RTT)")
ax.plot(batches, [1000 * b / 100 for b in batches], "--", color="grey", label="bound b / RTT")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xticks(batches, [str(b) for b in batches])
ax.set_xlabel("max_batch b (commands per AppendEntries)")
ax.set_ylabel("commands per second")
ax.set_title("Batching: RTT = 100 ms, 3 Raft servers")
ax.legend(fontsize=9)
fig.tight_layout()
plt.show()
for b, r in zip(batches, rates):
    print(f"max_batch {b:2d}: {r:6.1f} commands/s")"""),
    MD(r"""Real systems combine batching with **pipelining (流水线)**: the leader sends the next batch
before the previous one is acknowledged, keeping $w$ batches in flight, so the bound becomes
$w\,b/\mathrm{RTT}$ until the leader's network card, disk or CPU saturates. Both raise throughput;
neither lowers the latency of one command, which stays at one majority round trip (plus the forced
log write on each replica, **forced write (强制写入)**, which group commit batches the same way:
one disk flush for many records).

### Read paths and leases

A read must also be linearizable, or a client may read a value older than one it already saw. Three
ways to read from a Raft group (Ongaro, *Consensus: Bridging Theory and Practice*, 2014, §6.4):

| read path | cost | what it relies on |
|---|---|---|
| through the log, like a write | one majority round trip and a log write | nothing more |
| *ReadIndex*: the leader (once it has committed an entry of its term) notes its commit index, confirms it still leads with one heartbeat round, then answers | one majority round trip, no log write | nothing more |
| **lease (租约)** read: the leader answers at once while its lease lasts | none | bounded **clock drift (时钟漂移)**: followers promise not to elect anyone else before the lease ends |

Leases (Gray & Cheriton, *Leases: An Efficient Fault-Tolerant Mechanism for Distributed File Cache
Consistency*, 1989) trade a timing assumption for speed: if a clock runs faster than assumed, two
leaders may serve reads at once. """ + ch(6) + r""" shows the log and its commit rule;
""" + ch(3) + r""" shows leases and epochs in primary-backup replication."""),

    # ------------------------------------------------------------------ trend 3: security
    MD(r"""## Trend 3: security and privacy — Byzantine faults

### A failure model with liars

Every protocol so far assumed that a faulty node *stops* (crash-stop), perhaps comes back
(crash-recovery), or loses messages (omission). A **Byzantine fault (拜占庭故障)** is any behaviour
at all: a node that sends different things to different peers, claims to have voted when it did not,
or forges a log. The name comes from Lamport, Shostak & Pease, *The Byzantine Generals Problem*
(1982). Bugs, corrupted memory, a compromised machine or a hostile participant (in a blockchain)
behave this way.

Crash-tolerant protocols are not safe against it. In Raft a single node that grants two votes in one
term can elect two leaders; a leader that sends different entries to different followers splits the
log. What stops liars is the same idea as before — quorums that intersect — pushed one step further.

### Why $3f+1$

Suppose $n$ replicas, of which up to $f$ may be Byzantine, and each step waits for a **quorum
(法定人数)** of $q$ replicas.

1. *Liveness*: the $f$ faulty replicas may stay silent, so a quorum must be reachable without them:
   $q \le n - f$.
2. *Safety*: two quorums $Q_1, Q_2$ share at least $|Q_1| + |Q_2| - n = 2q - n$ replicas. Up to $f$ of
   those may lie to both sides, so for one **honest** replica to sit in every intersection — one that
   never vouches for two conflicting values — we need $2q - n \ge f + 1$.

Put the two together: $2(n - f) - n \ge f + 1$, that is

$$n \;\ge\; 3f + 1, \qquad\text{and with } n = 3f+1:\quad q = 2f + 1 .$$

In general $q = \left\lceil \frac{n+f+1}{2} \right\rceil$. Compare crash faults, where the
intersection only has to be non-empty: $2q - n \ge 1$ and $q \le n - f$ give $n \ge 2f + 1$ with
majorities. So the table: tolerate one fault with 3 replicas if they can only crash, with 4 if they
can lie. With unforgeable signatures and a synchronous network fewer replicas can do, but as soon as
message delays are unbounded, $3f+1$ is needed even with signatures (Dwork, Lynch & Stockmeyer,
*Consensus in the Presence of Partial Synchrony*, 1988)."""),
    CODE("""for n in (4, 5, 7, 10):
    f, q = max_faulty(n), quorum_size(n)
    print(f"n = {n:2d}: f = {f}, quorum q = {q}, two quorums share >= 2q - n = {2 * q - n} "
          f"(>= f + 1 = {f + 1}); with quorums of f + 1 = {f + 1} they share >= {max(0, 2 * (f + 1) - n)}")"""),
    MD(r"""### PBFT in brief

**Practical Byzantine Fault Tolerance (实用拜占庭容错)** (Castro & Liskov, *Practical Byzantine
Fault Tolerance*, OSDI 1999) was the first Byzantine state machine replication protocol fast enough
for real services. In a **view (视图)** $v$ one replica is the primary; the others are backups. For
each client request $m$ with **digest (摘要)** $d = D(m)$:

| phase | who sends | what | a replica moves on when it holds |
|---|---|---|---|
| **pre-prepare (预准备)** | the primary | `PrePrepare(v, n, d, m)`: request $m$ gets sequence number $n$ | the PrePrepare, if it accepted no other digest for $(v, n)$ |
| **prepare** | every backup | `Prepare(v, n, d)` to all | the PrePrepare and $2f$ matching Prepares: it is *prepared* |
| **commit** | every prepared replica | `Commit(v, n, d)` to all | $2f+1$ matching Commits: it executes $m$ and replies |

The client accepts a result when $f + 1$ replicas reply with it: at least one of them is honest. Being
*prepared* is the key step. Two honest replicas prepared at $(v, n)$ each gathered $2f+1$ replicas
(the primary's PrePrepare and $2f$ Prepares) vouching for their digest; these two quorums share an
honest replica, which sent one Prepare only. So the digests are equal: the invariant **Prepared
agreement**. The commit phase then makes sure that a request one honest replica executes is prepared
at a quorum, which carries it across view changes; our checker also checks **Agreement**: no two honest replicas execute different requests at the same
$(v, n)$.

`fttoolkit.ByzantineAgreement` runs this normal case in one view (the code is
`fttoolkit/algorithms/pbft.py`). The parameter `byzantine` names the faulty replicas and what they do:
`equivocate` (tell different replicas different things), `lie` (vote for a forged request) or
`silent`. The faulty replicas collude: they tell the honest replicas in one half the true request and
the other half a forged one, `x'`. It leaves out the **view change (视图切换)** that replaces a faulty
or silent primary (§4.4 of the paper), checkpoints and garbage collection (§4.3), and message
authentication (channels are assumed authenticated). A silent primary therefore stops everything here,
as the preset `silent_primary` shows; in PBFT the backups' timers would start a view change.

First the normal case, no faults: three message delays from PrePrepare to execution."""),
    CODE("""view = ByzantineAgreement(nodes=4).show()
view.load_preset("clean_run")
view"""),
    MD(r"""### An equivocating primary

Now the primary `n1` is Byzantine and **equivocates (双面行为)**: it assigns sequence number 1 to the
request `x` in its PrePrepare to `n2` and `n3`, and to `x'` in its PrePrepare to `n4`, and backs each
story with a Commit. Press **Play**, and watch the table: `n2` and `n3` each gather $2f = 2$ matching
Prepares for `x` and commit it; `n4` holds one Prepare for `x'` (its own) and two for `x`, and is never
prepared. One replica is left behind — a view change and state transfer would fix that — but no two
honest replicas disagree."""),
    CODE("""view = ByzantineAgreement(nodes=4).show()
view.load_preset("equivocating_primary")
view"""),
    CODE("""run = ByzantineAgreement(nodes=4).load_preset("equivocating_primary")
print("phases:           ", run.phases())
print("values committed: ", run.committed_values())
print("client accepts:   ", run.result(), "(f + 1 =", run.f + 1, "matching replies)")
print("broken invariants:", sorted({v["invariant"].split(":")[0] for v in run.violations}) or "none")"""),
    MD(r"""### Quorums that are too small

The bug `small-quorum` makes every quorum $f + 1 = 2$ replicas instead of $2f + 1 = 3$: a replica is
prepared with one matching Prepare (its own), and commits with two Commits. In a cluster of four, two
such quorums can share just one replica — the liar. Same preset, bug switched on: `n4` prepares `x'` on
its own word and commits it with the primary's Commit, while `n2` and `n3` commit `x`. Both invariants
break at $t = 10$, and Play stops there."""),
    CODE("""view = ByzantineAgreement(nodes=4).show()
view.load_preset("equivocating_primary", "small-quorum")
view"""),
    CODE("""run = ByzantineAgreement(nodes=4).load_preset("equivocating_primary", "small-quorum")
print("values committed:", run.committed_values())
for event in run.violations:
    print(f"t={event.tick}: {event['invariant'].split(':')[0]} — {event['detail']}")"""),
    MD(r"""The other way to break it is to break the assumption instead of the protocol: two liars among
four replicas, when $3f+1 = 4$ tolerates one. The preset `too_many_faulty` has `n1` and `n2` tell `n3`
one story and `n4` the other: the two quorums of 3 overlap in exactly the two liars, and the correct
protocol lets `n3` commit `x` and `n4` commit `x'`.

A small experiment makes the point for every case at once: all 12 ways one of four replicas can
misbehave, all 54 ways two can, and the 12 single faults again with small quorums."""),
    CODE("""BEHAVIOURS = ["equivocate", "lie", "silent"]


def disagrees(byzantine, bugs=()):
    cluster = ByzantineAgreement(nodes=4, seed=1, delay=(5, 30), byzantine=byzantine, bugs=bugs)
    cluster.submit("x")
    cluster.run(until=300)
    return bool(cluster.violations)


ids = ["n1", "n2", "n3", "n4"]
singles = [f"{a}:{how}" for a in ids for how in BEHAVIOURS]
pairs = [f"{a}:{h1},{b}:{h2}" for i, a in enumerate(ids) for b in ids[i + 1:] for h1 in BEHAVIOURS
         for h2 in BEHAVIOURS]
for title, configs, bugs in [("1 faulty of 4 (f = 1)", singles, ()), ("2 faulty of 4 (too many)", pairs, ()),
                             ("1 faulty of 4, small-quorum bug", singles, ("small-quorum",))]:
    broken = [c for c in configs if disagrees(c, bugs)]
    print(f"{title:>32}: honest replicas disagree in {len(broken):2d} of {len(configs)} configurations",
          "" if not broken else "(" + "; ".join(broken) + ")")"""),
    MD(r"""Within $f$, safety holds whatever the liars do and however messages are delayed. Beyond $f$, or with
small quorums, it *can* break, and the checkers catch every run where it does; here it takes an
equivocating primary backed by a second equivocating replica (or, with small quorums, the primary
alone). Two liars that tell different stories — one equivocating, one voting for `x'` everywhere —
do not split the honest replicas in these runs: exceeding $f$ removes the guarantee, it does not make
every run fail.

### The price

Byzantine tolerance costs replicas and messages. Every replica talks to every other in the prepare
and commit phases, so one request costs $(n-1) + (n-1)^2 + n(n-1) = 2n(n-1)$ messages, against about
$2(n-1)$ for a crash-tolerant leader (one `AppendEntries` and one reply per follower). The left plot
counts the messages of live PBFT runs."""),
    CODE("""def pbft_messages(n):
    cluster = ByzantineAgreement(nodes=n, seed=1, delay=10, check=False)
    cluster.submit("x")
    cluster.run(until=200)
    return sum(1 for e in cluster.trace if e.kind == "sent")


sizes = [4, 7, 10, 13, 16]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
left.plot(sizes, [pbft_messages(n) for n in sizes], "o", color="#D55E00", markersize=8, label="PBFT, measured")
left.plot(sizes, [2 * n * (n - 1) for n in sizes], "-", color="#D55E00", label="PBFT: 2n(n-1)")
left.plot(sizes, [2 * (n - 1) for n in sizes], "--", color="#0072B2", label="crash-tolerant leader: 2(n-1)")
left.set_xlabel("replicas n")
left.set_ylabel("messages per request")
left.set_title("Messages for one request")
left.legend(fontsize=9)
fs = list(range(0, 6))
right.plot(fs, [2 * f + 1 for f in fs], "s-", color="#0072B2", label="crash faults: 2f + 1")
right.plot(fs, [3 * f + 1 for f in fs], "o-", color="#D55E00", label="Byzantine faults: 3f + 1")
right.set_xlabel("faults tolerated f")
right.set_ylabel("replicas needed")
right.set_title("Replicas for f faults")
right.legend(fontsize=9)
fig.tight_layout()
plt.show()"""),
    MD(r"""Later protocols attack the quadratic cost. HotStuff (Yin, Malkhi, Reiter, Golan Gueta &
Abraham, *HotStuff: BFT Consensus with Linearity and Responsiveness*, 2019) routes votes through the
leader and combines them with threshold signatures, so each phase costs $O(n)$ messages, view changes
included; it is the basis of several blockchains' consensus.

**Privacy (隐私).** Replication and Byzantine tolerance protect *integrity* and *availability*, not
*confidentiality*: every replica holds a full copy of the data, so more replicas are more places to
steal it from, and a Byzantine replica can leak what it stores even when it cannot corrupt the result.
Systems that need both encrypt data in transit and at rest, authenticate every channel (PBFT uses
message authentication codes in the normal case, signatures for view changes), keep replicas of
personal data inside the jurisdictions the law allows — another constraint on where geo-replicas may
go — and, where replicas must not see the data at all, split it with secret sharing or compute on
encrypted data, at a large cost."""),

    # ------------------------------------------------------------------ FAQ
    MD(r"""## The seed's five questions, answered

### Q1. How does fault tolerance relate to consistency?

**Fault tolerance (容错性)** is the goal: keep serving correctly while some parts fail. The tool for
data is replication, and replication creates the problem of **consistency (一致性)**: do the copies
give answers that fit one order of events? The two pull against each other.

- Strong consistency (**linearizable (线性一致)**: every operation seems to take effect at one instant
  between its call and its return) needs the replicas to agree on each write before it is
  acknowledged — consensus, with a majority round trip (Trend 1 above). A replica that cannot reach a
  majority must refuse: that is CAP (Brewer 2000; Gilbert & Lynch 2002), the C side of PACELC.
- Weaker models (sequential, causal, eventual) let a replica answer alone, so it stays available in a
  partition, but clients may see stale or conflicting values.

So "fault-tolerant *and* consistent" means precisely: consistent always, available only where a
majority is reachable. The demo: a Raft leader cut off with one follower keeps *accepting* commands
but can never *commit* them; the majority side elects a new leader and goes on; when the partition
heals, the old leader's uncommitted entries are thrown away and nothing a client was told was
committed is lost. See """ + ch(1) + r""" (quorums with $R + W > N$, CAP live) and """ + ch(6) + r"""
(preset `old_leader_partitioned`)."""),
    CODE("""cluster = Raft(nodes=5, seed=1, delay=10)
cluster.campaign("n1")
cluster.run(until=40)
cluster.submit(("put", "x", 1), to="n1")
cluster.run(until=100)
cluster.partition(["n1", "n2"], ["n3", "n4", "n5"])
cluster.submit(("put", "x", 2), to="n1")                      # the old leader accepts it...
cluster.run(until=400)
leaders = {i: cluster.nodes[i].current_term for i in cluster.ids if cluster.nodes[i].role == "leader"}
print("t=400, partitioned: leaders (node: term)", leaders)
print("    commit index:   ", {i: cluster.nodes[i].commit_index for i in cluster.ids})
print("    entry 3 on n1:  ", cluster.nodes["n1"].log[2], "<- accepted by the old leader, never committed")
print("    entry 3 on n3:  ", cluster.nodes["n3"].log[2], "<- the new leader's no-op, committed")
cluster.heal()
cluster.run(until=700)
print("t=700, healed: entry 3 on n1:", cluster.nodes["n1"].log[2], "| stores:",
      {i: cluster.nodes[i].kv for i in cluster.ids})
print("invariants broken:", len(cluster.violations))"""),
    MD(r"""### Q2. How does fault tolerance relate to distributed transactions?

A **distributed transaction (分布式事务)** must commit at every participant or at none: **atomic
commitment (原子提交)**. That is agreement again — all participants reach the same decision — with one
extra rule: commit only if everybody voted yes. Gray & Lamport (*Consensus on Transaction Commit*,
2006) make it precise: atomic commitment is consensus on the decision.

Two-phase commit (Gray 1978) is *not* fault tolerant in that sense: it survives crashes without
breaking atomicity, thanks to forced log writes, but a participant that voted yes and then loses
the coordinator is **blocked (阻塞)** — it may neither commit nor abort until the coordinator
returns. Three-phase commit (Skeen 1981) removes blocking under crashes with bounded delays, and a
partition makes it break atomicity. The fault-tolerant answer is to replicate the coordinator's
decision with consensus: Paxos Commit, or 2PC whose coordinator and participants are each a Paxos or
Raft group, as in Spanner (Corbett et al., *Spanner: Google's Globally-Distributed Database*, 2012). Live: the blocking
window, then 3PC split by a partition. More in """ + ch(4) + r"""."""),
    CODE("""txn = DistributedTransaction(nodes=4, seed=1, delay=10, cooperative=True)
txn.begin("T1", {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}})
txn.run(until=10)
txn.crash("n1", after=2)               # the coordinator logs COMMIT, then crashes before telling anyone
txn.run(until=300)
print("t=300, coordinator down:", txn.outcome("T1"), "| uncertain:", txn.uncertain())
txn.restart("n1")
txn.run(until=500)
print("t=500, coordinator back:", txn.outcome("T1"))
split = ThreePhaseCommit(nodes=5).load_preset("partition")
print("3PC under a partition:  ", split.outcome("t1"), "| broken:",
      sorted({v["invariant"].split(":")[0] for v in split.violations}))"""),
    MD(r"""### Q3. How does fault tolerance relate to failure detection?

To tolerate a failure, a system must first act on it: elect a new leader, stop waiting for a vote,
move a partition. **Failure detection (故障检测)** supplies the suspicion. But in an **asynchronous
system (异步系统)** a crashed node and a slow one look the same, so no detector can be both complete
(every crash is eventually suspected) and accurate (no live node is ever suspected) — Chandra & Toueg
(*Unreliable Failure Detectors for Reliable Distributed Systems*, 1996) classify what detectors can
promise, and FLP (Fischer, Lynch & Paterson, *Impossibility of Distributed Consensus with One Faulty
Process*, 1985) shows that without some timing assumption no deterministic protocol can guarantee
that consensus terminates.

That shapes every protocol of the course: **safety (安全性)** must never depend on the detector,
only **liveness (活性)** may. Raft's election timeout is a failure detector; a **false suspicion
(误判)** costs an unnecessary election, never two leaders in one term. A heartbeat detector trades
detection time (about timeout + interval) against false suspicions. Live: a link between `n1` and
`n3` is clogged (messages held, nobody crashed): `n1` suspects `n3` while `n2` still trusts it, and
the suspicion is withdrawn when the link recovers. See """ + ch(2) + r""" (timeouts, φ accrual, SWIM)."""),
    CODE("""detector = FailureDetection("heartbeat", nodes=3, seed=1, delay=10)    # heartbeats every 50, timeout 150
detector.run(until=300)
print("t=300, all well:      ", detector.suspects())
detector.clog("n1", "n3")                       # the link n1-n3 holds its messages; n3 is alive
detector.run(until=600)
print("t=600, link clogged:  ", detector.suspects(), "<- false suspicions of live nodes")
detector.unclog("n1", "n3")
detector.run(until=800)
print("t=800, link released: ", detector.suspects())
leader_crash = Raft(nodes=5).load_preset("leader_crash")
crashed = next(e.tick for e in leader_crash.trace if e.kind == "crashed")
elected = next(e.tick for e in leader_crash.trace if e.kind == "role" and e["new"] == "leader" and e.tick > crashed)
print(f"Raft: leader crashed at t={crashed}, suspected through an election timeout, new leader at t={elected}")"""),
    MD(r"""### Q4. How does fault tolerance relate to failure recovery?

Detection says *something is wrong*; **failure recovery (故障恢复)** brings the system back to a
correct state, in two different senses:

- **A node recovers** after a crash from what it wrote to **stable storage (稳定存储)**: a
  **write-ahead log (预写日志)** forced to disk *before* the node acknowledges anything, replayed
  (idempotently) at restart, with checkpoints to keep the replay short. What must be persisted is
  part of each protocol's correctness: Raft's term, vote and log; 2PC's prepared and decision records.
- **The service recovers** without the failed node: **failover (故障转移)** to a backup, which must
  *fence* the old primary with an **epoch (纪元/任期号)** so that it cannot act when it returns
  (otherwise: **split brain (脑裂)**), and a returning node catches up (log shipping or state transfer)
  before it serves.

Consensus protocols fold the second sense into their normal operation: an election *is* failover, and
the term *is* the epoch. Live: a Raft follower restarts with its term, vote and log but not its commit
index, which it learns again from the leader; a 2PC participant that crashed after voting yes reads
its prepared record, asks, and commits. See """ + ch(3) + r""" (WAL, checkpoints, primary-backup
failover with fencing), """ + ch(4) + r""" and """ + ch(6) + r"""."""),
    CODE("""restarted = Raft(nodes=5).load_preset("restart_persisted")
n3 = restarted.nodes["n3"]
print("Raft n3 after its restart: term", n3.current_term, "| voted for", n3.voted_for,
      "| log", len(n3.log), "entries | commit index", n3.commit_index, "(learned again from the leader) | store", n3.kv)
participant = DistributedTransaction(nodes=4).load_preset("participant_recovery")
print("2PC after a participant's crash and recovery:", participant.outcome("T1"))"""),
    MD(r"""### Q5. What are the methods of fault-tolerant design?

Not five interchangeable "algorithms", as the seed's class list suggests, but a toolbox in which each
tool answers one question:

| question | method | fault model | where |
|---|---|---|---|
| has that node failed? | heartbeats + timeouts, φ accrual, SWIM | crash, slow links | """ + ch(2) + r""" |
| how does a node survive its own crash? | write-ahead log, checkpoints, idempotent redo | crash-recovery | """ + ch(3) + r""" |
| who takes over, safely? | failover with epochs and fencing | crash, partitions | """ + ch(3) + r""" |
| how do replicas agree on one value? | Paxos | crash, any delays (safety) | """ + ch(5) + r""" |
| …on a log of commands? | Multi-Paxos, Raft (**state machine replication (状态机复制)**) | crash, any delays | """ + ch(5) + r""", """ + ch(6) + r""" |
| how do several machines change data atomically? | 2PC (+ a replicated coordinator), 3PC, sagas | crash | """ + ch(4) + r""" |
| what if some nodes lie? | PBFT and its successors, $3f+1$ replicas | Byzantine | this chapter |
| is my implementation right? | invariants, fuzzing, model checking, linearizability checking | all of the above | """ + ch(7) + r""" |

They compose: a real database uses detection to trigger elections, consensus to replicate each
partition's log, a WAL on every replica, and 2PC across partitions with each participant a consensus
group. The course's front doors are the live version of this table:"""),
    CODE("""from fttoolkit.doors import REGISTRY

for name in sorted(REGISTRY):
    print(f"{name:>10}  {REGISTRY[name].__name__:<22} {REGISTRY[name].summary}")"""),
    MD(r"""## Summary

- Distance sets a floor on latency: about 1 ms of round trip per 100 km of fibre. A consensus group
  across regions pays the $\lfloor n/2 \rfloor$-th smallest round trip on every write (PACELC's *else*
  case).
- Batching raises a leader's throughput up to $b/\mathrm{RTT}$ and pipelining multiplies it again; neither
  makes one command faster. Leases make reads local at the price of a clock assumption.
- Byzantine faults need $n \ge 3f + 1$ replicas and quorums of $2f + 1$, so that any two quorums share
  an honest replica. PBFT orders requests in three phases; an equivocating primary cannot make honest
  replicas disagree, but quorums of $f + 1$, or more than $f$ liars, can.
- Fault tolerance needs replication; replication needs a consistency choice; transactions are
  consensus on a decision; detection may be wrong, so only liveness may depend on it; recovery is both
  a node's (logs) and the service's (failover with epochs)."""),
]

if __name__ == "__main__":
    write(8, cells)
