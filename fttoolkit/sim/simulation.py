"""The deterministic cluster simulator.

One :class:`Simulation` runs one cluster of sans-I/O nodes on a simulated
network.  Time is a whole number of ticks (1 tick = 1 ms of simulated time);
everything that will happen is an entry in one heap ordered by
``(tick, priority, sequence)``, so ties are broken the same way every run.
Randomness comes only from the seeded :class:`~fttoolkit.sim.streams.Streams`.

The intentions a handler records are queued on its node and carried out one
per step, before anything else happens, so a crash (by the fault injector, a
script, or a user in manual mode) can fall between any two of them.

Two ways to drive it:

* automatically: :meth:`Simulation.step`, :meth:`Simulation.run`,
  :meth:`Simulation.run_until`;
* by hand: :meth:`Simulation.pending` lists what could happen next (messages
  in flight, armed timers, queued intentions) and :meth:`deliver`,
  :meth:`drop`, :meth:`duplicate`, :meth:`fire` and :meth:`execute` make one
  of them happen.

Examples
--------
>>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
>>> sim = Simulation(BroadcastNode, topology=3, seed=1)
>>> sim.request("n1", BroadcastRequest("hi"))
>>> sim.run(until=100) > 0
True
>>> sorted(n.id for n in sim.nodes.values() if "n1:1" in n.delivered)
['n1', 'n2', 'n3']
"""

import bisect
import copy
import functools
import gc
import heapq
import math
from collections import deque
from fractions import Fraction

from ..core.errors import BadParameter, FtError, InvalidAction, UnknownNode
from ..core.ids import sorted_ids
from ..core.intentions import CancelTimer, Note, Persist, Send, SetTimer, Torn
from ..core.messages import Message
from .faults import FaultInjector, FaultPlan
from .network import LinkSettings, Network, make_graph
from .streams import Streams, check_seed
from .trace import Event, Trace

__all__ = ["Simulation", "InFlight", "ArmedTimer", "QueuedIntention", "StepLimit", "ReplayDiverged",
           "LogEntry"]

# Priorities of heap entries due at the same tick: crash points being armed, other scheduled
# actions, then timers, then messages.
_ONE = Fraction(1)
PRIO_ARM, PRIO_ACTION, PRIO_TIMER, PRIO_MESSAGE = -1, 0, 1, 2

#: The actions a test or script may schedule for a later tick.
SCHEDULABLE = ("crash", "restart", "partition", "heal", "clog", "unclog", "request",
               "set_link", "set_network", "set_clock_rate")


class StepLimit(FtError):
    """A run took more steps than allowed without reaching its goal."""


class ReplayDiverged(FtError):
    """Replaying the recorded inputs did not retrace the recorded run (the protocol is not deterministic)."""


# The attributes that make up the state of a run (what a snapshot copies).
_STATE = ("network", "streams", "now", "steps", "started", "nodes", "up", "disks", "clients",
          "_heap", "_seq", "_next_mid", "_next_tid", "_timers", "_queues", "_active", "_last_due",
          "_held", "_clocks", "injector", "halted", "_armed", "_batch", "checkers", "fault_record")

# Parts of the state whose contents are immutable values (records, ids, numbers): a copy of
# the container is enough, which is much cheaper than a deep copy.
_SHALLOW = {
    "disks": lambda d: {k: list(v) for k, v in d.items()},
    "up": dict, "clients": set, "_last_due": dict, "_clocks": dict,
    "_batch": lambda d: {k: list(v) for k, v in d.items()},
    "fault_record": lambda r: None if r is None else list(r),
}


def _copy_state(state, graph):
    """Copy a run's state (a dict of the :data:`_STATE` attributes plus ``"__graph__"``).

    Immutable values (messages, records, settings) are shared; the topology
    graph inside the copy is ``graph``.
    """
    memo = {id(state["__graph__"]): graph}
    copied = copy.deepcopy({name: state[name] for name in _STATE if name not in _SHALLOW}, memo)
    for name, copier in _SHALLOW.items():
        copied[name] = copier(state[name])
    copied["__graph__"] = graph
    return copied


def _state_of(sim):
    """The live state of ``sim`` as a dict (not copied)."""
    state = {name: getattr(sim, name) for name in _STATE}
    state["__graph__"] = sim.graph
    return state


class LogEntry:
    """One input to a run: ``name(*args, **kwargs)`` called after ``at_step`` steps.

    ``end_step`` is the step count when it returned; inputs that make steps
    happen (``step``, ``run``, ``deliver``...) end later than they start.
    """

    __slots__ = ("at_step", "end_step", "name", "args", "kwargs", "complete")

    def __init__(self, at_step, name, args, kwargs):
        self.at_step = at_step
        self.end_step = at_step
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.complete = True   # False for a run cut short (step limit, halted by a checker)

    def __repr__(self):
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"[{self.at_step}->{self.end_step}] {self.name}({', '.join(parts)})"


