"""Is a history linearizable?  Wing & Gong's search with Lowe's memoisation.

A history (a list of :class:`~fttoolkit.core.history.Operation`) is
*linearizable* if every operation can be given a single instant, inside its
own interval from invocation to response, such that the operations, taken
one at a time in the order of those instants, are a legal run of the
sequential object (a register, a key-value map) and give exactly the answers
the clients saw.  :func:`check` decides it; :func:`read_history` reads the
two Jepsen formats (key-value maps as EDN maps, one per line, and etcd's
register logs).

Examples
--------
A write of 1, then a long write of 2; a read sees 2, and a later read sees 1
again: once 2 has been read, 1 cannot come back.

>>> from fttoolkit.core.history import Operation as Op
>>> h = [Op("a", "write", None, 1, None, 0, 1),
...      Op("b", "write", None, 2, None, 2, 9),
...      Op("c", "read", None, None, 2, 3, 4),
...      Op("a", "read", None, None, 1, 5, 6)]
>>> result = check(h, model="register")
>>> result.verdict
'not linearizable'
>>> print(result.explain())
not linearizable: these 4 operations have no linearization.
The longest linearizable prefix found orders 3 of them; none of the others can come next: read→1 by a at 5..6
>>> check(h[:3], model="register").order[None][-2:] == [h[1], h[2]]
True

Notes
-----
The definition is Herlihy & Wing's ("Linearizability: a correctness
condition for concurrent objects", 1990).  The search is Wing & Gong's
("Testing and verifying concurrent objects", 1993): walk the invocations and
responses in time order; an operation whose invocation comes before the
first pending response may be linearized next if the sequential object
accepts it; at a response whose operation is not linearized yet, undo the
last choice and try the next one.  Lowe ("Testing for linearizability",
2017) added memoisation: the pair (set of operations linearized so far,
state of the object) determines the rest of the search, so a pair already
seen is not explored again.  The history of a key-value map splits into one
independent history per key (Herlihy & Wing's locality; Horn & Kroening,
"Faster linearizability checking via P-compositionality", 2015), and the
parts are checked smallest first.  The representation follows Athalye's
porcupine (2017): the events in a doubly linked list, an operation *lifted*
out of the list when linearized and put back when undone, the linearized set
as an integer bitset.

One pruning is added: an operation that cannot change the state (a read, a
failed compare-and-set) and is legal at the current point is taken there,
and if that fails, so does the current point.  For if any linearization
extends the current prefix, moving that operation to the front of the rest
gives another: it reads the same state, leaves it alone for the others, and
real time allows it because every pending response is later than its
invocation (otherwise the search would not have reached it).

An operation that never returned (``ret`` is ``None``, Jepsen's ``:info``)
may take effect at any instant after its invocation, or never: its response
is placed after every other event and its output is not constrained.  A read
that never returned changes nothing and constrains nothing, so it is left
out before the search.  Two events at the same time count as concurrent (an
invocation sorts before a response at the same time), so that integer
simulated ticks never make a correct history look wrong.

The search takes exponential time in the worst case (the problem is
NP-complete: Gibbons & Korach, "Testing shared memories", 1997).  The check
answers ``"unknown"`` rather than exhausting memory when it has remembered
``max_states`` pairs (:data:`MAX_STATES` by default), or after ``timeout_s``
seconds: that is the only place the wall clock is read, and it can only turn
a verdict into ``"unknown"``.
"""

import re
import time
from dataclasses import dataclass, field

from ..core.errors import BadParameter, FtError
from ..core.history import Operation

__all__ = ["check", "read_history", "parse_history", "Model", "MODELS", "REGISTER", "KV",
           "LinearizabilityResult", "VERDICTS", "MAX_STATES", "describe_operation"]

#: The three possible answers.
VERDICTS = ("linearizable", "not linearizable", "unknown")

_ILLEGAL = object()          # what a stepper returns when the object cannot give the recorded output
_CHECK_CLOCK_EVERY = 4096    # search steps between two looks at the clock

#: Default bound on the (linearized set, state) pairs remembered while searching one part: about
#: 200 bytes each, so a few hundred megabytes at most before the answer becomes ``"unknown"``.
MAX_STATES = 2_000_000


