"""``fttoolkit.ByzantineAgreement``: PBFT's normal case on a simulated cluster (Castro & Liskov, 1999)."""

from ..algorithms.pbft import (INVARIANTS, PbftNode, Reply, Request, format_byzantine, max_faulty,
                               parse_byzantine)
from ..core.errors import BadParameter
from ..core.ids import sorted_ids
from ..viz.adapters import Cell, Table, ViewAdapter, register_adapter
from .base import FrontDoor, register

__all__ = ["ByzantineAgreement", "PbftView"]


@register
class ByzantineAgreement(FrontDoor):
    """PBFT in one view: ``n = 3f + 1`` replicas order client requests although ``f`` of them lie.

    The primary is ``n1`` (view 0).  Parameters (besides those of every front
    door): ``byzantine``, the faulty replicas and what they do, as
    ``"n1:equivocate"`` or ``{"n1": "equivocate", "n4": "lie"}`` (behaviours:
    ``equivocate``, ``silent``, ``lie``); ``view``.  The bug ``small-quorum``
    makes quorums ``f + 1`` replicas instead of ``2f + 1``.

    Script command: ``submit VALUE``.

    Examples
    --------
    >>> cluster = ByzantineAgreement(nodes=4, seed=1, delay=10, byzantine="n1:equivocate")
    >>> cluster.submit("x")
    >>> _ = cluster.run(until=100)
    >>> cluster.phases()
    {'n1': 'byzantine', 'n2': 'committed', 'n3': 'committed', 'n4': 'pre-prepared'}
    >>> cluster.committed_values(), cluster.result()
    (['x'], 'x')
    >>> broken = ByzantineAgreement(nodes=4, seed=1, delay=10, byzantine="n1:equivocate", bugs=["small-quorum"])
    >>> broken.submit("x")
    >>> _ = broken.run(until=100)
    >>> broken.committed_values(), [v["invariant"].split(":")[0] for v in broken.violations]
    (['x', "x'"], ['Prepared agreement', 'Agreement'])

    Notes
    -----
    Castro & Liskov, "Practical Byzantine Fault Tolerance" (OSDI 1999), §4.2
    (normal-case operation) and §4.1 (the client waits for ``f + 1`` matching
    replies).  View changes (§4.4), which would replace a faulty primary, are
    not modelled: with a silent primary nothing happens, and a replica that
    an equivocating primary left behind stays behind.
    """

    name = "pbft"
    node_class = PbftNode
    summary = "PBFT in one view: 3f+1 replicas agree although f are Byzantine (Castro & Liskov 1999)"
    invariants = INVARIANTS
    script_commands = {"submit": "submit VALUE"}
    fuzz_ticks = 1000
    fuzz_requests = 3
    fuzz_params = {"byzantine": ("", "n1:equivocate", "n1:lie", "n1:silent", "n2:equivocate", "n2:lie")}

    def __init__(self, nodes=4, seed=0, bugs=(), check=True, halt=False, **params):
        if "byzantine" in params:          # one canonical string: it goes into scripts as written
            params["byzantine"] = format_byzantine(parse_byzantine(params["byzantine"]))
        super().__init__(nodes=nodes, seed=seed, bugs=bugs, check=check, halt=halt, **params)
        parse_byzantine(self.sim.params.get("byzantine", ""), self.ids)      # every named replica exists
        view = self.sim.params.get("view", 0)
        if not isinstance(view, int) or isinstance(view, bool) or view < 0:
            raise BadParameter(f"view must be a whole number >= 0; got {view!r}")

    # ---- the configuration ----------------------------------------------------------------
    @property
    def f(self):
        """How many faulty replicas the cluster tolerates: ``(n - 1) // 3``."""
        return max_faulty(len(self.ids))

    @property
    def primary(self):
        """The primary of the view: replica ``view mod n``."""
        return self.ids[self.sim.params.get("view", 0) % len(self.ids)]

    @property
    def faulty(self):
        """Faulty replica -> its behaviour."""
        return parse_byzantine(self.sim.params.get("byzantine", ""))

    @property
    def honest(self):
        """The honest replicas, in natural order."""
        return [i for i in self.ids if i not in self.faulty]

    # ---- clients ------------------------------------------------------------------------
    def submit(self, value, at=None, client="client"):
        """A client sends a request for operation ``value`` (immutable) to the primary, now or at tick ``at``."""
        try:
            hash(value)
        except TypeError:
            raise BadParameter(f"an operation must be immutable (a number, string or tuple); got {value!r}") from None
        self.sim._ensure_started()
        return self._now_or_later(at, "request", self.primary, Request(value, client), client=client)

    # ---- looking ------------------------------------------------------------------------
    def phases(self, seq=1):
        """Replica -> its phase for ``seq`` ("idle", "pre-prepared", "prepared", "committed";
        "byzantine" for a faulty replica; ``None`` if crashed)."""
        self.sim._ensure_started()
        out = {}
        for i in self.ids:
            node = self.sim.nodes[i]
            out[i] = None if not self.sim.up[i] else "byzantine" if node.behaviour else node.phase.get(seq, "idle")
        return out

    def committed_values(self, seq=1):
        """The distinct operations honest replicas committed at ``seq``, in the order first committed.

        Read from the trace, so a replica that committed and then crashed still counts.
        """
        values = {}
        for event in self.trace:
            if event.kind == "note" and event.data["text"] == "committed" and event.data["fields"]["seq"] == seq:
                values.setdefault(repr(event.data["fields"]["value"]), event.data["fields"]["value"])
        return list(values.values())

    def replies(self, seq=1, client="client"):
        """Replica -> the result it replied to ``client`` for ``seq`` (first reply), from the trace."""
        out = {}
        for event in self.trace:
            msg = event.data.get("msg") if event.kind == "reply" else None
            if isinstance(msg, Reply) and msg.seq == seq and event.data["client"] == client:
                out.setdefault(event.node, msg.result)
        return {i: out[i] for i in sorted_ids(out)}

    def result(self, seq=1, client="client"):
        """The result the client accepts for ``seq``: one that ``f + 1`` replicas replied (§4.1), else ``None``."""
        counts = {}
        for value in self.replies(seq, client).values():
            counts.setdefault(repr(value), [value, 0])[1] += 1
        accepted = [value for value, count in counts.values() if count >= self.f + 1]
        return accepted[0] if len(accepted) == 1 else None

    # ---- scripts and fuzzing ------------------------------------------------------------
    def script_command(self, name, args, line, at=None):
        """``submit VALUE`` (a Python literal, or else words)."""
        from ..scenario import ScriptError, _value
        if not args:
            raise ScriptError(f"line {line}: usage: submit VALUE")
        self.submit(_value(" ".join(args)), at=at)

    def workload(self, until, requests=3):
        """Schedule ``requests`` client requests ``v1, v2, ...`` at random ticks before ``until``."""
        rng = self.sim.streams.workload
        ticks = sorted(rng.randint(0, max(until, 0)) for _ in range(requests))
        for k, tick in enumerate(ticks, start=1):
            self.submit(f"v{k}", at=max(tick, self.now))


