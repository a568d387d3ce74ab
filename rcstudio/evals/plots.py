"""Figures of judge-benchmark results (matplotlib, Agg backend: works without a display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rcstudio.errors import UserError
from rcstudio.rationale.plots import pyplot, save_figure


def plot_table2(rows: Sequence, path: str | Path, title: str = "RM-Bench and JudgeBench (%)") -> Path:
    """Grouped bars: one group per table-2 column, one bar per run (missing cells left out)."""
    import numpy as np

    from rcstudio.evals.report import COLUMNS

    plt = pyplot()

    if not rows:
        raise UserError("nothing to plot: give at least one run")
    keys = [k for k, _ in COLUMNS if any(r.cells.get(k) is not None for r in rows)]
    if not keys:
        raise UserError("the runs have no RM-Bench, JudgeBench or HelpSteer3-Atomic results to plot")
    labels = [dict(COLUMNS)[k] for k in keys]
    x = np.arange(len(keys))
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(keys) + 2), 4.8), dpi=120)
    for i, row in enumerate(rows):
        values = [row.cells.get(k) for k in keys]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(x + (i - (len(rows) - 1) / 2) * width, heights, width, label=row.name, color=f"C{i % 10}")
        for bar, v in zip(bars, values):
            if v is None:
                bar.set_alpha(0.0)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
