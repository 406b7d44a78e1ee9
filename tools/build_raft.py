"""Write notebooks/ from the cells below: Chapter 6 (run: python tools/build_raft.py).

The chapter is kept as Python source so that its diffs are readable; the notebook is committed
without outputs.  tools/chapters.py appends the closing "Where next" cell.
"""

import pathlib
import sys

from nbformat.v4 import new_markdown_cell as md, new_code_cell as code

cells = []
cells.append(md(r"""# Chapter 6 — Raft

**Raft** is a **consensus algorithm (共识算法)**. A group of servers agrees on one sequence of commands,
a **replicated log (复制日志)**. Every server applies the commands to its own copy of a **state machine
(状态机)**, here a small key-value store, so all copies stay the same. This holds while a minority of
servers is down or cut off.

Raft was designed to be understood. This chapter teaches it from its primary sources:

- Diego Ongaro and John Ousterhout, *In Search of an Understandable Consensus Algorithm (Extended
  Version)*, 2014. Section numbers like §5.2 below refer to it. Its Figure 2 is the whole algorithm on
  one page, and `fttoolkit/algorithms/raft.py` follows it section by section.
- Diego Ongaro, *Consensus: Bridging Theory and Practice*, PhD thesis, Stanford University, 2014. It is
  the source for PreVote, client sessions and membership changes.

**You will learn to:**
- tell terms and roles apart, and predict who can win an election;
- compute how often randomized timeouts lead to a contested election, and how long electing a leader
  takes;
- follow the consistency check of `AppendEntries` as it repairs a follower's log;
- explain with Figure 8 why a leader counts replicas only for entries of its own term;
- name what must survive a crash, and what goes wrong when it does not;
- watch a partitioned leader fail to commit, and see why duplicate client requests need sessions.

Every section has a live cluster view with a **preset**: a scenario told step by step above the picture.
Press **Play** (it stops at each new line of the story), or drag the step slider. The table under the
picture shows every node's log. Each cell is the term of an entry: green once that node knows the entry
is committed, orange where two nodes disagree.

*Estimated time: 75 minutes.* Key terms are listed in English and Chinese in the [glossary (术语表)](glossary.md).
"""))
cells.append(md(r"""## What the seed article got wrong

The seed's Raft section is its Paxos section with the name changed. It says that in an "election
phase" *each node randomly picks a leader*, who then runs a "prepare phase" and a "resolution phase".
None of this is Raft:

- No node picks a leader for anyone. Each server waits for its own **election timeout (选举超时)**, drawn
  at random. When it fires, the server *stands* as a candidate and asks the others for their votes. The
  randomness is in *when* a server stands, not in *whom* it chooses.
- Raft has no prepare or resolution phase. It has two kinds of message: `RequestVote` (elections) and
  `AppendEntries` (replicating log entries; an empty one is a heartbeat).
- Votes are limited by two rules the seed never mentions. A server votes at most once per term, and
  only for a candidate whose log is at least as up to date as its own. Those rules, together with the
  commit rule of Figure 8, are what make Raft safe.

The seed's `Raft` class, with `add_node` and one method per phase, is still the front door of
`fttoolkit`: `fttoolkit.Raft(nodes=5)`. Behind it runs the real algorithm.
"""))
cells.append(code(r"""import statistics

import matplotlib.pyplot as plt

from fttoolkit import Raft
from fttoolkit.doors.raft import contested_probability, expected_first_leader_ticks, first_election"""))

# ---------------------------------------------------------------- terms and roles
cells.append(md(r"""## Terms and roles

Time in Raft is divided into **terms (任期)**, numbered 1, 2, 3, ... Each term begins with an election.
If a candidate wins, it leads for the rest of the term; if nobody wins, the term ends without a leader
and a new term begins (§5.1). A term number works like a logical clock. Every message carries the
sender's term, and a server that sees a higher term adopts it at once and becomes a follower.

Each server is in one of three **roles (角色)**:

| role | what it does | drawn as |
|---|---|---|
| **follower (跟随者)** | answers requests; if it hears nothing for an election timeout, it stands | blue circle |
| **candidate (候选人)** | votes for itself, asks everyone else with `RequestVote` | orange diamond |
| **leader (领导者)** | accepts client commands, replicates them with `AppendEntries`, sends heartbeats | green square |

Some state must survive a crash: `currentTerm`, `votedFor` and the log. Each server writes it to
**stable storage (稳定存储)** before it answers anything that depends on it. The rest is volatile:
`commitIndex`, `lastApplied`, and on a leader `nextIndex` and `matchIndex` for each follower.

In the view, the number under each node is its term. The grey ring around a follower fills up as its
election timer runs down; when the ring closes, the node stands. A candidate's badge counts its votes.
"""))
cells.append(code(r"""cluster = Raft(nodes=5, seed=1)
cluster.run(until=400)
print("leader:", cluster.leader(), " terms:", cluster.terms())
print("roles: ", {i: cluster.nodes[i].role for i in cluster.ids})"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("first_election")
view"""))

