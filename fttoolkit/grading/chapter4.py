"""Chapter 4's exercises, on two-phase commit (Gray, "Notes on Data Base Operating Systems", 1978, §5.8.3;
Gray & Lamport, "Consensus on Transaction Commit", 2006).

Each exercise replaces one piece of :class:`~fttoolkit.algorithms.twopc.TwoPCNode` by the student's; the
rest of the node is the course's own:

* 4.1 **The participant's vote**: ``on_prepare`` of ``VoteNode`` (a subclass of ``TwoPCNode``): vote no on a
  lock conflict or a refusal; otherwise lock, force the prepared record, and only then vote yes;
* 4.2 **The coordinator's decision rule**: ``decide(txn, timed_out)`` of ``DecideNode`` (a subclass of the
  course's :class:`CoordinatorNode`, which records the votes and calls ``decide`` after each vote and at
  the vote timeout): commit only on a unanimous yes, abort on a no or a timeout, force the decision record
  before sending it;
* 4.3 **Recovery from a participant's log**: a plain function ``recover(records, txn)`` returning
  ``"commit"``, ``"abort"`` or ``"ask"``, which the course's participant (:class:`RecoveringNode`) calls for
  every transaction its log mentions when it restarts, and then carries out.

The student's code runs in the real simulator, under two-phase commit's invariants
(``fttoolkit.DistributedTransaction``'s: Atomicity, Commit needs unanimity, Durability; and Termination once
calm) and a *referee*: a subclass that watches every call of the student's code, computes what the papers
prescribe from the state before the call and, if the call did otherwise, reports a violation named after the
rule (``Force the prepared record before voting yes (Gray 1978, §5.8.3.3)``...) at the step of that call.
Every failure carries the seed and the scenario script of the run, and the run itself for ``show_run``;
:func:`replay_script` replays such a script with a student's code.
"""

import re

from ..algorithms.twopc import (INVARIANTS, LIVENESS, Abort, Commit, DecisionRetry, DecisionTimeout,
                                TwoPCNode, Vote, VoteTimeout, format_writes)
from ..core.intentions import Persist, Send, SetTimer
from ..core.invariants import Invariant, Violation
from ..doors.transactions import DistributedTransaction
from .model import Case, Exercise, Fail, expect, register
from .refereed import Scenario, fail_for, fuzz_check, names_read, replay_with, scenario_check

__all__ = ["RULES", "CoordinatorNode", "RecoveringNode", "student_door", "replay_script", "judge_recovery",
           "METHODS"]

#: Exercise id -> (the name the student defines, the method it provides).
METHODS = {"4.1": ("VoteNode", "on_prepare"), "4.2": ("DecideNode", "decide"), "4.3": ("recover", "recover")}

# ---------------------------------------------------------------------------------- the rules
ONE_VOTE = "Vote once, to the coordinator (Gray 1978, §5.8.3)"
VOTE_NO = "Vote no on a conflict or a refusal (Gray 1978, §5.8.3)"
VOTE_YES = "Vote yes when able (Gray 1978, §5.8.3)"
LOCK = "Lock before voting yes (Gray 1978, §5.8.3)"
FORCE_PREPARED = "Force the prepared record before voting yes (Gray 1978, §5.8.3.3)"
UNCERTAIN = "Wait, uncertain, after voting yes (Gray & Lamport 2006, §3)"
UNANIMOUS = "Commit only on a unanimous yes (Gray 1978, §5.8.3)"
COMMIT_ALL_YES = "Commit once every participant voted yes (Gray 1978, §5.8.3)"
ABORT_ON_NO = "Abort on a no vote (Gray 1978, §5.8.3)"
ABORT_ON_TIMEOUT = "Abort when votes are missing at the timeout (Gray & Lamport 2006, §3)"
WAIT = "Wait for the votes (Gray 1978, §5.8.3)"
FORCE_DECISION = "Force the decision record before sending it (Gray 1978, §5.8.3.3)"
TELL = "Send the decision to every participant (Gray 1978, §5.8.3)"
RECOVER_ABORT = "Abort what was never voted yes (presumed abort)"
RECOVER_ASK = "Ask when prepared without an outcome (Gray 1978, §5.8.3)"
RECOVER_REDO = "Redo the logged outcome (Gray 1978, §5.8.3)"
STATE = "Two-phase commit's state"

