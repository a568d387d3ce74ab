"""Score a judge's stored outputs against human rationales: the pipeline behind `rcstudio score`.

For each item: take judge `model_name`'s reasons (`<name>-checklist`, else parsed from
`<name>-generated_text`) and verdict (`<name>-label`, else the parsed verdict), match the reasons
to the human checklist with a matcher, compute per-item RC / precision / F1 / AP (variant
"paper" or "reference"), outcome correctness and the hybrid reward (always from the "paper"
metrics, as in training), then aggregate with bootstrap CIs, overall and per domain.

Counting: `items` = items given; `valid` = items whose rationale metrics count. Items without an
output for the judge, without human rationales, skipped by the reference variant, or whose
matching failed are not valid and are counted by reason in `skipped`. An output with no usable
verdict/reasons is a format error: it stays valid with zero rationale credit and a wrong outcome.
OA counts items with a non-tie human label. If `item.extra["swapped"]` is true the judge saw
response2 as A: its verdict is flipped back and the matcher is told.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rcstudio.rationale.matchers.base import BaseMatcher, MatchRequest
from rcstudio.rationale.metrics import ItemMetrics, MetricSummary, bootstrap_means, item_metrics, outcome_correct
from rcstudio.rationale.parse import flip_verdict, normalize_verdict, parse_judgment
from rcstudio.rationale.reward import RewardSettings, hybrid_reward
from rcstudio.rationale.schema import PairItem

METRICS = ("rc", "precision", "f1", "ap", "oa", "reward")


def label_to_verdict(label: Any) -> str | None:
    """A stored `<name>-label` as a verdict: "A>B"-style text, "A"/"B"/"Response 1", or an int -3..3."""
    if label is None:
        return None
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        value = int(label)
        return {-3: "A>>B", -2: "A>>B", -1: "A>B", 0: "A=B", 1: "B>A", 2: "B>>A", 3: "B>>A"}.get(value)
    text = str(label).strip()
    found = normalize_verdict(text)
    if found:
        return found
    try:
        return label_to_verdict(int(text))
    except ValueError:
        pass
    inner = parse_judgment(text)
    if inner.verdict:
        return inner.verdict
    key = text.upper().replace("RESPONSE", "").replace("_", "").strip()
    return {"A": "A>B", "1": "A>B", "B": "B>A", "2": "B>A", "TIE": "A=B"}.get(key)


@dataclass
class ItemScore:
    id: str
    domain: str
    metrics: ItemMetrics | None
    outcome: bool | None
    reward: float | None
    verdict: str | None = None
    format_error: bool = False
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "id": self.id,
            "domain": self.domain,
            "rc": m.rc if m else None,
            "precision": m.precision if m else None,
            "f1": m.f1 if m else None,
            "ap": m.ap if m else None,
            "matched": list(m.matched) if m else None,
            "outcome": None if self.outcome is None else int(self.outcome),
            "reward": self.reward,
            "verdict": self.verdict,
            "format_error": self.format_error,
            "skipped": self.skipped,
        }


def _summary_dict(s: MetricSummary) -> dict[str, Any]:
    def clean(x: float) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)

    return {"mean": clean(s.mean), "ci_low": clean(s.ci_low), "ci_high": clean(s.ci_high), "n": s.n}


@dataclass
class ScoreResult:
    """Aggregates for one judge. `to_json()` is the stable `rcstudio score --json` object."""

    model: str
    variant: str
    top_k: int
    matcher: str
    items: int
    valid: int
    summaries: dict[str, MetricSummary]
    domains: dict[str, dict[str, Any]]
    skipped: dict[str, int]
    format_errors: int
    settings: dict[str, Any] = field(default_factory=dict)
    per_item: list[ItemScore] = field(default_factory=list)

    def __getattr__(self, name: str) -> MetricSummary:  # result.rc, result.oa, ...
        if name in METRICS:
            return self.summaries[name]
        raise AttributeError(name)

    def to_json(self, per_item: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "items": self.items,
            "valid": self.valid,
            **{k: _summary_dict(self.summaries[k]) for k in METRICS},
            "format_errors": self.format_errors,
            "skipped": dict(self.skipped),
            "variant": self.variant,
            "top_k": self.top_k,
            "matcher": self.matcher,
            "settings": dict(self.settings),
            "domains": {
                d: {"items": v["items"], "valid": v["valid"], **{k: _summary_dict(v[k]) for k in METRICS}}
                for d, v in self.domains.items()
            },
        }
        if per_item:
            out["per_item"] = [s.as_dict() for s in self.per_item]
        return out


def _prepare(item: PairItem, model_name: str) -> tuple[list[str] | None, str | None, bool, str | None]:
    """(reasons, verdict in A/B terms of the original order, format_error, skip reason)."""
    out = item.outputs.get(model_name)
    if out is None:
        return None, None, False, "no output for this judge"
    reasons = list(out.checklist)
    verdict = label_to_verdict(out.label)
    judgment = parse_judgment(out.generated_text) if out.generated_text else None
    if not reasons and judgment is not None:
        reasons = judgment.reasons
    if verdict is None and judgment is not None and judgment.verdict:
        verdict = judgment.verdict
    format_error = verdict is None or not reasons
    if verdict is not None and item.extra.get("swapped"):
        verdict = flip_verdict(verdict)
    return reasons, verdict, format_error, None


def _summaries(scores: Sequence[ItemScore], bootstrap: int, seed: int) -> dict[str, MetricSummary]:
    valid = [s for s in scores if s.metrics is not None and s.skipped is None]
    names = ("rc", "precision", "f1", "ap")
    columns = [[getattr(s.metrics, name) for s in valid] for name in names]
    columns.append([float(s.outcome) for s in scores if s.outcome is not None and s.skipped is None])
    columns.append([s.reward for s in valid if s.reward is not None])
    return dict(zip((*names, "oa", "reward"), bootstrap_means(columns, bootstrap, seed)))


def aggregate_scores(
    scores: list[ItemScore],
    model_name: str,
    *,
    variant: str,
    top_k: int,
    matcher: str,
    bootstrap: int = 1000,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> ScoreResult:
    skipped: dict[str, int] = {}
    for s in scores:
        if s.skipped is not None:
            skipped[s.skipped] = skipped.get(s.skipped, 0) + 1
    domains: dict[str, dict[str, Any]] = {}
    for domain in sorted({s.domain for s in scores}):
        subset = [s for s in scores if s.domain == domain]
        domains[domain] = {
            "items": len(subset),
            "valid": sum(1 for s in subset if s.skipped is None),
            **_summaries(subset, bootstrap, seed),
        }
    return ScoreResult(
        model=model_name,
        variant=variant,
        top_k=top_k,
        matcher=matcher,
        items=len(scores),
        valid=sum(1 for s in scores if s.skipped is None),
        summaries=_summaries(scores, bootstrap, seed),
        domains=domains,
        skipped=skipped,
        format_errors=sum(1 for s in scores if s.format_error and s.skipped is None),
        settings=dict(settings or {}),
        per_item=scores,
    )


def _item_score(
    item_id: str,
    domain: str,
    scores: np.ndarray,
    verdict: str | None,
    outcome: bool | None,
    preference: int | None,
    format_error: bool,
    top_k: int,
    variant: str,
    reward: RewardSettings,
) -> ItemScore:
    metrics = item_metrics(scores, top_k=top_k, variant=variant)  # type: ignore[arg-type]
    if metrics.skipped:
        return ItemScore(item_id, domain, None, None, None, verdict, format_error, metrics.skipped)
    paper = metrics if variant == "paper" else item_metrics(scores, top_k=top_k, variant="paper")
    if preference is not None:
        breakdown = hybrid_reward(None if format_error else verdict, paper, preference, reward)
        value = None if breakdown.skipped else breakdown.total
    elif outcome is not None:  # matrix files carry the outcome itself
        value = hybrid_reward("A>B" if outcome else "B>A", paper, -1, reward).total
    else:
        value = None
    return ItemScore(item_id, domain, metrics, outcome, value, verdict, format_error)


def _reward_settings(reward: RewardSettings) -> dict[str, Any]:
    """The reward settings a result records (its `settings` object)."""
    return {"reward_form": reward.form, "alpha": reward.alpha, "rationale_metric": reward.rationale_metric}


async def ascore_items(
    items: Sequence[PairItem],
    model_name: str,
    matcher: BaseMatcher,
    *,
    top_k: int = 5,
    variant: str = "paper",
    reward: RewardSettings | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> ScoreResult:
    """Match and score every item's stored output of `model_name` (see module docstring)."""
    reward = reward or RewardSettings()
    prepared = [_prepare(item, model_name) for item in items]
    requests: list[MatchRequest] = []
    where: list[int] = []
    for i, (item, (reasons, _, _, skip)) in enumerate(zip(items, prepared)):
        if skip is None and item.human_checklist and reasons:
            requests.append(MatchRequest(item.id, list(item.human_checklist), list(reasons), bool(item.extra.get("swapped"))))
            where.append(i)
    done: dict[int, ItemScore] = {}

    def score_one(i: int, mat: Any) -> ItemScore:
        item = items[i]
        _, verdict, format_error, _ = prepared[i]
        if isinstance(mat, BaseException):
            return ItemScore(item.id, item.domain, None, None, None, verdict, format_error, "matcher failed")
        outcome = outcome_correct(verdict, item.preference)
        return _item_score(item.id, item.domain, mat, verdict, outcome, item.preference, format_error, top_k, variant, reward)

    def on_result(j: int, mat: Any) -> None:  # scored as each matrix arrives, while others are in flight
        done[where[j]] = score_one(where[j], mat)

    if requests:
        await matcher.amatch_each(requests, on_result)
    scores: list[ItemScore] = []
    for i, (item, (reasons, verdict, _format_error, skip)) in enumerate(zip(items, prepared)):
        if skip is None and not item.human_checklist:
            skip = "no human rationales"
        if skip is not None:
            scores.append(ItemScore(item.id, item.domain, None, None, None, verdict, False, skip))
        elif i in done:
            scores.append(done[i])
        else:  # no request was needed (no reasons): an all-zero matrix
            scores.append(score_one(i, np.zeros((len(item.human_checklist), len(reasons or [])))))
    settings = {**_reward_settings(reward), "tie_policy": reward.tie_policy, "bootstrap": bootstrap, "seed": seed}
    return aggregate_scores(
        scores, model_name, variant=variant, top_k=top_k, matcher=getattr(matcher, "kind", type(matcher).__name__),
        bootstrap=bootstrap, seed=seed, settings=settings,
    )  # fmt: skip