# ---------------------------------------------------------------- elections
cells.append(md(r"""## Elections and the two vote rules

A follower that hears nothing from a leader for its election timeout becomes a candidate (§5.2). It
increments its term, votes for itself, persists both, and sends `RequestVote(term, lastLogIndex,
lastLogTerm)` to every other server. A server grants its vote when all three hold:

1. the candidate's term is at least its own (a higher term is adopted first);
2. it has not voted for someone else in this term. The vote is persisted before the reply, so a
   restart cannot make it vote twice (§5.2);
3. the candidate's log is **at least as up to date** as its own: its last entry has a higher term, or
   the same term and an index at least as high (§5.4.1).

A candidate with votes from a **majority (多数派)** becomes leader and at once sends heartbeats. Rule 3
ensures that a leader already holds every committed entry. A committed entry is stored on a majority,
and the candidate needs the votes of a majority, so at least one of its voters holds the entry. That
voter refuses any candidate whose log is less up to date than its own.

The next preset crashes a leader. The followers' timers run down, one of them wins a higher term, and
the old leader rejoins as a follower.
"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("leader_crash")
view"""))
cells.append(md(r"""### Split votes

If two servers stand at about the same time, the votes are split between them. This is a **split vote
(选票分裂)**: nobody may reach a majority, and the term ends without a leader. Raft makes this rare with
**randomized timeouts**. Each timeout is drawn from $[T, 2T]$, with $T$ = `election_ticks` (150 here),
so the window has width $W = T$.

Take $n$ followers waiting with their timers started together, and a message delay $d$. The first
timer to fire belongs to the first candidate. Its `RequestVote` reaches the others $d$ ticks later. A
second server stands only if its own timer fires within those $d$ ticks. For $n$ independent uniform
draws, the gap between the smallest and the second smallest exceeds $d$ with probability $(1 - d/W)^n$.
So

$$P_{\text{contested}} \;=\; 1 - \left(1 - \frac{d}{W}\right)^{n}, \qquad d \le W .$$

A contested round is not always lost. With 5 servers and 2 candidates, the three voters still give one
candidate a third vote. Rounds that elect nobody are rarer than contested ones, and they become common
once $d$ approaches $W$. The preset below makes three candidates stand at once in a 4-node cluster.
"""))
cells.append(code(r"""view = Raft(nodes=4).show()
view.load_preset("split_vote")
view"""))
cells.append(md(r"""Now we measure it. Each run starts a fresh 5-node cluster with its own seed. We count the
candidates that stood in term 1, and note whether term 1 ended without a leader. The bars are the
measured fractions; the line is the formula.
"""))
cells.append(code(r"""delays = [2, 5, 10, 20, 40, 80]
runs = {d: [first_election(seed, nodes=5, election_ticks=150, delay=d) for seed in range(150)] for d in delays}
contested = [sum(r["candidates"] >= 2 for r in runs[d]) / len(runs[d]) for d in delays]
lost = [sum(r["lost_rounds"] > 0 for r in runs[d]) / len(runs[d]) for d in delays]

fig, ax = plt.subplots(figsize=(8, 3.6))
x = range(len(delays))
ax.bar([k - 0.2 for k in x], contested, width=0.4, color="#E69F00", label="measured: term 1 contested")
ax.bar([k + 0.2 for k in x], lost, width=0.4, color="#0072B2", label="measured: term 1 elected nobody")
ax.plot(list(x), [contested_probability(5, 150, d) for d in delays], "k-o", label=r"formula $1-(1-d/W)^n$")
ax.set_xticks(list(x), [f"d={d}\n(d/W={d / 150:.2f})" for d in delays])
ax.set_ylabel("fraction of 150 runs")
ax.set_title("Contested first elections, 5 nodes, timeouts in [150, 300]")
ax.legend(loc="upper left", fontsize=9)
plt.show()
for d, c in zip(delays, contested):
    print(f"d = {d:>2}: measured {c:.2f}, formula {contested_probability(5, 150, d):.2f}")"""))