#: Rule name -> what it says (the "expected" line of a failure).
RULES = {
    ONE_VOTE: "a Prepare seen for the first time gets exactly one Vote(txn, yes/no), sent to its sender, "
              "the coordinator",
    VOTE_NO: "a participant votes no when a key of its part is locked by another transaction, or a client "
             "told it to refuse the transaction: it sets txns[txn] = 'aborted', takes no lock, forces no "
             "prepared record, and sends Vote(txn, False)",
    VOTE_YES: "a participant whose keys are free and that was not told to refuse votes yes",
    LOCK: "before voting yes a participant locks every key of its part (self.locks[key] = txn), remembers "
          "the transaction's writes (self.writes[txn] = msg.writes) and is 'prepared' (txns[txn])",
    FORCE_PREPARED: "the record ('prepared', txn, writes) with the whole transaction's writes reaches stable "
                    "storage (self.persist) BEFORE Vote(txn, True) is sent: a crash between the two must "
                    "not leave a yes vote the participant cannot honour",
    UNCERTAIN: "after voting yes a participant arms DecisionTimeout(txn) (self.params['timeout_ticks']), "
               "so that it asks for the outcome when none comes",
    UNANIMOUS: "the coordinator commits only when every participant (self.members[txn]) voted yes; a "
               "missing vote is not a yes",
    COMMIT_ALL_YES: "once every participant voted yes, the coordinator decides commit",
    ABORT_ON_NO: "a single no vote makes the coordinator decide abort, at once",
    ABORT_ON_TIMEOUT: "at the vote timeout, with votes missing, the coordinator decides abort",
    WAIT: "with no no vote, votes still missing and no timeout yet, the coordinator decides nothing",
    FORCE_DECISION: "the decision record ('commit' or 'abort', txn, self.members[txn]) reaches stable storage "
                    "(self.persist) BEFORE any Commit or Abort leaves: the decision is taken when it is "
                    "logged",
    TELL: "the decision (self.txns[txn] = self.decisions[txn] = 'committed' or 'aborted') goes to every "
          "participant, Commit or Abort as decided, and is re-sent until acknowledged: "
          "self.send_decision(txn) does both",
    RECOVER_ABORT: "a transaction the log holds no prepared record and no commit record for was never voted "
                   "yes (or was voted no): the restarted participant aborts it ('abort')",
    RECOVER_ASK: "a prepared record without an outcome record: the participant voted yes and must not decide "
                 "alone; it asks the coordinator and keeps its locks meanwhile ('ask')",
    RECOVER_REDO: "an outcome record in the log is the outcome: 'commit' (the writes are redone) or 'abort'",
    STATE: "the node's state keeps the shapes two-phase commit gives it; recover returns 'commit', "
           "'abort' or 'ask'",
}
for _inv in list(INVARIANTS) + list(LIVENESS):
    RULES[_inv.name] = _inv.title.split(":", 1)[1].strip()


# ---------------------------------------------------------------------------------- the course's nodes
class CoordinatorNode(TwoPCNode):
    """Two-phase commit whose coordinator asks :meth:`decide` what to do after each vote and at the timeout.

    The votes are recorded in ``self.votes[txn]`` (participant -> True for yes, False for no) before each
    call; ``self.members[txn]`` lists the participants.  ``decide`` runs only while the transaction is
    ``"collecting"``.
    """

    def on_vote(self, msg, sender):
        txn = msg.txn
        state = self.txns.get(txn)
        if state is None:                            # forgotten in a crash: presumed abort
            if msg.yes:
                self._presume_abort(txn, sender)
            return
        if state != "collecting":
            return
        self.votes[txn][sender] = msg.yes
        self._consult(txn, False)

    def on_vote_timeout(self, timer):
        txn = timer.txn
        if self.txns.get(txn) == "collecting":
            missing = [p for p in self.members[txn] if p not in self.votes[txn]]
            self.note("votes missing", txn=txn, missing=tuple(missing))
            self._consult(txn, True)

    def _consult(self, txn, timed_out):
        self.acks.setdefault(txn, set())
        self.decide(txn, timed_out)
        if self.txns.get(txn) != "collecting":
            self.cancel_timer(VoteTimeout(txn))

    def send_decision(self, txn):
        """Send ``self.decisions[txn]`` (Commit or Abort) to every participant, and again until each acks."""
        self._send_decision(txn)

    def decide(self, txn, timed_out):
        """Exercise 4.2: decide (or not yet) on ``txn``; ``timed_out``: the vote timeout fired."""
        raise NotImplementedError("exercise 4.2: write decide in a subclass of CoordinatorNode")


class RecoveringNode(TwoPCNode):
    """Two-phase commit whose restarted participant asks ``recover(records, txn)`` what to do with each
    transaction its log mentions, and does it:

    * ``"commit"``: the transaction is committed (its writes, from the prepared record, are applied again);
    * ``"abort"``: it is aborted;
    * ``"ask"``: it is prepared and uncertain: the participant locks its keys again and asks the outcome.

    A decision the log does not hold yet is logged first (and noted, for the invariants).
    """

    recover = None

    def _start_participant(self, records):
        self.role = "participant"
        self.coordinator = self.params["coordinator"]
        self.txns, self.locks, self.kv, self.writes = {}, {}, {}, {}
        self.applied, self.refused = [], set()
        log = list(records)
        order = []
        for record in log:
            if record[1] not in order:
                order.append(record[1])
            if record[0] == "prepared":
                self.writes[record[1]] = record[2]
        for txn in order:
            answer = type(self).recover(list(log), txn)
            self._judged(log, txn, answer)
            if not isinstance(answer, str) or answer not in ("commit", "abort", "ask"):
                raise ValueError(f"recover(records, {txn!r}) returned {answer!r}; it returns 'commit', "
                                 "'abort' or 'ask'")
            kinds = {r[0] for r in log if r[1] == txn}
            if answer == "commit":
                self.txns[txn] = "committed"
                if "commit" not in kinds:
                    self.persist(("commit", txn))
                    self.note("committed", txn=txn, why="recovery")
                self._apply(txn)
            elif answer == "abort":
                self.txns[txn] = "aborted"
                if "abort" not in kinds:
                    self.persist(("abort", txn))
                    self.note("aborted", txn=txn, why="recovery")
            else:
                self.txns[txn] = "prepared"
        for txn in self.uncertain:                  # prepared, no outcome: lock again and ask
            for key, _ in self.mine(txn):
                self.locks[key] = txn
            self.note("uncertain", txn=txn)
            self._ask(txn)

    def _judged(self, log, txn, answer):
        pass


