"""Raft: a replicated log agreed on by a leader elected for a term.

The code follows Figure 2 of Ongaro & Ousterhout, "In Search of an
Understandable Consensus Algorithm (Extended Version)", 2014, section by
section, with two additions from Ongaro's thesis (2014): a leader appends a
no-op entry when it is elected (§8 of the paper, thesis §6.4), so that entries
of earlier terms can commit, and optional **PreVote** (thesis §9.6), so that a
node rejoining after a partition cannot depose a healthy leader.

State (Figure 2)
----------------
Persistent, written to stable storage before any reply or message that
depends on it: ``current_term``, ``voted_for``, ``log`` (entries ``(term,
command)``, index 1 first).  Records on disk: ``("term", term, voted_for)``
and ``("log", start, entries)`` (keep the first ``start - 1`` entries, then
append ``entries``).

Volatile: ``commit_index``, ``last_applied``, the key-value state machine
``kv``; on leaders ``next_index`` and ``match_index`` per follower.

Rules (the sections cited in the code)
--------------------------------------
§5.1 a higher term seen anywhere makes a node adopt it and follow;
§5.2 randomized election timeouts, one vote per term;
§5.3 AppendEntries with the consistency check on ``(prev_index, prev_term)``,
conflict truncation, and the fast ``next_index`` backoff by conflicting term;
§5.4.1 votes only for a candidate whose log is at least as up to date (last
term, then last index); §5.4.2 a leader commits only entries of its own term
by counting replicas (earlier ones commit with them).

Bug zoo
-------
``figure8``
    a leader commits an entry of an earlier term once a majority stores it
    (Figure 8: it can then be overwritten);
``forget-vote``
    ``voted_for`` is not written to stable storage, so after a restart a node
    may vote twice in one term;
``no-log-check``
    votes are granted without the up-to-date check (§5.4.1);
``fixed-timeout``
    election timeouts are all the same, without randomness: split votes repeat forever;
``ack-before-persist``
    a follower acknowledges AppendEntries before writing the entries down.

Examples
--------
>>> node = RaftNode("n1", peers=("n2", "n3"))
>>> _ = node.start([])
>>> node.role, node.current_term, node.log
('follower', 0, ())
>>> out = node.handle_timer(ElectionTimeout())
>>> node.role, node.current_term, out[0]
('candidate', 1, Persist(('term', 1, 'n1')))
"""

from typing import NamedTuple

from ..core.intentions import Torn
from ..core.invariants import Invariant, Liveness, Violation
from ..core.messages import Message, Timer
from ..core.node import Node

__all__ = ["RaftNode", "Entry", "RequestVote", "RequestVoteReply", "PreVote", "PreVoteReply", "AppendEntries",
           "AppendEntriesReply", "ClientRequest", "ClientReply", "ElectionTimeout", "Heartbeat", "NOOP",
           "apply_command", "INVARIANTS", "LIVENESS"]

#: The command a new leader appends to commit the entries of earlier terms.
NOOP = ("noop",)


def _command(command):
    if isinstance(command, tuple):
        return " ".join(str(part) for part in command)
    return repr(command)


class Entry(NamedTuple):
    """A log entry: the term in which a leader created it, and the client's command."""

    term: int
    command: object

    def __repr__(self):
        return f"t{self.term}:{_command(self.command)}"


# ---------------------------------------------------------------------------- messages (§5)
def _entries(entries):
    return "[" + ", ".join(repr(e) for e in entries) + "]"


def _ask_repr(msg):         # RequestVote and PreVote
    return f"{type(msg).__name__}(term={msg.term}, last={msg.last_index}/{msg.last_term})"


def _answer_repr(msg):      # their replies
    return f"{type(msg).__name__}(term={msg.term}, {'granted' if msg.granted else 'refused'})"


class RequestVote(Message):
    """Candidate -> all: vote for me in ``term``; my log ends at ``last_index`` / ``last_term``."""

    term: int
    last_index: int
    last_term: int

    __repr__ = _ask_repr


class RequestVoteReply(Message):
    term: int
    granted: bool

    __repr__ = _answer_repr


class PreVote(Message):
    """Would you vote for me in ``term`` (not yet started)?  Thesis §9.6."""

    term: int
    last_index: int
    last_term: int

    __repr__ = _ask_repr


class PreVoteReply(Message):
    term: int
    granted: bool

    __repr__ = _answer_repr


