"""Time travel: the input log, ``rewind``, ``fork``, snapshots, fault records and crash points.

The reference for every time-travel claim is a *fresh* simulation given the same
inputs.  Inputs are generated as a list of actions in which automatic progress
is a single ``step()`` (or, in one variant, ``run(until=...)``), so a fresh run
"stopped just after step s" is defined without the replay machinery: apply, in
order, every action that does not take step ``s + 1``.  Inputs made between
step ``s`` and step ``s + 1`` (a crash, a request...) are included, as
``Simulation.rewind`` documents, so ``rewind(total_steps)`` is the present.
"""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fttoolkit.algorithms.broadcast import BroadcastNode, BroadcastRequest
from fttoolkit.core import Message, Node, Torn
from fttoolkit.sim import Simulation
from fttoolkit.sim.simulation import StepLimit

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NET = {"delay": (1, 12), "loss": 0.1, "duplicate": 0.15, "reorder": 0.3}


def broadcast_sim(seed, every=None, nodes=4):
    sim = Simulation(BroadcastNode, topology=nodes, seed=seed, network=NET, params={"retry_ticks": 25})
    sim.snapshot_every = every
    return sim


# ------------------------------------------------------------------------------ actions
def _nth(items, i):
    return items[i % len(items)] if items else None


def apply(sim, action):
    """Apply one generated action; the concrete choice is resolved from ``sim``'s own state."""
    kind = action[0]
    ids = sim.ids
    if kind == "step":
        sim.step()
    elif kind == "run":
        sim.run(until=sim.now + action[1])
    elif kind == "request":
        sim.request(_nth(ids, action[1]), BroadcastRequest(action[2]))
    elif kind == "crash":
        node = _nth([i for i in ids if sim.up[i]], action[1])
        if node is not None:
            sim.crash(node)
    elif kind == "crash_point":
        sim.crash(_nth(ids, action[1]), after=action[2])
    elif kind == "restart":
        node = _nth([i for i in ids if not sim.up[i]], action[1])
        if node is not None:
            sim.restart(node)
    elif kind == "partition":
        node = _nth([i for i in ids if sim.up[i]], action[1])
        if node is not None:
            sim.partition([node], oneway=action[2])
    elif kind == "heal":
        sim.heal()
    elif kind in ("deliver", "drop"):
        msg = _nth([p for p in sim.pending() if p.kind == "message"], action[1])
        if msg is not None:
            getattr(sim, kind)(msg.name)
    elif kind == "fire":
        timer = _nth([p for p in sim.pending() if p.kind == "timer"], action[1])
        if timer is not None:
            sim.fire(timer.name)
    elif kind == "loss":
        sim.set_network(loss=action[1])
    else:  # pragma: no cover
        raise AssertionError(kind)


idx = st.integers(0, 7)
_INPUT = st.one_of(
    st.tuples(st.just("request"), idx, st.sampled_from(["a", "b", "c", 7])),
    st.tuples(st.just("crash"), idx),
    st.tuples(st.just("crash_point"), idx, st.integers(0, 4)),
    st.tuples(st.just("restart"), idx),
    st.tuples(st.just("partition"), idx, st.booleans()),
    st.tuples(st.just("heal")),
    st.tuples(st.just("deliver"), idx),
    st.tuples(st.just("drop"), idx),
    st.tuples(st.just("fire"), idx),
    st.tuples(st.just("loss"), st.sampled_from([0.0, 0.3])),
)
# A chunk is one input (or none) followed by a few single steps, so every run really moves.
_CHUNK = st.tuples(st.one_of(st.none(), _INPUT), st.integers(0, 15)).map(
    lambda c: ([c[0]] if c[0] else []) + [("step",)] * c[1])
_RUN_CHUNK = st.tuples(st.one_of(st.none(), _INPUT), st.integers(0, 6), st.integers(0, 60)).map(
    lambda c: ([c[0]] if c[0] else []) + [("step",)] * c[1] + [("run", c[2])])
_WARM_UP = [("request", 0, "first"), ("request", 2, "second")] + [("step",)] * 5
STEP_ONLY = st.lists(_CHUNK, min_size=3, max_size=20).map(lambda cs: _WARM_UP + [a for c in cs for a in c])
WITH_RUNS = st.lists(st.one_of(_CHUNK, _RUN_CHUNK), min_size=3, max_size=14).map(
    lambda cs: _WARM_UP + [a for c in cs for a in c])
