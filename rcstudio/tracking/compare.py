"""`rcstudio compare`: one metric (or a few) of several runs, as a plot (PNG/PDF/SVG), CSV or JSON.

A RUN is a registry run id (or unique prefix) or a path: a `.wandb` file, an offline-run dir, a
wandb dir or an rcstudio run dir. The core (`collect`) is I/O at the edge plus pure shaping.
"""

from __future__ import annotations

import csv
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rcstudio.errors import UserError
from rcstudio.tracking.source import Series


@dataclass
class Curve:
    run: str  # label: registry name or path stem
    run_id: str
    metric: str
    series: Series
    scalar: bool = False  # a final value only (eval results), not a step history

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "run_id": self.run_id,
            "metric": self.metric,
            "scalar": self.scalar,
            "steps": [int(s) if float(s).is_integer() else float(s) for s in self.series.steps],
            "values": [None if math.isnan(v) else float(v) for v in self.series.values],
        }


@dataclass
class Comparison:
    """What `collect` found: the curves, which runs lack which metric, and every run's keys."""

    curves: list[Curve]
    missing: dict[str, list[str]] = field(default_factory=dict)  # metric -> run labels without it
    available: dict[str, list[str]] = field(default_factory=dict)  # run label -> numeric keys it has


@dataclass
class _Run:
    label: str
    run_id: str
    history: Any  # (metrics, samples) -> {metric: Series}
    summary: Any  # () -> flat {key: value} (W&B summary + eval results)


def numeric_keys(summary: dict[str, Any]) -> list[str]:
    """The keys worth plotting: numbers, not W&B's private `_step`/`_runtime`/`_timestamp`."""
    return sorted(k for k, v in summary.items()
                  if not k.startswith("_") and isinstance(v, (int, float)) and not isinstance(v, bool))


def _eval_results(run_dir: Path) -> dict[str, Any]:
    """The flat `eval/...` values an eval job wrote to results/summary.json (W&B may be disabled)."""
    import json

    try:
        doc = json.loads((run_dir / "results" / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    metrics = doc.get("metrics") if isinstance(doc, dict) else None
    return dict(metrics) if isinstance(metrics, dict) else {}


def _resolve(arg: str, registry: Any) -> _Run:
    """One RUN argument: a path (.wandb file, offline-run dir, wandb dir, run dir) or a registry run."""
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

        def summary() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for r in reversed(linked):
                out.update(source.summary(r))
            if path.is_dir():
                out.update({k: v for k, v in _eval_results(path).items() if k not in out})
            return out

        return _Run(ref.name or ref.id, ref.id, lambda metrics, samples: merged_history(source, linked, metrics, samples),
                    summary)
    from rcstudio.tracking.links import Linker

    try:
        record = registry.get(arg)  # an unknown id is already a UserError
    except sqlite3.Error as exc:
        raise UserError(f"cannot read the run registry to find {arg!r}: {exc}", file=registry.path) from exc
    linker = Linker()

    def load(metrics: Sequence[str], samples: int | None) -> dict[str, Any]:
        hist = linker.history(record, list(metrics), samples)
        problems = linker.problems(record)
        if problems and not any(len(s) for s in hist.values()):
            raise UserError(problems[0], key="--metric", hint="the W&B file is damaged; rerun the job to rewrite it")
        return hist

    def record_summary() -> dict[str, Any]:
        out = linker.summary(record)
        out.update({k: v for k, v in _eval_results(Path(record.run_dir)).items() if k not in out})
        return out

    return _Run(record.name, record.run_id, load, record_summary)


def compare_runs(runs: Sequence[str], metrics: Sequence[str], samples: int | None = None,
                 registry: Any = None) -> Comparison:
    """The curves to compare, one per (run, metric) a run has: its step history, else its final
    value (eval metrics) as a one-point `scalar` curve. A run lacking a metric is listed in
    `missing`, not fatal; a metric no run has is a UserError listing the keys that exist.

    Runs are run dirs / wandb dirs / .wandb files, or run ids looked up in `registry` (the caller
    passes the registry: tracking/ does not depend on launch/)."""
    if not runs:
        raise UserError("name at least one run", hint="rcstudio compare RUN... --metric reward/total")
    if not metrics:
        raise UserError("name at least one metric", key="--metric", hint="e.g. --metric reward/rationale")
    if registry is None and any(not Path(r).exists() for r in runs):
        missing = next(r for r in runs if not Path(r).exists())
        raise UserError(f"{missing!r} is not a path and no run registry was given to look it up")
    result = Comparison([])
    for arg in runs:
        run = _resolve(arg, registry)
        hist = run.history(metrics, samples)
        summary = run.summary()
        result.available[run.label] = sorted(set(numeric_keys(summary)) | {k for k, v in hist.items() if len(v)})
        for metric in metrics:
            series = hist.get(metric)
            if series is not None and len(series):
                # one logged value (an eval result) is a final value, drawn as a bar, not a line
                result.curves.append(Curve(run.label, run.run_id, metric, series, scalar=len(series) == 1))
            elif metric in numeric_keys(summary):
                value = float(summary[metric])
                result.curves.append(Curve(run.label, run.run_id, metric,
                                           Series(metric, np.array([0.0]), np.array([value])), scalar=True))
            else:
                result.missing.setdefault(metric, []).append(run.label)
    if not result.curves:
        keys = sorted({k for ks in result.available.values() for k in ks})
        shown = ", ".join(keys[:40]) + (f" ... ({len(keys)} in all)" if len(keys) > 40 else "")
        raise UserError(f"no run has {' or '.join(repr(m) for m in metrics)}", key="--metric",
                        hint=f"keys these runs have: {shown}" if keys else "these runs logged no metrics yet")
    return result


def collect(runs: Sequence[str], metrics: Sequence[str], samples: int | None = None, registry: Any = None) -> list[Curve]:
    """The curves of `compare_runs` (runs lacking a metric are left out)."""
    return compare_runs(runs, metrics, samples, registry).curves


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
    """One panel per metric (matplotlib, Agg: no display needed): one line per run over integer
    steps, or one bar per run for final values (eval metrics); the metric names the y axis."""
    from matplotlib.ticker import MaxNLocator

    from rcstudio.rationale.plots import pyplot, save_figure

    metrics = list(dict.fromkeys(c.metric for c in curves))
    fig, axes = pyplot().subplots(1, len(metrics), figsize=(6 * len(metrics), 4), dpi=120, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        mine = [c for c in curves if c.metric == metric]
        lines = [c for c in mine if not c.scalar]
        bars = [c for c in mine if c.scalar]
        for c in lines:
            ax.plot(c.series.steps, c.series.values, label=c.run, linewidth=1.2, marker="o" if len(c.series) < 20 else None)
        if lines:
            ax.set_xlabel("step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            for c in bars:  # a final value next to step histories: a dashed level line
                ax.axhline(float(c.series.values[-1]), linestyle="--", linewidth=1.0, label=f"{c.run} (final)")
        elif bars:
            ax.bar(range(len(bars)), [float(c.series.values[-1]) for c in bars], color="tab:blue")
            ax.set_xticks(range(len(bars)), [c.run for c in bars], rotation=20, ha="right", fontsize=8)
        ax.set_title(metric)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        if lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
