"""The lecture theme: larger, thicker, higher in contrast; the default theme stays exactly today's look.

The default look is compared byte for byte with a picture drawn from a
:class:`Theme` spelled out with today's numbers; the lecture look is
measured in the rendered frames (node and label sizes, label boxes that do
not collide, a legend off the nodes) and its colours are checked with the
WCAG contrast formula.
"""

import io
import itertools

import numpy as np
import pytest

from fttoolkit import Broadcast, Raft
from fttoolkit.core.errors import BadParameter
from fttoolkit.viz.adapters import RaftView
from fttoolkit.viz.render import _LOSS_WORDS, ClusterPicture, spacetime
from fttoolkit.viz.style import DEFAULT, LECTURE, ROLE_COLOURS, THEMES, Theme, theme_for

#: Today's look, number by number: what ``theme="default"`` must keep drawing.
TODAY = Theme(
    name="today", font_scale=1, node_scale=1, line_scale=1, marker_scale=1,
    background="#FFFFFF", ink="#1A1A1A", secondary="#555555", caption="#333333", link="#B8B8B8",
    link_down="#D8D8D8", clogged="#E69F00", grid="#EDEDED", wrong="#D55E00", wrong_text="#D55E00",
    crashed_fill="#D9D9D9", crashed_edge="#9A9A9A", crashed_sample="#EDEDED", down_line="#9A9A9A",
    restart="#009E73", label_box="#FFFFFF", badge="#FFF4C2",
    partition_tints=("#E8F1FA", "#FCF0DC", "#E3F4EE", "#F7E8F1", "#EFEFEF"), partition_band="#FBE3D6",
    legend_edge="#DDDDDD", halo=0, header_px=50, graph_half=1.22, graph_shift=0.08, header_chars=90,
    legend_px=0, diagram_left_px=60, diagram_bottom_px=30, diagram_top_px=26,
)


def faulty(nodes=5, seed=3):
    """Messages in flight and lost, a crashed node, a partition, duplicates and a broken invariant."""
    cluster = Broadcast(nodes=nodes, seed=seed, bugs=["no-dedup"], duplicate=0.3, loss=0.2, delay=(5, 40))
    cluster.broadcast("n1", "a")
    cluster.run(until=30)
    cluster.crash("n2")
    cluster.partition(["n1", "n3"], [f"n{k}" for k in range(4, nodes + 1)])
    cluster.broadcast("n3", "b")
    cluster.run(until=45)
    return cluster


