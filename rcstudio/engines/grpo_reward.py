"""The hybrid reward as a TRL reward function, logging every component under the shared names.

TRL's multiple reward functions are summed with weights, which cannot express the gated form
(AP x outcome). So the engine uses ONE reward function that calls the rationale core exactly as the
reward server does (`parse_judgment` -> matcher -> `hybrid_reward`) and reports the parts through
TRL's `log_metric` hook: `reward/total`, `reward/outcome`, `reward/rationale`, `reward/rc`,
`reward/ap`, `reward/format_error_rate`, `matcher/latency_ms`, `matcher/cache_hit_rate`.
No torch here: the function sees strings and returns floats.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rcstudio.rationale.parse import parse_judgment
from rcstudio.rationale.reward import RewardBreakdown, RewardSettings, hybrid_reward, needs_matching

SHARED_KEYS = (
    "reward/total",
    "reward/outcome",
    "reward/rationale",
    "reward/rc",
    "reward/ap",
    "reward/format_error_rate",
    "matcher/latency_ms",
    "matcher/cache_hit_rate",
)


def completion_text(completion: Any) -> str:
    """TRL passes plain strings, or a list of chat messages for conversational prompts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def summarize(breakdowns: Sequence[RewardBreakdown]) -> dict[str, float]:
    """Means of the components over one batch of completions (rc/ap over those that were matched)."""
    out: dict[str, float] = {}
    counted = [b for b in breakdowns if not b.skipped]
    if not breakdowns:
        return out
    matched = [b for b in counted if b.rc is not None]
    parts = {
        "reward/total": _mean([b.total for b in counted]),
        "reward/outcome": _mean([b.outcome for b in counted]),
        # every step, so the curves have no holes: the rationale term each completion received
        # (0 when the matcher was not needed), and RC/AP over the completions that were matched
        # (0 when none was: a step of format errors and wrong verdicts under the gated reward)
        "reward/rationale": _mean([b.rationale or 0.0 for b in counted]) if counted else None,
        "reward/rc": (_mean([b.rc for b in matched]) or 0.0) if counted else None,
        "reward/ap": (_mean([b.ap for b in matched]) or 0.0) if counted else None,
        "reward/format_error_rate": sum(b.format_error for b in breakdowns) / len(breakdowns),
    }
    return {k: float(v) for k, v in parts.items() if v is not None}


def logged_values(history: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """(last value of each key, its mean over the run): what a results row shows, like W&B's
    summary - not the last batch alone, which on a tiny judge is often all format errors."""
    last: dict[str, float] = {}
    sums: dict[str, list[float]] = {}
    for stats in history:
        for key, value in stats.items():
            last[key] = value
            sums.setdefault(key, []).append(value)
    return last, {k: sum(v) / len(v) for k, v in sums.items()}


@dataclass
class HybridReward:
    """Callable reward function for `GRPOTrainer(reward_funcs=[HybridReward(...)])`.

    Dataset columns it reads (TRL forwards them per completion): `preference` (int, already flipped
    when the pair was swapped), `human_checklist` (list of str, "Response 1/2" naming), `swapped`
    (bool), `item_id` (str).
    """

    settings: RewardSettings
    matcher: Any
    top_k: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    _matched: int = 0

    __name__ = "hybrid"  # TRL names reward functions by __name__ (logged as rewards/hybrid/mean)

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        preference: Sequence[int] = (),
        human_checklist: Sequence[Sequence[str]] = (),
        swapped: Sequence[bool] | None = None,
        item_id: Sequence[str] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        breakdowns = self.score([completion_text(c) for c in completions], preference, human_checklist,
                                swapped, item_id)
        stats = summarize(breakdowns)
        if self._matched:  # matcher health only when this batch called it
            stats.update(self._matcher_stats())
        self.history.append(stats)
        if log_metric is not None:
            for key, value in stats.items():
                log_metric(key, value)
        return [b.total for b in breakdowns]

    def score(
        self,
        texts: Sequence[str],
        preference: Sequence[int],
        human_checklist: Sequence[Sequence[str]],
        swapped: Sequence[bool] | None = None,
        item_id: Sequence[str] | None = None,
    ) -> list[RewardBreakdown]:
        """Parse every completion, match only those whose reward depends on it, in one matcher batch."""
        from rcstudio.rationale.matchers import MatchRequest
        from rcstudio.rationale.reward import outcome_reward

        import numpy as np

        n = len(texts)
        swapped = list(swapped) if swapped is not None else [False] * n
        item_id = list(item_id) if item_id is not None else [str(i) for i in range(n)]
        judgments = [parse_judgment(t) for t in texts]
        self._matched = 0
        matrices: dict[int, Any] = {}
        pending: list[int] = []
        for i, j in enumerate(judgments):
            outcome = outcome_reward(j.verdict, preference[i], self.settings.tie_policy) if j.ok else None
            if not needs_matching(self.settings, outcome, format_error=not j.ok):
                continue
            if j.reasons:
                pending.append(i)
            else:  # a verdict without reasons earns no rationale credit
                matrices[i] = np.zeros((len(human_checklist[i]), 0))
        if pending:
            requests = [
                MatchRequest(item_id=str(item_id[i]), human=list(human_checklist[i]),
                             model=list(judgments[i].reasons), swapped=bool(swapped[i]))
                for i in pending
            ]
            t0 = time.perf_counter()
            found = self.matcher.match(requests)
            self._matched = len(requests)
            self._last_latency_ms = (time.perf_counter() - t0) * 1000 / len(requests)
            matrices.update(zip(pending, found))
        return [
            hybrid_reward(j, matrices.get(i), preference[i], self.settings, top_k=self.top_k)
            for i, j in enumerate(judgments)
        ]

    def _matcher_stats(self) -> dict[str, float]:
        out: dict[str, float] = {}
        stats = getattr(self.matcher, "stats", None)
        raw = stats() if callable(stats) else {}
        raw = raw if isinstance(raw, dict) else getattr(raw, "__dict__", {})
        latency = raw.get("latency_ms", raw.get("mean_latency_ms", getattr(self, "_last_latency_ms", None)))
        if latency is not None:
            out["matcher/latency_ms"] = float(latency)
        hit = raw.get("cache_hit_rate")
        if hit is not None:
            out["matcher/cache_hit_rate"] = float(hit)
        return out
