"""The random fault injector: crashes, crash points, partitions, all from the faults stream.

A :class:`FaultPlan` is plain data: the rates and ranges of random faults.
:meth:`Simulation.inject_faults` attaches one; from then on the simulator
asks the :class:`FaultInjector` every ``period_ticks`` whether to crash a node
or partition the network, and, before carrying out each queued intention,
whether to crash that node *right there* (a crash point, optionally tearing a
storage write in half).  Every draw comes from the run's ``faults`` stream, so
the same seed gives the same faults, and network delays are unaffected.

After ``stop_at`` (if set) no new fault is started: partitions heal and
crashed nodes restart, so that a liveness check can follow a safety phase.

Examples
--------
>>> from fttoolkit.sim import Simulation
>>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
>>> sim = Simulation(BroadcastNode, topology=5, seed=3)
>>> sim.inject_faults(FaultPlan(crash=0.5, crash_point=0.1, partition=0.3, stop_at=600))
>>> for k in range(5):
...     sim.schedule(40 * k, "request", "n1", BroadcastRequest(k))
>>> _ = sim.run(until=2000)
>>> all(sim.up.values()) and not sim.network.cuts       # healed and restarted after stop_at
True
"""

from dataclasses import dataclass, fields

from ..core.errors import BadParameter
from ..core.intentions import Persist
from .network import check_probability, check_tick_range

__all__ = ["FaultPlan", "FaultInjector"]


