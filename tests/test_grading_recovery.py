"""Chapter 3's graded failure-recovery exercises: the solutions score full points; wrong versions lose the case
that exposes them, with the rule they break, the seed, and a script that replays to the same violation."""

import functools

import pytest

from fttoolkit import PrimaryBackup, WriteAheadLog
from fttoolkit.algorithms.primary_backup import PrimaryBackupNode
from fttoolkit.algorithms.wal import Checkpoint, LogRecord, apply_write, read_record
from fttoolkit.check.fuzz import run_seed
from fttoolkit.core import Torn
from fttoolkit.grading import check, feedback, show_run
from fttoolkit.grading.chapter3 import (ADOPT, CURRENT, DISCARD, FOLLOWS, IDEMPOTENT, IN_LINE, KEEP_READING, LSN,
                                        METHODS, NEWER, ONLY_NEWER, RULES, SHIP_LOG, SNAPSHOT_GONE, STALE, STATE,
                                        EpochNode, ReturningNode, _pb_door, _refereed_catch_up, _refereed_fence,
                                        _replaying, _wal_door, judge_replay, reference_replay, replay_script)
from fttoolkit.scenario import parse, replay

import grading_support as support

NOTEBOOK = "03_failure_recovery.ipynb"
POINTS = {"3.1": 6, "3.2": 6, "3.3": 6}


solved = support.solved_fixture(NOTEBOOK)
graded = support.grader({ex_id: METHODS[ex_id][0] for ex_id in POINTS})
assert_replayable = functools.partial(support.assert_replayable, replay_script)


# ------------------------------------------------------------------------------ the solutions
def test_the_solutions_get_full_points(solved, capsys):
    support.assert_full_points(solved, POINTS, capsys)


def test_the_exercise_notebook_is_generated_and_its_stubs_say_not_done_yet():
    stubs = support.assert_stubs_say_not_done_yet(NOTEBOOK, POINTS)
    assert [stubs[e].count("raise NotImplementedError('Exercise " + e) for e in ("3.1", "3.2")] == [1, 2]
    assert stubs["3.3"].count('raise NotImplementedError("Exercise 3.3') == 2


def test_every_rule_is_stated():
    for name in (DISCARD, KEEP_READING, IDEMPOTENT, LSN, STALE, CURRENT, NEWER, ADOPT, ONLY_NEWER, IN_LINE,
                 FOLLOWS, SNAPSHOT_GONE, SHIP_LOG, STATE):
        assert len(RULES[name]) > 60


# ------------------------------------------------------------------------------ the course's own code
def _course_classes():
    fence = type("CourseFence", (EpochNode,), {"accepts_epoch": PrimaryBackupNode.accepts_epoch,
                                               "on_stale_epoch": PrimaryBackupNode.on_stale_epoch})
    catch_up = type("CourseCatchUp", (ReturningNode,), {
        "holds": lambda self, lsn, epoch: PrimaryBackupNode._has(self, lsn, epoch),
        "catch_up_plan": PrimaryBackupNode.catch_up_plan})
    return (_wal_door(_replaying(reference_replay)), _pb_door(_refereed_fence(fence)),
            _pb_door(_refereed_catch_up(catch_up)))


def test_the_referee_accepts_the_course_own_code_under_the_fuzzer():
    # The course's recovery, fencing and catch-up, judged call by call: no rule may be reported on correct code.
    wal, fence, catch_up = _course_classes()
    for door_class, nodes in ((wal, 5), (fence, 3), (catch_up, 3)):
        for profile in ("crash", "chaos"):
            for seed in range(40, 52):
                result = run_seed(door_class, seed, nodes=nodes, profile=profile)
                assert not result.failed, (door_class, profile, seed, result.violations)


