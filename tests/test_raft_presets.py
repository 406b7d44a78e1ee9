"""Raft's teaching presets (Chapter 6): each replays cleanly and its story's key claims hold on the run.

The presets live in ``fttoolkit/presets/raft/``.  A preset's ``#`` lines are the narration the
students read while they watch; these tests check the claims that matter on the run itself (who was
leader, which terms, what committed), derived from the trace and from the script's own commands
rather than copied from its output.
"""

import functools

import pytest

from fttoolkit import Raft
from fttoolkit.algorithms.raft import (AppendEntries, AppendEntriesReply, ClientReply, PreVote, PreVoteReply,
                                       RequestVoteReply)
from fttoolkit.scenario import build, parse, replay, run_command

STORIES = ["first_election", "leader_crash", "split_vote", "old_leader_partitioned", "log_repair",
           "restart_persisted", "disruptive_rejoin", "prevote", "duplicate_submission"]


# ------------------------------------------------------------------------------------ helpers
@functools.lru_cache(maxsize=None)
def cluster(name):
    """The preset replayed in full (cached: tests only read it)."""
    return replay(Raft.presets()[name]).door


def state(door, node_id):
    """What a node holds now (its persistent and volatile state, and whether it runs)."""
    n = door.sim.nodes[node_id]
    return {"term": n.current_term, "voted_for": n.voted_for, "log": tuple(n.log), "commit": n.commit_index,
            "role": n.role, "kv": dict(n.kv), "up": door.sim.up[node_id]}


def walk(name):
    """Replay the preset command by command (the same run as :func:`replay`: narration changes nothing).

    Yields ``(command words, door, before)`` after each command, ``before`` being every node's
    :func:`state` just before that command (``None`` before the cluster has started).
    """
    script = parse(Raft.presets()[name])
    door = build(script)
    for command in script.commands:
        before = {i: state(door, i) for i in door.ids} if door.sim.started else None
        run_command(door, command.words, command.line, command.text)
        yield command.words, door, before


def notes(door, text, since=0, node=None):
    return [e for e in door.trace[since:]
            if e.kind == "note" and e["text"] == text and (node is None or e.node == node)]


def first(events, what="event"):
    assert events, f"no {what}"
    return events[0]


def index_of(door, kind, since=0, node=None):
    """Trace position of the first event of ``kind`` (at ``node``) from ``since`` on."""
    return first([e for e in door.trace[since:] if e.kind == kind and (node is None or e.node == node)], kind).seq


def delivered(door, msg_type, since=0, src=None, dst=None):
    return [e for e in door.trace[since:] if e.kind == "delivered" and type(e["msg"]) is msg_type
            and (src is None or e["src"] == src) and (dst is None or e["dst"] == dst)]


def sent(door, msg_type, since=0, src=None, dst=None):
    return [e for e in door.trace[since:] if e.kind == "sent" and type(e["msg"]) is msg_type
            and (src is None or e["src"] == src) and (dst is None or e["dst"] == dst)]


def accepted_commands(door, node, since=0, until=None):
    """(index, term) of the client commands ``node`` accepted as leader in the trace window."""
    return [(e["msg"].index, e["msg"].term) for e in door.trace[since:until]
            if e.kind == "reply" and e.node == node and isinstance(e["msg"], ClientReply) and e["msg"].accepted]


def all_logs_equal(door):
    nodes = door.sim.nodes
    logs = {i: tuple(nodes[i].log) for i in door.ids}
    commits = {i: nodes[i].commit_index for i in door.ids}
    return len(set(logs.values())) == 1 and set(commits.values()) == {len(next(iter(logs.values())))}


def majority(door):
    return len(door.ids) // 2 + 1


# ---------------------------------------------------------------------------- every preset
def test_the_presets_are_listed():
    assert set(STORIES) <= set(Raft.presets())


@pytest.mark.parametrize("name", STORIES)
def test_a_preset_replays_safely_and_tells_its_story_from_the_start(name):
    result = replay(Raft.presets()[name])
    door = result.door
    assert door.violations == [], [v.describe() for v in door.violations]
    assert result.ok
    door.rewind(0)
    intro = door.sim.narration()
    assert intro and "§" in intro             # the introduction names the rule at stake and its section


@pytest.mark.parametrize("name", STORIES)
def test_every_line_of_the_story_is_shown_at_its_own_step(name):
    # Narration made twice at one step shows only the later text: the earlier would never be seen.
    door = cluster(name)
    steps = [entry.at_step for entry in door.sim.log if entry.name == "narrate"]
    assert len(steps) == len(set(steps)) > 1