class AppendEntries(Message):
    """Leader -> follower: entries after ``prev_index`` (whose term is ``prev_term``), and the commit index."""

    term: int
    prev_index: int
    prev_term: int
    entries: tuple
    commit: int

    def __repr__(self):
        return (f"AppendEntries(term={self.term}, prev={self.prev_index}/{self.prev_term}, "
                f"entries={_entries(self.entries)}, commit={self.commit})")


class AppendEntriesReply(Message):
    """``match`` is the last index known equal to the leader's; on failure, where to back up to (§5.3)."""

    term: int
    success: bool
    match: int
    conflict_term: object
    conflict_index: int

    def __repr__(self):
        if self.success:
            return f"AppendEntriesReply(term={self.term}, ok, match={self.match})"
        back = f", back to {self.conflict_index}" if self.conflict_index else ""
        conflict = f" (term {self.conflict_term})" if self.conflict_term is not None else ""
        return f"AppendEntriesReply(term={self.term}, refused{back}{conflict})"


class ClientRequest(Message):
    """A client asks the cluster to run ``command`` (``("put", key, value)``, ``("get", key)``...)."""

    command: object


class ClientReply(Message):
    """``accepted`` with the entry's ``index`` and ``term``; otherwise ``leader`` is who to ask (or None)."""

    accepted: bool
    leader: object
    index: int
    term: int


class ElectionTimeout(Timer):
    """No word from a leader for a while: start an election (§5.2)."""


class Heartbeat(Timer):
    """Leader: time to send AppendEntries to everybody, empty if nothing is new (§5.2)."""


def apply_command(kv, command):
    """Apply a command to the key-value state machine ``kv`` (a dict); return its result.

    Commands: ``("put", key, value)``, ``("append", key, text)``, ``("get", key)``, ``("noop",)``.
    Tuples may carry a client tag at the end, which the state machine ignores.

    >>> kv = {}
    >>> apply_command(kv, ("put", "x", "1")), apply_command(kv, ("append", "x", "2")), apply_command(kv, ("get", "x"))
    (None, None, '12')
    """
    if not isinstance(command, tuple) or not command:
        return None
    op = command[0]
    if op == "put":
        kv[command[1]] = command[2]
    elif op == "append":
        kv[command[1]] = kv.get(command[1], "") + str(command[2])
    elif op == "get":
        return kv.get(command[1])
    return None


