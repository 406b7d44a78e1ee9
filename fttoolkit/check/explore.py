"""Exhaustive breadth-first exploration of a finite transition system, counted as TLC counts.

A *specification* says which states a system starts in and which states each
state can step to; :func:`explore` visits every reachable state once, breadth
first, checks the named invariants in each of them (initial states included),
optionally reports a *deadlock* (a reachable state with no successor at all),
and returns an :class:`ExploreResult`.  When an invariant fails, the result
holds a shortest counterexample: breadth-first search reaches every state by a
shortest path, and each state remembers the state it was first reached from.

The contract a system implements (subclass :class:`Spec`)::

    class MySpec(Spec):
        name = "mine"
        invariants = {"Positive": lambda s: s > 0}     # name -> predicate(state) -> bool
        def initial_states(self):  ...                 # iterable of hashable states
        def next_states(self, state): ...              # iterable of (action_label, next_state)
        def describe(self, state): ...                 # optional: readable text of a state

* States must be hashable and compare by value (tuples, frozensets, ints...).
  Python's ``hash`` only serves the in-memory table; nothing observable
  depends on it: the order of exploration is the order in which
  ``initial_states`` and ``next_states`` list things.
* ``next_states`` lists one ``(label, state)`` pair *per successor computed*,
  duplicates included: an action instance that leaves the state unchanged, or
  two witnesses of an existential quantifier leading to the same state, are
  each one pair.  This is what makes "states generated" equal TLC's.  Returning
  a list is fastest; any iterable works.  Labels should be cheap (precomputed
  strings): they are only read to print a counterexample.
* An invariant is either a predicate ``f(state) -> bool`` (true when it
  holds) or a :class:`fttoolkit.core.invariants.Invariant`, whose
  ``evaluate(spec.invariant_view(state))`` must return no violation (the view
  turns a state into the dict of nodes that core invariants inspect; by
  default it is the state itself).

The figures mean what TLC's mean.  *States generated*: every initial state
and every successor computed, duplicates included.  *Distinct states*: the
reachable states.  *Depth*: the number of states on the longest of the
shortest paths from an initial state (so the diameter in steps plus one).

Systems for the command line ``python -m fttoolkit explore SYSTEM`` are kept
in a registry: :func:`register_system` with a factory and its documented
:class:`Option` list.  Modules listed in :data:`SYSTEM_MODULES` are imported
on first use so that their systems register themselves.  To add one (an
implementation explored through the simulator, say ``raft``): write a module
that calls ``register_system("raft", summary, factory, (Option("nodes", 3,
...), Option("bug", (), ..., str, multiple=True, choices=...), ...),
saves=True)`` at import, append its name to :data:`SYSTEM_MODULES`, and give
its spec a ``scenario_script(counterexample) -> str`` method for ``--save
FILE``.  The options every system takes (``--deadlock``, ``--max-states``,
``--max-depth``, ``--invariant``, ``--all``, ``--save``) are handled here.

Examples
--------
>>> class Counter(Spec):
...     name = "counter"
...     invariants = {"Small": lambda n: n < 3}
...     def initial_states(self):
...         return [0]
...     def next_states(self, n):
...         return [("Inc", n + 1), ("Stay", n)] if n < 5 else []
>>> result = explore(Counter())
>>> result.violations[0].invariant, [label for label, _ in result.violations[0].steps]
('Small', ['Initial predicate', 'Inc', 'Inc', 'Inc'])
>>> full = explore(Counter(), stop_at_first=False, check_deadlock=True)
>>> full.distinct, full.generated, full.depth, [v.invariant for v in full.violations]
(6, 11, 6, ['Small', 'Deadlock'])

Notes
-----
Explicit-state model checking by breadth-first search, as in TLC: Yu, Manolios
and Lamport, "Model Checking TLA+ Specifications" (CHARME 1999), and Lamport,
*Specifying Systems* (2002), chapter 14.  States are kept in one hash table
mapping each state to its predecessor (no copy of any state is made), as
Holzmann's SPIN and TLC keep their state stores; a counterexample is rebuilt
by following predecessors back to an initial state and recomputing each
step's label, as TLC rebuilds its error traces.  Time and memory are linear
in the number of distinct states; each generated state costs one hash lookup.
"""

import importlib
from dataclasses import dataclass, field

from ..core.errors import BadParameter

__all__ = ["Spec", "Counterexample", "ExploreResult", "explore", "Option", "System", "SYSTEMS",
           "SYSTEM_MODULES", "COMMON_OPTIONS", "register_system", "systems", "system_for", "systems_text",
           "common_options_text", "parse_options", "run_cli", "INITIAL", "DEADLOCK"]