def test_plugged_in_nodes_run_the_presets_exactly_as_the_course_does():
    # With a right answer, the student's node is the course's node: the same trace, event for event.
    wal, fence, catch_up = _course_classes()
    for door_class, plain in ((wal, WriteAheadLog), (fence, PrimaryBackup), (catch_up, PrimaryBackup)):
        for name, text in plain.presets().items():
            if "\nexpect " in text:
                continue                     # the bug demonstrations
            expected = replay(text).door.trace.to_jsonl()
            parsed = parse(text)
            h = parsed.header
            door = door_class(nodes=h.get("nodes", 3), seed=h.get("seed", 0),
                              **dict(h.get("params", {}), **h.get("network", {})))
            replay(parsed, door=door)
            assert door.trace.to_jsonl() == expected, (door_class, name)


# ------------------------------------------------------------------------------ 3.1 log replay
def _replay(records, check_logs=True, check_checkpoints=True, stop=False, idempotent=True, crc=True):
    """A student's replay with one rule left out."""
    valid = []
    for raw in records:
        record = read_record(raw)
        torn = isinstance(raw, Torn)
        bad = torn if not crc else not record.valid
        if bad and (check_checkpoints if isinstance(record, Checkpoint) else check_logs):
            if stop:
                break
            continue
        valid.append(record)
    store, lsn = {}, 0
    points = [r for r in valid if isinstance(r, Checkpoint)]
    if points:
        latest = max(points, key=lambda c: c.lsn)
        store, lsn = dict(latest.store), latest.lsn
    for record in valid:
        if isinstance(record, LogRecord) and (record.lsn > lsn or not idempotent):
            store[record.key] = apply_write(store.get(record.key), record.kind, record.arg)
            lsn = max(lsn, record.lsn)
    return store, lsn


def replay_log_without_checksums(records):
    return _replay(records, check_logs=False, check_checkpoints=False)


def replay_log_trusting_checkpoints(records):
    return _replay(records, check_checkpoints=False)


def replay_log_stopping_at_the_torn(records):
    return _replay(records, stop=True)


def replay_log_redoing_everything(records):
    return _replay(records, idempotent=False)


def replay_log_skipping_only_torn_ones(records):
    return _replay(records, crc=False)


def replay_log_counting_records(records):
    return _replay(records)[0], len(records)


def test_a_plain_replay_gets_full_points():
    result, failed = graded("3.1", _replay)
    assert result.points == POINTS["3.1"] and not failed, feedback(result)


@pytest.mark.parametrize("student, direct, case, rule, seed, says, then", [
    (replay_log_without_checksums, "a torn last record", "crash and replay, a torn record", DISCARD, 1,
     "rebuilt {x='ab?'}, but it replayed #2 LogRecord(lsn=3, w3: x+='?', crc=missing) (torn: its checksum fails)",
     "Durability broke: after recovery x='ab?'"),
    (replay_log_trusting_checkpoints, "a crash during a checkpoint (the checkpoint is torn)",
     "checkpoints: a torn one, one that reflects appends", DISCARD, 1,
     "rebuilt {x='ab??'}, but it started from #5 Checkpoint(lsn=4, {x='ab??'}, crc=missing) (torn: its checksum "
     "fails): a crash cut the checkpoint's write short; the latest VALID checkpoint is the one at LSN 2",
     "Durability broke: after recovery x='ab??'"),
    (replay_log_redoing_everything, "the checkpoint already reflects appends (idempotent redo)",
     "checkpoints: a torn one, one that reflects appends", IDEMPOTENT, 1,
     "rebuilt {x='ababc'}, but it redid log records with an LSN of at most 2, which the checkpoint already "
     "reflects", "Durability broke: after recovery x='ababc'"),
    (replay_log_stopping_at_the_torn, "a torn record, then the writes made after the restart",
     "a crash during recovery, writes after a torn record", KEEP_READING, 2,
     "rebuilt {x='ab'}, but it stopped reading at #2 LogRecord(lsn=3, w3: x+='?', crc=missing) (torn: its "
     "checksum fails) and missed the valid records after it",
     "Durability broke: after recovery x='ab', which no choice of the unacknowledged writes gives with every "
     "acknowledged one (w1, w2, w4)"),
    (replay_log_counting_records, "a torn last record", "crash and replay, a torn record", LSN, 1,
     "rebuilt the right store {x='abcd', y='hello'}, but returned lsn=6; the store reflects the writes up to LSN "
     "5 (that is the number of records on the disk, not an LSN)", None),
])
def test_wrong_replays_fail_with_the_rule_they_break(student, direct, case, rule, seed, says, then):
    result, failed = graded("3.1", student)
    first = failed["the replay on given disks"]
    assert first.reason == f"{direct}: {rule} broken", first.reason
    assert case in failed and result.points < POINTS["3.1"] - 2, feedback(result)
    failure = failed[case].failure
    assert f"{rule} broken (seed {seed})" in failure.message and failure.expected == RULES[rule]
    assert says in failure.got, failure.got
    if then:
        assert then in failure.got, failure.got
    assert_replayable("3.1", student, failure)


