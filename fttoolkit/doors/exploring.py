"""Exhaustive exploration of the course's own Raft, Paxos and 2PC code, branch by branch.

The explorer of :mod:`fttoolkit.check.explore` visits every reachable state of
a finite transition system.  This module makes one out of a small simulated
cluster running the *same node classes* as the simulator
(:class:`~fttoolkit.algorithms.raft.RaftNode`,
:class:`~fttoolkit.algorithms.paxos.PaxosNode`,
:class:`~fttoolkit.algorithms.twopc.TwoPCNode`): a state holds everything that
determines the future, and every choice the network, the clock and the fault
model could make is a branch.  ``python -m fttoolkit explore raft|paxos|2pc``
runs it; ``--save FILE`` writes a counterexample as a scenario script.

A state
-------
For each node: whether it is up; its protocol fields (every attribute the node
set, private ones included, except the framework's and clock readings); its
armed timers (their identities, not their due times); its stable storage.
Then the multiset of messages in flight, the faults and requests used so far,
the state of the history invariants' observers (ghost variables: "who was
elected in term 2" outlives the leader's memory) and the violations they
reported.  Dicts, lists and sets are stored in a canonical frozen form, so
two states that differ only in insertion order are the same state.

The branches (what :meth:`ClusterSpec.next_states` lists)
--------------------------------------------------------
**Deliver** any message in flight to a running node (in any order: the
network is asynchronous); **fire** any armed timer, regardless of time; hand
the next client **request** to a node; **restart** a crashed node; **crash** a
running node; **duplicate** or **drop** a message in flight.  A step is an
input and everything the handler recorded, carried out in order, as the
simulator's automatic mode does ("intentions are carried out one per step,
before anything else happens").  While crashes are left in the budget, each
*crash point* of the handler is a sibling branch: the node crashes after the
first ``k`` intentions.  A crash point lies before a storage write or a
message to a node; a crash just before any other intention is the same as one
just after it (a crash wipes timers; a note only tells the checkers what the
node did).  That is how "acknowledge, then crash before writing" is found.

Time is abstracted away.  Safety properties of these protocols must hold in
the asynchronous model, where any message may take any time and any timer
may go off at any moment: every timed run of the simulator is one ordering of
these events, so exploring every ordering covers every timed run (and more).
Nodes read the clock (``node.now``) as 0; fields that hold clock readings
(Raft's ``heard_at``, used only by PreVote, which the explorer leaves off) are
not part of the state; random streams only choose timer durations, which do
not exist here.  Conversely each explored run is a run of the simulator driven
by hand (``deliver``, ``fire ... early``, ``execute``, ``crash``), which is how
:meth:`ClusterSpec.scenario_script` replays a counterexample.  A bug whose only
effect is on timing (Raft's ``fixed-timeout``: split votes forever) is a
liveness bug and cannot show up here: its state graph *is* the correct one's.

Bounds (each an option of ``python -m fttoolkit explore SYSTEM``)
----------------------------------------------------------------
``--nodes``; ``--crashes`` (crash budget; restarts are free); ``--requests``
(client requests); ``--in-flight`` (messages in flight: a send beyond it is
lost, which the network may always do); ``--duplicates`` and ``--drops``
(budgets; a message that is never delivered is already a lost message, so
drops only free room under ``--in-flight``); Raft's ``--max-term`` and
``--max-log``, Paxos's ``--max-ballot`` (a step that would take a node past
them is not explored, like a TLC state constraint); ``--prefix FILE``, a
scenario script run before exploring (it must end with no intention queued and
no partition or clog in place), or the name of a built-in prefix
(:data:`PREFIXES`).  Raft also takes ``--noop`` and ``--max-batch`` (its own
parameters), 2PC ``--cooperative``.  The defaults explore each correct
protocol completely in seconds; :data:`BUG_TABLE` gives the bounds that find
each named bug and :data:`CORRECT_TABLE` larger bounds the correct code passes.

Examples
--------
>>> from fttoolkit.check.explore import explore
>>> result = explore(raft_spec(max_term=1, max_log=1, requests=0, in_flight=4))
>>> result.ok, result.complete, result.distinct
(True, True, 46214)
>>> bad = explore(twopc_spec(bug=("abort-after-yes",), crashes=0))
>>> bad.violations[0].invariant, len(bad.violations[0])
('Atomicity', 8)

Notes
-----
Explicit-state model checking of implementation code, as in DSLabs (Michael,
Woos, Anderson, Ernst and Tatlock, "Teaching Rigorous Distributed Systems With
Efficient Model Checking", EuroSys 2019) and MaceMC (Killian et al., "Life,
Death, and the Critical Transition", NSDI 2007); the asynchronous model is that
of Fischer, Lynch and Paterson, "Impossibility of Distributed Consensus with
One Faulty Process" (1985).  The bounds are TLC's state constraints (Lamport,
*Specifying Systems*, 2002, §14.3).  Raft: Ongaro & Ousterhout, "In Search of
an Understandable Consensus Algorithm" (2014), Figure 3's properties; Paxos:
Lamport, "Paxos Made Simple" (2001); two-phase commit: Gray, "Notes on Data
Base Operating Systems" (1978) and Gray & Lamport, "Consensus on Transaction
Commit" (2006).
"""

import random
import time
from typing import NamedTuple

from ..algorithms import paxos as _paxos
from ..algorithms import raft as _raft
from ..algorithms import twopc as _twopc
from ..check.explore import Option, Spec, explore, register_system
from ..core.errors import BadParameter, FtError
from ..core.intentions import CancelTimer, Note, Persist, Send, SetTimer
from ..core.invariants import as_violations
from ..sim.trace import Event
from .base import door_for

__all__ = ["ClusterSpec", "Action", "NodeView", "raft_spec", "paxos_spec", "twopc_spec", "SPECS", "PREFIXES",
           "BUG_TABLE", "CORRECT_TABLE", "measure"]

# Framework attributes of a node (see fttoolkit.core.node): not protocol state.
_FRAMEWORK = frozenset({"id", "peers", "neighbors", "params", "bugs", "rng", "now", "_intentions"})


# ============================================================================== frozen values
class _FDict(tuple):
    """A dict, frozen: its items sorted by key."""

    __slots__ = ()


class _FList(tuple):
    """A list, frozen."""

    __slots__ = ()


class _FSet(frozenset):
    """A set, frozen."""

    __slots__ = ()


def _freeze(value):
    """A hashable, canonical copy of ``value`` (dicts, lists and sets nested anywhere)."""
    t = type(value)
    if t is dict:
        items = [(k, _freeze(v)) for k, v in value.items()]
        try:
            items.sort(key=_first)
        except TypeError:
            items.sort(key=lambda kv: _order_key(kv[0]))
        return _FDict(items)
    if t is list:
        return _FList(_freeze(v) for v in value)
    if t is set:
        return _FSet(_freeze(v) for v in value)
    return value          # numbers, strings, None, tuples, frozensets, messages: immutable


def _first(pair):
    return pair[0]


def _thaw(value):
    """The mutable value ``_freeze`` froze (fresh containers)."""
    t = type(value)
    if t is _FDict:
        return {k: _thaw(v) for k, v in value}
    if t is _FList:
        return [_thaw(v) for v in value]
    if t is _FSet:
        return {_thaw(v) for v in value}
    return value


_KEYS = {}