@dataclass(frozen=True)
class Model:
    """A sequential object: its initial state, its operations, and how its history splits.

    Parameters
    ----------
    name : str
    init : object
        The initial state (hashable: states are remembered in a set).
    kinds : tuple of str
        The operation kinds it understands.
    step : callable
        ``step(state, op) -> (ok, new_state)``: apply ``op`` to ``state``;
        ``ok`` is False if the object cannot answer ``op.output``.  An
        operation that never returned (``op.ret is None``) has no output to
        match.
    part_of : callable
        ``part_of(op) -> key`` of the independent part ``op`` belongs to
        (``None`` for an object that does not split).
    compile : callable, optional
        ``compile(op) -> f`` with ``f(state)`` the new state, or the module's
        illegal marker; a faster form of ``step`` used by the search.
    observes : callable, optional
        ``observes(op) -> bool``: True if ``op`` can never change the state
        when it gives its recorded answer (a read, a failed compare-and-set).
        The search takes such an operation as soon as it is legal and tries
        nothing else at that point (see the module's notes).  Default: none.

    Examples
    --------
    >>> from fttoolkit.core.history import Operation as Op
    >>> REGISTER.step(3, Op("a", "cas", None, (3, 4), True, 0, 1))
    (True, 4)
    >>> KV.step("ab", Op("a", "get", "k", None, "a", 0, 1))
    (False, 'ab')
    """

    name: str
    init: object
    kinds: tuple
    step: object
    part_of: object
    compile: object = None
    observes: object = None

    def read_only(self, op):
        """True if ``op`` answered something that it cannot have changed the state to give."""
        return self.observes is not None and bool(self.observes(op))

    def stepper(self, op):
        """Return ``f(state)``: the next state after ``op``, or the illegal marker."""
        if self.compile is not None:
            return self.compile(op)
        step = self.step

        def generic(state):
            ok, new = step(state, op)
            return new if ok else _ILLEGAL
        return generic


def _register_step(state, op):
    if op.kind == "write":
        return True, op.value
    if op.kind == "read":
        return (op.ret is None or op.output == state), state
    old, new = op.value
    if state == old:
        return (op.ret is None or op.output is True), new
    return (op.ret is None or op.output is False), state


def _register_compile(op):
    kind, value, output = op.kind, op.value, op.output
    if kind == "write":
        return lambda s: value
    if kind == "read":
        if op.ret is None:
            return lambda s: s
        return lambda s: s if s == output else _ILLEGAL
    old, new = value
    if op.ret is None:
        return lambda s: new if s == old else s
    if output is True:
        return lambda s: new if s == old else _ILLEGAL
    return lambda s: _ILLEGAL if s == old else s


def _kv_step(state, op):
    if op.kind == "put":
        return True, op.value
    if op.kind == "append":
        return True, state + op.value
    return (op.ret is None or op.output == state), state


def _kv_compile(op):
    kind, value, output = op.kind, op.value, op.output
    if kind == "put":
        return lambda s: value
    if kind == "append":
        return lambda s: s + value
    if op.ret is None:
        return lambda s: s
    return lambda s: s if s == output else _ILLEGAL


#: A single register: ``read``, ``write`` and ``cas`` (value ``(old, new)``,
#: output ``True`` if it swapped); it starts as ``None`` (Jepsen's ``nil``).
REGISTER = Model("register", None, ("read", "write", "cas"), _register_step, lambda op: None,
                 _register_compile,
                 lambda op: op.ret is not None and (op.kind == "read" or (op.kind == "cas" and op.output is False)))
#: A key-value map of strings: ``get``, ``put`` and ``append``; a missing key
#: reads as ``""``.  Each key is an independent register-like part.
KV = Model("kv", "", ("get", "put", "append"), _kv_step, lambda op: op.key, _kv_compile,
           lambda op: op.kind == "get" and op.ret is not None)
#: Models by name, for :func:`check`'s ``model`` argument.
MODELS = {"register": REGISTER, "kv": KV}

_READS = ("read", "get")


