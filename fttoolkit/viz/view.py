"""The cluster view: an animated picture of a simulation, with controls, in a notebook.

``cluster.show()`` on any front door returns a :class:`ClusterView`.  The
picture is a fixed-size PNG drawn by :class:`~fttoolkit.viz.render.ClusterPicture`
(the graph above, the space-time diagram below); the controls drive the same
simulation the notebook holds, so everything done with the buttons is in its
trace and its input log, and replays exactly.

Controls
--------
* **Step** makes the next event happen; **Back** goes one step back; **Play**
  runs simulated time at the chosen speed (ticks per second) and pauses by
  itself at a broken invariant, at a new line of a preset's story, or when
  nothing is left to happen; **Reset** starts the same experiment over with
  the seed in the box.
* **Time travel**: the step slider scrubs through the recorded run.  In the
  past, Step and Play replay what was recorded; any new choice (a crash, a
  manual delivery...) continues from there instead, and **Fork here** makes
  that cut explicit.
* **Crash** / **Restart** the node chosen in the node menu; **Partition**
  with groups typed as ``n1 n2 | n3 n4``; **Heal**.
* **Loss** (a probability) and **Delay** (ticks, ``10`` or ``5-20``) change
  every link.
* **Manual** opens the adversary's panel: every message in flight, armed
  timer and queued intention, to deliver, drop, duplicate, fire, execute,
  or crash a node between two of its intentions.
* **Presets** load an algorithm's scenario scripts (optionally with a named
  bug); the story line of the current step shows above the picture.  **Save
  script** writes any run as a script; **HTML**, **GIF** and **PNG** export it.
* **Lecture** switches to large type, large nodes and high contrast; with the
  mouse over the picture, the keys → (step), ← (back), space (play/pause),
  Home and End drive the view.
* Below the picture: the algorithm's own table (Raft's logs...), the event
  log filtered by kind, and the full state of the chosen node, all at the
  current step.

A mistake in any control (an unknown node, restarting a running node, a
speed of zero) shows as a message above the picture, never as a traceback.
"""

import html
import time

import ipywidgets as widgets

from ..core.errors import BadParameter, FtError
from .adapters import Cell, adapter_for
from .render import ClusterPicture

__all__ = ["ClusterView", "parse_groups", "parse_delay", "table_html", "KEYS"]

#: Event-log filters: label -> the trace event kinds it shows.
LOG_FILTERS = {
    "messages": ("sent", "delivered"),
    "losses & copies": ("dropped", "duplicated", "held", "released"),
    "timers": ("timer_set", "timer_fired", "timer_cancelled"),
    "storage": ("stored",),
    "notes & roles": ("note", "role", "request", "reply"),
    "faults": ("start", "crashed", "restarted", "partitioned", "healed", "clogged", "unclogged", "network",
               "link", "clock"),
    "invariants": ("violation",),
}
_DEFAULT_FILTERS = ("messages", "losses & copies", "notes & roles", "faults", "invariants")
_FPS = 25


def parse_groups(text, ids):
    """Read partition groups typed as ``"n1 n2 | n3"`` (commas allowed); check every id.

    Examples
    --------
    >>> parse_groups("n1, n2 | n3", ["n1", "n2", "n3"])
    [['n1', 'n2'], ['n3']]
    >>> parse_groups("n1 | n9", ["n1", "n2"])
    Traceback (most recent call last):
    fttoolkit.core.errors.BadParameter: unknown node 'n9' in the partition; the cluster has: n1, n2
    """
    groups = [part.replace(",", " ").split() for part in str(text).split("|")]
    groups = [g for g in groups if g]
    if not groups:
        raise BadParameter("type the groups to separate, for example: n1 n2 | n3 n4")
    for group in groups:
        for node_id in group:
            if node_id not in ids:
                raise BadParameter(f"unknown node {node_id!r} in the partition; the cluster has: {', '.join(ids)}")
    return groups


def parse_delay(text):
    """Read a delay typed as ``"10"`` or ``"5-20"`` (ticks); the simulator checks the numbers.

    Examples
    --------
    >>> parse_delay("10"), parse_delay(" 5 - 20 ")
    (10, (5, 20))
    >>> parse_delay("soon")
    Traceback (most recent call last):
    fttoolkit.core.errors.BadParameter: a delay is a whole number of ticks (10) or a range (5-20); got 'soon'
    """
    parts = [p.strip() for p in str(text).strip().split("-")]
    try:
        if len(parts) == 1:
            return int(parts[0])
        if len(parts) == 2 and parts[0]:
            return (int(parts[0]), int(parts[1]))
    except ValueError:
        pass
    raise BadParameter(f"a delay is a whole number of ticks (10) or a range (5-20); got {text!r}")


#: Keys understood while the mouse is over the picture -> view method name.
KEYS = {"ArrowRight": "step", "n": "step", "ArrowLeft": "back", "b": "back", " ": "toggle", "p": "toggle",
        "Home": "first", "End": "last"}

#: Manual-panel button -> the kind of pending item it applies to.
_MANUAL_KIND = {"deliver": "message", "drop": "message", "duplicate": "message", "fire": "timer",
                "execute": "intention", "crash_here": "intention"}

_MARKS = {   # table cell marks -> inline CSS
    "good": "background:#CDEBDD;font-weight:600",
    "odd": "background:#FBDDB8;font-weight:600",
    "faded": "color:#9A9A9A",
    "": "",
}