INITIAL = "Initial predicate"   # the label of a trace's first step (TLC prints <Initial predicate>)
DEADLOCK = "Deadlock"           # the "invariant" name of a deadlock counterexample


class Spec:
    """A finite transition system to explore: initial states, successors, invariants.

    Subclass it and define :meth:`initial_states` and :meth:`next_states`
    (see the module documentation for the exact contract).

    Attributes
    ----------
    name : str
        The system's name in reports.
    invariants : dict
        ``name -> predicate(state) -> bool`` (or core ``Invariant`` objects).

    Examples
    --------
    >>> class Toggle(Spec):
    ...     def initial_states(self):
    ...         return [False]
    ...     def next_states(self, on):
    ...         return [("Flip", not on)]
    >>> explore(Toggle()).distinct
    2

    Notes
    -----
    The shape of a TLA+ specification: ``Init``, ``Next`` as a disjunction of
    actions, and invariants (Lamport, *Specifying Systems*, 2002, ch. 2-3).
    """

    name = "spec"
    invariants = {}

    def initial_states(self):
        """Return the initial states (an iterable of hashable states)."""
        raise NotImplementedError

    def next_states(self, state):
        """Return ``(action_label, next_state)`` pairs, one per successor computed."""
        raise NotImplementedError

    def describe(self, state):
        """Return a readable text of ``state`` (one or more lines) for counterexamples."""
        return repr(state)

    def invariant_view(self, state):
        """Return what core ``Invariant`` objects inspect for ``state`` (default: the state)."""
        return state


@dataclass
class Counterexample:
    """A shortest path from an initial state to a state that breaks a property.

    Attributes
    ----------
    invariant : str
        The broken invariant's name, or ``"Deadlock"``.
    steps : list of (label, state)
        The path: ``steps[0]`` is ``("Initial predicate", initial_state)``;
        each later step is the action taken and the state it reached.
    detail : str
        What the invariant reported (core ``Invariant`` objects), else ``""``.
    """

    invariant: str
    steps: list
    detail: str = ""

    @property
    def kind(self):
        """``"deadlock"`` or ``"invariant"``."""
        return "deadlock" if self.invariant == DEADLOCK else "invariant"

    @property
    def state(self):
        """The last state, the one that breaks the property."""
        return self.steps[-1][1]

    def __len__(self):
        return len(self.steps)

    def lines(self, describe=repr):
        """Return the counterexample as text lines, steps numbered from 1 as TLC numbers them."""
        what = "deadlock reached" if self.kind == "deadlock" else f"invariant {self.invariant} is violated"
        out = [f"violation: {what} ({len(self.steps)} states)"]
        if self.detail:
            out.append(f"  {self.detail}")
        for number, (label, state) in enumerate(self.steps, 1):
            out.append(f"  {number}. {label}")
            out.extend(f"       {line}" for line in str(describe(state)).splitlines())
        return out


@dataclass
class ExploreResult:
    """What an exploration found.

    Attributes
    ----------
    name : str
        The system explored.
    distinct, generated, depth : int
        TLC's three figures (see the module documentation).
    violations : list of Counterexample
        Shortest counterexamples, in the order found (at most one per property).
    complete : bool
        True when every reachable state was explored; False when a bound
        (``max_states``, ``max_depth``) or the first violation stopped the search.
    left : int
        States found but not explored when the search stopped (TLC's "states left on queue").
    stopped_by : str
        ``""`` (complete), ``"violation"``, ``"max_states"`` or ``"max_depth"``.
    """

    name: str
    distinct: int = 0
    generated: int = 0
    depth: int = 0
    violations: list = field(default_factory=list)
    complete: bool = True
    left: int = 0
    stopped_by: str = ""

    @property
    def ok(self):
        """Whether no invariant failed and no deadlock was found."""
        return not self.violations

    def summary_lines(self):
        """The three figure lines, then a line saying why the search stopped early, if it did."""
        out = [f"distinct states: {self.distinct}", f"states generated: {self.generated}",
               f"depth: {self.depth}"]
        if not self.complete:
            out.append(f"search incomplete: stopped by {self.stopped_by} ({self.left} states left on queue)")
        return out


def _checks(spec, only):
    """Normalise the spec's invariants to ``[(name, holds(state) -> bool, invariant_object)]``."""
    table = dict(spec.invariants)
    if only is not None:
        unknown = [name for name in only if name not in table]
        if unknown:
            raise BadParameter(f"unknown invariant {unknown[0]!r} for {spec.name}; "
                               f"invariants: {', '.join(table) or '(none)'}")
        table = {name: table[name] for name in table if name in only}
    checks = []
    for name, inv in table.items():
        if hasattr(inv, "evaluate"):
            view = spec.invariant_view
            checks.append((name, lambda s, inv=inv, view=view: not inv.evaluate(view(s)), inv))
        elif callable(inv):
            checks.append((name, inv, None))
        else:
            raise BadParameter(f"invariant {name!r} of {spec.name} is neither a predicate nor an Invariant")
    return checks


