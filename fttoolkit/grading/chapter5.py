"""Chapter 5's exercises, on single-decree Paxos (Lamport, "Paxos Made Simple", 2001).

Two exercises replace one method of :class:`~fttoolkit.algorithms.paxos.PaxosNode` by the student's, the
third is a plain function the course plugs into a proposer; the rest of the node is the course's own:

* 5.1 **The acceptor's Prepare handler**: ``on_prepare`` of ``PromiseNode``;
* 5.2 **The acceptor's Accept handler**: ``on_accept`` of ``AcceptNode``;
* 5.3 **The proposer's value choice**: ``choose_value(promises, own_value)``, called by the proposer once a
  majority promised (the course's node then sends ``Accept(ballot, value)`` with the value it returns).

The student's code runs in the real simulator, under Paxos's invariants (``fttoolkit.Paxos``'s: Agreement,
Validity, Promise kept, Learners agree, and Progress once calm) and a *referee*: a subclass that watches
every call of the student's code, computes what §2.2 of the paper prescribes from the state before the call
and, if the call did otherwise, reports a violation named after the rule (``Promise only higher ballots
(§2.2)``...) at the step of that call.  A mistake is thus named where it happens, even when the run would
only go wrong later; the invariants still judge what it leads to.  Every failure carries the seed and the
scenario script of the run, and the run itself for ``show_run``; :func:`replay_script` replays such a
script with a student's code.
"""


from ..algorithms.paxos import (INVARIANTS, LIVENESS, Accept, Accepted, Ballot, Nack, PaxosNode, Promise, Retry,
                                highest_accepted)
from ..core.intentions import Persist, Send
from ..core.invariants import Invariant, Violation
from ..doors.paxos import Paxos
from .model import Case, Exercise, Fail, expect, register
from .refereed import Scenario, fail_for, fuzz_check, names_read, replay_with, scenario_check

__all__ = ["RULES", "student_door", "replay_script", "METHODS"]

#: Exercise id -> (the name the student defines, the method of PaxosNode it replaces).
METHODS = {"5.1": ("PromiseNode", "on_prepare"), "5.2": ("AcceptNode", "on_accept"),
           "5.3": ("choose_value", "begin_accept")}

# ---------------------------------------------------------------------------------- the rules
REPLY = "Reply once (§2.2)"
PROMISE_HIGHER = "Promise only higher ballots (§2.2)"
ANSWER = "Promise a higher ballot (§2.2)"
REPORT = "Report the accepted proposal (§2.2)"
REMEMBER = "Remember the promise (§2.2)"
KEEP = "Keep the promise (§2.2)"
ACCEPT = "Accept unless promised higher (§2.2)"
RECORD = "Record the acceptance (§2.2)"
TELL = "Tell the learners (§2.3)"
PERSIST = "Persist before replying (§2.5)"
HIGHEST = "Propose the highest-numbered accepted value (§2.2, P2c)"
STATE = "Paxos's state"

#: Rule name -> what it says (the "expected" line of a failure).
RULES = {
    REPLY: "every Prepare or Accept gets exactly one answer, sent to its sender: Promise(ballot, accepted) or "
           "Accepted(ballot, value) for the request's own ballot, or Nack(ballot, promised) with the promise",
    PROMISE_HIGHER: "an acceptor answers a Prepare(b) with a Promise only if b is at least the highest ballot it "
                    "promised; a lower one gets Nack(b, promised) and changes nothing",
    ANSWER: "a Prepare(b) with b higher than every ballot the acceptor promised gets a Promise",
    REPORT: "a Promise carries the proposal the acceptor accepted, (ballot, value), or None if it accepted none",
    REMEMBER: "after promising b, self.promised is b; a Prepare never changes self.accepted",
    KEEP: "an acceptor never accepts a ballot lower than one it promised: it answers Nack(b, promised)",
    ACCEPT: "an Accept(b, v) with b at least the highest ballot promised is accepted",
    RECORD: "accepting (b, v) sets self.accepted = (b, v) and self.promised = b (accepting b promises b too); "
            "a refusal changes nothing",
    TELL: "an acceptor that accepts (b, v) sends Accepted(b, v) once to the proposer and to every learner "
          "(self.learners)",
    PERSIST: "the acceptor's promise and accepted proposal reach stable storage (self.save_acceptor()) before "
             "the reply that depends on them is sent",
    HIGHEST: "with promises from a majority, the proposer proposes the value of the highest-numbered accepted "
             "proposal they report; its own value only if none reports one",
    STATE: "the node's state keeps the shapes Paxos gives it (promised: a Ballot or None; accepted: None or "
           "(ballot, value))",
}
for _inv in list(INVARIANTS) + list(LIVENESS):
    RULES[_inv.name] = _inv.title.split(":", 1)[1].strip()