# ---------------------------------------------------------------------------------- the referee
def _report(node, found):
    if found:          # read by the REFEREE check right after this step, before any invariant
        node._verdicts = getattr(node, "_verdicts", ()) + (found,)


def _persisted(made, match):
    """The indexes in ``made`` of the writes holding a record for which ``match(record)`` is true."""
    return [k for k, item in enumerate(made) if type(item) is Persist
            and any(isinstance(r, tuple) and r and match(r) for r in item.records)]


def _judge_prepare(node, before_locks, refused, msg, sender, made):
    """4.1: compare a first Prepare's handling with Gray §5.8.3; return (rule, detail) or None."""
    txn = msg.txn
    mine = dict(msg.writes).get(node.id, ())
    busy = sorted({before_locks[k] for k, _ in mine if k in before_locks})
    held = ", ".join(f"{k} by {t}" for k, t in sorted(before_locks.items())) or "none"
    what = f"{node.id} (locks: {held}) got Prepare({txn}, {format_writes(msg.writes)}) from {sender}"
    votes = [(k, i) for k, i in enumerate(made) if type(i) is Send and isinstance(i.msg, Vote)]
    if len(votes) != 1 or votes[0][1].to != sender or votes[0][1].msg.txn != txn:
        got = ", ".join(f"{i.msg!r} to {i.to}" for _, i in votes) or "none"
        return ONE_VOTE, f"{what}: expected one Vote({txn}, ...) to {sender}, sent {len(votes)} ({got})"
    at, vote = votes[0]
    prepared = _persisted(made, lambda r: r[0] == "prepared" and len(r) > 1 and r[1] == txn)
    if busy or txn in refused:
        why = (f"its key{'s' if len(busy) > 1 else ''} {', '.join(k for k, _ in mine if k in before_locks)} "
               f"{'are' if len(busy) > 1 else 'is'} locked by {', '.join(busy)}" if busy else
               f"a client told it to refuse {txn}")
        if vote.msg.yes:
            return VOTE_NO, f"{what}: voted yes, but {why}"
        if prepared:
            return VOTE_NO, f"{what}: voted no (right), but forced a prepared record for {txn}"
        if node.locks != before_locks:
            return VOTE_NO, (f"{what}: voted no (right), but changed the locks to {node.locks}: the other "
                             "transaction keeps its locks")
        if node.txns.get(txn) != "aborted":
            return VOTE_NO, (f"{what}: voted no (right), but txns[{txn!r}] is {node.txns.get(txn)!r}, not "
                             "'aborted'")
        return None
    if not vote.msg.yes:
        return VOTE_YES, f"{what}: voted no, but no key of its part is locked and no client refused {txn}"
    unlocked = [k for k, _ in mine if node.locks.get(k) != txn]
    if unlocked:
        return LOCK, f"{what}: voted yes without locking {', '.join(unlocked)} for {txn}"
    if node.writes.get(txn) != msg.writes:
        return LOCK, (f"{what}: voted yes, but self.writes[{txn!r}] is {node.writes.get(txn)!r}, not the "
                      "Prepare's writes: the participant needs them to commit")
    if node.txns.get(txn) != "prepared":
        return LOCK, f"{what}: voted yes, but txns[{txn!r}] is {node.txns.get(txn)!r}, not 'prepared'"
    if not prepared:
        return FORCE_PREPARED, (f"{what}: voted yes, but never forced ('prepared', {txn!r}, writes) to stable "
                                "storage; a restart would forget the promise")
    if prepared[0] > at:
        return FORCE_PREPARED, (f"{what}: sent Vote({txn}, yes) before forcing its prepared record; a crash "
                                "between the two leaves a yes vote that the restarted participant knows "
                                "nothing of")
    record = next(r for r in made[prepared[0]].records if isinstance(r, tuple) and r and r[0] == "prepared")
    if record != ("prepared", txn, msg.writes):
        return FORCE_PREPARED, (f"{what}: forced {record!r}; the prepared record is ('prepared', {txn!r}, "
                                "msg.writes), with the whole transaction's writes")
    if not any(type(i) is SetTimer and i.timer == DecisionTimeout(txn) for i in made):
        return UNCERTAIN, (f"{what}: voted yes without arming DecisionTimeout({txn}); if the outcome never "
                           "comes, it never asks")
    return None


