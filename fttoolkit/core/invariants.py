"""Named invariants: safety predicates over node states and history, and liveness checks.

An algorithm module declares its properties as data, next to its protocol:

* an :class:`Invariant` is a safety property.  Its ``check(nodes)`` looks at
  the running nodes' states after every step; its ``observe(event)`` sees every
  trace event, for properties about history ("no node delivers twice").  Each
  returns ``None`` when all is well, or a :class:`Violation` (or a list of them).
* a :class:`Liveness` check says what must be true once the faults have stopped
  and the network has been calm for ``within_ticks``.

These are plain objects over plain data: the checkers in :mod:`fttoolkit.check`
run them, the protocol knows nothing about them.

Examples
--------
>>> from fttoolkit.core.node import Node
>>> class Counter(Node):
...     def on_start(self, records):
...         self.value = -1
>>> never_negative = Invariant("Non-negative: a counter is never below 0",
...     check=lambda nodes: [Violation("Non-negative", (n.id,), f"value {n.value}")
...                          for n in nodes.values() if n.value < 0])
>>> node = Counter("n1"); _ = node.start([])
>>> never_negative.evaluate({"n1": node})
[Violation('Non-negative', nodes=('n1',), detail='value -1')]
"""

from dataclasses import dataclass

__all__ = ["Invariant", "Liveness", "Violation", "as_violations"]


@dataclass(frozen=True)
class Violation:
    """A broken property: which one, the nodes involved, and what was seen."""

    invariant: str
    nodes: tuple = ()
    detail: str = ""

    def __repr__(self):
        return f"Violation({self.invariant!r}, nodes={self.nodes!r}, detail={self.detail!r})"

    def __str__(self):
        where = f" at {', '.join(self.nodes)}" if self.nodes else ""
        return f"{self.invariant}{where}: {self.detail}"


def as_violations(result):
    """Normalise a check's result (``None``, one violation or several) to a list."""
    if result is None:
        return []
    if isinstance(result, Violation):
        return [result]
    return list(result)


class Invariant:
    """A safety property, named after the rule it states.

    Parameters
    ----------
    title : str
        ``"Short name: the rule in words"``; the short name (before the colon)
        identifies the invariant in reports and scripts.
    check : callable, optional
        ``check(nodes) -> None | Violation | list``, over the running nodes
        (a dict of node id to node object), called after every step.
    observe : class, optional
        A factory (usually a class): ``observe()`` returns a fresh callable
        ``f(event) -> None | Violation | list`` that sees every trace event of
        one run, in order, keeping its history in its own attributes (not in
        a closure: snapshots copy it with :func:`copy.deepcopy`).
    """

    def __init__(self, title, check=None, observe=None):
        self.title = title
        self.name = title.split(":")[0].strip()
        self._check = check
        self._observe = observe

    @property
    def uses_state(self):
        """Whether the invariant looks at node states after each step."""
        return self._check is not None

    @property
    def uses_history(self):
        """Whether the invariant follows the trace events."""
        return self._observe is not None

    def evaluate(self, nodes):
        """Return the violations in the current states (a list, empty if none)."""
        return as_violations(self._check(nodes)) if self._check else []

    def observer(self):
        """Return a fresh history observer ``f(event) -> None | Violation | list``."""
        return None if self._observe is None else self._observe()

    def __repr__(self):
        return f"Invariant({self.title!r})"


class Liveness:
    """Progress that must happen once faults stop and the network is calm.

    Parameters
    ----------
    title : str
        ``"Short name: what must happen"``.
    check : callable
        ``check(nodes) -> None | Violation | list``, evaluated at the end of the
        calm phase over the running nodes.
    within_ticks : int
        How long the calm phase must last for the check to be fair.
    """

    def __init__(self, title, check, within_ticks):
        self.title = title
        self.name = title.split(":")[0].strip()
        self._check = check
        self.within_ticks = within_ticks

    def evaluate(self, nodes):
        """Return the violations (a list, empty if progress was made)."""
        return as_violations(self._check(nodes))

    def __repr__(self):
        return f"Liveness({self.title!r}, within_ticks={self.within_ticks})"