# ---------------------------------------------------------------------------------- the referee
class _Before:
    """What an acceptor held before the student's method ran."""

    def __init__(self, node):
        self.promised = node.promised
        self.accepted = node.accepted


_UNSENT = object()


def _disk_at(made, reply, disk):
    """Replay the acceptor writes among ``made``: (storage when ``reply`` left, storage at the end).

    ``disk`` is None for "not written in this call" (storage still holds the state before the call).
    """
    at_reply = _UNSENT
    for item in made:
        if item is reply and at_reply is _UNSENT:
            at_reply = disk
        if type(item) is Persist:
            for record in item.records:
                if isinstance(record, tuple) and len(record) == 3 and record[0] == "acceptor":
                    disk = (record[1], record[2])
    return (disk if at_reply is _UNSENT else at_reply), disk


def _persisted(node, what, made, reply, what_changed):
    """PERSIST's verdict: the state of the node must be on disk when ``reply`` leaves, and at the end."""
    state = (node.promised, node.accepted)
    at_reply, at_end = _disk_at(made, reply, None)
    if at_end is None:          # nothing written in this call: storage still holds the state before it
        return None if what_changed is None else (
            PERSIST, f"{what}: {what_changed} was never written to stable storage (self.save_acceptor() writes "
                     "it); after a crash the acceptor would forget it and could break its word")
    if at_end != state:
        return PERSIST, (f"{what}: stable storage holds promised={at_end[0]!r}, accepted={at_end[1]!r} at the "
                         f"end, but the node holds promised={state[0]!r}, accepted={state[1]!r}: write the state "
                         "after changing it")
    if at_reply != state and what_changed is not None:
        return PERSIST, (f"{what}: {what_changed} reached stable storage only after the reply had left; a crash "
                         "between the two makes the acceptor forget what it answered (call self.save_acceptor() "
                         "before self.send)")
    return None


def _judge_prepare(node, before, msg, sender, made):
    """5.1: compare a Prepare's handling with §2.2; return (rule, detail) or None."""
    b, p, a = msg.ballot, before.promised, before.accepted
    what = f"{node.id} (promised {p!r}, accepted {a!r}) got Prepare({b!r}) from {sender}"
    replies = [i for i in made if type(i) is Send and isinstance(i.msg, (Promise, Nack))]
    if len(replies) != 1 or replies[0].to != sender:
        got = ", ".join(f"{i.msg!r} to {i.to}" for i in replies) or "none"
        return REPLY, f"{what}: expected one Promise or Nack to {sender}, sent {len(replies)} ({got})"
    send = replies[0]
    reply = send.msg
    if isinstance(reply, Promise):
        if p is not None and b < p:
            return PROMISE_HIGHER, (f"{what}: promised {b!r}, lower than its promise {p!r}; it must answer "
                                    f"Nack({b!r}, promised={p!r})")
        if reply.ballot != b:
            return REPLY, f"{what}: the Promise carries ballot {reply.ballot!r}, not the Prepare's {b!r}"
        if reply.accepted != a:
            return REPORT, (f"{what}: its Promise reports accepted={reply.accepted!r}, but it had accepted {a!r}; "
                            "the proposer needs it to choose its value (P2c)")
        if node.promised != b:
            return REMEMBER, f"{what}: promised {b!r}, but self.promised is {node.promised!r} after it"
        if node.accepted != a:
            return REMEMBER, f"{what}: a Prepare changed self.accepted from {a!r} to {node.accepted!r}"
        return _persisted(node, what, made, send, None if b == p else f"the promise {b!r}")
    if p is None or b > p:
        return ANSWER, (f"{what}: refused, but {b!r} is higher than every ballot it promised"
                        + ("" if p is None else f" ({p!r})"))
    if reply.ballot != b or reply.promised != p:
        return REPLY, f"{what}: answered {reply!r}; the refusal is Nack({b!r}, promised={p!r})"
    if (node.promised, node.accepted) != (p, a):
        return PROMISE_HIGHER, (f"{what}: refused (right), but changed its state to promised={node.promised!r}, "
                                f"accepted={node.accepted!r}: a refusal changes nothing")
    return _persisted(node, what, made, send, None)


