"""Atomic commitment in the cluster view: each node's transaction state, the coordinator's votes, and a
participant's uncertainty and locks — the blocking window must be visible."""

from fttoolkit import DistributedTransaction, ThreePhaseCommit
from fttoolkit.scenario import replay
from fttoolkit.viz.adapters import adapter_for
from fttoolkit.viz.scene import scene_of


def test_the_blocking_window_shows_uncertain_participants_holding_locks():
    door = replay(DistributedTransaction.presets()["blocking_window"]).door
    adapter = adapter_for(door.sim.node_class)
    blocked_steps = 0
    for step in range(0, door.sim.total_steps + 1, 2):
        door.rewind(step)
        scene = scene_of(door.sim)
        coordinator_down = not door.sim.up["n1"]
        table = adapter.table(door.sim)
        for node_id, look in scene.nodes.items():
            node = door.sim.nodes[node_id]
            if not look.up or node.role != "participant":
                continue
            uncertain = [t for t, s in node.txns.items() if s == "prepared"]
            if uncertain:
                assert look.badge == f"uncertain: {uncertain[0]}" and look.fill == "#FBE3C0"
                assert f"{len(node.locks)} lock" in look.caption
                assert table.cell(node_id, str(uncertain[0])).mark == "odd"
                blocked_steps += coordinator_down
            for txn, state in node.txns.items():
                assert table.cell(node_id, str(txn)).text == state
    assert blocked_steps > 10       # the window lasts: uncertain participants while the coordinator is down


def test_the_coordinator_shows_the_votes_it_has_and_3pc_splits_show_in_the_table():
    door = DistributedTransaction(nodes=4, seed=1)
    door.begin("T1", {p: {"x": 1} for p in door.ids[1:]})
    adapter = adapter_for(door.sim.node_class)
    seen = set()
    while door.sim.next_due() is not None and door.now < 200:
        door.sim.step()
        node = door.sim.nodes["n1"]
        if node.txns.get("T1") == "collecting":
            votes = node.votes["T1"]
            badge = adapter.badge(node)
            assert badge == f"votes {sum(votes.values())} yes/3"       # out of the three participants
            seen.add(badge)
    assert len(seen) >= 2
    split = replay(ThreePhaseCommit.presets()["partition"]).door
    table = adapter_for(split.sim.node_class).table(split.sim)
    states = {table.cell(i, "t1").text for i in split.ids if i != "n1"}
    assert states == {"committed", "aborted"}


def test_the_detail_panel_lists_a_nodes_log_records():
    from fttoolkit import DistributedTransaction
    view = DistributedTransaction(nodes=4).show()
    view.load_preset("participant_recovery")
    view.last()
    view.node_menu.value = "n3"
    disk = view.sim.disks["n3"]
    assert len(disk) >= 2 and f"{len(disk)} records:" in view.details.value
    for k, record in enumerate(disk, start=1):
        assert f"#{k}" in view.details.value and record[0] in view.details.value