class ClusterView:
    """An interactive view of a simulation (a front door or a bare ``Simulation``).

    Parameters
    ----------
    cluster : front door or fttoolkit.sim.Simulation
    width, graph_height, diagram_height : int
        Pixel size of the picture (``diagram_height=0`` hides the space-time diagram).
    speed : float
        Simulated ticks per second while playing.
    scale : int
        2 draws at twice the pixel density (sharp on high-density screens).
    adapter : ViewAdapter, optional
        How the nodes look (default: the one registered for the protocol).
    lecture : bool
        Start in lecture mode (large type, high contrast).

    Examples
    --------
    >>> from fttoolkit import Broadcast
    >>> cluster = Broadcast(nodes=3, seed=1)
    >>> cluster.broadcast("n1", "hi")
    >>> view = cluster.show()
    >>> _ = view.step(); _ = view.step()
    >>> view.crash("n2"); view.restart("n9")
    >>> view.message
    "unknown node 'n9'; the cluster has: n1, n2, n3"
    >>> view.go_to(1); cluster.steps, view.slider.value, view.slider.max
    (1, 1, 2)
    """

    def __init__(self, cluster, width=900, graph_height=520, diagram_height=260, speed=50, scale=1, adapter=None,
                 lecture=False):
        self.cluster = cluster
        self.sim = getattr(cluster, "sim", cluster)
        self._adapter_given = adapter
        self.adapter = adapter or adapter_for(self.sim.node_class)
        self._size = dict(width=width, graph_height=graph_height, diagram_height=diagram_height, scale=scale)
        self.lecture = bool(lecture)
        self.picture = self._make_picture()
        self._speed = self._check_speed(speed)
        self._play_clock = None
        self._last_tick = None     # wall time of the last Play tick, and the learnt round-trip overhead
        self._overhead = None
        self._frame_due = False
        self._frames_played = 0
        self._syncing = False      # True while refresh() moves the slider itself
        self._scrub_to = None      # a slider position waiting to be drawn
        self._scrub_pending = False
        self._last_scrub = 0.0
        self._story = None
        self._pending_kinds = {}   # name -> kind of the items the manual panel lists
        self.message = ""
        self._build()
        self._hook_cells()
        self.refresh()

    def _make_picture(self):
        options = dict(self._size)
        if self.lecture:
            options["theme"] = "lecture"
        return ClusterPicture(self.sim, self.adapter, **options)

    # ---- the widgets ---------------------------------------------------------------------
    def _build(self):
        css_w, css_h = self.picture.width, self.picture.height
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{css_w}px", height=f"{css_h}px", min_width=f"{css_w}px", max_width="none",
            object_fit="contain"))
        self.image.add_class("ftt-picture")
        self.status = widgets.HTML()
        self.status.add_class("ftt-status")
        self.story = widgets.HTML()
        self.story.add_class("ftt-story")
        self.notice = widgets.HTML()
        self.notice.add_class("ftt-message")
        self.style = widgets.HTML(_CSS)

        def button(label, tip, handler, cls, icon=None):
            b = widgets.Button(description=label, tooltip=tip, icon=icon or "",
                               layout=widgets.Layout(width="auto", flex="0 0 auto"))
            b.on_click(lambda _: self._guard(handler))
            b.add_class(cls)
            return b

        def box(cls, widget):
            widget.add_class(cls)
            return widget

        small = {"description_width": "initial"}
        # -- row 1: time
        self.back_button = button("Back", "go one step back in time", self.back, "ftt-back", "step-backward")
        self.step_button = button("Step", "make the next event happen (in the past: replay the recorded one)",
                                  self.step, "ftt-step", "step-forward")
        self.play_button = widgets.ToggleButton(description="Play", icon="play", tooltip="play / pause",
                                                layout=widgets.Layout(width="auto"))
        self.play_button.add_class("ftt-play")
        self.play_button.observe(lambda ch: self._guard(self._toggle_play, ch["new"]), "value")
        self.speed_box = box("ftt-speed", widgets.FloatText(value=self._speed, description="ticks/s",
                                                            layout=widgets.Layout(width="140px"), style=small))
        self.speed_box.observe(lambda ch: self._guard(self._set_speed, ch["new"]), "value")
        self.seed_box = box("ftt-seed", widgets.IntText(value=self.sim.seed, description="seed",
                                                        layout=widgets.Layout(width="120px"), style=small))
        reset = button("Reset", "start over with this seed", lambda: self.reset(self.seed_box.value),
                       "ftt-reset", "undo")
        self._timer = widgets.Play(interval=1000 // _FPS, min=0, max=10**9, step=1, show_repeat=False,
                                   layout=widgets.Layout(display="none"))
        self._timer.observe(lambda ch: self._guard(self._on_timer), "value")
        self.slider = box("ftt-slider", widgets.IntSlider(
            value=0, min=0, max=0, description="step", continuous_update=True, style=small,
            layout=widgets.Layout(width=f"{max(300, css_w - 330)}px")))
        self.slider.observe(lambda ch: self._guard(self._on_slider, ch["new"]), "value")
        self.fork_button = button("Fork here", "forget the recorded future and go on from this step with "
                                  "other choices", self.fork_here, "ftt-fork", "code-fork")
        self.future = box("ftt-future", widgets.HTML())
        # -- row 2: faults
        self.node_menu = box("ftt-node", widgets.Dropdown(options=list(self.sim.ids), description="node",
                                                          layout=widgets.Layout(width="140px"), style=small))
        self.node_menu.observe(lambda ch: self._guard(self._show_details), "value")
        crash = button("Crash", "crash the chosen node", lambda: self.crash(self.node_menu.value), "ftt-crash", "bolt")
        restart = button("Restart", "restart the chosen node from its stable storage",
                         lambda: self.restart(self.node_menu.value), "ftt-restart", "power-off")
        self.groups_box = box("ftt-groups", widgets.Text(placeholder="n1 n2 | n3",
                                                         layout=widgets.Layout(width="130px")))
        part = button("Partition", "cut the network between the groups typed on the left",
                      lambda: self.partition(self.groups_box.value), "ftt-partition", "cut")
        heal = button("Heal", "remove every partition", self.heal, "ftt-heal", "link")
        defaults = self.sim.network.defaults
        self.loss_box = box("ftt-loss", widgets.BoundedFloatText(value=defaults.loss, min=0, max=1, step=0.05,
                                                                 description="loss", style=small,
                                                                 layout=widgets.Layout(width="120px")))
        self.loss_box.observe(lambda ch: self._guard(self.set_loss, ch["new"]), "value")
        low, high = defaults.delay
        self.delay_box = box("ftt-delay", widgets.Text(value=f"{low}-{high}" if low != high else f"{low}",
                                                       description="delay", continuous_update=False, style=small,
                                                       layout=widgets.Layout(width="130px")))
        self.delay_box.observe(lambda ch: self._guard(self.set_delay, ch["new"]), "value")
        # -- row 3: presets, saving, modes
        presets = self._presets()
        self.preset_menu = box("ftt-preset", widgets.Dropdown(
            options=[("(choose a preset)", None)] + [(name, name) for name in presets], description="preset",
            layout=widgets.Layout(width="200px"), style=small, disabled=not presets))
        bugs = sorted(getattr(self.sim.node_class, "bugs", {}) or {})
        self.bug_menu = box("ftt-bug", widgets.Dropdown(options=[("no bug", "")] + [(b, b) for b in bugs],
                                                        layout=widgets.Layout(width="130px"),
                                                        disabled=not (presets and bugs)))
        load = button("Load", "load the preset (with the chosen bug) and rewind to its start",
                      lambda: self.load_preset(self.preset_menu.value, self.bug_menu.value or None),
                      "ftt-load", "folder-open")
        save = button("Save script", "write this run as a scenario script", self._save_script_button,
                      "ftt-save", "save")
        exports = [button(kind, f"export the run as {what}", lambda k=kind: self._export_button(k),
                          f"ftt-export-{kind.lower()}", "download")
                   for kind, what in (("HTML", "a self-contained HTML replay"), ("GIF", "an animated GIF"),
                                      ("PNG", "a PNG of this frame"))]
        self.lecture_button = box("ftt-lecture", widgets.ToggleButton(
            value=self.lecture, description="Lecture", icon="television",
            tooltip="large type, large nodes, high contrast (for a projector)", layout=widgets.Layout(width="auto")))
        self.lecture_button.observe(lambda ch: self._guard(self.set_lecture, ch["new"]), "value")
        self.manual_button = box("ftt-manual", widgets.ToggleButton(
            value=False, description="Manual", icon="hand-paper-o",
            tooltip="play the adversary: choose what happens next", layout=widgets.Layout(width="auto")))
        self.manual_button.observe(lambda ch: self._guard(self._show_manual, ch["new"]), "value")
        self.story_pause = box("ftt-story-pause", widgets.Checkbox(
            value=True, description="stop at story lines", indent=False, layout=widgets.Layout(width="auto")))
        # -- the manual panel
        self.pending_list = box("ftt-pending", widgets.Select(options=[], rows=8, layout=widgets.Layout(
            width=f"{css_w - 20}px")))
        self.pending_list.observe(lambda ch: self._guard(self._on_pick), "value")
        self.manual_buttons = {
            "deliver": button("Deliver", "deliver the chosen message now", lambda: self._manual("deliver"),
                              "ftt-deliver", "envelope-open"),
            "drop": button("Drop", "lose the chosen message", lambda: self._manual("drop"), "ftt-drop", "trash"),
            "duplicate": button("Duplicate", "put a second copy of the chosen message in flight",
                                lambda: self._manual("duplicate"), "ftt-duplicate", "copy"),
            "fire": button("Fire", "fire the chosen timer", lambda: self._manual("fire"), "ftt-fire", "clock-o"),
            "execute": button("Execute", "carry out the node's next intention", lambda: self._manual("execute"),
                              "ftt-execute", "play-circle"),
            "crash_here": button("Crash here", "crash the node now, before this intention: the rest is lost",
                                 lambda: self._manual("crash_here"), "ftt-crash-here", "bolt"),
        }
        self.hold_box = box("ftt-hold", widgets.Checkbox(
            value=False, indent=False, layout=widgets.Layout(width="auto"),
            description="stop after each handler (its intentions become crash points)"))
        self.early_box = box("ftt-early", widgets.Checkbox(
            value=False, indent=False, layout=widgets.Layout(width="auto"),
            description="fire timers now, before they are due"))
        self.manual_panel = widgets.VBox([
            widgets.HTML("<b>Manual mode</b>: what could happen next. Choose one and make it happen; "
                         "automatic Step and Play go on from there."),
            self.pending_list,
            widgets.HBox(list(self.manual_buttons.values())),
            widgets.HBox([self.hold_box, self.early_box]),
        ], layout=widgets.Layout(display="none", border="1px solid #DDDDDD", padding="4px", margin="4px 0"))
        self.manual_panel.add_class("ftt-manual-panel")

        self.filters = {}
        for name in LOG_FILTERS:
            check = widgets.Checkbox(value=name in _DEFAULT_FILTERS, description=name, indent=False,
                                     layout=widgets.Layout(width="auto", margin="0 10px 0 0"))
            check.observe(lambda ch: self._guard(self._show_log), "value")
            self.filters[name] = check
        self.table = box("ftt-table", widgets.HTML(layout=widgets.Layout(width=f"{css_w}px")))
        self.log = box("ftt-log", widgets.HTML(layout=widgets.Layout(width=f"{css_w * 56 // 100}px",
                                                                     overflow="hidden")))
        self.details = box("ftt-details", widgets.HTML(layout=widgets.Layout(width=f"{css_w * 42 // 100}px",
                                                                             overflow="hidden")))

        row = widgets.HBox
        gap = widgets.Layout(width="14px")
        self.controls = widgets.VBox([
            row([self.back_button, self.step_button, self.play_button, self.speed_box, widgets.Box(layout=gap),
                 self.seed_box, reset, widgets.Box(layout=gap), self.loss_box, self.delay_box, self._timer]),
            row([self.slider, self.fork_button, self.future]),
            row([self.node_menu, crash, restart, widgets.Box(layout=gap), self.groups_box, part, heal,
                 widgets.Box(layout=gap), self.manual_button, self.lecture_button]),
            row([self.preset_menu, self.bug_menu, load, self.story_pause, widgets.Box(layout=gap), save, *exports],
                layout=widgets.Layout(flex_flow="row wrap")),
        ])
        self.widget = widgets.VBox([
            self.style, self.status, self.story, self.notice, self.image, self.controls, self.manual_panel,
            self.table,
            row(list(self.filters.values()), layout=widgets.Layout(flex_flow="row wrap")),
            row([self.log, self.details], layout=widgets.Layout(justify_content="space-between")),
        ], layout=widgets.Layout(width=f"{css_w + 4}px"))
        self.widget.add_class("ftt-view")
        if self.lecture:
            self.widget.add_class("ftt-lecture-mode")
        self.keys = self._keyboard()

    def _keyboard(self):
        """Keys over the picture (ipyevents); ``None`` where that package is missing."""
        try:
            from ipyevents import Event
        except ImportError:         # pragma: no cover - in requirements.txt
            return None
        keys = Event(source=self.image, watched_events=["keydown"], prevent_default_action=True)
        keys.on_dom_event(lambda event: self._guard(self.key, event.get("key")))
        self.image.layout.border = "1px solid transparent"
        return keys

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _presets(self):
        finder = getattr(type(self.cluster), "presets", None)
        return finder() if finder is not None and self.cluster is not self.sim else {}

    # ---- messages to the user ---------------------------------------------------------
    def _guard(self, action, *args):
        """Run a control's action; show what went wrong inside the widget instead of raising."""
        try:
            result = action(*args)
        except FtError as error:
            self._say(str(error), error=True)
            return None
        except Exception as error:     # a bug of ours or of the protocol: still no traceback in the view
            self._say(f"{type(error).__name__}: {error}", error=True)
            return None
        return result

    def _say(self, text, error=False):
        self.message = text
        if not text:
            self.notice.value = ""
            self.notice.remove_class("ftt-error")
            return
        colour = "#D55E00" if error else "#0B4F8A"
        mark = "\u26a0 " if error else ""
        self.notice.value = (f'<div style="color:{colour};font-weight:600;padding:2px 0">'
                             f'{mark}{html.escape(text)}</div>')
        if error:
            self.notice.add_class("ftt-error")
        else:
            self.notice.remove_class("ftt-error")

    def _check_speed(self, speed):
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= 100_000:
            raise BadParameter(f"speed must be more than 0 and at most 100000 ticks per second; got {speed!r}")
        return float(speed)

    # ---- actions (each also callable from code) --------------------------------------
    def _act(self, action, *args):
        """Do one action on the simulation and redraw; errors show in the view.

        An action taken in the past (after a rewind) forks the run there; the
        message says so.
        """
        self._say("")
        sim = self.sim
        at, future = sim.steps, sim.total_steps - sim.steps if sim.has_future else 0
        result = self._guard(action, *args)
        self.refresh(keep_message=True)
        if future and not sim.has_future and not self.message:
            self._say(f"forked at step {at}: the recorded future ({future} steps) was replaced by this choice")
        return result

    def step(self):
        """Make the next event happen and show it; returns its trace events.

        In the past (after going back), the next *recorded* step is replayed instead.
        """
        self.pause()
        if self.sim.has_future:
            return self.go_to(self.sim.steps + 1)
        events = self._act(self.sim.step)
        if events == []:
            self._say("nothing left to happen: no message in flight, no timer armed")
        return events

    def back(self):
        """Go one step back in time (the recorded future is kept)."""
        self.pause()
        if self.sim.steps == 0:
            self._say("this is the start of the run: there is no step before it")
            return None
        return self.go_to(self.sim.steps - 1)

    def go_to(self, step):
        """Move the cursor to just after step ``step`` of the recorded run (see ``Simulation.rewind``)."""
        self._say("")
        self._guard(self.sim.rewind, step)
        self.refresh(keep_message=True)
        return None

    def first(self):
        """Go to the start of the run."""
        self.pause()
        self.go_to(0)

    def last(self):
        """Go to the end of the recorded run (the present)."""
        self.pause()
        self.go_to(self.sim.total_steps)

    def fork_here(self):
        """Forget the recorded future: from this step on, the run is a new branch."""
        self.pause()
        sim = self.sim
        lost = sim.discard_future()
        self.refresh()
        if lost:
            self._say(f"forked at step {sim.steps}: the recorded future ({lost} steps) is gone; make a "
                      "different choice (a crash, a partition, a manual delivery...) and go on")
        else:
            self._say("this is already the present: every choice made now starts a new branch of the run")

    def _on_slider(self, value):
        if self._syncing or value == self.sim.steps:
            return
        self.pause()
        # A drag sends many positions: draw at most one every 60 ms, and always the last one.
        self._scrub_to = value
        now = time.perf_counter()
        loop = _running_loop()
        if loop is None or now - self._last_scrub > 0.06:
            self._scrub()
        elif not self._scrub_pending:
            self._scrub_pending = True
            loop.call_later(0.06, self._scrub)

    def _scrub(self):
        self._scrub_pending = False
        target, self._scrub_to = self._scrub_to, None
        if target is None or target == self.sim.steps:
            return
        self._last_scrub = time.perf_counter()
        self._guard(self.go_to, target)

    def play(self):
        """Start playing (the Play button)."""
        self.play_button.value = True

    def pause(self):
        """Pause playing."""
        self.play_button.value = False

    def toggle(self):
        """Play if paused, pause if playing."""
        self.play_button.value = not self.play_button.value

    def key(self, key):
        """Act on a key pressed over the picture (see :data:`KEYS`); unknown keys do nothing."""
        name = KEYS.get(key)
        if name is not None:
            getattr(self, name)()
        return name

    def reset(self, seed=None):
        """Start the same experiment over (same set-up inputs) with ``seed``."""
        self.pause()
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            self._say(f"the seed must be a whole number >= 0; got {seed!r}", error=True)
            return
        reset = getattr(self.cluster, "reset", self.sim.reset)
        self._act(reset, seed)
        self.seed_box.value = self.sim.seed
        if not self.message:
            self._say(f"started over with seed {self.sim.seed}")

    def crash(self, node_id):
        """Crash ``node_id`` now."""
        self._act(self.sim.crash, node_id)

    def restart(self, node_id):
        """Restart the crashed ``node_id`` from its stable storage."""
        self._act(self.sim.restart, node_id)

    def partition(self, groups):
        """Partition the network: groups as a list of lists, or typed as ``"n1 n2 | n3"``."""
        if isinstance(groups, str):
            parsed = self._guard(parse_groups, groups, list(self.sim.ids))
            if parsed is None:
                return
            groups = parsed
        self._act(self.sim.partition, *groups)

    def heal(self):
        """Remove every partition."""
        self._act(self.sim.heal)

    def set_loss(self, loss):
        """Set the loss probability of every link."""
        if loss == self.sim.network.defaults.loss:
            return                          # unchanged (the box was only brought up to date)
        self._act(lambda: self.sim.set_network(loss=loss))

    def set_delay(self, delay):
        """Set the delay of every link: ticks, a ``(low, high)`` range, or text like ``"5-20"``."""
        if isinstance(delay, str):
            parsed = self._guard(parse_delay, delay)
            if parsed is None:
                return
            delay = parsed
        if delay == self.sim.network.defaults.delay or (delay,) * 2 == self.sim.network.defaults.delay:
            return                          # unchanged (the box was only brought up to date)
        self._act(lambda: self.sim.set_network(delay=delay))

    # ---- manual mode ------------------------------------------------------------------
    def deliver(self, item, settle=None):
        """Deliver a message in flight now (``settle``: carry out the handler's intentions at once;
        default: unless "stop after each handler" is ticked)."""
        settle = not self.hold_box.value if settle is None else settle
        return self._act(self.sim.deliver, item, settle)

    def drop(self, item):
        """Lose a message in flight."""
        return self._act(self.sim.drop, item)

    def duplicate(self, item):
        """Put a second copy of a message in flight."""
        return self._act(self.sim.duplicate, item)

    def fire(self, item, settle=None, early=None):
        """Fire an armed timer (at its due tick, or now with ``early``)."""
        settle = not self.hold_box.value if settle is None else settle
        early = self.early_box.value if early is None else early
        return self._act(self.sim.fire, item, settle, early)

    def execute(self, node_id):
        """Carry out ``node_id``'s next queued intention."""
        return self._act(self.sim.execute, node_id)

    def _manual(self, what):
        name = self.pending_list.value
        if name is None:
            self._say("choose a message, timer or intention in the list first", error=True)
            return
        item = self._guard(self.sim.find, name)
        if item is None:
            self.refresh(keep_message=True)
            return
        wanted = _MANUAL_KIND[what]
        if item.kind != wanted:
            self._say(f"{what.replace('_', ' ')} applies to {_a(wanted)}; {name} is {_a(item.kind)}", error=True)
            return
        if what == "execute":
            self.execute(item.node)
        elif what == "crash_here":
            self.crash(item.node)
        else:
            getattr(self, what)(name)

    def _show_manual(self, on):
        self.manual_panel.layout.display = "" if on else "none"
        if on:
            self._show_pending()

    def _on_pick(self):
        kind = self._pending_kinds.get(self.pending_list.value)
        for name, b in self.manual_buttons.items():
            b.disabled = kind is not None and _MANUAL_KIND[name] != kind

    def _show_pending(self, limit=300):
        items = self.sim.pending()[:limit]
        self._pending_kinds = {item.name: item.kind for item in items}
        options = [(_pending_label(item, self.sim), item.name) for item in items]
        old = self.pending_list.value
        if options != list(self.pending_list.options):
            self.pending_list.options = options
        names = [name for _, name in options]
        self.pending_list.value = old if old in names else (names[0] if names else None)
        self._on_pick()

    # ---- presets, scripts, export, lecture ----------------------------------------------
    def load_preset(self, name, bug=None):
        """Load the algorithm's preset ``name`` (with the named ``bug`` switched on) and rewind to its start.

        The cluster this view shows (the notebook's object) becomes the preset's.
        """
        self.pause()
        if name is None:
            raise BadParameter("choose a preset in the menu first")
        if not self._presets():
            raise BadParameter("this view's cluster has no presets (presets belong to front doors such as Raft)")
        self.cluster.load_preset(name, [bug] if bug else [])
        self.preset_menu.value = name
        self.bug_menu.value = bug or ""
        self._rebind()
        self.sim.rewind(0)
        self._set_speed(self._readable_speed())
        self.refresh()
        bugs = f" with the bug {bug!r}" if bug else ""
        self._say(f"loaded {name}{bugs}: press Play (it pauses at each line of the story), Step, or drag "
                  f"the slider ({self.sim.total_steps} steps recorded)")

    def _rebind(self):
        """The cluster's simulation was replaced (a preset): draw the new one."""
        self.sim = getattr(self.cluster, "sim", self.cluster)
        self.adapter = self._adapter_given or adapter_for(self.sim.node_class)
        self.picture = self._make_picture()
        self.seed_box.value = self.sim.seed
        defaults = self.sim.network.defaults
        self.loss_box.value = defaults.loss
        low, high = defaults.delay
        self.delay_box.value = f"{low}-{high}" if low != high else f"{low}"
        self._story = None

    def set_lecture(self, on=True):
        """Lecture mode: large type, large nodes, high contrast, and a pace of about a second per message."""
        on = bool(on)
        if self.lecture_button.value != on:
            self.lecture_button.value = on          # its observer calls back here
            return
        if on == self.lecture:
            return
        self.lecture = on
        self.picture = self._make_picture()
        if on:
            self.widget.add_class("ftt-lecture-mode")
        else:
            self.widget.remove_class("ftt-lecture-mode")
        self._set_speed(self._readable_speed())
        self.refresh()

    def _readable_speed(self):
        """Ticks per second at which a message of average delay takes ~1 s (lecture) or ~0.6 s to cross."""
        low, high = self.sim.network.defaults.delay
        per_message = (low + high) / 2
        return float(max(1, round(per_message * (1.0 if self.lecture else 1.6))))

    def script(self, description=()):
        """This run as a scenario script (text): the whole recorded timeline, narration included."""
        if self.cluster is self.sim:
            raise BadParameter("only a front door's run can be saved as a script (Raft(...).show(), "
                               "Broadcast(...).show()...): a bare Simulation has no algorithm name")
        return self.cluster.to_script(description)

    def save_script(self, path=None):
        """Write :meth:`script` to ``path`` (default: ``<algorithm>_seed<seed>.txt`` here); return the path."""
        import pathlib
        path = pathlib.Path(path or f"{self.sim.name}_seed{self.sim.seed}.txt")
        if not path.parent.is_dir():
            raise BadParameter(f"cannot save to {str(path)!r}: the folder {str(path.parent)!r} does not exist")
        path.write_text(self.script(), encoding="utf-8")
        return path

    def _save_script_button(self):
        path = self.save_script()
        self._say(f"saved the run as {path} (python -m fttoolkit replay {path} runs it again)")

    def export(self, kind, path=None, **options):
        """Export the run: ``"html"`` (a self-contained replay), ``"gif"`` or ``"png"`` (this frame)."""
        from . import export
        kind = str(kind).lower()
        makers = {"html": export.export_html, "gif": export.export_gif, "png": export.export_png}
        if kind not in makers:
            raise BadParameter(f"unknown export {kind!r}; choose html, gif or png")
        self.pause()
        path = path or f"{self.sim.name}_seed{self.sim.seed}.{kind}"
        try:
            written = makers[kind](self, path, **options)
        finally:
            self.refresh(keep_message=True)
        return written

    def _export_button(self, kind):
        self._say(f"exporting the run as {kind}... (a few seconds for a long run)")
        written = self.export(kind)
        if written is not None:
            self._say(f"wrote {written}")

    # ---- playing ----------------------------------------------------------------------
    @property
    def speed(self):
        """Simulated ticks per second while playing."""
        return self._speed

    @speed.setter
    def speed(self, value):
        self._set_speed(value)

    def _set_speed(self, value):
        try:
            self._speed = self._check_speed(value)
        except BadParameter as error:
            self._say(str(error), error=True)
            self.pause()
            return
        if self.speed_box.value != self._speed:
            self.speed_box.value = self._speed
        self._say("")

    def _toggle_play(self, playing):
        self.play_button.description = "Pause" if playing else "Play"
        self.play_button.icon = "pause" if playing else "play"
        if playing:
            self._play_clock = float(self.sim.now)
            self._last_tick = None
            self._violations_seen = len(self.picture.index.update(self.sim.trace).violations)
            self._story = self.sim.narration()
            self._timer.interval = max(1, int(1000 / _FPS - (self._overhead or 0)))
            self._timer.playing = True
        else:
            self._timer.playing = False
            self.refresh(keep_message=True)      # the panels catch up with the last frame

    def advance(self):
        """One frame of Play: move simulated time on by ``speed / 25`` ticks and redraw.

        In the past, the recorded run is replayed (up to its end, then the run
        goes on live).  Returns whether playing should go on.  (The Play button
        calls this 25 times a second; a notebook or a test may call it directly.)
        """
        sim = self.sim
        if self._play_clock is None or self._play_clock < sim.now:
            self._play_clock = float(sim.now)
        self._play_clock += self._speed / _FPS
        target = int(self._play_clock)
        at = None
        if sim.has_future:
            step = min(sim.steps_until(target), sim.total_steps)
            story_at = sim.next_narration_step() if self.story_pause.value else None
            if story_at is not None and story_at <= step:      # never run past a line of the story
                step = story_at
                target = self._play_clock = max(sim.step_tick(step), sim.now)
            if step > sim.steps or story_at == step:
                sim.rewind(step)
            at = target if sim.has_future else None
        elif target > sim.now:
            sim.run(until=target)
        index = self.picture.index.update(sim.trace)
        go_on = True
        story = sim.narration()
        if sim.halted is not None:
            self._say(f"stopped: {sim.halted}", error=True)
            go_on = False
        elif len(index.violations) > getattr(self, "_violations_seen", 0):
            v = index.violations[-1]
            self._say(f"paused: {v['name']} broken at step {v['step']} (t = {v['tick']})", error=True)
            self._violations_seen = len(index.violations)
            go_on = False
        elif story != self._story and story and self.story_pause.value:
            self._say("paused at a new line of the story: press Play to go on")
            go_on = False
            at = None
        elif not sim.has_future and sim.next_due() is None:
            self._say("paused: nothing left to happen")
            go_on = False
        self._story = story
        # While playing, the log and the detail panel follow every 5th frame (the browser's work per
        # frame is what limits the frame rate); the last frame updates everything.
        self._frames_played += 1
        self.refresh(keep_message=True, panels=not go_on or self._frames_played % 5 == 0, at=at)
        return go_on

    def _on_timer(self):
        if not self.play_button.value:
            return
        # Wall time only paces the frames; the run itself never sees it (each frame adds speed / 25
        # ticks, however late it comes).  The browser sends the next tick only after the kernel has
        # answered the last one, so (1) the frame is drawn just *after* this handler returns, letting
        # the kernel answer at once and the next tick travel while the frame is drawn, and (2) the
        # timer's interval is shortened by the learnt round trip, so that frames come every 40 ms.
        arrived = time.perf_counter()
        if self._last_tick is not None:
            gap = (arrived - self._last_tick) * 1000
            if gap < 1000:
                overhead = gap - self._timer.interval
                self._overhead = overhead if self._overhead is None else 0.7 * self._overhead + 0.3 * overhead
        self._last_tick = arrived
        if self._frame_due:
            return                        # the previous tick's frame is still waiting to be drawn
        loop = _running_loop()
        if loop is None:
            self._play_frame()
        else:
            self._frame_due = True
            loop.call_soon(self._play_frame)

    def _play_frame(self):
        self._frame_due = False
        if not self.play_button.value:
            return
        if not self._guard(self.advance):
            self.pause()
            return
        wanted = int(min(500, max(1, 1000 / _FPS - (self._overhead or 0))))
        if abs(wanted - self._timer.interval) >= 3:
            self._timer.interval = wanted

    # ---- drawing ----------------------------------------------------------------------
    def refresh(self, keep_message=False, panels=True, at=None):
        """Redraw the picture, the status, story and time line; with ``panels``, the table, log and details too.

        ``at``: draw that tick between the current step and the next (a replay's in-between frames).
        """
        if not keep_message:
            self._say("")
        sim = self.sim
        ids = list(sim.ids)
        if list(self.node_menu.options) != ids:
            self.node_menu.options = ids
        self.image.value = self.picture.render_png(at=at)
        self._seen = (len(sim.trace), sim.steps, sim.now)
        self._show_status()
        self._show_time()
        self._show_story()
        if panels:
            self._show_table()
            self._show_log()
            self._show_details()
            if self.manual_button.value:
                self._show_pending()

    def _show_status(self):
        sim = self.sim
        up = sum(1 for i in sim.ids if sim.up[i])
        flying = len(self.picture.last_scene.messages)
        name = getattr(self.cluster, "name", None) or sim.name
        bugs = f" · bugs: {', '.join(sim.bugs)}" if sim.bugs else ""
        now = self.picture.last_scene.now
        self.status.value = (f'<b>{html.escape(str(name))}</b> · seed {sim.seed} · step {sim.steps} · '
                             f't = {now} · {up}/{len(sim.ids)} nodes up · {flying} in flight'
                             f'{html.escape(bugs)}')

    def _show_time(self):
        sim = self.sim
        total = sim.total_steps
        self._syncing = True
        try:
            if self.slider.max != total:
                if total < self.slider.value:
                    self.slider.value = sim.steps
                self.slider.max = total
            if self.slider.value != sim.steps:
                self.slider.value = sim.steps
        finally:
            self._syncing = False
        ahead = total - sim.steps if sim.has_future else 0
        self.fork_button.disabled = not ahead
        self.future.value = (f'<span style="color:#0B4F8A">{ahead} recorded steps ahead</span>' if ahead
                             else '<span style="color:#777777">the present</span>')

    def _show_story(self):
        text = self.sim.narration()
        self.story.value = (f'<div class="ftt-story-line">{html.escape(text)}</div>' if text else "")

    def _show_table(self):
        table = self.adapter.table(self.sim)
        self.table.value = "" if table is None else table_html(table)

    def _show_log(self, limit=14):
        kinds = set()
        for name, check in self.filters.items():
            if check.value:
                kinds.update(LOG_FILTERS[name])
        lines = []
        events = self.sim.trace._events
        for event in reversed(events[-5000:]):     # the latest events only: a frame must stay cheap
            if event.kind in kinds:
                lines.append(event)
                if len(lines) == limit:
                    break
        rows = []
        for event in reversed(lines):
            colour = "#D55E00" if event.kind in ("violation", "dropped", "crashed") else "#222"
            rows.append(f'<span style="color:{colour}">#{event.seq} t={event.tick} {event.kind} '
                        f'{html.escape(event.describe())}</span>')
        body = "<br>".join(rows) or "<i>no events of the chosen kinds yet</i>"
        self.log.value = (f'<div class="ftt-log-lines" style="font-family:monospace;line-height:1.35;'
                          f'height:{limit * 17}px;width:100%;overflow:auto;white-space:nowrap">{body}</div>')

    def _show_details(self):
        node_id = self.node_menu.value
        sim = self.sim
        if node_id is None or node_id not in sim.nodes:
            self.details.value = ""
            return
        node = sim.nodes[node_id]
        rows = [("status", "running" if sim.up[node_id] else "CRASHED (state below is from before the crash)")]
        if sim.up[node_id]:
            role = self.adapter.role(node)
            if role is not None:
                rows.append(("role", role))
        shown = {key for key, _ in rows}
        for key, value in self.adapter.details(node).items():
            if key not in shown:
                rows.append((key, _short(value)))
        disk = sim.disks.get(node_id, [])
        rows.append(("stable storage", f"{len(disk)} records" + (":" if disk else "")))
        shown = 6                                  # the latest records, newest last
        for k, record in enumerate(disk[-shown:], start=max(0, len(disk) - shown) + 1):
            rows.append((f"  #{k}", _short(record, 90)))
        timers = [t for t in sim.pending() if t.kind == "timer" and t.node == node_id]
        rows.append(("timers", ", ".join(f"{t.timer!r} at t={t.due}" for t in timers) or "none"))
        table = "".join(f'<tr><td style="padding-right:8px;vertical-align:top"><b>{html.escape(str(k))}</b></td>'
                        f'<td>{html.escape(str(v))}</td></tr>' for k, v in rows)
        self.details.value = (f'<div class="ftt-details-box"><b>{html.escape(node_id)}</b> '
                              f'<table style="font-family:monospace">{table}</table></div>')

    def _hook_cells(self):
        """Redraw after any notebook cell that changed the simulation (when IPython is running)."""
        try:
            from IPython import get_ipython
        except ImportError:     # pragma: no cover - IPython comes with ipywidgets
            return
        shell = get_ipython()
        if shell is None:
            return
        import weakref
        ref = weakref.ref(self)

        def after_cell(result=None):
            view = ref()
            if view is None:
                shell.events.unregister("post_run_cell", after_cell)
                return
            sim = view.sim
            if view.sim is not getattr(view.cluster, "sim", view.cluster):
                view._rebind()             # the notebook loaded a script into the cluster
                view.refresh()
                return
            if view._seen != (len(sim.trace), sim.steps, sim.now):
                view.refresh()

        shell.events.register("post_run_cell", after_cell)

    def png(self):
        """The current picture as PNG bytes (to save, or to look at in a test)."""
        return self.picture.render_png()


