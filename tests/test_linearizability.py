"""The linearizability checker, the Jepsen history reader, ``lincheck`` and the history view.

Verdicts are checked against histories whose answer is known by construction
(a simulated atomic object, a sequential run, then perturbed), against a
brute-force checker that tries every order, against the ``kv`` histories
whose names carry their answer, and every "linearizable" answer is checked
by replaying its linearization order.
"""

import dataclasses
import itertools
import pathlib
import random
import re
import subprocess
import sys

import pytest

from fttoolkit.check.linearizability import KV, REGISTER, check, describe_operation, parse_history, read_history
from fttoolkit.cli import main
from fttoolkit.core.errors import BadParameter, FtError
from fttoolkit.core.history import Operation as Op

ORACLES = pathlib.Path(__file__).resolve().parent / "data" / "oracles" / "linearizability"
KV_FILES = sorted((ORACLES / "kv").glob("*.txt"))
ETCD_FILES = sorted((ORACLES / "jepsen").glob("etcd_*.log"))
needs_oracles = pytest.mark.skipif(not KV_FILES or not ETCD_FILES, reason="the oracle histories are not here")


# ---------------------------------------------------------------------------------------------
# An independent sequential specification, a brute-force checker and a certificate checker


def replay(model, ops):
    """Apply ``ops`` one at a time to a fresh object; True if every completed answer matches."""
    state = {} if model == "kv" else None
    for op in ops:
        if model == "kv":
            current = state.get(op.key, "")
            if op.kind == "get" and op.ret is not None and op.output != current:
                return False
            if op.kind == "put":
                state[op.key] = op.value
            elif op.kind == "append":
                state[op.key] = current + op.value
        elif op.kind == "read":
            if op.ret is not None and op.output != state:
                return False
        elif op.kind == "write":
            state = op.value
        else:
            old, new = op.value
            swapped = state == old
            if op.ret is not None and op.output is not swapped:
                return False
            if swapped:
                state = new
    return True


def respects_real_time(ops):
    """No operation comes after one that was invoked after it returned."""
    return all(not (b.ret is not None and b.ret < a.call) for i, a in enumerate(ops) for b in ops[i + 1:])


def brute_force(model, history):
    """Try every subset of the never-returned operations and every order: is one legal?"""
    done = [op for op in history if op.ret is not None]
    pending = [op for op in history if op.ret is None]
    for size in range(len(pending) + 1):
        for chosen in itertools.combinations(pending, size):
            for order in itertools.permutations(done + list(chosen)):
                if respects_real_time(list(order)) and replay(model, order):
                    return True
    return False


def assert_certificate(model, history, result):
    """``result.order`` is a linearization of ``history``: complete, in real-time order, legal."""
    assert result.verdict == "linearizable" and result.ok
    placed = [op for order in result.order.values() for op in order]
    assert len(placed) == len(set(map(id, placed)))
    must = [op for op in history if op.ret is not None]
    assert {id(op) for op in must} <= set(map(id, placed))
    assert all(op.ret is not None or op.kind not in ("read", "get") for op in placed)
    for key, order in result.order.items():
        assert all(op.key == key for op in order)
        assert respects_real_time(order), key
        assert replay(model, order), key


def assert_valid_prefix(model, result):
    """``result.partial`` could start a linearization of the failing part, and no more can be added."""
    prefix, part = result.partial, result.failing
    assert replay(model, prefix) and respects_real_time(prefix)
    inside = set(map(id, prefix))
    for op in part:   # nothing outside the prefix had to come before something inside it
        if id(op) not in inside:
            assert not any(op.ret is not None and op.ret < b.call for b in prefix)
    assert result.stuck and all(id(op) not in inside for op in result.stuck)


# ---------------------------------------------------------------------------------------------
# Histories with known answers


