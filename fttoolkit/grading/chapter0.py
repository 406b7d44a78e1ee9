"""Chapter 0's exercises, on the reliable broadcast (the course's demo protocol).

* 0.1 **Who is missing a message?** A function over the cluster's state.
* 0.2 **Deliver exactly once.** The student writes ``on_rumor``; their node
  runs in the real simulator with duplicates, losses and crashes, and the
  protocol's own invariants and liveness check grade it.
* 0.3 **Break it.** With the ``deliver-before-persist`` bug switched on, the
  student arranges a crash that makes a node deliver a message twice.
"""

from ..algorithms.broadcast import BroadcastNode
from ..doors.broadcast import Broadcast
from .model import Case, Exercise, Fail, expect, register

__all__ = []


# ---------------------------------------------------------------------------------- 0.1
def _missing_reference(cluster, msg_id):
    return sorted((i for i, got in cluster.delivered().items() if got is not None and msg_id not in got),
                  key=lambda i: int(i[1:]))


def _missing_case(build, what):
    def check(ns):
        cluster = build()
        expected = _missing_reference(cluster, "n1:1")
        got = ns["missing"](cluster, "n1:1")
        if isinstance(got, (set, tuple)):
            got = sorted(got)
        return expect(got, expected, f'missing(cluster, "n1:1") {what}')
    return check


def _everyone():
    cluster = Broadcast(nodes=4, seed=1)
    cluster.broadcast("n1", "hello")
    cluster.run()
    return cluster


def _split_and_crashed():
    cluster = Broadcast(nodes=5, seed=2)
    cluster.crash("n5")
    cluster.partition(["n1", "n2"], ["n3", "n4"])
    cluster.broadcast("n1", "hello")
    cluster.run(until=300)
    return cluster


register(Exercise(
    "0.1", "Who is missing a message?", needs=["missing"],
    hint="cluster.delivered() maps each node id to the message ids it delivered, or None for a crashed node",
    cases=[
        Case("after a calm run", _missing_case(_everyone, "after every node delivered it")),
        Case("with a partition and a crashed node",
             _missing_case(_split_and_crashed, "with n3, n4 cut off and n5 crashed")),
    ]))


# ---------------------------------------------------------------------------------- 0.2
def _student_door(cls):
    if not (isinstance(cls, type) and issubclass(cls, BroadcastNode)):
        raise Fail("DedupNode must be a class that extends BroadcastNode",
                   expected="class DedupNode(BroadcastNode): ...", got=repr(cls))
    return type("StudentBroadcast", (Broadcast,), {"node_class": cls})


def _runs(ns, title, seeds, setup, until, judge):
    door_class = _student_door(ns["DedupNode"])
    for seed in seeds:
        cluster = door_class(seed=seed, halt=True, **setup["make"])   # stop at the first broken invariant
        for action in setup["actions"]:
            action(cluster)
        cluster.run(until=until)
        problem = judge(cluster)
        if problem:
            expected, got = problem
            raise Fail(f"{title} (seed {seed})", expected=expected, got=got, seed=seed,
                       script=cluster.to_script([f"exercise 0.2: {title}, seed {seed}"]), run=cluster)
    return f"{len(seeds)} runs"


def _no_double_delivery(cluster):
    if cluster.violations:
        v = cluster.violations[0]
        return "each node delivers each message once", f"{v.describe()} (at t={v.tick})"
    return None


def _everyone_and_quiet(cluster):
    problem = _no_double_delivery(cluster)
    if problem:
        return problem
    broken = cluster.check_liveness()
    if broken:
        return "every running node delivers every message", broken[0].detail
    waiting = {i: sorted(n.unacked) for i, n in cluster.nodes.items() if cluster.sim.up[i] and n.unacked}
    if waiting:
        node_id, ids = next(iter(waiting.items()))
        return ("every copy is acknowledged, so retransmissions stop",
                f"at t={cluster.now} {node_id} still waits for acknowledgements of {', '.join(ids)}")
    return None


def _broadcasts(*values, start=0):
    def act(cluster):
        for k, value in enumerate(values):
            cluster.broadcast(f"n{k + 1}", value, at=start + k * 7)
    return act


register(Exercise(
    "0.2", "Deliver exactly once", needs=["DedupNode"],
    hint="a Rumor already in self.seen must not be delivered again, but must still be acknowledged; "
         "self.accept(msg.id, msg.value, exclude=sender) stores, delivers and forwards a new one",
    cases=[
        Case("a network that duplicates messages", lambda ns: _runs(
            ns, "no node delivers a message twice", range(1, 7),
            {"make": dict(nodes=4, duplicate=0.4), "actions": [_broadcasts("a", "b")]}, 1500,
            _no_double_delivery)),
        Case("a lossy network", lambda ns: _runs(
            ns, "everyone delivers and the retransmissions stop", range(1, 7),
            {"make": dict(nodes=4, loss=0.3), "actions": [_broadcasts("a", "b")]}, 3000,
            _everyone_and_quiet)),
        Case("a crash and a restart", lambda ns: _runs(
            ns, "a restarted node neither loses nor repeats a delivery", range(1, 7),
            {"make": dict(nodes=4, loss=0.1, duplicate=0.1),
             "actions": [_broadcasts("a"), lambda c: c.crash("n3", at=12), lambda c: c.restart("n3", at=200),
                         _broadcasts("x", "y", start=250)]}, 3000,
            _everyone_and_quiet)),
    ]))


# ---------------------------------------------------------------------------------- 0.3
def _breaks_integrity(ns):
    cluster = ns["break_it"]()
    if not isinstance(cluster, Broadcast):
        raise Fail("break_it() must return a Broadcast cluster", expected="a Broadcast", got=repr(cluster))
    if tuple(cluster.sim.bugs) != ("deliver-before-persist",):
        raise Fail("use exactly the bug deliver-before-persist", expected="bugs=['deliver-before-persist']",
                   got=f"bugs={list(cluster.sim.bugs)}")
    cluster.run(until=cluster.now + 2000)
    broken = [v for v in cluster.violations if v["invariant"].startswith("Integrity")]
    if not broken:
        raise Fail("no node delivered a message twice",
                   expected="an Integrity violation within 2000 ticks",
                   got=f"{len(cluster.violations)} violations; deliveries: {cluster.delivered()}",
                   seed=cluster.seed, script=cluster.to_script(["exercise 0.3"]), run=cluster)
    return f"Integrity broke at t={broken[0].tick}: {broken[0]['detail']}"


register(Exercise(
    "0.3", "Break it", needs=["break_it"],
    hint="the bug delivers before it persists: crash a node between the two with a crash point, "
         "cluster.crash(node, at=TICK, after=1), then restart it so it hears the message again",
    cases=[Case("the bug shows", _breaks_integrity, points=2)]))
