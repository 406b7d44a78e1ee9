"""The layers import downwards only (STYLE.md): core -> algorithms -> sim -> ... -> doors."""

import ast
import pathlib
import subprocess
import sys

import pytest

PKG = pathlib.Path(__file__).resolve().parent.parent / "fttoolkit"
STDLIB = set(sys.stdlib_module_names)

# For each layer: the fttoolkit layers and third-party packages it may import.
ALLOWED = {
    "core": ({"core"}, set()),
    "algorithms": ({"core", "algorithms"}, set()),
    "sim": ({"core", "algorithms", "sim"}, {"networkx"}),
    "check": ({"core", "algorithms", "sim", "check"}, set()),
    # Pictures and widgets: above the checkers, below the front doors.
    "viz": ({"core", "algorithms", "sim", "check", "viz"},
            {"matplotlib", "numpy", "ipywidgets", "IPython", "networkx", "PIL", "ipyevents"}),
    # The front doors, the scenario scripts and the bug zoo form the top layer together.
    "doors": ({"core", "algorithms", "sim", "check", "viz", "doors", "scenario", "zoo"}, {"networkx"}),
    # Graded exercises run students' code inside front doors and print scenario scripts: top layer too.
    "grading": ({"core", "algorithms", "sim", "check", "viz", "doors", "scenario", "zoo", "grading"},
                {"nbformat", "IPython"}),
}


def imports_of(path, package=None):
    """Yield the absolute module names a file imports."""
    if package is None:
        package = list(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def layer_files():
    for layer in ALLOWED:
        for path in sorted((PKG / layer).rglob("*.py")):
            yield layer, path


def violations(layer, path, package=None):
    """Return the imports of ``path`` that its layer may not make."""
    layers, third_party = ALLOWED[layer]
    bad = []
    for name in imports_of(path, package):
        top = name.split(".")[0]
        if top == "fttoolkit":
            sub = name.split(".")[1] if "." in name else ""
            if sub not in layers:
                bad.append(name)
        elif top not in STDLIB and top not in third_party:
            bad.append(name)
    return bad


@pytest.mark.parametrize("layer, path", list(layer_files()), ids=lambda x: str(x).split("fttoolkit/")[-1])
def test_layer_imports_point_down(layer, path):
    assert violations(layer, path) == []


def test_the_checker_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import heapq\nimport networkx as nx\nfrom ..sim import Simulation\nfrom ..core import Node\n")
    assert violations("algorithms", bad, ["fttoolkit", "algorithms"]) == ["networkx", "fttoolkit.sim"]


def test_the_checker_sees_relative_imports():
    # Guard against a checker that finds nothing: the simulator imports the core.
    names = set(imports_of(PKG / "sim" / "simulation.py"))
    assert "fttoolkit.core.errors" in names and "heapq" in names


def test_front_doors_load_without_plotting():
    # show() imports the widget lazily: building and running a cluster never loads matplotlib.
    code = ("import sys, fttoolkit; c = fttoolkit.Broadcast(nodes=3); c.run(until=10); "
            "print([m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_algorithms_load_without_simulator_networkx_or_plotting():
    code = ("import sys, fttoolkit.algorithms.broadcast; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('networkx', 'matplotlib', 'ipywidgets')"
            " or m.startswith(('fttoolkit.sim', 'fttoolkit.viz', 'fttoolkit.doors'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
