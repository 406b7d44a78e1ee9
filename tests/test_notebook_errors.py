"""In a notebook, a user's mistake shows as one clear line; a protocol bug keeps its traceback."""

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run_cell(source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True)
    client.execute()
    return [o for o in nb.cells[0].outputs if o.output_type == "error"]


def test_user_error_is_one_line_without_traceback():
    errors = run_cell("from fttoolkit import Broadcast\nBroadcast(nodes=3).crash('n9')")
    assert len(errors) == 1
    assert errors[0].ename == "UnknownNode"
    assert len(errors[0].traceback) == 1
    assert "unknown node 'n9'; the cluster has: n1, n2, n3" in errors[0].traceback[0]


def test_protocol_bug_keeps_its_traceback():
    errors = run_cell(
        "from fttoolkit import Node, Message\n"
        "from fttoolkit.sim import Simulation\n"
        "class Boom(Node):\n"
        "    def on_start(self, records):\n"
        "        1 / 0\n"
        "Simulation(Boom, 2).step()")
    assert errors[0].ename == "HandlerError"
    assert len(errors[0].traceback) > 3
    assert any("ZeroDivisionError" in line for line in errors[0].traceback)