def _show_votes(votes, members):
    return "{" + ", ".join(f"{p}: {'yes' if votes[p] else 'no'}" if p in votes else f"{p}: -"
                           for p in members) + "}"


def _judge_decide(node, votes, members, timed_out, txn, made):
    """4.2: compare a decision step with Gray §5.8.3; return (rule, detail) or None."""
    noes = [p for p in members if votes.get(p) is False]
    all_yes = all(votes.get(p) is True for p in members)
    missing = [p for p in members if p not in votes]
    expected = "aborted" if noes else "committed" if all_yes else "aborted" if timed_out else None
    state = node.txns.get(txn)
    decided = state if state in ("committed", "aborted") else None
    what = (f"{node.id} (votes for {txn}: {_show_votes(votes, members)}) "
            + ("at the vote timeout" if timed_out else "after a vote"))
    if state not in ("collecting", "committed", "aborted"):
        return STATE, f"{what}: txns[{txn!r}] is {state!r}; it is 'collecting', 'committed' or 'aborted'"
    if decided == "committed" and expected != "committed":
        why = (f"{', '.join(noes)} voted no" if noes else f"no vote from {', '.join(missing)}")
        return UNANIMOUS, f"{what}: decided commit, but {why}"
    if expected == "committed" and decided != "committed":
        return COMMIT_ALL_YES, f"{what}: every participant voted yes, but it decided {decided or 'nothing'}"
    if expected == "aborted" and decided != "aborted":
        if noes:
            return ABORT_ON_NO, f"{what}: {', '.join(noes)} voted no, but it decided nothing yet"
        return ABORT_ON_TIMEOUT, (f"{what}: no vote from {', '.join(missing)} at the timeout, but it decided "
                                  "nothing; it would wait forever")
    if expected is None and decided is not None:
        return WAIT, f"{what}: decided {decided} while votes from {', '.join(missing)} may still come"
    if decided is None:
        if _persisted(made, lambda r: r[0] in ("commit", "abort")) or any(
                type(i) is Send and isinstance(i.msg, (Commit, Abort)) for i in made):
            return STATE, f"{what}: decided nothing (txns[{txn!r}] is 'collecting') but logged or sent a decision"
        return None
    if node.decisions.get(txn) != decided:
        return TELL, (f"{what}: txns[{txn!r}] is {decided!r} but decisions[{txn!r}] is "
                      f"{node.decisions.get(txn)!r}; set both")
    kind, cls = ("commit", Commit) if decided == "committed" else ("abort", Abort)
    logged = _persisted(made, lambda r: r[0] in ("commit", "abort") and len(r) > 1 and r[1] == txn)
    sends = [(k, i) for k, i in enumerate(made) if type(i) is Send and isinstance(i.msg, (Commit, Abort))]
    if not logged:
        return FORCE_DECISION, (f"{what}: decided {decided} but never forced ({kind!r}, {txn!r}, members) to "
                                "stable storage; a restarted coordinator would presume abort")
    if sends and sends[0][0] < logged[0]:
        return FORCE_DECISION, (f"{what}: sent {sends[0][1].msg!r} to {sends[0][1].to} before forcing its "
                                f"decision record; a crash between the two leaves a {kind} that the restarted "
                                "coordinator does not remember (it then presumes abort)")
    record = next(r for r in made[logged[0]].records if isinstance(r, tuple) and r and r[0] in ("commit", "abort"))
    if record != (kind, txn, tuple(members)):
        return FORCE_DECISION, (f"{what}: forced {record!r}; the decision record is ({kind!r}, {txn!r}, "
                                f"{tuple(members)!r}) (self.members[txn])")
    wrong = [i for _, i in sends if not isinstance(i.msg, cls) or i.msg.txn != txn]
    if wrong:
        return TELL, f"{what}: decided {decided} but sent {wrong[0].msg!r} to {wrong[0].to}"
    told = {i.to for _, i in sends}
    if set(members) - told:
        return TELL, f"{what}: decided {decided} but told only {', '.join(sorted(told)) or 'nobody'}"
    if not any(type(i) is SetTimer and i.timer == DecisionRetry(txn) for i in made):
        return TELL, (f"{what}: decided {decided} without arming DecisionRetry({txn}); a lost decision is never "
                      "sent again (self.send_decision(txn) arms it)")
    return None


def reference_recover(records, txn):
    """What the course's participant does with ``txn`` on restart (``TwoPCNode._start_participant``)."""
    outcome = None
    prepared = False
    for record in records:
        if record[1] != txn:
            continue
        if record[0] == "prepared":
            prepared = True
        elif record[0] in ("commit", "abort"):
            outcome = record[0]
    return outcome if outcome is not None else "ask" if prepared else "abort"


