"""Placing keys on nodes: consistent hashing with virtual nodes, and modulo hashing to compare.

A distributed cache spreads its keys over n nodes.  **Modulo hashing** puts
key k on node ``hash(k) mod n``: balanced, but when n changes almost every
key changes node (about n/(n+1) of them on a join), so the cache empties.
**Consistent hashing** puts nodes and keys on the same circle of 2**64
points; a key belongs to the first node point clockwise from it (its
successor).  A join only takes keys from the joiner's successors (about
1/(n+1) of them), a leave only hands the leaver's keys to its successors.
With one point per node the arcs are very uneven; giving every node many
**virtual nodes** (``vnodes`` points each) evens the load out.

Hashing uses MD5 from :mod:`hashlib` (for its spread, not for security),
never Python's ``hash()``, which changes from one process to the next: the
same key lands on the same node on every machine.

Examples
--------
>>> ring = HashRing(["n1", "n2", "n3"], vnodes=50)
>>> ring.lookup("user:42")
'n1'
>>> ring.preference_list("user:42", 2)
['n1', 'n2']
>>> keys = [f"key{i}" for i in range(3000)]
>>> before = ring.copy()
>>> ring.add("n4")
>>> round(moved(before, ring, keys), 2)          # about 1/4 of the keys move, all to n4
0.28
>>> round(moved(ModuloHashing(["n1", "n2", "n3"]), ModuloHashing(["n1", "n2", "n3", "n4"]), keys), 2)
0.76

Notes
-----
Karger, Lehman, Leighton, Panigrahy, Levine & Lewin, "Consistent Hashing and
Random Trees: Distributed Caching Protocols for Relieving Hot Spots on the
World Wide Web" (STOC 1997) introduce the ring and virtual copies of each
cache; DeCandia et al., "Dynamo: Amazon's Highly Available Key-value Store"
(SOSP 2007, §4.2-4.3) use virtual nodes for balance and the preference list of
the first N distinct nodes clockwise for replication.  Chord (Stoica et al.,
2001) calls a key's node its successor.
"""

import bisect
import hashlib

from ..core.errors import BadParameter, InvalidAction, UnknownNode
from ..core.ids import node_ids, sorted_ids

__all__ = ["RING_SIZE", "point", "vnode_label", "HashRing", "ModuloHashing", "placement", "load",
           "imbalance", "moved", "rebalance_experiment"]

#: Number of points on the ring: positions are integers in [0, RING_SIZE).
RING_SIZE = 2 ** 64


def _text(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).encode("utf-8")
    raise BadParameter(f"keys and node ids must be strings, integers or bytes; got {value!r}")


def point(value):
    """The position of ``value`` on the ring: the first 8 bytes of its MD5 digest, as an integer.

    Parameters
    ----------
    value : str, int or bytes
        A key or a virtual node's label (an int is hashed as its decimal text,
        so ``point(7) == point("7")``).

    Returns
    -------
    int
        In [0, :data:`RING_SIZE`).

    Examples
    --------
    >>> point("n1#0")
    14382606119453365543
    >>> point(7) == point("7") and 0 <= point("x") < RING_SIZE
    True

    Notes
    -----
    Any well-mixing hash works; Dynamo uses MD5 (DeCandia et al. 2007, §4.2).
    """
    return int.from_bytes(hashlib.md5(_text(value)).digest()[:8], "big")


def vnode_label(node, index):
    """The label hashed for virtual node ``index`` of ``node``: ``"<node>#<index>"``.

    >>> vnode_label("n2", 0)
    'n2#0'
    """
    return f"{node}#{index}"


def _node_id(node):
    if not isinstance(node, str) or not node:
        raise BadParameter(f"a node id must be a non-empty string such as 'n1'; got {node!r}")
    return node


def _vnodes(vnodes):
    if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
        raise BadParameter(f"vnodes (points per node on the ring) must be a whole number >= 1; got {vnodes!r}")
    return vnodes