def _trace(spec, parent, state):
    """Rebuild the path to ``state`` from predecessor links; recompute each step's label."""
    path = [state]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    path.reverse()
    steps = [(INITIAL, path[0])]
    for before, after in zip(path, path[1:]):
        label = next(lab for lab, t in spec.next_states(before) if t == after)
        steps.append((label, after))
    return steps


def explore(spec, check_deadlock=False, max_states=None, max_depth=None, stop_at_first=True,
            invariants=None, progress=None):
    """Explore every reachable state of ``spec`` breadth first; check invariants in each.

    Parameters
    ----------
    spec : Spec
        The system (see the module documentation for the contract).
    check_deadlock : bool
        Report a reachable state with no successor as a ``"Deadlock"`` violation.
    max_states : int, optional
        Stop, incomplete, rather than hold more than this many distinct states.
    max_depth : int, optional
        Do not expand states at this depth (depth 1 = the initial states).
    stop_at_first : bool
        Stop at the first violation (as TLC does); otherwise explore everything
        and keep the first (shortest) counterexample of each property.
    invariants : iterable of str, optional
        Check only these of ``spec.invariants`` (default: all).
    progress : callable, optional
        ``progress(depth, distinct, generated, queued)`` after each level.

    Returns
    -------
    ExploreResult

    Raises
    ------
    BadParameter
        A bound below 1, or an unknown invariant name.

    Examples
    --------
    >>> class Walk(Spec):
    ...     def initial_states(self):
    ...         return [0]
    ...     def next_states(self, n):
    ...         return [("Left", max(n - 1, 0)), ("Right", min(n + 1, 9))]
    >>> r = explore(Walk())
    >>> r.distinct, r.generated, r.depth, r.complete
    (10, 21, 10, True)
    >>> explore(Walk(), max_states=4).complete
    False

    Notes
    -----
    Breadth-first explicit-state search as TLC performs it (Yu, Manolios and
    Lamport, "Model Checking TLA+ Specifications", 1999): a state is checked
    when first found, so the first violation found lies on a shortest path.
    """
    for label, bound in (("max_states", max_states), ("max_depth", max_depth)):
        if bound is not None and (not isinstance(bound, int) or bound < 1):
            raise BadParameter(f"{label} must be a whole number of at least 1; got {bound!r}")
    checks = _checks(spec, None if invariants is None else list(invariants))
    result = ExploreResult(getattr(spec, "name", type(spec).__name__))
    parent = {}             # state -> the state it was first reached from (None for an initial state)
    broken = set()          # properties already reported (when not stopping at the first)
    limit = max_states if max_states is not None else -1
    violations = result.violations

    def report(state, name, inv):
        detail = ""
        if inv is not None:
            found = inv.evaluate(spec.invariant_view(state))
            detail = "; ".join(str(v) for v in found)
        violations.append(Counterexample(name, _trace(spec, parent, state), detail))
        broken.add(name)
        return stop_at_first

    def finish(level, stopped_by):
        result.distinct = len(parent)
        result.left = len(level)
        result.complete = not stopped_by
        result.stopped_by = stopped_by
        return result

    level = []
    for state in spec.initial_states():
        result.generated += 1
        if state in parent:
            continue
        if len(parent) == limit:
            return finish(level, "max_states")
        parent[state] = None
        level.append(state)
        result.depth = 1
        for name, holds, inv in checks:
            if name not in broken and not holds(state) and report(state, name, inv):
                return finish(level, "violation")
    if progress is not None:
        progress(result.depth, len(parent), result.generated, len(level))
    next_states = spec.next_states
    generated = result.generated
    while level:
        if max_depth is not None and result.depth >= max_depth:
            if any(t not in parent for s in level for _, t in next_states(s)):
                return finish(level, "max_depth")
            break
        found = []
        for index, state in enumerate(level):
            successors = next_states(state)
            if type(successors) is not list:
                successors = list(successors)
            generated += len(successors)
            if not successors and check_deadlock and DEADLOCK not in broken:
                if report(state, DEADLOCK, None):
                    result.generated = generated
                    return finish(level[index:] + found, "violation")
            for _, new in successors:
                if new in parent:
                    continue
                if len(parent) == limit:
                    result.generated = generated
                    return finish(level[index:] + found, "max_states")
                parent[new] = state
                found.append(new)
                for name, holds, inv in checks:
                    if not holds(new) and name not in broken and report(new, name, inv):
                        result.generated = generated
                        result.depth += 1
                        return finish(level[index + 1:] + found, "violation")
        result.generated = generated
        if found:
            result.depth += 1
        level = found
        if progress is not None:
            progress(result.depth, len(parent), generated, len(level))
    return finish([], "")


