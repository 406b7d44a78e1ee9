"""Chapter 6's exercises, on Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus
Algorithm (Extended Version)", 2014).

Each exercise replaces one method of :class:`~fttoolkit.algorithms.raft.RaftNode` by the student's; the
rest of the server is the course's own:

* 6.1 **RequestVote**: ``on_request_vote`` of ``VoteNode``;
* 6.2 **AppendEntries**: ``on_append_entries`` of ``AppendNode`` (the consistency check, truncating
  conflicts only, the follower's commit index);
* 6.3 **The commit rule**: ``advance_commit`` of ``CommitNode`` (Figure 8).

The student's class runs in the real simulator, under Raft's five invariants (``fttoolkit.Raft``'s) and a
*referee*: a subclass that watches every call of the student's method, computes what Figure 2 of the paper
prescribes from the state before the call, and, if the call did otherwise, reports a violation named after
the rule (``One vote per term (§5.2)``...) at the step of that call.  A mistake is thus named where it
happens, even when the run would only go wrong later; the invariants still judge what it leads to.  Every failure carries the seed and the scenario script of the run, and the run itself for
``show_run``; :func:`replay_script` replays such a script with a student's class.
"""


from ..algorithms.raft import (INVARIANTS, LIVENESS, AppendEntriesReply, ElectionTimeout, RaftNode,
                               RequestVoteReply)
from ..core.errors import HandlerError
from ..core.intentions import Note, Persist, Send, SetTimer
from ..core.invariants import Invariant, Violation
from ..doors.raft import Raft
from .model import Case, Exercise, Fail, register
from .refereed import Scenario, fail_for, fuzz_check, names_read, replay_with, scenario_check
from .refereed import reraise_student_error as _reraise_student_error

__all__ = ["RULES", "student_door", "replay_script"]

#: Exercise id -> (the class the student defines, the method it overrides).
METHODS = {"6.1": ("VoteNode", "on_request_vote"), "6.2": ("AppendNode", "on_append_entries"),
           "6.3": ("CommitNode", "advance_commit")}

# ---------------------------------------------------------------------------------- the rules
REPLY = "Reply once (Figure 2)"
ADOPT = "Adopt a higher term (§5.1)"
STALE = "Refuse a stale term (§5.1)"
ONE_VOTE = "One vote per term (§5.2)"
UP_TO_DATE = "Up-to-date log (§5.4.1)"
GRANT = "Grant an allowed vote (§5.2, §5.4.1)"
PERSIST = "Persist before replying (Figure 2)"
TIMER = "Reset the election timer (§5.2)"
FOLLOW = "Follow the leader (§5.2)"
CHECK = "Consistency check (§5.3)"
TRUNCATE = "Truncate only conflicts (§5.3)"
APPEND = "Append the new entries (§5.3)"
MATCH = "Report the match index (§5.3)"
FOLLOWER_COMMIT = "Follower commit index (Figure 2)"
APPLY = "Commit with commit_to (Figure 2)"
CURRENT_TERM = "Count only current-term entries (§5.4.2)"
MAJORITY = "Majority (§5.3)"
HIGHEST = "Commit the highest N (§5.3, §5.4.2)"
STATE = "Raft's state"

#: Rule name -> what it says (the "expected" line of a failure).
RULES = {
    REPLY: "every request gets exactly one reply, sent to its sender, carrying the receiver's current term",
    ADOPT: "a request with a higher term makes the receiver adopt that term (and forget its vote) and become "
           "a follower before it answers",
    STALE: "a request whose term is lower than the receiver's current term is refused and changes nothing",
    ONE_VOTE: "in one term a server grants at most one vote: only if voted_for is None or already that "
              "candidate, and it remembers the vote in voted_for",
    UP_TO_DATE: "a vote goes only to a candidate whose log is at least as up to date: the later last term "
                "wins; with equal last terms, the longer log wins",
    GRANT: "the vote is granted when the term is current, the server has not voted for another candidate in "
           "it, and the candidate's log is at least as up to date",
    PERSIST: "current_term, voted_for and the log reach stable storage (save_term, save_entries) before the "
             "reply that depends on them is sent",
    TIMER: "a follower restarts its election timer when it grants a vote and whenever it hears AppendEntries "
           "from the leader of the current term",
    FOLLOW: "AppendEntries of the current term means another server leads it: the receiver is a follower",
    CHECK: "AppendEntries succeeds only if the log has an entry at prev_index whose term is prev_term "
           "(index 0 always matches)",
    TRUNCATE: "an existing entry is deleted only if it conflicts with a new one (same index, different term), "
              "and then with every entry after it; entries that match stay, and so do entries after the new "
              "ones",
    APPEND: "after a successful check the log holds the leader's entries up to prev_index + len(entries)",
    MATCH: "a successful reply reports match = prev_index + len(entries), the last index known to equal the "
           "leader's",
    FOLLOWER_COMMIT: "after a successful check, commit_index = max(commit_index, min(leader_commit, "
                     "prev_index + len(entries))); it does not move otherwise",
    APPLY: "commit_index moves only through self.commit_to(n), which also applies the entries",
    CURRENT_TERM: "a leader commits index N by counting replicas only if log[N].term == current_term; older "
                  "entries commit with it (Figure 8)",
    MAJORITY: "an entry commits only once a majority of the servers store it",
    HIGHEST: "commit_index becomes the highest N > commit_index stored on a majority (the leader counts "
             "itself) whose entry is of the current term",
    STATE: "the node's state keeps the shapes Raft gives it (log: a tuple of Entry)",
}
for _inv in list(INVARIANTS) + list(LIVENESS):
    RULES[_inv.name] = _inv.title.split(":", 1)[1].strip()