def raft_faults(nodes):
    """Raft with a crashed node and a partition, a few lost messages on the way."""
    cluster = Raft(nodes=nodes, seed=1)
    cluster.run(until=300)
    cluster.submit(("put", "x", 1))
    cluster.run(until=400)
    cluster.crash("n2")
    rest = [f"n{k}" for k in range(3, nodes + 1)]
    cluster.partition(["n1"] + rest[:len(rest) // 2], rest[len(rest) // 2:])
    cluster.run(until=460)
    return cluster


def election(nodes):
    """Raft during its first election: every node has a caption, the candidate a badge, votes in flight."""
    cluster = Raft(nodes=nodes, seed=3)
    cluster.run(until=175)
    return cluster


# ------------------------------------------------------------------------ the default look
def test_the_default_theme_draws_todays_pixels():
    cluster = faulty()
    assert cluster.violations                       # the frames show a broken invariant too
    pictures = [ClusterPicture(cluster.sim), ClusterPicture(cluster.sim, theme=None),
                ClusterPicture(cluster.sim, theme="default"), ClusterPicture(cluster.sim, theme=TODAY)]
    for _ in range(3):
        frames = [p.render_png() for p in pictures]
        assert all(frame == frames[0] for frame in frames[1:])
        cluster.run(until=cluster.now + 9)
    sharp = [ClusterPicture(cluster.sim, scale=2, diagram_height=0, theme=t).render_png() for t in (None, TODAY)]
    assert sharp[0] == sharp[1]


def test_the_default_theme_draws_todays_spacetime_diagram():
    cluster = faulty()
    figures = []
    for theme in ("default", TODAY):
        buffer = io.BytesIO()
        spacetime(cluster, theme=theme).savefig(buffer, format="rgba")
        figures.append(buffer.getvalue())
    assert figures[0] == figures[1]


# ------------------------------------------------------------------------ the lecture look
def dark_box(frame, cx, cy, half):
    """Rows and columns of the dark pixels within ``half`` pixels of (cx, cy)."""
    y0, x0 = int(cy - half), int(cx - half)
    patch = frame[y0:int(cy + half) + 1, x0:int(cx + half) + 1, :3].astype(int).sum(axis=2) < 3 * 90
    rows, cols = np.nonzero(patch)
    return rows + y0, cols + x0


def node_measures(picture, node_id):
    """(disc radius, height of the id's ink) of a running node, measured in the frame, in device pixels."""
    frame = picture.draw().copy()
    look = picture.scene().nodes[node_id]
    px, py = picture.ax.transData.transform((look.x, look.y))
    cx, cy = px, frame.shape[0] - py
    node = picture.node_px * picture.scale
    rows, _ = dark_box(frame, cx, cy, node * 0.27)      # well inside the outline: only the id is dark
    column = frame[int(cy - node):int(cy), int(round(cx)), :3].astype(int).sum(axis=1) < 3 * 90
    top = np.flatnonzero(column)[0]                      # the outline's outer edge, straight above the centre
    return node - top, rows.max() - rows.min() + 1


@pytest.mark.parametrize("nodes", [5, 9])
def test_lecture_nodes_and_their_ids_are_drawn_larger(nodes):
    cluster = Broadcast(nodes=nodes, seed=1)
    cluster.broadcast("n1", "x")
    cluster.run(until=400)                         # everything delivered and acknowledged: no badges
    default_r, default_ink = node_measures(ClusterPicture(cluster.sim), "n1")
    lecture_r, lecture_ink = node_measures(ClusterPicture(cluster.sim, theme="lecture"), "n1")
    assert 1.3 <= lecture_r / default_r <= 1.5
    assert lecture_ink / default_ink >= 1.4


def test_lecture_keeps_the_size_asked_for():
    cluster = faulty()
    picture = ClusterPicture(cluster.sim, width=800, graph_height=500, diagram_height=200, scale=2, theme="lecture")
    assert picture.size == (1600, 1400) and picture.draw().shape == (1400, 1600, 4)
    assert ClusterPicture(cluster.sim, theme=LECTURE).render_png()[:8] == b"\x89PNG\r\n\x1a\n"


def label_boxes(labels, ids):
    """``(owner, text, size, box)`` of the labels queued on a label layer; boxes (x0, y0, x1, y1) in pixels, y up.

    The labels of a node are queued after its id (the id, its caption, its badge); the loss words
    that follow the last node's labels have no owner.
    """
    boxes, owner, seen = [], None, set()
    for px, py, text, size, colour, weight, box, ha, va, halo in labels.queue:
        if text in ids and text not in seen:
            owner = text
            seen.add(text)
        elif len(seen) == len(ids) and text in set(_LOSS_WORDS.values()):
            owner = None
        h, w = labels.sprites.get(text, size, colour, weight, box, box_width=labels.box_width, halo=halo).shape[:2]
        x0 = px - (w / 2 if ha == "center" else w if ha == "right" else 0)
        y0 = py - (h / 2 if va == "center" else h if va == "top" else 0)
        boxes.append((owner, text, size, (x0, y0, x0 + w, y0 + h)))
    return boxes


def overlap(a, b, slack=1):
    return a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]


@pytest.mark.parametrize("make, calm", [(lambda: election(5), True), (lambda: election(9), True),
                                        (lambda: raft_faults(5), False), (lambda: raft_faults(9), False),
                                        (lambda: faulty(5), False)],
                         ids=["election-5", "election-9", "raft-faults-5", "raft-faults-9", "broadcast-faults-5"])
def test_lecture_node_labels_do_not_overlap_at_900_by_780(make, calm):
    cluster = make()
    picture = ClusterPicture(cluster.sim, theme="lecture")
    assert picture.size == (900, 780)
    picture.draw()
    nodes = picture.last_scene.nodes
    boxes = label_boxes(picture.labels, set(nodes))
    assert {owner for owner, *_ in boxes} >= set(nodes)
    for (_, t1, _, a), (_, t2, _, b) in itertools.combinations(boxes, 2):
        assert not overlap(a, b), f"{t1!r} overlaps {t2!r}"
    r = picture.node_px / 2
    for node_id, look in nodes.items():               # no label covers another node
        cx, cy = picture.ax.transData.transform((look.x, look.y))
        for owner, text, _, box in boxes:
            if owner != node_id:
                assert not overlap((cx - r, cy - r, cx + r, cy + r), box, slack=2), f"{text!r} covers {node_id}"
    if calm:     # a calm cluster's captions all get (about) the lecture size
        captions = [size for owner, text, size, _ in boxes if text.startswith(("term", "log"))]
        assert len(captions) >= len(nodes) and min(captions) >= LECTURE.font(10) - 1.5


def test_lecture_legend_is_larger_and_off_the_nodes():
    for nodes in (5, 9):
        cluster = election(nodes)
        picture = ClusterPicture(cluster.sim, theme="lecture")
        picture.draw()
        legend = picture.ax.get_legend()
        assert legend.get_texts()[0].get_fontsize() >= 1.5 * 9
        box = legend.get_window_extent(picture.canvas.get_renderer())
        assert box.x1 <= picture.size[0] and box.x0 >= 0                 # inside the frame
        r = picture.ring_px / 2
        for look in picture.last_scene.nodes.values():
            cx, cy = picture.ax.transData.transform((look.x, look.y))
            assert cx + r < box.x0 or cy + r < box.y0 or cy - r > box.y1, f"the legend covers {look.id}"
    default = ClusterPicture(cluster.sim)
    assert default.ax.get_legend().get_texts()[0].get_fontsize() == 9


def test_lecture_diagram_names_and_header_are_larger():
    cluster = faulty()
    lecture, default = ClusterPicture(cluster.sim, theme="lecture"), ClusterPicture(cluster.sim)
    for picture in (lecture, default):
        picture.draw()

    def sizes(picture):
        return ([t.get_fontsize() for t in picture.diagram.ax.texts],
                [q[3] for q in picture.head_labels.queue])
    (rows_l, head_l), (rows_d, head_d) = sizes(lecture), sizes(default)
    assert min(rows_l) >= 1.4 * max(rows_d)
    assert len(head_l) == len(head_d) == 2 and all(a >= 1.5 * b for a, b in zip(head_l, head_d))


# ---------------------------------------------------------------------------- the colours
def luminance(colour):
    """WCAG 2 relative luminance of a ``#RRGGBB`` colour."""
    channels = [int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_lecture_colours_have_high_contrast():
    t = LECTURE
    assert contrast(t.ink, t.background) >= 7
    assert contrast(t.caption, t.background) >= 7
    assert contrast(t.secondary, t.background) >= 4.5
    assert contrast(t.wrong_text, t.background) >= 4.5
    assert contrast(t.link, t.background) >= 3
    assert contrast(t.link, t.background) > 2 * contrast(DEFAULT.link, DEFAULT.background)   # much darker
    for tint in t.partition_tints:                    # captions sit on the partition tints
        assert contrast(t.ink, tint) >= 7


def test_lecture_colours_stay_apart_where_they_must():
    t = LECTURE
    running = set(ROLE_COLOURS) | {fill for fill, _ in RaftView.role_styles.values()}
    for fill in running:
        assert contrast(t.crashed_fill, fill) >= 1.8, fill          # a crashed node is not a running one
    assert contrast(t.crashed_edge, t.crashed_fill) >= 3
    tints = list(t.partition_tints) + [t.crashed_fill, t.background]
    assert len(set(tints)) == len(tints)
    for a, b in itertools.combinations(t.partition_tints, 2):      # sides of a partition tell apart
        rgb = [np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)]) for c in (a, b)]
        assert np.abs(rgb[0] - rgb[1]).max() >= 30, (a, b)
    assert len({t.link, t.link_down, t.wrong, t.clogged}) == 4      # link states
    assert contrast(t.link, t.link_down) >= 1.5