def test_a_replay_that_checks_for_torn_records_only_misses_a_damaged_one():
    result, failed = graded("3.1", replay_log_skipping_only_torn_ones)
    assert list(failed) == ["the replay on given disks"] and result.points == POINTS["3.1"] - 2
    failure = failed["the replay on given disks"].failure
    assert failure.message == f"a record damaged on the disk (not torn: its bytes changed): {DISCARD} broken"
    assert failure.expected == "({'x': 'ac'}, 3)"
    assert "returned ({'x': 'aBc'}, 3): rebuilt {x='aBc'}, but it replayed #1 LogRecord(lsn=2, w2: x+='B', " \
           "crc=...) (damaged: its checksum fails)" in failure.got


_REDONE = set()


def replay_log_remembering_what_it_redid(records):
    """Makes redo "idempotent" by remembering, in memory, the writes it redid: a second replay skips them all."""
    store, lsn = {}, 0
    for raw in records:
        record = read_record(raw)
        if record.valid and isinstance(record, LogRecord) and record.op not in _REDONE:
            _REDONE.add(record.op)
            store[record.key] = apply_write(store.get(record.key), record.kind, record.arg)
            lsn = record.lsn
    return store, lsn


def test_a_replay_that_remembers_an_earlier_one_fails_the_second_replay():
    _REDONE.clear()
    result, failed = graded("3.1", replay_log_remembering_what_it_redid)
    first = failed["the replay on given disks"]
    assert first.reason == (f"a clean log, no checkpoint, replayed a second time (a crash during recovery): "
                            f"{IDEMPOTENT} broken"), first.reason
    assert "recovery must start from the disk alone" in first.failure.got
    assert "the first replay returned the right answer, the second ({}, 0)" in first.failure.got
    assert result.points == 0, feedback(result)          # its memory spans the runs: every later replay is wrong


def test_judge_replay_names_the_mistake_on_a_disk():
    disk = [LogRecord.sealed(1, "w1", "append", "x", "a"), Checkpoint.sealed(1, {"x": "a"}),
            Torn(LogRecord.sealed(2, "w2", "append", "x", "bc")), LogRecord.sealed(2, "w3", "append", "x", "d")]
    assert reference_replay(disk) == ({"x": "ad"}, 2) and judge_replay(disk, ({"x": "ad"}, 2)) is None
    assert judge_replay(disk, ({"x": "aad"}, 2))[0] == IDEMPOTENT
    assert judge_replay(disk, ({"x": "a"}, 1))[0] == KEEP_READING
    assert judge_replay(disk, ({"x": "ab?"}, 2))[0] == DISCARD
    assert judge_replay(disk, ({"x": "zz"}, 2))[0] == "Rebuild exactly what the valid records say (Haerder & " \
                                                      "Reuter 1983)"
    assert judge_replay(disk, {"x": "ad"})[0] == STATE


