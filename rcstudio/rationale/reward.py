"""The hybrid reward for GenRM training (method.md 6) - one pure function for every engine.

R_outcome is 1 when the verdict's direction equals the human preference's, else 0.
R_rationale is AP by default (or RC = "recall", or F1), computed with the "paper" metric variant
over the judge's full reason list (no top-K cut in training unless `top_k` is given).

* ``gated`` (paper v1):    R = R_rationale * R_outcome
* ``additive`` (alpha):    R = alpha * R_rationale + (1 - alpha) * R_outcome   (alpha=0: outcome only)

An unparseable judgment (no single verdict, or no reasons) gets `format_penalty` as its total.

Items whose human label is a tie follow `tie_policy`:
``skip`` - no outcome (the breakdown is `skipped`, total 0; data preparation should drop them),
``half`` - a tie verdict (A=B) earns 1, any side-pick 0.5,
``wrong`` - a tie verdict earns 1, any side-pick 0.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from rcstudio.rationale.matchers.base import section_get
from rcstudio.rationale.metrics import ItemMetrics, item_metrics, outcome_correct
from rcstudio.rationale.parse import Judgment, verdict_direction

Form = Literal["gated", "additive"]
RationaleMetric = Literal["ap", "recall", "f1"]
TiePolicy = Literal["skip", "half", "wrong"]


@dataclass(frozen=True)
class RewardSettings:
    form: Form = "gated"
    alpha: float = 0.8
    rationale_metric: RationaleMetric = "ap"
    format_penalty: float = 0.0
    tie_policy: TiePolicy = "skip"

    def __post_init__(self) -> None:
        if self.form not in ("gated", "additive"):
            raise ValueError(f"reward form must be gated or additive, got {self.form!r}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.rationale_metric not in ("ap", "recall", "f1"):
            raise ValueError(f"rationale_metric must be ap, recall or f1, got {self.rationale_metric!r}")
        if self.tie_policy not in ("skip", "half", "wrong"):
            raise ValueError(f"tie_policy must be skip, half or wrong, got {self.tie_policy!r}")

    @classmethod
    def from_spec(cls, reward: Any) -> RewardSettings:
        """Build from the spec's `[reward]` section (pydantic model or a plain dict)."""
        get = functools.partial(section_get, reward)
        defaults = cls()
        alpha = get("alpha", None)
        return cls(
            form=get("form", defaults.form),
            alpha=defaults.alpha if alpha is None else float(alpha),
            rationale_metric=get("rationale_metric", defaults.rationale_metric),
            format_penalty=float(get("format_penalty", defaults.format_penalty)),
            tie_policy=get("tie_policy", defaults.tie_policy),
        )


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward and its parts. `rc`/`ap` are None when the matcher was not needed (gated reward
    with a wrong verdict, format error, skipped tie) - log their means over the items that have them."""

    total: float
    outcome: float | None
    rationale: float | None
    rc: float | None
    ap: float | None
    format_error: bool = False
    skipped: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def outcome_reward(verdict: str | None, preference: int | None, tie_policy: TiePolicy = "skip") -> float | None:
    """1/0 for a right/wrong side; ties per `tie_policy`; None when the item does not count."""
    if preference is None:
        return None
    if preference == 0:
        if tie_policy == "skip":
            return None
        if verdict is None:
            return 0.0
        if verdict_direction(verdict) == 0:
            return 1.0
        return 0.5 if tie_policy == "half" else 0.0
    return float(outcome_correct(verdict, preference))


def needs_matching(settings: RewardSettings, outcome: float | None, format_error: bool = False) -> bool:
    """Whether the rationale term can change the total (skip the matcher call when it cannot)."""
    if format_error or outcome is None:
        return False
    if settings.form == "gated":
        return outcome > 0
    return settings.alpha > 0


def _rationale_value(m: ItemMetrics, metric: RationaleMetric) -> float:
    return {"ap": m.ap, "recall": m.rc, "f1": m.f1}[metric]


def hybrid_reward(
    judgment: Judgment | str | None,
    scores: np.ndarray | ItemMetrics | None,
    preference: int | None,
    settings: RewardSettings,
    top_k: int = 0,
) -> RewardBreakdown:
    """Reward for one judgment.

    `judgment` is a parsed `Judgment` (its `error` means a format error) or a bare verdict string
    (None = unparseable). `scores` is the n x k match matrix (human x model reasons) or precomputed
    `ItemMetrics`; it may be None when `needs_matching` says False.
    """
    if isinstance(judgment, Judgment):
        verdict = judgment.verdict if judgment.ok else None
        format_error = not judgment.ok
    else:
        verdict = judgment
        format_error = judgment is None
    if format_error:
        return RewardBreakdown(settings.format_penalty, 0.0, None, None, None, format_error=True)
    outcome = outcome_reward(verdict, preference, settings.tie_policy)
    if outcome is None:
        return RewardBreakdown(0.0, None, None, None, None, skipped=True)
    metrics: ItemMetrics | None
    if isinstance(scores, ItemMetrics):
        metrics = scores
    elif scores is not None:
        metrics = item_metrics(scores, top_k=top_k, variant="paper")
    else:
        metrics = None
    if metrics is None:
        if needs_matching(settings, outcome):
            raise ValueError("scores are required: the rationale term changes this reward")
        total = 0.0 if settings.form == "gated" else (1 - settings.alpha) * outcome
        return RewardBreakdown(total, outcome, None, None, None)
    rationale = 0.0 if metrics.skipped else _rationale_value(metrics, settings.rationale_metric)
    if settings.form == "gated":
        total = rationale * outcome
    else:
        total = settings.alpha * rationale + (1 - settings.alpha) * outcome
    return RewardBreakdown(total, outcome, rationale, metrics.rc, metrics.ap)