def test_lecture_draws_its_colours():
    cluster = Broadcast(nodes=4, seed=1)
    cluster.run(until=5)
    cluster.crash("n2")
    picture = ClusterPicture(cluster.sim, theme="lecture")
    frame = picture.draw()
    look = picture.scene().nodes["n2"]
    px, py = picture.ax.transData.transform((look.x, look.y))
    above = picture.node_px * 0.38             # inside the disc, clear of the label and the cross
    pixel = frame[int(round(frame.shape[0] - py - above)), int(round(px))][:3]
    assert "#%02X%02X%02X" % tuple(pixel) == LECTURE.crashed_fill


# -------------------------------------------------------------------------------- choosing
def test_theme_for_names_and_objects():
    assert theme_for("default") is DEFAULT and theme_for(None) is DEFAULT
    assert theme_for("lecture") is LECTURE and theme_for(" Lecture ") is LECTURE
    assert theme_for(TODAY) is TODAY
    assert set(THEMES) == {"default", "lecture"}
    assert LECTURE.font_scale >= 1.5 and 1.3 <= LECTURE.node_scale <= 1.5 and LECTURE.line_scale >= 1.6
    assert LECTURE.marker_scale > 1
    with pytest.raises(Exception):
        DEFAULT.font_scale = 2                     # frozen: a theme cannot be changed behind a picture's back


@pytest.mark.parametrize("bad", ["huge", "", 3, ("lecture",)])
def test_unknown_themes_are_refused_with_the_allowed_names(bad):
    with pytest.raises(BadParameter) as error:
        theme_for(bad)
    message = str(error.value)
    assert repr(bad) in message and "default" in message and "lecture" in message


def test_pictures_refuse_unknown_themes():
    cluster = Broadcast(nodes=3, seed=1)
    with pytest.raises(BadParameter, match="unknown theme 'huge'.*default, lecture"):
        ClusterPicture(cluster.sim, theme="huge")
    cluster.run(until=10)
    with pytest.raises(BadParameter, match="default, lecture"):
        spacetime(cluster, theme="projector")
    with pytest.raises(BadParameter, match="default, lecture"):
        cluster.spacetime(theme="huge")
