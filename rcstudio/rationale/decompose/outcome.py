"""Per-pair outcome (kept / filtered / failed) and the run summary with the items-per-pair histogram.

Pure: the engine feeds it decompositions, the CLI and the job print or store what it returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from rcstudio.rationale.decompose.reply import Decomposition

Status = Literal["kept", "filtered", "failed"]
NO_REASONING = "no annotator reasoning"  # filter reason of a pair with nothing to decompose


@dataclass(frozen=True)
class Bounds:
    """Keep pairs whose checklist has between `min_items` and `max_items` items (inclusive)."""

    min_items: int = 3
    max_items: int = 7

    def check(self, n: int) -> str | None:
        """None when `n` is inside the bounds, else the filter reason (lists are never truncated)."""
        if n == 0:
            return "empty"
        if n < self.min_items:
            return f"too few items ({n} < {self.min_items})"
        if self.max_items > 0 and n > self.max_items:
            return f"too many items ({n} > {self.max_items}); not truncated"
        return None


@dataclass(frozen=True)
class PairOutcome:
    """What happened to one pair. `decomposition` is None for failed pairs and pairs with no reasoning."""

    id: str
    status: Status
    reason: str | None = None
    decomposition: Decomposition | None = None

    @property
    def n_items(self) -> int | None:
        return None if self.decomposition is None else len(self.decomposition.items)


def classify(item_id: str, decomposition: Decomposition, bounds: Bounds) -> PairOutcome:
    reason = bounds.check(len(decomposition.items))
    if reason == "empty" and decomposition.empty_reason:
        reason = f"empty: {decomposition.empty_reason}"
    return PairOutcome(item_id, "filtered" if reason else "kept", reason, decomposition)


@dataclass
class Summary:
    """Counts of kept / filtered / failed pairs, filter reasons and the items-per-pair histogram."""

    total: int = 0
    kept: int = 0
    filtered: int = 0
    failed: int = 0
    resumed: int = 0
    histogram: dict[int, int] = field(default_factory=dict)  # items per pair, all decomposed pairs
    kept_histogram: dict[int, int] = field(default_factory=dict)
    filter_reasons: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # id -> error (first 20)
    llm_calls: int = 0  # HTTP requests sent (retries and re-asks included)
    cache_hits: int = 0
    retries: int = 0
    reasks: int = 0
    skipped_input: list[str] = field(default_factory=list)  # unreadable input records, "line N: reason"

    @property
    def mean_items_kept(self) -> float | None:
        n = sum(self.kept_histogram.values())
        return None if n == 0 else sum(k * v for k, v in self.kept_histogram.items()) / n

    def to_dict(self) -> dict[str, Any]:
        mean = self.mean_items_kept
        return {
            "total": self.total,
            "kept": self.kept,
            "filtered": self.filtered,
            "failed": self.failed,
            "resumed": self.resumed,
            "mean_items_kept": None if mean is None else round(mean, 4),
            "histogram": {str(k): v for k, v in sorted(self.histogram.items())},
            "kept_histogram": {str(k): v for k, v in sorted(self.kept_histogram.items())},
            "filter_reasons": dict(sorted(self.filter_reasons.items())),
            "failures": self.failures,
            "llm_calls": self.llm_calls,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "reasks": self.reasks,
            "skipped_input": len(self.skipped_input),
            "skipped_examples": self.skipped_input[:20],
        }


def _reason_class(reason: str) -> str:
    """Group 'too many items (9 > 7); ...' and 'too many items (8 > 7); ...' under one key."""
    for key in ("too few items", "too many items", "empty", NO_REASONING):
        if reason.startswith(key):
            return key
    return reason


def summarize(outcomes: Iterable[PairOutcome], resumed: int = 0) -> Summary:
    s = Summary(resumed=resumed)
    hist: Counter[int] = Counter()
    kept_hist: Counter[int] = Counter()
    reasons: Counter[str] = Counter()
    for o in outcomes:
        s.total += 1
        if o.n_items is not None:
            hist[o.n_items] += 1
        if o.status == "kept":
            s.kept += 1
            kept_hist[o.n_items or 0] += 1
        elif o.status == "filtered":
            s.filtered += 1
            reasons[_reason_class(o.reason or "")] += 1
        else:
            s.failed += 1
            if len(s.failures) < 20:
                s.failures[o.id] = o.reason or "unknown error"
    s.histogram, s.kept_histogram, s.filter_reasons = dict(hist), dict(kept_hist), dict(reasons)
    return s


def render_summary(summary: Summary):  # -> rich.console.Group
    """Two rich tables: pair counts and the items-per-pair histogram (paper: 3-7 items, mean ~4.4)."""
    from rich.console import Group
    from rich.table import Table

    counts = Table(title="decomposition", show_header=True)
    counts.add_column("pairs")
    counts.add_column("count", justify="right")
    counts.add_row("total", str(summary.total))
    counts.add_row("kept", str(summary.kept))
    counts.add_row("filtered", str(summary.filtered))
    for reason, n in sorted(summary.filter_reasons.items()):
        counts.add_row(f"  {reason}", str(n))
    counts.add_row("failed", str(summary.failed))
    if summary.skipped_input:
        counts.add_row("unreadable input records", str(len(summary.skipped_input)))
    if summary.resumed:
        counts.add_row("resumed from earlier run", str(summary.resumed))
    counts.add_row("LLM requests / cache hits", f"{summary.llm_calls} / {summary.cache_hits}")
    counts.add_row("retries / re-asks", f"{summary.retries} / {summary.reasks}")

    hist = Table(title="items per pair", show_header=True)
    hist.add_column("items", justify="right")
    hist.add_column("pairs", justify="right")
    hist.add_column("kept", justify="right")
    hist.add_column("")
    peak = max(summary.histogram.values(), default=1)
    for k in sorted(summary.histogram):
        n = summary.histogram[k]
        hist.add_row(str(k), str(n), str(summary.kept_histogram.get(k, 0)), "#" * max(1, round(30 * n / peak)))
    mean = summary.mean_items_kept
    hist.caption = f"mean items per kept pair: {mean:.2f}" if mean is not None else "no kept pairs"
    return Group(counts, hist)