def table_html(table):
    """An adapter's :class:`~fttoolkit.viz.adapters.Table` as HTML (marks as cell colours)."""
    def cell(value, tag="td"):
        text, mark, tip = ((value.text, value.mark, value.tip) if isinstance(value, Cell)
                           else (str(value), "", ""))
        title = f' title="{html.escape(tip)}"' if tip else ""
        return f'<{tag} style="{_MARKS.get(mark, "")}"{title}>{html.escape(text)}</{tag}>'

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + cell(r[0], "th") + "".join(cell(v) for v in r[1:]) + "</tr>" for r in table.rows)
    legend = f'<div class="ftt-table-legend">{html.escape(table.legend)}</div>' if table.legend else ""
    return (f'<div class="ftt-table-box"><b>{html.escape(table.title)}</b>'
            f'<table class="ftt-table-grid"><tr>{head}</tr>{body}</table>{legend}</div>')


def _a(kind):
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _pending_label(item, sim):
    """One line of the manual panel's list."""
    if item.kind == "message":
        held = " [held: link clogged]" if sim.is_held(item) else ""
        return f"{item.name:>5}  {item.src}\u2192{item.dst}  {item.msg!r}  due t={item.due}{held}"
    if item.kind == "timer":
        return f"{item.name:>5}  {item.node}  {item.timer!r}  due t={item.due}"
    more = f" (+{item.remaining - 1} more queued)" if item.remaining > 1 else ""
    return f"{item.name:>5}  {item.node} next: {item.intention!r}{more}  \u2190 crash point"