def _judge_accept(node, before, msg, sender, made):
    """5.2: compare an Accept's handling with §2.2; return (rule, detail) or None."""
    b, v, p, a = msg.ballot, msg.value, before.promised, before.accepted
    what = f"{node.id} (promised {p!r}, accepted {a!r}) got Accept({b!r}, {v!r}) from {sender}"
    told = [i for i in made if type(i) is Send and isinstance(i.msg, Accepted)]
    nacks = [i for i in made if type(i) is Send and isinstance(i.msg, Nack)]
    allowed = p is None or b >= p
    if told:
        if not allowed:
            return KEEP, f"{what}: accepted {b!r} after promising {p!r}; it must answer Nack({b!r}, promised={p!r})"
        wrong = [i for i in told if i.msg != Accepted(b, v)]
        if wrong:
            return REPLY, f"{what}: sent {wrong[0].msg!r}; the acceptance is Accepted({b!r}, {v!r})"
        if nacks:
            return REPLY, f"{what}: accepted, and also sent {nacks[0].msg!r}: one answer only"
        to = [i.to for i in told]
        should = set(node.learners) | {sender}
        if set(to) != should or len(to) != len(set(to)):
            return TELL, (f"{what}: sent Accepted to {', '.join(to)}; it goes once to each of "
                          f"{', '.join(sorted(should, key=lambda i: (len(i), i)))} (the proposer and the learners)")
        if node.accepted != (b, v):
            return RECORD, f"{what}: accepted, but self.accepted is {node.accepted!r}, not {(b, v)!r}"
        promise = b if p is None or b > p else p
        if node.promised != promise:
            return RECORD, (f"{what}: accepted, but self.promised is {node.promised!r}; accepting {b!r} promises "
                            f"it too, so it should be {promise!r}")
        changed = None if (promise, (b, v)) == (p, a) else f"the accepted proposal {(b, v)!r}"
        return _persisted(node, what, made, told[0], changed)
    if allowed:
        return ACCEPT, (f"{what}: refused, but {b!r} is not lower than its promise {p!r}" if p is not None else
                        f"{what}: refused, but it promised nothing yet")
    if len(nacks) != 1 or nacks[0].to != sender or nacks[0].msg != Nack(b, p):
        got = ", ".join(f"{i.msg!r} to {i.to}" for i in nacks) or "none"
        return REPLY, f"{what}: expected one Nack({b!r}, promised={p!r}) to {sender}, sent {got}"
    if (node.promised, node.accepted) != (p, a):
        return RECORD, (f"{what}: refused (right), but changed its state to promised={node.promised!r}, "
                        f"accepted={node.accepted!r}: a refusal changes nothing")
    return _persisted(node, what, made, nacks[0], None)


def _show_promises(promises):
    return "{" + ", ".join(f"{i}: {a!r}" for i, a in promises.items()) + "}"


