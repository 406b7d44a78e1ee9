"""The cluster view shows exactly what the simulator did, and its controls never raise.

The scene (what a frame shows, as data) is compared with the simulator's own
state; the picture is checked at the pixels where nodes are drawn; the widget
is driven through its buttons and boxes as a student would.
"""

import math
import struct
import zlib

import numpy as np
import pytest

from fttoolkit import Broadcast
from fttoolkit.core.errors import BadParameter
from fttoolkit.viz.render import ClusterPicture, encode_png, spacetime
from fttoolkit.viz.scene import diagram_of, layout, scene_of


def decode_png(data):
    """Our encoder's output (RGBA, filter 0 on every row) back to an (h, w, 3) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert data[24:26] == b"\x08\x06"            # 8 bits, RGBA
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        tag = data[pos + 4:pos + 8]
        if tag == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w * 4 + 1)
    assert not raw[:, 0].any()
    return raw[:, 1:].reshape(h, w, 4)[:, :, :3]


def busy(nodes=5, seed=3, **kw):
    cluster = Broadcast(nodes=nodes, seed=seed, delay=(20, 60), **kw)
    cluster.broadcast("n1", "a")
    cluster.broadcast("n2", "b", at=30)
    return cluster


# ------------------------------------------------------------------------------ the scene
def test_messages_in_flight_are_drawn_where_their_delivery_time_puts_them():
    cluster = busy()
    checked = 0
    for _ in range(60):
        cluster.step()
        sim = cluster.sim
        scene = scene_of(sim)
        expected = {m.name: m for m, held in sim.in_flight() if m.src != m.dst}
        assert {m.name for m in scene.messages} == set(expected)
        for look in scene.messages:
            m = expected[look.name]
            assert (look.src, look.dst, look.type) == (m.src, m.dst, type(m.msg).__name__)
            assert look.f == pytest.approx((sim.now - m.sent_at) / (m.due - m.sent_at))
            assert 0 <= look.f <= 1
            checked += 1
    assert checked > 50


def test_crashes_partitions_and_groups_are_in_the_scene():
    cluster = busy(nodes=6)
    cluster.run(until=40)
    cluster.crash("n5")
    cluster.partition(["n1", "n2"], ["n3", "n4"])
    scene = scene_of(cluster.sim)
    assert not scene.nodes["n5"].up and scene.nodes["n5"].caption == "crashed"
    assert all(scene.nodes[i].up for i in ("n1", "n2", "n3", "n4", "n6"))
    assert scene.groups == [("n1", "n2"), ("n3", "n4"), ("n5", "n6")]
    states = {(link.a, link.b): link.state for link in scene.links}
    assert states[("n1", "n2")] == "ok" and states[("n3", "n4")] == "ok"
    assert states[("n1", "n3")] == "cut" and states[("n2", "n6")] == "cut"
    assert states[("n5", "n6")] == "down"          # same side, but one end is crashed
    # each side sits together on the circle: its members are neighbours in angle order
    pos = layout(cluster.ids, scene.groups)
    order = sorted(cluster.ids, key=lambda i: -math.atan2(pos[i][0], pos[i][1]) % (2 * math.pi))
    order = sorted(cluster.ids, key=lambda i: math.atan2(pos[i][0], pos[i][1]) % (2 * math.pi))
    assert order == ["n1", "n2", "n3", "n4", "n5", "n6"]
    cluster.heal()
    assert scene_of(cluster.sim).groups == []


def test_lost_and_duplicated_messages_are_marked_distinctly():
    cluster = Broadcast(nodes=4, seed=2, delay=(20, 40), loss=0.4, duplicate=0.5)
    cluster.broadcast("n1", "x")
    saw_copy = saw_loss = False
    for _ in range(80):
        events = cluster.step()
        scene = scene_of(cluster.sim)
        copies = {m.name for m in scene.messages if m.copy_of}
        in_flight_copies = {m.name for m, _ in cluster.sim.in_flight() if m.copy_of}
        assert copies == in_flight_copies
        saw_copy |= bool(copies)
        for e in events:
            if e.kind == "dropped" and e.data["reason"] == "loss":
                drop = [d for d in scene.drops if (d.src, d.dst, d.reason) == (e.data["src"], e.data["dst"], "loss")]
                assert drop and drop[-1].tick == e.tick and drop[-1].f == 0.0
                saw_loss = True
    assert saw_copy and saw_loss


def test_a_broken_invariant_shows_from_the_step_where_it_broke():
    cluster = Broadcast(nodes=4, seed=1, bugs=["no-dedup"], duplicate=0.3)
    cluster.broadcast("n1", "twice?")
    while not cluster.violations:
        assert cluster.step() != []
        scene = scene_of(cluster.sim)
        assert bool(scene.violations) == bool(cluster.violations)
    first = scene.violations[0]
    assert first["step"] == cluster.steps            # the step just taken
    assert first["name"] == "Integrity"
    for node_id in first["nodes"]:
        assert "Integrity" in scene.nodes[node_id].broken
    cluster.rewind(cluster.steps - 1)                 # one step earlier it was not broken
    assert scene_of(cluster.sim).violations == []


def test_diagram_data_matches_the_trace():
    cluster = busy(loss=0.2)
    cluster.crash("n4", at=50)
    cluster.restart("n4", at=120)
    cluster.run(until=300)
    data = diagram_of(cluster.trace, cluster.ids, 0, 300)
    delivered = [e for e in cluster.trace if e.kind == "delivered" and e["src"] != e["dst"]]
    lost = [e for e in cluster.trace if e.kind == "dropped" and e["src"] != e["dst"] and e["mid"] is not None]
    arrows = [m for m in data.messages if m[6] in ("delivered", "copy")]
    assert len(arrows) == len(delivered)
    assert len([m for m in data.messages if m[6] == "lost"]) == len(lost)
    assert data.crashes == [("n4", 50)] and data.restarts == [("n4", 120)] and data.down == [("n4", 50, 120)]
    for kind, src, dst, t0, t1, f, status in arrows:
        assert t0 <= t1 and f == 1.0
    # a window that opens while n4 is down still shows it down from the window's start
    later = diagram_of(cluster.trace, cluster.ids, 80, 300)
    assert later.down == [("n4", 80, 120)] and later.crashes == []


# ---------------------------------------------------------------------------- the picture
def node_pixel(picture, frame, node_id, dx=0, dy=0):
    scene = picture.scene()
    look = scene.nodes[node_id]
    px, py = picture.ax.transData.transform((look.x, look.y))
    return frame[int(round(frame.shape[0] - py - dy)), int(round(px + dx))]


@pytest.mark.parametrize("scale", [1, 2])
def test_frames_have_a_fixed_size_and_show_crashed_and_broken_nodes(scale):
    cluster = Broadcast(nodes=4, seed=1, bugs=["no-dedup"], duplicate=0.3)
    cluster.broadcast("n1", "twice?")
    cluster.run(until=5)
    cluster.crash("n2")
    picture = ClusterPicture(cluster.sim, width=800, graph_height=500, diagram_height=200, scale=scale)
    frame = decode_png(picture.render_png())
    assert frame.shape == (700 * scale, 800 * scale, 3) and picture.size == (800 * scale, 700 * scale)
    above = picture.node_px * 0.38 * scale       # inside the disc, clear of the label and the cross
    crashed = node_pixel(picture, frame, "n2", dy=above)
    running = node_pixel(picture, frame, "n1", dy=above)
    assert tuple(crashed) == (0xD9, 0xD9, 0xD9)
    assert tuple(running) == (0xDC, 0xEB, 0xF7)     # the default fill of a running node
    cluster.run(until=100)
    broken = cluster.violations[0]["nodes"][0]
    frame = decode_png(picture.render_png())
    ring = node_pixel(picture, frame, broken, dx=picture.node_px * 0.69 * scale)
    assert tuple(ring) == (0xD5, 0x5E, 0x00)          # vermillion ring around it


def test_frames_are_deterministic_and_follow_the_run():
    def frames(seed):
        cluster = busy(seed=seed, loss=0.1)
        picture = ClusterPicture(cluster.sim)
        out = []
        for _ in range(6):
            cluster.run(until=cluster.now + 15)
            out.append(picture.render_png())
        return out

    a, b = frames(4), frames(4)
    assert a == b                                     # same seed, same pixels
    assert len(set(a)) == len(a)                      # and every frame differs from the last
    assert frames(5) != a


def test_png_encoder_round_trips():
    import io

    from PIL import Image
    rgba = np.random.default_rng(0).integers(0, 255, (7, 5, 4), dtype=np.uint8)
    png = encode_png(rgba)
    assert (decode_png(png) == rgba[:, :, :3]).all()
    assert (np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")) == rgba).all()   # a real PNG reader agrees


def test_spacetime_figure_and_its_bad_windows():
    cluster = busy()
    cluster.run(until=200)
    fig = cluster.spacetime(0, 200)
    assert [round(v) for v in fig.get_size_inches() * fig.dpi] == [900, 280]
    assert fig._repr_png_()[:4] == b"\x89PNG"
    for start, end in ((200, 100), (-5, 10), (0, 1.5)):
        with pytest.raises(BadParameter, match="0 <= start < end"):
            spacetime(cluster, start, end)


def test_picture_sizes_are_checked():
    cluster = busy()
    with pytest.raises(BadParameter, match="width must be a whole number of pixels"):
        ClusterPicture(cluster.sim, width=10)


# ------------------------------------------------------------------------------ the widget
@pytest.fixture
def view():
    return busy().show()


def test_step_button_makes_one_event_happen_and_redraws(view):
    before_png, before_steps = view.image.value, view.sim.steps
    view.step_button.click()
    assert view.sim.steps == before_steps + 1
    assert view.image.value != before_png
    assert f"step {view.sim.steps}" in view.status.value
    assert view.message == ""


def test_play_advances_simulated_time_at_the_chosen_speed(view):
    view.speed_box.value = 100
    view.play_button.value = True
    assert view._timer.playing and view.play_button.description == "Pause"
    for frame in range(1, 11):
        assert view.advance()
        assert view.sim.now == frame * 100 // 25
    view.play_button.value = False
    assert not view._timer.playing and view.play_button.description == "Play"


def test_playing_gives_the_same_run_as_running(view):
    for _ in range(30):
        view.advance()
    other = busy()
    other.run(until=view.sim.now)
    assert view.sim.trace.transcript() == other.trace.transcript()


def test_play_pauses_at_a_broken_invariant():
    cluster = Broadcast(nodes=4, seed=1, bugs=["no-dedup"], duplicate=0.3)
    cluster.broadcast("n1", "twice?")
    view = cluster.show()
    view.play()
    frames = 0
    while view.advance():
        frames += 1
        assert frames < 100
    assert cluster.violations and "Integrity broken at step" in view.message


@pytest.mark.parametrize("do, complaint", [
    (lambda v: v.partition("n1 | n9"), "unknown node 'n9'"),
    (lambda v: v.partition(" | "), "type the groups"),
    (lambda v: v.restart("n1"), "n1 is running"),
    (lambda v: v.crash("n7"), "unknown node 'n7'"),
    (lambda v: setattr(v.speed_box, "value", 0), "speed must be more than 0"),
    (lambda v: setattr(v, "speed", -3), "speed must be more than 0"),
    (lambda v: setattr(v.delay_box, "value", "soon"), "a delay is a whole number of ticks"),
    (lambda v: setattr(v.delay_box, "value", "30-10"), "delay"),
    (lambda v: v.reset(-1), "seed must be a whole number"),
])
def test_bad_input_shows_a_message_in_the_view(view, do, complaint):
    steps = view.sim.steps
    do(view)
    assert complaint in view.message
    assert "ftt-error" in view.notice._dom_classes and complaint.split("'")[0] in view.notice.value
    assert view.sim.steps == steps


def test_fault_controls_drive_the_same_cluster(view):
    cluster = view.cluster
    view.node_menu.value = "n3"
    controls = {b.description: b for row in view.controls.children for b in row.children
                if hasattr(b, "on_click")}
    controls["Crash"].click()
    assert not cluster.sim.up["n3"] and "CRASHED" in view.details.value
    controls["Restart"].click()
    assert cluster.sim.up["n3"]
    view.groups_box.value = "n1 n2 | n3 n4 n5"
    controls["Partition"].click()
    assert cluster.sim.network.cuts and view.message == ""
    controls["Heal"].click()
    assert not cluster.sim.network.cuts
    view.loss_box.value = 0.25
    view.delay_box.value = "5-20"
    assert cluster.sim.network.defaults.loss == 0.25 and cluster.sim.network.defaults.delay == (5, 20)
    kinds = [e.kind for e in cluster.trace]
    assert {"crashed", "restarted", "partitioned", "healed", "network"} <= set(kinds)


def test_reset_starts_the_same_experiment_over_with_the_seed(view):
    view.cluster.run(until=200)
    first = view.cluster.trace.transcript()
    view.seed_box.value = 9
    view.reset(9)
    assert view.sim.seed == 9 and view.sim.now == 0
    # the set-up inputs are made again: the nodes boot, the first broadcast is asked for
    assert [e.kind for e in view.sim.trace] == ["start"] * 5 + ["request"]
    view.reset(3)
    view.cluster.run(until=200)
    assert view.cluster.trace.transcript() == first


def test_log_filters_and_details(view):
    view.cluster.run(until=60)
    view.refresh()
    assert "delivered" in view.log.value and "timer_set" not in view.log.value
    view.filters["timers"].value = True
    assert "timer_set" in view.log.value or "timer_fired" in view.log.value
    for box in view.filters.values():
        box.value = False
    assert "no events of the chosen kinds" in view.log.value
    view.node_menu.value = "n2"
    assert "delivered" in view.details.value and "stable storage" in view.details.value


def test_play_ticks_are_answered_first_and_never_pile_up(view):
    import asyncio

    async def kernel():
        view.play_button.value = True
        now = view.sim.now
        view._on_timer()
        view._on_timer()           # a second tick before the first frame was drawn: no second frame
        assert view.sim.now == now and view._frame_due
        await asyncio.sleep(0)     # the loop runs the frame after the handlers returned
        assert not view._frame_due and view.sim.now == now + 2

    asyncio.run(kernel())


def test_play_refreshes_the_panels_every_fifth_frame_and_at_pause(view):
    view.speed = 500                                       # 20 ticks a frame: something happens in each
    view.play_button.value = True
    before = view.log.value
    view.advance()
    assert view.log.value == before                        # the picture moves, the log waits
    for _ in range(4):
        view.advance()
    assert view.log.value != before                        # the fifth frame brings it up to date
    shown = view.log.value
    for _ in range(3):
        view.advance()
    view.play_button.value = False
    assert view.log.value != shown and f"step {view.sim.steps}" in view.status.value
