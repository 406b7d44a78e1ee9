"""A picture of a client history: who asked what, when, and how it can be ordered.

:func:`plot_history` draws one lane per client, each operation as a bar from
its invocation to its response, labelled ``put(x,'1')`` or ``get(x)→'1'``.
An operation that never returned runs off to the right edge, fading.  Given
the :class:`~fttoolkit.check.linearizability.LinearizabilityResult` of the
history, it adds the linearization points (a dot inside every interval,
joined in linearization order) when the history is linearizable, and when
it is not, it shows the smallest part with no linearization (the other
operations faded): the longest linearizable prefix the search found as open
dots, and the operations none of which could come next outlined in
vermillion.

Examples
--------
>>> from fttoolkit.core.history import Operation as Op
>>> from fttoolkit.check.linearizability import check
>>> h = [Op("c1", "write", None, 1, None, 0, 4), Op("c2", "read", None, None, 1, 2, 6),
...      Op("c1", "read", None, None, None, 5, None)]
>>> result = check(h, model="register")
>>> fig = plot_history(h, result)
>>> fig.axes[0].get_title(loc="left").splitlines()[0]
'Linearizable: 3 operations, 2 clients'
>>> linearization_points(result.order[None])
[2.0, 4.0]
"""

import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..check.linearizability import LinearizabilityResult, describe_operation
from ..core.errors import BadParameter
from ..core.history import Operation
from .style import MESSAGE_COLOURS, theme_for

__all__ = ["plot_history", "linearization_points"]

_BAR = 0.34          # bar height, in lanes
_DROP = 0.14         # the bar's centre below the lane's line (its label sits above the bar)
_FADE_STEPS = 8      # slices of the fading tail of an operation that never returned


def linearization_points(order, right=None):
    """Instants for the operations of ``order``, strictly increasing, each inside its interval.

    Parameters
    ----------
    order : list of Operation
        A linearization order (``result.order[key]``).
    right : float, optional
        Where an operation that never returned ends (default: a little after
        the last event of ``order``).

    Returns
    -------
    list of float
        One instant per operation, in the middle of the room that the
        operations before and after it leave.

    Notes
    -----
    The earliest strictly increasing choice (each at its invocation or just
    after the previous one) and the latest (each at its response or just
    before the next one) bound every valid choice; their midpoint is valid
    too.  Two events at the same instant count as concurrent, so when an
    operation is ordered before another whose response is at that very
    instant, the two share it.

    Examples
    --------
    >>> from fttoolkit.core.history import Operation as Op
    >>> a, b = Op(1, "write", None, 1, None, 0, 10), Op(2, "write", None, 2, None, 2, 4)
    >>> [round(t, 2) for t in linearization_points([a, b])]
    [1.83, 3.0]
    >>> [round(t, 2) for t in linearization_points([b, a])]
    [3.0, 6.17]
    """
    if not order:
        return []
    times = sorted({t for op in order for t in (op.call, op.ret) if t is not None})
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    delta = (min(gaps) if gaps else 1) / (2 * (len(order) + 1))
    if right is None:
        right = times[-1] + (min(gaps) if gaps else 1)
    his = [right if op.ret is None else op.ret for op in order]
    low, previous = [], -math.inf
    for op in order:
        previous = max(op.call, previous + delta)
        low.append(previous)
    high, following = [0] * len(order), math.inf
    for k in range(len(order) - 1, -1, -1):
        following = min(his[k], following - delta)
        high[k] = following
    points = []
    for op, lo, hi, end in zip(order, low, high, his):
        point = (lo + hi) / 2 if hi >= lo else lo
        points.append(min(max(point, op.call), end))
    return points


