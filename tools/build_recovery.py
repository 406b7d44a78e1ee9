"""Write notebooks/03_failure_recovery.ipynb from the cells below: Chapter 3 (run: python tools/build_recovery.py).

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
cells.append(md(r"""# Chapter 3 — Failure recovery

A crashed server comes back. What does it remember? Can it answer requests at once? And while it was
gone, who served its clients? **Failure recovery (故障恢复)** is the whole of that story: keep the state
that must survive a crash, rebuild everything else from it, hand the service to a replacement without
ever having two servers in charge, and let the returning server catch up before it serves again.

This chapter teaches it from its sources:

- Theo Haerder and Andreas Reuter, *Principles of Transaction-Oriented Database Recovery* (1983):
  write-ahead logging, forcing the log at commit;
- C. Mohan, Don Haderle, Bruce Lindsay, Hamid Pirahesh and Peter Schwarz, *ARIES: A Transaction Recovery
  Method Supporting Fine-Granularity Locking and Partial Rollbacks Using Write-Ahead Logging* (1992):
  checkpoints and redo by log sequence number;
- Navin Budhiraja, Keith Marzullo, Fred B. Schneider and Sam Toueg, *The Primary-Backup Approach* (1993);
- Cary Gray and David Cheriton, *Leases: An Efficient Fault-Tolerant Mechanism for Distributed File
  Cache Consistency* (1989);
- Patrick Hunt, Mahadev Konar, Flavio Junqueira and Benjamin Reed, *ZooKeeper: Wait-free Coordination for
  Internet-scale Systems* (2010), for the coordination service that hands out epochs.

**You will learn to:**
- say which failure model a system assumes, and what survives a crash in each;
- make a single server durable with a **write-ahead log (预写日志)**, checkpoints, checksums and
  idempotent redo, and see each rule broken;
- relate recovery time to availability;
- run **primary-backup replication (主备复制)** with **failover (故障转移)**, and compare synchronous and
  asynchronous replication;
- stop **split brain (脑裂)** with epochs and **fencing (隔离)**, and stale reads with leases;
- bring a returning server back safely: learn the new epoch, step down, **catch up (追赶)**, then serve.

*Estimated time: 75 minutes.* Key terms are listed in English and Chinese in the
[glossary (术语表)](glossary.md).
"""))

cells.append(md(r"""## What the seed article got wrong

The seed's failure recovery is one sentence: "every node discovers, recovers and reconnects the failed
node". Each of the three verbs hides a hard problem:

| the seed says | what it really takes | where |
|---|---|---|
| discover | a failure detector, which can be wrong: a slow node looks dead | Chapter 2 |
| recover | rebuild the state from what was on **stable storage (稳定存储)**: a log forced before each acknowledgement, checkpoints, torn records discarded, redo applied once | this chapter, part 1 |
| reconnect | the replacement must be the *only* primary (epochs, fencing); the returning node must learn that it was replaced, step down, and catch up before it serves | this chapter, part 2 |

And a node does not recover "by the others": it recovers from its own disk, and the others tell it only
what it missed.
"""))

cells.append(md(r"""## Failure models: what survives a crash?

A **failure model (故障模型)** says what a faulty component may do. Each protocol is correct only for the
model it assumes.