def describe_operation(op):
    """A short label for ``op``: ``put(x,1)``, ``get(x)→1``, ``cas(1,2)→false``, ``write(3)``.

    An operation that never returned ends in ``→?`` if it has an output.

    Examples
    --------
    >>> from fttoolkit.core.history import Operation as Op
    >>> describe_operation(Op(1, "get", "x", None, "1 2", 0, 1))
    "get(x)→'1 2'"
    >>> describe_operation(Op(1, "cas", None, (1, 2), None, 0, None))
    'cas(1,2)→?'
    """
    key = "" if op.key is None else _short(op.key, quote=False)
    if op.kind in ("read", "get"):
        label = f"{op.kind}({key})" if key or op.kind == "get" else "read"
    elif op.kind == "cas":
        old, new = op.value
        label = f"cas({_short(old)},{_short(new)})"
    else:
        label = f"{op.kind}({key + ',' if key else ''}{_short(op.value)})"
    if op.kind in ("read", "get", "cas"):
        if op.ret is None:
            label += "→?"
        elif op.kind == "cas":
            label += "→" + ("true" if op.output else "false")
        else:
            label += "→" + _short(op.output)
    return label


def _short(value, quote=True):
    if value is None:
        return "nil"
    text = repr(value) if (quote and isinstance(value, str)) else str(value)
    return text if len(text) <= 24 else text[:21] + "..."


@dataclass
class LinearizabilityResult:
    """What :func:`check` found.

    Attributes
    ----------
    verdict : str
        ``"linearizable"``, ``"not linearizable"`` or ``"unknown"``.
    model : str
        The model's name.
    parts : int
        Number of independent parts (keys) in the history.
    checked : int
        Parts whose search finished.
    operations : int
        Operations in the history.
    order : dict or None
        When linearizable: part key -> operations in a linearization order
        (key ``None`` for a register).  Operations that never returned appear
        only if they took effect; reads that never returned never appear.
    failing : list of Operation or None
        When not linearizable: the operations of the smallest part that has
        no linearization, in invocation order.
    failing_key : object
        That part's key (``None`` for a register).
    partial : list of Operation or None
        When not linearizable: the longest linearizable prefix the search
        found in the failing part, in order.
    stuck : list of Operation or None
        When not linearizable: the failing part's operations outside
        ``partial`` that had already been invoked when the first of them
        returned (none of them could come next).
    steps : int
        Search steps taken (a measure of work that does not depend on the machine).
    states : int
        (linearized set, state) pairs remembered, summed over the parts searched.
    limit : str or None
        When unknown: which limit stopped the search.
    """

    verdict: str
    model: str
    parts: int
    checked: int
    operations: int
    order: dict = None
    failing: list = None
    failing_key: object = None
    partial: list = None
    stuck: list = None
    steps: int = 0
    states: int = 0
    limit: str = None
    unknown_key: object = field(default=None, repr=False)

    @property
    def ok(self):
        """True if the verdict is ``"linearizable"``."""
        return self.verdict == "linearizable"

    def explain(self):
        """A short explanation in English (a few lines at most)."""
        split = self.model != "register"
        if self.verdict == "linearizable":
            if not self.operations:
                return "linearizable: the history is empty"
            where = f" in {self.parts} independent part{'s' * (self.parts != 1)} (one per key)" if split else ""
            return (f"linearizable: the {self.operations} operations{where} can be put in an order that "
                    f"respects real time and the {self.model} model")
        if self.verdict == "unknown":
            where = f" on key {self.unknown_key!r}" if split else ""
            return (f"unknown: {self.limit} reached during the search{where} "
                    f"({self.checked} of {self.parts} parts checked, {self.steps} steps)")
        what = f"the {len(self.failing)} operations on key {self.failing_key!r}" if split else \
            f"these {len(self.failing)} operations"
        text = (f"not linearizable: {what} have no linearization.\n"
                f"The longest linearizable prefix found orders {len(self.partial)} of them")
        if self.stuck:
            shown = ", ".join(_at(op) for op in self.stuck[:3]) + (", ..." if len(self.stuck) > 3 else "")
            text += f"; none of the others can come next: {shown}"
        return text


def _at(op):
    end = "∞" if op.ret is None else op.ret
    return f"{describe_operation(op)} by {op.client} at {op.call}..{end}"