def plot_history(history, result=None, ax=None, width=None, height=None, keys=None, labels=True,
                 title=None, theme="default"):
    """Draw a history, one lane per client; return the figure.

    Parameters
    ----------
    history : iterable of Operation
    result : LinearizabilityResult, optional
        What :func:`~fttoolkit.check.linearizability.check` said about it:
        adds the linearization points, or the failing part.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    width, height : int
        Pixel size of a new figure (default: 900 pixels wide, more for a
        long history; 44 pixels per client + 94 high; both grow with the
        theme's font scale).
    keys : iterable, optional
        Draw only the operations on these keys.
    labels : bool
        Write each operation's label on its bar.
    title : str, optional
        Default: the verdict and the size of the history.
    theme : {"default", "lecture"} or Theme

    Examples
    --------
    >>> from fttoolkit.core.history import Operation as Op
    >>> fig = plot_history([Op("a", "put", "x", "1", None, 0, 3), Op("b", "get", "x", None, "", 1, 2)])
    >>> fig.axes[0].get_title(loc="left"), [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ('History: 2 operations, 2 clients', ['a', 'b'])

    Notes
    -----
    Intervals as in Herlihy & Wing, "Linearizability: a correctness
    condition for concurrent objects" (1990), Figure 1; the linearization
    points come from :func:`linearization_points`.
    """
    theme = theme_for(theme)
    if isinstance(history, (str, bytes)) or not hasattr(history, "__iter__"):
        raise BadParameter(f"history must be a list of Operation; got {type(history).__name__}")
    ops = list(history)
    for position, op in enumerate(ops):
        if not isinstance(op, Operation):
            raise BadParameter(f"history[{position}] is a {type(op).__name__}, not an Operation")
    if result is not None and not isinstance(result, LinearizabilityResult):
        raise BadParameter(f"result must be what check() returned; got {type(result).__name__}")
    if keys is not None:
        keys = set(keys)
        ops = [op for op in ops if op.key in keys]
    ops.sort(key=Operation.order)
    clients = sorted({op.client for op in ops}, key=_client_order)
    lane = {c: k for k, c in enumerate(clients)}
    times = [t for op in ops for t in (op.call, op.ret) if t is not None]
    first, last = (min(times), max(times)) if times else (0, 1)
    span = max(last - first, 1)
    right = last + 0.06 * span
    left = first - 0.02 * span

    if ax is None:
        scale = theme.font_scale
        per_lane = max([sum(op.client == c for op in ops) for c in clients], default=0)
        width = width or round(max(900 * scale, min(2400, 90 * per_lane)))
        top, bottom = 50 * scale, 44 * scale     # two title lines; the time axis and its label
        height = height or round(44 * scale * max(len(clients), 1) + top + bottom)
        name_px = max([len(str(c)) for c in clients], default=1) * theme.font(9) * 100 / 72 * 0.62
        left_px = 34 * scale + name_px           # the client names and the "client" label
        fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor=theme.background)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=min(0.3, left_px / width), right=1 - 12 / width, top=1 - top / height,
                            bottom=bottom / height)
        ax = fig.add_subplot()
    ax.set_facecolor(theme.background)

    part_keys = sorted({op.key for op in ops}, key=lambda k: (type(k).__name__, str(k)))
    palette = MESSAGE_COLOURS[:6]
    colour_of = {k: palette[n % len(palette)] for n, k in enumerate(part_keys)} if len(part_keys) <= 6 \
        else {k: palette[0] for k in part_keys}
    verdict = None if result is None else result.verdict
    failing = _Members(result.failing if verdict == "not linearizable" else ())
    stuck = _Members(result.stuck if failing else ())
    in_failing = failing.__contains__

    font = theme.font(7.5 if len(ops) > 20 else 8.5)
    if labels and ops:     # widen the right margin so that the last operations' labels are not cut off
        axes_px = max(ax.get_window_extent().width, 1)
        char_px = font * ax.figure.dpi / 72 * 0.62
        last_call = {}
        for op in ops:
            last_call[op.client] = op
        for _ in range(2):                     # the scale depends on the margin: settle it in two rounds
            per_px = (right - left) / axes_px
            right = max([right] + [op.call + (len(describe_operation(op)) * char_px + 6) * per_px
                                   for op in last_call.values()])
    room_until, latest = {}, {}
    for op in reversed(ops):
        room_until[id(op)] = latest.get(op.client, right)
        latest[op.client] = op.call
    for op in ops:
        y = lane[op.client]
        faded = bool(failing) and not in_failing(op)
        colour = theme.wrong if (failing and in_failing(op)) else colour_of[op.key]
        alpha = 0.18 if faded else 0.85
        end = right if op.ret is None else op.ret
        bar_width = max(end - op.call, span * 0.002)
        if op.ret is None:
            _fading_bar(ax, op.call, y, end - op.call, colour, alpha)
            outline = Rectangle((op.call, y + _DROP - _BAR / 2), bar_width, _BAR, fill=False, edgecolor=colour,
                                linestyle=(0, (3, 2)), linewidth=theme.line(1), alpha=alpha)
        else:
            ax.add_patch(Rectangle((op.call, y + _DROP - _BAR / 2), bar_width, _BAR, facecolor=colour,
                                   edgecolor="none", alpha=alpha * 0.35))
            outline = Rectangle((op.call, y + _DROP - _BAR / 2), bar_width, _BAR, fill=False, edgecolor=colour,
                                linewidth=theme.line(1), alpha=alpha)
        if op in stuck:
            outline.set_linewidth(theme.line(2.8))
            outline.set_edgecolor(theme.wrong)
            ax.add_patch(Rectangle((op.call, y + _DROP - _BAR / 2), bar_width, _BAR, facecolor=theme.wrong,
                                   edgecolor="none", alpha=0.5))
        ax.add_patch(outline)
        if labels:    # above the bar, cut where the client's next operation starts
            text = ax.text(op.call, y - 0.06, describe_operation(op), va="bottom", ha="left",
                           fontsize=font, color=theme.ink, alpha=0.35 if faded else 1, clip_on=True)
            room = Rectangle((op.call, y - 0.6), max(room_until[id(op)] - op.call - span * 0.004, 0), 1.2)
            room.set_transform(ax.transData)
            text.set_clip_path(room)

    point_size = theme.area(26 if len(ops) <= 60 else 12)
    if verdict == "linearizable":
        for key, order in sorted(result.order.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0]))):
            if keys is not None and key not in keys:
                continue
            _draw_points(ax, order, lane, right, colour_of.get(key, palette[0]), theme, point_size, filled=True)
    elif failing and result.partial:
        _draw_points(ax, result.partial, lane, right, theme.wrong, theme, point_size, filled=False)

    ax.set_xlim(left, right)
    ax.set_ylim(len(clients) - 0.45, -0.55)
    ax.set_yticks(range(len(clients)), [str(c) for c in clients], fontsize=theme.font(9), color=theme.ink)
    ax.tick_params(axis="x", labelsize=theme.font(8), colors=theme.secondary)
    ax.set_xlabel("time", fontsize=theme.font(9), color=theme.secondary)
    ax.set_ylabel("client", fontsize=theme.font(9), color=theme.secondary)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color=theme.grid, linewidth=theme.line(0.8))
    ax.set_axisbelow(True)
    ax.set_title(title if title is not None else _title(ops, clients, result), fontsize=theme.font(10),
                 color=theme.wrong if failing else theme.ink, loc="left")
    return ax.figure


