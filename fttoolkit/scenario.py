"""Scenario scripts: a run written down as text, one command per line.

A script can be written by hand, saved from any run (manual choices
included) with :func:`to_script`, and loaded back with :func:`replay`.  It
reads like a lab notebook::

    # Two nodes cannot hear each other until the partition heals.
    algorithm broadcast
    nodes 4
    seed 7
    network delay=5..15 loss=0.1

    partition n1,n2 | n3,n4
    broadcast n1 hello
    run 300
    # n3 and n4 have not heard anything yet.
    heal
    run

Header lines (before the first command): ``algorithm NAME``, ``nodes N`` or
``nodes ID ID ...``, ``links A-B A-C ...`` (a topology other than the complete
graph), ``seed S``, ``bugs NAME ...``, ``param KEY=VALUE ...``, ``network
KEY=VALUE ...``, ``expect INVARIANT, ...`` (a script that demonstrates a
known violation, such as three-phase commit under a partition: the fuzzer's
seed corpus does not count it as a finding).

Commands: ``run [TICK]``, ``tick N``, ``step [N]``, ``deliver MSG [hold]``,
``drop MSG``, ``duplicate MSG``, ``fire TIMER [hold]``, ``execute NODE``,
``crash NODE [tear=K] [after=K] [skip=K] [disk]``, ``restart NODE``,
``partition A,B | C,D [oneway]``, ``heal``, ``clog A B``, ``unclog A B``,
``link A B KEY=VALUE ...``, ``network KEY=VALUE ...``, ``clock NODE RATE``,
``request NODE [as CLIENT] Message(...)``, ``faults KEY=VALUE ...`` (random
faults), ``check liveness`` (evaluate the liveness checks now), the
algorithm's own commands (``broadcast NODE VALUE``), and ``at TICK COMMAND``
to schedule one for later.  ``#`` lines are narration.

In the spirit of etcd raft's data-driven tests, a command may be followed by
its expected transcript: a line ``----``, then the events it produced, one per
line, up to a blank line.  :func:`replay` compares them (``rewrite=True``
writes them instead).
"""

import ast
import inspect
import re
import sys

from .core.errors import FtError
from .core.messages import Message
from .doors import door_for
from .sim.faults import FaultPlan
from .sim.network import DEFAULT_DELAY
from .sim.simulation import Simulation

__all__ = ["Script", "Command", "ScriptError", "parse", "replay", "to_script", "Replay"]

SEPARATOR = "----"
HEADER_KEYS = ("algorithm", "nodes", "links", "seed", "bugs", "param", "network", "expect")
_RANGE = re.compile(r"^(\d+)\.\.(\d+)$")


class ScriptError(FtError):
    """A malformed script line, or a command that cannot be carried out; names the line."""


class Command:
    """One command line of a script, with its narration and expected transcript."""

    def __init__(self, line, text, narration=(), expected=None):
        self.line = line
        self.text = text
        self.narration = list(narration)
        self.expected = expected

    @property
    def words(self):
        """The command split on white space."""
        return self.text.split()

    def __repr__(self):
        return f"<line {self.line}: {self.text}>"


class Script:
    """A parsed script: header settings, then commands."""

    def __init__(self, header=None, commands=(), description=(), trailer=()):
        self.header = dict(header or {})
        self.commands = list(commands)
        self.description = list(description)
        self.trailer = list(trailer)

    def render(self):
        """Return the script as text (the inverse of :func:`parse`)."""
        out = [f"# {line}" if line else "#" for line in self.description]
        h = self.header
        out.append(f"algorithm {h['algorithm']}")
        nodes = h.get("nodes", 3)
        out.append(f"nodes {nodes}" if isinstance(nodes, int) else "nodes " + " ".join(nodes))
        if h.get("links") is not None:
            out.append("links " + " ".join(f"{a}-{b}" for a, b in h["links"]))
        out.append(f"seed {h.get('seed', 0)}")
        if h.get("bugs"):
            out.append("bugs " + " ".join(h["bugs"]))
        if h.get("params"):
            out.append("param " + " ".join(f"{k}={_value_text(v)}" for k, v in h["params"].items()))
        if h.get("network"):
            out.append("network " + " ".join(f"{k}={_value_text(v)}" for k, v in h["network"].items()))
        if h.get("expect"):
            out.append("expect " + ", ".join(h["expect"]))
        out.append("")
        for command in self.commands:
            out.extend(f"# {line}" if line else "#" for line in command.narration)
            out.append(command.text)
            if command.expected is not None:
                out.append(SEPARATOR)
                out.extend(command.expected)
                out.append("")
        out.extend(f"# {line}" if line else "#" for line in self.trailer)
        return "\n".join(out).rstrip("\n") + "\n"


