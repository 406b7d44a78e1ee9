"""View adapters: how each algorithm's nodes look in the cluster view.

The protocol code knows nothing about pictures.  An adapter reads a node's
state and says how to draw it: its fill and shape (usually by role), a short
caption under it, a badge for what it is collecting (votes, acknowledgements),
and the full state for the detail panel.  One small class per algorithm,
registered for its node class.

Examples
--------
>>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
>>> adapter = adapter_for(BroadcastNode)
>>> type(adapter).__name__, adapter.message_types
('BroadcastView', ('BroadcastRequest', 'Rumor', 'Ack'))
>>> node = BroadcastNode("n1", peers=("n2", "n3"))
>>> _ = node.start([]); _ = node.handle_message(BroadcastRequest("hi"), "client")
>>> adapter.caption(node), adapter.badge(node)
('delivered 1', 'waits for 2 acks')
"""

import inspect

from ..algorithms.broadcast import BroadcastNode
from ..algorithms.raft import RaftNode
from ..core.messages import Message
from .style import ROLE_COLOURS

__all__ = ["ViewAdapter", "BroadcastView", "RaftView", "adapter_for", "register_adapter"]

_ADAPTERS = {}


def register_adapter(node_class):
    """Class decorator: use this adapter for ``node_class`` and its subclasses."""
    def decorate(adapter_class):
        _ADAPTERS[node_class] = adapter_class
        return adapter_class
    return decorate


def adapter_for(node_class):
    """Return an adapter instance for ``node_class`` (the generic one if none is registered)."""
    for cls in node_class.__mro__:
        if cls in _ADAPTERS:
            return _ADAPTERS[cls](node_class)
    return ViewAdapter(node_class)


class ViewAdapter:
    """The generic look: one shape, fill by role, no caption or badge.

    Subclasses override what they need.  Every method receives a running
    node's object; the view draws crashed nodes itself.

    Parameters
    ----------
    node_class : type
        The protocol's node class.
    """

    #: Message type names in legend order (default: the module's Message classes).
    message_types = ()
    #: role -> (fill colour, marker); roles not listed get colours in order of appearance.
    role_styles = {}
    #: Marker of a node whose role has no style of its own.
    default_marker = "o"

    def __init__(self, node_class):
        self.node_class = node_class
        if not self.message_types:
            module = inspect.getmodule(node_class)
            found = [obj.__name__ for obj in vars(module).values()
                     if isinstance(obj, type) and issubclass(obj, Message) and obj is not Message
                     and obj.__module__ == module.__name__]
            self.message_types = tuple(found)
        self._roles = dict(self.role_styles)

    def role(self, node):
        """The node's role, or ``None``."""
        return node.role

    def style(self, node):
        """``(fill colour, marker)`` of a running node."""
        role = self.role(node)
        style = self._roles.get(role)
        if style is None:
            style = (ROLE_COLOURS[len(self._roles) % len(ROLE_COLOURS)], self.default_marker)
            self._roles[role] = style
        return style

    def caption(self, node):
        """A short line under the node (its role, by default)."""
        role = self.role(node)
        return None if role is None else str(role)

    def badge(self, node):
        """A short count of what the node is collecting (votes, acks), or ``None``."""
        return None

    def details(self, node):
        """The node's full state for the detail panel: name -> value."""
        return node.state()


@register_adapter(BroadcastNode)
class BroadcastView(ViewAdapter):
    """Flooding broadcast: how many messages each node delivered, and the acks it waits for."""

    message_types = ("BroadcastRequest", "Rumor", "Ack")

    def caption(self, node):
        return f"delivered {len(node.delivered)}"

    def badge(self, node):
        waiting = sum(len(targets) for targets in node.unacked.values())
        if not waiting:
            return None
        return f"waits for {waiting} ack{'s' if waiting != 1 else ''}"


@register_adapter(RaftNode)
class RaftView(ViewAdapter):
    """Raft: role as fill and shape, the term under each node, votes or the commit index as a badge."""

    message_types = ("RequestVote", "RequestVoteReply", "AppendEntries", "AppendEntriesReply", "PreVote",
                     "PreVoteReply", "ClientRequest", "ClientReply")
    role_styles = {"follower": ("#DCEBF7", "o"), "pre-candidate": ("#FFF4C2", "D"),
                   "candidate": ("#FBE3C0", "D"), "leader": ("#BFE6D4", "s")}

    def caption(self, node):
        return f"term {node.current_term} \u00b7 log {node.last_index}"

    def badge(self, node):
        if node.role in ("candidate", "pre-candidate"):
            return f"votes {len(node.votes)}/{node.majority}"
        if node.role == "leader":
            return f"commit {node.commit_index}"
        return None