# ---------------------------------------------------------------------------------- the referee
class _Before:
    """What a node held before the student's method ran."""

    def __init__(self, node):
        self.term = node.current_term
        self.voted_for = node.voted_for
        self.role = node.role
        self.log = tuple(node.log)
        self.commit = node.commit_index
        self.match = dict(node.match_index)
        self.last_index = len(self.log)
        self.last_term = self.log[-1].term if self.log else 0


def _term_at(log, index):
    if index == 0:
        return 0
    return log[index - 1].term if 0 < index <= len(log) else None


def _ends(last_index, last_term):
    return f"index {last_index} (term {last_term})" if last_index else "index 0 (an empty log)"


def _show(log, start=1, most=6):
    """``[2:t1:put x 1, 3:t2:noop]``: the entries from index ``start`` on (the last ``most`` of them)."""
    items = [f"{i}:{e!r}" for i, e in enumerate(log[start - 1:], start=start)]
    if len(items) > most:
        items = items[-most:]
    if len(items) < len(log):
        items = ["..."] + items
    return "[" + ", ".join(items) + "]"


def _one_reply(node, made, kind, sender, what):
    sends = [i for i in made if type(i) is Send and isinstance(i.msg, kind)]
    if len(sends) != 1 or sends[0].to != sender:
        got = ", ".join(f"to {i.to}" for i in sends) or "none"
        return None, (REPLY, f"{what}: expected one {kind.__name__} to {sender}, sent {len(sends)} ({got})")
    return sends[0], None


def _timer_reset(made):
    return any(type(i) is SetTimer and isinstance(i.timer, ElectionTimeout) for i in made)


def _disk_at(made, reply, disk, fold):
    """Replay the writes among ``made``: (what storage held when ``reply`` left, what it holds at the end)."""
    at_reply = None
    for item in made:
        if item is reply and at_reply is None:
            at_reply = disk
        if type(item) is Persist:
            for record in item.records:
                disk = fold(disk, record)
    return (disk if at_reply is None else at_reply), disk


def _fold_term(disk, record):
    return (record[1], record[2]) if isinstance(record, tuple) and record and record[0] == "term" else disk


def _fold_log(disk, record):
    if isinstance(record, tuple) and record and record[0] == "log":
        return tuple(disk[:record[1] - 1]) + tuple(record[2])
    return disk