def check(history, model="kv", timeout_s=None, max_steps=None, max_states=MAX_STATES):
    """Decide whether ``history`` is linearizable with respect to ``model``.

    Parameters
    ----------
    history : iterable of Operation
    model : {"kv", "register"} or Model
    timeout_s : float, optional
        Give up after this many seconds of searching and answer ``"unknown"``.
    max_steps : int, optional
        Give up after this many search steps (a limit that does not depend
        on the machine).
    max_states : int or None
        Give up when the search of one part remembers this many
        (linearized set, state) pairs (default :data:`MAX_STATES`), so that
        a hard history answers ``"unknown"`` instead of exhausting memory.

    Returns
    -------
    LinearizabilityResult

    Raises
    ------
    BadParameter
        If ``history`` holds something other than operations of the model's
        kinds, or a limit is not positive.

    Examples
    --------
    >>> from fttoolkit.core.history import Operation as Op
    >>> h = [Op(1, "put", "x", "a", None, 0, 2), Op(2, "get", "x", None, "", 1, 3),
    ...      Op(2, "append", "y", "b", None, 4, None)]
    >>> r = check(h, model="kv")
    >>> r.verdict, r.parts, [describe_operation(op) for op in r.order["x"]]
    ('linearizable', 2, ["get(x)→''", "put(x,'a')"])

    Notes
    -----
    Wing & Gong 1993 with Lowe's memoisation (Lowe, "Testing for
    linearizability", 2017), as in Athalye's porcupine; see the module's
    notes.
    """
    model = _model(model)
    ops = _operations(history, model)
    if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise BadParameter(f"timeout_s must be a number of seconds > 0, or None; got {timeout_s!r}")
    if max_steps is not None and not (isinstance(max_steps, int) and max_steps > 0):
        raise BadParameter(f"max_steps must be a whole number > 0, or None; got {max_steps!r}")
    if max_states is not None and not (isinstance(max_states, int) and max_states > 0):
        raise BadParameter(f"max_states must be a whole number > 0, or None; got {max_states!r}")
    parts = {}
    for op in ops:
        parts.setdefault(model.part_of(op), []).append(op)
    keys = sorted(parts, key=lambda k: (len(parts[k]), _sort_key(k)))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    order, steps, states = {}, 0, 0
    for done, key in enumerate(keys):
        budget = None if max_steps is None else max_steps - steps
        outcome, ids, used, remembered = _search(parts[key], model, deadline, budget, max_states)
        steps += used
        states += remembered
        part = parts[key]
        if outcome is False:
            partial = [part[i] for i in ids]
            return LinearizabilityResult("not linearizable", model.name, len(parts), done + 1, len(ops),
                                         failing=list(part), failing_key=key, partial=partial,
                                         stuck=_stuck(part, partial), steps=steps, states=states)
        if outcome is None:
            limit = {"time": lambda: f"the time limit of {timeout_s:g} s",
                     "steps": lambda: f"the limit of {max_steps} step{'s' * (max_steps != 1)}",
                     "states": lambda: f"the limit of {max_states} remembered states"}[ids]()
            return LinearizabilityResult("unknown", model.name, len(parts), done, len(ops), steps=steps,
                                         states=states, limit=limit, unknown_key=key)
        order[key] = [part[i] for i in ids]
    return LinearizabilityResult("linearizable", model.name, len(parts), len(parts), len(ops), order=order,
                                 steps=steps, states=states)


def _sort_key(key):
    return (type(key).__name__, str(key))


def _model(model):
    if isinstance(model, Model):
        return model
    if isinstance(model, str) and model in MODELS:
        return MODELS[model]
    raise BadParameter(f"unknown model {model!r}; allowed: {', '.join(sorted(MODELS))} or a Model")


def _operations(history, model):
    """The operations to search, in invocation order; reads that never returned are left out."""
    if isinstance(history, (str, bytes)) or not hasattr(history, "__iter__"):
        raise BadParameter(f"history must be a list of Operation; got {type(history).__name__}")
    ops = []
    for position, op in enumerate(history):
        if not isinstance(op, Operation):
            raise BadParameter(f"history[{position}] is a {type(op).__name__}, not an Operation")
        if op.kind not in model.kinds:
            raise BadParameter(f"history[{position}] is a {op.kind!r}; the {model.name} model has "
                               f"{', '.join(model.kinds)}")
        if op.kind == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            raise BadParameter(f"history[{position}]: a cas needs the value (old, new); got {op.value!r}")
        if op.kind == "append" and model is KV and not isinstance(op.value, str):
            raise BadParameter(f"history[{position}]: the kv model appends strings; got {op.value!r}")
        if op.ret is None and op.kind in _READS:
            continue
        ops.append((op.order(), _tie_break(op), position, op))
    ops.sort(key=lambda t: t[:3])
    return [op for *_, op in ops]