ALTERNATIVE = st.lists(_CHUNK, max_size=5).map(
    lambda cs: [("request", 2, "other")] + [a for c in cs for a in c] + [("step",)] * 5)


def play(sim, actions):
    """Apply every action; return the (steps before, steps after) of each."""
    spans = []
    for action in actions:
        before = sim.steps
        apply(sim, action)
        spans.append((before, sim.steps))
    return spans


def fresh_to(seed, actions, spans, s, make=broadcast_sim):
    """A fresh run (no periodic snapshots) given the same inputs, stopped before step ``s + 1``.

    ``spans`` (the step count before and after each action, from the original
    run) only says which action takes step ``s + 1``; the fresh run takes its
    own steps.
    """
    sim = make(seed)
    sim.start()
    for action, (before, after) in zip(actions, spans):
        if after > s:
            if action[0] == "run":             # a run cut short: the same steps, one at a time
                while sim.steps < s:
                    sim.step()
            break
        apply(sim, action)
    assert sim.steps == s
    return sim


def canon(value):
    """A deterministic rendering of node state (sets sorted, dicts sorted)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        return "{" + ", ".join(f"{canon(k)}: {canon(v)}" for k, v in items) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(canon(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(canon(v) for v in value) + "]"
    return repr(value)


def fingerprint(sim):
    return {
        "trace": sim.trace.to_jsonl(),
        "now": sim.now,
        "steps": sim.steps,
        "up": dict(sim.up),
        "disks": {k: list(v) for k, v in sim.disks.items()},
        "states": {i: canon(n.state()) for i, n in sorted(sim.nodes.items())},
        "pending": [repr(p) for p in sim.pending()],
        "cuts": sorted(sim.network.cuts),
        "streams": [sim.streams.network.getstate(), sim.streams.faults.getstate()]
                   + [sim.streams.node(i).getstate() for i in sim.ids],
    }


def assert_same(a, b):
    fa, fb = fingerprint(a), fingerprint(b)
    for key in fa:
        assert fa[key] == fb[key], key


# ----------------------------------------------------------------- rewind == fresh run
@SETTINGS
@given(seed=st.integers(0, 2**16), actions=STEP_ONLY, where=st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_rewind_to_any_step_equals_a_fresh_run_stopped_there(seed, actions, where):
    sim = broadcast_sim(seed, every=7)
    spans = play(sim, actions)
    total = sim.total_steps
    assert total == sim.steps == spans[-1][1]
    assert len(sim._snaps) > 1 or total < 14   # snapshots really are taken (and so used)
    targets = [0, total] + [int(f * total) for f in where]
    for s in targets:                          # backwards and forwards, in drawn order
        sim.rewind(s)
        assert sim.steps == s and sim.total_steps == total
        assert_same(sim, fresh_to(seed, actions, spans, s))


@SETTINGS
@given(seed=st.integers(0, 2**16), actions=WITH_RUNS, where=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_rewind_into_the_middle_of_a_run_equals_the_same_steps_taken_one_by_one(seed, actions, where):
    sim = broadcast_sim(seed, every=7)
    spans = play(sim, actions)
    total = sim.total_steps
    for s in [total] + [int(f * total) for f in where]:
        sim.rewind(s)
        assert_same(sim, fresh_to(seed, actions, spans, s))


@SETTINGS
@given(seed=st.integers(0, 2**16), actions=STEP_ONLY, where=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_rewinding_back_then_forward_again_gives_the_original_run_back(seed, actions, where):
    sim = broadcast_sim(seed, every=7)
    play(sim, actions)
    original, log = fingerprint(sim), [repr(e) for e in sim.log]
    total = sim.total_steps
    for f in where:
        sim.rewind(int(f * total))
    sim.rewind(total)
    assert fingerprint(sim) == original
    assert [repr(e) for e in sim.log] == log   # looking around changes no input


@SETTINGS
@given(seed=st.integers(0, 2**16), actions=STEP_ONLY, where=st.floats(0, 1), other=ALTERNATIVE)
def test_rewind_then_a_different_choice_equals_a_fresh_run_making_that_choice(seed, actions, where, other):
    sim = broadcast_sim(seed, every=7)
    spans = play(sim, actions)
    s = int(where * sim.total_steps)
    sim.rewind(s)
    other_spans = play(sim, other)
    assert sim.total_steps == sim.steps          # the old future is forgotten
    ref = fresh_to(seed, actions, spans, s)
    play(ref, other)
    assert_same(sim, ref)
    # and the new timeline can itself be rewound
    mid = (s + sim.steps) // 2
    sim.rewind(mid)
    fresh = fresh_to(seed, actions, spans, s)
    for action, (_, after) in zip(other, other_spans):
        if after > mid:
            break
        apply(fresh, action)
    assert_same(sim, fresh)


@SETTINGS
@given(seed=st.integers(0, 2**16), actions=STEP_ONLY, where=st.floats(0, 1), other=ALTERNATIVE,
       rewind_first=st.booleans())
def test_fork_is_an_independent_copy(seed, actions, where, other, rewind_first):
    sim = broadcast_sim(seed, every=7)
    spans = play(sim, actions)
    total = sim.total_steps
    s = int(where * total) if rewind_first else total
    if rewind_first:
        sim.rewind(s)
    before = fingerprint(sim)
    fork = sim.fork()
    assert_same(fork, sim)
    play(fork, other)
    assert fingerprint(sim) == before            # the original is untouched
    assert sim.total_steps == total              # ... and so is its recorded future
    if rewind_first:
        ref = fresh_to(seed, actions, spans, s)
    else:                                        # forked at the very end, trailing inputs included
        ref = broadcast_sim(seed)
        play(ref, actions)
    play(ref, other)
    assert_same(fork, ref)
    sim.rewind(total)                            # the original can still go to its own end
    assert_same(sim, fresh_to(seed, actions, spans, total))
    assert_same(fork, ref)                       # ... without disturbing the fork


def test_forks_of_forks_and_the_original_go_their_own_ways():
    sim = broadcast_sim(3, every=5)
    play(sim, [("request", 0, "x")] + [("step",)] * 30)
    a = sim.fork()
    b = a.fork()
    a.crash("n2")
    b.request("n3", BroadcastRequest("y"))
    for x in (sim, a, b):
        x.run(until=x.now + 100)
    assert sim.up["n2"] and not a.up["n2"] and b.up["n2"]
    assert any(e["msg"] == BroadcastRequest("y") for e in b.trace.filter("request"))
    assert not any(e["msg"] == BroadcastRequest("y") for e in sim.trace.filter("request"))
    assert not sim.trace.filter("crashed") and not b.trace.filter("crashed")


def test_rewind_rejects_steps_outside_the_timeline():
    sim = broadcast_sim(1, every=7)
    play(sim, [("request", 0, "x")] + [("step",)] * 10)
    for bad in (-1, 11, 2.0, True, "3"):
        with pytest.raises(Exception, match="step must be a whole number from 0 to 10"):
            sim.rewind(bad)
    sim.rewind(10)


def test_rewinding_back_and_forward_keeps_inputs_made_after_the_last_step():
    sim = broadcast_sim(2, every=7)
    play(sim, [("request", 0, "x")] + [("step",)] * 20)
    sim.crash("n2")                      # an input after the last step
    original = fingerprint(sim)
    assert sim.total_steps == sim.steps == 20
    sim.rewind(5)
    assert sim.up["n2"]
    sim.rewind(sim.total_steps)
    assert fingerprint(sim) == original  # the crash is back
    sim.rewind(sim.steps)                # rewinding to the present changes nothing
    assert fingerprint(sim) == original
    sim.rewind(0)                        # inputs before the first step belong to step 0
    assert sim.trace.filter("request") and not sim.trace.filter("crashed")


def test_rewind_past_a_run_that_hit_its_step_limit():
    sim = broadcast_sim(4, every=7)
    sim.request("n1", BroadcastRequest("x"))
    with pytest.raises(StepLimit):
        sim.run(until=500, max_steps=10)
    assert sim.steps == 10 and sim.now < 500
    sim.step()
    sim.step()
    original = fingerprint(sim)
    sim.rewind(3)
    sim.rewind(12)
    assert fingerprint(sim) == original


class Go(Message):
    """Client -> node: do a few things (how many depends on a hidden, global counter)."""


_CALLS = []


class Forgetful(Node):
    """Not deterministic: behaves differently the second time a handler runs (a student's bug)."""

    def on_go(self, msg, sender):
        _CALLS.append(1)
        if len(_CALLS) == 1:
            for k in range(5):
                self.note("x", k=k)


def test_a_replay_that_diverges_fails_loudly_instead_of_hanging():
    import signal

    from fttoolkit.core.errors import FtError

    def too_long(signum, frame):
        raise TimeoutError("rewind hung")

    _CALLS.clear()
    sim = Simulation(Forgetful, topology=1, seed=0)
    sim.request("n1", Go())
    for _ in range(5):
        sim.step()
    old = signal.signal(signal.SIGALRM, too_long)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(FtError):
            sim.rewind(3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_the_input_log_records_each_input_once_with_its_steps():
    sim = broadcast_sim(1)
    sim.request("n1", BroadcastRequest("x"))
    for _ in range(3):
        sim.step()
    sim.crash("n2")
    with pytest.raises(Exception):
        sim.crash("n2")                  # refused: not an input
    sim.run(until=40)
    log = sim.log
    assert [(e.name, e.at_step) for e in log] == [("request", 0), ("step", 0), ("crash", 3), ("run", 3)]
    assert repr(log[1]) == "[0->3] step(3)"
    assert repr(log[2]) == "[3->3] crash('n2')"
    assert log[3].args == (40,) and log[3].end_step == sim.steps == sim.total_steps
    sim.log.clear()                      # a copy: the run's own log is untouched
    assert len(sim.log) == 4
    sim.rewind(2)
    assert [repr(e) for e in sim.log] == [repr(e) for e in log]   # the future is kept...
    sim.crash("n3")                      # ... until a new input replaces it
    assert [repr(e) for e in sim.log] == ["[0->0] request('n1', BroadcastRequest(value='x'))",
                                          "[0->2] step(2)", "[2->2] crash('n3')"]
    assert sim.total_steps == 2


def test_rewind_restores_a_halted_run_and_the_fault_record():
    sim = broadcast_sim(5, every=7)
    sim.fault_record = []
    sim.schedule(3, "crash", "n2")
    sim.schedule(40, "restart", "n2")
    sim.request("n1", BroadcastRequest("x"))
    sim.run(until=100)
    assert [r[1] for r in sim.fault_record] == ["crash", "restart"]
    crash_step = next(s for s in range(sim.total_steps + 1)
                      if (sim.rewind(s), not sim.up["n2"])[1])
    sim.rewind(crash_step - 1)
    assert sim.fault_record == []
    sim.rewind(sim.total_steps)
    assert [r[1] for r in sim.fault_record] == ["crash", "restart"]


# ------------------------------------------------------------------------- fault records
def _chaos(seed, record=True):
    sim = Simulation(BroadcastNode, topology=5, seed=seed, network={"delay": (1, 15), "loss": 0.05})
    if record:
        sim.fault_record = []
    sim.inject_faults(crash=0.4, crash_point=0.08, tear=0.6, partition=0.4, oneway=0.3, stop_at=1200)
    for k in range(6):
        sim.schedule(50 * k, "request", f"n{1 + k % 5}", BroadcastRequest(f"v{k}"))
    sim.run(until=2500)
    return sim


FAULT_SEEDS = range(6)


@pytest.mark.parametrize("seed", FAULT_SEEDS)
def test_the_fault_record_replays_without_the_injector_to_a_byte_identical_trace(seed):
    sim = _chaos(seed)
    record = list(sim.fault_record)
    assert record and all(not action.startswith("_") for _, action, _, _ in record)
    replay = Simulation(BroadcastNode, topology=5, seed=seed, network={"delay": (1, 15), "loss": 0.05})
    replay.start()
    for tick, action, args, kwargs in record:
        replay.schedule(tick, action, *args, **kwargs)
    replay.run(until=2500)
    assert replay.injector is None
    assert replay.trace.to_jsonl() == sim.trace.to_jsonl()


def test_the_fault_records_cover_every_kind_of_fault():
    kinds = set()
    for seed in FAULT_SEEDS:
        for _, action, args, kwargs in _chaos(seed).fault_record:
            kinds.add(action)
            if action == "crash" and "after" in kwargs:
                kinds.add("crash point")
                if "tear" in kwargs:
                    kinds.add("torn crash point")
    assert {"request", "crash", "restart", "partition", "heal", "crash point", "torn crash point"} <= kinds


def test_recording_faults_does_not_change_the_run():
    assert _chaos(3, record=True).trace.to_jsonl() == _chaos(3, record=False).trace.to_jsonl()


def test_rewind_with_a_fault_injector_equals_a_fresh_run_stepped_to_there():
    def make():
        sim = Simulation(BroadcastNode, topology=5, seed=11, network={"delay": (1, 15), "loss": 0.05})
        sim.inject_faults(crash=0.4, crash_point=0.08, tear=0.6, partition=0.4, stop_at=800)
        for k in range(4):
            sim.schedule(50 * k, "request", f"n{1 + k}", BroadcastRequest(f"v{k}"))
        return sim

    sim = make()
    sim.snapshot_every = 7
    sim.run(until=1500)
    total = sim.total_steps
    assert sim.trace.filter("crashed")
    for s in (total, total // 3, 0, 2 * total // 3, total - 1):
        sim.rewind(s)
        fresh = make()
        if s == total:     # the run ended there (its clock moved on to until=1500)
            fresh.run(until=1500)
        for _ in range(s - fresh.steps):
            fresh.step()
        assert_same(sim, fresh)


# --------------------------------------------------------------------------- crash points
class Do(Message):
    """Client -> node: note ``n`` times (``n`` intentions)."""

    n: int
    tag: str


class Put(Message):
    """Client -> node: one storage write of ``records``, then a note."""

    records: tuple


class Worker(Node):
    def on_start(self, records):
        self.done = []

    def on_do(self, msg, sender):
        self.done.append(msg.tag)
        for k in range(msg.n):
            self.note("work", tag=msg.tag, k=k)

    def on_put(self, msg, sender):
        self.persist(*msg.records)
        self.note("put")


def worker_sim():
    sim = Simulation(Worker, topology=2, seed=0, network={"delay": 3})
    sim.start()
    return sim


def _between(sim, first_kind, node="n1"):
    """The events of ``node`` after its last ``first_kind`` event up to its crash."""
    events = list(sim.trace)
    (crash,) = [e for e in events if e.kind == "crashed"]
    start = max(e.seq for e in events if e.kind == first_kind and e.node == node and e.seq < crash.seq)
    return [e for e in events[start + 1:crash.seq] if e.node == node], crash


@pytest.mark.parametrize("k", range(6))
def test_a_crash_point_crashes_after_exactly_k_intentions_of_the_next_handler(k):
    sim = worker_sim()
    sim.crash("n1", after=k)
    assert sim.up["n1"]                    # armed, not crashed
    sim.request("n1", Do(4, "a"))
    sim.run()
    between, crash = _between(sim, "request")
    done = min(k, 4)
    assert [(e.kind, e["fields"]["k"]) for e in between] == [("note", j) for j in range(done)]
    assert crash["lost_intentions"] == 4 - done
    assert not sim.up["n1"]


@pytest.mark.parametrize("skip", [0, 1, 3])
def test_skip_lets_that_many_handlers_run_first(skip):
    sim = worker_sim()
    sim.crash("n1", after=2, skip=skip)
    for j in range(skip + 2):
        sim.request("n1", Do(3, f"r{j}"))
        sim.run()
        if not sim.up["n1"]:
            break
    notes = [(e["fields"]["tag"], e["fields"]["k"]) for e in sim.trace.filter("note", node="n1")]
    assert notes == [(f"r{j}", k) for j in range(skip) for k in range(3)] + [(f"r{skip}", 0), (f"r{skip}", 1)]
    assert not sim.up["n1"]
    assert sim.nodes["n1"].done == [f"r{j}" for j in range(skip + 1)]


def test_skip_counts_batches_and_handlers_queued_together_form_one():
    # Documented in Simulation.crash: three handlers whose intentions queue up before any
    # step form one batch, so skip=1 lets all three go by, and the point waits for the next.
    sim = worker_sim()
    sim.crash("n1", after=0, skip=1)
    for tag in "abc":                          # three handlers before any step
        sim.request("n1", Do(3, tag))
    sim.run()
    notes = [(e["fields"]["tag"], e["fields"]["k"]) for e in sim.trace.filter("note", node="n1")]
    assert len(notes) == 9 and sim.up["n1"]
    sim.request("n1", Do(3, "d"))              # the next batch: crash before its first intention
    sim.run()
    assert not sim.up["n1"] and len(sim.trace.filter("note", node="n1")) == 9


@pytest.mark.parametrize("tear", [0, 1, 2])
def test_a_crash_point_with_tear_tears_the_write(tear):
    records = (("r", 0), ("r", 1), ("r", 2))
    sim = worker_sim()
    sim.crash("n1", after=0, tear=tear)
    sim.request("n1", Put(records))
    sim.run()
    assert sim.disks["n1"] == list(records[:tear]) + [Torn(records[tear])]
    (stored,) = sim.trace.filter("stored")
    assert stored["torn"] is True
    between, crash = _between(sim, "request")
    assert [e.kind for e in between] == ["stored"] and crash["torn"] is True
    assert crash["lost_intentions"] == 2       # the torn write and the note
    assert not sim.trace.filter("note")


def test_a_crash_point_with_tear_but_no_write_there_crashes_without_tearing():
    sim = worker_sim()
    sim.crash("n1", after=1, tear=0)           # the 2nd intention is a note, not a write
    sim.request("n1", Put((("r", 0),)))
    sim.run()
    assert sim.disks["n1"] == [("r", 0)]
    (crash,) = sim.trace.filter("crashed")
    assert crash["torn"] is False and crash["lost_intentions"] == 1


def test_a_scheduled_crash_point_counts_the_handlers_of_its_tick_whatever_the_order():
    sim = worker_sim()
    sim.schedule(10, "request", "n1", Do(3, "early"))   # scheduled first, same tick
    sim.schedule(10, "crash", "n1", after=1)
    sim.run()
    notes = [(e["fields"]["tag"], e["fields"]["k"]) for e in sim.trace.filter("note", node="n1")]
    assert notes == [("early", 0)]
    assert not sim.up["n1"]


def test_crash_point_arguments_are_checked():
    sim = worker_sim()
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(Exception, match="after must be a whole number"):
            sim.crash("n1", after=bad)
        with pytest.raises(Exception, match="skip must be a whole number"):
            sim.crash("n1", after=0, skip=bad)
    with pytest.raises(Exception):
        sim.crash("n9", after=0)


@pytest.mark.parametrize("k", [0, 2, 4])
def test_a_crash_point_follows_rewind(k):
    def make():
        sim = worker_sim()
        sim.crash("n1", after=k)
        sim.request("n1", Do(4, "a"))
        return sim

    sim = make()
    sim.snapshot_every = 2
    sim.run()
    original = sim.trace.to_jsonl()
    total = sim.total_steps
    for s in [1, total, 0] + list(range(total, -1, -1)):
        sim.rewind(s)
        fresh = make()
        for _ in range(s):
            fresh.step()
        assert sim.trace.to_jsonl() == fresh.trace.to_jsonl()
        assert sim.up == fresh.up
    sim.rewind(total)
    assert sim.trace.to_jsonl() == original


# ---------------------------------------------------------------------------- memory
def test_snapshots_stay_bounded_by_thinning_and_rewind_stays_exact():
    def make():
        sim = Simulation(BroadcastNode, topology=5, seed=9, network={"delay": (1, 20), "loss": 0.3},
                         params={"retry_ticks": 15})
        for k in range(12):
            sim.schedule(40 * k, "request", f"n{1 + k % 5}", BroadcastRequest(k))
        return sim

    sim = make()
    sim.snapshot_every = 7
    sim.max_snapshots = 8
    seen = []
    actions = [("run", 100)] * 30
    spans = []
    for action in actions:
        before = sim.steps
        apply(sim, action)
        spans.append((before, sim.steps))
        seen.append(len(sim._snaps))
    assert sim.steps > 7 * 8 * 8                # long enough to thin out several times
    assert max(seen) <= 8
    assert sim._snaps[0][0] == 0                # the start is always kept
    steps = [sn[0] for sn in sim._snaps]
    assert steps == sorted(steps)
    assert sim.snapshot_every > 7 and sim.snapshot_every % 7 == 0
    ratio = sim.snapshot_every // 7
    assert ratio & (ratio - 1) == 0              # doubled each time
    used = []
    restore = sim._restore
    sim._restore = lambda snap: (used.append(snap[0]), restore(snap))[1]
    total = sim.total_steps
    for s in (total - 3, total // 2, 1):
        sim.rewind(s)
        assert used[-1] == max(st_ for st_ in steps if st_ < s)
        assert_same(sim, fresh_to(9, actions, spans, s, make=lambda seed: make()))