def _judge_vote(node, before, msg, sender, made):
    """6.1: compare a RequestVote's handling with Figure 2; return (rule, detail) or None."""
    cur, voted = before.term, before.voted_for
    mine, theirs = (before.last_term, before.last_index), (msg.last_term, msg.last_index)
    term = max(cur, msg.term)
    fresh = msg.term > cur
    free = fresh or voted in (None, sender)
    log_ok = theirs >= mine
    allowed = msg.term >= cur and free and log_ok
    vote_text = f", voted for {voted}" if voted is not None and not fresh else ""
    what = (f"{node.id} (term {cur}{vote_text}, log ending at {_ends(before.last_index, before.last_term)}) got "
            f"RequestVote(term {msg.term}, last {msg.last_index}/{msg.last_term}) from {sender}")
    send, problem = _one_reply(node, made, RequestVoteReply, sender, what)
    if problem:
        return problem
    reply = send.msg
    if node.current_term != term:
        return ADOPT, f"{what}: its current_term should be {term} after it, but is {node.current_term}"
    if reply.term != term:
        return REPLY, f"{what}: the reply should carry term {term}, it carries term {reply.term}"
    if fresh and node.role != "follower":
        return ADOPT, f"{what}: a higher term should have made it a follower; it is still {node.role}"
    if reply.granted and not allowed:
        if msg.term < cur:
            return STALE, f"{what}: granted a vote for term {msg.term}, older than its own term {cur}"
        if not free:
            return ONE_VOTE, f"{what}: granted a second vote in term {cur}, after voting for {voted}"
        return UP_TO_DATE, (f"{what}: granted, but the candidate's log (ending at "
                            f"{_ends(msg.last_index, msg.last_term)}) is less up to date than its own (ending at "
                            f"{_ends(before.last_index, before.last_term)})"
                            + (": the last terms decide first" if msg.last_term != before.last_term else
                               ": with equal last terms, the longer log wins"))
    if allowed and not reply.granted:
        why = ("the candidate's later last term makes its log more up to date, even though it is shorter"
               if msg.last_term > before.last_term and msg.last_index < before.last_index else
               f"it had already voted for {sender} in this term, and a repeated request gets the same answer"
               if voted == sender and not fresh else
               "the term is current, it had not voted in it, and the candidate's log is at least as up to date")
        return GRANT, f"{what}: refused, but {why}"
    if reply.granted and node.voted_for != sender:
        return ONE_VOTE, f"{what}: granted, but voted_for is {node.voted_for!r}, not {sender!r}: remember the vote"
    at_reply, at_end = _disk_at(made, send, (cur, voted), _fold_term)
    state = (node.current_term, node.voted_for)
    if at_reply != state:
        when = ("reached stable storage only after the reply had left" if at_end == state else
                "were never written to stable storage")
        return PERSIST, (f"{what}: term {state[0]} and voted_for {state[1]!r} {when} (self.save_term(term, "
                         "voted_for) writes them); a crash before they are written makes the server forget its "
                         "vote, and vote again")
    if reply.granted and not _timer_reset(made):
        return TIMER, f"{what}: granted its vote without restarting its election timer (self.reset_election_timer())"
    return None


def _merge(log, msg):
    """The log after a successful check: truncate at the first conflict only, then append."""
    new = list(log)
    for k, entry in enumerate(msg.entries):
        index = msg.prev_index + 1 + k
        if index <= len(new) and new[index - 1].term == entry.term:
            continue
        del new[index - 1:]
        new.extend(msg.entries[k:])
        break
    return tuple(new)


def _judge_append(node, before, msg, sender, made):
    """6.2: compare an AppendEntries' handling with Figure 2; return (rule, detail) or None."""
    cur, log = before.term, before.log
    term = max(cur, msg.term)
    what = (f"{node.id} (term {cur}, log {_show(log, max(1, msg.prev_index))}, commit {before.commit}) got "
            f"AppendEntries(term {msg.term}, prev {msg.prev_index}/{msg.prev_term}, "
            f"{len(msg.entries)} entries, commit {msg.commit}) from {sender}")
    send, problem = _one_reply(node, made, AppendEntriesReply, sender, what)
    if problem:
        return problem
    reply = send.msg
    after = tuple(node.log)
    if node.current_term != term:
        return ADOPT, f"{what}: its current_term should be {term} after it, but is {node.current_term}"
    if reply.term != term:
        return REPLY, f"{what}: the reply should carry term {term}, it carries term {reply.term}"
    if msg.term < cur:
        if reply.success:
            return STALE, f"{what}: accepted a request of term {msg.term}, older than its own term {cur}"
        if after != log or node.commit_index != before.commit:
            return STALE, f"{what}: changed its log or commit index for a request of an older term"
        return None
    if node.role != "follower":
        return FOLLOW, f"{what}: it is {node.role}, but the sender leads term {msg.term}"
    if not _timer_reset(made):
        return TIMER, f"{what}: it did not restart its election timer (self.reset_election_timer())"
    there = _term_at(log, msg.prev_index)
    match = msg.prev_index + len(msg.entries)
    if there != msg.prev_term:
        has = (f"it has no entry at index {msg.prev_index}" if there is None else
               f"its entry at index {msg.prev_index} is of term {there}")
        if reply.success:
            return CHECK, f"{what}: accepted, but {has}, not one of term {msg.prev_term}"
        cut_ok = (there is not None and msg.prev_index - 1 <= len(after) < len(log) and after == log[:len(after)])
        if after != log and not cut_ok:
            return TRUNCATE, (f"{what}: refused (right), but changed its log to {_show(after)}; a failed check "
                              "leaves the log alone (at most the conflicting entry and those after it may go)")
        if node.commit_index != before.commit:
            return FOLLOWER_COMMIT, (f"{what}: refused (right), but moved commit_index from {before.commit} to "
                                     f"{node.commit_index}: a failed check vouches for nothing")
    else:
        expected = _merge(log, msg)
        if after != expected:
            if len(after) < len(expected) and after == expected[:len(after)] and len(after) >= match:
                return TRUNCATE, (f"{what}: deleted entries {len(after) + 1}..{len(expected)} "
                                  f"{_show(expected, len(after) + 1)}, which did not conflict with the new ones "
                                  "(a delayed, older AppendEntries must not erase newer entries)")
            first = next((i for i in range(min(len(after), len(expected))) if after[i] != expected[i]),
                         min(len(after), len(expected))) + 1
            if first <= msg.prev_index:
                return TRUNCATE, (f"{what}: changed entry {first}, at or before prev_index {msg.prev_index}; "
                                  f"the log should be {_show(expected, first)}, it is {_show(after, first)}")
            return APPEND, (f"{what}: from index {first} the log should be {_show(expected, first)}, "
                            f"it is {_show(after, first)}")
        if not reply.success:
            return CHECK, (f"{what}: refused, but its entry at index {msg.prev_index} is of term {msg.prev_term}: "
                           "the check passes")
        if reply.match != match:
            return MATCH, f"{what}: replied match={reply.match}; prev_index + len(entries) is {match}"
        should = max(before.commit, min(msg.commit, match))
        if node.commit_index != should:
            return FOLLOWER_COMMIT, (f"{what}: commit_index should be max({before.commit}, min(leader commit "
                                     f"{msg.commit}, last new entry {match})) = {should}, it is {node.commit_index}")
    if node.last_applied != node.commit_index:
        return APPLY, (f"{what}: commit_index is {node.commit_index} but only {node.last_applied} entries were "
                       "applied: use self.commit_to(n)")
    at_reply, at_end = _disk_at(made, send, log, _fold_log)
    if at_end != after:
        return PERSIST, f"{what}: changed self.log without writing it to stable storage (use self.save_entries)"
    if reply.success and tuple(at_reply[:match]) != after[:match]:
        return PERSIST, (f"{what}: acknowledged entries up to {match} before writing them to stable storage "
                         "(call self.save_entries before self.send)")
    return None


