"""The view for teaching: time travel, manual mode, presets, the linked table, keys and scripts.

The reference for every claim is a fresh cluster given the same inputs through the API: the view
must show exactly what that cluster would show, and a choice made with the view's buttons must be
the same choice as the API call.
"""

import pytest

from fttoolkit import Broadcast, Raft
from fttoolkit.scenario import replay
from fttoolkit.viz.adapters import Cell, adapter_for


def busy(nodes=4, seed=3):
    cluster = Broadcast(nodes=nodes, seed=seed, delay=(20, 60), loss=0.1)
    cluster.broadcast("n1", "a")
    cluster.broadcast("n2", "b", at=30)
    return cluster


def stepped(steps, make=busy):
    """A fresh cluster after ``steps`` steps, and a view of it (the reference)."""
    cluster = make()
    for _ in range(steps):
        cluster.sim.step()
    return cluster, cluster.show()


def same_view(a, b):
    """Two views show the same thing: picture, status, log, table, details, story."""
    assert a.sim.steps == b.sim.steps and a.sim.now == b.sim.now
    assert a.image.value == b.image.value
    for part in ("status", "log", "table", "details", "story"):
        assert getattr(a, part).value == getattr(b, part).value, part


# ------------------------------------------------------------------------------ time travel
def test_the_slider_scrubs_back_and_forth_and_everything_follows():
    cluster = busy()
    view = cluster.show()
    for _ in range(60):
        view.step()
    assert view.slider.max == 60 and view.slider.value == 60
    present = view.image.value
    for k in (17, 3, 41, 0, 60):
        view.slider.value = k                     # what dragging the slider does
        _, reference = stepped(k)
        same_view(view, reference)
        assert view.sim.trace.transcript() == reference.sim.trace.transcript()
    assert view.image.value == present and not view.sim.has_future
    assert "the present" in view.future.value


def test_back_and_step_move_one_recorded_step_and_play_replays_the_recording():
    view = busy().show()
    for _ in range(40):
        view.step()
    recorded = view.sim.trace.transcript()
    view.back()
    view.back()
    assert view.sim.steps == 38 and view.sim.has_future and "2 recorded steps ahead" in view.future.value
    view.step()                                   # replays step 39, keeps the rest of the future
    assert view.sim.steps == 39 and view.sim.has_future
    view.go_to(5)
    view.play()
    while view.sim.has_future:
        assert view.advance()
    view.pause()
    assert view.sim.steps == 40 and view.sim.trace.transcript() == recorded
    # after the recording, Play goes on live
    view.play()
    assert view.advance() or view.message
    view.pause()
    assert view.sim.steps >= 40


def test_play_in_the_past_draws_the_moments_between_recorded_steps():
    view = busy().show()
    for _ in range(30):
        view.step()
    view.go_to(10)
    view.speed = 5                              # 0.2 ticks per frame: most frames fall between two steps
    view.play()
    moments = set()
    for _ in range(25):
        view.advance()
        moments.add((view.sim.steps, view.picture.last_scene.now))
    view.pause()
    assert any(now > view.sim.step_tick(step) for step, now in moments), moments


def test_fork_here_forgets_the_future_and_a_new_choice_equals_the_api():
    view = busy().show()
    for _ in range(50):
        view.step()
    view.go_to(20)
    view.fork_here()
    assert "forked at step 20" in view.message and "30 steps" in view.message
    assert view.slider.max == 20 and not view.sim.has_future and view.fork_button.disabled
    message = next(p for p in view.sim.pending() if p.kind == "message")
    view.drop(message.name)
    for _ in range(10):
        view.step()

    reference, _ = stepped(20)
    reference.sim.drop(message.name)
    for _ in range(10):
        reference.sim.step()
    assert view.sim.trace.to_jsonl() == reference.sim.trace.to_jsonl()


def test_a_choice_made_in_the_past_forks_there_and_says_so():
    view = busy().show()
    for _ in range(30):
        view.step()
    view.go_to(12)
    view.crash("n3")
    assert view.message.startswith("forked at step 12") and "18 steps" in view.message
    assert view.slider.max == 12 and not view.sim.up["n3"]