def judge_choice(promises, own_value, got):
    """5.3: compare a value choice with P2c; return (rule, detail) or None.

    >>> judge_choice({"n1": None, "n2": (Ballot(1, "n3"), "x")}, "y", "x") is None
    True
    >>> judge_choice({"n1": None, "n2": (Ballot(1, "n3"), "x")}, "y", "y")[1]
    "with promises {n1: None, n2: (b1.n3, 'x')} and its own value 'y', it proposed its own value, but a promise reports an accepted proposal: the highest-numbered one, b1.n3, carries 'x'"
    """
    highest = highest_accepted(promises)
    expected = own_value if highest is None else highest[1]
    if got == expected:
        return None
    what = f"with promises {_show_promises(promises)} and its own value {own_value!r}, it proposed"
    if highest is None:
        return HIGHEST, f"{what} {got!r}; no promise reports an accepted proposal, so it proposes its own value"
    reported = [x for x in promises.values() if x is not None]
    if got == own_value:
        return HIGHEST, (f"{what} its own value, but {'a promise reports' if len(reported) == 1 else 'promises report'}"
                         f" an accepted proposal: the highest-numbered one, {highest[0]!r}, carries {highest[1]!r}")
    lowest = min(reported, key=lambda x: x[0].key)
    why = (" (the value of the LOWEST-numbered one)" if got == lowest[1] else
           " (the value of the first promise)" if got == reported[0][1] else "")
    return HIGHEST, (f"{what} {got!r}{why}; the highest-numbered accepted proposal is {highest!r}, so the "
                     f"value must be {highest[1]!r}")


def _report(node, found):
    if found:          # read by the REFEREE check right after this handler's step, before any invariant
        node._verdicts = getattr(node, "_verdicts", ()) + (found,)


def _refereed(cls, method):
    """A subclass of the student's ``cls`` whose ``method`` (on_prepare or on_accept) is judged after every call."""
    student = getattr(cls, method)
    judge = _judge_prepare if method == "on_prepare" else _judge_accept

    def watched(self, msg, sender):
        before, start = _Before(self), len(self._intentions)
        student(self, msg, sender)
        try:
            found = judge(self, before, msg, sender, self._intentions[start:])
        except Exception as error:      # noqa: BLE001 - the student's state is not what Paxos keeps
            found = (STATE, f"{self.id}: the referee could not read the node's state "
                            f"({type(error).__name__}: {error})")
        _report(self, found)
    watched.__name__ = method
    # the module of the protocol, so that scripts find its messages
    return type(cls.__name__, (cls,), {method: watched, "__module__": PaxosNode.__module__,
                                      "__qualname__": cls.__qualname__})


class _Chooser(PaxosNode):
    """The course's proposer, whose phase 2 proposes what the student's ``choose_value`` returns."""

    choose = None

    def begin_accept(self):
        promises = dict(self.promises)
        value = type(self).choose(dict(promises), self.asked)
        _report(self, judge_choice(promises, self.asked, value))
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"choose_value returned {value!r}, which is not a value (a value is immutable: a "
                            "number, a string, a tuple)") from None
        highest = highest_accepted(promises)
        if highest is not None and value == highest[1] and value != self.asked:
            self.note("adopted", value=highest[1], ballot=highest[0])
        self.proposal = value
        self.set_phase("accept")
        for acceptor in self.acceptors:
            self.send(acceptor, Accept(self.ballot, self.proposal))
        self.set_timer(Retry(), self.params["timeout_ticks"])


def _chooser(function):
    return type("StudentProposer", (_Chooser,), {"choose": staticmethod(function),
                                                 "__module__": PaxosNode.__module__})


def _verdicts(nodes):
    """The referee's verdicts on the running nodes (the monitor reports each one once)."""
    return [Violation(rule, (node_id,), detail) for node_id, node in nodes.items()
            for rule, detail in getattr(node, "_verdicts", ())]


#: Checked first, after every step: a broken rule shows before the invariant it breaks next.
REFEREE = Invariant("§2.2: each step does what Paxos Made Simple says", check=_verdicts)