def _judge_commit(node, before, made):
    """6.3: compare the leader's new commit index with §5.3 and §5.4.2; return (rule, detail) or None."""
    if before.role != "leader":
        return None
    log, cur = before.log, before.term
    servers = len(node.peers) + 1
    majority = servers // 2 + 1

    def holders(n):
        return [node.id] + [p for p in node.peers if before.match.get(p, 0) >= n]

    should = before.commit
    for n in range(len(log), before.commit, -1):
        if len(holders(n)) >= majority and log[n - 1].term == cur:
            should = n
            break
    got = node.commit_index
    what = f"{node.id}, leader of term {cur} (commit index {before.commit}, log {_show(log, before.commit + 1)})"
    if got != should:
        if got < before.commit:
            return HIGHEST, f"{what}: lowered its commit index to {got}"
        if got > len(log):
            return HIGHEST, f"{what}: set commit_index to {got}, past the end of its log"
        if got > should:
            on = holders(got)
            stored = f"{len(on)} of {servers} servers store it ({', '.join(on)})"
            if len(on) < majority:
                return MAJORITY, (f"{what}: committed index {got}, but only {stored}; a majority of {servers} "
                                  f"is {majority}")
            return CURRENT_TERM, (f"{what}: committed index {got}, an entry of term {log[got - 1].term}, because "
                                  f"{stored}; in term {cur} only an entry of term {cur} commits by counting")
        on = holders(should)
        itself = (" (the leader stores it too and counts itself)"
                  if len(on) - 1 < majority else "")
        return HIGHEST, (f"{what}: index {should} (term {cur}) is stored on {len(on)} of {servers} servers "
                         f"({', '.join(on)}), a majority{itself}; commit_index should become {should}, "
                         f"it is {got}")
    if got > before.commit and not any(type(i) is Note and i.text == "commit" for i in made):
        return APPLY, f"{what}: set commit_index to {got} directly: use self.commit_to({got})"
    if node.last_applied != node.commit_index:
        return APPLY, f"{what}: commit_index is {got} but only {node.last_applied} entries were applied"
    return None


_JUDGES = {"on_request_vote": _judge_vote, "on_append_entries": _judge_append, "advance_commit": _judge_commit}


def _report(node, judge, before, *args):
    try:
        found = judge(node, before, *args)
    except Exception as error:      # noqa: BLE001 - the student's state is not what Raft keeps
        found = (STATE, f"{node.id}: the referee could not read the node's state ({type(error).__name__}: {error})")
    if found:          # read by the REFEREE check right after this handler's step, before any invariant
        node._verdicts = getattr(node, "_verdicts", ()) + (found,)