cells.append(md(r"""### How long does an election take?

The first timer of $n$ uniform draws on $[T, 2T]$ fires on average at $T + \frac{T}{n+1}$. The
candidate's `RequestVote` and the replies take two message delays. When the first round is not
contested, the first leader appears at

$$E[t_{\text{leader}}] \;\approx\; T + \frac{T}{n+1} + 2d .$$

A lost round adds about one more timeout. That is the long right tail of the histogram, and it grows
with $d/W$. Ongaro & Ousterhout (§9.3) measured the same trade-off on real servers: widening the
timeout window from 150–151 ms to 150–300 ms cut the worst elections from over ten seconds to well
under one. A larger $T$ would make split votes even rarer, but every real leader failure would then go
unnoticed for longer.
"""))
cells.append(code(r"""fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for ax, d in zip(axes, (10, 40)):
    ticks = [r["leader_tick"] for r in runs[d]]
    ax.hist(ticks, bins=range(150, 600, 10), color="#009E73")
    ax.axvline(expected_first_leader_ticks(5, 150, d), color="k", ls="--", label="formula (uncontested)")
    ax.axvline(statistics.mean(ticks), color="#D55E00", label="measured mean")
    ax.set_title(f"first leader, 5 nodes, d = {d}")
    ax.set_xlabel("tick")
    ax.legend(fontsize=8)
axes[0].set_ylabel("runs")
plt.show()
for d in (10, 40):
    ticks = [r["leader_tick"] for r in runs[d]]
    print(f"d = {d}: formula {expected_first_leader_ticks(5, 150, d):.0f}, measured mean {statistics.mean(ticks):.0f},"
          f" median {statistics.median(ticks):.0f}, worst {max(ticks)}")"""))

# ---------------------------------------------------------------- replication
cells.append(md(r"""## Log replication and the consistency check

A leader appends each client command to its log as a new entry (term, command). It then sends
`AppendEntries(term, prevLogIndex, prevLogTerm, entries, leaderCommit)` to every follower (§5.3). A
follower accepts only if its own log has an entry at `prevLogIndex` with term `prevLogTerm`. This is
the **consistency check (一致性检查)**. If the check fails, the follower refuses, and the leader moves that
follower's `nextIndex` back and tries again. When the check passes, the follower deletes any entry
that conflicts with a new one (same index, different term), together with everything after it, and
appends the new entries. It must never delete entries that match: an old, delayed `AppendEntries`
would then erase newer ones.

By induction, the check gives the **Log Matching property (日志匹配特性)**: if two logs have an entry
with the same index and term, they are identical up to that entry. Our leader backs up a whole
conflicting term at a time, using the hint the follower returns (the optimisation at the end of §5.3).

In the preset, a follower misses a run of entries and is then repaired. The log table shows its row
filling in.
"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("log_repair")
view"""))

# ---------------------------------------------------------------- commitment, figure 8
cells.append(md(r"""## Commitment, and Figure 8

An entry is **committed (已提交)** once it is safe to apply: no future leader will ever remove it. A leader
decides this by counting replicas (`matchIndex`), with one extra condition that is easy to miss (§5.4.2):

> a leader commits by counting replicas **only entries of its current term**; entries from earlier
> terms become committed indirectly, when an entry of the current term after them commits.

Figure 8 of the paper shows why. A leader of term 4 copies an old entry of term 2 onto a majority. If
it counted that entry as committed, a server whose last entry is from term 3 could still win the next
election: its log is *more* up to date, by the rule of §5.4.1. That server would then overwrite the
"committed" entry everywhere. Replicas of an entry therefore say little about its safety until an
entry of the current term is stored with it.

That is also why a new leader appends a **no-op** entry (thesis §6.4). Its commitment commits
everything before it. The presets `figure8_d` and `figure8_e` replay the paper's two endings, with
Raft's no-op switched off as in the paper. Load them with the bug `figure8` (the leader counts old
entries too) and without it. With the bug, State Machine Safety breaks: two servers apply different
commands at the same index. Play stops at that step.
"""))
cells.append(code(r"""for bugs in ([], ["figure8"]):
    run = Raft(nodes=5).load_preset("figure8_d", bugs)
    broken = sorted({v["invariant"].split(":")[0] for v in run.violations})
    print(f"bugs={bugs}: invariants broken: {broken or 'none'}")"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("figure8_d", "figure8")
view"""))