class HashRing:
    """A consistent-hashing ring with virtual nodes.

    Parameters
    ----------
    nodes : iterable of str
        The initial node ids.
    vnodes : int
        Points on the ring per node (virtual nodes), >= 1.

    Attributes
    ----------
    vnodes : int
        The default number of points for a node added later.

    Examples
    --------
    >>> ring = HashRing(["n1", "n2"], vnodes=1)
    >>> [(round(f, 3), node, i) for f, node, i in ring.points()]
    [(0.104, 'n2', 0), (0.78, 'n1', 0)]
    >>> ring.lookup("user:42"), round(ring.ownership()["n1"], 3)
    ('n1', 0.675)

    Notes
    -----
    A key belongs to the first point at or after its own position,
    wrapping around past the top of the ring (Karger et al. 1997; the
    "successor" of Chord, Stoica et al. 2001).  Ties between points (one in
    about 2**64) are broken by node id.  Lookup is a binary search:
    O(log(n * vnodes)); adding or removing a node costs O(n * vnodes).
    """

    def __init__(self, nodes=(), vnodes=100):
        self.vnodes = _vnodes(vnodes)
        self._points = []          # sorted (position, node, index)
        self._positions = []       # the positions alone, for bisect
        self._weights = {}         # node -> its number of points
        for node in nodes:
            self.add(node)

    # ---- membership -------------------------------------------------------------------
    @property
    def nodes(self):
        """The node ids on the ring, in natural order."""
        return sorted_ids(self._weights)

    def __len__(self):
        return len(self._weights)

    def __contains__(self, node):
        return node in self._weights

    def __repr__(self):
        return f"HashRing({self.nodes}, vnodes={self.vnodes})"

    def add(self, node, vnodes=None):
        """Put ``node`` on the ring with ``vnodes`` points (default: the ring's ``vnodes``).

        A node with more points takes a proportionally larger share (a bigger machine).

        Raises
        ------
        InvalidAction
            If ``node`` is on the ring already.
        """
        node = _node_id(node)
        if node in self._weights:
            raise InvalidAction(f"{node} is on the ring already; remove it first to change its vnodes")
        count = self.vnodes if vnodes is None else _vnodes(vnodes)
        self._weights[node] = count
        for index in range(count):
            bisect.insort(self._points, (point(vnode_label(node, index)), node, index))
        self._positions = [p for p, _, _ in self._points]

    def remove(self, node):
        """Take ``node`` and all its points off the ring; its keys go to their next points clockwise.

        Raises
        ------
        UnknownNode
            If ``node`` is not on the ring.
        """
        if node not in self._weights:
            raise UnknownNode(f"{node!r} is not on the ring; nodes: {', '.join(self.nodes) or 'none'}")
        del self._weights[node]
        self._points = [p for p in self._points if p[1] != node]
        self._positions = [p for p, _, _ in self._points]

    def copy(self):
        """An independent ring with the same nodes and points."""
        other = HashRing(vnodes=self.vnodes)
        other._points = list(self._points)
        other._positions = list(self._positions)
        other._weights = dict(self._weights)
        return other

    # ---- placement --------------------------------------------------------------------
    def _index(self, key):
        if not self._points:
            raise InvalidAction("the ring has no nodes: add one first")
        i = bisect.bisect_left(self._positions, point(key))
        return 0 if i == len(self._points) else i

    def lookup(self, key):
        """The node that owns ``key``: the node of the first point clockwise from the key's position.

        >>> HashRing(["n1", "n2", "n3"], vnodes=10).lookup("apple")
        'n3'
        """
        return self._points[self._index(key)][1]

    def preference_list(self, key, n):
        """The first ``n`` distinct nodes clockwise from ``key``: its owner, then its replicas.

        Virtual nodes of a node already in the list are skipped, so the
        ``n`` replicas sit on ``n`` different machines (Dynamo §4.3).

        >>> HashRing(["n1", "n2", "n3"], vnodes=10).preference_list("apple", 3)
        ['n3', 'n1', 'n2']

        Raises
        ------
        BadParameter
            If ``n`` is not between 1 and the number of nodes.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(self._weights):
            raise BadParameter(f"n must be a whole number from 1 to the number of nodes ({len(self._weights)}); "
                               f"got {n!r}")
        start = self._index(key)
        out = []
        size = len(self._points)
        for step in range(size):
            node = self._points[(start + step) % size][1]
            if node not in out:
                out.append(node)
                if len(out) == n:
                    break
        return out

    def points(self):
        """Every point as (position as a fraction of the ring in [0, 1), node, virtual node index), in ring order."""
        return [(p / RING_SIZE, node, index) for p, node, index in self._points]

    def ownership(self):
        """Node -> the fraction of the ring it owns (the arcs ending at its points); they sum to 1.

        >>> shares = HashRing(["n1", "n2", "n3", "n4"], vnodes=1000).ownership()
        >>> [round(s, 2) for s in shares.values()]
        [0.25, 0.26, 0.24, 0.26]
        >>> round(sum(shares.values()), 12)
        1.0
        """
        owned = {node: 0 for node in self.nodes}
        previous = self._points[-1][0] - RING_SIZE if self._points else 0
        for p, node, _ in self._points:
            owned[node] += p - previous
            previous = p
        return {node: arc / RING_SIZE for node, arc in owned.items()}


class ModuloHashing:
    """Key k on node number ``point(k) mod n``, with the nodes in the order given.

    Parameters
    ----------
    nodes : iterable of str
        The node ids; a node added later goes at the end.

    Examples
    --------
    >>> m = ModuloHashing(["n1", "n2", "n3"])
    >>> m.lookup("user:42"), m.lookup("apple")
    ('n3', 'n2')

    Notes
    -----
    The classic "hash mod n" placement that Karger et al. (1997) set out to
    replace: changing n remaps a key unless its hash gives the same
    remainder for both n, which happens for about 1/(n+1) of the keys.
    """

    def __init__(self, nodes=()):
        self._nodes = []
        for node in nodes:
            self.add(node)

    @property
    def nodes(self):
        """The node ids, in placement order."""
        return list(self._nodes)

    def __len__(self):
        return len(self._nodes)

    def __contains__(self, node):
        return node in self._nodes

    def __repr__(self):
        return f"ModuloHashing({self._nodes})"

    def add(self, node):
        """Append ``node`` (node number n)."""
        node = _node_id(node)
        if node in self._nodes:
            raise InvalidAction(f"{node} is placed already")
        self._nodes.append(node)

    def remove(self, node):
        """Remove ``node``; the nodes after it move down by one number."""
        if node not in self._nodes:
            raise UnknownNode(f"{node!r} is not placed; nodes: {', '.join(self._nodes) or 'none'}")
        self._nodes.remove(node)

    def copy(self):
        """An independent copy."""
        return ModuloHashing(self._nodes)

    def lookup(self, key):
        """The node of ``key``: number ``point(key) % n``."""
        if not self._nodes:
            raise InvalidAction("no nodes to place keys on: add one first")
        return self._nodes[point(key) % len(self._nodes)]

    def ownership(self):
        """Node -> its share of the ring's positions (1/n each, up to rounding)."""
        n = len(self._nodes)
        return {node: (RING_SIZE // n + (1 if i < RING_SIZE % n else 0)) / RING_SIZE
                for i, node in enumerate(self._nodes)}


def placement(scheme):
    """The function key -> node of a scheme: an object with ``lookup``, or a function already."""
    lookup = getattr(scheme, "lookup", scheme)
    if not callable(lookup):
        raise BadParameter(f"a placement is a HashRing, a ModuloHashing, or a function key -> node; got {scheme!r}")
    return lookup


def load(scheme, keys):
    """Node -> how many of ``keys`` it holds (every node of the scheme listed, even with none).

    >>> load(ModuloHashing(["n1", "n2"]), ["a", "b", "c", "d"])
    {'n1': 2, 'n2': 2}
    """
    lookup = placement(scheme)
    counts = {node: 0 for node in getattr(scheme, "nodes", ())}
    for key in keys:
        node = lookup(key)
        counts[node] = counts.get(node, 0) + 1
    return counts


def imbalance(counts):
    """Load imbalance, the busiest node's load over the mean load (1.0 is perfect balance).

    >>> imbalance({"n1": 30, "n2": 10, "n3": 20})
    1.5
    """
    if not counts:
        raise BadParameter("imbalance needs the load of at least one node")
    total = sum(counts.values())
    if total == 0:
        raise BadParameter("imbalance of an empty load (no keys) is undefined")
    return max(counts.values()) * len(counts) / total


def moved(before, after, keys):
    """The fraction of ``keys`` whose node differs between two placements.

    >>> moved(ModuloHashing(["n1", "n2"]), ModuloHashing(["n1", "n2"]), ["a", "b"])
    0.0
    """
    keys = list(keys)
    if not keys:
        raise BadParameter("moved needs at least one key")
    a, b = placement(before), placement(after)
    return sum(1 for key in keys if a(key) != b(key)) / len(keys)


def _keys(keys):
    if isinstance(keys, bool):
        raise BadParameter(f"keys must be a count or a list of keys; got {keys!r}")
    if isinstance(keys, int):
        if keys < 1:
            raise BadParameter(f"keys must be at least 1; got {keys}")
        return [f"key{i}" for i in range(keys)]
    keys = list(keys)
    if not keys:
        raise BadParameter("keys must not be empty")
    return keys


def rebalance_experiment(n_nodes=10, vnodes=(1, 10, 100), keys=10_000, trials=1):
    """Balance and keys moved on a join and a leave, consistent hashing against modulo hashing.

    Parameters
    ----------
    n_nodes : int
        Nodes before the change (>= 2): ``n1 .. n<n_nodes>`` in the first
        trial; the joiner is ``n<n_nodes + 1>`` and the leaver ``n1``.
    vnodes : int or sequence of int
        Virtual nodes per node for the ring (one pair of rows per value).
    keys : int or iterable
        The keys (a count ``k`` means ``"key0" .. "key<k-1>"``).
    trials : int
        Independent rings to average over: trial t > 0 names its nodes
        ``t<t>n1 ..``, which puts their points elsewhere on the ring.

    Returns
    -------
    list of dict
        For each vnodes value, a row for ``"ring"`` then one for ``"modulo"``
        (which ignores vnodes) with the keys ``scheme``, ``vnodes``, ``nodes``,
        ``keys``, ``trials`` and, averaged over the trials:
        ``imbalance`` (max load / mean load over the ``n_nodes`` nodes, for
        these keys, so a little above 1 even for a perfect split),
        ``share_imbalance`` (the largest share of the hash space times
        ``n_nodes``: the same without the keys' sampling noise), ``moved_join``
        (fraction of the keys whose node changes when a node joins),
        ``moved_leave`` (when the first node leaves), and the theory:
        ``expected_join`` and ``expected_leave`` (1/(n+1) and 1/n for the ring,
        n/(n+1) and (n-1)/n for modulo).

    Examples
    --------
    >>> rows = rebalance_experiment(n_nodes=4, vnodes=[1, 100], keys=2000)
    >>> [(r["scheme"], r["vnodes"], round(r["imbalance"], 2), round(r["moved_join"], 2)) for r in rows]
    [('ring', 1, 1.68, 0.26), ('modulo', 1, 1.05, 0.8), ('ring', 100, 1.08, 0.24), ('modulo', 100, 1.05, 0.8)]

    Notes
    -----
    With one point per node, a node's arc is the gap between two random
    points: some nodes own several times their share and a joiner may take
    almost nothing or a lot.  With v virtual nodes a node's share is a sum
    of v gaps, whose relative spread shrinks like 1/sqrt(v) (Karger et al.
    1997; DeCandia et al. 2007, §6.2).  Modulo hashing keeps a key on its
    node only when point(k) mod n = point(k) mod (n+1), for about 1/(n+1)
    of the keys.
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 2:
        raise BadParameter(f"n_nodes must be a whole number >= 2 (one of them leaves); got {n_nodes!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise BadParameter(f"trials must be a whole number >= 1; got {trials!r}")
    values = [vnodes] if isinstance(vnodes, int) else list(vnodes)
    if not values:
        raise BadParameter("vnodes must be a number or a non-empty list of numbers")
    for v in values:
        _vnodes(v)
    keys = _keys(keys)
    n = n_nodes

    def measure(make):
        out = {"imbalance": 0.0, "share_imbalance": 0.0, "moved_join": 0.0, "moved_leave": 0.0}
        for t in range(trials):
            ids = node_ids(n + 1, prefix="n" if t == 0 else f"t{t}n")
            scheme = make(ids[:n])
            base = [scheme.lookup(k) for k in keys]
            counts = {node: 0 for node in ids[:n]}
            for node in base:
                counts[node] += 1
            grown = scheme.copy()
            grown.add(ids[n])
            shrunk = scheme.copy()
            shrunk.remove(ids[0])
            out["imbalance"] += imbalance(counts)
            out["share_imbalance"] += max(scheme.ownership().values()) * n
            out["moved_join"] += sum(1 for k, was in zip(keys, base) if grown.lookup(k) != was) / len(keys)
            out["moved_leave"] += sum(1 for k, was in zip(keys, base) if shrunk.lookup(k) != was) / len(keys)
        return {name: total / trials for name, total in out.items()}

    common = {"nodes": n, "keys": len(keys), "trials": trials}
    modulo = dict(measure(ModuloHashing), expected_join=n / (n + 1), expected_leave=(n - 1) / n)
    rows = []
    for v in values:
        ring = measure(lambda ids: HashRing(ids, vnodes=v))
        rows.append({"scheme": "ring", "vnodes": v, **common, **ring,
                     "expected_join": 1 / (n + 1), "expected_leave": 1 / n})
        rows.append({"scheme": "modulo", "vnodes": v, **common, **modulo})
    return rows
