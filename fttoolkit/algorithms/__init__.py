"""Pure protocol code: every algorithm of the course as sans-I/O nodes.

Modules here import only :mod:`fttoolkit.core` and the standard library: never
the simulator, networkx, matplotlib or ipywidgets.
"""