def student_door(exercise_id, student):
    """The front door that runs exercise ``exercise_id``'s code ``student`` under the invariants and the referee."""
    name, method = METHODS[exercise_id]
    if exercise_id == "5.3":
        if not callable(student) or isinstance(student, type):
            raise Fail("choose_value must be a function", expected="def choose_value(promises, own_value): ...",
                       got=repr(student))
        if "highest_accepted" in names_read(student):
            raise Fail("exercise 5.3 asks you to find the highest-numbered proposal yourself: do not call "
                       "highest_accepted", expected="your own loop over promises.values()",
                       got="a call of highest_accepted")
        node_class = _chooser(student)
    else:
        if not (isinstance(student, type) and issubclass(student, PaxosNode)):
            raise Fail(f"{name} must be a class that extends PaxosNode", expected=f"class {name}(PaxosNode): ...",
                       got=repr(student))
        if getattr(student, method) is getattr(PaxosNode, method):
            raise Fail(f"{name} does not define {method}: write it in the class",
                       expected=f"def {method}(self, msg, sender): ...", got=f"{name} inherits the course's {method}")
        if method in names_read(getattr(student, method)):
            raise Fail(f"{name}.{method} calls the course's {method} (super().{method}...): write it yourself",
                       expected="your own code", got=f"a call of {method}")
        node_class = _refereed(student, method)

    def __init__(self, *args, **kwargs):
        Paxos.__init__(self, *args, **kwargs)
        type(self).last = self           # the fuzzer builds its own: keep it, for the failure's script

    return type("StudentPaxos", (Paxos,), {"node_class": node_class, "invariants": [REFEREE] + list(INVARIANTS),
                                           "__init__": __init__, "last": None, "__module__": __name__})


def replay_script(exercise_id, student, script, halt=False):
    """Replay a scenario ``script`` (text) with ``student``'s code as exercise ``exercise_id`` runs it; return the door.

    >>> def choose_value(promises, own_value):
    ...     return own_value                  # ignores the promises
    >>> door = replay_script("5.3", choose_value, Paxos.presets()["partial_accept"])
    >>> first = door.violations[0]
    >>> first["invariant"], first.tick
    ('Propose the highest-numbered accepted value (§2.2, P2c)', 70)
    >>> sorted({v["invariant"] for v in door.violations})[:2]
    ['Agreement', 'Learners agree']
    """
    return replay_with(student_door(exercise_id, student), script, halt)


# ---------------------------------------------------------------------------------- running cases


def _fail_for(title, seed, script, door, violation, later=()):
    """The failure for a broken rule or invariant (see :func:`fttoolkit.grading.refereed.fail_for`)."""
    return fail_for(title, seed, script, door, violation, later, INVARIANTS, RULES)


def _everyone_learned(value=None):
    """At the end, one value is chosen (``value`` if given) and every running node learned it."""
    def judge(door):
        chosen = door.chosen()
        learned = {i: v for i, v in door.learned().items() if door.sim.up[i]}
        if chosen is None or (value is not None and chosen != value):
            return "Progress", (f"the value chosen is {chosen!r}, not {value!r} (learned: {learned})" if value
                                else f"no value was chosen (learned: {learned}; phases: {door.phases()})")
        behind = [i for i, v in learned.items() if v != chosen]
        if behind:
            return "Progress", f"{', '.join(behind)} did not learn the chosen {chosen!r} (learned: {learned})"
        return None
    return judge


def _scenarios(exercise_id, scenarios):
    return scenario_check(exercise_id, METHODS[exercise_id][0], scenarios, student_door, _fail_for, RULES)


def _calm_script(nodes, seed, proposals):
    """A calm run: ``proposals`` are (tick, node, value); each proposer finishes before the next starts."""
    lines = ["algorithm paxos", f"nodes {nodes}", f"seed {seed}", "network delay=10", "",
             f"# A calm network of {nodes} nodes: every message takes 10 ticks, nothing is lost."]
    now = 0
    for tick, node, value in proposals:
        if tick > now:
            lines.append(f"run {tick}")
            now = tick
        lines.append(f"propose {node} {value}")
    lines.append(f"run {now + 400}")
    return "\n".join(lines) + "\n"


def _calm(exercise_id):
    return _scenarios(exercise_id, [
        Scenario("3 nodes, one proposer", _calm_script(3, 1, [(0, "n1", "apple")]), _everyone_learned("apple")),
        Scenario("5 nodes, a second proposer after the first", _calm_script(5, 2, [(0, "n2", "apple"),
                                                                                  (200, "n4", "banana")]),
                 _everyone_learned("apple")),
    ])


def _fuzzed(exercise_id, profile, seeds, nodes=5):
    """Random schedules of the fuzzer (a fault ``profile``), shrunk and written as a script on failure."""
    return fuzz_check(exercise_id, METHODS[exercise_id][0], profile, seeds, nodes, student_door, _fail_for,
                      report_later=False)