# ------------------------------------------------------------------------------ 3.2 fencing
class _Fence(EpochNode):
    """Fencing with one rule left out (``mistake``)."""

    mistake = None

    def accepts_epoch(self, msg):
        if self.mistake == "accept every epoch":
            return True
        if self.mistake == "refuse the current epoch":
            return msg.epoch > self.epoch
        if self.mistake == "compare with the last entry":
            return msg.epoch >= self.last_epoch
        if self.mistake == "compare the wrong way":
            return msg.epoch <= self.epoch
        return msg.epoch >= self.epoch

    def on_stale_epoch(self, msg, sender):
        if self.mistake == "never adopt":
            return
        if msg.epoch > self.epoch or self.mistake == "adopt any epoch":
            self.adopt(msg.epoch, msg.primary)
            self.ask_catch_up()


def fence(mistake):
    return type(f"FenceNode_{mistake.replace(' ', '_')}", (_Fence,), {"mistake": mistake})


def test_a_plain_fence_gets_full_points():
    result, failed = graded("3.2", fence("none"))
    assert result.points == POINTS["3.2"] and not failed, feedback(result)


@pytest.mark.parametrize("mistake, direct, case, rule, seed, says, then", [
    ("accept every epoch", STALE, "a partitioned old primary is fenced", STALE, 1,
     "at t=380: n2 (primary, epoch 2) was asked accepts_epoch(Replicate of epoch 1): it accepted, but epoch 1 is "
     "older than its own epoch 2", "Durability broke: acknowledged write w3 (LSN 2) is not in the log of n2"),
    ("refuse the current epoch", CURRENT, "a failover: the current epoch, then a newer one", CURRENT, 1,
     "at t=20: n2 (backup, epoch 1) was asked accepts_epoch(Replicate of epoch 1): it refused, but epoch 1 is its "
     "own", None),
    ("compare with the last entry", STALE, "a partitioned old primary is fenced", STALE, 2,
     "(compare with self.epoch = 2, the newest epoch it has adopted, not with self.last_epoch = 1, the epoch of "
     "its last log entry)", "Stale epoch broke: n2 stored a write w2 from epoch 1 after adopting epoch 2"),
    ("compare the wrong way", STALE, "a failover: the current epoch, then a newer one", NEWER, 3,
     "at t=280: n3 (backup, epoch 1) was asked accepts_epoch(Replicate of epoch 2): it refused, but epoch 2 is "
     "newer than its own epoch 1", None),
    ("never adopt", ADOPT, "a partitioned old primary is fenced", ADOPT, 1,
     "at t=390: n1 (primary, epoch 1) got StaleEpoch(e2) from n2: it is still at epoch 1", None),
    ("adopt any epoch", ONLY_NEWER, "a partitioned old primary is fenced", ONLY_NEWER, 1,
     "at t=390: n1 (recovering, epoch 2) got StaleEpoch(e2) from n3: epoch 2 is not newer than its own, so nothing "
     "should change, but it wrote [('epoch', 2)]", None),
])
def test_wrong_fences_fail_with_the_rule_they_break(mistake, direct, case, rule, seed, says, then):
    cls = fence(mistake)
    result, failed = graded("3.2", cls)
    assert failed["the check on given epochs"].reason.endswith(f": {direct} broken")
    assert case in failed and result.points <= POINTS["3.2"] - 4, feedback(result)
    failure = failed[case].failure
    assert f"{rule} broken (seed {seed})" in failure.message and failure.expected == RULES[rule]
    assert says in failure.got, failure.got
    if then:
        assert then in failure.got, failure.got
    assert_replayable("3.2", cls, failure)