def _order_key(value):
    """A total order on the values found in states: same shape, same kind of key."""
    if value is None:
        return (-1,)
    t = type(value)
    if t is str:
        return (1, value)
    if t is bool or t is int or t is float:
        return (0, value)
    try:
        return _KEYS[value]
    except (KeyError, TypeError):
        pass
    if isinstance(value, (frozenset, set)):
        key = (3, tuple(sorted(_order_key(v) for v in value)))
    elif isinstance(value, tuple):
        key = (2, t.__name__, tuple(_order_key(v) for v in value))
    elif hasattr(value, "_field_names"):          # messages and timers
        key = (4, t.__name__, tuple(_order_key(getattr(value, f)) for f in value._field_names))
    elif hasattr(value, "_fields"):               # intentions
        key = (5, t.__name__, tuple(_order_key(getattr(value, f)) for f in value._fields))
    else:
        key = (6, t.__name__, repr(value))
    try:
        if len(_KEYS) > 200_000:
            _KEYS.clear()
        _KEYS[value] = key
    except TypeError:
        pass
    return key


# ============================================================= interned messages and timers, ops
# Messages and timers are interned once per process: states, memo keys and sort keys then use
# small integers, and rendering a label looks the value up.  Nothing observable depends on the
# numbers: every order is by value (_VALUE_KEYS).
_VALUES = []
_VALUE_IDS = {}
_VALUE_KEYS = []


def _vid(value):
    """The interned id of a message or timer."""
    ident = _VALUE_IDS.get(value)
    if ident is None:
        ident = _VALUE_IDS[value] = len(_VALUES)
        _VALUES.append(value)
        _VALUE_KEYS.append(_order_key(value))
    return ident


def _timer_key(tid):
    return _VALUE_KEYS[tid]


def _net_key(item):
    src, dst, mid = item[0]
    return (src, dst, _VALUE_KEYS[mid])


# Intentions compiled to ops: (code, a, b)
_SEND, _REPLY, _SET, _CANCEL, _PERSIST, _NOTE = range(6)


def _compile(intention, nodes):
    kind = type(intention)
    if kind is Send:
        return (_SEND if intention.to in nodes else _REPLY, intention.to, _vid(intention.msg))
    if kind is SetTimer:
        return (_SET, _vid(intention.timer), 0)
    if kind is CancelTimer:
        return (_CANCEL, _vid(intention.timer), 0)
    if kind is Persist:
        return (_PERSIST, intention.records, 0)
    if kind is Note:
        return (_NOTE, intention.text, intention.fields)
    raise TypeError(f"unknown intention {intention!r}")   # pragma: no cover - Node records only these


def _intention(op):
    """The intention an op was compiled from (a timer's duration is not kept: 0)."""
    code, a, b = op
    if code in (_SEND, _REPLY):
        return Send(a, _VALUES[b])
    if code == _SET:
        return SetTimer(_VALUES[a], 0)
    if code == _CANCEL:
        return CancelTimer(_VALUES[a])
    if code == _PERSIST:
        return Persist(a)
    return Note(a, b)


# ================================================================================= actions
class Action(NamedTuple):
    """One branch: an input at a node, then ``count`` of the intentions its handler recorded.

    ``kind`` is one of ``"deliver"``, ``"fire"``, ``"request"``, ``"restart"``
    (an input: the node's handler runs), ``"crash"``, ``"duplicate"``,
    ``"drop"``.  ``what`` is the message ``(src, dst, msg)``, the timer or the
    request's message.  ``crash``: the intention (a ``Send`` or a ``Persist``)
    before which the node crashed, ``count`` intentions having been carried
    out; None when every intention was carried out.

    Examples
    --------
    >>> from fttoolkit.algorithms.raft import ElectionTimeout
    >>> str(Action("fire", "n2", ElectionTimeout(), 3))
    'fire n2 ElectionTimeout()'
    """

    kind: str
    node: str
    what: object = None
    count: int = 0
    crash: object = None

    def __str__(self):
        kind, node, what = self.kind, self.node, self.what
        if kind in ("deliver", "duplicate", "drop"):
            src, dst, msg = what
            text = f"{kind} {src}->{dst} {msg!r}"
        elif kind in ("fire", "request"):
            text = f"{kind} {node} {what!r}"
        else:
            text = f"{kind} {node}"
        if self.crash is not None:
            text += f"; {node} crashes before {self.crash!r}"
        return text

    __repr__ = __str__

    def __format__(self, spec):
        return format(str(self), spec)


# ============================================================================= the state space
class _Slot(NamedTuple):
    """One node in a state."""

    up: bool
    fid: int             # the node's frozen fields, interned (-1 when down)
    timers: tuple        # armed timers (interned ids), in value order
    did: int             # its stable storage, interned


class _State(NamedTuple):
    nodes: tuple         # one _Slot per node, in id order
    net: tuple           # (((src, dst, message id), count), ...) in value order
    used: tuple          # (crashes, requests, duplicates, drops)
    ghosts: tuple        # the history observers' frozen states, interned (one id each)
    broken: frozenset    # violations reported by history observers on the way


class _Table:
    """Interned frozen values: each distinct value gets one small integer id."""

    __slots__ = ("ids", "values")

    def __init__(self):
        self.ids = {}
        self.values = []

    def intern(self, value):
        ident = self.ids.get(value)
        if ident is None:
            ident = self.ids[value] = len(self.values)
            self.values.append(value)
        return ident


class _HistoryCheck:
    """A history invariant as the explorer checks it: the violations its observer reported on the way."""

    def __init__(self, invariant):
        self.invariant = invariant
        self.name = invariant.name
        self.title = invariant.title

    def evaluate(self, view):
        return [v for v in view.broken if v.invariant == self.name]

    def __repr__(self):
        return f"Invariant({self.title!r})"


class _StateCheck:
    """A state invariant, its verdicts remembered per combination of node states."""

    def __init__(self, invariant):
        self.invariant = invariant
        self.name = invariant.name
        self.title = invariant.title
        self._memo = {}

    def evaluate(self, view):
        found = self._memo.get(view.key)
        if found is None:
            if len(self._memo) > 500_000:
                self._memo.clear()
            found = self._memo[view.key] = tuple(self.invariant.evaluate(view))
        return list(found)

    def __repr__(self):
        return f"Invariant({self.title!r})"


class NodeView(dict):
    """The running nodes of a state (id -> node object, as core invariants expect).

    ``broken`` holds the violations the history observers reported on the way
    to the state; ``key`` identifies the nodes' states.
    """

    broken = frozenset()
    key = ()


def _event_data(kind, payload):
    """An event payload (ids) -> the ``data`` dict the simulator puts in that trace event."""
    if kind in ("sent", "delivered", "duplicated"):
        src, dst, mid = payload
        data = {"src": src, "dst": dst, "msg": _VALUES[mid], "mid": 0}
        if kind == "sent":
            data["due"] = 0
        elif kind == "duplicated":
            data.update(of=0, due=0)
        return data
    if kind == "dropped":
        src, dst, mid, reason = payload
        return {"src": src, "dst": dst, "msg": _VALUES[mid], "mid": 0, "reason": reason}
    if kind in ("request", "reply"):
        return {"client": payload[0], "msg": _VALUES[payload[1]]}
    if kind in ("timer_set", "timer_cancelled", "timer_fired"):
        data = {"timer": _VALUES[payload[0]], "tid": 0}
        if kind == "timer_set":
            data["due"] = 0
        return data
    if kind == "stored":
        return {"records": payload[0], "index": payload[1]}
    if kind == "note":
        return {"text": payload[0], "fields": dict(payload[1])}
    if kind == "role":
        return {"old": payload[0], "new": payload[1]}
    if kind == "crashed":
        return {"lost_intentions": payload[0], "torn": False, "disk_lost": False}
    if kind == "restarted":
        return {"records": payload[0]}
    return {}


