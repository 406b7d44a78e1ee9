"""fttoolkit.core: messages, timers, intentions and the node base class (no simulator)."""

import dataclasses

import pytest

from fttoolkit.core import (BadParameter, HandlerError, Message, Node, NoHandler, Note, Persist,
                            Send, SetTimer, Timer, handler_name_for, id_key, node_ids, sorted_ids)


class Ping(Message):
    seq: int


class PingReq(Message):
    target: str


class Tick(Timer):
    pass


class Echo(Node):
    params = {"step": 1}
    bugs = {"off-by-one": "adds 2 instead of the step"}

    def on_start(self, records):
        self.replies = 0
        self.restored = list(records)

    def on_ping(self, msg, sender):
        self.replies += 1
        step = 2 if "off-by-one" in self.bugs else self.params["step"]
        self.persist(("seen", msg.seq))
        self.send(sender, Ping(msg.seq + step))
        self.note("replied", seq=msg.seq)

    def on_tick(self, timer):
        self.set_timer(Tick(), 10)


def test_messages_are_frozen_hashable_values_with_transcript_repr():
    assert repr(Ping(3)) == "Ping(seq=3)"
    assert Ping(3) == Ping(3) and Ping(3) != Ping(4)
    assert len({Ping(1), Ping(1), Ping(2)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        Ping(3).seq = 4
    assert repr(Tick()) == "Tick()"


@pytest.mark.parametrize("name, handler", [
    ("RequestVote", "on_request_vote"), ("PingReq", "on_ping_req"), ("P1a", "on_p1a"),
    ("ACK", "on_ack"), ("HTTPRequest", "on_http_request"), ("ElectionTimeout", "on_election_timeout"),
])
def test_handler_names_follow_one_convention(name, handler):
    assert handler_name_for(name) == handler


def test_handlers_record_intentions_in_order_and_do_nothing_else():
    node = Echo("n1", peers=("n2",))
    node.start([])
    out = node.handle_message(Ping(1), "n2")
    assert out == [Persist((("seen", 1),)), Send("n2", Ping(2)), Note("replied", (("seq", 1),))]
    assert node.replies == 1                       # own state changed
    assert node.handle_timer(Tick()) == [SetTimer(Tick(), 10)]


def test_on_start_receives_stable_records():
    node = Echo("n1")
    node.start([("seen", 1), ("seen", 2)])
    assert node.restored == [("seen", 1), ("seen", 2)]


def test_missing_handler_is_an_error_that_says_what_to_define():
    node = Echo("n1")
    node.start([])
    with pytest.raises(NoHandler, match=r"on_ping_req\(self, msg, sender\)"):
        node.handle_message(PingReq("n3"), "n2")

    class Quiet(Node):
        pass

    with pytest.raises(NoHandler, match=r"on_tick\(self, timer\)"):
        Quiet("n1").handle_timer(Tick())


def test_dispatch_table_is_built_once_per_class_and_inherited():
    class Louder(Echo):
        def on_tick(self, timer):
            self.note("tick!")

    assert Louder._handlers["on_ping"] is Echo._handlers["on_ping"]
    assert Louder._handlers["on_tick"] is not Echo._handlers["on_tick"]


def test_a_crashing_handler_is_reported_with_node_and_message():
    class Broken(Node):
        def on_ping(self, msg, sender):
            self.send(sender, msg)
            raise ZeroDivisionError("oops")

    node = Broken("n7")
    with pytest.raises(HandlerError, match=r"n7\.on_ping\(Ping\(seq=1\)\) raised ZeroDivisionError: oops") as info:
        node.handle_message(Ping(1), "n1")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert node._intentions == []   # nothing half-recorded leaks into the next handler


def test_params_and_bugs_are_validated_with_the_allowed_values():
    assert Echo("n1", params={"step": 5}).params == {"step": 5}
    with pytest.raises(BadParameter, match="no parameter 'stpe'; allowed: step"):
        Echo("n1", params={"stpe": 5})
    with pytest.raises(BadParameter, match="no bug 'typo'; known bugs: off-by-one"):
        Echo("n1", bugs=["typo"])
    node = Echo("n1", bugs=["off-by-one"])
    node.start([])
    assert node.handle_message(Ping(1), "n2")[1] == Send("n2", Ping(3))


def test_state_shows_protocol_state_only():
    node = Echo("n1", peers=("n2",))
    node.start([])
    assert node.state() == {"replies": 0, "restored": []}


def test_intention_arguments_are_checked():
    node = Echo("n1")
    with pytest.raises(TypeError, match="needs a Message"):
        node.send("n2", "hello")
    with pytest.raises(BadParameter, match="whole number of ticks >= 0"):
        node.set_timer(Tick(), -5)
    with pytest.raises(BadParameter, match="at least one record"):
        node.persist()


def test_sent_and_stored_values_must_be_immutable():
    # A list put on disk or in flight could later be changed through the node's memory.
    class Log(Message):
        entries: object

    node = Echo("n1")
    with pytest.raises(TypeError, match="Log: a message or timer must be immutable"):
        Log([1, 2])
    with pytest.raises(TypeError, match="a stored record must be immutable"):
        node.persist(("log", [1, 2]))
    node.send("n2", Log((1, 2)))
    node.persist(("log", (1, 2)))
    assert len(node._intentions) == 2


def test_ids_sort_naturally():
    assert node_ids(3) == ["n1", "n2", "n3"]
    assert sorted_ids(["n10", "n2", "n1", "a"]) == ["a", "n1", "n2", "n10"]
    assert id_key("n2") < id_key("n10")
