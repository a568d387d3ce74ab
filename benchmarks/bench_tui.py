"""Dashboard speed: first paint of the runs table with 1,000 and 10,000 registry runs, each side a
fresh process; and a chart of a 100k-step metric (in-process phase figure).

    python benchmarks/bench_tui.py [--sizes 1000 10000] [--points 100000] [--repeat 3] [--out DIR]

Table, per round, interleaved, each a fresh process timed from spawn until the table is drawn
(headless `App.run_test`, 160x45): on both sides the same signal - a `call_after_refresh` queued
right after the rows are put in the table, i.e. the first screen refresh that shows them; the
process then exits at once:
- rcstudio: `RcStudioApp` on the registry (no scheduler poll: a test registry has no real jobs);
- baseline: a bare Textual app with one DataTable holding exactly the rows the dashboard's first
  paint shows (its first page, the same cells, column widths and state styles), read from a JSON
  file - the least a Textual table of those rows costs.
Target: rcstudio <= 1.5x the baseline. A baseline that cannot run exits 3.

Chart: plotext drawing all 100k points (no downsampling) vs MetricChart (min/max buckets to the
width), in one process after the imports. Target: 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

SIZE = (160, 45)


def populate(n: int) -> Path:
    from rcstudio.launch.registry import Registry, RunRecord

    home = Path(tempfile.mkdtemp(prefix=f"rcs-bench-{n}-"))
    os.environ["RCSTUDIO_HOME"] = str(home)
    t0 = 1_790_000_000.0
    states = ("RUNNING", "COMPLETED", "FAILED", "PENDING")
    records = [
        RunRecord(
            run_id=f"exp{i // 100}-{i:08x}", name=f"exp{i // 100}-alpha{(i % 4) / 4:g}", experiment=f"exp{i // 100}",
            kind="genrm-train", engine="trl", executor="slurm", state=states[i % 4], created_at=t0 + i,
            updated_at=t0 + i, started_at=t0 + i, ended_at=None, run_dir=str(home / "runs" / str(i)),
            spec_hash=f"{i:08x}", point={"reward.alpha": (i % 4) / 4}, tags=["paper"] if i % 2 else [],
            job_id=str(1000 + i // 100), array_index=i % 100, wandb={"mode": "disabled"},
        )
        for i in range(n)
    ]
    Registry().add_runs(records)
    return home


OURS = """
import asyncio, os, sys
from rcstudio.tui.app import RcStudioApp
from rcstudio.tui.backend import Backend
from rcstudio.tui.widgets import RunsTable

async def main():
    app = RcStudioApp(Backend(poll=lambda: None), refresh_s=0)
    async with app.run_test(size=(160, 45)) as pilot:
        while not app.painted:  # set by a call_after_refresh once the first page is drawn
            await pilot.pause(0.005)
        print(app.query_one(RunsTable).row_count, flush=True)
        os._exit(0)

asyncio.run(main())
"""

BARE = """
import asyncio, json, os, sys
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable

spec = json.load(open(sys.argv[1]))

class Bare(App):
    def compose(self):
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self):
        table = self.query_one(DataTable)
        for header, width in zip(spec["headers"], spec["widths"]):
            table.add_column(header, width=width)
        state = spec["state_column"]
        for cells in spec["rows"]:
            cells[state] = Text(cells[state], style=spec["styles"].get(cells[state], ""))
            table.add_row(*cells)
        self.drawn = False
        self.call_after_refresh(self.mark_drawn)

    def mark_drawn(self):
        self.drawn = True

async def main():
    app = Bare()
    async with app.run_test(size=(160, 45)) as pilot:
        while not getattr(app, "drawn", False):  # the same signal as the dashboard's `painted`
            await pilot.pause(0.005)
        print(app.query_one(DataTable).row_count, flush=True)
        os._exit(0)