class RaftNode(Node):
    """One Raft server (see the module docstring)."""

    params = {"election_ticks": 150, "heartbeat_ticks": 50, "max_batch": 64, "prevote": False, "noop": True}
    bugs = {
        "figure8": "a leader commits an entry of an earlier term by counting replicas (Figure 8)",
        "forget-vote": "votedFor is not written to stable storage: two votes in one term after a restart",
        "no-log-check": "votes are granted without checking that the candidate's log is up to date",
        "fixed-timeout": "election timeouts have no randomness: split votes without end",
        "ack-before-persist": "a follower acknowledges AppendEntries before writing the entries down",
    }

    # ------------------------------------------------------------------------- boot
    def on_start(self, records):
        self.current_term = 0
        self.voted_for = None
        log = []
        for record in records:
            if isinstance(record, Torn):            # a write cut short by the crash: never completed
                continue
            if record[0] == "term":
                _, self.current_term, self.voted_for = record
            elif record[0] == "log":
                _, start, entries = record
                del log[start - 1:]
                log.extend(entries)
        self.log = tuple(log)
        self.commit_index = 0
        self.last_applied = 0
        self.kv = {}
        self.leader = None
        self.votes = frozenset()
        self.next_index = {}
        self.match_index = {}
        self.heard_at = None        # when this node last heard from a leader (for PreVote)
        self.become("follower")

    # ------------------------------------------------------------------------- helpers
    @property
    def last_index(self):
        return len(self.log)

    @property
    def last_term(self):
        return self.log[-1].term if self.log else 0

    def term_at(self, index):
        """The term of the entry at ``index`` (0 for index 0, None past the end)."""
        if index == 0:
            return 0
        return self.log[index - 1].term if index <= len(self.log) else None

    @property
    def majority(self):
        return (len(self.peers) + 1) // 2 + 1

    def become(self, role):
        self.role = role
        if role != "leader":
            self.cancel_timer(Heartbeat())
            self.reset_election_timer()

    def reset_election_timer(self):
        base = self.params["election_ticks"]
        ticks = base if "fixed-timeout" in self.bugs else base + self.rng.randint(0, base)
        self.set_timer(ElectionTimeout(), ticks)

    def save_term(self, term, voted_for):
        """§5.1, Figure 2: currentTerm and votedFor reach stable storage before anything depends on them."""
        self.current_term, self.voted_for = term, voted_for
        kept = None if "forget-vote" in self.bugs else voted_for
        self.persist(("term", term, kept))

    def save_entries(self, start, entries):
        """Keep the first ``start - 1`` entries, append ``entries``: in memory and on stable storage."""
        self.log = self.log[:start - 1] + tuple(entries)
        self.persist(("log", start, tuple(entries)))

    def observe_term(self, term):
        """§5.1: a higher term means this node is behind: adopt it and follow."""
        if term > self.current_term:
            self.save_term(term, None)
            self.leader = None
            if self.role != "follower":
                self.become("follower")
            return True
        return False

    def up_to_date(self, last_index, last_term):
        """§5.4.1: a candidate's log is at least as up to date as ours (last term first, then length)."""
        if "no-log-check" in self.bugs:
            return True
        return (last_term, last_index) >= (self.last_term, self.last_index)

    # ------------------------------------------------------------------------- elections (§5.2)
    def on_election_timeout(self, timer):
        if self.role == "leader":
            return
        if self.params["prevote"]:
            self.role = "pre-candidate"
            self.votes = frozenset({self.id})
            self.reset_election_timer()
            self.broadcast(PreVote(self.current_term + 1, self.last_index, self.last_term))
            self.check_prevotes()
        else:
            self.start_election()

    def start_election(self):
        self.save_term(self.current_term + 1, self.id)      # vote for myself, durably
        self.role = "candidate"
        self.leader = None
        self.votes = frozenset({self.id})
        self.reset_election_timer()
        self.note("election", term=self.current_term)
        self.broadcast(RequestVote(self.current_term, self.last_index, self.last_term))
        self.check_votes()

    def on_request_vote(self, msg, sender):
        self.observe_term(msg.term)
        granted = (msg.term == self.current_term and self.voted_for in (None, sender)
                   and self.up_to_date(msg.last_index, msg.last_term))
        if granted:
            if self.voted_for != sender:
                self.save_term(self.current_term, sender)     # one vote per term, on disk before replying
            self.reset_election_timer()
        self.send(sender, RequestVoteReply(self.current_term, granted))

    def on_request_vote_reply(self, msg, sender):
        if self.observe_term(msg.term):
            return
        if self.role == "candidate" and msg.term == self.current_term and msg.granted:
            self.votes = self.votes | {sender}
            self.check_votes()

    def check_votes(self):
        if self.role == "candidate" and len(self.votes) >= self.majority:
            self.become_leader()

    # ---- PreVote (thesis §9.6): ask first, without disturbing anyone's term
    def on_pre_vote(self, msg, sender):
        recent = self.heard_at is not None and self.now - self.heard_at < self.params["election_ticks"]
        granted = (msg.term > self.current_term and not recent and self.role != "leader"
                   and self.up_to_date(msg.last_index, msg.last_term))
        self.send(sender, PreVoteReply(self.current_term, granted))

    def on_pre_vote_reply(self, msg, sender):
        if msg.term > self.current_term and not msg.granted:
            self.observe_term(msg.term)
            return
        if self.role == "pre-candidate" and msg.granted:
            self.votes = self.votes | {sender}
            self.check_prevotes()

    def check_prevotes(self):
        if self.role == "pre-candidate" and len(self.votes) >= self.majority:
            self.start_election()

    # ------------------------------------------------------------------------- leading
    def become_leader(self):
        self.role = "leader"
        self.leader = self.id
        self.cancel_timer(ElectionTimeout())
        self.note("became leader", term=self.current_term)
        self.next_index = {p: self.last_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        if self.params["noop"]:      # commits the entries of earlier terms without waiting for a client (§8)
            self.save_entries(self.last_index + 1, [Entry(self.current_term, NOOP)])
        self.replicate()
        self.advance_commit()          # a cluster of one commits at once

    def replicate(self):
        """Send every follower what it lacks (or an empty heartbeat), and re-arm the heartbeat (§5.3)."""
        for peer in self.peers:
            self.send_append(peer)
        self.set_timer(Heartbeat(), self.params["heartbeat_ticks"])

    def send_append(self, peer):
        prev = self.next_index[peer] - 1
        entries = self.log[prev:prev + self.params["max_batch"]]
        self.send(peer, AppendEntries(self.current_term, prev, self.term_at(prev), tuple(entries),
                                      self.commit_index))

    def on_heartbeat(self, timer):
        if self.role == "leader":
            self.replicate()

    def on_client_request(self, msg, sender):
        if self.role != "leader":
            self.send(sender, ClientReply(False, self.leader, 0, self.current_term))
            return
        self.save_entries(self.last_index + 1, [Entry(self.current_term, msg.command)])
        self.send(sender, ClientReply(True, self.id, self.last_index, self.current_term))
        for peer in self.peers:
            if self.next_index[peer] == self.last_index:     # up to date so far: send the new entry now
                self.send_append(peer)
        self.advance_commit()

    def on_append_entries_reply(self, msg, sender):
        if self.observe_term(msg.term) or self.role != "leader" or msg.term != self.current_term:
            return
        if msg.success:
            if msg.match > self.match_index[sender]:
                self.match_index[sender] = msg.match
            self.next_index[sender] = max(self.next_index[sender], msg.match + 1)
            self.advance_commit()
            if self.next_index[sender] <= self.last_index:
                self.send_append(sender)                        # more to send
            return
        # §5.3, fast backoff: skip the follower's whole conflicting term at once
        if msg.conflict_term is not None:
            last = max((i for i in range(1, self.last_index + 1) if self.log[i - 1].term == msg.conflict_term),
                       default=None)
            target = last + 1 if last is not None else msg.conflict_index
        else:
            target = msg.conflict_index
        backed = max(min(target, self.next_index[sender] - 1), self.match_index[sender] + 1, 1)
        if backed != self.next_index[sender]:     # a stale or duplicated rejection changes nothing: no resend
            self.next_index[sender] = backed
            self.send_append(sender)

    def advance_commit(self):
        """§5.3, §5.4.2: the highest N stored on a majority whose entry is of the current term."""
        for n in range(self.last_index, self.commit_index, -1):
            stored = 1 + sum(1 for p in self.peers if self.match_index[p] >= n)
            if stored < self.majority:
                continue
            if self.log[n - 1].term != self.current_term and "figure8" not in self.bugs:
                break        # only entries of this term commit by counting; older ones commit with them
            self.commit_to(n)
            break

    def commit_to(self, index):
        if index <= self.commit_index:
            return
        if self.role == "leader":
            for i in range(self.commit_index + 1, index + 1):
                self.note("commit", index=i, term=self.log[i - 1].term, in_term=self.current_term)
        self.commit_index = index
        self.apply_committed()

    def apply_committed(self):
        """Apply committed entries to the state machine, in order (Figure 2, all servers)."""
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.log[self.last_applied - 1]
            apply_command(self.kv, entry.command)
            self.note("apply", index=self.last_applied, term=entry.term, command=entry.command)

    # ------------------------------------------------------------------------- following (§5.3)
    def follow(self, leader):
        """Hear from the leader of the current term: be its follower and restart the election timer (§5.2)."""
        if self.role != "follower":
            self.become("follower")
        else:
            self.reset_election_timer()
        self.leader = leader
        self.heard_at = self.now

    def on_append_entries(self, msg, sender):
        self.observe_term(msg.term)
        if msg.term < self.current_term:
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, None, 0))
            return
        self.follow(sender)
        term_there = self.term_at(msg.prev_index)
        if term_there != msg.prev_term:             # the consistency check fails: say where to back up to
            if term_there is None:
                conflict_term, conflict_index = None, self.last_index + 1
            else:
                conflict_term = term_there
                conflict_index = msg.prev_index
                while conflict_index > 1 and self.log[conflict_index - 2].term == conflict_term:
                    conflict_index -= 1
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, conflict_term, conflict_index))
            return
        # find the first entry that is new or conflicts; truncate there and append the rest
        start = None
        for k, entry in enumerate(msg.entries):
            index = msg.prev_index + 1 + k
            if self.term_at(index) != entry.term:
                start = k
                break
        match = msg.prev_index + len(msg.entries)
        reply = AppendEntriesReply(self.current_term, True, match, None, 0)
        if start is not None:
            if "ack-before-persist" in self.bugs:
                self.send(sender, reply)
                self.save_entries(msg.prev_index + 1 + start, msg.entries[start:])
                reply = None
            else:
                self.save_entries(msg.prev_index + 1 + start, msg.entries[start:])
        if msg.commit > self.commit_index:
            self.commit_to(min(msg.commit, match))
        if reply is not None:
            self.send(sender, reply)


