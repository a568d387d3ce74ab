"""Turn the actor's token batches into rewards: split, look up, parse, match, reward.

Per sequence: the prompt is found in the ground-truth table (`ground_truth.PromptIndex`), the
response tokens after it are decoded, `rationale.parse.parse_judgment` reads them, and
`rationale.reward.hybrid_reward` gives the reward. The matcher is called only when the
rationale term can change the total (`needs_matching`: the gated form skips wrong verdicts) or
when the run is the outcome-only baseline (its AP is logged, not rewarded),
through the `MatchBatcher`, so concurrent requests share matcher calls.

Nothing a sequence contains can crash or hang the server: an unknown prompt, an unparseable
judgment or a matcher failure (after the matcher's own retries, or its batch deadline) gives the
configured penalty (`reward.format_penalty`) and is counted by status.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from rcstudio.rationale.parse import parse_judgment
from rcstudio.rationale.matchers.base import MatchRequest
from rcstudio.rationale.reward import (
    RewardBreakdown, RewardSettings, hybrid_reward, needs_matching, outcome_reward,
)
from rcstudio.serve.batcher import MatchBatcher
from rcstudio.serve.ground_truth import GroundTruth, PromptIndex
from rcstudio.serve.tokenizer import strip_special

log = logging.getLogger("rcstudio.serve")

Status = Literal["ok", "format_error", "unknown_prompt", "matcher_error", "skipped", "judge_error"]


@dataclass
class Scored:
    """One sequence's reward and why: `breakdown` is None for unknown prompts and matcher errors."""

    reward: float
    status: Status
    breakdown: RewardBreakdown | None = None
    item_id: str | None = None
    matched: bool = False


@dataclass
class Split:
    """A sequence cut at the end of its prompt (row None: the prompt is not in the table)."""

    row: GroundTruth | None
    response: str


def _rows(tokens: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    if tokens.ndim == 1:
        tokens = tokens[None, :]
    lens = np.asarray(lengths).reshape(-1)
    if len(lens) != tokens.shape[0]:
        raise ValueError(f"sequence_lengths has {len(lens)} entries for {tokens.shape[0]} sequences")
    return [tokens[i, : max(0, min(int(lens[i]), tokens.shape[1]))] for i in range(tokens.shape[0])]


class SequenceSplitter:
    """Finds each sequence's prompt row and decodes its response (CPU work, run in a thread)."""

    def __init__(self, index: PromptIndex, tokenizer: Any) -> None:
        self.index = index
        self.tokenizer = tokenizer

    def split(self, ids: np.ndarray, sentence: str | None = None) -> Split:
        found = self.index.lookup_tokens(ids)
        if found is not None:
            row, n = found
            return Split(row, self.tokenizer.decode(ids[n:].tolist(), skip_special_tokens=True))
        for text in (self.tokenizer.decode(ids.tolist(), skip_special_tokens=False), sentence):
            if text:
                hit = self.index.lookup_text(text)
                if hit is not None:
                    row, n = hit
                    return Split(row, strip_special(self.tokenizer, text[n:]))
        return Split(None, "")

    def split_batch(self, tokens: np.ndarray, lengths: np.ndarray, sentences: Sequence[str] | None = None) -> list[Split]:
        rows = _rows(np.asarray(tokens), lengths)
        return [self.split(ids, sentences[i] if sentences is not None and i < len(sentences) else None)
                for i, ids in enumerate(rows)]


class HybridScorer:
    """GenRM training reward: the judgment of a pair vs. the human label and human rationales."""

    def __init__(self, settings: RewardSettings, batcher: MatchBatcher | None, top_k: int = 0) -> None:
        self.settings = settings
        self.batcher = batcher
        self.top_k = top_k

    @property
    def penalty(self) -> float:
        return self.settings.format_penalty

    def _should_match(self, outcome: float | None) -> bool:
        """Match when the rationale term changes the reward; the outcome-only baseline (additive,
        alpha = 0) is matched too, so its AP/RC curves exist to compare (paper figure 3)."""
        if needs_matching(self.settings, outcome):
            return True
        return outcome is not None and self.settings.form == "additive" and self.settings.alpha == 0

    async def score(self, split: Split) -> Scored:
        row = split.row
        if row is None:
            return Scored(self.penalty, "unknown_prompt")
        judgment = parse_judgment(split.response)
        if not judgment.ok:
            b = hybrid_reward(judgment, None, row.preference, self.settings)
            return Scored(b.total, "format_error", b, row.id)
        outcome = outcome_reward(judgment.verdict, row.preference, self.settings.tie_policy)
        if not self._should_match(outcome):  # gated + wrong verdict, skipped tie
            b = hybrid_reward(judgment, None, row.preference, self.settings, top_k=self.top_k)
            return Scored(b.total, "skipped" if b.skipped else "ok", b, row.id)
        if self.batcher is None or not row.human_checklist:  # nothing to match against: rationale 0
            scores = np.zeros((len(row.human_checklist), len(judgment.reasons)))
            b = hybrid_reward(judgment, scores, row.preference, self.settings, top_k=self.top_k)
            return Scored(b.total, "ok", b, row.id)
        request = MatchRequest(item_id=row.id, human=list(row.human_checklist), model=list(judgment.reasons),
                               swapped=row.swapped)
        try:
            scores = await self.batcher.submit(request)
        except Exception as exc:
            log.warning("matcher failed for item %s: %s", row.id, exc)
            return Scored(self.penalty, "matcher_error", None, row.id)
        b = hybrid_reward(judgment, np.asarray(scores, dtype=float), row.preference, self.settings, top_k=self.top_k)
        return Scored(b.total, "ok", b, row.id, matched=True)


async def score_all(scorer: Any, splits: Sequence[Split]) -> list[Scored]:
    """Score every sequence concurrently (so their matcher requests land in shared batches)."""
    results = await asyncio.gather(*(scorer.score(s) for s in splits), return_exceptions=True)
    out = []
    for r in results:
        if isinstance(r, BaseException):  # a bug in one sequence costs that sequence, not the batch
            log.error("scoring failed: %s: %s", type(r).__name__, r)
            out.append(Scored(scorer.penalty, "judge_error"))
        else:
            out.append(r)
    return out