def _client_order(client):
    if isinstance(client, (int, float)) and not isinstance(client, bool):
        return (0, client, "")
    return (1, 0, f"{type(client).__name__}:{client}")


class _Members:
    """Membership of operations, by identity or by equality (a history read twice)."""

    def __init__(self, ops):
        ops = list(ops or ())
        self._ids = set(map(id, ops))
        try:
            self._equal = set(ops)
        except TypeError:      # an unhashable value: identity only
            self._equal = set()

    def __bool__(self):
        return bool(self._ids)

    def __contains__(self, op):
        if id(op) in self._ids:
            return True
        try:
            return op in self._equal
        except TypeError:
            return False


def _fading_bar(ax, start, y, length, colour, alpha):
    """A bar whose fill fades out to the right: an operation that may take effect at any later time."""
    piece = length / _FADE_STEPS
    for k in range(_FADE_STEPS):
        ax.add_patch(Rectangle((start + k * piece, y + _DROP - _BAR / 2), piece, _BAR, facecolor=colour,
                               edgecolor="none", alpha=alpha * 0.35 * (1 - k / _FADE_STEPS)))


def _draw_points(ax, order, lane, right, colour, theme, size, filled):
    points = linearization_points(order, right=right)
    ys = [lane[op.client] + _DROP for op in order if op.client in lane]
    if len(ys) != len(order):
        return
    ax.plot(points, ys, color=colour, linewidth=theme.line(0.8), alpha=0.5, zorder=3)
    ax.scatter(points, ys, s=size, zorder=4, color=colour if filled else theme.background,
               edgecolors=colour, linewidths=theme.line(1.2))


def _title(ops, clients, result):
    size = f"{len(ops)} operation{'s' * (len(ops) != 1)}, {len(clients)} client{'s' * (len(clients) != 1)}"
    if result is None:
        return f"History: {size}"
    if result.verdict == "linearizable":
        return f"Linearizable: {size}\ndots: linearization points, joined in order"
    if result.verdict == "unknown":
        return f"Unknown ({result.limit} reached): {size}"
    where = f"key {result.failing_key!r}" if result.model != "register" else "the register"
    return (f"Not linearizable: the {len(result.failing)} operations on {where} have no linearization\n"
            f"open dots: the longest linearizable prefix found ({len(result.partial)}); "
            f"thick: none can come next")