def atomic_history(rng, model, clients=4, ops=12, keys=("x", "y"), values=4, pending=0.1, span=6):
    """Clients call a simulated atomic object: each operation takes effect at one random instant
    inside its interval (or, if it never returns, at a random instant after its call, or never)."""
    drafts, free, ids = [], [0] * clients, list(range(clients))
    for n in range(ops):
        slot = rng.randrange(clients)
        client, call = ids[slot], free[slot] + rng.randrange(3)
        never = rng.random() < pending
        ret = None if never else call + 1 + rng.randrange(span)
        if never:
            point = (call + rng.random() * 3 * span) if rng.random() < 0.6 else None
            ids[slot] += clients    # a client that never heard back is replaced (as Jepsen does)
        else:
            point = call + rng.random() * (ret - call)
        free[slot] = (call if ret is None else ret) + 1
        if model == "kv":
            kind = rng.choice(("get", "put", "append"))
            value = None if kind == "get" else f"{n}."
            key = rng.choice(keys)
        else:
            kind = rng.choice(("read", "write", "cas"))
            value = {"read": None, "write": rng.randrange(values),
                     "cas": (rng.randrange(values), rng.randrange(values))}[kind]
            key = None
        drafts.append([client, kind, key, value, None, call, ret, point])
    # apply in the order of the instants they took effect
    state = {} if model == "kv" else None
    for draft in sorted((d for d in drafts if d[7] is not None), key=lambda d: d[7]):
        _, kind, key, value, _, _, ret, _ = draft
        if model == "kv":
            current = state.get(key, "")
            if kind == "get":
                draft[4] = current
            else:
                state[key] = value if kind == "put" else current + value
        elif kind == "read":
            draft[4] = state
        elif kind == "write":
            state = value
        else:
            draft[4] = state == value[0]
            if draft[4]:
                state = value[1]
        if ret is None:
            draft[4] = None
    return [Op(*d[:7]) for d in drafts]


def sequential_history(rng, model, ops=14):
    """One operation at a time: each invoked after the previous one returned."""
    history = atomic_history(rng, model, clients=1, ops=ops, pending=0, span=1)
    return [Op(rng.randrange(3), op.kind, op.key, op.value, op.output, 3 * n, 3 * n + 1)
            for n, op in enumerate(history)]


def random_history(rng, model, ops=6, clients=3, pending=0.2):
    """Concurrent operations with random answers (either verdict)."""
    history, free, ids = [], [0] * clients, list(range(clients))
    for n in range(ops):
        slot = rng.randrange(clients)
        client, call = ids[slot], free[slot] + rng.randrange(3)
        ret = None if rng.random() < pending else call + 1 + rng.randrange(5)
        free[slot] = (call if ret is None else ret) + 1
        if ret is None:
            ids[slot] += clients
        if model == "kv":
            kind = rng.choice(("get", "put", "append"))
            value = None if kind == "get" else rng.choice("ab")
            output = rng.choice(("", "a", "b", "ab", "ba", "aa")) if kind == "get" and ret is not None else None
            history.append(Op(client, kind, rng.choice("xy"), value, output, call, ret))
        else:
            kind = rng.choice(("read", "write", "cas"))
            value = {"read": None, "write": rng.randrange(3), "cas": (rng.randrange(3), rng.randrange(3))}[kind]
            output = None
            if ret is not None and kind == "read":
                output = rng.choice((None, 0, 1, 2))
            elif ret is not None and kind == "cas":
                output = rng.random() < 0.5
            history.append(Op(client, kind, None, value, output, call, ret))
    return history


# ---------------------------------------------------------------------------------------------
# The checker


def test_a_stale_read_is_not_linearizable_and_a_fresh_one_is():
    write1 = Op("a", "write", None, 1, None, 0, 2)
    write2 = Op("b", "write", None, 2, None, 3, 5)
    stale = Op("c", "read", None, None, 1, 6, 8)
    result = check([write1, write2, stale], model="register")
    assert result.verdict == "not linearizable" and not result.ok and result.order is None
    assert result.failing == [write1, write2, stale] and result.failing_key is None
    assert_valid_prefix("register", result)
    fresh = Op("c", "read", None, None, 2, 6, 8)
    result = check([write1, write2, fresh], model="register")
    assert result.order == {None: [write1, write2, fresh]}
    # overlapping the second write, the old value is fine
    early = Op("c", "read", None, None, 1, 4, 8)
    assert check([write1, write2, early], model="register").order[None] == [write1, early, write2]


def test_a_missing_key_reads_as_the_empty_string():
    assert check([Op(1, "get", "k", None, "", 0, 1)], model="kv").ok
    assert not check([Op(1, "get", "k", None, None, 0, 1)], model="kv").ok
    assert check([Op(1, "append", "k", "a", None, 0, 1), Op(1, "append", "k", "b", None, 2, 3),
                  Op(2, "get", "k", None, "ab", 4, 5)], model="kv").ok