# ---------------------------------------------------------------- persistence
cells.append(md(r"""## Persistence and crash recovery

Raft assumes **crash-recovery (崩溃恢复)** servers. A crash loses memory but not stable storage, and a
server restarts from what it wrote. Figure 2 lists what must be persisted *before* the server answers:
`currentTerm`, `votedFor` and the log. Leave any of them out and a safety property breaks:

- forget `votedFor`, and a server that crashes and restarts in the same term can vote twice, so two
  leaders can be elected in one term (Election Safety);
- acknowledge `AppendEntries` before the entries are on disk, and a leader may count a replica that a
  crash then erases. A "committed" entry can vanish.

`commitIndex` need not be persisted. A restarted server learns it again from the leader's next
`AppendEntries`. The preset restarts a server and shows its term, vote and log intact and its commit
index back at 0 until the leader speaks.
"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("restart_persisted")
view"""))
cells.append(md(r"""The fuzzer finds the `forget-vote` bug by itself. It tries random schedules of crashes and
restarts, stops at the first broken invariant, and shrinks that schedule to a short script you can
replay (Chapter 7 explains how).
"""))
cells.append(code(r"""from fttoolkit.check.fuzz import fuzz
from fttoolkit.scenario import schedule_to_script

report = fuzz(Raft, 60, bugs=["forget-vote"], profile="crash", stop_at_first=True)
found = report.failures[0]
print(f"schedule {found.seed} broke: {found.violations[0].invariant}")
print(schedule_to_script(found.shrunk, ["forget-vote, shrunk"]).render())"""))

# ---------------------------------------------------------------- partitions
cells.append(md(r"""## Partitions

A **network partition (网络分区)** can leave the leader on the minority side. It still believes it leads
and still accepts client commands. It can never commit them, though, because it cannot reach a
majority. Meanwhile the majority side times out and elects a new leader in a higher term. When the
partition heals, the old leader sees the higher term and steps down, and the new leader overwrites
its uncommitted entries (§5.3). Nothing committed is lost: Raft is safe under any partition, and it
makes progress on the side that holds a majority.
"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("old_leader_partitioned")
view"""))
cells.append(md(r"""### The disruptive rejoin, and PreVote

A follower that is cut off alone keeps timing out. Each time it stands, it increments its term, and
nobody hears it. When it rejoins, its term is higher than the leader's. The leader steps down on seeing
that term, and a needless election follows. The cut-off server cannot win it, since its log is behind,
but the cluster stops serving while the election runs.

**PreVote (预投票)** (Ongaro's thesis, §9.6) fixes this. Before it stands, a server asks whether it
*could* win: `PreVote(term + 1, lastLogIndex, lastLogTerm)`. Its term does not change. The others say
yes only if its log is up to date *and* they have not heard from a leader recently. A server cut off
from the majority never gathers a majority of pre-votes, so its term never grows, and its return
disturbs nobody. Compare the two presets: `disruptive_rejoin` (without PreVote) and `prevote`.
"""))
cells.append(code(r"""for name in ("disruptive_rejoin", "prevote"):
    run = Raft(nodes=5).load_preset(name)
    print(f"{name:>17}: final terms {run.terms()}, leader {run.leader()}")"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("prevote")
view"""))

