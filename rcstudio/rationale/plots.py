"""Figures of rationale-consistency results (matplotlib, Agg backend: works without a display)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rcstudio.errors import UserError


def pyplot() -> Any:
    """`matplotlib.pyplot` on the Agg backend (jobs and tests have no display); imported on use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out `fig`, write it to `path` (creating the folder) and close it; returns the path."""
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def load_result(path: str | Path) -> dict[str, Any]:
    """A `rcstudio score --json/--out` object from a file (one JSON object)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"results file not found: {p}", file=p) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"not a JSON results file: {exc.msg}", file=p, line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("rc"), dict) or not isinstance(data.get("oa"), dict):
        raise UserError("not a score result (needs 'rc' and 'oa' objects)", file=p, hint="write one with `rcstudio score ... --out FILE`")
    return data


def _point(summary: dict[str, Any]) -> tuple[float, float, float]:
    mean = summary.get("mean")
    if mean is None:
        return float("nan"), 0.0, 0.0
    low = summary.get("ci_low", mean)
    high = summary.get("ci_high", mean)
    return float(mean), float(mean - (low if low is not None else mean)), float((high if high is not None else mean) - mean)


def plot_rc_vs_oa(results: Sequence[Any], path: str | Path, title: str = "Outcome accuracy vs rationale consistency") -> Path:
    """The paper's figure 1: one point per judge, OA on x, RC on y, bootstrap CIs as error bars.

    `results` are `ScoreResult`s or their `to_json()` dicts (labels come from `model`).
    """
    plt = pyplot()
    rows = [r.to_json() if hasattr(r, "to_json") else r for r in results]
    if not rows:
        raise UserError("nothing to plot: give at least one results file")
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for i, row in enumerate(rows):
        x, xlo, xhi = _point(row["oa"])
        y, ylo, yhi = _point(row["rc"])
        color = f"C{i % 10}"
        ax.errorbar(x, y, xerr=[[xlo], [xhi]], yerr=[[ylo], [yhi]], fmt="o", color=color, capsize=3, ms=6)
        ax.annotate(str(row.get("model", f"judge {i + 1}")), (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8, color=color)
    ax.set_xlabel("Outcome accuracy (OA)")
    ax.set_ylabel("Rationale consistency (RC)")
    ax.set_title(title)
    ax.margins(0.2)
    ax.grid(True, alpha=0.3)
    return save_figure(fig, path)