class _Work:
    """A state being changed by one branch: only what it touches is copied."""

    __slots__ = ("spec", "kinds", "slots", "live", "net", "count", "used", "ghosts", "broken", "order", "out")

    def __init__(self, spec, state):
        self.spec = spec
        self.kinds = spec._kinds
        self.slots = list(state.nodes)
        self.live = {}                  # node index -> [fid (-1: down), timers (sorted tuple), did, ops]
        self.net = None                 # a dict once changed
        self.count = 0
        self.used = state.used
        self.ghosts = state.ghosts
        self.broken = state.broken
        self.order = state.net
        self.out = False                # a node went outside the bounds

    # ---- the network
    def _netdict(self):
        if self.net is None:
            self.net = dict(self.order)
            self.count = sum(self.net.values())
        return self.net

    def add_message(self, key):
        net = self.net if self.net is not None else self._netdict()
        if self.count >= self.spec.in_flight:
            return False                # lost: the network may always lose a message
        net[key] = net.get(key, 0) + 1
        self.count += 1
        return True

    def take_message(self, key):
        net = self.net if self.net is not None else self._netdict()
        left = net[key] - 1
        if left:
            net[key] = left
        else:
            del net[key]
        self.count -= 1

    # ---- the nodes
    def node(self, index):
        """The live record of node ``index``."""
        rec = self.live.get(index)
        if rec is None:
            slot = self.slots[index]
            rec = self.live[index] = [slot.fid, slot.timers, slot.did, ()]
        return rec

    # ---- history
    def emit(self, kind, node, *payload):
        """A trace event, for the history observers."""
        if kind in self.kinds:
            self.observe((kind, node, payload))

    def observe(self, event):
        """Pass ``event`` (``(kind, node, payload)``) to the history observers, through the spec's memo."""
        spec = self.spec
        key = (self.ghosts, event)
        hit = spec._observer_memo.get(key)
        if hit is None:
            hit = spec._observer_memo[key] = spec._observe(self.ghosts, event)
        self.ghosts = hit[0]
        if hit[1]:
            self.broken = self.broken | hit[1]

    def handle(self, index, what, arg):
        """Run a handler of node ``index`` (through the spec's memo); its intentions wait in ``rec[3]``."""
        spec = self.spec
        rec = self.live[index]
        key = (index, rec[0], what, arg)
        hit = spec._handler_memo.get(key)
        if hit is None:
            hit = spec._handler_memo[key] = spec._handle(index, rec[0], what, arg)
        fid, ops, old_role, new_role, within = hit
        rec[0] = fid
        if old_role != new_role:
            self.emit("role", spec.ids[index], old_role, new_role)
        rec[3] = ops
        if not within:
            self.out = True

    def carry_out(self, index, k=None):
        """Carry out the first ``k`` (default: all) of the intentions node ``index``'s handler recorded.

        As the simulator's ``_execute``, one intention at a time; the effect on
        the node's timers and disk and the events produced are remembered per
        ``(ops, k, timers, disk)`` by the spec.
        """
        spec = self.spec
        rec = self.live[index]
        ops = rec[3]
        if k is None:
            k = len(ops)
        key = (index, ops, k, rec[1], rec[2])
        hit = spec._effect_memo.get(key)
        if hit is None:
            hit = spec._effect_memo[key] = spec._effect(index, ops[:k], rec[1], rec[2])
        rec[1], rec[2], steps = hit
        for step in steps:
            if step[0] == 0:
                _, message, sent = step
                if sent is not None:
                    self.observe(sent)
                if not self.add_message(message) and "dropped" in self.kinds:
                    src, dst, mid = message
                    self.observe(("dropped", src, (src, dst, mid, "in-flight bound")))
            else:
                self.observe(step[1])

    def crash(self, index, lost=0):
        """Crash node ``index`` (``lost``: intentions of its handler not carried out)."""
        rec = self.node(index)
        self.live[index] = [-1, (), rec[2], ()]
        self.emit("crashed", self.spec.ids[index], lost)

    def boot(self, index, kind):
        """Start (``kind="start"``) or restart node ``index`` from its disk."""
        rec = self.node(index)
        self.live[index] = rec = [-1, (), rec[2], ()]
        node_id = self.spec.ids[index]
        if kind == "start":
            self.emit("start", node_id)
        else:
            self.emit("restarted", node_id, len(self.spec._disks.values[rec[2]]))
        self.handle(index, "start", rec[2])

    # ---- the new state
    def finish(self):
        """The state reached, or None when a bound cuts this branch."""
        if self.out:
            return None
        slots = self.slots
        for index, (fid, timers, did, _) in self.live.items():
            slots[index] = _Slot(fid >= 0, fid, timers, did)
        if self.net is None:
            net = self.order
        else:
            net = tuple(sorted(self.net.items(), key=_net_key))
        return _State(tuple(slots), net, self.used, self.ghosts, self.broken)


