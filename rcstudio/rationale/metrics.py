"""Rationale-consistency metrics (method.md 5): RC, precision@K, F1, AP; OA; bootstrap aggregation.

Input per item is a score matrix `scores[i, j]` in [0, 1]: rows are the n human atomic rationales in
order, columns the k model reasons in the model's order (most important first).

Two variants:

* ``"paper"`` (default) - the paper's definitions. The model list is truncated to its first K
  (`top_k`; 0 = no truncation, as in training). A one-to-one matching pi maximising the total score
  is found with `scipy.optimize.linear_sum_assignment` (so one broad reason cannot collect credit
  for two human points); among equally good matchings the one placing credit on earlier reasons is
  taken (a 1e-9 tie-break), which keeps AP well defined. With S = sum of s over pi:
  RC = S / n, precision = S / min(k, K), F1 = harmonic mean, and
  AP = (1/n) * sum over ranks r whose reason is matched (score > 0) of P@r,
  P@r = (matched scores of reasons 1..r) / r.

* ``"reference"`` - follows the released analysis script step by step. Items with more than 10 or
  with zero model reasons are skipped (`skipped` is set). Its matcher names, for each human point,
  the best model reason among ALL of the model's reasons (first one on ties; a best score of 0 is
  "no match") - no one-to-one constraint. The analysis then drops every match whose reason index
  is beyond min(k, K) (K = `top_k`, 5 at evaluation; 0 = no cut): a human point whose best reason
  sits below rank K scores 0, even when a reason within the first K also matched it. RC = mean
  over human points of the kept match scores. The model reasons with a kept match are the
  "matched" ones; each carries its best score over the human points that chose it. Matched
  reasons are sorted by index and ranked 1..m ignoring gaps (ranks 2 and 5 count as 1 and 2);
  AP = (1/n) * sum_r P@r over those ranks, precision = (sum of matched reasons' scores) /
  min(k, K), F1 = harmonic mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from rcstudio.rationale.matchers.base import LEVELS  # noqa: F401  (the five matching levels, re-exported)

Variant = Literal["paper", "reference"]
REFERENCE_MAX_REASONS = 10
_TIE_EPS = 1e-9


@dataclass(frozen=True)
class ItemMetrics:
    """Per-item metrics in [0, 1]. `matched` = 0-based model-reason indices that earned credit,
    in rank order; `skipped` says why an item does not count (its metrics are then 0)."""

    rc: float
    precision: float
    f1: float
    ap: float
    s_total: float = 0.0
    n_human: int = 0
    n_model: int = 0
    matched: tuple[int, ...] = ()
    skipped: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r <= 0 else 2 * p * r / (p + r)


def _ap(ranked_scores: Sequence[tuple[int, float]], n: int) -> float:
    """AP from (rank starting at 1, score) pairs of matched reasons, sorted by rank."""
    total, cum = 0.0, 0.0
    for rank, score in ranked_scores:
        cum += score
        total += cum / rank
    return total / n if n else 0.0


def _linear_sum_assignment():
    """scipy's assignment solver (a C extension), loaded on first use without `scipy.optimize`.

    `import scipy.optimize` costs about half a second (it loads every optimizer) for the one function
    a score needs; the solver is the self-contained extension `scipy/optimize/_lsap*.so`, loaded
    here from its file. If that layout ever changes, the public import is the fallback.
    """
    global _LSAP
    if _LSAP is None:
        import sys

        if "scipy.optimize" in sys.modules:
            from scipy.optimize import linear_sum_assignment as _LSAP
        else:
            _LSAP = _load_lsap_extension()
    return _LSAP


_LSAP = None


def _load_lsap_extension():
    import importlib.machinery
    import importlib.util
    import sys
    from pathlib import Path

    import scipy

    name = "scipy.optimize._lsap"
    folder = Path(scipy.__file__).parent / "optimize"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"_lsap{suffix}"
        if path.is_file():
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                break
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            solver = getattr(module, "linear_sum_assignment", None)
            if solver is None:
                break
            sys.modules.setdefault(name, module)  # a later `import scipy.optimize` reuses it
            return solver
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment


def one_to_one(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """The maximum-total one-to-one matching as (human i, model j, score) with score > 0."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        return []
    k = s.shape[1]
    # prefer credit on earlier model reasons among equally good matchings
    weight = s * (1.0 + _TIE_EPS * (k - np.arange(k)) / k)
    rows, cols = _linear_sum_assignment()(weight, maximize=True)
    return [(int(i), int(j), float(s[i, j])) for i, j in zip(rows, cols) if s[i, j] > 0]


