"""Write notebooks/ from the cells below: Chapter 2 (run: python tools/build_detection.py).

The chapter is kept as Python source so that its diffs are readable; the notebook is committed
without outputs.  tools/chapters.py appends the closing "Where next" cell.
"""

import pathlib
import sys

from nbformat.v4 import new_markdown_cell as md, new_code_cell as code

cells = []
cells.append(md(r"""# Chapter 2 — Failure detection

Every fault-tolerant protocol needs to know who has failed: Raft's followers time out on a silent
leader, 2PC's participants suspect their coordinator, a primary-backup system fails over. A **failure
detector (故障检测器)** is the component that answers "is node $q$ still alive?". This chapter shows why
that answer can never be perfect, and how to measure the trade-off between fast detection and false
alarms.

Sources:
- Tushar Chandra and Sam Toueg, *Unreliable Failure Detectors for Reliable Distributed Systems* (1996);
- Wei Chen, Sam Toueg and Marcos Aguilera, *On the Quality of Service of Failure Detectors* (2002);
- Naohiro Hayashibara, Xavier Défago, Rami Yared and Takuya Katayama, *The φ Accrual Failure Detector*
  (2004);
- Abhinandan Das, Indranil Gupta and Ashish Motivala, *SWIM: Scalable Weakly-consistent Infection-style
  Process Group Membership Protocol* (2002).

**You will learn to:**
- explain why no detector can be both complete and accurate in an asynchronous system;
- measure detection time and false suspicions, and predict them from the timeout and the delay
  distribution;
- read φ, the suspicion level of an accrual detector;
- see how SWIM detects failures with a constant load per member, however large the group.

*Estimated time: 50 minutes.* Key terms are listed in English and Chinese in the [glossary (术语表)](glossary.md).
"""))
cells.append(md(r"""## What the seed article got wrong

The seed's failure detection is "send heartbeats, receive heartbeats, detect the failure". That skips
the whole difficulty. A missing heartbeat may mean a crash. It may also mean a slow network, a lost
message or a busy process, and the detector cannot tell which. Every detector therefore trades
**speed** against **mistakes**. The right question is not "does it detect failures?" but "how fast,
and how often wrong?". This chapter answers both with numbers.

`fttoolkit.FailureDetection(detector=...)` is the seed's front door. `detector="heartbeat"` gives fixed
timeouts, `"phi"` the φ accrual detector, `"swim"` SWIM.
"""))
cells.append(code(r"""import math
import statistics

import matplotlib.pyplot as plt

from fttoolkit import FailureDetection
from fttoolkit.doors.detection import HeartbeatDetection, PhiDetection, qos, summarize
from fttoolkit.doors.swim import SwimDetection"""))

cells.append(md(r"""## Perfect detection is impossible

Chandra and Toueg describe detectors by two properties:

- **Completeness (完整性)**: every crashed process is eventually suspected by every correct process;
- **Accuracy (准确性)**: correct processes are not suspected. *Strong* accuracy means never; *eventual*
  accuracy means only finitely often, after which no correct process is suspected.

A *perfect* detector $\mathcal{P}$ has both, in their strong forms. In an **asynchronous system
(异步系统)**, where delays have no bound, it cannot exist. A process that has not answered for $T$
ticks may still answer at $T + 1$, for any $T$. A detector must either wait forever (and lose
completeness) or sometimes suspect a live process (and lose accuracy). The useful class is **eventually
perfect** ($\Diamond\mathcal{P}$): complete, and accurate *after some unknown time*. Chandra and Toueg
showed that even the weaker $\Diamond\mathcal{S}$ is enough to solve consensus with a majority of
correct processes. That is the "partial synchrony" that Paxos and Raft rely on for progress.

In `fttoolkit`, completeness is an invariant with a bound derived from each detector's parameters, and
the fuzzer checks it (`python -m fttoolkit fuzz heartbeat --seeds 1000`). Accuracy is *measured*.
"""))