class ClusterSpec(Spec):
    """A small cluster of one protocol's nodes, explored branch by branch (see the module docstring).

    Parameters
    ----------
    door : str
        The front door's name (``"raft"``, ``"paxos"``, ``"2pc"``): its node
        class, invariants and scenario scripts are used.
    nodes : int
        Cluster size (``n1 .. nN``).
    params : dict, optional
        Protocol parameters.
    bugs : iterable of str
        Named bugs to switch on (checked against the node class's ``bugs``).
    crashes, requests, in_flight, duplicates, drops : int
        The bounds (see the module docstring).
    requests_to : callable
        ``requests_to(spec, k) -> [(node_id, message), ...]``: the client
        requests that may be made as the ``k``-th one (from 1).
    within : callable, optional
        ``within(node) -> bool``: the state constraint (a branch that takes a
        node outside it is not explored).
    clock_fields : tuple of str
        Node fields that hold clock readings (left out of states).
    event_kinds : iterable of str, optional
        The trace event kinds the history observers read (others are not
        produced, for speed); ``None``: all of them.
    prefix : str, optional
        A scenario script run before exploring: a file, or the name of a
        built-in one (:data:`PREFIXES`).
    options : list of str, optional
        The command-line options that built it (for the saved script's description).

    Examples
    --------
    >>> from fttoolkit.check.explore import explore
    >>> explore(twopc_spec(nodes=2, requests=1)).ok
    True

    Notes
    -----
    A handler's effect is a pure function of the node's state and its input
    (its random stream is reset and its clock reads 0), so each distinct
    ``(node state, input)`` pair runs the node's own handler once and the
    result is remembered; so is each step of a history observer.  Node states
    and observer states are interned as small integers.  This is how DSLabs'
    model checker (Michael et al., 2019) makes implementation code cheap to
    explore.
    """

    def __init__(self, door, nodes=3, params=None, bugs=(), crashes=0, requests=1, in_flight=4, duplicates=0,
                 drops=0, requests_to=None, within=None, clock_fields=(), event_kinds=None, prefix=None,
                 options=None):
        door_class = door_for(door)
        self.door_class = door_class
        self.node_class = cls = door_class.node_class
        self.name = door
        for label, value, low, high in (("nodes", nodes, 1, 7), ("crashes", crashes, 0, 10),
                                        ("requests", requests, 0, 10), ("in-flight", in_flight, 1, 50),
                                        ("duplicates", duplicates, 0, 10), ("drops", drops, 0, 10)):
            _check_range(label, value, low, high)
        if isinstance(bugs, str):
            bugs = (bugs,)
        bugs = tuple(sorted(set(bugs)))
        unknown = [b for b in bugs if b not in cls.bugs]
        if unknown:
            raise BadParameter(f"{door} has no bug {unknown[0]!r}; known bugs: {', '.join(sorted(cls.bugs))}")
        self.params = dict(params or {})
        cls("check", params=self.params, bugs=bugs)          # validates the parameters
        self.bugs = bugs
        self.crashes, self.requests, self.in_flight = crashes, requests, in_flight
        self.duplicates, self.drops = duplicates, drops
        self.ids = tuple(f"n{i}" for i in range(1, nodes + 1))
        self.index = {node_id: k for k, node_id in enumerate(self.ids)}
        self._requests_to = requests_to or (lambda spec, k: [])
        self._request_memo = {}
        self._within = within or (lambda node: True)
        self._clock = frozenset(clock_fields)
        kinds = ("start", "restarted", "crashed", "sent", "delivered", "dropped", "duplicated", "reply",
                 "timer_set", "timer_cancelled", "timer_fired", "stored", "note", "role", "request")
        self._kinds = frozenset(kinds if event_kinds is None else event_kinds)
        if not any(inv.uses_history for inv in door_class.invariants):
            self._kinds = frozenset()            # nobody reads the events
        self.options = list(options or ())
        self.prefix = prefix or None
        # the invariants: state ones remembered per node states, history ones through their observers
        self._history = [inv for inv in door_class.invariants if inv.uses_history]
        self._stateful = [inv for inv in door_class.invariants if inv.uses_state]
        self.invariants = {}
        for inv in door_class.invariants:
            self.invariants[inv.name] = _HistoryCheck(inv) if inv.uses_history else _StateCheck(inv)
        self._observer_classes = [type(inv.observer()) for inv in self._history]
        # each node's framework attributes, and its random stream (reset before each use)
        self._rngs = [random.Random(node_id) for node_id in self.ids]
        self._rng_state = [r.getstate() for r in self._rngs]
        self._framework = []
        merged = dict(cls.params)
        merged.update(self.params)
        for k, node_id in enumerate(self.ids):
            peers = tuple(i for i in self.ids if i != node_id)
            self._framework.append({"id": node_id, "peers": peers, "neighbors": peers, "params": merged,
                                    "bugs": frozenset(bugs), "rng": self._rngs[k], "now": 0})
        self._nodes = _Table()           # interned frozen node fields
        self._disks = _Table()           # interned disks (tuples of records)
        self._appended = {}              # (disk id, records) -> disk id
        self._empty_disk = self._disks.intern(())
        self._ghost_table = _Table()     # interned frozen observer states
        self._handler_memo = {}
        self._effect_memo = {}
        self._observer_memo = {}
        self._inspect = {}
        self._last = (None, None)
        self._request_base = 0
        self._initial = self._from_prefix(self.prefix) if self.prefix else self._boot()

    # ---- nodes: thaw, run, freeze
    def _new_node(self, index):
        node_id = self.ids[index]
        rng = self._rngs[index]
        rng.setstate(self._rng_state[index])
        fw = self._framework[index]
        return self.node_class(node_id, peers=fw["peers"], neighbors=fw["neighbors"], params=self.params,
                               bugs=self.bugs, rng=rng)

    def _thaw_node(self, index, fid):
        node = object.__new__(self.node_class)
        d = node.__dict__
        d.update(self._framework[index])
        d["_intentions"] = []
        for name, value in self._nodes.values[fid]:
            d[name] = _thaw(value)
        for name in self._clock:
            d[name] = None
        self._rngs[index].setstate(self._rng_state[index])
        return node

    def _freeze_node(self, node):
        clock = self._clock
        return tuple(sorted((k, _freeze(v)) for k, v in vars(node).items()
                            if k not in _FRAMEWORK and k not in clock))

    def _handle(self, index, fid, what, arg):
        """Run one handler on a fresh copy of the node: ``(fid, ops, old role, new role, within)``.

        ``what`` is ``"start"`` (``arg``: the disk id), ``"timer"`` (the timer id)
        or ``"message"`` (``(message id, sender)``).
        """
        if what == "start":
            node = self._new_node(index)
            old_role = node.role
            intentions = node.start(list(self._disks.values[arg]))
        else:
            node = self._thaw_node(index, fid)
            old_role = node.role
            if what == "timer":
                intentions = node.handle_timer(_VALUES[arg])
            else:
                intentions = node.handle_message(_VALUES[arg[0]], arg[1])
        if len(self._handler_memo) > 2_000_000:
            self._handler_memo.clear()
        ops = tuple(_compile(i, self.index) for i in intentions)
        return (self._nodes.intern(self._freeze_node(node)), ops, old_role, node.role, bool(self._within(node)))

    def _append(self, did, records):
        """The disk id after appending ``records`` to disk ``did``."""
        key = (did, records)
        new = self._appended.get(key)
        if new is None:
            new = self._appended[key] = self._disks.intern(self._disks.values[did] + records)
        return new

    def _inspect_node(self, index, fid):
        """A node object for invariant checks (shared between states: never changed)."""
        node = self._inspect.get((index, fid))
        if node is None:
            if len(self._inspect) > 200_000:
                self._inspect.clear()
            node = self._inspect[(index, fid)] = self._thaw_node(index, fid)
        return node

    def node_state(self, state, node_id):
        """The protocol fields of ``node_id`` in ``state`` (a dict), or ``None`` if it is crashed."""
        slot = state.nodes[self.index[node_id]]
        return None if not slot.up else {k: _thaw(v) for k, v in self._nodes.values[slot.fid]}

    def _requests(self, k):
        """The ``k``-th client request's choices ``[(node_id, message)]`` (remembered)."""
        found = self._request_memo.get(k)
        if found is None:
            found = self._request_memo[k] = list(self._requests_to(self, k))
        return found

    def disk(self, state, node_id):
        """The records on ``node_id``'s stable storage in ``state``."""
        return self._disks.values[state.nodes[self.index[node_id]].did]

    def timers(self, state, node_id):
        """The timers ``node_id`` has armed in ``state``."""
        return tuple(_VALUES[t] for t in state.nodes[self.index[node_id]].timers)

    def messages(self, state):
        """The messages in flight in ``state``: ``(src, dst, message)``, each as many times as it is there."""
        return [(src, dst, _VALUES[mid]) for (src, dst, mid), count in state.net for _ in range(count)]

    # ---- history observers
    def _observe(self, ghosts, event):
        """One event through every history observer: ``(new ghost ids, frozenset of violations)``."""
        kind, node, payload = event
        trace_event = Event(0, 0, kind, node, _event_data(kind, payload))
        new, found = [], []
        for k, gid in enumerate(ghosts):
            observer = object.__new__(self._observer_classes[k])
            observer.__dict__.update((name, _thaw(value)) for name, value in self._ghost_table.values[gid])
            found += as_violations(observer(trace_event))
            new.append(self._ghost_table.intern(self._freeze_observer(observer)))
        if len(self._observer_memo) > 2_000_000:
            self._observer_memo.clear()
        return tuple(new), frozenset(found)

    def _effect(self, index, ops, timers, did):
        """Carry out ``ops`` on a node's timers and disk: ``(timers, did, steps)``.

        ``steps`` lists, in order, the messages to put in flight ``(0, (src, dst,
        message id), sent event or None)`` and the other events the history
        observers read ``(1, event)``.
        """
        node_id = self.ids[index]
        kinds = self._kinds
        armed = set(timers)
        steps = []

        def event(kind, *payload):
            if kind in kinds:
                steps.append((1, (kind, node_id, payload)))

        for code, a, b in ops:
            if code == _SEND:
                sent = ("sent", node_id, (node_id, a, b)) if "sent" in kinds else None
                steps.append((0, (node_id, a, b), sent))
            elif code == _SET:
                armed.add(a)
                event("timer_set", a)
            elif code == _CANCEL:
                if a in armed:
                    armed.discard(a)
                    event("timer_cancelled", a)
            elif code == _PERSIST:
                event("stored", a, len(self._disks.values[did]))
                did = self._append(did, a)
            elif code == _NOTE:
                event("note", a, b)
            else:
                event("reply", a, b)
        if len(self._effect_memo) > 2_000_000:
            self._effect_memo.clear()
        return tuple(sorted(armed, key=_timer_key)), did, tuple(steps)

    @staticmethod
    def _freeze_observer(observer):
        return tuple(sorted((k, _freeze(v)) for k, v in vars(observer).items()))

    # ---- the initial state
    def _fresh_ghosts(self):
        return tuple(self._ghost_table.intern(self._freeze_observer(inv.observer())) for inv in self._history)

    def _boot(self):
        """Every node boots from an empty disk; its start-up intentions are carried out at once."""
        slots = tuple(_Slot(False, -1, (), self._empty_disk) for _ in self.ids)
        work = _Work(self, _State(slots, (), (0, 0, 0, 0), self._fresh_ghosts(), frozenset()))
        for index in range(len(self.ids)):
            work.boot(index, "start")
        for index in range(len(self.ids)):
            work.carry_out(index)
        state = work.finish()
        if state is None:
            raise BadParameter(f"the bounds exclude even the initial state of {self.name}")
        return state

    def _from_prefix(self, path):
        """The state a scenario script ends in (the script must end quiescent)."""
        door = self._replay_prefix()
        sim = door.sim
        if any(item.kind == "intention" for item in sim.pending()):
            raise BadParameter(f"the prefix {path!r} ends with intentions still queued; carry them out "
                               "(execute NODE, step or run) before the exploration starts")
        if sim.network.cuts or sim.network.clogged:
            raise BadParameter(f"the prefix {path!r} ends with a partition or a clogged link; the explorer "
                               "has no partitions (a message not delivered is already one): heal first")
        slots = []
        for node_id in self.ids:
            disk = self._disks.intern(tuple(sim.disks.get(node_id, ())))
            if sim.up[node_id]:
                node = sim.nodes[node_id]
                if not self._within(node):
                    raise BadParameter(f"the prefix {path!r} already takes {node_id} beyond the bounds")
                timers = tuple(sorted({_vid(t.timer) for t in sim.timers(node_id)}, key=_timer_key))
                slots.append(_Slot(True, self._nodes.intern(self._freeze_node(node)), timers, disk))
            else:
                slots.append(_Slot(False, -1, (), disk))
        net = {}
        for entry, _held in sim.in_flight():
            key = (entry.src, entry.dst, _vid(entry.msg))
            net[key] = net.get(key, 0) + 1
        if sum(net.values()) > self.in_flight:
            raise BadParameter(f"the prefix {path!r} ends with {sum(net.values())} messages in flight, more "
                               f"than --in-flight {self.in_flight}")
        observers = [inv.observer() for inv in self._history]
        broken = set()
        for event in sim.trace:
            if event.kind == "violation":
                continue
            for observer in observers:
                broken.update(as_violations(observer(event)))
        self._request_base = len(sim.trace.filter("request"))
        ghosts = tuple(self._ghost_table.intern(self._freeze_observer(o)) for o in observers)
        return _State(tuple(slots), tuple(sorted(net.items(), key=_net_key)), (0, 0, 0, 0), ghosts,
                      frozenset(broken))

    def _replay_prefix(self):
        from ..scenario import ScriptError, parse, replay, with_bugs
        text = _prefix_text(self.name, self.prefix)
        try:
            script = parse(with_bugs(text, list(self.bugs)))
        except ScriptError as exc:
            raise BadParameter(f"the prefix {self.prefix!r}: {exc}") from None
        header = script.header
        if header.get("algorithm") != self.name:
            raise BadParameter(f"the prefix {self.prefix!r} is a script for {header.get('algorithm')!r}, "
                               f"not {self.name!r}")
        if header.get("nodes", 3) != len(self.ids) or header.get("links") is not None:
            raise BadParameter(f"the prefix {self.prefix!r} must run on a complete graph of --nodes "
                               f"{len(self.ids)} nodes n1..n{len(self.ids)}; it has {header.get('nodes', 3)!r}")
        theirs = dict(header.get("params", {}))
        if theirs != self.params:
            raise BadParameter(f"the prefix {self.prefix!r} sets the parameters {theirs or 'none'}; this "
                               f"exploration uses {self.params or 'none'} (give the matching options)")
        try:
            return replay(script, check=True).door
        except ScriptError as exc:
            raise BadParameter(f"the prefix {self.prefix!r}: {exc}") from None

    # ---- the Spec contract
    def initial_states(self):
        """The one initial state: the cluster booted (or the prefix's end)."""
        return [self._initial]

    def next_states(self, state):
        """Every branch from ``state``: ``(Action, next_state)`` pairs (see the module docstring)."""
        out = []
        ids = self.ids
        used = state.used
        nodes = state.nodes
        crashes_left = used[0] < self.crashes
        react = self._react
        for key, _count in state.net:
            dst = self.index[key[1]]
            if nodes[dst].up:
                react(state, out, crashes_left, dst, "deliver", (key[0], key[1], _VALUES[key[2]]),
                      self._deliver(key, dst))
        for index, slot in enumerate(nodes):
            if slot.up:
                for timer in slot.timers:
                    react(state, out, crashes_left, index, "fire", _VALUES[timer], self._fire(timer, index))
        if used[1] < self.requests:
            for node_id, msg in self._requests(self._request_base + used[1] + 1):
                index = self.index[node_id]
                if nodes[index].up:
                    react(state, out, crashes_left, index, "request", msg, self._request(_vid(msg), index), True)
        if crashes_left:
            for index, slot in enumerate(nodes):
                if slot.up:
                    work = _Work(self, state)
                    work.used = (used[0] + 1,) + used[1:]
                    work.crash(index)
                    out.append((Action("crash", ids[index]), work.finish()))
        for index, slot in enumerate(nodes):
            if not slot.up:
                react(state, out, crashes_left, index, "restart", None, self._restart(index))
        if used[2] < self.duplicates and sum(c for _, c in state.net) < self.in_flight:
            for key, _count in state.net:
                work = _Work(self, state)
                work.used = used[:2] + (used[2] + 1, used[3])
                work.add_message(key)
                work.emit("duplicated", key[0], key[0], key[1], key[2])
                out.append((Action("duplicate", key[0], (key[0], key[1], _VALUES[key[2]])), work.finish()))
        if used[3] < self.drops:
            for key, _count in state.net:
                work = _Work(self, state)
                work.used = used[:3] + (used[3] + 1,)
                work.take_message(key)
                work.emit("dropped", key[0], key[0], key[1], key[2], "manual")
                out.append((Action("drop", key[0], (key[0], key[1], _VALUES[key[2]])), work.finish()))
        return out

    # What starts a step: each returns begin(work), which makes the input happen and runs the handler.
    @staticmethod
    def _deliver(key, dst):
        def begin(work):
            work.take_message(key)
            work.node(dst)
            work.emit("delivered", key[1], key[0], key[1], key[2])
            work.handle(dst, "message", (key[2], key[0]))
        return begin

    def _fire(self, timer, index):
        node_id = self.ids[index]

        def begin(work):
            rec = work.node(index)
            rec[1] = tuple(t for t in rec[1] if t != timer)
            work.emit("timer_fired", node_id, timer)
            work.handle(index, "timer", timer)
        return begin

    def _request(self, mid, index):
        node_id = self.ids[index]

        def begin(work):
            work.node(index)
            work.emit("request", node_id, "client", mid)
            work.handle(index, "message", (mid, "client"))
            work.used = (work.used[0], work.used[1] + 1) + work.used[2:]
        return begin

    @staticmethod
    def _restart(index):
        def begin(work):
            work.boot(index, "restart")
        return begin

    def _react(self, state, out, crashes_left, index, kind, what, begin, request=False):
        """One input and its handler's intentions: carried out in full, or cut by a crash at each crash point.

        A crash point lies before a storage write or a message to a node: a crash
        just before any other intention is the same as a crash just after it (a
        crash wipes timers; a note only tells the checkers what the node did).
        """
        node_id = self.ids[index]
        work = _Work(self, state)
        begin(work)
        ops = work.live[index][3]
        work.carry_out(index)
        new = work.finish()
        if new is None:
            return                              # beyond the bounds
        if request and new._replace(used=state.used) == state:
            return                              # refused without a trace (not the leader): no branch
        out.append((Action(kind, node_id, what, len(ops)), new))
        if not crashes_left:
            return
        for k, op in enumerate(ops):
            if op[0] == _SEND or op[0] == _PERSIST:
                work = _Work(self, state)
                begin(work)
                work.used = (work.used[0] + 1,) + work.used[1:]
                work.carry_out(index, k)
                work.crash(index, len(ops) - k)
                out.append((Action(kind, node_id, what, k, _intention(op)), work.finish()))

    def invariant_view(self, state):
        """The running nodes of ``state`` (id -> node object), with ``broken`` and ``key`` (a :class:`NodeView`)."""
        last_state, last_view = self._last
        if last_state is state:
            return last_view
        view = NodeView()
        key = []
        for index, slot in enumerate(state.nodes):
            key.append(slot.fid)
            if slot.up and self._stateful:
                view[self.ids[index]] = self._inspect_node(index, slot.fid)
        view.key = tuple(key)
        view.broken = state.broken
        self._last = (state, view)
        return view

    def describe(self, state):
        """One line per node (up or crashed, fields, timers, queue, disk), then the network and budgets."""
        lines = []
        for node_id, slot in zip(self.ids, state.nodes):
            if slot.up:
                fields = self.node_state(state, node_id)
                line = f"{node_id}: " + " ".join(f"{k}={v!r}" for k, v in fields.items())
                if slot.timers:
                    line += "; timers " + ", ".join(repr(_VALUES[t]) for t in slot.timers)
            else:
                line = f"{node_id}: crashed"
            disk = self._disks.values[slot.did]
            if disk:
                line += f"; disk {list(disk)!r}"
            lines.append(line)
        if state.net:
            lines.append("in flight: " + ", ".join(f"{s}->{d} {_VALUES[m]!r}" + (f" x{c}" if c > 1 else "")
                                                   for (s, d, m), c in state.net))
        c, r, d, p = state.used
        lines.append(f"used: {c} crashes, {r} requests, {d} duplicates, {p} drops")
        return "\n".join(lines)

    # ---- counterexamples as scenario scripts
    def actions_of(self, counterexample):
        """The actions of a counterexample's steps (the labels, recomputed if they are text)."""
        actions = []
        for (_, before), (label, after) in zip(counterexample.steps, counterexample.steps[1:]):
            if not isinstance(label, Action):
                label = next(a for a, s in self.next_states(before) if s == after)
            actions.append(label)
        return actions

    def replay_door(self, actions, narrate=True):
        """Drive a front door by hand through ``actions``; return the door (its monitor checked each step)."""
        if self.prefix:
            door = self._replay_prefix()
        else:
            door = self.door_class(nodes=len(self.ids), seed=0, bugs=list(self.bugs), check=True, **self.params)
            sim = door.sim
            sim._ensure_started()
            for node_id in self.ids:
                while any(p.kind == "intention" and p.node == node_id for p in sim.pending()):
                    door.execute(node_id)
        sim = door.sim
        for number, action in enumerate(actions, 2):
            if narrate:
                sim.narrate(f"Step {number}: {action}")
            kind = action.kind
            if kind == "crash":
                door.crash(action.node)
                continue
            if kind in ("deliver", "drop", "duplicate"):
                src, dst, msg = action.what
                item = next((p for p, _held in sim.in_flight() if p.src == src and p.dst == dst and p.msg == msg),
                            None)
                if item is None:
                    raise FtError(f"replaying the counterexample: {src}->{dst} {msg!r} is not in flight")
                if kind == "deliver":
                    door.deliver(item.name, settle=False)
                else:
                    getattr(door, kind)(item.name)
            elif kind == "fire":
                item = next((t for t in sim.timers(action.node) if t.timer == action.what), None)
                if item is None:
                    raise FtError(f"replaying the counterexample: {action.node} has no {action.what!r} armed")
                door.fire(item.name, settle=False, early=True)
            elif kind == "request":
                sim.request(action.node, action.what)
            elif kind == "restart":
                door.restart(action.node)
            for _ in range(action.count):
                door.execute(action.node)
            if action.crash is not None:
                door.crash(action.node)
        return door

    def scenario_script(self, counterexample):
        """A counterexample as a scenario script: ``python -m fttoolkit replay FILE`` shows the same violation.

        The script drives the front door by hand (``deliver``, ``fire ... early``,
        ``execute``, ``crash``, ``restart``, ``request``), narrated step by step;
        its ``expect`` header names the broken invariant.  The run is replayed
        here first, and an error is raised if it does not break that invariant.

        Examples
        --------
        >>> from fttoolkit.check.explore import explore
        >>> spec = twopc_spec(bug=("commit-on-timeout",))
        >>> text = spec.scenario_script(explore(spec).violations[0])
        >>> for line in text.splitlines():
        ...     if line.startswith(("expect", "request", "fire")):
        ...         print(line)
        expect Commit needs unanimity
        request n1 Begin(txn='T1', writes=(('n2', (('x', 1),)), ('n3', (('x', 1),))))
        fire t1 hold early
        """
        from ..scenario import to_script
        actions = self.actions_of(counterexample)
        door = self.replay_door(actions)
        name = counterexample.invariant
        broke = {e["invariant"] for e in door.violations}
        if counterexample.kind == "invariant" and name not in broke:
            raise FtError(f"the counterexample replayed on the simulator did not break {name} "
                          f"(it broke: {', '.join(sorted(broke)) or 'nothing'})")
        options = " ".join(self.options)
        description = [f"{self.name}: {name} broken by the shortest counterexample the explorer found "
                       f"({len(counterexample.steps)} states)",
                       f"found by: python -m fttoolkit explore {self.name} {options}".rstrip(),
                       "replay with: python -m fttoolkit replay FILE"]
        script = to_script(door, description)
        if counterexample.kind == "invariant":
            script.header["expect"] = [name]
        return script.render()


