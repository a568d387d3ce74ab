"""Dashboard speed: first paint of the runs table (1,000 and 10,000 registry runs) and a chart of
a 100k-step metric, headless (`App.run_test`).

    python benchmarks/bench_tui.py [--sizes 1000 10000] [--points 100000]

Baselines, measured in the same run:
- table: a bare Textual DataTable app given the same rows as ready-made tuples (no registry, no
  filter/sort, no status), all of them added. The dashboard paints the newest page (200 rows) first
  from a LIMITed registry read, then loads every run for filter/sort (also printed).
  Targets: 1 s (1,000) and 2 s (10,000).
- chart: plotext drawing all 100k points (no downsampling) vs MetricChart (min/max buckets to the
  width). Target: 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np

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


async def paint_ours() -> tuple[float, float]:
    """From constructing the app (modules already imported, as for the baseline) to the table drawn."""
    from rcstudio.tui.app import RcStudioApp
    from rcstudio.tui.backend import Backend
    from rcstudio.tui.widgets import RunsTable

    t = time.perf_counter()
    app = RcStudioApp(Backend(poll=lambda: None), refresh_s=0)
    async with app.run_test(size=SIZE) as pilot:
        while not (app.painted or app.loaded):
            await pilot.pause(0.005)
        await pilot.pause()
        assert app.query_one(RunsTable).row_count > 0
        took = time.perf_counter() - t
        while not app.loaded:
            await pilot.pause(0.005)
        await pilot.pause()
        return took, time.perf_counter() - t


async def paint_bare(rows: list[tuple]) -> float:
    from textual.app import App
    from textual.widgets import DataTable

    class Bare(App):
        def compose(self):
            yield DataTable()

        def on_mount(self):
            table = self.query_one(DataTable)
            table.add_columns(*[f"c{i}" for i in range(len(rows[0]))])
            table.add_rows(rows)

    t = time.perf_counter()
    app = Bare()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return time.perf_counter() - t


def bench_table(sizes: list[int]) -> None:
    t = time.perf_counter()
    import rcstudio.tui.app  # noqa: F401 - import cost reported once, outside the paint figures
    from rcstudio.launch.registry import Registry
    from rcstudio.tui.data import RunRow, row_cells

    print(f"import rcstudio.tui.app (textual, plotext): {time.perf_counter() - t:.3f} s")

    for n in sizes:
        populate(n)
        rows = [row_cells(RunRow(r), time.time()) for r in Registry().list_runs()]
        bare = asyncio.run(paint_bare(rows))
        ours, full = asyncio.run(paint_ours())
        target = 1.0 if n <= 1000 else 2.0
        print(f"table first paint, {n:>6} runs: rcstudio {ours:.3f} s | bare DataTable (all rows) {bare:.3f} s "
              f"(ratio {ours / bare:.2f}x) | target {target:.0f} s: {'met' if ours <= target else 'MISSED'} "
              f"| all {n} runs loaded (filter/sort ready) {full:.3f} s")


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


def bench_chart(points: int) -> None:
    ours = asyncio.run(chart_time(points, True))
    full = asyncio.run(chart_time(points, False))
    print(f"chart of a {points}-step metric: rcstudio {ours:.3f} s | plotext with every point {full:.3f} s "
          f"(speed-up {full / ours:.1f}x) | target 0.5 s: {'met' if ours <= 0.5 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    bench_table(args.sizes)
    bench_chart(args.points)


if __name__ == "__main__":
    main()