| model | what may happen | what survives | examples in the course |
|---|---|---|---|
| **crash-stop (崩溃停止)** | a node halts and never returns | nothing, but nobody needs it | Paxos' proof, SWIM's dead members |
| **crash-recovery (崩溃恢复)** | a node halts, and may restart later | its stable storage; memory is lost | this chapter; Raft's persisted term, vote and log |
| **omission fault (遗漏故障)** | messages (or a node's replies) are silently lost | everything else | lossy links in every chapter |
| **Byzantine fault (拜占庭故障)** | a node may do anything, including lie | nothing can be trusted without a quorum of $2f+1$ of $3f+1$ | Chapter 8 |

In the simulator, `crash` wipes a node's memory and keeps its disk; `crash(node, tear=k)` also tears a
multi-record write in the middle, and `crash(node, lose_disk=True)` loses the disk as well. The rest of
this chapter assumes crash-recovery: the disk survives, the memory does not.
"""))

cells.append(md(r"""## Part 1 — One server that survives crashes

### The write-ahead log

A key-value server keeps its store in memory. To survive a crash it follows the **write-ahead logging**
rule (Haerder & Reuter 1983):

1. give the write the next **log sequence number (LSN)**;
2. append a log record `(LSN, operation, checksum)` and **force** it to the disk (a *forced write*:
   the call returns only when the record is on stable storage);
3. only then apply it to the store and send the acknowledgement.

After a crash, the server rebuilds the store by **log replay (日志重放)**. Here is one node, `n1`, with
three writes, a crash and a restart:"""))
cells.append(code(r"""from fttoolkit import WriteAheadLog

wal = WriteAheadLog(seed=1, checkpoint_every=0, replay_ticks=2)   # no checkpoints yet
wal.put("n1", "x", "a")
wal.append("n1", "x", "b")
wal.append("n1", "x", "c")
wal.run(until=10)
print("store before the crash:", wal.store("n1"))
wal.crash("n1")
print("store while crashed:   ", wal.store("n1"))
wal.restart("n1")
wal.run(until=30)
print("store after recovery:  ", wal.store("n1"))
for entry in wal.log("n1"):
    print(f"  disk[{entry['index']}]: LSN {entry['lsn']} {entry['kind']} {entry['key']} {entry['arg']!r}, checksum ok: {entry['valid']}")"""))
cells.append(md(r"""In the trace, each write is a `stored` event (the forced record) followed by the reply. The order is the
whole point: a crash between the two loses an *unacknowledged* write, which the client will retry; it
never loses an acknowledged one."""))
cells.append(code(r"""for event in wal.trace:
    if event.kind in ("stored", "reply") and event.tick < 10:
        print(event.describe())"""))
cells.append(md(r"""### Break the rule: acknowledge before forcing

The bug `ack-before-force` sends the acknowledgement first. The preset crashes `n1` between the two: the
client was told "stored", and the write is gone. The **Durability** invariant — every acknowledged write
is in the recovered state, nothing that was never submitted appears, in submission order — catches it.
Press **Play** in the view (or step with →): the story line tells what happens at each step, and the table
under the picture shows the disk."""))
cells.append(code(r"""buggy = WriteAheadLog()
buggy.load_preset("ack_before_force")
for v in buggy.violations[:1]:
    print(v.describe())
buggy.show()"""))

cells.append(md(r"""### Torn writes and checksums

A crash can interrupt a write in the middle: the last record on the disk is then **torn (撕裂写)**, half
old bytes and half new. Recovery must not mistake it for a real record. Each record carries a
**checksum (校验和)** (here CRC-32) over its contents; recovery recomputes it and discards a record that
does not verify. Only the *last* record of a write can be torn, because writes are appended in order and
forced one at a time; the acknowledgement for a torn record was never sent."""))
cells.append(code(r"""torn = WriteAheadLog()
torn.load_preset("torn_record")
for entry in torn.log("n1"):
    print(f"disk[{entry['index']}]: LSN {entry['lsn']}, torn: {entry['torn']}, checksum ok: {entry['valid']}")
report = torn.recovery_report("n1")
print("recovery discarded disk indexes", report["discarded"], "and replayed LSNs", report["replayed"])
print("violations:", torn.violations)"""))
cells.append(md(r"""With the bug `no-checksum`, recovery reads the torn record as if it were whole, and garbage enters the
store: Durability and **Exactly once** (the recovered store equals the whole records on disk, each
applied once) both fail."""))
cells.append(code(r"""bad = WriteAheadLog()
bad.load_preset("no_checksum")
for v in bad.violations[:2]:
    print(v.describe())"""))

cells.append(md(r"""### Checkpoints and idempotent redo

Replaying the whole log after every crash gets slower as the log grows. A **checkpoint (检查点)** writes
the whole store to the disk together with the LSN it reflects; recovery starts from the latest *valid*
checkpoint and redoes only the records after it (ARIES, Mohan et al. 1992, §6).

Two things can go wrong:

- a crash *while checkpointing* leaves a torn checkpoint: recovery ignores it (bad checksum) and uses the
  previous one, with a longer replay — the `crash_during_checkpoint` preset;
- an `append` is not **idempotent (幂等)**: applying it twice doubles it. Redo must skip every record the
  checkpoint already reflects, by comparing LSNs. The bug `redo-not-idempotent` replays from the start of
  the log on top of the checkpoint."""))
cells.append(code(r"""twice = WriteAheadLog()
twice.load_preset("redo_not_idempotent")
print("recovered store:", twice.store("n1"))
for v in twice.violations[:1]:
    print(v.describe())
ckpt = WriteAheadLog()
ckpt.load_preset("crash_during_checkpoint")
print("crash during a checkpoint -> recovered from the checkpoint at LSN",
      ckpt.recovery_report("n1")["checkpoint"], "; violations:", len(ckpt.violations))"""))
cells.append(md(r"""How often should a server checkpoint? More often means less to replay, so a shorter recovery, but more
writing. Here `n1` receives 40 to 59 writes, crashes, and recovers, redoing one record every 2 ticks;
the plot shows the mean recovery time and the disk records written, against the checkpoint interval."""))
cells.append(code(r"""import matplotlib.pyplot as plt

def recovery_cost(every, writes):
    w = WriteAheadLog(seed=1, checkpoint_every=every, replay_ticks=2)
    for i in range(writes):
        w.append("n1", "x", str(i % 10), at=i)
    w.run(until=writes + 5)
    disk = len(w.log("n1"))
    w.crash("n1"); w.restart("n1"); w.run(until=w.now + 400)
    return w.recovery_report("n1")["recovery_ticks"], disk

intervals = [0, 2, 5, 10, 20]
mean_ticks, mean_disk = [], []
for every in intervals:
    runs = [recovery_cost(every, writes) for writes in range(40, 60)]
    mean_ticks.append(sum(r for r, _ in runs) / len(runs))
    mean_disk.append(sum(d for _, d in runs) / len(runs))
labels = ["never" if e == 0 else str(e) for e in intervals]
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar(labels, mean_ticks, color="#56B4E9", label="recovery time (ticks)")
ax.set_xlabel("checkpoint every ... log records")
ax.set_ylabel("mean recovery time (ticks)")
ax2 = ax.twinx()
ax2.plot(labels, mean_disk, "o-", color="#D55E00", label="records on disk")
ax2.set_ylabel("records on disk")
ax2.set_ylim(0, max(mean_disk) * 1.15)
ax.set_title("Checkpoints: shorter recovery, more writing")
fig.legend(loc="upper right", bbox_to_anchor=(0.86, 0.86))
fig.tight_layout()
print(dict(zip(labels, [round(t, 1) for t in mean_ticks])))"""))
cells.append(md(r"""With a checkpoint every $c$ records, a crash at a random moment finds on average about $c/2$ records after
the last checkpoint, so the replay time grows linearly in $c$, while the checkpoints cost one extra write
per $c$ records (and, in real systems, a copy of the whole state each time).

### Recovery time is availability

Chapter 1's formula ties this to availability, assuming failures are independent:
$$A = \frac{\mathrm{MTTF}}{\mathrm{MTTF} + \mathrm{MTTR}}, \qquad \mathrm{MTTR} = \text{detection} + \text{restart} + \text{recovery}.$$
Every tick of log replay is a tick of **mean time to repair (平均修复时间)**. For a server that fails on
average once every 100,000 ticks and takes 20 ticks to restart (real replays take minutes to hours, and
the proportions are the same):"""))
cells.append(code(r"""from fttoolkit.algorithms.availability import availability, nines, downtime_minutes_per_year

for label, ticks in zip(labels, mean_ticks):
    a = availability(100_000, 20 + ticks)
    print(f"checkpoint every {label:>5}: MTTR = {20 + ticks:5.1f} ticks, A = {a:.6f} "
          f"({nines(a):.2f} nines, {downtime_minutes_per_year(a):.0f} min/year)")"""))
cells.append(md(r"""One server, however careful, is unavailable for its whole MTTR, and a lost disk loses everything
(`crash(node, lose_disk=True)` makes Durability fail). Both problems have one answer: more than one copy.

## Part 2 — Primary-backup replication and failover

In **primary-backup replication** (Alsberg & Day 1976; Budhiraja et al. 1993) one replica, the
*primary*, orders all writes: it logs each write with an `(epoch, LSN)` and sends it to the *backups* in a
`Replicate` message; they store it and answer `Stored`. Clients write to and read from the primary. The
course's version has three replicas `n1`, `n2`, `n3` and a **coordination service (协调服务)** `zk`, a
single simulated node standing in for ZooKeeper or etcd (which are themselves replicated with consensus,
Chapters 5 and 6). `zk` hears heartbeats from the replicas, keeps the configuration (the epoch, the
primary and the members) on its disk, and decides failovers.

### Failover

When `zk` stops hearing the primary for `suspect_ticks`, it suspects it (Chapter 2: it may be wrong),
picks the member with the most complete log, and promotes it with a new **epoch (纪元/任期号)**: a
number that only grows and that `zk` forces to its disk *before* announcing it, so no two promotions ever
share an epoch."""))
cells.append(code(r"""from fttoolkit import PrimaryBackup

pb = PrimaryBackup()
pb.load_preset("primary_crash_failover")
print("epochs:", pb.epochs())
print("roles: ", pb.roles())
pb.show()"""))
cells.append(md(r"""How long is the service down? From the crash to the moment a new primary is ready: the detection time
(`suspect_ticks`, plus up to one heartbeat period) and one message from `zk` to the new primary. A shorter
timeout fails over faster, and — as Chapter 2 measured — suspects live primaries more often."""))
cells.append(code(r"""def failover_ticks(suspect, seed):
    c = PrimaryBackup(nodes=3, seed=seed, delay=(5, 15), suspect_ticks=suspect)
    c.run(until=100)
    c.crash("n1")
    c.run(until=100 + 4 * suspect + 200)
    ready = [e.tick for e in c.trace if e.kind == "note" and e.node != "n1" and e.data["text"] == "ready"]
    return ready[0] - 100

for suspect in (50, 100, 200):
    times = [failover_ticks(suspect, seed) for seed in range(5)]
    print(f"suspect_ticks = {suspect:3}: the service was down for {sum(times) / len(times):.0f} ticks on average")"""))

cells.append(md(r"""### Synchronous or asynchronous replication?

With **synchronous replication (同步复制)** the primary acknowledges a write only once every backup in the
configuration has stored it; with **asynchronous replication (异步复制)** it acknowledges as soon as its own
disk has it, and replicates in the background. The first costs a round trip per write; the second loses
acknowledged writes when the primary dies before they leave. Here the primary crashes at a random moment
in the middle of a stream of writes — just after forcing a write, before its `Replicate` messages leave
(`crash(..., after=2)`):"""))
cells.append(code(r"""import random

def failover_run(replication, seed, writes=30):
    rng = random.Random(seed)
    c = PrimaryBackup(nodes=3, seed=seed, replication=replication, delay=(5, 15))
    for k in range(writes):
        c.write(f"k{k % 5}", k, to="n1", at=30 + 10 * k)
    c.crash("n1", after=2, at=rng.randrange(80, 300))
    c.run(until=1200)
    submitted = {s.wid: s.tick for s in c.submitted()}
    latency = [a.tick - submitted[a.wid] for a in c.acknowledged() if a.node == "n1"]
    return len(c.acknowledged()), len(c.lost_writes()), sum(latency) / len(latency)

for replication in ("sync", "async"):
    runs = [failover_run(replication, seed) for seed in range(20)]
    acked = sum(r[0] for r in runs)
    lost = sum(r[1] for r in runs)
    latency = sum(r[2] for r in runs) / len(runs)
    print(f"{replication:>5}: {acked} writes acknowledged, {lost} of them lost in 20 failovers; "
          f"mean time to acknowledge {latency:.1f} ticks")"""))
cells.append(md(r"""Synchronous replication pays about one round trip per write and loses nothing: Durability (acknowledged
$\subseteq$ recovered $\subseteq$ submitted, in order) is an invariant of it. Asynchronous replication
answers at once and loses the writes that had not left the primary; for it the loss is not a bug but the
price, so the course counts it (`lost_writes()`) instead of checking an invariant. The preset
`async_loses_writes` shows one such loss step by step. (A third design, used by Raft, waits for a
*majority* instead of every backup, so one slow backup does not stall writes.)"""))
cells.append(code(r"""lossy = PrimaryBackup()
lossy.load_preset("async_loses_writes")
print("acknowledged:", [a.wid for a in lossy.acknowledged()], " lost:", lossy.lost_writes())
lossy.show()"""))

cells.append(md(r"""### Split brain, and fencing

The detector can be wrong. Cut `n1` off from everyone else: `zk` suspects it and promotes `n2` — but `n1`
is alive, still believes it is the primary, and can still reach some replica (here `n3`, whose link to
`n1` survives). Two primaries now accept writes: **split brain**.

The cure is **fencing**: every replication message and every storage write carries the epoch, and a
replica refuses anything from an epoch older than the newest it has seen, answering `StaleEpoch` with
the newer epoch; a primary that hears of a newer epoch steps down at once. The old primary's writes can
then never be acknowledged once a newer epoch exists (the **Stale epoch** invariant). Compare the two
presets — the same partition, with and without fencing (bug `no-fencing`):"""))
cells.append(code(r"""fenced = PrimaryBackup()
fenced.load_preset("partition_fenced")
brain = PrimaryBackup()
brain.load_preset("split_brain")
print("with fencing:    violations:", len(fenced.violations), "| acknowledged", [a.wid for a in fenced.acknowledged()])
print("without fencing: violations:", sorted({v['invariant'].split(':')[0] for v in brain.violations}))
print("                 acknowledged", [(a.wid, a.key, a.value, f"epoch {a.epoch}", f"LSN {a.lsn}") for a in brain.acknowledged()])
brain.show()"""))
cells.append(md(r"""In the table under the picture, the last row lists the writes the clients saw acknowledged at each
LSN: without fencing two different writes were acknowledged at the same LSN by two primaries, and one of
them is in no replica's log any more. Real systems fence the same way: ZooKeeper's `zxid` epochs, Kafka's
leader epochs, and the *fencing tokens* that a storage service checks on every write (Kleppmann,
*Designing Data-Intensive Applications*, 2017, ch. 8)."""))

cells.append(md(r"""### Stale reads, and leases

Fencing protects writes, because a write needs the backups. A read does not: a primary cut off from the
others can go on answering reads from its own store, long after a new primary accepted newer writes —
a stale read. The preset `stale_read_without_lease` shows one."""))
cells.append(code(r"""stale = PrimaryBackup()
stale.load_preset("stale_read_without_lease")
for r in stale.stale_reads():
    print(f"read {r.rid} at {r.node}, t={r.tick}: got {r.key}={r.value!r}, but {r.newest_wid} "
          f"({r.key}={r.newest_value!r}) had been acknowledged")"""))
cells.append(md(r"""A **lease (租约)** (Gray & Cheriton 1989) is a promise with an expiry: `zk` grants the primary the right to
serve reads for `lease_ticks` of the primary's own clock, and before promoting anyone else it waits until
every lease it granted must have run out. Clocks are not perfect: with **clock drift (时钟漂移)** of at
most $d$ (each clock runs at a rate within $[1-d,\, 1+d]$), a lease of $L$ ticks on the holder's clock
can last up to $(L+1)/(1-d)$ real ticks, while the coordinator's own wait of $W$ ticks may last only
$(W-1)/(1+d)$. So the coordinator waits
$$W = \left\lceil (L + 1)\,\frac{1 + d}{1 - d} \right\rceil + 2$$
ticks of its own clock (`lease_wait_ticks`). Leases tolerate bounded *drift*; they do not tolerate a
clock that jumps, nor drift beyond the bound — the preset `lease_broken_by_drift` runs clocks faster
than the bound allows, and the stale read returns."""))
cells.append(code(r"""from fttoolkit.algorithms.primary_backup import lease_wait_ticks

leased = PrimaryBackup()
leased.load_preset("lease_prevents_stale_read")
drifted = PrimaryBackup()
drifted.load_preset("lease_broken_by_drift")
print("with a lease:            stale reads:", len(leased.stale_reads()), "| violations:", len(leased.violations))
print("drift beyond the bound:  stale reads:", len(drifted.stale_reads()), "|",
      sorted({v['invariant'].split(':')[0] for v in drifted.violations}))

drifts = [0, 0.01, 0.02, 0.05, 0.1, 0.2]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(drifts, [lease_wait_ticks(120, d) for d in drifts], "o-", color="#0072B2")
ax.axhline(120, color="grey", linestyle=":", label="the lease itself (120 ticks)")
ax.set_xlabel("drift bound d")
ax.set_ylabel("coordinator's wait (ticks)")
ax.set_ylim(100, 200)
ax.set_title("Waiting out a 120-tick lease")
ax.legend()
fig.tight_layout()"""))
cells.append(md(r"""The wait is time in which nobody serves: leases trade a little availability after a failure for reads
that never go backwards (the **Monotonic reads** invariant, checked when leases are on)."""))

cells.append(md(r"""### The return of the old primary: catching up

Now the old primary comes back (or its partition heals). It must not serve a single request on its own
say-so. Done properly, "reconnect" is four steps:

1. **learn the epoch.** On restart it reads its own epoch from its disk and asks `zk`; the first replica
   that answers with a newer epoch, or `zk` itself, tells it that it was replaced;
2. **step down.** It becomes a backup candidate (role `recovering`), not a member yet;
3. **truncate and catch up.** It finds the last LSN where its log agrees with the primary's (same LSN,
   same epoch), discards its divergent suffix — writes it logged but that were never replicated, possible
   with asynchronous replication — and copies what it missed: by **log shipping** if the primary still
   has those entries, or by **state transfer (状态传输)** (a snapshot of the whole store) if it has
   discarded them (`retain_entries`);