def _tie_break(op):
    """Order operations invoked at the same time by the same client whatever the input order."""
    return (op.ret is None, op.ret or 0, op.kind, repr(op.key), repr(op.value), repr(op.output))


def _stuck(part, partial):
    """The operations not in ``partial`` invoked before the first of them returned."""
    done = set(map(id, partial))
    rest = [op for op in part if id(op) not in done]
    first_return = min((op.ret for op in rest if op.ret is not None), default=None)
    if first_return is None:
        return rest
    return [op for op in rest if op.call <= first_return]


def _search(ops, model, deadline, budget, max_states):
    """Search for a linearization of ``ops`` (sorted by invocation).

    Returns ``(True, order, steps, states)`` with the indices of ``ops`` in a
    linearization order, ``(False, longest, steps, states)`` with the longest
    linearizable prefix found, or ``(None, "time" | "steps" | "states",
    steps, states)``.
    """
    n = len(ops)
    completed = [op.ret is not None for op in ops]
    need = sum(completed)
    if need == 0:
        return True, [], 0, 0
    # The events in time order; an invocation before a response at the same time,
    # responses that never came after everything.
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        events.append((op.ret, 1, i) if op.ret is not None else (float("inf"), 1, i))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    size = 2 * n + 2                 # entries 1..2n, head 0, tail 2n+1
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))
    match = [0] * size               # call entry -> its response entry; 0 for a response
    opid = [0] * size
    response_at = [0] * n
    for position, (_, kind, i) in enumerate(events, start=1):
        opid[position] = i
        if kind:
            response_at[i] = position
    for position, (_, kind, i) in enumerate(events, start=1):
        if not kind:
            match[position] = response_at[i]
    steppers = [model.stepper(op) for op in ops]
    pure = [model.read_only(op) for op in ops]
    any_pure = any(pure)
    bits = [1 << i for i in range(n)]
    seen = set()
    stack = []                       # (call entry, state before it)
    longest = []
    state, linearized, done, steps = model.init, 0, 0, 0
    entry = nxt[0]
    while True:
        steps += 1
        if not steps % _CHECK_CLOCK_EVERY:
            if deadline is not None and time.monotonic() > deadline:
                return None, "time", steps, len(seen)
            if max_states is not None and len(seen) >= max_states:
                return None, "states", steps, len(seen)
        if budget is not None and steps > budget:
            return None, "steps", steps - 1, len(seen)
        response = match[entry]
        if response:                 # an invocation: try to linearize its operation now
            i = opid[entry]
            new = steppers[i](state)
            if new is _ILLEGAL:
                entry = nxt[entry]
                continue
            key = (linearized | bits[i], new)
            if key not in seen:
                seen.add(key)
                stack.append((entry, state))
                state, linearized = new, key[0]
                before, after = prv[entry], nxt[entry]         # lift the call ...
                nxt[before], prv[after] = after, before
                before, after = prv[response], nxt[response]   # ... and its response
                nxt[before], prv[after] = after, before
                if completed[i]:
                    done += 1
                    if done == need:
                        return True, [opid[e] for e, _ in stack], steps, len(seen)
                entry = nxt[0]
                if any_pure:        # a legal read-only operation, if any, is the one to try first
                    e = entry
                    while match[e]:
                        j = opid[e]
                        if pure[j] and steppers[j](state) is not _ILLEGAL:
                            entry = e
                            break
                        e = nxt[e]
                continue
            if not pure[i]:
                entry = nxt[entry]
                continue
            # a legal read whose sequel was already refuted: this configuration fails too
        # A response whose operation is not linearized: undo the last choice.  A read-only
        # operation taken where it was legal was the only choice worth trying there: undo further.
        if len(stack) > len(longest):
            longest = [opid[e] for e, _ in stack]
        while True:
            if not stack:
                return False, longest, steps, len(seen)
            entry, state = stack.pop()
            i = opid[entry]
            linearized ^= bits[i]
            if completed[i]:
                done -= 1
            response = match[entry]
            nxt[prv[response]] = response                     # unlift the response ...
            prv[nxt[response]] = response
            nxt[prv[entry]] = entry                           # ... and the call
            prv[nxt[entry]] = entry
            if not pure[i]:
                break
        entry = nxt[entry]


