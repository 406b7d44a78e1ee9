"""The cluster view: an animated picture of a simulation, with controls, in a notebook.

``cluster.show()`` on any front door returns a :class:`ClusterView`.  The
picture is a fixed-size PNG drawn by :class:`~fttoolkit.viz.render.ClusterPicture`
(the graph above, the space-time diagram below); the controls drive the same
simulation the notebook holds, so everything done with the buttons is in its
trace and its input log, and replays exactly.

Controls
--------
* **Step** makes the next event happen; **Play** runs simulated time at the
  chosen speed (ticks per second) and pauses by itself at a broken invariant
  or when nothing is left to happen; **Reset** starts the same experiment
  over with the seed in the box.
* **Crash** / **Restart** the node chosen in the node menu; **Partition**
  with groups typed as ``n1 n2 | n3 n4``; **Heal**.
* **Loss** (a probability) and **Delay** (ticks, ``10`` or ``5-20``) change
  every link.
* The event log shows the latest events, filtered by kind; the detail panel
  shows the full state of the chosen node.

A mistake in any control (an unknown node, restarting a running node, a
speed of zero) shows as a message above the picture, never as a traceback.
"""

import html
import time

import ipywidgets as widgets

from ..core.errors import BadParameter, FtError
from .adapters import adapter_for
from .render import ClusterPicture