def _validate(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.ndim == 1 and s.size == 0:
        s = s.reshape(0, 0)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D n x k matrix, got shape {s.shape}")
    if s.size and (np.isnan(s).any() or s.min() < 0 or s.max() > 1):
        raise ValueError("scores must lie in [0, 1]")
    return s


def item_metrics(scores, top_k: int = 5, variant: Variant = "paper") -> ItemMetrics:
    """RC, precision, F1 and AP for one item (see module docstring for both variants)."""
    s = _validate(scores)
    n, k_all = s.shape
    if n == 0:
        return ItemMetrics(0.0, 0.0, 0.0, 0.0, n_model=k_all, skipped="no human rationales")
    if variant == "reference":
        return _reference(s, top_k)
    if variant != "paper":
        raise ValueError(f"unknown variant {variant!r} (paper | reference)")
    k = min(k_all, top_k) if top_k > 0 else k_all
    s = s[:, :k]
    pairs = one_to_one(s)
    total = sum(p[2] for p in pairs)
    rc = total / n
    precision = total / k if k else 0.0
    ranked = sorted((j + 1, sc) for _, j, sc in pairs)
    return ItemMetrics(
        rc=rc,
        precision=precision,
        f1=_f1(precision, rc),
        ap=_ap(ranked, n),
        s_total=total,
        n_human=n,
        n_model=k,
        matched=tuple(r - 1 for r, _ in ranked),
    )


def _reference(s: np.ndarray, top_k: int) -> ItemMetrics:
    n, k_all = s.shape
    if k_all == 0 or k_all > REFERENCE_MAX_REASONS:
        why = "no model reasons" if k_all == 0 else f"more than {REFERENCE_MAX_REASONS} model reasons"
        return ItemMetrics(0.0, 0.0, 0.0, 0.0, n_human=n, n_model=k_all, skipped=why)
    k = min(k_all, top_k) if top_k > 0 else k_all
    # the script's matcher: best reason among ALL k_all reasons per human point, first on ties
    best_j = s.argmax(axis=1)
    best = s[np.arange(n), best_j]
    # its analysis: a match on a reason beyond min(k, K) is dropped (the point scores 0)
    best = np.where(best_j < k, best, 0.0)
    rc = float(best.sum()) / n
    per_reason: dict[int, float] = {}
    for j, sc in zip(best_j.tolist(), best.tolist()):
        if sc > 0:
            per_reason[j] = max(per_reason.get(j, 0.0), sc)
    order = sorted(per_reason)
    ranked = [(r + 1, per_reason[j]) for r, j in enumerate(order)]
    matched_total = sum(per_reason.values())
    precision = min(1.0, matched_total / k)
    return ItemMetrics(
        rc=rc,
        precision=precision,
        f1=_f1(precision, rc),
        ap=min(1.0, _ap(ranked, n)),
        s_total=matched_total,
        n_human=n,
        n_model=k,
        matched=tuple(order),
    )


# ---- outcome accuracy ---------------------------------------------------------------------------


def outcome_correct(verdict: str | None, preference: int | None) -> bool | None:
    """Did the verdict pick the human-preferred side? None when the label is a tie or unknown.

    A missing verdict (format error) counts as wrong. `preference < 0` = response1 (A) better.
    """
    from rcstudio.rationale.parse import verdict_direction

    if preference is None or preference == 0:
        return None
    if not verdict:
        return False
    return verdict_direction(verdict) == (1 if preference > 0 else -1)


# ---- aggregation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSummary:
    """A mean with a percentile bootstrap confidence interval (ci_low == ci_high == mean without)."""

    mean: float
    ci_low: float
    ci_high: float
    n: int = 0

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}