def score_items(items: Sequence[PairItem], model_name: str, matcher: BaseMatcher, **kwargs: Any) -> ScoreResult:
    """Sync wrapper of `ascore_items` (works inside a running event loop too)."""
    from rcstudio.clients.llm import run_sync

    async def run() -> ScoreResult:
        try:
            return await ascore_items(items, model_name, matcher, **kwargs)
        finally:
            await matcher.aclose()

    return run_sync(run)


def score_match_file(
    match_file: Any,
    model_name: str = "matrix",
    *,
    top_k: int = 5,
    variant: str = "paper",
    reward: RewardSettings | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> ScoreResult:
    """Score a matches file on its own (no data): each line's matrix and optional `outcome`."""
    reward = reward or RewardSettings()
    scores = [
        _item_score(rec.item_id, "all", rec.scores, None, None if rec.outcome is None else bool(rec.outcome),
                    None, False, top_k, variant, reward)
        for rec in match_file.records.values()
    ]  # fmt: skip
    result = aggregate_scores(scores, model_name, variant=variant, top_k=top_k, matcher="matrix",
                              bootstrap=bootstrap, seed=seed,
                              settings=_reward_settings(reward))  # fmt: skip
    if match_file.skipped:
        result.skipped["bad line in matches file"] = len(match_file.skipped)
        result.items += len(match_file.skipped)
    return result
