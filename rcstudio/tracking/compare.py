"""`rcstudio compare`: one metric (or a few) of several runs, as a plot (PNG/PDF/SVG), CSV or JSON.

A RUN is a registry run id (or unique prefix) or a path: a `.wandb` file, an offline-run dir, a
wandb dir or an rcstudio run dir. The core (`collect`) is I/O at the edge plus pure shaping.
"""

from __future__ import annotations

import csv
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError
from rcstudio.tracking.source import Series


@dataclass
class Curve:
    run: str  # label: registry name or path stem
    run_id: str
    metric: str
    series: Series

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "run_id": self.run_id,
            "metric": self.metric,
            "steps": [int(s) if float(s).is_integer() else float(s) for s in self.series.steps],
            "values": [None if math.isnan(v) else float(v) for v in self.series.values],
        }


def _resolve(arg: str, registry: Any) -> tuple[str, str, Any]:
    """(label, run_id, loader) for one RUN argument; loader(metrics, samples) -> {metric: Series}."""
    path = Path(arg)
    if path.exists():
        from rcstudio.tracking.links import merged_history
        from rcstudio.tracking.offline import OfflineSource

        source = OfflineSource([path])
        found = source.runs()
        refs = [r for r in found if not r.id.endswith("-rm")] or found
        if not refs:
            raise UserError(f"no .wandb run under {arg}", hint="pass a run dir, a wandb dir or a .wandb file")
        ref = refs[0]
        linked = [ref] + [r for r in found if r.id == ref.id + "-rm"]
        return ref.name or ref.id, ref.id, lambda metrics, samples: merged_history(source, linked, metrics, samples)
    from rcstudio.tracking.links import Linker

    try:
        record = registry.get(arg)  # an unknown id is already a UserError
    except sqlite3.Error as exc:
        raise UserError(f"cannot read the run registry to find {arg!r}: {exc}", file=registry.path) from exc
    linker = Linker()

    def load(metrics, samples):
        hist = linker.history(record, list(metrics), samples)
        problems = linker.problems(record)
        if problems and not any(len(s) for s in hist.values()):
            raise UserError(problems[0], key="--metric", hint="the W&B file is damaged; rerun the job to rewrite it")
        return hist

    return record.name, record.run_id, load


def collect(runs: Sequence[str], metrics: Sequence[str], samples: int | None = None, registry: Any = None) -> list[Curve]:
    """The curves to compare, one per (run, metric); a metric a run never logged is a UserError.

    Runs are run dirs / wandb dirs / .wandb files, or run ids looked up in `registry` (the caller
    passes the registry: tracking/ does not depend on launch/)."""
    if not runs:
        raise UserError("name at least one run", hint="rcstudio compare RUN... --metric reward/total")
    if not metrics:
        raise UserError("name at least one metric", key="--metric", hint="e.g. --metric reward/rationale")
    if registry is None and any(not Path(r).exists() for r in runs):
        missing = next(r for r in runs if not Path(r).exists())
        raise UserError(f"{missing!r} is not a path and no run registry was given to look it up")
    curves: list[Curve] = []
    for arg in runs:
        label, run_id, load = _resolve(arg, registry)
        hist = load(metrics, samples)
        for metric in metrics:
            series = hist.get(metric)
            if series is None or not len(series):
                raise UserError(f"run {label} has no history for {metric!r}", key="--metric")
            curves.append(Curve(label, run_id, metric, series))
    return curves


PLOT_FORMATS = (".png", ".pdf", ".svg")


def check_output(path: str | Path | None, key: str, formats: Sequence[str] | None = None) -> None:
    """Fail before any work when an output path cannot be written (missing folder, bad suffix)."""
    if path is None:
        return
    path = Path(path)
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} does not exist", key=key, hint="create it first")
    if formats and path.suffix.lower() not in formats:
        raise UserError(f"cannot write {path.suffix or 'a file without suffix'}", key=key,
                        hint=f"use one of {', '.join(formats)}")


def write_csv(curves: Sequence[Curve], path: str | Path) -> None:
    """Long format: run,run_id,metric,step,value (one row per point) - easy to pivot in a paper."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["run", "run_id", "metric", "step", "value"])
        for c in curves:
            for step, value in zip(c.series.steps, c.series.values):
                writer.writerow([c.run, c.run_id, c.metric, int(step) if float(step).is_integer() else step, repr(float(value))])


def plot(curves: Sequence[Curve], path: str | Path, title: str = "") -> None:
    """One panel per metric, one line per run (matplotlib, Agg: no display needed)."""
    from rcstudio.rationale.plots import pyplot, save_figure

    metrics = list(dict.fromkeys(c.metric for c in curves))
    fig, axes = pyplot().subplots(1, len(metrics), figsize=(6 * len(metrics), 4), dpi=120, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for c in curves:
            if c.metric == metric:
                ax.plot(c.series.steps, c.series.values, label=c.run, linewidth=1.2)
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