cells.append(md(r"""## Heartbeats and timeouts

Each member sends a **heartbeat (心跳)** every $\Delta$ ticks. A monitor suspects a member when no
heartbeat has arrived for $T$ ticks, **measured from the arrival of the last heartbeat**. It trusts the
member again as soon as one arrives.

Chen, Toueg and Aguilera's **quality-of-service (服务质量)** metrics make the trade-off precise:
- **detection time $T_D$**: from the crash until the monitor suspects it for good;
- **mistake recurrence time $T_{MR}$**: the time between two wrong suspicions;
- **mistake duration $T_M$**: how long a wrong suspicion lasts;
- **query accuracy $P_A$**: the probability that the monitor trusts a live member at a random moment.

**Detection time.** Say the member's last heartbeat was sent $u$ ticks before the crash and took $d$
ticks to arrive. Then the monitor suspects at $T_D = T + d - u$, with $0 \le u < \Delta$. Raising $T$
slows detection one for one.

**False suspicions.** With no loss, a live member is wrongly suspected when two consecutive arrivals are
more than $T$ apart. The gap is $\Delta + (d_{k+1} - d_k)$. For delays uniform on $[a, b]$ with
$w = b - a$, the difference $D$ of two delays has a triangular distribution on $[-w, w]$, so per
heartbeat
$$P(\text{false suspicion}) = P(D > T - \Delta) = \frac{\bigl(w - (T - \Delta)\bigr)^2}{2w^2}
\quad\text{for } \Delta \le T \le \Delta + w, \text{ and } 0 \text{ beyond}.$$
The measurement below sweeps the timeout, with $\Delta = 50$ and delays in $[5, 45]$:
"""))
cells.append(code(r"""interval, low, high = 50, 5, 45
w = high - low
timeouts = [50, 55, 60, 65, 70, 75, 80, 85, 90]
measured, predicted, detection = [], [], []
for timeout in timeouts:
    s = summarize(qos(HeartbeatDetection, range(4), nodes=4, until=4000, crash_at=3000,
                      interval_ticks=interval, timeout_ticks=timeout, delay=(low, high)))
    measured.append(0 if s["T_MR"] in (None, math.inf) else interval / s["T_MR"])
    x = timeout - interval
    predicted.append((w - x) ** 2 / (2 * w * w) if x <= w else 0.0)
    detection.append(s["T_D"])

fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
a.plot(timeouts, predicted, "k-", label="formula")
a.plot(timeouts, measured, "o", color="#D55E00", label="simulation")
a.set_xlabel("timeout T (ticks)"); a.set_ylabel("false suspicions per heartbeat"); a.legend()
b.plot(detection, measured, "o-", color="#0072B2")
for t, x, y in zip(timeouts, detection, measured):
    b.annotate(f"T={t}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
b.set_xlabel("detection time T_D (ticks)"); b.set_ylabel("false suspicions per heartbeat")
b.set_title("faster detection costs more mistakes")
plt.tight_layout(); plt.show()"""))
cells.append(code(r"""view = FailureDetection("heartbeat", nodes=5, seed=2, delay=(5, 45), timeout_ticks=60).show()
view.sim.run(until=600)
view.crash("n5")
view"""))
cells.append(md(r"""The bug `timeout-below-interval` sets the timeout shorter than the interval between
heartbeats. Every member is then suspected between two heartbeats: $P_A$ collapses, though no one
crashed.
"""))
cells.append(code(r"""for bugs in ([], ["timeout-below-interval"]):
    s = summarize(qos(HeartbeatDetection, range(3), nodes=4, until=2000, crash_at=None, bugs=bugs, delay=(5, 15)))
    print(f"bugs={bugs}: P_A = {s['P_A']:.3f}, wrong suspicions per run = {s['mistakes']:.0f}")"""))