# ============================================================================ the three systems
def _check_range(label, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(f"--{label} must be a whole number from {low} to {high}; got {value!r}")


#: Built-in prefixes (``--prefix NAME``): system -> name -> scenario script text.
PREFIXES = {"raft": {"figure8": """# Figure 8 of Ongaro & Ousterhout (2014, section 5.4.2) on three servers, up to the moment
# the explorer takes over: two leaders of terms 1 and 2 each appended an entry that nobody
# else stored, and n1, holding (index 1, term 1), asks for votes in term 3.  Leaders append
# no no-op entry and send one entry per message, as in the paper's Figure 2.
algorithm raft
nodes 3
seed 0
param max_batch=1 noop=False

# n1 times out and asks for votes in term 1; n2 votes for it.
campaign n1
deliver m1
deliver m3
# n1 leads term 1 and takes a command, (index 1, term 1); its messages are lost.
request n1 ClientRequest(command=('put', 'x', 't1'))
execute n1
execute n1
execute n1
execute n1
drop m2
drop m4
drop m5
drop m6
drop m7
# n2 times out and wins term 2 with n3's vote (n3's log is as empty as n2's); n1 hears of
# term 2 and steps down.
campaign n2
deliver m9
deliver m10
deliver m8
# n2 leads term 2 and takes a command, (index 1, term 2); its messages are lost too.
request n2 ClientRequest(command=('put', 'x', 't2'))
execute n2
execute n2
execute n2
execute n2
drop m11
drop m12
drop m13
drop m14
drop m15
# n1 times out and asks for votes in term 3; n2 refuses (its last term, 2, is newer than
# n1's 1) but steps down.  n1's request to n3 is still in flight.
campaign n1
deliver m16
drop m18
"""}}


def _prefix_text(system, prefix):
    """The text of ``prefix`` (a built-in prefix's name, or a file), or None."""
    if not prefix:
        return None
    known = PREFIXES.get(system, {})
    if prefix in known:
        return known[prefix]
    try:
        with open(prefix, encoding="utf-8") as fp:
            return fp.read()
    except OSError as exc:
        names = ", ".join(sorted(known)) or "none"
        raise BadParameter(f"cannot read the prefix script {prefix!r}: {exc.strerror} (built-in prefixes "
                           f"for {system}: {names})") from None


def _raft_requests(spec, k):
    msg = _raft.ClientRequest(("put", "x", k))
    return [(node_id, msg) for node_id in spec.ids]


def raft_spec(nodes=3, max_term=2, max_log=2, crashes=0, requests=1, in_flight=2, duplicates=0, drops=0,
              noop=1, max_batch=64, bug=(), prefix=None):
    """Raft (:class:`~fttoolkit.algorithms.raft.RaftNode`) for the explorer.

    Client requests are ``ClientRequest(("put", "x", k))`` to any running
    node (a follower's refusal changes nothing and is not a branch).  Terms are
    at most ``max_term``, logs at most ``max_log`` entries; ``noop`` and
    ``max_batch`` are the node's own parameters.  The defaults explore
    completely (263,283 states).

    Examples
    --------
    >>> from fttoolkit.check.explore import explore
    >>> r = explore(raft_spec(bug=("forget-vote",), max_term=1, requests=0, max_log=1, crashes=1, in_flight=4))
    >>> r.violations[0].invariant, len(r.violations[0])
    ('Election Safety', 8)
    """
    _check_range("max-term", max_term, 0, 8)
    _check_range("max-log", max_log, 0, 8)
    _check_range("noop", noop, 0, 1)
    _check_range("max-batch", max_batch, 1, 64)
    options = {"nodes": nodes, "max-term": max_term, "max-log": max_log, "crashes": crashes,
               "requests": requests, "in-flight": in_flight, "duplicates": duplicates, "drops": drops,
               "noop": noop, "max-batch": max_batch}
    params = {}
    if not noop:
        params["noop"] = False
    if max_batch != _raft.RaftNode.params["max_batch"]:
        params["max_batch"] = max_batch

    def within(node):
        return node.current_term <= max_term and len(node.log) <= max_log

    return ClusterSpec("raft", nodes=nodes, params=params, bugs=bug, crashes=crashes, requests=requests,
                       in_flight=in_flight, duplicates=duplicates, drops=drops, requests_to=_raft_requests,
                       within=within, clock_fields=("heard_at",), event_kinds=("stored", "role", "crashed", "note"),
                       prefix=prefix, options=_with(options, bug, prefix))


def _paxos_requests(spec, k):
    msg = _paxos.Propose(f"v{k}")
    return [(node_id, msg) for node_id in spec.ids]


def paxos_spec(nodes=3, max_ballot=1, crashes=1, requests=2, in_flight=3, duplicates=0, drops=0, bug=(),
               prefix=None):
    """Single-decree Paxos (:class:`~fttoolkit.algorithms.paxos.PaxosNode`) for the explorer.

    The ``k``-th client request is ``Propose("vk")`` to any running node;
    ballot rounds (a node's ``round``) go up to ``max_ballot``.  The defaults
    explore completely (263,836 states).

    Examples
    --------
    >>> from fttoolkit.check.explore import explore
    >>> r = explore(paxos_spec(requests=1, crashes=0))
    >>> r.ok, r.complete, r.distinct
    (True, True, 1431)
    """
    _check_range("max-ballot", max_ballot, 1, 8)
    options = {"nodes": nodes, "max-ballot": max_ballot, "crashes": crashes, "requests": requests,
               "in-flight": in_flight, "duplicates": duplicates, "drops": drops}

    def within(node):
        return node.round <= max_ballot

    return ClusterSpec("paxos", nodes=nodes, bugs=bug, crashes=crashes, requests=requests, in_flight=in_flight,
                       duplicates=duplicates, drops=drops, requests_to=_paxos_requests, within=within,
                       event_kinds=("start", "request", "sent", "stored", "crashed", "note"), prefix=prefix,
                       options=_with(options, bug, prefix))


def _twopc_requests(spec, k):
    coordinator = spec.params.get("coordinator", _twopc.TwoPCNode.params["coordinator"])
    participants = [i for i in spec.ids if i != coordinator]
    writes = _twopc.as_writes({p: {"x": k} for p in participants})
    return [(coordinator, _twopc.Begin(f"T{k}", writes))]


def twopc_spec(nodes=3, crashes=1, requests=1, in_flight=4, duplicates=0, drops=0, cooperative=0, bug=(),
               prefix=None):
    """Two-phase commit (:class:`~fttoolkit.algorithms.twopc.TwoPCNode`) for the explorer.

    ``n1`` coordinates; the ``k``-th client request is ``Begin("Tk")`` writing
    ``x=k`` at every participant (so two transactions conflict on a lock).
    The defaults explore completely (56,473 states).

    Examples
    --------
    >>> from fttoolkit.check.explore import explore
    >>> r = explore(twopc_spec(bug=("commit-on-timeout",)))
    >>> r.violations[0].invariant, [str(label) for label, _ in r.violations[0].steps[1:]]
    ('Commit needs unanimity', ['request n1 Begin(T1, n2:x=1 n3:x=1)', 'fire n1 VoteTimeout(T1)'])
    """
    _check_range("nodes", nodes, 2, 7)
    _check_range("cooperative", cooperative, 0, 1)
    options = {"nodes": nodes, "crashes": crashes, "requests": requests, "in-flight": in_flight,
               "duplicates": duplicates, "drops": drops, "cooperative": cooperative}
    params = {"cooperative": True} if cooperative else {}
    return ClusterSpec("2pc", nodes=nodes, params=params, bugs=bug, crashes=crashes, requests=requests,
                       in_flight=in_flight, duplicates=duplicates, drops=drops, requests_to=_twopc_requests,
                       event_kinds=("request", "sent", "stored", "note"), prefix=prefix,
                       options=_with(options, bug, prefix))


def _with(options, bugs, prefix):
    """The command-line tokens of a configuration, for the saved script's description."""
    if isinstance(bugs, str):
        bugs = (bugs,)
    tokens = [f"--{name} {value}" for name, value in options.items()]
    tokens += [f"--bug {b}" for b in sorted(set(bugs))]
    if prefix:
        tokens.append(f"--prefix {prefix}")
    return tokens


SPECS = {"raft": raft_spec, "paxos": paxos_spec, "2pc": twopc_spec}

# ============================================================================ the measured tables
#: Every named bug of the three zoos: ``(system, bug, options, invariant, states in the shortest
#: counterexample, distinct states explored, seconds)``, measured on this machine (Python 3.11, one
#: core shared with others).  ``tests/test_explore_impl.py`` checks each row (the seconds excepted).
#: Raft's ``fixed-timeout`` is not here: it changes only timer durations, which the explorer
#: abstracts away (its state graph equals the correct one's; a test shows it), so it is a
#: liveness bug for the fuzzer's calm phase, not a safety bug a model checker can find.
BUG_TABLE = [
    ("raft", "forget-vote", {"max_term": 1, "max_log": 1, "requests": 0, "crashes": 1, "in_flight": 4},
     "Election Safety", 8, 5545, 0.2),
    ("raft", "no-log-check", {"max_term": 2, "max_log": 2, "requests": 0, "in_flight": 4},
     "Leader Completeness", 9, 12446, 0.4),
    ("raft", "ack-before-persist", {"max_term": 2, "max_log": 1, "requests": 0, "crashes": 1, "in_flight": 2},
     "Leader Completeness", 10, 45964, 1.5),
    ("raft", "figure8", {"prefix": "figure8", "noop": 0, "max_batch": 1, "max_term": 4, "max_log": 1,
                         "requests": 0, "in_flight": 4},
     "Leader Completeness", 10, 10501, 0.3),
    ("paxos", "ignore-promises", {"max_ballot": 1, "requests": 2, "crashes": 0, "in_flight": 4},
     "Agreement", 16, 156287, 4.8),
    ("paxos", "accept-below-promise", {"max_ballot": 1, "requests": 2, "crashes": 0, "in_flight": 6},
     "Promise kept", 9, 3808, 0.2),
    ("paxos", "forget-promise", {"max_ballot": 1, "requests": 2, "crashes": 1, "in_flight": 4},
     "Promise kept", 10, 27670, 0.7),
    ("paxos", "minority-quorum", {"max_ballot": 1, "requests": 2, "crashes": 0, "in_flight": 4},
     "Learners agree", 11, 26352, 1.0),
    ("2pc", "vote-before-force", {"requests": 1, "crashes": 1, "in_flight": 6}, "Durability", 8, 2447, 0.05),
    ("2pc", "abort-after-yes", {"requests": 1, "crashes": 0, "in_flight": 6}, "Atomicity", 8, 329, 0.01),
    ("2pc", "decide-before-log", {"requests": 1, "crashes": 1, "in_flight": 6}, "Atomicity", 11, 22016, 0.5),
    ("2pc", "commit-on-timeout", {"requests": 1, "crashes": 0, "in_flight": 6}, "Commit needs unanimity", 3,
     5, 0.0),
]

#: Correct versions explored completely without a violation: ``(system, options, distinct states,
#: states generated, depth, seconds)``; ``{}`` is the command line's defaults.
CORRECT_TABLE = [
    ("raft", {"max_term": 1, "max_log": 1, "requests": 0, "in_flight": 4}, 46214, 179655, 27, 1.7),
    ("raft", {}, 263283, 728772, 32, 10.8),
    ("raft", {"max_term": 2, "max_log": 2, "requests": 0, "crashes": 1}, 1095796, 3459314, 32, 41.0),
    ("raft", {"prefix": "figure8", "noop": 0, "max_batch": 1, "max_term": 4, "max_log": 1, "requests": 0,
              "in_flight": 4}, 707205, 2972779, 39, 29.8),
    ("paxos", {"requests": 1, "crashes": 0, "in_flight": 6}, 237436, 825793, 20, 6.0),
    ("paxos", {}, 263836, 543641, 30, 7.9),
    ("paxos", {"requests": 2, "crashes": 0, "in_flight": 4}, 1028679, 2466768, 33, 29.5),
    ("2pc", {"crashes": 0, "in_flight": 6}, 29239, 131509, 28, 1.5),
    ("2pc", {}, 56473, 259299, 23, 3.7),
    ("2pc", {"crashes": 1, "in_flight": 6}, 268448, 1401040, 31, 12.3),
    ("2pc", {"requests": 2, "crashes": 0, "in_flight": 3}, 1143950, 5041400, 34, 38.7),
]


def measure(system, **options):
    """Explore one configuration; return ``(result, seconds, distinct states per second)``.

    Examples
    --------
    >>> result, seconds, rate = measure("2pc", crashes=0, requests=1, in_flight=2)
    >>> result.ok, result.complete
    (True, True)
    """
    if system not in SPECS:
        raise BadParameter(f"unknown system {system!r}; systems: {', '.join(SPECS)}")
    spec = SPECS[system](**options)
    start = time.perf_counter()
    result = explore(spec)
    seconds = time.perf_counter() - start
    return result, seconds, result.distinct / seconds if seconds > 0 else float("inf")


# ============================================================================ the command line
def _bug_option(node_class):
    names = tuple(sorted(node_class.bugs))
    return Option("bug", (), "switch on a named bug (repeatable): " + ", ".join(names), str, multiple=True,
                  choices=names)


_COMMON = (
    ("crashes", "crash budget (restarts are free), 0 to 10"),
    ("requests", "client requests, 0 to 10"),
    ("in-flight", "messages in flight at most (a send beyond is lost), 1 to 50"),
    ("duplicates", "message duplications, 0 to 10"),
    ("drops", "message drops (a message never delivered is already lost), 0 to 10"),
)


def _options(system, defaults, node_class, extra=()):
    opts = [Option("nodes", defaults["nodes"], "cluster size n1..nN")]
    opts += list(extra)
    opts += [Option(name, defaults[name.replace("-", "_")], text) for name, text in _COMMON]
    named = ", ".join(sorted(PREFIXES.get(system, {})))
    opts.append(Option("prefix", "", "a scenario script FILE run before exploring (it must end quiescent)"
                       + (f", or a built-in one: {named}" if named else ""), str))
    opts.append(_bug_option(node_class))
    return tuple(opts)


def _defaults(fn):
    import inspect
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()}