# ---------------------------------------------------------------------------------- the view
_PHASE_FILLS = {"idle": "#DCEBF7", "pre-prepared": "#DCEBF7", "prepared": "#FBE3C0", "committed": "#BFE6D4"}
_FAULTY_FILL = "#F4B6A6"
_BEHAVIOUR_CAPTIONS = {"equivocate": "Byzantine: equivocates", "silent": "Byzantine: silent",
                       "lie": "Byzantine: lies"}


def _latest(node):
    return max(node.phase) if node.phase else None


def _short(value, limit=10):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


@register_adapter(PbftNode)
class PbftView(ViewAdapter):
    """PBFT: the primary square, backups round; fill by the phase of the latest request (blue: pre-prepared,
    orange: prepared, green: committed); Byzantine replicas in red with their behaviour."""

    message_types = ("Request", "PrePrepare", "Prepare", "Commit", "Reply")
    role_styles = {"primary": ("#DCEBF7", "s"), "backup": ("#DCEBF7", "o")}

    def style(self, node):
        _, marker = super().style(node)
        if node.behaviour:
            return _FAULTY_FILL, marker
        seq = _latest(node)
        return _PHASE_FILLS.get(node.phase.get(seq, "idle"), "#DCEBF7"), marker

    def caption(self, node):
        if node.behaviour:
            return _BEHAVIOUR_CAPTIONS[node.behaviour]
        seq = _latest(node)
        if seq is None:
            return node.role
        return f"#{seq} {node.phase[seq]} {_short(node.accepted[seq][1].operation)}"

    def badge(self, node):
        seq = _latest(node)
        if node.behaviour or seq is None:
            return None
        d = node.accepted[seq][0]
        if node.phase[seq] == "pre-prepared":
            return f"prepares {len(node.prepares.get(seq, {}).get(d, ()))}/{node.quorum - 1}"
        if node.phase[seq] == "prepared":
            return f"commits {len(node.commits.get(seq, {}).get(d, ()))}/{node.quorum}"
        return None

    def table(self, sim, limit=6):
        """Sequence numbers (columns) by replica: the phase and the request each replica holds."""
        seqs = sorted({s for i in sim.ids for s in sim.nodes[i].phase})[-limit:]
        rows = []
        for node_id in sim.ids:
            node, up = sim.nodes[node_id], sim.up[node_id]
            faded = "" if up else "faded"
            row = [Cell(node_id, faded, "crashed" if not up else ""),
                   Cell(node.behaviour or "honest", faded or ("odd" if node.behaviour else ""))]
            for seq in seqs:
                if node.behaviour or seq not in node.phase:
                    row.append(Cell("\u00b7" if not node.behaviour else "-", faded))
                    continue
                value = node.accepted[seq][1].operation
                others = {repr(sim.nodes[j].accepted[seq][1].operation) for j in sim.ids
                          if not sim.nodes[j].behaviour and seq in sim.nodes[j].accepted}
                mark = faded or ("good" if node.phase[seq] == "committed" else "odd" if len(others) > 1 else "")
                row.append(Cell(f"{node.phase[seq]} {_short(value)}", mark, f"digest {node.accepted[seq][0]}"))
            rows.append(row)
        return Table("Requests by replica and sequence number", ["replica", "behaviour"] + [f"#{s}" for s in seqs],
                     rows, "green: committed \u00b7 orange: honest replicas hold different requests \u00b7 "
                     "grey: crashed")