cells.append(md(r"""## The φ accrual detector

A fixed timeout answers yes or no. The **φ accrual detector (φ 累积检测器)** instead outputs a
*suspicion level* that grows the longer a heartbeat is overdue. It keeps a sliding window of recent
inter-arrival times and fits a normal distribution with mean $\mu$ and standard deviation $\sigma$.
Then
$$\varphi(t) = -\log_{10} P_{\text{later}}(t - t_{\text{last}}), \qquad
P_{\text{later}}(x) = 1 - F_{\mu,\sigma}(x).$$
$\varphi = 1$ means a 10% chance that a heartbeat this late would still arrive; $\varphi = 2$ means 1%,
$\varphi = 3$ means 0.1%. The application picks a threshold; here a member is suspected at
$\varphi \ge 8$. Because $\mu$ and $\sigma$ are learned, the detector adapts to the network. The plot
follows φ for one monitored member while the run goes on; the member crashes at $t = 1000$.
"""))
cells.append(code(r"""cluster = PhiDetection(nodes=3, seed=4, delay=(5, 30))
times, phis = [], []
for t in range(400, 1300, 2):
    if t == 1000:
        cluster.crash("n3")
    cluster.run(until=t)
    times.append(t)
    phis.append(min(cluster.phi("n1", "n3"), 12))
fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(times, phis, color="#0072B2")
ax.axhline(8, color="#D55E00", ls="--", label="threshold 8")
ax.axvline(1000, color="k", ls=":", label="n3 crashes")
ax.set_xlabel("tick"); ax.set_ylabel("φ of n3 at n1 (capped at 12)"); ax.legend()
plt.show()
print("suspects at the end:", cluster.suspects())"""))
cells.append(code(r"""view = PhiDetection(nodes=5, seed=4, delay=(5, 30)).show()
view.sim.run(until=800)
view.crash("n3")
view"""))
cells.append(md(r"""The threshold plays the role of the timeout. Sweeping it shows the same trade-off, now in
units of probability:
"""))
cells.append(code(r"""rows = []
for threshold in (1, 2, 4, 8):
    s = summarize(qos(PhiDetection, range(3), nodes=4, until=3000, crash_at=2000, threshold=threshold,
                      delay=(5, 40), loss=0.05))
    rows.append((threshold, s["T_D"], s["P_A"]))
    print(f"φ threshold {threshold}: T_D = {s['T_D']:.0f} ticks, P_A = {s['P_A']:.4f}")"""))