# ============================================================================== values
def _value_text(value):
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}..{value[1]}"
    if isinstance(value, str) and value and " " not in value and not _looks_literal(value):
        return value
    return repr(value)


def _looks_literal(text):
    try:
        ast.literal_eval(text)
        return True
    except (ValueError, SyntaxError):
        return False


def _value(text):
    """Parse a value: ``5..15`` is a range; Python literals are literals; anything else a string."""
    match = _RANGE.match(text)
    if match:
        return (int(match.group(1)), int(match.group(2)))
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(words, where):
    """``["loss=0.1", "delay=5..15"]`` -> ``{"loss": 0.1, "delay": (5, 15)}``; ``where`` prefixes errors."""
    out = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise ScriptError(f"{where}expected KEY=VALUE, got {word!r}")
        out[key] = _value(text)
    return out


def _pairs(words, line):
    return parse_assignments(words, f"line {line}: ")


# ================================================================================ parse
def parse(text):
    """Parse a script; raise :class:`ScriptError` naming the line of a malformed one."""
    header = {}
    commands = []
    description = []
    narration = []
    lines = text.splitlines()
    i = 0
    in_header = True
    while i < len(lines):
        number, raw = i + 1, lines[i].rstrip()
        i += 1
        stripped = raw.strip()
        if not stripped:
            if in_header and narration and not header:
                description, narration = narration, []
            continue
        if stripped.startswith("#"):
            narration.append(stripped[1:].strip())
            continue
        if stripped == SEPARATOR:
            raise ScriptError(f"line {number}: '----' must follow a command")
        word, _, rest = stripped.partition(" ")
        if in_header and word in HEADER_KEYS and not (word == "network" and "algorithm" not in header):
            if narration and not header:
                description, narration = narration, []
            _header_line(header, word, rest.split(), number)
            continue
        if in_header:
            if "algorithm" not in header:
                raise ScriptError(f"line {number}: a script starts with 'algorithm NAME' (got {stripped!r})")
            in_header = False
        expected = None
        if i < len(lines) and lines[i].strip() == SEPARATOR:
            expected = []
            i += 1
            while i < len(lines) and lines[i].strip():
                expected.append(lines[i].strip())
                i += 1
        commands.append(Command(number, stripped, narration, expected))
        narration = []
    if "algorithm" not in header:
        raise ScriptError("line 1: a script starts with 'algorithm NAME'")
    return Script(header, commands, description, narration)


