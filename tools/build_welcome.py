"""Write notebooks/00_welcome.ipynb from the cells below (run: python tools/build_welcome.py).

Keeping the chapter as Python source makes its diffs readable; the notebook is
committed without outputs.
"""

import pathlib
import sys

import nbformat as nbf

MD, CODE = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell

cells = [
    MD("""# Chapter 0 — Welcome

**fttoolkit** is a course on **fault tolerance (容错性)** in **distributed systems (分布式系统)**: how a
group of computers keeps working correctly when some of them crash, messages are lost, or the network
splits. Every algorithm in the course runs step by step on a *simulated* cluster that you can poke at:
crash a node, cut the network, replay a run exactly from its seed.

*Estimated time: 30 minutes.* Key terms are listed in English and Chinese in the
[glossary (术语表)](glossary.md).

**In this chapter you will**
1. run a small protocol on a simulated cluster and read its trace;
2. inject faults — a crash, a lossy network, a partition — and see what the protocol does;
3. play the network yourself in *manual mode*;
4. replay a run exactly from its seed.

5. read cause and effect off a space-time diagram with Lamport clocks and vector clocks;
6. learn how the graded exercises check themselves."""),
    MD("""## The map of the course

Each chapter builds on the ones it points to. Chapter 0 (this one) and Chapter 1 are for everyone. After
them you can take the three strands in any order: failures (2 → 3), transactions (4) and consensus
(5 → 6). Chapter 7 checks what the others built, and Chapter 8 looks back at all of them.

```
                      0 Welcome
                          │
                      1 Concepts
          ┌───────────────┼────────────────┐
 2 Failure detection   4 Transactions    5 Paxos
          │               │                │
 3 Failure recovery       │             6 Raft
          └───────────────┼────────────────┘
                      7 Checking
                          │
                   8 Outlook and FAQ
```

| chapter | you need first | what you take away |
|---|---|---|
| [1 Concepts](01_concepts.ipynb) | 0 | failure models; consistency, availability, scalability; quorums; CAP; availability maths |
| [2 Failure detection](02_failure_detection.ipynb) | 1 | heartbeats and timeouts, φ accrual, SWIM; why detection is never perfect |
| [3 Failure recovery](03_failure_recovery.ipynb) | 2 | write-ahead logs, checkpoints, failover with epochs and fencing, catch-up |
| [4 Distributed transactions](04_transactions.ipynb) | 1 | two-phase commit, blocking, recovery, three-phase commit, sagas |
| [5 Paxos](05_paxos.ipynb) | 1 | consensus, majorities, the two phases, FLP, Multi-Paxos |
| [6 Raft](06_raft.ipynb) | 5 (helpful) | elections, log replication, commitment, persistence, clients |
| [7 Checking](07_checking.ipynb) | 3–6 | invariants, the bug zoo, fuzzing, model checking, linearizability |
| [8 Outlook and FAQ](08_outlook_faq.ipynb) | all | geo-replication, Byzantine faults, the seed's five questions answered |"""),
    MD("""## A cluster in one line

Our first protocol is **reliable broadcast (可靠广播)** by flooding: a client asks one node to broadcast
a value; that node stores it, hands it to its application (*delivers* it), and forwards it to its
neighbours, who do the same. Every copy is acknowledged with an `Ack`, and copies nobody acknowledged are
re-sent by a timer, so the message gets through even when the network loses some.

Time in the simulator is counted in **ticks**: one tick stands for 1 ms of simulated time. A message
takes 5–15 ticks to cross a link unless you say otherwise."""),
    CODE("""from fttoolkit import Broadcast

cluster = Broadcast(nodes=4, seed=7)
cluster.broadcast("n1", "hello")
cluster.run()                # until nothing is left to happen
cluster.delivered()"""),
    MD("""Every node delivered message `n1:1` (the first message broadcast by `n1`). Everything that happened
is in the **trace**: one numbered event per line, with the tick at which it happened."""),
    CODE("""print(cluster.trace.transcript(0, 22))
print("...")
cluster.trace.counts()"""),
    MD("""Read the first lines: `n1` *stores* the message on its stable storage, *delivers* it (a `note`), then
*sends* a `Rumor` to each neighbour. A handler never does any of this itself: it records
**intentions**, and the simulator carries them out one at a time, in order. That is why a crash can
fall *between* "store" and "send" — which is exactly where many real bugs live.

## The cluster view

Reading traces is precise but slow. `show()` opens the **cluster view**: a picture of the cluster that
follows the simulation step by step, with the controls to drive it. Run the next cell, then:

1. press **Step** a few times and watch one event happen each time (the picture's top-left corner says
   which step and tick you are at; the event log under the controls lists what happened);
2. press **Play**, and **Pause** again; the `ticks/s` box sets how fast simulated time runs;
3. choose `n3` in the node menu and press **Crash**, then **Restart**; the panel on the right shows the
   full state of the chosen node;
4. type `n1 n2 | n3 n4 n5` in the box next to **Partition** and press it; then **Heal**;
5. set **loss** to 0.3, or type a new **delay** such as `5-20` and press Enter;
6. type a seed and press **Reset** to run the same experiment again with other random choices.

What the picture shows:

| you see | it means |
|---|---|
| a coloured shape moving along a link | a message in flight, from its sending to its delivery; each message type has its own colour *and* shape (see the legend) |
| a shape inside a black ring | a **duplicate (重复消息)**: a second copy the network made of a message |
| a vermillion ✗ on a link | a message **lost (丢失)** there: by random loss, at a cut, or arriving at a crashed node |
| a grey node with a black ✗ | a **crashed (崩溃)** node |
| dashed vermillion links, shaded groups | a **network partition (网络分区)**: the links between the groups are cut |
| a yellow badge such as *waits for 2 acks* | what the node is collecting (acknowledgements here; votes in Paxos and Raft) |
| a vermillion ring and a banner | a broken **invariant (不变量)**, with its name and the step where it broke |

Mistakes are fine: a partition naming a node that does not exist, restarting a node that is running or a
speed of 0 give a message above the picture, and nothing else happens."""),
    CODE("""cluster = Broadcast(nodes=5, seed=7, delay=(20, 60), loss=0.1)
cluster.broadcast("n1", "hello")
cluster.broadcast("n4", "world", at=150)
view = cluster.show()
view"""),
    MD("""The view and your code drive the *same* cluster: whatever a cell does to `cluster` shows in the
view when the cell finishes, and whatever you do with the buttons is in `cluster.trace`. The view's
actions can be called from code too, and a mistake shows in the view instead of stopping the cell:"""),
    CODE("""view.crash("n3")
cluster.run(until=cluster.now + 200)
view.restart("n1")          # n1 is running: the view says so
print(view.message)"""),
    MD("""## Reading a space-time diagram

Under the picture is a **space-time diagram (时空图)**, as Leslie Lamport drew them in *Time, Clocks,
and the Ordering of Events in a Distributed System* (1978): one horizontal line per node, time running
to the right, and an arrow for each message from the moment it was sent to the moment it was delivered.
Lost messages end in a ✗, crashes are black crosses, and the time a node spends crashed is a thick grey
line. An event $a$ **happened before (先发生于)** an event $b$, written $a \\rightarrow b$, when you can
walk from $a$ to $b$ along node lines (rightwards) and message arrows; events with no such path are
**concurrent (并发)**. You can draw the diagram of any window of a run:"""),
    CODE("""cluster.spacetime(0, 300)"""),
    MD(r"""## Cause and effect: happened-before and logical clocks

Nodes have no common clock, so "which came first?" has no answer for events on different nodes — unless
one could have *caused* the other. Lamport (1978) made this precise. Event $a$ **happened before (先发生于)**
event $b$, written $a \to b$, when

1. $a$ and $b$ are on the same node and $a$ comes first; or
2. $a$ sends a message and $b$ receives that message; or
3. $a \to c$ and $c \to b$ for some event $c$.

In the diagram, $a \to b$ means you can walk from $a$ to $b$ following node lines to the right and message
arrows. If neither $a \to b$ nor $b \to a$, the two events are **concurrent (并发)**: neither could have
influenced the other.

A **Lamport clock (Lamport 逻辑时钟)** is one counter per node. A node adds one before each event, a message
carries the sender's counter $t$, and the receiver sets its counter to $\max(C, t) + 1$. Then
$$a \to b \;\Rightarrow\; C(a) < C(b) \qquad \text{(the clock condition)},$$
but not the other way round: a smaller number does not mean "before". Here each send is labelled above
its node's line and each receive below it, in a short run with two broadcasts:"""),
    CODE("""from fttoolkit.check.clocks import lamport_clocks, vector_clocks, happened_before, concurrent

cluster = Broadcast(nodes=3, seed=4, delay=(10, 40))
cluster.broadcast("n1", "hi")
cluster.broadcast("n3", "yo", at=5)
cluster.run(until=80)
cluster.spacetime(0, 50, clocks="lamport", height=320)"""),
    MD(r"""A **vector clock (向量时钟)** (Fidge 1988, Mattern 1989) keeps one counter *per node*. A node increments
its own entry before each event, a message carries the whole vector, and the receiver takes the
element-wise maximum before incrementing its own entry. Vector clocks capture happened-before *exactly*:
$$a \to b \iff V(a) < V(b),$$
where $V(a) < V(b)$ means every entry of $V(a)$ is $\le$ the one in $V(b)$ and the vectors differ. Two
events are concurrent exactly when neither vector is below the other."""),
    CODE("""cluster.spacetime(0, 50, clocks="vector", height=320)"""),
    CODE("""lamport = lamport_clocks(cluster)
vector = vector_clocks(cluster)
pairs = [(i, j) for i in range(len(vector)) for j in range(len(vector)) if i != j]
fooled = [(i, j) for i, j in pairs if lamport[i].clock < lamport[j].clock and concurrent(vector[i], vector[j])]
print(len(vector), "sends and receives,", len(fooled), "ordered pairs with C(a) < C(b) that are concurrent")
i, j = fooled[0]
print("for example:", vector[i], " and ", vector[j])
print("Lamport clocks", lamport[i].clock, "<", lamport[j].clock, "; happened before?",
      happened_before(vector[i], vector[j]))"""),
    MD(r"""The Lamport clock puts these two events in an order, but neither caused the other. Vector clocks
say so, at the price of $n$ numbers per message. Chapter 1 uses versions like these to decide which
replica holds the newest value, and Chapter 7's linearizability checker asks the same question of
client operations: which could have come first?"""),
    MD("""## Faults: crashes, loss and partitions

A **crash (崩溃)** wipes a node's memory (its *volatile* state) but not what it wrote to *stable
storage*. Let us crash `n3` before anything happens, make the network lose 30% of messages, and bring
`n3` back later."""),
    CODE("""cluster = Broadcast(nodes=4, seed=7, loss=0.3)
cluster.crash("n3")
cluster.broadcast("n1", "hello")
cluster.run(until=150)
print("before restart:", cluster.delivered())
cluster.restart("n3")
cluster.run()
print("after restart: ", cluster.delivered())
print(cluster.trace.counts()["dropped"], "messages were dropped along the way")"""),
    MD("""A **network partition (网络分区)** splits the cluster into groups that cannot reach each other.
Nothing crosses the cut until we `heal()` it; then the retransmission timer finishes the job."""),
    CODE("""cluster = Broadcast(nodes=5, seed=3)
cluster.partition(["n1", "n2"], ["n3", "n4", "n5"])
cluster.broadcast("n1", "split")
cluster.run(until=200)
print("partitioned:", cluster.delivered())
cluster.heal()
cluster.run()
print("healed:     ", cluster.delivered())"""),
    MD("""## Manual mode: you are the network

`pending()` lists what could happen next: queued intentions (`i:n1`), messages in flight (`m3`) and
armed timers (`t2`). `deliver`, `drop`, `duplicate` and `fire` make the one you choose happen — this is
how you play the adversary."""),
    CODE("""cluster = Broadcast(nodes=3, seed=1)
cluster.broadcast("n1", "manual")
cluster.run(until=0)        # carry out n1's intentions: store, deliver, send
for item in cluster.pending():
    print(item)"""),
    CODE("""to_n3 = next(i for i in cluster.pending() if i.kind == "message" and i.dst == "n3")
cluster.drop(to_n3)                                # the network loses the copy for n3
to_n2 = next(i for i in cluster.pending() if i.kind == "message" and i.dst == "n2")
for event in cluster.deliver(to_n2):               # n2 receives it, stores, delivers, forwards
    print(event)"""),
    MD("""## Seeds and replay

All randomness — message delays, losses, each node's own choices — comes from one **seed**. The same
seed and the same actions give the same run, event for event, on any machine. That is what lets you,
your classmates and your instructor look at exactly the same bug."""),
    CODE("""def story(seed):
    c = Broadcast(nodes=5, seed=seed, loss=0.2, duplicate=0.1)
    c.broadcast("n2", "replay me")
    c.run()
    return c.trace.to_jsonl()

print("same seed, same run:     ", story(42) == story(42))
print("another seed, another run:", story(42) != story(43))"""),
    MD("""## Going back in time

Every run remembers its inputs, so you can **rewind** to any earlier step, look around, and go forward
again — or **fork** the cluster there and make a different choice, leaving the original untouched."""),
    CODE("""cluster = Broadcast(nodes=4, seed=7, loss=0.2)
cluster.broadcast("n1", "hello")
cluster.run()
end = cluster.steps
cluster.rewind(5)
print("after step 5:", cluster.delivered())
other = cluster.fork()          # a copy at step 5 ...
other.crash("n2")               # ... where n2 crashes instead
other.run(until=other.now + 300)
cluster.rewind(end)             # the original is still there
print("original:", cluster.delivered())
print("fork:    ", other.delivered())"""),
    MD("""## Writing a run down: scenario scripts

Any run — manual choices included — can be saved as a short text **scenario script**, one command per
line, and replayed exactly later (by you, a classmate, or your instructor):"""),
    CODE("""script = other.to_script(["n2 crashes after step 5"])
print(script)"""),
    CODE("""from fttoolkit.scenario import replay

again = replay(script).door
print("replayed exactly:", again.trace.to_jsonl() == other.trace.to_jsonl())"""),
    MD("""## Invariants and the bug zoo

Each protocol states the rules it must never break as named **invariants (不变量)**, checked after every
step, and ships with classic mistakes you can switch on. Here `no-dedup` makes nodes deliver every copy
they receive; with a network that duplicates messages, the *Integrity* invariant catches it at once:"""),
    CODE("""buggy = Broadcast(nodes=4, seed=1, bugs=["no-dedup"], duplicate=0.3)
buggy.broadcast("n1", "twice?")
buggy.run()
for event in buggy.violations[:3]:
    print(event)"""),
    MD("""In the cluster view, the nodes involved are ringed in vermillion, the banner names the invariant and the
step where it first broke, and the space-time diagram marks that moment. When you press **Play**, the
view pauses by itself at the step where an invariant breaks."""),
    CODE("""buggy.show(diagram_height=0)"""),
    MD("""From a terminal, `python -m fttoolkit fuzz broadcast --seeds 200 --bug deliver-before-persist` tries
200 random fault schedules, and prints the first one that breaks an invariant, shrunk to a handful of
commands, as a script you can `replay`.

The same is available from a terminal, where the trace can be saved as JSON Lines:

```
python -m fttoolkit run broadcast --nodes 5 --seed 42 --until 500 --loss 0.2 --trace run.jsonl
```"""),
    MD("""## Exercises that check themselves

`exercises/00_welcome.ipynb` has three graded exercises on this protocol. Each exercise is a cell where
you write a function or a handler, followed by a `check("0.1")` cell. Run it: it tests your code at once —
on hand-made cases and in the simulator, under faults — and tells you which rule failed and why. A run
that fails comes with its seed and a scenario script, and `show_run(...)` opens it in the cluster view,
so you can step through exactly what went wrong. Code that raises an exception or never finishes is
stopped and reported; it cannot break the checker. Instructors grade a whole folder of submitted
notebooks with `python -m fttoolkit grade FOLDER`."""),
]

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import write  # noqa: E402

write(0, cells)