# ---------------------------------------------------------------- clients
cells.append(md(r"""## Clients: redirects, and why duplicates need sessions

Clients talk to the leader. A follower that receives a command refuses it and names the leader it
knows of, and the client tries again there (§8). `submit` follows such redirects:
"""))
cells.append(code(r"""cluster = Raft(nodes=5, seed=3)
cluster.run(until=500)
follower = next(i for i in cluster.ids if i != cluster.leader())
first = len(cluster.trace)
reply = cluster.submit(("put", "x", "1"), to=follower)
for event in cluster.trace[first:]:
    if event.kind in ("request", "reply"):
        print(event)
print("accepted:", reply.accepted, "at index", reply.index, "by", reply.leader)"""))
cells.append(md(r"""A harder problem is the client that does not know whether its command got in. Say the
leader crashes after replicating the command but before the client learned the outcome. The client
times out and submits again, to the new leader. The new leader already has the first copy, and now
appends a second. An `append` then takes effect twice.

Raft's log is correct here: it faithfully records two submissions. The fix belongs one level up, in
**client sessions (客户端会话)** (thesis §6.3). Each client gets an id and numbers its commands. The state
machine remembers, for each client, the last number it applied and its result. A repeated number gets
the saved result and is not applied again. The command becomes **idempotent (幂等)**.
"""))
cells.append(code(r"""cluster = Raft(nodes=5, seed=3)
cluster.run(until=500)
old = cluster.leader()
cluster.submit(("append", "log", "A"), to=old)
cluster.run(until=cluster.now + 12)        # the entry reaches the followers...
cluster.crash(old)                         # ...and the leader crashes before the client hears more
cluster.run(until=cluster.now + 800)       # a new leader is elected
cluster.submit(("append", "log", "A"))     # the client's retry
cluster.run(until=cluster.now + 300)
print("state machines:", {i: cluster.nodes[i].kv for i in cluster.ids if cluster.sim.up[i]})
log = cluster.nodes[cluster.leader()].log
print("log:", [f"{k}: {entry!r}" for k, entry in enumerate(log, start=1)])"""))
cells.append(code(r"""def apply_with_sessions(log):
    # A state machine with client sessions: commands carry (client, number); repeats are not re-applied.
    kv, last = {}, {}
    for entry in log:
        op = entry.command
        if op[0] != "append":
            continue
        _, key, text, client, number = op
        if last.get(client, 0) >= number:
            continue                       # a retry of a command already applied
        kv[key] = kv.get(key, "") + text
        last[client] = number
    return kv

cluster = Raft(nodes=5, seed=3)
cluster.run(until=500)
old = cluster.leader()
cluster.submit(("append", "log", "A", "client-7", 1), to=old)
cluster.run(until=cluster.now + 12)
cluster.crash(old)
cluster.run(until=cluster.now + 800)
cluster.submit(("append", "log", "A", "client-7", 1))      # the same command, the same number
cluster.run(until=cluster.now + 300)
log = cluster.nodes[cluster.leader()].log
print("entries with the command:", sum(1 for e in log if e.command[:3] == ("append", "log", "A")))
print("state with sessions:     ", apply_with_sessions(log))"""))
cells.append(md(r"""The preset `duplicate_submission` tells the same story step by step. Watch the log table: index 2 and
index 4 hold the same command, and every state machine ends with `log = "AA"`.
"""))
cells.append(code(r"""view = Raft(nodes=5).show()
view.load_preset("duplicate_submission")
view"""))

# ---------------------------------------------------------------- in brief
cells.append(md(r"""## In brief: snapshots and membership changes

**Snapshots (快照)** (§7). A log cannot grow forever. Each server now and then writes a snapshot of its
state machine, with the index and term of the last entry it covers, and throws away the log up to
there. A follower that is so far behind that the leader has discarded the entries it needs receives
the snapshot itself, through `InstallSnapshot`. The course's Raft keeps whole logs, because its runs are
short.

**Membership changes (成员变更)** (§6; thesis §4). Adding or removing servers is dangerous. If servers
switch from the old configuration to the new one at different moments, an old majority and a new
majority can exist at once, and so can two leaders in one term. The paper's **joint consensus (联合共识)**
passes through a configuration that needs majorities of *both* the old and the new set. The thesis
recommends a simpler way: change **one server at a time**. Any majority of the old set and any
majority of the new set then overlap, so the change is an ordinary log entry.

## Exercises

`exercises/06_raft.ipynb` asks you to write three pieces of Raft yourself: the `RequestVote` handler,
the `AppendEntries` consistency check with truncation, and the leader's commit rule. Your code runs in
the same simulator, under the same invariants and the fuzzer. A commit rule that ignores Figure 8
fails on its preset, with a seed and a script you can replay in the view.

## Summary

- Terms order everything. A higher term always wins, and a stale leader steps down when it sees one.
- Elections are safe because each server votes once per term (persisted) and only for a log at least
  as up to date as its own. They make progress because timeouts are randomized. Contested rounds occur
  with probability $1-(1-d/W)^n$.
- The consistency check of `AppendEntries` gives Log Matching. Leaders repair followers by backing up.
- A leader counts replicas only for entries of its own term (Figure 8). Earlier entries commit with them.
- `currentTerm`, `votedFor` and the log must be on stable storage before a server answers.
- A minority partition cannot commit. PreVote keeps a returning server from deposing a healthy leader.
- Exactly-once client commands need sessions above the log.
"""))


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import write  # noqa: E402

write(6, cells)