asyncio.run(main())
"""


def first_page_spec(now: float) -> dict:
    """The cells of the dashboard's first paint: its newest page, as `RunsTable` draws them."""
    from rcstudio.launch.registry import Registry
    from rcstudio.tui.data import HEADERS, STATE_STYLE, WIDTHS, RunRow, row_cells
    from rcstudio.tui.widgets import RunsTable

    records = Registry().list_runs(limit=RunsTable.PAGE)
    rows = [["", *row_cells(RunRow(r), now)] for r in records]
    return {"headers": ["", *HEADERS], "widths": [1, *WIDTHS], "rows": rows, "styles": STATE_STYLE,
            "state_column": 1 + list(HEADERS).index("State")}  # fmt: skip


def bench_table(sizes: list[int], repeat: int, results: dict) -> None:
    _bench.probe([sys.executable, "-c", "import textual.app, textual.widgets"], "the bare Textual DataTable baseline")
    for n in sizes:
        home = populate(n)
        spec_file = home / "first_page.json"
        spec = first_page_spec(time.time())
        spec_file.write_text(json.dumps(spec))
        env = {**os.environ, "RCSTUDIO_HOME": str(home)}

        def ours() -> float:
            wall, out = _bench.run_process([sys.executable, "-c", OURS], env=env, what=f"rcstudio dashboard {n}")
            assert int(out.split()[-1]) == len(spec["rows"]), out
            return wall

        def bare() -> float:
            wall, out = _bench.run_process([sys.executable, "-c", BARE, str(spec_file)], env=env, what=f"bare DataTable {n}")
            assert int(out.split()[-1]) == len(spec["rows"]), out
            return wall

        samples, loads = _bench.interleave({"rcstudio": ours, "bare": bare}, repeat)
        r = _bench.ratio(samples["rcstudio"], samples["bare"])
        results[f"table_{n}"] = {"samples": samples, "loads": loads, "ratio": r, "rows_shown": len(spec["rows"])}
        print(f"table first paint, {n:>6} runs in the registry ({len(spec['rows'])} rows shown), fresh processes, "
              f"{loads[0]}:\n  rcstudio {_bench.fmt(samples['rcstudio'])}; {_bench.cpu_line(f'rcstudio dashboard {n}')}"
              f"\n  bare DataTable, same rows {_bench.fmt(samples['bare'])}; {_bench.cpu_line(f'bare DataTable {n}')}"
              f"\n  -> {r:.2f}x (target <= 1.5x: {'met' if r <= 1.5 else 'MISSED'})")  # fmt: skip


async def chart_time(points: int, downsample: bool) -> float:
    from textual.app import App

    from rcstudio.tracking.source import Series
    from rcstudio.tui.widgets import MetricChart

    steps = np.arange(points, dtype=float)
    values = np.sin(steps / 5000) + np.random.default_rng(0).normal(0, 0.05, points)

    class One(App):
        def compose(self):
            yield MetricChart(title="reward/total", id="c")

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(MetricChart)
        t = time.perf_counter()
        if downsample:
            from rcstudio.tracking.source import downsample as ds

            xs, ys = ds(steps, values, chart.samples())
        else:
            xs, ys = steps, values
        chart.set_series([("run", Series("reward/total", xs, ys))])
        chart.render()  # plotext builds the canvas here
        took = time.perf_counter() - t
        await pilot.pause()
        return took


def bench_chart(points: int, results: dict) -> None:
    import rcstudio.tui.app  # noqa: F401 - imports outside the figure (a phase figure)

    ours = asyncio.run(chart_time(points, True))
    full = asyncio.run(chart_time(points, False))
    results["chart"] = {"rcstudio_s": ours, "plotext_all_points_s": full}
    print(f"chart of a {points}-step metric (in-process phase figure, {_bench.load()}): rcstudio {ours:.3f} s | "
          f"plotext with every point {full:.3f} s (speed-up {full / ours:.1f}x) | target 0.5 s: "
          f"{'met' if ours <= 0.5 else 'MISSED'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--points", type=int, default=100_000, help="0 skips the chart figure")
    _bench.add_common_args(parser)
    args = parser.parse_args()
    results: dict = {}
    bench_table(args.sizes, args.repeat, results)
    if args.points:
        bench_chart(args.points, results)
    _bench.write_result(args.out, "bench_tui", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