_RAFT = _defaults(raft_spec)
_PAXOS = _defaults(paxos_spec)
_TWOPC = _defaults(twopc_spec)

register_system(
    "raft", "the course's own Raft code (RaftNode): every delivery, timer, crash point and request a branch",
    raft_spec,
    _options("raft", _RAFT, _raft.RaftNode, (
        Option("max-term", _RAFT["max_term"], "terms at most N, 0 to 8"),
        Option("max-log", _RAFT["max_log"], "log entries at most N, 0 to 8"),
        Option("noop", _RAFT["noop"], "1: a new leader appends a no-op entry (the default); 0: not"),
        Option("max-batch", _RAFT["max_batch"], "entries per AppendEntries, 1 to 64"))), saves=True)
register_system(
    "paxos", "the course's own single-decree Paxos code (PaxosNode), branch by branch",
    paxos_spec,
    _options("paxos", _PAXOS, _paxos.PaxosNode,
             (Option("max-ballot", _PAXOS["max_ballot"], "ballot rounds at most N, 1 to 8"),)), saves=True)
register_system(
    "2pc", "the course's own two-phase commit code (TwoPCNode), branch by branch",
    twopc_spec,
    _options("2pc", _TWOPC, _twopc.TwoPCNode,
             (Option("cooperative", _TWOPC["cooperative"], "1: cooperative termination; 0: not (the default)"),)),
    saves=True)
