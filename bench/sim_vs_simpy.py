"""Simulator throughput against SimPy on the same message-passing workload.

The workload: N nodes, K tokens, each token making H hops (K * H deliveries in
all).  Token ``t`` starts at node ``t % N``; a node that sends hop ``h`` of
token ``t`` sends it to ``next_hop(t, h, node)`` (a pure function, no RNG)
after a fixed one-way delay D; whoever receives hop ``h`` sends hop ``h + 1``
at once, until hop ``H - 1`` has been delivered.

Both sides deliver exactly the same messages in the same order: fttoolkit
orders its heap by ``(tick, priority, sequence)`` and, on fixed-delay FIFO
links, a message is sent right after the delivery that caused it; SimPy
orders same-time events by insertion (eid) and a process resumed by its
timeout schedules the next one at once.  Each side records every delivery as
``(tick, src, dst, t, h)`` (fttoolkit in its always-on trace, SimPy with one
list append per delivery) and the two sequences are asserted equal before
anything is reported.

Two SimPy models are measured:

* **message passing** (the headline comparison): the cluster written in SimPy
  the way one models message passing there: node objects whose handlers are
  dispatched by message type, one process per message in transit (it sleeps
  ``env.timeout(D)``, then calls the receiver), the same ``Token`` message
  objects, and a trace with the same events as fttoolkit's (a ``sent`` and a
  ``delivered`` record per message, with the same fields).  It is measured as
  SimPy users run it, and once more with Python's cyclic garbage collector
  paused, as fttoolkit pauses it during its runs.
* **token processes**: the most stripped-down SimPy program that produces the
  same deliveries: one process per token sleeping per hop, one list append
  per delivery, no nodes, no messages, no trace.  This is not the same work,
  and fttoolkit is much slower than it; it is reported so nobody is misled.

Prints one JSON object per line (R = SimPy's time / fttoolkit's time; above 1
means fttoolkit is faster; best of --repeat runs):
  {"bench": "sim-token-ring-deliveries-per-second", "value": V, "unit": "deliveries/s"}
  {"bench": "simpy-messages-token-ring-deliveries-per-second", "value": V, "unit": "deliveries/s"}
  {"bench": "sim-vs-simpy", "vs": "simpy", "ratio": R}
  {"bench": "sim-vs-simpy-gc-paused", "vs": "simpy", "ratio": R}
  {"bench": "sim-vs-simpy-token-processes", "vs": "simpy", "ratio": R}
Run: .venv/bin/python bench/sim_vs_simpy.py [--nodes N] [--tokens K] [--hops H] [--repeat R] [--quick]
"""

import argparse
import gc
import itertools
import json
import sys
import time

import simpy

from fttoolkit.core.ids import node_ids
from fttoolkit.core.messages import Message
from fttoolkit.core.node import Node
from fttoolkit.sim.simulation import Simulation

DEFAULTS = {"nodes": 10, "tokens": 50, "hops": 2000}   # 100,000 deliveries
QUICK = {"tokens": 20, "hops": 100}                     # 2,000 deliveries
DELAY = 10                                              # fixed one-way delay, in ticks


def next_hop(t, h, node, n):
    """The node (index 0..n-1) that receives hop ``h`` of token ``t`` sent by ``node``; never ``node``."""
    return (node + 1 + (t * 7 + h * 13) % (n - 1)) % n


# ======================================================================== fttoolkit side
class Token(Message):
    t: int
    h: int


class TokenNode(Node):
    """Starts the tokens whose origin it is; forwards every token it receives."""

    params = {"tokens": 50, "hops": 2000}

    def on_start(self, records):
        self.n = len(self.peers) + 1
        self.index = int(self.id[1:]) - 1          # "n1" -> 0
        self.names = node_ids(self.n)
        self.hops = self.params["hops"]
        for t in range(self.index, self.params["tokens"], self.n):
            self.send(self.names[next_hop(t, 0, self.index, self.n)], Token(t, 0))

    def on_token(self, msg, sender):
        h = msg.h + 1
        if h < self.hops:
            self.send(self.names[next_hop(msg.t, h, self.index, self.n)], Token(msg.t, h))


def run_fttoolkit(nodes, tokens, hops, delay):
    """Build and run the simulation; return it (its trace holds the deliveries)."""
    sim = Simulation(TokenNode, topology=nodes, seed=1, params={"tokens": tokens, "hops": hops},
                     network={"delay": delay})
    sim.run(max_steps=2 * tokens * hops + 10 * nodes + 10)
    return sim


def fttoolkit_deliveries(sim):
    """The deliveries of a finished run as ``(tick, src, dst, t, h)``, node ids as indexes."""
    index = {name: i for i, name in enumerate(node_ids(len(sim.ids)))}
    out = []
    for e in sim.trace.filter("delivered"):
        d = e.data
        msg = d["msg"]
        out.append((e.tick, index[d["src"]], index[d["dst"]], msg.t, msg.h))
    return out


# ============================================================================ SimPy side
def run_simpy(nodes, tokens, hops, delay):
    """Build and run the SimPy model; return the list of deliveries ``(tick, src, dst, t, h)``."""
    env = simpy.Environment()
    log = []
    record = log.append
    timeout = env.timeout

    def token(t, node):
        for h in range(hops):
            dst = next_hop(t, h, node, nodes)
            yield timeout(delay)
            record((env.now, node, dst, t, h))
            node = dst

    # Same start order as fttoolkit: origin nodes in order, each one's tokens in order.
    for origin in range(nodes):
        for t in range(origin, tokens, nodes):
            env.process(token(t, origin))
    env.run()
    return log