@pytest.mark.parametrize("bug", sorted(Raft.bug_list()))
@pytest.mark.parametrize("name", STORIES)
def test_a_preset_loads_with_each_bug(name, bug):
    loaded = Raft(nodes=3).load_preset(name, bug)       # no ScriptError; some bugs break invariants, fine
    assert loaded.sim.params.get("prevote", False) == (name == "prevote")
    assert bug in loaded.sim.bugs


# ----------------------------------------------------------------------------- first_election
def test_first_election():
    door = cluster("first_election")
    timeouts = [e for e in door.trace if e.kind == "timer_set" and e.tick == 0
                and type(e["timer"]).__name__ == "ElectionTimeout"]
    dues = {e.node: e["due"] for e in timeouts}
    assert len(dues) == 5 and len(set(dues.values())) == 5                # randomized: all different
    assert all(150 <= due <= 300 for due in dues.values())
    earliest = min(dues, key=dues.get)
    fired = first([e for e in door.trace if e.kind == "timer_fired"], "timer")
    assert fired.node == earliest and fired.tick == dues[earliest]
    # the first to time out is the only candidate, in term 1, and wins it
    elections = notes(door, "election")
    assert [(e.node, e["fields"]["term"]) for e in elections] == [(earliest, 1)]
    leaders = notes(door, "became leader")
    assert [(e.node, e["fields"]["term"]) for e in leaders] == [(earliest, 1)]
    votes = delivered(door, RequestVoteReply, dst=earliest)
    granted_before = [e for e in votes if e["msg"].granted and e.seq < leaders[0].seq]
    assert len(granted_before) + 1 >= majority(door)
    # heartbeats: empty AppendEntries from the leader to every follower
    beats = [e for e in sent(door, AppendEntries, src=earliest) if not e["msg"].entries]
    assert {e["dst"] for e in beats} == set(door.ids) - {earliest}
    # a first command commits and every server applies it
    command = ("put", "x", 1)
    index = next(i for i, entry in enumerate(door.sim.nodes[earliest].log, 1) if entry.command == command)
    assert [e["fields"]["index"] for e in notes(door, "commit", node=earliest)][-1] == index
    applied = {e.node for e in notes(door, "apply") if e["fields"]["command"] == command}
    assert applied == set(door.ids)
    assert door.leader() == earliest and all_logs_equal(door)
    assert set(door.terms().values()) == {1}


# ------------------------------------------------------------------------------- leader_crash
def test_leader_crash():
    door = cluster("leader_crash")
    old = first(notes(door, "became leader"))
    old_leader, old_term = old.node, old["fields"]["term"]
    crash = index_of(door, "crashed", node=old_leader)
    assert old.seq < crash
    # followers time out: the first election timer to go off after the crash starts the next term, and wins it
    timeout = first([e for e in door.trace[crash:] if e.kind == "timer_fired"
                     and type(e["timer"]).__name__ == "ElectionTimeout"], "election timeout")
    new = first(notes(door, "became leader", since=crash))
    new_leader, new_term = new.node, new["fields"]["term"]
    assert timeout.node == new_leader != old_leader and new_term > old_term
    assert [e.node for e in notes(door, "election", since=crash)] == [new_leader]
    # commands go on committing under the new leader
    restart = index_of(door, "restarted", node=old_leader)
    assert new.seq < restart
    commits = notes(door, "commit", since=new.seq, node=new_leader)
    log = door.sim.nodes[new_leader].log
    assert any(log[e["fields"]["index"] - 1].command[0] == "put" and e["fields"]["in_term"] == new_term
               and e.seq < restart for e in commits)
    # the old leader restarts and follows the new term, without an election of its own
    assert notes(door, "election", since=restart) == [] and notes(door, "became leader", since=restart) == []
    back = state(door, old_leader)
    assert back["role"] == "follower" and back["term"] == new_term and door.leader() == new_leader
    assert all_logs_equal(door)


# --------------------------------------------------------------------------------- split_vote
def test_split_vote():
    door = cluster("split_vote")
    candidates = {}
    for e in notes(door, "election"):
        candidates.setdefault(e["fields"]["term"], []).append(e.node)
    won = {e["fields"]["term"]: e.node for e in notes(door, "became leader")}
    split = [t for t, who in candidates.items() if len(who) >= 2 and t not in won]
    assert split, f"no split term: candidates {candidates}, leaders {won}"
    term = split[0]
    # nobody reached a majority: each candidate got fewer than a majority of votes (its own included)
    for node in candidates[term]:
        granted = [e for e in delivered(door, RequestVoteReply, dst=node)
                   if e["msg"].term == term and e["msg"].granted]
        assert len(granted) + 1 < majority(door)
    # a later term, with a single candidate (randomized timeouts), elects a leader
    later = min(t for t in won if t > term)
    assert candidates[later] == [won[later]]
    assert door.leader() == won[later] and door.violations == []
    assert all_logs_equal(door)