# ---------------------------------------------------------------------------------- checkers
class _Logs:
    """Each node's log as its stable storage holds it, rebuilt from ``stored`` events, and its role."""

    def __init__(self):
        self.logs = {}
        self.roles = {}

    def follow(self, event):
        kind = event.kind
        if kind == "stored":
            log = self.logs.setdefault(event.node, [])
            for record in event.data["records"]:
                if not isinstance(record, Torn) and record[0] == "log":
                    del log[record[1] - 1:]
                    log.extend(record[2])
        elif kind == "role":
            self.roles[event.node] = event.data["new"]
        elif kind == "crashed":
            self.roles[event.node] = None
            if event.data.get("disk_lost"):
                self.logs[event.node] = []


def _note(event, text):
    return event.kind == "note" and event.data["text"] == text


class _OneLeaderPerTerm:
    def __init__(self):
        self.leaders = {}

    def __call__(self, event):
        if _note(event, "became leader"):
            term = event.data["fields"]["term"]
            first = self.leaders.setdefault(term, event.node)
            if first != event.node:
                return Violation("Election Safety", (first, event.node),
                                 f"{first} and {event.node} were both elected leader in term {term}")
        return None


class _LeaderAppendsOnly(_Logs):
    def __call__(self, event):
        found = None
        if event.kind == "stored" and self.roles.get(event.node) == "leader":
            have = len(self.logs.get(event.node, ()))
            for record in event.data["records"]:
                if not isinstance(record, Torn) and record[0] == "log" and record[1] <= have:
                    found = Violation("Leader Append-Only", (event.node,),
                                      f"leader {event.node} rewrote its log from index {record[1]} "
                                      f"(it had {have} entries)")
        self.follow(event)
        return found