def test_a_fuzzed_failure_is_shrunk_replayable_and_shown(capsys):
    cls = fence("compare with the last entry")
    result, failed = graded("3.2", cls)
    fuzzed = failed["partitions, crashes, lost and reordered messages (fuzzed)"].failure
    assert "random schedule" in fuzzed.message and STALE in fuzzed.message
    assert "shrunk to the faults that matter" in fuzzed.script and "partition " in fuzzed.script
    assert_replayable("3.2", cls, fuzzed)
    check("3.2", {"FenceNode": cls})
    out = capsys.readouterr().out
    assert "seed:     1" in out and 'show_run("3.2")' in out and "algorithm primary-backup" in out
    view = show_run("3.2")                       # the failing run, in the cluster view
    assert view.cluster.violations[0]["invariant"] == STALE


# ------------------------------------------------------------------------------ 3.3 catching up
class _CatchUp(ReturningNode):
    """The catch-up decisions with one rule left out (``mistake``)."""

    mistake = None

    def holds(self, lsn, epoch):
        if self.mistake == "hold everything":
            return True
        if self.mistake == "compare lengths":
            return lsn <= self.last_lsn
        if lsn < self.base_lsn and self.mistake != "forget the checkpoint":
            return True
        return self.epoch_at(lsn) == epoch

    def catch_up_plan(self, match_lsn):
        if self.mistake == "always ship the log":
            return "log"
        if self.mistake == "always send a snapshot":
            return "snapshot"
        if match_lsn is None or self.commit_lsn - match_lsn > self.params["ship_limit"]:
            return "snapshot"
        return "log"


def catch_up(mistake):
    return type(f"CatchUpNode_{mistake.replace(' ', '_')}", (_CatchUp,), {"mistake": mistake})


def test_plain_catch_up_decisions_get_full_points():
    result, failed = graded("3.3", catch_up("none"))
    assert result.points == POINTS["3.3"] and not failed, feedback(result)


@pytest.mark.parametrize("mistake, direct, case, says, then", [
    ("always ship the log", "asked catch_up_plan(5): State transfer when far behind (ship_limit) broken",
     "a replica that missed too much: state transfer",
     (SNAPSHOT_GONE, 1, "at t=250: n1, primary of epoch 1 (log checkpoint 3/1, 4-7/1, commit LSN 7, ship_limit 2), "
                        "chose 'log' to catch up a replica whose log agrees with its own up to nowhere it still has "
                        "entries for (match_lsn=None)"), None),
    ("always send a snapshot", f"asked catch_up_plan(10): {SHIP_LOG} broken", "the old primary returns: log shipping",
     (SHIP_LOG, 1, "chose 'snapshot' to catch up a replica whose log agrees with its own up to LSN 0"), None),
    ("hold everything", f"asked holds(2, 2): {IN_LINE} broken", "no acknowledgement before catching up",
     (IN_LINE, 1, "at t=111: n3 (log 1/1) was asked holds(2, 1): may entries after LSN 2/1 follow: it said yes, "
                  "but its log ends at LSN 1"),
     "Durability broke: acknowledged write w2 (LSN 2) is not in the log of n3"),
    ("compare lengths", f"asked holds(2, 2): {IN_LINE} broken", None, None, None),
    ("forget the checkpoint", f"asked holds(2, 1): {FOLLOWS} broken", None, None, None),
])
def test_wrong_catch_up_decisions_fail_with_the_rule_they_break(mistake, direct, case, says, then):
    cls = catch_up(mistake)
    result, failed = graded("3.3", cls)
    assert failed["the decisions on given logs"].reason.endswith(direct), failed["the decisions on given logs"].reason
    assert result.points < POINTS["3.3"], feedback(result)
    if case is None:
        return
    rule, seed, text = says
    failure = failed[case].failure
    assert f"{rule} broken (seed {seed})" in failure.message and failure.expected == RULES[rule]
    assert text in failure.got, failure.got
    if then:
        assert then in failure.got, failure.got
    assert_replayable("3.3", cls, failure)