def bootstrap_mean(values, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95) -> MetricSummary:
    """Mean of `values` with a seeded percentile-bootstrap CI (NaN mean for an empty list)."""
    return bootstrap_means([values], bootstrap, seed, ci)[0]


def bootstrap_means(columns: Sequence, bootstrap: int = 1000, seed: int = 0, ci: float = 0.95) -> list[MetricSummary]:
    """`bootstrap_mean` of several value lists at once; identical results, a fraction of the work.

    Lists of equal length get the same resamples (as separate calls with one seed would draw), so
    the resampled index matrix is drawn once per length, turned into per-resample counts, and every
    list's resample means come out of one matrix product (counts @ values / n).
    """
    arrays = [np.asarray(list(v), dtype=float) for v in columns]
    out: list[MetricSummary | None] = [None] * len(arrays)
    by_size: dict[int, list[int]] = {}
    for i, v in enumerate(arrays):
        if v.size == 0:
            nan = float("nan")
            out[i] = MetricSummary(nan, nan, nan, 0)
        elif bootstrap <= 0 or v.size == 1:
            mean = float(v.mean())
            out[i] = MetricSummary(mean, mean, mean, int(v.size))
        else:
            by_size.setdefault(int(v.size), []).append(i)
    alpha = (1 - ci) / 2
    for n, which in by_size.items():
        values = np.stack([arrays[i] for i in which], axis=1)  # n x m
        means = _resample_means(values, bootstrap, seed)  # bootstrap x m
        lows, highs = _quantiles(means, (alpha, 1 - alpha))
        for col, i in enumerate(which):
            out[i] = MetricSummary(float(arrays[i].mean()), float(lows[col]), float(highs[col]), n)
    return out  # type: ignore[return-value]


def _quantiles(x: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """`np.quantile(x, qs, axis=0)` (its default "linear" method, same arithmetic) without the
    `numpy.ma` import that np.quantile pays on first use."""
    x = np.sort(x, axis=0)
    n = x.shape[0]
    out = []
    for q in qs:
        pos = n * q + (1 - q) - 1  # numpy's virtual index for alpha = beta = 1, i.e. q * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        t = pos - lo
        a, b = x[lo], x[hi]
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


def _resample_means(values: np.ndarray, bootstrap: int, seed: int) -> np.ndarray:
    """Means of `bootstrap` resamples (with replacement) of the rows of `values` (n x m)."""
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    means = np.empty((bootstrap, values.shape[1]))
    chunk = max(1, 2_000_000 // n)  # bound memory for large inputs; same draws as one row at a time
    for lo in range(0, bootstrap, chunk):
        hi = min(bootstrap, lo + chunk)
        idx = rng.integers(0, n, size=(hi - lo, n))
        flat = (idx + (np.arange(hi - lo) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=(hi - lo) * n).reshape(hi - lo, n)
        means[lo:hi] = counts @ values / n
    return means


@dataclass(frozen=True)
class AggregateMetrics:
    """Means over the items that count (not skipped), with bootstrap CIs."""

    n: int
    skipped: int
    rc: MetricSummary
    precision: MetricSummary
    f1: MetricSummary
    ap: MetricSummary
    skipped_reasons: dict[str, int] = field(default_factory=dict)


def aggregate(
    items: Sequence[ItemMetrics], bootstrap: int = 1000, seed: int = 0, ci: float = 0.95
) -> AggregateMetrics:
    """Average per-item metrics; every metric uses the same resamples (same seed)."""
    kept = [m for m in items if m.skipped is None]
    reasons: dict[str, int] = {}
    for m in items:
        if m.skipped is not None:
            reasons[m.skipped] = reasons.get(m.skipped, 0) + 1

    names = ("rc", "precision", "f1", "ap")
    rc, precision, f1, ap = bootstrap_means([[getattr(m, name) for m in kept] for name in names], bootstrap, seed, ci)
    return AggregateMetrics(
        n=len(kept),
        skipped=len(items) - len(kept),
        rc=rc,
        precision=precision,
        f1=f1,
        ap=ap,
        skipped_reasons=reasons,
    )