# --------------------------------------------------------------------- old_leader_partitioned
def test_old_leader_partitioned():
    for words, door, before in walk("old_leader_partitioned"):
        if words[0] == "partition":
            old_leader = door.leader()
            old_term = door.sim.nodes[old_leader].current_term
            minority = next(g for g in " ".join(words[1:]).split("|") if old_leader in g.split())
            assert len(minority.split()) < majority(door)
            cut = len(door.trace)
        if words[0] == "heal":
            before_heal, heal = before, len(door.trace)
    # the old leader accepted commands in the minority: its log table shows them, uncommitted
    taken = accepted_commands(door, old_leader, since=cut, until=heal)
    assert len(taken) >= 2 and {term for _, term in taken} == {old_term}
    lowest = min(index for index, _ in taken)
    held = before_heal[old_leader]
    assert held["role"] == "leader" and held["term"] == old_term and held["commit"] < lowest
    lost = {held["log"][index - 1].command for index, _ in taken}
    # ... and they never commit anywhere
    assert not any(e["fields"]["command"] in lost for e in notes(door, "apply"))
    assert not any(e["fields"]["term"] == old_term and e["fields"]["index"] >= lowest for e in notes(door, "commit"))
    # meanwhile the majority elected a leader of a higher term, which committed
    new = first(notes(door, "became leader", since=cut))
    new_leader, new_term = new.node, new["fields"]["term"]
    assert new_term > old_term and new.seq < heal
    assert any(e["fields"]["in_term"] == new_term and e.seq < heal
               for e in notes(door, "commit", since=cut, node=new_leader))
    # on heal the old leader sees the higher term and steps down; its entries are overwritten
    down = first([e for e in door.trace[heal:] if e.kind == "role" and e.node == old_leader], "step down")
    assert (down["old"], down["new"]) == ("leader", "follower")
    assert state(door, old_leader)["term"] == new_term and door.leader() == new_leader
    assert not lost & {entry.command for entry in door.sim.nodes[old_leader].log}
    assert all_logs_equal(door)


# -------------------------------------------------------------------------------- log_repair
def test_log_repair():
    follower = None
    for words, door, _ in walk("log_repair"):
        if words[0] == "crash" and follower is None:
            follower, down_at = words[1], len(door.trace)
        if words[:2] == ["restart", follower]:
            back_at = len(door.trace)
            behind = state(door, follower)["log"]
    leader = door.leader()
    # it missed many entries: several commits happened while it was down
    assert len(notes(door, "commit", since=down_at)) >= 3
    assert len(door.sim.nodes[leader].log) - len(behind) >= 3
    # the leader's first AppendEntries after the restart are refused; it backs next_index up and retries
    replies = sent(door, AppendEntriesReply, since=back_at, src=follower)
    assert replies[0]["msg"].success is False
    ok = first([e for e in replies if e["msg"].success], "accepted AppendEntries")
    tries = [e["msg"] for e in sent(door, AppendEntries, since=back_at, src=leader, dst=follower)]
    assert tries[0].prev_index > len(behind)                           # optimistic: past the follower's log
    repair = next(m for m in tries if m.prev_index < tries[0].prev_index)     # backed up ...
    assert repair.prev_index <= len(behind)                            # ... to where the logs match,
    assert repair.prev_index == 0 or behind[repair.prev_index - 1].term == repair.prev_term
    assert ok["msg"].match == len(door.sim.nodes[leader].log)          # then appended all the rest
    assert all_logs_equal(door)


# ------------------------------------------------------------------------- restart_persisted
def test_restart_persisted():
    for words, door, before in walk("restart_persisted"):
        if words[0] == "crash":
            node = words[1]
            had = before[node]
        if words[0] == "restart":
            after = state(door, node)
            restart = len(door.trace)
    assert had["up"] and had["role"] == "follower" and had["voted_for"] is not None
    assert had["commit"] == len(had["log"]) > 0 and had["kv"]          # it had committed and applied its log
    # persistent state survives ...
    assert (after["term"], after["voted_for"], after["log"]) == (had["term"], had["voted_for"], had["log"])
    # ... volatile state does not
    assert after["up"] and after["commit"] == 0 and after["kv"] == {} and after["role"] == "follower"
    # it learns the commit index again from the leader, and rebuilds its store by applying its log again
    leader = door.leader()
    learnt = first(delivered(door, AppendEntries, since=restart, src=leader, dst=node))
    assert learnt["msg"].commit > 0
    reapplied = [e["fields"]["index"] for e in notes(door, "apply", since=restart, node=node)]
    assert reapplied[:len(had["log"])] == list(range(1, len(had["log"]) + 1))
    end = state(door, node)
    assert end["commit"] == door.sim.nodes[leader].commit_index and end["kv"] == door.sim.nodes[leader].kv
    assert notes(door, "election", since=restart) == []
    assert all_logs_equal(door)


