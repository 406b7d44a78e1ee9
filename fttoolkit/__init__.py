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
each arrives with its chapter.

Layers (imports point down only): ``core`` -> ``algorithms`` -> ``sim`` ->
``check`` -> ``viz`` / ``grading``; the front doors in ``doors`` sit on top.
"""

from .core import BadParameter, FtError, InvalidAction, Message, Node, Timer, UnknownNode
from .doors import REGISTRY, Broadcast, FrontDoor

__version__ = "0.1.0"

__all__ = ["Broadcast", "FrontDoor", "REGISTRY", "Node", "Message", "Timer",
           "FtError", "UnknownNode", "BadParameter", "InvalidAction", "__version__"]
