"""Policy-RLHF reward: the trained GenRM compares a policy response with a reference answer.

The GenRM (an OpenAI-compatible endpoint, `spec.judge.endpoint`) judges two games per rollout,
as Arena-Hard does against its baseline: (policy = A, reference = B) and the swapped order. Each
verdict, read from the policy's side, maps to a scalar:

    policy >> reference  +1.0      policy > reference  +0.5      tie  0.0
    reference > policy   -0.5      reference >> policy -1.0

The reward is the mean over the games that returned a verdict (order bias cancels out); when
neither game gives one (endpoint down after retries, no parseable verdict after a re-ask) the
rollout gets `reward.format_penalty`, counted as a judge error. Ground-truth rows carry the
conversation (`context`) and the `reference` answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rcstudio.rationale.parse import flip_verdict, parse_judgment, verdict_score
from rcstudio.rationale.prompt import PROMPT_VERSION, render_judge_messages
from rcstudio.rationale.reward import RewardBreakdown
from rcstudio.rationale.schema import PairItem
from rcstudio.serve.scorer import Scored, Split

log = logging.getLogger("rcstudio.serve")


def policy_value(verdict: str, policy_is_a: bool) -> float:
    """The table above: +1 (policy much better) .. -1 (reference much better)."""
    v = verdict if policy_is_a else flip_verdict(verdict)
    return -verdict_score(v) / 2.0  # verdict_score: -2 = A much better .. 2 = B much better


def _verdict_or_raise(text: str) -> str:
    judgment = parse_judgment(text)
    if judgment.verdict is None:
        raise ValueError(judgment.error or "no verdict")
    return judgment.verdict


class PolicyScorer:
    """Scores policy rollouts with the GenRM through `client` (an `clients.llm.LLMClient`)."""

    def __init__(self, client: Any, penalty: float = 0.0, top_k: int = 0, template: str = PROMPT_VERSION) -> None:
        self.client = client
        self.penalty = penalty
        self.top_k = top_k
        self.template = template

    async def _game(self, item: PairItem, swapped: bool) -> float | None:
        messages = render_judge_messages(item, top_k=self.top_k, swapped=swapped, template=self.template)
        try:
            done = await self.client.complete(messages, validate=_verdict_or_raise)
        except Exception as exc:  # LLMError after retries, or never a verdict
            log.warning("GenRM game failed for %s: %s", item.id, exc)
            return None
        return policy_value(done.value, policy_is_a=not swapped)

    async def score(self, split: Split) -> Scored:
        row = split.row
        if row is None:
            return Scored(self.penalty, "unknown_prompt")
        item = PairItem(id=row.id, domain=row.domain, context=[dict(m) for m in row.context],
                        response1=split.response, response2=row.reference)
        games = await asyncio.gather(self._game(item, False), self._game(item, True))
        values = [g for g in games if g is not None]
        if not values:
            return Scored(self.penalty, "judge_error", None, row.id)
        reward = sum(values) / len(values)
        wins = sum(1.0 for v in values if v > 0) + 0.5 * sum(1.0 for v in values if v == 0)
        breakdown = RewardBreakdown(total=reward, outcome=wins / len(values), rationale=None, rc=None, ap=None)
        return Scored(reward, "ok", breakdown, row.id, matched=True)

    async def aclose(self) -> None:
        await self.client.aclose()