# ------------------------------------------------------------------------------ manual mode
@pytest.mark.parametrize("action", ["deliver", "drop", "duplicate", "fire", "execute", "crash_here"])
def test_manual_choices_in_the_view_equal_the_same_choices_through_the_api(action):
    def prepare():
        cluster = busy()
        cluster.sim.run(until=5)
        return cluster

    view = prepare().show()
    view.manual_button.value = True
    if action in ("execute", "crash_here"):
        view.hold_box.value = True               # stop after the handler: its intentions are crash points
        first = next(p for p in view.sim.pending() if p.kind == "message")
        view.pending_list.value = first.name
        view.manual_buttons["deliver"].click()
        wanted = "intention"
    else:
        wanted = "timer" if action == "fire" else "message"
    labels = dict((name, label) for label, name in view.pending_list.options)
    item = [p for p in view.sim.pending() if p.kind == wanted][-1]
    assert item.name in labels
    view.pending_list.value = item.name
    assert not view.manual_buttons[action].disabled
    view.manual_buttons[action].click()
    assert view.message == "" or not view.notice.value.count("\u26a0"), view.message

    reference = prepare()
    sim = reference.sim
    if action in ("execute", "crash_here"):
        sim.deliver(first.name, settle=False)
    {"deliver": lambda: sim.deliver(item.name),
     "drop": lambda: sim.drop(item.name),
     "duplicate": lambda: sim.duplicate(item.name),
     "fire": lambda: sim.fire(item.name),
     "execute": lambda: sim.execute(item.node),
     "crash_here": lambda: sim.crash(item.node)}[action]()
    assert view.sim.trace.to_jsonl() == sim.trace.to_jsonl()
    assert [p.name for p in view.sim.pending()] == [name for _, name in view.pending_list.options]


def test_manual_mode_lists_crash_points_and_refuses_the_wrong_kind():
    view = busy().show()
    view.sim.run(until=5)
    view.refresh()
    view.manual_button.value = True
    assert view.manual_panel.layout.display == ""
    view.hold_box.value = True
    message = next(p for p in view.sim.pending() if p.kind == "message")
    view.deliver(message.name)
    labels = [label for label, _ in view.pending_list.options]
    assert any(label.strip().startswith(f"i:{message.dst}") and "crash point" in label for label in labels)
    view.pending_list.value = f"i:{message.dst}"
    assert view.manual_buttons["deliver"].disabled and not view.manual_buttons["execute"].disabled
    view._manual("deliver")
    assert "applies to a message" in view.message
    view.pending_list.value = None
    view._manual("drop")
    assert "choose a message" in view.message


# ------------------------------------------------------------------------------ presets and story
def test_a_preset_loads_into_the_cluster_rewinds_and_tells_its_story():
    cluster = Raft(nodes=3, seed=9)
    view = cluster.show()
    assert "figure8_d" in [name for _, name in view.preset_menu.options]
    view.load_preset("figure8_d", "figure8")
    assert cluster.sim is view.sim and len(cluster.ids) == 5 and cluster.sim.bugs == ("figure8",)
    assert view.sim.steps == 0 and view.sim.has_future
    assert "Figure 8 of Ongaro" in view.story.value
    lines = sum(1 for e in cluster.sim.log if e.name == "narrate" and e.at_step > 0)
    view.speed = 400                             # fast, and still no line of the story is skipped
    view.play()
    pauses = []
    while view.sim.has_future:                   # Play follows the recorded run to its end
        if not view.advance():
            pauses.append((view.sim.steps, view.message))
            view.play()
    view.pause()
    stories = [step for step, m in pauses if "story" in m]
    assert stories == [e.at_step for e in cluster.sim.log if e.name == "narrate" and e.at_step > 0]
    assert len(stories) == lines >= 6
    assert any("broken" in m for _, m in pauses), pauses    # and it paused at the broken invariant
    assert cluster.violations
    # the same preset replayed through the API ends in the same run
    reference = replay(cluster.to_script()).door
    assert reference.trace.to_jsonl() == cluster.trace.to_jsonl()


def test_saving_a_run_with_manual_choices_and_narration_replays_it(tmp_path):
    view = busy().show()
    view.sim.narrate("Watch n3.")
    for _ in range(10):
        view.step()
    view.crash("n3")
    message = next(p for p in view.sim.pending() if p.kind == "message")
    view.duplicate(message.name)
    view.sim.run(until=view.sim.now + 100)
    path = view.save_script(tmp_path / "run.txt")
    text = path.read_text()
    assert "# Watch n3." in text and "crash n3" in text and f"duplicate {message.name}" in text
    again = replay(text).door
    assert again.trace.to_jsonl() == view.sim.trace.to_jsonl()
    assert again.sim.narration() == "Watch n3."
    view._guard(view.save_script, tmp_path / "missing" / "run.txt")
    assert "does not exist" in view.message


