"""Fuzzing: random fault schedules that hunt for invariant violations, then shrink them.

Each schedule is one seed.  The seed chooses the fault *rates* within a named
profile (swarm testing: some runs crash a lot, some lose many messages, some
do neither), then the run itself: network delays, the fault injector's
choices, the client workload.  Faults stop at ``stop_at`` so that a calm
phase follows in which the liveness checks must succeed.

A run records its faults and client requests as explicit scheduled actions
(see :attr:`fttoolkit.sim.Simulation.fault_record`), so a violating run can be
replayed without the injector and *shrunk*: actions are removed while the
same invariant still breaks, until a handful tell the story.

Profiles
--------
``none``
    reliable network, no faults.
``crash``
    crashes, crash points between intentions (some tearing a storage write),
    restarts; reliable network with bounded delay.
``lossy``
    message loss, duplication and reordering; no crashes.
``partition``
    symmetric and one-way partitions that heal; reliable links otherwise.
``chaos``
    all of the above (the default).
"""

import random
from dataclasses import dataclass, field

from ..core.errors import BadParameter, FtError
from ..sim.simulation import StepLimit

__all__ = ["PROFILES", "Schedule", "FuzzResult", "FuzzReport", "choose_config", "run_seed", "execute",
           "shrink", "fuzz", "calm"]

PROFILES = ("none", "crash", "lossy", "partition", "chaos")


@dataclass
class Schedule:
    """Everything that defines one run without the fault injector."""

    door_class: type
    nodes: object
    seed: int
    bugs: tuple = ()
    params: dict = field(default_factory=dict)
    network: dict = field(default_factory=dict)
    actions: list = field(default_factory=list)   # (tick, action, args, kwargs), in the order they happened
    until: int = 0
    liveness: bool = False


@dataclass
class FuzzResult:
    """The outcome of one seed."""

    seed: int
    config: dict
    violations: list
    schedule: Schedule
    shrunk: Schedule = None

    @property
    def failed(self):
        return bool(self.violations)


@dataclass
class FuzzReport:
    """The outcome of a fuzzing campaign."""

    algorithm: str
    schedules: int
    failures: list   # FuzzResult, in seed order

    @property
    def violations(self):
        """The number of schedules with at least one violation."""
        return len(self.failures)


def _u(rng, low, high):
    return round(low + (high - low) * rng.random(), 3)


