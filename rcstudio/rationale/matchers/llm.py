"""The LLM matcher ("MetaJudge", method.md 4): one strict grading prompt per item, the full n x k matrix
back as JSON, validated (shape, allowed levels) with a re-ask, cached on disk, many items at once."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rcstudio.clients.llm import LLMClient, LLMConfig, ResponseCache
from rcstudio.rationale.matchers.base import BaseMatcher, MatchRequest, empty_scores

_RUBRIC = """You grade how well a judge's reasons reproduce human rationales about a comparison of two responses.

Naming: the human rationales call the responses "Response 1" and "Response 2". The judge calls them "Response A" and "Response B". In this item {mapping}. Translate the names before comparing; a reason about the wrong response does not fulfil a point.

For EVERY pair (human rationale H_i, judge reason M_j) give a fulfilment score, one of 0, 0.25, 0.5, 0.75, 1:
- 1: M_j achieves the purpose of H_i with the same key conditions and evidence (same response, same specific content, same judgement).
- 0.75: mostly - the same point with a minor condition or piece of evidence missing.
- 0.5: partly - the same aspect and direction, but key specifics are missing or only half covered.
- 0.25: only touches on it - the topic is related but the actual point is not made.
- 0: missing, contradicted, about the other response, or only vague ("A is better", "B is more helpful", "the logic is off" without saying where).
Agreeing on which response wins is never enough by itself. Be strict: when unsure between two scores, give the lower one. Score each pair on its own; one broad judge reason may relate to several human rationales, grade each pair honestly.

Human rationales (n = {n}):
{human}

Judge reasons, in the judge's order (k = {k}):
{model}

Reply with JSON only, no prose: {{"scores": [[...], ...]}} - exactly {n} rows (one per human rationale H1..H{n}, in order), each with exactly {k} numbers (one per judge reason M1..M{k}, in order), every number one of 0, 0.25, 0.5, 0.75, 1."""


def _mapping(swapped: bool) -> str:
    if swapped:
        return "Response A is Response 2 and Response B is Response 1"
    return "Response A is Response 1 and Response B is Response 2"


def render_match_messages(req: MatchRequest) -> list[dict[str, str]]:
    """The grading prompt for one item (human items H1..Hn, judge reasons M1..Mk)."""
    human = "\n".join(f"H{i}. {t.strip()}" for i, t in enumerate(req.human, 1))
    model = "\n".join(f"M{j}. {t.strip()}" for j, t in enumerate(req.model, 1))
    text = _RUBRIC.format(mapping=_mapping(req.swapped), n=len(req.human), k=len(req.model), human=human, model=model)
    return [{"role": "user", "content": text}]


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_match_reply(text: str, n: int, k: int) -> np.ndarray:
    """The n x k matrix from a reply; ValueError (with what is wrong, for the re-ask) otherwise."""
    body = text.strip()
    body = re.sub(r"<think>.*?</think>", "", body, flags=re.S).strip()
    fence = _FENCE.search(body)
    if fence:
        body = fence.group(1).strip()
    data: Any = None
    for candidate in (body, body[body.find("{") : body.rfind("}") + 1], body[body.find("[") : body.rfind("]") + 1]):
        if not candidate:
            continue
        try:
            data = json.loads(candidate)
            break
        except json.JSONDecodeError:
            continue
    if data is None:
        raise ValueError('the reply is not JSON; send {"scores": [[...], ...]}')
    if isinstance(data, dict):
        data = data.get("scores", data.get("matrix"))
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise ValueError('"scores" must be a list of rows (lists of numbers)')
    if len(data) != n or any(len(r) != k for r in data):
        shape = f"{len(data)} rows of lengths {sorted({len(r) for r in data})}"
        raise ValueError(f"expected exactly {n} rows of {k} numbers, got {shape}")
    try:
        arr = np.array(data, dtype=float).reshape(n, k)
    except (TypeError, ValueError):
        raise ValueError("every score must be a number") from None
    snapped = np.clip(np.round(arr * 4) / 4, 0.0, 1.0)  # the nearest level (LEVELS are the quarters)
    if arr.size and np.abs(snapped - arr).max() > 1e-6:
        bad = arr[np.abs(snapped - arr) > 1e-6][0]
        raise ValueError(f"score {bad:g} is not one of 0, 0.25, 0.5, 0.75, 1")
    return snapped.reshape(n, k)


class LLMMatcher(BaseMatcher):
    """Matches through an OpenAI-compatible endpoint; the client's cache makes reruns free."""

    kind = "llm"

    def __init__(self, cfg: LLMConfig, cache: ResponseCache | None = None, progress: bool = False) -> None:
        self.client = LLMClient(cfg, cache=cache)
        self.progress = progress

    async def amatch_partial(self, requests: Sequence[MatchRequest]) -> list[np.ndarray | Exception]:
        out: list[Any] = [None] * len(requests)

        def keep(i: int, res: np.ndarray | Exception) -> None:
            out[i] = res

        await self.amatch_each(requests, keep)
        return out

    async def amatch_each(
        self, requests: Sequence[MatchRequest], on_result: Callable[[int, np.ndarray | Exception], None]
    ) -> None:
        todo = []
        for i, req in enumerate(requests):
            if not req.human or not req.model:
                on_result(i, empty_scores(req))
            else:
                todo.append(i)
        if not todo:
            return
        batch = [render_match_messages(requests[i]) for i in todo]
        shapes = [(len(requests[i].human), len(requests[i].model)) for i in todo]

        def done(j: int, res: Any) -> None:
            on_result(todo[j], res if isinstance(res, BaseException) else res.value)

        await self.client.complete_many(
            batch,
            validate=None,
            progress=self.progress,
            return_exceptions=True,
            description="matching",
            validators=[lambda t, s=s: parse_match_reply(t, *s) for s in shapes],
            on_done=done,
        )

    def stats(self) -> dict[str, float]:
        s = self.client.stats()
        return {**s, "latency_ms": s["latency_ms_mean"]}

    async def aclose(self) -> None:
        await self.client.aclose()

    def close(self) -> None:
        if self.client.cache is not None:
            self.client.cache.close()