__all__ = ["ClusterView", "parse_groups", "parse_delay"]

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
    """

    def __init__(self, cluster, width=900, graph_height=520, diagram_height=260, speed=50, scale=1, adapter=None):
        self.cluster = cluster
        self.sim = getattr(cluster, "sim", cluster)
        self.adapter = adapter or adapter_for(self.sim.node_class)
        self.picture = ClusterPicture(self.sim, self.adapter, width=width, graph_height=graph_height,
                                      diagram_height=diagram_height, scale=scale)
        self._speed = self._check_speed(speed)
        self._play_clock = None
        self._last_tick = None     # wall time of the last Play tick, and the learnt round-trip overhead
        self._overhead = None
        self._frame_due = False
        self._frames_played = 0
        self.message = ""
        self._build()
        self._hook_cells()
        self.refresh()

    # ---- the widgets ---------------------------------------------------------------------
    def _build(self):
        w, h = self.picture.size
        css_w, css_h = self.picture.width, self.picture.height
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{css_w}px", height=f"{css_h}px", min_width=f"{css_w}px", max_width="none",
            object_fit="contain"))
        self.image.add_class("ftt-picture")
        self.status = widgets.HTML()
        self.status.add_class("ftt-status")
        self.notice = widgets.HTML()
        self.notice.add_class("ftt-message")

        def button(label, tip, handler, cls, icon=None, width="auto"):
            b = widgets.Button(description=label, tooltip=tip, icon=icon or "",
                               layout=widgets.Layout(width=width, flex="0 0 auto"))
            b.on_click(lambda _: self._guard(handler))
            b.add_class(cls)
            return b

        self.step_button = button("Step", "make the next event happen", self.step, "ftt-step", "step-forward")
        self.play_button = widgets.ToggleButton(description="Play", icon="play", tooltip="play / pause",
                                                layout=widgets.Layout(width="auto"))
        self.play_button.add_class("ftt-play")
        self.play_button.observe(lambda ch: self._guard(self._toggle_play, ch["new"]), "value")
        self.speed_box = widgets.FloatText(value=self._speed, description="ticks/s",
                                           layout=widgets.Layout(width="150px"),
                                           style={"description_width": "45px"})
        self.speed_box.add_class("ftt-speed")
        self.speed_box.observe(lambda ch: self._guard(self._set_speed, ch["new"]), "value")
        self.seed_box = widgets.IntText(value=self.sim.seed, description="seed",
                                        layout=widgets.Layout(width="130px"), style={"description_width": "35px"})
        reset = button("Reset", "start over with this seed", lambda: self.reset(self.seed_box.value),
                       "ftt-reset", "undo")
        self._timer = widgets.Play(interval=1000 // _FPS, min=0, max=10**9, step=1, show_repeat=False,
                                   layout=widgets.Layout(display="none"))
        self._timer.observe(lambda ch: self._guard(self._on_timer), "value")

        self.node_menu = widgets.Dropdown(options=list(self.sim.ids), description="node",
                                          layout=widgets.Layout(width="150px"), style={"description_width": "35px"})
        self.node_menu.add_class("ftt-node")
        self.node_menu.observe(lambda ch: self._guard(self._show_details), "value")
        crash = button("Crash", "crash the chosen node", lambda: self.crash(self.node_menu.value), "ftt-crash", "bolt")
        restart = button("Restart", "restart the chosen node from its stable storage",
                         lambda: self.restart(self.node_menu.value), "ftt-restart", "power-off")
        self.groups_box = widgets.Text(placeholder="n1 n2 | n3", layout=widgets.Layout(width="150px"))
        self.groups_box.add_class("ftt-groups")
        part = button("Partition", "cut the network between the groups typed on the left",
                      lambda: self.partition(self.groups_box.value), "ftt-partition", "cut")
        heal = button("Heal", "remove every partition", self.heal, "ftt-heal", "link")
        defaults = self.sim.network.defaults
        self.loss_box = widgets.BoundedFloatText(value=defaults.loss, min=0, max=1, step=0.05, description="loss",
                                                 layout=widgets.Layout(width="130px"),
                                                 style={"description_width": "35px"})
        self.loss_box.add_class("ftt-loss")
        self.loss_box.observe(lambda ch: self._guard(self.set_loss, ch["new"]), "value")
        low, high = defaults.delay
        self.delay_box = widgets.Text(value=f"{low}-{high}" if low != high else f"{low}", description="delay",
                                      continuous_update=False,
                                      layout=widgets.Layout(width="140px"), style={"description_width": "40px"})
        self.delay_box.add_class("ftt-delay")
        self.delay_box.observe(lambda ch: self._guard(self.set_delay, ch["new"]), "value")

        self.filters = {}
        for name in LOG_FILTERS:
            box = widgets.Checkbox(value=name in _DEFAULT_FILTERS, description=name, indent=False,
                                   layout=widgets.Layout(width="auto", margin="0 10px 0 0"))
            box.observe(lambda ch: self._guard(self._show_log), "value")
            self.filters[name] = box
        self.log = widgets.HTML(layout=widgets.Layout(width=f"{css_w * 56 // 100}px"))
        self.log.add_class("ftt-log")
        self.details = widgets.HTML(layout=widgets.Layout(width=f"{css_w * 42 // 100}px"))
        self.details.add_class("ftt-details")

        row = widgets.HBox
        gap = widgets.Layout(width="18px")
        self.controls = widgets.VBox([
            row([self.step_button, self.play_button, self.speed_box, widgets.Box(layout=gap), self.seed_box, reset,
                 widgets.Box(layout=gap), self.loss_box, self.delay_box, self._timer]),
            row([self.node_menu, crash, restart, widgets.Box(layout=gap), self.groups_box, part, heal]),
        ])
        self.widget = widgets.VBox([
            self.status, self.notice, self.image, self.controls,
            row(list(self.filters.values()), layout=widgets.Layout(flex_flow="row wrap")),
            row([self.log, self.details], layout=widgets.Layout(justify_content="space-between")),
        ], layout=widgets.Layout(width=f"{css_w + 4}px"))
        self.widget.add_class("ftt-view")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

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
        """Do one action on the simulation and redraw; errors show in the view."""
        self._say("")
        result = self._guard(action, *args)
        self.refresh(keep_message=True)
        return result

    def step(self):
        """Make the next event happen and show it; returns its trace events."""
        events = self._act(self.sim.step)
        if events == []:
            self._say("nothing left to happen: no message in flight, no timer armed")
        return events

    def play(self):
        """Start playing (the Play button)."""
        self.play_button.value = True

    def pause(self):
        """Pause playing."""
        self.play_button.value = False

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
        self._act(lambda: self.sim.set_network(loss=loss))

    def set_delay(self, delay):
        """Set the delay of every link: ticks, a ``(low, high)`` range, or text like ``"5-20"``."""
        if isinstance(delay, str):
            parsed = self._guard(parse_delay, delay)
            if parsed is None:
                return
            delay = parsed
        self._act(lambda: self.sim.set_network(delay=delay))

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

    # ---- playing ----------------------------------------------------------------------
    def _toggle_play(self, playing):
        self.play_button.description = "Pause" if playing else "Play"
        self.play_button.icon = "pause" if playing else "play"
        if playing:
            self._play_clock = float(self.sim.now)
            self._last_tick = None
            self._violations_seen = len(self.picture.index.update(self.sim.trace).violations)
            self._timer.interval = max(1, int(1000 / _FPS - (self._overhead or 0)))
            self._timer.playing = True
        else:
            self._timer.playing = False
            self.refresh(keep_message=True)      # the panels catch up with the last frame

    def advance(self):
        """One frame of Play: move simulated time on by ``speed / 25`` ticks and redraw.

        Returns whether playing should go on.  (The Play button calls this 25
        times a second; a notebook or a test may call it directly.)
        """
        sim = self.sim
        if self._play_clock is None or self._play_clock < sim.now:
            self._play_clock = float(sim.now)
        self._play_clock += self._speed / _FPS
        target = int(self._play_clock)
        if target > sim.now:
            sim.run(until=target)
        index = self.picture.index.update(sim.trace)
        go_on = True
        if sim.halted is not None:
            self._say(f"stopped: {sim.halted}", error=True)
            go_on = False
        elif len(index.violations) > getattr(self, "_violations_seen", 0):
            v = index.violations[-1]
            self._say(f"paused: {v['name']} broken at step {v['step']} (t = {v['tick']})", error=True)
            self._violations_seen = len(index.violations)
            go_on = False
        elif sim.next_due() is None:
            self._say("paused: nothing left to happen")
            go_on = False
        # While playing, the log and the detail panel follow every 5th frame (the browser's work per
        # frame is what limits the frame rate); the last frame updates everything.
        self._frames_played += 1
        self.refresh(keep_message=True, panels=not go_on or self._frames_played % 5 == 0)
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
    def refresh(self, keep_message=False, panels=True):
        """Redraw the picture and the status line; with ``panels``, the log and the detail panel too."""
        if not keep_message:
            self._say("")
        ids = list(self.sim.ids)
        if list(self.node_menu.options) != ids:
            self.node_menu.options = ids
        self.image.value = self.picture.render_png()
        self._seen = (len(self.sim.trace), self.sim.steps, self.sim.now)
        self._show_status()
        if panels:
            self._show_log()
            self._show_details()

    def _show_status(self):
        sim = self.sim
        up = sum(1 for i in sim.ids if sim.up[i])
        flying = len(self.picture.last_scene.messages)
        name = getattr(self.cluster, "name", None) or sim.name
        bugs = f" · bugs: {', '.join(sim.bugs)}" if sim.bugs else ""
        self.status.value = (f'<b>{html.escape(str(name))}</b> · seed {sim.seed} · step {sim.steps} · '
                             f't = {sim.now} · {up}/{len(sim.ids)} nodes up · {flying} in flight'
                             f'{html.escape(bugs)}')

    def _show_log(self, limit=14):
        kinds = set()
        for name, box in self.filters.items():
            if box.value:
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
        self.log.value = (f'<div style="font-family:monospace;font-size:12px;line-height:1.35;'
                          f'height:{limit * 17}px;overflow:auto;white-space:nowrap">{body}</div>')

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
        for key, value in self.adapter.details(node).items():
            rows.append((key, _short(value)))
        disk = sim.disks.get(node_id, [])
        rows.append(("stable storage", f"{len(disk)} records" + (f", last: {_short(disk[-1])}" if disk else "")))
        timers = [t for t in sim.pending() if t.kind == "timer" and t.node == node_id]
        rows.append(("timers", ", ".join(f"{t.timer!r} at t={t.due}" for t in timers) or "none"))
        table = "".join(f'<tr><td style="padding-right:8px;vertical-align:top"><b>{html.escape(str(k))}</b></td>'
                        f'<td>{html.escape(str(v))}</td></tr>' for k, v in rows)
        self.details.value = (f'<div style="font-size:12px"><b>{html.escape(node_id)}</b> '
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
            if view._seen != (len(sim.trace), sim.steps, sim.now):
                view.refresh()

        shell.events.register("post_run_cell", after_cell)

    def png(self):
        """The current picture as PNG bytes (to save, or to look at in a test)."""
        return self.picture.render_png()


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