def _preset(name, note):
    return f"# Exercise 5: {note}\n" + Paxos.presets()[name]


# ---------------------------------------------------------------------------------- 5.1 Prepare
_LOWER_PREPARE = """\
algorithm paxos
nodes 3
seed 3
network delay=10

# Exercise 5.1: n1 is cut off while n3 gets "banana" chosen with ballot b1.n3 (n2 and n3 promise and accept).
partition n1 | n2 n3
propose n3 banana
run 100
# The network heals. n1 has seen no ballot: it proposes "apple" with b1.n1, LOWER than b1.n3 (same round,
# and n1 comes before n3). n2 and n3 promised b1.n3: they must answer Nack(b1.n1, promised=b1.n3).
# n1 then retries with a higher ballot, learns of banana from the promises, and proposes banana.
heal
propose n1 apple
run 600
"""

_PROMISE_ACROSS_A_CRASH = """\
algorithm paxos
nodes 3
seed 4
network delay=10

# Exercise 5.1: n1 asks for promises on b1.n1; n3 is cut off from n1. n2 promises b1.n1 ...
partition n1 n2 | n3
propose n1 apple
run 15
# ... and crashes after sending its Promise: its promise must come back from stable storage.
crash n2
restart n2
# n3 proposes with its own ballot b1.n3: n2 promises it (b1.n3 is higher than b1.n1).
partition n1 | n2 n3
propose n3 banana
run 100
heal
run 800
"""

register(Exercise(
    "5.1", "The acceptor's Prepare handler", needs=["PromiseNode"],
    hint="compare msg.ballot with self.promised (None: nothing promised yet); a ballot at least as high gets a "
         "promise: set self.promised, write it with self.save_acceptor() BEFORE self.send(sender, "
         "Promise(msg.ballot, self.accepted)); a lower one gets Nack(msg.ballot, self.promised) and changes nothing",
    cases=[
        Case("calm runs", _calm("5.1")),
        Case("a lower ballot after a higher one, and a crash", _scenarios("5.1", [
            Scenario("a Prepare lower than the promise", _LOWER_PREPARE, _everyone_learned("banana")),
            Scenario("a promise across a crash", _PROMISE_ACROSS_A_CRASH, _everyone_learned()),
        ])),
        Case("promises report the accepted proposal (partial_accept)", _scenarios("5.1", [
            Scenario("partial_accept", _preset("partial_accept", "the preset partial_accept of Paxos.presets()"),
                     _everyone_learned("apple")),
        ])),
        Case("crashes, partitions and lost messages (fuzzed)", _fuzzed("5.1", "chaos", range(1, 7))),
    ]))


# ---------------------------------------------------------------------------------- 5.2 Accept
_LOWER_ACCEPT = """\
algorithm paxos
nodes 5
seed 5
network delay=10

# Exercise 5.2: n1 proposes "apple" with b1.n1; its own acceptor promises at once, the others at t=10.
propose n1 apple
run 5
# At t=5 n5 proposes "banana": it has seen no ballot yet, so it uses b1.n5, higher than b1.n1. At t=15
# n1..n4 promise b1.n5 too. At t=20 n1 holds a majority of promises for b1.n1 and sends Accept(b1.n1,
# 'apple'): every acceptor promised b1.n5 since, so each must answer Nack (n1's own at t=20, the others at
# t=30). n5's Accept(b1.n5, 'banana') arrives at t=35 and is accepted: banana is chosen.
propose n5 banana
run 600
"""

_ACCEPT_ACROSS_A_CRASH = """\
algorithm paxos
nodes 3
seed 6
network delay=10

# Exercise 5.2: n1 gets "apple" accepted by n1 and n2 (chosen); n3 is cut off and hears nothing.
partition n1 n2 | n3
propose n1 apple
run 35
# n2 crashes and restarts: what it accepted must come back from stable storage. Then n1 crashes too,
# and n3 proposes "banana": its quorum is n2 and n3, so n2 must still report (b1.n1, 'apple').
crash n2
restart n2
crash n1
heal
propose n3 banana
run 400
# n1 restarts with an empty learner; it proposes "cherry" and learns that 'apple' is chosen.
restart n1
propose n1 cherry
run 800
"""

