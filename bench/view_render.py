"""Frame cost of the cluster view, in the kernel: draw + PNG encode, at 5 and 25 nodes.

A broadcast workload plays at 50 ticks per second (2 ticks a frame, as the
Play button does at 25 frames per second); every frame is timed.  The
browser side (click to picture, frames per second in JupyterLab) is measured
by bench/browser_view.py.

Prints one JSON object per line: {"bench": NAME, "value": V, "unit": U}.
Run: .venv/bin/python bench/view_render.py [--frames N]
"""

import argparse
import json
import statistics
import time

from fttoolkit import Broadcast


def frames(nodes, count, seed=1):
    cluster = Broadcast(nodes=nodes, seed=seed, delay=(20, 60), loss=0.05)
    cluster.workload(until=count * 2, requests=6)
    view = cluster.show()
    view.speed = 50
    picture = view.picture
    render, whole, sizes = [], [], []
    for _ in range(count):
        start = time.perf_counter()
        view._play_clock = float(cluster.now)
        cluster.run(until=cluster.now + 2)
        middle = time.perf_counter()
        png = picture.render_png()
        end = time.perf_counter()
        view.image.value = png          # what the widget sends
        view._show_status(); view._show_log(); view._show_details()
        done = time.perf_counter()
        render.append((end - middle) * 1000)
        whole.append((done - start) * 1000)
        sizes.append(len(png))
    return render, whole, sizes


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=250)
    args = parser.parse_args()
    for nodes in (5, 25):
        render, whole, sizes = frames(nodes, args.frames)
        for name, value, unit in (
                (f"view_frame_render_median_{nodes}_nodes", statistics.median(render), "ms"),
                (f"view_frame_render_p95_{nodes}_nodes", p95(render), "ms"),
                (f"view_frame_total_median_{nodes}_nodes", statistics.median(whole), "ms"),
                (f"view_frame_png_size_median_{nodes}_nodes", statistics.median(sizes) / 1024, "KiB")):
            print(json.dumps({"bench": name, "value": round(value, 2), "unit": unit}), flush=True)


if __name__ == "__main__":
    main()
