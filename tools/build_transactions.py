"""Write notebooks/ from the cells below: Chapter 4 (run: python tools/build_transactions.py).

The chapter is kept as Python source so that its diffs are readable; the notebook is committed
without outputs.  tools/chapters.py appends the closing "Where next" cell.
"""

import pathlib
import sys

from nbformat.v4 import new_markdown_cell as md, new_code_cell as code

cells = []
cells.append(md(r"""# Chapter 4 — Distributed transactions

A **distributed transaction (分布式事务)** changes data on several machines: move money from an account
on server A to an account on server B; reserve a seat, a hotel room and a car at once. Either every
change happens or none does. That is **atomicity (原子性)**, and keeping it across machines that crash
and lose messages is the **atomic commitment problem (原子提交问题)**.

This chapter teaches the protocols from their sources:

- Jim Gray, *Notes on Data Base Operating Systems* (1978): two-phase commit;
- Dale Skeen, *Nonblocking Commit Protocols* (1981): three-phase commit;
- Jim Gray and Leslie Lamport, *Consensus on Transaction Commit* (2006): why commit is a consensus
  problem, and Paxos Commit;
- Hector Garcia-Molina and Kenneth Salem, *Sagas* (1987).

**You will learn to:**
- state what atomic commitment requires, and who decides;
- run two-phase commit step by step, and count its messages, round trips and forced log writes;
- see the **blocking window**: why participants who voted yes must wait for a crashed coordinator;
- recover each node from its own log;
- see how three-phase commit avoids blocking, and how a partition breaks it;
- place Paxos Commit and sagas on the map.

Every section has a live cluster view with a preset. Each node's colour shows its state: working,
prepared (uncertain), committed or aborted. The table lists every transaction at every node.

*Estimated time: 60 minutes.* Key terms are listed in English and Chinese in the [glossary (术语表)](glossary.md).
"""))
cells.append(md(r"""## What the seed article got wrong

The seed describes a distributed transaction as every node sending requests to every other node. That
says nothing about the actual problem. The hard part is not sending requests. It is making sure that
all participants reach **the same decision**, commit or abort, even when the coordinator or a
participant crashes in the middle, and that nobody commits unless everybody *can* commit. That
requires:

- a **vote (投票)**, in which each participant promises that it can commit;
- **forced log writes (强制日志写入)** before each promise and each decision;
- a **recovery (恢复)** procedure that reads those logs.

The seed's `DistributedTransaction` class is still the front door. `fttoolkit.DistributedTransaction`
runs two-phase commit, and `fttoolkit.ThreePhaseCommit` runs three-phase commit.
"""))
cells.append(code(r"""from fttoolkit import DistributedTransaction, ThreePhaseCommit"""))

cells.append(md(r"""## Atomic commitment

Each participant votes *yes* (it can commit: its changes are safely stored and its locks are held) or
*no*. The rules, as Bernstein, Hadzilacos and Goodman state them in *Concurrency Control and Recovery
in Database Systems* (1987, §7.2):

1. all processes that decide reach the **same** decision;
2. a decision, once made, is never reversed;
3. **commit** is decided only if **all** participants voted yes;
4. if there are no failures and all voted yes, the decision is commit;
5. once failures are repaired and stay repaired long enough, every process decides.

Rules 1–3 are safety; rule 5 is liveness. Our invariants check **Atomicity** (rule 1), **Commit needs
unanimity** (rule 3) and **Durability** (a committed transaction's writes are at every participant)
after every step, and a liveness check asks that every transaction finish once the coordinator is back.
"""))