@dataclass(frozen=True)
class FaultPlan:
    """Rates and ranges of random faults.

    Attributes
    ----------
    period_ticks : int
        How often the injector considers starting a crash or a partition.
    crash : float
        Probability, each period, that one running node crashes.
    crash_point : float
        Probability that a node crashes just before carrying out a queued
        intention (between two intentions of one handler).
    tear : float
        When such a crash falls before a storage write: probability that the
        write is torn (some records written, the next one torn).
    lose_disk : float
        Probability that a crash also loses the node's stable storage.
    restart_ticks : (int, int)
        A crashed node restarts after a delay drawn from this range.
    partition : float
        Probability, each period, that the network splits (if it is whole).
    oneway : float
        Share of partitions that are one-way.
    heal_ticks : (int, int)
        A partition heals after a delay drawn from this range.
    max_down : int or None
        At most this many nodes crashed at once (default: a minority, (n-1)//2).
    stop_at : int or None
        No new fault from this tick on; everything heals and restarts.
    prefer_role : str or None
        A role (for example ``"leader"``) whose nodes crashes aim at ...
    prefer : float
        ... with this probability, when some running node has that role.
    """

    period_ticks: int = 50
    crash: float = 0.0
    crash_point: float = 0.0
    tear: float = 0.5
    lose_disk: float = 0.0
    restart_ticks: tuple = (50, 200)
    partition: float = 0.0
    oneway: float = 0.0
    heal_ticks: tuple = (50, 300)
    max_down: object = None
    stop_at: object = None
    prefer_role: object = None
    prefer: float = 0.0

    def __post_init__(self):
        if isinstance(self.period_ticks, bool) or not isinstance(self.period_ticks, int) or self.period_ticks < 1:
            raise BadParameter(f"period_ticks must be a whole number >= 1; got {self.period_ticks!r}")
        for name in ("crash", "crash_point", "tear", "lose_disk", "partition", "oneway", "prefer"):
            check_probability(name, getattr(self, name))
        # At least one tick after the fault: an action pushed for the current tick would run after
        # events of that tick already handled, which a replay of the fault record cannot mimic.
        object.__setattr__(self, "restart_ticks", check_tick_range("restart_ticks", self.restart_ticks, 1))
        object.__setattr__(self, "heal_ticks", check_tick_range("heal_ticks", self.heal_ticks, 1))
        for name in ("max_down", "stop_at"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise BadParameter(f"{name} must be None or a whole number >= 0; got {value!r}")

    @classmethod
    def names(cls):
        """The settings a plan accepts."""
        return tuple(f.name for f in fields(cls))


class FaultInjector:
    """Draws the faults of a :class:`FaultPlan` for one simulation.

    The simulation calls :meth:`on_period` from a scheduled action and
    :meth:`crash_point` before each intention it carries out.  The injector
    keeps no reference to the simulation (it is part of the run's state, which
    snapshots copy).  When ``sim.fault_record`` is a list, every fault made is
    appended to it as an explicit scheduled input ``(tick, action, args,
    kwargs)`` (with the other scheduled actions, in the order they happened),
    so the same run can be replayed without the injector.
    """

    def __init__(self, sim, plan):
        self.plan = plan
        n = len(sim.ids)
        self.max_down = (n - 1) // 2 if plan.max_down is None else plan.max_down

    def _active(self, sim):
        return self.plan.stop_at is None or sim.now < self.plan.stop_at

    @staticmethod
    def _down(sim):
        return sum(1 for i in sim.ids if not sim.up[i])

    @staticmethod
    def _record(sim, tick, action, *args, **kwargs):
        if sim.fault_record is not None:
            sim.fault_record.append((tick, action, args, kwargs))

    def _crash(self, sim, node_id, tear=None, point=None):
        rng, plan = sim.streams.faults, self.plan
        lose_disk = rng.random() < plan.lose_disk
        kwargs = {"lose_disk": True} if lose_disk else {}
        if tear is not None:
            kwargs["tear"] = tear
        if point is None:
            self._record(sim, sim.now, "crash", node_id, **kwargs)
        else:
            began, index, carried = point
            self._record(sim, began, "crash", node_id, after=carried, skip=index, **kwargs)
        sim.crash(node_id, tear=tear, lose_disk=lose_disk)
        low, high = plan.restart_ticks
        sim._schedule_internal(sim.now + rng.randint(low, high), "_fault_restart", node_id)

    def crash_point(self, sim, node_id, intention, batch):
        """Maybe crash ``node_id`` just before it carries out ``intention``; return whether it did."""
        plan = self.plan
        if plan.crash_point <= 0 or not self._active(sim) or self._down(sim) >= self.max_down:
            return False
        rng = sim.streams.faults
        chance = plan.crash_point
        if plan.prefer_role is not None and sim.nodes[node_id].role == plan.prefer_role:
            chance = min(1.0, chance * (1 + 9 * plan.prefer))     # aim crash points at that role too
        if rng.random() >= chance:
            return False
        tear = None
        if type(intention) is Persist and rng.random() < plan.tear:
            tear = rng.randrange(len(intention.records))
        self._crash(sim, node_id, tear=tear, point=tuple(batch))
        return True

    def restart(self, sim, node_id):
        """Restart a node this injector crashed, unless someone restarted it already."""
        if not sim.up[node_id]:
            self._record(sim, sim.now, "restart", node_id)
            sim.restart(node_id)

    def heal(self, sim):
        """End this injector's partition, if the network is still cut."""
        if sim.network.cuts:
            self._record(sim, sim.now, "heal")
            sim.heal()

    def on_period(self, sim):
        """Consider a crash and a partition; heal and restart everything once stopped."""
        plan, rng = self.plan, sim.streams.faults
        if not self._active(sim):
            self.heal(sim)
            for node_id in sim.ids:   # one action each, so intentions interleave as in a replay
                if not sim.up[node_id]:
                    sim._schedule_internal(sim.now, "_fault_restart", node_id)
            return
        running = [i for i in sim.ids if sim.up[i]]
        if rng.random() < plan.crash and running and self._down(sim) < self.max_down:
            victim = None
            if plan.prefer_role is not None and rng.random() < plan.prefer:   # aim at, say, the leader
                aimed = [i for i in running if sim.nodes[i].role == plan.prefer_role]
                victim = rng.choice(aimed) if aimed else None
            self._crash(sim, victim or rng.choice(running))
        running = [i for i in sim.ids if sim.up[i]]
        if rng.random() < plan.partition and not sim.network.cuts and len(running) >= 2:
            rng.shuffle(running)
            cut = rng.randint(1, len(running) - 1)
            groups = (running[:cut], running[cut:])
            oneway = rng.random() < plan.oneway
            self._record(sim, sim.now, "partition", *[list(g) for g in groups], oneway=oneway)
            sim.partition(*groups, oneway=oneway)
            low, high = plan.heal_ticks
            sim._schedule_internal(sim.now + rng.randint(low, high), "_fault_heal")
        sim._schedule_internal(sim.now + plan.period_ticks, "_fault_period")