def judge_recovery(records, txn, got):
    """4.3: compare a recovery decision with Gray §5.8.3; return (rule, detail) or None.

    >>> judge_recovery([("prepared", "T1", ())], "T1", "ask") is None
    True
    >>> judge_recovery([("prepared", "T1", ())], "T1", "abort")[0]
    'Ask when prepared without an outcome (Gray 1978, §5.8.3)'
    """
    expected = reference_recover(records, txn)
    if got == expected:
        return None
    mine = [r[:2] for r in records if r[1] == txn]
    what = f"with the log holding {mine or 'nothing'} for {txn}, recover returned {got!r}"
    if not isinstance(got, str) or got not in ("commit", "abort", "ask"):
        return STATE, f"{what}; it returns 'commit', 'abort' or 'ask'"
    if expected == "ask":
        why = ("it voted yes, so it promised to commit if told to: aborting alone may break atomicity"
               if got == "abort" else "the outcome is not in the log: the coordinator may have decided abort")
        return RECOVER_ASK, f"{what}, but {why}; it must ask"
    if expected == "abort" and not any(r[0] in ("commit", "abort") for r in mine):
        return RECOVER_ABORT, (f"{what}, but it never voted yes for {txn} (no prepared record): the coordinator "
                               "cannot have committed it")
    return RECOVER_REDO, f"{what}, but the log holds the outcome: {expected!r}"


def _refereed_vote(cls):
    student = cls.on_prepare

    def on_prepare(self, msg, sender):
        fresh = getattr(self, "txns", None) is not None and self.txns.get(msg.txn) is None
        locks, refused = dict(getattr(self, "locks", {})), set(getattr(self, "refused", ()))
        start = len(self._intentions)
        student(self, msg, sender)
        if not fresh or self.role != "participant":
            return
        try:
            found = _judge_prepare(self, locks, refused, msg, sender, self._intentions[start:])
        except Exception as error:      # noqa: BLE001 - the student's state is not what 2PC keeps
            found = (STATE, f"{self.id}: the referee could not read the node's state "
                            f"({type(error).__name__}: {error})")
        _report(self, found)
    return type(cls.__name__, (cls,), {"on_prepare": on_prepare, "__module__": TwoPCNode.__module__,
                                      "__qualname__": cls.__qualname__})


def _refereed_decide(cls):
    student = cls.decide

    def decide(self, txn, timed_out):
        votes, members = dict(self.votes.get(txn, {})), tuple(self.members.get(txn, ()))
        start = len(self._intentions)
        student(self, txn, timed_out)
        try:
            found = _judge_decide(self, votes, members, timed_out, txn, self._intentions[start:])
        except Exception as error:      # noqa: BLE001
            found = (STATE, f"{self.id}: the referee could not read the node's state "
                            f"({type(error).__name__}: {error})")
        _report(self, found)
    return type(cls.__name__, (cls,), {"decide": decide, "__module__": TwoPCNode.__module__,
                                      "__qualname__": cls.__qualname__})


def _recovering(function):
    def judged(self, log, txn, answer):
        found = judge_recovery(log, txn, answer)
        if found:
            found = (found[0], f"{self.id} restarted: {found[1]}")
        _report(self, found)
    return type("StudentRecovery", (RecoveringNode,), {"recover": staticmethod(function), "_judged": judged,
                                                       "__module__": TwoPCNode.__module__})


def _verdicts(nodes):
    """The referee's verdicts on the running nodes (the monitor reports each one once)."""
    return [Violation(rule, (node_id,), detail) for node_id, node in nodes.items()
            for rule, detail in getattr(node, "_verdicts", ())]


#: Checked first, after every step: a broken rule shows before the invariant it breaks next.
REFEREE = Invariant("§5.8.3: each step does what Gray's two-phase commit says", check=_verdicts)


#: Exercise id -> names of the course's code that would do the exercise for the student.
_FORBIDDEN = {"4.1": ("on_prepare", "_vote_yes"), "4.2": ("_decide",), "4.3": ("_start_participant",)}


def student_door(exercise_id, student):
    """The front door that runs exercise ``exercise_id``'s code ``student`` under the invariants and the referee."""
    name, method = METHODS[exercise_id]
    if exercise_id == "4.3":
        if not callable(student) or isinstance(student, type):
            raise Fail("recover must be a function", expected="def recover(records, txn): ...", got=repr(student))
        node_class = _recovering(student)
        body = student
    else:
        base = TwoPCNode if exercise_id == "4.1" else CoordinatorNode
        if not (isinstance(student, type) and issubclass(student, base)):
            raise Fail(f"{name} must be a class that extends {base.__name__}",
                       expected=f"class {name}({base.__name__}): ...", got=repr(student))
        if getattr(student, method) is getattr(base, method):
            args = "msg, sender" if method == "on_prepare" else "txn, timed_out"
            raise Fail(f"{name} does not define {method}: write it in the class",
                       expected=f"def {method}(self, {args}): ...", got=f"{name} inherits the course's {method}")
        body = getattr(student, method)
        node_class = _refereed_vote(student) if exercise_id == "4.1" else _refereed_decide(student)
    used = [n for n in _FORBIDDEN[exercise_id] if n in names_read(body)]
    if used:
        raise Fail(f"{name} calls the course's {used[0]}: write it yourself", expected="your own code",
                   got=f"a call of {used[0]}")

    def __init__(self, *args, **kwargs):
        DistributedTransaction.__init__(self, *args, **kwargs)
        type(self).last = self           # the fuzzer builds its own: keep it, for the failure's script

    attrs = {"node_class": node_class, "invariants": [REFEREE] + list(INVARIANTS), "__init__": __init__,
             "last": None, "__module__": __name__}
    if exercise_id == "4.1":             # the student's handler votes at once (no work_ticks)
        attrs["fuzz_params"] = {"cooperative": (False, True)}
    return type("StudentTxn", (DistributedTransaction,), attrs)


