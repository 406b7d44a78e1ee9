"""Reliable broadcast by flooding: the course's first, small protocol.

A client asks one node to broadcast a value.  The node gives the message an
id (``"n1:1"``), writes it to stable storage, *delivers* it (hands it to its
application, recorded as a ``deliver`` note) and forwards it to its
neighbours.  Every node that receives a message it has not seen does the
same; every receipt is acknowledged with an ``Ack``; unacknowledged copies are
re-sent on a periodic ``Retransmit`` timer, so messages get through lossy
links.  After a crash, a node rebuilds what it had seen from stable storage
and offers everything it knows to its neighbours again.

What "deliver" means here: the node's application keeps its state in the
node's durable log, so a message is *delivered* when its record is on stable
storage and the application has been told (the ``deliver`` note).  After a
restart the application state is rebuilt from the log, without new notes.  A
crash between the write and the note therefore loses only the notification,
never the message: ``delivered`` (the node's state) is the ground truth, and
the notes are the history the integrity check reads.

The properties it must keep (Hadzilacos & Toueg, "A Modular Approach to
Fault-Tolerant Broadcasts and Related Problems", 1994):

* **Integrity**: a node delivers each message at most once, crashes included,
  and only if some client broadcast it.
* **Validity / agreement** (liveness): once the network heals and crashed
  nodes restart, every node delivers every broadcast message.

Its bug zoo shows why each step is where it is:

``no-dedup``
    delivers every copy it receives (duplicates and retransmissions included);
``deliver-before-persist``
    delivers before forcing the record to storage: a crash between the two
    makes it deliver again after restart;
``ack-before-persist``
    acknowledges before forcing the record: a crash between the two loses the
    message while the sender thinks it arrived;
``forget-counter``
    does not recover its message counter after a restart, so it reuses message
    ids: two different values travel under one id.

The checkers: ``INVARIANTS`` (Integrity, No creation, One value per id) hold
after every step; ``LIVENESS`` (Agreement) must hold once faults stop.

Examples
--------
>>> node = BroadcastNode("n1", peers=("n2", "n3"))
>>> node.start([])
[]
>>> node.handle_message(BroadcastRequest("hi"), "client")  # doctest: +NORMALIZE_WHITESPACE
[Persist(('msg', 'n1:1', 'hi')), Note('deliver', id='n1:1', value='hi'),
 Send(->n2 Rumor(id='n1:1', value='hi')), Send(->n3 Rumor(id='n1:1', value='hi')),
 SetTimer(Retransmit() in 60)]
"""

from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["BroadcastNode", "BroadcastRequest", "Rumor", "Ack", "Retransmit", "INVARIANTS", "LIVENESS"]


class BroadcastRequest(Message):
    """A client asks a node to broadcast ``value``."""

    value: object


class Rumor(Message):
    """A broadcast message travelling between nodes."""

    id: str
    value: object


class Ack(Message):
    """The receiver has the message ``id`` safely on its stable storage."""

    id: str


class Retransmit(Timer):
    """Periodic timer: re-send every message a neighbour has not acknowledged."""