cells.append(md(r"""## Two-phase commit, step by step

Gray's protocol has a **coordinator (协调者)** and $n$ **participants (参与者)**.

**Phase 1, voting.**
- The coordinator sends `Prepare(T, writes)` to every participant.
- A participant that can commit locks the keys, **forces** a *prepared* record (with its writes) to
  stable storage, and only then votes `Vote(T, yes)`. From that moment it is **uncertain (不确定)**: it
  has given up the right to abort on its own.
- A participant that cannot commit votes no and aborts. It may do this because a key is locked by
  another prepared transaction, or because it refuses.

**Phase 2, decision.**
- With all votes yes, the coordinator **forces** a *commit* record; otherwise an *abort* record. Only
  then does it send `Commit(T)` or `Abort(T)`. The forced record is the moment of decision.
- Participants apply or discard the writes, log the outcome, release their locks, and reply `Ack(T)`.
- With every ack in, the coordinator writes an *end* record and can forget the transaction.
"""))
cells.append(code(r"""view = DistributedTransaction(nodes=4).show()
view.load_preset("clean_commit")
view"""))
cells.append(md(r"""**Cost.** With $n$ participants a transaction sends $4n$ messages ($n$ each of `Prepare`,
`Vote`, `Commit` and `Ack`). It takes 2 round trips before the participants know the outcome, and
$n + 1$ forced log writes on the critical path: $n$ prepared records and the coordinator's decision.
Participants also log the outcome, and the coordinator its end record, but nothing waits for those. We
count them in the trace:
"""))
cells.append(code(r"""def cost(participants):
    c = DistributedTransaction(nodes=participants + 1, seed=1)
    c.begin("T1", {p: {"x": 1} for p in c.ids[1:]})
    c.run(until=1000)
    sent = [type(e["msg"]).__name__ for e in c.trace if e.kind == "sent" and e["src"] != e["dst"]]
    stores = sum(1 for e in c.trace if e.kind == "stored")
    return len(sent), {name: sent.count(name) for name in sorted(set(sent))}, stores

for n in (2, 3, 5, 8):
    total, by_type, stores = cost(n)
    print(f"n = {n}: {total} messages (4n = {4 * n}) {by_type}; {stores} log writes (2n + 2 = {2 * n + 2})")"""))

cells.append(md(r"""### One no vote aborts everywhere

A single *no* is enough: the coordinator decides abort, and every participant that voted yes undoes
its prepared writes.
"""))
cells.append(code(r"""view = DistributedTransaction(nodes=4).show()
view.load_preset("no_vote_abort")
view"""))

cells.append(md(r"""## Blocking

A participant that has not voted yet may time out and abort on its own: nobody can have committed
without its vote. Once it has voted yes, it must wait. It cannot commit alone, because another
participant may have voted no, and the coordinator may have decided abort. It cannot abort alone
either, because the coordinator may already have decided commit and told someone. If the coordinator
crashes after everyone voted yes, the participants are **blocked (阻塞)**. They are uncertain, they hold
their locks, and other transactions that need those keys wait too, until the coordinator returns. This
is the **blocking window (阻塞窗口)**.
"""))
cells.append(code(r"""view = DistributedTransaction(nodes=4).show()
view.load_preset("blocking_window")
view"""))
cells.append(md(r"""**Why blocking is fundamental.** The **cooperative termination protocol (协作终止协议)** lets an
uncertain participant ask the other participants. Any that knows the outcome, or has not voted (and
can therefore abort), settles it. When *every* reachable participant is uncertain and the coordinator
is down, though, the outcome is stored only on the coordinator's disk. With crashes and unbounded
delays, no protocol in which the coordinator alone decides can avoid this (Skeen 1981). Gray and
Lamport (2006) make the link precise: the transaction manager's decision is a consensus problem.
Replace the single coordinator by a Paxos-replicated decision (**Paxos Commit**), and the protocol
stays live while a majority of the coordinators run. With one coordinator, Paxos Commit is exactly 2PC.
"""))

cells.append(md(r"""## Recovery from the log

After a crash, each node decides what to do from its own log alone:

| node | last record for $T$ | action on restart |
|---|---|---|
| participant | none, or *working* | abort $T$ (it never voted yes) |
| participant | *prepared* | uncertain: ask the coordinator (and, cooperatively, the others); keep the locks |
| participant | *commit* / *abort* | redo the outcome (idempotent), release locks |
| coordinator | *commit* / *abort*, no *end* | re-send the decision until everyone has acknowledged |
| coordinator | no decision | **presume abort**: decide abort and tell the participants |

The three presets below walk through the crash points: the coordinator down before and after its
decision, and a participant down after its yes vote.
"""))
cells.append(code(r"""for name in ("coordinator_crash_before_decision", "coordinator_crash_after_decision", "participant_recovery"):
    run = DistributedTransaction(nodes=4).load_preset(name)
    print(f"{name:>34}: {run.outcome('T1')}")"""))