def replay_script(exercise_id, student, script, halt=False):
    """Replay a scenario ``script`` (text) with ``student``'s code as exercise ``exercise_id`` runs it; return the door.

    >>> def recover(records, txn):
    ...     return "abort"                      # forgets the promise of a yes vote
    >>> door = replay_script("4.3", recover, DistributedTransaction.presets()["participant_recovery"])
    >>> [(v["invariant"], v.tick) for v in door.violations][:2]
    [('Ask when prepared without an outcome (Gray 1978, §5.8.3)', 50), ('Atomicity', 50)]
    """
    return replay_with(student_door(exercise_id, student), script, halt)


# ---------------------------------------------------------------------------------- running cases


def _fail_for(title, seed, script, door, violation, later=()):
    """The failure for a broken rule or invariant (see :func:`fttoolkit.grading.refereed.fail_for`)."""
    return fail_for(title, seed, script, door, violation, later, INVARIANTS, RULES)


def _scenarios(exercise_id, scenarios):
    return scenario_check(exercise_id, METHODS[exercise_id][0], scenarios, student_door, _fail_for, RULES)


def _fuzzed(exercise_id, profile, seeds, nodes=4):
    """Random schedules of the fuzzer (a fault ``profile``), shrunk and written as a script on failure."""
    return fuzz_check(exercise_id, METHODS[exercise_id][0], profile, seeds, nodes, student_door, _fail_for,
                      readable=_readable)


_REQUEST = re.compile(r"^(\s*(?:at \d+ )?)request (\S+) ((?:Begin|Refuse)\(.*\))\s*$")


def _readable(text):
    """A script whose client requests are written as the door's ``begin``/``refuse`` commands.

    Scripts written from a run show a request as ``request n1 Begin(txn='T1', writes=...)``; the
    front door's own commands (``begin T1 n2:x=1 n3:y=2``) say the same thing, shorter, and replay
    to the same run.
    """
    import ast
    out = []
    for line in text.splitlines():
        m = _REQUEST.match(line)
        if m:
            call = ast.parse(m.group(3), mode="eval").body
            fields = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            if call.func.id == "Begin":
                values = [repr(v) if not isinstance(v, str) else v for _, pairs in fields["writes"] for _, v in pairs]
                if all(v and not any(c.isspace() or c in ",=:" for c in v) for v in values):   # the command's syntax
                    parts = [f"{node}:" + ",".join(f"{key}={_word(value)}" for key, value in pairs)
                             for node, pairs in fields["writes"]]
                    line = f"{m.group(1)}begin {fields['txn']} " + " ".join(parts)
            else:
                line = f"{m.group(1)}refuse {m.group(2)} {fields['txn']}"
        out.append(line)
    return "\n".join(out) + "\n"


def _word(value):
    """A value as the ``begin`` command reads it back: a bare word only if it would not parse as a literal."""
    import ast
    if isinstance(value, str):
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return repr(value)


def _preset(name, note):
    return f"# Exercise 4: {note}\n" + DistributedTransaction.presets()[name]


def _outcomes(txn, expected, stores=None):
    """At the end, ``txn`` is in state ``expected`` (node -> state) and, if given, the stores are ``stores``."""
    def judge(door):
        got = door.outcome(txn)
        want = {i: s for i, s in expected.items()}
        if {i: got.get(i) for i in want} != want:
            return "Termination", f"{txn} ended as {got}, not {want}"
        if stores is not None and door.stores() != stores:
            return "Durability", f"the stores are {door.stores()}, not {stores}"
        return None
    return judge


_COMMITTED = {"n1": "ended", "n2": "committed", "n3": "committed", "n4": "committed"}
_ABORTED_4 = {"n2": "aborted", "n3": "aborted", "n4": "aborted"}
_T1_STORES = {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}}


# ---------------------------------------------------------------------------------- 4.1 the vote
_CONFLICT = """\
algorithm 2pc
nodes 4
seed 2
network delay=10

# Exercise 4.1: T1 and T2 both write x at n2, and begin at the same moment. At t=10 n2 gets Prepare(T1)
# first: it locks x and votes yes. Prepare(T2) comes next: x is locked by T1, so n2 must vote no, and T2
# aborts (n4 voted yes for it: it learns the abort from the coordinator). T1 commits.
begin T1 n2:x=1 n3:y=2
begin T2 n2:x=5 n4:z=6
run 200
# Once T1 has released its lock, T3 may write x again.
begin T3 n2:x=7 n3:y=8
run 400
"""