class BroadcastNode(Node):
    """One node of the flooding broadcast (see the module docstring).

    Notes
    -----
    Volatile state: ``seen`` (message id -> value), ``delivered`` (ids handed
    to the application), ``unacked`` (message id -> neighbours that have not
    acknowledged it), ``counter`` (for this node's own message ids) and
    ``retransmit_armed`` (the timer runs only while something is unacked).  Stable
    storage holds one record ``("msg", id, value)`` per message seen.
    """

    params = {"retry_ticks": 60, "retry_jitter_ticks": 0}
    bugs = {
        "no-dedup": "delivers every copy it receives, duplicates and retransmissions included",
        "deliver-before-persist": "delivers a message before forcing it to stable storage",
        "ack-before-persist": "acknowledges a message before forcing it to stable storage",
        "forget-counter": "numbers its messages from 1 again after a restart, reusing ids",
    }

    def on_start(self, records):
        self.seen = {}
        self.delivered = set()
        self.unacked = {}
        self.counter = 0
        for record in records:
            if isinstance(record, Torn):
                self.note("discarded torn record", record=record.record)
                continue
            _, msg_id, value = record
            self.seen[msg_id] = value
            self.delivered.add(msg_id)
            origin, _, number = msg_id.partition(":")
            if origin == self.id and "forget-counter" not in self.bugs:
                self.counter = max(self.counter, int(number))
            # After a restart, offer everything we know to every neighbour again.
            if self.neighbors:
                self.unacked[msg_id] = set(self.neighbors)
        self.retransmit_armed = False
        self._arm_retransmit()

    def _arm_retransmit(self):
        """Arm the retransmission timer if something waits for an ack and it is not armed."""
        if self.unacked and not self.retransmit_armed:
            jitter = self.params["retry_jitter_ticks"]
            extra = self.rng.randint(0, jitter) if jitter else 0
            self.set_timer(Retransmit(), self.params["retry_ticks"] + extra)
            self.retransmit_armed = True

    def accept(self, msg_id, value, exclude=None):
        """Store, deliver and forward a message seen for the first time (to every neighbour but ``exclude``).

        The building block of ``on_broadcast_request`` and ``on_rumor`` (and of
        Chapter 0's exercise, which asks for ``on_rumor``).
        """
        self.seen[msg_id] = value
        if "deliver-before-persist" in self.bugs:
            self._deliver(msg_id, value)
            self.persist(("msg", msg_id, value))
        else:
            self.persist(("msg", msg_id, value))
            self._deliver(msg_id, value)
        targets = [n for n in self.neighbors if n != exclude]
        if targets:
            self.unacked[msg_id] = set(targets)
        for target in targets:
            self.send(target, Rumor(msg_id, value))
        self._arm_retransmit()

    def _deliver(self, msg_id, value):
        self.delivered.add(msg_id)
        self.note("deliver", id=msg_id, value=value)

    def on_broadcast_request(self, msg, sender):
        self.counter += 1
        self.accept(f"{self.id}:{self.counter}", msg.value)

    def on_rumor(self, msg, sender):
        if msg.id not in self.seen:
            if "ack-before-persist" in self.bugs:
                self.send(sender, Ack(msg.id))
                self.accept(msg.id, msg.value, exclude=sender)
                return
            self.accept(msg.id, msg.value, exclude=sender)
        elif "no-dedup" in self.bugs:
            self._deliver(msg.id, msg.value)
        self.send(sender, Ack(msg.id))

    def on_ack(self, msg, sender):
        waiting = self.unacked.get(msg.id)
        if waiting is not None:
            waiting.discard(sender)
            if not waiting:
                del self.unacked[msg.id]

    def on_retransmit(self, timer):
        self.retransmit_armed = False
        for msg_id in sorted(self.unacked):
            for target in sorted(self.unacked[msg_id]):
                self.send(target, Rumor(msg_id, self.seen[msg_id]))
        self._arm_retransmit()


# ---------------------------------------------------------------------------------- checkers
def _is_delivery(event):
    return event.kind == "note" and event.data["text"] == "deliver"


class _DeliveredOnce:
    """History of deliveries: (node, message id) -> how many times."""

    def __init__(self):
        self.count = {}

    def __call__(self, event):
        if _is_delivery(event):
            key = (event.node, event.data["fields"]["id"])
            times = self.count.get(key, 0) + 1
            self.count[key] = times
            if times > 1:
                return Violation("Integrity", (event.node,), f"{event.node} delivered {key[1]} {times} times")
        return None


class _OnlyBroadcastValues:
    """History of the values clients asked to broadcast."""

    def __init__(self):
        self.values = set()

    def __call__(self, event):
        if event.kind == "request" and isinstance(event.data["msg"], BroadcastRequest):
            self.values.add(event.data["msg"].value)
        elif _is_delivery(event) and event.data["fields"]["value"] not in self.values:
            value = event.data["fields"]["value"]
            return Violation("No creation", (event.node,), f"{event.node} delivered {value!r}, which no client broadcast")
        return None


class _OneValuePerId:
    """History of the values stored under each message id, by any node."""

    def __init__(self):
        self.first = {}   # message id -> (node, value)

    def __call__(self, event):
        if event.kind != "stored":
            return None
        found = []
        for record in event.data["records"]:
            if isinstance(record, tuple) and record[0] == "msg":
                _, msg_id, value = record
                node, first = self.first.setdefault(msg_id, (event.node, value))
                if first != value:
                    found.append(Violation("One value per id", tuple(dict.fromkeys((node, event.node))),
                                           f"{msg_id} is {first!r} at {node} but {value!r} at {event.node}"))
        return found


def _agreement(nodes):
    every = set().union(*(n.delivered for n in nodes.values())) if nodes else set()
    return [Violation("Agreement", (node_id,), f"{node_id} never delivered {', '.join(sorted(every - n.delivered))}")
            for node_id, n in nodes.items() if every - n.delivered]


#: Safety: checked after every step.
INVARIANTS = [
    Invariant("Integrity: a node delivers each message at most once, across crashes", observe=_DeliveredOnce),
    Invariant("No creation: a node delivers only values some client broadcast", observe=_OnlyBroadcastValues),
    Invariant("One value per id: no two nodes store different values under one message id",
              observe=_OneValuePerId),
]

#: Liveness: checked once faults have stopped and the network has been calm.
LIVENESS = [
    Liveness("Agreement: every running node delivers every message any node delivered",
             check=_agreement, within_ticks=1500),
]