# ---------------------------------------------------------------------------------------------
# Reading Jepsen histories


_JEPSEN_LINE = re.compile(r"^\S+\s+jepsen\.util\s+-\s+(\S+)\s+(:\S+)\s+(:\S+)\s*(.*?)\s*$")
_TOKEN = re.compile(r'\s*(?:(?P<open>[{\[(])|(?P<close>[}\])])|(?P<str>"(?:[^"\\]|\\.)*")|'
                    r'(?P<atom>[^\s,{}\[\]()"]+))\s*,?')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


class _ParseError(Exception):
    pass


def read_history(path):
    """Read a Jepsen history file; return ``(model, operations)``.

    Two formats are recognised from their content:

    * one EDN map per line, ``{:process 0, :type :invoke, :f :append, :key "0",
      :value "x 0 0 y"}``, with ``:f`` one of ``:get``, ``:put``, ``:append``
      -> model ``"kv"``;
    * Jepsen's log of an etcd register, ``INFO  jepsen.util - 2	:invoke	:cas	[3 0]``,
      with ``:read``, ``:write`` and ``:cas`` -> model ``"register"``.

    An empty file is a register history if its name ends in ``.log``, a
    key-value one otherwise.  Times are line numbers.

    Raises
    ------
    fttoolkit.core.errors.FtError
        If the file cannot be read, or a line is malformed (the message names
        the file and the line).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as fp:
    ...     _ = fp.write("INFO  jepsen.util - 0\\t:invoke\\t:cas\\t[1 2]\\n"
    ...                  "INFO  jepsen.util - 0\\t:fail\\t:cas\\t[1 2]\\n")
    >>> read_history(fp.name)
    ('register', [Operation(client=0, kind='cas', key=None, value=(1, 2), output=False, call=1, ret=2)])
    >>> os.remove(fp.name)
    """
    try:
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
    except OSError as exc:
        raise FtError(f"cannot read the history {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise FtError(f"cannot read the history {str(path)!r}: it is not UTF-8 text") from None
    return parse_history(text, name=str(path))


def parse_history(text, name="<history>"):
    """Parse the text of a Jepsen history (see :func:`read_history`); return ``(model, operations)``.

    Notes
    -----
    ``:info`` (the client does not know whether the operation happened)
    becomes an operation that never returned; an invocation still open at
    the end of the file too.  ``:fail`` means that the operation did not take
    effect: it is dropped, except for a ``:cas``, whose ``:fail`` in Jepsen's
    etcd test means "the comparison failed" (an answer, as porcupine reads
    it): a completed ``cas`` with output ``False``.

    Examples
    --------
    >>> parse_history('{:process 1, :type :invoke, :f :get, :key "k", :value nil}\\n'
    ...               '{:process 1, :type :ok, :f :get, :key "k", :value "ab"}\\n')
    ('kv', [Operation(client=1, kind='get', key='k', value=None, output='ab', call=1, ret=2)])
    """
    lines = text.splitlines()
    first = next((line.strip() for line in lines if line.strip()), None)
    if first is None:
        return ("register" if name.endswith(".log") else "kv"), []
    if first.startswith("{"):
        model, events = "kv", _kv_events(lines, name)
    elif _JEPSEN_LINE.match(first):
        model, events = "register", _jepsen_events(lines, name)
    else:
        raise FtError(f"{name}, line {_first_line(lines)}: not a Jepsen history: expected an EDN map "
                      f"{{:process ..., :type ..., :f ...}} or a line 'INFO jepsen.util - PROCESS :TYPE :F VALUE'")
    return model, _pair(events, name)


def _first_line(lines):
    return next(n for n, line in enumerate(lines, start=1) if line.strip())


def _kv_events(lines, name):
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = _edn(line)
            if not isinstance(record, dict):
                raise _ParseError("expected a map {...}")
            for field_ in (":process", ":type", ":f"):
                if field_ not in record:
                    raise _ParseError(f"the map has no {field_}")
            kind = record[":f"][1:] if isinstance(record[":f"], str) else None
            if kind not in KV.kinds:
                raise _ParseError(f"unknown :f {record[':f']!r}; allowed :get, :put, :append")
            key = record.get(":key")
            if isinstance(key, list):
                key = tuple(key)
            events.append((number, record[":process"], record[":type"], kind, key, record.get(":value")))
        except _ParseError as exc:
            raise FtError(f"{name}, line {number}: {exc}: {line.strip()[:80]}") from None
    return events


def _jepsen_events(lines, name):
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        found = _JEPSEN_LINE.match(line.strip())
        try:
            if not found:
                raise _ParseError("expected 'INFO jepsen.util - PROCESS :TYPE :F VALUE'")
            process, type_, f, value = found.groups()
            process = _atom(process)
            kind = f[1:]
            if kind not in REGISTER.kinds:
                raise _ParseError(f"unknown operation {f}; allowed :read, :write, :cas")
            value = _edn(value) if value else None
            if isinstance(value, list):
                value = tuple(value)
            events.append((number, process, type_, kind, None, value))
        except _ParseError as exc:
            raise FtError(f"{name}, line {number}: {exc}: {line.strip()[:80]}") from None
    return events


def _pair(events, name):
    """Match each completion with its client's invocation; return the operations."""
    open_ = {}
    ops = []
    for number, process, type_, kind, key, value in events:
        where = f"{name}, line {number}"
        if type_ == ":invoke":
            if process in open_:
                raise FtError(f"{where}: process {process} invokes {kind} while its {open_[process][1]} "
                              f"from line {open_[process][0]} is still open")
            if kind == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise FtError(f"{where}: a cas needs [old new]; got {value!r}")
            open_[process] = (number, kind, key, value)
            continue
        if type_ not in (":ok", ":fail", ":info"):
            raise FtError(f"{where}: unknown :type {type_}; allowed :invoke, :ok, :fail, :info")
        if process not in open_:
            raise FtError(f"{where}: process {process} completes a {kind} it never invoked")
        call, kind_, key_, argument = open_.pop(process)
        if (kind_, key_) != (kind, key):
            raise FtError(f"{where}: process {process} completes {kind} but invoked {kind_} "
                          f"on line {call}")
        if type_ == ":info":
            ops.append(Operation(process, kind, key, argument, None, call, None))
        elif type_ == ":fail":
            if kind == "cas":
                ops.append(Operation(process, kind, key, argument, False, call, number))
        else:
            output = {"read": value, "get": value, "cas": True}.get(kind)
            ops.append(Operation(process, kind, key, argument, output, call, number))
    for process, (call, kind, key, argument) in open_.items():
        ops.append(Operation(process, kind, key, argument, None, call, None))
    ops.sort(key=Operation.order)
    return ops


def _edn(text):
    """Parse one EDN value made of maps, vectors, lists, strings, numbers, keywords, nil, true, false."""
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _TOKEN.finditer(text)]
    if "".join(m.group(0) for m in _TOKEN.finditer(text)).strip() != text.strip():
        raise _ParseError("unreadable characters")
    value, rest = _edn_value(tokens, 0)
    if rest != len(tokens):
        raise _ParseError("unexpected text after the value")
    return value


def _edn_value(tokens, at):
    if at >= len(tokens):
        raise _ParseError("unexpected end of line")
    kind, text = tokens[at]
    if kind == "str":
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1]), at + 1
    if kind == "atom":
        return _atom(text), at + 1
    if kind == "close":
        raise _ParseError(f"unexpected {text!r}")
    closing = {"{": "}", "[": "]", "(": ")"}[text]
    items, at = [], at + 1
    while True:
        if at >= len(tokens):
            raise _ParseError(f"{text!r} is never closed")
        if tokens[at] == ("close", closing):
            break
        item, at = _edn_value(tokens, at)
        items.append(item)
    at += 1
    if text != "{":
        return items, at
    if len(items) % 2:
        raise _ParseError("a map needs an even number of items")
    try:
        return dict(zip(items[::2], items[1::2])), at
    except TypeError:
        raise _ParseError("a map key must be a keyword, a string or a number") from None


def _atom(text):
    if text == "nil":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.startswith(":"):
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise _ParseError(f"cannot read {text!r}") from None