def run_simpy_messages(nodes, tokens, hops, delay):
    """The same cluster as fttoolkit's, modelled in SimPy; return its deliveries."""
    env = simpy.Environment()
    trace = []
    mids = itertools.count(1)

    class SimpyNode:
        def __init__(self, index):
            self.index = index
            self.handlers = {Token: self.on_token}

        def start(self):
            for t in range(self.index, tokens, nodes):
                self.send(next_hop(t, 0, self.index, nodes), Token(t, 0))

        def receive(self, msg, src):
            self.handlers[type(msg)](msg, src)

        def on_token(self, msg, src):
            h = msg.h + 1
            if h < hops:
                self.send(next_hop(msg.t, h, self.index, nodes), Token(msg.t, h))

        def send(self, dst, msg):
            mid = next(mids)
            trace.append({"seq": len(trace), "tick": env.now, "kind": "sent", "node": self.index,
                          "src": self.index, "dst": dst, "msg": msg, "mid": mid, "due": env.now + delay})
            env.process(transit(self.index, dst, msg, mid))

    def transit(src, dst, msg, mid):
        yield env.timeout(delay)
        trace.append({"seq": len(trace), "tick": env.now, "kind": "delivered", "node": dst,
                      "src": src, "dst": dst, "msg": msg, "mid": mid})
        cluster[dst].receive(msg, src)

    cluster = [SimpyNode(i) for i in range(nodes)]
    for node in cluster:
        node.start()
    env.run()
    return [(e["tick"], e["src"], e["dst"], e["msg"].t, e["msg"].h) for e in trace if e["kind"] == "delivered"]


def gc_paused(fn):
    def run(*args):
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args)
        finally:
            if was:
                gc.enable()
    return run


# ================================================================================ driver
def timed(fn, *args):
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=None, help=f"default {DEFAULTS['nodes']}")
    parser.add_argument("--tokens", type=int, default=None, help=f"default {DEFAULTS['tokens']}")
    parser.add_argument("--hops", type=int, default=None, help=f"default {DEFAULTS['hops']}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help=f"small size ({QUICK['tokens']} tokens x {QUICK['hops']} hops) for tests")
    parser.add_argument("--details", action="store_true", help="also print times and event counts on stderr")
    args = parser.parse_args()
    sizes = dict(DEFAULTS, **(QUICK if args.quick else {}))
    nodes, tokens, hops = (sizes[k] if getattr(args, k) is None else getattr(args, k)
                           for k in ("nodes", "tokens", "hops"))
    if nodes < 2 or tokens < 1 or hops < 1 or args.repeat < 1:
        parser.error("need --nodes >= 2, --tokens >= 1, --hops >= 1 and --repeat >= 1")
    total = tokens * hops

    best = {}
    for _ in range(args.repeat):
        t_sim, sim = timed(run_fttoolkit, nodes, tokens, hops, DELAY)
        sim_log, sim_events, sim_steps = fttoolkit_deliveries(sim), len(sim.trace), sim.steps
        del sim   # free the trace first: live objects would slow the other side's garbage collections
        assert len(sim_log) == total, f"fttoolkit delivered {len(sim_log)} messages, expected {total}"
        times = {"sim": t_sim}
        for name, fn in (("messages", run_simpy_messages), ("messages-gc-paused", gc_paused(run_simpy_messages)),
                         ("tokens", run_simpy)):
            times[name], log = timed(fn, nodes, tokens, hops, DELAY)
            assert log == sim_log, f"fttoolkit and SimPy ({name}) delivered different sequences"
            del log
        for name, value in times.items():
            best[name] = min(best.get(name, value), value)
        if t_sim == best["sim"]:
            events, steps = sim_events, sim_steps
        del sim_log

    print(json.dumps({"bench": "sim-token-ring-deliveries-per-second", "value": round(total / best["sim"]),
                      "unit": "deliveries/s"}))
    print(json.dumps({"bench": "simpy-messages-token-ring-deliveries-per-second",
                      "value": round(total / best["messages"]), "unit": "deliveries/s"}))
    print(json.dumps({"bench": "sim-vs-simpy", "vs": "simpy", "ratio": round(best["messages"] / best["sim"], 3)}))
    print(json.dumps({"bench": "sim-vs-simpy-gc-paused", "vs": "simpy",
                      "ratio": round(best["messages-gc-paused"] / best["sim"], 3)}))
    print(json.dumps({"bench": "sim-vs-simpy-token-processes", "vs": "simpy",
                      "ratio": round(best["tokens"] / best["sim"], 3)}))
    if args.details:
        print(f"{nodes} nodes, {tokens} tokens x {hops} hops = {total} deliveries, delay {DELAY}; "
              f"best of {args.repeat}\n"
              f"fttoolkit: {best['sim']:.3f} s, {events} trace events ({events / best['sim']:,.0f} events/s), "
              f"{steps} steps ({steps / best['sim']:,.0f} steps/s)\n"
              + "".join(f"SimPy {name}: {best[name]:.3f} s\n" for name in ("messages", "messages-gc-paused", "tokens")),
              file=sys.stderr, end="")


if __name__ == "__main__":
    main()
