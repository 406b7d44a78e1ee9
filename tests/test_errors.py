"""Bad input gets a clear error naming what was wrong and what is allowed."""

import re

import networkx as nx
import pytest

from fttoolkit import BadParameter, Broadcast, FtError, InvalidAction, UnknownNode
from fttoolkit.doors import door_for
from fttoolkit.sim import Simulation
from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest


def cluster(**kw):
    return Broadcast(nodes=3, seed=1, **kw)


@pytest.mark.parametrize("make, error, text", [
    (lambda: cluster().crash("n9"), UnknownNode, "unknown node 'n9'; the cluster has: n1, n2, n3"),
    (lambda: cluster().broadcast("x", "v"), UnknownNode, "unknown node 'x'"),
    (lambda: cluster().partition(["n1"], ["n7"]), UnknownNode, "unknown node 'n7'"),
    (lambda: door_for("rfat"), BadParameter, "unknown algorithm 'rfat'; available: 2pc, 3pc, broadcast, heartbeat, multipaxos"),
    (lambda: cluster(delay=-3), BadParameter, "delay cannot be negative; got -3 (allowed: 0 or more ticks)"),
    (lambda: cluster(delay=(9, 2)), BadParameter, "low <= high"),
    (lambda: cluster(delay=2.5), BadParameter, "whole number of ticks or a (low, high) pair"),
    (lambda: cluster(loss=1.5), BadParameter, r"loss is a probability and must lie in [0, 1]; got 1.5"),
    (lambda: cluster(duplicate=-0.1), BadParameter, "duplicate is a probability"),
    (lambda: cluster().set_link("n1", "n2", reorder=2), BadParameter, "reorder is a probability"),
    (lambda: cluster().set_network(jitter=3), BadParameter, "unknown network setting 'jitter'; allowed: delay"),
    (lambda: cluster().partition(["n1", "n2"], ["n2", "n3"]), BadParameter,
     "partition groups overlap: n2 is in group 1 and group 2"),
    (lambda: cluster().partition(["n1", "n2", "n3"]), BadParameter, "cuts no link"),
    (lambda: cluster().partition(), BadParameter, "at least one non-empty group"),
    (lambda: cluster().restart("n1"), InvalidAction, "n1 is running; only a crashed node can be restarted"),
    (lambda: Broadcast(nodes=0), BadParameter, "at least 1 node"),
    (lambda: Broadcast(seed=-1), BadParameter, "seed must be a whole number >= 0"),
    (lambda: Broadcast(seed="7"), BadParameter, "seed must be a whole number >= 0"),
    (lambda: Broadcast(retry_tiks=5), BadParameter, "no parameter 'retry_tiks'; allowed: retry_jitter_ticks, retry_ticks"),
    (lambda: Broadcast(bugs=["nope"]), BadParameter, "no bug 'nope'; known bugs: ack-before-persist"),
    (lambda: cluster().set_clock_rate("n1", 0), BadParameter, "clock rate must be a number > 0"),
    (lambda: cluster().run(until=-4), BadParameter, "until must be a tick"),
    (lambda: cluster().deliver("m99"), InvalidAction, "'m99' is not a message in flight; pending now:"),
    (lambda: cluster().fire("m1"), InvalidAction, "'m1' is not an armed timer; pending now: none"),
    (lambda: cluster().unclog("n1", "n2"), InvalidAction, "not clogged"),
    (lambda: Broadcast(nodes=nx.path_graph(3)).clog("n0", "n2"), InvalidAction, "no link between n0 and n2"),
    (lambda: Broadcast(nodes=["a", "a"]), BadParameter, "unique"),
    (lambda: cluster().crash("n1", tear=0), InvalidAction, "not a storage write"),
    (lambda: cluster().broadcast("n1", ["a", "list"]), BadParameter, "a broadcast value must be immutable"),
])
def test_bad_input_is_explained(make, error, text):
    with pytest.raises(error, match=re.escape(text)):
        make()


def test_partition_may_not_name_a_crashed_node():
    c = cluster()
    c.crash("n2")
    with pytest.raises(InvalidAction, match="n2 is crashed; a partition may only name running nodes "
                                            r"\(running: n1, n3\)"):
        c.partition(["n1"], ["n2"])


def test_crashing_a_crashed_node_is_refused():
    c = cluster()
    c.crash("n2")
    with pytest.raises(InvalidAction, match="n2 is crashed"):
        c.crash("n2")


def test_add_node_after_the_start_is_refused_for_broadcast():
    c = cluster()
    c.step()
    with pytest.raises(InvalidAction, match="does not support nodes joining during a run"):
        c.add_node()


def test_scheduling_in_the_past_or_an_unknown_action():
    sim = Simulation(BroadcastNode, 2)
    sim.run(until=50)
    with pytest.raises(BadParameter, match=r"at must be a tick >= now \(50\)"):
        sim.schedule(10, "crash", "n1")
    with pytest.raises(BadParameter, match="cannot schedule 'explode'"):
        sim.schedule(60, "explode", "n1")


def test_every_user_error_is_an_fterror_and_a_valueerror():
    for cls in (UnknownNode, BadParameter, InvalidAction):
        assert issubclass(cls, FtError) and issubclass(cls, ValueError)


def test_request_must_be_a_message():
    sim = Simulation(BroadcastNode, 2)
    with pytest.raises(BadParameter, match="a request must be a Message"):
        sim.request("n1", "hello")
    with pytest.raises(BadParameter, match="not a node id"):
        sim.request("n1", BroadcastRequest("v"), client="n2")