cells.append(code(r"""view = DistributedTransaction(nodes=4).show()
view.load_preset("participant_recovery")
view"""))
cells.append(md(r"""Each ordering rule exists for a reason. Break one, and the fuzzer finds a run where atomicity
or durability fails, and shrinks it to a short script:
"""))
cells.append(code(r"""from fttoolkit.check.fuzz import fuzz

for bug in ("vote-before-force", "abort-after-yes", "decide-before-log"):
    report = fuzz(DistributedTransaction, 300, bugs=[bug], profile="crash", stop_at_first=True)
    found = report.failures[0] if report.failures else None
    what = f"{found.violations[0].invariant.split(':')[0]} at schedule {found.seed}, shrunk to " \
           f"{len(found.shrunk.actions)} actions" if found else "nothing"
    print(f"{bug:>18}: {what}")"""))

cells.append(md(r"""## Three-phase commit

Skeen's **three-phase commit (三阶段提交)** adds a round between the vote and the commit. After all
votes are yes, the coordinator sends `PreCommit(T)`, and participants record *precommitted* and
acknowledge. Only then does it send `DoCommit(T)`. The point is that no participant can be committed
while another is still merely uncertain: someone is always *precommitted* first.

If the coordinator fails, the participants run a **termination protocol**. They elect a new coordinator,
which collects their states:
- if anyone has committed, it commits;
- if anyone is precommitted, it sends `PreCommit` to the rest, then commits;
- if everyone is at best uncertain, it aborts. This is safe, because then nobody can have committed.

With crash failures only and bounded message delays, a timeout is a perfect failure detector, and 3PC
**never blocks**.
"""))
cells.append(code(r"""view = ThreePhaseCommit(nodes=4).show()
view.load_preset("coordinator_crash")
view"""))
cells.append(md(r"""**Its limits.** The termination protocol trusts the timeout: a node that does not answer is taken
to be crashed. A **network partition (网络分区)** breaks that assumption. Suppose the participants that
reached *precommitted* end up on one side and the merely uncertain ones on the other. Each side elects a
new coordinator: one commits, the other aborts. The preset `partition` shows exactly that, and the
Atomicity invariant catches it. This is why practical systems prefer 2PC with a replicated, consensus-based
coordinator (Paxos Commit, or a Raft group as the transaction manager) over 3PC.
"""))
cells.append(code(r"""run = ThreePhaseCommit(nodes=5).load_preset("partition")
print("outcome:", run.outcome("t1"), run.txn_states("t1"))
print("broken:", sorted({v["invariant"].split(":")[0] for v in run.violations}))"""))
cells.append(code(r"""view = ThreePhaseCommit(nodes=5).show()
view.load_preset("partition")
view"""))

cells.append(md(r"""## Sagas, in brief

Long-running business processes cannot hold locks for minutes. A **saga (长事务/Saga)**
(Garcia-Molina & Salem 1987) splits the work into local transactions $T_1, \dots, T_k$, each committed
at once. Each $T_i$ has a **compensation (补偿)** $C_i$ that semantically undoes it: a refund for a
charge, a cancellation for a booking. If step $j$ fails, the saga runs $C_{j-1}, \dots, C_1$. It gives
up isolation, because others see the intermediate states. It also gives up atomicity in the strict
sense: the world saw the charge before the refund. In exchange, nothing ever blocks.

## Exercises

`exercises/04_transactions.ipynb` asks you to write three pieces: the participant's vote-and-log
handler, the coordinator's decision rule, and the recovery decision from a participant's log. They run
in the simulator under the invariants. Voting yes before forcing the prepared record fails on a crash
scenario, with a seed and a script you can replay.

## Summary

- Atomic commitment: one decision for all, and commit only if everybody voted yes.
- 2PC costs $4n$ messages, 2 round trips and $n + 1$ forced writes on the critical path.
- A yes vote gives up the right to abort alone. If the coordinator fails then, participants block,
  holding their locks.
- Recovery reads each node's log; a coordinator with no decision presumes abort.
- 3PC's pre-commit round removes blocking under crash failures with bounded delays. A partition makes
  it violate atomicity.
- Replicating the coordinator with consensus (Paxos Commit) removes the single point of blocking.
  Sagas avoid locks by giving up isolation.
"""))


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import write  # noqa: E402

write(4, cells)