_REFUSAL = """\
algorithm 2pc
nodes 4
seed 3
network delay=10

# Exercise 4.1: a client tells n3 to refuse T1 before its Prepare arrives: n3 must vote no (and lock
# nothing), and T1 aborts everywhere. T2, which writes the same key y at n3, then commits.
refuse n3 T1
begin T1 n2:x=1 n3:y=2 n4:z=3
run 200
begin T2 n3:y=9 n4:z=9
run 400
"""

_CRASH_AFTER_ONE = """\
algorithm 2pc
nodes 4
seed 4
network delay=10

# Exercise 4.1: a crash point on n3: in its next handler (the Prepare of T1) it carries out ONE intention,
# then crashes. With the prepared record forced first, that one intention is the write: the vote never
# leaves, the coordinator times out and aborts T1, and the restarted n3 (uncertain) learns the abort.
# A participant that sends its vote first crashes with a yes vote on the wire and nothing on its disk.
crash n3 after=1
begin T1 n2:x=1 n3:y=2 n4:z=3
run 50
restart n3
run 600
"""

register(Exercise(
    "4.1", "The participant's vote", needs=["VoteNode"],
    hint="keep msg.writes in self.writes[txn]; your part is self.mine(txn); if any of its keys is in "
         "self.locks (another transaction's) or txn is in self.refused, set self.txns[txn] = 'aborted' and "
         "send Vote(txn, False); otherwise lock every key, set self.txns[txn] = 'prepared', "
         "self.persist(('prepared', txn, msg.writes)) BEFORE self.send(sender, Vote(txn, True)), then "
         "self.set_timer(DecisionTimeout(txn), self.params['timeout_ticks'])",
    cases=[
        Case("calm commits", _scenarios("4.1", [
            Scenario("clean_commit", _preset("clean_commit", "the preset clean_commit"),
                     _outcomes("T1", _COMMITTED, _T1_STORES)),
        ])),
        Case("a lock conflict and a refusal", _scenarios("4.1", [
            Scenario("two transactions on one key", _CONFLICT,
                     _outcomes("T2", {"n2": "aborted", "n4": "aborted"})),
            Scenario("a refusal", _REFUSAL, _outcomes("T1", _ABORTED_4)),
        ]), points=2),
        Case("a crash between the vote and the write", _scenarios("4.1", [
            Scenario("a crash after one intention", _CRASH_AFTER_ONE, _outcomes("T1", _ABORTED_4)),
            Scenario("participant_recovery", _preset("participant_recovery", "the preset participant_recovery"),
                     _outcomes("T1", _COMMITTED, _T1_STORES)),
        ]), points=2),
        Case("crashes and restarts (fuzzed)", _fuzzed("4.1", "crash", range(1, 13))),
    ]))


# ---------------------------------------------------------------------------------- 4.2 the decision
_MISSING_VOTE = """\
algorithm 2pc
nodes 4
seed 5
network delay=10

# Exercise 4.2: n4 is down when T1 begins: its Prepare is lost and it never votes. n2 and n3 vote yes at
# t=10; at t=100 the vote timeout fires with n4's vote missing: the coordinator must abort.
crash n4
begin T1 n2:x=1 n3:y=2 n4:z=3
run 150
restart n4
run 600
"""

_CRASH_AT_DECISION = """\
algorithm 2pc
nodes 4
seed 6
network delay=10

# Exercise 4.2: every participant votes yes (the votes arrive at t=20). A crash point on the coordinator:
# in its next handler with intentions (the step that decides), it carries out ONE of them, then crashes.
# With the decision forced first, that is the commit record: the restarted coordinator re-sends Commit.
# A coordinator that sends Commit first has told n2 "commit" and forgotten it: it presumes abort.
begin T1 n2:x=1 n3:y=2 n4:z=3
run 15
crash n1 after=1
run 60
restart n1
run 700
"""

register(Exercise(
    "4.2", "The coordinator's decision rule", needs=["DecideNode"],
    hint="votes = self.votes[txn] (participant -> True/False), members = self.members[txn]; abort if any "
         "vote is False or timed_out, commit if every member voted True, else return (wait); to decide, set "
         "self.txns[txn] = self.decisions[txn] = outcome, self.persist((kind, txn, members)) with kind "
         "'commit' or 'abort', and only THEN self.send_decision(txn)",
    cases=[
        Case("calm runs: a commit and a no vote", _scenarios("4.2", [
            Scenario("clean_commit", _preset("clean_commit", "the preset clean_commit"),
                     _outcomes("T1", _COMMITTED, _T1_STORES)),
            Scenario("no_vote_abort", _preset("no_vote_abort", "the preset no_vote_abort"),
                     _outcomes("T1", _ABORTED_4)),
        ])),
        Case("a missing vote at the timeout", _scenarios("4.2", [
            Scenario("a participant down", _MISSING_VOTE, _outcomes("T1", _ABORTED_4)),
        ])),
        Case("a crash between the decision and its record", _scenarios("4.2", [
            Scenario("the coordinator crashes as it decides", _CRASH_AT_DECISION,
                     _outcomes("T1", _COMMITTED, _T1_STORES)),
            Scenario("coordinator_crash_after_decision",
                     _preset("coordinator_crash_after_decision", "the preset coordinator_crash_after_decision")),
        ]), points=2),
        Case("crashes and restarts (fuzzed)", _fuzzed("4.2", "crash", range(1, 13))),
    ]))