# ------------------------------------------------------------------- disruptive_rejoin, prevote
def rejoin(name):
    """Walk a rejoin story; return the door and the moments that matter."""
    seen = {}
    for words, door, _ in walk(name):
        if words[0] == "partition":
            groups = [g.split() for g in " ".join(words[1:]).split("|")]
            seen["isolated"] = next(g[0] for g in groups if len(g) == 1)
            seen["leader"] = door.leader()
            seen["term"] = door.sim.nodes[seen["leader"]].current_term
            seen["isolated_term"] = door.sim.nodes[seen["isolated"]].current_term
            seen["cut"] = len(door.trace)
        if words[0] == "heal":
            seen["heal"] = len(door.trace)
            seen["leader_at_heal"] = door.leader()
            seen["isolated_at_heal"] = state(door, seen["isolated"])
    return door, seen


def test_disruptive_rejoin():
    door, s = rejoin("disruptive_rejoin")
    x, leader = s["isolated"], s["leader"]
    assert not door.sim.params.get("prevote", False)
    assert s["isolated_term"] == s["term"] and s["leader_at_heal"] == leader
    # isolated, it keeps timing out and raising its term
    alone = [e for e in notes(door, "election", since=s["cut"], node=x) if e.seq < s["heal"]]
    assert len(alone) >= 2
    assert s["isolated_at_heal"]["term"] >= s["term"] + 2
    # the rejoin deposes the healthy leader, and a needless election follows in an even higher term
    down = first([e for e in door.trace[s["heal"]:] if e.kind == "role" and e.node == leader], "step down")
    assert (down["old"], down["new"]) == ("leader", "follower")
    new = first(notes(door, "became leader", since=s["heal"]))
    assert new["fields"]["term"] > s["isolated_at_heal"]["term"] > s["term"]
    assert not any(e.node == x for e in notes(door, "became leader"))       # its log was behind: never elected
    assert door.leader() == new.node and all_logs_equal(door)


def test_prevote():
    door, s = rejoin("prevote")
    x, leader = s["isolated"], s["leader"]
    assert door.sim.params.get("prevote") is True
    # isolated, it keeps asking for pre-votes, but its term does not grow
    rounds = [e for e in sent(door, PreVote, since=s["cut"], src=x) if e.seq < s["heal"]]
    assert len({e.tick for e in rounds}) >= 2
    assert s["isolated_at_heal"]["term"] == s["isolated_term"] == s["term"]
    assert s["isolated_at_heal"]["role"] == "pre-candidate"
    assert notes(door, "election", node=x) == []
    # on rejoining, its pre-votes are refused, and nobody's term moves
    answers = delivered(door, PreVoteReply, since=s["heal"], dst=x)
    assert len(answers) == len(door.ids) - 1 and not any(e["msg"].granted for e in answers)
    assert notes(door, "election", since=s["heal"]) == [] and notes(door, "became leader", since=s["heal"]) == []
    # the leader stays leader, in the same term, and the rejoined node follows it again
    assert door.leader() == leader == s["leader_at_heal"]
    assert set(door.terms().values()) == {s["term"]}
    assert state(door, x)["role"] == "follower" and all_logs_equal(door)


# ---------------------------------------------------------------------------- duplicate_submission
def test_duplicate_submission():
    door = cluster("duplicate_submission")
    leader = door.leader()
    assert leader is not None and door.sim.nodes[leader].current_term == 2
    # the first copy was committed by the new leader, then the client's retry appended a second one
    copies = [k for k, e in enumerate(door.sim.nodes[leader].log, start=1) if e.command == ("append", "log", "A")]
    assert len(copies) == 2 and door.sim.nodes[leader].log[copies[0] - 1].term == 1
    assert door.sim.nodes[leader].log[copies[1] - 1].term == 2
    applied = notes(door, "apply")
    first_copy = [e for e in applied if e["fields"]["index"] == copies[0]]
    retry = first([e for e in door.trace if e.kind == "request" and e.node == leader], "the retry")
    assert first_copy and first_copy[0].seq < retry.seq      # it was applied before the client tried again
    running = [i for i in door.ids if door.sim.up[i]]
    assert {door.sim.nodes[i].kv["log"] for i in running} == {"AA"}