def _logged(method):
    """Record calls of a public input method in the run's input log (outermost calls only)."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._depth or self._replaying:
            self._depth += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                self._depth -= 1
        entry = self._begin_input(name, args, kwargs)
        self._depth += 1
        try:
            result = method(self, *args, **kwargs)
        except BaseException:
            self._depth -= 1
            self._abandon_input(entry)
            raise
        self._depth -= 1
        self._end_input(entry)
        return result

    return wrapper


def _by_mid(pair):
    return pair[0].mid


class InFlight:
    """A message in the network: ``src -> dst``, sent at ``sent_at``, due at ``due``."""

    __slots__ = ("mid", "src", "dst", "msg", "sent_at", "due", "copy_of", "dead")
    kind = "message"

    def __init__(self, mid, src, dst, msg, sent_at, due, copy_of=None):
        self.mid = mid
        self.src = src
        self.dst = dst
        self.msg = msg
        self.sent_at = sent_at
        self.due = due
        self.copy_of = copy_of
        self.dead = False

    def __deepcopy__(self, memo):
        other = InFlight(self.mid, self.src, self.dst, self.msg, self.sent_at, self.due, self.copy_of)
        other.dead = self.dead
        memo[id(self)] = other
        return other

    @property
    def name(self):
        """The short id shown in lists and scripts, ``m<number>``."""
        return f"m{self.mid}"

    def __repr__(self):
        return f"{self.name}: {self.src}->{self.dst} {self.msg!r} (due t={self.due})"


class ArmedTimer:
    """A timer armed on ``node``, due at global tick ``due``."""

    __slots__ = ("tid", "node", "timer", "set_at", "due", "local_due", "dead")
    kind = "timer"

    def __init__(self, tid, node, timer, set_at, due, local_due):
        self.tid = tid
        self.node = node
        self.timer = timer
        self.set_at = set_at
        self.due = due
        self.local_due = local_due   # the reading of the node's own clock at which it fires
        self.dead = False

    def __deepcopy__(self, memo):   # the timer dict and the heap share entries: memo keeps that
        other = ArmedTimer(self.tid, self.node, self.timer, self.set_at, self.due, self.local_due)
        other.dead = self.dead
        memo[id(self)] = other
        return other

    @property
    def name(self):
        """The short id shown in lists and scripts, ``t<number>``."""
        return f"t{self.tid}"

    def __repr__(self):
        return f"{self.name}: {self.node} {self.timer!r} (due t={self.due})"


class QueuedIntention:
    """The next intention a node will carry out; crashing the node now loses it."""

    __slots__ = ("node", "intention", "remaining", "due")
    kind = "intention"

    def __init__(self, node, intention, remaining, due):
        self.node = node
        self.intention = intention
        self.remaining = remaining
        self.due = due

    @property
    def name(self):
        """The short id shown in lists and scripts, ``i:<node>``."""
        return f"i:{self.node}"

    def __repr__(self):
        more = f" (+{self.remaining - 1} more)" if self.remaining > 1 else ""
        return f"{self.name}: {self.node} next {self.intention!r}{more}"


class _Scheduled:
    """A public action scheduled for a later tick."""

    __slots__ = ("action", "args", "kwargs", "due", "dead")

    def __init__(self, action, args, kwargs, due):
        self.action = action
        self.args = args
        self.kwargs = kwargs
        self.due = due
        self.dead = False

    def __deepcopy__(self, memo):   # its arguments are immutable values
        other = _Scheduled(self.action, self.args, self.kwargs, self.due)
        other.dead = self.dead
        memo[id(self)] = other
        return other


class Simulation:
    """A cluster of nodes of one protocol on a simulated network.

    Parameters
    ----------
    node_class : type
        The protocol, a subclass of :class:`fttoolkit.core.Node`.
    topology : int, list of str or networkx.Graph
        A node count (complete graph on ``n1 .. nN``), a list of ids, or a graph.
    seed : int
        Master seed; the same seed and the same inputs give the same run.
    params : dict, optional
        Protocol parameters (checked against ``node_class.params``).
    bugs : iterable of str, optional
        Named mistakes to switch on (checked against ``node_class.bugs``).
    network : dict, optional
        Default link settings: ``delay``, ``loss``, ``duplicate``, ``reorder``.
    name : str, optional
        The algorithm's name, recorded in the trace header.

    Attributes
    ----------
    now : int
        The current tick.
    nodes : dict
        Node id to node object (for a crashed node, its state at the crash).
    up : dict
        Node id to whether it is running.
    disks : dict
        Node id to the list of records on its stable storage.
    trace : Trace
        Every event so far.
    """

    def __init__(self, node_class, topology=3, seed=0, params=None, bugs=(), network=None, name=None):
        self.node_class = node_class
        self.name = name or node_class.__name__
        # What built this run, so that reset() can build it again with another seed.
        self._made_with = (make_graph(topology).copy(), dict(network or {}))
        self.seed = check_seed(seed)
        self.graph = make_graph(topology)
        self.network = Network(self.graph, LinkSettings.checked(**(network or {})))
        self.params = dict(params or {})
        self.bugs = tuple(sorted(set(bugs)))
        node_class("check", params=self.params, bugs=self.bugs)  # validate params and bugs now
        self.streams = Streams(seed)
        self.trace = Trace()
        self.now = 0
        self.steps = 0
        self.started = False
        self.nodes = {}
        self.up = {}
        self.disks = {}
        self.clients = set()
        self._heap = []
        self._seq = 0
        self._next_mid = 0
        self._next_tid = 0
        self._timers = {}        # node -> {timer: ArmedTimer}
        self._queues = {}        # node -> deque of intentions not yet carried out
        self._active = deque()   # nodes with queued intentions, in the order they got them
        self._last_due = {}      # (src, dst) -> latest due tick, for FIFO links
        self._held = {}          # (src, dst) -> list of InFlight held by a clog
        self._clocks = {}        # node -> (anchor_now, anchor_local, rate)
        self.injector = None     # the random fault injector, if any
        self.halted = None       # set by a checker to stop automatic runs (a reason string)
        self.changed = False     # whether a handler ran (or a node crashed) in the current step
        self._armed = {}         # node -> a scripted crash point waiting for its handler
        self._batch = {}         # node -> [tick it began, index among batches at that tick, carried out]
        self.fault_record = None  # a list, to record scheduled actions and injected faults as they happen
        #: Checkers that are part of the run's state (see :meth:`add_checker`).
        self.checkers = []
        #: Called with the simulation after a rewind (observers with history rebuild from the trace).
        self.rewind_hooks = []
        # ---- the input log and time travel
        self._log = []           # every input, in order (LogEntry)
        self._depth = 0          # > 0 inside a logged call
        self._replaying = False
        self._snaps = []         # (steps, log index, trace length, state)
        #: Steps between snapshots (``None``: only the one at the start, so a rewind replays
        #: from there).  The front doors turn periodic snapshots on for interactive use.
        self.snapshot_every = None
        self.max_snapshots = 64
        self._future_from = None  # after a rewind: (log index, step) where the recorded future starts
        self._timeline = None     # after a rewind: the trace events of the whole recorded timeline
        self._step_ticks = []     # the tick of every step of the recorded timeline (step k at index k - 1)

    # =============================================================================== set-up
    @property
    def ids(self):
        """The node ids, in natural order."""
        return self.network.ids

    @_logged
    def add_node(self, node_id=None, links=None):
        """Add a node before the run starts (linked to every node unless ``links`` is given)."""
        if self.started:
            if not getattr(self.node_class, "supports_join", False):
                raise InvalidAction(
                    f"{self.node_class.__name__} does not support nodes joining during a run; "
                    "add nodes before the first step")
        if node_id is None:
            k = len(self.ids) + 1
            while f"n{k}" in self.graph:
                k += 1
            node_id = f"n{k}"
        if not isinstance(node_id, str) or not node_id:
            raise BadParameter(f"a node id must be a non-empty string; got {node_id!r}")
        if node_id in self.graph:
            raise InvalidAction(f"node {node_id} already exists; the cluster has: {', '.join(self.ids)}")
        targets = list(self.ids) if links is None else list(links)
        for other in targets:
            self.network.check_node(other)
        self.graph.add_node(node_id)
        for other in targets:
            self.graph.add_edge(node_id, other)
            if self.graph.is_directed():
                self.graph.add_edge(other, node_id)
        self.network.ids = sorted_ids(self.graph.nodes)
        if self.started:
            self._boot(node_id)
        return node_id

    def describe(self):
        """Return what defines this run: protocol, seed, nodes, links, parameters, bugs."""
        d = self.network.defaults
        return {
            "algorithm": self.name,
            "seed": self.seed,
            "nodes": list(self.ids),
            "links": sorted([sorted(e) for e in self.graph.edges()]),
            "params": dict(sorted(self.params.items())),
            "bugs": list(self.bugs),
            "network": {"delay": list(d.delay), "loss": d.loss, "duplicate": d.duplicate,
                        "reorder": d.reorder},
        }

    def start(self):
        """Boot every node at tick 0 (done automatically by the first step)."""
        if self.started:
            return
        self.started = True
        self.trace.header = self.describe()
        self._first_checkers = copy.deepcopy(self.checkers)   # as they were before anything happened
        self._first_snapshot_every = self.snapshot_every
        # Crash points scheduled for tick 0 are armed before the nodes boot, so that, like a crash
        # point at any later tick, they count that tick's first batches: here the boot handlers'.
        heap = self._heap
        while heap and heap[0][0] == 0 and heap[0][1] == PRIO_ARM:
            entry = heapq.heappop(heap)[3]
            if not entry.dead:
                self._process(entry)
        for node_id in self.ids:
            self._boot(node_id)
        self._snapshot()

    def _make_node(self, node_id):
        neighbors = sorted_ids(set(self.graph.successors(node_id)) if self.graph.is_directed()
                               else set(self.graph.neighbors(node_id)))
        peers = [i for i in self.ids if i != node_id]
        return self.node_class(node_id, peers=peers, neighbors=neighbors, params=self.params,
                               bugs=self.bugs, rng=self.streams.node(node_id))

    def _boot(self, node_id):
        self.disks.setdefault(node_id, [])
        self._timers[node_id] = {}
        self._queues[node_id] = deque()
        self._clocks.setdefault(node_id, (self.now, self.now, _ONE))
        node = self._make_node(node_id)
        self.nodes[node_id] = node
        self.up[node_id] = True
        self._emit("start", node_id, {})
        self._run_handler(node_id, node.start, (list(self.disks[node_id]),))

    # ============================================================================ the clock
    def local_time(self, node_id):
        """Return node ``node_id``'s clock reading (differs from ``now`` under skew)."""
        anchor_now, anchor_local, rate = self._clocks[node_id]
        if rate == 1:
            return anchor_local + self.now - anchor_now
        return anchor_local + math.floor((self.now - anchor_now) * rate)

    def _global_ticks(self, node_id, local_ticks):
        rate = self._clocks[node_id][2]
        return local_ticks if rate == 1 else math.ceil(local_ticks / rate)

    @_logged
    def set_clock_rate(self, node_id, rate):
        """Make ``node_id``'s clock run at ``rate`` times real time (clock skew).

        ``rate=1.1`` makes its clock 10% fast, so its timers fire early.  The
        clock does not jump; timers already armed are re-timed so that each
        still fires when the node's own clock reaches its deadline.
        """
        self._ensure_started()
        self.network.check_node(node_id)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, Fraction)) or not rate > 0:
            raise BadParameter(f"a clock rate must be a number > 0 (1 = no skew); got {rate!r}")
        frac = Fraction(rate).limit_denominator(1000)
        local_now = self.local_time(node_id)
        self._clocks[node_id] = (self.now, local_now, frac)
        self._emit("clock", node_id, {"rate": float(frac)})
        timers = self._timers.get(node_id, {})
        for timer, entry in list(timers.items()):
            due = self.now + self._global_ticks(node_id, max(entry.local_due - local_now, 0))
            if due != entry.due:
                entry.dead = True
                moved = ArmedTimer(entry.tid, node_id, timer, entry.set_at, due, entry.local_due)
                timers[timer] = moved
                self._push(due, PRIO_TIMER, moved)

    # ============================================================================ the trace
    def _emit(self, kind, node, data):
        event = self.trace.append(self.now, kind, node, data)
        if self.checkers:
          for checker in self.checkers:
            checker.on_event(self, event)
        return event

    # ============================================================================ checkers
    def add_checker(self, checker):
        """Attach a checker: an object with ``on_event(sim, event)`` and ``after_step(sim)``.

        Unlike a trace observer, a checker is part of the run's state: it is
        copied by snapshots and forks, so its history follows time travel.  It
        must not keep a reference to the simulation (it is passed in).
        """
        self.checkers.append(checker)

    def report_violation(self, violation, halt=False):
        """Record a broken invariant as a ``violation`` trace event; optionally halt the run."""
        self._emit("violation", violation.nodes[0] if len(violation.nodes) == 1 else None,
                   {"invariant": violation.invariant, "nodes": list(violation.nodes),
                    "detail": violation.detail, "step": self.steps + 1})
        if halt and self.halted is None:
            self.halted = f"{violation.invariant} broken at tick {self.now}"

    @property
    def violations(self):
        """The ``violation`` events of the trace so far."""
        return self.trace.filter("violation")

    def subscribe(self, observer):
        """Call ``observer(event)`` for every new trace event."""
        self.trace.subscribe(observer)

    # ======================================================================== handlers run
    def _run_handler(self, node_id, fn, args):
        self.changed = True    # a node's state may have changed in this step
        node = self.nodes[node_id]
        anchor_now, anchor_local, rate = self._clocks[node_id]
        node.now = (anchor_local + self.now - anchor_now) if rate is _ONE else self.local_time(node_id)
        old_role = node.role
        intentions = fn(*args)
        if node.role != old_role:
            self._emit("role", node_id, {"old": old_role, "new": node.role})
        if intentions:
            queue = self._queues[node_id]
            if not queue:
                self._active.append(node_id)
                if self._armed or self.injector is not None:
                    self._begin_batch(node_id)
            queue.extend(intentions)

    def _begin_batch(self, node_id):
        """A node's queue of intentions starts filling: count it, for crash points."""
        batch = self._batch.get(node_id)
        index = batch[1] + 1 if batch is not None and batch[0] == self.now else 0
        self._batch[node_id] = [self.now, index, 0]
        armed = self._armed.get(node_id)
        if armed is not None:
            if armed["skip"] > 0:
                armed["skip"] -= 1
            else:
                armed["live"] = True

    def _push(self, due, prio, entry):
        self._seq += 1
        heapq.heappush(self._heap, (due, prio, self._seq, entry))

    # ===================================================================== intentions out
    def _carry_out(self, node_id):
        """Carry out ``node_id``'s next intention, unless a crash point falls just before it."""
        queue = self._queues[node_id]
        armed = self._armed.get(node_id)
        batch = self._batch.get(node_id)
        if batch is None:
            batch = self._batch[node_id] = [self.now, 0, 0]
        if armed is not None and armed.get("live") and batch[2] >= armed["after"]:
            self._crash_at_point(node_id, armed)
            return
        if self.injector is not None and self.injector.crash_point(self, node_id, queue[0], batch):
            return
        self._execute(node_id, queue)
        batch[2] += 1
        if not queue:
            armed = self._armed.get(node_id)
            if armed is not None and armed.get("live"):   # the handler had fewer intentions
                self._crash_at_point(node_id, dict(armed, tear=None))

    def _crash_at_point(self, node_id, armed):
        del self._armed[node_id]
        tear = armed["tear"]
        head = self._queues[node_id][0] if self._queues[node_id] else None
        if tear is not None and (type(head) is not Persist or tear >= len(head.records)):
            tear = None    # the scripted write is not there (the run changed): crash without tearing
        self.crash(node_id, tear=tear, lose_disk=armed["lose_disk"])

    def _execute(self, node_id, queue):
        intention = queue.popleft()
        if not queue:
            if self._active[0] == node_id:
                self._active.popleft()
            else:
                self._active.remove(node_id)
        kind = type(intention)
        if kind is Send:
            self._send(node_id, intention.to, intention.msg)
        elif kind is SetTimer:
            self._arm(node_id, intention.timer, intention.after_ticks)
        elif kind is CancelTimer:
            entry = self._timers[node_id].pop(intention.timer, None)
            if entry is not None:
                entry.dead = True
                self._emit("timer_cancelled", node_id, {"timer": entry.timer, "tid": entry.tid})
        elif kind is Persist:
            disk = self.disks[node_id]
            self._emit("stored", node_id, {"records": intention.records, "index": len(disk)})
            disk.extend(intention.records)
        elif kind is Note:
            self._emit("note", node_id, {"text": intention.text, "fields": dict(intention.fields)})
        else:  # pragma: no cover - Node only records the kinds above
            raise TypeError(f"unknown intention {intention!r}")

    def _send(self, src, dst, msg):
        adj = self.graph._adj            # networkx's own adjacency dict (read only)
        if dst not in adj:
            if dst in self.clients:
                self._emit("reply", src, {"client": dst, "msg": msg})
                return
            raise UnknownNode(f"{src} sent {msg!r} to {dst!r}, which is neither a node "
                              f"({', '.join(self.ids)}) nor a client that made a request")
        self._next_mid = mid = self._next_mid + 1
        now = self.now
        if src == dst:  # loopback: reliable, immediate, unaffected by faults
            self._emit("sent", src, {"src": src, "dst": dst, "msg": msg, "mid": mid, "due": now})
            self._push(now, PRIO_MESSAGE, InFlight(mid, src, dst, msg, now, now))
            return
        network = self.network
        pair = (src, dst)
        link = network._resolved.get(pair) or network.settings(src, dst)
        if network._deterministic is True or network.deterministic:
            # Nothing about the network is random: draw nothing.
            u_loss = u_dup = 1.0
            due = now + link.delay[0]
            last_due = self._last_due
            if due < last_due.get(pair, 0):   # a shorter delay set later must not overtake
                due = last_due[pair]
            last_due[pair] = due
            copy_due = None
        else:
            # Always the same six draws per send, so that changing one fault setting
            # (loss, duplication...) does not shift the random numbers behind later delays.
            rnd = self.streams.network.random
            u_loss, u_delay, u_dup, u_order, u_copy_delay, u_copy_order = rnd(), rnd(), rnd(), rnd(), rnd(), rnd()
            due = self._draw_due(src, dst, link, u_delay, u_order)
            copy_due = self._draw_due(src, dst, link, u_copy_delay, u_copy_order) if u_dup < link.duplicate else None
        data = {"src": src, "dst": dst, "msg": msg, "mid": mid, "due": due}
        trace = self.trace
        if self.checkers or trace._observers:
            self._emit("sent", src, data)
        else:
            events = trace._events
            events.append(Event(len(events), now, "sent", src, data))
        if dst not in adj[src]:
            self._drop(src, dst, msg, mid, "no link")
        elif network.cuts and pair in network.cuts:
            self._drop(src, dst, msg, mid, "partition")
        elif u_loss < link.loss:
            self._drop(src, dst, msg, mid, "loss")
        else:
            self._seq = seq = self._seq + 1
            heapq.heappush(self._heap, (due, PRIO_MESSAGE, seq, InFlight(mid, src, dst, msg, now, due)))
            if copy_due is not None:
                self._copy(mid, src, dst, msg, copy_due)

    def _draw_due(self, src, dst, link, u_delay, u_order):
        # A FIFO link never lets a message overtake an earlier one, lost ones included:
        # like TCP's head-of-line blocking, a lost message holds back those behind it.
        low, high = link.delay
        due = self.now + low + int(u_delay * (high - low + 1))
        if u_order >= link.reorder:  # FIFO: never overtake an earlier message on this link
            last = self._last_due.get((src, dst), 0)
            if due < last:
                due = last
            self._last_due[(src, dst)] = due
        return due

    def _copy(self, of, src, dst, msg, due):
        self._next_mid += 1
        self._emit("duplicated", src, {"src": src, "dst": dst, "msg": msg, "mid": self._next_mid,
                                       "of": of, "due": due})
        self._push(due, PRIO_MESSAGE, InFlight(self._next_mid, src, dst, msg, self.now, due, copy_of=of))

    def _drop(self, src, dst, msg, mid, reason, at=None):
        self._emit("dropped", at or src, {"src": src, "dst": dst, "msg": msg, "mid": mid, "reason": reason})

    def _arm(self, node_id, timer, local_ticks):
        timers = self._timers[node_id]
        old = timers.get(timer)
        if old is not None:
            old.dead = True
        self._next_tid += 1
        due = self.now + self._global_ticks(node_id, local_ticks)
        entry = ArmedTimer(self._next_tid, node_id, timer, self.now, due, self.local_time(node_id) + local_ticks)
        timers[timer] = entry
        self._emit("timer_set", node_id, {"timer": timer, "tid": entry.tid, "due": due})
        self._push(due, PRIO_TIMER, entry)

    # ========================================================================= events in
    def _arrive(self, m):
        if not self.up[m.dst]:
            self._drop(m.src, m.dst, m.msg, m.mid, "crashed", at=m.dst)
        elif (m.src, m.dst) in self.network.cuts:
            self._drop(m.src, m.dst, m.msg, m.mid, "partition", at=m.dst)
        elif (m.src, m.dst) in self.network.clogged:
            self._held.setdefault((m.src, m.dst), []).append(m)
            self._emit("held", m.src, {"src": m.src, "dst": m.dst, "msg": m.msg, "mid": m.mid})
        else:
            self._emit("delivered", m.dst, {"src": m.src, "dst": m.dst, "msg": m.msg, "mid": m.mid})
            node = self.nodes[m.dst]
            self._run_handler(m.dst, node.handle_message, (m.msg, m.src))

    def _fire(self, entry):
        timers = self._timers[entry.node]
        if timers.get(entry.timer) is entry:
            del timers[entry.timer]
        self._emit("timer_fired", entry.node, {"timer": entry.timer, "tid": entry.tid})
        self._run_handler(entry.node, self.nodes[entry.node].handle_timer, (entry.timer,))

    def _process(self, entry):
        entry.dead = True
        if entry.due > self.now:
            self.now = entry.due
        kind = type(entry)
        if kind is InFlight:
            self._arrive(entry)
        elif kind is ArmedTimer:
            self._fire(entry)
        else:
            if self.fault_record is not None and not entry.action.startswith("_"):
                self.fault_record.append((self.now, entry.action, entry.args, entry.kwargs))
            getattr(self, entry.action)(*entry.args, **entry.kwargs)

    # =================================================================== driving: automatic
    def _ensure_started(self):
        if not self.started:
            self.start()

    def next_due(self):
        """Return the tick of the next thing that will happen, or ``None`` if nothing will."""
        self._ensure_started()
        if self._active:
            return self.now
        heap = self._heap
        while heap and heap[0][3].dead:
            heapq.heappop(heap)
        return max(heap[0][0], self.now) if heap else None

    @_logged
    def step(self):
        """Make the next thing happen; return the trace events it produced (empty if idle)."""
        self._ensure_started()
        first = len(self.trace._events)
        self._step()
        return self.trace._events[first:]

    def _step(self):
        """Make the next thing happen; return whether anything did."""
        if not self.started:
            self.start()
        every = self.snapshot_every
        if every is not None and self.steps >= self._snaps[-1][0] + every and not self._replaying:
            self._snapshot()
        if self._active:
            self._carry_out(self._active[0])
        else:
            heap = self._heap
            while heap:
                entry = heapq.heappop(heap)[3]
                if not entry.dead:
                    self._process(entry)
                    break
            else:
                return False
        self._stepped()
        return True

    def _stepped(self):
        for checker in self.checkers:    # still inside step number steps + 1
            checker.after_step(self)
        if not self._replaying:
            self._step_ticks.append(self.now)
        self.steps += 1
        self.changed = False

    def run(self, until=None, max_steps=1_000_000):
        """Run automatically; return the number of steps taken.

        Parameters
        ----------
        until : int or callable, optional
            A tick: process everything due up to and including it, then set
            the clock to it.  A predicate ``f(sim) -> bool``: stop as soon as it
            holds.  ``None``: run until nothing is left to happen.
        max_steps : int
            Safety limit; :class:`StepLimit` is raised if it is reached.
        """
        if callable(until):
            return self._run_predicate(until, None, max_steps)[1]
        if until is not None and (isinstance(until, bool) or not isinstance(until, int) or until < 0):
            raise BadParameter(f"until must be a tick (a whole number >= 0) or a predicate; got {until!r}")
        if self._depth or self._replaying:
            return self._run_ticks(until, max_steps)
        entry = self._begin_input("run", (until,), {})
        self._depth += 1
        entry.complete = False
        try:
            taken = self._run_ticks(until, max_steps)
            entry.complete = self.halted is None
            return taken
        finally:
            self._depth -= 1
            self._end_input(entry)

    def _run_ticks(self, until, max_steps, stop_step=None):
        self._ensure_started()
        gc_was_enabled = gc.isenabled()
        gc.disable()   # the trace only grows during a run; full collections would rescan it again and again
        try:
            return self._run_loop(until, max_steps, stop_step)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _run_loop(self, until, max_steps, stop_step):
        # The automatic loop.  Its fast path (no crash point armed, no fault injector,
        # no checker) inlines the two commonest steps, a message arriving and a Send
        # being carried out; everything else goes through the general methods, which
        # do exactly the same thing.
        heap, active, queues = self._heap, self._active, self._queues
        heappop = heapq.heappop
        events = self.trace._events
        trace = self.trace
        up, network, nodes, clocks = self.up, self.network, self.nodes, self._clocks
        send, carry_out, process = self._send, self._carry_out, self._process
        # a replay retraces steps whose ticks are recorded already
        record = None if self._replaying else self._step_ticks.append
        taken = 0
        started_at = self.now
        steps_left = max_steps
        while True:
            if self.halted is not None or (stop_step is not None and self.steps >= stop_step):
                return taken
            if active:
                due = self.now
            else:
                while heap and heap[0][3].dead:
                    heappop(heap)
                if not heap:
                    break
                due = heap[0][0]
                if due < self.now:
                    due = self.now
            if until is not None and due > until:
                break
            if taken >= steps_left:
                raise self._step_limit(max_steps, until, started_at)
            every = self.snapshot_every
            if every is not None and self.steps >= self._snaps[-1][0] + every and not self._replaying:
                self._snapshot()
            checkers = self.checkers
            fast = not self._armed and self.injector is None and not checkers and not trace._observers
            if active:
                node_id = active[0]
                queue = queues[node_id]
                if fast and type(queue[0]) is Send:
                    intention = queue.popleft()
                    if not queue:
                        active.popleft()
                    send(node_id, intention.to, intention.msg)
                else:
                    carry_out(node_id)
            else:
                entry = heappop(heap)[3]
                if fast and type(entry) is InFlight:
                    entry.dead = True
                    self.now = due
                    src, dst = entry.src, entry.dst
                    if up[dst] and not network.cuts and not network.clogged:
                        msg = entry.msg
                        events.append(Event(len(events), due, "delivered", dst,
                                            {"src": src, "dst": dst, "msg": msg, "mid": entry.mid}))
                        node = nodes[dst]   # what _run_handler does, inlined
                        anchor_now, anchor_local, rate = clocks[dst]
                        node.now = anchor_local + due - anchor_now if rate is _ONE else self.local_time(dst)
                        old_role = node.role
                        intentions = node.handle_message(msg, src)
                        if node.role != old_role:
                            self._emit("role", dst, {"old": old_role, "new": node.role})
                        if intentions:
                            queue = queues[dst]
                            if not queue:
                                active.append(dst)
                            queue.extend(intentions)
                    else:
                        self._arrive(entry)
                else:
                    process(entry)
            if checkers:
                for checker in checkers:
                    checker.after_step(self)
                self.changed = False
            if record is not None:
                record(self.now)
            self.steps += 1
            taken += 1
        if until is not None and until > self.now:
            self.now = until
        return taken

    def _step_limit(self, max_steps, until, started_at):
        goal = "going idle" if until is None else f"reaching tick {until}"
        if self.now == started_at:
            why = "the protocol seems to loop without time passing"
        elif until is None:
            why = ("the cluster never goes idle (timers keep firing, e.g. retransmissions to a crashed "
                   "node): run to a tick instead, such as run(until=...)")
        else:
            why = "the run is longer than expected"
        return StepLimit(f"stopped after {max_steps:,} steps at tick {self.now} before {goal}: {why} "
                         "(max_steps allows more)")

    def run_until(self, predicate, limit_ticks=None, max_steps=1_000_000):
        """Run until ``predicate(sim)`` holds; return whether it does.

        Stops early (returning ``False``) when nothing is left to happen or the
        clock would pass ``limit_ticks``.
        """
        return self._run_predicate(predicate, limit_ticks, max_steps)[0] and self.halted is None

    def _run_predicate(self, predicate, limit_ticks, max_steps):
        # Logged as the plain steps it took: a predicate cannot be written down.
        self._ensure_started()
        if self._depth or self._replaying:
            return self._run_predicate_steps(predicate, limit_ticks, max_steps)
        entry = self._begin_input("step", (0,), {})
        self._depth += 1
        try:
            return self._run_predicate_steps(predicate, limit_ticks, max_steps)
        finally:
            self._depth -= 1
            self._end_input(entry)

    def _run_predicate_steps(self, predicate, limit_ticks, max_steps):
        taken = 0
        while not predicate(self) and self.halted is None:
            due = self.next_due()
            if due is None or (limit_ticks is not None and due > limit_ticks):
                return False, taken
            if taken >= max_steps:
                raise StepLimit(f"stopped after {max_steps} steps at tick {self.now} and the condition "
                                "still does not hold (raise max_steps to allow more)")
            self._step()
            taken += 1
        return True, taken

    @_logged
    def schedule(self, at, action, *args, **kwargs):
        """Schedule a public action (``crash``, ``partition``, ``request``...) for tick ``at``."""
        if action not in SCHEDULABLE:
            raise BadParameter(f"cannot schedule {action!r}; allowed: {', '.join(SCHEDULABLE)}")
        if isinstance(at, bool) or not isinstance(at, int) or at < self.now:
            raise BadParameter(f"at must be a tick >= now ({self.now}); got {at!r}")
        # A crash point is armed before anything else happens at its tick, so that it
        # counts the handlers of that tick (its ``skip``) whatever order it was scheduled in.
        prio = PRIO_ARM if action == "crash" and kwargs.get("after") is not None else PRIO_ACTION
        self._push(at, prio, _Scheduled(action, args, kwargs, at))

    def _schedule_internal(self, at, action, *args):
        self._push(at, PRIO_ACTION, _Scheduled(action, args, {}, at))

    # ======================================================================= random faults
    @_logged
    def inject_faults(self, plan=None, **settings):
        """Attach a random fault injector (a :class:`FaultPlan`, or its settings as keywords).

        Its first period starts now.  See :mod:`fttoolkit.sim.faults`.
        """
        if plan is None:
            unknown = sorted(set(settings) - set(FaultPlan.names()))
            if unknown:
                raise BadParameter(f"unknown fault setting {unknown[0]!r}; allowed: {', '.join(FaultPlan.names())}")
            plan = FaultPlan(**settings)
        elif settings:
            raise BadParameter("give either a FaultPlan or its settings, not both")
        if self.injector is not None:
            raise InvalidAction("this simulation already has a fault injector")
        self._ensure_started()
        self.injector = FaultInjector(self, plan)
        self._schedule_internal(self.now + plan.period_ticks, "_fault_period")

    def _fault_period(self):
        self.injector.on_period(self)

    def _fault_restart(self, node_id):
        self.injector.restart(self, node_id)

    def _fault_heal(self):
        self.injector.heal(self)

    # ====================================================================== driving: by hand
    def pending(self):
        """List what could happen next: queued intentions, messages in flight, armed timers.

        Each item has ``kind`` (``"intention"``, ``"message"`` or ``"timer"``),
        ``name`` (``"i:n1"``, ``"m12"``, ``"t5"``) and ``due``.  Intentions come
        first (they are due now), then the rest by due tick.
        """
        self._ensure_started()
        items = [QueuedIntention(n, self._queues[n][0], len(self._queues[n]), self.now)
                 for n in self._active]
        held = [m for pair in self._held.values() for m in pair]
        rest = [entry for (_, _, _, entry) in sorted(self._heap, key=lambda e: e[:3])
                if not entry.dead and type(entry) is not _Scheduled]
        return items + held + rest

    def in_flight(self):
        """The messages in the network now, as ``(message, held)`` pairs, in the order they were sent.

        ``held`` is true for a message stuck on a clogged link.
        """
        self._ensure_started()
        out = [(m, True) for pair in self._held.values() for m in pair]
        out += [(entry, False) for (_, _, _, entry) in self._heap if type(entry) is InFlight and not entry.dead]
        out.sort(key=_by_mid)
        return out

    def timers(self, node_id):
        """The timers ``node_id`` has armed now (:class:`ArmedTimer`: ``timer``, ``set_at``, ``due``), by due tick."""
        self._ensure_started()
        self.network.check_node(node_id)
        return sorted((t for t in self._timers.get(node_id, {}).values() if not t.dead), key=lambda t: t.due)

    def is_held(self, item):
        """Return whether a message is held on a clogged link."""
        return any(item is m for pair in self._held.values() for m in pair)

    def _unhold(self, entry):
        for pair, held in self._held.items():
            if entry in held:
                held.remove(entry)
                if not held:
                    del self._held[pair]
                return

    def find(self, item, kind=None):
        """Return the pending item named ``item`` (``"m12"``, ``"t5"``, ``"i:n1"``) or given itself."""
        wanted = item if isinstance(item, str) else getattr(item, "name", None)
        for candidate in self.pending():
            if candidate.name == wanted and (kind is None or candidate.kind == kind):
                return candidate
        what = {"message": "a message in flight", "timer": "an armed timer",
                "intention": "a queued intention"}.get(kind, "pending")
        names = ", ".join(c.name for c in self.pending() if kind is None or c.kind == kind) or "none"
        raise InvalidAction(f"{item!r} is not {what}; pending now: {names}")

    def _settle(self, node_id):
        while self._queues.get(node_id):
            self._carry_out(node_id)

    @_logged
    def deliver(self, item, settle=True):
        """Deliver a message in flight now (or at its due tick, if that is later).

        With ``settle=True`` the receiving handler's intentions are carried out
        at once; with ``settle=False`` they stay queued, so that a crash can be
        placed between them.  Returns the trace events produced.
        """
        entry = self.find(item, "message")
        first = len(self.trace)
        self._unhold(entry)   # a held message tried again stays held while the link is clogged
        self._process(entry)
        if settle:
            self._settle(entry.dst)
        self._stepped()
        return self.trace[first:]

    @_logged
    def fire(self, item, settle=True, early=False):
        """Fire an armed timer (at its due tick, if that is later than now).

        With ``early=True`` it goes off now, before it is due: the way a test
        forces a timeout (an election, say) without letting time pass.
        """
        entry = self.find(item, "timer")
        first = len(self.trace)
        if early:
            entry.dead = True
            self._fire(entry)
        else:
            self._process(entry)
        if settle:
            self._settle(entry.node)
        self._stepped()
        return self.trace[first:]

    @_logged
    def drop(self, item):
        """Lose a message in flight."""
        entry = self.find(item, "message")
        entry.dead = True
        self._unhold(entry)
        first = len(self.trace)
        self._drop(entry.src, entry.dst, entry.msg, entry.mid, "manual")
        self._stepped()
        return self.trace[first:]

    @_logged
    def duplicate(self, item):
        """Put a second copy of a message in flight (with its own delay)."""
        entry = self.find(item, "message")
        first = len(self.trace)
        rnd = self.streams.faults.random   # a manual fault: keep the network stream untouched
        link = self.network.settings(entry.src, entry.dst)
        self._copy(entry.mid, entry.src, entry.dst, entry.msg,
                   self._draw_due(entry.src, entry.dst, link, rnd(), rnd()))
        self._stepped()
        return self.trace[first:]

    @_logged
    def execute(self, node_id):
        """Carry out the next queued intention of ``node_id``."""
        self.network.check_node(node_id)
        self.find(f"i:{node_id}", "intention")
        first = len(self.trace)
        self._carry_out(node_id)
        self._stepped()
        return self.trace[first:]

    # ================================================================================ faults
    def _check_up(self, node_id):
        self.network.check_node(node_id)
        if not self.up.get(node_id, False):
            running = ", ".join(i for i in self.ids if self.up.get(i)) or "none"
            raise InvalidAction(f"{node_id} is crashed; this needs a running node (running: {running})")

    @_logged
    def crash(self, node_id, tear=None, lose_disk=False, after=None, skip=0):
        """Crash ``node_id``: volatile state, timers and queued intentions are lost.

        Parameters
        ----------
        tear : int, optional
            Crash in the middle of the node's next intention, which must be a
            storage write: its first ``tear`` records are written whole and the
            next one is left torn (see :class:`fttoolkit.core.Torn`).
        lose_disk : bool
            Lose stable storage too (a disk failure).
        after : int, optional
            Do not crash now: arm a *crash point* instead.  The node's next
            batch of intentions is carried out up to ``after`` of them, then
            the node crashes (tearing the next one if ``tear`` is given).  A
            batch is what the node's handlers record while its queue of
            intentions is non-empty; in automatic runs a handler's intentions
            are always carried out before anything else happens, so a batch
            is exactly one handler's.
        skip : int
            With ``after``: let this many batches go by first.
        """
        self._ensure_started()
        if after is not None:        # a crash point may be armed while the node is down
            self.network.check_node(node_id)
            for name, value in (("after", after), ("skip", skip)):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise BadParameter(f"{name} must be a whole number >= 0; got {value!r}")
            self._armed[node_id] = {"after": after, "skip": skip, "tear": tear, "lose_disk": bool(lose_disk)}
            return
        self._check_up(node_id)
        queue = self._queues[node_id]
        torn = False
        if tear is not None:
            head = queue[0] if queue else None
            if type(head) is not Persist:
                raise InvalidAction(f"{node_id}'s next intention is {head!r}, not a storage write; "
                                    "tear= only applies while a write is queued")
            if isinstance(tear, bool) or not isinstance(tear, int) or not 0 <= tear < len(head.records):
                raise BadParameter(f"tear must be a whole number from 0 to {len(head.records) - 1} "
                                   f"(records written whole before the torn one); got {tear!r}")
            records = head.records[:tear] + (Torn(head.records[tear]),)
            self._emit("stored", node_id, {"records": records, "index": len(self.disks[node_id]),
                                           "torn": True})
            self.disks[node_id].extend(records)
            torn = True
        lost = len(queue)
        if queue:
            queue.clear()
            self._active.remove(node_id)
        for entry in self._timers[node_id].values():
            entry.dead = True
        self._timers[node_id] = {}
        self._armed.pop(node_id, None)
        if lose_disk:
            self.disks[node_id] = []
        self.up[node_id] = False
        self.changed = True
        self._emit("crashed", node_id, {"lost_intentions": lost, "torn": torn, "disk_lost": bool(lose_disk)})

    @_logged
    def restart(self, node_id):
        """Restart a crashed node from what survived on its stable storage.

        ``on_start(records)`` runs now; the intentions it records are carried
        out by the following steps (so a crash can still fall between them).
        """
        self._ensure_started()
        self.network.check_node(node_id)
        if self.up[node_id]:
            crashed = ", ".join(i for i in self.ids if not self.up[i]) or "none"
            raise InvalidAction(f"{node_id} is running; only a crashed node can be restarted "
                                f"(crashed now: {crashed})")
        node = self._make_node(node_id)
        self.nodes[node_id] = node
        self.up[node_id] = True
        self._emit("restarted", node_id, {"records": len(self.disks[node_id])})
        self._run_handler(node_id, node.start, (list(self.disks[node_id]),))

    @_logged
    def partition(self, *groups, oneway=False):
        """Cut the network between groups of node ids (see :meth:`Network.partition`)."""
        self._ensure_started()
        down = {i for i in self.ids if not self.up[i]}
        result = self.network.partition(groups, oneway=oneway, down=down)
        self._emit("partitioned", None, {"groups": [list(g) for g in result], "oneway": bool(oneway)})

    @_logged
    def heal(self):
        """Remove every partition."""
        self._ensure_started()
        self.network.heal()
        self._emit("healed", None, {})

    @_logged
    def clog(self, a, b):
        """Hold all messages on the link ``a``-``b`` (both ways) until :meth:`unclog`."""
        self._ensure_started()
        self.network.clog(a, b)
        self._emit("clogged", None, {"a": a, "b": b})

    @_logged
    def unclog(self, a, b):
        """Release the link ``a``-``b``; held messages arrive now, in order."""
        self._ensure_started()
        self.network.unclog(a, b)
        self._emit("unclogged", None, {"a": a, "b": b})
        for pair in ((a, b), (b, a)):
            for m in self._held.pop(pair, []):
                m.dead = False
                m.due = self.now
                self._emit("released", m.src, {"src": m.src, "dst": m.dst, "msg": m.msg, "mid": m.mid})
                self._push(self.now, PRIO_MESSAGE, m)

    @_logged
    def set_link(self, a, b, **settings):
        """Change one link's delay, loss, duplicate or reorder setting (both directions)."""
        self._ensure_started()
        self.network.set_link(a, b, **settings)
        self._emit("link", None, {"a": a, "b": b, **settings})

    @_logged
    def set_network(self, **settings):
        """Change the default delay, loss, duplicate or reorder (a link's own overrides still win)."""
        self._ensure_started()
        self.network.set_defaults(**settings)
        self._emit("network", None, dict(settings))

    @_logged
    def request(self, node_id, msg, client="client"):
        """Hand a client's request ``msg`` to ``node_id`` now (its reply goes to ``client``).

        The handler runs now; its intentions are carried out by the following steps.
        """
        self._ensure_started()
        self.network.check_node(node_id)
        if not isinstance(msg, Message):
            raise BadParameter(f"a request must be a Message; got {msg!r}")
        if not isinstance(client, str) or client in self.graph:
            raise BadParameter(f"client must be a name that is not a node id; got {client!r}")
        self.clients.add(client)
        self._emit("request", node_id, {"client": client, "msg": msg})
        if not self.up[node_id]:
            self._drop(client, node_id, msg, None, "crashed", at=node_id)
            return
        self._run_handler(node_id, self.nodes[node_id].handle_message, (msg, client))

    @_logged
    def narrate(self, text):
        """Record a line of narration (what a scenario's ``#`` lines say) in the input log.

        It changes nothing in the run (the trace stays that of the same inputs
        without it); the view shows the latest narration above its picture,
        and a run saved as a script keeps it as comments.
        """
        if not isinstance(text, str) or not text.strip():
            raise BadParameter(f"narration must be non-empty text; got {text!r}")
        self._ensure_started()

    def narration(self):
        """The latest narration at the current point of the timeline (``""`` if none).

        Examples
        --------
        >>> from fttoolkit.algorithms.broadcast import BroadcastNode
        >>> sim = Simulation(BroadcastNode, topology=3)
        >>> sim.narrate("First, nothing happens.")
        >>> _ = sim.run(until=50); sim.narrate("Still nothing."); _ = sim.run(until=90)
        >>> sim.narration()
        'Still nothing.'
        """
        end = len(self._log) if self._future_from is None else self._future_from[0]   # inputs replayed so far
        for entry in reversed(self._log[:end]):
            if entry.name == "narrate":
                return (entry.args[0] if entry.args else entry.kwargs["text"]).strip()
        return ""

    def next_narration_step(self):
        """After a rewind: the step at which the recorded future's next narration comes, or ``None``.

        (The narration made after step ``k`` shows from ``rewind(k)`` on.)
        """
        if self._future_from is None:
            return None
        for entry in self._log[self._future_from[0]:]:
            if entry.name == "narrate":
                return entry.at_step
        return None

    # ================================================================ input log, time travel
    @property
    def log(self):
        """The inputs of this run so far, in order (copies of the :class:`LogEntry` records)."""
        return [copy.copy(entry) for entry in self._log]

    @property
    def total_steps(self):
        """Steps recorded on this timeline, including a future kept after a rewind."""
        return max([self.steps] + [e.end_step for e in self._log])

    def _begin_input(self, name, args, kwargs):
        if self._future_from is not None:
            self._truncate_future()
        last = self._log[-1] if self._log else None
        if name == "step" and last is not None and last.name == "step" and last.end_step == self.steps:
            return last                      # consecutive steps make one entry
        entry = LogEntry(self.steps, name, args, kwargs)
        self._log.append(entry)
        return entry

    def _end_input(self, entry):
        entry.end_step = self.steps
        if entry.name == "step":
            entry.args = (entry.end_step - entry.at_step,)

    def _abandon_input(self, entry):
        if entry is (self._log[-1] if self._log else None) and self.steps == entry.at_step:
            self._log.pop()                  # a refused input changed nothing
        else:
            self._end_input(entry)

    def _snapshot(self):
        index = len(self._log) - 1 if self._depth else len(self._log)
        if len(self._heap) > 64:   # drop cancelled entries first: less to copy
            self._heap[:] = [item for item in self._heap if not item[3].dead]   # in place: loops hold it
            heapq.heapify(self._heap)
        state = _copy_state(_state_of(self), self.graph)
        self._snaps.append((self.steps, index, len(self.trace), state))
        if len(self._snaps) > self.max_snapshots:  # thin out: keep memory bounded
            self._snaps = self._snaps[:1] + self._snaps[2::2]
            self.snapshot_every *= 2

    def _restore(self, snap):
        _, _, trace_len, state = snap
        for name, value in _copy_state(state, self.graph).items():
            if name != "__graph__":
                setattr(self, name, value)
        # The events up to the snapshot are those of the recorded timeline (a replay
        # regenerates the same events, so the timeline's own can be reused).
        self.trace._events = self._timeline[:trace_len]

    def _truncate_future(self):
        """A new input after a rewind: forget the recorded future from this point."""
        index, target = self._future_from
        self._future_from = None
        self._timeline = None
        if index < len(self._log) and self._log[index].at_step < target:
            partial = self._log[index]           # a run or steps cut short by the rewind
            cut = LogEntry(partial.at_step, "step", (target - partial.at_step,), {})
            cut.end_step = target
            self._log[index:] = [cut]
        else:
            del self._log[index:]
        del self._step_ticks[target:]
        self._snaps = [sn for sn in self._snaps if sn[0] <= target and sn[1] <= len(self._log)]

    def discard_future(self):
        """After a rewind, forget the recorded future now; return how many steps it had.

        The next new input does this anyway; calling it first makes the fork
        explicit (the view's "Fork here" button).  Nothing happens when there is
        no recorded future.
        """
        if self._future_from is None:
            return 0
        lost = self.total_steps - self.steps
        self._truncate_future()
        return lost

    @property
    def has_future(self):
        """Whether a rewind left a recorded future ahead of the present (see :meth:`rewind`)."""
        return self._future_from is not None

    def step_tick(self, step):
        """The tick at which step ``step`` of the recorded timeline happened (0 for step 0).

        Examples
        --------
        >>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
        >>> sim = Simulation(BroadcastNode, topology=3, seed=1, network={"delay": 10})
        >>> sim.request("n1", BroadcastRequest("hi"))
        >>> _ = sim.run(until=100)
        >>> [sim.step_tick(s) for s in range(8)]
        [0, 0, 0, 0, 0, 0, 10, 10]
        >>> sim.steps_until(9), sim.steps_until(10), sim.steps == sim.steps_until(sim.now)
        (5, 17, True)
        """
        total = len(self._step_ticks)
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= total:
            raise BadParameter(f"step must be a whole number from 0 to {total}; got {step!r}")
        return self._step_ticks[step - 1] if step else 0

    def steps_until(self, tick):
        """How many steps of the recorded timeline happened at or before ``tick``."""
        return bisect.bisect_right(self._step_ticks, tick)

    def rewind(self, step):
        """Go to the moment after step ``step`` (0 = the start), before step ``step + 1``.

        Inputs made between those two steps (a crash, a request...) are
        included, so rewinding to :attr:`total_steps` restores the present.
        The recorded future is kept, so ``rewind`` also moves forwards again;
        the next new input (a step, a fault, a manual choice) replaces that
        future.  The result equals a fresh run given the same inputs up to
        that point.
        """
        self._ensure_started()
        total = self.total_steps
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= total:
            raise BadParameter(f"step must be a whole number from 0 to {total}; got {step!r}")
        if self._future_from is not None and step >= self.steps:
            self._replay(self._future_from[0], step)     # forwards on the recorded timeline: go on from here
            return
        if self._timeline is None or len(self.trace) > len(self._timeline):
            self._timeline = list(self.trace._events)
        snap = self._snaps[0]
        for candidate in self._snaps:
            if candidate[0] < step:
                snap = candidate
        self._restore(snap)
        self._replay(snap[1], step)

    def _replay(self, index, target):
        """Re-apply the logged inputs from ``index``: up to step ``target`` and the inputs made after it.

        That is the state just before step ``target + 1`` would be taken.
        """
        self._replaying = True
        self.trace.muted = True
        try:
            log = self._log
            while index < len(log):
                entry = log[index]
                if entry.at_step > target or (entry.at_step == target and entry.end_step > target):
                    break     # made after the target, or would take step target + 1
                if entry.name == "run":
                    self._run_ticks(entry.args[0], 10**12, stop_step=min(entry.end_step, target))
                    self._check_retraced(min(entry.end_step, target))
                    if entry.end_step > target:
                        break
                    until = entry.args[0]
                    if entry.complete and until is not None and until > self.now:
                        self.now = until      # the run's last act: the clock moves on to its end
                elif entry.name == "step":
                    while self.steps < min(entry.end_step, target):
                        if not self._step():
                            self._check_retraced(min(entry.end_step, target))
                    if entry.end_step > target:
                        break
                else:
                    getattr(self, entry.name)(*entry.args, **entry.kwargs)
                index += 1
        finally:
            self._replaying = False
            self.trace.muted = False
        self._future_from = (index, target) if (index < len(self._log) or self.steps < target) else None
        for hook in self.rewind_hooks:
            hook(self)

    def _check_retraced(self, expected_steps):
        if self.steps != expected_steps:
            self._replaying = False
            raise ReplayDiverged(
                f"replaying the recorded inputs reached step {self.steps} where the original run reached "
                f"step {expected_steps}: the run is not deterministic (does a node use global state, the "
                "wall clock or the random module instead of self.rng?), so it cannot be rewound")

    def fork(self):
        """Return a new, independent simulation at this point, with no recorded future.

        Make a different choice in the fork and go on; this simulation is untouched.
        """
        self._ensure_started()
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        graph = self.graph.copy()
        state = _copy_state(_state_of(self), graph)
        del state["__graph__"]
        other.__dict__.update(state)
        other.graph = graph
        other.trace = Trace()
        other.trace.header = dict(self.trace.header)
        other.trace._events = list(self.trace._events)
        other._log = [copy.copy(e) for e in self._log]
        other._snaps = list(self._snaps)
        other._timeline = None if self._timeline is None else list(self._timeline)
        other._step_ticks = list(self._step_ticks)
        other.rewind_hooks = []
        other._depth = 0
        if self._future_from is not None:
            other._truncate_future()
        return other

    def reset(self, seed=None):
        """Start this run over, in place, with ``seed`` (default: the same seed).

        The cluster is built again as it was made, with the same protocol,
        topology, parameters, bugs, network settings and checkers, and the
        inputs made before the first step (client requests, scheduled faults,
        added nodes...) are made again; everything after that is forgotten.
        Observers of the trace and rewind hooks stay subscribed.

        Examples
        --------
        >>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
        >>> sim = Simulation(BroadcastNode, topology=3, seed=1)
        >>> sim.request("n2", BroadcastRequest("hi"))
        >>> _ = sim.run(until=200)
        >>> sim.reset(seed=2)
        >>> sim.seed, sim.now, [e.kind for e in sim.trace][-1]
        (2, 0, 'request')
        """
        seed = self.seed if seed is None else check_seed(seed)
        graph, network = self._made_with
        fresh = Simulation(self.node_class, graph.copy(), seed, self.params, self.bugs, network, self.name)
        fresh._made_with = self._made_with
        if self.started:
            fresh.checkers = copy.deepcopy(self._first_checkers)
            fresh.snapshot_every = self._first_snapshot_every
        else:
            fresh.checkers = copy.deepcopy(self.checkers)
            fresh.snapshot_every = self.snapshot_every
        fresh.max_snapshots = self.max_snapshots
        fresh.trace._observers = self.trace._observers
        fresh.rewind_hooks = self.rewind_hooks
        for entry in self._log:
            if entry.end_step > 0:
                break
            getattr(fresh, entry.name)(*entry.args, **entry.kwargs)
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)

    # ============================================================================ inspection
    def __repr__(self):
        down = [i for i in self.ids if not self.up.get(i, True)]
        extra = f", crashed: {', '.join(down)}" if down else ""
        return (f"<Simulation {self.node_class.__name__}: {len(self.ids)} nodes, seed {self.seed}, "
                f"t={self.now}, {len(self.trace)} events{extra}>")