# ----------------------------------------------------------------------------------------------
# The registry of explorable systems, and the command line's engine.

@dataclass(frozen=True)
class Option:
    """A command-line option of an explorable system: ``--NAME VALUE``.

    Attributes
    ----------
    name : str
        The option without dashes (``"max-ballot"``); the factory receives it
        as a keyword with underscores (``max_ballot``).
    default : object
        The value when the option is not given.
    help : str
        What it means, with its allowed range.
    type : type
        ``int``, ``str`` or ``bool`` (a flag that takes no value).
    multiple : bool
        May be given several times; the factory receives a tuple.
    choices : tuple, optional
        The allowed values.
    """

    name: str
    default: object
    help: str
    type: type = int
    multiple: bool = False
    choices: tuple = None

    @property
    def keyword(self):
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class System:
    """An explorable system: a name, a one-line summary, a factory and its options.

    ``factory(**options)`` returns a :class:`Spec`; it receives every option
    (defaults filled in) as a keyword.  ``--save FILE`` works for a system
    registered with ``saves=True``, whose spec has a method
    ``scenario_script(counterexample) -> str`` (the text of a scenario script).
    """

    name: str
    summary: str
    factory: object
    options: tuple = ()
    saves: bool = False


SYSTEMS = {}
# Modules that register systems when imported; imported on first use of the registry.
SYSTEM_MODULES = ["fttoolkit.check.specs", "fttoolkit.doors.exploring"]

# Options every system takes: (name, metavar of its value or "" for a flag, help)
COMMON_OPTIONS = (
    ("deadlock", "", "report a reachable state with no successor as a violation"),
    ("max-states", "N", "stop (incomplete) rather than hold more than N distinct states"),
    ("max-depth", "N", "do not expand states deeper than N (1 = the initial states)"),
    ("invariant", "NAME", "check only this invariant (repeatable; default: all)"),
    ("all", "", "explore everything and report every property's shortest counterexample"),
    ("save", "FILE", "write the first counterexample to FILE as a scenario script (systems that support it)"),
)


def register_system(name, summary, factory, options=(), saves=False):
    """Register an explorable system for ``python -m fttoolkit explore NAME``.

    Parameters
    ----------
    name : str
        The system's name on the command line.
    summary : str
        One line saying what it is.
    factory : callable
        ``factory(**options) -> Spec``; raise ``BadParameter`` for a bad value.
    options : iterable of Option
        Its options with their defaults.
    saves : bool
        Whether its specs can write a counterexample as a scenario script
        (``spec.scenario_script(counterexample) -> str``), for ``--save FILE``.

    Returns
    -------
    System

    Examples
    --------
    >>> class One(Spec):
    ...     def initial_states(self):
    ...         return [1]
    ...     def next_states(self, state):
    ...         return []
    >>> system = register_system("doctest-one", "a single state", lambda: One())
    >>> system.factory().initial_states()
    [1]
    >>> del SYSTEMS["doctest-one"]

    Notes
    -----
    A registry of named configurations, like TLC's model files (``.cfg``)
    naming a specification and its constants (Lamport, *Specifying Systems*,
    2002, §14.2).
    """
    system = System(name, summary, factory, tuple(options), saves)
    SYSTEMS[name] = system
    return system


def systems():
    """Return the registered systems (name -> System), importing :data:`SYSTEM_MODULES` first."""
    for module in SYSTEM_MODULES:
        importlib.import_module(module)
    return dict(sorted(SYSTEMS.items()))


def _option_lines(system):
    lines = []
    for opt in system.options:
        value = "" if opt.type is bool else " NAME" if opt.type is str else " N"
        default = "" if opt.multiple or opt.type is bool or opt.default in ("", None) else f" (default {opt.default})"
        lines.append(f"      --{opt.name}{value}  {opt.help}{default}")
    return lines


def common_options_text():
    """The options every system takes, for help texts."""
    return "\n".join(f"  --{name}{' ' + metavar if metavar else ''}  {text}" for name, metavar, text in COMMON_OPTIONS)


def systems_text():
    """The systems and their options, for help texts."""
    lines = []
    for name, system in systems().items():
        lines.append(f"  {name:<12}  {system.summary}")
        lines.extend(_option_lines(system))
    return "\n".join(lines)