def _refereed(cls, method):
    """A subclass of the student's ``cls`` whose ``method`` is judged after every call."""
    student = getattr(cls, method)
    judge = _JUDGES[method]
    if method == "advance_commit":
        def watched(self):
            before, start = _Before(self), len(self._intentions)
            student(self)
            _report(self, judge, before, self._intentions[start:])
    else:
        def watched(self, msg, sender):
            before, start = _Before(self), len(self._intentions)
            student(self, msg, sender)
            _report(self, judge, before, msg, sender, self._intentions[start:])
    watched.__name__ = method
    # the module of the protocol, so that scripts find its messages (request n1 ClientRequest(...))
    return type(cls.__name__, (cls,), {method: watched, "__module__": RaftNode.__module__,
                                      "__qualname__": cls.__qualname__})


def _verdicts(nodes):
    """The referee's verdicts on the running nodes (the monitor reports each one once)."""
    return [Violation(rule, (node_id,), detail) for node_id, node in nodes.items()
            for rule, detail in getattr(node, "_verdicts", ())]


#: Checked first, after every step: a broken rule shows before the invariant it breaks next.
REFEREE = Invariant("Figure 2: each handler does what Figure 2 of the paper says", check=_verdicts)


def _attributes(function):
    """The attribute names a function (and the functions inside it) reads: ``self.x`` gives ``x``."""
    return names_read(function, ("LOAD_ATTR", "LOAD_METHOD"))


def student_door(exercise_id, cls):
    """The front door that runs exercise ``exercise_id``'s class ``cls`` under the invariants and the referee."""
    name, method = METHODS[exercise_id]
    if not (isinstance(cls, type) and issubclass(cls, RaftNode)):
        raise Fail(f"{name} must be a class that extends RaftNode", expected=f"class {name}(RaftNode): ...",
                   got=repr(cls))
    if getattr(cls, method) is getattr(RaftNode, method):
        raise Fail(f"{name} does not define {method}: write it in the class",
                   expected=f"def {method}(self{', msg, sender' if method.startswith('on_') else ''}): ...",
                   got=f"{name} inherits the course's {method}")
    used = set().union(set(), *(_attributes(f) for f in vars(cls).values()))
    if method in _attributes(getattr(cls, method)):
        raise Fail(f"{name}.{method} calls the course's {method} (super().{method}...): write it yourself",
                   expected="your own code", got=f"a call of {method}")
    if exercise_id == "6.1" and "up_to_date" in used and "up_to_date" not in vars(cls):
        raise Fail("exercise 6.1 asks you to write the comparison of §5.4.1 yourself: do not call "
                   "self.up_to_date", expected="a comparison of last terms, then last indexes",
                   got="a call of self.up_to_date")
    node_class = _refereed(cls, method)

    def __init__(self, *args, **kwargs):
        Raft.__init__(self, *args, **kwargs)
        type(self).last = self           # the fuzzer builds its own: keep it, for the failure's script

    return type("StudentRaft", (Raft,), {"node_class": node_class, "invariants": [REFEREE] + list(INVARIANTS),
                                         "__init__": __init__, "last": None, "__module__": __name__})


def replay_script(exercise_id, node_class, script, halt=False):
    """Replay a scenario ``script`` (text) with ``node_class`` as exercise ``exercise_id`` runs it; return the door.

    >>> from fttoolkit.algorithms.raft import RaftNode
    >>> class Mine(RaftNode):
    ...     def advance_commit(self):
    ...         for n in range(self.last_index, self.commit_index, -1):
    ...             stored = 1 + sum(1 for p in self.peers if self.match_index[p] >= n)
    ...             if stored >= self.majority and self.log[n - 1].term == self.current_term:
    ...                 self.commit_to(n)
    ...                 break
    >>> door = replay_script("6.3", Mine, Raft.presets()["figure8_d"])
    >>> n1 = door.nodes["n1"]        # in (c): (2, t2) on a majority, but of term 2: not committed in term 4
    >>> door.violations, [entry.term for entry in n1.log], n1.commit_index
    ([], [1, 2, 4], 0)
    """
    return replay_with(student_door(exercise_id, node_class), script, halt)


# ---------------------------------------------------------------------------------- running cases
def _student_class(ns, exercise_id):
    return ns[METHODS[exercise_id][0]]


def _fail_for(title, seed, script, door, violation, later=()):
    """The failure for a broken rule or invariant (see :func:`fttoolkit.grading.refereed.fail_for`)."""
    return fail_for(title, seed, script, door, violation, later, INVARIANTS, RULES)