register(Exercise(
    "5.2", "The acceptor's Accept handler", needs=["AcceptNode"],
    hint="accept unless msg.ballot is lower than self.promised; accepting sets self.accepted = (msg.ballot, "
         "msg.value) and self.promised = msg.ballot (when higher), writes them with self.save_acceptor(), and only "
         "then sends Accepted(msg.ballot, msg.value) to every node of set(self.learners) | {sender}; a refusal is "
         "Nack(msg.ballot, self.promised)",
    cases=[
        Case("calm runs", _calm("5.2")),
        Case("an Accept below the promise", _scenarios("5.2", [
            Scenario("dueling proposers", _LOWER_ACCEPT, _everyone_learned("banana")),
        ])),
        Case("an acceptance across a crash", _scenarios("5.2", [
            Scenario("an acceptor restarts", _ACCEPT_ACROSS_A_CRASH, _everyone_learned("apple")),
            Scenario("partial_accept", _preset("partial_accept", "the preset partial_accept of Paxos.presets()"),
                     _everyone_learned("apple")),
        ])),
        Case("crashes, partitions, lost and duplicated messages (fuzzed)", lambda ns: "; ".join([
            _fuzzed("5.2", "lossy", range(1, 4))(ns), _fuzzed("5.2", "chaos", range(1, 5))(ns)])),
    ]))


# ---------------------------------------------------------------------------------- 5.3 the value
def _b(text):
    r, n = text[1:].split(".")
    return Ballot(int(r), n)


#: (what, promises, own value): the promise sets the direct case asks about.
_CHOICES = [
    ("no promise carries a proposal", {"n1": None, "n2": None, "n3": None}, "mine"),
    ("one promise carries a proposal", {"n1": None, "n2": (_b("b1.n3"), "x"), "n3": None}, "mine"),
    ("three different proposals", {"n1": (_b("b2.n5"), "b"), "n2": (_b("b1.n2"), "a"), "n3": (_b("b3.n1"), "c")},
     "mine"),
    ("the same round: n10 comes after n9", {"n4": (_b("b2.n9"), "p"), "n5": None, "n6": (_b("b2.n10"), "q")},
     "mine"),
    ("the own value accepted already", {"n1": (_b("b1.n1"), "mine"), "n2": None, "n3": None}, "mine"),
    ("five promises, two values", {"n1": (_b("b4.n2"), "y"), "n2": (_b("b4.n2"), "y"), "n3": None,
                                   "n4": (_b("b3.n3"), "x"), "n5": (_b("b1.n1"), "x")}, "z"),
]


def _direct(ns):
    choose = ns["choose_value"]
    student_door("5.3", choose)              # the same complaints as in a run (not a function ...)
    for what, promises, own in _CHOICES:
        got = choose(dict(promises), own)
        problem = judge_choice(promises, own, got)
        if problem:
            rule, detail = problem
            highest = highest_accepted(promises)
            raise Fail(f"{what}: {rule} broken", expected=repr(own if highest is None else highest[1]),
                       got=f"choose_value({_show_promises(promises)}, {own!r}) returned {got!r}: {detail}")
    return expect(len(_CHOICES), len(_CHOICES), "promise sets answered right")


register(Exercise(
    "5.3", "The proposer's value choice", needs=["choose_value"],
    hint="promises maps each acceptor to None or (ballot, value); among those that are not None take the one "
         "with the HIGHEST ballot (ballots compare with < and >) and return its value; return own_value only "
         "if every promise is None",
    cases=[
        Case("the rule on given promise sets", _direct),
        Case("partial_accept: the next proposer finishes the first one's job", _scenarios("5.3", [
            Scenario("partial_accept", _preset("partial_accept", "the preset partial_accept of Paxos.presets()"),
                     _everyone_learned("apple")),
        ]), points=2),
        Case("crashes, partitions and lost messages (fuzzed)", _fuzzed("5.3", "chaos", range(1, 7))),
    ]))