class _LeaderHasCommitted(_Logs):
    def __init__(self):
        super().__init__()
        self.committed = {}      # index -> (entry term, term it was committed in)

    def __call__(self, event):
        self.follow(event)
        if _note(event, "commit"):
            f = event.data["fields"]
            self.committed.setdefault(f["index"], (f["term"], f["in_term"]))
        elif _note(event, "became leader"):
            term = event.data["fields"]["term"]
            log = self.logs.get(event.node, [])
            for index, (entry_term, in_term) in sorted(self.committed.items()):
                if in_term < term and (index > len(log) or log[index - 1].term != entry_term):
                    return Violation("Leader Completeness", (event.node,),
                                     f"{event.node} became leader of term {term} without the entry committed "
                                     f"at index {index} (term {entry_term})")
        return None


class _SameAppliedEverywhere:
    def __init__(self):
        self.applied = {}        # index -> (node, term, command) applied first

    def __call__(self, event):
        if _note(event, "apply"):
            f = event.data["fields"]
            node, term, command = self.applied.setdefault(f["index"], (event.node, f["term"], f["command"]))
            if (term, command) != (f["term"], f["command"]):
                return Violation("State Machine Safety", tuple(dict.fromkeys((node, event.node))),
                                 f"index {f['index']}: {node} applied {command!r} (term {term}) but "
                                 f"{event.node} applied {f['command']!r} (term {f['term']})")
        return None


def _log_matching(nodes):
    """Two logs with an entry of the same index and term are identical up to that index (§5.3)."""
    ids = sorted(nodes)
    for k, a in enumerate(ids):
        la = nodes[a].log
        for b in ids[k + 1:]:
            lb = nodes[b].log
            for i in range(min(len(la), len(lb)), 0, -1):
                if la[i - 1].term == lb[i - 1].term:
                    if la[:i] != lb[:i]:
                        first = next(j for j in range(i) if la[j] != lb[j]) + 1
                        return Violation("Log Matching", (a, b),
                                         f"{a} and {b} agree on index {i} (term {la[i - 1].term}) "
                                         f"but differ at index {first}")
                    break
    return None


def _progress(nodes):
    """Once calm: some running node leads in the highest term among them (the front door then
    checks that a new command commits)."""
    if not nodes:
        return []
    top = max(n.current_term for n in nodes.values())
    if any(n.role == "leader" and n.current_term == top for n in nodes.values()):
        return []
    return [Violation("Progress", tuple(sorted(nodes)), f"no leader of term {top} among the running nodes")]


#: Safety (Figure 3 of the paper): checked after every step.
INVARIANTS = [
    Invariant("Election Safety: at most one leader can be elected in a given term", observe=_OneLeaderPerTerm),
    Invariant("Leader Append-Only: a leader never overwrites or deletes entries in its log",
              observe=_LeaderAppendsOnly),
    Invariant("Log Matching: logs with an entry of the same index and term are identical up to it",
              check=_log_matching),
    Invariant("Leader Completeness: a committed entry is in the log of every later leader",
              observe=_LeaderHasCommitted),
    Invariant("State Machine Safety: no two servers apply different entries at one index",
              observe=_SameAppliedEverywhere),
]

#: Liveness: once the network is whole and every node is up, a leader commits its whole log everywhere.
LIVENESS = [
    Liveness("Progress: a leader is elected and commits its log on every running node", check=_progress,
             within_ticks=1000),
]