def _scenarios(exercise_id, scenarios):
    return scenario_check(exercise_id, METHODS[exercise_id][0], scenarios, student_door, _fail_for, RULES,
                          run_on_error=False)


def _calm(exercise_id, title, runs):
    """Runs driven from Python: ``runs`` is a list of (description, make kwargs, drive(door) -> problem)."""
    def check(ns):
        door_class = student_door(exercise_id, _student_class(ns, exercise_id))
        for description, make, drive in runs:
            door = door_class(check=True, halt=False, **make)    # Raft.agree never returns on a halted run
            seed = make["seed"]
            problem = None
            try:
                problem = drive(door)
            except HandlerError as error:
                if not door.violations:        # a rule broken earlier explains more than the exception
                    script = door.to_script([f"exercise {exercise_id}: {title}, {description}"])
                    _reraise_student_error(error, f"{title}, {description}", seed, script)
            script = door.to_script([f"exercise {exercise_id}: {title}, {description}"])
            if door.violations:
                raise _fail_for(f"{title}, {description}", seed, script, door, door.violations[0])
            if problem:
                rule, got = problem
                raise Fail(f"{title}, {description}: {rule} broken (seed {seed})", expected=RULES.get(rule, rule),
                           got=f"at t={door.now}: {got}", seed=seed, script=script, run=door)
        return f"{len(runs)} runs"
    return check


def _fuzzed(exercise_id, profile, seeds, nodes=5):
    """Random schedules of the fuzzer (a fault ``profile``), shrunk and written as a script on failure."""
    return fuzz_check(exercise_id, METHODS[exercise_id][0], profile, seeds, nodes, student_door, _fail_for,
                      report_later=False)


# ---------------------------------------------------------------------------------- shared drives
def _elect(door, within=1500):
    if not door.run_until(lambda sim: door.leader() is not None, limit_ticks=door.now + within):
        return "Progress", f"no leader within {within} ticks of a calm network (terms: {door.terms()})"
    return None


def _agree(commands, expected=None, crash=0):
    """Elect a leader, crash ``crash`` followers, then have every command committed on ``expected`` nodes."""
    def drive(door):
        problem = _elect(door)
        if problem or door.violations:
            return problem
        leader = door.leader()
        for node_id in [i for i in door.ids if i != leader][:crash]:
            door.crash(node_id)
        want = len(door.ids) - crash if expected is None else expected
        for command in commands:
            index = door.agree(command, expected=want, within_ticks=2000)
            if door.violations:
                return None
            if index is None:
                counts = {i: door.nodes[i].commit_index for i in door.ids if door.sim.up[i]}
                return "Progress", (f"{command!r} was not committed on {want} running servers within 2000 ticks "
                                    f"(commit indexes: {counts}; leader: {door.leader()})")
        states = {repr(sorted(door.nodes[i].kv.items())) for i in door.ids if door.sim.up[i]}
        if len(states) != 1 and not door.violations:
            return "State Machine Safety", f"the running servers' key-value stores differ: {sorted(states)}"
        return None
    return drive


def _leader_is(node_id, why):
    def judge(door):
        leader = door.leader()
        if leader != node_id:
            return GRANT, f"the leader at the end is {leader}, not {node_id}: {why} (terms: {door.terms()})"
        return None
    return judge


# ---------------------------------------------------------------------------------- 6.1 RequestVote
_TWO_CANDIDATES = """\
algorithm raft
nodes 3
seed 1
network delay=10

# Exercise 6.1: n2 and n3 start an election for term 1 at the same moment. n1 hears n2 first and votes
# for it; it must then refuse n3 (one vote per term), and so must n2 and n3, which voted for themselves.
campaign n2
campaign n3
tick 300
"""

_VOTE_ACROSS_A_CRASH = """\
algorithm raft
nodes 3
seed 2
network delay=10

# Exercise 6.1: n1 votes for n2 in term 1 and n2 becomes leader; n3 is cut off and hears nothing.
partition n1 n2 | n3
campaign n2
tick 40
# n1 crashes and restarts: its vote must come back from stable storage.
crash n1
restart n1
# Now n3, still in term 0, asks n1 for its vote in term 1: n1 has voted in term 1 already.
partition n1 n3 | n2
campaign n3
tick 30
heal
tick 600
"""

_SHORTER_LOG = """\
algorithm raft
nodes 3
seed 3
network delay=10

# Exercise 6.1: n1 leads term 1; a command commits on n1 and n2 while n3 is cut off.
campaign n1
tick 40
partition n1 n2 | n3
submit n1 ("put", "x", "1")
tick 40
# n1 crashes. n3 asks for votes: its log ends at index 1 (term 1), n2's at index 2 (term 1): same last term,
# shorter log, so n2 must refuse. n2 then wins, with the committed command.
crash n1
heal
campaign n3
tick 600
"""