cells.append(md(r"""## SWIM: detection at scale

All-to-all heartbeats cost $n(n-1)$ messages per period: a million for 1,000 members. **SWIM** splits
detection from dissemination:

- Each period, a member **probes (探测)** one other member, chosen round-robin over a shuffled list:
  `Ping`, answered by `Ack`.
- If no Ack arrives, it asks $k$ others to probe on its behalf (`PingReq`, an **indirect probe
  (间接探测)**). A lossy link alone does not condemn a member.
- Still nothing: the member is **suspected**, and the suspicion spreads by **gossip (流言传播)**,
  piggybacked on the protocol's own messages. A suspected member that hears of it refutes it with a
  higher **incarnation number (化身编号)**. An unrefuted suspicion becomes "dead" after a timeout.

Every member sends about 2 messages per period, whatever $n$. How soon is a crashed member first
probed? Each of the other $n-1$ members picks it with probability about $\frac{1}{n-1}$ per period, so
nobody picks it with probability $\left(1-\frac{1}{n-1}\right)^{n-1} \to e^{-1}$. The expected number of
periods until the first probe is therefore
$$\frac{1}{1 - e^{-1}} = \frac{e}{e-1} \approx 1.58 .$$
This formula assumes random targets. Our members go round-robin over a shuffled list and never repeat a
target within a round, which spreads the probes more evenly.
"""))
cells.append(code(r"""periods = SwimDetection.first_probe_periods(60, nodes=40)
print(f"measured mean {statistics.mean(periods):.2f} periods over {len(periods)} runs; "
      f"e/(e-1) = {math.e / (math.e - 1):.2f}; "
      f"finite-n random-target formula = {1 / (1 - (1 - 1 / 39) ** 39):.2f}")
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.hist(periods, bins=range(1, max(periods) + 2), align="left", rwidth=0.8, color="#009E73")
ax.set_xlabel("periods until the crashed member is first probed"); ax.set_ylabel("runs")
plt.show()"""))
cells.append(code(r"""view = SwimDetection(nodes=8, seed=1, loss=0.1).show()
view.sim.run(until=800)
view.crash("n4")
view"""))
cells.append(md(r"""**Message load.** Here we measure messages per period: all-to-all heartbeats at 10 and 100 members,
computed at 1,000 ($n(n-1)$), against SWIM at 10, 100 and 1,000 members. Set `FULL = True` to run
SWIM with 1,000 members for 100 periods instead of 5 (about 7 s).
"""))
cells.append(code(r"""FULL = False
sizes, heartbeat_total, swim_total = [10, 100, 1000], [], []
for n in sizes:
    if n <= 100:
        hb = HeartbeatDetection(nodes=n, seed=1, check=False)
        hb.sim.snapshot_every = None          # no time-travel snapshots: big clusters run much faster
        hb.run(until=550)
        sent = sum(1 for e in hb.trace if e.kind == "sent" and 50 <= e.tick < 550)
        heartbeat_total.append(sent / 10)     # ten 50-tick periods
    else:
        heartbeat_total.append(n * (n - 1))
    sw = SwimDetection(nodes=n, seed=1, check=False)
    sw.sim.snapshot_every = None
    span = (100 if FULL else 5) * 100
    sw.run(until=span)
    swim_total.append(sw.messages_per_member_per_period(0, span) * n)
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.loglog(sizes, heartbeat_total, "o-", color="#D55E00", label="all-to-all heartbeats (1000: computed)")
ax.loglog(sizes, swim_total, "s-", color="#0072B2", label="SWIM (measured)")
ax.set_xlabel("members n"); ax.set_ylabel("messages per period, whole group"); ax.legend(fontsize=8)
plt.show()
for n, h, s in zip(sizes, heartbeat_total, swim_total):
    print(f"n = {n:>4}: all-to-all {h:>9,.0f}   SWIM {s:>6,.0f}  ({s / n:.1f} per member)")"""))
cells.append(md(r"""Two of SWIM's rules can be switched off as bugs. Without indirect probes (`no-indirect`), false
suspicions soar under loss. Without incarnation numbers (`no-incarnation`), a stale suspicion can
override a refutation.
"""))
cells.append(code(r"""def false_suspicions(bugs, loss=0.2, seed=1):
    c = SwimDetection(nodes=8, seed=seed, loss=loss, bugs=bugs, check=False)
    c.run(until=3000)
    return sum(1 for e in c.trace if e.kind == "note" and e["text"] == "suspect")

for bugs in ([], ["no-indirect"]):
    print(f"bugs={bugs}: {sum(false_suspicions(bugs, seed=s) for s in range(3))} suspicions of live members (3 runs)")"""))

cells.append(md(r"""## Exercises

`exercises/02_failure_detection.ipynb`: compute φ from a window of arrivals; choose a timeout that
meets a target false-suspicion rate for a given delay distribution; write SWIM's handling of an
indirect probe. Each is checked by formula and in the simulator.

## Summary

- No detector is both complete and accurate in an asynchronous system. $\Diamond\mathcal{P}$ (eventually
  accurate) is what we can build, and it is enough for consensus.
- With timeout $T$ and interval $\Delta$: $T_D = T + d - u$, and false suspicions per heartbeat
  $\frac{(w-(T-\Delta))^2}{2w^2}$ for uniform jitter $w$. Detection speed and accuracy pull in opposite
  directions.
- φ turns silence into a probability, so one threshold adapts to the network.
- SWIM probes one member per period, confirms through others, and gossips on its own messages. The
  load per member stays constant; the first probe of a crashed member comes after about $e/(e-1)$
  periods.
"""))


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from chapters import write  # noqa: E402

write(2, cells)
