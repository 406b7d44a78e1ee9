"""fttoolkit: learn fault tolerance in distributed systems by running it.

Every algorithm of the course runs step by step on a deterministic simulated
cluster.  The front doors share one shape::

    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=7)
    >>> cluster.broadcast("n1", "hello")
    >>> _ = cluster.run(until=200)
    >>> cluster.delivered()["n3"]
    ['n1:1']

The seed article's five classes (``Paxos``, ``Raft``, ``DistributedTransaction``,
``FailureDetection``, ``FailureRecovery``) are the course's main front doors;
each comes with its chapter: ``Paxos`` (with ``MultiPaxos``), ``Raft`` (with ``RaftKV``, a
linearizable key-value store), ``DistributedTransaction`` (with ``ThreePhaseCommit``),
``FailureDetection`` and ``FailureRecovery`` (``WriteAheadLog`` and ``PrimaryBackup``).
Chapter 1 adds ``QuorumStore`` and Chapter 8 ``ByzantineAgreement``.

Layers (imports point down only): ``core`` -> ``algorithms`` -> ``sim`` ->
``check`` -> ``viz`` / ``grading``; the front doors in ``doors`` sit on top.
The front doors are loaded on first use, so ``import fttoolkit.algorithms``
pulls in neither the simulator nor networkx.
"""

from .core import BadParameter, FtError, InvalidAction, Message, Node, Timer, UnknownNode

__version__ = "0.1.0"

_LAZY = {"Broadcast", "Paxos", "Raft", "MultiPaxos", "FrontDoor", "REGISTRY", "Simulation", "DistributedTransaction", "ThreePhaseCommit", "FailureDetection", "SwimDetection", "ByzantineAgreement", "WriteAheadLog", "QuorumStore", "RaftKV", "PrimaryBackup", "FailureRecovery"}

__all__ = ["Broadcast", "Paxos", "Raft", "MultiPaxos", "DistributedTransaction", "ThreePhaseCommit", "FailureDetection", "SwimDetection", "ByzantineAgreement", "WriteAheadLog", "QuorumStore", "RaftKV", "PrimaryBackup", "FailureRecovery", "FrontDoor", "REGISTRY", "Simulation", "Node", "Message", "Timer",
           "FtError", "UnknownNode", "BadParameter", "InvalidAction", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        if name == "Simulation":
            from .sim import Simulation
            return Simulation
        from . import doors
        return getattr(doors, name)
    raise AttributeError(f"module 'fttoolkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