_OLDER_LAST_TERM = """\
algorithm raft
nodes 3
seed 4
network delay=10

# Exercise 6.1: n1 leads term 1, then is cut off and appends three commands nobody else gets.
campaign n1
tick 40
partition n1 | n2 n3
submit n1 ("put", "a", "1")
submit n1 ("put", "b", "2")
submit n1 ("put", "c", "3")
tick 10
# n2 wins term 2 with n3 and commits a command on both: their logs end at index 3, term 2.
campaign n2
tick 40
submit n2 ("put", "x", "9")
tick 40
# n2 and n1 crash; n1 comes back with a longer log (index 4) of an older last term (1).
crash n2
crash n1
heal
restart n1
campaign n1
tick 30
# n1 asks n3 for its vote in term 3: n3's last term (2) is later, so n3 must refuse, however long n1's log is.
campaign n1
tick 30
# n3 then times out and asks n1: n3's log is more up to date, although shorter, so n1 must grant.
tick 1200
"""

register(Exercise(
    "6.1", "RequestVote", needs=["VoteNode"],
    hint="adopt a higher term first (self.observe_term); a vote needs the current term, no vote yet for "
         "anyone else, and a log at least as up to date (last terms first, then last indexes); a granted vote "
         "goes to stable storage (self.save_term) and restarts the election timer before the reply is sent",
    cases=[
        Case("calm elections", _calm("6.1", "calm elections", [
            ("3 servers", dict(nodes=3, seed=1), _agree([("put", "x", "1")])),
            ("5 servers", dict(nodes=5, seed=2), _agree([("put", "x", "2")])),
            ("5 servers, another seed", dict(nodes=5, seed=3), _agree([("put", "x", "3")])),
        ])),
        Case("two candidates in one term", _scenarios("6.1", [
            Scenario("two candidates at once", _TWO_CANDIDATES),
            Scenario("a vote across a crash", _VOTE_ACROSS_A_CRASH),
        ])),
        Case("only an up-to-date candidate", _scenarios("6.1", [
            Scenario("a shorter log of the same last term", _SHORTER_LOG,
                     _leader_is("n2", "n2 holds the committed command, and n3 only votes")),
            Scenario("a longer log of an older last term", _OLDER_LAST_TERM,
                     _leader_is("n3", "n3's log is more up to date than n1's, and n2 is down")),
        ])),
        Case("crashes, partitions and lost messages (fuzzed)", _fuzzed("6.1", "chaos", range(1, 9))),
    ]))


# ---------------------------------------------------------------------------------- 6.2 AppendEntries
_CATCH_UP = """\
algorithm raft
nodes 3
seed 5
network delay=10
param max_batch=2

# Exercise 6.2: n1 leads term 1; n3 is cut off while five commands commit on n1 and n2.
campaign n1
tick 40
partition n1 n2 | n3
submit n1 ("put", "a", "1")
submit n1 ("put", "b", "2")
submit n1 ("put", "c", "3")
submit n1 ("put", "d", "4")
submit n1 ("put", "e", "5")
tick 100
# n1 crashes and the network heals; n2 wins term 2 (n3's log is shorter: it votes for n2). n2 believes n3's
# log as long as its own: its first AppendEntries to n3 has prev 6/1, where n3 has nothing. The check fails,
# the leader backs up, and n3 receives the missing entries, two per message.
crash n1
heal
campaign n2
tick 400
restart n1
tick 300
check liveness
"""

_CONFLICTING_LOG = """\
algorithm raft
nodes 3
seed 6
network delay=10
param max_batch=1

# Exercise 6.2: n1 leads term 1, is cut off, and appends two commands nobody else gets.
campaign n1
tick 40
partition n1 | n2 n3
submit n1 ("put", "x", "lost 1")
submit n1 ("put", "x", "lost 2")
tick 10
# n2 leads term 2 and commits a command with n3: index 3 is (term 2) there, (term 1) on n1.
campaign n2
tick 40
submit n2 ("put", "x", "kept")
tick 40
# n2 restarts, leads term 3 and commits its no-op (index 4) with n3, while n1 is still cut off.
crash n2
restart n2
campaign n2
tick 40
# The network heals. n2's first AppendEntries to n1 has prev 3/2: n1's entry at index 3 is of term 1, so the
# check must fail. The leader backs up and sends one entry per message: AppendEntries(prev 0, [index 1])
# matches, but n1's entries 2 and 3 are not vouched for, so n1 may commit index 1 only.
heal
tick 400
check liveness
"""