def test_presets_and_loading_errors_are_messages_in_the_view():
    view = Raft(nodes=3).show()
    view._guard(view.load_preset, None)
    assert "choose a preset" in view.message
    view._guard(view.load_preset, "figure9")
    assert "unknown preset 'figure9'" in view.message and "figure8_d" in view.message
    bare = Raft(nodes=3).sim
    from fttoolkit.viz.view import ClusterView
    plain = ClusterView(bare)
    plain._guard(plain.load_preset, "figure8_d")
    assert "no presets" in plain.message
    plain._guard(plain.save_script)
    assert "only a front door's run" in plain.message
    with pytest.raises(Exception, match="script for 'raft'"):
        Broadcast(nodes=3).load(Raft.presets()["figure8_d"])


# ------------------------------------------------------------------------------ linked table
def test_the_raft_log_table_marks_committed_entries_crashes_and_disagreement():
    cluster = replay(Raft.presets()["figure8_d"]).door
    view = cluster.show()
    table = adapter_for(cluster.sim.node_class).table(cluster.sim)
    for node_id in cluster.ids:
        node = cluster.sim.nodes[node_id]
        for k, entry in enumerate(node.log, start=1):
            cell = table.cell(node_id, str(k))
            assert cell.text == str(entry.term)
            if cluster.sim.up[node_id]:
                assert (cell.mark == "good") == (k <= node.commit_index)
            else:
                assert cell.mark == "faded"
    # somewhere in the story two logs disagree at an index: orange until it is overwritten
    odd_seen = False
    for step in range(0, cluster.sim.total_steps, 7):
        view.go_to(step)
        table = adapter_for(cluster.sim.node_class).table(cluster.sim)
        marks = [c.mark for row in table.rows for c in row if isinstance(c, Cell)]
        if "odd" in marks:
            odd_seen = True
            logs = [cluster.sim.nodes[i].log for i in cluster.ids]
            assert any(a[k] != b[k] for a in logs for b in logs for k in range(min(len(a), len(b))))
    assert odd_seen


def test_the_table_follows_the_cursor():
    view = busy().show()
    for _ in range(45):
        view.step()
    view.go_to(22)
    _, reference = stepped(22)
    assert view.table.value == reference.table.value and "Delivered messages" in view.table.value


# ------------------------------------------------------------------------------ keys, lecture
def test_keys_over_the_picture_step_back_and_play():
    view = busy().show()
    assert view.key("ArrowRight") == "step" and view.sim.steps == 1
    view.key("n")
    view.key("ArrowLeft")
    assert view.sim.steps == 1
    view.key(" ")
    assert view.play_button.value
    view.key("p")
    assert not view.play_button.value
    view.key("Home")
    assert view.sim.steps == 0
    view.key("End")
    assert view.sim.steps == 2
    assert view.key("q") is None and view.sim.steps == 2


def test_lecture_mode_switches_the_picture_and_the_pace():
    view = busy().show()
    small = view.image.value
    view.lecture_button.value = True
    assert view.lecture and "ftt-lecture-mode" in view.widget._dom_classes
    assert view.image.value != small
    low, high = view.sim.network.defaults.delay
    assert view.speed == round((low + high) / 2)    # about a second per message
    view.set_lecture(False)
    assert not view.lecture_button.value and "ftt-lecture-mode" not in view.widget._dom_classes
    assert view.image.value == small


def test_export_buttons_write_files_named_after_the_run_and_leave_the_view_where_it_was(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    view = busy().show()
    for _ in range(30):
        view.step()
    view.go_to(12)
    before = (view.sim.steps, view.image.value, view.sim.has_future)
    for kind in ("HTML", "GIF", "PNG"):
        button = next(b for b in view.controls.children[3].children if getattr(b, "description", "") == kind)
        button.click()
        path = tmp_path / f"broadcast_seed3.{kind.lower()}"
        assert view.message == f"wrote {path.name}" and path.stat().st_size > 1000
        assert (view.sim.steps, view.image.value, view.sim.has_future) == before
    assert (tmp_path / "broadcast_seed3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    view._guard(view.export, "svg")
    assert "unknown export 'svg'" in view.message


def test_loading_a_preset_brings_the_network_boxes_up_to_date_without_new_inputs():
    view = Broadcast(nodes=3, loss=0.3).show()
    assert view.loss_box.value == 0.3
    cluster = Raft(nodes=3)
    view = cluster.show()
    view.loss_box.value = 0.25
    view.load_preset("figure8_d")
    assert view.loss_box.value == 0.0 and view.delay_box.value == "10"
    assert view.sim.has_future and view.sim.steps == 0     # no input was made: the recording is intact
    view.delay_box.value = " 10 "                           # the same delay typed again: still no input
    assert view.sim.has_future
    view.delay_box.value = "5-20"                           # a real change forks the run here
    assert not view.sim.has_future and view.sim.network.defaults.delay == (5, 20)