@pytest.mark.parametrize("later_read, verdict", [(1, "linearizable"), (None, "linearizable")])
def test_an_operation_that_never_returned_may_take_effect_or_not(later_read, verdict):
    lost = Op("a", "write", None, 1, None, 0, None)
    assert check([lost, Op("b", "read", None, None, later_read, 5, 6)], model="register").verdict == verdict


def test_once_seen_a_never_returned_write_stays():
    lost = Op("a", "write", None, 1, None, 0, None)
    nil_then_1 = [Op("b", "read", None, None, None, 2, 3), Op("b", "read", None, None, 1, 4, 5)]
    one_then_nil = [Op("b", "read", None, None, 1, 2, 3), Op("b", "read", None, None, None, 4, 5)]
    assert check([lost] + nil_then_1, model="register").ok            # it took effect between the reads
    assert not check([lost] + one_then_nil, model="register").ok      # it cannot be undone


def test_a_never_returned_operation_cannot_take_effect_before_its_call():
    result = check([Op("b", "read", None, None, 1, 0, 1), Op("a", "write", None, 1, None, 2, None)],
                   model="register")
    assert result.verdict == "not linearizable"


def test_a_never_returned_read_constrains_nothing_and_is_left_out():
    lost_read = Op("a", "read", None, None, 42, 0, None)   # whatever it says: nobody heard the answer
    result = check([lost_read, Op("b", "write", None, 1, None, 1, 2)], model="register")
    assert result.ok and result.order[None] == [Op("b", "write", None, 1, None, 1, 2)]


def test_a_never_returned_cas_swaps_only_if_the_old_value_matches():
    cas = Op("a", "cas", None, (0, 5), None, 2, None)
    base = [Op("b", "write", None, 0, None, 0, 1), cas]
    assert check(base + [Op("c", "read", None, None, 5, 4, 5)], model="register").ok
    assert check(base + [Op("c", "read", None, None, 0, 4, 5)], model="register").ok
    other = [Op("b", "write", None, 1, None, 0, 1), cas, Op("c", "read", None, None, 5, 4, 5)]
    assert not check(other, model="register").ok


def test_a_failed_cas_is_a_read_of_another_value():
    write = Op("a", "write", None, 3, None, 0, 1)
    assert check([write, Op("b", "cas", None, (2, 4), False, 2, 3)], model="register").ok
    assert not check([write, Op("b", "cas", None, (3, 4), False, 2, 3)], model="register").ok
    assert not check([write, Op("b", "cas", None, (2, 4), True, 2, 3)], model="register").ok


def test_events_at_the_same_instant_count_as_concurrent():
    write = Op("a", "write", None, 1, None, 0, 5)
    read_before = Op("b", "read", None, None, None, 5, 6)   # invoked the tick the write returned
    assert check([write, read_before], model="register").ok


def test_the_history_splits_by_key_and_the_smallest_failing_part_is_reported():
    bad_small = [Op(1, "put", "a", "1", None, 0, 1), Op(1, "get", "a", None, "2", 2, 3)]
    bad_big = [Op(2, "put", "b", "1", None, 0, 1), Op(2, "put", "b", "2", None, 2, 3),
               Op(2, "put", "b", "3", None, 4, 5), Op(2, "get", "b", None, "1", 6, 7)]
    good = [Op(3, "get", "c", None, "", 0, 1)]
    result = check(bad_big + good + bad_small, model="kv")
    assert result.verdict == "not linearizable"
    assert result.parts == 3 and result.checked == 2          # c (1 op), then a (2 ops): stop there
    assert result.failing_key == "a" and result.failing == bad_small
    assert "key 'a'" in result.explain()
    assert check(bad_big + good, model="kv").failing_key == "b"


def test_sequential_runs_are_linearizable_and_any_changed_answer_is_not():
    rng = random.Random(7)
    changed = 0
    for model in ("register", "kv"):
        for _ in range(40):
            history = sequential_history(rng, model)
            assert_certificate(model, history, check(history, model=model))
            reads = [n for n, op in enumerate(history) if op.kind in ("read", "get", "cas")]
            n = rng.choice(reads)
            op = history[n]
            if op.kind == "cas":
                wrong = not op.output
            elif model == "kv":
                wrong = op.output + "z" if rng.random() < 0.5 else rng.choice(
                    [v.output for v in history[:n] if v.kind == "get" and v.output != op.output] or ["zz"])
            else:
                wrong = 99 if rng.random() < 0.5 else rng.choice(
                    [v.value for v in history[:n] if v.kind == "write" and v.value != op.output] or [98])
            bad = history[:n] + [Op(op.client, op.kind, op.key, op.value, wrong, op.call, op.ret)] + history[n + 1:]
            result = check(bad, model=model)
            assert result.verdict == "not linearizable", (model, n, bad)
            assert_valid_prefix(model, result)
            changed += 1
    assert changed == 80


