"""Paxos and Multi-Paxos in the cluster view: each acceptor's promise and accepted proposal, each
proposer's phase and counts, the learned value, and Multi-Paxos's slot table, read from node state."""

from fttoolkit import MultiPaxos, Paxos
from fttoolkit.scenario import replay
from fttoolkit.viz.adapters import Cell, adapter_for
from fttoolkit.viz.scene import scene_of


def test_paxos_looks_follow_acceptor_proposer_and_learner_state():
    door = replay(Paxos.presets()["partial_accept"]).door
    adapter = adapter_for(door.sim.node_class)
    phases, learned_seen = set(), False
    for step in range(0, door.sim.total_steps + 1, 3):
        door.rewind(step)
        scene = scene_of(door.sim)
        for node_id, look in scene.nodes.items():
            if not look.up:
                continue
            node = door.sim.nodes[node_id]
            phases.add(node.phase)
            if node.accepted is not None:
                ballot, value = node.accepted
                assert f"{value}@b{ballot.round}.{ballot.node}" in look.caption
            elif node.promised is not None:
                assert look.caption == f"promised b{node.promised.round}.{node.promised.node}"
            if node.phase == "prepare":
                assert look.badge.endswith(f"promises {len(node.promises)}/{node.majority}")
            elif node.phase == "accept":
                assert look.badge.endswith(f"accepts {len(node.accepts)}/{node.majority}")
            elif node.learned is not None:
                learned_seen = True
                assert look.badge == f"learned {node.learned}" and look.fill == "#BFE6D4"
        table = adapter.table(door.sim)
        for node_id in door.ids:
            node = door.sim.nodes[node_id]
            cell = table.cell(node_id, "accepted value")
            assert cell.text == ("-" if node.accepted is None else str(node.accepted[1]))
    assert {"prepare", "accept"} <= phases and learned_seen


def test_the_multipaxos_slot_table_marks_chosen_slots_and_disagreement():
    door = replay(MultiPaxos.presets()["leader_failover"]).door
    adapter = adapter_for(door.sim.node_class)
    odd_seen = False
    for step in range(0, door.sim.total_steps + 1, 5):
        door.rewind(step)
        table = adapter.table(door.sim)
        for node_id in door.ids:
            node, up = door.sim.nodes[node_id], door.sim.up[node_id]
            for slot, (ballot, value) in node.accepted.items():
                if str(slot) not in table.columns:
                    continue
                cell = table.cell(node_id, str(slot))
                if up and slot in node.chosen:
                    assert cell.mark == "good"
                if cell.mark == "odd":
                    odd_seen = True
                    others = {door.sim.nodes[o].accepted.get(slot, (None, value))[1] for o in door.ids}
                    assert len(others) > 1
        leader = door.leader()
        if leader is not None:
            look = scene_of(door.sim).nodes[leader]
            assert look.marker == "s" and look.badge == f"chosen {len(door.sim.nodes[leader].chosen)}"
    assert odd_seen           # slot 2: n1 alone accepted a command, the new leader chose a no-op there
    assert all(isinstance(c, Cell) for c in table.rows[0])
