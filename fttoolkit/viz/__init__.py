"""Pictures of simulations: the cluster view, space-time diagrams, and per-algorithm view adapters.

This layer sits above the simulator and the checkers; the protocols never
import it.  ``cluster.show()`` on any front door opens the interactive view
(:class:`ClusterView`); :func:`spacetime` draws a Lamport space-time diagram
of any window of a trace; :mod:`fttoolkit.viz.export` writes a run as a
self-contained HTML replay, an animated GIF or a PNG.
"""

from .adapters import BroadcastView, ViewAdapter, adapter_for, register_adapter
from .style import TypeStyles

__all__ = ["ClusterView", "ClusterPicture", "ViewAdapter", "BroadcastView", "adapter_for",
           "register_adapter", "TypeStyles", "spacetime", "scene_of", "diagram_of", "plot_history"]


def __getattr__(name):   # matplotlib and ipywidgets load only when a picture is asked for
    if name == "ClusterView":
        from .view import ClusterView
        return ClusterView
    if name in ("ClusterPicture", "spacetime"):
        from . import render
        return getattr(render, name)
    if name in ("scene_of", "diagram_of"):
        from . import scene
        return getattr(scene, name)
    if name == "plot_history":
        from .history import plot_history
        return plot_history
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