def system_for(name):
    """Return the registered system ``name``; raise ``BadParameter`` listing the known ones."""
    known = systems()
    if name not in known:
        raise BadParameter(f"unknown system {name!r}; systems: {', '.join(known)}")
    return known[name]


def _convert(opt, text):
    if opt.type is int:
        try:
            value = int(text)
        except ValueError:
            raise BadParameter(f"--{opt.name} takes a whole number; got {text!r}") from None
    else:
        value = text
    if opt.choices is not None and value not in opt.choices:
        raise BadParameter(f"--{opt.name} must be one of {', '.join(map(str, opt.choices))}; got {text!r}")
    return value


def parse_options(system, tokens):
    """Parse ``--OPTION VALUE`` tokens for ``system``.

    Returns ``(factory_keywords, common)`` where ``common`` holds the
    exploration options (``deadlock``, ``max_states``, ``max_depth``,
    ``invariant``, ``all``, ``save``).
    """
    own = {opt.name: opt for opt in system.options}
    common_takes = {name: bool(metavar) for name, metavar, _ in COMMON_OPTIONS}
    allowed = sorted([f"--{n}" for n in own] + [f"--{n}" for n in common_takes])
    values = {opt.keyword: (() if opt.multiple else opt.default) for opt in system.options}
    common = {"deadlock": False, "max_states": None, "max_depth": None, "invariant": None, "all": False,
              "save": None}
    tokens = list(tokens)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, _, inline = token[2:].partition("=") if token.startswith("--") else (None, "", "")
        if name not in own and name not in common_takes:
            what = f"option {token!r}" if token.startswith("-") else f"argument {token!r}"
            raise BadParameter(f"unknown {what} for {system.name}; options: {', '.join(allowed)}")
        opt = own.get(name)
        takes = common_takes[name] if opt is None else opt.type is not bool
        if takes and not inline:
            if i + 1 >= len(tokens):
                raise BadParameter(f"--{name} needs a value")
            inline = tokens[i + 1]
            i += 1
        elif not takes and inline:
            raise BadParameter(f"--{name} takes no value")
        i += 1
        if opt is None:
            if name in ("max-states", "max-depth"):
                common[name.replace("-", "_")] = _convert(Option(name, None, "", int), inline)
            elif name == "invariant":
                common["invariant"] = (common["invariant"] or ()) + (inline,)
            elif name == "save":
                common["save"] = inline
            else:
                common[name] = True
        elif opt.type is bool:
            values[opt.keyword] = True
        elif opt.multiple:
            values[opt.keyword] = values[opt.keyword] + (_convert(opt, inline),)
        else:
            values[opt.keyword] = _convert(opt, inline)
    return values, common


def run_cli(system_name, tokens, write=print):
    """Run ``explore SYSTEM [--OPTION VALUE ...]``: print the figures and violations; return the exit status.

    Prints ``distinct states: N``, ``states generated: M``, ``depth: D``,
    then each violation with its numbered steps.  Returns 0 when no property
    failed, 1 otherwise; a bad system or option raises ``BadParameter``.

    Examples
    --------
    >>> run_cli("tcommit", ["--rm", "2"])
    distinct states: 12
    states generated: 23
    depth: 5
    0
    """
    system = system_for(system_name)
    if "--help" in tokens or "-h" in tokens:
        write(f"explore {system.name}: {system.summary}")
        for line in _option_lines(system):
            write(line)
        for line in common_options_text().splitlines():
            write("    " + line)
        return 0
    values, common = parse_options(system, tokens)
    if common["save"] and not system.saves:
        able = [n for n, s in systems().items() if s.saves]
        raise BadParameter(f"{system.name} cannot save a counterexample as a scenario script"
                           + (f"; systems that can: {', '.join(able)}" if able else ""))
    spec = system.factory(**values)
    saver = getattr(spec, "scenario_script", None)
    result = explore(spec, check_deadlock=common["deadlock"], max_states=common["max_states"],
                     max_depth=common["max_depth"], stop_at_first=not common["all"],
                     invariants=common["invariant"])
    for line in result.summary_lines():
        write(line)
    for violation in result.violations:
        for line in violation.lines(spec.describe):
            write(line)
    if common["save"] and result.violations:
        text = saver(result.violations[0])
        try:
            with open(common["save"], "w", encoding="utf-8") as fp:
                fp.write(text)
        except OSError as exc:
            raise BadParameter(f"cannot write {common['save']!r}: {exc.strerror}") from None
        write(f"saved to {common['save']}")
    return 1 if result.violations else 0