# ------------------------------------------------------------------------------ robustness
def test_code_that_raises_or_loops_is_reported_not_fatal():
    def raising(records):
        return records[0].lsn, {}

    result, failed = graded("3.1", raising)
    assert result.points == 0 and len(failed) == len(result.cases)
    assert failed["the replay on given disks"].reason == "IndexError: tuple index out of range" or \
        "IndexError" in failed["the replay on given disks"].reason
    run = failed["crash and replay, a torn record"]
    assert "your code raised an exception in n1.on_start" in run.reason and run.failure.seed == 1
    assert "IndexError" in run.failure.got and "algorithm wal" in run.failure.script

    class Raising(EpochNode):
        def accepts_epoch(self, msg):
            return msg.epoch >= self.epochs            # a typo

        def on_stale_epoch(self, msg, sender):
            pass

    result, failed = graded("3.2", Raising)
    assert result.points == 0 and len(failed) == len(result.cases)
    run = failed["a failover: the current epoch, then a newer one"]
    assert "your code raised an exception in n2.on_replicate" in run.reason
    assert "AttributeError" in run.failure.got and "algorithm primary-backup" in run.failure.script

    class Looping(ReturningNode):
        def holds(self, lsn, epoch):
            while True:
                pass

        def catch_up_plan(self, match_lsn):
            return "log"

    result, failed = graded("3.3", Looping, timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())
    result, failed = graded("3.1", lambda records: _loop(), timeout=0.3)
    assert result.points == 0 and all("ran for more than 0.3 s" in c.reason for c in failed.values())


def _loop():
    while True:
        pass


def test_answers_of_the_wrong_shape_get_a_clear_reason():
    first = graded("3.1", lambda records: {})[1]["the replay on given disks"]
    assert first.reason == f"an empty disk (the first boot): {STATE} broken"
    assert "replay_log returned {}; it returns a pair (store, lsn): a dict and a whole number" in first.failure.got
    assert "replay_log must be a function" in graded("3.1", "store")[0].reason
    assert "FenceNode must be a class that extends EpochNode" in graded("3.2", PrimaryBackupNode)[0].reason
    assert "does not define on_stale_epoch" in graded("3.2", type("Half", (EpochNode,), {
        "accepts_epoch": lambda self, msg: True}))[0].reason
    assert "does not define holds" in graded("3.3", type("Empty", (ReturningNode,), {}))[0].reason

    class Delegating(EpochNode):
        def accepts_epoch(self, msg):
            return super().accepts_epoch(msg)

        def on_stale_epoch(self, msg, sender):
            pass
    assert "calls the course's accepts_epoch: write it yourself" in graded("3.2", Delegating)[0].reason

    def delegating(records):
        from fttoolkit.algorithms.wal import recover
        return recover(records)
    assert "calls the course's recover: write it yourself" in graded("3.1", delegating)[0].reason

    class Vague(_CatchUp):
        def catch_up_plan(self, match_lsn):
            return "both"
    result, failed = graded("3.3", Vague)
    assert f"{STATE} broken" in failed["the decisions on given logs"].reason
    assert "returns 'log' or 'snapshot'" in failed["the decisions on given logs"].failure.got


@pytest.mark.slow
def test_the_grader_grades_chapter_3(tmp_path):
    rows = support.grade_ana_and_ben(tmp_path, NOTEBOOK, "3.2", lambda source: (
        "class FenceNode(EpochNode):\n"
        "    def accepts_epoch(self, msg):\n        return True\n"
        "    def on_stale_epoch(self, msg, sender):\n        pass\n"))
    assert [rows[("ana", e)].points for e in POINTS] == [6, 6, 6]
    ben = rows[("ben", "3.2")]
    assert ben.points == 1 and STALE in ben.reason        # only the calm failover passes
    assert [rows[("ben", e)].points for e in ("3.1", "3.3")] == [6, 6]