def _header_line(header, word, args, line):
    if word == "algorithm":
        if len(args) != 1:
            raise ScriptError(f"line {line}: usage: algorithm NAME")
        try:
            door_for(args[0])
        except FtError as exc:
            raise ScriptError(f"line {line}: {exc}") from None
        header["algorithm"] = args[0]
    elif word == "nodes":
        if len(args) == 1 and args[0].isdigit():
            header["nodes"] = int(args[0])
        elif args:
            header["nodes"] = list(args)
        else:
            raise ScriptError(f"line {line}: usage: nodes N | nodes ID ID ...")
    elif word == "links":
        pairs = []
        for arg in args:
            a, sep, b = arg.partition("-")
            if not sep or not a or not b:
                raise ScriptError(f"line {line}: a link is written A-B; got {arg!r}")
            pairs.append((a, b))
        header["links"] = pairs
    elif word == "seed":
        if len(args) != 1 or not args[0].isdigit():
            raise ScriptError(f"line {line}: usage: seed S (a whole number >= 0)")
        header["seed"] = int(args[0])
    elif word == "bugs":
        header.setdefault("bugs", []).extend(args)
    elif word == "param":
        header.setdefault("params", {}).update(_pairs(args, line))
    elif word == "network":
        header.setdefault("network", {}).update(_pairs(args, line))
    elif word == "expect":
        names = [name.strip() for name in " ".join(args).split(",") if name.strip()]
        if not names:
            raise ScriptError(f"line {line}: usage: expect INVARIANT[, INVARIANT...] (the names before the colon)")
        header.setdefault("expect", []).extend(names)


def _short_name(violation):
    return violation["invariant"].split(":")[0].strip()


# ============================================================================== running
def build(script, check=True, halt=False):
    """Build the front door a script's header describes (nothing has run yet)."""
    import networkx as nx

    h = script.header
    door_class = door_for(h["algorithm"])
    nodes = h.get("nodes", 3)
    if h.get("links") is not None:
        graph = nx.Graph()
        graph.add_nodes_from(nodes if isinstance(nodes, list) else [f"n{i}" for i in range(1, nodes + 1)])
        graph.add_edges_from(h["links"])
        nodes = graph
    kwargs = dict(h.get("params", {}))
    kwargs.update(h.get("network", {}))
    return door_class(nodes=nodes, seed=h.get("seed", 0), bugs=h.get("bugs", []), check=check, halt=halt,
                      **kwargs)


def _messages(door):
    module = sys.modules[door.node_class.__module__]
    return {name: obj for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, Message) and obj is not Message}


