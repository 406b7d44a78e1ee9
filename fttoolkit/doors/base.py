"""The shape shared by the course's front doors (``fttoolkit.Raft``, ``fttoolkit.Paxos``...).

A front door composes one protocol (from :mod:`fttoolkit.algorithms`) with the
simulator (:mod:`fttoolkit.sim`), so the protocol code stays pure.  Every
front door is built and driven the same way::

    cluster = Door(nodes=5, seed=7, bugs=[], loss=0.1, **params)
    cluster.add_node()            # before the run starts
    cluster.run(until=500)        # or step(), run_until(predicate)
    cluster.crash("n2"); cluster.partition(["n1"], ["n2", "n3"]); cluster.heal()
    cluster.pending(); cluster.deliver("m12"); cluster.drop("m13")
    cluster.trace
"""

import copy

from ..check.monitor import Monitor, check_liveness
from ..core.errors import BadParameter, InvalidAction
from ..sim.network import LinkSettings
from ..sim.simulation import Simulation

__all__ = ["FrontDoor", "REGISTRY", "register", "door_for"]

#: CLI name -> front-door class, filled by :func:`register`.
REGISTRY = {}

_NETWORK_KEYS = tuple(LinkSettings.__dataclass_fields__)


def register(cls):
    """Class decorator: make a front door available to the command line by its ``name``."""
    REGISTRY[cls.name] = cls
    return cls


