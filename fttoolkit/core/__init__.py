"""Core building blocks: ids, messages, timers, intentions and the node base class.

This layer imports nothing from the rest of fttoolkit and no third-party package.
"""

from .errors import BadParameter, FtError, HandlerError, InvalidAction, NoHandler, UnknownNode
from .history import KINDS, Operation
from .ids import id_key, node_ids, sorted_ids
from .invariants import Invariant, Liveness, Violation
from .intentions import CancelTimer, Intention, Note, Persist, Send, SetTimer, Torn
from .messages import Message, Timer, fields_of, handler_name_for
from .node import Node

__all__ = [
    "FtError", "UnknownNode", "BadParameter", "InvalidAction", "NoHandler", "HandlerError",
    "node_ids", "id_key", "sorted_ids",
    "Message", "Timer", "fields_of", "handler_name_for",
    "Intention", "Send", "SetTimer", "CancelTimer", "Persist", "Note", "Torn",
    "Node", "Invariant", "Liveness", "Violation", "Operation", "KINDS",
]
