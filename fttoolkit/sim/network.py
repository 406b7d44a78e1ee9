"""The simulated network: topology, per-link settings, partitions and clogs.

The networkx graph gives the topology (which nodes have a link) and nothing
else.  Each directed link has :class:`LinkSettings` (delay range, loss,
duplication, reordering); partitions and clogs are plain sets of directed
pairs, so faults are data that can be drawn and saved.
"""

from dataclasses import dataclass, replace

import networkx as nx

from ..core.errors import BadParameter, InvalidAction, UnknownNode
from ..core.ids import id_key, node_ids, sorted_ids

__all__ = ["LinkSettings", "Network", "make_graph", "check_probability", "check_delay", "check_tick_range"]

#: Default one-way delay, in ticks (1 tick = 1 ms of simulated time).
DEFAULT_DELAY = (5, 15)


def check_probability(name, value):
    """Return ``value`` as a float in [0, 1], or raise :class:`BadParameter`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise BadParameter(f"{name} is a probability and must lie in [0, 1]; got {value!r}")
    return float(value)


def check_delay(value):
    """Return a delay as a ``(low, high)`` pair of whole ticks, or raise :class:`BadParameter`.

    Examples
    --------
    >>> check_delay(10), check_delay((5, 15))
    ((10, 10), (5, 15))
    """
    single = isinstance(value, int) and not isinstance(value, bool)
    return check_tick_range("delay", (value, value) if single else value, shown=value,
                            shape="a whole number of ticks or a (low, high) pair")


def check_tick_range(name, value, minimum=0, shown=None, shape="a (low, high) pair of ticks"):
    """Return ``value`` as a ``(low, high)`` pair of whole ticks >= ``minimum``, or raise :class:`BadParameter`."""
    shown = value if shown is None else shown
    try:
        low, high = value
    except (TypeError, ValueError):
        raise BadParameter(f"{name} must be {shape}; got {shown!r}") from None
    for part in (low, high):
        if isinstance(part, bool) or not isinstance(part, int):
            raise BadParameter(f"{name} must be given in whole ticks; got {shown!r}")
        if part < minimum:
            what = "cannot be negative" if minimum == 0 else f"must be at least {minimum}"
            raise BadParameter(f"{name} {what}; got {shown!r} (allowed: {minimum} or more ticks)")
    if low > high:
        raise BadParameter(f"{name} must be a range with low <= high; got {shown!r}")
    return (low, high)


@dataclass(frozen=True)
class LinkSettings:
    """How one directed link behaves.

    Attributes
    ----------
    delay : (int, int)
        One-way delay range in ticks, both ends included.
    loss : float
        Probability that a message is lost.
    duplicate : float
        Probability that a message is delivered twice.
    reorder : float
        Probability that a message may overtake earlier ones on the same link;
        otherwise the link is FIFO.
    """

    delay: tuple = DEFAULT_DELAY
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0

    def __deepcopy__(self, memo):   # immutable
        return self

    @classmethod
    def checked(cls, base=None, **changes):
        """Return ``base`` (or the defaults) with ``changes`` applied, validated."""
        allowed = ("delay", "loss", "duplicate", "reorder")
        for key in changes:
            if key not in allowed:
                raise BadParameter(f"unknown network setting {key!r}; allowed: {', '.join(allowed)}")
        if "delay" in changes:
            changes["delay"] = check_delay(changes["delay"])
        for key in ("loss", "duplicate", "reorder"):
            if key in changes:
                changes[key] = check_probability(key, changes[key])
        return replace(base or cls(), **changes)


def make_graph(topology):
    """Build the cluster graph from a node count, a list of ids, or a networkx graph.

    A count ``n`` gives the complete graph on ``n1 .. nn``.  Integer labels in a
    given graph become ``n<label>``; string labels are kept.

    Examples
    --------
    >>> sorted(make_graph(3).edges())
    [('n1', 'n2'), ('n1', 'n3'), ('n2', 'n3')]
    """
    if isinstance(topology, bool):
        raise BadParameter(f"nodes must be a count, a list of ids or a networkx graph; got {topology!r}")
    if isinstance(topology, int):
        if topology < 1:
            raise BadParameter(f"a cluster needs at least 1 node; got {topology}")
        return nx.complete_graph(node_ids(topology))
    if isinstance(topology, nx.Graph):
        if topology.number_of_nodes() < 1:
            raise BadParameter("the topology graph has no nodes")
        mapping = {}
        for label in topology.nodes:
            if isinstance(label, bool) or not isinstance(label, (int, str)):
                raise BadParameter(f"node labels must be strings or integers; got {label!r}")
            mapping[label] = label if isinstance(label, str) else f"n{label}"
        if len(set(mapping.values())) != len(mapping):
            raise BadParameter("two node labels map to the same id (for example 3 and 'n3')")
        graph = nx.relabel_nodes(topology, mapping, copy=True)
        if graph.is_multigraph():
            raise BadParameter("multigraphs are not supported: give at most one link per pair")
        return graph
    if isinstance(topology, (list, tuple)):
        ids = list(topology)
        for label in ids:
            if not isinstance(label, str) or not label:
                raise BadParameter(f"node ids must be non-empty strings; got {label!r}")
        if len(set(ids)) != len(ids):
            raise BadParameter(f"node ids must be unique; got {ids!r}")
        return nx.complete_graph(ids)
    raise BadParameter(f"nodes must be a count, a list of ids or a networkx graph; got {topology!r}")


class Network:
    """Links, their settings, and the faults currently affecting them.

    Parameters
    ----------
    graph : networkx.Graph or networkx.DiGraph
        Topology; an undirected edge is a link in both directions.  Edge
        attributes named like :class:`LinkSettings` fields override the defaults.
    defaults : LinkSettings
        Settings of every link without an override.
    """

    def __init__(self, graph, defaults=None):
        self.graph = graph
        self.ids = sorted_ids(graph.nodes)
        self.defaults = defaults or LinkSettings()
        self.overrides = {}          # (src, dst) -> {setting: value} set for that link only
        self._resolved = {}          # (src, dst) -> LinkSettings, a cache of defaults + overrides
        self._deterministic = None   # cache: no link draws anything at random
        self.cuts = frozenset()      # directed pairs whose messages are dropped
        self.partition_groups = ()   # as given, for display
        self.clogged = set()         # directed pairs whose messages are held
        for a, b, attrs in graph.edges(data=True):
            link_attrs = {k: v for k, v in attrs.items() if k in LinkSettings.__dataclass_fields__}
            if link_attrs:
                checked = LinkSettings.checked(**link_attrs)
                values = {k: getattr(checked, k) for k in link_attrs}
                self.overrides[(a, b)] = dict(values)
                if not graph.is_directed():
                    self.overrides[(b, a)] = dict(values)

    def check_node(self, node_id, what="node"):
        """Raise :class:`UnknownNode` unless ``node_id`` is in the cluster."""
        if node_id not in self.graph:
            raise UnknownNode(f"unknown {what} {node_id!r}; the cluster has: {', '.join(self.ids)}")
        return node_id

    def has_link(self, src, dst):
        """Return whether the topology has a link from ``src`` to ``dst``."""
        return self.graph.has_edge(src, dst)

    @property
    def deterministic(self):
        """True when every link has a fixed delay and neither loses nor duplicates messages.

        Then sending draws no random numbers at all: nothing about the network
        is random, and turning loss on later cannot shift any delay.
        """
        if self._deterministic is None:
            def fixed(settings):
                return settings.delay[0] == settings.delay[1] and not settings.loss and not settings.duplicate
            self._deterministic = fixed(self.defaults) and all(
                fixed(self.settings(*pair)) for pair in self.overrides)
        return self._deterministic

    def settings(self, src, dst):
        """Return the settings of the link ``src -> dst``: the defaults, with its own overrides."""
        resolved = self._resolved.get((src, dst))
        if resolved is None:
            override = self.overrides.get((src, dst))
            resolved = replace(self.defaults, **override) if override else self.defaults
            self._resolved[(src, dst)] = resolved
        return resolved

    def set_link(self, a, b, **changes):
        """Override some settings of the link between ``a`` and ``b`` (both directions).

        Settings not named here keep following the defaults.
        """
        self.check_node(a)
        self.check_node(b)
        if not self.has_link(a, b):
            raise InvalidAction(f"there is no link between {a} and {b} in the topology")
        checked = LinkSettings.checked(**changes)
        pairs = [(a, b)] if self.graph.is_directed() else [(a, b), (b, a)]
        for pair in pairs:
            self.overrides.setdefault(pair, {}).update({k: getattr(checked, k) for k in changes})
        self._resolved.clear()
        self._deterministic = None

    def set_defaults(self, **changes):
        """Change the default settings; a link's own overrides still win for what they name."""
        self.defaults = LinkSettings.checked(self.defaults, **changes)
        self._resolved.clear()
        self._deterministic = None

    def partition(self, groups, oneway=False, down=()):
        """Cut the network between ``groups`` (replacing any earlier partition).

        Nodes named in no group (crashed ones included) form one more group.
        Naming a crashed node is refused: its side of the cut would be a guess.  With ``oneway=True``,
        only messages *from* the first group *to* the second (or to everybody
        else, when one group is given) are dropped.
        """
        groups = [list(g) for g in groups]
        if not groups or any(not g for g in groups):
            raise BadParameter("a partition needs at least one non-empty group of node ids")
        seen = {}
        for index, group in enumerate(groups):
            for node_id in group:
                self.check_node(node_id)
                if node_id in down:
                    running = ", ".join(i for i in self.ids if i not in down) or "none"
                    raise InvalidAction(
                        f"{node_id} is crashed; a partition may only name running nodes (running: {running})")
                if node_id in seen:
                    raise BadParameter(f"partition groups overlap: {node_id} is in group {seen[node_id] + 1} "
                                       f"and group {index + 1}; each node may be in one group only")
                seen[node_id] = index
        rest = [i for i in self.ids if i not in seen]
        if oneway:
            if len(groups) > 2:
                raise BadParameter("a one-way partition takes one or two groups (from, to)")
            source = set(groups[0])
            target = set(groups[1]) if len(groups) == 2 else set(rest)
            cuts = {(a, b) for a in source for b in target}
        else:
            if rest:
                groups.append(rest)
            member = {i: n for n, g in enumerate(groups) for i in g}
            cuts = {(a, b) for a in self.ids for b in self.ids if member[a] != member[b]}
        if not cuts:
            raise BadParameter("this partition cuts no link: name at least two groups, or leave some nodes out")
        self.cuts = frozenset(cuts)
        self.partition_groups = tuple(tuple(sorted_ids(g)) for g in groups)
        return self.partition_groups

    def heal(self):
        """Remove every partition cut."""
        self.cuts = frozenset()
        self.partition_groups = ()

    def clog(self, a, b):
        """Hold every message on the link between ``a`` and ``b`` until it is unclogged."""
        self.check_node(a)
        self.check_node(b)
        if a == b or not self.has_link(a, b):
            raise InvalidAction(f"there is no link between {a} and {b} to clog")
        self.clogged.update({(a, b), (b, a)})

    def unclog(self, a, b):
        """Release the link between ``a`` and ``b``."""
        self.check_node(a)
        self.check_node(b)
        if (a, b) not in self.clogged:
            clogged = ", ".join(f"{x}-{y}" for x, y in sorted(self.clogged, key=lambda p: (id_key(p[0]), id_key(p[1])))
                                if id_key(x) < id_key(y)) or "none"
            raise InvalidAction(f"the link {a}-{b} is not clogged (clogged links: {clogged})")
        self.clogged.difference_update({(a, b), (b, a)})
