"""Raft in the cluster view: roles by colour and shape, the term on each node, the election timer as a
ring, the votes a candidate has, and the log table — all read from the simulator's own state."""

from fttoolkit import Raft
from fttoolkit.viz.adapters import adapter_for
from fttoolkit.viz.scene import scene_of


def test_roles_terms_votes_and_timers_come_from_the_nodes():
    cluster = Raft(nodes=5, seed=1, delay=30)
    adapter = adapter_for(cluster.sim.node_class)
    seen_roles = set()
    for until in range(0, 900, 15):
        cluster.run(until=until)
        scene = scene_of(cluster.sim)
        for node_id, look in scene.nodes.items():
            node = cluster.sim.nodes[node_id]
            if not look.up:
                continue
            seen_roles.add(node.role)
            assert (look.fill, look.marker) == adapter.role_styles[node.role]
            assert look.caption.startswith(f"term {node.current_term} ")
            if node.role == "candidate":
                assert look.badge == f"votes {len(node.votes)}/{node.majority}"
            timers = [t for t in cluster.sim.timers(node_id) if type(t.timer).__name__ == "ElectionTimeout"]
            if node.role == "leader":
                assert look.progress is None and not timers
            else:
                (armed,) = timers
                expected = (scene.now - armed.set_at) / (armed.due - armed.set_at)
                assert abs(look.progress - expected) < 1e-9 and 0 <= look.progress <= 1
    assert {"follower", "candidate", "leader"} <= seen_roles
    assert len({look.marker for look in scene.nodes.values()}) >= 2    # leader and followers differ in shape


def test_the_timer_ring_is_drawn_and_closes_as_the_timeout_nears():
    cluster = Raft(nodes=3, seed=2)
    view = cluster.show()
    cluster.run(until=40)
    view.refresh()
    early = [len(seg) for seg in view.picture.timer_arcs.get_segments()]
    cluster.run(until=140)
    view.refresh()
    late = [len(seg) for seg in view.picture.timer_arcs.get_segments()]
    assert len(early) == len(late) == 3 and sum(late) > sum(early)     # longer arcs, same three followers