# ---------------------------------------------------------------------------------- 4.3 recovery
_W = (("n2", (("x", 1),)), ("n3", (("y", 2),)))

#: (what, records, txn): the logs the direct case asks about.
_LOGS = [
    ("prepared, no outcome", [("prepared", "T1", _W)], "T1"),
    ("prepared, then committed", [("prepared", "T1", _W), ("commit", "T1")], "T1"),
    ("prepared, then aborted", [("prepared", "T1", _W), ("abort", "T1")], "T1"),
    ("voted no", [("abort", "T1")], "T1"),
    ("nothing about T2", [("prepared", "T1", _W), ("commit", "T1")], "T2"),
    ("another transaction's outcome", [("prepared", "T1", _W), ("prepared", "T2", _W), ("commit", "T1")], "T2"),
    ("two transactions, one in doubt", [("prepared", "T1", _W), ("abort", "T2"), ("commit", "T1"),
                                        ("prepared", "T3", _W)], "T3"),
]


def _direct(ns):
    recover = ns["recover"]
    student_door("4.3", recover)
    for what, records, txn in _LOGS:
        got = recover(list(records), txn)
        if not isinstance(got, str) or got not in ("commit", "abort", "ask"):
            raise Fail(f"{what}: recover must return 'commit', 'abort' or 'ask' ({STATE} broken)",
                       expected=repr(reference_recover(records, txn)),
                       got=f"recover({records!r}, {txn!r}) returned {got!r}")
        problem = judge_recovery(records, txn, got)
        if problem:
            rule, detail = problem
            raise Fail(f"{what}: {rule} broken", expected=repr(reference_recover(records, txn)),
                       got=f"recover({records!r}, {txn!r}) returned {got!r}: {detail}")
    return expect(len(_LOGS), len(_LOGS), "logs answered right")


_IN_DOUBT = """\
algorithm 2pc
nodes 4
seed 7
network delay=10

# Exercise 4.3: n3 crashes right after voting yes on T1 (its prepared record is on disk); the coordinator
# crashes at t=15, before the votes arrive, so it never decides. n3 restarts at t=60: prepared, no outcome.
# It must ask (and keep its lock on y); the coordinator, back at t=150, presumes abort, and T1 aborts at
# every participant. A participant that commits on its own here breaks atomicity.
crash n3 after=2
begin T1 n2:x=1 n3:y=2 n4:z=3
run 15
crash n1
run 60
restart n3
run 150
restart n1
run 800
"""

_REDO = """\
algorithm 2pc
nodes 4
seed 8
network delay=10

# Exercise 4.3: T1 commits everywhere; then a client has n3 refuse T2 (n3 votes no: abort record).
begin T1 n2:x=1 n3:y=2 n4:z=3
run 100
refuse n3 T2
begin T2 n2:x=5 n3:y=6
run 300
# n3 crashes and restarts: its log holds T1's prepared and commit records, and T2's abort record. It must
# redo T1 (y=2 back in its store) and abort T2, asking nobody.
crash n3
restart n3
run 400
"""

register(Exercise(
    "4.3", "Recovery from a participant's log", needs=["recover"],
    hint="look only at the records whose second field is txn: a ('commit', txn) or ('abort', txn) record is "
         "the outcome (return 'commit' or 'abort'); otherwise a ('prepared', txn, writes) record means "
         "'ask'; with neither, it never voted yes: 'abort'",
    cases=[
        Case("the rule on given logs", _direct),
        Case("participant_recovery: prepared, the coordinator committed", _scenarios("4.3", [
            Scenario("participant_recovery", _preset("participant_recovery", "the preset participant_recovery"),
                     _outcomes("T1", _COMMITTED, _T1_STORES)),
        ])),
        Case("prepared, the coordinator never decided", _scenarios("4.3", [
            Scenario("a participant in doubt", _IN_DOUBT, _outcomes("T1", _ABORTED_4)),
        ])),
        Case("the outcome is in the log", _scenarios("4.3", [
            Scenario("redo a commit, keep an abort", _REDO,
                     _outcomes("T1", {"n2": "committed", "n3": "committed", "n4": "committed"},
                               {"n2": {"x": 1}, "n3": {"y": 2}, "n4": {"z": 3}})),
        ])),
        Case("crashes and restarts (fuzzed)", _fuzzed("4.3", "crash", range(1, 13))),
    ]))