def door_for(name):
    """Return the front-door class registered as ``name`` (lower-case CLI name)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise BadParameter(f"unknown algorithm {name!r}; available: {', '.join(sorted(REGISTRY))}") from None


class FrontDoor:
    """Base class of the front doors.

    Parameters
    ----------
    nodes : int, list of str or networkx.Graph
        Cluster size (complete graph on ``n1 .. nN``), ids, or a topology.
    seed : int
        Master seed: the same seed and the same actions replay the same run.
    bugs : list of str
        Named classic mistakes to switch on (see ``Door.node_class.bugs``).
    delay, loss, duplicate, reorder : optional
        Default network settings (delay in ticks as a number or a
        ``(low, high)`` range; the others probabilities in [0, 1]).
    check : bool
        Check the algorithm's invariants after every step (violations show in
        the trace and in :attr:`violations`).
    halt : bool
        Stop automatic runs at the first violation.
    **params
        Protocol parameters (see ``Door.node_class.params``).
    """

    #: CLI name (lower-case).
    name = None
    #: The protocol's node class.
    node_class = None
    #: One line for ``python -m fttoolkit --help``.
    summary = ""
    #: Safety invariants (:class:`fttoolkit.core.Invariant`) checked after every step.
    invariants = ()
    #: Liveness checks (:class:`fttoolkit.core.Liveness`) for after the faults stop.
    liveness = ()
    #: Steps between time-travel snapshots (memory stays bounded: older ones are thinned out).
    snapshot_every = 500
    #: The algorithm's own script commands: name -> usage (see :mod:`fttoolkit.scenario`).
    script_commands = {}
    #: Length of one fuzzed schedule, in ticks, and client requests in it.
    fuzz_ticks = 3000
    fuzz_requests = 4
    #: Topologies the fuzzer may choose from (swarm testing): "complete", "ring", "path".
    fuzz_topologies = ("complete",)
    #: A role the fuzzer's crashes may aim at (the leader, in leader-based protocols).
    fuzz_prefer_role = None
    #: Protocol parameters the fuzzer varies from seed to seed: name -> choices (unless given).
    fuzz_params = {}

    @classmethod
    def topology(cls, kind, count):
        """Return the cluster for a named topology: a count (complete graph) or a networkx graph."""
        import networkx as nx
        from ..core.ids import node_ids
        ids = node_ids(count)
        if kind == "complete":
            return count
        graph = nx.Graph()
        graph.add_nodes_from(ids)
        if kind == "ring":
            graph.add_edges_from(zip(ids, ids[1:] + ids[:1]) if count > 2 else zip(ids, ids[1:]))
        elif kind == "path":
            graph.add_edges_from(zip(ids, ids[1:]))
        else:
            raise BadParameter(f"unknown topology {kind!r}; topologies: complete, ring, path")
        return graph

    def __init__(self, nodes=3, seed=0, bugs=(), check=True, halt=False, **params):
        if isinstance(bugs, str):
            bugs = [bugs]
        network = {k: params.pop(k) for k in _NETWORK_KEYS if k in params}
        known = set(self.node_class.params)
        for key in params:
            if key not in known:
                allowed = ", ".join(sorted(known) + list(_NETWORK_KEYS))
                raise BadParameter(f"{type(self).__name__} has no parameter {key!r}; allowed: {allowed}")
        self.sim = Simulation(self.node_class, topology=nodes, seed=seed, params=params, bugs=bugs,
                              network=network, name=self.name)
        self.sim.snapshot_every = self.snapshot_every
        if check and self.invariants:
            Monitor.attach(self.sim, self.invariants, halt=halt)

    @classmethod
    def presets(cls):
        """The algorithm's preset scenario scripts: name -> script text (``fttoolkit/presets/<name>/``)."""
        import pathlib
        folder = pathlib.Path(__file__).resolve().parent.parent / "presets" / str(cls.name)
        return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))}

    @classmethod
    def story_presets(cls):
        """The names of the presets that switch on no bug (the bug zoo's presets name theirs in a header)."""
        from ..scenario import parse
        return {name for name, text in cls.presets().items() if not parse(text).header.get("bugs")}

    @classmethod
    def bug_list(cls):
        """The named bugs of this algorithm: name -> one-line description."""
        return dict(cls.node_class.bugs)

    # ---- set-up -------------------------------------------------------------------------
    def add_node(self, node_id=None, links=None):
        """Add a node (before the run starts); returns its id."""
        return self.sim.add_node(node_id, links)

    @property
    def ids(self):
        """Node ids, in natural order."""
        return self.sim.ids

    @property
    def seed(self):
        """The master seed."""
        return self.sim.seed

    # ---- running ------------------------------------------------------------------------
    def step(self):
        """Make the next event happen; returns the trace events it produced."""
        return self.sim.step()

    def run(self, until=None, max_steps=1_000_000):
        """Run to tick ``until`` (or until a predicate holds, or until idle); returns steps taken."""
        return self.sim.run(until, max_steps)

    def run_until(self, predicate, limit_ticks=None, max_steps=1_000_000):
        """Run until ``predicate(sim)`` holds; returns whether it does."""
        return self.sim.run_until(predicate, limit_ticks, max_steps)

    # ---- by hand ------------------------------------------------------------------------
    def pending(self):
        """What could happen next: queued intentions, messages in flight, armed timers."""
        return self.sim.pending()

    def deliver(self, item, settle=True):
        """Deliver a message in flight (``"m12"`` or an item from :meth:`pending`)."""
        return self.sim.deliver(item, settle)

    def drop(self, item):
        """Lose a message in flight."""
        return self.sim.drop(item)

    def duplicate(self, item):
        """Put a second copy of a message in flight."""
        return self.sim.duplicate(item)

    def fire(self, item, settle=True, early=False):
        """Fire an armed timer (``"t5"`` or an item from :meth:`pending`); ``early``: now, before it is due."""
        return self.sim.fire(item, settle, early)

    def execute(self, node_id):
        """Carry out the next queued intention of ``node_id``."""
        return self.sim.execute(node_id)

    # ---- faults -------------------------------------------------------------------------
    def crash(self, node_id, tear=None, lose_disk=False, after=None, skip=0, at=None):
        """Crash a node now (or at tick ``at``); ``after=K`` arms a crash point instead.

        See :meth:`fttoolkit.sim.Simulation.crash`.
        """
        kwargs = {"tear": tear, "lose_disk": lose_disk}
        if after is not None:
            kwargs.update(after=after, skip=skip)
        return self._now_or_later(at, "crash", node_id, **kwargs)

    def restart(self, node_id, at=None):
        """Restart a crashed node from its stable storage, now or at tick ``at``."""
        return self._now_or_later(at, "restart", node_id)

    def partition(self, *groups, oneway=False, at=None):
        """Split the network into groups of node ids, now or at tick ``at``."""
        return self._now_or_later(at, "partition", *groups, oneway=oneway)

    def heal(self, at=None):
        """Remove every partition, now or at tick ``at``."""
        return self._now_or_later(at, "heal")

    def clog(self, a, b, at=None):
        """Hold the messages on the link ``a``-``b`` until it is unclogged."""
        return self._now_or_later(at, "clog", a, b)

    def unclog(self, a, b, at=None):
        """Release a clogged link; its held messages arrive."""
        return self._now_or_later(at, "unclog", a, b)

    def set_link(self, a, b, **settings):
        """Change one link's ``delay``, ``loss``, ``duplicate`` or ``reorder``."""
        return self.sim.set_link(a, b, **settings)

    def set_network(self, **settings):
        """Change the default ``delay``, ``loss``, ``duplicate`` or ``reorder`` of every link."""
        return self.sim.set_network(**settings)

    def set_clock_rate(self, node_id, rate):
        """Make a node's clock run ``rate`` times as fast as real time (skew)."""
        return self.sim.set_clock_rate(node_id, rate)

    def _now_or_later(self, at, action, *args, **kwargs):
        if at is None:
            return getattr(self.sim, action)(*args, **kwargs)
        return self.sim.schedule(at, action, *args, **kwargs)

    def reset(self, seed=None):
        """Start over, in place, with ``seed``: same cluster, same set-up inputs, nothing after them.

        See :meth:`fttoolkit.sim.Simulation.reset`.
        """
        self.sim.reset(seed)

    # ---- time travel --------------------------------------------------------------------
    @property
    def steps(self):
        """Steps taken so far (the position on the timeline)."""
        return self.sim.steps

    def rewind(self, step):
        """Go back (or forward again) to just after step ``step``; see :meth:`Simulation.rewind`."""
        return self.sim.rewind(step)

    def fork(self):
        """Return an independent copy of this cluster at this point, to make other choices."""
        other = copy.copy(self)
        other.sim = self.sim.fork()
        return other

    # ---- checking -----------------------------------------------------------------------
    @property
    def violations(self):
        """The broken invariants so far, as ``violation`` trace events."""
        return self.sim.violations

    def _probe_copy(self):
        """A copy of this cluster to try things on for a liveness check: no checkers, not halted."""
        copy_ = self.fork()
        copy_.sim.checkers = []
        copy_.sim.halted = None
        return copy_

    def check_liveness(self, grace_ticks=None):
        """Evaluate the liveness checks (meaningful once faults stopped and the network is calm).

        A check that does not hold now is given ``grace_ticks`` more (default:
        its ``within_ticks``) on a copy of the cluster, so that an election or a
        retransmission in progress at this very moment is not taken for a lack
        of progress; this run is untouched.  Returns the violations that remain.
        """
        found = check_liveness(self.sim, self.liveness)
        if not found:
            return []
        grace = max((c.within_ticks for c in self.liveness), default=0) if grace_ticks is None else grace_ticks
        later = self._probe_copy()
        later.run_until(lambda sim: not check_liveness(sim, self.liveness), limit_ticks=later.now + grace)
        return check_liveness(later.sim, self.liveness)

    # ---- looking ------------------------------------------------------------------------
    @property
    def trace(self):
        """Every event so far (:class:`fttoolkit.sim.trace.Trace`)."""
        return self.sim.trace

    @property
    def now(self):
        """The current tick (1 tick = 1 ms of simulated time)."""
        return self.sim.now

    @property
    def nodes(self):
        """Node id -> node object."""
        return self.sim.nodes

    def node(self, node_id):
        """Return one node object."""
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        return self.sim.nodes[node_id]

    def states(self):
        """Node id -> that node's protocol state (``None`` for a crashed node)."""
        self.sim._ensure_started()
        return {i: (self.sim.nodes[i].state() if self.sim.up[i] else None) for i in self.ids}

    def subscribe(self, observer):
        """Call ``observer(event)`` for every new trace event."""
        self.sim.subscribe(observer)

    def show(self, **options):
        """Open the interactive cluster view of this run (see :class:`fttoolkit.viz.ClusterView`).

        Options: ``width``, ``graph_height``, ``diagram_height`` (pixels),
        ``speed`` (ticks per second while playing), ``scale`` (2 for
        high-density screens).
        """
        from ..viz.view import ClusterView
        return ClusterView(self, **options)

    def fire_now(self, node_id, timer_name, missing):
        """Make ``node_id``'s armed timer of class ``timer_name`` go off now; return its trace events.

        Recorded as firing that timer, so a script of the run replays it exactly.  Raises
        :class:`fttoolkit.InvalidAction` with ``missing`` when no such timer is armed.
        """
        self.sim._ensure_started()
        self.sim.network.check_node(node_id)
        self.sim.run(until=self.sim.now)          # carry out what is due now (a boot arms the timers)
        for item in self.sim.pending():
            if item.kind == "timer" and item.node == node_id and type(item.timer).__name__ == timer_name:
                return self.sim.fire(item, early=True)
        raise InvalidAction(missing)

    def spacetime(self, start=None, end=None, **options):
        """A space-time (Lamport) diagram of ticks ``start .. end`` (see :func:`fttoolkit.viz.spacetime`)."""
        from ..viz.render import spacetime
        return spacetime(self, start, end, **options)

    def workload(self, until, requests=3):
        """Schedule a default client workload of ``requests`` requests before tick ``until``."""
        raise NotImplementedError(f"{type(self).__name__} defines no default workload")

    def script_command(self, name, args, line, at=None):
        """Carry out one of :attr:`script_commands` (now, or at tick ``at``)."""
        raise NotImplementedError(name)

    # ---- scripts ------------------------------------------------------------------------
    def load(self, script, check=True, halt=False):
        """Replace this cluster's run, in place, by a scenario script's, replayed in full.

        ``script`` is script text (or a parsed :class:`fttoolkit.scenario.Script`) for
        the same algorithm, for example one of :meth:`presets`; its narration is
        kept, and the run can then be rewound (``rewind(0)``) and replayed step by
        step.  Everything this object held before is replaced.  Returns ``self``.
        """
        from ..scenario import parse, replay
        parsed = parse(script) if isinstance(script, str) else script
        algorithm = parsed.header.get("algorithm")
        if algorithm != self.name:
            raise BadParameter(f"this is a script for {algorithm!r}; {type(self).__name__} loads "
                               f"{self.name!r} scripts only")
        fresh = replay(parsed, check=check, halt=halt).door
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)
        return self

    def load_preset(self, name, bugs=()):
        """Load the preset scenario ``name`` (see :meth:`presets`) with ``bugs`` switched on; returns ``self``."""
        presets = self.presets()
        if name not in presets:
            raise BadParameter(f"unknown preset {name!r}; {type(self).__name__} has: {', '.join(presets) or 'none'}")
        from ..scenario import with_bugs
        bugs = [bugs] if isinstance(bugs, str) else list(bugs)
        return self.load(with_bugs(presets[name], bugs) if bugs else presets[name])

    def to_script(self, description=()):
        """This run so far, manual choices included, as a scenario script (text)."""
        from ..scenario import to_script
        return to_script(self, description).render()

    def save_script(self, path, description=()):
        """Write :meth:`to_script` to ``path``."""
        with open(path, "w", encoding="utf-8") as fp:
            fp.write(self.to_script(description))

    def __repr__(self):
        return f"<{type(self).__name__} " + repr(self.sim)[len("<Simulation "):]
