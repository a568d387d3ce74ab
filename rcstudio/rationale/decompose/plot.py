"""The items-per-pair histogram as a PNG (matplotlib, Agg): kept vs filtered, with the paper's band."""

from __future__ import annotations

from pathlib import Path

from rcstudio.rationale.decompose.outcome import Summary
from rcstudio.rationale.plots import pyplot, save_figure


def plot_histogram(summary: Summary, path: Path, *, min_items: int = 3, max_items: int = 7) -> Path:
    """Bars of pairs per item count (kept stacked on filtered); the kept band shaded."""
    plt = pyplot()
    counts = sorted(summary.histogram)
    kept = [summary.kept_histogram.get(k, 0) for k in counts]
    other = [summary.histogram[k] - summary.kept_histogram.get(k, 0) for k in counts]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    if max_items > 0:
        ax.axvspan(min_items - 0.5, max_items + 0.5, color="tab:green", alpha=0.08, label=f"kept band {min_items}-{max_items}")
    ax.bar(counts, kept, color="tab:green", label="kept")
    ax.bar(counts, other, bottom=kept, color="tab:gray", label="filtered")
    mean = summary.mean_items_kept
    title = f"items per pair: {summary.kept} kept / {summary.filtered} filtered / {summary.failed} failed"
    if mean is not None:
        title += f", mean {mean:.2f}"
    ax.set(xlabel="atomic items", ylabel="pairs", title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