4. **rejoin.** Only once it holds the primary's whole log does `zk` add it back to the configuration,
   where it counts for synchronous replication and may one day be promoted."""))
cells.append(code(r"""back = PrimaryBackup()
back.load_preset("old_primary_returns")
for event in back.trace:
    about_n1 = event.node == "n1" or event.data.get("fields", {}).get("node") == "n1"
    if event.kind == "note" and about_n1 and event.tick >= 400:
        print(f"t={event.tick:4}  {event.node} {event.data['text']}", event.data["fields"] or "")
print("logs agree:", not back.divergent(), "| violations:", len(back.violations))
back.show()"""))
cells.append(code(r"""snap = PrimaryBackup()
snap.load_preset("catch_up_by_snapshot")
print([(e.tick, e.data["fields"].get("plan")) for e in snap.trace
       if e.kind == "note" and e.data["text"] == "catch-up"][-3:])"""))
cells.append(md(r"""The bug `serve-before-catch-up` lets a returning replica count as in sync before it has the writes it
missed. It then acknowledges new writes without the old ones, and a later failover to it loses
acknowledged writes."""))
cells.append(code(r"""early = PrimaryBackup()
early.load_preset("serve_before_catch_up")
for v in early.violations[:1]:
    print(v.describe())"""))

cells.append(md(r"""## Every rule, and the bug that breaks it

