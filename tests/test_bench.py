"""The benchmark scripts run and follow the output convention (no speed is asserted here)."""

import json
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script, args", [
    ("sim_vs_simpy.py", ["--quick", "--repeat", "1"]),
    ("sim_throughput.py", ["--nodes", "4", "--requests", "10", "--repeat", "1"]),
    ("time_travel.py", ["--events", "3000", "--rewinds", "5"]),
    ("fuzz_throughput.py", ["--seeds", "5"]),
    ("view_render.py", ["--frames", "20"]),
    ("detection_qos.py", []),
    ("swim_scale.py", []),
    ("raft_fuzz.py", ["--seeds", "20"]),
    ("lincheck.py", ["--quick"]),
    ("explore_tlc.py", ["--quick"]),
    ("explore_impl.py", ["--quick"]),
    ("browser_view.py", ["--quick", "--nodes", "5", "--clicks", "2", "--seconds", "1"]),
])
def test_bench_prints_one_json_object_per_line(script, args):
    if script == "browser_view.py":
        import lab_harness
        lab_harness.require_browser()
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert isinstance(record["bench"], str)
        if "vs" in record:
            assert set(record) == {"bench", "vs", "ratio"} and record["ratio"] > 0
        else:
            assert set(record) == {"bench", "value", "unit"} and record["value"] >= 0