@pytest.mark.parametrize("model", ["register", "kv"])
def test_histories_of_a_simulated_atomic_object_are_linearizable(model):
    rng = random.Random(11)
    for _ in range(60):
        history = atomic_history(rng, model, clients=5, ops=30)
        assert_certificate(model, history, check(history, model=model))


@pytest.mark.parametrize("model", ["register", "kv"])
def test_a_read_of_a_value_never_written_is_caught(model):
    rng = random.Random(5)
    for _ in range(30):
        history = atomic_history(rng, model, clients=4, ops=20, pending=0)
        n = next(i for i, op in enumerate(history) if op.kind in ("read", "get"))
        op = history[n]
        history[n] = Op(op.client, op.kind, op.key, None, "never" if model == "kv" else 1000, op.call, op.ret)
        assert check(history, model=model).verdict == "not linearizable"


@pytest.mark.parametrize("model", ["register", "kv"])
def test_agrees_with_brute_force_on_small_random_histories(model):
    rng = random.Random(2024)
    verdicts = {True: 0, False: 0}
    for _ in range(300):
        history = random_history(rng, model, ops=rng.randrange(1, 7))
        expected = brute_force(model, history)
        result = check(history, model=model)
        assert result.ok == expected, history
        if expected:
            assert_certificate(model, history, result)
        else:
            assert_valid_prefix(model, result)
        verdicts[expected] += 1
    assert verdicts[True] >= 60 and verdicts[False] >= 60, verdicts


@pytest.mark.slow
@pytest.mark.parametrize("model", ["register", "kv"])
def test_agrees_with_brute_force_on_more_and_longer_histories(model):
    rng = random.Random(99)
    verdicts = {True: 0, False: 0}
    for _ in range(1000):
        history = random_history(rng, model, ops=rng.randrange(1, 8), clients=rng.randrange(1, 5))
        expected = brute_force(model, history)
        assert check(history, model=model).ok == expected, history
        verdicts[expected] += 1
    assert verdicts[True] >= 200 and verdicts[False] >= 200, verdicts


def test_same_history_same_answer_and_order():
    history = atomic_history(random.Random(3), "kv", clients=6, ops=60)
    first, second = check(history, model="kv"), check(list(reversed(history)), model="kv")
    assert first.order == second.order and first.steps == second.steps


def _hard_history(writers):
    """Concurrent writes of distinct values and a read of a value none wrote: 2^writers states."""
    ops = [Op(f"w{k}", "write", None, k, None, 1 + k, 100) for k in range(writers)]
    return ops + [Op("r", "read", None, None, -1, 0, 200)]


def test_a_step_limit_answers_unknown():
    assert check(_hard_history(6), model="register").verdict == "not linearizable"
    result = check(_hard_history(16), model="register", max_steps=5000)
    assert result.verdict == "unknown" and not result.ok and result.steps == 5000
    assert result.order is None and result.failing is None
    assert "limit of 5000 steps" in result.explain()


def test_a_memory_limit_answers_unknown():
    result = check(_hard_history(20), model="register", max_states=1000)
    assert result.verdict == "unknown" and result.states >= 1000
    assert "limit of 1000 remembered states" in result.explain()


@pytest.mark.parametrize("model", [REGISTER, KV])
def test_the_read_first_pruning_and_the_compiled_steps_change_no_verdict(model):
    plain = dataclasses.replace(model, observes=None, compile=None)    # the textbook search
    rng = random.Random(31)
    for _ in range(150):
        history = random_history(rng, model.name, ops=rng.randrange(4, 12), clients=4)
        fast, slow = check(history, model=model), check(history, model=plain)
        assert fast.verdict == slow.verdict, history
        if fast.ok:
            assert_certificate(model.name, history, fast)
            assert_certificate(model.name, history, slow)