_DELAYED_APPEND = """\
algorithm raft
nodes 3
seed 7
network delay=10

# Exercise 6.2: n1 leads term 1; n3 is cut off, so n1 and n2 form the majority.
campaign n1
tick 40
partition n1 n2 | n3
# The link n1-n2 becomes slow and may reorder: AppendEntries(prev 1, [x]) takes about 100 ticks.
link n1 n2 delay=99..100 reorder=1
submit n1 ("put", "x", "1")
tick 5
link n1 n2 delay=5..6 reorder=1
submit n1 ("put", "y", "2")
# The next heartbeat carries [x, y] and arrives first: n2 stores both, n1 commits index 3 (on n1 and n2).
tick 100
# The old AppendEntries(prev 1, [x]) arrives now. x matches: n2 must keep y, which is committed.
crash n1
heal
tick 600
"""

register(Exercise(
    "6.2", "AppendEntries", needs=["AppendNode"],
    hint="a request of the current term makes you a follower and restarts the election timer; the check "
         "compares self.term_at(msg.prev_index) with msg.prev_term; entries that match stay: truncate only at "
         "the first new entry whose term differs (self.save_entries writes the rest); the index of the last new "
         "entry is msg.prev_index + len(msg.entries), for the reply and for the commit index",
    cases=[
        Case("replication on a calm network", _calm("6.2", "replication on a calm network", [
            ("3 servers", dict(nodes=3, seed=1), _agree([("put", "k", str(k)) for k in range(4)])),
            ("5 servers, a follower down", dict(nodes=5, seed=2),
             _agree([("append", "k", str(k)) for k in range(4)], crash=1)),
        ])),
        Case("a follower behind, a follower with conflicting entries", _scenarios("6.2", [
            Scenario("a follower far behind", _CATCH_UP),
            Scenario("a follower with entries of an old term", _CONFLICTING_LOG),
        ])),
        Case("a delayed, older AppendEntries", _scenarios("6.2", [
            Scenario("an AppendEntries overtaken by a newer one", _DELAYED_APPEND),
        ])),
        Case("lossy, duplicating, reordering networks (fuzzed)", _fuzzed("6.2", "lossy", range(1, 7))),
        Case("crashes and partitions (fuzzed)", _fuzzed("6.2", "chaos", range(1, 7))),
    ]))


# ---------------------------------------------------------------------------------- 6.3 the commit rule
def _figure8(name, note):
    text = Raft.presets()[name]
    return f"# Exercise 6.3: {note}\n" + text


def _old_entry_committed(door):
    """Figure 8 (e): every server must apply index 2 = the entry of term 2, with index 3."""
    got = {i: (door.nodes[i].commit_index, door.nodes[i].log[1].term if len(door.nodes[i].log) > 1 else None)
           for i in door.ids if door.sim.up[i]}
    if any(commit < 3 or term != 2 for commit, term in got.values()):
        return HIGHEST, ("index 3 (term 4) is on a majority, so it commits, and index 2 (term 2) with it; "
                         f"commit index and term of index 2 per server: {got}")
    return None


register(Exercise(
    "6.3", "The commit rule", needs=["CommitNode"],
    hint="look for N from the end of the log down; the leader stores its whole log, so it counts itself; "
         "self.match_index[p] says what peer p stores; an entry of an earlier term never commits by counting, "
         "however many servers store it (Figure 8); commit with self.commit_to(N)",
    cases=[
        Case("commits on a calm cluster", _calm("6.3", "commits on a calm cluster", [
            ("3 servers", dict(nodes=3, seed=1), _agree([("put", "k", str(k)) for k in range(3)])),
            ("5 servers", dict(nodes=5, seed=2), _agree([("put", "k", str(k)) for k in range(3)])),
            ("3 servers, a follower down", dict(nodes=3, seed=3), _agree([("put", "k", "1")], crash=1)),
            ("5 servers, two followers down", dict(nodes=5, seed=4), _agree([("put", "k", "1")], crash=2)),
        ])),
        Case("Figure 8 (d): an old entry on a majority is not committed", _scenarios("6.3", [
            Scenario("Figure 8 (d)", _figure8("figure8_d", "the run of Figure 8 (a)-(d) of the paper"))]),
            points=2),
        Case("Figure 8 (e): an old entry commits with a new one", _scenarios("6.3", [
            Scenario("Figure 8 (e)", _figure8("figure8_e", "the run of Figure 8 (a)-(c), (e) of the paper"),
                     _old_entry_committed)])),
        Case("crashes, partitions and lost messages (fuzzed)", _fuzzed("6.3", "chaos", range(1, 9))),
    ]))
