"""Run an algorithm's invariants on a simulation, after every step.

A :class:`Monitor` is a *checker* of the simulation (see
:meth:`fttoolkit.sim.Simulation.add_checker`): it is part of the run's state,
so it follows rewinds and forks.  History invariants see every trace event;
state invariants look at the running nodes after every step.  A violation
becomes a ``violation`` trace event naming the invariant and the nodes
involved, and may halt the run.

Examples
--------
>>> from fttoolkit.sim import Simulation
>>> from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest, INVARIANTS
>>> sim = Simulation(BroadcastNode, topology=3, seed=1, bugs=["no-dedup"], network={"duplicate": 0.5})
>>> monitor = Monitor.attach(sim, INVARIANTS, halt=True)
>>> sim.request("n1", BroadcastRequest("x"))
>>> _ = sim.run(until=500)
>>> sim.halted
'Integrity broken at tick 13'
>>> sim.violations[0].describe()
'Integrity at n3: n3 delivered n1:1 2 times'
"""

from ..core.invariants import as_violations

__all__ = ["Monitor", "check_liveness"]


class Monitor:
    """Checks safety invariants during a run.

    Parameters
    ----------
    invariants : list of fttoolkit.core.Invariant
    halt : bool
        Stop automatic runs at the first violation.
    """

    def __init__(self, invariants, halt=False):
        self.invariants = list(invariants)
        self.halt = halt
        self._history = [(inv, inv.observer()) for inv in self.invariants if inv.uses_history]
        self._state = [inv for inv in self.invariants if inv.uses_state]
        self._seen = set()
        self._pending = []

    @classmethod
    def attach(cls, sim, invariants, halt=False):
        """Create a monitor and attach it to ``sim``; return it."""
        monitor = cls(invariants, halt)
        sim.add_checker(monitor)
        return monitor

    def on_event(self, sim, event):
        if event.kind == "violation":
            return
        for _, observe in self._history:
            found = observe(event)
            if found is not None:
                self._pending.extend(as_violations(found))
        if self._pending:
            self._flush(sim)

    def after_step(self, sim):
        # Carrying out an intention changes no node's state: check states only when a
        # handler ran (or a node crashed) in this step.
        if self._state and sim.changed:
            running = {i: sim.nodes[i] for i in sim.ids if sim.up.get(i)}
            for inv in self._state:
                self._pending.extend(inv.evaluate(running))
        if self._pending:
            self._flush(sim)

    def _flush(self, sim):
        pending, self._pending = self._pending, []
        for violation in pending:
            if violation not in self._seen:     # report each distinct violation once
                self._seen.add(violation)
                sim.report_violation(violation, halt=self.halt)

    def __deepcopy__(self, memo):
        # Invariants are immutable descriptions: share them; copy the history state.
        import copy
        other = object.__new__(type(self))
        other.invariants = self.invariants
        other.halt = self.halt
        other._history = [(inv, copy.deepcopy(obs, memo)) for inv, obs in self._history]
        other._state = self._state
        other._seen = set(self._seen)
        other._pending = list(self._pending)
        return other


def check_liveness(sim, liveness):
    """Evaluate liveness checks now, over the running nodes; return the violations."""
    running = {i: sim.nodes[i] for i in sim.ids if sim.up.get(i)}
    found = []
    for check in liveness:
        found.extend(check.evaluate(running))
    return found