def _message(door, text, line):
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ScriptError(f"line {line}: cannot read the message {text.strip()!r}") from None
    known = _messages(door)
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise ScriptError(f"line {line}: a message is written Name(field=value, ...); got {text.strip()!r}")
    cls = known.get(tree.func.id)
    if cls is None:
        raise ScriptError(f"line {line}: unknown message {tree.func.id!r}; {door.name} knows: "
                          f"{', '.join(sorted(known))}")
    try:
        args = [ast.literal_eval(a) for a in tree.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in tree.keywords}
        return cls(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ScriptError(f"line {line}: bad message {text.strip()!r}: {exc}") from None


def _groups(words, line):
    """``n1,n2 | n3`` -> [["n1", "n2"], ["n3"]]."""
    text = " ".join(words)
    groups = []
    for chunk in text.split("|"):
        ids = [p for p in re.split(r"[,\s]+", chunk.strip()) if p]
        if not ids:
            raise ScriptError(f"line {line}: empty group in partition {text!r}")
        groups.append(ids)
    return groups


def _whole(text, what, line):
    if not re.fullmatch(r"\d+", text):
        raise ScriptError(f"line {line}: {what} must be a whole number >= 0; got {text!r}")
    return int(text)


class Replay:
    """The result of replaying a script: the cluster, per-command output and mismatches."""

    def __init__(self, door, script):
        self.door = door
        self.script = script
        self.outputs = []      # (command, [transcript lines])
        self.mismatches = []   # (command, expected lines, actual lines)

    @property
    def violations(self):
        """The invariant violations of the run."""
        return self.door.violations

    @property
    def expected(self):
        """The invariants the script says it breaks (its ``expect`` header line): a demonstration."""
        return list(self.script.header.get("expect", []))

    @property
    def unexpected(self):
        """The violations of invariants the script does not expect to break."""
        return [v for v in self.violations if _short_name(v) not in self.expected]

    @property
    def ok(self):
        """True when every expected transcript matched and the invariants that broke are exactly the
        expected ones (none, for most scripts)."""
        broke = {_short_name(v) for v in self.violations}
        return not self.mismatches and not self.unexpected and set(self.expected) <= broke


def event_line(event):
    """One event as a line of an expected transcript (no sequence number)."""
    return f"t={event.tick} {event.kind} {event.describe()}".rstrip()


def replay(script, check=True, halt=False, door=None):
    """Run a script (text or :class:`Script`); return a :class:`Replay`.

    A command that cannot be carried out raises :class:`ScriptError` with its line.
    """
    if isinstance(script, str):
        script = parse(script)
    door = door or build(script, check=check, halt=halt)
    result = Replay(door, script)
    for command in script.commands:
        if command.narration and any(command.narration):
            door.sim.narrate(" ".join(line for line in command.narration if line))
        first = len(door.trace)
        try:
            run_command(door, command.words, command.line, command.text)
        except ScriptError:
            raise
        except FtError as exc:
            raise ScriptError(f"line {command.line}: {command.text}: {exc}") from None
        lines = [event_line(e) for e in door.trace[first:]]
        result.outputs.append((command, lines))
        if command.expected is not None and command.expected != lines:
            result.mismatches.append((command, command.expected, lines))
    if any(script.trailer):
        door.sim.narrate(" ".join(line for line in script.trailer if line))
    return result


def rewrite(script_text):
    """Return the script with every command's expected transcript written from a replay."""
    script = parse(script_text)
    result = replay(script)
    for command, lines in result.outputs:
        command.expected = lines
    return script.render()


def run_command(door, words, line, text=""):
    """Carry out one script command on a front door."""
    if not words:
        raise ScriptError(f"line {line}: empty command")
    name, args = words[0], words[1:]
    sim = door.sim
    if name == "at":
        if len(args) < 2:
            raise ScriptError(f"line {line}: usage: at TICK COMMAND ...")
        at = _whole(args[0], "the tick", line)
        return _schedule(door, at, args[1:], line, text.split(None, 2)[2] if text else " ".join(args[1:]))
    if name == "run":
        if len(args) > 1:
            raise ScriptError(f"line {line}: usage: run [TICK]")
        door.run(until=_whole(args[0], "the tick", line) if args else None)
    elif name == "tick":
        if len(args) != 1:
            raise ScriptError(f"line {line}: usage: tick N")
        door.run(until=door.now + _whole(args[0], "N", line))
    elif name == "step":
        count = _whole(args[0], "N", line) if args else 1
        for _ in range(count):
            door.step()
    elif name in ("deliver", "fire"):
        flags = set(args[1:])
        allowed = {"hold", "early"} if name == "fire" else {"hold"}
        if len(args) < 1 or not flags <= allowed or len(flags) != len(args) - 1:
            raise ScriptError(f"line {line}: usage: {name} NAME [hold]" + (" [early]" if name == "fire" else ""))
        if "early" in flags:
            door.fire(args[0], settle="hold" not in flags, early=True)
        else:
            getattr(door, name)(args[0], settle="hold" not in flags)
    elif name in ("drop", "duplicate", "execute", "restart"):
        if len(args) != 1:
            raise ScriptError(f"line {line}: usage: {name} {'NODE' if name in ('execute', 'restart') else 'NAME'}")
        getattr(door, name)(args[0])
    elif name == "crash":
        node, tear, lose_disk, after, skip = _crash_args(args, line)
        door.crash(node, tear=tear, lose_disk=lose_disk, after=after, skip=skip)
    elif name == "partition":
        oneway = bool(args) and args[-1] == "oneway"
        door.partition(*_groups(args[:-1] if oneway else args, line), oneway=oneway)
    elif name == "heal":
        door.heal()
    elif name in ("clog", "unclog"):
        if len(args) != 2:
            raise ScriptError(f"line {line}: usage: {name} A B")
        getattr(door, name)(*args)
    elif name == "link":
        if len(args) < 3:
            raise ScriptError(f"line {line}: usage: link A B KEY=VALUE ...")
        door.set_link(args[0], args[1], **_pairs(args[2:], line))
    elif name == "network":
        door.set_network(**_pairs(args, line))
    elif name == "clock":
        if len(args) != 2:
            raise ScriptError(f"line {line}: usage: clock NODE RATE")
        door.set_clock_rate(args[0], _value(args[1]))
    elif name == "request":
        node, client, msg = _request_args(door, text or " ".join(words), line)
        sim.request(node, msg, client=client)
    elif name == "check":
        if args != ["liveness"]:
            raise ScriptError(f"line {line}: usage: check liveness")
        from .check.fuzz import calm
        if not calm(sim):
            raise ScriptError(f"line {line}: check liveness needs every node running and the network whole")
        for violation in door.check_liveness():
            sim.report_violation(violation)
    elif name == "faults":
        settings = _pairs(args, line)
        unknown = sorted(set(settings) - set(FaultPlan.names()))
        if unknown:
            raise ScriptError(f"line {line}: unknown fault setting {unknown[0]!r}; allowed: "
                              f"{', '.join(FaultPlan.names())}")
        sim.inject_faults(**settings)
    elif name in door.script_commands:
        door.script_command(name, args, line)
    else:
        known = ["run", "tick", "step", "deliver", "drop", "duplicate", "fire", "execute", "crash", "restart",
                 "partition", "heal", "clog", "unclog", "link", "network", "clock", "request", "faults",
                 "check", "at"]
        known += sorted(door.script_commands)
        raise ScriptError(f"line {line}: unknown command {name!r}; commands: {', '.join(known)}")
    return None


def _crash_args(args, line):
    if not args:
        raise ScriptError(f"line {line}: usage: crash NODE [tear=K] [after=K] [skip=K] [disk]")
    node, options = args[0], {}
    for word in args[1:]:
        if word == "disk":
            options["lose_disk"] = True
            continue
        key, sep, text = word.partition("=")
        if not sep or key not in ("tear", "after", "skip"):
            raise ScriptError(f"line {line}: crash takes tear=K, after=K, skip=K and disk; got {word!r}")
        options[key] = _whole(text, key, line)
    return (node, options.get("tear"), options.get("lose_disk", False), options.get("after"),
            options.get("skip", 0))


def _request_args(door, text, line):
    rest = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
    node, _, rest = rest.partition(" ")
    client = "client"
    if rest.startswith("as "):
        _, client, rest = rest.split(None, 2) if len(rest.split(None, 2)) == 3 else (None, None, "")
    if not node or not rest:
        raise ScriptError(f"line {line}: usage: request NODE [as CLIENT] Message(field=value, ...)")
    return node, client, _message(door, rest, line)


def _schedule(door, at, words, line, text):
    name, args = words[0], words[1:]
    sim = door.sim
    if name == "crash":
        node, tear, lose_disk, after, skip = _crash_args(args, line)
        kwargs = {"tear": tear, "lose_disk": lose_disk}
        if after is not None:
            kwargs.update(after=after, skip=skip)
        sim.schedule(at, "crash", node, **kwargs)
    elif name == "restart":
        sim.schedule(at, "restart", *args)
    elif name == "partition":
        oneway = bool(args) and args[-1] == "oneway"
        sim.schedule(at, "partition", *_groups(args[:-1] if oneway else args, line), oneway=oneway)
    elif name == "heal":
        sim.schedule(at, "heal")
    elif name in ("clog", "unclog"):
        sim.schedule(at, name, *args)
    elif name == "link":
        sim.schedule(at, "set_link", args[0], args[1], **_pairs(args[2:], line))
    elif name == "network":
        sim.schedule(at, "set_network", **_pairs(args, line))
    elif name == "clock":
        sim.schedule(at, "set_clock_rate", args[0], _value(args[1]))
    elif name == "request":
        node, client, msg = _request_args(door, text, line)
        sim.schedule(at, "request", node, msg, client=client)
    elif name in door.script_commands:
        door.script_command(name, args, line, at=at)
    else:
        raise ScriptError(f"line {line}: 'at' cannot schedule {name!r}; it schedules crash, restart, partition, "
                          f"heal, clog, unclog, link, network, clock, request"
                          + "".join(f", {c}" for c in sorted(door.script_commands)))


# ============================================================================== saving
def _bind(name, args, kwargs):
    signature = inspect.signature(getattr(Simulation, name))
    bound = signature.bind(None, *args, **kwargs)
    bound.apply_defaults()
    out = dict(bound.arguments)
    out.pop("self", None)
    return out


def _item_name(item):
    return item if isinstance(item, str) else item.name


def message_text(msg):
    """A message as script text that reads back to an equal message: ``Name(field=value, ...)``.

    A message's own repr is a transcript line for people (``Begin(T1, n2:x=1)``) and need not
    parse; this one always does when the fields are Python literals.

    Examples
    --------
    >>> from fttoolkit.algorithms.raft import ClientRequest
    >>> message_text(ClientRequest(("put", "x", 1)))
    "ClientRequest(command=('put', 'x', 1))"
    """
    import dataclasses
    if not dataclasses.is_dataclass(msg):
        return repr(msg)
    fields = ", ".join(f"{f.name}={getattr(msg, f.name)!r}" for f in dataclasses.fields(msg))
    return f"{type(msg).__name__}({fields})"


def render_action(name, args, kwargs):
    """Render one logged input (a simulator call) as a script command, or None to skip it."""
    if name == "run":
        return "run" if args[0] is None else f"run {args[0]}"
    if name == "step":
        return f"step {args[0]}" if args[0] else None
    if name == "schedule":
        at, action, *rest = args
        inner = render_action(action, tuple(rest), kwargs)
        return None if inner is None else f"at {at} {inner}"
    a = _bind(name, args, kwargs)
    if name in ("deliver", "fire"):
        return (f"{name} {_item_name(a['item'])}" + ("" if a["settle"] else " hold")
                + (" early" if a.get("early") else ""))
    if name in ("drop", "duplicate"):
        return f"{name} {_item_name(a['item'])}"
    if name in ("execute", "restart"):
        return f"{name} {a['node_id']}"
    if name == "crash":
        text = f"crash {a['node_id']}"
        if a["after"] is not None:
            text += f" after={a['after']}" + (f" skip={a['skip']}" if a["skip"] else "")
        if a["tear"] is not None:
            text += f" tear={a['tear']}"
        return text + (" disk" if a["lose_disk"] else "")
    if name == "partition":
        text = "partition " + " | ".join(",".join(g) for g in a["groups"])
        return text + (" oneway" if a["oneway"] else "")
    if name == "heal":
        return "heal"
    if name in ("clog", "unclog"):
        return f"{name} {a['a']} {a['b']}"
    if name == "set_link":
        return f"link {a['a']} {a['b']} " + " ".join(f"{k}={_value_text(v)}" for k, v in a["settings"].items())
    if name == "set_network":
        return "network " + " ".join(f"{k}={_value_text(v)}" for k, v in a["settings"].items())
    if name == "set_clock_rate":
        return f"clock {a['node_id']} {a['rate']!r}"
    if name == "request":
        client = "" if a["client"] == "client" else f" as {a['client']}"
        return f"request {a['node_id']}{client} {message_text(a['msg'])}"
    if name == "inject_faults":
        plan = a["plan"] or FaultPlan(**a["settings"])
        default = FaultPlan()
        changed = {k: getattr(plan, k) for k in FaultPlan.names() if getattr(plan, k) != getattr(default, k)}
        return "faults " + " ".join(f"{k}={_value_text(v)}" for k, v in changed.items())
    if name == "add_node":
        return None   # before the start: the header's node list has it
    raise FtError(f"cannot write {name!r} to a script")


def header_of(sim):
    """The script header that rebuilds ``sim``'s cluster."""
    d = sim.trace.header or sim.describe()
    nodes = d["nodes"]
    complete = len(d["links"]) == len(nodes) * (len(nodes) - 1) // 2
    natural = nodes == [f"n{i}" for i in range(1, len(nodes) + 1)]
    network = {k: (tuple(v) if k == "delay" else v) for k, v in d["network"].items()}
    defaults = {"delay": DEFAULT_DELAY, "loss": 0.0, "duplicate": 0.0, "reorder": 0.0}
    return {
        "algorithm": d["algorithm"],
        "nodes": len(nodes) if natural else list(nodes),
        "links": None if complete else [tuple(link) for link in d["links"]],
        "seed": d["seed"],
        "bugs": list(d["bugs"]),
        "params": dict(d["params"]),
        "network": {k: v for k, v in network.items() if v != defaults[k]},
    }


def to_script(door, description=()):
    """Write a front door's run so far (its input log) as a script."""
    sim = door.sim
    sim._ensure_started()
    commands = []
    story = []                  # narration waiting for the command it introduces
    for entry in sim.log:
        if entry.name == "narrate":
            story.extend(_wrap(entry.args[0] if entry.args else entry.kwargs["text"]))
            continue
        if entry.name == "run" and not entry.complete:   # cut short: write the steps it took
            text = f"step {entry.end_step - entry.at_step}" if entry.end_step > entry.at_step else None
        else:
            text = render_action(entry.name, entry.args, entry.kwargs)
        if text is not None:
            commands.append(Command(0, text, story))
            story = []
    return Script(header_of(sim), commands, description=list(description), trailer=story)


def _wrap(text, width=98):
    """Narration text as comment lines of at most ``width`` characters."""
    import textwrap
    return textwrap.wrap(text, width) or [""]


def schedule_to_script(schedule, description=()):
    """Write a fuzzer's :class:`fttoolkit.check.Schedule` as a script that replays it."""
    d = schedule.door_class
    nodes, links = schedule.nodes, None
    if not isinstance(nodes, int):          # a networkx graph
        from .core.ids import id_key
        links = sorted((tuple(sorted(e, key=id_key)) for e in nodes.edges()), key=lambda e: tuple(map(id_key, e)))
        nodes = sorted(nodes.nodes, key=id_key)
        if nodes == [f"n{i}" for i in range(1, len(nodes) + 1)]:
            nodes = len(nodes)
    header = {"algorithm": d.name, "nodes": nodes, "links": links,
              "seed": schedule.seed, "bugs": list(schedule.bugs), "params": dict(schedule.params),
              "network": dict(schedule.network)}
    commands = [Command(0, render_action("schedule", (tick, action) + tuple(args), kwargs))
                for tick, action, args, kwargs in schedule.actions]
    commands.append(Command(0, f"run {schedule.until}"))
    if schedule.liveness:
        commands.append(Command(0, "check liveness", ["Faults have stopped: the liveness checks must hold now."]))
    return Script(header, commands, description=list(description))


def with_bugs(text, bugs):
    """A script's text with its ``bugs`` header line set to ``bugs`` (added after ``algorithm``)."""
    lines = text.splitlines()
    lines = [line for line in lines if not line.strip().startswith("bugs ")]
    if bugs:
        at = next((k for k, line in enumerate(lines) if line.strip().startswith("algorithm ")), -1)
        lines.insert(at + 1, "bugs " + " ".join(bugs))
    return "\n".join(lines) + "\n"


def preset_failures(door_class, bugs=()):
    """Replay the algorithm's preset scenarios with ``bugs`` switched on; return the ones that break.

    Returns ``[(name, script text, first violation event), ...]``.  The fuzzer starts from these,
    as coverage-guided fuzzers start from a seed corpus: some schedules (Raft's Figure 8) are too
    precise for random search to reach.
    """
    found = []
    for name, text in door_class.presets().items():
        script = with_bugs(text, list(bugs))
        result = replay(script, check=True, halt=False)
        if result.unexpected:             # a preset that demonstrates a known violation is not a finding
            found.append((name, script, result.unexpected[0]))
    return found