Each rule of this chapter has a named bug in the course, a preset that shows it, and an invariant that
catches it — in the presets and under the fuzzer (`python -m fttoolkit fuzz wal --bug NAME`,
`python -m fttoolkit fuzz primary-backup --bug NAME`):"""))
cells.append(code(r"""from fttoolkit.scenario import parse

for door in (WriteAheadLog, PrimaryBackup):
    shows = {}
    for name, text in sorted(door.presets().items()):
        header = parse(text).header
        for bug in header.get("bugs", []):
            shows[bug] = (name, ", ".join(header.get("expect", [])))
    print(door.name)
    for bug, rule in door.node_class.bugs.items():
        preset, broken = shows.get(bug, ("(fuzzer only)", ""))
        print(f"  {bug:22} {rule}")
        print(f"  {'':22}   preset: {preset}" + (f"; breaks {broken}" if broken else ""))"""))
cells.append(md(r"""The fuzzer's verdict on the correct versions, 1000 random fault schedules each (crashes at any point,
torn writes, lost and duplicated messages, partitions), is 0 violations; with each bug switched on it
finds a schedule that breaks an invariant and shrinks it to a handful of steps. Try one in a terminal:

```
python -m fttoolkit fuzz primary-backup --seeds 200 --faults partition --bug no-fencing
```
"""))

cells.append(md(r"""## Exercises

`exercises/03_failure_recovery.ipynb` asks you to write three pieces of this chapter, each graded on
hand-made cases and in the simulator under faults:

- **3.1** log replay after a crash, with a torn record: rebuild the store from the disk;
- **3.2** the epoch check that fences a stale primary;
- **3.3** the catch-up decision for a returning node: log shipping or state transfer.

## Summary

- Crash-recovery keeps the disk and loses the memory. Force the log record *before* acknowledging;
  checksum every record and discard a torn one; checkpoint to bound replay; redo by LSN so that it is
  idempotent.
- Recovery time is repair time: $A = \mathrm{MTTF}/(\mathrm{MTTF} + \mathrm{MTTR})$.
- Primary-backup: synchronous replication loses no acknowledged write and costs a round trip;
  asynchronous replication is faster and loses the writes in flight at a failover.
- Failover needs a new epoch from a coordination service that never reuses one; fencing by epoch keeps
  a deposed primary from getting any write acknowledged; leases, with a wait that covers bounded clock
  drift, keep it from serving stale reads.
- A returning node learns the epoch, steps down, truncates its divergent suffix, catches up by log
  shipping or state transfer, and only then serves.
"""))

write(3, cells)