_CSS = """<style>
.ftt-view .ftt-story-line {background:#FFF8E1;border-left:4px solid #E69F00;padding:4px 8px;margin:2px 0;
  font-size:14px;color:#222}
.ftt-view .ftt-table-grid {border-collapse:collapse;font-family:monospace;font-size:12px;margin:2px 0}
.ftt-view .ftt-table-grid td, .ftt-view .ftt-table-grid th {border:1px solid #DDDDDD;padding:1px 6px;
  text-align:center;min-width:18px}
.ftt-view .ftt-table-legend {font-size:11px;color:#555555}
.ftt-view .ftt-log-lines, .ftt-view .ftt-details-box {font-size:12px}
.ftt-view select {font-family:monospace}
.ftt-lecture-mode .ftt-story-line {font-size:22px;border-left-width:8px;color:#000}
.ftt-lecture-mode .ftt-status {font-size:18px}
.ftt-lecture-mode .ftt-message {font-size:18px}
.ftt-lecture-mode .ftt-table-grid {font-size:17px}
.ftt-lecture-mode .ftt-log-lines, .ftt-lecture-mode .ftt-details-box {font-size:15px}
.ftt-lecture-mode .widget-button, .ftt-lecture-mode .widget-toggle-button {font-size:16px}
</style>"""


def _running_loop():
    """The kernel's asyncio loop, when this runs inside one (as widget callbacks do in Jupyter)."""
    import asyncio
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _short(value, limit=160):
    text = repr(value) if not isinstance(value, str) else value
    if isinstance(value, (set, frozenset)):
        text = "{" + ", ".join(sorted(repr(v) for v in value)) + "}" if value else "{}"
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