def test_a_time_limit_answers_unknown_instead_of_exhausting_memory():
    result = check(_hard_history(26), model="register", timeout_s=0.05)
    assert result.verdict == "unknown" and "time limit" in result.explain()


@pytest.mark.parametrize("call, message", [
    (lambda: check("abc"), "list of Operation"),
    (lambda: check([1]), "not an Operation"),
    (lambda: check([Op(1, "read", None, None, 0, 0, 1)], model="kv"), "the kv model has get, put, append"),
    (lambda: check([], model="queue"), "unknown model 'queue'"),
    (lambda: check([], timeout_s=0), "timeout_s"),
    (lambda: check([], max_steps=-1), "max_steps"),
    (lambda: check([Op(1, "cas", None, 3, None, 0, 1)], model="register"), "(old, new)"),
    (lambda: check([Op(1, "append", "k", 3, None, 0, 1)], model="kv"), "appends strings"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises(BadParameter, match=re.escape(message)):
        call()


def test_models_step_as_specified():
    assert REGISTER.step(None, Op(1, "read", None, None, None, 0, 1)) == (True, None)
    assert REGISTER.step(2, Op(1, "cas", None, (1, 3), False, 0, 1)) == (True, 2)
    assert KV.step("a", Op(1, "append", "k", "b", None, 0, 1)) == (True, "ab")
    assert describe_operation(Op(1, "put", "x", "1", None, 0, 1)) == "put(x,'1')"
    assert describe_operation(Op(1, "read", None, None, 3, 0, 1)) == "read→3"
    assert describe_operation(Op(1, "cas", None, (1, 2), True, 0, 1)) == "cas(1,2)→true"


# ---------------------------------------------------------------------------------------------
# Reading Jepsen histories


def test_reads_jepsen_key_value_maps(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text('{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}\n'
                    '{:process 1, :type :invoke, :f :get, :key "0", :value nil}\n'
                    '{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}\n'
                    '{:process 1, :type :ok, :f :get, :key "0", :value "x 0 \\"0\\" y"}\n'
                    '{:process 2, :type :invoke, :f :put, :key "1", :value "a"}\n'
                    '{:process 2, :type :fail, :f :put, :key "1", :value "a"}\n'
                    '{:process 3, :type :invoke, :f :put, :key "1", :value "b"}\n'
                    '{:process 3, :type :info, :f :put, :key "1", :value "b"}\n'
                    '{:process 4, :type :invoke, :f :put, :key "2", :value "c"}\n')
    model, ops = read_history(path)
    assert model == "kv"
    assert ops == [Op(0, "append", "0", "x 0 0 y", None, 1, 3), Op(1, "get", "0", None, 'x 0 "0" y', 2, 4),
                   Op(3, "put", "1", "b", None, 7, None), Op(4, "put", "2", "c", None, 9, None)]


def test_reads_jepsen_etcd_logs_with_tabs_or_spaces():
    text = ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
            "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
            "INFO  jepsen.util - 1   :invoke :cas    [3 0]\n"
            "INFO  jepsen.util - 2\t:invoke\t:write\t4\n"
            "INFO  jepsen.util - 1   :fail   :cas    [3 0]\n"
            "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
            "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
            "INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n"
            "INFO  jepsen.util - 4\t:invoke\t:cas\t[1 2]\n"
            "INFO  jepsen.util - 4\t:ok\t:cas\t[1 2]\n"
            "INFO  jepsen.util - 5\t:invoke\t:read\tnil\n"
            "INFO  jepsen.util - 5\t:ok\t:read\t3\n")
    model, ops = parse_history(text, name="x.log")
    assert model == "register"
    assert ops == [Op(0, "read", None, None, None, 1, 2), Op(1, "cas", None, (3, 0), False, 3, 5),
                   Op(2, "write", None, 4, None, 4, None), Op(4, "cas", None, (1, 2), True, 9, 10),
                   Op(5, "read", None, None, 3, 11, 12)]


def test_an_empty_file_is_an_empty_history(tmp_path):
    (tmp_path / "e.log").write_text("")
    (tmp_path / "e.txt").write_text("\n")
    assert read_history(tmp_path / "e.log") == ("register", [])
    assert read_history(tmp_path / "e.txt") == ("kv", [])
    assert check([], model="register").ok and check([], model="register").explain() == \
        "linearizable: the history is empty"


@pytest.mark.parametrize("text, message", [
    ("hello\n", "line 1: not a Jepsen history"),
    ('{:process 0, :type :invoke, :f :get, :key "0", :value nil}\n{:process 0, :type :ok, :f :get :key}\n',
     "line 2: a map needs an even number of items"),
    ('{:process 0, :type :invoke, :f :inc, :key "0", :value nil}\n', "line 1: unknown :f ':inc'"),
    ('{:process 0, :type :ok, :f :get, :key "0", :value ""}\n', "line 1: process 0 completes a get it never invoked"),
    ('{:process 0, :type :invoke, :f :get, :key "0"}\n{:process 0, :type :invoke, :f :get, :key "1"}\n',
     "line 2: process 0 invokes get while its get from line 1 is still open"),
    ('{:process 0, :type :invoke, :f :get, :key "0", :value "abc}\n', "line 1: unreadable characters"),
    ('{:process 0, :type :invoke, :f :get, :key "0"\n', "line 1: '{' is never closed"),
    ('{:process 0, :type :invoke, :f :get, :key "0"}\n{:process 0, :type :done, :f :get, :key "0"}\n',
     "line 2: unknown :type :done"),
    ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\n", "line 2: expected 'INFO"),
    ("INFO  jepsen.util - 0\t:invoke\t:cas\t5\n", "line 1: a cas needs [old new]"),
    ("INFO  jepsen.util - 0\t:invoke\t:incr\t5\n", "line 1: unknown operation :incr"),
])
def test_malformed_histories_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.log"
    path.write_text(text)
    with pytest.raises(FtError, match=re.escape(f"{path}, {message}")):
        read_history(path)


def test_unreadable_files_are_explained(tmp_path):
    with pytest.raises(FtError, match="cannot read the history .*No such file"):
        read_history(tmp_path / "missing.log")
    (tmp_path / "bin.log").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FtError, match="not UTF-8"):
        read_history(tmp_path / "bin.log")


# ---------------------------------------------------------------------------------------------
# The oracle histories


@needs_oracles
@pytest.mark.parametrize("path", KV_FILES, ids=lambda p: p.name)
def test_kv_histories_get_the_verdict_in_their_name(path):
    model, history = read_history(path)
    assert model == "kv" and len({op.key for op in history}) > 1
    result = check(history, model=model, timeout_s=60)
    assert result.verdict == ("linearizable" if path.stem.endswith("-ok") else "not linearizable")
    if result.ok:
        assert_certificate(model, history, result)
    else:
        assert_valid_prefix(model, result)
        # the smallest failing part: every smaller part has a linearization
        parts = {}
        for op in history:
            parts.setdefault(op.key, []).append(op)
        smaller = [key for key, ops in parts.items() if len(ops) < len(result.failing)]
        assert all(check(parts[key], model=model).ok for key in smaller)


@needs_oracles
def test_every_etcd_history_gets_a_definite_verdict_with_evidence():
    verdicts = {}
    for path in ETCD_FILES:
        model, history = read_history(path)
        assert model == "register"
        result = check(history, model=model, timeout_s=30)
        verdicts[path.name] = result.verdict
        if result.ok:
            assert_certificate(model, history, result)
        else:
            assert result.verdict == "not linearizable", path.name
            assert_valid_prefix(model, result)
    assert len(verdicts) == len(ETCD_FILES) > 100
    assert verdicts["etcd_095.log"] == "linearizable"      # the empty one


# ---------------------------------------------------------------------------------------------
# The command line


@needs_oracles
def test_lincheck_prints_one_line_per_file_and_exits_0(capsys):
    files = [str(p) for p in KV_FILES if p.name.startswith("c01")] + [str(ETCD_FILES[0])]
    assert main(["lincheck", *files, "--timeout", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    verdict = {f: check(*reversed(read_history(f))).verdict for f in files}
    assert lines == [f"{f}: {verdict[f]}" for f in files]
    assert {"linearizable", "not linearizable"} <= set(verdict.values())


@needs_oracles
def test_lincheck_runs_as_a_command():
    files = [str(p) for p in KV_FILES if p.name.startswith("c10")]
    out = subprocess.run([sys.executable, "-m", "fttoolkit", "lincheck", *files], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{files[0]}: not linearizable", f"{files[1]}: linearizable"]


def test_lincheck_explains_on_request(tmp_path, capsys):
    path = tmp_path / "h.log"
    path.write_text("INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n"
                    "INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\tnil\n")
    assert main(["lincheck", str(path), "--explain"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: not linearizable" and out[1].startswith("    not linearizable: these 2")


def test_lincheck_unreadable_file_and_bad_timeout_are_usage_errors(tmp_path, capsys):
    good = tmp_path / "ok.txt"
    good.write_text('{:process 0, :type :invoke, :f :get, :key "0", :value nil}\n'
                    '{:process 0, :type :ok, :f :get, :key "0", :value ""}\n')
    assert main(["lincheck", str(tmp_path / "missing.txt"), str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"{good}: linearizable\n"
    assert "fttoolkit: error: cannot read the history" in captured.err and "missing.txt" in captured.err
    assert main(["lincheck", str(good), "--timeout", "0"]) == 2
    assert "--timeout must be more than 0" in capsys.readouterr().err


def test_lincheck_answers_unknown_when_the_time_is_up(tmp_path, capsys):
    lines = [f"INFO  jepsen.util - {k}\t:invoke\t:write\t{k}" for k in range(1, 27)]
    lines = ["INFO  jepsen.util - 0\t:invoke\t:read\tnil"] + lines
    lines += [f"INFO  jepsen.util - {k}\t:ok\t:write\t{k}" for k in range(1, 27)]
    lines += ["INFO  jepsen.util - 0\t:ok\t:read\t99"]
    path = tmp_path / "hard.log"
    path.write_text("\n".join(lines) + "\n")
    assert main(["lincheck", str(path), "--timeout", "0.05"]) == 0
    assert capsys.readouterr().out == f"{path}: unknown\n"


# ---------------------------------------------------------------------------------------------
# The history view


def test_linearization_points_are_increasing_and_inside_the_intervals():
    from fttoolkit.viz.history import linearization_points
    rng = random.Random(9)
    for _ in range(40):
        history = atomic_history(rng, "register", clients=5, ops=25)
        stretched = [Op(op.client, op.kind, op.key, op.value, op.output, 2 * op.call,
                        None if op.ret is None else 2 * op.ret + 1) for op in history]   # no shared instants
        order = check(stretched, model="register").order[None]
        points = linearization_points(order, right=10 ** 6)
        assert all(a < b for a, b in zip(points, points[1:]))
        assert all(op.call <= p <= (op.ret if op.ret is not None else 10 ** 6) for op, p in zip(order, points))


def test_the_view_draws_points_when_linearizable_and_the_failing_part_when_not(tmp_path):
    from matplotlib.collections import PathCollection
    from fttoolkit.viz import plot_history
    ok = [Op("c1", "put", "x", "1", None, 0, 10), Op("c2", "get", "x", None, "1", 4, 12),
          Op("c3", "put", "x", "2", None, 14, 20), Op("c2", "append", "y", "a", None, 15, None),
          Op("c3", "get", "y", None, "a", 24, 30), Op("c1", "get", "x", None, "2", 22, 26)]
    result = check(ok, model="kv")
    fig = plot_history(ok, result)
    ax = fig.axes[0]
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == 6
    assert ax.get_title(loc="left").startswith("Linearizable: 6 operations, 3 clients")
    assert {t.get_text() for t in ax.texts} >= {"put(x,'1')", "get(x)→'1'", "append(y,'a')"}
    fig.savefig(tmp_path / "ok.png")
    assert (tmp_path / "ok.png").read_bytes()[:4] == b"\x89PNG"

    bad = ok[:5] + [Op("c1", "get", "x", None, "1", 22, 26)]
    result = check(bad, model="kv")
    ax = plot_history(bad, result).axes[0]
    assert ax.get_title(loc="left").startswith("Not linearizable: the 4 operations on key 'x'")
    faded = [t for t in ax.texts if t.get_alpha() < 1]
    assert sorted(t.get_text() for t in faded) == ["append(y,'a')", "get(y)→'a'"]
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == len(result.partial) == 3


def test_the_view_refuses_what_is_not_a_history():
    from fttoolkit.viz.history import plot_history
    with pytest.raises(BadParameter, match="not an Operation"):
        plot_history([1, 2])
    with pytest.raises(BadParameter, match="what check\\(\\) returned"):
        plot_history([], result="linearizable")