def choose_config(profile, seed, ticks, calm_ticks, topologies=("complete",), prefer_role=None):
    """Draw schedule ``seed``'s configuration within ``profile``.

    Returns ``(topology, network, faults, stop_at)``: the topology name, the
    network settings and the fault-injector settings.
    """
    if profile not in PROFILES:
        raise BadParameter(f"unknown fault profile {profile!r}; profiles: {', '.join(PROFILES)}")
    rng = random.Random(f"fttoolkit/fuzz/{profile}/{seed}")
    topology = rng.choice(list(topologies))
    stop_at = max(ticks - calm_ticks, ticks // 2)
    network, faults = {}, {}
    if profile in ("lossy", "chaos"):
        network = {"loss": _u(rng, 0, 0.3), "duplicate": _u(rng, 0, 0.2), "reorder": _u(rng, 0, 1)}
    if profile in ("crash", "chaos"):
        faults.update(crash=_u(rng, 0.05, 0.5), crash_point=_u(rng, 0, 0.06), tear=_u(rng, 0, 1),
                      restart_ticks=(20, 300))
    if profile in ("partition", "chaos"):
        faults.update(partition=_u(rng, 0.05, 0.5), oneway=_u(rng, 0, 0.5), heal_ticks=(30, 400))
    if faults:
        faults.update(period_ticks=rng.choice([20, 50, 100]), stop_at=stop_at)
        if prefer_role is not None and "crash" in faults:     # some seeds aim crashes at that role
            faults.update(prefer_role=prefer_role, prefer=_u(rng, 0, 1))
    return topology, network, faults, stop_at


def _make(door_class, nodes, seed, bugs, params, network):
    door = door_class(nodes=nodes, seed=seed, bugs=list(bugs), check=True, halt=True, **params, **network)
    door.sim.snapshot_every = None   # no time travel needed here: run fast
    return door


def run_seed(door_class, seed, nodes=5, bugs=(), profile="chaos", params=None, ticks=None, requests=None):
    """Run one fuzzed schedule; return a :class:`FuzzResult` (not yet shrunk)."""
    params = dict(params or {})
    swarm = random.Random(f"fttoolkit/fuzz/params/{seed}")     # protocol settings, per seed (swarm testing)
    for key, choices in sorted(door_class.fuzz_params.items()):
        choice = swarm.choice(list(choices))
        params.setdefault(key, choice)
    ticks = ticks or door_class.fuzz_ticks
    calm_ticks = max([c.within_ticks for c in door_class.liveness], default=0)
    topology, network, faults, stop_at = choose_config(profile, seed, ticks, calm_ticks,
                                                       door_class.fuzz_topologies, door_class.fuzz_prefer_role)
    nodes = door_class.topology(topology, nodes)
    door = _make(door_class, nodes, seed, bugs, params, network)
    sim = door.sim
    sim.fault_record = []
    sim.start()
    door.workload(stop_at, requests=door_class.fuzz_requests if requests is None else requests)
    if faults:
        sim.inject_faults(**faults)
    try:
        door.run(until=ticks)
    except StepLimit as exc:          # a message storm: the protocol never lets time pass
        from ..core.invariants import Violation
        sim.report_violation(Violation("Step limit", tuple(sim.ids), str(exc)))
    violations = [_as_violation(e) for e in sim.violations]
    liveness = False
    if not violations and ticks - stop_at >= calm_ticks and door_class.liveness and calm(sim):
        violations = door.check_liveness()
        liveness = True
    until = violations_tick(sim) if not liveness and violations else ticks
    schedule = Schedule(door_class, nodes, seed, tuple(bugs), params, network, list(sim.fault_record),
                        until, liveness and bool(violations))
    config = dict(network, topology=topology, **{k: v for k, v in faults.items() if k != "stop_at"},
                  **{k: params[k] for k in sorted(door_class.fuzz_params)})
    return FuzzResult(seed, config, violations, schedule)


def violations_tick(sim):
    """The tick of the first violation event (where a shrunk run may stop)."""
    found = sim.violations
    return found[0].tick if found else sim.now


def _as_violation(event):
    from ..core.invariants import Violation
    return Violation(event["invariant"], tuple(event["nodes"]), event["detail"])


def execute(schedule):
    """Replay a schedule (no injector); return its violations, or None if it could not run."""
    door = _make(schedule.door_class, schedule.nodes, schedule.seed, schedule.bugs, schedule.params,
                 schedule.network)
    sim = door.sim
    try:
        for tick, action, args, kwargs in schedule.actions:   # before the boot: tick 0's crash points arm first
            sim.schedule(tick, action, *args, **kwargs)
        sim.start()
        door.run(until=schedule.until)
    except FtError:
        return None    # e.g. restarting a node whose crash was removed: not a valid candidate
    violations = [_as_violation(e) for e in sim.violations]
    if not violations and schedule.liveness:
        if not calm(sim):
            return None    # liveness is only owed once every node is up and the network whole
        violations = door.check_liveness()
    return violations


def calm(sim):
    """Whether every node runs and no partition or clog remains (liveness is owed then)."""
    return all(sim.up.values()) and not sim.network.cuts and not sim.network.clogged


def _reproduces(schedule, name):
    found = execute(schedule)
    return bool(found) and any(v.invariant == name for v in found)


def _repair(actions):
    """Drop restarts of nodes that are not down and heals with no partition to end.

    Removing a crash or a partition from a schedule orphans the action that
    undid it; without this, most shrinking candidates would be invalid.
    """
    down, cut, out = set(), False, []
    for item in actions:
        _, action, args, _ = item
        if action == "restart":
            if args[0] not in down:
                continue
            down.discard(args[0])
        elif action == "crash":
            down.add(args[0])
        elif action == "partition":
            cut = True
        elif action == "heal":
            if not cut:
                continue
            cut = False
        out.append(item)
    return out


def _with(schedule, actions=None, until=None):
    return Schedule(schedule.door_class, schedule.nodes, schedule.seed, schedule.bugs, schedule.params,
                    schedule.network, list(schedule.actions if actions is None else actions),
                    schedule.until if until is None else until, schedule.liveness)


def shrink(schedule, invariant, budget=600):
    """Remove actions while ``invariant`` still breaks; return the smallest schedule found.

    Greedy delta debugging: try removing halves, quarters... then single
    actions, then each fault together with the action that undoes it (a crash
    with its restart, a partition with its heal).  ``budget`` caps the replays.
    """
    best = schedule
    tries = 0

    def attempt(candidate):
        nonlocal tries
        tries += 1
        return _reproduces(candidate, invariant)

    changed = True
    while changed and tries < budget:
        changed = False
        size = max(len(best.actions) // 2, 1)
        while size >= 1 and tries < budget:
            start = 0
            while start < len(best.actions) and tries < budget:
                candidate = _with(best, _repair(best.actions[:start] + best.actions[start + size:]))
                if attempt(candidate):
                    best, changed = candidate, True
                else:
                    start += size
            size //= 2
        for i, (tick, action, args, _) in enumerate(best.actions):
            if tries >= budget or action not in ("crash", "partition"):
                continue
            undo = "restart" if action == "crash" else "heal"
            for j in range(i + 1, len(best.actions)):
                later = best.actions[j]
                if later[1] == undo and (undo == "heal" or later[2][:1] == args[:1]):
                    candidate = _with(best, _repair([a for k, a in enumerate(best.actions) if k not in (i, j)]))
                    if attempt(candidate):
                        best, changed = candidate, True
                    break
            if changed:
                break
    return best


def fuzz(door_class, seeds, first_seed=0, nodes=5, bugs=(), profile="chaos", params=None, ticks=None,
         shrink_first=True, progress=None, stop_at_first=False):
    """Run ``seeds`` schedules; return a :class:`FuzzReport` (the first failure shrunk).

    ``stop_at_first`` ends the campaign at the first failing schedule (the report then counts the
    schedules actually run).
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise BadParameter(f"--seeds must be a whole number >= 1; got {seeds!r}")
    if profile not in PROFILES:
        raise BadParameter(f"unknown fault profile {profile!r}; profiles: {', '.join(PROFILES)}")
    failures = []
    for seed in range(first_seed, first_seed + seeds):
        result = run_seed(door_class, seed, nodes, bugs, profile, params, ticks)
        if result.failed:
            if shrink_first and not failures:
                result.shrunk = shrink(result.schedule, result.violations[0].invariant)
            failures.append(result)
        if progress is not None:
            progress(seed, result)
        if stop_at_first and failures:
            return FuzzReport(door_class.name, seed - first_seed + 1, failures)
    return FuzzReport(door_class.name, seeds, failures)
